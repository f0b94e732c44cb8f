/* SPDX-License-Identifier: MIT */
/* Unit tests of the client session engine: API misuse, allocation failures, no allocation per
 * message, failing callbacks, unsolicited replies, timeouts and the state queries; and the
 * limits of the MAIL and RCPT emitters the client relies on. */
#include "body_source.h"
#include "check.h"
#include "failmem.h"
#include "tls/refcrypto.h"

#include <smtp/client.h>
#include <smtp/command.h>
#include <smtp/server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny application ---- */
struct app {
    int messages, delivered, rcpts, ends, tls;
    unsigned last_flags; /* smtp_client_result.flags of the last message */
    smtp_client_end end;
    int fail_in; /* fail this callback kind: 1 rcpt, 2 message, 3 end */
};

static int on_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                   void *ud)
{
    struct app *a = ud;
    (void)cli, (void)rcpt, (void)r;
    a->rcpts++;
    return a->fail_in == 1 ? -1 : 0;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct app *a = ud;
    (void)cli;
    a->messages++;
    a->last_flags = res->flags;
    if (res->status == SMTP_CLIENT_DELIVERED) a->delivered++;
    return a->fail_in == 2 ? -1 : 0;
}

static int on_starttls(smtp_client *cli, void *ud)
{
    (void)cli;
    ((struct app *)ud)->tls++;
    return 0;
}

static int on_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct app *a = ud;
    (void)cli;
    a->ends++;
    a->end = res->end;
    return a->fail_in == 3 ? -1 : 0;
}

static const smtp_client_callbacks app_cb = {.on_rcpt = on_rcpt,
                                             .on_message = on_message,
                                             .on_starttls = on_starttls,
                                             .on_session_end = on_end};

static void settings(smtp_client_settings *s)
{
    smtp_client_settings_init(s);
    s->helo_name = "client.example";
}

/* Pulls everything the client has to send; returns how many bytes. */
static size_t drain(smtp_client *c, char *buf, size_t cap)
{
    size_t total = 0;
    smtp_ssize n;
    while ((n = smtp_client_write(c, buf + total, cap - total)) > 0)
        total += (size_t)n;
    return total;
}

/* The length of s[0..len) up to the end of its first complete reply (its final line's fourth
 * byte is not '-'), or len. */
static size_t first_reply(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') continue;
        if (i - start < 4 || s[start + 3] != '-') return i + 1;
        start = i + 1;
    }
    return len;
}

/* Feeds a string of replies as a server that answers each command after it came: one reply per
 * read (bytes in one read arrived together, and a reply that came with the one before it is an
 * extra reply), draining the client's output in between, as an adapter would. */
static smtp_ssize feed(smtp_client *c, const char *s)
{
    char out[4096];
    size_t len = strlen(s), off = 0;
    drain(c, out, sizeof out);
    while (off < len) {
        smtp_ssize n = smtp_client_read(c, s + off, first_reply(s + off, len - off));
        if (n < 0) return n;
        off += (size_t)n;
        drain(c, out, sizeof out);
        if (n == 0) break;
    }
    return (smtp_ssize)off;
}

static const smtp_client_rcpt one_rcpt[] = {{"b@example.net", 0, NULL}};

static void message(smtp_client_message *m)
{
    smtp_client_message_init(m);
    m->sender = "a@example.org";
    m->rcpts = one_rcpt;
    m->nrcpts = 1;
}

/* ---- tests ---- */

