/* SPDX-License-Identifier: MIT */
/*
 * smtp-send's sessions (send.h): the client engine's callbacks, the per-recipient results,
 * the mapping of outcomes to sysexits.h statuses, and the load mode.
 *
 * One send_session is one connection. Its envelope and body are submitted before the greeting
 * (the engine sends them when the session is ready); on_message records the outcome and
 * submits the next copy until --count messages were handled, then asks for QUIT. The body is
 * the message in memory: the engine encodes it from there as it sends, and declares its SIZE.
 * The worst outcome of all messages and sessions decides the exit status:
 *   70 (a local failure) > 74 (connection) > 76 (protocol) > 69 (permanent) > 75 (temporary) > 0.
 *
 * A load run (--count or --sessions above 1) shows a progress line on standard error when it
 * is a terminal, redrawn at most once a second as messages end, and ends with a summary that
 * accounts for every message: delivered, refused, deferred, not attempted.
 *
 * --probe submits no message: a NOOP (smtp_client_command) is queued before the greeting
 * instead. The engine sends it once the session is ready (after EHLO, STARTTLS and AUTH), so
 * its reply (on_reply) is the moment to print what the server offers, then QUIT. The keywords
 * are the EHLO reply's own lines, taken from the connection's trace (the last EHLO or LHLO:
 * the one after STARTTLS); SIZE and AUTH come from the engine's parsed capabilities.
 */
#include "json.h"
#include "send.h"
#include "transcript.h"

#include <smtp/io.h>
#ifdef SMTP_EXAMPLES_HAVE_TLS
#include "tls_glue.h"
#endif
#ifdef SMTP_EXAMPLES_HAVE_IDN
#include <smtp/idn.h>
#endif

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* What one recipient got: the RCPT reply, and in LMTP (or a message split by the server's
 * LIMITS RCPTMAX) the reply after the data. */
typedef struct rcpt_result {
    int code; /* 0: no reply (the message failed before RCPT was answered) */
    char reply[200];
    int data_code; /* LMTP or a split message: the reply after the data, 0 when none */
    char data_reply[200];
    /* --json: the replies whole (every line, joined by LF; malloc'd) and their enhanced
     * codes. */
    char enhanced[16], data_enhanced[16];
    char *text, *data_text;
    size_t text_len, data_text_len;
} rcpt_result;

typedef struct send_session {
    const send_options *o;
    smtp_client *cli;
    smtp_client_message msg;
    smtp_client_rcpt *rcpts;
    rcpt_result *results;
    int in_message;
    size_t submitted, handled, delivered;
    size_t deferred, refused; /* messages TEMPFAIL; PERMFAIL or UNSUPPORTED */
    int status;               /* the worst exit status of this session */
    int ended;                /* on_session_end was called */
    int tls_noted;            /* the transcript told that TLS is up */
    int dane_noted;           /* DANE's outcome was printed */
    int mta_sts_noted;        /* MTA-STS testing: what enforce would refuse was reported */
    /* The results of a message no reply decided (the session ended under it): printed when
     * on_session_end or the connection's end says why. */
    int print_pending;
    smtp_client_status pending_status;
    char end_why[512]; /* why the session ended (on_session_end) */
    smtp_io_conn *conn;
    ex_transcript tr;
    char tag[24];
    size_t index;          /* the session's number, from 1 */
    int64_t connect_start; /* smtp_io_now_ms before the connect */
    int64_t connect_ms;    /* how long the connect took */
    /* --probe: the server's bytes after the last EHLO/LHLO (its reply first), and whether
     * the probe was printed. */
    char ehlo[8192];
    size_t ehlo_len;
    int ehlo_capture, probed;
} send_session;

/* The MTA-STS mode in force: none when no policy was given. */
static smtp_mtasts_mode mta_sts_mode(const send_options *o)
{
    return o->mta_sts ? o->mta_sts_policy.mode : SMTP_MTASTS_NONE;
}

static void note_mta_sts(send_session *s, smtp_io_conn *conn, int ended);

static int rank(int status)
{
    switch (status) {
    case EX_OK: return 0;
    case EX_TEMPFAIL: return 1;
    case EX_UNAVAILABLE: return 2;
    case EX_PROTOCOL: return 3;
    case EX_IOERR: return 4;
    default: return 5;
    }
}

static int worst(int a, int b)
{
    return rank(a) >= rank(b) ? a : b;
}

/* "250 2.1.5 Ok" from a reply; multi-line text keeps its first line. */
static void format_reply(char *dst, size_t cap, const smtp_client_reply *r)
{
    const char *nl = memchr(r->text.ptr, '\n', r->text.len);
    int tlen = (int)(nl != NULL ? (size_t)(nl - r->text.ptr) : r->text.len);
    if (r->enhanced.len > 0 && r->text.len > r->enhanced.len + 1 &&
        memcmp(r->text.ptr, r->enhanced.ptr, r->enhanced.len) == 0)
        snprintf(dst, cap, "%d %.*s", r->code, tlen, r->text.ptr);
    else if (r->enhanced.len > 0)
        snprintf(dst, cap, "%d %.*s %.*s", r->code, (int)r->enhanced.len, r->enhanced.ptr, tlen,
                 r->text.ptr);
    else
        snprintf(dst, cap, "%d %.*s", r->code, tlen, r->text.ptr);
    /* Replies are the server's bytes: keep the terminal safe. */
    for (char *p = dst; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) *p = '?';
}

/* --json: keeps a reply whole (its enhanced code and every line of its text). */
static void keep_reply(const smtp_client_reply *r, char *enhanced, size_t cap, char **text,
                       size_t *len)
{
    size_t n = r->enhanced.len < cap ? r->enhanced.len : cap - 1;
    memcpy(enhanced, r->enhanced.ptr, n);
    enhanced[n] = '\0';
    free(*text);
    *text = malloc(r->text.len + 1);
    *len = 0;
    if (*text != NULL) {
        memcpy(*text, r->text.ptr, r->text.len);
        *len = r->text.len;
    }
}

static int on_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *reply,
                   void *ud)
{
    (void)cli;
    send_session *s = ud;
    rcpt_result *r = &s->results[rcpt - s->msg.rcpts];
    if (reply->command != SMTP_VERB_RCPT) { /* the reply after the data (LMTP, RCPTMAX) */
        r->data_code = reply->code;
        format_reply(r->data_reply, sizeof r->data_reply, reply);
        if (s->o->json)
            keep_reply(reply, r->data_enhanced, sizeof r->data_enhanced, &r->data_text,
                       &r->data_text_len);
    } else {
        r->code = reply->code;
        format_reply(r->reply, sizeof r->reply, reply);
        if (s->o->json) keep_reply(reply, r->enhanced, sizeof r->enhanced, &r->text, &r->text_len);
    }
    return 0;
}

