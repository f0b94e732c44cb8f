/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the command layer: the line framer (lib/line.h), smtp_cmd_parse, the streaming
 * parser's API contract (allocation, errors, pause, SASL mode, zero copy) and the command
 * emitters (every refusal leaves the buffer untouched).
 */
#include "check.h"
#include "failmem.h"
#include "line.h"

#include <smtp/command.h>

#include <stdlib.h>
#include <string.h>

/* ---- the framer ---- */

static void test_framer_zero_copy(void)
{
    struct failmem cnt = {0};
    smtp_mem mem = failmem_mem(&cnt);
    smtp_line_framer f;
    CHECK_INT(smtp_line_init(&f, 16, 0, &mem), 0);
    CHECK_INT(cnt.calls, 1);
    CHECK_INT(cnt.last_size, 15);
    const char in[] = "NOOP\r\nQUIT\r\n";
    smtp_line ln;
    CHECK_INT(smtp_line_next(&f, in, sizeof in - 1, &ln), 6);
    CHECK_INT(ln.status, SMTP_LINE_OK);
    CHECK(ln.text.ptr == in); /* a span into the input, no copy */
    CHECK_MEM(ln.text.ptr, ln.text.len, "NOOP");
    CHECK_INT(smtp_line_next(&f, in + 6, sizeof in - 7, &ln), 6);
    CHECK(ln.text.ptr == in + 6);
    CHECK_MEM(ln.text.ptr, ln.text.len, "QUIT");
    /* A line split across feeds goes through the one buffer; nothing is allocated per line. */
    CHECK_INT(smtp_line_next(&f, "RS", 2, &ln), 2);
    CHECK_INT(ln.status, SMTP_LINE_NONE);
    CHECK_INT(smtp_line_next(&f, "ET\r", 3, &ln), 3);
    CHECK_INT(ln.status, SMTP_LINE_NONE);
    CHECK_INT(smtp_line_next(&f, "\nX", 2, &ln), 1);
    CHECK_INT(ln.status, SMTP_LINE_OK);
    CHECK(ln.text.ptr == f.buf);
    CHECK_MEM(ln.text.ptr, ln.text.len, "RSET");
    CHECK_INT(cnt.calls, 1);
    smtp_line_free(&f);
    CHECK_INT(cnt.live, 0);
}

static void test_framer_too_long(void)
{
    smtp_line_framer f;
    CHECK_INT(smtp_line_init(&f, 8, 0, smtp_mem_default()), 0);
    smtp_line ln;
    /* 6 octets + CRLF fit in 8; 7 do not. */
    CHECK_INT(smtp_line_next(&f, "123456\r\n", 8, &ln), 8);
    CHECK_INT(ln.status, SMTP_LINE_OK);
    CHECK_INT(smtp_line_next(&f, "1234567\r\n", 9, &ln), 9);
    CHECK_INT(ln.status, SMTP_LINE_TOO_LONG);
    CHECK_MEM(ln.text.ptr, ln.text.len, "1234567");
    /* Split: reported once, at the LF, with the same prefix; then in sync. */
    const char *parts[] = {"abcd", "efghij", "klmnop", "qr\r", "\nQUIT\r\n"};
    int events = 0;
    for (size_t i = 0; i < 5; i++) {
        const char *p = parts[i];
        size_t n = strlen(p);
        while (n) {
            size_t used = smtp_line_next(&f, p, n, &ln);
            CHECK(used > 0);
            p += used;
            n -= used;
            if (ln.status == SMTP_LINE_TOO_LONG) {
                events++;
                CHECK_MEM(ln.text.ptr, ln.text.len, "abcdefg");
            } else if (ln.status == SMTP_LINE_OK) {
                CHECK_INT(events, 1);
                CHECK_MEM(ln.text.ptr, ln.text.len, "QUIT");
                events++;
            }
        }
    }
    CHECK_INT(events, 2);
    smtp_line_free(&f);
}

static void test_framer_line_ends(void)
{
    smtp_line_framer f, lf;
    CHECK_INT(smtp_line_init(&f, 64, 0, smtp_mem_default()), 0);
    CHECK_INT(smtp_line_init(&lf, 64, SMTP_LINE_LENIENT_BARE_LF, smtp_mem_default()), 0);
    smtp_line ln;
    CHECK_INT(smtp_line_next(&f, "NOOP\nX", 6, &ln), 5);
    CHECK_INT(ln.status, SMTP_LINE_BARE_LF);
    CHECK_MEM(ln.text.ptr, ln.text.len, "NOOP");
    CHECK_INT(smtp_line_next(&lf, "NOOP\nX", 6, &ln), 5);
    CHECK_INT(ln.status, SMTP_LINE_OK);
    CHECK_INT(smtp_line_next(&lf, "X\rA", 3, &ln), 3);
    CHECK_INT(ln.status, SMTP_LINE_NONE);
    CHECK_INT(smtp_line_next(&lf, "\n", 1, &ln), 1);
    CHECK_INT(ln.status, SMTP_LINE_BARE_CR);
    CHECK_MEM(ln.text.ptr, ln.text.len, "X\rA");
    /* A CR alone at the end of a feed is held, never a line end. */
    CHECK_INT(smtp_line_next(&f, "QUIT\r", 5, &ln), 5);
    CHECK_INT(ln.status, SMTP_LINE_NONE);
    CHECK_INT(smtp_line_next(&f, "\n", 1, &ln), 1);
    CHECK_INT(ln.status, SMTP_LINE_OK);
    CHECK_MEM(ln.text.ptr, ln.text.len, "QUIT");
    CHECK_INT(smtp_line_next(&f, "A\0B\r\n", 5, &ln), 5);
    CHECK_INT(ln.status, SMTP_LINE_NUL);
    CHECK_INT(smtp_line_scan("abc", 3), SMTP_LINE_OK);
    CHECK_INT(smtp_line_scan("a\nb\rc", 5), SMTP_LINE_BARE_LF);
    CHECK_INT(smtp_line_scan("a\rb\0c", 5), SMTP_LINE_BARE_CR);
    CHECK_INT(smtp_line_scan("a\0b\nc", 5), SMTP_LINE_NUL);
    CHECK_INT(smtp_line_scan(NULL, 0), SMTP_LINE_OK);
    smtp_line_free(&f);
    smtp_line_free(&lf);
}

