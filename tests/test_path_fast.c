/* SPDX-License-Identifier: MIT */
/*
 * smtp_path_parse tries a fast path, smtp_path_parse_plain, for a plain "<local@domain>" and
 * leaves anything else to the full parser, smtp_path_parse_full (lib/path_internal.h). This
 * test runs both over the inputs of the path vectors (tests/vectors/path), every string of a
 * small alphabet up to 7 octets (bare and in brackets) and every one-octet change of paths at
 * each limit, under every combination of the input flags, and shows that
 *  1. smtp_path_parse returns what the full parser returns, and the same output struct, field
 *     by field (on errors too);
 *  2. whatever the fast path takes, the full parser accepts under every flag combination, with
 *     the same output struct, field by field;
 *  3. the fast path takes the paths at each limit (local part 64, label 63, path 256) and the
 *     full parser refuses the same paths one octet longer: a bound of the fast path moved by one
 *     either way fails here.
 * The output structs are filled with a pattern before each call, so a field the fast path
 * leaves unset shows.
 */
#include "check.h"

#include "path_internal.h"

#include <smtp/path.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_FLAGS 16u /* every combination of the four SMTP_PATH_* input flags */

static struct {
    long inputs, plain, fallback_ok, refused;
} stats;

static int same_span(smtp_span a, smtp_span b)
{
    return a.ptr == b.ptr && a.len == b.len;
}

/* Every field of the struct (padding aside). */
static int same_path(const smtp_path *a, const smtp_path *b)
{
    const smtp_domain *x = &a->domain, *y = &b->domain;
    return a->flags == b->flags && same_span(a->mailbox, b->mailbox) &&
           same_span(a->local, b->local) && same_span(a->route, b->route) && x->kind == y->kind &&
           same_span(x->text, y->text) && same_span(x->literal, y->literal) &&
           same_span(x->tag, y->tag) && memcmp(x->addr, y->addr, sizeof x->addr) == 0 &&
           x->utf8 == y->utf8 && a->error_at == b->error_at;
}

/* same_path knows the last field of each struct: a field added at the end fails here until
 * same_path and the fast path (which sets every field by name) know it too. */
static void test_layout(void)
{
    size_t dom = offsetof(smtp_domain, utf8) + sizeof(int), path;
    dom = (dom + _Alignof(smtp_domain) - 1) / _Alignof(smtp_domain) * _Alignof(smtp_domain);
    path = offsetof(smtp_path, error_at) + sizeof(size_t);
    CHECK_INT(sizeof(smtp_domain), dom);
    CHECK_INT(sizeof(smtp_path), path);
    CHECK_INT(offsetof(smtp_path, domain) + sizeof(smtp_domain), offsetof(smtp_path, error_at));
}

static void report(const char *what, const char *s, size_t n, unsigned flags)
{
    fprintf(stderr, "  %s: \"", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\" (%zu octets), flags 0x%x\n", n, flags);
}

/* One input, every way; returns whether the fast path took it. */
static int one(const char *s, size_t n)
{
    smtp_path full, pub, fast;
    stats.inputs++;
    memset(&fast, 0xa5, sizeof fast);
    int plain = smtp_path_parse_plain(s, n, &fast);
    CHECK(plain == 0 || plain == 1);
    for (unsigned flags = 0; flags < ALL_FLAGS; flags++) {
        memset(&full, 0x5a, sizeof full);
        memset(&pub, 0xa5, sizeof pub);
        int want = smtp_path_parse_full(s, n, flags, &full);
        int got = smtp_path_parse(s, n, flags, &pub);
        CHECK_INT(got, want);
        CHECK(same_path(&pub, &full));
        if (got != want || !same_path(&pub, &full)) report("smtp_path_parse differs", s, n, flags);
        if (plain && (want != 0 || !same_path(&fast, &full))) {
            CHECK(0);
            report("the fast path differs", s, n, flags);
        }
    }
    if (plain)
        stats.plain++;
    else if (smtp_path_parse_full(s, n,
                                  SMTP_PATH_ALLOW_NULL | SMTP_PATH_ALLOW_POSTMASTER |
                                      SMTP_PATH_UTF8 | SMTP_PATH_LENIENT_BRACKETS,
                                  &full) == 0)
        stats.fallback_ok++;
    else
        stats.refused++;
    return plain;
}

