/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure, everywhere: whole sessions of both engines run under tests/failmem.h
 * with the Nth allocation failing, for every N until a run allocates fewer than N times.
 * Each run must end cleanly: smtp_*_new returns SMTP_ERR_NOMEM with nothing allocated, or
 * the session fails with SMTP_ERR_NOMEM (fatal and sticky: every later feeding call returns
 * it) and goes on answering its queries, or (the client's buffers of a first message)
 * smtp_client_submit refuses the message with SMTP_ERR_NOMEM and the session goes on; nothing
 * leaks (every block freed by _del; ASan and valgrind check the rest). The sessions are long
 * enough to reach every allocation the engines make on demand (the server's output queue
 * growing while the client does not read, its decoding buffer at the first XCLIENT, AUTH= or
 * SASL response; the client's output queue, transaction buffers, SASL scratch and reply line
 * buffer), with and without SMTP_SERVER_PREALLOCATE and SMTP_CLIENT_PREALLOCATE, and the
 * client's with AUTH, two messages, BDAT and a reply split across reads. A third
 * loop wires the two engines together (as tests/test_loopback.c) and fails each side's
 * allocations in turn: the other side sees a lost connection, never a crash.
 */
#include "body_source.h"
#include "check.h"
#include "failmem.h"

#include <smtp/client.h>
#include <smtp/server.h>

#include <stdio.h>
#include <string.h>

/* No loop needs more runs than this: a session allocates a handful of blocks. */
#define MAX_N 200

/* ---- the server ---- */

static int accept_auth(smtp_server *srv, const smtp_server_auth *a, void *ud)
{
    (void)srv, (void)a, (void)ud;
    return 0;
}

static int count_end(smtp_server *srv, const smtp_server_message *m, void *ud)
{
    (void)srv, (void)m;
    ++*(int *)ud;
    return 0;
}

/* A client that pipelines everything and reads nothing until the end, so that the server's
 * replies pile up in its output queue. */
static const char server_script[] =
    "EHLO client.example.org\r\n"
    "XCLIENT NAME=relay.example.org ADDR=192.0.2.1\r\n"
    "EHLO client.example.org\r\n"
    "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"
    "MAIL FROM:<a@example.org> AUTH=<a@example.org> SIZE=100\r\n"
    "RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\n"
    "RCPT TO:<e@example.org>\r\nRCPT TO:<f@example.org>\r\nRCPT TO:<g@example.org>\r\n"
    "DATA\r\n"
    "Subject: failing allocations\r\n\r\n..a dot\r\n.\r\n"
    "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
    "BDAT 5\r\nhelloBDAT 3 LAST\r\nabc"
    "VRFY someone\r\nHELP\r\nNOOP\r\n"
    "QUIT\r\n";

/* Feeds `p` as a client that never reads; returns the first error, or 0. */
static int feed_unread(smtp_server *srv, const char *p, size_t n)
{
    while (n) {
        smtp_ssize r = smtp_server_read(srv, p, n);
        if (r < 0) return (int)r;
        if (r == 0) {
            /* The output queue is full: the client reads a little (as TCP would let it). */
            char out[600];
            if (smtp_server_write(srv, out, sizeof out) <= 0) return 0; /* closing */
            continue;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sessions that failed after smtp_server_new (memory taken on demand). */
static int late_failures;

/* One server session failing allocation n: 1 when it allocated fewer than n times. */
static int server_run(int n, unsigned flags, int *messages)
{
    struct failmem f = {.fail_at = n};
    smtp_mem mem = failmem_mem(&f);
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hostname = "mx.example.org";
    s.extensions = SMTP_SERVER_EXT_ALL & ~SMTP_SERVER_EXT_STARTTLS;
    s.future_release_interval = 604800;
    s.future_release_until = "2030-01-01T00:00:00Z";
    s.ehlo_keywords = "XSHADOW\nX-EXPIRES 86400"; /* copied: one more string to fail */
    s.mail_param_names = "XSHADOW";
    s.flags = SMTP_SERVER_AUTH_PLAINTEXT | flags;
    s.trust = SMTP_SERVER_TRUST_ALL;
    s.max_output = 4096; /* the smallest: the queue fills and grows to it */
    smtp_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.on_auth = accept_auth;
    cb.on_message_end = count_end;
    smtp_server *srv = NULL;
    int r = smtp_server_new(&srv, &cb, &s, &mem, messages);
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        CHECK(srv == NULL);
        CHECK_INT(f.live, 0);
        return 0;
    }
    int err = smtp_server_start(srv);
    if (err == 0) err = feed_unread(srv, server_script, sizeof server_script - 1);
    char out[4096];
    while (smtp_server_write(srv, out, sizeof out) > 0) {
    }
    if (err == 0) err = smtp_server_eof(srv);
    if (err != 0) {
        CHECK_INT(err, SMTP_ERR_NOMEM);
        late_failures++;
        /* Fatal and sticky; the queries still answer. */
        CHECK_INT(smtp_server_read(srv, "NOOP\r\n", 6), SMTP_ERR_NOMEM);
        CHECK(smtp_server_want_close(srv) == 1 || smtp_server_want_close(srv) == 0);
        CHECK(smtp_server_write(srv, out, sizeof out) >= 0);
    }
    smtp_server_del(srv);
    CHECK_INT(f.live, 0);
    return f.calls < n;
}

static void test_server(void)
{
    for (int pre = 0; pre < 2; pre++) {
        unsigned flags = 0;
#ifdef SMTP_SERVER_PREALLOCATE
        if (pre) flags = SMTP_SERVER_PREALLOCATE;
#else
        if (pre) break;
#endif
        int n, messages = 0;
        late_failures = 0;
        for (n = 1; n <= MAX_N; n++) {
            messages = 0;
            if (server_run(n, flags, &messages)) break;
        }
        CHECK(n <= MAX_N);
        CHECK_INT(messages, 2); /* the run without a failure took both messages */
#ifdef SMTP_SERVER_PREALLOCATE
        /* On demand, some memory comes during the session; preallocated, none does. */
        if (pre)
            CHECK_INT(late_failures, 0);
        else
            CHECK(late_failures > 0);
#endif
        printf("server%s: allocation failure at each of %d points handled, %d of them inside "
               "the session\n",
               pre ? " (preallocated)" : "", n - 1, late_failures);
    }
}

/* ---- the client ---- */

struct capp {
    int messages, reported, ended;
    smtp_client_end end;
};

static int c_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    struct capp *a = ud;
    (void)cli;
    a->messages += res->status == SMTP_CLIENT_DELIVERED;
    a->reported++;
    return 0;
}

static int c_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    struct capp *a = ud;
    (void)cli;
    a->ended++;
    a->end = res->end;
    return 0;
}

/* The server's side of a session with two messages (each MAIL, RCPT, BDAT LAST). */
static const char client_replies1[] = "220 mx.example.org ESMTP\r\n"
                                      "250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
                                      "250-8BITMIME\r\n250-DSN\r\n250 AUTH PLAIN LOGIN\r\n"
                                      "235 2.7.0 ok\r\n"
                                      "250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n";
static const char client_replies2[] = "250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n221 bye\r\n";

/* The length of in[0..n) through its first complete reply (a final line: its fourth byte is
 * not '-'), or n. */
static size_t first_reply(const char *in, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '\n') continue;
        if (i - start < 4 || in[start + 3] != '-') return i + 1;
        start = i + 1;
    }
    return n;
}

