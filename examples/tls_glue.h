/* SPDX-License-Identifier: MIT */
/*
 * TLS for smtp-send and smtp-sink: the configs the programs load (CAs, certificate and key) and
 * a session of one as the I/O adapter's filter (smtp_tls_io_filter_new). Built only when
 * smtp_tls exists.
 */
#ifndef EX_TLS_GLUE_H
#define EX_TLS_GLUE_H

#include <smtp/io.h>
#include <smtp/tls.h>

#include <stddef.h>

typedef struct ex_tls {
    smtp_tls_config *cfg;
    const char *host;   /* client: the name to verify; NULL for a server */
    smtp_tls_dane dane; /* client: DANE for every session when dane.ntlsa > 0 (ex_tls_dane) */
} ex_tls;

/* ex_tls_client_init's `no_verify` for a verification that is made and reported, not
 * enforced (MTA-STS testing mode): the session goes on when the certificate does not verify. */
#define EX_TLS_VERIFY_OPTIONAL 2

/*
 * ex_tls_client_init loads the client config: the CAs of `cafile`, or the system's store
 * (the library's rule, smtp_tls_settings) when NULL; `no_verify` turns verification off (1) or
 * makes it optional (EX_TLS_VERIFY_OPTIONAL).
 * `host` (borrowed) is sent as SNI (unless an address) and checked against the certificate.
 * Returns 0, or -1 with a reason in err.
 */
int ex_tls_client_init(ex_tls *t, const char *cafile, int no_verify, const char *host, char *err,
                       size_t errlen);

/* ex_tls_server_init loads a server's certificate chain and key. Returns 0 or -1 (err). */
int ex_tls_server_init(ex_tls *t, const char *cert, const char *key, char *err, size_t errlen);

/* ex_tls_server_tickets makes the server configs made after it issue TLS 1.2 session tickets
 * good for `lifetime` seconds (smtp_tls_settings.ticket_lifetime; 0, the default: none). */
void ex_tls_server_tickets(unsigned lifetime);

/*
 * ex_tls_dane makes every session of the client config `t` authenticate the server by the
 * `n` TLSA records (RFC 7672; borrowed, they must outlive the sessions) instead of CAs;
 * `base_domain` is the TLSA base domain (NULL: the host given to ex_tls_client_init).
 */
void ex_tls_dane(ex_tls *t, const smtp_tls_tlsa *tlsa, size_t n, const char *base_domain);

/*
 * ex_tls_dane_text writes DANE's outcome for the connection's session ("DANE-EE TLSA record 1
 * of 1 (3 1 1) matched the server's certificate"). Returns 1, or 0 (buf "") when the session
 * has no DANE.
 */
int ex_tls_dane_text(const smtp_io_conn *conn, char *buf, size_t cap);

/*
 * ex_tls_unverified writes why the connection's TLS session did not verify the server's
 * certificate (smtp_tls_verify_text). Returns 1, or 0 (buf "") when there is no TLS session or
 * its certificate verified.
 */
int ex_tls_unverified(const smtp_io_conn *conn, char *buf, size_t cap);

/* ex_tls_verify_hint replaces what ex_tls_failure suggests after a certificate that did not
 * verify ("try --cafile FILE or --no-verify"; `hint` is borrowed). */
void ex_tls_verify_hint(const char *hint);

/* ex_tls_free frees the config (after the last connection). */
void ex_tls_free(ex_tls *t);

/* ex_tls_filter fills `f` with a new session of `t`'s config (smtp_tls_io_filter_new). Returns
 * 0 or a negative code. */
int ex_tls_filter(ex_tls *t, smtp_io_filter *f);

/*
 * ex_tls_failure writes why the connection's TLS session failed, for smtp-send's lines: "TLS:
 * DANE authentication failed: <reason>" when the TLSA records turned the server down, "TLS:
 * certificate verification failed: <reason>; try --cafile FILE or --no-verify" when the
 * certificate did not verify, else "TLS handshake failed: <smtp_tls_error>". Returns 1, or 0
 * (buf "") when the connection has no failed TLS session.
 */
int ex_tls_failure(const smtp_io_conn *conn, char *buf, size_t cap);

/* ex_tls_describe writes "TLSv1.3 TLS-AES-256-GCM-SHA384" for the connection's session. */
void ex_tls_describe(const smtp_io_conn *conn, char *buf, size_t cap);

#endif /* EX_TLS_GLUE_H */
