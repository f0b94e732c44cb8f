/* SPDX-License-Identifier: MIT */
/* Unit tests of smtp_idn_to_ascii (<smtp/idn.h>) against libidn2: U-labels to A-labels, ASCII
 * domains unchanged, refusals of what IDNA2008 or RFC 5321 refuse, the length limits and the
 * output buffer; then the client engine with it (the helo_name, an address to a server without
 * SMTPUTF8). */
#include "check.h"

#include <smtp/client.h>
#include <smtp/idn.h>

#include <stdio.h>
#include <string.h>

/* Converts `in` (NUL-terminated) into a buffer of `cap` octets: the result, or its error. */
static int conv(const char *in, size_t cap, char *out)
{
    return smtp_idn_to_ascii(in, strlen(in), out, cap);
}

static void check_one(const char *in, const char *want)
{
    char out[256];
    int n = conv(in, sizeof out, out);
    CHECK_INT(n, (int)strlen(want));
    if (n >= 0) {
        CHECK_STR(out, want);
        CHECK_INT(out[n], '\0');
    }
}

static void test_conversions(void)
{
    check_one("b\xc3\xbc"
              "cher.example",
              "xn--bcher-kva.example");
    check_one("info.m\xc3\xbc"
              "nchen.example",
              "info.xn--mnchen-3ya.example");
    /* UTS #46 mapping: case folded in every label once one is converted; NFC */
    check_one("B\xc3\x9c"
              "CHER.Example",
              "xn--bcher-kva.example");
    check_one("bu\xcc\x88"
              "cher.example", /* u and U+0308 COMBINING DIAERESIS: NFC makes it u-umlaut */
              "xn--bcher-kva.example");
    /* non-transitional: sharp s stays (transitional processing would give "strasse") */
    check_one("stra\xc3\x9f"
              "e.example",
              "xn--strae-oqa.example");
    /* a Japanese name whose labels are separated by the ideographic full stop U+3002 */
    check_one("\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
              "xn--r8jz45g.xn--zckzah");
    /* an A-label beside a U-label is checked and kept */
    check_one("xn--bcher-kva.m\xc3\xbc"
              "nchen.example",
              "xn--bcher-kva.xn--mnchen-3ya.example");
}

static void test_ascii_unchanged(void)
{
    /* nothing to convert: copied as given (case kept, "xn--" labels not decoded) */
    check_one("Example.COM", "Example.COM");
    check_one("xn--bcher-kva.example", "xn--bcher-kva.example");
    check_one("xn--zz.example", "xn--zz.example");
    check_one("[192.0.2.1]", "[192.0.2.1]");
    check_one("[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]");
    check_one("localhost", "localhost");
}

