/* SPDX-License-Identifier: MIT */
/*
 * A client engine driven by hand for the crypto hook's tests (test_tls_crypto, fault_crypto):
 * implicit TLS, a user and password, the hook given; each server reply is fed whole and the
 * client's next line taken out. Header-only: every function is static inline.
 */
#ifndef SMTP_TEST_CRYPTO_CLIENT_H
#define SMTP_TEST_CRYPTO_CLIENT_H

#include <smtp/client.h>

#include "check.h"

#include <string.h>

struct app {
    smtp_client_end end;
    int ended;
};

static inline int on_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct app *a = ud;
    (void)cli;
    a->end = res->end;
    a->ended = 1;
    return 0;
}

/* A client of `k` for user/pass naming mechanism `mech` (NULL: the strongest offered); NULL
 * when smtp_client_new refused it (its result in *rc when rc is not NULL). */
static inline smtp_client *client_mech(const smtp_client_crypto *k, const char *user,
                                       const char *pass, const char *mech, struct app *a, int *rc)
{
    smtp_client_settings s;
    smtp_client *c = NULL;
    smtp_client_settings_init(&s);
    s.helo_name = "client.example";
    s.flags |= SMTP_CLIENT_TLS;
    s.auth_user = user;
    s.auth_password = pass;
    s.auth_mech = mech;
    s.crypto = k;
    smtp_client_callbacks cb = {.on_session_end = on_end};
    int r = smtp_client_new(&c, &cb, &s, NULL, a);
    if (rc) *rc = r;
    return c;
}

static inline smtp_client *client(const smtp_client_crypto *k, const char *user, const char *pass,
                                  struct app *a)
{
    int rc;
    smtp_client *c = client_mech(k, user, pass, NULL, a, &rc);
    CHECK_INT(rc, 0);
    return c;
}

/* Feeds one server reply; returns the client's next line (without CRLF) in line. */
static inline void step(smtp_client *c, const char *reply, char *line, size_t cap)
{
    CHECK_INT(smtp_client_read(c, reply, strlen(reply)), (smtp_ssize)strlen(reply));
    smtp_ssize n = smtp_client_write(c, line, cap - 1);
    CHECK(n >= 2);
    if (n < 2) n = 2;
    line[n - 2] = '\0';
}

#endif