static void test_bad_settings(void)
{
    smtp_client *c = (smtp_client *)1;
    smtp_client_settings s;
    CHECK_INT(smtp_client_new(NULL, NULL, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(c == (smtp_client *)1);
    /* The defaults need nothing more: EHLO localhost. */
    CHECK_INT(smtp_client_new(&c, NULL, NULL, NULL, NULL), 0);
    CHECK_INT(smtp_client_read(c, "220 x\r\n", 7), 7);
    char out[64];
    smtp_ssize n = smtp_client_write(c, out, sizeof out);
    CHECK(n == 16 && memcmp(out, "EHLO localhost\r\n", 16) == 0);
    smtp_client_del(c);
    settings(&s);
    s.helo_name = NULL;
    c = (smtp_client *)1;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    settings(&s);
    s.helo_name = "not a domain";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.helo_name = "[192.0.2.1]";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    settings(&s);
    s.max_output = 1023;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    s.max_recipients = 0;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    s.tls = (smtp_client_tls_policy)7;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    s.auth_mech = "CRAM-MD5";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    s.auth_user = "u";
    s.auth_password = "p";
    s.auth_mech = "xoauth2"; /* needs a token */
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mech = "login";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    smtp_client_del(NULL);
    settings(&s);
    s.flags = 0x80; /* a flag this library does not know */
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    CHECK_INT(smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION + 1, NULL,
                                        SMTP_CLIENT_SETTINGS_VERSION, &s, NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION, NULL, 0, &s, NULL, NULL),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    s.max_output = 7;
    smtp_client_settings_init_versioned(SMTP_CLIENT_SETTINGS_VERSION + 1, &s); /* ignored */
    CHECK_INT(s.max_output, 7);
}

/* The settings' strings are copied: they need not outlive smtp_client_new. */
static void test_settings_copied(void)
{
    char helo[32], user[8], pass[8];
    smtp_client_settings s;
    smtp_client *c;
    char out[256];
    settings(&s);
    strcpy(helo, "client.example");
    strcpy(user, "u");
    strcpy(pass, "p");
    s.helo_name = helo;
    s.auth_user = user;
    s.auth_password = pass;
    s.flags = SMTP_CLIENT_TLS;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    memset(helo, 'x', sizeof helo - 1);
    memset(user, 'y', sizeof user - 1);
    memset(pass, 'z', sizeof pass - 1);
    CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.example\r\n");
    CHECK_INT(smtp_client_read(c, "250-mx\r\n250 AUTH PLAIN\r\n", 25), 25);
    CHECK_MEM(out, drain(c, out, sizeof out), "AUTH PLAIN AHUAcA==\r\n");
    smtp_client_del(c);
}

/* smtp_client_submit copies the message struct (versioned): changing or reusing it after the
 * call changes nothing of the message in progress; an unknown version is refused. */
static void test_message_copied(void)
{
    smtp_client_settings s;
    smtp_client *c;
    char out[512];
    settings(&s);
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_rcpt to = {.address = "b@example.org"};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org";
    m.rcpts = &to;
    m.nrcpts = 1;
    m.body = "hi\r\n";
    m.body_len = 4;
    CHECK_INT(smtp_client_submit_versioned(c, SMTP_CLIENT_MESSAGE_VERSION + 1, &m),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    m.sender = "changed@example.org";
    m.nrcpts = 0;
    CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.example\r\n");
    CHECK_INT(smtp_client_read(c, "250 mx\r\n", 8), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "MAIL FROM:<a@example.org>\r\n");
    smtp_client_del(c);
}

/* The strings of a message are borrowed (client.h) and checked at submission. One changed
 * behind the client's back is looked at once more as its line is written, so that no control
 * octet reaches the wire: the session fails instead (the sender, then a recipient). */
static void test_borrowed_changed(void)
{
    for (int which = 0; which < 2; which++) {
        smtp_client_settings s;
        smtp_client *c;
        struct app a;
        char out[512];
        char sender[] = "a@example.org", address[] = "b@example.net";
        smtp_client_rcpt to = {.address = address};
        smtp_client_message m;
        memset(&a, 0, sizeof a);
        settings(&s);
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
        smtp_client_message_init(&m);
        m.sender = sender;
        m.rcpts = &to;
        m.nrcpts = 1;
        CHECK_INT(smtp_client_submit(c, &m), 0);
        memcpy(which ? address : sender, "x\r\nDATA\r\n@x.y", 13);
        CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
        CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.example\r\n");
        if (which) { /* without PIPELINING, RCPT waits for MAIL's reply */
            CHECK_INT(smtp_client_read(c, "250 mx\r\n", 8), 8);
            CHECK_MEM(out, drain(c, out, sizeof out), "MAIL FROM:<a@example.org>\r\n");
        }
        CHECK_INT(smtp_client_read(c, "250 ok\r\n", 8), SMTP_ERR_UNSAFE_ARGUMENT);
        CHECK_INT(smtp_client_write(c, out, sizeof out), SMTP_ERR_UNSAFE_ARGUMENT); /* sticky */
        CHECK_INT(a.messages, 1);
        CHECK_INT(a.delivered, 0);
        CHECK_INT(a.end, SMTP_CLIENT_END_PROTOCOL);
        smtp_client_del(c);
    }
}

static void test_misuse(void)
{
    smtp_client *c;
    smtp_client_settings s;
    smtp_client_message m;
    char buf[64];
    settings(&s);
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    CHECK_INT(smtp_client_read(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_read(c, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_read(c, NULL, 0), 0);
    CHECK_INT(smtp_client_write(NULL, buf, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_write(c, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_write(c, buf, sizeof buf), 0);          /* nothing before the greeting */
    CHECK_INT(smtp_client_body_ready(c), SMTP_ERR_INVALID_STATE); /* no message */
    CHECK_INT(smtp_client_body_ready(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_tls_done(c, 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_submit(c, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_submit(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.nrcpts = 0;
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.sender = "a\r\nRCPT TO:<x@y>";
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_UNSAFE_ARGUMENT);
    message(&m);
    m.mt_priority_set = 1;
    m.mt_priority = -10;
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.by_mode = SMTP_BY_RETURN;
    m.by_time = 0;
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.holdfor = 10;
    m.holduntil = "2030-01-01T00:00:00Z";
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.holduntil = "tomorrow";
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.body_len = 5; /* a length without a body */
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m);
    m.body = "hello";
    m.body_len = 5;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_STATE); /* one at a time */
    CHECK_INT(smtp_client_body_ready(c), 0); /* harmless: the body is in memory */
    CHECK_INT(smtp_client_quit(c), 0);
    CHECK_INT(smtp_client_quit(c), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_quit(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(smtp_client_want_read(c));
    CHECK(!smtp_client_want_write(c));
    CHECK(!smtp_client_want_close(c));
    CHECK(smtp_client_want_close(NULL));
    CHECK(smtp_client_caps(c) != NULL);
    CHECK(smtp_client_caps(NULL) == NULL);
    CHECK_INT(smtp_client_eof(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_timeout_expired(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_tls_done(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_STR(smtp_client_status_name(SMTP_CLIENT_PERMFAIL), "PERMFAIL");
    CHECK_STR(smtp_client_status_name((smtp_client_status)99), "INVALID");
    CHECK_STR(smtp_client_end_name(SMTP_CLIENT_END_TLS_FAILED), "TLS_FAILED");
    CHECK_STR(smtp_client_end_name((smtp_client_end)-1), "INVALID");
    CHECK_INT(smtp_client_eof(c), 0);
    CHECK(smtp_client_want_close(c));
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_read(c, "220 x\r\n", 7), 0);
    smtp_client_del(c);
}

static void test_alloc_failures(void)
{
    /* Fail each allocation in turn until creation and the EHLO that follows succeed: the
     * output queue comes with EHLO, and a failure there fails the session. */
    int late = 0;
    for (int n = 1;; n++) {
        struct failmem f = {.fail_at = n};
        smtp_mem mem = failmem_mem(&f);
        smtp_client_settings s;
        smtp_client *c = NULL;
        settings(&s);
        int rv = smtp_client_new(&c, NULL, &s, &mem, NULL);
        if (rv == 0) {
            CHECK(n > 1);
            smtp_ssize k = feed(c, "220 hi\r\n250 ok\r\n");
            if (k == SMTP_ERR_NOMEM) {
                late++;
                CHECK_INT(f.calls, n); /* the output queue's */
                CHECK(smtp_client_want_close(c));
                CHECK_INT(smtp_client_write(c, NULL, 0), SMTP_ERR_NOMEM); /* sticky */
                smtp_client_del(c);
                CHECK_INT(f.live, 0);
                continue;
            }
            CHECK_INT(k, 16);
            smtp_client_del(c);
            CHECK_INT(f.live, 0);
            break;
        }
        CHECK_INT(rv, SMTP_ERR_NOMEM);
        CHECK(c == NULL);
        CHECK_INT(f.live, 0);
        if (n > 10) break;
    }
    CHECK_INT(late, 1);
}

/* Many messages over one connection: with SMTP_CLIENT_PREALLOCATE nothing is allocated after
 * smtp_client_new; on demand, nothing after the first message (steady state). */
static void steady_state(unsigned flags)
{
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    settings(&s);
    s.max_body_buffer = 64;
    s.flags |= flags;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, &mem, &a), 0);
    int after_new = f.calls;
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), 46);
    static const char text[] = "Subject: x\r\n\r\nbody\r\n";
    for (int i = 0; i < 300; i++) {
        struct body_source src;
        message(&m);
        m.body = text;
        m.body_len = sizeof text - 1;
        if (i % 2) { /* every other message from a source, three octets at a time */
            body_source_init(&src, text, sizeof text - 1);
            src.piece = 3;
            body_source_attach(&src, &m);
        }
        CHECK_INT(smtp_client_submit(c, &m), 0);
        char out[256];
        size_t n = drain(c, out, sizeof out);
        CHECK_MEM(out, n,
                  "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 20 LAST\r\n"
                  "Subject: x\r\n\r\nbody\r\n");
        CHECK_INT(feed(c, "250 ok\r\n250 ok\r\n250 queued\r\n"), 28);
        /* on demand: the output queue, then the transaction's buffers and more output queue */
        if (i == 0 && !flags) after_new = f.calls;
    }
    CHECK_INT(a.delivered, 300);
    CHECK_INT(f.calls, after_new);
    CHECK_INT(smtp_client_quit(c), 0);
    CHECK_INT(feed(c, "221 bye\r\n"), 9);
    CHECK(smtp_client_want_close(c));
    CHECK_INT(a.end, SMTP_CLIENT_END_QUIT);
    smtp_client_del(c);
    CHECK_INT(f.live, 0);
}

static void test_steady_state(void)
{
    steady_state(SMTP_CLIENT_PREALLOCATE);
    steady_state(0);
}

/* A reply that starts before the command it would answer was pulled out is unsolicited. */
static void test_reply_before_command(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    char out[256];
    settings(&s);
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    /* read returns after the greeting: EHLO is waiting to be sent */
    CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
    CHECK(smtp_client_want_write(c));
    CHECK_INT(smtp_client_read(c, "250 ok\r\n", 8), SMTP_ERR_PROTO); /* not drained */
    CHECK_INT(a.end, SMTP_CLIENT_END_PROTOCOL);
    CHECK_INT(smtp_client_read(c, "250 ok\r\n", 8), SMTP_ERR_PROTO); /* sticky */
    CHECK_INT(smtp_client_write(c, out, sizeof out), SMTP_ERR_PROTO);
    CHECK(smtp_client_want_close(c));
    CHECK(!smtp_client_want_read(c));
    smtp_client_del(c);

    /* The reply to EHLO in the same read as the greeting: it arrived before EHLO could be
     * sent, so it is an extra reply, read at once; EHLO is never sent. */
    a.end = 0;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_read(c, "220 hi\r\n250 ok\r\n", 16), SMTP_ERR_PROTO);
    CHECK_INT(a.end, SMTP_CLIENT_END_PROTOCOL);
    CHECK_INT(smtp_client_write(c, out, sizeof out), SMTP_ERR_PROTO);
    smtp_client_del(c);

    /* The same with a 421: a server may close at any time (RFC 5321 3.8). */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_read(c, "220 hi\r\n421 bye\r\n", 17), 17);
    CHECK_INT(a.end, SMTP_CLIENT_END_SHUTDOWN);
    CHECK_INT(drain(c, out, sizeof out), 0);
    CHECK(smtp_client_want_close(c));
    smtp_client_del(c);

    /* Drained before the reply came: it answers EHLO. */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.example\r\n");
    CHECK_INT(smtp_client_read(c, "250 ok\r\n", 8), 8);
    smtp_client_del(c);
}

/*
 * Bytes handed back by a read (a written command still awaited a reply, and there was output
 * to send) arrived before what is written next: fed again, a reply among them cannot answer
 * a command written after they were handed back.
 */
static void held_case(int split)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    char out[256];
    settings(&s);
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n"), 32);
    message(&m);
    m.body = "x\r\n";
    m.body_len = 3;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    /* MAIL and RCPT go out; DATA is still queued */
    CHECK_MEM(out, smtp_client_write(c, out, 52),
              "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
    /* The replies to MAIL and RCPT, and a 354, in one read: the client returns after MAIL's,
     * to let DATA out first. */
    const char *in = "250 ok\r\n250 ok\r\n354 go\r\n";
    CHECK_INT(smtp_client_read(c, in, 24), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "DATA\r\n");
    if (split) {
        /* the held bytes fed in pieces: RCPT's reply is fine, the 354 came before DATA */
        CHECK_INT(smtp_client_read(c, in + 8, 5), 5);
        CHECK_INT(smtp_client_read(c, in + 13, 3), 3);
        CHECK_INT(smtp_client_read(c, in + 16, 8), SMTP_ERR_PROTO);
    } else {
        CHECK_INT(smtp_client_read(c, in + 8, 16), SMTP_ERR_PROTO);
    }
    CHECK_INT(a.rcpts, 1);
    CHECK_INT(a.end, SMTP_CLIENT_END_PROTOCOL);
    smtp_client_del(c);

    /* The control: the 354 read after DATA went out answers it. */
    a = (struct app){0};
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n"), 32);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_write(c, out, 52), 52);
    CHECK_INT(smtp_client_read(c, in, 16), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "DATA\r\n");
    CHECK_INT(smtp_client_read(c, in + 8, 8), 8);  /* the held bytes, all of them */
    CHECK_INT(smtp_client_read(c, in + 16, 8), 8); /* read after DATA was written */
    CHECK_MEM(out, drain(c, out, sizeof out), "x\r\n.\r\n");
    CHECK_INT(feed(c, "250 queued\r\n"), 12);
    CHECK_INT(a.delivered, 1);
    CHECK_INT(a.ends, 0);
    smtp_client_del(c);
}

static void test_held_input(void)
{
    held_case(0);
    held_case(1);
}

static void test_callback_failure(void)
{
    for (int k = 1; k <= 3; k++) {
        struct app a = {0};
        a.fail_in = k;
        smtp_client_settings s;
        smtp_client *c;
        smtp_client_message m;
        char out[64];
        settings(&s);
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
        message(&m);
        CHECK_INT(smtp_client_submit(c, &m), 0); /* an empty body */
        smtp_ssize rv = feed(c, "220 hi\r\n250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n");
        if (k == 3) {
            CHECK_INT(rv, 40);
            CHECK_INT(smtp_client_quit(c), 0);
            CHECK_INT(feed(c, "221 bye\r\n"), SMTP_ERR_CALLBACK_FAILURE);
        } else {
            CHECK_INT(rv, SMTP_ERR_CALLBACK_FAILURE);
        }
        CHECK_INT(smtp_client_read(c, "2", 1), SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(smtp_client_write(c, out, sizeof out), SMTP_ERR_CALLBACK_FAILURE);
        CHECK(smtp_client_want_close(c));
        /* What was promised still comes (client.h): a failing on_rcpt ends the message
         * (on_message, once) and the session (END_ERROR); a failing on_message ends the
         * session; a failing on_session_end is the last call. */
        CHECK_INT(a.messages, 1);
        CHECK_INT(a.ends, 1);
        if (k != 3) CHECK_INT(a.end, SMTP_CLIENT_END_ERROR);
        smtp_client_del(c);
    }
}

static void test_timeouts(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    struct body_source src;
    uint32_t ms = 1;
    char out[256];
    settings(&s);
    s.timeout_rcpt = 1234;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_GREETING);
    CHECK_INT(ms, 5 * 60 * 1000);
    CHECK_INT(feed(c, "220 hi\r\n"), 8);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_COMMAND);
    message(&m);
    body_source_init(&src, "x", 0); /* the body comes later */
    src.open = 1;
    body_source_attach(&src, &m);
    CHECK_INT(feed(c, "250 ok\r\n"), 8);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_NONE); /* the application's turn */
    CHECK_INT(ms, 0);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_timeout(c, NULL), SMTP_CLIENT_WAIT_MAIL);
    drain(c, out, sizeof out);
    CHECK_INT(feed(c, "250 ok\r\n"), 8);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_RCPT);
    CHECK_INT(ms, 1234);
    CHECK_INT(feed(c, "250 ok\r\n"), 8);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_DATA);
    CHECK_INT(ms, 2 * 60 * 1000);
    CHECK_INT(feed(c, "354 go\r\n"), 8);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_NONE); /* the source waits */
    CHECK(src.waiting);
    src.len = 1;
    CHECK_INT(body_source_resume(&src, c), 0);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_DATA_BLOCK);
    CHECK_INT(ms, 3 * 60 * 1000);
    src.open = 0;
    CHECK_INT(body_source_resume(&src, c), 0);
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_DATA_END);
    CHECK_INT(ms, 10 * 60 * 1000);
    CHECK_INT(smtp_client_timeout_expired(c), 0);
    CHECK_INT(a.end, SMTP_CLIENT_END_TIMEOUT);
    CHECK_INT(a.messages, 1);
    CHECK_INT(a.delivered, 0);
    CHECK(smtp_client_want_close(c));
    CHECK_INT(smtp_client_write(c, out, sizeof out), 0); /* nothing more goes out */
    CHECK_INT(smtp_client_timeout(c, &ms), SMTP_CLIENT_WAIT_NONE);
    CHECK_INT(smtp_client_timeout_expired(c), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
}

static void test_starttls_state(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    char out[256];
    settings(&s);
    s.tls = SMTP_CLIENT_TLS_REQUIRED;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n"), 38);
    CHECK_INT(a.tls, 1);
    CHECK(smtp_client_want_tls(c));
    CHECK(!smtp_client_want_read(c));
    CHECK_INT(smtp_client_write(c, out, sizeof out), 0);
    CHECK_INT(smtp_client_timeout(c, NULL), SMTP_CLIENT_WAIT_NONE);
    CHECK_INT(smtp_client_tls_done(c, 1), 0);
    CHECK(!smtp_client_want_tls(c));
    CHECK_INT(smtp_client_tls_done(c, 1), SMTP_ERR_INVALID_STATE);
    CHECK(!smtp_caps_has(smtp_client_caps(c), SMTP_CAP_STARTTLS)); /* forgotten (RFC 3207 4.2) */
    CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.example\r\n");
    smtp_client_del(c);
}

/* A body source is read only as far as the body buffer and the output queue have room
 * (backpressure): what the adapter has not pulled out bounds what is read ahead. */
static void test_body_backpressure(void)
{
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    struct body_source src;
    static char body[5000], out[8192];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = i % 50 == 49 ? '\n' : 'a';
    settings(&s);
    s.max_body_buffer = 8;
    s.max_output = 1024;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    message(&m);
    body_source_init(&src, body, sizeof body);
    body_source_attach(&src, &m);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(feed(c, "220 hi\r\n250 ok\r\n250 ok\r\n250 ok\r\n"), 32);
    CHECK_INT(src.calls, 0); /* nothing before the 354 */
    CHECK_INT(smtp_client_read(c, "354 go\r\n", 8), 8);
    CHECK(src.off > 0 && src.off <= 1024 + 8);
    CHECK_INT(src.cap_max, 8);
    CHECK_INT(smtp_client_write(c, out, 4), 4); /* a partial pull: more is pending */
    CHECK(smtp_client_want_write(c));
    size_t n = 4 + drain(c, out + 4, sizeof out - 4);
    CHECK(src.ended);
    CHECK_INT(n, sizeof body + sizeof body / 50 + 3); /* LF as CRLF, then ".\r\n" */
    CHECK_MEM(out + n - 6, 6, "a\r\n.\r\n");
    smtp_client_del(c);
}

/* A crypto hook over the reference one whose function number `fail` (1 hmac_md5, 2
 * hmac_sha256, 3 sha256, 4 random) fails. */
static struct ref_crypto_state sasl_state;
static int sasl_fail;

static int f_hmac_md5(const unsigned char *k, size_t kl, const unsigned char *m, size_t l,
                      unsigned char *o, void *ctx)
{
    return sasl_fail == 1 ? -1 : ref_hmac_md5(k, kl, m, l, o, ctx);
}

static int f_hmac_sha256(const unsigned char *k, size_t kl, const unsigned char *m, size_t l,
                         unsigned char *o, void *ctx)
{
    return sasl_fail == 2 ? -1 : ref_hmac_sha256(k, kl, m, l, o, ctx);
}

static int f_sha256(const unsigned char *m, size_t l, unsigned char *o, void *ctx)
{
    return sasl_fail == 3 ? -1 : ref_sha256(m, l, o, ctx);
}

static int f_random(unsigned char *b, size_t l, void *ctx)
{
    return sasl_fail == 4 ? -1 : ref_random(b, l, ctx);
}

static const smtp_client_crypto failing_crypto = {f_hmac_md5, f_hmac_sha256, f_sha256, f_random,
                                                  &sasl_state};

/* The SCRAM server-first message of RFC 7677 (one iteration) and the CRAM-MD5 challenge. */
#define SCRAM_FIRST                                                                                \
    "334 cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3" \
    "c29Fc1VFamI2Z1E9PSxpPTE=\r\n"
#define CRAM_CHALLENGE "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"

/* CRAM-MD5 and SCRAM-SHA-256 settings, a crypto function that fails, the SASL buffer. */
static void test_sasl_crypto(void)
{
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_crypto partial;
    struct ref_crypto_state st;
    ref_crypto_init(&partial, &st, NULL, 0);
    settings(&s);
    s.auth_user = "tim";
    s.auth_password = "tanstaaftanstaaf";
    s.auth_mech = "CRAM-MD5"; /* without the hook: not implemented */
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.crypto = &partial;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    s.auth_mech = "scram-sha-256";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    partial.random = NULL; /* SCRAM needs a nonce; CRAM-MD5 does not */
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mech = "CRAM-MD5";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    s.auth_mech = NULL;
    s.auth_max_iterations = 0;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);

    /* Each crypto function failing: the session ends as for a failed callback. */
    static const struct {
        int fail;
        const char *mechs, *challenge;
    } cases[] = {
        {1, "CRAM-MD5", CRAM_CHALLENGE},
        {4, "SCRAM-SHA-256", NULL}, /* the nonce, when the EHLO reply completes */
        {2, "SCRAM-SHA-256", SCRAM_FIRST},
        {3, "SCRAM-SHA-256", SCRAM_FIRST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct app a = {0};
        char ehlo[128], out[512];
        ref_crypto_init(&partial, &sasl_state, NULL, 0); /* the state of failing_crypto */
        sasl_fail = cases[i].fail;
        settings(&s);
        s.flags |= SMTP_CLIENT_TLS;
        s.auth_user = "user";
        s.auth_password = "pencil";
        s.crypto = &failing_crypto;
        s.auth_min_iterations = 1; /* SCRAM_FIRST asks for one iteration */
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
        snprintf(ehlo, sizeof ehlo, "220 hi\r\n250-mx\r\n250 AUTH PLAIN %s\r\n", cases[i].mechs);
        smtp_ssize n = feed(c, ehlo);
        if (cases[i].challenge) {
            CHECK_INT(n, (smtp_ssize)strlen(ehlo));
            n = feed(c, cases[i].challenge);
        }
        CHECK_INT(n, SMTP_ERR_CALLBACK_FAILURE);
        CHECK_INT(a.end, SMTP_CLIENT_END_ERROR);
        CHECK_INT(smtp_client_write(c, out, sizeof out), SMTP_ERR_CALLBACK_FAILURE);
        CHECK(smtp_client_want_close(c));
        smtp_client_del(c);
    }
    sasl_fail = 0;
}

/* Feeds the greeting, an EHLO reply offering SCRAM-SHA-256 and SCRAM_FIRST (i=1) to a client
 * of settings version `version`; returns what the client answered the challenge. */
static size_t scram_one_iteration(int version, const smtp_client_settings *s, char *out, size_t cap)
{
    smtp_client *c;
    size_t n = 0;
    CHECK_INT(
        smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION, NULL, version, s, NULL, NULL),
        0);
    if (!c) return 0;
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 AUTH SCRAM-SHA-256\r\n") > 0);
    smtp_ssize r = smtp_client_read(c, SCRAM_FIRST, strlen(SCRAM_FIRST));
    CHECK_INT(r, (smtp_ssize)strlen(SCRAM_FIRST));
    if (r > 0) n = drain(c, out, cap);
    smtp_client_del(c);
    return n;
}

