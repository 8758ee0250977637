#include "edgehook/tls.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/log.h"
#include "edgehook/tls_impl.h"
#include "edgehook/x509_san.h"
#include "edgehook/addr.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PEM_FILE = 8 << 20, SESSION_CACHE_BYTES = 32 << 10, MAX_EE_CERT = 64 << 10 };

/* Counted: each connection holds a reference, because BearSSL reads the
 * anchors during the handshake and a reload may replace them meanwhile. */
struct tls_client_ctx {
	br_x509_trust_anchor *tas;
	size_t ntas;
	unsigned refs;
	uint64_t generation; /* which load of the anchors, for sessions */
};

/* For an IP literal: wraps the minimal engine (which then runs without a
 * name) and, once it trusts the chain, looks for the address among the
 * end-entity certificate's iPAddress SANs. */
struct ip_check {
	const br_x509_class *vtable;
	br_x509_minimal_context *inner;
	unsigned char ip[16];
	size_t iplen;
	unsigned certs;
	unsigned char *ee;
	size_t ee_len, ee_cap;
};

struct tls_server_ctx {
	br_x509_certificate *chain;
	size_t chain_len;
	int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	unsigned issuer_key_type;
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	br_ssl_session_cache_lru cache;
	unsigned char cache_store[SESSION_CACHE_BYTES];
};

/* A session is resumed only under the anchors that verified it: a
 * reload with a new bundle must not be bypassed by resumption. A counter,
 * not the context's address, which a new context may reuse. */
struct tls_session {
	br_ssl_session_parameters params;
	uint64_t generation;
};

static uint64_t anchors_loaded;

/* Once per process, when the first context is made: which BearSSL code
 * the handshakes will run, so a slow build is visible in the log. */
static void log_impl(void)
{
	static int logged;
	if (!logged)
		log_msg(LOG_INFO, "tls implementations", "impl", tls_impl_describe(), NULL);
	logged = 1;
}

struct tls_conn {
	br_ssl_engine_context *eng;
	int client;
	int sock_error; /* errno of a failed send/recv, or -1 for EOF */
	unsigned char offered_id[32];
	size_t offered_len;
	union {
		struct {
			br_ssl_client_context cc;
			br_x509_minimal_context xc;
			struct ip_check ipc;
			struct tls_client_ctx *anchors;
		} c;
		br_ssl_server_context sc;
	} u;
	unsigned char iobuf[BR_SSL_BUFSIZE_MONO];
};

size_t tls_conn_size(int client)
{
	(void)client;
	return sizeof(struct tls_conn);
}

/* ---- PEM files ---- */

static unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *data;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > MAX_PEM_FILE || !(data = malloc((size_t)st.st_size))) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return data;
}

struct pem_object {
	char name[64];
	unsigned char *data;
	size_t len;
};

struct grow {
	unsigned char *data;
	size_t len, cap;
	int failed;
};

static void grow_append(void *ctx, const void *src, size_t len)
{
	struct grow *g = ctx;
	if (g->failed)
		return;
	if (g->len + len > g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1024;
		unsigned char *p;
		while (cap < g->len + len)
			cap *= 2;
		p = realloc(g->data, cap);
		if (!p) {
			g->failed = 1;
			return;
		}
		g->data = p;
		g->cap = cap;
	}
	memcpy(g->data + g->len, src, len);
	g->len += len;
}

/* Decodes every PEM object; returns the count or -1. */
static int pem_decode(const unsigned char *buf, size_t len, struct pem_object **out)
{
	br_pem_decoder_context pc;
	struct pem_object *objs = NULL;
	struct grow g = {NULL, 0, 0, 0};
	size_t n = 0, cap = 0;
	int inside = 0;
	br_pem_decoder_init(&pc);
	while (len > 0) {
		size_t used = br_pem_decoder_push(&pc, buf, len);
		buf += used;
		len -= used;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			if (n == cap) {
				struct pem_object *p = realloc(objs, (cap = cap ? cap * 2 : 16) * sizeof(*objs));
				if (!p)
					goto fail;
				objs = p;
			}
			snprintf(objs[n].name, sizeof(objs[n].name), "%.63s", br_pem_decoder_name(&pc));
			memset(&g, 0, sizeof(g));
			br_pem_decoder_setdest(&pc, grow_append, &g);
			inside = 1;
			break;
		case BR_PEM_END_OBJ:
			if (!inside || g.failed)
				goto fail;
			objs[n].data = g.data;
			objs[n].len = g.len;
			n++;
			inside = 0;
			break;
		case BR_PEM_ERROR:
			goto fail;
		default:
			break;
		}
	}
	if (inside)
		goto fail;
	*out = objs;
	return (int)n;
