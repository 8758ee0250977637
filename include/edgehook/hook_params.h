/* hook_params: webhook's parameter sources over one request, rendered
 * the way webhook (Go) prints them (../shared/COMPAT-WEBHOOK.md
 * § Parameters).
 *
 * Scalars print as %v does: strings unescaped, numbers as their source
 * text, true/false, JSON null as "<nil>". Objects and arrays print as Go's
 * json.Marshal: compact, keys sorted by bytes, <, >, & as \u003c \u003e
 * \u0026, U+2028/9 escaped, control bytes as \u00XX except \n \r \t
 * (Go 1.19, Debian bookworm's webhook). A payload whose top level is an
 * array reads as {"root": [...]}. Payload paths are dotted with array
 * indices as numbers; a literal key containing dots wins over the path. */
#ifndef EDGEHOOK_HOOK_PARAMS_H
#define EDGEHOOK_HOOK_PARAMS_H

#include <stddef.h>

#include "edgehook/buf.h"
#include "edgehook/json.h"
#include "edgehook/rules.h"

struct http_header;

struct hook_request {
	const struct http_header *headers;
	size_t nheaders;
	const char *query; /* raw query string, without '?' */
	size_t query_len;
	const char *method;
	const char *remote_addr; /* "IP:port", "[v6]:port" */
	const char *body;
	size_t body_len;
	const struct json_doc *payload; /* NULL: no payload */
	/* set by hook_params_json_maps: header, url and entire-* read these */
	const struct json_doc *headers_doc, *query_doc;
	struct buf *out;                /* renders land here (cleared per lookup) */
};

/* rule_req.param's contract (RULE_PARAM_FOUND / _MISSING / _ERROR);
 * ctx is a struct hook_request. */
int hook_param_get(void *ctx, const struct hook_arg *arg, const char **val, size_t *len, char *why, size_t whycap);
/* Appends token i of doc as Go's json.Marshal would write it. */
int hook_json_marshal(struct buf *b, const struct json_doc *doc, int i);
/* parse-parameters-as-json for payload parameters: each named string that
 * holds a JSON object becomes that object (doc is re-read from a new text
 * kept in *text, which the caller frees after doc). 0; -1 when one could
 * not be read (why says which; the others still apply); -2 when doc could
 * not be re-read (it is then empty and must not be used). */
struct hook_args;
int hook_params_parse_json(struct json_doc *doc, struct buf *text, const struct hook_args *list, char *why,
			   size_t whycap);
/* url.ParseQuery's map as json.Marshal writes it (sorted keys, each
 * key's first value): '&'-separated pairs, '+' a space; a pair with ';'
 * or a bad escape is left out and counted in *dropped (a form body with
 * one is webhook's parse error). 0, or -1 when b is full. */
int hook_query_map(struct buf *b, const char *q, size_t qlen, int *dropped);
/* parse-parameters-as-json for header and url parameters (webhook
 * replaces them in its header and query maps): when list names such a
 * source, the request's headers (canonical names, first values) or query
 * (first values) become a JSON map in m, each named string that holds a
 * JSON object becomes that object, and rq's header, url, entire-headers
 * and entire-query parameters are read from the map. 0; -1 when one
 * could not be read (why says which; the others still apply); -2 when a
 * map could not be built (rq then reads the raw request where it can).
 * hook_json_maps_free releases m and unhooks rq, whatever was returned. */
struct hook_json_maps {
	struct json_doc headers, query;
	struct buf htext, qtext;
};
int hook_params_json_maps(struct hook_request *rq, struct hook_json_maps *m, const struct hook_args *list, char *why,
			  size_t whycap);
void hook_json_maps_free(struct hook_request *rq, struct hook_json_maps *m);

#endif
