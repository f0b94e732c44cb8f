/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a whole server session (smtp_server) fed a hostile client's stream.
 *
 * The harness plays the application and the adapter. Policy callbacks decide from a table in
 * the input (accept, refuse 4xx/5xx, 421, defer then accept or refuse, or fail); deferred
 * decisions are answered, each by its id (smtp_server_reply_to), once the read returned and
 * the engine takes no more input (at once, unless settings.max_pending lets it read commands
 * ahead: pipelined deferral), or at the end of the input, in an order the input chooses, and
 * optionally the oldest one from inside the next policy callback; STARTTLS
 * boundaries are marked in the stream by "[TLS]": while the engine waits for the handshake,
 * the marker means "the handshake completed" (smtp_server_tls_done), and any byte before
 * it is plaintext injected across the boundary (RFC 3207 4.2); the adapter feeds nothing past
 * a marker before reaching it. At the end of the input the client goes away (optionally the
 * adapter's timer expires or the server shuts down first).
 *
 * Checked here, besides no crash, no leak, no over-read (ASan) and no undefined behaviour
 * (UBSan):
 *  - split invariance: the stream fed whole and fed in pieces (sizes from the input) gives
 *    the same event log (every callback with its arguments, deferrals, read errors, the
 *    TLS handshake result, the end) and the same output bytes (DESIGN.md invariant 1) — after
 *    a fatal error (a failed callback) one output is a prefix of the other, as the replies
 *    still queued are dropped and how many were pulled before depends on the split;
 *  - the output is well-formed replies: CRLF lines (no bare CR or LF, no NUL) of at most 512
 *    octets (RFC 5321 4.5.3.1.5), each "ddd" with a 2xx-5xx code then SP, '-' or CRLF, and
 *    every line of a multi-line reply with the same code (4.2.1); the output ends with a
 *    complete line;
 *  - a message is acknowledged only after the application took it (invariant 6): the
 *    acceptance text the harness gives ("Queued as FZ<n>") appears only for an on_message_end
 *    it accepted, at most once per message in SMTP (once per accepted recipient in LMTP), and
 *    the engine's default acceptance text never appears (the harness always names its own);
 *  - one on_message_abort at most per message, and none outside one;
 *  - on_message_end's size equals the content delivered through on_data (logged with the
 *    end; content before an abort depends on the split and is not compared); nothing is
 *    delivered outside a message (on_data only between on_data_start and the end or abort);
 *  - smtp_server_read never consumes more than it was given; a failed callback makes the
 *    error sticky (a later read returns the same);
 *  - pipelined deferral (settings.max_pending from the input): the replies leave in command
 *    order whatever the order of the answers (each answer of a MAIL or RCPT, and each refusal,
 *    carries its decision's number "fz#N", given in callback order: the numbers in the output
 *    never decrease), and only numbers of decisions made; the ids
 *    of smtp_server_decision are new and increasing; no policy callback and no content while
 *    the on_data_start of a DATA or BDAT is deferred (nothing after them is read, as a command
 *    or as content, before they are answered);
 *  - after smtp_server_new the engine allocates nothing with SMTP_SERVER_PREALLOCATE, and at
 *    most a few growth steps without it, however long the session (invariant 7); every block
 *    is freed by smtp_server_del.
 * SMTP_SERVER_STRICT_PIPELINING depends on when output is pulled, so it is not split
 * invariant: with that flag only the split run is made (every other check holds).
 * Each piece fed is a fresh heap copy of exactly its size, so reading past it is an ASan error.
 * FUZZ_TRACE=1 in the environment prints the event log of each run.
 *
 * Input layout: bytes 0-1 = piece-size seed; byte 2 = flags (bits 0-5: SMTP_SERVER_LMTP, _TLS,
 * _AUTH_PLAINTEXT, _KEEP_TLS_INJECTION, _PROXY, _STRICT_PIPELINING; bits 6-7: the bare LF/CR
 * policy); bytes 3-4 = SMTP_SERVER_EXT_* bits; byte 5 = bits 0-3: SMTP_CMD_* parser flags,
 * bits 4-5: max_message_size (default, 100, 5000, none), bits 6-7: hard_error_limit (20, 3,
 * none, 1); byte 6 = bits 0-1: the end (EOF, timer expired, shutdown, EOF), bit 2: a 4096-octet
 * output queue, bit 3: max_line 512, bits 4-5: trust XCLIENT/XFORWARD, bit 6: AUTH also offers
 * XOAUTH2 and CRAM-MD5, bit 7: max_recipients 100; byte 7 = bits 0-6: the callback call that
 * fails (0: none; on_data is not counted), bit 7: SMTP_SERVER_PREALLOCATE (where it exists; without
 * it, SMTP_SERVER_ENVELOPE when bytes 0 and 1 differ in their low bit); bytes
 * 8-15 = the decision table (policy call k uses byte 8 + k % 8: bits 0-2 the action, bit 3 a text
 * of its own, bits 4-5 how many LMTP replies refuse, bit 6 that text relayed on two lines with
 * smtp_server_relay_to, as a proxy gives its upstream's reply); byte 16 = on_data returns SMTP_PAUSE at call
 * i when bit i % 8 is set; byte 17 = bits 0-2: max_pending (1, 2, 3, 4, 8, 16, 64, 1024),
 * bits 3-6: the order of the answers given together (0: oldest first; else a permutation
 * drawn from it), bit 7: a policy callback answers the oldest decision deferred before it
 * (smtp_server_reply_to from a callback); SMTP_SERVER_CHUNK_AHEAD when bytes 0 and 1 differ in
 * bit 1; the rest is the client's stream.
 */
#include "fuzz_common.h"

#include <smtp/server.h>

#define HEADER 18
#define MAX_PEND 1100
#define TLS_MARK "[TLS]"
#define MAX_MSGS 64

/* Actions of the decision table. */
enum action {
    ACT_ACCEPT,
    ACT_ACCEPT2,
    ACT_ACCEPT3, /* accepting is the common case: three of eight */
    ACT_REJECT5,
    ACT_REJECT4,
    ACT_DEFER_ACCEPT,
    ACT_DEFER_REJECT,
    ACT_CLOSE /* 421 */
};

/* A decision to give now or later. */
enum give { GIVE_DEFAULT, GIVE_REPLY, GIVE_END, GIVE_SASL_ACCEPT, GIVE_CHALLENGE };

struct pending {
    enum give how;
    int code;
    int own_text;
    int relay; /* given with smtp_server_relay_to: its text on two lines */
    unsigned refuse_n; /* LMTP: how many of the recipients' replies refuse */
    size_t rcpts, msg;
    int data_start; /* on_data_start's: a refusal means no content will come */
    uint64_t id;    /* smtp_server_decision's, for smtp_server_reply_to */
    unsigned tag;   /* its number in callback order, in its texts ("fz#N") */
};

struct run {
    smtp_server *srv;
    struct fmem mem;
    struct flog ev, out;
    const uint8_t *hdr;
    int split, lmtp, strict, envelope;
    struct fsplit sp;
    unsigned fail_at, calls, policy_calls, data_calls, pause_mask;
    int failed, last_refused;
    size_t steps;
    /* Deferred decisions, oldest first (several with max_pending above 1). */
    struct pending pend[MAX_PEND];
    size_t npend;
    unsigned order_seed, batches, tags;
    int pipelined, answer_in_callback;
    uint64_t last_id;
    int group_end_pending; /* a deferred on_data_start: nothing may be read before its answer */
    int starttls_wait;
    /* the message in progress */
    int in_message;
    /* on_message_end was deferred: until the message's next on_data_start, an abort may still
     * come for it (the session ended before the decision was complete, server.h) */
    int end_open;
    struct flog content;
    /* acknowledgements: on_message_end calls and what the harness decided for each */
    size_t msgs;
    unsigned char accepted[MAX_MSGS]; /* how many "Queued as" replies each may get */
};

/* ---- decisions ---- */

/* A text of the harness's own: the decision's number and its outcome. */
static size_t own_text(char *t, size_t cap, const struct pending *p)
{
    return (size_t)snprintf(t, cap, "fz#%u %s", p->tag, p->code < 400 ? "accepted" : "refused");
}

/* Gives the answer of `p`: to its decision by id (deferred), or to the callback's own. */
static int reply(struct run *r, const struct pending *p, int code, const char *t, size_t n)
{
    if (p->relay && p->how == GIVE_REPLY && n && code) { /* not a message's acceptance */
        /* As a proxy relays its upstream's reply: two lines, both naming the decision. */
        char two[80];
        int k = snprintf(two, sizeof two, "%.*s\n%.*s", (int)n, t, (int)n, t);
        return smtp_server_relay_to(r->srv, p->id, code, two, (size_t)k);
    }
    if (p->id) return smtp_server_reply_to(r->srv, p->id, code, NULL, t, n);
    return smtp_server_reply(r->srv, code, NULL, t, n);
}

static int give(struct run *r, const struct pending *p)
{
    smtp_server *srv = r->srv;
    char own[32];
    switch (p->how) {
    case GIVE_DEFAULT: return p->id ? reply(r, p, 0, NULL, 0) : 0;
    case GIVE_SASL_ACCEPT: return smtp_server_auth_accept(srv, "fz", 2);
    case GIVE_CHALLENGE: return smtp_server_auth_challenge(srv, "fz?", 3);
    case GIVE_REPLY: {
        size_t n = p->own_text ? own_text(own, sizeof own, p) : 0;
        return reply(r, p, p->code, n ? own : NULL, n);
    }
    case GIVE_END: {
        /* on_message_end: the harness's own acceptance text, so the output shows which
         * message was acknowledged; in LMTP one reply per accepted recipient. */
        char t[32];
        int n = snprintf(t, sizeof t, "Queued as FZ%zu", p->msg);
        size_t replies = r->lmtp ? p->rcpts : 1;
        for (size_t i = 0; i < replies; i++) {
            int rc = i < p->refuse_n ? reply(r, p, 552, NULL, 0) : reply(r, p, 250, t, (size_t)n);
            if (rc < 0) return rc;
        }
        return 0;
    }
    }
    return 0;
}

/* The start of every counted callback: 1 when this one must fail. */
static int enter(struct run *r)
{
    r->calls++;
    return r->fail_at && r->calls == r->fail_at;
}

static void answer_one(struct run *r, const struct pending *p);

/*
 * Decides a policy callback from the table. `refuse5` is the 5xx code for this callback,
 * `accept` how acceptance is given (GIVE_DEFAULT, GIVE_END, GIVE_SASL_ACCEPT); `tagged`: a
 * MAIL or RCPT, whose acceptance carries its number too (pipelined deferral).
 */
static int decide_tagged(struct run *r, int refuse5, enum give accept, size_t rcpts, int tagged)
{
    unsigned d = r->hdr[8 + r->policy_calls % 8];
    r->policy_calls++;
    /* Nothing is read after a DATA or BDAT before its on_data_start is answered. */
    FUZZ_ASSERT(!r->group_end_pending);
    uint64_t id = smtp_server_decision(r->srv);
    FUZZ_ASSERT(id > r->last_id); /* a new id for each decision */
    r->last_id = id;
    /* An answer from a callback to the oldest decision deferred before this one. */
    if (r->answer_in_callback && r->npend) {
        struct pending old = r->pend[0];
        memmove(r->pend, r->pend + 1, --r->npend * sizeof *r->pend);
        answer_one(r, &old);
    }
    struct pending p = {accept, 0,        (d >> 3) & 1, (d >> 6) & 1, (d >> 4) & 3,
                        rcpts,  r->msgs, 0,            0,            ++r->tags};
    int defer = 0;
    switch ((enum action)(d & 7)) {
    case ACT_ACCEPT:
    case ACT_ACCEPT2:
    case ACT_ACCEPT3: break;
    case ACT_DEFER_ACCEPT: defer = 1; break;
    case ACT_DEFER_REJECT: defer = 1; /* fall through */
    case ACT_REJECT5: p.how = GIVE_REPLY, p.code = refuse5; break;
    case ACT_REJECT4: p.how = GIVE_REPLY, p.code = refuse5 == 535 ? 454 : 450; break;
    case ACT_CLOSE: p.how = GIVE_REPLY, p.code = 421; break;
    }
    /* A SASL step that is not accepted or refused gets a challenge. */
    if (accept == GIVE_SASL_ACCEPT && (d & 7) == ACT_ACCEPT2) p.how = GIVE_CHALLENGE;
    /* Pipelined: every MAIL and RCPT answer and every refusal names its decision. */
    if (r->pipelined && (p.how == GIVE_REPLY || (tagged && p.how == GIVE_DEFAULT))) {
        if (p.how == GIVE_DEFAULT) p.how = GIVE_REPLY, p.code = 250;
        p.own_text = 1;
    }
    r->last_refused = p.how == GIVE_REPLY;
    if (p.how == GIVE_END && r->msgs < MAX_MSGS)
        r->accepted[r->msgs] = (unsigned char)(r->lmtp ? (rcpts > p.refuse_n ? 1 : 0) : 1);
    if (defer && r->npend < MAX_PEND) {
        FLOG(&r->ev, "defer %llu\n", (unsigned long long)id);
        p.id = id;
        r->pend[r->npend++] = p;
        return SMTP_SERVER_DEFER;
    }
    int rc = give(r, &p);
    if (rc != 0) {
        FLOG(&r->ev, "BUG give %s\n", smtp_error_name(rc));
        abort();
    }
    return 0;
}

static int decide(struct run *r, int refuse5, enum give accept, size_t rcpts)
{
    return decide_tagged(r, refuse5, accept, rcpts, 0);
}

/* ---- callbacks ---- */

static int on_connect(smtp_server *srv, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FLOG(&r->ev, "connect\n");
    return decide(r, 554, GIVE_DEFAULT, 0);
}

static int on_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FLOG(&r->ev, "helo %d", (int)verb);
    flog_span(&r->ev, "d", domain.ptr, domain.len);
    flog_str(&r->ev, "\n");
    return decide(r, 550, GIVE_DEFAULT, 0);
}

