/* SPDX-License-Identifier: MIT */
/*
 * A connection: one non-blocking descriptor and one engine (client or server), driven by the
 * application's poll loop, the blocking calls or smtp_io_loop.
 *
 * How it works
 * ------------
 * Every handler ends in pump(), which moves bytes until nothing moves any more:
 *
 *   socket --read--> [cin --feed--> filter --read-->] in --smtp_*_read--> engine
 *   engine --smtp_*_write--> [filter --write--> pout, filter --pull-->] out --send--> socket
 *
 * The bracketed stages exist only under TLS. Each buffer (in, cin, pout, out) holds only what
 * the next stage did not take and is allocated when first needed and freed once empty, so an
 * idle connection costs its engine and this struct. The socket is read only while the stage
 * after it can take bytes (the engine wants input and nothing is kept for it), so what is kept
 * stays bounded by one read; output is pulled from the engine only once `out` was sent, so
 * `out` stays within one chunk, and the engine's own output bound holds the rest.
 *
 * Deadlines (RFC 5321 4.5.3.2): the engine says which timeout applies now (smtp_server_timeout,
 * smtp_client_timeout); its timer starts when that wait begins and restarts whenever the engine
 * consumes bytes. Output that does not move for write_timeout_ms, a handshake longer than
 * handshake_timeout_ms, and a last reply not written within linger_ms end the connection too.
 *
 * STARTTLS (RFC 3207 4.2): a client starts the filter once smtp_client_want_tls is 1; a server
 * once smtp_server_want_tls is 1 and the 220 has left `out`. Plaintext received after the
 * STARTTLS command is never handed to the filter: the engines report it (injection), and what
 * is left is dropped.
 *
 * Held output (a server past its soft error limit, smtp_server_output_delay): the engine's
 * output is not pulled until hold_until, a deadline like the others (the loop's timer heap),
 * so no other connection waits for it.
 */
#include "io_internal.h"

#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define SMTP_IO_SEND_FLAGS MSG_NOSIGNAL
#else
#define SMTP_IO_SEND_FLAGS 0
#endif

/* ---- buffers ---- */

static int buf_append(smtp_io_conn *c, smtp_io_buf *b, const char *data, size_t len)
{
    if (len == 0) return 0;
    if (b->len + len > b->cap) {
        size_t cap = smtp_grown_cap(b->cap, b->len + len, SMTP_IO_CHUNK);
        char *p = smtp_realloc(c->mem, b->ptr, cap);
        if (!p) return SMTP_ERR_NOMEM;
        b->ptr = p;
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, data, len);
    b->len += len;
    return 0;
}

