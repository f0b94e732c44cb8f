/* SPDX-License-Identifier: MIT */
/*
 * The in-memory network of the TLS tests: a seeded generator of piece sizes, and a one-way
 * wire that pulls ciphertext from one session and feeds it to another in random pieces,
 * keeping a copy of every byte that crossed it (to look for plaintext on the wire).
 */
#ifndef SMTP_TEST_TLS_WIRE_H
#define SMTP_TEST_TLS_WIRE_H

#include <smtp/tls.h>

#include <stdlib.h>
#include <string.h>

static unsigned long long wire_seed = 1;

/* A number in [0, n) (n > 0), from a 64-bit LCG: reproducible runs. */
static inline size_t wire_rand(size_t n)
{
    wire_seed = wire_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((wire_seed >> 33) % n);
}

/* A piece size in [1, max]; small pieces are common so that every record gets split. */
static inline size_t wire_piece(size_t max)
{
    if (max <= 1) return 1;
    switch (wire_rand(4)) {
    case 0: return 1 + wire_rand(max < 8 ? max : 8);
    case 1: return max;
    default: return 1 + wire_rand(max);
    }
}

#define WIRE_CAP (1u << 18)
#define WIRE_LOG_CAP (1u << 21)

typedef struct wire {
    char buf[WIRE_CAP]; /* pulled, not yet fed */
    size_t len;
    char *log; /* every byte pulled, in order (WIRE_LOG_CAP) */
    size_t log_len;
    size_t max_piece;
} wire;

static inline wire *wire_new(size_t max_piece)
{
    wire *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->log = malloc(WIRE_LOG_CAP);
    if (!w->log) abort();
    w->max_piece = max_piece;
    return w;
}

static inline void wire_del(wire *w)
{
    if (!w) return;
    free(w->log);
    free(w);
}

/* Puts raw bytes on the wire (a plaintext phase, or garbage). */
static inline void wire_put(wire *w, const char *data, size_t len)
{
    if (len > WIRE_CAP - w->len || len > WIRE_LOG_CAP - w->log_len) abort();
    memcpy(w->buf + w->len, data, len);
    w->len += len;
    memcpy(w->log + w->log_len, data, len);
    w->log_len += len;
}

/* Drops the first n bytes in flight (they were delivered). */
static inline void wire_consume(wire *w, size_t n)
{
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
}

/* Pulls one random piece from `from` onto the wire; returns the bytes moved (< 0: error). */
static inline smtp_ssize wire_pull(wire *w, smtp_tls *from)
{
    char tmp[1 << 15];
    size_t want = wire_piece(w->max_piece < sizeof tmp ? w->max_piece : sizeof tmp);
    if (want > WIRE_CAP - w->len) want = WIRE_CAP - w->len;
    smtp_ssize n = smtp_tls_pull(from, tmp, want);
    if (n > 0) wire_put(w, tmp, (size_t)n);
    return n;
}

/* Feeds one random piece of what is in flight to `to`; returns the bytes taken or an error. */
static inline smtp_ssize wire_feed(wire *w, smtp_tls *to)
{
    if (w->len == 0) return 0;
    smtp_ssize n =
        smtp_tls_feed(to, w->buf, wire_piece(w->len < w->max_piece ? w->len : w->max_piece));
    if (n > 0) wire_consume(w, (size_t)n);
    return n;
}

/* Does log[from..) hold `needle`? */
static inline int wire_log_has(const wire *w, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= w->log_len; i++)
        if (memcmp(w->log + i, needle, n) == 0) return 1;
    return 0;
}

#endif
