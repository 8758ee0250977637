/* Runner: placeholders passed exactly or not at all, slots that live only
 * while their trigger has runs, memory released when runs end, and a
 * queue of commands that cannot start worked through without recursion. */
#include "unit.h"

#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/proc.h"
#include "edgehook/reactor.h"
#include "edgehook/runner.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static struct reactor *R;
static struct config *C;
static unsigned emitted; /* lifecycle events handed on */

static int count_event(void *arg, const char *type, const char *body, size_t len)
{
	(void)arg, (void)type, (void)body, (void)len;
	emitted++;
	return 0;
}

static const char config_text[] = "triggers:\n"
				  "  - id: t\n"
				  "    run: {command: /bin/true, args: [\"{json.a}\"], queue: 100000, allow_root: true}\n"
				  "  - id: slow\n"
				  "    run:\n"
				  "      command: /bin/sleep\n"
				  "      args: [\"30\"]\n"
				  "      timeout: 1s\n"
				  "      concurrency: 1\n"
				  "      queue: 2\n"
				  "      allow_root: true\n";

/* The request as trigger.c hands it over: the data parsed once, into doc. */
static struct run_request request(const char *json, struct json_doc *doc)
{
	struct run_request rq = {"push", "dlv_1", "127.0.0.1", json, json ? strlen(json) : 0, NULL, NULL, 0};
	if (json && json_parse(doc, json, strlen(json), 64) == 0)
		rq.data = doc;
	return rq;
}

static int expand(const char *tmpl, const char *json, char **out, char *why, size_t cap)
{
	struct json_doc doc;
	struct run_request rq = request(json, &doc);
	struct run_template *tp = run_template_new("t", &rq);
	struct buf errors;
	int rc;
	buf_init(&errors, 1024);
	rc = run_template_expand(tp, tmpl, out, &errors);
	snprintf(why, cap, "%.*s", (int)errors.len, errors.data ? errors.data : "");
	buf_free(&errors);
	run_template_free(tp);
	if (rq.data)
		json_doc_free(&doc);
	return rc;
}

TEST(template_passes_values_exactly)
{
	char *out, why[160];
	CHECK_EQ_INT(expand("/srv/{json.site}/{event}:{trigger}{nope}", "{\"site\":\"a b\"}", &out, why, sizeof(why)), 0);
	CHECK_STR(out, "/srv/a b/push:t{nope}");
	free(out);
	CHECK_EQ_INT(expand("{json.n}", "{\"n\":[1, 2]}", &out, why, sizeof(why)), 0);
	CHECK_STR(out, "[1, 2]");
	free(out);
	/* keys compare by their full unescaped length */
	CHECK_EQ_INT(expand("{json.ref}", "{\"ref\\u0000x\":\"evil\",\"ref\":\"main\"}", &out, why, sizeof(why)), 0);
	CHECK_STR(out, "main");
	free(out);
}

TEST(template_refuses_what_it_cannot_pass)
{
	static const struct {
		const char *tmpl, *json, *why;
	} cases[] = {
		{"{json.site}", "{\"site\":\"ok\\u0000evil\"}", "{json.site}: value contains NUL"},
		{"{json.site}", "{\"other\":1}", "{json.site}: missing"},
		{"{json.site}", NULL, "{json.site}: missing"},
		{"{json.ref}", "{\"ref\\u0000x\":\"evil\"}", "{json.ref}: missing"},
	};
	size_t i;
	char *out, why[160], *big = malloc(RUN_MAX_ARG_BYTES + 32);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_INT(expand(cases[i].tmpl, cases[i].json, &out, why, sizeof(why)), -2);
		CHECK(out == NULL);
		CHECK_STR(why, cases[i].why);
	}
	/* the bound counts the whole argument, exactly */
	memcpy(big, "{\"v\":\"", 6);
	memset(big + 6, 'x', RUN_MAX_ARG_BYTES - 1);
	strcpy(big + 6 + RUN_MAX_ARG_BYTES - 1, "\"}");
	CHECK_EQ_INT(expand("/{json.v}", big, &out, why, sizeof(why)), 0);
	CHECK(out && strlen(out) == RUN_MAX_ARG_BYTES);
	free(out);
	CHECK_EQ_INT(expand("//{json.v}", big, &out, why, sizeof(why)), -2);
	CHECK_STR(why, "{json.v}: argument longer than " RUN_MAX_ARG_TEXT " bytes");
	free(big);
}

