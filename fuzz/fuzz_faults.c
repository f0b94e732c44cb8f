/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: smtp-sink's fault-injection rules (examples/faults.c: --reply, --disconnect and
 * --delay specs, and the rule that applies to the Nth occurrence of a decision point).
 *
 * Checked here, besides no crash, no over-read and no undefined behaviour:
 *  - ex_faults_add against a reference parser written here from the grammar of faults.c's top
 *    comment: the same verdict on every spec, and an accepted spec gives the same rule (point,
 *    #N, code, enhanced code, text, milliseconds); a refusal's reason is a NUL-terminated text
 *    that fits its buffer, and the rules already parsed are untouched;
 *  - round trip: a rule written back as a spec (the canonical command name, #N, the fields)
 *    parses to the same rule;
 *  - the matching: for each decision point of a connection's sequence, counted as the sink
 *    counts them (1-based, per point, a new count for each connection), ex_faults_find gives
 *    the reference's rule for each kind: the first rule of that kind and point whose #N is
 *    absent or the count;
 *  - what the parser lets through the engine takes (faults.c promises its checks follow
 *    smtp_server_reply): a --reply rule answered at its decision point of a real server
 *    session, inside the callback or after SMTP_SERVER_DEFER as --delay does, is taken
 *    (smtp_server_reply returns 0) and its code is the reply the client gets.
 * Input layout: byte 0 the size of the refusal's reason buffer (1 to 128), byte 1 flags (1
 * answer the reply rules after SMTP_SERVER_DEFER, 2 skip the server sessions); then lines
 * separated by LF. A line beginning with '@' is a connection: each following byte a decision
 * point ("CHMRD.V" name them, another byte is its value modulo 7). Any other line is a spec,
 * its first byte the option modulo 3 ('r' --reply, 'd' --disconnect, 'w' --delay), the rest
 * the spec, up to a NUL if it has one.
 */
#define _DEFAULT_SOURCE /* strncasecmp in faults.c */
#include "fuzz_common.h"

/* The sink's own parser: one translation unit, so every build of the targets (CMake, replay,
 * OSS-Fuzz's build.sh) compiles it with the target's flags and needs no extra source. */
#include "../examples/faults.c"

#include <smtp/server.h>

#define HEADER 2
#define MAX_RULES 64
#define MAX_SESSIONS 4 /* server sessions per input: they cost most of the time */

static const char *const point_names[EX_FAULT_POINTS] = {"CONNECT", "HELO", "MAIL", "RCPT",
                                                         "DATA",    ".",    "VRFY"};
static const char point_letters[] = "CHMRD.V";

/* ---- the reference parser ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The run of digits at s: its length, and its value in *v (when at most 9 digits). */
static size_t digits(const char *s, long *v)
{
    size_t n = 0;
    *v = 0;
    while (is_digit(s[n])) {
        if (n < 9) *v = *v * 10 + (s[n] - '0');
        n++;
    }
    return n;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static int ref_point(const char *s, size_t n, ex_fault_point *pt)
{
    static const char *const aliases[][2] = {
        {"CONNECT", "CONNECT"}, {"HELO", "HELO"}, {"EHLO", "HELO"},
        {"LHLO", "HELO"},       {"MAIL", "MAIL"}, {"RCPT", "RCPT"},
        {"DATA", "DATA"},       {"BDAT", "DATA"}, {".", "."},
        {"VRFY", "VRFY"}};
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++) {
        if (strlen(aliases[a][0]) != n) continue;
        size_t i = 0;
        while (i < n && lower(s[i]) == lower(aliases[a][0][i]))
            i++;
        if (i < n) continue;
        for (int k = 0; k < EX_FAULT_POINTS; k++)
            if (strcmp(point_names[k], aliases[a][1]) == 0) *pt = (ex_fault_point)k;
        return 0;
    }
    return -1;
}

/* The codes besides 4xx and 5xx a --reply rule may give at each point (server.h's list for the
 * callback, the greeting's and DATA's acceptances left out by design). */
static int ref_acceptance(ex_fault_point pt, long code)
{
    if (pt == EX_FAULT_HELO || pt == EX_FAULT_MAIL || pt == EX_FAULT_DOT) return code == 250;
    if (pt == EX_FAULT_RCPT || pt == EX_FAULT_VRFY) return code >= 250 && code <= 252;
    return 0;
}

/* "X.Y.Z" at s (1, 1-3, 1-3 digits) followed by the end or SP: its length, else 0. */
static size_t ref_enhanced(const char *s)
{
    long v;
    size_t a = digits(s, &v);
    if (a != 1 || s[1] != '.') return 0;
    size_t b = digits(s + 2, &v);
    if (b < 1 || b > 3 || s[2 + b] != '.') return 0;
    size_t c = digits(s + 3 + b, &v);
    size_t n = 3 + b + c;
    if (c < 1 || c > 3 || (s[n] != '\0' && s[n] != ' ')) return 0;
    return n;
}

static int ref_parse(ex_fault_kind kind, const char *s, ex_fault *r)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    size_t n = 0;
    while (s[n] && s[n] != '#' && s[n] != ':')
        n++;
    if (ref_point(s, n, &r->point) != 0) return -1;
    s += n;
    long v;
    if (*s == '#') {
        size_t d = digits(++s, &v);
        if (d == 0 || d > 7 || v == 0) return -1;
        r->nth = (unsigned long)v;
        s += d;
    }
    if (kind == EX_FAULT_DISCONNECT) return *s == '\0' ? 0 : -1;
    if (*s++ != ':') return -1;
    size_t d = digits(s, &v);
    if (kind == EX_FAULT_DELAY) {
        if (d == 0 || d > 7 || v < 1 || v > 3600000 || s[d] != '\0') return -1;
        r->ms = (unsigned long)v;
        return 0;
    }
    if (d != 3 || s[0] == '0' || s[1] > '5' || (s[3] != '\0' && s[3] != ' ')) return -1;
    if (!(v / 100 == 4 || v / 100 == 5) && !ref_acceptance(r->point, v)) return -1;
    r->code = (int)v;
    s += 3;
    if (*s == ' ') s++;
    if (is_digit(s[0]) && s[1] == '.') {
        size_t e = ref_enhanced(s);
        if (e == 0 || s[0] - '0' != v / 100) return -1;
        memcpy(r->enhanced, s, e);
        s += e;
        if (*s == ' ') s++;
    }
    size_t len = strlen(s);
    if (len > EX_FAULT_TEXT_MAX) return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return -1;
    memcpy(r->text, s, len + 1);
    return 0;
}

