/* SPDX-License-Identifier: MIT */
/*
 * Loopback test: libsmtp's client against libsmtp's server, wired through two in-memory byte
 * queues (no socket), both driven through their public API only.
 *
 * How it works. A scenario fixes the server's extensions and flags and the client's settings;
 * a loop then plays every role at once: the client's application (it submits generated
 * messages one at a time, each with its body in memory or from a source that gives it in
 * pieces of random size and now and then has nothing ready), the server's application (policy
 * callbacks that refuse some senders and recipients, answer at once or defer, and record all
 * they were told), the two adapters (bytes move between the engines in pieces of random size:
 * one byte, a few, a page, or everything, so that commands, replies and data are split
 * everywhere) and the TLS layer (after STARTTLS both sides are told the handshake completed).
 *
 * Every message has a model, computed from its envelope and the scenario alone: which
 * extension it lacks, what the server decides for the sender, each recipient and the data,
 * and the body the server must receive (the application's bytes after the line-end
 * normalisation the mode implies). When the client reports the message, the test checks the
 * client's result, the client's per-recipient replies and the server's record of the
 * transaction (envelope, parameters, body byte for byte) against the model and against each
 * other. Each scenario also counts RSET and DATA commands on the wire, and both engines run on
 * a counting allocator: after _new, when they preallocate (SMTP_CLIENT_PREALLOCATE and
 * SMTP_SERVER_PREALLOCATE, half of the scenarios), neither may allocate anything at all,
 * however many messages go through; else each only grows its buffers to their bounds, a few
 * times at most.
 *
 * LOOPBACK_TRACE=<scenario name prefix> prints a scenario's conversation.
 */
#include "body_source.h"
#include "check.h"
#include "tls/refcrypto.h"
#include "tls/sasl_server.h"

#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/server.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR 8           /* recipients of one message */
#define LIMIT 200000u    /* the server's max_message_size */
#define OVERSIZE 250000u /* a body over it, longer than any client body buffer */
#define HELO "client.example.org"

/* ---- a seeded PRNG (xorshift64) and the transfer sizes ---- */

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static int chance(unsigned pct)
{
    return below(100) < pct;
}

/* How many bytes to move now: one, a few, a page, or everything (at most `avail`). */
static size_t piece(size_t avail)
{
    size_t n;
    switch (below(4)) {
    case 0: n = 1; break;
    case 1: n = 1 + below(16); break;
    case 2: n = 17 + below(4096); break;
    default: n = avail; break;
    }
    return n < avail ? n : avail;
}

/* ---- growable byte buffers (test memory, not counted) ---- */

struct buf {
    char *p;
    size_t head, len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->head && b->head + b->len + n > b->cap) {
        memmove(b->p, b->p + b->head, b->len);
        b->head = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) abort();
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->head + b->len, p, n);
    b->len += n;
}

static void buf_byte(struct buf *b, int c)
{
    char ch = (char)c;
    buf_add(b, &ch, 1);
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static const char *buf_data(const struct buf *b)
{
    return b->p ? b->p + b->head : "";
}

static void buf_drop(struct buf *b, size_t n)
{
    b->head += n;
    b->len -= n;
    if (!b->len) b->head = 0;
}

static void buf_clear(struct buf *b)
{
    b->head = b->len = 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int span_is(smtp_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static int span_prefix(smtp_span s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.ptr, p, n) == 0;
}

/* LOOPBACK_TRACE=<scenario name prefix> prints that scenario's conversation (debugging). */
static int tracing;

static void trace(const char *who, const char *p, size_t n)
{
    if (!tracing) return;
    fprintf(stderr, "%s ", who);
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n')
            fputs("\\n\n   ", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c < 32 || c > 126)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "%s\n", n > 300 ? "..." : "");
}

/* ---- a counting allocator ---- */

struct counter {
    size_t calls, live;
};

static void *cm_malloc(size_t n, void *ud)
{
    struct counter *c = ud;
    c->calls++;
    void *p = malloc(n);
    if (p) c->live++;
    return p;
}

static void cm_free(void *p, void *ud)
{
    struct counter *c = ud;
    if (p) c->live--;
    free(p);
}

static void *cm_calloc(size_t n, size_t s, void *ud)
{
    struct counter *c = ud;
    c->calls++;
    void *p = calloc(n, s);
    if (p) c->live++;
    return p;
}

static void *cm_realloc(void *p, size_t n, void *ud)
{
    struct counter *c = ud;
    c->calls++;
    void *q = realloc(p, n);
    if (q && !p) c->live++;
    return q;
}

/* ---- scenarios ---- */

struct scenario {
    char name[96];
    unsigned ext;   /* server extensions */
    unsigned flags; /* SMTP_SERVER_LMTP, SMTP_SERVER_TLS */
    int pipelining, chunking;
    smtp_client_tls_policy tls;
    int defer; /* the server defers half of its decisions */
    size_t nmsgs;
    int shutdown;       /* the server shuts down during the data of message nmsgs / 2 */
    int auth;           /* AUTH_*: the client authenticates, and how */
    int auth_plaintext; /* AUTH is offered (and allowed by the client) without TLS */
    size_t cli_out, cli_body, srv_out; /* buffer sizes; 0: default */
    int prealloc;                      /* both engines preallocate (SMTP_*_PREALLOCATE) */
};

/* Authentication (RFC 4954): the mechanism and how the exchange ends. */
enum {
    AUTH_NONE,
    AUTH_PLAIN,       /* picked by the client from "PLAIN LOGIN" */
    AUTH_LOGIN,       /* named by the client: two 334 challenges */
    AUTH_XOAUTH2,     /* named by the client, run by the server's on_sasl */
    AUTH_OAUTHBEARER, /* picked by the client for its token, with an authzid */
    AUTH_BADPASS,     /* 535: the session ends AUTH_FAILED */
    AUTH_NOPLAIN,     /* offered without TLS, refused by the client: AUTH_UNAVAILABLE */
    AUTH_SCRAM,       /* picked as the strongest, run by the server's on_sasl */
    AUTH_CRAM,        /* picked when SCRAM-SHA-256 is not offered */
    AUTH_SCRAM_BAD,   /* a wrong password: "e=", then 535: AUTH_FAILED */
    AUTH_SCRAM_FAKE   /* a server that does not know the password signs anyway: the client
                         ends the session (PROTOCOL) and sends nothing more */
};

/* The mechanisms run by on_sasl. */
static int auth_sasl(int auth)
{
    return auth >= AUTH_SCRAM;
}

#define SCRAM_ITERATIONS 4096

#define AUTH_USER "alice"
#define AUTH_PASS "s3cret"
#define AUTH_TOKEN "ya29.t0ken"
#define AUTH_ZID "bob"

/* What the session offers a message (derived from the scenario only). */
struct offer {
    int pipe, lmtp, tls, size, eight, utf8, bdat, binary, dsn, reqtls, prio, by, hold;
};

static struct offer offer_of(const struct scenario *sc)
{
    struct offer o;
    unsigned e = sc->ext;
    memset(&o, 0, sizeof o);
    o.pipe = sc->pipelining && (e & SMTP_SERVER_EXT_PIPELINING);
    o.lmtp = (sc->flags & SMTP_SERVER_LMTP) != 0;
    o.tls = (sc->flags & SMTP_SERVER_TLS) ||
            ((e & SMTP_SERVER_EXT_STARTTLS) && sc->tls != SMTP_CLIENT_TLS_NONE);
    o.size = (e & SMTP_SERVER_EXT_SIZE) != 0;
    o.eight = (e & SMTP_SERVER_EXT_8BITMIME) != 0;
    o.utf8 = (e & SMTP_SERVER_EXT_SMTPUTF8) != 0;
    o.bdat = (e & SMTP_SERVER_EXT_CHUNKING) && sc->chunking;
    o.binary = (e & SMTP_SERVER_EXT_BINARYMIME) && (e & SMTP_SERVER_EXT_CHUNKING);
    o.dsn = (e & SMTP_SERVER_EXT_DSN) != 0;
    o.reqtls = (e & SMTP_SERVER_EXT_REQUIRETLS) && o.tls;
    o.prio = (e & SMTP_SERVER_EXT_MT_PRIORITY) != 0;
    o.by = (e & SMTP_SERVER_EXT_DELIVERBY) != 0;
    o.hold = (e & SMTP_SERVER_EXT_FUTURERELEASE) != 0;
    return o;
}

/* ---- messages and their model ---- */

enum kind {
    K_PLAIN,
    K_8BIT,
    K_BINARY,
    K_UTF8,
    K_DSN,
    K_SIZE_OK,
    K_SIZE_OVER,
    K_REQTLS,
    K_PRIO,
    K_BY,
    K_HOLD,
    K_BIG,
    K_OVERSIZE,
    K_AON,
    K_EMPTY,
    K_COUNT
};

struct tmsg {
    smtp_client_message m;
    smtp_client_rcpt rc[MAXR];
    char sender[96], addr[MAXR][96], orcpt[MAXR][96], envid[96];
    struct buf body;   /* the message's body */
    struct buf expect; /* what the server must deliver */
    int source;        /* the body comes from src, else from memory */
    struct body_source src;
    enum kind kind;
    /* the model */
    int missing;         /* the extension the client must find missing, or -1 */
    int mail_code;       /* 250 or 550 */
    int rcpt_code[MAXR]; /* 250, 550, 450 */
    int lmtp_code[MAXR]; /* LMTP: after the data, for accepted recipients */
    int end_code;        /* SMTP: after the data */
    int utf8, oversize, data;
    /* what the client reported */
    int cli_rcpt[MAXR], cli_lmtp[MAXR];
};

/* The server's record of one transaction, from its callbacks. */
struct srv_rcpt {
    char mailbox[300];
    size_t mlen;
    unsigned present, notify;
    char orcpt[300];
    size_t olen;
    int code;
};

struct srv_txn {
    int mail_seen, mail_code, tls;
    char path[300];
    size_t plen;
    unsigned present;
    uint64_t size;
    smtp_body body;
    smtp_ret ret;
    char envid[128];
    size_t envid_len;
    int mt_priority;
    int64_t by_time;
    smtp_by_mode by_mode;
    int by_trace;
    uint32_t holdfor;
    int64_t holduntil_utc;
    size_t nrcpt;
    struct srv_rcpt r[MAXR];
    int data_started, ended, bdat, aborted;
    uint64_t end_size;
    size_t end_rcpts;
    struct buf content;
};

struct answer {
    int code;
    const char *enhanced, *text;
    int auth;             /* an AUTH acceptance: smtp_server_auth_accept(identity) */
    const char *identity; /* NULL: the default identity (on_auth only) */
};

struct world {
    const struct scenario *sc;
    struct offer o;
    smtp_client *cli;
    smtp_server *srv;
    struct counter cmem, smem;
    smtp_mem cli_mem, srv_mem; /* must outlive the engines */
    size_t cli_calls_new, srv_calls_new;
    struct buf c2s, s2c;
    /* the client's application */
    struct tmsg t;
    size_t next, cur;
    int active, quit_asked, cli_ended, starttls_seen;
    smtp_client_end end;
    int end_code;
    /* the server's application */
    struct srv_txn x;
    int srv_tls, srv_tls_wait, tls_handshakes;
    size_t helos, resets, aborts, auth_calls, sasl_steps;
    smtp_client_crypto cli_crypto, srv_crypto; /* the reference hook (tests/tls/refcrypto.h) */
    struct ref_crypto_state cli_crypto_state, srv_crypto_state;
    struct scram_srv scram;
    int scram_good;      /* the client's proof verified */
    int pend, pend_data; /* pend_data: the pending decision is on_data_start's */
    size_t pend_delay, pend_n, pend_i;
    size_t pend_gen; /* counts deferrals: an answer that led to a new one is seen */
    struct answer pend_ans[MAXR];
    /* the wire: RSET and DATA lines seen from the client */
    char line[64];
    size_t line_len;
    unsigned long long skip;
    size_t seen_rset, seen_data;
    size_t want_rset, want_rset_last, want_data;
    /* shutdown */
    int shutdown_done, shutdown_open;
    size_t shutdown_msg, shutdown_after;
    /* figures */
    size_t msgs, delivered, failed, unsupported, c2s_bytes, s2c_bytes;
};

/* The body the server must receive: bare LF and bare CR become CRLF unless the bytes go
 * unchanged (BINARYMIME); DATA also completes a last line without its CRLF (RFC 5321 4.5.2). */
static void normalise(struct tmsg *t, int bdat)
{
    const char *b = buf_data(&t->body);
    size_t n = t->body.len;
    buf_clear(&t->expect);
    if (t->m.body_type == SMTP_BODY_BINARYMIME) {
        buf_add(&t->expect, b, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\r') {
            buf_str(&t->expect, "\r\n");
            if (i + 1 < n && b[i + 1] == '\n') i++;
        } else if (b[i] == '\n') {
            buf_str(&t->expect, "\r\n");
        } else {
            buf_byte(&t->expect, b[i]);
        }
    }
    if (!bdat && t->expect.len && buf_data(&t->expect)[t->expect.len - 1] != '\n')
        buf_str(&t->expect, "\r\n");
}

/* Text of about `target` octets: lines that start with dots, end with CRLF, bare LF or bare CR
 * (the client normalises them), a few over 1000 octets, 8-bit bytes when `eight`. No capital
 * letter: the wire scanner looks for "RSET" and "DATA" lines. */
static void gen_text(struct buf *b, size_t target, int eight)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:-_";
    while (b->len < target) {
        size_t n = chance(2) ? 1001 + below(400) : below(90);
        switch (below(8)) {
        case 0: buf_byte(b, '.'); break;
        case 1: buf_str(b, ".."); break;
        case 2: buf_str(b, ".\r\n"); break;
        default: break;
        }
        for (size_t i = 0; i < n; i++)
            buf_byte(b, eight && chance(10) ? (int)(0x80 + below(0x80))
                                            : alpha[below(sizeof alpha - 1)]);
        size_t e = below(100);
        buf_str(b, e < 80 ? "\r\n" : e < 88 ? "\n" : e < 95 ? "\r" : "");
    }
}

