/* SPDX-License-Identifier: MIT */
/*
 * The test PKI (pki.h): keys from mbedtls_ecp_gen_key, certificates from mbedtls_x509write_crt,
 * everything in PEM. The subjectAltName extension is encoded by hand (a SEQUENCE of dNSName
 * [2] IA5String) because its writer only exists from mbedTLS 3.5 on.
 */
#include "pki.h"

#include <mbedtls/version.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
/* 3.x: signatures may run through PSA, which must be initialized first (2.28: never). */
#include <psa/crypto.h>
#define PKI_PSA_INIT 1
#endif

#include <stdio.h>
#include <string.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03020000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
const char *const test_tls_expected_version = "TLSv1.3";
#else
const char *const test_tls_expected_version = "TLSv1.2";
#endif

struct pki_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

struct cert_spec {
    const char *subject;
    const char *issuer;
    mbedtls_pk_context *key;
    mbedtls_pk_context *issuer_key;
    int is_ca;
    unsigned char serial;
    const char *not_before, *not_after; /* YYYYMMDDhhmmss */
    const char *const *dns;             /* NULL-terminated, or NULL */
    const char *const *ips;             /* iPAddress entries: "\x04" + 4 octets or "\x10" + 16 */
};

static int gen_key(mbedtls_pk_context *pk, struct pki_rng *rng)
{
    int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, &rng->drbg);
    return ret;
}

/* DER of SubjectAltName: SEQUENCE { [2] name ... [7] address ... }; names are short (< 128
 * octets). An address is given as its length octet, then the octets. */
static size_t san_der(const char *const *dns, const char *const *ips, unsigned char *out,
                      size_t cap)
{
    size_t n = 2;
    for (size_t i = 0; ips && ips[i]; i++) {
        size_t len = (unsigned char)ips[i][0];
        if (n + 2 + len > cap) return 0;
        out[n++] = 0x87;
        out[n++] = (unsigned char)len;
        memcpy(out + n, ips[i] + 1, len);
        n += len;
    }
    for (size_t i = 0; dns && dns[i]; i++) {
        size_t len = strlen(dns[i]);
        if (n + 2 + len > cap || len > 127) return 0;
        out[n++] = 0x82;
        out[n++] = (unsigned char)len;
        memcpy(out + n, dns[i], len);
        n += len;
    }
    if (n - 2 > 127) return 0;
    out[0] = 0x30;
    out[1] = (unsigned char)(n - 2);
    return n;
}

/* 3.4 replaced x509write_crt_set_serial(mpi) by set_serial_raw(bytes) (the old one is
 * deprecated there). */
static int set_serial(mbedtls_x509write_cert *crt, unsigned char serial)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
    unsigned char raw[1] = {serial};
    return mbedtls_x509write_crt_set_serial_raw(crt, raw, sizeof raw);
#else
    mbedtls_mpi mpi;
    mbedtls_mpi_init(&mpi);
    int ret = mbedtls_mpi_lset(&mpi, serial);
    if (ret == 0) ret = mbedtls_x509write_crt_set_serial(crt, &mpi);
    mbedtls_mpi_free(&mpi);
    return ret;
#endif
}

static int make_cert(const struct cert_spec *c, struct pki_rng *rng, char *out, size_t cap)
{
    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, c->key);
    mbedtls_x509write_crt_set_issuer_key(&crt, c->issuer_key);
    int ret = mbedtls_x509write_crt_set_subject_name(&crt, c->subject);
    if (ret == 0) ret = mbedtls_x509write_crt_set_issuer_name(&crt, c->issuer);
    if (ret == 0) ret = set_serial(&crt, c->serial);
    if (ret == 0) ret = mbedtls_x509write_crt_set_validity(&crt, c->not_before, c->not_after);
    if (ret == 0) ret = mbedtls_x509write_crt_set_basic_constraints(&crt, c->is_ca, -1);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_key_usage(
            &crt, c->is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                           : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (ret == 0 && (c->dns || c->ips)) {
        unsigned char der[256];
        size_t n = san_der(c->dns, c->ips, der, sizeof der);
        ret = n ? mbedtls_x509write_crt_set_extension(
                      &crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, der, n)
                : -1;
    }
    if (ret == 0)
        ret = mbedtls_x509write_crt_pem(&crt, (unsigned char *)out, cap, mbedtls_ctr_drbg_random,
                                        &rng->drbg);
    mbedtls_x509write_crt_free(&crt);
    return ret;
}

