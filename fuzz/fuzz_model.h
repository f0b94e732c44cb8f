/* SPDX-License-Identifier: MIT */
/*
 * A model SMTP server for the targets that drive a client engine (fuzz_txn.c, fuzz_proxy.c):
 * it reads the client's output as a server does (command lines, DATA content up to CRLF.CRLF
 * after its 354, BDAT chunks by their size) and answers each command with a well-formed reply
 * whose code the input chooses and whose text carries its serial number ("s12"), so that any
 * reply reported or relayed names the command it answered. In LMTP it answers the end of the
 * data once per recipient it accepted in the transaction. The replies wait until the target
 * delivers them (fmodel_deliver: all those pending, or the oldest); after a 421 or QUIT it
 * answers nothing more. Each command read is told to the target through `on_command`, with the
 * serial of its reply, so the target checks what the client sent as it is read.
 * Header-only, like fuzz_common.h.
 */
#ifndef SMTP_FUZZ_MODEL_H
#define SMTP_FUZZ_MODEL_H

#include "fuzz_common.h"

#include <smtp/client.h>

#define FM_MAX_REPLIES 512
#define FM_MAX_ACCEPTED 64

/* What the model read: each has one reply (but an LMTP end of data: one per recipient). */
enum fm_verb {
    FM_HELLO,
    FM_MAIL,
    FM_RCPT,
    FM_DATA, /* a DATA line */
    FM_END,  /* the end of a message: DATA's CRLF.CRLF or BDAT LAST */
    FM_BDAT, /* a BDAT chunk's reply; the first of a message is also told as FM_BDAT_FIRST */
    FM_BDAT_FIRST,
    FM_RSET,
    FM_NOOP,
    FM_VRFY,
    FM_HELP,
    FM_QUIT,
    FM_OTHER
};

/* The server's capabilities (fmodel.caps). */
#define FM_PIPELINING 0x1u
#define FM_CHUNKING 0x2u
#define FM_UTF8 0x4u /* SMTPUTF8 and 8BITMIME */
#define FM_DSN 0x8u
#define FM_ENHANCED 0x10u /* ENHANCEDSTATUSCODES, and every reply carries one */
#define FM_SIZE 0x20u

struct fm_reply {
    enum fm_verb verb;
    int code;
    char addr[64];     /* RCPT: its address; LMTP after the data: the recipient's */
    int reported;      /* for the target's own use */
    size_t start, end; /* its octets in fmodel.all */
};

struct fmodel {
    unsigned caps;
    int lmtp;
    const uint8_t *choice, *choice_end; /* the reply choices, used in turn */
    struct flog *ev;                    /* the target's event log */
    /* The hook: a command read (path for MAIL and RCPT, the message's content for FM_END),
     * `serial` its first reply's (SIZE_MAX when none was made). */
    void (*on_command)(void *ud, enum fm_verb v, const char *path, const struct flog *content,
                       size_t serial);
    void *ud;
    /* The client's output as read; the command line being told (MAIL, RCPT). */
    struct flog in;
    const char *line;
    size_t line_len;
    size_t in_off;
    int mode; /* 0 commands, 1 DATA content, 2 a BDAT chunk */
    size_t chunk_left;
    int chunk_last, chunk_first;
    struct flog content; /* the message's content so far (DATA's unstuffed) */
    int closed;          /* it sent 421 or 221 */
    int end_in_txn;      /* the last end of data closed a transaction with a recipient */
    int txn_open;
    char accepted[FM_MAX_ACCEPTED][64];
    size_t naccepted;
    /* The replies: all of them, and those not yet delivered. */
    struct fm_reply rep[FM_MAX_REPLIES];
    size_t nrep;
    struct flog all;
    struct flog rb;
    size_t rb_end[FM_MAX_REPLIES], rb_first, rb_count;
};

static const char *const fm_names[] = {"HELLO", "MAIL", "RCPT", "DATA", "END",  "BDAT", "BDAT",
                                       "RSET",  "NOOP", "VRFY", "HELP", "QUIT", "OTHER"};

