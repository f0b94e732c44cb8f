/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a whole client session (smtp_client) with one or two queued messages, fed a
 * hostile server's replies.
 *
 * The harness plays the application (it submits the first message before the greeting and
 * the second from on_message, each with its body in memory or from a source the input
 * chooses, and asks for QUIT after the last one when the input says so) and the adapter (it feeds
 * the server's bytes, pulls every output octet after each read, and plays the TLS layer: while the
 * client waits for the handshake, the marker "[TLS]" in the stream means "the handshake ended",
 * with the result the input chose; any byte before it is plaintext injected across the boundary).
 * At the end of the input the server goes away (optionally after the adapter's timer expired).
 *
 * Checked here, besides no crash, no leak, no over-read (ASan) and no undefined behaviour
 * (UBSan):
 *  - split invariance: the replies fed whole and fed in pieces (sizes from the input) give
 *    the same event log (every callback with its arguments, read errors, TLS and end results)
 *    and the same output bytes: the client never sends the next command before the complete
 *    reply it waits for, however the reply was split (DESIGN.md invariants 1 and 2). "Whole"
 *    is one reply per read, as a server that answers each command after it came sends them: a
 *    read holding bytes after a complete reply that no sent command awaits is a server talking
 *    ahead, a protocol error by design (client.h), so reads never span two replies here;
 *  - the output never holds a bare CR, a bare LF or a NUL (bodies are CRLF-normalised and
 *    dot-stuffed), unless a message goes as BODY=BINARYMIME (then its BDAT chunks are raw);
 *  - the output read back as a server reads it: every command line parses (smtp_cmd_parse)
 *    or is a SASL response (base64 or "*"); DATA content, unstuffed up to CRLF.CRLF, and the
 *    BDAT chunks of a message equal the message's body after the normalisation its mode
 *    implies (bare CR and LF to CRLF; DATA completes a last line) — exactly one end of data
 *    per message, never inside the body (invariant 3); a lone "." when a 354 came although
 *    every recipient was refused (RFC 2920 3.1);
 *  - a message is reported DELIVERED only after its end of data was written out: the
 *    acknowledgement cannot come before the data it acknowledges (an early "250" is an
 *    unsolicited reply, RFC 5321 4.2);
 *  - a body source that fails ends the session at once: on_session_end says END_ERROR with
 *    SMTP_ERR_CALLBACK_FAILURE, the message is TEMPFAIL, and the output never holds that
 *    message's end of data (nor a BDAT LAST). Output queued by the call that met the failure
 *    but not yet pulled is dropped with the session, so a failed run's output depends on the
 *    write sizes after all: then the whole and split outputs must agree on the shorter one
 *    only (each is a prefix of the same stream);
 *  - results are coherent: reply codes 200-599 and texts within max_reply_text; DELIVERED
 *    with a 2xx reply, PERMFAIL with a 5xx one, UNSUPPORTED with none (TEMPFAIL carries a 4xx,
 *    or the reply that broke the session, or none); accepted + rejected
 *    at most the recipients; on_rcpt once per recipient (and after the data only in LMTP);
 *    every submitted message is reported exactly once and the session end exactly once, and
 *    the client is done after smtp_client_eof;
 *  - a failed read is sticky; after smtp_client_new the client allocates nothing (invariant
 *    7), and smtp_client_del frees every block.
 * Each piece fed is a fresh heap copy of exactly its size, so reading past it is an ASan error.
 * FUZZ_TRACE=1 in the environment prints the event log at each on_message.
 *
 * Input layout: bytes 0-1 = piece-size seed (byte 1's bit 7 also: the TLS, implicit or after
 * STARTTLS, is not reported verified, smtp_client_tls_verified; bit 6: the TLS layer presents a
 * client certificate, SMTP_CLIENT_AUTH_EXTERNAL); byte 2 = bit 0 LMTP, bit 1 pipelining, bit 2
 * chunking, bits 3-4 the STARTTLS policy (none, opportunistic, required, none), bit 5
 * tls_active, bit 6 authenticate, bit 7 auth_allow_plaintext; byte 3 = bits 0-2 the
 * credentials and mechanism (see creds[]), bit 3 small reply limits and output queue, bit 4
 * a second message, bit 5 QUIT after the last message, bit 6 the TLS handshake fails, bit 7
 * the timer expires at the end; byte 4 = message options: 8BITMIME, UTF-8 addresses, DSN,
 * SIZE declared, REQUIRETLS, MT-PRIORITY, DELIVERBY, all-or-nothing; byte 5 = bits 0-1 the
 * recipients - 1, bits 2-4 the first body, bits 5-7 the second body; byte 6 = bits 0-5 the
 * callback call that fails (0: none), bit 7 the application's commands (smtp_client_command:
 * VRFY before the first message, NOOP before the second; with bit 6 smtp_client_xclient
 * instead: XCLIENT, then XFORWARD; each message submitted while its command is pending); byte 7 =
 * bit 0 REQUIRE_DSN, bit 1 HOLDFOR, bit 2 BODY=BINARYMIME, bits 3-4 the body: in memory (0), or
 * from a source (tests/body_source.h) giving it in pieces of sizes seeded by bytes 0-1 (1), that
 * also says SMTP_ERR_AGAIN before every (k+1)th piece, the harness calling smtp_client_body_ready
 * once the client's output is drained (2), or that fails once k/8 of the body was read (3), k being
 * bits 5-7; the rest is the server's stream.
 */
