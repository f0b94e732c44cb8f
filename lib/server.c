/* SPDX-License-Identifier: MIT */
/*
 * The server session engine: the object, the read loop and the command state machine.
 *
 * Theory of operation
 * -------------------
 * One smtp_server holds one connection. Bytes from the client go in through smtp_server_read;
 * replies come out through smtp_server_write (server_out.c); the application decides through
 * callbacks (server_decide.c). Nothing here reads a clock or touches a socket.
 *
 * Input is read in one of three modes (srv->input): command lines, read by the core's
 * streaming command parser (<smtp/command.h>), which also reads the SASL responses of AUTH
 * (server_auth.c); DATA content, read by the core's unstuffing decoder up to CRLF.CRLF
 * (server_data.c); BDAT payload, counted octet by octet (server_data.c). In the PROXY phase
 * the PROXY protocol header is read instead (server_proxy.c). The command parser's callbacks
 * return SMTP_PAUSE whenever the mode changes or the engine must stop, so the read loop can
 * switch readers at the exact byte where a command ends.
 *
 * Session state is one phase (srv->phase, SMTP_SRV_*), in the order a conversation goes
 * through it:
 *
 *   NEW --start--> [PROXY: the header] --> GREETING (decided) --220--> NO_HELO --EHLO--> READY
 *                                                  |--554/421--> REFUSED (503 to all but QUIT)
 *   READY --MAIL--> MAIL --RCPT--> RCPTS --DATA/BDAT--> MESSAGE --final reply--> READY
 *   NO_HELO, READY or a transaction --STARTTLS--> TLS_WAIT --smtp_server_tls_done-->
 *       NO_HELO (everything forgotten)
 *   READY (after EHLO) --AUTH--> AUTH (334 / response ...) --235 or a failure--> READY
 *   any but a transaction --XCLIENT (trusted)--> 220, NO_HELO (a new client, Postfix-style)
 *
 * Beside the phase, flags hold what is orthogonal to it; closing above all: QUIT, a 421, a
 * 521 or a fatal error stop all input in any phase, and the phase stays, so that an open
 * transaction is still reported at the end (smtp_server_eof). The transaction (MAIL, RCPTS,
 * MESSAGE; smtp_srv_in_transaction) is cleared by RSET, HELO/EHLO, STARTTLS, QUIT, and by the
 * final reply of a message (accepted or not).
 *
 * Decisions: every policy point (greeting, HELO, MAIL, RCPT, DATA start, message end, VRFY,
 * AUTH credentials or SASL step, XCLIENT, XFORWARD) sets srv->decision and calls the application.
 * The decision is made by smtp_server_reply (inside the callback or later) or by the callback
 * returning 0 (default acceptance); server_decide.c turns it into its reply and calls the
 * transition of the state it changes (smtp_srv_helo_accepted and the others below, next to
 * their commands; smtp_srv_data_begin for a message). While a decision is pending the read
 * loop stops: the bytes after the command stay unconsumed, so pipelined commands are processed
 * later and in order (RFC 2920 3.1); with settings.max_pending above 1, the RCPT, DATA and BDAT
 * of the group after a MAIL or RCPT are read ahead, their replies waiting for the decisions
 * before them (server_pipe.c). A decision answered later resumes at once what needs no
 * input (smtp_srv_resume: an empty BDAT chunk ends with its reply or the message's end), since
 * the adapter may have nothing more to feed.
 *
 * Flow control: input is consumed only while SMTP_SRV_RESERVE octets of the output queue are
 * free, so a client that pipelines without reading cannot grow the queue past max_output.
 *
 * Strict pipelining (SMTP_SERVER_STRICT_PIPELINING): the engine counts the octets it ever
 * queued (out_total) and those the adapter pulled (out_written). When a reply the client must
 * wait for is complete (the greeting, a group-ending command's reply, a 334), sync_end records
 * out_total; any input offered while out_written < sync_end came before that reply was
 * written, and ends the session with 554 5.5.0. A BDAT's reply follows its chunk, so for a
 * BDAT that ends a group (no PIPELINING) sync_end is recorded once the chunk was read.
 */
#include "server_internal.h"

#include <smtp/reply.h>

#include <string.h>

/* The size of each version of the structs (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    switch (version) {
    case 1: return offsetof(smtp_server_settings, future_release_interval);
    case 2: return offsetof(smtp_server_settings, max_pending);
    case 3: return offsetof(smtp_server_settings, crypto);
    case 4: return sizeof(smtp_server_settings);
    default: return 0;
    }
}

static size_t callbacks_size(int version)
{
    switch (version) {
    case 1: return offsetof(smtp_server_callbacks, on_etrn);
    case 2: return offsetof(smtp_server_callbacks, on_auth_lookup);
    case 3: return sizeof(smtp_server_callbacks);
    default: return 0;
    }
}

/* The defaults of the current version. */
static void settings_defaults(smtp_server_settings *s)
{
    memset(s, 0, sizeof *s);
    s->hostname = "localhost";
    s->extensions = SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE | SMTP_SERVER_EXT_8BITMIME |
                    SMTP_SERVER_EXT_SMTPUTF8 | SMTP_SERVER_EXT_CHUNKING | SMTP_SERVER_EXT_DSN |
                    SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    s->bare_policy = SMTP_DATA_BARE_REJECT;
    s->max_message_size = 10240000;
    s->max_line = 2048;
    s->max_auth_line = 12288;
    s->max_recipients = 1000;
    s->max_messages = 1000;
    s->hard_error_limit = 20;
    s->soft_error_limit = 10;
    s->error_delay_ms = 1000;
    s->junk_command_limit = 100;
    s->auth_attempt_limit = 3;
    s->max_output = 16384;
    s->timeout_command = 300000;
    s->timeout_data = 300000;
    s->auth_mechanisms = "PLAIN LOGIN";
    s->max_pending = 1;
    s->auth_mock_iterations = 4096;
}

void smtp_server_settings_init_versioned(int version, smtp_server_settings *s)
{
    /* A caller of an older version has the smaller struct of its header: only its fields. */
    size_t n = settings_size(version);
    if (!s || !n) return;
    smtp_server_settings d;
    settings_defaults(&d);
    memcpy(s, &d, n);
}

const char *smtp_server_abort_name(smtp_server_abort_reason reason)
{
    switch (reason) {
    case SMTP_SERVER_ABORT_EOF: return "EOF";
    case SMTP_SERVER_ABORT_SIZE: return "SIZE";
    case SMTP_SERVER_ABORT_BARE: return "BARE";
    case SMTP_SERVER_ABORT_RESET: return "RESET";
    case SMTP_SERVER_ABORT_TIMEOUT: return "TIMEOUT";
    case SMTP_SERVER_ABORT_SHUTDOWN: return "SHUTDOWN";
    case SMTP_SERVER_ABORT_NO_RECIPIENTS: return "NO_RECIPIENTS";
    }
    return "INVALID";
}

