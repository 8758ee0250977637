/* tls_impl: which BearSSL implementations the engines run, chosen once.
 *
 * BearSSL's "full" init functions pick their algorithm implementations
 * on every call, and several of those picks execute CPUID (AES-NI,
 * PCLMUL, SSE2), which traps to the hypervisor on a VM: tens of
 * microseconds per connection. Here the fastest correct implementation
 * this build of BearSSL 0.6 has for the target is resolved on first use
 * and every engine is set up from that table:
 *
 *   EC        br_ec_all_m31: P-256 -> p256_m31, Curve25519 -> c25519_m31
 *             (BearSSL 0.6 ships no m62/m64 EC code; it came later)
 *   ECDSA     i31 sign/verify over that EC implementation
 *   RSA       i62 private/public/sign/verify where the compiler has a
 *             64x64->128 multiply (BR_INT128/BR_UMUL128), else i31
 *   AES       x86ni where the CPU has it, else ct64
 *   GHASH     pclmul, else ctmul64; ChaCha20 sse2, else ct;
 *   Poly1305  ctmulq, else ctmul
 *
 * The cipher suites and versions are those of br_ssl_*_init_full (TLS
 * 1.0-1.2); the server picks X25519 first for ECDHE and the client
 * offers it first. */
#ifndef EDGEHOOK_TLS_IMPL_H
#define EDGEHOOK_TLS_IMPL_H

#include <bearssl.h>

/* One line naming the implementations, e.g. "ec_p256=p256_m31 ..."; the
 * same table the engines are set up from. */
const char *tls_impl_describe(void);

void tls_impl_server_init(br_ssl_server_context *sc, const br_x509_certificate *chain, size_t chain_len,
			  const br_rsa_private_key *rsa, const br_ec_private_key *ec, unsigned issuer_key_type);
void tls_impl_client_init(br_ssl_client_context *cc, br_x509_minimal_context *xc, const br_x509_trust_anchor *tas,
			  size_t ntas);

/* 1 when every implementation the engine (and its key policy, for an
 * RSA or EC key, or X.509 engine) holds is the one from the table, else
 * 0. For tests. */
int tls_impl_server_matches(const br_ssl_server_context *sc, int rsa);
int tls_impl_client_matches(const br_ssl_client_context *cc, const br_x509_minimal_context *xc);

#endif
