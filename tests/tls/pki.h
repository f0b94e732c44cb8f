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
 *   client      "CN=client.test", signed by ca (a client certificate);
 *   other_ca    "CN=Unrelated CA", self-signed, signed nothing here.
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
    char other_key[PKI_PEM_MAX]; /* a key that matches no certificate above */
} test_pki;

/* Fills *pki; returns 0, or -1 (and prints why) when mbedTLS fails. */
int test_pki_make(test_pki *pki);

/* Writes `text` to dir/name; stores the path in path[0..cap). Returns 0 or -1. */
int test_pki_write_file(const char *dir, const char *name, const char *text, char *path,
                        size_t cap);

#endif
