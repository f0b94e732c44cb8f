/*
 * Vector runner "server": one smtp_server session fed the client's bytes, so that a vector reads
 * as a transcript. The runner plays the application and the adapter:
 *  - it logs every callback as an event, and every complete line of server output as "S: ...",
 *    draining the output before each event and after each read (so the interleaving does not
 *    depend on how the input was split);
 *  - it keeps the bytes smtp_server_read did not consume and feeds them again, answers deferred
 *    decisions as soon as a read returns, and plays the TLS handshake: while STARTTLS waits, the
 *    marker "[TLS]" at the head of the unread input means "the handshake completed" (anything
 *    else there is plaintext injected before it).
 *
 * Application decisions follow the addresses, so transcripts stay readable:
 *   HELO/EHLO "bad.example" -> 550 5.7.1; MAIL from a local part "spammer" -> 550 5.7.1;
 *   RCPT local part "bad..." -> 550 5.1.1, "temp..." -> 450 4.2.1; in LMTP, "fail..." is accepted
 *   at RCPT but gets 552 5.2.2 after the data (other recipients 250 2.1.5).
 * Options (words):
 *   lmtp tls starttls auth-plaintext keep-injection    session flags (starttls: the extension)
 *   no-pipelining no-esc no-chunking no-size binarymime all-ext    extensions
 *   empty-helo no-brackets lenient-lf                  command parser flags
 *   normalize allow                                    bare LF/CR policy (default reject)
 *   max-size=N max-rcpt=N max-msgs=N errors=N junk=N out=N   limits
 *   defer (every decision) defer-connect defer-helo defer-mail defer-rcpt defer-data
 *   defer-end defer-vrfy        answer later, after the read returned
 *   refuse-connect close-connect reject-data reject-end vrfy-resolve lmtp-one
 *   pause-data (on_data returns SMTP_PAUSE)   fail=K (the K-th callback fails)
 *   timeout (at close, before EOF: the adapter's timer expired)  shutdown (likewise)
 * Events: connect, helo VERB "domain", mail "path" [params], rcpt "path" index=N, data-start,
 *   data "line" (content, gathered and logged at the end of the message), message size=N
 *   bdat=B flags=F rcpts=N, abort REASON, reset, vrfy "arg", starttls, tls-started,
 *   tls-injection, defer KIND, S: reply line, read error=..., and at close: timeout=SECONDS
 *   want-close=W.
 */
#include "vec.h"

#include <smtp/server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_MARK "[TLS]"

struct bytes {
    char *buf;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) abort();
        b->buf = nb;
        b->cap = cap;
    }
    if (n) memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void bytes_drop(struct bytes *b, size_t n)
{
    if (!n) return;
    memmove(b->buf, b->buf + n, b->len - n);
    b->len -= n;
}

enum kind { K_CONNECT, K_HELO, K_MAIL, K_RCPT, K_DATA, K_END, K_VRFY, K_COUNT };
static const char *const kind_names[K_COUNT] = {"connect", "helo", "mail", "rcpt",
                                                "data",    "end",  "vrfy"};

/* One scripted answer. */
struct answer {
    int code;
    const char *enhanced;
    const char *text;
};

struct state {
    smtp_server *srv;
    vec_log *log;
    const char *options;
    struct bytes in;      /* unconsumed client bytes */
    struct bytes out;     /* server output not yet logged (a partial line) */
    struct bytes content; /* the message being received */
    int defer[K_COUNT];
    int failed;
    unsigned long fail_at, calls;
    /* Deferred decision: the answers to give after the read returns. */
    int pending;
    enum kind pending_kind;
    struct answer answers[8];
    size_t nanswers;
    /* LMTP: which accepted recipients fail after the data. */
    unsigned char lmtp_fail[2048];
    size_t rcpts;
    int starttls_seen;
};

