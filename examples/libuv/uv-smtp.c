/* SPDX-License-Identifier: MIT */
/*
 * uv-smtp PORT [--stall] [CERT KEY CA]: libsmtp's sans-I/O engines in a libuv loop. A server on
 * 127.0.0.1:PORT (0: any free port) and a client that sends it one message share the loop; what
 * is the same on every loop (the application, the TLS session's plumbing) is ../evloop/demo.c.
 * Shown here: feeding an engine and keeping what it did not consume, pulling its output one
 * write at a time (backpressure), its timeouts on a uv_timer, when STARTTLS starts, closing.
 */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct conn {
    demo_conn d; /* the engine (d.srv or d.cli), the TLS session, the plaintext kept (d.in) */
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    char cin[16384], out[16384]; /* TLS: ciphertext not taken yet; the write in flight */
    size_t cin_len;
    int handles, writing, reading, closing, wait;
} conn;

static uv_tcp_t listener;
static int failed;

static void pump(conn *c);

static void on_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles) return; /* both handles closed: nothing refers to c any more */
    if (c->d.cli) uv_close((uv_handle_t *)&listener, NULL); /* the client is done: so is all */
    demo_conn_free(&c->d);
    free(c);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *w, int status)
{
    conn *c = w->data;
    c->writing = 0;
    c->d.eof |= status < 0; /* the peer is gone */
    if (!c->closing) pump(c);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    (void)ENG0(&c->d, timeout_expired); /* queues a 421 (server) or ends the session (client) */
    pump(c);
}

/* The socket is read into the free end of the connection's buffer (pump says when). */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    conn *c = h->data;
    (void)hint;
    *b = c->d.tls ? uv_buf_init(c->cin, sizeof c->cin)
                  : uv_buf_init(c->d.in + c->d.in_len, (unsigned)(sizeof c->d.in - c->d.in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn *c = s->data;
    if (n < 0 && n != UV_EOF) fprintf(stderr, "%s: read: %s\n", WHO(&c->d), uv_strerror((int)n));
    if (n < 0) c->d.eof = 1, demo_tls_eof(&c->d);
    if (n > 0) *(b->base == c->cin ? &c->cin_len : &c->d.in_len) += (size_t)n;
    pump(c);
}

/* Moves bytes every way until nothing moves; then end of file, close, reading and the timer. */
static void pump(conn *c)
{
    demo_conn *d = &c->d;
    int progress = 1, moved = 0;
    while (progress > 0 && !c->closing) {
        size_t k;
        if ((progress = demo_starttls(d, c->writing, d->in, d->in_len)) > 0) d->in_len = 0;
        if (progress >= 0 && (progress |= demo_tls_input(d, c->cin, c->cin_len, &k)) >= 0)
            memmove(c->cin, c->cin + k, c->cin_len -= k);
        if (progress >= 0 && d->in_len && ENG_WANTS_READ(d)) { /* feed; keep the rest */
            smtp_ssize n = ENG(d, read, d->in, d->in_len);
            progress = n < 0 ? -1 : progress || n > 0;
            if (n > 0) memmove(d->in, d->in + n, d->in_len -= (size_t)n);
        }
        /* Output is pulled only once the last write completed: backpressure. */
        smtp_ssize m =
            progress < 0 || c->writing || d->eof ? 0 : demo_pull(d, c->out, sizeof c->out);
        uv_buf_t b = uv_buf_init(c->out, m > 0 ? (unsigned)m : 0);
        c->wreq.data = c;
        if (m < 0 || (m > 0 && uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written)))
            progress = -1;
        else if (m > 0)
            progress = c->writing = 1;
        moved |= progress > 0;
    }
    if (progress < 0) { /* the engine, TLS or the socket failed */
        fprintf(stderr, "%s: the connection failed\n", WHO(d));
        failed = 1;
        conn_close(c);
    }
    if (c->closing) return;
    if (d->eof && !d->eof_given && (!d->in_len || !ENG_WANTS_READ(d))) {
        d->eof_given = 1; /* the peer is gone: tell the engine, once */
        (void)ENG0(d, eof);
    }
    if (!c->writing && ENG0(d, want_close)) { /* under TLS a close_notify first, then close */
        smtp_ssize m = d->eof ? 0 : demo_tls_close(d, c->out, sizeof c->out);
        uv_buf_t b = uv_buf_init(c->out, m > 0 ? (unsigned)m : 0);
        if (m > 0 && uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) == 0)
            c->writing = 1;
        else
            conn_close(c);
        return;
    }
    /* Read once all was consumed (the client takes one read at a time), and during a pending
     * decision (a deferred on_connect...) to notice a client that goes away. */
    int want = !d->eof && (d->tls ? !c->cin_len
                           : ENG_WANTS_READ(d)
                               ? !d->in_len
                               : d->srv && smtp_server_pending(d->srv) && d->in_len < sizeof d->in);
    if (want && !c->reading) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (!want && c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = want;
    uint32_t ms = 0; /* the engine's timeout: restarted on a new wait and on progress */
    int wait =
        d->srv ? (int)smtp_server_timeout(d->srv, &ms) : (int)smtp_client_timeout(d->cli, &ms);
    if (wait != c->wait || moved) {
        c->wait = wait;
        (void)(ms ? uv_timer_start(&c->timer, on_timer, ms, 0) : uv_timer_stop(&c->timer));
    }
}

static conn *conn_new(uv_loop_t *loop)
{
    conn *c = calloc(1, sizeof *c);
    if (!c || uv_tcp_init(loop, &c->tcp) || uv_timer_init(loop, &c->timer)) abort();
    c->tcp.data = c->timer.data = c;
    c->handles = 2, c->wait = -1;
    return c;
}

static void on_connection(uv_stream_t *l, int status)
{
    conn *c = status < 0 ? NULL : conn_new(l->loop);
    if (!c) return;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0 && demo_server(&c->d.srv, c) == 0) {
        pump(c); /* the greeting */
        return;
    }
    fprintf(stderr, "server: cannot accept a connection\n");
    failed = 1;
    conn_close(c);
}

static void on_connected(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (status < 0) fprintf(stderr, "client: connect: %s\n", uv_strerror(status));
    c->d.eof = status < 0;
    pump(c);
}

int main(int argc, char **argv)
{
    int port = demo_init(argc, argv), len = sizeof(struct sockaddr_in), r;
    if (port < 0) return 2;
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in sa;
    if (!(r = uv_ip4_addr("127.0.0.1", port, &sa)) && !(r = uv_tcp_init(loop, &listener)) &&
        !(r = uv_tcp_bind(&listener, (const struct sockaddr *)&sa, 0)) &&
        !(r = uv_listen((uv_stream_t *)&listener, 16, on_connection)))
        r = uv_tcp_getsockname(&listener, (struct sockaddr *)&sa, &len);
    if (r) return fprintf(stderr, "%s: 127.0.0.1:%d: %s\n", argv[0], port, uv_strerror(r)), 1;
    printf("server: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    conn *c = conn_new(loop);
    uv_connect_t req = {.data = c};
    if (demo_client(&c->d.cli, c) < 0 ||
        uv_tcp_connect(&req, &c->tcp, (const struct sockaddr *)&sa, on_connected)) {
        fprintf(stderr, "client: cannot start\n");
        failed = 1;
        conn_close(c);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(loop);
    return demo_finish(failed);
}