int smtp_srv_fail(smtp_server *srv, int err)
{
    if (!srv->error) srv->error = err;
    srv->closing = 1;
    return srv->error;
}

int smtp_srv_cb_result(smtp_server *srv, int r)
{
    if (r >= 0) return 0;
    smtp_srv_fail(srv, SMTP_ERR_CALLBACK_FAILURE);
    return -1;
}

void smtp_srv_clear_transaction(smtp_server *srv, int accepted)
{
    srv->rcpts = 0;
    srv->binarymime = 0;
    srv->smtputf8 = 0;
    srv->bdat = 0;
    srv->discard = 0;
    srv->msg_size = 0;
    srv->chunk_failed = 0;
    srv->carried = 0;
    srv->input = SMTP_SRV_IN_COMMAND;
    if (smtp_srv_in_transaction(srv)) srv->phase = SMTP_SRV_READY;
    if (accepted) {
        srv->messages++;
        srv->errors = 0; /* Postfix: the counts restart once mail was delivered */
        srv->junk = 0;
    }
}

int smtp_srv_reset_transaction(smtp_server *srv, smtp_server_abort_reason why)
{
    int r = 0;
    /* A message being dropped (srv->discard: SIZE or BARE) was aborted already: one
     * on_message_abort per message, and no on_reset either (its end would not give one). */
    switch (srv->phase) {
    case SMTP_SRV_MESSAGE:
        if (!srv->discard) r = SMTP_SRV_CALL(srv, on_message_abort, why);
        break;
    case SMTP_SRV_MAIL:
    case SMTP_SRV_RCPTS: r = SMTP_SRV_CALL0(srv, on_reset); break;
    default: break;
    }
    smtp_srv_clear_transaction(srv, 0);
    return smtp_srv_cb_result(srv, r);
}

/* ---- validation of settings ---- */

/* A setting string: printable ASCII (SP allowed when `sp`), at most `max` octets. */
static int check_string(const char *s, size_t min, size_t max, int sp)
{
    if (!s) return min == 0;
    size_t n = strlen(s);
    if (n < min || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x7e || c < 0x20 || (c == ' ' && !sp)) return 0;
    }
    return 1;
}

/* An esmtp-keyword (RFC 5321 4.1.2): (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static int is_keyword(const char *p, size_t n)
{
    if (n == 0 || !smtp_is_alnum((unsigned char)p[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!smtp_is_alnum((unsigned char)p[i]) && p[i] != '-') return 0;
    return 1;
}

/* A space-separated list of esmtp-keywords (mail_param_names, rcpt_param_names). */
static int check_keywords(const char *s)
{
    if (!s) return 1;
    if (!check_string(s, 1, 400, 1)) return 0;
    for (const char *w = s; *w;) {
        size_t n = strcspn(w, " ");
        if (!is_keyword(w, n)) return 0;
        w += n;
        while (*w == ' ')
            w++;
    }
    return 1;
}

/* ehlo_keywords: LF-separated ehlo-lines (RFC 5321 4.1.1.1), printable, at most 8. */
static int check_ehlo_keywords(const char *s)
{
    if (!s) return 1;
    size_t lines = 0;
    for (const char *l = s;; l++) {
        size_t n = strcspn(l, "\n");
        size_t k = strcspn(l, " \n");
        if (!is_keyword(l, k) || ++lines > SMTP_SRV_EHLO_EXTRA) return 0;
        for (size_t i = k; i < n; i++)
            if ((unsigned char)l[i] < 0x20 || (unsigned char)l[i] > 0x7e) return 0;
        l += n;
        if (!*l) return 1;
    }
}

static int check_settings(const smtp_server_settings *s)
{
    if (!check_string(s->hostname, 1, SMTP_MAX_DOMAIN, 0)) return 0;
    if (!check_keywords(s->mail_param_names) || !check_keywords(s->rcpt_param_names)) return 0;
    if (!check_ehlo_keywords(s->ehlo_keywords)) return 0;
    if (s->extensions & SMTP_SERVER_EXT_FUTURERELEASE) {
        int64_t t;
        const char *u = s->future_release_until;
        if (!s->future_release_interval || s->future_release_interval > 999999999 || !u ||
            smtp_datetime_parse(u, strlen(u), &t) != 0)
            return 0;
    }
    if (!check_string(s->auth_mechanisms, 0, 400, 1)) return 0;
    if (!s->auth_mock_iterations || s->auth_mock_iterations > 100000000) return 0;
    if (!check_string(s->mt_priority_profile, 0, 64, 0)) return 0;
    if (s->extensions & ~SMTP_SERVER_EXT_ALL) return 0;
    if (s->flags & ~SMTP_SERVER_FLAGS_ALL) return 0;
    if (s->cmd_flags & ~(SMTP_CMD_LENIENT_BARE_LF | SMTP_CMD_STRICT_PATH_SPACE |
                         SMTP_CMD_LENIENT_PATH_BRACKETS | SMTP_CMD_LENIENT_EMPTY_HELO))
        return 0;
    if ((unsigned)s->bare_policy > SMTP_DATA_BARE_ALLOW) return 0;
    if (s->max_recipients < 100) return 0; /* RFC 5321 4.5.3.1.8 */
    if (s->max_output < 2 * SMTP_SRV_RESERVE) return 0;
    if (s->timeout_command < 300000) return 0; /* RFC 5321 4.5.3.2.7 */
    if (s->error_delay_ms > 300000) return 0;  /* RFC 5321 4.5.3.2: the client would give up */
    if (s->trust & ~SMTP_SERVER_TRUST_ALL) return 0;
    if (s->max_pending < 1 || s->max_pending > SMTP_SRV_MAX_PENDING) return 0;
    return 1;
}

/* The optional setting strings copy_strings copies after hostname and auth_mechanisms. */
static const char **optional_string(smtp_server_settings *s, int i)
{
    const char **f[] = {&s->mt_priority_profile, &s->future_release_until, &s->ehlo_keywords,
                        &s->mail_param_names,    &s->rcpt_param_names,     &s->auth_mock_secret};
    return i < (int)SMTP_ARRAY_LEN(f) ? f[i] : NULL;
}

/* The octets of the setting strings (with their NULs), as copy_strings lays them out. */
static size_t strings_size(const smtp_server_settings *cs)
{
    smtp_server_settings *s = (smtp_server_settings *)(uintptr_t)cs;
    size_t n = strlen(s->hostname) + 1 + (s->auth_mechanisms ? strlen(s->auth_mechanisms) : 0) + 1;
    for (int i = 0; optional_string(s, i); i++)
        if (*optional_string(s, i)) n += strlen(*optional_string(s, i)) + 1;
    return n;
}

