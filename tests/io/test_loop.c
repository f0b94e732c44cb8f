/* SPDX-License-Identifier: MIT */
/*
 * The multi-connection server loop over real loopback sockets: blocking clients sending many
 * messages on several connections at once, a client writing one byte at a time, a client that
 * vanishes in the middle of DATA, a server whose replies meet a tiny send buffer, graceful
 * shutdown with a transaction open. Clients run in child processes; the loop in this one.
 */
#include "iotest.h"

/* Each of `nconn` child processes sends `nmsg` messages; returns 0 when all were delivered. */
static int spawn_clients(int port, int nconn, int nmsg, size_t body_size, pid_t *pid)
{
    *pid = fork();
    if (*pid < 0) return -1;
    if (*pid > 0) return 0;
    for (int i = 0; i < nconn; i++) {
        if (fork() == 0) {
            struct iot_client c;
            int ok = iot_client_init(&c, i, nmsg, body_size, NULL) == 0;
            smtp_io_status st = ok ? iot_client_run(&c, port, NULL) : SMTP_IO_ERROR;
            ok = ok && st == SMTP_IO_DONE && c.delivered == nmsg && c.failed == 0 &&
                 c.end == SMTP_CLIENT_END_QUIT;
            if (!ok)
                fprintf(stderr, "client %d: %s delivered %d failed %d end %s\n", i,
                        smtp_io_status_name(st), c.delivered, c.failed,
                        smtp_client_end_name(c.end));
            iot_client_fini(&c);
            iot_exit(ok ? 0 : 1);
        }
    }
    int bad = 0, status;
    while (wait(&status) > 0)
        bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    iot_exit(bad);
}

/* The hash the server must have seen: every (connection, message) body once. */
static uint64_t expected_hash(int nconn, int nmsg, size_t body_size)
{
    char *b = malloc(body_size);
    uint64_t h = 0;
    for (int i = 0; i < nconn; i++)
        for (int n = 0; n < nmsg; n++)
            h ^= iot_hash(IOT_HASH0, b, iot_make_body(b, body_size, i, n));
    free(b);
    return h;
}

static void test_many_messages(void)
{
    int nconn = iot_small() ? 2 : 8, nmsg = iot_small() ? 5 : 50;
    size_t body = 3000;
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    CHECK(loop != NULL);
    if (!loop) return;
    pid_t pid;
    CHECK_INT(spawn_clients(port, nconn, nmsg, body, &pid), 0);
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    /* The children saw every QUIT answered; let the loop close what is left. */
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, nconn * nmsg);
    CHECK(srv.hash == expected_hash(nconn, nmsg, body));
    CHECK_INT(srv.from_loopback, nconn * nmsg); /* the adapter told each session its peer */
    CHECK_INT(srv.accepted, nconn);
    CHECK_INT(srv.closed[SMTP_IO_DONE], nconn);
    CHECK_INT(smtp_io_loop_connections(loop), 0);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
    CHECK_INT(srv.open_sessions, 0);
}

/* A large message from a client with a tiny send buffer (partial writes, EAGAIN), with DATA
 * (no CHUNKING) and BDAT. */
static void test_large_message(int chunking)
{
    size_t body = iot_small() ? 200000 : 2000000;
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.max_message_size = 0;
    ls.server = &ss;
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    if (!loop) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct iot_client c;
        smtp_client_settings cs;
        smtp_client_settings_init(&cs);
        cs.helo_name = "client.test";
        if (!chunking) cs.flags |= SMTP_CLIENT_NO_CHUNKING;
        cs.max_output = 1024;
        cs.max_body_buffer = 777;
        int ok = iot_client_init(&c, 1, 2, body, &cs) == 0;
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        int fd = smtp_io_connect("127.0.0.1", ps, 5000, NULL, NULL);
        int small = 1024;
        ok = ok && fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0;
        smtp_io_settings ios;
        smtp_io_settings_init(&ios);
        ios.read_size = 7;
        smtp_io_status st = ok ? smtp_io_client_run(c.cli, fd, &ios, NULL, NULL) : SMTP_IO_ERROR;
        ok = ok && st == SMTP_IO_DONE && c.delivered == 2;
        iot_client_fini(&c);
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, 2);
    char *b = malloc(body);
    uint64_t h = iot_hash(IOT_HASH0, b, iot_make_body(b, body, 1, 0)) ^
                 iot_hash(IOT_HASH0, b, iot_make_body(b, body, 1, 1));
    free(b);
    CHECK(srv.hash == h);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

static const char *slow_script = "EHLO slow.test\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n"
                                 "DATA\r\n";

