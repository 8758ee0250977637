#include "edgehook/tls_impl.h"
#include "edgehook/rand.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Word size for the constant-time fallbacks: ct64 on 64-bit targets. */
#define WIDE (UINTPTR_MAX > 0xffffffffu)

struct impl {
	const br_ec_impl *ec;
	br_ecdsa_sign ecdsa_sign;
	br_ecdsa_vrfy ecdsa_vrfy;
	br_rsa_private rsa_priv;
	br_rsa_pkcs1_sign rsa_sign;
	br_rsa_public rsa_pub;
	br_rsa_pkcs1_vrfy rsa_vrfy;
	const br_block_cbcenc_class *aes_cbcenc;
	const br_block_cbcdec_class *aes_cbcdec;
	const br_block_ctr_class *aes_ctr;
	const br_block_ctrcbc_class *aes_ctrcbc;
	br_ghash ghash;
	br_chacha20_run chacha;
	br_poly1305_run poly;
	char text[200];
};

static struct impl impl;
static int impl_ready;

static const struct impl *impl_get(void)
{
	const char *rsa = "i62", *aes = "x86ni", *ghash = "pclmul", *chacha = "sse2", *poly = "ctmulq";
	if (impl_ready)
		return &impl;
	impl.ec = &br_ec_all_m31;
	impl.ecdsa_sign = br_ecdsa_i31_sign_asn1;
	impl.ecdsa_vrfy = br_ecdsa_i31_vrfy_asn1;
	impl.rsa_priv = br_rsa_i62_private_get();
	impl.rsa_sign = br_rsa_i62_pkcs1_sign_get();
	impl.rsa_pub = br_rsa_i62_public_get();
	impl.rsa_vrfy = br_rsa_i62_pkcs1_vrfy_get();
	if (!impl.rsa_priv || !impl.rsa_sign || !impl.rsa_pub || !impl.rsa_vrfy) {
		impl.rsa_priv = br_rsa_i31_private;
		impl.rsa_sign = br_rsa_i31_pkcs1_sign;
		impl.rsa_pub = br_rsa_i31_public;
		impl.rsa_vrfy = br_rsa_i31_pkcs1_vrfy;
		rsa = "i31";
	}
	impl.aes_cbcenc = br_aes_x86ni_cbcenc_get_vtable();
	impl.aes_cbcdec = br_aes_x86ni_cbcdec_get_vtable();
	impl.aes_ctr = br_aes_x86ni_ctr_get_vtable();
	impl.aes_ctrcbc = br_aes_x86ni_ctrcbc_get_vtable();
	if (!impl.aes_cbcenc || !impl.aes_cbcdec || !impl.aes_ctr || !impl.aes_ctrcbc) {
		impl.aes_cbcenc = WIDE ? &br_aes_ct64_cbcenc_vtable : &br_aes_ct_cbcenc_vtable;
		impl.aes_cbcdec = WIDE ? &br_aes_ct64_cbcdec_vtable : &br_aes_ct_cbcdec_vtable;
		impl.aes_ctr = WIDE ? &br_aes_ct64_ctr_vtable : &br_aes_ct_ctr_vtable;
		impl.aes_ctrcbc = WIDE ? &br_aes_ct64_ctrcbc_vtable : &br_aes_ct_ctrcbc_vtable;
		aes = WIDE ? "ct64" : "ct";
	}
	if (!(impl.ghash = br_ghash_pclmul_get())) {
		impl.ghash = WIDE ? br_ghash_ctmul64 : br_ghash_ctmul;
		ghash = WIDE ? "ctmul64" : "ctmul";
	}
	if (!(impl.chacha = br_chacha20_sse2_get())) {
		impl.chacha = br_chacha20_ct_run;
		chacha = "ct";
	}
	if (!(impl.poly = br_poly1305_ctmulq_get())) {
		impl.poly = br_poly1305_ctmul_run;
		poly = "ctmul";
	}
	snprintf(impl.text, sizeof(impl.text),
		 "ec_p256=p256_m31 ec_x25519=c25519_m31 ecdsa=i31 rsa=%s aes=%s ghash=%s chacha20=%s poly1305=%s", rsa, aes,
		 ghash, chacha, poly);
	impl_ready = 1;
	return &impl;
}

const char *tls_impl_describe(void) { return impl_get()->text; }

static const br_hash_class *const hashes[] = {
	&br_md5_vtable, &br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
};

/* The engine seeds its DRBG at reset from BearSSL's system seeder, which
 * probes RDRAND with CPUID on every connection. The same 32 bytes from
 * getrandom(2), through rand.c's pool, without the probe. */
static void seed(br_ssl_engine_context *eng)
{
	unsigned char bytes[32];
	rand_bytes(bytes, sizeof(bytes));
	br_ssl_engine_inject_entropy(eng, bytes, sizeof(bytes));
	eng->rng_os_rand_done = 1;
	memset(bytes, 0, sizeof(bytes));
}

/* What br_ssl_*_init_full sets on the engine beside the suites and the
 * key policy, from the table instead of fresh CPUID probes. */
