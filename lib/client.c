/* SPDX-License-Identifier: MIT */
/*
 * The client session engine: the session, the reading of replies and the output queue.
 *
 * Theory of operation.
 *
 * Bytes in: smtp_client_read feeds the server's bytes to the reply parser (<smtp/reply.h>),
 * which reports whole lines; the engine accumulates a reply's lines (its text for results,
 * the capabilities of an EHLO reply) and acts only when the final line has arrived, so a
 * reply split across reads changes nothing (RFC 5321 4.2, DESIGN.md invariant 2).
 *
 * Bytes out: every command is written into one bounded output queue as soon as the session
 * may send it, and the adapter pulls the queue with smtp_client_write. Each command that
 * awaits a reply pushes an entry on the expectation queue (xq) that records what it is and
 * the output offset where it ends. Replies are matched to entries strictly in order
 * (RFC 2920 3.1: replies come in the order of the commands).
 *
 * Unsolicited replies. When the first byte of a reply arrives, the engine notes whether the
 * command it would answer had already been pulled out completely. A reply that began before
 * that (the server cannot answer a command it has not received), or when nothing was awaited,
 * is an unsolicited or extra reply: a protocol error, never the answer to the next command
 * (a 421 excepted, which any server may send at any time, RFC 5321 3.8). "Began before" counts
 * arrival, not feeding: bytes that came in the same read as a complete reply arrived before
 * any command that reply lets the client send. So after a complete reply, bytes left in the
 * input while no command that was written out awaits a reply are read at once, as an
 * unsolicited reply, before anything more is sent. Otherwise (a written command still awaits,
 * pipelining) smtp_client_read returns after each complete reply that leaves output to send,
 * so that an adapter always sends before it feeds more; the bytes it hands back are `held`:
 * fed again first, they are judged by what had been pulled out when they were handed back.
 *
 * Flow. phase says what the session sends next: the hello (EHLO, HELO after 500/502),
 * STARTTLS and the pause for the adapter's handshake, AUTH (lib/client_auth.c), then messages
 * (lib/client_txn.c), then QUIT. Without PIPELINING a command waits until xq is empty; with
 * it, RSET, MAIL and RCPT may be followed by more commands of the same transaction, up to
 * DATA or BDAT (RFC 2920 3.1).
 *
 * Memory. Everything is allocated by smtp_client_new (one block plus the reply parser) and
 * bounded by the settings; a message allocates nothing.
 */
#include "client_internal.h"

#include <smtp/path.h>

#include <string.h>

/* RFC 5321 4.5.3.2 */
#define MIN_MS(m) ((uint32_t)(m)*60u * 1000u)

void smtp_client_settings_init_versioned(int version, smtp_client_settings *s)
{
    if (!s || version != SMTP_CLIENT_SETTINGS_VERSION) return;
    memset(s, 0, sizeof *s);
    s->max_reply_line = 2048;
    s->max_reply_lines = 1000;
    s->max_reply_text = 4096;
    s->max_output = 16384;
    s->max_body_buffer = 16384;
    s->max_recipients = 1000;
    s->timeout_greeting = MIN_MS(5);
    s->timeout_mail = MIN_MS(5);
    s->timeout_rcpt = MIN_MS(5);
    s->timeout_data = MIN_MS(2);
    s->timeout_data_block = MIN_MS(3);
    s->timeout_data_end = MIN_MS(10);
    s->timeout_command = MIN_MS(5);
    s->auth_max_iterations = 1000000;
}

const char *smtp_client_status_name(smtp_client_status status)
{
    static const char *const names[] = {"DELIVERED", "TEMPFAIL", "PERMFAIL", "UNSUPPORTED"};
    if ((unsigned)status >= SMTP_ARRAY_LEN(names)) return "INVALID";
    return names[status];
}

const char *smtp_client_end_name(smtp_client_end end)
{
    static const char *const names[] = {
        "QUIT",    "SHUTDOWN",        "REJECTED",   "PROTOCOL",         "CLOSED",
        "TIMEOUT", "TLS_UNAVAILABLE", "TLS_FAILED", "AUTH_UNAVAILABLE", "AUTH_FAILED",
        "ERROR"};
    if ((unsigned)end >= SMTP_ARRAY_LEN(names)) return "INVALID";
    return names[end];
}

/* ---- creation ---- */