static void test_framer_init_errors(void)
{
    smtp_line_framer f;
    struct failmem cnt = {.fail_at = 1};
    smtp_mem mem = failmem_mem(&cnt);
    CHECK_INT(smtp_line_init(&f, 2, 0, smtp_mem_default()), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_line_init(&f, 16, 0x80, smtp_mem_default()), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_line_init(NULL, 16, 0, smtp_mem_default()), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_line_init(&f, 16, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_line_init(&f, 16, 0, &mem), SMTP_ERR_NOMEM);
}

/* ---- smtp_cmd_parse ---- */

/* Every non-empty span of `c` lies inside its line. */
static int spans_inside(const smtp_cmd *c)
{
    const smtp_span *s[] = {&c->name,   &c->arg,       &c->domain,          &c->path,
                            &c->params, &c->mechanism, &c->initial_response};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (s[i]->len == 0) {
            if (s[i]->ptr != NULL) return 0;
            continue;
        }
        if (s[i]->ptr < c->line.ptr || s[i]->ptr + s[i]->len > c->line.ptr + c->line.len) return 0;
    }
    return 1;
}

static int parse(const char *s, unsigned flags, smtp_cmd *c)
{
    int rv = smtp_cmd_parse(s, strlen(s), flags, c);
    CHECK(c->line.ptr == (strlen(s) ? s : NULL));
    CHECK(spans_inside(c));
    return rv;
}

