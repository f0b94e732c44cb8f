/* SPDX-License-Identifier: MIT */
/*
 * TLS through the I/O adapter over loopback, with the mbedTLS adapter (built only with it):
 * the server loop offers STARTTLS with a certificate made at run time (tests/tls/pki.c) and
 * blocking clients require it and verify the name (RFC 3207, RFC 6125); a second loop speaks
 * implicit TLS (RFC 8314); a client that expects another name fails the handshake and
 * delivers nothing; the same with the server's ciphertext buffers at their smallest (1 KiB: a
 * client's record taken by the TLS library in pieces). Every message must arrive over TLS. A client driven by hand sends its
 * close_notify in the middle of a command line and of a body: EOF, nothing acknowledged; a
 * plaintext client on the implicit-TLS port: the handshake fails with an alert (TLS). The
 * one-call client (smtp_tls_client_run) delivers with a CA file, fails the handshake with the
 * system's store (which does not know the test CA) and says why, and reports a refused
 * connection and a missing argument without a TLS reason.
 */
#include "iotest.h"
#include "pki.h"

#include <smtp/tls.h>

static test_pki pki;

/* The TLS factory: a server session, or a client one that verifies glue_host
 * (smtp_tls_io_filter_new is the glue). One config per role, set before connections start. */
static smtp_tls_config *glue_client_cfg, *glue_server_cfg;
static const char *glue_host = "localhost";
static int glue_made;
/* The server's ciphertext buffers at SMTP_TLS_MIN_BUFFER, smaller than the clients' 16 KiB
 * records: the adapter must go on moving bytes while the TLS library takes a record in
 * pieces. */
static int small_buffers;

static int glue_new(smtp_io_filter *f, smtp_io_conn *conn, void *user_data)
{
    (void)user_data;
    int server = smtp_io_conn_server(conn) != NULL;
    int r = smtp_tls_io_filter_new(f, server ? glue_server_cfg : glue_client_cfg,
                                   server ? NULL : glue_host, NULL);
    if (r == 0) glue_made++;
    return r;
}

/* A client in a child: STARTTLS required (or implicit TLS), verifying `host`. */
static int client_child(int port, int implicit, const char *host, int nmsg, int want_ok)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    ts.ca_pem = pki.ca;
    char why[256];
    if (smtp_tls_config_new(&glue_client_cfg, &ts, NULL, why, sizeof why) < 0) {
        fprintf(stderr, "client config: %s\n", why);
        return 0;
    }
    glue_host = host;
    struct iot_client c;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    cs.tls = implicit ? SMTP_CLIENT_TLS_NONE : SMTP_CLIENT_TLS_REQUIRED;
    if (implicit) cs.flags |= SMTP_CLIENT_TLS;
    int ok = iot_client_init(&c, 7, nmsg, 30000, &cs) == 0;
    smtp_io_settings ios;
    smtp_io_settings_init(&ios);
    ios.tls_new = glue_new;
    ios.implicit_tls = implicit;
    smtp_io_status st = ok ? iot_client_run(&c, port, &ios) : SMTP_IO_ERROR;
    if (want_ok)
        ok = ok && st == SMTP_IO_DONE && c.delivered == nmsg && c.end == SMTP_CLIENT_END_QUIT;
    else
        /* The engine knows of STARTTLS only: after a failed implicit handshake it just sees
         * the connection end. */
        ok = ok && st == SMTP_IO_TLS && c.delivered == 0 &&
             c.end == (implicit ? SMTP_CLIENT_END_CLOSED : SMTP_CLIENT_END_TLS_FAILED);
    if (!ok)
        fprintf(stderr, "tls client (%s, %s): %s, delivered %d, end %s\n",
                implicit ? "implicit" : "starttls", host, smtp_io_status_name(st), c.delivered,
                smtp_client_end_name(c.end));
    iot_client_fini(&c);
    smtp_tls_config_del(glue_client_cfg);
    return ok;
}