/* Frees the replies --json kept. */
static void free_results(send_session *s)
{
    for (size_t i = 0; i < s->o->nrcpts; i++) {
        free(s->results[i].text);
        free(s->results[i].data_text);
    }
}

static int submit_next(send_session *s)
{
    free_results(s);
    memset(s->results, 0, s->o->nrcpts * sizeof *s->results);
    if (smtp_client_submit(s->cli, &s->msg) != 0) return -1;
    s->in_message = 1;
    s->submitted++;
    return 0;
}

/* Whether any DSN parameter was asked for. */
static int dsn_asked(const send_options *o)
{
    return o->dsn_ret != SMTP_RET_NONE || o->dsn_envid != NULL || o->dsn_notify != 0 ||
           o->dsn_orcpt;
}

/* The status one message earns, from its outcome and every recipient's replies. */
static int message_status(const send_session *s, const smtp_client_result *res)
{
    int st = EX_OK;
    switch (res->status) {
    case SMTP_CLIENT_DELIVERED: break;
    case SMTP_CLIENT_TEMPFAIL: st = EX_TEMPFAIL; break;
    case SMTP_CLIENT_PERMFAIL:
    case SMTP_CLIENT_UNSUPPORTED: st = EX_UNAVAILABLE; break;
    }
    for (size_t i = 0; i < s->o->nrcpts; i++) {
        const rcpt_result *r = &s->results[i];
        int code = r->data_code != 0 ? r->data_code : r->code;
        if (code >= 500)
            st = worst(st, EX_UNAVAILABLE);
        else if (code >= 400)
            st = worst(st, EX_TEMPFAIL);
    }
    return st;
}

/* Whether the line of recipient `r` takes its reason from the message's outcome: it got no
 * reply of its own (not sent), or its RCPT was accepted and the message decides. */
static int needs_message_reason(const rcpt_result *r)
{
    return r->code == 0 || (r->code < 400 && r->data_code == 0);
}

/*
 * One line per recipient: "ADDR: VERDICT: REASON". `why` is the message's reason (the reply
 * that decided it, or a local cause); a recipient's own reply comes first.
 */
/* A recipient's verdict ("delivered", "refused", "deferred", "not sent") given the message's
 * outcome; *text is the reason its line shows: its own reply, or `why`. */
static const char *verdict_of(const rcpt_result *r, smtp_client_status status, const char *why,
                              const char **text)
{
    *text = r->reply;
    if (r->code == 0) {
        *text = why;
        return "not sent";
    }
    if (r->code >= 500) return "refused";
    if (r->code >= 400) return "deferred";
    if (r->data_code != 0) {
        *text = r->data_reply;
        return r->data_code < 400 ? "delivered" : r->data_code < 500 ? "deferred" : "refused";
    }
    *text = why;
    return status == SMTP_CLIENT_DELIVERED  ? "delivered"
           : status == SMTP_CLIENT_TEMPFAIL ? "deferred"
                                            : "refused";
}

static void print_results(const send_session *s, smtp_client_status status, const char *why)
{
    const send_options *o = s->o;
    for (size_t i = 0; i < o->nrcpts; i++) {
        const rcpt_result *r = &s->results[i];
        const char *text, *verdict = verdict_of(r, status, why, &text);
        printf("%s%s: %s%s%s\n", s->tag, o->rcpts[i], verdict, text[0] ? ": " : "", text);
    }
    fflush(stdout);
}

/* The lines of a message that waited for the session's end to know why it failed. */
static void print_pending(send_session *s, const char *why)
{
    if (!s->print_pending) return;
    s->print_pending = 0;
    print_results(s, s->pending_status, why[0] ? why : "the session ended");
}

/* The server does not offer DSN (RFC 3461 4): the client left RET, ENVID, NOTIFY and ORCPT
 * out; say so once (not once per session or message), unless --dsn-required refused the
 * message instead. */
static void warn_dsn_dropped(send_session *s, const smtp_client_result *res)
{
    static int warned;
    const send_options *o = s->o;
    if (warned || o->quiet || !dsn_asked(o) || res->status == SMTP_CLIENT_UNSUPPORTED ||
        smtp_caps_has(smtp_client_caps(s->cli), SMTP_CAP_DSN))
        return;
    /* Only when the envelope went out: MAIL was answered (a reply to a recipient exists). */
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (s->results[i].code != 0) {
            warned = 1;
            fprintf(stderr,
                    "smtp-send: %sthe server does not offer DSN: RET, ENVID, NOTIFY and ORCPT "
                    "were not sent (--dsn-required refuses the message instead)\n",
                    s->tag);
            return;
        }
    }
}

/* ---- --json: one line per message ---- */

/* "code":N,"enhanced":"X.Y.Z","reply":"TEXT", or nulls when there was no reply (code 0);
 * an empty enhanced code is null. */
static void json_reply(ex_jline *j, int code, const char *enhanced, size_t enhanced_len,
                       const char *text, size_t text_len)
{
    if (code == 0) {
        ex_jline_lit(j, "\"code\":null,\"enhanced\":null,\"reply\":null");
        return;
    }
    ex_jline_lit(j, "\"code\":");
    ex_jline_u64(j, (uint64_t)code);
    ex_jline_lit(j, ",\"enhanced\":");
    if (enhanced_len > 0)
        ex_jline_string(j, enhanced, enhanced_len);
    else
        ex_jline_lit(j, "null");
    ex_jline_lit(j, ",\"reply\":");
    ex_jline_string(j, text != NULL ? text : "", text != NULL ? text_len : 0);
}

/* "tls":false, or {"version":...,"cipher":...} of the connection's session. */
static void json_tls(ex_jline *j, const send_session *s)
{
#ifdef SMTP_EXAMPLES_HAVE_TLS
    smtp_tls *tls = s->conn != NULL && smtp_io_conn_tls(s->conn)
                        ? smtp_tls_io_filter_session(smtp_io_conn_filter(s->conn))
                        : NULL;
    if (tls != NULL) {
        const char *v = smtp_tls_version(tls), *c = smtp_tls_ciphersuite(tls);
        ex_jline_lit(j, "\"tls\":{\"version\":");
        ex_jline_string(j, v != NULL ? v : "?", v != NULL ? strlen(v) : 1);
        ex_jline_lit(j, ",\"cipher\":");
        ex_jline_string(j, c != NULL ? c : "?", c != NULL ? strlen(c) : 1);
        ex_jline_lit(j, "}");
        return;
    }
#else
    (void)s;
#endif
    ex_jline_lit(j, "\"tls\":false");
}

