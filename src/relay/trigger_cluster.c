/* trigger_cluster: trigger deliveries in cluster mode.
 *
 * Accepting (trigger_accept_cluster): one Redis script marks the
 * delivery id seen cluster-wide (a GitHub redelivery that lands on
 * another instance is a duplicate there too) and stores what the
 * delivery owes in the shared stream: the emitted event, and the run as
 * an entry of its own. The answer waits for Redis; duplicate or failure
 * leave no side effect, so the sender's retry is not taken for a
 * duplicate. The run id is given out here and kept by whichever instance
 * runs it.
 *
 * Running (trigger_cluster_run): the instance that reads a run entry
 * queues it in its runner; the entry is settled when the run ends
 * (cluster.c). As the run is about to spawn, the runner's gate marks it
 * started in Redis (SET NX, cluster_run_mark) and spawns only once Redis
 * confirmed the mark. An entry taken over from a dead instance, or from
 * our own pending list after a restart, goes the same way: if its mark
 * is there, the run started before (it may have done anything) and is
 * reported run.failed "interrupted", not run again; if not, it had only
 * been waiting (queued behind the trigger's concurrency) and runs now,
 * once. Redis failing to confirm the mark fails the run unstarted with
 * that reason rather than wait: a run never spawns without its mark,
 * and a held run would keep its trigger's slot for as long as Redis is
 * away; the run.failed says why, and the sender can deliver again. */
#include "edgehook/clock.h"
#include "edgehook/cluster.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/relay_routes.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trigger_ack {
	struct relay *rl;
	struct http_conn *c;
	struct cluster_put *p;
	char trigger[128];
	char delivery[256];
	size_t dlen;
	char dlv_id[EVENT_ID_LEN];
	char run_id[EVENT_ID_LEN]; /* "" without a run */
};

static void ack_abort(void *arg)
{
	struct trigger_ack *a = arg;
	cluster_put_cancel(a->p);
	free(a);
}

static void acked(void *arg, int status, const char *why)
{
	struct trigger_ack *a = arg;
	struct relay *rl = a->rl;
	struct buf reply;
	if (status != 0) {
		if (status > 0) {
			rl->tstats.duplicates++;
			http_respond(a->c, 200, "application/json", NULL, "{\"status\":\"duplicate\"}", 22);
		} else {
			rl->tstats.queue_full++;
			log_msg(LOG_WARN, "webhook refused: not stored in redis", "trigger", a->trigger, "err", why, NULL);
			api_respond_error(a->c, 503, why);
		}
		free(a);
		return;
	}
	if (a->dlen)
		dedupe_check(rl->dedupe, a->trigger, a->delivery, a->dlen);
	rl->tstats.accepted++;
	buf_init(&reply, 256);
	buf_puts(&reply, "{\"status\":\"accepted\",");
	json_put_kv(&reply, 0, "id", a->dlv_id);
	if (a->run_id[0])
		json_put_kv(&reply, 1, "run_id", a->run_id);
	buf_puts(&reply, "}");
	api_reply_rendered(a->c, 202, "application/json", &reply, "trigger answer");
	free(a);
}

static void kv(struct cluster_kv *f, const char *key, const char *val)
{
	f->key = key;
	f->klen = strlen(key);
	f->val = val;
	f->vlen = strlen(val);
}

