/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: smtp-proxy's two-engine pipeline, in memory. A server engine takes a downstream
 * client's commands, a client engine relays them to an upstream server, and the glue between
 * them is a model of examples/smtp-proxy.c's, made of the same public calls in the same places:
 * each MAIL, RCPT, DATA, end of data, VRFY and HELP deferred (smtp_server_decision) while the
 * client engine forwards it (smtp_client_mail_from, smtp_client_rcpt_to, smtp_client_data_as
 * with the client's own command, smtp_client_command), upstream's reply relayed verbatim
 * (smtp_server_relay_to) to the decision waiting in a ring, in command order; the greeting
 * deferred until upstream is ready; the body streamed through a buffer drained by a body source
 * (SMTP_ERR_AGAIN until it arrives); a message in one BDAT LAST read ahead of its envelope's
 * replies (SMTP_SERVER_CHUNK_AHEAD) sent upstream with them, upstream's verdict kept for the
 * message's end; the client's RSET sent upstream; upstream's loss answered
 * with the proxy's own 451 4.4.2 and a 421 once nothing waits. The program's glue cannot be
 * linked here (it is one with its event loop, --filter's processes, XCLIENT and TLS): this model
 * leaves out those four and the client connection's pause above 256 KiB, and follows the rest
 * function by function (the names are the program's).
 *
 * The downstream client is a model driven by the input: EHLO, MAIL and RCPT with paths from a
 * list, DATA with content (sent after the 354 it gets), BDAT chunks, RSET, NOOP, VRFY, HELP,
 * QUIT and raw lines, written in groups the input flushes (so they come pipelined), and it
 * pairs each reply with its command. Upstream is fuzz_model.h's server: its replies carry their
 * serial ("s12") and wait until the input delivers them.
 *
 * Checked here, besides no crash, no leak, no over-read and no undefined behaviour:
 *  - every acceptance the client gets for MAIL, RCPT, DATA (354), the end of data or BDAT LAST
 *    is, byte for byte, upstream's reply to the command the client's own caused; a refusal is
 *    upstream's, verbatim, or one of the proxy's own (4xx/5xx): never an acceptance upstream
 *    did not give; VRFY and HELP replies that name an upstream reply are it, verbatim;
 *  - no command goes upstream the client did not cause: each MAIL and RCPT upstream is the
 *    next one the client sent with that path, DATA or BDAT only for a message the client began,
 *    VRFY and HELP for the client's, no NOOP and one hello; a message's end goes upstream only
 *    once the client's message is complete, with the same content (DATA's unstuffed);
 *  - every command gets its reply: at the end, once both sides are quiet, a downstream session
 *    still open owes nothing;
 *  - split invariance: the client's bytes fed whole or in pieces, upstream's replies one a
 *    read or each in pieces, both outputs pulled in pieces: the same bytes downstream (up to
 *    the proxy's 421, whose moment depends on the pieces), the same commands, relays and
 *    answers of the glue, and upstream's stream one a prefix of the other (a message aborted
 *    midway stops where its body had got to).
 * FUZZ_TRACE=1 prints both runs' logs.
 * Input layout: byte 0 the split seed; byte 1 upstream's capabilities (1 PIPELINING, 2 CHUNKING,
 * 4 SMTPUTF8 and 8BITMIME, 8 DSN, 16 enhanced status codes, 32 SIZE); byte 2 the number N of
 * upstream reply choices, then the N choices (fuzz_model.h); then the script, one operation a
 * byte modulo 16: hello, MAIL (a byte: path and parameters), RCPT (a byte: path), DATA (a length
 * byte and the content), BDAT (a byte: 0x80 LAST; a length byte and the chunk), RSET, NOOP,
 * VRFY, a raw line (a length byte and its octets), QUIT, flush the client's commands, deliver
 * every upstream reply pending, deliver the oldest, upstream closes, the client closes, HELP.
 */
#include "fuzz_model.h"

#include <stdarg.h>

#include <smtp/codec.h>
#include <smtp/server.h>

#define HEADER 3
#define PX_MAX_PENDING 128 /* smtp-proxy.c's */
#define MAX_D 256          /* downstream commands */
#define MAX_MSG 32

/* ---- the glue: smtp-proxy.c's, engine-level ---- */

enum px_kind { P_MAIL, P_RCPT, P_DATA, P_END, P_COMMAND, P_OWN };

struct px {
    smtp_server *srv; /* NULL once the client's connection closed */
    smtp_client *cli;
    int up_ready, up_dead, shut, down_gone, up_gone;
    int lost; /* upstream_lost ran (the harness's: when the client's output may vary) */
    uint64_t greet_id;
    struct {
        uint64_t id;
        enum px_kind kind;
    } pend[PX_MAX_PENDING];
    size_t pend_head, pend_len;
    smtp_verb held_verb;
    uint64_t held_id;
    char held_arg[SMTP_MAX_COMMAND_LINE];
    int txn, binary, in_body;
    char sender[SMTP_MAX_PATH + 1], envid[101];
    /* The recipients' strings, which the client engine borrows until on_rcpt: each in a block
     * of its own, so that the table grows without moving them; kept for the connection. */
    struct px_rcpt {
        char address[SMTP_MAX_PATH + 1];
        char orcpt[501];
    } * *rcpts;
    size_t nrcpts, rcpts_cap;
    char *body;
    size_t body_len, body_off, body_cap;
    smtp_span body_now; /* on_data's octets offered to the client engine (smtp-proxy.c's) */
    int body_end, body_abort, body_waiting;
    int data_due;       /* a BDAT LAST accepted, upstream told at its first octets */
    int chunk_counting; /* a message in one BDAT LAST: its octets still to come (CHUNK_AHEAD) */
    uint64_t chunk_left;
    size_t up_rcpts_ok; /* recipients upstream accepted in this transaction */
    int early_code;
    size_t early_len;
    char early_text[SMTP_SERVER_MAX_RELAY_TEXT];
    struct flog *ev;
};

static int pend_push(struct px *p, enum px_kind kind, uint64_t id)
{
    if (p->pend_len == PX_MAX_PENDING) return -1;
    size_t i = (p->pend_head + p->pend_len++) % PX_MAX_PENDING;
    p->pend[i].id = id;
    p->pend[i].kind = kind;
    return 0;
}

static int pend_front(const struct px *p, enum px_kind *kind, uint64_t *id)
{
    if (!p->pend_len) return 0;
    *kind = p->pend[p->pend_head].kind;
    *id = p->pend[p->pend_head].id;
    return 1;
}

static void pend_pop(struct px *p)
{
    p->pend_head = (p->pend_head + 1) % PX_MAX_PENDING;
    p->pend_len--;
}

/* The proxy's own code for an upstream reply it cannot relay as it is: never an acceptance
 * (451 for a 2xx or 3xx), and a second digit the engine takes (x51 for one over 5). */
static int unrelayable_code(int code)
{
    if (code < 400) code = 451;
    return code / 10 % 10 > 5 ? code / 100 * 100 + 51 : code;
}

static void relay(struct px *p, uint64_t id, const smtp_client_reply *r)
{
    if (p->srv == NULL || id == 0) return;
    int rc = smtp_server_relay_to(p->srv, id, r->code, r->text.ptr, r->text.len);
    if (rc == SMTP_ERR_INVALID_ARGUMENT || rc == SMTP_ERR_UNSAFE_ARGUMENT) {
        rc = smtp_server_reply_to(p->srv, id, unrelayable_code(r->code), NULL,
                                  "Upstream's reply not relayable", 30);
    }
    FLOG(p->ev, "relay %d -> %d\n", r->code, rc);
}

static void answer(struct px *p, uint64_t id, int code, const char *enhanced, const char *text)
{
    if (p->srv == NULL || id == 0) return;
    int rc = smtp_server_reply_to(p->srv, id, code, enhanced, text, text ? strlen(text) : 0);
    FLOG(p->ev, "answer %d -> %d\n", code, rc);
}

static void set_extensions(struct px *p)
{
    const smtp_caps *k = smtp_client_caps(p->cli);
    static const struct {
        smtp_cap cap;
        unsigned ext;
    } map[] = {{SMTP_CAP_PIPELINING, SMTP_SERVER_EXT_PIPELINING},
               {SMTP_CAP_8BITMIME, SMTP_SERVER_EXT_8BITMIME},
               {SMTP_CAP_SMTPUTF8, SMTP_SERVER_EXT_SMTPUTF8},
               {SMTP_CAP_DSN, SMTP_SERVER_EXT_DSN},
               {SMTP_CAP_ENHANCEDSTATUSCODES, SMTP_SERVER_EXT_ENHANCEDSTATUSCODES}};
    unsigned ext = SMTP_SERVER_EXT_CHUNKING;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (k && smtp_caps_has(k, map[i].cap)) ext |= map[i].ext;
    if (k && smtp_caps_has(k, SMTP_CAP_BINARYMIME) && smtp_caps_has(k, SMTP_CAP_CHUNKING))
        ext |= SMTP_SERVER_EXT_BINARYMIME;
    uint64_t size = 0;
    if (k && smtp_caps_has(k, SMTP_CAP_SIZE)) {
        ext |= SMTP_SERVER_EXT_SIZE;
        size = smtp_caps_size(k);
    }
    (void)smtp_server_set_extensions(p->srv, ext, size);
}

static void upstream_lost(struct px *p, const smtp_client_reply *r)
{
    if (p->up_dead) return;
    p->up_dead = 1;
    p->up_ready = 0;
    p->lost = 1;
    flog_str(p->ev, "upstream lost\n");
    if (p->srv == NULL) return;
    if (p->greet_id) {
        if (r != NULL && r->code >= 400) {
            relay(p, p->greet_id, r);
        } else {
            static const char text[] = "4.4.1 proxy.example upstream unavailable";
            (void)smtp_server_relay_to(p->srv, p->greet_id, 421, text, strlen(text));
        }
        p->greet_id = 0;
        return;
    }
    if (p->held_id) answer(p, p->held_id, 451, "4.4.2", "Upstream connection lost");
    p->held_id = 0;
    enum px_kind k;
    uint64_t id;
    while (pend_front(p, &k, &id)) {
        if (k == P_END && p->in_body) break;
        if (id) answer(p, id, 451, "4.4.2", "Upstream connection lost");
        pend_pop(p);
    }
    p->shut = 1;
}

static int up_ready(smtp_client *cli, void *ud)
{
    (void)cli;
    struct px *p = ud;
    p->up_ready = 1;
    flog_str(p->ev, "upstream ready\n");
    if (p->srv == NULL) return 0;
    if (p->greet_id) {
        set_extensions(p);
        (void)smtp_server_reply_to(p->srv, p->greet_id, 0, NULL, NULL, 0);
        p->greet_id = 0;
    }
    return 0;
}

static int data_upstream(struct px *p, smtp_verb verb, uint64_t id)
{
    int bdat = verb == SMTP_VERB_BDAT && smtp_caps_has(smtp_client_caps(p->cli), SMTP_CAP_CHUNKING);
    int rc = smtp_client_data_as(p->cli,
                                 bdat || p->binary ? SMTP_CLIENT_DATA_BDAT : SMTP_CLIENT_DATA_DATA);
    if (rc != 0) return -1;
    if (bdat || p->binary) return 0;
    return pend_push(p, P_DATA, id);
}

static void send_held(struct px *p)
{
    uint64_t id = p->held_id;
    p->held_id = 0;
    if (smtp_client_command(p->cli, p->held_verb, p->held_arg[0] ? p->held_arg : NULL) != 0 ||
        pend_push(p, P_COMMAND, id) != 0)
        answer(p, id, 451, "4.3.0", "Cannot relay the command now");
}

static int up_reply(smtp_client *cli, const smtp_client_reply *r, void *ud)
{
    (void)cli;
    struct px *p = ud;
    enum px_kind k;
    uint64_t id;
    if (!pend_front(p, &k, &id)) return 0;
    pend_pop(p);
    if (k == P_OWN) {
        if (p->held_id) send_held(p);
        return 0;
    }
    if (r == NULL) return 0;
    relay(p, id, r);
    return 0;
}

static int up_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                   void *ud)
{
    (void)cli, (void)rcpt;
    struct px *p = ud;
    enum px_kind k;
    uint64_t id;
    int any = pend_front(p, &k, &id);
    if (r->command == SMTP_VERB_RCPT) {
        if (!any || k != P_RCPT) return -1; /* the program: "upstream RCPT reply out of order" */
        pend_pop(p);
        if (r->code >= 200 && r->code < 300) p->up_rcpts_ok++;
        relay(p, id, r);
    }
    return 0;
}

