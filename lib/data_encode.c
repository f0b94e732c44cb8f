/* SPDX-License-Identifier: MIT */
/*
 * The DATA stuffing encoder (client side), RFC 5321 4.5.2, and its BDAT variants (RFC 3030).
 *
 * How it works. Inside a line the encoder finds the next CR or LF (scan.h: one pass) and copies the
 * run of plain bytes (with its CRLF when both fit) in one memcpy. It stops at:
 *  - a line start ('.' is doubled in DOT mode);
 *  - a bare LF (written as CRLF);
 *  - a CR: CRLF is copied as is; any other CR is written at once and the encoder remembers it
 *    (state CR), so the next byte — in this call or the next — decides: LF completes the CRLF,
 *    anything else gets an LF inserted first (a bare CR becomes CRLF).
 * Output is written in indivisible units of at most 2 bytes, so a full output buffer stops the
 * encoder between units and the caller resumes with the unconsumed input: the encoded stream
 * is the same for any chunking of the input and any output buffer size.
 *
 * Worst case: each input byte may become two output bytes ("." -> "..", LF -> CRLF) and a CR
 * held from the previous call may need its LF first, hence 2n + 1 (SMTP_DATA_ENCODE_BOUND).
 */
#include "scan.h"

#include <smtp/data.h>

#include <string.h>

enum {
    EN_LINE_START, /* at the start of a line (also the start of the body) */
    EN_MID,        /* inside a line */
    EN_CR,         /* a CR was written; an LF must follow it */
    EN_DONE        /* finished */
};

void smtp_data_encoder_init(smtp_data_encoder *enc, smtp_data_encode_mode mode)
{
    if (!enc) return;
    enc->state_ = EN_LINE_START;
    switch (mode) {
    case SMTP_DATA_ENCODE_CRLF:
    case SMTP_DATA_ENCODE_RAW: enc->mode_ = (unsigned char)mode; break;
    case SMTP_DATA_ENCODE_DOT:
    default: enc->mode_ = SMTP_DATA_ENCODE_DOT; break;
    }
}

size_t smtp_data_encode_bound(size_t in_len)
{
    return SMTP_DATA_ENCODE_BOUND(in_len);
}

/* The output cursor of one call. */
struct outbuf {
    char *o;
    char *end;
};

static size_t room(const struct outbuf *b)
{
    return (size_t)(b->end - b->o);
}

static void put(struct outbuf *b, const char *s, size_t n)
{
    memcpy(b->o, s, n);
    b->o += n;
}

#if defined(SMTP_SCAN_SSE2)
/*
 * The common case, 64 octets at a time: blocks of plain lines, which go out as they are. In a
 * plain block every CR and LF is a CRLF pair within the block (no bare CR or LF, no CR at its
 * end whose LF would be in the next one) and, when stuffing, no line starts with '.' (the
 * octet after each CRLF is checked, the one past the block too: 66 octets must be at hand).
 * Returns the end of the run of plain blocks from p that fit in `room`: p itself when the
 * first is not plain. `p` never follows a CR and is never a line start with '.' to stuff.
 */
static const char *plain_blocks(const char *p, const char *end, size_t room, int stuff)
{
    const char *start = p;
    while (end - p > 65 && (size_t)(p - start) + 64 <= room) {
        for (uint64_t m = smtp_scan_ctl8_mask64(p); m; m &= m - 1) {
            unsigned i = (unsigned)__builtin_ctzll(m);
            if (p[i] == '\n') return p; /* a bare LF */
            if (p[i] != '\r') continue; /* TAB, FF...: content */
            if (i == 63 || p[i + 1] != '\n' || (stuff && p[i + 2] == '.')) return p;
            m &= m - 1; /* its LF */
        }
        p += 64;
    }
    return p;
}
#endif

