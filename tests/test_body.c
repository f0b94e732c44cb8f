/* SPDX-License-Identifier: MIT */
/*
 * A 1 MiB body given in one call, on every path: either every octet arrives or the message
 * fails loudly, never DELIVERED with a short body. (The body used to be written with
 * smtp_client_body_write, which took what fit in its buffer: a caller that ignored the count
 * and ended the body had a truncated message acknowledged.) Now a message carries its body,
 * in memory or as a source the engine pulls from, and the engine never sends an end of data
 * before the last octet.
 *
 * The paths:
 *  - the client engine against the server engine, wired in memory: a body in memory and a
 *    body source, over DATA and BDAT, with and without pipelining, in SMTP and LMTP; the
 *    server's application (the recording server of tests/io/iotest.h) hashes what on_data
 *    gave, and the test compares it with the body as it must arrive (line ends made CRLF,
 *    DATA completing the last line), and the octets counted with the SIZE= declared;
 *  - the I/O adapter: smtp_io_client_run against smtp_io_server_run in a child process over
 *    127.0.0.1, with the body in memory, read by smtp_io_read_fd from a temporary file and by
 *    smtp_io_read_file from a stdio stream, over DATA and BDAT; the child hashes what it got;
 *  - the failures: a source that fails after 300 KiB (the session ends END_ERROR, the message
 *    is TEMPFAIL, the server never sees an end of data and drops the message at the lost
 *    connection), in memory and over sockets, and one that fails at its first call, inside
 *    smtp_client_submit (nothing is sent); a source that says SMTP_ERR_AGAIN now and then
 *    still delivers every octet once smtp_client_body_ready is called; read_body with body
 *    NULL; body NULL with body_len > 0 refused by smtp_client_submit;
 *    smtp_client_read, _write and _body_ready refused inside the callbacks and the source.
 */
#include "io/iotest.h"

#include <smtp/client.h>
#include <smtp/server.h>

#define MIB (1024u * 1024u)
#define FAIL_AT (300u * 1024u)

/* ---- the body ---- */

static char *body;    /* MIB octets: dot lines, bare LF, CRLF, a last line without end */
static char *want[2]; /* what the server must get: [0] over BDAT, [1] over DATA */
static size_t want_len[2];

static void make_body(void)
{
    body = malloc(MIB);
    size_t n = 0;
    for (unsigned i = 0; n < MIB; i++) {
        char line[96];
        int k;
        switch (i % 5) {
        case 0: k = snprintf(line, sizeof line, ".\r\n"); break;
        case 1: k = snprintf(line, sizeof line, ".line %u starts with a dot\r\n", i); break;
        case 2: k = snprintf(line, sizeof line, "line %u ends with a bare LF\n", i); break;
        case 3: k = snprintf(line, sizeof line, "..line %u has two dots\r\n", i); break;
        default: k = snprintf(line, sizeof line, "line %u of text, long enough\r\n", i); break;
        }
        size_t m = (size_t)k < MIB - n ? (size_t)k : MIB - n;
        memcpy(body + n, line, m);
        n += m;
    }
}

/* The body as the server must receive it (RFC 5321 4.5.2, RFC 3030 3): bare CR and LF made
 * CRLF; DATA also ends a last line that lacks it. */
static size_t normalise(const char *b, size_t n, int data, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\r' || b[i] == '\n') {
            out[o++] = '\r', out[o++] = '\n';
            if (b[i] == '\r' && i + 1 < n && b[i + 1] == '\n') i++;
        } else {
            out[o++] = b[i];
        }
    }
    if (data && o && out[o - 1] != '\n') out[o++] = '\r', out[o++] = '\n';
    return o;
}

/* ---- the probes: what a callback or a source may not call ---- */

static size_t probes;

static void probe(smtp_client *cli)
{
    char buf[16];
    CHECK_INT(smtp_client_read(cli, "250 ok\r\n", 8), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_write(cli, buf, sizeof buf), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_body_ready(cli), SMTP_ERR_INVALID_STATE);
    probes++;
}

/* A body source that probes, then reads from tests/body_source.h. */
static smtp_ssize probing_read(smtp_client *cli, char *dest, size_t cap, void *ud)
{
    probe(cli);
    return body_source_read(cli, dest, cap, ud);
}

/* ---- the client's application ---- */