#define KNOWN_FLAGS                                                                                \
    (SMTP_CLIENT_LMTP | SMTP_CLIENT_TLS | SMTP_CLIENT_AUTH_PLAINTEXT | SMTP_CLIENT_NO_PIPELINING | \
     SMTP_CLIENT_NO_CHUNKING)

static int check_settings(const smtp_client_settings *s)
{
    smtp_domain d;
    if (!s->helo_name || (s->flags & ~KNOWN_FLAGS)) return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_domain_parse(s->helo_name, strlen(s->helo_name), 0, &d, NULL) != 0)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (s->max_reply_line < 6 || s->max_reply_lines == 0 || s->max_reply_text < 64 ||
        s->max_output < 1024 || s->max_body_buffer == 0 || s->max_recipients == 0 ||
        s->max_recipients > 100000 || (unsigned)s->tls > SMTP_CLIENT_TLS_REQUIRED ||
        s->auth_max_iterations == 0)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_cli_auth_named(s) < 0) return SMTP_ERR_INVALID_ARGUMENT;
    return 0;
}

static int on_reply_line(smtp_reply_parser *rp, const smtp_reply_line *line, void *user_data);

/* The settings' strings, copied into the client's block (each with its NUL). */
static const char **string_field(smtp_client_settings *s, int i)
{
    const char **fields[] = {&s->helo_name,  &s->auth_user,    &s->auth_password,
                             &s->auth_token, &s->auth_authzid, &s->auth_mech};
    return i < (int)SMTP_ARRAY_LEN(fields) ? fields[i] : NULL;
}

static size_t strings_size(const smtp_client_settings *s)
{
    size_t n = 0;
    const char **f;
    for (int i = 0; (f = string_field((smtp_client_settings *)s, i)) != NULL; i++)
        if (*f) n += strlen(*f) + 1;
    return n;
}

static void copy_strings(smtp_client_settings *s, char *dst)
{
    const char **f;
    for (int i = 0; (f = string_field(s, i)) != NULL; i++) {
        if (!*f) continue;
        size_t n = strlen(*f) + 1;
        memcpy(dst, *f, n);
        *f = dst;
        dst += n;
    }
}

/* Lays out the one block holding the client and its buffers; returns its size. */
static size_t layout(const smtp_client_settings *s, size_t off[8])
{
    size_t n = (sizeof(smtp_client) + 15) & ~(size_t)15;
    size_t xq = s->max_recipients + 16; /* MAIL, RCPTs, DATA, BDATs, RSET, QUIT... */
    off[0] = n;                         /* xq */
    n += xq * sizeof(struct smtp_cli_expect);
    off[1] = n; /* out */
    n += s->max_output;
    off[2] = n; /* scratch */
    n += s->max_output;
    off[3] = n; /* reply text */
    n += s->max_reply_text;
    off[4] = n; /* saved reply text */
    n += s->max_reply_text;
    off[5] = n; /* recipient flags, then the body ring */
    n += s->max_recipients + s->max_body_buffer;
    off[6] = n; /* the SASL buffer (CRAM-MD5, SCRAM), when one is needed */
    n += smtp_cli_auth_buffer_size(s);
    off[7] = n; /* the settings' strings */
    n += strings_size(s);
    return n;
}