#include "fuzz_common.h"

#include "../tests/body_source.h"

#include <smtp/client.h>
#include <smtp/command.h>

#define HEADER 8

#define TLS_MARK "[TLS]"
#define MAXR 4
#define NMSG 2

/* ---- the bodies: text only, and no line that reads as a command ---- */

static const char *const body_text[6] = {
    "",
    "Subject: hi\r\n\r\nhello\r\n",
    ".\r\n..\r\n.x\r\nend",
    "one\ntwo\rthree\r\n\r\n.",
    "a\r\n.\r\nb\r\n.\r\n\r\n..\r\n",
    "caf\xc3\xa9 8bit\r\n\x80\xff\r\n",
};

static void body_of(struct flog *b, unsigned which)
{
    b->len = 0;
    if (which < 6) {
        flog_str(b, body_text[which]);
    } else if (which == 6) {
        for (int i = 0; i < 1200; i++) /* a line over 1000 octets (RFC 5321 4.5.3.1.6) */
            flog_raw(b, "a", 1);
        flog_str(b, "\r\n");
    } else {
        for (int i = 0; i < 300; i++)
            flog_str(b, i % 7 ? "a\r\n" : ".\r\n");
    }
}

/* The body the server must receive (RFC 5321 4.5.2, RFC 3030 3). */
static void normalise(struct flog *out, const struct flog *in, int data, int binary)
{
    out->len = 0;
    if (binary) {
        flog_raw(out, in->buf, in->len);
        return;
    }
    for (size_t i = 0; i < in->len; i++) {
        char c = in->buf[i];
        if (c == '\r') {
            flog_str(out, "\r\n");
            if (i + 1 < in->len && in->buf[i + 1] == '\n') i++;
        } else if (c == '\n') {
            flog_str(out, "\r\n");
        } else {
            flog_raw(out, &c, 1);
        }
    }
    if (data && out->len && out->buf[out->len - 1] != '\n') flog_str(out, "\r\n");
}

/* ---- one run ---- */

struct tmsg {
    smtp_client_message m;
    smtp_client_rcpt rc[MAXR];
    char sender[64], addr[MAXR][64];
    struct flog body;
    struct body_source src; /* the body, when it comes from a source */
    struct fsplit src_sp;   /* the source's piece sizes */
    int submitted, reported, submit_rc;
    int rcpt_seen[MAXR], lmtp_seen[MAXR];
    size_t lmtp_ok;      /* LMTP: recipients delivered after the data */
    int split;           /* seen split by the server's LIMITS RCPTMAX (several ends of data) */
    size_t delivered_at; /* output pulled when DELIVERED was reported; 0: not delivered */
};

struct run {
    smtp_client *cli;
    struct fmem mem;
    struct flog ev, out;
    const uint8_t *hdr;
    int split, lmtp, failed;
    struct fsplit sp;
    smtp_client_settings cs;
    unsigned fail_at, calls;
    int commands;       /* byte 6 bits 6-7: VRFY and NOOP (1), XCLIENT and XFORWARD (2) */
    smtp_verb cmd_verb; /* the command awaiting its reply, or SMTP_VERB_UNKNOWN */
    struct tmsg t[NMSG];
    size_t nmsgs, cur;
    int session_ends;
    size_t steps;
};

static int enter(struct run *r)
{
    r->calls++;
    return r->fail_at && r->calls == r->fail_at;
}

