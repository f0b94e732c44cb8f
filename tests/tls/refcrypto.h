/* SPDX-License-Identifier: MIT */
/*
 * A test crypto hook for the client (smtp_client_crypto, <smtp/client.h>) that needs no
 * mbedTLS: plain reference code of MD5 (RFC 1321), SHA-256 (FIPS 180-4) and HMAC (RFC 2104),
 * and a "random" source that repeats fixed bytes, so that a SCRAM exchange can replay RFC
 * 7677's example with its client nonce. The core tests (vectors, test_client, test_loopback)
 * use it; tests/tls/test_tls_crypto.c checks it against the mbedTLS hook. Header-only: every
 * function is static inline.
 */
#ifndef SMTP_TEST_REFCRYPTO_H
#define SMTP_TEST_REFCRYPTO_H

#include <smtp/client.h>

#include <stdint.h>
#include <string.h>

/* ---- MD5 (RFC 1321) ---- */

static inline uint32_t ref_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static inline void ref_md5_block(uint32_t h[4], const unsigned char *p)
{
    static const uint32_t k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const unsigned r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                   5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                   4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                   6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned g;
        if (i < 16)
            f = (b & c) | (~b & d), g = i;
        else if (i < 32)
            f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
        else if (i < 48)
            f = b ^ c ^ d, g = (3 * i + 5) % 16;
        else
            f = c ^ (b | ~d), g = (7 * i) % 16;
        uint32_t t = d;
        d = c;
        c = b;
        b = b + ref_rol(a + f + k[i] + m[g], r[i]);
        a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
}