/* Any byte: NUL, bare CR and LF, "\r\n.\r\n" all go through BDAT unchanged. */
static void gen_binary(struct buf *b, size_t target)
{
    while (b->len < target) {
        buf_byte(b, (int)below(256));
        if (chance(1)) buf_str(b, "\r\n.\r\n");
    }
}

static size_t source_piece(size_t left, void *user_data)
{
    (void)user_data;
    return piece(left);
}

/* The body: in memory, or from a source in pieces of random size that now and then has
 * nothing ready (SMTP_ERR_AGAIN), half the time each; always from a source when the message
 * declares its size (a body in memory gets the size the client computes). */
static void give_body(struct tmsg *t, const struct offer *o)
{
    t->source = t->kind == K_SIZE_OK || t->kind == K_SIZE_OVER || chance(50);
    if (!t->source) {
        t->m.body = buf_data(&t->body);
        t->m.body_len = t->body.len;
        /* Its exact size declared, a body over the limit is refused before MAIL (RFC 1870). */
        if (t->oversize && o->size) t->missing = SMTP_CAP_SIZE;
        return;
    }
    body_source_init(&t->src, buf_data(&t->body), t->body.len);
    t->src.next_piece = source_piece;
    if (chance(30)) {
        t->src.again_every = 1 + below(8);
        t->src.again_max = SIZE_MAX;
    }
    body_source_attach(&t->src, &t->m);
}

