/* SPDX-License-Identifier: MIT */
/*
 * bench_core: throughput of libsmtp's protocol core on realistic input.
 *
 *  - DATA decoder (unstuffing) and encoder (stuffing) in GB/s on mail made of ~78-octet lines,
 *    against memcpy of the same input buffer (issue #18's targets: decoder >= 50% of memcpy,
 *    encoder >= 40%, decoder with a copy of each span >= 35%). Each is measured in PAIRS pairs
 *    in a row, one run of memcpy and one of the coder (in turn first), and the figure is the
 *    median of the per-pair ratios with their spread: both halves of a pair see the same load
 *    on the machine, so the ratio holds where absolute speeds swing. The decoder is measured twice:
 * delivering spans only (zero copy, what an application that streams to a file descriptor pays; the
 * target applies to it) and copying every span into a destination buffer (what an application that
 * keeps the message pays: the decoder plus a memcpy, so below 1/(1/d + 1) of memcpy for a decoder
 * at d).
 *  - Command parsing (pipelined MAIL/RCPT/DATA/RSET groups) and reply parsing (multi-line EHLO
 *    replies and single-line replies), in lines per second.
 * Each figure is the best of several repetitions in a row, to be robust against a noisy machine
 * (memcpy's best is its speed with its buffers warm in the cache hierarchy). Wall
 * time comes from clock_gettime(CLOCK_MONOTONIC); this program is a benchmark, not part of the
 * library. Usage: bench_core [MiB]   (default 32)
 */
#define _POSIX_C_SOURCE 200809L
#include <smtp/smtp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 11
#define PAIRS 21

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink; /* keeps results alive */

/* Mail text: header-like and body-like lines of 60-90 octets, ~1 in 40 starting with '.'. */
static size_t make_body(char *buf, size_t size)
{
    static const char words[] = "the quick brown fox jumps over a lazy dog while mail flows "
                                "through relays and filters 0123456789 ";
    uint32_t x = 12345;
    size_t len = 0;
    while (len + 100 < size) {
        x = x * 1103515245u + 12345u;
        size_t line = 60 + (x >> 16) % 31;
        if ((x >> 8) % 40 == 0) buf[len++] = '.';
        for (size_t i = 0; i < line; i++)
            buf[len++] = words[(i + (x >> 20)) % (sizeof words - 1)];
        buf[len++] = '\r';
        buf[len++] = '\n';
    }
    return len;
}

static double best_of(double (*fn)(void *), void *arg)
{
    double best = 1e30;
    for (int i = 0; i < REPS; i++) {
        double t = fn(arg);
        if (t < best) best = t;
    }
    return best;
}

struct bufs {
    char *src;
    size_t src_len;
    char *dst;
    size_t dst_cap;
    char *enc; /* the stuffed stream with its terminator */
    size_t enc_len;
};

/* The time of one memcpy of src[0..len) into b->dst. */
static double timed_copy(struct bufs *b, const char *src, size_t len)
{
    double t = now();
    memcpy(b->dst, src, len);
    t = now() - t;
    sink += (size_t)b->dst[len / 2];
    return t;
}

static double run_memcpy(void *arg)
{
    struct bufs *b = arg;
    return timed_copy(b, b->src, b->src_len);
}

