/* SPDX-License-Identifier: MIT */
/*
 * A program built against an installed libsmtp, as a user would build one (tests/install.sh
 * builds it with CMake's find_package and with pkg-config). It checks that the headers match
 * the library, then sends or receives one message over 127.0.0.1 with the public API only:
 *
 *   consumer send HOST PORT [CAFILE]   one message with smtp_io_connect + smtp_io_client_run,
 *                                      or, built with CONSUMER_TLS, smtp_tls_client_run
 *                                      (STARTTLS required when CAFILE is given); prints
 *                                      "consumer: DELIVERED 250, N octets"; built with
 *                                      CONSUMER_IDN, its EHLO name is consumer.bücher.example,
 *                                      sent as consumer.xn--bcher-kva.example by
 *                                      smtp_idn_to_ascii
 *   consumer receive                   an smtp_io_loop on 127.0.0.1, port chosen by the kernel
 *                                      (printed on stderr as "consumer: listening on 127.0.0.1
 *                                      port N"), until one message was received and its
 *                                      connection closed; prints "consumer: received N octets"
 *
 * Every run is bounded: a blocking call has a timeout and the process an alarm.
 */
#define _POSIX_C_SOURCE 200809L
#ifdef CONSUMER_TLS
#include <smtp/tls.h>
#else
#include <smtp/io.h>
#endif
#include <smtp/smtp.h>
#ifdef CONSUMER_IDN
#include <smtp/idn.h>
#endif

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "From: <consumer@example.org>\r\n"
                           "To: <sink@example.org>\r\n"
                           "Subject: sent by a consumer of an installed libsmtp\r\n"
                           "\r\n"
                           "Built against the installed headers, linked with the installed "
                           "library.\r\n";

/* The outcome of the message; then QUIT. */
static int on_message(smtp_client *cli, const smtp_client_result *res, void *user_data)
{
    *(smtp_client_result *)user_data = *res;
    ((smtp_client_result *)user_data)->reply = NULL; /* borrowed only during the call */
    printf("consumer: %s %d, %zu octets\n", smtp_client_status_name(res->status),
           res->reply ? res->reply->code : 0, sizeof body - 1);
    return smtp_client_quit(cli);
}

static int send_one(const char *host, const char *port, const char *ca_file)
{
#ifndef CONSUMER_TLS
    if (ca_file != NULL) {
        fprintf(stderr, "consumer: built without TLS (CONSUMER_TLS), but given a CA file\n");
        return 64;
    }
#endif
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "consumer.example.org";
#ifdef CONSUMER_IDN
    char a[256];
    const char *u = "consumer.b\xc3\xbc"
                    "cher.example";
    if (smtp_idn_to_ascii(u, strlen(u), a, sizeof a) < 0 ||
        strcmp(a, "consumer.xn--bcher-kva.example") != 0) {
        fprintf(stderr, "consumer: smtp_idn_to_ascii does not give the A-label form\n");
        return 1;
    }
    s.helo_name = u;
    s.idna_to_ascii = smtp_idn_to_ascii;
#endif
    if (ca_file != NULL) s.tls = SMTP_CLIENT_TLS_REQUIRED;
    smtp_client_callbacks cb = {.on_message = on_message};
    smtp_client_rcpt to[] = {{.address = "sink@example.org"}};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "consumer@example.org";
    m.rcpts = to;
    m.nrcpts = 1;
    m.body = body;
    m.body_len = sizeof body - 1;
    smtp_client_result res = {.status = SMTP_CLIENT_TEMPFAIL};
    smtp_client *cli;
    if (smtp_client_new(&cli, &cb, &s, NULL, &res) != 0 || smtp_client_submit(cli, &m) != 0) {
        fprintf(stderr, "consumer: cannot make the client\n");
        return 1;
    }
    int detail = 0;
    smtp_io_status st;
#ifdef CONSUMER_TLS
    st = smtp_tls_client_run(cli, host, port, ca_file, 10000, &detail);
#else
    int fd = smtp_io_connect(host, port, 10000, &st, &detail);
    if (fd >= 0) st = smtp_io_client_run(cli, fd, NULL, NULL, &detail);
#endif
    int tls = smtp_client_tls(cli);
    smtp_client_del(cli);
    char text[128];
    if (st != SMTP_IO_DONE || res.status != SMTP_CLIENT_DELIVERED) {
        fprintf(stderr, "consumer: %s\n", smtp_io_status_text(st, detail, text, sizeof text));
        return 1;
    }
    if (ca_file != NULL && !tls) {
        fprintf(stderr, "consumer: the message did not go over TLS\n");
        return 1;
    }
    return 0;
}

/* ---- receive ---- */

typedef struct receiver {
    smtp_io_loop *loop;
    unsigned long long octets; /* of the message being received */
    int messages;
} receiver;

static int on_data(smtp_server *srv, smtp_span data, void *user_data)
{
    (void)srv;
    ((receiver *)user_data)->octets += data.len;
    return 0;
}

static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *user_data)
{
    (void)srv;
    receiver *r = user_data;
    r->messages++;
    printf("consumer: received %llu octets\n", r->octets);
    return r->octets == msg->size ? 0 : -1;
}

static int on_accept(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t peerlen,
                     smtp_io_session *session, void *user_data)
{
    static const smtp_server_callbacks cb = {.on_data = on_data, .on_message_end = on_message_end};
    (void)conn, (void)peer, (void)peerlen;
    session->callbacks = &cb;
    session->user_data = user_data;
    return 0;
}

/* A connection closed: once it brought the message, stop. */
static void on_close(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                     void *user_data)
{
    (void)conn, (void)status, (void)detail, (void)session_data;
    receiver *r = user_data;
    if (r->messages > 0) smtp_io_loop_shutdown(r->loop);
}

static int receive_one(void)
{
    receiver r = {0};
    smtp_io_loop_settings s;
    smtp_io_loop_settings_init(&s);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "consumer.example.org";
    s.server = &ss;
    s.on_accept = on_accept;
    s.on_close = on_close;
    s.user_data = &r;
    smtp_io_status st;
    int detail;
    if (smtp_io_loop_new(&r.loop, &s, NULL) != 0 ||
        smtp_io_loop_listen(r.loop, "127.0.0.1", "0", &st, &detail) < 1) {
        fprintf(stderr, "consumer: cannot listen on 127.0.0.1\n");
        return 1;
    }
    fprintf(stderr, "consumer: listening on 127.0.0.1 port %d\n", smtp_io_loop_port(r.loop, 0));
    int rc = smtp_io_loop_run(r.loop);
    smtp_io_loop_del(r.loop);
    return rc == 0 && r.messages == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    alarm(30);
    if (strcmp(smtp_lib_version(), SMTP_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: library %s, headers %s\n", smtp_lib_version(),
                SMTP_VERSION_STRING);
        return 1;
    }
    if (argc >= 4 && argc <= 5 && strcmp(argv[1], "send") == 0)
        return send_one(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    if (argc == 2 && strcmp(argv[1], "receive") == 0) return receive_one();
    fprintf(stderr, "usage: consumer send HOST PORT [CAFILE] | consumer receive\n");
    return 64;
}
