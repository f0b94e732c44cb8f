/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the path and domain grammar (smtp_path_parse, smtp_domain_parse).
 *
 * Checked here, besides no crash, no over-read (the input is an exact-size heap copy, so a
 * byte read past it is an ASan error) and no undefined behaviour:
 *  - every span lies inside the input; on failure error_at lies inside it (<= len) and the
 *    error is one the header documents;
 *  - on success the result is coherent: mailbox = local "@" domain, the flags match the input
 *    (null, postmaster, route, quoted, utf8, brackets) and the RFC 5321 4.5.3.1 limits hold;
 *  - the path's domain, parsed alone by smtp_domain_parse, gives the same domain;
 *  - round trip: smtp_emit_mail (and smtp_emit_rcpt) of the mailbox, read back by
 *    smtp_cmd_parse and smtp_path_parse, gives the same mailbox, local part and domain; an
 *    emitter's refusal must be the documented one (a '>' outside a quoted string);
 *  - a domain accepted by smtp_domain_parse is the whole input; an IPv4 or IPv6 literal
 *    re-written from its parsed address parses to the same address; "<x@" domain ">" is a
 *    path with the same domain.
 * Input layout: byte 0 = SMTP_PATH_* flags (bits 0-3); the rest is the path token, and the
 * same bytes are parsed as a domain.
 */
#include <smtp/command.h>
#include <smtp/path.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int inside(smtp_span s, const char *base, size_t len)
{
    if (s.len == 0) return 1;
    return s.ptr >= base && s.len <= len && (size_t)(s.ptr - base) <= len - s.len;
}

static int span_eq(smtp_span a, smtp_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int has_high(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] >= 0x80) return 1;
    }
    return 0;
}

static char *copy(const char *p, size_t n)
{
    char *c = malloc(n); /* malloc(0) is a valid pointer to no bytes under ASan */
    if (!c && n) abort();
    if (n) memcpy(c, p, n);
    return c;
}

static void check_domain_spans(const smtp_domain *d, const char *s, size_t len)
{
    if (!inside(d->text, s, len) || !inside(d->literal, s, len) || !inside(d->tag, s, len)) abort();
    if (d->kind > SMTP_DOMAIN_GENERAL) abort();
    if (d->kind == SMTP_DOMAIN_NONE) return;
    if (d->text.len == 0 || d->text.len > SMTP_MAX_DOMAIN) abort();
    if (d->kind == SMTP_DOMAIN_GENERAL && (d->tag.len == 0 || d->literal.len == 0)) abort();
    if (d->kind == SMTP_DOMAIN_NAME && d->text.ptr[0] == '[') abort();
    if (d->kind != SMTP_DOMAIN_NAME && d->text.ptr[0] != '[') abort();
    if (d->utf8 && (d->kind != SMTP_DOMAIN_NAME || !has_high(d->text.ptr, d->text.len))) abort();
}

static int same_domain(const smtp_domain *a, const smtp_domain *b)
{
    return a->kind == b->kind && span_eq(a->text, b->text) && span_eq(a->literal, b->literal) &&
           span_eq(a->tag, b->tag) && !memcmp(a->addr, b->addr, sizeof a->addr) &&
           !a->utf8 == !b->utf8;
}

/* An address literal re-written from the parsed bytes must parse to the same address. */
static void check_literal_roundtrip(const smtp_domain *d)
{
    char text[64];
    const unsigned char *a = d->addr;
    int n;
    if (d->kind == SMTP_DOMAIN_IPV4) {
        n = snprintf(text, sizeof text, "[%u.%u.%u.%u]", a[0], a[1], a[2], a[3]);
    } else if (d->kind == SMTP_DOMAIN_IPV6) {
        n = snprintf(text, sizeof text, "[IPv6:%x:%x:%x:%x:%x:%x:%x:%x]", a[0] << 8 | a[1],
                     a[2] << 8 | a[3], a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9],
                     a[10] << 8 | a[11], a[12] << 8 | a[13], a[14] << 8 | a[15]);
    } else {
        return;
    }
    smtp_domain back;
    char *heap = copy(text, (size_t)n);
    if (smtp_domain_parse(heap, (size_t)n, 0, &back, NULL) != 0) abort();
    if (back.kind != d->kind || memcmp(back.addr, d->addr, 16) != 0) abort();
    free(heap);
}