/* The size of each version of the structs (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    return version == 1 ? sizeof(smtp_client_settings) : 0;
}

static size_t callbacks_size(int version)
{
    return version == 1 ? sizeof(smtp_client_callbacks) : 0;
}

int smtp_client_new_versioned(smtp_client **pcli, int callbacks_version,
                              const smtp_client_callbacks *callbacks, int settings_version,
                              const smtp_client_settings *settings, const smtp_mem *mem,
                              void *user_data)
{
    smtp_client_settings set;
    smtp_client_callbacks cb;
    size_t off[8];
    if (pcli) *pcli = NULL;
    if (!pcli || !settings_size(settings_version) || !callbacks_size(callbacks_version))
        return SMTP_ERR_INVALID_ARGUMENT;
    /* What a caller's version lacks keeps its default. */
    smtp_client_settings_init(&set);
    if (settings) memcpy(&set, settings, settings_size(settings_version));
    memset(&cb, 0, sizeof cb);
    if (callbacks) memcpy(&cb, callbacks, callbacks_size(callbacks_version));
    int rv = check_settings(&set);
    if (rv) return rv;
    mem = smtp_mem_or_default(mem);
    /* Guard the sum of the settings against overflow before laying out the block. */
    if (set.max_output > SIZE_MAX / 8 || set.max_reply_text > SIZE_MAX / 8 ||
        set.max_body_buffer > SIZE_MAX / 8)
        return SMTP_ERR_INVALID_ARGUMENT;
    size_t total = layout(&set, off);
    char *block = smtp_malloc(mem, total);
    if (!block) return SMTP_ERR_NOMEM;
    smtp_client *c = (smtp_client *)(void *)block;
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->cb = cb;
    c->set = set;
    copy_strings(&c->set, block + off[7]);
    if (set.crypto) {
        c->crypto = *set.crypto;
        c->set.crypto = &c->crypto;
    }
    c->user_data = user_data;
    c->xq = (struct smtp_cli_expect *)(void *)(block + off[0]);
    c->xq_cap = set.max_recipients + 16;
    c->out = block + off[1];
    c->out_cap = set.max_output;
    c->scratch = block + off[2];
    c->rtext = block + off[3];
    c->rtext_cap = set.max_reply_text;
    c->saved.text = block + off[4];
    c->rcpt_ok = (unsigned char *)block + off[5];
    c->body = block + off[5] + set.max_recipients;
    c->body_cap = set.max_body_buffer;
    c->sasl = block + off[6];
    c->sasl_cap = smtp_cli_auth_buffer_size(&set);
    c->tls_active = (set.flags & SMTP_CLIENT_TLS) != 0;
    smtp_caps_init(&c->caps);

    smtp_reply_settings rs;
    smtp_reply_settings_init(&rs);
    rs.max_line = set.max_reply_line;
    rs.max_lines = set.max_reply_lines;
    smtp_reply_callbacks rcb = {.on_line = on_reply_line};
    rv = smtp_reply_parser_new(&c->rp, &rcb, &rs, mem, c);
    if (rv) {
        smtp_free(mem, block);
        return rv;
    }
    c->phase = SMTP_CLI_GREETING;
    smtp_cli_expect_push(c, SMTP_CLI_X_GREETING, 0, 0);
    *pcli = c;
    return 0;
}

void smtp_client_del(smtp_client *cli)
{
    if (!cli) return;
    smtp_reply_parser_del(cli->rp);
    smtp_free(cli->mem, cli);
}

/* ---- output queue and expectations ---- */

char *smtp_cli_out_room(smtp_client *c, size_t *room)
{
    if (c->out_head) {
        memmove(c->out, c->out + c->out_head, c->out_len);
        c->out_head = 0;
    }
    *room = c->out_cap - c->out_len;
    return c->out + c->out_len;
}

void smtp_cli_out_commit(smtp_client *c, size_t n, smtp_verb verb)
{
    c->out_len += n;
    c->queued += n;
    if (verb != SMTP_VERB_UNKNOWN) c->last_verb = verb;
}

size_t smtp_cli_xq_free(const smtp_client *c)
{
    return c->xq_cap - c->xq_len;
}

void smtp_cli_expect_push(smtp_client *c, int kind, uint32_t index, int flag)
{
    /* Callers check smtp_cli_xq_free first; the queue is sized for a whole transaction. */
    if (c->xq_len == c->xq_cap) return;
    struct smtp_cli_expect *x = &c->xq[(c->xq_head + c->xq_len) % c->xq_cap];
    x->end = c->queued;
    x->index = index;
    x->kind = (uint8_t)kind;
    x->flag = (uint8_t)flag;
    c->xq_len++;
}

static struct smtp_cli_expect expect_pop(smtp_client *c)
{
    struct smtp_cli_expect x = c->xq[c->xq_head];
    c->xq_head = (c->xq_head + 1) % c->xq_cap;
    c->xq_len--;
    return x;
}

int smtp_cli_may_send(const smtp_client *c, smtp_verb verb)
{
    if (c->xq_len == 0) return 1;
    if ((c->set.flags & SMTP_CLIENT_NO_PIPELINING) || !c->ehlo ||
        !smtp_caps_has(&c->caps, SMTP_CAP_PIPELINING))
        return 0;
    /* RFC 2920 3.1: RSET, MAIL and RCPT may be followed in a group; DATA and BDAT end it.
     * RFC 3030 4.2: BDAT chunks may follow each other. */
    switch (c->last_verb) {
    case SMTP_VERB_RSET:
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT:
        return verb == SMTP_VERB_MAIL || verb == SMTP_VERB_RCPT || verb == SMTP_VERB_DATA ||
               verb == SMTP_VERB_BDAT;
    case SMTP_VERB_BDAT: return verb == SMTP_VERB_BDAT;
    default: return 0;
    }
}

