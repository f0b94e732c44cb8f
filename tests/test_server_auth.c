/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the server engine's AUTH, XCLIENT/XFORWARD, PROXY and strict pipelining API:
 * settings validation, misuse of the answering calls, deferred SASL steps answered from
 * outside a callback, the largest challenge, the adapter's write-before-feed contract,
 * allocation failure at every step, and no allocation per AUTH exchange or message.
 */
#include "check.h"
#include "failmem.h"

#include <smtp/server.h>

#include <stdlib.h>
#include <string.h>

/* The timeout smtp_server_timeout gives, in milliseconds. */
static uint32_t timeout_ms(const smtp_server *srv)
{
    uint32_t ms = 12345;
    (void)smtp_server_timeout(srv, &ms);
    return ms;
}

/* ---- a scripted application ---- */
struct app {
    int defer; /* defer on_auth and on_sasl */
    int auths, sasls, xclients, proxies;
    int misuse; /* on_auth checks the calls that do not apply to it */
    unsigned last_step;
    char response[64];
    size_t response_len;
};

static int app_auth(smtp_server *srv, const smtp_server_auth *au, void *ud)
{
    struct app *a = ud;
    a->auths++;
    if (a->misuse) {
        CHECK_INT(smtp_server_auth_challenge(srv, "x", 1), SMTP_ERR_INVALID_STATE);
        CHECK_INT(smtp_server_auth_accept(srv, NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(smtp_server_auth_accept(srv, "", 0), SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(smtp_server_auth_accept(srv, "a\nb", 3), SMTP_ERR_UNSAFE_ARGUMENT);
        char big[SMTP_SERVER_MAX_IDENTITY + 1];
        memset(big, 'a', sizeof big);
        CHECK_INT(smtp_server_auth_accept(srv, big, sizeof big), SMTP_ERR_INVALID_ARGUMENT);
        CHECK(smtp_server_auth_identity(srv) == NULL);
    }
    if (a->defer) return SMTP_SERVER_DEFER;
    if (au->password.len == 6 && memcmp(au->password.ptr, "secret", 6) == 0) return 0;
    return smtp_server_reply(srv, 535, NULL, NULL, 0);
}

static int app_sasl(smtp_server *srv, const smtp_server_sasl *step, void *ud)
{
    (void)srv;
    struct app *a = ud;
    a->sasls++;
    a->last_step = step->step;
    a->response_len = step->response.len < sizeof a->response ? step->response.len : 0;
    if (a->response_len) memcpy(a->response, step->response.ptr, a->response_len);
    return SMTP_SERVER_DEFER;
}

static int app_xclient(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)srv;
    (void)x;
    struct app *a = ud;
    a->xclients++;
    return 0;
}

static int app_proxy(smtp_server *srv, const smtp_server_proxy *px, void *ud)
{
    (void)srv;
    (void)px;
    struct app *a = ud;
    a->proxies++;
    return 0;
}

static const smtp_server_callbacks app_cb = {
    .on_auth = app_auth, .on_sasl = app_sasl, .on_xclient = app_xclient, .on_proxy = app_proxy};

static size_t pull(smtp_server *srv, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        smtp_ssize n = smtp_server_write(srv, buf + len, cap - 1 - len);
        CHECK(n >= 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* Feeds the whole string, pulling output after each read; returns the bytes consumed. */
static size_t feed(smtp_server *srv, const char *s)
{
    size_t len = strlen(s), pos = 0;
    char out[8192];
    while (pos < len) {
        smtp_ssize n = smtp_server_read(srv, s + pos, len - pos);
        CHECK(n >= 0);
        if (n <= 0) break;
        pos += (size_t)n;
        pull(srv, out, sizeof out);
    }
    return pos;
}

static void auth_settings(smtp_server_settings *s)
{
    smtp_server_settings_init(s);
    s->extensions |= SMTP_SERVER_EXT_AUTH;
    s->flags |= SMTP_SERVER_TLS;
    s->auth_mechanisms = "PLAIN LOGIN X-TEST";
    s->auth_attempt_limit = 0;
    s->trust = SMTP_SERVER_TRUST_ALL;
}

static void test_settings(void)
{
    smtp_server_settings s;
    smtp_server *srv = NULL;
    smtp_server_callbacks cb = app_cb;
    auth_settings(&s);
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, NULL), 0);
    smtp_server_del(srv);
    cb.on_sasl = NULL; /* X-TEST needs on_sasl */
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(srv == NULL);
    cb = app_cb;
    cb.on_auth = NULL; /* PLAIN needs on_auth */
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mechanisms = "";
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mechanisms = "PL@IN";
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mechanisms = "ABCDEFGHIJKLMNOPQRSTU"; /* 21 characters (RFC 4422 3.1: 20) */
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    auth_settings(&s);
    s.trust = 4;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    /* Without the AUTH extension, the list is not checked against the callbacks. */
    smtp_server_settings_init(&s);
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_set_trust(srv, 4), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_trust(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_trust(srv, SMTP_SERVER_TRUST_XFORWARD), 0);
    CHECK(smtp_server_auth_identity(srv) == NULL);
    CHECK(smtp_server_auth_identity(NULL) == NULL);
    CHECK_INT(smtp_server_auth_challenge(NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_accept(NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_challenge(srv, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_auth_accept(srv, "a", 1), SMTP_ERR_INVALID_STATE);
    smtp_server_del(srv);
}

/* on_sasl deferred: challenges and acceptance given from outside the callback. */
static void test_sasl_deferred(void)
{
    smtp_server_settings s;
    auth_settings(&s);
    struct app a = {0};
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[4096];
    feed(srv, "EHLO c\r\n");
    const char *in = "AUTH x-test\r\nYWJj\r\nNOOP\r\n";
    smtp_ssize n = smtp_server_read(srv, in, strlen(in));
    CHECK_INT(n, 13); /* stopped after the AUTH line */
    CHECK_INT(a.sasls, 1);
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(timeout_ms(srv), 0);
    /* Only a refusal or the two AUTH calls answer on_sasl. */
    CHECK_INT(smtp_server_reply(srv, 235, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_accept(srv, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_auth_challenge(srv, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    char big[SMTP_SERVER_MAX_CHALLENGE + 1];
    memset(big, 0xff, sizeof big);
    CHECK_INT(smtp_server_auth_challenge(srv, big, sizeof big), SMTP_ERR_INVALID_ARGUMENT);
    /* The largest challenge: "334 " and 1368 base64 characters. */
    CHECK_INT(smtp_server_auth_challenge(srv, big, SMTP_SERVER_MAX_CHALLENGE), 0);
    CHECK_INT(smtp_server_pending(srv), 0);
    size_t len = pull(srv, out, sizeof out);
    CHECK_INT(len, 4 + 1368 + 2);
    CHECK(memcmp(out, "334 ////", 8) == 0);
    n = smtp_server_read(srv, in + 13, strlen(in) - 13);
    CHECK_INT(n, 6); /* the response, then the decision waits */
    CHECK_INT(a.sasls, 2);
    CHECK_INT(a.last_step, 1);
    CHECK_MEM(a.response, a.response_len, "abc");
    CHECK_INT(smtp_server_auth_accept(srv, "someone", 7), 0);
    CHECK_INT(smtp_server_auth_accept(srv, "someone", 7), SMTP_ERR_INVALID_STATE);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "235 2.7.0 Authentication successful\r\n") == 0);
    CHECK(strcmp(smtp_server_auth_identity(srv), "someone") == 0);
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), 6);
    smtp_server_del(srv);
}

/* Misuse inside on_auth, and a deferred on_auth accepted with the default identity. */
static void test_auth_calls(void)
{
    smtp_server_settings s;
    auth_settings(&s);
    struct app a = {0};
    a.misuse = 1;
    a.defer = 1;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[4096];
    feed(srv, "EHLO c\r\n");
    /* PLAIN "admin\0user\0wrong" */
    feed(srv, "AUTH PLAIN YWRtaW4AdXNlcgB3cm9uZw==\r\n");
    CHECK_INT(a.auths, 1);
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_auth_challenge(srv, "x", 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 235, NULL, "Welcome", 7), 0);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "235 2.7.0 Welcome\r\n") == 0);
    CHECK(strcmp(smtp_server_auth_identity(srv), "admin") == 0);
    smtp_server_del(srv);
}

/* The adapter's contract under strict pipelining: write everything before feeding more. */
static void test_strict(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.flags |= SMTP_SERVER_STRICT_PIPELINING;
    smtp_server *srv;
    char out[4096];
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    /* The greeting was pulled in part only: still too early. */
    char two[2];
    CHECK_INT(smtp_server_write(srv, two, 2), 2);
    CHECK_INT(smtp_server_read(srv, "EHLO c\r\n", 8), 0);
    CHECK_INT(smtp_server_want_close(srv), 0);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "0 localhost ESMTP\r\n554 5.5.0 Error: SMTP protocol synchronization\r\n") ==
          0);
    CHECK_INT(smtp_server_want_close(srv), 1);
    smtp_server_del(srv);

    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_read(srv, "EHLO c\r\n", 8), 8);
    pull(srv, out, sizeof out); /* the EHLO reply written: the client may go on */
    const char *grp = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nNOOP\r\n";
    CHECK_INT(smtp_server_read(srv, grp, strlen(grp)), (smtp_ssize)strlen(grp));
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n") == 0);
    CHECK_INT(smtp_server_want_close(srv), 0);
    smtp_server_del(srv);
}

