/* Scalars of the YAML reader that need no line state: block scalars
 * (| and >) read from the untouched source lines, and \u escapes. */
#include "edgehook/yaml_scalar.h"

#include <string.h>

static int hex4(const char *s)
{
	int v = 0, k;
	for (k = 0; k < 4; k++) {
		int c = (unsigned char)s[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 32) >= 'a' && (c | 32) <= 'f')
			v |= (c | 32) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

int yaml_unicode_escape(char **in, char **out)
{
	long cp = hex4(*in + 1);
	unsigned char *o = (unsigned char *)*out;
	if (cp < 0)
		return -1;
	*in += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		int lo = (*in)[0] == '\\' && (*in)[1] == 'u' ? hex4(*in + 2) : -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*in += 6;
	}
	if (cp == 0)
		return -1;
	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | (cp >> 6));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | (cp >> 12));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | (cp >> 18));
		*o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*out = (char *)o;
	return 0;
}

static int raw_indent(const char *s)
{
	int n = 0;
	while (s[n] == ' ')
		n++;
	return n;
}

static int is_blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/* Appends the block scalar body of raw lines [from, to) to b. */
static void block_body(char *b, size_t *off, char **raw, int from, int to, int cindent, int folded)
{
	int k, blanks = 0, started = 0, prev_more = 0;
	for (k = from; k < to; k++) {
		const char *l = raw[k];
		int more;
		if ((int)strlen(l) <= cindent && is_blank(l)) {
			blanks++;
			continue;
		}
		l += cindent;
		more = *l == ' ' || *l == '\t';
		if (!started) {
			memset(b + *off, '\n', (size_t)blanks);
			*off += (size_t)blanks;
		} else if (!folded || prev_more || more) {
			memset(b + *off, '\n', (size_t)blanks + 1);
			*off += (size_t)blanks + 1;
		} else if (blanks) {
			memset(b + *off, '\n', (size_t)blanks);
			*off += (size_t)blanks;
		} else {
			b[(*off)++] = ' ';
		}
		memcpy(b + *off, l, strlen(l));
		*off += strlen(l);
		started = 1;
		blanks = 0;
		prev_more = more;
	}
}

/* Folding and chomping as YAML 1.1 has them; the body is every line
 * below the header that is blank or indented past `indent`. */
int yaml_block_scalar(struct arena *a, char **raw, int nraw, int indent, int line, const char *h, char **text,
		      int *lastp)
{
	int folded = *h == '>', chomp = 0, cindent = 0, k, last = line, trailing = 0;
	size_t cap = 2, off = 0;
	char *b;
	for (h++; *h && *h != ' ' && *h != '\t'; h++) {
		if ((*h == '-' || *h == '+') && !chomp)
			chomp = *h;
		else if (*h >= '1' && *h <= '9' && !cindent)
			cindent = indent + (*h - '0');
		else
			return -1;
	}
	if (h[strspn(h, " \t")])
		return -2;
	for (k = line; k < nraw; k++) {
		const char *l = raw[k];
		if (is_blank(l)) {
			if (!cindent || (int)strlen(l) <= cindent) {
				trailing++;
				cap += strlen(l) + 1;
				continue;
			}
		}
		if (!cindent)
			cindent = raw_indent(l);
		if (raw_indent(l) < cindent || cindent <= indent)
			break;
		cap += strlen(l) + 1;
		last = k + 1;
		trailing = 0;
	}
	if (cindent <= indent)
		cindent = indent + 1;
	b = arena_alloc(a, cap + (size_t)trailing + 2);
	if (!b)
		return -3;
	block_body(b, &off, raw, line, last, cindent, folded);
	if (off > 0 && chomp != '-')
		b[off++] = '\n';
	if (chomp == '+') {
		memset(b + off, '\n', (size_t)trailing);
		off += (size_t)trailing;
	}
	b[off] = '\0';
	*text = b;
	*lastp = last;
	return 0;
}
