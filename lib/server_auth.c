/* SPDX-License-Identifier: MIT */
/*
 * The server engine's AUTH command (RFC 4954) and its SASL exchanges.
 *
 * How it works: AUTH picks one of the advertised mechanisms. PLAIN (RFC 4616) and LOGIN are
 * run here: their credentials are decoded and checked for shape, then handed to on_auth, a
 * policy callback like the others (answer at once or DEFER). CRAM-MD5, SCRAM-SHA-256,
 * XOAUTH2, OAUTHBEARER and EXTERNAL are built in too when their callbacks are set
 * (server_sasl.c). Any other mechanism is run by the application through on_sasl, one step per
 * client message: it answers each step with a challenge (334), an acceptance (235) or a
 * refusal.
 *
 * Between a 334 and the client's answer the command parser reads the next line as a SASL
 * response (smtp_cmd_parser_expect_sasl: up to max_auth_line octets, "*" cancels). Responses
 * are base64-decoded into the session's scratch buffer, allocated at the first AUTH and then
 * kept, so later exchanges allocate nothing. They are decoded at scratch + auth_head: after
 * the LOGIN user name, kept at the head of that buffer while the password is read, or after
 * what SCRAM keeps (server_sasl.c). The decoded data stays untouched while a decision is
 * pending, so the spans handed to the callbacks remain valid after DEFER.
 *
 * Every exchange that does not end in 235 counts against auth_attempt_limit; at the limit the
 * session ends with 421 (like Postfix's smtpd_hard_error_limit, but for AUTH alone).
 */
#include "server_internal.h"

#include <smtp/codec.h>

#include <string.h>

/* The next space-separated word of `list` from *pos; 0 at the end. */
static int next_word(const char *list, size_t *pos, smtp_span *w)
{
    size_t i = *pos;
    while (list[i] == ' ')
        i++;
    size_t b = i;
    while (list[i] && list[i] != ' ')
        i++;
    *pos = i;
    w->ptr = list + b;
    w->len = i - b;
    return w->len > 0;
}

/* How mechanism `name` runs: built in when its callback (and crypto) is there, else on_sasl. */
static smtp_srv_mech mech_kind(const smtp_server_settings *s, const smtp_server_callbacks *cb,
                               smtp_span name)
{
    static const struct {
        const char *name;
        smtp_srv_mech kind;
    } names[] = {{"plain", SMTP_SRV_MECH_PLAIN},       {"login", SMTP_SRV_MECH_LOGIN},
                 {"cram-md5", SMTP_SRV_MECH_CRAM_MD5}, {"scram-sha-256", SMTP_SRV_MECH_SCRAM},
                 {"xoauth2", SMTP_SRV_MECH_XOAUTH2},   {"oauthbearer", SMTP_SRV_MECH_OAUTHBEARER},
                 {"external", SMTP_SRV_MECH_EXTERNAL}};
    const smtp_crypto *k = s->crypto;
    for (size_t i = 0; i < SMTP_ARRAY_LEN(names); i++) {
        if (!smtp_span_ieq(name.ptr, name.len, names[i].name)) continue;
        switch (names[i].kind) {
        case SMTP_SRV_MECH_CRAM_MD5:
            return cb->on_auth_lookup && k && k->hmac_md5 && k->random ? names[i].kind
                                                                       : SMTP_SRV_MECH_OTHER;
        case SMTP_SRV_MECH_SCRAM:
            return cb->on_auth_lookup && k && k->hmac_sha256 && k->sha256 && k->random
                       ? names[i].kind
                       : SMTP_SRV_MECH_OTHER;
        case SMTP_SRV_MECH_XOAUTH2:
        case SMTP_SRV_MECH_OAUTHBEARER:
        case SMTP_SRV_MECH_EXTERNAL: return cb->on_auth_token ? names[i].kind : SMTP_SRV_MECH_OTHER;
        default: return names[i].kind;
        }
    }
    return SMTP_SRV_MECH_OTHER;
}

/* Is the mechanism offered on this connection? The built-in EXTERNAL needs TLS: its
 * credential is the client certificate (RFC 4422 A). */
static int offered_now(const smtp_server *srv, smtp_srv_mech kind)
{
    return kind != SMTP_SRV_MECH_EXTERNAL || srv->tls_active;
}

