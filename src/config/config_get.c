#include "config_internal.h"
#include "edgehook/b64.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_err_at(struct loader *L, const struct node *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(L->errors, "%s:%d: %s\n", L->file, n ? n->line : 1, msg);
	L->nerrors++;
}

void config_oom(struct loader *L, const struct node *n) { config_err_at(L, n, "out of memory"); }

void config_check_keys(struct loader *L, const struct node *map, const char *const *allowed)
{
	const struct node *c;
	for (c = map->child; c; c = c->next) {
		const char *const *k;
		for (k = allowed; *k; k++)
			if (strcmp(*k, c->key) == 0)
				break;
		if (!*k)
			config_err_at(L, c, "unknown key \"%s\"", c->key);
	}
}

enum { MAX_ENV_NESTING = 8 };

struct expansion {
	struct loader *L;
	const struct node *n;
	const char *text; /* the whole scalar, for messages */
};

static const char *expand_ref(struct expansion *e, const char *p, int depth, struct buf *out);

/* Copies text from p, expanding references, up to its end or (inside a
 * default, depth > 0) the '}' that closes the default; returns where it
 * stopped, NULL after an error. out NULL: a default that is not used,
 * checked for syntax but not expanded. */
static const char *expand_text(struct expansion *e, const char *p, int depth, struct buf *out)
{
	while (*p && !(depth > 0 && *p == '}')) {
		if (p[0] == '$' && p[1] == '{') {
			p = expand_ref(e, p + 2, depth + 1, out);
			if (!p)
				return NULL;
		} else {
			if (out)
				buf_append(out, p, 1);
			p++;
		}
	}
	return p;
}

/* ${NAME} or ${NAME:-default} from just after "${"; the default may hold
 * references itself, up to MAX_ENV_NESTING deep. */
static const char *expand_ref(struct expansion *e, const char *p, int depth, struct buf *out)
{
	const char *name = p, *val;
	char var[128];
	size_t nlen;
	if (depth > MAX_ENV_NESTING)
		return config_err_at(e->L, e->n, "${...} nested deeper than %d in \"%s\"", MAX_ENV_NESTING, e->text), NULL;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	nlen = (size_t)(p - name);
	if (!*p || (p[0] == ':' && p[1] == '\0'))
		return config_err_at(e->L, e->n, "unterminated ${ in \"%s\"", e->text), NULL;
	if (nlen == 0 || nlen >= sizeof(var) || (*p != '}' && !(p[0] == ':' && p[1] == '-')))
		return config_err_at(e->L, e->n, "bad variable reference in \"%s\"", e->text), NULL;
	memcpy(var, name, nlen);
	var[nlen] = '\0';
	val = getenv(var);
	if (*p == '}') {
		if (out && !val)
			config_err_at(e->L, e->n, "environment variable %s is not set", var);
		else if (out)
			buf_puts(out, val);
		return p + 1;
	}
	p = expand_text(e, p + 2, depth, out && !val ? out : NULL);
	if (!p)
		return NULL;
	if (*p != '}')
		return config_err_at(e->L, e->n, "unterminated ${ in \"%s\"", e->text), NULL;
	if (out && val)
		buf_puts(out, val);
	return p + 1;
}

/* ${NAME} and ${NAME:-default}, defaults nested; a missing NAME without
 * default is an error, and no "${" of the file is ever kept as text. */
static char *expand_one(struct loader *L, const struct node *n, const char *s)
{
	struct expansion e = {L, n, s};
	struct buf out;
	char *res = NULL;
	int before = L->nerrors;
	if (!strstr(s, "${"))
		return (char *)s;
	buf_init(&out, 1 << 20);
	expand_text(&e, s, 0, &out);
	if (out.failed)
		config_err_at(L, n, "value longer than 1 MiB after ${...} expansion");
	if (L->nerrors == before)
		res = arena_strndup(L->a, out.data ? out.data : "", out.len);
	buf_free(&out);
	return res ? res : (char *)s;
}

