/* spool: where and how durably accepted work is logged (spool.h). */
#include "config_internal.h"

#include <limits.h>
#include <string.h>

static const char *const spool_keys[] = {"dir", "fsync", "interval", "max_bytes", "segment_bytes", "retention", NULL};

void config_spool_defaults(struct config *c)
{
	c->spool.dir = NULL;
	c->spool.fsync = SPOOL_FSYNC_ALWAYS;
	c->spool.interval_ms = 10;
	c->spool.max_bytes = (size_t)1 << 30;
	c->spool.segment_bytes = (size_t)64 << 20;
	c->spool.retention_ms = 24ULL * 3600000;
}

static void load_fsync(struct loader *L, const struct node *n, struct config *c)
{
	static const char *const modes[] = {"always", "interval", "off"};
	const struct node *v = tree_get(n, "fsync");
	const char *s = NULL;
	size_t i;
	if (config_get_str(L, n, "fsync", &s) <= 0)
		return;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i]) == 0) {
			c->spool.fsync = (enum spool_fsync)i;
			return;
		}
	config_err_at(L, v, "fsync: expected always, interval or off, got \"%s\"", s);
}

void config_load_spool(struct loader *L, const struct node *n, struct config *c)
{
	const struct node *seg = tree_get(n, "segment_bytes");
	config_check_keys(L, n, spool_keys);
	if (config_get_str(L, n, "dir", &c->spool.dir) > 0 && (!*c->spool.dir || strlen(c->spool.dir) > PATH_MAX - 32)) {
		config_err_at(L, tree_get(n, "dir"), "dir: expected a directory path");
		c->spool.dir = NULL;
	}
	load_fsync(L, n, c);
	config_get_duration(L, n, "interval", &c->spool.interval_ms);
	config_get_size(L, n, "max_bytes", &c->spool.max_bytes, (size_t)1 << 20, (size_t)1 << 50);
	config_get_size(L, n, "segment_bytes", &c->spool.segment_bytes, (size_t)64 << 10, (size_t)1 << 30);
	config_get_duration_or_zero(L, n, "retention", &c->spool.retention_ms);
	if (seg && c->spool.segment_bytes > c->spool.max_bytes)
		config_err_at(L, seg, "segment_bytes: larger than max_bytes");
	if (!tree_get(n, "dir") && n->count > 0)
		config_err_at(L, n, "spool: dir is required (without it nothing is spooled)");
}
