/* SPDX-License-Identifier: MIT */
/*
 * The grammar of SMTP paths and domains: RFC 5321 4.1.2 (Path, Mailbox, Local-part, Domain),
 * 4.1.3 (address literals), 4.5.3.1 (size limits), and RFC 6531 3.3 (UTF-8 when SMTPUTF8 is
 * in effect).
 *
 * How it works: a cursor walks the input once, by recursive descent over the ABNF. UTF-8 is
 * checked for the whole input before the grammar runs, so the grammar can treat every byte
 * >= 0x80 as part of a valid UTF8-non-ascii character wherever RFC 6531 allows one (atext,
 * qtextSMTP, U-labels) and as a syntax error elsewhere. Length limits are recorded while
 * parsing and reported only once the whole grammar has passed, so that SMTP_ERR_TOO_LONG
 * always describes an otherwise valid path. Nothing is copied: the results are spans. The
 * addresses inside IPv4 and IPv6 literals are read by smtp_ip_parse (lib/ipaddr.c).
 *
 * Most paths are a plain "<local@domain>" in ASCII, and smtp_path_parse first tries
 * smtp_path_parse_plain, one pass that accepts only such a path within every limit and fills
 * the result as the full parser would; anything else goes to the full parser
 * (tests/test_path_fast.c compares the two).
 */
#include "internal.h"
#include "path_internal.h"

#include <smtp/codec.h>
#include <smtp/path.h>

#include <string.h>

#define PATH_KNOWN_FLAGS                                                                           \
    (SMTP_PATH_ALLOW_NULL | SMTP_PATH_ALLOW_POSTMASTER | SMTP_PATH_UTF8 |                          \
     SMTP_PATH_LENIENT_BRACKETS)

typedef struct cursor {
    const unsigned char *s;
    size_t pos;
    size_t end;         /* parsing stops here (before a closing '>') */
    size_t err_at;      /* where the first syntax error was found */
    bool too_long;      /* a length limit was exceeded (reported after the grammar) */
    size_t too_long_at; /* the start of the first element over its limit */
} cursor;

static int fail_at(cursor *c, size_t at)
{
    c->err_at = at;
    return SMTP_ERR_SYNTAX;
}

static void over_limit(cursor *c, size_t at)
{
    if (!c->too_long) {
        c->too_long = true;
        c->too_long_at = at;
    }
}

static bool at_end(const cursor *c)
{
    return c->pos >= c->end;
}

/* The next byte, or 0 at the end (callers only compare it with non-zero bytes). */
static unsigned char peek(const cursor *c)
{
    return at_end(c) ? 0 : c->s[c->pos];
}

static smtp_span span_of(const cursor *c, size_t from, size_t to)
{
    smtp_span sp = {(const char *)c->s + from, to - from};
    return sp;
}

/* ---- character classes (RFC 5321 4.1.2, RFC 5322 3.2.3, RFC 6531 3.3) ---- */

static bool is_utf8_byte(unsigned char c)
{
    return c >= 0x80; /* already validated as part of a well-formed sequence */
}

/*
 * The classes the loops over a local part and a domain label ask of every octet, as one table
 * computed at compile time: C_ATEXT (atext, RFC 5322 3.2.3, or an octet of UTF8-non-ascii) and
 * C_LABEL (Let-dig or '-', RFC 5321 4.1.2, or an octet of a U-label); C_PLAIN_ATEXT and
 * C_PLAIN_LDH are the same classes without the octets >= 0x80 (the fast path's).
 */
enum { C_ATEXT = 1, C_LABEL = 2, C_PLAIN_ATEXT = 4, C_PLAIN_LDH = 8 };
#define C_ALNUM(c)                                                                                 \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define C_ATEXT_ASCII(c)                                                                           \
    ((c) < 64    ? (UINT64_C(0xa3ffacfa00000000) >> ((c)&63)) & 1                                  \
     : (c) < 128 ? (UINT64_C(0x7fffffffc7fffffe) >> ((c)&63)) & 1                                  \
                 : 0)
#define C_OF(c)                                                                                    \
    (unsigned char)(((c) >= 0x80 ? C_ATEXT | C_LABEL : 0) |                                        \
                    (C_ATEXT_ASCII(c) ? C_ATEXT | C_PLAIN_ATEXT : 0) |                             \
                    (C_ALNUM(c) || (c) == '-' ? C_LABEL | C_PLAIN_LDH : 0))
