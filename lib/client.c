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

static size_t settings_size(int version);

void smtp_client_settings_init_versioned(int version, smtp_client_settings *settings)
{
    size_t size = settings_size(version);
    if (!settings || !size) return;
    /* Filled whole here, then copied as far as the caller's version reaches. */
    smtp_client_settings full, *s = &full;
    memset(s, 0, sizeof *s);
    s->helo_name = "localhost";
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
    s->auth_min_iterations = 4096; /* RFC 7677 4 */
    memcpy(settings, s, size);
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
     SMTP_CLIENT_NO_CHUNKING | SMTP_CLIENT_AUTH_EXTERNAL | SMTP_CLIENT_PREALLOCATE)

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

int smtp_cli_idna(const smtp_client_settings *s, const char *domain, size_t len,
                  char out[SMTP_MAX_DOMAIN + 1])
{
    smtp_domain d;
    if (!s->idna_to_ascii) return SMTP_ERR_UTF8;
    int n = s->idna_to_ascii(domain, len, out, SMTP_MAX_DOMAIN + 1);
    /* What the application's function gave must be an ASCII domain name: it goes out as is. */
    if (n < 0 || n > SMTP_MAX_DOMAIN || smtp_domain_parse(out, (size_t)n, 0, &d, NULL) != 0 ||
        d.kind != SMTP_DOMAIN_NAME)
        return SMTP_ERR_UTF8;
    out[n] = '\0';
    return n;
}

/* A helo_name with U-labels goes in its A-label form when the settings have idna_to_ascii
 * (client.h): `helo` receives it and the settings point to it. Otherwise, or when it is
 * refused, the name stays as given (and check_settings refuses it). */
static void helo_alabels(smtp_client_settings *s, char helo[SMTP_MAX_DOMAIN + 1])
{
    smtp_domain d;
    if (!s->helo_name || !s->idna_to_ascii) return;
    size_t n = strlen(s->helo_name);
    if (smtp_domain_parse(s->helo_name, n, SMTP_PATH_UTF8, &d, NULL) != 0 || !d.utf8 ||
        d.kind != SMTP_DOMAIN_NAME)
        return;
    if (smtp_cli_idna(s, s->helo_name, n, helo) >= 0) s->helo_name = helo;
}

static int on_reply_line(smtp_reply_parser *rp, const smtp_reply_line *line, void *user_data);
static int preallocate(smtp_client *cli);

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

/* Lays out the one block holding the client, its reply text, its SASL buffer and its strings;
 * returns its size. The output queue, the transaction's buffers and the SASL scratch come on
 * demand (smtp_client_new_versioned in client.h). */
static size_t layout(const smtp_client_settings *s, size_t off[3])
{
    size_t n = (sizeof(smtp_client) + 15) & ~(size_t)15;
    off[0] = n; /* reply text */
    n += s->max_reply_text;
    off[1] = n; /* the SASL buffer (CRAM-MD5, SCRAM), when one is needed */
    n += smtp_cli_auth_buffer_size(s);
    off[2] = n; /* the settings' strings */
    n += strings_size(s);
    return n;
}

/* The size of each version of the structs (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    switch (version) {
    case 1: return offsetof(smtp_client_settings, auth_min_iterations);
    case 2: return offsetof(smtp_client_settings, reuse_max_messages);
    case 3: return sizeof(smtp_client_settings);
    default: return 0;
    }
}

static size_t callbacks_size(int version)
{
    switch (version) {
    case 1: return offsetof(smtp_client_callbacks, on_reply);
    case 2: return offsetof(smtp_client_callbacks, on_ready);
    case 3: return sizeof(smtp_client_callbacks);
    default: return 0;
    }
}

int smtp_client_new_versioned(smtp_client **pcli, int callbacks_version,
                              const smtp_client_callbacks *callbacks, int settings_version,
                              const smtp_client_settings *settings, const smtp_mem *mem,
                              void *user_data)
{
    smtp_client_settings set;
    smtp_client_callbacks cb;
    size_t off[3];
    char helo[SMTP_MAX_DOMAIN + 1];
    if (pcli) *pcli = NULL;
    if (!pcli || !settings_size(settings_version) || !callbacks_size(callbacks_version))
        return SMTP_ERR_INVALID_ARGUMENT;
    /* What a caller's version lacks keeps its default. */
    smtp_client_settings_init(&set);
    if (settings) memcpy(&set, settings, settings_size(settings_version));
    memset(&cb, 0, sizeof cb);
    if (callbacks) memcpy(&cb, callbacks, callbacks_size(callbacks_version));
    helo_alabels(&set, helo); /* before the layout: the A-label form is the string copied */
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
    smtp_client *cli = (smtp_client *)(void *)block;
    memset(cli, 0, sizeof *cli);
    cli->mem = mem;
    cli->cb = cb;
    cli->set = set;
    copy_strings(&cli->set, block + off[2]);
    if (set.crypto) {
        cli->crypto = *set.crypto;
        cli->set.crypto = &cli->crypto;
    }
    cli->user_data = user_data;
    cli->xq = cli->xq_min;
    cli->xq_cap = SMTP_CLI_XQ_MIN;
    cli->r_text = block + off[0];
    cli->r_text_cap = set.max_reply_text;
    cli->sasl = block + off[1];
    cli->sasl_cap = smtp_cli_auth_buffer_size(&set);
    cli->tls_active = (set.flags & SMTP_CLIENT_TLS) != 0;
    smtp_caps_init(&cli->caps);

    smtp_reply_settings rs;
    smtp_reply_settings_init(&rs);
    rs.max_line = set.max_reply_line;
    rs.max_lines = set.max_reply_lines;
    smtp_reply_callbacks rcb = {.on_line = on_reply_line};
    rv = smtp_reply_parser_new(&cli->rp, &rcb, &rs, mem, cli);
    if (!rv && (set.flags & SMTP_CLIENT_PREALLOCATE)) rv = preallocate(cli);
    if (rv) {
        smtp_client_del(cli);
        return rv;
    }
    cli->phase = SMTP_CLI_GREETING;
    smtp_cli_expect_push(cli, SMTP_CLI_X_GREETING, 0, 0);
    *pcli = cli;
    return 0;
}