static void buf_clear(smtp_io_conn *c, smtp_io_buf *b)
{
    smtp_free(c->mem, b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

static void buf_consume(smtp_io_conn *c, smtp_io_buf *b, size_t n)
{
    if (n >= b->len) {
        buf_clear(c, b);
        return;
    }
    b->len -= n;
    memmove(b->ptr, b->ptr + n, b->len);
}

/* ---- the engine, whichever role ---- */

static smtp_ssize engine_read(smtp_io_conn *c, const char *data, size_t len)
{
    return c->srv ? smtp_server_read(c->srv, data, len) : smtp_client_read(c->cli, data, len);
}

static smtp_ssize engine_write(smtp_io_conn *c, char *dest, size_t cap)
{
    return c->srv ? smtp_server_write(c->srv, dest, cap) : smtp_client_write(c->cli, dest, cap);
}

static int engine_wants_read(const smtp_io_conn *c)
{
    if (c->paused) return 0; /* smtp_io_conn_pause: nothing read, nothing fed */
    if (c->srv) return smtp_server_want_read(c->srv);
    return smtp_client_want_read(c->cli) && !smtp_client_want_tls(c->cli);
}

static int engine_closed(const smtp_io_conn *c)
{
    return c->srv ? smtp_server_want_close(c->srv) : smtp_client_want_close(c->cli);
}

/* Tells the engine the connection is gone (once): a message in progress is dropped, nothing
 * is acknowledged (server: on_message_abort EOF; client: TEMPFAIL and END_CLOSED). */
static void engine_eof(smtp_io_conn *c)
{
    if (c->eof_given) return;
    c->eof_given = 1;
    if (c->srv)
        (void)smtp_server_eof(c->srv);
    else if (c->cli)
        (void)smtp_client_eof(c->cli);
}

void smtp_io_conn_finish(smtp_io_conn *c, smtp_io_status status, int detail)
{
    if (c->done) return;
    c->done = 1;
    c->status = status;
    c->detail = detail;
    c->deadline = SMTP_IO_NEVER;
    engine_eof(c);
}

static int fail(smtp_io_conn *c, smtp_io_status status, int detail)
{
    smtp_io_conn_finish(c, status, detail);
    return -1;
}

/* A TLS failure: an engine waiting for the handshake is told (the client ends with
 * SMTP_CLIENT_END_TLS_FAILED, the server closes). */
static int tls_fail(smtp_io_conn *c, int code)
{
    if (c->cli && smtp_client_want_tls(c->cli)) (void)smtp_client_tls_done(c->cli, 0);
    if (c->srv && smtp_server_want_tls(c->srv)) (void)smtp_server_tls_done(c->srv, 0);
    return fail(c, SMTP_IO_TLS, code);
}

static void trace(smtp_io_conn *c, int dir, const char *data, size_t len)
{
    if (c->set.on_trace && len) c->set.on_trace(c, dir, data, len, c->set.user_data);
}

/* ---- the socket ---- */

/* The peer is gone (end of file, reset, broken pipe). */
static void peer_gone(smtp_io_conn *c)
{
    c->eof_seen = 1;
}

/* Sends what it can of data/len; *sent is how much. Returns 0, or -1 when the connection
 * ended. */
static int sock_send(smtp_io_conn *c, const char *data, size_t len, size_t *sent)
{
    *sent = 0;
    for (;;) {
        ssize_t n = send(c->fd, data, len, SMTP_IO_SEND_FLAGS);
        if (n >= 0) {
            *sent = (size_t)n;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == EPIPE || errno == ECONNRESET) {
            peer_gone(c);
            return fail(c, engine_closed(c) ? SMTP_IO_DONE : SMTP_IO_EOF, 0);
        }
        return fail(c, SMTP_IO_SYSERR, errno);
    }
}

/* Writes `out` to the socket. Returns 0 (out may stay non-empty), or -1. */
static int flush_out(smtp_io_conn *c, int64_t now, int *progress)
{
    while (c->out.len) {
        size_t sent;
        if (sock_send(c, c->out.ptr, c->out.len, &sent) < 0) return -1;
        if (sent == 0) return 0;
        buf_consume(c, &c->out, sent);
        c->write_since = now;
        *progress = 1;
    }
    return 0;
}

/* Sends data/len now, keeping in `out` what the socket does not take. */
static int out_send(smtp_io_conn *c, const char *data, size_t len, int64_t now)
{
    size_t sent = 0;
    if (c->out.len == 0 && sock_send(c, data, len, &sent) < 0) return -1;
    if (sent < len) {
        if (c->out.len == 0) c->write_since = now;
        if (buf_append(c, &c->out, data + sent, len - sent) < 0)
            return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    }
    return 0;
}

/* ---- moving bytes ---- */

/*
 * Is the server engine's output to be held now? The delay it asks for (after too many errors)
 * starts when first seen; once it passed, the next pull ends it in the engine.
 */
static int output_held(smtp_io_conn *c, int64_t now)
{
    unsigned ms = c->srv ? smtp_server_output_delay(c->srv) : 0;
    if (!ms) {
        c->holding = 0;
        return 0;
    }
    if (!c->holding) {
        c->holding = 1;
        c->hold_until = now + ms;
    }
    if (now < c->hold_until) return 1;
    c->holding = 0;
    return 0;
}

/*
 * Strict pipelining (SMTP_SERVER_STRICT_PIPELINING): bytes that are already waiting when the
 * engine's first output (the greeting) is about to be written were sent before the client was
 * greeted, for instance while it waited in the listen queue. They are read and offered to the
 * engine before that output leaves, so the engine judges them as early (554), whether or not
 * it takes input now (a greeting still being decided remembers them). Under implicit TLS the
 * filter already hands the first plaintext to the engine before the greeting is pulled.
 */
static int probe_early_input(smtp_io_conn *c)
{
    c->sync_probe = 0;
    if (c->filter || c->eof_seen) return 0;
    char buf[SMTP_IO_MAX_READ];
    ssize_t n;
    do
        n = recv(c->fd, buf, c->set.read_size, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) peer_gone(c);
    if (n <= 0) return 0; /* nothing waiting (EAGAIN), or an error the next read reports */
    trace(c, SMTP_IO_TRACE_IN, buf, (size_t)n);
    smtp_ssize used = smtp_server_read(c->srv, buf, (size_t)n);
    if (used < 0) return fail(c, SMTP_IO_ERROR, (int)used);
    if (buf_append(c, &c->in, buf + used, (size_t)(n - used)) < 0)
        return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    return 0;
}

/* Pulls output from the engine (and the filter) and sends it until the socket stops taking
 * it or nothing is left. */
static int push_output(smtp_io_conn *c, int64_t now, int *progress)
{
    char tmp[SMTP_IO_CHUNK];
    while (!c->done) {
        if (c->out.len) {
            if (flush_out(c, now, progress) < 0) return -1;
            if (c->out.len) return 0;
        }
        if (c->filter) {
            smtp_ssize n = c->filter->pull(c->filter->ctx, tmp, sizeof tmp);
            if (n < 0) return tls_fail(c, (int)n);
            if (n > 0) {
                *progress = 1;
                if (out_send(c, tmp, (size_t)n, now) < 0) return -1;
                continue;
            }
            if (c->tls != SMTP_IO_TLS_ON) return 0;
            if (c->pout.len) {
                smtp_ssize k = c->filter->write(c->filter->ctx, c->pout.ptr, c->pout.len);
                if (k < 0) return tls_fail(c, (int)k);
                if (k == 0) return 0;
                buf_consume(c, &c->pout, (size_t)k);
                *progress = 1;
                continue;
            }
        }
        if (output_held(c, now)) return 0;
        if (c->sync_probe && smtp_server_want_write(c->srv) && probe_early_input(c) < 0) return -1;
        smtp_ssize n = engine_write(c, tmp, sizeof tmp);
        if (n < 0) return fail(c, SMTP_IO_ERROR, (int)n);
        if (n == 0) return 0;
        *progress = 1;
        trace(c, SMTP_IO_TRACE_OUT, tmp, (size_t)n);
        if (c->srv == NULL && smtp_client_timeout(c->cli, NULL) == SMTP_CLIENT_WAIT_DATA_BLOCK)
            c->wait_start = now; /* RFC 5321 4.5.3.2.5: each data block has its own timeout */
        if (!c->filter) {
            if (out_send(c, tmp, (size_t)n, now) < 0) return -1;
            /* A server engine with nothing left is not asked again here (the next call asks:
             * pump's, after this read). */
            if (c->srv && !c->out.len && !smtp_server_want_write(c->srv)) return c->done ? -1 : 0;
            continue;
        }
        smtp_ssize k = c->filter->write(c->filter->ctx, tmp, (size_t)n);
        if (k < 0) return tls_fail(c, (int)k);
        if (k < n && buf_append(c, &c->pout, tmp + k, (size_t)(n - k)) < 0)
            return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    }
    return c->done ? -1 : 0;
}

static int call_progress(smtp_io_conn *c)
{
    if (!c->set.on_progress || c->in_progress || c->done) return 0;
    c->in_progress = 1;
    int r = c->set.on_progress(c, c->set.user_data);
    c->in_progress = 0;
    if (r < 0) return fail(c, SMTP_IO_ERROR, SMTP_ERR_CALLBACK_FAILURE);
    return 0;
}

/* Feeds data/len to the engine while it takes bytes, sending its output in between (the
 * server stops reading while its output queue is nearly full; the client after each reply).
 * *used is how much it took. */
static int feed_engine(smtp_io_conn *c, const char *data, size_t len, size_t *used, int64_t now)
{
    *used = 0;
    while (*used < len && !c->done && engine_wants_read(c)) {
        smtp_ssize n = engine_read(c, data + *used, len - *used);
        if (n < 0) return fail(c, SMTP_IO_ERROR, (int)n);
        if (n == 0) break;
        *used += (size_t)n;
        c->wait_start = now;
        int progress = 0;
        if (push_output(c, now, &progress) < 0) return -1;
        if (call_progress(c) < 0) return -1;
    }
    return c->done ? -1 : 0;
}

/* Plaintext from the peer: to the engine, and what it does not take into `in`. */
static int deliver_plain(smtp_io_conn *c, const char *data, size_t len, int64_t now)
{
    trace(c, SMTP_IO_TRACE_IN, data, len);
    size_t used = 0;
    if (c->in.len == 0 && feed_engine(c, data, len, &used, now) < 0) return -1;
    if (buf_append(c, &c->in, data + used, len - used) < 0)
        return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    return 0;
}

/* Feeds what `in` keeps, once the engine takes input again. */
static int feed_in(smtp_io_conn *c, int64_t now, int *progress)
{
    if (c->in.len == 0 || !engine_wants_read(c)) return 0;
    size_t used;
    int r = feed_engine(c, c->in.ptr, c->in.len, &used, now);
    if (used) {
        *progress = 1;
        buf_consume(c, &c->in, used);
    }
    return r;
}

/* Ciphertext from the socket: to the filter, and what it does not take into `cin`. */
static int deliver_cipher(smtp_io_conn *c, const char *data, size_t len)
{
    size_t used = 0;
    if (c->cin.len == 0) {
        smtp_ssize k = c->filter->feed(c->filter->ctx, data, len);
        if (k < 0) return tls_fail(c, (int)k);
        used = (size_t)k;
    }
    if (buf_append(c, &c->cin, data + used, len - used) < 0)
        return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    return 0;
}

/* The handshake completed: tell the engine (RFC 3207 4.2: it forgets everything). */
static int tls_on(smtp_io_conn *c, int64_t now)
{
    c->tls = SMTP_IO_TLS_ON;
    c->phase_deadline = SMTP_IO_NEVER;
    c->wait_start = now;
    int r = 0;
    if (c->cli && smtp_client_want_tls(c->cli)) r = smtp_client_tls_done(c->cli, 1);
    if (c->srv && smtp_server_want_tls(c->srv)) r = smtp_server_tls_done(c->srv, 1);
    return r < 0 ? fail(c, SMTP_IO_ERROR, r) : 0;
}

/* Ciphertext kept in `cin` into the filter, as much as it takes. 0, or -1 (failed). */
static int feed_cipher(smtp_io_conn *c, int *progress)
{
    if (!c->cin.len) return 0;
    smtp_ssize k = c->filter->feed(c->filter->ctx, c->cin.ptr, c->cin.len);
    if (k < 0) return tls_fail(c, (int)k);
    if (k > 0) {
        buf_consume(c, &c->cin, (size_t)k);
        *progress = 1;
    }
    return 0;
}

/*
 * Moves ciphertext into the filter, runs the handshake, and takes out plaintext while the
 * engine has nothing kept. A handshake step or a read may take ciphertext from the filter's
 * buffer into the TLS library without giving anything yet (a record larger than that buffer
 * comes in pieces): `cin` is fed again after them, and that is the progress that makes the
 * loop go on; else the rest of the record would wait in `cin`, the socket unread, for ever.
 */
static int run_filter(smtp_io_conn *c, int64_t now, int *progress)
{
    smtp_io_filter *f = c->filter;
    if (feed_cipher(c, progress) < 0) return -1;
    if (c->tls == SMTP_IO_TLS_HANDSHAKE) {
        int r = f->handshake(f->ctx);
        if (r < 0) return tls_fail(c, r);
        if (r == 0) return feed_cipher(c, progress);
        *progress = 1;
        if (tls_on(c, now) < 0) return -1;
    }
    /* Plaintext is taken out also after the socket's end of file: the last command may have
     * come with it. */
    char tmp[SMTP_IO_CHUNK];
    while (c->in.len == 0 && !c->filter_end && !c->done) {
        smtp_ssize n = f->read(f->ctx, tmp, sizeof tmp);
        if (n < 0) {
            /* close_notify, or a broken stream: the end of input either way. Ciphertext kept
             * for the filter can no longer be read: dropped, or the end would wait for a
             * filter that takes nothing more. */
            c->filter_end = 1;
            peer_gone(c);
            buf_clear(c, &c->cin);
            *progress = 1;
            break;
        }
        if (n == 0) break;
        *progress = 1;
        if (deliver_plain(c, tmp, (size_t)n, now) < 0) return -1;
    }
    if (c->done) return -1;
    return c->filter_end ? 0 : feed_cipher(c, progress);
}

/* Creates the filter and starts the handshake. */
static int start_tls(smtp_io_conn *c, int64_t now)
{
    if (!c->set.tls_new) return tls_fail(c, SMTP_ERR_INVALID_STATE);
    smtp_io_filter *f = smtp_calloc(c->mem, 1, sizeof *f);
    if (!f) {
        if (c->cli && smtp_client_want_tls(c->cli)) (void)smtp_client_tls_done(c->cli, 0);
        return fail(c, SMTP_IO_ERROR, SMTP_ERR_NOMEM);
    }
    int r = c->set.tls_new(f, c, c->set.user_data);
    if (r < 0 || !f->handshake || !f->feed || !f->pull || !f->read || !f->write) {
        if (r >= 0 && f->del) f->del(f->ctx);
        smtp_free(c->mem, f);
        return tls_fail(c, r < 0 ? r : SMTP_ERR_INVALID_ARGUMENT);
    }
    c->filter = f;
    c->tls = SMTP_IO_TLS_HANDSHAKE;
    c->phase_deadline =
        c->set.handshake_timeout_ms ? now + c->set.handshake_timeout_ms : SMTP_IO_NEVER;
    return 0;
}

/* STARTTLS: start once the engine asked and everything before was written out. */
static int maybe_start_tls(smtp_io_conn *c, int64_t now, int *progress)
{
    if (c->filter || c->out.len) return 0;
    if (c->srv) {
        if (!smtp_server_want_tls(c->srv) || smtp_server_want_write(c->srv)) return 0;
        buf_clear(c, &c->in); /* pipelined over the boundary: reported by the engine, dropped */
    } else {
        if (!smtp_client_want_tls(c->cli)) return 0;
        if (c->in.len) {
            /* Bytes after the 220 (RFC 3207 5): let the engine report the injection. */
            smtp_ssize n = smtp_client_read(c->cli, c->in.ptr, c->in.len);
            return fail(c, SMTP_IO_ERROR, n < 0 ? (int)n : SMTP_ERR_PROTO);
        }
    }
    *progress = 1;
    return start_tls(c, now);
}

/* Reads the socket while the next stage can take bytes. */
static int want_socket_read(const smtp_io_conn *c)
{
    if (c->done || c->eof_seen || c->cin.len || c->lingering) return 0;
    if (c->tls == SMTP_IO_TLS_HANDSHAKE) return 1;
    return c->in.len == 0 && engine_wants_read(c);
}

static int read_socket(smtp_io_conn *c, int64_t now)
{
    static const int max_reads = 4; /* then let other connections have their turn */
    char buf[SMTP_IO_MAX_READ];
    for (int i = 0; i < max_reads && want_socket_read(c); i++) {
        ssize_t n = recv(c->fd, buf, c->set.read_size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ECONNRESET) {
                peer_gone(c);
                break;
            }
            return fail(c, SMTP_IO_SYSERR, errno);
        }
        if (n == 0) {
            peer_gone(c);
            break;
        }
        int r =
            c->filter ? deliver_cipher(c, buf, (size_t)n) : deliver_plain(c, buf, (size_t)n, now);
        if (r < 0) return -1;
        if ((size_t)n < c->set.read_size) break;
    }
    return 0;
}

/* Graceful stop: 421 once no transaction is open. */
static void maybe_drain(smtp_io_conn *c)
{
    if (!c->drain || !c->srv || c->done || smtp_io_conn_busy(c)) return;
    c->drain = 0;
    (void)smtp_server_shutdown(c->srv); /* INVALID_STATE when already closing: fine */
}

/* The engine is finished: close once everything was written, else linger. */
static void check_closed(smtp_io_conn *c, int64_t now)
{
    if (c->done) return;
    if (c->eof_seen && !c->eof_given && c->cin.len == 0 &&
        (c->in.len == 0 || (!c->paused && !engine_wants_read(c))) &&
        !(c->srv && smtp_server_pending(c->srv))) {
        int was_closed = engine_closed(c);
        engine_eof(c);
        if (!was_closed) {
            smtp_io_conn_finish(c, SMTP_IO_EOF, 0);
            return;
        }
    }
    if (!engine_closed(c)) return;
    if (c->out.len == 0 && c->pout.len == 0) {
        smtp_io_conn_finish(c, c->timed_out ? SMTP_IO_TIMEOUT : SMTP_IO_DONE, 0);
        return;
    }
    if (!c->lingering) {
        c->lingering = 1;
        c->phase_deadline = now + c->set.linger_ms;
    }
}

static void update_deadline(smtp_io_conn *c, int64_t now)
{
    if (c->done) {
        c->deadline = SMTP_IO_NEVER;
        return;
    }
    int kind;
    uint32_t ms = 0;
    if (c->srv) {
        kind = (int)smtp_server_timeout(c->srv, &ms);
        if (ms && c->set.server_timeout_cap_ms && ms > c->set.server_timeout_cap_ms)
            ms = c->set.server_timeout_cap_ms;
    } else {
        kind = (int)smtp_client_timeout(c->cli, &ms);
    }
    if (kind != c->wait_kind) {
        c->wait_kind = kind;
        c->wait_start = now;
    }
    c->wait_ms = ms;
    int64_t d = c->phase_deadline;
    if (ms && !c->lingering && c->tls != SMTP_IO_TLS_HANDSHAKE && c->wait_start + ms < d)
        d = c->wait_start + ms;
    if ((c->out.len || c->pout.len) && c->set.write_timeout_ms &&
        c->write_since + c->set.write_timeout_ms < d)
        d = c->write_since + c->set.write_timeout_ms;
    if (c->holding && c->hold_until < d) d = c->hold_until;
    c->deadline = d;
}

/* Moves bytes every way until nothing moves, then settles the end and the deadline. */
static int pump(smtp_io_conn *c, int64_t now)
{
    for (int round = 0; round < 10000 && !c->done; round++) {
        int progress = 0;
        if (call_progress(c) < 0) break;
        maybe_drain(c);
        if (push_output(c, now, &progress) < 0) break;
        if (maybe_start_tls(c, now, &progress) < 0) break;
        if (c->filter && run_filter(c, now, &progress) < 0) break;
        /* A handshake step may have produced records (a client's first flight). */
        if (c->filter && push_output(c, now, &progress) < 0) break;
        if (feed_in(c, now, &progress) < 0) break;
        if (!progress) break;
    }
    check_closed(c, now);
    update_deadline(c, now);
    if (c->done && c->status == SMTP_IO_ERROR)
        return c->detail < 0 ? c->detail : SMTP_ERR_INVALID_STATE;
    return 0;
}

/* ---- life cycle ---- */

int smtp_io_conn_alloc(smtp_io_conn **pc, int fd, const smtp_io_settings *settings,
                       const smtp_mem *mem)
{
    mem = smtp_mem_or_default(mem);
    smtp_io_conn *c = smtp_calloc(mem, 1, sizeof *c);
    if (!c) return SMTP_ERR_NOMEM;
    c->fd = fd;
    c->mem = mem;
    c->set = *settings;
    c->deadline = SMTP_IO_NEVER;
    c->phase_deadline = SMTP_IO_NEVER;
    c->wait_kind = -1;
    c->pe.fd = fd;
    c->pe.kind = SMTP_IO_ENT_CONN;
    *pc = c;
    return 0;
}

void smtp_io_conn_free(smtp_io_conn *c)
{
    if (!c) return;
    if (c->filter) {
        if (c->filter->del) c->filter->del(c->filter->ctx);
        smtp_free(c->mem, c->filter);
    }
    smtp_server_del(c->srv);
    buf_clear(c, &c->in);
    buf_clear(c, &c->cin);
    buf_clear(c, &c->pout);
    buf_clear(c, &c->out);
    smtp_free(c->mem, c);
}

/* Puts the descriptor in the mode the connection needs. */
static void prepare_fd(int fd)
{
    (void)smtp_io_fd_nonblock(fd, 1);
    smtp_io_fd_cloexec(fd);
    smtp_io_fd_nodelay(fd);
}

int smtp_io_conn_new_client_versioned(smtp_io_conn **pc, int fd, smtp_client *cli,
                                      int settings_version, const smtp_io_settings *settings,
                                      const smtp_mem *mem)
{
    if (!pc) return SMTP_ERR_INVALID_ARGUMENT;
    *pc = NULL;
    if (!cli || fd < 0) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_io_settings set;
    int r = smtp_io_settings_copy(settings_version, settings, &set);
    smtp_io_conn *c = NULL;
    if (r == 0) r = smtp_io_conn_alloc(&c, fd, &set, mem);
    if (r < 0) return r;
    c->cli = cli;
    prepare_fd(fd);
    int64_t now = smtp_io_now_ms();
    c->write_since = now;
    if (c->set.implicit_tls) (void)start_tls(c, now);
    (void)pump(c, now);
    *pc = c;
    return 0;
}

int smtp_io_conn_init_server(smtp_io_conn *c, const smtp_io_server_args *a, int64_t now)
{
    int r = smtp_server_new_versioned(&c->srv, a->callbacks_version, a->callbacks,
                                      a->settings_version, a->settings, c->mem, a->user_data);
    if (r < 0) return r;
    prepare_fd(c->fd);
    smtp_io_fd_tell_peer(c->fd, c->srv);
    c->write_since = now;
    c->sync_probe = a->settings && (a->settings->flags & SMTP_SERVER_STRICT_PIPELINING) != 0;
    r = smtp_server_start(c->srv);
    if (r < 0) return r;
    if (c->set.implicit_tls) (void)start_tls(c, now);
    (void)pump(c, now);
    return 0;
}

int smtp_io_conn_new_server_versioned(smtp_io_conn **pc, int fd, int callbacks_version,
                                      const smtp_server_callbacks *callbacks,
                                      int server_settings_version,
                                      const smtp_server_settings *server_settings, void *user_data,
                                      int settings_version, const smtp_io_settings *settings,
                                      const smtp_mem *mem)
{
    if (!pc) return SMTP_ERR_INVALID_ARGUMENT;
    *pc = NULL;
    if (fd < 0) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_io_settings set;
    int r = smtp_io_settings_copy(settings_version, settings, &set);
    smtp_io_conn *c = NULL;
    if (r == 0) r = smtp_io_conn_alloc(&c, fd, &set, mem);
    if (r < 0) return r;
    smtp_io_server_args a = {callbacks_version, callbacks, server_settings_version, server_settings,
                             user_data};
    r = smtp_io_conn_init_server(c, &a, smtp_io_now_ms());
    if (r < 0) {
        smtp_io_conn_free(c);
        return r;
    }
    *pc = c;
    return 0;
}

/* Best effort: queue a close_notify and send it once, without waiting. */
static void send_close_notify(smtp_io_conn *c)
{
    if (!c->filter || c->tls != SMTP_IO_TLS_ON || !c->filter->close || c->out.len) return;
    c->filter->close(c->filter->ctx);
    char tmp[SMTP_IO_CHUNK];
    smtp_ssize n = c->filter->pull(c->filter->ctx, tmp, sizeof tmp);
    if (n > 0) (void)send(c->fd, tmp, (size_t)n, SMTP_IO_SEND_FLAGS);
}

void smtp_io_conn_del(smtp_io_conn *c)
{
    if (!c) return;
    if (!c->done) smtp_io_conn_finish(c, SMTP_IO_SHUTDOWN, 0);
    if (c->status == SMTP_IO_DONE || c->status == SMTP_IO_TIMEOUT) send_close_notify(c);
    if (c->fd >= 0) close(c->fd);
    smtp_io_conn_free(c);
}

/* ---- queries ---- */

int smtp_io_conn_fd(const smtp_io_conn *c)
{
    return c ? c->fd : -1;
}

smtp_client *smtp_io_conn_client(const smtp_io_conn *c)
{
    return c ? c->cli : NULL;
}

smtp_server *smtp_io_conn_server(const smtp_io_conn *c)
{
    return c ? c->srv : NULL;
}

void *smtp_io_conn_session_data(const smtp_io_conn *c)
{
    return c ? c->loop_data : NULL;
}

const smtp_io_filter *smtp_io_conn_filter(const smtp_io_conn *c)
{
    return c ? c->filter : NULL;
}

int smtp_io_conn_tls(const smtp_io_conn *c)
{
    return c && c->tls == SMTP_IO_TLS_ON;
}

int smtp_io_conn_busy(const smtp_io_conn *c)
{
    return c && c->srv && (smtp_server_in_transaction(c->srv) || smtp_server_pending(c->srv));
}

int smtp_io_conn_pause(smtp_io_conn *c, int paused)
{
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    c->paused = paused != 0;
    return 0;
}

int smtp_io_conn_paused(const smtp_io_conn *c)
{
    return c && c->paused;
}

unsigned smtp_io_conn_events(const smtp_io_conn *c)
{
    if (!c || c->done) return 0;
    unsigned ev = 0;
    if (c->out.len) ev |= SMTP_IO_WRITE;
    if (want_socket_read(c)) ev |= SMTP_IO_READ;
    return ev;
}

int64_t smtp_io_conn_deadline(const smtp_io_conn *c)
{
    return c ? c->deadline : SMTP_IO_NEVER;
}

int smtp_io_conn_done(const smtp_io_conn *c)
{
    return !c || c->done;
}

smtp_io_status smtp_io_conn_status(const smtp_io_conn *c, int *detail)
{
    if (detail) *detail = c ? c->detail : 0;
    return c ? c->status : SMTP_IO_OK;
}

/* ---- handlers ---- */

static int finished(const smtp_io_conn *c)
{
    return c->status == SMTP_IO_ERROR && c->detail < 0 ? c->detail : 0;
}

int smtp_io_conn_on_readable(smtp_io_conn *c, int64_t now)
{
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->done) return finished(c);
    if (read_socket(c, now) < 0) return finished(c);
    return pump(c, now);
}

