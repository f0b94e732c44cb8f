/* SPDX-License-Identifier: MIT */
/* The grammar helpers several parsers share (internal.h): span comparisons, classes, numbers. */
#include "scan.h"

#include <string.h>

bool smtp_span_ieq(const char *ptr, size_t len, const char *lower_lit)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (lower_lit[i] == '\0' ||
            smtp_lower((unsigned char)ptr[i]) != (unsigned char)lower_lit[i])
            return false;
    }
    return lower_lit[i] == '\0';
}

bool smtp_span_iprefix(const char *ptr, size_t len, const char *lower_lit)
{
    size_t i = 0;
    for (; lower_lit[i] != '\0'; i++) {
        if (i >= len || smtp_lower((unsigned char)ptr[i]) != (unsigned char)lower_lit[i])
            return false;
    }
    return true;
}

bool smtp_span_ieq_span(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        if (smtp_lower((unsigned char)a[i]) != smtp_lower((unsigned char)b[i])) return false;
    }
    return true;
}

bool smtp_span_has_ctl(const char *p, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
#if defined(SMTP_SCAN_SSE2)
    /* 16 octets at a time, the last 16 overlapping the others: x <= 0x1F (unsigned) or DEL. */
    if (n >= 16 && !smtp_scan_portable) {
        const __m128i c0 = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
        for (;; i += 16) {
            if (i + 16 > n) i = n - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            __m128i m =
                _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, c0), v), _mm_cmpeq_epi8(v, del));
            if (_mm_movemask_epi8(m)) return true;
            if (i + 16 == n) return false;
        }
    }
#endif
    for (; i + 8 <= n; i += 8) { /* a word at a time: any byte below 0x20, or DEL */
        uint64_t x, del;
        memcpy(&x, p + i, 8);
        del = x ^ (ones * 0x7f);
        if (((x - ones * 0x20) & ~x & highs) | ((del - ones) & ~del & highs)) return true;
    }
    for (; i < n; i++) {
        if (smtp_is_ctl((unsigned char)p[i])) return true;
    }
    return false;
}

bool smtp_is_sasl_mech(const char *p, size_t n)
{
    if (n == 0 || n > 20) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!smtp_is_alnum(c) && c != '-' && c != '_') return false;
    }
    return true;
}

int smtp_parse_uint(const char *p, size_t n, size_t max_digits, uint64_t limit, uint64_t *out)
{
    if (n == 0) return SMTP_ERR_SYNTAX;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_is_digit((unsigned char)p[i])) return SMTP_ERR_SYNTAX;
    }
    if (n > max_digits) return SMTP_ERR_OVERFLOW;
    uint64_t x = 0;
    if (n <= 19) { /* below 10^19: no uint64_t overflow, one compare at the end */
        for (size_t i = 0; i < n; i++)
            x = x * 10 + (unsigned)(p[i] - '0');
        if (x > limit) return SMTP_ERR_OVERFLOW;
        *out = x;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > limit || x > (limit - d) / 10) return SMTP_ERR_OVERFLOW;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}
