/* SPDX-License-Identifier: MIT */
/*
 * Vector runner "client": the input is what a scripted server sends; the options line scripts
 * the application (session settings, then messages). After every feed the runner acts as the
 * application and the adapter would (submits the next message with its body, asks for QUIT
 * after the last message, finishes the TLS handshake at its scripted place) and drains the
 * client's output.
 *
 * The script is a server that answers each command after it came: the runner hands the client
 * at most one complete reply per read (whatever the harness's split), and drains its output in
 * between, as if each reply had arrived in a packet of its own once the command before it was
 * sent. The client takes bytes given in one read for bytes that arrived together (an extra
 * reply in the same read as the awaited one is a protocol error), so a blind feed of the whole
 * script would be a server that talks ahead. packet=A-B makes input bytes [A, B) one read,
 * whatever they hold: a server's packet with several replies (pipelining, or a server talking
 * ahead). Events:
 *   C: <line>                      each complete line the client sent (without CRLF)
 *   C+ <bytes>                     at close: bytes sent after the last CRLF
 *   rcpt I CODE text="..." [enh=X] the RCPT reply of recipient I
 *   lmtp I CMD CODE text="..."     an LMTP reply after the data (CMD: DATA or BDAT)
 *   message N STATUS accepted=A rejected=R [missing=CAP] [CMD CODE text="..." enh=X]
 *   submit N SMTP_ERR_...          the envelope was refused
 *   starttls                       the client asks for the TLS handshake
 *   tls ok|failed                  the runner reports the handshake (at byte tls_at=N)
 *   end REASON [error=..] [CMD CODE text="..."]
 *   error SMTP_ERR_...             smtp_client_read failed
 *   eof                            at close, before smtp_client_eof
 *
 * Options (values use the input escapes: \r \n \s \t \\ \xHH). Session: helo=NAME lmtp nopipe
 * nochunk tls=opp|req tls_at=N tls_fail implicit_tls user=U pass=P token=T authzid=Z mech=M
 * plainauth crypto (the reference crypto hook of tests/tls/refcrypto.h, whose random bytes
 * give RFC 7677's SCRAM client nonce) maxiter=N miniter=N external (SMTP_CLIENT_AUTH_EXTERNAL)
 * tls_unverified (the TLS, implicit or after STARTTLS, is not reported verified: by default
 * the runner calls smtp_client_tls_verified(cli, 1) with it) out=N bodybuf=N (the body source's
 * buffer: every body is a source then) maxrcpt=N replytext=N wcap=N noquit quitfirst packet=A-B
 * idna (settings.idna_to_ascii: table_to_ascii below, a fixed table standing for libidn2's
 * smtp_idn_to_ascii, so that the vectors run without it).
 * Messages, in order, each opened by from=ADDR (empty: the null path): to=ADDR (a recipient)
 * notify=SUCCESS,FAILURE,DELAY,NEVER orcpt=ADDR (for the last recipient) body=TEXT (appended)
 * bodyrep=N (the body is repeated N times) piece=N (the source gives N bytes at a time)
 * size=N (declared by a source) 8bit binary aon ret=full|hdrs envid=X requiretls prio=N
 * by=N;R|N|RT|NT holdfor=N holduntil=D reqdsn reqprio noend (the source never ends the body:
 * it says SMTP_ERR_AGAIN after the last byte).
 * A body is in memory (message.body), so the client computes its SIZE=, unless piece=, size=,
 * noend or bodybuf= ask for a body source (tests/body_source.h).
 * inc[=all|wait|rset|rsetnow|quit] (a message option): the message goes through
 * smtp_client_mail_from, then smtp_client_rcpt_to for each recipient (all at once; with wait,
 * each after the previous one's reply, or its refusal by the call), then smtp_client_data;
 * instead of the data,
 * smtp_client_command(RSET) once every recipient answered (rset) or at once (rsetnow), or
 * smtp_client_quit once every recipient answered (quit); msgutf8 sets
 * SMTP_CLIENT_MSG_SMTPUTF8. MAIL's and
 * DATA's replies are logged as "reply VERB ..." (on_reply); refusals of the calls as
 *   mail_from N SMTP_ERR_... / rcpt_to I SMTP_ERR_... / data SMTP_ERR_... / rset SMTP_ERR_...
 * cmd=VERB[:ARG] between messages: the application's command (smtp_client_command), logged
 * xclient=NAME:VALUE,NAME:VALUE... and xforward=...: smtp_client_xclient's attributes
 *   reply VERB CODE text="..." [enh=X]   its reply (on_reply)
 *   reply none                           on_reply without a reply (XCLIENT/XFORWARD not offered)
 *   command N SMTP_ERR_...               the command was refused
 * proxy=V[,SRC,SPORT,DST,DPORT]: smtp_client_proxy_header(V, ...) right after smtp_client_new
 * (without addresses: unknown); the header is pulled at once and logged whole, escaped
 *   proxy <bytes>                        the header the client sent
 *   proxy SMTP_ERR_...                   the call was refused
 */
