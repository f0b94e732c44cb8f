/* SPDX-License-Identifier: MIT */
/*
 * ev-smtp PORT [--stall] [CERT KEY CA]: libsmtp's sans-I/O engines in a libevent loop, on
 * bufferevents. A server on 127.0.0.1:PORT (0: any free port) and a client that sends it one
 * message share the loop; what is the same on every loop (the application, the TLS session's
 * plumbing) is ../evloop/demo.c. Shown here: the engine reads straight from the bufferevent's
 * input buffer, where what it does not consume stays; its output is pulled only while the output
 * buffer holds less than HIGH octets (backpressure: the write callback, once it drained, pulls
 * again); its timeouts on an evtimer; when STARTTLS starts; closing once all was sent.
 */
#include "demo.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HIGH 16384 /* the most output (and input read ahead) the bufferevent holds */

typedef struct conn {
    demo_conn d; /* the engine (d.srv or d.cli), the TLS session, the plaintext it decrypted */
    struct bufferevent *bev;
    struct event *timer;
    int wait;
} conn;

static struct evconnlistener *listener;
static int failed;

static void conn_close(conn *c)
{
    if (c->d.cli && listener) { /* the client is done: so is all */
        evconnlistener_free(listener);
        listener = NULL;
    }
    bufferevent_free(c->bev); /* and the socket */
    event_free(c->timer);
    demo_conn_free(&c->d);
    free(c);
}

/* Moves bytes every way until nothing moves; then end of file, close, reading and the timer. */
static void pump(conn *c)
{
    demo_conn *d = &c->d;
    struct evbuffer *in = bufferevent_get_input(c->bev), *out = bufferevent_get_output(c->bev);
    int progress = 1, moved = 0;
    while (progress > 0) {
        size_t k, len = evbuffer_get_length(in);
        const char *p = (const char *)evbuffer_pullup(in, -1); /* contiguous, left in place */
        if ((progress = demo_starttls(d, evbuffer_get_length(out) > 0, p, len)) > 0)
            evbuffer_drain(in, len), len = 0; /* the server drops what came after STARTTLS */
        if (progress >= 0 && (progress |= demo_tls_input(d, p, len, &k)) >= 0)
            evbuffer_drain(in, k); /* under TLS, in holds ciphertext, d->in the plaintext */
        len = d->tls ? d->in_len : evbuffer_get_length(in);
        if (progress >= 0 && len && ENG_WANTS_READ(d)) { /* feed; the rest stays for later */
            smtp_ssize n =
                ENG(d, read, d->tls ? d->in : (const char *)evbuffer_pullup(in, -1), len);
            progress = n < 0 ? -1 : progress || n > 0;
            if (n > 0 && d->tls) memmove(d->in, d->in + n, d->in_len -= (size_t)n);
            if (n > 0 && !d->tls) evbuffer_drain(in, (size_t)n);
        }
        char buf[HIGH]; /* output, while the bufferevent holds less than HIGH: backpressure */
        smtp_ssize m = progress < 0 || d->eof || evbuffer_get_length(out) >= HIGH
                           ? 0
                           : demo_pull(d, buf, sizeof buf);
        if (m < 0 || (m > 0 && bufferevent_write(c->bev, buf, (size_t)m) < 0))
            progress = -1;
        else if (m > 0)
            progress = 1;
        moved |= progress > 0;
    }
    if (progress < 0) { /* the engine, TLS or the socket failed */
        fprintf(stderr, "%s: the connection failed\n", WHO(d));
        failed = 1;
        conn_close(c);
        return;
    }
    if (d->eof && !d->eof_given &&
        (!(d->tls ? d->in_len : evbuffer_get_length(in)) || !ENG_WANTS_READ(d))) {
        d->eof_given = 1; /* the peer is gone: tell the engine, once */
        (void)ENG0(d, eof);
    }
    if (ENG0(d, want_close) && (d->eof || evbuffer_get_length(out) == 0)) {
        char notify[256]; /* under TLS a close_notify first; close once it was written */
        smtp_ssize m = d->eof ? 0 : demo_tls_close(d, notify, sizeof notify);
        if (m <= 0 || bufferevent_write(c->bev, notify, (size_t)m) < 0) conn_close(c);
        return;
    }
    /* Read while the engine takes input, and during a pending decision (a deferred on_connect...)
     * to notice a client that goes away: the high-water mark bounds what is read ahead. */
    if (!d->eof && (d->tls || ENG_WANTS_READ(d) || (d->srv && smtp_server_pending(d->srv))))
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
    uint32_t ms = 0; /* the engine's timeout: restarted on a new wait and on progress */
    int wait =
        d->srv ? (int)smtp_server_timeout(d->srv, &ms) : (int)smtp_client_timeout(d->cli, &ms);
    if (wait != c->wait || moved) {
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        c->wait = wait;
        (void)(ms ? evtimer_add(c->timer, &tv) : evtimer_del(c->timer));
    }
}

static void on_io(struct bufferevent *bev, void *arg) /* read, and the output drained */
{
    (void)bev;
    pump(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_ERROR)
        fprintf(stderr, "%s: %s\n", WHO(&c->d),
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        c->d.eof = 1; /* BEV_EVENT_CONNECTED: the client's connection is up */
        demo_tls_eof(&c->d);
    }
    pump(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd, (void)what;
    (void)ENG0(&c->d, timeout_expired); /* queues a 421 (server) or ends the session (client) */
    pump(c);
}

static conn *conn_new(struct event_base *base, evutil_socket_t fd)
{
    conn *c = calloc(1, sizeof *c);
    if (c) c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c) c->timer = evtimer_new(base, on_timer, c);
    if (!c || !c->bev || !c->timer) fprintf(stderr, "out of memory\n"), exit(1);
    bufferevent_setcb(c->bev, on_io, on_io, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, HIGH); /* libevent stops reading past it */
    c->wait = -1;
    return c;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    conn *c = conn_new(evconnlistener_get_base(l), fd);
    (void)sa, (void)len, (void)arg;
    if (demo_server(&c->d.srv, c) == 0) {
        pump(c); /* the greeting */
        return;
    }
    fprintf(stderr, "server: cannot start a session\n");
    failed = 1;
    conn_close(c);
}

int main(int argc, char **argv)
{
    int port = demo_init(argc, argv);
    if (port < 0) return 2;
    struct event_base *base = event_base_new();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (base)
        listener = evconnlistener_new_bind(base, on_accept, NULL,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                           (struct sockaddr *)&sa, sizeof sa);
    if (!listener || getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sa, &len)) {
        fprintf(stderr, "%s: 127.0.0.1:%d: %s\n", argv[0], port,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return 1;
    }
    printf("server: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    conn *c = conn_new(base, -1);
    if (demo_client(&c->d.cli, c) < 0 ||
        bufferevent_socket_connect(c->bev, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "client: cannot start\n");
        failed = 1;
        conn_close(c);
    }
    event_base_dispatch(base);
    if (listener) evconnlistener_free(listener);
    event_base_free(base);
    libevent_global_shutdown();
    return demo_finish(failed);
}
