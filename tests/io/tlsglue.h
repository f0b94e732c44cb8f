/*
 * The TLS adapter's session (<smtp/tls.h>) as the I/O adapter's filter (smtp_io_filter): a
 * line per function. The programs have their own copy (examples/tls_glue.c); this one serves
 * the tests. A config per role is set in the globals before connections start.
 */
#ifndef SMTP_IO_TLSGLUE_H
#define SMTP_IO_TLSGLUE_H

#include <smtp/io.h>
#include <smtp/tls.h>

static smtp_tls_config *glue_client_cfg, *glue_server_cfg;
static const char *glue_host = "localhost";
static int glue_made;

static int glue_handshake(void *ctx)
{
    switch (smtp_tls_get_state(ctx)) {
    case SMTP_TLS_OPEN:
    case SMTP_TLS_CLOSED: return 1;
    case SMTP_TLS_FAILED: return SMTP_ERR_PROTO;
    default: return 0;
    }
}

static smtp_ssize glue_feed(void *ctx, const char *data, size_t len)
{
    return smtp_tls_feed(ctx, data, len);
}

static smtp_ssize glue_pull(void *ctx, char *dest, size_t cap)
{
    return smtp_tls_pull(ctx, dest, cap);
}

static smtp_ssize glue_read(void *ctx, char *dest, size_t cap)
{
    smtp_ssize n = smtp_tls_read(ctx, dest, cap);
    /* The peer's close_notify: the end of the plaintext stream. */
    if (n == 0 && smtp_tls_get_state(ctx) == SMTP_TLS_CLOSED) return SMTP_ERR_PROTO;
    return n;
}

static smtp_ssize glue_write(void *ctx, const char *data, size_t len)
{
    return smtp_tls_write(ctx, data, len);
}

static void glue_close(void *ctx)
{
    (void)smtp_tls_close(ctx);
}

static void glue_del(void *ctx)
{
    smtp_tls_del(ctx);
}

/* The factory: a server session, or a client one that verifies glue_host. */
static int glue_new(smtp_io_filter *f, smtp_io_conn *conn, void *user_data)
{
    (void)user_data;
    int server = smtp_io_conn_server(conn) != NULL;
    smtp_tls *tls;
    int r = smtp_tls_new(&tls, server ? glue_server_cfg : glue_client_cfg,
                         server ? NULL : glue_host, NULL);
    if (r < 0) return r;
    glue_made++;
    f->ctx = tls;
    f->handshake = glue_handshake;
    f->feed = glue_feed;
    f->pull = glue_pull;
    f->read = glue_read;
    f->write = glue_write;
    f->close = glue_close;
    f->del = glue_del;
    return 0;
}

#endif
