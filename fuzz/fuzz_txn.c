/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the incremental client transaction (smtp_client_mail_from, smtp_client_rcpt_to,
 * smtp_client_data, smtp_client_data_as, smtp_client_command's RSET and NOOP, smtp_client_quit)
 * in the order the input calls them, against a model server that answers every command the
 * client sends with a well-formed reply whose code the input chooses.
 *
 * The model server reads the client's output as a server does (command lines, DATA content up
 * to CRLF.CRLF after its 354, BDAT chunks by their size) and answers each command with a reply
 * whose text carries its serial number ("s12"): so every reply the client reports names the
 * command it answered. In LMTP it answers the end of the data once per recipient it accepted
 * in the transaction. The replies are held until the input delivers them (all those pending,
 * or the oldest one), so the client sees them late, pipelined or one at a time; after a 421
 * the server answers nothing more.
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
#include "fuzz_common.h"

#include <smtp/client.h>

#define HEADER 3
#define MAX_REPLIES 512
#define MAX_CALLS 64

enum v { V_HELLO, V_MAIL, V_RCPT, V_DATA, V_END, V_BDAT, V_RSET, V_NOOP, V_QUIT, V_OTHER };
static const char *const vname[] = {"HELLO", "MAIL", "RCPT", "DATA", "END",
                                    "BDAT",  "RSET", "NOOP", "QUIT", "OTHER"};

/* The codes each command may get, picked by a choice byte (index 0 is the usual one). */
static const int codes[][8] = {
    [V_HELLO] = {250, 250, 250, 250, 250, 250, 250, 250},
    [V_MAIL] = {250, 250, 250, 451, 550, 421, 552, 503},
    [V_RCPT] = {250, 251, 550, 250, 450, 553, 421, 252},
    [V_DATA] = {354, 354, 354, 451, 554, 503, 421, 250},
    [V_END] = {250, 250, 451, 554, 552, 421, 250, 550},
    [V_BDAT] = {250, 250, 250, 451, 554, 421, 552, 250},
    [V_RSET] = {250, 250, 250, 421, 500, 250, 250, 250},
    [V_NOOP] = {250, 250, 421, 500, 250, 250, 250, 250},
    [V_QUIT] = {221, 221, 221, 221, 221, 221, 221, 221},
    [V_OTHER] = {500, 500, 500, 500, 500, 500, 500, 500},
};

static const char *const senders[] = {"a@example.org", "", "s\xc3\xa9@example.org", "bad address",
                                      "b@[192.0.2.1]", "c@example.org"};
static const char *const rcpts[] = {"b@example.net", "c@example.net", "Postmaster",
                                    "\xc3\xbc@example.net", "not@", "d@example.com",
                                    "e@example.net", "f@example.net"};

struct reply {
    enum v verb;
    int code;
    char addr[64]; /* RCPT: its address; LMTP after the data: the recipient's */
    int reported;
};

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
    const uint8_t *choice, *choice_end;
    /* The model server. */
    struct flog ob;    /* client output not yet parsed */
    size_t ob_off;
    int mode;          /* 0 commands, 1 DATA content, 2 a BDAT chunk */
    size_t chunk_left;
    int chunk_last;
    int closed;        /* it sent 421 */
    struct reply rep[MAX_REPLIES];
    size_t nrep;
    struct flog rb;    /* reply octets not yet delivered */
    size_t rb_end[MAX_REPLIES], rb_first, rb_count; /* each pending reply's end in rb */
    int txn_open;
    char accepted[MAX_CALLS][64];
    size_t naccepted;
    /* What the client sent, as the server read it. */
    enum v last_data_verb;
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

/* ---- the model server ---- */

static int next_choice(struct run *r)
{
    return r->choice < r->choice_end ? *r->choice++ : 0;
}

