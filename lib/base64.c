/* SPDX-License-Identifier: MIT */
/*
 * base64 (RFC 4648 4), the encoding of SASL exchanges in AUTH (RFC 4954 4).
 *
 * The encoder writes the standard alphabet with padding and no line breaks. The decoder is
 * strict, because AUTH data is security-sensitive and a lenient decoder lets two different
 * strings mean the same credentials: the length must be a multiple of 4, padding ('=' or "==")
 * is required and only at the very end, any byte outside the alphabet (white space included)
 * is an error, and the bits left unused before the padding must be zero (RFC 4648 3.5).
 * Decoding validates everything first, so a failing call writes nothing.
 */
#include "internal.h"

#include <smtp/codec.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet byte, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

smtp_ssize smtp_base64_encoded_len(size_t len)
{
    size_t groups = len / 3 + (len % 3 ? 1 : 0);
    if (groups > (size_t)PTRDIFF_MAX / 4) return SMTP_ERR_OVERFLOW;
    return (smtp_ssize)(groups * 4);
}

smtp_ssize smtp_base64_encode(const char *in, size_t len, char *out, size_t cap)
{
    if ((!in && len) || (!out && cap)) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_base64_encoded_len(len);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return (smtp_ssize)o;
}

/*
 * Validates the last quantum `q` (4 bytes) and returns how many bytes it decodes to (1..3),
 * or -1. Padding may only end it; the bits the padding leaves unused must be zero.
 */
static int b64_last_quantum(const unsigned char *q)
{
    int v0 = b64_value(q[0]), v1 = b64_value(q[1]);
    if (v0 < 0 || v1 < 0) return -1;
    if (q[2] == '=') {
        if (q[3] != '=' || (v1 & 0x0f) != 0) return -1;
        return 1;
    }
    int v2 = b64_value(q[2]);
    if (v2 < 0) return -1;
    if (q[3] == '=') return (v2 & 0x03) == 0 ? 2 : -1;
    return b64_value(q[3]) < 0 ? -1 : 3;
}

smtp_ssize smtp_base64_decoded_len(const char *in, size_t len)
{
    if (!in && len) return SMTP_ERR_INVALID_ARGUMENT;
    if (len == 0) return 0;
    if (len % 4 != 0) return SMTP_ERR_BASE64;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i + 4 < len; i++) {
        if (b64_value(p[i]) < 0) return SMTP_ERR_BASE64;
    }
    int last = b64_last_quantum(p + len - 4);
    if (last < 0) return SMTP_ERR_BASE64;
    return (smtp_ssize)((len / 4 - 1) * 3 + (size_t)last);
}

smtp_ssize smtp_base64_decode(const char *in, size_t len, char *out, size_t cap)
{
    if (!out && cap) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_ssize need = smtp_base64_decoded_len(in, len);
    if (need < 0) return need;
    if ((size_t)need > cap) return SMTP_ERR_NOBUF;
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        /* Validated above: '=' only in the last quantum, where it counts as zero bits. */
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = p[i + k] == '=' ? 0 : b64_value(p[i + k]);
            v = v << 6 | (uint32_t)d;
        }
        unsigned char bytes[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
                                  (unsigned char)v};
        for (size_t k = 0; k < 3 && o < (size_t)need; k++)
            out[o++] = (char)bytes[k];
    }
    return (smtp_ssize)o;
}