static void test_parse_verbs(void)
{
    smtp_cmd c;
    CHECK_INT(parse("MAIL FROM:<\"a> b\"@c> SIZE=1 BODY=7BIT", 0, &c), 0);
    CHECK_INT(c.verb, SMTP_VERB_MAIL);
    CHECK_MEM(c.path.ptr, c.path.len, "<\"a> b\"@c>");
    CHECK_MEM(c.params.ptr, c.params.len, "SIZE=1 BODY=7BIT");
    CHECK_INT(parse("rcpt to:<x@y>", 0, &c), 0);
    CHECK_INT(c.verb, SMTP_VERB_RCPT);
    CHECK_MEM(c.name.ptr, c.name.len, "rcpt");
    CHECK_INT(c.params.len, 0);
    CHECK_INT(parse("EHLO [::1]  ", 0, &c), 0);
    CHECK_MEM(c.domain.ptr, c.domain.len, "[::1]");
    CHECK_INT(parse("BDAT 18446744073709551615 LAST", 0, &c), 0);
    CHECK(c.chunk_size == UINT64_MAX);
    CHECK_INT(c.last, 1);
    CHECK_INT(parse("AUTH PLAIN =", 0, &c), 0);
    CHECK_MEM(c.mechanism.ptr, c.mechanism.len, "PLAIN");
    CHECK_MEM(c.initial_response.ptr, c.initial_response.len, "=");
    CHECK_INT(parse("AUTH LOGIN", 0, &c), 0);
    CHECK(c.initial_response.ptr == NULL && c.initial_response.len == 0);
    CHECK_INT(parse("XCLIENT ADDR=1.2.3.4", 0, &c), 0);
    CHECK_MEM(c.arg.ptr, c.arg.len, "ADDR=1.2.3.4");
    CHECK_INT(parse("STARTTLS", 0, &c), 0);
    CHECK_INT(c.verb, SMTP_VERB_STARTTLS);
    CHECK(c.arg.ptr == NULL);
    for (int v = SMTP_VERB_HELO; v <= SMTP_VERB_XFORWARD; v++) {
        const char *name = smtp_verb_name((smtp_verb)v);
        smtp_cmd d;
        smtp_cmd_parse(name, strlen(name), SMTP_CMD_LENIENT_EMPTY_HELO, &d);
        CHECK_INT(d.verb, v);
    }
    /* The verb is the octets before the first SP, wherever it is among the first five (a
     * 4-letter verb is told without a search). */
    static const struct {
        const char *line, *name;
        smtp_verb verb;
    } heads[] = {
        {"DATA", "DATA", SMTP_VERB_DATA},        {"DATA x", "DATA", SMTP_VERB_DATA},
        {"DAT A", "DAT", SMTP_VERB_UNKNOWN},     {"D ATA", "D", SMTP_VERB_UNKNOWN},
        {" DATA", "", SMTP_VERB_UNKNOWN},        {"DA A", "DA", SMTP_VERB_UNKNOWN},
        {"DATAX y", "DATAX", SMTP_VERB_UNKNOWN}, {"QUI", "QUI", SMTP_VERB_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        parse(heads[i].line, 0, &c);
        CHECK_INT(c.verb, heads[i].verb);
        CHECK_INT(c.name.len, strlen(heads[i].name));
        CHECK(c.name.len == 0 || memcmp(c.name.ptr, heads[i].name, c.name.len) == 0);
    }
}

static void test_parse_errors(void)
{
    smtp_cmd c;
    CHECK_INT(parse("FOO bar", 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_UNKNOWN_VERB);
    CHECK_MEM(c.name.ptr, c.name.len, "FOO");
    CHECK_MEM(c.arg.ptr, c.arg.len, "bar");
    CHECK_INT(parse("MAIL FROM: <a@b>", SMTP_CMD_STRICT_PATH_SPACE, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_SYNTAX);
    CHECK_INT(parse("MAIL FROM: <a@b>", 0, &c), 0);
    CHECK_INT(parse("MAIL FROM:a@b", 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(parse("MAIL FROM:a@b X=1", SMTP_CMD_LENIENT_PATH_BRACKETS, &c), 0);
    CHECK_MEM(c.path.ptr, c.path.len, "a@b");
    CHECK_MEM(c.params.ptr, c.params.len, "X=1");
    CHECK_INT(parse("HELO", 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_MISSING_ARGUMENT);
    CHECK_INT(parse("HELO", SMTP_CMD_LENIENT_EMPTY_HELO, &c), 0);
    CHECK_INT(parse("QUIT now", 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_UNEXPECTED_ARGUMENT);
    CHECK_INT(parse("BDAT 18446744073709551616", 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_BDAT);
    CHECK_INT(c.verb, SMTP_VERB_BDAT);
    /* A CR, LF or NUL inside the line: a line-level error, nothing parsed but the verb. */
    CHECK_INT(smtp_cmd_parse("MAIL FROM:<a>\r\nRCPT", 19, 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_BARE_CR);
    CHECK_INT(c.verb, SMTP_VERB_MAIL);
    CHECK(c.path.ptr == NULL);
    CHECK_INT(smtp_cmd_parse("NOOP \n", 6, 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_BARE_LF);
    CHECK_INT(smtp_cmd_parse("NOOP \0", 6, 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_NUL);
    CHECK_INT(smtp_cmd_parse(NULL, 0, 0, &c), SMTP_ERR_SYNTAX);
    CHECK_INT(c.error, SMTP_CMD_ERR_UNKNOWN_VERB);
    /* Misuse: out untouched. */
    memset(&c, 0x5a, sizeof c);
    smtp_cmd copy = c;
    CHECK_INT(smtp_cmd_parse(NULL, 3, 0, &c), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_cmd_parse("NOOP", 4, 0x100, &c), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(&c, &copy, sizeof c) == 0);
    CHECK_INT(smtp_cmd_parse("NOOP", 4, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_error_reply(void)
{
    const char *enh = "x", *text = "x";
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_OK, SMTP_VERB_MAIL, &enh, &text), 0);
    CHECK(enh == NULL && text == NULL);
    CHECK_INT(smtp_cmd_error_reply((smtp_cmd_error)99, SMTP_VERB_MAIL, &enh, &text), 0);
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_UNKNOWN_VERB, SMTP_VERB_UNKNOWN, &enh, &text), 500);
    CHECK_STR(enh, "5.5.1");
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_SYNTAX, SMTP_VERB_MAIL, &enh, &text), 501);
    CHECK_STR(enh, "5.5.4");
    CHECK_STR(text, "Syntax: MAIL FROM:<reverse-path> [SP <mail-parameters>]");
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_MISSING_ARGUMENT, SMTP_VERB_EHLO, NULL, &text),
              501);
    CHECK_STR(text, "Syntax: EHLO <domain>");
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_UNEXPECTED_ARGUMENT, SMTP_VERB_DATA, NULL, NULL),
              501);
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_BDAT, SMTP_VERB_BDAT, &enh, NULL), 521);
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_BARE_LF, SMTP_VERB_BDAT, NULL, NULL), 521);
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_LINE_TOO_LONG, SMTP_VERB_NOOP, &enh, NULL), 500);
    CHECK_STR(enh, "5.5.2");
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_LINE_TOO_LONG, SMTP_VERB_AUTH, &enh, NULL), 500);
    CHECK_STR(enh, "5.5.6");
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_NUL, (smtp_verb)77, &enh, &text), 500);
    CHECK_INT(smtp_cmd_error_reply(SMTP_CMD_ERR_SYNTAX, (smtp_verb)77, &enh, &text), 501);
    CHECK_STR(text, "Error: syntax error");
    CHECK_STR(smtp_cmd_error_name(SMTP_CMD_ERR_BARE_CR), "BARE_CR");
    CHECK_STR(smtp_cmd_error_name((smtp_cmd_error)-1), "INVALID");
    CHECK_STR(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
    CHECK_STR(smtp_verb_name((smtp_verb)1000), "UNKNOWN");
}

/* ---- the streaming parser ---- */