static void same_rule(const ex_fault *a, const ex_fault *b)
{
    FUZZ_ASSERT(a->kind == b->kind && a->point == b->point && a->nth == b->nth);
    FUZZ_ASSERT(a->code == b->code && a->ms == b->ms);
    FUZZ_ASSERT(strcmp(a->enhanced, b->enhanced) == 0 && strcmp(a->text, b->text) == 0);
}

/* A rule written back as its spec. */
static void spec_of(const ex_fault *r, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s", point_names[r->point]);
    if (r->nth) n += snprintf(buf + n, cap - (size_t)n, "#%lu", r->nth);
    if (r->kind == EX_FAULT_DELAY) snprintf(buf + n, cap - (size_t)n, ":%lu", r->ms);
    if (r->kind != EX_FAULT_REPLY) return;
    n += snprintf(buf + n, cap - (size_t)n, ":%d", r->code);
    if (r->enhanced[0]) n += snprintf(buf + n, cap - (size_t)n, " %s", r->enhanced);
    /* A text after the code alone begins with one SP (the parser skips one). */
    if (r->text[0] || r->enhanced[0]) snprintf(buf + n, cap - (size_t)n, " %s", r->text);
}

/* ---- a server session answering one decision point with a rule ---- */

struct sess {
    const ex_fault *rule;
    int defer;   /* answer after SMTP_SERVER_DEFER */
    int reached; /* the rule's point was decided */
    int pending; /* the deferred answer is owed */
    smtp_server *srv;
};

