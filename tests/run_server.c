/* SPDX-License-Identifier: MIT */
/*
 * Vector runner "server": one smtp_server session fed the client's bytes, so that a vector reads
 * as a transcript. The runner plays the application and the adapter:
 *  - it logs every callback as an event, and every complete line of server output as "S: ...",
 *    draining the output before each event and after each read (so the interleaving does not
 *    depend on how the input was split);
 *  - it keeps the bytes smtp_server_read did not consume and feeds them again, answers deferred
 *    decisions once a read returned and the engine takes no more input (smtp_server_want_read:
 *    at once, unless commands may be read ahead, pipeline=N), then reads again only if bytes
 *    are left, as a real adapter with nothing more from the client; what is still pending at
 *    the end of the input is answered then (never with no-answer); and it plays the TLS
 *    handshake: while STARTTLS waits, the marker "[TLS]" at the head of the unread input means
 *    "the handshake completed" (anything else there is plaintext injected before it).
 * Pipelined deferral (pipeline=N: settings.max_pending): the decisions pending together are
 * answered, each by its id (smtp_server_reply_to), in the order order=DIGITS gives (order=2134:
 * the 2nd oldest first, then the 1st, 3rd, 4th; positions past the digits after, in order).
 * order=all replays the input fed whole once more for each of the other 23 orders of four (the
 * transcript is the first's, 1234; the split replays check it alone) and logs "BUG order ..."
 * when another one's events differ but for its "answer" lines: whatever the order of the
 * answers, the same replies in the same order.
 *
 * Application decisions follow the addresses, so transcripts stay readable:
 *   HELO/EHLO "bad.example" -> 550 5.7.1; MAIL from a local part "spammer" -> 550 5.7.1;
 *   RCPT local part "bad..." -> 550 5.1.1, "temp..." -> 450 4.2.1, "close..." -> 421 4.3.2 (the
 *   session closes); in LMTP, "fail..." is accepted
 *   at RCPT but gets 552 5.2.2 after the data (other recipients 250 2.1.5).
 * Options (words):
 *   lmtp tls starttls auth-plaintext keep-injection    session flags (starttls: the extension)
 *   auth (the AUTH extension) sasl-mechs (offer PLAIN LOGIN XOAUTH2 CRAM-MD5) auth-limit=N
 *   builtin (the built-in SCRAM-SHA-256 CRAM-MD5 XOAUTH2 OAUTHBEARER EXTERNAL and PLAIN, the
 *   reference crypto, hostname postoffice.reston.mci.net; random: RFC 7677's server nonce, or
 *   RFC 2195's challenge with cram-random) defer-lookup defer-token
 *   max-auth-line=N  trust-xclient trust-xforward  trust-late (on_connect grants both)
 *   proxy (a PROXY header first)  strict (SMTP_SERVER_STRICT_PIPELINING; output is then held
 *   and pulled only at the input marker "[WAIT]", where the client waits for the replies)
 *   no-pipelining no-esc no-chunking no-size binarymime all-ext    extensions
 *   empty-helo no-brackets lenient-lf                  command parser flags
 *   normalize allow                                    bare LF/CR policy (default reject)
 *   max-size=N max-rcpt=N max-msgs=N errors=N soft=N delay=MS junk=N out=N   limits
 *   size-advisory (SMTP_SERVER_SIZE_ADVISORY: max-size advertised, not held to)
 *   ahead (SMTP_SERVER_CHUNK_AHEAD: data-start logs the BDAT's chunk=N [last]; "data ahead"
 *   when content first comes while decisions are pending, a BUG without the option)
 *   defer (every decision) defer-connect defer-helo defer-mail defer-rcpt defer-data
 *   defer-end defer-vrfy defer-auth defer-sasl defer-xclient   answer later, after the read
 *   returned; pipeline=N order=DIGITS|all no-answer    pipelined deferral (above)
 *   pipe-ext (on_connect narrows the extensions to PIPELINING SIZE 8BITMIME ENHANCEDSTATUSCODES
 *   and SIZE 5000: smtp_server_set_extensions)
 *   refuse-connect close-connect reject-data close-data (on_data_start: 421 4.3.2) reject-end
 *   vrfy-resolve lmtp-one
 *   pause-data (on_data returns SMTP_PAUSE)   fail=K (the K-th callback fails)
 *   relay (replies given with smtp_server_relay_to: the code, "ENH text" and "relayed" on a
 *   second line; the default acceptances of hello, DATA/BDAT, AUTH and XCLIENT stay)
 *   no-message-cb (an application without on_data_start, on_data, on_message_end,
 *   on_message_abort and on_reset: the engine's defaults; the content is not logged)
 *   timeout (at close, before EOF: the adapter's timer expired)  shutdown (likewise)
 * AUTH: PLAIN/LOGIN user "user" with password "secret" is accepted; "alias"/"secret" is
 *   accepted as identity "alias@example.org"; user "temp" gets 454 4.7.0; others 535.
 *   XOAUTH2: "auth=Bearer good" is accepted (identity from "user="); any other token gets an
 *   error challenge, and the (empty) answer to it 535. CRAM-MD5: challenge
 *   "<1.2@mx.example.org>", then "user c0ffee" is accepted, anything else 535.
 *   XCLIENT NAME=bad.example is refused 550 5.7.1; other XCLIENT and XFORWARD are accepted.
 *   Built in: lookups of "user" (SCRAM, "pencil"), "tim" (CRAM-MD5, "tanstaaftanstaaf"),
 *   "temp" (454 4.7.0); tokens "good" (accepted), others 535; EXTERNAL without authzid is
 *   "cert-subject", with one refused.
 * Every policy callback checks that smtp_server_decision_command names its command (else
 * "BUG KIND decided for VERB").
 * Events: connect, helo VERB "domain", mail "path" [params], rcpt "path" index=N, data-start,
 *   data "line" (content, gathered and logged at the end of the message), message size=N
 *   bdat=B flags=F rcpts=N, abort REASON, reset, vrfy "arg", starttls, tls-started,
 *   tls-injection, auth MECH authzid=".." authcid=".." password="..", sasl MECH step=N
 *   response="..." (or no-response), lookup MECH authcid=".." authzid="..", token MECH
 *   authzid=".." user=".." token="..", xclient/xforward NAME="..." ..., proxy v=V ..., defer
 *   KIND, S: reply line, delay MS (the replies after it are held that long: soft error limit),
 *   read error=..., reply error=... (an answer to a deferred decision led to a callback that
 *   failed: fail=K), and at close: timeout=SECONDS want-close=W.
 *   A mail event adds auth="..." (AUTH=) and identity="..." (once authenticated).
 */
#include "tls/refcrypto.h"
#include "vec.h"

#include <smtp/codec.h>
#include <smtp/server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_MARK "[TLS]"
#define WAIT_MARK "[WAIT]"

/* Growable byte buffers are vec_log (vec.h), filled with vec_log_raw. */

static void bytes_drop(vec_log *b, size_t n)
{
    if (!n) return;
    memmove(b->buf, b->buf + n, b->len - n);
    b->len -= n;
}

