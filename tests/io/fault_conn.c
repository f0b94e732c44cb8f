/* SPDX-License-Identifier: MIT */
/*
 * The connection pieces (conn.c) under the failures real sockets give, injected by the socket
 * shim (faults.h): a server and a client connection on one TCP connection over 127.0.0.1,
 * in this process. Each test says what must come out: every message the client counts
 * delivered was taken by the server and none is lost when the socket only stalls (EINTR,
 * EAGAIN, short reads and writes); a connection cut at any point ends with the status and
 * detail the API documents (EOF, DONE, SYSERR and its errno, ERROR and its code, TLS,
 * TIMEOUT), the message in progress aborted and reported failed, never acknowledged; the
 * descriptors are closed and (ASan, valgrind) nothing leaks. Memory runs out at every
 * allocation of a session in turn, and while pipelined commands wait for the engine. Also:
 * on_progress failing, bytes after the 220 to STARTTLS, lingering, handshake and write timeouts,
 * TLS factories that fail or forget a function, early talkers under strict pipelining, and the
 * queries' documented answers.
 */
#include "faults.h"
#include "toyfilter.h"

/* EINTR and EAGAIN every few calls, and every read and write short, on both sides: the
 * messages all arrive, whole and in order, with DATA and with BDAT. */
static void test_interrupted_and_short(int chunking)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    if (!chunking) p.cs.flags |= SMTP_CLIENT_NO_CHUNKING;
    for (int i = 0; i < 2; i++) {
        shim_rule_add((struct shim_rule){
            .call = SHIM_RECV, .fd = p.fd[i], .err = EINTR, .times = -1, .every = 3});
        shim_rule_add((struct shim_rule){
            .call = SHIM_RECV, .fd = p.fd[i], .err = EAGAIN, .times = -1, .every = 4});
        shim_rule_add((struct shim_rule){
            .call = SHIM_SEND, .fd = p.fd[i], .err = EINTR, .times = -1, .every = 2});
        shim_rule_add((struct shim_rule){
            .call = SHIM_SEND, .fd = p.fd[i], .err = EAGAIN, .times = -1, .every = 5});
        shim_short(SHIM_RECV, p.fd[i], 7, -1);
        shim_short(SHIM_SEND, p.fd[i], 5, -1);
    }
    CHECK_INT(fk_start(&p, 3, 6000, NULL), 0);
    CHECK_INT(fk_run(&p, 20000), 1);
    CHECK(shim_hits(SHIM_RECV) > 100 && shim_hits(SHIM_SEND) > 100);
    CHECK_INT(p.status[0], SMTP_IO_DONE);
    CHECK_INT(p.status[1], SMTP_IO_DONE);
    CHECK_INT(p.cli.delivered, 3);
    CHECK_INT(p.srv.bdat_messages, chunking ? 3 : 0);
    CHECK(fk_consistent(&p));
    CHECK_INT(p.cli.end, SMTP_CLIENT_END_QUIT);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
}

/* The server's read fails with ECONNRESET in the middle of a body: the message is aborted
 * (EOF), nothing is acknowledged, and the client reports it failed once the server closed. */
static void test_reset_mid_body(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    /* The 30th read (of at most 1000 octets) is well inside the 100000-octet body. */
    shim_rule_add((struct shim_rule){
        .call = SHIM_RECV, .fd = p.fd[0], .err = ECONNRESET, .times = 1, .skip = 30});
    shim_short(SHIM_RECV, p.fd[0], 1000, -1);
    CHECK_INT(fk_start(&p, 1, 100000, NULL), 0);
    CHECK_INT(fk_run(&p, 10000), 1);
    CHECK_INT(shim_hits(SHIM_RECV) > 1, 1);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK_INT(p.detail[0], 0);
    CHECK_INT(p.srv.messages, 0);
    CHECK_INT(p.srv.aborts[SMTP_SERVER_ABORT_EOF], 1);
    CHECK_INT(p.status[1], SMTP_IO_EOF);
    CHECK_INT(p.cli.delivered, 0);
    CHECK_INT(p.cli.failed, 1);
    CHECK_INT(p.cli.end, SMTP_CLIENT_END_CLOSED);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
}

/* The server's send fails with `err` when its octets contain `reply`. */
struct send_case {
    const char *reply;
    int err;
    int nmsg;
    smtp_io_status status; /* the server's end */
    int detail;
    int taken;             /* messages the server took */
    int delivered;         /* messages the client counts delivered */
    smtp_io_status client; /* the client's end */
    int data;              /* the client sends DATA (it waits for 354), not BDAT */
};

