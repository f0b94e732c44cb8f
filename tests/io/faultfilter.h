/* SPDX-License-Identifier: MIT */
/*
 * A fault-injecting byte-stream filter for the adapter's tests: the toy of toyfilter.h (a
 * handshake, then every byte changed on the wire), made to behave as a slow or failing TLS
 * peer or library would:
 *  - slow: each call feeds, pulls, reads or writes at most a few octets (a peer that sends
 *    its records one octet at a time, a library with small buffers);
 *  - an alert during the handshake: once the peer's hello arrived, the handshake fails;
 *  - the stream ends in the middle (a close_notify, or an alert the library reports as the
 *    end): read returns a negative value after so many octets of plaintext;
 *  - a record that does not decrypt (bad MAC): feed fails after so many octets of ciphertext;
 *  - pull or write fail (an alert to send, a library error).
 * ff_knobs[0] sets up the server's filters, ff_knobs[1] the client's; ff_counts counts what
 * happened to them (made, close_notify queued, freed).
 */
#ifndef SMTP_IO_FAULTFILTER_H
#define SMTP_IO_FAULTFILTER_H

#include "toyfilter.h"

struct ff_knobs {
    size_t feed_max, pull_max, read_max, write_max; /* octets per call at most; 0: no limit */
    int handshake_fail;      /* < 0: the handshake fails with it once the peer's hello came */
    size_t read_end_after;   /* with read_end: the plaintext octets read before the end */
    int read_end;            /* < 0: what read returns then (the end of the stream) */
    size_t feed_fail_after;  /* with feed_fail: the ciphertext octets fed before it fails */
    int feed_fail;           /* < 0 */
    int pull_fail;           /* < 0: pull fails with it once the handshake is done */
    size_t write_fail_after; /* with write_fail: the plaintext octets taken before it fails */
    int write_fail;          /* < 0 */
};

struct ff_counts {
    int made, closes, dels;
};

static struct ff_knobs ff_knobs[2];
static struct ff_counts ff_counts[2];

struct ff {
    struct toy *toy; /* made by toy_new */
    struct ff_knobs k;
    int role; /* 0: server, 1: client */
    size_t fed, read, written;
};

static inline size_t ff_cap(size_t len, size_t max)
{
    return max && len > max ? max : len;
}

static int ff_handshake(void *ctx)
{
    struct ff *f = ctx;
    if (f->k.handshake_fail && f->toy->got) return f->k.handshake_fail;
    return toy_handshake(f->toy);
}

static smtp_ssize ff_feed(void *ctx, const char *data, size_t len)
{
    struct ff *f = ctx;
    if (f->k.feed_fail && f->fed + len > f->k.feed_fail_after) return f->k.feed_fail;
    smtp_ssize n = toy_feed(f->toy, data, ff_cap(len, f->k.feed_max));
    if (n > 0) f->fed += (size_t)n;
    return n;
}

static smtp_ssize ff_pull(void *ctx, char *dest, size_t cap)
{
    struct ff *f = ctx;
    if (f->k.pull_fail && f->toy->sent && f->toy->got) return f->k.pull_fail;
    return toy_pull(f->toy, dest, ff_cap(cap, f->k.pull_max));
}

static smtp_ssize ff_read(void *ctx, char *dest, size_t cap)
{
    struct ff *f = ctx;
    if (f->k.read_end) {
        if (f->read >= f->k.read_end_after) return f->k.read_end;
        cap = ff_cap(cap, f->k.read_end_after - f->read);
    }
    smtp_ssize n = toy_read(f->toy, dest, ff_cap(cap, f->k.read_max));
    if (n > 0) f->read += (size_t)n;
    return n;
}

static smtp_ssize ff_write(void *ctx, const char *data, size_t len)
{
    struct ff *f = ctx;
    if (f->k.write_fail && f->written + len > f->k.write_fail_after) return f->k.write_fail;
    smtp_ssize n = toy_write(f->toy, data, ff_cap(len, f->k.write_max));
    if (n > 0) f->written += (size_t)n;
    return n;
}

static void ff_close(void *ctx)
{
    ff_counts[((struct ff *)ctx)->role].closes++;
}

static void ff_del(void *ctx)
{
    struct ff *f = ctx;
    ff_counts[f->role].dels++;
    toy_del(f->toy);
    free(f);
}

/* The factory (smtp_io_tls_factory). */
static int ff_new(smtp_io_filter *filter, smtp_io_conn *conn, void *user_data)
{
    struct ff *f = calloc(1, sizeof *f);
    if (!f || toy_new(filter, conn, user_data) < 0) {
        free(f);
        return SMTP_ERR_NOMEM;
    }
    f->toy = filter->ctx;
    f->role = smtp_io_conn_server(conn) ? 0 : 1;
    f->k = ff_knobs[f->role];
    ff_counts[f->role].made++;
    filter->ctx = f;
    filter->handshake = ff_handshake;
    filter->feed = ff_feed;
    filter->pull = ff_pull;
    filter->read = ff_read;
    filter->write = ff_write;
    filter->close = ff_close;
    filter->del = ff_del;
    return 0;
}

/* Sets every knob and count back to zero. */
static inline void ff_reset(void)
{
    memset(ff_knobs, 0, sizeof ff_knobs);
    memset(ff_counts, 0, sizeof ff_counts);
}

#endif