void trigger_accept_cluster(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t,
			    const struct cluster_accept *ta)
{
	struct trigger_ack *a = calloc(1, sizeof(*a));
	uint64_t now = clock_wall_ms();
	struct cluster_item ev = {NULL, ta->type, now, NULL, 0, NULL, 0};
	struct cluster_item run = {NULL, ta->type, now, ta->body, ta->len, NULL, 0};
	struct cluster_kv extra[5];
	char evt_id[EVENT_ID_LEN];
	const char *why = NULL;
	struct buf env;
	/* validated by runner_prepare on this instance; it runs where it is read */
	runner_discard(ta->run);
	buf_init(&env, ta->env.data_len + 1024);
	if (!a || strlen(t->id) >= sizeof(a->trigger) || ta->dlen > sizeof(a->delivery) ||
	    !(a->p = cluster_put_begin(rl->cluster, acked, a)) ||
	    (t->emit && event_trigger_envelope(&env, &ta->env) < 0)) {
		if (a && a->p)
			cluster_put_cancel(a->p), cluster_put_end(a->p, &why);
		free(a);
		buf_free(&env);
		api_respond_error(c, 503, "out of memory");
		return;
	}
	a->rl = rl;
	a->c = c;
	strcpy(a->trigger, t->id);
	if (ta->dlen)
		memcpy(a->delivery, ta->delivery, ta->dlen);
	a->dlen = ta->dlen;
	strcpy(a->dlv_id, ta->dlv_id);
	if (t->emit) {
		rand_id(evt_id, sizeof(evt_id), "evt_");
		ev.id = evt_id;
		ev.body = env.data;
		ev.len = env.len;
	}
	if (ta->run) {
		rand_id(a->run_id, sizeof(a->run_id), "run_");
		run.id = a->run_id;
		kv(&extra[0], "kind", "run");
		kv(&extra[1], "trigger", t->id);
		kv(&extra[2], "delivery", ta->env.delivery_id);
		kv(&extra[3], "ip", ta->env.source_ip);
		kv(&extra[4], "dlv", ta->dlv_id);
		run.extra = extra;
		run.nextra = 5;
		if (!run.body)
			run.body = "";
	}
	/* without a delivery id there is nothing to dedupe on: our own id
	 * stands in, so the script's shape stays one. The mark goes with the
	 * first entry; a second one (emit and run) follows in the same write. */
	if (ta->dlen)
		cluster_put_once(a->p, t->id, ta->delivery, ta->dlen, t->emit || !ta->run ? &ev : &run);
	else
		cluster_put_once(a->p, t->id, ta->dlv_id, strlen(ta->dlv_id), t->emit || !ta->run ? &ev : &run);
	if (t->emit && ta->run)
		cluster_put_item(a->p, &run);
	buf_free(&env);
	http_defer(c, ack_abort, a);
	if (cluster_put_end(a->p, &why) < 0) {
		rl->tstats.queue_full++;
		api_respond_error(c, 503, why);
		free(a);
	}
}

/* run.failed for a run that will not run here, through the runner: it
 * enters the run history and its event goes out like any other. */
static void report_lost(struct relay *rl, const struct cluster_run *cr, const char *error)
{
	struct runner_lost l;
	memset(&l, 0, sizeof(l));
	l.id = cr->run_id;
	l.trigger = cr->trigger;
	l.event = cr->type;
	l.delivery = cr->delivery;
	l.error = error;
	runner_report_lost(rl->runner, &l);
}

static void marked(void *arg, void *item, int status, const char *why)
{
	struct relay *rl = arg;
	runner_gate_open(rl->runner, item, status > 0, status == 0 ? "interrupted" : why);
}

static int gate_hold(void *arg, struct run *run)
{
	struct relay *rl = arg;
	struct cluster_mark *m = cluster_run_mark(rl->cluster, runner_id(run), marked, rl, run);
	if (!m)
		return -1;
	runner_set_tag(run, (uint64_t)(uintptr_t)m);
	return 1;
}

static void gate_cancel(void *arg, struct run *run)
{
	(void)arg;
	cluster_mark_cancel((struct cluster_mark *)(uintptr_t)runner_tag(run));
}

void trigger_cluster_gate(struct relay *rl)
{
	const struct runner_gate gate = {gate_hold, gate_cancel, NULL, rl};
	runner_set_gate(rl->runner, &gate);
}

int trigger_cluster_run(void *arg, const struct cluster_run *cr)
{
	struct relay *rl = arg;
	const struct trigger_cfg *t = registry_by_id(rl, cr->trigger, strlen(cr->trigger));
	struct json_doc doc;
	/* a resumed run was accepted long ago: the trigger's queue bound is
	 * for new requests (CLUSTER_MAX_RUNS bounds what is held here) */
	struct run_request rr = {cr->type, cr->delivery, cr->ip, cr->body, cr->len, NULL, cr->run_id, cr->resumed};
	struct run *run;
	char id[EVENT_ID_LEN];
	int parsed;
	if (!t || !t->run) {
		report_lost(rl, cr, "the trigger has no run here (removed or changed)");
		return 0;
	}
	/* the instance that accepted it checked its own euid and config */
	if (geteuid() == 0 && !t->run->allow_root) {
		report_lost(rl, cr, "refusing to run a command as root (set run.allow_root: true)");
		return 0;
	}
	parsed = cr->len && json_parse(&doc, cr->body, cr->len, 64) == 0;
	if (parsed)
		rr.data = &doc;
	run = runner_prepare(rl->runner, t, &rr);
	if (parsed)
		json_doc_free(&doc);
	if (!run) {
		report_lost(rl, cr, "run queue full on the instance that read it");
		return 0;
	}
	runner_commit(rl->runner, run, id, sizeof(id));
	return 1;
}