/* The codes each reply may have, picked by a choice byte (index 0 is the usual one). */
static const int fm_codes[][8] = {
    [FM_HELLO] = {250, 250, 250, 250, 250, 250, 250, 250},
    [FM_MAIL] = {250, 250, 250, 451, 550, 421, 552, 503},
    [FM_RCPT] = {250, 251, 550, 250, 450, 553, 421, 252},
    [FM_DATA] = {354, 354, 354, 451, 554, 503, 421, 250},
    [FM_END] = {250, 250, 451, 554, 552, 421, 250, 550},
    [FM_BDAT] = {250, 250, 250, 451, 554, 421, 552, 250},
    [FM_RSET] = {250, 250, 250, 421, 500, 250, 250, 250},
    [FM_NOOP] = {250, 250, 421, 500, 250, 250, 250, 250},
    [FM_VRFY] = {252, 250, 550, 421, 502, 251, 553, 252},
    [FM_HELP] = {214, 214, 211, 502, 421, 214, 214, 214},
    [FM_QUIT] = {221, 221, 221, 221, 221, 221, 221, 221},
    [FM_OTHER] = {500, 500, 500, 500, 500, 500, 500, 500},
};

/* Starts the model: its greeting is the first reply (serial 0), pending. */
static inline void fmodel_init(struct fmodel *m, unsigned caps, int lmtp, const uint8_t *choice,
                               size_t nchoice, struct flog *ev)
{
    memset(m, 0, sizeof *m);
    m->caps = caps;
    m->lmtp = lmtp;
    m->choice = choice;
    m->choice_end = choice + nchoice;
    m->ev = ev;
    m->rep[0] = (struct fm_reply){FM_OTHER, 220, "", 0, 0, 0};
    flog_str(&m->all, "220 s0 model ESMTP\r\n");
    flog_str(&m->rb, "220 s0 model ESMTP\r\n");
    m->rep[0].end = m->all.len;
    m->rb_end[0] = m->rb.len;
    m->nrep = m->rb_count = 1;
}

static inline void fmodel_free(struct fmodel *m)
{
    flog_free(&m->in);
    flog_free(&m->content);
    flog_free(&m->all);
    flog_free(&m->rb);
}

/* The serial in a reply's text ("s12" as a word), or -1. */
static inline int fmodel_serial(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (text[i] == 's' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n') &&
            text[i + 1] >= '0' && text[i + 1] <= '9')
            return atoi(text + i + 1);
    return -1;
}

/* Makes the next reply for `verb`; returns its serial, or SIZE_MAX when the model answers
 * nothing more. */
static inline size_t fmodel_reply(struct fmodel *m, enum fm_verb verb, const char *addr)
{
    if (m->closed || m->nrep == FM_MAX_REPLIES) return SIZE_MAX;
    int c = m->choice < m->choice_end ? *m->choice++ : 0;
    int code = fm_codes[verb][c & 7];
    size_t s = m->nrep++;
    struct fm_reply *rp = &m->rep[s];
    memset(rp, 0, sizeof *rp);
    rp->verb = verb;
    rp->code = code;
    if (addr) snprintf(rp->addr, sizeof rp->addr, "%s", addr);
    rp->start = m->all.len;
    const char *enh = "";
    if ((m->caps & FM_ENHANCED) && code / 100 != 3)
        enh = code >= 500 ? "5.0.0 " : code >= 400 ? "4.0.0 " : "2.0.0 ";
    struct flog *o = &m->all;
    if (verb == FM_HELLO) {
        FLOG(o, "%d-s%zu hello\r\n", code, s);
        if (m->caps & FM_PIPELINING) flog_str(o, "250-PIPELINING\r\n");
        if (m->caps & FM_CHUNKING) flog_str(o, "250-CHUNKING\r\n");
        if (m->caps & FM_UTF8) flog_str(o, "250-SMTPUTF8\r\n250-8BITMIME\r\n");
        if (m->caps & FM_DSN) flog_str(o, "250-DSN\r\n");
        if (m->caps & FM_ENHANCED) flog_str(o, "250-ENHANCEDSTATUSCODES\r\n");
        FLOG(o, "%d %s\r\n", code, (m->caps & FM_SIZE) ? "SIZE 100000" : "HELP");
    } else {
        if (c & 0x80) FLOG(o, "%d-%ss%zu first\r\n", code, enh, s);
        FLOG(o, "%d %ss%zu %s\r\n", code, enh, s, fm_names[verb]);
    }
    rp->end = o->len;
    flog_raw(&m->rb, o->buf + rp->start, rp->end - rp->start);
    m->rb_end[(m->rb_first + m->rb_count++) % FM_MAX_REPLIES] = m->rb.len;
    if (code == 421 || verb == FM_QUIT) m->closed = 1;
    if (verb == FM_MAIL) {
        m->txn_open = code / 100 == 2;
        m->naccepted = 0;
    }
    if (verb == FM_RCPT && m->txn_open && code / 100 == 2 && m->naccepted < FM_MAX_ACCEPTED)
        snprintf(m->accepted[m->naccepted++], 64, "%s", addr ? addr : "");
    return s;
}

