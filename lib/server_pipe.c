/* SPDX-License-Identifier: MIT */
/*
 * The server engine's pipelined deferral: commands read while decisions are pending.
 *
 * How it works. Without it (settings.max_pending 1), a deferred decision stops the read loop
 * at the end of its command, and the next command is read once it is answered. With it, a
 * client that was offered PIPELINING (RFC 2920) may send its group ahead: while the pending
 * decision is a MAIL's or a RCPT's, the read loop looks at the next line before the command
 * parser takes it (smtp_srv_pipe_admit) and lets in only what RFC 2920 3.1 allows after them in
 * a group: RCPT (anywhere), DATA and BDAT (last). Anything else (EHLO, RSET, MAIL, NOOP, QUIT,
 * STARTTLS, AUTH...) waits unread until every decision before it was answered, as before.
 *
 * A command let in this way is read ahead into a slot (smtp_srv_slot, a ring allocated with
 * the first one, see Bounds): its policy callback runs at once (on_rcpt, on_data_start) as
 * if every decision before it will be accepted, so that a proxy forwards the whole group in one
 * flight, and its answer (now or later, in any order: smtp_server_reply_to) is kept in the
 * slot. A reply of the engine's own (a faulty path or parameter, a line the parser refused) is
 * kept there too. Nothing is judged against the session's state yet: once the decisions before
 * a slot are answered, smtp_srv_pipe_flush judges the command as if it had just been read
 * (commit: the same checks, in the same order, as a command read in turn) and queues its reply,
 * so replies leave in command order and are those a server reading one command at a time would
 * give. A RCPT whose MAIL was refused gets 503 5.5.1; a DATA or BDAT left without a recipient
 * gets 554 5.5.1 (or 503 without MAIL), whatever its on_data_start said; when that said yes,
 * on_message_abort NO_RECIPIENTS tells the application that no content will come. The first
 * slot still unanswered becomes the pending decision (decision_spec).
 *
 * DATA and BDAT end the group: nothing after them is read (ring_closed), so message content is
 * never read as commands, and a BDAT's chunk stays unread until the BDAT is judged: then it is
 * streamed to on_data (accepted) or read and dropped (refused), as for a BDAT read in turn.
 * With SMTP_SERVER_CHUNK_AHEAD, the chunk of a BDAT whose on_data_start accepted goes to
 * on_data as it comes instead (smtp_srv_ahead_read, srv->ahead counting it); judged, the BDAT
 * reads only the rest (server_data.c: decision_ahead), or drops it when refused.
 *
 * Bounds: at most max_pending commands pending, the one whose decision stopped the reading
 * included (a ring of max_pending slots: once it is answered, the first slot may be the
 * pending decision), and only while the output queue keeps
 * SMTP_SRV_SLOT_ROOM octets per slot beyond SMTP_SRV_RESERVE, so that judging them never
 * lacks room; RCPTs only while the recipients accepted and pending stay under max_recipients.
 * Nothing is allocated but the ring, once. Most sessions never read a command ahead (an idle
 * one never does), so the ring's max_pending slots of about 520 octets cost nothing until
 * then; when it cannot be allocated, the command is read in turn, as without read-ahead.
 */
#include "server_internal.h"

#include <string.h>

int smtp_srv_pipe_new(smtp_server *srv)
{
    /* max_pending - 1 after the decision that stopped the reading, which may be one of them
     * once it is answered and the next one's turn comes (decision_spec). */
    size_t n = srv->set.max_pending;
    if (n == 1) return 0;
    srv->ring_cap = n;
    return (srv->set.flags & SMTP_SERVER_PREALLOCATE) ? smtp_srv_pipe_ring(srv) : 0;
}

int smtp_srv_pipe_ring(smtp_server *srv)
{
    /* Not zeroed: a slot is cleared when a command takes it (smtp_srv_pipe_dispatch). */
    if (!srv->ring) srv->ring = smtp_malloc(srv->mem, srv->ring_cap * sizeof *srv->ring);
    return srv->ring ? 0 : SMTP_ERR_NOMEM;
}

