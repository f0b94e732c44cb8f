/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ESMTP parameter parsers: argument checks, default options, spans that
 * borrow the input, the date-time parser directly, and random inputs in exact-size heap
 * buffers (ASan/valgrind catch any over-read) that must end in success or a documented error
 * with a fault text. The grammar itself is covered by tests/vectors/params.
 */
#include "check.h"

#include <smtp/params.h>

#include <stdlib.h>
#include <string.h>

static void test_arguments(void)
{
    smtp_mail_params m;
    smtp_rcpt_params r;
    CHECK_INT(smtp_mail_params_parse("SIZE=1", 6, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mail_params_parse(NULL, 1, NULL, &m), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mail_params_parse(NULL, 0, NULL, &m), 0);
    CHECK_INT(m.present, 0);
    CHECK_INT(smtp_rcpt_params_parse(NULL, 2, NULL, &r), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_param_next(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    int64_t t;
    CHECK_INT(smtp_datetime_parse(NULL, 3, &t), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_datetime_parse("x", 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

/* The options are versioned: an unknown version is refused, version 1's fields are read. */
static void test_versions(void)
{
    smtp_params_opts o;
    memset(&o, 0x5a, sizeof o);
    smtp_params_opts_init_versioned(0, &o);
    smtp_params_opts_init_versioned(SMTP_PARAMS_OPTS_VERSION + 1, &o);
    CHECK_INT(o.smtputf8, 0x5a5a5a5a); /* untouched */
    smtp_params_opts_init_versioned(SMTP_PARAMS_OPTS_VERSION, NULL);
    smtp_params_opts_init(&o);
    CHECK_INT(o.extensions, SMTP_PARAM_EXT_ALL);
    smtp_mail_params m;
    smtp_rcpt_params r;
    CHECK_INT(smtp_mail_params_parse_versioned(2, "SIZE=1", 6, &o, &m), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_rcpt_params_parse_versioned(0, "", 0, NULL, &r), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_mail_params_parse_versioned(1, "SIZE=1", 6, &o, &m), 0);
    o.extensions = 0; /* SIZE not offered: refused (555) */
    CHECK_INT(smtp_mail_params_parse_versioned(1, "SIZE=1", 6, &o, &m), SMTP_ERR_SYNTAX);
}

static void test_defaults_and_spans(void)
{
    const char *s = "SIZE=5 ENVID=abc AUTH=<>";
    smtp_mail_params m;
    CHECK_INT(smtp_mail_params_parse(s, strlen(s), NULL, &m), 0);
    CHECK_INT(m.present, SMTP_MAIL_SIZE | SMTP_MAIL_ENVID | SMTP_MAIL_AUTH);
    CHECK(m.envid.ptr == s + 13 && m.envid.len == 3);
    CHECK(m.auth.ptr == s + 22 && m.auth.len == 2);
    CHECK(m.fault.text == NULL);

    /* NULL options refuse unknown parameters with 555 */
    CHECK_INT(smtp_mail_params_parse("XYZ", 3, NULL, &m), SMTP_ERR_SYNTAX);
    CHECK_INT(m.fault.reply_code, 555);
    CHECK_MEM(m.fault.key.ptr, m.fault.key.len, "XYZ");

    smtp_params_opts o;
    smtp_params_opts_init(&o);
    CHECK_INT(o.extensions, SMTP_PARAM_EXT_ALL);
    CHECK(o.unknown == NULL && o.smtputf8 == 0);
    smtp_params_opts_init(NULL); /* ignored */
    smtp_param_iter_init(NULL, "SIZE=1", 6, 0);
}

static void test_iterator_sticky(void)
{
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, "A=1 B==2 C", 10, 0);
    CHECK_INT(smtp_param_next(&it, &p), 1);
    CHECK_INT(smtp_param_next(&it, &p), SMTP_ERR_SYNTAX);
    CHECK_INT(it.error_at, 6);
    CHECK_INT(smtp_param_next(&it, &p), SMTP_ERR_SYNTAX);
    smtp_param_iter_init(&it, NULL, 5, 0);
    CHECK_INT(smtp_param_next(&it, &p), 0);
}

static void test_datetime(void)
{
    int64_t t = -1;
    CHECK_INT(smtp_datetime_parse("1970-01-01T00:00:00Z", 20, &t), 0);
    CHECK_INT(t, 0);
    CHECK_INT(smtp_datetime_parse("1969-12-31T23:59:59Z", 20, &t), 0);
    CHECK_INT(t, -1);
    CHECK_INT(smtp_datetime_parse("2038-01-19T03:14:08Z", 20, &t), 0);
    CHECK_INT(t, 2147483648LL);
    CHECK_INT(smtp_datetime_parse("2000-01-01T00:00:00+23:59", 25, &t), 0);
    CHECK_INT(t, 946684800LL - 23 * 3600 - 59 * 60);
    /* every day of a leap and a common year parses, and days are consecutive */
    for (int year = 2023; year <= 2024; year++) {
        int64_t prev = 0;
        int count = 0;
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= 31; d++) {
                char buf[32];
                int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT00:00:00Z", year, m, d);
                if (smtp_datetime_parse(buf, (size_t)n, &t) != 0) continue;
                CHECK(count == 0 || t - prev == 86400);
                prev = t;
                count++;
            }
        }
        CHECK_INT(count, year == 2024 ? 366 : 365);
    }
}

static uint32_t rng = 99;

static unsigned char pick(const char *alphabet)
{
    rng = rng * 1664525u + 1013904223u;
    return (unsigned char)alphabet[(rng >> 8) % strlen(alphabet)];
}

/* Random strings over a parameter-ish alphabet: never a crash, always a documented outcome. */
static void test_random(void)
{
    static const char alpha[] = "SIZEBODYNOTIFYORCPTBYRHT=;:,+-<>@ 0123456789xX\\{}\x80\xc3\xa9\t";
    static const int allowed[] = {0,
                                  SMTP_ERR_SYNTAX,
                                  SMTP_ERR_OVERFLOW,
                                  SMTP_ERR_TOO_LONG,
                                  SMTP_ERR_XTEXT,
                                  SMTP_ERR_UTF8,
                                  SMTP_ERR_DUPLICATE};
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(pick("0123456789abcdef") % 40);
        char *s = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)pick(alpha);
        smtp_mail_params m;
        smtp_rcpt_params r;
        int rc1 = smtp_mail_params_parse(s, n, NULL, &m);
        int rc2 = smtp_rcpt_params_parse(s, n, NULL, &r);
        int ok1 = 0, ok2 = 0;
        for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++) {
            ok1 |= rc1 == allowed[k];
            ok2 |= rc2 == allowed[k];
        }
        if (!ok1 || !ok2 || (rc1 < 0 && !m.fault.text) || (rc2 < 0 && !r.fault.text) ||
            (rc1 < 0 && m.fault.offset > n) || (rc2 < 0 && r.fault.offset > n))
            bad++;
        free(s);
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    test_arguments();
    test_versions();
    test_defaults_and_spans();
    test_iterator_sticky();
    test_datetime();
    test_random();
    return check_finish();
}
