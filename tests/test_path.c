/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of smtp_path_parse and smtp_domain_parse: argument checks, spans that borrow
 * the input, binary addresses, and inputs held in exact-size heap buffers so that ASan and
 * valgrind catch any read past `len`. The grammar itself is covered by tests/vectors/path.
 */
#include "check.h"

#include <smtp/path.h>

#include <stdlib.h>
#include <string.h>

/* Parses a heap copy of `s` without a terminating NUL. */
static int parse_exact(const char *s, unsigned flags, smtp_path *p)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    int rc = smtp_path_parse(copy, n, flags, p);
    free(copy);
    return rc;
}

static void test_arguments(void)
{
    smtp_path p;
    smtp_domain d;
    CHECK_INT(smtp_path_parse(NULL, 3, 0, &p), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_path_parse("<a@b>", 5, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_path_parse("<a@b>", 5, 0x100u, &p), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_path_parse(NULL, 0, 0, &p), SMTP_ERR_SYNTAX);
    CHECK_INT(smtp_domain_parse(NULL, 1, 0, &d, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_domain_parse("a", 1, 0, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_domain_parse("a", 1, 0x80u, &d, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_domain_parse("a", 1, 0, &d, NULL), 0);
}

static void test_spans_borrow_input(void)
{
    const char *s = "<@r1,@r2:\"q x\"@host.example>";
    smtp_path p;
    CHECK_INT(smtp_path_parse(s, strlen(s), 0, &p), 0);
    CHECK(p.route.ptr == s + 1);
    CHECK_MEM(p.route.ptr, p.route.len, "@r1,@r2");
    CHECK(p.local.ptr == s + 9);
    CHECK_MEM(p.local.ptr, p.local.len, "\"q x\"");
    CHECK(p.mailbox.ptr == s + 9);
    CHECK_MEM(p.domain.text.ptr, p.domain.text.len, "host.example");
    CHECK_INT(p.flags, SMTP_PATH_F_SOURCE_ROUTE | SMTP_PATH_F_QUOTED);
    CHECK_INT(p.error_at, 0);
}

static void test_addresses(void)
{
    smtp_path p;
    CHECK_INT(parse_exact("<u@[IPv6:2001:db8::ffff:10.1.2.3]>", 0, &p), 0);
    static const unsigned char want6[16] = {0x20, 0x01, 0x0d, 0xb8, 0,  0, 0, 0,
                                            0,    0,    0xff, 0xff, 10, 1, 2, 3};
    CHECK_INT(p.domain.kind, SMTP_DOMAIN_IPV6);
    CHECK(memcmp(p.domain.addr, want6, 16) == 0);

    smtp_domain d;
    size_t at = 99;
    CHECK_INT(smtp_domain_parse("[10.20.30.40]", 13, 0, &d, &at), 0);
    CHECK_INT(at, 0);
    CHECK_INT(d.kind, SMTP_DOMAIN_IPV4);
    CHECK(d.addr[0] == 10 && d.addr[1] == 20 && d.addr[2] == 30 && d.addr[3] == 40);
}

/* Every prefix of a valid path is either valid or an error, and never reads past its end. */
static void test_prefixes(void)
{
    const char *paths[] = {
        "<\"a\\\"b\"@[IPv6:1:2:3:4:5:6:1.2.3.4]>",
        "<@a,@b:user@[tag:content]>",
        "<\xc3\xa9@\xe4\xbe\x8b.example>",
        "<Postmaster>",
    };
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        size_t n = strlen(paths[k]);
        for (size_t i = 0; i <= n; i++) {
            char *copy = malloc(i ? i : 1);
            memcpy(copy, paths[k], i);
            smtp_path p;
            int rc = smtp_path_parse(copy, i, SMTP_PATH_UTF8 | SMTP_PATH_ALLOW_POSTMASTER, &p);
            CHECK(rc == 0 ? i == n : rc < 0);
            if (rc < 0) CHECK(p.error_at <= i);
            free(copy);
        }
    }
}

static void test_error_positions(void)
{
    smtp_path p;
    CHECK_INT(parse_exact("<a b@c>", 0, &p), SMTP_ERR_SYNTAX);
    CHECK_INT(p.error_at, 2);
    CHECK_INT(parse_exact("<\xc3\xa9@c>", 0, &p), SMTP_ERR_UTF8);
    CHECK_INT(p.error_at, 1);
    smtp_domain d;
    size_t at = 0;
    CHECK_INT(smtp_domain_parse("ok.-bad", 7, 0, &d, &at), SMTP_ERR_SYNTAX);
    CHECK_INT(at, 3);
}

int main(void)
{
    test_arguments();
    test_spans_borrow_input();
    test_addresses();
    test_prefixes();
    test_error_positions();
    return check_finish();
}