struct capp {
    int messages, ends, rcpts;
    smtp_client_status status;
    int code;
    uint64_t size; /* smtp_client_result.size */
    smtp_client_end end;
    int error;
};

static int c_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                  void *ud)
{
    (void)rcpt, (void)r;
    probe(cli);
    ((struct capp *)ud)->rcpts++;
    return 0;
}

static int c_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct capp *a = ud;
    probe(cli);
    a->messages++;
    a->status = res->status;
    a->code = res->reply ? res->reply->code : 0;
    a->size = res->size;
    return 0;
}

static int c_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct capp *a = ud;
    probe(cli);
    a->ends++;
    a->end = res->end;
    a->error = res->error;
    return 0;
}

static const smtp_client_callbacks capp_callbacks = {
    .on_rcpt = c_rcpt, .on_message = c_message, .on_session_end = c_end};

/* ---- a byte queue ---- */

struct queue {
    char *p;
    size_t len, cap;
};

static void queue_add(struct queue *q, const char *p, size_t n)
{
    if (q->len + n > q->cap) {
        q->cap = (q->len + n) * 2;
        q->p = realloc(q->p, q->cap);
        if (!q->p) abort();
    }
    memcpy(q->p + q->len, p, n);
    q->len += n;
}

static void queue_drop(struct queue *q, size_t n)
{
    memmove(q->p, q->p + n, q->len - n);
    q->len -= n;
}

/* ---- a case: the client and the server wired in memory ---- */

enum body_kind { MEMORY, SOURCE };

struct pcase {
    enum body_kind kind;
    int bdat, pipe, lmtp;
    size_t fail_at;     /* the source fails once it gave this much (0: never) */
    size_t again_every; /* the source says SMTP_ERR_AGAIN before every nth piece (0: never) */
    int body_ignored;   /* a source with message.body NULL and a body_len it must ignore */
};

struct pair {
    smtp_client *cli;
    smtp_server *srv;
    struct capp ca;
    struct iot_server sa; /* the recording server of io/iotest.h: it hashes the content */
    struct iot_session sess;
    struct body_source src;
    smtp_client_message msg;
    smtp_client_rcpt rcpt[2];
    struct queue c2s, s2c; /* the wire; c2s_all: every octet the client sent */
    struct queue c2s_all;
    int cli_err; /* the first error of smtp_client_read or _write */
};

/* The client half: the client and its message of two recipients with the case's body. */
static void pair_client(struct pair *p, const struct pcase *pc, const char *text, size_t len)
{
    memset(p, 0, sizeof *p);
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.example.org";
    if (!pc->pipe) cs.flags |= SMTP_CLIENT_NO_PIPELINING;
    if (pc->lmtp) cs.flags |= SMTP_CLIENT_LMTP;
    CHECK_INT(smtp_client_new(&p->cli, &capp_callbacks, &cs, NULL, &p->ca), 0);
    smtp_client_message_init(&p->msg);
    p->msg.sender = "a@example.org";
    p->rcpt[0].address = "b@example.net";
    p->rcpt[1].address = "c@example.net";
    p->msg.rcpts = p->rcpt;
    p->msg.nrcpts = 2;
    if (pc->kind == MEMORY) {
        p->msg.body = text;
        p->msg.body_len = len;
        return;
    }
    body_source_init(&p->src, text, len);
    if (pc->fail_at) p->src.fail_at = pc->fail_at;
    p->src.again_every = pc->again_every;
    p->src.again_max = 5;
    body_source_attach(&p->src, &p->msg);
    p->msg.read_body = probing_read;
    if (pc->body_ignored) p->msg.body_len = 12345;
}

/* Both halves: the server, offering CHUNKING only for BDAT, speaking LMTP for LMTP. */
static void pair_open(struct pair *p, const struct pcase *pc, const char *text, size_t len)
{
    pair_client(p, pc, text, len);
    p->sess.srv = &p->sa;
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.example.org";
    if (!pc->bdat) ss.extensions &= ~(unsigned)SMTP_SERVER_EXT_CHUNKING;
    if (pc->lmtp) ss.flags |= SMTP_SERVER_LMTP;
    CHECK_INT(smtp_server_new(&p->srv, &iot_callbacks, &ss, NULL, &p->sess), 0);
    CHECK_INT(smtp_server_start(p->srv), 0);
}