/* Copies the setting strings into one allocation owned by the session. */
static int copy_strings(smtp_server *srv)
{
    smtp_server_settings *s = &srv->set;
    srv->strings = smtp_malloc(srv->mem, strings_size(s));
    if (!srv->strings) return SMTP_ERR_NOMEM;
    char *p = srv->strings;
    size_t hl = strlen(s->hostname) + 1;
    memcpy(p, s->hostname, hl);
    s->hostname = p;
    p += hl;
    size_t al = (s->auth_mechanisms ? strlen(s->auth_mechanisms) : 0) + 1;
    memcpy(p, s->auth_mechanisms ? s->auth_mechanisms : "", al);
    s->auth_mechanisms = p;
    p += al;
    for (int i = 0; optional_string(s, i); i++) {
        const char **f = optional_string(s, i);
        if (!*f) continue;
        size_t n = strlen(*f) + 1;
        memcpy(p, *f, n);
        *f = p;
        p += n;
    }
    return 0;
}

static int on_command(smtp_cmd_parser *parser, const smtp_cmd *cmd, void *user_data);
static int on_sasl_response(smtp_cmd_parser *parser, const smtp_sasl_response *resp,
                            void *user_data);

/* The decoding buffer: XCLIENT/XFORWARD and AUTH= values (at most a command line), and with
 * AUTH the LOGIN user name plus one decoded SASL response line. */
static size_t scratch_size(const smtp_server_settings *s)
{
    size_t n = s->max_line;
    if (s->extensions & SMTP_SERVER_EXT_AUTH) {
        /* SCRAM keeps its AuthMessage before the response it decodes (server_sasl.c). */
        size_t head = s->crypto ? SMTP_SRV_SCRAM_HEAD : SMTP_SRV_LOGIN_USER;
        size_t sasl = head + (s->max_auth_line / 4) * 3 + 3;
        if (sasl > n) n = sasl;
    }
    return n;
}

int smtp_srv_scratch(smtp_server *srv)
{
    if (srv->scratch) return 0;
    /* Most sessions never see XCLIENT, AUTH= or AUTH: allocated at first use, then kept. */
    srv->scratch = smtp_malloc(srv->mem, srv->scratch_cap);
    if (srv->scratch) return 0;
    smtp_srv_fail(srv, SMTP_ERR_NOMEM);
    return -1;
}

/*
 * The command parser allocates through this shim, which counts what it asks for so that
 * smtp_server_memory can tell it (the parser itself when it is made, its line buffer once,
 * with the first command line split across reads; nothing is ever reallocated).
 */
static void *parser_malloc(size_t n, void *ud)
{
    smtp_server *srv = ud;
    void *p = smtp_malloc(srv->mem, n);
    if (p) srv->parser_bytes += n;
    return p;
}

static void parser_free(void *p, void *ud)
{
    smtp_free(((smtp_server *)ud)->mem, p);
}

static void *parser_calloc(size_t k, size_t n, void *ud)
{
    smtp_server *srv = ud;
    void *p = smtp_calloc(srv->mem, k, n);
    if (p) srv->parser_bytes += k * n;
    return p;
}

static void *parser_realloc(void *old, size_t n, void *ud)
{
    smtp_server *srv = ud;
    void *p = smtp_realloc(srv->mem, old, n);
    if (p && !old) srv->parser_bytes += n;
    return p;
}

static int new_parser(smtp_server *srv)
{
    const smtp_server_settings *s = &srv->set;
    smtp_cmd_settings cs;
    smtp_cmd_settings_init(&cs);
    cs.max_line = s->max_line;
    /* The parser's buffer holds the longest line allowed: AUTH's (RFC 4954 4) only when AUTH
     * may be offered. Without it an AUTH line is held to max_line like any command. */
    cs.max_auth_line = s->max_auth_line;
    if (!(s->extensions & SMTP_SERVER_EXT_AUTH) && cs.max_auth_line > cs.max_line)
        cs.max_auth_line = cs.max_line;
    cs.flags = s->cmd_flags;
    smtp_cmd_callbacks ccb = {on_command, on_sasl_response};
    srv->parser_mem = (smtp_mem){srv, parser_malloc, parser_free, parser_calloc, parser_realloc};
    return smtp_cmd_parser_new(&srv->parser, &ccb, &cs, &srv->parser_mem, srv);
}

int smtp_server_new_versioned(smtp_server **pp, int callbacks_version,
                              const smtp_server_callbacks *callbacks_in, int settings_version,
                              const smtp_server_settings *settings_in, const smtp_mem *mem,
                              void *user_data)
{
    if (!pp) return SMTP_ERR_INVALID_ARGUMENT;
    *pp = NULL;
    if (!settings_size(settings_version) || !callbacks_size(callbacks_version))
        return SMTP_ERR_INVALID_ARGUMENT;
    /* What a caller's version lacks keeps its default. */
    smtp_server_settings set;
    settings_defaults(&set);
    if (settings_in) memcpy(&set, settings_in, settings_size(settings_version));
    smtp_server_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    if (callbacks_in) memcpy(&cbs, callbacks_in, callbacks_size(callbacks_version));
    const smtp_server_settings *settings = &set;
    const smtp_server_callbacks *callbacks = &cbs;
    if (!check_settings(settings)) return SMTP_ERR_INVALID_ARGUMENT;
    if (!smtp_srv_auth_settings_ok(settings, callbacks)) return SMTP_ERR_INVALID_ARGUMENT;
    mem = smtp_mem_or_default(mem);
    smtp_server *srv = smtp_calloc(mem, 1, sizeof *srv);
    if (!srv) return SMTP_ERR_NOMEM;
    srv->mem = mem;
    srv->cb = *callbacks;
    srv->user_data = user_data;
    srv->set = *settings;
    if (settings->crypto) {
        srv->crypto = *settings->crypto; /* the hook is copied, its ctx borrowed */
        srv->set.crypto = &srv->crypto;
    }
    int r = copy_strings(srv);
    smtp_ssize ehlo = r < 0 ? 0 : smtp_srv_ehlo_size(srv);
    if (!r && (ehlo < 0 || ehlo > SMTP_SRV_RESERVE)) r = SMTP_ERR_INVALID_ARGUMENT;
    if (!r) r = new_parser(srv);
    int prealloc = (settings->flags & SMTP_SERVER_PREALLOCATE) != 0;
    if (!r && prealloc) r = smtp_cmd_parser_reserve(srv->parser);
    if (!r) {
        srv->out_cap = prealloc ? settings->max_output : SMTP_SRV_OUT_MIN;
        srv->out = smtp_malloc(mem, srv->out_cap);
        if (!srv->out) r = SMTP_ERR_NOMEM;
    }
    srv->scratch_cap = scratch_size(settings);
    /* A refused token's reply waits there for the answer to the error challenge. */
    if ((settings->extensions & SMTP_SERVER_EXT_AUTH) && callbacks->on_auth_token)
        srv->scratch_cap += SMTP_SRV_REFUSAL;
    /* A session that offers AUTH or trusts its peer from the start will need the decoding
     * buffer (its parser already holds AUTH-sized lines): at once. Others when first used. */
    if (!r && (prealloc || (settings->extensions & SMTP_SERVER_EXT_AUTH) || settings->trust)) {
        srv->scratch = smtp_malloc(mem, srv->scratch_cap);
        if (!srv->scratch) r = SMTP_ERR_NOMEM;
    }
    if (!r && prealloc) r = smtp_srv_env_reserve(srv);
    if (!r) r = smtp_srv_pipe_new(srv);
    if (r) {
        smtp_server_del(srv);
        return r;
    }
    srv->tls_active = (settings->flags & SMTP_SERVER_TLS) != 0;
    srv->trust = settings->trust;
    srv->ext_allowed = settings->extensions;
    srv->param_ext = smtp_srv_param_ext(settings->extensions);
    *pp = srv;
    return 0;
}