static int one_str(const char *s)
{
    return one(s, strlen(s));
}

/* The input bare, and between brackets when it has none. */
static void both(const char *s, size_t n)
{
    char b[520];
    one(s, n);
    if (n + 2 <= sizeof b && !(n >= 2 && s[0] == '<' && s[n - 1] == '>')) {
        b[0] = '<';
        memcpy(b + 1, s, n);
        b[n + 1] = '>';
        one(b, n + 2);
    }
}

/* ---- the path vectors ---- */

static int hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* Appends one physical line of a vector's input (tests/vec.h: newlines are not input; the
 * escapes \r \n \t \0 \s \\ \xHH) to buf; returns the new length. */
static size_t input_line(const char *l, char *buf, size_t o, size_t cap)
{
    while (*l && *l != '\n' && o < cap) {
        if (*l != '\\' || !l[1]) {
            buf[o++] = *l++;
            continue;
        }
        char e = l[1];
        l += 2;
        switch (e) {
        case 'r': buf[o++] = '\r'; break;
        case 'n': buf[o++] = '\n'; break;
        case 't': buf[o++] = '\t'; break;
        case 's': buf[o++] = ' '; break;
        case '0': buf[o++] = '\0'; break;
        case 'x':
            if (l[0] && l[1]) {
                buf[o++] = (char)(hex(l[0]) * 16 + hex(l[1]));
                l += 2;
            }
            break;
        default: buf[o++] = e; break;
        }
    }
    return o;
}

static void vectors(const char *file)
{
    char path[4096], line[4096], input[8192];
    snprintf(path, sizeof path, "%s/path/%s.vec", SMTP_TEST_VECTORS, file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    size_t n = 0;
    int reading = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "===", 3) || !strncmp(line, "---", 3)) {
            if (reading) {
                both(input, n);
                cases++;
            }
            reading = !strncmp(line, "--- input", 9);
            n = 0;
        } else if (reading) {
            n = input_line(line, input, n, sizeof input);
        }
    }
    fclose(f);
    CHECK(cases > 0);
}

static void test_vectors(void)
{
    static const char *const files[] = {"basic",  "domain", "helo", "ipv6",
                                        "limits", "local",  "utf8"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        vectors(files[i]);
}

/* ---- every short string ---- */

/* Every string of "a-.@0<>" of 0 to 7 octets, bare and in brackets: the shapes of atoms,
 * labels, dots, hyphens, '@' and brackets in every order. Under valgrind (CI's pass sets
 * SMTP_VEC_NO_PAIRS, as for the vectors) up to 6 octets: a seventh of the work, within the
 * test's time limit there. */
static void test_small_alphabet(void)
{
    static const char alpha[] = "a-.@0<>";
    const long k = (long)sizeof alpha - 1;
    const int longest = getenv("SMTP_VEC_NO_PAIRS") ? 6 : 7;
    char s[8];
    for (int len = 0; len <= longest; len++) {
        long total = 1;
        for (int i = 0; i < len; i++)
            total *= k;
        for (long v = 0; v < total; v++) {
            long x = v;
            for (int i = 0; i < len; i++, x /= k)
                s[i] = alpha[x % k];
            both(s, (size_t)len);
        }
    }
}

/* ---- the limits ---- */

/* "<" local "@" then a domain of `domain` octets: labels of `label` octets joined by dots, the
 * last ones shorter where the length asks for it (never an empty label), ">". Returns the
 * length. */
static size_t make(char *out, size_t local, size_t label, size_t domain)
{
    size_t o = 0, left = domain;
    out[o++] = '<';
    for (size_t i = 0; i < local; i++)
        out[o++] = (char)('a' + i % 26);
    out[o++] = '@';
    while (left > 0) {
        if (left < domain) {
            out[o++] = '.';
            left--;
        }
        size_t k = label < left ? label : left;
        if (left - k == 1 && k > 1) k--; /* so that a dot and one octet can follow */
        for (size_t i = 0; i < k; i++)
            out[o++] = (char)(i % 3 == 1 ? 'a' + i % 26 : '0' + i % 10); /* Let-dig */
        left -= k;
    }
    out[o++] = '>';
    out[o] = '\0';
    return o;
}

/* The path a[0..n) with one more octet, an 'x', inserted at `at`; returns its length. */
static size_t grow(const char *a, size_t n, size_t at, char *b)
{
    memcpy(b, a, at);
    b[at] = 'x';
    memcpy(b + at + 1, a + at, n - at);
    return n + 1;
}

/* Every change of one octet of a path: removed, or replaced by or inserted before each of a
 * set of octets that take different ways through the grammar. */
static void mutate(const char *seed, size_t n)
{
    static const char subst[] = "aZ09-._@\"[]<>\\ ,:;+!{}\t\x01\x7f\xc3\xa9\xff";
    char s[600];
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            memcpy(s, seed, i);
            memcpy(s + i, seed + i + 1, n - i - 1);
            one(s, n - 1);
        }
        for (size_t c = 0; c + 1 < sizeof subst; c++) {
            memcpy(s, seed, i);
            s[i] = subst[c];
            memcpy(s + i + 1, seed + i, n - i);
            one(s, n + 1);
            if (i < n) {
                memcpy(s, seed, n);
                s[i] = subst[c];
                one(s, n);
            }
        }
    }
}

