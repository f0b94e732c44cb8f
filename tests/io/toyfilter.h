/* SPDX-License-Identifier: MIT */
/*
 * A toy byte-stream filter for the TLS seam's tests, no cryptography: each side sends
 * "TOYHELLO\n" as its handshake (the server after the client's, as in TLS) and waits for
 * the peer's; then every byte is XORed with 0x5a
 * both ways, so plaintext never shows on the wire and a side that did not start the filter
 * reads garbage. Bounded buffers, so that feed and write may take less than offered.
 */
#ifndef SMTP_IO_TOYFILTER_H
#define SMTP_IO_TOYFILTER_H

#include <smtp/io.h>

#include <stdlib.h>
#include <string.h>

#define TOY_HELLO "TOYHELLO\n"
#define TOY_CAP 3000

struct toy {
    char in[TOY_CAP];
    size_t in_len;
    char out[TOY_CAP];
    size_t out_len;
    char hello[sizeof TOY_HELLO];
    size_t hello_len;
    int sent, got, failed;
    int server; /* like TLS, the server speaks only after the client's hello */
};

static inline size_t toy_room(size_t len)
{
    return TOY_CAP - len;
}

static int toy_handshake(void *ctx)
{
    struct toy *t = ctx;
    if (t->failed) return SMTP_ERR_PROTO;
    if (!t->sent && (!t->server || t->got) && toy_room(t->out_len) >= strlen(TOY_HELLO)) {
        memcpy(t->out + t->out_len, TOY_HELLO, strlen(TOY_HELLO));
        t->out_len += strlen(TOY_HELLO);
        t->sent = 1;
    }
    return t->sent && t->got;
}

static smtp_ssize toy_feed(void *ctx, const char *data, size_t len)
{
    struct toy *t = ctx;
    size_t used = 0;
    while (!t->got && used < len) {
        t->hello[t->hello_len++] = data[used++];
        if (t->hello_len == strlen(TOY_HELLO)) {
            t->got = 1;
            if (memcmp(t->hello, TOY_HELLO, t->hello_len) != 0) t->failed = 1;
        }
    }
    if (t->failed) return SMTP_ERR_PROTO;
    size_t n = len - used;
    if (n > toy_room(t->in_len)) n = toy_room(t->in_len);
    for (size_t i = 0; i < n; i++)
        t->in[t->in_len + i] = (char)(data[used + i] ^ 0x5a);
    t->in_len += n;
    return (smtp_ssize)(used + n);
}

static smtp_ssize toy_take(char *buf, size_t *len, char *dest, size_t cap)
{
    size_t n = *len < cap ? *len : cap;
    memcpy(dest, buf, n);
    memmove(buf, buf + n, *len - n);
    *len -= n;
    return (smtp_ssize)n;
}

static smtp_ssize toy_pull(void *ctx, char *dest, size_t cap)
{
    struct toy *t = ctx;
    return toy_take(t->out, &t->out_len, dest, cap);
}

static smtp_ssize toy_read(void *ctx, char *dest, size_t cap)
{
    struct toy *t = ctx;
    return toy_take(t->in, &t->in_len, dest, cap);
}

static smtp_ssize toy_write(void *ctx, const char *data, size_t len)
{
    struct toy *t = ctx;
    if (!t->sent) return 0;
    size_t n = len < toy_room(t->out_len) ? len : toy_room(t->out_len);
    for (size_t i = 0; i < n; i++)
        t->out[t->out_len + i] = (char)(data[i] ^ 0x5a);
    t->out_len += n;
    return (smtp_ssize)n;
}

static void toy_del(void *ctx)
{
    free(ctx);
}

/* Filters made in this process. */
static int toy_made;

/* The factory (smtp_io_tls_factory). */
static int toy_new(smtp_io_filter *f, smtp_io_conn *conn, void *user_data)
{
    (void)user_data;
    struct toy *t = calloc(1, sizeof *t);
    if (!t) return SMTP_ERR_NOMEM;
    t->server = smtp_io_conn_server(conn) != NULL;
    toy_made++;
    f->ctx = t;
    f->handshake = toy_handshake;
    f->feed = toy_feed;
    f->pull = toy_pull;
    f->read = toy_read;
    f->write = toy_write;
    f->close = NULL;
    f->del = toy_del;
    return 0;
}

#endif
