#include "edgehook/proc.h"
#include "edgehook/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int spawn_with(const char *command, char *const argv[], char *const envp[], const char *cwd, pid_t *pid,
		      int in[2], int out[2], int err[2])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawnattr_init(&attr);
	/* the loop blocks signals for signalfd and ignores SIGPIPE: give the
	 * child a normal signal state, and its own group for clean kills */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(pid, command, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int proc_spawn(const char *command, char *const argv[], char *const envp[], pid_t *pid, int *in, int *out, int *err)
{
	return proc_spawn_at(command, argv, envp, NULL, 0, pid, in, out, err);
}

int proc_spawn_at(const char *command, char *const argv[], char *const envp[], const char *cwd, int combined,
		  pid_t *pid, int *in, int *out, int *err)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, rc;
	if (pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 && (combined || pipe2(perr, O_CLOEXEC) == 0))
		rc = spawn_with(command, argv, envp, cwd, pid, pin, pout, combined ? pout : perr);
	else
		rc = errno;
	/* the child's ends */
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	if (rc != 0) {
		close_fd(&pin[1]);
		close_fd(&pout[0]);
		close_fd(&perr[0]);
	} else {
		set_nonblock(pin[1]);
		set_nonblock(pout[0]);
		if (perr[0] >= 0)
			set_nonblock(perr[0]);
	}
	*in = pin[1];
	*out = pout[0];
	*err = perr[0];
	return rc;
}

void proc_strv_free(char **v)
{
	size_t i;
	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char *env_line(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

char **proc_env(const char *const pairs[][2], size_t n)
{
	static const char *const keep[] = {"PATH", "HOME", "LANG", "TZ"};
	size_t nkeep = sizeof(keep) / sizeof(keep[0]), k = 0, i;
	char **env = calloc(nkeep + n + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (i = 0; i < nkeep; i++) {
		const char *v = getenv(keep[i]);
		if (!v && strcmp(keep[i], "PATH") == 0)
			v = "/usr/local/bin:/usr/bin:/bin";
		if (v && !(env[k++] = env_line(keep[i], v)))
			goto fail;
	}
	for (i = 0; i < n; i++)
		if (!(env[k++] = env_line(pairs[i][0], pairs[i][1])))
			goto fail;
	return env;
fail:
	proc_strv_free(env);
	return NULL;
}

void proc_tail_keep(struct proc_tail *t, const char *data, size_t n)
{
	if (n >= PROC_TAIL) {
		memcpy(t->data, data + n - PROC_TAIL, PROC_TAIL);
		t->len = PROC_TAIL;
		t->cut = 1;
		return;
	}
	if (t->len + n > PROC_TAIL) {
		size_t drop = t->len + n - PROC_TAIL;
		memmove(t->data, t->data + drop, t->len - drop);
		t->len -= drop;
		t->cut = 1;
	}
	memcpy(t->data + t->len, data, n);
	t->len += n;
}

const char *proc_tail_text(const struct proc_tail *t, size_t *len)
{
	size_t i = 0;
	/* continuation bytes (10xxxxxx) of a character whose start was cut */
	while (t->cut && i < 3 && i < t->len && ((unsigned char)t->data[i] & 0xc0) == 0x80)
		i++;
	*len = t->len - i;
	return t->data + i;
}

/* ---- a child driven from the loop ---- */

void proc_init(struct proc *p, struct reactor *r)
{
	memset(p, 0, sizeof(*p));
	p->r = r;
	p->in_fd = p->out_fd = p->err_fd = -1;
}

static void input_finished(struct proc *p)
{
	void (*done)(void *) = p->input_done;
	reactor_close(p->r, &p->in_fd);
	p->input = NULL;
	p->input_done = NULL;
	if (done)
		done(p->arg);
}

static void on_input(void *arg, int fd, uint32_t events)
{
	struct proc *p = arg;
	(void)events;
	(void)fd;
	while (p->input_off < p->input_len) {
		ssize_t n = write(p->in_fd, p->input + p->input_off, p->input_len - p->input_off);
		if (n > 0) {
			p->input_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break; /* EPIPE: the command does not read its input */
	}
	input_finished(p);
}

/* Reads what is there; closes the pipe at EOF. */
static void drain_output(struct proc *p, int *fd)
{
	char tmp[16384];
	for (;;) {
		ssize_t n = read(*fd, tmp, sizeof(tmp));
		if (n > 0) {
			proc_tail_keep(&p->tail, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			reactor_close(p->r, fd);
		return;
	}
}

static void on_output(void *arg, int fd, uint32_t events)
{
	struct proc *p = arg;
	(void)events;
	drain_output(p, fd == p->out_fd ? &p->out_fd : &p->err_fd);
}

int proc_start(struct proc *p, const char *command, char *const argv[], char *const envp[], const char *input,
	       size_t len, void (*input_done)(void *arg), void *arg)
{
	int rc = proc_spawn(command, argv, envp, &p->pid, &p->in_fd, &p->out_fd, &p->err_fd);
	if (rc != 0)
		return rc;
	p->input = input;
	p->input_len = len;
	p->input_off = 0;
	p->input_done = input_done;
	p->arg = arg;
	reactor_add(p->r, p->out_fd, EPOLLIN, on_output, p);
	reactor_add(p->r, p->err_fd, EPOLLIN, on_output, p);
	if (len && reactor_add(p->r, p->in_fd, EPOLLOUT, on_input, p) == 0)
		on_input(p, p->in_fd, EPOLLOUT);
	else
		input_finished(p);
	return 0;
}

void proc_drain(struct proc *p)
{
	if (p->out_fd >= 0)
		drain_output(p, &p->out_fd);
	if (p->err_fd >= 0)
		drain_output(p, &p->err_fd);
}

void proc_close(struct proc *p)
{
	reactor_close(p->r, &p->in_fd);
	reactor_close(p->r, &p->out_fd);
	reactor_close(p->r, &p->err_fd);
	p->input = NULL;
	p->input_done = NULL;
}

void proc_terminate(struct proc *p, uint64_t grace_ms)
{
	kill(-p->pid, SIGTERM);
	p->kill_stage = 1;
	p->kill_at_ms = clock_now_ms() + grace_ms;
}

void proc_kill(struct proc *p)
{
	kill(-p->pid, SIGKILL);
	p->kill_stage = 2;
}

/* ---- process groups owed a SIGKILL ---- */

struct proc_group_kill {
	struct proc_kills *k;
	pid_t pgid;
	struct timer timer;
	struct proc_group_kill *next;
};

static void on_group_kill(void *arg)
{
	struct proc_group_kill *g = arg, **pp;
	kill(-g->pgid, SIGKILL);
	for (pp = &g->k->head; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	free(g);
}

void proc_owe_kill(struct proc_kills *k, const struct proc *p)
{
	uint64_t now = clock_now_ms();
	struct proc_group_kill *g;
	if (p->kill_stage != 1)
		return;
	if (!(g = calloc(1, sizeof(*g)))) {
		kill(-p->pid, SIGKILL);
		return;
	}
	g->k = k;
	g->pgid = p->pid;
	timer_init(&g->timer, on_group_kill, g);
	timer_start(k->r, &g->timer, p->kill_at_ms > now ? p->kill_at_ms - now : 0);
	g->next = k->head;
	k->head = g;
}

void proc_kills_now(struct proc_kills *k)
{
	while (k->head) {
		timer_stop(k->r, &k->head->timer);
		on_group_kill(k->head);
	}
}