enum kind {
    K_CONNECT,
    K_HELO,
    K_MAIL,
    K_RCPT,
    K_DATA,
    K_END,
    K_VRFY,
    K_AUTH,
    K_SASL,
    K_XCLIENT,
    K_LOOKUP,
    K_TOKEN,
    K_COUNT
};
static const char *const kind_names[K_COUNT] = {"connect", "helo",    "mail",   "rcpt",
                                                "data",    "end",     "vrfy",   "auth",
                                                "sasl",    "xclient", "lookup", "token"};

/* One scripted answer: a reply, or (AUTH) a challenge or an acceptance naming an identity, or
 * (a lookup) a password or the SCRAM credentials of "pencil" (RFC 7677). */
enum action { A_REPLY, A_CHALLENGE, A_ACCEPT, A_PASSWORD, A_SCRAM };
struct answer {
    int code;
    const char *enhanced;
    const char *text;
    enum action action;
};

struct state {
    smtp_server *srv;
    vec_log *log;
    const char *options;
    vec_log in;      /* unconsumed client bytes */
    vec_log out;     /* server output not yet logged (a partial line) */
    vec_log content; /* the message being received */
    int ahead_seen;  /* ahead: content came while decisions were pending (logged once) */
    int defer[K_COUNT];
    int failed;
    unsigned long fail_at, calls;
    /* Deferred decisions, oldest first: the answers to give once the read returned. */
    struct pend {
        uint64_t id;
        enum kind kind;
        struct answer answers[8];
        size_t nanswers;
    } pend[64];
    size_t npend;
    char order[10]; /* the order of answers in a batch: positions from 1 */
    /* LMTP: which accepted recipients fail after the data. */
    unsigned char lmtp_fail[2048];
    size_t rcpts;
    int starttls_seen;
    int hold;           /* strict: output is pulled only at [WAIT] and at close */
    char ident[64];     /* an identity to accept with (AUTH answers borrow it) */
    smtp_crypto crypto; /* builtin: the reference crypto, its random fixed */
    struct ref_crypto_state crypto_state;
};

/* Pulls every pending output octet and logs the complete lines; output the engine asks to
 * hold (past the soft error limit) is logged after "delay MS", as an adapter waits first. */
static void pull(struct state *st)
{
    char buf[97];
    unsigned delay = smtp_server_output_delay(st->srv);
    if (delay) vec_logf(st->log, "delay %u", delay);
    for (;;) {
        smtp_ssize n = smtp_server_write(st->srv, buf, sizeof buf);
        if (n < 0) {
            vec_logf(st->log, "BUG write %s", smtp_error_name((int)n));
            return;
        }
        if (n == 0) break;
        vec_log_raw(&st->out, buf, (size_t)n);
    }
    size_t i = 0;
    while (i < st->out.len) {
        char *nl = memchr(st->out.buf + i, '\n', st->out.len - i);
        if (!nl) break;
        size_t n = (size_t)(nl - (st->out.buf + i)) + 1;
        vec_log_raw(st->log, "S: ", 3);
        size_t shown = n >= 2 && st->out.buf[i + n - 2] == '\r' ? n - 2 : n;
        /* A trailing SP ("334 ") is shown as \s: the harness trims trailing white space. */
        int sp = shown < n && shown > 0 && st->out.buf[i + shown - 1] == ' ';
        vec_log_escaped(st->log, st->out.buf + i, shown - (size_t)sp);
        vec_logf(st->log, "%s%s", sp ? "\\s" : "", shown == n ? " (BUG: no CRLF)" : "");
        i += n;
    }
    bytes_drop(&st->out, i);
}

/* Pulls output as an adapter does after every event, unless the client is scripted to hold
 * the server's replies unread (strict pipelining vectors). */
static void drain(struct state *st)
{
    if (!st->hold) pull(st);
}

/* The start of every callback: output first (it happened before), then count for fail=K. */
static int enter(struct state *st)
{
    drain(st);
    st->calls++;
    return st->fail_at && st->calls == st->fail_at;
}

static void log_span(vec_log *log, const char *prefix, smtp_span s)
{
    vec_log_raw(log, prefix, strlen(prefix));
    vec_log_raw(log, "\"", 1);
    vec_log_escaped(log, s.ptr, s.len);
    vec_log_raw(log, "\"", 1);
}

static int span_prefix(smtp_span s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.ptr, p, n) == 0;
}

/*
 * Option relay: a reply answers as a proxy relays its upstream's (smtp_server_relay_to): the
 * code (the acceptance's own for 0), then the enhanced code and text on a first line and
 * "relayed" on a second. The default acceptance of DATA/BDAT (no 354 for BDAT), hello, AUTH
 * and XCLIENT stays the engine's.
 */
static int relay(struct state *st, uint64_t id, enum kind k, const struct answer *a)
{
    static const int accept[K_COUNT] = {220, 0, 250, 250, 0, 250, 252, 0, 0, 0};
    int code = a->code ? a->code : accept[k];
    if (!code || k == K_AUTH || k == K_SASL || k == K_XCLIENT) return 1; /* not relayed */
    char buf[SMTP_SERVER_MAX_RELAY_TEXT];
    int n = snprintf(buf, sizeof buf, "%s%s%s\nrelayed", a->enhanced ? a->enhanced : "",
                     a->enhanced ? " " : "", a->text ? a->text : k == K_CONNECT ? "up ESMTP" : "Ok");
    return smtp_server_relay_to(st->srv, id, code, buf, (size_t)n);
}

/* RFC 7677's credentials: "pencil", its salt, 4096 iterations; computed once. */
static const smtp_server_scram *pencil(void)
{
    static smtp_server_scram cred;
    if (cred.iterations) return &cred;
    smtp_crypto k;
    struct ref_crypto_state ks;
    ref_crypto_init(&k, &ks, NULL, 0);
    unsigned char salt[16];
    smtp_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, (char *)salt, sizeof salt);
    if (smtp_server_scram_make(&cred, &k, "pencil", 6, salt, 16, 4096) < 0) abort();
    return &cred;
}

/* Gives an answer: to decision `id` (deferred), or to the callback's own (id 0). */
static int give(struct state *st, uint64_t id, enum kind k, const struct answer *a)
{
    const char *t = a->text;
    size_t n = t ? strlen(t) : 0;
    if (a->action == A_REPLY && vec_opt_has(st->options, "relay")) {
        int r = relay(st, id, k, a);
        if (r != 1) return r;
    }
    switch (a->action) {
    case A_CHALLENGE: return smtp_server_auth_challenge(st->srv, t, strlen(t));
    case A_ACCEPT: return smtp_server_auth_accept(st->srv, t, n);
    case A_PASSWORD: return smtp_server_auth_password(st->srv, t, n);
    case A_SCRAM: return smtp_server_auth_scram(st->srv, pencil());
    default:
        if (id) return smtp_server_reply_to(st->srv, id, a->code, a->enhanced, t, n);
        return smtp_server_reply(st->srv, a->code, a->enhanced, t, n);
    }
}

/* Whether `v` is a command that asks decision `k` (smtp_server_decision_command): K_VRFY
 * stands for ETRN and HELP too, K_DATA for BDAT; the greeting and a message's end have none. */
