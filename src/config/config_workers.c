/* server.workers: how many processes serve (app_workers.h). */
#include "config_internal.h"

#include <string.h>
#include <unistd.h>

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (unsigned)n;
}

void config_load_workers(struct loader *L, const struct node *server, struct config *c)
{
	const struct node *v = tree_get(server, "workers");
	int n = 1;
	if (!v || v->kind == NODE_NULL)
		return;
	if (v->kind == NODE_SCALAR && strcmp(v->str, "auto") == 0) {
		c->server.workers = online_cpus();
		c->server.workers_auto = 1;
		return;
	}
	if (v->kind == NODE_SCALAR && !v->quoted && (*v->str < '0' || *v->str > '9')) {
		config_err_at(L, v, "workers: expected auto or an integer from 1 to %d, got \"%s\"", CONFIG_WORKERS_MAX,
			      v->str);
		return;
	}
	if (config_get_int(L, server, "workers", &n, 1, CONFIG_WORKERS_MAX) > 0)
		c->server.workers = (unsigned)n;
}

/* Workers are separate processes: dedupe windows, runtime triggers,
 * pending deliveries and breakers live in each one's memory unless
 * cluster mode puts them in Redis. auto is refused too, whatever the
 * CPU count here, so a config does not load on one box and fail on the
 * next. */
void config_check_workers(struct loader *L, const struct node *root, const struct config *c, int clustered)
{
	const struct node *server = tree_get(root, "server");
	const struct node *v = server && server->kind == NODE_MAP ? tree_get(server, "workers") : NULL;
	if (c->server.workers <= 1 && !c->server.workers_auto)
		return;
	if (!clustered)
		config_err_at(L, v,
			      "workers: more than one worker needs cluster: (workers are separate processes and share "
			      "dedupe, triggers and pending deliveries only through cluster mode)");
	else if (strlen(c->cluster.instance) > CONFIG_INSTANCE_MAX - 4)
		config_err_at(L, v, "workers: cluster.instance too long for workers (each adds -wN): at most %d characters",
			      CONFIG_INSTANCE_MAX - 4);
}