/* ---- producing output ---- */

static int emit_simple(smtp_client *c, smtp_verb verb, const char *arg, int kind)
{
    size_t room;
    char *dst = smtp_cli_out_room(c, &room);
    smtp_ssize n = smtp_emit_command(dst, room, verb, arg, arg ? strlen(arg) : 0);
    if (n == SMTP_ERR_NOBUF) return 0;
    if (n < 0) return (int)n; /* the arguments were checked: not reached */
    smtp_cli_out_commit(c, (size_t)n, verb);
    smtp_cli_expect_push(c, kind, 0, 0);
    return 1;
}

/* Emits what the session may send now, as far as the output queue has room. */
static int produce(smtp_client *c)
{
    for (;;) {
        int rv = 0;
        if (c->err) return c->err;
        switch (c->phase) {
        case SMTP_CLI_HELLO:
            if (c->xq_len) return 0;
            rv = emit_simple(c, (c->set.flags & SMTP_CLIENT_LMTP) ? SMTP_VERB_LHLO : SMTP_VERB_EHLO,
                             c->set.helo_name, SMTP_CLI_X_EHLO);
            if (rv > 0) c->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_HELO:
            if (c->xq_len) return 0;
            rv = emit_simple(c, SMTP_VERB_HELO, c->set.helo_name, SMTP_CLI_X_HELO);
            if (rv > 0) c->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_STARTTLS:
            if (c->xq_len) return 0;
            rv = emit_simple(c, SMTP_VERB_STARTTLS, NULL, SMTP_CLI_X_STARTTLS);
            if (rv > 0) c->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_AUTH:
            if (c->xq_len) return 0;
            rv = smtp_cli_auth_produce(c);
            break;
        case SMTP_CLI_READY:
            rv = smtp_cli_txn_produce(c);
            if (rv == 0 && c->quit_asked && !smtp_cli_txn_busy(c) && !c->need_rset)
                c->phase = SMTP_CLI_QUIT, rv = 1;
            break;
        case SMTP_CLI_QUIT:
            if (c->xq_len) return 0;
            rv = emit_simple(c, SMTP_VERB_QUIT, NULL, SMTP_CLI_X_QUIT);
            if (rv > 0) c->phase = SMTP_CLI_CLOSING;
            break;
        default: return 0;
        }
        if (rv <= 0) return rv;
    }
}

/* ---- ending ---- */

int smtp_cli_callback_failed(smtp_client *c)
{
    c->err = SMTP_ERR_CALLBACK_FAILURE;
    c->phase = SMTP_CLI_DONE;
    c->ended = 1;
    return c->err;
}

int smtp_cli_end(smtp_client *c, smtp_client_end end, int error, const smtp_client_reply *reply,
                 int send_quit)
{
    int status = SMTP_CLIENT_TEMPFAIL;
    if (c->ended) return 0;
    c->ended = 1;
    if (reply && reply->code >= 500 && end != SMTP_CLIENT_END_PROTOCOL)
        status = SMTP_CLIENT_PERMFAIL;
    int rv = smtp_cli_txn_abort(c, status, reply);
    if (rv < 0) return rv;
    /* Replies still owed are read and dropped before QUIT. */
    for (size_t i = 0; i < c->xq_len; i++)
        c->xq[(c->xq_head + i) % c->xq_cap].kind = SMTP_CLI_X_IGNORE;
    c->need_rset = 0;
    c->phase = send_quit ? SMTP_CLI_QUIT : SMTP_CLI_DONE;
    if (!send_quit) c->out_len = 0; /* nothing more goes out */
    smtp_client_session_result res = {end, error, reply};
    int r;
    SMTP_CALLBACK(c, r, on_session_end, &res);
    return r < 0 ? smtp_cli_callback_failed(c) : 0;
}

int smtp_cli_fail(smtp_client *c, int error, const smtp_client_reply *reply)
{
    smtp_client_end end = error == SMTP_ERR_CALLBACK_FAILURE || error == SMTP_ERR_NOMEM
                              ? SMTP_CLIENT_END_ERROR
                              : SMTP_CLIENT_END_PROTOCOL;
    int rv = smtp_cli_end(c, end, error, reply, 0);
    c->phase = SMTP_CLI_DONE;
    c->err = rv < 0 ? rv : error;
    return c->err;
}

/* ---- reading replies ---- */