static void answer_rule(struct sess *s)
{
    const ex_fault *r = s->rule;
    size_t len = strlen(r->text);
    int rc = smtp_server_reply(s->srv, r->code, r->enhanced[0] ? r->enhanced : NULL,
                               len ? r->text : NULL, len);
    if (rc != 0)
        fprintf(stderr, "smtp_server_reply(%d \"%s\" \"%s\"): %d\n", r->code, r->enhanced, r->text,
                rc);
    FUZZ_ASSERT(rc == 0); /* the parser let through a reply the engine refuses */
}

static int decide(struct sess *s, ex_fault_point pt)
{
    if (pt != s->rule->point || s->reached) return 0;
    s->reached = 1;
    if (s->defer) {
        s->pending = 1;
        return SMTP_SERVER_DEFER;
    }
    answer_rule(s);
    return 0;
}

static int cb_connect(smtp_server *srv, void *ud)
{
    (void)srv;
    return decide(ud, EX_FAULT_CONNECT);
}

static int cb_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)srv, (void)verb, (void)domain;
    return decide(ud, EX_FAULT_HELO);
}

static int cb_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    (void)srv, (void)m;
    return decide(ud, EX_FAULT_MAIL);
}

static int cb_rcpt(smtp_server *srv, const smtp_server_rcpt *r, void *ud)
{
    (void)srv, (void)r;
    return decide(ud, EX_FAULT_RCPT);
}

static int cb_data_start(smtp_server *srv, void *ud)
{
    (void)srv;
    return decide(ud, EX_FAULT_DATA);
}

static int cb_end(smtp_server *srv, const smtp_server_message *m, void *ud)
{
    (void)srv, (void)m;
    return decide(ud, EX_FAULT_DOT);
}

static int cb_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv, (void)arg;
    return decide(ud, EX_FAULT_VRFY);
}

static smtp_ssize write_server(void *engine, char *dest, size_t cap)
{
    return smtp_server_write(engine, dest, cap);
}

/* Does a reply line of `out` begin with the code? */
static int has_code(const struct flog *out, int code)
{
    char c[5];
    snprintf(c, sizeof c, "%d", code);
    for (size_t i = 0; i + 4 <= out->len; i++)
        if ((i == 0 || out->buf[i - 1] == '\n') && memcmp(out->buf + i, c, 3) == 0 &&
            (out->buf[i + 3] == ' ' || out->buf[i + 3] == '-'))
            return 1;
    return 0;
}

/* A session of the sink's kind whose client reaches every decision point in turn. */
static void serve(const ex_fault *rule, int defer)
{
    static const char script[] = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n"
                                 "RCPT TO:<b@example.net>\r\nDATA\r\nbody\r\n.\r\n"
                                 "VRFY b\r\nQUIT\r\n";
    struct sess s = {rule, defer, 0, 0, NULL};
    struct flog out = {0};
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = "sink.example";
    smtp_server_callbacks cb = {.on_connect = cb_connect,
                                .on_helo = cb_helo,
                                .on_mail = cb_mail,
                                .on_rcpt = cb_rcpt,
                                .on_data_start = cb_data_start,
                                .on_message_end = cb_end,
                                .on_vrfy = cb_vrfy};
    FUZZ_ASSERT(smtp_server_new(&s.srv, &cb, &ss, NULL, &s) == 0);
    int rc = smtp_server_start(s.srv);
    size_t pos = 0, len = sizeof script - 1;
    while (rc >= 0) {
        if (s.pending) {
            s.pending = 0;
            answer_rule(&s);
        }
        if (fdrain(&out, NULL, write_server, s.srv) < 0) break;
        if (s.pending) continue;
        if (pos == len || !smtp_server_want_read(s.srv)) break;
        smtp_ssize k = smtp_server_read(s.srv, script + pos, len - pos);
        if (k < 0) break;
        pos += (size_t)k;
        if (k == 0 && !s.pending) break;
    }
    fdrain(&out, NULL, write_server, s.srv);
    /* Every point is reached unless an earlier refusal closed the way; this one's is first. */
    FUZZ_ASSERT(s.reached);
    FUZZ_ASSERT(has_code(&out, rule->code));
    smtp_server_del(s.srv);
    flog_free(&out);
}

