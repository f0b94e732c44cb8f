/* SPDX-License-Identifier: MIT */
/* Unit tests of the reply parser's API and of the reply emitter. */
#include "check.h"
#include "failmem.h"

#include <smtp/reply.h>

#include <stdlib.h>

static void test_alloc_failures(void)
{
    /* 1: the parser; 2: its line buffer, with the first line split across reads. */
    for (int n = 1; n <= 3; n++) {
        struct failmem f = {.fail_at = n};
        smtp_mem mem = failmem_mem(&f);
        smtp_reply_parser *p = NULL;
        int rv = smtp_reply_parser_new(&p, NULL, NULL, &mem, NULL);
        if (n == 1) {
            CHECK_INT(rv, SMTP_ERR_NOMEM);
            CHECK(p == NULL);
            CHECK_INT(smtp_reply_parser_reserve(NULL), SMTP_ERR_INVALID_ARGUMENT);
        } else {
            CHECK_INT(rv, 0);
            CHECK_INT(f.calls, 1);
            CHECK_INT(smtp_reply_parser_read(p, "250 ok\r\n", 8), 8); /* whole: no buffer */
            CHECK_INT(f.calls, 1);
            if (n == 2) {
                struct failmem g = {.fail_at = 2}; /* smtp_reply_parser_reserve's */
                smtp_mem gm = failmem_mem(&g);
                smtp_reply_parser *q = NULL;
                CHECK_INT(smtp_reply_parser_new(&q, NULL, NULL, &gm, NULL), 0);
                CHECK_INT(smtp_reply_parser_reserve(q), SMTP_ERR_NOMEM);
                CHECK_INT(smtp_reply_parser_reserve(q), 0); /* unchanged: it may be asked again */
                smtp_reply_parser_del(q);
                CHECK_INT(g.live, 0);
                CHECK_INT(smtp_reply_parser_read(p, "250 o", 5), SMTP_ERR_NOMEM);
                CHECK_INT(smtp_reply_parser_read(p, "k\r\n", 3), SMTP_ERR_NOMEM); /* sticky */
            } else {
                CHECK_INT(smtp_reply_parser_read(p, "250 o", 5), 5);
                CHECK_INT(smtp_reply_parser_read(p, "k\r\n250 a", 8), 8);
                CHECK_INT(f.calls, 2); /* allocated once, kept */
                CHECK_INT(smtp_reply_parser_reserve(p), 0);
                CHECK_INT(f.calls, 2);
            }
            smtp_reply_parser_del(p);
        }
        CHECK_INT(f.live, 0);
    }
}

