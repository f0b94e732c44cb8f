/* SPDX-License-Identifier: MIT */
/*
 * Deadlines over loopback sockets, with tiny configured values: a silent client gets the
 * server's 421 4.4.2 (with a message in progress: aborted, TIMEOUT); a client that never
 * reads its replies is dropped after write_timeout_ms; a client engine waiting for a greeting
 * that never comes ends with SMTP_CLIENT_END_TIMEOUT; connect refused and an unknown service
 * are reported, not raised.
 */
#include "iotest.h"

static smtp_io_loop *timeout_loop(struct iot_server *srv, int *port, uint32_t cap_ms,
                                  uint32_t write_ms)
{
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    io.server_timeout_cap_ms = cap_ms;
    io.write_timeout_ms = write_ms;
    io.linger_ms = 300;
    ls.io = &io;
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.timeout_data = 1000;
    ls.server = &ss;
    return iot_loop(srv, &ls, port);
}

/* The client says nothing after the greeting (or stops in the middle of DATA). */
static void test_silent_client(int in_data)
{
    struct iot_server srv = {0};
    int port;
    smtp_io_loop *loop = timeout_loop(&srv, &port, 200, 0);
    if (!loop) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = iot_connect(port);
        char buf[4096];
        int64_t t0 = smtp_io_now_ms();
        int ok = fd >= 0 && iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0;
        if (in_data)
            ok = ok &&
                 iot_send(fd, "EHLO x.test\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n"
                              "DATA\r\n") == 0 &&
                 iot_read_until(fd, buf, sizeof buf, "354", 5000) > 0 &&
                 iot_send(fd, "partial\r\n") == 0;
        ok = ok && iot_read_until(fd, buf, sizeof buf, "421", 5000) > 0 &&
             strstr(buf, "421 4.4.2 mx.test Error: timeout exceeded") != NULL;
        /* Then the server closes: end of file. */
        char more[64];
        ok = ok && iot_read_until(fd, more, sizeof more, NULL, 3000) == 0;
        int64_t took = smtp_io_now_ms() - t0;
        ok = ok && took >= 150 && took < 3000;
        if (!ok) fprintf(stderr, "silent client: took %lld ms, saw [%s]\n", (long long)took, buf);
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.closed[SMTP_IO_TIMEOUT], 1);
    CHECK_INT(srv.aborts[SMTP_SERVER_ABORT_TIMEOUT], in_data ? 1 : 0);
    CHECK_INT(srv.messages, 0);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

/* The client sends commands and never reads: once the socket buffers are full, nothing moves,
 * and the connection is dropped after write_timeout_ms. */
static void test_write_stall(void)
{
    struct iot_server srv = {0};
    int port;
    smtp_io_loop *loop = timeout_loop(&srv, &port, 0, 300);
    if (!loop) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int small = 1024;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        (void)iot_nonblock(fd);
        /* EHLO draws a long reply each time and counts against no limit (NOOP, RSET, VRFY
         * would reach the junk command limit, RCPT the recipient and error limits). */
        int64_t end = smtp_io_now_ms() + 3000;
        char line[64];
        while (ok && smtp_io_now_ms() < end) {
            int n = snprintf(line, sizeof line, "EHLO client.example.org\r\n");
            ssize_t w = write(fd, line, (size_t)n);
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                iot_sleep_ms(20);
                continue;
            }
            if (w < 0) break; /* reset by the server: expected */
        }
        iot_exit(ok ? 0 : 1);
    }
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.closed[SMTP_IO_TIMEOUT], 1);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

/* A listening socket that never accepts: the TCP connection succeeds (backlog), the greeting
 * never comes. */
static void test_client_greeting_timeout(void)
{
    int port = 0;
    int lfd = iot_listen(4, &port);
    CHECK(lfd >= 0);
    struct iot_client c;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    cs.timeout_greeting = 150;
    CHECK_INT(iot_client_init(&c, 0, 1, 100, &cs), 0);
    int64_t t0 = smtp_io_now_ms();
    smtp_io_status st = iot_client_run(&c, port, NULL);
    int64_t took = smtp_io_now_ms() - t0;
    CHECK_INT(st, SMTP_IO_TIMEOUT);
    CHECK(c.session_ended);
    CHECK_INT(c.end, SMTP_CLIENT_END_TIMEOUT);
    CHECK_INT(c.failed, 1); /* the message failed temporarily */
    CHECK(took >= 140 && took < 2000);
    iot_client_fini(&c);
    close(lfd);
}

static void test_connect_failures(void)
{
    /* A port nobody listens on: bind one, note it, close it. */
    int port = 0;
    int lfd = iot_listen(0, &port);
    CHECK(lfd >= 0);
    close(lfd);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    smtp_io_status st;
    int detail;
    CHECK_INT(smtp_io_connect("127.0.0.1", ps, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_SYSERR);
    CHECK_INT(detail, ECONNREFUSED);
    char text[128];
    CHECK(strstr(smtp_io_status_text(st, detail, text, sizeof text), "refused") != NULL);
    /* An unknown service name: resolution fails without asking any server. */
    CHECK_INT(smtp_io_connect("127.0.0.1", "no-such-service-libsmtp", 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_RESOLVE);
    CHECK_INT(smtp_io_connect(NULL, ps, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_ERROR);
    CHECK_INT(detail, SMTP_ERR_INVALID_ARGUMENT);
    CHECK_STR(smtp_io_status_name(SMTP_IO_TIMEOUT), "TIMEOUT");
    CHECK_STR(smtp_io_status_name((smtp_io_status)99), "INVALID");
}

int main(void)
{
    iot_limit_time(60);
    test_silent_client(0);
    test_silent_client(1);
    test_write_stall();
    test_client_greeting_timeout();
    test_connect_failures();
    return check_finish();
}
