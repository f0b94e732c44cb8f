/* SPDX-License-Identifier: MIT */
/*
 * Internal definitions of the TLS adapter shared by its files: the config object, the helpers
 * that turn mbedTLS results into libsmtp errors and text, and the DANE check (dane.c) that a
 * session runs. Not installed.
 *
 * mbedTLS versions: 2.28 (Debian's) and 3.x are both supported. Their API differences are
 * guarded with MBEDTLS_VERSION_NUMBER where they are used, each with a comment naming the
 * change; this header only brings in the headers, which have the same names in both.
 */
#ifndef SMTP_TLS_INTERNAL_H
#define SMTP_TLS_INTERNAL_H

#include <smtp/tls.h>

#include <mbedtls/version.h> /* 2.x: pulls in config.h; 3.x: build_info.h */

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* 2.28: the comb table of secp256r1's base point is lent to each handshake's ECDHE key
 * (ecdhe_table.c). It needs the group's table field, 2.28's own ECC code (no _ALT) and
 * secp256r1. */
#if defined(MBEDTLS_ECP_C)
#include <mbedtls/ecp.h> /* MBEDTLS_ECP_FIXED_POINT_OPTIM */
#endif
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECDH_C) &&                              \
    defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED) && !defined(MBEDTLS_ECP_ALT) &&                      \
    !defined(MBEDTLS_ECDH_GEN_PUBLIC_ALT) && MBEDTLS_ECP_FIXED_POINT_OPTIM == 1
#define SMTP_TLS_LEND_TABLE 1
#endif

/* A server's session tickets (smtp_tls_settings.ticket_lifetime): mbedTLS's ticket module. */
#if defined(MBEDTLS_SSL_TICKET_C) && defined(MBEDTLS_SSL_SESSION_TICKETS) &&                       \
    defined(MBEDTLS_SSL_SRV_C)
#include <mbedtls/ssl_ticket.h>
#define SMTP_TLS_TICKETS 1
#endif

#if MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "libsmtp's TLS adapter needs mbedTLS 2.28 or later"
#endif

/* The shared configuration. Every session points to it; nothing in it changes after _new. */
struct smtp_tls_config {
    smtp_mem mem; /* a copy of the caller's allocator */
    smtp_tls_role role;
    smtp_tls_verify verify;
    size_t in_buffer, out_buffer;
    int has_ca, has_own;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* seeded once; locks itself with MBEDTLS_THREADING_C */
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    mbedtls_ssl_config conf;
    /* A client's sessions with DANE (smtp_tls_set_dane) run on this one: the same but for
     * verification OPTIONAL and no CA, so that the DANE check alone decides (dane.c). */
    mbedtls_ssl_config dane_conf;
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
    /* 2.28: the curves in the order of preference both confs use (config.c: prefer_curves). */
    mbedtls_ecp_group_id curves[16];
#endif
#if defined(SMTP_TLS_TICKETS)
    /* A server's ticket keys (ticket_lifetime; unused at 0), locked by mbedTLS. */
    mbedtls_ssl_ticket_context tickets;
#endif
#if defined(SMTP_TLS_LEND_TABLE)
    /* secp256r1 with the comb table of its base point (tls_table_init), lent to handshakes. */
    mbedtls_ecp_group table;
#endif
};

/* The random generator of every session of a config (mbedtls_ssl_conf_rng; p_cfg is the
 * smtp_tls_config): the config's CTR-DRBG. With SMTP_TLS_LEND_TABLE it first lends the table
 * of G to the ECDHE group of the session whose handshake the thread runs (tls_lender_enter). */
int tls_rng(void *p_cfg, unsigned char *out, size_t len);

#if defined(SMTP_TLS_LEND_TABLE)
/* Makes cfg->table: secp256r1 and its base point's table (one key generated in it). Needs the
 * config's DRBG seeded. Returns 0 or an mbedTLS code; cfg->table is freed by tls_table_free
 * either way. */
int tls_table_init(smtp_tls_config *cfg);
void tls_table_free(smtp_tls_config *cfg);

/* Gives `grp` a copy of the config's table when grp is the same curve, loaded, without a table
 * yet. Returns 1 when it did, 0 when not (another curve, a table there, no memory: mbedTLS then
 * builds its own). */
int tls_table_lend(const smtp_tls_config *cfg, mbedtls_ecp_group *grp);