/* Encodes with line-end normalization (and stuffing in DOT mode) until input or room ends. */
static const char *encode_lines(smtp_data_encoder *e, const char *p, const char *end,
                                struct outbuf *b)
{
    const int stuff = e->mode_ == SMTP_DATA_ENCODE_DOT;
    smtp_scan_window w = SMTP_SCAN_WINDOW_INIT;
#if defined(SMTP_SCAN_SSE2)
    /* Where plain blocks may be tried again: past a block found not plain, which the loop
     * below takes line by line. */
    const char *retry = smtp_scan_portable ? end : p;
#endif
    while (p < end) {
        if (e->state_ == EN_CR) {
            if (room(b) < 1) break;
            put(b, "\n", 1);
            e->state_ = EN_LINE_START;
            if (*p == '\n') p++; /* the CRLF is complete */
            continue;            /* else the LF made a bare CR into CRLF; *p starts the new line */
        }
        if (e->state_ == EN_LINE_START && stuff && *p == '.') {
            if (room(b) < 2) break;
            put(b, "..", 2);
            p++;
            e->state_ = EN_MID;
            continue;
        }
#if defined(SMTP_SCAN_SSE2)
        if (p >= retry) {
            const char *q = plain_blocks(p, end, room(b), stuff);
            retry = q + 64;
            if (q > p) {
                put(b, p, (size_t)(q - p));
                e->state_ = q[-1] == '\n' ? EN_LINE_START : EN_MID;
                p = q;
                continue;
            }
        }
#endif
        const char *stop = smtp_scan_eol_w(&w, p, end); /* the next CR or LF */
        size_t run = (size_t)(stop - p);
        if (stop + 1 < end && stop[0] == '\r' && stop[1] == '\n' && run + 2 <= room(b)) {
            /* The common case: the rest of a CRLF line in one copy. */
            put(b, p, run + 2);
            p = stop + 2;
            e->state_ = EN_LINE_START;
            continue;
        }
        if (run > 0) {
            size_t n = run < room(b) ? run : room(b);
            if (n == 0) break;
            put(b, p, n);
            p += n;
            e->state_ = EN_MID;
            if (n < run) break;
        }
        if (p == end) break;
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            if (room(b) < 2) break;
            put(b, "\r\n", 2);
            p += 2;
            e->state_ = EN_LINE_START;
        } else if (*p == '\r') {
            if (room(b) < 1) break;
            put(b, "\r", 1);
            p++;
            e->state_ = EN_CR;
        } else { /* a bare LF */
            if (room(b) < 2) break;
            put(b, "\r\n", 2);
            p++;
            e->state_ = EN_LINE_START;
        }
    }
    return p;
}

int smtp_data_encode(smtp_data_encoder *enc, const char *in, size_t in_len, char *out,
                     size_t out_cap, size_t *consumed, size_t *produced)
{
    if (consumed) *consumed = 0;
    if (produced) *produced = 0;
    if (!enc || !consumed || !produced || (!in && in_len) || (!out && out_cap))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (enc->state_ == EN_DONE) return SMTP_ERR_INVALID_STATE;
    if (in_len == 0) return 0;
    char none;
    if (!out) out = &none; /* out_cap is 0: never written */
    struct outbuf b = {out, out + out_cap};
    const char *p;
    if (enc->mode_ == SMTP_DATA_ENCODE_RAW) {
        size_t n = in_len < out_cap ? in_len : out_cap;
        if (n) put(&b, in, n);
        p = in + n;
    } else {
        p = encode_lines(enc, in, in + in_len, &b);
    }
    *consumed = (size_t)(p - in);
    *produced = (size_t)(b.o - out);
    if (*consumed == 0 && *produced == 0) return SMTP_ERR_NOBUF;
    return 0;
}

int smtp_data_encode_finish(smtp_data_encoder *enc, char *out, size_t out_cap, size_t *produced)
{
    if (produced) *produced = 0;
    if (!enc || !produced || (!out && out_cap)) return SMTP_ERR_INVALID_ARGUMENT;
    if (enc->state_ == EN_DONE) return SMTP_ERR_INVALID_STATE;
    const char *tail = "";
    if (enc->mode_ == SMTP_DATA_ENCODE_DOT) {
        /* Exactly one CRLF.CRLF; its first CRLF ends the last line (RFC 5321 4.1.1.4). */
        if (enc->state_ == EN_LINE_START)
            tail = ".\r\n";
        else if (enc->state_ == EN_CR)
            tail = "\n.\r\n";
        else
            tail = "\r\n.\r\n";
    } else if (enc->mode_ == SMTP_DATA_ENCODE_CRLF && enc->state_ == EN_CR) {
        tail = "\n";
    }
    size_t n = strlen(tail);
    if (n > out_cap) return SMTP_ERR_NOBUF;
    if (n) memcpy(out, tail, n);
    *produced = n;
    enc->state_ = EN_DONE;
    return 0;
}
