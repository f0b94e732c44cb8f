/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the server session engine's API: settings validation, misuse, the reply call,
 * deferral and the consumed count, output in small pieces, STARTTLS calls and the queries an
 * adapter drives by (want_tls, in_transaction, output_delay: the soft error limit),
 * allocation failure at every step, and no allocation per message in steady state; answers
 * refused for every kind of decision leave it pending; the envelope of deferred decisions
 * does not depend on the caller's input buffer; pipelined deferral (settings.max_pending): the
 * ids and their misuse, answers given from callbacks, the bounds (max_pending, the output
 * queue, max_recipients), no allocation per message; smtp_server_set_extensions.
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
    int defer_mail;
    int in_cb_read; /* result of smtp_server_read called from a callback */
    int mails, messages, aborts;
    smtp_server *srv;
    int fail_data;
};

static int app_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)m;
    struct app *a = ud;
    a->mails++;
    a->in_cb_read = (int)smtp_server_read(srv, "x", 1);
    return a->defer_mail ? SMTP_SERVER_DEFER : 0;
}

static int app_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv;
    (void)msg;
    struct app *a = ud;
    a->messages++;
    return 0;
}

static int app_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    (void)why;
    struct app *a = ud;
    a->aborts++;
    return 0;
}

static const smtp_server_callbacks app_cb = {
    .on_mail = app_mail, .on_message_end = app_end, .on_message_abort = app_abort};

/* Pulls all output into `buf` (NUL-terminated); returns its length. */
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

/* Feeds the whole string, as an adapter would (keeping unconsumed bytes). */
static void feed(smtp_server *srv, const char *s)
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
}

/* Applies bad setting number `i` to `s`; returns 0 past the last one. */
static int bad_setting(int i, smtp_server_settings *s)
{
    static char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    switch (i) {
    case 0: s->hostname = ""; return 1;
    case 1: s->hostname = "mx example"; return 1;
    case 2: s->hostname = long_name; return 1;
    case 3: s->hostname = "mx\r\n"; return 1;
    case 4: s->max_recipients = 99; return 1; /* RFC 5321 4.5.3.1.8 */
    case 5: s->max_output = 4095; return 1;
    case 6: s->timeout_command = 299999; return 1; /* RFC 5321 4.5.3.2.7 */
    case 7: s->flags = SMTP_SERVER_FLAGS_ALL + 1; return 1; /* past the flags defined */
    case 8: s->extensions = 0x10000; return 1;
    case 9: s->cmd_flags = 0x100; return 1;
    case 10: s->max_line = 4; return 1;
    case 11: s->auth_mechanisms = "PLAIN\n"; return 1;
    case 12: s->mt_priority_profile = "A B"; return 1;
    case 13: s->bare_policy = (smtp_data_policy)7; return 1;
    case 14: s->error_delay_ms = 300001; return 1;
    default: return 0;
    }
}

static void test_settings(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(NULL);
    smtp_server_settings_init(&s);
    CHECK_INT(s.max_recipients, 1000);
    CHECK_INT(s.timeout_command, 300000);
    CHECK_INT(s.timeout_data, 300000);
    CHECK_INT(s.hard_error_limit, 20);
    CHECK_INT(s.soft_error_limit, 10);
    CHECK_INT(s.error_delay_ms, 1000);
    CHECK_INT(s.junk_command_limit, 100);
    CHECK(strcmp(s.hostname, "localhost") == 0);
    CHECK_INT(smtp_server_new(NULL, NULL, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    for (int i = 0;; i++) {
        smtp_server_settings_init(&s);
        if (!bad_setting(i, &s)) break;
        smtp_server *srv = (smtp_server *)&s;
        CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
        CHECK(srv == NULL);
    }
    /* Setting strings are copied: the caller's buffer may change at once. */
    char name[32];
    strcpy(name, "mx.example.org");
    smtp_server_settings_init(&s);
    s.hostname = name;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    strcpy(name, "changed");
    CHECK_INT(smtp_server_start(srv), 0);
    char out[256];
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "220 mx.example.org ESMTP\r\n") == 0);
    smtp_server_del(srv);
    smtp_server_del(NULL);
}

static void test_misuse(void)
{
    smtp_server *srv;
    struct app a = {0};
    CHECK_INT(smtp_server_new(&srv, &app_cb, NULL, NULL, &a), 0);
    a.srv = srv;
    /* Before start. */
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), SMTP_ERR_INVALID_STATE);
    CHECK_INT(timeout_ms(srv), 0);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(smtp_server_start(srv), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_read(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_read(srv, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_read(srv, NULL, 0), 0);
    CHECK_INT(smtp_server_write(NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_write(srv, NULL, 5), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_write(srv, NULL, 0), 0); /* no room asked for: nothing, no error */
    CHECK_INT(smtp_server_reply(NULL, 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_tls_done(srv, 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_tls_done(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(timeout_ms(srv), 300000);
    CHECK_INT(smtp_server_want_read(srv), 1);
    CHECK_INT(smtp_server_want_write(srv), 1); /* the greeting */
    CHECK_INT(smtp_server_want_close(srv), 0);
    CHECK_INT(smtp_server_pending(srv), 0);
    CHECK_INT(smtp_server_want_read(NULL), 0);
    CHECK_INT(smtp_server_timeout_expired(NULL), SMTP_ERR_INVALID_ARGUMENT);
    /* Output pulled one byte at a time. */
    char out[1024];
    size_t len = 0;
    for (;;) {
        smtp_ssize n = smtp_server_write(srv, out + len, 1);
        if (n <= 0) break;
        len += (size_t)n;
    }
    CHECK_MEM(out, len, "220 localhost ESMTP\r\n");
    CHECK_INT(smtp_server_want_write(srv), 0);
    /* A callback may not read (reentrancy); the deferred decision then waits. */
    a.defer_mail = 1;
    const char *in = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nNOOP\r\n";
    smtp_ssize n = smtp_server_read(srv, in, strlen(in));
    CHECK_INT(a.in_cb_read, SMTP_ERR_INVALID_STATE);
    CHECK_INT(n, (smtp_ssize)(strlen(in) - 6)); /* stopped right after the MAIL line */
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(timeout_ms(srv), 0); /* the application's turn: no client timeout */
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), 0);
    /* Bad replies change nothing. */
    CHECK_INT(smtp_server_reply(srv, 354, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 199, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 600, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 550, "4.1.1", NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 550, "5.1", NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 550, NULL, NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 550, NULL, "a\r\nb", 4), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(smtp_server_reply(srv, 550, NULL, "a\0b", 3), SMTP_ERR_UNSAFE_ARGUMENT);
    char big[500];
    memset(big, 'x', sizeof big);
    CHECK_INT(smtp_server_reply(srv, 550, NULL, big, sizeof big), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_pending(srv), 1);
    pull(srv, out, sizeof out); /* the EHLO reply */
    CHECK_INT(smtp_server_reply(srv, 550, "5.7.1", "No\tthanks", 9), 0);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "550 5.7.1 No\tthanks\r\n") == 0);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), 6);
    pull(srv, out, sizeof out);
    CHECK(strcmp(out, "250 2.0.0 Ok\r\n") == 0);
    /* QUIT: 221, then want_close once written; nothing more is read. */
    CHECK_INT(smtp_server_read(srv, "QUIT\r\nNOOP\r\n", 12), 6);
    CHECK_INT(smtp_server_want_close(srv), 0);
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_want_close(srv), 1);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), 0);
    CHECK_INT(smtp_server_timeout_expired(srv), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_eof(srv), 0);
    smtp_server_del(srv);
}

static int fail_cb(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv;
    (void)verb;
    (void)domain;
    (void)ud;
    return -5;
}

static void test_callback_failure(void)
{
    smtp_server_callbacks cb = {0};
    cb.on_helo = fail_cb;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &cb, NULL, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(smtp_server_read(srv, "EHLO c\r\n", 8), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), SMTP_ERR_CALLBACK_FAILURE); /* sticky */
    CHECK_INT(smtp_server_want_close(srv), 0); /* the greeting is still queued */
    char out[64];
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_want_close(srv), 1);
    smtp_server_del(srv);
}

static void test_starttls_calls(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.extensions |= SMTP_SERVER_EXT_STARTTLS;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[1024];
    const char *in = "EHLO c\r\nSTARTTLS\r\nEHLO c\r\n";
    smtp_ssize n = smtp_server_read(srv, in, 18);
    CHECK_INT(n, 18);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(timeout_ms(srv), 0);
    CHECK_INT(smtp_server_want_tls(srv), 1);
    /* The 220 must be written before the handshake. */
    CHECK_INT(smtp_server_tls_done(srv, 1), SMTP_ERR_INVALID_STATE);
    pull(srv, out, sizeof out);
    CHECK(strstr(out, "220 2.0.0 Ready to start TLS\r\n") != NULL);
    CHECK_INT(smtp_server_want_tls(srv), 1); /* until the handshake is done */
    CHECK_INT(smtp_server_tls_done(srv, 1), 0);
    CHECK_INT(smtp_server_want_tls(srv), 0);
    CHECK_INT(smtp_server_tls_done(srv, 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_read(srv, in + 18, 8), 8);
    pull(srv, out, sizeof out);
    CHECK(strstr(out, "STARTTLS") == NULL);
    smtp_server_del(srv);
    CHECK_INT(smtp_server_want_tls(NULL), 0);
    /* Plaintext after STARTTLS (CVE-2011-0411): the session closes instead of TLS. */
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    const char *inj = "EHLO c\r\nSTARTTLS\r\nRSET\r\n";
    CHECK_INT(smtp_server_read(srv, inj, strlen(inj)), 18);
    CHECK_INT(smtp_server_want_tls(srv), 0);
    pull(srv, out, sizeof out);
    CHECK(strstr(out, "421 4.7.0") != NULL);
    CHECK_INT(smtp_server_want_close(srv), 1);
    smtp_server_del(srv);
}

/* smtp_server_in_transaction: from an accepted MAIL to the end of the transaction. */
static void test_in_transaction(void)
{
    struct app a;
    memset(&a, 0, sizeof a);
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &app_cb, NULL, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[4096];
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_in_transaction(srv), 0);
    CHECK_INT(smtp_server_in_transaction(NULL), 0);
    a.defer_mail = 1;
    feed(srv, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_in_transaction(srv), 0); /* still being decided */
    CHECK_INT(smtp_server_reply(srv, 550, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_in_transaction(srv), 0); /* refused: none */
    feed(srv, "MAIL FROM:<a@b.example>\r\n");
    CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_in_transaction(srv), 1);
    feed(srv, "RCPT TO:<c@d.example>\r\nDATA\r\nx\r\n");
    CHECK_INT(smtp_server_in_transaction(srv), 1);
    feed(srv, ".\r\n");
    CHECK_INT(a.messages, 1);
    CHECK_INT(smtp_server_in_transaction(srv), 0); /* answered */
    a.defer_mail = 0;
    feed(srv, "MAIL FROM:<a@b.example>\r\n");
    CHECK_INT(smtp_server_in_transaction(srv), 1);
    feed(srv, "RSET\r\n");
    CHECK_INT(smtp_server_in_transaction(srv), 0);
    smtp_server_del(srv);
}

static int defer_start(smtp_server *srv, void *ud);

