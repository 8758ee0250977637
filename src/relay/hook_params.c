/* hook_params: parameter lookup and Go-style rendering (see the header). */
#include "edgehook/hook_params.h"

#include "edgehook/form.h"
#include "edgehook/hooks.h"
#include "edgehook/http_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's encoding/json string escaping (with HTML escaping on). */
static int put_go_string(struct buf *b, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0;
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t w;
		char esc[8];
		if (c >= 0x80) {
			w = json_utf8_seq(s + i, len - i);
			if (w == 0) {
				if (buf_puts(b, "\\ufffd") < 0)
					return -1;
				i++;
			} else if (w == 3 && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
				   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
				if (buf_puts(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029") < 0)
					return -1;
				i += 3;
			} else {
				if (buf_append(b, s + i, w) < 0)
					return -1;
				i += w;
			}
			continue;
		}
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			w = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\', esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			w = 2;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			memcpy(esc, "\\u00", 4);
			esc[4] = hexd[c >> 4], esc[5] = hexd[c & 15];
			w = 6;
		} else {
			esc[0] = (char)c;
			w = 1;
		}
		if (buf_append(b, esc, w) < 0)
			return -1;
		i++;
	}
	return buf_append(b, "\"", 1);
}

/* A string token unescaped, appended to b. */
static int put_unescaped(struct buf *b, const struct json_doc *doc, int i)
{
	const struct json_tok *t = &doc->toks[i];
	size_t n = (size_t)(t->end - t->start);
	int k;
	if (buf_reserve(b, n + 1) < 0)
		return -1;
	if ((k = json_unescape(doc->text + t->start, n, b->data + b->len)) < 0)
		return -1;
	b->len += (size_t)k;
	return 0;
}

static const struct json_doc *sort_doc;

static int name_cmp(const struct json_doc *doc, int i, int j)
{
	const struct json_tok *x = &doc->toks[i], *y = &doc->toks[j];
	return json_key_cmp(doc->text + x->start, (size_t)(x->end - x->start), doc->text + y->start,
			    (size_t)(y->end - y->start));
}

/* By name, then by position: of equal names (a payload may repeat one)
 * the last sorts last, and it is the one Go's map keeps. */
static int cmp_members(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b, c = name_cmp(sort_doc, i, j);
	return c ? c : (i > j) - (i < j);
}

static int marshal_object(struct buf *b, const struct json_doc *doc, int i)
{
	int n = doc->toks[i].size, k, w, j = i + 1, rc = -1;
	int *keys = n ? malloc((size_t)n * sizeof(*keys)) : NULL;
	if (n && !keys)
		return -1;
	for (k = 0; k < n; k++) {
		keys[k] = j;
		j = json_skip(doc, j + 1);
	}
	sort_doc = doc;
	qsort(keys, (size_t)n, sizeof(*keys), cmp_members);
	if (buf_append(b, "{", 1) < 0)
		goto out;
	for (k = 0, w = 0; k < n; k++) {
		size_t mark;
		if (k + 1 < n && name_cmp(doc, keys[k], keys[k + 1]) == 0)
			continue; /* a repeated name: Go's map keeps the last */
		if (w++ && buf_append(b, ",", 1) < 0)
			goto out;
		mark = b->len;
		if (put_unescaped(b, doc, keys[k]) < 0)
			goto out;
		{
			/* the key, unescaped, then re-escaped Go's way */
			size_t klen = b->len - mark;
			char *copy = malloc(klen + 1);
			int bad;
			if (!copy)
				goto out;
			memcpy(copy, b->data + mark, klen);
			b->len = mark;
			bad = put_go_string(b, copy, klen) < 0;
			free(copy);
			if (bad)
				goto out;
		}
		if (buf_append(b, ":", 1) < 0 || hook_json_marshal(b, doc, keys[k] + 1) < 0)
			goto out;
	}
	rc = buf_append(b, "}", 1);
out:
	free(keys);
	return rc;
}