static void gen_message(struct world *w, struct tmsg *t, size_t idx)
{
    const struct offer *o = &w->o;
    smtp_client_message_init(&t->m);
    buf_clear(&t->body);
    t->kind = chance(30) ? K_PLAIN : (enum kind)below(K_COUNT);
    if (t->kind == K_OVERSIZE && !chance(20)) t->kind = K_PLAIN; /* slow: keep them rare */
    t->missing = -1;
    t->mail_code = 250;
    t->end_code = 250;
    t->utf8 = t->oversize = 0;
    memset(t->cli_rcpt, 0, sizeof t->cli_rcpt);
    memset(t->cli_lmtp, 0, sizeof t->cli_lmtp);

    /* sender: the local part decides the server's answers */
    size_t r = below(100);
    if (r < 5) {
        snprintf(t->sender, sizeof t->sender, "spammer%zu@example.org", idx);
        t->mail_code = 550;
    } else if (r < 10 && !o->lmtp) {
        snprintf(t->sender, sizeof t->sender, "rejectend%zu@example.org", idx);
        t->end_code = 554;
    } else if (r < 14 && !o->lmtp) {
        snprintf(t->sender, sizeof t->sender, "tempend%zu@example.org", idx);
        t->end_code = 451;
    } else if (r < 18) {
        t->sender[0] = '\0'; /* the null path */
    } else {
        snprintf(t->sender, sizeof t->sender, "s%zu@example.org", idx);
    }
    t->m.sender = t->sender;

    /* recipients */
    size_t nr = 1 + below(chance(10) ? MAXR : 3);
    for (size_t j = 0; j < nr; j++) {
        smtp_client_rcpt *rc = &t->rc[j];
        memset(rc, 0, sizeof *rc);
        r = below(100);
        t->rcpt_code[j] = 250;
        t->lmtp_code[j] = 250;
        if (r < 10) {
            snprintf(t->addr[j], sizeof t->addr[j], "bad%zu@example.net", j);
            t->rcpt_code[j] = 550;
        } else if (r < 18) {
            snprintf(t->addr[j], sizeof t->addr[j], "temp%zu@example.net", j);
            t->rcpt_code[j] = 450;
        } else if (r < 26) {
            snprintf(t->addr[j], sizeof t->addr[j], "fail%zu@example.net", j);
            if (o->lmtp) t->lmtp_code[j] = 552;
        } else if (r < 30) {
            snprintf(t->addr[j], sizeof t->addr[j], "Postmaster");
        } else {
            snprintf(t->addr[j], sizeof t->addr[j], "r%zu.%zu@example.net", idx, j);
        }
        rc->address = t->addr[j];
    }
    t->m.rcpts = t->rc;
    t->m.nrcpts = nr;

    /* the body */
    size_t len = chance(5) ? 2000 + below(20000) : below(600);
    switch (t->kind) {
    case K_8BIT:
        t->m.body_type = SMTP_BODY_8BITMIME;
        gen_text(&t->body, len, 1);
        if (!o->eight) t->missing = SMTP_CAP_8BITMIME;
        break;
    case K_BINARY:
        t->m.body_type = SMTP_BODY_BINARYMIME;
        gen_binary(&t->body, len);
        if (!o->binary)
            t->missing = SMTP_CAP_BINARYMIME;
        else if (!o->bdat)
            t->missing = SMTP_CAP_CHUNKING;
        break;
    case K_BIG: gen_text(&t->body, 60000 + below(20000), 0); break;
    case K_OVERSIZE:
        gen_text(&t->body, OVERSIZE, 0);
        t->oversize = 1;
        break;
    case K_EMPTY: break;
    default: gen_text(&t->body, len, 0); break;
    }

    /* the extension the message exercises */
    switch (t->kind) {
    case K_UTF8:
        snprintf(t->sender, sizeof t->sender,
                 "s\xc3\xa9nder%zu@b\xc3\xbc"
                 "cher.example",
                 idx);
        t->mail_code = t->end_code = 250;
        snprintf(t->addr[0], sizeof t->addr[0],
                 "\xc3\xbc%zu@b\xc3\xbc"
                 "cher.example",
                 idx);
        t->rcpt_code[0] = t->lmtp_code[0] = 250;
        t->utf8 = 1;
        if (!o->utf8) t->missing = SMTP_CAP_SMTPUTF8;
        break;
    case K_DSN:
        t->m.ret = chance(50) ? SMTP_RET_FULL : SMTP_RET_HDRS;
        if (chance(70)) {
            snprintf(t->envid, sizeof t->envid, "id+%zu=x y", idx); /* needs xtext */
            t->m.envid = t->envid;
        }
        for (size_t j = 0; j < nr; j++) {
            static const unsigned notes[] = {
                0, SMTP_NOTIFY_NEVER, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
                SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, SMTP_NOTIFY_DELAY};
            t->rc[j].notify = notes[below(5)];
            if (chance(50)) {
                snprintf(t->orcpt[j], sizeof t->orcpt[j], "orig+%zu=@example.com", j);
                t->rc[j].orcpt = t->orcpt[j];
            }
        }
        if (chance(50)) {
            t->m.flags |= SMTP_CLIENT_MSG_REQUIRE_DSN;
            if (!o->dsn) t->missing = SMTP_CAP_DSN;
        }
        break;
    case K_SIZE_OVER:
        t->m.size = LIMIT + 1 + below(1000);
        if (o->size) t->missing = SMTP_CAP_SIZE;
        break;
    case K_REQTLS:
        t->m.requiretls = 1;
        if (!o->reqtls) t->missing = SMTP_CAP_REQUIRETLS;
        break;
    case K_PRIO:
        t->m.mt_priority_set = 1;
        t->m.mt_priority = (int)below(19) - 9;
        if (chance(50)) {
            t->m.flags |= SMTP_CLIENT_MSG_REQUIRE_MT_PRIORITY;
            if (!o->prio) t->missing = SMTP_CAP_MT_PRIORITY;
        }
        break;
    case K_BY:
        t->m.by_mode = chance(50) ? SMTP_BY_RETURN : SMTP_BY_NOTIFY;
        t->m.by_time = 60 + (int64_t)below(86400);
        t->m.by_trace = chance(50);
        if (!o->by) t->missing = SMTP_CAP_DELIVERBY;
        break;
    case K_HOLD:
        /* Within the week the server announces with FUTURERELEASE; without it, the client's
         * clear refusal. */
        if (chance(50))
            t->m.holdfor = 1 + (uint32_t)below(3600);
        else
            t->m.holduntil = "2030-01-02T03:04:05Z";
        if (!o->hold) t->missing = SMTP_CAP_FUTURERELEASE;
        break;
    case K_AON: t->m.flags |= SMTP_CLIENT_MSG_ALL_OR_NOTHING; break;
    default: break;
    }

    normalise(t, o->bdat);
    if (t->kind == K_SIZE_OK && t->expect.len) t->m.size = t->expect.len;
    if (w->sc->shutdown && idx == w->shutdown_msg) {
        /* The message the server shuts down in: good, and long enough to be cut. */
        t->kind = K_PLAIN;
        t->missing = -1;
        t->mail_code = t->end_code = 250;
        snprintf(t->sender, sizeof t->sender, "s%zu@example.org", idx);
        snprintf(t->addr[0], sizeof t->addr[0], "r%zu@example.net", idx);
        t->rcpt_code[0] = t->lmtp_code[0] = 250;
        smtp_client_message_init(&t->m);
        t->m.sender = t->sender;
        memset(&t->rc[0], 0, sizeof t->rc[0]);
        t->rc[0].address = t->addr[0];
        t->m.rcpts = t->rc;
        t->m.nrcpts = 1;
        t->utf8 = t->oversize = 0;
        buf_clear(&t->body);
        gen_text(&t->body, 5000 + below(30000), 0);
        normalise(t, o->bdat);
    }
    give_body(t, o);

    /* the data goes out when some recipient is accepted (all of them, all or nothing) */
    size_t ok = 0;
    for (size_t j = 0; j < nr; j++)
        ok += t->rcpt_code[j] == 250;
    t->data = t->missing < 0 && t->mail_code == 250 && ok > 0 &&
              !((t->m.flags & SMTP_CLIENT_MSG_ALL_OR_NOTHING) && ok < nr);
}

/* ---- the server's application ---- */

static int give_answer(smtp_server *srv, const struct answer *a)
{
    if (a->auth)
        return smtp_server_auth_accept(srv, a->identity, a->identity ? strlen(a->identity) : 0);
    return smtp_server_reply(srv, a->code, a->enhanced, a->text, a->text ? strlen(a->text) : 0);
}

static int srv_decide(struct world *w, smtp_server *srv, const struct answer *a, size_t n)
{
    static const struct answer accept = {0, NULL, NULL, 0, NULL};
    if (n == 0) a = &accept, n = 1;
    if (w->sc->defer && chance(50)) {
        memcpy(w->pend_ans, a, n * sizeof *a);
        w->pend_gen++;
        w->pend = 1;
        w->pend_n = n;
        w->pend_i = 0;
        w->pend_delay = below(4);
        w->pend_data = 0;
        return SMTP_SERVER_DEFER;
    }
    for (size_t i = 0; i < n; i++)
        CHECK_INT(give_answer(srv, &a[i]), 0);
    return 0;
}

/* The loop answers a deferred decision; an output queue without room makes it retry later. */
static int answer_pending(struct world *w)
{
    if (!w->pend) return 0;
    if (w->pend_delay) {
        w->pend_delay--;
        return 1;
    }
    while (w->pend_i < w->pend_n) {
        /* An answer may start the next decision at once (a deferred first "BDAT 0 LAST"
         * ends the message when answered), which may be deferred in its turn. */
        struct answer a = w->pend_ans[w->pend_i];
        size_t gen = w->pend_gen;
        int r = give_answer(w->srv, &a);
        if (r == SMTP_ERR_NOBUF) return 0;
        CHECK_INT(r, 0);
        if (w->pend_gen != gen) return 1;
        w->pend_i++;
    }
    w->pend = 0;
    CHECK(!smtp_server_pending(w->srv));
    return 1;
}

static int s_connect(smtp_server *srv, void *ud)
{
    return srv_decide(ud, srv, NULL, 0);
}

static int s_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    struct world *w = ud;
    w->helos++;
    CHECK_INT(verb, w->o.lmtp ? SMTP_VERB_LHLO : SMTP_VERB_EHLO);
    CHECK(span_is(domain, HELO));
    return srv_decide(w, srv, NULL, 0);
}

static void copy_span(char *dst, size_t cap, size_t *len, smtp_span s)
{
    *len = s.len < cap ? s.len : cap;
    memcpy(dst, s.ptr, *len);
}

static int s_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    struct world *w = ud;
    struct srv_txn *x = &w->x;
    const smtp_mail_params *p = &m->params;
    CHECK(!x->mail_seen); /* one transaction per message */
    x->mail_seen = 1;
    x->tls = w->srv_tls;
    /* Authenticated as the exchange said, for the whole session (RSET and EHLO keep it). */
    const char *id = smtp_server_auth_identity(srv);
    const char *want_id = w->sc->auth == AUTH_NONE          ? NULL
                          : w->sc->auth == AUTH_OAUTHBEARER ? AUTH_ZID
                                                            : AUTH_USER;
    CHECK(want_id ? id && strcmp(id, want_id) == 0 : id == NULL);
    copy_span(x->path, sizeof x->path, &x->plen, m->path);
    x->present = p->present;
    x->size = p->size;
    x->body = p->body;
    x->ret = p->ret;
    x->envid_len = 0;
    if (p->present & SMTP_MAIL_ENVID) {
        smtp_ssize n = smtp_xtext_decode(p->envid.ptr, p->envid.len, x->envid, sizeof x->envid);
        CHECK(n >= 0);
        x->envid_len = n > 0 ? (size_t)n : 0;
    }
    x->mt_priority = p->mt_priority;
    x->by_time = p->by_time;
    x->by_mode = p->by_mode;
    x->by_trace = p->by_trace;
    x->holdfor = p->holdfor;
    x->holduntil_utc = p->holduntil_utc;
    struct answer no = {550, "5.7.1", "Sender rejected", 0, NULL};
    x->mail_code = span_prefix(m->parsed.local, "spammer") ? 550 : 250;
    return srv_decide(w, srv, &no, x->mail_code == 550);
}

static int s_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    struct world *w = ud;
    struct srv_txn *x = &w->x;
    CHECK(x->nrcpt < MAXR);
    if (x->nrcpt == MAXR) return -1;
    struct srv_rcpt *r = &x->r[x->nrcpt++];
    copy_span(r->mailbox, sizeof r->mailbox, &r->mlen, rc->parsed.mailbox);
    r->present = rc->params.present;
    r->notify = rc->params.notify;
    r->olen = 0;
    if (rc->params.present & SMTP_RCPT_ORCPT) {
        CHECK_INT(rc->params.orcpt_type, SMTP_ORCPT_RFC822);
        smtp_ssize n = smtp_xtext_decode(rc->params.orcpt_addr.ptr, rc->params.orcpt_addr.len,
                                         r->orcpt, sizeof r->orcpt);
        CHECK(n >= 0);
        r->olen = n > 0 ? (size_t)n : 0;
    }
    struct answer a = {0, NULL, NULL, 0, NULL};
    r->code = 250;
    if (span_prefix(rc->parsed.local, "bad"))
        a = (struct answer){550, "5.1.1", "User unknown", 0, NULL}, r->code = 550;
    else if (span_prefix(rc->parsed.local, "temp"))
        a = (struct answer){450, "4.2.1", "Try later", 0, NULL}, r->code = 450;
    return srv_decide(w, srv, &a, a.code != 0);
}

