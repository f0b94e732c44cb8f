/* SPDX-License-Identifier: MIT */
/*
 * Vector runner "reply": feeds server output to smtp_reply_parser and logs
 *   line CODE -|last idx=N text="..." [enh=X.Y.Z msg="..."]
 *   error SMTP_ERR_...            (once; the parser stays failed)
 *   eof idle|partial               (at close: smtp_reply_parser_idle)
 * Options: max_line=N max_lines=N, pause (on_line pauses after each final line; the runner
 * then feeds the rest, so the events must not change).
 */
#include "vec.h"

#include <smtp/reply.h>

#include <stdio.h>
#include <stdlib.h>

struct rstate {
    smtp_reply_parser *p;
    vec_log *log;
    int pause;
    int failed;
};

static int on_line(smtp_reply_parser *parser, const smtp_reply_line *line, void *user_data)
{
    (void)parser;
    struct rstate *st = user_data;
    vec_log *log = st->log;
    char head[64];
    int n = snprintf(head, sizeof head, "line %d %s idx=%zu text=\"", line->code,
                     line->last ? "last" : "-", line->index);
    vec_log_raw(log, head, (size_t)n);
    vec_log_escaped(log, line->text.ptr, line->text.len);
    vec_log_raw(log, "\"", 1);
    if (line->enhanced.len) {
        vec_log_raw(log, " enh=", 5);
        vec_log_escaped(log, line->enhanced.ptr, line->enhanced.len);
        vec_log_raw(log, " msg=\"", 6);
        vec_log_escaped(log, line->message.ptr, line->message.len);
        vec_log_raw(log, "\"", 1);
    }
    vec_log_raw(log, "\n", 1);
    return st->pause && line->last ? SMTP_PAUSE : 0;
}

static void *open_reply(const char *options, vec_log *log)
{
    struct rstate *st = calloc(1, sizeof *st);
    smtp_reply_settings s;
    smtp_reply_settings_init(&s);
    s.max_line = vec_opt_num(options, "max_line", s.max_line);
    s.max_lines = vec_opt_num(options, "max_lines", s.max_lines);
    st->pause = vec_opt_has(options, "pause");
    st->log = log;
    smtp_reply_callbacks cb = {.on_line = on_line};
    if (smtp_reply_parser_new(&st->p, &cb, &s, NULL, st) != 0) {
        free(st);
        return NULL;
    }
    return st;
}

static void feed_reply(void *state, const char *data, size_t len, vec_log *log)
{
    struct rstate *st = state;
    st->log = log;
    while (!st->failed) {
        smtp_ssize n = smtp_reply_parser_read(st->p, data, len);
        if (n < 0) {
            vec_logf(log, "error %s", smtp_error_name((int)n));
            st->failed = 1;
            return;
        }
        data += n;
        len -= (size_t)n;
        if (len == 0) return;
    }
}

static void close_reply(void *state, vec_log *log)
{
    struct rstate *st = state;
    if (!st->failed) vec_logf(log, "eof %s", smtp_reply_parser_idle(st->p) ? "idle" : "partial");
    smtp_reply_parser_del(st->p);
    free(st);
}

const vec_runner vec_runner_reply = {"reply", "2", open_reply, feed_reply, close_reply};