/* memcpy of the decoder's input: the stuffed stream. */
static double run_memcpy_enc(void *arg)
{
    struct bufs *b = arg;
    return timed_copy(b, b->enc, b->enc_len);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The ratio memcpy time / coder time over PAIRS pairs: median, lowest, highest; and the
 * coder's median time. */
struct paired {
    double median, lo, hi, t_coder;
};

static struct paired paired(double (*base)(void *), double (*coder)(void *), void *arg)
{
    double r[PAIRS], tc[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        double tb, t;
        if (i % 2) {
            t = coder(arg);
            tb = base(arg);
        } else {
            tb = base(arg);
            t = coder(arg);
        }
        r[i] = tb / t;
        tc[i] = t;
    }
    qsort(r, PAIRS, sizeof r[0], cmp_double);
    qsort(tc, PAIRS, sizeof tc[0], cmp_double);
    struct paired p = {r[PAIRS / 2], r[0], r[PAIRS - 1], tc[PAIRS / 2]};
    return p;
}

static void print_paired(const char *name, double gb, struct paired p, const char *target)
{
    char pct[64];
    snprintf(pct, sizeof pct, "%.0f%% [%.0f-%.0f%%]", 100 * p.median, 100 * p.lo, 100 * p.hi);
    printf("%-34s %10.2f %18s%s\n", name, gb / p.t_coder, pct, target);
}

static double run_encode(void *arg)
{
    struct bufs *b = arg;
    smtp_data_encoder enc;
    size_t used, made, total = 0;
    double t = now();
    smtp_data_encoder_init(&enc, SMTP_DATA_ENCODE_DOT);
    if (smtp_data_encode(&enc, b->src, b->src_len, b->dst, b->dst_cap, &used, &made) != 0 ||
        used != b->src_len)
        abort();
    total = made;
    if (smtp_data_encode_finish(&enc, b->dst + total, b->dst_cap - total, &made) != 0) abort();
    total += made;
    t = now() - t;
    sink += total;
    return t;
}

static double decode(struct bufs *b, int copy)
{
    smtp_data_decoder dec;
    smtp_data_decoder_init(&dec, SMTP_DATA_BARE_REJECT);
    size_t pos = 0, out = 0;
    double t = now();
    for (;;) {
        smtp_span s;
        size_t used;
        int ev = smtp_data_decode(&dec, b->enc + pos, b->enc_len - pos, &s, &used);
        pos += used;
        if (ev == SMTP_DATA_CONTENT) {
            if (copy) memcpy(b->dst + out, s.ptr, s.len);
            out += s.len;
        } else if (ev == SMTP_DATA_END) {
            break;
        } else {
            abort();
        }
    }
    t = now() - t;
    if (out != b->src_len || pos != b->enc_len) abort();
    sink += out;
    return t;
}

static double run_decode_spans(void *arg)
{
    return decode(arg, 0);
}

static double run_decode_copy(void *arg)
{
    return decode(arg, 1);
}

/* ---- command and reply parsing ---- */

struct text {
    char *buf;
    size_t len;
    size_t lines;
};

static int count_cmd(smtp_cmd_parser *parser, const smtp_cmd *cmd, void *ud)
{
    (void)parser;
    size_t *n = ud;
    (void)cmd;
    (*n)++;
    return 0;
}

static double run_commands(void *arg)
{
    struct text *tx = arg;
    size_t n = 0;
    smtp_cmd_parser *p;
    smtp_cmd_callbacks cb = {.on_command = count_cmd};
    if (smtp_cmd_parser_new(&p, &cb, NULL, NULL, &n) != 0) abort();
    double t = now();
    if (smtp_cmd_parser_read(p, tx->buf, tx->len) != (smtp_ssize)tx->len) abort();
    t = now() - t;
    smtp_cmd_parser_del(p);
    if (n != tx->lines) abort();
    return t;
}

static int count_line(smtp_reply_parser *parser, const smtp_reply_line *line, void *ud)
{
    (void)parser;
    size_t *n = ud;
    (void)line;
    (*n)++;
    return 0;
}

static double run_replies(void *arg)
{
    struct text *tx = arg;
    size_t n = 0;
    smtp_reply_parser *p;
    smtp_reply_callbacks cb = {.on_line = count_line};
    if (smtp_reply_parser_new(&p, &cb, NULL, NULL, &n) != 0) abort();
    double t = now();
    if (smtp_reply_parser_read(p, tx->buf, tx->len) != (smtp_ssize)tx->len) abort();
    t = now() - t;
    smtp_reply_parser_del(p);
    if (n != tx->lines) abort();
    return t;
}

static struct text repeat(const char *unit, size_t unit_lines, size_t times)
{
    struct text tx;
    size_t ul = strlen(unit);
    tx.len = ul * times;
    tx.buf = malloc(tx.len);
    if (!tx.buf) abort();
    for (size_t i = 0; i < times; i++)
        memcpy(tx.buf + i * ul, unit, ul);
    tx.lines = unit_lines * times;
    return tx;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 32;
    if (mib == 0) mib = 32;
    struct bufs b;
    size_t size = mib << 20;
    b.src = malloc(size);
    b.dst_cap = smtp_data_encode_bound(size) + SMTP_DATA_ENCODE_FINISH_MAX;
    b.dst = malloc(b.dst_cap);
    b.enc = malloc(b.dst_cap);
    if (!b.src || !b.dst || !b.enc) abort();
    b.src_len = make_body(b.src, size);
    memset(b.dst, 0, b.dst_cap); /* fault the pages in before timing */
    run_encode(&b);
    memcpy(b.enc, b.dst, b.dst_cap);
    smtp_data_encoder enc;
    size_t used, made, fin;
    smtp_data_encoder_init(&enc, SMTP_DATA_ENCODE_DOT);
    smtp_data_encode(&enc, b.src, b.src_len, b.enc, b.dst_cap, &used, &made);
    smtp_data_encode_finish(&enc, b.enc + made, b.dst_cap - made, &fin);
    b.enc_len = made + fin;

    double gb = (double)b.src_len / 1e9;
    double t_memcpy = best_of(run_memcpy, &b);
    struct paired dec = paired(run_memcpy_enc, run_decode_spans, &b);
    struct paired decc = paired(run_memcpy_enc, run_decode_copy, &b);
    struct paired encp = paired(run_memcpy, run_encode, &b);

    printf("libsmtp %s core benchmark: %.1f MiB of ~78-octet lines; coders against memcpy of "
           "their input in %d pairs: median [lowest-highest] of the per-pair ratios\n\n",
           smtp_lib_version(), (double)b.src_len / (1 << 20), PAIRS);
    printf("%-34s %10s %18s\n", "measurement", "GB/s", "% of memcpy");
    printf("%-34s %10.2f %18s\n", "memcpy (same buffer, best of 11)", gb / t_memcpy, "100");
    print_paired("DATA decoder, spans only", gb, dec, "   target >= 50%");
    print_paired("DATA decoder + copy of every span", gb, decc, "   target >= 35%");
    print_paired("DATA encoder (stuffing)", gb, encp, "   target >= 40%");

    struct text cmds = repeat("MAIL FROM:<alice@example.org> SIZE=12345 BODY=8BITMIME\r\n"
                              "RCPT TO:<bob@example.net>\r\n"
                              "RCPT TO:<carol@example.net> NOTIFY=SUCCESS,FAILURE\r\n"
                              "DATA\r\nRSET\r\nNOOP\r\n",
                              6, 200000);
    struct text reps =
        repeat("250-mx.example.org Hello client.example.com [192.0.2.1]\r\n"
               "250-PIPELINING\r\n250-SIZE 52428800\r\n250-ETRN\r\n"
               "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
               "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
               "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
               "250 2.0.0 Ok: queued as 4Xk1Lz3Cf2z9sTH\r\n",
               14, 100000);
    double t_cmd = best_of(run_commands, &cmds);
    double t_rep = best_of(run_replies, &reps);
    printf("\n%-34s %10s %14s\n", "measurement", "Mlines/s", "MB/s");
    printf("%-34s %10.2f %14.0f\n", "command parser (pipelined groups)",
           (double)cmds.lines / t_cmd / 1e6, (double)cmds.len / t_cmd / 1e6);
    printf("%-34s %10.2f %14.0f\n", "reply parser (EHLO + replies)",
           (double)reps.lines / t_rep / 1e6, (double)reps.len / t_rep / 1e6);
    free(cmds.buf);
    free(reps.buf);
    free(b.src);
    free(b.dst);
    free(b.enc);
    return 0;
}