static int up_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    struct px *p = ud;
    p->txn = 0;
    const smtp_client_reply *r = res->reply;
    enum px_kind k;
    uint64_t id;
    while (pend_front(p, &k, &id)) {
        if (k == P_OWN || k == P_COMMAND) break;
        if (k == P_END && p->in_body) break;
        pend_pop(p);
        int own = r != NULL && ((k == P_MAIL && r->command == SMTP_VERB_MAIL) ||
                                ((k == P_DATA || k == P_END) &&
                                 (r->command == SMTP_VERB_DATA || r->command == SMTP_VERB_BDAT)));
        /* An acceptance only when upstream delivered: a 2xx that broke the protocol (to
         * DATA, say) acknowledges nothing. */
        if (own && !(k == P_END && r->code == 354) &&
            (r->code >= 400 || res->status == SMTP_CLIENT_DELIVERED))
            relay(p, id, r);
        else if (res->status == SMTP_CLIENT_PERMFAIL && k != P_END)
            answer(p, id, 554, "5.5.1", "Error: transaction refused upstream");
        else if (res->status == SMTP_CLIENT_UNSUPPORTED)
            answer(p, id, 554, "5.5.4", "Upstream does not support what the message needs");
        else
            answer(p, id, 451, "4.4.2", "Upstream transaction failed");
    }
    if (p->in_body && p->body_end && r != NULL && r->code != 354 &&
        (r->command == SMTP_VERB_DATA || r->command == SMTP_VERB_BDAT) &&
        (r->code >= 400 || res->status == SMTP_CLIENT_DELIVERED)) {
        /* The whole message went upstream before the engine judged the client's BDAT. */
        if (r->text.len <= sizeof p->early_text) {
            p->early_code = r->code;
            if (r->text.len) memcpy(p->early_text, r->text.ptr, r->text.len);
            p->early_len = r->text.len;
        } else {
            p->early_code = unrelayable_code(r->code);
            memcpy(p->early_text, "Upstream's reply not relayable", 30);
            p->early_len = 30;
        }
    } else if (p->in_body) {
        p->body_abort = 1;
        p->early_code = r != NULL && r->code >= 400 ? r->code : 451;
        p->early_len = 0;
        if (r != NULL && r->code >= 400 && r->text.len <= sizeof p->early_text) {
            if (r->text.len) memcpy(p->early_text, r->text.ptr, r->text.len);
            p->early_len = r->text.len;
        } else {
            p->early_code = 451;
            memcpy(p->early_text, "4.4.2 Upstream transaction failed", 33);
            p->early_len = 33;
        }
    }
    return 0;
}

