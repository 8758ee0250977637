/* log: settings of the log (format, level, file) and applying them. */
#include "edgehook/config.h"
#include "config_internal.h"
#include "edgehook/log.h"

#include <errno.h>
#include <string.h>

static const char *const log_keys[] = {"format", "level", "file", NULL};

/* A string setting that must be one of names; its index into *out. */
static void get_choice(struct loader *L, const struct node *n, const char *key, const char *const *names,
		       const char *allowed, int *out)
{
	const char *v = NULL;
	int i;
	if (config_get_str(L, n, key, &v) < 0 || !v)
		return;
	for (i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return;
		}
	config_err_at(L, tree_get(n, key), "log.%s: \"%s\": expected %s", key, v, allowed);
}

void config_load_log(struct loader *L, const struct node *n, struct config *c)
{
	static const char *const formats[] = {"logfmt", "json", NULL};
	static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
	int format = (int)c->log.format, level = (int)c->log.level;
	config_check_keys(L, n, log_keys);
	get_choice(L, n, "format", formats, "logfmt or json", &format);
	get_choice(L, n, "level", levels, "debug, info, warn or error", &level);
	c->log.format = (enum log_format)format;
	c->log.level = (enum log_level)level;
	config_get_str(L, n, "file", &c->log.file);
	if (c->log.file && c->log.file[0] != '/')
		config_err_at(L, tree_get(n, "file"), "log.file: expected an absolute path");
}

int config_apply_log(const struct config *c)
{
	if (log_set_file(c->log.file) < 0)
		return -1;
	log_set_format(c->log.format);
	log_set_level(c->log.level);
	return 0;
}
