/* SPDX-License-Identifier: MIT */
/*
 * mbedTLS's hashes and random generator as the client's crypto hook (smtp_client_crypto,
 * <smtp/client.h>), for CRAM-MD5 and SCRAM-SHA-256. The engine holds no cryptography; this
 * adapter lends it mbedTLS's. mbedtls_md and mbedtls_md_hmac have the same shape in 2.28 and
 * 3.x; the random bytes come from a config's CTR-DRBG, seeded once by smtp_tls_config_new
 * (it locks itself when mbedTLS has MBEDTLS_THREADING_C).
 */
#include "tls_internal.h"

#include <smtp/client.h>

#include <mbedtls/md.h>

#include <string.h>

static int hmac(mbedtls_md_type_t type, const unsigned char *key, size_t keylen,
                const unsigned char *msg, size_t len, unsigned char *out)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(type);
    return md && mbedtls_md_hmac(md, key, keylen, msg, len, out) == 0 ? 0 : SMTP_ERR_PROTO;
}

static int c_hmac_md5(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                      unsigned char *out, void *ctx)
{
    (void)ctx;
    return hmac(MBEDTLS_MD_MD5, key, keylen, msg, len, out);
}

static int c_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg,
                         size_t len, unsigned char *out, void *ctx)
{
    (void)ctx;
    return hmac(MBEDTLS_MD_SHA256, key, keylen, msg, len, out);
}

static int c_sha256(const unsigned char *msg, size_t len, unsigned char *out, void *ctx)
{
    (void)ctx;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return md && mbedtls_md(md, msg, len, out) == 0 ? 0 : SMTP_ERR_PROTO;
}

static int c_random(unsigned char *buf, size_t len, void *ctx)
{
    smtp_tls_config *cfg = ctx;
    while (len > 0) { /* a CTR-DRBG request is at most MBEDTLS_CTR_DRBG_MAX_REQUEST octets */
        size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (mbedtls_ctr_drbg_random(&cfg->drbg, buf, n) != 0) return SMTP_ERR_PROTO;
        buf += n;
        len -= n;
    }
    return 0;
}

int smtp_tls_crypto(smtp_client_crypto *crypto, smtp_tls_config *cfg)
{
    if (!crypto) return SMTP_ERR_INVALID_ARGUMENT;
    memset(crypto, 0, sizeof *crypto);
    /* A function mbedTLS was built without stays NULL: its mechanisms are not offered. */
    if (mbedtls_md_info_from_type(MBEDTLS_MD_MD5)) crypto->hmac_md5 = c_hmac_md5;
    if (mbedtls_md_info_from_type(MBEDTLS_MD_SHA256)) {
        crypto->hmac_sha256 = c_hmac_sha256;
        crypto->sha256 = c_sha256;
    }
    if (cfg) {
        crypto->random = c_random;
        crypto->ctx = cfg;
    }
    return 0;
}