static void text_append(smtp_client *c, const char *p, size_t n)
{
    size_t room = c->rtext_cap - c->rtext_len;
    if (n > room) {
        n = room;
        c->r_truncated = 1;
    }
    if (n) memcpy(c->rtext + c->rtext_len, p, n);
    c->rtext_len += n;
}

static int on_reply_line(smtp_reply_parser *rp, const smtp_reply_line *line, void *user_data)
{
    (void)rp;
    smtp_client *c = user_data;
    if (line->index == 0) {
        c->r_code = line->code;
        c->r_lines = 0;
        c->rtext_len = 0;
        c->r_truncated = 0;
        c->r_enh_len = 0;
        if (line->enhanced.len) {
            c->r_enh_off = (size_t)(line->enhanced.ptr - line->text.ptr);
            c->r_enh_len = line->enhanced.len;
        }
        smtp_caps_init(&c->caps_next);
    } else {
        text_append(c, "\n", 1);
    }
    text_append(c, line->text.ptr, line->text.len);
    if (c->r_enh_len && c->r_enh_off + c->r_enh_len > c->rtext_len) c->r_enh_len = 0;
    /* The capabilities come from a 250 EHLO reply, read line by line (never truncated). */
    if (c->xq_len && c->xq[c->xq_head].kind == SMTP_CLI_X_EHLO)
        smtp_caps_add_line(&c->caps_next, line->text.ptr, line->text.len);
    c->r_lines++;
    if (line->last) {
        c->r_complete = 1;
        return SMTP_PAUSE;
    }
    return 0;
}

/* The command an awaited reply answers (LMTP's replies after the data: DATA or BDAT). */
static smtp_verb verb_of(const struct smtp_cli_expect *x)
{
    switch (x->kind) {
    case SMTP_CLI_X_EHLO: return SMTP_VERB_EHLO;
    case SMTP_CLI_X_HELO: return SMTP_VERB_HELO;
    case SMTP_CLI_X_STARTTLS: return SMTP_VERB_STARTTLS;
    case SMTP_CLI_X_AUTH: return SMTP_VERB_AUTH;
    case SMTP_CLI_X_RSET: return SMTP_VERB_RSET;
    case SMTP_CLI_X_QUIT: return SMTP_VERB_QUIT;
    case SMTP_CLI_X_MAIL: return SMTP_VERB_MAIL;
    case SMTP_CLI_X_RCPT: return SMTP_VERB_RCPT;
    case SMTP_CLI_X_LMTP: return x->flag ? SMTP_VERB_BDAT : SMTP_VERB_DATA;
    case SMTP_CLI_X_DATA:
    case SMTP_CLI_X_DATA_END: return SMTP_VERB_DATA;
    case SMTP_CLI_X_BDAT: return SMTP_VERB_BDAT;
    default: return SMTP_VERB_UNKNOWN;
    }
}

/* After the hello: STARTTLS when the policy asks for it (RFC 3207), then AUTH or messages. */
static int after_hello(smtp_client *c, const smtp_client_reply *r)
{
    if (!c->tls_active && c->set.tls != SMTP_CLIENT_TLS_NONE) {
        if (c->ehlo && smtp_caps_has(&c->caps, SMTP_CAP_STARTTLS)) {
            c->phase = SMTP_CLI_STARTTLS;
            return 0;
        }
        if (c->set.tls == SMTP_CLIENT_TLS_REQUIRED)
            return smtp_cli_end(c, SMTP_CLIENT_END_TLS_UNAVAILABLE, 0, r, 1);
    }
    return smtp_cli_after_tls(c);
}

int smtp_cli_after_tls(smtp_client *c)
{
    if (c->set.auth_user) return smtp_cli_auth_start(c);
    c->phase = SMTP_CLI_READY;
    return 0;
}

static int on_hello_reply(smtp_client *c, int kind, const smtp_client_reply *r)
{
    if (r->code == 250) {
        c->ehlo = kind == SMTP_CLI_X_EHLO;
        if (c->ehlo)
            c->caps = c->caps_next;
        else
            smtp_caps_init(&c->caps);
        return after_hello(c, r);
    }
    /* RFC 5321 4.1.4: a server that does not know EHLO answers 500 or 502: fall back to HELO
     * (not in LMTP, which has no HELO, RFC 2033 4.1). */
    if (kind == SMTP_CLI_X_EHLO && !(c->set.flags & SMTP_CLIENT_LMTP) &&
        (r->code == 500 || r->code == 502)) {
        c->phase = SMTP_CLI_HELO;
        return 0;
    }
    return smtp_cli_end(c, SMTP_CLIENT_END_REJECTED, 0, r, 1);
}