TEST(output_tail_cut_at_character_boundary)
{
	static struct proc_tail t;
	char chunk[PROC_TAIL];
	const char *text;
	size_t n, i;
	/* a continuation byte first, but nothing was cut: kept as it is */
	proc_tail_keep(&t, "\xa9x", 2);
	text = proc_tail_text(&t, &n);
	CHECK_EQ_INT(n, 2);
	/* "a" then 2-byte characters: the cut lands inside one */
	chunk[0] = 'a';
	for (i = 1; i + 1 < sizeof(chunk); i += 2)
		memcpy(chunk + i, "\xc3\xa9", 2);
	chunk[sizeof(chunk) - 1] = '\n';
	proc_tail_keep(&t, chunk, sizeof(chunk));
	proc_tail_keep(&t, "\xc3\xa9", 2);
	text = proc_tail_text(&t, &n);
	CHECK_EQ_INT(n, PROC_TAIL - 1);
	CHECK(memcmp(text, "\xc3\xa9", 2) == 0);
	CHECK(memcmp(text + n - 3, "\n\xc3\xa9", 3) == 0);
}

/* Runs the loop until no run is active. */
static void drain(struct runner *rn)
{
	while (runner_active(rn) > 0) {
		reactor_poll(R, 20);
		runner_reap(rn);
	}
}

TEST(slot_and_input_released_when_runs_end)
{
	struct runner *rn = runner_new(R, count_event, NULL, 8);
	struct trigger_cfg *t = &C->triggers[0];
	struct json_doc doc;
	struct run_request rq = request("{\"a\":\"0123456789\"}", &doc);
	struct runner_stats st;
	char id[32];
	unsigned before = emitted;
	struct run *run = runner_prepare(rn, t, &rq);
	CHECK(run != NULL);
	runner_commit(rn, run, id, sizeof(id));
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.slots, 1);
	drain(rn);
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.completed, 1);
	CHECK_EQ_INT(st.slots, 0);
	CHECK_EQ_INT(st.held_bytes, 0);
	CHECK_EQ_INT(emitted - before, 2); /* run.started, run.completed */
	/* a discarded run leaves nothing behind either */
	runner_discard(runner_prepare(rn, t, &rq));
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.slots + st.held_bytes, 0);
	runner_free(rn);
	json_doc_free(&doc);
}

enum { UNSTARTABLE = 10000 };

static void *unstartable_queue(void *arg)
{
	struct runner *rn = arg;
	struct trigger_cfg *t = &C->triggers[0];
	struct json_doc doc;
	struct run_request rq = request("{\"a\":\"x\"}", &doc);
	const char *command = t->run->command;
	char id[32];
	int i;
	/* the first run occupies the slot; the queue fills behind it */
	runner_commit(rn, runner_prepare(rn, t, &rq), id, sizeof(id));
	t->run->command = "/nonexistent/edgehook-unit";
	for (i = 0; i < UNSTARTABLE; i++) {
		struct run *run = runner_prepare(rn, t, &rq);
		if (!run)
			break;
		runner_commit(rn, run, id, sizeof(id));
	}
	t->run->command = command;
	drain(rn);
	json_doc_free(&doc);
	return NULL;
}

/* Each queued run that could not start used to start the next from
 * inside its own failure: 3,000 overflowed a 64 KiB stack. */