/*
 * The soft error limit (Postfix's smtpd_soft_error_limit): after `soft` error replies, each
 * reply is held error_delay_ms by the adapter, and nothing more is read until it was written.
 */
static void test_soft_error_limit(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.soft_error_limit = 3;
    s.error_delay_ms = 1234;
    s.hard_error_limit = 0;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[4096];
    CHECK_INT(smtp_server_output_delay(srv), 0); /* the greeting */
    pull(srv, out, sizeof out);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(smtp_server_read(srv, "FOO\r\n", 5), 5);
        CHECK_INT(smtp_server_output_delay(srv), 0);
        pull(srv, out, sizeof out);
    }
    /* Three errors were made: the next reply (any) is held, and nothing more is read. */
    const char *two = "NOOP\r\nNOOP\r\n";
    CHECK_INT(smtp_server_read(srv, two, 12), 6);
    CHECK_INT(smtp_server_output_delay(srv), 1234);
    CHECK_INT(smtp_server_want_write(srv), 1);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(timeout_ms(srv), 0); /* the client's wait starts once it is sent */
    CHECK_INT(smtp_server_read(srv, two + 6, 6), 0);
    /* Writing (after the wait) ends it. */
    CHECK_INT(smtp_server_write(srv, out, 0), 0);
    CHECK_INT(smtp_server_output_delay(srv), 1234);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.0.0 Ok\r\n");
    CHECK_INT(smtp_server_output_delay(srv), 0);
    CHECK_INT(smtp_server_want_read(srv), 1);
    CHECK_INT(timeout_ms(srv), 300000);
    CHECK_INT(smtp_server_read(srv, two + 6, 6), 6);
    CHECK_INT(smtp_server_output_delay(srv), 1234);
    /* A shutdown does not wait. */
    CHECK_INT(smtp_server_shutdown(srv), 0);
    CHECK_INT(smtp_server_output_delay(srv), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.0.0 Ok\r\n421 4.3.2 localhost Service shutting down\r\n");
    smtp_server_del(srv);
    CHECK_INT(smtp_server_output_delay(NULL), 0);
    /* Past the limit, a deferred "BDAT 0 LAST" still ends the message once answered (no
     * reply was held when its command was read), and its reply is held in turn. */
    struct app a;
    memset(&a, 0, sizeof a);
    smtp_server_callbacks cb = app_cb;
    cb.on_mail = NULL;
    cb.on_data_start = defer_start;
    smtp_server_settings_init(&s);
    s.soft_error_limit = 1;
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(smtp_server_read(srv, "FOO\r\n", 5), 5);
    pull(srv, out, sizeof out);
    const char *steps[] = {"EHLO c\r\n", "MAIL FROM:<a@b.example>\r\n",
                           "RCPT TO:<c@d.example>\r\n"};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(smtp_server_read(srv, steps[i], strlen(steps[i])), (smtp_ssize)strlen(steps[i]));
        CHECK(smtp_server_output_delay(srv) > 0);
        pull(srv, out, sizeof out);
    }
    CHECK_INT(smtp_server_read(srv, "BDAT 0 LAST\r\n", 13), 13);
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), 0);
    CHECK_INT(smtp_server_reply(srv, 0, NULL, NULL, 0), 0);
    CHECK_INT(a.messages, 1);
    CHECK_INT(smtp_server_output_delay(srv), 1000);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.0.0 Ok: queued\r\n");
    smtp_server_del(srv);
    /* 0 turns it off; so does a delay of 0. */
    for (int i = 0; i < 2; i++) {
        smtp_server_settings_init(&s);
        s.hard_error_limit = 0;
        if (i == 0) s.soft_error_limit = 0;
        if (i == 1) s.error_delay_ms = 0;
        CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        for (int k = 0; k < 30; k++) {
            CHECK_INT(smtp_server_read(srv, "FOO\r\n", 5), 5);
            CHECK_INT(smtp_server_output_delay(srv), 0);
            pull(srv, out, sizeof out);
        }
        smtp_server_del(srv);
    }
}

static int count_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    *(size_t *)ud += data.len;
    return 0;
}

static const char *const session_start = "EHLO c\r\n";
static const char *const one_message = "MAIL FROM:<a@example.org> SIZE=100\r\n"
                                       "RCPT TO:<b@example.org>\r\n"
                                       "RCPT TO:<c@example.org>\r\n"
                                       "DATA\r\n"
                                       "Subject: x\r\n\r\n..body\r\n.\r\n"
                                       "MAIL FROM:<a@example.org>\r\n"
                                       "RCPT TO:<b@example.org>\r\n"
                                       "BDAT 5\r\nhello"
                                       "BDAT 3 LAST\r\nabc"
                                       "RSET\r\nNOOP\r\n";

/* Runs a session under the failing allocator; returns 0 when everything allocated. */
static int run_session(struct failmem *f, size_t *delivered)
{
    smtp_mem mem = failmem_mem(f);
    smtp_server_callbacks cb = {0};
    cb.on_data = count_data;
    smtp_server *srv;
    int r = smtp_server_new(&srv, &cb, NULL, &mem, delivered);
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        CHECK(srv == NULL);
        return r;
    }
    CHECK_INT(smtp_server_start(srv), 0);
    feed(srv, session_start);
    feed(srv, one_message);
    smtp_server_del(srv);
    return 0;
}

static void test_alloc_failures(void)
{
    for (int n = 1;; n++) {
        struct failmem f = {.fail_at = n};
        size_t delivered = 0;
        int r = run_session(&f, &delivered);
        CHECK_INT(f.live, 0);
        if (r == 0) {
            CHECK(f.calls < n); /* every allocation succeeded: done */
            break;
        }
        if (n > 100) {
            CHECK(0);
            break;
        }
    }
}

/* Feeds one_message: read by read (feed), or all at once before any reply is pulled. */
static void one_round(smtp_server *srv, int unread)
{
    if (!unread) {
        feed(srv, one_message);
        return;
    }
    char out[8192];
    CHECK_INT(smtp_server_read(srv, one_message, strlen(one_message)),
              (smtp_ssize)strlen(one_message));
    pull(srv, out, sizeof out);
}

/*
 * Steady state: once a message went through (the output queue has grown to what the
 * conversation needs), messages allocate nothing, with or without reading the replies
 * between commands.
 */
static void test_no_alloc_per_message(void)
{
    for (int unread = 0; unread < 2; unread++) {
        struct failmem f = {0};
        smtp_mem mem = failmem_mem(&f);
        smtp_server_callbacks cb = {0};
        size_t delivered = 0;
        cb.on_data = count_data;
        smtp_server *srv;
        CHECK_INT(smtp_server_new(&srv, &cb, NULL, &mem, &delivered), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        feed(srv, session_start);
        one_round(srv, unread);
        int warm = f.calls;
        for (int i = 0; i < 50; i++)
            one_round(srv, unread);
        CHECK_INT(f.calls, warm);
        CHECK_INT(delivered, 51 * (sizeof "Subject: x\r\n\r\n.body\r\n" - 1 + 8));
        smtp_server_del(srv);
        CHECK_INT(f.live, 0);
    }
}

/* The output queue is bounded: a client that never reads its replies stops being read. */
static void test_output_bound(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.max_output = 4096;
    s.junk_command_limit = 0;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char in[6 * 1000];
    for (int i = 0; i < 1000; i++)
        memcpy(in + 6 * i, "NOOP\r\n", 6);
    smtp_ssize n = smtp_server_read(srv, in, sizeof in);
    CHECK(n > 0 && n < (smtp_ssize)sizeof in);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(smtp_server_read(srv, in + n, sizeof in - (size_t)n), 0);
    char out[8192];
    size_t len = pull(srv, out, sizeof out);
    CHECK(len <= 4096);
    CHECK_INT(smtp_server_want_read(srv), 1);
    smtp_server_del(srv);
}

/* Feeds all of `in` and collects all output into `out` (grown as needed), as an adapter. */
static size_t converse(smtp_server *srv, const char *in, size_t len, char **out)
{
    size_t pos = 0, olen = 0, cap = 1 << 16;
    *out = malloc(cap);
    if (!*out) abort();
    for (int idle = 0; idle < 3;) {
        smtp_ssize n = smtp_server_read(srv, in + pos, len - pos);
        CHECK(n >= 0);
        if (n < 0) break;
        pos += (size_t)n;
        smtp_ssize w;
        int wrote = 0;
        while ((w = smtp_server_write(srv, *out + olen, cap - olen)) > 0) {
            olen += (size_t)w, wrote = 1;
            if (cap - olen < 4096) {
                cap *= 2;
                char *p = realloc(*out, cap);
                if (!p) abort();
                *out = p;
            }
        }
        idle = n > 0 || wrote ? 0 : idle + 1;
    }
    CHECK_INT(pos, len);
    return olen;
}

/* How many times `line` occurs in out[0..len). */
static size_t count_lines(const char *out, size_t len, const char *line)
{
    size_t n = 0, l = strlen(line);
    for (size_t i = 0; i + l <= len; i++)
        if (memcmp(out + i, line, l) == 0) n++, i += l - 1;
    return n;
}

/*
 * LMTP (RFC 2033 4.2): a refused message (too big, with DATA or BDAT LAST) gets one reply per
 * accepted recipient, more than the output queue holds at once: they follow as it drains, and
 * the next command's reply comes after the last of them.
 */
static void test_lmtp_refusal_per_recipient(void)
{
    enum { RCPTS = 300 };
    static const char *const bodies[] = {"DATA\r\n0123456789\r\n0123456789\r\n.\r\n",
                                         "BDAT 20 LAST\r\n0123456789\r\n012345\r\n",
                                         "BDAT 4\r\nabcd"
                                         "BDAT 20\r\n0123456789\r\n012345\r\n"
                                         "BDAT 2 LAST\r\nxy"};
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        smtp_server_settings s;
        smtp_server_settings_init(&s);
        s.flags = SMTP_SERVER_LMTP;
        s.max_output = 4096;
        s.max_message_size = 10;
        smtp_server *srv;
        CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        static char in[RCPTS * 32 + 256];
        size_t len = (size_t)snprintf(in, sizeof in, "LHLO c\r\nMAIL FROM:<a@example.org>\r\n");
        for (int i = 0; i < RCPTS; i++)
            len += (size_t)snprintf(in + len, sizeof in - len, "RCPT TO:<r%d@example.org>\r\n", i);
        len += (size_t)snprintf(in + len, sizeof in - len, "%sNOOP\r\n", bodies[b]);
        char *out;
        size_t olen = converse(srv, in, len, &out);
        /* BDAT 4 is accepted; BDAT 20 fails (one 552), the pipelined BDAT LAST owes RCPTS. */
        size_t want = b == 2 ? RCPTS + 1 : RCPTS;
        CHECK_INT(count_lines(out, olen, "552 5.3.4 Error: message file too big\r\n"), want);
        const char *tail = "552 5.3.4 Error: message file too big\r\n250 2.0.0 Ok\r\n";
        CHECK(olen > strlen(tail) && memcmp(out + olen - strlen(tail), tail, strlen(tail)) == 0);
        CHECK_INT(smtp_server_want_read(srv), 1);
        free(out);
        smtp_server_del(srv);
    }
}

static int defer_start(smtp_server *srv, void *ud)
{
    (void)srv, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int fail_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv, (void)msg, (void)ud;
    return -1;
}