static void log_reply(struct run *r, const smtp_client_reply *rep)
{
    if (!rep) {
        flog_str(&r->ev, " reply=none");
        return;
    }
    FUZZ_ASSERT(rep->code >= 200 && rep->code <= 599);
    FUZZ_ASSERT(rep->text.len <= r->cs.max_reply_text);
    FUZZ_ASSERT(rep->lines >= 1);
    FLOG(&r->ev, " verb=%d code=%d lines=%zu trunc=%d", (int)rep->command, rep->code, rep->lines,
         rep->truncated);
    flog_span(&r->ev, "enh", rep->enhanced.ptr, rep->enhanced.len);
    flog_span(&r->ev, "text", rep->text.ptr, rep->text.len);
}

static size_t source_piece(size_t left, void *user_data)
{
    (void)left;
    return fsplit_piece(user_data);
}

/* The body in memory, or from a source (byte 7, bits 3-7). */
static void give_body(struct run *r, struct tmsg *t, size_t i)
{
    unsigned mode = (r->hdr[7] >> 3) & 3u, k = r->hdr[7] >> 5;
    t->m.body = t->body.buf;
    t->m.body_len = t->body.len;
    t->m.read_body = NULL;
    if (mode == 0) return;
    body_source_init(&t->src, t->body.buf, t->body.len);
    fsplit_init(&t->src_sp, ((unsigned)r->hdr[0] | (unsigned)r->hdr[1] << 8) + 1u + (unsigned)i);
    t->src.next_piece = source_piece;
    t->src.piece_data = &t->src_sp;
    if (mode == 2) t->src.again_every = k + 1, t->src.again_max = SIZE_MAX;
    if (mode == 3) t->src.fail_at = t->body.len * k / 8;
    body_source_attach(&t->src, &t->m);
}

/* The application's command before message i (byte 6 bit 7); its reply comes to c_reply. */
static void send_command(struct run *r, size_t i)
{
    if (!r->commands) return;
    static const smtp_client_xattr xa[] = {
        {"ADDR", "192.0.2.7"}, {"NAME", "client.example"}, {"LOGIN", "a+b=c"}};
    smtp_verb v = r->commands == 2 ? (i == 0 ? SMTP_VERB_XCLIENT : SMTP_VERB_XFORWARD)
                                   : (i == 0 ? SMTP_VERB_VRFY : SMTP_VERB_NOOP);
    int rc;
    /* Set first: on_reply may come from inside the call (an XCLIENT not offered is dropped
     * at once when the session is ready). */
    r->cmd_verb = v;
    if (r->commands == 2)
        rc = smtp_client_xclient(r->cli, v, xa, i == 0 ? 3 : 2);
    else
        rc = smtp_client_command(r->cli, v, i == 0 ? "postmaster" : NULL);
    FLOG(&r->ev, "command %s %s\n", smtp_verb_name(v), smtp_error_name(rc));
    if (rc != 0) r->cmd_verb = SMTP_VERB_UNKNOWN;
}

static void start_message(struct run *r, size_t i)
{
    struct tmsg *t = &r->t[i];
    r->cur = i; /* first: the command's reply may come at once, before message i starts */
    send_command(r, i);
    t->submitted = 1;
    give_body(r, t, i);
    t->submit_rc = smtp_client_submit(r->cli, &t->m);
    FLOG(&r->ev, "submit %zu %s\n", i, smtp_error_name(t->submit_rc));
}

/* Whether the message goes as several transactions: the server's LIMITS RCPTMAX is below its
 * recipients (client.h: each recipient then gets its transaction's final reply, as in LMTP). */
static int split_by_rcptmax(const struct run *r, const struct tmsg *t)
{
    uint64_t max = smtp_caps_limit(smtp_client_caps(r->cli), SMTP_LIMIT_RCPTMAX);
    return max > 0 && t->m.nrcpts > max;
}

