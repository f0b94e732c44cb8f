/* SPDX-License-Identifier: MIT */
/*
 * Text codecs of ESMTP parameter values:
 *  - UTF-8 validation (RFC 3629 4: the well-formed sequences, as RFC 6531 requires);
 *  - xtext (RFC 3461 4): "+HH" escapes with uppercase hex;
 *  - the RFC 6533 3 forms of "utf-8" addresses in ORCPT: QCHAR literals and "\x{HEX}" escapes,
 *    plus raw UTF-8 in the unitext form.
 *
 * Each decoder validates the whole input before writing anything, so a failing call leaves
 * the output untouched; the *_len functions are the same validators returning only the length.
 */
#include "internal.h"

#include <smtp/codec.h>

/* ---- UTF-8 ---- */

/*
 * Decodes the sequence at p[0..avail) into *cp and returns its length (1..4), or 0 when it is
 * not well formed. The second-byte ranges of RFC 3629 4 exclude overlongs (C0, C1, E0 80-9F,
 * F0 80-8F), surrogates (ED A0-BF) and values above U+10FFFF (F4 90-BF, F5-FF).
 */
static size_t utf8_decode_one(const unsigned char *p, size_t avail, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        *cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        *cp = c & 0x0fu;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        *cp = c & 0x07u;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        *cp = (*cp << 6) | (p[i] & 0x3fu);
    }
    return n;
}

int smtp_utf8_check(const char *s, size_t len, size_t *error_at)
{
    if (!s && len) return SMTP_ERR_INVALID_ARGUMENT;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode_one(p + i, len - i, &cp);
        if (n == 0) {
            if (error_at) *error_at = i;
            return SMTP_ERR_UTF8;
        }
        i += n;
    }
    return 0;
}

