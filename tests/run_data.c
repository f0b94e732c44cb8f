/* SPDX-License-Identifier: MIT */
/*
 * Vector runners for DATA transparency: "data_decode" (the server's unstuffing decoder) and
 * "data_encode" (the client's stuffing encoder).
 *
 * data_decode — options: "reject" (default), "normalize" or "allow" (the bare LF/CR policy).
 * The content is gathered across calls (its split into spans depends on the chunking) and
 * logged when the end of data is read, one event per content line:
 *   data "line\r\n"          (a line longer than 120 octets: data len=N)
 *   size=N                   (smtp_data_decoder_size)
 *   flags bare_lf bare_cr long_line reject   (or "flags none")
 *   end consumed=N           (bytes of the stream up to and including CRLF.CRLF)
 * At close: the same for an unfinished message ("incomplete consumed=N" instead of "end"), or
 * rest "..." for the bytes fed after the end (the next commands, never decoded).
 *
 * data_encode — options: "dot" (default), "crlf" or "raw" (the mode), out=N (the output
 * capacity of each call; 1 exercises SMTP_ERR_NOBUF, which the runner answers with a retry at
 * SMTP_DATA_ENCODE_MIN_OUT). At close it finishes the body and logs the output split after
 * each LF ("out \"...\"") and produced=N. Any broken contract is logged as "BUG ...".
 */
#include "vec.h"

#include <smtp/data.h>

#include <stdlib.h>
#include <string.h>

/* Growable byte buffers are vec_log (vec.h), filled with vec_log_raw. */

/* Logs `b` split after each LF, one event per piece. */
static void log_lines(vec_log *log, const char *tag, const vec_log *b)
{
    size_t i = 0;
    while (i < b->len) {
        const char *nl = memchr(b->buf + i, '\n', b->len - i);
        size_t n = nl ? (size_t)(nl - (b->buf + i)) + 1 : b->len - i;
        if (n > 120) {
            vec_logf(log, "%s len=%zu", tag, n);
        } else {
            vec_log_raw(log, tag, strlen(tag));
            vec_log_raw(log, " \"", 2);
            vec_log_escaped(log, b->buf + i, n);
            vec_logf(log, "\"");
        }
        i += n;
    }
}

/* ---- data_decode ---- */

struct dec_state {
    smtp_data_decoder dec;
    vec_log content;
    vec_log rest;
    unsigned long long consumed;
    int ended;
    int failed;
};

static void *dec_open(const char *options, vec_log *log)
{
    (void)log;
    smtp_data_policy policy = SMTP_DATA_BARE_REJECT;
    if (vec_opt_has(options, "normalize"))
        policy = SMTP_DATA_BARE_NORMALIZE;
    else if (vec_opt_has(options, "allow"))
        policy = SMTP_DATA_BARE_ALLOW;
    else if (options[0] && !vec_opt_has(options, "reject"))
        return NULL;
    struct dec_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    smtp_data_decoder_init(&s->dec, policy);
    return s;
}

static void dec_log_summary(struct dec_state *s, vec_log *log)
{
    log_lines(log, "data", &s->content);
    unsigned long long size = smtp_data_decoder_size(&s->dec);
    vec_logf(log, "size=%llu", size);
    if (size != s->content.len)
        vec_logf(log, "BUG size %llu != delivered %zu", size, s->content.len);
    unsigned f = smtp_data_decoder_flags(&s->dec);
    vec_log_raw(log, "flags", 5);
    if (!f) vec_log_raw(log, " none", 5);
    if (f & SMTP_DATA_FLAG_BARE_LF) vec_log_raw(log, " bare_lf", 8);
    if (f & SMTP_DATA_FLAG_BARE_CR) vec_log_raw(log, " bare_cr", 8);
    if (f & SMTP_DATA_FLAG_LONG_LINE) vec_log_raw(log, " long_line", 10);
    if (f & SMTP_DATA_FLAG_REJECT) vec_log_raw(log, " reject", 7);
    vec_logf(log, "%s", "");
}

static void dec_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct dec_state *s = state;
    if (s->ended || s->failed) {
        vec_log_raw(&s->rest, data, len);
        return;
    }
    for (;;) {
        smtp_span span = {NULL, 0};
        size_t used = 99;
        int r = smtp_data_decode(&s->dec, data, len, &span, &used);
        if (used > len) {
            vec_logf(log, "BUG consumed %zu of %zu", used, len);
            s->failed = 1;
            return;
        }
        data += used;
        len -= used;
        s->consumed += used;
        if (r == SMTP_DATA_CONTENT) {
            if (span.len == 0) vec_logf(log, "BUG empty span");
            vec_log_raw(&s->content, span.ptr, span.len);
            continue;
        }
        if (r == SMTP_DATA_NEED_INPUT) {
            if (len) vec_logf(log, "BUG need input with %zu bytes left", len);
            return;
        }
        if (r == SMTP_DATA_END) {
            s->ended = 1;
            dec_log_summary(s, log);
            vec_logf(log, "end consumed=%llu", s->consumed);
            vec_log_raw(&s->rest, data, len);
            return;
        }
        vec_logf(log, "error %d", r);
        s->failed = 1;
        return;
    }
}