static int up_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli;
    struct px *p = ud;
    FLOG(p->ev, "upstream session end %s\n", smtp_client_end_name(res->end));
    if (res->end != SMTP_CLIENT_END_QUIT) upstream_lost(p, res->reply);
    return 0;
}

static smtp_ssize up_body(smtp_client *cli, char *dest, size_t cap, void *ud)
{
    (void)cli;
    struct px *p = ud;
    if (p->body_abort) return SMTP_ERR_CALLBACK_FAILURE;
    size_t n = p->body_len - p->body_off;
    if (n == 0 && p->body_now.len) {
        n = p->body_now.len < cap ? p->body_now.len : cap;
        memcpy(dest, p->body_now.ptr, n);
        p->body_now.ptr += n;
        p->body_now.len -= n;
        return (smtp_ssize)n;
    }
    if (n == 0) {
        if (p->body_end) return 0;
        p->body_waiting = 1;
        return SMTP_ERR_AGAIN;
    }
    if (n > cap) n = cap;
    memcpy(dest, p->body + p->body_off, n);
    p->body_off += n;
    if (p->body_off == p->body_len) p->body_off = p->body_len = 0;
    return (smtp_ssize)n;
}

static const smtp_client_callbacks up_callbacks = {
    .on_rcpt = up_rcpt,
    .on_message = up_message,
    .on_session_end = up_session_end,
    .on_reply = up_reply,
    .on_ready = up_ready,
};

static int refuse_unavailable(struct px *p)
{
    flog_str(p->ev, "refused: upstream unavailable\n");
    smtp_server_reply(p->srv, 451, "4.4.2", "Upstream connection lost", 24);
    return 0;
}

static int on_connect(smtp_server *srv, void *ud)
{
    struct px *p = ud;
    p->srv = srv;
    if (p->up_dead) {
        static const char text[] = "4.4.1 proxy.example upstream unavailable";
        smtp_server_relay_to(srv, 0, 421, text, strlen(text));
        return 0;
    }
    if (p->up_ready) {
        set_extensions(p);
        return 0;
    }
    p->greet_id = smtp_server_decision(srv);
    return SMTP_SERVER_DEFER;
}

static int on_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv, (void)verb, (void)domain;
    struct px *p = ud;
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    set_extensions(p);
    return 0;
}

static int unbracket(smtp_span path, char *buf, size_t cap)
{
    const char *s = path.ptr;
    size_t n = path.len;
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') s++, n -= 2;
    if (n >= cap) return -1;
    if (n) memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int xtext_copy(smtp_span x, char *buf, size_t cap)
{
    smtp_ssize n = smtp_xtext_decode(x.ptr, x.len, buf, cap - 1);
    if (n < 0) return -1;
    buf[n] = '\0';
    return 0;
}

static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    struct px *p = ud;
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    smtp_client_message msg;
    smtp_client_message_init(&msg);
    if (unbracket(m->path, p->sender, sizeof p->sender) != 0) {
        smtp_server_reply(srv, 501, "5.1.7", "Bad sender address", 18);
        return 0;
    }
    const smtp_mail_params *mp = &m->params;
    msg.sender = p->sender;
    if (mp->present & SMTP_MAIL_SIZE) msg.size = mp->size;
    if (mp->present & SMTP_MAIL_BODY) msg.body_type = mp->body;
    p->binary = msg.body_type == SMTP_BODY_BINARYMIME;
    if (mp->present & SMTP_MAIL_RET) msg.ret = mp->ret;
    if (mp->present & SMTP_MAIL_SMTPUTF8) msg.flags |= SMTP_CLIENT_MSG_SMTPUTF8;
    if ((mp->present & SMTP_MAIL_ENVID) && xtext_copy(mp->envid, p->envid, sizeof p->envid) == 0)
        msg.envid = p->envid;
    if (mp->present & SMTP_MAIL_MT_PRIORITY) {
        msg.mt_priority_set = 1;
        msg.mt_priority = mp->mt_priority;
    }
    if (mp->present & SMTP_MAIL_BY) {
        msg.by_mode = mp->by_mode;
        msg.by_time = mp->by_time;
        msg.by_trace = mp->by_trace;
    }
    if (mp->present & SMTP_MAIL_REQUIRETLS) msg.requiretls = 1;
    msg.read_body = up_body;
    msg.read_body_data = p;
    p->nrcpts = 0;
    p->body_len = p->body_off = 0;
    p->body_end = p->body_abort = p->body_waiting = p->data_due = 0;
    p->chunk_counting = 0;
    p->up_rcpts_ok = 0;
    p->early_code = 0;
    if (smtp_client_mail_from(p->cli, &msg) != 0) {
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the transaction now", 32);
        return 0;
    }
    p->txn = 1;
    if (pend_push(p, P_MAIL, smtp_server_decision(srv)) != 0) return -1;
    return SMTP_SERVER_DEFER;
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    struct px *p = ud;
    if (p->up_dead) return refuse_unavailable(p);
    if (!p->txn) {
        smtp_server_reply(srv, 503, "5.5.1", "Error: need MAIL command", 24);
        return 0;
    }
    if (p->nrcpts == p->rcpts_cap) {
        size_t cap = p->rcpts_cap ? p->rcpts_cap * 2 : 8;
        struct px_rcpt **n = realloc(p->rcpts, cap * sizeof *n);
        if (n == NULL) return -1;
        for (size_t i = p->rcpts_cap; i < cap; i++)
            n[i] = NULL;
        p->rcpts = n;
        p->rcpts_cap = cap;
    }
    if (p->rcpts[p->nrcpts] == NULL && (p->rcpts[p->nrcpts] = malloc(sizeof **p->rcpts)) == NULL)
        return -1;
    struct px_rcpt *r = p->rcpts[p->nrcpts];
    if (unbracket(rc->path, r->address, sizeof r->address) != 0) {
        smtp_server_reply(srv, 501, "5.1.3", "Bad recipient address", 21);
        return 0;
    }
    smtp_client_rcpt cr = {r->address, 0, NULL};
    if (rc->params.present & SMTP_RCPT_NOTIFY) cr.notify = rc->params.notify;
    if ((rc->params.present & SMTP_RCPT_ORCPT) && rc->params.orcpt_type == SMTP_ORCPT_RFC822 &&
        xtext_copy(rc->params.orcpt_addr, r->orcpt, sizeof r->orcpt) == 0)
        cr.orcpt = r->orcpt;
    if (smtp_client_rcpt_to(p->cli, &cr) != 0) {
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the recipient now", 30);
        return 0;
    }
    p->nrcpts++;
    if (pend_push(p, P_RCPT, smtp_server_decision(srv)) != 0) return -1;
    return SMTP_SERVER_DEFER;
}

