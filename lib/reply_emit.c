/* SPDX-License-Identifier: MIT */
/*
 * The reply emitter (RFC 5321 4.2, RFC 2034 4), server side.
 *
 * How it works: every argument is checked and the exact size computed first; only when the
 * whole reply is valid and fits are bytes written. So a refused reply leaves `dest` untouched
 * and a peer can never be sent half a reply or a line broken by an injected CRLF.
 */
#include "internal.h"

#include <smtp/reply.h>

#include <string.h>

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including the CRLF. */
#define REPLY_LINE_MAX 512

static int text_ok(const smtp_span *t)
{
    for (size_t i = 0; i < t->len; i++) {
        unsigned char c = (unsigned char)t->ptr[i];
        if (c != '\t' && smtp_is_ctl(c)) return 0;
    }
    return 1;
}

/* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39. */
static bool code_valid(int code)
{
    return code >= 200 && code <= 599 && code / 10 % 10 <= 5;
}

smtp_ssize smtp_emit_reply(char *dest, size_t cap, int code, const char *enhanced,
                           const smtp_span *lines, size_t nlines)
{
    if (!code_valid(code) || !lines || nlines == 0 || (!dest && cap > 0))
        return SMTP_ERR_INVALID_ARGUMENT;
    size_t elen = enhanced ? strlen(enhanced) : 0;
    if (enhanced && (elen == 0 || smtp_enhanced_prefix(enhanced, elen, code) != elen))
        return SMTP_ERR_INVALID_ARGUMENT;

    size_t total = 0;
    for (size_t i = 0; i < nlines; i++) {
        if (!lines[i].ptr && lines[i].len > 0) return SMTP_ERR_INVALID_ARGUMENT;
        if (!text_ok(&lines[i])) return SMTP_ERR_UNSAFE_ARGUMENT;
        /* "250" [SP ENH] [SP TEXT] CRLF; a continuation always has its '-'. */
        size_t n = 3 + (enhanced ? 1 + elen : 0) + 2;
        if (lines[i].len > 0)
            n += 1 + lines[i].len;
        else if (!enhanced && i + 1 < nlines)
            n += 1; /* "250-\r\n" */
        if (n > REPLY_LINE_MAX) return SMTP_ERR_INVALID_ARGUMENT;
        total += n;
    }
    if (!dest) return (smtp_ssize)total;
    if (total > cap) return SMTP_ERR_NOBUF;

    char *w = dest;
    for (size_t i = 0; i < nlines; i++) {
        int last = i + 1 == nlines;
        *w++ = (char)('0' + code / 100);
        *w++ = (char)('0' + code / 10 % 10);
        *w++ = (char)('0' + code % 10);
        int need_sep = enhanced || lines[i].len > 0 || !last;
        if (need_sep) *w++ = last ? ' ' : '-';
        if (enhanced) {
            memcpy(w, enhanced, elen);
            w += elen;
            if (lines[i].len > 0) *w++ = ' ';
        }
        if (lines[i].len > 0) {
            memcpy(w, lines[i].ptr, lines[i].len);
            w += lines[i].len;
        }
        *w++ = '\r';
        *w++ = '\n';
    }
    return (smtp_ssize)(w - dest);
}

smtp_ssize smtp_emit_reply1(char *dest, size_t cap, int code, const char *enhanced,
                            const char *text, size_t len)
{
    smtp_span line = {text, len};
    return smtp_emit_reply(dest, cap, code, enhanced, &line, 1);
}
