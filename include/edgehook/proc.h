/* proc: a command as a child process (spawn, pipes, environment) and the
 * tail of what it prints.
 *
 * proc_spawn starts `command` with posix_spawn, never through a shell,
 * with an empty signal mask, default signal dispositions and its own
 * process group (pgid = pid, so kill(-pid) reaches its descendants). The
 * caller gets the parent's ends of the stdin, stdout and stderr pipes,
 * non-blocking and close-on-exec. */
#ifndef EDGEHOOK_PROC_H
#define EDGEHOOK_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* 0, or an errno value with *in, *out, *err at -1. */
int proc_spawn(const char *command, char *const argv[], char *const envp[], pid_t *pid, int *in, int *out,
	       int *err);

/* A clean environment: PATH (a default when unset), HOME, LANG and TZ
 * from ours, then the NAME=value pairs given. NULL when memory is short. */
char **proc_env(const char *const pairs[][2], size_t n);
void proc_strv_free(char **v);

enum { PROC_TAIL = 4096 };

/* The last PROC_TAIL bytes of a command's output. */
struct proc_tail {
	char data[PROC_TAIL];
	size_t len;
	int cut; /* older bytes were dropped */
};
void proc_tail_keep(struct proc_tail *t, const char *data, size_t n);
/* The kept bytes from the first character boundary (a cut may land
 * inside a UTF-8 sequence). */
const char *proc_tail_text(const struct proc_tail *t, size_t *len);

#endif
