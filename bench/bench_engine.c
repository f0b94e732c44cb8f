/* SPDX-License-Identifier: MIT */
/*
 * bench_engine: the server and client session engines alone, in memory, on a 1 KiB message.
 *
 *   bench_engine MODE N      run N messages on one session and print one line of figures
 *   bench_engine message     print the 1 KiB benchmark message (CRLF lines) on stdout
 *
 * MODE is server-data, server-bdat, client-data or client-bdat. A server mode feeds the
 * engine what a pipelining client sends (EHLO once, then per message MAIL/RCPT/DATA in one
 * read and the body with its "." in a second one, or MAIL/RCPT/BDAT LAST with the body in
 * one read) and pulls every reply, as an adapter would. A client mode submits the message
 * with its body in memory, pulls what the engine sends and feeds it canned replies of a
 * server that offers PIPELINING and CHUNKING (or not CHUNKING for client-data), one flight at
 * a time.
 *
 * Run under callgrind twice with two message counts: (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost
 * of one message in steady state, without the start-up (bench/run.sh does this). The engines
 * get a counting allocator (smtp_mem): the line printed says how many allocations the session
 * made after a warm-up of WARMUP messages, per message (the target is 0: DESIGN.md invariant
 * 7). It also prints messages per second of wall time, meaningful only outside valgrind.
 */
#define _POSIX_C_SOURCE 200809L
#include <smtp/smtp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARMUP 16
#define MSG_SIZE 1024

/* ---- the message: realistic headers and ~78-octet lines, 1024 octets, ending in an empty
 * line (so Postfix's smtp-source -F, which adds one CRLF, sends exactly the same octets) ---- */

static char message[MSG_SIZE];

static void make_message(void)
{
    static const char head[] = "From: Alice Example <alice@example.org>\r\n"
                               "To: Bob Example <bob@example.net>\r\n"
                               "Subject: libsmtp benchmark message\r\n"
                               "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                               "Message-ID: <bench.0001@example.org>\r\n"
                               "\r\n";
    static const char words[] = "Mail flows through relays and filters; each hop reads every "
                                "line of it once more. ";
    size_t len = sizeof head - 1;
    memcpy(message, head, len);
    for (unsigned i = 0; len < MSG_SIZE - 2; i++) {
        size_t room = MSG_SIZE - 2 - len;          /* before the final empty line */
        size_t line = 72 + i % 7;                  /* 72-78 octets before CRLF */
        if (room < line + 2 + 20) line = room - 2; /* the last line takes the rest */
        for (size_t k = 0; k < line; k++)
            message[len + k] = words[(k + 5 * i) % (sizeof words - 1)];
        if (message[len] == ' ' || message[len] == '.') message[len] = 'M';
        message[len + line] = '\r';
        message[len + line + 1] = '\n';
        len += line + 2;
    }
    message[MSG_SIZE - 2] = '\r';
    message[MSG_SIZE - 1] = '\n';
}

/* ---- a counting allocator ---- */

struct counter {
    unsigned long long calls; /* malloc, calloc and realloc calls */
};

static void *c_malloc(size_t n, void *ud)
{
    ((struct counter *)ud)->calls++;
    return malloc(n);
}

static void c_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static void *c_calloc(size_t n, size_t s, void *ud)
{
    ((struct counter *)ud)->calls++;
    return calloc(n, s);
}

static void *c_realloc(void *p, size_t n, void *ud)
{
    ((struct counter *)ud)->calls++;
    return realloc(p, n);
}

static struct counter counter;
static const smtp_mem counting_mem = {&counter, c_malloc, c_free, c_calloc, c_realloc};

static void die(const char *what, long rc)
{
    fprintf(stderr, "bench_engine: %s failed (%ld)\n", what, rc);
    exit(1);
}

static char out[65536];
static volatile size_t out_total; /* keeps the pulled output alive */

/* ---- the server engine ---- */

static unsigned long long server_messages, server_octets;

static int srv_on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    (void)ud;
    server_octets += data.len;
    return 0;
}

