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

#if defined(SMTP_SCAN_AVX2)
#include <cpuid.h>
#endif

int smtp_scan_portable = 0;

#if defined(SMTP_SCAN_SSE2) || defined(SMTP_SCAN_NEON)
const int smtp_scan_has_simd = 1;
#else
const int smtp_scan_has_simd = 0;
#endif

int smtp_scan_no_avx2 = 0;
int smtp_scan_cpu_avx2_ = -1;

#if defined(SMTP_SCAN_AVX2)
/* AVX2 is usable when CPUID says AVX, OSXSAVE (leaf 1) and AVX2 (leaf 7), and the system saves
 * the SSE and AVX registers (XCR0 bits 1 and 2, read with XGETBV). */
static int cpu_avx2(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid(1, a, b, c, d);
    if (!(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & bit_AVX2) != 0;
}
#endif

int smtp_scan_avx2_available(void)
{
#if defined(SMTP_SCAN_AVX2)
    /* Threads that ask at once all find the same answer: a relaxed store is enough. */
    int known = __atomic_load_n(&smtp_scan_cpu_avx2_, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    known = cpu_avx2();
    __atomic_store_n(&smtp_scan_cpu_avx2_, known, __ATOMIC_RELAXED);
    return known;
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
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ORDER_LITTLE_ENDIAN__) &&               \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - p >= 4) {
        /* 4 to 7 octets: the first 4 and the last 4 (they overlap) as one word. The first
         * match among the first 4 is the first of all; else the first among the last 4 is. */
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, end - 4, 4);
        uint64_t x = lo | (uint64_t)hi << 32;
        uint64_t hit = zero_bytes(x ^ (ONES * '\r')) | zero_bytes(x ^ (ONES * '\n'));
        if (nul) hit |= zero_bytes(x);
        if (!hit) return end;
        unsigned i = (unsigned)__builtin_ctzll(hit) >> 3;
        return i < 4 ? p + i : end - 8 + i;
    }
#endif
    while (p < end && *p != '\r' && *p != '\n' && (!nul || *p != '\0'))
        p++;
    return p;
}
