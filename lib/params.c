/* SPDX-License-Identifier: MIT */
/*
 * ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2) and the typed values of the extensions.
 *
 * How it works: smtp_param_next cuts the string into "keyword[=value]" tokens by the generic
 * grammar. The typed parsers look each keyword up in a table of known parameters (keyword,
 * extension, presence bit, value parser). A parameter whose extension the caller did not
 * enable is treated as unknown and offered to the caller's callback; without one it fails the
 * parse with 555 (RFC 5321 4.1.1.11). Every failure fills a smtp_param_fault that names the
 * parameter and gives a short reason, so a server can reply precisely. Nothing is allocated:
 * values are numbers, enums, or spans of the input.
 */
#include "internal.h"

#include <smtp/codec.h>
#include <smtp/params.h>

#include <string.h>

/* ---- the iterator ---- */

void smtp_param_iter_init(smtp_param_iter *it, const char *s, size_t len, unsigned flags)
{
    if (!it) return;
    it->s = s;
    it->len = s ? len : 0;
    it->pos = 0;
    it->flags = flags;
    it->error_at = 0;
    it->error = 0;
}

static int iter_fail(smtp_param_iter *it, size_t at, int err)
{
    it->error_at = at;
    it->error = err; /* sticky */
    return err;
}

/* esmtp-value bytes: %d33-60 / %d62-126, i.e. printable US-ASCII except '='. */
static bool is_value_char(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '=';
}

/* Scans the value at it->pos; fills p->value. */
static int iter_value(smtp_param_iter *it, smtp_param *p)
{
    const unsigned char *s = (const unsigned char *)it->s;
    size_t start = it->pos, pos = start, len = it->len; /* locals: a char load may alias it */
    for (; pos < len && s[pos] != ' '; pos++) {
        unsigned char c = s[pos];
        if (c >= 0x80) {
            if (!(it->flags & SMTP_PARAM_UTF8)) return iter_fail(it, pos, SMTP_ERR_UTF8);
            p->utf8 = 1;
        } else if (!is_value_char(c)) {
            return iter_fail(it, pos, SMTP_ERR_SYNTAX);
        }
    }
    it->pos = pos;
    if (pos == start) return iter_fail(it, start, SMTP_ERR_SYNTAX);
    size_t bad = 0;
    if (p->utf8 && smtp_utf8_check(it->s + start, it->pos - start, &bad) < 0)
        return iter_fail(it, start + bad, SMTP_ERR_UTF8);
    p->value.ptr = it->s + start;
    p->value.len = it->pos - start;
    p->has_value = 1;
    return 0;
}

int smtp_param_next(smtp_param_iter *it, smtp_param *p)
{
    if (!it || !p) return SMTP_ERR_INVALID_ARGUMENT;
    memset(p, 0, sizeof *p);
    if (it->error) return it->error;
    const unsigned char *s = (const unsigned char *)it->s;
    size_t pos = it->pos, len = it->len; /* locals: a char load may alias *it */
    while (pos < len && s[pos] == ' ')
        pos++;
    it->pos = pos;
    if (pos == len) return 0;
    size_t start = pos;
    if (!smtp_is_alnum(s[start]))
        return iter_fail(it, start, SMTP_ERR_SYNTAX); /* keywords are ASCII, even with UTF-8 */
    while (pos < len && (smtp_is_alnum(s[pos]) || s[pos] == '-'))
        pos++;
    it->pos = pos;
    p->key.ptr = it->s + start;
    p->key.len = pos - start;
    p->offset = start;
    if (it->pos < it->len && s[it->pos] == '=') {
        it->pos++;
        int rc = iter_value(it, p);
        if (rc < 0) return rc;
    }
    if (it->pos < it->len && s[it->pos] != ' ') return iter_fail(it, it->pos, SMTP_ERR_SYNTAX);
    return 1;
}

/* ---- RFC 3339 date-time ---- */

