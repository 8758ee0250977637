#include "config_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const trigger_keys[] = {"id", "kind", "secret", "allowed_ips", "event_source", "path",
	"enabled", "description", "metadata", "event", "emit", "run", "allow_sha1", NULL};
static const char *const run_keys[] = {"command", "args", "timeout", "concurrency", "queue", "allow_root",
	NULL};
static const char *const kind_names[] = {"generic", "github", "gitlab", "slack", "standard"};

/* Paths the server owns; a trigger path may not shadow them. */
static const char *const reserved_prefixes[] = {"/api/", "/webhooks/", "/healthz", "/metrics", NULL};

const char *config_kind_name(enum trigger_kind kind) { return kind_names[kind]; }

static int parse_kind(const char *s, enum trigger_kind *out)
{
	size_t i;
	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum trigger_kind)i;
			return 0;
		}
	return -1;
}

static int valid_path(const char *p)
{
	if (p[0] != '/' || p[1] == '\0' || strlen(p) > 512)
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' || *p == '#')
			return 0;
	return 1;
}

static int reserved_path(const char *p)
{
	const char *const *r;
	for (r = reserved_prefixes; *r; r++)
		if (strncmp(p, *r, strlen(*r)) == 0)
			return 1;
	return 0;
}

static struct run_cfg *load_run(struct loader *L, const struct node *n)
{
	struct run_cfg *r = arena_alloc(L->a, sizeof(*r));
	size_t conc = 1, queue = 100;
	if (!r)
		return config_oom(L, n), NULL;
	memset(r, 0, sizeof(*r));
	r->timeout_ms = 60000;
	if (n->kind != NODE_MAP)
		return config_err_at(L, n, "run: expected a map with command"), NULL;
	config_check_keys(L, n, run_keys);
	if (config_get_str(L, n, "command", &r->command) <= 0 || !*r->command)
		config_err_at(L, n, "run: command is required");
	else if (r->command[0] != '/')
		config_err_at(L, tree_get(n, "command"), "run: command must be an absolute path (no shell, no PATH search)");
	config_get_str_list(L, n, "args", &r->args, &r->nargs);
	if (r->nargs > RUN_MAX_ARGS)
		config_err_at(L, tree_get(n, "args"), "run: at most %d args (%zu given)", RUN_MAX_ARGS, r->nargs);
	config_get_duration(L, n, "timeout", &r->timeout_ms);
	config_get_size(L, n, "concurrency", &conc, 1, 1024);
	config_get_size(L, n, "queue", &queue, 0, 100000);
	config_get_bool(L, n, "allow_root", &r->allow_root);
	r->concurrency = (unsigned)conc;
	r->queue = (unsigned)queue;
	return r;
}

int config_load_trigger(struct loader *L, const struct node *n, struct trigger_cfg *t)
{
	const char *kind = "generic";
	const struct node *meta, *run;
	int before = L->nerrors;
	memset(t, 0, sizeof(*t));
	t->line = n->line;
	t->enabled = 1;
	t->metadata_json = "{}";
	if (n->kind != NODE_MAP)
		return config_err_at(L, n, "trigger: expected a map with id"), -1;
	config_check_keys(L, n, trigger_keys);
	if (config_get_str(L, n, "id", &t->id) <= 0)
		return config_err_at(L, n, "trigger: id is required"), -1;
	if (!config_valid_id(t->id))
		config_err_at(L, tree_get(n, "id"), "trigger id \"%s\": use letters, digits, '.', '_', '-'", t->id);
	config_get_str(L, n, "kind", &kind);
	if (parse_kind(kind, &t->kind) < 0)
		config_err_at(L, tree_get(n, "kind"), "kind: \"%s\" is not one of generic, github, gitlab, slack, standard", kind);
	/* an empty secret (often a ${VAR} that expanded to nothing) would
	 * leave a generic or gitlab trigger open: refused for every kind */
	if (config_get_str(L, n, "secret", &t->secret) > 0 && !*t->secret) {
		config_err_at(L, tree_get(n, "secret"), "secret: empty (leave the key out for an unsigned trigger)");
		t->secret = NULL;
	} else if (!t->secret && (t->kind == TRIGGER_GITHUB || t->kind == TRIGGER_SLACK || t->kind == TRIGGER_STANDARD))
		config_err_at(L, n, "trigger %s: kind %s needs a secret", t->id, kind);
	if (t->secret && t->kind == TRIGGER_STANDARD && config_secret_bytes(t->secret, NULL, 0) < 0)
		config_err_at(L, tree_get(n, "secret"), "secret: kind standard expects whsec_ followed by base64");
	config_get_cidrs(L, n, "allowed_ips", &t->allowed_ips, &t->nallowed);
	config_get_str(L, n, "event_source", &t->event_source);
	if (config_get_str(L, n, "path", &t->path) > 0) {
		if (!valid_path(t->path))
			config_err_at(L, tree_get(n, "path"), "path \"%s\": must start with / and hold no spaces, ? or #", t->path);
		else if (reserved_path(t->path))
			config_err_at(L, tree_get(n, "path"), "path \"%s\" collides with a built-in route", t->path);
	}
	config_get_bool(L, n, "enabled", &t->enabled);
	config_get_str(L, n, "description", &t->description);
	meta = tree_get(n, "metadata");
	if (meta && meta->kind == NODE_MAP) {
		struct buf b;
		buf_init(&b, 64 << 10);
		if (tree_to_json(&b, meta) < 0)
			config_err_at(L, meta, "metadata: too large");
		else
			t->metadata_json = arena_strndup(L->a, b.data, b.len);
		buf_free(&b);
	} else if (meta && meta->kind != NODE_NULL) {
		config_err_at(L, meta, "metadata: expected a map");
	}
	config_get_str(L, n, "event", &t->event);
	config_get_bool(L, n, "emit", &t->emit);
	config_get_bool(L, n, "allow_sha1", &t->allow_sha1);
	run = tree_get(n, "run");
	if (run && run->kind != NODE_NULL)
		t->run = load_run(L, run);
	return L->nerrors == before ? 0 : -1;
}

int config_trigger_from_tree(struct arena *a, const char *file, const struct node *n, struct trigger_cfg *out,
			     struct buf *errors)
{
	struct loader L;
	memset(&L, 0, sizeof(L));
	L.a = a;
	L.file = file;
	L.errors = errors;
	/* No ${ENV} expansion here: an API client must not be able to read
	 * the server's environment back through trigger info. */
	return config_load_trigger(&L, n, out);
}
