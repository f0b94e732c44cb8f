/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: a differential oracle between the two engines. The input becomes an envelope
 * (sender, recipients, parameters) and a body; libsmtp's client sends it, and its output is
 * read by libsmtp's server, both wired in memory (as tests/test_loopback.c) with the bytes
 * moved in pieces of sizes from the input. The server's application accepts everything.
 *
 * Checked here, besides no crash, no leak, no over-read (ASan) and no undefined behaviour
 * (UBSan):
 *  - either the client refuses the message cleanly — smtp_client_submit returns
 *    INVALID_ARGUMENT, UNSAFE_ARGUMENT or TOO_LONG, or on_message says UNSUPPORTED — and
 *    then the server sees no MAIL at all (nothing of the message was emitted, DESIGN.md
 *    invariant 5);
 *  - or the message is DELIVERED and the server got the client's envelope back exactly: the
 *    reverse-path "<sender>", each forward-path "<address>" in order, every parameter the
 *    client was given and the server offers (SIZE, BODY, SMTPUTF8, RET, ENVID and ORCPT
 *    decoded from xtext / RFC 6533, NOTIFY, REQUIRETLS, MT-PRIORITY, BY), nothing it was not
 *    given, and the body byte for byte after the normalisation its mode implies (bare CR and
 *    LF to CRLF, DATA completing a last line; BINARYMIME unchanged), with exactly one end of
 *    data (on_message_end once, never an abort);
 *  - no other outcome: a server that accepts everything refuses nothing the client sends, so
 *    a TEMPFAIL or PERMFAIL is a disagreement between the engines;
 *  - the session ends with QUIT on both sides, and after _new neither engine allocates.
 *
 * Input layout: byte 0 = server extensions: PIPELINING, CHUNKING, 8BITMIME, SMTPUTF8, DSN,
 * BINARYMIME, SIZE, and bit 7 LMTP (both sides); byte 1 = bit 0 MT-PRIORITY, bit 1
 * DELIVERBY, bit 2 implicit TLS with REQUIRETLS offered, bit 3 ENHANCEDSTATUSCODES, bit 4
 * client pipelining, bit 5 client chunking, bit 6 a 1024-octet client output queue, bit 7 a
 * 7-octet client body buffer (a body source is read in many calls); byte 2 = bits 0-1 the body
 * type (none, 7BIT, 8BITMIME, BINARYMIME), bits 2-3 RET (none, FULL, HDRS, none), bit 4
 * REQUIRETLS, bit 5 MT-PRIORITY, bit 6 BY, bit 7 all-or-nothing; byte 3 = bits 0-1 the
 * recipients - 1, bits 2-5 NOTIFY bits, bit 6 ENVID, bit 7 SIZE declared (by a body source);
 * byte 4 = MT-PRIORITY (value % 19 - 9) and BY (seconds, R mode when odd); byte 5 = piece-size
 * seed, whose bit 0 also makes the body a source (tests/body_source.h, in pieces of the seed's
 * sizes) rather than memory (a declared SIZE always does); then NUL-separated fields: sender,
 * ENVID, one per recipient ("address" or "address\x01orcpt"), and the rest is the body (any
 * bytes).
 */
#include "fuzz_common.h"

#include "../tests/body_source.h"

#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/server.h>

#define HEADER 6
#define MAXR 4

struct srv_rcpt {
    struct flog path, orcpt;
    unsigned present, notify;
    smtp_orcpt_type orcpt_type;
};

struct world {
    smtp_client *cli;
    smtp_server *srv;
    struct fmem cmem, smem;
    struct fsplit sp;
    struct flog c2s, s2c;
    /* the envelope */
    smtp_client_message m;
    smtp_client_rcpt rc[MAXR];
    char *fields[2 + MAXR]; /* NUL-terminated copies: sender, envid, recipients */
    const char *body;
    size_t body_len;
    struct body_source src; /* the body, when it comes from a source */
    struct fsplit src_sp;   /* the source's piece sizes */
    int submit_rc, reported, quit;
    smtp_client_result res;
    int res_code;
    int srv_tls, lmtp, bdat_used;
    /* what the server got */
    size_t mails, nrcpt, data_starts, ends, aborts;
    struct flog path, envid, content;
    smtp_mail_params mp;
    struct srv_rcpt r[MAXR];
    int end_bdat;
    uint64_t end_size;
};