void config_expand_env(struct loader *L, struct node *n)
{
	struct node *c;
	if (n->kind == NODE_SCALAR) {
		n->str = expand_one(L, n, n->str);
		n->len = strlen(n->str);
		return;
	}
	for (c = n->child; c; c = c->next)
		config_expand_env(L, c);
}

/* The node for key when it is present and not null. */
static const struct node *present(const struct node *n, const char *key)
{
	const struct node *v = tree_get(n, key);
	return v && v->kind != NODE_NULL ? v : NULL;
}

static int want_scalar(struct loader *L, const struct node *v, const char *key)
{
	if (v->kind == NODE_SCALAR)
		return 0;
	config_err_at(L, v, "%s: expected a single value, not a %s", key, v->kind == NODE_MAP ? "map" : "list");
	return -1;
}

int config_get_str(struct loader *L, const struct node *n, const char *key, const char **out)
{
	const struct node *v = present(n, key);
	if (!v)
		return 0;
	if (want_scalar(L, v, key) < 0)
		return -1;
	*out = v->str;
	return 1;
}

int config_get_bool(struct loader *L, const struct node *n, const char *key, int *out)
{
	const struct node *v = present(n, key);
	if (!v)
		return 0;
	if (want_scalar(L, v, key) < 0)
		return -1;
	if (!v->quoted && strcmp(v->str, "true") == 0)
		*out = 1;
	else if (!v->quoted && strcmp(v->str, "false") == 0)
		*out = 0;
	else
		return config_err_at(L, v, "%s: expected true or false, got \"%s\"", key, v->str), -1;
	return 1;
}

int config_get_int(struct loader *L, const struct node *n, const char *key, int *out, int min, int max)
{
	const struct node *v = present(n, key);
	char *end;
	long val;
	if (!v)
		return 0;
	if (want_scalar(L, v, key) < 0)
		return -1;
	val = strtol(v->str, &end, 10);
	if (v->quoted || *v->str == '\0' || *end || val < min || val > max)
		return config_err_at(L, v, "%s: expected an integer from %d to %d, got \"%s\"", key, min, max, v->str), -1;
	*out = (int)val;
	return 1;
}

int config_parse_size(const char *s, size_t *out)
{
	static const struct { const char *unit; size_t mult; } units[] = {
		{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}};
	char *end;
	unsigned long long v;
	size_t i;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > (unsigned long long)SIZE_MAX / units[i].mult)
				return -1;
			*out = (size_t)v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

int config_get_size(struct loader *L, const struct node *n, const char *key, size_t *out, size_t min, size_t max)
{
	const struct node *v = present(n, key);
	size_t val;
	if (!v)
		return 0;
	if (want_scalar(L, v, key) < 0)
		return -1;
	if (config_parse_size(v->str, &val) < 0)
		return config_err_at(L, v, "%s: bad size \"%s\" (use 512, 64KiB, 1MiB)", key, v->str), -1;
	if (val < min || val > max)
		return config_err_at(L, v, "%s: %s is out of range (%zu to %zu)", key, v->str, min, max), -1;
	*out = val;
	return 1;
}

/* One or more NUMBER UNIT pairs: "250ms", "10s", "1m30s", "1h"; at most
 * 31 days, checked after every term so a long sum cannot wrap. */
int config_parse_duration(const char *s, uint64_t *ms)
{
	const uint64_t max = 31ULL * 24 * 3600000;
	uint64_t total = 0;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		unsigned long long v;
		uint64_t mult;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || v > 1000000000ULL)
			return -1;
		if (strncmp(end, "ms", 2) == 0) {
			mult = 1;
			end += 2;
		} else if (*end == 's') {
			mult = 1000;
			end++;
		} else if (*end == 'm') {
			mult = 60000;
			end++;
		} else if (*end == 'h') {
			mult = 3600000;
			end++;
		} else {
			return -1;
		}
		if (v * mult > max - total)
			return -1;
		total += v * mult;
		s = end;
	}
	*ms = total;
	return 0;
}