void smtp_server_del(smtp_server *srv)
{
    if (!srv) return;
    smtp_cmd_parser_del(srv->parser);
    smtp_free(srv->mem, srv->out);
    smtp_free(srv->mem, srv->scratch);
    smtp_free(srv->mem, srv->strings);
    smtp_srv_env_free(srv);
    smtp_srv_pipe_free(srv);
    smtp_free(srv->mem, srv);
}

size_t smtp_server_memory(const smtp_server *srv)
{
    if (!srv) return 0;
    const smtp_server_settings *s = &srv->set;
    size_t n = sizeof *srv + srv->parser_bytes + srv->out_cap;
    if (srv->scratch) n += srv->scratch_cap;
    n += smtp_srv_env_memory(srv);
    if (srv->ring) n += srv->ring_cap * sizeof *srv->ring;
    return n + strings_size(s); /* copy_strings' one allocation */
}

/* ---- RFC 2920 synchronization (SMTP_SERVER_STRICT_PIPELINING) ---- */

void smtp_srv_sync_begin(smtp_server *srv)
{
    srv->sync_owed = 1;
}

void smtp_srv_sync_settle(smtp_server *srv)
{
    /* A BDAT's reply comes after its chunk (RFC 3030 2): settled once the chunk was read. */
    if (!srv->sync_owed || srv->decision != SMTP_SRV_DECISION_NONE || srv->ring_len ||
        srv->input == SMTP_SRV_IN_CHUNK)
        return;
    srv->sync_owed = 0;
    srv->sync_end = srv->out_total;
}

static int strict(const smtp_server *srv)
{
    return (srv->set.flags & SMTP_SERVER_STRICT_PIPELINING) != 0;
}

static int sync_checked(const smtp_server *srv)
{
    switch (srv->phase) {
    case SMTP_SRV_NEW:
    case SMTP_SRV_PROXY: /* the proxy speaks first and waits for nothing */
    case SMTP_SRV_TLS_WAIT: return 0;
    default: return strict(srv) && !srv->closing && !srv->error;
    }
}

/*
 * Is the client sending now talking before a reply it must wait for was written? Bytes
 * offered while that reply is still being decided are only remembered (sync_early): they stay
 * unconsumed as always, and are judged once the decision is made, so that the outcome does
 * not depend on whether they came in the read that carried the command or in a later one.
 */
static int out_of_sync(smtp_server *srv)
{
    if (!sync_checked(srv)) return 0;
    if (srv->decision != SMTP_SRV_DECISION_NONE) {
        if (srv->sync_owed) srv->sync_early = 1;
        return 0;
    }
    return srv->sync_early || srv->out_written < srv->sync_end;
}

/* RFC 2920 3.1: the commands that may stand anywhere in a group; all others end one. */
static int ends_group(const smtp_server *srv, smtp_verb verb)
{
    /* Without PIPELINING negotiated by EHLO/LHLO, every command waits for its reply. */
    if (!(srv->set.extensions & SMTP_SERVER_EXT_PIPELINING) || !srv->ehlo) return 1;
    switch (verb) {
    case SMTP_VERB_RSET:
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT:
    case SMTP_VERB_BDAT: /* RFC 3030 2 */
    case SMTP_VERB_XFORWARD: /* sent with MAIL by Postfix's client */ return 0;
    default: return 1;
    }
}

/* The client did not wait: drop what is pending, 554 and close (as Postfix and Exim do). */
static int sync_violation(smtp_server *srv)
{
    srv->decision = SMTP_SRV_DECISION_NONE;
    srv->lmtp_left = 0;
    srv->lmtp_fill = 0;
    srv->sync_owed = 0;
    srv->sync_early = 0;
    if (smtp_srv_pipe_drop(srv, SMTP_SERVER_ABORT_SHUTDOWN) < 0) return srv->error;
    if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_SHUTDOWN) < 0) return srv->error;
    /* Best effort: the queue may be full (the client did not read either); then it is dropped,
     * without failing the session. */
    static const char text[] = "Error: SMTP protocol synchronization";
    if (smtp_srv_queue_line(srv, 554, "5.5.0", text, sizeof text - 1) == 0)
        smtp_srv_count_error(srv, 554);
    srv->closing = 1;
    return 0;
}

/* ---- the greeting ---- */

int smtp_srv_greet(smtp_server *srv)
{
    srv->phase = SMTP_SRV_GREETING;
    smtp_srv_sync_begin(srv);
    if (SMTP_SRV_ASK0(srv, SMTP_SRV_DECISION_CONNECT, on_connect) < 0) return -1;
    smtp_srv_sync_settle(srv);
    return 0;
}

void smtp_srv_greeted(smtp_server *srv, int refused)
{
    /* RFC 5321 3.1: a refused client may only QUIT; everything else gets 503. */
    srv->phase = refused ? SMTP_SRV_REFUSED : SMTP_SRV_NO_HELO;
}

int smtp_server_start(smtp_server *srv)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->phase != SMTP_SRV_NEW || srv->in_callback) return SMTP_ERR_INVALID_STATE;
    if (srv->set.flags & SMTP_SERVER_PROXY) {
        srv->phase = SMTP_SRV_PROXY; /* the greeting waits for the header */
        return 0;
    }
    return smtp_srv_greet(srv) < 0 ? srv->error : 0;
}

/* ---- commands ---- */