/* The path's mailbox, emitted by the client's emitter and read back by the server's parsers. */
static void check_emit_roundtrip(const smtp_path *p, unsigned flags, int rcpt)
{
    char line[600];
    smtp_ssize n = rcpt
                       ? smtp_emit_rcpt(line, sizeof line, p->mailbox.ptr, p->mailbox.len, NULL, 0)
                       : smtp_emit_mail(line, sizeof line, p->mailbox.ptr, p->mailbox.len, NULL, 0);
    if (rcpt && p->mailbox.len == 0) {
        if (n != SMTP_ERR_INVALID_ARGUMENT) abort();
        return;
    }
    if (n == SMTP_ERR_INVALID_ARGUMENT) {
        /*
         * Documented: a '>' outside a quoted string, or an unterminated quoted string, would
         * end the path early. In a valid mailbox only a General-address-literal can hold a
         * '>' or a stray '"' (both are dcontent, RFC 5321 4.1.3).
         */
        if (p->domain.kind != SMTP_DOMAIN_GENERAL ||
            (!memchr(p->domain.literal.ptr, '>', p->domain.literal.len) &&
             !memchr(p->domain.literal.ptr, '"', p->domain.literal.len)))
            abort();
        return;
    }
    if (n <= 0) abort();
    /* The exact size works, one byte less writes nothing. */
    char *exact = malloc((size_t)n);
    if (!exact) abort();
    memset(exact, 0x5a, (size_t)n);
    smtp_ssize m =
        rcpt ? smtp_emit_rcpt(exact, (size_t)n - 1, p->mailbox.ptr, p->mailbox.len, NULL, 0)
             : smtp_emit_mail(exact, (size_t)n - 1, p->mailbox.ptr, p->mailbox.len, NULL, 0);
    if (m != SMTP_ERR_NOBUF) abort();
    for (smtp_ssize i = 0; i < n; i++) {
        if (exact[i] != 0x5a) abort();
    }
    m = rcpt ? smtp_emit_rcpt(exact, (size_t)n, p->mailbox.ptr, p->mailbox.len, NULL, 0)
             : smtp_emit_mail(exact, (size_t)n, p->mailbox.ptr, p->mailbox.len, NULL, 0);
    if (m != n || memcmp(exact, line, (size_t)n) != 0) abort();
    free(exact);

    if (n < 2 || line[n - 2] != '\r' || line[n - 1] != '\n') abort();
    smtp_cmd c;
    if (smtp_cmd_parse(line, (size_t)n - 2, 0, &c) != 0) abort();
    if (c.verb != (rcpt ? SMTP_VERB_RCPT : SMTP_VERB_MAIL) || c.params.len != 0) abort();
    smtp_span inner = {c.path.ptr + 1, c.path.len - 2};
    if (c.path.len != p->mailbox.len + 2 || !span_eq(inner, p->mailbox)) abort();
    smtp_path back;
    unsigned bflags = (flags & ~SMTP_PATH_LENIENT_BRACKETS) | SMTP_PATH_ALLOW_NULL;
    if (rcpt) bflags = (bflags & ~SMTP_PATH_ALLOW_NULL) | SMTP_PATH_ALLOW_POSTMASTER;
    if (p->flags & SMTP_PATH_F_POSTMASTER) bflags |= SMTP_PATH_ALLOW_POSTMASTER;
    char *heap = copy(c.path.ptr, c.path.len);
    if (smtp_path_parse(heap, c.path.len, bflags, &back) != 0) abort();
    if (!span_eq(back.mailbox, p->mailbox) || !span_eq(back.local, p->local)) abort();
    if (back.route.len != 0 || !same_domain(&back.domain, &p->domain)) abort();
    /* The route is gone, brackets are back, and UTF-8 may only have been in the route. */
    unsigned keep =
        ~(unsigned)(SMTP_PATH_F_SOURCE_ROUTE | SMTP_PATH_F_NO_BRACKETS | SMTP_PATH_F_UTF8);
    if ((back.flags & keep) != (p->flags & keep)) abort();
    if (!(back.flags & SMTP_PATH_F_UTF8) != !has_high(p->mailbox.ptr, p->mailbox.len)) abort();
    free(heap);
}