#include "body_source.h"
#include "tls/refcrypto.h"
#include "vec.h"

#include <smtp/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXMSG 16
#define MAXRCPT 16

struct rmsg {
    smtp_client_message m;
    smtp_client_rcpt rcpts[MAXRCPT];
    char *body;
    size_t body_len;
    size_t piece;
    int noend;
    struct body_source src; /* the body source, when one is asked for */
    smtp_verb cmd;          /* not UNKNOWN: this item is smtp_client_command(cmd, cmd_arg) */
    const char *cmd_arg;
    smtp_client_xattr xattrs[12]; /* XCLIENT, XFORWARD: smtp_client_xclient(cmd, xattrs) */
    size_t nxattrs;
    /* inc=...: the message goes through smtp_client_mail_from, smtp_client_rcpt_to and
     * smtp_client_data (INC_*), instead of smtp_client_submit */
    int inc;
    size_t inc_added, inc_replied; /* recipients given, and answered (on_rcpt) */
    int inc_done;                  /* smtp_client_data (or RSET, or nothing) was called */
};

enum { INC_NONE, INC_ALL, INC_WAIT, INC_RSET, INC_RSET_NOW, INC_QUIT };

struct cstate {
    smtp_client *cli;
    vec_log *log;
    struct rmsg msgs[MAXMSG];
    size_t nmsgs, next, cur;
    int active; /* a message is in progress */
    int noquit, quit_sent, session_ended, failed;
    size_t tls_at, off;
    int tls_fail;
    int tls_unverified; /* the handshake is not reported verified (smtp_client_tls_verified) */
    size_t wcap;
    int bodybuf; /* bodybuf= was given: every body is a source */
    char *line;
    size_t line_len, line_cap;
    char *strings[256]; /* owned option values */
    size_t nstrings;
    smtp_client_crypto crypto;
    struct ref_crypto_state crypto_state;
    /* the script's replies: the column in the current line, and its fourth byte */
    size_t col;
    char sep;
    /* packet=A-B: input bytes [pkt_from, pkt_to) are held in pkt until all have come */
    size_t pkt_from, pkt_to, received;
    char *pkt;
    size_t pkt_len;
    /* proxy=: smtp_client_proxy_header's arguments (proxy_version 0: not called) */
    int proxy_version;
    const char *proxy_src, *proxy_dst;
    unsigned proxy_sport, proxy_dport;
};

/* ---- options ---- */

/*
 * The idna option's converter: each label with UTF-8 is looked up in a table of A-labels
 * (IDNA2008 with UTS #46, as libidn2 gives them), ASCII labels are kept; an unknown label is
 * refused, and one label ("br\u00f6ken" in UTF-8) is given back as it is, not ASCII: a faulty
 * converter, which the client must catch.
 */
static int table_to_ascii(const char *domain, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *u, *a;
    } table[] = {{"b\xc3\xbc"
                  "cher",
                  "xn--bcher-kva"},
                 {"m\xc3\xbc"
                  "nchen",
                  "xn--mnchen-3ya"},
                 {"\xc3\xbc", "xn--tda"},
                 {"\xe4\xbe\x8b\xe3\x81\x88", "xn--r8jz45g"},
                 {"\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", "xn--zckzah"},
                 {"br\xc3\xb6"
                  "ken",
                  "br\xc3\xb6"
                  "ken"}};
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        int ascii = 1;
        for (; j < len && domain[j] != '.'; j++)
            if ((unsigned char)domain[j] >= 0x80) ascii = 0;
        const char *label = domain + i;
        size_t llen = j - i;
        if (!ascii) {
            size_t k = 0;
            while (k < sizeof table / sizeof table[0] &&
                   (strlen(table[k].u) != llen || memcmp(table[k].u, label, llen) != 0))
                k++;
            if (k == sizeof table / sizeof table[0]) return SMTP_ERR_SYNTAX;
            label = table[k].a;
            llen = strlen(label);
        }
        if (o + llen + 1 > cap) return SMTP_ERR_TOO_LONG;
        memcpy(out + o, label, llen);
        o += llen;
        if (j < len) out[o++] = '.';
        i = j + 1;
    }
    return (int)o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Unescapes [s, e) into a new string owned by st; *len gets its length. */
