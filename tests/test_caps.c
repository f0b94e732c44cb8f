/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the EHLO capability parser (include/smtp/caps.h): API contracts, ownership
 * (the caps outlive and never point into the reply), counters that saturate, the bounded AUTH
 * list at its exact limit, and random hostile lines that must keep every invariant.
 */
#include "check.h"

#include <smtp/caps.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void add(smtp_caps *c, const char *line)
{
    CHECK_INT(smtp_caps_add_line(c, line, strlen(line)), 0);
}

static void test_api(void)
{
    smtp_caps c;
    smtp_caps_init(&c);
    smtp_caps_init(NULL); /* harmless */
    CHECK_INT(smtp_caps_add_line(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_caps_add_line(&c, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_caps_add_line(&c, NULL, 0), 0); /* an empty greeting line */
    CHECK_INT(smtp_caps_domain(&c).len, 0);

    /* every getter accepts NULL and out-of-range values */
    CHECK_INT(smtp_caps_has(NULL, SMTP_CAP_SIZE), 0);
    CHECK_INT(smtp_caps_has(&c, SMTP_CAP_COUNT), 0);
    CHECK_INT(smtp_caps_has(&c, (smtp_cap)-1), 0);
    CHECK(smtp_cap_name(SMTP_CAP_COUNT) == NULL);
    CHECK(smtp_cap_name((smtp_cap)-1) == NULL);
    CHECK_INT(smtp_caps_size(NULL), 0);
    CHECK_INT(smtp_caps_auth_mechs(NULL), 0);
    CHECK_INT(smtp_caps_has_auth(NULL, "PLAIN", 5), 0);
    CHECK_INT(smtp_caps_has_auth(&c, NULL, 5), 0);
    CHECK_INT(smtp_caps_has_auth(&c, "", 0), 0);
    CHECK_INT(smtp_caps_auth_list(NULL).len, 0);
    CHECK(smtp_caps_auth_list(NULL).ptr != NULL);
    CHECK_INT(smtp_caps_auth_truncated(NULL), 0);
    CHECK_INT(smtp_caps_domain(NULL).len, 0);
    CHECK_INT(smtp_caps_deliverby_min(NULL), 0);
    CHECK_INT(smtp_caps_mt_priority_profile(NULL).len, 0);
    CHECK_INT(smtp_caps_future_release(NULL, NULL, NULL), 0);
    CHECK_INT(smtp_caps_limit(NULL, SMTP_LIMIT_RCPTMAX), 0);
    CHECK_INT(smtp_caps_limit(&c, (smtp_caps_limit_name)3), 0);
    CHECK_INT(smtp_caps_xclient(NULL), 0);
    CHECK_INT(smtp_caps_xforward(NULL), 0);
    CHECK_INT(smtp_caps_unknown(NULL), 0);
    CHECK_INT(smtp_caps_malformed(NULL), 0);
}

/* The names are the keywords, and each name parses back to its capability. */
static void test_names_roundtrip(void)
{
    for (unsigned i = 0; i < SMTP_CAP_COUNT; i++) {
        const char *name = smtp_cap_name((smtp_cap)i);
        CHECK(name != NULL);
        if (!name) continue;
        smtp_caps c;
        smtp_caps_init(&c);
        add(&c, "example.org");
        add(&c, name);
        CHECK_INT(smtp_caps_has(&c, (smtp_cap)i), 1);
        for (unsigned j = 0; j < SMTP_CAP_COUNT; j++) {
            if (j != i) CHECK_INT(smtp_caps_has(&c, (smtp_cap)j), 0);
        }
        CHECK_INT(smtp_caps_unknown(&c), 0);
    }
}

/* The caps own their data: the reply buffer may be reused, the caps copied. */
static void test_ownership(void)
{
    char line[128];
    smtp_caps c;
    smtp_caps_init(&c);
    strcpy(line, "mx.example.org ESMTP");
    add(&c, line);
    strcpy(line, "AUTH PLAIN X-CUSTOM\r\n"); /* a trailing CRLF is ignored */
    add(&c, line);
    strcpy(line, "MT-PRIORITY NSEP\n");
    add(&c, line);
    memset(line, 'Z', sizeof line);
    smtp_caps copy;
    memcpy(&copy, &c, sizeof c);
    memset(&c, 0xAA, sizeof c);
    CHECK_MEM(smtp_caps_domain(&copy).ptr, smtp_caps_domain(&copy).len, "mx.example.org");
    CHECK_MEM(smtp_caps_auth_list(&copy).ptr, smtp_caps_auth_list(&copy).len, "PLAIN X-CUSTOM");
    CHECK_INT(smtp_caps_has_auth(&copy, "x-custom", 8), 1);
    CHECK_MEM(smtp_caps_mt_priority_profile(&copy).ptr, smtp_caps_mt_priority_profile(&copy).len,
              "NSEP");
    CHECK_INT(smtp_caps_malformed(&copy), 0);
}

/* init starts over: a second EHLO (after STARTTLS) replaces everything. */
static void test_reinit(void)
{
    smtp_caps c;
    smtp_caps_init(&c);
    add(&c, "a.example");
    add(&c, "STARTTLS");
    add(&c, "SIZE 10");
    smtp_caps_init(&c);
    add(&c, "b.example");
    add(&c, "AUTH PLAIN");
    CHECK_INT(smtp_caps_has(&c, SMTP_CAP_STARTTLS), 0);
    CHECK_INT(smtp_caps_size(&c), 0);
    CHECK_INT(smtp_caps_auth_mechs(&c), SMTP_AUTH_PLAIN);
    CHECK_MEM(smtp_caps_domain(&c).ptr, smtp_caps_domain(&c).len, "b.example");
}

static void test_future_release(void)
{
    smtp_caps c;
    smtp_caps_init(&c);
    add(&c, "example.org");
    add(&c, "FUTURERELEASE 86400 2031-06-30T23:59:59+02:00");
    uint64_t iv = 1;
    int64_t dt = 1;
    CHECK_INT(smtp_caps_future_release(&c, NULL, NULL), 1);
    CHECK_INT(smtp_caps_future_release(&c, &iv, &dt), 1);
    CHECK_INT(iv, 86400);
    CHECK_INT(dt, 1940623199); /* 2031-06-30T21:59:59Z */
    smtp_caps_init(&c);
    add(&c, "example.org");
    add(&c, "FUTURERELEASE");
    iv = 7;
    CHECK_INT(smtp_caps_future_release(&c, &iv, &dt), 0);
    CHECK_INT(iv, 7);
    CHECK_INT(smtp_caps_has(&c, SMTP_CAP_FUTURERELEASE), 1);
}

/* The AUTH list holds exactly SMTP_CAPS_AUTH_LIST_MAX bytes of whole names. */
static void test_auth_list_limit(void)
{
    smtp_caps c;
    smtp_caps_init(&c);
    add(&c, "example.org");
    /* 12 names of 20 = 240 + 11 spaces = 251; then " ABC" makes 255 exactly */
    char line[512] = "AUTH";
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof name, " N%02d-AAAAAAAAAAAAAAAA", i);
        strcat(line, name);
    }
    strcat(line, " ABC D");
    add(&c, line);
    CHECK_INT(smtp_caps_auth_list(&c).len, SMTP_CAPS_AUTH_LIST_MAX);
    CHECK_INT(smtp_caps_has_auth(&c, "ABC", 3), 1);
    CHECK_INT(smtp_caps_has_auth(&c, "D", 1), 0);
    CHECK_INT(smtp_caps_auth_truncated(&c), 1);
    /* a repeated name does not count as truncation */
    smtp_caps_init(&c);
    add(&c, "example.org");
    add(&c, "AUTH PLAIN PLAIN plain");
    CHECK_INT(smtp_caps_auth_truncated(&c), 0);
    CHECK_MEM(smtp_caps_auth_list(&c).ptr, smtp_caps_auth_list(&c).len, "PLAIN");
}