static int on_starttls_reply(smtp_client *c, const smtp_client_reply *r)
{
    if (r->code == 220) {
        c->phase = SMTP_CLI_TLS;
        int rv;
        SMTP_CALLBACK0(c, rv, on_starttls);
        return rv < 0 ? smtp_cli_callback_failed(c) : 0;
    }
    if (c->set.tls == SMTP_CLIENT_TLS_REQUIRED)
        return smtp_cli_end(c, SMTP_CLIENT_END_TLS_UNAVAILABLE, 0, r, 1);
    return smtp_cli_after_tls(c); /* opportunistic: go on in plaintext (RFC 3207 4.1) */
}

/* Codes that can answer one command only (RFC 5321 4.3.2, RFC 4954 4): a 354 to MAIL or a
 * 220 to EHLO is not a reply to that command but a confused or hostile server. No other 3xx
 * answers anything: 354 to DATA and 334 to AUTH are the only intermediate replies, so a 3xx
 * to RCPT (which allows 250/251/252, 4xx, 5xx) is no refusal but a protocol error too. DATA
 * gets 354 or a refusal: a 2xx would leave the body unsent yet look like success. */
static int plausible(int kind, int code)
{
    if (kind == SMTP_CLI_X_DATA && code / 100 == 2) return 0;
    switch (code) {
    case 220: return kind == SMTP_CLI_X_GREETING || kind == SMTP_CLI_X_STARTTLS;
    case 221: return kind == SMTP_CLI_X_QUIT;
    case 235:
    case 334: return kind == SMTP_CLI_X_AUTH;
    case 354: return kind == SMTP_CLI_X_DATA;
    default: return code / 100 != 3;
    }
}

static int handle_reply(smtp_client *c)
{
    smtp_client_reply r;
    memset(&r, 0, sizeof r);
    r.code = c->r_code;
    r.text.ptr = c->rtext;
    r.text.len = c->rtext_len;
    if (c->r_enh_len) {
        r.enhanced.ptr = c->rtext + c->r_enh_off;
        r.enhanced.len = c->r_enh_len;
    }
    r.lines = c->r_lines;
    r.truncated = c->r_truncated;
    if (!c->r_solicited) {
        /* RFC 5321 3.8: a server may announce its shutdown with 421 at any time. Some close
         * with 221 instead (Postfix, after junk: "221 2.7.0 Error: I can break rules, too"):
         * not the answer to anything either, so no harm in letting it end the session too. */
        if (r.code == 421 || r.code == 221) {
            int rv = smtp_cli_end(c, SMTP_CLIENT_END_SHUTDOWN, 0, &r, 0);
            c->phase = SMTP_CLI_DONE;
            return rv;
        }
        return smtp_cli_fail(c, SMTP_ERR_PROTO, &r);
    }
    struct smtp_cli_expect x = expect_pop(c);
    r.command = verb_of(&x);
    if (x.kind != SMTP_CLI_X_IGNORE && !plausible(x.kind, r.code))
        return smtp_cli_fail(c, SMTP_ERR_PROTO, &r);
    if (r.code == 421 && x.kind != SMTP_CLI_X_QUIT && x.kind != SMTP_CLI_X_IGNORE) {
        int rv = smtp_cli_end(c, SMTP_CLIENT_END_SHUTDOWN, 0, &r, 0);
        c->phase = SMTP_CLI_DONE;
        return rv;
    }
    switch (x.kind) {
    case SMTP_CLI_X_IGNORE: return 0;
    case SMTP_CLI_X_GREETING:
        if (r.code == 220) {
            c->phase = SMTP_CLI_HELLO;
            return 0;
        }
        /* RFC 5321 3.1: after a 554 greeting the client sends QUIT. */
        return smtp_cli_end(c, SMTP_CLIENT_END_REJECTED, 0, &r, 1);
    case SMTP_CLI_X_EHLO:
    case SMTP_CLI_X_HELO: return on_hello_reply(c, x.kind, &r);
    case SMTP_CLI_X_STARTTLS: return on_starttls_reply(c, &r);
    case SMTP_CLI_X_AUTH: return smtp_cli_auth_reply(c, &r);
    case SMTP_CLI_X_RSET:
        if (r.code / 100 == 2) return 0;
        return smtp_cli_end(c, SMTP_CLIENT_END_REJECTED, 0, &r, 1);
    case SMTP_CLI_X_QUIT:
        c->phase = SMTP_CLI_DONE;
        return smtp_cli_end(c, SMTP_CLIENT_END_QUIT, 0, &r, 0);
    default: return smtp_cli_txn_reply(c, &x, &r);
    }
}

