/* SPDX-License-Identifier: MIT */
/*
 * The EHLO capability parser (RFC 5321 4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param )).
 *
 * How it works. Each line is cut into words at runs of SP/HTAB (servers pad lines; tolerating
 * that is harmless). The first word is the keyword, matched case-insensitively in a table that
 * names a parameter reader per keyword; the readers fill fixed-size fields of smtp_caps. A
 * reader either understands all of its parameters or leaves its fields untouched and counts
 * the line as malformed: a client must not fail on a server's oddity, but must never act on a
 * half-read value ("SIZE 12abc" is not a limit of 12).
 *
 * The old AUTH=mech form (sent by servers for pre-RFC 2554 clients, e.g. Postfix's
 * broken_sasl_auth_clients) is the keyword AUTH with '=' as the separator; its mechanisms are
 * merged with those of AUTH.
 */
#include "internal.h"

#include <smtp/caps.h>
#include <smtp/params.h>

#include <string.h>

/* ---- words ---- */

struct words {
    const char *p;
    const char *end;
};

/* The next word (a run of non-blank bytes), or false at the end. */
static bool next_word(struct words *w, smtp_span *out)
{
    while (w->p < w->end && smtp_is_wsp((unsigned char)*w->p))
        w->p++;
    if (w->p == w->end) return false;
    const char *start = w->p;
    while (w->p < w->end && !smtp_is_wsp((unsigned char)*w->p))
        w->p++;
    out->ptr = start;
    out->len = (size_t)(w->p - start);
    return true;
}

static size_t count_words(struct words w)
{
    size_t n = 0;
    smtp_span s;
    while (next_word(&w, &s))
        n++;
    return n;
}

/* Digits only, at most `max_digits`, no overflow of `limit`: the whole word or nothing. */
static bool parse_number(smtp_span s, size_t max_digits, uint64_t limit, uint64_t *out)
{
    return smtp_parse_uint(s.ptr, s.len, max_digits, limit, out) == 0;
}

/* ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool is_keyword(smtp_span s)
{
    if (s.len == 0 || !smtp_is_alnum((unsigned char)s.ptr[0])) return false;
    for (size_t i = 1; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (!smtp_is_alnum(c) && c != '-') return false;
    }
    return true;
}

static void count_malformed(smtp_caps *c)
{
    if (c->malformed_ < UINT16_MAX) c->malformed_++;
}

/* ---- parameter readers: one per keyword with parameters ---- */

typedef void (*param_reader)(smtp_caps *c, struct words w);

/* For keywords without parameters: any parameter is counted, and ignored. */
static void read_none(smtp_caps *c, struct words w)
{
    if (count_words(w)) count_malformed(c);
}

/* RFC 1870: "SIZE" [SP 1*20DIGIT]; 0 or no number means no fixed limit. */
static void read_size(smtp_caps *c, struct words w)
{
    smtp_span s;
    uint64_t v;
    if (!next_word(&w, &s)) return;
    if (count_words(w) || !parse_number(s, 20, UINT64_MAX, &v)) {
        count_malformed(c);
        return;
    }
    /* Announced twice: the smaller limit is the safe one. */
    if (v && (c->size_ == 0 || v < c->size_)) c->size_ = v;
}

