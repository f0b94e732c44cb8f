/* SPDX-License-Identifier: MIT */
/*
 * The multi-connection loop: listening sockets, accept, one server connection (conn.c) per
 * client, made through the application's factory, and outgoing client connections the
 * application adds (smtp_io_loop_add_client), all driven by one poller (poller.c: epoll on
 * Linux, poll elsewhere) and one timer heap (heap.c).
 *
 * One iteration (smtp_io_loop_run_once): wait until the earliest deadline (the heap's root) or
 * an event; handle the ready descriptors (accept, read, write); run the timers that expired;
 * then bring each connection touched up to date: its interest in the poller (only what it
 * waits for: nothing at all while it waits for the application) and its place in the heap,
 * or close it when it is done. Every step costs O(log n) per connection touched, nothing per
 * idle connection.
 *
 * Bounds: at most max_connections are held; beyond that the listeners leave the poller until
 * one closes (the kernel's backlog holds the rest). When accept runs out of descriptors
 * (EMFILE), accepting pauses for a while rather than spinning on a listener that stays ready.
 *
 * Graceful shutdown (smtp_io_loop_shutdown, async-signal-safe through a wake-up pipe): the
 * listeners are closed; idle connections get 421 at once; busy ones (a transaction open, a
 * decision pending) when their transaction ends, or when shutdown_grace_ms has passed. Client
 * connections send QUIT once their message in progress is done, and are cut when the grace
 * period ends.
 */
#include "io_internal.h"

#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepts per listener per wake-up, and the pause after running out of descriptors. */
#define SMTP_IO_ACCEPT_BATCH 64
#define SMTP_IO_ACCEPT_PAUSE_MS 100

struct smtp_io_loop {
    const smtp_mem *mem;
    smtp_io_loop_settings set;
    smtp_io_settings io;                   /* set.io points here */
    int callbacks_version, server_version; /* of set.callbacks, set.server and sessions' */
    smtp_io_poller *poller;
    smtp_io_heap heap; /* every open connection */
    smtp_io_pollent **listeners;
    size_t nlisteners;
    int accepting; /* the listeners are in the poller */
    int64_t accept_pause_until;
    int wake[2];
    smtp_io_pollent wake_pe;
    volatile sig_atomic_t shutdown_req;
    int shutting_down;
    int grace_over;
    int64_t grace_deadline;
};

void smtp_io_loop_settings_init_versioned(int version, smtp_io_loop_settings *s)
{
    if (!s || version < 1 || version > SMTP_IO_LOOP_SETTINGS_VERSION) return;
    memset(s, 0, sizeof *s);
    s->max_connections = 1000;
    s->backlog = 511;
    s->shutdown_grace_ms = 30000;
}

int smtp_io_loop_new_versioned(smtp_io_loop **pl, int settings_version,
                               const smtp_io_loop_settings *settings, int io_settings_version,
                               int callbacks_version, int server_settings_version,
                               const smtp_mem *mem)
{
    if (!pl) return SMTP_ERR_INVALID_ARGUMENT;
    *pl = NULL;
    smtp_io_settings io;
    /* The server structs' versions are checked by smtp_server_new at each session; checked
     * here too, so that a loop that cannot make a session is refused up front. */
    if (!settings || settings_version != SMTP_IO_LOOP_SETTINGS_VERSION ||
        settings->max_connections == 0 ||
        smtp_io_settings_copy(io_settings_version, settings->io, &io) < 0 ||
        callbacks_version < 1 || callbacks_version > SMTP_SERVER_CALLBACKS_VERSION ||
        server_settings_version < 1 || server_settings_version > SMTP_SERVER_SETTINGS_VERSION)
        return SMTP_ERR_INVALID_ARGUMENT;
    mem = smtp_mem_or_default(mem);
    smtp_io_loop *l = smtp_calloc(mem, 1, sizeof *l);
    if (!l) return SMTP_ERR_NOMEM;
    l->mem = mem;
    l->set = *settings;
    l->io = io;
    l->set.io = &l->io;
    l->callbacks_version = callbacks_version;
    l->server_version = server_settings_version;
    l->wake[0] = l->wake[1] = -1;
    int r = smtp_io_poller_new(&l->poller, mem);
    if (r == 0 && pipe(l->wake) < 0) r = SMTP_ERR_INVALID_STATE;
    if (r == 0) {
        for (int i = 0; i < 2; i++) {
            smtp_io_fd_cloexec(l->wake[i]);
            (void)smtp_io_fd_nonblock(l->wake[i], 1);
        }
        l->wake_pe.fd = l->wake[0];
        l->wake_pe.kind = SMTP_IO_ENT_WAKE;
        r = smtp_io_poller_set(l->poller, &l->wake_pe, SMTP_IO_READ);
    }
    if (r < 0) {
        smtp_io_loop_del(l);
        return r;
    }
    l->accepting = 1;
    *pl = l;
    return 0;
}