/* NOOP, RSET, VRFY, ETRN, HELP: past the limit the session closes (Postfix's junk limit). */
static int junk(smtp_server *srv)
{
    if (!srv->set.junk_command_limit || ++srv->junk <= srv->set.junk_command_limit) return 0;
    int r = smtp_srv_queue_host_reply(srv, 421, "4.7.0", "Error: too many junk commands");
    return r < 0 ? smtp_srv_fail(srv, r) : 1;
}

static int cmd_helo(smtp_server *srv, const smtp_cmd *cmd)
{
    int lmtp = (srv->set.flags & SMTP_SERVER_LMTP) != 0;
    if (lmtp != (cmd->verb == SMTP_VERB_LHLO))
        return smtp_srv_queue_reply(srv, 500, "5.5.1",
                                    lmtp ? "Error: use LHLO" : "Error: command not recognized");
    /* RFC 5321 4.1.4: HELO/EHLO in a session resets it as RSET does. */
    if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_RESET) < 0) return -1;
    srv->decision_verb = cmd->verb;
    if (smtp_srv_env_ask(srv, cmd) < 0) return -1;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_HELO, on_helo, cmd->verb, cmd->domain);
}

void smtp_srv_helo_accepted(smtp_server *srv)
{
    srv->ehlo = srv->decision_verb != SMTP_VERB_HELO; /* RFC 5321 4.1.1.1, RFC 2033 4.1 */
    srv->phase = SMTP_SRV_READY;
    smtp_srv_env_helo(srv);
}

/* The parameter parsers' unknown-parameter hook: the application's own names (settings
 * mail_param_names, rcpt_param_names, given as `names`) are accepted; any other is 555. */
static int application_param(const smtp_param *param, void *names)
{
    for (const char *w = names; *w;) {
        size_t n = strcspn(w, " ");
        if (smtp_span_ieq_span(param->key.ptr, param->key.len, w, n)) return 0;
        w += n;
        while (*w == ' ')
            w++;
    }
    return SMTP_PARAM_UNRECOGNIZED;
}

/* The parameter extensions that follow from settings.extensions alone (srv->param_ext, set
 * with the extensions); param_extensions adds those that depend on the session. */
unsigned smtp_srv_param_ext(unsigned e)
{
    unsigned p = 0;
    if (e & SMTP_SERVER_EXT_SIZE) p |= SMTP_PARAM_EXT_SIZE;
    if (e & SMTP_SERVER_EXT_8BITMIME) p |= SMTP_PARAM_EXT_8BITMIME;
    if ((e & SMTP_SERVER_EXT_BINARYMIME) && (e & SMTP_SERVER_EXT_CHUNKING))
        p |= SMTP_PARAM_EXT_BINARYMIME;
    if (e & SMTP_SERVER_EXT_SMTPUTF8) p |= SMTP_PARAM_EXT_SMTPUTF8;
    if (e & SMTP_SERVER_EXT_DSN) p |= SMTP_PARAM_EXT_DSN;
    if (e & SMTP_SERVER_EXT_MT_PRIORITY) p |= SMTP_PARAM_EXT_MTPRIORITY;
    if (e & SMTP_SERVER_EXT_DELIVERBY) p |= SMTP_PARAM_EXT_DELIVERBY;
    if (e & SMTP_SERVER_EXT_FUTURERELEASE) p |= SMTP_PARAM_EXT_FUTURERELEASE;
    if (e & SMTP_SERVER_EXT_RRVS) p |= SMTP_PARAM_EXT_RRVS;
    return p;
}

/* The parameter extensions the client may use now (what was advertised). */
static unsigned param_extensions(const smtp_server *srv)
{
    unsigned p = srv->param_ext;
    if ((srv->set.extensions & SMTP_SERVER_EXT_REQUIRETLS) && srv->tls_active)
        p |= SMTP_PARAM_EXT_REQUIRETLS;
    if (smtp_srv_auth_offered(srv)) p |= SMTP_PARAM_EXT_AUTH; /* RFC 4954 5 */
    return p;
}

static int param_fault(smtp_server *srv, const smtp_param_fault *f)
{
    /* RFC 5321 4.1.1.11: 555 for an unrecognized parameter, 501 for a malformed one. */
    return smtp_srv_queue_reply(srv, f->reply_code == 555 ? 555 : 501, "5.5.4",
                                f->text ? f->text : "Error");
}

/* A path that failed smtp_path_parse: non-ASCII without SMTPUTF8 is 553 5.6.7 (RFC 6531). */
static int path_fault(smtp_server *srv, int err, int utf8, const char *enhanced, const char *what)
{
    if (err == SMTP_ERR_UTF8 && !utf8)
        return smtp_srv_queue_reply(srv, 553, "5.6.7", "Error: non-ASCII address without SMTPUTF8");
    return smtp_srv_queue_reply(srv, 501, enhanced, what);
}

static unsigned path_flags(const smtp_server *srv, int utf8)
{
    unsigned f = utf8 ? SMTP_PATH_UTF8 : 0;
    if (srv->set.cmd_flags & SMTP_CMD_LENIENT_PATH_BRACKETS) f |= SMTP_PATH_LENIENT_BRACKETS;
    return f;
}

static int cmd_mail(smtp_server *srv, const smtp_cmd *cmd)
{
    if (srv->phase == SMTP_SRV_NO_HELO)
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: send HELO/EHLO first");
    if (smtp_srv_in_transaction(srv))
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: nested MAIL command");
    if (srv->set.max_messages && srv->messages >= srv->set.max_messages) {
        int r = smtp_srv_queue_host_reply(srv, 421, "4.7.0", "Error: too many messages");
        return r < 0 ? smtp_srv_fail(srv, r) : 0;
    }
    /* Every field is set below (the parsers clear what they fill): no memset of the whole. */
    smtp_server_mail m;
    m.path = cmd->path;
    m.param_text = cmd->params;
    smtp_params_opts opts;
    smtp_params_opts_init(&opts);
    opts.extensions = param_extensions(srv);
    if (srv->set.mail_param_names) {
        opts.unknown = application_param;
        opts.user_data = (void *)(uintptr_t)srv->set.mail_param_names;
    }
    if (smtp_mail_params_parse(cmd->params.ptr, cmd->params.len, &opts, &m.params) < 0)
        return param_fault(srv, &m.params.fault);
    /* RFC 4865: a HOLDFOR longer than the interval the server announced. */
    if ((m.params.present & SMTP_MAIL_HOLDFOR) &&
        m.params.holdfor > srv->set.future_release_interval)
        return smtp_srv_queue_reply(srv, 501, "5.5.4",
                                    "Error: HOLDFOR exceeds max-future-release-interval");
    int utf8 = (m.params.present & SMTP_MAIL_SMTPUTF8) != 0;
    int e = smtp_path_parse(cmd->path.ptr, cmd->path.len,
                            SMTP_PATH_ALLOW_NULL | path_flags(srv, utf8), &m.parsed);
    if (e < 0) return path_fault(srv, e, utf8, "5.1.7", "Error: bad sender address syntax");
    uint64_t max = srv->set.max_message_size;
    if ((m.params.present & SMTP_MAIL_SIZE) && max && m.params.size > max)
        return smtp_srv_queue_reply(srv, 552, "5.3.4",
                                    "Error: message size exceeds fixed limit"); /* RFC 1870 */
    if (smtp_srv_mail_auth(srv, &m.params, &m.auth) < 0) return -1;
    srv->binarymime = (m.params.present & SMTP_MAIL_BODY) && m.params.body == SMTP_BODY_BINARYMIME;
    srv->smtputf8 = utf8;
    if (smtp_srv_env_ask(srv, cmd) < 0) return -1;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_MAIL, on_mail, &m);
}

