/* x509_san: the iPAddress entries of a certificate's subjectAltName.
 *
 * BearSSL's X.509 engines match DNS names only; an https URL whose host
 * is an IP literal is matched against the end-entity certificate's
 * iPAddress SANs with this (RFC 5280 4.2.1.6; RFC 6125 keeps IP
 * addresses out of the common name). A strict DER walk over the
 * certificate, nothing else is interpreted. */
#ifndef EDGEHOOK_X509_SAN_H
#define EDGEHOOK_X509_SAN_H

#include <stddef.h>
#include <stdint.h>

/* 1 when an iPAddress SAN equals ip (4 or 16 bytes), 0 when none does,
 * -1 when the certificate cannot be walked. */
int x509_san_has_ip(const uint8_t *der, size_t len, const uint8_t *ip, size_t iplen);

#endif