#define C_ROW(b)                                                                                   \
    C_OF(b), C_OF(b + 1), C_OF(b + 2), C_OF(b + 3), C_OF(b + 4), C_OF(b + 5), C_OF(b + 6),         \
        C_OF(b + 7), C_OF(b + 8), C_OF(b + 9), C_OF(b + 10), C_OF(b + 11), C_OF(b + 12),           \
        C_OF(b + 13), C_OF(b + 14), C_OF(b + 15)
static const unsigned char char_class[256] = {C_ROW(0u),   C_ROW(16u),  C_ROW(32u),  C_ROW(48u),
                                              C_ROW(64u),  C_ROW(80u),  C_ROW(96u),  C_ROW(112u),
                                              C_ROW(128u), C_ROW(144u), C_ROW(160u), C_ROW(176u),
                                              C_ROW(192u), C_ROW(208u), C_ROW(224u), C_ROW(240u)};

/* atext, and UTF8-non-ascii with SMTPUTF8 (RFC 6531 3.3). */
static bool is_atext(unsigned char c)
{
    return char_class[c] & C_ATEXT;
}

/* qtextSMTP: %d32-33 / %d35-91 / %d93-126, and UTF8-non-ascii. */
static bool is_qtext(unsigned char c)
{
    return (c >= 32 && c <= 126 && c != '"' && c != '\\') || is_utf8_byte(c);
}

/* dcontent: %d33-90 / %d94-126 (RFC 5321 4.1.3). */
static bool is_dcontent(unsigned char c)
{
    return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/* ---- domain names ---- */

/*
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], or a U-label with
 * SMTPUTF8. A label may not start or end with '-'. ASCII labels are limited to 63 octets
 * (RFC 1035 2.3.4); U-labels are only bounded by the domain's 255 (their A-label length would
 * need IDNA tables).
 */
static int parse_name(cursor *c, smtp_domain *d)
{
    size_t start = c->pos;
    for (;;) {
        size_t label = c->pos, pos = label, end = c->end;
        unsigned char high = 0;    /* the OR of the label's octets: bit 7 for UTF-8 */
        for (; pos < end; pos++) { /* on locals: a char load may alias the cursor */
            unsigned char ch = c->s[pos];
            if (!(char_class[ch] & C_LABEL)) break;
            high |= ch;
        }
        c->pos = pos;
        bool utf8 = (high & 0x80) != 0;
        if (c->pos == label) return fail_at(c, c->pos);
        if (c->s[label] == '-') return fail_at(c, label);
        if (c->s[c->pos - 1] == '-') return fail_at(c, c->pos - 1);
        if (!utf8 && c->pos - label > SMTP_MAX_LABEL) over_limit(c, label);
        if (utf8) d->utf8 = 1;
        if (peek(c) != '.') break;
        c->pos++;
    }
    d->kind = SMTP_DOMAIN_NAME;
    d->text = span_of(c, start, c->pos);
    if (c->pos - start > SMTP_MAX_DOMAIN) over_limit(c, start);
    return 0;
}

/* ---- address literals ---- */

/* Standardized-tag = Ldh-str: letters, digits, '-', ending with a letter or digit. */
static bool is_ldh_str(const unsigned char *p, size_t n)
{
    if (n == 0 || !smtp_is_alnum(p[n - 1])) return false;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_is_alnum(p[i]) && p[i] != '-') return false;
    }
    return true;
}

/*
 * address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]". The tag "IPv6" (any case) always means IPv6: a registered
 * tag must carry its registered syntax, so "[IPv6:junk]" is not a general literal.
 */
static int parse_literal(cursor *c, smtp_domain *d)
{
    size_t start = c->pos++;
    size_t in = c->pos;
    while (!at_end(c) && is_dcontent(peek(c)))
        c->pos++;
    if (peek(c) != ']') return fail_at(c, c->pos);
    const unsigned char *p = c->s + in;
    size_t n = c->pos - in;
    c->pos++;
    d->text = span_of(c, start, c->pos);
    const unsigned char *colon = n ? memchr(p, ':', n) : NULL;
    size_t tag_len = colon ? (size_t)(colon - p) : 0;
    size_t rest = colon ? in + tag_len + 1 : in;
    if (!colon || smtp_span_ieq((const char *)p, tag_len, "ipv6")) {
        size_t bad;
        int family = smtp_ip_parse((const char *)p, n, SMTP_IP_RFC5321, d->addr, &bad);
        if (!family) return fail_at(c, in + bad);
        d->kind = family == 4 ? SMTP_DOMAIN_IPV4 : SMTP_DOMAIN_IPV6;
    } else {
        if (!is_ldh_str(p, tag_len)) return fail_at(c, in);
        if (rest == in + n) return fail_at(c, rest);
        d->kind = SMTP_DOMAIN_GENERAL;
        d->tag = span_of(c, in, in + tag_len);
    }
    d->literal = span_of(c, rest, in + n);
    if (c->pos - start > SMTP_MAX_DOMAIN) over_limit(c, start);
    return 0;
}