size_t smtp_srv_auth_list(const smtp_server *srv, char *out, size_t cap)
{
    const char *list = srv->set.auth_mechanisms;
    size_t pos = 0, n = 0;
    smtp_span w;
    while (next_word(list, &pos, &w)) {
        if (!offered_now(srv, mech_kind(&srv->set, &srv->cb, w))) continue;
        if (n + !!n + w.len >= cap) break; /* not reached: the list is at most 400 octets */
        if (n) out[n++] = ' ';
        memcpy(out + n, w.ptr, w.len);
        n += w.len;
    }
    out[n] = '\0';
    return n;
}

int smtp_srv_auth_offered(const smtp_server *srv)
{
    const smtp_server_settings *s = &srv->set;
    char list[SMTP_SRV_AUTH_LIST];
    /* RFC 4954 4: no plaintext passwords over an unencrypted channel unless allowed. */
    return (s->extensions & SMTP_SERVER_EXT_AUTH) &&
           (srv->tls_active || (s->flags & SMTP_SERVER_AUTH_PLAINTEXT)) &&
           smtp_srv_auth_list(srv, list, sizeof list) > 0;
}

int smtp_srv_auth_settings_ok(const smtp_server_settings *s, const smtp_server_callbacks *cb)
{
    if (!(s->extensions & SMTP_SERVER_EXT_AUTH)) return 1;
    const char *list = s->auth_mechanisms ? s->auth_mechanisms : "";
    size_t pos = 0, n = 0;
    smtp_span w;
    while (next_word(list, &pos, &w)) {
        n++;
        if (!smtp_is_sasl_mech(w.ptr, w.len)) return 0;
        switch (mech_kind(s, cb, w)) {
        case SMTP_SRV_MECH_PLAIN:
        case SMTP_SRV_MECH_LOGIN:
            if (!cb->on_auth) return 0;
            break;
        case SMTP_SRV_MECH_OTHER:
            if (!cb->on_sasl) return 0;
            break;
        default: break; /* built in, its callback there */
        }
    }
    return n > 0;
}

void smtp_srv_auth_reset(smtp_server *srv)
{
    srv->authenticated = 0;
    srv->identity[0] = '\0';
    srv->identity_given = 0;
}

void smtp_srv_set_identity(smtp_server *srv, const char *p, size_t n)
{
    memcpy(srv->identity, p, n);
    srv->identity[n] = '\0';
    srv->authenticated = 1;
}

