/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of DATA transparency (include/smtp/data.h): API contracts, the differential
 * property "decode(encode(body)) == body with normalized line ends, one end of data, consumed
 * == encoded length" over random bodies and random chunkings, a byte-by-byte reference decoder
 * and encoder compared with the memchr-based ones on random hostile streams, every split of
 * the smuggling sequences, huge inputs (a size over 4 GiB), and NOBUF paths. The coders' tests
 * run twice where the library has a SIMD line-end scanner: with it, then with the portable one
 * (lib/scan.h), which is also checked alone against a byte loop.
 */
#include "check.h"

#include "scan.h"

#include <smtp/data.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int buf_eq(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, seeded above */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)rnd() % n : 0;
}

/* A random hostile body: many '.', CR, LF, CRLF.CRLF look-alikes, occasional long lines. */
static void random_body(struct buf *b, size_t max_len)
{
    static const char *const pieces[] = {
        ".",       "\r",      "\n",    "\r\n",     "\r\n.\r\n", "\n.\n",       "\r.\r",
        "\n.\r\n", "\r\n.\n", "..",    "\r\n..",   "x",         "hello ",      "\0",
        "\r\r\n",  "\r\n.\r", ".\r\n", "\r\n\r\n", "abc",       "\r\n.\r\r\n",
        /* plain lines, for the decoder's 64-octet blocks (TAB and the other 0x08-0x0F) */
        "the quick brown fox jumps over the lazy dog\r\n", "\tfolded\x0b\x0c\x0e\x0f\x08 words\r\n",
    };
    size_t target = rnd_below(max_len + 1);
    while (b->len < target) {
        if (rnd_below(50) == 0) {
            size_t n = 900 + rnd_below(200); /* around the 1000-octet limit */
            for (size_t i = 0; i < n; i++)
                buf_add(b, "y", 1);
            continue;
        }
        const char *s = pieces[rnd_below(sizeof pieces / sizeof pieces[0])];
        buf_add(b, s, s[0] ? strlen(s) : 1);
    }
}

/* Line ends normalized: CRLF, bare CR and bare LF all become CRLF; a last line gets CRLF. */
static void normalize_body(const struct buf *in, struct buf *out)
{
    for (size_t i = 0; i < in->len; i++) {
        char c = in->p[i];
        if (c == '\r') {
            buf_add(out, "\r\n", 2);
            if (i + 1 < in->len && in->p[i + 1] == '\n') i++;
        } else if (c == '\n') {
            buf_add(out, "\r\n", 2);
        } else {
            buf_add(out, &c, 1);
        }
    }
    if (out->len && (out->len < 2 || memcmp(out->p + out->len - 2, "\r\n", 2) != 0))
        buf_add(out, "\r\n", 2);
}

/* A byte-by-byte reference encoder, written from RFC 5321 4.5.2 without any cleverness. */
static void ref_encode(const struct buf *body, smtp_data_encode_mode mode, struct buf *out)
{
    if (mode == SMTP_DATA_ENCODE_RAW) {
        buf_add(out, body->p, body->len);
        return;
    }
    struct buf norm = {0};
    for (size_t i = 0; i < body->len; i++) {
        char c = body->p[i];
        if (c == '\r' || c == '\n') {
            buf_add(&norm, "\r\n", 2);
            if (c == '\r' && i + 1 < body->len && body->p[i + 1] == '\n') i++;
        } else {
            buf_add(&norm, &c, 1);
        }
    }
    int line_start = 1;
    for (size_t i = 0; i < norm.len; i++) {
        if (line_start && norm.p[i] == '.' && mode == SMTP_DATA_ENCODE_DOT) buf_add(out, ".", 1);
        buf_add(out, &norm.p[i], 1);
        line_start = i > 0 && norm.p[i] == '\n' && norm.p[i - 1] == '\r';
    }
    if (mode == SMTP_DATA_ENCODE_DOT) {
        if (norm.len && !line_start) buf_add(out, "\r\n", 2);
        buf_add(out, ".\r\n", 3);
    }
    buf_free(&norm);
}

struct dec_result {
    struct buf content;
    size_t consumed;
    int ended;
    unsigned flags;
};