/* The end of a message: one reply, or in LMTP one per recipient accepted. */
static inline void fmodel_end(struct fmodel *m, enum fm_verb verb)
{
    size_t s = SIZE_MAX;
    m->end_in_txn = m->txn_open && m->naccepted > 0;
    if (m->lmtp && m->naccepted > 0) {
        for (size_t i = 0; i < m->naccepted; i++) {
            size_t k = fmodel_reply(m, verb, m->accepted[i]);
            if (s == SIZE_MAX) s = k;
        }
    } else {
        s = fmodel_reply(m, verb, NULL);
    }
    m->naccepted = 0;
    m->txn_open = 0;
    m->on_command(m->ud, FM_END, NULL, &m->content, s);
    m->content.len = 0;
}

/* The path between the first '<' and the next '>' of a line. */
static inline void fmodel_path(const char *line, size_t n, char *out, size_t cap)
{
    const char *lt = memchr(line, '<', n);
    out[0] = '\0';
    if (!lt) return;
    const char *gt = memchr(lt, '>', n - (size_t)(lt - line));
    if (!gt || (size_t)(gt - lt - 1) >= cap) return;
    memcpy(out, lt + 1, (size_t)(gt - lt - 1));
    out[gt - lt - 1] = '\0';
}

/* Does the line begin with `word` (ASCII case ignored)? */
static inline int fmodel_starts(const char *line, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        char c = line[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != word[i]) return 0;
    }
    return 1;
}

static inline void fmodel_line(struct fmodel *m, const char *line, size_t n)
{
    static const struct {
        const char *word;
        enum fm_verb verb;
    } plain[] = {{"EHLO ", FM_HELLO}, {"LHLO ", FM_HELLO}, {"HELO ", FM_HELLO}, {"RSET", FM_RSET},
                 {"NOOP", FM_NOOP},   {"VRFY ", FM_VRFY},  {"HELP", FM_HELP},   {"QUIT", FM_QUIT}};
    char path[128];
    flog_str(m->ev, "server reads");
    flog_span(m->ev, "line", line, n);
    flog_str(m->ev, "\n");
    if (fmodel_starts(line, n, "MAIL FROM:") || fmodel_starts(line, n, "RCPT TO:")) {
        enum fm_verb v = line[0] == 'M' || line[0] == 'm' ? FM_MAIL : FM_RCPT;
        fmodel_path(line, n, path, sizeof path);
        m->line = line;
        m->line_len = n;
        size_t s = fmodel_reply(m, v, path);
        m->on_command(m->ud, v, path, NULL, s);
        if (v == FM_MAIL) m->chunk_first = 1;
    } else if (n == 4 && fmodel_starts(line, n, "DATA")) {
        size_t s = fmodel_reply(m, FM_DATA, NULL);
        m->on_command(m->ud, FM_DATA, NULL, NULL, s);
        if (s != SIZE_MAX && m->rep[s].code == 354) m->mode = 1;
        m->content.len = 0;
    } else if (fmodel_starts(line, n, "BDAT ")) {
        size_t k = 0;
        while (5 + k < n && line[5 + k] >= '0' && line[5 + k] <= '9')
            k++;
        FUZZ_ASSERT(k > 0 && k < 20);
        m->chunk_left = strtoul(line + 5, NULL, 10);
        m->chunk_last = 5 + k < n;
        m->mode = 2;
    } else {
        size_t i = 0;
        while (i < sizeof plain / sizeof plain[0] && !fmodel_starts(line, n, plain[i].word))
            i++;
        FUZZ_ASSERT(i < sizeof plain / sizeof plain[0]); /* a command no one asked for */
        enum fm_verb v = plain[i].verb;
        if (v == FM_RSET) m->txn_open = 0, m->naccepted = 0;
        m->on_command(m->ud, v, NULL, NULL, fmodel_reply(m, v, NULL));
    }
}

