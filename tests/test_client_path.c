/* SPDX-License-Identifier: MIT */
/*
 * The client's check of an address at submission has a fast path, smtp_cli_plain_mailbox, for
 * a plain ASCII local@domain; anything else goes to the full checks (no control octet, then
 * smtp_path_parse). This test shows that the two ways accept and refuse the same addresses:
 * over every input of the path vectors (tests/vectors/path) and a generated set (every string
 * of a small alphabet up to 7 octets, and every one-octet change of addresses at the limits),
 *  1. whatever the fast path accepts, the full checks accept too, as a domain name without
 *     UTF-8 (so that skipping them changes nothing);
 *  2. smtp_client_submit, with the address as the sender and as the recipient, returns what
 *     the full checks alone say (the checks as they were before the fast path, written out
 *     below with the public parser).
 * It also counts that both ways are taken: the fast path and, for valid addresses it leaves
 * alone (quoted, literal, UTF-8, Postmaster...), the fallback.
 */
#include "check.h"

#include "client_internal.h"

#include <smtp/client.h>
#include <smtp/path.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    long inputs, plain, fallback_ok, refused;
} stats;

/* The full checks of an address, as client_txn.c made them before the fast path: 0,
 * SMTP_ERR_UNSAFE_ARGUMENT or SMTP_ERR_INVALID_ARGUMENT; the sender "" is the null path. */
static int full_check(const char *a, size_t n, int rcpt, int *utf8)
{
    smtp_path p;
    bool open_quote;
    *utf8 = 0;
    if (smtp_span_has_ctl(a, n)) return SMTP_ERR_UNSAFE_ARGUMENT;
    if (!rcpt && n == 0) return 0;
    if (n > 0 && a[0] == '<') return SMTP_ERR_INVALID_ARGUMENT;
    unsigned flags = SMTP_PATH_UTF8 | SMTP_PATH_LENIENT_BRACKETS;
    if (rcpt) flags |= SMTP_PATH_ALLOW_POSTMASTER;
    if (smtp_path_parse(a, n, flags, &p) != 0) return SMTP_ERR_INVALID_ARGUMENT;
    if (p.domain.kind == SMTP_DOMAIN_GENERAL &&
        (smtp_path_scan(a, n, true, &open_quote) != n || open_quote))
        return SMTP_ERR_INVALID_ARGUMENT;
    *utf8 = (p.flags & SMTP_PATH_F_UTF8) != 0;
    return 0;
}

/* ---- submission through the public API ---- */

static smtp_client *cli;

static int submit(const char *sender, const char *rcpt)
{
    if (!cli) {
        smtp_client_settings s;
        smtp_client_settings_init(&s);
        s.max_recipients = 1;
        s.max_body_buffer = 64;
        s.max_reply_text = 64;
        smtp_client_callbacks cb;
        memset(&cb, 0, sizeof cb);
        if (smtp_client_new(&cli, &cb, &s, NULL, NULL) != 0) abort();
    }
    smtp_client_rcpt r = {.address = rcpt, .notify = 0, .orcpt = NULL};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = sender;
    m.rcpts = &r;
    m.nrcpts = 1;
    int rv = smtp_client_submit(cli, &m);
    if (rv == 0) { /* taken: the next message needs a client of its own */
        smtp_client_del(cli);
        cli = NULL;
    }
    return rv;
}

/* One address (a C string) both ways. */
static void one(const char *a)
{
    size_t n = strlen(a);
    int u_mail, u_rcpt;
    int want_mail = full_check(a, n, 0, &u_mail), want_rcpt = full_check(a, n, 1, &u_rcpt);
    stats.inputs++;
    if (smtp_cli_plain_mailbox(a, n)) {
        stats.plain++;
        smtp_path p;
        int ok = want_mail == 0 && want_rcpt == 0 && !u_mail &&
                 smtp_path_parse(a, n, SMTP_PATH_LENIENT_BRACKETS, &p) == 0 &&
                 p.domain.kind == SMTP_DOMAIN_NAME && !(p.flags & SMTP_PATH_F_UTF8);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  the fast path took \"%s\"\n", a);
    } else if (want_rcpt == 0 || (want_mail == 0 && n > 0)) {
        stats.fallback_ok++;
    } else {
        stats.refused++;
    }
    int got_mail = submit(a, "r@example.net"), got_rcpt = submit("s@example.org", a);
    CHECK_INT(got_mail, want_mail);
    CHECK_INT(got_rcpt, want_rcpt);
    if (got_mail != want_mail || got_rcpt != want_rcpt) fprintf(stderr, "  address \"%s\"\n", a);
}

/* ---- the path vectors ---- */