/* A byte-by-byte reference decoder, written from RFC 5321 4.5.2 and the policy rules. */
static void ref_decode(const char *in, size_t n, smtp_data_policy policy, struct dec_result *r)
{
    memset(r, 0, sizeof *r);
    int line_start = 1;
    size_t i = 0;
    const char *nl = policy == SMTP_DATA_BARE_NORMALIZE ? "\r\n" : NULL;
    while (i < n) {
        if (line_start && in[i] == '.') {
            if (i + 1 >= n || (in[i + 1] == '\r' && i + 2 >= n)) break; /* held: undecided */
            if (in[i + 1] == '\r' && in[i + 2] == '\n') {
                r->ended = 1;
                i += 3;
                break;
            }
            i++; /* a stuffed dot */
            line_start = 0;
            continue;
        }
        line_start = 0;
        if (in[i] == '\r') {
            if (i + 1 >= n) break; /* held */
            if (in[i + 1] == '\n') {
                buf_add(&r->content, "\r\n", 2);
                i += 2;
                line_start = 1;
                continue;
            }
            r->flags |= SMTP_DATA_FLAG_BARE_CR;
            buf_add(&r->content, nl ? nl : "\r", nl ? 2 : 1);
        } else if (in[i] == '\n') {
            r->flags |= SMTP_DATA_FLAG_BARE_LF;
            buf_add(&r->content, nl ? nl : "\n", nl ? 2 : 1);
        } else {
            buf_add(&r->content, &in[i], 1);
        }
        i++;
    }
    r->consumed = r->ended ? i : n;
    if ((r->flags & (SMTP_DATA_FLAG_BARE_CR | SMTP_DATA_FLAG_BARE_LF)) &&
        policy == SMTP_DATA_BARE_REJECT)
        r->flags |= SMTP_DATA_FLAG_REJECT;
    size_t line = 0;
    for (size_t k = 0; k < r->content.len; k++) {
        line++;
        if (r->content.p[k] == '\n') {
            if (line > SMTP_DATA_MAX_LINE) r->flags |= SMTP_DATA_FLAG_LONG_LINE;
            line = 0;
        }
    }
    if (line > SMTP_DATA_MAX_LINE) r->flags |= SMTP_DATA_FLAG_LONG_LINE;
}

/* Decodes `in` fed in pieces cut at `cuts` (increasing, ncuts of them). */
static void decode_pieces(const char *in, size_t n, smtp_data_policy policy, const size_t *cuts,
                          size_t ncuts, struct dec_result *r)
{
    memset(r, 0, sizeof *r);
    smtp_data_decoder d;
    smtp_data_decoder_init(&d, policy);
    size_t from = 0;
    for (size_t k = 0; k <= ncuts && !r->ended; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        const char *p = in + from;
        size_t len = to - from;
        for (;;) {
            smtp_span s;
            size_t used;
            int ev = smtp_data_decode(&d, p, len, &s, &used);
            CHECK(used <= len);
            p += used;
            len -= used;
            r->consumed += used;
            if (ev == SMTP_DATA_CONTENT) {
                CHECK(s.len > 0);
                buf_add(&r->content, s.ptr, s.len);
                continue;
            }
            if (ev == SMTP_DATA_END)
                r->ended = 1;
            else
                CHECK_INT(ev, SMTP_DATA_NEED_INPUT);
            break;
        }
        CHECK(r->ended || len == 0);
        from = to;
    }
    r->flags = smtp_data_decoder_flags(&d);
    CHECK_INT(smtp_data_decoder_size(&d), r->content.len);
}

/* Decodes with random chunk sizes (1 .. max_chunk). */
static void decode_random_chunks(const char *in, size_t n, smtp_data_policy policy,
                                 size_t max_chunk, struct dec_result *r)
{
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    if (!cuts) abort();
    size_t nc = 0, at = 0;
    while (1) {
        at += 1 + rnd_below(max_chunk);
        if (at >= n) break;
        cuts[nc++] = at;
    }
    decode_pieces(in, n, policy, cuts, nc, r);
    free(cuts);
}

static int results_eq(const struct dec_result *a, const struct dec_result *b)
{
    return buf_eq(&a->content, &b->content) && a->consumed == b->consumed && a->ended == b->ended &&
           a->flags == b->flags;
}

