/* SPDX-License-Identifier: MIT */
/*
 * Vector runner "caps": the EHLO capability parser (include/smtp/caps.h).
 *
 * Input: the lines of a 250 EHLO reply as they follow the reply code and its separator, each
 * ending with \r\n. The runner cuts the stream into lines (any chunking), hands each line to
 * smtp_caps_add_line, and logs at close, in a stable order:
 *   domain "mail.example.org"
 *   one line per announced capability, in smtp_cap order, with its parameters:
 *     SIZE max=N | max=none        AUTH mechs=PLAIN,LOGIN list="PLAIN LOGIN X" [truncated]
 *     DELIVERBY min=N              MT-PRIORITY profile="MIXER" | profile=none
 *     FUTURERELEASE interval=N datetime=N | params=unknown
 *     LIMITS mailmax=N rcptmax=N rcptdomainmax=N
 *     XCLIENT attrs=NAME,ADDR      XFORWARD attrs=...
 *   has_auth NAME yes|no         (for each option "auth=NAME")
 *   unknown=N malformed=N
 * A last line without its CRLF is logged as "partial line ignored".
 * Options: auth=NAME (any number): query smtp_caps_has_auth.
 */
#include "vec.h"

#include <smtp/caps.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct caps_state {
    smtp_caps caps;
    char *line;
    size_t len, cap;
    char options[256];
};

static void *caps_open(const char *options, vec_log *log)
{
    (void)log;
    if (strlen(options) >= sizeof((struct caps_state *)0)->options) return NULL;
    struct caps_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    strcpy(s->options, options);
    smtp_caps_init(&s->caps);
    return s;
}

static void line_add(struct caps_state *s, char c)
{
    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 128;
        s->line = realloc(s->line, s->cap);
        if (!s->line) abort();
    }
    s->line[s->len++] = c;
}

static void caps_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct caps_state *s = state;
    for (size_t i = 0; i < len; i++) {
        line_add(s, data[i]);
        if (data[i] == '\n' && s->len >= 2 && s->line[s->len - 2] == '\r') {
            if (smtp_caps_add_line(&s->caps, s->line, s->len - 2) != 0)
                vec_logf(log, "BUG add_line failed");
            s->len = 0;
        }
    }
}

static void log_span(vec_log *log, const char *prefix, smtp_span sp)
{
    vec_log_raw(log, prefix, strlen(prefix));
    vec_log_raw(log, "\"", 1);
    vec_log_escaped(log, sp.ptr, sp.len);
    vec_log_raw(log, "\"", 1);
}

static void log_bits(vec_log *log, unsigned bits, const char *const *names, size_t n)
{
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!(bits & (1u << i))) continue;
        if (!first) vec_log_raw(log, ",", 1);
        vec_log_raw(log, names[i], strlen(names[i]));
        first = 0;
    }
    if (first) vec_log_raw(log, "none", 4);
}

static const char *const auth_names[] = {
    "PLAIN",         "LOGIN",
    "CRAM-MD5",      "DIGEST-MD5",
    "SCRAM-SHA-1",   "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
    "XOAUTH2",       "OAUTHBEARER",
    "EXTERNAL",      "ANONYMOUS",
    "GSSAPI",        "NTLM",
};

static const char *const xattr_names[] = {
    "NAME",         "ADDR",     "PORT",     "PROTO",  "HELO",  "LOGIN",
    "REVERSE_NAME", "DESTADDR", "DESTPORT", "SOURCE", "IDENT",
};

static void log_cap(vec_log *log, const smtp_caps *c, smtp_cap cap)
{
    vec_log_raw(log, smtp_cap_name(cap), strlen(smtp_cap_name(cap)));
    switch (cap) {
    case SMTP_CAP_SIZE:
        if (smtp_caps_size(c))
            vec_logf(log, " max=%" PRIu64, smtp_caps_size(c));
        else
            vec_logf(log, " max=none");
        return;
    case SMTP_CAP_AUTH:
        vec_log_raw(log, " mechs=", 7);
        log_bits(log, smtp_caps_auth_mechs(c), auth_names,
                 sizeof auth_names / sizeof auth_names[0]);
        log_span(log, " list=", smtp_caps_auth_list(c));
        vec_logf(log, "%s", smtp_caps_auth_truncated(c) ? " truncated" : "");
        return;
    case SMTP_CAP_DELIVERBY: vec_logf(log, " min=%" PRIu32, smtp_caps_deliverby_min(c)); return;
    case SMTP_CAP_MT_PRIORITY:
        if (smtp_caps_mt_priority_profile(c).len) {
            log_span(log, " profile=", smtp_caps_mt_priority_profile(c));
            vec_logf(log, "%s", "");
        } else {
            vec_logf(log, " profile=none");
        }
        return;
    case SMTP_CAP_FUTURERELEASE: {
        uint64_t iv = 0;
        int64_t dt = 0;
        if (smtp_caps_future_release(c, &iv, &dt))
            vec_logf(log, " interval=%" PRIu64 " datetime=%" PRId64, iv, dt);
        else
            vec_logf(log, " params=unknown");
        return;
    }
    case SMTP_CAP_LIMITS:
        vec_logf(log, " mailmax=%" PRIu32 " rcptmax=%" PRIu32 " rcptdomainmax=%" PRIu32,
                 smtp_caps_limit(c, SMTP_LIMIT_MAILMAX), smtp_caps_limit(c, SMTP_LIMIT_RCPTMAX),
                 smtp_caps_limit(c, SMTP_LIMIT_RCPTDOMAINMAX));
        return;
    case SMTP_CAP_XCLIENT:
    case SMTP_CAP_XFORWARD:
        vec_log_raw(log, " attrs=", 7);
        log_bits(log, cap == SMTP_CAP_XCLIENT ? smtp_caps_xclient(c) : smtp_caps_xforward(c),
                 xattr_names, sizeof xattr_names / sizeof xattr_names[0]);
        vec_logf(log, "%s", "");
        return;
    default: vec_logf(log, "%s", ""); return;
    }
}

static void caps_close(void *state, vec_log *log)
{
    struct caps_state *s = state;
    const smtp_caps *c = &s->caps;
    if (s->len) vec_logf(log, "partial line ignored");
    log_span(log, "domain ", smtp_caps_domain(c));
    vec_logf(log, "%s", "");
    for (unsigned i = 0; i < SMTP_CAP_COUNT; i++) {
        if (smtp_caps_has(c, (smtp_cap)i)) log_cap(log, c, (smtp_cap)i);
    }
    /* the auth=NAME queries, in option order */
    const char *p = s->options;
    while ((p = strstr(p, "auth=")) != NULL) {
        p += 5;
        size_t n = strcspn(p, " ");
        vec_logf(log, "has_auth %.*s %s", (int)n, p, smtp_caps_has_auth(c, p, n) ? "yes" : "no");
        p += n;
    }
    vec_logf(log, "unknown=%u malformed=%u", smtp_caps_unknown(c), smtp_caps_malformed(c));
    free(s->line);
    free(s);
}

const vec_runner vec_runner_caps = {"caps", NULL, caps_open, caps_feed, caps_close};