TEST(unstartable_queue_fails_without_recursion)
{
	struct runner *rn = runner_new(R, count_event, NULL, 16);
	struct runner_stats st;
	pthread_attr_t attr;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	CHECK_EQ_INT(pthread_create(&th, &attr, unstartable_queue, rn), 0);
	pthread_join(th, NULL);
	pthread_attr_destroy(&attr);
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.completed, 1);
	CHECK_EQ_INT(st.failed, UNSTARTABLE);
	CHECK_EQ_INT(st.slots + st.held_bytes, 0);
	runner_free(rn);
}

/* "queued", "running", ... as the runs API shows run id */
static const char *state_of(struct runner *rn, const char *id)
{
	static char state[16];
	struct buf b;
	const char *p;
	buf_init(&b, 1 << 16);
	state[0] = '\0';
	if (runner_run_json(rn, id, &b) == 0 && buf_append(&b, "", 1) == 0 &&
	    (p = strstr(b.data, "\"state\":\"")) != NULL)
		sscanf(p + 9, "%15[a-z_]", state);
	buf_free(&b);
	return state;
}

/* One slot, a FIFO of two behind it, the timeout on the loop's clock:
 * a fake clock moves it, the slot passes to the next queued run. */
TEST(slot_queue_and_timeout_on_the_loop_clock)
{
	struct runner *rn = runner_new(R, count_event, NULL, 16);
	struct trigger_cfg *t = &C->triggers[1];
	struct json_doc doc;
	struct run_request rq = request("{}", &doc);
	struct runner_stats st;
	struct run *extra;
	char id[3][32];
	unsigned before = emitted, spins;
	uint64_t now = clock_now_ms();
	int i;
	clock_set_now_override(now);
	for (i = 0; i < 3; i++) {
		struct run *run = runner_prepare(rn, t, &rq);
		CHECK(run != NULL);
		if (run)
			runner_commit(rn, run, id[i], sizeof(id[i]));
	}
	CHECK(!runner_has_room(rn, t));
	extra = runner_prepare(rn, t, &rq);
	CHECK(extra == NULL); /* queue full: refused */
	if (extra)
		runner_discard(extra);
	CHECK_EQ_INT(runner_active(rn), 3);
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.slots, 1);
	CHECK_STR(state_of(rn, id[0]), "running");
	CHECK_STR(state_of(rn, id[1]), "queued");
	CHECK_STR(state_of(rn, id[2]), "queued");
	reactor_poll(R, 0);
	CHECK_STR(state_of(rn, id[0]), "running"); /* 1s has not passed */
	clock_set_now_override(now + 1000);
	for (spins = 0; spins < 500 && strcmp(state_of(rn, id[0]), "running") == 0; spins++) {
		reactor_poll(R, 20);
		runner_reap(rn);
	}
	CHECK_STR(state_of(rn, id[0]), "failed");
	CHECK_STR(state_of(rn, id[1]), "running");
	CHECK_STR(state_of(rn, id[2]), "queued");
	CHECK(runner_has_room(rn, t));
	CHECK_EQ_INT(emitted - before, 3); /* started, failed, started */
	runner_stats(rn, &st);
	CHECK_EQ_INT(st.failed, 1);
	CHECK_EQ_INT(st.slots, 1);
	runner_free(rn);
	if (rq.data)
		json_doc_free(&doc);
	clock_set_now_override(0);
}

/* The spool's hooks: what the gate saw. */
struct gate_log {
	struct run *held;
	unsigned holds, cancels, settled;
	uint64_t last_tag;
};

static int gate_hold(void *arg, struct run *run)
{
	struct gate_log *g = arg;
	g->held = run;
	g->holds++;
	return 1;
}

static void gate_cancel(void *arg, struct run *run)
{
	struct gate_log *g = arg;
	if (run == g->held)
		g->cancels++;
}

static void gate_settled(void *arg, const struct run *run)
{
	struct gate_log *g = arg;
	g->settled++;
	g->last_tag = runner_tag(run);
}

