/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the server's built-in SASL mechanisms (lib/server_sasl.c): RFC 2195's
 * CRAM-MD5 example and RFC 7677's SCRAM-SHA-256 example replayed byte for byte (the crypto
 * hook's random source gives their challenge and server nonce), smtp_server_scram_make against
 * the RFC's keys, wrong proofs and unknown users (the same replies; a stable made-up salt),
 * channel binding, authzid, malformed messages, deferred lookups and the misuse of the
 * answering calls, XOAUTH2, OAUTHBEARER and EXTERNAL with their error challenges, the
 * settings, a failing crypto function, and allocation failure at every step.
 */
#include "check.h"
#include "failmem.h"
#include "tls/refcrypto.h"
#include "tls/sasl_server.h"

#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/server.h>

#include <stdio.h>
#include <string.h>

/* CHECK_STR of an expression with side effects (a feed) or NULL: evaluated once. */
#define CHECK_ONCE(got, want)                                                                      \
    do {                                                                                           \
        const char *once_ = (got);                                                                 \
        if (!once_) once_ = "(null)";                                                              \
        CHECK_STR(once_, want);                                                                    \
    } while (0)

/* RFC 2195 2: the challenge "<1896.697170952@postoffice.reston.mci.net>" from 16 octets. */
static const unsigned char rfc2195_random[16] = {0, 0, 0, 0, 0,    0,    0x07, 0x68,
                                                 0, 0, 0, 0, 0x29, 0x8d, 0xfc, 0x08};
/* RFC 7677 3: the server nonce "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" from 30 octets. */
static const unsigned char rfc7677_random[30] = {4,  70, 84, 55, 34, 78, 53, 51, 63, 16,
                                                 48, 63, 50, 33, 31, 68, 83, 86, 36, 39,
                                                 74, 72, 8,  70, 44, 74, 36, 3,  73, 14};
static const char rfc7677_salt[] = "W22ZaJ0SNY7soEsUEjb6gQ==";

/* ---- a scripted application ---- */
struct app {
    smtp_crypto crypto;
    struct ref_crypto_state cs;
    int defer;   /* defer the decisions */
    int lookups; /* on_auth_lookup calls */
    int tokens;  /* on_auth_token calls */
    char authcid[64], authzid[64], token[64], user[64];
    int temp; /* the lookup fails for now: 454 */
};