/* One byte per write, every command split everywhere. */
static void test_slow_client(void)
{
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    if (!loop) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = iot_connect(port);
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[4096];
        int ok = fd >= 0 && iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0;
        const char *all[] = {slow_script, "slow\r\n..dot\r\n.\r\n", "QUIT\r\n"};
        for (int part = 0; ok && part < 3; part++) {
            for (const char *p = all[part]; *p && ok; p++) {
                ok = write(fd, p, 1) == 1;
                if (!iot_small() || (p - all[part]) % 8 == 0) iot_sleep_ms(1);
            }
            const char *want = part == 0 ? "354" : part == 1 ? "250 2.0.0" : "221";
            ok = ok && iot_read_until(fd, buf, sizeof buf, want, 5000) > 0 && strstr(buf, want);
        }
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, 1);
    CHECK(srv.hash == iot_hash(IOT_HASH0, "slow\r\n.dot\r\n", 12));
    CHECK_INT(srv.closed[SMTP_IO_DONE], 1);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

/* The client disappears in the middle of DATA: the message is aborted, nothing acknowledged. */
static void test_vanish_mid_data(void)
{
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    if (!loop) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = iot_connect(port);
        char buf[4096];
        int ok = fd >= 0 && iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0;
        ok = ok && iot_send(fd, slow_script) == 0 &&
             iot_read_until(fd, buf, sizeof buf, "354", 5000) > 0;
        ok = ok && iot_send(fd, "half a message\r\n.") == 0;
        iot_sleep_ms(50);
        /* Nothing may have been acknowledged. */
        ok = ok && iot_read_until(fd, buf, sizeof buf, NULL, 100) == 0;
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, 0);
    CHECK_INT(srv.aborts[SMTP_SERVER_ABORT_EOF], 1);
    CHECK_INT(srv.closed[SMTP_IO_EOF], 1);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

/* Server replies against a client that does not read and a tiny send buffer: the loop keeps
 * what the socket does not take, stops reading while the engine's queue is full, and every
 * reply arrives in order once the client reads. */
