/* SPDX-License-Identifier: MIT */
/*
 * The "params" vector runner: the input is the parameter string of MAIL or RCPT (what follows
 * the path). Parsing is stateless, so the runner buffers what it is fed and parses at close.
 *
 * Options: mail | rcpt | iter (the raw iterator; "utf8" then allows UTF-8 values);
 *   utf8 (RCPT: the transaction is SMTPUTF8); no-<ext> removes an extension from the offered
 *   set (no-size no-8bitmime no-binarymime no-smtputf8 no-dsn no-auth no-requiretls
 *   no-mtpriority no-deliverby no-futurerelease no-rrvs); claim-x (the unknown-parameter
 *   callback accepts keywords starting with X); nocb (no callback); cbfail (it fails).
 * Events: one line per parameter present, in a fixed order (see log_mail, log_rcpt);
 *   "unknown KEY=\"VALUE\" at=N claimed|refused" from the callback;
 *   "error SMTP_ERR_... REPLY key=\"KEY\" at=N: TEXT" on failure.
 */
#include "vec.h"

#include <smtp/params.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum params_mode { MODE_MAIL, MODE_RCPT, MODE_ITER };

typedef struct params_state {
    enum params_mode mode;
    smtp_params_opts opts;
    int claim_x, cbfail;
    vec_log *log;
    char *buf;
    size_t len;
} params_state;

static void log_quoted(vec_log *log, const char *label, smtp_span sp)
{
    vec_log_raw(log, label, strlen(label));
    vec_log_raw(log, "\"", 1);
    vec_log_escaped(log, sp.ptr, sp.len);
    vec_log_raw(log, "\"", 1);
}

static int on_unknown(const smtp_param *p, void *user_data)
{
    params_state *st = user_data;
    log_quoted(st->log, "unknown ", p->key);
    if (p->has_value) log_quoted(st->log, "=", p->value);
    int claim = st->claim_x && p->key.len && (p->key.ptr[0] == 'x' || p->key.ptr[0] == 'X');
    vec_logf(st->log, " at=%zu %s", p->offset, st->cbfail ? "fail" : claim ? "claimed" : "refused");
    if (st->cbfail) return -1;
    return claim ? 0 : SMTP_PARAM_UNRECOGNIZED;
}

static void *params_open(const char *options, vec_log *log)
{
    (void)log;
    static const struct {
        const char *word;
        unsigned ext;
    } noext[] = {
        {"no-size", SMTP_PARAM_EXT_SIZE},
        {"no-8bitmime", SMTP_PARAM_EXT_8BITMIME},
        {"no-binarymime", SMTP_PARAM_EXT_BINARYMIME},
        {"no-smtputf8", SMTP_PARAM_EXT_SMTPUTF8},
        {"no-dsn", SMTP_PARAM_EXT_DSN},
        {"no-auth", SMTP_PARAM_EXT_AUTH},
        {"no-requiretls", SMTP_PARAM_EXT_REQUIRETLS},
        {"no-mtpriority", SMTP_PARAM_EXT_MTPRIORITY},
        {"no-deliverby", SMTP_PARAM_EXT_DELIVERBY},
        {"no-futurerelease", SMTP_PARAM_EXT_FUTURERELEASE},
        {"no-rrvs", SMTP_PARAM_EXT_RRVS},
    };
    params_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    if (vec_opt_has(options, "mail"))
        st->mode = MODE_MAIL;
    else if (vec_opt_has(options, "rcpt"))
        st->mode = MODE_RCPT;
    else if (vec_opt_has(options, "iter"))
        st->mode = MODE_ITER;
    else {
        free(st);
        return NULL;
    }
    smtp_params_opts_init(&st->opts);
    for (size_t i = 0; i < sizeof noext / sizeof noext[0]; i++) {
        if (vec_opt_has(options, noext[i].word)) st->opts.extensions &= ~noext[i].ext;
    }
    st->opts.smtputf8 = vec_opt_has(options, "utf8");
    st->claim_x = vec_opt_has(options, "claim-x");
    st->cbfail = vec_opt_has(options, "cbfail");
    if (!vec_opt_has(options, "nocb")) {
        st->opts.unknown = on_unknown;
        st->opts.user_data = st;
    }
    return st;
}

static void params_feed(void *state, const char *data, size_t len, vec_log *log)
{
    (void)log;
    params_state *st = state;
    char *nb = realloc(st->buf, st->len + len + 1);
    if (!nb) abort();
    st->buf = nb;
    memcpy(st->buf + st->len, data, len);
    st->len += len;
}

static void log_fault(vec_log *log, int rc, const smtp_param_fault *f)
{
    char head[96];
    int n = snprintf(head, sizeof head, "error %s %d ", smtp_error_name(rc), f->reply_code);
    vec_log_raw(log, head, (size_t)n);
    log_quoted(log, "key=", f->key);
    vec_logf(log, " at=%zu: %s", f->offset, f->text ? f->text : "(no text)");
}

