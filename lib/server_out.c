/* SPDX-License-Identifier: MIT */
/*
 * The server engine's output: the bounded queue the adapter pulls from (smtp_server_write)
 * and the reply lines formatted into it.
 *
 * smtp_srv_queue_line queues one formatted line and does nothing else; smtp_srv_queue_reply
 * queues a reply of the engine's own with what it does to the session (an error counted, a
 * 421 closing). The application's answers to decisions (smtp_server_reply) are turned into
 * replies in server_decide.c.
 *
 * Every line goes through the reply emitter, so no reply can carry CR, LF or NUL (DESIGN.md
 * invariant 5). Enhanced status codes (RFC 2034 3) go on every 2xx/4xx/5xx reply when
 * ENHANCEDSTATUSCODES is configured, except the greeting and the replies to HELO/EHLO/LHLO;
 * never on the intermediate 354 and 334. Two replies wait formatted instead of being queued
 * at once: a refused BDAT's, held until its chunk was read (RFC 3030 2), and an LMTP reply
 * repeated for the recipients still owed one (RFC 2033 4.2), queued as the queue drains.
 */
#include "server_internal.h"

#include <smtp/reply.h>

#include <stdio.h>
#include <string.h>

/* Makes room for n more octets at the queue's tail: compacts, or doubles the allocation (up
 * to max_output; the caller checked the bound). SMTP_ERR_NOMEM: nothing changed. */
static int out_reserve(smtp_server *srv, size_t n)
{
    if (srv->out_head + srv->out_len + n <= srv->out_cap) return 0;
    if (srv->out_len + n > srv->out_cap) {
        size_t cap = srv->out_cap * 2;
        if (cap < srv->out_len + n) cap = srv->out_len + n;
        if (cap > srv->set.max_output) cap = srv->set.max_output;
        char *p = smtp_realloc(srv->mem, srv->out, cap);
        if (!p) return SMTP_ERR_NOMEM;
        srv->out = p;
        srv->out_cap = cap;
    }
    if (srv->out_head + srv->out_len + n > srv->out_cap) {
        memmove(srv->out, srv->out + srv->out_head, srv->out_len);
        srv->out_head = 0;
    }
    return 0;
}

/* Appends without marking a delay: the copies of an LMTP reply already delayed once. */
static int out_append(smtp_server *srv, const char *p, size_t n)
{
    if (n > smtp_srv_out_room(srv)) return SMTP_ERR_NOBUF;
    if (out_reserve(srv, n) < 0) return smtp_srv_fail(srv, SMTP_ERR_NOMEM);
    memcpy(srv->out + srv->out_head + srv->out_len, p, n);
    srv->out_len += n;
    srv->out_total += n;
    return 0;
}

/*
 * Postfix's smtpd_soft_error_limit: once the client has made that many errors, every reply
 * waits smtpd_error_sleep_time. The engine has no clock: the adapter holds the output
 * (smtp_server_output_delay) and no input is consumed until it was written.
 */
static void out_delay(smtp_server *srv)
{
    unsigned soft = srv->set.soft_error_limit;
    if (soft && srv->errors >= soft) srv->out_delay = srv->set.error_delay_ms;
}

int smtp_srv_out(smtp_server *srv, const char *p, size_t n)
{
    int r = out_append(srv, p, n);
    if (r < 0) return r;
    out_delay(srv);
    return 0;
}

smtp_ssize smtp_server_write(smtp_server *srv, char *dest, size_t cap)
{
    if (!srv || (!dest && cap)) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->lmtp_fill_error) {
        int e = srv->lmtp_fill_error; /* the last call's refill failed: reported now, once */
        srv->lmtp_fill_error = 0;
        return e;
    }
    if (!srv->out_len && !srv->lmtp_fill) return 0; /* nothing queued and nothing to refill */
    size_t n = srv->out_len < cap ? srv->out_len : cap;
    if (n) {
        memcpy(dest, srv->out + srv->out_head, n);
        srv->out_delay = 0; /* the adapter waited (or chose not to) */
    }
    srv->out_head += n;
    srv->out_len -= n;
    srv->out_written += n;
    if (!srv->out_len) srv->out_head = 0;
    if (srv->lmtp_fill && !srv->error) {
        int r = smtp_srv_lmtp_fill(srv);
        if (r < 0) {
            /* The session failed; the octets copied are the caller's all the same. */
            r = smtp_srv_fail(srv, r);
            if (!n) return r;
            srv->lmtp_fill_error = r;
        }
    }
    return (smtp_ssize)n;
}

