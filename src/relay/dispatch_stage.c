/* dispatch_stage: what a (re)load of the config builds for the
 * dispatcher before anything is swapped (see dispatch.h). */
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/endpoint.h"

#include <stdlib.h>

void dispatch_stage_free(struct dispatch_stage *st)
{
	if (!st)
		return;
	while (st->neps > 0)
		endpoint_unref(st->eps[--st->neps]);
	free(st->eps);
	free(st);
}

struct dispatch_stage *dispatch_prepare(const struct config *cfg)
{
	struct dispatch_stage *st = calloc(1, sizeof(*st));
	if (!st || !(st->eps = calloc(cfg->webhook.nendpoints + 1, sizeof(*st->eps))))
		goto fail;
	for (; st->neps < cfg->webhook.nendpoints; st->neps++)
		if (!(st->eps[st->neps] = endpoint_new(&cfg->webhook.endpoints[st->neps], cfg)))
			goto fail;
	st->queue_max = cfg->webhook.queue;
	st->bytes_max = cfg->webhook.max_queue_bytes;
	return st;
fail:
	dispatch_stage_free(st);
	return NULL;
}