/* ---- the server's application: record everything, accept everything ---- */

static void copy(struct flog *dst, smtp_span s)
{
    dst->len = 0;
    flog_raw(dst, s.ptr, s.len);
}

static int s_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)srv;
    struct world *w = ud;
    w->mails++;
    copy(&w->path, m->path);
    w->mp = m->params;
    w->envid.len = 0;
    if (m->params.present & SMTP_MAIL_ENVID) {
        char buf[512];
        smtp_ssize n = smtp_xtext_decode(m->params.envid.ptr, m->params.envid.len, buf, sizeof buf);
        FUZZ_ASSERT(n >= 0);
        flog_raw(&w->envid, buf, (size_t)n);
    }
    return 0;
}

static int s_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv;
    struct world *w = ud;
    FUZZ_ASSERT(w->nrcpt < MAXR);
    struct srv_rcpt *r = &w->r[w->nrcpt++];
    copy(&r->path, rc->path);
    r->present = rc->params.present;
    r->notify = rc->params.notify;
    r->orcpt_type = rc->params.orcpt_type;
    r->orcpt.len = 0;
    if (rc->params.present & SMTP_RCPT_ORCPT) {
        char buf[1024];
        smtp_span a = rc->params.orcpt_addr;
        smtp_ssize n = SMTP_ERR_SYNTAX;
        if (rc->params.orcpt_type == SMTP_ORCPT_RFC822)
            n = smtp_xtext_decode(a.ptr, a.len, buf, sizeof buf);
        else if (rc->params.orcpt_type == SMTP_ORCPT_UTF8)
            n = smtp_utf8addr_decode(a.ptr, a.len,
                                     w->mp.present & SMTP_MAIL_SMTPUTF8 ? SMTP_UTF8ADDR_UNITEXT : 0,
                                     buf, sizeof buf);
        FUZZ_ASSERT(n >= 0);
        flog_raw(&r->orcpt, buf, (size_t)n);
    }
    return 0;
}

static int s_data_start(smtp_server *srv, void *ud)
{
    (void)srv;
    struct world *w = ud;
    w->data_starts++;
    w->content.len = 0;
    return 0;
}

static int s_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    struct world *w = ud;
    flog_raw(&w->content, data.ptr, data.len);
    return 0;
}

static int s_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv;
    struct world *w = ud;
    w->ends++;
    w->end_bdat = msg->bdat;
    w->end_size = msg->size;
    return 0;
}

static int s_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv, (void)why;
    struct world *w = ud;
    w->aborts++;
    return 0;
}

/* ---- the client's application ---- */

static int c_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct world *w = ud;
    (void)cli;
    FUZZ_ASSERT(!w->reported);
    w->reported = 1;
    w->res = *res;
    w->res.reply = NULL;
    w->res_code = res->reply ? res->reply->code : 0;
    if (res->status != SMTP_CLIENT_DELIVERED && res->status != SMTP_CLIENT_UNSUPPORTED) {
        fprintf(stderr, "message %s: reply %d", smtp_client_status_name(res->status), w->res_code);
        if (res->reply)
            fprintf(stderr, " \"%.*s\"", (int)res->reply->text.len, res->reply->text.ptr);
        fprintf(stderr, "\n");
    }
    return 0;
}

static int c_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli, (void)ud;
    if (res->end != SMTP_CLIENT_END_QUIT) {
        fprintf(stderr, "session end %s %s\n", smtp_client_end_name(res->end),
                smtp_error_name(res->error));
        FUZZ_ASSERT(0);
    }
    return 0;
}

/* ---- the envelope from the input ---- */

