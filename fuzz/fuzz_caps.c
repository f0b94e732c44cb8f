/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the EHLO capability parser (smtp_caps_add_line and its getters).
 *
 * Checked here, besides no crash, no over-read (each line is an exact-size heap copy) and no
 * undefined behaviour:
 *  - ownership: after each line is added, the line is overwritten and freed; every getter must
 *    give the same answer as before, and every span a getter returns points into the caps
 *    struct (a span into the freed line would also be an ASan use-after-free); a memcpy copy
 *    of the struct answers the same;
 *  - line ends: a line with its CRLF (or LF) gives the same caps as the line without it;
 *  - getter invariants: a value implies its capability (SIZE, AUTH, DELIVERBY, MT-PRIORITY,
 *    FUTURERELEASE, LIMITS, XCLIENT, XFORWARD); capabilities never disappear and the SIZE
 *    limit only shrinks; the AUTH list is distinct valid SASL names separated by one SP, each
 *    found by smtp_caps_has_auth, and the SMTP_AUTH_* bits match the known names in it (all of
 *    them when nothing was truncated); the domain is one word without controls; bounds hold
 *    (255, 255, 32 octets; unknown counts at most the keyword lines, malformed at most the lines);
 * out-of- range arguments give 0 or NULL. Input layout: byte 0 = bit 0: hand each line to the
 * parser with its LF; the rest is cut into lines at each LF (the first line is the greeting line
 * with the server's domain).
 */
#include <smtp/caps.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct snap {
    uint32_t has;
    uint64_t size;
    uint32_t mechs;
    int truncated;
    size_t auth_len, domain_len, profile_len;
    char auth[SMTP_CAPS_AUTH_LIST_MAX];
    char domain[SMTP_CAPS_DOMAIN_MAX];
    char profile[SMTP_CAPS_PROFILE_MAX];
    uint32_t deliverby;
    int fr;
    uint64_t fr_interval;
    int64_t fr_datetime;
    uint32_t limits[3];
    unsigned xclient, xforward, unknown, malformed;
};

static const struct {
    const char *name;
    uint32_t bit;
} known_mechs[] = {
    {"plain", SMTP_AUTH_PLAIN},
    {"login", SMTP_AUTH_LOGIN},
    {"cram-md5", SMTP_AUTH_CRAM_MD5},
    {"digest-md5", SMTP_AUTH_DIGEST_MD5},
    {"scram-sha-1", SMTP_AUTH_SCRAM_SHA_1},
    {"scram-sha-1-plus", SMTP_AUTH_SCRAM_SHA_1_PLUS},
    {"scram-sha-256", SMTP_AUTH_SCRAM_SHA_256},
    {"scram-sha-256-plus", SMTP_AUTH_SCRAM_SHA_256_PLUS},
    {"xoauth2", SMTP_AUTH_XOAUTH2},
    {"oauthbearer", SMTP_AUTH_OAUTHBEARER},
    {"external", SMTP_AUTH_EXTERNAL},
    {"anonymous", SMTP_AUTH_ANONYMOUS},
    {"gssapi", SMTP_AUTH_GSSAPI},
    {"ntlm", SMTP_AUTH_NTLM},
};

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    }
    return 1;
}

/* The span lies inside the caps struct (it owns its data). */
static void owned(smtp_span s, const smtp_caps *c)
{
    const char *lo = (const char *)c, *hi = lo + sizeof *c;
    if (s.len == 0) return;
    if (s.ptr < lo || s.ptr > hi || s.len > (size_t)(hi - s.ptr)) abort();
}

static void take(const smtp_caps *c, struct snap *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < SMTP_CAP_COUNT; i++) {
        int h = smtp_caps_has(c, (smtp_cap)i);
        if (h != 0 && h != 1) abort();
        s->has |= (uint32_t)h << i;
        if (!smtp_cap_name((smtp_cap)i)) abort();
    }
    s->size = smtp_caps_size(c);
    s->mechs = smtp_caps_auth_mechs(c);
    s->truncated = smtp_caps_auth_truncated(c);
    smtp_span a = smtp_caps_auth_list(c), d = smtp_caps_domain(c),
              p = smtp_caps_mt_priority_profile(c);
    owned(a, c);
    owned(d, c);
    owned(p, c);
    if (a.len > sizeof s->auth || d.len > sizeof s->domain || p.len > sizeof s->profile) abort();
    s->auth_len = a.len;
    s->domain_len = d.len;
    s->profile_len = p.len;
    if (a.len) memcpy(s->auth, a.ptr, a.len);
    if (d.len) memcpy(s->domain, d.ptr, d.len);
    if (p.len) memcpy(s->profile, p.ptr, p.len);
    s->deliverby = smtp_caps_deliverby_min(c);
    uint64_t iv = 7;
    int64_t dt = 7;
    s->fr = smtp_caps_future_release(c, &iv, &dt);
    if (s->fr != 0 && s->fr != 1) abort();
    if (!s->fr && (iv != 7 || dt != 7)) abort(); /* left alone */
    if (s->fr) {
        s->fr_interval = iv;
        s->fr_datetime = dt;
    }
    for (int i = 0; i < 3; i++)
        s->limits[i] = smtp_caps_limit(c, (smtp_caps_limit_name)i);
    s->xclient = smtp_caps_xclient(c);
    s->xforward = smtp_caps_xforward(c);
    s->unknown = smtp_caps_unknown(c);
    s->malformed = smtp_caps_malformed(c);
}

static int is_sasl_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' ||
           c == '_';
}