/*
 * A first "BDAT 0 LAST" whose on_data_start was deferred ends the message when the decision
 * is answered: no later read is needed (an adapter may have nothing more to feed).
 */
static void test_deferred_empty_chunk(void)
{
    for (int failing = 0; failing < 2; failing++) {
        struct app a;
        memset(&a, 0, sizeof a);
        smtp_server_callbacks cb = app_cb;
        cb.on_mail = NULL;
        cb.on_data_start = defer_start;
        if (failing) cb.on_message_end = fail_end;
        smtp_server *srv;
        CHECK_INT(smtp_server_new(&srv, &cb, NULL, NULL, &a), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        char out[8192];
        pull(srv, out, sizeof out);
        const char *in = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                         "BDAT 0 LAST\r\n";
        CHECK_INT(smtp_server_read(srv, in, strlen(in)), (smtp_ssize)strlen(in));
        pull(srv, out, sizeof out);
        CHECK_INT(smtp_server_pending(srv), 1);
        CHECK_INT(a.messages, 0);
        int r = smtp_server_reply(srv, 0, NULL, NULL, 0);
        if (failing) {
            CHECK_INT(r, SMTP_ERR_CALLBACK_FAILURE);
            CHECK_INT(smtp_server_read(srv, "", 0), SMTP_ERR_CALLBACK_FAILURE);
        } else {
            CHECK_INT(r, 0);
            CHECK_INT(a.messages, 1);
            pull(srv, out, sizeof out);
            CHECK_STR(out, "250 2.0.0 Ok: queued\r\n");
            CHECK_INT(smtp_server_want_read(srv), 1);
        }
        smtp_server_del(srv);
    }
}

/*
 * smtp_server_timeout: timeout_command whenever the peer is to say something that is not
 * message data, the PROXY header included; timeout_data inside a message (RFC 5321 4.5.3.2).
 */
static void test_timeouts(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.flags = SMTP_SERVER_PROXY;
    s.timeout_command = 600000;
    s.timeout_data = 120000;
    smtp_server *srv;
    struct app a = {0};
    CHECK_INT(smtp_server_new(&srv, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(timeout_ms(srv), 0); /* not started */
    CHECK_INT(smtp_server_timeout(srv, NULL), SMTP_SERVER_WAIT_NONE);
    CHECK_INT(smtp_server_start(srv), 0);
    CHECK_INT(timeout_ms(srv), 600000); /* the PROXY header */
    CHECK_INT(smtp_server_timeout(srv, NULL), SMTP_SERVER_WAIT_COMMAND);
    const char *hdr = "PROXY UNKNOWN\r\n";
    CHECK_INT(smtp_server_read(srv, hdr, strlen(hdr)), (smtp_ssize)strlen(hdr));
    CHECK_INT(timeout_ms(srv), 600000);
    const char *in = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n";
    char out[2048];
    size_t pos = 0, len = strlen(in);
    while (pos < len) {
        smtp_ssize n = smtp_server_read(srv, in + pos, len - pos);
        CHECK(n > 0);
        if (n <= 0) break;
        pos += (size_t)n;
        pull(srv, out, sizeof out);
    }
    CHECK_INT(timeout_ms(srv), 120000); /* inside the message */
    CHECK_INT(smtp_server_timeout(srv, NULL), SMTP_SERVER_WAIT_DATA);
    CHECK_INT(smtp_server_read(srv, "x\r\n.\r\n", 6), 6);
    CHECK_INT(timeout_ms(srv), 600000);
    CHECK_INT(smtp_server_timeout(srv, NULL), SMTP_SERVER_WAIT_COMMAND);
    CHECK_INT(smtp_server_timeout(NULL, NULL), SMTP_SERVER_WAIT_NONE);
    CHECK_INT(smtp_server_want_close(NULL), 1);
    smtp_server_del(srv);
}

/* Settings and callbacks of version 1 (before FUTURERELEASE, the application's keywords and
 * parameters, on_etrn and on_help): init fills only their part, new reads only their part. */
static void test_versions(void)
{
    smtp_server_settings s;
    memset(&s, 0x5a, sizeof s);
    smtp_server_settings_init_versioned(1, &s);
    CHECK_INT(s.max_recipients, 1000);
    const unsigned char *tail = (const unsigned char *)&s.future_release_interval;
    size_t n = sizeof s - offsetof(smtp_server_settings, future_release_interval);
    for (size_t i = 0; i < n; i++)
        CHECK(tail[i] == 0x5a); /* a version-1 caller's struct ends before */
    smtp_server_settings_init_versioned(SMTP_SERVER_SETTINGS_VERSION + 1, &s);
    CHECK_INT(s.future_release_interval, 0x5a5a5a5a); /* unknown version: untouched */
    /* A version-1 struct with garbage after it: the new fields keep their defaults. */
    smtp_server_settings_init_versioned(1, &s);
    s.extensions |= SMTP_SERVER_EXT_FUTURERELEASE; /* needs version 2's fields */
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new_versioned(&srv, 1, NULL, 1, &s, NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    s.extensions &= ~SMTP_SERVER_EXT_FUTURERELEASE;
    smtp_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    memset(&cb.on_etrn, 0xff, sizeof cb.on_etrn); /* version 1 ends before: never read */
    CHECK_INT(smtp_server_new_versioned(&srv, 1, &cb, 1, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[1024];
    pull(srv, out, sizeof out);
    feed(srv, "EHLO c\r\nETRN @example.org\r\n"); /* no on_etrn: 502, no crash */
    smtp_server_del(srv);
    CHECK_INT(smtp_server_new_versioned(&srv, SMTP_SERVER_CALLBACKS_VERSION + 1, NULL, 2, NULL,
                                        NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    /* Settings version 2 checked. */
    static const struct {
        const char *keywords, *mail, *until;
        uint32_t interval;
    } bad[] = {{"-X", NULL, NULL, 0},        {"X\n", NULL, NULL, 0},
               {"X Y\x01", NULL, NULL, 0},   {"A\nB\nC\nD\nE\nF\nG\nH\nI", NULL, NULL, 0},
               {NULL, "X=1", NULL, 0},       {NULL, "", NULL, 0},
               {NULL, NULL, "tomorrow", 60}, {NULL, NULL, "2026-12-14T00:00:00Z", 0},
               {NULL, NULL, NULL, 60}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtp_server_settings_init(&s);
        s.ehlo_keywords = bad[i].keywords;
        s.mail_param_names = bad[i].mail;
        s.future_release_until = bad[i].until;
        s.future_release_interval = bad[i].interval;
        if (bad[i].until || bad[i].interval) s.extensions |= SMTP_SERVER_EXT_FUTURERELEASE;
        CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    }
    smtp_server_settings_init(&s);
    s.ehlo_keywords = "A\nB\nC\nD\nE\nF\nG\nX-H 1 2 3";
    s.mail_param_names = "XA XB";
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    /* The strings are copied and counted. */
    CHECK(smtp_server_memory(srv) > 0);
    smtp_server_del(srv);
}

/* The address smtp_server_client_address gives, "-" when unknown, and its port. */
static void check_client(const smtp_server *srv, const char *want, unsigned want_port)
{
    unsigned port = 7;
    const char *a = smtp_server_client_address(srv, &port);
    CHECK_STR(a ? a : "-", want);
    CHECK_INT(port, want_port);
}

/* A session after `pre` (a PROXY header or nothing) was fed whole or split at `cut`. */
static smtp_server *peer_session(unsigned flags, const char *pre, size_t len, size_t cut)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.flags = flags;
    s.trust = SMTP_SERVER_TRUST_XCLIENT;
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_set_client_address(srv, "192.0.2.7", 2525), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[512];
    if (cut > len) cut = len;
    CHECK_INT(smtp_server_read(srv, pre, cut), cut);
    CHECK_INT(smtp_server_read(srv, pre + cut, len - cut), len - cut);
    pull(srv, out, sizeof out);
    return srv;
}

/* smtp_server_client_address: the adapter's value, replaced by PROXY and XCLIENT. */
static void test_client_address(void)
{
    check_client(NULL, "-", 0);
    CHECK(smtp_server_client_address(NULL, NULL) == NULL);
    CHECK_INT(smtp_server_set_client_address(NULL, "192.0.2.1", 25), SMTP_ERR_INVALID_ARGUMENT);
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, NULL, NULL, NULL, NULL), 0);
    check_client(srv, "-", 0);
    /* The forms of RFC 4291 2.2 in, RFC 5952 out. */
    static const char *const forms[][2] = {
        {"192.0.2.1", "192.0.2.1"},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    /* the first of equal runs */
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},          /* the longest run */
        {"2001:db8:1:1:1:1:0:1", "2001:db8:1:1:1:1:0:1"}, /* one zero group stays */
        {"0:0:0:0:0:0:0:0", "::"},
        {"1::", "1::"},
        {"::1", "::1"},
        {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
        {"::ffff:c000:201", "::ffff:192.0.2.1"},
        {"fe80::ffff:0:0", "fe80::ffff:0:0"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        CHECK_INT(smtp_server_set_client_address(srv, forms[i][0], 25), 0);
        check_client(srv, forms[i][1], 25);
    }
    static const char *const bad[] = {"",         "192.0.2",      "[192.0.2.1]", "IPv6:::1",
                                      "::1%eth0", "host.example", "1.2.3.4 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(smtp_server_set_client_address(srv, bad[i], 25), SMTP_ERR_INVALID_ARGUMENT);
        check_client(srv, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 25); /* unchanged */
    }
    CHECK_INT(smtp_server_set_client_address(srv, "192.0.2.1", 65536), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_client_address(srv, NULL, 25), SMTP_ERR_INVALID_ARGUMENT);
    smtp_server_del(srv);

    /* A PROXY header names the client it speaks for, whole or split at any octet. */
    static const char v1[] = "PROXY TCP6 2001:db8::5 2001:db8::1 40000 25\r\n";
    static const char v1_unknown[] = "PROXY UNKNOWN\r\n";
    static const unsigned char v2[] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
                                       0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 198,  51,   100,  9,
                                       192,  0,    2,    1,    0x9c, 0x41, 0x00, 0x19};
    static const unsigned char v2_local[] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
                                             0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00};
    for (size_t cut = 0; cut <= sizeof v1 - 1; cut++) {
        srv = peer_session(SMTP_SERVER_PROXY, v1, sizeof v1 - 1, cut);
        check_client(srv, "2001:db8::5", 40000);
        smtp_server_del(srv);
    }
    for (size_t cut = 0; cut <= sizeof v2; cut++) {
        srv = peer_session(SMTP_SERVER_PROXY, (const char *)v2, sizeof v2, cut);
        check_client(srv, "198.51.100.9", 40001);
        smtp_server_del(srv);
    }
    /* UNKNOWN and LOCAL carry no client: the socket's peer stays. */
    srv = peer_session(SMTP_SERVER_PROXY, v1_unknown, sizeof v1_unknown - 1, 3);
    check_client(srv, "192.0.2.7", 2525);
    smtp_server_del(srv);
    srv = peer_session(SMTP_SERVER_PROXY, (const char *)v2_local, sizeof v2_local, 5);
    check_client(srv, "192.0.2.7", 2525);
    smtp_server_del(srv);

    /* XCLIENT: accepted, ADDR and PORT replace the client; refused, nothing changes. */
    srv = peer_session(0, "EHLO proxy.example\r\n", 20, 20);
    feed(srv, "XCLIENT ADDR=IPv6:2001:DB8::0:9 PORT=4711\r\n");
    check_client(srv, "2001:db8::9", 4711);
    feed(srv, "XCLIENT PORT=25\r\n"); /* the port of the address kept */
    check_client(srv, "2001:db8::9", 25);
    feed(srv, "XCLIENT ADDR=[UNAVAILABLE]\r\n");
    check_client(srv, "-", 0);
    feed(srv, "XCLIENT PORT=26\r\n"); /* no address: no port either */
    check_client(srv, "-", 0);
    feed(srv, "XCLIENT ADDR=10.0.0.1 PORT=[TEMPUNAVAIL]\r\n");
    check_client(srv, "10.0.0.1", 0);
    feed(srv, "XCLIENT ADDR=10.0.0.300\r\n"); /* 501: nothing changes */
    check_client(srv, "10.0.0.1", 0);
    smtp_server_del(srv);
}

/* ---- an application that defers every decision ---- */

static int defer_connect(smtp_server *srv, void *ud)
{
    (void)srv, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv, (void)verb, (void)domain, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)srv, (void)m, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv, (void)rc, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv, (void)msg, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_arg(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv, (void)arg, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_auth(smtp_server *srv, const smtp_server_auth *au, void *ud)
{
    (void)srv, (void)au, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_sasl(smtp_server *srv, const smtp_server_sasl *step, void *ud)
{
    (void)srv, (void)step, (void)ud;
    return SMTP_SERVER_DEFER;
}

static int defer_xattrs(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)srv, (void)x, (void)ud;
    return SMTP_SERVER_DEFER;
}

static const smtp_server_callbacks defer_all = {.on_connect = defer_connect,
                                                .on_helo = defer_helo,
                                                .on_mail = defer_mail,
                                                .on_rcpt = defer_rcpt,
                                                .on_data_start = defer_start,
                                                .on_message_end = defer_end,
                                                .on_vrfy = defer_arg,
                                                .on_auth = defer_auth,
                                                .on_sasl = defer_sasl,
                                                .on_xclient = defer_xattrs,
                                                .on_xforward = defer_xattrs,
                                                .on_etrn = defer_arg,
                                                .on_help = defer_arg};

/* A session of defer_all driven as an adapter drives it; decisions are counted from 1 (the
 * greeting). */
struct drive {
    smtp_server *srv;
    int decisions; /* decisions seen pending so far */
    int stop;      /* the decision to leave pending when it comes (0: none) */
    char out[8192];
    size_t olen; /* output pulled since the last drive_take */
};

/* Pulls the output into d->out. */
static void drive_pull(struct drive *d)
{
    d->olen += pull(d->srv, d->out + d->olen, sizeof d->out - d->olen);
}

/* Answers the pending decisions with the default; returns 1 when the stop-th is pending. */
static int drive_answer(struct drive *d)
{
    while (smtp_server_pending(d->srv)) {
        if (++d->decisions == d->stop) return 1;
        CHECK_INT(smtp_server_reply(d->srv, 0, NULL, NULL, 0), 0);
        drive_pull(d);
    }
    return 0;
}

/* Feeds all of `s` (answering with the default as decisions come) until the stop-th decision
 * is pending or the input is consumed; returns the octets consumed. */
static size_t drive_feed(struct drive *d, const char *s)
{
    size_t len = strlen(s), pos = 0;
    for (;;) {
        drive_pull(d);
        if (drive_answer(d)) break;
        if (pos == len) break;
        smtp_ssize n = smtp_server_read(d->srv, s + pos, len - pos);
        CHECK(n > 0);
        if (n <= 0) break;
        pos += (size_t)n;
    }
    return pos;
}

/* Compares the output pulled since the last call with `want`, then forgets it. */
static void drive_take(struct drive *d, const char *want)
{
    CHECK_MEM(d->out, d->olen, want);
    d->olen = 0;
}

static smtp_server *drive_new(struct drive *d, const smtp_server_settings *s)
{
    memset(d, 0, sizeof *d);
    CHECK_INT(smtp_server_new(&d->srv, &defer_all, s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(d->srv), 0);
    return d->srv;
}

/*
 * An answer smtp_server_reply refuses changes nothing (server.h): the decision stays pending,
 * nothing is queued, the session is where it was, and a valid answer given after it answers
 * that same decision. Here the codes whose second digit is over 5 (RFC 5321 4.2), for every
 * kind of decision.
 */
static void test_bad_code_keeps_decision(void)
{
    enum { AUTH = 1, SASL = 2, LMTP = 4, XCLIENT = 8, XFORWARD = 16 };
    static const char mail[] = "EHLO c\r\nMAIL FROM:<a@b.example>\r\n";
    static const char rcpt[] = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
    static const struct {
        int setup;
        const char *in; /* the client's input, ending with the command decided */
        int stop;       /* which decision that is (the greeting is 1) */
        int good;       /* a valid answer to it, with its text or NULL */
        const char *text;
        const char *want; /* the output of that answer */
        const char *next; /* more input, answered with the defaults */
        const char *then; /* the output it gives */
    } cases[] = {
        {0, "", 1, 0, NULL, "220 localhost ESMTP\r\n", "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {0, "", 1, 554, "No", "554 localhost No\r\n", "NOOP\r\n",
         "503 5.5.1 Error: no SMTP service here\r\n"},
        {0, "HELO c\r\n", 2, 0, NULL, "250 localhost\r\n", "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {0, "EHLO c\r\n", 2, 550, NULL, "550 5.0.0 Error: command rejected\r\n",
         "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n"},
        {0, mail, 3, 0, NULL, "250 2.1.0 Ok\r\n", "RCPT TO:<c@d.example>\r\n", "250 2.1.5 Ok\r\n"},
        {0, rcpt, 4, 450, "Later", "450 4.0.0 Later\r\n", "DATA\r\n",
         "554 5.5.1 Error: no valid recipients\r\n"},
        {0, rcpt, 4, 251, NULL, "251 2.1.5 Ok\r\n", "DATA\r\nx\r\n.\r\n",
         "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued\r\n"},
        {0, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n", 5, 354, NULL,
         "354 End data with <CR><LF>.<CR><LF>\r\n", "x\r\n.\r\n", "250 2.0.0 Ok: queued\r\n"},
        {0, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 3 LAST\r\n", 5, 0,
         NULL, "", "abc", "250 2.0.0 Ok: queued\r\n"},
        {0, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 3 LAST\r\n", 5, 554,
         "No", "", "abcNOOP\r\n", "554 5.0.0 No\r\n250 2.0.0 Ok\r\n"},
        {0, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\r\n.\r\n", 6,
         0, NULL, "250 2.0.0 Ok: queued\r\n", "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {LMTP,
         "LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\n"
         "DATA\r\nx\r\n.\r\n",
         7, 452, "Full", "452 4.0.0 Full\r\n", "NOOP\r\n",
         "250 2.0.0 Ok: queued\r\n250 2.0.0 Ok\r\n"},
        {0, "EHLO c\r\nVRFY x\r\n", 3, 0, NULL,
         "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n", "NOOP\r\n",
         "250 2.0.0 Ok\r\n"},
        {0, "EHLO c\r\nETRN @d.example\r\n", 3, 0, NULL, "250 2.0.0 Queuing started\r\n",
         "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {0, "HELP\r\n", 2, 214, "Ask", "214 2.0.0 Ask\r\n", "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {AUTH, "EHLO c\r\nAUTH PLAIN AHUAcA==\r\n", 3, 0, NULL,
         "235 2.7.0 Authentication successful\r\n", "AUTH PLAIN AHUAcA==\r\n",
         "503 5.5.1 Error: already authenticated\r\n"},
        {SASL, "EHLO c\r\nAUTH X-TEST\r\n", 3, 535, NULL,
         "535 5.7.8 Authentication credentials invalid\r\n", "NOOP\r\n", "250 2.0.0 Ok\r\n"},
        {XCLIENT, "EHLO c\r\nXCLIENT ADDR=192.0.2.1\r\n", 3, 0, NULL, "220 localhost ESMTP\r\n",
         "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\r\n"},
        {XCLIENT, "EHLO c\r\nXCLIENT ADDR=192.0.2.1\r\n", 3, 550, NULL,
         "550 5.0.0 Error: command rejected\r\n", "MAIL FROM:<a@b.example>\r\n",
         "250 2.1.0 Ok\r\n"},
        {XFORWARD, "EHLO c\r\nXFORWARD NAME=d.example\r\n", 3, 0, NULL, "250 2.0.0 Ok\r\n",
         "NOOP\r\n", "250 2.0.0 Ok\r\n"},
    };
    static const int bad[] = {460, 599, 261, 570};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smtp_server_settings s;
        smtp_server_settings_init(&s);
        int setup = cases[i].setup;
        if (setup & (AUTH | SASL)) {
            s.extensions |= SMTP_SERVER_EXT_AUTH;
            s.flags |= SMTP_SERVER_AUTH_PLAINTEXT;
            s.auth_mechanisms = setup & AUTH ? "PLAIN" : "X-TEST";
        }
        if (setup & LMTP) s.flags |= SMTP_SERVER_LMTP;
        if (setup & XCLIENT) s.trust = SMTP_SERVER_TRUST_XCLIENT;
        if (setup & XFORWARD) s.trust = SMTP_SERVER_TRUST_XFORWARD;
        struct drive d;
        smtp_server *srv = drive_new(&d, &s);
        d.stop = cases[i].stop;
        CHECK_INT(drive_feed(&d, cases[i].in), strlen(cases[i].in));
        CHECK_INT(d.decisions, cases[i].stop);
        d.olen = 0;
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            CHECK_INT(smtp_server_reply(srv, bad[b], NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
            CHECK_INT(smtp_server_reply(srv, bad[b], NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
            CHECK_INT(smtp_server_pending(srv), 1);
            CHECK_INT(smtp_server_want_write(srv), 0);
            CHECK_INT(smtp_server_want_read(srv), 0);
            CHECK_INT(smtp_server_want_close(srv), 0);
        }
        const char *t = cases[i].text;
        CHECK_INT(smtp_server_reply(srv, cases[i].good, NULL, t, t ? strlen(t) : 0), 0);
        drive_pull(&d);
        drive_take(&d, cases[i].want);
        d.stop = 0;
        CHECK_INT(drive_feed(&d, cases[i].next), strlen(cases[i].next));
        drive_take(&d, cases[i].then);
        smtp_server_del(srv);
    }
}

/*
 * The greeting and an accepted XCLIENT's 220 carry the hostname before the text: one whose
 * line would be over 512 octets (RFC 5321 4.5.3.1.5) is refused and changes nothing (the
 * greeting stays to be decided; XCLIENT does not reset the session); one that just fits goes.
 */
static void test_long_host_line_keeps_decision(void)
{
    char host[SMTP_MAX_DOMAIN + 1], text[400], want[600];
    memset(host, 'h', SMTP_MAX_DOMAIN);
    host[SMTP_MAX_DOMAIN] = '\0';
    memset(text, 't', sizeof text);
    /* "220 " host " " text CRLF: 512 octets with 250 octets of text. */
    const size_t fits = 512 - 4 - SMTP_MAX_DOMAIN - 1 - 2;
    CHECK_INT(fits, 250);
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hostname = host;
    s.trust = SMTP_SERVER_TRUST_XCLIENT;
    s.flags |= SMTP_SERVER_ENVELOPE;
    for (int xclient = 0; xclient < 2; xclient++) {
        struct drive d;
        smtp_server *srv = drive_new(&d, &s);
        d.stop = xclient ? 3 : 1;
        CHECK_INT(smtp_server_set_client_address(srv, "192.0.2.7", 2525), 0);
        const char *in = xclient ? "EHLO c.example\r\nXCLIENT ADDR=192.0.2.1 PORT=25\r\n" : "";
        CHECK_INT(drive_feed(&d, in), strlen(in));
        d.olen = 0;
        int codes[] = {220, 554, 421};
        for (int k = 0; k < (xclient ? 1 : 3); k++) {
            for (size_t len = fits + 1; len <= sizeof text; len += sizeof text - fits - 1) {
                CHECK_INT(smtp_server_reply(srv, codes[k], NULL, text, len),
                          SMTP_ERR_INVALID_ARGUMENT);
                CHECK_INT(smtp_server_pending(srv), 1);
                CHECK_INT(smtp_server_want_write(srv), 0);
                CHECK_INT(smtp_server_want_read(srv), 0);
                check_client(srv, "192.0.2.7", 2525); /* XCLIENT: not applied */
                smtp_span h = smtp_server_helo(srv);
                CHECK_MEM(h.ptr ? h.ptr : "", h.len, xclient ? "c.example" : "");
            }
        }
        CHECK_INT(smtp_server_reply(srv, 220, NULL, text, fits), 0);
        drive_pull(&d);
        snprintf(want, sizeof want, "220 %s %.*s\r\n", host, (int)fits, text);
        CHECK_INT(strlen(want), 512);
        drive_take(&d, want);
        if (xclient) check_client(srv, "192.0.2.1", 25);
        CHECK_INT(drive_feed(&d, "MAIL FROM:<a@b.example>\r\n"), 25);
        drive_take(&d, "503 5.5.1 Error: send HELO/EHLO first\r\n"); /* greeted anew */
        smtp_server_del(srv);
    }
}

/* ---- the envelope of deferred decisions ---- */

/* Defers HELO, MAIL and RCPT; the answer it will give is chosen from the command, as it is
 * read; each message's envelope is logged. */
struct env_app {
    int code; /* the answer to the decision pending */
    char log[2048];
    size_t len;
};

static void env_log(struct env_app *a, const char *what, smtp_span s)
{
    int n = snprintf(a->log + a->len, sizeof a->log - a->len, "%s=\"%.*s\" ", what, (int)s.len,
                     s.ptr ? s.ptr : "");
    if (n > 0) a->len += (size_t)n;
    if (a->len >= sizeof a->log) a->len = sizeof a->log - 1;
}

static int span_starts(smtp_span s, const char *p)
{
    return s.len >= strlen(p) && memcmp(s.ptr, p, strlen(p)) == 0;
}

static int env_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv, (void)verb;
    struct env_app *a = ud;
    a->code = span_starts(domain, "bad") ? 550 : 0;
    return SMTP_SERVER_DEFER;
}

static int env_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)srv;
    struct env_app *a = ud;
    a->code = span_starts(m->path, "<spammer") ? 550 : 0;
    return SMTP_SERVER_DEFER;
}

static int env_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    (void)srv;
    struct env_app *a = ud;
    a->code = span_starts(rc->path, "<bad") ? 550 : 0;
    return SMTP_SERVER_DEFER;
}

static int env_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    struct env_app *a = ud;
    env_log(a, "helo", smtp_server_helo(srv));
    env_log(a, "from", msg->sender.path);
    env_log(a, "params", msg->sender.params);
    for (size_t i = 0; i < msg->recipients; i++) {
        env_log(a, "to", msg->rcpts[i].path);
        env_log(a, "params", msg->rcpts[i].params);
    }
    a->log[a->len - 1] = '\n';
    return 0;
}

/*
 * Feeds `in` split at `cut` (0: whole) as an adapter that reuses its buffer: each read gets a
 * heap copy of the bytes still unread, overwritten and freed as soon as the read returned, and
 * the deferred decisions are answered only then. Returns the output (in out).
 */
static size_t env_feed(smtp_server *srv, struct env_app *a, const char *in, size_t cut, char *out,
                       size_t cap)
{
    size_t len = strlen(in), have = cut && cut < len ? cut : len, pos = 0, olen = 0;
    for (;;) {
        size_t n = have - pos;
        char *buf = malloc(n + 1);
        if (!buf) abort();
        memcpy(buf, in + pos, n);
        smtp_ssize r = smtp_server_read(srv, buf, n);
        memset(buf, 'Z', n + 1);
        free(buf);
        CHECK(r >= 0);
        if (r < 0) break;
        pos += (size_t)r;
        olen += pull(srv, out + olen, cap - olen);
        int answered = 0;
        while (smtp_server_pending(srv)) {
            CHECK_INT(smtp_server_reply(srv, a->code, NULL, NULL, 0), 0);
            olen += pull(srv, out + olen, cap - olen);
            answered = 1;
        }
        if (pos == have && have == len) break;
        if (pos == have)
            have = len; /* the rest of the input arrives */
        else if (r == 0 && !answered) {
            CHECK(0); /* stuck */
            break;
        }
    }
    return olen;
}

/*
 * SMTP_SERVER_ENVELOPE with on_helo, on_mail and on_rcpt deferred: what the envelope and
 * smtp_server_helo give is what the client sent, although each command's bytes were consumed,
 * overwritten and freed by the adapter before its decision was answered; refused commands
 * leave nothing (a refused hello keeps the name before it). Fed whole and split at every
 * octet, with and without SMTP_SERVER_PREALLOCATE.
 */
static void test_deferred_envelope(void)
{
    static const char in[] =
        "EHLO client.example\r\n"
        "MAIL FROM:<alice@example.org> SIZE=22 BODY=8BITMIME\r\n"
        "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n"
        "RCPT TO:<bad@example.net>\r\n"
        "RCPT TO:<Postmaster>\r\n"
        "DATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\n"
        "EHLO bad.example\r\n"
        "MAIL FROM:<spammer@example.org>\r\n"
        "MAIL FROM:<> RET=HDRS\r\n"
        "RCPT TO:<carol@example.net>\r\n"
        "BDAT 2 LAST\r\nhi"
        "HELO second.example\r\n"
        "MAIL FROM:<d@example.org>\r\n"
        "RCPT TO:<e@example.net> NOTIFY=NEVER\r\n"
        "DATA\r\nx\r\n.\r\n"
        "QUIT\r\n";
    static const char want[] =
        "helo=\"client.example\" from=\"<alice@example.org>\" params=\"SIZE=22 BODY=8BITMIME\" "
        "to=\"<bob@example.net>\" params=\"NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\" "
        "to=\"<Postmaster>\" params=\"\"\n"
        "helo=\"client.example\" from=\"<>\" params=\"RET=HDRS\" to=\"<carol@example.net>\" "
        "params=\"\"\n"
        "helo=\"second.example\" from=\"<d@example.org>\" params=\"\" to=\"<e@example.net>\" "
        "params=\"NOTIFY=NEVER\"\n";
    smtp_server_callbacks cb = {0};
    cb.on_helo = env_helo;
    cb.on_mail = env_mail;
    cb.on_rcpt = env_rcpt;
    cb.on_message_end = env_end;
    static char whole[8192], out[8192];
    size_t whole_len = 0;
    for (int prealloc = 0; prealloc < 2; prealloc++) {
        smtp_server_settings s;
        smtp_server_settings_init(&s);
        s.flags |= SMTP_SERVER_ENVELOPE | (prealloc ? SMTP_SERVER_PREALLOCATE : 0);
        for (size_t cut = 0; cut < sizeof in - 1; cut++) {
            struct env_app a;
            memset(&a, 0, sizeof a);
            smtp_server *srv;
            CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &a), 0);
            CHECK_INT(smtp_server_start(srv), 0);
            size_t olen = pull(srv, out, sizeof out);
            olen += env_feed(srv, &a, in, cut, out + olen, sizeof out - olen);
            CHECK_STR(a.log, want);
            if (prealloc == 0 && cut == 0) {
                memcpy(whole, out, olen + 1);
                whole_len = olen;
                CHECK(strstr(whole, "550 5.0.0") != NULL);
                CHECK(strstr(whole, "221 2.0.0 Bye\r\n") != NULL);
            }
            CHECK_MEM(out, olen, whole); /* split invariance */
            smtp_span h = smtp_server_helo(srv);
            CHECK_MEM(h.ptr, h.len, "second.example");
            smtp_server_del(srv);
        }
    }
    CHECK(whole_len > 0);
}

/* ---- pipelined deferral (settings.max_pending) ---- */

/* Settings version 3 (max_pending): a version-2 caller's struct ends before it, and a
 * version-2 struct passed to smtp_server_new gets its default. */
static void test_settings_v3(void)
{
    union {
        smtp_server_settings s;
        unsigned char b[sizeof(smtp_server_settings)];
    } u;
    memset(&u, 0xab, sizeof u);
    smtp_server_settings_init_versioned(2, &u.s);
    CHECK_INT(u.s.max_recipients, 1000);
    CHECK(u.s.rcpt_param_names == NULL);
    for (size_t i = offsetof(smtp_server_settings, max_pending); i < sizeof u.b; i++)
        CHECK(u.b[i] == 0xab); /* version 3's field: not the version-2 caller's */
    smtp_server_settings_init_versioned(3, &u.s);
    CHECK_INT(u.s.max_pending, 1);
    u.s.max_pending = 7;
    smtp_server_settings_init_versioned(SMTP_SERVER_SETTINGS_VERSION + 1, &u.s); /* ignored */
    CHECK_INT(u.s.max_pending, 7);
    /* A version-2 struct with garbage where max_pending would be: the default, 1. */
    memset(&u, 0xab, sizeof u);
    smtp_server_settings_init_versioned(2, &u.s);
    smtp_server *srv;
    CHECK_INT(smtp_server_new_versioned(&srv, 2, NULL, 2, &u.s, NULL, NULL), 0);
    size_t v2 = smtp_server_memory(srv);
    smtp_server_del(srv);
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_memory(srv), v2);
    smtp_server_del(srv);
    /* Range 1 .. 1024; each unit above 1 is a slot, allocated with the first command read
     * ahead (test_pipelined_ring_nomem), or by smtp_server_new with SMTP_SERVER_PREALLOCATE. */
    s.max_pending = 0;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.max_pending = 1025;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.max_pending = 1024;
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_memory(srv), v2); /* an idle session: no slot yet */
    smtp_server_del(srv);
    s.flags |= SMTP_SERVER_PREALLOCATE;
    smtp_server_settings s1 = s;
    s1.max_pending = 1;
    CHECK_INT(smtp_server_new(&srv, NULL, &s1, NULL, NULL), 0);
    size_t pre1 = smtp_server_memory(srv);
    smtp_server_del(srv);
    CHECK_INT(smtp_server_new(&srv, NULL, &s, NULL, NULL), 0);
    size_t slots = smtp_server_memory(srv) - pre1;
    CHECK(slots >= 1024 * 400 && slots <= 1024 * 600); /* about 520 octets a slot */
    smtp_server_del(srv);
    /* Every allocation of smtp_server_new may fail, the slots' too: nothing stays. */
    s.max_pending = 8;
    for (int n = 1; n < 20; n++) {
        struct failmem f = {.fail_at = n};
        smtp_mem mem = failmem_mem(&f);
        int r = smtp_server_new(&srv, NULL, &s, &mem, NULL);
        if (r == 0) smtp_server_del(srv);
        CHECK(r == 0 || r == SMTP_ERR_NOMEM);
        CHECK_INT(f.live, 0);
        if (r == 0) break;
    }
}

