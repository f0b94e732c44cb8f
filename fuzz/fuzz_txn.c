/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the incremental client transaction (smtp_client_mail_from, smtp_client_rcpt_to,
 * smtp_client_data, smtp_client_data_as, smtp_client_command's RSET and NOOP, smtp_client_quit)
 * in the order the input calls them, against a model server that answers every command the
 * client sends with a well-formed reply whose code the input chooses.
 *
 * The model server (fuzz_model.h) reads the client's output as a server does and answers each
 * command with a reply whose text carries its serial number ("s12"): so every reply the client
 * reports names the command it answered. The replies are held until the input delivers them
 * (all those pending, or the oldest one), so the client sees them late, pipelined or one at a
 * time.
 *
 * Checked here, besides no crash, no leak, no over-read and no undefined behaviour:
 *  - each recipient's reply is reported once, in order, to the right recipient: on_rcpt names
 *    a RCPT reply (or, in LMTP, a reply after the data) with that reply's code, for the
 *    address the server saw in that RCPT (or the recipient that reply was for), its serial
 *    above the last one reported; on_reply names MAIL's, DATA's or the command's own reply;
 *    on a session ended by QUIT every RCPT reply delivered was reported;
 *  - the commands sent are what the calls asked for: each MAIL is the sender of a
 *    smtp_client_mail_from that returned 0 and whose message was not reported NOT_SENT, in
 *    order; each RCPT is the next recipient smtp_client_rcpt_to took for that transaction;
 *    DATA or BDAT only after smtp_client_data returned 0, with the command smtp_client_data_as
 *    asked for (BDAT when the server offers CHUNKING and the call allows it); an RSET asked for
 *    is sent on a session that ends with QUIT;
 *  - results: one on_message per transaction opened; DELIVERED only with the 2xx reply to its
 *    end of data (or, in LMTP, a reply after the data); in SMTP its accepted and rejected
 *    counts are the 2xx and other RCPT replies reported for it; one session end;
 *  - split invariance: the replies fed one reply per read (as fuzz_client: bytes after a reply
 *    that nothing awaits are a server talking ahead) and fed in pieces (sizes from the input),
 *    the output pulled in pieces, give the same event log;
 *  - nothing allocated after smtp_client_new beyond the recipients' table, all freed.
 * FUZZ_TRACE=1 prints the event logs.
 * Input layout: byte 0 the split seed; byte 1 flags (1 LMTP, 2 the server offers PIPELINING,
 * 4 CHUNKING, 8 the body comes from a source the input fills, 16 SMTPUTF8 and 8BITMIME, 32
 * DSN, 64 a small output queue, 128 enhanced status codes in the replies); byte 2 the number
 * N of reply choices, then the N choices (used in turn, 0 when used up: each picks a reply's
 * code from its command's table, 0x80 makes it two lines); then the script, one operation a
 * byte, modulo 12: MAIL (the next byte picks the sender and the flags), RCPT (the next byte
 * the address), DATA, DATA as (the next byte), RSET, NOOP, deliver every reply pending,
 * deliver the oldest, body octets (a length byte and the octets), end of body, QUIT, the
 * server closes.
 */
#include "fuzz_model.h"

#define HEADER 3
#define MAX_CALLS 64

static const char *const senders[] = {
    "a@example.org", "", "s\xc3\xa9@example.org", "bad address", "b@[192.0.2.1]", "c@example.org"};
static const char *const rcpts[] = {"b@example.net",        "c@example.net", "Postmaster",
                                    "\xc3\xbc@example.net", "not@",          "d@example.com",
                                    "e@example.net",        "f@example.net"};

/* A call of the application that opened a transaction. */
struct call {
    const char *sender;
    const char *rcpt[MAX_CALLS];
    size_t nrcpt, sent_rcpts;
    int data; /* 0 none, else 1 + the smtp_client_data_command */
    int reported, not_sent;
    size_t ok2xx, refused; /* RCPT replies reported for it */
};

struct run {
    smtp_client *cli;
    struct fmem fm;
    struct flog ev;
    struct fsplit sp;
    int split;
    unsigned flags;
    struct fmodel m;
    /* The application. */
    struct call calls[MAX_CALLS];
    size_t ncalls;
    size_t cur;        /* the call whose transaction is open, or ncalls */
    size_t mails_seen; /* MAIL commands the server read */
    size_t mail_call;  /* the call the last MAIL was for */
    int rset_asked, rsets_seen;
    int last_serial;
    int ended, end, end_serial, failed;
    /* The body source. */
    char body[4096];
    size_t body_len, body_off;
    int body_end, body_waiting;
};

/* ---- what the model server read, checked against the calls ---- */

/* A MAIL the server read: it must be the sender of the next call that was not NOT_SENT. */
static void saw_mail(struct run *r, const char *path)
{
    size_t i = r->mails_seen ? r->mail_call + 1 : 0;
    while (i < r->ncalls && r->calls[i].not_sent)
        i++;
    FUZZ_ASSERT(i < r->ncalls); /* a MAIL no call asked for */
    FUZZ_ASSERT(strcmp(r->calls[i].sender, path) == 0);
    r->mail_call = i;
    r->mails_seen++;
}

static void saw_rcpt(struct run *r, const char *path)
{
    FUZZ_ASSERT(r->mails_seen > 0);
    struct call *c = &r->calls[r->mail_call];
    FUZZ_ASSERT(c->sent_rcpts < c->nrcpt); /* a RCPT no call asked for */
    FUZZ_ASSERT(strcmp(c->rcpt[c->sent_rcpts], path) == 0);
    c->sent_rcpts++;
}

/* DATA, or the first BDAT of a message. */
static void saw_data(struct run *r, int bdat)
{
    FUZZ_ASSERT(r->mails_seen > 0);
    struct call *c = &r->calls[r->mail_call];
    FUZZ_ASSERT(c->data != 0); /* DATA or BDAT before smtp_client_data */
    int chunking = (r->flags & 4) != 0;
    FUZZ_ASSERT(bdat == (c->data - 1 == SMTP_CLIENT_DATA_DATA ? 0 : chunking));
}

static void on_command(void *ud, enum fm_verb v, const char *path, const struct flog *content,
                       size_t serial)
{
    (void)content, (void)serial;
    struct run *r = ud;
    switch (v) {
    case FM_MAIL: saw_mail(r, path); break;
    case FM_RCPT: saw_rcpt(r, path); break;
    case FM_DATA: saw_data(r, 0); break;
    case FM_BDAT_FIRST: saw_data(r, 1); break;
    case FM_RSET: r->rsets_seen++; break;
    default: break;
    }
}

/* ---- the application's side ---- */

static int serial_of(const smtp_client_reply *rp)
{
    return fmodel_serial(rp->text.ptr, rp->text.len);
}

/* The reply a callback reports: one the server sent, with its code. */
static struct fm_reply *reported(struct run *r, const smtp_client_reply *rp)
{
    int s = serial_of(rp);
    FUZZ_ASSERT(s >= 0 && (size_t)s < r->m.nrep);
    struct fm_reply *x = &r->m.rep[s];
    FUZZ_ASSERT(x->code == rp->code);
    return x;
}

static struct call *call_now(struct run *r)
{
    FUZZ_ASSERT(r->cur < r->ncalls);
    return &r->calls[r->cur];
}

static int on_rcpt(smtp_client *cli, const smtp_client_rcpt *rc, const smtp_client_reply *rp,
                   void *ud)
{
    (void)cli;
    struct run *r = ud;
    struct fm_reply *x = reported(r, rp);
    int s = (int)(x - r->m.rep);
    FLOG(&r->ev, "on_rcpt s%d %d %s", s, rp->code, smtp_verb_name(rp->command));
    flog_span(&r->ev, "to", rc->address, strlen(rc->address));
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(!x->reported && s > r->last_serial);
    x->reported = 1;
    r->last_serial = s;
    FUZZ_ASSERT(strcmp(rc->address, x->addr) == 0);
    if (rp->command == SMTP_VERB_RCPT) {
        FUZZ_ASSERT(x->verb == FM_RCPT);
        struct call *c = call_now(r);
        if (rp->code / 100 == 2)
            c->ok2xx++;
        else
            c->refused++;
    } else {
        FUZZ_ASSERT(r->flags & 1); /* a reply after the data: LMTP only */
        FUZZ_ASSERT(x->verb == (rp->command == SMTP_VERB_BDAT ? FM_BDAT : FM_END));
    }
    return 0;
}

static int on_reply(smtp_client *cli, const smtp_client_reply *rp, void *ud)
{
    (void)cli;
    struct run *r = ud;
    FUZZ_ASSERT(rp != NULL);
    struct fm_reply *x = reported(r, rp);
    FLOG(&r->ev, "on_reply s%d %d %s\n", (int)(x - r->m.rep), rp->code,
         smtp_verb_name(rp->command));
    FUZZ_ASSERT(!x->reported);
    x->reported = 1;
    switch (rp->command) {
    case SMTP_VERB_MAIL: FUZZ_ASSERT(x->verb == FM_MAIL); break;
    case SMTP_VERB_DATA: FUZZ_ASSERT(x->verb == FM_DATA); break;
    case SMTP_VERB_NOOP: FUZZ_ASSERT(x->verb == FM_NOOP); break;
    case SMTP_VERB_RSET: FUZZ_ASSERT(x->verb == FM_RSET); break;
    default: FUZZ_ASSERT(0);
    }
    return 0;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    struct run *r = ud;
    struct call *c = call_now(r);
    FLOG(&r->ev, "on_message %s accepted %zu rejected %zu flags %u",
         smtp_client_status_name(res->status), res->accepted, res->rejected, res->flags);
    if (res->reply) FLOG(&r->ev, " reply %d s%d", res->reply->code, serial_of(res->reply));
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(!c->reported);
    c->reported = 1;
    c->not_sent = (res->flags & SMTP_CLIENT_RESULT_NOT_SENT) != 0;
    if (c->not_sent) FUZZ_ASSERT(r->mails_seen == 0 || r->mail_call != r->cur);
    if (res->status == SMTP_CLIENT_DELIVERED) {
        /* In LMTP the last reply after the data, which may refuse another recipient. */
        FUZZ_ASSERT(res->reply != NULL && ((r->flags & 1) || res->reply->code / 100 == 2));
        struct fm_reply *x = reported(r, res->reply);
        FUZZ_ASSERT(x->verb == FM_END || x->verb == FM_BDAT);
        FUZZ_ASSERT(c->data != 0);
    }
    if (!(r->flags & 1)) {
        FUZZ_ASSERT(res->accepted == c->ok2xx);
        FUZZ_ASSERT(res->rejected == c->refused);
    }
    r->cur = r->ncalls;
    return 0;
}

static int on_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli;
    struct run *r = ud;
    FUZZ_ASSERT(!r->ended);
    r->ended = 1;
    r->end = (int)res->end;
    r->end_serial = res->reply ? serial_of(res->reply) : -1;
    FLOG(&r->ev, "on_session_end %s %d s%d\n", smtp_client_end_name(res->end), res->error,
         r->end_serial);
    return 0;
}

static int on_ready(smtp_client *cli, void *ud)
{
    (void)cli;
    flog_str(&((struct run *)ud)->ev, "on_ready\n");
    return 0;
}

static smtp_ssize read_body(smtp_client *cli, char *dest, size_t cap, void *ud)
{
    (void)cli;
    struct run *r = ud;
    size_t n = r->body_len - r->body_off;
    if (n == 0) {
        if (r->body_end) return 0;
        r->body_waiting = 1;
        return SMTP_ERR_AGAIN;
    }
    if (n > cap) n = cap;
    memcpy(dest, r->body + r->body_off, n);
    r->body_off += n;
    return (smtp_ssize)n;
}

static smtp_ssize write_client(void *engine, char *dest, size_t cap)
{
    return smtp_client_write(engine, dest, cap);
}

/* Pulls the client's output and lets the server read it. */
static void pump(void *ud)
{
    struct run *r = ud;
    if (r->failed) return;
    int rc = fdrain(&r->m.in, r->split ? &r->sp : NULL, write_client, r->cli);
    if (rc < 0) {
        FLOG(&r->ev, "write error %d\n", rc);
        r->failed = 1;
        return;
    }
    fmodel_read(&r->m);
}

/* Feeds the client the pending replies up to the end of the `count`th. */
static void deliver(struct run *r, size_t count)
{
    if (r->failed) return;
    int rc = fmodel_deliver(&r->m, count, r->split ? &r->sp : NULL, r->cli, pump, r);
    if (rc < 0) {
        FLOG(&r->ev, "read error %d\n", rc);
        r->failed = 1;
    }
}

static void log_rc(struct run *r, const char *what, int rc)
{
    FLOG(&r->ev, "%s -> %d\n", what, rc);
    FUZZ_ASSERT(rc <= 0);
}

static void op_mail(struct run *r, int arg)
{
    if (r->ncalls == MAX_CALLS) return;
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = senders[arg % 6];
    if (r->flags & 8) {
        m.read_body = read_body;
        m.read_body_data = r;
    } else {
        m.body = "Subject: t\r\n\r\n.dot\r\nbody\r\n";
        m.body_len = strlen(m.body);
    }
    if (arg & 0x40) m.flags |= SMTP_CLIENT_MSG_SMTPUTF8;
    if (arg & 0x80) m.flags |= SMTP_CLIENT_MSG_ALL_OR_NOTHING;
    /* The call is the current one before it returns: an UNSUPPORTED message is reported from
     * inside it. */
    size_t was = r->cur;
    struct call *c = &r->calls[r->ncalls];
    memset(c, 0, sizeof *c);
    c->sender = m.sender;
    r->cur = r->ncalls++;
    r->body_len = r->body_off = 0;
    r->body_end = r->body_waiting = 0;
    int rc = smtp_client_mail_from(r->cli, &m);
    log_rc(r, "mail_from", rc);
    if (rc == 0) {
        FUZZ_ASSERT(was == r->ncalls - 1); /* no other transaction was open */
        return;
    }
    FUZZ_ASSERT(!c->reported);
    r->ncalls--;
    r->cur = was;
}

static void op_rcpt(struct run *r, int arg)
{
    smtp_client_rcpt rc = {rcpts[arg % 8], 0, NULL};
    int e = smtp_client_rcpt_to(r->cli, &rc);
    log_rc(r, "rcpt_to", e);
    if (e != 0) return;
    struct call *c = call_now(r);
    FUZZ_ASSERT(c->nrcpt < MAX_CALLS);
    c->rcpt[c->nrcpt++] = rc.address;
}

static void op_data(struct run *r, int how)
{
    int rc = how < 0 ? smtp_client_data(r->cli)
                     : smtp_client_data_as(r->cli, (smtp_client_data_command)how);
    log_rc(r, "data", rc);
    if (rc != 0 || r->cur == r->ncalls) return; /* on_message may have come from inside */
    r->calls[r->cur].data = 1 + (how < 0 ? SMTP_CLIENT_DATA_AUTO : how);
}

/* The body source gets n more octets, or its end. */
static void body_more(struct run *r, const char *p, size_t n, int end)
{
    if (n > sizeof r->body - r->body_len) n = sizeof r->body - r->body_len;
    if (n) memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    if (end) r->body_end = 1;
    if (r->body_waiting) {
        r->body_waiting = 0;
        FLOG(&r->ev, "body_ready -> %d\n", smtp_client_body_ready(r->cli));
    }
}

static void op_rset(struct run *r)
{
    int rc = smtp_client_command(r->cli, SMTP_VERB_RSET, NULL);
    log_rc(r, "rset", rc);
    if (rc == 0) r->rset_asked++; /* one to be sent */
}

static void run_once(struct run *r, const uint8_t *data, size_t size, int split)
{
    memset(r, 0, sizeof *r);
    r->split = split;
    r->flags = data[1];
    r->last_serial = -1;
    r->end_serial = -1;
    fsplit_init(&r->sp, data[0]);
    size_t nch = data[2];
    if (nch > size - HEADER) nch = size - HEADER;
    const uint8_t *p = data + HEADER + nch, *end = data + size;
    fmem_init(&r->fm);
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "client.example";
    if (r->flags & 1) s.flags |= SMTP_CLIENT_LMTP;
    if (r->flags & 64) s.max_output = 1024;
    s.max_recipients = 16;
    smtp_client_callbacks cb = {.on_rcpt = on_rcpt,
                                .on_message = on_message,
                                .on_session_end = on_session_end,
                                .on_reply = on_reply,
                                .on_ready = on_ready};
    FUZZ_ASSERT(smtp_client_new(&r->cli, &cb, &s, &r->fm.mem, r) == 0);
    /* client.h: on demand, the output queue from 512 octets to max_output (6 at most), the
     * buffers of a transaction, the reply line buffer, each once, and the recipients' table at
     * the first smtp_client_mail_from: then nothing more, however many messages */
    fmem_budget(&r->fm, 10);
    r->cur = 0;
    r->ncalls = 0;
    /* The model's caps: PIPELINING, CHUNKING, SMTPUTF8, DSN, enhanced codes, SIZE. */
    unsigned caps = FM_SIZE | (r->flags & 2 ? FM_PIPELINING : 0) |
                    (r->flags & 4 ? FM_CHUNKING : 0) | (r->flags & 16 ? FM_UTF8 : 0) |
                    (r->flags & 32 ? FM_DSN : 0) | (r->flags & 128 ? FM_ENHANCED : 0);
    fmodel_init(&r->m, caps, r->flags & 1, data + HEADER, nch, &r->ev);
    r->m.on_command = on_command;
    r->m.ud = r;
    int gone = 0;
    while (p < end && !r->failed && !gone) {
        int op = *p++ % 12;
        int arg = p < end ? *p : 0;
        switch (op) {
        case 0: op_mail(r, arg), p += p < end; break;
        case 1: op_rcpt(r, arg), p += p < end; break;
        case 2: op_data(r, -1); break;
        case 3: op_data(r, arg % 3), p += p < end; break;
        case 4: op_rset(r); break;
        case 5: log_rc(r, "noop", smtp_client_command(r->cli, SMTP_VERB_NOOP, NULL)); break;
        case 6: deliver(r, r->m.rb_count); break;
        case 7: deliver(r, 1); break;
        case 8: {
            size_t n = p < end ? *p++ : 0;
            if (n > (size_t)(end - p)) n = (size_t)(end - p);
            body_more(r, (const char *)p, n, 0);
            p += n;
            break;
        }
        case 9: body_more(r, NULL, 0, 1); break;
        case 10: log_rc(r, "quit", smtp_client_quit(r->cli)); break;
        default: gone = 1; break;
        }
        pump(r);
    }
    /* The end: every reply delivered, QUIT asked for (unless the server closed first). */
    if (!gone) {
        body_more(r, NULL, 0, 1);
        (void)smtp_client_quit(r->cli);
        for (long round = 0; round < 1L << 20 && r->m.rb_count && !r->failed; round++) {
            pump(r);
            deliver(r, r->m.rb_count);
        }
    }
    FLOG(&r->ev, "eof -> %d\n", smtp_client_eof(r->cli));
    FUZZ_ASSERT(r->ended || r->failed);
    if (getenv("FUZZ_TRACE")) flog_dump(split ? "split run" : "whole run", &r->ev);
    /* Every transaction opened was reported. */
    for (size_t i = 0; i < r->ncalls; i++)
        FUZZ_ASSERT(r->calls[i].reported || r->failed);
    if (r->ended && r->end == SMTP_CLIENT_END_QUIT) {
        /* A session that ended well: every RCPT reply was reported, every RSET asked sent. */
        for (size_t i = 0; i < r->m.nrep; i++)
            FUZZ_ASSERT(r->m.rep[i].verb != FM_RCPT || r->m.rep[i].reported);
        FUZZ_ASSERT(r->rsets_seen >= r->rset_asked);
    } else if (r->end_serial >= 0) {
        for (int i = 0; i < r->end_serial; i++)
            FUZZ_ASSERT(r->m.rep[i].verb != FM_RCPT || r->m.rep[i].reported);
    }
    smtp_client_del(r->cli);
    FUZZ_ASSERT(r->fm.live == 0);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    fmodel_free(&r->m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    static struct run whole, split;
    run_once(&whole, data, size, 0);
    run_once(&split, data, size, 1);
    flog_same("event logs", &whole.ev, &split.ev);
    run_free(&whole);
    run_free(&split);
    return 0;
}