void smtp_srv_pipe_free(smtp_server *srv)
{
    smtp_free(srv->mem, srv->ring);
}

/* The i-th command read ahead, in command order. */
static smtp_srv_slot *slot_at(const smtp_server *srv, size_t i)
{
    return &srv->ring[(srv->ring_head + i) % srv->ring_cap];
}

size_t smtp_srv_pending_rcpts(const smtp_server *srv)
{
    return srv->ring_rcpts + (srv->decision == SMTP_SRV_DECISION_RCPT && !srv->decision_spec);
}

int smtp_srv_pipe_open(const smtp_server *srv)
{
    /* The decisions pending and the commands waiting with them, within max_pending. */
    if (!srv->ring_cap || srv->ring_closed || srv->ring_len + !srv->decision_spec >= srv->ring_cap)
        return 0;
    if (srv->decision != SMTP_SRV_DECISION_MAIL && srv->decision != SMTP_SRV_DECISION_RCPT)
        return 0;
    /* RFC 2920: only a client that EHLO (or LHLO) offered PIPELINING may send ahead. */
    if (!srv->ehlo || !(srv->set.extensions & SMTP_SERVER_EXT_PIPELINING)) return 0;
    if (srv->error || srv->closing || srv->stop || srv->lmtp_fill ||
        srv->input != SMTP_SRV_IN_COMMAND || smtp_srv_slowed_down(srv))
        return 0;
    return smtp_srv_out_room(srv) >=
           SMTP_SRV_RESERVE + (srv->ring_len + 1) * (size_t)SMTP_SRV_SLOT_ROOM;
}

/*
 * The verb at the head of the input: SMTP_VERB_RCPT, _DATA or _BDAT (followed by SP or the
 * line end), SMTP_VERB_UNKNOWN for any other line, or -1 while the octets so far could still
 * begin one of the three.
 */
static int peek_verb(const char *p, size_t n)
{
    static const struct {
        char name[5];
        smtp_verb verb;
    } ahead[] = {{"rcpt", SMTP_VERB_RCPT}, {"data", SMTP_VERB_DATA}, {"bdat", SMTP_VERB_BDAT}};
    int maybe = 0;
    for (size_t v = 0; v < SMTP_ARRAY_LEN(ahead); v++) {
        size_t k = 0;
        while (k < 4 && k < n && (p[k] | 0x20) == ahead[v].name[k])
            k++;
        if (k == n && k <= 4) {
            maybe = 1; /* a prefix so far */
            continue;
        }
        if (k == 4 && (p[4] == ' ' || p[4] == '\r' || p[4] == '\n')) return (int)ahead[v].verb;
    }
    return maybe ? -1 : (int)SMTP_VERB_UNKNOWN;
}

int smtp_srv_pipe_admit(smtp_server *srv, const char *p, size_t n)
{
    if (srv->admitted) return !srv->error && !srv->closing; /* the rest of its line */
    if (srv->pipe_wait || !smtp_srv_pipe_open(srv)) return 0;
    int verb = peek_verb(p, n);
    if (verb < 0) return 0; /* more of the line first */
    if (verb == SMTP_VERB_RCPT &&
        srv->rcpts + smtp_srv_pending_rcpts(srv) >= srv->set.max_recipients)
        verb = SMTP_VERB_UNKNOWN; /* 452 or not depends on the decisions: read it in turn */
    /* The ring comes with the first command read ahead; without it, the command is read in
     * turn (and the ring tried again when an answer comes). */
    if (verb == SMTP_VERB_UNKNOWN || smtp_srv_pipe_ring(srv) < 0) {
        srv->pipe_wait = 1; /* until an answer changes something */
        return 0;
    }
    srv->admitted = 1;
    return 1;
}