static void pair_close(struct pair *p)
{
    smtp_client_del(p->cli);
    smtp_server_del(p->srv);
    free(p->c2s.p);
    free(p->s2c.p);
    free(p->c2s_all.p);
}

/* Moves bytes both ways, whole; a waiting source is resumed once the wire is quiet. */
static int pair_step(struct pair *p)
{
    static char tmp[65536];
    int progress = 0;
    smtp_ssize n = smtp_client_write(p->cli, tmp, sizeof tmp);
    if (n < 0 && !p->cli_err) p->cli_err = (int)n;
    if (n > 0) {
        queue_add(&p->c2s, tmp, (size_t)n);
        queue_add(&p->c2s_all, tmp, (size_t)n);
        progress = 1;
    }
    if (p->c2s.len && !smtp_server_want_close(p->srv)) {
        n = smtp_server_read(p->srv, p->c2s.p, p->c2s.len);
        CHECK(n >= 0);
        if (n > 0) queue_drop(&p->c2s, (size_t)n), progress = 1;
    }
    n = smtp_server_write(p->srv, tmp, sizeof tmp);
    CHECK(n >= 0);
    if (n > 0) queue_add(&p->s2c, tmp, (size_t)n), progress = 1;
    if (p->s2c.len && !smtp_client_want_close(p->cli)) {
        n = smtp_client_read(p->cli, p->s2c.p, p->s2c.len);
        if (n < 0 && !p->cli_err) p->cli_err = (int)n;
        if (n > 0) queue_drop(&p->s2c, (size_t)n), progress = 1;
    }
    if (!progress && p->src.waiting) {
        CHECK_INT(body_source_resume(&p->src, p->cli), 0);
        progress = 1;
    }
    return progress;
}

/* Submits the message and QUIT, runs the pair until it is quiet, then hangs up. */
static void pair_run(struct pair *p)
{
    CHECK_INT(smtp_client_submit(p->cli, &p->msg), 0);
    CHECK_INT(smtp_client_quit(p->cli), 0);
    for (int steps = 0; pair_step(p); steps++)
        if (steps > 100000) {
            CHECK(0);
            break;
        }
    /* The client's adapter closes the connection: a server mid-message drops it. */
    CHECK(smtp_client_want_close(p->cli));
    if (!smtp_server_want_close(p->srv)) CHECK_INT(smtp_server_eof(p->srv), 0);
}

/* Does the client's output hold the end of the data: CRLF.CRLF, or a BDAT ... LAST line? */
static int wire_has_end(const struct queue *w, int bdat)
{
    const char *mark = bdat ? " LAST\r\n" : "\r\n.\r\n";
    size_t ml = strlen(mark);
    for (size_t i = 0; i + ml <= w->len; i++)
        if (memcmp(w->p + i, mark, ml) == 0) return 1;
    return 0;
}

static void case_name(const struct pcase *pc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %s %s %s%s%s", pc->kind == MEMORY ? "memory" : "source",
             pc->bdat ? "bdat" : "data", pc->pipe ? "pipe" : "nopipe", pc->lmtp ? "lmtp" : "smtp",
             pc->fail_at ? " failing" : "", pc->again_every ? " again" : "");
}