/* Encodes with random write sizes and random output capacities (retrying NOBUF). */
static void encode_random(const struct buf *body, smtp_data_encode_mode mode, struct buf *out,
                          size_t max_write, size_t max_out)
{
    smtp_data_encoder e;
    smtp_data_encoder_init(&e, mode);
    char tmp[4096];
    size_t at = 0;
    while (at < body->len) {
        size_t w = 1 + rnd_below(max_write);
        if (w > body->len - at) w = body->len - at;
        size_t left = w;
        while (left) {
            size_t cap = rnd_below(max_out + 1), used, made;
            int r = smtp_data_encode(&e, body->p + at, left, tmp, cap, &used, &made);
            if (r == SMTP_ERR_NOBUF) {
                CHECK(cap < SMTP_DATA_ENCODE_MIN_OUT);
                CHECK(used == 0 && made == 0);
                continue;
            }
            CHECK_INT(r, 0);
            CHECK(made <= cap && used <= left);
            CHECK(made <= smtp_data_encode_bound(used));
            buf_add(out, tmp, made);
            at += used;
            left -= used;
        }
    }
    size_t made;
    CHECK_INT(smtp_data_encode_finish(&e, tmp, sizeof tmp, &made), 0);
    buf_add(out, tmp, made);
}

/* ---- tests ---- */

