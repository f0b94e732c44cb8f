/* SPDX-License-Identifier: MIT */
/*
 * The line framer (internal): cuts a byte stream into CRLF-terminated lines for the command
 * parser and, later, the server engine.
 *
 * A line that arrives whole inside one feed is handed out as a span into the caller's input
 * (zero copy); only a line split across feeds is copied, into one buffer of `max - 1` bytes
 * allocated once (never per line): at init, or with SMTP_LINE_ON_DEMAND when the first split
 * line must be kept (most peers send each line whole: their framer never allocates), then kept
 * until smtp_line_free. A line longer than the limit is reported once, as
 * SMTP_LINE_TOO_LONG, when its LF arrives; the bytes in between are discarded so the stream
 * stays in sync (DESIGN.md invariant 8).
 *
 * Line ends (RFC 5321 2.3.8): CRLF ends a line. An LF always ends a framed line too, so that a
 * peer's next line is read as a line; an LF without its CR is reported as SMTP_LINE_BARE_LF
 * unless SMTP_LINE_LENIENT_BARE_LF. A CR never ends a line: a CR that is not right before the
 * LF, or a NUL, anywhere in the line makes it SMTP_LINE_BARE_CR or SMTP_LINE_NUL (the first
 * such byte decides). There is no leniency for NUL: no SMTP command or SASL line can hold one,
 * and a NUL in text later handled as a C string is the classic truncation attack.
 */
#ifndef SMTP_LINE_H
#define SMTP_LINE_H

#include "internal.h"

/* Accept a bare LF as a line end (RFC 5321 2.3.8 forbids it; some old clients send it). */
#define SMTP_LINE_LENIENT_BARE_LF 0x1u
/*
 * Allocate the buffer when the first split line must be kept, not at init: smtp_line_next may
 * then report SMTP_LINE_NOMEM (smtp_line_reserve allocates it beforehand).
 */
#define SMTP_LINE_ON_DEMAND 0x2u

typedef enum smtp_line_status {
    SMTP_LINE_NONE = 0, /* no complete line: every byte given was consumed */
    SMTP_LINE_OK,       /* a well-formed line */
    SMTP_LINE_TOO_LONG, /* longer than max octets including CRLF; text is its first max-1 */
    SMTP_LINE_BARE_LF,  /* ended by an LF without CR */
    SMTP_LINE_BARE_CR,  /* holds a CR that is not part of the line end */
    SMTP_LINE_NUL,      /* holds a NUL byte */
    SMTP_LINE_NOMEM,    /* SMTP_LINE_ON_DEMAND: no buffer for a split line; nothing consumed */
} smtp_line_status;

typedef struct smtp_line {
    smtp_line_status status;
    /*
     * The line without its line end (for SMTP_LINE_TOO_LONG: its first max-1 bytes). Borrows
     * the caller's input or the framer's buffer: valid until the next call on the framer.
     */
    smtp_span text;
} smtp_line;

typedef struct smtp_line_framer {
    const smtp_mem *mem;
    char *buf;       /* max - 1 bytes: a split line's bytes before its LF (NULL: not yet) */
    size_t max;      /* the limit in octets, line end (2) included */
    size_t len;      /* bytes of the current partial line held in buf */
    unsigned flags;  /* SMTP_LINE_* */
    bool discarding; /* the current line overflowed: skipping to its LF */
} smtp_line_framer;

/*
 * smtp_line_init prepares `f` for lines of at most `max` octets including CRLF (max >= 3) under
 * `flags` (SMTP_LINE_*) and allocates its buffer through `mem` (not NULL), unless
 * SMTP_LINE_ON_DEMAND. Returns 0, SMTP_ERR_INVALID_ARGUMENT or SMTP_ERR_NOMEM (then nothing is
 * allocated).
 */
int smtp_line_init(smtp_line_framer *f, size_t max, unsigned flags, const smtp_mem *mem);

/* smtp_line_reserve allocates the buffer of `f` now if it is not yet: 0 or SMTP_ERR_NOMEM. */
int smtp_line_reserve(smtp_line_framer *f);

/* smtp_line_free releases the buffer of `f` (an initialised framer). */
void smtp_line_free(smtp_line_framer *f);

/*
 * smtp_line_next consumes bytes of `data` up to and including the first LF and reports the
 * line it completes in `*out`; without an LF it consumes everything and reports
 * SMTP_LINE_NONE. Returns the number of bytes consumed (> 0 when len > 0), except for
 * SMTP_LINE_NOMEM: 0, the framer unchanged (the caller fails or calls again later).
 */
size_t smtp_line_next(smtp_line_framer *f, const char *data, size_t len, smtp_line *out);

/*
 * smtp_line_scan returns the status of a complete line without its line end: SMTP_LINE_OK, or
 * SMTP_LINE_BARE_CR, SMTP_LINE_BARE_LF or SMTP_LINE_NUL for the first CR, LF or NUL in it.
 */
smtp_line_status smtp_line_scan(const char *p, size_t n);

#endif /* SMTP_LINE_H */