static const struct send_case send_cases[] = {
    /* The server took the message and its 250 meets EPIPE (the client went away): the server
     * ends with EOF, and the client, which never saw the 250, reports the message failed, not
     * delivered (the duplicate RFC 1047 warns of is the sender's to handle, never a loss). */
    {"250 2.0.0", EPIPE, 1, SMTP_IO_EOF, 0, 1, 0, SMTP_IO_EOF, 0},
    /* The client reset the connection after its QUIT: the 221 meets ECONNRESET, and the
     * session had ended all the same: DONE, not EOF (the client, without its 221: EOF). */
    {"221", ECONNRESET, 2, SMTP_IO_DONE, 0, 2, 2, SMTP_IO_EOF, 0},
    /* Another error is SYSERR with its errno: ETIMEDOUT (TCP gave up retransmitting) on the
     * reply to MAIL, before the body was sent. */
    {"250 2.1.0", ETIMEDOUT, 1, SMTP_IO_SYSERR, ETIMEDOUT, 0, 0, SMTP_IO_EOF, 1},
};

static void test_send_fails(const struct send_case *t)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    shim_fail_on(SHIM_SEND, p.fd[0], t->reply, t->err);
    if (t->data) p.cs.flags |= SMTP_CLIENT_NO_CHUNKING;
    CHECK_INT(fk_start(&p, t->nmsg, 3000, NULL), 0);
    CHECK_INT(fk_run(&p, 10000), 1);
    CHECK_INT(shim_hits(SHIM_SEND), 1);
    CHECK_INT(p.status[0], t->status);
    CHECK_INT(p.detail[0], t->detail);
    CHECK_INT(p.srv.messages, t->taken);
    CHECK_INT(p.cli.delivered, t->delivered);
    CHECK_INT(p.cli.failed, t->nmsg - t->delivered);
    CHECK_INT(p.status[1], t->client);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
}

/* The client's read fails with ETIMEDOUT when the greeting comes: SYSERR, the message failed
 * with the session (END_CLOSED), and the server sees the connection close. */
static void test_recv_fails(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    shim_rule_add((struct shim_rule){
        .call = SHIM_RECV, .fd = p.fd[1], .err = ETIMEDOUT, .times = 1, .match = "220 "});
    CHECK_INT(fk_start(&p, 1, 1000, NULL), 0);
    CHECK_INT(fk_run(&p, 10000), 1);
    CHECK_INT(p.status[1], SMTP_IO_SYSERR);
    CHECK_INT(p.detail[1], ETIMEDOUT);
    char text[128];
    CHECK(strstr(smtp_io_status_text(p.status[1], p.detail[1], text, sizeof text), "timed out"));
    CHECK_INT(p.cli.failed, 1);
    CHECK_INT(p.cli.end, SMTP_CLIENT_END_CLOSED);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
}

/* The client's on_progress, failing once a message was delivered. */
static int fail_after_delivery(smtp_io_conn *conn, void *ud)
{
    (void)conn;
    return ((struct iot_client *)ud)->delivered ? -1 : 0;
}

/* on_progress fails: the connection ends with ERROR and SMTP_ERR_CALLBACK_FAILURE, which the
 * handler that ran it returns; the server sees the connection close. */
