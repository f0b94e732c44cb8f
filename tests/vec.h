/* SPDX-License-Identifier: MIT */
/*
 * The protocol-vector harness.
 *
 * A vector file (tests/vectors/<runner>/<name>.vec) holds cases in plain text:
 *
 *   # a comment: any physical line that starts with '#', in any section
 *   === name of the case
 *   options: words the runner understands (optional; "" when absent)
 *   trailing: bytes appended in the trailing pass (optional, escaped as input; overrides the
 *             runner's default; "trailing: none" disables the pass for this case)
 *   --- input
 *   250-first line\r\n
 *   250 last\r\n
 *   --- events
 *   one event per line, exactly as the runner logs it
 *
 * Input: physical newlines are ignored; every other byte is literal except the escapes
 * \r \n \t \0 \s (space) \\ and \xHH. So "\r\n" must be written, and a bare LF is just "\n".
 * Events: compared line by line; blank lines are ignored; trailing white space is trimmed.
 *
 * Each case is replayed four ways and every way must give the expected event log:
 *   1. whole: one feed of the whole input, then close;
 *   2. bytes: one feed per byte, then close;
 *   3. splits: for every split point i, feed [0,i) then [i,n), then close (and every pair of
 *      split points for inputs up to 160 bytes, unless SMTP_VEC_NO_PAIRS is set, as under
 *      valgrind; there SMTP_VEC_SPLIT_STRIDE=k also splits an input over 160 bytes only at
 *      every k-th point and the last, since a SCRAM exchange replayed at each of its hundreds
 *      of points is minutes of HMAC under valgrind; the other passes keep every point);
 *   4. trailing: the input then the trailing bytes; the log before close must equal the log of
 *      the whole pass before close (bytes that complete nothing must change nothing).
 */
#ifndef SMTP_TEST_VEC_H
#define SMTP_TEST_VEC_H

#include <stdarg.h>
#include <stddef.h>

typedef struct vec_log {
    char *buf;
    size_t len;
    size_t cap;
} vec_log;

/* Appends one formatted event line (a '\n' is added). */
void vec_logf(vec_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends raw text without a newline (build an event in parts, then vec_logf(log, "")). */
void vec_log_raw(vec_log *log, const char *s, size_t len);

/*
 * Appends bytes in the escaped input notation (printable ASCII as is except '\\' and '"',
 * \r \n \t \0 \xHH otherwise), without a newline. Use it to log spans: "text=\"...\"".
 */
void vec_log_escaped(vec_log *log, const char *data, size_t len);

/*
 * A runner binds one parser to the harness. The harness calls open once per replay, then feed
 * any number of times with consecutive pieces of the input, then close. A runner must log
 * every event, including errors (once an object fails, later feeds log nothing new unless the
 * object's contract says otherwise).
 */
typedef struct vec_runner {
    const char *name;     /* the directory name under tests/vectors */
    const char *trailing; /* default trailing bytes (raw, not escaped); NULL: no trailing pass */
    /* Returns the runner's state, or NULL when the options are not understood (test fails). */
    void *(*open)(const char *options, vec_log *log);
    void (*feed)(void *state, const char *data, size_t len, vec_log *log);
    /* End of input: log end-of-stream events, free the state. */
    void (*close)(void *state, vec_log *log);
} vec_runner;

/* The runners, one per file tests/run_<name>.c. */
extern const vec_runner vec_runner_reply;
extern const vec_runner vec_runner_command;
extern const vec_runner vec_runner_path;
extern const vec_runner vec_runner_params;
extern const vec_runner vec_runner_caps;
extern const vec_runner vec_runner_data_decode;
extern const vec_runner vec_runner_data_encode;
extern const vec_runner vec_runner_codec;
extern const vec_runner vec_runner_server;
extern const vec_runner vec_runner_client;
extern const vec_runner vec_runner_mtasts;

/*
 * Calls fn(word, len, ctx) for each space-separated word of `options`, in order; stops at and
 * returns the first non-zero result (0 when every call returned 0).
 */
int vec_opt_each(const char *options, int (*fn)(const char *word, size_t len, void *ctx),
                 void *ctx);
/*
 * Whether every word of `options` is one of the `n` known ones, so that a typo in a vector
 * cannot pass silently; a known entry ending in '=' accepts "key=anything". Prints the first
 * unknown word to stderr.
 */
int vec_opt_check(const char *options, const char *const *known, size_t n);
/* Helpers for runners' option strings: does `options` hold the word `word`? */
int vec_opt_has(const char *options, const char *word);
/* The unsigned value of "key=N" in `options`, or `dflt` when absent. */
unsigned long vec_opt_num(const char *options, const char *key, unsigned long dflt);

#endif