static void check_path(const char *s, size_t len, unsigned flags)
{
    smtp_path p;
    int rc = smtp_path_parse(s, len, flags, &p);
    if (rc != 0) {
        if (rc != SMTP_ERR_SYNTAX && rc != SMTP_ERR_UTF8 && rc != SMTP_ERR_TOO_LONG) abort();
        if (p.error_at > len) abort();
        return;
    }
    if (p.error_at != 0) abort();
    if (!inside(p.mailbox, s, len) || !inside(p.local, s, len) || !inside(p.route, s, len)) abort();
    check_domain_spans(&p.domain, s, len);
    int brackets = !(p.flags & SMTP_PATH_F_NO_BRACKETS);
    if (!brackets && !(flags & SMTP_PATH_LENIENT_BRACKETS)) abort();
    if (brackets && (len < 2 || s[0] != '<' || s[len - 1] != '>')) abort();
    if (len + (brackets ? 0 : 2) > SMTP_MAX_PATH) abort();
    if (!(p.flags & SMTP_PATH_F_UTF8) != !has_high(s, len)) abort();
    if ((p.flags & SMTP_PATH_F_UTF8) && !(flags & SMTP_PATH_UTF8)) abort();
    if (!(p.flags & SMTP_PATH_F_SOURCE_ROUTE) != (p.route.len == 0)) abort();
    if (p.flags & SMTP_PATH_F_NULL) {
        if (!(flags & SMTP_PATH_ALLOW_NULL) || len != 2 || p.mailbox.len || p.domain.kind) abort();
    } else if (p.flags & SMTP_PATH_F_POSTMASTER) {
        if (!(flags & SMTP_PATH_ALLOW_POSTMASTER) || p.domain.kind || p.local.len != 10 ||
            !span_eq(p.local, p.mailbox))
            abort();
    } else {
        /* mailbox = local "@" domain, contiguous */
        if (p.domain.kind == SMTP_DOMAIN_NONE || p.local.len == 0) abort();
        if (p.local.ptr != p.mailbox.ptr || p.local.len > SMTP_MAX_LOCAL_PART) abort();
        if (p.local.len + 1 + p.domain.text.len != p.mailbox.len) abort();
        if (p.mailbox.ptr[p.local.len] != '@') abort();
        if (p.domain.text.ptr != p.mailbox.ptr + p.local.len + 1) abort();
        if (!(p.flags & SMTP_PATH_F_QUOTED) != (p.local.ptr[0] != '"')) abort();
        smtp_domain alone;
        size_t at = 99;
        if (smtp_domain_parse(p.domain.text.ptr, p.domain.text.len, flags & SMTP_PATH_UTF8, &alone,
                              &at) != 0 ||
            at != 0 || !same_domain(&alone, &p.domain))
            abort();
    }
    check_emit_roundtrip(&p, flags, 0);
    check_emit_roundtrip(&p, flags, 1);
}

static void check_domain(const char *s, size_t len, unsigned flags)
{
    smtp_domain d;
    size_t at = 0;
    int rc = smtp_domain_parse(s, len, flags, &d, &at);
    if (rc != 0) {
        if (rc != SMTP_ERR_SYNTAX && rc != SMTP_ERR_UTF8 && rc != SMTP_ERR_TOO_LONG) abort();
        if (at > len) abort();
        return;
    }
    if (at != 0) abort();
    check_domain_spans(&d, s, len);
    if (d.kind == SMTP_DOMAIN_NONE || d.text.ptr != s || d.text.len != len) abort();
    if (d.utf8 && !(flags & SMTP_PATH_UTF8)) abort();
    check_literal_roundtrip(&d);
    /* The same domain inside a path. */
    if (len + 5 > SMTP_MAX_PATH) return;
    char *path = malloc(len + 4);
    if (!path) abort();
    memcpy(path, "<x@", 3);
    memcpy(path + 3, s, len);
    path[len + 3] = '>';
    smtp_path p;
    if (smtp_path_parse(path, len + 4, flags, &p) != 0) abort();
    if (!same_domain(&p.domain, &d)) abort();
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned flags = data[0] & 0x0fu;
    size_t len = size - 1;
    /* an exact-size copy: one byte past it is outside the allocation */
    char *s = copy((const char *)data + 1, len);
    check_path(s, len, flags);
    check_domain(s, len, flags & SMTP_PATH_UTF8);
    free(s);
    return 0;
}
