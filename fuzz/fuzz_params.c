/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: ESMTP parameters (smtp_param iterator, smtp_mail_params_parse,
 * smtp_rcpt_params_parse, smtp_datetime_parse) with options the fuzzer chooses.
 *
 * Checked here, besides no crash, no over-read (the input is an exact-size heap copy) and no
 * undefined behaviour:
 *  - iterator: every parameter follows the grammar (keyword, '=', value), its spans lie inside
 *    the input in increasing order and `offset` is where its keyword starts; an error is
 *    sticky and error_at lies inside the input (<= len); without SMTP_PARAM_UTF8 a walk that
 *    ends well saw no byte >= 0x80; what passes without the flag passes the same with it;
 *  - typed parsers: the result is 0 or a documented error; a fault names a key inside the
 *    input, an offset inside it, a reason, and reply 501/555 (0 only for a callback failure);
 *    a string the iterator refuses is refused; every span lies inside the input; the values
 *    agree with the raw parameters (SIZE digits, ENVID/AUTH/ORCPT decode, HOLDUNTIL and RRVS
 *    date-times, ranges, NOTIFY combinations); `extra` counts the parameters the callback
 *    claimed, and the callback only sees parameters inside the input;
 *  - the same parse twice gives the same result.
 * Input layout: byte 0 = bit 0: RCPT (else MAIL); bit 1: smtputf8 option; bits 2-3: the
 * unknown-parameter callback (0 none, 1 claims keywords starting with X, 2 claims all, 3
 * fails); bit 4: NULL options (the defaults); bytes 1-2 = the offered extensions (little
 * endian, SMTP_PARAM_EXT_*); the rest is the parameter string.
 */
#include <smtp/codec.h>
#include <smtp/params.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 3

struct input {
    const char *s;
    size_t len;
    int cb_mode;
    size_t claimed;
};

static int inside(smtp_span sp, const char *s, size_t len)
{
    if (sp.len == 0) return 1;
    return sp.ptr >= s && sp.len <= len && (size_t)(sp.ptr - s) <= len - sp.len;
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int ieq(smtp_span sp, const char *lower)
{
    size_t n = strlen(lower);
    if (sp.len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)sp.ptr[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)lower[i]) return 0;
    }
    return 1;
}

/* Walks the string with the iterator; returns the final result (0 or an error). */
static int walk(const char *s, size_t len, unsigned flags)
{
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, s, len, flags);
    size_t prev_end = 0;
    int rc;
    while ((rc = smtp_param_next(&it, &p)) == 1) {
        if (!inside(p.key, s, len) || !inside(p.value, s, len) || p.key.len == 0) abort();
        if (p.key.ptr != s + p.offset || p.offset < prev_end) abort();
        if (p.offset > 0 && s[p.offset - 1] != ' ') abort();
        if (!is_alnum((unsigned char)p.key.ptr[0])) abort();
        for (size_t i = 0; i < p.key.len; i++) {
            if (!is_alnum((unsigned char)p.key.ptr[i]) && p.key.ptr[i] != '-') abort();
        }
        size_t end = p.offset + p.key.len;
        if (p.has_value) {
            if (p.value.len == 0 || p.value.ptr != p.key.ptr + p.key.len + 1) abort();
            if (p.key.ptr[p.key.len] != '=') abort();
            int high = 0;
            for (size_t i = 0; i < p.value.len; i++) {
                unsigned char c = (unsigned char)p.value.ptr[i];
                high |= c >= 0x80;
                if (c < 0x80 && (c < 33 || c > 126 || c == '=')) abort();
            }
            if (!p.utf8 != !high || (high && !(flags & SMTP_PARAM_UTF8))) abort();
            if (high && smtp_utf8_check(p.value.ptr, p.value.len, NULL) != 0) abort();
            end += 1 + p.value.len;
        } else if (p.value.len || p.utf8) {
            abort();
        }
        if (end < len && s[end] != ' ') abort();
        prev_end = end;
    }
    if (rc == 0) {
        if (it.error || smtp_param_next(&it, &p) != 0) abort();
        for (size_t i = prev_end; i < len; i++) {
            if (s[i] != ' ') abort(); /* only SP after the last parameter */
        }
        return 0;
    }
    if (rc != SMTP_ERR_SYNTAX && rc != SMTP_ERR_UTF8) abort();
    if (it.error_at > len || it.error != rc) abort();
    size_t at = it.error_at;
    if (smtp_param_next(&it, &p) != rc || it.error_at != at) abort(); /* sticky */
    return rc;
}

static int has_high(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80) return 1;
    }
    return 0;
}

