/* SPDX-License-Identifier: MIT */
/*
 * The shortcuts the client engine's common case takes, each against a plain reference over
 * every input of a generated set, so that a shortcut and the way it falls back to both give the
 * reference's answer:
 *  - smtp_enhanced_prefix (the common "2.1.0" at once, else the loops), over every string of
 *    "0125.x " up to 7 octets, for codes of each class.
 */
#include "check.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>

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
    printf("enhanced codes: %ld cases\n", cases);
}

int main(void)
{
    test_enhanced_prefix();
    return check_finish();
}