static void test_decoder_api(void)
{
    smtp_data_decoder d;
    smtp_span s;
    size_t used = 7;
    smtp_data_decoder_init(&d, SMTP_DATA_BARE_REJECT);
    CHECK_INT(smtp_data_decode(NULL, "x", 1, &s, &used), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(used, 0);
    CHECK_INT(smtp_data_decode(&d, "x", 1, NULL, &used), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_decode(&d, "x", 1, &s, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_decode(&d, NULL, 1, &s, &used), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_decode(&d, NULL, 0, &s, &used), SMTP_DATA_NEED_INPUT);
    CHECK_INT(used, 0);

    /* zero copy: the span points into the input */
    const char *msg = "abc\r\ndef\r\n.\r\nNEXT";
    CHECK_INT(smtp_data_decode(&d, msg, strlen(msg), &s, &used), SMTP_DATA_CONTENT);
    CHECK(s.ptr == msg);
    CHECK_MEM(s.ptr, s.len, "abc\r\ndef\r\n");
    CHECK_INT(used, 10);
    CHECK_INT(smtp_data_decode(&d, msg + 10, strlen(msg) - 10, &s, &used), SMTP_DATA_END);
    CHECK_INT(used, 3);
    CHECK_INT(smtp_data_decoder_size(&d), 10);
    CHECK_INT(smtp_data_decode(&d, "x", 1, &s, &used), SMTP_ERR_INVALID_STATE);
    CHECK_INT(used, 0);

    /* init makes it reusable; an unknown policy means REJECT */
    smtp_data_decoder_init(&d, (smtp_data_policy)42);
    CHECK_INT(smtp_data_decode(&d, "a\nb", 3, &s, &used), SMTP_DATA_CONTENT);
    CHECK_MEM(s.ptr, s.len, "a\nb");
    CHECK_INT(smtp_data_decoder_flags(&d), SMTP_DATA_FLAG_BARE_LF | SMTP_DATA_FLAG_REJECT);
    CHECK_INT(smtp_data_decoder_size(NULL), 0);
    CHECK_INT(smtp_data_decoder_flags(NULL), 0);
    smtp_data_decoder_init(NULL, SMTP_DATA_BARE_ALLOW); /* harmless */

    /* a CRLF split across chunks comes from static storage */
    smtp_data_decoder_init(&d, SMTP_DATA_BARE_REJECT);
    CHECK_INT(smtp_data_decode(&d, "ab\r", 3, &s, &used), SMTP_DATA_CONTENT);
    CHECK_MEM(s.ptr, s.len, "ab");
    CHECK_INT(used, 3);
    CHECK_INT(smtp_data_decode(&d, "\n.", 2, &s, &used), SMTP_DATA_CONTENT);
    CHECK_MEM(s.ptr, s.len, "\r\n");
    CHECK_INT(used, 1);
    CHECK_INT(smtp_data_decode(&d, ".", 1, &s, &used), SMTP_DATA_NEED_INPUT);
    CHECK_INT(used, 1);
    CHECK_INT(smtp_data_decode(&d, "\r", 1, &s, &used), SMTP_DATA_NEED_INPUT);
    CHECK_INT(smtp_data_decode(&d, "\nX", 2, &s, &used), SMTP_DATA_END);
    CHECK_INT(used, 1);
}

static void test_encoder_api(void)
{
    smtp_data_encoder e;
    char out[16];
    size_t used = 7, made = 7;
    smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_DOT);
    CHECK_INT(smtp_data_encode(NULL, "a", 1, out, 16, &used, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(used, 0);
    CHECK_INT(made, 0);
    CHECK_INT(smtp_data_encode(&e, NULL, 1, out, 16, &used, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode(&e, "a", 1, NULL, 16, &used, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode(&e, "a", 1, out, 16, NULL, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode(&e, "a", 1, out, 16, &used, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode(&e, NULL, 0, NULL, 0, &used, &made), 0);

    /* NOBUF: no room at all, or one byte for a two-byte unit; nothing changes */
    CHECK_INT(smtp_data_encode(&e, ".", 1, out, 0, &used, &made), SMTP_ERR_NOBUF);
    CHECK_INT(smtp_data_encode(&e, ".", 1, NULL, 0, &used, &made), SMTP_ERR_NOBUF);
    CHECK_INT(smtp_data_encode(&e, ".x", 2, out, 1, &used, &made), SMTP_ERR_NOBUF);
    CHECK_INT(used, 0);
    CHECK_INT(made, 0);
    CHECK_INT(smtp_data_encode(&e, ".x", 2, out, 2, &used, &made), 0);
    CHECK_MEM(out, made, "..");
    CHECK_INT(used, 1);
    CHECK_INT(smtp_data_encode(&e, "x\n", 2, out, 2, &used, &made), 0);
    CHECK_MEM(out, made, "x");
    CHECK_INT(smtp_data_encode(&e, "\n", 1, out, 1, &used, &made), SMTP_ERR_NOBUF);
    CHECK_INT(smtp_data_encode(&e, "\n", 1, out, 2, &used, &made), 0);
    CHECK_MEM(out, made, "\r\n");

    /* finish needs its whole tail; then the encoder is done */
    CHECK_INT(smtp_data_encode_finish(&e, out, 2, &made), SMTP_ERR_NOBUF);
    CHECK_INT(made, 0);
    CHECK_INT(smtp_data_encode_finish(&e, out, 3, &made), 0);
    CHECK_MEM(out, made, ".\r\n");
    CHECK_INT(smtp_data_encode_finish(&e, out, 16, &made), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_data_encode(&e, "a", 1, out, 16, &used, &made), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_data_encode_finish(NULL, out, 16, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode_finish(&e, NULL, 16, &made), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_data_encode_finish(&e, out, 16, NULL), SMTP_ERR_INVALID_ARGUMENT);

    /* the finish tails */
    smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_DOT);
    CHECK_INT(smtp_data_encode(&e, "a", 1, out, 16, &used, &made), 0);
    CHECK_INT(smtp_data_encode_finish(&e, out, 5, &made), 0);
    CHECK_MEM(out, made, "\r\n.\r\n");
    smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_DOT);
    CHECK_INT(smtp_data_encode(&e, "a\r", 2, out, 16, &used, &made), 0);
    CHECK_MEM(out, made, "a\r");
    CHECK_INT(smtp_data_encode_finish(&e, out, 5, &made), 0);
    CHECK_MEM(out, made, "\n.\r\n");
    smtp_data_encoder_init(&e, (smtp_data_encode_mode)9); /* unknown: DOT */
    CHECK_INT(smtp_data_encode(&e, ".", 1, out, 16, &used, &made), 0);
    CHECK_MEM(out, made, "..");
    smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_RAW);
    CHECK_INT(smtp_data_encode_finish(&e, NULL, 0, &made), 0);
    CHECK_INT(made, 0);
    smtp_data_encoder_init(NULL, SMTP_DATA_ENCODE_RAW); /* harmless */

    /* the bound */
    CHECK_INT(smtp_data_encode_bound(0), 1);
    CHECK_INT(smtp_data_encode_bound(10), 21);
    CHECK(smtp_data_encode_bound(SIZE_MAX) == SIZE_MAX);
    CHECK(smtp_data_encode_bound(SIZE_MAX / 2) == SIZE_MAX);
    CHECK(smtp_data_encode_bound(SIZE_MAX / 2 - 1) == SIZE_MAX - 2);
}

/* The worst cases fit the bound exactly: one call with bound(n) always consumes all. */
static void test_encoder_bound_worst_case(void)
{
    static const char *const worst[] = {"\n\n\n\n", ".\r.\r.\r", "\r\r\r\r", ".\n.\n.\n",
                                        ".\r\n.\r\n"};
    char out[64];
    for (size_t k = 0; k < sizeof worst / sizeof worst[0]; k++) {
        smtp_data_encoder e;
        smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_DOT);
        size_t used, made;
        /* a held CR first: the next call may add its LF */
        CHECK_INT(smtp_data_encode(&e, "\r", 1, out, sizeof out, &used, &made), 0);
        size_t n = strlen(worst[k]);
        size_t cap = smtp_data_encode_bound(n);
        CHECK_INT(smtp_data_encode(&e, worst[k], n, out, cap, &used, &made), 0);
        CHECK_INT(used, n);
        CHECK(made <= cap);
    }
}

/* The differential property: decode(encode(body)) == normalized body. */
static void test_roundtrip_random(void)
{
    for (int iter = 0; iter < 3000; iter++) {
        struct buf body = {0}, enc = {0}, enc_ref = {0}, want = {0};
        random_body(&body, iter < 2000 ? 200 : 5000);
        encode_random(&body, SMTP_DATA_ENCODE_DOT, &enc, 1 + rnd_below(300),
                      2 + rnd_below(iter % 2 ? 8 : 4094));
        ref_encode(&body, SMTP_DATA_ENCODE_DOT, &enc_ref);
        CHECK(buf_eq(&enc, &enc_ref));
        normalize_body(&body, &want);

        /* the encoded stream, then a pipelined command that must not be read */
        size_t n = enc.len;
        buf_add(&enc, "QUIT\r\n", 6);
        smtp_data_policy pol = (smtp_data_policy)(iter % 3);
        struct dec_result r;
        decode_random_chunks(enc.p, enc.len, pol, 1 + rnd_below(iter % 4 ? 100 : 3), &r);
        CHECK(r.ended);
        CHECK_INT(r.consumed, n);
        CHECK(buf_eq(&r.content, &want));
        CHECK_INT(r.flags & ~(unsigned)SMTP_DATA_FLAG_LONG_LINE, 0);
        buf_free(&r.content);
        buf_free(&body);
        buf_free(&enc);
        buf_free(&enc_ref);
        buf_free(&want);
    }
}

/* The BDAT modes against the reference encoder. */
static void test_bdat_modes_random(void)
{
    for (int iter = 0; iter < 1000; iter++) {
        struct buf body = {0}, enc = {0}, enc_ref = {0};
        smtp_data_encode_mode mode = iter % 2 ? SMTP_DATA_ENCODE_CRLF : SMTP_DATA_ENCODE_RAW;
        random_body(&body, 400);
        encode_random(&body, mode, &enc, 1 + rnd_below(50), 2 + rnd_below(16));
        ref_encode(&body, mode, &enc_ref);
        CHECK(buf_eq(&enc, &enc_ref));
        buf_free(&body);
        buf_free(&enc);
        buf_free(&enc_ref);
    }
}

/* Appends `lead` octets of plain lines (60 octets and CRLF), the piece `odd`, then `tail`
 * octets of plain lines again: `odd` at every alignment to the SIMD blocks as `lead` grows. */
static void plain_around(struct buf *b, size_t lead, const char *odd, size_t tail)
{
    for (size_t i = 0; i < lead; i++)
        buf_add(b, i % 62 == 60 ? "\r" : i % 62 == 61 ? "\n" : "p", 1);
    buf_add(b, odd, strlen(odd));
    for (size_t i = 0; i < tail; i++)
        buf_add(b, i % 62 == 60 ? "\r" : i % 62 == 61 ? "\n" : "q", 1);
}

/* The encoder's 64-octet blocks of plain lines (lib/data_encode.c): plain lines with one
 * piece that is not plain ('.' at a line start, a bare CR or LF, CRLF.CRLF, TAB...) at every
 * alignment to the blocks, encoded whole and through small output buffers, in every mode:
 * the reference's stream. */
static void test_encoder_plain_blocks(void)
{
    static const char *const odd[] = {".",    "\n",    "\r",   "\r\n.", "\t",
                                      "\r\r\n", "\n.", "..\r\n", "\r\n.\r\n", ""};
    static const smtp_data_encode_mode modes[] = {SMTP_DATA_ENCODE_DOT, SMTP_DATA_ENCODE_CRLF,
                                                  SMTP_DATA_ENCODE_RAW};
    for (size_t lead = 0; lead < 140; lead++) {
        for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
            struct buf body = {0};
            plain_around(&body, lead, odd[k], 400);
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                struct buf want = {0}, whole = {0}, pieces = {0};
                ref_encode(&body, modes[m], &want);
                smtp_data_encoder e;
                size_t used = 0, made = 0, fin = 0;
                smtp_data_encoder_init(&e, modes[m]);
                whole.cap = smtp_data_encode_bound(body.len) + 5;
                whole.p = malloc(whole.cap);
                if (!whole.p) abort();
                CHECK_INT(smtp_data_encode(&e, body.p, body.len, whole.p, whole.cap, &used, &made),
                          0);
                CHECK_INT(used, body.len);
                CHECK_INT(smtp_data_encode_finish(&e, whole.p + made, whole.cap - made, &fin), 0);
                whole.len = made + fin;
                encode_random(&body, modes[m], &pieces, body.len, 2 + rnd_below(200));
                CHECK(buf_eq(&whole, &want));
                CHECK(buf_eq(&pieces, &want));
                buf_free(&want);
                buf_free(&whole);
                buf_free(&pieces);
            }
            buf_free(&body);
        }
    }
}

/* Lines about the length limit (RFC 5321 4.5.3.1.6: 1000 octets with CRLF) after short
 * lines and long runs of plain ones, at every alignment to the decoder's 64-octet blocks:
 * the LONG_LINE flag as the byte-by-byte reference gives it (a line within a run of plain
 * blocks is measured too). */
static void test_decoder_long_lines(void)
{
    static const size_t lens[] = {935, 936, 997, 998, 999, 1000, 1062, 1063, 1064, 2000};
    for (size_t lead = 0; lead < 140; lead++) {
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            struct buf in = {0};
            for (size_t i = 0; i < lead; i++)
                buf_add(&in, i % 7 ? "a" : "ab\r\n", i % 7 ? 1 : 4);
            buf_add(&in, "\r\n", 2);
            for (size_t i = 0; i < lens[k]; i++)
                buf_add(&in, "y", 1);
            buf_add(&in, "\r\nshort\r\n", 9);
            for (size_t i = 0; i < 3 * lens[k]; i++) /* then a run of plain lines */
                buf_add(&in, i % 70 == 69 ? "\r\n" : "z", i % 70 == 69 ? 2 : 1);
            buf_add(&in, "\r\n.\r\n", 5);
            for (int pol = 0; pol < 3; pol++) {
                struct dec_result want, whole;
                ref_decode(in.p, in.len, (smtp_data_policy)pol, &want);
                decode_pieces(in.p, in.len, (smtp_data_policy)pol, NULL, 0, &whole);
                CHECK(results_eq(&whole, &want));
                buf_free(&want.content);
                buf_free(&whole.content);
            }
            buf_free(&in);
        }
    }
}

/* The decoder's 64-octet blocks of plain lines (lib/data_decode.c, SSE2 and AVX2): plain lines
 * with one piece that is not plain (a line-start '.', a bare CR or LF, CRLF.CRLF, a CRLF whose
 * CR ends a block...) at every alignment to the blocks, decoded whole, and at every split point
 * for every seventh alignment: the byte-by-byte reference's spans and flags. */
static void test_decoder_plain_blocks(void)
{
    /* every split point for every seventh alignment; under valgrind (CI's pass sets
     * SMTP_VEC_NO_PAIRS) every 28th, within the test's time limit there */
    const size_t split_every = getenv("SMTP_VEC_NO_PAIRS") ? 28 : 7;
    static const char *const odd[] = {".",   "\n",   "\r",     "\r\n.", "\t",     "\r\r\n", "\n.",
                                      "x\r", "\nx", "..\r\n", "\r\n..", "\r\n.\r\n", ""};
    for (size_t lead = 0; lead < 140; lead++) {
        for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
            struct buf in = {0};
            plain_around(&in, lead, odd[k], 300);
            buf_add(&in, "\r\n.\r\n", 5);
            for (int pol = 0; pol < 3; pol++) {
                struct dec_result want, got;
                ref_decode(in.p, in.len, (smtp_data_policy)pol, &want);
                decode_pieces(in.p, in.len, (smtp_data_policy)pol, NULL, 0, &got);
                CHECK(results_eq(&got, &want));
                buf_free(&got.content);
                for (size_t cut = 1; lead % split_every == 0 && cut < in.len; cut++) {
                    decode_pieces(in.p, in.len, (smtp_data_policy)pol, &cut, 1, &got);
                    if (!results_eq(&got, &want)) {
                        CHECK(results_eq(&got, &want));
                        cut = in.len;
                    }
                    buf_free(&got.content);
                }
                buf_free(&want.content);
            }
            buf_free(&in);
        }
    }
}