static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    struct run *r = ud;
    if (enter(r)) return -1;
    FUZZ_ASSERT(!r->in_message);
    flog_str(&r->ev, "mail");
    flog_span(&r->ev, "path", m->path.ptr, m->path.len);
    FLOG(&r->ev, " present=%x size=%llu body=%d", m->params.present,
         (unsigned long long)m->params.size, (int)m->params.body);
    if (m->auth.ptr) flog_span(&r->ev, "auth", m->auth.ptr, m->auth.len);
    const char *id = smtp_server_auth_identity(srv);
    if (id) flog_span(&r->ev, "id", id, strlen(id));
    flog_str(&r->ev, "\n");
    return decide_tagged(r, 550, GIVE_DEFAULT, 0, 1);
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    flog_str(&r->ev, "rcpt");
    flog_span(&r->ev, "path", rc->path.ptr, rc->path.len);
    FLOG(&r->ev, " index=%zu present=%x notify=%x\n", rc->index, rc->params.present,
         rc->params.notify);
    return decide_tagged(r, 550, GIVE_DEFAULT, 0, 1);
}

static int on_data_start(smtp_server *srv, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FUZZ_ASSERT(!r->in_message);
    FLOG(&r->ev, "data-start\n");
    r->end_open = 0;
    /* Until refused, content may come (a refused first BDAT drops its payload). */
    r->in_message = 1;
    r->content.len = 0;
    int rc = decide(r, 554, GIVE_DEFAULT, 0);
    if (rc == SMTP_SERVER_DEFER) {
        r->pend[r->npend - 1].data_start = 1;
        r->group_end_pending = 1;
    } else if (r->last_refused) {
        r->in_message = 0;
    }
    return rc;
}