/* ---- connections ---- */

static smtp_io_conn *conn_of(smtp_io_pollent *pe)
{
    return (smtp_io_conn *)(void *)((char *)pe - offsetof(smtp_io_conn, pe));
}

static void set_listening(smtp_io_loop *l, int on)
{
    if (l->accepting == on) return;
    l->accepting = on;
    for (size_t i = 0; i < l->nlisteners; i++)
        (void)smtp_io_poller_set(l->poller, l->listeners[i], on ? SMTP_IO_READ : 0);
}

static int may_accept(const smtp_io_loop *l)
{
    return !l->shutting_down && l->accept_pause_until == 0 && l->heap.len < l->set.max_connections;
}

/* Closes a connection that is no longer in the heap: on_close, then free. */
static void close_unlinked(smtp_io_loop *l, smtp_io_conn *c)
{
    (void)smtp_io_poller_set(l->poller, &c->pe, 0);
    int detail;
    smtp_io_status st = smtp_io_conn_status(c, &detail);
    if (l->set.on_close) l->set.on_close(c, st, detail, c->loop_data, l->set.user_data);
    smtp_io_conn_del(c);
}

static void close_conn(smtp_io_loop *l, smtp_io_conn *c)
{
    smtp_io_heap_remove(&l->heap, c);
    close_unlinked(l, c);
    if (may_accept(l)) set_listening(l, 1);
}

/* After a connection handled something: close it (returns 1: c is gone), or update its
 * interest and deadline (returns 0). */
static int settle(smtp_io_loop *l, smtp_io_conn *c)
{
    if (!smtp_io_conn_done(c) && smtp_io_poller_want(l->poller, &c->pe, smtp_io_conn_events(c)) < 0)
        smtp_io_conn_finish(c, SMTP_IO_SYSERR, errno);
    if (smtp_io_conn_done(c)) {
        close_conn(l, c);
        return 1;
    }
    smtp_io_heap_update(&l->heap, c);
    return 0;
}

static void new_conn(smtp_io_loop *l, int fd, const struct sockaddr *peer, socklen_t peerlen,
                     int64_t now)
{
    smtp_io_conn *c;
    if (smtp_io_conn_alloc(&c, fd, &l->io, l->mem) < 0) {
        close(fd);
        return;
    }
    /* Without a factory every session is the loop's (and its user_data too). */
    smtp_io_session s = {l->set.callbacks, l->set.server,
                         l->set.on_accept ? NULL : l->set.user_data};
    if (l->set.on_accept && l->set.on_accept(c, peer, peerlen, &s, l->set.user_data) < 0) {
        smtp_io_conn_free(c);
        close(fd);
        return;
    }
    c->loop_data = s.user_data;
    if (smtp_io_heap_push(&l->heap, c, l->mem) < 0) {
        smtp_io_conn_finish(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
        close_unlinked(l, c);
        return;
    }
    smtp_io_server_args a = {l->callbacks_version, s.callbacks, l->server_version, s.settings,
                             s.user_data};
    int r = smtp_io_conn_init_server(c, &a, now);
    if (r < 0) smtp_io_conn_finish(c, SMTP_IO_ERROR, r);
    (void)settle(l, c);
}

static void accept_some(smtp_io_loop *l, smtp_io_pollent *pe, int64_t now)
{
    for (int i = 0; i < SMTP_IO_ACCEPT_BATCH; i++) {
        if (!may_accept(l)) {
            set_listening(l, 0);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept(pe->fd, (struct sockaddr *)&ss, &len);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                l->accept_pause_until = now + SMTP_IO_ACCEPT_PAUSE_MS;
                set_listening(l, 0);
            }
            return;
        }
        new_conn(l, fd, (const struct sockaddr *)&ss, len, now);
    }
}

