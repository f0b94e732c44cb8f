/* SPDX-License-Identifier: MIT */
/*
 * A throwaway PKI for the TLS tests, made at run time with mbedTLS's x509write API (P-256 keys,
 * SHA-256 signatures), so the tests need no openssl command and no certificate files:
 *   ca          "CN=libsmtp Test CA", self-signed;
 *   server      "CN=localhost", SAN DNS localhost and mail.test, signed by ca; its chain
 *               (server_chain) is the leaf then ca;
 *   expired     the same name and key, valid 2001 to 2002 only;
 *   ip          "CN=ip-only", SAN iPAddress 127.0.0.1, ::1 and 2001:db8::25 only (no DNS name),
 *               the server's key, signed by ca; ip_chain is the leaf then ca;
 *   client      "CN=client.test", signed by ca (a client certificate; no subjectAltName);
 *   other_ca    "CN=Unrelated CA", self-signed, signed nothing here;
 *   inter       "CN=libsmtp Test Intermediate", a CA signed by ca;
 *   dane        "CN=mx.dane.test", SAN DNS mx.dane.test and *.pool.dane.test, the server's
 *               key, signed by inter (a chain whose trust anchor is not the root, for DANE-TA):
 *               dane_chain is the leaf, inter, ca; dane_short_chain the leaf and inter;
 *               dane_old_inter_chain the leaf, inter's expired twin (same name and key, valid
 *               2001 to 2002 only), ca.
 */
#ifndef SMTP_TEST_TLS_PKI_H
#define SMTP_TEST_TLS_PKI_H

#include <stddef.h>

#define PKI_PEM_MAX 4096

/* The version two default configs negotiate: 2.28 stops at TLS 1.2; a 3.x with TLS 1.3 goes
 * there (pki.c). */
extern const char *const test_tls_expected_version;

typedef struct test_pki {
    char ca[PKI_PEM_MAX];
    char other_ca[PKI_PEM_MAX];
    char server_chain[2 * PKI_PEM_MAX];
    char server_key[PKI_PEM_MAX];
    char expired_chain[2 * PKI_PEM_MAX];
    char ip_chain[2 * PKI_PEM_MAX];
    char client_cert[PKI_PEM_MAX];
    char client_key[PKI_PEM_MAX];
    char other_key[PKI_PEM_MAX];   /* a key that matches no certificate above */
    char server_cert[PKI_PEM_MAX]; /* the leaf of server_chain alone */
    char inter[PKI_PEM_MAX];
    char dane_chain[3 * PKI_PEM_MAX];
    char dane_short_chain[2 * PKI_PEM_MAX];
    char dane_old_inter_chain[3 * PKI_PEM_MAX];
} test_pki;

/* Fills *pki; returns 0, or -1 (and prints why) when mbedTLS fails. */
int test_pki_make(test_pki *pki);

/*
 * The certificate association data of a TLSA record (RFC 6698 2.1) for the certificate at
 * `index` (0: the first) of the PEM text `pem`: its DER (selector 0) or its
 * SubjectPublicKeyInfo (1), whole (matching type 0), or its SHA-256 (1) or SHA-512 (2).
 * Writes it to out[0..cap); returns its length, or 0 when there is no such certificate or
 * it does not fit.
 */
size_t test_pki_tlsa(const char *pem, size_t index, int selector, int mtype, unsigned char *out,
                     size_t cap);

/* Writes `text` to dir/name; stores the path in path[0..cap). Returns 0 or -1. */
int test_pki_write_file(const char *dir, const char *name, const char *text, char *path,
                        size_t cap);

#endif