/* Counters saturate instead of wrapping. */
static void test_counters_saturate(void)
{
    smtp_caps c;
    smtp_caps_init(&c);
    add(&c, "example.org");
    for (long i = 0; i < 70000; i++) {
        add(&c, "X-UNKNOWN");
        add(&c, "SIZE z");
    }
    CHECK_INT(smtp_caps_unknown(&c), UINT16_MAX);
    CHECK_INT(smtp_caps_malformed(&c), UINT16_MAX);
    add(&c, "PIPELINING");
    CHECK_INT(smtp_caps_has(&c, SMTP_CAP_PIPELINING), 1);
}

static uint64_t rng = 0x243f6a8885a308d3u;

static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (unsigned)((rng >> 33) % n);
}

static int valid_sasl_list(smtp_span s)
{
    size_t word = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == ' ') {
            if (word == 0) return 0;
            word = 0;
            continue;
        }
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_';
        if (!ok || ++word > 20) return 0;
    }
    return s.len == 0 || word > 0;
}

/* Random lines built from keyword fragments and hostile bytes: invariants always hold. */
static void test_random_lines(void)
{
    static const char *const frags[] = {
        "AUTH",
        "AUTH=",
        "SIZE",
        "LIMITS",
        "RCPTMAX=",
        "MAILMAX=",
        "=",
        " ",
        "\t",
        "PLAIN",
        "1",
        "99999999999999999999999",
        "-",
        "\x01",
        "\xff",
        "XCLIENT",
        "NAME",
        "FUTURERELEASE",
        "2030-01-01T00:00:00Z",
        "MT-PRIORITY",
        "DELIVERBY",
        "x",
        "LOGIN",
        "0",
        "\0",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    };
    for (int iter = 0; iter < 20000; iter++) {
        smtp_caps c;
        smtp_caps_init(&c);
        int lines = 1 + (int)rnd(8);
        for (int l = 0; l < lines; l++) {
            char line[256];
            size_t len = 0;
            int parts = (int)rnd(8);
            for (int k = 0; k < parts; k++) {
                const char *f = frags[rnd(sizeof frags / sizeof frags[0])];
                size_t fl = f[0] ? strlen(f) : 1;
                if (len + fl > sizeof line) break;
                memcpy(line + len, f, fl);
                len += fl;
            }
            CHECK_INT(smtp_caps_add_line(&c, line, len), 0);
        }
        smtp_span list = smtp_caps_auth_list(&c);
        CHECK(list.len <= SMTP_CAPS_AUTH_LIST_MAX);
        CHECK(valid_sasl_list(list));
        smtp_span dom = smtp_caps_domain(&c);
        CHECK(dom.len <= SMTP_CAPS_DOMAIN_MAX);
        for (size_t i = 0; i < dom.len; i++)
            CHECK((unsigned char)dom.ptr[i] >= 0x20 && (unsigned char)dom.ptr[i] != 0x7f);
        CHECK(smtp_caps_mt_priority_profile(&c).len <= SMTP_CAPS_PROFILE_MAX);
        if (!smtp_caps_has(&c, SMTP_CAP_SIZE)) CHECK_INT(smtp_caps_size(&c), 0);
        if (!smtp_caps_has(&c, SMTP_CAP_AUTH)) CHECK_INT(smtp_caps_auth_list(&c).len, 0);
    }
}

int main(void)
{
    test_api();
    test_names_roundtrip();
    test_ownership();
    test_reinit();
    test_future_release();
    test_auth_list_limit();
    test_counters_saturate();
    test_random_lines();
    return check_finish();
}
