/* SPDX-License-Identifier: MIT */
/*
 * The bounded string builder of the client's messages (SASL messages in client_auth.c, MAIL
 * and RCPT parameters in client_txn.c): appends into a caller's buffer and, instead of an
 * error check after every step, remembers the first failure, so that a builder reads as the
 * grammar it writes and the caller checks once at the end.
 */
#include "internal.h"

#include <smtp/codec.h>

#include <string.h>

void smtp_strbuf_put(smtp_strbuf *b, const void *s, size_t n)
{
    if (b->err) return;
    if (n > b->cap - b->len) {
        b->err = SMTP_ERR_TOO_LONG;
        return;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}

void smtp_strbuf_puts(smtp_strbuf *b, const char *s)
{
    smtp_strbuf_put(b, s, strlen(s));
}

/* Maps an encoder's result: octets written, or its error (no room is TOO_LONG). */
static void encoded(smtp_strbuf *b, smtp_ssize n)
{
    if (n < 0)
        b->err = n == SMTP_ERR_NOBUF ? SMTP_ERR_TOO_LONG : (int)n;
    else
        b->len += (size_t)n;
}

void smtp_strbuf_base64(smtp_strbuf *b, const void *data, size_t n)
{
    if (!b->err) encoded(b, smtp_base64_encode(data, n, b->p + b->len, b->cap - b->len));
}

void smtp_strbuf_xtext(smtp_strbuf *b, const char *raw)
{
    if (!b->err) encoded(b, smtp_xtext_encode(raw, strlen(raw), b->p + b->len, b->cap - b->len));
}

void smtp_strbuf_uint(smtp_strbuf *b, uint64_t v)
{
    char digits[20]; /* 2^64 - 1 has 20 */
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    smtp_strbuf_put(b, digits + i, sizeof digits - i);
}

void smtp_strbuf_int(smtp_strbuf *b, int64_t v)
{
    if (v < 0) smtp_strbuf_put(b, "-", 1);
    smtp_strbuf_uint(b, v < 0 ? 0u - (uint64_t)v : (uint64_t)v);
}
