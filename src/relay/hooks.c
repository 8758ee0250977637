/* hooks: webhook hooks files to a hook set. The file's tree stays in the
 * set's arena and the hooks point into it; parameters and rules are
 * compiled to their own (malloc'd) forms. */
#include "edgehook/hooks.h"
#include "edgehook/hooks_template.h"

#include "edgehook/buf.h"
#include "edgehook/config.h"
#include "edgehook/tree.h"
#include "edgehook/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hload {
	struct hook_set *s;
	const char *file;
	struct buf *errors;
};

static int hfail(struct hload *L, const struct node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int hfail(struct hload *L, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	buf_printf(L->errors, "%s:%d: ", L->file, n ? n->line : 0);
	va_start(ap, fmt);
	buf_vprintf(L->errors, fmt, ap);
	va_end(ap);
	return -1;
}

void hooks_init(struct hook_set *s)
{
	memset(s, 0, sizeof(*s));
	arena_init(&s->arena);
}

/* A scalar as a string (YAML coerces 1 and yes to "1" and "yes"); NULL
 * when absent or null, -1 through *bad when it is a list or map. */
static int get_string(struct hload *L, const struct node *h, const char *key, const char **out)
{
	const struct node *n = tree_get(h, key);
	*out = NULL;
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind != NODE_SCALAR)
		return hfail(L, n, "%s must be a string", key);
	*out = n->str;
	return 0;
}

/* Go's encoding/json into a bool, with YAML 1.1's spellings. */
static int get_flag(struct hload *L, const struct node *h, const char *key, int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
	const struct node *n = tree_get(h, key);
	size_t i;
	*out = 0;
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind == NODE_SCALAR && !n->quoted)
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcmp(n->str, yes[i]) == 0)
				return *out = 1, 0;
			if (strcmp(n->str, no[i]) == 0)
				return 0;
		}
	return hfail(L, n, "%s must be true or false", key);
}

static int get_code(struct hload *L, const struct node *h, const char *key, int *out)
{
	const struct node *n = tree_get(h, key);
	char *end;
	long v;
	*out = 0;
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind != NODE_SCALAR || n->quoted)
		return hfail(L, n, "%s must be a number", key);
	errno = 0;
	v = strtol(n->str, &end, 10);
	/* webhook loads any number and ignores one outside 100-999 when
	 * answering (with a log line): so does compat.c */
	if (errno || *end || end == n->str || v < -1000000 || v > 1000000)
		return hfail(L, n, "%s must be a number", key);
	*out = (int)v;
	return 0;
}

static int get_args(struct hload *L, const struct node *h, const char *key, struct hook_args *out)
{
	const struct node *n = tree_get(h, key), *it;
	const char *why;
	memset(out, 0, sizeof(*out));
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind != NODE_SEQ)
		return hfail(L, n, "%s must be a list of {source, name}", key);
	if (n->count && !(out->v = calloc(n->count, sizeof(*out->v))))
		return hfail(L, n, "out of memory");
	for (it = n->child; it; it = it->next) {
		if (hook_arg_load(&out->v[out->n], it, &why) < 0)
			return hfail(L, it, "%s: %s", key, why);
		out->n++;
	}
	return 0;
}

static int get_headers(struct hload *L, const struct node *h, struct hook *hk)
{
	const struct node *n = tree_get(h, "response-headers"), *it;
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind != NODE_SEQ)
		return hfail(L, n, "response-headers must be a list of {name, value}");
	if (n->count && !(hk->headers = calloc(n->count, sizeof(*hk->headers))))
		return hfail(L, n, "out of memory");
	for (it = n->child; it; it = it->next) {
		struct hook_header *hd = &hk->headers[hk->nheaders];
		if (get_string(L, it, "name", &hd->name) < 0 || get_string(L, it, "value", &hd->value) < 0)
			return -1;
		if (!hd->name || !hd->name[0] || strpbrk(hd->name, "\r\n:") || (hd->value && strpbrk(hd->value, "\r\n")))
			return hfail(L, it, "response-headers: a header needs a name and a value on one line");
		if (!hd->value)
			hd->value = "";
		hk->nheaders++;
	}
	return 0;
}

