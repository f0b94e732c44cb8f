/* SPDX-License-Identifier: MIT */
/*
 * JSON lines (json.h). Most strings need no escape: the escaper first judges the whole string
 * and copies it in the same blocks (SSE2 16 octets at a time, else a word of 8; the last block
 * overlaps the one before, so no load passes the end). Otherwise it copies runs of printable
 * ASCII other than '"' and '\\' whole (a word of 8 octets at a time, then octet by octet), and
 * looks at every other position: either the start of a well-formed UTF-8 sequence (RFC 3629 4,
 * the table of valid byte ranges), copied, or one stray or control byte, escaped, so no input
 * can produce invalid JSON or invalid UTF-8. The buffer is flushed only when full or at the end
 * of the line.
 */
#include "json.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

size_t ex_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte (RFC 3629 4) */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;        /* no overlong */
        if (c == 0xed) hi = 0x9f;        /* no surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) { /* up to U+10FFFF */
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

void ex_jline_init(ex_jline *j, int fd)
{
    j->fd = fd;
    j->len = 0;
}

int ex_jline_flush(ex_jline *j)
{
    const char *p = j->buf;
    size_t left = j->len;
    j->len = 0;
    while (left > 0) {
        ssize_t n = write(j->fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* A non-blocking descriptor inherited (a pipe shared with node, say): wait
                 * until it takes more, as the blocking write stdio would have done. */
                struct pollfd pfd = {j->fd, POLLOUT, 0};
                if (poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
            }
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* Room for `n` more bytes (n <= EX_JLINE_CAP), flushing first when needed. */
static void need(ex_jline *j, size_t n)
{
    if (EX_JLINE_CAP - j->len < n) (void)ex_jline_flush(j);
}

void ex_jline_raw_slow(ex_jline *j, const char *s, size_t n)
{
    while (n > 0) {
        if (j->len == EX_JLINE_CAP) (void)ex_jline_flush(j);
        size_t k = EX_JLINE_CAP - j->len;
        if (k > n) k = n;
        memcpy(j->buf + j->len, s, k);
        j->len += k;
        s += k;
        n -= k;
    }
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but '"' (0x22) and '\\'
 * (0x5c) (RFC 8259 7). A table: one load per byte, where the four comparisons cost a quarter
 * of the line (callgrind). */
static const unsigned char plain[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    /* 0x80 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xa0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xb0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xc0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xd0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xe0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xf0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Whether the 8 octets of the word x are all plain: none below 0x20, none at or above 0x7f,
 * no '"' and no '\\' (each test is the has-a-zero-byte or has-a-byte-below expression on the
 * word, exact as a yes/no). */
static int plain8(uint64_t x)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), d = x ^ (ones * 0x7f);
    return !(
        (((x - ones * 0x20) & ~x) | x | ((q - ones) & ~q) | ((b - ones) & ~b) | ((d - ones) & ~d)) &
        highs);
}

static uint64_t load8(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

#if defined(__SSE2__)
/* The plain octets of the 16 in v, one bit each: signed, the bytes above 0x1f are 0x20-0x7f;
 * of those, '"', '\\' and DEL are not plain. */
static unsigned plain_bits(__m128i v)
{
    __m128i bad = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
        _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(
        _mm_andnot_si128(bad, _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f))));
}
#endif

/*
 * Copies the `len` octets at u to o if they are all plain, in blocks whose last one overlaps
 * the one before (never a load past the end): each block is loaded once, judged and stored.
 * Returns 0 at the first block that is not plain (o then holds a part, to be overwritten).
 */
static int copy_plain(char *o, const unsigned char *u, size_t len)
{
    size_t i = 0;
#if defined(__SSE2__)
    __m128i v;
    if (len >= 16) {
        for (; i + 16 <= len; i += 16) {
            v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
            if (plain_bits(v) != 0xffff) return 0;
            _mm_storeu_si128((__m128i *)(void *)(o + i), v);
        }
        if (i == len) return 1;
        v = _mm_loadu_si128((const __m128i *)(const void *)(u + len - 16));
        if (plain_bits(v) != 0xffff) return 0;
        _mm_storeu_si128((__m128i *)(void *)(o + len - 16), v);
        return 1;
    }
    if (len >= 8) { /* the first 8 and the last 8, judged together */
        __m128i a = _mm_loadl_epi64((const __m128i *)(const void *)u);
        __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(u + len - 8));
        if (plain_bits(_mm_unpacklo_epi64(a, b)) != 0xffff) return 0;
        _mm_storel_epi64((__m128i *)(void *)o, a);
        _mm_storel_epi64((__m128i *)(void *)(o + len - 8), b);
        return 1;
    }
#else
    if (len >= 8) {
        uint64_t x;
        for (; i + 8 <= len; i += 8) {
            if (!plain8(x = load8(u + i))) return 0;
            memcpy(o + i, &x, 8);
        }
        if (i == len) return 1;
        if (!plain8(x = load8(u + len - 8))) return 0;
        memcpy(o + len - 8, &x, 8);
        return 1;
    }
#endif
    for (; i < len; i++) {
        if (!plain[u[i]]) return 0;
        o[i] = (char)u[i];
    }
    return 1;
}

/* ex_jline_string for a string with something to escape (or too long for the buffer's room):
 * plain runs copied whole, the rest octet by octet. Kept out of line: the common case needs
 * none of its registers. */
static NOINLINE void string_slow(ex_jline *j, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    need(j, 1);
    j->buf[j->len++] = '"';
    for (size_t i = 0; i < len;) {
        size_t run = i;
        while (run + 8 <= len && plain8(load8(u + run)))
            run += 8;
        while (run < len && plain[u[run]])
            run++;
        if (run > i) {
            ex_jline_raw(j, s + i, run - i);
            i = run;
            continue;
        }
        need(j, 6); /* the longest escape: \u00XX */
        char *o = j->buf + j->len;
        unsigned char c = u[i];
        size_t n = ex_utf8_seq(u + i, len - i);
        if (n > 1) {
            memcpy(o, u + i, n);
            j->len += n;
            i += n;
            continue;
        }
        i++;
        const char *esc = NULL;
        switch (n == 0 ? 0 : c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc != NULL) {
            o[0] = esc[0];
            o[1] = esc[1];
            j->len += 2;
        } else { /* a control byte, DEL, or a byte outside valid UTF-8 */
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            j->len += 6;
        }
    }
    need(j, 1);
    j->buf[j->len++] = '"';
}

void ex_jline_string(ex_jline *j, const char *s, size_t len)
{
    size_t room = EX_JLINE_CAP - j->len;
    char *o = j->buf + j->len;
    if (room >= 2 && len <= room - 2 && copy_plain(o + 1, (const unsigned char *)s, len)) {
        /* The common case: nothing to escape, copied whole with its quotes. */
        o[0] = '"';
        o[len + 1] = '"';
        j->len += len + 2;
        return;
    }
    string_slow(j, s, len);
}

/* ex_jline_u64 where the line's buffer has no room for the digits: through a flush. Kept out
 * of line, as string_slow. */
static NOINLINE void u64_slow(ex_jline *j, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    ex_jline_raw_slow(j, digits + sizeof digits - n, n);
}

void ex_jline_u64(ex_jline *j, uint64_t v)
{
    /* Two digits a step, from a table of the hundred pairs, written from the last one back
     * straight into the line (its length counted first). */
    static const char pairs[] = "000102030405060708091011121314151617181920212223242526272829"
                                "303132333435363738394041424344454647484950515253545556575859"
                                "606162636465666768697071727374757677787980818283848586878889"
                                "90919293949596979899";
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    if (EX_JLINE_CAP - j->len < n) {
        u64_slow(j, v);
        return;
    }
    char *o = j->buf + j->len + n;
    while (v >= 100) {
        o -= 2;
        memcpy(o, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        o -= 2;
        memcpy(o, pairs + 2 * v, 2);
    } else {
        *--o = (char)('0' + v);
    }
    j->len += n;
}