static void serve_reply(struct run *r, enum v verb, const char *addr)
{
    if (r->closed || r->nrep == MAX_REPLIES) return;
    int c = next_choice(r);
    int code = codes[verb][c & 7];
    size_t s = r->nrep++;
    struct reply *rp = &r->rep[s];
    memset(rp, 0, sizeof *rp);
    rp->verb = verb;
    rp->code = code;
    if (addr) snprintf(rp->addr, sizeof rp->addr, "%s", addr);
    const char *enh = "";
    if (r->flags & 128) enh = code >= 500 ? "5.0.0 " : code >= 400 ? "4.0.0 " : code < 300 ? "2.0.0 " : "";
    if (verb == V_HELLO) {
        FLOG(&r->rb, "%d-s%zu hello\r\n", code, s);
        if (r->flags & 2) flog_str(&r->rb, "250-PIPELINING\r\n");
        if (r->flags & 4) flog_str(&r->rb, "250-CHUNKING\r\n");
        if (r->flags & 16) flog_str(&r->rb, "250-SMTPUTF8\r\n250-8BITMIME\r\n");
        if (r->flags & 32) flog_str(&r->rb, "250-DSN\r\n");
        if (r->flags & 128) flog_str(&r->rb, "250-ENHANCEDSTATUSCODES\r\n");
        FLOG(&r->rb, "%d SIZE 100000\r\n", code);
    } else {
        if (c & 0x80) FLOG(&r->rb, "%d-%ss%zu first\r\n", code, enh, s);
        FLOG(&r->rb, "%d %ss%zu %s\r\n", code, enh, s, vname[verb]);
    }
    r->rb_end[(r->rb_first + r->rb_count++) % MAX_REPLIES] = r->rb.len;
    if (code == 421) r->closed = 1;
    if (verb == V_MAIL) {
        r->txn_open = code / 100 == 2;
        r->naccepted = 0;
    }
    if (verb == V_RCPT && r->txn_open && code / 100 == 2 && r->naccepted < MAX_CALLS)
        snprintf(r->accepted[r->naccepted++], 64, "%s", addr ? addr : "");
}

/* The end of a message: one reply, or in LMTP one per recipient accepted. */
static void serve_end(struct run *r, enum v verb)
{
    if ((r->flags & 1) && r->naccepted > 0) {
        for (size_t i = 0; i < r->naccepted; i++)
            serve_reply(r, verb, r->accepted[i]);
    } else {
        serve_reply(r, verb, NULL);
    }
    r->naccepted = 0;
}

/* The path between the first '<' and the next '>' of a line. */
static void path_of(const char *line, size_t n, char *out, size_t cap)
{
    const char *lt = memchr(line, '<', n);
    out[0] = '\0';
    if (!lt) return;
    const char *gt = memchr(lt, '>', n - (size_t)(lt - line));
    if (!gt || (size_t)(gt - lt - 1) >= cap) return;
    memcpy(out, lt + 1, (size_t)(gt - lt - 1));
    out[gt - lt - 1] = '\0';
}

static int starts(const char *line, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        char c = line[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != word[i]) return 0;
    }
    return 1;
}

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

static void saw_data(struct run *r, enum v verb)
{
    FUZZ_ASSERT(r->mails_seen > 0);
    struct call *c = &r->calls[r->mail_call];
    FUZZ_ASSERT(c->data != 0); /* DATA or BDAT before smtp_client_data */
    int chunking = (r->flags & 4) != 0;
    int bdat = c->data - 1 == SMTP_CLIENT_DATA_DATA ? 0 : chunking;
    FUZZ_ASSERT((verb == V_BDAT) == bdat);
}

static void serve_line(struct run *r, const char *line, size_t n)
{
    char path[128];
    FLOG(&r->ev, "server reads");
    flog_span(&r->ev, "line", line, n);
    flog_str(&r->ev, "\n");
    if (starts(line, n, "EHLO ") || starts(line, n, "LHLO ") || starts(line, n, "HELO ")) {
        serve_reply(r, V_HELLO, NULL);
    } else if (starts(line, n, "MAIL FROM:")) {
        path_of(line, n, path, sizeof path);
        saw_mail(r, path);
        r->last_data_verb = V_OTHER;
        serve_reply(r, V_MAIL, NULL);
    } else if (starts(line, n, "RCPT TO:")) {
        path_of(line, n, path, sizeof path);
        saw_rcpt(r, path);
        serve_reply(r, V_RCPT, path);
    } else if (n == 4 && starts(line, n, "DATA")) {
        saw_data(r, V_DATA);
        serve_reply(r, V_DATA, NULL);
        if (!r->closed && r->rep[r->nrep - 1].code == 354) r->mode = 1;
    } else if (starts(line, n, "BDAT ")) {
        char num[24];
        size_t k = 0;
        while (5 + k < n && k < sizeof num - 1 && line[5 + k] >= '0' && line[5 + k] <= '9')
            num[k] = line[5 + k], k++;
        num[k] = '\0';
        FUZZ_ASSERT(k > 0);
        if (r->last_data_verb != V_BDAT) saw_data(r, V_BDAT);
        r->last_data_verb = V_BDAT;
        r->chunk_left = strtoul(num, NULL, 10);
        r->chunk_last = 5 + k < n;
        r->mode = 2;
    } else if (n == 4 && starts(line, n, "RSET")) {
        r->rsets_seen++;
        r->txn_open = 0;
        r->naccepted = 0;
        serve_reply(r, V_RSET, NULL);
    } else if (n == 4 && starts(line, n, "NOOP")) {
        serve_reply(r, V_NOOP, NULL);
    } else if (n == 4 && starts(line, n, "QUIT")) {
        serve_reply(r, V_QUIT, NULL);
        r->closed = 1;
    } else {
        FUZZ_ASSERT(0); /* a command no call asked for */
    }
}