static size_t next_field(const char **p, const char *end, char **out)
{
    const char *z = memchr(*p, '\0', (size_t)(end - *p));
    size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
    *out = malloc(n + 1);
    if (!*out) abort();
    memcpy(*out, *p, n);
    (*out)[n] = '\0';
    *p += z ? n + 1 : n;
    return n;
}

static size_t source_piece(size_t left, void *user_data)
{
    (void)left;
    return fsplit_piece(user_data);
}

static void make_envelope(struct world *w, const uint8_t *h, const char *p, const char *end)
{
    smtp_client_message *m = &w->m;
    smtp_client_message_init(m);
    next_field(&p, end, &w->fields[0]);
    m->sender = w->fields[0];
    next_field(&p, end, &w->fields[1]);
    if (h[3] & 0x40) m->envid = w->fields[1];
    size_t nr = 1 + (h[3] & 3u);
    for (size_t j = 0; j < nr; j++) {
        next_field(&p, end, &w->fields[2 + j]);
        memset(&w->rc[j], 0, sizeof w->rc[j]);
        char *f = w->fields[2 + j];
        char *o = strchr(f, '\x01');
        if (o) *o = '\0', w->rc[j].orcpt = o + 1;
        w->rc[j].address = f;
        w->rc[j].notify = (h[3] >> 2) & 0xfu;
    }
    m->rcpts = w->rc;
    m->nrcpts = nr;
    w->body = p;
    w->body_len = (size_t)(end - p);
    static const smtp_body bodies[4] = {SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
                                        SMTP_BODY_BINARYMIME};
    m->body_type = bodies[h[2] & 3];
    static const smtp_ret rets[4] = {SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS, SMTP_RET_NONE};
    m->ret = rets[(h[2] >> 2) & 3];
    m->requiretls = (h[2] >> 4) & 1;
    if (h[2] & 0x20) m->mt_priority_set = 1, m->mt_priority = (int)(h[4] % 19) - 9;
    if (h[2] & 0x40) {
        m->by_mode = h[4] & 1 ? SMTP_BY_RETURN : SMTP_BY_NOTIFY;
        m->by_time = (int64_t)h[4] * 7 - (h[4] & 1 ? 0 : 600);
        m->by_trace = (h[4] >> 1) & 1;
    }
    if (h[2] & 0x80) m->flags |= SMTP_CLIENT_MSG_ALL_OR_NOTHING;
    m->body = w->body;
    m->body_len = w->body_len;
    if ((h[3] & 0x80) || (h[5] & 1)) {
        body_source_init(&w->src, w->body, w->body_len);
        fsplit_init(&w->src_sp, h[5] + 1u);
        w->src.next_piece = source_piece;
        w->src.piece_data = &w->src_sp;
        body_source_attach(&w->src, m);
    }
    if (h[3] & 0x80) m->size = w->body_len + 1;
}

/* ---- the wire ---- */