static int s_data_start(smtp_server *srv, void *ud)
{
    struct world *w = ud;
    w->x.data_started++;
    buf_clear(&w->x.content);
    int r = srv_decide(w, srv, NULL, 0);
    w->pend_data = r == SMTP_SERVER_DEFER;
    return r;
}

static int s_data(smtp_server *srv, smtp_span data, void *ud)
{
    struct world *w = ud;
    (void)srv;
    CHECK(data.len > 0);
    buf_add(&w->x.content, data.ptr, data.len);
    /* Flow control now and then, and where the loop will shut the server down. */
    if (w->sc->shutdown && !w->shutdown_done && w->cur == w->shutdown_msg &&
        w->x.content.len >= w->shutdown_after)
        return SMTP_PAUSE;
    return chance(3) ? SMTP_PAUSE : 0;
}

static int s_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    struct world *w = ud;
    struct srv_txn *x = &w->x;
    x->ended++;
    x->end_size = msg->size;
    x->bdat = msg->bdat;
    x->end_rcpts = msg->recipients;
    CHECK_INT(msg->size, x->content.len);
    struct answer a[MAXR];
    size_t n = 0;
    if (w->o.lmtp) {
        /* RFC 2033 4.2: one reply per accepted recipient, in order. */
        for (size_t i = 0; i < x->nrcpt; i++) {
            if (x->r[i].code != 250) continue;
            if (span_prefix((smtp_span){x->r[i].mailbox, x->r[i].mlen}, "fail"))
                a[n++] = (struct answer){552, "5.2.2", "Mailbox full", 0, NULL};
            else
                a[n++] = (struct answer){250, "2.1.5", "Delivered", 0, NULL};
        }
    } else if (span_prefix((smtp_span){x->path, x->plen}, "<rejectend")) {
        a[n++] = (struct answer){554, "5.6.0", "Content rejected", 0, NULL};
    } else if (span_prefix((smtp_span){x->path, x->plen}, "<tempend")) {
        a[n++] = (struct answer){451, "4.3.0", "Queue full", 0, NULL};
    }
    return srv_decide(w, srv, a, n);
}

static int s_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    struct world *w = ud;
    (void)srv;
    w->x.aborted = (int)why;
    w->aborts++;
    return 0;
}

static int s_reset(smtp_server *srv, void *ud)
{
    struct world *w = ud;
    (void)srv;
    w->resets++;
    return 0;
}

/* AUTH PLAIN and LOGIN: the credentials the client was given, and only over TLS unless the
 * scenario allows plaintext (RFC 4954 4). */
static int s_auth(smtp_server *srv, const smtp_server_auth *a, void *ud)
{
    struct world *w = ud;
    w->auth_calls++;
    CHECK(w->srv_tls || w->sc->auth_plaintext);
    CHECK(span_is(a->mechanism, w->sc->auth == AUTH_LOGIN ? "LOGIN" : "PLAIN"));
    CHECK(span_is(a->authcid, AUTH_USER));
    CHECK_INT(a->authzid.len, 0);
    if (!span_is(a->password, AUTH_PASS)) {
        struct answer no = {535, "5.7.8", "Authentication credentials invalid", 0, NULL};
        return srv_decide(w, srv, &no, 1);
    }
    struct answer yes = {0, NULL, NULL, 1, NULL};
    return srv_decide(w, srv, &yes, 1);
}

/* SCRAM-SHA-256 (RFC 5802) and CRAM-MD5 (RFC 2195): challenges at once, the verdict through
 * srv_decide (deferred or not). */
static int s_sasl_crypto(struct world *w, smtp_server *srv, const smtp_server_sasl *step)
{
    char out[512];
    const char *pass = w->sc->auth == AUTH_SCRAM_FAKE ? "not the password" : AUTH_PASS;
    struct answer yes = {0, NULL, NULL, 1, AUTH_USER};
    struct answer no = {535, "5.7.8", "Authentication credentials invalid", 0, NULL};
    if (span_is(step->mechanism, "CRAM-MD5")) {
        CHECK(w->sc->auth == AUTH_CRAM);
        if (step->step == 0) {
            CHECK(!step->has_response);
            return smtp_server_auth_challenge(srv, SASL_SRV_CRAM_CHALLENGE,
                                              strlen(SASL_SRV_CRAM_CHALLENGE));
        }
        CHECK_INT(step->step, 1);
        int ok = cram_srv_check(&w->srv_crypto, AUTH_USER, AUTH_PASS, step->response.ptr,
                                step->response.len);
        CHECK(ok);
        return srv_decide(w, srv, ok ? &yes : &no, 1);
    }
    CHECK(span_is(step->mechanism, "SCRAM-SHA-256"));
    CHECK(w->sc->auth == AUTH_SCRAM || w->sc->auth == AUTH_SCRAM_BAD ||
          w->sc->auth == AUTH_SCRAM_FAKE);
    int n;
    switch (step->step) {
    case 0:
        CHECK(step->has_response);
        n = scram_srv_first(&w->scram, &w->srv_crypto, pass, SCRAM_ITERATIONS, step->response.ptr,
                            step->response.len, out, sizeof out);
        CHECK(n > 0);
        CHECK(strcmp(w->scram.user, AUTH_USER) == 0);
        return smtp_server_auth_challenge(srv, out, n > 0 ? (size_t)n : 0);
    case 1:
        n = scram_srv_final(&w->scram, &w->srv_crypto, w->sc->auth == AUTH_SCRAM_FAKE,
                            step->response.ptr, step->response.len, out, sizeof out);
        CHECK(n >= 0);
        CHECK_INT(n, w->sc->auth == AUTH_SCRAM);
        w->scram_good = n == 1;
        return smtp_server_auth_challenge(srv, out, strlen(out));
    default:
        /* The empty response to the server-final message (RFC 4954 4); never after a
         * signature the client could not verify. */
        CHECK_INT(step->step, 2);
        CHECK(w->sc->auth != AUTH_SCRAM_FAKE);
        CHECK_INT(step->response.len, 0);
        return srv_decide(w, srv, w->scram_good ? &yes : &no, 1);
    }
}

/* XOAUTH2 and OAUTHBEARER (RFC 7628 3.1): the initial response carries the bearer token. */
static int s_sasl(smtp_server *srv, const smtp_server_sasl *step, void *ud)
{
    struct world *w = ud;
    w->sasl_steps++;
    if (step->step == 0) w->auth_calls++;
    CHECK(w->srv_tls || w->sc->auth_plaintext);
    if (auth_sasl(w->sc->auth)) return s_sasl_crypto(w, srv, step);
    CHECK_INT(step->step, 0);
    CHECK(step->has_response);
    if (span_is(step->mechanism, "XOAUTH2")) {
        CHECK(w->sc->auth == AUTH_XOAUTH2);
        CHECK(span_is(step->response, "user=" AUTH_USER "\001auth=Bearer " AUTH_TOKEN "\001\001"));
    } else {
        CHECK(span_is(step->mechanism, "OAUTHBEARER") && w->sc->auth == AUTH_OAUTHBEARER);
        CHECK(span_is(step->response, "n,a=" AUTH_ZID ",\001auth=Bearer " AUTH_TOKEN "\001\001"));
    }
    struct answer yes = {0, NULL, NULL, 1, w->sc->auth == AUTH_XOAUTH2 ? AUTH_USER : AUTH_ZID};
    return srv_decide(w, srv, &yes, 1);
}

static int s_starttls(smtp_server *srv, void *ud)
{
    struct world *w = ud;
    (void)srv;
    w->srv_tls_wait = 1;
    return 0;
}

static int s_tls_injection(smtp_server *srv, void *ud)
{
    (void)srv, (void)ud;
    CHECK(0); /* the client never sends past STARTTLS */
    return 0;
}

/* ---- the client's application and the checks of each message ---- */

static int c_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                  void *ud)
{
    struct world *w = ud;
    (void)cli;
    size_t index = (size_t)(rcpt - w->t.m.rcpts);
    int after_data = r->command != SMTP_VERB_RCPT;
    CHECK(w->active && rcpt >= w->t.m.rcpts && index < w->t.m.nrcpts);
    if (index >= MAXR) return -1;
    int *slot = after_data ? &w->t.cli_lmtp[index] : &w->t.cli_rcpt[index];
    CHECK_INT(*slot, 0); /* one reply each */
    *slot = r->code;
    /* LMTP: the replies after the data answer DATA, or BDAT LAST. */
    smtp_verb data = w->o.bdat ? SMTP_VERB_BDAT : SMTP_VERB_DATA;
    CHECK_INT(r->command, after_data ? data : SMTP_VERB_RCPT);
    return 0;
}