/* Reads what the client wrote so far, as a server does. */
static void serve(struct run *r)
{
    while (r->ob_off < r->ob.len) {
        const char *p = r->ob.buf + r->ob_off;
        size_t n = r->ob.len - r->ob_off;
        if (r->mode == 1) { /* DATA content, up to CRLF.CRLF (".\r\n" alone when empty) */
            size_t end = 0;
            if (n >= 3 && memcmp(p, ".\r\n", 3) == 0) end = 3;
            for (size_t i = 0; !end && i + 5 <= n; i++)
                if (memcmp(p + i, "\r\n.\r\n", 5) == 0) end = i + 5;
            if (!end) return;
            r->ob_off += end;
            r->mode = 0;
            serve_end(r, V_END);
            r->last_data_verb = V_OTHER;
        } else if (r->mode == 2) {
            size_t k = n < r->chunk_left ? n : r->chunk_left;
            r->ob_off += k;
            r->chunk_left -= k;
            if (r->chunk_left) return;
            r->mode = 0;
            if (r->chunk_last) {
                serve_end(r, V_BDAT);
                r->last_data_verb = V_OTHER;
            } else {
                serve_reply(r, V_BDAT, NULL);
            }
        } else {
            const char *crlf = NULL;
            for (size_t i = 0; i + 1 < n && !crlf; i++)
                if (p[i] == '\r' && p[i + 1] == '\n') crlf = p + i;
            if (!crlf) return;
            size_t len = (size_t)(crlf - p);
            r->ob_off += len + 2;
            serve_line(r, p, len);
        }
    }
}

/* ---- the application's side ---- */

static int serial_of(const smtp_client_reply *rp)
{
    for (size_t i = 0; i + 1 < rp->text.len; i++)
        if (rp->text.ptr[i] == 's' && (i == 0 || rp->text.ptr[i - 1] == ' ') &&
            rp->text.ptr[i + 1] >= '0' && rp->text.ptr[i + 1] <= '9')
            return atoi(rp->text.ptr + i + 1);
    return -1;
}

/* The reply a callback reports: one the server sent, with its code. */
static struct reply *reported(struct run *r, const smtp_client_reply *rp)
{
    int s = serial_of(rp);
    FUZZ_ASSERT(s >= 0 && (size_t)s < r->nrep);
    struct reply *x = &r->rep[s];
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
    struct reply *x = reported(r, rp);
    int s = (int)(x - r->rep);
    FLOG(&r->ev, "on_rcpt s%d %d %s", s, rp->code, smtp_verb_name(rp->command));
    flog_span(&r->ev, "to", rc->address, strlen(rc->address));
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(!x->reported && s > r->last_serial);
    x->reported = 1;
    r->last_serial = s;
    FUZZ_ASSERT(strcmp(rc->address, x->addr) == 0);
    if (rp->command == SMTP_VERB_RCPT) {
        FUZZ_ASSERT(x->verb == V_RCPT);
        struct call *c = call_now(r);
        if (rp->code / 100 == 2)
            c->ok2xx++;
        else
            c->refused++;
    } else {
        FUZZ_ASSERT(r->flags & 1); /* a reply after the data: LMTP only */
        FUZZ_ASSERT(x->verb == (rp->command == SMTP_VERB_BDAT ? V_BDAT : V_END));
    }
    return 0;
}

