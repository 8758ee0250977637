#include "edgehook/spool_internal.h"
#include "edgehook/grow.h"
#include "edgehook/clock.h"
#include "edgehook/crc32c.h"
#include "edgehook/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The CRC skips its own field: length bytes, then type and payload. */
static uint32_t record_crc(const unsigned char *len4, const unsigned char *type_and_payload, size_t n)
{
	return crc32c(crc32c(0, len4, 4), type_and_payload, 1 + n);
}

int spool_frame(struct buf *out, unsigned type, const void *p, size_t n)
{
	unsigned char *h;
	if (type == 0 || type > 255 || n > SPOOL_RECORD_MAX || buf_reserve(out, SPOOL_HEADER + n) < 0)
		return -1;
	h = (unsigned char *)out->data + out->len;
	wr32(h, (uint32_t)n);
	h[8] = (unsigned char)type;
	if (n)
		memcpy(h + SPOOL_HEADER, p, n);
	wr32(h + 4, record_crc(h, h + 8, n));
	out->len += SPOOL_HEADER + n;
	return 0;
}

/* Payload length of a whole, intact record at off; -1 otherwise. */
static long long record_at(const unsigned char *p, size_t n, size_t off)
{
	uint32_t len;
	if (n - off < SPOOL_HEADER)
		return -1;
	len = rd32(p + off);
	if (len > SPOOL_RECORD_MAX || len > n - off - SPOOL_HEADER || p[off + 8] == 0)
		return -1;
	if (record_crc(p + off, p + off + 8, len) != rd32(p + off + 4))
		return -1;
	return len;
}

/* Where the next intact record starts after damage at off, or n. A flipped
 * payload or CRC byte leaves the length usable, so that guess comes
 * first; otherwise every later offset is tried (a header that lies about
 * its length fails its CRC, so this cannot be fooled by the damage). */
static size_t resync(const unsigned char *p, size_t n, size_t off)
{
	size_t q;
	if (n - off >= SPOOL_HEADER) {
		uint64_t guess = (uint64_t)off + SPOOL_HEADER + rd32(p + off);
		if (guess < n && record_at(p, n, (size_t)guess) >= 0)
			return (size_t)guess;
	}
	for (q = off + 1; q < n; q++)
		if (record_at(p, n, q) >= 0)
			return q;
	return n;
}

size_t spool_scan(const unsigned char *p, size_t n, uint64_t seg, spool_replay_fn fn, void *arg, uint64_t *records,
		  uint64_t *corrupt)
{
	size_t off = 0;
	while (off < n) {
		long long len = record_at(p, n, off);
		size_t next;
		if (len >= 0) {
			if (fn)
				fn(arg, seg, p[off + 8], p + off + SPOOL_HEADER, (size_t)len);
			(*records)++;
			off += SPOOL_HEADER + (size_t)len;
			continue;
		}
		next = resync(p, n, off);
		if (next == n)
			return off;
		(*corrupt)++;
		off = next;
	}
	return n;
}

void spool_seg_name(char *out, size_t cap, uint64_t seq)
{
	snprintf(out, cap, "%016" PRIx64 ".seg", seq);
}

static int parse_seg_name(const char *name, uint64_t *seq)
{
	uint64_t v = 0;
	int i;
	for (i = 0; i < 16; i++) {
		char c = name[i];
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (strcmp(name + 16, ".seg") != 0)
		return -1;
	*seq = v;
	return 0;
}

static int cmp_seg(const void *a, const void *b)
{
	uint64_t x = ((const struct spool_seg *)a)->seq, y = ((const struct spool_seg *)b)->seq;
	return x < y ? -1 : x > y;
}

static int list_segments(int dirfd, struct spool_seg **out, size_t *nout, struct buf *errors)
{
	struct spool_seg *segs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		buf_printf(errors, "cannot read the spool directory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t seq;
		if (parse_seg_name(de->d_name, &seq) < 0)
			continue;
		if (array_grow((void **)&segs, &cap, n, sizeof(*segs), 16) < 0) {
			buf_puts(errors, "out of memory listing the spool");
			goto fail;
		}
		memset(&segs[n], 0, sizeof(segs[n]));
		segs[n++].seq = seq;
	}
	closedir(d);
	if (n)
		qsort(segs, n, sizeof(*segs), cmp_seg);
	*out = segs;
	*nout = n;
	return 0;
fail:
	closedir(d);
	free(segs);
	return -1;
}

/* Replays one segment; cuts a torn tail off the file. */
static int recover_one(int dirfd, struct spool_seg *g, int last, spool_replay_fn fn, void *arg,
		       struct spool_recovery *rec, struct buf *errors)
{
	char name[32];
	struct stat st;
	size_t end = 0;
	unsigned char *map = NULL;
	int fd;
	spool_seg_name(name, sizeof(name), g->seq);
	fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		buf_printf(errors, "cannot open spool segment %s: %s", name, strerror(errno));
		goto fail;
	}
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			buf_printf(errors, "cannot map spool segment %s: %s", name, strerror(errno));
			goto fail;
		}
		end = spool_scan(map, (size_t)st.st_size, g->seq, fn, arg, &rec->records, &rec->corrupt);
		munmap(map, (size_t)st.st_size);
	}
	if (end < (size_t)st.st_size) {
		char off[24], cut[24];
		snprintf(off, sizeof(off), "%zu", end);
		snprintf(cut, sizeof(cut), "%zu", (size_t)st.st_size - end);
		log_msg(LOG_WARN, "spool: torn tail truncated", "segment", name, "offset", off, "bytes", cut, NULL);
		/* Only the newest segment is written at a crash; damage at the
		 * end of an older one is corruption, not a torn write. */
		if (!last)
			rec->corrupt++;
		rec->truncated_bytes += (size_t)st.st_size - end;
		if (ftruncate(fd, (off_t)end) < 0) {
			buf_printf(errors, "cannot truncate spool segment %s: %s", name, strerror(errno));
			goto fail;
		}
	}
	g->bytes = end;
	rec->bytes += end;
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int spool_recover_dir(int dirfd, spool_replay_fn fn, void *arg, struct spool_seg **segs, size_t *nsegs,
		      struct spool_recovery *rec, struct buf *errors)
{
	uint64_t t0 = clock_update(), now = clock_wall_ms();
	size_t i;
	memset(rec, 0, sizeof(*rec));
	if (list_segments(dirfd, segs, nsegs, errors) < 0)
		return -1;
	for (i = 0; i < *nsegs; i++) {
		if (recover_one(dirfd, &(*segs)[i], i + 1 == *nsegs, fn, arg, rec, errors) < 0) {
			free(*segs);
			*segs = NULL;
			return -1;
		}
		/* When a record there settled is not known: count retention
		 * from now, which is never too early. */
		(*segs)[i].idle_since = now;
	}
	rec->segments = *nsegs;
	rec->ms = clock_update() - t0;
	return 0;
}
