/* SPDX-License-Identifier: MIT */
/*
 * Tests of the TLS filter (include/smtp/tls.h) in memory: a client and a server session joined
 * by two wires (wire.h) that move ciphertext in random pieces, with certificates made at run
 * time (pki.h). Handshakes with every buffer size, data both ways, close_notify, verification
 * failures (wrong CA, host name, expiry), verification off or optional, client certificates,
 * garbage and truncation, configuration errors, files, argument errors, allocation failures
 * and the promise that a session allocates only at creation.
 * Usage: test_tls DIR (a directory where certificate files may be written).
 */
#include <smtp/tls.h>

#include <mbedtls/version.h> /* MBEDTLS_VERSION_NUMBER, the TLS 1.3 option */

#include "check.h"
#include "failmem.h"
#include "pair.h"
#include "pki.h"
#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static test_pki pki;
static const char *file_dir = ".";

/* mbedTLS's certificate flags the tests look for (x509.h; the same in 2.28 and 3.x). */
#define BADCERT_EXPIRED 0x01u
#define BADCERT_CN_MISMATCH 0x04u
#define BADCERT_NOT_TRUSTED 0x08u

static smtp_tls_config *server_config(const char *chain, size_t buffer)
{
    return pair_server_config(chain, pki.server_key, buffer);
}

static smtp_tls_config *client_config(const char *ca, smtp_tls_verify verify, size_t buffer)
{
    return pair_client_config(ca, verify, buffer);
}

/* Sends len bytes each way at once through write/pull/feed/read in random pieces, and checks
 * that each side reads exactly what the other wrote. */
static void exchange(pair *p, size_t len)
{
    char *a = malloc(len), *b = malloc(len), *ra = malloc(len), *rb = malloc(len);
    for (size_t i = 0; i < len; i++) {
        a[i] = (char)wire_rand(256);
        b[i] = (char)wire_rand(256);
    }
    size_t sa = 0, sb = 0, ga = 0, gb = 0;
    for (int i = 0; i < 2000000 && (ga < len || gb < len); i++) {
        smtp_ssize n;
        if (sa < len && (n = smtp_tls_write(p->cli, a + sa, wire_piece(len - sa))) > 0)
            sa += (size_t)n;
        if (sb < len && (n = smtp_tls_write(p->srv, b + sb, wire_piece(len - sb))) > 0)
            sb += (size_t)n;
        wire_pull(p->c2s, p->cli);
        wire_feed(p->c2s, p->srv);
        wire_pull(p->s2c, p->srv);
        wire_feed(p->s2c, p->cli);
        if (ga < len && (n = smtp_tls_read(p->srv, ra + ga, wire_piece(len - ga))) > 0)
            ga += (size_t)n;
        if (gb < len && (n = smtp_tls_read(p->cli, rb + gb, wire_piece(len - gb))) > 0)
            gb += (size_t)n;
    }
    CHECK_INT(ga, len);
    CHECK_INT(gb, len);
    CHECK(memcmp(a, ra, len) == 0);
    CHECK(memcmp(b, rb, len) == 0);
    free(a);
    free(b);
    free(ra);
    free(rb);
}

/* The peers say goodbye: each close_notify is read as SMTP_TLS_CLOSED by the other side. */
static void goodbye(pair *p)
{
    char buf[64];
    CHECK_INT(smtp_tls_close(p->cli), 0);
    CHECK_INT(smtp_tls_close(p->cli), 0); /* again: nothing more */
    CHECK_INT(smtp_tls_write(p->cli, "x", 1), SMTP_ERR_INVALID_STATE);
    pair_run(p);
    CHECK_INT(smtp_tls_read(p->srv, buf, sizeof buf), 0);
    CHECK_INT(smtp_tls_get_state(p->srv), SMTP_TLS_CLOSED);
    CHECK_INT(smtp_tls_want_feed(p->srv), 0);
    CHECK_INT(smtp_tls_feed(p->srv, "late", 4), 4); /* dropped after close_notify */
    CHECK_INT(smtp_tls_close(p->srv), 0);
    pair_run(p);
    CHECK_INT(smtp_tls_read(p->cli, buf, sizeof buf), 0);
    CHECK_INT(smtp_tls_get_state(p->cli), SMTP_TLS_CLOSED);
    CHECK_INT(smtp_tls_want_pull(p->cli), 0);
    CHECK_INT(smtp_tls_want_pull(p->srv), 0);
}

/* Handshake and data over every combination of buffer size and piece size, several seeds. */
static void test_handshake_and_data(void)
{
    static const size_t buffers[] = {SMTP_TLS_MIN_BUFFER, 3000, SMTP_TLS_DEFAULT_BUFFER};
    static const size_t pieces[] = {7, 300, 20000};
    for (size_t b = 0; b < 3; b++) {
        smtp_tls_config *scfg = server_config(pki.server_chain, buffers[b]);
        smtp_tls_config *ccfg = client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, buffers[b]);
        for (size_t k = 0; k < 3; k++) {
            wire_seed = 1000 * b + k + 1;
            pair p;
            pair_open(&p, ccfg, k == 1 ? "mail.test" : "localhost", scfg, pieces[k]);
            CHECK_INT(smtp_tls_get_state(p.cli), SMTP_TLS_HANDSHAKE);
            CHECK(smtp_tls_version(p.cli) == NULL);
            CHECK_INT(smtp_tls_write(p.cli, "early", 5), 0); /* not before the handshake */
            CHECK_INT(smtp_tls_close(p.cli), SMTP_ERR_INVALID_STATE);
            CHECK_INT(smtp_tls_verify_result(p.cli), SMTP_TLS_VERIFY_UNAVAILABLE);
            pair_run(&p);
            check_open(&p);
            CHECK_STR(smtp_tls_version(p.cli), test_tls_expected_version);
            CHECK_STR(smtp_tls_version(p.srv), test_tls_expected_version);
            CHECK(smtp_tls_ciphersuite(p.cli) != NULL);
            if (smtp_tls_ciphersuite(p.cli) && smtp_tls_ciphersuite(p.srv))
                CHECK_STR(smtp_tls_ciphersuite(p.cli), smtp_tls_ciphersuite(p.srv));
            CHECK_INT(smtp_tls_verify_result(p.cli), 0);
            CHECK_INT(smtp_tls_verify_result(p.srv), SMTP_TLS_VERIFY_UNAVAILABLE);
            char text[128];
            CHECK_INT(smtp_tls_verify_text(p.cli, text, sizeof text), 8);
            CHECK_STR(text, "verified");
            CHECK(smtp_tls_peer_subject(p.cli, text, sizeof text) > 0);
            CHECK(strstr(text, "CN=localhost") != NULL);
            CHECK_INT(smtp_tls_peer_subject(p.srv, text, sizeof text), 0); /* no client cert */
            CHECK_STR(smtp_tls_error(p.cli), "");
            CHECK_INT(smtp_tls_error_code(p.cli), 0);
            exchange(&p, k == 2 ? 100000 : 20000);
            goodbye(&p);
            pair_close(&p);
        }
        smtp_tls_config_del(ccfg);
        smtp_tls_config_del(scfg);
    }
}

