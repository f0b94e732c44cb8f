/* SPDX-License-Identifier: MIT */
/*
 * The "mtasts" vector runner: the input is an MTA-STS policy body (RFC 8461 3.2), or with the
 * option "match" one mx pattern and one MX host name separated by the first SP.
 * smtp_mtasts_parse and smtp_mtasts_mx_match are one-shot, so the runner buffers what it is
 * fed and parses at close.
 *
 * Options: match (smtp_mtasts_mx_match instead); host=NAME, any number of times (after a
 * successful parse, smtp_mtasts_policy_match of NAME).
 * Events:
 *   ok mode=none|testing|enforce max_age=N mx=N
 *   mx "PATTERN"                   one per pattern, in order (smtp_mtasts_mx_next)
 *   host NAME match=1|0|SMTP_ERR_...
 *   match 1|0   or   match SMTP_ERR_...
 *   error SMTP_ERR_... at=N
 */
#include "vec.h"

#include <smtp/mtasts.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mtasts_state {
    const char *options;
    int match;
    char *buf;
    size_t len;
} mtasts_state;

static void *mtasts_open(const char *options, vec_log *log)
{
    (void)log;
    static const char *const known[] = {"match", "host="};
    if (!vec_opt_check(options, known, sizeof known / sizeof known[0])) return NULL;
    mtasts_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->options = options;
    st->match = vec_opt_has(options, "match");
    return st;
}

static void mtasts_feed(void *state, const char *data, size_t len, vec_log *log)
{
    (void)log;
    mtasts_state *st = state;
    char *nb = realloc(st->buf, st->len + len + 1);
    if (!nb) abort();
    st->buf = nb;
    memcpy(st->buf + st->len, data, len);
    st->len += len;
}

static void log_result(vec_log *log, int rc)
{
    if (rc < 0)
        vec_logf(log, "%s", smtp_error_name(rc));
    else
        vec_logf(log, "%d", rc);
}

typedef struct host_ctx {
    const smtp_mtasts_policy *policy;
    vec_log *log;
} host_ctx;

static int check_host(const char *word, size_t len, void *ctx)
{
    host_ctx *h = ctx;
    if (len < 5 || memcmp(word, "host=", 5) != 0) return 0;
    /* an exact-size heap copy, so that a read past the name is caught */
    char *name = malloc(len - 5 + 1);
    if (!name) abort();
    memcpy(name, word + 5, len - 5);
    vec_log_raw(h->log, "host ", 5);
    vec_log_escaped(h->log, name, len - 5);
    vec_log_raw(h->log, " match=", 7);
    log_result(h->log, smtp_mtasts_policy_match(h->policy, name, len - 5));
    free(name);
    return 0;
}

static void log_policy(vec_log *log, const smtp_mtasts_policy *p, const char *options)
{
    static const char *const modes[] = {"none", "testing", "enforce"};
    vec_logf(log, "ok mode=%s max_age=%lu mx=%zu", modes[p->mode], (unsigned long)p->max_age,
             p->mx_count);
    size_t cursor = 0, n = 0;
    smtp_span mx;
    int rc;
    while ((rc = smtp_mtasts_mx_next(p, &cursor, &mx)) == 1) {
        vec_log_raw(log, "mx \"", 4);
        vec_log_escaped(log, mx.ptr, mx.len);
        vec_logf(log, "\"");
        n++;
    }
    if (rc != 0 || n != p->mx_count) vec_logf(log, "iterator rc=%d n=%zu", rc, n);
    host_ctx h = {p, log};
    vec_opt_each(options, check_host, &h);
}

static void mtasts_close(void *state, vec_log *log)
{
    mtasts_state *st = state;
    const char *s = st->buf ? st->buf : "";
    if (st->match) {
        const char *sp = memchr(s, ' ', st->len);
        size_t plen = sp ? (size_t)(sp - s) : st->len;
        const char *host = sp ? sp + 1 : s + st->len;
        vec_log_raw(log, "match ", 6);
        log_result(log, smtp_mtasts_mx_match(s, plen, host, st->len - (size_t)(host - s)));
    } else {
        smtp_mtasts_policy p;
        int rc = smtp_mtasts_parse(s, st->len, &p);
        if (rc < 0)
            vec_logf(log, "error %s at=%zu", smtp_error_name(rc), p.error_at);
        else
            log_policy(log, &p, st->options);
    }
    free(st->buf);
    free(st);
}

const vec_runner vec_runner_mtasts = {"mtasts", NULL, mtasts_open, mtasts_feed, mtasts_close};