static int pump(struct world *w)
{
    int progress = 0;
    char buf[1024];
    if ((w->reported || w->submit_rc != 0) && !w->quit) {
        FUZZ_ASSERT(smtp_client_quit(w->cli) == 0);
        w->quit = 1;
        progress = 1;
    }
    size_t cap = fsplit_piece(&w->sp);
    smtp_ssize n = smtp_client_write(w->cli, buf, cap < sizeof buf ? cap : sizeof buf);
    FUZZ_ASSERT(n >= 0);
    if (n > 0) flog_raw(&w->c2s, buf, (size_t)n), progress = 1;
    if (w->c2s.len) {
        size_t k = fsplit_piece(&w->sp);
        if (k > w->c2s.len) k = w->c2s.len;
        char *piece = fcopy(w->c2s.buf, k);
        n = smtp_server_read(w->srv, piece, k);
        free(piece);
        FUZZ_ASSERT(n >= 0);
        if (n > 0) {
            memmove(w->c2s.buf, w->c2s.buf + n, w->c2s.len - (size_t)n);
            w->c2s.len -= (size_t)n;
            progress = 1;
        }
    }
    cap = fsplit_piece(&w->sp);
    n = smtp_server_write(w->srv, buf, cap < sizeof buf ? cap : sizeof buf);
    FUZZ_ASSERT(n >= 0);
    if (n > 0) flog_raw(&w->s2c, buf, (size_t)n), progress = 1;
    if (w->s2c.len && !smtp_client_want_close(w->cli)) {
        size_t k = fsplit_piece(&w->sp);
        if (k > w->s2c.len) k = w->s2c.len;
        char *piece = fcopy(w->s2c.buf, k);
        n = smtp_client_read(w->cli, piece, k);
        free(piece);
        if (n < 0) fprintf(stderr, "smtp_client_read: %s\n", smtp_error_name((int)n));
        FUZZ_ASSERT(n >= 0);
        if (n > 0) {
            memmove(w->s2c.buf, w->s2c.buf + n, w->s2c.len - (size_t)n);
            w->s2c.len -= (size_t)n;
            progress = 1;
        }
    }
    return progress;
}

/* ---- the checks ---- */

