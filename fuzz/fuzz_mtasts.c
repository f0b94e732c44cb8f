/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: MTA-STS as data (smtp_mtasts_parse, smtp_mtasts_mx_next, smtp_mtasts_mx_match,
 * smtp_mtasts_policy_match).
 *
 * Checked here, besides no crash, no over-read (inputs are exact-size heap copies) and no
 * undefined behaviour:
 *  - parse: the error is one the header documents and error_at lies inside the input (<= len);
 *    on success the text is the input, at most SMTP_MTASTS_MAX_POLICY octets, free of NUL, of
 *    control bytes but HTAB, and of a CR not followed by LF; mode and max_age are in range;
 *    the iterator yields exactly mx_count patterns, each a span inside the input, each a valid
 *    pattern (a plain one matches itself, "*.D" matches "x.D" and not "D"); a mode other than
 *    none has at least one;
 *  - match: the input split at its first SP is a pattern and a host; the result is one the
 *    header documents; it does not change when both are upper-cased or when the host gains a
 *    trailing dot; a plain pattern matches only the same name;
 *  - policy_match of that host on the parsed policy equals the OR of mx_match over its
 *    patterns (or the same error, for an invalid host).
 * Input layout: the whole input is the policy and, split at its first SP, pattern and host.
 */
#include <smtp/mtasts.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int inside(smtp_span s, const char *base, size_t len)
{
    if (s.len == 0) return 1;
    return s.ptr >= base && s.len <= len && (size_t)(s.ptr - base) <= len - s.len;
}

static char *copy(const char *p, size_t n)
{
    char *c = malloc(n); /* malloc(0) is a valid pointer to no bytes under ASan */
    if (!c && n) abort();
    if (n) memcpy(c, p, n);
    return c;
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static int lower_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = upper(a[i]), y = upper(b[i]);
        if (x != y) return 0;
    }
    return 1;
}

static size_t without_dot(const char *p, size_t n)
{
    return (n && p[n - 1] == '.') ? n - 1 : n;
}

static int match_heap(const char *p, size_t pn, const char *h, size_t hn)
{
    char *pc = copy(p, pn), *hc = copy(h, hn);
    int rc = smtp_mtasts_mx_match(pc, pn, hc, hn);
    free(pc);
    free(hc);
    return rc;
}

/* A pattern the parser accepted must be valid for the matcher, and behave as documented. */
static void check_pattern(smtp_span mx)
{
    if (mx.len == 0 || mx.ptr[mx.len - 1] == '.') abort();
    if (mx.len >= 2 && mx.ptr[0] == '*' && mx.ptr[1] == '.') {
        char *h = copy(mx.ptr, mx.len);
        h[0] = 'x'; /* "*.D" -> "x.D" */
        if (smtp_mtasts_mx_match(mx.ptr, mx.len, h, mx.len) != 1) abort();
        free(h);
        if (match_heap(mx.ptr, mx.len, mx.ptr + 2, mx.len - 2) != 0) abort();
    } else {
        if (match_heap(mx.ptr, mx.len, mx.ptr, mx.len) != 1) abort();
    }
}

static int check_policy(const char *s, size_t len, smtp_mtasts_policy *p)
{
    int rc = smtp_mtasts_parse(s, len, p);
    if (rc != 0) {
        if (rc != SMTP_ERR_SYNTAX && rc != SMTP_ERR_TOO_LONG && rc != SMTP_ERR_OVERFLOW &&
            rc != SMTP_ERR_UTF8)
            abort();
        if (p->error_at > len) abort();
        return rc;
    }
    if (p->error_at != 0 || p->text.ptr != s || p->text.len != len) abort();
    if (len > SMTP_MTASTS_MAX_POLICY) abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' && (i + 1 == len || s[i + 1] != '\n')) abort();
        if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) abort();
    }
    if (p->mode != SMTP_MTASTS_NONE && p->mode != SMTP_MTASTS_TESTING &&
        p->mode != SMTP_MTASTS_ENFORCE)
        abort();
    if (p->max_age > SMTP_MTASTS_MAX_AGE) abort();
    if (p->mode != SMTP_MTASTS_NONE && p->mx_count == 0) abort();
    size_t cursor = 0, n = 0, last = 0;
    smtp_span mx;
    while ((rc = smtp_mtasts_mx_next(p, &cursor, &mx)) == 1) {
        if (!inside(mx, s, len) || cursor > len || cursor <= last) abort();
        last = cursor;
        check_pattern(mx);
        n++;
    }
    if (rc != 0 || n != p->mx_count) abort();
    return 0;
}

static void check_match(const char *s, size_t len, const smtp_mtasts_policy *policy, int parsed)
{
    const char *sp = memchr(s, ' ', len);
    size_t pn = sp ? (size_t)(sp - s) : len;
    const char *hs = sp ? sp + 1 : s + len;
    size_t hn = len - (size_t)(hs - s);
    int rc = match_heap(s, pn, hs, hn);
    if (rc != 0 && rc != 1 && rc != SMTP_ERR_SYNTAX && rc != SMTP_ERR_TOO_LONG &&
        rc != SMTP_ERR_UTF8)
        abort();
    if (rc >= 0) {
        /* case-insensitive, and a trailing dot on the host changes nothing */
        char *pu = copy(s, pn), *hu = malloc(hn + 1);
        if (!hu) abort();
        for (size_t i = 0; i < pn; i++)
            pu[i] = upper(pu[i]);
        for (size_t i = 0; i < hn; i++)
            hu[i] = upper(hs[i]);
        if (smtp_mtasts_mx_match(pu, pn, hu, hn) != rc) abort();
        if (hn && hu[hn - 1] != '.') {
            hu[hn] = '.';
            if (smtp_mtasts_mx_match(pu, pn, hu, hn + 1) != rc) abort();
        }
        free(pu);
        free(hu);
        int wild = pn >= 2 && s[0] == '*' && s[1] == '.';
        size_t a = without_dot(s, pn), b = without_dot(hs, hn);
        if (!wild && rc != (a == b && lower_eq(s, hs, a))) abort();
    }
    if (!parsed) return;
    /* the policy's answer is the OR of its patterns' answers */
    char *h = copy(hs, hn);
    int prc = smtp_mtasts_policy_match(policy, h, hn);
    int want = 0;
    size_t cursor = 0;
    smtp_span mx;
    while (smtp_mtasts_mx_next(policy, &cursor, &mx) == 1) {
        int m = smtp_mtasts_mx_match(mx.ptr, mx.len, h, hn);
        if (m < 0) {
            want = m;
            break;
        }
        want |= m;
    }
    if (policy->mx_count == 0 && prc < 0) want = prc; /* an invalid host, no pattern to say so */
    if (prc != want) abort();
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: one byte past it is outside the allocation */
    char *s = copy((const char *)data, size);
    smtp_mtasts_policy p;
    int parsed = check_policy(s, size, &p) == 0;
    check_match(s, size, &p, parsed);
    free(s);
    return 0;
}
