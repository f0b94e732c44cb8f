/* SPDX-License-Identifier: MIT */
/*
 * Vector runner "command": feeds the input to an smtp_cmd_parser and logs every command, SASL
 * response and error, one per line.
 *
 * Options:
 *   lf, strict-space, no-brackets, empty-helo   the SMTP_CMD_* flags
 *   max=N, auth-max=N                           smtp_cmd_settings limits
 *   pause      act like a server engine: pause after a valid DATA, BDAT or STARTTLS and log
 *              "pause at=OFFSET" (stream offset after the line); then read DATA payload up to
 *              CRLF.CRLF ("data end at=OFFSET"), BDAT payload of chunk-size octets
 *              ("chunk ..."), or nothing more after STARTTLS (close logs how many octets
 *              followed it: bytes pipelined over the TLS boundary)
 *   pause-all  pause after every line and resume at once (logs "pause at=OFFSET")
 *   sasl=N     after a valid AUTH, read up to N lines as SASL responses (a "*" ends early)
 *   fail=K     the K-th callback call fails (returns -1)
 * Events:
 *   VERB [name="as sent"] fields...            a valid command
 *   error=KIND verb=VERB reply=CODE X.Y.Z text="..." line="..."
 *   sasl line="..." | sasl cancel | sasl error=KIND reply=... line="..."
 *   read error=SMTP_ERR_...                    smtp_cmd_parser_read failed (logged once)
 */
#include "vec.h"

#include <smtp/command.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { MODE_COMMANDS, MODE_DATA, MODE_CHUNK, MODE_STOPPED };

struct state {
    smtp_cmd_parser *parser;
    vec_log *log;
    int pause, pause_all;
    unsigned long sasl_lines, sasl_left;
    unsigned long fail_at, calls;
    int failed;
    int paused;     /* set by a callback that returned SMTP_PAUSE */
    enum mode next; /* the mode to enter after the pause */
    enum mode mode;
    size_t offset;   /* stream octets consumed so far */
    unsigned dmatch; /* octets of "\r\n.\r\n" matched in MODE_DATA */
    uint64_t chunk_left;
    size_t after_tls;
    vec_log chunk; /* chunk payload collected in MODE_CHUNK */
};

/* Logs ` key="bytes"`, abbreviated past 80 octets so that limit vectors stay readable. */
static void log_span(vec_log *log, const char *key, smtp_span s)
{
    vec_log_raw(log, " ", 1);
    vec_log_raw(log, key, strlen(key));
    vec_log_raw(log, "=\"", 2);
    if (s.len > 80) {
        char tail[48];
        vec_log_escaped(log, s.ptr, 40);
        snprintf(tail, sizeof tail, "\"...(%zu octets)", s.len);
        vec_log_raw(log, tail, strlen(tail));
        return;
    }
    vec_log_escaped(log, s.ptr, s.len);
    vec_log_raw(log, "\"", 1);
}

static void log_error(vec_log *log, const char *what, smtp_cmd_error err, smtp_verb verb,
                      smtp_span line)
{
    const char *enhanced = NULL, *text = NULL;
    int code = smtp_cmd_error_reply(err, verb, &enhanced, &text);
    char head[160];
    snprintf(head, sizeof head, "%serror=%s verb=%s reply=%d %s text=\"%s\"", what,
             smtp_cmd_error_name(err), smtp_verb_name(verb), code, enhanced ? enhanced : "-",
             text ? text : "");
    vec_log_raw(log, head, strlen(head));
    log_span(log, "line", line);
    vec_logf(log, "%s", "");
}

static int callback_result(struct state *st)
{
    st->calls++;
    if (st->fail_at && st->calls == st->fail_at) return -1;
    if (st->pause_all) {
        st->paused = 1;
        st->next = MODE_COMMANDS;
        return SMTP_PAUSE;
    }
    return 0;
}

static void log_command(vec_log *log, const smtp_cmd *c)
{
    const char *name = smtp_verb_name(c->verb);
    vec_log_raw(log, name, strlen(name));
    if (c->name.len != strlen(name) || memcmp(c->name.ptr, name, c->name.len) != 0)
        log_span(log, "name", c->name);
    switch (c->verb) {
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
    case SMTP_VERB_LHLO: log_span(log, "domain", c->domain); break;
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT:
        log_span(log, "path", c->path);
        log_span(log, "params", c->params);
        break;
    case SMTP_VERB_BDAT: {
        char buf[64];
        snprintf(buf, sizeof buf, " size=%llu last=%d", (unsigned long long)c->chunk_size, c->last);
        vec_log_raw(log, buf, strlen(buf));
        break;
    }
    case SMTP_VERB_AUTH:
        log_span(log, "mech", c->mechanism);
        if (c->initial_response.len) log_span(log, "ir", c->initial_response);
        break;
    default:
        if (c->arg.len) log_span(log, "arg", c->arg);
        break;
    }
    vec_logf(log, "%s", "");
}

static int on_command(smtp_cmd_parser *parser, const smtp_cmd *c, void *user_data)
{
    (void)parser;
    struct state *st = user_data;
    if (c->error != SMTP_CMD_OK) {
        log_error(st->log, "", c->error, c->verb, c->line);
        return callback_result(st);
    }
    log_command(st->log, c);
    if (c->verb == SMTP_VERB_AUTH && st->sasl_lines) {
        st->sasl_left = st->sasl_lines;
        smtp_cmd_parser_expect_sasl(st->parser);
    }
    int rv = callback_result(st);
    if (rv < 0 || !st->pause) return rv;
    switch (c->verb) {
    case SMTP_VERB_DATA:
        st->next = MODE_DATA;
        st->dmatch = 2; /* the DATA line's CRLF starts the terminator */
        break;
    case SMTP_VERB_BDAT:
        st->next = MODE_CHUNK;
        st->chunk_left = c->chunk_size;
        break;
    case SMTP_VERB_STARTTLS: st->next = MODE_STOPPED; break;
    default: return rv;
    }
    st->paused = 1;
    return SMTP_PAUSE;
}