/* Runs a handshake expected to fail on the client; returns the client's verify flags. */
static uint32_t client_fails(smtp_tls_config *ccfg, const char *host, smtp_tls_config *scfg,
                             const char *want_text)
{
    /* The client is an adapter's filter (smtp_tls_io_filter_new), whose handshake and read
     * must report the failure to the adapter as an error. */
    pair p;
    smtp_io_filter f;
    pair_open(&p, ccfg, host, scfg, 500);
    smtp_tls_del(p.cli);
    CHECK_INT(smtp_tls_io_filter_new(&f, ccfg, host, NULL), 0);
    p.cli = f.ctx; /* freed by pair_close */
    CHECK_INT(f.handshake(f.ctx), 0);
    pair_run(&p);
    CHECK_INT(smtp_tls_get_state(p.cli), SMTP_TLS_FAILED);
    CHECK_INT(f.handshake(f.ctx), SMTP_ERR_PROTO);
    char fbuf[16];
    CHECK_INT(f.read(f.ctx, fbuf, sizeof fbuf), SMTP_ERR_PROTO);
    /* The client's fatal alert reaches the server, which fails too. */
    CHECK_INT(smtp_tls_get_state(p.srv), SMTP_TLS_FAILED);
    CHECK(strstr(smtp_tls_error(p.cli), want_text) != NULL);
    if (!strstr(smtp_tls_error(p.cli), want_text))
        fprintf(stderr, "error: %s (wanted %s)\n", smtp_tls_error(p.cli), want_text);
    CHECK(smtp_tls_error_code(p.cli) < 0);
    CHECK(smtp_tls_version(p.cli) == NULL);
    /* Sticky: every later call says the same. */
    char buf[16];
    CHECK_INT(smtp_tls_read(p.cli, buf, sizeof buf), SMTP_ERR_PROTO);
    CHECK_INT(smtp_tls_write(p.cli, "x", 1), SMTP_ERR_PROTO);
    CHECK_INT(smtp_tls_feed(p.cli, "x", 1), SMTP_ERR_PROTO);
    CHECK_INT(smtp_tls_close(p.cli), SMTP_ERR_PROTO);
    CHECK_INT(smtp_tls_want_feed(p.cli), 0);
    uint32_t flags = smtp_tls_verify_result(p.cli);
    pair_close(&p);
    return flags;
}

static void test_verification_failures(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *good =
        client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *wrong =
        client_config(pki.other_ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    wire_seed = 42;
    /* A CA that signed nothing here. */
    uint32_t f = client_fails(wrong, "localhost", scfg, "not correctly signed");
    CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_NOT_TRUSTED));
    /* The right CA, another host name: the certificate names localhost and mail.test only. */
    f = client_fails(good, "other.test", scfg, "Common Name");
    CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_CN_MISMATCH));
    f = client_fails(good, "mail.test.evil", scfg, "Common Name");
    CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_CN_MISMATCH));
    /* An expired certificate. */
    smtp_tls_config *old = server_config(pki.expired_chain, SMTP_TLS_DEFAULT_BUFFER);
    f = client_fails(good, "localhost", old, "expired");
    CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_EXPIRED));
    smtp_tls_config_del(old);
    smtp_tls_config_del(wrong);
    smtp_tls_config_del(good);
    smtp_tls_config_del(scfg);
}

/* Verification off succeeds whatever the certificate; OPTIONAL succeeds and tells. */
static void test_verification_off_and_optional(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *none = client_config(NULL, SMTP_TLS_VERIFY_NONE, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *opt =
        client_config(pki.other_ca, SMTP_TLS_VERIFY_OPTIONAL, SMTP_TLS_DEFAULT_BUFFER);
    char text[200];
    wire_seed = 7;
    pair p;
    pair_open(&p, none, NULL, scfg, 1000); /* no host name needed without verification */
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_verify_result(p.cli), SMTP_TLS_VERIFY_UNAVAILABLE);
    smtp_tls_verify_text(p.cli, text, sizeof text);
    CHECK_STR(text, "not verified");
    exchange(&p, 5000);
    pair_close(&p);

    pair_open(&p, none, "other.test", scfg, 1000);
    pair_run(&p);
    check_open(&p);
    pair_close(&p);

    pair_open(&p, opt, "other.test", scfg, 1000);
    pair_run(&p);
    check_open(&p);
    uint32_t f = smtp_tls_verify_result(p.cli);
    CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_NOT_TRUSTED) &&
          (f & BADCERT_CN_MISMATCH));
    int n = smtp_tls_verify_text(p.cli, text, sizeof text);
    CHECK(n > 0 && strstr(text, "; ") != NULL); /* two problems on one line */
    CHECK(strchr(text, '\n') == NULL);
    CHECK_INT(smtp_tls_verify_text(p.cli, text, 5), 4); /* cut to fit */
    CHECK_INT((int)strlen(text), 4);
    pair_close(&p);
    smtp_tls_config_del(opt);
    smtp_tls_config_del(none);
    smtp_tls_config_del(scfg);
}

/* A server that asks for client certificates (REQUIRED and OPTIONAL). */
static void test_client_certificates(void)
{
    smtp_tls_settings s;
    smtp_tls_config *req = NULL, *opt = NULL, *with = NULL;
    smtp_tls_config *without =
        client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    s.ca_pem = pki.ca;
    s.verify = SMTP_TLS_VERIFY_REQUIRED;
    CHECK_INT(smtp_tls_config_new(&req, &s, NULL, NULL, 0), 0);
    s.verify = SMTP_TLS_VERIFY_OPTIONAL;
    CHECK_INT(smtp_tls_config_new(&opt, &s, NULL, NULL, 0), 0);
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    s.ca_pem = pki.ca;
    s.cert_pem = pki.client_cert;
    s.key_pem = pki.client_key;
    CHECK_INT(smtp_tls_config_new(&with, &s, NULL, NULL, 0), 0);

    wire_seed = 99;
    pair p;
    char text[128];
    pair_open(&p, with, "localhost", req, 700);
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_verify_result(p.srv), 0);
    CHECK(smtp_tls_peer_subject(p.srv, text, sizeof text) > 0);
    CHECK(strstr(text, "CN=client.test") != NULL);
    pair_close(&p);

    pair_open(&p, without, "localhost", req, 700);
    pair_run(&p);
    CHECK_INT(smtp_tls_get_state(p.srv), SMTP_TLS_FAILED);
    CHECK(smtp_tls_get_state(p.cli) != SMTP_TLS_OPEN || smtp_tls_read(p.cli, text, 1) < 0);
    pair_close(&p);

    pair_open(&p, without, "localhost", opt, 700);
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_verify_result(p.srv), SMTP_TLS_VERIFY_UNAVAILABLE);
    pair_close(&p);

    smtp_tls_config_del(with);
    smtp_tls_config_del(opt);
    smtp_tls_config_del(req);
    smtp_tls_config_del(without);
}

