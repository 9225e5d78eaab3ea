/*
 * crc32c.h - CRC32C (Castagnoli) with the SSE4.2 crc32 instruction where
 * the CPU has it (checked once at run time), a slicing-by-8 table loop
 * elsewhere. Both give the same result.
 */
#ifndef FY_CRC32C_H
#define FY_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* crc is 0 to start; pass the result back in to continue. */
uint32_t fy_crc32c(uint32_t crc, const void *buf, size_t len);

/* The table loop alone, whatever the CPU (tests compare the two). */
uint32_t fy_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Whether fy_crc32c uses the instruction on this machine. */
bool fy_crc32c_hw(void);

#endif
