/* hooks_template: the part of Go's text/template that hooks files use
 * with webhook's -template (hooks_template.h). Each action is read and
 * evaluated in one pass; values live in bounded buffers. */
#include "edgehook/hooks_template.h"

#include "edgehook/json.h"
#include "edgehook/strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a value (a literal, a function's result) and a file for cat: bounded */
enum { TPL_MAX_ARGS = 8, TPL_MAX_VALUE = 4 << 20 };

struct tpl {
	const char *file, *start, *p, *end;
	struct buf *out, *errors;
	const char *action; /* where the current action starts, for its line */
	struct buf args[TPL_MAX_ARGS + 1];
	size_t nargs;
	struct buf val; /* the previous command's value in a pipeline */
	int piped;
};

static int fail(struct tpl *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct tpl *t, const char *fmt, ...)
{
	int line = 1;
	const char *q;
	va_list ap;
	for (q = t->start; q < t->action; q++)
		line += *q == '\n';
	buf_printf(t->errors, "%s:%d: -template: ", t->file, line);
	va_start(ap, fmt);
	buf_vprintf(t->errors, fmt, ap);
	va_end(ap);
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_ident(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* ---- functions ---- */

/* cat: the file, one trailing newline trimmed; "" when it cannot be read */
/* Regular files only: expansion runs on the loop thread (at every
 * reload), where a FIFO or a device would block it. */
static int cat(struct tpl *t, const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char chunk[4096];
	struct stat st;
	ssize_t n;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(t, "cat %s: not a regular file", path);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return fail(t, "cat %s: larger than %d MiB", path, TPL_MAX_VALUE >> 20);
		}
	close(fd);
	if (out->len && out->data[out->len - 1] == '\n')
		out->len--;
	return 0;
}

static int getenv_into(const char *name, struct buf *out)
{
	const char *v = getenv(name);
	return v ? buf_puts(out, v) : 0;
}

/* Go's template.JSEscapeString (non-printable runes approximated by the
 * usual invisible ones) */
static int js_escape(const char *s, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];
		size_t k;
		uint32_t r;
		switch (c) {
		case '\\': buf_puts(out, "\\\\"); continue;
		case '\'': buf_puts(out, "\\'"); continue;
		case '"': buf_puts(out, "\\\""); continue;
		case '<': buf_puts(out, "\\u003C"); continue;
		case '>': buf_puts(out, "\\u003E"); continue;
		case '&': buf_puts(out, "\\u0026"); continue;
		case '=': buf_puts(out, "\\u003D"); continue;
		default: break;
		}
		if (c < ' ') {
			snprintf(e, sizeof(e), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			buf_puts(out, e);
			continue;
		}
		k = c < 0x80 ? 1 : json_utf8_seq(s + i, n - i);
		if (k <= 1) {
			buf_append(out, s + i, 1);
			continue;
		}
		r = k == 2 ? (uint32_t)(c & 0x1f) << 6 | (s[i + 1] & 0x3f)
		    : k == 3 ? (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f)
			     : 0x10000; /* astral runes print */
		if (r < 0xa1 || r == 0xad || (r >= 0x200b && r <= 0x200f) || r == 0x2028 || r == 0x2029 || r == 0xfeff) {
			snprintf(e, sizeof(e), "\\u%04X", (unsigned)r);
			buf_puts(out, e);
		} else {
			buf_append(out, s + i, k);
		}
		i += k - 1;
	}
	return out->failed ? -1 : 0;
}

/* Go's template.HTMLEscapeString */
static int html_escape(const char *s, size_t n, struct buf *out)
{
	size_t i;
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '"': buf_puts(out, "&#34;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '\0': buf_puts(out, "\xef\xbf\xbd"); break;
		default: buf_append(out, s + i, 1);
		}
	}
	return out->failed ? -1 : 0;
}