/* The message's line: its envelope, every recipient's verdict and own reply, the message's
 * outcome and the reply that decided it, TLS, and the times. Written with one write(2) when
 * it fits in EX_JLINE_CAP octets. */
static void print_json(send_session *s, const smtp_client_result *res)
{
    static size_t messages; /* every session's, in the order their outcomes came */
    const send_options *o = s->o;
    ex_jline j;
    ex_jline_init(&j, STDOUT_FILENO);
    char server[EX_HOST_MAX + EX_PORT_MAX + 4];
    snprintf(server, sizeof server, strchr(o->host, ':') != NULL ? "[%s]:%s" : "%s:%s", o->host,
             o->port);
    ex_jline_lit(&j, "{\"server\":");
    ex_jline_string(&j, server, strlen(server));
    ex_jline_lit(&j, ",\"message\":");
    ex_jline_u64(&j, ++messages);
    ex_jline_lit(&j, ",\"session\":");
    ex_jline_u64(&j, s->index);
    ex_jline_lit(&j, ",\"from\":");
    ex_jline_string(&j, o->from, strlen(o->from));
    ex_jline_lit(&j, ",\"to\":[");
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (i > 0) ex_jline_lit(&j, ",");
        ex_jline_string(&j, o->rcpts[i], strlen(o->rcpts[i]));
    }
    ex_jline_lit(&j, "],\"rcpts\":[");
    for (size_t i = 0; i < o->nrcpts; i++) {
        const rcpt_result *r = &s->results[i];
        const char *text, *verdict = verdict_of(r, res->status, "", &text);
        if (i > 0) ex_jline_lit(&j, ",");
        ex_jline_lit(&j, "{\"address\":");
        ex_jline_string(&j, o->rcpts[i], strlen(o->rcpts[i]));
        ex_jline_lit(&j, ",\"status\":");
        ex_jline_string(&j, verdict, strlen(verdict));
        ex_jline_lit(&j, ",");
        /* Its own last reply: LMTP's after the data, else the RCPT's. */
        if (r->data_code != 0)
            json_reply(&j, r->data_code, r->data_enhanced, strlen(r->data_enhanced), r->data_text,
                       r->data_text_len);
        else
            json_reply(&j, r->code, r->enhanced, strlen(r->enhanced), r->text, r->text_len);
        ex_jline_lit(&j, "}");
    }
    const char *st = smtp_client_status_name(res->status);
    ex_jline_lit(&j, "],\"status\":");
    ex_jline_string(&j, st, strlen(st));
    ex_jline_lit(&j, ",");
    /* As the lines: a reply that did not refuse (an EHLO reply before a missing extension was
     * found) did not decide the message. */
    const smtp_client_reply *rp = res->reply;
    if (rp != NULL && (res->status == SMTP_CLIENT_DELIVERED || rp->code >= 400))
        json_reply(&j, rp->code, rp->enhanced.ptr, rp->enhanced.len, rp->text.ptr, rp->text.len);
    else
        json_reply(&j, 0, NULL, 0, NULL, 0);
    if (res->status == SMTP_CLIENT_UNSUPPORTED) {
        const char *m = smtp_cap_name(res->missing);
        if (m == NULL) m = "?";
        ex_jline_lit(&j, ",\"missing\":");
        ex_jline_string(&j, m, strlen(m));
    }
    ex_jline_lit(&j, ",");
    json_tls(&j, s);
    ex_jline_lit(&j, ",\"connect_ms\":");
    ex_jline_u64(&j, (uint64_t)s->connect_ms);
    ex_jline_lit(&j, ",\"total_ms\":");
    ex_jline_u64(&j, (uint64_t)(smtp_io_now_ms() - s->connect_start));
    ex_jline_lit(&j, "}\n");
    (void)ex_jline_flush(&j);
}

/* ---- load runs: the progress line and the totals ---- */

typedef struct load_totals {
    size_t wanted, handled, delivered, deferred, refused;
} load_totals;

static load_totals totals_of(const send_session *ss, size_t n, size_t count)
{
    load_totals t = {count * n, 0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        t.handled += ss[i].handled;
        t.delivered += ss[i].delivered;
        t.deferred += ss[i].deferred;
        t.refused += ss[i].refused;
    }
    return t;
}

/* The progress line of a load run on a terminal: the sessions (all of them, from
 * send_run), when it started, when it was last drawn, and whether it is on the screen. */
static struct {
    const send_session *ss;
    size_t n;
    int64_t start, drawn;
    int shown;
} progress;

static void progress_draw(int64_t now)
{
    const send_options *o = progress.ss[0].o;
    load_totals t = totals_of(progress.ss, progress.n, o->count);
    double secs = (double)(now - progress.start) / 1000.0;
    fprintf(stderr, "\r%zu of %zu messages, %.1f messages/s, %zu failed\033[K", t.handled, t.wanted,
            secs > 0 ? (double)t.handled / secs : 0.0, t.deferred + t.refused);
    fflush(stderr);
    progress.drawn = now;
    progress.shown = 1;
}

/* A message ended: redraw when a second has passed since the line was last drawn. */
static void progress_tick(void)
{
    if (progress.ss == NULL) return;
    int64_t now = smtp_io_now_ms();
    if (now - progress.drawn >= 1000) progress_draw(now);
}