static char *unescape(struct cstate *st, const char *s, const char *e, size_t *len)
{
    char *out = malloc((size_t)(e - s) + 1);
    size_t n = 0;
    while (s < e) {
        if (*s == '\\' && s + 1 < e) {
            char c = s[1];
            s += 2;
            switch (c) {
            case 'r': out[n++] = '\r'; break;
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 's': out[n++] = ' '; break;
            case '0': out[n++] = '\0'; break;
            case 'x':
                if (s + 1 < e && hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
                    out[n++] = (char)(hexval(s[0]) * 16 + hexval(s[1]));
                    s += 2;
                }
                break;
            default: out[n++] = c;
            }
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    if (len) *len = n;
    if (st->nstrings < sizeof st->strings / sizeof st->strings[0])
        st->strings[st->nstrings++] = out;
    return out;
}

static int key_is(const char *tok, size_t klen, const char *key)
{
    return strlen(key) == klen && memcmp(tok, key, klen) == 0;
}

static unsigned notify_bits(const char *v)
{
    unsigned b = 0;
    if (strstr(v, "NEVER")) b |= SMTP_NOTIFY_NEVER;
    if (strstr(v, "SUCCESS")) b |= SMTP_NOTIFY_SUCCESS;
    if (strstr(v, "FAILURE")) b |= SMTP_NOTIFY_FAILURE;
    if (strstr(v, "DELAY")) b |= SMTP_NOTIFY_DELAY;
    return b;
}

/* Applies one option word; returns 0, or -1 when it is not understood. */
static int apply(struct cstate *st, smtp_client_settings *s, const char *tok, size_t tlen)
{
    const char *eq = memchr(tok, '=', tlen);
    size_t klen = eq ? (size_t)(eq - tok) : tlen;
    size_t vlen = 0;
    char *v = eq ? unescape(st, eq + 1, tok + tlen, &vlen) : NULL;
    unsigned long num = v ? strtoul(v, NULL, 10) : 0;
    struct rmsg *m = st->nmsgs ? &st->msgs[st->nmsgs - 1] : NULL;
    smtp_client_rcpt *r = m && m->m.nrcpts ? &m->rcpts[m->m.nrcpts - 1] : NULL;

    if (key_is(tok, klen, "from") && v) {
        if (st->nmsgs == MAXMSG) return -1;
        m = &st->msgs[st->nmsgs++];
        smtp_client_message_init(&m->m);
        m->m.sender = v;
        m->m.rcpts = m->rcpts;
        return 0;
    }
    if ((key_is(tok, klen, "xclient") || key_is(tok, klen, "xforward")) && v) {
        if (st->nmsgs == MAXMSG) return -1;
        m = &st->msgs[st->nmsgs++];
        m->cmd = key_is(tok, klen, "xclient") ? SMTP_VERB_XCLIENT : SMTP_VERB_XFORWARD;
        for (char *p = v; p && *p && m->nxattrs < 12;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            char *colon = strchr(p, ':');
            if (colon) *colon = '\0';
            m->xattrs[m->nxattrs].name = p;
            m->xattrs[m->nxattrs++].value = colon ? colon + 1 : NULL;
            p = comma ? comma + 1 : NULL;
        }
        return 0;
    }
    if (key_is(tok, klen, "cmd") && v) {
        if (st->nmsgs == MAXMSG) return -1;
        m = &st->msgs[st->nmsgs++];
        char *colon = strchr(v, ':');
        if (colon) *colon = '\0';
        for (int k = 1; k < 64 && !m->cmd; k++)
            if (strcmp(smtp_verb_name((smtp_verb)k), v) == 0) m->cmd = (smtp_verb)k;
        m->cmd_arg = colon ? colon + 1 : NULL;
        return m->cmd ? 0 : -1;
    }
    if (key_is(tok, klen, "proxy") && v) {
        /* V[,SRC,SPORT,DST,DPORT] (commas: IPv6 addresses hold colons) */
        char *f[5] = {v, NULL, NULL, NULL, NULL};
        for (int k = 1; k < 5 && f[k - 1]; k++) {
            char *comma = strchr(f[k - 1], ',');
            if (comma) *comma = '\0', f[k] = comma + 1;
        }
        st->proxy_version = atoi(f[0]);
        st->proxy_src = f[1];
        st->proxy_sport = f[2] ? (unsigned)strtoul(f[2], NULL, 10) : 0;
        st->proxy_dst = f[3];
        st->proxy_dport = f[4] ? (unsigned)strtoul(f[4], NULL, 10) : 0;
        return 0;
    }
    /* session settings */
    if (key_is(tok, klen, "helo") && v)
        s->helo_name = v;
    else if (key_is(tok, klen, "lmtp"))
        s->flags |= SMTP_CLIENT_LMTP;
    else if (key_is(tok, klen, "nopipe"))
        s->flags |= SMTP_CLIENT_NO_PIPELINING;
    else if (key_is(tok, klen, "nochunk"))
        s->flags |= SMTP_CLIENT_NO_CHUNKING;
    else if (key_is(tok, klen, "tls") && v)
        s->tls = strcmp(v, "req") == 0 ? SMTP_CLIENT_TLS_REQUIRED : SMTP_CLIENT_TLS_OPPORTUNISTIC;
    else if (key_is(tok, klen, "tls_at") && v)
        st->tls_at = num;
    else if (key_is(tok, klen, "tls_fail"))
        st->tls_fail = 1;
    else if (key_is(tok, klen, "implicit_tls"))
        s->flags |= SMTP_CLIENT_TLS;
    else if (key_is(tok, klen, "user") && v)
        s->auth_user = v;
    else if (key_is(tok, klen, "pass") && v)
        s->auth_password = v;
    else if (key_is(tok, klen, "token") && v)
        s->auth_token = v;
    else if (key_is(tok, klen, "authzid") && v)
        s->auth_authzid = v;
    else if (key_is(tok, klen, "mech") && v)
        s->auth_mech = v;
    else if (key_is(tok, klen, "plainauth"))
        s->flags |= SMTP_CLIENT_AUTH_PLAINTEXT;
    else if (key_is(tok, klen, "crypto")) {
        ref_crypto_init(&st->crypto, &st->crypto_state, NULL, 0);
        s->crypto = &st->crypto;
    } else if (key_is(tok, klen, "maxiter") && v)
        s->auth_max_iterations = (uint32_t)num;
    else if (key_is(tok, klen, "miniter") && v)
        s->auth_min_iterations = (uint32_t)num;
    else if (key_is(tok, klen, "external"))
        s->flags |= SMTP_CLIENT_AUTH_EXTERNAL;
    else if (key_is(tok, klen, "tls_unverified"))
        st->tls_unverified = 1;
    else if (key_is(tok, klen, "out") && v)
        s->max_output = num;
    else if (key_is(tok, klen, "bodybuf") && v) {
        s->max_body_buffer = num;
        st->bodybuf = 1;
    } else if (key_is(tok, klen, "maxrcpt") && v)
        s->max_recipients = num;
    else if (key_is(tok, klen, "replytext") && v)
        s->max_reply_text = num;
    else if (key_is(tok, klen, "wcap") && v)
        st->wcap = num ? num : 1;
    else if (key_is(tok, klen, "noquit"))
        st->noquit = 1;
    else if (key_is(tok, klen, "idna"))
        s->idna_to_ascii = table_to_ascii;
    else if (key_is(tok, klen, "packet") && v && strchr(v, '-')) {
        st->pkt_from = num;
        st->pkt_to = strtoul(strchr(v, '-') + 1, NULL, 10);
        if (st->pkt_to <= st->pkt_from) return -1;
    }
    /* message fields */
    else if (!m || m->cmd)
        return -1;
    else if (key_is(tok, klen, "to") && v) {
        if (m->m.nrcpts == MAXRCPT) return -1;
        memset(&m->rcpts[m->m.nrcpts], 0, sizeof m->rcpts[0]);
        m->rcpts[m->m.nrcpts++].address = v;
    } else if (key_is(tok, klen, "notify") && v && r)
        r->notify = notify_bits(v);
    else if (key_is(tok, klen, "orcpt") && v && r)
        r->orcpt = v;
    else if (key_is(tok, klen, "body") && v) {
        m->body = realloc(m->body, m->body_len + vlen + 1);
        memcpy(m->body + m->body_len, v, vlen);
        m->body_len += vlen;
    } else if (key_is(tok, klen, "bodyrep") && v && m->body_len) {
        size_t one = m->body_len;
        m->body = realloc(m->body, one * num + 1);
        for (unsigned long i = 1; i < num; i++)
            memcpy(m->body + one * i, m->body, one);
        m->body_len = one * num;
    } else if (key_is(tok, klen, "piece") && v)
        m->piece = num;
    else if (key_is(tok, klen, "size") && v)
        m->m.size = num;
    else if (key_is(tok, klen, "8bit"))
        m->m.body_type = SMTP_BODY_8BITMIME;
    else if (key_is(tok, klen, "binary"))
        m->m.body_type = SMTP_BODY_BINARYMIME;
    else if (key_is(tok, klen, "aon"))
        m->m.flags |= SMTP_CLIENT_MSG_ALL_OR_NOTHING;
    else if (key_is(tok, klen, "reqdsn"))
        m->m.flags |= SMTP_CLIENT_MSG_REQUIRE_DSN;
    else if (key_is(tok, klen, "reqprio"))
        m->m.flags |= SMTP_CLIENT_MSG_REQUIRE_MT_PRIORITY;
    else if (key_is(tok, klen, "msgutf8"))
        m->m.flags |= SMTP_CLIENT_MSG_SMTPUTF8;
    else if (key_is(tok, klen, "inc")) {
        m->inc = !v || strcmp(v, "all") == 0 ? INC_ALL
                 : strcmp(v, "wait") == 0    ? INC_WAIT
                 : strcmp(v, "rset") == 0    ? INC_RSET
                 : strcmp(v, "rsetnow") == 0 ? INC_RSET_NOW
                 : strcmp(v, "quit") == 0    ? INC_QUIT
                                             : -1;
        if (m->inc < 0) return -1;
    } else if (key_is(tok, klen, "ret") && v)
        m->m.ret = strcmp(v, "full") == 0 ? SMTP_RET_FULL : SMTP_RET_HDRS;
    else if (key_is(tok, klen, "envid") && v)
        m->m.envid = v;
    else if (key_is(tok, klen, "requiretls"))
        m->m.requiretls = 1;
    else if (key_is(tok, klen, "prio") && v) {
        m->m.mt_priority_set = 1;
        m->m.mt_priority = atoi(v);
    } else if (key_is(tok, klen, "by") && v) {
        char *semi = strchr(v, ';');
        m->m.by_time = strtoll(v, NULL, 10);
        m->m.by_mode = semi && semi[1] == 'R' ? SMTP_BY_RETURN : SMTP_BY_NOTIFY;
        m->m.by_trace = semi && semi[1] && semi[2] == 'T';
    } else if (key_is(tok, klen, "holdfor") && v)
        m->m.holdfor = (uint32_t)num;
    else if (key_is(tok, klen, "holduntil") && v)
        m->m.holduntil = v;
    else if (key_is(tok, klen, "noend"))
        m->noend = 1;
    else
        return -1;
    return 0;
}

/* ---- logging ---- */

static void log_reply(vec_log *log, const smtp_client_reply *r, int with_cmd)
{
    char head[64];
    int n = with_cmd
                ? snprintf(head, sizeof head, " %s %d text=\"", smtp_verb_name(r->command), r->code)
                : snprintf(head, sizeof head, " %d text=\"", r->code);
    vec_log_raw(log, head, (size_t)n);
    vec_log_escaped(log, r->text.ptr, r->text.len);
    vec_log_raw(log, "\"", 1);
    if (r->enhanced.len) {
        vec_log_raw(log, " enh=", 5);
        vec_log_escaped(log, r->enhanced.ptr, r->enhanced.len);
    }
    if (r->truncated) vec_log_raw(log, " truncated", 10);
}

static void log_output(struct cstate *st, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st->line_len == st->line_cap) {
            st->line_cap = st->line_cap ? st->line_cap * 2 : 256;
            st->line = realloc(st->line, st->line_cap);
        }
        st->line[st->line_len++] = p[i];
        if (p[i] != '\n') continue;
        size_t l = st->line_len;
        if (l >= 2 && st->line[l - 2] == '\r') l -= 2;
        vec_log_raw(st->log, "C: ", l ? 3 : 2); /* an empty line: no trailing space */
        vec_log_escaped(st->log, st->line, l);
        vec_logf(st->log, "%s", "");
        st->line_len = 0;
    }
}