static const struct {
    const char *lower;
    uint32_t bit;
} auth_names[] = {
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

/* Appends a mechanism name to the bounded list unless it is there already. */
static void auth_list_add(smtp_caps *c, smtp_span name)
{
    if (smtp_caps_has_auth(c, name.ptr, name.len)) return;
    size_t sep = c->auth_list_len_ ? 1 : 0;
    if (c->auth_list_len_ + sep + name.len > SMTP_CAPS_AUTH_LIST_MAX) {
        c->auth_truncated_ = 1;
        return;
    }
    if (sep) c->auth_list_[c->auth_list_len_++] = ' ';
    memcpy(c->auth_list_ + c->auth_list_len_, name.ptr, name.len);
    c->auth_list_len_ = (unsigned char)(c->auth_list_len_ + name.len);
}

/* RFC 4954 3: "AUTH" SP sasl-mech *(SP sasl-mech); also the old "AUTH=" form. */
static void read_auth(smtp_caps *c, struct words w)
{
    smtp_span s;
    size_t n = 0;
    while (next_word(&w, &s)) {
        if (!smtp_is_sasl_mech(s.ptr, s.len)) {
            /* Not a mechanism: the rest is a comment ("[SASL clear text...]") or garbage. */
            count_malformed(c);
            return;
        }
        for (size_t i = 0; i < SMTP_ARRAY_LEN(auth_names); i++) {
            if (smtp_span_ieq(s.ptr, s.len, auth_names[i].lower)) c->auth_ |= auth_names[i].bit;
        }
        auth_list_add(c, s);
        n++;
    }
    if (n == 0) count_malformed(c);
}

/* RFC 2852 4: "DELIVERBY" [SP min-by-time], min-by-time = 1*9DIGIT (seconds). */
static void read_deliverby(smtp_caps *c, struct words w)
{
    smtp_span s;
    uint64_t v;
    if (!next_word(&w, &s)) return;
    if (count_words(w) || !parse_number(s, 9, UINT32_MAX, &v)) {
        count_malformed(c);
        return;
    }
    c->deliverby_ = (uint32_t)v;
}

/* RFC 6710 9: "MT-PRIORITY" [SP priority-profile], a profile name such as MIXER. */
static void read_mt_priority(smtp_caps *c, struct words w)
{
    smtp_span s;
    if (!next_word(&w, &s)) return;
    if (count_words(w) || !is_keyword(s) || s.len > SMTP_CAPS_PROFILE_MAX) {
        count_malformed(c);
        return;
    }
    memcpy(c->profile_, s.ptr, s.len);
    c->profile_len_ = (unsigned char)s.len;
}

/* RFC 4865 4: "FUTURERELEASE" SP max-future-release-interval SP max-future-release-date-time */
static void read_futurerelease(smtp_caps *c, struct words w)
{
    smtp_span interval, when;
    uint64_t secs;
    int64_t utc;
    if (!next_word(&w, &interval) || !next_word(&w, &when) || count_words(w) ||
        !parse_number(interval, 20, UINT64_MAX, &secs) ||
        smtp_datetime_parse(when.ptr, when.len, &utc) != 0) {
        count_malformed(c);
        return;
    }
    c->fr_interval_ = secs;
    c->fr_datetime_ = utc;
    c->fr_valid_ = 1;
}

/* RFC 9422 4: "LIMITS" SP limit *(SP limit), limit = name "=" value; unknown names ignored. */
static void read_limits(smtp_caps *c, struct words w)
{
    static const char *const names[] = {"mailmax", "rcptmax", "rcptdomainmax"};
    smtp_span s;
    bool bad = count_words(w) == 0;
    while (next_word(&w, &s)) {
        const char *eq = memchr(s.ptr, '=', s.len);
        if (!eq) {
            bad = true;
            continue;
        }
        size_t nlen = (size_t)(eq - s.ptr);
        smtp_span value = {eq + 1, s.len - nlen - 1};
        for (size_t i = 0; i < SMTP_ARRAY_LEN(names); i++) {
            if (!smtp_span_ieq(s.ptr, nlen, names[i])) continue;
            uint64_t v;
            if (!parse_number(value, 10, UINT32_MAX, &v) || v == 0) {
                bad = true;
                break;
            }
            /* Announced twice: the smaller limit is the safe one. */
            if (c->limits_[i] == 0 || v < c->limits_[i]) c->limits_[i] = (uint32_t)v;
        }
    }
    if (bad) count_malformed(c);
}

static const struct {
    const char *lower;
    unsigned bit;
} xattr_names[] = {
    {"name", SMTP_XATTR_NAME},
    {"addr", SMTP_XATTR_ADDR},
    {"port", SMTP_XATTR_PORT},
    {"proto", SMTP_XATTR_PROTO},
    {"helo", SMTP_XATTR_HELO},
    {"login", SMTP_XATTR_LOGIN},
    {"reverse_name", SMTP_XATTR_REVERSE_NAME},
    {"destaddr", SMTP_XATTR_DESTADDR},
    {"destport", SMTP_XATTR_DESTPORT},
    {"source", SMTP_XATTR_SOURCE},
    {"ident", SMTP_XATTR_IDENT},
};

unsigned smtp_xattr_bit(const char *name, size_t len)
{
    for (size_t i = 0; i < SMTP_ARRAY_LEN(xattr_names); i++)
        if (smtp_span_ieq(name, len, xattr_names[i].lower)) return xattr_names[i].bit;
    return 0;
}

static unsigned read_xattrs(struct words w)
{
    unsigned bits = 0;
    smtp_span s;
    while (next_word(&w, &s))
        bits |= smtp_xattr_bit(s.ptr, s.len);
    return bits;
}

/* Postfix XCLIENT_README: "XCLIENT" SP attribute-name *(SP attribute-name) */
static void read_xclient(smtp_caps *c, struct words w)
{
    c->xclient_ = (uint16_t)(c->xclient_ | read_xattrs(w));
}

/* Postfix XFORWARD_README: "XFORWARD" SP attribute-name *(SP attribute-name) */
static void read_xforward(smtp_caps *c, struct words w)
{
    c->xforward_ = (uint16_t)(c->xforward_ | read_xattrs(w));
}

/* ---- keywords ---- */

static const struct keyword {
    const char *name; /* as announced */
    const char *lower;
    smtp_cap cap;
    param_reader read;
} keywords[SMTP_CAP_COUNT] = {
    {"PIPELINING", "pipelining", SMTP_CAP_PIPELINING, read_none},
    {"SIZE", "size", SMTP_CAP_SIZE, read_size},
    {"8BITMIME", "8bitmime", SMTP_CAP_8BITMIME, read_none},
    {"SMTPUTF8", "smtputf8", SMTP_CAP_SMTPUTF8, read_none},
    {"CHUNKING", "chunking", SMTP_CAP_CHUNKING, read_none},
    {"BINARYMIME", "binarymime", SMTP_CAP_BINARYMIME, read_none},
    {"DSN", "dsn", SMTP_CAP_DSN, read_none},
    {"ENHANCEDSTATUSCODES", "enhancedstatuscodes", SMTP_CAP_ENHANCEDSTATUSCODES, read_none},
    {"STARTTLS", "starttls", SMTP_CAP_STARTTLS, read_none},
    {"AUTH", "auth", SMTP_CAP_AUTH, read_auth},
    {"REQUIRETLS", "requiretls", SMTP_CAP_REQUIRETLS, read_none},
    {"DELIVERBY", "deliverby", SMTP_CAP_DELIVERBY, read_deliverby},
    {"MT-PRIORITY", "mt-priority", SMTP_CAP_MT_PRIORITY, read_mt_priority},
    {"FUTURERELEASE", "futurerelease", SMTP_CAP_FUTURERELEASE, read_futurerelease},
    {"LIMITS", "limits", SMTP_CAP_LIMITS, read_limits},
    {"XCLIENT", "xclient", SMTP_CAP_XCLIENT, read_xclient},
    {"XFORWARD", "xforward", SMTP_CAP_XFORWARD, read_xforward},
    {"VRFY", "vrfy", SMTP_CAP_VRFY, read_none},
    {"ETRN", "etrn", SMTP_CAP_ETRN, read_none},
    {"HELP", "help", SMTP_CAP_HELP, read_none},
    {"EXPN", "expn", SMTP_CAP_EXPN, read_none},
    {"RRVS", "rrvs", SMTP_CAP_RRVS, read_none},
};

static const struct keyword *find_keyword(smtp_span s)
{
    for (size_t i = 0; i < SMTP_ARRAY_LEN(keywords); i++) {
        if (smtp_span_ieq(s.ptr, s.len, keywords[i].lower)) return &keywords[i];
    }
    return NULL;
}

/* The first line: Domain / address-literal [SP ehlo-greet] (RFC 5321 4.1.1.1). */
static void add_greeting(smtp_caps *c, struct words w)
{
    smtp_span s;
    if (!next_word(&w, &s)) return;
    if (smtp_span_has_ctl(s.ptr, s.len) || s.len > SMTP_CAPS_DOMAIN_MAX) {
        count_malformed(c);
        return;
    }
    memcpy(c->domain_, s.ptr, s.len);
    c->domain_len_ = (unsigned char)s.len;
}

static void add_keyword_line(smtp_caps *c, const char *p, const char *end)
{
    while (p < end && smtp_is_wsp((unsigned char)*p))
        p++;
    const char *k = p;
    while (p < end && !smtp_is_wsp((unsigned char)*p) && *p != '=')
        p++;
    smtp_span kw = {k, (size_t)(p - k)};
    if (!is_keyword(kw)) {
        count_malformed(c);
        return;
    }
    const struct keyword *known = find_keyword(kw);
    if (p < end && *p == '=' && (!known || known->cap != SMTP_CAP_AUTH)) {
        count_malformed(c); /* "KEYWORD=..." is not an ehlo-line, except the old AUTH= */
        return;
    }
    if (!known) {
        if (c->unknown_ < UINT16_MAX) c->unknown_++;
        return;
    }
    if (p < end && *p == '=') p++;
    c->present_ |= UINT32_C(1) << known->cap;
    struct words w = {p, end};
    known->read(c, w);
}

/* ---- public API ---- */

void smtp_caps_init(smtp_caps *caps)
{
    if (caps) memset(caps, 0, sizeof *caps);
}

int smtp_caps_add_line(smtp_caps *caps, const char *line, size_t len)
{
    if (!caps || (!line && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (!line) line = "";
    if (len && line[len - 1] == '\n') len--;
    if (len && line[len - 1] == '\r') len--;
    if (caps->lines_ == 0) {
        struct words w = {line, line + len};
        add_greeting(caps, w);
    } else {
        add_keyword_line(caps, line, line + len);
    }
    if (caps->lines_ < UINT16_MAX) caps->lines_++;
    return 0;
}

int smtp_caps_has(const smtp_caps *caps, smtp_cap cap)
{
    if (!caps || (unsigned)cap >= SMTP_CAP_COUNT) return 0;
    return (caps->present_ >> (unsigned)cap) & 1u;
}

const char *smtp_cap_name(smtp_cap cap)
{
    if ((unsigned)cap >= SMTP_CAP_COUNT) return NULL;
    return keywords[cap].name;
}

uint64_t smtp_caps_size(const smtp_caps *caps)
{
    return caps ? caps->size_ : 0;
}

uint32_t smtp_caps_auth_mechs(const smtp_caps *caps)
{
    return caps ? caps->auth_ : 0;
}

int smtp_caps_has_auth(const smtp_caps *caps, const char *mech, size_t len)
{
    if (!caps || !mech || len == 0) return 0;
    smtp_span want = {mech, len};
    struct words w = {caps->auth_list_, caps->auth_list_ + caps->auth_list_len_};
    smtp_span s;
    while (next_word(&w, &s)) {
        if (smtp_span_ieq_span(s.ptr, s.len, want.ptr, want.len)) return 1;
    }
    return 0;
}

smtp_span smtp_caps_auth_list(const smtp_caps *caps)
{
    smtp_span s = {"", 0};
    if (caps) {
        s.ptr = caps->auth_list_;
        s.len = caps->auth_list_len_;
    }
    return s;
}

int smtp_caps_auth_truncated(const smtp_caps *caps)
{
    return caps ? caps->auth_truncated_ : 0;
}

smtp_span smtp_caps_domain(const smtp_caps *caps)
{
    smtp_span s = {"", 0};
    if (caps) {
        s.ptr = caps->domain_;
        s.len = caps->domain_len_;
    }
    return s;
}

uint32_t smtp_caps_deliverby_min(const smtp_caps *caps)
{
    return caps ? caps->deliverby_ : 0;
}

smtp_span smtp_caps_mt_priority_profile(const smtp_caps *caps)
{
    smtp_span s = {"", 0};
    if (caps) {
        s.ptr = caps->profile_;
        s.len = caps->profile_len_;
    }
    return s;
}

int smtp_caps_future_release(const smtp_caps *caps, uint64_t *max_interval, int64_t *max_datetime)
{
    if (!caps || !caps->fr_valid_) return 0;
    if (max_interval) *max_interval = caps->fr_interval_;
    if (max_datetime) *max_datetime = caps->fr_datetime_;
    return 1;
}

uint32_t smtp_caps_limit(const smtp_caps *caps, smtp_caps_limit_name which)
{
    if (!caps || (unsigned)which >= SMTP_ARRAY_LEN(caps->limits_)) return 0;
    return caps->limits_[which];
}

unsigned smtp_caps_xclient(const smtp_caps *caps)
{
    return caps ? caps->xclient_ : 0;
}

unsigned smtp_caps_xforward(const smtp_caps *caps)
{
    return caps ? caps->xforward_ : 0;
}

unsigned smtp_caps_unknown(const smtp_caps *caps)
{
    return caps ? caps->unknown_ : 0;
}

unsigned smtp_caps_malformed(const smtp_caps *caps)
{
    return caps ? caps->malformed_ : 0;
}