/* A path the fast path must take (at), and the same one octet longer, which both refuse. */
static void at_limit(const char *what, const char *at, size_t n, const char *over, size_t m)
{
    smtp_path p;
    int took = one(at, n);
    CHECK(took);
    if (!took) report(what, at, n, 0);
    int over_took = one(over, m);
    CHECK(!over_took);
    CHECK_INT(smtp_path_parse_full(over, m, 0, &p), SMTP_ERR_TOO_LONG);
    if (over_took) report(what, over, m, 0);
}

static void test_limits(void)
{
    char a[600], b[600];
    size_t n, m;
    /* The local part: 64 octets, then 65. */
    n = make(a, SMTP_MAX_LOCAL_PART, 10, 10);
    m = make(b, SMTP_MAX_LOCAL_PART + 1, 10, 10);
    at_limit("local part", a, n, b, m);
    /* A label: 63 octets, then 64 (the first, a middle and the last label of three). */
    n = make(a, 3, SMTP_MAX_LABEL, 3 * SMTP_MAX_LABEL + 2);
    for (size_t label = 0; label < 3; label++) {
        m = grow(a, n, 5 + label * (SMTP_MAX_LABEL + 1), b);
        at_limit("label", a, n, b, m);
    }
    /* The path: 256 octets with its brackets, then 257; the local part and the domain take
     * turns to be the longer. */
    for (size_t local = 1; local <= SMTP_MAX_LOCAL_PART; local += 21) {
        size_t domain = SMTP_MAX_PATH - 3 - local;
        n = make(a, local, 60, domain);
        m = make(b, local, 60, domain + 1);
        at_limit("path", a, n, b, m);
    }
    /* The domain: 255 octets is over the path's 256 in any path; 252 is the longest a plain
     * path holds. Around both, and around every limit above, every one-octet change. */
    for (size_t domain = SMTP_MAX_DOMAIN - 4; domain <= SMTP_MAX_DOMAIN + 1; domain++) {
        n = make(a, 1, SMTP_MAX_LABEL, domain);
        one(a, n);
        mutate(a, n);
        one(a + 1, n - 2); /* without brackets */
        mutate(a + 1, n - 2);
    }
    static const size_t shapes[][3] = {
        {SMTP_MAX_LOCAL_PART - 1, 10, 10},
        {SMTP_MAX_LOCAL_PART, 10, 10},
        {SMTP_MAX_LOCAL_PART + 1, 10, 10},
        {3, SMTP_MAX_LABEL - 1, 70},
        {3, SMTP_MAX_LABEL, 70},
        {3, SMTP_MAX_LABEL + 1, 70},
        {3, SMTP_MAX_LABEL, 127},
        {3, SMTP_MAX_LABEL, 128},
        {20, 60, SMTP_MAX_PATH - 24},
        {20, 60, SMTP_MAX_PATH - 23},
        {20, 60, SMTP_MAX_PATH - 22},
        {SMTP_MAX_LOCAL_PART, 60, SMTP_MAX_PATH - 67},
        {SMTP_MAX_LOCAL_PART, 60, SMTP_MAX_PATH - 68},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        n = make(a, shapes[i][0], shapes[i][1], shapes[i][2]);
        mutate(a, n);
        mutate(a + 1, n - 2);
    }
}