fail:
	free(g.data);
	while (n > 0)
		free(objs[--n].data);
	free(objs);
	return -1;
}

static void pem_free(struct pem_object *objs, int n)
{
	while (n > 0)
		free(objs[--n].data);
	free(objs);
}

static int is_cert(const char *name) { return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0; }

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* One DER certificate into a trust anchor (deep copies). */
static int make_anchor(const unsigned char *der, size_t len, br_x509_trust_anchor *ta)
{
	br_x509_decoder_context dc;
	struct grow dn = {NULL, 0, 0, 0};
	const br_x509_pkey *pk;
	br_x509_decoder_init(&dc, grow_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.failed) {
		free(dn.data);
		return -1;
	}
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.data;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		return ta->pkey.key.rsa.n && ta->pkey.key.rsa.e ? 0 : -1;
	}
	ta->pkey.key.ec.curve = pk->key.ec.curve;
	ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
	ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	return ta->pkey.key.ec.q ? 0 : -1;
}

static void anchor_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

struct tls_client_ctx *tls_client_ctx_new(const char *ca_file, struct buf *errors, size_t *count)
{
	struct tls_client_ctx *ctx;
	struct pem_object *objs = NULL;
	size_t len = 0;
	unsigned char *data = read_file(ca_file, &len);
	int n, i;
	if (!data) {
		buf_puts(errors, "cannot read the CA file");
		return NULL;
	}
	n = pem_decode(data, len, &objs);
	free(data);
	ctx = calloc(1, sizeof(*ctx));
	if (ctx) {
		ctx->refs = 1;
		ctx->generation = ++anchors_loaded;
	}
	if (n <= 0 || !ctx || !(ctx->tas = calloc((size_t)n, sizeof(*ctx->tas)))) {
		buf_puts(errors, n < 0 ? "CA file is not valid PEM" : "CA file holds no certificate");
		if (n > 0)
			pem_free(objs, n);
		free(ctx);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (is_cert(objs[i].name) && make_anchor(objs[i].data, objs[i].len, &ctx->tas[ctx->ntas]) == 0)
			ctx->ntas++;
	pem_free(objs, n);
	if (ctx->ntas == 0) {
		buf_puts(errors, "CA file holds no usable certificate");
		tls_client_ctx_free(ctx);
		return NULL;
	}
	*count = ctx->ntas;
	log_impl();
	return ctx;
}

void tls_client_ctx_free(struct tls_client_ctx *ctx)
{
	size_t i;
	if (!ctx || --ctx->refs > 0)
		return;
	for (i = 0; i < ctx->ntas; i++)
		anchor_free(&ctx->tas[i]);
	free(ctx->tas);
	free(ctx);
}

/* Deep-copies the decoded private key out of the decoder. */
static int copy_key(struct tls_server_ctx *ctx, const br_skey_decoder_context *kd)
{
	ctx->key_type = br_skey_decoder_key_type(kd);
	if (ctx->key_type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *k = br_skey_decoder_get_rsa(kd);
		ctx->rsa = *k;
		ctx->rsa.p = dup_bytes(k->p, k->plen);
		ctx->rsa.q = dup_bytes(k->q, k->qlen);
		ctx->rsa.dp = dup_bytes(k->dp, k->dplen);
		ctx->rsa.dq = dup_bytes(k->dq, k->dqlen);
		ctx->rsa.iq = dup_bytes(k->iq, k->iqlen);
		return ctx->rsa.p && ctx->rsa.q && ctx->rsa.dp && ctx->rsa.dq && ctx->rsa.iq ? 0 : -1;
	}
	if (ctx->key_type == BR_KEYTYPE_EC) {
		const br_ec_private_key *k = br_skey_decoder_get_ec(kd);
		ctx->ec = *k;
		ctx->ec.x = dup_bytes(k->x, k->xlen);
		return ctx->ec.x ? 0 : -1;
	}
	return -1;
}

struct tls_server_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file, struct buf *errors)
{
	struct tls_server_ctx *ctx = calloc(1, sizeof(*ctx));
	struct pem_object *objs = NULL;
	unsigned char *data;
	size_t len = 0;
	int n, i, found = 0;
	if (!ctx)
		return buf_puts(errors, "out of memory"), NULL;
	data = read_file(cert_file, &len);
	n = data ? pem_decode(data, len, &objs) : -1;
	free(data);
	if (n > 0)
		ctx->chain = calloc((size_t)n, sizeof(*ctx->chain));
	for (i = 0; i < n && ctx->chain; i++) {
		if (!is_cert(objs[i].name))
			continue;
		ctx->chain[ctx->chain_len].data = objs[i].data;
		ctx->chain[ctx->chain_len++].data_len = objs[i].len;
		objs[i].data = NULL;
	}
	if (n > 0)
		pem_free(objs, n);
	if (ctx->chain_len == 0) {
		buf_printf(errors, "%s: no certificate found (PEM expected)", cert_file);
		goto fail;
	}
	{
		br_x509_decoder_context dc;
		br_x509_decoder_init(&dc, NULL, NULL);
		br_x509_decoder_push(&dc, ctx->chain[0].data, ctx->chain[0].data_len);
		ctx->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
		if (!br_x509_decoder_get_pkey(&dc)) {
			buf_printf(errors, "%s: certificate cannot be decoded", cert_file);
			goto fail;
		}
	}
	data = read_file(key_file, &len);
	n = data ? pem_decode(data, len, &objs) : -1;
	free(data);
	for (i = 0; i < n && !found; i++) {
		br_skey_decoder_context kd;
		if (strstr(objs[i].name, "PRIVATE KEY") == NULL)
			continue;
		br_skey_decoder_init(&kd);
		br_skey_decoder_push(&kd, objs[i].data, objs[i].len);
		if (br_skey_decoder_last_error(&kd) == 0 && copy_key(ctx, &kd) == 0)
			found = 1;
	}
	if (n > 0)
		pem_free(objs, n);
	if (!found) {
		buf_printf(errors, "%s: no RSA or EC private key found (PEM expected)", key_file);
		goto fail;
	}
	br_ssl_session_cache_lru_init(&ctx->cache, ctx->cache_store, sizeof(ctx->cache_store));
	log_impl();
	return ctx;
fail:
	tls_server_ctx_free(ctx);
	return NULL;
}

