/* SPDX-License-Identifier: MIT */
/*
 * A client and a server session joined by two wires (wire.h) that move ciphertext in random
 * pieces of at most `max_piece` octets (1: every record split at every byte), and the configs
 * the TLS tests make for them from PEM text (pki.h). Shared by test_tls and test_tls_dane.
 */
#ifndef SMTP_TEST_TLS_PAIR_H
#define SMTP_TEST_TLS_PAIR_H

#include <smtp/tls.h>

#include "check.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>

typedef struct pair {
    smtp_tls *cli, *srv;
    wire *c2s, *s2c;
} pair;

/* A config of settings `s` with both buffers of `buffer` octets (else says why). */
static inline smtp_tls_config *pair_config(smtp_tls_settings *s, size_t buffer)
{
    s->in_buffer = s->out_buffer = buffer;
    smtp_tls_config *cfg = NULL;
    char why[256];
    int rc = smtp_tls_config_new(&cfg, s, NULL, why, sizeof why);
    if (rc != 0) fprintf(stderr, "%s config: %s\n", s->role ? "server" : "client", why);
    CHECK_INT(rc, 0);
    return cfg;
}

/* A server config of the certificate chain and key (PEM). */
static inline smtp_tls_config *pair_server_config(const char *chain, const char *key, size_t buffer)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = chain;
    s.key_pem = key;
    return pair_config(&s, buffer);
}

/* A client config trusting `ca` (PEM; NULL: none given) with `verify`. */
static inline smtp_tls_config *pair_client_config(const char *ca, smtp_tls_verify verify,
                                                  size_t buffer)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    s.ca_pem = ca;
    s.verify = verify;
    return pair_config(&s, buffer);
}

/* Opens a pair: a client of `ccfg` for `host` whose session comes from `cmem` (NULL: the
 * config's allocator), a server of `scfg`, and the wires. */
static inline void pair_open_mem(pair *p, smtp_tls_config *ccfg, const char *host,
                                 const smtp_mem *cmem, smtp_tls_config *scfg, size_t max_piece)
{
    memset(p, 0, sizeof *p);
    CHECK_INT(smtp_tls_new(&p->cli, ccfg, host, cmem), 0);
    CHECK_INT(smtp_tls_new(&p->srv, scfg, NULL, NULL), 0);
    p->c2s = wire_new(max_piece);
    p->s2c = wire_new(max_piece);
}

static inline void pair_open(pair *p, smtp_tls_config *ccfg, const char *host,
                             smtp_tls_config *scfg, size_t max_piece)
{
    pair_open_mem(p, ccfg, host, NULL, scfg, max_piece);
}

static inline void pair_close(pair *p)
{
    smtp_tls_del(p->cli);
    smtp_tls_del(p->srv);
    wire_del(p->c2s);
    wire_del(p->s2c);
}

/* Moves ciphertext both ways until nothing moves any more (both sides done or stuck). */
static inline void pair_run(pair *p)
{
    int quiet = 0;
    for (int i = 0; i < 200000 && quiet < 8; i++) {
        smtp_ssize moved = 0, r;
        if ((r = wire_pull(p->c2s, p->cli)) > 0) moved += r;
        if ((r = wire_feed(p->c2s, p->srv)) > 0) moved += r;
        if ((r = wire_pull(p->s2c, p->srv)) > 0) moved += r;
        if ((r = wire_feed(p->s2c, p->cli)) > 0) moved += r;
        quiet = moved ? 0 : quiet + 1;
    }
}

/* Both sides reached OPEN (else says why). */
static inline void check_open(pair *p)
{
    CHECK_INT(smtp_tls_get_state(p->cli), SMTP_TLS_OPEN);
    CHECK_INT(smtp_tls_get_state(p->srv), SMTP_TLS_OPEN);
    if (smtp_tls_get_state(p->cli) == SMTP_TLS_FAILED)
        fprintf(stderr, "client: %s\n", smtp_tls_error(p->cli));
    if (smtp_tls_get_state(p->srv) == SMTP_TLS_FAILED)
        fprintf(stderr, "server: %s\n", smtp_tls_error(p->srv));
}

/* 1 when the ClientHello of the new client session `cli` (its first pull) holds `text`, as
 * its SNI would. */
static inline int pair_hello_holds(smtp_tls *cli, const char *text)
{
    char hello[4096];
    smtp_ssize n = smtp_tls_pull(cli, hello, sizeof hello);
    CHECK(n > 0);
    int found = 0;
    size_t len = strlen(text);
    for (smtp_ssize i = 0; n > 0 && i + (smtp_ssize)len <= n && !found; i++)
        found = memcmp(hello + i, text, len) == 0;
    return found;
}

#endif
