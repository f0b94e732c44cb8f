/* SPDX-License-Identifier: MIT */
/*
 * The blocking calls and the TLS seam over loopback: smtp_io_server_run serving one accepted
 * descriptor (in a child) against smtp_io_client_run, in plaintext, with STARTTLS and with
 * implicit TLS through a toy filter (toyfilter.h: a handshake, then every byte changed on the
 * wire), a server asked for STARTTLS without a filter factory, plaintext pipelined over the
 * STARTTLS boundary, the transcript callback, misuse of the connection calls, and a client
 * that talks before its greeting under strict pipelining.
 */
#include "iotest.h"
#include "toyfilter.h"

/* What the child server expects. */
struct expect {
    int messages;
    smtp_io_status status;
    int filters; /* toy filters made */
};

/* What the child server of the case running now expects. */
static struct expect expected;

static int as_expected(smtp_io_status st, int detail, const struct iot_server *srv)
{
    int ok =
        st == expected.status && srv->messages == expected.messages && toy_made == expected.filters;
    if (!ok)
        fprintf(stderr, "server: %s (%d), %d messages, %d filters\n", smtp_io_status_name(st),
                detail, srv->messages, toy_made);
    return ok;
}

/* Forks a server that accepts one connection and serves it with smtp_io_server_run. */
static pid_t serve_one(int lfd, const smtp_server_settings *ss, const smtp_io_settings *ios,
                       struct expect ex)
{
    expected = ex;
    return iot_serve_child(lfd, ss, ios, as_expected);
}

/* The client's transcript: counts what went each way. */
struct transcript {
    size_t in, out;
    int saw_starttls, saw_ehlo_after;
};

static void on_trace(smtp_io_conn *conn, int dir, const char *data, size_t len, void *ud)
{
    (void)conn;
    (void)ud;
    static struct transcript *t;
    if (!data) {
        t = (struct transcript *)(void *)conn;
        return;
    }
    if (getenv("IOT_DEBUG")) /* the transcript, to see a failing case */
        fprintf(stderr, "%s %.*s", dir == SMTP_IO_TRACE_IN ? "S:" : "C:", (int)len, data);
    if (!t) return;
    if (dir == SMTP_IO_TRACE_IN) t->in += len;
    if (dir == SMTP_IO_TRACE_OUT) {
        t->out += len;
        if (len >= 8 && memcmp(data, "STARTTLS", 8) == 0) t->saw_starttls = 1;
        if (t->saw_starttls && len >= 4 && memcmp(data, "EHLO", 4) == 0) t->saw_ehlo_after = 1;
    }
}

enum mode { PLAIN, STARTTLS, IMPLICIT, NO_FACTORY };

static void run_case(enum mode mode)
{
    int port = 0;
    int lfd = iot_listen(4, &port);
    CHECK(lfd >= 0);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    smtp_io_settings sio;
    smtp_io_settings_init(&sio);
    struct expect ex = {2, SMTP_IO_DONE, 0};
    if (mode == STARTTLS || mode == NO_FACTORY) ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    if (mode == STARTTLS || mode == IMPLICIT) {
        sio.tls_new = toy_new;
        ex.filters = 1;
    }
    if (mode == IMPLICIT) {
        ss.flags |= SMTP_SERVER_TLS;
        sio.implicit_tls = 1;
    }
    if (mode == NO_FACTORY) {
        ex.messages = 0;
        ex.status = SMTP_IO_TLS;
    }
    toy_made = 0;
    pid_t pid = serve_one(lfd, &ss, &sio, ex);
    close(lfd);

    struct iot_client c;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    if (mode == STARTTLS || mode == NO_FACTORY) cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    if (mode == IMPLICIT) cs.flags |= SMTP_CLIENT_TLS;
    CHECK_INT(iot_client_init(&c, 3, 2, 20000, &cs), 0);
    smtp_io_settings cio;
    smtp_io_settings_init(&cio);
    cio.tls_new = toy_new;
    cio.implicit_tls = mode == IMPLICIT;
    cio.on_trace = on_trace;
    struct transcript t = {0};
    on_trace((smtp_io_conn *)(void *)&t, 0, NULL, 0, NULL);
    smtp_io_status st = iot_client_run(&c, port, &cio);
    on_trace(NULL, 0, NULL, 0, NULL);
    if (mode == NO_FACTORY) {
        CHECK(st == SMTP_IO_EOF || st == SMTP_IO_TLS);
        CHECK_INT(c.delivered, 0);
        CHECK(c.end == SMTP_CLIENT_END_CLOSED || c.end == SMTP_CLIENT_END_TLS_FAILED);
    } else {
        CHECK_INT(st, SMTP_IO_DONE);
        CHECK_INT(c.delivered, 2);
        CHECK_INT(c.end, SMTP_CLIENT_END_QUIT);
        CHECK_INT(toy_made, mode == PLAIN ? 0 : 1);
        CHECK(t.in > 0 && t.out > 40000);
        CHECK_INT(t.saw_starttls, mode == STARTTLS);
        CHECK_INT(t.saw_ehlo_after, mode == STARTTLS); /* RFC 3207 4.2: EHLO again */
    }
    CHECK(iot_child_ok(pid));
    iot_client_fini(&c);
}