static void test_progress_fails(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.cio.on_progress = fail_after_delivery;
    p.cio.user_data = &p.cli;
    CHECK_INT(fk_start(&p, 3, 1000, NULL), 0);
    CHECK_INT(fk_run(&p, 10000), 1);
    CHECK_INT(p.status[1], SMTP_IO_ERROR);
    CHECK_INT(p.detail[1], SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(p.ret[1], SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(p.cli.delivered, 1);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK(p.srv.messages >= 1); /* the next message may have been taken, unacknowledged */
    fk_close(&p);
}

static int fail_at_once(smtp_io_conn *conn, void *ud)
{
    (void)conn, (void)ud;
    return -1;
}

/* on_progress failing at the connection's first step: it ends before a byte is sent; its
 * handlers then do nothing and return that error again; the server sees the end and nothing
 * else. */
static void test_progress_fails_at_once(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.cio.on_progress = fail_at_once;
    CHECK_INT(fk_start(&p, 1, 100, NULL), 0);
    smtp_io_conn *c = p.conn[1];
    CHECK_INT(smtp_io_conn_done(c), 1);
    int64_t now = smtp_io_now_ms();
    CHECK_INT(smtp_io_conn_on_readable(c, now), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_io_conn_on_writable(c, now), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_io_conn_on_timer(c, now), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_io_conn_events(c), 0);
    CHECK(smtp_io_conn_deadline(c) == SMTP_IO_NEVER);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[1], SMTP_IO_ERROR);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK_INT(p.srv.mails, 0);
    CHECK_INT(p.cli.failed, 1);
    fk_close(&p);
}

/* The queries' documented answers for NULL, for a client connection, and once done (a
 * connection that ended with EOF: its handlers return 0). */
static void test_queries(void)
{
    int detail = 1;
    CHECK(smtp_io_conn_client(NULL) == NULL);
    CHECK(smtp_io_conn_server(NULL) == NULL);
    CHECK(smtp_io_conn_session_data(NULL) == NULL);
    CHECK_INT(smtp_io_conn_busy(NULL), 0);
    CHECK_INT(smtp_io_conn_status(NULL, &detail), SMTP_IO_OK);
    CHECK_INT(detail, 0);
    CHECK_INT(smtp_io_conn_status(NULL, NULL), SMTP_IO_OK);
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    CHECK_INT(smtp_io_conn_new_server(NULL, p.fd[0], NULL, NULL, NULL, NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    smtp_io_conn *c = (smtp_io_conn *)&p;
    CHECK_INT(smtp_io_conn_new_server(&c, -1, NULL, NULL, NULL, NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK_INT(fk_start(&p, 1, 100, NULL), 0);
    CHECK(smtp_io_conn_client(p.conn[1]) == p.cli.cli);
    CHECK(smtp_io_conn_server(p.conn[1]) == NULL);
    CHECK(smtp_io_conn_session_data(p.conn[1]) == NULL); /* of no loop */
    CHECK_INT(smtp_io_conn_busy(p.conn[1]), 0);          /* a client is never busy */
    CHECK_INT(smtp_io_conn_status(p.conn[1], NULL), SMTP_IO_OK);
    /* The server's peer goes away: its connection ends with EOF. */
    smtp_io_conn_del(p.conn[1]);
    p.conn[1] = NULL;
    p.fd[1] = -1;
    CHECK_INT(fk_run(&p, 2000), 1);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    fk_close(&p);
}

/*
 * Strict pipelining, with the client's bytes already waiting when its connection is served:
 * they are read before the greeting (EINTR retried) and judged early (554); a client that
 * closed its side before its greeting ends the session with EOF.
 */
static void test_early_talkers(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.ss.flags |= SMTP_SERVER_STRICT_PIPELINING;
    CHECK_INT(iot_send(p.fd[1], "EHLO early.test\r\n"), 0);
    iot_sleep_ms(20);
    shim_fail(SHIM_RECV, p.fd[0], EINTR, 1);
    CHECK_INT(
        smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio, NULL),
        0);
    CHECK_INT(shim_hits(SHIM_RECV), 1);
    char buf[512];
    CHECK(iot_read_until(p.fd[1], buf, sizeof buf, "554", 2000) > 0);
    CHECK(strncmp(buf, "220 mx.test", 11) == 0 && strstr(buf, "554 5.5.0"));
    fk_close(&p);

    CHECK_INT(fk_open(&p), 0);
    p.ss.flags |= SMTP_SERVER_STRICT_PIPELINING;
    CHECK_INT(shutdown(p.fd[1], SHUT_WR), 0);
    iot_sleep_ms(20);
    CHECK_INT(
        smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio, NULL),
        0);
    CHECK_INT(fk_run(&p, 2000), 1);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK(p.closed[0]);
    fk_close(&p);
}

/* Reads what the peer sent until `want` (up to 2 s), driving `conn` meanwhile. */
static int raw_expect(struct fk_pair *p, int fd, const char *want)
{
    char buf[4096];
    size_t len = 0;
    int64_t end = smtp_io_now_ms() + 2000;
    buf[0] = 0;
    while (!strstr(buf, want) && smtp_io_now_ms() < end && len + 1 < sizeof buf) {
        (void)fk_step(p, 10);
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (n > 0) len += (size_t)n;
        buf[len] = 0;
    }
    return strstr(buf, want) != NULL;
}

/*
 * A scripted server on p->fd[0] for a client connection made of p->cs and p->cio with `nmsg`
 * messages of about `body` octets: the greeting, then for each pair of `steps` (NULL-ended)
 * the text it waits for from the client and the reply it sends. 1 when every step happened.
 */
static int raw_server(struct fk_pair *p, int nmsg, size_t body, const char *const *steps)
{
    if (iot_client_init(&p->cli, 1, nmsg, body, &p->cs) < 0 ||
        iot_send(p->fd[0], "220 mx.test ESMTP\r\n") < 0 ||
        smtp_io_conn_new_client(&p->conn[1], p->fd[1], p->cli.cli, &p->cio, NULL) < 0)
        return 0;
    for (; *steps; steps += 2)
        if (!raw_expect(p, p->fd[0], steps[0]) || iot_send(p->fd[0], steps[1]) < 0) return 0;
    return 1;
}

/* The steps of a server offering STARTTLS and answering it with `answer`. */
#define STARTTLS_STEPS(answer)                                                                     \
    "EHLO client.test\r\n", "250-mx.test\r\n250 STARTTLS\r\n", "STARTTLS\r\n", answer, NULL

/*
 * A server that answers STARTTLS with its 220 and more bytes in the same packet (RFC 3207 5, a
 * man in the middle's injection): the client starts no TLS, hands the bytes to its engine, which
 * reports them (SMTP_ERR_PROTO: ERROR), and the message is not sent.
 */
static void test_client_starttls_injection(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    p.cio.tls_new = toy_new;
    toy_made = 0;
    const char *const steps[] = {STARTTLS_STEPS("220 2.0.0 go ahead\r\n250 2.1.0 forged\r\n")};
    CHECK(raw_server(&p, 1, 100, steps));
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[1], SMTP_IO_ERROR);
    CHECK_INT(p.detail[1], SMTP_ERR_PROTO);
    CHECK_INT(toy_made, 0);
    CHECK_INT(p.cli.delivered, 0);
    CHECK(p.closed[1]);
    fk_close(&p);
}

/*
 * The engine ended (221 to QUIT) and the socket takes nothing more (EAGAIN for ever): the
 * connection lingers for linger_ms, then closes as DONE; after a timeout whose 421 cannot be
 * written, as TIMEOUT.
 */
static void test_linger(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.sio.linger_ms = 150;
    shim_rule_add((struct shim_rule){
        .call = SHIM_SEND, .fd = p.fd[0], .err = EAGAIN, .times = -1, .match = "221"});
    CHECK_INT(fk_start(&p, 1, 1000, NULL), 0);
    int64_t t0 = smtp_io_now_ms();
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK(smtp_io_now_ms() - t0 >= 150);
    CHECK_INT(p.status[0], SMTP_IO_DONE);
    CHECK_INT(p.cli.delivered, 1);
    CHECK(fk_consistent(&p));
    fk_close(&p);

    /* A silent client: the server's timeout (cut to 100 ms), its 421 stuck, 150 ms of linger. */
    CHECK_INT(fk_open(&p), 0);
    p.sio.linger_ms = 150;
    p.sio.server_timeout_cap_ms = 100;
    shim_rule_add((struct shim_rule){
        .call = SHIM_SEND, .fd = p.fd[0], .err = EAGAIN, .times = -1, .match = "421"});
    CHECK_INT(
        smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio, NULL),
        0);
    t0 = smtp_io_now_ms();
    CHECK_INT(fk_run(&p, 5000), 1);
    int64_t took = smtp_io_now_ms() - t0;
    CHECK(took >= 240 && took < 2000);
    CHECK_INT(p.status[0], SMTP_IO_TIMEOUT);
    CHECK(shim_hits(SHIM_SEND) >= 1);
    CHECK(p.closed[0]);
    fk_close(&p);
}

/*
 * A TLS handshake that never finishes (the server went silent after its 220 to STARTTLS, the
 * client after its STARTTLS): each side ends with TIMEOUT after handshake_timeout_ms; the client
 * engine is told TLS failed and its message fails.
 */
static void test_handshake_timeout(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    p.cio.tls_new = toy_new;
    p.cio.handshake_timeout_ms = 150;
    toy_made = 0;
    const char *const steps[] = {STARTTLS_STEPS("220 2.0.0 go ahead\r\n")};
    CHECK(raw_server(&p, 1, 100, steps));
    int64_t t0 = smtp_io_now_ms();
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK(smtp_io_now_ms() - t0 >= 140);
    CHECK_INT(p.status[1], SMTP_IO_TIMEOUT);
    CHECK_INT(toy_made, 1);
    CHECK_INT(p.cli.end, SMTP_CLIENT_END_TLS_FAILED);
    CHECK_INT(p.cli.failed, 1);
    fk_close(&p);

    CHECK_INT(fk_open(&p), 0);
    p.ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    p.sio.tls_new = toy_new;
    p.sio.handshake_timeout_ms = 150;
    CHECK_INT(
        smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio, NULL),
        0);
    CHECK_INT(iot_send(p.fd[1], "EHLO client.test\r\nSTARTTLS\r\n"), 0);
    CHECK(raw_expect(&p, p.fd[1], "220 2.0.0"));
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[0], SMTP_IO_TIMEOUT);
    CHECK_INT(p.srv.starttls, 1);
    CHECK(p.closed[0]);
    fk_close(&p);
}

