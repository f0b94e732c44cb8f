/* SPDX-License-Identifier: MIT */
/*
 * The mbedTLS crypto hook (smtp_tls_crypto, lib/tls/crypto.c) when mbedTLS fails it: a copy of
 * crypto.c is linked with ld's --wrap over the mbedTLS calls it makes (lib/tls/CMakeLists.txt),
 * so that this test passes them through or makes them fail; the library's code is untouched.
 *  - an mbedTLS built without MD5 or SHA-256: the hook leaves those functions NULL, so the
 *    client never offers the mechanisms that need them, and naming one is refused;
 *  - a hash or the random generator that fails: the hook says so (never a digest it did not
 *    make), and the client's exchange fails with SMTP_ERR_CALLBACK_FAILURE, sending nothing more;
 *  - random bytes asked for in DRBG requests of at most MBEDTLS_CTR_DRBG_MAX_REQUEST octets.
 */
#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/tls.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/md.h>

#include "check.h"
#include "crypto_client.h"

#include <stdio.h>
#include <string.h>

/* ---- the shim: each wrapped call passes through unless the test says otherwise ---- */

static mbedtls_md_type_t missing = MBEDTLS_MD_NONE; /* a hash "not built in" */
static int fail_hmac, fail_hash;
static int drbg_calls, drbg_fail_at; /* the drbg_fail_at-th request fails (0: none) */
static size_t drbg_largest;

const mbedtls_md_info_t *__real_mbedtls_md_info_from_type(mbedtls_md_type_t md_type);
const mbedtls_md_info_t *__wrap_mbedtls_md_info_from_type(mbedtls_md_type_t md_type);
const mbedtls_md_info_t *__wrap_mbedtls_md_info_from_type(mbedtls_md_type_t md_type)
{
    return md_type == missing ? NULL : __real_mbedtls_md_info_from_type(md_type);
}

int __real_mbedtls_md_hmac(const mbedtls_md_info_t *md_info, const unsigned char *key,
                           size_t keylen, const unsigned char *input, size_t ilen,
                           unsigned char *output);
int __wrap_mbedtls_md_hmac(const mbedtls_md_info_t *md_info, const unsigned char *key,
                           size_t keylen, const unsigned char *input, size_t ilen,
                           unsigned char *output);
int __wrap_mbedtls_md_hmac(const mbedtls_md_info_t *md_info, const unsigned char *key,
                           size_t keylen, const unsigned char *input, size_t ilen,
                           unsigned char *output)
{
    if (fail_hmac) return MBEDTLS_ERR_MD_ALLOC_FAILED; /* its context is allocated */
    return __real_mbedtls_md_hmac(md_info, key, keylen, input, ilen, output);
}

int __real_mbedtls_md(const mbedtls_md_info_t *md_info, const unsigned char *input, size_t ilen,
                      unsigned char *output);
int __wrap_mbedtls_md(const mbedtls_md_info_t *md_info, const unsigned char *input, size_t ilen,
                      unsigned char *output);
int __wrap_mbedtls_md(const mbedtls_md_info_t *md_info, const unsigned char *input, size_t ilen,
                      unsigned char *output)
{
    if (fail_hash) return MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    return __real_mbedtls_md(md_info, input, ilen, output);
}

int __real_mbedtls_ctr_drbg_random(void *p_rng, unsigned char *output, size_t output_len);
int __wrap_mbedtls_ctr_drbg_random(void *p_rng, unsigned char *output, size_t output_len);
int __wrap_mbedtls_ctr_drbg_random(void *p_rng, unsigned char *output, size_t output_len)
{
    drbg_calls++;
    if (output_len > drbg_largest) drbg_largest = output_len;
    if (drbg_fail_at && drbg_calls == drbg_fail_at)
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    return __real_mbedtls_ctr_drbg_random(p_rng, output, output_len);
}

/* ---- the tests ---- */

/* A client of `k` as user/pass, greeted: line[0..cap) holds its EHLO. */
static smtp_client *greeted(const smtp_client_crypto *k, const char *user, const char *pass,
                            struct app *a, char *line, size_t cap)
{
    smtp_client *c = client(k, user, pass, a);
    step(c, "220 hi\r\n", line, cap);
    return c;
}

/* Feeds `reply`, at which a crypto function fails: the client fails with
 * SMTP_ERR_CALLBACK_FAILURE, has nothing more to send, and is freed. */
static void fails_on(smtp_client *c, const char *reply)
{
    char line[64];
    CHECK_INT(smtp_client_read(c, reply, strlen(reply)), SMTP_ERR_CALLBACK_FAILURE);
    CHECK(smtp_client_write(c, line, sizeof line) <= 0);
    smtp_client_del(c);
}

/* The AUTH line a client of `k` sends to a server offering `mechs`. */
static void auth_line(const smtp_client_crypto *k, const char *mechs, char *line, size_t cap)
{
    struct app a = {0};
    char ehlo[128];
    smtp_client *c = greeted(k, "tim", "tanstaaftanstaaf", &a, line, cap);
    snprintf(ehlo, sizeof ehlo, "250-mx\r\n250 AUTH %s\r\n", mechs);
    step(c, ehlo, line, cap);
    smtp_client_del(c);
}

