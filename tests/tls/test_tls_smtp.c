/* SPDX-License-Identifier: MIT */
/*
 * End to end: libsmtp's client engine delivers a message to libsmtp's server engine through
 * two TLS filters (include/smtp/tls.h) joined by in-memory wires that cut the bytes into
 * random pieces. Each side has a small adapter like the one a socket adapter would have:
 * plaintext moves straight between engine and wire until STARTTLS (RFC 3207), then through the
 * TLS session; the engines hear of the handshake through smtp_client_tls_done and
 * smtp_server_tls_done. Also implicit TLS (RFC 8314) and a failed verification.
 * Everything that crossed each wire is kept, and the part after the STARTTLS boundary must be
 * TLS records with none of the SMTP conversation in clear.
 */
#include <smtp/client.h>
#include <smtp/server.h>
#include <smtp/tls.h>

#include "check.h"
#include "pki.h"
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_pki pki;

#define BUF 8192

/* One side's adapter: plaintext for the engine (in) and from the engine (out). */
typedef struct side {
    smtp_tls *tls;
    int told; /* the engine has heard the handshake's outcome */
    char in[BUF];
    size_t in_len;
    char out[BUF];
    size_t out_len;
} side;

typedef struct world {
    smtp_client *cli;
    smtp_server *srv;
    side c, s;
    wire *c2s, *s2c;
    smtp_tls_config *ccfg, *scfg;
    const char *host;
    int implicit;
    int srv_starttls; /* on_starttls: switch to TLS once the 220 is out */
    int srv_closed;   /* the server adapter closed the connection */
    size_t c2s_boundary, s2c_boundary;
    /* What the server engine was fed after TLS started (decrypted). */
    char srv_plain[BUF];
    size_t srv_plain_len;
    char body[BUF];
    size_t body_len;
    int messages, delivered, ended, starttls_seen;
    smtp_client_end end;
    smtp_client_message msg;
} world;

static void append(char *dst, size_t *len, const char *src, size_t n)
{
    if (n > BUF - *len) n = BUF - *len;
    memcpy(dst + *len, src, n);
    *len += n;
}

static void take(char *buf, size_t *len, size_t n)
{
    memmove(buf, buf + n, *len - n);
    *len -= n;
}

/* Server callbacks. */
static int s_starttls(smtp_server *srv, void *ud)
{
    (void)srv;
    ((world *)ud)->srv_starttls = 1;
    return 0;
}

static int s_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    world *w = ud;
    append(w->body, &w->body_len, data.ptr, data.len);
    return 0;
}

static int s_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    (void)srv;
    (void)msg;
    ((world *)ud)->messages++;
    return 0;
}

static int s_injection(smtp_server *srv, void *ud)
{
    (void)srv;
    (void)ud;
    CHECK(0); /* plaintext after STARTTLS: must never happen */
    return 0;
}

/* Client callbacks. */
static int c_message(smtp_client *cli, const smtp_client_result *r, void *ud)
{
    world *w = ud;
    (void)cli;
    if (r->status == SMTP_CLIENT_DELIVERED) w->delivered++;
    return 0;
}

static int c_starttls(smtp_client *cli, void *ud)
{
    (void)cli;
    ((world *)ud)->starttls_seen++;
    return 0;
}

static int c_session_end(smtp_client *cli, const smtp_client_session_result *r, void *ud)
{
    world *w = ud;
    (void)cli;
    w->ended++;
    w->end = r->end;
    return 0;
}

static const char body_text[] = "Subject: secret-subject\r\n\r\nsecret body line one\r\n"
                                ".a line that starts with a dot\r\n"
                                "secret body line two\r\n";

