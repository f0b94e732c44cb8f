/* SPDX-License-Identifier: MIT */
/*
 * The server engine's output side: a bounded output queue the adapter pulls from
 * (smtp_server_write), reply formatting with the reply emitter, the EHLO capability list, and
 * the application's decisions (smtp_server_reply), which turn into replies and state changes.
 *
 * Enhanced status codes (RFC 2034 3) go on every 2xx/4xx/5xx reply when ENHANCEDSTATUSCODES
 * is configured, except the greeting and the replies to HELO/EHLO/LHLO; never on the
 * intermediate 354 and 334.
 */
#include "server_internal.h"

#include <smtp/reply.h>

#include <stdio.h>
#include <string.h>

size_t smtp_srv_out_room(const smtp_server *srv)
{
    return srv->set.max_output - srv->out_len;
}

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

int smtp_srv_out(smtp_server *srv, const char *p, size_t n)
{
    int r = out_append(srv, p, n);
    if (r < 0) return r;
    /*
     * Postfix's smtpd_soft_error_limit: once the client has made that many errors, every
     * reply waits smtpd_error_sleep_time. The engine has no clock: the adapter holds the
     * output (smtp_server_output_delay) and no input is consumed until it was written.
     */
    unsigned soft = srv->set.soft_error_limit;
    if (soft && srv->errors >= soft) srv->out_delay = srv->set.error_delay_ms;
    return 0;
}

smtp_ssize smtp_server_write(smtp_server *srv, char *dest, size_t cap)
{
    if (!srv || (!dest && cap)) return SMTP_ERR_INVALID_ARGUMENT;
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
        if (r < 0) return smtp_srv_fail(srv, r);
    }
    return (smtp_ssize)n;
}

/* Formats one reply line with CRLF into line[0..512); returns its length or the emitter's
 * error. The enhanced code is dropped without ENHANCEDSTATUSCODES. */
static smtp_ssize format_line(const smtp_server *srv, char line[512], int code,
                              const char *enhanced, const char *text, size_t len)
{
    if (!(srv->set.extensions & SMTP_SERVER_EXT_ENHANCEDSTATUSCODES)) enhanced = NULL;
    return smtp_emit_reply1(line, 512, code, enhanced, text, len);
}

/* Formats one reply line into the queue; errors are the emitter's (nothing queued). */
static int emit_line(smtp_server *srv, int code, const char *enhanced, const char *text, size_t len)
{
    char line[512];
    smtp_ssize n = format_line(srv, line, code, enhanced, text, len);
    if (n < 0) return (int)n;
    return smtp_srv_out(srv, line, (size_t)n);
}

/* After a 4xx/5xx: count it, and at the hard limit close with 421 (Postfix's rule). */
static int count_error(smtp_server *srv, int code)
{
    if (code < 400 || srv->closing) return 0;
    srv->errors++;
    if (!srv->set.hard_error_limit || srv->errors < srv->set.hard_error_limit) return 0;
    return smtp_srv_reply_host(srv, 421, "4.7.0", "Error: too many errors");
}

int smtp_srv_reply(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    int r = emit_line(srv, code, enhanced, text, strlen(text));
    if (r < 0) return r;
    if (code == 421) {
        srv->closing = 1;
        return 0;
    }
    return count_error(srv, code);
}

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
    return count_error(srv, srv->held_code);
}

int smtp_srv_reply_host(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    char buf[SMTP_MAX_DOMAIN + SMTP_SRV_MAX_TEXT + 2];
    int n = snprintf(buf, sizeof buf, "%s%s%s", srv->set.hostname, *text ? " " : "", text);
    if (n < 0 || (size_t)n >= sizeof buf) return SMTP_ERR_INVALID_ARGUMENT;
    int r = emit_line(srv, code, enhanced, buf, (size_t)n);
    if (r < 0) return r;
    if (code == 421) srv->closing = 1;
    return 0;
}

/* ---- the EHLO reply ---- */

/* Fills `lines` with the capability lines of the EHLO reply; returns how many. `tls` and
 * `all` say what to assume (smtp_srv_ehlo_size measures the worst case with all = 1). */