/* Not counted and not logged call by call: how content is cut depends on the split. */
static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    struct run *r = ud;
    FUZZ_ASSERT(r->in_message);
    FUZZ_ASSERT(!r->group_end_pending);
    FUZZ_ASSERT(data.len > 0);
    flog_raw(&r->content, data.ptr, data.len);
    unsigned i = r->data_calls++;
    return (r->pause_mask >> (i % 8)) & 1 ? SMTP_PAUSE : 0;
}

static void log_content(struct run *r)
{
    FLOG(&r->ev, " content=%zu", r->content.len);
    flog_span(&r->ev, "c", r->content.buf, r->content.len);
    flog_str(&r->ev, "\n");
    r->content.len = 0;
}

static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    struct run *r = ud;
    if (enter(r)) return -1;
    FUZZ_ASSERT(r->in_message);
    FUZZ_ASSERT(msg->size == r->content.len);
    FUZZ_ASSERT(!msg->bdat || msg->data_flags == 0);
    r->in_message = 0;
    FLOG(&r->ev, "end size=%llu flags=%x bdat=%d rcpts=%zu", (unsigned long long)msg->size,
         msg->data_flags, msg->bdat, msg->recipients);
    if (r->envelope) {
        /* SMTP_SERVER_ENVELOPE: the sender and every accepted recipient, logged so that the
         * whole and split runs must agree on them too. */
        FUZZ_ASSERT(msg->sender.path.len > 0 && (msg->recipients == 0 || msg->rcpts));
        smtp_span h = smtp_server_helo(srv);
        FLOG(&r->ev, "envelope helo=%.*s from=%.*s %.*s", (int)h.len, h.ptr ? h.ptr : "",
             (int)msg->sender.path.len, msg->sender.path.ptr, (int)msg->sender.params.len,
             msg->sender.params.ptr ? msg->sender.params.ptr : "");
        for (size_t i = 0; i < msg->recipients; i++) {
            FUZZ_ASSERT(msg->rcpts[i].path.len > 0);
            FLOG(&r->ev, "envelope to=%.*s %.*s", (int)msg->rcpts[i].path.len,
                 msg->rcpts[i].path.ptr, (int)msg->rcpts[i].params.len,
                 msg->rcpts[i].params.ptr ? msg->rcpts[i].params.ptr : "");
        }
    } else {
        FUZZ_ASSERT(msg->rcpts == NULL && msg->sender.path.len == 0);
    }
    log_content(r);
    int rc = decide(r, 554, GIVE_END, msg->recipients);
    r->end_open = rc == SMTP_SERVER_DEFER;
    r->msgs++;
    return rc;
}