int hook_json_marshal(struct buf *b, const struct json_doc *doc, int i)
{
	const struct json_tok *t = &doc->toks[i];
	int k, j;
	switch (t->type) {
	case JSON_OBJECT:
		return marshal_object(b, doc, i);
	case JSON_ARRAY:
		if (buf_append(b, "[", 1) < 0)
			return -1;
		for (k = 0, j = i + 1; k < t->size; k++, j = json_skip(doc, j))
			if ((k && buf_append(b, ",", 1) < 0) || hook_json_marshal(b, doc, j) < 0)
				return -1;
		return buf_append(b, "]", 1);
	case JSON_STRING: {
		size_t mark = b->len, n;
		char *copy;
		int bad;
		if (put_unescaped(b, doc, i) < 0)
			return -1;
		n = b->len - mark;
		if (!(copy = malloc(n + 1)))
			return -1;
		memcpy(copy, b->data + mark, n);
		b->len = mark;
		bad = put_go_string(b, copy, n);
		free(copy);
		return bad;
	}
	default:
		return buf_append(b, doc->text + t->start, (size_t)(t->end - t->start));
	}
}

/* Go's %v of a decoded JSON value. */
static int render(struct buf *b, const struct json_doc *doc, int i)
{
	const struct json_tok *t = &doc->toks[i];
	if (t->type == JSON_STRING)
		return put_unescaped(b, doc, i);
	if (t->type == JSON_PRIMITIVE && doc->text[t->start] == 'n')
		return buf_puts(b, "<nil>");
	return hook_json_marshal(b, doc, i);
}

/* Member `key` (len bytes, raw) of object obj; the last of equal names. */
static int member(const struct json_doc *doc, int obj, const char *key, size_t len)
{
	int k, j = obj + 1, found = -1;
	for (k = 0; k < doc->toks[obj].size; k++) {
		const struct json_tok *t = &doc->toks[j];
		char tmp[256];
		int n = (t->end - t->start) < (int)sizeof(tmp) ? json_unescape(doc->text + t->start,
										(size_t)(t->end - t->start), tmp)
								 : -1;
		if (n >= 0 && (size_t)n == len && memcmp(tmp, key, len) == 0)
			found = j + 1;
		j = json_skip(doc, j + 1);
	}
	return found;
}

/* webhook's GetParameter: the literal key first, then the dotted path. */
static int lookup(const struct json_doc *doc, int node, const char *s, size_t len, int depth)
{
	const struct json_tok *t = &doc->toks[node];
	const char *dot = memchr(s, '.', len);
	size_t head = dot ? (size_t)(dot - s) : len;
	int v, k, j;
	if (depth > 64)
		return -1;
	if (t->type == JSON_OBJECT) {
		if ((v = member(doc, node, s, len)) >= 0)
			return v;
		if ((v = member(doc, node, s, head)) < 0)
			return -1;
		return dot ? lookup(doc, v, dot + 1, len - head - 1, depth + 1) : v;
	}
	if (t->type == JSON_ARRAY && t->size > 0) {
		unsigned long idx = 0;
		size_t d;
		if (head == 0 || head > 9)
			return -1;
		for (d = 0; d < head; d++) {
			if (s[d] < '0' || s[d] > '9')
				return -1;
			idx = idx * 10 + (unsigned long)(s[d] - '0');
		}
		if (idx >= (unsigned long)t->size)
			return -1;
		for (k = 0, j = node + 1; (unsigned long)k < idx; k++)
			j = json_skip(doc, j);
		return dot ? lookup(doc, j, dot + 1, len - head - 1, depth + 1) : j;
	}
	return -1;
}

/* The token a payload parameter names, -1 when absent. */
static int payload_index(const struct json_doc *doc, const char *name)
{
	size_t len = strlen(name);
	int v;
	if (doc->toks[0].type == JSON_ARRAY) {
		/* the array reads as {"root": [...]} */
		if (strcmp(name, "root") == 0)
			v = 0;
		else if (strncmp(name, "root.", 5) == 0)
			v = lookup(doc, 0, name + 5, len - 5, 0);
		else
			v = -1;
	} else {
		v = lookup(doc, 0, name, len, 0);
	}
	return v;
}

static int payload_param(struct hook_request *rq, const char *name)
{
	const struct json_doc *doc = rq->payload;
	int v;
	if (!doc)
		return RULE_PARAM_MISSING;
	if ((v = payload_index(doc, name)) < 0)
		return RULE_PARAM_MISSING;
	return render(rq->out, doc, v) < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
}

/* One parse-parameters-as-json entry: the string at `name` holding a JSON
 * object is spliced into a new payload text in tmp, which doc then reads. */