int smtp_client_set_helo(smtp_client *cli, const char *name)
{
    smtp_domain d;
    char alabels[SMTP_MAX_DOMAIN + 1];
    if (!cli || !name) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->phase == SMTP_CLI_DONE) return SMTP_ERR_INVALID_STATE;
    size_t n = strlen(name);
    if (n > SMTP_MAX_DOMAIN || smtp_domain_parse(name, n, SMTP_PATH_UTF8, &d, NULL) != 0)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (d.utf8) { /* U-labels: their A-label form, as for settings.helo_name */
        int k = smtp_cli_idna(&cli->set, name, n, alabels);
        if (k < 0) return SMTP_ERR_UTF8;
        name = alabels;
        n = (size_t)k;
    }
    if (!cli->helo_own) {
        cli->helo_own = smtp_malloc(cli->mem, SMTP_MAX_DOMAIN + 1);
        if (!cli->helo_own) return SMTP_ERR_NOMEM;
    }
    memcpy(cli->helo_own, name, n + 1);
    cli->dry = 0; /* the producer runs again (client_internal.h) */
    return 0;
}

void smtp_client_del(smtp_client *cli)
{
    if (!cli) return;
    smtp_reply_parser_del(cli->rp);
    smtp_free(cli->mem, cli->out);
    smtp_free(cli->mem, cli->scratch);
    smtp_free(cli->mem, cli->txn);
    smtp_free(cli->mem, cli->inc_rcpts);
    smtp_free(cli->mem, cli->helo_own);
    smtp_free(cli->mem, cli);
}

/* ---- output queue and expectations ---- */

char *smtp_cli_out_room(smtp_client *cli, size_t want, size_t *room)
{
    if (cli->out_head) {
        memmove(cli->out, cli->out + cli->out_head, cli->out_len);
        cli->out_head = 0;
    }
    size_t left = cli->set.max_output - cli->out_len;
    if (want > left) want = left;
    if (cli->out_len + want > cli->out_cap) {
        /* Doubled, so that a session soon holds what its flights need and allocates no more
         * (steady state: nothing per message). */
        size_t cap = smtp_grown_cap(cli->out_cap, cli->out_len + want, SMTP_CLI_OUT_MIN);
        if (cap > cli->set.max_output) cap = cli->set.max_output;
        char *p = smtp_realloc(cli->mem, cli->out, cap);
        if (!p) return NULL;
        cli->out = p;
        cli->out_cap = cap;
    }
    *room = cli->out_cap - cli->out_len;
    return cli->out + cli->out_len;
}

int smtp_cli_txn_buffers(smtp_client *cli)
{
    if (cli->txn) return 0;
    const smtp_client_settings *s = &cli->set;
    size_t xq = s->max_recipients + 16; /* MAIL, RCPTs, DATA, BDATs, RSET, QUIT... */
    size_t ring = xq * sizeof(struct smtp_cli_expect);
    char *b =
        smtp_malloc(cli->mem, ring + s->max_recipients + s->max_reply_text + s->max_body_buffer);
    if (!b) return SMTP_ERR_NOMEM;
    /* The replies awaited so far move over in order. */
    struct smtp_cli_expect *x = (struct smtp_cli_expect *)(void *)b;
    for (size_t i = 0; i < cli->xq_len; i++)
        x[i] = cli->xq[(cli->xq_head + i) % cli->xq_cap];
    cli->xq = x;
    cli->xq_head = 0;
    cli->xq_cap = xq;
    cli->rcpt_ok = (unsigned char *)b + ring;
    cli->saved.text = b + ring + s->max_recipients;
    cli->body = cli->saved.text + s->max_reply_text;
    cli->body_cap = s->max_body_buffer;
    cli->txn = b;
    return 0;
}

/* SMTP_CLIENT_PREALLOCATE: every buffer at its largest now, nothing allocated later. */
static int preallocate(smtp_client *cli)
{
    size_t room;
    if (!smtp_cli_out_room(cli, cli->set.max_output, &room)) return SMTP_ERR_NOMEM;
    if (smtp_cli_auth_wanted(&cli->set) && smtp_cli_scratch(cli) < 0) return SMTP_ERR_NOMEM;
    if (smtp_reply_parser_reserve(cli->rp) < 0) return SMTP_ERR_NOMEM;
    return smtp_cli_txn_buffers(cli);
}

void smtp_cli_out_commit(smtp_client *cli, size_t n, smtp_verb verb)
{
    cli->out_len += n;
    cli->out_total += n;
    if (verb != SMTP_VERB_UNKNOWN) cli->last_verb = verb;
}

size_t smtp_cli_xq_free(const smtp_client *cli)
{
    return cli->xq_cap - cli->xq_len;
}

void smtp_cli_expect_push(smtp_client *cli, int kind, uint32_t index, int flag)
{
    /* Callers check smtp_cli_xq_free first; the queue is sized for a whole transaction. */
    if (cli->xq_len == cli->xq_cap) return;
    struct smtp_cli_expect *x = &cli->xq[(cli->xq_head + cli->xq_len) % cli->xq_cap];
    x->end = cli->out_total;
    x->index = index;
    x->kind = (uint8_t)kind;
    x->flag = (uint8_t)flag;
    cli->xq_len++;
}