void smtp_srv_mail_accepted(smtp_server *srv)
{
    srv->phase = SMTP_SRV_MAIL;
    smtp_srv_env_add(srv);
}

int smtp_srv_rcpt_refusal(const smtp_server *srv, size_t pending, const char **enhanced,
                          const char **text)
{
    /* A RCPT read ahead (server_pipe.c) counts on the MAIL pending being accepted. */
    if (!smtp_srv_in_transaction(srv) && !(srv->spec && srv->decision == SMTP_SRV_DECISION_MAIL))
        return *enhanced = "5.5.1", *text = "Error: need MAIL command", 503;
    if (srv->phase == SMTP_SRV_MESSAGE)
        return *enhanced = "5.5.1", *text = "Error: RCPT inside BDAT transfer", 503;
    if (srv->rcpts + pending >= srv->set.max_recipients) /* RFC 5321 4.5.3.1.10 */
        return *enhanced = "4.5.3", *text = "Error: too many recipients", 452;
    return 0;
}

int smtp_srv_cmd_rcpt(smtp_server *srv, const smtp_cmd *cmd)
{
    /* The recipients still being decided count as accepted (pipelined deferral). */
    size_t pending = srv->spec ? smtp_srv_pending_rcpts(srv) : 0;
    if (srv->phase != SMTP_SRV_MAIL && srv->phase != SMTP_SRV_RCPTS) { /* else none but 452 */
        const char *enhanced, *text;
        int code = smtp_srv_rcpt_refusal(srv, pending, &enhanced, &text);
        if (code) return smtp_srv_queue_reply(srv, code, enhanced, text);
    } else if (srv->rcpts + pending >= srv->set.max_recipients) { /* RFC 5321 4.5.3.1.10 */
        return smtp_srv_queue_reply(srv, 452, "4.5.3", "Error: too many recipients");
    }
    smtp_server_rcpt rc; /* every field is set below, as in cmd_mail */
    rc.path = cmd->path;
    rc.param_text = cmd->params;
    smtp_params_opts opts;
    smtp_params_opts_init(&opts);
    opts.extensions = param_extensions(srv);
    opts.smtputf8 = srv->smtputf8;
    if (srv->set.rcpt_param_names) {
        opts.unknown = application_param;
        opts.user_data = (void *)(uintptr_t)srv->set.rcpt_param_names;
    }
    if (smtp_rcpt_params_parse(cmd->params.ptr, cmd->params.len, &opts, &rc.params) < 0)
        return param_fault(srv, &rc.params.fault);
    int e =
        smtp_path_parse(cmd->path.ptr, cmd->path.len,
                        SMTP_PATH_ALLOW_POSTMASTER | path_flags(srv, srv->smtputf8), &rc.parsed);
    if (e < 0)
        return path_fault(srv, e, srv->smtputf8, "5.1.3", "Error: bad recipient address syntax");
    rc.index = srv->rcpts + pending;
    if (smtp_srv_env_ask(srv, cmd) < 0) return -1;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_RCPT, on_rcpt, &rc);
}

void smtp_srv_rcpt_accepted(smtp_server *srv)
{
    srv->rcpts++;
    srv->phase = SMTP_SRV_RCPTS;
    smtp_srv_env_add(srv);
}

static int cmd_vrfy(smtp_server *srv, const smtp_cmd *cmd)
{
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_VRFY, on_vrfy, cmd->arg);
}

static int cmd_starttls(smtp_server *srv)
{
    if (!(srv->set.extensions & SMTP_SERVER_EXT_STARTTLS))
        return smtp_srv_queue_reply(srv, 502, "5.5.1", "Error: command not implemented");
    if (srv->tls_active)
        return smtp_srv_queue_reply(srv, 554, "5.5.1", "Error: TLS already active");
    if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_RESET) < 0) return -1;
    if (smtp_srv_queue_reply(srv, 220, "2.0.0", "Ready to start TLS") < 0) return -1;
    /* RFC 3207 4.2: nothing after this line is read before the handshake. */
    srv->phase = SMTP_SRV_TLS_WAIT;
    return smtp_srv_cb_result(srv, SMTP_SRV_CALL0(srv, on_starttls));
}

static int cmd_quit(smtp_server *srv)
{
    if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_RESET) < 0) return -1;
    if (smtp_srv_queue_reply(srv, 221, "2.0.0", "Bye") < 0) return -1;
    srv->closing = 1;
    return 0;
}

/* A line the command parser flagged: answer with the reply it names. */
static int cmd_error(smtp_server *srv, const smtp_cmd *cmd)
{
    const char *enhanced = NULL, *text = NULL;
    int code = smtp_cmd_error_reply(cmd->error, cmd->verb, &enhanced, &text);
    if (smtp_srv_queue_reply(srv, code, enhanced, text) < 0) return -1;
    /* RFC 3030 3: a BDAT whose size cannot be read leaves the stream out of sync: close. */
    if (code == 521) srv->closing = 1;
    return 0;
}