/* Keeps count of the held input (see smtp_client.held) after a read consumed `used` of `len`
 * bytes. The bytes handed back now arrived before what is pulled out from now on; when they
 * reach past the bytes still held from before, all of them are dated now (which can only let
 * an extra reply pass, never fail a good one). */
static void hold(smtp_client *c, size_t used, size_t len)
{
    size_t old = c->held > used ? c->held - used : 0;
    c->held = old;
    if (used < len && len - used > old) {
        c->held = len - used;
        c->held_written = c->written;
    }
}

smtp_ssize smtp_client_read(smtp_client *cli, const char *data, size_t len)
{
    smtp_client *c = cli;
    if (!c || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err) return c->err;
    if (c->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t used = 0;
    while (used < len && c->phase != SMTP_CLI_DONE) {
        /* RFC 3207 5: bytes after the 220 to STARTTLS, before the handshake, are an attack
         * (a plaintext injection that would be read as TLS-protected). */
        if (c->phase == SMTP_CLI_TLS) return smtp_cli_fail(c, SMTP_ERR_PROTO, NULL);
        if (!c->r_started) {
            /* What was out when the reply's first byte arrived (held: an earlier read). */
            uint64_t out = used < c->held ? c->held_written : c->written;
            c->r_started = 1;
            c->r_solicited = c->xq_len > 0 && c->xq[c->xq_head].end <= out;
        }
        smtp_ssize n = smtp_reply_parser_read(c->rp, data + used, len - used);
        if (n < 0) return smtp_cli_fail(c, (int)n, NULL);
        used += (size_t)n;
        if (!c->r_complete) continue;
        c->r_complete = 0;
        c->r_started = 0;
        int rv = handle_reply(c);
        if (rv < 0 || c->err) return c->err ? c->err : smtp_cli_fail(c, rv, NULL);
        rv = produce(c);
        if (rv < 0) return smtp_cli_fail(c, rv, NULL);
        if (c->phase == SMTP_CLI_TLS) {
            if (used < len) return smtp_cli_fail(c, SMTP_ERR_PROTO, NULL);
            break;
        }
        /* Bytes left while no written command awaits a reply: an extra reply, read now. */
        if (used < len && !(c->xq_len > 0 && c->xq[c->xq_head].end <= c->written)) continue;
        if (c->out_len > 0 || c->xq_len == 0) break;
    }
    hold(c, used, len);
    return (smtp_ssize)used;
}

smtp_ssize smtp_client_write(smtp_client *cli, char *dest, size_t cap)
{
    smtp_client *c = cli;
    if (!c || (!dest && cap)) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err) return c->err;
    if (c->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t total = 0;
    int rv = 0;
    while (total < cap) {
        if (c->out_len == 0) {
            rv = produce(c);
            if (rv < 0 || c->out_len == 0) break;
        }
        size_t n = c->out_len < cap - total ? c->out_len : cap - total;
        memcpy(dest + total, c->out + c->out_head, n);
        c->out_head += n;
        c->out_len -= n;
        c->written += n;
        total += n;
    }
    /* Refill now so that smtp_client_want_write tells the truth about what is left. */
    if (rv >= 0 && c->out_len == 0) rv = produce(c);
    /* A failure (a body source) fails the session; the octets copied are returned all the
     * same, and the next call gives the sticky error. */
    if (rv < 0) {
        rv = smtp_cli_fail(c, rv, NULL);
        if (total == 0) return rv;
    }
    return (smtp_ssize)total;
}

int smtp_cli_kick(smtp_client *c)
{
    int rv = produce(c);
    return rv < 0 ? smtp_cli_fail(c, rv, NULL) : 0;
}

/* ---- queries and adapter events ---- */

int smtp_client_want_read(const smtp_client *cli)
{
    return cli && !cli->err && cli->phase != SMTP_CLI_DONE && cli->phase != SMTP_CLI_TLS;
}

int smtp_client_want_write(const smtp_client *cli)
{
    return cli && !cli->err && cli->out_len > 0;
}

int smtp_client_want_close(const smtp_client *cli)
{
    return !cli || cli->err || (cli->phase == SMTP_CLI_DONE && cli->out_len == 0);
}

int smtp_client_want_tls(const smtp_client *cli)
{
    return cli && !cli->err && cli->phase == SMTP_CLI_TLS;
}

int smtp_client_tls_done(smtp_client *cli, int ok)
{
    smtp_client *c = cli;
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err || c->phase != SMTP_CLI_TLS) return SMTP_ERR_INVALID_STATE;
    if (!ok) {
        int rv = smtp_cli_end(c, SMTP_CLIENT_END_TLS_FAILED, 0, NULL, 0);
        c->phase = SMTP_CLI_DONE;
        return rv;
    }
    /* RFC 3207 4.2: forget everything learnt before TLS and greet again. */
    c->tls_active = 1;
    c->ehlo = 0;
    smtp_caps_init(&c->caps);
    smtp_reply_parser_reset(c->rp);
    c->r_started = 0;
    c->held = 0; /* nothing crossed the boundary (it would have failed the session) */
    c->phase = SMTP_CLI_HELLO;
    return smtp_cli_kick(c);
}