static void test_hash_not_built(void)
{
    smtp_client_crypto k;
    char line[256];
    int rc;
    struct app a = {0};
    missing = MBEDTLS_MD_MD5;
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    CHECK(k.hmac_md5 == NULL && k.hmac_sha256 != NULL && k.sha256 != NULL);
    auth_line(&k, "CRAM-MD5 PLAIN", line, sizeof line);
    CHECK(strncmp(line, "AUTH PLAIN ", 11) == 0);
    CHECK(client_mech(&k, "tim", "x", "CRAM-MD5", &a, &rc) == NULL);
    CHECK_INT(rc, SMTP_ERR_INVALID_ARGUMENT);

    missing = MBEDTLS_MD_SHA256;
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    CHECK(k.hmac_md5 != NULL && k.hmac_sha256 == NULL && k.sha256 == NULL);
    auth_line(&k, "SCRAM-SHA-256 CRAM-MD5", line, sizeof line);
    CHECK_STR(line, "AUTH CRAM-MD5");
    missing = MBEDTLS_MD_NONE;
}

/* A CRAM-MD5 exchange whose HMAC fails: the client gives up, and nothing goes out. */
static void test_hmac_fails(void)
{
    smtp_client_crypto k;
    unsigned char out[32];
    CHECK_INT(smtp_tls_crypto(&k, NULL), 0);
    fail_hmac = 1;
    CHECK_INT(k.hmac_md5((const unsigned char *)"k", 1, (const unsigned char *)"m", 1, out, k.ctx),
              SMTP_ERR_PROTO);
    CHECK_INT(
        k.hmac_sha256((const unsigned char *)"k", 1, (const unsigned char *)"m", 1, out, k.ctx),
        SMTP_ERR_PROTO);
    struct app a = {0};
    char line[256];
    smtp_client *c = greeted(&k, "tim", "tanstaaftanstaaf", &a, line, sizeof line);
    step(c, "250-mx\r\n250 AUTH CRAM-MD5\r\n", line, sizeof line);
    CHECK_STR(line, "AUTH CRAM-MD5");
    fails_on(c, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    fail_hmac = 0;
}

/* A SCRAM-SHA-256 exchange whose SHA-256 fails (StoredKey, RFC 5802 3): the same. */
static void test_hash_fails(smtp_tls_config *cfg)
{
    smtp_client_crypto k;
    unsigned char out[32];
    CHECK_INT(smtp_tls_crypto(&k, cfg), 0);
    fail_hash = 1;
    CHECK_INT(k.sha256((const unsigned char *)"abc", 3, out, k.ctx), SMTP_ERR_PROTO);
    struct app a = {0};
    char line[256];
    smtp_client *c = greeted(&k, "user", "pencil", &a, line, sizeof line);
    step(c, "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n", line, sizeof line);
    CHECK(strncmp(line, "AUTH SCRAM-SHA-256 ", 19) == 0);
    /* The server-first message echoes the client's nonce (n,,n=user,r=NONCE), then a salt and
     * 4096 iterations. */
    char first[128], reply[256];
    smtp_ssize n = smtp_base64_decode(line + 19, strlen(line + 19), first, sizeof first - 1);
    CHECK(n > 12);
    first[n > 0 ? n : 0] = '\0';
    char msg[160];
    snprintf(msg, sizeof msg, "r=%sXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
             n > 12 ? first + 12 : "");
    memcpy(reply, "334 ", 4);
    smtp_ssize b = smtp_base64_encode(msg, strlen(msg), reply + 4, sizeof reply - 7);
    CHECK(b > 0);
    memcpy(reply + 4 + (b > 0 ? b : 0), "\r\n", 3);
    fails_on(c, reply);
    fail_hash = 0;
}

/* Random bytes: requests of at most MBEDTLS_CTR_DRBG_MAX_REQUEST; a failing generator fails
 * the hook, and a SCRAM exchange cannot start (no nonce). */
static void test_random(smtp_tls_config *cfg)
{
    smtp_client_crypto k;
    unsigned char big[3 * MBEDTLS_CTR_DRBG_MAX_REQUEST + 10];
    CHECK_INT(smtp_tls_crypto(&k, cfg), 0);
    drbg_calls = 0;
    drbg_largest = 0;
    CHECK_INT(k.random(big, sizeof big, k.ctx), 0);
    CHECK_INT(drbg_calls, 4);
    CHECK_INT(drbg_largest, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    drbg_calls = 0;
    drbg_fail_at = 2; /* the second request of the four */
    CHECK_INT(k.random(big, sizeof big, k.ctx), SMTP_ERR_PROTO);
    CHECK_INT(drbg_calls, 2);
    drbg_calls = 0;
    drbg_fail_at = 1;
    struct app a = {0};
    char line[256];
    fails_on(greeted(&k, "user", "pencil", &a, line, sizeof line),
             "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
    drbg_fail_at = 0;
}

int main(void)
{
    smtp_tls_settings ts;
    smtp_tls_config *cfg = NULL;
    smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);
    ts.verify = SMTP_TLS_VERIFY_NONE; /* only its random generator is used */
    CHECK_INT(smtp_tls_config_new(&cfg, &ts, NULL, NULL, 0), 0);
    test_hash_not_built();
    test_hmac_fails();
    if (cfg) {
        test_hash_fails(cfg);
        test_random(cfg);
    }
    smtp_tls_config_del(cfg);
    return check_finish();
}