/* Random hostile wire streams: the decoder equals the byte-by-byte reference. */
static void test_decoder_vs_reference(void)
{
    for (int iter = 0; iter < 6000; iter++) {
        struct buf in = {0};
        random_body(&in, iter < 4000 ? 120 : 3000);
        smtp_data_policy pol = (smtp_data_policy)(iter % 3);
        struct dec_result want, got, whole;
        ref_decode(in.p ? in.p : "", in.len, pol, &want);
        decode_pieces(in.p ? in.p : "", in.len, pol, NULL, 0, &whole);
        decode_random_chunks(in.p ? in.p : "", in.len, pol, 1 + rnd_below(iter % 5 ? 64 : 2), &got);
        CHECK(results_eq(&whole, &want));
        CHECK(results_eq(&got, &want));
        buf_free(&want.content);
        buf_free(&got.content);
        buf_free(&whole.content);
        buf_free(&in);
    }
}

/* Every split (and every pair of splits) of each smuggling sequence gives the same result. */
static void test_smuggling_every_split(void)
{
    static const char *const seqs[] = {
        "a\n.\nMAIL FROM:<e@x>\r\n.\r\n",
        "a\r.\rMAIL FROM:<e@x>\r\n.\r\n",
        "a\n.\r\nMAIL FROM:<e@x>\r\n.\r\n",
        "a\r\n.\nMAIL FROM:<e@x>\r\n.\r\n",
        "a\r\n.\r\r\nMAIL\r\n.\r\n",
        "a\r\n.\rX\r\n.\r\n",
        "\n.\r\n.\r\n",
        "\r\n.\n.\r\n",
        ".\r\n",
        "\r\n.\r\n",
        "..\r\n..\r\n.\r\n",
        "a\r\r\n.\r\n",
        "\r.\r\n\r\n.\r\nQUIT\r\n",
        ".\r\r\n.\r\n",
    };
    for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
        const char *in = seqs[k];
        size_t n = strlen(in);
        for (int pol = 0; pol < 3; pol++) {
            struct dec_result want;
            ref_decode(in, n, (smtp_data_policy)pol, &want);
            for (size_t i = 1; i < n; i++) {
                for (size_t j = i; j < n; j++) {
                    size_t cuts[2] = {i, j};
                    struct dec_result got;
                    decode_pieces(in, n, (smtp_data_policy)pol, cuts, j > i ? 2 : 1, &got);
                    CHECK(results_eq(&got, &want));
                    buf_free(&got.content);
                }
            }
            buf_free(&want.content);
        }
    }
}