/*
 * The time of the events a wait returned: read once, when the first of them is handled (after
 * the wait, not before it, so that a connection idle for a long wait does not start its next
 * timeout in the past); the timers that follow use the same reading.
 */
struct ready_ctx {
    smtp_io_loop *loop;
    int64_t now;
    int have_now;
};

static void on_ready(smtp_io_pollent *pe, unsigned events, void *arg)
{
    struct ready_ctx *rc = arg;
    smtp_io_loop *l = rc->loop;
    if (!rc->have_now) {
        rc->now = smtp_io_now_ms();
        rc->have_now = 1;
    }
    if (pe->kind == SMTP_IO_ENT_WAKE) {
        char buf[64];
        while (read(pe->fd, buf, sizeof buf) > 0)
            continue;
        return;
    }
    if (pe->kind == SMTP_IO_ENT_LISTEN) {
        accept_some(l, pe, rc->now);
        return;
    }
    smtp_io_conn *c = conn_of(pe);
    if (events & SMTP_IO_READ) (void)smtp_io_conn_on_readable(c, rc->now);
    if ((events & SMTP_IO_WRITE) && !smtp_io_conn_done(c))
        (void)smtp_io_conn_on_writable(c, rc->now);
    (void)settle(l, c);
}

/* ---- shutdown ---- */

/*
 * Drains every connection (force: 421 even when busy), then closes those that are done. The
 * heap is not kept in order while connections are handled, and is rebuilt at the end.
 */
static void drain_all(smtp_io_loop *l, int force, int64_t now)
{
    for (size_t i = 0; i < l->heap.len; i++)
        (void)smtp_io_conn_drain(l->heap.items[i], force, now);
    for (size_t i = 0; i < l->heap.len;) {
        smtp_io_conn *c = l->heap.items[i];
        if (!smtp_io_conn_done(c) &&
            smtp_io_poller_set(l->poller, &c->pe, smtp_io_conn_events(c)) < 0)
            smtp_io_conn_finish(c, SMTP_IO_SYSERR, errno);
        if (smtp_io_conn_done(c)) {
            smtp_io_conn *last = l->heap.items[--l->heap.len];
            l->heap.items[i] = last;
            last->heap_index = i;
            close_unlinked(l, c);
            continue;
        }
        i++;
    }
    smtp_io_heap_rebuild(&l->heap);
}

static void close_listeners(smtp_io_loop *l)
{
    for (size_t i = 0; i < l->nlisteners; i++) {
        (void)smtp_io_poller_set(l->poller, l->listeners[i], 0);
        close(l->listeners[i]->fd);
        smtp_free(l->mem, l->listeners[i]);
    }
    smtp_free(l->mem, l->listeners);
    l->listeners = NULL;
    l->nlisteners = 0;
}

static void begin_shutdown(smtp_io_loop *l, int64_t now)
{
    l->shutting_down = 1;
    close_listeners(l);
    l->grace_deadline = now + l->set.shutdown_grace_ms;
    drain_all(l, 0, now);
}

void smtp_io_loop_shutdown(smtp_io_loop *l)
{
    if (!l) return;
    int saved = errno;
    l->shutdown_req = 1;
    if (l->wake[1] >= 0) (void)!write(l->wake[1], "", 1);
    errno = saved;
}

/* ---- the iteration ---- */

static int wait_time(const smtp_io_loop *l, int max_wait_ms, int64_t now)
{
    int64_t until = SMTP_IO_NEVER;
    if (l->heap.len) until = l->heap.items[0]->heap_deadline; /* the earliest (heap.c) */
    if (l->accept_pause_until && l->accept_pause_until < until) until = l->accept_pause_until;
    if (l->shutting_down && !l->grace_over && l->grace_deadline < until) until = l->grace_deadline;
    int64_t wait = until == SMTP_IO_NEVER ? -1 : until - now;
    if (wait < 0 && until != SMTP_IO_NEVER) wait = 0;
    if (wait > 3600000) wait = 3600000;
    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms)) wait = max_wait_ms;
    return (int)wait;
}

