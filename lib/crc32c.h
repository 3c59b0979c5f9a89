/* crc32c.h: CRC-32C (Castagnoli), the checksum of every stream record. */
#ifndef PFREZ_CRC32C_H
#define PFREZ_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over buf; start with crc = 0.  Uses SSE4.2 when the CPU
 * has it.  crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

#endif
