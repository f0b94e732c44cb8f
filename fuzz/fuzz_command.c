/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the streaming command parser (smtp_cmd_parser) and smtp_cmd_parse.
 *
 * Checked here, besides no crash, no over-read (ASan) and no undefined behaviour (UBSan):
 *  - split invariance: the stream fed whole and fed in pieces whose sizes come from the input
 *    give the same event log: every command (verb, error, reply, line, each span as an offset
 *    in its line), every SASL response, the stream offset of every pause, the payload skipped
 *    after DATA/BDAT, the bytes left after STARTTLS and the final error;
 *  - smtp_cmd_parse on each reported line agrees with the streaming parser: the same verb,
 *    error and spans (line-level errors: the same verb, name and line; LINE_TOO_LONG and
 *    BARE_LF, judged by the framer, are not compared);
 *  - every span lies inside its line, and a line read whole lies inside the piece fed;
 *  - every error has its reply (500/501/521 with enhanced code and text; 521 for BDAT);
 *  - the parser never consumes more than it was given, consumes everything unless a callback
 *    paused, and a callback failure is sticky.
 * Each piece is a fresh heap copy of exactly its size, so reading past it is an ASan error.
 *
 * Input layout: byte 0 = piece-size seed; byte 1 = flags (bits 0-3: SMTP_CMD_* parser flags;
 * bit 4: pause after DATA, BDAT and STARTTLS as a server engine does, then skip the payload to
 * CRLF.CRLF, skip the chunk, or stop reading; bit 5: pause after every line; bits 6-7: read up
 * to that many lines as SASL responses after a valid AUTH); byte 2 = max_line (bit 7 set:
 * 512, else 8 + 4 * low bits); byte 3 = max_auth_line (bit 7 set: 12288, else 8 + 8 * low
 * bits); byte 4 = the callback call that fails (0: none); the rest is the client's stream.
 */
#include <smtp/command.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 5

/* ---- an event log, compared byte for byte between the two runs ---- */

struct log {
    char *buf;
    size_t len, cap;
};

static void log_raw(struct log *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n)
            cap *= 2;
        l->buf = realloc(l->buf, cap);
        if (!l->buf) abort();
        l->cap = cap;
    }
    if (n) memcpy(l->buf + l->len, p, n);
    l->len += n;
}

/* Appends printf-formatted text (a literal format, so the compiler checks the arguments). */
#define LOG(l, ...)                                                                                \
    do {                                                                                           \
        char tmp_[128];                                                                            \
        int n_ = snprintf(tmp_, sizeof tmp_, __VA_ARGS__);                                         \
        log_raw((l), tmp_, (size_t)n_);                                                            \
    } while (0)

typedef unsigned long long ull;

static void log_dump(const char *what, const struct log *l)
{
    fprintf(stderr, "---- %s (%zu bytes)\n", what, l->len);
    for (size_t i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->buf[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f))
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
}

/* ---- one run ---- */

enum mode { MODE_COMMANDS, MODE_DATA, MODE_CHUNK, MODE_STOPPED };

struct run {
    smtp_cmd_parser *parser;
    struct log log;
    unsigned flags;
    size_t max_line, max_auth_line;
    int pause_payload, pause_all;
    unsigned sasl_lines, sasl_left;
    unsigned fail_at, calls;
    int whole;
    const char *piece; /* the piece being read, to check where whole lines point */
    size_t piece_len;
    int paused;
    enum mode next, mode;
    unsigned dmatch;     /* octets of "\r\n.\r\n" matched after DATA */
    uint64_t chunk_left; /* octets of BDAT chunk still to skip */
};

static int inside(smtp_span s, smtp_span outer)
{
    if (s.len == 0) return s.ptr == NULL || (s.ptr >= outer.ptr && s.ptr <= outer.ptr + outer.len);
    return outer.ptr && s.ptr >= outer.ptr && s.len <= outer.len &&
           (size_t)(s.ptr - outer.ptr) <= outer.len - s.len;
}

static void log_span(struct log *l, const char *key, smtp_span s, smtp_span line)
{
    if (!inside(s, line)) abort();
    if (s.len == 0 && s.ptr != NULL) abort(); /* an absent element is {NULL, 0} */
    if (!s.ptr) return;
    log_raw(l, " ", 1);
    log_raw(l, key, strlen(key));
    LOG(l, "=%llu+%llu", (ull)(s.ptr - line.ptr), (ull)s.len);
}

static void check_reply(smtp_cmd_error err, smtp_verb verb)
{
    const char *enh = NULL, *text = NULL;
    int code = smtp_cmd_error_reply(err, verb, &enh, &text);
    if (err == SMTP_CMD_OK) {
        if (code != 0 || enh || text) abort();
        return;
    }
    if (code != 500 && code != 501 && code != 521) abort();
    if (!enh || !text || strlen(enh) != 5) abort();
    if (verb == SMTP_VERB_BDAT && code != 521) abort();
}

static int same_span(smtp_span a, smtp_span b)
{
    return a.ptr == b.ptr && a.len == b.len;
}