void tls_server_ctx_free(struct tls_server_ctx *ctx)
{
	size_t i;
	if (!ctx)
		return;
	for (i = 0; i < ctx->chain_len; i++)
		free(ctx->chain[i].data);
	free(ctx->chain);
	if (ctx->key_type == BR_KEYTYPE_RSA) {
		free(ctx->rsa.p);
		free(ctx->rsa.q);
		free(ctx->rsa.dp);
		free(ctx->rsa.dq);
		free(ctx->rsa.iq);
	} else if (ctx->key_type == BR_KEYTYPE_EC) {
		free(ctx->ec.x);
	}
	free(ctx);
}

/* ---- IP SAN check ---- */

static struct ip_check *ipc_of(const br_x509_class **ctx) { return (struct ip_check *)(void *)ctx; }

static void ipc_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct ip_check *c = ipc_of(ctx);
	c->certs = 0;
	c->inner->vtable->start_chain(&c->inner->vtable, server_name);
}

static void ipc_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct ip_check *c = ipc_of(ctx);
	if (c->certs == 0 && !c->ee && length <= MAX_EE_CERT && (c->ee = malloc(length ? length : 1)))
		c->ee_cap = length;
	c->inner->vtable->start_cert(&c->inner->vtable, length);
}

static void ipc_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct ip_check *c = ipc_of(ctx);
	if (c->certs == 0 && c->ee && len <= c->ee_cap - c->ee_len) {
		memcpy(c->ee + c->ee_len, buf, len);
		c->ee_len += len;
	}
	c->inner->vtable->append(&c->inner->vtable, buf, len);
}