struct rec {
    smtp_cmd_parser *p;
    int commands, sasl, pause_on; /* pause_on: verb to pause after, 0 none */
    smtp_verb last_verb;
    smtp_cmd_error last_error;
    const char *last_line_ptr;
    char last_line[64];
    int arm_sasl_on_auth;
};

static int rec_command(smtp_cmd_parser *parser, const smtp_cmd *c, void *ud)
{
    (void)parser;
    struct rec *r = ud;
    r->commands++;
    r->last_verb = c->verb;
    r->last_error = c->error;
    r->last_line_ptr = c->line.ptr;
    size_t n = c->line.len < sizeof r->last_line - 1 ? c->line.len : sizeof r->last_line - 1;
    memcpy(r->last_line, c->line.ptr ? c->line.ptr : "", n);
    r->last_line[n] = '\0';
    if (r->arm_sasl_on_auth && c->verb == SMTP_VERB_AUTH)
        CHECK_INT(smtp_cmd_parser_expect_sasl(r->p), 0);
    if (r->pause_on && (int)c->verb == r->pause_on) return SMTP_PAUSE;
    return 7; /* positive values other than SMTP_PAUSE count as 0 */
}

static int rec_sasl(smtp_cmd_parser *parser, const smtp_sasl_response *s, void *ud)
{
    (void)parser;
    struct rec *r = ud;
    r->sasl++;
    CHECK(s->error == SMTP_CMD_OK);
    return 0;
}

static void test_parser_new(void)
{
    smtp_cmd_parser *p = (smtp_cmd_parser *)&p;
    smtp_cmd_settings s;
    smtp_cmd_settings_init(&s);
    CHECK_INT(s.max_line, 512);
    CHECK_INT(s.max_auth_line, 12288);
    CHECK_INT(s.flags, 0);
    smtp_cmd_settings_init(NULL);
    CHECK_INT(smtp_cmd_parser_new(NULL, NULL, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    s.max_line = 7;
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    smtp_cmd_settings_init(&s);
    s.max_auth_line = 1048577;
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_cmd_settings_init(&s);
    s.flags = 0x10;
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, &s, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    /* The allocation failing gives NOMEM and leaks nothing. */
    struct failmem cnt = {.fail_at = 1};
    smtp_mem mem = failmem_mem(&cnt);
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, NULL, &mem, NULL), SMTP_ERR_NOMEM);
    CHECK(p == NULL);
    CHECK_INT(cnt.live, 0);
    /* One allocation at creation (the object); the line buffer with the first line split
     * across reads, then none. */
    cnt = (struct failmem){0};
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, NULL, &mem, NULL), 0);
    CHECK_INT(cnt.calls, 1);
    CHECK_INT(smtp_cmd_parser_read(p, "EHLO x\r\nNOOP\r\n", 14), 14);
    CHECK_INT(cnt.calls, 1);
    const char in[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDA";
    for (size_t i = 0; i < sizeof in - 1; i++)
        CHECK_INT(smtp_cmd_parser_read(p, in + i, 1), 1);
    CHECK_INT(cnt.calls, 2);
    CHECK_INT(cnt.last_size, 12287);
    CHECK_INT(smtp_cmd_parser_reserve(p), 0);
    CHECK_INT(cnt.calls, 2);
    smtp_cmd_parser_del(p);
    CHECK_INT(cnt.live, 0);
    /* The line buffer cannot be allocated: SMTP_ERR_NOMEM, sticky; nothing leaks. */
    struct rec r = {0};
    smtp_cmd_callbacks cb = {rec_command, rec_sasl};
    cnt = (struct failmem){.fail_at = 2};
    CHECK_INT(smtp_cmd_parser_new(&p, &cb, NULL, &mem, &r), 0);
    CHECK_INT(smtp_cmd_parser_read(p, "NOOP\r\nRS", 9), SMTP_ERR_NOMEM);
    CHECK_INT(r.commands, 1); /* the whole line before it was read */
    CHECK_INT(smtp_cmd_parser_read(p, "ET\r\n", 4), SMTP_ERR_NOMEM);
    CHECK_INT(smtp_cmd_parser_reserve(NULL), SMTP_ERR_INVALID_ARGUMENT);
    smtp_cmd_parser_del(p);
    CHECK_INT(cnt.live, 0);
    /* Reserved up front: nothing allocated while reading. */
    cnt = (struct failmem){0};
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, NULL, &mem, NULL), 0);
    CHECK_INT(smtp_cmd_parser_reserve(p), 0);
    CHECK_INT(cnt.calls, 2);
    for (size_t i = 0; i < sizeof in - 1; i++)
        CHECK_INT(smtp_cmd_parser_read(p, in + i, 1), 1);
    CHECK_INT(cnt.calls, 2);
    smtp_cmd_parser_del(p);
    CHECK_INT(cnt.live, 0);
    smtp_cmd_parser_del(NULL);
}

/*
 * The versioned entry points (common.h): version 1 is read; an unknown version is refused with
 * nothing allocated, and smtp_cmd_settings_init_versioned leaves the struct untouched.
 */
