/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's parts shared between its option parser (smtp-sink.c) and its server (sink.c).
 */
#ifndef EX_SINK_H
#define EX_SINK_H

#include "args.h"
#include "faults.h"

#include <smtp/smtp.h>

#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

typedef struct sink_options {
    char host[EX_HOST_MAX], port[EX_PORT_MAX];
    int any_host; /* --listen '*:PORT': every local address */
    const char *maildir;
    int discard, lmtp, verbose;
    const char *hostname;
    const char *tls_cert, *tls_key;
    int implicit_tls;
    const char *auth_file;
    int insecure_auth;
    const char *make_scram; /* --make-scram USER */
    int max_size_set;
    uint64_t max_size;
    size_t max_recipients; /* 0: the engine's default */
    smtp_data_policy bare_policy;
    int lenient, pipelining_strict, proxy_protocol;
    size_t max_connections;
    size_t max_messages; /* per connection; 0: no limit (the default) */
    size_t workers;      /* processes sharing the port (--workers; 0 or 1: this one) */
    ex_faults faults;    /* --reply, --disconnect, --delay */
} sink_options;

/*
 * sink_run listens, serves connections until SIGINT or SIGTERM (then stops accepting, lets
 * open transactions finish, and returns EX_OK), printing one JSON line per accepted message.
 * Returns a sysexits.h status: EX_OK, EX_UNAVAILABLE (cannot listen), EX_CANTCREAT (cannot
 * create the Maildir), EX_NOINPUT (cannot read --auth-file), EX_DATAERR (--auth-file,
 * --tls-cert or --tls-key malformed), EX_SOFTWARE.
 */
int sink_run(const sink_options *o);

/*
 * sink_make_scram reads a password (one line) on standard input and prints `user`'s
 * SCRAM-SHA-256 line for --auth-file. Returns EX_OK, EX_DATAERR (no password), EX_SOFTWARE
 * (the crypto failed) or EX_USAGE (a build without mbedTLS).
 */
int sink_make_scram(const char *user);

#endif /* EX_SINK_H */
