/* rules: webhook trigger rules compiled to a node array, evaluated
 * recursively (depth bounded at load) with webhook 2.8's error model.
 * Each node's result is a value plus an error class, because webhook's
 * and/or/not combine them differently (see rules.h). */
#include "edgehook/rules.h"

#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/regex.h"
#include "edgehook/sha256_ni.h"
#include "edgehook/sign.h"
#include "edgehook/tree.h"

#include <bearssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rule_kind { R_EMPTY, R_AND, R_OR, R_NOT, R_MATCH };
enum match_type { M_UNKNOWN, M_VALUE, M_REGEX, M_HMAC, M_IPWL, M_SCALR };
enum rule_err { E_NONE, E_PARAM, E_SIG, E_OTHER };

struct rule {
	uint8_t kind, type;
	int first, next; /* children of and/or/not; -1 ends */
	struct hook_arg param;
	char *value; /* value; secret for hmac/scalr */
	size_t value_len;
	const char *prefix; /* "sha256=" */
	size_t hash_len;
	br_hmac_key_context key;
	struct regex *re;
	struct cidr *cidrs;
	size_t ncidrs;
	char *bad_cidr; /* the first range that does not parse: an error when reached */
};

struct rules {
	struct rule *nodes;
	int n, cap;
};

struct result {
	int val;
	enum rule_err err;
};

static char *dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

enum hook_source hook_source_parse(const char *s)
{
	static const struct {
		const char *name;
		enum hook_source src;
	} names[] = {
		{"header", SRC_HEADER}, {"url", SRC_QUERY}, {"query", SRC_QUERY}, {"payload", SRC_PAYLOAD},
		{"request", SRC_REQUEST}, {"raw-request-body", SRC_RAW_BODY}, {"entire-payload", SRC_ENTIRE_PAYLOAD},
		{"entire-headers", SRC_ENTIRE_HEADERS}, {"entire-query", SRC_ENTIRE_QUERY}, {"string", SRC_STRING},
	};
	size_t i;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].src;
	return SRC_UNKNOWN;
}

/* Go's textproto.CanonicalMIMEHeaderKey: upper case after '-' and at
 * the start, lower case elsewhere; names with other bytes stay as given. */
void hook_canonical_header(char *s)
{
	char *p;
	int upper = 1;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c)))
			return;
	}
	for (p = s; *p; p++) {
		if (upper && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
		else if (!upper && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
		upper = *p == '-';
	}
}

static const char *scalar(const struct node *map, const char *key)
{
	const struct node *n = map ? tree_get(map, key) : NULL;
	return n && n->kind == NODE_SCALAR ? n->str : NULL;
}

static int truthy(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0 ||
		     strcmp(s, "yes") == 0 || strcmp(s, "on") == 0 || strcmp(s, "y") == 0);
}

int hook_arg_load(struct hook_arg *arg, const struct node *n, const char **why)
{
	const char *source = scalar(n, "source"), *name = scalar(n, "name"), *env = scalar(n, "envname");
	memset(arg, 0, sizeof(*arg));
	if (!n || n->kind != NODE_MAP) {
		*why = "a parameter must be a map with source and name";
		return -1;
	}
	/* an unknown source is webhook's "no source for value retrieval": an
	 * error at evaluation, not at load */
	arg->source = source ? hook_source_parse(source) : SRC_UNKNOWN;
	arg->name = dup(name ? name : "");
	arg->envname = env ? dup(env) : NULL;
	arg->base64decode = truthy(scalar(n, "base64decode"));
	if (!arg->name || (env && !arg->envname)) {
		hook_arg_free(arg);
		*why = "out of memory";
		return -1;
	}
	/* a header's name stays as written: webhook's env name (HOOK_x-doc)
	 * and log lines use it; lookups compare it case-insensitively */
	return 0;
}

void hook_arg_free(struct hook_arg *arg)
{
	free(arg->name);
	free(arg->envname);
	memset(arg, 0, sizeof(*arg));
}

struct compiler {
	struct rules *r;
	const char *hook;
	struct buf *errors;
};