static int on_data_start(smtp_server *srv, void *ud)
{
    struct px *p = ud;
    if (p->up_dead) return refuse_unavailable(p);
    if (!p->txn) {
        smtp_server_reply(srv, 503, "5.5.1", "Error: need RCPT command", 24);
        return 0;
    }
    smtp_verb verb = smtp_server_decision_command(srv);
    uint64_t id = verb == SMTP_VERB_DATA ? smtp_server_decision(srv) : 0;
    uint64_t size = 0;
    int last = 0;
    if (verb == SMTP_VERB_BDAT && smtp_server_decision_chunk(srv, &size, &last) != 0) last = 0;
    if (last && size > 0) {
        p->chunk_counting = 1;
        p->chunk_left = size;
        p->data_due = 1;
        p->in_body = 1;
        return 0;
    }
    if (data_upstream(p, verb, id) != 0) {
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the data now", 25);
        return 0;
    }
    p->in_body = 1;
    if (last) p->body_end = 1;
    return id ? SMTP_SERVER_DEFER : 0;
}

/* smtp-proxy.c's data_due_start. */
static void data_due_start(struct px *p)
{
    if (!p->data_due) return;
    p->data_due = 0;
    if (!p->txn || p->up_dead || data_upstream(p, SMTP_VERB_BDAT, 0) == 0) return;
    p->body_abort = 1;
    p->early_code = 451;
    memcpy(p->early_text, "4.3.0 Cannot relay the data now", 31);
    p->early_len = 31;
}

static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    struct px *p = ud;
    if (p->body_abort || p->up_dead) return 0;
    if (p->chunk_counting && (p->chunk_left -= data.len) == 0) {
        p->chunk_counting = 0;
        p->body_end = 1;
    }
    if (p->data_due || p->body_waiting) { /* the client engine takes them from the span */
        p->body_now = data;
        if (p->data_due) {
            data_due_start(p);
        } else {
            p->body_waiting = 0;
            if (smtp_client_body_ready(p->cli) == SMTP_ERR_INVALID_STATE) p->body_waiting = 1;
        }
        data = p->body_now;
        p->body_now = (smtp_span){NULL, 0};
    }
    if (data.len == 0) return 0;
    if (p->body_len + data.len > p->body_cap) {
        size_t cap = p->body_cap ? p->body_cap : 16384;
        while (cap < p->body_len + data.len)
            cap *= 2;
        char *b = realloc(p->body, cap);
        if (b == NULL) return -1;
        p->body = b;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, data.ptr, data.len);
    p->body_len += data.len;
    return 0;
}

static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)msg;
    struct px *p = ud;
    p->in_body = 0;
    p->body_end = 1;
    data_due_start(p);
    if (p->early_code) {
        smtp_server_relay_to(srv, 0, p->early_code, p->early_text, p->early_len);
        p->early_code = 0;
        return 0;
    }
    if (p->up_dead) {
        smtp_server_reply(srv, 451, "4.4.2", "Upstream connection lost", 24);
        p->shut = 1;
        return 0;
    }
    if (pend_push(p, P_END, smtp_server_decision(srv)) != 0) return -1;
    return SMTP_SERVER_DEFER;
}

static int on_message_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    struct px *p = ud;
    p->in_body = 0;
    if (p->txn && why == SMTP_SERVER_ABORT_NO_RECIPIENTS && p->up_rcpts_ok == 0) {
        p->chunk_counting = 0; /* upstream has no recipient either: it ends the transaction */
        return 0;
    }
    if (p->txn) p->body_abort = 1;
    return 0;
}

static int on_reset(smtp_server *srv, void *ud)
{
    (void)srv;
    struct px *p = ud;
    if (p->txn && !p->up_dead && p->cli != NULL &&
        smtp_client_command(p->cli, SMTP_VERB_RSET, NULL) == 0)
        pend_push(p, P_OWN, 0);
    return 0;
}

/* smtp-proxy.c's own_pending: a command of the proxy's own is out. */
static int own_pending(const struct px *p)
{
    for (size_t i = 0; i < p->pend_len; i++)
        if (p->pend[(p->pend_head + i) % PX_MAX_PENDING].kind == P_OWN) return 1;
    return 0;
}

static int forward(struct px *p, smtp_verb verb, smtp_span arg)
{
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    char buf[SMTP_MAX_COMMAND_LINE];
    if (arg.len >= sizeof buf) return 0;
    if (arg.len) memcpy(buf, arg.ptr, arg.len);
    buf[arg.len] = '\0';
    int rc = smtp_client_command(p->cli, verb, arg.len ? buf : NULL);
    FLOG(p->ev, "forward %s -> %d\n", smtp_verb_name(verb), rc);
    if (rc == SMTP_ERR_INVALID_STATE && own_pending(p) && !p->held_id) {
        p->held_verb = verb;
        memcpy(p->held_arg, buf, arg.len + 1);
        p->held_id = smtp_server_decision(p->srv);
        return SMTP_SERVER_DEFER;
    }
    if (rc != 0) {
        smtp_server_reply(p->srv, 451, "4.3.0", "Cannot relay the command now", 28);
        return 0;
    }
    if (pend_push(p, P_COMMAND, smtp_server_decision(p->srv)) != 0) return -1;
    return SMTP_SERVER_DEFER;
}

static int on_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    return forward(ud, SMTP_VERB_VRFY, arg);
}

static int on_help(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    return forward(ud, SMTP_VERB_HELP, arg);
}

static const smtp_server_callbacks down_callbacks = {
    .on_connect = on_connect,
    .on_helo = on_helo,
    .on_mail = on_mail,
    .on_rcpt = on_rcpt,
    .on_data_start = on_data_start,
    .on_data = on_data,
    .on_message_end = on_message_end,
    .on_message_abort = on_message_abort,
    .on_reset = on_reset,
    .on_vrfy = on_vrfy,
    .on_help = on_help,
};

/* ---- the downstream client, a model ---- */

