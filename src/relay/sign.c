#include "edgehook/sign.h"
#include "edgehook/b64.h"
#include "edgehook/sha256_ni.h"

#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sign_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = 0;
	size_t i;
	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff == 0;
}

struct piece {
	const void *data;
	size_t len;
};

/* Key contexts hold the hash states after the ipad/opad blocks, two
 * compressions a request would otherwise redo. Cached by the key's bytes
 * (not its address, which a reload may reuse for another secret). */
enum { KEY_CACHE = 8, KEY_CACHE_MAX = 128 };

struct key_entry {
	const br_hash_class *hash;
	unsigned char key[KEY_CACHE_MAX];
	size_t len;
	br_hmac_key_context kc;
};

static struct key_entry key_cache[KEY_CACHE];
static unsigned key_cache_next;

static const br_hmac_key_context *key_context(const br_hash_class *hash, const void *key, size_t len,
					      br_hmac_key_context *scratch)
{
	struct key_entry *e;
	size_t i;
	if (len > KEY_CACHE_MAX) {
		br_hmac_key_init(scratch, hash, key, len);
		return scratch;
	}
	for (i = 0; i < KEY_CACHE; i++)
		if (key_cache[i].hash == hash && key_cache[i].len == len && memcmp(key_cache[i].key, key, len) == 0)
			return &key_cache[i].kc;
	e = &key_cache[key_cache_next++ % KEY_CACHE];
	e->hash = hash;
	e->len = len;
	memcpy(e->key, key, len);
	br_hmac_key_init(&e->kc, hash, key, len);
	return &e->kc;
}

/* HMAC of the concatenated pieces; returns the MAC length. */
static size_t hmac(const br_hash_class *hash, const void *key, size_t key_len, const struct piece *pieces,
		   size_t n, unsigned char *out)
{
	br_hmac_key_context scratch;
	br_hmac_context ctx;
	size_t i;
	br_hmac_init(&ctx, key_context(hash, key, key_len, &scratch), 0);
	for (i = 0; i < n; i++)
		br_hmac_update(&ctx, pieces[i].data, pieces[i].len);
	return br_hmac_out(&ctx, out);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int standard_key(const char *secret, unsigned char *key, size_t cap)
{
	if (strncmp(secret, "whsec_", 6) != 0)
		return -1;
	return b64_decode(secret + 6, strlen(secret + 6), key, cap);
}

/* "{id}.{timestamp}.{body}" signed with the decoded key, base64. */
static int standard_mac(const char *secret, const char *msg_id, const char *timestamp, const char *body,
			size_t len, char *b64, size_t cap)
{
	unsigned char key[256], mac[32];
	char prefix[512];
	int klen = standard_key(secret, key, sizeof(key));
	int plen = snprintf(prefix, sizeof(prefix), "%s.%s.", msg_id, timestamp);
	if (klen <= 0 || plen < 0 || (size_t)plen >= sizeof(prefix))
		return -1;
	struct piece pieces[2] = {{prefix, (size_t)plen}, {body, len}};
	hmac(sha256_class(), key, (size_t)klen, pieces, 2, mac);
	return b64_encode(mac, sizeof(mac), b64, cap);
}

int sign_standard(const char *secret, const char *msg_id, const char *timestamp, const char *body, size_t len,
		  char *out, size_t cap)
{
	if (cap < 4 || standard_mac(secret, msg_id, timestamp, body, len, out + 3, cap - 3) < 0)
		return -1;
	memcpy(out, "v1,", 3);
	return 0;
}

static int within_window(const char *timestamp, int64_t now)
{
	char *end;
	long long ts = strtoll(timestamp, &end, 10);
	if (*timestamp == '\0' || *end)
		return 0;
	return ts <= now + SIGN_WINDOW_SECONDS && ts >= now - SIGN_WINDOW_SECONDS;
}

int sign_verify_standard(const char *secret, const char *msg_id, const char *timestamp, const char *sig_header,
			 const char *body, size_t len, int64_t now, const char **why)
{
	char expect[64];
	const char *p = sig_header;
	if (!within_window(timestamp, now)) {
		*why = "timestamp outside the 5 minute window";
		return -1;
	}
	if (standard_mac(secret, msg_id, timestamp, body, len, expect, sizeof(expect)) < 0) {
		*why = "bad secret";
		return -1;
	}
	/* space-separated "v1,<sig>" entries; any match is enough */
	while (*p) {
		size_t n;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n > 3 && memcmp(p, "v1,", 3) == 0 && sign_equal(p + 3, n - 3, expect, strlen(expect)))
			return 0;
		p += n;
	}
	*why = "signature mismatch";
	return -1;
}

int sign_verify_github(const char *secret, const char *header, size_t header_len, int sha1, const char *body,
		       size_t len, const char **why)
{
	unsigned char mac[32];
	char hex[65];
	const char *prefix = sha1 ? "sha1=" : "sha256=";
	size_t plen = strlen(prefix), n;
	struct piece piece = {body, len};
	n = hmac(sha1 ? &br_sha1_vtable : sha256_class(), secret, strlen(secret), &piece, 1, mac);
	to_hex(mac, n, hex);
	if (header_len < plen || memcmp(header, prefix, plen) != 0) {
		*why = "malformed signature header";
		return -1;
	}
	if (!sign_equal(header + plen, header_len - plen, hex, 2 * n)) {
		*why = "signature mismatch";
		return -1;
	}
	return 0;
}

int sign_verify_slack(const char *secret, const char *timestamp, const char *sig_header, const char *body, size_t len,
		      int64_t now, const char **why)
{
	unsigned char mac[32];
	char hex[68] = "v0=";
	struct piece pieces[4] = {{"v0:", 3}, {timestamp, strlen(timestamp)}, {":", 1}, {body, len}};
	if (!within_window(timestamp, now)) {
		*why = "timestamp outside the 5 minute window";
		return -1;
	}
	hmac(sha256_class(), secret, strlen(secret), pieces, 4, mac);
	to_hex(mac, 32, hex + 3);
	if (!sign_equal(sig_header, strlen(sig_header), hex, strlen(hex))) {
		*why = "signature mismatch";
		return -1;
	}
	return 0;
}

int sign_verify_token(const char *secret, const char *token, size_t token_len)
{
	return sign_equal(secret, strlen(secret), token, token_len) ? 0 : -1;
}