/* An exchange failed (its reply is queued): count it; at the limit, 421 and close. */
int smtp_srv_auth_failed(smtp_server *srv)
{
    srv->phase = SMTP_SRV_READY;
    srv->auth_failures++;
    unsigned limit = srv->set.auth_attempt_limit;
    if (!limit || srv->auth_failures < limit || srv->closing) return 0;
    int r = smtp_srv_queue_host_reply(srv, 421, "4.7.0", "Error: too many authentication failures");
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

int smtp_srv_auth_refuse(smtp_server *srv, int code, const char *enhanced, const char *text)
{
    if (smtp_srv_queue_reply(srv, code, enhanced, text) < 0) return -1;
    return smtp_srv_auth_failed(srv);
}

void smtp_srv_auth_success(smtp_server *srv)
{
    if (!srv->identity_given) {
        /* RFC 4616 2: the client acts as authzid when it named one, else as itself. */
        smtp_span id = srv->cred.authzid.len ? srv->cred.authzid : srv->cred.authcid;
        smtp_srv_set_identity(srv, id.ptr, id.len);
    }
    srv->authenticated = 1;
    srv->identity_given = 0;
    srv->phase = SMTP_SRV_READY;
}

/* Queues "334 " and the base64 of data, and reads the next line as a SASL response. */
static int challenge(smtp_server *srv, const char *data, size_t len)
{
    char line[4 + ((SMTP_SERVER_MAX_CHALLENGE + 2) / 3) * 4 + 2];
    memcpy(line, "334 ", 4);
    smtp_ssize n = smtp_base64_encode(data, len, line + 4, sizeof line - 6);
    if (n < 0) return (int)n;
    memcpy(line + 4 + n, "\r\n", 2);
    int r = smtp_srv_out(srv, line, (size_t)n + 6);
    if (r < 0) return r;
    return smtp_cmd_parser_expect_sasl(srv->parser);
}

int smtp_srv_auth_send(smtp_server *srv, const char *data, size_t len)
{
    int r = challenge(srv, data, len);
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

static int engine_challenge(smtp_server *srv, const char *text)
{
    return smtp_srv_auth_send(srv, text, strlen(text));
}

int smtp_srv_auth_succeed(smtp_server *srv)
{
    smtp_srv_auth_success(srv);
    return smtp_srv_queue_reply(srv, 235, "2.7.0", "Authentication successful");
}

/* Decodes base64 `in` at scratch + auth_head; 0, or -1 when it is not strict base64. An
 * empty response is an empty span there. */
static int decode(smtp_server *srv, smtp_span in, smtp_span *out)
{
    char *dst = srv->scratch + srv->auth_head;
    smtp_ssize n = 0;
    if (!(in.len == 1 && in.ptr[0] == '=')) /* RFC 4954 4: "=" is an empty initial response */
        n = smtp_base64_decode(in.ptr, in.len, dst, srv->scratch_cap - srv->auth_head);
    if (n < 0) return -1;
    out->ptr = dst;
    out->len = (size_t)n;
    return 0;
}

/* RFC 4616 2: an identity is UTF-8; we also refuse control bytes (it reaches logs). */
int smtp_srv_identity_ok(const char *p, size_t n, int may_be_empty)
{
    if (!n) return may_be_empty;
    return n <= SMTP_SERVER_MAX_IDENTITY && !smtp_span_has_ctl(p, n) &&
           smtp_utf8_check(p, n, NULL) == 0;
}

static int ask_auth(smtp_server *srv)
{
    srv->cred.mechanism.ptr = srv->auth_name;
    srv->cred.mechanism.len = strlen(srv->auth_name);
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_AUTH, on_auth, &srv->cred);
}

static const char bad_credentials[] = "Error: authentication failed";

/* RFC 4616 2: message = [authzid] NUL authcid NUL passwd. */
static int plain_message(smtp_server *srv, smtp_span m)
{
    const char *p = m.ptr, *end = m.ptr + m.len;
    const char *z1 = memchr(p, '\0', m.len);
    const char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
    if (!z2 || memchr(z2 + 1, '\0', (size_t)(end - z2 - 1)))
        return smtp_srv_auth_refuse(srv, 535, "5.7.8", bad_credentials);
    smtp_server_auth *cred = &srv->cred;
    cred->authzid = (smtp_span){p, (size_t)(z1 - p)};
    cred->authcid = (smtp_span){z1 + 1, (size_t)(z2 - z1 - 1)};
    cred->password = (smtp_span){z2 + 1, (size_t)(end - z2 - 1)};
    if (!smtp_srv_identity_ok(cred->authzid.ptr, cred->authzid.len, 1) ||
        !smtp_srv_identity_ok(cred->authcid.ptr, cred->authcid.len, 0) || !cred->password.len)
        return smtp_srv_auth_refuse(srv, 535, "5.7.8", bad_credentials);
    return ask_auth(srv);
}

/* LOGIN: the user name, kept at the head of the scratch buffer; then ask for the password. */
static int login_user(smtp_server *srv, smtp_span user)
{
    if (!smtp_srv_identity_ok(user.ptr, user.len, 0))
        return smtp_srv_auth_refuse(srv, 535, "5.7.8", bad_credentials);
    memmove(srv->scratch, user.ptr, user.len);
    srv->login_user_len = user.len;
    srv->auth_step = 1;
    return engine_challenge(srv, "Password:");
}

static int login_password(smtp_server *srv, smtp_span password)
{
    if (!password.len) return smtp_srv_auth_refuse(srv, 535, "5.7.8", bad_credentials);
    smtp_server_auth *cred = &srv->cred;
    cred->authzid = (smtp_span){srv->scratch, 0};
    cred->authcid = (smtp_span){srv->scratch, srv->login_user_len};
    cred->password = password;
    return ask_auth(srv);
}

static int ask_sasl(smtp_server *srv, int has_response, smtp_span response)
{
    smtp_server_sasl step;
    step.mechanism.ptr = srv->auth_name;
    step.mechanism.len = strlen(srv->auth_name);
    step.step = srv->auth_step;
    step.has_response = has_response;
    step.response = response;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_SASL, on_sasl, &step);
}

