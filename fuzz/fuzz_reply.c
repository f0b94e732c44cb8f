/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the reply parser.
 *
 * Checked here: no crash, no over-read (ASan), no undefined behaviour (UBSan), and split
 * invariance — the input fed whole and fed in pieces whose sizes come from the input's first
 * bytes give the same event log (every line's code, flags and text, and the final error).
 * Input layout: byte 0 = piece-size seed, byte 1 = max_line selector, the rest = server output.
 */
#include <smtp/reply.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct digest {
    uint64_t h;
    size_t lines;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ull; /* FNV-1a */
}

static int on_line(smtp_reply_parser *parser, const smtp_reply_line *l, void *user_data)
{
    (void)parser;
    struct digest *d = user_data;
    int head[3] = {l->code, l->last, (int)l->index};
    mix(d, head, sizeof head);
    mix(d, l->text.ptr, l->text.len);
    mix(d, &l->enhanced.len, sizeof l->enhanced.len);
    /* the spans lie inside the text */
    if (l->enhanced.len && l->enhanced.ptr != l->text.ptr) abort();
    if (l->message.ptr + l->message.len != l->text.ptr + l->text.len) abort();
    d->lines++;
    return 0;
}

static void run(const uint8_t *data, size_t size, size_t max_line, unsigned seed, int split,
                struct digest *d)
{
    smtp_reply_settings s;
    smtp_reply_settings_init(&s);
    s.max_line = max_line;
    s.max_lines = 50;
    smtp_reply_callbacks cb = {on_line};
    smtp_reply_parser *p;
    if (smtp_reply_parser_new(&p, &cb, &s, NULL, d) != 0) abort();
    size_t pos = 0;
    smtp_ssize rv = 0;
    while (pos < size) {
        size_t n = split ? 1 + (seed = seed * 1103515245u + 12345u) % 17 : size - pos;
        if (n > size - pos) n = size - pos;
        /* a fresh copy per piece, so reading past the piece is an ASan error */
        char *piece = malloc(n);
        memcpy(piece, data + pos, n);
        rv = smtp_reply_parser_read(p, piece, n);
        free(piece);
        if (rv < 0) break;
        if ((size_t)rv != n) abort(); /* no pause requested: everything is consumed */
        pos += n;
    }
    int end[2] = {rv < 0 ? (int)rv : 0, smtp_reply_parser_idle(p)};
    mix(d, end, sizeof end);
    smtp_reply_parser_del(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned seed = data[0];
    size_t max_line = 6 + (size_t)data[1] * 4;
    struct digest whole = {1469598103934665603ull, 0}, split = whole;
    run(data + 2, size - 2, max_line, seed, 0, &whole);
    run(data + 2, size - 2, max_line, seed, 1, &split);
    if (whole.h != split.h || whole.lines != split.lines) abort();
    return 0;
}
