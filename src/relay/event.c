#include "edgehook/event.h"
#include "edgehook/clock.h"
#include "edgehook/json.h"

int event_json_compact(struct buf *out, const char *json, size_t len)
{
	size_t i, run = 0;
	int in_str = 0;
	if (buf_reserve(out, len) < 0)
		return -1;
	for (i = 0; i < len; i++) {
		char c = json[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
			buf_append(out, json + run, i - run);
			run = i + 1;
		}
	}
	return buf_append(out, json + run, len - run);
}

int event_put_timestamp(struct buf *out)
{
	char ts[32];
	size_t n = clock_iso8601(ts, sizeof(ts), clock_wall_ms());
	return json_put_string(out, ts, n);
}

int event_id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= 'A' && id[n] <= 'Z') || (id[n] >= '0' && id[n] <= '9') ||
		      id[n] == '_' || id[n] == '-'))
			return 0;
	return n > 0 && n < EVENT_ID_LEN;
}

int event_put_time_member(struct buf *out, const char *key, uint64_t wall_ms)
{
	char ts[32];
	if (!wall_ms)
		return buf_printf(out, ",\"%s\":null", key);
	clock_iso8601(ts, sizeof(ts), wall_ms);
	return buf_printf(out, ",\"%s\":\"%s\"", key, ts);
}

int event_trigger_envelope(struct buf *out, const struct trigger_envelope *env)
{
	if (buf_puts(out, "{") < 0 || json_put_kv(out, 0, "event", env->type) < 0 ||
	    json_put_kv(out, 1, "resource_type", "trigger") < 0 ||
	    json_put_kv(out, 1, "resource_id", env->trigger_id) < 0 ||
	    json_put_kv(out, 1, "delivery_id", env->delivery_id) < 0 ||
	    json_put_kv(out, 1, "source_ip", env->source_ip) < 0 || buf_puts(out, ",\"timestamp\":") < 0 ||
	    event_put_timestamp(out) < 0 || buf_puts(out, ",\"data\":") < 0)
		return -1;
	if (env->data ? event_json_compact(out, env->data, env->data_len) < 0 : buf_puts(out, "null") < 0)
		return -1;
	return buf_puts(out, "}");
}