static void check_params(struct world *w, const struct tmsg *t)
{
    const struct srv_txn *x = &w->x;
    const struct offer *o = &w->o;
    unsigned pr = x->present;
    if (t->source) {
        /* The size the application declared, if any. */
        CHECK_INT(!!(pr & SMTP_MAIL_SIZE), o->size && t->m.size);
        if (pr & SMTP_MAIL_SIZE) CHECK_INT(x->size, t->m.size);
    } else {
        /* A body in memory: computed by the client, as transmitted (RFC 1870 3). */
        CHECK_INT(!!(pr & SMTP_MAIL_SIZE), o->size && t->expect.len);
        if (pr & SMTP_MAIL_SIZE) CHECK_INT(x->size, t->expect.len);
    }
    if (t->m.body_type == SMTP_BODY_8BITMIME || t->m.body_type == SMTP_BODY_BINARYMIME) {
        CHECK(pr & SMTP_MAIL_BODY);
        CHECK_INT(x->body, t->m.body_type);
    } else {
        CHECK(!(pr & SMTP_MAIL_BODY));
    }
    CHECK_INT(!!(pr & SMTP_MAIL_SMTPUTF8), t->utf8);
    CHECK_INT(!!(pr & SMTP_MAIL_RET), o->dsn && t->m.ret != SMTP_RET_NONE);
    if (pr & SMTP_MAIL_RET) CHECK_INT(x->ret, t->m.ret);
    CHECK_INT(!!(pr & SMTP_MAIL_ENVID), o->dsn && t->m.envid);
    if (pr & SMTP_MAIL_ENVID) CHECK_MEM(x->envid, x->envid_len, t->m.envid);
    CHECK_INT(!!(pr & SMTP_MAIL_REQUIRETLS), t->m.requiretls);
    CHECK_INT(!!(pr & SMTP_MAIL_MT_PRIORITY), t->m.mt_priority_set && o->prio);
    if (pr & SMTP_MAIL_MT_PRIORITY) CHECK_INT(x->mt_priority, t->m.mt_priority);
    CHECK_INT(!!(pr & SMTP_MAIL_BY), t->m.by_mode != SMTP_BY_NONE);
    if (pr & SMTP_MAIL_BY) {
        CHECK_INT(x->by_time, t->m.by_time);
        CHECK_INT(x->by_mode, t->m.by_mode);
        CHECK_INT(x->by_trace, t->m.by_trace);
    }
    /* FUTURERELEASE (RFC 4865) as the application asked, when the server offers it. */
    CHECK_INT(!!(pr & SMTP_MAIL_HOLDFOR), t->m.holdfor != 0);
    if (pr & SMTP_MAIL_HOLDFOR) CHECK_INT(x->holdfor, t->m.holdfor);
    CHECK_INT(!!(pr & SMTP_MAIL_HOLDUNTIL), t->m.holduntil != NULL);
    if (pr & SMTP_MAIL_HOLDUNTIL) CHECK(x->holduntil_utc == 1893553445); /* 2030-01-02T03:04:05Z */
    CHECK(!(pr & SMTP_MAIL_AUTH));
    CHECK_INT(x->tls, o->tls);
}

static void check_rcpts(struct world *w, const struct tmsg *t)
{
    const struct srv_txn *x = &w->x;
    CHECK_INT(x->nrcpt, t->m.nrcpts);
    for (size_t i = 0; i < x->nrcpt && i < t->m.nrcpts; i++) {
        const struct srv_rcpt *r = &x->r[i];
        const smtp_client_rcpt *c = &t->rc[i];
        CHECK_MEM(r->mailbox, r->mlen, c->address);
        CHECK_INT(r->code, t->rcpt_code[i]);
        CHECK_INT(t->cli_rcpt[i], r->code);
        CHECK_INT(!!(r->present & SMTP_RCPT_NOTIFY), w->o.dsn && c->notify);
        if (r->present & SMTP_RCPT_NOTIFY) CHECK_INT(r->notify, c->notify);
        CHECK_INT(!!(r->present & SMTP_RCPT_ORCPT), w->o.dsn && c->orcpt);
        if (r->present & SMTP_RCPT_ORCPT) CHECK_MEM(r->orcpt, r->olen, c->orcpt);
    }
}

/* The reply that decided a message whose recipients all failed (or one, all or nothing). */
static int first_refusal(const struct tmsg *t)
{
    for (size_t i = 0; i < t->m.nrcpts; i++)
        if (t->rcpt_code[i] != 250) return t->rcpt_code[i];
    return 0;
}

static int any_temp(const struct tmsg *t)
{
    for (size_t i = 0; i < t->m.nrcpts; i++)
        if (t->rcpt_code[i] / 100 == 4) return 1;
    return 0;
}

static void check_status(const smtp_client_result *res, int status, int code, smtp_verb verb)
{
    CHECK_INT(res->status, status);
    CHECK(res->reply != NULL);
    if (!res->reply) return;
    CHECK_INT(res->reply->code, code);
    if (verb != SMTP_VERB_UNKNOWN) CHECK_INT(res->reply->command, verb);
}

static void check_data(struct world *w, const struct tmsg *t, const smtp_client_result *res)
{
    const struct srv_txn *x = &w->x;
    CHECK_INT(x->data_started, 1);
    if (t->oversize) {
        /* Over max_message_size: the server drops it and answers 552 (RFC 1870 6.2). */
        CHECK_INT(x->aborted, SMTP_SERVER_ABORT_SIZE);
        CHECK_INT(x->ended, 0);
        check_status(res, SMTP_CLIENT_PERMFAIL, 552, SMTP_VERB_UNKNOWN);
        return;
    }
    CHECK_INT(x->ended, 1);
    CHECK_INT(x->bdat, w->o.bdat);
    CHECK_INT(x->end_size, t->expect.len);
    CHECK(x->content.len == t->expect.len &&
          memcmp(buf_data(&x->content), buf_data(&t->expect), t->expect.len) == 0);
    size_t accepted = 0;
    for (size_t i = 0; i < t->m.nrcpts; i++)
        accepted += t->rcpt_code[i] == 250;
    CHECK_INT(x->end_rcpts, accepted);
    smtp_verb verb = w->o.bdat ? SMTP_VERB_BDAT : SMTP_VERB_DATA;
    if (w->o.lmtp) {
        int delivered = 0, last = 0;
        for (size_t i = 0; i < t->m.nrcpts; i++) {
            int want = t->rcpt_code[i] == 250 ? t->lmtp_code[i] : 0;
            CHECK_INT(t->cli_lmtp[i], want);
            if (want) last = want;
            delivered |= want == 250;
        }
        check_status(res, delivered ? SMTP_CLIENT_DELIVERED : SMTP_CLIENT_PERMFAIL, last, verb);
        return;
    }
    int status = t->end_code == 250   ? SMTP_CLIENT_DELIVERED
                 : t->end_code >= 500 ? SMTP_CLIENT_PERMFAIL
                                      : SMTP_CLIENT_TEMPFAIL;
    check_status(res, status, t->end_code, verb);
}

static void check_message(struct world *w, struct tmsg *t, const smtp_client_result *res)
{
    struct srv_txn *x = &w->x;
    /* The per-message counts agree with the per-recipient replies. */
    size_t ok = 0, rej = 0, lok = 0, lrej = 0, lmtp = 0;
    for (size_t i = 0; i < t->m.nrcpts; i++) {
        if (t->cli_rcpt[i]) *(t->cli_rcpt[i] / 100 == 2 ? &ok : &rej) += 1;
        if (t->cli_lmtp[i]) *(t->cli_lmtp[i] / 100 == 2 ? &lok : &lrej) += 1, lmtp = 1;
    }
    CHECK_INT(res->accepted, lmtp ? lok : ok);
    CHECK_INT(res->rejected, rej + lrej);

    if (t->missing >= 0) {
        /* Refused by the client before anything was sent. */
        CHECK_INT(res->status, SMTP_CLIENT_UNSUPPORTED);
        CHECK_INT(res->missing, t->missing);
        CHECK(res->reply == NULL);
        CHECK_INT(x->mail_seen, 0);
        CHECK_INT(ok + rej, 0);
        w->unsupported++;
        return;
    }
    CHECK_INT(x->mail_seen, 1);
    char path[128];
    snprintf(path, sizeof path, "<%s>", t->sender);
    CHECK_MEM(x->path, x->plen, path);
    check_params(w, t);
    if (t->mail_code != 250) {
        CHECK_INT(x->mail_code, t->mail_code);
        check_status(res, SMTP_CLIENT_PERMFAIL, t->mail_code, SMTP_VERB_MAIL);
        CHECK_INT(x->nrcpt, 0);
        for (size_t i = 0; i < t->m.nrcpts; i++) /* pipelined RCPTs: 503 */
            CHECK(t->cli_rcpt[i] == 0 || t->cli_rcpt[i] / 100 == 5);
        CHECK_INT(x->data_started, 0);
        return;
    }
    check_rcpts(w, t);
    if (!t->data) {
        /* No DATA (or an empty DATA answered 554): the transaction is reset. */
        check_status(res, any_temp(t) ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL,
                     first_refusal(t), SMTP_VERB_RCPT);
        CHECK_INT(x->data_started, 0);
        CHECK_INT(x->ended, 0);
        return;
    }
    check_data(w, t, res);
}

/* Does the scenario's AUTH end the session before any message? */
static int auth_ends(const struct scenario *sc)
{
    return sc->auth == AUTH_BADPASS || sc->auth == AUTH_NOPLAIN || sc->auth == AUTH_SCRAM_BAD ||
           sc->auth == AUTH_SCRAM_FAKE;
}

static void on_auth_end_message(struct world *w, const smtp_client_result *res)
{
    /* The message never went out: a refusal (535) fails it for good, a local refusal to send
     * credentials in clear fails it temporarily. */
    CHECK_INT(w->x.mail_seen, 0);
    if (w->sc->auth == AUTH_SCRAM_FAKE) {
        /* The session failed on the server's signature: the deciding reply is its 334. */
        CHECK_INT(res->status, SMTP_CLIENT_TEMPFAIL);
        CHECK(res->reply && res->reply->code == 334);
    } else if (w->sc->auth == AUTH_BADPASS || w->sc->auth == AUTH_SCRAM_BAD) {
        CHECK_INT(res->status, SMTP_CLIENT_PERMFAIL);
        CHECK(res->reply && res->reply->code == 535);
    } else {
        CHECK_INT(res->status, SMTP_CLIENT_TEMPFAIL);
        CHECK(res->reply == NULL);
    }
}

