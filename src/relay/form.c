#include "edgehook/form.h"
#include "edgehook/json.h"
#include "edgehook/strutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int form_decode(const char *in, size_t len, char *out)
{
	size_t i, o = 0;
	for (i = 0; i < len; i++) {
		if (in[i] == '+') {
			out[o++] = ' ';
		} else if (in[i] == '%') {
			int hi, lo;
			if (len - i < 3)
				return -1;
			hi = str_hex_digit((unsigned char)in[i + 1]);
			lo = str_hex_digit((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return (int)o;
}

/* Calls fn for each name=value pair (raw, undecoded slices). */
static int each_pair(const char *body, size_t len,
		     int (*fn)(void *arg, const char *k, size_t klen, const char *v, size_t vlen), void *arg)
{
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (stop > p) {
			const char *v = eq ? eq + 1 : stop;
			if (fn(arg, p, (size_t)((eq ? eq : stop) - p), v, (size_t)(stop - v)) < 0)
				return -1;
		}
		p = stop + 1;
	}
	return 0;
}

struct to_json {
	struct buf *out;
	char *tmp;
	int first;
};

static int put_decoded(struct to_json *t, const char *s, size_t len)
{
	int n = form_decode(s, len, t->tmp);
	if (n < 0)
		return -1;
	return json_put_string(t->out, t->tmp, (size_t)n);
}

static int pair_to_json(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
	struct to_json *t = arg;
	if (!t->first && buf_puts(t->out, ",") < 0)
		return -1;
	t->first = 0;
	if (put_decoded(t, k, klen) < 0 || buf_puts(t->out, ":") < 0)
		return -1;
	return put_decoded(t, v, vlen);
}

size_t form_json_bound(size_t len)
{
	/* a byte becomes at most 6 ("\u0001", "\ufffd"); "a&" becomes
	 * "\"a\":\"\"," (3.5 per byte); plus the braces */
	return len > (SIZE_MAX - 64) / 6 ? SIZE_MAX : 6 * len + 64;
}

int form_to_json(struct buf *out, const char *body, size_t len)
{
	struct to_json t = {out, NULL, 1};
	size_t start = out->len;
	int rc;
	t.tmp = malloc(len + 1);
	if (!t.tmp)
		return -1;
	rc = buf_puts(out, "{") == 0 && each_pair(body, len, pair_to_json, &t) == 0 && buf_puts(out, "}") == 0 ? 0 : -1;
	free(t.tmp);
	/* a repeated name would be a repeated key, which JSON readers resolve
	 * differently: the validator finds it and says so */
	if (rc == 0 && json_validate(out->data + start, out->len - start, 2, NULL) == -2)
		rc = -2;
	return rc;
}

struct finder {
	const char *name;
	char *out; /* NULL: only count */
	size_t cap;
	int found;
	int count;
};

/* 1 when raw name k decodes to name: "pay%6Coad" is "payload" to every
 * form reader. */
static int name_is(const char *k, size_t klen, const char *name)
{
	size_t i = 0;
	for (; *name; name++) {
		char c;
		if (i >= klen)
			return 0;
		if (k[i] == '%') {
			int hi = i + 2 < klen ? str_hex_digit((unsigned char)k[i + 1]) : -1;
			int lo = i + 2 < klen ? str_hex_digit((unsigned char)k[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return 0;
			c = (char)(hi * 16 + lo);
			i += 3;
		} else {
			c = k[i] == '+' ? ' ' : k[i];
			i++;
		}
		if (c != *name)
			return 0;
	}
	return i == klen;
}

static int pair_find(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
	struct finder *f = arg;
	if (!name_is(k, klen, f->name) || f->count++ > 0 || !f->out)
		return 0;
	if (vlen >= f->cap)
		return -1;
	f->found = form_decode(v, vlen, f->out);
	if (f->found >= 0)
		f->out[f->found] = '\0';
	return 0;
}

int form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
	struct finder f = {name, out, cap, -1, 0};
	if (each_pair(body, len, pair_find, &f) < 0)
		return -1;
	return f.found;
}

int form_count(const char *body, size_t len, const char *name)
{
	struct finder f = {name, NULL, 0, -1, 0};
	each_pair(body, len, pair_find, &f);
	return f.count;
}
