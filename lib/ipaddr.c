/* SPDX-License-Identifier: MIT */
/*
 * The parser of IP addresses in text, for the path grammar's address literals (RFC 5321
 * 4.1.3), the PROXY v1 header and XCLIENT's ADDR= (RFC 4291 2.2 text, as HAProxy and Postfix
 * write it).
 *
 * How it works: one pass over the input, IPv4 as four decimal numbers, IPv6 as up to eight hex
 * groups with at most one "::" and an optional dotted IPv4 tail; the groups seen after "::"
 * are moved to the end once the count is known. The two grammars differ in three places, all
 * chosen by a flag (internal.h): whether an IPv4 number may have leading zeros (RFC 5321's Snum
 * may, "010" being 10; RFC 4291's canonical text may not), how many groups "::" stands for
 * (RFC 5321: at least two; RFC 4291 2.2: one or more), and the "IPv6:" tag (RFC 5321 requires
 * it; Postfix's XCLIENT allows it; PROXY has none). Nothing is copied or allocated.
 */
#include "internal.h"

#include <string.h>

/*
 * Snum = 1*3DIGIT with a value 0..255; IPv4-address-literal = Snum 3("." Snum). Parses p[0..n)
 * entirely into addr[0..3]; returns false with the offset of the failure in *bad.
 */
static bool parse_ipv4(const unsigned char *p, size_t n, unsigned flags, unsigned char *addr,
                       size_t *bad)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.') {
                *bad = i;
                return false;
            }
            i++;
        }
        size_t first = i;
        unsigned v = 0;
        while (i < n && smtp_is_digit(p[i]) && i - first < 3)
            v = v * 10 + (unsigned)(p[i++] - '0');
        if (i == first || v > 255 || (i < n && smtp_is_digit(p[i])) ||
            (!(flags & SMTP_IP_RFC5321) && i - first > 1 && p[first] == '0')) {
            *bad = i == first ? i : first;
            return false;
        }
        addr[part] = (unsigned char)v;
    }
    *bad = i;
    return i == n;
}

/* Does the piece at p[i..n) look like an embedded IPv4 address (hex digits then a '.')? */
static bool ipv6_piece_is_ipv4(const unsigned char *p, size_t i, size_t n)
{
    while (i < n && smtp_hex_value(p[i]) >= 0)
        i++;
    return i < n && p[i] == '.';
}

/*
 * IPv6-addr (RFC 5321 4.1.3: IPv6-full, IPv6-comp, IPv6v4-full, IPv6v4-comp; RFC 4291 2.2 forms
 * 1-3). Parses p[0..n) into addr[0..15]; returns false with the offset of the failure in *bad.
 *
 * Group counts: without "::" there must be exactly 8 groups (an embedded IPv4 address counts
 * as 2). With "::", at most 7 explicit groups in RFC 4291 ("one or more groups of 16 bits of
 * zeros"), at most 6 in RFC 5321, where "::" "represents at least 2 16-bit groups of zeros":
 * that is its "no more than 6 groups in addition to the '::'" and, for the v4 forms, "no more
 * than 4 groups in addition to the '::' and IPv4-address-literal".
 */
static bool parse_ipv6(const unsigned char *p, size_t n, unsigned flags, unsigned char *addr,
                       size_t *bad)
{
    uint16_t groups[8] = {0};
    size_t ng = 0;
    size_t most = flags & SMTP_IP_RFC5321 ? 6 : 7; /* explicit groups beside a "::" */
    long dc = -1; /* the number of groups before "::", when present */
    size_t i = 0;
    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        dc = 0;
        i = 2;
    }
    while (i < n) {
        if (ipv6_piece_is_ipv4(p, i, n)) {
            unsigned char v4[4];
            size_t r;
            if (!parse_ipv4(p + i, n - i, flags, v4, &r) || ng > 6) {
                *bad = i + (ng > 6 ? 0 : r);
                return false;
            }
            groups[ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = n;
            break;
        }
        size_t first = i;
        unsigned v = 0;
        while (i < n && smtp_hex_value(p[i]) >= 0 && i - first < 4)
            v = v << 4 | (unsigned)smtp_hex_value(p[i++]);
        if (i == first || (i < n && smtp_hex_value(p[i]) >= 0) || ng == 8) {
            *bad = i == first ? i : first;
            return false;
        }
        groups[ng++] = (uint16_t)v;
        if (i == n) break;
        if (p[i] != ':') {
            *bad = i;
            return false;
        }
        i++;
        if (i < n && p[i] == ':') {
            if (dc >= 0) {
                *bad = i;
                return false;
            }
            dc = (long)ng;
            i++;
        } else if (i == n) {
            *bad = i - 1; /* a trailing single ':' */
            return false;
        }
    }
    if (dc < 0 ? ng != 8 : ng > most) {
        *bad = n;
        return false;
    }
    size_t head = dc < 0 ? ng : (size_t)dc;
    size_t tail = ng - head;
    uint16_t full[8] = {0};
    for (size_t k = 0; k < head; k++)
        full[k] = groups[k];
    for (size_t k = 0; k < tail; k++)
        full[8 - tail + k] = groups[head + k];
    for (size_t k = 0; k < 8; k++) {
        addr[2 * k] = (unsigned char)(full[k] >> 8);
        addr[2 * k + 1] = (unsigned char)full[k];
    }
    return true;
}