static int cfail(struct compiler *c, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	buf_printf(c->errors, "hook %s: line %d: ", c->hook, n ? n->line : 0);
	va_start(ap, fmt);
	buf_vprintf(c->errors, fmt, ap);
	va_end(ap);
	return -1;
}

static int new_rule(struct compiler *c, const struct node *n)
{
	struct rules *r = c->r;
	if (r->n == r->cap) {
		int cap = r->cap ? 2 * r->cap : 8;
		struct rule *nodes;
		if (r->n >= RULES_MAX_NODES)
			return cfail(c, n, "trigger-rule has more than %d rules", RULES_MAX_NODES);
		if (!(nodes = realloc(r->nodes, (size_t)cap * sizeof(*nodes))))
			return cfail(c, n, "out of memory");
		r->nodes = nodes;
		r->cap = cap;
	}
	memset(&r->nodes[r->n], 0, sizeof(r->nodes[0]));
	r->nodes[r->n].first = r->nodes[r->n].next = -1;
	return r->n++;
}

static int compile_rule(struct compiler *c, const struct node *n, int depth);

static int compile_cidrs(struct compiler *c, struct rule *m, const char *ranges)
{
	const char *p = ranges;
	size_t count = 0;
	char one[80];
	while (*p) {
		size_t len;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
			p++;
		len = strcspn(p, " \t\n\r\v\f");
		if (len)
			count++;
		p += len;
	}
	if (count && !(m->cidrs = calloc(count, sizeof(*m->cidrs))))
		return cfail(c, NULL, "out of memory");
	for (p = ranges; *p && !m->bad_cidr;) {
		size_t len;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
			p++;
		len = strcspn(p, " \t\n\r\v\f");
		if (!len)
			break;
		snprintf(one, sizeof(one), "%.*s", (int)(len < sizeof(one) ? len : sizeof(one) - 1), p);
		/* webhook parses the ranges in order at each request and fails
		 * on the first bad one it reaches: keep that order */
		if (len >= sizeof(one) || cidr_parse(one, &m->cidrs[m->ncidrs]) < 0) {
			if (!(m->bad_cidr = malloc(len + 1)))
				return cfail(c, NULL, "out of memory");
			memcpy(m->bad_cidr, p, len);
			m->bad_cidr[len] = 0;
		} else {
			m->ncidrs++;
		}
		p += len;
	}
	return 0;
}

