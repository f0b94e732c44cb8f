/* SPDX-License-Identifier: MIT */
/*
 * The server's check of a reply's text (smtp_srv_check_text, lib/server_decide.c), which looks
 * at 16 octets (SSE2) or a word at a time, against the octet-by-octet loop it replaced: every
 * octet value at every position of texts of 0-80 octets on several backgrounds, relayed or
 * not, on the SIMD path and on the portable one. Each text is copied into a heap block of its
 * exact size, so that a sanitizer build sees any read past its end.
 */
#include "check.h"
#include "scan.h"
#include "server_internal.h"

#include <stdlib.h>

/* The reference: the loop of check_text before it scanned blocks. */
static int reference(const char *text, size_t len, int relay)
{
    if (!text && len) return SMTP_ERR_INVALID_ARGUMENT;
    if (len > SMTP_SRV_MAX_TEXT) return SMTP_ERR_INVALID_ARGUMENT;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' && relay) {
            if (++lines > SMTP_SERVER_MAX_RELAY_LINES) return SMTP_ERR_INVALID_ARGUMENT;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return SMTP_ERR_UNSAFE_ARGUMENT;
        }
    }
    return 0;
}

/* The background octet at position i of text number `bg`. */
static char background(int bg, size_t i)
{
    switch (bg) {
    case 0: return 'x';                       /* plain text */
    case 1: return i % 5 == 4 ? '\n' : 'x';   /* lines of 5: 16 LFs by 80 octets */
    case 2: return i % 3 == 0 ? '\t' : '~';   /* TAB, and the last printable octet */
    case 3: return i % 7 == 6 ? '\x7f' : ' '; /* DEL after every 6 spaces */
    default: return (char)(0x80 | (i * 37));  /* octets above 0x7F only */
    }
}
#define BACKGROUNDS 5

/* Compares one text both ways; returns 1 when they agree. */
static int agree(const char *text, size_t len, int relay)
{
    char *copy = calloc(len ? len : 1, 1); /* calloc: gcc -O2 sees a 0-length text as read */
    if (!copy) return 0;
    if (len) memcpy(copy, text, len);
    int got = smtp_srv_check_text(copy, len, relay), want = reference(copy, len, relay);
    free(copy);
    if (got == want) return 1;
    fprintf(stderr, "length %zu, relay %d: %d, want %d; text:", len, relay, got, want);
    for (size_t i = 0; i < len; i++)
        fprintf(stderr, " %02x", (unsigned char)text[i]);
    fprintf(stderr, "\n");
    return 0;
}

/* Every octet value at every position of every length 0-80 on every background. */
static void test_every_octet(void)
{
    char text[80];
    long differ = 0, runs = 0;
    for (int bg = 0; bg < BACKGROUNDS; bg++) {
        for (size_t len = 0; len <= sizeof text; len++) {
            for (size_t i = 0; i < len; i++)
                text[i] = background(bg, i);
            for (int relay = 0; relay <= 1; relay++) {
                runs++;
                if (!agree(text, len, relay)) differ++;
                for (size_t pos = 0; pos < len; pos++) {
                    for (int c = 0; c < 256; c++) {
                        text[pos] = (char)c;
                        runs++;
                        if (!agree(text, len, relay) && ++differ > 20) {
                            CHECK_INT(differ, 0);
                            return;
                        }
                    }
                    text[pos] = background(bg, pos);
                }
            }
        }
    }
    CHECK_INT(differ, 0);
    CHECK(runs > 5 * 81 * 2 * 40 * 256);
}

/* The limits: the length, the lines of a relayed text, NULL. */
static void test_limits(void)
{
    char text[SMTP_SRV_MAX_TEXT + 1];
    memset(text, 'x', sizeof text);
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT, 0), 0);
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT + 1, 0), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_srv_check_text(NULL, 0, 1), 0);
    CHECK_INT(smtp_srv_check_text(NULL, 1, 1), SMTP_ERR_INVALID_ARGUMENT);
    /* SMTP_SERVER_MAX_RELAY_LINES lines, then one more, the LFs 20 octets apart. */
    for (size_t i = 1; i < SMTP_SERVER_MAX_RELAY_LINES; i++)
        text[20 * i] = '\n';
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT, 1), 0);
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT, 0), SMTP_ERR_UNSAFE_ARGUMENT);
    text[SMTP_SRV_MAX_TEXT - 1] = '\n';
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT, 1), SMTP_ERR_INVALID_ARGUMENT);
    /* The line too many comes first: it decides, not the control after it. */
    text[SMTP_SRV_MAX_TEXT - 1] = '\r';
    text[SMTP_SRV_MAX_TEXT - 20] = '\n';
    CHECK_INT(smtp_srv_check_text(text, SMTP_SRV_MAX_TEXT, 1), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(reference(text, SMTP_SRV_MAX_TEXT, 1), SMTP_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    /* The SIMD path where this build has one, then the portable one. */
    for (int portable = !smtp_scan_has_simd; portable <= 1; portable++) {
        smtp_scan_portable = portable;
        test_every_octet();
        test_limits();
    }
    smtp_scan_portable = 0;
    return check_finish();
}