/* A session as tls_rng sees it while its handshake steps: its config, its mbedTLS context, and
 * how many tables it was lent. */
typedef struct tls_lender {
    const smtp_tls_config *cfg;
    mbedtls_ssl_context *ssl;
    unsigned lent;
} tls_lender;

/* Around a handshake step in this thread: tls_rng lends to `l`'s session until _leave. */
void tls_lender_enter(tls_lender *l);
void tls_lender_leave(void);
#endif

/* The session's mbedTLS context, for the white-box tests (tests/tls/test_tls_tickets.c). */
mbedtls_ssl_context *tls_ssl(smtp_tls *tls);

/* How many times a table was lent to the session's handshake (0 without SMTP_TLS_LEND_TABLE):
 * for the tests (tests/tls/test_tls_ecdhe.c). */
unsigned tls_tables_lent(const smtp_tls *tls);

/* The libsmtp error for an mbedTLS error code: SMTP_ERR_NOMEM for allocation failures of any
 * module, SMTP_ERR_PROTO for the rest. */
int smtp_tls_map_error(int mbedtls_err);

/*
 * Writes "<what>: <mbedTLS text for err>" to buf[0..cap), NUL-terminated and cut to fit
 * (mbedtls_strerror, or the code in hex when mbedTLS was built without MBEDTLS_ERROR_C).
 */
void smtp_tls_describe(char *buf, size_t cap, const char *what, int mbedtls_err);

/* Writes the certificate problems in `flags` (MBEDTLS_X509_BADCERT_*) on one line, joined by
 * "; ", to buf[0..cap), NUL-terminated; returns the length written. */
size_t smtp_tls_flags_text(char *buf, size_t cap, uint32_t flags);

/* Makes smtp_tls_del write the session's smtp_tls_failure_text to buf[0..cap) when it failed
 * (smtp_tls_client_run, whose sessions the I/O adapter frees). */
void smtp_tls_keep_failure(smtp_tls *tls, char *buf, size_t cap);

/* The client engine a session's filter reports its verification to (smtp_tls_io_filter_report):
 * set it, and take it (once: the pointer is cleared). */
void smtp_tls_set_report(smtp_tls *tls, smtp_client *cli);
smtp_client *smtp_tls_take_report(smtp_tls *tls);

/* ---- DANE (dane.c): a session's TLSA records, the check of the server's chain, the outcome */

typedef struct tls_dane tls_dane;

/*
 * Makes *pd from the caller's records and names (smtp_tls_set_dane), copied into one block of
 * `mem`; `host` is the session's host name (NULL when none or an IP address), the default of
 * both names. Returns 0, SMTP_ERR_INVALID_ARGUMENT (tls.h says which input) or
 * SMTP_ERR_NOMEM; *pd is NULL on error.
 */
int tls_dane_new(tls_dane **pd, const smtp_tls_dane *in, const char *host, const smtp_mem *mem);
void tls_dane_del(tls_dane *d);

/* The TLSA base domain without a final dot: the SNI (RFC 7672 8.1). */
const char *tls_dane_sni(const tls_dane *d);

/* Checks the chain the server sent, `leaf` first and the rest by `next` (the verify callback's
 * certificate at depth 0). Returns 0 when the session may go on (a record matched, or none
 * was usable), -1 when DANE authentication failed. */
int tls_dane_check(tls_dane *d, mbedtls_x509_crt *leaf);

/* 1 when the check turned the chain down (MISMATCH, NAME_MISMATCH, CHAIN_INVALID), else 0. */
int tls_dane_failed(const tls_dane *d);

/* At the end of a handshake that succeeded: the outcome when no chain was checked (the server
 * sent none); returns as tls_dane_check. */
int tls_dane_finish(tls_dane *d);

/* The outcome, as smtp_tls_dane_result (index and usage are set only when a record is named). */
smtp_tls_dane_status tls_dane_status(const tls_dane *d, size_t *index, uint8_t *usage);

/* The outcome as smtp_tls_verify_result gives it: 0 when a record matched, BADCERT_* bits for
 * a failure, SMTP_TLS_VERIFY_UNAVAILABLE when nothing was authenticated. */
uint32_t tls_dane_flags(const tls_dane *d);

/* Writes the outcome in one line to buf[0..cap), NUL-terminated and cut to fit; returns the
 * length written. */
size_t tls_dane_text(const tls_dane *d, char *buf, size_t cap);

#endif /* SMTP_TLS_INTERNAL_H */
