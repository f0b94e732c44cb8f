/* SPDX-License-Identifier: MIT */
/*
 * Pieces shared by the stateful fuzz targets (fuzz_server.c, fuzz_client.c, fuzz_envelope.c):
 * an event log compared between runs, a seeded piece-size generator, a counting allocator, an
 * input cursor for the header bytes and a checker of the line discipline of SMTP output.
 * Header-only (static functions): each target is one translation unit.
 */
#ifndef SMTP_FUZZ_COMMON_H
#define SMTP_FUZZ_COMMON_H

#include <smtp/common.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: say which, then abort so that libFuzzer saves the input. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- growable byte logs ---- */

struct flog {
    char *buf;
    size_t len, cap;
};

static inline void flog_raw(struct flog *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n)
            cap *= 2;
        char *nb = realloc(l->buf, cap);
        if (!nb) abort();
        l->buf = nb;
        l->cap = cap;
    }
    if (n) memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static inline void flog_str(struct flog *l, const char *s)
{
    flog_raw(l, s, strlen(s));
}

/* Appends printf-formatted text (a literal format, so the compiler checks the arguments). */
#define FLOG(l, ...)                                                                               \
    do {                                                                                           \
        char flog_tmp_[160];                                                                       \
        int flog_n_ = snprintf(flog_tmp_, sizeof flog_tmp_, __VA_ARGS__);                          \
        if (flog_n_ > (int)sizeof flog_tmp_ - 1) flog_n_ = (int)sizeof flog_tmp_ - 1;              \
        flog_raw((l), flog_tmp_, (size_t)flog_n_);                                                 \
    } while (0)

/* Appends ` key="bytes"` with the bytes escaped, so that a log stays one line per event. */
static inline void flog_span(struct flog *l, const char *key, const char *p, size_t n)
{
    FLOG(l, " %s=\"", key);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            flog_raw(l, &c, 1);
        else
            FLOG(l, "\\x%02x", c);
    }
    flog_raw(l, "\"", 1);
}

static inline void flog_free(struct flog *l)
{
    free(l->buf);
    memset(l, 0, sizeof *l);
}

static inline void flog_dump(const char *what, const struct flog *l)
{
    fprintf(stderr, "---- %s (%zu bytes)\n", what, l->len);
    for (size_t i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->buf[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f))
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

/* Two runs of one input must agree: else dump both logs and abort. */
static inline void flog_same(const char *what, const struct flog *a, const struct flog *b)
{
    if (a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0)) return;
    size_t i = 0;
    while (i < a->len && i < b->len && a->buf[i] == b->buf[i])
        i++;
    fprintf(stderr, "%s differ between the whole and the split run at byte %zu\n", what, i);
    flog_dump("whole", a);
    flog_dump("split", b);
    abort();
}

/*
 * The outputs of two runs of one input (whole and split) must agree: the same bytes, or, when
 * a run failed (`failed`), one a prefix of the other (a fatal error drops the replies still
 * queued, and how many were pulled before it depends on the split).
 */
static inline void flog_same_output(const struct flog *x, const struct flog *y, int failed)
{
    if (!failed) {
        flog_same("outputs", x, y);
        return;
    }
    const struct flog *a = x->len < y->len ? x : y;
    const struct flog *b = a == x ? y : x;
    struct flog pre = {b->buf, a->len, a->len};
    flog_same("outputs (prefix)", a, &pre);
}

/* ---- piece sizes: a seeded xorshift, so both runs of one input are reproducible ---- */

struct fsplit {
    uint64_t s;
};

static inline void fsplit_init(struct fsplit *sp, unsigned seed)
{
    sp->s = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull);
    if (!sp->s) sp->s = 1;
}

static inline uint64_t fsplit_next(struct fsplit *sp)
{
    sp->s ^= sp->s << 13;
    sp->s ^= sp->s >> 7;
    sp->s ^= sp->s << 17;
    return sp->s;
}

/* The next piece: mostly 1-8 octets, sometimes up to 300 (at least 1). */
static inline size_t fsplit_piece(struct fsplit *sp)
{
    uint64_t r = fsplit_next(sp);
    switch (r & 3) {
    case 0: return 1;
    case 1: return 1 + (size_t)((r >> 8) % 8);
    case 2: return 1 + (size_t)((r >> 8) % 40);
    default: return 1 + (size_t)((r >> 8) % 300);
    }
}