/* Runs function name over t->args (the piped value last) into out. */
static int call(struct tpl *t, const char *name, size_t nlen, struct buf *out)
{
	static const char *const one_arg[] = {"getenv", "cat", "credential"};
	size_t i;
	for (i = 0; i < t->nargs; i++)
		if (buf_append(&t->args[i], "", 1) < 0) /* as C strings */
			return fail(t, "value too large");
		else
			t->args[i].len--;
	for (i = 0; i < sizeof(one_arg) / sizeof(one_arg[0]); i++)
		if (str_slice_eq(name, nlen, one_arg[i]) && t->nargs != 1)
			return fail(t, "wrong number of args for %s: want 1 got %zu", one_arg[i], t->nargs);
	if (str_slice_eq(name, nlen, "getenv"))
		return getenv_into(t->args[0].data, out);
	if (str_slice_eq(name, nlen, "cat"))
		return cat(t, t->args[0].data, out);
	if (str_slice_eq(name, nlen, "credential")) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		char path[4096];
		const char *cred = t->args[0].data;
		if (!dir || !*dir)
			return getenv_into(cred, out);
		/* systemd credential names are file names in the directory */
		if (!*cred || strchr(cred, '/') || strcmp(cred, ".") == 0 || strcmp(cred, "..") == 0)
			return fail(t, "credential \"%s\": a name, not a path", cred);
		if (snprintf(path, sizeof(path), "%s/%s", dir, cred) >= (int)sizeof(path))
			return fail(t, "credential path too long");
		return cat(t, path, out);
	}
	if (str_slice_eq(name, nlen, "js") || str_slice_eq(name, nlen, "html")) {
		/* fmt.Sprint of strings: concatenated */
		for (i = 0; i < t->nargs; i++)
			if ((name[0] == 'j' ? js_escape : html_escape)(t->args[i].data, t->args[i].len, out) < 0)
				return fail(t, "value too large");
		return 0;
	}
	return fail(t, "function \"%.*s\" not defined", (int)nlen, name);
}

/* ---- literals ---- */

static int hex_value(const char *p, int n, uint32_t *v)
{
	int i;
	*v = 0;
	for (i = 0; i < n; i++) {
		int d = str_hex_digit((unsigned char)p[i]);
		if (d < 0)
			return -1;
		*v = *v * 16 + (uint32_t)d;
	}
	return 0;
}

/* A "..." literal at t->p with Go's escapes, or a `raw` one, into out. */
static int literal(struct tpl *t, struct buf *out)
{
	char q = *t->p++;
	static const char simple[] = "abfnrtv\\\"", value[] = "\a\b\f\n\r\t\v\\\"";
	while (t->p < t->end && *t->p != q) {
		char c = *t->p++, u[4];
		const char *e;
		uint32_t r;
		int n;
		if (q == '`' || c != '\\') {
			if (q == '"' && c == '\n')
				break;
			buf_append(out, &c, 1);
			continue;
		}
		if (t->p >= t->end)
			break;
		c = *t->p++;
		if ((e = memchr(simple, c, sizeof(simple) - 1))) {
			buf_append(out, &value[e - simple], 1);
			continue;
		}
		n = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
		if (n && t->end - t->p >= n && hex_value(t->p, n, &r) == 0 && r <= 0x10ffff &&
		    (n == 2 || r < 0xd800 || r > 0xdfff)) {
			t->p += n;
			if (n == 2) {
				u[0] = (char)r;
				buf_append(out, u, 1);
			} else {
				buf_append(out, u, (size_t)json_utf8_put(u, r));
			}
			continue;
		}
		return fail(t, "unknown escape sequence in string literal");
	}
	if (t->p >= t->end || *t->p != q)
		return fail(t, "unterminated %s string", q == '"' ? "quoted" : "raw quote");
	t->p++;
	return out->failed ? fail(t, "string literal too large") : 0;
}

/* ---- actions ---- */

static void reset_args(struct tpl *t)
{
	size_t i;
	for (i = 0; i < TPL_MAX_ARGS + 1; i++)
		t->args[i].len = 0;
	t->nargs = 0;
}

/* One command of a pipeline, up to '|' or the end of the action. Its
 * value replaces t->val. 1 when the action ended after it. */