static void ipc_end_cert(const br_x509_class **ctx)
{
	struct ip_check *c = ipc_of(ctx);
	c->certs++;
	c->inner->vtable->end_cert(&c->inner->vtable);
}

static unsigned ipc_end_chain(const br_x509_class **ctx)
{
	struct ip_check *c = ipc_of(ctx);
	unsigned err = c->inner->vtable->end_chain(&c->inner->vtable);
	/* an end-entity certificate too large to keep, or cut, cannot match */
	if (err == BR_ERR_OK && (!c->ee || c->ee_len != c->ee_cap || x509_san_has_ip(c->ee, c->ee_len, c->ip, c->iplen) != 1))
		err = BR_ERR_X509_BAD_SERVER_NAME;
	free(c->ee);
	c->ee = NULL;
	c->ee_len = c->ee_cap = 0;
	return err;
}

static const br_x509_pkey *ipc_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct ip_check *c = (const struct ip_check *)(const void *)ctx;
	return c->inner->vtable->get_pkey(&c->inner->vtable, usages);
}

static const br_x509_class ip_check_vtable = {
	sizeof(struct ip_check), ipc_start_chain, ipc_start_cert, ipc_append, ipc_end_cert, ipc_end_chain, ipc_get_pkey,
};

/* ---- connections ---- */

