/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the codecs of <smtp/codec.h>: base64, xtext, the RFC 6533 utf-8 address forms
 * (xtext and unitext) and UTF-8 validation.
 *
 * Every input is used both ways: as raw bytes to encode, and as text to decode.
 * Checked here, besides no crash, no over-read (inputs are exact-size heap copies) and no
 * undefined behaviour:
 *  - the *_len functions agree with the real output: a buffer of exactly that size is filled
 *    exactly (an exact-size heap buffer, so one byte more is an ASan error); with room to
 *    spare, not one byte past the reported length is written; one byte less gives
 *    SMTP_ERR_NOBUF and leaves the buffer untouched; a refused input gives the *_len error;
 *  - round trips: decode(encode(x)) == x for base64, xtext and both RFC 6533 forms; a valid
 *    base64 text is the one canonical encoding of what it decodes to (encode(decode(t)) == t);
 *    what an xtext or RFC 6533 decoder accepts re-encodes and decodes back to the same bytes;
 *  - refusals are the documented ones: xtext encoding refuses exactly the inputs holding a
 *    control byte; the RFC 6533 encoder refuses only malformed UTF-8 or controls; decoded RFC
 *    6533 text is well-formed UTF-8 without controls; xtext-form output is pure ASCII;
 *  - smtp_utf8_check agrees with an independent validator (RFC 3629 4 table) on the result
 *    and on the offset of the first bad sequence.
 * Input layout: all of it is the data; nothing is taken for options.
 */
#include <smtp/codec.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef smtp_ssize (*len_fn)(const char *in, size_t len, unsigned flags);
typedef smtp_ssize (*code_fn)(const char *in, size_t len, unsigned flags, char *out, size_t cap);

static smtp_ssize b64_enc_len(const char *in, size_t len, unsigned flags)
{
    (void)in;
    (void)flags;
    return smtp_base64_encoded_len(len);
}
static smtp_ssize b64_enc(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    (void)flags;
    return smtp_base64_encode(in, len, out, cap);
}
static smtp_ssize b64_dec_len(const char *in, size_t len, unsigned flags)
{
    (void)flags;
    return smtp_base64_decoded_len(in, len);
}
static smtp_ssize b64_dec(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    (void)flags;
    return smtp_base64_decode(in, len, out, cap);
}
static smtp_ssize xt_enc_len(const char *in, size_t len, unsigned flags)
{
    (void)flags;
    return smtp_xtext_encoded_len(in, len);
}
static smtp_ssize xt_enc(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    (void)flags;
    return smtp_xtext_encode(in, len, out, cap);
}
static smtp_ssize xt_dec_len(const char *in, size_t len, unsigned flags)
{
    (void)flags;
    return smtp_xtext_decoded_len(in, len);
}
static smtp_ssize xt_dec(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    (void)flags;
    return smtp_xtext_decode(in, len, out, cap);
}

struct out {
    char *p;
    size_t len;
};

#define SENTINEL 0x5a
#define SLACK 16

/*
 * Runs one codec on `in` and checks its length function and its buffer discipline. Returns the
 * result (a length or an error); on success *o holds the output (free it).
 */
static smtp_ssize run(len_fn lenf, code_fn code, const char *in, size_t n, unsigned flags,
                      struct out *o)
{
    o->p = NULL;
    o->len = 0;
    char *src = malloc(n);
    if (!src && n) abort();
    if (n) memcpy(src, in, n);
    smtp_ssize want = lenf(src, n, flags);
    if (want < 0) {
        char spare[SLACK];
        memset(spare, SENTINEL, sizeof spare);
        if (code(src, n, flags, spare, sizeof spare) != want) abort();
        for (size_t i = 0; i < sizeof spare; i++) {
            if (spare[i] != SENTINEL) abort(); /* a refused input writes nothing */
        }
        free(src);
        return want;
    }
    size_t w = (size_t)want;
    /* one byte short: NOBUF, untouched */
    if (w > 0) {
        char *small = malloc(w - 1);
        if (!small && w > 1) abort();
        if (w > 1) memset(small, SENTINEL, w - 1);
        if (code(src, n, flags, w > 1 ? small : NULL, w - 1) != SMTP_ERR_NOBUF) abort();
        for (size_t i = 0; i + 1 < w; i++) {
            if (small[i] != SENTINEL) abort();
        }
        free(small);
    }
    /* room to spare: nothing written past the length */
    char *big = malloc(w + SLACK);
    if (!big) abort();
    memset(big, SENTINEL, w + SLACK);
    if (code(src, n, flags, big, w + SLACK) != want) abort();
    for (size_t i = w; i < w + SLACK; i++) {
        if (big[i] != SENTINEL) abort();
    }
    /* the exact size */
    char *exact = malloc(w);
    if (!exact && w) abort();
    if (code(src, n, flags, exact, w) != want) abort();
    if (w && memcmp(exact, big, w) != 0) abort();
    free(big);
    free(src);
    o->p = exact;
    o->len = w;
    return want;
}

static int same(const struct out *o, const char *p, size_t n)
{
    return o->len == n && (n == 0 || memcmp(o->p, p, n) == 0);
}

static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return 1;
    }
    return 0;
}