static struct smtp_cli_expect expect_pop(smtp_client *cli)
{
    struct smtp_cli_expect x = cli->xq[cli->xq_head];
    cli->xq_head = (cli->xq_head + 1) % cli->xq_cap;
    cli->xq_len--;
    return x;
}

int smtp_cli_may_send(const smtp_client *cli, smtp_verb verb)
{
    if (cli->xq_len == 0) return 1;
    if ((cli->set.flags & SMTP_CLIENT_NO_PIPELINING) || !cli->ehlo ||
        !smtp_caps_has(&cli->caps, SMTP_CAP_PIPELINING))
        return 0;
    /* RFC 2920 3.1: RSET, MAIL and RCPT may be followed in a group; DATA and BDAT end it.
     * RFC 3030 4.2: BDAT chunks may follow each other. */
    switch (cli->last_verb) {
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

static int emit_simple(smtp_client *cli, smtp_verb verb, const char *arg, int kind)
{
    size_t room;
    char *dst = smtp_cli_out_room(cli, SMTP_MAX_COMMAND_LINE, &room);
    if (!dst) return SMTP_ERR_NOMEM;
    smtp_ssize n = smtp_emit_command(dst, room, verb, arg, arg ? strlen(arg) : 0);
    if (n == SMTP_ERR_NOBUF) return 0;
    if (n < 0) return (int)n; /* the arguments were checked: not reached */
    smtp_cli_out_commit(cli, (size_t)n, verb);
    smtp_cli_expect_push(cli, kind, 0, 0);
    return 1;
}

/* The words of the pending XCLIENT/XFORWARD whose attribute the server's EHLO announced for
 * it, into out (NUL-terminated); 0 when none is (or the command is not offered at all). */
static int offered_xattrs(const smtp_client *cli, char out[SMTP_MAX_COMMAND_LINE])
{
    unsigned bits = !cli->ehlo                           ? 0
                    : cli->cmd_verb == SMTP_VERB_XCLIENT ? smtp_caps_xclient(&cli->caps)
                                                         : smtp_caps_xforward(&cli->caps);
    size_t o = 0;
    for (const char *w = cli->cmd_arg; *w;) {
        const char *end = strchr(w, ' ');
        size_t len = end ? (size_t)(end - w) : strlen(w);
        const char *eq = memchr(w, '=', len);
        if (eq && (smtp_xattr_bit(w, (size_t)(eq - w)) & bits)) {
            if (o) out[o++] = ' ';
            memcpy(out + o, w, len);
            o += len;
        }
        w += len + (end != NULL);
    }
    out[o] = '\0';
    return o > 0;
}

/* An XCLIENT/XFORWARD the server does not offer is not sent: on_reply says so with NULL. */
static int drop_command(smtp_client *cli)
{
    cli->cmd_verb = SMTP_VERB_UNKNOWN;
    int cr;
    SMTP_CALLBACK(cli, cr, on_reply, NULL);
    return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
}

/* Emits what the session may send now, as far as the output queue has room. */
static int produce_all(smtp_client *cli)
{
    for (;;) {
        int rv = 0;
        if (cli->error) return cli->error;
        switch (cli->phase) {
        case SMTP_CLI_HELLO:
            if (cli->xq_len) return 0;
            rv = emit_simple(cli, smtp_cli_lmtp(cli) ? SMTP_VERB_LHLO : SMTP_VERB_EHLO,
                             cli->helo_own ? cli->helo_own : cli->set.helo_name, SMTP_CLI_X_EHLO);
            if (rv > 0) cli->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_HELO:
            if (cli->xq_len) return 0;
            rv = emit_simple(cli, SMTP_VERB_HELO, cli->helo_own ? cli->helo_own : cli->set.helo_name,
                             SMTP_CLI_X_HELO);
            if (rv > 0) cli->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_STARTTLS:
            if (cli->xq_len) return 0;
            rv = emit_simple(cli, SMTP_VERB_STARTTLS, NULL, SMTP_CLI_X_STARTTLS);
            if (rv > 0) cli->phase = SMTP_CLI_WAIT;
            break;
        case SMTP_CLI_AUTH:
            if (cli->xq_len) return 0;
            rv = smtp_cli_auth_produce(cli);
            break;
        case SMTP_CLI_READY:
            if (cli->cmd_verb != SMTP_VERB_UNKNOWN) { /* the application's command first */
                if (cli->cmd_sent || cli->xq_len) return 0;
                char offered[SMTP_MAX_COMMAND_LINE];
                const char *arg = cli->cmd_has_arg ? cli->cmd_arg : NULL;
                if (cli->cmd_verb == SMTP_VERB_XCLIENT || cli->cmd_verb == SMTP_VERB_XFORWARD) {
                    if (!offered_xattrs(cli, offered)) {
                        rv = drop_command(cli);
                        if (rv < 0) return rv;
                        continue;
                    }
                    arg = offered;
                }
                rv = emit_simple(cli, cli->cmd_verb, arg, SMTP_CLI_X_COMMAND);
                if (rv > 0) {
                    cli->xq[(cli->xq_head + cli->xq_len - 1) % cli->xq_cap].index =
                        (uint32_t)cli->cmd_verb;
                    cli->cmd_sent = 1;
                }
                break;
            }
            rv = smtp_cli_txn_waits(cli) ? 0 : smtp_cli_txn_produce(cli);
            if (rv == 0 && cli->quit_asked && !smtp_cli_txn_busy(cli) && !cli->need_rset)
                cli->phase = SMTP_CLI_QUIT, rv = 1;
            break;
        case SMTP_CLI_QUIT:
            if (cli->xq_len) return 0;
            rv = emit_simple(cli, SMTP_VERB_QUIT, NULL, SMTP_CLI_X_QUIT);
            if (rv > 0) cli->phase = SMTP_CLI_CLOSING;
            break;
        default: return 0;
        }
        if (rv <= 0) return rv;
    }
}

/* produce_all, noting whether it left the queue empty with nothing it may send (`dry`). */
static int produce(smtp_client *cli)
{
    int rv = produce_all(cli);
    cli->dry = rv == 0 && cli->out_len == 0;
    return rv;
}

/* ---- ending ---- */

/*
 * An application callback failed: the session fails with SMTP_ERR_CALLBACK_FAILURE. As for
 * any other end, the message in progress is reported (on_message, TEMPFAIL) and then the
 * session's end (on_session_end, END_ERROR), unless the end was being reported already (the
 * failing callback is on_session_end, or an on_message of the end's abort).
 */
int smtp_cli_callback_failed(smtp_client *cli)
{
    if (!cli->ended)
        (void)smtp_cli_end(cli, SMTP_CLIENT_END_ERROR, SMTP_ERR_CALLBACK_FAILURE, NULL, 0);
    cli->error = SMTP_ERR_CALLBACK_FAILURE;
    cli->phase = SMTP_CLI_DONE;
    cli->ended = 1;
    cli->out_len = 0; /* nothing more goes out */
    return cli->error;
}

int smtp_cli_end(smtp_client *cli, smtp_client_end end, int error, const smtp_client_reply *reply,
                 int send_quit)
{
    int status = SMTP_CLIENT_TEMPFAIL;
    if (cli->ended) return 0;
    cli->ended = 1;
    if (reply && reply->code >= 500 && end != SMTP_CLIENT_END_PROTOCOL)
        status = SMTP_CLIENT_PERMFAIL;
    int rv = smtp_cli_txn_abort(cli, status, reply);
    if (rv < 0) return rv;
    /* Replies still owed are read and dropped before QUIT. */
    for (size_t i = 0; i < cli->xq_len; i++)
        cli->xq[(cli->xq_head + i) % cli->xq_cap].kind = SMTP_CLI_X_IGNORE;
    cli->need_rset = 0;
    cli->phase = send_quit ? SMTP_CLI_QUIT : SMTP_CLI_DONE;
    if (!send_quit) cli->out_len = 0; /* nothing more goes out */
    smtp_client_session_result res = {end, error, reply};
    int cr;
    SMTP_CALLBACK(cli, cr, on_session_end, &res);
    return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
}

int smtp_cli_fail(smtp_client *cli, int error, const smtp_client_reply *reply)
{
    smtp_client_end end = error == SMTP_ERR_CALLBACK_FAILURE || error == SMTP_ERR_NOMEM
                              ? SMTP_CLIENT_END_ERROR
                              : SMTP_CLIENT_END_PROTOCOL;
    int rv = smtp_cli_end(cli, end, error, reply, 0);
    cli->phase = SMTP_CLI_DONE;
    cli->error = rv < 0 ? rv : error;
    return cli->error;
}

/* ---- reading replies ---- */

static void text_append(smtp_client *cli, const char *p, size_t n)
{
    size_t room = cli->r_text_cap - cli->r_text_len;
    if (n > room) {
        n = room;
        cli->r_truncated = 1;
    }
    if (n) memcpy(cli->r_text + cli->r_text_len, p, n);
    cli->r_text_len += n;
}

static int on_reply_line(smtp_reply_parser *rp, const smtp_reply_line *line, void *user_data)
{
    (void)rp;
    smtp_client *cli = user_data;
    if (line->index == 0) {
        cli->r_code = line->code;
        cli->r_lines = 0;
        cli->r_text_len = 0;
        cli->r_truncated = 0;
        cli->r_enh_len = 0;
        if (line->enhanced.len) {
            cli->r_enh_off = (size_t)(line->enhanced.ptr - line->text.ptr);
            cli->r_enh_len = line->enhanced.len;
        }
        /* Only an EHLO reply fills the capabilities (below): no other reply clears them. */
        if (cli->xq_len && cli->xq[cli->xq_head].kind == SMTP_CLI_X_EHLO)
            smtp_caps_init(&cli->caps_next);
    } else {
        text_append(cli, "\n", 1);
    }
    if (line->index == 0 && line->last) {
        /* A reply of one line (most are): its text is used where it lies, in the input or the
         * parser's buffer, which stay as they are until handle_reply, called as soon as the
         * parser returns. A longer reply's lines are gathered: their input is gone by then. */
        cli->r_at = line->text.ptr;
        cli->r_text_len = line->text.len;
        if (cli->r_text_len > cli->r_text_cap) {
            cli->r_text_len = cli->r_text_cap;
            cli->r_truncated = 1;
        }
    } else {
        cli->r_at = cli->r_text;
        text_append(cli, line->text.ptr, line->text.len);
    }
    if (cli->r_enh_len && cli->r_enh_off + cli->r_enh_len > cli->r_text_len) cli->r_enh_len = 0;
    /* The capabilities come from a 250 EHLO reply, read line by line (never truncated). */
    if (cli->xq_len && cli->xq[cli->xq_head].kind == SMTP_CLI_X_EHLO)
        smtp_caps_add_line(&cli->caps_next, line->text.ptr, line->text.len);
    cli->r_lines++;
    if (line->last) {
        cli->r_complete = 1;
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
    case SMTP_CLI_X_COMMAND: return (smtp_verb)x->index;
    default: return SMTP_VERB_UNKNOWN;
    }
}

/* After the hello: STARTTLS when the policy asks for it (RFC 3207), then AUTH or messages. */
static int after_hello(smtp_client *cli, const smtp_client_reply *r)
{
    if (!cli->tls_active && cli->set.tls != SMTP_CLIENT_TLS_NONE) {
        if (cli->ehlo && smtp_caps_has(&cli->caps, SMTP_CAP_STARTTLS)) {
            cli->phase = SMTP_CLI_STARTTLS;
            return 0;
        }
        if (cli->set.tls == SMTP_CLIENT_TLS_REQUIRED)
            return smtp_cli_end(cli, SMTP_CLIENT_END_TLS_UNAVAILABLE, 0, r, 1);
    }
    return smtp_cli_after_tls(cli);
}

int smtp_cli_after_tls(smtp_client *cli)
{
    if (smtp_cli_auth_wanted(&cli->set)) return smtp_cli_auth_start(cli);
    return smtp_cli_ready(cli);
}

int smtp_cli_ready(smtp_client *cli)
{
    cli->phase = SMTP_CLI_READY;
    int cr;
    SMTP_CALLBACK0(cli, cr, on_ready);
    return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
}

static int on_hello_reply(smtp_client *cli, int kind, const smtp_client_reply *r)
{
    if (r->code == 250) {
        cli->ehlo = kind == SMTP_CLI_X_EHLO;
        if (cli->ehlo)
            cli->caps = cli->caps_next;
        else
            smtp_caps_init(&cli->caps);
        return after_hello(cli, r);
    }
    /* RFC 5321 4.1.4: a server that does not know EHLO answers 500 or 502: fall back to HELO
     * (not in LMTP, which has no HELO, RFC 2033 4.1). */
    if (kind == SMTP_CLI_X_EHLO && !smtp_cli_lmtp(cli) && (r->code == 500 || r->code == 502)) {
        cli->phase = SMTP_CLI_HELO;
        return 0;
    }
    return smtp_cli_end(cli, SMTP_CLIENT_END_REJECTED, 0, r, 1);
}

static int on_starttls_reply(smtp_client *cli, const smtp_client_reply *r)
{
    if (r->code == 220) {
        cli->phase = SMTP_CLI_TLS;
        int cr;
        SMTP_CALLBACK0(cli, cr, on_starttls);
        return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
    }
    if (cli->set.tls == SMTP_CLIENT_TLS_REQUIRED)
        return smtp_cli_end(cli, SMTP_CLIENT_END_TLS_UNAVAILABLE, 0, r, 1);
    return smtp_cli_after_tls(cli); /* opportunistic: go on in plaintext (RFC 3207 4.1) */
}

/* Codes that can answer one command only (RFC 5321 4.3.2, RFC 4954 4): a 354 to MAIL or a
 * 220 to EHLO is not a reply to that command but a confused or hostile server. No other 3xx
 * answers anything: 354 to DATA and 334 to AUTH are the only intermediate replies, so a 3xx
 * to RCPT (which allows 250/251/252, 4xx, 5xx) is no refusal but a protocol error too. DATA
 * gets 354 or a refusal: a 2xx would leave the body unsent yet look like success. */
static int plausible(const struct smtp_cli_expect *x, int code)
{
    int kind = x->kind;
    if (kind == SMTP_CLI_X_DATA && code / 100 == 2) return 0;
    switch (code) {
    case 220: /* and XCLIENT's new greeting (Postfix XCLIENT_README) */
        return kind == SMTP_CLI_X_GREETING || kind == SMTP_CLI_X_STARTTLS ||
               (kind == SMTP_CLI_X_COMMAND && x->index == SMTP_VERB_XCLIENT);
    case 221: return kind == SMTP_CLI_X_QUIT;
    case 235:
    case 334: return kind == SMTP_CLI_X_AUTH;
    case 354: return kind == SMTP_CLI_X_DATA;
    default: return code / 100 != 3;
    }
}

static int handle_reply(smtp_client *cli)
{
    smtp_client_reply r;
    memset(&r, 0, sizeof r);
    r.code = cli->r_code;
    r.text.ptr = cli->r_at;
    r.text.len = cli->r_text_len;
    if (cli->r_enh_len) {
        r.enhanced.ptr = cli->r_at + cli->r_enh_off;
        r.enhanced.len = cli->r_enh_len;
    }
    r.lines = cli->r_lines;
    r.truncated = cli->r_truncated;
    if (!cli->r_solicited) {
        /* RFC 5321 3.8: a server may announce its shutdown with 421 at any time. Some close
         * with 221 instead (Postfix, after junk: "221 2.7.0 Error: I can break rules, too"):
         * not the answer to anything either, so no harm in letting it end the session too. */
        if (r.code == 421 || r.code == 221) {
            int rv = smtp_cli_end(cli, SMTP_CLIENT_END_SHUTDOWN, 0, &r, 0);
            cli->phase = SMTP_CLI_DONE;
            return rv;
        }
        return smtp_cli_fail(cli, SMTP_ERR_PROTO, &r);
    }
    struct smtp_cli_expect x = expect_pop(cli);
    r.command = verb_of(&x);
    if (x.kind != SMTP_CLI_X_IGNORE && !plausible(&x, r.code))
        return smtp_cli_fail(cli, SMTP_ERR_PROTO, &r);
    if (r.code == 421 && x.kind != SMTP_CLI_X_QUIT && x.kind != SMTP_CLI_X_IGNORE) {
        int rv = smtp_cli_end(cli, SMTP_CLIENT_END_SHUTDOWN, 0, &r, 0);
        cli->phase = SMTP_CLI_DONE;
        return rv;
    }
    switch (x.kind) {
    case SMTP_CLI_X_IGNORE: return 0;
    case SMTP_CLI_X_GREETING:
        if (r.code == 220) {
            cli->phase = SMTP_CLI_HELLO;
            return 0;
        }
        /* RFC 5321 3.1: after a 554 greeting the client sends QUIT. */
        return smtp_cli_end(cli, SMTP_CLIENT_END_REJECTED, 0, &r, 1);
    case SMTP_CLI_X_EHLO:
    case SMTP_CLI_X_HELO: return on_hello_reply(cli, x.kind, &r);
    case SMTP_CLI_X_STARTTLS: return on_starttls_reply(cli, &r);
    case SMTP_CLI_X_AUTH: return smtp_cli_auth_reply(cli, &r);
    case SMTP_CLI_X_RSET:
        if (r.code / 100 == 2) {
            if (x.flag == 2) cli->probe = 0; /* the reuse probe: MAIL may go */
            return 0;
        }
        return smtp_cli_end(cli, SMTP_CLIENT_END_REJECTED, 0, &r, 1);
    case SMTP_CLI_X_QUIT:
        cli->phase = SMTP_CLI_DONE;
        return smtp_cli_end(cli, SMTP_CLIENT_END_QUIT, 0, &r, 0);
    case SMTP_CLI_X_COMMAND: {
        cli->cmd_verb = SMTP_VERB_UNKNOWN; /* before the callback: it may send the next */
        if (r.command == SMTP_VERB_XCLIENT && r.code == 220) {
            /* The session starts over as for the client XCLIENT named: EHLO again (and AUTH
             * when configured; TLS stays), the capabilities those of the new EHLO reply. */
            cli->phase = SMTP_CLI_HELLO;
            cli->ehlo = 0;
            smtp_caps_init(&cli->caps);
        }
        int cr;
        SMTP_CALLBACK(cli, cr, on_reply, &r);
        return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
    }
    default: return smtp_cli_txn_reply(cli, &x, &r);
    }
}

/* Keeps count of the held input (see smtp_client.held) after a read consumed `used` of `len`
 * bytes. The bytes handed back now arrived before what is pulled out from now on; when they
 * reach past the bytes still held from before, all of them are dated now (which can only let
 * an extra reply pass, never fail a good one). */
static void hold(smtp_client *cli, size_t used, size_t len)
{
    size_t old = cli->held > used ? cli->held - used : 0;
    cli->held = old;
    if (used < len && len - used > old) {
        cli->held = len - used;
        cli->held_written = cli->out_written;
    }
}

smtp_ssize smtp_client_read(smtp_client *cli, const char *data, size_t len)
{
    if (!cli || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error) return cli->error;
    if (cli->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t used = 0;
    while (used < len && cli->phase != SMTP_CLI_DONE) {
        /* RFC 3207 5: bytes after the 220 to STARTTLS, before the handshake, are an attack
         * (a plaintext injection that would be read as TLS-protected). */
        if (cli->phase == SMTP_CLI_TLS) return smtp_cli_fail(cli, SMTP_ERR_PROTO, NULL);
        if (!cli->r_started) {
            /* What was out when the reply's first byte arrived (held: an earlier read). */
            uint64_t out = used < cli->held ? cli->held_written : cli->out_written;
            cli->r_started = 1;
            cli->r_solicited = cli->xq_len > 0 && cli->xq[cli->xq_head].end <= out;
        }
        smtp_ssize n = smtp_reply_parser_read(cli->rp, data + used, len - used);
        if (n < 0) return smtp_cli_fail(cli, (int)n, NULL);
        used += (size_t)n;
        if (!cli->r_complete) continue;
        cli->r_complete = 0;
        cli->r_started = 0;
        int rv = handle_reply(cli);
        if (rv < 0 || cli->error) return cli->error ? cli->error : smtp_cli_fail(cli, rv, NULL);
        rv = produce(cli);
        if (rv < 0) return smtp_cli_fail(cli, rv, NULL);
        if (cli->phase == SMTP_CLI_TLS) {
            if (used < len) return smtp_cli_fail(cli, SMTP_ERR_PROTO, NULL);
            break;
        }
        /* Bytes left while no written command awaits a reply: an extra reply, read now. */
        if (used < len && !(cli->xq_len > 0 && cli->xq[cli->xq_head].end <= cli->out_written))
            continue;
        if (cli->out_len > 0 || cli->xq_len == 0) break;
    }
    hold(cli, used, len);
    return (smtp_ssize)used;
}

smtp_ssize smtp_client_write(smtp_client *cli, char *dest, size_t cap)
{
    if (!cli || (!dest && cap)) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error) return cli->error;
    if (cli->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t total = 0;
    int rv = 0;
    while (total < cap) {
        if (cli->out_len == 0) {
            if (cli->dry) break; /* nothing changed since produce found nothing */
            rv = produce(cli);
            if (rv < 0 || cli->out_len == 0) break;
        }
        size_t n = cli->out_len < cap - total ? cli->out_len : cap - total;
        memcpy(dest + total, cli->out + cli->out_head, n);
        cli->out_head += n;
        cli->out_len -= n;
        cli->out_written += n;
        total += n;
    }
    /* Refill now so that smtp_client_want_write tells the truth about what is left. */
    if (rv >= 0 && cli->out_len == 0 && !cli->dry) rv = produce(cli);
    /* A failure (a body source) fails the session; the octets copied are returned all the
     * same, and the next call gives the sticky error. */
    if (rv < 0) {
        rv = smtp_cli_fail(cli, rv, NULL);
        if (total == 0) return rv;
    }
    return (smtp_ssize)total;
}

int smtp_cli_kick(smtp_client *cli)
{
    int rv = produce(cli);
    return rv < 0 ? smtp_cli_fail(cli, rv, NULL) : 0;
}

/* ---- queries and adapter events ---- */

int smtp_client_want_read(const smtp_client *cli)
{
    return cli && !cli->error && cli->phase != SMTP_CLI_DONE && cli->phase != SMTP_CLI_TLS;
}

int smtp_client_want_write(const smtp_client *cli)
{
    return cli && !cli->error && cli->out_len > 0;
}

int smtp_client_want_close(const smtp_client *cli)
{
    return !cli || cli->error || (cli->phase == SMTP_CLI_DONE && cli->out_len == 0);
}

int smtp_client_want_tls(const smtp_client *cli)
{
    return cli && !cli->error && cli->phase == SMTP_CLI_TLS;
}

int smtp_client_tls_done(smtp_client *cli, int ok)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->phase != SMTP_CLI_TLS) return SMTP_ERR_INVALID_STATE;
    if (!ok) {
        int rv = smtp_cli_end(cli, SMTP_CLIENT_END_TLS_FAILED, 0, NULL, 0);
        cli->phase = SMTP_CLI_DONE;
        return rv;
    }
    /* RFC 3207 4.2: forget everything learnt before TLS and greet again. */
    cli->tls_active = 1;
    cli->ehlo = 0;
    smtp_caps_init(&cli->caps);
    smtp_reply_parser_reset(cli->rp);
    cli->r_started = 0;
    cli->held = 0; /* nothing crossed the boundary (it would have failed the session) */
    cli->phase = SMTP_CLI_HELLO;
    return smtp_cli_kick(cli);
}

int smtp_client_tls_verified(smtp_client *cli, int verified)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    /* Only about TLS that is up or being set up: a word said in plaintext would otherwise
     * outlive a later STARTTLS whose handshake nobody checked. */
    if (!cli->tls_active && cli->phase != SMTP_CLI_TLS) return SMTP_ERR_INVALID_STATE;
    cli->tls_verified = verified != 0;
    cli->dry = 0;
    return 0;
}