/* ---- a few by hand ---- */

static void test_examples(void)
{
    smtp_path p;
    /* The server's common paths: taken, every field as expected. */
    static const char mail[] = "<alice@example.org>";
    memset(&p, 0xa5, sizeof p);
    CHECK(smtp_path_parse_plain(mail, sizeof mail - 1, &p));
    CHECK_INT(p.flags, 0);
    CHECK_MEM(p.mailbox.ptr, p.mailbox.len, "alice@example.org");
    CHECK(p.mailbox.ptr == mail + 1);
    CHECK_MEM(p.local.ptr, p.local.len, "alice");
    CHECK_INT(p.domain.kind, SMTP_DOMAIN_NAME);
    CHECK_MEM(p.domain.text.ptr, p.domain.text.len, "example.org");
    CHECK_INT(p.route.len + p.domain.literal.len + p.domain.tag.len, 0);
    CHECK_INT(p.domain.utf8, 0);
    CHECK_INT(p.error_at, 0);
    CHECK(one_str("<bob@example.net>"));
    CHECK(one_str("<a@b>")); /* the shortest */
    CHECK(one_str("<a.b-c+d@x-1.y>"));
    CHECK(one_str("<!#$%&'*+/=?^_`{|}~@0>"));
    /* Left to the full parser, valid or not. */
    static const char *const left[] = {
        "<>",
        "<Postmaster>",
        "<\"a b\"@x>",
        "<a@[1.2.3.4]>",
        "<@r:a@x>",
        "a@x",
        "<a@x",
        "a@x>",
        "<a@x>>",
        "<<a@x>",
        "<a@x.>",
        "<a@.x>",
        "<a@-x>",
        "<a@x->",
        "<a..b@x>",
        "<.a@x>",
        "<a.@x>",
        "<a@x..y>",
        "<@x>",
        "<a@>",
        "<a@x_y>",
        "<\xc3\xa9@x>",
        "<a@x\xc3\xa9>",
        "<a@b@c>",
        "<a b@x>",
        "<a@x y>",
        "<a@[IPv6:::1]>",
        "<a@x>\r\n",
        "",
        "<",
    };
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        int took = one_str(left[i]);
        CHECK(!took);
        if (took) report("taken", left[i], strlen(left[i]), 0);
    }
    /* An octet after the closing '>' of a sentinel the loops stop at: nothing read past len. */
    static const char tail[] = "<a@xy>z";
    CHECK(!one(tail, 5)); /* "<a@xy" */
    CHECK(one(tail, 6));
    CHECK(!one(NULL, 0));
    CHECK_INT(smtp_path_parse(NULL, 1, 0, &p), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_path_parse(mail, sizeof mail - 1, 0x100, &p), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_path_parse(mail, sizeof mail - 1, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    test_layout();
    test_examples();
    test_vectors();
    test_small_alphabet();
    test_limits();
    printf("%ld inputs x %u flag sets: %ld by the fast path, %ld valid by the full parser, "
           "%ld refused\n",
           stats.inputs, ALL_FLAGS, stats.plain, stats.fallback_ok, stats.refused);
    /* Both ways were taken many times. */
    CHECK(stats.plain > 10000);
    CHECK(stats.fallback_ok > 1000);
    CHECK(stats.refused > 100000);
    return check_finish();
}