static int compile_hmac(struct compiler *c, struct rule *m, const char *type)
{
	const char *alg = type + strlen(strncmp(type, "payload-hmac-", 13) == 0 ? "payload-hmac-" : "payload-hash-");
	const br_hash_class *h;
	(void)c;
	if (strcmp(alg, "sha1") == 0)
		h = &br_sha1_vtable, m->prefix = "sha1=";
	else if (strcmp(alg, "sha256") == 0)
		h = sha256_class(), m->prefix = "sha256=";
	else if (strcmp(alg, "sha512") == 0)
		h = &br_sha512_vtable, m->prefix = "sha512=";
	else
		return 0;
	m->type = M_HMAC;
	m->hash_len = (h->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	br_hmac_key_init(&m->key, h, m->value, m->value_len);
	return 0;
}

/* The regex message goes after the rule's prefix, so it is built apart. */
static int regex_compile_at(struct compiler *c, const struct node *n, struct regex **re, const char *pattern)
{
	struct buf why;
	int rc;
	buf_init(&why, 2 * REGEX_MAX_PATTERN);
	rc = regex_compile(re, pattern, &why);
	if (rc < 0) {
		cfail(c, n, "regex \"%s\": %.*s", pattern, (int)why.len, why.data ? why.data : "");
		c->errors->failed |= why.failed;
	}
	buf_free(&why);
	return rc;
}

static int compile_match(struct compiler *c, int idx, const struct node *n)
{
	struct rule *m = &c->r->nodes[idx];
	const char *type = scalar(n, "type"), *value = scalar(n, "value"), *secret = scalar(n, "secret");
	const struct node *param = tree_get(n, "parameter");
	const char *why;
	m->kind = R_MATCH;
	m->type = M_UNKNOWN;
	if (!type)
		type = "";
	if (param && hook_arg_load(&m->param, param, &why) < 0)
		return cfail(c, param, "%s", why);
	if (!param)
		m->param.name = dup("");
	if (strcmp(type, "value") == 0) {
		m->type = M_VALUE;
		secret = value;
	} else if (strcmp(type, "regex") == 0) {
		const char *pattern = scalar(n, "regex");
		m->type = M_REGEX;
		if (regex_compile_at(c, n, &m->re, pattern ? pattern : "") < 0)
			return -1;
	} else if (strcmp(type, "ip-whitelist") == 0) {
		const char *ranges = scalar(n, "ip-range");
		m->type = M_IPWL;
		if (compile_cidrs(c, m, ranges ? ranges : "") < 0)
			return -1;
	} else if (strcmp(type, "scalr-signature") == 0) {
		m->type = M_SCALR;
	}
	m->value = dup(secret ? secret : "");
	if (!m->value || !m->param.name)
		return cfail(c, n, "out of memory");
	m->value_len = strlen(m->value);
	if (strcmp(type, "scalr-signature") == 0)
		br_hmac_key_init(&m->key, &br_sha1_vtable, m->value, m->value_len);
	if (strncmp(type, "payload-hmac-", 13) == 0 || strncmp(type, "payload-hash-", 13) == 0)
		return compile_hmac(c, m, type);
	return 0;
}

static int compile_list(struct compiler *c, int idx, const struct node *list, int depth)
{
	const struct node *it;
	int last = -1, child;
	if (list->kind != NODE_SEQ)
		return cfail(c, list, "and/or take a list of rules");
	for (it = list->child; it; it = it->next) {
		if ((child = compile_rule(c, it, depth + 1)) < 0)
			return -1;
		if (last < 0)
			c->r->nodes[idx].first = child;
		else
			c->r->nodes[last].next = child;
		last = child;
	}
	return 0;
}

/* webhook's Rules: the first of and, or, not, match that is set wins. */
static int compile_rule(struct compiler *c, const struct node *n, int depth)
{
	const struct node *sub;
	int idx, child;
	if (depth > RULES_MAX_DEPTH)
		return cfail(c, n, "trigger-rule nests deeper than %d", RULES_MAX_DEPTH);
	if (n->kind != NODE_MAP && n->kind != NODE_NULL)
		return cfail(c, n, "a rule must be a map (and, or, not or match)");
	if ((idx = new_rule(c, n)) < 0)
		return -1;
	if (n->kind == NODE_NULL)
		return idx;
	if ((sub = tree_get(n, "and")) && sub->kind != NODE_NULL) {
		c->r->nodes[idx].kind = R_AND;
		return compile_list(c, idx, sub, depth) < 0 ? -1 : idx;
	}
	if ((sub = tree_get(n, "or")) && sub->kind != NODE_NULL) {
		c->r->nodes[idx].kind = R_OR;
		return compile_list(c, idx, sub, depth) < 0 ? -1 : idx;
	}
	if ((sub = tree_get(n, "not")) && sub->kind != NODE_NULL) {
		c->r->nodes[idx].kind = R_NOT;
		if ((child = compile_rule(c, sub, depth + 1)) < 0)
			return -1;
		c->r->nodes[idx].first = child;
		return idx;
	}
	if ((sub = tree_get(n, "match")) && sub->kind == NODE_MAP)
		return compile_match(c, idx, sub) < 0 ? -1 : idx;
	return idx;
}

int rules_compile(struct rules **out, const struct node *rule, const char *hook, struct buf *errors)
{
	struct compiler c;
	*out = NULL;
	if (!rule)
		return 0;
	c.hook = hook;
	c.errors = errors;
	if (!(c.r = calloc(1, sizeof(*c.r))))
		return cfail(&c, rule, "out of memory");
	if (compile_rule(&c, rule, 0) < 0) {
		rules_free(c.r);
		return -1;
	}
	*out = c.r;
	return 0;
}

void rules_free(struct rules *r)
{
	int i;
	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		struct rule *m = &r->nodes[i];
		hook_arg_free(&m->param);
		free(m->value);
		regex_free(m->re);
		free(m->cidrs);
		free(m->bad_cidr);
	}
	free(r->nodes);
	free(r);
}

