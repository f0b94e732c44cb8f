/* SPDX-License-Identifier: MIT */
/*
 * The blocking calls (blocking.c), the descriptor helpers (fd.c) and the body sources
 * (body.c) under injected failures (faults.h): smtp_io_connect out of descriptors, its
 * non-blocking connect interrupted (it goes on), timing out, failing in poll or getsockopt,
 * the name lookup failing with EAI_SYSTEM; smtp_io_client_run with poll interrupted (nothing
 * lost) or failing (SYSERR, the message failed), or left with nothing to do (ERROR, not a
 * hang); settings refused (the descriptor closed); the peer's address told to the server
 * engine over IPv4 and IPv6, and not when getpeername fails; the clock failing; bodies read
 * with smtp_io_read_fd and smtp_io_read_file, interrupted (whole) or failing (the message
 * failed before its end of data, never acknowledged short); every status's name and text.
 */
#include "faults.h"

#include <netdb.h>

/* The descriptors this process has open. */
static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

/* smtp_io_connect to 127.0.0.1:port under the rules armed: the descriptor (or -1), its status
 * and detail; no descriptor is left open on failure. */
static int connect_to(int port, uint32_t timeout_ms, smtp_io_status *st, int *detail)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int before = open_fds();
    int fd = smtp_io_connect("127.0.0.1", ps, timeout_ms, st, detail);
    CHECK_INT(open_fds(), before + (fd >= 0));
    shim_clear();
    return fd;
}

/* Is `fd` connected to a peer? */
static int connected(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

static void test_connect(void)
{
    int port, lfd = iot_listen(16, &port);
    smtp_io_status st;
    int detail, fd;
    /* Out of descriptors. */
    shim_fail(SHIM_SOCKET, -1, EMFILE, 1);
    CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_SYSERR);
    CHECK_INT(detail, EMFILE);
    /* The socket cannot be made non-blocking, or blocking again once connected. */
    for (int skip = 0; skip < 2; skip++) {
        shim_rule_add((struct shim_rule){
            .call = SHIM_FCNTL, .fd = -1, .cmd = F_GETFL, .err = EINVAL, .times = 1, .skip = skip});
        CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
        CHECK_INT(st, SMTP_IO_SYSERR);
        CHECK_INT(detail, EINVAL);
    }
    /* connect interrupted: the connection goes on, and is waited for (with a timeout, without
     * one; poll interrupted too). */
    for (uint32_t timeout = 0; timeout <= 1000; timeout += 1000) {
        shim_fail(SHIM_CONNECT, -1, EINTR, 1);
        shim_fail(SHIM_POLL, -1, EINTR, 1);
        fd = connect_to(port, timeout, &st, &detail);
        CHECK(connected(fd));
        CHECK_INT(st, SMTP_IO_OK);
        if (fd >= 0) close(fd);
    }
    /* The wait times out, or poll or getsockopt fail. */
    shim_fail(SHIM_CONNECT, -1, EINTR, 1);
    shim_rule_add((struct shim_rule){.call = SHIM_POLL, .fd = -1, .times = 1});
    CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_TIMEOUT);
    CHECK_INT(detail, 0);
    shim_fail(SHIM_CONNECT, -1, EINTR, 1);
    shim_fail(SHIM_POLL, -1, ENOMEM, 1);
    CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_SYSERR);
    CHECK_INT(detail, ENOMEM);
    shim_fail(SHIM_CONNECT, -1, EINTR, 1);
    shim_fail(SHIM_GETSOCKOPT, -1, ENOBUFS, 1);
    CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_SYSERR);
    CHECK_INT(detail, ENOBUFS);
    /* The lookup fails with EAI_SYSTEM: its errno is the detail. */
    shim_fail(SHIM_GETADDRINFO, -1, EMFILE, 1);
    CHECK_INT(connect_to(port, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_SYSERR);
    CHECK_INT(detail, EMFILE);
    /* A name with several addresses: the first that accepts (localhost: ::1, 127.0.0.1). */
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    fd = smtp_io_connect("localhost", ps, 1000, NULL, NULL);
    CHECK(connected(fd));
    if (fd >= 0) close(fd);
    close(lfd);
}

/* A client application with one message whose body comes from a body source; it quits once
 * the message is done. */
struct body_client {
    smtp_client *cli;
    int delivered, failed;
};

static int bc_on_message(smtp_client *cli, const smtp_client_result *r, void *ud)
{
    struct body_client *b = ud;
    if (r->status == SMTP_CLIENT_DELIVERED)
        b->delivered++;
    else
        b->failed++;
    (void)smtp_client_quit(cli);
    return 0;
}

