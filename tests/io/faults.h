/* SPDX-License-Identifier: MIT */
/*
 * The kit of the adapter's fault tests (tests/io/fault_*.c):
 *  - the socket shim (sockshim.c): rules that make the adapter's system calls fail with an
 *    errno value (EINTR, EAGAIN, ECONNRESET, EPIPE, EMFILE...) or move fewer octets (short
 *    reads and writes), on one descriptor or any, after some calls, every Nth call, or when
 *    the octets contain a string ("250 2.0.0": the reply to the end of data);
 *  - a server and a client connection on the two ends of one TCP connection over 127.0.0.1,
 *    in this process, driven by poll until both are done (fk_run; each is freed, its
 *    descriptor closed, once it is done, as a loop does): each test then asserts
 *    what each side saw (statuses with their details, messages delivered against messages
 *    taken, aborts), that the descriptors were closed, and (ASan, valgrind) that nothing
 *    leaked.
 *    struct fk_pair p;  fk_open(&p);  shim_fail(SHIM_RECV, p.fd[0], ECONNRESET, 1);
 *    fk_start(&p, ...);  fk_run(&p, 5000);  ...checks of p.status...;  fk_close(&p);
 */
#ifndef SMTP_IO_FAULTS_H
#define SMTP_IO_FAULTS_H

#include "failmem.h"
#include "iotest.h"

/* ---- the socket shim (sockshim.c) ---- */

enum shim_call {
    SHIM_RECV,
    SHIM_SEND,
    SHIM_READ,
    SHIM_WRITE,
    SHIM_ACCEPT,
    SHIM_POLL,
    SHIM_EPOLL_WAIT,
    SHIM_EPOLL_CTL,
    SHIM_EPOLL_CREATE,
    SHIM_PIPE,
    SHIM_SOCKET,
    SHIM_CONNECT,
    SHIM_GETSOCKOPT,
    SHIM_FCNTL,
    SHIM_GETPEERNAME,
    SHIM_GETSOCKNAME,
    SHIM_BIND,
    SHIM_LISTEN,
    SHIM_GETADDRINFO,
    SHIM_CLOCK,
    SHIM_NCALLS
};

struct shim_rule {
    enum shim_call call;
    int fd;     /* the descriptor (epoll_ctl: the one registered; poll: the first); -1: any */
    int err;    /* the errno value the call fails with; 0: it runs, moving at most `max`
                   octets (poll, epoll_wait: they return 0, a timeout) */
    size_t max; /* recv, send, read, write without `err`: the most octets moved */
    int times;  /* the calls it applies to; -1: every one until shim_clear */
    int skip;   /* matching calls that pass before it applies */
    int every;  /* it applies to every `every`-th matching call (0 or 1: each one) */
    int cmd;    /* fcntl: only this command (F_GETFL...); 0: any */
    const char *match; /* send, write: only when the octets contain this string; recv: when
                          the octets waiting do (peeked) */
    int seen;          /* the shim's count of matching calls */
};

void shim_rule_add(struct shim_rule rule);
/* Removes every rule and zeroes the counts. */
void shim_clear(void);
/* The calls of `call` made, and those a rule changed, since the last shim_clear. */
long shim_calls(enum shim_call call);
long shim_hits(enum shim_call call);
/* poll(2) itself, for the tests' own waiting. */
int shim_poll(struct pollfd *p, nfds_t n, int timeout);

/* The next `times` calls of `call` on `fd` (-1: any) fail with errno `err`. */
static inline void shim_fail(enum shim_call call, int fd, int err, int times)
{
    shim_rule_add((struct shim_rule){.call = call, .fd = fd, .err = err, .times = times});
}

/* The next `times` calls of `call` on `fd` move at most `max` octets. */
static inline void shim_short(enum shim_call call, int fd, size_t max, int times)
{
    shim_rule_add((struct shim_rule){.call = call, .fd = fd, .max = max, .times = times});
}

/* The first call of `call` on `fd` whose octets contain `text` fails with `err`. */
static inline void shim_fail_on(enum shim_call call, int fd, const char *text, int err)
{
    shim_rule_add(
        (struct shim_rule){.call = call, .fd = fd, .err = err, .times = 1, .match = text});
}

/* ---- two connections, one TCP connection ---- */

