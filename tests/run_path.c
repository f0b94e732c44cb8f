/* SPDX-License-Identifier: MIT */
/*
 * The "path" vector runner: the input is one path token ("<...>"), or with the option "domain"
 * one EHLO/HELO argument. smtp_path_parse is stateless, so the runner buffers what it is fed
 * and parses at close.
 *
 * Options: mail (allow "<>"), rcpt (allow "<Postmaster>"), utf8 (SMTPUTF8), lenient (no
 * brackets needed), domain (smtp_domain_parse instead).
 * Events:
 *   ok FLAGS...                    flags: null postmaster route quoted utf8 no-brackets
 *   local "..."  mailbox "..."  route "..."
 *   domain name|ipv4|ipv6|general "TEXT" [utf8] [addr=...] [tag="..."] [literal="..."]
 *   error SMTP_ERR_... at=N
 */
#include "vec.h"

#include <smtp/path.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct path_state {
    unsigned flags;
    int domain_only;
    char *buf;
    size_t len;
} path_state;

static void *path_open(const char *options, vec_log *log)
{
    (void)log;
    path_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    if (vec_opt_has(options, "mail")) st->flags |= SMTP_PATH_ALLOW_NULL;
    if (vec_opt_has(options, "rcpt")) st->flags |= SMTP_PATH_ALLOW_POSTMASTER;
    if (vec_opt_has(options, "utf8")) st->flags |= SMTP_PATH_UTF8;
    if (vec_opt_has(options, "lenient")) st->flags |= SMTP_PATH_LENIENT_BRACKETS;
    st->domain_only = vec_opt_has(options, "domain");
    return st;
}

static void path_feed(void *state, const char *data, size_t len, vec_log *log)
{
    (void)log;
    path_state *st = state;
    char *nb = realloc(st->buf, st->len + len + 1);
    if (!nb) abort();
    st->buf = nb;
    memcpy(st->buf + st->len, data, len);
    st->len += len;
}

static void log_span(vec_log *log, const char *label, smtp_span sp)
{
    char head[64];
    int n = snprintf(head, sizeof head, "%s\"", label);
    vec_log_raw(log, head, (size_t)n);
    vec_log_escaped(log, sp.ptr, sp.len);
    vec_log_raw(log, "\"", 1);
}

static void log_addr(vec_log *log, const smtp_domain *d)
{
    char buf[64];
    int n = 0;
    if (d->kind == SMTP_DOMAIN_IPV4) {
        n = snprintf(buf, sizeof buf, " addr=%u.%u.%u.%u", d->addr[0], d->addr[1], d->addr[2],
                     d->addr[3]);
    } else {
        n = snprintf(buf, sizeof buf, " addr=");
        for (int k = 0; k < 8; k++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%x", k ? ":" : "",
                          (unsigned)(d->addr[2 * k] << 8 | d->addr[2 * k + 1]));
    }
    vec_log_raw(log, buf, (size_t)n);
}

static void log_domain(vec_log *log, const smtp_domain *d)
{
    static const char *const kinds[] = {"none", "name", "ipv4", "ipv6", "general"};
    char head[32];
    int n = snprintf(head, sizeof head, "domain %s ", kinds[d->kind]);
    vec_log_raw(log, head, (size_t)n);
    log_span(log, "", d->text);
    if (d->utf8) vec_log_raw(log, " utf8", 5);
    if (d->kind == SMTP_DOMAIN_IPV4 || d->kind == SMTP_DOMAIN_IPV6) log_addr(log, d);
    if (d->kind == SMTP_DOMAIN_GENERAL) log_span(log, " tag=", d->tag);
    if (d->kind != SMTP_DOMAIN_NAME) log_span(log, " literal=", d->literal);
    vec_logf(log, "%s", "");
}

static void log_path(vec_log *log, const smtp_path *p)
{
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {
        {SMTP_PATH_F_NULL, "null"},          {SMTP_PATH_F_POSTMASTER, "postmaster"},
        {SMTP_PATH_F_SOURCE_ROUTE, "route"}, {SMTP_PATH_F_QUOTED, "quoted"},
        {SMTP_PATH_F_UTF8, "utf8"},          {SMTP_PATH_F_NO_BRACKETS, "no-brackets"},
    };
    vec_log_raw(log, "ok", 2);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (p->flags & names[i].flag) {
            vec_log_raw(log, " ", 1);
            vec_log_raw(log, names[i].name, strlen(names[i].name));
        }
    }
    vec_logf(log, "%s", "");
    if (p->flags & SMTP_PATH_F_NULL) return;
    log_span(log, "local ", p->local);
    vec_logf(log, "%s", "");
    log_span(log, "mailbox ", p->mailbox);
    vec_logf(log, "%s", "");
    if (p->route.len) {
        log_span(log, "route ", p->route);
        vec_logf(log, "%s", "");
    }
    if (p->domain.kind != SMTP_DOMAIN_NONE) log_domain(log, &p->domain);
}

static void path_close(void *state, vec_log *log)
{
    path_state *st = state;
    const char *s = st->buf ? st->buf : "";
    if (st->domain_only) {
        smtp_domain d;
        size_t at = 0;
        int rc = smtp_domain_parse(s, st->len, st->flags, &d, &at);
        if (rc < 0)
            vec_logf(log, "error %s at=%zu", smtp_error_name(rc), at);
        else
            log_domain(log, &d);
    } else {
        smtp_path p;
        int rc = smtp_path_parse(s, st->len, st->flags, &p);
        if (rc < 0)
            vec_logf(log, "error %s at=%zu", smtp_error_name(rc), p.error_at);
        else
            log_path(log, &p);
    }
    free(st->buf);
    free(st);
}

const vec_runner vec_runner_path = {"path", NULL, path_open, path_feed, path_close};
