/* config_internal: the typed getters and checks shared by the config
 * loader's files (config.c, config_get.c, config_trigger.c). Not for use
 * outside src/config.
 *
 * Each config_get_* looks up key in map n; when the key is absent or null it
 * leaves *out alone and returns 0; when present and valid it stores the
 * value and returns 1; when invalid it reports "FILE:LINE: key: message"
 * and returns -1. */
#ifndef EDGEHOOK_CONFIG_INTERNAL_H
#define EDGEHOOK_CONFIG_INTERNAL_H

#include "edgehook/config.h"

struct loader {
	struct arena *a;
	const char *file;
	struct buf *errors;
	int nerrors;
};

void config_err_at(struct loader *L, const struct node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void config_oom(struct loader *L, const struct node *n);
void config_check_keys(struct loader *L, const struct node *map, const char *const *allowed);
void config_expand_env(struct loader *L, struct node *n);

void config_load_log(struct loader *L, const struct node *n, struct config *c);
int config_get_str(struct loader *L, const struct node *n, const char *key, const char **out);
int config_get_bool(struct loader *L, const struct node *n, const char *key, int *out);
int config_get_int(struct loader *L, const struct node *n, const char *key, int *out, int min, int max);
int config_get_size(struct loader *L, const struct node *n, const char *key, size_t *out, size_t min, size_t max);
/* A duration of at least 1ms: a zero timeout would fire before anything
 * could happen. config_get_duration_or_zero is for keys where 0 has a meaning of
 * its own (drain_timeout: do not wait; backoff: retry at once). */
int config_get_duration(struct loader *L, const struct node *n, const char *key, uint64_t *out);
int config_get_duration_or_zero(struct loader *L, const struct node *n, const char *key, uint64_t *out);
int config_get_str_list(struct loader *L, const struct node *n, const char *key, const char ***out, size_t *count);
int config_get_cidrs(struct loader *L, const struct node *n, const char *key, struct cidr **out, size_t *count);

int config_load_listen(struct loader *L, const struct node *n, struct listen_cfg *out);
int config_load_trigger(struct loader *L, const struct node *n, struct trigger_cfg *t);
void config_spool_defaults(struct config *c);
void config_load_spool(struct loader *L, const struct node *n, struct config *c);
void config_load_workers(struct loader *L, const struct node *server, struct config *c);
/* After every section: workers > 1 (or auto) needs cluster: and no spool. */
void config_check_workers(struct loader *L, const struct node *root, const struct config *c, int clustered);
void config_cluster_defaults(struct config *c);
void config_load_cluster(struct loader *L, const struct node *n, struct config *c);
void config_load_hooks(struct loader *L, const struct node *n, struct config *c);
void config_check_hooks_paths(struct loader *L, const struct node *triggers, const struct config *c);

int config_valid_id(const char *s);
int config_valid_pattern(const char *s);
int config_valid_header(const char *name, const char *value);
/* Decodes "whsec_BASE64" (or a plain string: its bytes) into out; returns
 * the key length, -1 when malformed. out may be NULL to only check. */
int config_secret_bytes(const char *secret, unsigned char *out, size_t cap);

#endif