static int c_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *rep,
                  void *ud)
{
    struct run *r = ud;
    (void)cli;
    struct tmsg *t = &r->t[r->cur];
    int after_data = rep->command != SMTP_VERB_RCPT;
    /* A recipient the server acknowledged after the data has the message, whether or not the
     * application's callback (failing here, fail=K) takes the news: DELIVERED may follow. */
    if (after_data && rep->code / 100 == 2) t->lmtp_ok++;
    if (enter(r)) return -1;
    FUZZ_ASSERT(t->submitted && !t->reported);
    FUZZ_ASSERT(rcpt >= t->m.rcpts && rcpt < t->m.rcpts + t->m.nrcpts);
    size_t index = (size_t)(rcpt - t->m.rcpts);
    if (split_by_rcptmax(r, t)) t->split = 1;
    FUZZ_ASSERT(!after_data || r->lmtp || t->split);
    int *seen = after_data ? &t->lmtp_seen[index] : &t->rcpt_seen[index];
    FUZZ_ASSERT(!*seen);
    *seen = 1;
    FLOG(&r->ev, "rcpt %zu after=%d", index, after_data);
    log_reply(r, rep);
    flog_str(&r->ev, "\n");
    return 0;
}

static int c_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct run *r = ud;
    (void)cli;
    if (enter(r)) return -1;
    size_t i = r->cur;
    struct tmsg *t = &r->t[i];
    FUZZ_ASSERT(t->submitted && !t->reported);
    t->reported = 1;
    if (split_by_rcptmax(r, t)) t->split = 1;
    FLOG(&r->ev, "message %zu %s acc=%zu rej=%zu missing=%d", i,
         smtp_client_status_name(res->status), res->accepted, res->rejected, (int)res->missing);
    log_reply(r, res->reply);
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(res->accepted + res->rejected <= t->m.nrcpts);
    /* The source failed: the message cannot have been acknowledged. */
    if (t->src.failures) FUZZ_ASSERT(res->status == SMTP_CLIENT_TEMPFAIL);
    if (getenv("FUZZ_TRACE")) flog_dump("events so far", &r->ev);
    switch (res->status) {
    case SMTP_CLIENT_DELIVERED:
        /* LMTP, or a message split by RCPTMAX: delivered to at least one recipient, the last
         * reply deciding nothing. */
        FUZZ_ASSERT(res->reply &&
                    (r->lmtp || t->split ? t->lmtp_ok >= 1 : res->reply->code / 100 == 2));
        FUZZ_ASSERT(res->accepted >= 1);
        t->delivered_at = r->out.len + 1;
        break;
    case SMTP_CLIENT_TEMPFAIL: break; /* 4xx, or the reply that broke the session */
    case SMTP_CLIENT_PERMFAIL:
        FUZZ_ASSERT(res->reply && (res->reply->code / 100 == 5 || t->split));
        break;
    case SMTP_CLIENT_UNSUPPORTED:
        FUZZ_ASSERT(!res->reply && (unsigned)res->missing < SMTP_CAP_COUNT);
        break;
    default: FUZZ_ASSERT(0);
    }
    if (i + 1 < r->nmsgs)
        start_message(r, i + 1);
    else if (r->hdr[3] & 0x20) {
        int rc = smtp_client_quit(r->cli);
        FLOG(&r->ev, "quit %s\n", smtp_error_name(rc));
    }
    return 0;
}

static int c_reply(smtp_client *cli, const smtp_client_reply *rep, void *ud)
{
    struct run *r = ud;
    (void)cli;
    if (enter(r)) return -1;
    /* The command sent, answered once, before the message submitted after it began; NULL: an
     * XCLIENT or XFORWARD the server does not offer, not sent. */
    FUZZ_ASSERT(r->cmd_verb != SMTP_VERB_UNKNOWN && (!rep || rep->command == r->cmd_verb));
    FUZZ_ASSERT(rep || r->cmd_verb == SMTP_VERB_XCLIENT || r->cmd_verb == SMTP_VERB_XFORWARD);
    FUZZ_ASSERT(!rep || (rep->code / 100 != 3 && rep->code != 421));
    FUZZ_ASSERT(!rep || rep->code != 220 || rep->command == SMTP_VERB_XCLIENT);
    FUZZ_ASSERT(!r->t[r->cur].rcpt_seen[0] && !r->t[r->cur].reported);
    FLOG(&r->ev, "reply %s", smtp_verb_name(r->cmd_verb));
    r->cmd_verb = SMTP_VERB_UNKNOWN;
    log_reply(r, rep);
    flog_str(&r->ev, "\n");
    return 0;
}

static int c_starttls(smtp_client *cli, void *ud)
{
    struct run *r = ud;
    (void)cli;
    if (enter(r)) return -1;
    FLOG(&r->ev, "starttls\n");
    return 0;
}