/* A big message of 78-octet lines, decoded in 64 KiB reads; then an encoder fed byte by byte. */
static void test_huge_message(void)
{
    const size_t lines = 400000;
    struct buf body = {0};
    char line[80];
    for (size_t i = 0; i < lines; i++) {
        memset(line, 'a' + (int)(i % 26), 76);
        if (i % 1000 == 0) line[0] = '.';
        memcpy(line + 76, "\r\n", 2);
        buf_add(&body, line, 78);
    }
    struct buf enc = {0};
    encode_random(&body, SMTP_DATA_ENCODE_DOT, &enc, 65536, 4096);
    CHECK_INT(enc.len, body.len + lines / 1000 + 3);

    smtp_data_decoder d;
    smtp_data_decoder_init(&d, SMTP_DATA_BARE_REJECT);
    size_t at = 0, spans = 0;
    int ended = 0;
    struct buf got = {0};
    while (!ended && at < enc.len) {
        size_t len = enc.len - at < 65536 ? enc.len - at : 65536;
        const char *p = enc.p + at;
        for (;;) {
            smtp_span s;
            size_t used;
            int ev = smtp_data_decode(&d, p, len, &s, &used);
            p += used;
            len -= used;
            at += used;
            if (ev == SMTP_DATA_CONTENT) {
                buf_add(&got, s.ptr, s.len);
                spans++;
                continue;
            }
            ended = ev == SMTP_DATA_END;
            break;
        }
    }
    CHECK(ended);
    CHECK_INT(at, enc.len);
    CHECK(buf_eq(&got, &body));
    CHECK_INT(smtp_data_decoder_flags(&d), 0);
    /* zero copy in practice: about one span per chunk edge and per stuffed line */
    CHECK(spans < enc.len / 65536 + lines / 1000 + 10);

    /* the encoder fed one byte at a time gives the same stream */
    smtp_data_encoder e;
    smtp_data_encoder_init(&e, SMTP_DATA_ENCODE_DOT);
    struct buf one = {0};
    char out[4];
    for (size_t i = 0; i < 200000; i++) {
        size_t used, made;
        CHECK_INT(smtp_data_encode(&e, body.p + i, 1, out, sizeof out, &used, &made), 0);
        CHECK_INT(used, 1);
        buf_add(&one, out, made);
    }
    CHECK(one.len >= 200000 && memcmp(one.p, enc.p, 200000) == 0);
    buf_free(&one);
    buf_free(&got);
    buf_free(&enc);
    buf_free(&body);
}