/* Finds `name` among the mechanisms offered now and keeps its advertised spelling. */
static smtp_srv_mech find_mech(smtp_server *srv, smtp_span name)
{
    const char *list = srv->set.auth_mechanisms;
    size_t pos = 0;
    smtp_span w;
    while (next_word(list, &pos, &w)) {
        if (!smtp_span_ieq_span(w.ptr, w.len, name.ptr, name.len)) continue;
        smtp_srv_mech kind = mech_kind(&srv->set, &srv->cb, w);
        if (!offered_now(srv, kind)) break;
        memcpy(srv->auth_name, w.ptr, w.len); /* at most 20 octets (RFC 4422 3.1) */
        srv->auth_name[w.len] = '\0';
        return kind;
    }
    return SMTP_SRV_MECH_NONE;
}

int smtp_srv_cmd_auth(smtp_server *srv, const smtp_cmd *cmd)
{
    if (!(srv->set.extensions & SMTP_SERVER_EXT_AUTH))
        return smtp_srv_queue_reply(srv, 502, "5.5.1", "Error: command not implemented");
    if (!smtp_srv_auth_offered(srv)) /* RFC 4954 4, RFC 5248: 538 5.7.11 */
        return smtp_srv_queue_reply(srv, 538, "5.7.11",
                                    "Error: authentication requires encryption");
    if (!srv->ehlo) return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: send EHLO first");
    /* RFC 4954 4: no AUTH after a successful one, nor during a mail transaction. */
    if (srv->authenticated)
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: already authenticated");
    if (smtp_srv_in_transaction(srv))
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: MAIL transaction in progress");
    smtp_srv_mech kind = find_mech(srv, cmd->mechanism);
    if (kind == SMTP_SRV_MECH_NONE) /* RFC 4954 4: 504 5.5.4 */
        return smtp_srv_queue_reply(srv, 504, "5.5.4",
                                    "Error: unsupported authentication mechanism");
    if (smtp_srv_scratch(srv) < 0) return -1;
    srv->auth_mech = kind;
    srv->phase = SMTP_SRV_AUTH;
    srv->auth_step = 0;
    srv->login_user_len = 0;
    srv->identity_given = 0;
    srv->refusal_code = 0;
    srv->cred = (smtp_server_auth){{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    /* SCRAM keeps its AuthMessage before what it decodes (server_sasl.c). */
    srv->auth_head = kind == SMTP_SRV_MECH_SCRAM ? SMTP_SRV_SCRAM_HEAD : SMTP_SRV_LOGIN_USER;
    smtp_span ir = cmd->initial_response, resp = {NULL, 0};
    int has_ir = ir.ptr != NULL;
    if (has_ir && decode(srv, ir, &resp) < 0)
        return smtp_srv_auth_refuse(srv, 501, "5.5.2", "Error: cannot decode response");
    switch (kind) {
    case SMTP_SRV_MECH_PLAIN: return has_ir ? plain_message(srv, resp) : engine_challenge(srv, "");
    case SMTP_SRV_MECH_LOGIN:
        return has_ir ? login_user(srv, resp) : engine_challenge(srv, "Username:");
    case SMTP_SRV_MECH_OTHER: return ask_sasl(srv, has_ir, resp);
    default: return smtp_srv_sasl_begin(srv, has_ir, resp);
    }
}

int smtp_srv_sasl_response(smtp_server *srv, const smtp_sasl_response *resp)
{
    if (srv->phase != SMTP_SRV_AUTH) return 0; /* cannot happen: nothing armed it */
    if (resp->error) {
        const char *enhanced = NULL, *text = NULL;
        int code = smtp_cmd_error_reply(resp->error, SMTP_VERB_AUTH, &enhanced, &text);
        return smtp_srv_auth_refuse(srv, code, enhanced, text);
    }
    /* RFC 4954 4: "*" cancels the exchange, answered with 501. */
    if (resp->cancelled) return smtp_srv_auth_refuse(srv, 501, "5.0.0", "Authentication cancelled");
    smtp_span data;
    if (decode(srv, resp->line, &data) < 0)
        return smtp_srv_auth_refuse(srv, 501, "5.5.2", "Error: cannot decode response");
    switch (srv->auth_mech) {
    case SMTP_SRV_MECH_PLAIN: return plain_message(srv, data);
    case SMTP_SRV_MECH_LOGIN:
        return srv->auth_step == 0 ? login_user(srv, data) : login_password(srv, data);
    case SMTP_SRV_MECH_OTHER: srv->auth_step++; return ask_sasl(srv, 1, data);
    default: return smtp_srv_sasl_next(srv, data);
    }
}

int smtp_srv_mail_auth(smtp_server *srv, const smtp_mail_params *params, smtp_span *out)
{
    static const char null_path[] = "<>";
    smtp_span null_span = {null_path, 2};
    *out = (smtp_span){NULL, 0};
    if (!(params->present & SMTP_MAIL_AUTH)) return 0;
    /* RFC 4954 5: an unauthenticated client's AUTH= counts as AUTH=<>. */
    *out = null_span;
    if (!srv->authenticated) return 0;
    if (smtp_srv_scratch(srv) < 0) return -1;
    smtp_ssize n =
        smtp_xtext_decode(params->auth.ptr, params->auth.len, srv->scratch, srv->scratch_cap);
    if (n >= 0) *out = (smtp_span){srv->scratch, (size_t)n}; /* n < 0: validated, not reached */
    return 0;
}

/* ---- the application's answers ---- */

int smtp_server_auth_challenge(smtp_server *srv, const char *data, size_t len)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->error || srv->closing || srv->decision != SMTP_SRV_DECISION_SASL)
        return SMTP_ERR_INVALID_STATE;
    if ((!data && len) || len > SMTP_SERVER_MAX_CHALLENGE) return SMTP_ERR_INVALID_ARGUMENT;
    size_t need = 4 + ((len + 2) / 3) * 4 + 2;
    if (smtp_srv_out_room(srv) < need) return SMTP_ERR_NOBUF;
    int r = challenge(srv, data ? data : "", len);
    if (r < 0) return smtp_srv_fail(srv, r);
    srv->decision = SMTP_SRV_DECISION_NONE;
    if (srv->in_callback) srv->answered = 1;
    smtp_srv_sync_settle(srv);
    return 0;
}