static int on_unknown(const smtp_param *p, void *user_data)
{
    struct input *in = user_data;
    if (!inside(p->key, in->s, in->len) || !inside(p->value, in->s, in->len)) abort();
    if (p->key.len == 0 || p->key.ptr != in->s + p->offset) abort();
    switch (in->cb_mode) {
    case 1:
        if (p->key.ptr[0] != 'X' && p->key.ptr[0] != 'x') return SMTP_PARAM_UNRECOGNIZED;
        break;
    case 2: break;
    default: return -1;
    }
    in->claimed++;
    return 0;
}

static void check_fault(const smtp_param_fault *f, int rc, const struct input *in)
{
    if (rc == 0) {
        if (f->text || f->reply_code || f->key.len || f->offset) abort();
        return;
    }
    if (!f->text || !inside(f->key, in->s, in->len) || f->offset > in->len) abort();
    if (rc == SMTP_ERR_CALLBACK_FAILURE) {
        if (f->reply_code != 0 || in->cb_mode != 3) abort();
    } else if (f->reply_code != 501 && f->reply_code != 555) {
        abort();
    }
}

/* The raw value of the first parameter named `lower` (the typed parser found it valid). */
static smtp_span raw_value(const struct input *in, const char *lower)
{
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, in->s, in->len, SMTP_PARAM_UTF8);
    while (smtp_param_next(&it, &p) == 1) {
        if (ieq(p.key, lower)) return p.value;
    }
    abort();
}

static void check_datetime(smtp_span sp, int64_t utc)
{
    int64_t again = 0;
    if (smtp_datetime_parse(sp.ptr, sp.len, &again) != 0 || again != utc) abort();
}

static void check_mail(struct input *in, const smtp_params_opts *o, int iter_rc)
{
    smtp_mail_params m, m2;
    in->claimed = 0;
    int rc = smtp_mail_params_parse(in->s, in->len, o, &m);
    size_t claimed = in->claimed;
    switch (rc) {
    case 0:
    case SMTP_ERR_SYNTAX:
    case SMTP_ERR_OVERFLOW:
    case SMTP_ERR_TOO_LONG:
    case SMTP_ERR_XTEXT:
    case SMTP_ERR_UTF8:
    case SMTP_ERR_DUPLICATE:
    case SMTP_ERR_CALLBACK_FAILURE: break;
    default: abort();
    }
    check_fault(&m.fault, rc, in);
    if (iter_rc != 0 && rc == 0) abort();
    if (smtp_mail_params_parse(in->s, in->len, o, &m2) != rc || m2.present != m.present ||
        m2.fault.offset != m.fault.offset || m2.fault.text != m.fault.text)
        abort();
    if (rc != 0) return;
    if (m.extra != claimed) abort();
    if (!inside(m.envid, in->s, in->len) || !inside(m.auth, in->s, in->len) ||
        !inside(m.holduntil, in->s, in->len))
        abort();
    if (m.present & SMTP_MAIL_SIZE) {
        smtp_span v = raw_value(in, "size");
        uint64_t x = 0;
        for (size_t i = 0; i < v.len; i++)
            x = x * 10 + (uint64_t)(v.ptr[i] - '0');
        if (v.len == 0 || v.len > 20 || x != m.size) abort();
    }
    if ((m.present & SMTP_MAIL_BODY) && (m.body < SMTP_BODY_7BIT || m.body > SMTP_BODY_BINARYMIME))
        abort();
    if ((m.present & SMTP_MAIL_RET) && m.ret != SMTP_RET_FULL && m.ret != SMTP_RET_HDRS) abort();
    if (m.present & SMTP_MAIL_ENVID) {
        if (m.envid.len == 0 || m.envid.len > 100) abort();
        if (smtp_xtext_decoded_len(m.envid.ptr, m.envid.len) < 0) abort();
    }
    if ((m.present & SMTP_MAIL_AUTH) && smtp_xtext_decoded_len(m.auth.ptr, m.auth.len) < 0) abort();
    if ((m.present & SMTP_MAIL_MT_PRIORITY) && (m.mt_priority < -9 || m.mt_priority > 9)) abort();
    if (m.present & SMTP_MAIL_BY) {
        if (m.by_time < -999999999 || m.by_time > 999999999) abort();
        if (m.by_mode == SMTP_BY_RETURN ? m.by_time <= 0 : m.by_mode != SMTP_BY_NOTIFY) abort();
    }
    if ((m.present & SMTP_MAIL_HOLDFOR) && (m.present & SMTP_MAIL_HOLDUNTIL)) abort();
    if ((m.present & SMTP_MAIL_HOLDFOR) && m.holdfor > 999999999u) abort();
    if (m.present & SMTP_MAIL_HOLDUNTIL) check_datetime(m.holduntil, m.holduntil_utc);
    /* Without SMTPUTF8 in effect, UTF-8 never passes. */
    int utf8_ok = (o && o->smtputf8) || (m.present & SMTP_MAIL_SMTPUTF8);
    if (!utf8_ok && has_high(in->s, in->len)) abort();
}

