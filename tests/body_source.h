/* SPDX-License-Identifier: MIT */
/*
 * A body source for the tests (smtp_client_read_body_fn, <smtp/client.h>): it serves a body
 * held in memory in pieces of chosen sizes, and can say SMTP_ERR_AGAIN on a schedule or fail at
 * a chosen offset, so that a test drives the engine with any split of the body and any stall:
 *   struct body_source src;
 *   body_source_init(&src, text, len);   src.piece = 3;
 *   body_source_attach(&src, &message);  // message.read_body, message.read_body_data
 *   ... after the source said SMTP_ERR_AGAIN (src.waiting), outside any callback:
 *   body_source_resume(&src, cli);       // smtp_client_body_ready
 * A source that is `open` has more to come after `len` octets: at `len` it says SMTP_ERR_AGAIN
 * (and waits) instead of the end; the test appends (raises `len`) or closes it, then resumes.
 */
#ifndef SMTP_TEST_BODY_SOURCE_H
#define SMTP_TEST_BODY_SOURCE_H

#include <smtp/client.h>

#include <stdint.h>
#include <string.h>

struct body_source {
    const char *data;
    size_t len;   /* octets available */
    size_t off;   /* octets served */
    int open;     /* more may come after `len` */
    size_t piece; /* the most octets one call gives; 0: as many as fit */
    /* Variable piece sizes instead (when set): the size of the next piece, given what is left. */
    size_t (*next_piece)(size_t left, void *user_data);
    void *piece_data;
    /* SMTP_ERR_AGAIN before every again_every-th piece (0: never), at most again_max times. */
    size_t again_every, again_max;
    /* Fail (return fail_code) once `fail_at` octets were served; SIZE_MAX: never. */
    size_t fail_at;
    smtp_ssize fail_code;
    /* What happened. */
    size_t calls, pieces, agains, failures;
    size_t cap_max;   /* the largest `cap` the engine offered */
    int waiting;      /* the last call said SMTP_ERR_AGAIN: resume when there is more */
    int ended;        /* the last call said the end */
    smtp_client *cli; /* the client of the last call */
};

static inline void body_source_init(struct body_source *s, const char *data, size_t len)
{
    memset(s, 0, sizeof *s);
    s->data = data;
    s->len = len;
    s->fail_at = SIZE_MAX;
    s->fail_code = SMTP_ERR_INVALID_STATE;
}

/* The source callback: user_data is the struct body_source. */
static inline smtp_ssize body_source_read(smtp_client *cli, char *dest, size_t cap, void *user_data)
{
    struct body_source *s = user_data;
    s->calls++;
    s->cli = cli;
    if (cap > s->cap_max) s->cap_max = cap;
    s->waiting = 0;
    if (s->off >= s->fail_at) {
        s->failures++;
        return s->fail_code;
    }
    if (s->off == s->len) {
        if (!s->open) {
            s->ended = 1;
            return 0;
        }
        s->waiting = 1;
        return SMTP_ERR_AGAIN;
    }
    if (s->again_every && s->agains < s->again_max && s->pieces % s->again_every == 0 &&
        s->pieces / s->again_every == s->agains) {
        s->agains++;
        s->waiting = 1;
        return SMTP_ERR_AGAIN;
    }
    size_t n = s->len - s->off;
    size_t want = s->next_piece ? s->next_piece(n, s->piece_data) : s->piece;
    if (want && n > want) n = want;
    if (n > cap) n = cap;
    if (s->fail_at - s->off < n) n = s->fail_at - s->off;
    memcpy(dest, s->data + s->off, n);
    s->off += n;
    s->pieces++;
    return (smtp_ssize)n;
}

/* Makes `s` the body of `m` (declared size: m->size, left as it is). */
static inline void body_source_attach(struct body_source *s, smtp_client_message *m)
{
    m->body = NULL;
    m->body_len = 0;
    m->read_body = body_source_read;
    m->read_body_data = s;
}

/* Tells the client the waiting source has more (smtp_client_body_ready); 0 when it was not
 * waiting. Returns what smtp_client_body_ready returned. */
static inline int body_source_resume(struct body_source *s, smtp_client *cli)
{
    if (!s->waiting) return 0;
    s->waiting = 0;
    return smtp_client_body_ready(cli);
}

#endif
