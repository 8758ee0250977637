/* sha256_ni: SHA-256 blocks with x86-64 SHA-NI (sha256_ni.h). The
 * buffering and padding follow BearSSL's sha2small.c over the same
 * br_sha256_context; only the block function differs. The round
 * structure is Intel's (SHA extensions white paper): state kept as
 * ABEF/CDGH, two rounds per sha256rnds2, the schedule by sha256msg1/2. */
#include "edgehook/sha256_ni.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#define NI __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* n 64-byte blocks into val (host-order words, as BearSSL keeps them) */
static NI void blocks(uint32_t val[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i s0, s1, t, m[4];
	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[0]), 0xB1); /* CDAB */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[4]), 0x1B); /* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);                                        /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);                                     /* CDGH */
	for (; n > 0; n--, p += 64) {
		__m128i abef = s0, cdgh = s1;
		int i;
		for (i = 0; i < 4; i++)
			m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
		for (i = 0; i < 16; i++) {
			__m128i w = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)&K[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, w);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(w, 0x0E));
			if (i < 12) /* W[4i+16 .. 4i+19] replace W[4i .. 4i+3] */
				m[i & 3] = _mm_sha256msg2_epu32(
					_mm_add_epi32(_mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]),
						      _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4)),
					m[(i + 3) & 3]);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	t = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);  /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xF0); /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)&val[0], s0);
	_mm_storeu_si128((__m128i *)&val[4], s1);
}

static const br_hash_class ni_class;

static void ni_init(const br_hash_class **ctx)
{
	br_sha256_context *cc = (br_sha256_context *)(void *)ctx;
	br_sha256_init(cc);
	cc->vtable = &ni_class;
}

static void ni_update(const br_hash_class **ctx, const void *data, size_t len)
{
	br_sha256_context *cc = (br_sha256_context *)(void *)ctx;
	const unsigned char *p = data;
	size_t off = (size_t)cc->count & 63, n;
	cc->count += len;
	if (off) {
		n = 64 - off < len ? 64 - off : len;
		memcpy(cc->buf + off, p, n);
		p += n;
		len -= n;
		if (off + n < 64)
			return;
		blocks(cc->val, cc->buf, 1);
	}
	blocks(cc->val, p, len / 64);
	memcpy(cc->buf, p + (len & ~(size_t)63), len & 63);
}

static void ni_out(const br_hash_class *const *ctx, void *dst)
{
	const br_sha256_context *cc = (const br_sha256_context *)(const void *)ctx;
	unsigned char buf[128], *out = dst;
	uint32_t val[8];
	uint64_t bits = cc->count << 3;
	size_t off = (size_t)cc->count & 63, end = off < 56 ? 64 : 128, i;
	memcpy(buf, cc->buf, off);
	memcpy(val, cc->val, sizeof(val));
	buf[off] = 0x80;
	memset(buf + off + 1, 0, end - 8 - off - 1);
	for (i = 0; i < 8; i++)
		buf[end - 1 - i] = (unsigned char)(bits >> (8 * i));
	blocks(val, buf, end / 64);
	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(val[i / 4] >> (24 - 8 * (i % 4)));
}

static uint64_t ni_state(const br_hash_class *const *ctx, void *dst)
{
	return br_sha256_state((const br_sha256_context *)(const void *)ctx, dst);
}

static void ni_set_state(const br_hash_class **ctx, const void *stb, uint64_t count)
{
	br_sha256_set_state((br_sha256_context *)(void *)ctx, stb, count);
}

static const br_hash_class ni_class = {
	sizeof(br_sha256_context),
	BR_HASHDESC_ID(br_sha256_ID) | BR_HASHDESC_OUT(32) | BR_HASHDESC_STATE(32) | BR_HASHDESC_LBLEN(6) |
		BR_HASHDESC_MD_PADDING | BR_HASHDESC_MD_PADDING_BE,
	ni_init, ni_update, ni_out, ni_state, ni_set_state,
};

const br_hash_class *sha256_ni_class(void)
{
	static int have = -1;
	if (have < 0) {
		unsigned a, b, c, d;
		have = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
		       __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
	}
	return have ? &ni_class : NULL;
}
#else
const br_hash_class *sha256_ni_class(void)
{
	return NULL;
}
#endif

const br_hash_class *sha256_class(void)
{
	const br_hash_class *ni = sha256_ni_class();
	return ni ? ni : &br_sha256_vtable;
}
