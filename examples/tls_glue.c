/*
 * The smtp_tls session as an smtp_io_filter (tls_glue.h). The two interfaces are the same
 * shape (feed ciphertext, pull ciphertext, read and write plaintext); what differs is the
 * signalling: the filter's handshake() reports the session's state (the handshake itself
 * advances inside feed and pull), and a session closed by the peer's close_notify reads as a
 * negative value, which the adapter takes for the end of the stream.
 */
#include "tls_glue.h"

#include <stdio.h>
#include <unistd.h>

static int f_handshake(void *ctx)
{
    switch (smtp_tls_get_state(ctx)) {
    case SMTP_TLS_HANDSHAKE: return 0;
    case SMTP_TLS_OPEN: return 1;
    case SMTP_TLS_CLOSED:
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

int ex_tls_filter(ex_tls *t, smtp_io_filter *f)
{
    smtp_tls *tls;
    int rc = smtp_tls_new(&tls, t->cfg, t->host, NULL);
    if (rc != 0) return rc;
    f->ctx = tls;
    f->handshake = f_handshake;
    f->feed = f_feed;
    f->pull = f_pull;
    f->read = f_read;
    f->write = f_write;
    f->close = f_close;
    f->del = f_del;
    return 0;
}

int ex_tls_client_init(ex_tls *t, const char *cafile, int no_verify, const char *host, char *err,
                       size_t errlen)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    t->host = host;
    if (no_verify) {
        ts.verify = SMTP_TLS_VERIFY_NONE;
    } else if (cafile != NULL) {
        ts.ca_file = cafile;
    } else if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
        ts.ca_file = "/etc/ssl/certs/ca-certificates.crt"; /* Debian's bundle */
    } else {
        ts.ca_path = "/etc/ssl/certs";
    }
    return smtp_tls_config_new(&t->cfg, &ts, NULL, err, errlen) == 0 ? 0 : -1;
}

int ex_tls_server_init(ex_tls *t, const char *cert, const char *key, char *err, size_t errlen)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_SERVER);
    ts.cert_file = cert;
    ts.key_file = key;
    t->host = NULL;
    return smtp_tls_config_new(&t->cfg, &ts, NULL, err, errlen) == 0 ? 0 : -1;
}

void ex_tls_free(ex_tls *t)
{
    smtp_tls_config_del(t->cfg);
    t->cfg = NULL;
}

void ex_tls_describe(const smtp_io_conn *conn, char *buf, size_t cap)
{
    const smtp_io_filter *f = smtp_io_conn_filter(conn);
    const char *v = f != NULL ? smtp_tls_version(f->ctx) : NULL;
    const char *c = f != NULL ? smtp_tls_ciphersuite(f->ctx) : NULL;
    snprintf(buf, cap, "%s %s", v != NULL ? v : "?", c != NULL ? c : "?");
}