static void world_open(world *w, smtp_tls_config *ccfg, smtp_tls_config *scfg, const char *host,
                       int implicit, size_t max_piece)
{
    memset(w, 0, sizeof *w);
    w->ccfg = ccfg;
    w->scfg = scfg;
    w->host = host;
    w->implicit = implicit;
    w->c2s = wire_new(max_piece);
    w->s2c = wire_new(max_piece);
    w->c2s_boundary = w->s2c_boundary = SIZE_MAX;

    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "mail.test";
    if (implicit)
        ss.flags |= SMTP_SERVER_TLS;
    else
        ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    smtp_server_callbacks scb;
    memset(&scb, 0, sizeof scb);
    scb.on_starttls = s_starttls;
    scb.on_data = s_data;
    scb.on_message_end = s_message_end;
    scb.on_tls_injection = s_injection;
    CHECK_INT(smtp_server_new(&w->srv, &scb, &ss, NULL, w), 0);

    smtp_client_settings cs;
    smtp_client_settings_init(&cs);
    cs.helo_name = "client.test";
    if (implicit)
        cs.flags |= SMTP_CLIENT_TLS;
    else
        cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    smtp_client_callbacks ccb;
    memset(&ccb, 0, sizeof ccb);
    ccb.on_message = c_message;
    ccb.on_starttls = c_starttls;
    ccb.on_session_end = c_session_end;
    CHECK_INT(smtp_client_new(&w->cli, &ccb, &cs, NULL, w), 0);

    if (implicit) { /* RFC 8314 3.3: TLS from the first byte */
        CHECK_INT(smtp_tls_new(&w->c.tls, ccfg, host, NULL), 0);
        CHECK_INT(smtp_tls_new(&w->s.tls, scfg, NULL, NULL), 0);
        w->c2s_boundary = w->s2c_boundary = 0;
    }
    CHECK_INT(smtp_server_start(w->srv), 0);

    static const smtp_client_rcpt rcpt = {"b@mail.test", 0, NULL};
    smtp_client_message_init(&w->msg); /* borrowed by the client until on_message */
    w->msg.sender = "a@client.test";
    w->msg.rcpts = &rcpt;
    w->msg.nrcpts = 1;
    w->msg.body = body_text;
    w->msg.body_len = sizeof body_text - 1;
    CHECK_INT(smtp_client_submit(w->cli, &w->msg), 0);
    CHECK_INT(smtp_client_quit(w->cli), 0);
}

static void world_close(world *w)
{
    smtp_client_del(w->cli);
    smtp_server_del(w->srv);
    smtp_tls_del(w->c.tls);
    smtp_tls_del(w->s.tls);
    wire_del(w->c2s);
    wire_del(w->s2c);
}

/* Moves plaintext from a wire to a side's engine buffer, in a random piece. */
static size_t plain_in(wire *from, side *to)
{
    size_t n = from->len < BUF - to->in_len ? from->len : BUF - to->in_len;
    if (n == 0) return 0;
    n = wire_piece(n);
    append(to->in, &to->in_len, from->buf, n);
    wire_consume(from, n);
    return n;
}

/* Network in: ciphertext through the TLS session, or plaintext straight. Returns progress. */
static size_t net_in(wire *from, side *to, int hold_plain)
{
    size_t moved = 0;
    if (to->tls) {
        smtp_ssize r = wire_feed(from, to->tls);
        if (r > 0) moved += (size_t)r;
        while (to->in_len < BUF) {
            r = smtp_tls_read(to->tls, to->in + to->in_len, wire_piece(BUF - to->in_len));
            if (r <= 0) break;
            to->in_len += (size_t)r;
            moved += (size_t)r;
        }
    } else if (!hold_plain) {
        moved += plain_in(from, to);
    }
    return moved;
}

/* Network out: the engine's bytes through the TLS session, or straight onto the wire. */
static size_t net_out(side *from, wire *to)
{
    size_t moved = 0;
    if (from->tls) {
        if (from->out_len) {
            smtp_ssize r = smtp_tls_write(from->tls, from->out, wire_piece(from->out_len));
            if (r > 0) {
                take(from->out, &from->out_len, (size_t)r);
                moved += (size_t)r;
            }
        }
        smtp_ssize r = wire_pull(to, from->tls);
        if (r > 0) moved += (size_t)r;
    } else if (from->out_len) {
        wire_put(to, from->out, from->out_len);
        moved += from->out_len;
        from->out_len = 0;
    }
    return moved;
}

