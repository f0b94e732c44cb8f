/* SPDX-License-Identifier: MIT */
/*
 * The protocol-vector harness (see vec.h for the file format and the four replays).
 * Usage: smtp_vectors FILE.vec...   The runner is named by the file's directory.
 *
 * The runners that read or write DATA content or frame command lines (data_decode,
 * data_encode, command, server, client) replay each case twice when the library has a SIMD line-end
 * scanner (lib/scan.h): once with it, once with the portable scanner every other target builds, so
 * both are held to the same vectors (the engines' second replay splits at every point but not at
 * every pair of points: the coders' own vectors have the pairs, and the sessions' pairs would
 * double the suite's time).
 */
#include "vec.h"

#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vec_runner *const runners[] = {
    &vec_runner_reply,  &vec_runner_command,     &vec_runner_path,        &vec_runner_params,
    &vec_runner_caps,   &vec_runner_data_decode, &vec_runner_data_encode, &vec_runner_codec,
    &vec_runner_server, &vec_runner_client,      &vec_runner_mtasts,
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return q;
}

static void log_reserve(vec_log *log, size_t more)
{
    if (log->len + more + 1 > log->cap) {
        size_t cap = log->cap ? log->cap : 256;
        while (cap < log->len + more + 1)
            cap *= 2;
        log->buf = xrealloc(log->buf, cap);
        log->cap = cap;
    }
}

void vec_log_raw(vec_log *log, const char *s, size_t len)
{
    log_reserve(log, len);
    memcpy(log->buf + log->len, s, len);
    log->len += len;
    log->buf[log->len] = '\0';
}

void vec_logf(vec_log *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    log_reserve(log, (size_t)n + 1);
    vsnprintf(log->buf + log->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    log->len += (size_t)n;
    log->buf[log->len++] = '\n';
    log->buf[log->len] = '\0';
}

void vec_log_escaped(vec_log *log, const char *data, size_t len)
{
    char tmp[8];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        const char *s = tmp;
        switch (c) {
        case '\r': s = "\\r"; break;
        case '\n': s = "\\n"; break;
        case '\t': s = "\\t"; break;
        case '\0': s = "\\0"; break;
        case '\\': s = "\\\\"; break;
        case '"': s = "\\x22"; break;
        default:
            if (c < 0x20 || c >= 0x7f)
                snprintf(tmp, sizeof tmp, "\\x%02X", c);
            else {
                tmp[0] = (char)c;
                tmp[1] = '\0';
            }
        }
        vec_log_raw(log, s, strlen(s));
    }
}

int vec_opt_each(const char *options, int (*fn)(const char *word, size_t len, void *ctx), void *ctx)
{
    const char *p = options;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            int rv = fn(p, (size_t)(e - p), ctx);
            if (rv) return rv;
        }
        p = e;
    }
    return 0;
}

struct opt_query {
    const char *key;
    size_t klen;
    int with_value; /* match "key=..." rather than the word "key" */
    const char *value;
};

static int match_word(const char *w, size_t len, void *ctx)
{
    struct opt_query *q = ctx;
    if (q->with_value) {
        if (len > q->klen && memcmp(w, q->key, q->klen) == 0 && w[q->klen] == '=') {
            q->value = w + q->klen + 1;
            return 1;
        }
        return 0;
    }
    return len == q->klen && memcmp(w, q->key, len) == 0;
}

int vec_opt_has(const char *options, const char *word)
{
    struct opt_query q = {word, strlen(word), 0, NULL};
    return vec_opt_each(options, match_word, &q);
}

unsigned long vec_opt_num(const char *options, const char *key, unsigned long dflt)
{
    struct opt_query q = {key, strlen(key), 1, NULL};
    return vec_opt_each(options, match_word, &q) ? strtoul(q.value, NULL, 10) : dflt;
}

struct opt_known {
    const char *const *known;
    size_t n;
};

