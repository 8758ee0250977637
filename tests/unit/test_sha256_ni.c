/* sha256_ni: the SHA-NI hash class against published vectors and, for
 * every length split every way, against BearSSL's; HMAC over both. */
#include "unit.h"

#include "edgehook/sha256_ni.h"

#include <bearssl_hmac.h>

static void digest(const br_hash_class *vt, const unsigned char *p, size_t len, size_t step, unsigned char out[32])
{
	br_hash_compat_context ctx;
	size_t off = 0;
	vt->init(&ctx.vtable);
	while (off < len) {
		size_t n = step && step < len - off ? step : len - off;
		vt->update(&ctx.vtable, p + off, n);
		off += n;
	}
	vt->out(&ctx.vtable, out);
}

static void hexof(const unsigned char *in, size_t n, char *out)
{
	size_t i;
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* The class in use: SHA-NI where the CPU has it, BearSSL's elsewhere. */
static const br_hash_class *under_test(void)
{
	const br_hash_class *ni = sha256_ni_class();
	CHECK(sha256_class() == (ni ? ni : &br_sha256_vtable));
	return sha256_class();
}

TEST(test_sha256_ni_published_vectors)
{
	static const struct {
		const char *msg, *hex;
	} v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	const br_hash_class *vt = under_test();
	size_t i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char out[32];
		char hex[65];
		digest(vt, (const unsigned char *)v[i].msg, strlen(v[i].msg), 0, out);
		hexof(out, 32, hex);
		CHECK_STR(hex, v[i].hex);
	}
	{
		/* a million 'a': many whole blocks in one update */
		static unsigned char a[1000000];
		unsigned char out[32];
		char hex[65];
		memset(a, 'a', sizeof(a));
		digest(vt, a, sizeof(a), 0, out);
		hexof(out, 32, hex);
		CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
}

TEST(test_sha256_ni_matches_bearssl_every_length_and_split)
{
	static const size_t steps[] = {0, 1, 3, 55, 56, 63, 64, 65, 127};
	unsigned char data[300], a[32], b[32];
	const br_hash_class *vt = under_test();
	unsigned seed = 12345;
	size_t len, s;
	for (len = 0; len < sizeof(data); len++) {
		seed = seed * 1103515245u + 12345u;
		data[len] = (unsigned char)(seed >> 16);
	}
	for (len = 0; len <= sizeof(data); len++)
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			digest(&br_sha256_vtable, data, len, 0, a);
			digest(vt, data, len, steps[s], b);
			if (memcmp(a, b, 32) != 0) {
				fprintf(stderr, "length %zu step %zu differs\n", len, steps[s]);
				CHECK(0);
				return;
			}
		}
}

/* br_hmac saves and restores the key's inner and outer states through
 * the class: the MACs must be BearSSL's for short and long keys. */
TEST(test_sha256_ni_hmac_matches_bearssl)
{
	static const char *const keys[] = {"k", "benchsecret", "a key longer than one sixty-four byte block, so it is hashed first"};
	const br_hash_class *vt = under_test();
	unsigned char body[200];
	size_t k, len;
	memset(body, 'x', sizeof(body));
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (len = 0; len <= sizeof(body); len += 13) {
			br_hmac_key_context ka, kb;
			br_hmac_context ca, cb;
			unsigned char a[32], b[32];
			br_hmac_key_init(&ka, &br_sha256_vtable, keys[k], strlen(keys[k]));
			br_hmac_key_init(&kb, vt, keys[k], strlen(keys[k]));
			br_hmac_init(&ca, &ka, 0);
			br_hmac_init(&cb, &kb, 0);
			br_hmac_update(&ca, body, len);
			br_hmac_update(&cb, body, len);
			br_hmac_out(&ca, a);
			br_hmac_out(&cb, b);
			CHECK(memcmp(a, b, 32) == 0);
		}
}

int main(void)
{
	RUN(test_sha256_ni_published_vectors);
	RUN(test_sha256_ni_matches_bearssl_every_length_and_split);
	RUN(test_sha256_ni_hmac_matches_bearssl);
	return unit_done();
}
