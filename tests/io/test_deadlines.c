/* SPDX-License-Identifier: MIT */
/*
 * The loop's timer heap (lib/io/heap.c) when deadlines move: eight idle clients share one
 * loop whose command timeout is capped at 400 ms; 300 ms in, the first four (the nearest
 * deadlines, the heap's root among them) send NOOP, which moves their deadlines 300 ms later.
 * The heap skips an update whose deadline did not change, so this checks that a changed one
 * still moves its entry: the clients that stayed silent get their 421 on time, before the
 * moved deadlines (an entry left at the root would hold them back), and those that spoke get
 * theirs on their new deadline, not on the old one.
 */
#include "iotest.h"

#define CLIENTS 8
#define CAP_MS 400
#define SPEAK_MS 300
#define LATE_MS 250 /* how late a timer may fire here: less than SPEAK_MS */

/* The clients (a forked child): returns 0 when every 421 came when it should. */
static int clients(int port)
{
    int fd[CLIENTS];
    char buf[512];
    int ok = 1;
    for (int i = 0; i < CLIENTS; i++) {
        fd[i] = iot_connect(port);
        ok = ok && fd[i] >= 0 && iot_read_until(fd[i], buf, sizeof buf, "\r\n", 5000) > 0;
    }
    int64_t t0 = smtp_io_now_ms(); /* every deadline is at most CAP_MS after this */
    iot_sleep_ms(SPEAK_MS);
    int64_t spoke = smtp_io_now_ms();
    for (int i = 0; i < CLIENTS / 2; i++)
        ok = ok && iot_send(fd[i], "NOOP\r\n") == 0 &&
             iot_read_until(fd[i], buf, sizeof buf, "250", 5000) > 0;
    /* The silent ones first: each 421 within its deadline's reach, before any other. */
    int64_t took[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        int i = (k + CLIENTS / 2) % CLIENTS;
        ok = ok && iot_read_until(fd[i], buf, sizeof buf, "421", 5000) > 0 &&
             strstr(buf, "421 4.4.2") != NULL;
        took[i] = smtp_io_now_ms() - t0;
    }
    for (int i = 0; i < CLIENTS; i++) {
        /* Silent: on time (the loop may be late by a scheduling delay, never early). */
        if (i >= CLIENTS / 2) ok = ok && took[i] < CAP_MS + LATE_MS;
        /* Spoke: not at the old deadline, by the new one (its NOOP was answered after
         * `spoke`, so the new deadline is no earlier than spoke + CAP_MS). */
        else
            ok = ok && took[i] >= (spoke - t0) + CAP_MS - 20 &&
                 took[i] < spoke - t0 + CAP_MS + LATE_MS;
    }
    if (!ok) {
        fprintf(stderr, "moved deadlines: spoke at %lld ms;", (long long)(spoke - t0));
        for (int i = 0; i < CLIENTS; i++)
            fprintf(stderr, " %lld", (long long)took[i]);
        fprintf(stderr, "\n");
    }
    return ok ? 0 : 1;
}

static void test_moved_deadlines(void)
{
    struct iot_server srv = {0};
    int port;
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    io.server_timeout_cap_ms = CAP_MS;
    ls.io = &io;
    smtp_io_loop *loop = iot_loop(&srv, &ls, &port);
    CHECK(loop != NULL);
    if (!loop) return;
    pid_t pid = fork();
    if (pid == 0) iot_exit(clients(port));
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    /* Every connection timed out; the last ones close when the clients' ends do. */
    for (int n = 0; n < 100 && smtp_io_loop_connections(loop); n++)
        (void)smtp_io_loop_run_once(loop, 10);
    CHECK_INT(smtp_io_loop_connections(loop), 0);
    CHECK_INT(srv.closed[SMTP_IO_TIMEOUT], CLIENTS);
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
}

int main(void)
{
    iot_limit_time(60);
    test_moved_deadlines();
    return check_finish();
}