/*
 * Pulls every pending output octet of an engine into `out` through `write` (smtp_server_write
 * or smtp_client_write behind a cast-free wrapper), in pieces of the split's sizes when `sp`
 * is not NULL (else 4096 at a time), each into an exact-size heap buffer. Returns 0, or the
 * negative error `write` returned.
 */
static inline int fdrain(struct flog *out, struct fsplit *sp,
                         smtp_ssize (*write)(void *engine, char *dest, size_t cap), void *engine)
{
    for (;;) {
        size_t cap = sp ? fsplit_piece(sp) : 4096;
        char *buf = malloc(cap);
        if (!buf) abort();
        smtp_ssize n = write(engine, buf, cap);
        if (n >= 0) {
            FUZZ_ASSERT((size_t)n <= cap);
            flog_raw(out, buf, (size_t)n);
        }
        free(buf);
        if (n <= 0) return n < 0 ? (int)n : 0;
    }
}

/* ---- a counting allocator: live blocks (leaks), and a budget of allocations once an engine
 * exists (DESIGN.md invariant 7), caught where it is exceeded so that the stack shows the
 * culprit ---- */

struct fmem {
    size_t calls, live;
    int limited;  /* set by fmem_budget */
    size_t limit; /* then: calls allowed in all */
    smtp_mem mem;
};

static inline void fm_count(struct fmem *m)
{
    m->calls++;
    FUZZ_ASSERT(!m->limited || m->calls <= m->limit); /* the engine allocated beyond its budget */
}

/* From now on at most `more` allocations (0: none at all). */
static inline void fmem_budget(struct fmem *m, size_t more)
{
    m->limited = 1;
    m->limit = m->calls + more;
}

static inline void *fm_malloc(size_t n, void *ud)
{
    struct fmem *m = ud;
    fm_count(m);
    void *p = malloc(n);
    if (p) m->live++;
    return p;
}

static inline void fm_free(void *p, void *ud)
{
    struct fmem *m = ud;
    if (p) m->live--;
    free(p);
}

static inline void *fm_calloc(size_t n, size_t s, void *ud)
{
    struct fmem *m = ud;
    fm_count(m);
    void *p = calloc(n, s);
    if (p) m->live++;
    return p;
}

static inline void *fm_realloc(void *p, size_t n, void *ud)
{
    struct fmem *m = ud;
    fm_count(m);
    void *q = realloc(p, n);
    if (q && !p) m->live++;
    return q;
}

static inline void fmem_init(struct fmem *m)
{
    memset(m, 0, sizeof *m);
    m->mem = (smtp_mem){m, fm_malloc, fm_free, fm_calloc, fm_realloc};
}

/* A fresh heap copy of exactly `n` bytes (at least one allocated), so an over-read is an ASan
 * error. */
static inline char *fcopy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c) abort();
    if (n) memcpy(c, p, n);
    return c;
}

/* ---- markers in the peer's stream ---- */

/* Does `mark` begin at p[0..n)? 1 yes, -1 a proper prefix of it (n too short to tell), 0 no. */
static inline int fmark_at(const char *p, size_t n, const char *mark)
{
    size_t ml = strlen(mark);
    size_t k = n < ml ? n : ml;
    if (memcmp(p, mark, k) != 0) return 0;
    return k == ml ? 1 : -1;
}

/* How much of p[0..n) an adapter may feed: nothing at or after `mark` (or what may still
 * become one, when more input is to come: `more`). */
static inline size_t fmark_feed_len(const char *p, size_t n, int more, const char *mark)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != mark[0]) continue;
        int m = fmark_at(p + i, n - i, mark);
        if (m > 0 || (m < 0 && more)) return i;
    }
    return n;
}

/* ---- line discipline: no bare CR or LF, no NUL ---- */

/* 1 when every CR in p[0..n) is followed by LF and every LF preceded by CR, and no NUL; a CR
 * as the very last byte is allowed only when `partial` (more may follow). */
static inline int fcrlf_clean(const char *p, size_t n, int partial)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\0') return 0;
        if (p[i] == '\r' && (i + 1 < n ? p[i + 1] != '\n' : !partial)) return 0;
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) return 0;
    }
    return 1;
}

#endif
