/* SPDX-License-Identifier: MIT */
/*
 * The server engine's message input: DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030).
 *
 * DATA content goes through the core's unstuffing decoder, which ends only at CRLF.CRLF and
 * applies the bare LF/CR policy; each decoded span is handed to on_data at once (zero copy).
 * BDAT payload is counted, not parsed: exactly chunk-size octets follow the BDAT line.
 *
 * A message that must be refused (over max_message_size, or a bare LF/CR under the REJECT
 * policy) is aborted at once (on_message_abort) and the rest of it is read and dropped, so
 * that the reply (552, 550) comes after the real end and the stream stays in sync (DESIGN.md
 * invariant 8); one that is both is aborted for whichever comes first in the stream, however
 * it was split (decode_window). BDAT sizes are checked against the limit from the BDAT line,
 * before a single payload octet is read; nothing is ever allocated for a chunk. A refused BDAT
 * (no CHUNKING, no transaction, no recipient, too big, refused by on_data_start) is answered
 * only after its chunk was read and dropped (RFC 3030 2): its reply waits formatted in
 * srv->held, so that a client still writing the chunk never sees the reply before its command
 * is complete.
 */
#include "server_internal.h"

#include <stdio.h>
#include <string.h>

/* The DATA decoder's flags (smtp_data_decoder_flags, read in place: a call for each span). */
static unsigned decoder_flags(const smtp_server *srv)
{
    return srv->decoder.flags_;
}

int smtp_srv_data_begin(smtp_server *srv, int bdat)
{
    srv->phase = SMTP_SRV_MESSAGE;
    srv->msg_size = 0;
    srv->discard = 0;
    srv->bdat = bdat;
    if (bdat) {
        /* A chunk read ahead (SMTP_SERVER_CHUNK_AHEAD) came in part or whole already. */
        srv->msg_size = srv->decision_ahead;
        srv->input = SMTP_SRV_IN_CHUNK;
        srv->chunk_left = srv->decision_chunk - srv->decision_ahead;
        srv->decision_ahead = 0;
        srv->chunk_total = srv->decision_chunk;
        srv->chunk_last = srv->decision_last;
        srv->chunk_deliver = 1;
    } else {
        srv->input = SMTP_SRV_IN_DATA;
        srv->carried = 0;
        smtp_data_decoder_init(&srv->decoder, srv->set.bare_policy);
    }
    return 0;
}

int smtp_srv_message_end(smtp_server *srv)
{
    smtp_server_message msg;
    memset(&msg, 0, sizeof msg);
    msg.size = srv->msg_size;
    msg.data_flags = srv->bdat ? 0 : decoder_flags(srv);
    msg.bdat = srv->bdat;
    msg.recipients = srv->rcpts;
    smtp_srv_env_fill(srv, &msg);
    srv->input = SMTP_SRV_IN_COMMAND;
    srv->lmtp_left = srv->rcpts;
    srv->lmtp_ok = 0;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_MESSAGE, on_message_end, &msg);
}

/* The reply DATA gets from the session's state, or 0 when on_data_start decides. */
static int data_refusal(const smtp_server *srv, const char **enhanced, const char **text)
{
    *enhanced = "5.5.1";
    switch (srv->phase) {
    case SMTP_SRV_MAIL: /* RFC 5321 3.3: no recipient accepted may be answered 554 */
        return *text = "Error: no valid recipients", 554;
    case SMTP_SRV_RCPTS: break;
    case SMTP_SRV_MESSAGE: return *text = "Error: DATA inside BDAT transfer", 503;
    default: return *text = "Error: need MAIL command", 503;
    }
    /* RFC 3030 3: a BODY=BINARYMIME message can only be sent with BDAT. */
    if (srv->binarymime) return *text = "Error: BINARYMIME requires BDAT", 503;
    return 0;
}

int smtp_srv_cmd_data(smtp_server *srv)
{
    if (srv->phase != SMTP_SRV_RCPTS || srv->binarymime) { /* else none applies */
        const char *enhanced, *text;
        int code = data_refusal(srv, &enhanced, &text);
        return smtp_srv_queue_reply(srv, code, enhanced, text);
    }
    return SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_DATA, on_data_start);
}

/*
 * An on_data_start asked early accepted a message the state refuses once the decisions before
 * it were answered (no recipient accepted, or MAIL refused): nothing of it will come.
 */
