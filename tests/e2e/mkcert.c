/* SPDX-License-Identifier: MIT */
/*
 * mkcert: writes a throwaway PKI for the end-to-end TLS tests into DIR, made now with mbedTLS
 * (tests/tls/pki.c): ca.pem (the CA to trust), cert.pem (the chain of "CN=localhost", SAN
 * localhost) and key.pem (its key); ipcert.pem (the chain of "CN=ip-only", SAN iPAddress
 * 127.0.0.1, ::1 and 2001:db8::25 only, with the same key). No openssl command needed.
 * Usage: mkcert DIR
 */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>

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
    free(pki);
    return rc == 0 ? 0 : 1;
}