/* The BDAT read ahead whose chunk may go to on_data now (SMTP_SERVER_CHUNK_AHEAD), or NULL:
 * the last command of a closed group, accepted by on_data_start, its chunk not all given. */
static const smtp_srv_slot *ahead_slot(const smtp_server *srv)
{
    if (!(srv->set.flags & SMTP_SERVER_CHUNK_AHEAD) || !srv->ring_closed || srv->in_callback ||
        srv->error || srv->closing)
        return NULL;
    const smtp_srv_slot *s = slot_at(srv, srv->ring_len - 1);
    if (s->verb != SMTP_VERB_BDAT || s->kind != SMTP_SRV_DECISION_BDAT || !s->answered ||
        !smtp_srv_accepts(s->kind, s->code) || srv->ahead == s->chunk)
        return NULL;
    return s;
}

int smtp_srv_ahead_open(const smtp_server *srv)
{
    return ahead_slot(srv) != NULL;
}

smtp_ssize smtp_srv_ahead_read(smtp_server *srv, const char *data, size_t len)
{
    const smtp_srv_slot *s = ahead_slot(srv);
    if (!s || len == 0) return 0;
    uint64_t left = s->chunk - srv->ahead;
    size_t n = left < len ? (size_t)left : len;
    srv->ahead += n;
    smtp_span span = {data, n};
    int r = SMTP_SRV_CALL(srv, on_data, span);
    if (smtp_srv_cb_result(srv, r) < 0) return -1;
    if (r == SMTP_PAUSE) srv->stop = 1;
    return (smtp_ssize)n;
}

int smtp_srv_pipe_chunk(const smtp_server *srv, uint64_t *size, int *last)
{
    const smtp_srv_slot *s = srv->spec;
    if (!s && srv->decision == SMTP_SRV_DECISION_BDAT && srv->decision_spec) s = slot_at(srv, 0);
    if (s) {
        if (s->verb != SMTP_VERB_BDAT) return SMTP_ERR_INVALID_STATE;
        *size = s->chunk;
        *last = s->last;
        return 0;
    }
    if (srv->decision != SMTP_SRV_DECISION_BDAT) return SMTP_ERR_INVALID_STATE;
    *size = srv->decision_chunk;
    *last = srv->decision_last;
    return 0;
}

void smtp_srv_spec_ask(smtp_server *srv, smtp_srv_decision kind)
{
    smtp_srv_slot *s = srv->spec;
    s->kind = kind;
    s->id = ++srv->last_id;
    if (kind == SMTP_SRV_DECISION_RCPT) srv->ring_rcpts++;
}

/* Keeps an answer checked already. */
static void keep(smtp_srv_slot *s, int code, const char *enhanced, const char *text, size_t len,
                 int relay)
{
    s->answered = 1;
    s->relay = relay;
    s->code = code;
    s->has_enhanced = enhanced != NULL;
    if (enhanced) {
        size_t n = strlen(enhanced); /* a checked RFC 3463 code: at most 11 octets */
        memcpy(s->enhanced, enhanced, n + 1);
    }
    s->has_text = text != NULL;
    s->len = text ? len : 0;
    if (text && len) memcpy(s->text, text, len);
}

int smtp_srv_spec_decided(smtp_server *srv, int r)
{
    smtp_srv_slot *s = srv->spec;
    if (smtp_srv_cb_result(srv, r) < 0) return -1;
    if (!s->answered && r != SMTP_SERVER_DEFER) keep(s, 0, NULL, NULL, 0, 0); /* the default */
    return 0;
}

void smtp_srv_spec_reply(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    smtp_srv_slot *s = srv->spec;
    s->reply_code = code;
    s->reply_enhanced = enhanced;
    s->reply_text = text;
}

/* Is a transaction open, or will it be once the MAIL pending is accepted? */
static int transaction_expected(const smtp_server *srv)
{
    return smtp_srv_in_transaction(srv) || srv->decision == SMTP_SRV_DECISION_MAIL;
}