/* The run ended: the line's last state stays, and what follows starts on a line of its own. */
static void progress_end(void)
{
    if (progress.ss == NULL) return;
    if (progress.shown) {
        progress_draw(smtp_io_now_ms());
        fputc('\n', stderr);
    }
    progress.ss = NULL;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    send_session *s = ud;
    s->in_message = 0;
    s->handled++;
    note_mta_sts(s, s->conn, 1);
    if (res->status == SMTP_CLIENT_DELIVERED)
        s->delivered++;
    else if (res->status == SMTP_CLIENT_TEMPFAIL)
        s->deferred++;
    else
        s->refused++;
    progress_tick();
    s->status = worst(s->status, message_status(s, res));
    warn_dsn_dropped(s, res);
    if (s->o->json) {
        print_json(s, res);
    } else if (s->o->count == 1 && s->o->sessions == 1 && !s->o->quiet) {
        /* The reply that decided the message; one that did not refuse (an EHLO reply before
         * TLS was found missing) says nothing, unless the message was delivered. */
        char why[200] = "";
        if (res->reply != NULL && (res->status == SMTP_CLIENT_DELIVERED || res->reply->code >= 400))
            format_reply(why, sizeof why, res->reply);
        if (res->status == SMTP_CLIENT_UNSUPPORTED) {
            if (res->missing == SMTP_CAP_SIZE)
                snprintf(why, sizeof why,
                         "the message (%llu octets) is over the server's SIZE limit",
                         (unsigned long long)res->size);
            else if (res->missing == SMTP_CAP_REQUIRETLS &&
                     smtp_caps_has(smtp_client_caps(s->cli), SMTP_CAP_REQUIRETLS))
                snprintf(why, sizeof why,
                         "REQUIRETLS: the server's certificate was not verified (RFC 8689 4.2)");
            else
                snprintf(why, sizeof why, "the server does not offer %s",
                         smtp_cap_name(res->missing));
        }
        /* A reply to no command of the message (the greeting, EHLO, STARTTLS, AUTH) ended
         * the session: on_session_end says it better ("STARTTLS refused: 454 ..."). */
        smtp_verb v = res->reply != NULL ? res->reply->command : SMTP_VERB_UNKNOWN;
        int session_reply = res->reply != NULL && v != SMTP_VERB_MAIL && v != SMTP_VERB_RCPT &&
                            v != SMTP_VERB_DATA && v != SMTP_VERB_BDAT;
        int wait = 0;
        for (size_t i = 0; i < s->o->nrcpts && (why[0] == '\0' || session_reply); i++)
            wait |= needs_message_reason(&s->results[i]);
        if (wait) {
            /* No reply of the message decided it: the session is ending (the engine reports
             * the message first), and on_session_end or the connection's end will say why. */
            s->print_pending = 1;
            s->pending_status = res->status;
            if (s->ended) print_pending(s, s->end_why);
        } else {
            print_results(s, res->status, why);
        }
    }
    if (s->handled < s->o->count) {
        if (submit_next(s) == 0) return 0;
    }
    (void)smtp_client_quit(s->cli); /* refused when the session is ending already: fine */
    return 0;
}

/* Why AUTH could not run (SMTP_CLIENT_END_AUTH_UNAVAILABLE without a reply), from what the
 * server offered and what the options allow (the engine's rules: client.h). */
static void auth_unavailable(const send_session *s, char *buf, size_t cap)
{
    const send_options *o = s->o;
    const smtp_caps *caps = smtp_client_caps(s->cli);
    smtp_span list = smtp_caps_auth_list(caps);
    int tls = o->tls || (s->conn != NULL && smtp_io_conn_tls(s->conn));
    if (!tls && !o->insecure_auth)
        snprintf(buf, cap,
                 "AUTH not attempted without TLS (--starttls, --tls or "
                 "--allow-insecure-auth)");
    else if (!smtp_caps_has(caps, SMTP_CAP_AUTH))
        snprintf(buf, cap, "AUTH not offered");
    else if (o->auth_mech != NULL)
        snprintf(buf, cap, "AUTH %s not offered (offered: %.*s)", o->auth_mech, (int)list.len,
                 list.ptr);
    else
        snprintf(buf, cap, "no usable AUTH mechanism offered (offered: %.*s)", (int)list.len,
                 list.ptr);
}

/* Why the session ended, in words (the reply when one decided it). */
static void end_reason(const send_session *s, const smtp_client_session_result *res, char *buf,
                       size_t cap)
{
    char reply[400] = "";
    if (res->reply != NULL) format_reply(reply, sizeof reply, res->reply);
    int refusal = res->reply != NULL && res->reply->code >= 400;
    switch (res->end) {
    case SMTP_CLIENT_END_TLS_UNAVAILABLE:
        if (refusal)
            snprintf(buf, cap, "STARTTLS refused: %s", reply);
        else
            snprintf(buf, cap, "STARTTLS not offered (--tls-required)");
        return;
    case SMTP_CLIENT_END_AUTH_UNAVAILABLE:
        if (refusal)
            snprintf(buf, cap, "AUTH cancelled: %s", reply);
        else
            auth_unavailable(s, buf, cap);
        return;
    case SMTP_CLIENT_END_TLS_FAILED:
#ifdef SMTP_EXAMPLES_HAVE_TLS
        /* The TLS layer knows why the handshake failed (a certificate, a name, an alert). */
        if (ex_tls_failure(s->conn, buf, cap)) return;
#endif
        snprintf(buf, cap, "TLS handshake failed");
        return;
    case SMTP_CLIENT_END_CLOSED:
#ifdef SMTP_EXAMPLES_HAVE_TLS
        /* Implicit TLS: the engine saw the connection close when the handshake failed. */
        if (ex_tls_failure(s->conn, buf, cap)) return;
#endif
        snprintf(buf, cap, "connection closed by the server");
        return;
    case SMTP_CLIENT_END_TIMEOUT: snprintf(buf, cap, "timeout waiting for the server"); return;
    case SMTP_CLIENT_END_PROTOCOL:
    case SMTP_CLIENT_END_ERROR:
        snprintf(
            buf, cap, "%s: %s%s%s%s",
            res->end == SMTP_CLIENT_END_PROTOCOL ? "the server broke the protocol" : "local error",
            smtp_error_text(res->error), reply[0] ? " (reply: " : "", reply, reply[0] ? ")" : "");
        return;
    default: snprintf(buf, cap, "%s", reply); return;
    }
}

