/* SPDX-License-Identifier: MIT */
/*
 * Tests of a server's session tickets (smtp_tls_settings.ticket_lifetime, RFC 5077), white-box
 * (tls_internal.h: the client's mbedTLS context keeps and offers the session): a server with
 * tickets issues one and resumes the session it names (the same master secret, no certificate
 * sent again); a server without them issues none and answers the same offer with a full
 * handshake; the setting's checks, and a version-1 caller's settings without the field.
 * The resumption cases read 2.28's session fields; with 3.x they are private (MBEDTLS_PRIVATE)
 * and only the settings' checks run here (tests/e2e/tickets.sh resumes over STARTTLS with
 * either).
 * Usage: test_tls_tickets.
 */
#include "tls_internal.h"

#include "check.h"
#include "pair.h"
#include "pki.h"
#include "wire.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static test_pki pki;

#if MBEDTLS_VERSION_NUMBER < 0x03000000
static smtp_tls_config *server(unsigned lifetime)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    s.ticket_lifetime = lifetime;
    return pair_config(&s, 4096);
}

/* One handshake of `ccfg` with `scfg`, resuming `offer` when not NULL; the client's session
 * (master secret, ticket) lands in `got`. Returns the octets the server sent. */
static size_t handshake(smtp_tls_config *ccfg, smtp_tls_config *scfg,
                        const mbedtls_ssl_session *offer, mbedtls_ssl_session *got)
{
    pair p;
    pair_open(&p, ccfg, "localhost", scfg, 16384);
    if (offer) CHECK_INT(mbedtls_ssl_set_session(tls_ssl(p.cli), offer), 0);
    size_t sent = 0;
    for (int i = 0, quiet = 0; i < 1000 && quiet < 8; i++) { /* pair_run, counting */
        smtp_ssize c = wire_pull(p.c2s, p.cli), s;
        (void)wire_feed(p.c2s, p.srv);
        if ((s = wire_pull(p.s2c, p.srv)) > 0) sent += (size_t)s;
        (void)wire_feed(p.s2c, p.cli);
        quiet = c > 0 || s > 0 ? 0 : quiet + 1;
    }
    check_open(&p);
    mbedtls_ssl_session_init(got);
    CHECK_INT(mbedtls_ssl_get_session(tls_ssl(p.cli), got), 0);
    pair_close(&p);
    return sent;
}

static void test_resumption(void)
{
    smtp_tls_config *ccfg = pair_client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, 4096);
    smtp_tls_config *with = server(3600), *without = server(0);
    mbedtls_ssl_session first, again, other;
    /* with tickets: a full handshake issues one, the next resumes with it */
    size_t full = handshake(ccfg, with, NULL, &first);
    CHECK(first.ticket != NULL && first.ticket_len > 0);
    CHECK_INT((long)first.ticket_lifetime, 3600);
    size_t resumed = handshake(ccfg, with, &first, &again);
    CHECK(memcmp(first.master, again.master, sizeof first.master) == 0);
    CHECK(resumed < full / 2); /* no certificate, no key exchange */
    mbedtls_ssl_session_free(&again);
    /* a ticket of another server's keys: a full handshake */
    smtp_tls_config *with2 = server(3600);
    handshake(ccfg, with2, &first, &again);
    CHECK(memcmp(first.master, again.master, sizeof first.master) != 0);
    mbedtls_ssl_session_free(&again);
    /* without tickets: none issued, and an offer gets a full handshake */
    handshake(ccfg, without, NULL, &other);
    CHECK(other.ticket == NULL && other.ticket_len == 0);
    mbedtls_ssl_session_free(&other);
    size_t plain = handshake(ccfg, without, &first, &other);
    CHECK(memcmp(first.master, other.master, sizeof first.master) != 0);
    CHECK(plain > full / 2);
    mbedtls_ssl_session_free(&other);
    mbedtls_ssl_session_free(&first);
    smtp_tls_config_del(with2);
    smtp_tls_config_del(without);
    smtp_tls_config_del(with);
    smtp_tls_config_del(ccfg);
}

#endif

static int config_rc(smtp_tls_role role, unsigned lifetime)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, role);
    if (role == SMTP_TLS_SERVER) {
        s.cert_pem = pki.server_chain;
        s.key_pem = pki.server_key;
    } else {
        s.ca_pem = pki.ca;
    }
    s.ticket_lifetime = lifetime;
    smtp_tls_config *cfg = NULL;
    char why[200];
    int rc = smtp_tls_config_new(&cfg, &s, NULL, why, sizeof why);
    CHECK(rc == 0 ? cfg != NULL : cfg == NULL && why[0] != '\0');
    smtp_tls_config_del(cfg);
    return rc;
}

static void test_settings(void)
{
    CHECK_INT(config_rc(SMTP_TLS_SERVER, SMTP_TLS_MAX_TICKET_LIFETIME), 0);
    CHECK_INT(config_rc(SMTP_TLS_SERVER, SMTP_TLS_MAX_TICKET_LIFETIME + 1),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(config_rc(SMTP_TLS_CLIENT, 60), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(config_rc(SMTP_TLS_CLIENT, 0), 0);
    /* version 1: the struct ends before ticket_lifetime; init leaves what follows alone, and
     * _new reads none of it (garbage there would be over the maximum) */
    union {
        smtp_tls_settings s;
        unsigned char b[sizeof(smtp_tls_settings)];
    } u;
    memset(&u, 0xab, sizeof u);
    smtp_tls_settings_init_versioned(1, &u.s, SMTP_TLS_SERVER);
    for (size_t i = offsetof(smtp_tls_settings, ticket_lifetime); i < sizeof u.b; i++)
        CHECK(u.b[i] == 0xab);
    u.s.cert_pem = pki.server_chain;
    u.s.key_pem = pki.server_key;
    smtp_tls_config *cfg = NULL;
    CHECK_INT(smtp_tls_config_new_versioned(&cfg, 1, &u.s, NULL, NULL, 0), 0);
    smtp_tls_config_del(cfg);
    smtp_tls_settings_init(&u.s, SMTP_TLS_SERVER);
    CHECK_INT((long)u.s.ticket_lifetime, 0);
}

int main(void)
{
    if (test_pki_make(&pki) != 0) return 1;
#if defined(SMTP_TLS_TICKETS)
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    test_resumption();
#endif
#endif
    test_settings();
    return check_finish();
}
