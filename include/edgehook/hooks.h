/* hooks: adnanh/webhook hooks files (../shared/COMPAT-WEBHOOK.md § Hooks
 * file) loaded into a hook set.
 *
 * A file is a list of hooks, JSON or the YAML our reader supports. Every
 * key webhook knows is read; unknown keys are ignored as webhook does.
 * Trigger rules are compiled here (rules.h), so a bad regex refuses the
 * file with the hook and the pattern named. An id that an earlier file
 * already defined refuses the set (webhook refuses to start); within one
 * file the first hook with an id wins, as webhook's lookup does, unless
 * unique_in_file is set (webhook's reload refuses such a file).
 * Errors read "FILE:LINE: message". */
#ifndef EDGEHOOK_HOOKS_H
#define EDGEHOOK_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/arena.h"
#include "edgehook/rules.h"

struct hook_header {
	const char *name, *value;
};

struct hook_args {
	struct hook_arg *v;
	size_t n;
};

struct hook {
	const char *id;
	const char *file;
	const char *command;  /* execute-command */
	const char *workdir;  /* command-working-directory */
	const char *response; /* response-message */
	struct hook_header *headers; /* response-headers */
	size_t nheaders;
	int success_code;  /* 0: 200 */
	int mismatch_code; /* 0: 200 */
	int sync;          /* include-command-output-in-response */
	int output_on_error;
	int soft_failures; /* trigger-signature-soft-failures */
	struct hook_args args, env, files, json_params;
	struct rules *rule; /* NULL: every request passes */
	/* bit 1 << source for each source the rule and the lists read: a
	 * request prepares only these (the payload is parsed when it is read) */
	unsigned sources;
	const char *content_type; /* incoming-payload-content-type */
	const char **methods;     /* http-methods; NULL: any (or -http-methods) */
	size_t nmethods;
	/* our extensions, off unless set */
	uint64_t timeout_ms;
	int max_concurrency;
	int body_to_stdin;
};

struct hook_set {
	struct hook *hooks;
	size_t n, cap;
	int unique_in_file;
	int as_template; /* -template: files are expanded first (hooks_template.h) */
	struct arena arena; /* the files' trees: the hooks' strings point there */
};

/* HOOKS_ERRORS_MAX bounds a load's message (which may quote a regex
 * pattern and a hook id); a longer one is cut. */
enum { HOOKS_MAX = 4096, HOOKS_MAX_FILE_BYTES = 4 << 20, HOOKS_ERRORS_MAX = 64 << 10 };

void hooks_init(struct hook_set *s);
/* Adds the hooks of one file's text; 0, or -1 with one "FILE:LINE: ..."
 * message (no newline) appended to errors and the set as it was before. */
int hooks_add_text(struct hook_set *s, const char *file, const char *text, size_t len, struct buf *errors);
/* Reads and adds each file in turn, stopping at the first failure. */
int hooks_load(struct hook_set *s, const char *const *files, size_t nfiles, struct buf *errors);
const struct hook *hooks_find(const struct hook_set *s, const char *id, size_t len);
void hooks_free(struct hook_set *s);

#endif
