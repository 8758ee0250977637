/* hooks_template: webhook's -template (../shared/COMPAT-WEBHOOK.md
 * § Hooks file): a hooks file expanded as a Go text/template before it
 * is parsed.
 *
 * Supported: literal text; actions {{ PIPELINE }} with Go's trim markers
 * ({{- and -}}) and comments (a C-style comment alone in an action); a pipeline is commands
 * joined by '|', each a string literal ("..." with Go's escapes, or
 * `raw`) or a function with string-literal arguments, the previous
 * command's value passed as its last argument. Functions: getenv NAME,
 * cat FILE (contents, one trailing newline trimmed, "" when unreadable),
 * credential NAME ($CREDENTIALS_DIRECTORY/NAME, else the environment),
 * js and html (Go's escapers). Anything else (data, variables, if/range,
 * other functions) is a load error "FILE:LINE: -template: ...", so a
 * file is never half expanded. */
#ifndef EDGEHOOK_HOOKS_TEMPLATE_H
#define EDGEHOOK_HOOKS_TEMPLATE_H

#include <stddef.h>

#include "edgehook/buf.h"

/* Appends the expansion to out (whose cap bounds it); 0, or -1 with one
 * message appended to errors. */
int hooks_template_expand(const char *file, const char *text, size_t len, struct buf *out, struct buf *errors);

#endif