static int unknown_word(const char *w, size_t len, void *ctx)
{
    struct opt_known *k = ctx;
    for (size_t i = 0; i < k->n; i++) {
        size_t kl = strlen(k->known[i]);
        int prefix = kl > 0 && k->known[i][kl - 1] == '=';
        if (prefix ? len >= kl && memcmp(w, k->known[i], kl) == 0
                   : len == kl && memcmp(w, k->known[i], kl) == 0)
            return 0;
    }
    fprintf(stderr, "unknown option '%.*s'\n", (int)len, w);
    return 1;
}

int vec_opt_check(const char *options, const char *const *known, size_t n)
{
    struct opt_known k = {known, n};
    return vec_opt_each(options, unknown_word, &k) == 0;
}

/* ---- parsing vector files ---- */

struct vcase {
    char *name;
    int line;
    char *options;
    char *input;
    size_t input_len;
    char *trailing; /* NULL: runner default */
    size_t trailing_len;
    int no_trailing;
    char *events; /* normalized: each event line + '\n' */
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the escaped notation of `s` (one physical line) and appends it to log. */
static int unescape_append(vec_log *out, const char *s, const char *file, int line)
{
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c != '\\') {
            vec_log_raw(out, &c, 1);
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'r': c = '\r'; break;
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case '0': c = '\0'; break;
        case 's': c = ' '; break;
        case '\\': c = '\\'; break;
        case 'x': {
            int h = s[i + 1] ? hexval(s[i + 1]) : -1;
            int l = h >= 0 && s[i + 2] ? hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                fprintf(stderr, "%s:%d: bad \\x escape\n", file, line);
                return -1;
            }
            c = (char)(h * 16 + l);
            i += 2;
            break;
        }
        default:
            fprintf(stderr, "%s:%d: unknown escape \\%c\n", file, line, e ? e : '0');
            return -1;
        }
        vec_log_raw(out, &c, 1);
    }
    return 0;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xrealloc(NULL, n);
    memcpy(d, s, n);
    return d;
}

static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
}

static int load_cases(const char *file, struct vcase **out, size_t *nout)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return -1;
    }
    struct vcase *cases = NULL;
    size_t n = 0;
    enum { NONE, HEAD, INPUT, EVENTS } sect = NONE;
    vec_log in = {0}, ev = {0}, tr = {0};
    char line[65536];
    int lineno = 0, rc = 0;
    struct vcase *cur = NULL;

#define FINISH_CASE()                                                                              \
    do {                                                                                           \
        if (cur) {                                                                                 \
            cur->input = in.buf ? in.buf : xstrdup("");                                            \
            cur->input_len = in.len;                                                               \
            cur->events = ev.buf ? ev.buf : xstrdup("");                                           \
            if (tr.buf) {                                                                          \
                cur->trailing = tr.buf;                                                            \
                cur->trailing_len = tr.len;                                                        \
            }                                                                                      \
            memset(&in, 0, sizeof in);                                                             \
            memset(&ev, 0, sizeof ev);                                                             \
            memset(&tr, 0, sizeof tr);                                                             \
        }                                                                                          \
    } while (0)

    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\n') line[--ll] = '\0';
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        if (line[0] == '#') continue;
        if (strncmp(line, "=== ", 4) == 0) {
            FINISH_CASE();
            cases = xrealloc(cases, (n + 1) * sizeof *cases);
            cur = &cases[n++];
            memset(cur, 0, sizeof *cur);
            char *name = line + 4;
            rtrim(name);
            cur->name = xstrdup(name);
            cur->line = lineno;
            cur->options = xstrdup("");
            sect = HEAD;
            continue;
        }
        if (!cur) {
            rtrim(line);
            if (line[0]) {
                fprintf(stderr, "%s:%d: text before the first '=== ' case\n", file, lineno);
                rc = -1;
            }
            continue;
        }
        if (strcmp(line, "--- input") == 0) {
            sect = INPUT;
            continue;
        }
        if (strcmp(line, "--- events") == 0) {
            sect = EVENTS;
            continue;
        }
        switch (sect) {
        case HEAD:
            rtrim(line);
            if (strncmp(line, "options:", 8) == 0) {
                free(cur->options);
                char *o = line + 8;
                while (*o == ' ')
                    o++;
                cur->options = xstrdup(o);
            } else if (strncmp(line, "trailing:", 9) == 0) {
                char *o = line + 9;
                while (*o == ' ')
                    o++;
                if (strcmp(o, "none") == 0)
                    cur->no_trailing = 1;
                else if (unescape_append(&tr, o, file, lineno) < 0)
                    rc = -1;
            } else if (line[0]) {
                fprintf(stderr, "%s:%d: unknown header line\n", file, lineno);
                rc = -1;
            }
            break;
        case INPUT:
            if (unescape_append(&in, line, file, lineno) < 0) rc = -1;
            break;
        case EVENTS:
            rtrim(line);
            if (line[0]) vec_logf(&ev, "%s", line);
            break;
        case NONE: break;
        }
    }
    FINISH_CASE();