static int get_methods(struct hload *L, const struct node *h, struct hook *hk)
{
	const struct node *n = tree_get(h, "http-methods"), *it;
	if (!n || n->kind == NODE_NULL)
		return 0;
	if (n->kind != NODE_SEQ)
		return hfail(L, n, "http-methods must be a list");
	if (n->count && !(hk->methods = calloc(n->count, sizeof(*hk->methods))))
		return hfail(L, n, "out of memory");
	for (it = n->child; it; it = it->next) {
		if (it->kind != NODE_SCALAR)
			return hfail(L, it, "http-methods must be a list of strings");
		/* webhook trims blanks around each method and upper-cases it; the
		 * request's method is then compared exactly */
		hk->methods[hk->nmethods++] = it->str + strspn(it->str, " \t");
		{
			char *end = it->str + strlen(it->str), *c;
			while (end > it->str && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = 0;
			for (c = it->str; *c; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 32);
		}
	}
	return 0;
}

static int get_extensions(struct hload *L, const struct node *h, struct hook *hk)
{
	const struct node *n;
	char *end;
	if ((n = tree_get(h, "timeout")) && n->kind == NODE_SCALAR) {
		double secs = strtod(n->str, &end);
		if (end == n->str || (*end && strcmp(end, "s") != 0) || secs <= 0 || secs > 86400)
			return hfail(L, n, "timeout must be seconds between 0 and 86400 (\"30\" or \"30s\")");
		hk->timeout_ms = (uint64_t)(secs * 1000);
	}
	if ((n = tree_get(h, "max-concurrency")) && n->kind == NODE_SCALAR) {
		long v = strtol(n->str, &end, 10);
		if (*end || end == n->str || v < 1 || v > 4096)
			return hfail(L, n, "max-concurrency must be between 1 and 4096");
		hk->max_concurrency = (int)v;
	}
	return get_flag(L, h, "pass-body-to-stdin", &hk->body_to_stdin);
}

static void hook_free(struct hook *hk)
{
	struct hook_args *lists[] = {&hk->args, &hk->env, &hk->files, &hk->json_params};
	size_t i, j;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (j = 0; j < lists[i]->n; j++)
			hook_arg_free(&lists[i]->v[j]);
		free(lists[i]->v);
	}
	free(hk->headers);
	free(hk->methods);
	rules_free(hk->rule);
	memset(hk, 0, sizeof(*hk));
}

static unsigned hook_sources(const struct hook *hk)
{
	const struct hook_args *lists[] = {&hk->args, &hk->env, &hk->files, &hk->json_params};
	unsigned m = rules_sources(hk->rule);
	size_t i, j;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (j = 0; j < lists[i]->n; j++)
			m |= 1u << lists[i]->v[j].source;
	return m;
}

static int load_hook(struct hload *L, const struct node *h, struct hook *hk)
{
	const struct node *rule;
	struct buf why;
	int rc;
	if (h->kind != NODE_MAP)
		return hfail(L, h, "a hook must be a map with an id");
	hk->file = L->file;
	if (get_string(L, h, "id", &hk->id) < 0 || get_string(L, h, "execute-command", &hk->command) < 0 ||
	    get_string(L, h, "command-working-directory", &hk->workdir) < 0 ||
	    get_string(L, h, "response-message", &hk->response) < 0 ||
	    get_string(L, h, "incoming-payload-content-type", &hk->content_type) < 0)
		return -1;
	if (!hk->id)
		hk->id = "";
	if (get_headers(L, h, hk) < 0 || get_methods(L, h, hk) < 0 ||
	    get_code(L, h, "success-http-response-code", &hk->success_code) < 0 ||
	    get_code(L, h, "trigger-rule-mismatch-http-response-code", &hk->mismatch_code) < 0 ||
	    get_flag(L, h, "include-command-output-in-response", &hk->sync) < 0 ||
	    get_flag(L, h, "include-command-output-in-response-on-error", &hk->output_on_error) < 0 ||
	    get_flag(L, h, "trigger-signature-soft-failures", &hk->soft_failures) < 0 ||
	    get_args(L, h, "pass-arguments-to-command", &hk->args) < 0 ||
	    get_args(L, h, "pass-environment-to-command", &hk->env) < 0 ||
	    get_args(L, h, "pass-file-to-command", &hk->files) < 0 ||
	    get_args(L, h, "parse-parameters-as-json", &hk->json_params) < 0 || get_extensions(L, h, hk) < 0)
		return -1;
	rule = tree_get(h, "trigger-rule");
	/* the rule's message goes after this file's FILE:LINE prefix */
	buf_init(&why, L->errors->max);
	rc = rules_compile(&hk->rule, rule, hk->id, &why);
	if (rc < 0) {
		hfail(L, rule, "%.*s", (int)why.len, why.data ? why.data : "");
		L->errors->failed |= why.failed;
	}
	buf_free(&why);
	if (rc == 0)
		hk->sources = hook_sources(hk);
	return rc;
}