static int overridden(smtp_server *srv, const smtp_srv_slot *slot)
{
    if (slot->kind == SMTP_SRV_DECISION_NONE || !smtp_srv_accepts(slot->kind, slot->code)) return 0;
    int r = SMTP_SRV_CALL(srv, on_message_abort, SMTP_SERVER_ABORT_NO_RECIPIENTS);
    return smtp_srv_cb_result(srv, r);
}

int smtp_srv_data_commit(smtp_server *srv, const smtp_srv_slot *slot)
{
    const char *enhanced, *text;
    int code = data_refusal(srv, &enhanced, &text);
    if (code) {
        /* The refusal a server gives, whatever on_data_start said (a 354 included). */
        if (smtp_srv_queue_reply(srv, code, enhanced, text) < 0) return -1;
        return overridden(srv, slot);
    }
    if (slot->kind == SMTP_SRV_DECISION_NONE) /* not asked early: asked now */
        return SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_DATA, on_data_start);
    return smtp_srv_apply_kept(srv, slot);
}

void smtp_srv_skip_chunk(smtp_server *srv, uint64_t size)
{
    srv->input = SMTP_SRV_IN_CHUNK;
    srv->chunk_left = size;
    srv->chunk_deliver = 0;
}

void smtp_srv_chunks_failed(smtp_server *srv, size_t rcpts)
{
    srv->chunk_failed = 1;
    srv->failed_rcpts = rcpts;
}

/* Keeps the reply to a refused BDAT until its chunk was read; internal errors are fatal. */
static int hold(smtp_server *srv, int code, const char *enhanced, const char *text, size_t copies)
{
    int r = smtp_srv_hold_reply(srv, code, enhanced, text, strlen(text), copies);
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

/* The replies a refused message (or BDAT LAST) owes: LMTP, one per accepted recipient. */
static size_t copies_owed(const smtp_server *srv, int last, size_t rcpts)
{
    return last && rcpts && (srv->set.flags & SMTP_SERVER_LMTP) ? rcpts : 1;
}

/*
 * The first BDAT of a message was refused: the transaction has failed (RFC 3030 2), and the
 * refusal answers the BDAT once its chunk was read and dropped. A 421 answers at once: the
 * session closes, no chunk is read.
 */
int smtp_srv_bdat_refused(smtp_server *srv, int code, const char *enhanced, const char *text,
                          size_t len)
{
    if (!text) text = "Error: command rejected", len = strlen(text);
    if (code == 421) {
        int r = smtp_srv_queue_line(srv, code, enhanced, text, len);
        if (r < 0) return r;
        srv->closing = 1;
        smtp_srv_clear_transaction(srv, 0);
        return 0;
    }
    size_t rcpts = srv->rcpts;
    int r = smtp_srv_hold_reply(srv, code, enhanced, text, len,
                                copies_owed(srv, srv->decision_last, rcpts));
    if (r < 0) return r;
    smtp_srv_clear_transaction(srv, 0);
    if (!srv->decision_last) smtp_srv_chunks_failed(srv, rcpts);
    smtp_srv_skip_chunk(srv, srv->decision_chunk - srv->decision_ahead);
    srv->decision_ahead = 0;
    return 0;
}

/* A BDAT pipelined after a refused one: dropped with the same reply (RFC 3030 2). */
static void chunk_after_failure(smtp_server *srv, int last)
{
    srv->held_copies = copies_owed(srv, last, srv->failed_rcpts);
    if (last) srv->chunk_failed = 0; /* the failed message ends here */
}

/* A chunk over max_message_size: the message is dropped now, its chunk skipped, and the 552
 * comes after it; the BDATs pipelined after a chunk that is not LAST are dropped too. */
static int chunk_too_big(smtp_server *srv, int last)
{
    size_t rcpts = srv->rcpts;
    if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_SIZE) < 0) return -1;
    int r = hold(srv, 552, "5.3.4", "Error: message file too big", copies_owed(srv, last, rcpts));
    if (r == 0 && !last) smtp_srv_chunks_failed(srv, rcpts);
    return r;
}