/* An application that defers every MAIL, RCPT and DATA (or answers some from callbacks). */
struct papp {
    uint64_t ids[256]; /* the decisions deferred, in order */
    int nids, rcpts, data_starts, aborts, messages;
    smtp_server_abort_reason why;
    int rcpt_refuses;      /* on_rcpt refuses with smtp_server_reply and returns 0 */
    int rcpt_answers_mail; /* on_rcpt answers the first id (MAIL) with 250 */
    int reply_rv;          /* what that call returned */
    uint64_t in_cb;        /* smtp_server_decision in the last on_rcpt */
    int fail_data_start;
    size_t content;
};

static int papp_defer(smtp_server *srv, struct papp *a)
{
    a->ids[a->nids++ % 256] = smtp_server_decision(srv);
    return SMTP_SERVER_DEFER;
}

static int papp_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)m;
    return papp_defer(srv, ud);
}

static int papp_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    struct papp *a = ud;
    CHECK_INT(rc->index, a->rcpts); /* the recipients pending count as accepted */
    a->rcpts++;
    a->in_cb = smtp_server_decision(srv);
    if (a->rcpt_answers_mail) {
        a->rcpt_answers_mail = 0;
        a->reply_rv = smtp_server_reply_to(srv, a->ids[0], 250, NULL, NULL, 0);
    }
    if (a->rcpt_refuses) {
        a->reply_rv = smtp_server_reply(srv, 550, "5.1.1", "No such user", 12);
        return 0;
    }
    return papp_defer(srv, a);
}