static const struct hook *find_in(const struct hook_set *s, size_t from, size_t to, const char *id, size_t len)
{
	size_t i;
	for (i = from; i < to; i++)
		if (strlen(s->hooks[i].id) == len && memcmp(s->hooks[i].id, id, len) == 0)
			return &s->hooks[i];
	return NULL;
}

int hooks_add_text(struct hook_set *s, const char *file, const char *text, size_t len, struct buf *errors)
{
	struct hload L = {s, file, errors};
	struct node *root;
	const struct node *h;
	size_t first = s->n;
	struct buf why;
	int parsed;
	buf_init(&why, 1024);
	/* webhook reads JSON hooks files with a YAML 1.1 reader: what strict
	 * JSON refuses (trailing commas, tabs) gets the lenient reader's say */
	parsed = config_parse_tree(&s->arena, text, len, &root, &why);
	if (parsed < 0) {
		why.len = 0;
		parsed = yaml_parse(&s->arena, text, len, &root, &why);
	}
	if (parsed < 0)
		buf_printf(errors, "%s:%.*s", file, (int)why.len, why.data ? why.data : "");
	buf_free(&why);
	if (parsed < 0)
		return -1;
	if (!(L.file = arena_strdup(&s->arena, file)))
		return hfail(&L, NULL, "out of memory");
	if (root->kind == NODE_NULL)
		return 0;
	if (root->kind != NODE_SEQ)
		return hfail(&L, root, "a hooks file is a list of hooks");
	if (s->n + root->count > HOOKS_MAX)
		return hfail(&L, root, "more than %d hooks", HOOKS_MAX);
	if (s->n + root->count > s->cap) {
		size_t cap = s->n + root->count;
		struct hook *v = realloc(s->hooks, cap * sizeof(*v));
		if (!v)
			return hfail(&L, root, "out of memory");
		s->hooks = v;
		s->cap = cap;
	}
	for (h = root->child; h; h = h->next) {
		struct hook *hk = &s->hooks[s->n];
		memset(hk, 0, sizeof(*hk));
		s->n++;
		if (load_hook(&L, h, hk) < 0)
			goto fail;
		if (find_in(s, 0, s->unique_in_file ? s->n - 1 : first, hk->id, strlen(hk->id))) {
			hfail(&L, h, "hook with the id %s has already been loaded", hk->id);
			goto fail;
		}
	}
	return 0;
fail:
	/* the set stays as it was before this file */
	while (s->n > first)
		hook_free(&s->hooks[--s->n]);
	return -1;
}

static char *read_file(const char *path, size_t *len, struct buf *errors)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t n = 0;
	if (!f) {
		buf_printf(errors, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(text = malloc(HOOKS_MAX_FILE_BYTES + 1)))
		buf_printf(errors, "%s: out of memory", path);
	else if ((n = fread(text, 1, HOOKS_MAX_FILE_BYTES + 1, f)) > HOOKS_MAX_FILE_BYTES || ferror(f)) {
		buf_printf(errors, "%s: %s", path, ferror(f) ? "read error" : "larger than 4 MiB");
		free(text);
		text = NULL;
	}
	fclose(f);
	*len = n;
	return text;
}

int hooks_load(struct hook_set *s, const char *const *files, size_t nfiles, struct buf *errors)
{
	size_t i, len;
	for (i = 0; i < nfiles; i++) {
		char *text = read_file(files[i], &len, errors);
		int k;
		if (!text)
			return -1;
		if (s->as_template) {
			struct buf exp;
			buf_init(&exp, HOOKS_MAX_FILE_BYTES);
			k = hooks_template_expand(files[i], text, len, &exp, errors);
			if (k == 0)
				k = hooks_add_text(s, files[i], exp.data ? exp.data : "", exp.len, errors);
			buf_free(&exp);
		} else {
			k = hooks_add_text(s, files[i], text, len, errors);
		}
		free(text);
		if (k < 0)
			return -1;
	}
	return 0;
}

const struct hook *hooks_find(const struct hook_set *s, const char *id, size_t len)
{
	return find_in(s, 0, s->n, id, len);
}

void hooks_free(struct hook_set *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		hook_free(&s->hooks[i]);
	free(s->hooks);
	arena_free(&s->arena);
	memset(s, 0, sizeof(*s));
}