/* The size counter is 64-bit: more than 4 GiB of content in one message. */
static void test_size_over_4gib(void)
{
    const size_t chunk = 1u << 20;
    char *p = malloc(chunk);
    if (!p) abort();
    memset(p, 'z', chunk);
    for (size_t i = 511; i < chunk; i += 512) {
        p[i - 1] = '\r';
        p[i] = '\n';
    }
    smtp_data_decoder d;
    smtp_data_decoder_init(&d, SMTP_DATA_BARE_REJECT);
    const uint64_t rounds = 4097;
    for (uint64_t k = 0; k < rounds; k++) {
        smtp_span s;
        size_t used;
        const char *q = p;
        size_t len = chunk;
        int ev;
        while ((ev = smtp_data_decode(&d, q, len, &s, &used)) == SMTP_DATA_CONTENT) {
            q += used;
            len -= used;
        }
        if (ev != SMTP_DATA_NEED_INPUT) {
            CHECK_INT(ev, SMTP_DATA_NEED_INPUT);
            break;
        }
    }
    smtp_span s;
    size_t used;
    CHECK_INT(smtp_data_decode(&d, ".\r\n", 3, &s, &used), SMTP_DATA_END);
    CHECK(smtp_data_decoder_size(&d) == rounds * chunk);
    CHECK(smtp_data_decoder_size(&d) > UINT32_MAX);
    CHECK_INT(smtp_data_decoder_flags(&d), 0);
    free(p);
}

