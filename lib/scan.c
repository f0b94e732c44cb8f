/* SPDX-License-Identifier: MIT */
/*
 * The line-end scanner (see scan.h for the contract).
 *
 * How it works. A mail line is some 80 octets of text and then CRLF, so the search for CR or
 * LF is the DATA coder's inner loop. memchr finds one byte: two searches per line (LF, then a
 * CR before it), each a library call. Here one pass looks for both: SSE2 compares 32 octets
 * per iteration (two 16-octet registers against CR and against LF, one movemask), NEON 16;
 * the portable path tests a 64-bit word with the classic has-zero-byte expression on the word
 * XOR each of CR and LF (exact as a yes/no; on little-endian the lowest flagged byte is the
 * first match, elsewhere the word is walked octet by octet). Loads are unaligned and never
 * cross `end`: the last few octets go through the portable path.
 */
#include "scan.h"

#include <string.h>

#if !(defined(__GNUC__) || defined(__clang__))
/* The SIMD paths use __builtin_ctz: other compilers build the portable one. */
#elif defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define SCAN_SSE2 1
#elif defined(__aarch64__) && defined(__ARM_NEON) && defined(__ORDER_LITTLE_ENDIAN__) &&           \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <arm_neon.h>
#define SCAN_NEON 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SCAN_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define SCAN_LIKELY(x) (x)
#endif

int smtp_scan_portable = 0;

#if defined(SCAN_SSE2) || defined(SCAN_NEON)
const int smtp_scan_has_simd = 1;
#else
const int smtp_scan_has_simd = 0;
#endif

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when a byte of x is zero: exact as a yes/no, and its lowest flagged byte is the
 * lowest zero byte (a borrow only flags bytes above a zero one). */
static uint64_t zero_bytes(uint64_t x)
{
    return (x - ONES) & ~x & HIGHS;
}

/* `nul`: NUL is looked for too. */
static const char *scan_portable(const char *p, const char *end, int nul)
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

#if defined(SCAN_SSE2)
/* The octets of v that are CR, LF or (with `nul`) NUL, as a 16-bit mask. */
static unsigned sse2_mask(__m128i v, int nul)
{
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    if (nul) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    return (unsigned)_mm_movemask_epi8(m);
}

static const char *scan_simd(const char *p, const char *end, int nul)
{
    while (end - p >= 32) {
        unsigned m = sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)p), nul) |
                     sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), nul) << 16;
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    if (end - p >= 16) {
        unsigned m = sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)p), nul);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
    return scan_portable(p, end, nul);
}
#elif defined(SCAN_NEON)
static const char *scan_simd(const char *p, const char *end, int nul)
{
    const uint8x16_t cr = vdupq_n_u8('\r');
    const uint8x16_t lf = vdupq_n_u8('\n');
    while (end - p >= 16) {
        uint8x16_t v = vld1q_u8((const uint8_t *)p);
        uint8x16_t m = vorrq_u8(vceqq_u8(v, cr), vceqq_u8(v, lf));
        if (nul) m = vorrq_u8(m, vceqq_u8(v, vdupq_n_u8(0)));
        /* Four bits per octet: the narrowing shift packs the 128-bit mask into 64. */
        uint64_t bits =
            vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(m), 4)), 0);
        if (bits) return p + (__builtin_ctzll(bits) >> 2);
        p += 16;
    }
    return scan_portable(p, end, nul);
}
#endif

const char *smtp_scan_eol(const char *p, const char *end)
{
#if defined(SCAN_SSE2) || defined(SCAN_NEON)
    if (SCAN_LIKELY(!smtp_scan_portable)) return scan_simd(p, end, 0);
#endif
    return scan_portable(p, end, 0);
}

const char *smtp_scan_eol0(const char *p, const char *end)
{
#if defined(SCAN_SSE2) || defined(SCAN_NEON)
    if (SCAN_LIKELY(!smtp_scan_portable)) return scan_simd(p, end, 1);
#endif
    return scan_portable(p, end, 1);
}