/* A BDAT of `size` octets (`last`): `slot` is the BDAT read ahead whose turn came, or NULL. */
static int bdat(smtp_server *srv, uint64_t size, int last, const smtp_srv_slot *slot)
{
    int r;
    /* The octets of a chunk read ahead that on_data had already (SMTP_SERVER_CHUNK_AHEAD). */
    uint64_t ahead = slot ? srv->ahead : 0;
    srv->ahead = 0;
    srv->decision_ahead = 0;
    /*
     * Every refused BDAT still has its payload: it is read and dropped, and only then answered
     * (RFC 3030 2: the reply follows the whole chunk; a client may still be writing it).
     */
    if (!(srv->set.extensions & SMTP_SERVER_EXT_CHUNKING))
        r = hold(srv, 502, "5.5.1", "Error: command not implemented", 1);
    else if (srv->chunk_failed)
        chunk_after_failure(srv, last), r = 0;
    else if (!smtp_srv_in_transaction(srv))
        r = hold(srv, 503, "5.5.1", "Error: need MAIL command", 1);
    else if (srv->phase == SMTP_SRV_MAIL)
        r = hold(srv, 554, "5.5.1", "Error: no valid recipients", 1);
    else if (SMTP_SRV_BODY_LIMIT(srv) && size > SMTP_SRV_BODY_LIMIT(srv) - srv->msg_size)
        r = chunk_too_big(srv, last); /* from the BDAT line: before any octet is read */
    else if (srv->phase == SMTP_SRV_MESSAGE) {
        srv->input = SMTP_SRV_IN_CHUNK;
        srv->chunk_left = size;
        srv->chunk_total = size;
        srv->chunk_last = last;
        srv->chunk_deliver = 1;
        return 0;
    } else {
        srv->decision_chunk = size;
        srv->decision_last = last;
        srv->decision_ahead = ahead;
        if (slot && slot->kind != SMTP_SRV_DECISION_NONE) return smtp_srv_apply_kept(srv, slot);
        return SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_BDAT, on_data_start);
    }
    if (r < 0) return r;
    /* A BDAT read ahead whose on_data_start accepted: refused by the state now (what of its
     * chunk on_data had is no message: on_message_abort says so). */
    if (slot && overridden(srv, slot) < 0) return -1;
    smtp_srv_skip_chunk(srv, size - ahead);
    return 0;
}

int smtp_srv_cmd_bdat(smtp_server *srv, const smtp_cmd *cmd)
{
    return bdat(srv, cmd->chunk_size, cmd->last, NULL);
}

int smtp_srv_bdat_commit(smtp_server *srv, const smtp_srv_slot *slot)
{
    return bdat(srv, slot->chunk, slot->last, slot);
}

/* Hands content to the application; returns 1 when on_data asked to pause. */
static int deliver(smtp_server *srv, smtp_span span)
{
    srv->msg_size += span.len;
    int r = SMTP_SRV_CALL(srv, on_data, span);
    if (smtp_srv_cb_result(srv, r) < 0) return -1;
    return r == SMTP_PAUSE;
}

/* A chunk's payload was read completely. */
static int chunk_done(smtp_server *srv)
{
    srv->input = SMTP_SRV_IN_COMMAND;
    if (!srv->chunk_deliver) {
        int r = smtp_srv_release_held(srv); /* a refused BDAT's reply */
        return r < 0 ? smtp_srv_fail(srv, r) : 0;
    }
    if (srv->chunk_last) return smtp_srv_message_end(srv);
    char text[64];
    snprintf(text, sizeof text, "Ok: %llu octets received", (unsigned long long)srv->chunk_total);
    return smtp_srv_queue_reply(srv, 250, "2.0.0", text);
}

static smtp_ssize chunk_read(smtp_server *srv, const char *data, size_t len)
{
    size_t n = srv->chunk_left < len ? (size_t)srv->chunk_left : len;
    srv->chunk_left -= n;
    if (n && srv->chunk_deliver) {
        smtp_span span = {data, n};
        int r = deliver(srv, span);
        if (r < 0) return -1;
        if (r) srv->stop = 1;
    }
    if (!srv->chunk_left) {
        if (chunk_done(srv) < 0) return -1;
        smtp_srv_sync_settle(srv); /* the reply a client without PIPELINING waits for */
    }
    return (smtp_ssize)n;
}

/* Stops delivering a message that will be refused; the rest is read and dropped. */
static int drop_message(smtp_server *srv, smtp_server_abort_reason why)
{
    srv->discard = (int)why;
    return smtp_srv_cb_result(srv, SMTP_SRV_CALL(srv, on_message_abort, why));
}

/*
 * A message both over max_message_size and with a bare LF/CR (REJECT) is aborted for the one
 * that comes first in the stream, however the input was split: the decoder is given at most
 * the octets still allowed (decode_window), so a span never goes past the limit, and the
 * decoder flags a bare LF/CR in the span that holds it. A flagged span thus holds its bare
 * LF/CR within the limit, or is the one octet just over it at the limit (one octet per call
 * there): the flag is judged first, and an octet that is both the first over the limit and a
 * bare LF/CR counts as BARE. Only a CRLF whose CR came in an earlier call is two octets (it is
 * never flagged): over the limit it is SIZE.
 */
