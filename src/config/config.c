#include "edgehook/config.h"
#include "config_internal.h"
#include "edgehook/addr.h"
#include "edgehook/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { MAX_CONFIG_BYTES = 4 << 20, MAX_ENDPOINTS = 1024, MAX_TRIGGERS = 4096 };

const char config_default_yaml[] =
	"server:\n"
	"  listen: 127.0.0.1:8080\n"
	"webhook:\n"
	"  endpoints:\n"
	"    - url: \"stdout:\"\n"
	"      name: stdout\n"
	"triggers:\n"
	"  - id: demo\n"
	"    kind: generic\n"
	"    allowed_ips: [127.0.0.1, \"::1\"]\n"
	"    emit: true\n"
	"    description: \"demo trigger: POST JSON here, the event prints on stdout\"\n";

static const char *const top_keys[] = {"server", "api", "webhook", "spool", "cluster", "hooks", "triggers", "log",
	NULL};
static const char *const server_keys[] = {"listen", "tls", "max_connections", "max_header_bytes",
	"max_body_bytes", "header_timeout", "body_timeout", "idle_timeout", "drain_timeout", "trusted_proxies", "user",
	"dedupe", "workers", NULL};
static const char *const tls_keys[] = {"cert", "key", NULL};
static const char *const listen_keys[] = {"address", "tls", "name", NULL};
static const char *const api_keys[] = {"token", "listen", "allow_run", NULL};
static const char *const webhook_keys[] = {"timeout", "retries", "backoff", "max_backoff", "queue",
	"max_queue_bytes", "history",
	"user_agent", "ca_file", "endpoints", "https_only", "resolv_conf", "hosts_file", "breaker", NULL};
static const char *const breaker_keys[] = {"failures", "cooldown", "disable_after", NULL};
static const char *const endpoint_keys[] = {"url", "name", "headers", "events", "secret", "retries",
	"timeout", "max_in_flight", "ordered", NULL};

/* One address or a list of them into *out (arena memory). */
static void load_listen_list(struct loader *L, const struct node *listen, struct listen_cfg **out, size_t *n)
{
	if (listen->kind == NODE_SEQ) {
		const struct node *it;
		size_t i = 0;
		if (listen->count == 0)
			config_err_at(L, listen, "listen: at least one address is needed");
		*out = arena_alloc(L->a, (listen->count + 1) * sizeof(struct listen_cfg));
		if (!*out)
			return config_oom(L, listen);
		for (it = listen->child; it; it = it->next)
			if (config_load_listen(L, it, &(*out)[i]) == 0)
				i++;
		*n = i;
	} else if (listen->kind != NODE_NULL) {
		*out = arena_alloc(L->a, sizeof(struct listen_cfg));
		if (!*out)
			return config_oom(L, listen);
		if (config_load_listen(L, listen, &(*out)[0]) == 0)
			*n = 1;
	}
}

static void load_server(struct loader *L, const struct node *n, struct config *c)
{
	const struct node *listen, *tls;
	size_t i;
	config_check_keys(L, n, server_keys);
	listen = tree_get(n, "listen");
	if (listen)
		load_listen_list(L, listen, &c->server.listen, &c->server.nlisten);
	for (i = 0; i < c->server.nlisten; i++)
		if (c->server.listen[i].addr.ss_family == AF_UNIX)
			config_err_at(L, listen, "listen: %s: Unix sockets are for api.listen only", c->server.listen[i].text);
	tls = tree_get(n, "tls");
	if (tls && tls->kind == NODE_MAP) {
		config_check_keys(L, tls, tls_keys);
		config_get_str(L, tls, "cert", &c->server.tls_cert);
		config_get_str(L, tls, "key", &c->server.tls_key);
		if (!c->server.tls_cert || !c->server.tls_key)
			config_err_at(L, tls, "tls: both cert and key are required");
	} else if (tls && tls->kind != NODE_NULL) {
		config_err_at(L, tls, "tls: expected a map {cert: FILE, key: FILE}");
	}
	config_get_size(L, n, "max_connections", &c->server.max_connections, 1, 1000000);
	config_get_size(L, n, "max_header_bytes", &c->server.max_header_bytes, 256, 1 << 20);
	config_get_size(L, n, "max_body_bytes", &c->server.max_body_bytes, 0, (size_t)1 << 30);
	config_get_duration(L, n, "header_timeout", &c->server.header_timeout_ms);
	config_get_duration(L, n, "body_timeout", &c->server.body_timeout_ms);
	config_get_duration(L, n, "idle_timeout", &c->server.idle_timeout_ms);
	config_get_duration_or_zero(L, n, "drain_timeout", &c->server.drain_timeout_ms);
	config_get_cidrs(L, n, "trusted_proxies", &c->server.trusted_proxies, &c->server.ntrusted);
	config_get_str(L, n, "user", &c->server.user);
	config_get_size(L, n, "dedupe", &c->server.dedupe, 0, 10000000);
	config_load_workers(L, n, c);
}