static int srv_on_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv;
    (void)msg;
    (void)ud;
    server_messages++;
    return 0;
}

static void srv_drain(smtp_server *srv)
{
    smtp_ssize n;
    while ((n = smtp_server_write(srv, out, sizeof out)) > 0)
        out_total += (size_t)n;
    if (n < 0) die("smtp_server_write", (long)n);
}

/* One read of the adapter: feed everything, pulling output whenever the engine stops. */
static void srv_feed(smtp_server *srv, const char *data, size_t len)
{
    while (len > 0) {
        smtp_ssize n = smtp_server_read(srv, data, len);
        if (n < 0) die("smtp_server_read", (long)n);
        if (n == 0 && !smtp_server_want_write(srv)) die("smtp_server_read (stuck)", 0);
        data += n;
        len -= (size_t)n;
        srv_drain(srv);
    }
    srv_drain(srv);
}

struct text {
    char buf[4096];
    size_t len;
};

static void append(struct text *t, const char *s, size_t n)
{
    if (t->len + n > sizeof t->buf) die("append", 0);
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void run_server(int bdat, unsigned long n, unsigned long long *warm_allocs)
{
    smtp_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.on_data = srv_on_data;
    cb.on_message_end = srv_on_message_end;
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hostname = "mx.bench.test";
    s.max_messages = 0; /* one long session */
    smtp_server *srv;
    int rc = smtp_server_new(&srv, &cb, &s, &counting_mem, NULL);
    if (rc != 0) die("smtp_server_new", rc);
    if ((rc = smtp_server_start(srv)) != 0) die("smtp_server_start", rc);
    srv_drain(srv);
    static const char ehlo[] = "EHLO client.bench.test\r\n";
    srv_feed(srv, ehlo, sizeof ehlo - 1);

    /* What the client sends per message, in the reads an adapter would see. */
    static const char env[] = "MAIL FROM:<alice@example.org> SIZE=1024\r\n"
                              "RCPT TO:<bob@example.net>\r\n";
    struct text first = {.len = 0}, second = {.len = 0};
    append(&first, env, sizeof env - 1);
    if (bdat) {
        static const char cmd[] = "BDAT 1024 LAST\r\n";
        append(&first, cmd, sizeof cmd - 1);
        append(&first, message, MSG_SIZE); /* no line starts with '.' */
    } else {
        append(&first, "DATA\r\n", 6);
        append(&second, message, MSG_SIZE);
        append(&second, ".\r\n", 3);
    }
    for (unsigned long i = 0; i < n; i++) {
        if (i == WARMUP) *warm_allocs = counter.calls;
        srv_feed(srv, first.buf, first.len);
        if (second.len > 0) srv_feed(srv, second.buf, second.len);
    }
    if (n <= WARMUP) *warm_allocs = counter.calls;
    srv_feed(srv, "QUIT\r\n", 6);
    if (server_messages != n || server_octets != (unsigned long long)n * MSG_SIZE ||
        !smtp_server_want_close(srv))
        die("server session (messages lost)", (long)server_messages);
    smtp_server_del(srv);
}

/* ---- the client engine ---- */

static unsigned long long client_delivered, client_failed;

static int cli_on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli, (void)ud;
    if (res->status == SMTP_CLIENT_DELIVERED)
        client_delivered++;
    else
        client_failed++;
    return 0;
}

static void cli_drain(smtp_client *cli)
{
    smtp_ssize n;
    while ((n = smtp_client_write(cli, out, sizeof out)) > 0)
        out_total += (size_t)n;
    if (n < 0) die("smtp_client_write", (long)n);
}

/* One flight of server replies: fed as one read; the engine stops after a reply that lets it
 * send, and then gets what it did not take, after its output was pulled. */
static void cli_feed(smtp_client *cli, const char *data, size_t len)
{
    cli_drain(cli);
    while (len > 0) {
        smtp_ssize n = smtp_client_read(cli, data, len);
        if (n < 0) die("smtp_client_read", (long)n);
        if (n == 0 && !smtp_client_want_write(cli)) die("smtp_client_read (stuck)", 0);
        data += n;
        len -= (size_t)n;
        cli_drain(cli);
    }
}

