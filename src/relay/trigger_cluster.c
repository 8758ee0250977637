/* trigger_cluster: an accepted trigger delivery in cluster mode. One
 * Redis script marks its delivery id seen cluster-wide (a GitHub
 * redelivery that lands on another instance is a duplicate there too)
 * and, when the trigger emits, stores the event in the shared stream;
 * the answer waits for it. Only then does a prepared run start here:
 * duplicate or failure discard it, so a refused request has no side
 * effect and the sender's retry is not taken for a duplicate. */
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

#include <stdlib.h>
#include <string.h>

struct trigger_ack {
	struct relay *rl;
	struct http_conn *c;
	struct cluster_put *p;
	struct run *run;
	char trigger[128];
	char delivery[256];
	size_t dlen;
	char dlv_id[EVENT_ID_LEN];
};

static void ack_abort(void *arg)
{
	struct trigger_ack *a = arg;
	cluster_put_cancel(a->p);
	runner_discard(a->run);
	free(a);
}

static void acked(void *arg, int status, const char *why)
{
	struct trigger_ack *a = arg;
	struct relay *rl = a->rl;
	char run_id[EVENT_ID_LEN] = "";
	struct buf reply;
	if (status != 0) {
		runner_discard(a->run);
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
	if (a->run)
		runner_commit(rl->runner, a->run, run_id, sizeof(run_id));
	if (a->dlen)
		dedupe_check(rl->dedupe, a->trigger, a->delivery, a->dlen);
	rl->tstats.accepted++;
	buf_init(&reply, 256);
	buf_puts(&reply, "{\"status\":\"accepted\",");
	json_put_kv(&reply, 0, "id", a->dlv_id);
	if (run_id[0])
		json_put_kv(&reply, 1, "run_id", run_id);
	buf_puts(&reply, "}");
	api_reply_rendered(a->c, 202, "application/json", &reply, "trigger answer");
	free(a);
}

void trigger_accept_cluster(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t,
			    const struct trigger_accept *ta)
{
	struct trigger_ack *a = calloc(1, sizeof(*a));
	struct cluster_item it = {NULL, ta->type, clock_wall_ms(), NULL, 0};
	char evt_id[EVENT_ID_LEN];
	const char *why = NULL;
	struct buf env;
	buf_init(&env, ta->env.data_len + 1024);
	if (!a || strlen(t->id) >= sizeof(a->trigger) || ta->dlen > sizeof(a->delivery) ||
	    !(a->p = cluster_put_begin(rl->cluster, acked, a)) ||
	    (t->emit && event_trigger_envelope(&env, &ta->env) < 0)) {
		runner_discard(ta->run);
		if (a && a->p)
			cluster_put_cancel(a->p), cluster_put_end(a->p, &why);
		free(a);
		buf_free(&env);
		api_respond_error(c, 503, "out of memory");
		return;
	}
	a->rl = rl;
	a->c = c;
	a->run = ta->run;
	strcpy(a->trigger, t->id);
	memcpy(a->delivery, ta->delivery, ta->dlen);
	a->dlen = ta->dlen;
	strcpy(a->dlv_id, ta->dlv_id);
	if (t->emit) {
		rand_id(evt_id, sizeof(evt_id), "evt_");
		it.id = evt_id;
		it.body = env.data;
		it.len = env.len;
	}
	/* without a delivery id there is nothing to dedupe on: our own id
	 * stands in, so the script's shape stays one */
	if (ta->dlen)
		cluster_put_once(a->p, t->id, ta->delivery, ta->dlen, &it);
	else
		cluster_put_once(a->p, t->id, ta->dlv_id, strlen(ta->dlv_id), &it);
	buf_free(&env);
	http_defer(c, ack_abort, a);
	if (cluster_put_end(a->p, &why) < 0) {
		runner_discard(a->run);
		rl->tstats.queue_full++;
		api_respond_error(c, 503, why);
		free(a);
	}
}