/* api.listen: the API's own listeners, plain HTTP (loopback or a Unix
 * socket is what they are for; TLS stays with server.listen). */
static void load_api(struct loader *L, const struct node *n, struct config *c)
{
	const struct node *listen = tree_get(n, "listen");
	size_t i;
	config_check_keys(L, n, api_keys);
	config_get_str(L, n, "token", &c->api.token);
	if (c->api.token && !*c->api.token)
		c->api.token = NULL;
	config_get_bool(L, n, "allow_run", &c->api.allow_run);
	if (listen)
		load_listen_list(L, listen, &c->api.listen, &c->api.nlisten);
	for (i = 0; i < c->api.nlisten; i++)
		if (c->api.listen[i].tls > 0)
			config_err_at(L, listen, "api.listen: %s: TLS is not served on API listeners", c->api.listen[i].text);
		else
			c->api.listen[i].tls = 0;
}

int config_load_listen(struct loader *L, const struct node *n, struct listen_cfg *out)
{
	const struct node *addr = n;
	const char *name = NULL;
	int tls = -1;
	if (n->kind == NODE_MAP) {
		config_check_keys(L, n, listen_keys);
		addr = tree_get(n, "address");
		if (!addr)
			return config_err_at(L, n, "listen: address is required"), -1;
		config_get_bool(L, n, "tls", &tls);
		config_get_str(L, n, "name", &name);
	}
	if (addr->kind != NODE_SCALAR)
		return config_err_at(L, addr, "listen: expected HOST:PORT"), -1;
	if (config_parse_listen(addr->str, out) < 0)
		return config_err_at(L, addr, "listen: bad address \"%s\" (expected HOST:PORT, [V6]:PORT or unix:/PATH)", addr->str), -1;
	out->tls = tls;
	out->name = name;
	return 0;
}

static void endpoint_name(struct loader *L, struct endpoint_cfg *e, struct config *c, size_t idx)
{
	char name[300];
	size_t i, k;
	snprintf(name, sizeof(name), "%s", e->url.scheme == URL_STDOUT ? "stdout" : e->url.host);
	/* on a clash try host-<position> first: free unless a name was given
	 * that way on purpose, which keeps n endpoints on one host O(n^2) */
	for (k = idx + 1;; k++) {
		int taken = 0;
		for (i = 0; i < idx; i++)
			if (c->webhook.endpoints[i].name && strcmp(c->webhook.endpoints[i].name, name) == 0)
				taken = 1;
		if (!taken)
			break;
		snprintf(name, sizeof(name), "%s-%zu", e->url.scheme == URL_STDOUT ? "stdout" : e->url.host, k);
	}
	e->name = arena_strdup(L->a, name);
}