static int command_of(enum kind k, smtp_verb v)
{
    switch (k) {
    case K_HELO: return v == SMTP_VERB_HELO || v == SMTP_VERB_EHLO || v == SMTP_VERB_LHLO;
    case K_MAIL: return v == SMTP_VERB_MAIL;
    case K_RCPT: return v == SMTP_VERB_RCPT;
    case K_DATA: return v == SMTP_VERB_DATA || v == SMTP_VERB_BDAT;
    case K_VRFY: return v == SMTP_VERB_VRFY || v == SMTP_VERB_ETRN || v == SMTP_VERB_HELP;
    case K_AUTH:
    case K_SASL: return v == SMTP_VERB_AUTH;
    case K_XCLIENT: return v == SMTP_VERB_XCLIENT;
    default: return v == SMTP_VERB_UNKNOWN;
    }
}

/* Gives the decision now (smtp_server_reply, then return 0) or defers it; first checks that
 * the engine names the command being decided. */
static int decide(struct state *st, enum kind k, const struct answer *a, size_t n)
{
    smtp_verb v = smtp_server_decision_command(st->srv);
    if (!command_of(k, v))
        vec_logf(st->log, "BUG %s decided for %s", kind_names[k], smtp_verb_name(v));
    if (st->defer[k] && st->npend < sizeof st->pend / sizeof st->pend[0]) {
        vec_logf(st->log, "defer %s", kind_names[k]);
        struct pend *p = &st->pend[st->npend++];
        p->id = smtp_server_decision(st->srv);
        p->kind = k;
        memcpy(p->answers, a, n * sizeof *a);
        p->nanswers = n;
        return SMTP_SERVER_DEFER;
    }
    for (size_t i = 0; i < n; i++) {
        int r = give(st, 0, k, &a[i]);
        if (r < 0) vec_logf(st->log, "BUG reply %s", smtp_error_name(r));
    }
    return 0;
}

/* Answers one deferred decision (drained after, so each reply shows after its answer). */
static void answer_one(struct state *st, const struct pend *p)
{
    static const struct answer dflt = {0, NULL, NULL, A_REPLY};
    vec_logf(st->log, "answer %s", kind_names[p->kind]);
    for (size_t i = 0; i < (p->nanswers ? p->nanswers : 1); i++) {
        int r = give(st, p->id, p->kind, p->nanswers ? &p->answers[i] : &dflt);
        if (r == SMTP_ERR_INVALID_STATE) {
            drain(st);
            if (smtp_server_want_close(st->srv)) break; /* a 421 before it dropped it */
        }
        if (r == SMTP_ERR_CALLBACK_FAILURE && st->fail_at) /* a callback it led to failed */
            vec_logf(st->log, "reply error=%s", smtp_error_name(r));
        else if (r < 0)
            vec_logf(st->log, "BUG reply %s", smtp_error_name(r));
    }
    drain(st);
}

/*
 * Answers the decisions deferred so far, in the batch order (st->order). An answer may itself
 * lead to the next decision (an empty BDAT chunk completes at once: on_message_end), which may
 * be deferred in turn: it belongs to the next batch, so the batch is copied first.
 */
static void answer_pending(struct state *st)
{
    struct pend batch[sizeof st->pend / sizeof st->pend[0]];
    size_t n = st->npend, done = 0;
    memcpy(batch, st->pend, n * sizeof *batch);
    st->npend = 0;
    unsigned char given[sizeof batch / sizeof batch[0]] = {0};
    for (const char *o = st->order; *o; o++) {
        size_t k = (size_t)(*o - '1');
        if (k < n && !given[k]) answer_one(st, &batch[k]), given[k] = 1, done++;
    }
    for (size_t k = 0; k < n; k++)
        if (!given[k]) answer_one(st, &batch[k]);
    (void)done;
    if (!st->npend && smtp_server_pending(st->srv)) vec_logf(st->log, "BUG still pending");
}

static int on_connect(smtp_server *srv, void *ud)
{
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_logf(st->log, "connect");
    struct answer a = {0, NULL, NULL, A_REPLY};
    if (vec_opt_has(st->options, "refuse-connect"))
        a = (struct answer){554, NULL, "No service", A_REPLY};
    if (vec_opt_has(st->options, "close-connect")) a = (struct answer){421, NULL, "Busy", A_REPLY};
    if (vec_opt_has(st->options, "trust-late")) smtp_server_set_trust(srv, SMTP_SERVER_TRUST_ALL);
    if (vec_opt_has(st->options, "pipe-ext")) {
        /* A proxy's list: its own and upstream's; nothing the settings lack. */
        unsigned ext = SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE |
                       SMTP_SERVER_EXT_8BITMIME | SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
        if (smtp_server_set_extensions(srv, ext | SMTP_SERVER_EXT_AUTH, 5000) == 0 ||
            smtp_server_set_extensions(srv, ext, 5000) != 0)
            vec_logf(st->log, "BUG set_extensions");
    }
    return decide(st, K_CONNECT, &a, a.code ? 1 : 0);
}

static int on_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_log_raw(st->log, "helo ", 5);
    vec_log_raw(st->log, smtp_verb_name(verb), strlen(smtp_verb_name(verb)));
    log_span(st->log, " ", domain);
    vec_logf(st->log, "%s", "");
    struct answer a = {550, "5.7.1", "Helo command rejected", A_REPLY};
    return decide(st, K_HELO, &a, span_prefix(domain, "bad.example") ? 1 : 0);
}

static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "mail ", m->path);
    const smtp_mail_params *p = &m->params;
    if (p->present & SMTP_MAIL_SIZE) vec_log_raw(st->log, " size", 5);
    if (p->present & SMTP_MAIL_BODY) vec_log_raw(st->log, " body", 5);
    if (p->present & SMTP_MAIL_SMTPUTF8) vec_log_raw(st->log, " smtputf8", 9);
    if (p->present & SMTP_MAIL_HOLDFOR) {
        char n[32];
        vec_log_raw(st->log, n, (size_t)snprintf(n, sizeof n, " holdfor=%u", (unsigned)p->holdfor));
    }
    if (p->present & SMTP_MAIL_HOLDUNTIL) log_span(st->log, " holduntil=", p->holduntil);
    if (p->extra) log_span(st->log, " params=", m->param_text);
    if (m->auth.ptr) log_span(st->log, " auth=", m->auth);
    const char *id = smtp_server_auth_identity(srv);
    if (id) {
        smtp_span ids = {id, strlen(id)};
        log_span(st->log, " identity=", ids);
    }
    vec_logf(st->log, "%s", "");
    struct answer a = {550, "5.7.1", "Sender rejected", A_REPLY};
    return decide(st, K_MAIL, &a, span_prefix(m->parsed.local, "spammer") ? 1 : 0);
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "rcpt ", rc->path);
    char idx[32];
    vec_log_raw(st->log, idx, (size_t)snprintf(idx, sizeof idx, " index=%zu", rc->index));
    if (rc->params.present & SMTP_RCPT_RRVS) log_span(st->log, " rrvs=", rc->params.rrvs);
    if (rc->params.extra) log_span(st->log, " params=", rc->param_text);
    vec_logf(st->log, "%s", "");
    struct answer a = {0, NULL, NULL, A_REPLY};
    size_t n = 0;
    if (span_prefix(rc->parsed.local, "bad"))
        a = (struct answer){550, "5.1.1", "User unknown", A_REPLY}, n = 1;
    else if (span_prefix(rc->parsed.local, "temp"))
        a = (struct answer){450, "4.2.1", "Try later", A_REPLY}, n = 1;
    else if (span_prefix(rc->parsed.local, "close"))
        a = (struct answer){421, "4.3.2", "Going down", A_REPLY}, n = 1;
    else if (st->rcpts < sizeof st->lmtp_fail)
        st->lmtp_fail[st->rcpts++] = (unsigned char)span_prefix(rc->parsed.local, "fail");
    return decide(st, K_RCPT, &a, n);
}