/* Reads exactly `n` decimal digits at p into *v. */
static bool read_digits(const char *p, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_is_digit((unsigned char)p[i])) return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (civil-from-days inverse). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* time-offset = "Z" / time-numoffset; returns the offset in seconds east of UTC, or false. */
static bool read_offset(const char *p, size_t n, int64_t *off)
{
    if (n == 1 && (p[0] == 'Z' || p[0] == 'z')) {
        *off = 0;
        return true;
    }
    int hh, mm;
    if (n != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':' || !read_digits(p + 1, 2, &hh) ||
        !read_digits(p + 4, 2, &mm) || hh > 23 || mm > 59)
        return false;
    *off = (p[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
    return true;
}

int smtp_datetime_parse(const char *s, size_t len, int64_t *utc)
{
    if ((!s && len) || !utc) return SMTP_ERR_INVALID_ARGUMENT;
    int y, mo, d, h, mi, sec;
    /* full-date "T" partial-time: "YYYY-MM-DDTHH:MM:SS" is 19 bytes */
    if (len < 20 || !read_digits(s, 4, &y) || s[4] != '-' || !read_digits(s + 5, 2, &mo) ||
        s[7] != '-' || !read_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !read_digits(s + 11, 2, &h) || s[13] != ':' || !read_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !read_digits(s + 17, 2, &sec))
        return SMTP_ERR_SYNTAX;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return SMTP_ERR_SYNTAX;
    size_t i = 19;
    if (s[i] == '.') {
        size_t frac = ++i;
        while (i < len && smtp_is_digit((unsigned char)s[i]))
            i++;
        if (i == frac) return SMTP_ERR_SYNTAX;
    }
    int64_t off;
    if (!read_offset(s + i, len - i, &off)) return SMTP_ERR_SYNTAX;
    *utc = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

/* ---- the typed parsers: shared machinery ---- */

typedef struct pctx {
    const smtp_params_opts *opts;
    smtp_param_fault *fault;
    unsigned *present;
    size_t *extra;
    bool utf8; /* UTF-8 values allowed */
} pctx;

/* A known parameter: its keyword (lowercase), extension, presence bit and value parser. */
typedef struct param_def {
    const char *name;
    size_t len; /* of the name: the keyword's length is compared first */
    unsigned ext;
    unsigned bit;
    bool takes_value;
    int (*parse)(const smtp_param *p, void *out, pctx *c);
} param_def;
#define PARAM(name, ...)                                                                           \
    {                                                                                              \
        name, sizeof(name) - 1, __VA_ARGS__                                                        \
    }

/* Records why parameter `p` failed and returns `err`. */
static int fault(pctx *c, const smtp_param *p, int err, int reply_code, const char *text)
{
    c->fault->key = p->key;
    c->fault->offset = p->offset;
    c->fault->reply_code = reply_code;
    c->fault->text = text;
    return err;
}

static int bad(pctx *c, const smtp_param *p, int err, const char *text)
{
    return fault(c, p, err, 501, text);
}

/* Parses the whole span as 1..max_digits decimal digits, at most `limit`. */
static int parse_uint(smtp_span v, size_t max_digits, uint64_t limit, uint64_t *out)
{
    return smtp_parse_uint(v.ptr, v.len, max_digits, limit, out);
}

static bool value_is(const smtp_param *p, const char *lower)
{
    return smtp_span_ieq(p->value.ptr, p->value.len, lower);
}

static const param_def *find_def(const param_def *defs, size_t n, const smtp_param *p,
                                 unsigned enabled)
{
    for (size_t i = 0; i < n; i++) {
        if ((defs[i].ext & enabled) && p->key.len == defs[i].len &&
            smtp_span_ieq(p->key.ptr, p->key.len, defs[i].name))
            return &defs[i];
    }
    return NULL;
}

/* RFC 5321 4.1.1.11: a parameter not recognized or not implemented gets 555. */
static int unknown_param(const smtp_param *p, pctx *c)
{
    int r = c->opts->unknown ? c->opts->unknown(p, c->opts->user_data) : SMTP_PARAM_UNRECOGNIZED;
    if (r < 0)
        return fault(c, p, SMTP_ERR_CALLBACK_FAILURE, 0, "unknown-parameter callback failed");
    if (r != 0)
        return fault(c, p, SMTP_ERR_SYNTAX, 555, "parameter not recognized or not implemented");
    (*c->extra)++;
    return 0;
}

/*
 * A fault found by the iterator: names the keyword of the token holding the bad byte (the run
 * of keyword characters that starts it), so that the reply can say which parameter failed.
 */
static int list_fault(pctx *c, const smtp_param_iter *it)
{
    smtp_param tok;
    memset(&tok, 0, sizeof tok);
    size_t b = it->error_at < it->len ? it->error_at : it->len;
    while (b > 0 && it->s[b - 1] != ' ')
        b--;
    size_t e = b;
    while (e < it->len && (smtp_is_alnum((unsigned char)it->s[e]) || it->s[e] == '-'))
        e++;
    tok.key.ptr = it->s + b;
    tok.key.len = e - b;
    tok.offset = it->error_at;
    if (it->error == SMTP_ERR_UTF8)
        return bad(c, &tok, SMTP_ERR_UTF8,
                   c->utf8 ? "malformed UTF-8 in a parameter value"
                           : "UTF-8 in a parameter value without SMTPUTF8");
    return bad(c, &tok, it->error, "malformed parameter (keyword[=value], separated by SP)");
}

static int parse_list(const char *s, size_t len, const param_def *defs, size_t ndefs, void *out,
                      pctx *c)
{
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, s, len, c->utf8 ? SMTP_PARAM_UTF8 : 0);
    int rc;
    while ((rc = smtp_param_next(&it, &p)) == 1) {
        const param_def *d = find_def(defs, ndefs, &p, c->opts->extensions);
        if (!d) {
            rc = unknown_param(&p, c);
            if (rc < 0) return rc;
            continue;
        }
        if (*c->present & d->bit) return bad(c, &p, SMTP_ERR_DUPLICATE, "parameter given twice");
        if (d->takes_value && !p.has_value)
            return bad(c, &p, SMTP_ERR_SYNTAX, "parameter needs a value");
        if (!d->takes_value && p.has_value)
            return bad(c, &p, SMTP_ERR_SYNTAX, "parameter takes no value");
        rc = d->parse(&p, out, c);
        if (rc < 0) return rc;
        *c->present |= d->bit;
    }
    return rc < 0 ? list_fault(c, &it) : 0;
}

/* The options to read: the caller's when its `version` is this library's (read in place: the
 * parsers run per MAIL and RCPT), the defaults in *dflt for NULL; NULL for an unknown version.
 * (A later version copies an older caller's fields over the defaults into *dflt.) */
static const smtp_params_opts *opts_of(int version, const smtp_params_opts *opts,
                                       smtp_params_opts *dflt)
{
    if (version != SMTP_PARAMS_OPTS_VERSION) return NULL;
    if (opts) return opts;
    smtp_params_opts_init(dflt);
    return dflt;
}

void smtp_params_opts_init_versioned(int version, smtp_params_opts *o)
{
    if (!o || version < 1 || version > SMTP_PARAMS_OPTS_VERSION) return;
    memset(o, 0, sizeof *o);
    o->extensions = SMTP_PARAM_EXT_ALL;
}

/* ---- MAIL parameters ---- */

static int mail_size(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    int rc = parse_uint(p->value, 20, UINT64_MAX, &m->size);
    if (rc == SMTP_ERR_OVERFLOW) return bad(c, p, rc, "SIZE value is too large");
    return rc < 0 ? bad(c, p, rc, "SIZE value is not a number") : 0;
}

static int mail_body(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    unsigned ext = c->opts->extensions;
    if (value_is(p, "7bit")) {
        m->body = SMTP_BODY_7BIT;
    } else if (value_is(p, "8bitmime")) {
        if (!(ext & SMTP_PARAM_EXT_8BITMIME))
            return fault(c, p, SMTP_ERR_SYNTAX, 555, "BODY=8BITMIME is not offered");
        m->body = SMTP_BODY_8BITMIME;
    } else if (value_is(p, "binarymime")) {
        if (!(ext & SMTP_PARAM_EXT_BINARYMIME))
            return fault(c, p, SMTP_ERR_SYNTAX, 555, "BODY=BINARYMIME is not offered");
        m->body = SMTP_BODY_BINARYMIME;
    } else {
        return bad(c, p, SMTP_ERR_SYNTAX, "BODY must be 7BIT, 8BITMIME or BINARYMIME");
    }
    return 0;
}

static int no_value(const smtp_param *p, void *out, pctx *c)
{
    (void)p;
    (void)out;
    (void)c;
    return 0;
}

static int mail_ret(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    if (value_is(p, "full"))
        m->ret = SMTP_RET_FULL;
    else if (value_is(p, "hdrs"))
        m->ret = SMTP_RET_HDRS;
    else
        return bad(c, p, SMTP_ERR_SYNTAX, "RET must be FULL or HDRS");
    return 0;
}

static int mail_envid(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    /* RFC 3461 4.4: at most 100 characters. */
    if (p->value.len > 100)
        return bad(c, p, SMTP_ERR_TOO_LONG, "ENVID is longer than 100 characters");
    if (smtp_xtext_decoded_len(p->value.ptr, p->value.len) < 0)
        return bad(c, p, SMTP_ERR_XTEXT, "ENVID is not valid xtext");
    m->envid = p->value;
    return 0;
}

static int mail_auth(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    /* RFC 4954 5: xtext of an addr-spec, or "<>" (itself valid xtext). */
    if (smtp_xtext_decoded_len(p->value.ptr, p->value.len) < 0)
        return bad(c, p, SMTP_ERR_XTEXT, "AUTH value is not valid xtext");
    m->auth = p->value;
    return 0;
}

/* Reads an optional '+' or '-'; returns -1 for '-', 1 otherwise, advancing *i. */
static int read_sign(smtp_span v, size_t *i)
{
    if (*i < v.len && (v.ptr[*i] == '+' || v.ptr[*i] == '-')) return v.ptr[(*i)++] == '-' ? -1 : 1;
    return 1;
}

static int mail_mt_priority(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    size_t i = 0;
    int sign = read_sign(p->value, &i);
    smtp_span digits = {p->value.ptr + i, p->value.len - i};
    uint64_t v;
    /* RFC 6710 2: a single digit with an optional sign, -9..9. */
    int rc = parse_uint(digits, 1, 9, &v);
    if (rc == SMTP_ERR_OVERFLOW) return bad(c, p, rc, "MT-PRIORITY must be between -9 and 9");
    if (rc < 0) return bad(c, p, rc, "MT-PRIORITY value is not a number");
    m->mt_priority = sign * (int)v;
    return 0;
}

/* RFC 2852 4: by-value = by-time ";" by-mode [by-trace]; by-time = ["-" / "+"] 1*9digit. */
static int mail_by(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    const char *semi = memchr(p->value.ptr, ';', p->value.len);
    if (!semi) return bad(c, p, SMTP_ERR_SYNTAX, "BY needs time;mode");
    smtp_span time = {p->value.ptr, (size_t)(semi - p->value.ptr)};
    smtp_span mode = {semi + 1, p->value.len - time.len - 1};
    size_t i = 0;
    int sign = read_sign(time, &i);
    smtp_span digits = {time.ptr + i, time.len - i};
    uint64_t v;
    int rc = parse_uint(digits, 9, 999999999u, &v);
    if (rc == SMTP_ERR_OVERFLOW) return bad(c, p, rc, "BY time has more than 9 digits");
    if (rc < 0) return bad(c, p, rc, "BY time is not a number");
    if (mode.len < 1 || mode.len > 2 ||
        (mode.len == 2 && smtp_lower((unsigned char)mode.ptr[1]) != 't'))
        return bad(c, p, SMTP_ERR_SYNTAX, "BY mode must be N or R, optionally followed by T");
    unsigned char md = smtp_lower((unsigned char)mode.ptr[0]);
    if (md != 'n' && md != 'r')
        return bad(c, p, SMTP_ERR_SYNTAX, "BY mode must be N or R, optionally followed by T");
    m->by_time = sign * (int64_t)v;
    /* RFC 2852 4: in Return mode the deadline must lie in the future. */
    if (md == 'r' && m->by_time <= 0)
        return bad(c, p, SMTP_ERR_SYNTAX, "BY time must be positive in R mode");
    m->by_mode = md == 'r' ? SMTP_BY_RETURN : SMTP_BY_NOTIFY;
    m->by_trace = mode.len == 2;
    return 0;
}

/* RFC 4865 3: HOLDFOR and HOLDUNTIL name the same release time; one of them only. */
static int mail_holdfor(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    if (m->present & SMTP_MAIL_HOLDUNTIL)
        return bad(c, p, SMTP_ERR_DUPLICATE, "HOLDFOR and HOLDUNTIL are mutually exclusive");
    uint64_t v;
    int rc = parse_uint(p->value, 9, 999999999u, &v);
    if (rc == SMTP_ERR_OVERFLOW) return bad(c, p, rc, "HOLDFOR has more than 9 digits");
    if (rc < 0) return bad(c, p, rc, "HOLDFOR value is not a number");
    m->holdfor = (uint32_t)v;
    return 0;
}

static int mail_holduntil(const smtp_param *p, void *out, pctx *c)
{
    smtp_mail_params *m = out;
    if (m->present & SMTP_MAIL_HOLDFOR)
        return bad(c, p, SMTP_ERR_DUPLICATE, "HOLDFOR and HOLDUNTIL are mutually exclusive");
    if (smtp_datetime_parse(p->value.ptr, p->value.len, &m->holduntil_utc) < 0)
        return bad(c, p, SMTP_ERR_SYNTAX, "HOLDUNTIL is not an RFC 3339 date-time");
    m->holduntil = p->value;
    return 0;
}

static const param_def mail_defs[] = {
    PARAM("size", SMTP_PARAM_EXT_SIZE, SMTP_MAIL_SIZE, true, mail_size),
    PARAM("body", SMTP_PARAM_EXT_8BITMIME | SMTP_PARAM_EXT_BINARYMIME, SMTP_MAIL_BODY, true,
          mail_body),
    PARAM("smtputf8", SMTP_PARAM_EXT_SMTPUTF8, SMTP_MAIL_SMTPUTF8, false, no_value),
    PARAM("ret", SMTP_PARAM_EXT_DSN, SMTP_MAIL_RET, true, mail_ret),
    PARAM("envid", SMTP_PARAM_EXT_DSN, SMTP_MAIL_ENVID, true, mail_envid),
    PARAM("auth", SMTP_PARAM_EXT_AUTH, SMTP_MAIL_AUTH, true, mail_auth),
    PARAM("requiretls", SMTP_PARAM_EXT_REQUIRETLS, SMTP_MAIL_REQUIRETLS, false, no_value),
    PARAM("mt-priority", SMTP_PARAM_EXT_MTPRIORITY, SMTP_MAIL_MT_PRIORITY, true, mail_mt_priority),
    PARAM("by", SMTP_PARAM_EXT_DELIVERBY, SMTP_MAIL_BY, true, mail_by),
    PARAM("holdfor", SMTP_PARAM_EXT_FUTURERELEASE, SMTP_MAIL_HOLDFOR, true, mail_holdfor),
    PARAM("holduntil", SMTP_PARAM_EXT_FUTURERELEASE, SMTP_MAIL_HOLDUNTIL, true, mail_holduntil),
};

/* Does the MAIL parameter string carry SMTPUTF8 (which allows UTF-8 in the other values)? */
static bool carries_smtputf8(const char *s, size_t len, unsigned extensions)
{
    if (!(extensions & SMTP_PARAM_EXT_SMTPUTF8)) return false;
    /* The keyword ends in '8': most parameter strings have none, and need no second pass. */
    if (!len || !memchr(s, '8', len)) return false;
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, s, len, SMTP_PARAM_UTF8);
    while (smtp_param_next(&it, &p) == 1) {
        if (smtp_span_ieq(p.key.ptr, p.key.len, "smtputf8")) return true;
    }
    return false;
}

int smtp_mail_params_parse_versioned(int version, const char *s, size_t len,
                                     const smtp_params_opts *opts, smtp_mail_params *out)
{
    if (!out || (!s && len)) return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    smtp_params_opts dflt;
    const smtp_params_opts *use = opts_of(version, opts, &dflt);
    if (!use) return SMTP_ERR_INVALID_ARGUMENT;
    pctx c = {use, &out->fault, &out->present, &out->extra, false};
    c.utf8 = c.opts->smtputf8 || carries_smtputf8(s, len, c.opts->extensions);
    return parse_list(s, len, mail_defs, SMTP_ARRAY_LEN(mail_defs), out, &c);
}

/* ---- RCPT parameters ---- */

/* RFC 3461 4.1: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ). */
static int rcpt_notify(const smtp_param *p, void *out, pctx *c)
{
    smtp_rcpt_params *r = out;
    const char *v = p->value.ptr;
    size_t n = p->value.len;
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        unsigned bit = 0;
        if (smtp_span_ieq(v + start, i - start, "never"))
            bit = SMTP_NOTIFY_NEVER;
        else if (smtp_span_ieq(v + start, i - start, "success"))
            bit = SMTP_NOTIFY_SUCCESS;
        else if (smtp_span_ieq(v + start, i - start, "failure"))
            bit = SMTP_NOTIFY_FAILURE;
        else if (smtp_span_ieq(v + start, i - start, "delay"))
            bit = SMTP_NOTIFY_DELAY;
        else
            return bad(c, p, SMTP_ERR_SYNTAX, "NOTIFY items are NEVER, SUCCESS, FAILURE, DELAY");
        if (r->notify & bit) return bad(c, p, SMTP_ERR_DUPLICATE, "NOTIFY item given twice");
        r->notify |= bit;
        i++; /* past the ',' (or past the end, which ends the loop) */
    }
    if ((r->notify & SMTP_NOTIFY_NEVER) && r->notify != SMTP_NOTIFY_NEVER)
        return bad(c, p, SMTP_ERR_SYNTAX, "NOTIFY=NEVER cannot be combined");
    return 0;
}

