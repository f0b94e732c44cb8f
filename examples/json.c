/*
 * JSON string escaping of arbitrary bytes (json.h). Each position is either the start of a
 * well-formed UTF-8 sequence (RFC 3629 4, the table of valid byte ranges) and copied, or one
 * stray byte, written as the escaped code point of its value so no input can produce invalid
 * JSON or invalid UTF-8.
 */
#include "json.h"

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

void ex_json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    putc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        size_t n = ex_utf8_seq(u + i, len - i);
        if (n == 0) {
            fprintf(out, "\\u%04x", c);
            i++;
            continue;
        }
        if (n > 1) {
            fwrite(u + i, 1, n, out);
            i += n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                putc(c, out);
        }
        i++;
    }
    putc('"', out);
}