static int duration(struct loader *L, const struct node *n, const char *key, uint64_t *out, uint64_t min)
{
	const struct node *v = present(n, key);
	uint64_t ms;
	if (!v)
		return 0;
	if (want_scalar(L, v, key) < 0)
		return -1;
	if (config_parse_duration(v->str, &ms) < 0)
		return config_err_at(L, v, "%s: bad duration \"%s\" (use 250ms, 10s, 5m, 1h; at most 31 days)", key, v->str), -1;
	if (ms < min)
		return config_err_at(L, v, "%s: must be at least 1ms (0 would never let it happen)", key), -1;
	*out = ms;
	return 1;
}

int config_get_duration(struct loader *L, const struct node *n, const char *key, uint64_t *out)
{
	return duration(L, n, key, out, 1);
}

int config_get_duration_or_zero(struct loader *L, const struct node *n, const char *key, uint64_t *out)
{
	return duration(L, n, key, out, 0);
}

int config_get_str_list(struct loader *L, const struct node *n, const char *key, const char ***out, size_t *count)
{
	const struct node *v = present(n, key), *it;
	const char **list;
	size_t i = 0;
	if (!v)
		return 0;
	if (v->kind == NODE_SCALAR) {
		list = arena_alloc(L->a, sizeof(*list));
		if (!list)
			return config_oom(L, v), -1;
		list[0] = v->str;
		*out = list;
		*count = 1;
		return 1;
	}
	if (v->kind != NODE_SEQ)
		return config_err_at(L, v, "%s: expected a list", key), -1;
	list = arena_alloc(L->a, (v->count + 1) * sizeof(*list));
	if (!list)
		return config_oom(L, v), -1;
	for (it = v->child; it; it = it->next) {
		if (it->kind != NODE_SCALAR)
			return config_err_at(L, it, "%s: list items must be strings", key), -1;
		list[i++] = it->str;
	}
	*out = list;
	*count = i;
	return 1;
}

int config_get_cidrs(struct loader *L, const struct node *n, const char *key, struct cidr **out, size_t *count)
{
	const char **items;
	size_t k, nitems = 0;
	struct cidr *list;
	int rc = config_get_str_list(L, n, key, &items, &nitems);
	if (rc <= 0)
		return rc;
	list = arena_alloc(L->a, (nitems + 1) * sizeof(*list));
	if (!list)
		return config_oom(L, n), -1;
	for (k = 0; k < nitems; k++)
		if (cidr_parse(items[k], &list[k]) < 0)
			return config_err_at(L, tree_get(n, key), "%s: bad address or CIDR \"%s\"", key, items[k]), -1;
	*out = list;
	*count = nitems;
	return 1;
}

int config_valid_id(const char *s)
{
	if (!*s || strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

int config_valid_pattern(const char *s)
{
	size_t n = strlen(s);
	const char *star = strchr(s, '*');
	if (n == 0)
		return 0;
	if (!star)
		return 1;
	return star == s + n - 1 && (n == 1 || (n >= 3 && s[n - 2] == '.'));
}

int config_valid_header(const char *name, const char *value)
{
	const char *p;
	if (!*name)
		return 0;
	for (p = name; *p; p++)
		if (!strchr("!#$%&'*+-.^_`|~", *p) && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	for (p = value; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return 0;
	return 1;
}

int config_secret_bytes(const char *secret, unsigned char *out, size_t cap)
{
	unsigned char tmp[256];
	int n;
	if (strncmp(secret, "whsec_", 6) != 0)
		return -1;
	n = b64_decode(secret + 6, strlen(secret + 6), out ? out : tmp, out ? cap : sizeof(tmp));
	return n <= 0 ? -1 : n;
}