static void test_parser_versions(void)
{
    smtp_cmd_settings s = {.max_line = 9, .max_auth_line = 10, .flags = 0x3};
    smtp_cmd_settings_init_versioned(SMTP_CMD_SETTINGS_VERSION + 1, &s); /* ignored */
    smtp_cmd_settings_init_versioned(0, &s);
    CHECK_INT(s.max_line, 9);
    CHECK_INT(s.max_auth_line, 10);
    CHECK_INT(s.flags, 0x3);
    smtp_cmd_settings_init_versioned(1, &s);
    CHECK_INT(s.max_line, 512);
    CHECK_INT(s.max_auth_line, 12288);
    CHECK_INT(s.flags, 0);
    smtp_cmd_settings_init_versioned(1, NULL);
    struct rec r = {0};
    smtp_cmd_callbacks cb = {rec_command, rec_sasl};
    struct failmem cnt = {0};
    smtp_mem mem = failmem_mem(&cnt);
    smtp_cmd_parser *p = (smtp_cmd_parser *)&p;
    CHECK_INT(
        smtp_cmd_parser_new_versioned(&p, SMTP_CMD_CALLBACKS_VERSION + 1, &cb, 1, &s, &mem, &r),
        SMTP_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_INT(smtp_cmd_parser_new_versioned(&p, 1, &cb, 0, &s, &mem, &r),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(
        smtp_cmd_parser_new_versioned(&p, 1, &cb, SMTP_CMD_SETTINGS_VERSION + 1, &s, &mem, &r),
        SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(cnt.calls, 0);
    /* Version 1: its callbacks and settings (a flag) are the parser's. */
    s.flags = SMTP_CMD_LENIENT_BARE_LF;
    CHECK_INT(smtp_cmd_parser_new_versioned(&p, 1, &cb, 1, &s, &mem, &r), 0);
    CHECK_INT(smtp_cmd_parser_read(p, "NOOP\n", 5), 5);
    CHECK_INT(r.commands, 1);
    CHECK_INT(r.last_verb, SMTP_VERB_NOOP);
    CHECK_INT(r.last_error, SMTP_CMD_OK); /* without the flag: SMTP_CMD_ERR_BARE_LF */
    smtp_cmd_parser_del(p);
    CHECK_INT(cnt.live, 0);
    CHECK_INT(smtp_cmd_parser_new_versioned(&p, 1, NULL, 1, NULL, NULL, NULL), 0);
    smtp_cmd_parser_del(p);
}

static void test_parser_read(void)
{
    struct rec r = {0};
    smtp_cmd_callbacks cb = {rec_command, rec_sasl};
    CHECK_INT(smtp_cmd_parser_new(&r.p, &cb, NULL, NULL, &r), 0);
    CHECK_INT(smtp_cmd_parser_read(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_cmd_parser_read(r.p, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_cmd_parser_read(r.p, NULL, 0), 0);
    CHECK_INT(smtp_cmd_parser_expect_sasl(NULL), SMTP_ERR_INVALID_ARGUMENT);
    /* Zero copy: a whole line's span points into the caller's data. */
    const char in[] = "NOOP\r\nRSET\r\n";
    CHECK_INT(smtp_cmd_parser_read(r.p, in, sizeof in - 1), 12);
    CHECK_INT(r.commands, 2);
    CHECK(r.last_line_ptr == in + 6);
    /* Pause after DATA: the payload is left unconsumed. */
    r.pause_on = SMTP_VERB_DATA;
    const char grp[] = "MAIL FROM:<a@b>\r\nDATA\r\nSubject: x\r\n";
    CHECK_INT(smtp_cmd_parser_read(r.p, grp, sizeof grp - 1), 23);
    CHECK_INT(r.last_verb, SMTP_VERB_DATA);
    /* STARTTLS: nothing after it is consumed, even when split inside the STARTTLS line. */
    r.pause_on = SMTP_VERB_STARTTLS;
    CHECK_INT(smtp_cmd_parser_read(r.p, "START", 5), 5);
    CHECK_INT(smtp_cmd_parser_read(r.p, "TLS\r\nMAIL FROM:<x@y>\r\n", 22), 5);
    CHECK_INT(r.last_verb, SMTP_VERB_STARTTLS);
    /* SASL mode armed between reads, then from the AUTH callback. */
    int before = r.commands;
    CHECK_INT(smtp_cmd_parser_expect_sasl(r.p), 0);
    CHECK_INT(smtp_cmd_parser_read(r.p, "QUIT\r\nQUIT\r\n", 12), 12);
    CHECK_INT(r.sasl, 1);
    CHECK_INT(r.commands, before + 1);
    r.arm_sasl_on_auth = 1;
    CHECK_INT(smtp_cmd_parser_read(r.p, "AUTH LOGIN\r\ndXNlcg==\r\nNOOP\r\n", 28), 28);
    CHECK_INT(r.sasl, 2);
    CHECK_INT(r.last_verb, SMTP_VERB_NOOP);
    smtp_cmd_parser_del(r.p);
}

static int fail_command(smtp_cmd_parser *parser, const smtp_cmd *c, void *ud)
{
    (void)parser;
    (void)c;
    (*(int *)ud)++;
    return -5;
}

/* The callbacks get their parser; reading it again from inside is refused (not sticky). */
static int reenter_command(smtp_cmd_parser *parser, const smtp_cmd *c, void *ud)
{
    (void)c;
    *(smtp_ssize *)ud = smtp_cmd_parser_read(parser, "NOOP\r\n", 6);
    return 0;
}

static void test_parser_reentry(void)
{
    smtp_ssize inner = 1;
    smtp_cmd_parser *p;
    smtp_cmd_callbacks cb = {reenter_command, NULL};
    CHECK_INT(smtp_cmd_parser_new(&p, &cb, NULL, NULL, &inner), 0);
    CHECK_INT(smtp_cmd_parser_read(p, "RSET\r\n", 6), 6);
    CHECK_INT(inner, SMTP_ERR_INVALID_STATE);
    inner = 1;
    CHECK_INT(smtp_cmd_parser_read(p, "RSET\r\n", 6), 6); /* the guard left no error */
    CHECK_INT(inner, SMTP_ERR_INVALID_STATE);
    smtp_cmd_parser_del(p);
}

static void test_parser_sticky_failure(void)
{
    int calls = 0;
    smtp_cmd_parser *p;
    smtp_cmd_callbacks cb = {fail_command, NULL};
    CHECK_INT(smtp_cmd_parser_new(&p, &cb, NULL, NULL, &calls), 0);
    CHECK_INT(smtp_cmd_parser_read(p, "NOOP\r\nNOOP\r\n", 12), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(calls, 1);
    CHECK_INT(smtp_cmd_parser_read(p, "NOOP\r\n", 6), SMTP_ERR_CALLBACK_FAILURE);
    CHECK_INT(calls, 1);
    smtp_cmd_parser_del(p);
    /* NULL callbacks: every line is consumed silently. */
    CHECK_INT(smtp_cmd_parser_new(&p, NULL, NULL, NULL, NULL), 0);
    CHECK_INT(smtp_cmd_parser_expect_sasl(p), 0);
    CHECK_INT(smtp_cmd_parser_read(p, "x\r\nFOO\r\nNOOP\r\n", 14), 14);
    smtp_cmd_parser_del(p);
}

/* ---- emitters ---- */

#define GUARD 0xA5

static char out[13000];

static void fill_guard(void)
{
    memset(out, GUARD, sizeof out);
}

static int untouched(void)
{
    for (size_t i = 0; i < sizeof out; i++) {
        if ((unsigned char)out[i] != GUARD) return 0;
    }
    return 1;
}

/* Checks a refusal: the expected error and not one byte written. */
#define CHECK_REFUSED(call, err)                                                                   \
    do {                                                                                           \
        fill_guard();                                                                              \
        CHECK_INT((call), (err));                                                                  \
        CHECK(untouched());                                                                        \
    } while (0)

#define CHECK_EMITS(call, want)                                                                    \
    do {                                                                                           \
        fill_guard();                                                                              \
        smtp_ssize n_ = (call);                                                                    \
        CHECK_INT(n_, (smtp_ssize)strlen(want));                                                   \
        if (n_ > 0) CHECK_MEM(out, (size_t)n_, (want));                                            \
        CHECK((unsigned char)out[n_ > 0 ? n_ : 0] == GUARD);                                       \
    } while (0)

static void test_emit_command(void)
{
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_EHLO, "c.example", 9),
                "EHLO c.example\r\n");
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_DATA, NULL, 0), "DATA\r\n");
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, NULL, 0), "NOOP\r\n");
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_HELP, "MAIL", 4), "HELP MAIL\r\n");
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_MAIL, "FROM:<a@b> SIZE=1", 17),
                "MAIL FROM:<a@b> SIZE=1\r\n");
    CHECK_EMITS(smtp_emit_command(out, sizeof out, SMTP_VERB_VRFY, "J\xC3\xA9r\xC3\xB4me", 8),
                "VRFY J\xC3\xA9r\xC3\xB4me\r\n");
    CHECK_EMITS(smtp_emit_command(out, 6, SMTP_VERB_QUIT, NULL, 0), "QUIT\r\n");
    CHECK_REFUSED(smtp_emit_command(out, 5, SMTP_VERB_QUIT, NULL, 0), SMTP_ERR_NOBUF);
    /* dest NULL, cap 0: the length the line would have, as smtp_emit_reply gives. */
    CHECK_INT(smtp_emit_command(NULL, 0, SMTP_VERB_QUIT, NULL, 0), 6);
    CHECK_INT(smtp_emit_mail(NULL, 0, "a@b", 3, "SIZE=10", 7), 25);
    CHECK_INT(smtp_emit_rcpt(NULL, 0, "a@b", 3, NULL, 0), 15);
    CHECK_INT(smtp_emit_bdat(NULL, 0, 1000, 1), 16);
    CHECK_INT(smtp_emit_auth(NULL, 0, "PLAIN", 5, "", 0), 14);
    CHECK_INT(smtp_emit_sasl_response(NULL, 0, "*", 1), 3);
    /* ...after every other check. */
    CHECK_INT(smtp_emit_command(NULL, 0, SMTP_VERB_QUIT, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_emit_command(NULL, 0, SMTP_VERB_NOOP, "\r\n", 2), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(NULL, 8, SMTP_VERB_QUIT, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_UNKNOWN, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, (smtp_verb)19, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_VRFY, NULL, 3),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_DATA, "x", 1),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_EHLO, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    /* Every control byte is refused, HTAB and DEL included, in any position. */
    for (int b = 0; b < 0x20; b++) {
        char arg[] = "a?b";
        arg[1] = (char)b;
        CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, arg, 3),
                      SMTP_ERR_UNSAFE_ARGUMENT);
        arg[1] = 'x';
        arg[2] = (char)b;
        CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, arg, 3),
                      SMTP_ERR_UNSAFE_ARGUMENT);
    }
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, "\x7f", 1),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_DATA, "\r\n", 2),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_EHLO, "x\r\nMAIL FROM:<evil@x>", 21),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    /* 512 octets with CRLF: "NOOP " + 505 + CRLF fits, one more does not. */
    char arg[12300];
    memset(arg, 'a', sizeof arg);
    CHECK_INT(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, arg, 505), 512);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_NOOP, arg, 506), SMTP_ERR_TOO_LONG);
    /* AUTH: 12288. */
    CHECK_INT(smtp_emit_command(out, sizeof out, SMTP_VERB_AUTH, arg, 12281), 12288);
    CHECK_REFUSED(smtp_emit_command(out, sizeof out, SMTP_VERB_AUTH, arg, 12282),
                  SMTP_ERR_TOO_LONG);
    /* Order of checks: unsafe before too long before no buffer. */
    arg[600] = '\n';
    CHECK_REFUSED(smtp_emit_command(out, 3, SMTP_VERB_NOOP, arg, 700), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_command(out, 3, SMTP_VERB_NOOP, arg, 550), SMTP_ERR_TOO_LONG);
}

