/* compat_embed: hooks files served by the relay (config `hooks:`, see
 * compat.h). The set is loaded by the app at start and on every reload
 * (a file that does not load refuses the whole config); here it is only
 * held, swapped and routed to. */
#include "edgehook/compat_internal.h"

#include <stdlib.h>
#include <string.h>

struct compat *compat_embed_new(struct reactor *r)
{
	struct compat *app = calloc(1, sizeof(*app));
	if (!app)
		return NULL;
	compat_defaults(&app->o);
	app->r = r;
	app->watch_fd = -1;
	app->embedded = 1;
	hooks_init(&app->hooks);
	return app;
}

void compat_embed_client(struct compat *app, compat_client_fn fn, void *ctx)
{
	app->client = fn;
	app->client_ctx = ctx;
}

int compat_embed_set(struct compat *app, struct hook_set *set, const char *urlprefix)
{
	hooks_free(&app->hooks);
	app->hooks = *set;
	hooks_init(set);
	if (!urlprefix) {
		app->prefix[0] = 0;
		return 0;
	}
	if (strlen(urlprefix) + 3 > sizeof(app->prefix))
		return -1;
	snprintf(app->prefix, sizeof(app->prefix), "/%s/", urlprefix);
	return 0;
}

int compat_embed_serves(const struct compat *app, const char *path, size_t len)
{
	size_t n = strlen(app->prefix);
	return n && len > n && memcmp(path, app->prefix, n) == 0;
}

void compat_embed_free(struct compat *app)
{
	if (!app)
		return;
	hooks_free(&app->hooks);
	compat_runs_free(app);
	free(app);
}
