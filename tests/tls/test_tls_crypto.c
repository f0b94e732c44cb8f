/* SPDX-License-Identifier: MIT */
/*
 * The mbedTLS crypto hook for the client's SASL mechanisms (smtp_tls_crypto, <smtp/tls.h>):
 * known answers of its hashes, agreement with the reference code the core tests use
 * (refcrypto.h), its random bytes, and the client running RFC 7677's SCRAM-SHA-256 example,
 * RFC 2195's CRAM-MD5 example and a SCRAM exchange with a real random nonce against a
 * scripted server (sasl_server.h) that checks the proof with mbedTLS too.
 */
#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/tls.h>

#include "check.h"
#include "crypto_client.h"
#include "refcrypto.h"
#include "sasl_server.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

#define U(s) ((const unsigned char *)(s))

static void test_known_answers(void)
{
    smtp_client_crypto k;
    unsigned char out[32];
    char h[65];
    CHECK_INT(smtp_tls_crypto(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    CHECK(k.hmac_md5 && k.hmac_sha256 && k.sha256);
    CHECK(k.random == NULL); /* no config: no generator, CRAM-MD5 only */
    CHECK_INT(k.sha256(U("abc"), 3, out, k.ctx), 0);
    hex(out, 32, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 4.3 (test case 2) and 4.7 (a key longer than a block, hashed first) */
    CHECK_INT(k.hmac_sha256(U("Jefe"), 4, U("what do ya want for nothing?"), 28, out, k.ctx), 0);
    hex(out, 32, h);
    CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char key[131];
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_INT(k.hmac_sha256(key, sizeof key, U(msg), strlen(msg), out, k.ctx), 0);
    hex(out, 32, h);
    CHECK_STR(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* RFC 2202 2 (test case 2) */
    CHECK_INT(k.hmac_md5(U("Jefe"), 4, U("what do ya want for nothing?"), 28, out, k.ctx), 0);
    hex(out, 16, h);
    CHECK_STR(h, "750c783e6ab0b503eaa86e310a5db738");
}

/* The reference code of the core tests gives what mbedTLS gives, over lengths around the
 * block size and keys longer than a block. */
static void test_reference_agrees(void)
{
    smtp_client_crypto k, r;
    struct ref_crypto_state st;
    unsigned char data[300], a[32], b[32];
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    ref_crypto_init(&r, &st, NULL, 0);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    int differ = 0;
    for (size_t len = 0; len <= 200; len += 3) {
        size_t klen = len % 101;
        k.sha256(data, len, a, k.ctx);
        r.sha256(data, len, b, r.ctx);
        differ += memcmp(a, b, 32) != 0;
        k.hmac_sha256(data + 50, klen, data, len, a, k.ctx);
        r.hmac_sha256(data + 50, klen, data, len, b, r.ctx);
        differ += memcmp(a, b, 32) != 0;
        k.hmac_md5(data + 50, klen, data, len, a, k.ctx);
        r.hmac_md5(data + 50, klen, data, len, b, r.ctx);
        differ += memcmp(a, b, 16) != 0;
    }
    CHECK_INT(differ, 0);
}

static smtp_tls_config *make_config(void)
{
    smtp_tls_settings ts;
    smtp_tls_config *cfg = NULL;
    char why[256];
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    ts.verify = SMTP_TLS_VERIFY_NONE; /* only its random generator is used */
    if (smtp_tls_config_new(&cfg, &ts, NULL, why, sizeof why) != 0)
        fprintf(stderr, "config: %s\n", why);
    return cfg;
}

static void test_random(smtp_tls_config *cfg)
{
    smtp_client_crypto k;
    unsigned char a[15], b[15], big[3000];
    CHECK_INT(smtp_tls_crypto(&k, cfg), 0);
    CHECK(k.random != NULL && k.ctx == cfg);
    CHECK_INT(k.random(a, sizeof a, k.ctx), 0);
    CHECK_INT(k.random(b, sizeof b, k.ctx), 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    memset(big, 0, sizeof big);
    CHECK_INT(k.random(big, sizeof big, k.ctx), 0); /* more than one DRBG request */
    size_t zeros = 0;
    for (size_t i = 2000; i < sizeof big; i++)
        zeros += big[i] == 0;
    CHECK(zeros < 50);
}

/* RFC 7677's example and RFC 2195's, with mbedTLS's functions and the example's nonce. */
static void test_rfc_examples(void)
{
    smtp_client_crypto k;
    struct ref_crypto_state st;
    struct app a = {0};
    char line[512];
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    smtp_client_crypto nonce;
    ref_crypto_init(&nonce, &st, NULL, 0);
    k.random = nonce.random; /* the example's client nonce, rOprNGfwEbeRWgbNEkqO */
    k.ctx = nonce.ctx;       /* mbedTLS's functions ignore it */
    smtp_client *c = client(&k, "user", "pencil", &a);
    step(c, "220 hi\r\n", line, sizeof line);
    CHECK_STR(line, "EHLO client.example");
    step(c, "250-mx\r\n250 AUTH PLAIN CRAM-MD5 SCRAM-SHA-256\r\n", line, sizeof line);
    CHECK_STR(line, "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=");
    step(c,
         "334 cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSj"
         "BTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=\r\n",
         line, sizeof line);
    /* c=biws,r=...,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ= */
    CHECK_STR(line, "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhOb"
                    "EYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==");
    step(c, "334 dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==\r\n", line,
         sizeof line);
    CHECK_STR(line, "");
    CHECK_INT(smtp_client_read(c, "235 ok\r\n", 8), 8);
    CHECK_INT(smtp_client_quit(c), 0);
    char out[64];
    CHECK_MEM(out, smtp_client_write(c, out, sizeof out), "QUIT\r\n");
    CHECK(!a.ended);
    smtp_client_del(c);

    c = client(&k, "tim", "tanstaaftanstaaf", &a);
    step(c, "220 hi\r\n", line, sizeof line);
    step(c, "250-mx\r\n250 AUTH PLAIN CRAM-MD5\r\n", line, sizeof line);
    CHECK_STR(line, "AUTH CRAM-MD5");
    step(c, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n", line, sizeof line);
    CHECK_STR(line, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"); /* tim b913a6... */
    smtp_client_del(c);
}

/* A whole SCRAM exchange with a fresh random nonce: a scripted server checks the proof and
 * signs; a server signing with another password is caught and nothing more is sent. */
static void scram_session(smtp_tls_config *cfg, const char *server_password, char nonce[21])
{
    smtp_client_crypto k;
    struct app a = {0};
    struct scram_srv srv;
    char line[1024], msg[768], out[768], reply[1100];
    CHECK_INT(smtp_tls_crypto(&k, cfg), 0);
    smtp_client *c = client(&k, "user", "pencil", &a);
    step(c, "220 hi\r\n", line, sizeof line);
    step(c, "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n", line, sizeof line);
    const char *prefix = "AUTH SCRAM-SHA-256 ";
    CHECK(strncmp(line, prefix, strlen(prefix)) == 0);
    smtp_ssize n =
        smtp_base64_decode(line + strlen(prefix), strlen(line + strlen(prefix)), msg, sizeof msg);
    CHECK(n > 0);
    int sf = scram_srv_first(&srv, &k, server_password, 4096, msg, n > 0 ? (size_t)n : 0, out,
                             sizeof out);
    CHECK(sf > 0);
    memcpy(nonce, msg + 11, 20); /* "n,,n=user,r=" */
    nonce[20] = '\0';
    strcpy(reply, "334 ");
    smtp_ssize b = smtp_base64_encode(out, (size_t)sf, reply + 4, sizeof reply - 7);
    memcpy(reply + 4 + b, "\r\n", 3);
    step(c, reply, line, sizeof line);
    n = smtp_base64_decode(line, strlen(line), msg, sizeof msg);
    int good = scram_srv_final(&srv, &k, 1, msg, n > 0 ? (size_t)n : 0, out, sizeof out);
    CHECK_INT(good, strcmp(server_password, "pencil") == 0);
    b = smtp_base64_encode(out, strlen(out), reply + 4, sizeof reply - 7);
    memcpy(reply + 4 + b, "\r\n", 3);
    if (good) {
        step(c, reply, line, sizeof line);
        CHECK_STR(line, ""); /* the signature verified */
        CHECK_INT(smtp_client_read(c, "235 ok\r\n", 8), 8);
        CHECK(!a.ended);
    } else {
        CHECK_INT(smtp_client_read(c, reply, strlen(reply)), SMTP_ERR_PROTO);
        CHECK_INT(a.end, SMTP_CLIENT_END_PROTOCOL);
        CHECK_INT(smtp_client_write(c, line, sizeof line), SMTP_ERR_PROTO); /* nothing more */
        CHECK(smtp_client_want_close(c));
    }
    smtp_client_del(c);
}

static void test_scram_random(smtp_tls_config *cfg)
{
    char n1[21], n2[21], n3[21];
    scram_session(cfg, "pencil", n1);
    scram_session(cfg, "pencil", n2);
    scram_session(cfg, "not the password", n3);
    CHECK(strcmp(n1, n2) != 0 && strcmp(n2, n3) != 0);
    CHECK(strcmp(n1, "rOprNGfwEbeRWgbNEkqO") != 0);
}

int main(void)
{
    test_known_answers();
    test_reference_agrees();
    smtp_tls_config *cfg = make_config();
    CHECK(cfg != NULL);
    if (cfg) {
        test_random(cfg);
        test_scram_random(cfg);
    }
    test_rfc_examples();
    smtp_tls_config_del(cfg);
    return check_finish();
}
