/* SPDX-License-Identifier: MIT */
/*
 * The reply parser (RFC 5321 4.2), client side.
 *
 * How it works: the input is cut at LF. A line found whole inside one read is handed to the
 * line handler as a span into the caller's buffer (no copy); only a line split across reads
 * is gathered in `buf`, allocated with max_line octets when the first one comes (most
 * sessions never split a line: an idle client holds no such buffer) and kept. Each complete
 * line is checked (CRLF ending, no bare CR, no NUL, a 2xx-5xx code, a valid separator, the
 * same code as the reply's first line) and reported; a line whose separator is SP, or that
 * ends right after the code ("250\r\n", which real servers send), completes the reply. Any
 * violation fails the parser for good: a reply is never made up from bytes that do not form
 * one. The common line, whole in the read and without a stray CR or NUL, is found and cleared
 * of the line-end and NUL checks in one pass: its first CR, LF or NUL is its CRLF (scan.h).
 */
#include "scan.h"

#include <smtp/reply.h>

#include <string.h>

#define REPLY_DEFAULT_MAX_LINE 2048
#define REPLY_DEFAULT_MAX_LINES 1000

struct smtp_reply_parser {
    const smtp_mem *mem;
    smtp_reply_callbacks cb;
    void *user_data;
    size_t max_line;
    size_t max_lines;
    char *buf;     /* a line split across reads, max_line octets; NULL until one is */
    size_t buflen; /* octets of it held so far */
    int code;      /* the code of the reply in progress, 0 between replies */
    size_t nlines; /* lines of the reply in progress */
    int error;     /* sticky error, 0 when none */
    int in_callback;
};

void smtp_reply_settings_init_versioned(int version, smtp_reply_settings *settings)
{
    if (!settings || version < 1 || version > SMTP_REPLY_SETTINGS_VERSION) return;
    settings->max_line = REPLY_DEFAULT_MAX_LINE;
    settings->max_lines = REPLY_DEFAULT_MAX_LINES;
}

/* The size of each version of the structs (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    return version == 1 ? sizeof(smtp_reply_settings) : 0;
}

static size_t callbacks_size(int version)
{
    return version == 1 ? sizeof(smtp_reply_callbacks) : 0;
}

int smtp_reply_parser_new_versioned(smtp_reply_parser **pparser, int callbacks_version,
                                    const smtp_reply_callbacks *callbacks, int settings_version,
                                    const smtp_reply_settings *settings, const smtp_mem *mem,
                                    void *user_data)
{
    if (pparser) *pparser = NULL;
    if (!pparser || !settings_size(settings_version) || !callbacks_size(callbacks_version))
        return SMTP_ERR_INVALID_ARGUMENT;
    /* What a caller's version lacks keeps its default. */
    smtp_reply_settings set;
    smtp_reply_settings_init(&set);
    if (settings) memcpy(&set, settings, settings_size(settings_version));
    smtp_reply_callbacks cb;
    memset(&cb, 0, sizeof cb);
    if (callbacks) memcpy(&cb, callbacks, callbacks_size(callbacks_version));
    /* "250\r\n" plus one octet: anything smaller could not hold a reply line. */
    if (set.max_line < 6 || set.max_lines == 0) return SMTP_ERR_INVALID_ARGUMENT;
    mem = smtp_mem_or_default(mem);
    smtp_reply_parser *p = smtp_calloc(mem, 1, sizeof *p);
    if (!p) return SMTP_ERR_NOMEM;
    p->mem = mem;
    p->cb = cb;
    p->user_data = user_data;
    p->max_line = set.max_line;
    p->max_lines = set.max_lines;
    *pparser = p;
    return 0;
}

void smtp_reply_parser_del(smtp_reply_parser *parser)
{
    if (!parser) return;
    smtp_free(parser->mem, parser->buf);
    smtp_free(parser->mem, parser);
}

int smtp_reply_parser_reserve(smtp_reply_parser *parser)
{
    if (!parser) return SMTP_ERR_INVALID_ARGUMENT;
    if (!parser->buf) parser->buf = smtp_malloc(parser->mem, parser->max_line);
    return parser->buf ? 0 : SMTP_ERR_NOMEM;
}

void smtp_reply_parser_reset(smtp_reply_parser *parser)
{
    if (!parser) return;
    parser->buflen = 0;
    parser->code = 0;
    parser->nlines = 0;
    parser->error = 0;
}

int smtp_reply_parser_idle(const smtp_reply_parser *parser)
{
    return parser && parser->error == 0 && parser->buflen == 0 && parser->code == 0;
}

/* Reads 1-3 digits at s[*i]; returns 0 when there are none or more than three. */
static int digits1to3(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && smtp_is_digit((unsigned char)s[*i]))
        (*i)++;
    return *i - start >= 1 && *i - start <= 3;
}