static void run_client(int bdat, unsigned long n, unsigned long long *warm_allocs)
{
    smtp_client_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.on_message = cli_on_message;
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "client.bench.test";
    smtp_client *cli;
    int rc = smtp_client_new(&cli, &cb, &s, &counting_mem, NULL);
    if (rc != 0) die("smtp_client_new", rc);
    static const char greeting[] = "220 mx.bench.test ESMTP\r\n";
    static const char ehlo_bdat[] = "250-mx.bench.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"
                                    "250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n";
    static const char ehlo_data[] = "250-mx.bench.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                    "250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                    "250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n";
    cli_feed(cli, greeting, sizeof greeting - 1);
    if (bdat)
        cli_feed(cli, ehlo_bdat, sizeof ehlo_bdat - 1);
    else
        cli_feed(cli, ehlo_data, sizeof ehlo_data - 1);

    static const char r_bdat[] = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                 "250 2.0.0 Ok: queued as 4Xk1Lz3Cf2z9sTH\r\n";
    static const char r_env[] = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                "354 End data with <CR><LF>.<CR><LF>\r\n";
    static const char r_end[] = "250 2.0.0 Ok: queued as 4Xk1Lz3Cf2z9sTH\r\n";
    smtp_client_rcpt rcpt = {.address = "bob@example.net", .notify = 0, .orcpt = NULL};
    smtp_client_message msg;
    smtp_client_message_init(&msg);
    msg.sender = "alice@example.org";
    msg.rcpts = &rcpt;
    msg.nrcpts = 1;
    msg.body = message; /* in memory, CRLF line ends: its size as transmitted is known */
    msg.body_len = MSG_SIZE;
    msg.size = MSG_SIZE;
    for (unsigned long i = 0; i < n; i++) {
        if (i == WARMUP) *warm_allocs = counter.calls;
        if ((rc = smtp_client_submit(cli, &msg)) != 0) die("smtp_client_submit", rc);
        if (bdat) {
            cli_feed(cli, r_bdat, sizeof r_bdat - 1);
        } else {
            cli_feed(cli, r_env, sizeof r_env - 1);
            cli_feed(cli, r_end, sizeof r_end - 1);
        }
    }
    if (n <= WARMUP) *warm_allocs = counter.calls;
    if ((rc = smtp_client_quit(cli)) != 0) die("smtp_client_quit", rc);
    static const char bye[] = "221 2.0.0 Bye\r\n";
    cli_feed(cli, bye, sizeof bye - 1);
    if (client_delivered != n || client_failed != 0 || !smtp_client_want_close(cli))
        die("client session (messages not delivered)", (long)client_delivered);
    smtp_client_del(cli);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    make_message();
    if (argc == 2 && strcmp(argv[1], "message") == 0) {
        fwrite(message, 1, MSG_SIZE, stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: bench_engine server-data|server-bdat|client-data|client-bdat N\n"
                        "       bench_engine message\n");
        return 2;
    }
    unsigned long n = strtoul(argv[2], NULL, 10);
    const char *mode = argv[1];
    unsigned long long warm = 0;
    double t = now();
    if (strcmp(mode, "server-data") == 0)
        run_server(0, n, &warm);
    else if (strcmp(mode, "server-bdat") == 0)
        run_server(1, n, &warm);
    else if (strcmp(mode, "client-data") == 0)
        run_client(0, n, &warm);
    else if (strcmp(mode, "client-bdat") == 0)
        run_client(1, n, &warm);
    else
        die("unknown mode", 0);
    t = now() - t;
    unsigned long steady = n > WARMUP ? n - WARMUP : 0;
    printf("%s messages %lu allocations %llu steady_messages %lu steady_allocations %llu "
           "allocations_per_message %.3f messages_per_second %.0f\n",
           mode, n, counter.calls, steady, counter.calls - warm,
           steady ? (double)(counter.calls - warm) / (double)steady : 0.0,
           t > 0 ? (double)n / t : 0.0);
    return 0;
}
