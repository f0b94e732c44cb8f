/* SPDX-License-Identifier: MIT */
/*
 * The line-end scanner (internal): finds the next CR or LF in a span, the one search the DATA
 * decoder and encoder make per line, and the line framer's (CR, LF or NUL).
 *
 * Three ways, one answer: SSE2 on x86-64 (every x86-64 CPU has it), NEON on little-endian
 * AArch64, and a portable one (lib/scan.c: 8 octets a word, then octet by octet) that every
 * other target builds and that the tests run too (smtp_scan_portable). The SIMD loops are
 * inline: the coders call them once per line, and a call costs a fifth of a line's scan.
 *
 * How it works. One pass looks for CR and LF (and NUL) at once, where memchr would need a
 * search per byte value. SSE2 compares 32 octets per iteration (two 16-octet registers, one
 * movemask each), NEON 16 (a narrowing shift packs its mask into 64 bits); loads are unaligned
 * and never cross `end`: the last few octets go through the portable path.
 */
#ifndef SMTP_SCAN_H
#define SMTP_SCAN_H

#include "internal.h"

#if !(defined(__GNUC__) || defined(__clang__))
/* The SIMD paths use __builtin_ctz: other compilers build the portable one. */
#elif defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define SMTP_SCAN_SSE2 1
#elif defined(__aarch64__) && defined(__ARM_NEON) && defined(__ORDER_LITTLE_ENDIAN__) &&           \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <arm_neon.h>
#define SMTP_SCAN_NEON 1
#endif

/*
 * Nonzero: the scanner takes the portable path even where a SIMD one is built. For the tests
 * (tests/vec.c replays the DATA and command vectors both ways); 0 by default. Not thread-safe
 * to change while another thread scans.
 */
extern int smtp_scan_portable;

/* Whether this build has a SIMD path (else smtp_scan_portable changes nothing). */
extern const int smtp_scan_has_simd;

#if defined(SMTP_SCAN_SSE2)
/*
 * x86-64 (GCC or Clang, as every SIMD path): a few loops have an AVX2 variant too, a
 * target("avx2") function taken at run time where the CPU and the system have AVX2 (CPUID and
 * XGETBV, asked once: no library call, as the core may make none), the SSE2 one elsewhere.
 */
#define SMTP_SCAN_AVX2 1
#include <immintrin.h>
#endif

/*
 * Nonzero: the AVX2 variants are not taken even where the CPU has AVX2 (the SSE2 ones are). For
 * the tests, which run each path; 0 by default. Exists in every build (it changes nothing
 * without SMTP_SCAN_AVX2).
 */
extern int smtp_scan_no_avx2;

/* Whether the CPU runs this build's AVX2 variants: 1 or 0 (asked of the CPU on the first call,
 * then remembered). */
int smtp_scan_avx2_available(void);

/* What smtp_scan_avx2_available found: 1 or 0, -1 before its first call. */
extern int smtp_scan_cpu_avx2_;

/* Whether the AVX2 variants are taken: built, the CPU has AVX2, and not turned off. */
static inline int smtp_scan_avx2(void)
{
#if defined(SMTP_SCAN_AVX2)
    if (smtp_scan_portable || smtp_scan_no_avx2) return 0;
    int known = __atomic_load_n(&smtp_scan_cpu_avx2_, __ATOMIC_RELAXED);
    return known >= 0 ? known : smtp_scan_avx2_available();
#else
    return 0;
#endif
}

/* The portable path: the first CR or LF (or, with `nul`, NUL) in [p, end), or `end`. */
const char *smtp_scan_eol_portable(const char *p, const char *end, int nul);

#if defined(SMTP_SCAN_SSE2)
/* The octets of v that are CR, LF or (with `nul`) NUL, as a 16-bit mask. */
static inline unsigned smtp_scan_sse2_mask(__m128i v, int nul)
{
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    if (nul) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    return (unsigned)_mm_movemask_epi8(m);
}

