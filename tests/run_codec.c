/* SPDX-License-Identifier: MIT */
/*
 * The "codec" vector runner: the input is the bytes to encode, decode or check. The codecs
 * are stateless, so the runner buffers what it is fed and runs at close.
 *
 * Options (one codec): xtext-encode xtext-decode utf8addr-encode utf8addr-decode b64-encode
 * b64-decode utf8-check; "unitext" sets SMTP_UTF8ADDR_UNITEXT; "cap=N" gives the codec an
 * N-byte buffer instead of one of the exact size.
 * Events:
 *   len N                 what the *_len function says (or: len error SMTP_ERR_...)
 *   out "escaped bytes"   the output, which must have exactly that length
 *   error SMTP_ERR_...    the codec's error; for NOBUF "untouched" says nothing was written
 *   valid / error SMTP_ERR_UTF8 at=N   for utf8-check
 */
#include "vec.h"

#include <smtp/codec.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum codec_op { XT_ENC, XT_DEC, UA_ENC, UA_DEC, B64_ENC, B64_DEC, UTF8_CHECK };

typedef struct codec_state {
    enum codec_op op;
    unsigned flags;
    long cap; /* -1: exact */
    char *buf;
    size_t len;
} codec_state;

static void *codec_open(const char *options, vec_log *log)
{
    (void)log;
    static const char *const names[] = {"xtext-encode",    "xtext-decode", "utf8addr-encode",
                                        "utf8addr-decode", "b64-encode",   "b64-decode",
                                        "utf8-check"};
    int op = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (vec_opt_has(options, names[i])) op = i;
    }
    if (op < 0) return NULL;
    codec_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->op = (enum codec_op)op;
    st->flags = vec_opt_has(options, "unitext") ? SMTP_UTF8ADDR_UNITEXT : 0;
    st->cap = strstr(options, "cap=") ? (long)vec_opt_num(options, "cap", 0) : -1;
    return st;
}

static void codec_feed(void *state, const char *data, size_t len, vec_log *log)
{
    (void)log;
    codec_state *st = state;
    char *nb = realloc(st->buf, st->len + len + 1);
    if (!nb) abort();
    st->buf = nb;
    memcpy(st->buf + st->len, data, len);
    st->len += len;
}

static smtp_ssize codec_len(const codec_state *st, const char *in)
{
    switch (st->op) {
    case XT_ENC: return smtp_xtext_encoded_len(in, st->len);
    case XT_DEC: return smtp_xtext_decoded_len(in, st->len);
    case UA_ENC: return smtp_utf8addr_encoded_len(in, st->len, st->flags);
    case UA_DEC: return smtp_utf8addr_decoded_len(in, st->len, st->flags);
    case B64_ENC: return smtp_base64_encoded_len(st->len);
    case B64_DEC: return smtp_base64_decoded_len(in, st->len);
    case UTF8_CHECK: break;
    }
    return 0;
}

static smtp_ssize codec_run(const codec_state *st, const char *in, char *out, size_t cap)
{
    switch (st->op) {
    case XT_ENC: return smtp_xtext_encode(in, st->len, out, cap);
    case XT_DEC: return smtp_xtext_decode(in, st->len, out, cap);
    case UA_ENC: return smtp_utf8addr_encode(in, st->len, st->flags, out, cap);
    case UA_DEC: return smtp_utf8addr_decode(in, st->len, st->flags, out, cap);
    case B64_ENC: return smtp_base64_encode(in, st->len, out, cap);
    case B64_DEC: return smtp_base64_decode(in, st->len, out, cap);
    case UTF8_CHECK: break;
    }
    return 0;
}

static void codec_close(void *state, vec_log *log)
{
    codec_state *st = state;
    /* An exact-size heap copy of the input, so that a read past its end is caught. */
    char *in = malloc(st->len ? st->len : 1);
    if (!in) abort();
    if (st->len) memcpy(in, st->buf, st->len);
    if (st->op == UTF8_CHECK) {
        size_t at = 0;
        int rc = smtp_utf8_check(in, st->len, &at);
        if (rc < 0)
            vec_logf(log, "error %s at=%zu", smtp_error_name(rc), at);
        else
            vec_logf(log, "valid");
    } else {
        smtp_ssize need = codec_len(st, in);
        if (need < 0)
            vec_logf(log, "len error %s", smtp_error_name((int)need));
        else
            vec_logf(log, "len %td", need);
        size_t cap = st->cap >= 0 ? (size_t)st->cap : (need > 0 ? (size_t)need : 0);
        char *out = malloc(cap ? cap : 1);
        if (!out) abort();
        memset(out, '#', cap);
        smtp_ssize got = codec_run(st, in, cap ? out : NULL, cap);
        if (got >= 0) {
            vec_log_raw(log, "out \"", 5);
            vec_log_escaped(log, out, (size_t)got);
            vec_logf(log, "\"%s", got == need ? "" : " (length differs from len)");
        } else {
            size_t k = 0;
            while (k < cap && out[k] == '#')
                k++;
            vec_logf(log, "error %s%s", smtp_error_name((int)got), k == cap ? " untouched" : "");
        }
        free(out);
    }
    free(in);
    free(st->buf);
    free(st);
}

const vec_runner vec_runner_codec = {"codec", NULL, codec_open, codec_feed, codec_close};