/* RFC 5322 atext, ASCII only: the addr-type of ORCPT is an atom. */
static bool is_atom(const char *p, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        if (!smtp_is_atext((unsigned char)p[i])) return false;
    }
    return true;
}

/* RFC 3461 4.2: orcpt-value = addr-type ";" xtext, at most 500 characters. */
static int rcpt_orcpt(const smtp_param *p, void *out, pctx *c)
{
    smtp_rcpt_params *r = out;
    if (p->value.len > 500)
        return bad(c, p, SMTP_ERR_TOO_LONG, "ORCPT is longer than 500 characters");
    const char *semi = memchr(p->value.ptr, ';', p->value.len);
    if (!semi) return bad(c, p, SMTP_ERR_SYNTAX, "ORCPT needs addr-type;address");
    smtp_span type = {p->value.ptr, (size_t)(semi - p->value.ptr)};
    smtp_span addr = {semi + 1, p->value.len - type.len - 1};
    if (!is_atom(type.ptr, type.len))
        return bad(c, p, SMTP_ERR_SYNTAX, "ORCPT address type is not an atom");
    if (addr.len == 0) return bad(c, p, SMTP_ERR_SYNTAX, "ORCPT address is empty");
    if (smtp_span_ieq(type.ptr, type.len, "utf-8")) {
        /* RFC 6533 3: utf-8-addr-xtext, or utf-8-addr-unitext when SMTPUTF8 is in effect. */
        smtp_ssize rc =
            smtp_utf8addr_decoded_len(addr.ptr, addr.len, c->utf8 ? SMTP_UTF8ADDR_UNITEXT : 0);
        if (rc == SMTP_ERR_UTF8)
            return bad(c, p, SMTP_ERR_UTF8,
                       "ORCPT utf-8 address holds raw UTF-8 badly or "
                       "without SMTPUTF8");
        if (rc < 0)
            return bad(c, p, SMTP_ERR_XTEXT, "ORCPT utf-8 address is not valid utf-8-addr-xtext");
        r->orcpt_type = SMTP_ORCPT_UTF8;
    } else {
        if (p->utf8)
            return bad(c, p, SMTP_ERR_UTF8, "ORCPT holds UTF-8 outside the utf-8 address type");
        if (smtp_xtext_decoded_len(addr.ptr, addr.len) < 0)
            return bad(c, p, SMTP_ERR_XTEXT, "ORCPT address is not valid xtext");
        r->orcpt_type =
            smtp_span_ieq(type.ptr, type.len, "rfc822") ? SMTP_ORCPT_RFC822 : SMTP_ORCPT_OTHER;
    }
    r->orcpt_type_name = type;
    r->orcpt_addr = addr;
    return 0;
}