static int papp_data_start(smtp_server *srv, void *ud)
{
    struct papp *a = ud;
    a->data_starts++;
    if (a->fail_data_start) return -1;
    return papp_defer(srv, a);
}

static int papp_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    ((struct papp *)ud)->content += data.len;
    return 0;
}

static int papp_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv, (void)msg;
    ((struct papp *)ud)->messages++;
    return 0;
}

static int papp_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    struct papp *a = ud;
    a->aborts++;
    a->why = why;
    return 0;
}

static const smtp_server_callbacks papp_cb = {.on_mail = papp_mail,
                                              .on_rcpt = papp_rcpt,
                                              .on_data_start = papp_data_start,
                                              .on_data = papp_data,
                                              .on_message_end = papp_end,
                                              .on_message_abort = papp_abort};

/* A session of papp_cb with settings `s`, greeted and past EHLO. */
static smtp_server *papp_session(struct papp *a, const smtp_server_settings *s, const smtp_mem *mem)
{
    memset(a, 0, sizeof *a);
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &papp_cb, s, mem, a), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    char out[2048];
    CHECK_INT(smtp_server_read(srv, "EHLO c\r\n", 8), 8);
    pull(srv, out, sizeof out);
    return srv;
}

/* The same, reading ahead up to max_pending. */
static smtp_server *papp_new(struct papp *a, size_t max_pending, const smtp_mem *mem)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.max_pending = max_pending;
    s.max_output = 65536;
    return papp_session(a, &s, mem);
}