static int on_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli;
    send_session *s = ud;
    s->ended = 1;
    int st = EX_OK;
    switch (res->end) {
    case SMTP_CLIENT_END_QUIT: break;
    case SMTP_CLIENT_END_CLOSED: {
        st = EX_TEMPFAIL;
#ifdef SMTP_EXAMPLES_HAVE_TLS
        char tls_why[8]; /* implicit TLS whose handshake failed: a TLS failure */
        if (ex_tls_failure(s->conn, tls_why, sizeof tls_why)) st = EX_IOERR;
#endif
        break;
    }
    case SMTP_CLIENT_END_SHUTDOWN:
    case SMTP_CLIENT_END_TIMEOUT: st = EX_TEMPFAIL; break;
    case SMTP_CLIENT_END_REJECTED:
    case SMTP_CLIENT_END_AUTH_FAILED:
        st = res->reply != NULL && res->reply->code < 500 ? EX_TEMPFAIL : EX_UNAVAILABLE;
        break;
    case SMTP_CLIENT_END_TLS_UNAVAILABLE:
    case SMTP_CLIENT_END_AUTH_UNAVAILABLE: st = EX_UNAVAILABLE; break;
    case SMTP_CLIENT_END_TLS_FAILED: st = EX_IOERR; break;
    case SMTP_CLIENT_END_PROTOCOL: st = EX_PROTOCOL; break;
    case SMTP_CLIENT_END_ERROR: st = EX_SOFTWARE; break;
    }
    if (res->end == SMTP_CLIENT_END_QUIT) {
        print_pending(s, ""); /* a failure no reply decided, yet the session went on */
        return 0;
    }
    char *why = s->end_why;
    end_reason(s, res, why, sizeof s->end_why);
    print_pending(s, why);
    fprintf(stderr, "smtp-send: %ssession ended: %s%s%s\n", s->tag, smtp_client_end_name(res->end),
            why[0] ? ": " : "", why);
    /* A connection lost or shut down after every message was delivered costs nothing. The
     * order of on_message and on_session_end varies, so count deliveries, not reports. */
    int harmless = res->end == SMTP_CLIENT_END_SHUTDOWN || res->end == SMTP_CLIENT_END_CLOSED ||
                   res->end == SMTP_CLIENT_END_TIMEOUT;
    if (s->o->probe) harmless = harmless && s->probed;
    if (!harmless || (!s->o->probe && s->delivered < s->o->count)) s->status = worst(s->status, st);
    return 0;
}

/* ---- I/O: the adapter's connections, driven by one poll loop for every session ---- */

/* "* TLS started" once the handshake is done, before any byte that went over TLS. */
static void note_tls(send_session *s, smtp_io_conn *conn)
{
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (s->tls_noted || !smtp_io_conn_tls(conn)) return;
    char what[160], line[200];
    ex_tls_describe(conn, what, sizeof what);
    snprintf(line, sizeof line, "TLS started: %s", what);
    ex_transcript_note(&s->tr, line);
    s->tls_noted = 1;
#else
    (void)s;
    (void)conn;
#endif
}

/* "smtp-send: DANE: <outcome>" on standard error once the handshake is done, with
 * --dane-tlsa and without -q: the record that matched, or that none was usable. */
static void note_dane(send_session *s, smtp_io_conn *conn)
{
#ifdef SMTP_EXAMPLES_HAVE_TLS
    char text[600];
    if (s->dane_noted || s->o->dane_ntlsa == 0 || s->o->quiet || !smtp_io_conn_tls(conn)) return;
    s->dane_noted = 1;
    if (ex_tls_dane_text(conn, text, sizeof text))
        fprintf(stderr, "smtp-send: %sDANE: %s\n", s->tag, text);
#else
    (void)s;
    (void)conn;
#endif
}

/* MTA-STS testing (RFC 8461 5): what enforce would have refused is reported, once per session,
 * and the message goes on: a certificate that does not verify (after the handshake), or no TLS
 * at all (when the first message ends in plaintext). */
static void note_mta_sts(send_session *s, smtp_io_conn *conn, int ended)
{
#ifdef SMTP_EXAMPLES_HAVE_TLS
    char text[600];
    if (s->mta_sts_noted || mta_sts_mode(s->o) != SMTP_MTASTS_TESTING || s->o->quiet ||
        conn == NULL)
        return;
    if (smtp_io_conn_tls(conn)) {
        s->mta_sts_noted = 1;
        if (ex_tls_unverified(conn, text, sizeof text))
            fprintf(stderr,
                    "smtp-send: %sMTA-STS: the certificate does not verify for %s: %s (mode "
                    "testing: sending anyway)\n",
                    s->tag, s->o->mta_sts_mx, text);
    } else if (ended) {
        s->mta_sts_noted = 1;
        fprintf(stderr,
                "smtp-send: %sMTA-STS: the session is not over TLS (mode testing: sent "
                "anyway)\n",
                s->tag);
    }
#else
    (void)s;
    (void)conn;
    (void)ended;
#endif
}

/* --probe: keeps the server's bytes after each EHLO or LHLO the client sends (a command
 * line the engine writes at the start of a line: at the start of a write or after an LF). */
static void capture_ehlo(send_session *s, int direction, const char *data, size_t len)
{
    if (direction == SMTP_IO_TRACE_OUT) {
        for (size_t i = 0; i + 5 <= len; i++) {
            if ((i == 0 || data[i - 1] == '\n') && (strncasecmp(data + i, "EHLO ", 5) == 0 ||
                                                    strncasecmp(data + i, "LHLO ", 5) == 0)) {
                s->ehlo_len = 0;
                s->ehlo_capture = 1;
            }
        }
        return;
    }
    if (!s->ehlo_capture) return;
    size_t room = sizeof s->ehlo - s->ehlo_len;
    if (len > room) len = room;
    memcpy(s->ehlo + s->ehlo_len, data, len);
    s->ehlo_len += len;
}

/* The engine's first output over TLS (the new EHLO) is traced in the same step that ends the
 * handshake, before on_progress: the note is made here, ahead of those bytes. */
static void on_trace(smtp_io_conn *conn, int direction, const char *data, size_t len, void *ud)
{
    send_session *s = ud;
    if (s->o->verbose) note_tls(s, conn);
    note_dane(s, conn);
    note_mta_sts(s, conn, 0);
    if (s->o->probe) capture_ehlo(s, direction, data, len);
    ex_transcript_add(&s->tr, direction == SMTP_IO_TRACE_OUT ? EX_CLIENT : EX_SERVER, data, len);
}

#ifdef SMTP_EXAMPLES_HAVE_TLS
static ex_tls tls_config; /* one config (CAs, random generator) for every connection */
/* CRAM-MD5 and SCRAM-SHA-256 run on mbedTLS's hashes and a config's random generator: the
 * TLS config's, or without TLS one made for its generator only. */
static ex_tls random_config;
static smtp_client_crypto crypto;