int smtp_io_conn_on_writable(smtp_io_conn *c, int64_t now)
{
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->done) return finished(c);
    return pump(c, now);
}

int smtp_io_conn_flush(smtp_io_conn *c, int64_t now)
{
    return smtp_io_conn_on_writable(c, now);
}

/* Which deadline passed, and what it means. */
static int expire(smtp_io_conn *c, int64_t now)
{
    if (c->lingering && now >= c->phase_deadline)
        return fail(c, c->timed_out ? SMTP_IO_TIMEOUT : SMTP_IO_DONE, 0);
    if (c->tls == SMTP_IO_TLS_HANDSHAKE && now >= c->phase_deadline) {
        if (c->cli && smtp_client_want_tls(c->cli)) (void)smtp_client_tls_done(c->cli, 0);
        return fail(c, SMTP_IO_TIMEOUT, 0);
    }
    if ((c->out.len || c->pout.len) && c->set.write_timeout_ms &&
        now >= c->write_since + c->set.write_timeout_ms) {
        /* The peer reads nothing: no 421 could reach it. Drop what is in progress. */
        if (c->srv)
            (void)smtp_server_timeout_expired(c->srv);
        else
            (void)smtp_client_timeout_expired(c->cli);
        return fail(c, SMTP_IO_TIMEOUT, 0);
    }
    if (c->wait_ms && now >= c->wait_start + c->wait_ms) {
        c->timed_out = 1;
        int r = c->srv ? smtp_server_timeout_expired(c->srv) : smtp_client_timeout_expired(c->cli);
        if (r == SMTP_ERR_CALLBACK_FAILURE) return fail(c, SMTP_IO_ERROR, r);
        if (r < 0) return fail(c, SMTP_IO_TIMEOUT, 0);
    }
    return 0;
}

int smtp_io_conn_on_timer(smtp_io_conn *c, int64_t now)
{
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->done) return finished(c);
    if (now >= c->deadline && expire(c, now) < 0) return finished(c);
    return pump(c, now);
}

int smtp_io_conn_drain(smtp_io_conn *c, int force, int64_t now)
{
    if (c->done) return 0;
    if (c->cli) {
        /* A client finishes its message in progress, then quits; cut when forced. */
        if (force) {
            smtp_io_conn_finish(c, SMTP_IO_SHUTDOWN, 0);
            return 0;
        }
        (void)smtp_client_quit(c->cli); /* INVALID_STATE when already quitting: fine */
        return pump(c, now);
    }
    c->drain = 1;
    if (force) {
        c->drain = 0;
        (void)smtp_server_shutdown(c->srv);
    }
    return pump(c, now);
}
