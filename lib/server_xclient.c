/* SPDX-License-Identifier: MIT */
/*
 * The server engine's XCLIENT and XFORWARD commands (Postfix's XCLIENT_README and
 * XFORWARD_README).
 *
 * A proxy or content filter in front of the server uses them to pass on who the real client
 * is: XCLIENT makes the session impersonate that client (the session starts over, greeted
 * again with 220, as Postfix does); XFORWARD only records the original client's attributes
 * for the next transaction (250). Both are honoured only for peers the application trusts
 * (settings.trust or smtp_server_set_trust): anyone else gets 550 5.7.0, since they would let
 * a client forge its address. Neither is allowed inside a mail transaction (503 5.5.1).
 *
 * Syntax: "XCLIENT" 1*(SP name "=" xtext). Names are matched without regard to case; values
 * are xtext-decoded (RFC 3461 4) into the session's scratch buffer (a command line is at most
 * max_line octets and decoding only shrinks it), then checked: ADDR and DESTADDR are IP
 * addresses, PORT and DESTPORT numbers up to 65535, PROTO SMTP or ESMTP, SOURCE LOCAL or
 * REMOTE; "[UNAVAILABLE]" and "[TEMPUNAVAIL]" are allowed everywhere. Any fault: 501 5.5.4
 * and nothing changes.
 */
#include "server_internal.h"

#include <smtp/codec.h>

#include <stddef.h>
#include <string.h>

enum { FOR_XCLIENT = 1, FOR_XFORWARD = 2 };

/* How a value is checked. */
enum { CHECK_TEXT, CHECK_ADDR, CHECK_PORT, CHECK_PROTO, CHECK_SOURCE, CHECK_LOGIN };

static const struct xattr_def {
    const char *lower;
    unsigned bit;
    size_t offset; /* of the span in smtp_server_xattrs */
    int verbs;
    int check;
} xattr_defs[] = {
    {"name", SMTP_SERVER_XATTR_NAME, offsetof(smtp_server_xattrs, name), 3, CHECK_TEXT},
    {"addr", SMTP_SERVER_XATTR_ADDR, offsetof(smtp_server_xattrs, addr), 3, CHECK_ADDR},
    {"port", SMTP_SERVER_XATTR_PORT, offsetof(smtp_server_xattrs, port), 3, CHECK_PORT},
    {"proto", SMTP_SERVER_XATTR_PROTO, offsetof(smtp_server_xattrs, proto), 3, CHECK_PROTO},
    {"helo", SMTP_SERVER_XATTR_HELO, offsetof(smtp_server_xattrs, helo), 3, CHECK_TEXT},
    {"login", SMTP_SERVER_XATTR_LOGIN, offsetof(smtp_server_xattrs, login), FOR_XCLIENT,
     CHECK_LOGIN},
    {"destaddr", SMTP_SERVER_XATTR_DESTADDR, offsetof(smtp_server_xattrs, destaddr), FOR_XCLIENT,
     CHECK_ADDR},
    {"destport", SMTP_SERVER_XATTR_DESTPORT, offsetof(smtp_server_xattrs, destport), FOR_XCLIENT,
     CHECK_PORT},
    {"ident", SMTP_SERVER_XATTR_IDENT, offsetof(smtp_server_xattrs, ident), FOR_XFORWARD,
     CHECK_TEXT},
    {"source", SMTP_SERVER_XATTR_SOURCE, offsetof(smtp_server_xattrs, source), FOR_XFORWARD,
     CHECK_SOURCE},
};

/* Postfix's placeholders for what the proxy does not know. */
static int unavailable(smtp_span v)
{
    return smtp_span_ieq(v.ptr, v.len, "[unavailable]") ||
           smtp_span_ieq(v.ptr, v.len, "[tempunavail]");
}

static int value_ok(int check, smtp_span v)
{
    uint64_t port;
    unsigned char addr[16];
    if (!v.len) return 0;
    if (unavailable(v)) return 1;
    switch (check) {
    case CHECK_ADDR: /* RFC 4291 2.2 text; Postfix writes IPv6 with the tag "IPv6:" */
        return smtp_ip_parse(v.ptr, v.len, SMTP_IP_TAG, addr, NULL) != 0;
    case CHECK_PORT: return smtp_parse_uint(v.ptr, v.len, 5, 65535, &port) == 0;
    case CHECK_PROTO:
        return smtp_span_ieq(v.ptr, v.len, "smtp") || smtp_span_ieq(v.ptr, v.len, "esmtp");
    case CHECK_SOURCE:
        return smtp_span_ieq(v.ptr, v.len, "local") || smtp_span_ieq(v.ptr, v.len, "remote");
    case CHECK_LOGIN: return v.len <= SMTP_SERVER_MAX_IDENTITY && !smtp_span_has_ctl(v.ptr, v.len);
    default: return 1;
    }
}

static const struct xattr_def *find_def(smtp_span name, int verb)
{
    for (size_t i = 0; i < SMTP_ARRAY_LEN(xattr_defs); i++)
        if ((xattr_defs[i].verbs & verb) && smtp_span_ieq(name.ptr, name.len, xattr_defs[i].lower))
            return &xattr_defs[i];
    return NULL;
}

