/* SPDX-License-Identifier: MIT */
/*
 * The server's reply delay past its soft error limit (smtp_server_output_delay, Postfix's
 * smtpd_soft_error_limit and smtpd_error_sleep_time), as the adapter honours it:
 *  - the connection pieces, on a socketpair, driven with made-up times: a held reply is a
 *    deadline (no events, the deadline at the delay's end), nothing reaches the peer before
 *    it, the reply does at it; pipelined commands are each held in turn;
 *  - the loop, on 127.0.0.1: while one client's reply is held (for a minute), another client
 *    is served; a shutdown sends the held reply with the 421 at once;
 *  - the blocking server (smtp_io_server_run, in a child): the reply comes, and not before
 *    the delay.
 */
#include "iotest.h"

/* Reads what is there now (non-blocking), NUL-terminated; returns the length (0: nothing). */
static size_t read_now(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    size_t len = n > 0 ? (size_t)n : 0;
    buf[len] = '\0';
    return len;
}

static void send_all(int fd, const char *s)
{
    CHECK_INT(iot_send(fd, s), 0);
}

static void server_settings(smtp_server_settings *s, unsigned soft, unsigned delay_ms)
{
    smtp_server_settings_init(s);
    s->hostname = "mx.test";
    s->soft_error_limit = soft;
    s->error_delay_ms = delay_ms;
}

/* The connection pieces with explicit times: the hold is a deadline, exact to the millisecond. */
static void test_conn_hold(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    smtp_server_settings ss;
    server_settings(&ss, 1, 5000);
    smtp_io_conn *c = NULL;
    CHECK_INT(smtp_io_conn_new_server(&c, sv[0], NULL, &ss, NULL, NULL, NULL), 0);
    char buf[4096];
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "220 mx.test ESMTP\r\n");
    int64_t t = smtp_io_now_ms();
    /* The first error is answered at once; it reaches the limit. */
    send_all(sv[1], "FOO\r\n");
    CHECK_INT(smtp_io_conn_on_readable(c, t), 0);
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "500 5.5.1 Error: command not recognized\r\n");
    /* From now on every reply waits 5000 ms: a deadline, nothing to wait for on the socket. */
    send_all(sv[1], "NOOP\r\n");
    CHECK_INT(smtp_io_conn_on_readable(c, t), 0);
    CHECK_INT(smtp_io_conn_events(c), 0);
    CHECK(smtp_io_conn_deadline(c) == t + 5000);
    CHECK_INT(read_now(sv[1], buf, sizeof buf), 0);
    CHECK_INT(smtp_io_conn_on_timer(c, t + 4999), 0);
    CHECK_INT(read_now(sv[1], buf, sizeof buf), 0);
    CHECK(smtp_io_conn_deadline(c) == t + 5000);
    CHECK_INT(smtp_io_conn_on_timer(c, t + 5000), 0);
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "250 2.0.0 Ok\r\n");
    CHECK_INT(smtp_io_conn_events(c), SMTP_IO_READ);
    CHECK(smtp_io_conn_deadline(c) > t + 5000); /* the command timeout now */
    /* Two pipelined commands: the second is read only once the first reply was sent, and
     * is held in turn. */
    t += 10000;
    send_all(sv[1], "NOOP\r\nRSET\r\n");
    CHECK_INT(smtp_io_conn_on_readable(c, t), 0);
    CHECK_INT(smtp_io_conn_events(c), 0);
    CHECK(smtp_io_conn_deadline(c) == t + 5000);
    CHECK_INT(smtp_io_conn_on_timer(c, t + 5000), 0);
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "250 2.0.0 Ok\r\n");
    CHECK(smtp_io_conn_deadline(c) == t + 10000);
    CHECK_INT(read_now(sv[1], buf, sizeof buf), 0);
    CHECK_INT(smtp_io_conn_on_timer(c, t + 10000), 0);
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "250 2.0.0 Ok\r\n");
    /* QUIT's 221 is held too; then the connection ends. */
    t += 20000;
    send_all(sv[1], "QUIT\r\n");
    CHECK_INT(smtp_io_conn_on_readable(c, t), 0);
    CHECK_INT(smtp_io_conn_done(c), 0);
    CHECK_INT(smtp_io_conn_on_timer(c, t + 5000), 0);
    read_now(sv[1], buf, sizeof buf);
    CHECK_STR(buf, "221 2.0.0 Bye\r\n");
    CHECK_INT(smtp_io_conn_done(c), 1);
    CHECK_INT(smtp_io_conn_status(c, NULL), SMTP_IO_DONE);
    smtp_io_conn_del(c);
    close(sv[1]);
}