static void log_mail(vec_log *log, const smtp_mail_params *m)
{
    static const char *const bodies[] = {"none", "7BIT", "8BITMIME", "BINARYMIME"};
    unsigned p = m->present;
    if (p & SMTP_MAIL_SIZE) vec_logf(log, "size %" PRIu64, m->size);
    if (p & SMTP_MAIL_BODY) vec_logf(log, "body %s", bodies[m->body]);
    if (p & SMTP_MAIL_SMTPUTF8) vec_logf(log, "smtputf8");
    if (p & SMTP_MAIL_RET) vec_logf(log, "ret %s", m->ret == SMTP_RET_FULL ? "FULL" : "HDRS");
    if (p & SMTP_MAIL_ENVID) {
        log_quoted(log, "envid ", m->envid);
        vec_logf(log, "%s", "");
    }
    if (p & SMTP_MAIL_AUTH) {
        log_quoted(log, "auth ", m->auth);
        vec_logf(log, "%s", "");
    }
    if (p & SMTP_MAIL_REQUIRETLS) vec_logf(log, "requiretls");
    if (p & SMTP_MAIL_MT_PRIORITY) vec_logf(log, "mt-priority %d", m->mt_priority);
    if (p & SMTP_MAIL_BY)
        vec_logf(log, "by time=%" PRId64 " mode=%s%s", m->by_time,
                 m->by_mode == SMTP_BY_RETURN ? "R" : "N", m->by_trace ? " trace" : "");
    if (p & SMTP_MAIL_HOLDFOR) vec_logf(log, "holdfor %u", (unsigned)m->holdfor);
    if (p & SMTP_MAIL_HOLDUNTIL) {
        log_quoted(log, "holduntil ", m->holduntil);
        vec_logf(log, " utc=%" PRId64, m->holduntil_utc);
    }
    if (m->extra) vec_logf(log, "extra %zu", m->extra);
}

static void log_rcpt(vec_log *log, const smtp_rcpt_params *r)
{
    static const char *const kinds[] = {"other", "rfc822", "utf-8"};
    if (r->present & SMTP_RCPT_NOTIFY) {
        vec_logf(log, "notify%s%s%s%s", r->notify & SMTP_NOTIFY_NEVER ? " NEVER" : "",
                 r->notify & SMTP_NOTIFY_SUCCESS ? " SUCCESS" : "",
                 r->notify & SMTP_NOTIFY_FAILURE ? " FAILURE" : "",
                 r->notify & SMTP_NOTIFY_DELAY ? " DELAY" : "");
    }
    if (r->present & SMTP_RCPT_ORCPT) {
        vec_log_raw(log, "orcpt ", 6);
        vec_log_raw(log, kinds[r->orcpt_type], strlen(kinds[r->orcpt_type]));
        log_quoted(log, " type=", r->orcpt_type_name);
        log_quoted(log, " addr=", r->orcpt_addr);
        vec_logf(log, "%s", "");
    }
    if (r->present & SMTP_RCPT_RRVS) {
        log_quoted(log, "rrvs ", r->rrvs);
        vec_logf(log, " utc=%" PRId64 " mode=%s", r->rrvs_utc,
                 r->rrvs_mode == SMTP_RRVS_CONTINUE ? "C" : "R");
    }
    if (r->extra) vec_logf(log, "extra %zu", r->extra);
}

static void run_iter(params_state *st, const char *s, vec_log *log)
{
    smtp_param_iter it;
    smtp_param p;
    smtp_param_iter_init(&it, s, st->len, st->opts.smtputf8 ? SMTP_PARAM_UTF8 : 0);
    int rc;
    while ((rc = smtp_param_next(&it, &p)) == 1) {
        log_quoted(log, "param ", p.key);
        if (p.has_value) log_quoted(log, " value=", p.value);
        vec_logf(log, " at=%zu%s", p.offset, p.utf8 ? " utf8" : "");
    }
    if (rc < 0) {
        vec_logf(log, "error %s at=%zu", smtp_error_name(rc), it.error_at);
        /* the error is sticky */
        if (smtp_param_next(&it, &p) != rc) vec_logf(log, "error not sticky");
    } else {
        vec_logf(log, "end");
    }
}

static void params_close(void *state, vec_log *log)
{
    params_state *st = state;
    /* An exact-size heap copy, so that a read past the end is caught. */
    char *s = malloc(st->len ? st->len : 1);
    if (!s) abort();
    if (st->len) memcpy(s, st->buf, st->len);
    st->log = log;
    if (st->mode == MODE_ITER) {
        run_iter(st, s, log);
    } else if (st->mode == MODE_MAIL) {
        smtp_mail_params m;
        int rc = smtp_mail_params_parse(s, st->len, &st->opts, &m);
        if (rc < 0)
            log_fault(log, rc, &m.fault);
        else
            log_mail(log, &m);
    } else {
        smtp_rcpt_params r;
        int rc = smtp_rcpt_params_parse(s, st->len, &st->opts, &r);
        if (rc < 0)
            log_fault(log, rc, &r.fault);
        else
            log_rcpt(log, &r);
    }
    free(s);
    free(st->buf);
    free(st);
}

const vec_runner vec_runner_params = {"params", NULL, params_open, params_feed, params_close};