static int on_sasl_response(smtp_cmd_parser *parser, const smtp_sasl_response *r, void *user_data)
{
    (void)parser;
    struct state *st = user_data;
    if (r->error != SMTP_CMD_OK) {
        log_error(st->log, "sasl ", r->error, SMTP_VERB_AUTH, r->line);
    } else if (r->cancelled) {
        vec_logf(st->log, "sasl cancel");
    } else {
        vec_log_raw(st->log, "sasl", 4);
        log_span(st->log, "line", r->line);
        vec_logf(st->log, "%s", "");
    }
    if (r->error == SMTP_CMD_OK && !r->cancelled && --st->sasl_left > 0)
        smtp_cmd_parser_expect_sasl(st->parser);
    return callback_result(st);
}

static void *cmd_open(const char *options, vec_log *log)
{
    static const char *const known[] = {
        "lf",        "strict-space", "no-brackets", "empty-helo", "pause",
        "pause-all", "max=",         "auth-max=",   "sasl=",      "fail="};
    if (!vec_opt_check(options, known, sizeof known / sizeof known[0])) return NULL;
    struct state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->log = log;
    smtp_cmd_settings s;
    smtp_cmd_settings_init(&s);
    s.max_line = vec_opt_num(options, "max", s.max_line);
    s.max_auth_line = vec_opt_num(options, "auth-max", s.max_auth_line);
    s.flags |= vec_opt_has(options, "lf") ? SMTP_CMD_LENIENT_BARE_LF : 0;
    s.flags |= vec_opt_has(options, "strict-space") ? SMTP_CMD_STRICT_PATH_SPACE : 0;
    s.flags |= vec_opt_has(options, "no-brackets") ? SMTP_CMD_LENIENT_PATH_BRACKETS : 0;
    s.flags |= vec_opt_has(options, "empty-helo") ? SMTP_CMD_LENIENT_EMPTY_HELO : 0;
    st->pause = vec_opt_has(options, "pause");
    st->pause_all = vec_opt_has(options, "pause-all");
    st->sasl_lines = vec_opt_num(options, "sasl", 0);
    st->fail_at = vec_opt_num(options, "fail", 0);
    smtp_cmd_callbacks cb = {on_command, on_sasl_response};
    if (smtp_cmd_parser_new(&st->parser, &cb, &s, NULL, st) != 0) {
        free(st);
        return NULL;
    }
    return st;
}

/* MODE_DATA: consumes payload up to and including CRLF.CRLF. */
static size_t feed_data(struct state *st, const char *data, size_t len)
{
    static const char end[] = "\r\n.\r\n";
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == end[st->dmatch])
            st->dmatch++;
        else
            st->dmatch = c == '\r' ? 1 : 0;
        if (st->dmatch == 5) {
            st->mode = MODE_COMMANDS;
            vec_logf(st->log, "data end at=%zu", st->offset + i + 1);
            return i + 1;
        }
    }
    return len;
}

/* MODE_CHUNK: consumes chunk_left octets of BDAT payload. */
static size_t feed_chunk(struct state *st, const char *data, size_t len)
{
    size_t n = st->chunk_left < len ? (size_t)st->chunk_left : len;
    vec_log_raw(&st->chunk, data, n);
    st->chunk_left -= n;
    if (st->chunk_left == 0) {
        vec_log_raw(st->log, "chunk", 5);
        smtp_span s = {st->chunk.buf ? st->chunk.buf : "", st->chunk.len};
        log_span(st->log, "data", s);
        vec_logf(st->log, "%s", "");
        st->chunk.len = 0;
        st->mode = MODE_COMMANDS;
    }
    return n;
}

static void cmd_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct state *st = state;
    st->log = log;
    while (len > 0 && !st->failed) {
        size_t n;
        switch (st->mode) {
        case MODE_DATA: n = feed_data(st, data, len); break;
        case MODE_CHUNK: n = feed_chunk(st, data, len); break;
        case MODE_STOPPED: st->after_tls += len; return;
        case MODE_COMMANDS:
        default: {
            smtp_ssize rv = smtp_cmd_parser_read(st->parser, data, len);
            if (rv < 0) {
                vec_logf(log, "read error=%s", smtp_error_name((int)rv));
                st->failed = 1;
                return;
            }
            n = (size_t)rv;
            if (st->paused) {
                st->paused = 0;
                vec_logf(log, "pause at=%zu", st->offset + n);
                st->mode = st->next;
            }
            break;
        }
        }
        st->offset += n;
        data += n;
        len -= n;
    }
}

static void cmd_close(void *state, vec_log *log)
{
    struct state *st = state;
    if (st->mode == MODE_STOPPED && st->after_tls)
        vec_logf(log, "after STARTTLS: %zu octets not consumed", st->after_tls);
    smtp_cmd_parser_del(st->parser);
    free(st->chunk.buf);
    free(st);
}

const vec_runner vec_runner_command = {"command", "NOOP", cmd_open, cmd_feed, cmd_close};
