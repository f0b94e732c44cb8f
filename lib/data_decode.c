/* SPDX-License-Identifier: MIT */
/*
 * The DATA unstuffing decoder (server side), RFC 5321 4.5.2 and 4.1.1.4.
 *
 * How it works. The decoder is a small state machine whose states only matter at line starts
 * and around CR; inside a line (state MID) it scans for the next CR or LF (scan.h: one pass,
 * SIMD where there is some), and extends a zero-copy span over everything that is plain content,
 * across any number of lines. A span stops:
 *  - at a line start followed by '.' (the next call decides: stuffed dot or end of data);
 *  - at a CR that ends the chunk (held in state CR: the next byte tells CRLF from bare CR);
 *  - at a bare LF/CR that the NORMALIZE policy rewrites (the CRLF comes from static storage);
 *  - at the end of the chunk.
 * So the decoder never copies and its only "carry" is its state: a held CR, a held line-start
 * dot, or a held ".\r" — all known bytes, delivered (if at all) from static storage.
 *
 * A line starts only at the start of data or after CRLF. A bare LF or bare CR never starts a
 * line, so it never takes part in an end of data or in unstuffing: "\n.\n", "\n.\r\n",
 * "\r\n.\n", "\r.\r" and friends are content. We chose this over Postfix's
 * smtpd_forbid_bare_newline=normalize, which treats LF-terminated lines as lines (unstuffing a
 * '.' after a bare LF) but accepts only CRLF.CRLF as the end: with one definition of "line
 * start" for both rules, the decoder is the exact inverse of a conforming encoder (whose
 * output never has a bare LF) and no two readings of the same bytes can disagree on where
 * the message ends. A '.' at a real line start followed by a bare CR or LF is stuffing and is
 * removed (the line has other characters, RFC 5321 4.5.2), as Postfix does.
 *
 * Line lengths (RFC 5321 4.5.3.1.6) are counted on the delivered content (stuffed dots
 * excluded, CRLF included) and only flagged: a long line is a peer's fault the server may
 * tolerate, not a reason to lose sync.
 */
#include "scan.h"

#include <smtp/data.h>

#include <string.h>

enum {
    ST_LINE_START, /* at the start of a line: a '.' here is stuffing or the end */
    ST_MID,        /* inside a line */
    ST_CR,         /* a CR was consumed and not delivered; its next byte decides */
    ST_DOT,        /* a line-start '.' was consumed */
    ST_DOT_CR,     /* a line-start ".\r" was consumed */
    ST_EMIT_LF,    /* NORMALIZE: deliver the LF that completes a bare CR */
    ST_EMIT_CRLF,  /* NORMALIZE: deliver the CRLF that replaces a bare LF */
    ST_END         /* CRLF.CRLF was read */
};

static const char crlf[] = "\r\n";

void smtp_data_decoder_init(smtp_data_decoder *dec, smtp_data_policy policy)
{
    if (!dec) return;
    dec->size_ = 0;
    dec->line_start_ = 0;
    dec->state_ = ST_LINE_START; /* RFC 5321 4.1.1.4: data starts at a line start */
    dec->flags_ = 0;
    switch (policy) {
    case SMTP_DATA_BARE_NORMALIZE:
    case SMTP_DATA_BARE_ALLOW: dec->policy_ = (unsigned char)policy; break;
    case SMTP_DATA_BARE_REJECT:
    default: dec->policy_ = SMTP_DATA_BARE_REJECT; break;
    }
}

uint64_t smtp_data_decoder_size(const smtp_data_decoder *dec)
{
    return dec ? dec->size_ : 0;
}

unsigned smtp_data_decoder_flags(const smtp_data_decoder *dec)
{
    return dec ? dec->flags_ : 0;
}

/* A content line ends at decoded offset `end_off` (just after its LF). */
static void line_end(smtp_data_decoder *d, uint64_t end_off)
{
    if (end_off - d->line_start_ > SMTP_DATA_MAX_LINE) d->flags_ |= SMTP_DATA_FLAG_LONG_LINE;
    d->line_start_ = end_off;
}