/* PROXY: no greeting before the header; a timeout meanwhile closes without a word. */
static void test_proxy_calls(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.flags |= SMTP_SERVER_PROXY;
    struct app a = {0};
    smtp_server *srv;
    char out[256];
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(smtp_server_want_write(srv), 0);
    CHECK_INT(timeout_ms(srv), 300000);
    CHECK_INT(smtp_server_read(srv, "PROXY UNKN", 10), 10);
    CHECK_INT(smtp_server_timeout_expired(srv), 0);
    CHECK_INT(pull(srv, out, sizeof out), 0);
    CHECK_INT(smtp_server_want_close(srv), 1);
    CHECK_INT(a.proxies, 0);
    smtp_server_del(srv);
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(smtp_server_read(srv, "PROXY UNKNOWN\r\nNOOP\r\n", 21), 21);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "220 localhost ESMTP\r\n250 2.0.0 Ok\r\n") == 0);
    CHECK_INT(a.proxies, 1);
    smtp_server_del(srv);
}

/* A session that uses every feature once and then repeats AUTH exchanges. */
static const char *const script_head = "PROXY TCP4 192.0.2.1 198.51.100.2 1 25\r\n"
                                       "EHLO c\r\n";
static const char *const script_round = "AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n"
                                        "AUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\n"
                                        "MAIL FROM:<a@b.example> AUTH=<a+2Bx@b.example>\r\n"
                                        "RCPT TO:<c@d.example>\r\n"
                                        "DATA\r\nhi\r\n.\r\n"
                                        "XFORWARD NAME=x ADDR=192.0.2.9\r\n"
                                        "XCLIENT NAME=x ADDR=2001:db8::1 LOGIN=bob\r\n"
                                        "EHLO c\r\n";