static int tls_new(smtp_io_filter *filter, smtp_io_conn *conn, void *ud)
{
    send_session *s = ud;
    ex_transcript_note(&s->tr, "TLS handshake");
    int rc = ex_tls_filter(&tls_config, filter);
    /* REQUIRETLS (RFC 8689 4.2) needs the engine to know the certificate verified. */
    if (rc == 0) rc = smtp_tls_io_filter_report(filter, smtp_io_conn_client(conn));
    return rc;
}
#endif

/* After every event of the connection: a handshake that nothing followed is noted. */
static int on_progress(smtp_io_conn *conn, void *ud)
{
    send_session *s = ud;
    if (s->o->verbose) note_tls(s, conn);
    note_dane(s, conn);
    return 0;
}

/* One line of the server's text on standard output, control bytes as '?'. */
static void print_text(const char *label, const char *p, size_t n)
{
    printf("%s: ", label);
    for (size_t i = 0; i < n; i++)
        putchar((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f ? '?' : p[i]);
    putchar('\n');
}

/* --probe's report: the EHLO reply's lines ("ehlo:" the first, "capability:" each keyword
 * line), the TLS session and the server's certificate, AUTH's mechanisms and SIZE. */
static void print_probe(send_session *s)
{
    const char *p = s->ehlo, *end = s->ehlo + s->ehlo_len;
    for (int first = 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) break; /* a line cut by the buffer's end */
        size_t n = (size_t)(nl - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (n < 4 || p[0] != '2') break; /* not a 2xx line of the EHLO reply */
        print_text(first ? "ehlo" : "capability", p + 4, n - 4);
        first = 0;
        int last = p[3] != '-';
        p = nl + 1;
        if (last) break;
    }
#ifdef SMTP_EXAMPLES_HAVE_TLS
    smtp_tls *tls = s->conn != NULL && smtp_io_conn_tls(s->conn)
                        ? smtp_tls_io_filter_session(smtp_io_conn_filter(s->conn))
                        : NULL;
    if (tls != NULL) {
        char buf[512], until[32];
        const char *v = smtp_tls_version(tls), *c = smtp_tls_ciphersuite(tls);
        printf("tls: %s %s\n", v != NULL ? v : "?", c != NULL ? c : "?");
        if (smtp_tls_peer_subject(tls, buf, sizeof buf) > 0)
            print_text("tls-subject", buf, strlen(buf));
        if (smtp_tls_peer_issuer(tls, buf, sizeof buf) > 0)
            print_text("tls-issuer", buf, strlen(buf));
        if (smtp_tls_peer_not_before(tls, buf, sizeof buf) > 0 &&
            smtp_tls_peer_not_after(tls, until, sizeof until) > 0)
            printf("tls-validity: %s to %s\n", buf, until);
        if (ex_tls_dane_text(s->conn, buf, sizeof buf)) print_text("tls-dane", buf, strlen(buf));
    } else
#endif
    {
        printf("tls: none\n");
    }
    const smtp_caps *caps = smtp_client_caps(s->cli);
    if (smtp_caps_has(caps, SMTP_CAP_AUTH)) {
        smtp_span list = smtp_caps_auth_list(caps);
        print_text("auth", list.ptr, list.len);
    } else {
        printf("auth: not offered\n");
    }
    if (s->o->auth_user != NULL) printf("authenticated: %s\n", s->o->auth_user);
    if (!smtp_caps_has(caps, SMTP_CAP_SIZE))
        printf("size: not offered\n");
    else if (smtp_caps_size(caps) == 0)
        printf("size: no limit\n");
    else
        printf("size: %llu\n", (unsigned long long)smtp_caps_size(caps));
    fflush(stdout);
}

/* --probe: the NOOP's reply comes once the session is ready (EHLO, STARTTLS, AUTH done). */
static int on_reply(smtp_client *cli, const smtp_client_reply *reply, void *ud)
{
    send_session *s = ud;
    if (s->o->probe && !s->probed && reply != NULL && reply->command == SMTP_VERB_NOOP) {
        s->probed = 1;
        if (!s->o->quiet) print_probe(s);
    }
    (void)smtp_client_quit(cli);
    return 0;
}

static const smtp_client_callbacks client_callbacks = {
    .on_rcpt = on_rcpt,
    .on_message = on_message,
    .on_session_end = on_session_end,
    .on_reply = on_reply,
};

/* The envelope of every copy: the body is 8-bit when any byte is (RFC 6152). */
static void build_message(send_session *s)
{
    const send_options *o = s->o;
    smtp_client_message_init(&s->msg);
    s->msg.sender = o->from;
    for (size_t i = 0; i < o->nrcpts; i++)
        s->rcpts[i].address = o->rcpts[i];
    s->msg.rcpts = s->rcpts;
    s->msg.nrcpts = o->nrcpts;
    s->msg.body = o->body; /* the engine declares its size as transmitted (RFC 1870) */
    s->msg.body_len = o->body_len;
    /* DSN (RFC 3461): sent only when the server offers it, unless --dsn-required. */
    s->msg.ret = o->dsn_ret;
    s->msg.envid = o->dsn_envid;
    for (size_t i = 0; i < o->nrcpts; i++) {
        s->rcpts[i].notify = o->dsn_notify;
        s->rcpts[i].orcpt = o->dsn_orcpt ? o->rcpts[i] : NULL;
    }
    if (o->dsn_required) s->msg.flags |= SMTP_CLIENT_MSG_REQUIRE_DSN;
    s->msg.requiretls = o->requiretls;
    for (size_t i = 0; i < o->body_len; i++) {
        if ((unsigned char)o->body[i] >= 0x80) {
            s->msg.body_type = SMTP_BODY_8BITMIME;
            break;
        }
    }
}

static int new_engine(send_session *s)
{
    const send_options *o = s->o;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = o->helo;
#ifdef SMTP_EXAMPLES_HAVE_IDN
    cs.idna_to_ascii = smtp_idn_to_ascii; /* U-labels as A-labels where SMTPUTF8 is missing */
#endif
    cs.flags = (o->lmtp ? SMTP_CLIENT_LMTP : 0) |
               (o->no_pipelining ? SMTP_CLIENT_NO_PIPELINING : 0) |
               (o->no_chunking ? SMTP_CLIENT_NO_CHUNKING : 0) | (o->tls ? SMTP_CLIENT_TLS : 0) |
               (o->insecure_auth ? SMTP_CLIENT_AUTH_PLAINTEXT : 0);
    /* TLSA records make TLS mandatory, usable or not (RFC 7672 2.2). */
    cs.tls = o->tls_required || o->dane_ntlsa > 0 ? SMTP_CLIENT_TLS_REQUIRED
             : o->starttls                        ? SMTP_CLIENT_TLS_OPPORTUNISTIC
                                                  : SMTP_CLIENT_TLS_NONE;
    cs.auth_user = o->auth_user;
    cs.auth_mech = o->auth_mech;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (o->auth_user != NULL) cs.crypto = &crypto;
#endif
    if (o->auth_mech != NULL &&
        (strcmp(o->auth_mech, "XOAUTH2") == 0 || strcmp(o->auth_mech, "OAUTHBEARER") == 0))
        cs.auth_token = o->auth_password;
    else
        cs.auth_password = o->auth_password;
    if (o->nrcpts > cs.max_recipients) cs.max_recipients = o->nrcpts;
    if (o->timeout_ms != 0) {
        cs.timeout_greeting = cs.timeout_mail = cs.timeout_rcpt = cs.timeout_data =
            cs.timeout_data_block = cs.timeout_data_end = cs.timeout_command = o->timeout_ms;
    }
    int rc = smtp_client_new(&s->cli, &client_callbacks, &cs, NULL, s);
    if (rc != 0) {
        fprintf(stderr, "smtp-send: cannot start a client: %s\n", smtp_error_text(rc));
        return EX_SOFTWARE;
    }
    if (o->probe) { /* no message: a NOOP whose reply says the session is ready */
        rc = smtp_client_command(s->cli, SMTP_VERB_NOOP, NULL);
        if (rc != 0) {
            fprintf(stderr, "smtp-send: cannot queue NOOP: %s\n", smtp_error_text(rc));
            return EX_SOFTWARE;
        }
        return EX_OK;
    }
    build_message(s);
    rc = submit_next(s);
    if (rc != 0) {
        fprintf(stderr, "smtp-send: the envelope was refused: %s\n", smtp_error_text(rc));
        return EX_USAGE;
    }
    return EX_OK;
}

/* Connects session `s` and hands it to the loop. */
/* A connection that could not be made: a temporary failure (EX_TEMPFAIL, as a timeout once
 * connected), as an MTA defers the mail; a name that does not exist is EX_NOHOST; a local
 * failure (no descriptor, no memory) EX_OSERR. */
static int connect_failure(smtp_io_status st, int detail)
{
    switch (st) {
    case SMTP_IO_TIMEOUT: return EX_TEMPFAIL;
    case SMTP_IO_RESOLVE:
        return detail == EAI_NONAME
#ifdef EAI_NODATA
                       || detail == EAI_NODATA
#endif
                   ? EX_NOHOST
                   : detail == EAI_AGAIN ? EX_TEMPFAIL : EX_OSERR;
    case SMTP_IO_SYSERR:
        switch (detail) {
        case EMFILE:
        case ENFILE:
        case ENOMEM:
        case ENOBUFS:
        case EACCES:
        case EPERM: return EX_OSERR;
        default: return EX_TEMPFAIL; /* refused, unreachable, reset, timed out */
        }
    default: return EX_TEMPFAIL;
    }
}

static int connect_session(send_session *s, smtp_io_loop *loop)
{
    const send_options *o = s->o;
    smtp_io_status st;
    int detail;
    char text[256];
    s->connect_start = smtp_io_now_ms();
    int fd = smtp_io_connect(o->host, o->port, o->timeout_ms ? o->timeout_ms : 30000, &st, &detail);
    s->connect_ms = smtp_io_now_ms() - s->connect_start;
    if (fd < 0) {
        smtp_io_status_text(st, detail, text, sizeof text);
        fprintf(stderr, "smtp-send: %s%s port %s: %s\n", s->tag, o->host, o->port, text);
        if (!o->probe && !o->json) print_results(s, SMTP_CLIENT_TEMPFAIL, text);
        return connect_failure(st, detail);
    }
    smtp_io_settings ios;
    smtp_io_settings_init(&ios);
    ios.on_trace = o->verbose || o->probe ? on_trace : NULL;
    ios.on_progress = on_progress;
    ios.user_data = s;
    if (o->timeout_ms != 0) ios.write_timeout_ms = ios.handshake_timeout_ms = o->timeout_ms;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls || o->starttls || o->tls_required) ios.tls_new = tls_new;
    ios.implicit_tls = o->tls;
#endif
    int rc = smtp_io_loop_add_client(loop, fd, s->cli, &ios, s, &s->conn);
    if (rc != 0) {
        close(fd);
        fprintf(stderr, "smtp-send: %s\n", smtp_error_text(rc));
        return EX_SOFTWARE;
    }
    return EX_OK;
}

