/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the I/O adapter's tests: a recording server application (the callbacks of
 * a sink that counts messages, bytes and aborts), a loop made on it, raw loopback sockets for
 * clients that misbehave on purpose, and a time limit. Every socket is on 127.0.0.1 with a
 * port chosen by the kernel. SMTP_IO_TEST_SMALL=1 in the environment shrinks the loads (for
 * valgrind).
 */
#ifndef SMTP_IO_TEST_H
#define SMTP_IO_TEST_H

#include <smtp/io.h>

#include "body_source.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline int iot_small(void)
{
    const char *e = getenv("SMTP_IO_TEST_SMALL");
    return e && *e && *e != '0';
}

/*
 * Ends a forked child. gcov's runtime (gcc --coverage: make coverage) writes a process's counters
 * at exit, which _exit skips: the child writes them first, so that what it ran is measured. The
 * declaration is weak: without coverage __gcov_dump is NULL and nothing is called.
 */
extern void __gcov_dump(void) __attribute__((weak));
static inline _Noreturn void iot_exit(int status)
{
    if (__gcov_dump) __gcov_dump();
    _exit(status);
}

static inline void iot_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        continue;
}

/* FNV-1a over message content: the server and the client compare what went through. */
static uint64_t iot_hash(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}
#define IOT_HASH0 14695981039346656037ull

/* ---- the recording server ---- */

struct iot_server {
    int mails;         /* on_mail */
    int size_declared; /* the last MAIL had SIZE= */
    uint64_t size;     /* its value */
    int messages;      /* on_message_end */
    int bdat_messages; /* of which received with BDAT */
    int aborts[8];     /* on_message_abort, by reason */
    int accepted;      /* on_accept */
    int closed[10];    /* on_close, by smtp_io_status */
    int open_sessions;
    uint64_t bytes;
    uint64_t hash; /* XOR of the hashes of every message */
    int starttls;
    int tls_messages;            /* messages received over TLS */
    int from_loopback;           /* messages whose client address was 127.0.0.1 with a port */
    smtp_server_settings server; /* the sessions' settings (iot_loop), hostname mx.test */
};

struct iot_session {
    struct iot_server *srv;
    smtp_io_conn *conn;
    uint64_t h;
};

static inline int iot_on_mail(smtp_server *s, const smtp_server_mail *m, void *ud)
{
    (void)s;
    struct iot_server *srv = ((struct iot_session *)ud)->srv;
    srv->mails++;
    srv->size_declared = (m->params.present & SMTP_MAIL_SIZE) != 0;
    srv->size = m->params.size;
    return 0;
}

static inline int iot_on_data_start(smtp_server *s, void *ud)
{
    (void)s;
    ((struct iot_session *)ud)->h = IOT_HASH0;
    return 0;
}

static inline int iot_on_data(smtp_server *s, smtp_span d, void *ud)
{
    (void)s;
    struct iot_session *ss = ud;
    ss->h = iot_hash(ss->h, d.ptr, d.len);
    ss->srv->bytes += d.len;
    return 0;
}

static inline int iot_on_message_end(smtp_server *s, const smtp_server_message *m, void *ud)
{
    struct iot_session *ss = ud;
    ss->srv->messages++;
    ss->srv->bdat_messages += m->bdat;
    ss->srv->hash ^= ss->h;
    if (ss->conn && smtp_io_conn_tls(ss->conn)) ss->srv->tls_messages++;
    unsigned port;
    const char *addr = smtp_server_client_address(s, &port);
    if (addr && strcmp(addr, "127.0.0.1") == 0 && port > 0) ss->srv->from_loopback++;
    return 0;
}

static inline int iot_on_message_abort(smtp_server *s, smtp_server_abort_reason r, void *ud)
{
    (void)s;
    ((struct iot_session *)ud)->srv->aborts[r & 7]++;
    return 0;
}

static inline int iot_on_starttls(smtp_server *s, void *ud)
{
    (void)s;
    ((struct iot_session *)ud)->srv->starttls++;
    return 0;
}

static const smtp_server_callbacks iot_callbacks = {
    .on_mail = iot_on_mail,
    .on_data_start = iot_on_data_start,
    .on_data = iot_on_data,
    .on_message_end = iot_on_message_end,
    .on_message_abort = iot_on_message_abort,
    .on_starttls = iot_on_starttls,
};