static int command(struct tpl *t, int stage)
{
	const char *fn = NULL;
	size_t fnlen = 0;
	int lit = 0;
	struct buf res;
	reset_args(t);
	for (;;) {
		while (t->p < t->end && is_space(*t->p))
			t->p++;
		if (t->p >= t->end)
			return fail(t, "unclosed action");
		if (*t->p == '|' || (*t->p == '}' && t->p + 1 < t->end && t->p[1] == '}') ||
		    (*t->p == '-' && t->end - t->p >= 3 && t->p[1] == '}' && t->p[2] == '}' && is_space(t->p[-1])))
			break;
		if (*t->p == '"' || *t->p == '`') {
			if (!fn && (lit || stage > 1))
				return fail(t, stage > 1 ? "non executable command in pipeline stage %d"
							 : "can't give argument to non-function", stage);
			if (t->nargs == TPL_MAX_ARGS)
				return fail(t, "more than %d arguments", TPL_MAX_ARGS);
			if (literal(t, &t->args[t->nargs++]) < 0)
				return -1;
			lit = !fn;
			continue;
		}
		if (is_ident(*t->p, 1) && !fn && !lit) {
			static const char *const words[] = {"if", "else", "end", "range", "with", "define", "template",
				"block", "break", "continue", "nil", "true", "false"};
			size_t i;
			fn = t->p;
			while (t->p < t->end && is_ident(*t->p, 0))
				t->p++;
			fnlen = (size_t)(t->p - fn);
			for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
				if (str_slice_eq(fn, fnlen, words[i]))
					return fail(t, "\"%s\" is not supported (only literals, getenv, cat, credential, js "
						    "and html)", words[i]);
			continue;
		}
		if (is_ident(*t->p, 1)) {
			const char *s = t->p;
			while (t->p < t->end && is_ident(*t->p, 0))
				t->p++;
			return fail(t, "function \"%.*s\" not defined", (int)(t->p - s), s);
		}
		return fail(t, "'%c' is not supported (only literals, getenv, cat, credential, js and html)", *t->p);
	}
	if (!fn && !lit)
		return fail(t, stage > 1 ? "missing command after '|'" : "missing value for command");
	if (t->piped) {
		if (!fn)
			return fail(t, "non executable command in pipeline stage %d", stage);
		if (buf_append(&t->args[t->nargs++], t->val.data, t->val.len) < 0)
			return fail(t, "value too large");
	}
	buf_init(&res, TPL_MAX_VALUE);
	if (fn ? call(t, fn, fnlen, &res) < 0 : buf_append(&res, t->args[0].data, t->args[0].len) < 0) {
		buf_free(&res);
		return -1;
	}
	buf_free(&t->val);
	t->val = res;
	if (*t->p == '|') {
		t->p++;
		t->piped = 1;
		return 0;
	}
	return 1;
}

/* An action, just past "{{" and its left trim marker. *rtrim: it ended
 * with " -}}". Its value is appended to the output. */
static int action(struct tpl *t, int *rtrim)
{
	int stage = 1, rc;
	*rtrim = 0;
	if (t->end - t->p >= 2 && memcmp(t->p, "/*", 2) == 0) {
		const char *e = memmem(t->p + 2, (size_t)(t->end - t->p - 2), "*/", 2);
		if (!e)
			return fail(t, "unclosed comment");
		t->p = e + 2;
		if (t->end - t->p >= 4 && is_space(t->p[0]) && memcmp(t->p + 1, "-}}", 3) == 0) {
			*rtrim = 1;
			t->p += 4;
			return 0;
		}
		if (t->end - t->p >= 2 && memcmp(t->p, "}}", 2) == 0) {
			t->p += 2;
			return 0;
		}
		return fail(t, "comment ends before closing delimiter");
	}
	t->piped = 0;
	while ((rc = command(t, stage++)) == 0)
		;
	if (rc < 0)
		return -1;
	*rtrim = *t->p == '-';
	t->p += *rtrim ? 3 : 2;
	if (buf_append(t->out, t->val.data, t->val.len) < 0)
		return fail(t, "the expanded file is too large");
	return 0;
}

int hooks_template_expand(const char *file, const char *text, size_t len, struct buf *out, struct buf *errors)
{
	struct tpl t;
	size_t i;
	int rtrim = 0, rc = 0;
	memset(&t, 0, sizeof(t));
	t.file = file;
	t.start = t.p = text;
	t.end = text + len;
	t.out = out;
	t.errors = errors;
	for (i = 0; i < TPL_MAX_ARGS + 1; i++)
		buf_init(&t.args[i], TPL_MAX_VALUE);
	buf_init(&t.val, TPL_MAX_VALUE);
	while (rc == 0) {
		const char *open = memmem(t.p, (size_t)(t.end - t.p), "{{", 2), *s = t.p;
		const char *stop = open ? open : t.end;
		int ltrim = open && t.end - open >= 4 && open[2] == '-' && is_space(open[3]);
		while (rtrim && s < stop && is_space(*s))
			s++;
		while (ltrim && stop > s && is_space(stop[-1]))
			stop--;
		t.action = open ? open : t.end;
		if (buf_append(out, s, (size_t)(stop - s)) < 0)
			rc = fail(&t, "the expanded file is too large");
		else if (!open)
			break;
		t.p = open + (ltrim ? 4 : 2);
		if (rc == 0)
			rc = action(&t, &rtrim);
	}
	for (i = 0; i < TPL_MAX_ARGS + 1; i++)
		buf_free(&t.args[i]);
	buf_free(&t.val);
	return rc;
}