static void saw_bare(smtp_data_decoder *d, unsigned flag)
{
    d->flags_ |= (unsigned char)flag;
    if (d->policy_ == SMTP_DATA_BARE_REJECT) d->flags_ |= SMTP_DATA_FLAG_REJECT;
}

/* Delivers a span; a partial line already over the limit is flagged at once. */
static int deliver(smtp_data_decoder *d, smtp_span *out, const char *ptr, size_t len)
{
    out->ptr = ptr;
    out->len = len;
    d->size_ += len;
    if (d->size_ - d->line_start_ > SMTP_DATA_MAX_LINE) d->flags_ |= SMTP_DATA_FLAG_LONG_LINE;
    return SMTP_DATA_CONTENT;
}

/* Delivers static bytes ending with LF: they end a content line. */
static int deliver_eol(smtp_data_decoder *d, smtp_span *out, const char *eol, size_t len)
{
    deliver(d, out, eol, len);
    line_end(d, d->size_);
    return SMTP_DATA_CONTENT;
}

/* A bare CR whose CR was held (state CR or DOT_CR): delivered from static storage. */
static int deliver_held_bare_cr(smtp_data_decoder *d, smtp_span *out)
{
    saw_bare(d, SMTP_DATA_FLAG_BARE_CR);
    d->state_ = ST_MID;
    if (d->policy_ == SMTP_DATA_BARE_NORMALIZE) return deliver_eol(d, out, crlf, 2);
    return deliver(d, out, crlf, 1);
}

#if defined(SMTP_SCAN_SSE2)
/*
 * The common case, 64 octets at a time: blocks of plain lines, whose CR and LF octets are all
 * CRLF pairs within the block (so no bare CR or LF, and no CR at the block's end whose LF
 * would be in the next), and where no line starts with '.' (the octet after each CRLF is
 * checked, the one past the block too). Such a block is content as it is: the span runs on
 * over it. Line lengths: a line within the run is no longer than the distance between two
 * LFs, so only the first line (begun before) is measured, and a block without LF stops the
 * run once the line so far and the next block could be over the limit (the scalar loop
 * measures it). Returns where the first block that is not plain starts (the scalar loop takes
 * it), or where fewer than 66 octets are left. `p` is never a line start with '.' and never
 * follows a CR (state MID).
 */
static const char *plain_blocks(smtp_data_decoder *d, const char *start, const char *p,
                                const char *end)
{
    const char *last = NULL; /* after the last LF of the run */
    while (end - p > 65) {
        const char *after = NULL, *first = NULL;
        for (uint64_t m = smtp_scan_ctl8_mask64(p); m;) {
            unsigned i = (unsigned)__builtin_ctzll(m);
            if (p[i] != '\r') {
                if (p[i] == '\n') goto out; /* a bare LF */
                m &= m - 1;                  /* TAB, FF...: content */
                continue;
            }
            /* A CR: its LF next (in the block), and the line after them does not start with
             * '.'. */
            if (i == 63 || p[i + 1] != '\n' || p[i + 2] == '.') goto out;
            m &= m - 1;
            m &= m - 1;
            after = p + i + 2;
            if (!first) first = after;
        }
        if (after) {
            if (!last &&
                d->size_ + (uint64_t)(first - start) - d->line_start_ > SMTP_DATA_MAX_LINE)
                d->flags_ |= SMTP_DATA_FLAG_LONG_LINE; /* the run's first line, begun before */
            last = after;
        } else if (last && p + 128 - last > SMTP_DATA_MAX_LINE) {
            break; /* with the next block, a line that may be long: the scalar loop measures */
        }
        p += 64;
    }
out:
    if (last) d->line_start_ = d->size_ + (uint64_t)(last - start);
    return p;
}
#endif

#if defined(SMTP_SCAN_AVX2)
/*
 * plain_blocks with AVX2, the same blocks by another test: a block of 64 octets is plain when
 * each of its octets is a CR exactly when the octet after it is an LF (the 65th octet is
 * looked at too), and no octet two after a CR is '.'. One comparison per 32 octets for CR,
 * for LF one octet on and for '.' two on (unaligned loads) find them all, with no walk over
 * the lines; the CR bits then give the first and last line end for the line lengths, as in
 * plain_blocks. An LF at `p` itself follows no CR in the block: it is bare, left to the scalar
 * loop, and so is a CR that is the 64th octet (a block must not start with the LF of a CRLF:
 * the scalar loop would take that LF for a bare one).
 */
