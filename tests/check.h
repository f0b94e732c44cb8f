/* SPDX-License-Identifier: MIT */
/*
 * A minimal assertion kit for the unit tests: each test file is one executable whose main()
 * calls its test functions and returns check_finish(). A failed check prints where and what,
 * and the run goes on so that one run shows every failure.
 */
#ifndef SMTP_TEST_CHECK_H
#define SMTP_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want);                       \
        check_count++;                                                                             \
        if (check_g_ != check_w_) {                                                                \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, check_g_,  \
                    check_w_);                                                                     \
        }                                                                                          \
    } while (0)

/* Compares `len` bytes at `ptr` with the NUL-terminated string `want`. */
#define CHECK_MEM(ptr, len, want)                                                                  \
    do {                                                                                           \
        size_t check_l_ = (size_t)(len);                                                           \
        const char *check_w_ = (want);                                                             \
        check_count++;                                                                             \
        if (check_l_ != strlen(check_w_) || memcmp((ptr), check_w_, check_l_) != 0) {              \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s is \"%.*s\", want \"%s\"\n", __FILE__, __LINE__, #ptr,     \
                    (int)check_l_, (const char *)(ptr), check_w_);                                 \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want) CHECK_MEM((got), strlen(got), (want))

static inline int check_finish(void)
{
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