/* Writes the UTF-8 encoding of a valid scalar value `cp` into buf; returns its length. */
static size_t utf8_encode_one(uint32_t cp, unsigned char *buf)
{
    if (cp < 0x80) {
        buf[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (unsigned char)(0xc0 | (cp >> 6));
        buf[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (unsigned char)(0xe0 | (cp >> 12));
        buf[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    buf[0] = (unsigned char)(0xf0 | (cp >> 18));
    buf[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    buf[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    buf[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static const char hex_upper[] = "0123456789ABCDEF";

/* The value of an uppercase hex digit (RFC 3461 4 hexchar), or -1. */
static int hex_upper_value(unsigned char c)
{
    return (c >= 'a' && c <= 'f') ? -1 : smtp_hex_value(c);
}

/* ---- xtext ---- */

/* RFC 3461 4: xchar is "!" .. "~" except '+' and '='. */
static bool is_xchar(unsigned char c)
{
    return c >= '!' && c <= '~' && c != '+' && c != '=';
}

/*
 * Walks the xtext `in`; when `out` is not NULL writes the decoded bytes there (the caller has
 * checked the room). Returns the decoded length or SMTP_ERR_XTEXT.
 */
static smtp_ssize xtext_walk(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (c == '+') {
            if (len - i < 3) return SMTP_ERR_XTEXT;
            int hi = hex_upper_value(in[i + 1]), lo = hex_upper_value(in[i + 2]);
            if (hi < 0 || lo < 0) return SMTP_ERR_XTEXT;
            c = (unsigned char)(hi << 4 | lo);
            /* A decoded control byte would smuggle CR, LF or NUL into logs and headers. */
            if (smtp_is_ctl(c)) return SMTP_ERR_XTEXT;
            i += 2;
        } else if (!is_xchar(c)) {
            return SMTP_ERR_XTEXT;
        }
        if (out) out[o] = (char)c;
        o++;
    }
    return (smtp_ssize)o;
}

smtp_ssize smtp_xtext_decoded_len(const char *in, size_t len)
{
    if (!in && len) return SMTP_ERR_INVALID_ARGUMENT;
    return xtext_walk((const unsigned char *)in, len, NULL);
}

smtp_ssize smtp_xtext_decode(const char *in, size_t len, char *out, size_t cap)
{
    if (!out && cap) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_xtext_decoded_len(in, len);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    return xtext_walk((const unsigned char *)in, len, out);
}

smtp_ssize smtp_xtext_encoded_len(const char *in, size_t len)
{
    if (!in && len) return SMTP_ERR_INVALID_ARGUMENT;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (smtp_is_ctl(c)) return SMTP_ERR_UNSAFE_ARGUMENT;
        size_t add = is_xchar(c) ? 1 : 3;
        if (n > (size_t)PTRDIFF_MAX - add) return SMTP_ERR_OVERFLOW;
        n += add;
    }
    return (smtp_ssize)n;
}

smtp_ssize smtp_xtext_encode(const char *in, size_t len, char *out, size_t cap)
{
    if (!out && cap) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_xtext_encoded_len(in, len);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_xchar(c)) {
            out[o++] = (char)c;
            continue;
        }
        out[o++] = '+';
        out[o++] = hex_upper[c >> 4];
        out[o++] = hex_upper[c & 15];
    }
    return (smtp_ssize)o;
}

/* ---- RFC 6533 utf-8-addr-xtext / utf-8-addr-unitext ---- */

/* RFC 6533 3 QCHAR: "!".."~" except the xtext specials '+', '=' and '\'. */
static bool is_qchar(unsigned char c)
{
    return is_xchar(c) && c != '\\';
}

/* The ASCII characters that must be written \x{HH}: SP and the xtext specials. */
static bool is_escaped_ascii(uint32_t cp)
{
    return cp == ' ' || cp == '+' || cp == '=' || cp == '\\';
}

/*
 * Parses the EmbeddedUnicodeChar at in[0..len) (starting with '\'). Returns its length and the
 * value in *cp, or 0 when malformed. HEXPOINT: 2..6 hex digits without a leading zero, naming
 * SP, '+', '=', '\' or a non-ASCII scalar value (no surrogate, at most U+10FFFF).
 */
static size_t unichar_parse(const unsigned char *in, size_t len, uint32_t *cp)
{
    if (len < 3 || in[1] != 'x' || in[2] != '{') return 0;
    size_t i = 3;
    uint32_t v = 0;
    size_t digits = 0;
    for (; i < len && in[i] != '}'; i++) {
        int d = smtp_hex_value(in[i]);
        if (d < 0 || digits == 6 || (digits == 0 && d == 0)) return 0;
        v = v << 4 | (uint32_t)d;
        digits++;
    }
    if (i == len || digits < 2) return 0;
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    if (v < 0x80 && !is_escaped_ascii(v)) return 0;
    *cp = v;
    return i + 1;
}

/*
 * Walks the encoded address; writes the UTF-8 decoding into `out` when not NULL. Returns the
 * decoded length or a negative error.
 */
static smtp_ssize utf8addr_walk(const unsigned char *in, size_t len, unsigned flags, char *out)
{
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = in[i];
        uint32_t cp;
        size_t n;
        if (c == '\\') {
            n = unichar_parse(in + i, len - i, &cp);
            if (n == 0) return SMTP_ERR_XTEXT;
        } else if (c >= 0x80) {
            if (!(flags & SMTP_UTF8ADDR_UNITEXT)) return SMTP_ERR_UTF8;
            n = utf8_decode_one(in + i, len - i, &cp);
            if (n == 0) return SMTP_ERR_UTF8;
        } else if (is_qchar(c)) {
            n = 1;
            cp = c;
        } else {
            return SMTP_ERR_XTEXT;
        }
        unsigned char buf[4];
        size_t k = utf8_encode_one(cp, buf);
        if (out) {
            for (size_t j = 0; j < k; j++)
                out[o + j] = (char)buf[j];
        }
        o += k;
        i += n;
    }
    return (smtp_ssize)o;
}

smtp_ssize smtp_utf8addr_decoded_len(const char *in, size_t len, unsigned flags)
{
    if ((!in && len) || (flags & ~SMTP_UTF8ADDR_UNITEXT)) return SMTP_ERR_INVALID_ARGUMENT;
    return utf8addr_walk((const unsigned char *)in, len, flags, NULL);
}

smtp_ssize smtp_utf8addr_decode(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    if (!out && cap) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_utf8addr_decoded_len(in, len, flags);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    return utf8addr_walk((const unsigned char *)in, len, flags, out);
}

/*
 * Writes "\x{HEX}" for cp into buf (uppercase, no leading zero). Only SP, the specials and
 * non-ASCII values are escaped, all >= 0x20, so there are always at least 2 digits.
 */
static size_t unichar_format(uint32_t cp, char *buf)
{
    char digits[6];
    size_t nd = 0;
    do {
        digits[nd++] = hex_upper[cp & 15];
        cp >>= 4;
    } while (cp);
    size_t o = 0;
    buf[o++] = '\\';
    buf[o++] = 'x';
    buf[o++] = '{';
    while (nd)
        buf[o++] = digits[--nd];
    buf[o++] = '}';
    return o;
}

/*
 * Walks the UTF-8 input; writes the encoding into `out` when not NULL. Returns the encoded
 * length or a negative error.
 */
static smtp_ssize utf8addr_encode_walk(const unsigned char *in, size_t len, unsigned flags,
                                       char *out)
{
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode_one(in + i, len - i, &cp);
        if (n == 0) return SMTP_ERR_UTF8;
        if (cp < 0x80 && smtp_is_ctl((unsigned char)cp)) return SMTP_ERR_UNSAFE_ARGUMENT;
        char buf[12];
        size_t k;
        if ((cp >= 0x80 && !(flags & SMTP_UTF8ADDR_UNITEXT)) || is_escaped_ascii(cp)) {
            k = unichar_format(cp, buf);
        } else {
            for (k = 0; k < n; k++)
                buf[k] = (char)in[i + k];
        }
        if (o > (size_t)PTRDIFF_MAX - k) return SMTP_ERR_OVERFLOW;
        if (out) {
            for (size_t j = 0; j < k; j++)
                out[o + j] = buf[j];
        }
        o += k;
        i += n;
    }
    return (smtp_ssize)o;
}

smtp_ssize smtp_utf8addr_encoded_len(const char *in, size_t len, unsigned flags)
{
    if ((!in && len) || (flags & ~SMTP_UTF8ADDR_UNITEXT)) return SMTP_ERR_INVALID_ARGUMENT;
    return utf8addr_encode_walk((const unsigned char *)in, len, flags, NULL);
}

smtp_ssize smtp_utf8addr_encode(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    if (!out && cap) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_utf8addr_encoded_len(in, len, flags);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    return utf8addr_encode_walk((const unsigned char *)in, len, flags, out);
}