static int on_data_start(smtp_server *srv, void *ud)
{
    struct state *st = ud;
    if (enter(st)) return -1;
    uint64_t chunk;
    int last;
    if (vec_opt_has(st->options, "ahead") && smtp_server_decision_chunk(srv, &chunk, &last) == 0)
        vec_logf(st->log, "data-start chunk=%llu%s", (unsigned long long)chunk, last ? " last" : "");
    else
        vec_logf(st->log, "data-start");
    st->content.len = 0;
    st->ahead_seen = 0;
    struct answer a = {554, "5.7.1", "No data today", A_REPLY};
    int refuse = vec_opt_has(st->options, "reject-data");
    if (vec_opt_has(st->options, "close-data"))
        a = (struct answer){421, "4.3.2", "Going down", A_REPLY}, refuse = 1;
    return decide(st, K_DATA, &a, refuse ? 1 : 0);
}

static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    struct state *st = ud;
    st->calls++;
    if (st->fail_at && st->calls == st->fail_at) return -1;
    if (data.len == 0) vec_logf(st->log, "BUG empty data span");
    if (smtp_server_pending(srv) && !st->ahead_seen) {
        /* Only a BDAT's chunk may come before the decisions before it (SMTP_SERVER_CHUNK_AHEAD). */
        vec_logf(st->log, "%s", vec_opt_has(st->options, "ahead") ? "data ahead" : "BUG data ahead");
        st->ahead_seen = 1;
    }
    vec_log_raw(&st->content, data.ptr, data.len);
    return vec_opt_has(st->options, "pause-data") ? SMTP_PAUSE : 0;
}

static void log_content(struct state *st)
{
    size_t i = 0;
    vec_log *b = &st->content;
    while (i < b->len) {
        const char *nl = memchr(b->buf + i, '\n', b->len - i);
        size_t n = nl ? (size_t)(nl - (b->buf + i)) + 1 : b->len - i;
        if (n > 100) {
            vec_logf(st->log, "data len=%zu", n);
        } else {
            vec_log_raw(st->log, "data \"", 6);
            vec_log_escaped(st->log, b->buf + i, n);
            vec_logf(st->log, "\"");
        }
        i += n;
    }
    b->len = 0;
}

static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    struct state *st = ud;
    if (enter(st)) return -1;
    if (msg->size != st->content.len) vec_logf(st->log, "BUG size %zu delivered", st->content.len);
    log_content(st);
    vec_logf(st->log, "message size=%llu bdat=%d flags=%u rcpts=%zu", (unsigned long long)msg->size,
             msg->bdat, msg->data_flags, msg->recipients);
    if (vec_opt_has(st->options, "envelope")) {
        /* The envelope the engine kept (SMTP_SERVER_ENVELOPE), and the HELO name. */
        smtp_span h = smtp_server_helo(srv);
        vec_logf(st->log, "envelope helo=\"%.*s\" from=\"%.*s\" params=\"%.*s\"", (int)h.len,
                 h.ptr ? h.ptr : "", (int)msg->sender.path.len, msg->sender.path.ptr,
                 (int)msg->sender.params.len, msg->sender.params.ptr ? msg->sender.params.ptr : "");
        for (size_t i = 0; i < msg->recipients; i++)
            vec_logf(st->log, "envelope to=\"%.*s\" params=\"%.*s\"", (int)msg->rcpts[i].path.len,
                     msg->rcpts[i].path.ptr, (int)msg->rcpts[i].params.len,
                     msg->rcpts[i].params.ptr ? msg->rcpts[i].params.ptr : "");
    } else if (msg->rcpts || msg->sender.path.len) {
        vec_logf(st->log, "BUG an envelope without SMTP_SERVER_ENVELOPE");
    }
    struct answer a[8];
    size_t n = 0;
    if (vec_opt_has(st->options, "reject-end")) {
        a[n++] = (struct answer){550, "5.7.1", "Message rejected", A_REPLY};
    } else if (vec_opt_has(st->options, "lmtp")) {
        size_t k = msg->recipients < 8 ? msg->recipients : 8;
        int any = 0;
        for (size_t i = 0; i < k && i < st->rcpts; i++)
            any |= st->lmtp_fail[i];
        for (size_t i = 0; any && i < k && i < st->rcpts; i++)
            a[n++] = st->lmtp_fail[i] ? (struct answer){552, "5.2.2", "Mailbox full", A_REPLY}
                                      : (struct answer){250, "2.1.5", "Delivered", A_REPLY};
        if (vec_opt_has(st->options, "lmtp-one"))
            a[n++] = (struct answer){250, NULL, "Stored", A_REPLY};
    }
    st->rcpts = 0;
    return decide(st, K_END, a, n);
}

static int on_message_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    st->content.len = 0;
    st->rcpts = 0;
    vec_logf(st->log, "abort %s", smtp_server_abort_name(why));
    return 0;
}

static int on_reset(smtp_server *srv, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    st->rcpts = 0;
    vec_logf(st->log, "reset");
    return 0;
}

static int on_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "vrfy ", arg);
    vec_logf(st->log, "%s", "");
    struct answer a = {250, "2.1.5", "User exists", A_REPLY};
    return decide(st, K_VRFY, &a, vec_opt_has(st->options, "vrfy-resolve") ? 1 : 0);
}

/* ETRN (option etrn): "@bad..." and "#bad..." get 458, anything else is accepted. */
static int on_etrn(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "etrn ", arg);
    vec_logf(st->log, "%s", "");
    struct answer a = {458, "4.0.0", "Unable to queue messages", A_REPLY};
    size_t skip = arg.len && (arg.ptr[0] == '@' || arg.ptr[0] == '#');
    smtp_span rest = {arg.ptr + skip, arg.len - skip};
    return decide(st, K_VRFY, &a, span_prefix(rest, "bad") ? 1 : 0);
}

/* HELP (option help): "HELP MAIL" gets its own 214; anything else the default. */
static int on_help(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "help ", arg);
    vec_logf(st->log, "%s", "");
    struct answer a = {214, "2.0.0", "MAIL FROM:<address> [parameters]", A_REPLY};
    return decide(st, K_VRFY, &a, span_prefix(arg, "MAIL") ? 1 : 0);
}

static int on_starttls(smtp_server *srv, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_logf(st->log, "starttls");
    st->starttls_seen = 1;
    return 0;
}

static int on_tls_injection(smtp_server *srv, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_logf(st->log, "tls-injection");
    if (!vec_opt_has(st->options, "keep-injection")) st->starttls_seen = 0;
    return 0;
}

