/* SPDX-License-Identifier: MIT */
/*
 * smtp_tls_client_run: the common client task in one blocking call (tls.h). It connects with
 * the I/O adapter, gives the connection a TLS factory that verifies the server's name against
 * a CA file or the system's store, and runs the session; the reason of a TLS failure is kept
 * for the caller (smtp_tls_client_run_err) as the session is freed. The TLS configuration is made
 * only when the session asks for TLS (implicit TLS, or the server's 220 to STARTTLS), so a session
 * without TLS never needs a CA. The filter tells the engine whether the server's certificate
 * verified (smtp_tls_io_filter_report), which REQUIRETLS needs.
 */
#include "tls_internal.h"

#include <smtp/io.h>

#include <string.h>

struct client_run {
    const char *host;
    const char *ca_file;
    smtp_tls_config *cfg;
    char *err; /* the caller's buffer for the reason of a TLS failure, or NULL */
    size_t errlen;
};

static int tls_new(smtp_io_filter *filter, smtp_io_conn *conn, void *user_data)
{
    struct client_run *r = user_data;
    if (!r->cfg) {
        smtp_tls_settings ts;
        smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
        ts.ca_file = r->ca_file; /* NULL: the system's store (smtp_tls_settings) */
        int rc = smtp_tls_config_new(&r->cfg, &ts, NULL, r->err, r->errlen);
        if (rc != 0) return rc;
    }
    int rc = smtp_tls_io_filter_new(filter, r->cfg, r->host, NULL);
    if (rc == 0 && r->err) smtp_tls_keep_failure(filter->ctx, r->err, r->errlen);
    /* RFC 8689 4.2: REQUIRETLS once the server's certificate verified (against r->host). */
    if (rc == 0) (void)smtp_tls_io_filter_report(filter, smtp_io_conn_client(conn));
    return rc;
}

smtp_io_status smtp_tls_client_run_err(smtp_client *cli, const char *host, const char *port,
                                       const char *ca_file, uint32_t timeout_ms, int *detail,
                                       char *err, size_t errlen)
{
    int ignored;
    if (!detail) detail = &ignored;
    *detail = 0;
    if (err && errlen > 0) err[0] = '\0';
    if (!err) errlen = 0;
    if (!cli || !host) {
        *detail = SMTP_ERR_INVALID_ARGUMENT;
        return SMTP_IO_ERROR;
    }
    int implicit = smtp_client_tls(cli);
    if (!port) port = implicit ? "465" : "25";
    smtp_io_status st;
    int fd = smtp_io_connect(host, port, timeout_ms, &st, detail);
    if (fd < 0) return st;
    struct client_run r = {host, ca_file, NULL, errlen > 0 ? err : NULL, errlen};
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    io.tls_new = tls_new;
    io.user_data = &r;
    io.implicit_tls = implicit;
    st = smtp_io_client_run(cli, fd, &io, NULL, detail);
    smtp_tls_config_del(r.cfg);
    /* A TLS failure with no word from the config or the session (a session that failed
     * only in the adapter): the status's text. */
    if (st == SMTP_IO_TLS && errlen > 0 && err[0] == '\0')
        smtp_io_status_text(st, *detail, err, errlen);
    if (st != SMTP_IO_TLS && errlen > 0) err[0] = '\0';
    return st;
}

smtp_io_status smtp_tls_client_run(smtp_client *cli, const char *host, const char *port,
                                   const char *ca_file, uint32_t timeout_ms, int *detail)
{
    return smtp_tls_client_run_err(cli, host, port, ca_file, timeout_ms, detail, NULL, 0);
}