static int body_client_new(struct body_client *b, smtp_client_read_body_fn source, void *data)
{
    static const smtp_client_callbacks cb = {.on_message = bc_on_message};
    static const smtp_client_rcpt rcpt = {.address = "rcpt@example.org"};
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    memset(b, 0, sizeof *b);
    if (smtp_client_new(&b->cli, &cb, &cs, NULL, b) < 0) return -1;
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "sender@example.org";
    m.rcpts = &rcpt;
    m.nrcpts = 1;
    m.read_body = source;
    m.read_body_data = data;
    return smtp_client_submit(b->cli, &m);
}

/* The end the child server must see. */
static smtp_io_status server_end;

static int ended_as_expected(smtp_io_status st, int detail, const struct iot_server *srv)
{
    (void)detail, (void)srv;
    return st == server_end;
}

/*
 * smtp_io_client_run with its poll under `rule` against a blocking server in a child: poll
 * interrupted every other call loses nothing (DONE, every message delivered); poll failing is
 * SYSERR with its errno, the message failed, the descriptor closed, and the server sees the
 * end.
 */
static void test_run_faults(int fails)
{
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.test";
    server_end = fails ? SMTP_IO_EOF : SMTP_IO_DONE;
    int port, lfd = iot_listen(4, &port);
    pid_t pid = iot_serve_child(lfd, &ss, NULL, ended_as_expected);
    close(lfd);
    struct iot_client c;
    CHECK_INT(iot_client_init(&c, 1, 3, 5000, NULL), 0);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int fd = smtp_io_connect("127.0.0.1", ps, 1000, NULL, NULL);
    if (fails)
        shim_rule_add(
            (struct shim_rule){.call = SHIM_POLL, .fd = -1, .err = ENOMEM, .times = 1, .skip = 2});
    else
        shim_rule_add(
            (struct shim_rule){.call = SHIM_POLL, .fd = -1, .err = EINTR, .times = -1, .every = 2});
    int detail;
    CHECK_INT(smtp_io_client_run(c.cli, fd, NULL, NULL, &detail),
              fails ? SMTP_IO_SYSERR : SMTP_IO_DONE);
    CHECK_INT(detail, fails ? ENOMEM : 0);
    CHECK(shim_hits(SHIM_POLL) >= (fails ? 1 : 3));
    CHECK(fk_fd_closed(fd));
    shim_clear();
    CHECK_INT(c.delivered, fails ? 0 : 3);
    CHECK(iot_child_ok(pid));
    iot_client_fini(&c);
}

/* on_connect deciding later: only the application could go on. */
static int decide_later(smtp_server *srv, void *ud)
{
    (void)srv, (void)ud;
    return SMTP_SERVER_DEFER;
}

/* A blocking server session left waiting for the application's decision, which nothing in a
 * blocking run can give: the run says so (ERROR, INVALID_STATE) rather than wait for ever. */
static void test_run_nothing_to_do(void)
{
    int sv[2], detail;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    smtp_server_callbacks cb = {.on_connect = decide_later};
    int64_t t0 = smtp_io_now_ms();
    CHECK_INT(smtp_io_server_run(sv[0], &cb, NULL, NULL, NULL, NULL, &detail), SMTP_IO_ERROR);
    CHECK_INT(detail, SMTP_ERR_INVALID_STATE);
    CHECK(smtp_io_now_ms() - t0 < 2000);
    CHECK(fk_fd_closed(sv[0]));
    close(sv[1]);
}

/* Settings refused: ERROR with the code, and the descriptor (the caller's no more) closed;
 * no descriptor, no port: refused. */
static void test_run_refused(void)
{
    smtp_io_settings s;
    smtp_io_settings_init(&s);
    s.read_size = 0;
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    smtp_client *cli;
    CHECK_INT(smtp_client_new(&cli, NULL, &cs, NULL, NULL), 0);
    int sv[2], detail;
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_INT(smtp_io_client_run(cli, sv[0], &s, NULL, &detail), SMTP_IO_ERROR);
    CHECK_INT(detail, SMTP_ERR_INVALID_ARGUMENT);
    CHECK(fk_fd_closed(sv[0]));
    CHECK_INT(smtp_io_server_run(sv[1], NULL, NULL, NULL, &s, NULL, &detail), SMTP_IO_ERROR);
    CHECK_INT(detail, SMTP_ERR_INVALID_ARGUMENT);
    CHECK(fk_fd_closed(sv[1]));
    CHECK_INT(smtp_io_client_run(cli, -1, NULL, NULL, NULL), SMTP_IO_ERROR);
    CHECK_INT(smtp_io_server_run(-1, NULL, NULL, NULL, NULL, NULL, NULL), SMTP_IO_ERROR);
    smtp_io_status st;
    CHECK_INT(smtp_io_connect("127.0.0.1", NULL, 1000, &st, &detail), -1);
    CHECK_INT(st, SMTP_IO_ERROR);
    CHECK_INT(detail, SMTP_ERR_INVALID_ARGUMENT);
    smtp_client_del(cli);
}