__attribute__((target("avx2"))) static const char *
plain_blocks_avx2(smtp_data_decoder *d, const char *start, const char *p, const char *end)
{
    const __m256i cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n'),
                  dot = _mm256_set1_epi8('.');
    const char *last = NULL; /* after the last LF of the run */
    if (end - p > 65 && *p == '\n') return p;
#define LOAD(o) _mm256_loadu_si256((const __m256i *)(const void *)(p + (o)))
    while (end - p > 65) {
        __m256i c0 = _mm256_cmpeq_epi8(LOAD(0), cr), c1 = _mm256_cmpeq_epi8(LOAD(32), cr);
        __m256i bad = _mm256_or_si256(
            _mm256_or_si256(_mm256_xor_si256(c0, _mm256_cmpeq_epi8(LOAD(1), lf)),
                            _mm256_and_si256(c0, _mm256_cmpeq_epi8(LOAD(2), dot))),
            _mm256_or_si256(_mm256_xor_si256(c1, _mm256_cmpeq_epi8(LOAD(33), lf)),
                            _mm256_and_si256(c1, _mm256_cmpeq_epi8(LOAD(34), dot))));
        if (!_mm256_testz_si256(bad, bad)) break;
        uint64_t m = (uint64_t)(uint32_t)_mm256_movemask_epi8(c0) |
                     (uint64_t)(uint32_t)_mm256_movemask_epi8(c1) << 32;
        if (m >> 63) break; /* its LF would start the next block: the scalar loop takes it */
        if (m) {
            if (!last && d->size_ + (uint64_t)(p + __builtin_ctzll(m) + 2 - start) -
                                 d->line_start_ >
                             SMTP_DATA_MAX_LINE)
                d->flags_ |= SMTP_DATA_FLAG_LONG_LINE; /* the run's first line, begun before */
            last = p + (63 - __builtin_clzll(m)) + 2;
        } else if (last && p + 128 - last > SMTP_DATA_MAX_LINE) {
            break; /* with the next block, a line that may be long: the scalar loop measures */
        }
        p += 64;
    }
#undef LOAD
    if (last) d->line_start_ = d->size_ + (uint64_t)(last - start);
    return p;
}
#endif

/*
 * Scans content from p (state MID) and returns one span, or NEED_INPUT when the chunk ends
 * with nothing to deliver. Each step finds the next CR or LF (scan.h): in mail that is the
 * CRLF ending the line, so a line costs one search and the span runs on to the next line.
 */