static void check_auth_list(const smtp_caps *c, const struct snap *s)
{
    const char *p = s->auth, *end = s->auth + s->auth_len;
    uint32_t named = 0;
    if (s->auth_len && (p[0] == ' ' || end[-1] == ' ')) abort();
    while (p < end) {
        const char *w = p;
        while (p < end && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        if (n == 0 || n > 20) abort(); /* one SP between names */
        for (size_t i = 0; i < n; i++) {
            if (!is_sasl_char((unsigned char)w[i])) abort();
        }
        /* distinct: no earlier name equal without regard to case */
        for (const char *q = s->auth; q < w;) {
            const char *v = q;
            while (*q != ' ')
                q++;
            if (ieq(v, (size_t)(q - v), w, n)) abort();
            q++;
        }
        if (smtp_caps_has_auth(c, w, n) != 1) abort();
        for (size_t k = 0; k < sizeof known_mechs / sizeof known_mechs[0]; k++) {
            if (ieq(w, n, known_mechs[k].name, strlen(known_mechs[k].name)))
                named |= known_mechs[k].bit;
        }
        if (p < end) p++;
    }
    if ((named & ~s->mechs) != 0) abort();
    if (!s->truncated && named != s->mechs) abort();
}

static void check(const smtp_caps *c, const struct snap *s, const struct snap *before,
                  unsigned lines)
{
    if (s->has >> SMTP_CAP_COUNT) abort();
    if (smtp_caps_has(c, SMTP_CAP_COUNT) || smtp_caps_has(c, (smtp_cap)-1)) abort();
    if (smtp_cap_name(SMTP_CAP_COUNT) || smtp_caps_limit(c, (smtp_caps_limit_name)3)) abort();
    if (smtp_caps_has_auth(c, NULL, 0) || smtp_caps_has_auth(c, "x", 0)) abort();
#define IMPLIES(cond, cap)                                                                         \
    if ((cond) && !(s->has & (1u << (cap)))) abort()
    IMPLIES(s->size, SMTP_CAP_SIZE);
    IMPLIES(s->mechs || s->auth_len || s->truncated, SMTP_CAP_AUTH);
    IMPLIES(s->deliverby, SMTP_CAP_DELIVERBY);
    IMPLIES(s->profile_len, SMTP_CAP_MT_PRIORITY);
    IMPLIES(s->fr, SMTP_CAP_FUTURERELEASE);
    IMPLIES(s->limits[0] || s->limits[1] || s->limits[2], SMTP_CAP_LIMITS);
    IMPLIES(s->xclient, SMTP_CAP_XCLIENT);
    IMPLIES(s->xforward, SMTP_CAP_XFORWARD);
#undef IMPLIES
    if (s->mechs >> 14 || s->xclient >> 11 || s->xforward >> 11) abort();
    for (size_t i = 0; i < s->domain_len; i++) {
        unsigned char ch = (unsigned char)s->domain[i];
        if (ch < 0x20 || ch == 0x7f || ch == ' ') abort();
    }
    check_auth_list(c, s);
    unsigned keyword_lines = lines > 0 ? lines - 1 : 0;
    /* a greeting whose domain cannot be kept counts as malformed too */
    if (s->unknown > keyword_lines || s->malformed > lines) abort();
    /* monotonic: capabilities stay, the SIZE limit only shrinks */
    if ((before->has & ~s->has) != 0) abort();
    if (before->size && (s->size == 0 || s->size > before->size)) abort();
    if (s->unknown < before->unknown || s->malformed < before->malformed) abort();
    /* a copy of the struct is the same capabilities */
    smtp_caps copy;
    struct snap cs;
    memcpy(&copy, c, sizeof copy);
    take(&copy, &cs);
    if (memcmp(&cs, s, sizeof cs) != 0) abort();
}

/* Adds `n` bytes as an exact-size heap copy, then overwrites and frees it. */
static void add(smtp_caps *c, const char *line, size_t n, const char *tail, size_t tn)
{
    char *copy = malloc(n + tn);
    if (!copy && n + tn) abort();
    if (n) memcpy(copy, line, n);
    if (tn) memcpy(copy + n, tail, tn);
    if (smtp_caps_add_line(c, copy, n + tn) != 0) abort();
    struct snap a, b;
    take(c, &a);
    if (n + tn) memset(copy, 0xa5, n + tn);
    take(c, &b);
    if (memcmp(&a, &b, sizeof a) != 0) abort();
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int with_lf = data[0] & 1;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    smtp_caps a, b;
    smtp_caps_init(&a);
    smtp_caps_init(&b);
    if (smtp_caps_add_line(NULL, "x", 1) != SMTP_ERR_INVALID_ARGUMENT ||
        smtp_caps_add_line(&a, NULL, 1) != SMTP_ERR_INVALID_ARGUMENT)
        abort();
    struct snap before, sa, sb;
    take(&a, &before);
    unsigned lines = 0;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t n = lf ? (size_t)(lf - p) : (size_t)(end - p);
        /* a: as the fuzzer says; b: with CRLF, unless the line ends in CR (then CR is text) */
        add(&a, p, n, "\n", with_lf && lf ? 1 : 0);
        if (n && p[n - 1] == '\r')
            add(&b, p, n, "\n", with_lf && lf ? 1 : 0);
        else
            add(&b, p, n, "\r\n", 2);
        lines++;
        take(&a, &sa);
        take(&b, &sb);
        if (memcmp(&sa, &sb, sizeof sa) != 0) abort();
        check(&a, &sa, &before, lines);
        before = sa;
        p += n + (lf ? 1 : 0);
    }
    return 0;
}