struct tls_conn *tls_client_new(struct tls_client_ctx *ctx, const char *server_name, const struct tls_session *resume)
{
	struct tls_conn *t;
	struct ip_check *ipc;
	struct sockaddr_storage lit;
	char name[256];
	size_t len = strlen(server_name);
	/* the name in SNI and in the certificate has no trailing dot */
	if (len > 1 && server_name[len - 1] == '.')
		len--;
	if (len >= sizeof(name) || !(t = calloc(1, sizeof(*t))))
		return NULL;
	memcpy(name, server_name, len);
	name[len] = '\0';
	t->client = 1;
	t->u.c.anchors = ctx;
	ctx->refs++;
	tls_impl_client_init(&t->u.c.cc, &t->u.c.xc, ctx->tas, ctx->ntas);
	t->eng = &t->u.c.cc.eng;
	br_ssl_engine_add_flags(t->eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(t->eng, t->iobuf, sizeof(t->iobuf), 0);
	ipc = &t->u.c.ipc;
	if (addr_parse_ip(name, len, &lit) > 0) {
		const uint8_t *ip = addr_ip_bytes(&lit, &ipc->iplen);
		memcpy(ipc->ip, ip, ipc->iplen);
	}
	if (ipc->iplen) {
		ipc->vtable = &ip_check_vtable;
		ipc->inner = &t->u.c.xc;
		br_ssl_engine_set_x509(t->eng, &ipc->vtable);
	}
	if (resume && resume->generation != ctx->generation)
		resume = NULL;
	if (resume) {
		br_ssl_engine_set_session_parameters(t->eng, &resume->params);
		t->offered_len = resume->params.session_id_len;
		memcpy(t->offered_id, resume->params.session_id, t->offered_len);
	}
	/* RFC 6066 3: an IP literal is not sent as SNI; without a name the
	 * minimal engine checks no name and ip_check does */
	if (!br_ssl_client_reset(&t->u.c.cc, ipc->iplen ? NULL : name, resume != NULL)) {
		tls_free(t);
		return NULL;
	}
	return t;
}

struct tls_conn *tls_server_new(struct tls_server_ctx *ctx)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	tls_impl_server_init(&t->u.sc, ctx->chain, ctx->chain_len, ctx->key_type == BR_KEYTYPE_RSA ? &ctx->rsa : NULL,
			     &ctx->ec, ctx->issuer_key_type);
	br_ssl_server_set_cache(&t->u.sc, &ctx->cache.vtable);
	t->eng = &t->u.sc.eng;
	/* a renegotiation would restart the handshake inside a request,
	 * under limits and timers meant for the first one */
	br_ssl_engine_add_flags(t->eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffer(t->eng, t->iobuf, sizeof(t->iobuf), 0);
	if (!br_ssl_server_reset(&t->u.sc)) {
		free(t);
		return NULL;
	}
	return t;
}

void tls_free(struct tls_conn *t)
{
	if (!t)
		return;
	if (t->client) {
		free(t->u.c.ipc.ee);
		tls_client_ctx_free(t->u.c.anchors);
	}
	free(t);
}

/* One round of record I/O; 1 progress, -2 would block, -1 error or
 * closed. */
static int pump_once(struct tls_conn *t, int fd, unsigned st)
{
	unsigned char *buf;
	size_t len;
	ssize_t n;
	if (st & BR_SSL_SENDREC) {
		buf = br_ssl_engine_sendrec_buf(t->eng, &len);
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			br_ssl_engine_sendrec_ack(t->eng, (size_t)n);
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -2;
		t->sock_error = errno;
		return -1;
	}
	if (st & BR_SSL_RECVREC) {
		buf = br_ssl_engine_recvrec_buf(t->eng, &len);
		n = recv(fd, buf, len, 0);
		if (n > 0) {
			br_ssl_engine_recvrec_ack(t->eng, (size_t)n);
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -2;
		t->sock_error = n == 0 ? -1 : errno;
		return -1;
	}
	return -2;
}

/* A server handshake step (a signature, a key exchange) costs 0.5-2 ms
 * of CPU, and epoll hands over up to 256 ready sockets per iteration: a
 * burst of new connections held the loop for 300 ms. Past this much
 * handshake work in one loop iteration a server connection waits for the
 * next one (epoll is level-triggered: its unread bytes report it again),
 * so the clients already served are never behind more than about this. */
enum { HANDSHAKE_NS_PER_ITERATION = 4000000 };
static uint64_t budget_iteration, budget_spent_ns;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One round of record I/O during a server handshake; a record received
 * runs the handshake code, within the budget: -2 (as if the socket would
 * block) once it is spent. */
static int pump_handshake(struct tls_conn *t, int fd, unsigned st)
{
	uint64_t start;
	int r;
	if (st & BR_SSL_SENDREC)
		return pump_once(t, fd, st);
	if (budget_iteration != clock_updates()) {
		budget_iteration = clock_updates();
		budget_spent_ns = 0;
	}
	if (budget_spent_ns >= HANDSHAKE_NS_PER_ITERATION)
		return -2;
	start = mono_ns();
	r = pump_once(t, fd, st);
	budget_spent_ns += mono_ns() - start;
	return r;
}

ssize_t tls_read(struct tls_conn *t, int fd, void *out, size_t cap)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(t->eng);
		int r;
		if (st & BR_SSL_CLOSED)
			return br_ssl_engine_last_error(t->eng) == BR_ERR_OK ? 0 : -1;
		if (st & BR_SSL_RECVAPP) {
			size_t len;
			unsigned char *buf = br_ssl_engine_recvapp_buf(t->eng, &len);
			if (len > cap)
				len = cap;
			memcpy(out, buf, len);
			br_ssl_engine_recvapp_ack(t->eng, len);
			return (ssize_t)len;
		}
		r = !t->client && !tls_handshake_done(t) ? pump_handshake(t, fd, st) : pump_once(t, fd, st);
		if (r == -1)
			return t->sock_error == -1 && tls_handshake_done(t) ? 0 : -1;
		if (r < 0)
			return r;
	}
}