static int is_ascii(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

static int same(const struct flog *l, const char *p, size_t n)
{
    return l->len == n && (n == 0 || memcmp(l->buf, p, n) == 0);
}

/* "<s>" */
static int is_path(const struct flog *l, const char *s)
{
    size_t n = strlen(s);
    return l->len == n + 2 && l->buf[0] == '<' && l->buf[n + 1] == '>' &&
           memcmp(l->buf + 1, s, n) == 0;
}

static void expected_body(const struct world *w, struct flog *out)
{
    out->len = 0;
    if (w->m.body_type == SMTP_BODY_BINARYMIME) {
        flog_raw(out, w->body, w->body_len);
        return;
    }
    for (size_t i = 0; i < w->body_len; i++) {
        char c = w->body[i];
        if (c == '\r') {
            flog_str(out, "\r\n");
            if (i + 1 < w->body_len && w->body[i + 1] == '\n') i++;
        } else if (c == '\n') {
            flog_str(out, "\r\n");
        } else {
            flog_raw(out, &c, 1);
        }
    }
    if (!w->end_bdat && out->len && out->buf[out->len - 1] != '\n') flog_str(out, "\r\n");
}

static void check_delivered(struct world *w, const uint8_t *h)
{
    const smtp_client_message *m = &w->m;
    const smtp_mail_params *p = &w->mp;
    unsigned pr = p->present;
    int dsn = (h[0] & 0x10) != 0;
    FUZZ_ASSERT(w->mails == 1 && w->data_starts == 1 && w->ends == 1 && w->aborts == 0);
    FUZZ_ASSERT(is_path(&w->path, m->sender));
    FUZZ_ASSERT(w->nrcpt == m->nrcpts);
    int utf8 = !is_ascii(m->sender);
    for (size_t j = 0; j < m->nrcpts; j++) {
        const struct srv_rcpt *r = &w->r[j];
        const smtp_client_rcpt *c = &m->rcpts[j];
        utf8 |= !is_ascii(c->address);
        FUZZ_ASSERT(is_path(&r->path, c->address));
        FUZZ_ASSERT(!!(r->present & SMTP_RCPT_NOTIFY) == (dsn && c->notify));
        if (r->present & SMTP_RCPT_NOTIFY) FUZZ_ASSERT(r->notify == c->notify);
        FUZZ_ASSERT(!!(r->present & SMTP_RCPT_ORCPT) == (dsn && c->orcpt));
        if (r->present & SMTP_RCPT_ORCPT) FUZZ_ASSERT(same(&r->orcpt, c->orcpt, strlen(c->orcpt)));
        FUZZ_ASSERT(!(r->present & SMTP_RCPT_RRVS));
    }
    struct flog want = {0};
    expected_body(w, &want);
    FUZZ_ASSERT(same(&w->content, want.buf, want.len));
    FUZZ_ASSERT(w->end_size == want.len);
    if (m->read_body) {
        /* What the application declared, if anything. */
        FUZZ_ASSERT(!!(pr & SMTP_MAIL_SIZE) == (m->size && (h[0] & 0x40)));
        if (pr & SMTP_MAIL_SIZE) FUZZ_ASSERT(p->size == m->size);
    } else {
        /* A body in memory: the client declares its size as transmitted (RFC 1870 3). */
        FUZZ_ASSERT(!!(pr & SMTP_MAIL_SIZE) == (want.len && (h[0] & 0x40)));
        if (pr & SMTP_MAIL_SIZE) FUZZ_ASSERT(p->size == want.len);
    }
    if (m->body_type == SMTP_BODY_8BITMIME || m->body_type == SMTP_BODY_BINARYMIME)
        FUZZ_ASSERT((pr & SMTP_MAIL_BODY) && p->body == m->body_type);
    else
        FUZZ_ASSERT(!(pr & SMTP_MAIL_BODY));
    if (utf8) FUZZ_ASSERT(pr & SMTP_MAIL_SMTPUTF8);
    FUZZ_ASSERT(!!(pr & SMTP_MAIL_RET) == (dsn && m->ret != SMTP_RET_NONE));
    if (pr & SMTP_MAIL_RET) FUZZ_ASSERT(p->ret == m->ret);
    FUZZ_ASSERT(!!(pr & SMTP_MAIL_ENVID) == (dsn && m->envid));
    if (pr & SMTP_MAIL_ENVID) FUZZ_ASSERT(same(&w->envid, m->envid, strlen(m->envid)));
    FUZZ_ASSERT(!!(pr & SMTP_MAIL_REQUIRETLS) == !!m->requiretls);
    FUZZ_ASSERT(!!(pr & SMTP_MAIL_MT_PRIORITY) == (m->mt_priority_set && (h[1] & 1)));
    if (pr & SMTP_MAIL_MT_PRIORITY) FUZZ_ASSERT(p->mt_priority == m->mt_priority);
    FUZZ_ASSERT(!!(pr & SMTP_MAIL_BY) == (m->by_mode != SMTP_BY_NONE));
    if (pr & SMTP_MAIL_BY)
        FUZZ_ASSERT(p->by_time == m->by_time && p->by_mode == m->by_mode &&
                    p->by_trace == m->by_trace);
    FUZZ_ASSERT(!(pr & (SMTP_MAIL_HOLDFOR | SMTP_MAIL_HOLDUNTIL | SMTP_MAIL_AUTH)));
    flog_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    const uint8_t *h = data;
    struct world *w = calloc(1, sizeof *w);
    if (!w) abort();
    fsplit_init(&w->sp, h[5]);
    fmem_init(&w->cmem);
    fmem_init(&w->smem);
    make_envelope(w, h, (const char *)data + HEADER, (const char *)data + size);
    w->lmtp = h[0] >> 7;
    w->srv_tls = (h[1] >> 2) & 1;

    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.example.org";
    static const unsigned ext_bits[7] = {SMTP_SERVER_EXT_PIPELINING, SMTP_SERVER_EXT_CHUNKING,
                                         SMTP_SERVER_EXT_8BITMIME,   SMTP_SERVER_EXT_SMTPUTF8,
                                         SMTP_SERVER_EXT_DSN,        SMTP_SERVER_EXT_BINARYMIME,
                                         SMTP_SERVER_EXT_SIZE};
    ss.extensions = 0;
    for (int i = 0; i < 7; i++)
        if (h[0] & (1u << i)) ss.extensions |= ext_bits[i];
    if (h[1] & 1) ss.extensions |= SMTP_SERVER_EXT_MT_PRIORITY;
    if (h[1] & 2) ss.extensions |= SMTP_SERVER_EXT_DELIVERBY;
    if (h[1] & 4) ss.extensions |= SMTP_SERVER_EXT_REQUIRETLS, ss.flags |= SMTP_SERVER_TLS;
    if (h[1] & 8) ss.extensions |= SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    if (w->lmtp) ss.flags |= SMTP_SERVER_LMTP;
#ifdef SMTP_SERVER_PREALLOCATE
    ss.flags |= SMTP_SERVER_PREALLOCATE;
#endif
    ss.max_message_size = 0;
    ss.hard_error_limit = 0;
    smtp_server_callbacks scb;
    memset(&scb, 0, sizeof scb);
    scb.on_mail = s_mail;
    scb.on_rcpt = s_rcpt;
    scb.on_data_start = s_data_start;
    scb.on_data = s_data;
    scb.on_message_end = s_end;
    scb.on_message_abort = s_abort;
    FUZZ_ASSERT(smtp_server_new(&w->srv, &scb, &ss, &w->smem.mem, w) == 0);
    fmem_budget(&w->smem, 0); /* preallocated (where the flag exists): nothing after _new */

    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.example.org";
    if (w->lmtp) cs.flags |= SMTP_CLIENT_LMTP;
    if (!(h[1] & 0x10)) cs.flags |= SMTP_CLIENT_NO_PIPELINING;
    if (!(h[1] & 0x20)) cs.flags |= SMTP_CLIENT_NO_CHUNKING;
    if (w->srv_tls) cs.flags |= SMTP_CLIENT_TLS;
    if (h[1] & 0x40) cs.max_output = 1024;
    if (h[1] & 0x80) cs.max_body_buffer = 7;
    smtp_client_callbacks ccb = {.on_message = c_message, .on_session_end = c_session_end};
    FUZZ_ASSERT(smtp_client_new(&w->cli, &ccb, &cs, &w->cmem.mem, w) == 0);
    /* client.h: on demand, the output queue from 512 octets to max_output (6 at most), the
     * buffers of a transaction, the SASL scratch and the reply line buffer, each once: then
     * nothing more, however many messages */
    fmem_budget(&w->cmem, 9);

    FUZZ_ASSERT(smtp_server_start(w->srv) == 0);
    w->submit_rc = smtp_client_submit(w->cli, &w->m);
    FUZZ_ASSERT(w->submit_rc == 0 || w->submit_rc == SMTP_ERR_INVALID_ARGUMENT ||
                w->submit_rc == SMTP_ERR_UNSAFE_ARGUMENT || w->submit_rc == SMTP_ERR_TOO_LONG);

    size_t idle = 0, steps = 0;
    while (!(smtp_client_want_close(w->cli) && smtp_server_want_close(w->srv)) && idle < 4) {
        idle = pump(w) ? 0 : idle + 1;
        FUZZ_ASSERT(++steps < 1000000);
    }
    FUZZ_ASSERT(smtp_client_want_close(w->cli) && smtp_server_want_close(w->srv));

    if (w->submit_rc != 0) {
        FUZZ_ASSERT(!w->reported && w->mails == 0);
    } else {
        FUZZ_ASSERT(w->reported);
        if (w->res.status == SMTP_CLIENT_UNSUPPORTED)
            FUZZ_ASSERT(w->mails == 0 && w->nrcpt == 0 && w->data_starts == 0);
        else if (w->res.status == SMTP_CLIENT_DELIVERED)
            check_delivered(w, h);
        else
            FUZZ_ASSERT(0); /* the server accepts everything: the engines disagree */
    }

    smtp_client_del(w->cli);
    smtp_server_del(w->srv);
    FUZZ_ASSERT(w->cmem.live == 0 && w->smem.live == 0);
    for (size_t i = 0; i < 2 + MAXR; i++)
        free(w->fields[i]);
    flog_free(&w->c2s);
    flog_free(&w->s2c);
    flog_free(&w->path);
    flog_free(&w->envid);
    flog_free(&w->content);
    for (size_t j = 0; j < MAXR; j++) {
        flog_free(&w->r[j].path);
        flog_free(&w->r[j].orcpt);
    }
    free(w);
    return 0;
}