static size_t client_step(world *w)
{
    side *c = &w->c;
    size_t moved = net_in(w->s2c, c, smtp_client_want_tls(w->cli));
    /* Plaintext that came with the end of the handshake waits until the engine was told TLS is
     * up (with TLS 1.3 the peer's first record can arrive in the same read as its Finished). */
    if (c->in_len && (!c->tls || c->told)) {
        smtp_ssize n = smtp_client_read(w->cli, c->in, wire_piece(c->in_len));
        CHECK(n >= 0);
        if (n > 0) {
            take(c->in, &c->in_len, (size_t)n);
            moved += (size_t)n;
        }
    }
    if (!c->tls && smtp_client_want_tls(w->cli)) {
        CHECK_INT(c->in_len, 0); /* nothing after the 220 in clear */
        CHECK_INT(c->out_len, 0);
        CHECK_INT(smtp_tls_new(&c->tls, w->ccfg, w->host, NULL), 0);
        w->c2s_boundary = w->c2s->log_len;
        moved++;
    }
    if (c->tls && !c->told && smtp_tls_get_state(c->tls) != SMTP_TLS_HANDSHAKE) {
        int ok = smtp_tls_get_state(c->tls) == SMTP_TLS_OPEN;
        c->told = 1;
        if (!w->implicit) CHECK_INT(smtp_client_tls_done(w->cli, ok), 0);
        moved++;
    }
    if (c->out_len < BUF) {
        smtp_ssize n = smtp_client_write(w->cli, c->out + c->out_len, BUF - c->out_len);
        CHECK(n >= 0);
        if (n > 0) {
            c->out_len += (size_t)n;
            moved += (size_t)n;
        }
    }
    return moved + net_out(c, w->c2s);
}

static size_t server_step(world *w)
{
    side *s = &w->s;
    if (w->srv_closed) return 0;
    size_t moved = net_in(w->c2s, s, w->srv_starttls);
    if (s->in_len && (!s->tls || s->told)) { /* as in client_step */
        smtp_ssize n = smtp_server_read(w->srv, s->in, wire_piece(s->in_len));
        CHECK(n >= 0);
        if (n > 0) {
            if (s->tls) append(w->srv_plain, &w->srv_plain_len, s->in, (size_t)n);
            take(s->in, &s->in_len, (size_t)n);
            moved += (size_t)n;
        }
    }
    if (s->out_len < BUF) {
        smtp_ssize n = smtp_server_write(w->srv, s->out + s->out_len, BUF - s->out_len);
        CHECK(n >= 0);
        if (n > 0) {
            s->out_len += (size_t)n;
            moved += (size_t)n;
        }
    }
    moved += net_out(s, w->s2c);
    /* RFC 3207 4.2: the handshake starts once the 220 is out; no byte before it is kept. */
    if (w->srv_starttls && !s->tls && s->out_len == 0 && !smtp_server_want_write(w->srv)) {
        CHECK_INT(s->in_len, 0);
        CHECK_INT(smtp_tls_new(&s->tls, w->scfg, NULL, NULL), 0);
        w->s2c_boundary = w->s2c->log_len;
        moved++;
    }
    if (s->tls && !s->told && smtp_tls_get_state(s->tls) != SMTP_TLS_HANDSHAKE) {
        s->told = 1;
        if (smtp_tls_get_state(s->tls) == SMTP_TLS_OPEN) {
            if (!w->implicit) CHECK_INT(smtp_server_tls_done(w->srv, 1), 0);
        } else {
            /* A failed handshake: send the alert, if any, then close. */
            while (smtp_tls_want_pull(s->tls))
                wire_pull(w->s2c, s->tls);
            CHECK_INT(smtp_server_eof(w->srv), 0);
            w->srv_closed = 1;
        }
        moved++;
    }
    if (smtp_server_want_close(w->srv) && s->out_len == 0 &&
        (!s->tls || !smtp_tls_want_pull(s->tls))) {
        if (s->tls && smtp_tls_get_state(s->tls) == SMTP_TLS_OPEN) {
            CHECK_INT(smtp_tls_close(s->tls), 0); /* close_notify, then close */
            while (smtp_tls_want_pull(s->tls))
                wire_pull(w->s2c, s->tls);
        }
        w->srv_closed = 1;
        moved++;
    }
    return moved;
}

