/* iPAddress SANs read from DER certificates: matches, misses, and every
 * truncation of a well-formed certificate read without going past it. */
#include "unit.h"

#include "edgehook/x509_san.h"

#include <stdint.h>
#include <stdlib.h>

/* Only the structure the walker reads: Certificate { TBSCertificate {
 * version, serial, ..., [3] { Extensions } } }. keyUsage (critical) comes
 * first so the BOOLEAN is skipped; the SAN holds a dNSName, 127.0.0.1
 * and ::1. The extensions' length uses the long form. */
static const uint8_t cert[] = {
	0x30, 0x52,                                      /* Certificate */
	0x30, 0x50,                                      /* TBSCertificate */
	0xa0, 0x03, 0x02, 0x01, 0x02,                    /* [0] version v3 */
	0x02, 0x01, 0x01,                                /* serial */
	0x30, 0x00,                                      /* (signature, issuer ...) */
	0xa3, 0x81, 0x43,                                /* [3] */
	0x30, 0x41,                                      /* Extensions */
	0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x05, 0xa0,
	0x30, 0x2f, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x28, /* subjectAltName */
	0x30, 0x26,                                      /* GeneralNames */
	0x82, 0x0c, 's', 'i', 'n', 'k', '.', 't', 'e', 's', 't', '.', 'x', 'y',
	0x87, 0x04, 127, 0, 0, 1,
	0x87, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static const uint8_t v4[4] = {127, 0, 0, 1}, v4_other[4] = {127, 0, 0, 2};
static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

TEST(ip_san_matches_exact_address)
{
	CHECK_EQ_INT(x509_san_has_ip(cert, sizeof(cert), v4, 4), 1);
	CHECK_EQ_INT(x509_san_has_ip(cert, sizeof(cert), v6, 16), 1);
	CHECK_EQ_INT(x509_san_has_ip(cert, sizeof(cert), v4_other, 4), 0);
	/* the first 4 bytes of ::1 are not 0.0.0.0's SAN, nor is a bad length */
	CHECK_EQ_INT(x509_san_has_ip(cert, sizeof(cert), v6, 4), 0);
	CHECK_EQ_INT(x509_san_has_ip(cert, sizeof(cert), v4, 5), -1);
}

TEST(ip_san_truncations_never_match_or_overread)
{
	size_t n;
	for (n = 0; n < sizeof(cert); n++) {
		/* an exact-size copy: ASan sees any read past the end */
		uint8_t *p = malloc(n ? n : 1);
		CHECK(p != NULL);
		memcpy(p, cert, n);
		CHECK(x509_san_has_ip(p, n, v4, 4) == -1);
		free(p);
	}
}

TEST(ip_san_absent_without_extensions)
{
	static const uint8_t bare[] = {0x30, 0x07, 0x30, 0x05, 0x02, 0x01, 0x01, 0x30, 0x00};
	static const uint8_t bad_len[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff};
	CHECK_EQ_INT(x509_san_has_ip(bare, sizeof(bare), v4, 4), 0);
	CHECK_EQ_INT(x509_san_has_ip(bad_len, sizeof(bad_len), v4, 4), -1);
}

int main(void)
{
	RUN(ip_san_matches_exact_address);
	RUN(ip_san_truncations_never_match_or_overread);
	RUN(ip_san_absent_without_extensions);
	return unit_done();
}