static int span_is(smtp_span s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int on_auth(smtp_server *srv, const smtp_server_auth *au, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_log_raw(st->log, "auth ", 5);
    vec_log_raw(st->log, au->mechanism.ptr, au->mechanism.len);
    log_span(st->log, " authzid=", au->authzid);
    log_span(st->log, " authcid=", au->authcid);
    log_span(st->log, " password=", au->password);
    vec_logf(st->log, "%s", "");
    struct answer a = {535, NULL, NULL, A_REPLY};
    size_t n = 1;
    int secret = span_is(au->password, "secret");
    if (secret && span_is(au->authcid, "user")) n = 0; /* the default acceptance */
    if (secret && span_is(au->authcid, "alias"))
        a = (struct answer){0, NULL, "alias@example.org", A_ACCEPT};
    if (span_is(au->authcid, "temp"))
        a = (struct answer){454, "4.7.0", "Temporary authentication failure", A_REPLY};
    return decide(st, K_AUTH, &a, n);
}

/* XOAUTH2's message: "user=" U ^A "auth=Bearer " T ^A ^A; keeps U in st->ident. */
static int xoauth2_good(struct state *st, smtp_span r)
{
    const char *p = r.ptr, *end = r.ptr + r.len;
    if (r.len < 5 || memcmp(p, "user=", 5) != 0) return 0;
    const char *u = p + 5, *soh = memchr(u, 1, (size_t)(end - u));
    if (!soh || (size_t)(soh - u) >= sizeof st->ident || soh == u) return 0;
    memcpy(st->ident, u, (size_t)(soh - u));
    st->ident[soh - u] = '\0';
    smtp_span rest = {soh + 1, (size_t)(end - soh - 1)};
    return span_is(rest, "auth=Bearer good\x01\x01");
}

static int on_sasl(smtp_server *srv, const smtp_server_sasl *sp, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_log_raw(st->log, "sasl ", 5);
    vec_log_raw(st->log, sp->mechanism.ptr, sp->mechanism.len);
    char buf[64];
    int k =
        snprintf(buf, sizeof buf, " step=%u%s", sp->step, sp->has_response ? "" : " no-response");
    vec_log_raw(st->log, buf, (size_t)k);
    if (sp->has_response) log_span(st->log, " response=", sp->response);
    vec_logf(st->log, "%s", "");
    struct answer a = {535, "5.7.8", "Invalid credentials", A_REPLY};
    if (span_is(sp->mechanism, "XOAUTH2")) {
        if (!sp->has_response)
            a = (struct answer){0, NULL, "", A_CHALLENGE};
        else if (xoauth2_good(st, sp->response))
            a = (struct answer){0, NULL, st->ident, A_ACCEPT};
        else if (sp->response.len)
            a = (struct answer){0, NULL, "{\"status\":\"401\"}", A_CHALLENGE};
    } else if (span_is(sp->mechanism, "CRAM-MD5")) {
        if (sp->step == 0 && !sp->has_response)
            a = (struct answer){0, NULL, "<1.2@mx.example.org>", A_CHALLENGE};
        else if (sp->step == 1 && span_is(sp->response, "user c0ffee"))
            a = (struct answer){0, NULL, "user", A_ACCEPT};
    }
    return decide(st, K_SASL, &a, 1);
}

/* The built-in mechanisms (option builtin): "user" has SCRAM credentials ("pencil"), "tim"
 * the CRAM-MD5 password "tanstaaftanstaaf", "temp" a lookup failing for now (454); anyone
 * else is unknown. */
static int on_auth_lookup(smtp_server *srv, const smtp_server_auth_lookup *lk, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_log_raw(st->log, "lookup ", 7);
    vec_log_raw(st->log, lk->mechanism.ptr, lk->mechanism.len);
    log_span(st->log, " authcid=", lk->authcid);
    log_span(st->log, " authzid=", lk->authzid);
    vec_logf(st->log, "%s", "");
    struct answer a = {0, NULL, NULL, A_REPLY};
    size_t n = 0;
    if (span_is(lk->authcid, "user") && span_is(lk->mechanism, "SCRAM-SHA-256"))
        a = (struct answer){0, NULL, NULL, A_SCRAM}, n = 1;
    if (span_is(lk->authcid, "tim") && span_is(lk->mechanism, "CRAM-MD5"))
        a = (struct answer){0, NULL, "tanstaaftanstaaf", A_PASSWORD}, n = 1;
    if (span_is(lk->authcid, "temp"))
        a = (struct answer){454, "4.7.0", "Temporary authentication failure", A_REPLY}, n = 1;
    return decide(st, K_LOOKUP, &a, n);
}

/* Tokens: "good" is accepted (the default identity), anything else refused 535; EXTERNAL
 * without an authzid as "cert-subject", with one refused. */
static int on_auth_token(smtp_server *srv, const smtp_server_token *t, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_log_raw(st->log, "token ", 6);
    vec_log_raw(st->log, t->mechanism.ptr, t->mechanism.len);
    log_span(st->log, " authzid=", t->authzid);
    log_span(st->log, " user=", t->user);
    log_span(st->log, " token=", t->token);
    vec_logf(st->log, "%s", "");
    struct answer a = {535, NULL, NULL, A_REPLY};
    if (span_is(t->mechanism, "EXTERNAL") && !t->authzid.len)
        a = (struct answer){0, NULL, "cert-subject", A_ACCEPT};
    if (span_is(t->token, "good")) a = (struct answer){0, NULL, NULL, A_ACCEPT};
    return decide(st, K_TOKEN, &a, 1);
}

static void log_xattrs(struct state *st, const char *what, const smtp_server_xattrs *x)
{
    static const char *const names[] = {"NAME",  "ADDR",     "PORT",     "PROTO", "HELO",
                                        "LOGIN", "DESTADDR", "DESTPORT", "IDENT", "SOURCE"};
    const smtp_span *v[] = {&x->name,  &x->addr,     &x->port,     &x->proto, &x->helo,
                            &x->login, &x->destaddr, &x->destport, &x->ident, &x->source};
    vec_log_raw(st->log, what, strlen(what));
    for (size_t i = 0; i < 10; i++) {
        if (!(x->present & (1u << i))) continue;
        vec_log_raw(st->log, " ", 1);
        vec_log_raw(st->log, names[i], strlen(names[i]));
        log_span(st->log, "=", *v[i]);
    }
    vec_logf(st->log, "%s", "");
}

static int on_xclient(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_xattrs(st, "xclient", x);
    struct answer a = {550, "5.7.1", "Client rejected", A_REPLY};
    return decide(st, K_XCLIENT, &a, span_is(x->name, "bad.example") ? 1 : 0);
}

static int on_xforward(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    struct state *st = ud;
    if (enter(st)) return -1;
    log_xattrs(st, "xforward", x);
    if (smtp_server_decision_command(srv) != SMTP_VERB_XFORWARD)
        vec_logf(st->log, "BUG xforward decided for %s",
                 smtp_verb_name(smtp_server_decision_command(srv)));
    return 0;
}

static void log_addr(struct state *st, const char *prefix, smtp_server_proxy_family fam,
                     smtp_span a, unsigned port)
{
    const unsigned char *b = (const unsigned char *)a.ptr;
    if (fam == SMTP_SERVER_PROXY_TCP4) {
        vec_log_raw(st->log, prefix, strlen(prefix));
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3], port);
        vec_log_raw(st->log, buf, (size_t)n);
    } else if (fam == SMTP_SERVER_PROXY_TCP6) {
        vec_log_raw(st->log, prefix, strlen(prefix));
        vec_log_raw(st->log, "[", 1);
        for (int i = 0; i < 8; i++) {
            char buf[8];
            int n = snprintf(buf, sizeof buf, i ? ":%x" : "%x",
                             (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
            vec_log_raw(st->log, buf, (size_t)n);
        }
        char buf[16];
        int n = snprintf(buf, sizeof buf, "]:%u", port);
        vec_log_raw(st->log, buf, (size_t)n);
    } else if (fam == SMTP_SERVER_PROXY_UNIX) {
        size_t len = a.len;
        while (len && a.ptr[len - 1] == '\0')
            len--;
        log_span(st->log, prefix, (smtp_span){a.ptr, len});
    }
}

static int on_proxy(smtp_server *srv, const smtp_server_proxy *px, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    static const char *const fams[] = {"UNSPEC", "TCP4", "TCP6", "UNIX"};
    char buf[64];
    int k = snprintf(buf, sizeof buf, "proxy v=%d%s fam=%s", px->version, px->local ? " local" : "",
                     fams[px->family]);
    vec_log_raw(st->log, buf, (size_t)k);
    log_addr(st, " src=", px->family, px->src_addr, px->src_port);
    log_addr(st, " dst=", px->family, px->dst_addr, px->dst_port);
    vec_logf(st->log, "%s", "");
    return 0;
}

static const char *const known_words[] = {"lmtp",
                                          "tls",
                                          "starttls",
                                          "auth-plaintext",
                                          "keep-injection",
                                          "size-advisory",  "ahead",
                                          "no-pipelining",
                                          "no-esc",
                                          "no-chunking",
                                          "no-size",
                                          "binarymime",
                                          "all-ext",
                                          "empty-helo",
                                          "no-brackets",
                                          "lenient-lf",
                                          "normalize",
                                          "allow",
                                          "defer",
                                          "defer-connect",
                                          "defer-helo",
                                          "defer-mail",
                                          "defer-rcpt",
                                          "defer-data",
                                          "defer-end",
                                          "defer-vrfy",
                                          "refuse-connect",
                                          "close-connect",
                                          "reject-data",
                                          "close-data",
                                          "no-message-cb",
                                          "reject-end",
                                          "vrfy-resolve",
                                          "lmtp-one",
                                          "pause-data",     "relay",
                                          "timeout",
                                          "shutdown",
                                          "auth",
                                          "sasl-mechs",
                                          "trust-xclient",
                                          "trust-xforward",
                                          "trust-late",
                                          "proxy",
                                          "strict",
                                          "defer-auth",
                                          "defer-sasl",
                                          "defer-xclient",
                                          "envelope",
                                          "futurerelease",
                                          "rrvs",
                                          "ehlo-extra",
                                          "app-params",
                                          "etrn",
                                          "help",
                                          "no-answer",
                                          "pipe-ext",
                                          "builtin",
                                          "cram-random",
                                          "defer-lookup",
                                          "defer-token",
                                          NULL};
static const char *const known_keys[] = {
    "max-size", "max-rcpt",   "max-msgs",      "errors", "soft",     "delay", "junk",
    "out",      "auth-limit", "max-auth-line", "fail",   "pipeline", "order", NULL};

static int options_known(const char *options)
{
    const char *p = options;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        int ok = n == 0;
        for (size_t i = 0; !ok && known_words[i]; i++)
            ok = strlen(known_words[i]) == n && memcmp(p, known_words[i], n) == 0;
        for (size_t i = 0; !ok && known_keys[i]; i++) {
            size_t kl = strlen(known_keys[i]);
            ok = n > kl && memcmp(p, known_keys[i], kl) == 0 && p[kl] == '=';
        }
        if (!ok) return 0;
        p = e;
    }
    return 1;
}