static int dispatch(smtp_server *srv, const smtp_cmd *cmd)
{
    if (cmd->error) return cmd_error(srv, cmd);
    /* Only the BDATs pipelined right after a refused one belong to its failed message. */
    if (cmd->verb != SMTP_VERB_BDAT) srv->chunk_failed = 0;
    /* RFC 5321 3.1: a client greeted with a refusal may only QUIT. */
    if (srv->phase == SMTP_SRV_REFUSED && cmd->verb != SMTP_VERB_QUIT)
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: no SMTP service here");
    int j;
    switch (cmd->verb) {
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
    case SMTP_VERB_LHLO: return cmd_helo(srv, cmd);
    case SMTP_VERB_MAIL: return cmd_mail(srv, cmd);
    case SMTP_VERB_RCPT: return smtp_srv_cmd_rcpt(srv, cmd);
    case SMTP_VERB_DATA: return smtp_srv_cmd_data(srv);
    case SMTP_VERB_BDAT: return smtp_srv_cmd_bdat(srv, cmd);
    case SMTP_VERB_QUIT: return cmd_quit(srv);
    case SMTP_VERB_STARTTLS: return cmd_starttls(srv);
    case SMTP_VERB_RSET:
        if ((j = junk(srv)) != 0) return j < 0 ? j : 0;
        /* RFC 5321 4.1.1.5: always 250, clears the transaction, never closes. */
        if (smtp_srv_reset_transaction(srv, SMTP_SERVER_ABORT_RESET) < 0) return -1;
        return smtp_srv_queue_reply(srv, 250, "2.0.0", "Ok");
    case SMTP_VERB_NOOP:
        if ((j = junk(srv)) != 0) return j < 0 ? j : 0;
        return smtp_srv_queue_reply(srv, 250, "2.0.0", "Ok");
    case SMTP_VERB_VRFY:
        if ((j = junk(srv)) != 0) return j < 0 ? j : 0;
        return cmd_vrfy(srv, cmd);
    case SMTP_VERB_HELP:
        if ((j = junk(srv)) != 0) return j < 0 ? j : 0;
        return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_HELP, on_help, cmd->arg);
    case SMTP_VERB_ETRN:
        if ((j = junk(srv)) != 0) return j < 0 ? j : 0;
        if (!srv->cb.on_etrn)
            return smtp_srv_queue_reply(srv, 502, "5.5.1", "Error: command not implemented");
        return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_ETRN, on_etrn, cmd->arg);
    case SMTP_VERB_AUTH: return smtp_srv_cmd_auth(srv, cmd);
    case SMTP_VERB_XCLIENT:
    case SMTP_VERB_XFORWARD: return smtp_srv_cmd_xclient(srv, cmd);
    case SMTP_VERB_EXPN: /* no list expansion: it would disclose addresses */
    default: return smtp_srv_queue_reply(srv, 502, "5.5.1", "Error: command not implemented");
    }
}

/* Can the session go on: no decision pending, room for a reply...? Input aside. */
static int can_proceed(const smtp_server *srv)
{
    return srv->phase != SMTP_SRV_NEW && srv->phase != SMTP_SRV_TLS_WAIT && !srv->error &&
           !srv->closing && srv->decision == SMTP_SRV_DECISION_NONE && !srv->lmtp_fill &&
           smtp_srv_out_room(srv) >= SMTP_SRV_RESERVE;
}

/* Can input be consumed now? */
static int can_consume(const smtp_server *srv)
{
    return can_proceed(srv) && !smtp_srv_slowed_down(srv);
}

int smtp_srv_resume(smtp_server *srv)
{
    /* Past the soft error limit too: completing an empty chunk reads nothing, and its reply is
     * held like any other (smtp_server_output_delay); the adapter may have no input to feed,
     * the client waiting for that reply. */
    if (srv->in_callback || srv->ring_len || !can_proceed(srv)) return 0;
    if (srv->input == SMTP_SRV_IN_CHUNK && srv->chunk_left == 0 &&
        smtp_srv_data_read(srv, NULL, 0) < 0)
        return srv->error ? srv->error : SMTP_ERR_CALLBACK_FAILURE;
    return 0;
}

int smtp_srv_parser_result(smtp_server *srv)
{
    if (srv->error) return -1;
    /* Commands read ahead whose decisions were answered meanwhile: their replies, in order. */
    if (srv->ring_len && srv->decision == SMTP_SRV_DECISION_NONE && smtp_srv_pipe_flush(srv) < 0)
        return -1;
    smtp_srv_sync_settle(srv);
    /* Under strict pipelining, stop after a reply the client must wait for, so that the read
     * loop sees whether more input came before it was written. */
    if (srv->stop || srv->input != SMTP_SRV_IN_COMMAND || !can_consume(srv) ||
        (strict(srv) && srv->out_written < srv->sync_end))
        return SMTP_PAUSE;
    return 0;
}

static int on_command(smtp_cmd_parser *parser, const smtp_cmd *cmd, void *user_data)
{
    (void)parser;
    smtp_server *srv = user_data;
    if (ends_group(srv, cmd->verb)) smtp_srv_sync_begin(srv);
    if (srv->admitted) {
        /* A command let in while decisions are pending is read ahead (server_pipe.c). */
        srv->admitted = 0;
        if (srv->decision != SMTP_SRV_DECISION_NONE || srv->ring_len) {
            if (smtp_srv_pipe_dispatch(srv, cmd) < 0) return -1;
            return smtp_srv_parser_result(srv);
        }
    }
    if (dispatch(srv, cmd) < 0) return -1;
    return smtp_srv_parser_result(srv);
}

static int on_sasl_response(smtp_cmd_parser *parser, const smtp_sasl_response *resp,
                            void *user_data)
{
    (void)parser;
    smtp_server *srv = user_data;
    smtp_srv_sync_begin(srv); /* RFC 4954 4: each step waits for the server's answer */
    if (smtp_srv_sasl_response(srv, resp) < 0) return -1;
    return smtp_srv_parser_result(srv);
}

/* Reports bytes fed between STARTTLS and the handshake (once), and closes by default. */
static int tls_injection(smtp_server *srv)
{
    srv->injection = 1;
    if (smtp_srv_cb_result(srv, SMTP_SRV_CALL0(srv, on_tls_injection)) < 0) return srv->error;
    if (srv->set.flags & SMTP_SERVER_KEEP_TLS_INJECTION) return 0;
    int r = smtp_srv_queue_host_reply(srv, 421, "4.7.0", "Error: pipelined input after STARTTLS");
    if (r < 0) return smtp_srv_fail(srv, r);
    return 0; /* the 421 closed the session: no handshake is awaited any more */
}

