/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the MTA-STS API (smtp/mtasts.h): argument checks, the 64 KiB limit (too large
 * for a vector replayed at every split point), spans that borrow the input, and the iterator's
 * cursor. Inputs sit in exact-size heap buffers so that ASan and valgrind catch any read past
 * `len`. The grammar itself is covered by tests/vectors/mtasts.
 */
#include "check.h"

#include <smtp/mtasts.h>

#include <stdlib.h>
#include <string.h>

static const char POLICY[] = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
                             "mx: *.example.net\r\nmax_age: 604800\r\n";

static void test_arguments(void)
{
    smtp_mtasts_policy p;
    size_t cursor = 0;
    smtp_span mx;
    CHECK_INT(smtp_mtasts_parse(NULL, 3, &p), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_parse(POLICY, strlen(POLICY), NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_parse(NULL, 0, &p), SMTP_ERR_SYNTAX);
    CHECK_INT(p.error_at, 0);

    CHECK_INT(smtp_mtasts_parse(POLICY, strlen(POLICY), &p), 0);
    CHECK_INT(smtp_mtasts_mx_next(NULL, &cursor, &mx), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_mx_next(&p, NULL, &mx), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, NULL), SMTP_ERR_INVALID_ARGUMENT);
    cursor = p.text.len + 1;
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), SMTP_ERR_INVALID_ARGUMENT);
    cursor = p.text.len;
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), 0);

    CHECK_INT(smtp_mtasts_mx_match(NULL, 1, "a.b", 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_mx_match("a.b", 3, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_mx_match(NULL, 0, "a.b", 3), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_mtasts_mx_match("a.b", 3, NULL, 0), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_mtasts_mx_match("a.b", 3, "A.B", 3), 1);

    CHECK_INT(smtp_mtasts_policy_match(NULL, "a.b", 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_policy_match(&p, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mtasts_policy_match(&p, NULL, 0), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_mtasts_policy_match(&p, "mail.example.com", 16), 1);

    /* A zeroed policy (or one whose parse failed) has no pattern: nothing matches. */
    smtp_mtasts_policy zero;
    memset(&zero, 0, sizeof zero);
    CHECK_INT(smtp_mtasts_policy_match(&zero, "mail.example.com", 16), 0);
    cursor = 0;
    CHECK_INT(smtp_mtasts_mx_next(&zero, &cursor, &mx), 0);
    CHECK_INT(smtp_mtasts_parse("mode: x", 7, &p), SMTP_ERR_SYNTAX);
    CHECK_INT(p.text.len, 0);
    CHECK_INT(smtp_mtasts_policy_match(&p, "mail.example.com", 16), 0);
}

static void test_spans_borrow_input(void)
{
    size_t n = strlen(POLICY);
    char *copy = malloc(n);
    memcpy(copy, POLICY, n);
    smtp_mtasts_policy p;
    CHECK_INT(smtp_mtasts_parse(copy, n, &p), 0);
    CHECK_INT(p.mode, SMTP_MTASTS_ENFORCE);
    CHECK_INT(p.max_age, 604800);
    CHECK_INT(p.mx_count, 2);
    CHECK(p.text.ptr == copy && p.text.len == n);
    size_t cursor = 0;
    smtp_span mx;
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), 1);
    CHECK(mx.ptr == copy + 35 && mx.len == 16);
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), 1);
    CHECK(mx.len == 13 && memcmp(mx.ptr, "*.example.net", 13) == 0);
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), 0);
    CHECK_INT(smtp_mtasts_mx_next(&p, &cursor, &mx), 0);
    CHECK_INT(smtp_mtasts_policy_match(&p, "mx.example.net.", 15), 1);
    CHECK_INT(smtp_mtasts_policy_match(&p, "example.net", 11), 0);
    free(copy);
}

/* A policy padded with an extension line to exactly `size` octets. */
static char *padded_policy(size_t size)
{
    static const char head[] = "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n"
                               "pad: ";
    size_t h = sizeof head - 1;
    char *s = malloc(size);
    memcpy(s, head, h);
    memset(s + h, 'x', size - h - 1);
    s[size - 1] = '\n';
    return s;
}

static void test_size_limit(void)
{
    smtp_mtasts_policy p;
    char *s = padded_policy(SMTP_MTASTS_MAX_POLICY);
    CHECK_INT(smtp_mtasts_parse(s, SMTP_MTASTS_MAX_POLICY, &p), 0);
    CHECK_INT(p.mode, SMTP_MTASTS_TESTING);
    CHECK_INT(p.mx_count, 1);
    free(s);
    s = padded_policy(SMTP_MTASTS_MAX_POLICY + 1);
    CHECK_INT(smtp_mtasts_parse(s, SMTP_MTASTS_MAX_POLICY + 1, &p), SMTP_ERR_TOO_LONG);
    CHECK_INT(p.error_at, SMTP_MTASTS_MAX_POLICY);
    free(s);
}

/* Names at the limits of RFC 5321 4.5.3.1.2: a 255-octet host matches a wildcard. */
static void test_long_names(void)
{
    char host[256 + 1];
    /* 4 labels of 63 octets and 3 dots: 255 octets */
    size_t n = 0;
    for (int l = 0; l < 4; l++) {
        if (l) host[n++] = '.';
        memset(host + n, 'a' + l, 63);
        n += 63;
    }
    CHECK_INT(n, 255);
    char pattern[256];
    pattern[0] = '*';
    memcpy(pattern + 1, host + 63, n - 63);
    size_t pn = 1 + n - 63;
    CHECK_INT(smtp_mtasts_mx_match(pattern, pn, host, n), 1);
    host[n] = '.'; /* a trailing dot does not count */
    CHECK_INT(smtp_mtasts_mx_match(pattern, pn, host, n + 1), 1);
    host[n] = 'b'; /* 256 octets */
    CHECK_INT(smtp_mtasts_mx_match(pattern, pn, host, n + 1), SMTP_ERR_TOO_LONG);
}

int main(void)
{
    test_arguments();
    test_spans_borrow_input();
    test_size_limit();
    test_long_names();
    return check_finish();
}