/* A server that stops reading in the middle of a body: the client's output stalls, and after
 * write_timeout_ms it ends with TIMEOUT, the message failed, not delivered. */
static void test_client_write_stall(void)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    p.cio.write_timeout_ms = 200;
    int small = 4096;
    (void)setsockopt(p.fd[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    (void)setsockopt(p.fd[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    const char *const steps[] = {"EHLO client.test\r\n", "250-mx.test\r\n250 PIPELINING\r\n",
                                 "DATA\r\n", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n", NULL};
    CHECK(raw_server(&p, 1, 2000000, steps));
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[1], SMTP_IO_TIMEOUT);
    CHECK_INT(p.cli.delivered, 0);
    CHECK_INT(p.cli.failed, 1);
    CHECK(p.closed[1]);
    fk_close(&p);
}

/* TLS factories that fail: their code is the TLS detail. A filter left without one of its
 * five functions is refused (INVALID_ARGUMENT) and freed by its own del, when it has one. */
static int factory_code; /* < 0: the factory fails with it; else the function it forgets */
static int forgotten_dels;

static void count_del(void *ctx)
{
    forgotten_dels++;
    free(ctx);
}

static int forgetful_new(smtp_io_filter *f, smtp_io_conn *conn, void *ud)
{
    if (factory_code < 0) return factory_code;
    int r = toy_new(f, conn, ud);
    f->del = count_del;
    switch (factory_code) {
    case 0: f->handshake = NULL; break;
    case 1: f->feed = NULL; break;
    case 2: f->pull = NULL; break;
    case 3: f->read = NULL; break;
    case 4: f->write = NULL; break;
    default: /* and without del: the factory's ctx is its own to free (here: static) */
        toy_del(f->ctx);
        f->ctx = NULL;
        f->write = NULL;
        f->del = NULL;
        break;
    }
    return r;
}

static void test_factory_failures(void)
{
    for (int code = -1; code <= 5; code++) {
        struct fk_pair p;
        CHECK_INT(fk_open(&p), 0);
        p.ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
        p.sio.tls_new = toy_new;
        p.cs.tls = SMTP_CLIENT_TLS_REQUIRED;
        p.cio.tls_new = forgetful_new;
        factory_code = code < 0 ? SMTP_ERR_NOMEM : code;
        forgotten_dels = 0;
        CHECK_INT(fk_start(&p, 1, 100, NULL), 0);
        CHECK_INT(fk_run(&p, 5000), 1);
        CHECK_INT(p.status[1], SMTP_IO_TLS);
        CHECK_INT(p.detail[1], code < 0 ? SMTP_ERR_NOMEM : SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(forgotten_dels, code >= 0 && code < 5);
        CHECK_INT(p.cli.end, SMTP_CLIENT_END_TLS_FAILED);
        CHECK_INT(p.cli.failed, 1);
        CHECK(p.closed[0] && p.closed[1]);
        fk_close(&p);
    }
}

/*
 * Memory runs out at each allocation of a session in turn, on the server's side and then on
 * the client's, over STARTTLS with short writes (so that every buffer is needed): each run ends
 * with the session done or with ERROR and SMTP_ERR_NOMEM (or the connection is refused), the
 * client never counts delivered what the server did not take, and nothing leaks.
 */
static void test_nomem_everywhere(int client_side)
{
    int completed = 0, nomem = 0;
    for (int k = 1; k < 200 && !completed; k++) {
        struct failmem fm = {0};
        fm.fail_at = k;
        smtp_mem mem = failmem_mem(&fm);
        struct fk_pair p;
        CHECK_INT(fk_open(&p), 0);
        p.ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
        p.ss.flags |= SMTP_SERVER_STRICT_PIPELINING;
        p.sio.tls_new = p.cio.tls_new = toy_new;
        p.cs.tls = SMTP_CLIENT_TLS_REQUIRED;
        shim_short(SHIM_SEND, p.fd[0], 9, -1);
        shim_short(SHIM_SEND, p.fd[1], 700, -1);
        int r = smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio,
                                        client_side ? NULL : &mem);
        p.sess.conn = p.conn[0];
        if (r == 0) r = iot_client_init(&p.cli, 1, 2, 5000, &p.cs);
        if (r == 0)
            r = smtp_io_conn_new_client(&p.conn[1], p.fd[1], p.cli.cli, &p.cio,
                                        client_side ? &mem : NULL);
        if (r < 0) {
            CHECK_INT(r, SMTP_ERR_NOMEM);
        } else {
            CHECK_INT(fk_run(&p, 10000), 1);
            int side = client_side ? 1 : 0;
            if (p.status[side] == SMTP_IO_ERROR) {
                CHECK_INT(p.detail[side], SMTP_ERR_NOMEM);
                nomem++;
            } else if (fm.calls < k) {
                CHECK_INT(p.status[side], SMTP_IO_DONE);
                CHECK_INT(p.cli.delivered, 2);
                completed = 1;
            }
            CHECK(p.cli.delivered <= p.srv.messages);
        }
        fk_close(&p);
        CHECK_INT(fm.live, 0);
    }
    CHECK(completed);
    CHECK(nomem > 0);
}

/*
 * Memory runs out while the server keeps pipelined commands its engine cannot take yet (its
 * output queue is full: the socket takes nothing for a while): each run ends with every reply
 * sent in order (DONE), or with ERROR and SMTP_ERR_NOMEM; nothing leaks.
 */
static void test_nomem_pipelined(void)
{
    char script[16384];
    size_t len = (size_t)snprintf(script, sizeof script, "EHLO x.test\r\nMAIL FROM:<a@b.c>\r\n");
    for (int i = 0; i < 400; i++)
        len += (size_t)snprintf(script + len, sizeof script - len, "RCPT TO:<u%d@d.e>\r\n", i);
    snprintf(script + len, sizeof script - len, "QUIT\r\n");
    int completed = 0, nomem = 0;
    for (int k = 1; k < 100 && !completed; k++) {
        struct failmem fm = {0};
        fm.fail_at = k;
        smtp_mem mem = failmem_mem(&fm);
        struct fk_pair p;
        CHECK_INT(fk_open(&p), 0);
        p.ss.max_output = 4096;
        p.ss.max_recipients = 1000;
        shim_fail(SHIM_SEND, p.fd[0], EAGAIN, 20);
        CHECK_INT(iot_send(p.fd[1], script), 0);
        int r = smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio,
                                        &mem);
        if (r < 0) {
            CHECK_INT(r, SMTP_ERR_NOMEM);
        } else {
            CHECK_INT(fk_run(&p, 5000), 1);
            if (p.status[0] == SMTP_IO_ERROR) {
                CHECK_INT(p.detail[0], SMTP_ERR_NOMEM);
                nomem++;
            } else {
                CHECK_INT(p.status[0], SMTP_IO_DONE);
                static char buf[32768];
                CHECK(iot_read_until(p.fd[1], buf, sizeof buf, "221 ", 2000) > 0);
                int n = 0;
                for (const char *q = buf; (q = strstr(q, "250 2.1.5")) != NULL; q++)
                    n++;
                CHECK_INT(n, 400);
                completed = fm.calls < k;
            }
        }
        fk_close(&p);
        CHECK_INT(fm.live, 0);
    }
    CHECK(completed);
    CHECK(nomem > 0);
}

int main(void)
{
    iot_limit_time(100);
    test_interrupted_and_short(1);
    test_interrupted_and_short(0);
    test_reset_mid_body();
    for (size_t i = 0; i < sizeof send_cases / sizeof send_cases[0]; i++)
        test_send_fails(&send_cases[i]);
    test_recv_fails();
    test_progress_fails();
    test_progress_fails_at_once();
    test_queries();
    test_early_talkers();
    test_client_starttls_injection();
    test_linger();
    test_handshake_timeout();
    test_client_write_stall();
    test_factory_failures();
    test_nomem_everywhere(0);
    test_nomem_everywhere(1);
    test_nomem_pipelined();
    return check_finish();
}