static void check_rcpt(struct input *in, const smtp_params_opts *o, int iter_rc)
{
    smtp_rcpt_params r, r2;
    in->claimed = 0;
    int rc = smtp_rcpt_params_parse(in->s, in->len, o, &r);
    size_t claimed = in->claimed;
    switch (rc) {
    case 0:
    case SMTP_ERR_SYNTAX:
    case SMTP_ERR_TOO_LONG:
    case SMTP_ERR_XTEXT:
    case SMTP_ERR_UTF8:
    case SMTP_ERR_DUPLICATE:
    case SMTP_ERR_CALLBACK_FAILURE: break;
    default: abort();
    }
    check_fault(&r.fault, rc, in);
    if (iter_rc != 0 && rc == 0) abort();
    if (smtp_rcpt_params_parse(in->s, in->len, o, &r2) != rc || r2.present != r.present ||
        r2.fault.offset != r.fault.offset || r2.fault.text != r.fault.text)
        abort();
    if (rc != 0) return;
    if (r.extra != claimed) abort();
    if (!(o && o->smtputf8) && has_high(in->s, in->len)) abort();
    if (!inside(r.orcpt_type_name, in->s, in->len) || !inside(r.orcpt_addr, in->s, in->len) ||
        !inside(r.rrvs, in->s, in->len))
        abort();
    if (r.present & SMTP_RCPT_NOTIFY) {
        if (r.notify == 0 || r.notify > 0xf) abort();
        if ((r.notify & SMTP_NOTIFY_NEVER) && r.notify != SMTP_NOTIFY_NEVER) abort();
    } else if (r.notify) {
        abort();
    }
    if (r.present & SMTP_RCPT_ORCPT) {
        if (r.orcpt_type_name.len == 0 || r.orcpt_addr.len == 0) abort();
        if (r.orcpt_addr.ptr != r.orcpt_type_name.ptr + r.orcpt_type_name.len + 1) abort();
        if (r.orcpt_type_name.ptr[r.orcpt_type_name.len] != ';') abort();
        if (r.orcpt_type_name.len + 1 + r.orcpt_addr.len > 500) abort();
        if (r.orcpt_type == SMTP_ORCPT_UTF8) {
            unsigned f = (o && o->smtputf8) ? SMTP_UTF8ADDR_UNITEXT : 0;
            if (!ieq(r.orcpt_type_name, "utf-8")) abort();
            if (smtp_utf8addr_decoded_len(r.orcpt_addr.ptr, r.orcpt_addr.len, f) < 0) abort();
        } else {
            if (r.orcpt_type == SMTP_ORCPT_RFC822 && !ieq(r.orcpt_type_name, "rfc822")) abort();
            if (smtp_xtext_decoded_len(r.orcpt_addr.ptr, r.orcpt_addr.len) < 0) abort();
        }
    }
    if (r.present & SMTP_RCPT_RRVS) {
        check_datetime(r.rrvs, r.rrvs_utc);
        if (r.rrvs_mode != SMTP_RRVS_REJECT && r.rrvs_mode != SMTP_RRVS_CONTINUE) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    size_t len = size - HEADER;
    /* an exact-size copy: one byte past it is outside the allocation */
    char *s = malloc(len);
    if (!s && len) abort();
    if (len) memcpy(s, data + HEADER, len);
    struct input in = {s, len, (data[0] >> 2) & 3, 0};
    smtp_params_opts o;
    smtp_params_opts_init(&o);
    o.extensions = ((unsigned)data[1] | (unsigned)data[2] << 8) & SMTP_PARAM_EXT_ALL;
    o.smtputf8 = (data[0] >> 1) & 1;
    o.unknown = in.cb_mode ? on_unknown : NULL;
    o.user_data = &in;
    const smtp_params_opts *opts = (data[0] & 0x10) ? NULL : &o;
    if (!opts) in.cb_mode = 0;

    int plain = walk(s, len, 0);
    int utf8 = walk(s, len, SMTP_PARAM_UTF8);
    if (plain == 0 && has_high(s, len)) abort();
    if (plain == 0 && utf8 != 0) abort();
    /* The typed parsers walk with SMTP_PARAM_UTF8 at most: what that refuses, they refuse. */
    if (data[0] & 1)
        check_rcpt(&in, opts, utf8);
    else
        check_mail(&in, opts, utf8);

    int64_t utc;
    (void)smtp_datetime_parse(s, len, &utc);
    free(s);
    return 0;
}