/* The server loop on `lfd`: STARTTLS offered, or implicit TLS, with the run-time PKI. */
static smtp_io_loop *tls_loop_new(struct iot_server *srv, int implicit, int lfd)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_SERVER);
    ts.cert_pem = pki.server_chain;
    ts.key_pem = pki.server_key;
    if (small_buffers) ts.in_buffer = ts.out_buffer = SMTP_TLS_MIN_BUFFER;
    char why[256];
    CHECK_INT(smtp_tls_config_new(&glue_server_cfg, &ts, NULL, why, sizeof why), 0);
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    io.tls_new = glue_new;
    io.implicit_tls = implicit;
    ls.io = &io;
    smtp_server_settings_init(&srv->server);
    srv->server.hostname = "mx.test";
    if (implicit)
        srv->server.flags |= SMTP_SERVER_TLS;
    else
        srv->server.extensions |= SMTP_SERVER_EXT_STARTTLS;
    ls.server = &srv->server;
    ls.on_accept = iot_on_accept;
    ls.on_close = iot_on_close;
    ls.user_data = srv;
    smtp_io_loop *loop = NULL;
    CHECK_INT(smtp_io_loop_new(&loop, &ls, NULL), 0);
    CHECK_INT(smtp_io_loop_add_listener(loop, lfd), 0);
    return loop;
}

static void tls_loop_del(smtp_io_loop *loop)
{
    iot_finish_loop(loop);
    smtp_io_loop_del(loop);
    smtp_tls_config_del(glue_server_cfg);
}

static void run(int implicit)
{
    int nmsg = iot_small() ? 2 : 5;
    /* The listener first, then the clients (waiting for a byte), then the loop: the children
     * inherit none of the loop's or the server config's state. */
    int port = 0;
    int lfd = iot_listen(16, &port);
    CHECK(lfd >= 0);
    int go[2];
    CHECK_INT(pipe(go), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(lfd);
        close(go[1]);
        char c;
        int ok = read(go[0], &c, 1) == 1;
        /* Two good clients at once, then one expecting another name. */
        pid_t a = fork();
        if (a == 0) iot_exit(client_child(port, implicit, "localhost", nmsg, 1) ? 0 : 1);
        ok = client_child(port, implicit, "mail.test", nmsg, 1) && ok;
        int st;
        ok = waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 0 && ok;
        ok = client_child(port, implicit, "wrong.example", 1, 0) && ok;
        iot_exit(ok ? 0 : 1);
    }
    close(go[0]);

    struct iot_server srv = {0};
    smtp_io_loop *loop = tls_loop_new(&srv, implicit, lfd);
    glue_made = 0;
    CHECK_INT(write(go[1], "g", 1), 1);
    close(go[1]);
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, 2 * nmsg);
    CHECK_INT(srv.tls_messages, 2 * nmsg);
    CHECK_INT(srv.starttls, implicit ? 0 : 3);
    CHECK_INT(glue_made, 3);
    CHECK_INT(srv.closed[SMTP_IO_DONE], 2);
    tls_loop_del(loop);
}

/* A TLS client driven by hand over `fd` (smtp_tls's feed and pull) while the loop runs: it can
 * stop anywhere, and send its close_notify there. */
struct hand {
    smtp_tls *tls;
    int fd;
    char got[4096]; /* the plaintext received */
    size_t len;
    int eof; /* the server closed the connection */
};

static void hand_step(smtp_io_loop *loop, struct hand *h)
{
    char buf[16384];
    smtp_ssize n;
    while ((n = smtp_tls_pull(h->tls, buf, sizeof buf)) > 0)
        if (write(h->fd, buf, (size_t)n) != n) h->eof = 1;
    (void)smtp_io_loop_run_once(loop, 5);
    ssize_t r = recv(h->fd, buf, sizeof buf, MSG_DONTWAIT);
    h->eof |= r == 0 || (r < 0 && errno != EAGAIN);
    for (ssize_t off = 0; r > 0 && off < r; off += n)
        if ((n = smtp_tls_feed(h->tls, buf + off, (size_t)(r - off))) <= 0) break;
    while ((n = smtp_tls_read(h->tls, h->got + h->len, sizeof h->got - 1 - h->len)) > 0)
        h->len += (size_t)n;
    h->got[h->len] = '\0';
}

/* Steps until the plaintext received holds `want` (NULL: until the server closed), up to 2 s. */
static int hand_until(smtp_io_loop *loop, struct hand *h, const char *want)
{
    int64_t end = smtp_io_now_ms() + 2000;
    while (smtp_io_now_ms() < end && (want ? !strstr(h->got, want) : !h->eof))
        hand_step(loop, h);
    return want ? strstr(h->got, want) != NULL : h->eof;
}