static void drain(struct state *st)
{
    char buf[97];
    for (;;) {
        smtp_ssize n = smtp_server_write(st->srv, buf, sizeof buf);
        if (n < 0) {
            vec_logf(st->log, "BUG write %s", smtp_error_name((int)n));
            return;
        }
        if (n == 0) break;
        bytes_add(&st->out, buf, (size_t)n);
    }
    size_t i = 0;
    while (i < st->out.len) {
        char *nl = memchr(st->out.buf + i, '\n', st->out.len - i);
        if (!nl) break;
        size_t n = (size_t)(nl - (st->out.buf + i)) + 1;
        vec_log_raw(st->log, "S: ", 3);
        size_t shown = n >= 2 && st->out.buf[i + n - 2] == '\r' ? n - 2 : n;
        vec_log_escaped(st->log, st->out.buf + i, shown);
        vec_logf(st->log, "%s", shown == n ? " (BUG: no CRLF)" : "");
        i += n;
    }
    bytes_drop(&st->out, i);
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

/* Gives the decision now (smtp_server_reply, then return 0) or defers it. */
static int decide(struct state *st, enum kind k, const struct answer *a, size_t n)
{
    if (st->defer[k]) {
        vec_logf(st->log, "defer %s", kind_names[k]);
        st->pending = 1;
        st->pending_kind = k;
        memcpy(st->answers, a, n * sizeof *a);
        st->nanswers = n;
        return SMTP_SERVER_DEFER;
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = a[i].text;
        int r = smtp_server_reply(st->srv, a[i].code, a[i].enhanced, t, t ? strlen(t) : 0);
        if (r < 0) vec_logf(st->log, "BUG reply %s", smtp_error_name(r));
    }
    return 0;
}

/* Answers a deferred decision after the read returned. */
static void answer_pending(struct state *st)
{
    st->pending = 0;
    vec_logf(st->log, "answer %s", kind_names[st->pending_kind]);
    size_t n = st->nanswers ? st->nanswers : 1;
    for (size_t i = 0; i < n; i++) {
        struct answer a = st->nanswers ? st->answers[i] : (struct answer){0, NULL, NULL};
        const char *t = a.text;
        int r = smtp_server_reply(st->srv, a.code, a.enhanced, t, t ? strlen(t) : 0);
        if (r < 0) vec_logf(st->log, "BUG reply %s", smtp_error_name(r));
    }
    if (smtp_server_pending(st->srv)) vec_logf(st->log, "BUG still pending");
}

static int on_connect(smtp_server *srv, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_logf(st->log, "connect");
    struct answer a = {0, NULL, NULL};
    if (vec_opt_has(st->options, "refuse-connect")) a = (struct answer){554, NULL, "No service"};
    if (vec_opt_has(st->options, "close-connect")) a = (struct answer){421, NULL, "Busy"};
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
    struct answer a = {550, "5.7.1", "Helo command rejected"};
    return decide(st, K_HELO, &a, span_prefix(domain, "bad.example") ? 1 : 0);
}

static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "mail ", m->path);
    const smtp_mail_params *p = &m->params;
    if (p->present & SMTP_MAIL_SIZE) vec_log_raw(st->log, " size", 5);
    if (p->present & SMTP_MAIL_BODY) vec_log_raw(st->log, " body", 5);
    if (p->present & SMTP_MAIL_SMTPUTF8) vec_log_raw(st->log, " smtputf8", 9);
    vec_logf(st->log, "%s", "");
    struct answer a = {550, "5.7.1", "Sender rejected"};
    return decide(st, K_MAIL, &a, span_prefix(m->parsed.local, "spammer") ? 1 : 0);
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    log_span(st->log, "rcpt ", rc->path);
    vec_logf(st->log, " index=%zu", rc->index);
    struct answer a = {0, NULL, NULL};
    size_t n = 0;
    if (span_prefix(rc->parsed.local, "bad"))
        a = (struct answer){550, "5.1.1", "User unknown"}, n = 1;
    else if (span_prefix(rc->parsed.local, "temp"))
        a = (struct answer){450, "4.2.1", "Try later"}, n = 1;
    else if (st->rcpts < sizeof st->lmtp_fail)
        st->lmtp_fail[st->rcpts++] = (unsigned char)span_prefix(rc->parsed.local, "fail");
    return decide(st, K_RCPT, &a, n);
}