static size_t ehlo_lines(const smtp_server *srv, int all, smtp_span *lines, char *scratch,
                         size_t cap)
{
    const smtp_server_settings *s = &srv->set;
    unsigned ext = s->extensions;
    int tls = all || srv->tls;
    size_t n = 0, used = 0;
#define EHLO_LIT(lit) (lines[n].ptr = (lit), lines[n].len = sizeof(lit) - 1, n++)
#define EHLO_FMT(...)                                                                              \
    do {                                                                                           \
        int k_ = snprintf(scratch + used, cap - used, __VA_ARGS__);                                \
        if (k_ < 0 || (size_t)k_ >= cap - used) k_ = 0;                                            \
        lines[n].ptr = scratch + used;                                                             \
        lines[n].len = (size_t)k_;                                                                 \
        used += (size_t)k_;                                                                        \
        n++;                                                                                       \
    } while (0)
    lines[n].ptr = s->hostname;
    lines[n].len = strlen(s->hostname);
    n++;
    if (ext & SMTP_SERVER_EXT_PIPELINING) EHLO_LIT("PIPELINING");
    if (ext & SMTP_SERVER_EXT_SIZE) {
        if (s->max_message_size)
            EHLO_FMT("SIZE %llu", (unsigned long long)s->max_message_size);
        else
            EHLO_LIT("SIZE");
    }
    if (ext & SMTP_SERVER_EXT_8BITMIME) EHLO_LIT("8BITMIME");
    if (ext & SMTP_SERVER_EXT_SMTPUTF8) EHLO_LIT("SMTPUTF8");
    if (ext & SMTP_SERVER_EXT_CHUNKING) {
        EHLO_LIT("CHUNKING");
        if (ext & SMTP_SERVER_EXT_BINARYMIME) EHLO_LIT("BINARYMIME");
    }
    if (ext & SMTP_SERVER_EXT_DSN) EHLO_LIT("DSN");
    if (ext & SMTP_SERVER_EXT_ENHANCEDSTATUSCODES) EHLO_LIT("ENHANCEDSTATUSCODES");
    /* RFC 3207 4.2: STARTTLS is not offered once TLS is up. */
    if ((ext & SMTP_SERVER_EXT_STARTTLS) && (all || !srv->tls)) EHLO_LIT("STARTTLS");
    if ((ext & SMTP_SERVER_EXT_AUTH) && s->auth_mechanisms[0] &&
        (tls || (s->flags & SMTP_SERVER_AUTH_PLAINTEXT)))
        EHLO_FMT("AUTH %s", s->auth_mechanisms);
    /* Postfix's XCLIENT and XFORWARD, with the attributes accepted; to trusted peers only. */
    if (all || (srv->trust & SMTP_SERVER_TRUST_XCLIENT))
        EHLO_LIT("XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT");
    if (all || (srv->trust & SMTP_SERVER_TRUST_XFORWARD))
        EHLO_LIT("XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE");
    if ((ext & SMTP_SERVER_EXT_REQUIRETLS) && tls) EHLO_LIT("REQUIRETLS"); /* RFC 8689 4 */
    if (ext & SMTP_SERVER_EXT_DELIVERBY) {
        if (s->deliverby_min)
            EHLO_FMT("DELIVERBY %u", s->deliverby_min);
        else
            EHLO_LIT("DELIVERBY");
    }
    if (ext & SMTP_SERVER_EXT_MT_PRIORITY) {
        if (s->mt_priority_profile)
            EHLO_FMT("MT-PRIORITY %s", s->mt_priority_profile);
        else
            EHLO_LIT("MT-PRIORITY");
    }
    if (ext & SMTP_SERVER_EXT_LIMITS) {
        if (s->max_messages)
            EHLO_FMT("LIMITS RCPTMAX=%zu MAILMAX=%zu", s->max_recipients, s->max_messages);
        else
            EHLO_FMT("LIMITS RCPTMAX=%zu", s->max_recipients);
    }
#undef EHLO_LIT
#undef EHLO_FMT
    return n;
}

#define EHLO_MAX_LINES 20
#define EHLO_SCRATCH 1200

smtp_ssize smtp_srv_ehlo_size(const smtp_server *srv)
{
    smtp_span lines[EHLO_MAX_LINES];
    char scratch[EHLO_SCRATCH];
    size_t n = ehlo_lines(srv, 1, lines, scratch, sizeof scratch);
    return smtp_emit_reply(NULL, 0, 250, NULL, lines, n);
}