ssize_t tls_write(struct tls_conn *t, int fd, const void *data, size_t len)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(t->eng);
		int r;
		if (st & BR_SSL_CLOSED)
			return -1;
		if (st & BR_SSL_SENDAPP) {
			size_t room;
			unsigned char *buf = br_ssl_engine_sendapp_buf(t->eng, &room);
			if (room > len)
				room = len;
			memcpy(buf, data, room);
			br_ssl_engine_sendapp_ack(t->eng, room);
			br_ssl_engine_flush(t->eng, 0);
			tls_flush(t, fd);
			return (ssize_t)room;
		}
		r = pump_once(t, fd, st);
		if (r < 0)
			return r;
	}
}

int tls_flush(struct tls_conn *t, int fd)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(t->eng);
		int r;
		if (st & BR_SSL_CLOSED)
			return br_ssl_engine_last_error(t->eng) == BR_ERR_OK ? 1 : -1;
		if (!(st & BR_SSL_SENDREC))
			return 1;
		r = pump_once(t, fd, BR_SSL_SENDREC);
		if (r < 0)
			return r;
	}
}

void tls_close(struct tls_conn *t) { br_ssl_engine_close(t->eng); }

uint32_t tls_want(const struct tls_conn *t)
{
	unsigned st = br_ssl_engine_current_state(t->eng);
	uint32_t ev = 0;
	if (st & BR_SSL_SENDREC)
		ev |= EPOLLOUT;
	if (st & BR_SSL_RECVREC)
		ev |= EPOLLIN;
	return ev;
}

int tls_handshake_done(const struct tls_conn *t)
{
	unsigned st = br_ssl_engine_current_state(t->eng);
	return (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

int tls_close_notified(const struct tls_conn *t)
{
	return (br_ssl_engine_current_state(t->eng) & BR_SSL_CLOSED) && br_ssl_engine_last_error(t->eng) == BR_ERR_OK;
}

int tls_client_under(const struct tls_conn *t, const struct tls_client_ctx *ctx)
{
	/* t holds a reference on its anchors: no other ctx can share the address */
	return t->client && t->u.c.anchors == ctx;
}

int tls_resumed(const struct tls_conn *t)
{
	br_ssl_session_parameters p;
	if (!t->client || t->offered_len == 0 || !tls_handshake_done(t))
		return 0;
	br_ssl_engine_get_session_parameters(t->eng, &p);
	/* the server took our session when it echoes the id we offered */
	return p.session_id_len == t->offered_len && memcmp(p.session_id, t->offered_id, t->offered_len) == 0;
}

static const char *error_name(int err)
{
	switch (err) {
	case BR_ERR_X509_NOT_TRUSTED: return "tls: unknown CA";
	case BR_ERR_X509_EXPIRED: return "tls: expired certificate";
	case BR_ERR_X509_BAD_SERVER_NAME: return "tls: name mismatch";
	case BR_ERR_BAD_VERSION: return "tls: unsupported protocol version";
	case BR_ERR_BAD_CIPHER_SUITE: return "tls: no shared cipher suite";
	case BR_ERR_UNSUPPORTED_VERSION: return "tls: unsupported protocol version";
	case BR_ERR_X509_BAD_SIGNATURE: return "tls: bad certificate signature";
	default:
		if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256)
			return "tls: peer sent a fatal alert";
		if (err >= BR_ERR_SEND_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT + 256)
			return "tls: handshake failed (alert sent)";
		if (err >= 32 && err < 64)
			return "tls: certificate rejected";
		return "tls: protocol error";
	}
}

const char *tls_error(const struct tls_conn *t)
{
	int err = br_ssl_engine_last_error(t->eng);
	if (err == BR_ERR_OK && t->sock_error) {
		if (t->sock_error == -1)
			return tls_handshake_done(t) ? "connection closed" : "tls: connection closed during handshake";
		return t->sock_error == ECONNRESET || t->sock_error == EPIPE ? "connection reset" : strerror(t->sock_error);
	}
	return error_name(err);
}

struct tls_session *tls_session_save(const struct tls_conn *t)
{
	struct tls_session *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	br_ssl_engine_get_session_parameters(t->eng, &s->params);
	s->generation = t->client ? t->u.c.anchors->generation : 0;
	return s;
}