/* Settings version 2 added auth_min_iterations: a version-1 caller gets its default (4096,
 * RFC 7677 4), and smtp_client_settings_init_versioned(1) writes nothing past version 1; version
 * 3 the reuse limits, likewise. */
static void test_settings_versions(void)
{
    union {
        smtp_client_settings s;
        unsigned char b[sizeof(smtp_client_settings)];
    } u;
    size_t v1 = offsetof(smtp_client_settings, auth_min_iterations);
    memset(&u, 0xab, sizeof u);
    smtp_client_settings_init_versioned(1, &u.s);
    CHECK(u.s.auth_max_iterations == 1000000);
    for (size_t i = v1; i < sizeof u.b; i++)
        CHECK(u.b[i] == 0xab);
    memset(&u, 0xab, sizeof u);
    smtp_client_settings_init_versioned(2, &u.s);
    CHECK(u.s.auth_min_iterations == 4096);
    for (size_t i = offsetof(smtp_client_settings, reuse_max_messages); i < sizeof u.b; i++)
        CHECK(u.b[i] == 0xab); /* version 3's reuse limits: not the version-2 caller's */
    smtp_client_settings_init_versioned(3, &u.s);
    CHECK(u.s.reuse_max_messages == 0 && u.s.reuse_probe_idle == 0);
    u.s.auth_min_iterations = 7;
    smtp_client_settings_init_versioned(4, &u.s); /* unknown: ignored */
    CHECK(u.s.auth_min_iterations == 7);

    smtp_client_crypto crypto;
    struct ref_crypto_state st;
    smtp_client_settings s;
    char out[512];
    settings(&s);
    ref_crypto_init(&crypto, &st, NULL, 0);
    s.flags |= SMTP_CLIENT_TLS;
    s.auth_user = "user";
    s.auth_password = "pencil";
    s.crypto = &crypto;
    s.auth_min_iterations = 1;
    /* Version 2 with no floor computes the proof (the client-final message "c=biws,..."). */
    size_t n = scram_one_iteration(2, &s, out, sizeof out);
    CHECK(n > 8 && memcmp(out, "Yz1iaXdz", 8) == 0);
    /* Version 1: auth_min_iterations is past its end, never read: the default 4096 holds. */
    ref_crypto_init(&crypto, &st, NULL, 0);
    s.auth_min_iterations = 1;
    CHECK_MEM(out, scram_one_iteration(1, &s, out, sizeof out), "*\r\n");
    /* Version 2 with the default floor: cancelled too. */
    ref_crypto_init(&crypto, &st, NULL, 0);
    s.auth_min_iterations = 4096;
    CHECK_MEM(out, scram_one_iteration(2, &s, out, sizeof out), "*\r\n");
}