static int parse_domain_or_literal(cursor *c, smtp_domain *d)
{
    return peek(c) == '[' ? parse_literal(c, d) : parse_name(c, d);
}

/* ---- local part ---- */

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP = %d92 %d32-126. */
static int parse_quoted(cursor *c)
{
    c->pos++;
    while (!at_end(c)) {
        unsigned char ch = peek(c);
        if (ch == '"') {
            c->pos++;
            return 0;
        }
        if (ch == '\\') {
            c->pos++;
            if (at_end(c) || peek(c) < 32 || peek(c) > 126) return fail_at(c, c->pos);
        } else if (!is_qtext(ch)) {
            return fail_at(c, c->pos);
        }
        c->pos++;
    }
    return fail_at(c, c->pos);
}

/* Dot-string = Atom *("." Atom); Atom = 1*atext. */
static int parse_dot_string(cursor *c)
{
    for (;;) {
        size_t atom = c->pos, pos = atom, end = c->end;
        while (pos < end && is_atext(c->s[pos])) /* on locals, as in parse_name */
            pos++;
        c->pos = pos;
        if (c->pos == atom) return fail_at(c, c->pos);
        if (peek(c) != '.') return 0;
        c->pos++;
    }
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), running to the cursor's end. */
static int parse_mailbox(cursor *c, smtp_path *out)
{
    size_t start = c->pos;
    bool quoted = peek(c) == '"';
    int rc = quoted ? parse_quoted(c) : parse_dot_string(c);
    if (rc < 0) return rc;
    out->local = span_of(c, start, c->pos);
    if (quoted) out->flags |= SMTP_PATH_F_QUOTED;
    if (c->pos - start > SMTP_MAX_LOCAL_PART) over_limit(c, start);
    if (peek(c) != '@') return fail_at(c, c->pos);
    c->pos++;
    rc = parse_domain_or_literal(c, &out->domain);
    if (rc < 0) return rc;
    if (!at_end(c)) return fail_at(c, c->pos);
    out->mailbox = span_of(c, start, c->pos);
    return 0;
}

/* A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain; followed by ':'. */
static int parse_route(cursor *c, smtp_path *out)
{
    size_t start = c->pos;
    for (;;) {
        if (peek(c) != '@') return fail_at(c, c->pos);
        c->pos++;
        smtp_domain hop;
        memset(&hop, 0, sizeof hop);
        int rc = parse_name(c, &hop);
        if (rc < 0) return rc;
        if (peek(c) == ',') {
            c->pos++;
            continue;
        }
        if (peek(c) != ':') return fail_at(c, c->pos);
        out->route = span_of(c, start, c->pos);
        out->flags |= SMTP_PATH_F_SOURCE_ROUTE;
        c->pos++;
        return 0;
    }
}

/*
 * UTF-8 is checked before the grammar: bytes >= 0x80 need SMTP_PATH_UTF8 and must form
 * well-formed UTF-8. Sets *seen when there is any.
 */
static int check_utf8(const char *s, size_t len, unsigned flags, size_t *err_at, bool *seen)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) { /* ASCII, a word at a time */
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080)) break;
    }
    while (i < len && (unsigned char)s[i] < 0x80)
        i++;
    *seen = i < len;
    if (i == len) return 0;
    if (!(flags & SMTP_PATH_UTF8)) {
        *err_at = i;
        return SMTP_ERR_UTF8;
    }
    size_t bad = 0;
    if (smtp_utf8_check(s + i, len - i, &bad) < 0) {
        *err_at = i + bad;
        return SMTP_ERR_UTF8;
    }
    return 0;
}