enum dk {
    D_GREET,
    D_HELLO,
    D_MAIL,
    D_RCPT,
    D_DATA,
    D_END,
    D_BDAT,
    D_BDAT_LAST,
    D_RSET,
    D_NOOP,
    D_VRFY,
    D_HELP,
    D_RAW,
    D_QUIT
};

struct dcmd {
    enum dk kind;
    char path[80];
    size_t msg;  /* DATA, END, BDAT: its message */
    size_t up;   /* the serial of upstream's reply it is owed, SIZE_MAX: none */
    int matched; /* upstream got the command it caused */
    int starts;  /* DATA, or the first BDAT of its message */
    int code;    /* the reply it got, 0 before */
    int notify;  /* RCPT: with NOTIFY=, which goes upstream only with DSN */
};

struct dmsg {
    struct flog content; /* as the client meant it, before dot-stuffing */
    int complete;        /* its end was sent */
    int up_data;         /* upstream got it with DATA */
    int up_done;         /* upstream got all of it, the same */
    size_t nchunks;      /* BDAT: chunks sent */
};

struct run {
    struct px px;
    struct fmodel um;
    struct flog ev;    /* the glue's events */
    struct flog um_ev; /* what upstream read: how it interleaves with the glue's depends on
                        * the pieces */
    struct fsplit sp;
    int split, failed;
    /* The downstream client. */
    struct dcmd cmd[MAX_D];
    size_t ncmd, next_reply;
    smtp_server *srv;
    struct flog wire; /* what it wrote */
    struct flog held; /* written after a DATA that awaits its reply: sent after it */
    int data_wait;
    size_t held_data[MAX_MSG], nheld_data; /* the end in `held` of each DATA held */
    size_t avail, fed; /* made available by a flush; taken by the server engine */
    size_t carry;      /* fed last time but not taken */
    size_t shut_at;    /* 1 + the client's output when upstream was lost or the proxy's 421
                        * ended the session, or 0 */
    struct flog out;   /* what it got */
    size_t out_off;
    int down_closed; /* the server closed (421, 221) */
    struct dmsg msg[MAX_MSG];
    size_t nmsg;
    size_t bdat_msg; /* the message of BDAT chunks in progress, SIZE_MAX: none */
    size_t mail_cur, rcpt_cur, data_cur, vrfy_cur, um_msg; /* upstream's matching */
    int um_hellos;
};

static const char *const paths[] = {"a@example.org", "",
                                    "b@example.net", "c@example.net",
                                    "Postmaster",    "s\xc3\xa9@example.org",
                                    "x@[192.0.2.1]", "d@example.com"};
static const char *const mail_params[] = {"",
                                          " SIZE=100",
                                          " BODY=8BITMIME",
                                          " SMTPUTF8",
                                          " RET=HDRS ENVID=e1",
                                          " SIZE=99999999",
                                          " BODY=BINARYMIME",
                                          " FOO=bar"};

static size_t d_push(struct run *r, enum dk kind, const char *path, size_t msg)
{
    if (r->ncmd == MAX_D) return SIZE_MAX;
    struct dcmd *d = &r->cmd[r->ncmd];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->msg = msg;
    d->up = SIZE_MAX;
    if (path) snprintf(d->path, sizeof d->path, "%s", path);
    return r->ncmd++;
}

/* Content from input octets: CRLF lines of at most 76 octets, no bare CR or LF. */
static void d_content(struct flog *c, const uint8_t *p, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || col == 76) {
            flog_str(c, "\r\n");
            col = 0;
            if (p[i] == '\n') continue;
        }
        if (p[i] == '\r') continue;
        flog_raw(c, &p[i], 1);
        col++;
    }
}

static size_t d_new_msg(struct run *r)
{
    if (r->nmsg == MAX_MSG) return SIZE_MAX;
    memset(&r->msg[r->nmsg], 0, sizeof r->msg[0]);
    return r->nmsg++;
}

/* A reply to `d`, R[0..n): what the proxy may answer (the top of this file). */
static void d_check(struct run *r, struct dcmd *d, const char *R, size_t n, int code)
{
    int s = fmodel_serial(R, n);
    const struct fm_reply *u = s >= 0 && (size_t)s < r->um.nrep ? &r->um.rep[s] : NULL;
    int verbatim = u && u->end - u->start == n && memcmp(r->um.all.buf + u->start, R, n) == 0;
    switch (d->kind) {
    case D_MAIL:
    case D_RCPT:
    case D_DATA:
    case D_END:
    case D_BDAT_LAST:
        if (code < 400) {
            /* An acceptance: upstream's own, to the command this one caused. */
            if (!verbatim || (size_t)s != d->up) {
                fprintf(stderr, "command %zu (kind %d) got s%d, owed s%zu:\n", (size_t)(d - r->cmd),
                        (int)d->kind, s, d->up);
                struct flog got = {(char *)R, n, n};
                flog_dump("reply", &got);

                flog_dump("upstream's replies", &r->um.all);
                flog_dump("the client wrote", &r->wire);
            }
            FUZZ_ASSERT(verbatim && (size_t)s == d->up);
            if (d->kind == D_END || d->kind == D_BDAT_LAST) FUZZ_ASSERT(r->msg[d->msg].up_done);
        } else {
            FUZZ_ASSERT(u == NULL || verbatim); /* upstream's refusal, or the proxy's own */
        }
        break;
    case D_VRFY:
    case D_HELP: FUZZ_ASSERT(u == NULL || (verbatim && (size_t)s == d->up)); break;
    default: break;
    }
}