/* smtp_cmd_parse on the reported line must find what the streaming parser found. */
static void check_one_line_parse(const struct run *r, const smtp_cmd *c)
{
    if (c->error == SMTP_CMD_ERR_LINE_TOO_LONG) return;
    smtp_cmd o;
    int rv = smtp_cmd_parse(c->line.ptr, c->line.len, r->flags, &o);
    if (rv != (o.error == SMTP_CMD_OK ? 0 : SMTP_ERR_SYNTAX)) abort();
    if (o.verb != c->verb || !same_span(o.name, c->name)) abort();
    if (!same_span(o.line, c->line) && c->line.len) abort();
    if (c->error == SMTP_CMD_ERR_BARE_LF) {
        /* The framer saw the LF; the line without it is clean. */
        if (o.error == SMTP_CMD_ERR_BARE_CR || o.error == SMTP_CMD_ERR_NUL) abort();
        return;
    }
    if (o.error != c->error || !same_span(o.arg, c->arg) || !same_span(o.domain, c->domain) ||
        !same_span(o.path, c->path) || !same_span(o.params, c->params) ||
        !same_span(o.mechanism, c->mechanism) ||
        !same_span(o.initial_response, c->initial_response) || o.chunk_size != c->chunk_size ||
        o.last != c->last)
        abort();
}

static int callback_result(struct run *r)
{
    r->calls++;
    if (r->fail_at && r->calls == r->fail_at) return -1;
    if (r->pause_all) {
        r->paused = 1;
        r->next = MODE_COMMANDS;
        return SMTP_PAUSE;
    }
    return 0;
}

static void check_line_place(const struct run *r, smtp_span line, size_t limit)
{
    smtp_span piece = {r->piece, r->piece_len};
    /* Whole, every line lies in the piece; split, it may lie in the parser's buffer. */
    if (r->whole && line.len && !inside(line, piece)) abort();
    if (line.len > limit - 1) abort();
}

static int on_command(smtp_cmd_parser *parser, const smtp_cmd *c, void *user_data)
{
    (void)parser;
    struct run *r = user_data;
    struct log *l = &r->log;
    size_t limit = c->verb == SMTP_VERB_AUTH ? r->max_auth_line : r->max_line;
    check_line_place(r, c->line, limit);
    if ((unsigned)c->verb > SMTP_VERB_XFORWARD) abort();
    check_reply(c->error, c->verb);
    check_one_line_parse(r, c);
    LOG(l, "cmd verb=%u error=%u", (unsigned)c->verb, (unsigned)c->error);
    LOG(l, " line=%llu:", (ull)c->line.len);
    log_raw(l, c->line.ptr, c->line.len);
    log_span(l, "name", c->name, c->line);
    log_span(l, "arg", c->arg, c->line);
    log_span(l, "domain", c->domain, c->line);
    log_span(l, "path", c->path, c->line);
    log_span(l, "params", c->params, c->line);
    log_span(l, "mech", c->mechanism, c->line);
    log_span(l, "ir", c->initial_response, c->line);
    LOG(l, " size=%llu last=%d\n", (ull)c->chunk_size, c->last);
    if (c->error != SMTP_CMD_OK) {
        /* A line-level error carries only verb, name and line. */
        if (c->error >= SMTP_CMD_ERR_LINE_TOO_LONG && (c->arg.ptr || c->path.ptr)) abort();
        return callback_result(r);
    }
    if (c->verb == SMTP_VERB_AUTH && r->sasl_lines) {
        r->sasl_left = r->sasl_lines;
        if (smtp_cmd_parser_expect_sasl(r->parser) != 0) abort();
    }
    int rv = callback_result(r);
    if (rv < 0 || !r->pause_payload) return rv;
    switch (c->verb) {
    case SMTP_VERB_DATA: r->next = MODE_DATA; break;
    case SMTP_VERB_BDAT:
        r->next = MODE_CHUNK;
        r->chunk_left = c->chunk_size;
        break;
    case SMTP_VERB_STARTTLS: r->next = MODE_STOPPED; break;
    default: return rv;
    }
    r->paused = 1;
    return SMTP_PAUSE;
}

static int on_sasl(smtp_cmd_parser *parser, const smtp_sasl_response *s, void *user_data)
{
    (void)parser;
    struct run *r = user_data;
    check_line_place(r, s->line, r->max_auth_line);
    check_reply(s->error, SMTP_VERB_AUTH);
    if (s->cancelled && (s->error != SMTP_CMD_OK || s->line.len != 1 || s->line.ptr[0] != '*'))
        abort();
    LOG(&r->log, "sasl error=%u cancel=%d line=", (unsigned)s->error, s->cancelled);
    log_raw(&r->log, s->line.ptr, s->line.len);
    log_raw(&r->log, "\n", 1);
    if (s->error == SMTP_CMD_OK && !s->cancelled && --r->sasl_left > 0)
        smtp_cmd_parser_expect_sasl(r->parser);
    return callback_result(r);
}