static void load_endpoint(struct loader *L, const struct node *n, struct config *c, size_t idx)
{
	struct endpoint_cfg *e = &c->webhook.endpoints[idx];
	const struct node *url, *headers;
	const char *why = NULL;
	size_t i;
	e->line = n->line;
	e->retries = -1;
	e->max_in_flight = 64;
	if (n->kind != NODE_MAP)
		return config_err_at(L, n, "endpoint: expected a map with url");
	config_check_keys(L, n, endpoint_keys);
	url = tree_get(n, "url");
	if (!url || url->kind != NODE_SCALAR) {
		config_err_at(L, url ? url : n, "endpoint: url is required");
		e->url_text = "stdout:";
		e->url.scheme = URL_STDOUT;
	} else if (url_parse(url->str, &e->url, &why) < 0) {
		config_err_at(L, url, "bad url \"%s\": %s", url->str, why);
		e->url_text = url->str;
	} else {
		e->url_text = url->str;
	}
	config_get_str(L, n, "name", &e->name);
	if (e->name) {
		if (!config_valid_id(e->name))
			config_err_at(L, tree_get(n, "name"), "endpoint name \"%s\": use letters, digits, '.', '_', '-'", e->name);
		for (i = 0; i < idx; i++)
			if (c->webhook.endpoints[i].name && strcmp(c->webhook.endpoints[i].name, e->name) == 0)
				config_err_at(L, tree_get(n, "name"), "duplicate endpoint name \"%s\"", e->name);
	} else {
		endpoint_name(L, e, c, idx);
	}
	headers = tree_get(n, "headers");
	if (headers && headers->kind == NODE_MAP) {
		const struct node *h;
		e->headers = arena_alloc(L->a, (headers->count + 1) * sizeof(*e->headers));
		if (!e->headers)
			return config_oom(L, headers);
		for (h = headers->child; h; h = h->next) {
			if (h->kind != NODE_SCALAR)
				config_err_at(L, h, "header %s: expected a string", h->key);
			else if (!config_valid_header(h->key, h->str))
				config_err_at(L, h, "header %s: invalid name or value", h->key);
			else {
				e->headers[e->nheaders].name = h->key;
				e->headers[e->nheaders++].value = h->str;
			}
		}
	} else if (headers && headers->kind != NODE_NULL) {
		config_err_at(L, headers, "headers: expected a map of name: value");
	}
	if (config_get_str_list(L, n, "events", &e->events, &e->nevents) == 0 && !tree_get(n, "events")) {
		static const char *all[] = {"*"};
		e->events = all;
		e->nevents = 1;
	}
	for (i = 0; i < e->nevents; i++)
		if (!config_valid_pattern(e->events[i]))
			config_err_at(L, tree_get(n, "events"), "event pattern \"%s\": use \"*\", \"prefix.*\" or an exact name", e->events[i]);
	if (config_get_str_list(L, n, "secret", &e->secrets, &e->nsecrets) > 0 &&
	    (e->nsecrets == 0 || e->nsecrets > ENDPOINT_MAX_SECRETS))
		config_err_at(L, tree_get(n, "secret"), "secret: one whsec_ value or a list of 1 to at most %d",
		       ENDPOINT_MAX_SECRETS);
	for (i = 0; i < e->nsecrets; i++)
		if (config_secret_bytes(e->secrets[i], NULL, 0) < 0)
			config_err_at(L, tree_get(n, "secret"), "secret: expected whsec_ followed by base64");
	config_get_int(L, n, "retries", &e->retries, 0, 100);
	config_get_duration(L, n, "timeout", &e->timeout_ms);
	config_get_bool(L, n, "ordered", &e->ordered);
	{
		size_t mif = e->max_in_flight;
		config_get_size(L, n, "max_in_flight", &mif, 1, 4096);
		e->max_in_flight = (unsigned)mif;
	}
	if (c->webhook.https_only && e->url.scheme == URL_HTTP)
		config_err_at(L, url, "https_only: http:// endpoint \"%s\" is not allowed", e->url_text);
}

