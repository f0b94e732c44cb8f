/* SPDX-License-Identifier: MIT */
/*
 * The shortcuts the client engine's common case takes, each against a plain reference over
 * every input of a generated set, so that a shortcut and the way it falls back to both give the
 * reference's answer:
 *  - smtp_span_has_ctl (SSE2: 16 octets at a time, the last block overlapping; else a word at a
 *    time), with every control octet and its neighbours at every position of spans of 0 to 80
 *    octets, the scanner's SIMD and portable ways both (smtp_scan_portable);
 *  - smtp_enhanced_prefix (the common "2.1.0" at once, else the loops), over every string of
 *    "0125.x " up to 7 octets, for codes of each class.
 */
#include "check.h"

#include "scan.h"

#include <stdio.h>
#include <string.h>

static bool ref_has_ctl(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f) return true;
    return false;
}

static void test_has_ctl(void)
{
    /* Each control octet, and the octets next to the classes' bounds that are none. */
    static const unsigned char probes[] = {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1e, 0x1f, 0x7f,
                                           0x20, 0x21, 0x7e, 0x80, 0x9f, 0xa0, 0xfe, 0xff};
    char buf[96];
    long cases = 0, wrong = 0;
    for (int portable = 0; portable <= 1; portable++) {
        smtp_scan_portable = portable;
        for (size_t n = 0; n <= 80; n++) {
            for (size_t at = 0; at <= n; at++) { /* at == n: no probe, a clean span */
                for (size_t k = 0; k < sizeof probes; k++) {
                    memset(buf, 'a', sizeof buf);
                    buf[n] = 0x01; /* past the span: must not be seen */
                    if (at < n) buf[at] = (char)probes[k];
                    cases++;
                    if (smtp_span_has_ctl(buf, n) != ref_has_ctl(buf, n)) {
                        wrong++;
                        fprintf(stderr, "has_ctl: n=%zu at=%zu octet=0x%02x portable=%d\n", n, at,
                                probes[k], portable);
                    }
                    if (at == n) break;
                }
            }
        }
    }
    smtp_scan_portable = 0;
    CHECK(cases > 10000);
    CHECK_INT(wrong, 0);
}

/* RFC 3463 2: class "." subject "." detail, 1 to 3 digits each, the class the reply's. */
static size_t ref_enhanced(const char *s, size_t len, int code)
{
    int cls = code / 100;
    size_t i = 0;
    if ((cls != 2 && cls != 4 && cls != 5) || len < 2 || s[0] != '0' + cls || s[1] != '.') return 0;
    i = 2;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 3) return 0;
        if (part == 0) {
            if (i >= len || s[i] != '.') return 0;
            i++;
        }
    }
    return i;
}

static void test_enhanced_prefix(void)
{
    static const char alpha[] = "0125.x ";
    static const int codes[] = {250, 354, 421, 550, 199};
    const int na = (int)sizeof alpha - 1;
    char s[8];
    long cases = 0, wrong = 0, found = 0;
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        for (int len = 0; len <= 7; len++) {
            long total = 1;
            for (int i = 0; i < len; i++)
                total *= na;
            for (long k = 0; k < total; k++) {
                long v = k;
                for (int i = 0; i < len; i++, v /= na)
                    s[i] = alpha[v % na];
                size_t got = smtp_enhanced_prefix(s, (size_t)len, codes[c]);
                size_t want = ref_enhanced(s, (size_t)len, codes[c]);
                cases++;
                found += want > 0;
                if (got != want) {
                    wrong++;
                    fprintf(stderr, "enhanced: \"%.*s\" code %d: %zu, want %zu\n", len, s, codes[c],
                            got, want);
                }
            }
        }
    }
    CHECK(found > 1000); /* the shortcut's form and the longer ones are among them */
    CHECK_INT(wrong, 0);
    CHECK_INT(smtp_enhanced_prefix("2.1.0 Ok", 8, 250), 5);
    CHECK_INT(smtp_enhanced_prefix("2.1.10 Ok", 9, 250), 6);
    CHECK_INT(smtp_enhanced_prefix("2.1.0000", 8, 250), 0);
    printf("has_ctl and enhanced codes: %ld enhanced-code cases\n", cases);
}

int main(void)
{
    test_has_ctl();
    test_enhanced_prefix();
    return check_finish();
}