/*
 * May the message of a DATA or BDAT read ahead yet be accepted: a transaction, and a recipient
 * accepted or not refused yet? Its decision is then asked now.
 */
static int message_possible(const smtp_server *srv)
{
    if (!transaction_expected(srv)) return 0;
    if (srv->rcpts || (srv->decision == SMTP_SRV_DECISION_RCPT && !srv->decision_spec)) return 1;
    for (size_t i = 0; i < srv->ring_len; i++) {
        const smtp_srv_slot *s = slot_at(srv, i);
        if (s->kind == SMTP_SRV_DECISION_RCPT &&
            (!s->answered || smtp_srv_accepts(SMTP_SRV_DECISION_RCPT, s->code)))
            return 1;
    }
    return 0;
}

int smtp_srv_pipe_dispatch(smtp_server *srv, const smtp_cmd *cmd)
{
    smtp_srv_slot *s = slot_at(srv, srv->ring_len++);
    memset(s, 0, offsetof(smtp_srv_slot, text));
    memset(&s->reply_code, 0, sizeof *s - offsetof(smtp_srv_slot, reply_code));
    s->verb = cmd->verb;
    /* DATA and BDAT end the group (RFC 2920 3.1), and a 521 the stream (RFC 3030 3). */
    if (cmd->verb == SMTP_VERB_DATA || cmd->verb == SMTP_VERB_BDAT) srv->ring_closed = 1;
    srv->ahead = 0;
    if (cmd->error) {
        s->line_error = 1;
        s->reply_code =
            smtp_cmd_error_reply(cmd->error, cmd->verb, &s->reply_enhanced, &s->reply_text);
        if (s->reply_code == 521) srv->ring_closed = 1;
        return 0;
    }
    if (cmd->verb != SMTP_VERB_BDAT) srv->chunk_failed = 0;
    srv->spec = s;
    int r = 0;
    uint64_t max = SMTP_SRV_BODY_LIMIT(srv);
    switch (cmd->verb) {
    case SMTP_VERB_RCPT: r = smtp_srv_cmd_rcpt(srv, cmd); break;
    case SMTP_VERB_DATA:
        /* Asked early only when the message may yet come: else judged (refused) at its turn. */
        if (message_possible(srv) && !srv->binarymime)
            r = SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_DATA, on_data_start);
        break;
    case SMTP_VERB_BDAT:
        s->chunk = cmd->chunk_size;
        s->last = cmd->last;
        if (message_possible(srv) && (srv->set.extensions & SMTP_SERVER_EXT_CHUNKING) &&
            !(max && cmd->chunk_size > max))
            r = SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_BDAT, on_data_start);
        break;
    default: /* smtp_srv_pipe_admit lets in no other verb */
        r = smtp_srv_fail(srv, SMTP_ERR_INVALID_STATE);
        break;
    }
    srv->spec = NULL;
    return r < 0 ? -1 : 0;
}

/* A RCPT read ahead, judged at its turn. */
static int commit_rcpt(smtp_server *srv, const smtp_srv_slot *s)
{
    /* Its envelope copy is the first of those being decided (server_envelope.c). */
    srv->ask_path_len = s->path_len;
    srv->ask_params_len = s->params_len;
    const char *enhanced = s->reply_enhanced, *text = s->reply_text;
    int code = smtp_srv_rcpt_refusal(srv, 0, &enhanced, &text);
    if (!code && s->kind == SMTP_SRV_DECISION_NONE) {
        code = s->reply_code; /* its path or a parameter was refused */
        enhanced = s->reply_enhanced;
        text = s->reply_text;
    }
    if (code) {
        smtp_srv_env_drop(srv);
        return smtp_srv_queue_reply(srv, code, enhanced, text);
    }
    return smtp_srv_apply_kept(srv, s);
}