static void load_breaker(struct loader *L, const struct node *n, struct config *c)
{
	int failures = (int)c->webhook.breaker.failures;
	if (!n || n->kind == NODE_NULL)
		return;
	if (n->kind != NODE_MAP)
		return config_err_at(L, n, "breaker: expected a map");
	config_check_keys(L, n, breaker_keys);
	config_get_int(L, n, "failures", &failures, 0, 1000000);
	c->webhook.breaker.failures = (unsigned)failures;
	config_get_duration(L, n, "cooldown", &c->webhook.breaker.cooldown_ms);
	config_get_duration_or_zero(L, n, "disable_after", &c->webhook.breaker.disable_after_ms);
}

static void load_webhook(struct loader *L, const struct node *n, struct config *c)
{
	const struct node *eps;
	config_check_keys(L, n, webhook_keys);
	load_breaker(L, tree_get(n, "breaker"), c);
	config_get_duration(L, n, "timeout", &c->webhook.timeout_ms);
	config_get_int(L, n, "retries", &c->webhook.retries, 0, 100);
	config_get_duration_or_zero(L, n, "backoff", &c->webhook.backoff_ms);
	config_get_duration_or_zero(L, n, "max_backoff", &c->webhook.max_backoff_ms);
	config_get_size(L, n, "queue", &c->webhook.queue, 1, 10000000);
	config_get_size(L, n, "max_queue_bytes", &c->webhook.max_queue_bytes, 1024, (size_t)1 << 40);
	config_get_size(L, n, "history", &c->webhook.history, 1, 1000000);
	config_get_str(L, n, "user_agent", &c->webhook.user_agent);
	config_get_str(L, n, "ca_file", &c->webhook.ca_file);
	config_get_str(L, n, "resolv_conf", &c->webhook.resolv_conf);
	config_get_str(L, n, "hosts_file", &c->webhook.hosts_file);
	config_get_bool(L, n, "https_only", &c->webhook.https_only);
	eps = tree_get(n, "endpoints");
	if (eps && eps->kind == NODE_SEQ && eps->count > MAX_ENDPOINTS) {
		config_err_at(L, eps, "endpoints: at most %d", MAX_ENDPOINTS);
	} else if (eps && eps->kind == NODE_SEQ) {
		const struct node *it;
		size_t i = 0;
		c->webhook.endpoints = arena_alloc(L->a, (eps->count + 1) * sizeof(struct endpoint_cfg));
		if (!c->webhook.endpoints)
			return config_oom(L, eps);
		memset(c->webhook.endpoints, 0, (eps->count + 1) * sizeof(struct endpoint_cfg));
		for (it = eps->child; it; it = it->next)
			load_endpoint(L, it, c, i++);
		c->webhook.nendpoints = i;
	} else if (eps && eps->kind != NODE_NULL) {
		config_err_at(L, eps, "endpoints: expected a list");
	}
}

static void load_triggers(struct loader *L, const struct node *n, struct config *c)
{
	const struct node *it;
	size_t i = 0, j;
	if (n->kind != NODE_SEQ)
		return config_err_at(L, n, "triggers: expected a list");
	if (n->count > MAX_TRIGGERS)
		return config_err_at(L, n, "triggers: at most %d", MAX_TRIGGERS);
	c->triggers = arena_alloc(L->a, (n->count + 1) * sizeof(struct trigger_cfg));
	if (!c->triggers)
		return config_oom(L, n);
	for (it = n->child; it; it = it->next) {
		struct trigger_cfg *t = &c->triggers[i];
		if (config_load_trigger(L, it, t) < 0)
			continue;
		for (j = 0; j < i; j++) {
			if (strcmp(c->triggers[j].id, t->id) == 0)
				config_err_at(L, it, "duplicate trigger id \"%s\"", t->id);
			else if (t->path && c->triggers[j].path && strcmp(c->triggers[j].path, t->path) == 0)
				config_err_at(L, it, "duplicate trigger path \"%s\"", t->path);
		}
		i++;
	}
	c->ntriggers = i;
}

/* Listeners without an explicit tls flag serve TLS when server.tls is
 * set; https endpoints need a readable CA bundle. */