static int json_string_param(struct json_doc *doc, struct buf *text, const char *name)
{
	struct buf tmp;
	const struct json_tok *t;
	int v = payload_index(doc, name), n;
	size_t off, at;
	if (v < 0)
		return -1;
	t = &doc->toks[v];
	if (t->type != JSON_STRING)
		return 0; /* already a value: webhook's round trip changes nothing */
	buf_init(&tmp, 3 * doc->len + 16);
	if (buf_append(&tmp, doc->text, (size_t)t->start - 1) < 0 || buf_reserve(&tmp, (size_t)(t->end - t->start)) < 0)
		goto fail;
	at = tmp.len;
	n = json_unescape(doc->text + t->start, (size_t)(t->end - t->start), tmp.data + at);
	if (n < 0)
		goto fail;
	for (off = at; off < at + (size_t)n && strchr(" \t\r\n", tmp.data[off]); off++)
		;
	if (off == at + (size_t)n || tmp.data[off] != '{' || json_validate(tmp.data + at, (size_t)n, 512, &off) < 0)
		goto fail;
	tmp.len = at + (size_t)n;
	if (buf_append(&tmp, doc->text + t->end + 1, doc->len - (size_t)t->end - 1) < 0)
		goto fail;
	json_doc_free(doc);
	if (json_parse_first(doc, tmp.data, tmp.len, 512) < 0) {
		buf_free(&tmp);
		return -2;
	}
	buf_free(text);
	*text = tmp;
	return 0;
fail:
	buf_free(&tmp);
	return -1;
}

int hook_params_parse_json(struct json_doc *doc, struct buf *text, const struct hook_args *list, char *why,
			   size_t whycap)
{
	size_t i;
	int bad = 0, rc;
	why[0] = '\0';
	for (i = 0; i < list->n; i++) {
		if (list->v[i].source != SRC_PAYLOAD)
			continue;
		rc = json_string_param(doc, text, list->v[i].name);
		if (rc == -2)
			return -2;
		if (rc < 0 && !bad++)
			snprintf(why, whycap, "error parsing JSON parameter %s", list->v[i].name);
	}
	return bad ? -1 : 0;
}

struct kv {
	const char *k, *v;
	size_t klen, vlen, idx;
};

static int key_cmp(const struct kv *x, const struct kv *y)
{
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->k, y->k, n);
	return c ? c : x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* By key, then by position: the first of equal keys sorts first. */
static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = key_cmp(x, y);
	return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A Go map[string]string as json.Marshal writes it: sorted keys, and a
 * repeated key's first value (webhook keeps the first). */
