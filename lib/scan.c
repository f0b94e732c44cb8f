/* SPDX-License-Identifier: MIT */
/*
 * The line-end scanner's portable path and its switch (see scan.h; the SIMD loops are inline
 * there).
 *
 * How it works. A 64-bit word at a time: the classic has-zero-byte expression on the word XOR
 * each byte value looked for is exact as a yes/no, and its lowest flagged byte is the first
 * match (a borrow only flags bytes above a zero one), so on little-endian the count of
 * trailing zero bits finds it; elsewhere the word is walked octet by octet.
 */
#include "scan.h"

#include <string.h>

int smtp_scan_portable = 0;

#if defined(SMTP_SCAN_SSE2) || defined(SMTP_SCAN_NEON)
const int smtp_scan_has_simd = 1;
#else
const int smtp_scan_has_simd = 0;
#endif

int smtp_scan_no_avx2 = 0;

int smtp_scan_avx2_available(void)
{
#if defined(SMTP_SCAN_AVX2)
    return __builtin_cpu_supports("avx2") != 0;
#else
    return 0;
#endif
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when a byte of x is zero (its lowest flagged byte is the lowest zero byte). */
static uint64_t zero_bytes(uint64_t x)
{
    return (x - ONES) & ~x & HIGHS;
}

const char *smtp_scan_eol_portable(const char *p, const char *end, int nul)
{
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t hit = zero_bytes(x ^ (ONES * '\r')) | zero_bytes(x ^ (ONES * '\n'));
        if (nul) hit |= zero_bytes(x);
        if (hit) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ORDER_LITTLE_ENDIAN__) &&               \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(hit) >> 3);
#else
            break; /* the octet loop below finds it within these 8 */
#endif
        }
        p += 8;
    }
    while (p < end && *p != '\r' && *p != '\n' && (!nul || *p != '\0'))
        p++;
    return p;
}
