/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: DATA transparency (smtp_data_decode, smtp_data_encode, smtp_data_encode_finish).
 *
 * Checked here, besides no crash, no over-read (each piece is an exact-size heap copy, each
 * output buffer too, so an overflow is an ASan error) and no undefined behaviour:
 *  - decoder, split invariance: the input decoded whole and in pieces whose sizes come from
 *    the input gives the same content, size, flags and END position, under the policy the
 *    input chooses;
 *  - decoder, against a plain reference (a '.' at a line start is dropped, ".\r\n" there ends
 *    the data; a line starts only after CRLF; NORMALIZE writes a bare CR or LF as CRLF): END
 *    comes exactly after the first CRLF.CRLF (the start counting as a line start), never
 *    later, and the content, the size and the BARE_LF/BARE_CR/REJECT/LONG_LINE flags match;
 *    a content span is non-empty and lies in the bytes consumed by its call or is a static
 *    "\r\n" piece; after END the decoder refuses to go on (SMTP_ERR_INVALID_STATE);
 *  - encoder then decoder: the same bytes as a body, encoded with random input chunkings and
 *    random output capacities (NOBUF consumes and writes nothing), give the same encoded
 *    stream as one call with SMTP_DATA_ENCODE_BOUND room; in DOT mode the stream decodes to
 *    the body with line ends normalized to CRLF (and a final CRLF), with exactly one end of
 *    data, at its very end, and no bare CR/LF flag; CRLF mode gives the normalized body,
 *    RAW mode the body itself; a finished encoder refuses more input.
 * Input layout: byte 0 = piece-size seed; byte 1 = bits 0-1: the policy (3: an unknown value,
 * which must act as REJECT), bits 2-3: the encode mode (3: unknown, must act as DOT); byte 2 =
 * output-capacity seed; the rest is the DATA stream, and the same bytes are the body.
 */
#include <smtp/data.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 3

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

static int same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static size_t piece_size(uint32_t *seed, int split, size_t left)
{
    static const uint32_t spans[4] = {2, 5, 33, 700};
    size_t n = split ? 1 + next_rand(seed) % spans[*seed >> 30] : left;
    return n < left ? n : left;
}

/* ---- the reference decoder ---- */

struct ref {
    struct buf content;
    int end;         /* CRLF.CRLF seen */
    size_t consumed; /* stream bytes up to and including it */
    unsigned flags;  /* SMTP_DATA_FLAG_* */
};

static void reference(const char *s, size_t n, smtp_data_policy policy, struct ref *r)
{
    int line_start = 1;
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (line_start && c == '.') {
            if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
                r->end = 1;
                r->consumed = i + 3;
                break;
            }
            line_start = 0;
            continue; /* stuffing */
        }
        line_start = 0;
        if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
            put(&r->content, "\r\n", 2);
            i++;
            line_start = 1;
        } else if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 == n) break; /* undecided: the next byte may be an LF */
            r->flags |= c == '\r' ? SMTP_DATA_FLAG_BARE_CR : SMTP_DATA_FLAG_BARE_LF;
            if (policy == SMTP_DATA_BARE_NORMALIZE)
                put(&r->content, "\r\n", 2);
            else
                put(&r->content, &c, 1);
        } else {
            put(&r->content, &c, 1);
        }
    }
    if (policy == SMTP_DATA_BARE_REJECT && r->flags) r->flags |= SMTP_DATA_FLAG_REJECT;
    /* RFC 5321 4.5.3.1.6: a content line of more than 1000 octets with its line end. */
    size_t line = 0;
    for (size_t i = 0; i < r->content.len; i++) {
        if (++line > SMTP_DATA_MAX_LINE) r->flags |= SMTP_DATA_FLAG_LONG_LINE;
        if (r->content.p[i] == '\n') line = 0;
    }
}

/* ---- decoding ---- */

struct dec_result {
    struct buf content;
    int end;
    uint64_t consumed; /* stream bytes used up to END */
    uint64_t size;
    unsigned flags;
};