static int c_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct run *r = ud;
    (void)cli;
    if (enter(r)) return -1;
    r->session_ends++;
    FUZZ_ASSERT(r->session_ends == 1);
    FLOG(&r->ev, "session-end %s %s", smtp_client_end_name(res->end), smtp_error_name(res->error));
    FUZZ_ASSERT(res->error == 0 || res->end == SMTP_CLIENT_END_PROTOCOL ||
                res->end == SMTP_CLIENT_END_ERROR);
    if (r->t[r->cur].src.failures)
        FUZZ_ASSERT(res->end == SMTP_CLIENT_END_ERROR && res->error == SMTP_ERR_CALLBACK_FAILURE);
    log_reply(r, res->reply);
    flog_str(&r->ev, "\n");
    return 0;
}

/* Pulls every pending output octet, in pieces of the split's sizes (fdrain). */
static smtp_ssize client_write(void *cli, char *dest, size_t cap)
{
    return smtp_client_write(cli, dest, cap);
}

/* A negative return is the sticky error of a failed session, which the read reported. Once the
 * output is drained, a source that had nothing ready has more (the application calls
 * smtp_client_body_ready outside the callbacks), and the output is drained again. */
static void drain(struct run *r)
{
    for (;;) {
        fdrain(&r->out, r->split ? &r->sp : NULL, client_write, r->cli);
        struct tmsg *t = &r->t[r->cur];
        if (!t->src.waiting || t->reported) return;
        int rc = body_source_resume(&t->src, r->cli);
        FLOG(&r->ev, "body-ready %s\n", smtp_error_name(rc));
    }
}

/* The end of the first complete reply in p[0..n) (a line whose fourth byte is not '-'), or n:
 * a server answers each command after it came, so each read holds at most one reply (the
 * client treats bytes after a complete reply that no sent command awaits as a server talking
 * ahead, so the grouping of replies into reads is part of what a real server does). */
static size_t first_reply(const char *p, size_t n, size_t *col, char *sep)
{
    size_t c = *col;
    char s = *sep;
    for (size_t i = 0; i < n; i++) {
        if (c == 3) s = p[i];
        c++;
        if (p[i] == '\n') {
            if (c < 5 || s != '-') return i + 1;
            c = 0, s = 0;
        }
    }
    return n;
}

/* Moves the line position of first_reply over n consumed bytes. */
static void advance_lines(const char *p, size_t n, size_t *col, char *sep)
{
    for (size_t i = 0; i < n; i++) {
        if (*col == 3) *sep = p[i];
        (*col)++;
        if (p[i] == '\n') *col = 0, *sep = 0;
    }
}

static void feed_stream(struct run *r, const char *in, size_t len)
{
    size_t col = 0;
    char sep = 0;
    size_t pos = 0, avail = r->split ? 0 : len;
    while (!r->failed) {
        FUZZ_ASSERT(++r->steps < 8 * len + 10000); /* no livelock */
        if (avail < pos) avail = pos;
        if (avail > len) avail = len;
        int more = avail < len;
        if (fmark_at(in + pos, avail - pos, TLS_MARK) > 0) {
            pos += sizeof TLS_MARK - 1;
            if (smtp_client_want_tls(r->cli)) {
                int ok = !(r->hdr[3] & 0x40);
                if (ok && !(r->hdr[1] & 0x80)) (void)smtp_client_tls_verified(r->cli, 1);
                int rc = smtp_client_tls_done(r->cli, ok);
                FLOG(&r->ev, "tls-done %s\n", smtp_error_name(rc));
                drain(r);
            }
            continue;
        }
        size_t n = fmark_feed_len(in + pos, avail - pos, more, TLS_MARK);
        n = first_reply(in + pos, n, &col, &sep);
        if (n == 0) {
            if (!more) break;
            avail += fsplit_piece(&r->sp);
            continue;
        }
        char *piece = fcopy(in + pos, n);
        smtp_ssize got = smtp_client_read(r->cli, piece, n);
        free(piece);
        if (got < 0) {
            FLOG(&r->ev, "read error %s\n", smtp_error_name((int)got));
            smtp_ssize again = smtp_client_read(r->cli, "2", 1);
            FUZZ_ASSERT(again == got); /* sticky */
            drain(r);
            r->failed = 1;
            break;
        }
        FUZZ_ASSERT((size_t)got <= n);
        advance_lines(in + pos, (size_t)got, &col, &sep);
        pos += (size_t)got;
        drain(r);
        if (got > 0) continue;
        if (smtp_client_want_close(r->cli)) break;
        if (smtp_client_want_tls(r->cli)) break; /* plaintext before the handshake, unread */
        if (!more) break;
        avail += fsplit_piece(&r->sp);
    }
    /* How far a failed read got into its piece depends on the split: not logged then. */
    if (!r->failed) FLOG(&r->ev, "unread %zu\n", len - pos);
}