/* Every octet arrives, or the message fails loudly: a 1 MiB body on one path. */
static void check_pair(const struct pcase *pc)
{
    struct pair p;
    char name[96];
    int fails0 = check_failures;
    case_name(pc, name, sizeof name);
    pair_open(&p, pc, body, MIB);
    pair_run(&p);
    const char *w = want[!pc->bdat];
    size_t wl = want_len[!pc->bdat];
    CHECK_INT(p.ca.messages, 1);
    CHECK_INT(p.ca.ends, 1);
    CHECK_INT(p.sa.mails, 1);
    if (pc->fail_at) {
        /* Loudly: the session failed, the message is to be retried, nothing acknowledged. */
        CHECK_INT(p.ca.status, SMTP_CLIENT_TEMPFAIL);
        CHECK_INT(p.ca.end, SMTP_CLIENT_END_ERROR);
        CHECK_INT(p.ca.error, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(p.cli_err, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(p.src.failures, 1);
        CHECK_INT(p.src.off, pc->fail_at);
        CHECK_INT(p.sa.messages, 0); /* never an end of data */
        CHECK(!wire_has_end(&p.c2s_all, pc->bdat));
        CHECK_INT(p.sa.aborts[SMTP_SERVER_ABORT_EOF], 1); /* dropped with the connection */
        CHECK(p.sa.bytes < wl);
        char buf[8];
        CHECK_INT(smtp_client_write(p.cli, buf, sizeof buf),
                  SMTP_ERR_CALLBACK_FAILURE); /* sticky */
    } else {
        CHECK_INT(p.ca.status, SMTP_CLIENT_DELIVERED);
        CHECK_INT(p.ca.code, 250);
        CHECK_INT(p.ca.end, SMTP_CLIENT_END_QUIT);
        CHECK_INT(p.cli_err, 0);
        CHECK_INT(p.sa.messages, 1);
        CHECK_INT(p.sa.bdat_messages, pc->bdat);
        CHECK_INT(p.sa.bytes, wl);
        CHECK(p.sa.hash == iot_hash(IOT_HASH0, w, wl)); /* every octet, in order */
        CHECK_INT(p.ca.rcpts, pc->lmtp ? 4 : 2); /* LMTP: one reply each after the data too */
        if (pc->kind == SOURCE) {
            CHECK(p.src.ended);
            CHECK_INT(p.src.off, MIB);
            if (pc->again_every) CHECK_INT(p.src.agains, 5);
        }
    }
    for (int r = 0; r < 8; r++) /* nothing else dropped */
        if (r != SMTP_SERVER_ABORT_EOF) CHECK_INT(p.sa.aborts[r], 0);
    /* SIZE=: exact for a body in memory (RFC 1870 3), none for a source that declared none. */
    CHECK_INT(p.sa.size_declared, pc->kind == MEMORY);
    if (p.sa.size_declared) CHECK_INT(p.sa.size, wl);
    CHECK_INT(p.ca.size, pc->kind == MEMORY ? wl : 0); /* and on_message says the same */
    if (check_failures != fails0) fprintf(stderr, "  in case: %s\n", name);
    pair_close(&p);
}

static void test_pairs(void)
{
    for (int kind = MEMORY; kind <= SOURCE; kind++)
        for (int bdat = 0; bdat < 2; bdat++)
            for (int pipe = 0; pipe < 2; pipe++)
                for (int lmtp = 0; lmtp < 2; lmtp++) {
                    struct pcase pc = {(enum body_kind)kind, bdat, pipe, lmtp, 0, 0, 0};
                    check_pair(&pc);
                }
    printf("pairs: 16 paths delivered 1 MiB whole\n");
}

/* A source that fails after 300 KiB: END_ERROR, TEMPFAIL, no end of data, on every path. */
static void test_failing_source(void)
{
    for (int bdat = 0; bdat < 2; bdat++)
        for (int pipe = 0; pipe < 2; pipe++)
            for (int lmtp = 0; lmtp < 2; lmtp++) {
                struct pcase pc = {SOURCE, bdat, pipe, lmtp, FAIL_AT, 0, 0};
                check_pair(&pc);
            }
}

/* A source with nothing ready now and then (SMTP_ERR_AGAIN, then smtp_client_body_ready);
 * and one whose message has body NULL and a body_len, which the source makes irrelevant. */
static void test_source_variants(void)
{
    for (int bdat = 0; bdat < 2; bdat++) {
        struct pcase again = {SOURCE, bdat, 1, 0, 0, 7, 0};
        check_pair(&again);
        struct pcase ignored = {SOURCE, bdat, 0, 0, 0, 0, 1};
        check_pair(&ignored);
    }
}

/* A source that fails at its first call while BDAT goes pipelined behind RCPT: it is read
 * inside smtp_client_submit. The message is reported once, TEMPFAIL, and nothing of it (not
 * even MAIL) goes out. */
static void test_fail_in_submit(void)
{
    struct pcase pc = {SOURCE, 1, 1, 0, 0, 0, 0};
    struct pair p;
    pair_open(&p, &pc, body, MIB);
    p.src.fail_at = 0;
    while (pair_step(&p)) /* the greeting and EHLO: the session is ready */
        continue;
    int rc = smtp_client_submit(p.cli, &p.msg);
    CHECK_INT(rc, 0); /* taken: its outcome comes through on_message */
    CHECK_INT(p.src.calls, 1);
    CHECK_INT(p.ca.messages, 1);
    CHECK_INT(p.ca.status, SMTP_CLIENT_TEMPFAIL);
    CHECK_INT(p.ca.end, SMTP_CLIENT_END_ERROR);
    while (pair_step(&p))
        continue;
    CHECK(smtp_client_want_close(p.cli));
    CHECK_INT(p.sa.mails, 0);
    CHECK_INT(p.c2s_all.len, strlen("EHLO client.example.org\r\n"));
    pair_close(&p);
}

/* body NULL with body_len > 0 and no source: refused at submission, nothing sent. */
static void test_null_body(void)
{
    struct pcase pc = {MEMORY, 1, 1, 0, 0, 0, 0};
    struct pair p;
    pair_open(&p, &pc, NULL, MIB);
    CHECK_INT(smtp_client_submit(p.cli, &p.msg), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_quit(p.cli), 0);
    while (pair_step(&p))
        continue;
    CHECK_INT(p.sa.mails, 0);
    CHECK_INT(p.ca.messages, 0);
    CHECK_INT(p.ca.end, SMTP_CLIENT_END_QUIT);
    pair_close(&p);
}

/* The SIZE= the client computes for a body in memory is the size the server counts, bare LF
 * and CR counted as CRLF and, over DATA, the CRLF that ends a last line without one. */
static void test_size_declared(void)
{
    static const char *const bodies[] = {"a\nb", "a\rb\r\n", "\n\n.\n", "x", "line\r\n.\r\nend\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        for (int bdat = 0; bdat < 2; bdat++) {
            struct pcase pc = {MEMORY, bdat, 1, 0, 0, 0, 0};
            struct pair p;
            char exp[64];
            size_t el = normalise(bodies[i], strlen(bodies[i]), !bdat, exp);
            pair_open(&p, &pc, bodies[i], strlen(bodies[i]));
            pair_run(&p);
            CHECK_INT(p.ca.status, SMTP_CLIENT_DELIVERED);
            CHECK(p.sa.size_declared);
            CHECK_INT(p.sa.size, el);
            CHECK_INT(p.ca.size, el);
            CHECK_INT(p.sa.bytes, el); /* what the server counted */
            CHECK(p.sa.hash == iot_hash(IOT_HASH0, exp, el));
            pair_close(&p);
        }
    /* A size the application gives is declared as given (it knows; the scan is spared). */
    struct pcase pc = {MEMORY, 0, 1, 0, 0, 0, 0};
    struct pair p;
    pair_open(&p, &pc, "abc\r\n", 5);
    p.msg.size = 7;
    pair_run(&p);
    CHECK_INT(p.ca.status, SMTP_CLIENT_DELIVERED);
    CHECK(p.sa.size_declared);
    CHECK_INT(p.sa.size, 7);
    CHECK_INT(p.ca.size, 7);
    CHECK_INT(p.sa.bytes, 5);
    pair_close(&p);
}

/* ---- over sockets: smtp_io_client_run against smtp_io_server_run in a child ---- */

enum io_kind { IO_MEMORY, IO_FD, IO_FILE, IO_FAILING };

/* The child: serves one connection and checks what it got (the message whole or nothing, and
 * SIZE= when `declared`); exits 0 when it is as expected. */
static pid_t serve_one(int lfd, int bdat, int delivered, int declared)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    if (!bdat) ss.extensions &= ~(unsigned)SMTP_SERVER_EXT_CHUNKING;
    struct iot_server srv = {0};
    struct iot_session sess = {&srv, NULL, 0};
    int detail;
    smtp_io_status st = smtp_io_server_run(fd, &iot_callbacks, &ss, &sess, NULL, NULL, &detail);
    uint64_t h = iot_hash(IOT_HASH0, want[!bdat], want_len[!bdat]);
    int ok = delivered ? st == SMTP_IO_DONE && srv.messages == 1 && srv.hash == h &&
                             srv.bytes == want_len[!bdat] && srv.bdat_messages == bdat
                       : st == SMTP_IO_EOF && srv.messages == 0 &&
                             srv.aborts[SMTP_SERVER_ABORT_EOF] == 1 && srv.bytes < want_len[!bdat];
    ok = ok && srv.size_declared == declared && (!declared || srv.size == want_len[!bdat]);
    if (!ok)
        fprintf(stderr, "server: %s, %d messages, %llu octets, %d EOF aborts, SIZE %d %llu\n",
                smtp_io_status_name(st), srv.messages, (unsigned long long)srv.bytes,
                srv.aborts[SMTP_SERVER_ABORT_EOF], srv.size_declared, (unsigned long long)srv.size);
    _exit(ok ? 0 : 1);
}

static void check_io(enum io_kind kind, int bdat)
{
    static const char *const names[] = {"memory", "smtp_io_read_fd", "smtp_io_read_file",
                                        "failing source"};
    int fails0 = check_failures, failing = kind == IO_FAILING;
    int port = 0, lfd = iot_listen(4, &port);
    CHECK(lfd >= 0);
    pid_t pid = serve_one(lfd, bdat, !failing, kind == IO_MEMORY);
    close(lfd);

    struct pcase pc = {failing ? SOURCE : MEMORY, bdat, 1, 0, failing ? FAIL_AT : 0, 0, 0};
    struct pair p; /* its client half; the descriptor and the stream replace the body */
    pair_client(&p, &pc, body, MIB);
    char path[] = "/tmp/smtp-test-body-XXXXXX";
    int bfd = -1;
    FILE *bf = NULL;
    if (kind == IO_FD) {
        bfd = mkstemp(path);
        CHECK(bfd >= 0);
        unlink(path);
        CHECK(write(bfd, body, MIB) == (ssize_t)MIB);
        CHECK(lseek(bfd, 0, SEEK_SET) == 0);
        p.msg.read_body = smtp_io_read_fd;
        p.msg.read_body_data = &bfd;
    } else if (kind == IO_FILE) {
        bf = tmpfile();
        CHECK(bf && fwrite(body, 1, MIB, bf) == MIB);
        if (bf) rewind(bf);
        p.msg.read_body = smtp_io_read_file;
        p.msg.read_body_data = bf;
    }
    CHECK_INT(smtp_client_submit(p.cli, &p.msg), 0);
    CHECK_INT(smtp_client_quit(p.cli), 0);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    smtp_io_status st;
    int detail = 0;
    int fd = smtp_io_connect("127.0.0.1", ps, 5000, &st, &detail);
    CHECK(fd >= 0);
    st = smtp_io_client_run(p.cli, fd, NULL, NULL, &detail);
    CHECK_INT(p.ca.messages, 1);
    CHECK_INT(p.ca.ends, 1);
    if (failing) {
        CHECK_INT(st, SMTP_IO_ERROR);
        CHECK_INT(detail, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(p.ca.status, SMTP_CLIENT_TEMPFAIL);
        CHECK_INT(p.ca.end, SMTP_CLIENT_END_ERROR);
        CHECK_INT(p.ca.error, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(p.src.off, FAIL_AT);
    } else {
        CHECK_INT(st, SMTP_IO_DONE);
        CHECK_INT(p.ca.status, SMTP_CLIENT_DELIVERED);
        CHECK_INT(p.ca.end, SMTP_CLIENT_END_QUIT);
        CHECK_INT(p.ca.rcpts, 2);
    }
    CHECK(iot_child_ok(pid));
    if (check_failures != fails0)
        fprintf(stderr, "  in the I/O case: %s over %s\n", names[kind], bdat ? "BDAT" : "DATA");
    pair_close(&p);
    if (bfd >= 0) close(bfd);
    if (bf) fclose(bf);
}

static void test_io(void)
{
    for (int kind = IO_MEMORY; kind <= IO_FAILING; kind++)
        for (int bdat = 0; bdat < 2; bdat++)
            check_io((enum io_kind)kind, bdat);
    printf("io: memory, descriptor, stream and a failing source over DATA and BDAT\n");
}

int main(void)
{
    iot_limit_time(120);
    make_body();
    for (int data = 0; data < 2; data++) {
        want[data] = malloc(2 * MIB);
        want_len[data] = normalise(body, MIB, data, want[data]);
    }
    test_pairs();
    test_failing_source();
    test_source_variants();
    test_fail_in_submit();
    test_null_body();
    test_size_declared();
    test_io();
    CHECK(probes > 0); /* the probes ran in every callback and source call */
    free(body);
    free(want[0]);
    free(want[1]);
    return check_finish();
}
