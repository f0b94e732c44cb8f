/* SPDX-License-Identifier: MIT */
/*
 * smtp-send's parts shared between its option parser (smtp-send.c) and its sessions (send.c).
 */
#ifndef EX_SEND_H
#define EX_SEND_H

#include "args.h"

#include <smtp/smtp.h>
#include <smtp/tls.h> /* smtp_tls_tlsa: a type only, smtp-send without TLS refuses DANE */

#include <stddef.h>
#include <stdint.h>
#include <smtp/mtasts.h>

#include <sysexits.h>

#define SEND_MAX_RCPTS 1000

typedef struct send_options {
    char host[EX_HOST_MAX], port[EX_PORT_MAX];
    const char *from, *rcpts[SEND_MAX_RCPTS];
    size_t nrcpts;
    const char *data_path, *helo;
    int lmtp, no_pipelining, no_chunking;
    uint32_t timeout_ms; /* 0: RFC 5321's timeouts and a 30 s connect timeout */
    int starttls, tls_required, tls, no_verify;
    const char *cafile;
    /* --dane-tlsa (RFC 7672): the records, their data malloc'd; --dane-name: the TLSA base
     * domain (NULL: the --server host). With records, TLS is required. */
    smtp_tls_tlsa dane_tlsa[SMTP_TLS_DANE_MAX_TLSA];
    size_t dane_ntlsa;
    const char *dane_name;
    /* --mta-sts-policy (RFC 8461): the policy (its text malloc'd, the spans of `mta_sts` point
     * into it), whether one was given, and --mta-sts-mx: the MX host it is checked for (the
     * --server host by default). enforce: TLS required and verified against that name, the MX
     * must match; testing: both only reported. */
    int mta_sts;
    smtp_mtasts_policy mta_sts_policy;
    char *mta_sts_text;
    const char *mta_sts_mx;
    const char *auth_user, *auth_password, *auth_mech;
    int insecure_auth;
    int show_secrets; /* -v shows AUTH's payloads and SASL responses (else "****") */
    int probe;        /* --probe: EHLO (STARTTLS, AUTH), print what the server offers, QUIT */
    /* DSN (RFC 3461): RET (SMTP_RET_NONE: none), ENVID (NULL: none), NOTIFY bits for every
     * recipient (0: none), ORCPT=rfc822;<the recipient> for each; dsn_required refuses the
     * message when the server does not offer DSN (else the parameters are left out). */
    smtp_ret dsn_ret;
    const char *dsn_envid;
    unsigned dsn_notify;
    int dsn_orcpt, dsn_required;
    int requiretls; /* --requiretls: MAIL with REQUIRETLS (RFC 8689) */
    int verbose, quiet;
    int json; /* --json: one JSON line per message on standard output instead of the lines */
    size_t count, sessions;
    char *body; /* the whole message */
    size_t body_len;
} send_options;

/*
 * send_run opens o->sessions connections, sends o->count copies of the message on each,
 * prints the results and returns the exit status (EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE,
 * EX_PROTOCOL, EX_IOERR, EX_SOFTWARE). With o->probe it opens one connection, sends no
 * message, prints what the server offers once the session is ready, and quits.
 */
int send_run(const send_options *o);

#endif /* EX_SEND_H */