static int on_message_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    /* What on_data gave before the abort depends on how the input was split (the decoder
     * streams; a bare LF ends the message where it is seen): only the reason is logged. */
    /* One abort per message that on_data_start accepted (server.h), also after on_message_end
     * when its deferred decision was not complete (in LMTP the harness's deferred refusal
     * gives one reply of those owed) when the session ended. */
    FUZZ_ASSERT(r->in_message || r->end_open);
    r->end_open = 0;
    FLOG(&r->ev, "abort %s\n", smtp_server_abort_name(why));
    r->content.len = 0;
    r->in_message = 0;
    return 0;
}

static int on_reset(smtp_server *srv, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FLOG(&r->ev, "reset\n");
    /* A refused DATA end, or a refused first BDAT (its payload was dropped). */
    r->in_message = 0;
    return 0;
}

static int on_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    flog_str(&r->ev, "vrfy");
    flog_span(&r->ev, "arg", arg.ptr, arg.len);
    flog_str(&r->ev, "\n");
    return decide(r, 550, GIVE_DEFAULT, 0);
}

static int on_starttls(smtp_server *srv, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FLOG(&r->ev, "starttls\n");
    r->starttls_wait = 1;
    return 0;
}

static int on_tls_injection(smtp_server *srv, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FUZZ_ASSERT(r->starttls_wait);
    FLOG(&r->ev, "tls-injection\n");
    return 0;
}

