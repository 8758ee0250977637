/* multipart/form-data to a JSON object (see payload_multipart.h). The body
 * is already in memory and bounded by the server; this reads it in place,
 * in two passes over the parts (files first, so a file wins a name). */
#include "edgehook/payload_multipart.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "edgehook/json.h"

struct part {
	const char *name, *data;
	size_t nlen, len;
	int is_file, json_type;
};

struct mp {
	const char *b; /* boundary */
	size_t blen;
	const char *p, *end;
	const char *nl; /* "\r\n" or "\n", as the first delimiter line ended */
};

static const char *find(const char *p, const char *end, const char *s, size_t n)
{
	for (; (size_t)(end - p) >= n; p++) {
		p = memchr(p, s[0], (size_t)(end - p) - n + 1);
		if (!p)
			return NULL;
		if (memcmp(p, s, n) == 0)
			return p;
	}
	return NULL;
}

/* The value of parameter `key` in a header value such as
 * `form-data; name="a"; filename="b"` (quotes and \-escapes kept in *v:
 * the caller compares or copies). 1 found, 0 absent. */
static int param(const char *s, size_t len, const char *key, const char **v, size_t *vlen)
{
	const char *p = s, *end = s + len;
	size_t klen = strlen(key);
	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			if (p < end && *p == '"') {
				const char *q = ++p;
				while (q < end && *q != '"')
					q += *q == '\\' && q + 1 < end ? 2 : 1;
				*v = p;
				*vlen = (size_t)(q - p);
			} else {
				const char *q = p;
				while (q < end && *q != ';' && *q != ' ' && *q != '\t')
					q++;
				*v = p;
				*vlen = (size_t)(q - p);
			}
			return 1;
		}
	}
	return 0;
}

/* Reads the head of the part at m->p up to the blank line. */
static int part_head(struct mp *m, struct part *pt)
{
	memset(pt, 0, sizeof(*pt));
	for (;;) {
		const char *eol = memchr(m->p, '\n', (size_t)(m->end - m->p)), *line = m->p, *colon;
		size_t n;
		if (!eol)
			return -1;
		n = (size_t)(eol - line);
		if (n && line[n - 1] == '\r')
			n--;
		m->p = eol + 1;
		if (n == 0)
			return 0; /* without a form-data name the part is skipped */
		colon = memchr(line, ':', n);
		if (!colon)
			return -1;
		if ((size_t)(colon - line) == 19 && strncasecmp(line, "Content-Disposition", 19) == 0) {
			const char *v = colon + 1;
			size_t vlen = n - (size_t)(v - line);
			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			if (vlen >= 9 && strncasecmp(v, "form-data", 9) == 0)
				param(v, vlen, "name", &pt->name, &pt->nlen);
			pt->is_file = param(v, vlen, "filename", &(const char *){NULL}, &(size_t){0});
		} else if ((size_t)(colon - line) == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
			const char *v = colon + 1;
			size_t vlen = n - (size_t)(v - line);
			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			pt->json_type |= vlen == 16 && memcmp(v, "application/json", 16) == 0;
		}
	}
}

/* Steps to the next part: 1 with *pt filled, 0 at the closing delimiter,
 * -1 malformed. m->p stands just after a delimiter. */
static int next_part(struct mp *m, struct part *pt)
{
	const char *d;
	if (m->end - m->p >= 2 && m->p[0] == '-' && m->p[1] == '-')
		return 0;
	while (m->p < m->end && (*m->p == ' ' || *m->p == '\t'))
		m->p++;
	if (m->p < m->end && *m->p == '\r')
		m->p++;
	if (m->p >= m->end || *m->p != '\n')
		return -1;
	if (++m->p == m->end)
		return 0; /* Go's reader takes a body that stops after a delimiter line as complete */
	if (part_head(m, pt) < 0)
		return -1;
	for (d = m->p;; d++) {
		d = find(d, m->end, "--", 2);
		if (!d)
			return -1;
		if ((size_t)(m->end - d) - 2 >= m->blen && memcmp(d + 2, m->b, m->blen) == 0 && d - m->p >= 1 &&
		    d[-1] == '\n')
			break;
	}
	pt->data = m->p;
	pt->len = (size_t)(d - m->p) - 1;
	if (pt->len && pt->data[pt->len - 1] == '\r')
		pt->len--;
	m->p = d + 2 + m->blen;
	return 1;
}