int smtp_ip_parse(const char *s, size_t n, unsigned flags, unsigned char out[16], size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0, skip = 0;
    bool ok;
    int family = 16;
    if ((flags & (SMTP_IP_RFC5321 | SMTP_IP_TAG)) && smtp_span_iprefix(s, n, "ipv6:"))
        skip = 5; /* the tag (any case: RFC 5321 4.1.3's Standardized-tag is a name) */
    if (skip) {
        ok = parse_ipv6(p + skip, n - skip, flags, out, &at);
    } else if (!n || !memchr(p, ':', n)) {
        family = 4;
        ok = parse_ipv4(p, n, flags, out, &at);
    } else {
        /* RFC 5321: an IPv6 literal has its tag; anything else with a ':' is a general one. */
        ok = !(flags & SMTP_IP_RFC5321) && parse_ipv6(p, n, flags, out, &at);
    }
    if (bad) *bad = skip + at;
    return ok ? family : 0;
}

/* Appends the decimal `v` (0..255) at out[o..); returns the new offset. */
static size_t put_dec(char *out, size_t o, unsigned v)
{
    if (v >= 100) out[o++] = (char)('0' + v / 100);
    if (v >= 10) out[o++] = (char)('0' + v / 10 % 10);
    out[o++] = (char)('0' + v % 10);
    return o;
}

/*
 * RFC 5952 4: lowercase hex without leading zeros; the longest run of two or more zero groups
 * (the first of equal ones) becomes "::"; RFC 5952 5: an IPv4-mapped address ends in its
 * dotted quad.
 */
size_t smtp_ip_format(const unsigned char *addr, size_t len, char out[SMTP_IP_TEXT_MAX])
{
    size_t o = 0;
    if (len == 4) {
        for (int k = 0; k < 4; k++) {
            if (k) out[o++] = '.';
            o = put_dec(out, o, addr[k]);
        }
        out[o] = '\0';
        return o;
    }
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int ngroups = memcmp(addr, mapped, 12) == 0 ? 6 : 8;
    unsigned g[8];
    for (int k = 0; k < 8; k++)
        g[k] = (unsigned)addr[2 * k] << 8 | addr[2 * k + 1];
    int best = -1, bestlen = 1;
    for (int k = 0; k < ngroups;) {
        int e = k;
        while (e < ngroups && g[e] == 0)
            e++;
        if (e - k > bestlen) best = k, bestlen = e - k;
        k = e > k ? e : k + 1;
    }
    static const char hex[] = "0123456789abcdef";
    for (int k = 0; k < ngroups; k++) {
        if (k == best) {
            out[o++] = ':';
            out[o++] = ':';
            k += bestlen - 1;
            continue;
        }
        if (k && k != best + bestlen) out[o++] = ':';
        int shift = g[k] >= 0x1000 ? 12 : g[k] >= 0x100 ? 8 : g[k] >= 0x10 ? 4 : 0;
        for (; shift >= 0; shift -= 4)
            out[o++] = hex[g[k] >> shift & 0xf];
    }
    if (ngroups == 6) {
        if (best + bestlen != 6) out[o++] = ':';
        for (int k = 12; k < 16; k++) {
            if (k > 12) out[o++] = '.';
            o = put_dec(out, o, addr[k]);
        }
    }
    out[o] = '\0';
    return o;
}