/* SASL EXTERNAL: named only with SMTP_CLIENT_AUTH_EXTERNAL (the client certificate); the flag
 * alone makes AUTH run; a password mechanism named with it still needs its credentials. */
static void test_external_settings(void)
{
    smtp_client_settings s;
    smtp_client *c;
    settings(&s);
    s.auth_mech = "EXTERNAL";
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.flags |= SMTP_CLIENT_AUTH_EXTERNAL;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
    s.auth_mech = "plain"; /* AUTH runs (the flag), and PLAIN has no user nor password */
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.auth_mech = NULL;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_del(c);
}

/* smtp_client_tls_verified: only about TLS that is up or whose handshake runs. */
static void test_tls_verified(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    CHECK_INT(smtp_client_tls_verified(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    settings(&s);
    s.tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_tls_verified(c, 1), SMTP_ERR_INVALID_STATE); /* plaintext */
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n"), 38);
    CHECK(smtp_client_want_tls(c));
    CHECK_INT(smtp_client_tls_verified(c, 1), 0); /* the handshake is done, tls_done to come */
    CHECK_INT(smtp_client_tls_done(c, 1), 0);
    CHECK_INT(smtp_client_tls_verified(c, 0), 0);
    CHECK_INT(smtp_client_tls_verified(c, 1), 0);
    smtp_client_del(c);

    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(feed(c, "220 hi\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n"), 38);
    CHECK_INT(smtp_client_tls_done(c, 0), 0); /* failed: no TLS to speak of */
    CHECK_INT(smtp_client_tls_verified(c, 1), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);

    /* Implicit TLS: from the start, before the greeting. A message with REQUIRETLS is sent
     * only while the TLS is said verified. */
    settings(&s);
    s.flags |= SMTP_CLIENT_TLS;
    memset(&a, 0, sizeof a);
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_tls_verified(c, 1), 0);
    CHECK_INT(smtp_client_tls_verified(c, 0), 0); /* taken back */
    smtp_client_message m;
    message(&m);
    m.requiretls = 1;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 REQUIRETLS\r\n") > 0);
    CHECK_INT(a.messages, 1);
    CHECK_INT(a.delivered, 0);
    smtp_client_del(c);
}

/*
 * The MAIL and RCPT emitters: 512 octets (RFC 5321 4.5.3.1.4) plus the allowance of each
 * extension parameter present, each at exactly its limit and one octet over.
 */
static void check_limit(int mail, const char *params, size_t limit)
{
    static char box[2000], out[2000];
    memset(box, 'm', sizeof box);
    size_t plen = strlen(params);
    /* "MAIL FROM:<" or "RCPT TO:<", the mailbox, ">", SP and params, CRLF */
    size_t fixed = (mail ? 11u : 9u) + 1 + (plen ? 1 + plen : 0) + 2;
    size_t mlen = limit - fixed;
    smtp_ssize n = mail ? smtp_emit_mail(out, sizeof out, box, mlen, params, plen)
                        : smtp_emit_rcpt(out, sizeof out, box, mlen, params, plen);
    CHECK_INT(n, (smtp_ssize)limit);
    n = mail ? smtp_emit_mail(out, sizeof out, box, mlen + 1, params, plen)
             : smtp_emit_rcpt(out, sizeof out, box, mlen + 1, params, plen);
    CHECK_INT(n, SMTP_ERR_TOO_LONG);
    /* the size query applies the same limit */
    n = mail ? smtp_emit_mail(NULL, 0, box, mlen + 1, params, plen)
             : smtp_emit_rcpt(NULL, 0, box, mlen + 1, params, plen);
    CHECK_INT(n, SMTP_ERR_TOO_LONG);
}

static void test_emit_limits(void)
{
    check_limit(1, "", 512);
    check_limit(0, "", 512);
    check_limit(1, "SIZE=1000", 512 + 26);                               /* RFC 1870 */
    check_limit(1, "size=1 SIZE=2", 512 + 26);                           /* counted once */
    check_limit(1, "AUTH=<>", 512 + 500);                                /* RFC 4954 */
    check_limit(1, "RET=HDRS ENVID=x", 512 + 9 + 107);                   /* RFC 3461 */
    check_limit(1, "SMTPUTF8 BODY=8BITMIME", 512 + 10 + 16);             /* RFC 6531, 6152 */
    check_limit(1, "X-UNKNOWN=1", 512);                                  /* no allowance */
    check_limit(1, "ENVIDX=1 XSIZE=1", 512);                             /* whole keywords */
    check_limit(0, "NOTIFY=NEVER", 512 + 29);                            /* RFC 3461 */
    check_limit(0, "NOTIFY=NEVER ORCPT=rfc822;a@b", SMTP_MAX_RCPT_LINE); /* RFC 3461 */
    check_limit(0, "SIZE=10", 512); /* a MAIL parameter gives RCPT nothing */
    check_limit(1,
                "SIZE=1 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=x AUTH=<> REQUIRETLS "
                "MT-PRIORITY=1 BY=60;R HOLDUNTIL=2030-01-01T00:00:00Z",
                SMTP_MAX_MAIL_LINE);
    /* smtp_emit_command keeps 512 whatever its argument holds */
    static char arg[600];
    memcpy(arg, "FROM:<a@b> SIZE=1 ", 18);
    memset(arg + 18, 'x', sizeof arg - 18);
    CHECK_INT(smtp_emit_command(NULL, 0, SMTP_VERB_MAIL, arg, 512 - 7), 512);
    CHECK_INT(smtp_emit_command(NULL, 0, SMTP_VERB_MAIL, arg, 512 - 6), SMTP_ERR_TOO_LONG);
}