static void dec_close(void *state, vec_log *log)
{
    struct dec_state *s = state;
    if (!s->ended && !s->failed) {
        dec_log_summary(s, log);
        vec_logf(log, "incomplete consumed=%llu", s->consumed);
    }
    if (s->ended) {
        smtp_span span;
        size_t used;
        if (smtp_data_decode(&s->dec, "x", 1, &span, &used) != SMTP_ERR_INVALID_STATE)
            vec_logf(log, "BUG decode after end");
        if (s->rest.len) {
            vec_log_raw(log, "rest \"", 6);
            vec_log_escaped(log, s->rest.buf, s->rest.len);
            vec_logf(log, "\"");
        }
    }
    free(s->content.buf);
    free(s->rest.buf);
    free(s);
}

const vec_runner vec_runner_data_decode = {
    "data_decode", "MAIL FROM:<a@example.org>\r\n", dec_open, dec_feed, dec_close,
};

/* ---- data_encode ---- */

struct enc_state {
    smtp_data_encoder enc;
    vec_log out;
    char *buf;
    size_t cap;
    int failed;
};

static void *enc_open(const char *options, vec_log *log)
{
    (void)log;
    smtp_data_encode_mode mode = SMTP_DATA_ENCODE_DOT;
    if (vec_opt_has(options, "crlf"))
        mode = SMTP_DATA_ENCODE_CRLF;
    else if (vec_opt_has(options, "raw"))
        mode = SMTP_DATA_ENCODE_RAW;
    struct enc_state *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->cap = (size_t)vec_opt_num(options, "out", 4096);
    s->buf = malloc(s->cap + SMTP_DATA_ENCODE_FINISH_MAX);
    if (!s->buf) abort();
    smtp_data_encoder_init(&s->enc, mode);
    return s;
}

static void enc_feed(void *state, const char *data, size_t len, vec_log *log)
{
    struct enc_state *s = state;
    while (len && !s->failed) {
        size_t used = 99, made = 99, cap = s->cap;
        int r = smtp_data_encode(&s->enc, data, len, s->buf, cap, &used, &made);
        if (r == SMTP_ERR_NOBUF) {
            if (used || made) vec_logf(log, "BUG nobuf with consumed=%zu produced=%zu", used, made);
            cap = SMTP_DATA_ENCODE_MIN_OUT;
            r = smtp_data_encode(&s->enc, data, len, s->buf, cap, &used, &made);
        }
        if (r != 0) {
            vec_logf(log, "BUG encode returned %d", r);
            s->failed = 1;
            return;
        }
        if (used > len || made > cap || made > smtp_data_encode_bound(used)) {
            vec_logf(log, "BUG consumed=%zu of %zu produced=%zu of %zu", used, len, made, cap);
            s->failed = 1;
            return;
        }
        vec_log_raw(&s->out, s->buf, made);
        data += used;
        len -= used;
    }
}

static void enc_close(void *state, vec_log *log)
{
    struct enc_state *s = state;
    if (!s->failed) {
        size_t made = 99;
        size_t cap = s->cap < SMTP_DATA_ENCODE_FINISH_MAX ? s->cap : SMTP_DATA_ENCODE_FINISH_MAX;
        int r = smtp_data_encode_finish(&s->enc, s->buf, cap, &made);
        if (r == SMTP_ERR_NOBUF)
            r = smtp_data_encode_finish(&s->enc, s->buf, SMTP_DATA_ENCODE_FINISH_MAX, &made);
        if (r != 0)
            vec_logf(log, "BUG finish returned %d", r);
        else
            vec_log_raw(&s->out, s->buf, made);
        size_t used;
        if (smtp_data_encode(&s->enc, "x", 1, s->buf, s->cap, &used, &made) !=
            SMTP_ERR_INVALID_STATE)
            vec_logf(log, "BUG encode after finish");
        log_lines(log, "out", &s->out);
        vec_logf(log, "produced=%zu", s->out.len);
    }
    free(s->out.buf);
    free(s->buf);
    free(s);
}

const vec_runner vec_runner_data_encode = {
    "data_encode", NULL, enc_open, enc_feed, enc_close,
};