static int write_key(mbedtls_pk_context *pk, char *out, size_t cap)
{
    return mbedtls_pk_write_key_pem(pk, (unsigned char *)out, cap);
}

/* Appends PEM text b after a in out (a chain). */
static void chain(char *out, size_t cap, const char *a, const char *b)
{
    snprintf(out, cap, "%s%s", a, b);
}

int test_pki_make(test_pki *pki)
{
    static const char *const names[] = {"localhost", "mail.test", NULL};
    static const char *const addresses[] = {
        "\x04\x7f\x00\x00\x01",                                                 /* 127.0.0.1 */
        "\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", /* ::1 */
        "\x10\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x25", /* 2001:db8::25 */
        NULL};
    static const char *const dane_names[] = {"mx.dane.test", "*.pool.dane.test", NULL};
    static const char ca_name[] = "CN=libsmtp Test CA,O=libsmtp";
    static const char inter_name[] = "CN=libsmtp Test Intermediate,O=libsmtp";
    struct pki_rng rng;
    mbedtls_pk_context ca_key, other_ca_key, srv_key, cli_key, other_key, inter_key;
    mbedtls_pk_context *keys[] = {&ca_key,  &other_ca_key, &srv_key,
                                  &cli_key, &other_key,    &inter_key};
    char leaf[PKI_PEM_MAX], old_inter[PKI_PEM_MAX], old_pair[2 * PKI_PEM_MAX];
    int ret;

    memset(pki, 0, sizeof *pki);
#if defined(PKI_PSA_INIT)
    if (psa_crypto_init() != PSA_SUCCESS) return -1;
#endif
    mbedtls_entropy_init(&rng.entropy);
    mbedtls_ctr_drbg_init(&rng.drbg);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        mbedtls_pk_init(keys[i]);
    ret = mbedtls_ctr_drbg_seed(&rng.drbg, mbedtls_entropy_func, &rng.entropy,
                                (const unsigned char *)"pki", 3);
    for (size_t i = 0; ret == 0 && i < sizeof keys / sizeof keys[0]; i++)
        ret = gen_key(keys[i], &rng);

    struct cert_spec ca = {ca_name, ca_name,          &ca_key,          &ca_key, 1,
                           1,       "20200101000000", "20491231235959", NULL,    NULL};
    struct cert_spec other = {"CN=Unrelated CA,O=elsewhere",
                              "CN=Unrelated CA,O=elsewhere",
                              &other_ca_key,
                              &other_ca_key,
                              1,
                              2,
                              "20200101000000",
                              "20491231235959",
                              NULL,
                              NULL};
    struct cert_spec srv = {"CN=localhost,O=libsmtp", ca_name,          &srv_key, &ca_key, 0, 3,
                            "20200101000000",         "20491231235959", names,    NULL};
    struct cert_spec old = {"CN=localhost,O=libsmtp", ca_name,          &srv_key, &ca_key, 0, 4,
                            "20010101000000",         "20021231235959", names,    NULL};
    struct cert_spec ipc = {"CN=ip-only,O=libsmtp", ca_name,          &srv_key, &ca_key,  0, 6,
                            "20200101000000",       "20491231235959", NULL,     addresses};
    struct cert_spec cli = {"CN=client.test,O=libsmtp", ca_name,          &cli_key, &ca_key, 0, 5,
                            "20200101000000",           "20491231235959", NULL,     NULL};
    struct cert_spec inter = {inter_name, ca_name,          &inter_key,       &ca_key, 1,
                              7,          "20200101000000", "20491231235959", NULL,    NULL};
    struct cert_spec dane = {"CN=mx.dane.test,O=libsmtp",
                             inter_name,
                             &srv_key,
                             &inter_key,
                             0,
                             8,
                             "20200101000000",
                             "20491231235959",
                             dane_names,
                             NULL};
    if (ret == 0) ret = make_cert(&ca, &rng, pki->ca, sizeof pki->ca);
    if (ret == 0) ret = make_cert(&other, &rng, pki->other_ca, sizeof pki->other_ca);
    if (ret == 0) ret = make_cert(&srv, &rng, pki->server_cert, sizeof pki->server_cert);
    if (ret == 0) chain(pki->server_chain, sizeof pki->server_chain, pki->server_cert, pki->ca);
    if (ret == 0) ret = make_cert(&inter, &rng, pki->inter, sizeof pki->inter);
    if (ret == 0) ret = make_cert(&dane, &rng, leaf, sizeof leaf);
    if (ret == 0) {
        chain(pki->dane_short_chain, sizeof pki->dane_short_chain, leaf, pki->inter);
        chain(pki->dane_chain, sizeof pki->dane_chain, pki->dane_short_chain, pki->ca);
    }
    inter.serial = 9; /* its expired twin */
    inter.not_before = "20010101000000";
    inter.not_after = "20021231235959";
    if (ret == 0) ret = make_cert(&inter, &rng, old_inter, sizeof old_inter);
    if (ret == 0) {
        chain(old_pair, sizeof old_pair, leaf, old_inter);
        chain(pki->dane_old_inter_chain, sizeof pki->dane_old_inter_chain, old_pair, pki->ca);
    }
    if (ret == 0) ret = make_cert(&old, &rng, leaf, sizeof leaf);
    if (ret == 0) chain(pki->expired_chain, sizeof pki->expired_chain, leaf, pki->ca);
    if (ret == 0) ret = make_cert(&ipc, &rng, leaf, sizeof leaf);
    if (ret == 0) chain(pki->ip_chain, sizeof pki->ip_chain, leaf, pki->ca);
    if (ret == 0) ret = make_cert(&cli, &rng, pki->client_cert, sizeof pki->client_cert);
    if (ret == 0) ret = write_key(&srv_key, pki->server_key, sizeof pki->server_key);
    if (ret == 0) ret = write_key(&cli_key, pki->client_key, sizeof pki->client_key);
    if (ret == 0) ret = write_key(&other_key, pki->other_key, sizeof pki->other_key);

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        mbedtls_pk_free(keys[i]);
    mbedtls_ctr_drbg_free(&rng.drbg);
    mbedtls_entropy_free(&rng.entropy);
    if (ret != 0) fprintf(stderr, "test PKI: mbedTLS error -0x%04x\n", (unsigned)-ret);
    return ret == 0 ? 0 : -1;
}