/* ---- the output read back as a server reads it ---- */

static int is_sasl_line(const char *p, size_t n)
{
    if (n == 1 && p[0] == '*') return 1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return 0;
    }
    return 1;
}

static int msg_of_path(const struct run *r, smtp_span path)
{
    for (size_t i = 0; i < r->nmsgs; i++) {
        size_t sl = strlen(r->t[i].sender);
        if (path.len == sl + 2 && memcmp(path.ptr + 1, r->t[i].sender, sl) == 0) return (int)i;
    }
    return -1;
}

static void check_output(struct run *r)
{
    const char *p = r->out.buf;
    size_t n = r->out.len;
    int binary = 0;
    for (size_t k = 0; k < r->nmsgs; k++)
        binary |= r->t[k].m.body_type == SMTP_BODY_BINARYMIME;
    if (!binary) FUZZ_ASSERT(fcrlf_clean(p, n, 1));
    size_t end_at[NMSG] = {0};
    struct flog content = {0}, want = {0};
    int msg = -1, data_next = 0, bdat = 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl) break; /* a partial line: the session ended there */
        const char *l = p + i;
        FUZZ_ASSERT(nl > l && nl[-1] == '\r');
        size_t ll = (size_t)(nl - l) - 1; /* without CRLF */
        i += ll + 2;
        smtp_cmd c;
        int rc = smtp_cmd_parse(l, ll, 0, &c);
        if (data_next) {
            data_next = 0;
            /* After DATA: a command (the 354 did not come) or the content. */
            int cmd = rc == 0 && c.verb != SMTP_VERB_UNKNOWN;
            if (!cmd) {
                content.len = 0;
                i -= ll + 2;
                int ended = 0;
                while (i < n && !ended) {
                    nl = memchr(p + i, '\n', n - i);
                    if (!nl) break;
                    l = p + i;
                    FUZZ_ASSERT(nl > l && nl[-1] == '\r');
                    ll = (size_t)(nl - l) - 1;
                    i += ll + 2;
                    if (ll == 1 && l[0] == '.') {
                        ended = 1;
                        break;
                    }
                    /* Dot-stuffing: a line that starts with '.' was sent with one more. */
                    if (ll && l[0] == '.') FUZZ_ASSERT(ll >= 2 && l[1] == '.');
                    size_t skip = ll && l[0] == '.' ? 1 : 0;
                    flog_raw(&content, l + skip, ll - skip);
                    flog_str(&content, "\r\n");
                }
                if (!ended) break;
                FUZZ_ASSERT(msg >= 0);
                normalise(&want, &r->t[msg].body, 1, 0);
                /* With every recipient refused, a 354 gets a lone "." (RFC 2920 3.1); a split
                 * message's transaction too, while others delivered it. */
                int lone = content.len == 0 && (!r->t[msg].delivered_at || r->t[msg].split);
                FUZZ_ASSERT(lone || (content.len == want.len &&
                                     (!want.len || memcmp(content.buf, want.buf, want.len) == 0)));
                /* one end of data per message, one per transaction when split */
                FUZZ_ASSERT(!end_at[msg] || r->t[msg].split);
                if (!end_at[msg]) end_at[msg] = i;
                continue;
            }
        }
        if (rc != 0) {
            FUZZ_ASSERT(is_sasl_line(l, ll));
            continue;
        }
        if (c.verb == SMTP_VERB_MAIL) {
            msg = msg_of_path(r, c.path);
            FUZZ_ASSERT(msg >= 0);
            content.len = 0;
            bdat = 0;
        } else if (c.verb == SMTP_VERB_DATA) {
            data_next = 1;
        } else if (c.verb == SMTP_VERB_BDAT) {
            FUZZ_ASSERT(msg >= 0);
            if (!bdat) content.len = 0;
            bdat = 1;
            uint64_t sz = c.chunk_size;
            if (sz > n - i) break; /* the session ended inside the chunk */
            flog_raw(&content, p + i, (size_t)sz);
            i += (size_t)sz;
            if (c.last) {
                int bin = r->t[msg].m.body_type == SMTP_BODY_BINARYMIME;
                normalise(&want, &r->t[msg].body, 0, bin);
                FUZZ_ASSERT(content.len == want.len &&
                            (!want.len || memcmp(content.buf, want.buf, want.len) == 0));
                FUZZ_ASSERT(!end_at[msg] || r->t[msg].split);
                if (!end_at[msg]) end_at[msg] = i;
                bdat = 0;
            }
        }
    }
    /* DELIVERED only after the end of data was written out; none after a failed source. */
    for (size_t k = 0; k < r->nmsgs; k++) {
        if (r->t[k].delivered_at) FUZZ_ASSERT(end_at[k] && end_at[k] < r->t[k].delivered_at);
        if (r->t[k].src.failures) FUZZ_ASSERT(!end_at[k]);
    }
    flog_free(&content);
    flog_free(&want);
}