static void run_timers(smtp_io_loop *l, int64_t now)
{
    /* Each expired connection either moves its deadline or closes; a connection whose
     * deadline does not move is closed, so this always ends. */
    while (l->heap.len && l->heap.items[0]->heap_deadline <= now) {
        smtp_io_conn *c = l->heap.items[0];
        (void)smtp_io_conn_on_timer(c, now);
        if (!smtp_io_conn_done(c) && smtp_io_conn_deadline(c) <= now)
            smtp_io_conn_finish(c, SMTP_IO_TIMEOUT, 0);
        (void)settle(l, c);
    }
}

/* Nothing can happen any more: shut down, or no listener, and no connection left. */
static int finished(const smtp_io_loop *l)
{
    return (l->shutting_down || l->nlisteners == 0) && l->heap.len == 0;
}

int smtp_io_loop_run_once(smtp_io_loop *l, int max_wait_ms)
{
    if (!l) return SMTP_ERR_INVALID_ARGUMENT;
    int64_t now = smtp_io_now_ms();
    if (l->shutdown_req && !l->shutting_down) begin_shutdown(l, now);
    if (finished(l)) return 0;
    struct ready_ctx rc = {l, 0, 0};
    int n = smtp_io_poller_wait(l->poller, wait_time(l, max_wait_ms, now), on_ready, &rc);
    if (n < 0 && n != -EINTR) return SMTP_ERR_INVALID_STATE;
    /* A deadline that passed while the events were handled is met in the next turn (its wait
     * is 0). */
    now = rc.have_now ? rc.now : smtp_io_now_ms();
    run_timers(l, now);
    if (l->accept_pause_until && now >= l->accept_pause_until) {
        l->accept_pause_until = 0;
        if (may_accept(l)) set_listening(l, 1);
    }
    if (l->shutdown_req && !l->shutting_down) begin_shutdown(l, now);
    if (l->shutting_down && !l->grace_over && now >= l->grace_deadline) {
        l->grace_over = 1;
        drain_all(l, 1, now);
    }
    return finished(l) ? 0 : 1;
}

int smtp_io_loop_run(smtp_io_loop *l)
{
    int r;
    while ((r = smtp_io_loop_run_once(l, -1)) > 0)
        continue;
    return r;
}

int smtp_io_loop_update(smtp_io_loop *l, smtp_io_conn *c)
{
    if (!l || !c) return SMTP_ERR_INVALID_ARGUMENT;
    int r = smtp_io_conn_flush(c, smtp_io_now_ms());
    (void)settle(l, c);
    return r;
}

size_t smtp_io_loop_connections(const smtp_io_loop *l)
{
    return l ? l->heap.len : 0;
}

/* ---- outgoing connections ---- */