smtp_client_reuse_state smtp_client_reuse(smtp_client *cli, uint64_t idle_ms, uint64_t age_ms)
{
    if (!cli || cli->error || cli->ended || cli->quit_asked || cli->phase >= SMTP_CLI_QUIT)
        return SMTP_CLIENT_REUSE_NO;
    const smtp_client_settings *s = &cli->set;
    if ((s->reuse_max_messages && cli->messages >= s->reuse_max_messages) ||
        (s->reuse_max_age && age_ms >= s->reuse_max_age) ||
        (s->reuse_max_idle && idle_ms >= s->reuse_max_idle))
        return SMTP_CLIENT_REUSE_NO;
    if (cli->msg || cli->cmd_verb != SMTP_VERB_UNKNOWN) return SMTP_CLIENT_REUSE_BUSY;
    if (cli->phase != SMTP_CLI_READY) return SMTP_CLIENT_REUSE_YES; /* it waits for ready */
    if (cli->probe || (s->reuse_probe_idle && idle_ms >= s->reuse_probe_idle)) {
        cli->probe = 1;
        cli->dry = 0;
        return SMTP_CLIENT_REUSE_PROBE;
    }
    return SMTP_CLIENT_REUSE_YES;
}

int smtp_client_quit(smtp_client *cli)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->ended || cli->quit_asked) return SMTP_ERR_INVALID_STATE;
    cli->quit_asked = 1;
    /* A transaction opened with smtp_client_mail_from whose data has not begun ends here (QUIT
     * closes it at the server); one whose data is going out is finished first. */
    if (smtp_cli_txn_cancellable(cli)) {
        int rv = smtp_cli_txn_cancel(cli);
        if (rv < 0) return rv;
    }
    return smtp_cli_kick(cli);
}