int smtp_srv_reply_ehlo(smtp_server *srv)
{
    smtp_span lines[EHLO_MAX_LINES];
    char scratch[EHLO_SCRATCH], buf[SMTP_SRV_RESERVE];
    size_t n = ehlo_lines(srv, 0, lines, scratch, sizeof scratch);
    smtp_ssize len = smtp_emit_reply(buf, sizeof buf, 250, NULL, lines, n);
    if (len < 0) return (int)len;
    return smtp_srv_out(srv, buf, (size_t)len);
}

/* ---- decisions ---- */

/* Is `code` an acceptance for decision `dec`? (0 is the default acceptance everywhere.) */
static int accepts(smtp_srv_decision dec, int code)
{
    if (code == 0) return 1;
    switch (dec) {
    case SMTP_SRV_DEC_CONNECT: return code == 220;
    case SMTP_SRV_DEC_HELO:
    case SMTP_SRV_DEC_MAIL:
    case SMTP_SRV_DEC_MESSAGE: return code == 250;
    case SMTP_SRV_DEC_RCPT:
    case SMTP_SRV_DEC_VRFY: return code == 250 || code == 251 || code == 252;
    case SMTP_SRV_DEC_DATA: return code == 354;
    case SMTP_SRV_DEC_AUTH:
    case SMTP_SRV_DEC_SASL: return code == 235; /* SASL: only through smtp_server_auth_accept */
    case SMTP_SRV_DEC_XCLIENT: return code == 220;
    case SMTP_SRV_DEC_XFORWARD: return code == 250;
    default: return 0;
    }
}

static int check_text(const char *text, size_t len)
{
    if (!text && len) return SMTP_ERR_INVALID_ARGUMENT;
    if (len > SMTP_SRV_MAX_TEXT) return SMTP_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c != '\t' && smtp_is_ctl(c)) return SMTP_ERR_UNSAFE_ARGUMENT;
    }
    return 0;
}

/* The default enhanced code of a reply: the class, refined for MAIL and RCPT (RFC 3463). */
static const char *default_enhanced(smtp_srv_decision dec, int code)
{
    int auth = dec == SMTP_SRV_DEC_AUTH || dec == SMTP_SRV_DEC_SASL;
    if (auth && code == 535) return "5.7.8"; /* RFC 4954 6: authentication credentials invalid */
    if (code >= 500) return "5.0.0";
    if (code >= 400) return "4.0.0";
    if (dec == SMTP_SRV_DEC_MAIL) return "2.1.0";
    if (dec == SMTP_SRV_DEC_RCPT) return "2.1.5";
    return "2.0.0";
}

static void message_done(smtp_server *srv, int accepted)
{
    smtp_srv_clear_transaction(srv, accepted);
}

/* Queues an LMTP reply line and remembers it for the copies owed to later recipients. */
static int lmtp_line(smtp_server *srv, int code, const char *enhanced, const char *text, size_t len)
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
    message_done(srv, srv->lmtp_ok);
    return 0;
}

static int apply_message(smtp_server *srv, int code, const char *enhanced, const char *text,
                         size_t len)
{
    int ok = code < 300;
    if (!code) code = 250;
    if (!enhanced) enhanced = default_enhanced(SMTP_SRV_DEC_MESSAGE, code);
    if (!text) text = ok ? "Ok: queued" : "Error: message not accepted", len = strlen(text);
    if (srv->set.flags & SMTP_SERVER_LMTP) {
        int r = lmtp_line(srv, code, enhanced, text, len);
        if (r < 0) return r;
        if (--srv->lmtp_left) {
            srv->decision = SMTP_SRV_DEC_MESSAGE; /* more replies owed */
            return 0;
        }
        message_done(srv, srv->lmtp_ok);
        if (code == 421) srv->closing = 1;
        return 0;
    }
    int r = emit_line(srv, code, enhanced, text, len);
    if (r < 0) return r;
    message_done(srv, ok);
    if (code == 421) srv->closing = 1;
    return count_error(srv, code);
}

