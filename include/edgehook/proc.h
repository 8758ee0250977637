/* proc: a command as a child process (spawn, pipes, environment, kills)
 * and the tail of what it prints. The runner decides what runs and when;
 * this module drives one child from the loop.
 *
 * proc_spawn starts `command` with posix_spawn, never through a shell,
 * with an empty signal mask, default signal dispositions and its own
 * process group (pgid = pid, so kill(-pid) reaches its descendants). The
 * caller gets the parent's ends of the stdin, stdout and stderr pipes,
 * non-blocking and close-on-exec. */
#ifndef EDGEHOOK_PROC_H
#define EDGEHOOK_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "edgehook/reactor.h"

/* 0, or an errno value with *in, *out, *err at -1. */
int proc_spawn(const char *command, char *const argv[], char *const envp[], pid_t *pid, int *in, int *out,
	       int *err);

/* The same, run in cwd (when not NULL); with combined, stderr shares
 * stdout's pipe (*err is -1), so the output keeps its interleaving. */
int proc_spawn_at(const char *command, char *const argv[], char *const envp[], const char *cwd, int combined,
		  pid_t *pid, int *in, int *out, int *err);

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

/* A started child as the loop drives it: stdin written from `input`
 * without blocking, stdout and stderr read into one tail, and the kill
 * ladder (SIGTERM to the group, SIGKILL once the grace is over). Reaping
 * is the caller's (waitpid on SIGCHLD). */
struct proc {
	struct reactor *r;
	pid_t pid;
	int in_fd, out_fd, err_fd;
	const char *input; /* the caller's, until input_done */
	size_t input_len, input_off;
	void (*input_done)(void *arg);
	void *arg;
	struct proc_tail tail;
	int kill_stage;      /* 0, 1: SIGTERM sent, 2: SIGKILL sent */
	uint64_t kill_at_ms; /* the SIGKILL's deadline after a SIGTERM (monotonic) */
};

void proc_init(struct proc *p, struct reactor *r);
/* Spawns the command and starts feeding it input (len 0: stdin closed at
 * once). input_done(arg) is called, maybe before this returns, once
 * stdin is written or abandoned (the input may then be freed); never
 * when the spawn fails. 0, or the spawn's errno value. */
int proc_start(struct proc *p, const char *command, char *const argv[], char *const envp[], const char *input,
	       size_t len, void (*input_done)(void *arg), void *arg);
/* Reads what the pipes hold now: the command has exited, and a
 * descendant holding them open must not keep it alive. */
void proc_drain(struct proc *p);
/* Stops watching and closes the pipes; the input is no longer read. */
void proc_close(struct proc *p);
/* SIGTERM to the group; the SIGKILL is due grace_ms later. */
void proc_terminate(struct proc *p, uint64_t grace_ms);
/* SIGKILL to the group now. */
void proc_kill(struct proc *p);

/* Process groups still owed their SIGKILL after their leader was reaped
 * (children that ignore SIGTERM): it goes out at the grace deadline. The
 * group id cannot be reused while any member is alive. */
struct proc_group_kill;
struct proc_kills {
	struct reactor *r;
	struct proc_group_kill *head;
};
/* Owes p's group its SIGKILL when p was sent a SIGTERM only (kill_stage
 * 1); without memory the SIGKILL goes out at once. */
void proc_owe_kill(struct proc_kills *k, const struct proc *p);
/* Sends every owed SIGKILL now. */
void proc_kills_now(struct proc_kills *k);

#endif
