/* SPDX-License-Identifier: MIT */
/*
 * TLS for smtp-send and smtp-sink (tls_glue.h): the programs' choice of CAs and files. The
 * session itself runs under the I/O adapter through smtp_tls_io_filter_new (<smtp/tls.h>).
 */
#include "tls_glue.h"

#include <stdio.h>

int ex_tls_filter(ex_tls *t, smtp_io_filter *f)
{
    int rc = smtp_tls_io_filter_new(f, t->cfg, t->host, NULL);
    if (rc == 0 && t->dane.ntlsa > 0 &&
        (rc = smtp_tls_set_dane(smtp_tls_io_filter_session(f), &t->dane)) != 0)
        f->del(f->ctx);
    return rc;
}

void ex_tls_dane(ex_tls *t, const smtp_tls_tlsa *tlsa, size_t n, const char *base_domain)
{
    smtp_tls_dane_init(&t->dane);
    t->dane.tlsa = tlsa;
    t->dane.ntlsa = n;
    t->dane.base_domain = base_domain; /* the MX host: t->host, the library's default */
}

/* The connection's TLS session, or NULL. */
static smtp_tls *conn_tls(const smtp_io_conn *conn)
{
    return conn != NULL ? smtp_tls_io_filter_session(smtp_io_conn_filter(conn)) : NULL;
}

int ex_tls_dane_text(const smtp_io_conn *conn, char *buf, size_t cap)
{
    smtp_tls *tls = conn_tls(conn);
    buf[0] = '\0';
    if (smtp_tls_dane_result(tls, NULL, NULL) == SMTP_TLS_DANE_OFF) return 0;
    smtp_tls_verify_text(tls, buf, cap);
    return 1;
}

int ex_tls_unverified(const smtp_io_conn *conn, char *buf, size_t cap)
{
    smtp_tls *tls = conn_tls(conn);
    buf[0] = '\0';
    if (tls == NULL || smtp_tls_verify_result(tls) == 0) return 0;
    smtp_tls_verify_text(tls, buf, cap);
    return 1;
}

int ex_tls_client_init(ex_tls *t, const char *cafile, int no_verify, const char *host, char *err,
                       size_t errlen)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    t->host = host;
    smtp_tls_dane_init(&t->dane);
    if (no_verify == EX_TLS_VERIFY_OPTIONAL) {
        ts.verify = SMTP_TLS_VERIFY_OPTIONAL; /* checked, reported, not enforced */
        ts.ca_file = cafile;
    } else if (no_verify) {
        ts.verify = SMTP_TLS_VERIFY_NONE;
    } else {
        ts.ca_file = cafile; /* NULL: the system's store (smtp_tls_settings) */
    }
    return smtp_tls_config_new(&t->cfg, &ts, NULL, err, errlen) == 0 ? 0 : -1;
}

/* The session tickets' lifetime of the next server config (ex_tls_server_tickets); 0: none. */
static unsigned server_tickets;

void ex_tls_server_tickets(unsigned lifetime)
{
    server_tickets = lifetime;
}

int ex_tls_server_init(ex_tls *t, const char *cert, const char *key, char *err, size_t errlen)
{
    smtp_tls_settings ts;
    smtp_tls_settings_init(&ts, SMTP_TLS_SERVER);
    ts.cert_file = cert;
    ts.key_file = key;
    ts.ticket_lifetime = server_tickets;
    /* A server holds many sessions, most of them idle, and writes little: an out queue of
     * 4 KiB instead of a whole record (17 KiB) keeps an idle TLS connection of smtp-sink under
     * 64 KiB (issue #18, BENCHMARKS.md); a longer write only takes more calls. The in queue
     * keeps its default: the I/O adapter reads up to 16 KiB at a time. */
    ts.out_buffer = 4096;
    t->host = NULL;
    smtp_tls_dane_init(&t->dane);
    return smtp_tls_config_new(&t->cfg, &ts, NULL, err, errlen) == 0 ? 0 : -1;
}

void ex_tls_free(ex_tls *t)
{
    smtp_tls_config_del(t->cfg);
    t->cfg = NULL;
}

/* What ex_tls_failure suggests after a certificate that did not verify (ex_tls_verify_hint). */
static const char *verify_hint = "try --cafile FILE or --no-verify";

void ex_tls_verify_hint(const char *hint)
{
    verify_hint = hint;
}

int ex_tls_failure(const smtp_io_conn *conn, char *buf, size_t cap)
{
    smtp_tls *tls = conn_tls(conn);
    buf[0] = '\0';
    if (tls == NULL || smtp_tls_get_state(tls) != SMTP_TLS_FAILED) return 0;
    char why[600];
    smtp_tls_failure_text(tls, why, sizeof why);
    if (smtp_tls_verify_failed(tls) && smtp_tls_dane_result(tls, NULL, NULL) != SMTP_TLS_DANE_OFF)
        snprintf(buf, cap, "TLS: %s", why); /* "DANE authentication failed: ..." */
    else if (smtp_tls_verify_failed(tls))
        snprintf(buf, cap, "TLS: %s; %s", why, verify_hint);
    else
        snprintf(buf, cap, "TLS handshake failed: %s", why);
    return 1;
}

void ex_tls_describe(const smtp_io_conn *conn, char *buf, size_t cap)
{
    const smtp_io_filter *f = smtp_io_conn_filter(conn);
    const char *v = f != NULL ? smtp_tls_version(f->ctx) : NULL;
    const char *c = f != NULL ? smtp_tls_ciphersuite(f->ctx) : NULL;
    snprintf(buf, cap, "%s %s", v != NULL ? v : "?", c != NULL ? c : "?");
}