/* Answers the deferred decisions a->ids[k] with the default acceptance, k as `order` says,
 * and compares the replies that follow with `want`. */
static void answer_ids(smtp_server *srv, const struct papp *a, const char *order, const char *want)
{
    for (const char *o = order; *o; o++)
        CHECK_INT(smtp_server_reply_to(srv, a->ids[*o - '0'], 0, NULL, NULL, 0), 0);
    char out[4096];
    pull(srv, out, sizeof out);
    CHECK_STR(out, want);
}

static const char group[] = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                            "RCPT TO:<e@f.example>\r\nDATA\r\n";

/* Ids, the order of the replies, and every misuse of smtp_server_reply_to. */
static void test_pipelined_ids(void)
{
    struct papp a;
    smtp_server *srv = papp_new(&a, 8, NULL);
    char out[4096];
    CHECK_INT(smtp_server_decision(srv), 0);
    CHECK_INT(smtp_server_decision(NULL), 0);
    /* The group is read up to DATA, which ends it: the body stays unread. */
    char in[256];
    snprintf(in, sizeof in, "%sbody\r\n.\r\n", group);
    CHECK_INT(smtp_server_read(srv, in, strlen(in)), (smtp_ssize)strlen(group));
    CHECK_INT(a.nids, 4);
    CHECK(a.ids[0] > 2 && a.ids[1] == a.ids[0] + 1 && a.ids[3] == a.ids[0] + 3);
    CHECK_INT(smtp_server_decision(srv), a.ids[0]); /* the oldest pending */
    CHECK_INT(smtp_server_pending(srv), 1);
    CHECK_INT(smtp_server_want_read(srv), 0); /* DATA ended the group */
    CHECK_INT(timeout_ms(srv), 0);
    CHECK_INT(smtp_server_want_write(srv), 0);
    /* Misuse changes nothing. */
    CHECK_INT(smtp_server_reply_to(NULL, a.ids[0], 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply_to(srv, 0, 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[3] + 1, 250, NULL, NULL, 0),
              SMTP_ERR_INVALID_ARGUMENT); /* never given */
    CHECK_INT(smtp_server_reply_to(srv, 2, 250, NULL, NULL, 0),
              SMTP_ERR_INVALID_STATE); /* EHLO's: answered long ago */
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 354, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 550, "4.1.1", NULL, 0),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 550, NULL, "a\nb", 3), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[3], 250, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    /* The second RCPT and DATA answered first: kept, nothing goes out. */
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 251, NULL, "Forwarded", 9), 0);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[3], 354, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_want_write(srv), 0);
    CHECK_INT(smtp_server_pending(srv), 1);
    /* MAIL: its reply alone, the first RCPT being unanswered. */
    CHECK_INT(smtp_server_reply_to(srv, a.ids[0], 250, NULL, NULL, 0), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.1.0 Ok\r\n");
    CHECK_INT(smtp_server_decision(srv), a.ids[1]);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[0], 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    /* smtp_server_reply outside the callbacks: the oldest, then the kept answers follow. */
    CHECK_INT(smtp_server_reply(srv, 550, "5.1.1", "No", 2), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out,
              "550 5.1.1 No\r\n251 2.1.5 Forwarded\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    CHECK_INT(smtp_server_pending(srv), 0);
    CHECK_INT(smtp_server_decision(srv), 0);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_read(srv, in + strlen(group), 9), 9);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.0.0 Ok: queued\r\n");
    CHECK_INT(a.messages, 1);
    CHECK_INT(a.content, 6);
    /* A failed session takes no answer. */
    a.fail_data_start = 1;
    a.rcpts = 0;
    CHECK_INT(smtp_server_read(srv, group, strlen(group)), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[4], 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), SMTP_ERR_INVALID_STATE);
    smtp_server_del(srv);
}