static int on_auth(smtp_server *srv, const smtp_server_auth *a, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    flog_str(&r->ev, "auth");
    flog_span(&r->ev, "mech", a->mechanism.ptr, a->mechanism.len);
    flog_span(&r->ev, "zid", a->authzid.ptr, a->authzid.len);
    flog_span(&r->ev, "cid", a->authcid.ptr, a->authcid.len);
    flog_span(&r->ev, "pw", a->password.ptr, a->password.len);
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(a->authcid.len >= 1 && a->authcid.len <= 255 && a->password.len >= 1);
    return decide(r, 535, GIVE_DEFAULT, 0);
}

static int on_sasl(smtp_server *srv, const smtp_server_sasl *s, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    flog_str(&r->ev, "sasl");
    flog_span(&r->ev, "mech", s->mechanism.ptr, s->mechanism.len);
    FLOG(&r->ev, " step=%u has=%d", s->step, s->has_response);
    flog_span(&r->ev, "resp", s->response.ptr, s->response.len);
    flog_str(&r->ev, "\n");
    return decide(r, 535, GIVE_SASL_ACCEPT, 0);
}

static void log_xattrs(struct run *r, const char *what, const smtp_server_xattrs *x)
{
    const smtp_span *v[] = {&x->name,  &x->addr,     &x->port,     &x->proto, &x->helo,
                            &x->login, &x->destaddr, &x->destport, &x->ident, &x->source};
    FLOG(&r->ev, "%s present=%x", what, x->present);
    for (size_t i = 0; i < 10; i++)
        if (x->present & (1u << i)) flog_span(&r->ev, "v", v[i]->ptr, v[i]->len);
    flog_str(&r->ev, "\n");
}

static int on_xclient(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    log_xattrs(r, "xclient", x);
    return decide(r, 550, GIVE_DEFAULT, 0);
}

static int on_xforward(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    log_xattrs(r, "xforward", x);
    return decide(r, 550, GIVE_DEFAULT, 0);
}

static int on_proxy(smtp_server *srv, const smtp_server_proxy *px, void *ud)
{
    (void)srv;
    struct run *r = ud;
    if (enter(r)) return -1;
    FLOG(&r->ev, "proxy v=%d local=%d fam=%d sp=%u dp=%u", px->version, px->local, (int)px->family,
         px->src_port, px->dst_port);
    flog_span(&r->ev, "src", px->src_addr.ptr, px->src_addr.len);
    flog_span(&r->ev, "dst", px->dst_addr.ptr, px->dst_addr.len);
    flog_str(&r->ev, "\n");
    return 0;
}