static void test_emit_mail_rcpt(void)
{
    CHECK_EMITS(smtp_emit_mail(out, sizeof out, "a@b", 3, "SIZE=10", 7),
                "MAIL FROM:<a@b> SIZE=10\r\n");
    CHECK_EMITS(smtp_emit_mail(out, sizeof out, NULL, 0, NULL, 0), "MAIL FROM:<>\r\n");
    CHECK_EMITS(smtp_emit_mail(out, sizeof out, "\"a> b\"@c", 8, NULL, 0),
                "MAIL FROM:<\"a> b\"@c>\r\n");
    /* a quote opens a quoted string only at the local part's start (RFC 5321 4.1.2) */
    CHECK_EMITS(smtp_emit_mail(out, sizeof out, "a@[x:\"]", 7, NULL, 0),
                "MAIL FROM:<a@[x:\"]>\r\n");
    CHECK_EMITS(smtp_emit_rcpt(out, sizeof out, "@r:\"q> \"@y", 10, NULL, 0),
                "RCPT TO:<@r:\"q> \"@y>\r\n");
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a\"b> c\"@d", 9, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_EMITS(smtp_emit_rcpt(out, sizeof out, "x@y", 3, "NOTIFY=NEVER", 12),
                "RCPT TO:<x@y> NOTIFY=NEVER\r\n");
    CHECK_EMITS(smtp_emit_rcpt(out, 15, "x@y", 3, NULL, 0), "RCPT TO:<x@y>\r\n");
    CHECK_REFUSED(smtp_emit_rcpt(out, 14, "x@y", 3, NULL, 0), SMTP_ERR_NOBUF);
    CHECK_REFUSED(smtp_emit_rcpt(out, sizeof out, "", 0, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a@b> SIZE=1", 11, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a b@c", 5, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "\"ab@c", 5, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "\"a\\", 3, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a@b", 3, NULL, 2), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a\r\n@b", 5, NULL, 0), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, "a@b", 3, "SIZE=1\r\nRSET", 13),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_rcpt(out, sizeof out, "a@b", 3, "X=\t", 3), SMTP_ERR_UNSAFE_ARGUMENT);
    char box[600];
    memset(box, 'm', sizeof box);
    /* "MAIL FROM:<" 11 + box + ">" + CRLF = 512 with a box of 498. */
    CHECK_INT(smtp_emit_mail(out, sizeof out, box, 498, NULL, 0), 512);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, box, 499, NULL, 0), SMTP_ERR_TOO_LONG);
    /* HOLDFOR and HOLDUNTIL share one allowance of 40 (RFC 4865: only one may be given):
     * either alone raises the limit to 552, both together still to 552. " HOLDFOR=100" is 12
     * octets: a box of 498 + 40 - 12 = 526 fits, 527 does not. */
    CHECK_INT(smtp_emit_mail(out, sizeof out, box, 526, "HOLDFOR=100", 11), 552);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, box, 527, "HOLDFOR=100", 11), SMTP_ERR_TOO_LONG);
    CHECK_INT(smtp_emit_mail(out, sizeof out, box, 526, "HOLDUNTIL=2", 11), 552);
    CHECK_REFUSED(smtp_emit_mail(out, sizeof out, box, 517, "HOLDFOR=1 HOLDUNTIL=2", 21),
                  SMTP_ERR_TOO_LONG);
    CHECK_INT(smtp_emit_mail(out, sizeof out, box, 516, "HOLDFOR=1 HOLDUNTIL=2", 21), 552);
}