static int start(struct mp *m, const char *ctype, const char *body, size_t len)
{
	const char *d;
	if (!param(ctype, strlen(ctype), "boundary", &m->b, &m->blen) || m->blen == 0 || m->blen > 70)
		return -3;
	m->p = body;
	m->end = body + len;
	for (d = body;; d++) {
		d = find(d, m->end, "--", 2);
		if (!d)
			return -1;
		if ((d == body || d[-1] == '\n') && (size_t)(m->end - d) - 2 >= m->blen && memcmp(d + 2, m->b, m->blen) == 0)
			break;
	}
	m->p = d + 2 + m->blen;
	return 0;
}

static int seen(const struct part *names, size_t n, const struct part *pt)
{
	size_t k;
	for (k = 0; k < n; k++)
		if (names[k].nlen == pt->nlen && memcmp(names[k].name, pt->name, pt->nlen) == 0)
			return 1;
	return 0;
}

static int put_entry(struct buf *out, int *first, const struct part *pt, const char *json)
{
	if (!*first && buf_puts(out, ",") < 0)
		return -2;
	*first = 0;
	if (json_put_string(out, pt->name, pt->nlen) < 0 || buf_puts(out, ":") < 0)
		return -2;
	if (json)
		return buf_append(out, json, strlen(json)) < 0 ? -2 : 0;
	return json_put_string(out, pt->data, pt->len) < 0 ? -2 : 0;
}

/* A file part's JSON object, appended; null when it is not one. */
static int put_file(struct buf *out, int *first, const struct part *pt)
{
	const char *s = pt->data, *e = pt->data + pt->len;
	size_t off;
	while (s < e && strchr(" \t\r\n", *s))
		s++;
	if (s < e && *s == '{' && json_validate(s, (size_t)(e - s), 512, &off) == 0) {
		int rc = put_entry(out, first, pt, "");
		return rc < 0 || buf_append(out, s, (size_t)(e - s)) < 0 ? -2 : 0;
	}
	return put_entry(out, first, pt, "null");
}

int multipart_to_json(struct buf *out, const char *ctype, const char *body, size_t len, long max_mem,
		      int (*is_json)(void *ctx, const char *name, size_t nlen), void *ctx)
{
	static struct part done[MULTIPART_MAX_PARTS];
	uint64_t value_bytes = 0, cap = (uint64_t)(max_mem > 0 ? max_mem : 0) + (10u << 20);
	size_t ndone = 0, nparts;
	int pass, first = 1, rc;
	struct mp m;
	struct part pt;
	if (buf_puts(out, "{") < 0)
		return -2;
	for (pass = 0; pass < 2; pass++) {
		if ((rc = start(&m, ctype, body, len)) < 0)
			return rc;
		for (nparts = 0; (rc = next_part(&m, &pt)) > 0; nparts++) {
			if (nparts >= MULTIPART_MAX_PARTS)
				return -2;
			if (!pt.name || seen(done, ndone, &pt))
				continue;
			if (pass == 0 && pt.is_file && (pt.json_type || (is_json && is_json(ctx, pt.name, pt.nlen)))) {
				rc = put_file(out, &first, &pt);
			} else if (pass == 1 && !pt.is_file) {
				value_bytes += pt.len + pt.nlen;
				if (value_bytes > cap)
					return -2;
				rc = put_entry(out, &first, &pt, NULL);
			} else {
				continue;
			}
			if (rc < 0)
				return rc;
			done[ndone++] = pt;
		}
		if (rc < 0)
			return -1;
	}
	return buf_puts(out, "}") < 0 ? -2 : 0;
}