static int marshal_map(struct buf *b, struct kv *kv, size_t n)
{
	size_t i, w = 0;
	qsort(kv, n, sizeof(*kv), cmp_kv);
	if (buf_append(b, "{", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (i && key_cmp(&kv[i], &kv[i - 1]) == 0)
			continue;
		if ((w++ && buf_append(b, ",", 1) < 0) || put_go_string(b, kv[i].k, kv[i].klen) < 0 ||
		    buf_append(b, ":", 1) < 0 || put_go_string(b, kv[i].v, kv[i].vlen) < 0)
			return -1;
	}
	return buf_append(b, "}", 1);
}

static int entire_headers(struct hook_request *rq, struct buf *b)
{
	struct kv *kv = calloc(rq->nheaders + 1, sizeof(*kv));
	char *names = malloc(256 * (rq->nheaders + 1)), *p = names;
	size_t i, n = 0;
	int rc = -1;
	if (!kv || !names)
		goto out;
	for (i = 0; i < rq->nheaders; i++) {
		const struct http_header *h = &rq->headers[i];
		size_t len = h->name_len < 255 ? h->name_len : 255;
		/* net/http keeps Host out of the header map */
		if (h->name_len == 4 && strncasecmp(h->name, "host", 4) == 0)
			continue;
		memcpy(p, h->name, len);
		p[len] = 0;
		hook_canonical_header(p);
		kv[n] = (struct kv){p, h->value, len, h->value_len, i};
		n++;
		p += 256;
	}
	rc = marshal_map(b, kv, n);
out:
	free(kv);
	free(names);
	return rc;
}

/* url.ParseQuery's pairs, decoded into dec (qlen + 1 bytes) and listed
 * in kv (qlen / 2 + 2 entries) in order; a pair with ';' or a bad escape
 * is left out and counted. Their number. */
static size_t parse_query(const char *q, size_t qlen, struct kv *kv, char *dec, int *dropped)
{
	size_t cap = qlen / 2 + 2, n = 0, i = 0;
	char *w = dec;
	*dropped = 0;
	while (q && i < qlen && n < cap) {
		const char *s = q + i, *amp = memchr(s, '&', qlen - i), *eq;
		size_t len = amp ? (size_t)(amp - s) : qlen - i;
		int kl, vl;
		i += len + 1;
		if (len == 0)
			continue;
		eq = memchr(s, '=', len);
		kl = memchr(s, ';', len) ? -1 : form_decode(s, eq ? (size_t)(eq - s) : len, w);
		vl = kl < 0 ? -1 : eq ? form_decode(eq + 1, len - (size_t)(eq + 1 - s), w + kl) : 0;
		if (vl < 0) {
			++*dropped;
			continue;
		}
		kv[n] = (struct kv){w, w + kl, (size_t)kl, (size_t)vl, n};
		n++;
		w += kl + vl;
	}
	return n;
}

int hook_query_map(struct buf *b, const char *q, size_t qlen, int *dropped)
{
	struct kv *kv = calloc(qlen / 2 + 2, sizeof(*kv));
	char *dec = malloc(qlen + 1);
	int rc = -1;
	if (kv && dec)
		rc = marshal_map(b, kv, parse_query(q, qlen, kv, dec, dropped));
	free(kv);
	free(dec);
	return rc;
}

/* A url parameter: the first value of the name among the pairs
 * url.ParseQuery keeps. */
static int query_param(struct hook_request *rq, const char *name)
{
	struct kv *kv = calloc(rq->query_len / 2 + 2, sizeof(*kv));
	char *dec = malloc(rq->query_len + 1);
	size_t n, i, len = strlen(name);
	int k = RULE_PARAM_ERROR, dropped;
	if (kv && dec) {
		n = parse_query(rq->query, rq->query_len, kv, dec, &dropped);
		for (i = 0; i < n && (kv[i].klen != len || memcmp(kv[i].k, name, len) != 0); i++)
			;
		k = i == n ? RULE_PARAM_MISSING
			   : buf_append(rq->out, kv[i].v, kv[i].vlen) < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
	}
	free(kv);
	free(dec);
	return k;
}

static int entire_query(struct hook_request *rq, struct buf *b)
{
	int dropped;
	return hook_query_map(b, rq->query, rq->query_len, &dropped);
}

/* A header (canonical name) or url parameter read from its JSON map,
 * dotted paths included, as webhook reads them after
 * parse-parameters-as-json. */
static int map_param(struct hook_request *rq, const struct json_doc *doc, const char *name, int header)
{
	char canon[256];
	int v;
	if (snprintf(canon, sizeof(canon), "%s", name) >= (int)sizeof(canon))
		return RULE_PARAM_MISSING;
	if (header)
		hook_canonical_header(canon);
	if ((v = lookup(doc, 0, canon, strlen(canon), 0)) < 0)
		return RULE_PARAM_MISSING;
	return render(rq->out, doc, v) < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
}

/* The headers or the query as a JSON map in *text, read into doc, with
 * the list's strings of that source that hold JSON objects spliced in. */
static int json_map(struct hook_request *rq, int header, struct json_doc *doc, struct buf *text,
		    const struct hook_args *list, char *why, size_t whycap)
{
	size_t i;
	int bad = 0;
	buf_init(text, 64u << 20);
	if ((header ? entire_headers(rq, text) : entire_query(rq, text)) < 0 || json_parse(doc, text->data, text->len, 4) < 0)
		return -2;
	for (i = 0; i < list->n; i++) {
		char canon[256];
		int rc;
		if (list->v[i].source != (header ? SRC_HEADER : SRC_QUERY))
			continue;
		snprintf(canon, sizeof(canon), "%s", list->v[i].name);
		if (header)
			hook_canonical_header(canon);
		if ((rc = json_string_param(doc, text, canon)) == -2)
			return -2;
		if (rc < 0 && !bad++)
			snprintf(why, whycap, "error parsing JSON parameter %s", list->v[i].name);
	}
	return bad ? -1 : 0;
}

int hook_params_json_maps(struct hook_request *rq, struct hook_json_maps *m, const struct hook_args *list, char *why,
			  size_t whycap)
{
	size_t i;
	int want[2] = {0, 0}, rc = 0, k, side;
	memset(m, 0, sizeof(*m));
	why[0] = '\0';
	for (i = 0; i < list->n; i++) {
		want[0] |= list->v[i].source == SRC_HEADER;
		want[1] |= list->v[i].source == SRC_QUERY;
	}
	for (side = 0; side < 2; side++) {
		struct json_doc *doc = side ? &m->query : &m->headers;
		char w[160];
		if (!want[side])
			continue;
		k = json_map(rq, !side, doc, side ? &m->qtext : &m->htext, list, w, sizeof(w));
		if (k == -2)
			return -2;
		if (k < 0 && rc == 0) {
			snprintf(why, whycap, "%s", w);
			rc = -1;
		}
		*(side ? &rq->query_doc : &rq->headers_doc) = doc;
	}
	return rc;
}

void hook_json_maps_free(struct hook_request *rq, struct hook_json_maps *m)
{
	if (rq->headers_doc)
		json_doc_free(&m->headers);
	if (rq->query_doc)
		json_doc_free(&m->query);
	rq->headers_doc = rq->query_doc = NULL;
	buf_free(&m->htext);
	buf_free(&m->qtext);
}

static int header_eq(const struct http_header *h, const char *name)
{
	return strlen(name) == h->name_len && strncasecmp(h->name, name, h->name_len) == 0;
}

int hook_param_get(void *ctx, const struct hook_arg *arg, const char **val, size_t *len, char *why, size_t whycap)
{
	struct hook_request *rq = ctx;
	struct buf *b = rq->out;
	size_t i;
	int k = RULE_PARAM_FOUND;
	b->len = 0;
	switch (arg->source) {
	case SRC_STRING:
		k = buf_puts(b, arg->name) < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
		break;
	case SRC_RAW_BODY:
		k = buf_append(b, rq->body ? rq->body : "", rq->body_len) < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
		break;
	case SRC_HEADER:
		if (rq->headers_doc) {
			k = map_param(rq, rq->headers_doc, arg->name, 1);
			break;
		}
		k = RULE_PARAM_MISSING;
		/* net/http keeps Host out of the header map */
		for (i = 0; i < rq->nheaders && k == RULE_PARAM_MISSING && strcasecmp(arg->name, "host") != 0; i++)
			if (header_eq(&rq->headers[i], arg->name))
				k = buf_append(b, rq->headers[i].value, rq->headers[i].value_len) < 0 ? RULE_PARAM_ERROR
												: RULE_PARAM_FOUND;
		break;
	case SRC_QUERY:
		k = rq->query_doc ? map_param(rq, rq->query_doc, arg->name, 0) : query_param(rq, arg->name);
		break;
	case SRC_PAYLOAD:
		k = payload_param(rq, arg->name);
		break;
	case SRC_REQUEST:
		if (strcasecmp(arg->name, "remote-addr") == 0)
			k = buf_puts(b, rq->remote_addr ? rq->remote_addr : "") < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
		else if (strcasecmp(arg->name, "method") == 0)
			k = buf_puts(b, rq->method ? rq->method : "") < 0 ? RULE_PARAM_ERROR : RULE_PARAM_FOUND;
		else {
			snprintf(why, whycap, "unsupported request key: \"%.60s\"", arg->name);
			return RULE_PARAM_ERROR;
		}
		break;
	case SRC_ENTIRE_PAYLOAD:
		k = (rq->payload ? hook_json_marshal(b, rq->payload, 0) : buf_puts(b, "null")) < 0 ? RULE_PARAM_ERROR
												    : RULE_PARAM_FOUND;
		if (k == RULE_PARAM_FOUND && rq->payload && rq->payload->toks[0].type == JSON_ARRAY) {
			/* {"root": [...]}: shift the marshalled array right */
			size_t n = b->len;
			if (buf_reserve(b, 9) < 0)
				return RULE_PARAM_ERROR;
			memmove(b->data + 8, b->data, n);
			memcpy(b->data, "{\"root\":", 8);
			b->data[n + 8] = '}';
			b->len = n + 9;
		}
		break;
	case SRC_ENTIRE_HEADERS:
		k = (rq->headers_doc ? hook_json_marshal(b, rq->headers_doc, 0) : entire_headers(rq, b)) < 0
			    ? RULE_PARAM_ERROR
			    : RULE_PARAM_FOUND;
		break;
	case SRC_ENTIRE_QUERY:
		k = (rq->query_doc ? hook_json_marshal(b, rq->query_doc, 0) : entire_query(rq, b)) < 0
			    ? RULE_PARAM_ERROR
			    : RULE_PARAM_FOUND;
		break;
	default:
		/* an unknown source is webhook's error */
		snprintf(why, whycap, "no source for value retrieval");
		return RULE_PARAM_ERROR;
	}
	if (k != RULE_PARAM_FOUND)
		return k;
	if (buf_reserve(b, 1) < 0)
		return RULE_PARAM_ERROR;
	b->data[b->len] = 0;
	*val = b->data;
	*len = b->len;
	return RULE_PARAM_FOUND;
}