/* 3.0 and 3.1 made the raw SubjectPublicKeyInfo private (lib/tls/dane.c). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03020000
#define CRT_SPKI(crt) (&(crt)->MBEDTLS_PRIVATE(pk_raw))
#else
#define CRT_SPKI(crt) (&(crt)->pk_raw)
#endif

size_t test_pki_tlsa(const char *pem, size_t index, int selector, int mtype, unsigned char *out,
                     size_t cap)
{
    mbedtls_x509_crt chain;
    size_t n = 0;
    mbedtls_x509_crt_init(&chain);
    if (mbedtls_x509_crt_parse(&chain, (const unsigned char *)pem, strlen(pem) + 1) == 0) {
        const mbedtls_x509_crt *c = &chain;
        for (size_t i = 0; c != NULL && i < index; i++)
            c = c->next;
        const mbedtls_x509_buf *sel = c == NULL ? NULL : selector == 0 ? &c->raw : CRT_SPKI(c);
        const mbedtls_md_info_t *md =
            mbedtls_md_info_from_type(mtype == 1 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA512);
        if (sel != NULL && mtype == 0 && sel->len <= cap) {
            memcpy(out, sel->p, sel->len);
            n = sel->len;
        } else if (sel != NULL && mtype != 0 && md != NULL && mbedtls_md_get_size(md) <= cap &&
                   mbedtls_md(md, sel->p, sel->len, out) == 0) {
            n = mbedtls_md_get_size(md);
        }
    }
    mbedtls_x509_crt_free(&chain);
    return n;
}

int test_pki_write_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}