int smtp_client_quit(smtp_client *cli)
{
    smtp_client *c = cli;
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err || c->ended || c->quit_asked) return SMTP_ERR_INVALID_STATE;
    c->quit_asked = 1;
    return smtp_cli_kick(c);
}

int smtp_client_eof(smtp_client *cli)
{
    smtp_client *c = cli;
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err) return c->err == SMTP_ERR_CALLBACK_FAILURE ? c->err : 0;
    if (c->phase == SMTP_CLI_DONE) return 0;
    int rv = smtp_cli_end(c, SMTP_CLIENT_END_CLOSED, 0, NULL, 0);
    c->phase = SMTP_CLI_DONE;
    c->out_len = 0;
    return rv;
}

int smtp_client_timeout_expired(smtp_client *cli)
{
    smtp_client *c = cli;
    if (!c) return SMTP_ERR_INVALID_ARGUMENT;
    if (c->err || c->phase == SMTP_CLI_DONE) return SMTP_ERR_INVALID_STATE;
    int rv = smtp_cli_end(c, SMTP_CLIENT_END_TIMEOUT, 0, NULL, 0);
    c->phase = SMTP_CLI_DONE;
    c->out_len = 0;
    return rv;
}

smtp_client_wait smtp_client_timeout(const smtp_client *cli, uint32_t *ms)
{
    smtp_client_wait w = SMTP_CLIENT_WAIT_NONE;
    uint32_t t = 0;
    if (cli && !cli->err && cli->phase != SMTP_CLI_DONE && cli->phase != SMTP_CLI_TLS) {
        const smtp_client_settings *s = &cli->set;
        if (cli->xq_len) {
            const struct smtp_cli_expect *x = &cli->xq[cli->xq_head];
            switch (x->kind) {
            case SMTP_CLI_X_GREETING: w = SMTP_CLIENT_WAIT_GREETING, t = s->timeout_greeting; break;
            case SMTP_CLI_X_MAIL: w = SMTP_CLIENT_WAIT_MAIL, t = s->timeout_mail; break;
            case SMTP_CLI_X_RCPT: w = SMTP_CLIENT_WAIT_RCPT, t = s->timeout_rcpt; break;
            case SMTP_CLI_X_DATA: w = SMTP_CLIENT_WAIT_DATA, t = s->timeout_data; break;
            case SMTP_CLI_X_BDAT:
                if (x->flag)
                    w = SMTP_CLIENT_WAIT_DATA_END, t = s->timeout_data_end;
                else
                    w = SMTP_CLIENT_WAIT_DATA_BLOCK, t = s->timeout_data_block;
                break;
            case SMTP_CLI_X_DATA_END:
            case SMTP_CLI_X_LMTP: w = SMTP_CLIENT_WAIT_DATA_END, t = s->timeout_data_end; break;
            default: w = SMTP_CLIENT_WAIT_COMMAND, t = s->timeout_command; break;
            }
        } else if (cli->out_len && cli->m_data == SMTP_CLI_DATA_BODY) {
            w = SMTP_CLIENT_WAIT_DATA_BLOCK, t = s->timeout_data_block;
        }
    }
    if (ms) *ms = t;
    return w;
}

const smtp_caps *smtp_client_caps(const smtp_client *cli)
{
    return cli ? &cli->caps : NULL;
}

int smtp_client_tls(const smtp_client *cli)
{
    return cli && cli->tls_active;
}
