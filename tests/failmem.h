/* SPDX-License-Identifier: MIT */
/*
 * A counting allocator for the unit tests: it fails the Nth allocation (to walk every failure
 * point of a constructor or a session), counts calls (to prove that steady state allocates
 * nothing) and counts live blocks (to prove that nothing leaks, even after a failure).
 *   struct failmem f = {0};  f.fail_at = n;  smtp_mem mem = failmem_mem(&f);
 */
#ifndef SMTP_TEST_FAILMEM_H
#define SMTP_TEST_FAILMEM_H

#include <smtp/common.h>

#include <stdlib.h>

struct failmem {
    int fail_at;      /* 1-based number of the allocation that fails; 0 = never */
    int calls;        /* allocation calls so far (malloc, calloc, realloc) */
    int live;         /* blocks allocated and not yet freed */
    size_t last_size; /* the size asked by the last allocation that succeeded */
};

static void *failmem_malloc(size_t n, void *ud)
{
    struct failmem *f = ud;
    if (++f->calls == f->fail_at) return NULL;
    f->live++;
    f->last_size = n;
    return malloc(n);
}

static void failmem_free(void *p, void *ud)
{
    struct failmem *f = ud;
    if (p) f->live--;
    free(p);
}

static void *failmem_calloc(size_t n, size_t s, void *ud)
{
    struct failmem *f = ud;
    if (++f->calls == f->fail_at) return NULL;
    f->live++;
    f->last_size = n * s;
    return calloc(n, s);
}

static void *failmem_realloc(void *p, size_t n, void *ud)
{
    struct failmem *f = ud;
    if (++f->calls == f->fail_at) return NULL;
    if (!p) f->live++;
    f->last_size = n;
    return realloc(p, n);
}

static inline smtp_mem failmem_mem(struct failmem *f)
{
    smtp_mem m = {f, failmem_malloc, failmem_free, failmem_calloc, failmem_realloc};
    return m;
}

#endif
