/* Run argument templates. A command must never get an argument nobody
 * sent: a value that cannot be passed byte for byte (missing, holding a
 * NUL, over the argument bound) fails the expansion instead of being
 * dropped or cut. */
#include "edgehook/runner.h"
#include "edgehook/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NAME = 256 };

struct run_template {
	const char *trigger;
	const struct run_request *req;
};

struct run_template *run_template_new(const char *trigger, const struct run_request *req)
{
	struct run_template *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->trigger = trigger;
	tp->req = req;
	return tp;
}

void run_template_free(struct run_template *tp)
{
	free(tp);
}

/* -2 when the argument would outgrow its bound, -1 out of memory. */
static int put(struct buf *b, const void *data, size_t len)
{
	if (len > RUN_MAX_ARG_BYTES - b->len)
		return -2;
	return buf_append(b, data, len);
}

/* Strings unescaped, other values as their JSON text. */
static int put_json_value(struct run_template *tp, struct buf *out, const char *path, const char **why)
{
	const struct json_doc *doc = tp->req->data;
	const struct json_tok *tok;
	size_t n;
	char *tmp;
	int t, len, rc;
	t = doc ? json_path(doc, path) : -1;
	if (t < 0) {
		*why = "missing";
		return -2;
	}
	tok = &doc->toks[t];
	n = (size_t)(tok->end - tok->start);
	if (tok->type != JSON_STRING)
		return put(out, doc->text + tok->start, n);
	/* unescaping never lengthens a string */
	if (!(tmp = malloc(n + 1)))
		return -1;
	len = json_tok_copy(doc, t, tmp, n + 1);
	if (len < 0)
		rc = -1;
	else if (memchr(tmp, '\0', (size_t)len))
		rc = -2, *why = "value contains NUL";
	else
		rc = put(out, tmp, (size_t)len);
	free(tmp);
	return rc;
}

static int put_placeholder(struct run_template *tp, struct buf *out, const char *name, const char **why)
{
	const struct run_request *req = tp->req;
	const char *v = NULL;
	if (strncmp(name, "json.", 5) == 0)
		return put_json_value(tp, out, name + 5, why);
	if (strcmp(name, "event") == 0)
		v = req->event;
	else if (strcmp(name, "delivery") == 0)
		v = req->delivery;
	else if (strcmp(name, "trigger") == 0)
		v = tp->trigger;
	else if (strcmp(name, "source_ip") == 0)
		v = req->source_ip;
	else
		return 1;
	return put(out, v, strlen(v));
}

int run_template_expand(struct run_template *tp, const char *tmpl, char **out, struct buf *errors)
{
	struct buf b;
	const char *p = tmpl;
	size_t said = errors->len;
	int rc = 0;
	*out = NULL;
	buf_init(&b, (size_t)RUN_MAX_ARG_BYTES + 1); /* + the terminating NUL */
	while (*p && rc == 0) {
		const char *close, *reason = NULL;
		char name[MAX_NAME];
		size_t n;
		if (*p != '{' || !(close = strchr(p, '}')) || (n = (size_t)(close - p - 1)) >= sizeof(name)) {
			rc = put(&b, p++, 1);
			continue;
		}
		memcpy(name, p + 1, n);
		name[n] = '\0';
		rc = put_placeholder(tp, &b, name, &reason);
		if (rc == 1) /* unknown: left as written */
			rc = put(&b, p, n + 2);
		if (rc == -2)
			buf_printf(errors, "{%.100s}: %s", name,
				   reason ? reason : "argument longer than " RUN_MAX_ARG_TEXT " bytes");
		p = close + 1;
	}
	if (rc == -2 && errors->len == said)
		buf_puts(errors, "argument longer than " RUN_MAX_ARG_TEXT " bytes");
	if (rc == 0 && buf_append(&b, "", 1) < 0)
		rc = -1;
	if (rc != 0) {
		buf_free(&b);
		return rc;
	}
	*out = b.data;
	return 0;
}