/* A peer that sends garbage, or closes mid-way, makes the session fail cleanly. */
static void test_garbage_and_truncation(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_MIN_BUFFER);
    smtp_tls_config *ccfg = client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_MIN_BUFFER);
    static const char *const junk[] = {
        "EHLO client.test\r\n",         "220 mail.test ESMTP\r\n",
        "\x16\x03\x01\x00\x05hello",    /* a handshake record with a nonsense body */
        "\x17\x03\x03\x40\x00",         /* application data before any handshake */
        "\x15\x03\x03\x00\x02\x02\x28", /* a fatal alert (handshake_failure) */
    };
    char buf[2048];
    for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
        for (int role = 0; role < 2; role++) {
            smtp_tls *t = NULL;
            CHECK_INT(smtp_tls_new(&t, role ? scfg : ccfg, role ? NULL : "localhost", NULL), 0);
            smtp_tls_pull(t, buf, sizeof buf); /* the client's hello goes nowhere */
            smtp_ssize r = 0;
            for (size_t i = 0; junk[j][i] && r >= 0; i++)
                r = smtp_tls_feed(t, junk[j] + i, 1);
            /* A short record waits for its end: the peer's eof ends the wait. */
            if (smtp_tls_get_state(t) == SMTP_TLS_HANDSHAKE) CHECK(smtp_tls_feed_eof(t) < 0);
            CHECK_INT(smtp_tls_get_state(t), SMTP_TLS_FAILED);
            CHECK(smtp_tls_error(t)[0] != '\0');
            CHECK(smtp_tls_pull(t, buf, sizeof buf) >= 0); /* an alert, maybe */
            CHECK_INT(smtp_tls_pull(t, buf, sizeof buf), 0);
            smtp_tls_del(t);
        }
    }
    /* Random bytes, many seeds: always FAILED, never a crash. */
    for (unsigned seed = 1; seed <= 40; seed++) {
        wire_seed = seed;
        smtp_tls *t = NULL;
        CHECK_INT(smtp_tls_new(&t, seed & 1 ? scfg : ccfg, seed & 1 ? NULL : "localhost", NULL), 0);
        size_t n = 1 + wire_rand(sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)wire_rand(256);
        if (seed % 4 == 0) buf[0] = 0x16; /* a handshake record type, to go a little deeper */
        smtp_ssize r = smtp_tls_feed(t, buf, n);
        if (r >= 0) smtp_tls_feed_eof(t);
        CHECK_INT(smtp_tls_get_state(t), SMTP_TLS_FAILED);
        smtp_tls_del(t);
    }
    /* Garbage after the handshake: the record fails its integrity check. */
    wire_seed = 5;
    pair p;
    pair_open(&p, ccfg, "localhost", scfg, 100);
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_feed(p.srv, "\x17\x03\x03\x00\x20 0123456789abcdef0123456789abcdef", 37),
              37);
    CHECK_INT(smtp_tls_read(p.srv, buf, sizeof buf), SMTP_ERR_PROTO);
    CHECK_INT(smtp_tls_get_state(p.srv), SMTP_TLS_FAILED);
    pair_close(&p);
    /* The connection ends after the handshake without close_notify: truncation. */
    pair_open(&p, ccfg, "localhost", scfg, 100);
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_write(p.srv, "221 bye\r\n", 9), 9);
    pair_run(&p);
    CHECK_INT(smtp_tls_feed_eof(p.cli), 0);
    CHECK_INT(smtp_tls_feed(p.cli, "x", 1), SMTP_ERR_INVALID_STATE);
    CHECK_INT(smtp_tls_want_feed(p.cli), 0);
    CHECK_INT(smtp_tls_read(p.cli, buf, sizeof buf), 9); /* what came before the end is kept */
    CHECK_INT(smtp_tls_read(p.cli, buf, sizeof buf), SMTP_ERR_PROTO);
    CHECK(strstr(smtp_tls_error(p.cli), "close_notify") != NULL);
    pair_close(&p);
    /* The connection ends in the middle of the handshake. */
    pair_open(&p, ccfg, "localhost", scfg, 100);
    wire_pull(p.c2s, p.cli);
    CHECK(wire_feed(p.c2s, p.srv) > 0);
    CHECK(smtp_tls_feed_eof(p.srv) < 0);
    CHECK_INT(smtp_tls_get_state(p.srv), SMTP_TLS_FAILED);
    pair_close(&p);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

static int config_error(const smtp_tls_settings *s, const char *want)
{
    smtp_tls_config *cfg = (smtp_tls_config *)&cfg; /* must be reset to NULL */
    char why[256] = "untouched";
    int rc = smtp_tls_config_new(&cfg, s, NULL, why, sizeof why);
    CHECK(cfg == NULL);
    CHECK(strstr(why, want) != NULL);
    if (!strstr(why, want)) fprintf(stderr, "config error \"%s\", wanted \"%s\"\n", why, want);
    return rc;
}