int smtp_client_command(smtp_client *cli, smtp_verb verb, const char *arg)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    switch (verb) {
    case SMTP_VERB_NOOP:
    case SMTP_VERB_RSET:
    case SMTP_VERB_VRFY:
    case SMTP_VERB_EXPN:
    case SMTP_VERB_HELP:
    case SMTP_VERB_ETRN: break;
    default: return SMTP_ERR_INVALID_ARGUMENT;
    }
    size_t len = arg ? strlen(arg) : 0;
    smtp_ssize need = smtp_emit_command(NULL, 0, verb, arg, len);
    if (need < 0) return (int)need;
    if ((size_t)need > cli->set.max_output) return SMTP_ERR_TOO_LONG;
    /* RSET may end a transaction opened with smtp_client_mail_from whose data has not begun. */
    int cancel = verb == SMTP_VERB_RSET && smtp_cli_txn_cancellable(cli);
    if (cli->error || cli->ended || cli->quit_asked || cli->cmd_verb != SMTP_VERB_UNKNOWN ||
        (cli->msg && !cancel))
        return SMTP_ERR_INVALID_STATE;
    cli->cmd_verb = verb;
    cli->cmd_sent = 0;
    cli->cmd_has_arg = arg != NULL;
    if (arg) memcpy(cli->cmd_arg, arg, len + 1); /* need <= 512: the line holds it */
    if (cancel) {
        /* on_message reports the transaction (at once when no reply is owed), then RSET goes
         * out after its replies, alone */
        int rv = smtp_cli_txn_cancel(cli);
        if (rv < 0) return rv;
    }
    return smtp_cli_kick(cli);
}