/* A BDAT chunk read whole: its reply, or the message's end. */
static inline void fmodel_chunk(struct fmodel *m)
{
    m->mode = 0;
    if (m->chunk_first)
        m->on_command(m->ud, FM_BDAT_FIRST, NULL, NULL, m->closed ? SIZE_MAX : m->nrep);
    m->chunk_first = 0;
    if (m->chunk_last) {
        fmodel_end(m, FM_BDAT);
        m->chunk_first = 1;
    } else {
        m->on_command(m->ud, FM_BDAT, NULL, NULL, fmodel_reply(m, FM_BDAT, NULL));
    }
}

/* Reads what the client wrote so far (appended to m->in), as a server does. */
static inline void fmodel_read(struct fmodel *m)
{
    while (m->in_off < m->in.len) {
        const char *p = m->in.buf + m->in_off;
        size_t n = m->in.len - m->in_off;
        if (m->mode == 1) { /* DATA content, up to CRLF.CRLF (".\r\n" alone when empty) */
            size_t i = 0, end = 0;
            while (!end && i < n) { /* line by line: unstuffed into `content` */
                const char *lf = memchr(p + i, '\n', n - i);
                if (!lf) break;
                size_t ll = (size_t)(lf - (p + i)) + 1;
                if (ll == 3 && p[i] == '.' && p[i + 1] == '\r') {
                    end = i + 3;
                    break;
                }
                size_t dot = p[i] == '.';
                flog_raw(&m->content, p + i + dot, ll - dot);
                i += ll;
            }
            m->in_off += end ? end : i;
            if (!end) return;
            m->mode = 0;
            fmodel_end(m, FM_END);
        } else if (m->mode == 2) {
            size_t k = n < m->chunk_left ? n : m->chunk_left;
            flog_raw(&m->content, p, k);
            m->in_off += k;
            m->chunk_left -= k;
            if (m->chunk_left) return;
            fmodel_chunk(m);
        } else {
            const char *crlf = NULL;
            for (size_t i = 0; i + 1 < n && !crlf; i++)
                if (p[i] == '\r' && p[i + 1] == '\n') crlf = p + i;
            if (!crlf) return;
            size_t len = (size_t)(crlf - p);
            m->in_off += len + 2;
            fmodel_line(m, p, len);
            if (m->mode == 2 && m->chunk_left == 0) fmodel_chunk(m); /* BDAT 0 */
        }
    }
}

/*
 * Feeds `cli` the pending replies up to the end of the `count`th: one reply a read, as a server
 * that answers each command sends them (bytes after a reply nothing awaits are a server talking
 * ahead: client.h), or each reply in pieces of the split's sizes. `pump` runs after each read.
 * Returns 0, or the read's error. What the client did not take is dropped with the replies
 * delivered.
 */
static inline int fmodel_deliver(struct fmodel *m, size_t count, struct fsplit *sp,
                                 smtp_client *cli, void (*pump)(void *ud), void *ud)
{
    if (count > m->rb_count) count = m->rb_count;
    if (count == 0) return 0;
    size_t end = m->rb_end[(m->rb_first + count - 1) % FM_MAX_REPLIES];
    size_t pos = 0, next = 0;
    int rc = 0;
    while (pos < end) {
        while (m->rb_end[(m->rb_first + next) % FM_MAX_REPLIES] <= pos)
            next++;
        size_t n = m->rb_end[(m->rb_first + next) % FM_MAX_REPLIES] - pos;
        if (sp) { /* pieces of that reply: how many replies a read held changes what the
                   * application may do between them (a proxy's next MAIL) */
            size_t k = fsplit_piece(sp);
            if (k < n) n = k;
        }
        char *piece = fcopy(m->rb.buf + pos, n);
        smtp_ssize k = smtp_client_read(cli, piece, n);
        free(piece);
        if (k < 0) {
            rc = (int)k;
            break;
        }
        pos += (size_t)k;
        pump(ud);
        if (k == 0) break; /* the client takes nothing more (its session ended) */
    }
    memmove(m->rb.buf, m->rb.buf + end, m->rb.len - end);
    m->rb.len -= end;
    for (size_t i = 0; i < m->rb_count - count; i++)
        m->rb_end[(m->rb_first + count + i) % FM_MAX_REPLIES] -= end;
    m->rb_first = (m->rb_first + count) % FM_MAX_REPLIES;
    m->rb_count -= count;
    return rc;
}

#endif