/* ---- the adapter ---- */

/* Pulls every pending output octet, in pieces of the split's sizes (fdrain). */
static smtp_ssize server_write(void *srv, char *dest, size_t cap)
{
    return smtp_server_write(srv, dest, cap);
}

static void drain(struct run *r)
{
    FUZZ_ASSERT(fdrain(&r->out, r->split ? &r->sp : NULL, server_write, r->srv) == 0);
}

/* Answers one deferred decision (from the adapter, or from a callback). */
static void answer_one(struct run *r, const struct pending *p)
{
    if (r->failed) return;
    drain(r);
    /* Pending, unless a 421 closed the session and dropped it. */
    FUZZ_ASSERT(smtp_server_pending(r->srv) || smtp_server_want_close(r->srv));
    if (p->data_start) {
        r->group_end_pending = 0;
        if (p->how == GIVE_REPLY) r->in_message = 0;
    }
    int rc = give(r, p);
    FLOG(&r->ev, "answered %llu %s\n", (unsigned long long)p->id, smtp_error_name(rc));
    if (rc == SMTP_ERR_CALLBACK_FAILURE || rc == SMTP_ERR_NOMEM) {
        r->failed = 1;
    } else if (rc == SMTP_ERR_INVALID_STATE && smtp_server_want_close(r->srv)) {
        /* A 421 before it closed the session and dropped the decision. */
    } else if (rc != 0) {
        /* Every answer the harness gives is allowed where it gives it. */
        FUZZ_ASSERT(0);
    }
    drain(r);
}

/*
 * Answers the decisions deferred so far, in the order the input chooses; an answer may start
 * the next decision, deferred in turn: answered with the next batch.
 */
static void answer_pending(struct run *r)
{
    while (r->npend && !r->failed) {
        static struct pending batch[MAX_PEND];
        size_t n = r->npend;
        memcpy(batch, r->pend, n * sizeof *batch);
        r->npend = 0;
        unsigned x = r->order_seed * 2654435761u + ++r->batches;
        for (size_t left = n; left; left--) {
            size_t k = 0;
            if (r->order_seed) {
                x = x * 1103515245u + 12345u;
                k = (x >> 16) % left;
            }
            struct pending p = batch[k];
            memmove(batch + k, batch + k + 1, (left - 1 - k) * sizeof *batch);
            answer_one(r, &p);
        }
    }
}

static void feed_stream(struct run *r, const char *in, size_t len)
{
    size_t pos = 0, avail = r->split ? 0 : len;
    int injected_drop = 0;
    while (!r->failed) {
        /* Every step consumes, answers or waits for input: more steps is a livelock. */
        FUZZ_ASSERT(++r->steps < 8 * len + 10000);
        if (avail < pos) avail = pos;
        if (avail > len) avail = len;
        int more = avail < len;
        /* The handshake marker at the head of the input. */
        if (fmark_at(in + pos, avail - pos, TLS_MARK) > 0) {
            pos += sizeof TLS_MARK - 1;
            injected_drop = 0;
            if (r->starttls_wait) {
                drain(r);
                int rc = smtp_server_tls_done(r->srv, 1);
                FLOG(&r->ev, "tls-started %s\n", smtp_error_name(rc));
                r->starttls_wait = 0;
            }
            continue;
        }
        size_t n = fmark_feed_len(in + pos, avail - pos, more, TLS_MARK);
        if (injected_drop) {
            /* SMTP_SERVER_KEEP_TLS_INJECTION: the adapter drops the plaintext. */
            pos += n;
            if (n == 0 && more) avail += fsplit_piece(&r->sp);
            if (n == 0 && !more) break;
            continue;
        }
        if (n == 0) {
            if (!more) break;
            avail += fsplit_piece(&r->sp);
            continue;
        }
        int waiting_tls = r->starttls_wait;
        size_t out_before = r->out.len;
        char *piece = fcopy(in + pos, n);
        smtp_ssize got = smtp_server_read(r->srv, piece, n);
        free(piece);
        if (got < 0) {
            FLOG(&r->ev, "read error %s\n", smtp_error_name((int)got));
            /* Fatal errors are sticky. */
            smtp_ssize again = smtp_server_read(r->srv, "x", 1);
            FUZZ_ASSERT(again == got);
            r->failed = 1;
            break;
        }
        FUZZ_ASSERT((size_t)got <= n);
        pos += (size_t)got;
        drain(r);
        if (waiting_tls && r->starttls_wait && got == 0 && !smtp_server_want_close(r->srv)) {
            injected_drop = 1;
            continue;
        }
        /* The adapter answers once the engine takes no more input (it may read ahead first),
         * or once the input is all in and no more of it is taken. */
        int answered = r->npend && (!smtp_server_want_read(r->srv) || (got == 0 && !more));
        if (answered) answer_pending(r);
        /* A read may make progress without a byte (an empty chunk's reply). */
        if (got > 0 || answered || r->out.len != out_before) continue;
        /* Nothing consumed and nothing to answer: the engine will read no more of this. */
        if (smtp_server_want_close(r->srv) || !smtp_server_want_read(r->srv)) break;
        if (!more) break;
        avail += fsplit_piece(&r->sp);
    }
}