/* The replies the client got so far, each paired with its command. */
static void d_read(struct run *r)
{
    while (!r->down_closed && r->out_off < r->out.len) {
        const char *p = r->out.buf + r->out_off;
        size_t n = r->out.len - r->out_off, end = 0;
        for (size_t i = 0; i + 5 < n + 1 && !end;) { /* lines up to "DDD " */
            const char *lf = memchr(p + i, '\n', n - i);
            if (!lf) return;
            size_t next = (size_t)(lf - p) + 1;
            FUZZ_ASSERT(next - i >= 5 && p[next - 2] == '\r'); /* "DDD" SP or "-", CRLF */
            if (p[i + 3] == ' ') end = next;
            i = next;
        }
        if (!end) return;
        int code = atoi(p);
        r->out_off += end;
        FUZZ_ASSERT(r->next_reply < r->ncmd || code == 421); /* a reply nothing awaits */
        if (code == 421 || (r->next_reply < r->ncmd && r->cmd[r->next_reply].kind == D_QUIT))
            r->down_closed = 1;
        if (r->next_reply == r->ncmd) continue;
        struct dcmd *d = &r->cmd[r->next_reply++];
        d->code = code;
        d_check(r, d, p, end, code);
        if (d->kind == D_DATA && code == 354) { /* the content, dot-stuffed, then its end */
            struct dmsg *m = &r->msg[d->msg];
            const char *c = m->content.buf;
            for (size_t i = 0; i < m->content.len; i++) {
                if (c[i] == '.' && (i == 0 || c[i - 1] == '\n')) flog_raw(&r->wire, ".", 1);
                flog_raw(&r->wire, &c[i], 1);
            }
            flog_str(&r->wire, ".\r\n");
            m->complete = 1;
            /* its END goes before what was held: pushed in the order sent */
            struct dcmd endc = {D_END, "", d->msg, SIZE_MAX, 0, 0, 0, 0};
            size_t at = r->next_reply;
            FUZZ_ASSERT(r->ncmd < MAX_D); /* room kept for it */
            {
                memmove(&r->cmd[at + 1], &r->cmd[at], (r->ncmd - at) * sizeof r->cmd[0]);
                r->cmd[at] = endc;
                r->ncmd++;
                size_t *cur[] = {&r->mail_cur, &r->rcpt_cur, &r->data_cur, &r->vrfy_cur};
                for (size_t i = 0; i < 4; i++)
                    *cur[i] += *cur[i] >= at;
            }
        }
        if (d->kind == D_DATA) { /* what waited for the reply goes now, up to the next DATA */
            size_t k = r->nheld_data ? r->held_data[0] : r->held.len;
            if (k) {
                flog_raw(&r->wire, r->held.buf, k);
                memmove(r->held.buf, r->held.buf + k, r->held.len - k);
                r->held.len -= k;
            }
            r->data_wait = r->nheld_data > 0;
            if (r->nheld_data) {
                r->nheld_data--;
                for (size_t i = 0; i < r->nheld_data; i++)
                    r->held_data[i] = r->held_data[i + 1] - k;
            }
            r->avail = r->wire.len;
        }
    }
}

/* ---- upstream: what it reads, checked against what the client sent ---- */

/* Does line[0..n) hold `word`? */
static int line_has(const char *line, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(line + i, word, k) == 0) return 1;
    return 0;
}

/* The first command from *cur that `ok` takes, not matched yet, with that path (and NOTIFY or
 * not): what caused the command upstream read. One answered already was answered by the proxy
 * (upstream never got it), but a BDAT the proxy accepted, whose chunk goes on upstream. */
static struct dcmd *d_match(struct run *r, size_t *cur, int (*ok)(const struct dcmd *),
                            const char *path, int notify)
{
    for (size_t i = *cur; i < r->ncmd; i++) {
        struct dcmd *d = &r->cmd[i];
        int bdat = d->kind == D_BDAT || d->kind == D_BDAT_LAST;
        if (d->code && !(bdat && d->code < 400)) continue;
        if (!ok(d) || d->matched || (path && strcmp(d->path, path) != 0)) continue;
        if (d->kind == D_RCPT && d->notify != notify) continue;
        *cur = i + 1;
        d->matched = 1;
        return d;
    }
    return NULL;
}

static int is_mail(const struct dcmd *d)
{
    return d->kind == D_MAIL;
}

static int is_rcpt(const struct dcmd *d)
{
    return d->kind == D_RCPT;
}

static int is_vrfy_help(const struct dcmd *d)
{
    return d->kind == D_VRFY || d->kind == D_HELP;
}

static int is_data_start(const struct dcmd *d)
{
    return d->starts;
}

static void um_command(void *ud, enum fm_verb v, const char *path, const struct flog *content,
                       size_t serial)
{
    struct run *r = ud;
    struct dcmd *d;
    switch (v) {
    case FM_HELLO: FUZZ_ASSERT(++r->um_hellos == 1); break;
    case FM_MAIL:
    case FM_RCPT:
        d = d_match(r, v == FM_MAIL ? &r->mail_cur : &r->rcpt_cur, v == FM_MAIL ? is_mail : is_rcpt,
                    path, line_has(r->um.line, r->um.line_len, " NOTIFY="));
        FUZZ_ASSERT(d != NULL); /* a MAIL or RCPT the client did not send */
        d->up = serial;
        break;
    case FM_DATA:
    case FM_BDAT_FIRST:
        d = d_match(r, &r->data_cur, is_data_start, NULL, 0); /* the client's next message */
        FUZZ_ASSERT(d != NULL);                               /* data the client did not begin */
        if (d->kind == D_DATA) d->up = serial;
        r->um_msg = d->msg;
        r->msg[d->msg].up_data = v == FM_DATA;
        break;
    case FM_END: {
        struct dmsg *m = &r->msg[r->um_msg];
        /* The lone "." the client engine answers a 354 with that came after a refused MAIL or
         * with no recipient accepted (client.h, RFC 2920 3.1): nothing is delivered, whatever
         * the client sent. */
        if (content->len == 0 && !r->um.end_in_txn) break;
        if (!m->complete) {
            fprintf(stderr, "upstream got the end of message %zu, which the client did not end\n",
                    r->um_msg);
            flog_dump("the client wrote", &r->wire);
            flog_dump("upstream got", &r->um.in);
        }
        FUZZ_ASSERT(m->complete); /* never a message the client has not finished */
        struct flog want = {0};
        flog_raw(&want, m->content.buf, m->content.len);
        if (m->up_data && want.len && want.buf[want.len - 1] != '\n') flog_str(&want, "\r\n");
        int same = want.len == content->len &&
                   (want.len == 0 || memcmp(want.buf, content->buf, want.len) == 0);
        if (!same) {
            fprintf(stderr, "upstream got message %zu other than the client sent it\n", r->um_msg);
            flog_dump("the client sent", &want);
            flog_dump("upstream got", &r->um.in);
        }
        FUZZ_ASSERT(same);
        flog_free(&want);
        m->up_done = 1;
        for (size_t i = 0; i < r->ncmd; i++)
            if ((r->cmd[i].kind == D_END || r->cmd[i].kind == D_BDAT_LAST) &&
                r->cmd[i].msg == r->um_msg)
                r->cmd[i].up = serial;
        break;
    }
    case FM_VRFY:
    case FM_HELP:
        d = d_match(r, &r->vrfy_cur, is_vrfy_help, NULL, 0);
        FUZZ_ASSERT(d != NULL);
        d->up = serial;
        break;
    case FM_NOOP: FUZZ_ASSERT(0); break; /* the proxy answers NOOP itself */
    default: break;
    }
}

/* ---- the loop: both engines brought up to date until nothing moves ---- */

static smtp_ssize write_server(void *engine, char *dest, size_t cap)
{
    return smtp_server_write(engine, dest, cap);
}

static smtp_ssize write_client(void *engine, char *dest, size_t cap)
{
    return smtp_client_write(engine, dest, cap);
}

/* The client's connection closed (or the server closed it): smtp-proxy.c's on_close. */
static void down_close(struct run *r)
{
    struct px *p = &r->px;
    if (p->down_gone) return;
    p->down_gone = 1;
    p->srv = NULL;
    data_due_start(p);
    if (p->body_waiting || p->txn) p->body_abort = 1;
}