/* Is `fd` closed? (Asked right after the close, before the number can be reused.) */
static inline int fk_fd_closed(int fd)
{
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* Two connected TCP sockets over 127.0.0.1 (blocking; the connections make them not). */
static inline int fk_socks(int fd[2])
{
    int port, lfd = iot_listen(1, &port);
    fd[0] = fd[1] = -1;
    if (lfd < 0) return -1;
    fd[1] = iot_connect(port);
    if (fd[1] >= 0) fd[0] = accept(lfd, NULL, NULL);
    close(lfd);
    return fd[0] >= 0 && fd[1] >= 0 ? 0 : -1;
}

struct fk_pair {
    int fd[2];                 /* [0]: the server's end, [1]: the client's */
    smtp_io_conn *conn[2];     /* [0]: the server connection, [1]: the client's */
    struct iot_server srv;     /* what the server application saw */
    struct iot_session sess;   /* its session */
    struct iot_client cli;     /* the client application: its messages, their outcomes */
    smtp_server_settings ss;   /* defaults, hostname mx.test: change before fk_start */
    smtp_client_settings cs;   /* defaults, helo client.test */
    smtp_io_settings sio, cio; /* the connections' settings (defaults) */
    smtp_io_status status[2];  /* how each ended (fk_end) */
    int detail[2];             /* ...with its detail */
    int closed[2];             /* each descriptor was closed by smtp_io_conn_del */
    int ret[2];                /* each connection's last negative handler return */
};

/* The sockets and the default settings; arm the shim's rules on p->fd next. */
static inline int fk_open(struct fk_pair *p)
{
    memset(p, 0, sizeof *p);
    smtp_server_settings_init(&p->ss);
    p->ss.hostname = "mx.test";
    smtp_client_settings_init(&p->cs);
    p->cs.helo_name = "client.test";
    smtp_io_settings_init(&p->sio);
    smtp_io_settings_init(&p->cio);
    p->sess.srv = &p->srv;
    p->srv.hash = 0;
    return fk_socks(p->fd);
}

/* The server connection (its greeting goes out), then the client connection with `nmsg`
 * messages of about `body` octets (iot_client); `mem`: the server connection's allocator. */
static inline int fk_start(struct fk_pair *p, int nmsg, size_t body, const smtp_mem *mem)
{
    int r = smtp_io_conn_new_server(&p->conn[0], p->fd[0], &iot_callbacks, &p->ss, &p->sess,
                                    &p->sio, mem);
    if (r < 0) return r;
    p->sess.conn = p->conn[0];
    if (iot_client_init(&p->cli, 1, nmsg, body, &p->cs) < 0) return SMTP_ERR_NOMEM;
    return smtp_io_conn_new_client(&p->conn[1], p->fd[1], p->cli.cli, &p->cio, NULL);
}

/* Frees connection `i` once it is done, as a loop does: its status is kept, its descriptor
 * closed (and checked), so that the peer sees the end. */
static inline void fk_end(struct fk_pair *p, int i)
{
    if (!p->conn[i] || !smtp_io_conn_done(p->conn[i])) return;
    p->status[i] = smtp_io_conn_status(p->conn[i], &p->detail[i]);
    smtp_io_conn_del(p->conn[i]);
    p->conn[i] = NULL;
    p->closed[i] = fk_fd_closed(p->fd[i]);
    p->fd[i] = -1;
}

/* One step: waits with poll (at most `wait_ms`, or until the nearest deadline) and handles
 * what is ready; p->ret keeps each connection's last negative handler return. Returns the
 * number of connections still open. */
static inline int fk_step(struct fk_pair *p, int wait_ms)
{
    struct pollfd pf[2];
    int64_t now = smtp_io_now_ms(), next = now + wait_ms;
    int open = 0;
    for (int i = 0; i < 2; i++) {
        fk_end(p, i);
        pf[i].fd = -1;
        pf[i].events = pf[i].revents = 0;
        smtp_io_conn *c = p->conn[i];
        if (!c) continue;
        open++;
        unsigned ev = smtp_io_conn_events(c);
        if (ev) pf[i].fd = smtp_io_conn_fd(c);
        pf[i].events =
            (short)(((ev & SMTP_IO_READ) ? POLLIN : 0) | ((ev & SMTP_IO_WRITE) ? POLLOUT : 0));
        if (smtp_io_conn_deadline(c) < next) next = smtp_io_conn_deadline(c);
    }
    if (!open) return 0;
    (void)shim_poll(pf, 2, next <= now ? 0 : (int)(next - now));
    now = smtp_io_now_ms();
    for (int i = 0; i < 2; i++) {
        smtp_io_conn *c = p->conn[i];
        int r = 0;
        if (!c) continue;
        if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) r = smtp_io_conn_on_readable(c, now);
        if ((pf[i].revents & POLLOUT) && !smtp_io_conn_done(c) && r == 0)
            r = smtp_io_conn_on_writable(c, now);
        if (!smtp_io_conn_done(c) && smtp_io_conn_deadline(c) <= now && r == 0)
            r = smtp_io_conn_on_timer(c, now);
        if (r < 0) p->ret[i] = r;
        fk_end(p, i);
    }
    return (p->conn[0] != NULL) + (p->conn[1] != NULL);
}

/* Steps until both connections are done; 0 when `ms` passed first. */
static inline int fk_run(struct fk_pair *p, int ms)
{
    int64_t end = smtp_io_now_ms() + ms;
    while (fk_step(p, 50) > 0)
        if (smtp_io_now_ms() >= end) return 0;
    return 1;
}

/* Frees what is left (a connection not done ends as SMTP_IO_SHUTDOWN), the client too. */
static inline void fk_close(struct fk_pair *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->conn[i] && !smtp_io_conn_done(p->conn[i]))
            p->status[i] = smtp_io_conn_status(p->conn[i], &p->detail[i]);
        smtp_io_conn_del(p->conn[i]);
        if (!p->conn[i] && p->fd[i] >= 0) close(p->fd[i]);
        p->conn[i] = NULL;
        p->fd[i] = -1;
    }
    iot_client_fini(&p->cli);
    shim_clear();
}

/* Nothing lost, nothing made up: every message the client counts delivered, the server took,
 * and the other way round (the XOR of their hashes). */
static inline int fk_consistent(const struct fk_pair *p)
{
    return p->srv.messages == p->cli.delivered && p->srv.hash == p->cli.hash;
}

#endif