static inline const char *smtp_scan_simd(const char *p, const char *end, int nul)
{
    while (end - p >= 32) {
        unsigned m =
            smtp_scan_sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)p), nul) |
            smtp_scan_sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), nul)
                << 16;
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    if (end - p >= 16) {
        unsigned m = smtp_scan_sse2_mask(_mm_loadu_si128((const __m128i *)(const void *)p), nul);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
    return smtp_scan_eol_portable(p, end, nul);
}
#elif defined(SMTP_SCAN_NEON)
static inline const char *smtp_scan_simd(const char *p, const char *end, int nul)
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
    return smtp_scan_eol_portable(p, end, nul);
}
#endif

/* smtp_scan_eol returns the first CR or LF in [p, end), or `end` when there is none. */
static inline const char *smtp_scan_eol(const char *p, const char *end)
{
#if defined(SMTP_SCAN_SSE2) || defined(SMTP_SCAN_NEON)
    if (!smtp_scan_portable) return smtp_scan_simd(p, end, 0);
#endif
    return smtp_scan_eol_portable(p, end, 0);
}

/*
 * A window for smtp_scan_eol_w: the CR and LF of 64 octets at `base`, one bit per octet, so that
 * the next line of a body is found in its bits without loading its octets again. Start with
 * SMTP_SCAN_WINDOW_INIT for each input span; only the SSE2 path fills it.
 */
typedef struct smtp_scan_window {
    const char *base; /* NULL: none */
    uint64_t bits;
} smtp_scan_window;
#define SMTP_SCAN_WINDOW_INIT                                                                      \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/*
 * smtp_scan_eol_w is smtp_scan_eol for a caller that scans on from each line end it finds in
 * the same span [p, end): what one call loaded, the next reuses (`w`, kept between the calls).
 */
static inline const char *smtp_scan_eol_w(smtp_scan_window *w, const char *p, const char *end)
{
#if defined(SMTP_SCAN_SSE2)
    if (smtp_scan_portable) return smtp_scan_eol_portable(p, end, 0);
    if (w->base && p >= w->base && p - w->base < 64) {
        uint64_t m = w->bits >> (p - w->base);
        if (m) return p + __builtin_ctzll(m);
        p = w->base + 64; /* within end: a window is only made of 64 octets at hand */
    }
    while (end - p >= 64) {
        uint64_t m = 0;
        for (int k = 0; k < 4; k++)
            m |= (uint64_t)smtp_scan_sse2_mask(
                     _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k)), 0)
                 << (16 * k);
        if (m) {
            w->base = p;
            w->bits = m;
            return p + __builtin_ctzll(m);
        }
        p += 64;
    }
    w->base = NULL;
#else
    (void)w;
#endif
    return smtp_scan_eol(p, end);
}

#if defined(SMTP_SCAN_SSE2)
/*
 * The octets 0x08-0x0F of the 64 at p, one bit each: CR and LF among them, found with one
 * comparison per 16 octets (x | 7 == 0x0F); the caller tells them from TAB and the other few
 * by looking at the octet. For the coders' blocks of plain lines (lib/data_encode.c,
 * lib/data_decode.c).
 */
static inline uint64_t smtp_scan_ctl8_mask64(const char *p)
{
    const __m128i seven = _mm_set1_epi8(7), fifteen = _mm_set1_epi8(15);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, seven), fifteen))
             << (16 * k);
    }
    return m;
}
#endif

/* smtp_scan_eol0 returns the first CR, LF or NUL in [p, end), or `end` (the line framer's). */
static inline const char *smtp_scan_eol0(const char *p, const char *end)
{
#if defined(SMTP_SCAN_SSE2) || defined(SMTP_SCAN_NEON)
    if (!smtp_scan_portable) return smtp_scan_simd(p, end, 1);
#endif
    return smtp_scan_eol_portable(p, end, 1);
}

#endif /* SMTP_SCAN_H */