/* Judges a command read ahead as if it had just been read (the decision before it is made). */
static int commit(smtp_server *srv, const smtp_srv_slot *s)
{
    if (s->line_error) {
        if (smtp_srv_queue_reply(srv, s->reply_code, s->reply_enhanced, s->reply_text) < 0)
            return -1;
        if (s->reply_code == 521) srv->closing = 1; /* RFC 3030 3: out of sync */
        return 0;
    }
    switch (s->verb) {
    case SMTP_VERB_RCPT: return commit_rcpt(srv, s);
    case SMTP_VERB_DATA: return smtp_srv_data_commit(srv, s);
    case SMTP_VERB_BDAT: return smtp_srv_bdat_commit(srv, s);
    default: return smtp_srv_fail(srv, SMTP_ERR_INVALID_STATE);
    }
}

int smtp_srv_pipe_flush(smtp_server *srv)
{
    while (srv->ring_len && srv->decision == SMTP_SRV_DECISION_NONE && !srv->in_callback &&
           !srv->error) {
        if (srv->closing) return smtp_srv_pipe_drop(srv, SMTP_SERVER_ABORT_SHUTDOWN);
        smtp_srv_slot *s = slot_at(srv, 0);
        srv->pipe_wait = 0; /* something changed: the next command is looked at again */
        if (s->kind != SMTP_SRV_DECISION_NONE && !s->answered) {
            /* Its turn came unanswered: the pending decision now (smtp_server_reply). */
            srv->decision = s->kind;
            srv->decision_id = s->id;
            srv->decision_spec = 1;
            srv->answered = 0;
            break;
        }
        /* Out of the ring first: an answer given from a callback it leads to finds none. The
         * slot stays as it is until the next command is read ahead. */
        srv->ring_head = (srv->ring_head + 1) % srv->ring_cap;
        if (--srv->ring_len == 0) srv->ring_closed = 0;
        if (s->kind == SMTP_SRV_DECISION_RCPT) srv->ring_rcpts--;
        if (commit(srv, s) < 0) break;
    }
    return srv->error;
}

int smtp_srv_pipe_drop(smtp_server *srv, smtp_server_abort_reason why)
{
    int r = 0;
    for (size_t i = 0; i < srv->ring_len; i++) {
        const smtp_srv_slot *s = slot_at(srv, i);
        /* An on_data_start that accepted early: its message will not come. */
        if ((s->kind == SMTP_SRV_DECISION_DATA || s->kind == SMTP_SRV_DECISION_BDAT) &&
            s->answered && smtp_srv_accepts(s->kind, s->code) && r >= 0)
            r = SMTP_SRV_CALL(srv, on_message_abort, why);
    }
    srv->ring_len = 0;
    srv->ring_rcpts = 0;
    srv->ring_closed = 0;
    srv->pipe_wait = 0;
    srv->ahead = 0;
    if (srv->decision_spec) srv->decision = SMTP_SRV_DECISION_NONE;
    srv->decision_spec = 0;
    return smtp_srv_cb_result(srv, r);
}

int smtp_srv_pipe_answer(smtp_server *srv, uint64_t id, int code, const char *enhanced,
                         const char *text, size_t len)
{
    smtp_srv_slot *s = NULL;
    for (size_t i = 0; i < srv->ring_len && !s; i++)
        if (slot_at(srv, i)->id == id) s = slot_at(srv, i);
    /* Answered already, dropped, or not a decision any more. */
    if (!s || s->answered) return SMTP_ERR_INVALID_STATE;
    int r = smtp_srv_check_answer(srv, s->kind, code, enhanced, text, len);
    if (r < 0) return r;
    keep(s, code, enhanced, text, len, srv->relay_arg);
    srv->relay_arg = 0;
    srv->pipe_wait = 0;
    return 0;
}

int smtp_srv_pipe_answer_head(smtp_server *srv, int code, const char *enhanced, const char *text,
                              size_t len)
{
    keep(slot_at(srv, 0), code, enhanced, text, len, srv->relay_arg);
    srv->relay_arg = 0;
    srv->decision_spec = 0;
    return 0; /* judged by smtp_srv_pipe_flush, once the callbacks returned */
}