/* The application's commands: their states, ordering with messages, the callbacks' version. */
static int cmd_replies;
static int on_cmd_reply(smtp_client *cli, const smtp_client_reply *r, void *ud)
{
    (void)cli, (void)r;
    cmd_replies++;
    return ((struct app *)ud)->fail_in == 4 ? -1 : 0;
}

static void test_commands(void)
{
    struct app a = {0};
    smtp_client_callbacks cb = app_cb;
    cb.on_reply = on_cmd_reply;
    smtp_client_settings s;
    settings(&s);
    smtp_client *c;
    CHECK_INT(smtp_client_command(NULL, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_new(&c, &cb, &s, NULL, &a), 0);
    char out[4096];
    CHECK_INT(smtp_client_command(c, SMTP_VERB_QUIT, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_MAIL, "FROM:<a@b>"), SMTP_ERR_INVALID_ARGUMENT);
    char longarg[600];
    memset(longarg, 'v', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = '\0';
    CHECK_INT(smtp_client_command(c, SMTP_VERB_VRFY, longarg), SMTP_ERR_TOO_LONG);
    /* Before the greeting: queued; a second one waits its turn; a message waits for it. */
    CHECK_INT(smtp_client_command(c, SMTP_VERB_VRFY, "postmaster"), 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_STATE);
    smtp_client_message m;
    message(&m);
    m.body = "x\r\n";
    m.body_len = 3;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_read(c, "220 x\r\n", 7), 7);
    size_t n = drain(c, out, sizeof out);
    CHECK(n == 21 && memcmp(out, "EHLO client.example\r\n", 21) == 0);
    CHECK_INT(smtp_client_read(c, "250-x\r\n250 PIPELINING\r\n", 23), 23);
    n = drain(c, out, sizeof out);
    out[n] = '\0';
    CHECK_STR(out, "VRFY postmaster\r\n"); /* alone, the message after its reply */
    CHECK_INT(smtp_client_read(c, "252 2.0.0 maybe\r\n", 17), 17);
    CHECK_INT(cmd_replies, 1);
    n = drain(c, out, sizeof out);
    out[n] = '\0';
    CHECK_STR(out, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    smtp_client_del(c);

    /* A failing on_reply fails the session. */
    a.fail_in = 4;
    CHECK_INT(smtp_client_new(&c, &cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), 0);
    CHECK(feed(c, "220 x\r\n250 x\r\n") > 0);
    CHECK_INT(feed(c, "250 ok\r\n"), SMTP_ERR_CALLBACK_FAILURE);
    CHECK(smtp_client_want_close(c)); /* failed: nothing more in or out */
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);

    /* Callbacks of version 1 end before on_reply: it is never read (here: garbage). */
    a.fail_in = 0;
    cmd_replies = 0;
    smtp_client_callbacks v1 = app_cb;
    memset(&v1.on_reply, 0xff, sizeof v1.on_reply);
    CHECK_INT(smtp_client_new_versioned(&c, 1, &v1, SMTP_CLIENT_SETTINGS_VERSION, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), 0);
    CHECK(feed(c, "220 x\r\n250 x\r\n250 ok\r\n") > 0);
    CHECK_INT(cmd_replies, 0);
    CHECK_INT(smtp_client_quit(c), 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    CHECK_INT(smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION + 1, &cb,
                                        SMTP_CLIENT_SETTINGS_VERSION, &s, NULL, &a),
              SMTP_ERR_INVALID_ARGUMENT);
}

/* smtp_client_proxy_header: its argument checks and when it may be called. */
static void test_proxy_header(void)
{
    smtp_client *c;
    smtp_client_settings s;
    settings(&s);
    char out[256];
    struct app a = {0};
    CHECK_INT(smtp_client_proxy_header(NULL, 1, NULL, 0, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    static const struct {
        int version;
        const char *src, *dst;
        unsigned sport, dport;
    } bad[] = {
        {0, NULL, NULL, 0, 0},
        {3, "192.0.2.1", "192.0.2.2", 1, 2},
        {-1, NULL, NULL, 0, 0},
        {1, "192.0.2.1", NULL, 1, 0}, /* one address only */
        {2, NULL, "192.0.2.2", 0, 2},
        {1, "192.0.2.1", "2001:db8::2", 1, 2}, /* families differ */
        {2, "2001:db8::1", "192.0.2.2", 1, 2},
        {1, "192.0.2.1", "192.0.2.2", 65536, 2}, /* ports */
        {2, "192.0.2.1", "192.0.2.2", 1, 70000},
        {1, NULL, NULL, 1, 0}, /* a port without addresses */
        {2, NULL, NULL, 0, 25},
        {1, "192.0.2.256", "192.0.2.2", 1, 2}, /* not addresses */
        {1, "example.org", "192.0.2.2", 1, 2},
        {2, "192.0.2.1", "", 1, 2},
        {1, "[192.0.2.1]", "192.0.2.2", 1, 2},
        {2, "2001:db8::1%eth0", "2001:db8::2", 1, 2},
        {1, "IPv6:2001:db8::1", "2001:db8::2", 1, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(smtp_client_proxy_header(c, bad[i].version, bad[i].src, bad[i].sport, bad[i].dst,
                                           bad[i].dport),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK(!smtp_client_want_write(c)); /* nothing queued by the refusals */
    CHECK_INT(smtp_client_proxy_header(c, 1, "192.0.2.1", 0, "192.0.2.2", 65535), 0);
    CHECK(smtp_client_want_write(c));
    /* Once: a second call, also before the header was pulled, is refused. */
    CHECK_INT(smtp_client_proxy_header(c, 2, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    size_t n = drain(c, out, sizeof out);
    out[n] = '\0';
    CHECK_STR(out, "PROXY TCP4 192.0.2.1 192.0.2.2 0 65535\r\n");
    CHECK_INT(smtp_client_proxy_header(c, 1, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    /* It awaits no reply: the greeting is still what the client waits for. */
    CHECK_INT(smtp_client_timeout(c, NULL), SMTP_CLIENT_WAIT_GREETING);
    CHECK_INT(smtp_client_read(c, "220 x\r\n", 7), 7);
    n = drain(c, out, sizeof out);
    CHECK(n == 21 && memcmp(out, "EHLO client.example\r\n", 21) == 0);
    smtp_client_del(c);

    /* After the first byte of the greeting was read: too late. */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_read(c, "2", 1), 1);
    CHECK_INT(smtp_client_proxy_header(c, 1, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    /* After the greeting and EHLO. */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK(feed(c, "220 x\r\n") > 0);
    CHECK_INT(smtp_client_proxy_header(c, 2, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    /* After the session ended (the server went away before greeting). */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_eof(c), 0);
    CHECK_INT(smtp_client_proxy_header(c, 1, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    /* Implicit TLS: the header would go inside the TLS. */
    s.flags |= SMTP_CLIENT_TLS;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_proxy_header(c, 1, NULL, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    /* A submitted message and a pending command do not stop it: neither is out before the
     * greeting. */
    s.flags = 0;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    smtp_client_message m;
    message(&m);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_proxy_header(c, 2, NULL, 0, NULL, 0), 0);
    n = drain(c, out, sizeof out);
    CHECK(n == 16 && memcmp(out, "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16) == 0);
    smtp_client_del(c);
}

/* The round trip: what smtp_server with SMTP_SERVER_PROXY reads from the client's header. */
struct proxy_seen {
    int calls;
    smtp_server_proxy px;
    unsigned char src[16], dst[16];
    char addr[64];
    unsigned port;
};

static int rt_on_proxy(smtp_server *srv, const smtp_server_proxy *px, void *ud)
{
    struct proxy_seen *p = ud;
    p->calls++;
    p->px = *px;
    /* UNKNOWN and LOCAL carry no address: empty spans, possibly {NULL, 0}. */
    if (px->src_addr.len)
        memcpy(p->src, px->src_addr.ptr, px->src_addr.len < 16 ? px->src_addr.len : 16);
    if (px->dst_addr.len)
        memcpy(p->dst, px->dst_addr.ptr, px->dst_addr.len < 16 ? px->dst_addr.len : 16);
    unsigned port = 0;
    const char *a = smtp_server_client_address(srv, &port);
    snprintf(p->addr, sizeof p->addr, "%s", a ? a : "-");
    p->port = port;
    return 0;
}

static void proxy_round_trip(int version, const char *src, unsigned sport, const char *dst,
                             unsigned dport, const char *want_addr, unsigned want_port, size_t alen,
                             const char *want_src, const char *want_dst)
{
    struct proxy_seen seen;
    memset(&seen, 0, sizeof seen);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.flags = SMTP_SERVER_PROXY;
    smtp_server_callbacks scb = {0};
    scb.on_proxy = rt_on_proxy;
    smtp_server *srv = NULL;
    CHECK_INT(smtp_server_new(&srv, &scb, &ss, NULL, &seen), 0);
    CHECK_INT(smtp_server_set_client_address(srv, "198.51.100.9", 40000), 0);
    CHECK_INT(smtp_server_start(srv), 0);
    struct app a = {0};
    smtp_client_settings cs;
    settings(&cs);
    smtp_client *c;
    CHECK_INT(smtp_client_new(&c, &app_cb, &cs, NULL, &a), 0);
    CHECK_INT(smtp_client_proxy_header(c, version, src, sport, dst, dport), 0);
    CHECK_INT(smtp_client_quit(c), 0);
    /* Pump: the client's bytes to the server in pieces of 1..7 octets, the replies whole. */
    char buf[4096];
    int rounds = 0;
    size_t step = 1;
    while (!smtp_client_want_close(c) && !smtp_server_want_close(srv) && rounds++ < 1000) {
        smtp_ssize n = smtp_client_write(c, buf, step);
        step = step % 7 + 1;
        if (n > 0) CHECK_INT(smtp_server_read(srv, buf, (size_t)n), n);
        smtp_ssize m = smtp_server_write(srv, buf, sizeof buf);
        if (m > 0) CHECK_INT(smtp_client_read(c, buf, (size_t)m), m);
        if (n <= 0 && m <= 0) break;
    }
    CHECK_INT(a.ends, 1);
    CHECK_INT(a.end, SMTP_CLIENT_END_QUIT);
    CHECK_INT(seen.calls, 1);
    CHECK_INT(seen.px.version, version);
    CHECK_STR(seen.addr, want_addr);
    CHECK_INT(seen.port, want_port);
    CHECK_INT(seen.px.src_addr.len, alen);
    CHECK_INT(seen.px.dst_addr.len, alen);
    if (alen) {
        CHECK(memcmp(seen.src, want_src, alen) == 0);
        CHECK(memcmp(seen.dst, want_dst, alen) == 0);
        CHECK_INT(seen.px.src_port, sport);
        CHECK_INT(seen.px.dst_port, dport);
        CHECK_INT(seen.px.family, alen == 4 ? SMTP_SERVER_PROXY_TCP4 : SMTP_SERVER_PROXY_TCP6);
    } else {
        CHECK_INT(seen.px.family, SMTP_SERVER_PROXY_UNSPEC);
        CHECK_INT(seen.px.local, version == 2);
    }
    smtp_client_del(c);
    smtp_server_del(srv);
}

static void test_proxy_round_trip(void)
{
    static const char v4s[] = "\xC0\x00\x02\x01", v4d[] = "\xC0\x00\x02\x02";
    static const char v6s[] = "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01";
    static const char v6d[] = "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\x01\0\0\0\x02";
    for (int v = 1; v <= 2; v++) {
        proxy_round_trip(v, "192.0.2.1", 4711, "192.0.2.2", 25, "192.0.2.1", 4711, 4, v4s, v4d);
        proxy_round_trip(v, "2001:DB8:0::1", 65535, "2001:db8::1:0:2", 0, "2001:db8::1", 65535, 16,
                         v6s, v6d);
        /* Unknown: the server keeps the connection's own peer. */
        proxy_round_trip(v, NULL, 0, NULL, 0, "198.51.100.9", 40000, 0, NULL, NULL);
    }
}

/* The transaction given one command at a time: what each call refuses, and in which state;
 * the recipients' table allocated once (a failure of it refuses MAIL and keeps nothing), then
 * no allocation per message. */
static void test_incremental_calls(void)
{
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    settings(&s);
    s.max_recipients = 2;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, &mem, &a), 0);
    smtp_client_rcpt r = {.address = "b@example.net"};
    /* nothing open */
    CHECK_INT(smtp_client_rcpt_to(c, &r), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_data(c), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_rcpt_to(NULL, &r), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_rcpt_to(c, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_data(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_mail_from(NULL, &m), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_mail_from_versioned(c, 99, &m), SMTP_ERR_INVALID_ARGUMENT);
    message(&m); /* with its recipient: refused, the recipients come one by one */
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    m.rcpts = NULL;
    m.nrcpts = 0;
    m.sender = "a b@example.org";
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    m.sender = "a@example.org\r\nRSET";
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_UNSAFE_ARGUMENT);
    m.sender = "a@example.org";
    m.flags = 0x100;
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_INVALID_ARGUMENT);
    m.flags = 0;
    /* the recipients' table: out of memory refuses MAIL and leaves nothing behind */
    f.fail_at = f.calls + 1;
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_NOMEM);
    f.fail_at = 0;
    CHECK_INT(smtp_client_rcpt_to(c, &r), SMTP_ERR_INVALID_STATE);
    int calls = f.calls;
    CHECK_INT(smtp_client_mail_from(c, &m), 0);
    CHECK_INT(f.calls, calls + 1); /* the table, once */
    /* open: a second transaction, a submission, a command other than RSET wait their turn */
    CHECK_INT(smtp_client_mail_from(c, &m), SMTP_ERR_INVALID_STATE);
    message(&m);
    CHECK_INT(smtp_client_submit(c, &m), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_NOOP, NULL), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_data(c), SMTP_ERR_INVALID_STATE); /* no recipient yet */
    smtp_client_rcpt bad = {.address = NULL};
    CHECK_INT(smtp_client_rcpt_to(c, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.address = "x y@example.net";
    CHECK_INT(smtp_client_rcpt_to(c, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.address = "b@example.net\r\nDATA";
    CHECK_INT(smtp_client_rcpt_to(c, &bad), SMTP_ERR_UNSAFE_ARGUMENT);
    bad.address = "b@example.net";
    bad.orcpt = "";
    CHECK_INT(smtp_client_rcpt_to(c, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.orcpt = NULL;
    bad.address = "r\xc3\xa9@example.net"; /* UTF-8, and MAIL without SMTPUTF8 */
    CHECK_INT(smtp_client_rcpt_to(c, &bad), SMTP_ERR_UTF8);
    CHECK_INT(smtp_client_rcpt_to(c, &r), 0);
    CHECK_INT(smtp_client_rcpt_to(c, &r), 0);
    CHECK_INT(smtp_client_rcpt_to(c, &r), SMTP_ERR_INVALID_ARGUMENT); /* max_recipients 2 */
    CHECK_INT(smtp_client_data(c), 0);
    CHECK_INT(smtp_client_data(c), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_client_rcpt_to(c, &r), SMTP_ERR_INVALID_STATE);
    /* the data is going out: RSET no longer ends it */
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n") > 0);
    CHECK_INT(smtp_client_command(c, SMTP_VERB_RSET, NULL), SMTP_ERR_INVALID_STATE);
    CHECK(feed(c, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    CHECK_INT(a.delivered, 1);
    /* the next transactions allocate nothing */
    calls = f.calls;
    for (int i = 0; i < 50; i++) {
        smtp_client_message_init(&m);
        m.sender = "a@example.org";
        CHECK_INT(smtp_client_mail_from(c, &m), 0);
        CHECK_INT(smtp_client_rcpt_to(c, &r), 0);
        CHECK_INT(smtp_client_data(c), 0);
        CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    }
    CHECK_INT(a.delivered, 51);
    CHECK_INT(f.calls, calls);
    smtp_client_del(c);
    CHECK_INT(f.live, 0);
}

/* Connection reuse (a connection cache): the limits smtp_client_reuse checks, the liveness
 * probe (RSET, then MAIL only after its 250), a probe that fails (the message NOT_SENT), and a
 * version-2 caller without the reuse settings (no limits). */
static void test_reuse(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    char out[512];
    settings(&s);
    s.reuse_max_messages = 2;
    s.reuse_max_age = 60000;
    s.reuse_max_idle = 30000;
    s.reuse_probe_idle = 5000;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(smtp_client_reuse(NULL, 0, 0), SMTP_CLIENT_REUSE_NO);
    CHECK_INT(smtp_client_reuse(c, 0, 0), SMTP_CLIENT_REUSE_YES); /* before the greeting */
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n") > 0);
    CHECK_INT(smtp_client_reuse(c, 4999, 1000), SMTP_CLIENT_REUSE_YES);
    CHECK_INT(smtp_client_reuse(c, 0, 60000), SMTP_CLIENT_REUSE_NO);    /* too old */
    CHECK_INT(smtp_client_reuse(c, 30000, 1000), SMTP_CLIENT_REUSE_NO); /* idle too long */
    message(&m);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(smtp_client_reuse(c, 0, 1000), SMTP_CLIENT_REUSE_BUSY);
    CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    CHECK_INT(a.delivered, 1);
    /* idle past the probe limit: RSET alone first, MAIL after its 250 */
    CHECK_INT(smtp_client_reuse(c, 5000, 2000), SMTP_CLIENT_REUSE_PROBE);
    CHECK_INT(smtp_client_reuse(c, 0, 2000), SMTP_CLIENT_REUSE_PROBE); /* marked: stays */
    CHECK_INT(smtp_client_submit(c, &m), 0);
    size_t n = drain(c, out, sizeof out);
    CHECK_MEM(out, n, "RSET\r\n");
    CHECK_INT(smtp_client_read(c, "250 2.0.0 ok\r\n", 14), 14);
    n = drain(c, out, sizeof out);
    CHECK_MEM(out, n, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    CHECK_INT(a.delivered, 2);
    CHECK_INT(a.last_flags, 0);
    CHECK_INT(smtp_client_reuse(c, 0, 3000), SMTP_CLIENT_REUSE_NO); /* 2 messages: the limit */
    CHECK_INT(smtp_client_quit(c), 0);
    CHECK_INT(smtp_client_reuse(c, 0, 3000), SMTP_CLIENT_REUSE_NO);
    smtp_client_del(c);

    /* A probe the server refuses: the session ends, the message went nowhere (NOT_SENT). */
    a = (struct app){0};
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n") > 0);
    CHECK_INT(smtp_client_reuse(c, 9000, 9000), SMTP_CLIENT_REUSE_PROBE);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    n = drain(c, out, sizeof out);
    CHECK_MEM(out, n, "RSET\r\n");
    CHECK(feed(c, "421 4.4.2 timeout\r\n") > 0);
    CHECK_INT(a.messages, 1);
    CHECK_INT(a.delivered, 0);
    CHECK_INT(a.last_flags, SMTP_CLIENT_RESULT_NOT_SENT);
    CHECK_INT(a.end, SMTP_CLIENT_END_SHUTDOWN);
    CHECK_INT(smtp_client_reuse(c, 0, 0), SMTP_CLIENT_REUSE_NO);
    smtp_client_del(c);

    /* The connection lost under the probe: the same. */
    a = (struct app){0};
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 PIPELINING\r\n") > 0);
    CHECK_INT(smtp_client_reuse(c, 9000, 9000), SMTP_CLIENT_REUSE_PROBE);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    drain(c, out, sizeof out);
    CHECK_INT(smtp_client_eof(c), 0);
    CHECK_INT(a.last_flags, SMTP_CLIENT_RESULT_NOT_SENT);
    CHECK_INT(a.end, SMTP_CLIENT_END_CLOSED);
    smtp_client_del(c);

    /* Version 2 settings (no reuse fields): no limit, no probe. */
    smtp_client_settings v2;
    settings(&v2);
    v2.reuse_max_messages = 1;
    v2.reuse_probe_idle = 1;
    a = (struct app){0};
    CHECK_INT(
        smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION, &app_cb, 2, &v2, NULL, &a), 0);
    CHECK(feed(c, "220 hi\r\n250 mx\r\n") > 0);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    CHECK_INT(smtp_client_reuse(c, 1000000, 1000000), SMTP_CLIENT_REUSE_YES);
    smtp_client_del(c);
}

/* ---- IDNA (settings.idna_to_ascii) ---- */

/* A converter that gives idna_answer whatever the domain (NULL: refuses), and refuses from its
 * call idna_refuse_from on (0: never); a length over `cap` is a faulty converter's. */
static const char *idna_answer;
static int idna_calls, idna_refuse_from;
static int stub_idna(const char *domain, size_t len, char *out, size_t cap)
{
    (void)domain, (void)len;
    idna_calls++;
    if (!idna_answer || (idna_refuse_from && idna_calls >= idna_refuse_from))
        return SMTP_ERR_SYNTAX;
    size_t n = strlen(idna_answer);
    memcpy(out, idna_answer, n < cap ? n : cap);
    return (int)n;
}

/* The helo_name: converted once, in smtp_client_new; what the converter gives is checked (an
 * ASCII domain name, within 255 octets); a version-2 caller has no converter. */
static void test_idna_helo(void)
{
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    char out[512];
    settings(&s);
    s.helo_name = "client.b\xc3\xbc"
                  "cher.example";
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), SMTP_ERR_INVALID_ARGUMENT);
    s.idna_to_ascii = stub_idna;
    idna_answer = "client.xn--bcher-kva.example";
    idna_calls = idna_refuse_from = 0;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(idna_calls, 1);
    CHECK_INT(smtp_client_read(c, "220 hi\r\n", 8), 8);
    CHECK_MEM(out, drain(c, out, sizeof out), "EHLO client.xn--bcher-kva.example\r\n");
    CHECK_INT(idna_calls, 1);
    smtp_client_del(c);
    /* an ASCII name is not converted */
    settings(&s);
    s.idna_to_ascii = stub_idna;
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
    CHECK_INT(idna_calls, 1);
    smtp_client_del(c);
    /* refused, or a faulty answer: not a name, not ASCII, empty, too long */
    static char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    const char *bad[] = {NULL, "[192.0.2.1]", "br\xc3\xb6ken.example", "", "a..b", long_name};
    s.helo_name = "client.b\xc3\xbc"
                  "cher.example";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idna_answer = bad[i];
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), SMTP_ERR_INVALID_ARGUMENT);
    }
    /* version 2 ends before idna_to_ascii: never read */
    idna_answer = "client.xn--bcher-kva.example";
    idna_calls = 0;
    CHECK_INT(
        smtp_client_new_versioned(&c, SMTP_CLIENT_CALLBACKS_VERSION, &app_cb, 2, &s, NULL, &a),
        SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(idna_calls, 0);
}

/* The addresses: converted only for a server without SMTPUTF8, with no allocation; a converter
 * that answers otherwise when the command is written than when the client decided fails the
 * session (SMTP_ERR_CALLBACK_FAILURE). */
static void test_idna_addresses(void)
{
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    struct app a = {0};
    smtp_client_settings s;
    smtp_client *c;
    smtp_client_message m;
    static const smtp_client_rcpt ulabel[] = {{"info@b\xc3\xbc"
                                               "cher.example",
                                               0, NULL}};
    settings(&s);
    s.idna_to_ascii = stub_idna;
    s.flags |= SMTP_CLIENT_PREALLOCATE; /* below: the conversions allocate nothing */
    idna_answer = "xn--bcher-kva.example";
    idna_calls = idna_refuse_from = 0;
    message(&m);
    m.rcpts = ulabel;
    /* SMTPUTF8 offered: the converter is not called */
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, &mem, &a), 0);
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK(feed(c, "220 hi\r\n250-mx\r\n250 SMTPUTF8\r\n250 ok\r\n250 ok\r\n354 go\r\n"
                  "250 queued\r\n") > 0);
    CHECK_INT(a.delivered, 1);
    CHECK_INT(idna_calls, 0);
    smtp_client_del(c);
    /* without SMTPUTF8: twice per address (the decision, the command), nothing allocated */
    a = (struct app){0};
    CHECK_INT(smtp_client_new(&c, &app_cb, &s, &mem, &a), 0);
    CHECK(feed(c, "220 hi\r\n250 mx\r\n") > 0);
    int calls = f.calls;
    for (int i = 0; i < 20; i++) {
        CHECK_INT(smtp_client_submit(c, &m), 0);
        CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    }
    CHECK_INT(a.delivered, 20);
    CHECK_INT(idna_calls, 40);
    CHECK_INT(f.calls, calls);
    /* the converter refuses when RCPT is written, after it converted for the decision */
    idna_refuse_from = idna_calls + 2;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    CHECK_INT(feed(c, "250 ok\r\n"), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(a.messages, 21);
    CHECK_INT(a.delivered, 20);
    CHECK_INT(a.end, SMTP_CLIENT_END_ERROR);
    smtp_client_del(c);
    CHECK_INT(f.live, 0);
}

/* on_ready: once the session is ready (the capabilities known), again after an accepted
 * XCLIENT's new hello; a failing one fails the session; version 2 callbacks never have it. */
static int ready_calls, ready_pipelining, ready_fail;

static int on_ready_cb(smtp_client *cli, void *ud)
{
    (void)ud;
    ready_calls++;
    ready_pipelining = smtp_caps_has(smtp_client_caps(cli), SMTP_CAP_PIPELINING);
    return ready_fail ? -1 : 0;
}

static void test_on_ready(void)
{
    struct app a = {0};
    smtp_client_callbacks cb = app_cb;
    cb.on_ready = on_ready_cb;
    smtp_client_settings s;
    settings(&s);
    smtp_client *c;
    CHECK_INT(smtp_client_new(&c, &cb, &s, NULL, &a), 0);
    CHECK(feed(c, "220 x\r\n") > 0);
    CHECK_INT(ready_calls, 0);
    CHECK(feed(c, "250-x\r\n250-PIPELINING\r\n250 XCLIENT ADDR NAME\r\n") > 0);
    CHECK_INT(ready_calls, 1);
    CHECK_INT(ready_pipelining, 1);
    smtp_client_xattr attr = {"ADDR", "192.0.2.1"};
    /* smtp_client_set_helo: the EHLO after XCLIENT gives the proxied client's name. */
    CHECK_INT(smtp_client_set_helo(NULL, "a.example"), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_set_helo(c, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_set_helo(c, "not a name"), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_client_set_helo(c, "b\xc3\xbc" "cher.example"), SMTP_ERR_UTF8); /* no IDNA */
    CHECK_INT(smtp_client_set_helo(c, "first.example"), 0);
    CHECK_INT(smtp_client_set_helo(c, "proxied.example"), 0); /* the last one counts */
    CHECK_INT(smtp_client_xclient(c, SMTP_VERB_XCLIENT, &attr, 1), 0);
    char out[256];
    size_t n = drain(c, out, sizeof out - 1);
    out[n] = '\0';
    CHECK_STR(out, "XCLIENT ADDR=192.0.2.1\r\n");
    CHECK_INT((int)smtp_client_read(c, "220 y\r\n", 7), 7); /* the new greeting: EHLO again */
    n = drain(c, out, sizeof out - 1);
    out[n] = '\0';
    CHECK_STR(out, "EHLO proxied.example\r\n");
    CHECK_INT(ready_calls, 1);
    CHECK(feed(c, "250 y\r\n") > 0);
    CHECK_INT(ready_calls, 2);
    CHECK_INT(ready_pipelining, 0); /* the new EHLO's capabilities */
    smtp_client_del(c);

    /* A failing on_ready fails the session; smtp_client_set_helo after the end is refused. */
    ready_fail = 1;
    CHECK_INT(smtp_client_new(&c, &cb, &s, NULL, &a), 0);
    CHECK(feed(c, "220 x\r\n") > 0);
    CHECK_INT(feed(c, "250 x\r\n"), SMTP_ERR_CALLBACK_FAILURE);
    CHECK(smtp_client_want_close(c));
    CHECK_INT(smtp_client_set_helo(c, "late.example"), SMTP_ERR_INVALID_STATE);
    smtp_client_del(c);
    ready_fail = 0;

    /* Version 2 callbacks end before on_ready: never read (here: garbage). */
    smtp_client_callbacks v2 = app_cb;
    memset(&v2.on_ready, 0xff, sizeof v2.on_ready);
    ready_calls = 0;
    CHECK_INT(smtp_client_new_versioned(&c, 2, &v2, SMTP_CLIENT_SETTINGS_VERSION, &s, NULL, &a), 0);
    CHECK(feed(c, "220 x\r\n250 x\r\n") > 0);
    CHECK_INT(ready_calls, 0);
    smtp_client_del(c);
}

/* SMTP_CLIENT_MSG_NO_CHUNKING: DATA to a server offering CHUNKING; BINARYMIME keeps BDAT. */
static void test_msg_no_chunking(void)
{
    for (int binary = 0; binary <= 1; binary++) {
        struct app a = {0};
        smtp_client_settings s;
        settings(&s);
        smtp_client *c;
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
        smtp_client_message m;
        message(&m);
        m.body = "x\r\n";
        m.body_len = 3;
        m.flags = SMTP_CLIENT_MSG_NO_CHUNKING;
        if (binary) m.body_type = SMTP_BODY_BINARYMIME;
        CHECK_INT(smtp_client_submit(c, &m), 0);
        CHECK(feed(c, "220 x\r\n") > 0);
        CHECK_INT(smtp_client_read(c, "250-x\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
                                   53),
                  53);
        char out[4096];
        size_t n = drain(c, out, sizeof out - 1);
        out[n] = '\0';
        CHECK_STR(out, binary ? "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n"
                                "RCPT TO:<b@example.net>\r\nBDAT 3 LAST\r\nx\r\n"
                              : "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
        smtp_client_del(c);
    }
}

/* smtp_client_data_as: DATA to a server offering CHUNKING after MAIL went out with BDAT in
 * view: dot-stuffed, then CRLF.CRLF (a body line "." must not end the message early); BDAT
 * asked before MAIL went out; and the argument checks. */
static smtp_ssize dot_body(smtp_client *cli, char *dest, size_t cap, void *ud)
{
    (void)cli;
    int *done = ud;
    static const char body[] = "a\r\n.\r\nb\r\n";
    if (*done || cap < sizeof body - 1) return 0;
    memcpy(dest, body, sizeof body - 1);
    *done = 1;
    return (smtp_ssize)(sizeof body - 1);
}

/* smtp_client_data called by on_rcpt for the last recipient, which was refused (as smtp-proxy
 * may): the transaction ends inside the callback (on_message, PERMFAIL, nothing sent after
 * RCPT), and the reply's handling after the callback must not look at it any more (it did: a
 * NULL message read); then a second transaction the same way, and one accepted. */
struct data_in_rcpt {
    struct app a;
    int calls, rv;
};

static int on_rcpt_data(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                        void *ud)
{
    struct data_in_rcpt *d = ud;
    (void)rcpt, (void)r;
    d->calls++;
    d->a.rcpts++;
    d->rv = smtp_client_data(cli);
    return 0;
}

/* Opens a transaction of a 4-octet body to b@example.net (smtp_client_mail_from, rcpt_to). */
static void open_hi(smtp_client *c)
{
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org";
    m.body = "hi\r\n";
    m.body_len = 4;
    CHECK_INT(smtp_client_mail_from(c, &m), 0);
    CHECK_INT(smtp_client_rcpt_to(c, &(smtp_client_rcpt){.address = "b@example.net"}), 0);
}

static void test_data_in_on_rcpt(void)
{
    struct data_in_rcpt d = {{0}, 0, 0};
    smtp_client_callbacks cb = app_cb;
    cb.on_rcpt = on_rcpt_data;
    smtp_client_settings s;
    settings(&s);
    smtp_client *c;
    char out[4096];
    CHECK_INT(smtp_client_new(&c, &cb, &s, NULL, &d), 0);
    CHECK(feed(c, "220 x\r\n250-x\r\n250 PIPELINING\r\n") > 0);
    for (int round = 0; round < 2; round++) {
        open_hi(c);
        size_t n = drain(c, out, sizeof out - 1);
        out[n] = '\0';
        CHECK_STR(out, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
        CHECK_INT((int)smtp_client_read(c, "250 ok\r\n550 5.1.1 no\r\n", 22), 22);
        CHECK_INT(d.calls, round + 1);
        CHECK_INT(d.rv, 0);
        CHECK_INT(d.a.messages, round + 1); /* ended inside on_rcpt, as PERMFAIL */
        CHECK_INT(d.a.delivered, 0);
        n = drain(c, out, sizeof out - 1); /* no DATA: RSET or nothing */
        out[n] = '\0';
        CHECK(strstr(out, "DATA") == NULL);
        if (n) CHECK_INT((int)smtp_client_read(c, "250 ok\r\n", 8), 8);
    }
    /* and one accepted: DATA follows the RCPT's 250, the message delivered */
    open_hi(c);
    CHECK(feed(c, "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n") > 0);
    CHECK_INT(d.rv, 0);
    CHECK_INT(d.a.delivered, 1);
    CHECK_INT(d.a.messages, 3);
    smtp_client_del(c);
}

static void test_data_as(void)
{
    for (int how = 0; how < 3; how++) {
        struct app a = {0};
        smtp_client_settings s;
        settings(&s);
        smtp_client *c;
        CHECK_INT(smtp_client_new(&c, &app_cb, &s, NULL, &a), 0);
        CHECK_INT(smtp_client_data_as(c, SMTP_CLIENT_DATA_DATA), SMTP_ERR_INVALID_STATE);
        CHECK(feed(c, "220 x\r\n") > 0);
        CHECK_INT(smtp_client_read(c, "250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n", 37), 37);
        int done = 0;
        smtp_client_message m;
        smtp_client_message_init(&m);
        m.sender = "a@example.org";
        m.read_body = dot_body;
        m.read_body_data = &done;
        CHECK_INT(smtp_client_mail_from(c, &m), 0);
        CHECK_INT(smtp_client_rcpt_to(c, &(smtp_client_rcpt){.address = "b@example.net"}), 0);
        char out[4096];
        size_t n = drain(c, out, sizeof out - 1); /* MAIL and RCPT out: BDAT was in view */
        CHECK_INT(smtp_client_data_as(NULL, SMTP_CLIENT_DATA_DATA), SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(smtp_client_data_as(c, (smtp_client_data_command)3), SMTP_ERR_INVALID_ARGUMENT);
        CHECK_INT(smtp_client_data_as(c, (smtp_client_data_command)how), 0);
        n += drain(c, out + n, sizeof out - 1 - n);
        out[n] = '\0';
        CHECK_STR(out, how == SMTP_CLIENT_DATA_DATA
                           ? "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                           : "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                             "BDAT 9 LAST\r\na\r\n.\r\nb\r\n");
        if (how == SMTP_CLIENT_DATA_DATA) {
            CHECK_INT((int)smtp_client_read(c, "250 ok\r\n250 ok\r\n354 go\r\n", 24), 24);
            n = drain(c, out, sizeof out - 1);
            out[n] = '\0';
            CHECK_STR(out, "a\r\n..\r\nb\r\n.\r\n");
        }
        smtp_client_del(c);
    }
}

int main(void)
{
    test_data_in_on_rcpt();
    test_data_as();
    test_msg_no_chunking();
    test_on_ready();
    test_bad_settings();
    test_settings_copied();
    test_message_copied();
    test_borrowed_changed();
    test_misuse();
    test_alloc_failures();
    test_steady_state();
    test_reply_before_command();
    test_held_input();
    test_callback_failure();
    test_timeouts();
    test_starttls_state();
    test_body_backpressure();
    test_emit_limits();
    test_commands();
    test_sasl_crypto();
    test_settings_versions();
    test_external_settings();
    test_tls_verified();
    test_proxy_header();
    test_proxy_round_trip();
    test_incremental_calls();
    test_reuse();
    test_idna_helo();
    test_idna_addresses();
    return check_finish();
}