/* ---- setup ---- */

/* Credentials: mechanism, password, token, authzid. */
static const char *const creds[8][4] = {
    {NULL, "secret", NULL, NULL},          {"PLAIN", "secret", NULL, NULL},
    {"LOGIN", "secret", NULL, NULL},       {"XOAUTH2", NULL, "t0ken", NULL},
    {"OAUTHBEARER", NULL, "t0ken", "bob"}, {NULL, NULL, "t0ken", NULL},
    {NULL, "secret", "t0ken", "bob"},      {"PLAIN", "secret", NULL, "bob"},
};

static void make_message(struct run *r, size_t i)
{
    const uint8_t *h = r->hdr;
    struct tmsg *t = &r->t[i];
    smtp_client_message_init(&t->m);
    unsigned o = h[4];
    int utf8 = (o & 2) != 0;
    snprintf(t->sender, sizeof t->sender, utf8 ? "s\xc3\xa9%zu@example.org" : "s%zu@example.org",
             i);
    t->m.sender = t->sender;
    size_t nr = 1 + (h[5] & 3u);
    for (size_t j = 0; j < nr; j++) {
        memset(&t->rc[j], 0, sizeof t->rc[j]);
        snprintf(t->addr[j], sizeof t->addr[j],
                 utf8 && j == 0 ? "\xc3\xbc%zu@example.net" : "r%zu@example.net", j);
        t->rc[j].address = t->addr[j];
        if (o & 4) {
            t->rc[j].notify = j % 2 ? SMTP_NOTIFY_NEVER : SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE;
            t->rc[j].orcpt = j % 2 ? "orig+x=y@example.com" : NULL;
        }
    }
    t->m.rcpts = t->rc;
    t->m.nrcpts = nr;
    body_of(&t->body, i == 0 ? (h[5] >> 2) & 7u : (h[5] >> 5) & 7u);
    if (o & 1) t->m.body_type = SMTP_BODY_8BITMIME;
    if (h[7] & 4) t->m.body_type = SMTP_BODY_BINARYMIME;
    if (o & 4) {
        t->m.ret = SMTP_RET_HDRS;
        t->m.envid = "env id+1";
    }
    if (o & 8) t->m.size = t->body.len + 10;
    if (o & 0x10) t->m.requiretls = 1;
    if (o & 0x20) t->m.mt_priority_set = 1, t->m.mt_priority = -3;
    if (o & 0x40) t->m.by_mode = SMTP_BY_NOTIFY, t->m.by_time = 120, t->m.by_trace = 1;
    if (o & 0x80) t->m.flags |= SMTP_CLIENT_MSG_ALL_OR_NOTHING;
    if (h[7] & 1) t->m.flags |= SMTP_CLIENT_MSG_REQUIRE_DSN;
    if (h[7] & 2) t->m.holdfor = 60;
}

