/* json: strict JSON validation, token lookups (jsmn) and a writer.
 *
 * json_validate checks RFC 8259 grammar exactly (jsmn alone accepts
 * trailing commas, bad literals and raw control bytes) with a nesting cap,
 * UTF-8 in strings, and unique member names in every object: readers
 * disagree on which of two equal names wins, so a text with one is
 * refused rather than read differently from its receivers. Names are
 * equal when their unescaped bytes are (all of them, NULs included).
 * json_parse tokenizes a validated text into a caller-freed doc; tokens
 * are slices of the caller's text. Token 0 is the root value.
 *
 * Writer helpers append to a struct buf and fail with -1 when it is full;
 * they always emit valid UTF-8 JSON, whatever bytes they are given. */
#ifndef EDGEHOOK_JSON_H
#define EDGEHOOK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"

enum json_type { JSON_UNDEFINED, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE };

struct json_tok {
	enum json_type type;
	int start, end; /* byte offsets; strings exclude the quotes */
	int size;       /* children: members of an object, items of an array */
	int parent;     /* index of the enclosing token, -1 for the root */
};

enum { JSON_INLINE_TOKS = 64 };

struct json_doc {
	const char *text;
	size_t len;
	struct json_tok *toks; /* inline_toks for small documents, else heap */
	int ntoks;
	struct json_tok inline_toks[JSON_INLINE_TOKS];
};

/* 0 when text is exactly one JSON value (surrounded by whitespace);
 * -2 when an object repeats a member name (*err_off at the second one);
 * -1 otherwise (or out of memory) with *err_off at the first bad byte. */
int json_validate(const char *text, size_t len, unsigned max_depth, size_t *err_off);
/* Validates and tokenizes; -2 on a repeated name, -1 on invalid JSON or
 * out of memory. */
int json_parse(struct json_doc *doc, const char *text, size_t len, unsigned max_depth);
/* As Go's json.Decoder reads a stream (webhook's payloads): the first
 * value of text is tokenized and what follows it is not read; its grammar
 * is checked as json_validate checks it, but an object may repeat a
 * member name (lookups then find the last one, as Go's map keeps it).
 * 0, or -1 when there is no valid first value. */
int json_parse_first(struct json_doc *doc, const char *text, size_t len, unsigned max_depth);
void json_doc_free(struct json_doc *doc);

/* Index of the token after the subtree rooted at i. */
int json_skip(const struct json_doc *doc, int i);
/* Value token of member `key` in object token obj, or -1. */
int json_get(const struct json_doc *doc, int obj, const char *key);
/* Dotted path from the root ("repository.full_name", "commits.0.id"). */
int json_path(const struct json_doc *doc, const char *path);
/* 1 when token i is a string whose unescaped bytes are exactly s. */
int json_tok_eq(const struct json_doc *doc, int i, const char *s);
/* Orders two string bodies as written (escapes included) by their
 * unescaped bytes, memcmp-style; 0 only when the names are the same. */
int json_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* Unescapes string token i (or copies a primitive) into out; returns the
 * length, or -1 when it does not fit (out is NUL-terminated). */
int json_tok_copy(const struct json_doc *doc, int i, char *out, size_t cap);

/* Unescapes a JSON string body (no quotes) in place into out (which may be
 * the input); returns the length or -1 on a bad escape. */
int json_unescape(const char *in, size_t len, char *out);

/* Length of the UTF-8 sequence at s (RFC 3629: no overlong form, no
 * surrogate, at most U+10FFFF), 0 when s does not start one. */
size_t json_utf8_seq(const char *s, size_t avail);
/* Writes cp (at most U+10FFFF) as 1 to 4 UTF-8 bytes; their count. */
int json_utf8_put(char *out, uint32_t cp);
/* 1 when s[0..len) is all valid UTF-8. */
int json_utf8_valid(const char *s, size_t len);

/* Appends raw bytes as a JSON string: escapes what JSON needs and
 * replaces each byte that is not part of valid UTF-8 with U+FFFD, so any
 * input (command output, headers, form values) becomes valid JSON. */
int json_put_string(struct buf *b, const char *s, size_t len);
int json_put_cstr(struct buf *b, const char *s);
/* s as a JSON string, or null when s is NULL or empty. */
int json_put_cstr_or_null(struct buf *b, const char *s);
/* v in decimal, or null when !present. */
int json_put_int_or_null(struct buf *b, int present, long long v);
/* "key": "value", with a leading comma when `comma`. */
int json_put_kv(struct buf *b, int comma, const char *key, const char *value);

#endif
