/* SPDX-License-Identifier: MIT */
/*
 * The server's side of CRAM-MD5 (RFC 2195) and SCRAM-SHA-256 (RFC 5802, RFC 7677) for the
 * tests that run libsmtp's client against a server: test_loopback (the in-memory server
 * engine's on_sasl) and tests/tls/test_tls_crypto.c (a scripted server, mbedTLS's hook). The
 * crypto comes from an smtp_client_crypto hook, so either implementation can check the other.
 * Test code: fixed salt and server nonce, no SASLprep. Header-only: static inline functions.
 */
#ifndef SMTP_TEST_SASL_SERVER_H
#define SMTP_TEST_SASL_SERVER_H

#include <smtp/client.h>
#include <smtp/codec.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* RFC 7677's salt and server nonce part. */
#define SASL_SRV_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define SASL_SRV_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
/* RFC 2195's challenge. */
#define SASL_SRV_CRAM_CHALLENGE "<1896.697170952@postoffice.reston.mci.net>"

/* One SCRAM exchange on the server's side. */
struct scram_srv {
    char auth_msg[2048]; /* client-first-message-bare "," server-first-message "," */
    size_t am_len;
    char nonce[256]; /* the combined nonce */
    size_t nonce_len;
    char user[128]; /* the saslname as sent (escapes kept) */
    char authzid[128];
    unsigned char salted[32];
};

/* Hi() (RFC 5802 2.2) through the hook. */
static inline int sasl_srv_hi(const smtp_client_crypto *k, const char *pw,
                              const unsigned char *salt, size_t slen, uint32_t iterations,
                              unsigned char out[32])
{
    unsigned char msg[128], u[32], next[32];
    if (slen + 4 > sizeof msg) return -1;
    memcpy(msg, salt, slen);
    memcpy(msg + slen, "\0\0\0\1", 4);
    if (k->hmac_sha256((const unsigned char *)pw, strlen(pw), msg, slen + 4, u, k->ctx) < 0)
        return -1;
    memcpy(out, u, 32);
    for (uint32_t j = 1; j < iterations; j++) {
        if (k->hmac_sha256((const unsigned char *)pw, strlen(pw), u, 32, next, k->ctx) < 0)
            return -1;
        memcpy(u, next, 32);
        for (int i = 0; i < 32; i++)
            out[i] ^= u[i];
    }
    return 0;
}

/* Copies the value of "<name>=" found at *p (up to ',' or end) into out; -1 when absent. */
static inline int sasl_srv_attr(const char **p, const char *end, char name, char *out, size_t cap)
{
    const char *s = *p;
    if (end - s < 2 || s[0] != name || s[1] != '=') return -1;
    const char *v = s + 2, *e = v;
    while (e < end && *e != ',')
        e++;
    if ((size_t)(e - v) >= cap) return -1;
    memcpy(out, v, (size_t)(e - v));
    out[e - v] = '\0';
    *p = e < end ? e + 1 : e;
    return 0;
}

/*
 * The client-first message (decoded): checks its form, derives the salted password from
 * `password` and writes the server-first message to out (NUL-terminated). Returns its length,
 * or -1 when the message is malformed.
 */
static inline int scram_srv_first(struct scram_srv *s, const smtp_client_crypto *k,
                                  const char *password, uint32_t iterations, const char *msg,
                                  size_t len, char *out, size_t cap)
{
    const char *p = msg, *end = msg + len;
    char cnonce[200];
    memset(s, 0, sizeof *s);
    /* gs2-header: "n," [ "a=" authzid ] "," (no channel binding) */
    if (len < 3 || memcmp(p, "n,", 2) != 0) return -1;
    p += 2;
    if (*p == 'a') {
        if (sasl_srv_attr(&p, end, 'a', s->authzid, sizeof s->authzid) < 0) return -1;
    } else if (*p == ',') {
        p++;
    } else {
        return -1;
    }
    const char *bare = p;
    if (sasl_srv_attr(&p, end, 'n', s->user, sizeof s->user) < 0 ||
        sasl_srv_attr(&p, end, 'r', cnonce, sizeof cnonce) < 0 || p != end)
        return -1;
    int n = snprintf(s->nonce, sizeof s->nonce, "%s%s", cnonce, SASL_SRV_NONCE);
    if (n < 0 || (size_t)n >= sizeof s->nonce) return -1;
    s->nonce_len = (size_t)n;
    n = snprintf(out, cap, "r=%s,s=%s,i=%u", s->nonce, SASL_SRV_SALT, (unsigned)iterations);
    if (n < 0 || (size_t)n >= cap) return -1;
    int am = snprintf(s->auth_msg, sizeof s->auth_msg, "%.*s,%s,", (int)(end - bare), bare, out);
    if (am < 0 || (size_t)am >= sizeof s->auth_msg) return -1;
    s->am_len = (size_t)am;
    char salt[32];
    smtp_ssize sl = smtp_base64_decode(SASL_SRV_SALT, strlen(SASL_SRV_SALT), salt, sizeof salt);
    if (sl < 0 ||
        sasl_srv_hi(k, password, (const unsigned char *)salt, (size_t)sl, iterations, s->salted))
        return -1;
    return n;
}