static int on_data_start(smtp_server *srv, void *ud)
{
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    vec_logf(st->log, "data-start");
    st->content.len = 0;
    struct answer a = {554, "5.7.1", "No data today"};
    return decide(st, K_DATA, &a, vec_opt_has(st->options, "reject-data") ? 1 : 0);
}

static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    struct state *st = ud;
    st->calls++;
    if (st->fail_at && st->calls == st->fail_at) return -1;
    if (data.len == 0) vec_logf(st->log, "BUG empty data span");
    bytes_add(&st->content, data.ptr, data.len);
    return vec_opt_has(st->options, "pause-data") ? SMTP_PAUSE : 0;
}

static void log_content(struct state *st)
{
    size_t i = 0;
    struct bytes *b = &st->content;
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
    (void)srv;
    struct state *st = ud;
    if (enter(st)) return -1;
    if (msg->size != st->content.len) vec_logf(st->log, "BUG size %zu delivered", st->content.len);
    log_content(st);
    vec_logf(st->log, "message size=%llu bdat=%d flags=%u rcpts=%zu", (unsigned long long)msg->size,
             msg->bdat, msg->data_flags, msg->recipients);
    struct answer a[8];
    size_t n = 0;
    if (vec_opt_has(st->options, "reject-end")) {
        a[n++] = (struct answer){550, "5.7.1", "Message rejected"};
    } else if (vec_opt_has(st->options, "lmtp")) {
        size_t k = msg->recipients < 8 ? msg->recipients : 8;
        int any = 0;
        for (size_t i = 0; i < k && i < st->rcpts; i++)
            any |= st->lmtp_fail[i];
        for (size_t i = 0; any && i < k && i < st->rcpts; i++)
            a[n++] = st->lmtp_fail[i] ? (struct answer){552, "5.2.2", "Mailbox full"}
                                      : (struct answer){250, "2.1.5", "Delivered"};
        if (vec_opt_has(st->options, "lmtp-one")) a[n++] = (struct answer){250, NULL, "Stored"};
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
    struct answer a = {250, "2.1.5", "User exists"};
    return decide(st, K_VRFY, &a, vec_opt_has(st->options, "vrfy-resolve") ? 1 : 0);
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

static const char *const known_words[] = {"lmtp",           "tls",
                                          "starttls",       "auth-plaintext",
                                          "keep-injection", "no-pipelining",
                                          "no-esc",         "no-chunking",
                                          "no-size",        "binarymime",
                                          "all-ext",        "empty-helo",
                                          "no-brackets",    "lenient-lf",
                                          "normalize",      "allow",
                                          "defer",          "defer-connect",
                                          "defer-helo",     "defer-mail",
                                          "defer-rcpt",     "defer-data",
                                          "defer-end",      "defer-vrfy",
                                          "refuse-connect", "close-connect",
                                          "reject-data",    "reject-end",
                                          "vrfy-resolve",   "lmtp-one",
                                          "pause-data",     "timeout",
                                          "shutdown",       NULL};
static const char *const known_keys[] = {"max-size", "max-rcpt", "max-msgs", "errors",
                                         "junk",     "out",      "fail",     NULL};

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
    if (vec_opt_has(o, "starttls")) s->extensions |= SMTP_SERVER_EXT_STARTTLS;
    if (vec_opt_has(o, "no-pipelining")) s->extensions &= ~SMTP_SERVER_EXT_PIPELINING;
    if (vec_opt_has(o, "no-esc")) s->extensions &= ~SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    if (vec_opt_has(o, "no-chunking")) s->extensions &= ~SMTP_SERVER_EXT_CHUNKING;
    if (vec_opt_has(o, "no-size")) s->extensions &= ~SMTP_SERVER_EXT_SIZE;
    if (vec_opt_has(o, "binarymime")) s->extensions |= SMTP_SERVER_EXT_BINARYMIME;
    if (vec_opt_has(o, "all-ext")) {
        s->extensions = SMTP_SERVER_EXT_ALL;
        s->deliverby_min = 60;
        s->mt_priority_profile = "MIXER";
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
    s->junk_command_limit = (unsigned)vec_opt_num(o, "junk", s->junk_command_limit);
    s->max_output = vec_opt_num(o, "out", s->max_output);
}

static void *srv_open(const char *options, vec_log *log)
{
    if (!options_known(options)) return NULL;
    struct state *st = calloc(1, sizeof *st);
    if (!st) abort();
    st->log = log;
    st->options = options;
    st->fail_at = vec_opt_num(options, "fail", 0);
    static const char *const defer_words[K_COUNT] = {"defer-connect", "defer-helo", "defer-mail",
                                                     "defer-rcpt",    "defer-data", "defer-end",
                                                     "defer-vrfy"};
    for (int k = 0; k < K_COUNT; k++)
        st->defer[k] = vec_opt_has(options, "defer") || vec_opt_has(options, defer_words[k]);
    smtp_server_settings s;
    settings_from(options, &s);
    smtp_server_callbacks cb = {on_connect,    on_helo, on_mail,        on_rcpt,
                                on_data_start, on_data, on_message_end, on_message_abort,
                                on_reset,      on_vrfy, on_starttls,    on_tls_injection};
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
    if (st->pending) answer_pending(st);
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

/*
 * How much of the unread input to feed: everything before the handshake marker (or before
 * what may be the start of one), as an adapter reads nothing more once the handshake begins.
 */
static size_t feed_len(const struct state *st)
{
    size_t ml = sizeof TLS_MARK - 1;
    for (size_t i = 0; i < st->in.len; i++) {
        size_t n = st->in.len - i < ml ? st->in.len - i : ml;
        if (st->in.buf[i] == '[' && memcmp(st->in.buf + i, TLS_MARK, n) == 0) return i;
    }
    return st->in.len;
}

static void pump(struct state *st)
{
    while (!st->failed) {
        int injected = 0;
        if (st->starttls_seen && st->in.len) {
            int m = tls_mark(st);
            if (m < 0) return; /* wait: the marker may be arriving */
            if (m > 0) {
                drain(st);
                bytes_drop(&st->in, sizeof TLS_MARK - 1);
                st->starttls_seen = 0;
                int r = smtp_server_tls_started(st->srv);
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
        if (st->pending) {
            answer_pending(st);
            drain(st);
            continue;
        }
        if (n > 0 && st->in.len > 0) continue;
        return;
    }
}

static void srv_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct state *st = state;
    st->log = log;
    if (st->failed) return;
    bytes_add(&st->in, data, len);
    pump(st);
}

static void srv_close(void *state, vec_log *log)
{
    struct state *st = state;
    st->log = log;
    if (st->srv && !st->failed) {
        int r = 0;
        if (vec_opt_has(st->options, "timeout")) {
            vec_logf(log, "timeout=%u", smtp_server_timeout(st->srv));
            r = smtp_server_timeout_expired(st->srv);
        } else if (vec_opt_has(st->options, "shutdown")) {
            r = smtp_server_shutdown(st->srv);
        }
        if (r < 0) vec_logf(log, "end error=%s", smtp_error_name(r));
        drain(st);
        r = smtp_server_eof(st->srv);
        if (r < 0 && r != SMTP_ERR_INVALID_STATE) vec_logf(log, "eof error=%s", smtp_error_name(r));
        drain(st);
        if (st->out.len) vec_logf(log, "BUG partial output line");
        vec_logf(log, "want-close=%d unread=%zu", smtp_server_want_close(st->srv), st->in.len);
    }
    smtp_server_del(st->srv);
    free(st->in.buf);
    free(st->out.buf);
    free(st->content.buf);
    free(st);
}

const vec_runner vec_runner_server = {"server", "NOOP", srv_open, srv_feed, srv_close};