/* Undoes the vector notation (tests/vec.h) of one input; NUL is left out (a C string). */
static size_t unescape(const char *s, char *out)
{
    size_t o = 0;
    for (; *s; s++) {
        if (*s == '\n') continue;
        if (*s != '\\' || !s[1]) {
            out[o++] = *s;
            continue;
        }
        char c = *++s;
        if (c == 'r')
            out[o++] = '\r';
        else if (c == 'n')
            out[o++] = '\n';
        else if (c == 't')
            out[o++] = '\t';
        else if (c == 's')
            out[o++] = ' ';
        else if (c == '0')
            continue;
        else if (c == 'x' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            s += 2;
        } else
            out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

static void vector_file(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return;
    }
    char line[4096], input[8192], addr[8192];
    size_t il = 0;
    int in_input = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (strncmp(line, "---", 3) == 0 || strncmp(line, "===", 3) == 0) {
            if (in_input) { /* the input as it is, and without its brackets */
                input[il] = '\0';
                size_t n = unescape(input, addr);
                one(addr);
                if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
                    addr[n - 1] = '\0';
                    one(addr + 1);
                }
                cases++;
            }
            in_input = strncmp(line, "--- input", 9) == 0;
            il = 0;
            continue;
        }
        if (in_input && il + strlen(line) < sizeof input) {
            memcpy(input + il, line, strlen(line));
            il += strlen(line);
        }
    }
    fclose(f);
    CHECK(cases > 0);
}

static void test_vectors(void)
{
    static const char *const files[] = {"basic",  "domain", "helo", "ipv6",
                                        "limits", "local",  "utf8"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/path/%s.vec", SMTP_TEST_VECTORS, files[i]);
        vector_file(path);
    }
}

/* ---- generated addresses ---- */

/* Every string of "a-.@0" of 0 to 7 octets: the shapes of dots, hyphens, labels and '@'. */
static void test_small_alphabet(void)
{
    static const char alpha[] = "a-.@0";
    char s[8];
    for (int len = 0; len <= 7; len++) {
        long total = 1;
        for (int i = 0; i < len; i++)
            total *= 5;
        for (long k = 0; k < total; k++) {
            long v = k;
            for (int i = 0; i < len; i++, v /= 5)
                s[i] = alpha[v % 5];
            s[len] = '\0';
            one(s);
        }
    }
}

/* An address of `local` and `label` octets in its first domain label, `labels` labels of 63
 * after it, then ".example": the limits of RFC 5321 4.5.3.1 and RFC 1035 2.3.4. */
static void make(char *out, int local, int label, int labels)
{
    char *o = out;
    for (int i = 0; i < local; i++)
        *o++ = (char)('a' + i % 26);
    *o++ = '@';
    for (int i = 0; i < label; i++)
        *o++ = (char)('b' + i % 20);
    for (int l = 0; l < labels; l++) {
        *o++ = '.';
        for (int i = 0; i < 63; i++)
            *o++ = (char)('0' + i % 10);
    }
    memcpy(o, ".example", 9);
}

/* Every change of one octet (replaced, inserted, removed) of each seed, with octets that each
 * take a different way through the grammar. */
static void test_mutations(void)
{
    static const char seeds[][32] = {
        "a@b", "a.b@c.d",       "user@example.com", "a-b@c-d.e-f", "x@y.z0",
        "0@0", "\"q\"@example", "u@[1.2.3.4]",      "Postmaster",  "a!#$%&'*+/=?^_`{|}~@x"};
    static const char subst[] = "aZ09-._@\"[]<>\\ ,:;()+!#{}\t\x01\x1f\x7f\xc3\xa9\xff";
    char big[5][300];
    make(big[0], 64, 1, 0); /* the longest local part */
    make(big[1], 65, 1, 0); /* one octet too many */
    make(big[2], 1, 63, 0); /* the longest label */
    make(big[3], 1, 64, 0); /* one too many */
    make(big[4], 2, 5, 3);  /* 2 + 1 + 5 + 3 * 64 + 8 = 208 octets */
    char s[400];
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0] + 5; k++) {
        const char *seed =
            k < sizeof seeds / sizeof seeds[0] ? seeds[k] : big[k - sizeof seeds / sizeof seeds[0]];
        size_t n = strlen(seed);
        one(seed);
        for (size_t i = 0; i <= n; i++) {
            if (i < n) { /* removed */
                memcpy(s, seed, i);
                memcpy(s + i, seed + i + 1, n - i);
                one(s);
            }
            for (size_t c = 0; c + 1 < sizeof subst; c++) {
                memcpy(s, seed, i); /* inserted */
                s[i] = subst[c];
                memcpy(s + i + 1, seed + i, n - i + 1);
                one(s);
                if (i < n) { /* replaced */
                    memcpy(s, seed, n + 1);
                    s[i] = subst[c];
                    one(s);
                }
            }
        }
    }
    /* Whole paths around 254 octets (256 with the brackets): labels of 63 fill it. */
    for (int local = 20; local <= 30; local++)
        for (int label = 20; label <= 30; label++) {
            make(s, local, label, 3); /* local + 1 + label + 192 + 8: 241 to 261 octets */
            one(s);
        }
}

int main(void)
{
    test_vectors();
    test_small_alphabet();
    test_mutations();
    smtp_client_del(cli);
    printf("%ld addresses: %ld by the fast path, %ld valid by the fallback, %ld refused\n",
           stats.inputs, stats.plain, stats.fallback_ok, stats.refused);
    /* Both ways were taken, and the limits on both sides of the fast path's bounds. */
    CHECK(stats.plain > 1000);
    CHECK(stats.fallback_ok > 100);
    CHECK(stats.refused > 1000);
    return check_finish();
}