/* ---- the input ---- */

static const ex_fault *ref_find(const ex_faults *f, ex_fault_kind kind, ex_fault_point pt,
                                unsigned long count)
{
    const ex_fault *found = NULL;
    for (size_t i = f->n; i-- > 0;) /* the last match scanning backwards: the first */
        if (f->v[i].kind == kind && f->v[i].point == pt && (!f->v[i].nth || f->v[i].nth == count))
            found = &f->v[i];
    return found;
}

static void connection(const ex_faults *f, const char *seq, size_t n)
{
    unsigned long count[EX_FAULT_POINTS] = {0};
    for (size_t i = 0; i < n; i++) {
        const char *l = memchr(point_letters, seq[i], sizeof point_letters - 1);
        int pt = l && seq[i] ? (int)(l - point_letters) : (unsigned char)seq[i] % EX_FAULT_POINTS;
        unsigned long c = ++count[pt];
        for (int kind = 0; kind < 3; kind++)
            FUZZ_ASSERT(ex_faults_find(f, (ex_fault_kind)kind, (ex_fault_point)pt, c) ==
                        ref_find(f, (ex_fault_kind)kind, (ex_fault_point)pt, c));
    }
}

static void spec_line(ex_faults *f, ex_fault_kind kind, const char *line, size_t n, size_t cap,
                      int *sessions, unsigned flags)
{
    char *spec = malloc(n + 1); /* exactly the C string: an over-read is an ASan error */
    if (!spec) abort();
    if (n) memcpy(spec, line, n);
    spec[n] = '\0';
    char *why = malloc(cap);
    if (!why) abort();
    memset(why, 'x', cap);
    size_t before = f->n;
    ex_fault ref;
    int want = ref_parse(kind, spec, &ref);
    int rc = ex_faults_add(f, kind, spec, why, cap);
    if (rc != want)
        fprintf(stderr, "spec \"%s\" (kind %d): ex_faults_add %d, reference %d (%s)\n", spec,
                (int)kind, rc, want, rc ? why : "");
    FUZZ_ASSERT(rc == want);
    if (rc != 0) {
        FUZZ_ASSERT(f->n == before && memchr(why, '\0', cap) != NULL);
        FUZZ_ASSERT(why[0] != '\0' || cap == 1);
    } else {
        FUZZ_ASSERT(f->n == before + 1);
        same_rule(&f->v[before], &ref);
        char back[EX_FAULT_TEXT_MAX + 64];
        spec_of(&ref, back, sizeof back);
        ex_faults again = {0};
        char why2[128];
        FUZZ_ASSERT(ex_faults_add(&again, kind, back, why2, sizeof why2) == 0);
        same_rule(&again.v[0], &ref);
        ex_faults_free(&again);
        if (kind == EX_FAULT_REPLY && !(flags & 2) && *sessions < MAX_SESSIONS) {
            ++*sessions;
            serve(&ref, flags & 1);
        }
    }
    free(why);
    free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    size_t cap = 1 + data[0] % 128;
    unsigned flags = data[1];
    const char *p = (const char *)data + HEADER, *end = (const char *)data + size;
    ex_faults f = {0};
    int sessions = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[0] == '@') {
            connection(&f, p + 1, n - 1);
        } else if (n > 0 && f.n < MAX_RULES) {
            const char *nul = memchr(p + 1, '\0', n - 1);
            size_t sn = nul ? (size_t)(nul - (p + 1)) : n - 1;
            spec_line(&f, (ex_fault_kind)((unsigned char)p[0] % 3), p + 1, sn, cap, &sessions,
                      flags);
        }
        p += n + (nl != NULL);
    }
    ex_faults_free(&f);
    return 0;
}
