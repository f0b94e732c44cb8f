/* SPDX-License-Identifier: MIT */
/*
 * mkcert: writes a throwaway PKI for the end-to-end TLS tests into DIR, made now with mbedTLS
 * (tests/tls/pki.c): ca.pem (the CA to trust), cert.pem (the chain of "CN=localhost", SAN
 * localhost) and key.pem (its key); ipcert.pem (the chain of "CN=ip-only", SAN iPAddress
 * 127.0.0.1, ::1 and 2001:db8::25 only, with the same key); tlsa.txt, TLSA records for DANE
 * (RFC 7672) in smtp-send --dane-tlsa's form, one a line after a label: "ee-spki-sha256 3 1 1
 * HEX" and "ee-cert-sha512 3 0 2 HEX" (cert.pem's leaf), "ta-spki-sha256 2 1 1 HEX" and
 * "ta-cert-sha256 2 0 1 HEX" (the CA, which cert.pem holds second). No openssl command needed.
 * Usage: mkcert DIR
 */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends "LABEL U S M HEX\n" for certificate `index` of `pem` to text[0..cap). */
static int tlsa_line(char *text, size_t cap, const char *label, const char *pem, size_t index,
                     int usage, int selector, int mtype)
{
    unsigned char data[64];
    size_t n = test_pki_tlsa(pem, index, selector, mtype, data, sizeof data);
    size_t used = strlen(text);
    if (n == 0 || used + strlen(label) + 2 * n + 16 > cap) return -1;
    used +=
        (size_t)snprintf(text + used, cap - used, "%s %d %d %d ", label, usage, selector, mtype);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "%02x", data[i]);
    snprintf(text + used, cap - used, "\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkcert DIR\n");
        return 2;
    }
    test_pki *pki = malloc(sizeof *pki);
    char path[4096];
    if (pki == NULL || test_pki_make(pki) != 0) return 1;
    int rc = test_pki_write_file(argv[1], "ca.pem", pki->ca, path, sizeof path) |
             test_pki_write_file(argv[1], "cert.pem", pki->server_chain, path, sizeof path) |
             test_pki_write_file(argv[1], "key.pem", pki->server_key, path, sizeof path) |
             test_pki_write_file(argv[1], "ipcert.pem", pki->ip_chain, path, sizeof path);
    char tlsa[1024] = "";
    rc |= tlsa_line(tlsa, sizeof tlsa, "ee-spki-sha256", pki->server_chain, 0, 3, 1, 1) |
          tlsa_line(tlsa, sizeof tlsa, "ee-cert-sha512", pki->server_chain, 0, 3, 0, 2) |
          tlsa_line(tlsa, sizeof tlsa, "ta-spki-sha256", pki->server_chain, 1, 2, 1, 1) |
          tlsa_line(tlsa, sizeof tlsa, "ta-cert-sha256", pki->server_chain, 1, 2, 0, 1);
    rc |= test_pki_write_file(argv[1], "tlsa.txt", tlsa, path, sizeof path);
    free(pki);
    return rc == 0 ? 0 : 1;
}