/* SHA-256's compression function. */
static inline uint32_t ref_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline void ref_sha256_block(uint32_t h[8], const unsigned char *p)
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ref_ror(w[i - 15], 7) ^ ref_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ref_ror(w[i - 2], 17) ^ ref_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ref_ror(e, 6) ^ ref_ror(e, 11) ^ ref_ror(e, 25)) +
                      ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t t2 =
            (ref_ror(a, 2) ^ ref_ror(a, 13) ^ ref_ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* A streaming MD5 or SHA-256: both have 64-octet blocks and pad the same way (a 1 bit, zeros,
 * the bit length in 8 octets: little-endian for MD5, big-endian for SHA-256). */
struct ref_hash {
    int md5;
    uint32_t h[8];
    unsigned char block[64];
    size_t fill;
    uint64_t total;
};

static inline void ref_hash_init(struct ref_hash *x, int md5)
{
    static const uint32_t sha_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    static const uint32_t md5_iv[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    memset(x, 0, sizeof *x);
    x->md5 = md5;
    memcpy(x->h, md5 ? md5_iv : sha_iv, md5 ? sizeof md5_iv : sizeof sha_iv);
}

static inline void ref_hash_block(struct ref_hash *x)
{
    if (x->md5)
        ref_md5_block(x->h, x->block);
    else
        ref_sha256_block(x->h, x->block);
    x->fill = 0;
}

static inline void ref_hash_update(struct ref_hash *x, const unsigned char *p, size_t n)
{
    x->total += n;
    while (n > 0) {
        size_t k = 64 - x->fill < n ? 64 - x->fill : n;
        memcpy(x->block + x->fill, p, k);
        x->fill += k, p += k, n -= k;
        if (x->fill == 64) ref_hash_block(x);
    }
}

/* Writes the digest (16 or 32 octets); `x` is spent. */
static inline void ref_hash_final(struct ref_hash *x, unsigned char *out)
{
    uint64_t bits = x->total * 8;
    x->block[x->fill++] = 0x80;
    if (x->fill > 56) {
        memset(x->block + x->fill, 0, 64 - x->fill);
        ref_hash_block(x);
    }
    memset(x->block + x->fill, 0, 56 - x->fill);
    for (int i = 0; i < 8; i++)
        x->block[56 + i] = (unsigned char)(bits >> (x->md5 ? 8 * i : 56 - 8 * i));
    ref_hash_block(x);
    for (int i = 0; i < (x->md5 ? 4 : 8); i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(x->h[i] >> (x->md5 ? 8 * j : 24 - 8 * j));
}

/*
 * HMAC (RFC 2104) with MD5 or SHA-256. The states after the padded key blocks are kept for the
 * last key, so that SCRAM's Hi(), one HMAC per iteration under the same key, costs two
 * compressions per iteration instead of four (the vectors replay it at every split point).
 */
struct ref_hmac_cache {
    int valid, md5;
    size_t keylen;
    unsigned char key[64];
    struct ref_hash inner, outer;
};

static inline void ref_hmac(struct ref_hmac_cache *cache, int md5, const unsigned char *key,
                            size_t keylen, const unsigned char *msg, size_t len, unsigned char *out)
{
    if (!cache->valid || cache->md5 != md5 || cache->keylen != keylen || keylen > 64 ||
        memcmp(cache->key, key, keylen) != 0) {
        unsigned char k[64] = {0}, pad[64];
        if (keylen > 64) {
            struct ref_hash x;
            ref_hash_init(&x, md5);
            ref_hash_update(&x, key, keylen);
            ref_hash_final(&x, k);
        } else {
            memcpy(k, key, keylen);
        }
        for (int i = 0; i < 64; i++)
            pad[i] = k[i] ^ 0x36;
        ref_hash_init(&cache->inner, md5);
        ref_hash_update(&cache->inner, pad, 64);
        for (int i = 0; i < 64; i++)
            pad[i] = k[i] ^ 0x5c;
        ref_hash_init(&cache->outer, md5);
        ref_hash_update(&cache->outer, pad, 64);
        cache->valid = keylen <= 64;
        cache->md5 = md5;
        cache->keylen = keylen;
        if (keylen <= 64) memcpy(cache->key, key, keylen);
    }
    unsigned char inner[32];
    struct ref_hash x = cache->inner;
    ref_hash_update(&x, msg, len);
    ref_hash_final(&x, inner);
    x = cache->outer;
    ref_hash_update(&x, inner, md5 ? 16 : 32);
    ref_hash_final(&x, out);
}

/* ---- the hook ---- */

/* What the test hook's random source gives: `len` octets, repeated; a call count; the HMAC
 * key cache. */
struct ref_crypto_state {
    unsigned char bytes[64];
    size_t len;
    int calls;
    struct ref_hmac_cache hmac;
};

static inline int ref_hmac_md5(const unsigned char *key, size_t keylen, const unsigned char *msg,
                               size_t len, unsigned char *out, void *ctx)
{
    ref_hmac(&((struct ref_crypto_state *)ctx)->hmac, 1, key, keylen, msg, len, out);
    return 0;
}

static inline int ref_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg,
                                  size_t len, unsigned char *out, void *ctx)
{
    ref_hmac(&((struct ref_crypto_state *)ctx)->hmac, 0, key, keylen, msg, len, out);
    return 0;
}

static inline int ref_sha256(const unsigned char *msg, size_t len, unsigned char *out, void *ctx)
{
    (void)ctx;
    struct ref_hash x;
    ref_hash_init(&x, 0);
    ref_hash_update(&x, msg, len);
    ref_hash_final(&x, out);
    return 0;
}

static inline int ref_random(unsigned char *buf, size_t len, void *ctx)
{
    struct ref_crypto_state *st = ctx;
    st->calls++;
    for (size_t i = 0; i < len; i++)
        buf[i] = st->len ? st->bytes[i % st->len] : (unsigned char)i;
    return 0;
}

/* The 15 octets whose base64 form is RFC 7677's client nonce "rOprNGfwEbeRWgbNEkqO". */
static const unsigned char ref_rfc7677_nonce[15] = {0xac, 0xea, 0x6b, 0x34, 0x67, 0xf0, 0x11, 0xb7,
                                                    0x91, 0x5a, 0x06, 0xcd, 0x12, 0x4a, 0x8e};

/* Fills `hook` with the reference functions; the random source gives `nonce` (NULL: RFC
 * 7677's) over and over. `st` must outlive the hook. */
static inline void ref_crypto_init(smtp_client_crypto *hook, struct ref_crypto_state *st,
                                   const unsigned char *nonce, size_t len)
{
    if (!nonce) nonce = ref_rfc7677_nonce, len = sizeof ref_rfc7677_nonce;
    memset(st, 0, sizeof *st);
    st->len = len < sizeof st->bytes ? len : sizeof st->bytes;
    memcpy(st->bytes, nonce, st->len);
    memset(hook, 0, sizeof *hook);
    hook->hmac_md5 = ref_hmac_md5;
    hook->hmac_sha256 = ref_hmac_sha256;
    hook->sha256 = ref_sha256;
    hook->random = ref_random;
    hook->ctx = st;
}

#endif /* SMTP_TEST_REFCRYPTO_H */