static void settings_from(const char *o, smtp_server_settings *s)
{
    smtp_server_settings_init(s);
    s->hostname = "mx.example.org";
    if (vec_opt_has(o, "lmtp")) s->flags |= SMTP_SERVER_LMTP;
    if (vec_opt_has(o, "tls")) s->flags |= SMTP_SERVER_TLS;
    if (vec_opt_has(o, "auth-plaintext")) s->flags |= SMTP_SERVER_AUTH_PLAINTEXT;
    if (vec_opt_has(o, "keep-injection")) s->flags |= SMTP_SERVER_KEEP_TLS_INJECTION;
    if (vec_opt_has(o, "size-advisory")) s->flags |= SMTP_SERVER_SIZE_ADVISORY;
    if (vec_opt_has(o, "ahead")) s->flags |= SMTP_SERVER_CHUNK_AHEAD;
    if (vec_opt_has(o, "starttls")) s->extensions |= SMTP_SERVER_EXT_STARTTLS;
    if (vec_opt_has(o, "auth")) s->extensions |= SMTP_SERVER_EXT_AUTH;
    if (vec_opt_has(o, "sasl-mechs")) s->auth_mechanisms = "PLAIN LOGIN XOAUTH2 CRAM-MD5";
    if (vec_opt_has(o, "trust-xclient")) s->trust |= SMTP_SERVER_TRUST_XCLIENT;
    if (vec_opt_has(o, "trust-xforward")) s->trust |= SMTP_SERVER_TRUST_XFORWARD;
    if (vec_opt_has(o, "proxy")) s->flags |= SMTP_SERVER_PROXY;
    if (vec_opt_has(o, "strict")) s->flags |= SMTP_SERVER_STRICT_PIPELINING;
    if (vec_opt_has(o, "envelope")) s->flags |= SMTP_SERVER_ENVELOPE;
    if (vec_opt_has(o, "no-pipelining")) s->extensions &= ~SMTP_SERVER_EXT_PIPELINING;
    if (vec_opt_has(o, "no-esc")) s->extensions &= ~SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    if (vec_opt_has(o, "no-chunking")) s->extensions &= ~SMTP_SERVER_EXT_CHUNKING;
    if (vec_opt_has(o, "no-size")) s->extensions &= ~SMTP_SERVER_EXT_SIZE;
    if (vec_opt_has(o, "binarymime")) s->extensions |= SMTP_SERVER_EXT_BINARYMIME;
    if (vec_opt_has(o, "all-ext")) { /* the extensions of settings version 1 */
        s->extensions =
            SMTP_SERVER_EXT_ALL & ~(SMTP_SERVER_EXT_FUTURERELEASE | SMTP_SERVER_EXT_RRVS);
        s->deliverby_min = 60;
        s->mt_priority_profile = "MIXER";
    }
    if (vec_opt_has(o, "futurerelease")) {
        s->extensions |= SMTP_SERVER_EXT_FUTURERELEASE;
        s->future_release_interval = 604800;
        s->future_release_until = "2026-12-14T12:00:00Z";
    }
    if (vec_opt_has(o, "rrvs")) s->extensions |= SMTP_SERVER_EXT_RRVS;
    if (vec_opt_has(o, "ehlo-extra")) s->ehlo_keywords = "XSHADOW\nX-EXPIRES 86400 hard";
    if (vec_opt_has(o, "app-params")) {
        s->mail_param_names = "XSHADOW X-TAG";
        s->rcpt_param_names = "X-NOTE";
    }
    if (vec_opt_has(o, "empty-helo")) s->cmd_flags |= SMTP_CMD_LENIENT_EMPTY_HELO;
    if (vec_opt_has(o, "no-brackets")) s->cmd_flags |= SMTP_CMD_LENIENT_PATH_BRACKETS;
    if (vec_opt_has(o, "lenient-lf")) s->cmd_flags |= SMTP_CMD_LENIENT_BARE_LF;
    if (vec_opt_has(o, "normalize")) s->bare_policy = SMTP_DATA_BARE_NORMALIZE;
    if (vec_opt_has(o, "allow")) s->bare_policy = SMTP_DATA_BARE_ALLOW;
    s->max_message_size = vec_opt_num(o, "max-size", (unsigned long)s->max_message_size);
    s->max_recipients = vec_opt_num(o, "max-rcpt", s->max_recipients);
    s->max_messages = vec_opt_num(o, "max-msgs", s->max_messages);
    s->hard_error_limit = (unsigned)vec_opt_num(o, "errors", s->hard_error_limit);
    s->soft_error_limit = (unsigned)vec_opt_num(o, "soft", s->soft_error_limit);
    s->error_delay_ms = (unsigned)vec_opt_num(o, "delay", s->error_delay_ms);
    s->junk_command_limit = (unsigned)vec_opt_num(o, "junk", s->junk_command_limit);
    s->max_output = vec_opt_num(o, "out", s->max_output);
    s->auth_attempt_limit = (unsigned)vec_opt_num(o, "auth-limit", s->auth_attempt_limit);
    s->max_auth_line = vec_opt_num(o, "max-auth-line", s->max_auth_line);
    s->max_pending = vec_opt_num(o, "pipeline", s->max_pending);
}