static int is_static_eol(smtp_span s)
{
    return (s.len == 2 && s.ptr[0] == '\r' && s.ptr[1] == '\n') ||
           (s.len == 1 && (s.ptr[0] == '\r' || s.ptr[0] == '\n'));
}

/* Decodes the piece; returns 1 at END. */
static int decode_piece(smtp_data_decoder *d, const char *piece, size_t n, uint64_t pos,
                        struct dec_result *r)
{
    size_t off = 0;
    for (;;) {
        smtp_span out = {NULL, 0};
        size_t used = 12345;
        int rv = smtp_data_decode(d, piece + off, n - off, &out, &used);
        if (used > n - off) abort();
        switch (rv) {
        case SMTP_DATA_CONTENT:
            if (out.len == 0 || !out.ptr) abort();
            if (out.ptr >= piece && out.ptr < piece + n) {
                /* zero copy: inside the bytes this call consumed */
                if (out.ptr < piece + off || out.len > (size_t)(piece + off + used - out.ptr))
                    abort();
            } else if (!is_static_eol(out)) {
                abort();
            }
            put(&r->content, out.ptr, out.len);
            off += used;
            break;
        case SMTP_DATA_NEED_INPUT:
            if (off + used != n) abort();
            return 0;
        case SMTP_DATA_END:
            off += used;
            r->end = 1;
            r->consumed = pos + off;
            return 1;
        default: abort();
        }
    }
}

static void decode(const char *s, size_t n, smtp_data_policy policy, int split, uint32_t seed,
                   struct dec_result *r)
{
    smtp_data_decoder d;
    smtp_data_decoder_init(&d, policy);
    memset(r, 0, sizeof *r);
    size_t pos = 0;
    while (pos < n) {
        size_t k = piece_size(&seed, split, n - pos);
        char *piece = malloc(k);
        if (!piece) abort();
        memcpy(piece, s + pos, k);
        int end = decode_piece(&d, piece, k, pos, r);
        free(piece);
        if (end) break;
        pos += k;
    }
    r->size = smtp_data_decoder_size(&d);
    r->flags = smtp_data_decoder_flags(&d);
    if (r->size != r->content.len) abort();
    smtp_span out;
    size_t used;
    if (r->end && smtp_data_decode(&d, "x", 1, &out, &used) != SMTP_ERR_INVALID_STATE) abort();
}

static void check_decoder(const char *s, size_t n, smtp_data_policy policy, uint32_t seed)
{
    struct dec_result whole, split;
    decode(s, n, policy, 0, seed, &whole);
    decode(s, n, policy, 1, seed, &split);
    if (!same(&whole.content, &split.content) || whole.end != split.end ||
        whole.consumed != split.consumed || whole.flags != split.flags)
        abort();
    struct ref ref;
    smtp_data_policy effective = policy > SMTP_DATA_BARE_ALLOW ? SMTP_DATA_BARE_REJECT : policy;
    reference(s, n, effective, &ref);
    if (whole.end != ref.end) abort();
    if (ref.end) {
        if (whole.consumed != ref.consumed || !same(&whole.content, &ref.content)) abort();
        if (whole.flags != ref.flags) abort();
    }
    free(whole.content.p);
    free(split.content.p);
    free(ref.content.p);
}

/* ---- encoding ---- */