size_t smtp_enhanced_prefix(const char *s, size_t len, int code)
{
    size_t i = 2;
    int cls = code / 100;
    /* RFC 3463 2: class = "2" / "4" / "5" (there are no 3xx enhanced codes). */
    if (cls != 2 && cls != 4 && cls != 5) return 0;
    if (len < 5 || s[0] != (char)('0' + cls) || s[1] != '.') return 0;
    /* The common form, one digit each ("2.1.0"), at once; the loops below find the same. */
    if (smtp_is_digit((unsigned char)s[2]) && s[3] == '.' && smtp_is_digit((unsigned char)s[4]) &&
        (len == 5 || !smtp_is_digit((unsigned char)s[5])))
        return 5;
    if (!digits1to3(s, len, &i) || i >= len || s[i] != '.') return 0;
    i++;
    return digits1to3(s, len, &i) ? i : 0;
}

/*
 * Splits an enhanced status code off the start of `line->text` when there is one of the
 * reply's class, followed by SP or the end of the text.
 */
static void split_enhanced(smtp_reply_line *line)
{
    const char *t = line->text.ptr;
    size_t n = line->text.len;
    size_t e = smtp_enhanced_prefix(t, n, line->code);
    line->enhanced = (smtp_span){t, 0};
    line->message = line->text;
    if (e == 0 || (e < n && t[e] != ' ')) return;
    line->enhanced.len = e;
    line->message = (smtp_span){t + e + (e < n), n - e - (e < n)};
}

/* Checks and reports one complete line (ending in LF); returns 0, SMTP_PAUSE or an error.
 * `clean`: the caller found its first CR, LF or NUL to be its CRLF (the checks of line ends
 * and NUL are done). */
static int handle_line(smtp_reply_parser *p, const char *s, size_t n, int clean)
{
    if (!clean) {
        if (n < 2 || s[n - 2] != '\r') return SMTP_ERR_BARE_LF;
        if (memchr(s, '\r', n - 2)) return SMTP_ERR_BARE_CR;
        if (memchr(s, '\0', n - 2)) return SMTP_ERR_NUL;
    }
    n -= 2; /* the content, without CRLF */
    if (n < 3 || s[0] < '2' || s[0] > '5' || !smtp_is_digit((unsigned char)s[1]) ||
        !smtp_is_digit((unsigned char)s[2]))
        return SMTP_ERR_REPLY_CODE;

    smtp_reply_line line;
    line.code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (n == 3)
        line.last = 1; /* "250\r\n": a final line without SP and text */
    else if (s[3] == ' ')
        line.last = 1;
    else if (s[3] == '-')
        line.last = 0;
    else
        return SMTP_ERR_REPLY_SEPARATOR;
    if (p->code != 0 && line.code != p->code) return SMTP_ERR_REPLY_MISMATCH;
    if (p->nlines >= p->max_lines) return SMTP_ERR_REPLY_TOO_LONG;

    line.index = p->nlines;
    line.text = n > 3 ? (smtp_span){s + 4, n - 4} : (smtp_span){s + 3, 0};
    split_enhanced(&line);
    if (line.last) {
        p->code = 0;
        p->nlines = 0;
    } else {
        p->code = line.code;
        p->nlines++;
    }
    int rv;
    SMTP_CALLBACK(p, rv, on_line, &line);
    if (rv < 0) return SMTP_ERR_CALLBACK_FAILURE;
    return rv == SMTP_PAUSE ? SMTP_PAUSE : 0;
}

smtp_ssize smtp_reply_parser_read(smtp_reply_parser *parser, const char *data, size_t len)
{
    smtp_reply_parser *p = parser;
    if (!p || (!data && len > 0)) return SMTP_ERR_INVALID_ARGUMENT;
    if (p->error) return p->error;
    if (p->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t pos = 0;
    while (pos < len) {
        const char *start = data + pos;
        size_t avail = len - pos;
        /* The common case: a whole line here whose first CR, LF or NUL is its CRLF, found in
         * one pass (scan.h). */
        const char *q = p->buflen ? NULL : smtp_scan_eol0(start, data + len);
        if (q && q + 1 < data + len && q[0] == '\r' && q[1] == '\n' &&
            (size_t)(q + 2 - start) <= p->max_line) {
            pos += (size_t)(q + 2 - start);
            int rv = handle_line(p, start, (size_t)(q + 2 - start), 1);
            if (rv < 0) {
                p->error = rv;
                return rv;
            }
            if (rv == SMTP_PAUSE) break;
            continue;
        }
        const char *lf = memchr(start, '\n', avail);
        size_t take = lf ? (size_t)(lf - start) + 1 : avail;
        /* Without its LF the line still needs at least one more octet. */
        if (p->buflen + take + (lf ? 0 : 1) > p->max_line) {
            p->error = SMTP_ERR_LINE_TOO_LONG;
            return p->error;
        }
        if (!lf) {
            if (smtp_reply_parser_reserve(p) < 0) {
                p->error = SMTP_ERR_NOMEM;
                return p->error;
            }
            memcpy(p->buf + p->buflen, start, take);
            p->buflen += take;
            return (smtp_ssize)len;
        }
        const char *line = start;
        size_t linelen = take;
        if (p->buflen) {
            memcpy(p->buf + p->buflen, start, take);
            line = p->buf;
            linelen = p->buflen + take;
        }
        pos += take;
        int rv = handle_line(p, line, linelen, 0);
        p->buflen = 0;
        if (rv < 0) {
            p->error = rv;
            return rv;
        }
        if (rv == SMTP_PAUSE) break;
    }
    return (smtp_ssize)pos;
}