/* smtp_scan_eol and smtp_scan_eol0, both ways, against a byte loop: every start and length over a
 * buffer with CR and LF at random places, and none (the long runs of the SIMD loops). */
static void test_scan_eol(void)
{
    char buf[300];
    uint32_t x = 7;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            unsigned r = (x >> 16) % 97;
            buf[i] = r == 0 ? '\r' : r == 1 ? '\n' : r == 2 ? '\0' : (char)(0x20 + r);
            if (round % 50 == 49) buf[i] = (char)(0x80 | r); /* high octets, no line end */
        }
        for (size_t start = 0; start < 40; start++) {
            for (size_t len = 0; start + len <= sizeof buf; len += 1 + len / 16) {
                const char *p = buf + start, *end = p + len, *want = p, *want0;
                while (want < end && *want != '\r' && *want != '\n')
                    want++;
                for (want0 = p; want0 < want && *want0 != '\0'; want0++)
                    ;
                for (int portable = 0; portable < 2; portable++) {
                    smtp_scan_portable = portable;
                    if (smtp_scan_eol(p, end) != want || smtp_scan_eol0(p, end) != want0) {
                        CHECK(smtp_scan_eol(p, end) == want);
                        CHECK(smtp_scan_eol0(p, end) == want0);
                        smtp_scan_portable = 0;
                        return;
                    }
                }
                smtp_scan_portable = 0;
            }
        }
    }
}

int main(void)
{
    test_scan_eol();
    /* Each path of the scanner: the best this CPU has, SSE2 where that was AVX2, portable. */
    for (int path = 0; path < 3; path++) {
        if (path == 1 && !smtp_scan_avx2_available()) continue;
        if (path == 2 && !smtp_scan_has_simd) continue;
        smtp_scan_no_avx2 = path == 1;
        smtp_scan_portable = path == 2;
        test_roundtrip_random();
        test_bdat_modes_random();
        test_encoder_plain_blocks();
        test_decoder_vs_reference();
        test_decoder_long_lines();
        test_smuggling_every_split();
        test_decoder_plain_blocks();
    }
    smtp_scan_no_avx2 = 0;
    smtp_scan_portable = 0;
    test_decoder_api();
    test_encoder_api();
    test_encoder_bound_worst_case();
    test_roundtrip_random();
    test_bdat_modes_random();
    test_decoder_vs_reference();
    test_smuggling_every_split();
    test_huge_message();
    test_size_over_4gib();
    return check_finish();
}