static void test_bad_arguments(void)
{
    smtp_reply_parser *p;
    smtp_reply_settings s;
    CHECK_INT(smtp_reply_parser_new(NULL, NULL, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_reply_settings_init(&s);
    s.max_line = 5;
    CHECK_INT(smtp_reply_parser_new(&p, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_reply_settings_init(&s);
    s.max_lines = 0;
    CHECK_INT(smtp_reply_parser_new(&p, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_reply_parser_new(&p, NULL, NULL, NULL, NULL), 0);
    CHECK_INT(smtp_reply_parser_read(p, NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_reply_parser_read(p, NULL, 0), 0);
    CHECK_INT(smtp_reply_parser_read(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    smtp_reply_parser_del(p);
    smtp_reply_parser_del(NULL);
}

struct counter {
    int lines;
    int ret;
};

static int count_line(smtp_reply_parser *parser, const smtp_reply_line *line, void *ud)
{
    (void)parser;
    struct counter *c = ud;
    (void)line;
    c->lines++;
    return c->ret;
}

/* on_line gets its parser; reading it again from inside is refused (not sticky). */
static int reenter_line(smtp_reply_parser *parser, const smtp_reply_line *line, void *ud)
{
    (void)line;
    *(smtp_ssize *)ud = smtp_reply_parser_read(parser, "250 x\r\n", 7);
    return 0;
}

static void test_reentry(void)
{
    smtp_ssize inner = 1;
    smtp_reply_callbacks cb = {reenter_line};
    smtp_reply_parser *p;
    CHECK_INT(smtp_reply_parser_new(&p, &cb, NULL, NULL, &inner), 0);
    CHECK_INT(smtp_reply_parser_read(p, "220 a\r\n", 7), 7);
    CHECK_INT(inner, SMTP_ERR_INVALID_STATE);
    inner = 1;
    CHECK_INT(smtp_reply_parser_read(p, "250 b\r\n", 7), 7);
    CHECK_INT(inner, SMTP_ERR_INVALID_STATE);
    smtp_reply_parser_del(p);
}

static void test_pause_and_failure(void)
{
    struct counter c = {0, SMTP_PAUSE};
    smtp_reply_callbacks cb = {count_line};
    smtp_reply_parser *p;
    const char *in = "250-a\r\n250 b\r\n220 c\r\n";
    CHECK_INT(smtp_reply_parser_new(&p, &cb, NULL, NULL, &c), 0);
    /* SMTP_PAUSE stops right after each line */
    CHECK_INT(smtp_reply_parser_read(p, in, 21), 7);
    CHECK_INT(smtp_reply_parser_read(p, in + 7, 14), 7);
    CHECK_INT(smtp_reply_parser_read(p, in + 14, 7), 7);
    CHECK_INT(c.lines, 3);
    CHECK(smtp_reply_parser_idle(p));

    /* a failing callback fails the parser, stickily */
    c.ret = -7;
    CHECK_INT(smtp_reply_parser_read(p, "250 x\r\n", 7), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(smtp_reply_parser_read(p, "250 x\r\n", 7), SMTP_ERR_CALLBACK_FAILURE);
    CHECK(!smtp_reply_parser_idle(p));
    /* reset makes it usable again, with nothing left of the failed state */
    c.ret = 0;
    smtp_reply_parser_reset(p);
    CHECK(smtp_reply_parser_idle(p));
    CHECK_INT(smtp_reply_parser_read(p, "250-x\r\n", 7), 7);
    CHECK(!smtp_reply_parser_idle(p));
    smtp_reply_parser_reset(p);
    CHECK_INT(smtp_reply_parser_read(p, "251 y\r\n", 7), 7); /* no mismatch with 250 */
    CHECK_INT(c.lines, 6);
    smtp_reply_parser_del(p);
    /* NULL is ignored, as by the command parser's functions */
    smtp_reply_settings_init(NULL);
    smtp_reply_parser_reset(NULL);
    CHECK(!smtp_reply_parser_idle(NULL));
    smtp_reply_parser_del(NULL);
}

/* An endless reply over many reads uses no more memory than max_line: it fails at max_lines. */
static void test_endless_reply(void)
{
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    smtp_reply_parser *p;
    CHECK_INT(smtp_reply_parser_new(&p, NULL, NULL, &mem, NULL), 0);
    int calls = f.calls;
    smtp_ssize rv = 0;
    int i;
    for (i = 0; i < 5000 && rv >= 0; i++)
        rv = smtp_reply_parser_read(p, "250-more\r\n", 10);
    CHECK_INT(rv, SMTP_ERR_REPLY_TOO_LONG);
    CHECK_INT(i, 1001);
    CHECK_INT(f.calls, calls); /* nothing allocated after _new */
    smtp_reply_parser_del(p);
    CHECK_INT(f.live, 0);
}

/* Every refusal leaves the destination untouched. */
#define UNTOUCHED(buf) (buf[0] == '#' && buf[sizeof buf - 1] == '#')

static void test_emit(void)
{
    char buf[600];
    smtp_ssize n;
    memset(buf, '#', sizeof buf);

    n = smtp_emit_reply1(buf, sizeof buf, 250, NULL, "ok", 2);
    CHECK_MEM(buf, (size_t)n, "250 ok\r\n");
    n = smtp_emit_reply1(buf, sizeof buf, 250, NULL, "", 0);
    CHECK_MEM(buf, (size_t)n, "250\r\n");
    n = smtp_emit_reply1(buf, sizeof buf, 250, "2.0.0", "", 0);
    CHECK_MEM(buf, (size_t)n, "250 2.0.0\r\n");
    n = smtp_emit_reply1(buf, sizeof buf, 550, "5.1.1", "no such user", 12);
    CHECK_MEM(buf, (size_t)n, "550 5.1.1 no such user\r\n");

    smtp_span lines[] = {{"mx.example.org", 14}, {"", 0}, {"PIPELINING", 10}, {"SIZE 100", 8}};
    n = smtp_emit_reply(buf, sizeof buf, 250, NULL, lines, 4);
    CHECK_MEM(buf, (size_t)n, "250-mx.example.org\r\n250-\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
    n = smtp_emit_reply(buf, sizeof buf, 451, "4.3.0", lines, 2);
    CHECK_MEM(buf, (size_t)n, "451-4.3.0 mx.example.org\r\n451 4.3.0\r\n");
    CHECK_INT(smtp_emit_reply(NULL, 0, 250, NULL, lines, 4), 56);
    n = smtp_emit_reply1(buf, sizeof buf, 250, NULL, "a\tb", 3);
    CHECK_MEM(buf, (size_t)n, "250 a\tb\r\n");

    memset(buf, '#', sizeof buf);
    const char *unsafe[] = {"a\rb", "a\nb", "a\0b", "\x1b[31m", "del\x7f", "\r\n250 fake"};
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
        size_t len = i == 2 ? 3 : strlen(unsafe[i]);
        CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 250, NULL, unsafe[i], len),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    }
    /* an unsafe line anywhere refuses the whole reply */
    smtp_span bad[] = {{"fine", 4}, {"bad\n", 4}};
    CHECK_INT(smtp_emit_reply(buf, sizeof buf, 250, NULL, bad, 2), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 199, NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 600, NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    /* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39: the second digit is 0-5. */
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 260, NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 599, NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply1(NULL, 0, 459, NULL, "x", 1), 7);
    const char *badenh[] = {"5.1.1", "2.1", "2.1.", "2.1.1.1", "2.1000.1", "x.1.1", "2..1", ""};
    for (size_t i = 0; i < sizeof badenh / sizeof badenh[0]; i++)
        CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 250, badenh[i], "x", 1),
                  SMTP_ERR_INVALID_ARGUMENT);
    /* RFC 3463 2: class = "2" / "4" / "5"; a 3xx reply carries no enhanced code. */
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 354, "3.0.0", "go ahead", 8),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 334, "3.0.0", "", 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply(buf, sizeof buf, 250, NULL, lines, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_reply(buf, 0, 250, NULL, lines, 1), SMTP_ERR_NOBUF);
    CHECK_INT(smtp_emit_reply1(buf, 7, 250, NULL, "ok", 2), SMTP_ERR_NOBUF);
    /* 512 octets with CRLF is the limit (RFC 5321 4.5.3.1.5) */
    char text[600];
    memset(text, 'x', sizeof text);
    CHECK_INT(smtp_emit_reply1(NULL, 0, 250, NULL, text, 506), 512);
    CHECK_INT(smtp_emit_reply1(buf, sizeof buf, 250, NULL, text, 507), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(UNTOUCHED(buf));
    CHECK_INT(smtp_emit_reply1(buf, 8, 250, NULL, "ok", 2), 8);
}

/*
 * The versioned entry points (common.h): version 1 is read; an unknown version is refused with
 * nothing allocated, and smtp_reply_settings_init_versioned leaves the struct untouched.
 */
static void test_versions(void)
{
    smtp_reply_settings s = {.max_line = 7, .max_lines = 3};
    smtp_reply_settings_init_versioned(SMTP_REPLY_SETTINGS_VERSION + 1, &s); /* ignored */
    smtp_reply_settings_init_versioned(0, &s);
    CHECK_INT(s.max_line, 7);
    CHECK_INT(s.max_lines, 3);
    smtp_reply_settings_init_versioned(1, &s);
    CHECK_INT(s.max_line, 2048);
    CHECK_INT(s.max_lines, 1000);
    smtp_reply_settings_init_versioned(1, NULL);
    struct counter c = {0, 0};
    smtp_reply_callbacks cb = {count_line};
    struct failmem f = {0};
    smtp_mem mem = failmem_mem(&f);
    smtp_reply_parser *p = (smtp_reply_parser *)&p;
    CHECK_INT(
        smtp_reply_parser_new_versioned(&p, SMTP_REPLY_CALLBACKS_VERSION + 1, &cb, 1, &s, &mem, &c),
        SMTP_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_INT(smtp_reply_parser_new_versioned(&p, 1, &cb, 0, &s, &mem, &c),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(
        smtp_reply_parser_new_versioned(&p, 1, &cb, SMTP_REPLY_SETTINGS_VERSION + 1, &s, &mem, &c),
        SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(f.calls, 0);
    /* Version 1: its callbacks and settings are the parser's. */
    s.max_lines = 1;
    CHECK_INT(smtp_reply_parser_new_versioned(&p, 1, &cb, 1, &s, &mem, &c), 0);
    CHECK_INT(smtp_reply_parser_read(p, "250 a\r\n250-b\r\n250 c\r\n", 21),
              SMTP_ERR_REPLY_TOO_LONG);
    CHECK_INT(c.lines, 2);
    smtp_reply_parser_del(p);
    CHECK_INT(f.live, 0);
    CHECK_INT(smtp_reply_parser_new_versioned(&p, 1, NULL, 1, NULL, NULL, NULL), 0);
    smtp_reply_parser_del(p);
}

/* What the emitter writes, the parser reads back unchanged. */
static void test_roundtrip(void)
{
    char buf[256];
    smtp_span lines[] = {{"one", 3}, {"two", 3}, {"", 0}, {"four", 4}};
    smtp_ssize n = smtp_emit_reply(buf, sizeof buf, 452, "4.5.3", lines, 4);
    CHECK(n > 0);
    struct counter c = {0, 0};
    smtp_reply_callbacks cb = {count_line};
    smtp_reply_parser *p;
    CHECK_INT(smtp_reply_parser_new(&p, &cb, NULL, NULL, &c), 0);
    CHECK_INT(smtp_reply_parser_read(p, buf, (size_t)n), n);
    CHECK_INT(c.lines, 4);
    CHECK(smtp_reply_parser_idle(p));
    smtp_reply_parser_del(p);
}

static void test_errors(void)
{
    CHECK_STR(smtp_error_name(SMTP_ERR_NOMEM), "SMTP_ERR_NOMEM");
    CHECK_STR(smtp_error_name(12345), "SMTP_ERR_UNKNOWN");
    CHECK_STR(smtp_error_text(SMTP_ERR_BARE_LF), "bare LF (not preceded by CR)");
    CHECK_STR(smtp_error_text(-9999), "unknown error");
    CHECK_STR(smtp_error_name(0), "SMTP_OK");
    CHECK_STR(smtp_error_name(SMTP_ERR_AGAIN), "SMTP_ERR_AGAIN");
    CHECK_STR(smtp_error_name(SMTP_ERR_DUPLICATE), "SMTP_ERR_DUPLICATE");
    /* Every code of the one list has its own name and a text; fatal only from -100 to -299. */
    static const int codes[] = {
#define CODE(name, value, text) SMTP_##name,
        SMTP_ERROR_MAP(CODE)
#undef CODE
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *name = smtp_error_name(codes[i]);
        CHECK(strncmp(name, "SMTP_", 5) == 0 && strcmp(name, "SMTP_ERR_UNKNOWN") != 0);
        CHECK(strcmp(smtp_error_text(codes[i]), "unknown error") != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(name, smtp_error_name(codes[j])) != 0);
        CHECK_INT(smtp_error_is_fatal(codes[i]), codes[i] <= -100 && codes[i] > -300);
    }
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_NOMEM), 1);
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_PROTO), 1);
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_REPLY_SEPARATOR), 1);
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_INVALID_STATE), 0);
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_AGAIN), 0);
    CHECK_INT(smtp_error_is_fatal(SMTP_ERR_SYNTAX), 0);
    CHECK_INT(smtp_error_is_fatal(-150), 0); /* not an smtp_error */
    CHECK_INT(smtp_error_is_fatal(0), 0);
}

int main(void)
{
    test_alloc_failures();
    test_bad_arguments();
    test_pause_and_failure();
    test_reentry();
    test_endless_reply();
    test_emit();
    test_roundtrip();
    test_versions();
    test_errors();
    return check_finish();
}
