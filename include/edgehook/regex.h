/* regex: a linear-time matcher for the RE2 syntax hooks files use.
 *
 * A pattern compiles once (at load time) to a Thompson NFA program that
 * runs as a set simulation: every input rune is looked at once per live
 * program state, so no pattern and no input can make a search worse than
 * O(len(input) * len(program)). There is no backtracking and therefore
 * no backreferences or lookaround; they, and every other syntax outside
 * the subset below, are compile errors with a message.
 *
 * Supported (Go regexp/syntax meanings): literals and escapes (\t \n \r
 * \f \v \a, \xHH, \x{H..}, octal \0NN, escaped punctuation), `.`,
 * classes [..] [^..] with ranges, \d \w \s \D \W \S and [:name:] inside
 * and outside classes, anchors ^ $ \A \z \b \B, groups ( ) (?: )
 * (?P<n> ) (?<n> ), alternation, * + ? {n} {n,} {n,m} greedy and lazy,
 * flags (?imsU) and (?flags:re). Input and pattern are UTF-8, matched by
 * rune; invalid input bytes read as U+FFFD. Case folding under (?i) is
 * ASCII only.
 *
 * Searches are unanchored (like Go's MatchString) and only answer
 * whether the pattern matches. The thread lists live in the compiled
 * regex, so a search allocates nothing; a regex serves one search at a
 * time (the relay is single-threaded). */
#ifndef EDGEHOOK_REGEX_H
#define EDGEHOOK_REGEX_H

#include <stddef.h>

/* Bounds: longer patterns, deeper nesting, larger repeat counts or
 * programs are compile errors, so a hooks file cannot ask for unbounded
 * memory or time per input byte. */
#define REGEX_MAX_PATTERN 4096
#define REGEX_MAX_DEPTH 64
#define REGEX_MAX_REPEAT 1000
#define REGEX_MAX_INSTS 8192

struct regex;

struct buf;

/* 0 and *out set, or -1 with one message (no newline) appended to errors:
 * a buf, not a static why, because messages quote the offending text. */
int regex_compile(struct regex **out, const char *pattern, struct buf *errors);
/* 1 when the pattern matches somewhere in s, else 0. */
int regex_search(struct regex *re, const char *s, size_t len);
/* Work done by the last search (threads visited), for cost tests. */
unsigned long regex_last_steps(const struct regex *re);
size_t regex_program_size(const struct regex *re);
void regex_free(struct regex *re);

#endif