static void finish_tls(struct loader *L, const struct node *root, struct config *c)
{
	const struct node *server = root->kind == NODE_MAP ? tree_get(root, "server") : NULL;
	const struct node *webhook = root->kind == NODE_MAP ? tree_get(root, "webhook") : NULL;
	size_t i;
	int explicit_flags = 0;
	for (i = 0; i < c->server.nlisten; i++)
		explicit_flags |= c->server.listen[i].tls >= 0;
	for (i = 0; i < c->server.nlisten; i++) {
		if (c->server.listen[i].tls < 0)
			c->server.listen[i].tls = c->server.tls_cert != NULL && !explicit_flags;
		else if (c->server.listen[i].tls && !c->server.tls_cert)
			config_err_at(L, tree_get(server, "listen"), "listen: %s asks for TLS but server.tls is not set",
			       c->server.listen[i].text);
	}
	for (i = 0; i < c->webhook.nendpoints; i++) {
		if (c->webhook.endpoints[i].url.scheme == URL_HTTPS && access(c->webhook.ca_file, R_OK) != 0) {
			const struct node *ca = webhook ? tree_get(webhook, "ca_file") : NULL;
			config_err_at(L, ca ? ca : (webhook ? webhook : root), "webhook.ca_file: cannot read %s (needed for https endpoints): %s",
			       c->webhook.ca_file, strerror(errno));
			return;
		}
	}
}

static void set_defaults(struct config *c)
{
	c->log.format = LOG_LOGFMT;
	c->log.level = LOG_INFO;
	c->server.max_connections = 10000;
	c->server.max_header_bytes = 16 << 10;
	c->server.max_body_bytes = 1 << 20;
	c->server.header_timeout_ms = 10000;
	c->server.body_timeout_ms = 60000;
	c->server.idle_timeout_ms = 60000;
	c->server.drain_timeout_ms = 10000;
	c->server.dedupe = 10000;
	c->server.workers = 1;
	c->webhook.timeout_ms = 10000;
	c->webhook.retries = 0;
	c->webhook.backoff_ms = 1000;
	c->webhook.max_backoff_ms = 300000;
	c->webhook.queue = 10000;
	c->webhook.max_queue_bytes = 256 << 20;
	c->webhook.history = 1024;
	c->webhook.breaker.failures = 10;
	c->webhook.breaker.cooldown_ms = 30000;
	c->webhook.user_agent = "edgehook/" EDGEHOOK_VERSION;
	c->webhook.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	c->webhook.resolv_conf = "/etc/resolv.conf";
	c->webhook.hosts_file = "/etc/hosts";
	config_spool_defaults(c);
	config_cluster_defaults(c);
}

/* A config is JSON when its first non-blank byte opens an object or an
 * array, the YAML subset otherwise. */
int config_parse_tree(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors)
{
	size_t i = 0;
	/* editors on some systems start a UTF-8 file with a byte order mark */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i < len && (text[i] == '{' || text[i] == '['))
		return tree_from_json(a, text, len, root, errors);
	return yaml_parse(a, text, len, root, errors);
}