#undef FINISH_CASE
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "%s: no cases\n", file);
        rc = -1;
    }
    *out = cases;
    *nout = n;
    return rc;
}

/* ---- replaying ---- */

struct piece {
    size_t off, len;
};

/* Runs one replay; returns the log (caller frees) and, in *pre_close, its length before close. */
static char *replay(const vec_runner *r, const struct vcase *c, const char *data,
                    const struct piece *pieces, size_t np, size_t *pre_close, int *open_failed)
{
    vec_log log = {0};
    void *st = r->open(c->options, &log);
    if (!st) {
        *open_failed = 1;
        free(log.buf);
        return NULL;
    }
    for (size_t i = 0; i < np; i++)
        r->feed(st, data + pieces[i].off, pieces[i].len, &log);
    *pre_close = log.len;
    r->close(st, &log);
    if (!log.buf) vec_log_raw(&log, "", 0);
    return log.buf;
}

static int failures;
static const char *pass = ""; /* the scanner of this replay, in failure reports */
static int no_pairs;          /* this replay splits at single points only */

static void report(const char *file, const struct vcase *c, const char *mode, const char *expect,
                   const char *got)
{
    failures++;
    fprintf(stderr, "FAIL %s:%d [%s] %s%s\n--- expected\n%s--- got\n%s---\n", file, c->line,
            c->name, mode, pass, expect, got);
}

static int run_case(const char *file, const vec_runner *r, const struct vcase *c)
{
    const char *in = c->input;
    size_t n = c->input_len;
    size_t pre;
    int open_failed = 0;
    char mode[128];
    int before = failures;

    struct piece whole = {0, n};
    char *ref = replay(r, c, in, &whole, n ? 1 : 0, &pre, &open_failed);
    if (open_failed) {
        fprintf(stderr, "FAIL %s:%d [%s] runner '%s' rejected options '%s'\n", file, c->line,
                c->name, r->name, c->options);
        failures++;
        return -1;
    }
    size_t ref_pre = pre;
    if (strcmp(ref, c->events) != 0) {
        report(file, c, "whole", c->events, ref);
        free(ref);
        return -1; /* the other replays would only repeat the difference */
    }

    /* one byte at a time */
    struct piece *ps = calloc(n ? n : 1, sizeof *ps);
    if (!ps) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        ps[i] = (struct piece){i, 1};
    char *got = replay(r, c, in, ps, n, &pre, &open_failed);
    if (strcmp(got, ref) != 0) report(file, c, "one byte at a time", ref, got);
    free(got);

    /* every split point, and every pair of split points for short inputs; under valgrind
     * (SMTP_VEC_SPLIT_STRIDE=k) a long input is split at every k-th point and the last */
    size_t stride = 1;
    const char *st = getenv("SMTP_VEC_SPLIT_STRIDE");
    if (st && n > 160) stride = strtoul(st, NULL, 10) > 1 ? strtoul(st, NULL, 10) : 1;
    for (size_t i = 1; i < n && failures == before; i++) {
        if (i % stride != 0 && i != n - 1) continue;
        struct piece two[2] = {{0, i}, {i, n - i}};
        got = replay(r, c, in, two, 2, &pre, &open_failed);
        if (strcmp(got, ref) != 0) {
            snprintf(mode, sizeof mode, "split at %zu", i);
            report(file, c, mode, ref, got);
        }
        free(got);
        if (n > 160 || no_pairs || getenv("SMTP_VEC_NO_PAIRS")) continue;
        for (size_t j = i + 1; j < n && failures == before; j++) {
            struct piece three[3] = {{0, i}, {i, j - i}, {j, n - j}};
            got = replay(r, c, in, three, 3, &pre, &open_failed);
            if (strcmp(got, ref) != 0) {
                snprintf(mode, sizeof mode, "split at %zu and %zu", i, j);
                report(file, c, mode, ref, got);
            }
            free(got);
        }
    }

    /* trailing bytes change nothing before close */
    const char *tr = c->trailing ? c->trailing : r->trailing;
    size_t tl = c->trailing ? c->trailing_len : (r->trailing ? strlen(r->trailing) : 0);
    if (tr && !c->no_trailing && tl) {
        char *buf = xrealloc(NULL, n + tl);
        memcpy(buf, in, n);
        memcpy(buf + n, tr, tl);
        struct piece wt[2] = {{0, n}, {n, tl}};
        got = replay(r, c, buf, wt, 2, &pre, &open_failed);
        if (pre != ref_pre || memcmp(got, ref, pre) != 0) {
            got[pre] = '\0';
            char *refpre = xstrdup(ref);
            refpre[ref_pre] = '\0';
            report(file, c, "with trailing bytes (log before close)", refpre, got);
            free(refpre);
        }
        free(got);
        free(buf);
    }
    free(ps);
    free(ref);
    return failures == before ? 0 : -1;
}

