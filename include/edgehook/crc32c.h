/* crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of spool records. Table-driven, eight bytes per step; the
 * tables are built once on first use, from the thread that first calls it
 * (the loop: the spool's I/O thread never computes checksums).
 *
 *   crc32c(0, "123456789", 9) == 0xE3069283
 *
 * crc may be a previous result to continue over split data. */
#ifndef EDGEHOOK_CRC32C_H
#define EDGEHOOK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