/* ---- callbacks ---- */

static int on_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                   void *ud)
{
    (void)cli;
    struct cstate *st = ud;
    /* the recipient by its address: smtp_client_rcpt_to's recipients are the engine's copies */
    struct rmsg *it = &st->msgs[st->cur];
    size_t index = 0;
    while (index + 1 < it->m.nrcpts && it->rcpts[index].address != rcpt->address)
        index++;
    int after_data = r->command != SMTP_VERB_RCPT;
    if (!after_data) it->inc_replied++;
    char head[32];
    int n = snprintf(head, sizeof head, "%s %zu", after_data ? "lmtp" : "rcpt", index);
    vec_log_raw(st->log, head, (size_t)n);
    log_reply(st->log, r, after_data); /* LMTP: the verb answered, DATA or BDAT */
    vec_logf(st->log, "%s", "");
    return 0;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    struct cstate *st = ud;
    char head[96];
    int n = snprintf(head, sizeof head, "message %zu %s accepted=%zu rejected=%zu", st->cur,
                     smtp_client_status_name(res->status), res->accepted, res->rejected);
    vec_log_raw(st->log, head, (size_t)n);
    if (res->status == SMTP_CLIENT_UNSUPPORTED) {
        n = snprintf(head, sizeof head, " missing=%s", smtp_cap_name(res->missing));
        vec_log_raw(st->log, head, (size_t)n);
    }
    if (res->reply) log_reply(st->log, res->reply, 1);
    vec_logf(st->log, "%s", "");
    st->active = 0;
    return 0;
}