/* Pumps the client against scripted replies, one reply per read as a server that answers each
 * command after it came (a reply in the same read as the one before it is an extra reply);
 * returns the first error, or 0. */
static int client_pump(smtp_client *c, const char *in, size_t n)
{
    char out[4096];
    int guard = 0;
    while (!smtp_client_want_close(c) && guard++ < 1000) {
        while (smtp_client_write(c, out, sizeof out) > 0) {
        }
        if (!n) break;
        smtp_ssize r = smtp_client_read(c, in, first_reply(in, n));
        if (r < 0) return (int)r;
        in += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sessions that failed, and messages refused, after smtp_client_new (memory on demand). */
static int client_late_failures, client_submit_refusals;

/* Submits `m`; a refusal for memory (the buffers of the first message) leaves the session
 * going: the same message is taken at once when submitted again. */
static int client_submit(smtp_client *c, const smtp_client_message *m)
{
    int r = smtp_client_submit(c, m);
    if (r != SMTP_ERR_NOMEM) return r;
    client_submit_refusals++;
    CHECK(!smtp_client_want_close(c));
    return smtp_client_submit(c, m);
}

/* The session failed for memory on demand: fatal, sticky, reported, and nothing leaks. */
static int client_failed(smtp_client *c, struct failmem *f, struct capp *a, int n, int r)
{
    CHECK_INT(r, SMTP_ERR_NOMEM);
    CHECK(smtp_client_want_close(c));
    CHECK_INT(smtp_client_write(c, NULL, 0), SMTP_ERR_NOMEM);
    CHECK_INT(a->ended, 1);
    CHECK_INT(a->end, SMTP_CLIENT_END_ERROR);
    client_late_failures++;
    smtp_client_del(c);
    CHECK_INT(f->live, 0);
    return f->calls < n;
}

static int client_run(int n, unsigned flags, struct capp *a)
{
    struct failmem f = {.fail_at = n};
    smtp_mem mem = failmem_mem(&f);
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "client.example.org";
    s.auth_user = "user";
    s.auth_password = "secret";
    s.flags |= SMTP_CLIENT_AUTH_PLAINTEXT | flags;
    smtp_client_callbacks cb = {.on_message = c_message, .on_session_end = c_end};
    smtp_client *c = NULL;
    int r = smtp_client_new(&c, &cb, &s, &mem, a);
    if (r < 0) {
        CHECK_INT(r, SMTP_ERR_NOMEM);
        CHECK(c == NULL);
        CHECK_INT(f.live, 0);
        return 0;
    }
    int after_new = f.calls;
    smtp_client_rcpt rc = {"b@example.org", 0, NULL};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org";
    m.rcpts = &rc;
    m.nrcpts = 1;
    static const char text[] = "Subject: x\r\n\r\nbody\r\n";
    struct body_source src;
    for (int i = 0; i < 2; i++) {
        /* The first body in memory, the second from a source. */
        m.body = text;
        m.body_len = sizeof text - 1;
        body_source_init(&src, text, sizeof text - 1);
        if (i == 1) body_source_attach(&src, &m);
        CHECK_INT(client_submit(c, &m), 0);
        if (i == 0) {
            /* The first message goes out before the second is submitted; the server's
             * replies come split in two, so that the reply parser holds a line. */
            size_t half = 30;
            r = client_pump(c, client_replies1, half);
            if (r == 0)
                r = client_pump(c, client_replies1 + half, sizeof client_replies1 - 1 - half);
            if (r < 0) return client_failed(c, &f, a, n, r);
        }
    }
    CHECK_INT(smtp_client_quit(c), 0);
    r = client_pump(c, client_replies2, sizeof client_replies2 - 1);
    if (r < 0) return client_failed(c, &f, a, n, r);
    CHECK_INT(smtp_client_eof(c), 0);
    /* client.h: with SMTP_CLIENT_PREALLOCATE nothing is allocated after _new */
    if (flags) CHECK_INT(f.calls, after_new);
    smtp_client_del(c);
    CHECK_INT(f.live, 0);
    return f.calls < n;
}

static void test_client(void)
{
    for (unsigned flags = 0; flags <= SMTP_CLIENT_PREALLOCATE; flags += SMTP_CLIENT_PREALLOCATE) {
        int n;
        struct capp a;
        client_late_failures = client_submit_refusals = 0;
        for (n = 1; n <= MAX_N; n++) {
            memset(&a, 0, sizeof a);
            if (client_run(n, flags, &a)) break;
        }
        CHECK(n <= MAX_N);
        CHECK_INT(a.messages, 2);
        CHECK_INT(a.ended, 1);
        CHECK_INT(a.end, SMTP_CLIENT_END_QUIT);
        if (flags) {
            CHECK_INT(client_late_failures + client_submit_refusals, 0);
        } else {
            /* the output queue (512, then doubled), the SASL scratch and the reply line
             * buffer fail the session; the transaction's buffers refuse the message */
            CHECK(client_late_failures >= 3);
            CHECK_INT(client_submit_refusals, 1);
        }
        printf("client%s: allocation failure at each of %d points handled (%d on demand)\n",
               flags ? ", preallocated" : "", n - 1, client_late_failures + client_submit_refusals);
    }
}

/* ---- both, wired together ---- */

/* One loopback session: `side` 0 fails the client's allocation n, 1 the server's. */
static int loop_run(int side, int n, int *delivered)
{
    struct failmem fc = {.fail_at = side == 0 ? n : 0}, fs = {.fail_at = side == 1 ? n : 0};
    smtp_mem cmem = failmem_mem(&fc), smem = failmem_mem(&fs);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mx.example.org";
    smtp_server_callbacks scb;
    memset(&scb, 0, sizeof scb);
    scb.on_message_end = count_end;
    int ends = 0;
    smtp_server *srv = NULL;
    smtp_client *cli = NULL;
    struct capp a;
    memset(&a, 0, sizeof a);
    int rs = smtp_server_new(&srv, &scb, &ss, &smem, &ends);
    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.example.org";
    smtp_client_callbacks ccb = {.on_message = c_message, .on_session_end = c_end};
    int rc = smtp_client_new(&cli, &ccb, &cs, &cmem, &a);
    CHECK(rs == 0 || rs == SMTP_ERR_NOMEM);
    CHECK(rc == 0 || rc == SMTP_ERR_NOMEM);
    if (rs == 0 && rc == 0) {
        smtp_client_rcpt r = {"b@example.org", 0, NULL};
        smtp_client_message m;
        smtp_client_message_init(&m);
        m.sender = "a@example.org";
        m.rcpts = &r;
        m.nrcpts = 1;
        static char body[20000];
        memset(body, 'x', sizeof body);
        for (size_t i = 70; i < sizeof body; i += 72)
            body[i] = '\r', body[i + 1] = '\n';
        struct body_source src; /* read as the client has room */
        body_source_init(&src, body, sizeof body);
        body_source_attach(&src, &m);
        CHECK_INT(client_submit(cli, &m), 0);
        int server_ok = smtp_server_start(srv) == 0, quit = 0, steps = 0;
        char c2s[8192], s2c[8192];
        size_t c2s_len = 0, s2c_len = 0;
        while (!smtp_client_want_close(cli) && steps++ < 20000) {
            if (a.reported && !quit) {
                quit = 1;
                smtp_client_quit(cli); /* INVALID_STATE once the session ended: fine */
            }
            smtp_ssize k = smtp_client_write(cli, c2s + c2s_len, sizeof c2s - c2s_len);
            if (k > 0) c2s_len += (size_t)k;
            if (server_ok && c2s_len) {
                k = smtp_server_read(srv, c2s, c2s_len);
                if (k < 0) {
                    CHECK_INT(k, SMTP_ERR_NOMEM);
                    server_ok = 0; /* the adapter closes the connection */
                } else {
                    memmove(c2s, c2s + k, c2s_len - (size_t)k);
                    c2s_len -= (size_t)k;
                }
            }
            if (server_ok) {
                k = smtp_server_write(srv, s2c + s2c_len, sizeof s2c - s2c_len);
                if (k > 0) s2c_len += (size_t)k;
                if (smtp_server_want_close(srv) && !smtp_server_want_write(srv)) server_ok = 0;
            }
            if (s2c_len) {
                k = smtp_client_read(cli, s2c, s2c_len);
                if (k < 0) { /* memory on demand: the client failed (and says so) */
                    CHECK_INT(k, SMTP_ERR_NOMEM);
                    break;
                }
                memmove(s2c, s2c + k, s2c_len - (size_t)k);
                s2c_len -= (size_t)k;
            } else if (!server_ok) {
                CHECK_INT(smtp_client_eof(cli), 0); /* the lost connection */
            }
        }
        CHECK(smtp_client_want_close(cli));
        *delivered = a.messages;
        CHECK_INT(a.reported, 1);
        CHECK_INT(a.ended, 1);
        if (a.messages) CHECK_INT(ends, 1); /* acknowledged only when the server took it */
    }
    smtp_client_del(cli);
    smtp_server_del(srv);
    CHECK_INT(fc.live, 0);
    CHECK_INT(fs.live, 0);
    struct failmem *f = side == 0 ? &fc : &fs;
    return f->calls < n;
}

static void test_loopback(void)
{
    for (int side = 0; side < 2; side++) {
        int n, delivered = 0;
        for (n = 1; n <= MAX_N; n++) {
            delivered = 0;
            if (loop_run(side, n, &delivered)) break;
        }
        CHECK(n <= MAX_N);
        CHECK_INT(delivered, 1);
        printf("loopback, failing the %s: %d points handled\n", side ? "server" : "client", n - 1);
    }
}

int main(void)
{
    test_server();
    test_client();
    test_loopback();
    return check_finish();
}