/* Parses the attribute list into `a` (values decoded into scratch); 0, or a reply text. */
static const char *parse_attrs(smtp_server *srv, smtp_span arg, int verb, smtp_server_xattrs *a)
{
    size_t i = 0, used = 0;
    while (i < arg.len) {
        while (i < arg.len && arg.ptr[i] == ' ')
            i++;
        size_t b = i;
        while (i < arg.len && arg.ptr[i] != ' ')
            i++;
        if (b == i) break;
        const char *eq = memchr(arg.ptr + b, '=', i - b);
        if (!eq || eq == arg.ptr + b) {
            const char *text = NULL;
            smtp_cmd_error_reply(SMTP_CMD_ERR_SYNTAX,
                                 verb == FOR_XCLIENT ? SMTP_VERB_XCLIENT : SMTP_VERB_XFORWARD, NULL,
                                 &text);
            return text;
        }
        smtp_span name = {arg.ptr + b, (size_t)(eq - (arg.ptr + b))};
        const struct xattr_def *d = find_def(name, verb);
        if (!d) return "Error: bad attribute name";
        const char *raw = eq + 1;
        size_t rawlen = (size_t)(arg.ptr + i - raw);
        smtp_ssize n = smtp_xtext_decode(raw, rawlen, srv->scratch + used, srv->scratch_cap - used);
        smtp_span v = {srv->scratch + used, n > 0 ? (size_t)n : 0};
        if (n < 0 || !value_ok(d->check, v)) return "Error: bad attribute value";
        used += v.len;
        memcpy((char *)a + d->offset, &v, sizeof v);
        a->present |= d->bit;
    }
    return NULL;
}

int smtp_srv_cmd_xclient(smtp_server *srv, const smtp_cmd *cmd)
{
    int verb = cmd->verb == SMTP_VERB_XCLIENT ? FOR_XCLIENT : FOR_XFORWARD;
    unsigned need = verb == FOR_XCLIENT ? SMTP_SERVER_TRUST_XCLIENT : SMTP_SERVER_TRUST_XFORWARD;
    if (!(srv->trust & need))
        return smtp_srv_queue_reply(srv, 550, "5.7.0", "Error: insufficient authorization");
    if (smtp_srv_in_transaction(srv))
        return smtp_srv_queue_reply(srv, 503, "5.5.1", "Error: MAIL transaction in progress");
    if (smtp_srv_scratch(srv) < 0) return -1;
    smtp_server_xattrs a;
    memset(&a, 0, sizeof a);
    const char *fault = parse_attrs(srv, cmd->arg, verb, &a);
    if (fault) return smtp_srv_queue_reply(srv, 501, "5.5.4", fault);
    if (verb == FOR_XFORWARD) return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_XFORWARD, on_xforward, &a);
    srv->xclient_login = (a.present & SMTP_SERVER_XATTR_LOGIN) && !unavailable(a.login)
                             ? a.login
                             : (smtp_span){NULL, 0};
    srv->xclient_has = a.present & (SMTP_SERVER_XATTR_ADDR | SMTP_SERVER_XATTR_PORT);
    srv->xclient_addr = a.addr;
    srv->xclient_port = a.port;
    return SMTP_SRV_ASK(srv, SMTP_SRV_DECISION_XCLIENT, on_xclient, &a);
}

void smtp_srv_xclient_reset(smtp_server *srv)
{
    /* Postfix: the session starts over as if the named client had connected. */
    srv->ehlo = 0;
    srv->phase = SMTP_SRV_NO_HELO;
    smtp_srv_clear_transaction(srv, 0);
    srv->messages = 0;
    srv->errors = 0;
    srv->junk = 0;
    smtp_srv_auth_reset(srv);
    srv->auth_failures = 0;
    if (srv->xclient_login.len)
        smtp_srv_set_identity(srv, srv->xclient_login.ptr, srv->xclient_login.len);
    srv->xclient_login = (smtp_span){NULL, 0};
    /* ADDR and PORT name the client from now on; "[UNAVAILABLE]" makes it unknown. A PORT
     * without ADDR changes the port of the address kept. */
    if (srv->xclient_has & SMTP_SERVER_XATTR_ADDR) {
        smtp_span a = srv->xclient_addr;
        if (unavailable(a) || smtp_srv_set_client_text(srv, a.ptr, a.len, SMTP_IP_TAG, 0) < 0)
            smtp_srv_set_client(srv, NULL, 0, 0);
    }
    uint64_t port;
    smtp_span p = srv->xclient_port;
    if ((srv->xclient_has & SMTP_SERVER_XATTR_PORT) && srv->client_addr[0])
        srv->client_port =
            (uint16_t)(smtp_parse_uint(p.ptr, p.len, 5, 65535, &port) == 0 ? port : 0);
    srv->xclient_has = 0;
}

int smtp_server_set_trust(smtp_server *srv, unsigned trust)
{
    if (!srv || (trust & ~SMTP_SERVER_TRUST_ALL)) return SMTP_ERR_INVALID_ARGUMENT;
    srv->trust = trust;
    return 0;
}