static int scan(smtp_data_decoder *d, const char *data, const char *p, const char *end,
                smtp_span *out, size_t *consumed)
{
    const char *start = p;
    smtp_scan_window w = SMTP_SCAN_WINDOW_INIT;
#if defined(SMTP_SCAN_SSE2)
    /* Where plain blocks may be tried again: past a block found not plain, which the scalar
     * loop below reads line by line. */
    const char *retry = smtp_scan_portable ? end : p;
#endif
#if defined(SMTP_SCAN_AVX2)
    const int avx2 = smtp_scan_avx2();
#endif
    while (p < end) {
#if defined(SMTP_SCAN_SSE2)
        if (p >= retry) {
#if defined(SMTP_SCAN_AVX2)
            p = avx2 ? plain_blocks_avx2(d, start, p, end) : plain_blocks(d, start, p, end);
#else
            p = plain_blocks(d, start, p, end);
#endif
            retry = p + 64;
            if (p == end) break;
        }
#endif
        const char *q = smtp_scan_eol_w(&w, p, end);
        if (q == end) {
            p = end;
            break;
        }
        if (*q == '\n') {
            /* A bare LF: content (or CRLF under NORMALIZE), never a line start. */
            saw_bare(d, SMTP_DATA_FLAG_BARE_LF);
            if (d->policy_ == SMTP_DATA_BARE_NORMALIZE) {
                *consumed = (size_t)(q + 1 - data);
                if (q == start) {
                    d->state_ = ST_MID;
                    return deliver_eol(d, out, crlf, 2);
                }
                d->state_ = ST_EMIT_CRLF;
                return deliver(d, out, start, (size_t)(q - start));
            }
            p = q + 1;
            line_end(d, d->size_ + (uint64_t)(p - start));
            continue;
        }
        if (q + 1 < end && q[1] == '\n') {
            /* CRLF: the next byte starts a line. Stop if it is '.' or not here yet. */
            p = q + 2;
            line_end(d, d->size_ + (uint64_t)(p - start));
            if (p == end || *p == '.') {
                d->state_ = ST_LINE_START;
                *consumed = (size_t)(p - data);
                return deliver(d, out, start, (size_t)(p - start));
            }
            continue;
        }
        if (q + 1 == end) {
            /* Hold the CR: only the next chunk tells CRLF from a bare CR. */
            d->state_ = ST_CR;
            *consumed = (size_t)(end - data);
            if (q == start) return SMTP_DATA_NEED_INPUT;
            return deliver(d, out, start, (size_t)(q - start));
        }
        /* A bare CR inside the chunk. */
        saw_bare(d, SMTP_DATA_FLAG_BARE_CR);
        p = q + 1;
        if (d->policy_ == SMTP_DATA_BARE_NORMALIZE) {
            d->state_ = ST_EMIT_LF;
            *consumed = (size_t)(p - data);
            return deliver(d, out, start, (size_t)(p - start));
        }
    }
    d->state_ = ST_MID;
    *consumed = (size_t)(end - data);
    if (p == start) return SMTP_DATA_NEED_INPUT;
    return deliver(d, out, start, (size_t)(p - start));
}

int smtp_data_decode(smtp_data_decoder *dec, const char *data, size_t len, smtp_span *out,
                     size_t *consumed)
{
    if (consumed) *consumed = 0;
    if (!dec || !out || !consumed || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (!data) data = ""; /* no arithmetic on a null pointer */
    const char *p = data;
    const char *end = data + len;
    for (;;) {
        switch (dec->state_) {
        case ST_EMIT_LF: dec->state_ = ST_MID; return deliver_eol(dec, out, crlf + 1, 1);
        case ST_EMIT_CRLF: dec->state_ = ST_MID; return deliver_eol(dec, out, crlf, 2);
        case ST_CR:
            if (p == end) return SMTP_DATA_NEED_INPUT;
            if (*p == '\n') {
                /* A CRLF split across chunks: the held CR and this LF end a line. */
                dec->state_ = ST_LINE_START;
                *consumed = 1;
                return deliver_eol(dec, out, crlf, 2);
            }
            return deliver_held_bare_cr(dec, out);
        case ST_LINE_START:
            if (p == end) return SMTP_DATA_NEED_INPUT;
            if (*p == '.') {
                p++;
                *consumed = (size_t)(p - data);
                dec->state_ = ST_DOT;
                break;
            }
            dec->state_ = ST_MID;
            break;
        case ST_DOT:
            if (p == end) return SMTP_DATA_NEED_INPUT;
            if (*p == '\r') {
                p++;
                *consumed = (size_t)(p - data);
                dec->state_ = ST_DOT_CR;
                break;
            }
            dec->state_ = ST_MID; /* the dot was stuffing: dropped (RFC 5321 4.5.2) */
            break;
        case ST_DOT_CR:
            if (p == end) return SMTP_DATA_NEED_INPUT;
            if (*p == '\n') {
                p++;
                *consumed = (size_t)(p - data);
                dec->state_ = ST_END;
                return SMTP_DATA_END;
            }
            /* ".\r" then another byte: the dot was stuffing and the CR is bare. */
            return deliver_held_bare_cr(dec, out);
        case ST_MID: return scan(dec, data, p, end, out, consumed);
        case ST_END:
        default: return SMTP_ERR_INVALID_STATE;
        }
    }
}