static const vec_runner *runner_for(const char *file)
{
    /* the name of the directory holding the file */
    const char *slash = strrchr(file, '/');
    if (!slash) return NULL;
    const char *start = slash;
    while (start > file && start[-1] != '/')
        start--;
    size_t len = (size_t)(slash - start);
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++) {
        if (runners[i]->open && strlen(runners[i]->name) == len &&
            memcmp(runners[i]->name, start, len) == 0)
            return runners[i];
    }
    return NULL;
}

/* Does the runner's code path scan with lib/scan.h (the DATA coders, the line framer)? */
static int scans_data(const vec_runner *r)
{
    return r == &vec_runner_data_decode || r == &vec_runner_data_encode ||
           r == &vec_runner_command || r == &vec_runner_server || r == &vec_runner_client ||
           r == &vec_runner_reply;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.vec...\n", argv[0]);
        return 2;
    }
    size_t total = 0;
    for (int a = 1; a < argc; a++) {
        const vec_runner *r = runner_for(argv[a]);
        if (!r) {
            fprintf(stderr, "%s: no runner for this directory\n", argv[a]);
            failures++;
            continue;
        }
        struct vcase *cases;
        size_t n;
        if (load_cases(argv[a], &cases, &n) < 0) failures++;
        for (size_t i = 0; i < n; i++) {
            pass = "";
            run_case(argv[a], r, &cases[i]);
            total++;
            if (smtp_scan_has_simd && scans_data(r)) {
                pass = " (portable scanner)";
                smtp_scan_portable = 1;
                no_pairs = r == &vec_runner_server || r == &vec_runner_client;
                run_case(argv[a], r, &cases[i]);
                smtp_scan_portable = 0;
                total++;
                if (smtp_scan_avx2_available()) {
                    /* The first replay took the AVX2 loops: the SSE2 ones too. */
                    pass = " (SSE2 scanner)";
                    smtp_scan_no_avx2 = 1;
                    run_case(argv[a], r, &cases[i]);
                    smtp_scan_no_avx2 = 0;
                    total++;
                }
                no_pairs = 0;
            }
            free(cases[i].name);
            free(cases[i].options);
            free(cases[i].input);
            free(cases[i].events);
            free(cases[i].trailing);
        }
        free(cases);
    }
    printf("%zu cases, %d failures\n", total, failures);
    return failures ? 1 : 0;
}