/*
 * The client-final message (decoded): checks the channel binding, the nonce and the proof.
 * Writes the server-final message to out: "v=" and the ServerSignature, or "e=invalid-proof"
 * when the proof is wrong. `impostor` non-zero skips the check and signs anyway, as a server
 * that does not know the password would have to. Returns 1 (proof good), 0 (bad proof), -1
 * (malformed).
 */
static inline int scram_srv_final(struct scram_srv *s, const smtp_client_crypto *k, int impostor,
                                  const char *msg, size_t len, char *out, size_t cap)
{
    const char *p = msg, *end = msg + len;
    char cb[200], nonce[256], proof64[64], gs2[200];
    if (sasl_srv_attr(&p, end, 'c', cb, sizeof cb) < 0) return -1;
    if (sasl_srv_attr(&p, end, 'r', nonce, sizeof nonce) < 0) return -1;
    const char *without_proof_end = p - (p < end ? 1 : 0); /* before the ",p=" */
    if (sasl_srv_attr(&p, end, 'p', proof64, sizeof proof64) < 0 || p != end) return -1;
    /* c= is the base64 of the gs2-header the client sent first. */
    int g = snprintf(gs2, sizeof gs2, "n,%s%s,", s->authzid[0] ? "a=" : "", s->authzid);
    char want_cb[300];
    smtp_ssize wl = smtp_base64_encode(gs2, (size_t)g, want_cb, sizeof want_cb - 1);
    if (wl < 0) return -1;
    want_cb[wl] = '\0';
    if (strcmp(cb, want_cb) != 0 || strcmp(nonce, s->nonce) != 0) return -1;
    size_t wp = (size_t)(without_proof_end - msg);
    if (s->am_len + wp > sizeof s->auth_msg) return -1;
    memcpy(s->auth_msg + s->am_len, msg, wp);
    size_t am_len = s->am_len + wp;
    const unsigned char *am = (const unsigned char *)s->auth_msg;
    unsigned char ckey[32], stored[32], csig[32], skey[32], ssig[32], proof[40];
    if (k->hmac_sha256(s->salted, 32, (const unsigned char *)"Client Key", 10, ckey, k->ctx) < 0 ||
        k->sha256(ckey, 32, stored, k->ctx) < 0 ||
        k->hmac_sha256(stored, 32, am, am_len, csig, k->ctx) < 0 ||
        k->hmac_sha256(s->salted, 32, (const unsigned char *)"Server Key", 10, skey, k->ctx) < 0 ||
        k->hmac_sha256(skey, 32, am, am_len, ssig, k->ctx) < 0)
        return -1;
    int good = smtp_base64_decode(proof64, strlen(proof64), (char *)proof, sizeof proof) == 32;
    for (int i = 0; good && i < 32; i++)
        good = (proof[i] ^ csig[i]) == ckey[i];
    if (!good && !impostor) {
        snprintf(out, cap, "e=invalid-proof");
        return 0;
    }
    char sig64[64];
    smtp_ssize n = smtp_base64_encode((const char *)ssig, 32, sig64, sizeof sig64 - 1);
    if (n < 0) return -1;
    sig64[n] = '\0';
    snprintf(out, cap, "v=%s", sig64);
    return good;
}

/* CRAM-MD5's response ("user SP 32 hex"): 1 when it is right for user/password, else 0. */
static inline int cram_srv_check(const smtp_client_crypto *k, const char *user,
                                 const char *password, const char *resp, size_t len)
{
    unsigned char mac[16];
    char want[200];
    if (k->hmac_md5((const unsigned char *)password, strlen(password),
                    (const unsigned char *)SASL_SRV_CRAM_CHALLENGE, strlen(SASL_SRV_CRAM_CHALLENGE),
                    mac, k->ctx) < 0)
        return 0;
    int n = snprintf(want, sizeof want, "%s ", user);
    for (int i = 0; i < 16 && n + 2 < (int)sizeof want; i++)
        n += snprintf(want + n, sizeof want - (size_t)n, "%02x", mac[i]);
    return (size_t)n == len && memcmp(want, resp, len) == 0;
}

#endif /* SMTP_TEST_SASL_SERVER_H */