static inline int iot_on_accept(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t len,
                                smtp_io_session *session, void *ud)
{
    (void)peer;
    (void)len;
    struct iot_server *srv = ud;
    struct iot_session *ss = calloc(1, sizeof *ss);
    if (!ss) return -1;
    ss->srv = srv;
    ss->conn = conn;
    srv->accepted++;
    srv->open_sessions++;
    session->callbacks = &iot_callbacks;
    session->user_data = ss;
    return 0;
}

static inline void iot_on_close(smtp_io_conn *conn, smtp_io_status st, int detail, void *sd,
                                void *ud)
{
    (void)conn;
    (void)detail;
    struct iot_server *srv = ud;
    srv->closed[st < 10 ? st : 9]++;
    srv->open_sessions--;
    free(sd);
}

/* The loop under test, kept reachable so that valgrind does not count the copy a forked
 * child inherits (and never frees) as lost. */
static smtp_io_loop *volatile iot_current_loop;

/* A loop listening on 127.0.0.1 with a kernel-chosen port (*port). */
static inline smtp_io_loop *iot_loop(struct iot_server *srv, smtp_io_loop_settings *ls, int *port)
{
    if (ls->server)
        srv->server = *ls->server;
    else
        smtp_server_settings_init(&srv->server);
    srv->server.hostname = "mx.test";
    ls->server = &srv->server;
    ls->on_accept = iot_on_accept;
    ls->on_close = iot_on_close;
    ls->user_data = srv;
    smtp_io_loop *loop = NULL;
    if (smtp_io_loop_new(&loop, ls, NULL) < 0) return NULL;
    smtp_io_status st;
    int detail;
    if (smtp_io_loop_listen(loop, "127.0.0.1", "0", &st, &detail) != 1) {
        smtp_io_loop_del(loop);
        return NULL;
    }
    *port = smtp_io_loop_port(loop, 0);
    iot_current_loop = loop;
    return loop;
}

/* Runs the loop until child `pid` exits; returns its exit status (or -1). */
static inline int iot_run_until_child(smtp_io_loop *loop, pid_t pid)
{
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (smtp_io_loop_run_once(loop, 20) < 0) return -1;
    }
}

/*
 * Forks a child that accepts one connection on `lfd` and serves it with smtp_io_server_run as
 * the recording server; it exits with `verdict`'s say on how the session ended and what the
 * server saw (1: status 0).
 */
static inline pid_t
iot_serve_child(int lfd, const smtp_server_settings *ss, const smtp_io_settings *ios,
                int (*verdict)(smtp_io_status st, int detail, const struct iot_server *srv))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    struct iot_server srv = {0};
    struct iot_session sess = {&srv, NULL, 0};
    int detail;
    smtp_io_status st = smtp_io_server_run(fd, &iot_callbacks, ss, &sess, ios, NULL, &detail);
    iot_exit(verdict(st, detail, &srv) ? 0 : 1);
}