static void test_emit_bdat_auth_sasl(void)
{
    CHECK_EMITS(smtp_emit_bdat(out, sizeof out, 0, 1), "BDAT 0 LAST\r\n");
    CHECK_EMITS(smtp_emit_bdat(out, sizeof out, 1000, 0), "BDAT 1000\r\n");
    CHECK_EMITS(smtp_emit_bdat(out, sizeof out, UINT64_MAX, 1),
                "BDAT 18446744073709551615 LAST\r\n");
    CHECK_REFUSED(smtp_emit_bdat(out, 12, 1000, 1), SMTP_ERR_NOBUF);
    CHECK_REFUSED(smtp_emit_bdat(NULL, 1, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_EMITS(smtp_emit_auth(out, sizeof out, "PLAIN", 5, "AGEAYg==", 8),
                "AUTH PLAIN AGEAYg==\r\n");
    CHECK_EMITS(smtp_emit_auth(out, sizeof out, "EXTERNAL", 8, "", 0), "AUTH EXTERNAL =\r\n");
    CHECK_EMITS(smtp_emit_auth(out, sizeof out, "SCRAM-SHA-1", 11, NULL, 0),
                "AUTH SCRAM-SHA-1\r\n");
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "", 0, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    /* A NULL initial response with a length is the caller's error, not a read of NULL. */
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "PLAIN", 5, NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(NULL, 4, "PLAIN", 5, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "ABCDEFGHIJKLMNOPQRSTU", 21, NULL, 0),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "PL AIN", 6, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "PLAIN", 5, "a b", 3), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "PLAIN", 5, "ab\r\n", 4),
                  SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "PL\0IN", 5, NULL, 0), SMTP_ERR_UNSAFE_ARGUMENT);
    static char b64[12300];
    memset(b64, 'Q', sizeof b64);
    /* "AUTH GSSAPI " 12 + ir + CRLF = 12288 with 12274 octets. */
    CHECK_INT(smtp_emit_auth(out, sizeof out, "GSSAPI", 6, b64, 12274), 12288);
    CHECK_REFUSED(smtp_emit_auth(out, sizeof out, "GSSAPI", 6, b64, 12275), SMTP_ERR_TOO_LONG);
    CHECK_EMITS(smtp_emit_sasl_response(out, sizeof out, "*", 1), "*\r\n");
    CHECK_EMITS(smtp_emit_sasl_response(out, sizeof out, NULL, 0), "\r\n");
    CHECK_EMITS(smtp_emit_sasl_response(out, sizeof out, "dXNlcg==", 8), "dXNlcg==\r\n");
    CHECK_INT(smtp_emit_sasl_response(out, sizeof out, b64, 12286), 12288);
    CHECK_REFUSED(smtp_emit_sasl_response(out, sizeof out, b64, 12287), SMTP_ERR_TOO_LONG);
    CHECK_REFUSED(smtp_emit_sasl_response(out, sizeof out, "**", 2), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_sasl_response(out, sizeof out, "QUIT now", 8),
                  SMTP_ERR_INVALID_ARGUMENT);
    CHECK_REFUSED(smtp_emit_sasl_response(out, sizeof out, "dX\nNl", 5), SMTP_ERR_UNSAFE_ARGUMENT);
    CHECK_REFUSED(smtp_emit_sasl_response(out, 9, "dXNlcg==", 8), SMTP_ERR_NOBUF);
}