static void on_shutdown_message(struct world *w, const smtp_client_result *res)
{
    /* RFC 5321 3.8: a 421 ends the message temporarily; the server dropped what it had. */
    CHECK_INT(res->status, SMTP_CLIENT_TEMPFAIL);
    CHECK(res->reply && res->reply->code == 421);
    CHECK_INT(w->x.aborted, w->shutdown_open ? SMTP_SERVER_ABORT_SHUTDOWN : 0);
}

/* Counts what the message owes the wire: an RSET after a failure that left the transaction
 * open (or in doubt), a DATA command when the data goes out with DATA. */
static void count_wire(struct world *w, const struct tmsg *t)
{
    int rset = 0;
    if (t->missing < 0 && t->mail_code == 250)
        /* RFC 3030 2: after a failed BDAT (LAST too) the state is indeterminate: RSET. */
        rset = !t->data || (w->o.bdat && (t->oversize || (!w->o.lmtp && t->end_code != 250)));
    if (tracing && rset) fprintf(stderr, "-- RSET expected\n");
    if (w->next == w->sc->nmsgs)
        w->want_rset_last = (size_t)rset; /* QUIT may make it needless */
    else
        w->want_rset += (size_t)rset;
    if (t->data && !w->o.bdat) w->want_data++;
}

static int c_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct world *w = ud;
    (void)cli;
    struct tmsg *t = &w->t;
    CHECK(w->active);
    if (tracing)
        fprintf(stderr, "-- message %zu kind %d: %s %d, accepted %zu rejected %zu\n", w->cur,
                (int)t->kind, smtp_client_status_name(res->status),
                res->reply ? res->reply->code : 0, res->accepted, res->rejected);
    if (w->shutdown_done && w->cur == w->shutdown_msg)
        on_shutdown_message(w, res);
    else if (auth_ends(w->sc))
        on_auth_end_message(w, res);
    else
        check_message(w, t, res);
    count_wire(w, t);
    w->msgs++;
    if (res->status == SMTP_CLIENT_DELIVERED)
        w->delivered++;
    else if (res->status != SMTP_CLIENT_UNSUPPORTED)
        w->failed++;
    /* The next transaction starts from a clean record. */
    struct buf keep = w->x.content;
    memset(&w->x, 0, sizeof w->x);
    w->x.content = keep;
    buf_clear(&w->x.content);
    w->active = 0;
    return 0;
}

static int c_starttls(smtp_client *cli, void *ud)
{
    struct world *w = ud;
    (void)cli;
    w->starttls_seen++;
    return 0;
}

static int c_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct world *w = ud;
    (void)cli;
    CHECK(!w->cli_ended);
    w->cli_ended = 1;
    w->end = res->end;
    w->end_code = res->reply ? res->reply->code : 0;
    return 0;
}

/* ---- the loop ---- */

/* Reads the client's bytes as lines, skipping BDAT payloads by their size, and counts the
 * RSET and DATA commands. (DATA bodies never hold such a line: no capital letters.) */
static void scan_wire(struct world *w, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w->skip) {
            w->skip--;
            continue;
        }
        if (w->line_len < sizeof w->line) w->line[w->line_len] = p[i];
        w->line_len++;
        if (p[i] != '\n') continue;
        smtp_span l = {w->line, w->line_len < sizeof w->line ? w->line_len : sizeof w->line};
        if (span_is(l, "RSET\r\n")) {
            w->seen_rset++;
            if (tracing) fprintf(stderr, "-- wire RSET\n");
        }
        if (span_is(l, "DATA\r\n")) w->seen_data++;
        if (span_prefix(l, "BDAT ")) w->skip = strtoull(w->line + 5, NULL, 10);
        w->line_len = 0;
    }
}

static int app_step(struct world *w)
{
    int progress = 0;
    if (!w->active && !w->quit_asked && !w->cli_ended) {
        if (w->next < w->sc->nmsgs) {
            w->cur = w->next++;
            gen_message(w, &w->t, w->cur);
            w->active = 1; /* first: on_message may come from inside submit */
            CHECK_INT(smtp_client_submit(w->cli, &w->t.m), 0);
        } else {
            CHECK_INT(smtp_client_quit(w->cli), 0);
            w->quit_asked = 1;
        }
        progress = 1;
    }
    /* A source that had nothing ready has more: now, or after a step or two. */
    if (w->active && w->t.source && w->t.src.waiting) {
        if (chance(50)) CHECK_INT(body_source_resume(&w->t.src, w->cli), 0);
        progress = 1;
    }
    return progress;
}

static int wire_step(struct world *w)
{
    static char tmp[65536];
    int progress = 0;
    /* client -> server */
    smtp_ssize n = smtp_client_write(w->cli, tmp, piece(sizeof tmp));
    CHECK(n >= 0);
    if (n > 0) {
        buf_add(&w->c2s, tmp, (size_t)n);
        trace("C:", tmp, (size_t)n);
        scan_wire(w, tmp, (size_t)n);
        w->c2s_bytes += (size_t)n;
        progress = 1;
    }
    if (w->c2s.len && !w->srv_tls_wait) {
        n = smtp_server_read(w->srv, buf_data(&w->c2s), piece(w->c2s.len));
        CHECK(n >= 0);
        if (n > 0) buf_drop(&w->c2s, (size_t)n), progress = 1;
    }
    progress |= answer_pending(w);
    /* server -> client */
    n = smtp_server_write(w->srv, tmp, piece(sizeof tmp));
    CHECK(n >= 0);
    if (n > 0) {
        buf_add(&w->s2c, tmp, (size_t)n);
        trace("S:", tmp, (size_t)n);
        w->s2c_bytes += (size_t)n;
        progress = 1;
    }
    if (w->s2c.len && !smtp_client_want_close(w->cli)) {
        n = smtp_client_read(w->cli, buf_data(&w->s2c), piece(w->s2c.len));
        /* Only the impostor breaks the protocol: its signature cannot verify. */
        int want_err = w->sc->auth == AUTH_SCRAM_FAKE ? SMTP_ERR_PROTO : 0;
        CHECK(n >= 0 || n == want_err);
        if (n < 0 && n != want_err)
            fprintf(stderr, "%s: smtp_client_read: %s\n", w->sc->name, smtp_error_name((int)n));
        if (n > 0) buf_drop(&w->s2c, (size_t)n), progress = 1;
    }
    return progress;
}

/* The TLS layer: once the 220 is out and read, both sides hear the handshake completed. */
static int tls_step(struct world *w)
{
    if (!smtp_client_want_tls(w->cli) || !w->srv_tls_wait || w->s2c.len ||
        smtp_server_want_write(w->srv))
        return 0;
    CHECK_INT(w->c2s.len, 0); /* nothing crossed the boundary (RFC 3207 4.2) */
    CHECK_INT(smtp_server_tls_done(w->srv, 1), 0);
    /* The simulated handshake checked the server's certificate (RFC 8689 4.2: REQUIRETLS). */
    CHECK_INT(smtp_client_tls_verified(w->cli, 1), 0);
    CHECK_INT(smtp_client_tls_done(w->cli, 1), 0);
    w->srv_tls_wait = 0;
    w->srv_tls = 1;
    w->tls_handshakes++;
    return 1;
}

/* The 421 in the middle: once message shutdown_msg has sent enough data. */
static int shutdown_step(struct world *w)
{
    if (!w->sc->shutdown || w->shutdown_done || !w->active || w->cur != w->shutdown_msg ||
        !w->x.data_started || w->x.content.len < w->shutdown_after)
        return 0;
    if (w->x.ended && !w->pend) {
        /* Too late: the message was answered (its last chunk came in one piece). The next
         * message will be the one. */
        w->shutdown_msg++;
        return 0;
    }
    /* The message is open unless its on_data_start decision is still pending. */
    w->shutdown_open = !(w->pend && w->pend_data);
    CHECK_INT(smtp_server_shutdown(w->srv), 0);
    w->shutdown_done = 1;
    w->pend = 0; /* the pending decision is gone with the session */
    return 1;
}

static int finished(const struct world *w)
{
    /* A client that fails the session just hangs up: the server, mid-exchange, waits. */
    if (w->sc->auth == AUTH_SCRAM_FAKE)
        return smtp_client_want_close(w->cli) && !w->c2s.len && !smtp_server_want_write(w->srv);
    return smtp_client_want_close(w->cli) && smtp_server_want_close(w->srv);
}

