/* SPDX-License-Identifier: MIT */
/*
 * The server engine's EHLO/LHLO reply: the capability list (RFC 5321 4.1.1.1), built from the
 * settings and what the connection allows now (STARTTLS until TLS is up, AUTH and REQUIRETLS
 * by encryption, XCLIENT and XFORWARD by trust).
 *
 * The same builder measures the largest list the settings can produce, so that
 * smtp_server_new refuses settings whose reply would not fit in SMTP_SRV_RESERVE, and so that
 * smtp_server_set_extensions refuses a session's list that would not.
 */
#include "server_internal.h"

#include <smtp/reply.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Formats a capability line into scratch[*used..cap) as lines[*n] (empty if it cannot fit). */
static void ehlo_fmt(smtp_span *lines, size_t *n, char *scratch, size_t *used, size_t cap,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void ehlo_fmt(smtp_span *lines, size_t *n, char *scratch, size_t *used, size_t cap,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(scratch + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *used) k = 0;
    lines[*n].ptr = scratch + *used;
    lines[*n].len = (size_t)k;
    *used += (size_t)k;
    (*n)++;
}

/* Fills `lines` with the capability lines of the EHLO reply; returns how many. `tls` and
 * `all` say what to assume (smtp_srv_ehlo_size measures the worst case with all = 1). */
static size_t ehlo_lines(const smtp_server *srv, int all, smtp_span *lines, char *scratch,
                         size_t cap)
{
    const smtp_server_settings *s = &srv->set;
    unsigned ext = s->extensions;
    int tls = all || srv->tls_active;
    size_t n = 0, used = 0;
#define EHLO_LIT(lit) (lines[n].ptr = (lit), lines[n].len = sizeof(lit) - 1, n++)
#define EHLO_FMT(...) ehlo_fmt(lines, &n, scratch, &used, cap, __VA_ARGS__)
    lines[n].ptr = s->hostname;
    lines[n].len = strlen(s->hostname);
    n++;
    if (ext & SMTP_SERVER_EXT_PIPELINING) EHLO_LIT("PIPELINING");
    if (ext & SMTP_SERVER_EXT_SIZE) {
        if (s->max_message_size)
            EHLO_FMT("SIZE %llu", (unsigned long long)s->max_message_size);
        else
            EHLO_LIT("SIZE");
    }
    if (ext & SMTP_SERVER_EXT_8BITMIME) EHLO_LIT("8BITMIME");
    if (ext & SMTP_SERVER_EXT_SMTPUTF8) EHLO_LIT("SMTPUTF8");
    if (ext & SMTP_SERVER_EXT_CHUNKING) {
        EHLO_LIT("CHUNKING");
        if (ext & SMTP_SERVER_EXT_BINARYMIME) EHLO_LIT("BINARYMIME");
    }
    if (ext & SMTP_SERVER_EXT_DSN) EHLO_LIT("DSN");
    if (ext & SMTP_SERVER_EXT_ENHANCEDSTATUSCODES) EHLO_LIT("ENHANCEDSTATUSCODES");
    /* RFC 3207 4.2: STARTTLS is not offered once TLS is up. */
    if ((ext & SMTP_SERVER_EXT_STARTTLS) && (all || !srv->tls_active)) EHLO_LIT("STARTTLS");
    if ((ext & SMTP_SERVER_EXT_AUTH) && (tls || (s->flags & SMTP_SERVER_AUTH_PLAINTEXT))) {
        char mechs[SMTP_SRV_AUTH_LIST];
        if (all) /* measuring: every mechanism */
            snprintf(mechs, sizeof mechs, "%s", s->auth_mechanisms);
        else
            smtp_srv_auth_list(srv, mechs, sizeof mechs); /* EXTERNAL over TLS only */
        if (mechs[0]) EHLO_FMT("AUTH %s", mechs);
    }
    /* Postfix's XCLIENT and XFORWARD, with the attributes accepted; to trusted peers only. */
    if (all || (srv->trust & SMTP_SERVER_TRUST_XCLIENT))
        EHLO_LIT("XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT");
    if (all || (srv->trust & SMTP_SERVER_TRUST_XFORWARD))
        EHLO_LIT("XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE");
    if ((ext & SMTP_SERVER_EXT_REQUIRETLS) && tls) EHLO_LIT("REQUIRETLS"); /* RFC 8689 4 */
    if (ext & SMTP_SERVER_EXT_DELIVERBY) {
        if (s->deliverby_min)
            EHLO_FMT("DELIVERBY %u", s->deliverby_min);
        else
            EHLO_LIT("DELIVERBY");
    }
    if (ext & SMTP_SERVER_EXT_MT_PRIORITY) {
        if (s->mt_priority_profile)
            EHLO_FMT("MT-PRIORITY %s", s->mt_priority_profile);
        else
            EHLO_LIT("MT-PRIORITY");
    }
    if (ext & SMTP_SERVER_EXT_FUTURERELEASE) /* RFC 4865 3 */
        EHLO_FMT("FUTURERELEASE %u %s", (unsigned)s->future_release_interval,
                 s->future_release_until);
    if (ext & SMTP_SERVER_EXT_RRVS) EHLO_LIT("RRVS"); /* RFC 7293 3 */
    if (ext & SMTP_SERVER_EXT_LIMITS) {
        if (s->max_messages)
            EHLO_FMT("LIMITS RCPTMAX=%zu MAILMAX=%zu", s->max_recipients, s->max_messages);
        else
            EHLO_FMT("LIMITS RCPTMAX=%zu", s->max_recipients);
    }
    /* The application's own lines (settings.ehlo_keywords, checked at smtp_server_new). */
    for (const char *l = s->ehlo_keywords; l && *l;) {
        size_t k = strcspn(l, "\n");
        lines[n].ptr = l;
        lines[n++].len = k;
        l += k + (l[k] == '\n');
    }
#undef EHLO_LIT
#undef EHLO_FMT
    return n;
}

#define EHLO_MAX_LINES (20 + SMTP_SRV_EHLO_EXTRA)
#define EHLO_SCRATCH 1200

smtp_ssize smtp_srv_ehlo_size(const smtp_server *srv)
{
    smtp_span lines[EHLO_MAX_LINES];
    char scratch[EHLO_SCRATCH];
    size_t n = ehlo_lines(srv, 1, lines, scratch, sizeof scratch);
    return smtp_emit_reply(NULL, 0, 250, NULL, lines, n);
}

int smtp_srv_queue_ehlo(smtp_server *srv)
{
    smtp_span lines[EHLO_MAX_LINES];
    char scratch[EHLO_SCRATCH], buf[SMTP_SRV_RESERVE];
    size_t n = ehlo_lines(srv, 0, lines, scratch, sizeof scratch);
    smtp_ssize len = smtp_emit_reply(buf, sizeof buf, 250, NULL, lines, n);
    if (len < 0) return (int)len;
    return smtp_srv_out(srv, buf, (size_t)len);
}

int smtp_server_set_extensions(smtp_server *srv, unsigned extensions, uint64_t max_message_size)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    /* Only what smtp_server_new checked and sized the session for (AUTH's buffers...). */
    if (extensions & ~srv->ext_allowed) return SMTP_ERR_INVALID_ARGUMENT;
    /* Once a hello was accepted the client may rely on the list (RFC 5321 4.1.1.1) and a
     * transaction may have begun under the old limit. */
    if (srv->error || srv->phase > SMTP_SRV_NO_HELO) return SMTP_ERR_INVALID_STATE;
    unsigned old_ext = srv->set.extensions;
    uint64_t old_size = srv->set.max_message_size;
    srv->set.extensions = extensions;
    srv->set.max_message_size = max_message_size;
    smtp_ssize n = smtp_srv_ehlo_size(srv); /* a longer SIZE value may not fit */
    if (n < 0 || n > SMTP_SRV_RESERVE) {
        srv->set.extensions = old_ext;
        srv->set.max_message_size = old_size;
        return SMTP_ERR_INVALID_ARGUMENT;
    }
    srv->param_ext = smtp_srv_param_ext(extensions);
    return 0;
}
