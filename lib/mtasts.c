/* SPDX-License-Identifier: MIT */
/*
 * MTA-STS as data (RFC 8461): the policy body of 3.2 and the MX-pattern matching of 4.1.
 *
 * The grammar (RFC 8461 3.2, abridged):
 *   sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
 *                       [sts-policy-term]
 *   sts-policy-term   = LF / CRLF
 *   field-delim       = ":" *WSP
 *   version: %s"STSv1"; mode: %s"testing" / %s"enforce" / %s"none"; max_age: 1*10DIGIT;
 *   mx: ["*."] Domain (Domain of RFC 5321 4.1.2);
 *   sts-policy-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
 *   sts-policy-vchar     = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
 *
 * How it works: one pass over the lines; each line is split into key and value (leading WSP
 * after the ':' and trailing WSP before the terminator dropped), the value is checked against
 * the generic ext-value rule, then against its field's own rule when the key is a known field
 * seen for the first time. Required fields are checked at the end. The mx patterns are not
 * stored: smtp_mtasts_mx_next walks the (already validated) text again, so a policy with any
 * number of them needs no memory. Domains are checked by smtp_domain_parse (lib/path.c).
 */
#include "internal.h"

#include <smtp/codec.h>
#include <smtp/mtasts.h>
#include <smtp/path.h>

#include <string.h>

/* RFC 8461 3.2: sts-policy-ext-name is 1 + up to 31 characters. */
#define MTASTS_MAX_KEY 32
/* RFC 8461 3.2: sts-policy-max-age-value = 1*10DIGIT. */
#define MTASTS_MAX_AGE_DIGITS 10

/* One line of the policy, found by next_line. */
typedef struct mtasts_line {
    size_t start; /* the first byte of the line */
    size_t end;   /* the end of its content (before CRLF or LF) */
    size_t next;  /* the start of the next line */
} mtasts_line;

static bool span_is(const unsigned char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(p, lit, m) == 0;
}

/*
 * Finds the line starting at `pos` (< len). A CR is part of the terminator only right before
 * the LF; any other CR is left in the content, where the value check refuses it.
 */
static mtasts_line next_line(const unsigned char *s, size_t len, size_t pos)
{
    mtasts_line l = {pos, len, len};
    const unsigned char *lf = memchr(s + pos, '\n', len - pos);
    if (lf) {
        l.end = (size_t)(lf - s);
        l.next = l.end + 1;
        if (l.end > pos && s[l.end - 1] == '\r') l.end--;
    }
    return l;
}

