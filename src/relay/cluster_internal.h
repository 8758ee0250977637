/* cluster_internal: the state cluster.c (reading, acknowledging,
 * claiming) and cluster_put.c (ingest) share. */
#ifndef EDGEHOOK_CLUSTER_INTERNAL_H
#define EDGEHOOK_CLUSTER_INTERNAL_H

#include "edgehook/cluster.h"
#include "edgehook/reactor.h"
#include "edgehook/resp.h"

enum rd_state { RD_GROUP, RD_READING, RD_WAIT, RD_STOPPED };

struct cluster {
	struct reactor *r;
	struct dispatch *d;
	struct resp_client *cmd;  /* pipelined: XADD, XACK, XCLAIM, ... */
	struct resp_client *rd;   /* the blocking XREADGROUP only */
	enum rd_state state;
	int history;              /* reading our own pending entries (from cursor) */
	char cursor[48];          /* history: the last entry read; claims: XAUTOCLAIM's */
	char claim_cursor[48];
	uint64_t read_started, backoff;
	uint64_t claim_after_ms, max_stream_len, timeout_ms;
	int claim_busy;
	struct timer read_timer, claim_timer, beat_timer;
	struct cluster_stats stats;
	char stream[96], group[80], instance[129], maxlen[24], claim_ms[24];
};

#endif