/* Waits for child `pid`; 1 when it exited with status 0. */
static inline int iot_child_ok(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Shuts the loop down and runs it to the end. */
static inline void iot_finish_loop(smtp_io_loop *loop)
{
    smtp_io_loop_shutdown(loop);
    for (int i = 0; i < 100000 && smtp_io_loop_run_once(loop, 50) > 0; i++)
        continue;
}

/* ---- raw sockets ---- */

/*
 * A TCP socket bound to 127.0.0.1 on a port the kernel chooses (*port), listening with
 * `backlog` (0: bound only: a port nobody listens on once closed); -1 on failure.
 */
static inline int iot_listen(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        (backlog && listen(fd, backlog) < 0) || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static inline int iot_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int iot_send(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until `want` appears in what was read, EOF, or timeout_ms; returns the bytes read
 * (NUL-terminated in buf) or -1. */
static inline long iot_read_until(int fd, char *buf, size_t cap, const char *want, int timeout_ms)
{
    size_t len = 0;
    buf[0] = 0;
    int64_t end = smtp_io_now_ms() + timeout_ms;
    while (len + 1 < cap && (!want || !strstr(buf, want))) {
        int64_t left = end - smtp_io_now_ms();
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) continue;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = 0;
    }
    return (long)len;
}

/* In a child: close what the parent's loop holds (its listeners: else a connection to the
 * port would still succeed), except `keep`. */
static inline void iot_close_inherited(int keep)
{
    for (int fd = 3; fd < 256; fd++)
        if (fd != keep) close(fd);
}

static inline int iot_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static inline void iot_raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static inline void iot_limit_time(unsigned seconds)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(seconds);
}

/* ---- a client application: sends `nmsg` messages of generated bodies, then QUIT; the bodies
 * are given in memory and from a source (tests/body_source.h) in turn ---- */

struct iot_client {
    int id;
    int nmsg;
    size_t body_size;
    int submitted, delivered, failed;
    char *body;
    size_t body_len;
    struct body_source src; /* the body of every other message */
    smtp_client *cli;
    smtp_client_rcpt rcpt;
    smtp_client_message msg;
    int session_ended;
    smtp_client_end end;
    uint64_t hash;
};

/* A body of about `size` octets, CRLF lines, some starting with a dot, unique per (id, n). */
static inline size_t iot_make_body(char *buf, size_t size, int id, int n)
{
    size_t len = 0;
    for (int line = 0; len + 100 < size || line == 0; line++) {
        int w = snprintf(buf + len, size - len, "%sconnection %d message %d line %d\r\n",
                         line % 7 == 3 ? "." : "", id, n, line);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
    return len;
}

static inline void iot_client_next(struct iot_client *c)
{
    if (c->submitted >= c->nmsg) {
        (void)smtp_client_quit(c->cli);
        return;
    }
    c->body_len = iot_make_body(c->body, c->body_size, c->id, c->submitted);
    c->msg.body = c->body;
    c->msg.body_len = c->body_len;
    c->msg.read_body = NULL;
    body_source_init(&c->src, c->body, c->body_len);
    if (c->submitted % 2) body_source_attach(&c->src, &c->msg);
    c->submitted++;
    if (smtp_client_submit(c->cli, &c->msg) < 0) c->failed++;
}

static inline int iot_c_on_message(smtp_client *cli, const smtp_client_result *r, void *ud)
{
    struct iot_client *c = ud;
    (void)cli;
    if (r->status == SMTP_CLIENT_DELIVERED) {
        c->delivered++;
        c->hash ^= iot_hash(IOT_HASH0, c->body, c->body_len);
    } else {
        c->failed++;
    }
    iot_client_next(c);
    return 0;
}

static inline int iot_c_on_session_end(smtp_client *cli, const smtp_client_session_result *r,
                                       void *ud)
{
    struct iot_client *c = ud;
    (void)cli;
    c->session_ended = 1;
    c->end = r->end;
    return 0;
}

static const smtp_client_callbacks iot_client_callbacks = {
    .on_message = iot_c_on_message,
    .on_session_end = iot_c_on_session_end,
};

static inline int iot_client_init(struct iot_client *c, int id, int nmsg, size_t body_size,
                                  const smtp_client_settings *cs)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->nmsg = nmsg;
    c->body_size = body_size;
    c->body = malloc(body_size);
    c->rcpt.address = "rcpt@example.org";
    smtp_client_message_init(&c->msg);
    c->msg.sender = "sender@example.org";
    c->msg.rcpts = &c->rcpt;
    c->msg.nrcpts = 1;
    smtp_client_settings def;
    if (!cs) {
        smtp_client_settings_init(&def);
        def.helo_name = "client.test";
        cs = &def;
    }
    if (!c->body || smtp_client_new(&c->cli, &iot_client_callbacks, cs, NULL, c) < 0) return -1;
    iot_client_next(c);
    return 0;
}

static inline void iot_client_fini(struct iot_client *c)
{
    smtp_client_del(c->cli);
    free(c->body);
}

/* Connects to 127.0.0.1:port and runs the client; returns the I/O status. */
static inline smtp_io_status iot_client_run(struct iot_client *c, int port, smtp_io_settings *ios)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    smtp_io_status st;
    int detail;
    int fd = smtp_io_connect("127.0.0.1", ps, 5000, &st, &detail);
    if (fd < 0) return st;
    smtp_io_settings def;
    if (!ios) {
        smtp_io_settings_init(&def);
        ios = &def;
    }
    return smtp_io_client_run(c->cli, fd, ios, NULL, &detail);
}

#endif