static size_t decode_window(const smtp_server *srv, size_t len)
{
    uint64_t max = SMTP_SRV_BODY_LIMIT(srv);
    if (!max || srv->discard || srv->set.bare_policy != SMTP_DATA_BARE_REJECT) return len;
    uint64_t room = max - srv->msg_size; /* msg_size <= max until the message is dropped */
    if (room == 0) room = 1;
    return room < len ? (size_t)room : len;
}

static int data_content(smtp_server *srv, smtp_span span)
{
    if (srv->discard) return 0;
    if (decoder_flags(srv) & SMTP_DATA_FLAG_REJECT)
        return drop_message(srv, SMTP_SERVER_ABORT_BARE);
    uint64_t max = SMTP_SRV_BODY_LIMIT(srv);
    if (max && span.len > max - srv->msg_size) return drop_message(srv, SMTP_SERVER_ABORT_SIZE);
    return deliver(srv, span);
}

/* CRLF.CRLF was read: the final reply, now or after the application's decision. */
static int data_end(smtp_server *srv)
{
    srv->input = SMTP_SRV_IN_COMMAND;
    if (!srv->discard && (decoder_flags(srv) & SMTP_DATA_FLAG_REJECT) &&
        drop_message(srv, SMTP_SERVER_ABORT_BARE) < 0)
        return -1;
    if (!srv->discard) return smtp_srv_message_end(srv);
    int why = srv->discard;
    size_t copies = copies_owed(srv, 1, srv->rcpts);
    smtp_srv_clear_transaction(srv, 0);
    int r = why == SMTP_SERVER_ABORT_SIZE
                ? hold(srv, 552, "5.3.4", "Error: message file too big", copies)
                : hold(srv, 550, "5.6.0", "Error: bare <CR> or <LF> in message", copies);
    if (r == 0) r = smtp_srv_release_held(srv);
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

/* Decodes DATA content from `data` until the input runs out, the end of data or a pause;
 * returns the bytes consumed, or -1 (the session failed). */
static smtp_ssize data_decode(smtp_server *srv, const char *data, size_t len)
{
    size_t pos = 0;
    while (!srv->stop) {
        smtp_span span = {NULL, 0};
        size_t used = 0;
        int ev = smtp_data_decode(&srv->decoder, data + pos, decode_window(srv, len - pos), &span,
                                  &used);
        pos += used;
        if (ev == SMTP_DATA_CONTENT) {
            int r = data_content(srv, span);
            if (r < 0) return -1;
            if (r) srv->stop = 1; /* on_data paused: return after this piece */
            continue;
        }
        if (ev == SMTP_DATA_END) {
            if (data_end(srv) < 0) return -1;
            break;
        }
        if (ev != SMTP_DATA_NEED_INPUT) return smtp_srv_fail(srv, ev);
        if (pos == len || used == 0) break; /* else the window was read: on with the rest */
    }
    return (smtp_ssize)pos;
}

smtp_ssize smtp_srv_data_read(smtp_server *srv, const char *data, size_t len)
{
    if (srv->input == SMTP_SRV_IN_CHUNK) return chunk_read(srv, data, len);
    if (srv->carried) {
        /* The byte an earlier read consumed for a pause (smtp_srv_take_carry) comes first. */
        smtp_ssize n = data_decode(srv, &srv->carry, 1);
        if (n < 0) return -1;
        srv->carried = n == 0;
        if (srv->carried || srv->stop || srv->input != SMTP_SRV_IN_DATA) return 0;
    }
    return data_decode(srv, data, len);
}

int smtp_srv_take_carry(smtp_server *srv, char byte)
{
    /*
     * on_data paused on content that no byte of this read produced: a CRLF that replaces a
     * bare LF or CR the previous read consumed (NORMALIZE), or a bare CR held at the end of
     * the previous read, which only this read's next byte revealed. Returning 0 would look
     * like "nothing can be read" to an adapter, which would then wait for input the client
     * will not send before it gets a reply: the read takes the next byte, unseen by the
     * decoder, and the next read hands it over first. Nothing after the paused content is
     * delivered before that next read.
     */
    if (srv->input != SMTP_SRV_IN_DATA || srv->carried) return 0;
    srv->carry = byte;
    srv->carried = 1;
    return 1;
}