static int on_reply(smtp_client *cli, const smtp_client_reply *r, void *ud)
{
    (void)cli;
    struct cstate *st = ud;
    vec_log_raw(st->log, "reply", 5);
    if (r)
        log_reply(st->log, r, 1);
    else
        vec_log_raw(st->log, " none", 5);
    vec_logf(st->log, "%s", "");
    /* the reply of a command item ends it; MAIL's and DATA's belong to an inc= message */
    if (!r || (r->command != SMTP_VERB_MAIL && r->command != SMTP_VERB_DATA)) st->active = 0;
    return 0;
}

static int on_starttls(smtp_client *cli, void *ud)
{
    (void)cli;
    struct cstate *st = ud;
    vec_logf(st->log, "starttls");
    return 0;
}

static int on_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli;
    struct cstate *st = ud;
    vec_log_raw(st->log, "end ", 4);
    vec_log_raw(st->log, smtp_client_end_name(res->end), strlen(smtp_client_end_name(res->end)));
    if (res->error) {
        vec_log_raw(st->log, " error=", 7);
        vec_log_raw(st->log, smtp_error_name(res->error), strlen(smtp_error_name(res->error)));
    }
    if (res->reply) log_reply(st->log, res->reply, 1);
    vec_logf(st->log, "%s", "");
    st->session_ended = 1;
    return 0;
}