/* The address a server engine is told: its peer's, IPv4 or IPv6 (when the host has it); none
 * for a UNIX socket or when getpeername fails. */
static void test_peer_address(void)
{
    int fd[2];
    CHECK_INT(fk_socks(fd), 0);
    /* (already non-blocking and close-on-exec: left so) */
    CHECK_INT(iot_nonblock(fd[0]), 0);
    CHECK_INT(fcntl(fd[0], F_SETFD, FD_CLOEXEC), 0);
    smtp_io_conn *c;
    CHECK_INT(smtp_io_conn_new_server(&c, fd[0], NULL, NULL, NULL, NULL, NULL), 0);
    CHECK(fcntl(fd[0], F_GETFL) & O_NONBLOCK);
    unsigned port = 0;
    const char *addr = smtp_server_client_address(smtp_io_conn_server(c), &port);
    CHECK(addr && strcmp(addr, "127.0.0.1") == 0 && port > 0);
    smtp_io_conn_del(c);
    shim_fail(SHIM_GETPEERNAME, fd[1], ENOTCONN, 1);
    CHECK_INT(smtp_io_conn_new_server(&c, fd[1], NULL, NULL, NULL, NULL, NULL), 0);
    CHECK(smtp_server_client_address(smtp_io_conn_server(c), NULL) == NULL);
    smtp_io_conn_del(c);
    shim_clear();
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_INT(smtp_io_conn_new_server(&c, sv[0], NULL, NULL, NULL, NULL, NULL), 0);
    CHECK(smtp_server_client_address(smtp_io_conn_server(c), NULL) == NULL);
    smtp_io_conn_del(c);
    close(sv[1]);
    /* ::1, when the host has IPv6. */
    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof sa;
    if (l6 < 0 || bind(l6, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l6, 1) < 0 ||
        getsockname(l6, (struct sockaddr *)&sa, &len) < 0) {
        printf("no IPv6 loopback: its case skipped\n");
        if (l6 >= 0) close(l6);
        return;
    }
    int cfd = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK_INT(connect(cfd, (struct sockaddr *)&sa, sizeof sa), 0);
    int sfd = accept(l6, NULL, NULL);
    CHECK_INT(smtp_io_conn_new_server(&c, sfd, NULL, NULL, NULL, NULL, NULL), 0);
    addr = smtp_server_client_address(smtp_io_conn_server(c), &port);
    CHECK(addr && strcmp(addr, "::1") == 0 && port > 0);
    smtp_io_conn_del(c);
    close(cfd);
    close(l6);
}

/* The clock cannot be read: 0, as documented. */
static void test_clock_fails(void)
{
    CHECK(smtp_io_now_ms() > 0);
    shim_fail(SHIM_CLOCK, -1, EINVAL, 1);
    CHECK_INT(smtp_io_now_ms(), 0);
    shim_clear();
}

/*
 * A message whose body is read with `source` from `data` over a pair (server on fd[0]): the
 * message is delivered and the server has its body octet for octet (`whole`), or the message
 * failed and the server took nothing (the body could not be read to its end).
 */
static void send_body(smtp_client_read_body_fn source, void *data, const char *body, int whole)
{
    struct fk_pair p;
    CHECK_INT(fk_open(&p), 0);
    CHECK_INT(
        smtp_io_conn_new_server(&p.conn[0], p.fd[0], &iot_callbacks, &p.ss, &p.sess, &p.sio, NULL),
        0);
    struct body_client b;
    CHECK_INT(body_client_new(&b, source, data), 0);
    CHECK_INT(smtp_io_conn_new_client(&p.conn[1], p.fd[1], b.cli, &p.cio, NULL), 0);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(b.delivered, whole);
    CHECK_INT(b.failed, !whole);
    CHECK_INT(p.srv.messages, whole);
    if (whole) CHECK(p.srv.hash == iot_hash(IOT_HASH0, body, strlen(body)));
    smtp_client_del(b.cli);
    fk_close(&p);
}

static const char body_text[] =
    "Subject: from a descriptor\r\n\r\n.a line with a dot\r\nthe end\r\n";