/*
 * The client's close_notify arrives in the middle of a command line, or of a body: the server
 * ends the session with EOF (not TLS: the peer closed), the message in progress is aborted,
 * nothing is acknowledged.
 */
static void test_close_notify_mid_command(int in_body)
{
    int port, lfd = iot_listen(4, &port);
    struct iot_server srv = {0};
    smtp_io_loop *loop = tls_loop_new(&srv, 1, lfd);
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    ts.ca_pem = pki.ca;
    smtp_tls_config *cfg;
    CHECK_INT(smtp_tls_config_new(&cfg, &ts, NULL, NULL, 0), 0);
    struct hand h = {0};
    CHECK_INT(smtp_tls_new(&h.tls, cfg, "localhost", NULL), 0);
    h.fd = iot_connect(port);
    CHECK(hand_until(loop, &h, "220 mx.test"));
    const char *talk = in_body ? "EHLO hand.test\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n"
                                 "DATA\r\n"
                               : "EHLO hand.test\r\n";
    CHECK_INT(smtp_tls_write(h.tls, talk, strlen(talk)), (smtp_ssize)strlen(talk));
    CHECK(hand_until(loop, &h, in_body ? "354 " : "250 "));
    const char *cut = in_body ? "half a body\r\nand half a li" : "MAIL FROM:<a@b";
    CHECK_INT(smtp_tls_write(h.tls, cut, strlen(cut)), (smtp_ssize)strlen(cut));
    CHECK_INT(smtp_tls_close(h.tls), 0);
    CHECK(hand_until(loop, &h, NULL));
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.closed[SMTP_IO_EOF], 1);
    CHECK_INT(srv.aborts[SMTP_SERVER_ABORT_EOF], in_body);
    CHECK_INT(srv.mails, in_body);
    CHECK_INT(srv.messages, 0);
    smtp_tls_del(h.tls);
    smtp_tls_config_del(cfg);
    close(h.fd);
    tls_loop_del(loop);
}

/* A client that talks plaintext to the implicit-TLS port: the handshake fails with an alert
 * (TLS, with the filter's code), and the client never sees a greeting. */
static void test_plaintext_to_implicit(void)
{
    int port, lfd = iot_listen(4, &port);
    struct iot_server srv = {0};
    smtp_io_loop *loop = tls_loop_new(&srv, 1, lfd);
    int fd = iot_connect(port);
    CHECK_INT(iot_send(fd, "EHLO plain.test\r\n"), 0);
    char buf[4096];
    size_t len = 0;
    int64_t end = smtp_io_now_ms() + 2000;
    ssize_t r = -1;
    while (smtp_io_now_ms() < end && r != 0) {
        (void)smtp_io_loop_run_once(loop, 5);
        r = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (r > 0) len += (size_t)r;
    }
    buf[len] = '\0';
    CHECK_INT(r, 0);
    CHECK(strstr(buf, "220") == NULL);
    CHECK_INT(srv.closed[SMTP_IO_TLS], 1);
    close(fd);
    tls_loop_del(loop);
}

/* The one-call client in a child, against the implicit-TLS loop on `port`: 1 when each run
 * ended as expected. */
