/* The dispatcher's spool records (EVENT, DONE, STATE) as recovery hands
 * them over, from hostile bytes: decoding must stay inside each record,
 * and the recovered table (ids, endpoint states, bodies kept within
 * max_queue_bytes) must be freed whole. Input: records of
 * u8 type | u16 length (little endian) | payload, the last one cut short
 * to what is left; each payload is read in place. */
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/reactor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_client_op *no_send(void *ctx, const struct http_client_request *req, http_client_cb done,
				      void *arg)
{
	(void)ctx;
	(void)req;
	(void)done;
	(void)arg;
	return NULL;
}

static void no_cancel(void *ctx, struct http_client_op *op)
{
	(void)ctx;
	(void)op;
}

static int no_limit(void *ctx, const struct url *u, unsigned max)
{
	(void)ctx;
	(void)u;
	(void)max;
	return 0;
}

/* Two endpoints (one taking every event, one only "a.*") and a body
 * budget small enough that settled bodies are let go. */
static struct dispatch *rig(void)
{
	static const char yaml[] = "webhook:\n  max_queue_bytes: 1KiB\n  endpoints:\n"
				   "    - {name: all, url: \"http://127.0.0.1:9/\"}\n"
				   "    - {name: a, url: \"http://127.0.0.1:9/a\", events: [\"a.*\"]}\n";
	static const struct dispatch_transport tp = {NULL, no_send, no_cancel, no_limit};
	static struct dispatch *d;
	static struct config *cfg; /* kept: the endpoints point into it */
	struct dispatch_stage *st;
	struct buf errs;
	if (d)
		return d;
	buf_init(&errs, 4096);
	if (config_load_text("fuzz.yaml", yaml, sizeof(yaml) - 1, &cfg, &errs) < 0 || !(st = dispatch_prepare(cfg)) ||
	    !(d = dispatch_new(reactor_new(), &tp, 16)))
		abort();
	dispatch_commit(d, st);
	buf_free(&errs);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dispatch *d = rig();
	size_t at = 0;
	while (size - at >= 3) {
		unsigned type = data[at];
		size_t n = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
		at += 3;
		if (n > size - at)
			n = size - at;
		dispatch_spool_replay(d, 1 + at / 4096, type, data + at, n);
		at += n;
	}
	dispatch_spool_discard(d);
	return 0;
}