static void setup(struct world *w, const struct scenario *sc)
{
    memset(w, 0, sizeof *w);
    w->sc = sc;
    w->o = offer_of(sc);
    w->shutdown_msg = sc->nmsgs / 2;

    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.example.org";
    ss.extensions = sc->ext;
    ss.flags = sc->flags;
    ss.max_message_size = LIMIT;
    ss.max_messages = 0;       /* many messages over one connection */
    ss.hard_error_limit = 0;   /* refusals are the point here */
    ss.junk_command_limit = 0; /* every failed transaction costs an RSET */
    ss.deliverby_min = 60;
    ss.mt_priority_profile = "MIXER";
    ss.future_release_interval = 604800; /* FUTURERELEASE: a week */
    ss.future_release_until = "2030-01-01T00:00:00Z";
    if (sc->srv_out) ss.max_output = sc->srv_out;
    if (sc->prealloc) ss.flags |= SMTP_SERVER_PREALLOCATE;
    if (sc->auth) {
        ss.extensions |= SMTP_SERVER_EXT_AUTH;
        ss.auth_mechanisms = sc->auth == AUTH_XOAUTH2 || sc->auth == AUTH_OAUTHBEARER
                                 ? "OAUTHBEARER XOAUTH2 PLAIN LOGIN"
                             : sc->auth == AUTH_CRAM ? "PLAIN LOGIN CRAM-MD5"
                             : auth_sasl(sc->auth)   ? "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"
                                                     : "PLAIN LOGIN";
        if (sc->auth_plaintext || sc->auth == AUTH_NOPLAIN) ss.flags |= SMTP_SERVER_AUTH_PLAINTEXT;
    }
    smtp_server_callbacks scb;
    memset(&scb, 0, sizeof scb);
    scb.on_connect = s_connect;
    scb.on_helo = s_helo;
    scb.on_mail = s_mail;
    scb.on_rcpt = s_rcpt;
    scb.on_data_start = s_data_start;
    scb.on_data = s_data;
    scb.on_message_end = s_message_end;
    scb.on_message_abort = s_abort;
    scb.on_reset = s_reset;
    scb.on_starttls = s_starttls;
    scb.on_tls_injection = s_tls_injection;
    scb.on_auth = s_auth;
    scb.on_sasl = s_sasl;
    w->srv_mem = (smtp_mem){&w->smem, cm_malloc, cm_free, cm_calloc, cm_realloc};
    CHECK_INT(smtp_server_new(&w->srv, &scb, &ss, &w->srv_mem, w), 0);
    w->srv_calls_new = w->smem.calls;
    w->srv_tls = (sc->flags & SMTP_SERVER_TLS) != 0;

    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = HELO;
    if (w->o.lmtp) cs.flags |= SMTP_CLIENT_LMTP;
    if (!sc->pipelining) cs.flags |= SMTP_CLIENT_NO_PIPELINING;
    if (!sc->chunking) cs.flags |= SMTP_CLIENT_NO_CHUNKING;
    if (sc->flags & SMTP_SERVER_TLS) cs.flags |= SMTP_CLIENT_TLS;
    cs.tls = sc->tls;
    if (sc->cli_out) cs.max_output = sc->cli_out;
    if (sc->cli_body) cs.max_body_buffer = sc->cli_body;
    if (sc->prealloc) cs.flags |= SMTP_CLIENT_PREALLOCATE;
    if (sc->auth) {
        cs.auth_user = AUTH_USER;
        cs.auth_password = sc->auth == AUTH_BADPASS ? "wrong" : AUTH_PASS;
        if (sc->auth_plaintext) cs.flags |= SMTP_CLIENT_AUTH_PLAINTEXT;
        /* The crypto hook in every AUTH scenario: PLAIN and LOGIN are still picked when the
         * server offers nothing stronger. */
        ref_crypto_init(&w->cli_crypto, &w->cli_crypto_state, NULL, 0);
        ref_crypto_init(&w->srv_crypto, &w->srv_crypto_state, NULL, 0);
        cs.crypto = &w->cli_crypto;
    }
    if (sc->auth == AUTH_SCRAM_BAD) cs.auth_password = "wrong";
    if (sc->auth == AUTH_LOGIN) cs.auth_mech = "LOGIN";
    if (sc->auth == AUTH_XOAUTH2) cs.auth_mech = "XOAUTH2";
    if (sc->auth == AUTH_XOAUTH2 || sc->auth == AUTH_OAUTHBEARER) cs.auth_token = AUTH_TOKEN;
    if (sc->auth == AUTH_OAUTHBEARER) cs.auth_authzid = AUTH_ZID;
    smtp_client_callbacks ccb = {.on_rcpt = c_rcpt,
                                 .on_message = c_message,
                                 .on_starttls = c_starttls,
                                 .on_session_end = c_session_end};
    w->cli_mem = (smtp_mem){&w->cmem, cm_malloc, cm_free, cm_calloc, cm_realloc};
    CHECK_INT(smtp_client_new(&w->cli, &ccb, &cs, &w->cli_mem, w), 0);
    if (cs.flags & SMTP_CLIENT_TLS) CHECK_INT(smtp_client_tls_verified(w->cli, 1), 0);
    w->cli_calls_new = w->cmem.calls;
}

/* The most allocations an engine on demand makes after _new: its output queue doubles from
 * 512 octets up to its max_output (`out`), and `once` more buffers come once (the server's
 * decoding and command line buffers; the client's transaction, SASL and reply line buffers). */
static size_t on_demand_allocs(size_t out, size_t once)
{
    size_t n = once + 1;
    for (size_t cap = 512; cap < (out ? out : 16384); cap *= 2)
        n++;
    return n;
}

static void check_session(struct world *w)
{
    const struct scenario *sc = w->sc;
    CHECK(w->cli_ended);
    CHECK_INT(w->auth_calls, sc->auth && sc->auth != AUTH_NOPLAIN);
    if (sc->auth == AUTH_SCRAM || sc->auth == AUTH_SCRAM_BAD) CHECK_INT(w->sasl_steps, 3);
    if (sc->auth == AUTH_SCRAM_FAKE) CHECK_INT(w->sasl_steps, 2); /* nothing after it */
    if (sc->auth == AUTH_CRAM) CHECK_INT(w->sasl_steps, 2);
    if (auth_ends(sc)) {
        CHECK_INT(w->end, sc->auth == AUTH_NOPLAIN      ? SMTP_CLIENT_END_AUTH_UNAVAILABLE
                          : sc->auth == AUTH_SCRAM_FAKE ? SMTP_CLIENT_END_PROTOCOL
                                                        : SMTP_CLIENT_END_AUTH_FAILED);
        CHECK_INT(w->msgs, 1);
    } else if (sc->shutdown) {
        CHECK_INT(w->end, SMTP_CLIENT_END_SHUTDOWN);
        CHECK_INT(w->end_code, 421);
        CHECK_INT(w->msgs, w->shutdown_msg + 1);
        /* The session is over: no more messages. */
        smtp_client_message m;
        smtp_client_message_init(&m);
        CHECK_INT(smtp_client_submit(w->cli, &m), SMTP_ERR_INVALID_STATE);
    } else {
        CHECK_INT(w->end, SMTP_CLIENT_END_QUIT);
        CHECK_INT(w->msgs, sc->nmsgs);
        CHECK(w->seen_rset >= w->want_rset && w->seen_rset <= w->want_rset + w->want_rset_last);
        if (w->seen_rset < w->want_rset || w->seen_rset > w->want_rset + w->want_rset_last)
            fprintf(stderr, "  RSET: %zu seen, %zu (+%zu) wanted\n", w->seen_rset, w->want_rset,
                    w->want_rset_last);
        /* Without pipelining, DATA only when a recipient was accepted. */
        if (!sc->pipelining || !(sc->ext & SMTP_SERVER_EXT_PIPELINING))
            CHECK_INT(w->seen_data, w->want_data);
        else
            CHECK(w->seen_data >= w->want_data);
    }
    int starttls = (sc->ext & SMTP_SERVER_EXT_STARTTLS) && sc->tls != SMTP_CLIENT_TLS_NONE &&
                   !(sc->flags & SMTP_SERVER_TLS);
    CHECK_INT(w->tls_handshakes, starttls);
    CHECK_INT(w->starttls_seen, starttls);
    CHECK_INT(w->helos, 1 + (size_t)starttls); /* EHLO again after TLS (RFC 3207 4.2) */
    /* Steady state (DESIGN.md invariant 7): with SMTP_*_PREALLOCATE nothing allocated after
     * _new, whatever went through; on demand, an engine may grow its output queue and allocate
     * each of its other buffers once, but never again per message. */
    if (sc->prealloc) {
        CHECK_INT(w->cmem.calls, w->cli_calls_new);
        CHECK_INT(w->smem.calls, w->srv_calls_new);
    } else {
        CHECK(w->cmem.calls - w->cli_calls_new <= on_demand_allocs(sc->cli_out, 3));
        CHECK(w->smem.calls - w->srv_calls_new <= on_demand_allocs(sc->srv_out, 2));
    }
}

static void run(const struct scenario *sc, uint64_t seed)
{
    struct world *w = calloc(1, sizeof *w);
    if (!w) abort();
    rng_state = seed ? seed : 1;
    const char *tr = getenv("LOOPBACK_TRACE");
    tracing = tr && *tr && strncmp(sc->name, tr, strlen(tr)) == 0;
    setup(w, sc);
    if (!w->cli || !w->srv) goto out;
    CHECK_INT(smtp_server_start(w->srv), 0);
    w->shutdown_after = below(4000);
    int failures_before = check_failures;
    size_t idle = 0, steps = 0;
    while (!finished(w) && idle < 4) {
        int progress = app_step(w);
        progress |= wire_step(w);
        progress |= tls_step(w);
        progress |= shutdown_step(w);
        idle = progress ? 0 : idle + 1;
        steps++;
        if (check_failures - failures_before > 20) break; /* one broken scenario is enough */
    }
    CHECK(finished(w));
    if (!finished(w))
        fprintf(stderr,
                "%s: stalled after %zu steps at message %zu: c2s %zu s2c %zu pending %d "
                "want_read %d/%d want_write %d/%d active %d quit %d ended %d source %d %zu/%zu%s\n",
                sc->name, steps, w->cur, w->c2s.len, w->s2c.len, smtp_server_pending(w->srv),
                smtp_client_want_read(w->cli), smtp_server_want_read(w->srv),
                smtp_client_want_write(w->cli), smtp_server_want_write(w->srv), w->active,
                w->quit_asked, w->cli_ended, w->t.source, w->t.src.off, w->t.body.len,
                w->t.src.waiting ? " waiting" : "");
    check_session(w);
    /* The client hung up: the server drops nothing, the transaction was over. */
    size_t aborts = w->aborts;
    int r = smtp_server_eof(w->srv);
    CHECK(r == 0 || r == SMTP_ERR_INVALID_STATE);
    CHECK_INT(w->aborts, aborts);
    if (check_failures != failures_before) fprintf(stderr, "  in scenario %s\n", sc->name);
    printf("%-52s %5zu msgs %5zu ok %4zu failed %4zu unsupp %3zu rset %8zu B out %7zu B in; "
           "allocs at new %zu+%zu, after 0+%zu\n",
           sc->name, w->msgs, w->delivered, w->failed, w->unsupported, w->seen_rset, w->c2s_bytes,
           w->s2c_bytes, w->cli_calls_new, w->srv_calls_new, w->smem.calls - w->srv_calls_new);
out:
    smtp_client_del(w->cli);
    smtp_server_del(w->srv);
    CHECK_INT(w->cmem.live, 0);
    CHECK_INT(w->smem.live, 0);
    buf_free(&w->c2s);
    buf_free(&w->s2c);
    buf_free(&w->t.body);
    buf_free(&w->t.expect);
    buf_free(&w->x.content);
    free(w);
}

