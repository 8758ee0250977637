/* cluster_mark: the run-started mark (cluster.h, cluster_run_mark).
 *
 * SET PREFIX:started:RUN_ID instance NX PX: set now -> the run may
 * spawn; already set -> it started before, on whichever instance held
 * its entry then. The key goes with the entry (cluster.c settles a run
 * entry and deletes its mark in one script), so the TTL only bounds
 * marks whose entry vanished otherwise (the MAXLEN ~ fence, a hand-made
 * XDEL). It is long because an expired mark would let a run that did
 * start run again: only a cluster that stays down for MARK_TTL_MS with a
 * started run pending re-runs it instead of reporting it interrupted. */
#include "cluster_internal.h"

#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_TTL_MS "604800000" /* 7 days */

struct cluster_mark {
	struct list link; /* c->marks while its reply is owed */
	cluster_mark_cb cb;
	void *arg, *item;
	int cancelled;
};

void cluster_mark_key(const struct cluster *c, const char *run_id, char *out, size_t cap)
{
	snprintf(out, cap, "%s:started:%s", c->prefix, run_id);
}

static void on_mark(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster_mark *m = arg;
	int status = -1;
	const char *why = "the run's start could not be recorded in redis";
	list_remove(&m->link);
	if (!err && r->v[0].type == RESP_SIMPLE && resp_eq(r, &r->v[0], "OK"))
		status = 1;
	else if (!err && r->v[0].type == RESP_NULL)
		status = 0;
	else
		log_msg(LOG_WARN, "cluster: run-start mark not stored: the run fails unstarted", "err",
			err ? err : "unexpected reply", NULL);
	if (!m->cancelled)
		m->cb(m->arg, m->item, status, why);
	free(m);
}

struct cluster_mark *cluster_run_mark(struct cluster *c, const char *run_id, cluster_mark_cb cb, void *arg,
				      void *item)
{
	char key[160];
	const char *argv[] = {"SET", key, c->instance, "NX", "PX", MARK_TTL_MS};
	struct cluster_mark *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	cluster_mark_key(c, run_id, key, sizeof(key));
	m->cb = cb;
	m->arg = arg;
	m->item = item;
	if (resp_command(c->cmd, 6, argv, NULL, on_mark, m) < 0) {
		free(m);
		return NULL;
	}
	list_push_back(&c->marks, &m->link);
	return m;
}

void cluster_mark_cancel(struct cluster_mark *m)
{
	m->cancelled = 1;
}

/* The client is freed with replies still owed: their callbacks never run. */
void cluster_marks_free(struct cluster *c)
{
	list_for_each_safe(it, nx, &c->marks) {
		list_remove(it);
		free(list_entry(it, struct cluster_mark, link));
	}
}
