#include "edgehook/x509_san.h"

#include <string.h>

enum {
	TAG_BOOLEAN = 0x01,
	TAG_OCTET_STRING = 0x04,
	TAG_OID = 0x06,
	TAG_SEQUENCE = 0x30,
	TAG_EXTENSIONS = 0xa3, /* [3] EXPLICIT in TBSCertificate */
	TAG_SAN_IP = 0x87,     /* GeneralName iPAddress [7] IMPLICIT OCTET STRING */
};

static const uint8_t oid_san[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */

struct der {
	const uint8_t *p;
	size_t len, off;
};

/* Reads the next element's header: its tag, and a cursor over its
 * contents in *in; advances past the element. -1 when malformed. */
static int der_next(struct der *d, unsigned *tag, struct der *in)
{
	size_t o = d->off, n;
	if (d->len - o < 2)
		return -1;
	*tag = d->p[o++];
	if ((*tag & 0x1f) == 0x1f)
		return -1; /* high tag numbers: not in the structures we walk */
	n = d->p[o++];
	if (n & 0x80) {
		unsigned k = n & 0x7f;
		if (k == 0 || k > 4 || d->len - o < k)
			return -1;
		for (n = 0; k > 0; k--)
			n = n << 8 | d->p[o++];
	}
	if (n > d->len - o)
		return -1;
	in->p = d->p + o;
	in->len = n;
	in->off = 0;
	d->off = o + n;
	return 0;
}

static int der_enter(struct der *d, unsigned want, struct der *in)
{
	unsigned tag;
	return der_next(d, &tag, in) < 0 || tag != want ? -1 : 0;
}

/* GeneralNames: SEQUENCE OF GeneralName. */
static int names_have_ip(struct der *ext_value, const uint8_t *ip, size_t iplen)
{
	struct der names, name;
	unsigned tag;
	int found = 0;
	if (der_enter(ext_value, TAG_SEQUENCE, &names) < 0 || ext_value->off != ext_value->len)
		return -1;
	while (names.off < names.len) {
		if (der_next(&names, &tag, &name) < 0)
			return -1;
		if (tag == TAG_SAN_IP && name.len == iplen && memcmp(name.p, ip, iplen) == 0)
			found = 1;
	}
	return found;
}

int x509_san_has_ip(const uint8_t *der, size_t len, const uint8_t *ip, size_t iplen)
{
	struct der cert = {der, len, 0}, c, tbs, field, exts;
	unsigned tag;
	if ((iplen != 4 && iplen != 16) || der_enter(&cert, TAG_SEQUENCE, &c) < 0 || der_enter(&c, TAG_SEQUENCE, &tbs) < 0)
		return -1;
	do {
		if (tbs.off >= tbs.len)
			return 0; /* no extensions, so no SAN */
		if (der_next(&tbs, &tag, &field) < 0)
			return -1;
	} while (tag != TAG_EXTENSIONS);
	if (der_enter(&field, TAG_SEQUENCE, &exts) < 0)
		return -1;
	while (exts.off < exts.len) {
		struct der ext, oid, value;
		if (der_enter(&exts, TAG_SEQUENCE, &ext) < 0 || der_enter(&ext, TAG_OID, &oid) < 0 ||
		    der_next(&ext, &tag, &value) < 0)
			return -1;
		if (tag == TAG_BOOLEAN && der_next(&ext, &tag, &value) < 0)
			return -1;
		if (tag != TAG_OCTET_STRING)
			return -1;
		if (oid.len == sizeof(oid_san) && memcmp(oid.p, oid_san, sizeof(oid_san)) == 0)
			return names_have_ip(&value, ip, iplen);
	}
	return 0;
}
