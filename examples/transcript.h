/* SPDX-License-Identifier: MIT */
/*
 * The -v protocol transcript: the bytes of each direction as lines prefixed "C: " (client) or
 * "S: " (server), the way RFC 5321's examples show a session. The data of a client's BDAT chunk
 * (RFC 3030: the octets after the "BDAT n" line) is not shown as lines, since a chunk may end
 * mid-line and the next command would look like part of the message: it is one summary line
 * "C: <n octets of BDAT data>" instead (several, adding up to n, when the server spoke or a note
 * came while the chunk was being sent). DATA content may be summarised the same way
 * (ex_transcript_summarize_data).
 */
#ifndef EX_TRANSCRIPT_H
#define EX_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ex_transcript {
    FILE *out;       /* NULL: record nothing */
    const char *tag; /* printed before the prefix ("" or "[3] " for session 3) */
    struct ex_transcript_side {
        int mid_line;   /* a line of this side was started and not ended */
        int pending_cr; /* the last byte was a CR: a CRLF ends the line */
    } side[2];
    char head[32]; /* the start of the client's current line (to spot BDAT) */
    size_t head_len;
    uint64_t bdat_left;    /* octets of the current BDAT chunk still to come */
    uint64_t bdat_unshown; /* octets of it that went by since its last summary line */
    /* Masking AUTH (ex_transcript_mask_auth): */
    int mask_auth;  /* hide AUTH's initial response and the SASL responses */
    int in_auth;    /* an AUTH exchange is under way (until a reply other than 334) */
    int mask_line;  /* the rest of the client's current line is hidden */
    int mask_shown; /* "****" was printed for it on this output line */
    char shead[3];  /* the start of the server's current line (its code) */
    size_t shead_len;
    /* Summarising DATA content (ex_transcript_summarize_data): */
    int summarize_data;
    int in_data;           /* after a 354, until the client's CRLF.CRLF */
    int data_match;        /* octets of "\r\n.\r\n" matched so far */
    uint64_t data_unshown; /* content octets not yet summarised */
} ex_transcript;

#define EX_CLIENT 0
#define EX_SERVER 1

/* ex_transcript_init prepares `t` to write to `out` (NULL: disabled) with `tag`. */
void ex_transcript_init(ex_transcript *t, FILE *out, const char *tag);

/*
 * ex_transcript_add records `len` bytes sent by `side` (EX_CLIENT or EX_SERVER), split
 * anywhere. CRLF ends a line; other control bytes are shown as \xHH so the transcript stays
 * one line per protocol line; other bytes are printed as they are. The client's BDAT chunk data
 * is summarised (see above).
 */
void ex_transcript_add(ex_transcript *t, int side, const char *data, size_t len);

/*
 * ex_transcript_mask_auth(t, 1) hides secrets: a client line "AUTH MECH initial-response" is
 * shown as "AUTH MECH ****", and every client line of the exchange after it (the SASL responses
 * to the server's 334 challenges, until a reply with another code) as "****". Off after
 * ex_transcript_init.
 */
void ex_transcript_mask_auth(ex_transcript *t, int on);

/*
 * ex_transcript_summarize_data(t, 1) shows a message's DATA content (the client's octets after
 * a 354 reply) as one summary line "C: <n octets of DATA content>" and its end as "C: .",
 * rather than line by line: a server logging each command (smtp-sink -v) does not copy every
 * message to its log. Off after ex_transcript_init.
 */
void ex_transcript_summarize_data(ex_transcript *t, int on);

/* ex_transcript_note prints an out-of-band line ("* TLS started") between protocol lines. */
void ex_transcript_note(ex_transcript *t, const char *text);

/* ex_transcript_end ends any unfinished line (the peer stopped mid-line) and flushes. */
void ex_transcript_end(ex_transcript *t);

#endif /* EX_TRANSCRIPT_H */