/* RFC 7293 3.1: rrvs-param = "RRVS=" date-time [ ";" ( "C" / "R" ) ]. */
static int rcpt_rrvs(const smtp_param *p, void *out, pctx *c)
{
    smtp_rcpt_params *r = out;
    const char *semi = memchr(p->value.ptr, ';', p->value.len);
    size_t dlen = semi ? (size_t)(semi - p->value.ptr) : p->value.len;
    r->rrvs_mode = SMTP_RRVS_REJECT;
    if (semi) {
        size_t mlen = p->value.len - dlen - 1;
        unsigned char md = mlen == 1 ? smtp_lower((unsigned char)semi[1]) : 0;
        if (md != 'c' && md != 'r') return bad(c, p, SMTP_ERR_SYNTAX, "RRVS mode must be C or R");
        r->rrvs_mode = md == 'c' ? SMTP_RRVS_CONTINUE : SMTP_RRVS_REJECT;
    }
    if (smtp_datetime_parse(p->value.ptr, dlen, &r->rrvs_utc) < 0)
        return bad(c, p, SMTP_ERR_SYNTAX, "RRVS is not an RFC 3339 date-time");
    r->rrvs.ptr = p->value.ptr;
    r->rrvs.len = dlen;
    return 0;
}

static const param_def rcpt_defs[] = {
    PARAM("notify", SMTP_PARAM_EXT_DSN, SMTP_RCPT_NOTIFY, true, rcpt_notify),
    PARAM("orcpt", SMTP_PARAM_EXT_DSN, SMTP_RCPT_ORCPT, true, rcpt_orcpt),
    PARAM("rrvs", SMTP_PARAM_EXT_RRVS, SMTP_RCPT_RRVS, true, rcpt_rrvs),
};

int smtp_rcpt_params_parse_versioned(int version, const char *s, size_t len,
                                     const smtp_params_opts *opts, smtp_rcpt_params *out)
{
    if (!out || (!s && len)) return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    smtp_params_opts dflt;
    const smtp_params_opts *use = opts_of(version, opts, &dflt);
    if (!use) return SMTP_ERR_INVALID_ARGUMENT;
    if (len == 0) return 0; /* most RCPTs: nothing to read */
    pctx c = {use, &out->fault, &out->present, &out->extra, false};
    c.utf8 = c.opts->smtputf8 != 0;
    return parse_list(s, len, rcpt_defs, SMTP_ARRAY_LEN(rcpt_defs), out, &c);
}
