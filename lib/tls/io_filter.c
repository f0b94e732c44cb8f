/* SPDX-License-Identifier: MIT */
/*
 * An smtp_tls session as the I/O adapter's byte-stream filter (smtp_io_filter, <smtp/io.h>):
 * the one glue between lib/io and lib/tls, used by smtp-send, smtp-sink and the io tests.
 *
 * The two interfaces have the same shape (feed and pull ciphertext, read and write
 * plaintext); only the signalling differs. The filter's handshake() reports the session's
 * state, since the handshake advances by itself inside feed and pull. A handshake that
 * completed is complete even when the peer's close_notify came right behind it (CLOSED):
 * read() then reports that end. And the adapter takes a negative read() for the end of the
 * stream, so the close_notify (a 0 read in state CLOSED) becomes one.
 */
#include "tls_internal.h"

#include <smtp/io.h>

static int f_handshake(void *ctx)
{
    smtp_client *cli;
    switch (smtp_tls_get_state(ctx)) {
    case SMTP_TLS_HANDSHAKE: return 0;
    case SMTP_TLS_OPEN:
    case SMTP_TLS_CLOSED:
        /* Before the adapter's smtp_client_tls_done: the engine knows it before any MAIL. */
        cli = smtp_tls_take_report(ctx);
        if (cli) (void)smtp_client_tls_verified(cli, smtp_tls_verify_result(ctx) == 0);
        return 1;
    case SMTP_TLS_FAILED: break;
    }
    return SMTP_ERR_PROTO;
}

static smtp_ssize f_feed(void *ctx, const char *data, size_t len)
{
    return smtp_tls_feed(ctx, data, len);
}

static smtp_ssize f_pull(void *ctx, char *dest, size_t cap)
{
    return smtp_tls_pull(ctx, dest, cap);
}

static smtp_ssize f_read(void *ctx, char *dest, size_t cap)
{
    smtp_ssize n = smtp_tls_read(ctx, dest, cap);
    if (n == 0 && smtp_tls_get_state(ctx) == SMTP_TLS_CLOSED) return SMTP_ERR_PROTO;
    return n;
}

static smtp_ssize f_write(void *ctx, const char *data, size_t len)
{
    return smtp_tls_write(ctx, data, len);
}

static void f_close(void *ctx)
{
    (void)smtp_tls_close(ctx); /* refused before the handshake is done: nothing to say then */
}

static void f_del(void *ctx)
{
    smtp_tls_del(ctx);
}

int smtp_tls_io_filter_new(smtp_io_filter *filter, smtp_tls_config *cfg, const char *host,
                           const smtp_mem *mem)
{
    if (!filter) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_tls *tls;
    int rc = smtp_tls_new(&tls, cfg, host, mem);
    if (rc != 0) return rc;
    filter->ctx = tls;
    filter->handshake = f_handshake;
    filter->feed = f_feed;
    filter->pull = f_pull;
    filter->read = f_read;
    filter->write = f_write;
    filter->close = f_close;
    filter->del = f_del;
    return 0;
}

int smtp_tls_io_filter_report(smtp_io_filter *filter, smtp_client *cli)
{
    smtp_tls *tls = smtp_tls_io_filter_session(filter);
    if (!tls) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_tls_set_report(tls, cli);
    return 0;
}

smtp_tls *smtp_tls_io_filter_session(const smtp_io_filter *filter)
{
    /* Only a filter this file filled has an smtp_tls in ctx. */
    if (!filter || filter->handshake != f_handshake) return NULL;
    return filter->ctx;
}