/* ---- driving ---- */

/* An inc= message: its recipients (all at once, or each after the previous one's reply with
 * inc=wait), then smtp_client_data; or RSET (inc=rset: once every recipient answered;
 * inc=rsetnow: at once) or QUIT (inc=quit, once every recipient answered) instead. Returns
 * whether anything was called. */
static int inc_step(struct cstate *st, struct rmsg *it)
{
    int progress = 0;
    while (it->inc_added < it->m.nrcpts &&
           (it->inc != INC_WAIT || it->inc_replied == it->inc_added)) {
        int rv = smtp_client_rcpt_to(st->cli, &it->rcpts[it->inc_added]);
        if (rv < 0) { /* refused by the call: no reply will come for it */
            vec_logf(st->log, "rcpt_to %zu %s", it->inc_added, smtp_error_name(rv));
            it->inc_replied++;
        }
        it->inc_added++;
        progress = 1;
    }
    int answered = it->inc_replied == it->inc_added;
    if (it->inc_added < it->m.nrcpts || it->inc_done ||
        (it->inc != INC_ALL && it->inc != INC_RSET_NOW && !answered))
        return progress;
    it->inc_done = 1;
    int rv;
    const char *what = "data";
    if (it->inc == INC_RSET || it->inc == INC_RSET_NOW) {
        what = "rset";
        rv = smtp_client_command(st->cli, SMTP_VERB_RSET, NULL);
    } else if (it->inc == INC_QUIT) {
        what = "quit";
        st->quit_sent = 1;
        rv = smtp_client_quit(st->cli);
    } else {
        rv = smtp_client_data(st->cli);
    }
    if (rv < 0) vec_logf(st->log, "%s %s", what, smtp_error_name(rv));
    return 1;
}