static void engine_setup(br_ssl_engine_context *eng, const uint16_t *suites, size_t nsuites)
{
	const struct impl *im = impl_get();
	int id;
	br_ssl_engine_set_versions(eng, BR_TLS10, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, nsuites);
	br_ssl_engine_set_ec(eng, im->ec);
	for (id = br_md5_ID; id <= br_sha512_ID; id++)
		br_ssl_engine_set_hash(eng, id, hashes[id - 1]);
	br_ssl_engine_set_prf10(eng, &br_tls10_prf);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_cbc(eng, &br_sslrec_in_cbc_vtable, &br_sslrec_out_cbc_vtable);
	br_ssl_engine_set_aes_cbc(eng, im->aes_cbcenc, im->aes_cbcdec);
	br_ssl_engine_set_des_cbc(eng, &br_des_ct_cbcenc_vtable, &br_des_ct_cbcdec_vtable);
	br_ssl_engine_set_ccm(eng, &br_sslrec_in_ccm_vtable, &br_sslrec_out_ccm_vtable);
	br_ssl_engine_set_aes_ctrcbc(eng, im->aes_ctrcbc);
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_aes_ctr(eng, im->aes_ctr);
	br_ssl_engine_set_ghash(eng, im->ghash);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, im->chacha);
	br_ssl_engine_set_poly1305(eng, im->poly);
	seed(eng);
}

/* Server lists: the forward-secret and RSA key-exchange suites of
 * br_ssl_server_init_full_ec/_rsa, in their order, without CCM, static
 * ECDH and 3DES. BearSSL matches every suite a client offers against
 * this list in its T0 interpreter (offered x listed steps; OpenSSL offers
 * about 30), which made that scan a tenth of a full handshake's CPU with
 * the 26-entry full list. The client list is br_ssl_client_init_full's. */
static const uint16_t server_ec_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
};

static const uint16_t server_rsa_suites[] = {
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
	BR_TLS_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_RSA_WITH_AES_256_CBC_SHA,
};

static const uint16_t client_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	BR_TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA,
	BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA,
	BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_RSA_WITH_AES_128_CCM,
	BR_TLS_RSA_WITH_AES_256_CCM,
	BR_TLS_RSA_WITH_AES_128_CCM_8,
	BR_TLS_RSA_WITH_AES_256_CCM_8,
	BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
	BR_TLS_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_RSA_WITH_AES_256_CBC_SHA,
	BR_TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	BR_TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA,
	BR_TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA,
	BR_TLS_RSA_WITH_3DES_EDE_CBC_SHA,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void tls_impl_server_init(br_ssl_server_context *sc, const br_x509_certificate *chain, size_t chain_len,
			  const br_rsa_private_key *rsa, const br_ec_private_key *ec, unsigned issuer_key_type)
{
	const struct impl *im = impl_get();
	br_ssl_server_zero(sc);
	if (rsa) {
		engine_setup(&sc->eng, server_rsa_suites, COUNT(server_rsa_suites));
		br_ssl_server_set_single_rsa(sc, chain, chain_len, rsa, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, im->rsa_priv,
					     im->rsa_sign);
	} else {
		engine_setup(&sc->eng, server_ec_suites, COUNT(server_ec_suites));
		br_ssl_server_set_single_ec(sc, chain, chain_len, ec, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN, issuer_key_type,
					    im->ec, im->ecdsa_sign);
	}
}

void tls_impl_client_init(br_ssl_client_context *cc, br_x509_minimal_context *xc, const br_x509_trust_anchor *tas,
			  size_t ntas)
{
	const struct impl *im = impl_get();
	int id;
	br_ssl_client_zero(cc);
	engine_setup(&cc->eng, client_suites, COUNT(client_suites));
	br_x509_minimal_init(xc, &br_sha256_vtable, tas, ntas);
	for (id = br_md5_ID; id <= br_sha512_ID; id++)
		br_x509_minimal_set_hash(xc, id, hashes[id - 1]);
	br_ssl_client_set_rsapub(cc, im->rsa_pub);
	br_ssl_engine_set_rsavrfy(&cc->eng, im->rsa_vrfy);
	br_ssl_engine_set_ecdsa(&cc->eng, im->ecdsa_vrfy);
	br_x509_minimal_set_rsa(xc, im->rsa_vrfy);
	br_x509_minimal_set_ecdsa(xc, im->ec, im->ecdsa_vrfy);
	br_ssl_engine_set_x509(&cc->eng, &xc->vtable);
}

static int engine_matches(const br_ssl_engine_context *eng)
{
	const struct impl *im = impl_get();
	return eng->iec == im->ec && eng->iaes_cbcenc == im->aes_cbcenc && eng->iaes_cbcdec == im->aes_cbcdec &&
	       eng->iaes_ctr == im->aes_ctr && eng->iaes_ctrcbc == im->aes_ctrcbc && eng->ighash == im->ghash &&
	       eng->ichacha == im->chacha && eng->ipoly == im->poly;
}

int tls_impl_server_matches(const br_ssl_server_context *sc, int rsa)
{
	const struct impl *im = impl_get();
	if (!engine_matches(&sc->eng))
		return 0;
	if (rsa)
		return sc->chain_handler.single_rsa.irsacore == im->rsa_priv &&
		       sc->chain_handler.single_rsa.irsasign == im->rsa_sign;
	return sc->chain_handler.single_ec.iec == im->ec && sc->chain_handler.single_ec.iecdsa == im->ecdsa_sign;
}

int tls_impl_client_matches(const br_ssl_client_context *cc, const br_x509_minimal_context *xc)
{
	const struct impl *im = impl_get();
	return engine_matches(&cc->eng) && cc->irsapub == im->rsa_pub && cc->eng.irsavrfy == im->rsa_vrfy &&
	       cc->eng.iecdsa == im->ecdsa_vrfy && xc->irsa == im->rsa_vrfy && xc->iec == im->ec &&
	       xc->iecdsa == im->ecdsa_vrfy;
}