static void test_config_errors(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    CHECK_INT(config_error(&s, "no certificate"), SMTP_ERR_INVALID_ARGUMENT);
    s.cert_pem = pki.server_chain;
    CHECK_INT(config_error(&s, "without the other"), SMTP_ERR_INVALID_ARGUMENT);
    s.key_pem = pki.other_key;
    CHECK_INT(config_error(&s, "does not match"), SMTP_ERR_INVALID_ARGUMENT);
    s.key_pem = "-----BEGIN EC PRIVATE KEY-----\nnonsense\n-----END EC PRIVATE KEY-----\n";
    CHECK_INT(config_error(&s, "key (key_pem): "), SMTP_ERR_INVALID_ARGUMENT);
    s.key_pem = pki.server_key;
    s.cert_pem = "not a certificate";
    CHECK_INT(config_error(&s, "certificate (cert_pem): "), SMTP_ERR_INVALID_ARGUMENT);
    s.cert_pem = pki.server_chain;
    s.key_file = "/nonexistent/key.pem";
    CHECK_INT(config_error(&s, "both a file and PEM"), SMTP_ERR_INVALID_ARGUMENT);
    s.key_pem = NULL;
    CHECK_INT(config_error(&s, "/nonexistent/key.pem: "), SMTP_ERR_INVALID_ARGUMENT);
    s.key_file = NULL;
    s.key_pem = pki.server_key;
    s.in_buffer = SMTP_TLS_MIN_BUFFER - 1;
    CHECK_INT(config_error(&s, "SMTP_TLS_MIN_BUFFER"), SMTP_ERR_INVALID_ARGUMENT);
    /* Above the maximum: refused, so that a session's one block (the session and both
     * buffers) cannot wrap around SIZE_MAX (it did: SIZE_MAX - 4096 and 8192 gave 5599). */
    s.in_buffer = SIZE_MAX - 4096;
    s.out_buffer = 8192;
    CHECK_INT(config_error(&s, "SMTP_TLS_MAX_BUFFER"), SMTP_ERR_INVALID_ARGUMENT);
    s.in_buffer = SMTP_TLS_DEFAULT_BUFFER;
    s.out_buffer = SMTP_TLS_MAX_BUFFER + 1;
    CHECK_INT(config_error(&s, "SMTP_TLS_MAX_BUFFER"), SMTP_ERR_INVALID_ARGUMENT);
    s.out_buffer = SMTP_TLS_DEFAULT_BUFFER;
    s.verify = SMTP_TLS_VERIFY_REQUIRED; /* client certificates without a CA */
    CHECK_INT(config_error(&s, "no CA"), SMTP_ERR_INVALID_ARGUMENT);
    s.verify = (smtp_tls_verify)7;
    CHECK_INT(config_error(&s, "verify"), SMTP_ERR_INVALID_ARGUMENT);
    s.verify = SMTP_TLS_VERIFY_NONE;
    s.role = (smtp_tls_role)5;
    CHECK_INT(config_error(&s, "role"), SMTP_ERR_INVALID_ARGUMENT);

    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    CHECK_INT(s.verify, SMTP_TLS_VERIFY_REQUIRED); /* verification is on by default */
    /* (no CA named: the system's store, test_system_store) */
    s.ca_file = "/nonexistent/ca.pem";
    CHECK_INT(config_error(&s, "ca_file /nonexistent/ca.pem: "), SMTP_ERR_INVALID_ARGUMENT);
    s.ca_file = NULL;
    s.ca_path = "/nonexistent-dir";
    CHECK_INT(config_error(&s, "ca_path /nonexistent-dir: "), SMTP_ERR_INVALID_ARGUMENT);
    s.ca_path = NULL;
    s.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    CHECK_INT(config_error(&s, "ca_pem"), SMTP_ERR_INVALID_ARGUMENT);
    s.ca_pem = pki.ca;
    s.min_version = SMTP_TLS_MIN_1_3;
    smtp_tls_config *cfg = NULL;
    int rc = smtp_tls_config_new(&cfg, &s, NULL, NULL, 0);
#if MBEDTLS_VERSION_NUMBER >= 0x03020000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
    CHECK_INT(rc, 0);
#else
    CHECK_INT(rc, SMTP_ERR_INVALID_ARGUMENT); /* 2.28 has no TLS 1.3 */
#endif
    smtp_tls_config_del(cfg);
    s.min_version = (smtp_tls_version_min)9;
    CHECK_INT(config_error(&s, "min_version"), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_config_new(NULL, &s, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_config_new(&cfg, NULL, NULL, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(cfg == NULL);
    char tiny[8];
    s.min_version = SMTP_TLS_MIN_1_2;
    s.ca_pem = NULL;
    s.ca_file = "/nonexistent/ca.pem";
    CHECK_INT(smtp_tls_config_new(&cfg, &s, NULL, tiny, sizeof tiny), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT((int)strlen(tiny), 7); /* cut to fit */
    smtp_tls_settings_init(NULL, SMTP_TLS_CLIENT);
    smtp_tls_config_del(NULL);
}

/* Certificates, key and CA read from files, and the CA from a directory. */
static void test_files(void)
{
    char cert[512], key[512], ca[512], dir[512], in_dir[600];
    CHECK_INT(
        test_pki_write_file(file_dir, "tls-server-chain.pem", pki.server_chain, cert, sizeof cert),
        0);
    CHECK_INT(test_pki_write_file(file_dir, "tls-server-key.pem", pki.server_key, key, sizeof key),
              0);
    CHECK_INT(test_pki_write_file(file_dir, "tls-ca.pem", pki.ca, ca, sizeof ca), 0);
    snprintf(dir, sizeof dir, "%s/tls-ca-dir", file_dir);
    /* The CA directory holds one file; it is created by the test's CMake rule. */
    int have_dir = test_pki_write_file(dir, "ca.pem", pki.ca, in_dir, sizeof in_dir) == 0;

    smtp_tls_settings s;
    smtp_tls_config *scfg = NULL, *ccfg = NULL, *dcfg = NULL;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_file = cert;
    s.key_file = key;
    CHECK_INT(smtp_tls_config_new(&scfg, &s, NULL, NULL, 0), 0);
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    s.ca_file = ca;
    CHECK_INT(smtp_tls_config_new(&ccfg, &s, NULL, NULL, 0), 0);
    if (have_dir) {
        s.ca_file = NULL;
        s.ca_path = dir;
        CHECK_INT(smtp_tls_config_new(&dcfg, &s, NULL, NULL, 0), 0);
    } else {
        fprintf(stderr, "note: %s missing, ca_path not tested\n", dir);
    }
    wire_seed = 11;
    pair p;
    pair_open(&p, ccfg, "mail.test", scfg, 4096);
    pair_run(&p);
    check_open(&p);
    pair_close(&p);
    if (dcfg) {
        pair_open(&p, dcfg, "localhost", scfg, 4096);
        pair_run(&p);
        check_open(&p);
        pair_close(&p);
    }
    smtp_tls_config_del(dcfg);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

static void test_arguments(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *ccfg =
        client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls *t = (smtp_tls *)&t;
    char long_host[300];
    memset(long_host, 'a', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';
    CHECK_INT(smtp_tls_new(&t, ccfg, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT); /* verify: host */
    CHECK(t == NULL);
    CHECK_INT(smtp_tls_new(&t, scfg, "localhost", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, ccfg, "", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, ccfg, "bad\rhost", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, ccfg, "bad host", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, ccfg, long_host, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(NULL, ccfg, "localhost", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, NULL, "localhost", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_new(&t, ccfg, "localhost", NULL), 0);
    char buf[4];
    CHECK_INT(smtp_tls_feed(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_feed(t, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_feed(t, NULL, 0), 0);
    CHECK_INT(smtp_tls_pull(NULL, buf, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_pull(t, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_write(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_write(t, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_read(NULL, buf, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_read(t, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_read(t, buf, 0), 0);
    CHECK_INT(smtp_tls_close(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_feed_eof(NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_verify_text(NULL, buf, sizeof buf), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_verify_text(t, buf, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_peer_subject(t, NULL, 4), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_get_state(NULL), SMTP_TLS_FAILED);
    CHECK_INT(smtp_tls_want_pull(NULL), 0);
    CHECK_INT(smtp_tls_want_feed(NULL), 0);
    CHECK(smtp_tls_version(NULL) == NULL);
    CHECK(smtp_tls_ciphersuite(NULL) == NULL);
    CHECK_INT(smtp_tls_verify_result(NULL), SMTP_TLS_VERIFY_UNAVAILABLE);
    CHECK_INT(smtp_tls_error_code(NULL), 0);
    CHECK(smtp_tls_error(NULL) != NULL);
    /* A client's first pull gives a ClientHello: a TLS handshake record. A new client wants
     * to be pulled (it speaks first): an adapter that waits for want_pull must not stall. */
    CHECK_INT(smtp_tls_want_feed(t), 1);
    CHECK_INT(smtp_tls_want_pull(t), 1);
    char hello[2048];
    smtp_ssize n = smtp_tls_pull(t, hello, sizeof hello);
    CHECK(n > 5 && hello[0] == 0x16 && hello[1] == 0x03);
    CHECK_INT(smtp_tls_want_pull(t), 0);
    smtp_tls_del(t);
    smtp_tls_del(NULL);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
}

/*
 * The versioned entry points (common.h): version 1 is read; an unknown version is refused with
 * a reason and nothing allocated, and smtp_tls_settings_init_versioned leaves the struct
 * untouched.
 */
static void test_versions(void)
{
    smtp_tls_settings s;
    memset(&s, 0, sizeof s);
    s.role = SMTP_TLS_SERVER;
    s.verify = SMTP_TLS_VERIFY_OPTIONAL;
    s.in_buffer = 5;
    smtp_tls_settings_init_versioned(SMTP_TLS_SETTINGS_VERSION + 1, &s, SMTP_TLS_CLIENT);
    smtp_tls_settings_init_versioned(0, &s, SMTP_TLS_CLIENT); /* both ignored */
    CHECK_INT(s.role, SMTP_TLS_SERVER);
    CHECK_INT(s.verify, SMTP_TLS_VERIFY_OPTIONAL);
    CHECK_INT(s.in_buffer, 5);
    smtp_tls_settings_init_versioned(1, &s, SMTP_TLS_CLIENT);
    CHECK_INT(s.role, SMTP_TLS_CLIENT);
    CHECK_INT(s.verify, SMTP_TLS_VERIFY_REQUIRED);
    CHECK_INT(s.in_buffer, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_settings_init_versioned(1, NULL, SMTP_TLS_CLIENT);
    s.ca_pem = pki.ca;
    struct failmem fm = {0};
    smtp_mem mem = failmem_mem(&fm);
    smtp_tls_config *cfg = (smtp_tls_config *)&cfg;
    char why[256] = "untouched";
    CHECK_INT(smtp_tls_config_new_versioned(&cfg, SMTP_TLS_SETTINGS_VERSION + 1, &s, &mem, why,
                                            sizeof why),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK(cfg == NULL);
    CHECK(strstr(why, "version") != NULL);
    CHECK_INT(smtp_tls_config_new_versioned(&cfg, 0, &s, &mem, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(fm.calls, 0);
    /* Version 1: its fields are the config's (a buffer too small is seen). */
    s.in_buffer = SMTP_TLS_MIN_BUFFER - 1;
    CHECK_INT(smtp_tls_config_new_versioned(&cfg, 1, &s, &mem, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    s.in_buffer = SMTP_TLS_MIN_BUFFER;
    CHECK_INT(smtp_tls_config_new_versioned(&cfg, 1, &s, &mem, NULL, 0), 0);
    smtp_tls *t = NULL;
    CHECK_INT(smtp_tls_new(&t, cfg, "localhost", NULL), 0);
    smtp_tls_del(t);
    smtp_tls_config_del(cfg);
    CHECK_INT(fm.live, 0);
}

/* Every allocation failure of config and session creation is reported and leaks nothing; a
 * session allocates through smtp_mem once, at creation, and never after. */
static void test_memory(void)
{
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    struct failmem fm = {0};
    smtp_mem mem = failmem_mem(&fm);
    smtp_tls_config *scfg = NULL, *ccfg = NULL;
    fm.fail_at = 1;
    CHECK_INT(smtp_tls_config_new(&scfg, &s, &mem, NULL, 0), SMTP_ERR_NOMEM);
    CHECK_INT(fm.live, 0);
    fm = (struct failmem){0};
    CHECK_INT(smtp_tls_config_new(&scfg, &s, &mem, NULL, 0), 0);
    CHECK_INT(fm.calls, 1);
    ccfg = client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);

    smtp_tls *t = NULL;
    fm.fail_at = fm.calls + 1;
    CHECK_INT(smtp_tls_new(&t, scfg, NULL, NULL), SMTP_ERR_NOMEM); /* the config's allocator */
    CHECK(t == NULL);
    CHECK_INT(fm.live, 1);
    fm.fail_at = 0;

    struct failmem cm = {0};
    smtp_mem cmem = failmem_mem(&cm);
    pair p;
    pair_open_mem(&p, ccfg, "localhost", &cmem, scfg, 333);
    CHECK_INT(cm.calls, 1);
    CHECK(cm.last_size >= 2 * SMTP_TLS_DEFAULT_BUFFER);
    int srv_calls = fm.calls;
    wire_seed = 3;
    pair_run(&p);
    check_open(&p);
    exchange(&p, 30000);
    goodbye(&p);
    CHECK_INT(cm.calls, 1);
    CHECK_INT(fm.calls, srv_calls);
    pair_close(&p);
    CHECK_INT(cm.live, 0);
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
    CHECK_INT(fm.live, 0);
}

/* Runs a client of ccfg for host against scfg; returns 1 when the client reached OPEN. */
static int ip_handshake(smtp_tls_config *ccfg, const char *host, smtp_tls_config *scfg,
                        const char *want_problem)
{
    pair p;
    pair_open(&p, ccfg, host, scfg, 700);
    pair_run(&p);
    int open = smtp_tls_get_state(p.cli) == SMTP_TLS_OPEN;
    char text[300], line[400];
    CHECK(smtp_tls_verify_text(p.cli, text, sizeof text) > 0);
    if (!want_problem) {
        if (!open) fprintf(stderr, "%s: %s\n", host, smtp_tls_error(p.cli));
        CHECK_INT(smtp_tls_get_state(p.cli), SMTP_TLS_OPEN);
        CHECK_INT(smtp_tls_verify_result(p.cli), 0);
        CHECK_STR(text, "verified");
        CHECK_INT(smtp_tls_verify_failed(p.cli), 0);
        CHECK_INT(smtp_tls_failure_text(p.cli, line, sizeof line), 0);
        CHECK_STR(line, "");
    } else {
        CHECK(strstr(text, want_problem) != NULL);
        if (!strstr(text, want_problem))
            fprintf(stderr, "%s: \"%s\", wanted \"%s\"\n", host, text, want_problem);
        uint32_t f = smtp_tls_verify_result(p.cli);
        CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_CN_MISMATCH));
        if (!open) {
            CHECK_INT(smtp_tls_verify_failed(p.cli), 1);
            CHECK(smtp_tls_failure_text(p.cli, line, sizeof line) > 0);
            CHECK(strncmp(line, "certificate verification failed: ", 33) == 0);
            CHECK(strstr(line, want_problem) != NULL);
            CHECK(strstr(smtp_tls_error(p.cli), want_problem) != NULL);
        }
    }
    pair_close(&p);
    return open;
}

/* 1 when the client's ClientHello for host holds `text` (the SNI would). */
static int hello_holds(smtp_tls_config *ccfg, const char *host, const char *text)
{
    smtp_tls *cli = NULL;
    CHECK_INT(smtp_tls_new(&cli, ccfg, host, NULL), 0);
    int found = pair_hello_holds(cli, text);
    smtp_tls_del(cli);
    return found;
}

/* IP literals: no SNI, the certificate's iPAddress names checked as binary, v4 and v6. */
static void test_ip_literals(void)
{
    smtp_tls_config *ipcfg = server_config(pki.ip_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *dnscfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *good =
        client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *opt = client_config(pki.ca, SMTP_TLS_VERIFY_OPTIONAL, SMTP_TLS_DEFAULT_BUFFER);
    static const char *const match[] = {"127.0.0.1",    "[127.0.0.1]",
                                        "::1",          "[::1]",
                                        "[IPv6:::1]",   "[ipv6:0:0:0:0:0:0:0:1]",
                                        "2001:db8::25", "[IPv6:2001:DB8:0::25]"};
    wire_seed = 77;
    for (size_t i = 0; i < sizeof match / sizeof match[0]; i++)
        CHECK_INT(ip_handshake(good, match[i], ipcfg, NULL), 1);
    /* Another address; an IPv4 address where only IPv6 may stand; a mapped address. */
    CHECK_INT(ip_handshake(good, "127.0.0.2", ipcfg, "names no IP address 127.0.0.2"), 0);
    CHECK_INT(ip_handshake(good, "[IPv6:::2]", ipcfg, "names no IP address [IPv6:::2]"), 0);
    CHECK_INT(ip_handshake(good, "::ffff:127.0.0.1", ipcfg, "names no IP address"), 0);
    CHECK_INT(ip_handshake(good, "2001:db8::26", ipcfg, "names no IP address"), 0);
    /* A certificate with DNS names only does not serve an address; nor the reverse. */
    CHECK_INT(ip_handshake(good, "127.0.0.1", dnscfg, "names no IP address 127.0.0.1"), 0);
    CHECK_INT(ip_handshake(good, "localhost", ipcfg, "Common Name"), 0);
    /* OPTIONAL: the handshake goes on and the problem is told. */
    CHECK_INT(ip_handshake(opt, "192.0.2.1", ipcfg, "names no IP address 192.0.2.1"), 1);

    /* The peer's certificate: subject, issuer, validity. */
    pair p;
    pair_open(&p, good, "[127.0.0.1]", ipcfg, 20000);
    char buf[200];
    CHECK_INT(smtp_tls_peer_issuer(p.cli, buf, sizeof buf), 0); /* not yet */
    CHECK_INT(smtp_tls_peer_not_after(p.cli, buf, sizeof buf), 0);
    pair_run(&p);
    check_open(&p);
    CHECK(smtp_tls_peer_subject(p.cli, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "CN=ip-only") != NULL);
    CHECK(smtp_tls_peer_issuer(p.cli, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "CN=libsmtp Test CA") != NULL);
    CHECK_INT(smtp_tls_peer_not_before(p.cli, buf, sizeof buf), 20);
    CHECK_STR(buf, "2020-01-01T00:00:00Z");
    CHECK_INT(smtp_tls_peer_not_after(p.cli, buf, sizeof buf), 20);
    CHECK_STR(buf, "2049-12-31T23:59:59Z");
    CHECK_INT(smtp_tls_peer_not_after(p.cli, buf, 20), 0); /* too small */
    CHECK_STR(buf, "");
    CHECK_INT(smtp_tls_peer_issuer(p.srv, buf, sizeof buf), 0); /* no client certificate */
    CHECK_INT(smtp_tls_peer_not_before(p.srv, buf, sizeof buf), 0);
    CHECK_INT(smtp_tls_peer_issuer(NULL, buf, sizeof buf), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_peer_not_before(p.cli, NULL, 5), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_peer_not_after(p.cli, buf, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_failure_text(NULL, buf, sizeof buf), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_verify_failed(NULL), 0);
    pair_close(&p);

    /* No SNI for an address (RFC 6066 3); a host name is sent. */
    CHECK_INT(hello_holds(good, "localhost", "localhost"), 1);
    CHECK_INT(hello_holds(good, "127.0.0.1", "127.0.0.1"), 0);
    CHECK_INT(hello_holds(good, "[127.0.0.1]", "127.0.0.1"), 0);
    CHECK_INT(hello_holds(good, "[IPv6:2001:db8::25]", "2001:db8::25"), 0);
    CHECK_INT(hello_holds(good, "2001:db8::25", "2001:db8::25"), 0);
    /* Brackets around something that is no address: a name like any other. */
    CHECK_INT(hello_holds(good, "[x", "[x"), 1);
    CHECK_INT(hello_holds(good, "[IPv]", "[IPv]"), 1);

    /* The filter's session. */
    smtp_io_filter f, other;
    memset(&other, 0, sizeof other);
    CHECK_INT(smtp_tls_io_filter_new(&f, good, "127.0.0.1", NULL), 0);
    CHECK(smtp_tls_io_filter_session(&f) == f.ctx);
    CHECK(smtp_tls_io_filter_session(&other) == NULL);
    CHECK(smtp_tls_io_filter_session(NULL) == NULL);
    f.del(f.ctx);
    CHECK_INT(smtp_tls_io_filter_new(NULL, good, "127.0.0.1", NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_io_filter_new(&f, good, "bad host", NULL), SMTP_ERR_INVALID_ARGUMENT);

    smtp_tls_config_del(opt);
    smtp_tls_config_del(good);
    smtp_tls_config_del(dnscfg);
    smtp_tls_config_del(ipcfg);
}

/* smtp_tls_io_filter_report: the filter tells the client engine, as its handshake completes,
 * whether the server's certificate verified; REQUIRETLS (RFC 8689 4.2) goes out only then. */
static int report_status;

static int report_on_message(smtp_client *cli, const smtp_client_result *r, void *ud)
{
    (void)cli, (void)ud;
    report_status = (int)r->status;
    return 0;
}

/* Runs the handshake of a filter of `ccfg` tied to an implicit-TLS client engine (with DANE
 * when `dane` is not NULL), then its session up to MAIL; returns 1 when MAIL went out with
 * REQUIRETLS, 0 when the message was refused (UNSUPPORTED), -1 otherwise. */
static int report_run(smtp_tls_config *ccfg, const char *host, smtp_tls_config *scfg, int tie,
                      const smtp_tls_dane *dane)
{
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.flags |= SMTP_CLIENT_TLS;
    smtp_client_callbacks cb = {.on_message = report_on_message};
    smtp_client *cli = NULL;
    CHECK_INT(smtp_client_new(&cli, &cb, &s, NULL, NULL), 0);
    static const smtp_client_rcpt to = {"b@example.net", 0, NULL};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org";
    m.rcpts = &to;
    m.nrcpts = 1;
    m.requiretls = 1;
    CHECK_INT(smtp_client_submit(cli, &m), 0);

    smtp_io_filter f;
    pair p;
    memset(&p, 0, sizeof p);
    CHECK_INT(smtp_tls_io_filter_new(&f, ccfg, host, NULL), 0);
    CHECK_INT(smtp_tls_io_filter_report(&f, tie ? cli : NULL), 0);
    if (dane) CHECK_INT(smtp_tls_set_dane(smtp_tls_io_filter_session(&f), dane), 0);
    p.cli = f.ctx; /* freed by pair_close */
    CHECK_INT(smtp_tls_new(&p.srv, scfg, NULL, NULL), 0);
    p.c2s = wire_new(300);
    p.s2c = wire_new(300);
    pair_run(&p);
    CHECK_INT(f.handshake(f.ctx), 1);
    pair_close(&p);

    report_status = -1;
    static const char *const replies[] = {"220 hi\r\n", "250-mx\r\n250 REQUIRETLS\r\n"};
    char out[512];
    int mail = 0;
    for (size_t i = 0; i < 2; i++) {
        CHECK_INT(smtp_client_read(cli, replies[i], strlen(replies[i])),
                  (smtp_ssize)strlen(replies[i]));
        smtp_ssize n = smtp_client_write(cli, out, sizeof out - 1);
        out[n > 0 ? n : 0] = '\0';
        if (strstr(out, "MAIL FROM:<a@example.org> REQUIRETLS")) mail = 1;
    }
    smtp_client_del(cli);
    return mail ? 1 : report_status == SMTP_CLIENT_UNSUPPORTED ? 0 : -1;
}

static void test_filter_report(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *req = client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *opt = client_config(pki.ca, SMTP_TLS_VERIFY_OPTIONAL, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *none = client_config(NULL, SMTP_TLS_VERIFY_NONE, SMTP_TLS_DEFAULT_BUFFER);
    wire_seed = 11;
    CHECK_INT(report_run(req, "localhost", scfg, 1, NULL), 1);
    CHECK_INT(report_run(opt, "localhost", scfg, 1, NULL), 1);
    CHECK_INT(report_run(req, "localhost", scfg, 0, NULL), 0); /* not tied: never said verified */
    CHECK_INT(report_run(opt, "other.example", scfg, 1, NULL), 0); /* the name does not match */
    CHECK_INT(report_run(none, "localhost", scfg, 1, NULL), 0);    /* nothing was checked */
    /* DANE: a record that matched authenticates the server, whatever the config and the name
     * (DANE-EE); records that are all unusable leave it unauthenticated (RFC 7672 2.2). */
    unsigned char spki[32];
    smtp_tls_tlsa rr = {SMTP_TLS_TLSA_DANE_EE, SMTP_TLS_TLSA_SPKI, SMTP_TLS_TLSA_SHA2_256, spki,
                        test_pki_tlsa(pki.server_chain, 0, 1, 1, spki, sizeof spki)};
    smtp_tls_dane dane;
    smtp_tls_dane_init(&dane);
    dane.tlsa = &rr;
    dane.ntlsa = 1;
    CHECK_INT(rr.len, 32);
    CHECK_INT(report_run(none, "other.example", scfg, 1, &dane), 1);
    rr.usage = SMTP_TLS_TLSA_PKIX_EE;
    CHECK_INT(report_run(req, "localhost", scfg, 1, &dane), 0);
    smtp_io_filter other;
    memset(&other, 0, sizeof other);
    CHECK_INT(smtp_tls_io_filter_report(&other, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_io_filter_report(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_tls_config_del(none);
    smtp_tls_config_del(opt);
    smtp_tls_config_del(req);
    smtp_tls_config_del(scfg);
}

/* A client that names no CA gets the system's store (tls.h), which does not know the test CA;
 * a server that asks for client certificates gets none. */
static void test_system_store(void)
{
    static const char *const places[] = {"/etc/ssl/certs/ca-certificates.crt",
                                         "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
                                         "/etc/ssl/certs"};
    int have = 0;
    for (size_t i = 0; i < 4 && !have; i++) {
        FILE *f = fopen(places[i], "r");
        if (f) {
            have = 1;
            fclose(f);
        }
    }
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    smtp_tls_config *cfg = NULL;
    char why[512] = "";
    int rc = smtp_tls_config_new(&cfg, &s, NULL, why, sizeof why);
    if (have) {
        if (rc != 0) fprintf(stderr, "system store: %s\n", why);
        CHECK_INT(rc, 0);
    } else {
        fprintf(stderr, "note: no system CA store here, only its absence tested\n");
        CHECK_INT(rc, SMTP_ERR_INVALID_ARGUMENT);
        CHECK(strstr(why, "no system store found") != NULL);
    }
    if (cfg) {
        smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
        wire_seed = 5;
        uint32_t f = client_fails(cfg, "localhost", scfg, "not correctly signed");
        CHECK(f != SMTP_TLS_VERIFY_UNAVAILABLE && (f & BADCERT_NOT_TRUSTED));
        smtp_tls_config_del(scfg);
        smtp_tls_config_del(cfg);
    }
    /* Verification off: no store is loaded, none is needed. */
    s.verify = SMTP_TLS_VERIFY_NONE;
    CHECK_INT(smtp_tls_config_new(&cfg, &s, NULL, NULL, 0), 0);
    smtp_tls_config_del(cfg);
    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    s.cert_pem = pki.server_chain;
    s.key_pem = pki.server_key;
    s.verify = SMTP_TLS_VERIFY_OPTIONAL;
    CHECK_INT(config_error(&s, "no CA"), SMTP_ERR_INVALID_ARGUMENT);
}

/* A caller's buffer too small for an answer: the problems come cut short but terminated, a
 * prefix of the whole text; a name or a time comes whole or not at all. And the empty
 * requests (no buffer, no room) that are not errors. */
static void test_small_buffers(void)
{
    smtp_tls_config *scfg = server_config(pki.server_chain, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_config *opt =
        client_config(pki.other_ca, SMTP_TLS_VERIFY_OPTIONAL, SMTP_TLS_DEFAULT_BUFFER);
    wire_seed = 5;
    pair p;
    pair_open(&p, opt, "other.test", scfg, 700);
    CHECK_INT(smtp_tls_want_pull(p.srv), 0); /* a server waits for the ClientHello */
    pair_run(&p);
    check_open(&p);
    char full[512], buf[512];
    int n = smtp_tls_verify_text(p.cli, full, sizeof full);
    CHECK(n > 20 && strstr(full, "; ") != NULL); /* not trusted; not this name */
    for (size_t cap = 1; cap < (size_t)n + 2; cap += 3) {
        memset(buf, 'x', sizeof buf);
        int k = smtp_tls_verify_text(p.cli, buf, cap);
        CHECK(k >= 0 && (size_t)k < cap && buf[k] == '\0' && strncmp(buf, full, (size_t)k) == 0);
        CHECK(k == n || (size_t)k + 3 >= cap); /* cut only where the room ends */
    }
    pair_close(&p);
    /* An address the certificate does not name, as the problems say it, cut short too. */
    pair_open(&p, opt, "192.0.2.1", scfg, 700);
    pair_run(&p);
    check_open(&p);
    n = smtp_tls_verify_text(p.cli, full, sizeof full);
    CHECK(strstr(full, "names no IP address 192.0.2.1") != NULL);
    for (size_t cap = 1; cap < (size_t)n + 2; cap += 5) {
        int k = smtp_tls_verify_text(p.cli, buf, cap);
        CHECK(k >= 0 && (size_t)k < cap && strncmp(buf, full, (size_t)k) == 0);
    }
    CHECK(smtp_tls_peer_subject(p.cli, full, sizeof full) > 0);
    CHECK(smtp_tls_peer_issuer(p.cli, full, sizeof full) > 0);
    CHECK_INT(smtp_tls_peer_not_before(p.cli, full, sizeof full), 20); /* YYYY-MM-DDThh:mm:ssZ */
    strcpy(buf, "x");
    CHECK_INT(smtp_tls_peer_subject(p.cli, buf, 3), 0);
    CHECK_STR(buf, "");
    strcpy(buf, "x");
    CHECK_INT(smtp_tls_peer_issuer(p.cli, buf, 3), 0);
    CHECK_STR(buf, "");
    strcpy(buf, "x");
    CHECK_INT(smtp_tls_peer_not_after(p.cli, buf, 20), 0);
    CHECK_STR(buf, "");
    CHECK_INT(smtp_tls_peer_issuer(p.cli, buf, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_peer_not_before(p.cli, NULL, 4), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_pull(p.cli, NULL, 0), 0);
    CHECK_INT(smtp_tls_read(p.cli, NULL, 0), 0);
    CHECK_INT(smtp_tls_write(p.cli, NULL, 0), 0);
    pair_close(&p);
    smtp_tls_config_del(opt);
    smtp_tls_config_del(scfg);
}

/* More configuration mistakes: a CA directory without a certificate, an own chain with one
 * certificate that does not parse (it must load whole), an out_buffer too small, a
 * certificate given both ways; and the reason is not written where there is no room. */
static void test_config_more(void)
{
    char empty[512];
    snprintf(empty, sizeof empty, "%s/tls-empty-ca-dir", file_dir);
    CHECK(mkdir(empty, 0700) == 0 || errno == EEXIST);
    smtp_tls_settings s;
    smtp_tls_settings_init(&s, SMTP_TLS_CLIENT);
    s.ca_path = empty;
    CHECK_INT(config_error(&s, "CA: no certificate found"), SMTP_ERR_INVALID_ARGUMENT);

    smtp_tls_settings_init(&s, SMTP_TLS_SERVER);
    static const char broken[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    size_t len = strlen(pki.server_chain) + sizeof broken;
    char *chain = malloc(len);
    CHECK(chain != NULL);
    snprintf(chain, len, "%s%s", pki.server_chain, broken);
    s.cert_pem = chain;
    s.key_pem = pki.server_key;
    CHECK_INT(config_error(&s, "certificate (cert_pem): "), SMTP_ERR_INVALID_ARGUMENT);
    free(chain);
    s.cert_pem = pki.server_chain;
    s.out_buffer = SMTP_TLS_MIN_BUFFER - 1;
    CHECK_INT(config_error(&s, "SMTP_TLS_MIN_BUFFER"), SMTP_ERR_INVALID_ARGUMENT);
    s.out_buffer = SMTP_TLS_DEFAULT_BUFFER;
    s.cert_file = "/nonexistent/chain.pem";
    CHECK_INT(config_error(&s, "both a file and PEM"), SMTP_ERR_INVALID_ARGUMENT);
    s.cert_file = NULL;
    /* Client certificates asked for, the CA a directory: which holds none. */
    s.verify = SMTP_TLS_VERIFY_OPTIONAL;
    s.ca_path = empty;
    CHECK_INT(config_error(&s, "CA: no certificate found"), SMTP_ERR_INVALID_ARGUMENT);
    char why[8] = "same";
    smtp_tls_config *cfg = NULL;
    CHECK_INT(smtp_tls_config_new(&cfg, &s, NULL, why, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_STR(why, "same");
    CHECK(cfg == NULL);
    rmdir(empty);
}

int main(int argc, char **argv)
{
    if (argc > 1) file_dir = argv[1];
    if (test_pki_make(&pki) != 0) return 1;
    test_handshake_and_data();
    test_verification_failures();
    test_verification_off_and_optional();
    test_client_certificates();
    test_garbage_and_truncation();
    test_config_errors();
    test_files();
    test_arguments();
    test_versions();
    test_memory();
    test_ip_literals();
    test_system_store();
    test_filter_report();
    test_small_buffers();
    test_config_more();
    return check_finish();
}