static void world_run(world *w)
{
    int quiet = 0;
    for (int i = 0; i < 100000 && quiet < 8; i++) {
        size_t moved = client_step(w) + server_step(w);
        quiet = moved ? 0 : quiet + 1;
    }
}

/* Does the wire after `boundary` hold only TLS records and none of these words? */
static void check_no_plaintext_after(const wire *wr, size_t boundary)
{
    static const char *const words[] = {
        "EHLO ", "MAIL FROM:", "RCPT TO:", "BDAT ",           "DATA\r\n",    "QUIT\r\n",   "250 2.",
        "250-",  "221 2.",     "secret",   "mail.test ESMTP", "client.test", "PIPELINING", "354 "};
    CHECK(boundary != SIZE_MAX);
    if (boundary == SIZE_MAX) return;
    CHECK(wr->log_len > boundary);
    if (wr->log_len > boundary) CHECK_INT((unsigned char)wr->log[boundary], 0x16); /* handshake */
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        CHECK(!wire_log_has(wr, boundary, words[i]));
        if (wire_log_has(wr, boundary, words[i]))
            fprintf(stderr, "\"%s\" crossed the TLS boundary in clear\n", words[i]);
    }
}

static int ends_with(const wire *wr, size_t end, const char *tail)
{
    size_t n = strlen(tail);
    return end != SIZE_MAX && end >= n && memcmp(wr->log + end - n, tail, n) == 0;
}

static int mem_has(const char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(p + i, needle, n) == 0) return 1;
    return 0;
}

static void check_delivered(world *w)
{
    CHECK_INT(w->delivered, 1);
    CHECK_INT(w->messages, 1);
    CHECK_INT(w->ended, 1);
    CHECK_INT(w->end, SMTP_CLIENT_END_QUIT);
    CHECK(smtp_client_want_close(w->cli));
    CHECK(mem_has(w->body, w->body_len, "secret body line two"));
    CHECK(mem_has(w->body, w->body_len, "\r\n.a line that starts with a dot"));
    /* The conversation went through TLS: the server read it decrypted. */
    CHECK(mem_has(w->srv_plain, w->srv_plain_len, "EHLO client.test\r\n"));
    CHECK(mem_has(w->srv_plain, w->srv_plain_len, "MAIL FROM:<a@client.test>"));
    CHECK_STR(smtp_tls_version(w->c.tls) ? smtp_tls_version(w->c.tls) : "",
              test_tls_expected_version);
    CHECK_INT(smtp_tls_verify_result(w->c.tls), 0);
    /* The client read the server's close_notify. */
    char buf[16];
    CHECK_INT(smtp_tls_read(w->c.tls, buf, sizeof buf), 0);
    CHECK_INT(smtp_tls_get_state(w->c.tls), SMTP_TLS_CLOSED);
}

static void test_starttls(void)
{
    static const size_t pieces[] = {1, 5, 64, 1500, 9000};
    for (unsigned seed = 1; seed <= 10; seed++) {
        wire_seed = seed;
        int small = seed % 2;
        smtp_tls_settings ss, cs;
        smtp_tls_settings_init(&ss, SMTP_TLS_SERVER);
        ss.cert_pem = pki.server_chain;
        ss.key_pem = pki.server_key;
        smtp_tls_settings_init(&cs, SMTP_TLS_CLIENT);
        cs.ca_pem = pki.ca;
        if (small) ss.in_buffer = ss.out_buffer = cs.in_buffer = cs.out_buffer = 1024;
        smtp_tls_config *scfg = NULL, *ccfg = NULL;
        CHECK_INT(smtp_tls_config_new(&scfg, &ss, NULL, NULL, 0), 0);
        CHECK_INT(smtp_tls_config_new(&ccfg, &cs, NULL, NULL, 0), 0);
        world w;
        world_open(&w, ccfg, scfg, seed % 3 ? "mail.test" : "localhost", 0, pieces[seed % 5]);
        world_run(&w);
        CHECK_INT(w.starttls_seen, 1);
        check_delivered(&w);
        /* The boundary: the STARTTLS line and its 220 are the last bytes in clear. */
        CHECK(ends_with(w.c2s, w.c2s_boundary, "STARTTLS\r\n"));
        CHECK(ends_with(w.s2c, w.s2c_boundary, "\r\n"));
        CHECK(w.s2c_boundary != SIZE_MAX &&
              mem_has(w.s2c->log, w.s2c_boundary, "220 2.0.0 Ready to start TLS\r\n"));
        check_no_plaintext_after(w.c2s, w.c2s_boundary);
        check_no_plaintext_after(w.s2c, w.s2c_boundary);
        world_close(&w);
        smtp_tls_config_del(ccfg);
        smtp_tls_config_del(scfg);
    }
}