/* How the connection's end weighs when the engine did not say it already. */
static void connection_ended(send_session *s, smtp_io_conn *conn)
{
    int detail;
    smtp_io_status st = smtp_io_conn_status(conn, &detail);
    ex_transcript_end(&s->tr);
    char text[256];
    smtp_io_status_text(st, detail, text, sizeof text);
    print_pending(s, text); /* when nothing said why a message failed yet */
    if (s->ended || st == SMTP_IO_DONE) return;
    fprintf(stderr, "smtp-send: %sconnection ended: %s\n", s->tag, text);
    switch (st) {
    case SMTP_IO_EOF:
    case SMTP_IO_TIMEOUT: s->status = worst(s->status, EX_TEMPFAIL); break;
    case SMTP_IO_SYSERR:
        /* the server reset the connection or went away: temporary, as when it closes */
        if (detail == ECONNRESET || detail == EPIPE || detail == ETIMEDOUT ||
            detail == EHOSTUNREACH || detail == ENETUNREACH) {
            s->status = worst(s->status, EX_TEMPFAIL);
            break;
        }
        /* fall through */
    case SMTP_IO_TLS: s->status = worst(s->status, EX_IOERR); break;
    default: s->status = worst(s->status, EX_SOFTWARE); break;
    }
}

/* The loop closed a session's connection (smtp_io_loop_settings.on_close). */
static void on_conn_close(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                          void *ud)
{
    (void)status;
    (void)detail;
    (void)ud;
    send_session *s = session_data;
    connection_ended(s, conn);
    s->conn = NULL;
}

/*
 * MTA-STS (RFC 8461 4.1, 5): before connecting, the MX must be one the policy names. enforce:
 * a MX it does not name gets nothing, a temporary failure (75: an MTA defers and looks for a
 * new policy, 5.1); testing: it is reported and the message goes. Returns EX_OK to go on.
 */