int smtp_server_auth_accept(smtp_server *srv, const char *identity, size_t len)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_srv_decision d = srv->decision;
    if (srv->error || (d != SMTP_SRV_DECISION_AUTH && d != SMTP_SRV_DECISION_SASL &&
                       d != SMTP_SRV_DECISION_TOKEN))
        return SMTP_ERR_INVALID_STATE;
    if (!identity) {
        if (len || d == SMTP_SRV_DECISION_SASL) return SMTP_ERR_INVALID_ARGUMENT;
        /* A token's default identity: its authzid, else XOAUTH2's user (srv->cred). */
        if (d == SMTP_SRV_DECISION_TOKEN && !srv->cred.authzid.len && !srv->cred.authcid.len)
            return SMTP_ERR_INVALID_ARGUMENT;
    } else {
        if (!len || len > SMTP_SERVER_MAX_IDENTITY) return SMTP_ERR_INVALID_ARGUMENT;
        if (smtp_span_has_ctl(identity, len)) return SMTP_ERR_UNSAFE_ARGUMENT;
        memcpy(srv->identity, identity, len); /* not authenticated yet: the buffer is free */
        srv->identity[len] = '\0';
        srv->identity_given = 1;
    }
    int r = smtp_srv_apply(srv, 235, NULL, NULL, 0);
    if (r < 0) {
        srv->identity_given = 0;
        if (r == SMTP_ERR_NOMEM || r == SMTP_ERR_CALLBACK_FAILURE) return smtp_srv_fail(srv, r);
        return r;
    }
    smtp_srv_sync_settle(srv);
    return 0;
}

const char *smtp_server_auth_identity(const smtp_server *srv)
{
    return srv && srv->authenticated ? srv->identity : NULL;
}
