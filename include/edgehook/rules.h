/* rules: adnanh/webhook trigger rules (and/or/not/match), compiled once
 * from the hooks file into a tree and evaluated per request without
 * allocating.
 *
 * Evaluation follows webhook 2.8's error model exactly (see
 * ../shared/COMPAT-WEBHOOK.md § Rules): a missing parameter is a
 * "parameter" error, which and/not pass up, or skips, and the top level
 * treats as false-with-a-log-line (so `not` of a missing parameter is
 * true there, as in webhook); signature mismatches are "signature"
 * errors, which `or` skips when trigger-signature-soft-failures is set;
 * every other error answers 500. Regexes and HMAC keys are prepared at
 * load time; a regex outside the supported syntax refuses the file. */
#ifndef EDGEHOOK_RULES_H
#define EDGEHOOK_RULES_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

enum hook_source {
	SRC_UNKNOWN, SRC_HEADER, SRC_QUERY, SRC_PAYLOAD, SRC_REQUEST, SRC_RAW_BODY,
	SRC_ENTIRE_PAYLOAD, SRC_ENTIRE_HEADERS, SRC_ENTIRE_QUERY, SRC_STRING,
};

/* A parameter as the hooks file names it: {source, name, envname,
 * base64decode}. Header names are stored canonical (X-Hub-Signature). */
struct hook_arg {
	enum hook_source source;
	char *name;
	char *envname;
	int base64decode;
};

struct node;

struct buf;

/* Fills arg from a {source, name, ...} map. 0, or -1 with *why set. */
int hook_arg_load(struct hook_arg *arg, const struct node *n, const char **why);
void hook_arg_free(struct hook_arg *arg);
enum hook_source hook_source_parse(const char *s);
/* Go's textproto.CanonicalMIMEHeaderKey, in place. */
void hook_canonical_header(char *s);

/* What a parameter lookup answered. */
enum { RULE_PARAM_FOUND = 0, RULE_PARAM_MISSING = -1, RULE_PARAM_ERROR = -2 };

struct rule_req {
	const char *body;
	size_t body_len;
	/* the client: the socket peer, or the X-Forwarded-For hop when the
	 * peer is in trusted_proxies; NULL or AF_UNIX when there is none */
	const struct sockaddr *client;
	time_t now;
	int soft_signature_failures;
	/* Looks a parameter up: RULE_PARAM_FOUND with val and len set (valid until
	 * the next call), RULE_PARAM_MISSING, or RULE_PARAM_ERROR with a
	 * message in why. */
	int (*param)(void *ctx, const struct hook_arg *arg, const char **val, size_t *len, char *why, size_t whycap);
	void *ctx;
	/* after evaluation: what to log (the parameter error, or the error
	 * that made it 500), empty when nothing */
	char why[192];
	/* nothing logs why: the rules' own messages are not formatted (a
	 * parameter lookup may still write one) */
	int quiet;
};

struct rules;

/* Bit 1 << source for each source a parameter of the rule reads (0 for
 * NULL): what a request must prepare before evaluation. */
unsigned rules_sources(const struct rules *r);

enum { RULES_MAX_DEPTH = 32, RULES_MAX_NODES = 1024 };

/* Compiles a trigger-rule map. hook names the hook in messages.
 * 0 and *out (NULL for an absent rule: every request passes), or -1
 * with "hook ID: line N: message" (no newline) appended to errors. */
int rules_compile(struct rules **out, const struct node *rule, const char *hook, struct buf *errors);
/* 1 rules true, 0 false, -1 an evaluation error (answer 500). */
int rules_eval(const struct rules *r, struct rule_req *q);
void rules_free(struct rules *r);

#endif