static void test_server_partial_writes(void)
{
    int nrcpt = iot_small() ? 200 : 900;
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    ss.max_output = 4096;
    ls.server = &ss;
    int port = 0;
    ls.on_accept = iot_on_accept;
    ls.on_close = iot_on_close;
    ls.user_data = &srv;
    smtp_io_loop *loop = NULL;
    CHECK_INT(smtp_io_loop_new(&loop, &ls, NULL), 0);
    iot_current_loop = loop;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 1024;
    (void)setsockopt(lfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_INT(listen(lfd, 16), 0);
    CHECK_INT(smtp_io_loop_add_listener(loop, lfd), 0);
    port = smtp_io_loop_port(loop, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sa.sin_port = htons((uint16_t)port);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        size_t cap = (size_t)nrcpt * 64 + 4096;
        char *script = malloc(cap), *buf = malloc(cap * 2);
        size_t len = (size_t)snprintf(script, cap, "EHLO x.test\r\nMAIL FROM:<a@b.c>\r\n");
        for (int i = 0; i < nrcpt; i++)
            len += (size_t)snprintf(script + len, cap - len, "RCPT TO:<user%d@example.org>\r\n", i);
        len += (size_t)snprintf(script + len, cap - len, "QUIT\r\n");
        ok = ok && iot_send(fd, script) == 0;
        iot_sleep_ms(300); /* the server's output backs up meanwhile */
        long n = ok ? iot_read_until(fd, buf, cap * 2, "221 ", 10000) : 0;
        int count = 0;
        for (char *p = buf; n > 0 && (p = strstr(p, "250 2.1.5")) != NULL; p++)
            count++;
        ok = ok && count == nrcpt && strstr(buf, "221 ") != NULL;
        if (!ok) fprintf(stderr, "partial writes: %d of %d recipients answered\n", count, nrcpt);
        free(script);
        free(buf);
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.closed[SMTP_IO_DONE], 1);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

/* Graceful shutdown: an idle connection gets 421 at once; one in the middle of a message
 * finishes it (250) and then gets 421; the listener is closed. */
static void test_graceful_shutdown(void)
{
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    if (!loop) {
        CHECK(0);
        return;
    }
    int sync[2];
    CHECK_INT(pipe(sync), 0);
    pid_t pid = fork();
    if (pid == 0) {
        iot_close_inherited(sync[1]);
        char buf[4096];
        int idle = iot_connect(port), busy = iot_connect(port);
        int ok = idle >= 0 && busy >= 0 && iot_read_until(idle, buf, sizeof buf, "\r\n", 5000) &&
                 iot_read_until(busy, buf, sizeof buf, "\r\n", 5000);
        ok = ok && iot_send(busy, slow_script) == 0 &&
             iot_read_until(busy, buf, sizeof buf, "354", 5000) > 0;
        ok = ok && write(sync[1], "s", 1) == 1; /* now shut the loop down */
        ok = ok && iot_read_until(idle, buf, sizeof buf, "421", 5000) > 0 &&
             strstr(buf, "421 4.3.2");
        ok = ok && iot_send(busy, "the end\r\n.\r\n") == 0;
        ok = ok && iot_read_until(busy, buf, sizeof buf, "421", 5000) > 0 &&
             strstr(buf, "250 2.0.0") && strstr(buf, "421 4.3.2");
        /* The listener is gone. */
        ok = ok && iot_connect(port) < 0;
        if (!ok) fprintf(stderr, "shutdown: client saw [%s]\n", buf);
        iot_exit(ok ? 0 : 1);
    }
    close(sync[1]);
    char c;
    while (read(sync[0], &c, 0) < 0)
        continue;
    struct pollfd p = {.fd = sync[0], .events = POLLIN};
    while (poll(&p, 1, 0) == 0)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT((int)read(sync[0], &c, 1), 1);
    close(sync[0]);
    smtp_io_loop_shutdown(loop);
    int st = -1, r;
    while ((r = smtp_io_loop_run_once(loop, 10)) > 0) {
        if (waitpid(pid, &st, WNOHANG) == pid) pid = -1;
    }
    CHECK_INT(r, 0);
    if (pid > 0) waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_INT(srv.messages, 1);
    CHECK_INT(srv.closed[SMTP_IO_DONE], 2);
    smtp_io_loop_del(loop);
}

/* An allocator that counts its calls; while `fail` is set, realloc fails (the loop's heap of
 * connections grows with realloc; a connection is made with calloc). */
struct counting_mem {
    int fail, calls;
};

static void *cm_malloc(size_t n, void *ud)
{
    struct counting_mem *m = ud;
    m->calls++;
    return malloc(n);
}

static void *cm_calloc(size_t k, size_t n, void *ud)
{
    struct counting_mem *m = ud;
    m->calls++;
    return calloc(k, n);
}

static void *cm_realloc(void *p, size_t n, void *ud)
{
    struct counting_mem *m = ud;
    m->calls++;
    return m->fail ? NULL : realloc(p, n);
}

static void cm_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static int traced;

static void count_trace(smtp_io_conn *conn, int dir, const char *data, size_t len, void *ud)
{
    (void)conn, (void)dir, (void)data, (void)len, (void)ud;
    traced++;
}

/* smtp_io_loop_add_client out of memory: the loop's room for the connection is made before
 * the connection, so a failure has done nothing (no allocation of a connection, no trace, the
 * descriptor the caller's); with memory back, the same descriptor and client work. */
static void test_add_client_nomem(void)
{
    struct counting_mem cm = {0, 0};
    smtp_mem mem = {&cm, cm_malloc, cm_free, cm_calloc, cm_realloc};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_io_loop *loop;
    CHECK_INT(smtp_io_loop_new(&loop, &ls, &mem), 0);
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    smtp_client_callbacks cb = {0};
    smtp_client *cli;
    CHECK_INT(smtp_client_new(&cli, &cb, &cs, NULL, NULL), 0);
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    smtp_io_settings ios;
    smtp_io_settings_init(&ios);
    ios.on_trace = count_trace;
    /* A greeting waits on the socket: a connection that took its first step would read it
     * and trace it. */
    CHECK_INT(write(sv[1], "220 hi\r\n", 8), 8);
    smtp_io_conn *conn = (smtp_io_conn *)&cm;
    cm.fail = 1;
    cm.calls = 0;
    traced = 0;
    CHECK_INT(smtp_io_loop_add_client(loop, sv[0], cli, &ios, NULL, &conn), SMTP_ERR_NOMEM);
    CHECK(conn == NULL);
    CHECK_INT(cm.calls, 1); /* the heap's room, tried first: no connection was made */
    CHECK_INT(traced, 0);
    CHECK(fcntl(sv[0], F_GETFD) != -1);
    CHECK_INT(smtp_io_loop_connections(loop), 0);
    cm.fail = 0;
    CHECK_INT(smtp_io_loop_add_client(loop, sv[0], cli, &ios, NULL, &conn), 0);
    CHECK(conn != NULL);
    CHECK_INT(smtp_io_loop_connections(loop), 1);
    smtp_io_loop_del(loop); /* closes sv[0] */
    smtp_client_del(cli);
    close(sv[1]);
}

int main(void)
{
    iot_limit_time(100);
    test_many_messages();
    test_large_message(0);
    test_large_message(1);
    test_slow_client();
    test_vanish_mid_data();
    test_server_partial_writes();
    test_graceful_shutdown();
    test_add_client_nomem();
    return check_finish();
}