static int on_reply(smtp_client *cli, const smtp_client_reply *rp, void *ud)
{
    (void)cli;
    struct run *r = ud;
    FUZZ_ASSERT(rp != NULL);
    struct reply *x = reported(r, rp);
    FLOG(&r->ev, "on_reply s%d %d %s\n", (int)(x - r->rep), rp->code,
         smtp_verb_name(rp->command));
    FUZZ_ASSERT(!x->reported);
    x->reported = 1;
    switch (rp->command) {
    case SMTP_VERB_MAIL: FUZZ_ASSERT(x->verb == V_MAIL); break;
    case SMTP_VERB_DATA: FUZZ_ASSERT(x->verb == V_DATA); break;
    case SMTP_VERB_NOOP: FUZZ_ASSERT(x->verb == V_NOOP); break;
    case SMTP_VERB_RSET: FUZZ_ASSERT(x->verb == V_RSET); break;
    default: FUZZ_ASSERT(0);
    }
    return 0;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    struct run *r = ud;
    struct call *c = call_now(r);
    FLOG(&r->ev, "on_message %s accepted %zu rejected %zu flags %u", smtp_client_status_name(res->status),
         res->accepted, res->rejected, res->flags);
    if (res->reply) FLOG(&r->ev, " reply %d s%d", res->reply->code, serial_of(res->reply));
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(!c->reported);
    c->reported = 1;
    c->not_sent = (res->flags & SMTP_CLIENT_RESULT_NOT_SENT) != 0;
    if (c->not_sent) FUZZ_ASSERT(r->mails_seen == 0 || r->mail_call != r->cur);
    if (res->status == SMTP_CLIENT_DELIVERED) {
        /* In LMTP the last reply after the data, which may refuse another recipient. */
        FUZZ_ASSERT(res->reply != NULL && ((r->flags & 1) || res->reply->code / 100 == 2));
        struct reply *x = reported(r, res->reply);
        FUZZ_ASSERT(x->verb == V_END || x->verb == V_BDAT);
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
static void pump(struct run *r)
{
    if (r->failed) return;
    int rc = fdrain(&r->ob, r->split ? &r->sp : NULL, write_client, r->cli);
    if (rc < 0) {
        FLOG(&r->ev, "write error %d\n", rc);
        r->failed = 1;
        return;
    }
    serve(r);
}

/* Feeds the client the pending replies up to the end of the `count`th. */
static void deliver(struct run *r, size_t count)
{
    if (count > r->rb_count) count = r->rb_count;
    if (count == 0) return;
    size_t end = r->rb_end[(r->rb_first + count - 1) % MAX_REPLIES];
    size_t pos = 0, next = 0;
    while (pos < end && !r->failed) {
        /* Whole: one reply a read, as a server that answers each command sends them (bytes
         * after a reply nothing awaits are a server talking ahead: client.h). */
        while (r->rb_end[(r->rb_first + next) % MAX_REPLIES] <= pos)
            next++;
        size_t n = r->rb_end[(r->rb_first + next) % MAX_REPLIES] - pos;
        if (r->split) {
            size_t k = fsplit_piece(&r->sp);
            n = k < end - pos ? k : end - pos;
        }
        char *piece = fcopy(r->rb.buf + pos, n);
        smtp_ssize k = smtp_client_read(r->cli, piece, n);
        free(piece);
        if (k < 0) {
            FLOG(&r->ev, "read error %d\n", (int)k);
            r->failed = 1;
            break;
        }
        pos += (size_t)k;
        pump(r);
        if (k == 0) break; /* the client takes nothing more (its session ended) */
    }
    /* What was not read stays unread: drop the delivered replies from the queue. */
    memmove(r->rb.buf, r->rb.buf + end, r->rb.len - end);
    r->rb.len -= end;
    for (size_t i = 0; i < r->rb_count - count; i++) {
        size_t a = (r->rb_first + count + i) % MAX_REPLIES;
        r->rb_end[a] -= end;
    }
    r->rb_first = (r->rb_first + count) % MAX_REPLIES;
    r->rb_count -= count;
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
    int rc = how < 0 ? smtp_client_data(r->cli) : smtp_client_data_as(r->cli, (smtp_client_data_command)how);
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
    r->choice = data + HEADER;
    r->choice_end = r->choice + nch;
    const uint8_t *p = r->choice_end, *end = data + size;
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
    fmem_budget(&r->fm, 1); /* the recipients' table, at the first smtp_client_mail_from */
    r->cur = 0;
    r->ncalls = 0;
    /* The greeting. */
    FLOG(&r->rb, "220 s0 model ESMTP\r\n");
    r->rep[r->nrep++] = (struct reply){V_OTHER, 220, "", 0};
    r->rb_end[r->rb_count++] = r->rb.len;
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
        case 6: deliver(r, r->rb_count); break;
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
        for (int round = 0; round < 64 && r->rb_count && !r->failed; round++) {
            pump(r);
            deliver(r, r->rb_count);
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
        for (size_t i = 0; i < r->nrep; i++)
            FUZZ_ASSERT(r->rep[i].verb != V_RCPT || r->rep[i].reported);
        FUZZ_ASSERT(r->rsets_seen >= r->rset_asked);
    } else if (r->end_serial >= 0) {
        for (int i = 0; i < r->end_serial; i++)
            FUZZ_ASSERT(r->rep[i].verb != V_RCPT || r->rep[i].reported);
    }
    smtp_client_del(r->cli);
    FUZZ_ASSERT(r->fm.live == 0);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    flog_free(&r->ob);
    flog_free(&r->rb);
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