smtp_ssize smtp_server_read(smtp_server *srv, const char *data, size_t len)
{
    if (!srv || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->error) return srv->error;
    if (srv->phase == SMTP_SRV_NEW || srv->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t pos = 0;
    srv->stop = 0;
    for (;;) {
        if (pos < len && out_of_sync(srv)) {
            int r = sync_violation(srv);
            if (r < 0) return r;
            break;
        }
        if (srv->ring_len && srv->decision == SMTP_SRV_DECISION_NONE) {
            int r = smtp_srv_pipe_flush(srv);
            if (r < 0) return r;
        }
        if (!srv->stop && srv->ring_closed && smtp_srv_ahead_open(srv)) {
            /* The chunk of a BDAT read ahead, given now (SMTP_SERVER_CHUNK_AHEAD). */
            if (pos == len) break;
            smtp_ssize n = smtp_srv_ahead_read(srv, data + pos, len - pos);
            if (n < 0) return smtp_srv_fail(srv, srv->error ? srv->error : (int)n);
            pos += (size_t)n;
            continue;
        }
        /* While a decision is pending, PIPELINING may let the next command in (server_pipe.c). */
        if (srv->stop || (!can_consume(srv) &&
                          !(srv->ring_cap && smtp_srv_pipe_admit(srv, data + pos, len - pos))))
            break;
        smtp_ssize n;
        if (srv->phase == SMTP_SRV_PROXY) {
            if (pos == len) break;
            n = smtp_srv_proxy_read(srv, data + pos, len - pos);
        } else if (srv->input == SMTP_SRV_IN_CHUNK && srv->chunk_left == 0) {
            n = smtp_srv_data_read(srv, NULL, 0); /* a chunk ends without more bytes */
        } else if (pos == len) {
            break;
        } else if (srv->input == SMTP_SRV_IN_COMMAND) {
            n = smtp_cmd_parser_read(srv->parser, data + pos, len - pos);
        } else {
            n = smtp_srv_data_read(srv, data + pos, len - pos);
        }
        if (n < 0) return smtp_srv_fail(srv, srv->error ? srv->error : (int)n);
        pos += (size_t)n;
    }
    /* A pause makes progress: a read that paused before any byte still consumes one. */
    if (srv->stop && pos == 0 && len > 0 && !srv->error)
        pos = (size_t)smtp_srv_take_carry(srv, data[0]);
    if (srv->phase == SMTP_SRV_TLS_WAIT && pos < len && !srv->injection) {
        int r = tls_injection(srv);
        if (r < 0) return r;
    }
    if (srv->error) return srv->error; /* e.g. the output queue could not grow */
    return (smtp_ssize)pos;
}

int smtp_server_pending(const smtp_server *srv)
{
    return srv && (srv->decision != SMTP_SRV_DECISION_NONE || srv->ring_len);
}

int smtp_server_want_read(const smtp_server *srv)
{
    if (!srv) return 0;
    if (srv->admitted) return !srv->error && !srv->closing; /* the rest of a line read ahead */
    if (srv->ring_len && srv->decision == SMTP_SRV_DECISION_NONE) return 0; /* in a callback */
    return can_consume(srv) || (smtp_srv_pipe_open(srv) && !srv->pipe_wait) ||
           smtp_srv_ahead_open(srv);
}

int smtp_server_want_write(const smtp_server *srv)
{
    return srv && srv->out_len > 0;
}

unsigned smtp_server_output_delay(const smtp_server *srv)
{
    return srv && srv->out_len ? srv->out_delay : 0;
}

int smtp_server_want_tls(const smtp_server *srv)
{
    return srv && srv->phase == SMTP_SRV_TLS_WAIT && !srv->closing && !srv->error;
}

int smtp_server_in_transaction(const smtp_server *srv)
{
    return srv && smtp_srv_in_transaction(srv);
}

int smtp_server_want_close(const smtp_server *srv)
{
    /* LMTP copies still owed are dropped once the session failed. */
    return !srv ||
           ((srv->closing || srv->error) && srv->out_len == 0 && (!srv->lmtp_fill || srv->error));
}

int smtp_server_tls_done(smtp_server *srv, int ok)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->phase != SMTP_SRV_TLS_WAIT || srv->out_len || srv->closing || srv->in_callback)
        return SMTP_ERR_INVALID_STATE;
    if (!ok) {
        /* Neither plaintext nor TLS can carry a word now: close silently. */
        srv->closing = 1;
        return 0;
    }
    /* RFC 3207 4.2: discard all knowledge obtained from the client. */
    srv->phase = SMTP_SRV_NO_HELO;
    srv->tls_active = 1;
    srv->injection = 0;
    srv->ehlo = 0;
    smtp_srv_clear_transaction(srv, 0);
    smtp_srv_auth_reset(srv);
    return 0;
}

smtp_server_wait smtp_server_timeout(const smtp_server *srv, uint32_t *ms)
{
    smtp_server_wait w = SMTP_SERVER_WAIT_NONE;
    uint32_t t = 0;
    if (srv && srv->phase != SMTP_SRV_NEW && srv->phase != SMTP_SRV_TLS_WAIT && !srv->closing &&
        !srv->error && srv->decision == SMTP_SRV_DECISION_NONE && !srv->ring_len &&
        !smtp_server_output_delay(srv)) {
        int command = srv->input == SMTP_SRV_IN_COMMAND;
        w = command ? SMTP_SERVER_WAIT_COMMAND : SMTP_SERVER_WAIT_DATA;
        t = command ? srv->set.timeout_command : srv->set.timeout_data;
    }
    if (ms) *ms = t;
    return w;
}

/* Ends the session from the adapter's side: abort what is in progress, queue a 421, close. */
static int end_session(smtp_server *srv, smtp_server_abort_reason why, const char *enhanced,
                       const char *text)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->in_callback || srv->closing || srv->error) return SMTP_ERR_INVALID_STATE;
    srv->decision = SMTP_SRV_DECISION_NONE;
    srv->lmtp_left = 0;
    /* Before the PROXY header nobody has been greeted: close without a word. */
    int greeted = srv->phase != SMTP_SRV_PROXY;
    if (smtp_srv_pipe_drop(srv, why) < 0) return srv->error;
    if (smtp_srv_reset_transaction(srv, why) < 0) return srv->error;
    if (text && greeted) {
        /* Dropped when the queue is at max_output; a failed growth is fatal (NOMEM). */
        smtp_srv_queue_host_reply(srv, 421, enhanced, text);
        if (srv->error) return srv->error;
    }
    srv->out_delay = 0; /* the adapter's decision to end: no more slowing down */
    srv->closing = 1;
    return 0;
}

int smtp_server_timeout_expired(smtp_server *srv)
{
    return end_session(srv, SMTP_SERVER_ABORT_TIMEOUT, "4.4.2", "Error: timeout exceeded");
}

int smtp_server_shutdown(smtp_server *srv)
{
    return end_session(srv, SMTP_SERVER_ABORT_SHUTDOWN, "4.3.2", "Service shutting down");
}

int smtp_server_eof(smtp_server *srv)
{
    if (srv && !srv->in_callback && !srv->error && srv->closing) {
        /* Closed after QUIT or a 421: only a message still streaming is left to drop. */
        srv->closing = 0;
        int r = end_session(srv, SMTP_SERVER_ABORT_EOF, NULL, NULL);
        srv->closing = 1;
        return r;
    }
    return end_session(srv, SMTP_SERVER_ABORT_EOF, NULL, NULL);
}

int smtp_server_tls(const smtp_server *srv)
{
    return srv && srv->tls_active;
}