int smtp_client_xclient(smtp_client *cli, smtp_verb verb, const smtp_client_xattr *attrs, size_t n)
{
    if (!cli || (verb != SMTP_VERB_XCLIENT && verb != SMTP_VERB_XFORWARD) || !attrs || !n)
        return SMTP_ERR_INVALID_ARGUMENT;
    /* "NAME=xtext" words; the verb, its SP and CRLF take 10 ("XCLIENT ") or 11 ("XFORWARD ")
     * of the line's 512 octets. */
    const size_t frame = (verb == SMTP_VERB_XCLIENT ? sizeof "XCLIENT " : sizeof "XFORWARD ") + 1;
    char line[SMTP_MAX_COMMAND_LINE];
    smtp_strbuf b = {line, 0, SMTP_MAX_COMMAND_LINE - frame, 0};
    for (size_t i = 0; i < n; i++) {
        const smtp_client_xattr *a = &attrs[i];
        if (!a->name || !a->value || !smtp_xattr_bit(a->name, strlen(a->name)))
            return SMTP_ERR_INVALID_ARGUMENT;
        if (b.len) smtp_strbuf_put(&b, " ", 1);
        smtp_strbuf_puts(&b, a->name);
        smtp_strbuf_put(&b, "=", 1);
        smtp_strbuf_xtext(&b, a->value);
    }
    if (b.err) return b.err;
    if (b.len + frame > cli->set.max_output) return SMTP_ERR_TOO_LONG;
    if (cli->error || cli->ended || cli->quit_asked || cli->cmd_verb != SMTP_VERB_UNKNOWN ||
        cli->msg)
        return SMTP_ERR_INVALID_STATE;
    memcpy(cli->cmd_arg, b.p, b.len);
    cli->cmd_arg[b.len] = '\0';
    cli->cmd_verb = verb;
    cli->cmd_sent = 0;
    cli->cmd_has_arg = 1;
    return smtp_cli_kick(cli);
}