int smtp_io_loop_add_client_versioned(smtp_io_loop *l, int fd, smtp_client *cli,
                                      int settings_version, const smtp_io_settings *settings,
                                      void *session_data, smtp_io_conn **pconn)
{
    if (pconn) *pconn = NULL;
    if (!l || fd < 0 || !cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (l->shutting_down || l->shutdown_req) return SMTP_ERR_INVALID_STATE;
    /* The heap's room first: once the connection is made it has taken its first step (a
     * trace, implicit TLS's ClientHello), and nothing may fail after that. */
    if (smtp_io_heap_reserve(&l->heap, l->mem) < 0) return SMTP_ERR_NOMEM;
    smtp_io_conn *c;
    int r = settings
                ? smtp_io_conn_new_client_versioned(&c, fd, cli, settings_version, settings, l->mem)
                : smtp_io_conn_new_client(&c, fd, cli, &l->io, l->mem);
    if (r < 0) return r;
    c->loop_data = session_data;
    (void)smtp_io_heap_push(&l->heap, c, l->mem); /* reserved above */
    /* A connection that ended at once is closed now (on_close was called). */
    if (!settle(l, c) && pconn) *pconn = c;
    return 0;
}

/* ---- listeners ---- */

int smtp_io_loop_add_listener(smtp_io_loop *l, int fd)
{
    if (!l || fd < 0 || (!l->set.on_accept && !l->set.callbacks)) return SMTP_ERR_INVALID_ARGUMENT;
    if (l->shutting_down || l->shutdown_req) return SMTP_ERR_INVALID_STATE;
    smtp_io_pollent *pe = smtp_calloc(l->mem, 1, sizeof *pe);
    if (!pe) return SMTP_ERR_NOMEM;
    smtp_io_pollent **arr = smtp_realloc(l->mem, l->listeners, (l->nlisteners + 1) * sizeof *arr);
    if (!arr) {
        smtp_free(l->mem, pe);
        return SMTP_ERR_NOMEM;
    }
    l->listeners = arr;
    pe->fd = fd;
    pe->kind = SMTP_IO_ENT_LISTEN;
    (void)smtp_io_fd_nonblock(fd, 1);
    smtp_io_fd_cloexec(fd);
    if (l->accepting && smtp_io_poller_set(l->poller, pe, SMTP_IO_READ) < 0) {
        smtp_free(l->mem, pe);
        return SMTP_ERR_INVALID_STATE;
    }
    l->listeners[l->nlisteners++] = pe;
    return 0;
}

static int sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return -1;
}

static void set_sockaddr_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons((uint16_t)port);
}

int smtp_io_loop_port(const smtp_io_loop *l, size_t index)
{
    if (!l || index >= l->nlisteners) return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(l->listeners[index]->fd, (struct sockaddr *)&ss, &len) < 0) return -1;
    return sockaddr_port((const struct sockaddr *)&ss);
}

/* Binds and listens on one address; returns the descriptor or -1 with errno. */
static int listen_one(struct addrinfo *ai, int backlog)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef IPV6_V6ONLY
    /* One socket per family: the IPv6 one must not also claim the IPv4 port. */
    if (ai->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
#endif
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int smtp_io_loop_listen(smtp_io_loop *l, const char *host, const char *port, smtp_io_status *status,
                        int *detail)
{
    smtp_io_status st_dummy;
    int det_dummy;
    if (!status) status = &st_dummy;
    if (!detail) detail = &det_dummy;
    *status = SMTP_IO_OK;
    *detail = 0;
    if (!l || !port) {
        *status = SMTP_IO_ERROR;
        *detail = SMTP_ERR_INVALID_ARGUMENT;
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        *status = g == EAI_SYSTEM ? SMTP_IO_SYSERR : SMTP_IO_RESOLVE;
        *detail = g == EAI_SYSTEM ? errno : g;
        return -1;
    }
    int count = 0, bound_port = 0, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        /* Port 0: the kernel picks a port for the first socket; the others share it. */
        if (bound_port && sockaddr_port(ai->ai_addr) == 0)
            set_sockaddr_port(ai->ai_addr, bound_port);
        int fd = listen_one(ai, l->set.backlog);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int r = smtp_io_loop_add_listener(l, fd);
        if (r < 0) {
            close(fd);
            *status = SMTP_IO_ERROR;
            *detail = r;
            freeaddrinfo(res);
            return count ? count : -1;
        }
        if (!bound_port) bound_port = smtp_io_loop_port(l, l->nlisteners - 1);
        count++;
    }
    freeaddrinfo(res);
    if (count == 0) {
        *status = SMTP_IO_SYSERR;
        *detail = err;
        return -1;
    }
    return count;
}

void smtp_io_loop_del(smtp_io_loop *l)
{
    if (!l) return;
    while (l->heap.len) {
        smtp_io_conn *c = l->heap.items[--l->heap.len];
        smtp_io_conn_finish(c, SMTP_IO_SHUTDOWN, 0);
        close_unlinked(l, c);
    }
    smtp_io_heap_free(&l->heap, l->mem);
    close_listeners(l);
    if (l->wake[0] >= 0) close(l->wake[0]);
    if (l->wake[1] >= 0) close(l->wake[1]);
    smtp_io_poller_del(l->poller);
    smtp_free(l->mem, l);
}