/* One session answering its batches in `order` (positions from 1). */
static struct state *one_open(const char *options, vec_log *log, const char *order)
{
    struct state *st = calloc(1, sizeof *st);
    if (!st) abort();
    st->log = log;
    st->options = options;
    snprintf(st->order, sizeof st->order, "%s", order);
    st->fail_at = vec_opt_num(options, "fail", 0);
    st->hold = vec_opt_has(options, "strict");
    static const char *const defer_words[K_COUNT] = {
        "defer-connect", "defer-helo",    "defer-mail",   "defer-rcpt",
        "defer-data",    "defer-end",     "defer-vrfy",   "defer-auth",
        "defer-sasl",    "defer-xclient", "defer-lookup", "defer-token"};
    for (int k = 0; k < K_COUNT; k++)
        st->defer[k] = vec_opt_has(options, "defer") || vec_opt_has(options, defer_words[k]);
    smtp_server_settings s;
    settings_from(options, &s);
    int builtin = vec_opt_has(options, "builtin");
    if (builtin) {
        /* RFC 2195's challenge, or RFC 7677's server nonce (tests/test_server_sasl.c). */
        static const unsigned char cram[16] = {0, 0, 0, 0, 0,    0,    0x07, 0x68,
                                               0, 0, 0, 0, 0x29, 0x8d, 0xfc, 0x08};
        static const unsigned char scram[30] = {4,  70, 84, 55, 34, 78, 53, 51, 63, 16,
                                                48, 63, 50, 33, 31, 68, 83, 86, 36, 39,
                                                74, 72, 8,  70, 44, 74, 36, 3,  73, 14};
        int c = vec_opt_has(options, "cram-random");
        ref_crypto_init(&st->crypto, &st->crypto_state, c ? cram : scram,
                        c ? sizeof cram : sizeof scram);
        s.crypto = &st->crypto;
        s.hostname = "postoffice.reston.mci.net";
        s.auth_mechanisms = "SCRAM-SHA-256 CRAM-MD5 XOAUTH2 OAUTHBEARER EXTERNAL PLAIN";
    }
    smtp_server_callbacks cb = {.on_connect = on_connect,
                                .on_helo = on_helo,
                                .on_mail = on_mail,
                                .on_rcpt = on_rcpt,
                                .on_data_start = on_data_start,
                                .on_data = on_data,
                                .on_message_end = on_message_end,
                                .on_message_abort = on_message_abort,
                                .on_reset = on_reset,
                                .on_vrfy = on_vrfy,
                                .on_starttls = on_starttls,
                                .on_tls_injection = on_tls_injection,
                                .on_auth = on_auth,
                                .on_sasl = on_sasl,
                                .on_xclient = on_xclient,
                                .on_xforward = on_xforward,
                                .on_proxy = on_proxy,
                                .on_etrn = vec_opt_has(options, "etrn") ? on_etrn : NULL,
                                .on_help = vec_opt_has(options, "help") ? on_help : NULL,
                                .on_auth_lookup = builtin ? on_auth_lookup : NULL,
                                .on_auth_token = builtin ? on_auth_token : NULL};
    if (vec_opt_has(options, "no-message-cb")) {
        cb.on_data_start = NULL;
        cb.on_data = NULL;
        cb.on_message_end = NULL;
        cb.on_message_abort = NULL;
        cb.on_reset = NULL;
    }
    int r = smtp_server_new(&st->srv, &cb, &s, NULL, st);
    if (r < 0) {
        vec_logf(log, "new error=%s", smtp_error_name(r));
        st->failed = 1;
        return st;
    }
    r = smtp_server_start(st->srv);
    if (r < 0) {
        vec_logf(log, "start error=%s", smtp_error_name(r));
        st->failed = 1;
    }
    if (st->npend) answer_pending(st);
    drain(st);
    return st;
}

/* While STARTTLS waits: is the head of the unread input the handshake marker? 1 yes, 0 no,
 * -1 cannot tell yet (a prefix of it). */
static int tls_mark(const struct state *st)
{
    size_t ml = sizeof TLS_MARK - 1;
    size_t n = st->in.len < ml ? st->in.len : ml;
    if (memcmp(st->in.buf, TLS_MARK, n) != 0) return 0;
    return n == ml ? 1 : -1;
}

/* Does `mark` begin at p[0..n)? 1 yes, -1 a prefix of it, 0 no. */
static int mark_at(const char *p, size_t n, const char *mark)
{
    size_t ml = strlen(mark);
    size_t k = n < ml ? n : ml;
    if (memcmp(p, mark, k) != 0) return 0;
    return k == ml ? 1 : -1;
}

/*
 * How much of the unread input to feed: everything before a marker (or before what may be
 * the start of one), as an adapter reads nothing more once the handshake begins and a client
 * that waits for replies sends nothing meanwhile.
 */
static size_t feed_len(const struct state *st)
{
    for (size_t i = 0; i < st->in.len; i++) {
        if (st->in.buf[i] != '[') continue;
        if (mark_at(st->in.buf + i, st->in.len - i, TLS_MARK) ||
            mark_at(st->in.buf + i, st->in.len - i, WAIT_MARK))
            return i;
    }
    return st->in.len;
}