/* ---- reply lines ---- */

/*
 * A relayed reply (smtp_server_relay_to): each LF-separated line of `text` after the code, "-"
 * between lines and " " before the last, nothing added ("CODE" CRLF for an empty last line).
 * Its checks (at most SMTP_SRV_MAX_TEXT octets in SMTP_SERVER_MAX_RELAY_LINES lines) keep it
 * within 512 octets.
 */
static smtp_ssize format_relay(char line[512], int code, const char *text, size_t len)
{
    size_t n = 0;
    for (;;) {
        const char *lf = len ? memchr(text, '\n', len) : NULL;
        size_t k = lf ? (size_t)(lf - text) : len;
        if (n + 4 + k + 2 > 512) return SMTP_ERR_TOO_LONG;
        line[n] = (char)('0' + code / 100);
        line[n + 1] = (char)('0' + code / 10 % 10);
        line[n + 2] = (char)('0' + code % 10);
        n += 3;
        if (lf || k) line[n++] = lf ? '-' : ' ';
        if (k) memcpy(line + n, text, k);
        n += k;
        line[n++] = '\r';
        line[n++] = '\n';
        if (!lf) return (smtp_ssize)n;
        text = lf + 1;
        len -= k + 1;
    }
}

/* Formats one reply line with CRLF into line[0..512); returns its length or the emitter's
 * error. The enhanced code is dropped without ENHANCEDSTATUSCODES. A relayed reply (the first
 * line formatted after smtp_srv_apply set srv->relay) goes as it is. */
static smtp_ssize format_line(smtp_server *srv, char line[512], int code, const char *enhanced,
                              const char *text, size_t len)
{
    if (srv->relay) {
        srv->relay = 0;
        return format_relay(line, code, text, len);
    }
    if (!(srv->set.extensions & SMTP_SERVER_EXT_ENHANCEDSTATUSCODES)) enhanced = NULL;
    return smtp_emit_reply1(line, 512, code, enhanced, text, len);
}

int smtp_srv_queue_line(smtp_server *srv, int code, const char *enhanced, const char *text,
                        size_t len)
{
    char line[512];
    smtp_ssize n = format_line(srv, line, code, enhanced, text, len);
    if (n < 0) return (int)n;
    return smtp_srv_out(srv, line, (size_t)n);
}

/*
 * The default acceptances of MAIL, RCPT, DATA and the message: four replies per message,
 * formatted at compile time with and without their enhanced code (RFC 2034 3; none on a 354).
 */
#define FIXED_CAP 48
struct fixed_line {
    char with[FIXED_CAP], without[FIXED_CAP]; /* padded with NULs: copied FIXED_CAP at a time */
    unsigned char with_len, without_len;
};
#define FIXED(code, enh, text)                                                                     \
    {                                                                                              \
        code " " enh " " text "\r\n", code " " text "\r\n",                                        \
            sizeof(code " " enh " " text "\r\n") - 1, sizeof(code " " text "\r\n") - 1             \
    }
static const struct fixed_line fixed_lines[] = {
    [SMTP_SRV_FIXED_MAIL] = FIXED("250", "2.1.0", "Ok"),
    [SMTP_SRV_FIXED_RCPT] = FIXED("250", "2.1.5", "Ok"),
    [SMTP_SRV_FIXED_DATA] = {"354 End data with <CR><LF>.<CR><LF>\r\n",
                             "354 End data with <CR><LF>.<CR><LF>\r\n", 37, 37},
    [SMTP_SRV_FIXED_QUEUED] = FIXED("250", "2.0.0", "Ok: queued"),
};

int smtp_srv_queue_fixed(smtp_server *srv, smtp_srv_fixed which)
{
    const struct fixed_line *f = &fixed_lines[which];
    int enhanced = (srv->set.extensions & SMTP_SERVER_EXT_ENHANCEDSTATUSCODES) != 0;
    const char *line = enhanced ? f->with : f->without;
    size_t n = enhanced ? f->with_len : f->without_len;
    size_t tail = srv->out_head + srv->out_len;
    if (n <= smtp_srv_out_room(srv) && srv->out_cap - tail >= FIXED_CAP) {
        /* Room at the tail as it is: one copy of a constant size (a few moves, no call); what
         * lies past the line's n octets is free space. */
        memcpy(srv->out + tail, line, FIXED_CAP);
        srv->out_len += n;
        srv->out_total += n;
        out_delay(srv);
        return 0;
    }
    return smtp_srv_out(srv, line, n);
}