/* Acts as the application and the adapter until nothing more happens. */
static void pump(struct cstate *st)
{
    char buf[65536];
    for (int progress = 1; progress && !st->failed;) {
        progress = 0;
        if (smtp_client_want_tls(st->cli) && st->off == st->tls_at) {
            vec_logf(st->log, "tls %s", st->tls_fail ? "failed" : "ok");
            if (!st->tls_fail && !st->tls_unverified) smtp_client_tls_verified(st->cli, 1);
            smtp_client_tls_done(st->cli, !st->tls_fail);
            progress = 1;
        }
        if (!st->active && st->next < st->nmsgs && !st->session_ended) {
            st->cur = st->next++;
            st->active = 1; /* before: on_message may report the message at once */
            struct rmsg *it = &st->msgs[st->cur];
            smtp_client_message open = it->m; /* inc=: the message without its recipients */
            open.rcpts = NULL;
            open.nrcpts = 0;
            int rv = it->nxattrs ? smtp_client_xclient(st->cli, it->cmd, it->xattrs, it->nxattrs)
                     : it->cmd   ? smtp_client_command(st->cli, it->cmd, it->cmd_arg)
                     : it->inc   ? smtp_client_mail_from(st->cli, &open)
                                 : smtp_client_submit(st->cli, &it->m);
            if (rv < 0) {
                vec_logf(st->log, "%s %zu %s",
                         it->cmd   ? "command"
                         : it->inc ? "mail_from"
                                   : "submit",
                         st->cur, smtp_error_name(rv));
                st->active = 0;
                it->inc_done = 1;
            }
            progress = 1;
        }
        if (st->active && st->msgs[st->cur].inc && !st->msgs[st->cur].inc_done &&
            inc_step(st, &st->msgs[st->cur]))
            progress = 1;
        if (!st->active && st->next == st->nmsgs && !st->noquit && !st->quit_sent &&
            !st->session_ended) {
            st->quit_sent = 1;
            smtp_client_quit(st->cli);
            progress = 1;
        }
        size_t cap = st->wcap < sizeof buf ? st->wcap : sizeof buf;
        smtp_ssize n = smtp_client_write(st->cli, buf, cap);
        if (n > 0) {
            log_output(st, buf, (size_t)n);
            progress = 1;
        }
    }
}

/* Gives the message its body: in memory, or a source when the script asks for one. */
static void set_body(const struct cstate *st, struct rmsg *m)
{
    if (!m->piece && !m->m.size && !m->noend && !st->bodybuf) {
        m->m.body = m->body;
        m->m.body_len = m->body_len;
        return;
    }
    body_source_init(&m->src, m->body, m->body_len);
    m->src.piece = m->piece;
    m->src.open = m->noend;
    body_source_attach(&m->src, &m->m);
}

struct apply_ctx {
    struct cstate *st;
    smtp_client_settings *s;
};

static int apply_word(const char *word, size_t len, void *ctx)
{
    struct apply_ctx *a = ctx;
    if (apply(a->st, a->s, word, len) == 0) return 0;
    fprintf(stderr, "run_client: bad option '%.*s'\n", (int)len, word);
    return 1;
}