/* Skips DATA payload up to CRLF.CRLF (the DATA line's CRLF counts); returns bytes used. */
static size_t skip_data(struct run *r, const char *p, size_t n)
{
    static const char end[] = "\r\n.\r\n";
    for (size_t i = 0; i < n; i++) {
        if (p[i] == end[r->dmatch])
            r->dmatch++;
        else
            r->dmatch = p[i] == '\r' ? 1 : 0;
        if (r->dmatch == 5) {
            r->mode = MODE_COMMANDS;
            return i + 1;
        }
    }
    return n;
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Feeds the piece to the parser and the payload skippers; returns 0 when reading must stop. */
static int feed_piece(struct run *r, const char *piece, size_t n, uint64_t pos)
{
    size_t off = 0;
    while (off < n) {
        switch (r->mode) {
        case MODE_COMMANDS: {
            r->piece = piece;
            r->piece_len = n;
            smtp_ssize rv = smtp_cmd_parser_read(r->parser, piece + off, n - off);
            if (rv < 0) {
                if (rv != SMTP_ERR_CALLBACK_FAILURE || !r->fail_at) abort();
                if (smtp_cmd_parser_read(r->parser, piece, n) != rv) abort(); /* sticky */
                LOG(&r->log, "read error=%lld\n", (long long)rv);
                return 0;
            }
            if ((size_t)rv > n - off) abort();
            off += (size_t)rv;
            if (r->paused) {
                r->paused = 0;
                r->mode = r->next;
                r->dmatch = 2;
                LOG(&r->log, "pause at=%llu mode=%d\n", (ull)(pos + off), (int)r->mode);
                if (r->mode == MODE_CHUNK && r->chunk_left == 0) r->mode = MODE_COMMANDS;
            } else if (off != n) {
                abort(); /* no pause: everything is consumed */
            }
            break;
        }
        case MODE_DATA:
            off += skip_data(r, piece + off, n - off);
            if (r->mode == MODE_COMMANDS) LOG(&r->log, "data end at=%llu\n", (ull)(pos + off));
            break;
        case MODE_CHUNK: {
            size_t k = n - off;
            if (k > r->chunk_left) k = (size_t)r->chunk_left;
            off += k;
            r->chunk_left -= k;
            if (r->chunk_left == 0) {
                r->mode = MODE_COMMANDS;
                LOG(&r->log, "chunk end at=%llu\n", (ull)(pos + off));
            }
            break;
        }
        case MODE_STOPPED: return 1; /* bytes after STARTTLS: never read as commands */
        }
    }
    return 1;
}

static void run(const uint8_t *data, size_t size, const uint8_t *hdr, int split, struct run *r)
{
    memset(r, 0, sizeof *r);
    smtp_cmd_settings s;
    smtp_cmd_settings_init(&s);
    r->flags = hdr[1] & 0x0fu;
    r->pause_payload = (hdr[1] >> 4) & 1;
    r->pause_all = (hdr[1] >> 5) & 1;
    r->sasl_lines = hdr[1] >> 6;
    s.flags = r->flags;
    s.max_line = (hdr[2] & 0x80) ? 512 : 8 + 4 * (size_t)(hdr[2] & 0x7f);
    s.max_auth_line = (hdr[3] & 0x80) ? 12288 : 8 + 8 * (size_t)(hdr[3] & 0x7f);
    r->max_line = s.max_line;
    r->max_auth_line = s.max_auth_line;
    r->fail_at = hdr[4];
    r->whole = !split;
    smtp_cmd_callbacks cb = {on_command, on_sasl};
    if (smtp_cmd_parser_new(&r->parser, &cb, &s, NULL, r) != 0) abort();
    uint32_t seed = hdr[0];
    static const uint32_t spans[4] = {2, 7, 31, 257};
    uint32_t span = spans[seed & 3];
    uint64_t pos = 0;
    int going = 1;
    while (going && pos < size) {
        size_t n = split ? 1 + next_rand(&seed) % span : size - (size_t)pos;
        if (n > size - pos) n = size - (size_t)pos;
        /* a fresh copy per piece, so reading past the piece is an ASan error */
        char *piece = malloc(n);
        if (!piece) abort();
        memcpy(piece, data + pos, n);
        going = feed_piece(r, piece, n, pos);
        free(piece);
        pos += n;
    }
    if (going && smtp_cmd_parser_read(r->parser, NULL, 0) != 0) abort();
    LOG(&r->log, "end mode=%d calls=%u\n", (int)r->mode, r->calls);
    smtp_cmd_parser_del(r->parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    struct run whole, split;
    run(data + HEADER, size - HEADER, data, 0, &whole);
    run(data + HEADER, size - HEADER, data, 1, &split);
    if (whole.log.len != split.log.len || memcmp(whole.log.buf, split.log.buf, whole.log.len)) {
        log_dump("whole", &whole.log);
        log_dump("split", &split.log);
        abort();
    }
    free(whole.log.buf);
    free(split.log.buf);
    return 0;
}