/* smtp-proxy.c's maybe_shut; returns 1 when it ended the client's session. */
static int maybe_shut(struct px *p)
{
    if (!p->shut || p->pend_len || p->in_body || p->srv == NULL) return 0;
    if (smtp_server_want_close(p->srv) || smtp_server_pending(p->srv) ||
        smtp_server_timeout(p->srv, NULL) == SMTP_SERVER_WAIT_DATA)
        return 0;
    p->shut = 0;
    (void)smtp_server_shutdown(p->srv);
    return 1;
}

static void pump(void *ud)
{
    struct run *r = ud;
    struct px *p = &r->px;
    smtp_server *srv = r->srv;
    for (int round = 0; round < 1000 && !r->failed; round++) {
        size_t before = r->out.len + r->um.in.len + r->fed;
        int more = 0; /* bytes the engine did not take wait with more behind them */
        if (p->srv && r->fed < r->avail && smtp_server_want_read(srv)) {
            /* As an adapter does: what the engine did not take is fed again, followed by
             * the next piece that arrived (server.h). */
            size_t n = r->avail - r->fed;
            if (r->split) {
                size_t k = r->carry + fsplit_piece(&r->sp);
                if (k < n) n = k;
            }
            char *piece = fcopy(r->wire.buf + r->fed, n);
            smtp_ssize k = smtp_server_read(srv, piece, n);
            free(piece);
            if (k < 0) {
                FLOG(&r->ev, "server read error %d\n", (int)k);
                r->failed = 1;
                break;
            }
            r->fed += (size_t)k;
            r->carry = n - (size_t)k;
            more = k == 0 && r->fed + n < r->avail;
        }
        if (!p->down_gone && fdrain(&r->out, r->split ? &r->sp : NULL, write_server, srv) < 0)
            r->failed = 1;
        d_read(r);
        if (p->srv && smtp_server_want_close(srv)) down_close(r);
        if (!p->up_gone && fdrain(&r->um.in, r->split ? &r->sp : NULL, write_client, p->cli) < 0) {
            flog_str(&r->ev, "client write error\n");
            p->up_gone = 1;
        }
        fmodel_read(&r->um);
        /* smtp-proxy.c's work(): a message stopped before its octets, the body source's
         * wake-up, QUIT upstream, the 421. */
        if (p->data_due && !p->in_body) data_due_start(p);
        if (p->body_waiting && (p->body_len > p->body_off || p->body_end || p->body_abort)) {
            p->body_waiting = 0;
            (void)smtp_client_body_ready(p->cli);
        }
        if (p->down_gone && !p->up_dead) {
            p->up_dead = 1;
            (void)smtp_client_quit(p->cli);
        }
        if (!p->up_gone && smtp_client_want_close(p->cli)) {
            p->up_gone = 1;
            upstream_lost(p, NULL);
        }
        if ((maybe_shut(p) || p->lost) && !r->shut_at) r->shut_at = r->out.len + 1;
        if (r->out.len + r->um.in.len + r->fed == before && !more) break;
    }
}

static void deliver(struct run *r, size_t count)
{
    if (r->px.up_gone) return;
    int rc = fmodel_deliver(&r->um, count, r->split ? &r->sp : NULL, r->px.cli, pump, r);
    if (rc < 0) FLOG(&r->ev, "client read error %d\n", rc);
}

static size_t take(const uint8_t **p, const uint8_t *end)
{
    size_t n = *p < end ? **p : 0;
    *p += *p < end;
    if (n > (size_t)(end - *p)) n = (size_t)(end - *p);
    return n;
}

/* The client writes: after a DATA that awaits its reply, nothing goes before that reply (RFC
 * 2920 3.1: DATA ends a group). */
static void d_write(struct run *r, const void *b, size_t n)
{
    flog_raw(r->data_wait ? &r->held : &r->wire, b, n);
}

__attribute__((format(printf, 2, 3))) static void d_line(struct run *r, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d_write(r, line, (size_t)n);
}

static void d_bdat(struct run *r, int last, const uint8_t *p, size_t n)
{
    if (r->bdat_msg == SIZE_MAX) r->bdat_msg = d_new_msg(r);
    size_t m = r->bdat_msg;
    if (m == SIZE_MAX) return;
    struct flog chunk = {0};
    d_content(&chunk, p, n);
    char head[40];
    int k = snprintf(head, sizeof head, "BDAT %zu%s\r\n", chunk.len, last ? " LAST" : "");
    d_write(r, head, (size_t)k);
    d_write(r, chunk.buf, chunk.len);
    flog_raw(&r->msg[m].content, chunk.buf, chunk.len);
    flog_free(&chunk);
    size_t c = d_push(r, last ? D_BDAT_LAST : D_BDAT, NULL, m);
    if (c != SIZE_MAX) r->cmd[c].starts = r->msg[m].nchunks == 0;
    r->msg[m].nchunks++;
    if (last) {
        r->msg[m].complete = 1;
        r->bdat_msg = SIZE_MAX;
    }
}