static void *open_client(const char *options, vec_log *log)
{
    struct cstate *st = calloc(1, sizeof *st);
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "client.example";
    st->log = log;
    st->wcap = 4096;
    st->tls_at = (size_t)-1;
    struct apply_ctx ctx = {st, &s};
    if (vec_opt_each(options, apply_word, &ctx) != 0) goto bad;
    for (size_t i = 0; i < st->nmsgs; i++)
        if (!st->msgs[i].cmd) set_body(st, &st->msgs[i]);
    smtp_client_callbacks cb = {.on_rcpt = on_rcpt,
                                .on_message = on_message,
                                .on_starttls = on_starttls,
                                .on_session_end = on_session_end,
                                .on_reply = on_reply};
    int rv = smtp_client_new(&st->cli, &cb, &s, NULL, st);
    if (rv) {
        vec_logf(log, "new %s", smtp_error_name(rv));
        st->failed = 1;
        return st;
    }
    /* Implicit TLS: the adapter's handshake verified the server, unless told otherwise. */
    if ((s.flags & SMTP_CLIENT_TLS) && !st->tls_unverified) smtp_client_tls_verified(st->cli, 1);
    if (st->proxy_version) {
        rv = smtp_client_proxy_header(st->cli, st->proxy_version, st->proxy_src, st->proxy_sport,
                                      st->proxy_dst, st->proxy_dport);
        vec_log_raw(log, "proxy ", 6);
        if (rv) {
            vec_log_raw(log, smtp_error_name(rv), strlen(smtp_error_name(rv)));
        } else {
            char hdr[256]; /* only the header is queued before the greeting */
            smtp_ssize n = smtp_client_write(st->cli, hdr, sizeof hdr);
            if (n > 0) vec_log_escaped(log, hdr, (size_t)n);
        }
        vec_logf(log, "%s", "");
    }
    pump(st);
    return st;
bad:
    for (size_t i = 0; i < st->nstrings; i++)
        free(st->strings[i]);
    for (size_t i = 0; i < st->nmsgs; i++)
        free(st->msgs[i].body);
    free(st);
    return NULL;
}

/* The length of data up to the end of the first reply that ends in it (a final line: its
 * fourth byte is not '-'), or len; `commit` moves the line state past all of it. */
static size_t reply_end(struct cstate *st, const char *data, size_t len, int commit)
{
    size_t col = st->col;
    char sep = st->sep;
    size_t i = 0, end = len;
    for (; i < len; i++) {
        if (col == 3) sep = data[i];
        col++;
        if (data[i] != '\n') continue;
        int final = col < 5 || sep != '-';
        col = 0, sep = 0;
        if (final && end == len) {
            end = i + 1;
            if (!commit) break;
        }
    }
    if (commit) st->col = col, st->sep = sep;
    return end;
}

/* Hands `data` to the client: in one read when `whole` (a packet), else reply by reply. */
static void deliver(struct cstate *st, const char *data, size_t len, int whole, vec_log *log)
{
    while (len > 0 && !st->failed && !smtp_client_want_close(st->cli)) {
        size_t lim = whole ? len : reply_end(st, data, len, 0);
        if (st->tls_at > st->off && st->tls_at - st->off < lim) lim = st->tls_at - st->off;
        smtp_ssize n = smtp_client_read(st->cli, data, lim);
        if (n < 0) {
            vec_logf(log, "error %s", smtp_error_name((int)n));
            st->failed = 1;
            return;
        }
        reply_end(st, data, (size_t)n, 1);
        data += n;
        len -= (size_t)n;
        st->off += (size_t)n;
        pump(st);
        if (n == 0) break;
    }
}

static void feed_client(void *state, const char *data, size_t len, vec_log *log)
{
    struct cstate *st = state;
    st->log = log;
    while (len > 0) {
        size_t at = st->received;
        size_t n = len;
        if (at < st->pkt_from && st->pkt_from - at < n) n = st->pkt_from - at;
        if (at >= st->pkt_from && at < st->pkt_to) {
            /* inside the packet: held until it is complete, then one read */
            if (st->pkt_to - at < n) n = st->pkt_to - at;
            if (!st->pkt) st->pkt = malloc(st->pkt_to - st->pkt_from);
            memcpy(st->pkt + st->pkt_len, data, n);
            st->pkt_len += n;
            if (at + n == st->pkt_to) deliver(st, st->pkt, st->pkt_len, 1, log);
        } else {
            deliver(st, data, n, 0, log);
        }
        st->received += n;
        data += n;
        len -= n;
    }
}

static void close_client(void *state, vec_log *log)
{
    struct cstate *st = state;
    st->log = log;
    if (st->cli && !st->failed && !smtp_client_want_close(st->cli)) {
        vec_logf(log, "eof");
        smtp_client_eof(st->cli);
        pump(st);
    }
    if (st->line_len) {
        vec_log_raw(log, "C+ ", 3);
        vec_log_escaped(log, st->line, st->line_len);
        vec_logf(log, "%s", "");
    }
    smtp_client_del(st->cli);
    for (size_t i = 0; i < st->nstrings; i++)
        free(st->strings[i]);
    for (size_t i = 0; i < st->nmsgs; i++)
        free(st->msgs[i].body);
    free(st->line);
    free(st->pkt);
    free(st);
}

const vec_runner vec_runner_client = {"client", "2", open_client, feed_client, close_client};