/* Plaintext sent right after STARTTLS, before the handshake (CVE-2011-0411): never handed to
 * the filter; the engine answers 421 and closes. */
static void test_injection(void)
{
    int port = 0;
    int lfd = iot_listen(4, &port);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    smtp_io_settings sio;
    smtp_io_settings_init(&sio);
    sio.tls_new = toy_new;
    toy_made = 0;
    struct expect ex = {0, SMTP_IO_DONE, 0};
    pid_t pid = serve_one(lfd, &ss, &sio, ex);
    close(lfd);
    int fd = iot_connect(port);
    char buf[4096];
    CHECK(iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0);
    CHECK_INT(iot_send(fd, "EHLO x.test\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"), 0);
    CHECK(iot_read_until(fd, buf, sizeof buf, "421", 5000) > 0);
    CHECK(strstr(buf, "421 ") != NULL);
    CHECK(strstr(buf, TOY_HELLO) == NULL);
    close(fd);
    CHECK(iot_child_ok(pid));
}

/* Misuse and the poll pieces' queries. */
static void test_api(void)
{
    smtp_io_conn *c = (smtp_io_conn *)1;
    CHECK_INT(smtp_io_conn_new_client(&c, -1, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK_INT(smtp_io_conn_new_client(NULL, 0, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_io_settings s;
    smtp_io_settings_init(&s);
    s.implicit_tls = 1; /* without a factory */
    CHECK_INT(smtp_io_conn_new_server(&c, 0, NULL, NULL, NULL, &s, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    s.implicit_tls = 0;
    s.read_size = 70000;
    CHECK_INT(smtp_io_conn_new_server(&c, 0, NULL, NULL, NULL, &s, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_conn_on_readable(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_conn_on_writable(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_conn_on_timer(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_conn_done(NULL), 1);
    CHECK_INT(smtp_io_conn_events(NULL), 0);
    CHECK(smtp_io_conn_deadline(NULL) == SMTP_IO_NEVER);
    CHECK_INT(smtp_io_conn_fd(NULL), -1);
    smtp_io_conn_del(NULL);
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_io_loop *l = NULL;
    /* Without on_accept or callbacks a loop drives clients only: it takes no listener. */
    CHECK_INT(smtp_io_loop_new(&l, &ls, NULL), 0);
    int lport, lsock = iot_listen(4, &lport);
    CHECK_INT(smtp_io_loop_add_listener(l, lsock), SMTP_ERR_INVALID_ARGUMENT);
    close(lsock);
    smtp_io_loop_del(l);
    /* Versions this library lacks, of any struct the loop takes, are refused up front. */
    CHECK_INT(smtp_io_loop_new_versioned(&l, 2, &ls, SMTP_IO_SETTINGS_VERSION, 1, 1, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_loop_new_versioned(&l, 1, &ls, 0, 1, 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_loop_new_versioned(&l, 1, &ls, 1, SMTP_SERVER_CALLBACKS_VERSION + 1, 1, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_loop_new_versioned(&l, 1, &ls, 1, 1, SMTP_SERVER_SETTINGS_VERSION + 1, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK(l == NULL);
    smtp_io_settings bad;
    smtp_io_settings_init(&bad);
    bad.read_size = 0;
    ls.io = &bad;
    CHECK_INT(smtp_io_loop_new(&l, &ls, NULL), SMTP_ERR_INVALID_ARGUMENT);
    ls.io = NULL;
    ls.max_connections = 0;
    CHECK_INT(smtp_io_loop_new(&l, &ls, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_loop_run_once(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_loop_connections(NULL), 0);
    smtp_io_loop_shutdown(NULL);
    smtp_io_loop_del(NULL);
    /* A server connection on one end of a loopback pair: greeting queued and written, then
     * it waits for a command with the engine's timeout. */
    int port, lfd = iot_listen(4, &port);
    int cfd = iot_connect(port), sfd = accept(lfd, NULL, NULL);
    close(lfd);
    smtp_io_settings_init(&s);
    CHECK_INT(smtp_io_conn_new_server(&c, sfd, NULL, NULL, NULL, &s, NULL), 0);
    CHECK(smtp_io_conn_server(c) != NULL);
    CHECK(smtp_io_conn_client(c) == NULL);
    CHECK_INT(smtp_io_conn_events(c), SMTP_IO_READ);
    int64_t now = smtp_io_now_ms();
    int64_t d = smtp_io_conn_deadline(c);
    CHECK(d > now + 299000 && d <= now + 300000);
    char buf[256];
    CHECK(iot_read_until(cfd, buf, sizeof buf, "\r\n", 2000) > 0);
    CHECK(strncmp(buf, "220 localhost ESMTP", 19) == 0);
    /* The deadline passes: 421, then closed once written. */
    CHECK_INT(smtp_io_conn_on_timer(c, d), 0);
    CHECK_INT(smtp_io_conn_done(c), 1);
    int detail;
    CHECK_INT(smtp_io_conn_status(c, &detail), SMTP_IO_TIMEOUT);
    CHECK(iot_read_until(cfd, buf, sizeof buf, "\r\n", 2000) > 0);
    CHECK(strncmp(buf, "421 4.4.2", 9) == 0);
    smtp_io_conn_del(c);
    close(cfd);
}

/* on_connect that decides later (a DNSBL lookup, say). */
static int defer_connect(smtp_server *srv, void *ud)
{
    (void)srv;
    (void)ud;
    return SMTP_SERVER_DEFER;
}

/*
 * Strict pipelining: a client that talks before its greeting was written gets 554, also when
 * its bytes were already waiting before the connection was served (the listen queue) and also
 * when the greeting is decided later (the bytes wait meanwhile).
 */
static void test_strict_greeting(int deferred)
{
    int port, lfd = iot_listen(4, &port);
    int cfd = iot_connect(port);
    CHECK_INT(iot_send(cfd, "EHLO early.test\r\n"), 0);
    iot_sleep_ms(50); /* the EHLO is in the server's socket before it is served */
    int sfd = accept(lfd, NULL, NULL);
    close(lfd);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    ss.flags |= SMTP_SERVER_STRICT_PIPELINING;
    smtp_server_callbacks cb = {0};
    if (deferred) cb.on_connect = defer_connect;
    smtp_io_settings s;
    smtp_io_settings_init(&s);
    smtp_io_conn *c;
    CHECK_INT(smtp_io_conn_new_server(&c, sfd, &cb, &ss, NULL, &s, NULL), 0);
    smtp_server *srv = smtp_io_conn_server(c);
    if (deferred) {
        CHECK_INT(smtp_server_pending(srv), 1);
        CHECK_INT(smtp_io_conn_on_readable(c, smtp_io_now_ms()), 0);
        CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), 0);
        CHECK_INT(smtp_io_conn_on_writable(c, smtp_io_now_ms()), 0);
    }
    char buf[512];
    CHECK(iot_read_until(cfd, buf, sizeof buf, "554", 2000) > 0);
    CHECK(strncmp(buf, "220 mx.test", 11) == 0);
    CHECK(strstr(buf, "554 5.5.0") != NULL);
    CHECK(strstr(buf, "\r\n250") == NULL);
    CHECK_INT(smtp_io_conn_done(c), 1);
    smtp_io_conn_del(c);
    close(cfd);
}

int main(void)
{
    iot_limit_time(60);
    run_case(PLAIN);
    run_case(STARTTLS);
    run_case(IMPLICIT);
    run_case(NO_FACTORY);
    test_injection();
    test_api();
    test_strict_greeting(0);
    test_strict_greeting(1);
    return check_finish();
}
