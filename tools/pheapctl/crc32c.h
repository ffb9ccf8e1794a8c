/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc32c.h -- CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected,
 * initial value and final xor 0xFFFFFFFF), the checksum of the archives
 * of pheapctl export --archive (archive.h).  crc32c(0, "123456789", 9) is
 * 0xE3069283.
 */
#ifndef PHEAPCTL_CRC32C_H
#define PHEAPCTL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* the CRC of buf continued from crc (0 to start: crc32c(crc32c(0, a), b)
 * is the CRC of a followed by b) */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