/* An independent UTF-8 validator (RFC 3629 4): returns the offset of the first bad sequence,
 * or n when all is well formed. */
static size_t utf8_ref(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return i;
        }
        if (n - i <= k) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++) {
            if (s[i + j] < 0x80 || s[i + j] > 0xbf) return i;
        }
        i += k + 1;
    }
    return n;
}

static void check_utf8(const char *s, size_t n)
{
    char *src = malloc(n);
    if (!src && n) abort();
    if (n) memcpy(src, s, n);
    size_t at = 12345;
    int rc = smtp_utf8_check(src, n, &at);
    size_t ref = utf8_ref((const unsigned char *)s, n);
    if (ref == n ? rc != 0 : (rc != SMTP_ERR_UTF8 || at != ref)) abort();
    free(src);
}

static void check_base64(const char *s, size_t n)
{
    struct out e, d;
    if (run(b64_enc_len, b64_enc, s, n, 0, &e) != (smtp_ssize)((n + 2) / 3 * 4)) abort();
    if (run(b64_dec_len, b64_dec, e.p, e.len, 0, &d) != (smtp_ssize)n || !same(&d, s, n)) abort();
    free(e.p);
    free(d.p);
    /* as text: a valid encoding is the canonical one */
    smtp_ssize rc = run(b64_dec_len, b64_dec, s, n, 0, &d);
    if (rc < 0) {
        if (rc != SMTP_ERR_BASE64) abort();
        return;
    }
    if (n % 4 || (size_t)rc != n / 4 * 3 - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '='))
        abort();
    if (run(b64_enc_len, b64_enc, d.p, d.len, 0, &e) < 0 || !same(&e, s, n)) abort();
    free(e.p);
    free(d.p);
}

static void check_xtext(const char *s, size_t n)
{
    struct out e, d;
    smtp_ssize rc = run(xt_enc_len, xt_enc, s, n, 0, &e);
    if (rc < 0) {
        if (rc != SMTP_ERR_UNSAFE_ARGUMENT || !has_ctl(s, n)) abort();
    } else {
        if (has_ctl(s, n)) abort();
        if (run(xt_dec_len, xt_dec, e.p, e.len, 0, &d) != (smtp_ssize)n || !same(&d, s, n)) abort();
        free(e.p);
        free(d.p);
    }
    /* as text */
    rc = run(xt_dec_len, xt_dec, s, n, 0, &d);
    if (rc < 0) {
        if (rc != SMTP_ERR_XTEXT) abort();
        return;
    }
    if ((size_t)rc > n || has_ctl(d.p, d.len)) abort();
    struct out d2;
    if (run(xt_enc_len, xt_enc, d.p, d.len, 0, &e) < 0 || e.len > n) abort();
    if (run(xt_dec_len, xt_dec, e.p, e.len, 0, &d2) < 0 || !same(&d2, d.p, d.len)) abort();
    free(e.p);
    free(d.p);
    free(d2.p);
}

static int ascii_only(const struct out *o)
{
    for (size_t i = 0; i < o->len; i++) {
        if ((unsigned char)o->p[i] >= 0x80) return 0;
    }
    return 1;
}

static void check_utf8addr(const char *s, size_t n, unsigned flags)
{
    struct out e, d, d2;
    int utf8_ok = utf8_ref((const unsigned char *)s, n) == n;
    smtp_ssize rc = run(smtp_utf8addr_encoded_len, smtp_utf8addr_encode, s, n, flags, &e);
    if (rc < 0) {
        if (rc == SMTP_ERR_UTF8 ? utf8_ok : (rc != SMTP_ERR_UNSAFE_ARGUMENT || !has_ctl(s, n)))
            abort();
    } else {
        if (!utf8_ok || has_ctl(s, n)) abort();
        if (!(flags & SMTP_UTF8ADDR_UNITEXT) && !ascii_only(&e)) abort();
        if (run(smtp_utf8addr_decoded_len, smtp_utf8addr_decode, e.p, e.len, flags, &d) !=
                (smtp_ssize)n ||
            !same(&d, s, n))
            abort();
        free(e.p);
        free(d.p);
    }
    /* as text */
    rc = run(smtp_utf8addr_decoded_len, smtp_utf8addr_decode, s, n, flags, &d);
    if (rc < 0) {
        if (rc != SMTP_ERR_XTEXT && rc != SMTP_ERR_UTF8) abort();
        return;
    }
    if (utf8_ref((const unsigned char *)d.p, d.len) != d.len || has_ctl(d.p, d.len)) abort();
    if (run(smtp_utf8addr_encoded_len, smtp_utf8addr_encode, d.p, d.len, flags, &e) < 0) abort();
    if (run(smtp_utf8addr_decoded_len, smtp_utf8addr_decode, e.p, e.len, flags, &d2) < 0 ||
        !same(&d2, d.p, d.len))
        abort();
    free(e.p);
    free(d.p);
    free(d2.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_utf8(s, size);
    check_base64(s, size);
    check_xtext(s, size);
    check_utf8addr(s, size, 0);
    check_utf8addr(s, size, SMTP_UTF8ADDR_UNITEXT);
    if (smtp_base64_encoded_len(SIZE_MAX) != SMTP_ERR_OVERFLOW) abort();
    return 0;
}