static struct result err_result(struct rule_req *q, enum rule_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct result err_result(struct rule_req *q, enum rule_err e, const char *fmt, ...)
{
	struct result r = {0, e};
	va_list ap;
	if (q->quiet)
		return r;
	va_start(ap, fmt);
	vsnprintf(q->why, sizeof(q->why), fmt, ap);
	va_end(ap);
	return r;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

/* webhook's ExtractSignatures + ValidateMAC: with a comma, only the
 * entries carrying the prefix count (no trimming of blanks); without,
 * the prefix is optional. Lower-case hex, compared in constant time. */
static int any_signature(const char *sig, size_t len, const char *prefix, const char *expect, size_t elen)
{
	size_t plen = strlen(prefix);
	const char *p = sig, *end = sig + len;
	if (!memchr(sig, ',', len)) {
		if (len >= plen && memcmp(sig, prefix, plen) == 0)
			sig += plen, len -= plen;
		return sign_equal(sig, len, expect, elen);
	}
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if (n >= plen && memcmp(p, prefix, plen) == 0 && sign_equal(p + plen, n - plen, expect, elen))
			return 1;
		p += n + 1;
	}
	return 0;
}

static struct result eval_hmac(const struct rule *m, struct rule_req *q, const char *sig, size_t len)
{
	struct result r = {0, E_NONE};
	br_hmac_context ctx;
	unsigned char mac[64];
	char expect[129];
	if (m->value_len == 0)
		return err_result(q, E_OTHER, "signature validation secret can not be empty");
	br_hmac_init(&ctx, &m->key, 0);
	br_hmac_update(&ctx, q->body, q->body_len);
	br_hmac_out(&ctx, mac);
	hex(mac, m->hash_len, expect);
	if (any_signature(sig, len, m->prefix, expect, 2 * m->hash_len)) {
		r.val = 1;
		return r;
	}
	return err_result(q, E_SIG, "invalid payload signature %.*s", (int)(len > 140 ? 140 : len), sig);
}

/* Go's time.Parse("Mon 02 Jan 2006 15:04:05 MST"): a zone abbreviation
 * Go does not know reads as UTC, which is what Scalr sends. */
static int scalr_date(const char *s, size_t n, time_t *out)
{
	static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char buf[48], day[4], mon[4], zone[8];
	struct tm tm;
	int i, used = 0;
	const char *m;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(buf, "%3s %2d %3s %4d %2d:%2d:%2d %7s%n", day, &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, zone, &used) != 8 || (size_t)used != n || buf[4] < '0' || buf[4] > '3')
		return -1;
	for (i = 0; i < 7 && memcmp(days + 3 * i, day, 3) != 0; i++)
		;
	if (i == 7 || !(m = strstr(months, mon)) || (m - months) % 3 != 0 || strlen(mon) != 3)
		return -1;
	for (i = 0; zone[i]; i++)
		if (zone[i] < 'A' || zone[i] > 'Z')
			return -1;
	if (i < 3 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year -= 1900;
	*out = timegm(&tm);
	return 0;
}

static const struct hook_arg scalr_sig_arg = {SRC_HEADER, (char *)"X-Signature", NULL, 0};
static const struct hook_arg scalr_date_arg = {SRC_HEADER, (char *)"Date", NULL, 0};

static struct result eval_scalr(const struct rule *m, struct rule_req *q)
{
	struct result r = {0, E_NONE};
	char sig[160], expect[41];
	const char *v;
	size_t len, siglen;
	br_hmac_context ctx;
	unsigned char mac[20];
	time_t when;
	if (q->param(q->ctx, &scalr_sig_arg, &v, &len, q->why, sizeof(q->why)) != RULE_PARAM_FOUND)
		return r;
	siglen = len < sizeof(sig) ? len : sizeof(sig);
	memcpy(sig, v, siglen);
	if (q->param(q->ctx, &scalr_date_arg, &v, &len, q->why, sizeof(q->why)) != RULE_PARAM_FOUND)
		return r;
	if (m->value_len == 0)
		return err_result(q, E_OTHER, "signature validation signing key can not be empty");
	br_hmac_init(&ctx, &m->key, 0);
	br_hmac_update(&ctx, q->body, q->body_len);
	br_hmac_update(&ctx, v, len);
	br_hmac_out(&ctx, mac);
	hex(mac, sizeof(mac), expect);
	if (!sign_equal(sig, siglen, expect, 40))
		return err_result(q, E_SIG, "invalid payload signature %.*s", (int)siglen, sig);
	if (scalr_date(v, len, &when) < 0)
		return err_result(q, E_OTHER, "parsing time %.*s as \"Mon 02 Jan 2006 15:04:05 MST\": cannot parse",
				  (int)(len > 64 ? 64 : len), v);
	if (when > q->now + SIGN_WINDOW_SECONDS || when < q->now - SIGN_WINDOW_SECONDS)
		return err_result(q, E_SIG, "invalid payload signature outdated");
	r.val = 1;
	return r;
}

static struct result eval_ipwl(const struct rule *m, struct rule_req *q)
{
	struct result r = {0, E_NONE};
	char addr[64] = "";
	if (!q->client || (q->client->sa_family != AF_INET && q->client->sa_family != AF_INET6))
		return err_result(q, E_OTHER, "invalid IP address found in remote address '%s'", addr);
	if (cidr_match_any(m->cidrs, m->ncidrs, q->client)) {
		r.val = 1;
		return r;
	}
	if (m->bad_cidr)
		return err_result(q, E_OTHER, "invalid CIDR address: %.60s", m->bad_cidr);
	return r;
}

static struct result eval_match(const struct rule *m, struct rule_req *q)
{
	struct result r = {0, E_NONE};
	const char *v;
	size_t len;
	int k;
	if (m->type == M_IPWL)
		return eval_ipwl(m, q);
	if (m->type == M_SCALR)
		return eval_scalr(m, q);
	if (m->param.source == SRC_UNKNOWN)
		return err_result(q, E_OTHER, "no source for value retrieval");
	k = q->param(q->ctx, &m->param, &v, &len, q->why, sizeof(q->why));
	if (k == RULE_PARAM_MISSING)
		return err_result(q, E_PARAM, "parameter node not found: %.120s", m->param.name);
	if (k != RULE_PARAM_FOUND) {
		if (q->why[0])
			return (struct result){0, E_OTHER};
		return err_result(q, E_OTHER, "no source for value retrieval");
	}
	switch (m->type) {
	case M_VALUE: r.val = sign_equal(v, len, m->value, m->value_len); break;
	case M_REGEX: r.val = regex_search(m->re, v, len); break;
	case M_HMAC: return eval_hmac(m, q, v, len);
	default: break;
	}
	return r;
}

static struct result eval(const struct rules *rs, int idx, struct rule_req *q)
{
	const struct rule *n = &rs->nodes[idx];
	struct result r = {0, E_NONE}, c;
	int i;
	switch (n->kind) {
	case R_MATCH:
		return eval_match(n, q);
	case R_NOT:
		c = eval(rs, n->first, q);
		c.val = !c.val;
		return c;
	case R_AND:
		r.val = 1;
		for (i = n->first; i >= 0; i = rs->nodes[i].next) {
			c = eval(rs, i, q);
			if (c.err != E_NONE)
				return (struct result){0, c.err};
			if (!c.val)
				return (struct result){0, E_NONE};
		}
		return r;
	case R_OR:
		for (i = n->first; i >= 0; i = rs->nodes[i].next) {
			c = eval(rs, i, q);
			if (c.err == E_OTHER || (c.err == E_SIG && !q->soft_signature_failures))
				return (struct result){0, c.err};
			if (c.val) {
				q->why[0] = 0;
				return (struct result){1, E_NONE};
			}
		}
		q->why[0] = 0;
		return r;
	default:
		return r;
	}
}

unsigned rules_sources(const struct rules *r)
{
	unsigned m = 0;
	int i;
	for (i = 0; r && i < r->n; i++)
		if (r->nodes[i].kind == R_MATCH)
			m |= 1u << r->nodes[i].param.source;
	return m;
}

int rules_eval(const struct rules *r, struct rule_req *q)
{
	struct result res;
	q->why[0] = 0;
	if (!r)
		return 1;
	res = eval(r, 0, q);
	if (res.err == E_SIG || res.err == E_OTHER)
		return -1;
	return res.val;
}