/* What the emitters write, the parser reads back with the same spans. */
static void test_round_trip(void)
{
    smtp_cmd c;
    smtp_ssize n = smtp_emit_mail(out, sizeof out, "\"x y\"@z", 7, "BODY=8BITMIME", 13);
    CHECK(n > 2);
    CHECK_INT(smtp_cmd_parse(out, (size_t)n - 2, SMTP_CMD_STRICT_PATH_SPACE, &c), 0);
    CHECK_MEM(c.path.ptr, c.path.len, "<\"x y\"@z>");
    CHECK_MEM(c.params.ptr, c.params.len, "BODY=8BITMIME");
    n = smtp_emit_bdat(out, sizeof out, 123456789, 1);
    CHECK_INT(smtp_cmd_parse(out, (size_t)n - 2, 0, &c), 0);
    CHECK(c.chunk_size == 123456789 && c.last == 1);
    n = smtp_emit_auth(out, sizeof out, "PLAIN", 5, "", 0);
    CHECK_INT(smtp_cmd_parse(out, (size_t)n - 2, 0, &c), 0);
    CHECK_MEM(c.initial_response.ptr, c.initial_response.len, "=");
    for (int v = SMTP_VERB_HELO; v <= SMTP_VERB_XFORWARD; v++) {
        int no_arg = v == SMTP_VERB_DATA || v == SMTP_VERB_RSET || v == SMTP_VERB_QUIT ||
                     v == SMTP_VERB_STARTTLS;
        const char *arg = v == SMTP_VERB_MAIL   ? "FROM:<a@b>"
                          : v == SMTP_VERB_RCPT ? "TO:<a@b>"
                          : v == SMTP_VERB_BDAT ? "10"
                          : no_arg              ? ""
                                                : "x";
        n = smtp_emit_command(out, sizeof out, (smtp_verb)v, arg, strlen(arg));
        CHECK(n > 2);
        CHECK_INT(smtp_cmd_parse(out, (size_t)n - 2, 0, &c), 0);
        CHECK_INT(c.verb, v);
    }
}

int main(void)
{
    test_framer_zero_copy();
    test_framer_too_long();
    test_framer_line_ends();
    test_framer_init_errors();
    test_parse_verbs();
    test_parse_errors();
    test_error_reply();
    test_parser_new();
    test_parser_versions();
    test_parser_read();
    test_parser_sticky_failure();
    test_parser_reentry();
    test_emit_command();
    test_emit_mail_rcpt();
    test_emit_bdat_auth_sasl();
    test_round_trip();
    return check_finish();
}