/* sts-policy-ext-name characters after the first. */
static bool is_key_char(unsigned char c)
{
    return smtp_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* The error for a byte that does not belong: UTF-8 is SMTP_ERR_UTF8 outside ext values. */
static int bad_byte(unsigned char c)
{
    return c >= 0x80 ? SMTP_ERR_UTF8 : SMTP_ERR_SYNTAX;
}

/*
 * Splits a line into key and value. Returns 0, or an error with *at set. The key must be
 * followed by ':' at once (field-delim); the value is what follows the ':' and its WSP, up to
 * the trailing WSP.
 */
static int split_line(const unsigned char *s, const mtasts_line *l, size_t *key_end, size_t *val,
                      size_t *val_end, size_t *at)
{
    size_t i = l->start;
    if (!smtp_is_alnum(s[i])) {
        *at = i;
        return bad_byte(s[i]);
    }
    while (i < l->end && is_key_char(s[i]))
        i++;
    if (i == l->end || s[i] != ':') {
        *at = i;
        return i == l->end ? SMTP_ERR_SYNTAX : bad_byte(s[i]);
    }
    if (i - l->start > MTASTS_MAX_KEY) {
        *at = l->start;
        return SMTP_ERR_TOO_LONG;
    }
    *key_end = i++;
    while (i < l->end && smtp_is_wsp(s[i]))
        i++;
    size_t e = l->end;
    while (e > i && smtp_is_wsp(s[e - 1]))
        e--;
    *val = i;
    *val_end = e;
    if (i == e) { /* sts-policy-ext-value has at least one sts-policy-vchar */
        *at = i;
        return SMTP_ERR_SYNTAX;
    }
    return 0;
}

/*
 * sts-policy-ext-value: SP and sts-policy-vchar (printable ASCII, well-formed UTF-8); no
 * control byte (HTAB, CR and NUL included). Sets *high to whether a byte >= 0x80 occurs.
 */
static int check_value(const unsigned char *s, size_t from, size_t to, bool *high, size_t *at)
{
    *high = false;
    for (size_t i = from; i < to; i++) {
        if (s[i] >= 0x80) {
            *high = true;
        } else if (s[i] < 0x20 || s[i] == 0x7f) {
            *at = i;
            return SMTP_ERR_SYNTAX;
        }
    }
    size_t bad = 0;
    if (*high && smtp_utf8_check((const char *)s + from, to - from, &bad) < 0) {
        *at = from + bad;
        return SMTP_ERR_UTF8;
    }
    return 0;
}

/* The first byte >= 0x80 in [from, to) (there is one). */
static size_t first_high(const unsigned char *s, size_t from, size_t to)
{
    while (from < to && s[from] < 0x80)
        from++;
    return from;
}

/*
 * sts-policy-mx-value = ["*."] Domain (RFC 8461 3.2, 4.1): a domain name of RFC 5321 4.1.2,
 * ASCII only (no address literal, no U-label), optionally behind "*.". On error *at is the
 * offset within the pattern.
 */
static int check_pattern(const char *p, size_t n, size_t *at)
{
    if (n == 0) {
        *at = 0;
        return SMTP_ERR_SYNTAX;
    }
    size_t skip = (n >= 2 && p[0] == '*' && p[1] == '.') ? 2 : 0;
    smtp_domain d;
    size_t err = 0;
    int rc = smtp_domain_parse(p + skip, n - skip, 0, &d, &err);
    if (rc < 0) {
        *at = skip + err;
        return rc;
    }
    if (d.kind != SMTP_DOMAIN_NAME) {
        *at = skip;
        return SMTP_ERR_SYNTAX;
    }
    return 0;
}

/* sts-policy-max-age-value = 1*10DIGIT, at most SMTP_MTASTS_MAX_AGE (RFC 8461 3.2). */
static int parse_max_age(const unsigned char *s, size_t from, size_t to, uint32_t *out, size_t *at)
{
    uint64_t v = 0;
    for (size_t i = from; i < to; i++) {
        if (!smtp_is_digit(s[i])) {
            *at = i;
            return bad_byte(s[i]);
        }
    }
    if (to - from > MTASTS_MAX_AGE_DIGITS) {
        *at = from;
        return SMTP_ERR_OVERFLOW;
    }
    for (size_t i = from; i < to; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > SMTP_MTASTS_MAX_AGE) {
        *at = from;
        return SMTP_ERR_OVERFLOW;
    }
    *out = (uint32_t)v;
    return 0;
}

enum { SEEN_VERSION = 1, SEEN_MODE = 2, SEEN_MAX_AGE = 4 };

/* The fields of RFC 8461 3.2 on one line; `seen` says which single fields came already. */
static int parse_field(const unsigned char *s, size_t key, size_t key_end, size_t val,
                       size_t val_end, unsigned *seen, smtp_mtasts_policy *out, size_t *at)
{
    size_t klen = key_end - key, vlen = val_end - val;
    bool high = false;
    int rc = check_value(s, val, val_end, &high, at);
    if (rc < 0) return rc;
    const unsigned char *k = s + key, *v = s + val;

    if (span_is(k, klen, "mx")) {
        if (high) {
            *at = first_high(s, val, val_end);
            return SMTP_ERR_UTF8;
        }
        size_t err = 0;
        rc = check_pattern((const char *)v, vlen, &err);
        if (rc < 0) {
            *at = val + err;
            return rc;
        }
        out->mx_count++;
        return 0;
    }
    unsigned field = span_is(k, klen, "version")   ? SEEN_VERSION
                     : span_is(k, klen, "mode")    ? SEEN_MODE
                     : span_is(k, klen, "max_age") ? SEEN_MAX_AGE
                                                   : 0;
    /* An extension, or a repeated single field: "all entries except for the first SHOULD be
     * ignored" (RFC 8461 3.2). Its value was checked as an ext-value above. */
    if (field == 0 || (*seen & field)) return 0;
    *seen |= field;
    if (high) {
        *at = first_high(s, val, val_end);
        return SMTP_ERR_UTF8;
    }
    *at = val;
    switch (field) {
    case SEEN_VERSION: return span_is(v, vlen, "STSv1") ? 0 : SMTP_ERR_SYNTAX;
    case SEEN_MODE:
        if (span_is(v, vlen, "enforce")) {
            out->mode = SMTP_MTASTS_ENFORCE;
        } else if (span_is(v, vlen, "testing")) {
            out->mode = SMTP_MTASTS_TESTING;
        } else if (span_is(v, vlen, "none")) {
            out->mode = SMTP_MTASTS_NONE;
        } else {
            return SMTP_ERR_SYNTAX;
        }
        return 0;
    default: return parse_max_age(s, val, val_end, &out->max_age, at);
    }
}

int smtp_mtasts_parse(const char *s, size_t len, smtp_mtasts_policy *out)
{
    if (!out || (!s && len)) return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (len > SMTP_MTASTS_MAX_POLICY) {
        out->error_at = SMTP_MTASTS_MAX_POLICY;
        return SMTP_ERR_TOO_LONG;
    }
    const unsigned char *u = (const unsigned char *)s;
    unsigned seen = 0;
    size_t pos = 0;
    while (pos < len) {
        mtasts_line l = next_line(u, len, pos);
        pos = l.next;
        if (l.start == l.end) continue; /* an empty line: ignored (see the header) */
        size_t key_end = 0, val = 0, val_end = 0, at = 0;
        int rc = split_line(u, &l, &key_end, &val, &val_end, &at);
        if (rc == 0) rc = parse_field(u, l.start, key_end, val, val_end, &seen, out, &at);
        if (rc < 0) {
            out->error_at = at;
            return rc;
        }
    }
    /* version, mode and max_age are required once; mx at least once unless mode is none. */
    if (seen != (SEEN_VERSION | SEEN_MODE | SEEN_MAX_AGE) ||
        (out->mode != SMTP_MTASTS_NONE && out->mx_count == 0)) {
        out->error_at = len;
        return SMTP_ERR_SYNTAX;
    }
    out->text.ptr = s;
    out->text.len = len;
    return 0;
}

int smtp_mtasts_mx_next(const smtp_mtasts_policy *policy, size_t *cursor, smtp_span *mx)
{
    if (!policy || !cursor || !mx || (!policy->text.ptr && policy->text.len) ||
        *cursor > policy->text.len)
        return SMTP_ERR_INVALID_ARGUMENT;
    const unsigned char *u = (const unsigned char *)policy->text.ptr;
    size_t len = policy->text.len;
    while (*cursor < len) {
        mtasts_line l = next_line(u, len, *cursor);
        *cursor = l.next;
        if (l.end - l.start < 3 || u[l.start] != 'm' || u[l.start + 1] != 'x' ||
            u[l.start + 2] != ':')
            continue;
        size_t v = l.start + 3, e = l.end;
        while (v < e && smtp_is_wsp(u[v]))
            v++;
        while (e > v && smtp_is_wsp(u[e - 1]))
            e--;
        mx->ptr = policy->text.ptr + v;
        mx->len = e - v;
        return 1;
    }
    return 0;
}

/* Drops one trailing dot (a fully qualified name). */
static size_t without_root(const char *p, size_t n)
{
    return (n > 0 && p[n - 1] == '.') ? n - 1 : n;
}

static bool names_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (smtp_lower((unsigned char)a[i]) != smtp_lower((unsigned char)b[i])) return false;
    }
    return true;
}