static void pump(struct state *st)
{
    while (!st->failed) {
        int injected = 0;
        if (st->in.len) {
            int w = mark_at(st->in.buf, st->in.len, WAIT_MARK);
            if (w < 0 && !mark_at(st->in.buf, st->in.len, TLS_MARK)) return;
            if (w > 0) {
                pull(st); /* the client reads every reply before it goes on */
                bytes_drop(&st->in, sizeof WAIT_MARK - 1);
                continue;
            }
        }
        if (st->starttls_seen && st->in.len) {
            int m = tls_mark(st);
            if (m < 0) return; /* wait: the marker may be arriving */
            if (m > 0) {
                drain(st);
                bytes_drop(&st->in, sizeof TLS_MARK - 1);
                st->starttls_seen = 0;
                int r = smtp_server_tls_done(st->srv, 1);
                vec_logf(st->log, "tls-started%s", r < 0 ? " BUG" : "");
                continue;
            }
            injected = 1;
        }
        smtp_ssize n = smtp_server_read(st->srv, st->in.buf, feed_len(st));
        if (n < 0) {
            drain(st);
            vec_logf(st->log, "read error=%s", smtp_error_name((int)n));
            st->failed = 1;
            return;
        }
        bytes_drop(&st->in, (size_t)n);
        drain(st);
        if (injected && st->starttls_seen && n == 0) {
            /* SMTP_SERVER_KEEP_TLS_INJECTION: the adapter drops the plaintext it read. */
            bytes_drop(&st->in, 1);
            continue;
        }
        /* As a real adapter: answer once the engine takes no more input (it may read
         * commands ahead first), then read again only with input in hand (an engine that
         * could advance after the answer must do so without a read). */
        while (st->npend && !smtp_server_want_read(st->srv) &&
               !vec_opt_has(st->options, "no-answer")) {
            answer_pending(st);
            drain(st);
            n = 1;
        }
        if (n > 0 && st->in.len > 0) continue;
        return;
    }
}

static void one_feed(struct state *st, const char *data, size_t len, vec_log *log)
{
    st->log = log;
    if (st->failed) return;
    vec_log_raw(&st->in, data, len);
    pump(st);
}

static void one_close(struct state *st, vec_log *log)
{
    st->log = log;
    /* The input ended with decisions pending that let commands be read ahead: answered, and
     * what they let the engine read is fed. */
    while (st->srv && !st->failed && st->npend && !vec_opt_has(st->options, "no-answer")) {
        answer_pending(st);
        drain(st);
        pump(st);
    }
    if (st->srv && !st->failed) {
        int r = 0;
        if (vec_opt_has(st->options, "timeout")) {
            uint32_t ms;
            smtp_server_wait w = smtp_server_timeout(st->srv, &ms);
            vec_logf(log, "timeout=%s %u",
                     w == SMTP_SERVER_WAIT_DATA      ? "data"
                     : w == SMTP_SERVER_WAIT_COMMAND ? "command"
                                                     : "none",
                     ms);
            r = smtp_server_timeout_expired(st->srv);
        } else if (vec_opt_has(st->options, "shutdown")) {
            r = smtp_server_shutdown(st->srv);
        }
        if (r < 0) vec_logf(log, "end error=%s", smtp_error_name(r));
        pull(st);
        r = smtp_server_eof(st->srv);
        if (r < 0 && r != SMTP_ERR_INVALID_STATE) vec_logf(log, "eof error=%s", smtp_error_name(r));
        pull(st);
        if (st->out.len) vec_logf(log, "BUG partial output line");
        vec_logf(log, "want-close=%d unread=%zu", smtp_server_want_close(st->srv), st->in.len);
    }
    smtp_server_del(st->srv);
    free(st->in.buf);
    free(st->out.buf);
    free(st->content.buf);
    free(st);
}

/* A replay's session; with order=all, its input kept for the other orders of four answers. */
#define ORDERS 24
struct group {
    struct state *st;
    const char *options;
    int all;
    vec_log input;
    size_t feeds;
};

/* The i-th order of "1234", lexicographically (0: "1234", 23: "4321"). */
static void nth_order(size_t i, char out[5])
{
    char left[5] = "1234";
    static const size_t fact[4] = {6, 2, 1, 1};
    for (size_t k = 0; k < 4; k++) {
        size_t j = i / fact[k];
        i %= fact[k];
        out[k] = left[j];
        memmove(left + j, left + j + 1, strlen(left + j));
    }
    out[4] = '\0';
}

static void *srv_open(const char *options, vec_log *log)
{
    if (!options_known(options)) return NULL;
    struct group *g = calloc(1, sizeof *g);
    if (!g) abort();
    const char *o = strstr(options, "order=");
    char order[10] = "";
    if (o) snprintf(order, sizeof order, "%.*s", (int)strcspn(o + 6, " "), o + 6);
    g->options = options;
    g->all = strcmp(order, "all") == 0;
    if (g->all) nth_order(0, order);
    g->st = one_open(options, log, order);
    return g;
}

static void srv_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct group *g = state;
    one_feed(g->st, data, len, log);
    if (g->all) vec_log_raw(&g->input, data, len);
    g->feeds++;
}

/* The next line of `log` from *pos that is not an "answer" line, or NULL at its end. */
static const char *next_event(const vec_log *log, size_t *pos, size_t *len)
{
    while (*pos < log->len) {
        const char *l = log->buf + *pos, *nl = memchr(l, '\n', log->len - *pos);
        size_t n = nl ? (size_t)(nl - l) : log->len - *pos;
        *pos += n + (nl != NULL);
        if (n >= 7 && memcmp(l, "answer ", 7) == 0) continue;
        *len = n;
        return l;
    }
    return NULL;
}

static void srv_close(void *state, vec_log *log)
{
    struct group *g = state;
    one_close(g->st, log);
    /* Fed whole: whatever the order of the answers, the same events (replies above all) in the
     * same order. */
    vec_log first = *log; /* compared as it is now, before any BUG line is added */
    first.buf = malloc(log->len + 1);
    if (!first.buf) abort();
    memcpy(first.buf, log->buf, log->len);
    for (size_t i = 1; g->all && g->feeds <= 1 && i < ORDERS; i++) {
        char order[5];
        nth_order(i, order);
        vec_log other = {0};
        struct state *st = one_open(g->options, &other, order);
        if (g->feeds) one_feed(st, g->input.buf, g->input.len, &other);
        one_close(st, &other);
        size_t a = 0, b = 0, la = 0, lb = 0;
        const char *x, *y;
        do {
            x = next_event(&first, &a, &la);
            y = next_event(&other, &b, &lb);
        } while (x && y && la == lb && memcmp(x, y, la) == 0);
        if (x || y)
            vec_logf(log, "BUG order %s: \"%.*s\" instead of \"%.*s\"", order, (int)lb, y ? y : "",
                     (int)la, x ? x : "");
        free(other.buf);
    }
    free(first.buf);
    free(g->input.buf);
    free(g);
}

const vec_runner vec_runner_server = {"server", "NOOP", srv_open, srv_feed, srv_close};