/* The 12-octet signature of a v2 PROXY header (proxy-protocol.txt 2.2). */
static const unsigned char proxy_v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

int smtp_client_proxy_header(smtp_client *cli, int version, const char *src_addr, unsigned src_port,
                             const char *dst_addr, unsigned dst_port)
{
    if (!cli || (version != 1 && version != 2) || !src_addr != !dst_addr || src_port > 65535 ||
        dst_port > 65535)
        return SMTP_ERR_INVALID_ARGUMENT;
    unsigned char src[16], dst[16];
    int fam = 0; /* 0: unknown (no addresses), else 4 or 16 */
    if (src_addr) {
        fam = smtp_ip_parse(src_addr, strlen(src_addr), 0, src, NULL);
        if (!fam || smtp_ip_parse(dst_addr, strlen(dst_addr), 0, dst, NULL) != fam)
            return SMTP_ERR_INVALID_ARGUMENT;
    } else if (src_port || dst_port) {
        return SMTP_ERR_INVALID_ARGUMENT;
    }
    /* Only as the first octets of the connection, once, and in plaintext. */
    if (cli->error || cli->ended || cli->phase != SMTP_CLI_GREETING || cli->r_started ||
        cli->out_total || cli->out_written || cli->tls_active)
        return SMTP_ERR_INVALID_STATE;
    size_t room; /* max_output >= 1024: a header (108 octets at most) fits in an empty queue */
    char *out = smtp_cli_out_room(cli, SMTP_MAX_COMMAND_LINE, &room);
    if (!out) return SMTP_ERR_NOMEM;
    size_t n;
    if (version == 1 && !fam) {
        memcpy(out, "PROXY UNKNOWN\r\n", 15);
        n = 15;
    } else if (version == 1) {
        /* The addresses in RFC 5952's form, which the receiver's canonical check accepts. */
        char st[SMTP_IP_TEXT_MAX], dt[SMTP_IP_TEXT_MAX];
        smtp_ip_format(src, (size_t)fam, st);
        smtp_ip_format(dst, (size_t)fam, dt);
        smtp_strbuf b = {out, 0, room, 0};
        smtp_strbuf_puts(&b, fam == 4 ? "PROXY TCP4 " : "PROXY TCP6 ");
        smtp_strbuf_puts(&b, st);
        smtp_strbuf_put(&b, " ", 1);
        smtp_strbuf_puts(&b, dt);
        smtp_strbuf_put(&b, " ", 1);
        smtp_strbuf_uint(&b, src_port);
        smtp_strbuf_put(&b, " ", 1);
        smtp_strbuf_uint(&b, dst_port);
        smtp_strbuf_put(&b, "\r\n", 2);
        n = b.len;
    } else {
        unsigned char *h = (unsigned char *)out;
        size_t block = fam ? 2 * (size_t)fam + 4 : 0;
        memcpy(h, proxy_v2_sig, sizeof proxy_v2_sig);
        /* Version 2 with PROXY, or LOCAL without addresses (the receiver keeps the socket's
         * endpoints, as HAProxy sends for an unknown family). */
        h[12] = fam ? 0x21 : 0x20;
        h[13] = fam == 4 ? 0x11 : fam == 16 ? 0x21 : 0x00;
        h[14] = 0;
        h[15] = (unsigned char)block;
        if (fam) {
            unsigned char *a = h + 16;
            memcpy(a, src, (size_t)fam);
            memcpy(a + fam, dst, (size_t)fam);
            a += 2 * fam;
            a[0] = (unsigned char)(src_port >> 8), a[1] = (unsigned char)src_port;
            a[2] = (unsigned char)(dst_port >> 8), a[3] = (unsigned char)dst_port;
        }
        n = 16 + block;
    }
    smtp_cli_out_commit(cli, n, SMTP_VERB_UNKNOWN);
    return 0;
}

int smtp_client_eof(smtp_client *cli)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error) return cli->error == SMTP_ERR_CALLBACK_FAILURE ? cli->error : 0;
    if (cli->phase == SMTP_CLI_DONE) return 0;
    int rv = smtp_cli_end(cli, SMTP_CLIENT_END_CLOSED, 0, NULL, 0);
    cli->phase = SMTP_CLI_DONE;
    cli->out_len = 0;
    return rv;
}

int smtp_client_timeout_expired(smtp_client *cli)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->phase == SMTP_CLI_DONE) return SMTP_ERR_INVALID_STATE;
    int rv = smtp_cli_end(cli, SMTP_CLIENT_END_TIMEOUT, 0, NULL, 0);
    cli->phase = SMTP_CLI_DONE;
    cli->out_len = 0;
    return rv;
}

smtp_client_wait smtp_client_timeout(const smtp_client *cli, uint32_t *ms)
{
    smtp_client_wait w = SMTP_CLIENT_WAIT_NONE;
    uint32_t t = 0;
    if (cli && !cli->error && cli->phase != SMTP_CLI_DONE && cli->phase != SMTP_CLI_TLS) {
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