static int apply_connect(smtp_server *srv, int code, const char *text, size_t len)
{
    char buf[SMTP_SRV_MAX_TEXT + 1];
    int refuse = code && code != 220;
    if (!text) {
        text = !refuse ? "ESMTP" : code == 421 ? "Service not available" : "No SMTP service here";
        len = strlen(text);
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (refuse) srv->refused = 1; /* RFC 5321 3.1: wait for QUIT, 503 to all */
    return smtp_srv_reply_host(srv, code ? code : 220, NULL, buf);
}

/*
 * The first BDAT of a message was refused: the transaction has failed (RFC 3030 2), and the
 * refusal answers the BDAT once its chunk was read and dropped.
 */
static int refuse_bdat(smtp_server *srv, int code, const char *enhanced, const char *text,
                       size_t len)
{
    if (!text) text = "Error: command rejected", len = strlen(text);
    size_t rcpts = srv->rcpts;
    /* LMTP: a refused BDAT LAST is the message's end: one reply per recipient (RFC 2033). */
    size_t copies = srv->dec_last && (srv->set.flags & SMTP_SERVER_LMTP) ? rcpts : 1;
    int r = smtp_srv_hold_reply(srv, code, enhanced, text, len, copies);
    if (r < 0) return r;
    smtp_srv_clear_transaction(srv, 0);
    if (!srv->dec_last) smtp_srv_chunks_failed(srv, rcpts);
    smtp_srv_skip_chunk(srv, srv->dec_chunk);
    return 0;
}

static int apply(smtp_server *srv, smtp_srv_decision dec, int code, const char *enhanced,
                 const char *text, size_t len)
{
    int ok = accepts(dec, code);
    if (!ok && !enhanced) enhanced = default_enhanced(dec, code);
    switch (dec) {
    case SMTP_SRV_DEC_CONNECT: return apply_connect(srv, code, text, len);
    case SMTP_SRV_DEC_MESSAGE: return apply_message(srv, code, enhanced, text, len);
    case SMTP_SRV_DEC_HELO:
        if (ok) {
            srv->helo = srv->dec_verb;
            if (srv->dec_verb == SMTP_VERB_HELO)
                return emit_line(srv, 250, NULL, srv->set.hostname, strlen(srv->set.hostname));
            return smtp_srv_reply_ehlo(srv);
        }
        break;
    case SMTP_SRV_DEC_MAIL:
        if (ok) {
            srv->mail = 1;
            if (!text) text = "Ok", len = 2;
        }
        break;
    case SMTP_SRV_DEC_RCPT:
        if (ok) {
            srv->rcpts++;
            if (!text) text = "Ok", len = 2;
        }
        break;
    case SMTP_SRV_DEC_DATA:
        if (ok) {
            int r = smtp_srv_data_begin(srv, 0);
            if (r < 0) return r;
            /* An intermediate reply: no enhanced code (RFC 2034 3). */
            return emit_line(srv, 354, NULL, "End data with <CR><LF>.<CR><LF>", 31);
        }
        break;
    case SMTP_SRV_DEC_BDAT:
        if (ok) return smtp_srv_data_begin(srv, 1); /* the chunk's reply comes after it */
        if (code != 421) return refuse_bdat(srv, code, enhanced, text, len);
        break;
    case SMTP_SRV_DEC_AUTH:
    case SMTP_SRV_DEC_SASL:
        if (ok) {
            smtp_srv_auth_success(srv);
            code = 235;
            enhanced = "2.7.0";
            if (!text) text = "Authentication successful", len = strlen(text);
        } else if (!text && code == 535) {
            text = "Authentication credentials invalid", len = strlen(text);
        }
        break;
    case SMTP_SRV_DEC_XCLIENT:
        if (ok) {
            smtp_srv_xclient_reset(srv);
            return apply_connect(srv, 220, text, len);
        }
        break;
    case SMTP_SRV_DEC_XFORWARD: break;
    case SMTP_SRV_DEC_VRFY:
        if (ok && !code) {
            code = 252;
            enhanced = "2.5.0";
            text = "Cannot VRFY user, but will accept message and attempt delivery";
            len = strlen(text);
        }
        break;
    default: return SMTP_ERR_INVALID_STATE;
    }
    if (!code) code = 250;
    if (!enhanced) enhanced = default_enhanced(dec, code);
    if (!text) text = code < 400 ? "Ok" : "Error: command rejected", len = strlen(text);
    int r = emit_line(srv, code, enhanced, text, len);
    if (r < 0) return r;
    if (code == 421) srv->closing = 1;
    if (dec == SMTP_SRV_DEC_BDAT) smtp_srv_clear_transaction(srv, 0); /* a 421: closing */
    r = count_error(srv, code);
    if (r < 0) return r;
    if (!ok && (dec == SMTP_SRV_DEC_AUTH || dec == SMTP_SRV_DEC_SASL))
        return smtp_srv_auth_failed(srv);
    return 0;
}

int smtp_srv_apply(smtp_server *srv, int code, const char *enhanced, const char *text, size_t len)
{
    smtp_srv_decision dec = srv->decision;
    if (dec == SMTP_SRV_DEC_NONE) return SMTP_ERR_INVALID_STATE;
    if (code != 0 && !accepts(dec, code) && !(code >= 400 && code <= 599))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (dec == SMTP_SRV_DEC_BDAT && code == 354) return SMTP_ERR_INVALID_ARGUMENT;
    if (enhanced) {
        size_t el = strlen(enhanced);
        if (!code || smtp_enhanced_prefix(enhanced, el, code) != el)
            return SMTP_ERR_INVALID_ARGUMENT;
    }
    int r = check_text(text, len);
    if (r < 0) return r;
    /* Room for the reply and, with the hard error limit, a 421 after it. */
    size_t need = dec == SMTP_SRV_DEC_HELO ? SMTP_SRV_RESERVE : 1024;
    if (smtp_srv_out_room(srv) < need) return SMTP_ERR_NOBUF;
    srv->decision = SMTP_SRV_DEC_NONE;
    if (srv->in_callback) srv->answered = 1;
    return apply(srv, dec, code, enhanced, text, len);
}

int smtp_srv_decided(smtp_server *srv, int r)
{
    if (smtp_srv_cb_result(srv, r) < 0) return -1;
    if (srv->decision == SMTP_SRV_DEC_NONE) return 0;
    if (r == SMTP_SERVER_DEFER) {
        srv->stop = 1;
        return 0;
    }
    if (srv->decision == SMTP_SRV_DEC_MESSAGE && srv->answered) {
        /* LMTP: the replies not given repeat the last one given. */
        srv->decision = SMTP_SRV_DEC_NONE;
        srv->lmtp_fill = srv->lmtp_left;
        srv->lmtp_left = 0;
        return smtp_srv_lmtp_fill(srv);
    }
    if (srv->decision == SMTP_SRV_DEC_MESSAGE && (srv->set.flags & SMTP_SERVER_LMTP)) {
        /* LMTP without any reply: every recipient gets the default acceptance. */
        srv->decision = SMTP_SRV_DEC_NONE;
        int e = lmtp_line(srv, 250, "2.0.0", "Ok", 2);
        if (e < 0) return e;
        srv->lmtp_fill = srv->lmtp_left - 1;
        srv->lmtp_left = 0;
        return smtp_srv_lmtp_fill(srv);
    }
    /* A mechanism run by the application has no default acceptance. */
    if (srv->decision == SMTP_SRV_DEC_SASL) return smtp_srv_apply(srv, 535, NULL, NULL, 0);
    return smtp_srv_apply(srv, 0, NULL, NULL, 0);
}

int smtp_server_reply(smtp_server *srv, int code, const char *enhanced, const char *text,
                      size_t len)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->error || srv->decision == SMTP_SRV_DEC_NONE) return SMTP_ERR_INVALID_STATE;
    /* on_sasl accepts only with smtp_server_auth_accept, which names the identity. */
    if (srv->decision == SMTP_SRV_DEC_SASL && code < 400) return SMTP_ERR_INVALID_ARGUMENT;
    int r = smtp_srv_apply(srv, code, enhanced, text, len);
    if (r == SMTP_ERR_NOMEM || r == SMTP_ERR_CALLBACK_FAILURE) return smtp_srv_fail(srv, r);
    if (r < 0) return r;
    /* Before settling: what resumes may owe the reply the client waits for (RFC 2920). */
    r = smtp_srv_resume(srv);
    if (r < 0) return r;
    smtp_srv_sync_settle(srv);
    return 0;
}