int smtp_srv_count_error(smtp_server *srv, int code)
{
    srv->relay = 0; /* what follows a relayed reply is the engine's own */
    if (code < 400 || srv->closing) return 0;
    srv->errors++;
    if (!srv->set.hard_error_limit || srv->errors < srv->set.hard_error_limit) return 0;
    return smtp_srv_queue_host_reply(srv, 421, "4.7.0", "Error: too many errors");
}

int smtp_srv_queue_reply(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    if (srv->spec) {
        /* A command read ahead (server_pipe.c): its reply waits for those before it. */
        smtp_srv_spec_reply(srv, code, enhanced, text);
        return 0;
    }
    int r = smtp_srv_queue_line(srv, code, enhanced, text, strlen(text));
    if (r == 0 && code == 421) srv->closing = 1;
    if (r == 0 && code != 421) r = smtp_srv_count_error(srv, code);
    /* The engine's own replies fit by construction (SMTP_SRV_RESERVE): a failure is internal. */
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

int smtp_srv_host_reply_fits(const smtp_server *srv, size_t len)
{
    /* "CODE SP hostname [SP text] CRLF", as queued below without an enhanced code. */
    return 4 + strlen(srv->set.hostname) + (len ? 1 + len : 0) + 2 <= 512;
}

int smtp_srv_queue_host_reply(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    char buf[SMTP_MAX_DOMAIN + SMTP_SRV_MAX_TEXT + 2];
    int n = snprintf(buf, sizeof buf, "%s%s%s", srv->set.hostname, *text ? " " : "", text);
    if (n < 0 || (size_t)n >= sizeof buf) return SMTP_ERR_INVALID_ARGUMENT;
    int r = smtp_srv_queue_line(srv, code, enhanced, buf, (size_t)n);
    if (r < 0) return r;
    if (code == 421) srv->closing = 1;
    return 0;
}

/* ---- replies that wait: a refused BDAT's, and LMTP's copies ---- */

int smtp_srv_hold_reply(smtp_server *srv, int code, const char *enhanced, const char *text,
                        size_t len, size_t copies)
{
    smtp_ssize n = format_line(srv, srv->held, code, enhanced, text, len);
    if (n < 0) return (int)n;
    srv->held_len = (size_t)n;
    srv->held_code = code;
    srv->held_copies = copies;
    return 0;
}

int smtp_srv_release_held(smtp_server *srv)
{
    size_t copies = srv->held_copies;
    if (!copies) return 0;
    srv->held_copies = 0;
    int r = smtp_srv_out(srv, srv->held, srv->held_len);
    if (r < 0) return r;
    if (copies > 1) {
        /* LMTP (RFC 2033 4.2): the other recipients' copies follow as the queue drains. */
        memcpy(srv->lmtp_last, srv->held, srv->held_len);
        srv->lmtp_last_len = srv->held_len;
        srv->lmtp_ok = 0;
        srv->lmtp_fill = copies - 1;
        r = smtp_srv_lmtp_fill(srv);
        if (r < 0) return r;
    }
    if (srv->lmtp_fill) {
        srv->errors++; /* a 421 at the limit would come before the copies: at the next error */
        return 0;
    }
    return smtp_srv_count_error(srv, srv->held_code);
}

int smtp_srv_queue_lmtp_line(smtp_server *srv, int code, const char *enhanced, const char *text,
                             size_t len)
{
    char line[512];
    smtp_ssize n = format_line(srv, line, code, enhanced, text, len);
    if (n < 0) return (int)n;
    int r = smtp_srv_out(srv, line, (size_t)n);
    if (r < 0) return r;
    memcpy(srv->lmtp_last, line, (size_t)n);
    srv->lmtp_last_len = (size_t)n;
    if (code < 300) srv->lmtp_ok = 1; /* a recipient took the message */
    return 0;
}

int smtp_srv_lmtp_fill(smtp_server *srv)
{
    while (srv->lmtp_fill) {
        int r = out_append(srv, srv->lmtp_last, srv->lmtp_last_len);
        if (r == SMTP_ERR_NOBUF) return 0; /* the rest after the next write */
        if (r < 0) return r;
        srv->lmtp_fill--;
    }
    smtp_srv_clear_transaction(srv, srv->lmtp_ok); /* every recipient has its reply */
    return 0;
}
