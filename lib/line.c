/* SPDX-License-Identifier: MIT */
/*
 * The line framer (see line.h for the contract).
 *
 * How it works: a line that arrives whole, with no CR, LF or NUL before its CRLF, is found in
 * one pass (smtp_scan_eol0) and handed out at once. Otherwise each call looks for the next LF
 * with memchr. If no partial line is pending and
 * the LF is in this feed, the line is judged in place (zero copy). Otherwise the bytes before
 * the LF are appended to the buffer; once the buffer would overflow, the framer keeps its first
 * max-1 bytes (so the caller can still see which command was too long) and discards the rest up
 * to the LF. A line is judged only when its LF arrives, so the result never depends on how the
 * stream was split. With SMTP_LINE_ON_DEMAND the buffer is allocated by the first call that has
 * bytes to keep (a feed ending inside a line), so a peer that sends whole lines costs nothing.
 */
#include "line.h"
#include "scan.h"

#include <string.h>

int smtp_line_init(smtp_line_framer *f, size_t max, unsigned flags, const smtp_mem *mem)
{
    if (!f || !mem || max < 3 || (flags & ~(SMTP_LINE_LENIENT_BARE_LF | SMTP_LINE_ON_DEMAND)))
        return SMTP_ERR_INVALID_ARGUMENT;
    f->mem = mem;
    f->buf = NULL;
    f->max = max;
    f->len = 0;
    f->flags = flags;
    f->discarding = false;
    return (flags & SMTP_LINE_ON_DEMAND) ? 0 : smtp_line_reserve(f);
}

int smtp_line_reserve(smtp_line_framer *f)
{
    if (!f->buf) f->buf = smtp_malloc(f->mem, f->max - 1);
    return f->buf ? 0 : SMTP_ERR_NOMEM;
}

void smtp_line_free(smtp_line_framer *f)
{
    if (f && f->buf) {
        smtp_free(f->mem, f->buf);
        f->buf = NULL;
    }
}

smtp_line_status smtp_line_scan(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '\r': return SMTP_LINE_BARE_CR;
        case '\n': return SMTP_LINE_BARE_LF;
        case '\0': return SMTP_LINE_NUL;
        default: break;
        }
    }
    return SMTP_LINE_OK;
}

/* Judges `raw`, a line's bytes before its LF, of at most max-1 bytes. */
static void judge(const smtp_line_framer *f, const char *raw, size_t n, smtp_line *out)
{
    bool crlf = n > 0 && raw[n - 1] == '\r';
    size_t text = crlf ? n - 1 : n;
    out->text.ptr = raw;
    /* RFC 5321 4.5.3.1.4 counts the CRLF: the text may hold max-2 octets. */
    if (text > f->max - 2) {
        out->status = SMTP_LINE_TOO_LONG;
        out->text.len = n; /* n == max-1 here: the same prefix as a discarded line */
        return;
    }
    out->text.len = text;
    out->status = smtp_line_scan(raw, text);
    if (out->status == SMTP_LINE_OK && !crlf && !(f->flags & SMTP_LINE_LENIENT_BARE_LF))
        out->status = SMTP_LINE_BARE_LF;
}

/* Appends to the pending line, switching to discard mode when it would overflow. */
static void append(smtp_line_framer *f, const char *data, size_t n)
{
    if (f->discarding) return;
    size_t room = f->max - 1 - f->len;
    if (n > room) {
        n = room;
        f->discarding = true;
    }
    if (n) memcpy(f->buf + f->len, data, n);
    f->len += n;
}

size_t smtp_line_next(smtp_line_framer *f, const char *data, size_t len, smtp_line *out)
{
    if (f->len == 0 && !f->discarding) {
        /* The common case in one pass: a whole line whose first CR, LF or NUL is its CRLF. */
        const char *end = data + len;
        const char *q = smtp_scan_eol0(data, end);
        if (q + 1 < end && q[0] == '\r' && q[1] == '\n' && (size_t)(q - data) <= f->max - 2) {
            out->status = SMTP_LINE_OK;
            out->text.ptr = data;
            out->text.len = (size_t)(q - data);
            return (size_t)(q - data) + 2;
        }
    }
    out->status = SMTP_LINE_NONE;
    out->text.ptr = NULL;
    out->text.len = 0;
    const char *lf = len ? memchr(data, '\n', len) : NULL;
    if (!lf && len && smtp_line_reserve(f) < 0) {
        /* A split line must be kept and there is no buffer (SMTP_LINE_ON_DEMAND); a split line
         * already pending has one. */
        out->status = SMTP_LINE_NOMEM;
        return 0;
    }
    if (!lf) {
        append(f, data, len);
        return len;
    }
    size_t n = (size_t)(lf - data);
    if (f->len == 0 && !f->discarding) {
        if (n <= f->max - 1) {
            judge(f, data, n, out);
        } else {
            out->status = SMTP_LINE_TOO_LONG;
            out->text.ptr = data;
            out->text.len = f->max - 1;
        }
        return n + 1;
    }
    append(f, data, n);
    if (f->discarding) {
        out->status = SMTP_LINE_TOO_LONG;
        out->text.ptr = f->buf;
        out->text.len = f->len;
    } else {
        judge(f, f->buf, f->len, out);
    }
    /* The buffer's bytes stay valid for the caller until the next call. */
    f->len = 0;
    f->discarding = false;
    return n + 1;
}