static void test_refused(void)
{
    static const struct {
        const char *in;
        int err;
    } bad[] = {
        /* not a domain (RFC 5321 4.1.2): empty, an empty label, a final dot, not LDH */
        {"", SMTP_ERR_SYNTAX},
        {"a..b\xc3\xbc", SMTP_ERR_SYNTAX},
        {"b\xc3\xbc.example.", SMTP_ERR_SYNTAX},
        {"a_b.b\xc3\xbc.example", SMTP_ERR_SYNTAX},
        {"b\xc3\xbc c.example", SMTP_ERR_SYNTAX},
        /* malformed UTF-8: a lone continuation byte, an overlong form */
        {"\x80.example", SMTP_ERR_UTF8},
        {"\xc0\xae.example", SMTP_ERR_UTF8},
        /* IDNA2008: a disallowed code point (U+2603 SNOWMAN), hyphens in the third and fourth
         * places, a leading combining mark, an "xn--" label that is not Punycode */
        {"\xe2\x98\x83.example", SMTP_ERR_UTF8},
        {"ab--\xc3\xbc.example", SMTP_ERR_SYNTAX},
        {"\xcc\x88z.example", SMTP_ERR_SYNTAX},
        {"xn--zz.b\xc3\xbc.example", SMTP_ERR_SYNTAX},
    };
    char out[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(conv(bad[i].in, sizeof out, out), bad[i].err);
    /* arguments */
    CHECK_INT(smtp_idn_to_ascii(NULL, 1, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_idn_to_ascii("a", 1, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
    /* not NUL-terminated: only `len` octets are read */
    char in[] = {'b', '\xc3', '\xbc', 'c', 'h', 'e', 'r', '.', 'x', 'y', 'z'};
    CHECK_INT(smtp_idn_to_ascii(in, 8 + 1, out, sizeof out), 15);
    CHECK_STR(out, "xn--bcher-kva.x");
}

/* n labels "u-umlaut" (3 octets each with their dots, 8 once converted), then "example". */
static void ulabels(char *in, int n)
{
    for (int i = 0; i < n; i++)
        memcpy(in + 3 * i, "\xc3\xbc.", 3);
    strcpy(in + 3 * n, "example");
}

static void test_limits(void)
{
    char in[600], out[600];
    /* a label of 56 letters and a u-umlaut: an A-label of 64 octets (over 63) */
    memset(in, 'a', 56);
    strcpy(in + 56, "\xc3\xbc.example");
    CHECK_INT(conv(in, sizeof out, out), SMTP_ERR_TOO_LONG);
    /* 55 letters: an A-label of 63 octets, the longest */
    memmove(in, in + 1, strlen(in + 1) + 1);
    int n = conv(in, sizeof out, out);
    CHECK_INT(n, 63 + 8);
    /* within 255 octets in UTF-8, over 255 once converted */
    ulabels(in, 40);
    CHECK_INT(conv(in, sizeof out, out), SMTP_ERR_TOO_LONG);
    /* 30 labels: 247 octets converted */
    ulabels(in, 30);
    n = conv(in, sizeof out, out);
    CHECK_INT(n, 30 * 8 + 7);
    /* the output buffer: the A-label form and its NUL */
    CHECK_INT(conv(in, (size_t)n, out), SMTP_ERR_NOBUF);
    CHECK_INT(conv(in, (size_t)n + 1, out), n);
    CHECK_INT(conv("Example.COM", 11, out), SMTP_ERR_NOBUF);
    CHECK_INT(conv("Example.COM", 12, out), 11);
    /* over 255 octets before any conversion */
    ulabels(in, 90);
    CHECK_INT(conv(in, sizeof out, out), SMTP_ERR_TOO_LONG);
}

/* ---- the client engine with smtp_idn_to_ascii ---- */

static char last_out[1024];
static size_t last_len;

static void pump(smtp_client *c, const char *in)
{
    smtp_ssize n = smtp_client_read(c, in, strlen(in));
    CHECK_INT(n, (smtp_ssize)strlen(in));
    last_len = 0;
    while ((n = smtp_client_write(c, last_out + last_len, sizeof last_out - last_len)) > 0)
        last_len += (size_t)n;
    last_out[last_len] = '\0';
}

static void test_client(void)
{
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "mail.b\xc3\xbc"
                  "cher.example";
    s.flags = SMTP_CLIENT_NO_PIPELINING;
    s.idna_to_ascii = smtp_idn_to_ascii;
    smtp_client *c;
    CHECK_INT(smtp_client_new(&c, NULL, &s, NULL, NULL), 0);
    smtp_client_rcpt r = {"info@b\xc3\xbc"
                          "cher.example",
                          0, NULL};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@m\xc3\xbc"
               "nchen.example";
    m.rcpts = &r;
    m.nrcpts = 1;
    CHECK_INT(smtp_client_submit(c, &m), 0);
    pump(c, "220 hi\r\n");
    CHECK_STR(last_out, "EHLO mail.xn--bcher-kva.example\r\n");
    pump(c, "250 mx\r\n");
    CHECK_STR(last_out, "MAIL FROM:<a@xn--mnchen-3ya.example>\r\n");
    pump(c, "250 ok\r\n");
    CHECK_STR(last_out, "RCPT TO:<info@xn--bcher-kva.example>\r\n");
    smtp_client_del(c);
}

int main(void)
{
    test_conversions();
    test_ascii_unchanged();
    test_refused();
    test_limits();
    test_client();
    return check_finish();
}