/* Answers given from the callbacks of commands read ahead. */
static void test_pipelined_callbacks(void)
{
    struct papp a;
    char out[4096];
    /* on_rcpt refusing with smtp_server_reply answers its own decision, not MAIL's; DATA,
     * every recipient refused already, is not asked early. */
    smtp_server *srv = papp_new(&a, 8, NULL);
    a.rcpt_refuses = 1;
    CHECK_INT(smtp_server_read(srv, group, strlen(group)), (smtp_ssize)strlen(group));
    CHECK_INT(a.reply_rv, 0);
    CHECK_INT(a.nids, 1); /* MAIL alone deferred */
    CHECK_INT(a.data_starts, 0);
    CHECK(a.in_cb == a.ids[0] + 2);
    CHECK_INT(smtp_server_want_write(srv), 0);
    CHECK_INT(smtp_server_decision(srv), a.ids[0]);
    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n550 5.1.1 No such user\r\n"
                   "554 5.5.1 Error: no valid recipients\r\n");
    CHECK_INT(smtp_server_pending(srv), 0);
    smtp_server_del(srv);
    /* DATA accepted early, its recipients refused after: 554 whatever the answer, the abort;
     * what follows is read as commands. */
    srv = papp_new(&a, 8, NULL);
    CHECK_INT(smtp_server_read(srv, group, strlen(group)), (smtp_ssize)strlen(group));
    CHECK_INT(a.nids, 4);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[3], 354, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[2], 550, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[1], 450, NULL, NULL, 0), 0);
    CHECK_INT(a.aborts, 0);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[0], 250, NULL, NULL, 0), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.1.0 Ok\r\n450 4.0.0 Error: command rejected\r\n"
                   "550 5.0.0 Error: command rejected\r\n554 5.5.1 Error: no valid recipients\r\n");
    CHECK_INT(a.aborts, 1);
    CHECK_INT(a.why, SMTP_SERVER_ABORT_NO_RECIPIENTS);
    CHECK_INT(smtp_server_in_transaction(srv), 1); /* MAIL's: RSET ends it */
    CHECK_INT(smtp_server_read(srv, "x\r\n.\r\n", 6), 6);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "500 5.5.1 Error: command not recognized\r\n"
                   "500 5.5.1 Error: command not recognized\r\n");
    CHECK_INT(a.messages, 0);
    CHECK_STR(smtp_server_abort_name(SMTP_SERVER_ABORT_NO_RECIPIENTS), "NO_RECIPIENTS");
    smtp_server_del(srv);
    /* on_rcpt answering MAIL (by its id): MAIL's reply goes out at once. */
    srv = papp_new(&a, 8, NULL);
    a.rcpt_answers_mail = 1;
    CHECK_INT(smtp_server_read(srv, group, strlen(group)), (smtp_ssize)strlen(group));
    CHECK_INT(a.reply_rv, 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.1.0 Ok\r\n");
    CHECK_INT(smtp_server_decision(srv), a.ids[1]); /* the first RCPT */
    answer_ids(srv, &a, "231",
               "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    smtp_server_del(srv);
}

/*
 * Past the soft error limit, an empty BDAT read ahead and accepted completes with the answer
 * that frees it, though replies are pending: its reply is held like any other (the client
 * waits for it and sends nothing more).
 */
static void test_pipelined_empty_chunk_slowed(void)
{
    struct papp a;
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.max_pending = 8;
    s.soft_error_limit = 1;
    s.error_delay_ms = 0;
    smtp_server *srv = papp_session(&a, &s, NULL);
    char out[2048];
    CHECK_INT(smtp_server_read(srv, "FOO\r\n", 5), 5); /* the limit: one error */
    pull(srv, out, sizeof out);
    static const char in[] = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 0\r\n";
    CHECK_INT(smtp_server_read(srv, in, strlen(in)), (smtp_ssize)strlen(in));
    CHECK_INT(a.nids, 3);
    answer_ids(srv, &a, "210",
               "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 0 octets received\r\n");
    smtp_server_del(srv);
}

/*
 * The slots come with the first command read ahead. When they cannot be allocated the command
 * waits to be read in turn, as without read-ahead, and they are tried again after an answer.
 */
static void test_pipelined_ring_nomem(void)
{
    struct papp a;
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    smtp_server *srv = papp_new(&a, 8, &mem);
    size_t idle = smtp_server_memory(srv);
    int greeted = f.calls;
    smtp_server_del(srv);
    f = (struct failmem){.fail_at = greeted + 1};
    srv = papp_new(&a, 8, &mem);
    CHECK_INT(f.calls, greeted);
    size_t mail = strlen("MAIL FROM:<a@b.example>\r\n"), len = strlen(group);
    CHECK_INT(smtp_server_read(srv, group, len), (smtp_ssize)mail); /* RCPT waits */
    CHECK_INT(f.calls, greeted + 1); /* the slots' allocation, failed */
    CHECK_INT(a.nids, 1);
    CHECK_INT(smtp_server_memory(srv), idle);
    CHECK_INT(smtp_server_want_read(srv), 0);
    answer_ids(srv, &a, "0", "250 2.1.0 Ok\r\n");
    /* The first RCPT read in turn, the rest read ahead: the slots came this time. */
    CHECK_INT(smtp_server_read(srv, group + mail, len - mail), (smtp_ssize)(len - mail));
    CHECK_INT(a.nids, 4);
    CHECK(smtp_server_memory(srv) >= idle + 8 * 400);
    answer_ids(srv, &a, "321",
               "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    smtp_server_del(srv);
    CHECK_INT(f.live, 0);
}

/* The bounds: max_pending, the room of the output queue, max_recipients. */
static void test_pipelined_bounds(void)
{
    struct papp a;
    char out[65536], in[16384];
    size_t n = (size_t)snprintf(in, sizeof in, "MAIL FROM:<a@b.example>\r\n");
    for (int i = 0; i < 120; i++) /* each RCPT line of the same length */
        n += (size_t)snprintf(in + n, sizeof in - n, "RCPT TO:<r%03d@d.example>\r\n", i);
    size_t mail_len = strlen("MAIL FROM:<a@b.example>\r\n"),
           rcpt_len = strlen("RCPT TO:<r000@d.example>\r\n");
    /* max_pending 3: MAIL and two RCPTs, then reading stops. */
    smtp_server *srv = papp_new(&a, 3, NULL);
    CHECK_INT(smtp_server_read(srv, in, n), (smtp_ssize)(mail_len + 2 * rcpt_len));
    CHECK_INT(a.nids, 3);
    CHECK_INT(smtp_server_want_read(srv), 0);
    CHECK_INT(smtp_server_read(srv, in + mail_len + 2 * rcpt_len, rcpt_len), 0);
    CHECK_INT(smtp_server_reply_to(srv, a.ids[0], 0, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_want_read(srv), 1); /* room for one more */
    smtp_server_del(srv);
    /* The output queue: 4096 octets keep room for 2048 + 4 replies of 512. */
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.max_pending = 100;
    s.max_output = 4096;
    srv = papp_session(&a, &s, NULL);
    CHECK_INT(smtp_server_read(srv, in, n), (smtp_ssize)(mail_len + 4 * rcpt_len));
    CHECK_INT(a.rcpts, 4);
    smtp_server_del(srv);
    /* max_recipients 100: the 101st RCPT waits for the answers, then gets 452 in turn. */
    s.max_output = 200000;
    s.max_pending = 1024;
    s.max_recipients = 100;
    srv = papp_session(&a, &s, NULL);
    smtp_ssize got = smtp_server_read(srv, in, n);
    CHECK_INT(got, (smtp_ssize)(mail_len + 100 * rcpt_len));
    CHECK_INT(a.rcpts, 100);
    CHECK_INT(smtp_server_want_read(srv), 0); /* the next RCPT was seen: it waits */
    for (int i = 100; i >= 0; i--)
        CHECK_INT(smtp_server_reply_to(srv, a.ids[i], 0, NULL, NULL, 0), 0);
    CHECK_INT(smtp_server_read(srv, in + got, rcpt_len), (smtp_ssize)rcpt_len);
    size_t olen = pull(srv, out, sizeof out);
    CHECK(olen > 38 && strcmp(out + olen - 38, "452 4.5.3 Error: too many recipients\r\n") == 0);
    CHECK_INT(a.rcpts, 100);
    smtp_server_del(srv);
}

/* Steady state with groups read ahead: no allocation per message, and none after
 * smtp_server_new with SMTP_SERVER_PREALLOCATE (the envelope too). */
static void test_pipelined_no_alloc(void)
{
    static const char msg[] = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                              "RCPT TO:<bad@d.example>\r\nRCPT TO:<e@f.example>\r\nDATA\r\n"
                              "x\r\n.\r\n";
    for (int pre = 0; pre < 2; pre++) {
        struct failmem f = {0};
        smtp_mem mem = failmem_mem(&f);
        struct papp a;
        memset(&a, 0, sizeof a);
        smtp_server_settings s;
        smtp_server_settings_init(&s);
        s.max_pending = 8;
        s.flags |= SMTP_SERVER_ENVELOPE | (pre ? SMTP_SERVER_PREALLOCATE : 0);
        smtp_server *srv;
        CHECK_INT(smtp_server_new(&srv, &papp_cb, &s, &mem, &a), 0);
        int after_new = f.calls;
        CHECK_INT(smtp_server_start(srv), 0);
        feed(srv, "EHLO c\r\n");
        int warm = 0;
        for (int m = 0; m < 20; m++) {
            if (m == 1) warm = f.calls;
            a.nids = 0;
            a.rcpts = 0;
            size_t len = strlen(msg);
            smtp_ssize k = smtp_server_read(srv, msg, len);
            CHECK_INT(a.nids, 5);
            /* Answered last to first; the third RCPT refused. */
            for (int i = 4; i >= 0; i--)
                CHECK_INT(smtp_server_reply_to(srv, a.ids[i], i == 2 ? 550 : 0, NULL, NULL, 0), 0);
            CHECK_INT(smtp_server_read(srv, msg + k, len - (size_t)k),
                      (smtp_ssize)(len - (size_t)k));
            char out[4096];
            pull(srv, out, sizeof out);
        }
        CHECK_INT(a.messages, 20);
        CHECK_INT(f.calls, pre ? after_new : warm);
        smtp_server_del(srv);
        CHECK_INT(f.live, 0);
    }
}

/* Feeds `in`, all consumed in one read (its replies stay queued). */
static void say(smtp_server *srv, const char *in)
{
    CHECK_INT(smtp_server_read(srv, in, strlen(in)), (smtp_ssize)strlen(in));
}

/* smtp_server_set_extensions: a subset of the settings' extensions, until a hello is accepted. */
static int ext_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)verb, (void)domain;
    *(int *)ud =
        smtp_server_set_extensions(srv, SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE, 1000);
    return 0;
}

static void test_set_extensions(void)
{
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.extensions |= SMTP_SERVER_EXT_STARTTLS;
    smtp_server_callbacks cb = {.on_helo = ext_helo};
    int rv = 1;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &rv), 0);
    CHECK_INT(smtp_server_set_extensions(NULL, 0, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_extensions(srv, SMTP_SERVER_EXT_AUTH, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_extensions(srv, 0x10000, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_set_extensions(srv, 0, 0), 0); /* before the start too */
    CHECK_INT(smtp_server_start(srv), 0);
    char out[4096];
    pull(srv, out, sizeof out);
    say(srv, "EHLO c\r\n");
    CHECK_INT(rv, 0); /* from on_helo, before the reply */
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250-localhost\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
    say(srv, "MAIL FROM:<a@b.example> SIZE=2000\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\n");
    pull(srv, out, sizeof out);
    CHECK_STR(out, "552 Error: message size exceeds fixed limit\r\n"
                   "555 parameter not recognized or not implemented\r\n");
    /* Once a hello was accepted, the list stays. */
    CHECK_INT(smtp_server_set_extensions(srv, SMTP_SERVER_EXT_SIZE, 0), SMTP_ERR_INVALID_STATE);
    say(srv, "EHLO again\r\n");
    CHECK_INT(rv, SMTP_ERR_INVALID_STATE);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250-localhost\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
    smtp_server_del(srv);
    /* STARTTLS: the handshake forgets the hello; a new list for the EHLO after it. */
    cb.on_helo = NULL;
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, &rv), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    say(srv, "EHLO c\r\nSTARTTLS\r\n");
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_set_extensions(srv, 0, 0), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_server_tls_done(srv, 1), 0);
    CHECK_INT(smtp_server_set_extensions(srv, SMTP_SERVER_EXT_STARTTLS | SMTP_SERVER_EXT_DSN, 0),
              0);
    say(srv, "EHLO c\r\n");
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250-localhost\r\n250 DSN\r\n"); /* no STARTTLS over TLS */
    smtp_server_del(srv);
    /* A SIZE whose digits would push the EHLO reply past 2048 octets: refused, unchanged. */
    static char lines[8 * 230];
    size_t k = 0;
    for (int i = 0; i < 8; i++) {
        k += (size_t)snprintf(lines + k, sizeof lines - k, "%sX%d", i ? "\n" : "", i);
        memset(lines + k, 'a', 222);
        lines[k] = ' ';
        k += 222;
    }
    lines[k] = '\0';
    smtp_server_settings_init(&s);
    s.ehlo_keywords = lines;
    s.max_message_size = 1;
    smtp_ssize cut = -1;
    for (size_t trim = 0; trim < 400 && cut < 0; trim++) {
        lines[k - trim] = '\0';
        if (smtp_server_new(&srv, NULL, &s, NULL, NULL) == 0) cut = (smtp_ssize)trim;
    }
    CHECK(cut >= 0);
    if (cut >= 0) {
        CHECK_INT(smtp_server_set_extensions(srv, s.extensions, UINT64_MAX),
                  SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(smtp_server_set_extensions(srv, s.extensions, 9), 0);
        smtp_server_del(srv);
    }
}

/*
 * smtp_server_relay_to: a 354 keeps its text, an empty text gives the code alone, lines go
 * as they are without ENHANCEDSTATUSCODES' additions; what it refuses leaves the decision
 * pending; the hard error limit's 421 after a relayed refusal is the engine's own.
 */
static void test_relay(void)
{
    static const smtp_server_callbacks cb = {.on_connect = defer_connect,
                                             .on_mail = defer_mail,
                                             .on_rcpt = defer_rcpt,
                                             .on_data_start = defer_start,
                                             .on_message_end = defer_end};
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hard_error_limit = 2;
    smtp_server *srv;
    char out[4096];
    CHECK_INT(smtp_server_new(&srv, &cb, &s, NULL, NULL), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    /* Misuse: nothing changes, the greeting stays pending. */
    CHECK_INT(smtp_server_relay_to(NULL, 0, 220, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 0, 0, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 0, 250, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, "a\rb", 3), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, "a\n\x7f", 3), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(smtp_server_relay_to(srv, 99, 220, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    char many[2 * SMTP_SERVER_MAX_RELAY_LINES];
    memset(many, '\n', sizeof many);
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, many, SMTP_SERVER_MAX_RELAY_LINES),
              SMTP_ERR_INVALID_ARGUMENT); /* 17 lines */
    char big[SMTP_SERVER_MAX_RELAY_TEXT + 1];
    memset(big, 'a', sizeof big);
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, big, sizeof big), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT((int)pull(srv, out, sizeof out), 0);
    /* The greeting, its last line without text: the code alone. */
    CHECK_INT(smtp_server_relay_to(srv, 0, 220, "up.example ESMTP\nsecond\n", 24), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "220-up.example ESMTP\r\n220-second\r\n220\r\n");
    feed(srv, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_relay_to(srv, 0, 250, "", 0), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250\r\n");
    feed(srv, "RCPT TO:<c@d.example>\r\n");
    CHECK_INT(smtp_server_relay_to(srv, 0, 250, "2.1.5 <c@d.example>... Recipient ok", 35), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "250 2.1.5 <c@d.example>... Recipient ok\r\n");
    feed(srv, "DATA\r\n");
    CHECK_INT(smtp_server_relay_to(srv, 0, 354, "Enter mail, end with \".\" on a line by itself",
                                   44), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "354 Enter mail, end with \".\" on a line by itself\r\n");
    feed(srv, "x\r\n.\r\n");
    CHECK_INT(smtp_server_relay_to(srv, 0, 554, "5.7.1 refused\n5.7.1 by policy", 29), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "554-5.7.1 refused\r\n554 5.7.1 by policy\r\n");
    /* The second error reaches the hard limit: the 421 after the relayed refusal is the
     * engine's. */
    feed(srv, "MAIL FROM:<a@b.example>\r\n");
    CHECK_INT(smtp_server_relay_to(srv, 0, 451, "4.3.0 try\nagain", 15), 0);
    pull(srv, out, sizeof out);
    CHECK_STR(out, "451-4.3.0 try\r\n451 again\r\n421 4.7.0 localhost Error: too many errors\r\n");
    CHECK_INT(smtp_server_relay_to(srv, 0, 250, "x", 1), SMTP_ERR_INVALID_STATE);
    smtp_server_del(srv);
}

/* smtp_server_decision_command: each policy callback's command, read ahead too. */
static smtp_verb seen_verbs[10];
static size_t nseen;

static int record_verb(smtp_server *srv)
{
    if (nseen < 10) seen_verbs[nseen++] = smtp_server_decision_command(srv);
    return 0;
}
static int rv_helo(smtp_server *srv, smtp_verb v, smtp_span d, void *ud)
{
    (void)v, (void)d, (void)ud;
    return record_verb(srv);
}
static int rv_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)m, (void)ud;
    record_verb(srv);
    return SMTP_SERVER_DEFER; /* what follows is read ahead */
}
static int rv_rcpt(smtp_server *srv, const smtp_server_rcpt *r, void *ud)
{
    (void)r, (void)ud;
    return record_verb(srv);
}
static int rv_start(smtp_server *srv, void *ud)
{
    (void)ud;
    return record_verb(srv);
}