static int client_run_child(int port, const char *ca_file)
{
    char ps[16], err[256];
    snprintf(ps, sizeof ps, "%d", port);
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    cs.flags |= SMTP_CLIENT_TLS;
    struct iot_client c;
    int ok = iot_client_init(&c, 9, 1, 2000, &cs) == 0;
    /* A CA file that knows the server: delivered, and no reason asked for. */
    int detail = -1;
    smtp_io_status st = smtp_tls_client_run(c.cli, "localhost", ps, ca_file, 10000, &detail);
    ok = ok && st == SMTP_IO_DONE && c.delivered == 1 && c.end == SMTP_CLIENT_END_QUIT;
    if (!ok)
        fprintf(stderr, "client_run: %s, delivered %d\n", smtp_io_status_name(st), c.delivered);
    iot_client_fini(&c);
    /* The system's store, which does not know the test CA: TLS, and the reason why. */
    ok = iot_client_init(&c, 10, 1, 2000, &cs) == 0 && ok;
    st = smtp_tls_client_run_err(c.cli, "localhost", ps, NULL, 10000, &detail, err, sizeof err);
    ok = ok && st == SMTP_IO_TLS && c.delivered == 0 && err[0] != '\0';
    if (st != SMTP_IO_TLS || !err[0])
        fprintf(stderr, "client_run, system store: %s \"%s\"\n", smtp_io_status_name(st), err);
    /* Nobody listens: the connection's status, and no TLS reason (err emptied). */
    int closed_port = 0, fd = iot_listen(0, &closed_port);
    close(fd);
    snprintf(ps, sizeof ps, "%d", closed_port);
    strcpy(err, "stale");
    st = smtp_tls_client_run_err(c.cli, "127.0.0.1", ps, ca_file, 10000, &detail, err, sizeof err);
    ok = ok && fd >= 0 && st == SMTP_IO_SYSERR && detail == ECONNREFUSED && err[0] == '\0';
    /* No port: implicit TLS's 465 (or 25), at a name that cannot resolve (RFC 6761 6.4). A
     * buffer of no room is not written. */
    strcpy(err, "stale");
    st = smtp_tls_client_run_err(c.cli, "nonexistent.invalid", NULL, NULL, 10000, &detail, err, 0);
    ok = ok && st == SMTP_IO_RESOLVE && strcmp(err, "stale") == 0;
    if (st != SMTP_IO_RESOLVE)
        fprintf(stderr, "client_run, .invalid: %s\n", smtp_io_status_name(st));
    /* No client or no host: a library error before anything is tried. */
    st = smtp_tls_client_run(c.cli, NULL, ps, NULL, 10000, NULL);
    ok = ok && st == SMTP_IO_ERROR;
    iot_client_fini(&c);
    st = smtp_tls_client_run_err(NULL, "localhost", ps, NULL, 10000, &detail, err, sizeof err);
    ok = ok && st == SMTP_IO_ERROR && detail == SMTP_ERR_INVALID_ARGUMENT && err[0] == '\0';
    /* Without implicit TLS the port is 25's. */
    smtp_client_settings_init(&cs);
    ok = iot_client_init(&c, 11, 1, 2000, &cs) == 0 && ok;
    st = smtp_tls_client_run(c.cli, "nonexistent.invalid", NULL, NULL, 10000, &detail);
    ok = ok && st == SMTP_IO_RESOLVE;
    iot_client_fini(&c);
    return ok;
}

static void test_client_run(void)
{
    char ca_file[512];
    CHECK_INT(test_pki_write_file(".", "tls-loop-ca.pem", pki.ca, ca_file, sizeof ca_file), 0);
    int port, lfd = iot_listen(4, &port);
    pid_t pid = fork();
    if (pid == 0) {
        close(lfd);
        iot_exit(client_run_child(port, ca_file) ? 0 : 1);
    }
    struct iot_server srv = {0};
    smtp_io_loop *loop = tls_loop_new(&srv, 1, lfd);
    CHECK_INT(iot_run_until_child(loop, pid), 0);
    for (int i = 0; i < 100 && smtp_io_loop_connections(loop); i++)
        smtp_io_loop_run_once(loop, 10);
    CHECK_INT(srv.messages, 1);
    CHECK_INT(srv.tls_messages, 1);
    CHECK_INT(srv.closed[SMTP_IO_DONE], 1);
    /* The client that did not trust the server closed during the handshake (its alert is not
     * flushed first: the server sees the end of the stream, or the alert). */
    CHECK_INT(srv.closed[SMTP_IO_EOF] + srv.closed[SMTP_IO_TLS], 1);
    tls_loop_del(loop);
    remove(ca_file);
}

int main(void)
{
    iot_limit_time(100);
    if (test_pki_make(&pki) < 0) return 1;
    run(0);
    run(1);
    small_buffers = 1; /* messages of 30,000 octets, records of 16 KiB, through 1 KiB buffers */
    run(0);
    run(1);
    small_buffers = 0;
    test_close_notify_mid_command(0);
    test_close_notify_mid_command(1);
    test_plaintext_to_implicit();
    test_client_run();
    return check_finish();
}
