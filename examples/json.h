/* SPDX-License-Identifier: MIT */
/*
 * JSON output for smtp-sink's one line per accepted message (RFC 8259): a line is built in a
 * buffer by a hand-written escaper and leaves with one write(2), because the line is printed
 * for every message (before its 250) and stdio's per-character calls and fflush cost more
 * than the rest of a message's handling (BENCHMARKS.md).
 */
#ifndef EX_JSON_H
#define EX_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The buffer of a line: longer lines (thousands of recipients) leave in several writes. */
#define EX_JLINE_CAP 4096

/* A line being built for the descriptor `fd`. */
typedef struct ex_jline {
    int fd;
    size_t len;
    char buf[EX_JLINE_CAP];
} ex_jline;

/* ex_jline_init starts an empty line for `fd`. */
void ex_jline_init(ex_jline *j, int fd);

/* ex_jline_raw_slow is ex_jline_raw when the bytes do not fit: it flushes as it fills. */
void ex_jline_raw_slow(ex_jline *j, const char *s, size_t n);

/* ex_jline_raw appends `n` bytes as they are (JSON punctuation and keys). Inline, so that a
 * literal's copy is a few moves. */
static inline void ex_jline_raw(ex_jline *j, const char *s, size_t n)
{
    if (EX_JLINE_CAP - j->len >= n) {
        memcpy(j->buf + j->len, s, n);
        j->len += n;
    } else {
        ex_jline_raw_slow(j, s, n);
    }
}

/* ex_jline_lit appends a string literal (its size known at compile time). */
#define ex_jline_lit(j, lit) ex_jline_raw((j), (lit), sizeof(lit) - 1)

/*
 * ex_jline_string appends `len` arbitrary bytes at `s` as a JSON string with its quotes.
 * Valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) is copied; '"', '\\'
 * and control bytes are escaped (RFC 8259 7: "\n", "\r", "\t", else "\u00XX"); every byte that
 * is not part of valid UTF-8 is written as the code point of the same value ("\u00ff" for
 * 0xFF), so the output is always valid JSON in valid UTF-8, whatever a client sent.
 */
void ex_jline_string(ex_jline *j, const char *s, size_t len);

/* ex_jline_u64 appends `v` in decimal. */
void ex_jline_u64(ex_jline *j, uint64_t v);

/*
 * ex_jline_flush writes what the line holds to its descriptor (retrying after EINTR and short
 * writes, and waiting in poll(2) when a non-blocking descriptor is full) and empties it.
 * Returns 0, or -1 with errno set (the bytes are dropped).
 */
int ex_jline_flush(ex_jline *j);

/* ex_utf8_seq returns the length (1-4) of the valid UTF-8 sequence at s[0..len), or 0. */
size_t ex_utf8_seq(const unsigned char *s, size_t len);

#endif /* EX_JSON_H */