static void run_once(struct run *r, const uint8_t *data, size_t size, int split)
{
    const uint8_t *h = data;
    struct flog bodies[NMSG];
    for (size_t i = 0; i < NMSG; i++)
        bodies[i] = r->t[i].body; /* keep the buffers */
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < NMSG; i++)
        r->t[i].body = bodies[i];
    r->hdr = h;
    r->split = split;
    fsplit_init(&r->sp, (unsigned)h[0] | (unsigned)h[1] << 8);
    fmem_init(&r->mem);
    r->lmtp = h[2] & 1;
    r->fail_at = h[6] & 0x3fu;
    r->commands = (h[6] & 0x80u) ? (h[6] & 0x40u ? 2 : 1) : 0;
    r->nmsgs = h[3] & 0x10 ? 2 : 1;

    smtp_client_settings *cs = &r->cs;
    smtp_client_settings_init(cs);
    cs->helo_name = "client.example.org";
    if (r->lmtp) cs->flags |= SMTP_CLIENT_LMTP;
    if (!(h[2] & 2)) cs->flags |= SMTP_CLIENT_NO_PIPELINING;
    if (!(h[2] & 4)) cs->flags |= SMTP_CLIENT_NO_CHUNKING;
    static const smtp_client_tls_policy pol[4] = {SMTP_CLIENT_TLS_NONE,
                                                  SMTP_CLIENT_TLS_OPPORTUNISTIC,
                                                  SMTP_CLIENT_TLS_REQUIRED, SMTP_CLIENT_TLS_NONE};
    cs->tls = pol[(h[2] >> 3) & 3];
    if (h[2] & 0x20) cs->flags |= SMTP_CLIENT_TLS;
    if (h[2] & 0x40) {
        const char *const *c = creds[h[3] & 7];
        cs->auth_user = "alice";
        cs->auth_mech = c[0];
        cs->auth_password = c[1];
        cs->auth_token = c[2];
        cs->auth_authzid = c[3];
    }
    if (h[2] & 0x80) cs->flags |= SMTP_CLIENT_AUTH_PLAINTEXT;
    if (h[1] & 0x40) cs->flags |= SMTP_CLIENT_AUTH_EXTERNAL;
    if (h[3] & 8) {
        cs->max_reply_line = 64;
        cs->max_reply_lines = 4;
        cs->max_reply_text = 64;
        cs->max_output = 1024;
    }
    for (size_t i = 0; i < r->nmsgs; i++)
        make_message(r, i);

    smtp_client_callbacks cb = {.on_rcpt = c_rcpt,
                                .on_message = c_message,
                                .on_starttls = c_starttls,
                                .on_session_end = c_session_end,
                                .on_reply = c_reply};
    int rc = smtp_client_new(&r->cli, &cb, cs, &r->mem.mem, r);
    if (rc < 0) {
        FUZZ_ASSERT(r->cli == NULL && r->mem.live == 0);
        FLOG(&r->ev, "new %s\n", smtp_error_name(rc));
        return;
    }
    /* client.h: on demand, the output queue from 512 octets to max_output (6 at most), the
     * buffers of a transaction, the SASL scratch and the reply line buffer, each once: then
     * nothing more, however many messages */
    fmem_budget(&r->mem, 9);
    if ((h[2] & 0x20) && !(h[1] & 0x80)) FUZZ_ASSERT(smtp_client_tls_verified(r->cli, 1) == 0);
    start_message(r, 0);
    drain(r);

    feed_stream(r, (const char *)data + HEADER, size - HEADER);

    if (h[3] & 0x80) {
        rc = smtp_client_timeout_expired(r->cli);
        FLOG(&r->ev, "timeout %s\n", smtp_error_name(rc));
        drain(r);
    }
    rc = smtp_client_eof(r->cli);
    FLOG(&r->ev, "eof %s done=%d\n", smtp_error_name(rc), smtp_client_want_close(r->cli));
    drain(r);
    if (!r->failed && rc == 0) {
        FUZZ_ASSERT(smtp_client_want_close(r->cli));
        FUZZ_ASSERT(r->session_ends == 1);
        for (size_t i = 0; i < r->nmsgs; i++)
            if (r->t[i].submitted && r->t[i].submit_rc == 0) FUZZ_ASSERT(r->t[i].reported);
    }
    check_output(r);
    smtp_client_del(r->cli);
    FUZZ_ASSERT(r->mem.live == 0);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    flog_free(&r->out);
    for (size_t i = 0; i < NMSG; i++)
        flog_free(&r->t[i].body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    static struct run whole, split;
    run_once(&whole, data, size, 0);
    run_once(&split, data, size, 1);
    flog_same("event logs", &whole.ev, &split.ev);
    if (whole.t[0].src.failures || whole.t[1].src.failures) { /* see the top */
        if (whole.out.len > split.out.len) whole.out.len = split.out.len;
        if (split.out.len > whole.out.len) split.out.len = whole.out.len;
    }
    flog_same("outputs", &whole.out, &split.out);
    run_free(&whole);
    run_free(&split);
    return 0;
}