static int rv_arg(smtp_server *srv, smtp_span a, void *ud)
{
    (void)a, (void)ud;
    return record_verb(srv);
}
static int rv_auth(smtp_server *srv, const smtp_server_auth *a, void *ud)
{
    (void)a, (void)ud;
    return record_verb(srv);
}
static int rv_sasl(smtp_server *srv, const smtp_server_sasl *s, void *ud)
{
    (void)s, (void)ud;
    record_verb(srv);
    smtp_server_reply(srv, 535, NULL, NULL, 0);
    return 0;
}
static int rv_xattrs(smtp_server *srv, const smtp_server_xattrs *x, void *ud)
{
    (void)x, (void)ud;
    return record_verb(srv);
}
static int rv_connect(smtp_server *srv, void *ud)
{
    (void)ud;
    return record_verb(srv);
}

static void test_decision_command(void)
{
    static const smtp_server_callbacks cb = {
        .on_helo = rv_helo, .on_mail = rv_mail, .on_rcpt = rv_rcpt, .on_data_start = rv_start};
    CHECK_INT(smtp_server_decision_command(NULL), SMTP_VERB_UNKNOWN);
    for (int bdat = 0; bdat <= 1; bdat++) {
        smtp_server_settings st;
        smtp_server_settings_init(&st);
        st.max_pending = 8;
        smtp_server *srv;
        CHECK_INT(smtp_server_new(&srv, &cb, &st, NULL, NULL), 0);
        CHECK_INT(smtp_server_start(srv), 0);
        nseen = 0;
        feed(srv, bdat ? "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 1 LAST\r\n"
                       : "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
        CHECK_INT((int)nseen, 4);
        CHECK_INT(seen_verbs[0], SMTP_VERB_EHLO);
        CHECK_INT(seen_verbs[1], SMTP_VERB_MAIL);
        CHECK_INT(seen_verbs[2], SMTP_VERB_RCPT);
        CHECK_INT(seen_verbs[3], bdat ? SMTP_VERB_BDAT : SMTP_VERB_DATA);
        /* Outside the callbacks: the oldest decision pending, MAIL's. */
        CHECK_INT(smtp_server_decision_command(srv), SMTP_VERB_MAIL);
        smtp_server_del(srv);
    }
    /* The other policy callbacks, and none pending. */
    static const smtp_server_callbacks all = {.on_connect = rv_connect,
                                              .on_helo = rv_helo,
                                              .on_vrfy = rv_arg,
                                              .on_etrn = rv_arg,
                                              .on_help = rv_arg,
                                              .on_auth = rv_auth,
                                              .on_sasl = rv_sasl,
                                              .on_xclient = rv_xattrs,
                                              .on_xforward = rv_xattrs};
    smtp_server_settings st;
    smtp_server_settings_init(&st);
    st.extensions |= SMTP_SERVER_EXT_AUTH;
    st.auth_mechanisms = "PLAIN X-TEST";
    st.flags |= SMTP_SERVER_AUTH_PLAINTEXT;
    st.trust = SMTP_SERVER_TRUST_ALL;
    smtp_server *srv;
    CHECK_INT(smtp_server_new(&srv, &all, &st, NULL, NULL), 0);
    nseen = 0;
    CHECK_INT(smtp_server_start(srv), 0);
    feed(srv, "EHLO c\r\nVRFY x\r\nETRN x.example\r\nHELP\r\nAUTH X-TEST\r\n"
              "AUTH PLAIN AHUAcA==\r\nXFORWARD ADDR=192.0.2.1\r\nXCLIENT ADDR=192.0.2.1\r\n");
    static const smtp_verb want[] = {SMTP_VERB_UNKNOWN, SMTP_VERB_EHLO, SMTP_VERB_VRFY,
                                     SMTP_VERB_ETRN,    SMTP_VERB_HELP, SMTP_VERB_AUTH,
                                     SMTP_VERB_AUTH,    SMTP_VERB_XFORWARD, SMTP_VERB_XCLIENT};
    CHECK_INT((int)nseen, 9);
    for (size_t i = 0; i < nseen && i < 9; i++)
        CHECK_INT(seen_verbs[i], want[i]);
    char out[4096];
    pull(srv, out, sizeof out);
    CHECK_INT(smtp_server_decision_command(srv), SMTP_VERB_UNKNOWN); /* none pending */
    smtp_server_del(srv);
}

/* smtp_server_decision_chunk: the BDAT's chunk in on_data_start (read ahead or in turn), and
 * outside the callbacks for a BDAT decision pending (asked early or in turn). */
static int dc_status;
static uint64_t dc_size;
static int dc_last;
static int dc_defer;

static int dc_start(smtp_server *srv, void *ud)
{
    (void)ud;
    dc_status = smtp_server_decision_chunk(srv, &dc_size, &dc_last);
    return dc_defer ? SMTP_SERVER_DEFER : 0;
}
static int dc_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)m, (void)ud;
    CHECK_INT(smtp_server_decision_chunk(srv, NULL, NULL), SMTP_ERR_INVALID_STATE);
    return SMTP_SERVER_DEFER;
}

static void test_decision_chunk(void)
{
    CHECK_INT(smtp_server_decision_chunk(NULL, &dc_size, &dc_last), SMTP_ERR_INVALID_ARGUMENT);
    static const smtp_server_callbacks cb = {.on_mail = dc_mail, .on_data_start = dc_start};
    static const struct {
        size_t pending;
        const char *cmd;
        int status;
        uint64_t size;
        int last;
    } cases[] = {
        {8, "BDAT 7 LAST\r\n", 0, 7, 1}, /* read ahead */
        {8, "BDAT 12\r\n", 0, 12, 0},
        {1, "BDAT 3 LAST\r\n", 0, 3, 1}, /* in turn */
        {8, "DATA\r\n", SMTP_ERR_INVALID_STATE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (dc_defer = 0; dc_defer <= 1; dc_defer++) {
            smtp_server_settings st;
            smtp_server_settings_init(&st);
            st.max_pending = cases[i].pending;
            smtp_server *srv;
            CHECK_INT(smtp_server_new(&srv, &cb, &st, NULL, NULL), 0);
            CHECK_INT(smtp_server_start(srv), 0);
            dc_status = 99;
            dc_size = 99;
            dc_last = 99;
            char in[160];
            snprintf(in, sizeof in, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n%s",
                     cases[i].cmd);
            feed(srv, in);
            if (cases[i].pending == 1) { /* MAIL's answer first: then the RCPT and the BDAT */
                CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), 0);
                feed(srv, in + strlen("EHLO c\r\nMAIL FROM:<a@b.example>\r\n"));
            }
            CHECK_INT(dc_status, cases[i].status);
            if (cases[i].status == 0) {
                CHECK_INT((int)dc_size, (int)cases[i].size);
                CHECK_INT(dc_last, cases[i].last);
            }
            if (dc_defer && cases[i].status == 0) {
                /* Outside the callbacks, once MAIL was answered: the BDAT's decision pends. */
                if (cases[i].pending > 1) {
                    CHECK_INT(smtp_server_decision_chunk(srv, NULL, NULL), SMTP_ERR_INVALID_STATE);
                    CHECK_INT(smtp_server_reply(srv, 250, NULL, NULL, 0), 0); /* MAIL */
                }
                uint64_t size = 0;
                int last = -1;
                CHECK_INT(smtp_server_decision_chunk(srv, &size, &last), 0);
                CHECK_INT((int)size, (int)cases[i].size);
                CHECK_INT(last, cases[i].last);
            }
            smtp_server_del(srv);
        }
    }
}

int main(void)
{
    test_settings();
    test_misuse();
    test_callback_failure();
    test_starttls_calls();
    test_in_transaction();
    test_soft_error_limit();
    test_alloc_failures();
    test_no_alloc_per_message();
    test_output_bound();
    test_lmtp_refusal_per_recipient();
    test_deferred_empty_chunk();
    test_bad_code_keeps_decision();
    test_long_host_line_keeps_decision();
    test_deferred_envelope();
    test_timeouts();
    test_client_address();
    test_versions();
    test_settings_v3();
    test_pipelined_ids();
    test_pipelined_callbacks();
    test_pipelined_empty_chunk_slowed();
    test_pipelined_bounds();
    test_pipelined_no_alloc();
    test_pipelined_ring_nomem();
    test_set_extensions();
    test_relay();
    test_decision_command();
    test_decision_chunk();
    return check_finish();
}