static void test_implicit_tls(void)
{
    smtp_tls_settings ss, cs;
    smtp_tls_settings_init(&ss, SMTP_TLS_SERVER);
    ss.cert_pem = pki.server_chain;
    ss.key_pem = pki.server_key;
    smtp_tls_settings_init(&cs, SMTP_TLS_CLIENT);
    cs.ca_pem = pki.ca;
    smtp_tls_config *scfg = NULL, *ccfg = NULL;
    CHECK_INT(smtp_tls_config_new(&scfg, &ss, NULL, NULL, 0), 0);
    CHECK_INT(smtp_tls_config_new(&ccfg, &cs, NULL, NULL, 0), 0);
    for (unsigned seed = 20; seed < 24; seed++) {
        wire_seed = seed;
        world w;
        world_open(&w, ccfg, scfg, "mail.test", 1, seed % 2 ? 3 : 4000);
        world_run(&w);
        CHECK_INT(w.starttls_seen, 0);
        check_delivered(&w);
        check_no_plaintext_after(w.c2s, 0); /* the greeting too is encrypted */
        check_no_plaintext_after(w.s2c, 0);
        CHECK(!wire_log_has(w.s2c, 0, "220 "));
        world_close(&w);
    }
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

/* The server's certificate does not name the host: the client ends the session with
 * SMTP_CLIENT_END_TLS_FAILED and sends nothing more, in clear or not. */
static void test_starttls_verification_failure(void)
{
    smtp_tls_settings ss, cs;
    smtp_tls_settings_init(&ss, SMTP_TLS_SERVER);
    ss.cert_pem = pki.server_chain;
    ss.key_pem = pki.server_key;
    smtp_tls_settings_init(&cs, SMTP_TLS_CLIENT);
    cs.ca_pem = pki.ca;
    smtp_tls_config *scfg = NULL, *ccfg = NULL;
    CHECK_INT(smtp_tls_config_new(&scfg, &ss, NULL, NULL, 0), 0);
    CHECK_INT(smtp_tls_config_new(&ccfg, &cs, NULL, NULL, 0), 0);
    wire_seed = 77;
    world w;
    world_open(&w, ccfg, scfg, "mx.elsewhere.test", 0, 200);
    world_run(&w);
    CHECK_INT(w.starttls_seen, 1);
    CHECK_INT(w.ended, 1);
    CHECK_INT(w.end, SMTP_CLIENT_END_TLS_FAILED);
    CHECK_INT(w.delivered, 0);
    CHECK_INT(w.messages, 0);
    CHECK(smtp_client_want_close(w.cli));
    CHECK_INT(smtp_tls_get_state(w.c.tls), SMTP_TLS_FAILED);
    CHECK(strstr(smtp_tls_error(w.c.tls), "Common Name") != NULL);
    CHECK(w.srv_closed);
    check_no_plaintext_after(w.c2s, w.c2s_boundary);
    CHECK(!wire_log_has(w.c2s, w.c2s_boundary, "QUIT"));
    world_close(&w);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

int main(void)
{
    if (test_pki_make(&pki) != 0) return 1;
    test_starttls();
    test_implicit_tls();
    test_starttls_verification_failure();
    return check_finish();
}