/* ---- the scenarios ---- */

#define EXT_MIN 0u
#define EXT_DEFAULT                                                                                \
    (SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE | SMTP_SERVER_EXT_8BITMIME |                \
     SMTP_SERVER_EXT_SMTPUTF8 | SMTP_SERVER_EXT_CHUNKING | SMTP_SERVER_EXT_DSN |                   \
     SMTP_SERVER_EXT_ENHANCEDSTATUSCODES | SMTP_SERVER_EXT_STARTTLS)
/* Every extension the server has (AUTH aside: its credentials are another test's business). */
#define EXT_ALL (SMTP_SERVER_EXT_ALL & ~SMTP_SERVER_EXT_AUTH)

static void name_scenario(struct scenario *sc, const char *ext)
{
    snprintf(sc->name, sizeof sc->name, "%s%s %s %s%s%s%s%s%s",
             (sc->flags & SMTP_SERVER_LMTP) ? "lmtp" : "smtp", sc->pipelining ? " pipe" : "",
             sc->chunking ? "bdat" : "data", ext,
             sc->flags & SMTP_SERVER_TLS                ? " tls"
             : sc->tls == SMTP_CLIENT_TLS_REQUIRED      ? " starttls"
             : sc->tls == SMTP_CLIENT_TLS_OPPORTUNISTIC ? " opptls"
                                                        : "",
             sc->defer ? " defer" : "",
             (sc->flags & SMTP_SERVER_STRICT_PIPELINING) ? " strict" : "",
             sc->shutdown ? " shutdown" : "", sc->prealloc ? " prealloc" : "");
}

/*
 * Every combination: SMTP/LMTP, pipelining on/off, BDAT/DATA, three extension sets (none, with
 * STARTTLS asked for but not offered; the default with STARTTLS refused, opportunistic or
 * required; all, over STARTTLS or implicit TLS), each in three rounds that change the seed,
 * the deferrals and the buffer sizes (small queues and body buffers force flow control).
 */
static void test_matrix(void)
{
    static const unsigned exts[] = {EXT_MIN, EXT_DEFAULT, EXT_ALL};
    static const char *const ext_names[] = {" min", " default", " all"};
    static const smtp_client_tls_policy pol[] = {
        SMTP_CLIENT_TLS_NONE, SMTP_CLIENT_TLS_OPPORTUNISTIC, SMTP_CLIENT_TLS_REQUIRED};
    size_t k = 0;
    for (int round = 0; round < 3; round++)
        for (int lmtp = 0; lmtp < 2; lmtp++)
            for (int pipe = 0; pipe < 2; pipe++)
                for (int chunk = 0; chunk < 2; chunk++)
                    for (size_t e = 0; e < 3; e++, k++) {
                        struct scenario sc;
                        memset(&sc, 0, sizeof sc);
                        sc.ext = exts[e];
                        sc.flags = lmtp ? SMTP_SERVER_LMTP : 0;
                        sc.pipelining = pipe;
                        sc.chunking = chunk;
                        sc.defer = (int)((k + (size_t)round) % 2);
                        sc.nmsgs = 80;
                        if (e == 0) sc.tls = pol[k % 2];
                        if (e == 1) sc.tls = pol[(k + (size_t)round) % 3];
                        if (e == 2 && (k + (size_t)round) % 2) {
                            sc.ext &= ~SMTP_SERVER_EXT_STARTTLS;
                            sc.flags |= SMTP_SERVER_TLS; /* implicit TLS (RFC 8314) */
                        } else if (e == 2) {
                            sc.tls = SMTP_CLIENT_TLS_REQUIRED;
                        }
                        if (round == 1) sc.cli_out = 1024, sc.cli_body = 1 + k * 37;
                        if (round == 1) sc.srv_out = 4096;
                        if (round == 2) sc.cli_body = 100 + k;
                        /* RFC 2920 command synchronization enforced: a correct client
                         * never trips it. */
                        if (round == 2) sc.flags |= SMTP_SERVER_STRICT_PIPELINING;
                        sc.prealloc = (int)(k % 2);
                        name_scenario(&sc, ext_names[e]);
                        size_t nl = strlen(sc.name);
                        snprintf(sc.name + nl, sizeof sc.name - nl, " #%d", round);
                        run(&sc, 0x9e3779b97f4a7c15u + k);
                    }
}

/* Many messages over one connection: RSET after every failed transaction; nothing allocated per
 * message, preallocated (nothing after _new) or on demand. */
static void test_many(void)
{
    struct scenario sc;
    memset(&sc, 0, sizeof sc);
    sc.ext = EXT_ALL & ~SMTP_SERVER_EXT_STARTTLS;
    sc.pipelining = 1;
    sc.chunking = 1;
    sc.defer = 1;
    sc.flags = SMTP_SERVER_STRICT_PIPELINING;
    sc.nmsgs = 1200;
    sc.prealloc = 1;
    name_scenario(&sc, " all");
    run(&sc, 42);

    memset(&sc, 0, sizeof sc);
    sc.ext = EXT_DEFAULT & ~SMTP_SERVER_EXT_PIPELINING;
    sc.nmsgs = 1000;
    name_scenario(&sc, " default-nopipe");
    run(&sc, 43);
}

/* The server shuts down (421) during a message's data, DATA or BDAT, pipelined or not. */
static void test_shutdown(void)
{
    for (int i = 0; i < 8; i++) {
        struct scenario sc;
        memset(&sc, 0, sizeof sc);
        sc.ext = EXT_DEFAULT & ~SMTP_SERVER_EXT_STARTTLS;
        sc.pipelining = i & 1;
        sc.chunking = (i >> 1) & 1;
        sc.flags = (i >> 2) ? SMTP_SERVER_LMTP : 0;
        sc.defer = i % 3 == 0;
        sc.nmsgs = 20;
        sc.shutdown = 1;
        sc.prealloc = i % 2;
        name_scenario(&sc, " default");
        run(&sc, 1000u + (uint64_t)i);
    }
}

/* AUTH after STARTTLS, over implicit TLS or (when both allow it) in clear, with every
 * mechanism the client has; a refusal and a client that will not send credentials in clear. */
static void test_auth(void)
{
    static const struct {
        int auth, tls, plaintext, lmtp, pipe, defer;
        const char *name;
    } cases[] = {
        {AUTH_PLAIN, 1, 0, 0, 1, 1, " auth-plain"},
        {AUTH_PLAIN, 0, 1, 0, 1, 0, " auth-plain-cleartext"},
        {AUTH_LOGIN, 2, 0, 0, 0, 1, " auth-login"},
        {AUTH_LOGIN, 1, 0, 1, 1, 0, " auth-login"},
        {AUTH_XOAUTH2, 1, 0, 0, 1, 1, " auth-xoauth2"},
        {AUTH_OAUTHBEARER, 2, 0, 1, 0, 1, " auth-oauthbearer"},
        {AUTH_BADPASS, 1, 0, 0, 1, 0, " auth-refused"},
        {AUTH_BADPASS, 2, 0, 0, 0, 1, " auth-refused"},
        {AUTH_NOPLAIN, 0, 0, 0, 1, 0, " auth-not-in-clear"},
        {AUTH_SCRAM, 1, 0, 0, 1, 1, " auth-scram"},
        {AUTH_SCRAM, 2, 0, 1, 0, 0, " auth-scram"},
        {AUTH_SCRAM, 0, 1, 0, 1, 1, " auth-scram-cleartext"},
        {AUTH_CRAM, 1, 0, 0, 0, 1, " auth-cram-md5"},
        {AUTH_CRAM, 2, 0, 1, 1, 0, " auth-cram-md5"},
        {AUTH_SCRAM_BAD, 1, 0, 0, 1, 1, " auth-scram-refused"},
        {AUTH_SCRAM_FAKE, 2, 0, 0, 1, 0, " auth-scram-impostor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scenario sc;
        memset(&sc, 0, sizeof sc);
        sc.ext = EXT_DEFAULT;
        if (cases[i].tls == 0) sc.ext &= ~SMTP_SERVER_EXT_STARTTLS;
        if (cases[i].tls == 1) sc.tls = SMTP_CLIENT_TLS_REQUIRED;
        if (cases[i].tls == 2) {
            sc.ext &= ~SMTP_SERVER_EXT_STARTTLS;
            sc.flags |= SMTP_SERVER_TLS;
        }
        if (cases[i].lmtp) sc.flags |= SMTP_SERVER_LMTP;
        sc.auth = cases[i].auth;
        sc.auth_plaintext = cases[i].plaintext;
        sc.pipelining = cases[i].pipe;
        sc.chunking = (int)(i % 2);
        sc.defer = cases[i].defer;
        sc.nmsgs = 40;
        sc.prealloc = (int)(i / 2 % 2);
        name_scenario(&sc, cases[i].name);
        run(&sc, 7000u + i);
    }
}

int main(void)
{
    test_matrix();
    test_many();
    test_shutdown();
    test_auth();
    return check_finish();
}