/* ---- output checks ---- */

static void check_output(const struct run *r)
{
    const char *p = r->out.buf;
    size_t n = r->out.len;
    FUZZ_ASSERT(fcrlf_clean(p, n, 0));
    FUZZ_ASSERT(n == 0 || p[n - 1] == '\n');
    int cont = 0, code = 0;
    size_t queued[MAX_MSGS] = {0};
    unsigned last_tag = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t ll = (size_t)(nl - (p + i)) + 1; /* with CRLF */
        const char *l = p + i;
        FUZZ_ASSERT(ll >= 5 && ll <= 512);
        FUZZ_ASSERT(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' &&
                    l[2] <= '9');
        int c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
        FUZZ_ASSERT(l[3] == ' ' || l[3] == '-' || l[3] == '\r');
        if (cont) FUZZ_ASSERT(c == code);
        code = c;
        cont = l[3] == '-';
        /* The acknowledgements (invariant 6). */
        static const char dflt[] = "Ok: queued";
        for (size_t k = 4; k + sizeof dflt - 1 <= ll; k++)
            FUZZ_ASSERT(memcmp(l + k, dflt, sizeof dflt - 1) != 0);
        /* Replies in command order: decisions are numbered in callback order. */
        for (size_t k = 4; k + 3 < ll; k++) {
            if (memcmp(l + k, "fz#", 3) != 0) continue;
            unsigned tag = (unsigned)strtoul(l + k + 3, NULL, 10);
            /* (an LMTP reply and a refused BDAT's repeat for the recipients and BDATs after) */
            FUZZ_ASSERT(tag >= last_tag && tag <= r->tags);
            last_tag = tag;
            break;
        }
        const char *q = NULL;
        for (size_t k = 4; k + 12 <= ll && !q; k++)
            if (memcmp(l + k, "Queued as FZ", 12) == 0) q = l + k + 12;
        if (q) {
            FUZZ_ASSERT(c == 250);
            size_t id = (size_t)strtoul(q, NULL, 10);
            FUZZ_ASSERT(id < r->msgs && id < MAX_MSGS && r->accepted[id]);
            queued[id]++;
            FUZZ_ASSERT(r->lmtp || queued[id] == 1);
        }
        i += ll;
    }
    FUZZ_ASSERT(!cont); /* the last reply is complete */
}

/* ---- one run ---- */

