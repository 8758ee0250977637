/* proc: a child driven from the loop (issue 13 #2: the runner keeps its
 * slots and queue, proc.c owns spawn, pipes and kills). */
#include "unit.h"

#include "edgehook/proc.h"
#include "edgehook/reactor.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

static struct reactor *R;
static int input_done;

static void on_input_done(void *arg)
{
	(void)arg;
	input_done++;
}

/* Polls until the child has exited and its pipes are read. */
static int wait_exit(struct proc *p)
{
	int status = 0, i;
	for (i = 0; i < 500 && waitpid(p->pid, &status, WNOHANG) == 0; i++)
		reactor_poll(R, 10);
	proc_drain(p);
	return status;
}

TEST(proc_writes_input_and_keeps_output)
{
	static struct proc p;
	char *argv[] = {"cat", NULL}, *envp[] = {NULL};
	static const char input[] = "hello through the pipes\n";
	const char *text;
	size_t n;
	int status;
	input_done = 0;
	proc_init(&p, R);
	CHECK_EQ_INT(proc_start(&p, "/bin/cat", argv, envp, input, sizeof(input) - 1, on_input_done, NULL), 0);
	status = wait_exit(&p);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(input_done, 1);
	text = proc_tail_text(&p.tail, &n);
	CHECK_EQ_INT(n, sizeof(input) - 1);
	CHECK(memcmp(text, input, n) == 0);
	proc_close(&p);
	CHECK_EQ_INT(p.out_fd, -1);
}

TEST(proc_failed_spawn_leaves_input_to_the_caller)
{
	static struct proc p;
	char *argv[] = {"x", NULL}, *envp[] = {NULL};
	input_done = 0;
	proc_init(&p, R);
	CHECK(proc_start(&p, "/nonexistent/edgehook-unit", argv, envp, "x", 1, on_input_done, NULL) != 0);
	CHECK_EQ_INT(input_done, 0);
	CHECK_EQ_INT(p.in_fd, -1);
	proc_close(&p);
}

TEST(proc_terminate_signals_the_group)
{
	static struct proc p;
	char *argv[] = {"sleep", "30", NULL}, *envp[] = {NULL};
	int status;
	proc_init(&p, R);
	CHECK_EQ_INT(proc_start(&p, "/bin/sleep", argv, envp, NULL, 0, on_input_done, NULL), 0);
	proc_terminate(&p, 5000);
	CHECK_EQ_INT(p.kill_stage, 1);
	CHECK(p.kill_at_ms > 0);
	status = wait_exit(&p);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	proc_kill(&p); /* the group is gone: harmless */
	CHECK_EQ_INT(p.kill_stage, 2);
	proc_close(&p);
}

int main(void)
{
	R = reactor_new();
	signal(SIGPIPE, SIG_IGN);
	RUN(proc_writes_input_and_keeps_output);
	RUN(proc_failed_spawn_leaves_input_to_the_caller);
	RUN(proc_terminate_signals_the_group);
	reactor_free(R);
	return unit_done();
}