static void run_once(struct run *r, const uint8_t *data, size_t size, int split)
{
    memset(r, 0, sizeof *r);
    r->split = split;
    r->bdat_msg = SIZE_MAX;
    r->px.ev = &r->ev;
    fsplit_init(&r->sp, data[0]);
    size_t nch = data[2];
    if (nch > size - HEADER) nch = size - HEADER;
    const uint8_t *p = data + HEADER + nch, *end = data + size;
    unsigned caps = data[1] & 0x3f;
    fmodel_init(&r->um, caps, 0, data + HEADER, nch, &r->um_ev); /* its own order */
    r->um.on_command = um_command;
    r->um.ud = r;

    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "proxy.example";
    ss.extensions = SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE | SMTP_SERVER_EXT_8BITMIME |
                    SMTP_SERVER_EXT_SMTPUTF8 | SMTP_SERVER_EXT_CHUNKING |
                    SMTP_SERVER_EXT_BINARYMIME | SMTP_SERVER_EXT_DSN |
                    SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    ss.max_message_size = 0;
    ss.flags |= SMTP_SERVER_SIZE_ADVISORY;
    ss.max_pending = PX_MAX_PENDING / 2;
    ss.flags |= SMTP_SERVER_CHUNK_AHEAD; /* as smtp-proxy without --filter and --lmtp */
    ss.max_messages = 0;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "proxy.example";
    cs.max_reply_text = SMTP_SERVER_MAX_RELAY_TEXT + 1;
    struct px *px = &r->px;
    smtp_server *srv;
    FUZZ_ASSERT(smtp_server_new(&srv, &down_callbacks, &ss, NULL, px) == 0);
    r->srv = srv;
    d_push(r, D_GREET, NULL, 0);
    if (smtp_server_start(srv) < 0) r->failed = 1;
    FUZZ_ASSERT(smtp_client_new(&px->cli, &up_callbacks, &cs, NULL, px) == 0);
    pump(r);

    while (p < end && !r->failed) {
        int op = *p++ % 16;
        int arg = p < end ? *p : 0;
        size_t n;
        /* Inside a BDAT transfer the model sends no command that would begin another exchange
         * (the engine refuses them there: fuzz_server's ground), and none once its table of
         * commands is full but for the ends of data still owed: the op's bytes are skipped. */
        int writes = op <= 9 || op == 15;
        if ((r->bdat_msg != SIZE_MAX && (op <= 3 || op == 8)) ||
            (writes && r->ncmd + MAX_MSG + 1 >= MAX_D)) {
            if (op <= 2 || op == 7) p += p < end;
            if (op == 3 || op == 8) p += take(&p, end);
            if (op == 4) p += p < end, p += take(&p, end);
            continue;
        }
        switch (op) {
        case 0:
            d_line(r, "%s client.example\r\n", arg % 3 == 2 ? "HELO" : "EHLO");
            d_push(r, D_HELLO, NULL, 0);
            p += p < end;
            r->bdat_msg = SIZE_MAX;
            break;
        case 1:
            d_line(r, "MAIL FROM:<%s>%s\r\n", paths[arg % 8], mail_params[arg / 8 % 8]);
            d_push(r, D_MAIL, paths[arg % 8], 0);
            p += p < end;
            break;
        case 2:
            d_line(r, "RCPT TO:<%s>%s\r\n", paths[arg % 8], arg & 0x80 ? " NOTIFY=NEVER" : "");
            n = d_push(r, D_RCPT, paths[arg % 8], 0);
            if (n != SIZE_MAX) r->cmd[n].notify = (arg & 0x80) != 0;
            p += p < end;
            break;
        case 3: {
            size_t m = d_new_msg(r);
            n = take(&p, end);
            if (m != SIZE_MAX) {
                struct flog *c = &r->msg[m].content;
                d_content(c, p, n);
                if (c->len && c->buf[c->len - 1] != '\n') flog_str(c, "\r\n"); /* as sent */
                d_write(r, "DATA\r\n", 6);
                size_t k = d_push(r, D_DATA, NULL, m);
                if (k != SIZE_MAX) r->cmd[k].starts = 1;
                if (r->data_wait) r->held_data[r->nheld_data++] = r->held.len;
                r->data_wait = 1;
            }
            p += n;
            break;
        }
        case 4:
            p += p < end;
            n = take(&p, end);
            d_bdat(r, arg & 0x80, p, n);
            p += n;
            break;
        case 5:
            d_write(r, "RSET\r\n", 6);
            d_push(r, D_RSET, NULL, 0);
            r->bdat_msg = SIZE_MAX;
            break;
        case 6: d_write(r, "NOOP\r\n", 6), d_push(r, D_NOOP, NULL, 0); break;
        case 7:
            d_line(r, "VRFY %s\r\n", paths[arg % 8][0] ? paths[arg % 8] : "x");
            d_push(r, D_VRFY, NULL, 0);
            p += p < end;
            break;
        case 8: {
            n = take(&p, end);
            char line[300];
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (p[i] != '\r' && p[i] != '\n') line[k++] = (char)p[i];
            p += n;
            /* One line, one reply: a verb that starts another exchange is disarmed. */
            static const char *const armed[] = {"DATA", "BDAT", "AUTH", "STAR", "QUIT", "XCLI",
                                                "XFOR", "MAIL", "RCPT", "VRFY", "HELP", "ETRN"};
            for (size_t i = 0; i < sizeof armed / sizeof armed[0]; i++)
                if (k >= 4 && fmodel_starts(line, k, armed[i])) line[0] = 'X';
            d_write(r, line, k);
            d_write(r, "\r\n", 2);
            d_push(r, D_RAW, NULL, 0);
            break;
        }
        case 9: d_write(r, "QUIT\r\n", 6), d_push(r, D_QUIT, NULL, 0); break;
        case 10: r->avail = r->wire.len; break;
        case 11: deliver(r, r->um.rb_count); break;
        case 12: deliver(r, 1); break;
        case 13:
            if (!px->up_gone) {
                FLOG(&r->ev, "upstream closes -> %d\n", smtp_client_eof(px->cli));
                px->up_gone = 1;
                upstream_lost(px, NULL);
            }
            break;
        case 14: down_close(r); break;
        default: d_write(r, "HELP\r\n", 6), d_push(r, D_HELP, NULL, 0); break;
        }
        pump(r);
    }
    /* The end: everything sent and answered, as long as anything moves. */
    r->avail = r->wire.len;
    for (long round = 0; round < 1L << 20 && !r->failed; round++) { /* while anything moves */
        size_t before = r->out.len + r->um.in.len + r->fed + r->um.rb_count;
        pump(r);
        deliver(r, r->um.rb_count);
        if (r->out.len + r->um.in.len + r->fed + r->um.rb_count == before) break;
    }
    FLOG(&r->ev, "end: %zu of %zu commands answered%s%s\n", r->next_reply, r->ncmd,
         r->down_closed ? ", closed" : "", px->down_gone ? ", gone" : "");
    FLOG(&r->ev, "fed %zu of %zu\n", r->fed, r->wire.len);
    if (getenv("FUZZ_TRACE")) {
        flog_dump(split ? "split run" : "whole run", &r->ev);
        flog_dump("upstream read", &r->um_ev);
        flog_dump("the client wrote", &r->wire);
        flog_dump("downstream got", &r->out);
        flog_dump("upstream got", &r->um.in);
    }
    /* A session still open owes nothing once both sides are quiet. */
    if (!r->failed && !r->down_closed && !px->down_gone && r->fed == r->wire.len)
        FUZZ_ASSERT(r->next_reply == r->ncmd);
    smtp_server_del(srv);
    smtp_client_del(px->cli);
    for (size_t i = 0; i < px->rcpts_cap; i++)
        free(px->rcpts[i]);
    free(px->rcpts);
    free(px->body);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    flog_free(&r->um_ev);
    flog_free(&r->wire);
    flog_free(&r->held);
    flog_free(&r->out);
    for (size_t i = 0; i < r->nmsg; i++)
        flog_free(&r->msg[i].content);
    fmodel_free(&r->um);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    static struct run whole, split;
    run_once(&whole, data, size, 0);
    run_once(&split, data, size, 1);
    int failed = whole.failed || split.failed;
    /* Once upstream is lost (its session ended, a body source failed), the proxy answers with
     * its own refusals and ends the client's session with 421 as soon as nothing waits: which
     * refusal a command gets, and whether it was read before the 421, depends on how the
     * bytes arrived. The outputs then agree up to that moment. */
    int shut = whole.shut_at || split.shut_at;
    if (whole.shut_at) whole.out.len = whole.shut_at - 1;
    if (split.shut_at) split.out.len = split.shut_at - 1;
    if (!failed && !shut) flog_same("event logs", &whole.ev, &split.ev);
    flog_same_output(&whole.out, &split.out, failed || shut);
    /* Upstream's: the same stream, but how much of a message aborted midway had gone up when
     * it stopped depends on how the client's bytes came (the body streams). The commands are
     * in the event logs. */
    flog_same_output(&whole.um.in, &split.um.in, 1);
    run_free(&whole);
    run_free(&split);
    return 0;
}
