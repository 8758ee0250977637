/* hooks: adnanh/webhook hooks files served beside the triggers
 * (COMPAT-WEBHOOK.md § Invocation). The files are read by relay/ at
 * start and on every reload; here only their names and the prefix. */
#include "config_internal.h"

#include <string.h>

static const char *const hooks_keys[] = {"files", "urlprefix", NULL};
/* the first path segments the relay's own routes use */
static const char *const reserved[] = {"webhooks", "api", "healthz", "metrics", "ui", NULL};

/* "/hooks/", "hooks" and "a/b/" all name the prefix "hooks" or "a/b" */
static const char *trim_slashes(struct loader *L, const char *s)
{
	size_t n;
	while (*s == '/')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == '/')
		n--;
	return arena_strndup(L->a, s, n);
}

static int reserved_prefix(const char *p)
{
	const char *const *r;
	size_t seg = strcspn(p, "/");
	for (r = reserved; *r; r++)
		if (strlen(*r) == seg && strncmp(p, *r, seg) == 0)
			return 1;
	return 0;
}

void config_load_hooks(struct loader *L, const struct node *n, struct config *c)
{
	const char *prefix = "hooks";
	const struct node *pn = tree_get(n, "urlprefix");
	config_check_keys(L, n, hooks_keys);
	if (config_get_str_list(L, n, "files", &c->hooks.files, &c->hooks.nfiles) == 0 || c->hooks.nfiles == 0)
		config_err_at(L, n, "hooks: files is required (a list of hooks files)");
	if (config_get_str(L, n, "urlprefix", &prefix) < 0)
		return;
	if (!(c->hooks.urlprefix = trim_slashes(L, prefix)))
		return config_oom(L, n);
	if (!*c->hooks.urlprefix || strlen(c->hooks.urlprefix) > 200 || strstr(c->hooks.urlprefix, "//") || strchr(c->hooks.urlprefix, '?') ||
	    strchr(c->hooks.urlprefix, '%'))
		config_err_at(L, pn ? pn : n, "urlprefix: expected a path segment such as \"hooks\", got \"%s\"", prefix);
	else if (reserved_prefix(c->hooks.urlprefix))
		config_err_at(L, pn ? pn : n, "urlprefix: \"%s\" is one of edgehook's own routes", prefix);
}

/* A trigger path under the hooks prefix would never be reached. */
void config_check_hooks_paths(struct loader *L, const struct node *triggers, const struct config *c)
{
	size_t i, n;
	if (!c->hooks.nfiles)
		return;
	n = strlen(c->hooks.urlprefix);
	for (i = 0; i < c->ntriggers; i++) {
		const char *p = c->triggers[i].path;
		if (p && strncmp(p + 1, c->hooks.urlprefix, n) == 0 && (p[n + 1] == '/' || !p[n + 1]))
			config_err_at(L, triggers, "triggers: path %s of %s lies under hooks.urlprefix /%s/", p,
				      c->triggers[i].id, c->hooks.urlprefix);
	}
}