static void encode(const char *body, size_t n, smtp_data_encode_mode mode, int split, uint32_t seed,
                   uint32_t capseed, struct buf *out)
{
    smtp_data_encoder e;
    smtp_data_encoder_init(&e, mode);
    size_t pos = 0;
    while (pos < n) {
        size_t k = piece_size(&seed, split, n - pos);
        char *in = malloc(k);
        if (!in) abort();
        memcpy(in, body + pos, k);
        size_t off = 0;
        while (off < k) {
            size_t cap = split ? next_rand(&capseed) % 9 : smtp_data_encode_bound(k - off);
            if (!split && cap != SMTP_DATA_ENCODE_BOUND(k - off)) abort();
            char *o = malloc(cap);
            if (!o && cap) abort();
            size_t used = 99, made = 99;
            int rv = smtp_data_encode(&e, in + off, k - off, o, cap, &used, &made);
            if (rv == SMTP_ERR_NOBUF) {
                if (used || made || cap >= SMTP_DATA_ENCODE_MIN_OUT) abort();
            } else if (rv != 0 || used > k - off || made > cap || (used == 0 && made == 0)) {
                abort();
            } else if (!split && used != k - off) {
                abort(); /* the bound always takes everything */
            }
            put(out, o, made);
            free(o);
            off += used;
        }
        free(in);
        pos += k;
    }
    for (;;) {
        size_t cap = split ? next_rand(&capseed) % 7 : SMTP_DATA_ENCODE_FINISH_MAX;
        char *o = malloc(cap);
        if (!o && cap) abort();
        size_t made = 99;
        int rv = smtp_data_encode_finish(&e, o, cap, &made);
        if (rv == 0 && made > cap) abort();
        if (rv == 0) put(out, o, made);
        free(o);
        if (rv == 0) break;
        if (rv != SMTP_ERR_NOBUF || cap >= SMTP_DATA_ENCODE_FINISH_MAX) abort();
    }
    char o[8];
    size_t used, made;
    if (smtp_data_encode(&e, "x", 1, o, sizeof o, &used, &made) != SMTP_ERR_INVALID_STATE ||
        smtp_data_encode_finish(&e, o, sizeof o, &made) != SMTP_ERR_INVALID_STATE)
        abort();
}

/* The body with every bare CR and bare LF written as CRLF. */
static void normalize(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
        if (s[i] == '\r' || s[i] == '\n')
            put(out, "\r\n", 2);
        else
            put(out, s + i, 1);
    }
}

static void check_encoder(const char *body, size_t n, smtp_data_encode_mode mode, uint32_t seed,
                          uint32_t capseed)
{
    struct buf whole = {0}, split = {0}, want = {0};
    encode(body, n, mode, 0, seed, capseed, &whole);
    encode(body, n, mode, 1, seed, capseed, &split);
    if (!same(&whole, &split)) abort();
    if (whole.len > 2 * n + 1 + SMTP_DATA_ENCODE_FINISH_MAX) abort();
    if (mode == SMTP_DATA_ENCODE_RAW) {
        put(&want, body, n);
        if (!same(&whole, &want)) abort();
    } else if (mode == SMTP_DATA_ENCODE_CRLF) {
        normalize(body, n, &want);
        if (!same(&whole, &want)) abort();
    } else {
        normalize(body, n, &want);
        if (want.len && (want.len < 2 || want.p[want.len - 1] != '\n')) put(&want, "\r\n", 2);
        struct dec_result d;
        decode(whole.p, whole.len, SMTP_DATA_BARE_REJECT, 1, seed, &d);
        /* exactly one end of data: at the very end of the stream */
        if (!d.end || d.consumed != whole.len) abort();
        if (d.flags & ~(unsigned)SMTP_DATA_FLAG_LONG_LINE) abort();
        if (!same(&d.content, &want)) abort();
        free(d.content.p);
    }
    free(whole.p);
    free(split.p);
    free(want.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    uint32_t seed = (uint32_t)data[0] << 24 | data[0];
    unsigned p = data[1] & 3u, m = (data[1] >> 2) & 3u;
    smtp_data_policy policy = p == 3 ? (smtp_data_policy)7 : (smtp_data_policy)p;
    smtp_data_encode_mode mode = m == 3 ? (smtp_data_encode_mode)7 : (smtp_data_encode_mode)m;
    const char *s = (const char *)data + HEADER;
    size_t n = size - HEADER;
    check_decoder(s, n, policy, seed);
    check_encoder(s, n, m == 3 ? SMTP_DATA_ENCODE_DOT : mode, seed, data[2]);
    if (m == 3) check_encoder(s, n, mode, seed, data[2]);
    return 0;
}