/* Finds the part between the brackets; sets the cursor's bounds. */
static int strip_brackets(cursor *c, size_t len, unsigned flags, smtp_path *out)
{
    if (len >= 2 && c->s[0] == '<' && c->s[len - 1] == '>') {
        c->pos = 1;
        c->end = len - 1;
        return 0;
    }
    if (len > 0 && c->s[0] != '<' && (flags & SMTP_PATH_LENIENT_BRACKETS)) {
        c->pos = 0;
        c->end = len;
        out->flags |= SMTP_PATH_F_NO_BRACKETS;
        return 0;
    }
    return fail_at(c, len > 0 && c->s[0] == '<' ? len : 0);
}

static int path_grammar(cursor *c, size_t len, unsigned flags, smtp_path *out)
{
    int rc = strip_brackets(c, len, flags, out);
    if (rc < 0) return rc;
    if (c->pos == c->end) {
        /* "<>": the null reverse-path (RFC 5321 4.1.1.2); never without brackets. */
        if (!(flags & SMTP_PATH_ALLOW_NULL) || (out->flags & SMTP_PATH_F_NO_BRACKETS))
            return fail_at(c, c->pos);
        out->flags |= SMTP_PATH_F_NULL;
        return 0;
    }
    if ((flags & SMTP_PATH_ALLOW_POSTMASTER) && c->end - c->pos == 10 &&
        smtp_span_ieq((const char *)c->s + c->pos, c->end - c->pos, "postmaster")) {
        /* RFC 5321 4.1.1.3: "<Postmaster>" names the local postmaster, without a domain. */
        out->local = span_of(c, c->pos, c->end);
        out->mailbox = out->local;
        out->flags |= SMTP_PATH_F_POSTMASTER;
        return 0;
    }
    if (peek(c) == '@') {
        rc = parse_route(c, out);
        if (rc < 0) return rc;
    }
    return parse_mailbox(c, out);
}

/* The longest domain a plain path of SMTP_MAX_PATH octets can hold ("<" 1 "@" ... ">") is within
 * SMTP_MAX_DOMAIN: the fast path needs no check of its own for the domain. */
_Static_assert(SMTP_MAX_PATH - 4 <= SMTP_MAX_DOMAIN, "a plain path bounds its domain");

/*
 * One pass over a plain "<local@domain>": the atoms of the dot-string (RFC 5321 4.1.2), each
 * followed by '.' or, the last, by '@', then the LDH labels, none empty or starting or ending
 * with '-', each followed by '.' or, the last, by the closing '>'; local part 64 octets at
 * most, labels 63, the path 256 with its brackets (RFC 5321 4.5.3.1). Without brackets (the
 * lenient flag), UTF-8, a quoted string, a literal, a source route or "<Postmaster>", it
 * returns 0. Such a path parses the same under every flag: "<>" and "<Postmaster>" hold no
 * '@', and the brackets are there. "<a@b>" is the shortest.
 */
static inline __attribute__((always_inline)) int path_plain(const char *str, size_t len,
                                                            smtp_path *out)
{
    if (len < 5 || len > SMTP_MAX_PATH || str[0] != '<' || str[len - 1] != '>') return 0;
    const unsigned char *s = (const unsigned char *)str, *end = s + len - 1, *p = s + 1, *start;
    for (;; p++) { /* the local part */
        for (start = p; char_class[*p] & C_PLAIN_ATEXT;)
            p++;
        if (p == start) return 0;
        if (*p == '@') break;
        if (*p != '.') return 0;
    }
    const unsigned char *at = p;
    if (at - (s + 1) > SMTP_MAX_LOCAL_PART) return 0;
    for (;;) { /* the domain */
        for (start = ++p; char_class[*p] & C_PLAIN_LDH;)
            p++;
        if (p == start || *start == '-' || p[-1] == '-' || p - start > SMTP_MAX_LABEL) return 0;
        if (*p != '.') break;
    }
    if (p != end) return 0;
    /* Every field of smtp_path as the full parser leaves it, one by one (a memset of the whole
     * is a loop of 18 stores); test_path_fast compares each field with the full parser's. */
    out->flags = 0;
    out->mailbox = (smtp_span){str + 1, len - 2};
    out->local = (smtp_span){str + 1, (size_t)(at - (s + 1))};
    out->route = (smtp_span){NULL, 0};
    out->domain.kind = SMTP_DOMAIN_NAME;
    out->domain.text = (smtp_span){(const char *)at + 1, (size_t)(end - (at + 1))};
    out->domain.literal = (smtp_span){NULL, 0};
    out->domain.tag = (smtp_span){NULL, 0};
    memset(out->domain.addr, 0, sizeof out->domain.addr);
    out->domain.utf8 = 0;
    out->error_at = 0;
    return 1;
}