static void copy_span(char *dst, size_t cap, smtp_span s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static int span_is(smtp_span s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Users: "user" has SCRAM credentials for "pencil" (RFC 7677), "tim" the CRAM-MD5 password
 * "tanstaaftanstaaf" (RFC 2195); anyone else is unknown. */
static int answer_lookup(smtp_server *srv, struct app *a, smtp_span mech, smtp_span authcid)
{
    if (a->temp) return smtp_server_reply(srv, 454, "4.7.0", "Try later", 9);
    if (span_is(mech, "CRAM-MD5") && span_is(authcid, "tim"))
        return smtp_server_auth_password(srv, "tanstaaftanstaaf", 16);
    if (span_is(mech, "SCRAM-SHA-256") && span_is(authcid, "user")) {
        unsigned char salt[16];
        CHECK_INT(
            (int)smtp_base64_decode(rfc7677_salt, strlen(rfc7677_salt), (char *)salt, sizeof salt),
            16);
        smtp_server_scram cred;
        smtp_crypto good; /* the session's may be made to fail */
        struct ref_crypto_state st;
        ref_crypto_init(&good, &st, NULL, 0);
        CHECK_INT(smtp_server_scram_make(&cred, &good, "pencil", 6, salt, 16, 4096), 0);
        return smtp_server_auth_scram(srv, &cred);
    }
    return 0; /* unknown */
}

static smtp_span last_mech;

static int on_lookup(smtp_server *srv, const smtp_server_auth_lookup *lk, void *ud)
{
    struct app *a = ud;
    a->lookups++;
    copy_span(a->authcid, sizeof a->authcid, lk->authcid);
    copy_span(a->authzid, sizeof a->authzid, lk->authzid);
    last_mech = lk->mechanism;
    if (a->defer) return SMTP_SERVER_DEFER;
    int r = answer_lookup(srv, a, lk->mechanism, lk->authcid);
    CHECK(r == 0 || r == SMTP_ERR_CALLBACK_FAILURE); /* test_crypto_failure */
    return 0;
}

/* Tokens: "good" is accepted (the default identity), "other" as "someone"; EXTERNAL with no
 * authzid as "cert-subject", with "admin" refused. */
static int on_token(smtp_server *srv, const smtp_server_token *t, void *ud)
{
    struct app *a = ud;
    a->tokens++;
    copy_span(a->authzid, sizeof a->authzid, t->authzid);
    copy_span(a->token, sizeof a->token, t->token);
    copy_span(a->user, sizeof a->user, t->user);
    if (a->defer) return SMTP_SERVER_DEFER;
    if (span_is(t->mechanism, "EXTERNAL")) {
        if (t->authzid.len == 0) CHECK_INT(smtp_server_auth_accept(srv, "cert-subject", 12), 0);
        return 0; /* "admin": the default refusal */
    }
    if (span_is(t->token, "good")) CHECK_INT(smtp_server_auth_accept(srv, NULL, 0), 0);
    if (span_is(t->token, "other")) CHECK_INT(smtp_server_auth_accept(srv, "someone", 7), 0);
    if (span_is(t->token, "temp"))
        CHECK_INT(smtp_server_reply(srv, 454, "4.7.0", "Token service down", 18), 0);
    if (span_is(t->token, "close")) /* at once: no error challenge before a 421 */
        CHECK_INT(smtp_server_reply(srv, 421, "4.3.2", "Going down", 10), 0);
    return 0;
}

static const smtp_server_callbacks app_cb = {.on_auth_lookup = on_lookup,
                                             .on_auth_token = on_token};

static void app_init(struct app *a, const unsigned char *random, size_t n)
{
    memset(a, 0, sizeof *a);
    ref_crypto_init(&a->crypto, &a->cs, random, n);
}

static void sasl_settings(smtp_server_settings *s, struct app *a, const char *mechs)
{
    smtp_server_settings_init(s);
    s->hostname = "postoffice.reston.mci.net";
    s->extensions |= SMTP_SERVER_EXT_AUTH;
    s->flags |= SMTP_SERVER_TLS;
    s->auth_mechanisms = mechs;
    s->auth_attempt_limit = 0;
    s->crypto = &a->crypto;
}

/* Everything the engine queued since the last call. */
static const char *out(smtp_server *srv)
{
    static char buf[16384];
    size_t len = 0;
    for (;;) {
        smtp_ssize n = smtp_server_write(srv, buf + len, sizeof buf - 1 - len);
        CHECK(n >= 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* Feeds a line and returns the output it drew. */
static const char *say(smtp_server *srv, const char *line)
{
    size_t len = strlen(line);
    smtp_ssize n = smtp_server_read(srv, line, len);
    CHECK_INT((int)n, (int)len);
    return out(srv);
}

/* A line of base64 of raw[0..n) and CRLF. */
static const char *b64_line(const char *prefix, const char *raw, size_t n)
{
    static char line[4096];
    size_t p = (size_t)snprintf(line, sizeof line, "%s", prefix);
    smtp_ssize k = smtp_base64_encode(raw, n, line + p, sizeof line - p - 3);
    CHECK(k >= 0);
    memcpy(line + p + (size_t)k, "\r\n", 3);
    return line;
}

/* The decoded text of a "334 " challenge line, or "" when `reply` is not one. */
static const char *challenge_of(const char *reply)
{
    static char text[2048];
    text[0] = '\0';
    if (strncmp(reply, "334 ", 4) != 0) return text;
    const char *end = strstr(reply, "\r\n");
    smtp_ssize n = smtp_base64_decode(reply + 4, (size_t)(end - reply - 4), text, sizeof text - 1);
    CHECK(n >= 0);
    text[n < 0 ? 0 : n] = '\0';
    return text;
}

static smtp_server *start(struct app *a, const char *mechs)
{
    smtp_server_settings s;
    sasl_settings(&s, a, mechs);
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    out(srv);
    const char *ehlo = say(srv, "EHLO c\r\n");
    CHECK(strstr(ehlo, "AUTH ") != NULL);
    return srv;
}

/* ---- CRAM-MD5 ---- */

static void test_cram_rfc2195(void)
{
    struct app a;
    app_init(&a, rfc2195_random, sizeof rfc2195_random);
    smtp_server *srv = start(&a, "CRAM-MD5");
    const char *r = say(srv, "AUTH CRAM-MD5\r\n");
    CHECK_ONCE(challenge_of(r), "<1896.697170952@postoffice.reston.mci.net>");
    static const char resp[] = "tim b913a602c7eda7a495b4e6e7334d3890";
    CHECK_ONCE(say(srv, b64_line("", resp, strlen(resp))),
               "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(a.authcid, "tim");
    CHECK_ONCE(smtp_server_auth_identity(srv), "tim");
    smtp_server_del(srv);

    /* The digest in capitals is the same digest. */
    app_init(&a, rfc2195_random, sizeof rfc2195_random);
    srv = start(&a, "CRAM-MD5");
    say(srv, "AUTH CRAM-MD5\r\n");
    static const char upper[] = "tim B913A602C7EDA7A495B4E6E7334D3890";
    CHECK_ONCE(say(srv, b64_line("", upper, strlen(upper))),
               "235 2.7.0 Authentication successful\r\n");
    smtp_server_del(srv);
}

static void test_cram_refused(void)
{
    static const struct {
        const char *response, *reply;
        int lookups;
    } cases[] = {
        /* a wrong digest, and an unknown user: the same reply */
        {"tim b913a602c7eda7a495b4e6e7334d3891", "535 5.7.8 Error: authentication failed\r\n", 1},
        {"tom b913a602c7eda7a495b4e6e7334d3890", "535 5.7.8 Error: authentication failed\r\n", 1},
        /* no space, 31 digits, not hex, no user */
        {"timb913a602c7eda7a495b4e6e7334d3890", "501 5.5.2 Error: malformed SASL message\r\n", 0},
        {"tim b913a602c7eda7a495b4e6e7334d389", "501 5.5.2 Error: malformed SASL message\r\n", 0},
        {"tim b913a602c7eda7a495b4e6e7334d389g", "501 5.5.2 Error: malformed SASL message\r\n", 0},
        {" b913a602c7eda7a495b4e6e7334d3890", "501 5.5.2 Error: malformed SASL message\r\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct app a;
        app_init(&a, rfc2195_random, sizeof rfc2195_random);
        smtp_server *srv = start(&a, "CRAM-MD5 XOAUTH2");
        say(srv, "AUTH CRAM-MD5\r\n");
        CHECK_ONCE(say(srv, b64_line("", cases[i].response, strlen(cases[i].response))),
                   cases[i].reply);
        CHECK(smtp_server_auth_identity(srv) == NULL);
        CHECK_INT(a.lookups, cases[i].lookups);
        smtp_server_del(srv);
    }
    /* No initial response in CRAM-MD5 (RFC 2195 2); a user name with a control byte. */
    struct app a;
    app_init(&a, rfc2195_random, sizeof rfc2195_random);
    smtp_server *srv = start(&a, "CRAM-MD5");
    CHECK_ONCE(say(srv, "AUTH CRAM-MD5 dGlt\r\n"), "501 5.5.2 Error: malformed SASL message\r\n");
    say(srv, "AUTH CRAM-MD5\r\n");
    static const char ctl[] = "t\001m b913a602c7eda7a495b4e6e7334d3890";
    CHECK_ONCE(say(srv, b64_line("", ctl, strlen(ctl))),
               "535 5.7.8 Error: authentication failed\r\n");
    /* The lookup fails for now: its 454. */
    a.temp = 1;
    say(srv, "AUTH CRAM-MD5\r\n");
    static const char resp[] = "tim b913a602c7eda7a495b4e6e7334d3890";
    CHECK_ONCE(say(srv, b64_line("", resp, strlen(resp))), "454 4.7.0 Try later\r\n");
    smtp_server_del(srv);
}

/* ---- SCRAM-SHA-256 ---- */

/* RFC 7677 3: the whole exchange, byte for byte. */
static void test_scram_rfc7677(void)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server *srv = start(&a, "SCRAM-SHA-256 OAUTHBEARER");
    static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const char *r = say(srv, b64_line("AUTH SCRAM-SHA-256 ", first, strlen(first)));
    CHECK_ONCE(challenge_of(r), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    CHECK_ONCE(a.authcid, "user");
    CHECK_ONCE(a.authzid, "");
    CHECK(span_is(last_mech, "SCRAM-SHA-256"));
    static const char final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    r = say(srv, b64_line("", final, strlen(final)));
    CHECK_ONCE(challenge_of(r), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    CHECK(smtp_server_auth_identity(srv) == NULL);
    CHECK_ONCE(say(srv, "\r\n"), "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(smtp_server_auth_identity(srv), "user");
    smtp_server_del(srv);
}

/* The first message without an initial response; a wrong proof. */
static void test_scram_wrong_proof(void)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server *srv = start(&a, "SCRAM-SHA-256");
    CHECK_ONCE(say(srv, "AUTH SCRAM-SHA-256\r\n"), "334 \r\n");
    static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    CHECK(strncmp(say(srv, b64_line("", first, strlen(first))), "334 ", 4) == 0);
    static const char final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=";
    CHECK_ONCE(say(srv, b64_line("", final, strlen(final))),
               "535 5.7.8 Error: authentication failed\r\n");
    CHECK(smtp_server_auth_identity(srv) == NULL);
    smtp_server_del(srv);
}

/* The server-first message shown for `user`. */
static void server_first_for(const char *user, const char *secret, char *sf, size_t cap)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server_settings s;
    sasl_settings(&s, &a, "SCRAM-SHA-256");
    s.auth_mock_secret = secret;
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    out(srv);
    say(srv, "EHLO c\r\n");
    char first[128];
    snprintf(first, sizeof first, "n,,n=%s,r=rOprNGfwEbeRWgbNEkqO", user);
    snprintf(sf, cap, "%s",
             challenge_of(say(srv, b64_line("AUTH SCRAM-SHA-256 ", first, strlen(first)))));
    /* Whatever the proof, an unknown user fails as a wrong password does. */
    static const char final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const char *r = say(srv, b64_line("", final, strlen(final)));
    if (strcmp(user, "user") != 0) CHECK_ONCE(r, "535 5.7.8 Error: authentication failed\r\n");
    smtp_server_del(srv);
}

static void test_scram_unknown_user(void)
{
    char a1[256], a2[256], b[256], c[256], known[256];
    server_first_for("nobody", NULL, a1, sizeof a1);
    server_first_for("nobody", NULL, a2, sizeof a2);
    server_first_for("somebody", NULL, b, sizeof b);
    server_first_for("nobody", "a secret", c, sizeof c);
    server_first_for("user", NULL, known, sizeof known);
    /* The same shape as a known user's, its salt the same every time for a name, another for
     * another name or another secret. */
    CHECK(strncmp(a1, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=", 55) == 0);
    CHECK_INT((int)strlen(a1), (int)strlen(known));
    CHECK(strcmp(a1 + strlen(a1) - 7, ",i=4096") == 0);
    CHECK_ONCE(a1, a2);
    CHECK(strcmp(a1, b) != 0);
    CHECK(strcmp(a1, c) != 0);
    CHECK(strcmp(a1, known) != 0);
}

/* AUTH SCRAM-SHA-256 with `msg` ("" for "=") draws `reply`, and no lookup. */
static void first_refused(const char *msg, const char *reply)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server *srv = start(&a, "SCRAM-SHA-256");
    const char *line =
        msg[0] ? b64_line("AUTH SCRAM-SHA-256 ", msg, strlen(msg)) : "AUTH SCRAM-SHA-256 =\r\n";
    CHECK_ONCE(say(srv, line), reply);
    CHECK_INT(a.lookups, 0);
    smtp_server_del(srv);
}

/* The client-first messages the engine refuses, and how. */
static void test_scram_first_refused(void)
{
    static const struct {
        const char *msg, *reply;
    } cases[] = {
        {"p=tls-unique,,n=user,r=abc", "535 5.7.8 Error: channel binding not supported\r\n"},
        {"x,,n=user,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,n=user,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,r=abc,n=user", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,m=ext,n=user,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,n=user,r=", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,n=user,r=a\x7f", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,n=,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,n=us=2Xer,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,n=u\x01,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,a=,n=user,r=abc", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"", "501 5.5.2 Error: malformed SASL message\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        first_refused(cases[i].msg, cases[i].reply);
    /* A user name over 255 octets once decoded. */
    char longname[300];
    int ln = snprintf(longname, sizeof longname, "n,,n=");
    memset(longname + ln, 'u', 256);
    snprintf(longname + ln + 256, sizeof longname - (size_t)ln - 256, ",r=abc");
    first_refused(longname, "501 5.5.2 Error: malformed SASL message\r\n");
    /* A nonce too long to be kept with the server-first message. */
    char big[3000];
    int n = snprintf(big, sizeof big, "n,,n=user,r=");
    memset(big + n, 'x', sizeof big - (size_t)n - 1);
    big[sizeof big - 1] = '\0';
    first_refused(big, "501 5.5.2 Error: SASL message too long\r\n");
}

/* Runs RFC 7677's first message with `first`, then `final`: the reply to the final one. */
static const char *scram_final_reply(const char *first, const char *final, struct app *a)
{
    app_init(a, rfc7677_random, sizeof rfc7677_random);
    smtp_server *srv = start(a, "SCRAM-SHA-256");
    const char *r = say(srv, b64_line("AUTH SCRAM-SHA-256 ", first, strlen(first)));
    CHECK(strncmp(r, "334 ", 4) == 0);
    static char reply[512];
    snprintf(reply, sizeof reply, "%s", say(srv, b64_line("", final, strlen(final))));
    smtp_server_del(srv);
    return reply;
}

static void test_scram_final_refused(void)
{
    static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    static const char *const bad[] = {
        /* the channel binding is not the gs2 header's ("y,," instead of "n,,") */
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* another nonce */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* a shorter nonce */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* a short proof */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzb",
        /* no proof */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        /* something after the proof */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
        /* attributes out of order */
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* an extension that is not one */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,1=x,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    };
    struct app a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ONCE(scram_final_reply(first, bad[i], &a),
                   "501 5.5.2 Error: malformed SASL message\r\n");
    /* An extension before the proof is part of the AuthMessage: the proof no longer matches. */
    CHECK_ONCE(scram_final_reply(first,
                                 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,"
                                 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                                 &a),
               "535 5.7.8 Error: authentication failed\r\n");
}

/* "y,," (the client could bind, thinks we cannot) and an authzid: the proof covers the gs2
 * header, so the client-final message computed by the client's engine is used. */
static void test_scram_authzid(void)
{
    /* The proof for another gs2 header cannot be RFC 7677's: a different AuthMessage. Check
     * what the lookup sees and the identity with a proof made here. */
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server *srv = start(&a, "SCRAM-SHA-256");
    static const char first[] = "y,a=ad=2Cmin=3D,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const char *sf = challenge_of(say(srv, b64_line("AUTH SCRAM-SHA-256 ", first, strlen(first))));
    CHECK_ONCE(a.authcid, "user");
    CHECK_ONCE(a.authzid, "ad,min=");
    char server_first[256];
    snprintf(server_first, sizeof server_first, "%s", sf);
    /* The client's side (RFC 5802 3), with the reference crypto. */
    unsigned char salt[16];
    smtp_base64_decode(rfc7677_salt, strlen(rfc7677_salt), (char *)salt, sizeof salt);
    smtp_server_scram cred;
    CHECK_INT(smtp_server_scram_make(&cred, &a.crypto, "pencil", 6, salt, 16, 4096), 0);
    /* ClientKey is not kept by scram_make: derive it again from the salted password. */
    unsigned char salted[32];
    CHECK_INT(sasl_srv_hi(&a.crypto, "pencil", salt, 16, 4096, salted), 0);
    unsigned char client_key[32], sig[32], proof[32];
    a.crypto.hmac_sha256(salted, 32, (const unsigned char *)"Client Key", 10, client_key,
                         a.crypto.ctx);
    char without[512], gs2b64[64], am[1024], final[640], proof64[64];
    smtp_ssize g = smtp_base64_encode("y,a=ad=2Cmin=3D,", 16, gs2b64, sizeof gs2b64);
    gs2b64[g] = '\0';
    const char *nonce = server_first + 2;
    size_t nlen = (size_t)(strchr(nonce, ',') - nonce);
    snprintf(without, sizeof without, "c=%s,r=%.*s", gs2b64, (int)nlen, nonce);
    int amlen =
        snprintf(am, sizeof am, "n=user,r=rOprNGfwEbeRWgbNEkqO,%s,%s", server_first, without);
    a.crypto.hmac_sha256(cred.stored_key, 32, (const unsigned char *)am, (size_t)amlen, sig,
                         a.crypto.ctx);
    for (int i = 0; i < 32; i++)
        proof[i] = client_key[i] ^ sig[i];
    smtp_ssize p = smtp_base64_encode((const char *)proof, 32, proof64, sizeof proof64);
    proof64[p] = '\0';
    snprintf(final, sizeof final, "%s,p=%s", without, proof64);
    CHECK(strncmp(challenge_of(say(srv, b64_line("", final, strlen(final)))), "v=", 2) == 0);
    /* Anything but the empty response after the server's proof is refused. */
    CHECK_ONCE(say(srv, "eA==\r\n"), "501 5.5.2 Error: malformed SASL message\r\n");
    CHECK(smtp_server_auth_identity(srv) == NULL);
    smtp_server_del(srv);
}

/* Crypto functions that fail. */
static int bad_random(unsigned char *buf, size_t len, void *ctx)
{
    (void)buf, (void)len, (void)ctx;
    return -1;
}

static int bad_hmac(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                    unsigned char *out, void *ctx)
{
    (void)key, (void)keylen, (void)msg, (void)len, (void)out, (void)ctx;
    return -1;
}

static int bad_sha256(const unsigned char *msg, size_t len, unsigned char *out, void *ctx)
{
    (void)msg, (void)len, (void)out, (void)ctx;
    return -1;
}

/* smtp_server_scram_make gives RFC 7677's keys: its proof verified above; here the
 * arguments. */
static void test_scram_make(void)
{
    struct app a;
    app_init(&a, NULL, 0);
    smtp_server_scram c;
    unsigned char salt[SMTP_SERVER_SCRAM_SALT_MAX + 1] = {1};
    CHECK_INT(smtp_server_scram_make(NULL, &a.crypto, "p", 1, salt, 1, 1),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, NULL, "p", 1, salt, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, NULL, 1, salt, 1, 1),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 0, salt, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 1, NULL, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 1, salt, 0, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 1, salt, sizeof salt, 1),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 1, salt, 1, 0), SMTP_ERR_INVALID_ARGUMENT);
    smtp_crypto k = a.crypto;
    k.sha256 = NULL;
    CHECK_INT(smtp_server_scram_make(&c, &k, "p", 1, salt, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    k = a.crypto;
    k.hmac_sha256 = NULL;
    CHECK_INT(smtp_server_scram_make(&c, &k, "p", 1, salt, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    k = a.crypto;
    k.hmac_sha256 = bad_hmac;
    CHECK_INT(smtp_server_scram_make(&c, &k, "p", 1, salt, 1, 3), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT((int)c.iterations, 0); /* zeroed */
    k = a.crypto;
    k.sha256 = bad_sha256;
    CHECK_INT(smtp_server_scram_make(&c, &k, "p", 1, salt, 1, 3), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_server_scram_make(&c, &a.crypto, "p", 1, salt, SMTP_SERVER_SCRAM_SALT_MAX, 2),
              0);
    CHECK_INT((int)c.salt_len, SMTP_SERVER_SCRAM_SALT_MAX);
    CHECK_INT((int)c.iterations, 2);
}

/* A failing crypto function fails the session, as a failing callback. */
static void test_crypto_failure(void)
{
    for (int which = 0; which < 6; which++) {
        struct app a;
        app_init(&a, rfc2195_random, sizeof rfc2195_random);
        smtp_server *srv = NULL;
        smtp_server_settings s;
        sasl_settings(&s, &a, "CRAM-MD5 SCRAM-SHA-256");
        if (which == 0) a.crypto.random = bad_random;
        if (which == 1) a.crypto.hmac_md5 = bad_hmac;
        if (which == 2) a.crypto.sha256 = bad_sha256;    /* the proof's check */
        if (which == 3) a.crypto.hmac_sha256 = bad_hmac; /* the made-up salt */
        if (which == 4) a.crypto.random = bad_random;    /* SCRAM's server nonce */
        if (which == 5) a.crypto.hmac_sha256 = bad_hmac; /* the proof's check */
        CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        out(srv);
        say(srv, "EHLO c\r\n");
        const char *cmd = "AUTH CRAM-MD5\r\n";
        if (which == 2 || which >= 4) cmd = "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9YWJj\r\n";
        if (which == 3) cmd = "AUTH SCRAM-SHA-256 biwsbj1ub2JvZHkscj1hYmM=\r\n"; /* unknown */
        smtp_ssize n = smtp_server_read(srv, cmd, strlen(cmd));
        if (which == 1 || which == 2 || which == 5) {
            CHECK_INT((int)n, (int)strlen(cmd));
            char r[256];
            snprintf(r, sizeof r, "%s", challenge_of(out(srv)));
            char final[512];
            if (which == 1) {
                snprintf(final, sizeof final, "tim b913a602c7eda7a495b4e6e7334d3890");
            } else { /* the nonce it was given, any proof */
                snprintf(final, sizeof final,
                         "c=biws,r=%.*s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                         (int)(strchr(r, ',') - r - 2), r + 2);
            }
            const char *line = b64_line("", final, strlen(final));
            n = smtp_server_read(srv, line, strlen(line));
        }
        CHECK_INT((int)n, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT((int)smtp_server_read(srv, "NOOP\r\n", 6), SMTP_ERR_CALLBACK_FAILURE);
        smtp_server_del(srv);
    }
}

/* A deferred lookup answered later, and the answering calls misused. */
static void test_lookup_deferred(void)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    a.defer = 1;
    smtp_server *srv = start(&a, "SCRAM-SHA-256 CRAM-MD5");
    smtp_server_scram cred;
    memset(&cred, 0, sizeof cred);
    cred.salt_len = 1;
    cred.iterations = 1;
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_STATE); /* nothing pending */
    CHECK_INT(smtp_server_auth_password(srv, "x", 1), SMTP_ERR_INVALID_STATE);
    static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    CHECK_ONCE(say(srv, b64_line("AUTH SCRAM-SHA-256 ", first, strlen(first))), "");
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(smtp_server_auth_password(srv, "x", 1), SMTP_ERR_INVALID_ARGUMENT); /* SCRAM */
    CHECK_INT(smtp_server_auth_password(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_scram(srv, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_scram(NULL, &cred), SMTP_ERR_INVALID_ARGUMENT);
    cred.salt_len = 0;
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_ARGUMENT);
    cred.salt_len = SMTP_SERVER_SCRAM_SALT_MAX + 1;
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_ARGUMENT);
    cred.salt_len = 1;
    cred.iterations = 0;
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_accept(srv, "x", 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_reply(srv, 235, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_challenge(srv, "x", 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_pending(srv), 1);
    /* Answered now: the server-first message. */
    CHECK_INT(answer_lookup(srv, &a, last_mech, (smtp_span){"user", 4}), 0);
    CHECK_ONCE(challenge_of(out(srv)), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                       "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    CHECK_INT(smtp_server_pending(srv), 0);
    cred.iterations = 1;
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_STATE); /* answered */
    static const char final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    CHECK(strncmp(say(srv, b64_line("", final, strlen(final))), "334 ", 4) == 0);
    CHECK_ONCE(say(srv, "\r\n"), "235 2.7.0 Authentication successful\r\n");
    smtp_server_del(srv);

    /* CRAM-MD5 deferred: the default answer (0) is an unknown user; then the password. */
    app_init(&a, rfc2195_random, sizeof rfc2195_random);
    a.defer = 1;
    srv = start(&a, "SCRAM-SHA-256 CRAM-MD5");
    static const char resp[] = "tim b913a602c7eda7a495b4e6e7334d3890";
    say(srv, "AUTH CRAM-MD5\r\n");
    CHECK_ONCE(say(srv, b64_line("", resp, strlen(resp))), "");
    CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), 0);
    CHECK_ONCE(out(srv), "535 5.7.8 Error: authentication failed\r\n");
    say(srv, "AUTH CRAM-MD5\r\n");
    say(srv, b64_line("", resp, strlen(resp)));
    CHECK_INT(smtp_server_auth_scram(srv, &cred), SMTP_ERR_INVALID_ARGUMENT); /* CRAM-MD5 */
    CHECK_INT(smtp_server_auth_password(srv, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_password(srv, "x", 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_password(srv, "tanstaaftanstaaf", 16), 0);
    CHECK_ONCE(out(srv), "235 2.7.0 Authentication successful\r\n");
    smtp_server_del(srv);
}

/* ---- XOAUTH2, OAUTHBEARER, EXTERNAL ---- */

static void test_xoauth2(void)
{
    struct app a;
    app_init(&a, NULL, 0);
    smtp_server *srv = start(&a, "XOAUTH2");
    static const char good[] = "user=me@example.org\001auth=Bearer good\001\001";
    CHECK_ONCE(say(srv, b64_line("AUTH XOAUTH2 ", good, sizeof good - 1)),
               "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(a.user, "me@example.org");
    CHECK_ONCE(a.token, "good");
    CHECK_ONCE(smtp_server_auth_identity(srv), "me@example.org");
    smtp_server_del(srv);

    /* A bad token: the error challenge, the client's empty answer, then 535. */
    app_init(&a, NULL, 0);
    srv = start(&a, "XOAUTH2");
    CHECK_ONCE(say(srv, "AUTH XOAUTH2\r\n"), "334 \r\n");
    static const char bad[] = "user=me@example.org\001auth=bearer  bad\001\001";
    CHECK_ONCE(challenge_of(say(srv, b64_line("", bad, sizeof bad - 1))),
               "{\"status\":\"401\",\"schemes\":\"bearer\"}");
    CHECK_ONCE(a.token, "bad");
    CHECK_ONCE(say(srv, "\r\n"), "535 5.7.8 Authentication credentials invalid\r\n");
    /* A temporary failure goes the same way, its reply the application's. */
    static const char temp[] = "user=me\001auth=Bearer temp\001\001";
    say(srv, b64_line("AUTH XOAUTH2 ", temp, sizeof temp - 1));
    CHECK_ONCE(say(srv, "\r\n"), "454 4.7.0 Token service down\r\n");
    /* "*" to the error challenge cancels. */
    say(srv, b64_line("AUTH XOAUTH2 ", bad, sizeof bad - 1));
    CHECK_ONCE(say(srv, "*\r\n"), "501 5.0.0 Authentication cancelled\r\n");
    static const char *const malformed[] = {
        "user=me\001auth=Bearer good\001",            /* one ^A at the end */
        "user=me\001auth=Basic good\001\001",         /* not a bearer token */
        "user=me\001auth=Bearer \001\001",            /* no token */
        "user=me\001\001",                            /* no auth */
        "auth=Bearer good\001\001",                   /* no user */
        "user=me\001=x\001auth=Bearer good\001\001",  /* no key */
        "user=me\001auth=Bearer good\001\001x",       /* something after */
        "user=m\x02\001auth=Bearer good\001\001",     /* a control byte */
        "user=me\0011=x\001auth=Bearer good\001\001", /* a key not of letters */
        "user=me\001auth",                            /* no '=' */
        "user=me\001auth=Bearer x",                   /* no ^A after the value */
        "user=me\001auth=Bearer   \001\001",          /* only spaces */
        "user=me\001auth=Bearer a b\001\001",         /* a space in the token */
        "user=me\001auth=Bearer a\x7f\001\001",       /* DEL in the token */
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        CHECK_ONCE(say(srv, b64_line("AUTH XOAUTH2 ", malformed[i], strlen(malformed[i]))),
                   "501 5.5.2 Error: malformed SASL message\r\n");
    CHECK_INT(a.tokens, 3);
    /* TAB, CR and LF may stand in a value (RFC 7628 3.1); a 421 goes out at once. */
    static const char tab[] = "user=me\001host=a\tb\r\n\001auth=Bearer close\001\001";
    CHECK_ONCE(say(srv, b64_line("AUTH XOAUTH2 ", tab, sizeof tab - 1)),
               "421 4.3.2 Going down\r\n");
    CHECK_INT(smtp_server_want_close(srv), 1);
    smtp_server_del(srv);
}

static void test_oauthbearer(void)
{
    struct app a;
    app_init(&a, NULL, 0);
    smtp_server *srv = start(&a, "OAUTHBEARER");
    static const char good[] =
        "n,a=me=2Cyou@example.org,\001host=mx.example.org\001port=587\001auth=Bearer good\001\001";
    CHECK_ONCE(say(srv, b64_line("AUTH OAUTHBEARER ", good, sizeof good - 1)),
               "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(a.authzid, "me,you@example.org");
    CHECK_ONCE(smtp_server_auth_identity(srv), "me,you@example.org");
    smtp_server_del(srv);

    app_init(&a, NULL, 0);
    srv = start(&a, "OAUTHBEARER");
    static const char other[] = "n,,\001auth=Bearer other\001\001";
    CHECK_ONCE(say(srv, b64_line("AUTH OAUTHBEARER ", other, sizeof other - 1)),
               "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(smtp_server_auth_identity(srv), "someone");
    smtp_server_del(srv);

    /* Refused: RFC 7628 3.2.2's error challenge, the client's "\x01", then the refusal. */
    app_init(&a, NULL, 0);
    srv = start(&a, "OAUTHBEARER");
    static const char bad[] = "n,,\001auth=Bearer bad\001\001";
    CHECK_ONCE(challenge_of(say(srv, b64_line("AUTH OAUTHBEARER ", bad, sizeof bad - 1))),
               "{\"status\":\"invalid_token\"}");
    CHECK_ONCE(say(srv, "AQ==\r\n"), "535 5.7.8 Authentication credentials invalid\r\n");
    static const struct {
        const char *msg, *reply;
    } refused[] = {
        {"p=tls-unique,,\001auth=Bearer good\001\001",
         "535 5.7.8 Error: channel binding not supported\r\n"},
        {"n,,auth=Bearer good\001\001", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,,\001\001", "501 5.5.2 Error: malformed SASL message\r\n"},
        {"n,a=x=,\001auth=Bearer good\001\001", "501 5.5.2 Error: malformed SASL message\r\n"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_ONCE(say(srv, b64_line("AUTH OAUTHBEARER ", refused[i].msg, strlen(refused[i].msg))),
                   refused[i].reply);
    smtp_server_del(srv);
}

static void test_external(void)
{
    struct app a;
    app_init(&a, NULL, 0);
    smtp_server *srv = start(&a, "EXTERNAL XOAUTH2");
    CHECK_ONCE(say(srv, "AUTH EXTERNAL YWRtaW4=\r\n"), /* "admin": refused */
               "535 5.7.8 Authentication credentials invalid\r\n");
    CHECK_ONCE(say(srv, "AUTH EXTERNAL YQFi\r\n"), /* "a\x01b": not an identity */
               "501 5.5.2 Error: malformed SASL message\r\n");
    CHECK_ONCE(a.authzid, "admin");
    CHECK_ONCE(say(srv, "AUTH EXTERNAL\r\n"), "334 \r\n");
    CHECK_ONCE(say(srv, "\r\n"), "235 2.7.0 Authentication successful\r\n");
    CHECK_ONCE(smtp_server_auth_identity(srv), "cert-subject");
    smtp_server_del(srv);
    /* With no authzid and no identity given, accepting has nothing to name. */
    app_init(&a, NULL, 0);
    a.defer = 1;
    srv = start(&a, "EXTERNAL");
    say(srv, "AUTH EXTERNAL =\r\n");
    CHECK_INT(smtp_server_auth_accept(srv, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 235, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_accept(srv, "cn=client", 9), 0);
    CHECK_ONCE(out(srv), "235 2.7.0 Authentication successful\r\n");
    smtp_server_del(srv);

    /* Without TLS (plaintext AUTH allowed), EXTERNAL is not offered. */
    app_init(&a, NULL, 0);
    smtp_server_settings s;
    sasl_settings(&s, &a, "EXTERNAL XOAUTH2");
    s.flags = SMTP_SERVER_AUTH_PLAINTEXT;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    out(srv);
    CHECK(strstr(say(srv, "EHLO c\r\n"), "AUTH XOAUTH2\r\n") != NULL);
    CHECK_ONCE(say(srv, "AUTH EXTERNAL =\r\n"),
               "504 5.5.4 Error: unsupported authentication mechanism\r\n");
    smtp_server_del(srv);
    /* EXTERNAL alone: no AUTH at all without TLS. */
    sasl_settings(&s, &a, "EXTERNAL");
    s.flags = SMTP_SERVER_AUTH_PLAINTEXT;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    out(srv);
    CHECK(strstr(say(srv, "EHLO c\r\n"), "AUTH") == NULL);
    CHECK_ONCE(say(srv, "AUTH EXTERNAL =\r\n"),
               "538 5.7.11 Error: authentication requires encryption\r\n");
    smtp_server_del(srv);
}

/* ---- libsmtp's client against the built-in mechanisms, in memory ---- */

struct loop {
    int ended;
    smtp_client_end end;
};

static int loop_end(smtp_client *cli, const smtp_client_session_result *r, void *ud)
{
    (void)cli;
    struct loop *l = ud;
    l->ended = 1;
    l->end = r->end;
    return 0;
}

static int loop_message(smtp_client *cli, const smtp_client_result *r, void *ud)
{
    (void)r, (void)ud;
    (void)smtp_client_quit(cli); /* after a failed AUTH the session is over: nothing to quit */
    return 0;
}

/* Moves what one engine wrote to the other; 1 when anything moved. */
static int loop_pump(smtp_client *cli, smtp_server *srv)
{
    char buf[4096];
    int moved = 0;
    smtp_ssize n;
    while ((n = smtp_server_write(srv, buf, sizeof buf)) > 0) {
        CHECK_INT((int)smtp_client_read(cli, buf, (size_t)n), (int)n);
        moved = 1;
    }
    while ((n = smtp_client_write(cli, buf, sizeof buf)) > 0) {
        CHECK_INT((int)smtp_server_read(srv, buf, (size_t)n), (int)n);
        moved = 1;
    }
    return moved;
}

/* The client authenticates as `user` with `password` by `mech` (NULL: its pick); the end of
 * its session. */
static smtp_client_end loop_run(const char *mech, const char *user, const char *password,
                                const char **identity)
{
    struct app a; /* the server's random: RFC 7677's server nonce */
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server_settings ss;
    sasl_settings(&ss, &a, "SCRAM-SHA-256 CRAM-MD5");
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &ss, NULL, &a), 0);
    smtp_crypto ck; /* the client's: RFC 7677's client nonce */
    struct ref_crypto_state cks;
    ref_crypto_init(&ck, &cks, NULL, 0);
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.flags |= SMTP_CLIENT_TLS; /* as the server: AUTH runs */
    cs.auth_user = user;
    cs.auth_password = password;
    cs.auth_mech = mech;
    cs.crypto = &ck;
    struct loop l = {0, SMTP_CLIENT_END_ERROR};
    smtp_client_callbacks cb = {.on_message = loop_message, .on_session_end = loop_end};
    smtp_client *cli = NULL;
    CHECK_INT(smtp_client_new(&cli, &cb, &cs, NULL, &l), 0);
    smtp_client_rcpt to = {"b@example.org", 0, NULL};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org";
    m.rcpts = &to;
    m.nrcpts = 1;
    m.body = "x\r\n";
    m.body_len = 3;
    CHECK_INT(smtp_client_submit(cli, &m), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    for (int i = 0; i < 100 && loop_pump(cli, srv); i++)
        ;
    CHECK(l.ended);
    static char id[64];
    const char *got = smtp_server_auth_identity(srv);
    snprintf(id, sizeof id, "%s", got ? got : "");
    *identity = id;
    smtp_client_del(cli);
    smtp_server_del(srv);
    return l.end;
}

static void test_own_client(void)
{
    const char *id;
    /* SCRAM-SHA-256 is the client's pick; the server proves itself and the client checks it. */
    CHECK_INT(loop_run(NULL, "user", "pencil", &id), SMTP_CLIENT_END_QUIT);
    CHECK_ONCE(id, "user");
    CHECK_INT(loop_run("CRAM-MD5", "tim", "tanstaaftanstaaf", &id), SMTP_CLIENT_END_QUIT);
    CHECK_ONCE(id, "tim");
    CHECK_INT(loop_run(NULL, "user", "pencil2", &id), SMTP_CLIENT_END_AUTH_FAILED);
    CHECK_ONCE(id, "");
    CHECK_INT(loop_run("CRAM-MD5", "tim", "wrong", &id), SMTP_CLIENT_END_AUTH_FAILED);
    CHECK_INT(loop_run(NULL, "nobody", "pencil", &id), SMTP_CLIENT_END_AUTH_FAILED);
}

/* ---- settings ---- */

static int on_sasl(smtp_server *srv, const smtp_server_sasl *step, void *ud)
{
    (void)srv, (void)step, (void)ud;
    return 0;
}

static void test_settings(void)
{
    struct app a;
    app_init(&a, NULL, 0);
    smtp_server_settings s;
    smtp_server *srv = NULL;
    smtp_server_callbacks cb = app_cb;
    sasl_settings(&s, &a, "SCRAM-SHA-256 CRAM-MD5 XOAUTH2 OAUTHBEARER EXTERNAL");
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    out(srv);
    CHECK(strstr(say(srv, "EHLO c\r\n"),
                 "AUTH SCRAM-SHA-256 CRAM-MD5 XOAUTH2 OAUTHBEARER EXTERNAL\r\n") != NULL);
    smtp_server_del(srv);
    /* Each built-in needs its callback and crypto, or on_sasl. */
    static const struct {
        const char *mechs;
        int no_lookup, no_token, no_crypto, no_md5, no_random;
    } bad[] = {
        {"CRAM-MD5", 1, 0, 0, 0, 0},      {"SCRAM-SHA-256", 1, 0, 0, 0, 0},
        {"CRAM-MD5", 0, 0, 1, 0, 0},      {"CRAM-MD5", 0, 0, 0, 1, 0},
        {"SCRAM-SHA-256", 0, 0, 0, 0, 1}, {"XOAUTH2", 0, 1, 0, 0, 0},
        {"OAUTHBEARER", 0, 1, 0, 0, 0},   {"EXTERNAL", 0, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb = app_cb;
        smtp_crypto k = a.crypto;
        sasl_settings(&s, &a, bad[i].mechs);
        if (bad[i].no_lookup) cb.on_auth_lookup = NULL;
        if (bad[i].no_token) cb.on_auth_token = NULL;
        if (bad[i].no_crypto) s.crypto = NULL;
        if (bad[i].no_md5) k.hmac_md5 = NULL, s.crypto = &k;
        if (bad[i].no_random) k.random = NULL, s.crypto = &k;
        CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &a), SMTP_ERR_INVALID_ARGUMENT);
        cb.on_sasl = on_sasl; /* then the application runs it */
        CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &a), 0);
        smtp_server_del(srv);
    }
    sasl_settings(&s, &a, "SCRAM-SHA-256");
    s.auth_mock_iterations = 0;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mock_iterations = 100000001;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mock_iterations = 100000000;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    smtp_server_del(srv);
    /* A version-3 caller: its settings end before crypto, its callbacks before the new ones;
     * the defaults fill them, and the mock iteration count is 4096. */
    smtp_server_settings_init_versioned(3, &s);
    CHECK_INT((int)s.auth_mock_iterations, 100000000); /* untouched: not the caller's */
    smtp_server_settings_init(&s);
    CHECK(s.crypto == NULL);
    CHECK(s.auth_mock_secret == NULL);
    CHECK_INT((int)s.auth_mock_iterations, 4096);
    s.crypto = (const smtp_crypto *)1; /* garbage past a version-3 struct: never read */
    CHECK_INT(smtp_server_new_versioned(&srv, 2, &cb, 3, &s, NULL, NULL), 0);
    smtp_server_del(srv);
}

/* ---- memory ---- */

static const char *const scram_script[] = {
    "EHLO c\r\n", "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\r\n",
    "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpi"
    "WmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==\r\n",
    "\r\n", NULL};

/* One session through RFC 7677's exchange under the failing allocator; 0 when it ran. */
static int scram_session(struct failmem *f)
{
    struct app a;
    app_init(&a, rfc7677_random, sizeof rfc7677_random);
    smtp_server_settings s;
    sasl_settings(&s, &a, "SCRAM-SHA-256");
    smtp_mem mem = failmem_mem(f);
    smtp_server *srv;
    int r = smtp_server_new(&srv, &app_cb, &s, &mem, &a);
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        return r;
    }
    CHECK_INT(smtp_server_start(srv), 0);
    char buf[2048];
    for (int i = 0; scram_script[i] && r == 0; i++) {
        smtp_ssize n = smtp_server_read(srv, scram_script[i], strlen(scram_script[i]));
        if (n < 0) r = (int)n;
        while (r == 0 && smtp_server_write(srv, buf, sizeof buf) > 0)
            ;
    }
    if (r == 0) CHECK_ONCE(smtp_server_auth_identity(srv), "user");
    if (r < 0) CHECK_INT(r, SMTP_ERR_NOMEM);
    smtp_server_del(srv);
    return r;
}

static void test_alloc_failures(void)
{
    for (int n = 1; n < 100; n++) {
        struct failmem f = {.fail_at = n};
        int r = scram_session(&f);
        CHECK_INT(f.live, 0);
        if (r == 0) {
            CHECK(f.calls < n); /* every allocation point was failed once */
            return;
        }
    }
    CHECK(0);
}

int main(void)
{
    test_cram_rfc2195();
    test_cram_refused();
    test_scram_rfc7677();
    test_scram_wrong_proof();
    test_scram_unknown_user();
    test_scram_first_refused();
    test_scram_final_refused();
    test_scram_authzid();
    test_scram_make();
    test_crypto_failure();
    test_lookup_deferred();
    test_xoauth2();
    test_oauthbearer();
    test_external();
    test_own_client();
    test_settings();
    test_alloc_failures();
    return check_finish();
}
