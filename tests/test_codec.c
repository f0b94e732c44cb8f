/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the codecs: argument checks, round trips over many inputs, the length
 * functions against the real output, "nothing written" on errors, and an exhaustive check of
 * the UTF-8 validator against the count of well-formed sequences of each length; the grammar
 * helpers of internal.h that several parsers share; and the bounded string builder the client
 * writes its SASL messages and parameters with.
 */
#include "check.h"
#include "internal.h"

#include <smtp/codec.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state = 12345;

static unsigned char rnd_byte(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (unsigned char)(rng_state >> 16);
}

static void test_arguments(void)
{
    char out[8];
    CHECK_INT(smtp_base64_encode(NULL, 1, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_base64_encode("a", 1, NULL, 4), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_base64_encode("a", 1, NULL, 0), SMTP_ERR_NOBUF);
    CHECK_INT(smtp_base64_encode(NULL, 0, NULL, 0), 0);
    CHECK_INT(smtp_base64_decode(NULL, 4, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_base64_decode(NULL, 0, NULL, 0), 0);
    CHECK_INT(smtp_base64_encoded_len(SIZE_MAX), SMTP_ERR_OVERFLOW);
    CHECK_INT(smtp_base64_encoded_len(0), 0);
    CHECK_INT(smtp_base64_encoded_len(4), 8);
    CHECK_INT(smtp_xtext_encode(NULL, 1, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_xtext_decode("a", 1, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_xtext_decoded_len(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_utf8addr_decoded_len("a", 1, 0x10u), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_utf8addr_encoded_len("a", 1, 0x10u), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_utf8addr_encode("a", 1, 0, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_utf8_check(NULL, 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_utf8_check(NULL, 0, NULL), 0);
}

static void test_base64_round_trip(void)
{
    unsigned char in[200];
    char enc[300], dec[200];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = rnd_byte();
        smtp_ssize e = smtp_base64_encode((const char *)in, n, enc, sizeof enc);
        CHECK_INT(e, smtp_base64_encoded_len(n));
        CHECK_INT(smtp_base64_decoded_len(enc, (size_t)e), (smtp_ssize)n);
        /* exact-size output buffers */
        char *exact = malloc(n ? n : 1);
        smtp_ssize d = smtp_base64_decode(enc, (size_t)e, exact, n);
        CHECK_INT(d, (smtp_ssize)n);
        CHECK(n == 0 || memcmp(exact, in, n) == 0);
        free(exact);
        if (n > 0) {
            memset(dec, 'Z', sizeof dec);
            CHECK_INT(smtp_base64_decode(enc, (size_t)e, dec, n - 1), SMTP_ERR_NOBUF);
            CHECK(dec[0] == 'Z');
        }
    }
}

/* Flipping the unused low bits of the last data character must always be refused. */
static void test_base64_canonical(void)
{
    const char *ok1 = "QQ==", *ok2 = "QUI=";
    char buf[4];
    CHECK_INT(smtp_base64_decode(ok1, 4, buf, sizeof buf), 1);
    CHECK_INT(smtp_base64_decode(ok2, 4, buf, sizeof buf), 2);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int accepted1 = 0, accepted2 = 0;
    for (int i = 0; i < 64; i++) {
        char q1[4] = {'Q', alpha[i], '=', '='};
        char q2[4] = {'Q', 'U', alpha[i], '='};
        accepted1 += smtp_base64_decoded_len(q1, 4) == 1;
        accepted2 += smtp_base64_decoded_len(q2, 4) == 2;
    }
    CHECK_INT(accepted1, 4);  /* 2 significant bits: 4 of 64 characters */
    CHECK_INT(accepted2, 16); /* 4 significant bits: 16 of 64 */
}

static void test_xtext_round_trip(void)
{
    char in[256], enc[768], dec[256];
    size_t n = 0;
    for (int c = 0x20; c < 0x100; c++) {
        if (c != 0x7f) in[n++] = (char)c;
    }
    smtp_ssize e = smtp_xtext_encode(in, n, enc, sizeof enc);
    CHECK_INT(e, smtp_xtext_encoded_len(in, n));
    for (smtp_ssize i = 0; i < e; i++)
        CHECK(enc[i] >= '!' && enc[i] <= '~' && enc[i] != '=');
    CHECK_INT(smtp_xtext_decode(enc, (size_t)e, dec, sizeof dec), (smtp_ssize)n);
    CHECK(memcmp(dec, in, n) == 0);
    memset(dec, 'Z', sizeof dec);
    CHECK_INT(smtp_xtext_decode(enc, (size_t)e, dec, n - 1), SMTP_ERR_NOBUF);
    CHECK(dec[0] == 'Z');
    /* every control byte is refused by the encoder and, as +HH, by the decoder */
    for (int c = 0; c < 0x100; c++) {
        if (c >= 0x20 && c != 0x7f) continue;
        char one = (char)c, hex[3] = {'+', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};
        CHECK_INT(smtp_xtext_encoded_len(&one, 1), SMTP_ERR_UNSAFE_ARGUMENT);
        CHECK_INT(smtp_xtext_decoded_len(hex, 3), SMTP_ERR_XTEXT);
    }
}

/* Encodes scalar value cp as UTF-8 (test-side reference). */
static size_t ref_utf8(uint32_t cp, char *b)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 63));
        b[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    b[0] = (char)(0xf0 | cp >> 18);
    b[1] = (char)(0x80 | (cp >> 12 & 63));
    b[2] = (char)(0x80 | (cp >> 6 & 63));
    b[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Every scalar value round-trips through the RFC 6533 encoder and decoder, both forms. */
static void test_utf8addr_round_trip(void)
{
    int bad = 0;
    for (uint32_t cp = 0x20; cp <= 0x10ffff; cp++) {
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0x7f) continue;
        char in[4], enc[16], dec[4];
        size_t n = ref_utf8(cp, in);
        for (unsigned flags = 0; flags <= SMTP_UTF8ADDR_UNITEXT; flags++) {
            smtp_ssize e = smtp_utf8addr_encode(in, n, flags, enc, sizeof enc);
            smtp_ssize d = e < 0 ? e : smtp_utf8addr_decode(enc, (size_t)e, flags, dec, sizeof dec);
            if (d != (smtp_ssize)n || memcmp(dec, in, n) != 0) bad++;
        }
    }
    CHECK_INT(bad, 0);
}

/* Counts the sequences of `n` bytes (lead from lo to hi) that smtp_utf8_check accepts. */
static long count_valid(unsigned lo, unsigned hi, int n)
{
    long valid = 0;
    unsigned char b[4];
    for (unsigned a = lo; a <= hi; a++) {
        b[0] = (unsigned char)a;
        for (unsigned x = 0; x < 256; x++) {
            b[1] = (unsigned char)x;
            if (n == 2) {
                valid += smtp_utf8_check((const char *)b, 2, NULL) == 0;
                continue;
            }
            for (unsigned y = 0x80; y < 0xc0; y++) {
                b[2] = (unsigned char)y;
                if (n == 3) {
                    valid += smtp_utf8_check((const char *)b, 3, NULL) == 0;
                    continue;
                }
                for (unsigned z = 0x80; z < 0xc0; z++) {
                    b[3] = (unsigned char)z;
                    valid += smtp_utf8_check((const char *)b, 4, NULL) == 0;
                }
            }
        }
    }
    return valid;
}

static void test_utf8_exhaustive(void)
{
    /* Two-byte: U+0080..U+07FF. Leads C0..DF with any second byte. */
    CHECK_INT(count_valid(0xc0, 0xdf, 2), 0x800 - 0x80);
    /* Three-byte: U+0800..U+FFFF minus the 2048 surrogates. */
    CHECK_INT(count_valid(0xe0, 0xef, 3), 0x10000 - 0x800 - 0x800);
    /* Four-byte: U+10000..U+10FFFF; leads F5..FF never. */
    CHECK_INT(count_valid(0xf0, 0xf4, 4), 0x100000);
    CHECK_INT(count_valid(0xf5, 0xff, 4), 0);
    /* ASCII-valued lead bytes with a continuation are two sequences, the second bad */
    const char stray[2] = {'a', (char)0x80};
    size_t at = 9;
    CHECK_INT(smtp_utf8_check(stray, 2, &at), SMTP_ERR_UTF8);
    CHECK_INT(at, 1);
}

/* The shared helpers of internal.h (lib/grammar.c), used by the command, caps, path and params
 * parsers alike. */
static void test_shared_helpers(void)
{
    uint64_t v = 7;
    CHECK_INT(smtp_parse_uint("0", 1, 1, 9, &v), 0);
    CHECK(v == 0);
    CHECK_INT(smtp_parse_uint("18446744073709551615", 20, 20, UINT64_MAX, &v), 0);
    CHECK(v == UINT64_MAX);
    v = 7;
    CHECK_INT(smtp_parse_uint("18446744073709551616", 20, 20, UINT64_MAX, &v), SMTP_ERR_OVERFLOW);
    CHECK_INT(smtp_parse_uint("99999999999999999999", 20, 20, UINT64_MAX, &v), SMTP_ERR_OVERFLOW);
    CHECK_INT(smtp_parse_uint("0001", 4, 3, 999, &v), SMTP_ERR_OVERFLOW); /* too many digits */
    CHECK_INT(smtp_parse_uint("0001", 4, SIZE_MAX, 999, &v), 0);
    CHECK(v == 1);
    v = 7;
    CHECK_INT(smtp_parse_uint("1000", 4, 9, 999, &v), SMTP_ERR_OVERFLOW);
    CHECK_INT(smtp_parse_uint("8", 1, 1, 5, &v),
              SMTP_ERR_OVERFLOW); /* a digit above a small limit */
    CHECK_INT(smtp_parse_uint("", 0, 9, 999, &v), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_parse_uint("1a", 2, 9, 999, &v), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_parse_uint("+1", 2, 9, 999, &v), SMTP_ERR_SYNTAX);
    CHECK(v == 7); /* untouched on error */

    CHECK(smtp_is_sasl_mech("SCRAM-SHA-256-PLUS", 18));
    CHECK(smtp_is_sasl_mech("x_oauth2", 8));
    CHECK(smtp_is_sasl_mech("ABCDEFGHIJKLMNOPQRST", 20));
    CHECK(!smtp_is_sasl_mech("ABCDEFGHIJKLMNOPQRSTU", 21));
    CHECK(!smtp_is_sasl_mech("", 0));
    CHECK(!smtp_is_sasl_mech("PL AIN", 6));
    CHECK(!smtp_is_sasl_mech("PLAIN=", 6));

    CHECK(smtp_span_ieq_span("PLAIN", 5, "plain", 5));
    CHECK(!smtp_span_ieq_span("PLAIN", 5, "plai", 4));
    CHECK(!smtp_span_ieq_span("[", 1, "{", 1)); /* only letters fold */
    CHECK(smtp_span_ieq_span(NULL, 0, "", 0));

    CHECK_INT(smtp_hex_value('0'), 0);
    CHECK_INT(smtp_hex_value('f'), 15);
    CHECK_INT(smtp_hex_value('F'), 15);
    CHECK_INT(smtp_hex_value('g'), -1);
    CHECK_INT(smtp_hex_value('@'), -1);

    CHECK(smtp_span_has_ctl("a\tb", 3));
    CHECK(smtp_span_has_ctl("\x7f", 1));
    CHECK(!smtp_span_has_ctl("caf\xC3\xA9", 5));
    CHECK(!smtp_span_has_ctl(NULL, 0));

    CHECK(smtp_is_atext('{') && smtp_is_atext('~') && smtp_is_atext('z'));
    CHECK(!smtp_is_atext('.') && !smtp_is_atext('@') && !smtp_is_atext(0) && !smtp_is_atext(0xC3));
    /* The bitmap against RFC 5322 3.2.3's definition, every octet. */
    for (unsigned c = 0; c < 256; c++) {
        bool want = c < 128 && (smtp_is_alnum((unsigned char)c) ||
                                (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) != NULL));
        if (smtp_is_atext((unsigned char)c) != want) {
            CHECK_INT((int)c, -1);
            break;
        }
    }
}

/* The string builder (lib/strbuf.c): an append fits whole or fails, the first failure sticks and
 * what comes after it is dropped, an encoder's "no room" reads as TOO_LONG and its other errors
 * as they are. */
static void test_strbuf(void)
{
    char out[8];
    smtp_strbuf b = {out, 0, sizeof out, 0};
    smtp_strbuf_puts(&b, "ab");
    smtp_strbuf_int(&b, -12);
    smtp_strbuf_put(&b, NULL, 0);
    CHECK_INT(b.err, 0);
    CHECK_MEM(out, b.len, "ab-12");
    smtp_strbuf_puts(&b, "cdef"); /* 4 > the 3 octets left: nothing of it is written */
    CHECK_INT(b.err, SMTP_ERR_TOO_LONG);
    CHECK_MEM(out, b.len, "ab-12");
    smtp_strbuf_put(&b, "x", 1); /* would fit, but the first failure sticks */
    smtp_strbuf_uint(&b, 7);
    smtp_strbuf_base64(&b, "a", 1);
    smtp_strbuf_xtext(&b, "a");
    CHECK_INT(b.err, SMTP_ERR_TOO_LONG);
    CHECK_MEM(out, b.len, "ab-12");

    b = (smtp_strbuf){out, 0, sizeof out, 0};
    smtp_strbuf_base64(&b, "ab", 2); /* "YWI=" */
    smtp_strbuf_xtext(&b, "a+");     /* "a+2B" */
    CHECK_INT(b.err, 0);
    CHECK_MEM(out, b.len, "YWI=a+2B");
    smtp_strbuf_base64(&b, "a", 1); /* the encoder's NOBUF */
    CHECK_INT(b.err, SMTP_ERR_TOO_LONG);
    CHECK_INT(b.len, 8);

    b = (smtp_strbuf){out, 0, sizeof out, 0};
    smtp_strbuf_xtext(&b, "a\001"); /* a control: xtext's own error, kept as it is */
    CHECK_INT(b.err, SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(b.len, 0);

    char wide[21];
    b = (smtp_strbuf){wide, 0, 20, 0};
    smtp_strbuf_int(&b, INT64_MIN); /* negated without overflow: exactly the 20 octets */
    CHECK_INT(b.err, 0);
    CHECK_MEM(wide, b.len, "-9223372036854775808");
    b = (smtp_strbuf){wide, 0, 20, 0};
    smtp_strbuf_uint(&b, 0);
    smtp_strbuf_uint(&b, UINT64_MAX); /* 20 digits after the "0": too long */
    CHECK_INT(b.err, SMTP_ERR_TOO_LONG);
    CHECK_MEM(wide, b.len, "0");
}

int main(void)
{
    test_shared_helpers();
    test_strbuf();
    test_arguments();
    test_base64_round_trip();
    test_base64_canonical();
    test_xtext_round_trip();
    test_utf8addr_round_trip();
    test_utf8_exhaustive();
    return check_finish();
}