/* The host: a domain name, ASCII (RFC 8461 4.1 compares MX host names). */
static int check_host(const char *host, size_t n)
{
    smtp_domain d;
    int rc = smtp_domain_parse(host, n, 0, &d, NULL);
    if (rc < 0) return rc;
    return d.kind == SMTP_DOMAIN_NAME ? 0 : SMTP_ERR_SYNTAX;
}

/* RFC 8461 4.1, on a valid pattern and host without their trailing dots. */
static int match_valid(const char *p, size_t pn, const char *h, size_t hn)
{
    if (pn >= 2 && p[0] == '*' && p[1] == '.') {
        /* "*." matches exactly one leftmost label: the host minus its first label. */
        const char *dot = memchr(h, '.', hn);
        if (!dot) return 0;
        size_t rest = hn - (size_t)(dot + 1 - h);
        return rest == pn - 2 && names_equal(dot + 1, p + 2, rest);
    }
    return pn == hn && names_equal(p, h, hn);
}

int smtp_mtasts_mx_match(const char *pattern, size_t pattern_len, const char *host, size_t host_len)
{
    if ((!pattern && pattern_len) || (!host && host_len)) return SMTP_ERR_INVALID_ARGUMENT;
    size_t pn = without_root(pattern, pattern_len), hn = without_root(host, host_len);
    size_t at = 0;
    int rc = check_pattern(pattern, pn, &at);
    if (rc == 0) rc = check_host(host, hn);
    if (rc < 0) return rc;
    return match_valid(pattern, pn, host, hn);
}

int smtp_mtasts_policy_match(const smtp_mtasts_policy *policy, const char *host, size_t host_len)
{
    if (!policy || (!host && host_len)) return SMTP_ERR_INVALID_ARGUMENT;
    size_t hn = without_root(host, host_len);
    int rc = check_host(host, hn);
    if (rc < 0) return rc;
    size_t cursor = 0;
    smtp_span mx;
    while ((rc = smtp_mtasts_mx_next(policy, &cursor, &mx)) == 1) {
        if (match_valid(mx.ptr, mx.len, host, hn)) return 1;
    }
    return rc;
}