static int mta_sts_check(const send_options *o)
{
    smtp_mtasts_mode mode = mta_sts_mode(o);
    if (mode == SMTP_MTASTS_NONE) return EX_OK;
    const char *mx = o->mta_sts_mx;
    size_t n = strlen(mx);
    if (n > 0 && mx[n - 1] == '.') n--;
    if (smtp_mtasts_policy_match(&o->mta_sts_policy, mx, n) == 1) return EX_OK;
    char why[400];
    snprintf(why, sizeof why, "MTA-STS: the policy names no MX matching %s", mx);
    if (mode == SMTP_MTASTS_TESTING) {
        if (!o->quiet) fprintf(stderr, "smtp-send: %s (mode testing: sending anyway)\n", why);
        return EX_OK;
    }
    fprintf(stderr, "smtp-send: %s (mode enforce: nothing sent, RFC 8461 5)\n", why);
    if (!o->probe && !o->json && !o->quiet)
        for (size_t i = 0; i < o->nrcpts; i++)
            printf("%s: not sent: %s\n", o->rcpts[i], why);
    return EX_TEMPFAIL;
}

int send_run(const send_options *o)
{
    int checked = mta_sts_check(o);
    if (checked != EX_OK) return checked;
    size_t n = o->sessions;
    send_session *ss = calloc(n, sizeof *ss);
    if (ss == NULL) return EX_OSERR;
    int status = EX_OK;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls || o->starttls || o->tls_required) {
        char err[512];
        /* DANE's sessions need no CA (their records alone decide): no store is loaded.
         * MTA-STS: the certificate must name the MX (RFC 8461 4.1), checked but not enforced
         * in testing mode. */
        int verify = o->no_verify || o->dane_ntlsa > 0        ? 1
                     : mta_sts_mode(o) == SMTP_MTASTS_TESTING ? EX_TLS_VERIFY_OPTIONAL
                                                              : 0;
        /* MTA-STS enforce refuses --no-verify: the hint names what can help */
        if (mta_sts_mode(o) == SMTP_MTASTS_ENFORCE)
            ex_tls_verify_hint("MTA-STS enforce needs a certificate that verifies for the MX: "
                               "try --cafile FILE");
        if (ex_tls_client_init(&tls_config, o->cafile, verify, o->mta_sts ? o->mta_sts_mx : o->host,
                               err, sizeof err) != 0) {
            fprintf(stderr, "smtp-send: TLS: %s\n", err);
            return EX_USAGE;
        }
        if (o->dane_ntlsa > 0) ex_tls_dane(&tls_config, o->dane_tlsa, o->dane_ntlsa, o->dane_name);
    }
    if (o->auth_user != NULL) {
        char err[512];
        if (tls_config.cfg == NULL &&
            ex_tls_client_init(&random_config, NULL, 1, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "smtp-send: random generator: %s\n", err);
            return EX_SOFTWARE;
        }
        smtp_tls_crypto(&crypto, tls_config.cfg != NULL ? tls_config.cfg : random_config.cfg);
    }
#endif
    /* Every session in one loop: the adapter drives the connections. */
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    ls.on_close = on_conn_close;
    ls.max_connections = n;
    smtp_io_loop *loop;
    int rc = smtp_io_loop_new(&loop, &ls, NULL);
    if (rc != 0) {
        fprintf(stderr, "smtp-send: cannot start: %s\n", smtp_error_text(rc));
        return EX_OSERR;
    }
    int64_t start = smtp_io_now_ms();
    /* The progress line: a load run, on a terminal, neither -q nor -v (whose transcript
     * would break it up). */
    if ((o->count > 1 || n > 1) && !o->quiet && !o->verbose && isatty(STDERR_FILENO)) {
        progress.ss = ss;
        progress.n = n;
        progress.start = progress.drawn = start;
        progress.shown = 0;
    }
    for (size_t i = 0; i < n && status == EX_OK; i++) {
        send_session *s = &ss[i];
        s->o = o;
        s->index = i + 1;
        if (n > 1) snprintf(s->tag, sizeof s->tag, "[%zu] ", i + 1);
        ex_transcript_init(&s->tr, o->verbose ? stderr : NULL, s->tag);
        ex_transcript_mask_auth(&s->tr, !o->show_secrets);
        /* --probe has no recipient: one element all the same (calloc(0) may give NULL) */
        s->rcpts = calloc(o->nrcpts + 1, sizeof *s->rcpts);
        s->results = calloc(o->nrcpts + 1, sizeof *s->results);
        if (s->rcpts == NULL || s->results == NULL) return EX_OSERR;
        status = new_engine(s);
        if (status == EX_OK) s->status = connect_session(s, loop);
    }
    if (status == EX_OK && (rc = smtp_io_loop_run(loop)) < 0) {
        fprintf(stderr, "smtp-send: %s\n", smtp_error_text(rc));
        status = EX_OSERR;
    }
    smtp_io_loop_del(loop); /* closes what is left (after a failure above) */
    progress_end();
    double secs = (double)(smtp_io_now_ms() - start) / 1000.0;
    load_totals t = totals_of(ss, n, o->count);
    for (size_t i = 0; i < n; i++) {
        status = worst(status, ss[i].status);
        smtp_client_del(ss[i].cli);
        if (ss[i].results != NULL) free_results(&ss[i]);
        free(ss[i].rcpts);
        free(ss[i].results);
    }
    if ((o->count > 1 || n > 1) && !o->quiet) {
        /* --json: standard output holds only the JSON lines */
        FILE *out = o->json ? stderr : stdout;
        fprintf(out,
                "%zu of %zu messages delivered over %zu connection%s in %.3f s: %.1f "
                "messages/s\n",
                t.delivered, t.wanted, n, n == 1 ? "" : "s", secs,
                secs > 0 ? (double)t.delivered / secs : (double)t.delivered);
        if (t.handled < t.wanted)
            fprintf(out, "%zu messages not attempted\n", t.wanted - t.handled);
        /* every message in one of four counts; the rate over every message that was tried */
        fprintf(out,
                "summary: %zu delivered, %zu refused, %zu deferred, %zu not attempted; "
                "%zu attempted at %.1f messages/s\n",
                t.delivered, t.refused, t.deferred, t.wanted - t.handled, t.handled,
                secs > 0 ? (double)t.handled / secs : (double)t.handled);
    }
    free(ss);
#ifdef SMTP_EXAMPLES_HAVE_TLS
    ex_tls_free(&tls_config);
    ex_tls_free(&random_config);
#endif
    return status;
}