/* A held run spawns only when the gate opens (or fails when it says
 * so), every run that ends is settled once, a held run dropped at
 * shutdown is cancelled, not settled, and a lost run is reported. */
TEST(gate_holds_spawn_and_settles_every_run)
{
	struct runner *rn = runner_new(R, count_event, NULL, 16);
	struct gate_log g = {NULL, 0, 0, 0, 0};
	const struct runner_gate gate = {gate_hold, gate_cancel, gate_settled, &g};
	struct trigger_cfg *t = &C->triggers[0], *slow = &C->triggers[1];
	struct json_doc doc;
	struct run_request rq = request("{\"a\":\"x\"}", &doc);
	const struct runner_lost lost = {"run_lost", "t", "push", "dlv_9", "interrupted", 1, 2, 7};
	struct run *run;
	char id[32];
	unsigned before = emitted;
	int i;
	runner_set_gate(rn, &gate);
	run = runner_prepare(rn, t, &rq);
	CHECK(run != NULL);
	runner_set_tag(run, 5);
	runner_commit(rn, run, id, sizeof(id));
	CHECK_EQ_INT(g.holds, 1);
	CHECK_STR(state_of(rn, id), "running");
	CHECK_EQ_INT(emitted - before, 0); /* no run.started before the spawn */
	runner_gate_open(rn, g.held, 1, NULL);
	drain(rn);
	CHECK_STR(state_of(rn, id), "completed");
	CHECK_EQ_INT(emitted - before, 2);
	CHECK_EQ_INT(g.settled, 1);
	CHECK_EQ_INT(g.last_tag, 5);
	/* the gate says the start could not be recorded: failed, settled */
	runner_commit(rn, runner_prepare(rn, t, &rq), id, sizeof(id));
	runner_gate_open(rn, g.held, 0, "spool: no");
	drain(rn);
	CHECK_STR(state_of(rn, id), "failed");
	CHECK_EQ_INT(g.settled, 2);
	/* reported lost: failed with its error, settled with its tag */
	runner_report_lost(rn, &lost);
	CHECK_STR(state_of(rn, "run_lost"), "failed");
	CHECK_EQ_INT(g.settled, 3);
	CHECK_EQ_INT(g.last_tag, 7);
	/* recovered runs keep their id and pass a full queue */
	rq.run_id = "run_recovered";
	rq.recovered = 1;
	for (i = 0; i < 4; i++) {
		run = runner_prepare(rn, slow, &rq);
		CHECK(run != NULL);
		if (run)
			runner_commit(rn, run, id, sizeof(id));
	}
	CHECK_STR(id, "run_recovered");
	CHECK_EQ_INT(runner_active(rn), 4);
	/* shutdown: the held one is cancelled, the queued ones dropped */
	runner_free(rn);
	CHECK_EQ_INT(g.cancels, 1);
	CHECK_EQ_INT(g.settled, 3);
	json_doc_free(&doc);
}

int main(void)
{
	struct buf errs;
	buf_init(&errs, 4096);
	R = reactor_new();
	if (config_load_text("t.yaml", config_text, strlen(config_text), &C, &errs) < 0) {
		fprintf(stderr, "setup: %.*s\n", (int)errs.len, errs.data ? errs.data : "");
		return 1;
	}
	buf_free(&errs);
	signal(SIGPIPE, SIG_IGN); /* as the daemon: a command may not read its input */
	log_set_level(LOG_ERROR);
	RUN(template_passes_values_exactly);
	RUN(template_refuses_what_it_cannot_pass);
	RUN(output_tail_cut_at_character_boundary);
	RUN(slot_and_input_released_when_runs_end);
	RUN(unstartable_queue_fails_without_recursion);
	RUN(slot_queue_and_timeout_on_the_loop_clock);
	RUN(gate_holds_spawn_and_settles_every_run);
	config_free(C);
	reactor_free(R);
	return unit_done();
}