/* Feeds all of `in`; returns 0, or the session's fatal error (memory, under failmem). */
static int feed_all(smtp_server *srv, const char *in)
{
    size_t len = strlen(in), pos = 0;
    char out[8192];
    while (pos < len) {
        smtp_ssize n = smtp_server_read(srv, in + pos, len - pos);
        if (n < 0) return (int)n;
        if (n == 0) break;
        pos += (size_t)n;
        pull(srv, out, sizeof out);
    }
    CHECK_INT(pos, len);
    return 0;
}

/* Runs the script; *after_warmup: the allocation count after its second round. */
static int run_session(struct failmem *f, int rounds, int *after_warmup)
{
    smtp_mem mem = failmem_mem(f);
    smtp_server_settings s;
    auth_settings(&s);
    s.flags |= SMTP_SERVER_PROXY;
    struct app a = {0};
    smtp_server *srv;
    int r = smtp_server_new(&srv, &app_cb, &s, &mem, &a);
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        CHECK(srv == NULL);
        return r;
    }
    CHECK_INT(smtp_server_start(srv), 0);
    r = feed_all(srv, script_head);
    for (int i = 0; i < rounds && r == 0; i++) {
        /* The output queue grows on demand: a failure there fails the session, sticky. */
        r = feed_all(srv, script_round);
        if (r == 0) CHECK(smtp_server_auth_identity(srv) != NULL);
        /* The first round is not like the others: XCLIENT LOGIN leaves the session
         * authenticated, so later rounds draw more error replies at once. */
        if (i == 1 && after_warmup) *after_warmup = f->calls;
    }
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        CHECK_INT((int)smtp_server_read(srv, "NOOP\r\n", 6), SMTP_ERR_NOMEM);
    } else {
        CHECK_INT(a.xclients, rounds);
    }
    smtp_server_del(srv);
    return r;
}

static void test_alloc_failures(void)
{
    for (int n = 1;; n++) {
        struct failmem f = {.fail_at = n};
        int r = run_session(&f, 1, NULL);
        CHECK_INT(f.live, 0);
        if (r == 0) {
            CHECK(f.calls < n);
            break;
        }
        if (n > 100) {
            CHECK(0);
            break;
        }
    }
}

/* Steady state: once every buffer was needed once, exchanges allocate nothing. */
static void test_no_alloc_per_exchange(void)
{
    struct failmem f = {0};
    int warm = 0;
    CHECK_INT(run_session(&f, 50, &warm), 0);
    CHECK(warm > 0);
    CHECK_INT(f.calls, warm);
    CHECK_INT(f.live, 0);
}

int main(void)
{
    test_settings();
    test_sasl_deferred();
    test_auth_calls();
    test_strict();
    test_proxy_calls();
    test_alloc_failures();
    test_no_alloc_per_exchange();
    return check_finish();
}