int config_load_text(const char *name, const char *text, size_t len, struct config **out, struct buf *errors)
{
	struct config *c = calloc(1, sizeof(*c));
	struct loader L;
	struct node *root = NULL, *n;
	struct buf why;
	int parsed;
	*out = NULL;
	if (!c)
		return buf_puts(errors, "out of memory\n"), -1;
	arena_init(&c->arena);
	memset(&L, 0, sizeof(L));
	L.a = &c->arena;
	L.file = name;
	L.errors = errors;
	c->path = arena_strdup(&c->arena, name);
	set_defaults(c);
	buf_init(&why, 1024);
	parsed = config_parse_tree(&c->arena, text, len, &root, &why);
	if (parsed < 0)
		buf_printf(errors, "%s:%.*s\n", name, (int)why.len, why.data ? why.data : "");
	buf_free(&why);
	if (parsed < 0) {
		config_free(c);
		return -1;
	}
	config_expand_env(&L, root);
	if (root->kind != NODE_MAP) {
		config_err_at(&L, root, "expected a map at the top level");
	} else {
		config_check_keys(&L, root, top_keys);
		/* webhook first: https_only is needed by endpoint checks */
		if ((n = tree_get(root, "webhook")) && n->kind == NODE_MAP) {
			const struct node *ho = tree_get(n, "https_only");
			if (ho)
				config_get_bool(&L, n, "https_only", &c->webhook.https_only);
			load_webhook(&L, n, c);
		} else if (n && n->kind != NODE_NULL) {
			config_err_at(&L, n, "webhook: expected a map");
		}
		if ((n = tree_get(root, "server")) && n->kind == NODE_MAP)
			load_server(&L, n, c);
		else if (n && n->kind != NODE_NULL)
			config_err_at(&L, n, "server: expected a map");
		if ((n = tree_get(root, "api")) && n->kind == NODE_MAP) {
			load_api(&L, n, c);
		} else if (n && n->kind != NODE_NULL) {
			config_err_at(&L, n, "api: expected a map");
		}
		if ((n = tree_get(root, "log")) && n->kind == NODE_MAP)
			config_load_log(&L, n, c);
		else if (n && n->kind != NODE_NULL)
			config_err_at(&L, n, "log: expected a map");
		if ((n = tree_get(root, "spool")) && n->kind == NODE_MAP)
			config_load_spool(&L, n, c);
		else if (n && n->kind != NODE_NULL)
			config_err_at(&L, n, "spool: expected a map");
		if ((n = tree_get(root, "cluster")) && n->kind == NODE_MAP)
			config_load_cluster(&L, n, c);
		else if (n && n->kind != NODE_NULL)
			config_err_at(&L, n, "cluster: expected a map");
		if ((n = tree_get(root, "hooks")) && n->kind == NODE_MAP)
			config_load_hooks(&L, n, c);
		else if (n && n->kind != NODE_NULL)
			config_err_at(&L, n, "hooks: expected a map");
		if ((n = tree_get(root, "triggers")) && n->kind != NODE_NULL) {
			load_triggers(&L, n, c);
			config_check_hooks_paths(&L, n, c);
		}
		config_check_workers(&L, root, c, c->cluster.redis != NULL);
	}
	finish_tls(&L, root, c);
	if (c->server.nlisten == 0) {
		c->server.listen = arena_alloc(&c->arena, sizeof(struct listen_cfg));
		if (!c->server.listen || config_parse_listen("127.0.0.1:8080", c->server.listen) < 0)
			L.nerrors++;
		else
			c->server.nlisten = 1;
	}
	if (L.nerrors) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int config_load_file(const char *path, struct config **out, struct buf *errors)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd, rc;
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf_printf(errors, "%s: %s\n", path, strerror(errno)), -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_CONFIG_BYTES) {
		close(fd);
		return buf_printf(errors, "%s: not a regular file of at most 4 MiB\n", path), -1;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return buf_printf(errors, "%s: out of memory\n", path), -1;
	}
	while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	text[got] = '\0';
	rc = config_load_text(path, text, got, out, errors);
	free(text);
	return rc;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	arena_free(&cfg->arena);
	free(cfg);
}

int config_parse_listen(const char *s, struct listen_cfg *out)
{
	char host[64];
	const char *colon;
	char *end;
	long port;
	int rc;
	memset(out, 0, sizeof(*out));
	out->text = s;
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->addr;
		size_t n = strlen(s + 5);
		if (s[5] != '/' || n >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s + 5, n + 1);
		out->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	if (*host == '\0' || strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	else if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	rc = addr_parse_ip(host, strlen(host), &out->addr);
	if (rc < 0)
		return -1;
	addr_set_port(&out->addr, (uint16_t)port);
	out->addrlen = (socklen_t)rc;
	return 0;
}