/* Runs the loop until `want` was read from fd (or `rounds` iterations of at most 10 ms). */
static int loop_read(smtp_io_loop *loop, int fd, char *buf, size_t cap, const char *want,
                     int rounds)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < rounds && !strstr(buf, want); i++) {
        smtp_io_loop_run_once(loop, 10);
        len += read_now(fd, buf + len, cap - len);
    }
    return strstr(buf, want) != NULL;
}

/* The loop: a held reply blocks nobody; a shutdown does not wait for it. */
static void test_loop_hold(void)
{
    struct iot_server srv = {0};
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_server_settings ss;
    server_settings(&ss, 1, 60000); /* longer than this test may take */
    ls.server = &ss;
    int port;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    if (!loop) {
        CHECK(0);
        return;
    }
    int a = iot_connect(port), b = iot_connect(port);
    CHECK(a >= 0 && b >= 0);
    char buf[4096];
    CHECK(loop_read(loop, a, buf, sizeof buf, "220 ", 500));
    CHECK(loop_read(loop, b, buf, sizeof buf, "220 ", 500));
    send_all(a, "FOO\r\n");
    CHECK(loop_read(loop, a, buf, sizeof buf, "500 ", 500));
    send_all(a, "NOOP\r\n");
    CHECK(!loop_read(loop, a, buf, sizeof buf, "250 ", 20)); /* held */
    /* Meanwhile B is served at once, several times. */
    for (int i = 0; i < 3; i++) {
        send_all(b, "NOOP\r\n");
        CHECK(loop_read(loop, b, buf, sizeof buf, "250 2.0.0 Ok\r\n", 500));
    }
    CHECK_INT(read_now(a, buf, sizeof buf), 0);
    /* A shutdown sends what was held and the 421 now. */
    smtp_io_loop_shutdown(loop);
    CHECK(loop_read(loop, a, buf, sizeof buf, "421 ", 500));
    CHECK_STR(buf, "250 2.0.0 Ok\r\n421 4.3.2 mx.test Service shutting down\r\n");
    close(a);
    close(b);
    iot_finish_loop(loop);
    CHECK_INT(srv.open_sessions, 0);
    smtp_io_loop_del(loop);
}

/* The blocking server: the reply comes after the delay (a lower bound the server sets). */
static void test_blocking_hold(void)
{
    int port = 0;
    int lfd = iot_listen(4, &port);
    CHECK(lfd >= 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = accept(lfd, NULL, NULL);
        close(lfd);
        smtp_server_settings ss;
        server_settings(&ss, 1, 300);
        smtp_io_status st = smtp_io_server_run(fd, NULL, &ss, NULL, NULL, NULL, NULL);
        iot_exit(st == SMTP_IO_DONE ? 0 : 1);
    }
    close(lfd);
    int fd = iot_connect(port);
    char buf[4096];
    CHECK(iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0);
    send_all(fd, "FOO\r\n");
    CHECK(iot_read_until(fd, buf, sizeof buf, "\r\n", 5000) > 0);
    CHECK_STR(buf, "500 5.5.1 Error: command not recognized\r\n");
    int64_t t0 = smtp_io_now_ms();
    send_all(fd, "NOOP\r\n");
    CHECK(iot_read_until(fd, buf, sizeof buf, "\r\n", 10000) > 0);
    CHECK_STR(buf, "250 2.0.0 Ok\r\n");
    CHECK(smtp_io_now_ms() - t0 >= 300); /* the server held it that long at least */
    send_all(fd, "QUIT\r\n");
    CHECK(iot_read_until(fd, buf, sizeof buf, "\r\n", 10000) > 0);
    CHECK_STR(buf, "221 2.0.0 Bye\r\n");
    close(fd);
    int status = -1;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    iot_limit_time(60);
    test_conn_hold();
    test_loop_hold();
    test_blocking_hold();
    return check_finish();
}