static void test_body_sources(void)
{
    /* A pipe read with EINTR every other call: the body arrives whole. */
    int pfd[2];
    CHECK_INT(pipe(pfd), 0);
    CHECK_INT(iot_send(pfd[1], body_text), 0);
    close(pfd[1]);
    shim_rule_add(
        (struct shim_rule){.call = SHIM_READ, .fd = pfd[0], .err = EINTR, .times = -1, .every = 2});
    shim_short(SHIM_READ, pfd[0], 7, -1);
    send_body(smtp_io_read_fd, &pfd[0], body_text, 1);
    close(pfd[0]);
    /* A read error in the middle: the message fails before its end of data. */
    CHECK_INT(pipe(pfd), 0);
    CHECK_INT(iot_send(pfd[1], body_text), 0);
    close(pfd[1]);
    shim_rule_add(
        (struct shim_rule){.call = SHIM_READ, .fd = pfd[0], .err = EIO, .times = 1, .skip = 1});
    shim_short(SHIM_READ, pfd[0], 7, -1);
    send_body(smtp_io_read_fd, &pfd[0], body_text, 0);
    close(pfd[0]);
    /* A stdio stream: whole; then one whose read fails. */
    FILE *f = tmpfile();
    CHECK(f && fputs(body_text, f) >= 0 && fseek(f, 0, SEEK_SET) == 0);
    send_body(smtp_io_read_file, f, body_text, 1);
    fclose(f);
    f = fopen("/", "r"); /* a directory: read(2) fails with EISDIR */
    CHECK(f != NULL);
    send_body(smtp_io_read_file, f, body_text, 0);
    fclose(f);
    /* Misuse, and a non-blocking descriptor without data. */
    char buf[16];
    int bad = -1;
    CHECK_INT(smtp_io_read_fd(NULL, buf, sizeof buf, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_read_fd(NULL, buf, sizeof buf, &bad), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_io_read_file(NULL, buf, sizeof buf, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(pipe(pfd), 0);
    CHECK_INT(iot_nonblock(pfd[0]), 0);
    CHECK_INT(smtp_io_read_fd(NULL, buf, sizeof buf, &pfd[0]), SMTP_ERR_AGAIN);
    close(pfd[0]);
    close(pfd[1]);
}

/* Every status has its name and its text, the detail read as the status defines it. */
static void test_status_texts(void)
{
    static const char *const names[] = {"OK",  "DONE",  "EOF",     "SYSERR",  "TIMEOUT",
                                        "TLS", "ERROR", "RESOLVE", "SHUTDOWN"};
    static const struct {
        smtp_io_status st;
        int detail;
        const char *text;
    } texts[] = {
        {SMTP_IO_OK, 0, "open"},
        {SMTP_IO_DONE, 0, "session ended"},
        {SMTP_IO_EOF, 0, "connection closed by the peer"},
        {SMTP_IO_SYSERR, ECONNRESET, "socket error: Connection reset by peer"},
        {SMTP_IO_TIMEOUT, 0, "timed out"},
        {SMTP_IO_TLS, SMTP_ERR_PROTO, "TLS failed (-"},
        {SMTP_IO_ERROR, SMTP_ERR_NOMEM, "out of memory"},
        {SMTP_IO_RESOLVE, EAI_NONAME, "name resolution failed: "},
        {SMTP_IO_SHUTDOWN, 0, "server shutting down"},
        {(smtp_io_status)42, 0, "unknown status 42"},
    };
    for (int i = 0; i <= SMTP_IO_SHUTDOWN; i++)
        CHECK_STR(smtp_io_status_name((smtp_io_status)i), names[i]);
    char buf[128];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        CHECK(strstr(smtp_io_status_text(texts[i].st, texts[i].detail, buf, sizeof buf),
                     texts[i].text) == buf ||
              strstr(buf, texts[i].text) != NULL);
    CHECK(smtp_io_status_text(SMTP_IO_OK, 0, NULL, 10) == NULL);
    buf[0] = 'x';
    CHECK(smtp_io_status_text(SMTP_IO_OK, 0, buf, 0) == buf && buf[0] == 'x');
    smtp_io_status_text(SMTP_IO_EOF, 0, buf, 5); /* cut, terminated */
    CHECK_STR(buf, "conn");
    /* Settings of a version this library lacks are not touched. */
    smtp_io_settings s;
    memset(&s, 0x5a, sizeof s);
    smtp_io_settings_init_versioned(0, &s);
    smtp_io_settings_init_versioned(SMTP_IO_SETTINGS_VERSION + 1, &s);
    CHECK_INT(s.read_size, 0x5a5a5a5a);
    smtp_io_settings_init_versioned(1, NULL);
    smtp_io_loop_settings ls;
    memset(&ls, 0x5a, sizeof ls);
    smtp_io_loop_settings_init_versioned(0, &ls);
    CHECK_INT(ls.backlog, 0x5a5a5a5a);
}

int main(void)
{
    iot_limit_time(100);
    test_connect();
    test_run_faults(0);
    test_run_faults(1);
    test_run_nothing_to_do();
    test_run_refused();
    test_peer_address();
    test_clock_fails();
    test_body_sources();
    test_status_texts();
    return check_finish();
}