int smtp_path_parse_plain(const char *s, size_t len, smtp_path *out)
{
    return path_plain(s, len, out);
}

int smtp_path_parse(const char *s, size_t len, unsigned flags, smtp_path *out)
{
    if ((!s && len) || !out || (flags & ~PATH_KNOWN_FLAGS)) return SMTP_ERR_INVALID_ARGUMENT;
    if (path_plain(s, len, out)) return 0;
    return smtp_path_parse_full(s, len, flags, out);
}

int smtp_path_parse_full(const char *s, size_t len, unsigned flags, smtp_path *out)
{
    if ((!s && len) || !out || (flags & ~PATH_KNOWN_FLAGS)) return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    bool utf8;
    int rc = check_utf8(s, len, flags, &out->error_at, &utf8);
    if (rc < 0) return rc;
    cursor c = {(const unsigned char *)s, 0, 0, 0, false, 0};
    rc = path_grammar(&c, len, flags, out);
    if (rc < 0) {
        out->error_at = c.err_at;
        return rc;
    }
    /* RFC 5321 4.5.3.1.3: the path's 256 octets include the punctuation: brackets too. */
    size_t path_len = len + ((out->flags & SMTP_PATH_F_NO_BRACKETS) ? 2 : 0);
    if (!c.too_long && path_len > SMTP_MAX_PATH) over_limit(&c, 0);
    if (c.too_long) {
        out->error_at = c.too_long_at;
        return SMTP_ERR_TOO_LONG;
    }
    if (utf8) out->flags |= SMTP_PATH_F_UTF8;
    return 0;
}

int smtp_domain_parse(const char *s, size_t len, unsigned flags, smtp_domain *out, size_t *error_at)
{
    if ((!s && len) || !out || (flags & ~PATH_KNOWN_FLAGS)) return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    size_t err = 0;
    bool utf8;
    int rc = check_utf8(s, len, flags & SMTP_PATH_UTF8, &err, &utf8);
    cursor c = {(const unsigned char *)s, 0, len, 0, false, 0};
    if (rc == 0) {
        rc = parse_domain_or_literal(&c, out);
        if (rc == 0 && !at_end(&c)) rc = fail_at(&c, c.pos);
        err = c.err_at;
        if (rc == 0 && c.too_long) {
            rc = SMTP_ERR_TOO_LONG;
            err = c.too_long_at;
        }
    }
    if (error_at) *error_at = rc < 0 ? err : 0;
    return rc;
}

/* ---- the extent of a path token (shared by the command parser and the emitters) ---- */

static bool ends_token(char c, bool stop_at_space)
{
    return c == '>' || (stop_at_space && c == ' ');
}

size_t smtp_path_scan(const char *p, size_t n, bool stop_at_space, bool *open_quote)
{
    size_t i = 0;
    *open_quote = false;
    if (n > 0 && p[0] == '@') { /* a source route "@a,@b:" holds no quote */
        while (i < n && p[i] != ':' && !ends_token(p[i], stop_at_space))
            i++;
        if (i == n || p[i] != ':') return i;
        i++;
    }
    if (i < n && p[i] == '"') {
        for (i++; i < n && p[i] != '"'; i++) {
            if (p[i] == '\\' && ++i == n) break;
        }
        if (i >= n) {
            *open_quote = true;
            return n;
        }
        i++;
    }
    if (!stop_at_space) { /* the command parser's case: the first '>' */
        const char *gt = i < n ? memchr(p + i, '>', n - i) : NULL;
        return gt ? (size_t)(gt - p) : n;
    }
    for (; i + 8 <= n; i += 8) { /* the emitters' case: '>' or SP, skipped a word at a time */
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
        uint64_t x, gt, sp;
        memcpy(&x, p + i, 8);
        gt = x ^ (ones * '>');
        sp = x ^ (ones * ' ');
        if (((gt - ones) & ~gt & highs) | ((sp - ones) & ~sp & highs)) break;
    }
    while (i < n && !ends_token(p[i], stop_at_space))
        i++;
    return i;
}