static void run_once(struct run *r, const uint8_t *data, size_t size, int split)
{
    const uint8_t *h = data;
    memset(r, 0, sizeof *r);
    r->hdr = h;
    r->split = split;
    fsplit_init(&r->sp, (unsigned)h[0] | (unsigned)h[1] << 8);
    fmem_init(&r->mem);

    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hostname = "mx.example.org";
    s.flags = h[2] & 0x3fu;
    r->lmtp = (s.flags & SMTP_SERVER_LMTP) != 0;
    r->strict = (s.flags & SMTP_SERVER_STRICT_PIPELINING) != 0;
    static const smtp_data_policy pol[4] = {SMTP_DATA_BARE_REJECT, SMTP_DATA_BARE_NORMALIZE,
                                            SMTP_DATA_BARE_ALLOW, SMTP_DATA_BARE_REJECT};
    s.bare_policy = pol[h[2] >> 6];
    s.extensions = ((unsigned)h[3] | (unsigned)h[4] << 8) & SMTP_SERVER_EXT_ALL;
    s.deliverby_min = 60;
    s.mt_priority_profile = "MIXER";
    s.future_release_interval = 604800;
    s.future_release_until = "2030-01-01T00:00:00Z";
    s.ehlo_keywords = "XSHADOW\nX-EXPIRES 86400";
    s.mail_param_names = "XSHADOW X-TAG";
    s.rcpt_param_names = "X-NOTE";
    s.cmd_flags = h[5] & 0xfu;
    static const uint64_t sizes[4] = {10240000, 100, 5000, 0};
    s.max_message_size = sizes[(h[5] >> 4) & 3];
    static const unsigned errs[4] = {20, 3, 0, 1};
    s.hard_error_limit = errs[h[5] >> 6];
    if (h[6] & 4) s.max_output = 4096;
    if (h[6] & 8) s.max_line = 512;
    s.trust = (h[6] >> 4) & 3u;
    if (h[6] & 0x40) s.auth_mechanisms = "PLAIN LOGIN XOAUTH2 CRAM-MD5";
    if (h[6] & 0x80) s.max_recipients = 100;
    r->fail_at = h[7] & 0x7fu;
    int prealloc = 1;
#ifdef SMTP_SERVER_PREALLOCATE
    prealloc = h[7] >> 7;
    if (prealloc) s.flags |= SMTP_SERVER_PREALLOCATE;
#endif
#ifdef SMTP_SERVER_ENVELOPE
    /* The envelope on half of the inputs (the piece-size seed's parity), not preallocated
     * (that would be (max_recipients + 1) * max_line octets per run). */
    r->envelope = !prealloc && ((h[0] ^ h[1]) & 1);
    if (r->envelope) s.flags |= SMTP_SERVER_ENVELOPE;
#endif
    r->pause_mask = h[16];
    static const size_t pendings[8] = {1, 2, 3, 4, 8, 16, 64, 1024};
    s.max_pending = pendings[h[17] & 7];
    r->pipelined = s.max_pending > 1;
#ifdef SMTP_SERVER_CHUNK_AHEAD
    /* A BDAT's chunk read ahead on half of the pipelined inputs (bit 1 of bytes 0 and 1). */
    if ((h[0] ^ h[1]) & 2) s.flags |= SMTP_SERVER_CHUNK_AHEAD;
#endif
    r->order_seed = (h[17] >> 3) & 15u;
    r->answer_in_callback = h[17] >> 7;

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
                                .on_proxy = on_proxy};
    int rc = smtp_server_new(&r->srv, &cb, &s, &r->mem.mem, r);
    if (rc < 0) {
        FUZZ_ASSERT(r->srv == NULL && r->mem.live == 0);
        FLOG(&r->ev, "new %s\n", smtp_error_name(rc));
        if (getenv("FUZZ_TRACE")) flog_dump("new failed", &r->ev);
        return;
    }
    /* DESIGN.md invariant 7: preallocated, nothing after _new; on demand, the output queue
     * doubles up to max_output (512 to 16384: 5 reallocations) and the decoding buffer comes
     * once: a small budget that does not grow with the input. The envelope's buffers double
     * too (its text from 256 octets, its address array from 8 up to max_recipients + 1,
     * the HELO name once): about 15 more within 4096 octets of input. */
    fmem_budget(&r->mem, prealloc ? 0 : r->envelope ? 32 : 8);
    rc = smtp_server_start(r->srv);
    FLOG(&r->ev, "start %s\n", smtp_error_name(rc));
    if (rc < 0) r->failed = 1;
    drain(r);
    answer_pending(r);

    feed_stream(r, (const char *)data + HEADER, size - HEADER);

    if (!r->failed) {
        answer_pending(r);
        int end = h[6] & 3;
        if (end == 1 || end == 2) {
            rc = end == 1 ? smtp_server_timeout_expired(r->srv) : smtp_server_shutdown(r->srv);
            FLOG(&r->ev, "%s %s\n", end == 1 ? "timeout" : "shutdown", smtp_error_name(rc));
            drain(r);
        }
        rc = smtp_server_eof(r->srv);
        FLOG(&r->ev, "eof %s\n", smtp_error_name(rc));
        drain(r);
        FLOG(&r->ev, "want-close=%d pending=%d\n", smtp_server_want_close(r->srv),
             smtp_server_pending(r->srv));
    }
    if (getenv("FUZZ_TRACE")) flog_dump(split ? "split run" : "whole run", &r->ev);
    check_output(r);
    smtp_server_del(r->srv);
    FUZZ_ASSERT(r->mem.live == 0);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    flog_free(&r->out);
    flog_free(&r->content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    static struct run whole, split;
    int strict = (data[2] & SMTP_SERVER_STRICT_PIPELINING) != 0;
    run_once(&split, data, size, 1);
    if (!strict) {
        run_once(&whole, data, size, 0);
        flog_same("event logs", &whole.ev, &split.ev);
        flog_same_output(&whole.out, &split.out, whole.failed);
        run_free(&whole);
    }
    run_free(&split);
    return 0;
}
