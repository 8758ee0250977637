/* tls_impl: the implementation table names the fastest code BearSSL 0.6
 * has for this target, every engine is set up from it, and a handshake
 * between two engines set up from it runs ECDHE over X25519 with an
 * ECDSA P-256 signature. */
#include "unit.h"

#include "edgehook/tls_impl.h"

#include <stdint.h>

TEST(test_tls_impl_names_the_fastest_for_the_target)
{
	const char *d = tls_impl_describe();
	CHECK(strstr(d, "ec_p256=p256_m31 ec_x25519=c25519_m31 ecdsa=i31 ") == d);
#if defined(__SIZEOF_INT128__)
	/* a 64x64->128 multiply (gcc and musl-gcc on x86-64): RSA at i62 */
	CHECK(strstr(d, " rsa=i62 ") != NULL);
#endif
	CHECK(strstr(d, br_aes_x86ni_ctr_get_vtable() ? " aes=x86ni " : " aes=ct") != NULL);
	CHECK(strstr(d, br_ghash_pclmul_get() ? " ghash=pclmul " : " ghash=ctmul") != NULL);
	CHECK(strstr(d, br_poly1305_ctmulq_get() ? " poly1305=ctmulq" : " poly1305=ctmul") != NULL);
}

static br_hmac_drbg_context rng;
static br_ec_private_key ec_sk;
static br_ec_public_key ec_pk;
static unsigned char ec_skbuf[BR_EC_KBUF_PRIV_MAX_SIZE], ec_pkbuf[BR_EC_KBUF_PUB_MAX_SIZE];
/* the client below trusts the server's key directly, so the chain's
 * bytes are never parsed */
static unsigned char fake_der[] = {0x30, 0x00};
static const br_x509_certificate chain = {fake_der, sizeof(fake_der)};

static void make_ec_key(void)
{
	br_hmac_drbg_init(&rng, &br_sha256_vtable, "tls_impl unit", 13);
	CHECK(br_ec_keygen(&rng.vtable, &br_ec_all_m31, &ec_sk, ec_skbuf, BR_EC_secp256r1) > 0);
	CHECK(br_ec_compute_pub(&br_ec_all_m31, &ec_pk, ec_pkbuf, &ec_sk) > 0);
}

TEST(test_tls_impl_engines_use_the_table)
{
	static br_ssl_server_context sc;
	static br_ssl_client_context cc;
	static br_x509_minimal_context xc;
	br_rsa_private_key rsa;
	memset(&rsa, 0, sizeof(rsa));
	make_ec_key();
	tls_impl_server_init(&sc, &chain, 1, NULL, &ec_sk, BR_KEYTYPE_EC);
	CHECK_EQ_INT(tls_impl_server_matches(&sc, 0), 1);
	CHECK(sc.eng.iec == &br_ec_all_m31);
	tls_impl_server_init(&sc, &chain, 1, &rsa, &ec_sk, BR_KEYTYPE_RSA);
	CHECK_EQ_INT(tls_impl_server_matches(&sc, 1), 1);
	CHECK_EQ_INT(tls_impl_server_matches(&sc, 0), 0);
	tls_impl_client_init(&cc, &xc, NULL, 0);
	CHECK_EQ_INT(tls_impl_client_matches(&cc, &xc), 1);
	/* the check can fail: an engine left on another implementation */
	br_ssl_engine_set_ec(&cc.eng, &br_ec_all_m15);
	CHECK_EQ_INT(tls_impl_client_matches(&cc, &xc), 0);
}

/* Moves records between two engines until neither has any to send. */
static void shuttle(br_ssl_engine_context *a, br_ssl_engine_context *b)
{
	int moved = 1, rounds = 0;
	while (moved && rounds++ < 100) {
		br_ssl_engine_context *from = a, *to = b;
		int dir;
		moved = 0;
		for (dir = 0; dir < 2; dir++, from = b, to = a) {
			size_t len, room;
			unsigned char *src, *dst;
			if (!(br_ssl_engine_current_state(from) & BR_SSL_SENDREC) ||
			    !(br_ssl_engine_current_state(to) & BR_SSL_RECVREC))
				continue;
			src = br_ssl_engine_sendrec_buf(from, &len);
			dst = br_ssl_engine_recvrec_buf(to, &room);
			if (len > room)
				len = room;
			memcpy(dst, src, len);
			br_ssl_engine_sendrec_ack(from, len);
			br_ssl_engine_recvrec_ack(to, len);
			moved = 1;
		}
	}
}

TEST(test_tls_impl_handshake_prefers_x25519_with_ecdsa_p256)
{
	static br_ssl_server_context sc;
	static br_ssl_client_context cc;
	static br_x509_minimal_context xc;
	static br_x509_knownkey_context kk;
	static unsigned char sbuf[BR_SSL_BUFSIZE_BIDI], cbuf[BR_SSL_BUFSIZE_BIDI];
	br_ssl_session_parameters sp;
	make_ec_key();
	tls_impl_server_init(&sc, &chain, 1, NULL, &ec_sk, BR_KEYTYPE_EC);
	br_ssl_engine_set_buffer(&sc.eng, sbuf, sizeof(sbuf), 1);
	CHECK(br_ssl_server_reset(&sc));
	tls_impl_client_init(&cc, &xc, NULL, 0);
	br_x509_knownkey_init_ec(&kk, &ec_pk, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	br_ssl_engine_set_x509(&cc.eng, &kk.vtable);
	br_ssl_engine_set_buffer(&cc.eng, cbuf, sizeof(cbuf), 1);
	CHECK(br_ssl_client_reset(&cc, "localhost", 0));
	shuttle(&cc.eng, &sc.eng);
	CHECK_EQ_INT(br_ssl_engine_last_error(&cc.eng), BR_ERR_OK);
	CHECK_EQ_INT(br_ssl_engine_last_error(&sc.eng), BR_ERR_OK);
	CHECK(br_ssl_engine_current_state(&cc.eng) & BR_SSL_SENDAPP);
	CHECK(br_ssl_engine_current_state(&sc.eng) & BR_SSL_SENDAPP);
	CHECK_EQ_INT(cc.eng.ecdhe_curve, BR_EC_curve25519);
	br_ssl_engine_get_session_parameters(&sc.eng, &sp);
	CHECK_EQ_INT(sp.cipher_suite, BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
	CHECK_EQ_INT(sp.version, BR_TLS12);
}

int main(void)
{
	RUN(test_tls_impl_names_the_fastest_for_the_target);
	RUN(test_tls_impl_engines_use_the_table);
	RUN(test_tls_impl_handshake_prefers_x25519_with_ecdsa_p256);
	return unit_done();
}
