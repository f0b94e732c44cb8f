/* SPDX-License-Identifier: MIT */
/*
 * The client session engine: messages. Submission and its checks, the MAIL/RCPT parameters,
 * the body buffer and its encoding for DATA or BDAT, and the replies of a transaction.
 *
 * A message goes through MAIL, one RCPT per recipient, then DATA and the dot-stuffed body
 * ending with exactly one CRLF.CRLF (RFC 5321 4.5.2), or BDAT chunks with exact sizes, the
 * last one marked LAST (RFC 3030). With PIPELINING these go in one flight and the replies are
 * matched in order afterwards (RFC 2920 3.1): a failed MAIL makes the rest fail, no accepted
 * recipient leaves a DATA whose 354 must be answered with an empty message (a lone "."), and
 * a transaction left open by a failure is closed with RSET. Without PIPELINING each command
 * waits for the previous reply, and no DATA is sent when no recipient was accepted.
 *
 * The body is pulled only as it goes out, after the 354 or as BDAT chunks, so the DATA/BDAT
 * choice (made when MAIL is sent, from the capabilities) applies to all of it: a body in
 * memory is encoded from where it lies; a body source is read into the bounded body buffer as
 * the output queue has room. Nothing of a message is acknowledged unless all of its body was
 * sent: a source that fails fails the session before the end of data. The outcome of the
 * message is reported once every reply it is owed has arrived; the deciding reply is copied
 * into `saved` to outlive the reply buffer.
 */
#include "client_internal.h"

#include <smtp/codec.h>
#include <smtp/path.h>

#include <string.h>

#define PARAMS_MAX SMTP_MAX_MAIL_LINE /* the longest MAIL line (<smtp/command.h>) bounds them */
#define BDAT_HEAD_MAX 32              /* "BDAT " 20 digits " LAST" CRLF */

/* ---- checks of the envelope ---- */

static int has_ctl(const char *s)
{
    return smtp_span_has_ctl(s, strlen(s));
}

static int has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 1;
    return 0;
}

/* The classes of plain_class: atext (RFC 5322 3.2.3, as smtp_is_atext) and Let-dig or '-'. */
enum { PLAIN_ATEXT = 1, PLAIN_LDH = 2 };
#define PLAIN_BIT(lo, hi, c)                                                                       \
    ((c) < 64 ? ((lo) >> ((c)&63)) & 1 : (c) < 128 ? ((hi) >> ((c)&63)) & 1 : 0)
#define PLAIN_CLASS(c)                                                                             \
    (unsigned char)(PLAIN_BIT(UINT64_C(0xa3ffacfa00000000), UINT64_C(0x7fffffffc7fffffe), c) |     \
                    PLAIN_BIT(UINT64_C(0x03ff200000000000), UINT64_C(0x07fffffe07fffffe), c) << 1)
#define PLAIN_4(c) PLAIN_CLASS(c), PLAIN_CLASS(c + 1), PLAIN_CLASS(c + 2), PLAIN_CLASS(c + 3)
#define PLAIN_16(c) PLAIN_4(c), PLAIN_4(c + 4), PLAIN_4(c + 8), PLAIN_4(c + 12)
#define PLAIN_64(c) PLAIN_16(c), PLAIN_16(c + 16), PLAIN_16(c + 32), PLAIN_16(c + 48)
static const unsigned char plain_class[256] = {PLAIN_64(0u), PLAIN_64(64u)}; /* >= 128: none */

/*
 * The common address in one pass: local@domain in ASCII, a dot-string (RFC 5321 4.1.2: atoms
 * of atext joined by single dots) and a domain of LDH labels, none starting or ending with
 * '-', within the limits of RFC 5321 4.5.3.1 (local part 64, label 63, path 256 with its
 * brackets, which bounds the domain's 255). Every octet is atext, '.' or '@': no control
 * octet. Anything else (a quoted local part, a literal, UTF-8, a source route, Postmaster, a
 * limit reached) is left to the full checks, which accept all that this accepts. The loops
 * stop at the string's NUL, which is in no class: no bound to test per octet.
 */
int smtp_cli_plain_mailbox(const char *mailbox, size_t n)
{
    const unsigned char *s = (const unsigned char *)mailbox, *p = s, *start;
    if (n > SMTP_MAX_PATH - 2) return 0;
    for (;; p++) { /* the local part: atoms, each followed by '.' or, the last, by '@' */
        for (start = p; plain_class[*p] & PLAIN_ATEXT;)
            p++;
        if (p == start) return 0;
        if (*p == '@') break;
        if (*p != '.') return 0;
    }
    if (p - s > SMTP_MAX_LOCAL_PART) return 0;
    for (;;) { /* the domain: labels, each followed by '.' or, the last, by the end */
        for (start = ++p; plain_class[*p] & PLAIN_LDH;)
            p++;
        if (p == start || *start == '-' || p[-1] == '-' || p - start > SMTP_MAX_LABEL) return 0;
        if (*p != '.') return p == s + n;
    }
}

/* Parses mailbox[0..n) as the path "<mailbox>" (RFC 5321 4.1.2) where it lies: the brackets
 * are implied (SMTP_PATH_LENIENT_BRACKETS), so a mailbox may not bring its own. */
static int parse_mailbox(const char *mailbox, size_t n, unsigned flags, smtp_path *p)
{
    if (n > 0 && mailbox[0] == '<') return SMTP_ERR_SYNTAX;
    return smtp_path_parse(mailbox, n, flags | SMTP_PATH_LENIENT_BRACKETS, p);
}

/*
 * Checks a mailbox of n octets as a path (RFC 5321 4.1.2) that goes out as one token; sets
 * *utf8 when it needs SMTPUTF8. One token: the receiver must not end the path early and read
 * the rest as parameters. The path grammar leaves '>' and SP only in a quoted local part, which
 * the token's scan skips too, and in a general address literal (dcontent, RFC 5321 4.1.3),
 * which is the one case scanned (as smtp_emit_mail would).
 */
static int check_path(const char *mailbox, size_t n, unsigned flags, int *utf8)
{
    smtp_path p;
    bool open_quote;
    if (parse_mailbox(mailbox, n, flags | SMTP_PATH_UTF8, &p) != 0)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (p.domain.kind == SMTP_DOMAIN_GENERAL &&
        (smtp_path_scan(mailbox, n, true, &open_quote) != n || open_quote))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (p.flags & SMTP_PATH_F_UTF8) *utf8 = 1;
    return 0;
}

static int dsn_asked(const smtp_client_message *m)
{
    if (m->ret != SMTP_RET_NONE || m->envid) return 1;
    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].notify || m->rcpts[i].orcpt) return 1;
    return 0;
}

static int check_values(const smtp_client_message *m)
{
    int64_t t;
    if ((unsigned)m->body_type > SMTP_BODY_BINARYMIME || (unsigned)m->ret > SMTP_RET_HDRS ||
        (unsigned)m->by_mode > SMTP_BY_RETURN)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (m->mt_priority_set && (m->mt_priority < -9 || m->mt_priority > 9))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (m->by_mode != SMTP_BY_NONE && (m->by_time < -999999999 || m->by_time > 999999999 ||
                                       (m->by_mode == SMTP_BY_RETURN && m->by_time <= 0)))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (m->holdfor > 999999999 || (m->holdfor && m->holduntil)) return SMTP_ERR_INVALID_ARGUMENT;
    if (m->holduntil && smtp_datetime_parse(m->holduntil, strlen(m->holduntil), &t) != 0)
        return SMTP_ERR_INVALID_ARGUMENT;
    /* RFC 3461 4.4: ENVID is 1 to 100 characters once xtext-encoded ("ENVID=" is malformed). */
    if (m->envid) {
        smtp_ssize n = smtp_xtext_encoded_len(m->envid, strlen(m->envid));
        if (n <= 0 || n > 100 || has_8bit(m->envid)) return SMTP_ERR_INVALID_ARGUMENT;
    }
    if (m->flags & ~(SMTP_CLIENT_MSG_ALL_OR_NOTHING | SMTP_CLIENT_MSG_REQUIRE_DSN |
                     SMTP_CLIENT_MSG_REQUIRE_MT_PRIORITY | SMTP_CLIENT_MSG_SMTPUTF8 |
                     SMTP_CLIENT_MSG_NO_CHUNKING))
        return SMTP_ERR_INVALID_ARGUMENT;
    return 0;
}

static int check_rcpt_values(const smtp_client_rcpt *r)
{
    unsigned nt = r->notify;
    if (nt & ~0xfu) return SMTP_ERR_INVALID_ARGUMENT;
    if ((nt & SMTP_NOTIFY_NEVER) && (nt & ~SMTP_NOTIFY_NEVER)) return SMTP_ERR_INVALID_ARGUMENT;
    /* RFC 3461 4.2: the ORCPT value, "rfc822;" and the xtext (1*xtext: an empty address is
     * malformed), is at most 500 characters. */
    const char *o = r->orcpt;
    if (!o) return 0;
    smtp_ssize n = smtp_xtext_encoded_len(o, strlen(o));
    if (n <= 0 || n > 500 - 7 || has_8bit(o)) return SMTP_ERR_INVALID_ARGUMENT;
    return 0;
}

/* ---- parameters ---- */

/*
 * The parameters go into a string builder one at a time, each after a space but the first.
 * The builder is made one octet short of the buffer: the caller's line keeps that octet.
 */
static smtp_strbuf params_buf(char *out, size_t cap)
{
    return (smtp_strbuf){out, 0, cap ? cap - 1 : 0, 0};
}

static void pb_add(smtp_strbuf *b, const char *s, size_t n)
{
    if (b->len) smtp_strbuf_put(b, " ", 1);
    smtp_strbuf_put(b, s, n);
}

static void pb_num(smtp_strbuf *b, const char *key, int64_t v, const char *suffix)
{
    pb_add(b, key, strlen(key));
    smtp_strbuf_int(b, v);
    smtp_strbuf_puts(b, suffix);
}

/* "KEY=" and the xtext encoding of `raw` (RFC 3461 4). */
static void pb_xtext(smtp_strbuf *b, const char *key, const char *raw)
{
    pb_add(b, key, strlen(key));
    smtp_strbuf_xtext(b, raw);
}

/*
 * Which optional parameters (SIZE, DSN's, MT-PRIORITY: left out when not offered) go out:
 * those the server offers when sending; at submission, to check the lengths, all of them at
 * their longest (the longest line, which must fit in the output queue) or none (the line with
 * the least room under its limit: each optional parameter adds no more to the line than its
 * allowance adds to the limit, smtp_emit_mail).
 */
enum { PARAMS_OFFERED, PARAMS_LONGEST, PARAMS_SHORTEST };

static int offered(const smtp_client *cli, smtp_cap cap, int mode)
{
    if (mode != PARAMS_OFFERED) return mode == PARAMS_LONGEST;
    return cli->ehlo && smtp_caps_has(&cli->caps, cap);
}

static int mail_params(const smtp_client *cli, const smtp_client_message *m, uint64_t size,
                       int mode, char *out, size_t cap)
{
    int full = mode == PARAMS_LONGEST;
    smtp_strbuf b = params_buf(out, cap);
    if (full) {
        pb_add(&b, "SIZE=18446744073709551615", 25); /* the longest SIZE */
    } else if (size && offered(cli, SMTP_CAP_SIZE, mode)) {
        pb_add(&b, "SIZE=", 5);
        smtp_strbuf_uint(&b, size);
    }
    if (m->body_type == SMTP_BODY_8BITMIME) pb_add(&b, "BODY=8BITMIME", 13);
    if (m->body_type == SMTP_BODY_BINARYMIME) pb_add(&b, "BODY=BINARYMIME", 15);
    if (cli->m_utf8 || full) pb_add(&b, "SMTPUTF8", 8);
    if (offered(cli, SMTP_CAP_DSN, mode)) {
        if (m->ret == SMTP_RET_FULL) pb_add(&b, "RET=FULL", 8);
        if (m->ret == SMTP_RET_HDRS) pb_add(&b, "RET=HDRS", 8);
        if (m->envid) pb_xtext(&b, "ENVID=", m->envid);
    }
    if (m->requiretls) pb_add(&b, "REQUIRETLS", 10);
    if (m->mt_priority_set && offered(cli, SMTP_CAP_MT_PRIORITY, mode))
        pb_num(&b, "MT-PRIORITY=", m->mt_priority, "");
    if (m->by_mode != SMTP_BY_NONE)
        pb_num(&b, "BY=", m->by_time,
               m->by_mode == SMTP_BY_RETURN ? (m->by_trace ? ";RT" : ";R")
                                            : (m->by_trace ? ";NT" : ";N"));
    if (m->holdfor) pb_num(&b, "HOLDFOR=", m->holdfor, "");
    if (m->holduntil) {
        pb_add(&b, "HOLDUNTIL=", 10);
        smtp_strbuf_puts(&b, m->holduntil);
    }
    return b.err ? b.err : (int)b.len;
}

static int rcpt_params(const smtp_client *cli, const smtp_client_rcpt *r, int mode, char *out,
                       size_t cap)
{
    smtp_strbuf b = params_buf(out, cap);
    if (!offered(cli, SMTP_CAP_DSN, mode)) return 0;
    if (r->notify) { /* RFC 3461 4.1: NOTIFY=NEVER, or a list of the others */
        static const struct {
            unsigned bit;
            const char *name;
        } kinds[] = {{SMTP_NOTIFY_NEVER, "NEVER"},
                     {SMTP_NOTIFY_SUCCESS, "SUCCESS"},
                     {SMTP_NOTIFY_FAILURE, "FAILURE"},
                     {SMTP_NOTIFY_DELAY, "DELAY"}};
        pb_add(&b, "NOTIFY=", 7);
        const char *sep = "";
        for (size_t i = 0; i < SMTP_ARRAY_LEN(kinds); i++) {
            if (!(r->notify & kinds[i].bit)) continue;
            smtp_strbuf_puts(&b, sep);
            smtp_strbuf_puts(&b, kinds[i].name);
            sep = ",";
        }
    }
    if (r->orcpt) pb_xtext(&b, "ORCPT=rfc822;", r->orcpt);
    return b.err ? b.err : (int)b.len;
}

/* Whether a MAIL or RCPT line of `e` octets fits in the output queue: 0, the emitter's error,
 * or SMTP_ERR_TOO_LONG (longer than max_output). */
static int line_fits(const smtp_client *cli, smtp_ssize e)
{
    if (e < 0) return (int)e;
    return (size_t)e > cli->set.max_output ? SMTP_ERR_TOO_LONG : 0;
}

/*
 * The longest the parameters of fixed length can make a MAIL line, each with its SP: SIZE,
 * BODY, SMTPUTF8, RET, REQUIRETLS, MT-PRIORITY, BY, HOLDFOR (ENVID and HOLDUNTIL vary), and
 * the longest RCPT parameters without ORCPT. A line that stays within 512 octets with them
 * needs no measuring: it is within every limit and fits in any output queue (max_output is at
 * least 1024).
 */
#define MAIL_FIXED_PARAMS_MAX                                                                      \
    (sizeof " SIZE=18446744073709551615" + sizeof " BODY=BINARYMIME" + sizeof " SMTPUTF8" +        \
     sizeof " RET=HDRS" + sizeof " REQUIRETLS" + sizeof " MT-PRIORITY=-9" +                        \
     sizeof " BY=-999999999;RT" + sizeof " HOLDFOR=999999999" - 8)
#define RCPT_NO_ORCPT_PARAMS_MAX (sizeof " NOTIFY=SUCCESS,FAILURE,DELAY" - 1)
#define MAIL_FRAME (sizeof "MAIL FROM:<>\r\n" - 1)
#define RCPT_FRAME (sizeof "RCPT TO:<>\r\n" - 1)

/* Measures the longest MAIL line the message can give, and the one with the least room under
 * its limit, so that no line can fail later, half-way through a transaction. */
static int check_lengths(smtp_client *cli, const smtp_client_message *m, size_t sn, int utf8)
{
    char params[PARAMS_MAX];
    if (!m->envid && !m->holduntil &&
        MAIL_FRAME + sn + MAIL_FIXED_PARAMS_MAX <= SMTP_MAX_COMMAND_LINE)
        return 0;
    for (int mode = PARAMS_LONGEST; mode <= PARAMS_SHORTEST; mode++) {
        cli->m_utf8 = utf8 || mode == PARAMS_LONGEST;
        int n = mail_params(cli, m, 0, mode, params, sizeof params);
        cli->m_utf8 = 0;
        if (n < 0) return n;
        int e = line_fits(cli, smtp_emit_mail(NULL, 0, m->sender, sn, params, (size_t)n));
        if (e < 0) return e;
    }
    return 0;
}

/* A recipient whole: its address (present, no control byte, a path: `*utf8` set when it needs
 * SMTPUTF8), its DSN values, and its longest RCPT line. */
static int check_rcpt(smtp_client *cli, const smtp_client_rcpt *r, int *utf8)
{
    if (!r->address) return SMTP_ERR_INVALID_ARGUMENT;
    size_t an = strlen(r->address);
    int plain = smtp_cli_plain_mailbox(r->address, an);
    if ((!plain && smtp_span_has_ctl(r->address, an)) || (r->orcpt && has_ctl(r->orcpt)))
        return SMTP_ERR_UNSAFE_ARGUMENT;
    int rv = plain ? 0 : check_path(r->address, an, SMTP_PATH_ALLOW_POSTMASTER, utf8);
    if (rv == 0) rv = check_rcpt_values(r);
    if (rv != 0) return rv;
    if (!r->orcpt && RCPT_FRAME + an + RCPT_NO_ORCPT_PARAMS_MAX <= SMTP_MAX_COMMAND_LINE) return 0;
    char params[PARAMS_MAX];
    int n = rcpt_params(cli, r, PARAMS_LONGEST, params, sizeof params);
    if (n < 0) return n;
    return line_fits(cli, smtp_emit_rcpt(NULL, 0, r->address, an, params, (size_t)n));
}

/* ---- IDNA: addresses in A-label form (smtp_client_settings.idna_to_ascii) ---- */

/*
 * The A-label form of a mailbox whose only UTF-8 is in U-labels of its domain, into `out`
 * (NUL-terminated): the domain as the application's function converts it, the rest as given.
 * Its length, or SMTP_ERR_UTF8 when it has none: UTF-8 in the local part (RFC 6531 3.3: only
 * SMTPUTF8 carries it) or a source route, no function, a domain refused, or a form that is
 * not a valid ASCII path (each A-label's "xn--" and punycode may make it too long,
 * RFC 5321 4.5.3.1).
 */
static int alabel_form(const smtp_client *cli, const char *mailbox, char out[SMTP_MAX_PATH + 1])
{
    char dom[SMTP_MAX_DOMAIN + 1];
    size_t n = strlen(mailbox);
    smtp_path p;
    if (parse_mailbox(mailbox, n, SMTP_PATH_ALLOW_POSTMASTER | SMTP_PATH_UTF8, &p) != 0)
        return SMTP_ERR_UTF8;
    if (!(p.flags & SMTP_PATH_F_UTF8)) {
        memcpy(out, mailbox, n + 1);
        return (int)n;
    }
    if (p.domain.kind != SMTP_DOMAIN_NAME || !p.domain.utf8) return SMTP_ERR_UTF8;
    size_t head = (size_t)(p.domain.text.ptr - mailbox); /* source route, local part, '@' */
    size_t tail = head + p.domain.text.len;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)mailbox[i] >= 0x80 && (i < head || i >= tail)) return SMTP_ERR_UTF8;
    int d = smtp_cli_idna(&cli->set, p.domain.text.ptr, p.domain.text.len, dom);
    if (d < 0) return d;
    size_t len = head + (size_t)d + (n - tail);
    if (len > SMTP_MAX_PATH - 2) return SMTP_ERR_UTF8;
    memcpy(out, mailbox, head);
    memcpy(out + head, dom, (size_t)d);
    memcpy(out + head + (size_t)d, mailbox + tail, n - tail + 1);
    if (parse_mailbox(out, len, SMTP_PATH_ALLOW_POSTMASTER, &p) != 0) return SMTP_ERR_UTF8;
    return (int)len;
}

/* Whether a recipient can go in A-label form: its address converts, and its RCPT line (with
 * the parameters `mode` gives) keeps its limits and fits in the output queue. */
static int rcpt_alabels_fit(smtp_client *cli, const smtp_client_rcpt *r, int mode)
{
    char addr[SMTP_MAX_PATH + 1], params[PARAMS_MAX];
    int an = alabel_form(cli, r->address, addr);
    int n = rcpt_params(cli, r, mode, params, sizeof params);
    return an >= 0 && n >= 0 &&
           line_fits(cli, smtp_emit_rcpt(NULL, 0, addr, (size_t)an, params, (size_t)n)) == 0;
}

/*
 * Whether a message that needs SMTPUTF8 goes in A-label form instead: the server lacks
 * SMTPUTF8, the application gave idna_to_ascii, the message did not ask for SMTPUTF8 itself,
 * and every address known so far converts with its MAIL or RCPT line within its limits
 * (client.h). Decided before MAIL, so that nothing fails half-way through the transaction;
 * a recipient added later (smtp_client_rcpt_to) is checked as it comes.
 */
static int go_alabels(smtp_client *cli, const smtp_client_message *m, uint64_t size)
{
    char addr[SMTP_MAX_PATH + 1], params[PARAMS_MAX];
    if (!cli->set.idna_to_ascii || (m->flags & SMTP_CLIENT_MSG_SMTPUTF8) ||
        (cli->ehlo && smtp_caps_has(&cli->caps, SMTP_CAP_SMTPUTF8)))
        return 0;
    int an = alabel_form(cli, m->sender, addr);
    if (an < 0) return 0;
    cli->m_utf8 = 0;
    int n = mail_params(cli, m, size, PARAMS_OFFERED, params, sizeof params);
    cli->m_utf8 = 1;
    if (n < 0 || line_fits(cli, smtp_emit_mail(NULL, 0, addr, (size_t)an, params, (size_t)n)) < 0)
        return 0;
    for (size_t i = 0; i < m->nrcpts; i++)
        if (!rcpt_alabels_fit(cli, &m->rcpts[i], PARAMS_OFFERED)) return 0;
    return 1;
}

/* The address as it goes out: as given, or in A-label form when the transaction is not
 * SMTPUTF8's. A conversion that worked when the client decided and fails now is the
 * application's function answering otherwise: SMTP_ERR_CALLBACK_FAILURE (client.h). */
static int address_out(const smtp_client *cli, const char *address, char buf[SMTP_MAX_PATH + 1],
                       const char **out)
{
    *out = address;
    /* without the hook a UTF-8 address goes with SMTPUTF8 or not at all: no scan for it */
    if (cli->m_utf8 || !cli->set.idna_to_ascii || !has_8bit(address)) return (int)strlen(address);
    int n = alabel_form(cli, address, buf);
    if (n < 0) return SMTP_ERR_CALLBACK_FAILURE;
    *out = buf;
    return n;
}

static void body_reset(smtp_client *cli)
{
    cli->body_off = cli->body_head = cli->body_len = 0;
    cli->body_ended = cli->body_wait = 0;
}

static void txn_clear(smtp_client *cli)
{
    cli->msg = NULL;
    cli->m_bdat = cli->m_mail = cli->m_data = cli->m_utf8 = cli->m_decided = cli->m_status = 0;
    cli->m_how = SMTP_CLIENT_DATA_AUTO;
    cli->m_size = 0;
    cli->m_delivered = 0;
    cli->m_pending = cli->m_rcpt_sent = cli->m_rcpt_replied = 0;
    cli->m_ok = cli->m_rej = cli->m_temp = 0;
    cli->m_lmtp_ok = cli->m_lmtp_rej = cli->m_lmtp_temp = 0;
    cli->saved.set = 0;
    cli->m_incremental = cli->m_open = 0;
    cli->t_split = 0;
    cli->t_first = cli->t_end = cli->t_delivered = cli->t_failed = cli->t_temp = 0;
    body_reset(cli);
}

/* The end of the recipients of the transaction in progress (all of them unless split). */
static size_t txn_end(const smtp_client *cli)
{
    return cli->t_split ? cli->t_end : cli->msg->nrcpts;
}

/* How many recipients the transaction in progress has. */
static size_t txn_rcpts(const smtp_client *cli)
{
    return txn_end(cli) - cli->t_first;
}

void smtp_client_message_init(smtp_client_message *msg)
{
    if (msg) memset(msg, 0, sizeof *msg);
}

/* The size of each version of smtp_client_message (common.h: versioned structs); 0: unknown. */
static size_t message_size(int version)
{
    return version == 1 ? sizeof(smtp_client_message) : 0;
}

/* The caller's version of a message over the defaults: what an older version lacks is zero
 * (smtp_client_message_init), only that part cleared. */
static void message_copy(smtp_client_message *copy, const smtp_client_message *msg, size_t size)
{
    memcpy(copy, msg, size);
    if (size < sizeof *copy) memset((char *)copy + size, 0, sizeof *copy - size);
}

/* The checks a message passes before it is taken, by smtp_client_submit (with its recipients)
 * and smtp_client_mail_from (without); `*utf8` is set when an address needs SMTPUTF8. */
static int finish(smtp_client *cli, int status);
static void decide(smtp_client *cli, int status, const smtp_client_reply *r, int rset);
static void judge_recipients(smtp_client *cli);

static int may_begin(const smtp_client *cli)
{
    return !(cli->error || cli->ended || cli->quit_asked || cli->msg ||
             cli->phase == SMTP_CLI_DONE);
}

static int check_message(smtp_client *cli, const smtp_client_message *m, int *utf8)
{
    int rv;
    if (!may_begin(cli)) return SMTP_ERR_INVALID_STATE;
    if (!m->sender || (!m->read_body && !m->body && m->body_len)) return SMTP_ERR_INVALID_ARGUMENT;
    size_t sn = strlen(m->sender);
    int plain = smtp_cli_plain_mailbox(m->sender, sn); /* the checks below in one pass */
    if ((!plain && smtp_span_has_ctl(m->sender, sn)) || (m->envid && has_ctl(m->envid)) ||
        (m->holduntil && has_ctl(m->holduntil)))
        return SMTP_ERR_UNSAFE_ARGUMENT;
    if (sn && !plain && (rv = check_path(m->sender, sn, 0, utf8)) != 0) return rv;
    if ((rv = check_values(m)) != 0) return rv;
    /* each recipient's path, values and longest line, parsed once (check_rcpt) */
    for (size_t i = 0; i < m->nrcpts; i++)
        if ((rv = check_rcpt(cli, &m->rcpts[i], utf8)) != 0) return rv;
    if ((rv = check_lengths(cli, m, sn, *utf8)) != 0) return rv;
    return smtp_cli_txn_buffers(cli); /* the first message's, then kept */
}

/* Takes the checked message (copied) and starts it: a whole envelope, or an open one. */
static void txn_begin(smtp_client *cli, const smtp_client_message *copy, int utf8, int open)
{
    txn_clear(cli);
    cli->msg_copy = *copy;
    cli->msg = &cli->msg_copy;
    cli->m_utf8 = utf8;
    cli->m_incremental = cli->m_open = open;
    memset(cli->rcpt_ok, 0, copy->nrcpts); /* smtp_client_rcpt_to clears its own */
    /* The message is taken: what follows (a body source that fails at once, say) is the
     * session's, reported by on_message and on_session_end, not an error of this call. */
    (void)smtp_cli_kick(cli);
}

int smtp_client_submit_versioned(smtp_client *cli, int version, const smtp_client_message *msg)
{
    int utf8 = 0;
    if (!cli || !msg || !message_size(version)) return SMTP_ERR_INVALID_ARGUMENT;
    /* The caller's version over the defaults; what it points to stays borrowed. */
    smtp_client_message copy;
    message_copy(&copy, msg, message_size(version));
    if (!copy.rcpts || copy.nrcpts == 0 || copy.nrcpts > cli->set.max_recipients)
        return may_begin(cli) ? SMTP_ERR_INVALID_ARGUMENT : SMTP_ERR_INVALID_STATE;
    int rv = check_message(cli, &copy, &utf8);
    if (rv != 0) return rv;
    txn_begin(cli, &copy, utf8, 0);
    return 0;
}

int smtp_client_mail_from_versioned(smtp_client *cli, int version, const smtp_client_message *msg)
{
    int utf8 = 0;
    if (!cli || !msg || !message_size(version)) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_client_message copy;
    message_copy(&copy, msg, message_size(version));
    int rv = check_message(cli, &copy, &utf8);
    if (rv == 0 && (copy.rcpts || copy.nrcpts)) rv = SMTP_ERR_INVALID_ARGUMENT;
    if (rv != 0) return rv;
    if (!cli->inc_rcpts) {
        cli->inc_rcpts = smtp_malloc(cli->mem, cli->set.max_recipients * sizeof *cli->inc_rcpts);
        if (!cli->inc_rcpts) return SMTP_ERR_NOMEM;
    }
    copy.rcpts = cli->inc_rcpts;
    copy.nrcpts = 0;
    txn_begin(cli, &copy, utf8 || (copy.flags & SMTP_CLIENT_MSG_SMTPUTF8), 1);
    return 0;
}

int smtp_client_rcpt_to(smtp_client *cli, const smtp_client_rcpt *rcpt)
{
    if (!cli || !rcpt) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->ended || !cli->msg || !cli->m_open || cli->m_decided)
        return SMTP_ERR_INVALID_STATE;
    if (cli->msg_copy.nrcpts >= cli->set.max_recipients) return SMTP_ERR_INVALID_ARGUMENT;
    int utf8 = 0;
    int rv = check_rcpt(cli, rcpt, &utf8);
    if (rv != 0) return rv;
    /* RFC 6531 3.4: SMTPUTF8 goes with MAIL, which may be out already; without it the
     * recipient may still go in A-label form (idna_to_ascii). */
    if (utf8 && !cli->m_utf8 && !rcpt_alabels_fit(cli, rcpt, PARAMS_LONGEST)) return SMTP_ERR_UTF8;
    cli->rcpt_ok[cli->msg_copy.nrcpts] = 0;
    cli->inc_rcpts[cli->msg_copy.nrcpts++] = *rcpt;
    return smtp_cli_kick(cli);
}

/* The replies of a transaction all arrived with nothing more to send: report it. */
static int settle(smtp_client *cli)
{
    if (cli->msg && cli->m_decided && !cli->m_pending && cli->m_data != SMTP_CLI_DATA_ABORT)
        return finish(cli, cli->m_status);
    return 0;
}

static int use_bdat(const smtp_client *cli, const smtp_client_message *m);
static void encoder_init(smtp_client *cli, const smtp_client_message *m);

int smtp_client_data_as(smtp_client *cli, smtp_client_data_command how)
{
    if (!cli || (unsigned)how > (unsigned)SMTP_CLIENT_DATA_BDAT) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->ended || !cli->msg || !cli->m_open || cli->m_decided ||
        cli->msg_copy.nrcpts == 0)
        return SMTP_ERR_INVALID_STATE;
    /* The data's command is chosen now (MAIL's parameters do not depend on it, nor does
     * anything before the data): when MAIL went out already, its choice and the body's
     * encoder are made again; else emit_mail makes them with this one. */
    cli->m_how = (int)how;
    if (cli->m_mail) {
        cli->m_bdat = use_bdat(cli, cli->msg);
        encoder_init(cli, cli->msg);
    }
    return smtp_client_data(cli);
}

int smtp_client_data(smtp_client *cli)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || cli->ended || !cli->msg || !cli->m_open || cli->m_decided ||
        cli->msg_copy.nrcpts == 0)
        return SMTP_ERR_INVALID_STATE;
    cli->m_open = 0;
    /* Every recipient answered already: is there anyone to send to? */
    if (cli->m_rcpt_replied == txn_rcpts(cli)) judge_recipients(cli);
    int rv = settle(cli);
    if (rv < 0) return rv;
    return smtp_cli_kick(cli);
}

int smtp_cli_txn_cancellable(const smtp_client *cli)
{
    return cli->msg && cli->m_incremental && !cli->m_decided &&
           (cli->m_open || cli->m_data == SMTP_CLI_DATA_NONE);
}

int smtp_cli_txn_cancel(smtp_client *cli)
{
    cli->m_open = 0;
    cli->saved.set = 0;
    decide(cli, SMTP_CLIENT_TEMPFAIL, NULL, 0);
    return settle(cli);
}

/* ---- the body ---- */

/* The raw body octets at hand: the rest of a body in memory, or what the source gave. */
static const char *body_at_hand(const smtp_client *cli, size_t *len)
{
    if (cli->msg->read_body) {
        *len = cli->body_len;
        return cli->body + cli->body_head;
    }
    *len = cli->msg->body_len - cli->body_off;
    return cli->msg->body ? cli->msg->body + cli->body_off : ""; /* NULL: the empty body */
}

static void body_consume(smtp_client *cli, size_t n)
{
    if (!cli->msg->read_body) {
        cli->body_off += n;
        return;
    }
    cli->body_head += n;
    cli->body_len -= n;
    if (cli->body_len == 0) cli->body_head = 0;
}

/* Whether all of the body is at hand (or was sent). */
static int body_complete(const smtp_client *cli)
{
    return !cli->msg->read_body || cli->body_ended;
}

/*
 * Reads the body source into the buffer while it has room, until the source says the end, or
 * SMTP_ERR_AGAIN (wait for smtp_client_body_ready). A failed source is the session's failure:
 * nothing more is sent, so the server never sees an end of data (client.h).
 */
static int body_pull(smtp_client *cli)
{
    const smtp_client_message *m = cli->msg;
    if (!m->read_body) return 0;
    while (!cli->body_ended && !cli->body_wait && cli->body_len < cli->body_cap) {
        if (cli->body_head) {
            memmove(cli->body, cli->body + cli->body_head, cli->body_len);
            cli->body_head = 0;
        }
        size_t cap = cli->body_cap - cli->body_len;
        int saved = cli->in_callback;
        cli->in_callback = 1;
        smtp_ssize n = m->read_body(cli, cli->body + cli->body_len, cap, m->read_body_data);
        cli->in_callback = saved;
        if (n == SMTP_ERR_AGAIN)
            cli->body_wait = 1;
        else if (n < 0 || (size_t)n > cap)
            return SMTP_ERR_CALLBACK_FAILURE;
        else if (n == 0)
            cli->body_ended = 1;
        else
            cli->body_len += (size_t)n;
    }
    return 0;
}

int smtp_client_body_ready(smtp_client *cli)
{
    if (!cli) return SMTP_ERR_INVALID_ARGUMENT;
    if (cli->error || !cli->msg || cli->in_callback || cli->phase == SMTP_CLI_DONE)
        return SMTP_ERR_INVALID_STATE;
    cli->body_wait = 0;
    return smtp_cli_kick(cli);
}

/* The size of a body in memory as it will be sent, stuffing aside (RFC 1870 3: the size
 * counts CRLF line ends). memchr finds the line ends: a byte loop would cost the client more
 * per message than everything else it does. */
static uint64_t body_size(const smtp_client *cli)
{
    size_t len = cli->msg->body_len;
    if (cli->msg->body_type == SMTP_BODY_BINARYMIME || len == 0) return len;
    const char *b = cli->msg->body, *end = b + len, *q;
    uint64_t n = len;
    for (const char *p = b; (q = memchr(p, '\n', (size_t)(end - p))) != NULL; p = q + 1)
        if (q == b || q[-1] != '\r') n++; /* a bare LF goes as CRLF */
    for (const char *p = b; (q = memchr(p, '\r', (size_t)(end - p))) != NULL; p = q + 1)
        if (q + 1 == end || q[1] != '\n') n++; /* a bare CR too */
    /* DATA adds the CRLF of a last line that lacks it. */
    if (!cli->m_bdat && end[-1] != '\n' && end[-1] != '\r') n += 2;
    return n;
}

/* Encodes body octets at hand into `dst` (up to `cap`); returns the octets written. */
static size_t encode_some(smtp_client *cli, char *dst, size_t cap)
{
    size_t len;
    const char *src = body_at_hand(cli, &len);
    if (len == 0 || cap < SMTP_DATA_ENCODE_MIN_OUT) return 0;
    size_t used = 0, made = 0;
    if (smtp_data_encode(&cli->enc, src, len, dst, cap, &used, &made) != 0) return 0;
    body_consume(cli, used);
    return made;
}

/* After the end of the data: one reply (SMTP), or one per accepted recipient (LMTP,
 * RFC 2033 4.2), flagged when they answer BDAT LAST rather than DATA. */
static void expect_final(smtp_client *cli, int kind, int flag)
{
    if (!smtp_cli_lmtp(cli)) {
        smtp_cli_expect_push(cli, kind, 0, flag);
        cli->m_pending++;
        return;
    }
    for (size_t i = cli->t_first; i < txn_end(cli); i++) {
        if (!cli->rcpt_ok[i]) continue;
        smtp_cli_expect_push(cli, SMTP_CLI_X_LMTP, (uint32_t)i, kind == SMTP_CLI_X_BDAT);
        cli->m_pending++;
    }
}

static int emit_body(smtp_client *cli)
{
    int progress = 0;
    for (;;) {
        int rv = body_pull(cli);
        if (rv < 0) return rv;
        size_t room, avail;
        char *dst = smtp_cli_out_room(cli, cli->set.max_output, &room);
        if (!dst) return SMTP_ERR_NOMEM;
        if (body_at_hand(cli, &avail), avail) {
            size_t made = encode_some(cli, dst, room);
            if (made == 0) return progress;
            smtp_cli_out_commit(cli, made, SMTP_VERB_UNKNOWN);
            progress = 1;
            continue;
        }
        if (!body_complete(cli) || room < SMTP_DATA_ENCODE_FINISH_MAX) return progress;
        size_t made = 0;
        smtp_data_encode_finish(&cli->enc, dst, room, &made);
        smtp_cli_out_commit(cli, made, SMTP_VERB_UNKNOWN);
        expect_final(cli, SMTP_CLI_X_DATA_END, 0);
        cli->m_data = SMTP_CLI_DATA_END;
        return 1;
    }
}

/* One BDAT chunk: the body bytes at hand, encoded, after a header naming their exact size
 * (RFC 3030 2). The last one carries LAST. */
static int emit_bdat(smtp_client *cli)
{
    if (!smtp_cli_may_send(cli, SMTP_VERB_BDAT) || smtp_cli_xq_free(cli) < cli->msg->nrcpts + 1)
        return 0;
    /* LMTP: the replies after BDAT LAST are one per accepted recipient, so it waits for the
     * RCPT replies. */
    int rv = body_pull(cli);
    if (rv < 0) return rv;
    int complete = body_complete(cli);
    int may_end = complete && (!smtp_cli_lmtp(cli) || cli->m_rcpt_replied == txn_rcpts(cli));
    size_t avail;
    body_at_hand(cli, &avail);
    /* Wait for a worthwhile chunk unless the body is complete. */
    if (!complete && avail < cli->body_cap / 2 && avail < 8192) return 0;
    if (complete && !may_end) return 0; /* all of it goes with LAST shortly */
    size_t room;
    char *dst = smtp_cli_out_room(cli, cli->set.max_output, &room);
    if (!dst) return SMTP_ERR_NOMEM;
    if (room < BDAT_HEAD_MAX + SMTP_DATA_ENCODE_MIN_OUT + 1) return 0;
    size_t made = encode_some(cli, dst + BDAT_HEAD_MAX, room - BDAT_HEAD_MAX - 1);
    int last = may_end && (body_at_hand(cli, &avail), avail == 0);
    if (last) {
        size_t fin = 0;
        smtp_data_encode_finish(&cli->enc, dst + BDAT_HEAD_MAX + made, 1, &fin);
        made += fin;
    }
    if (made == 0 && !last) return 0;
    char head[BDAT_HEAD_MAX];
    smtp_ssize h = smtp_emit_bdat(head, sizeof head, made, last);
    if (h < 0) return (int)h;
    memmove(dst + h, dst + BDAT_HEAD_MAX, made);
    memcpy(dst, head, (size_t)h);
    smtp_cli_out_commit(cli, (size_t)h + made, SMTP_VERB_BDAT);
    if (last) {
        expect_final(cli, SMTP_CLI_X_BDAT, 1);
        cli->m_data = SMTP_CLI_DATA_END;
    } else {
        smtp_cli_expect_push(cli, SMTP_CLI_X_BDAT, 0, 0);
        cli->m_pending++;
    }
    return 1;
}

/* ---- the transaction's commands ---- */

/* The extension a message needs that the server lacks, or -1 (RFC 6531 3.4, RFC 6152 3,
 * RFC 3030 3, RFC 8689 4.1, RFC 2852 4, RFC 4865 3, RFC 1870 6). */
static int missing_ext(const smtp_client *cli, const smtp_client_message *m, uint64_t size)
{
    const smtp_caps *k = &cli->caps;
    int e = cli->ehlo;
    if (cli->m_utf8 && !(e && smtp_caps_has(k, SMTP_CAP_SMTPUTF8))) return SMTP_CAP_SMTPUTF8;
    if (m->body_type == SMTP_BODY_8BITMIME && !(e && smtp_caps_has(k, SMTP_CAP_8BITMIME)))
        return SMTP_CAP_8BITMIME;
    if (m->body_type == SMTP_BODY_BINARYMIME) {
        if (!(e && smtp_caps_has(k, SMTP_CAP_BINARYMIME))) return SMTP_CAP_BINARYMIME;
        if (!(e && smtp_cli_chunking(cli) && smtp_caps_has(k, SMTP_CAP_CHUNKING)))
            return SMTP_CAP_CHUNKING;
    }
    /* RFC 8689 4.2: REQUIRETLS only over TLS whose server certificate the adapter verified. */
    if (m->requiretls &&
        !(e && cli->tls_active && cli->tls_verified && smtp_caps_has(k, SMTP_CAP_REQUIRETLS)))
        return SMTP_CAP_REQUIRETLS;
    if (m->by_mode != SMTP_BY_NONE && !(e && smtp_caps_has(k, SMTP_CAP_DELIVERBY)))
        return SMTP_CAP_DELIVERBY;
    if ((m->holdfor || m->holduntil) && !(e && smtp_caps_has(k, SMTP_CAP_FUTURERELEASE)))
        return SMTP_CAP_FUTURERELEASE;
    if ((m->flags & SMTP_CLIENT_MSG_REQUIRE_DSN) && dsn_asked(m) &&
        !(e && smtp_caps_has(k, SMTP_CAP_DSN)))
        return SMTP_CAP_DSN;
    if ((m->flags & SMTP_CLIENT_MSG_REQUIRE_MT_PRIORITY) && m->mt_priority_set &&
        !(e && smtp_caps_has(k, SMTP_CAP_MT_PRIORITY)))
        return SMTP_CAP_MT_PRIORITY;
    if (size && e && smtp_caps_size(k) && size > smtp_caps_size(k)) return SMTP_CAP_SIZE;
    return -1;
}

/* Does the message go with BDAT? CHUNKING offered (and not refused by the settings), and the
 * choice of smtp_client_data_as, else the message's flags; BINARYMIME needs BDAT. */
static int use_bdat(const smtp_client *cli, const smtp_client_message *m)
{
    int chunking = cli->ehlo && smtp_cli_chunking(cli) && smtp_caps_has(&cli->caps, SMTP_CAP_CHUNKING);
    int binary = m->body_type == SMTP_BODY_BINARYMIME;
    switch (cli->m_how) {
    case SMTP_CLIENT_DATA_BDAT: return chunking;
    case SMTP_CLIENT_DATA_DATA: return chunking && binary;
    default: return chunking && (!(m->flags & SMTP_CLIENT_MSG_NO_CHUNKING) || binary);
    }
}

/* The body's encoder, for the command the data goes with (DATA: dot-stuffed, then CRLF.CRLF). */
static void encoder_init(smtp_client *cli, const smtp_client_message *m)
{
    smtp_data_encode_mode mode = !cli->m_bdat                           ? SMTP_DATA_ENCODE_DOT
                                 : m->body_type == SMTP_BODY_BINARYMIME ? SMTP_DATA_ENCODE_RAW
                                                                        : SMTP_DATA_ENCODE_CRLF;
    smtp_data_encoder_init(&cli->enc, mode);
}

/*
 * Writes the MAIL line (r NULL) or the RCPT line of r straight into the output queue: the
 * address, checked at submission (a path, one token, no control octet), and after it the
 * parameters, built in place. Then the line's limit, and a last look for control octets over
 * the whole line, so that none reaches the wire even from a string changed behind the
 * client's back (they are borrowed, client.h). Returns 1 when the line is out, 0 when the
 * queue must first be pulled to make room, or an error (TOO_LONG: longer than the queue can
 * ever hold, or than its limit).
 */
static int emit_path_line(smtp_client *cli, const smtp_client_rcpt *r, const char *address,
                          size_t alen, uint64_t size)
{
    smtp_verb verb = r ? SMTP_VERB_RCPT : SMTP_VERB_MAIL;
    size_t hlen = r ? 9 : 11, room;
    char *dst = smtp_cli_out_room(cli, r ? SMTP_MAX_RCPT_LINE : SMTP_MAX_MAIL_LINE, &room);
    if (!dst) return SMTP_ERR_NOMEM;
    size_t n = hlen + alen + 1; /* up to '>' */
    if (n + 2 > room) return cli->out_len ? 0 : SMTP_ERR_TOO_LONG;
    if (r) /* each of constant length: copied as one or two moves */
        memcpy(dst, "RCPT TO:<", 9);
    else
        memcpy(dst, "MAIL FROM:<", 11);
    memcpy(dst + hlen, address, alen);
    dst[n - 1] = '>';
    /* The parameters one octet further, for their SP, and within the room left for CRLF
     * (params_buf keeps one octet of its buffer). */
    char *params = dst + n + 1;
    int pn = r ? rcpt_params(cli, r, PARAMS_OFFERED, params, room - n - 2)
               : mail_params(cli, cli->msg, size, PARAMS_OFFERED, params, room - n - 2);
    if (pn < 0) return cli->out_len ? 0 : pn;
    size_t len = n;
    if (pn > 0) {
        dst[n] = ' ';
        len += 1 + (size_t)pn;
    }
    if (len + 2 > SMTP_MAX_COMMAND_LINE &&
        len + 2 > smtp_emit_path_limit(r != NULL, params, (size_t)pn))
        return SMTP_ERR_TOO_LONG;
    if (smtp_span_has_ctl(dst, len)) return SMTP_ERR_UNSAFE_ARGUMENT;
    dst[len] = '\r';
    dst[len + 1] = '\n';
    smtp_cli_out_commit(cli, len + 2, verb);
    return 1;
}

static int emit_mail(smtp_client *cli)
{
    const smtp_client_message *m = cli->msg;
    if (!smtp_cli_may_send(cli, SMTP_VERB_MAIL) || smtp_cli_xq_free(cli) < 4) return 0;
    cli->m_bdat = use_bdat(cli, m);
    /* A body in memory: its size as transmitted, computed only when SIZE is offered and the
     * application did not give it. */
    uint64_t size = m->size;
    if (!size && !m->read_body && cli->ehlo && smtp_caps_has(&cli->caps, SMTP_CAP_SIZE))
        size = body_size(cli);
    if (cli->m_utf8 && go_alabels(cli, m, size)) cli->m_utf8 = 0;
    int missing = missing_ext(cli, m, size);
    /* LIMITS RCPTMAX (RFC 9422 4.2): more recipients than the server takes in a transaction go
     * in several, the same body each time; a body source cannot be read twice, and all or
     * nothing cannot hold across transactions: those messages are refused (missing LIMITS). */
    uint64_t rcptmax = cli->ehlo ? smtp_caps_limit(&cli->caps, SMTP_LIMIT_RCPTMAX) : 0;
    if (missing < 0 && !cli->m_incremental && !cli->t_split && rcptmax > 0 && m->nrcpts > rcptmax) {
        if (m->read_body || (m->flags & SMTP_CLIENT_MSG_ALL_OR_NOTHING)) {
            missing = SMTP_CAP_LIMITS;
        } else {
            cli->t_split = 1;
            cli->t_end = (size_t)rcptmax;
        }
    }
    if (missing >= 0) {
        smtp_client_result res = {SMTP_CLIENT_UNSUPPORTED,    NULL, 0, 0, (smtp_cap)missing, size,
                                  SMTP_CLIENT_RESULT_NOT_SENT};
        txn_clear(cli);
        int cr;
        SMTP_CALLBACK(cli, cr, on_message, &res);
        return cr < 0 ? smtp_cli_callback_failed(cli) : 1;
    }
    cli->m_size = size;
    char alabels[SMTP_MAX_PATH + 1];
    const char *sender;
    int sn = address_out(cli, m->sender, alabels, &sender);
    if (sn < 0) return sn;
    int rv = emit_path_line(cli, NULL, sender, (size_t)sn, size);
    if (rv <= 0) return rv;
    smtp_cli_expect_push(cli, SMTP_CLI_X_MAIL, 0, 0);
    cli->m_pending++;
    cli->m_mail = SMTP_CLI_MAIL_SENT;
    encoder_init(cli, m);
    return 1;
}

static int emit_rcpt(smtp_client *cli)
{
    const smtp_client_rcpt *r = &cli->msg->rcpts[cli->m_rcpt_sent];
    if (!smtp_cli_may_send(cli, SMTP_VERB_RCPT) || smtp_cli_xq_free(cli) < 3) return 0;
    char alabels[SMTP_MAX_PATH + 1];
    const char *address;
    int an = address_out(cli, r->address, alabels, &address);
    if (an < 0) return an;
    int rv = emit_path_line(cli, r, address, (size_t)an, 0);
    if (rv <= 0) return rv;
    smtp_cli_expect_push(cli, SMTP_CLI_X_RCPT, (uint32_t)cli->m_rcpt_sent, 0);
    cli->m_pending++;
    cli->m_rcpt_sent++;
    return 1;
}

static int emit_plain(smtp_client *cli, smtp_verb verb, const char *text, size_t len, int kind)
{
    size_t room;
    char *dst = smtp_cli_out_room(cli, len, &room);
    if (!dst) return SMTP_ERR_NOMEM;
    if (room < len) return 0;
    memcpy(dst, text, len);
    smtp_cli_out_commit(cli, len, verb);
    smtp_cli_expect_push(cli, kind, 0, 1);
    return 1;
}

/* Its caller tests smtp_cli_txn_waits first, where most calls end; the states it covers give 0
 * here too (the switch's default). */
int smtp_cli_txn_produce(smtp_client *cli)
{
    if (cli->need_rset && !cli->msg && cli->quit_asked) cli->need_rset = 0; /* QUIT does it */
    if (cli->need_rset) {
        if (!smtp_cli_may_send(cli, SMTP_VERB_RSET) || smtp_cli_xq_free(cli) == 0) return 0;
        int rv = emit_plain(cli, SMTP_VERB_RSET, "RSET\r\n", 6, SMTP_CLI_X_RSET);
        if (rv > 0) cli->need_rset = 0;
        return rv;
    }
    if (!cli->msg) return 0;
    if (cli->m_mail == SMTP_CLI_MAIL_NONE && cli->probe) {
        /* The reuse probe: RSET alone, and MAIL only after its 2xx (a dead or confused
         * connection ends the session before anything of the message went out). */
        if (cli->probe == 2 || smtp_cli_xq_free(cli) == 0 ||
            !smtp_cli_may_send(cli, SMTP_VERB_RSET))
            return 0;
        size_t room;
        char *dst = smtp_cli_out_room(cli, 6, &room);
        if (!dst) return SMTP_ERR_NOMEM;
        if (room < 6) return 0;
        memcpy(dst, "RSET\r\n", 6);
        smtp_cli_out_commit(cli, 6, SMTP_VERB_RSET);
        smtp_cli_expect_push(cli, SMTP_CLI_X_RSET, 0, 2); /* flag 2: the probe */
        cli->probe = 2;
        return 1;
    }
    if (cli->m_mail == SMTP_CLI_MAIL_NONE) return emit_mail(cli);
    if (cli->m_data == SMTP_CLI_DATA_ABORT) {
        /* RFC 2920 3.1: DATA got 354 though no recipient was accepted: send an empty
         * message, which the server must refuse for want of recipients. */
        int rv = emit_plain(cli, SMTP_VERB_UNKNOWN, ".\r\n", 3, SMTP_CLI_X_DATA_END);
        if (rv <= 0) return rv;
        cli->m_pending++;
        cli->m_data = SMTP_CLI_DATA_END;
        return 1;
    }
    if (cli->m_decided) return 0;
    if (cli->m_rcpt_sent < txn_end(cli)) return emit_rcpt(cli);
    if (cli->m_open) return 0; /* more recipients may come (smtp_client_rcpt_to) */
    switch (cli->m_data) {
    case SMTP_CLI_DATA_NONE:
        /* All or nothing: no data before every recipient has answered, so that nothing can
         * be delivered to some only (without PIPELINING this is lockstep anyway). */
        if ((cli->msg->flags & SMTP_CLIENT_MSG_ALL_OR_NOTHING) &&
            cli->m_rcpt_replied < txn_rcpts(cli))
            return 0;
        if (cli->m_bdat) {
            cli->m_data = SMTP_CLI_DATA_BDAT;
            return 1;
        }
        if (!smtp_cli_may_send(cli, SMTP_VERB_DATA) || smtp_cli_xq_free(cli) == 0) return 0;
        int rv = emit_plain(cli, SMTP_VERB_DATA, "DATA\r\n", 6, SMTP_CLI_X_DATA);
        if (rv <= 0) return rv;
        cli->m_pending++;
        cli->m_data = SMTP_CLI_DATA_SENT;
        return 1;
    case SMTP_CLI_DATA_BODY: return emit_body(cli);
    case SMTP_CLI_DATA_BDAT: return emit_bdat(cli);
    default: return 0;
    }
}

int smtp_cli_txn_busy(const smtp_client *cli)
{
    return cli->msg != NULL;
}

/* ---- replies ---- */

static void save_reply(smtp_client *cli, const smtp_client_reply *r)
{
    struct smtp_cli_saved *s = &cli->saved;
    s->set = 1;
    s->code = r->code;
    s->command = r->command;
    s->lines = r->lines;
    s->truncated = r->truncated;
    s->len = r->text.len;
    memcpy(s->text, r->text.ptr, r->text.len);
    s->enh_off = r->enhanced.len ? (size_t)(r->enhanced.ptr - r->text.ptr) : 0;
    s->enh_len = r->enhanced.len;
}

static int status_of(int code)
{
    return code >= 500 ? SMTP_CLIENT_PERMFAIL : SMTP_CLIENT_TEMPFAIL;
}

/* The message has failed; the replies it is still owed are read before it is reported. */
static void decide(smtp_client *cli, int status, const smtp_client_reply *r, int rset)
{
    if (cli->m_decided) return;
    cli->m_decided = 1;
    cli->m_status = status;
    if (r) save_reply(cli, r);
    if (rset && cli->m_mail == SMTP_CLI_MAIL_OK) cli->need_rset = 1;
}

static int finish(smtp_client *cli, int status)
{
    smtp_client_result res;
    smtp_client_reply rep;
    memset(&res, 0, sizeof res);
    res.status = (smtp_client_status)status;
    res.size = cli->m_size;
    if (cli->saved.set) {
        memset(&rep, 0, sizeof rep);
        rep.command = cli->saved.command;
        rep.code = cli->saved.code;
        rep.text.ptr = cli->saved.text;
        rep.text.len = cli->saved.len;
        rep.enhanced.ptr = cli->saved.text + cli->saved.enh_off;
        rep.enhanced.len = cli->saved.enh_len;
        rep.lines = cli->saved.lines;
        rep.truncated = cli->saved.truncated;
        res.reply = &rep;
    }
    res.accepted =
        smtp_cli_lmtp(cli) && cli->m_data == SMTP_CLI_DATA_END ? cli->m_lmtp_ok : cli->m_ok;
    res.rejected = cli->m_rej + cli->m_lmtp_rej;
    if (cli->t_split) { /* the totals over its transactions */
        res.accepted = cli->t_delivered;
        res.rejected = cli->t_failed;
    }
    if (cli->m_mail == SMTP_CLI_MAIL_NONE && cli->t_first == 0)
        res.flags |= SMTP_CLIENT_RESULT_NOT_SENT;
    cli->messages++;
    txn_clear(cli);
    int cr;
    SMTP_CALLBACK(cli, cr, on_message, &res);
    return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
}

int smtp_cli_txn_abort(smtp_client *cli, int status, const smtp_client_reply *r)
{
    if (!cli->msg) return 0;
    if (!cli->m_decided && r) save_reply(cli, r);
    status = cli->m_decided ? cli->m_status : status;
    if (cli->t_split) { /* earlier transactions may have delivered it to some */
        cli->t_failed += cli->m_ok + cli->m_rej;
        if (cli->t_delivered) status = SMTP_CLIENT_DELIVERED;
    }
    return finish(cli, status);
}

/* All recipients answered and no data was sent yet: is there anyone to send to? */
static void judge_recipients(smtp_client *cli)
{
    int aon = (cli->msg->flags & SMTP_CLIENT_MSG_ALL_OR_NOTHING) != 0;
    if (cli->m_ok == 0 || (aon && cli->m_rej > 0))
        decide(cli, cli->m_temp ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL, NULL, 1);
}

static int on_rcpt_reply(smtp_client *cli, const struct smtp_cli_expect *x,
                         const smtp_client_reply *r)
{
    cli->m_rcpt_replied++;
    if (r->code / 100 == 2) {
        cli->m_ok++;
        cli->rcpt_ok[x->index] = 1;
    } else {
        cli->m_rej++;
        if (r->code / 100 == 4) cli->m_temp++;
        /* The first refusal is the deciding reply if the message fails for it. */
        if (!cli->saved.set && !cli->m_decided) save_reply(cli, r);
    }
    int cr;
    uint64_t txn = cli->messages;
    SMTP_CALLBACK(cli, cr, on_rcpt, &cli->msg->rcpts[x->index], r);
    if (cr < 0) return smtp_cli_callback_failed(cli);
    /* The callback ended the transaction (smtp_client_data for its last recipient, refused,
     * reports it at once), and may have begun the next: nothing more of this reply's. */
    if (cli->messages != txn) return 0;
    /* Before DATA (or while BDAT chunks go out): with no recipient, stop and RSET. */
    if (cli->m_rcpt_replied == txn_rcpts(cli) && !cli->m_decided && !cli->m_open &&
        (cli->m_data == SMTP_CLI_DATA_NONE || cli->m_data == SMTP_CLI_DATA_BDAT))
        judge_recipients(cli);
    return 0;
}

/* A transaction opened with smtp_client_mail_from: its MAIL and DATA replies go to on_reply. */
static int report_step(smtp_client *cli, const smtp_client_reply *r)
{
    if (!cli->m_incremental) return 0;
    int cr;
    SMTP_CALLBACK(cli, cr, on_reply, r);
    return cr < 0 ? smtp_cli_callback_failed(cli) : 0;
}

static void on_data_reply(smtp_client *cli, const smtp_client_reply *r)
{
    if (r->code == 354) {
        if (cli->m_decided || cli->m_ok == 0) {
            decide(cli, cli->m_temp ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL, NULL, 0);
            cli->m_data = SMTP_CLI_DATA_ABORT;
        } else if ((cli->msg->flags & SMTP_CLIENT_MSG_ALL_OR_NOTHING) && cli->m_rej) {
            cli->m_data = SMTP_CLI_DATA_ABORT; /* not reached: DATA waits for every RCPT */
        } else {
            cli->m_data = SMTP_CLI_DATA_BODY;
        }
        return;
    }
    cli->m_data = SMTP_CLI_DATA_FAIL;
    /* With no recipient accepted, the recipients' refusals tell more than DATA's 554. */
    if (cli->m_ok == 0)
        decide(cli, cli->m_temp ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL, NULL, 1);
    else
        decide(cli, status_of(r->code), r, 1);
}

static void on_lmtp_reply(smtp_client *cli, const smtp_client_reply *r)
{
    if (r->code / 100 == 2) {
        cli->m_lmtp_ok++;
    } else {
        cli->m_lmtp_rej++;
        if (r->code / 100 == 4) cli->m_lmtp_temp++;
    }
    save_reply(cli, r);
}

/* The saved deciding reply as a reply, or NULL. */
static const smtp_client_reply *saved_reply(const smtp_client *cli, smtp_client_reply *rep)
{
    if (!cli->saved.set) return NULL;
    memset(rep, 0, sizeof *rep);
    rep->command = cli->saved.command;
    rep->code = cli->saved.code;
    rep->text.ptr = cli->saved.text;
    rep->text.len = cli->saved.len;
    rep->enhanced.ptr = cli->saved.text + cli->saved.enh_off;
    rep->enhanced.len = cli->saved.enh_len;
    rep->lines = cli->saved.lines;
    rep->truncated = cli->saved.truncated;
    return rep;
}

/*
 * A transaction of a split message has every reply (RFC 9422 4.2). Its recipients' outcomes
 * are added up; in SMTP each recipient its RCPT accepted is told the transaction's final reply
 * through on_rcpt (reply->command DATA or BDAT, as LMTP's replies after the data are), so that
 * the application knows who has the message. Then the next transaction starts (after the RSET
 * a failure asked for), or, after the last one or a refused MAIL (which would refuse them all),
 * the message is reported: DELIVERED when some recipient has it, with the totals.
 */
static int split_txn_end(smtp_client *cli)
{
    smtp_client_reply rep;
    const smtp_client_reply *final = saved_reply(cli, &rep);
    if (smtp_cli_lmtp(cli)) {
        cli->t_delivered += cli->m_lmtp_ok;
        cli->t_failed += cli->m_lmtp_rej;
        cli->t_temp += cli->m_lmtp_temp;
        if (cli->m_data != SMTP_CLI_DATA_END) { /* DATA refused: its accepted got nothing */
            cli->t_failed += cli->m_ok;
            if (cli->m_status == SMTP_CLIENT_TEMPFAIL) cli->t_temp += cli->m_ok;
        }
    }
    int tell = !smtp_cli_lmtp(cli) && cli->m_ok > 0 && final;
    if (!smtp_cli_lmtp(cli) && cli->m_ok > 0) {
        int delivered = !cli->m_decided && cli->m_delivered;
        if (delivered)
            cli->t_delivered += cli->m_ok;
        else
            cli->t_failed += cli->m_ok;
        if (!delivered && (!final || final->code < 500)) cli->t_temp += cli->m_ok;
    }
    cli->t_failed += cli->m_rej;
    cli->t_temp += cli->m_temp;
    /* Counted now: a callback failing below ends the session, and the message's end must not
     * count this transaction's recipients a second time (smtp_cli_txn_abort adds m_ok and
     * m_rej). */
    cli->m_ok = cli->m_rej = cli->m_temp = 0;
    for (size_t i = cli->t_first; tell && i < cli->t_end; i++) {
        if (!cli->rcpt_ok[i]) continue;
        int cr;
        SMTP_CALLBACK(cli, cr, on_rcpt, &cli->msg->rcpts[i], final);
        if (cr < 0) return smtp_cli_callback_failed(cli);
    }
    int mail_refused = cli->m_mail == SMTP_CLI_MAIL_FAIL;
    if (mail_refused || cli->t_end >= cli->msg->nrcpts) {
        int status = cli->t_delivered ? SMTP_CLIENT_DELIVERED
                     : cli->t_temp || (mail_refused && cli->m_status == SMTP_CLIENT_TEMPFAIL)
                         ? SMTP_CLIENT_TEMPFAIL
                         : SMTP_CLIENT_PERMFAIL;
        return finish(cli, status);
    }
    /* The next transaction: the same message to the next recipients. */
    uint64_t rcptmax = cli->t_end - cli->t_first;
    cli->t_first = cli->t_end;
    cli->t_end = cli->msg->nrcpts - cli->t_first > rcptmax ? cli->t_first + (size_t)rcptmax
                                                           : cli->msg->nrcpts;
    cli->m_bdat = cli->m_mail = cli->m_data = cli->m_decided = cli->m_status = 0;
    cli->m_delivered = 0;
    cli->m_rcpt_sent = cli->t_first;
    cli->m_rcpt_replied = 0;
    cli->m_ok = cli->m_rej = cli->m_temp = 0;
    cli->m_lmtp_ok = cli->m_lmtp_rej = cli->m_lmtp_temp = 0;
    body_reset(cli);
    return 0;
}

int smtp_cli_txn_reply(smtp_client *cli, const struct smtp_cli_expect *x,
                       const smtp_client_reply *r)
{
    if (!cli->msg) return 0; /* not reached: replies of a reported message are ignored */
    cli->m_pending--;
    switch (x->kind) {
    case SMTP_CLI_X_MAIL: {
        if (r->code / 100 == 2) {
            cli->m_mail = SMTP_CLI_MAIL_OK;
        } else {
            cli->m_mail = SMTP_CLI_MAIL_FAIL;
            decide(cli, status_of(r->code), r, 0);
        }
        int rv = report_step(cli, r);
        if (rv < 0 || !cli->msg) return rv;
        break;
    }
    case SMTP_CLI_X_RCPT: {
        int rv = on_rcpt_reply(cli, x, r);
        if (rv < 0) return rv;
        break;
    }
    case SMTP_CLI_X_DATA: {
        on_data_reply(cli, r);
        int rv = report_step(cli, r);
        if (rv < 0 || !cli->msg) return rv;
        break;
    }
    case SMTP_CLI_X_DATA_END:
        if (x->flag) break; /* the reply to the lone dot of an aborted message */
        /* RFC 5321 4.1.1.4: the transaction is over whatever the reply. */
        if (r->code / 100 == 2) {
            save_reply(cli, r);
            cli->m_delivered = 1;
        } else {
            decide(cli, status_of(r->code), r, 0);
        }
        break;
    case SMTP_CLI_X_BDAT:
        if (cli->m_ok == 0 && cli->m_rcpt_replied == txn_rcpts(cli)) {
            /* No recipient accepted (BDAT went pipelined before the RCPT replies): their
             * refusals decide, as for DATA, whatever BDAT got: a 554 tells less, and a 250 to
             * LAST delivers to no one. That 250 ends the transaction; anything else is closed
             * with RSET (RFC 3030 2). */
            decide(cli, cli->m_temp ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL, NULL,
                   !(x->flag && r->code / 100 == 2));
        } else if (r->code / 100 != 2) {
            /* RFC 3030 2: no more BDAT after a failed one; close the transaction. */
            decide(cli, status_of(r->code), r, 1);
        } else if (x->flag && !cli->m_decided) {
            save_reply(cli, r);
            cli->m_delivered = 1;
        }
        break;
    case SMTP_CLI_X_LMTP: {
        on_lmtp_reply(cli, r);
        int cr;
        SMTP_CALLBACK(cli, cr, on_rcpt, &cli->msg->rcpts[x->index], r);
        if (cr < 0) return smtp_cli_callback_failed(cli);
        break;
    }
    default: break;
    }
    if (cli->m_pending || cli->m_data == SMTP_CLI_DATA_ABORT) return 0;
    if (cli->t_split && (cli->m_decided || cli->m_data == SMTP_CLI_DATA_END))
        return split_txn_end(cli);
    if (cli->m_decided) return finish(cli, cli->m_status);
    if (cli->m_data == SMTP_CLI_DATA_END) {
        if (!smtp_cli_lmtp(cli))
            return finish(cli, cli->m_delivered ? SMTP_CLIENT_DELIVERED : SMTP_CLIENT_PERMFAIL);
        if (cli->m_lmtp_ok) return finish(cli, SMTP_CLIENT_DELIVERED);
        return finish(cli, cli->m_lmtp_temp ? SMTP_CLIENT_TEMPFAIL : SMTP_CLIENT_PERMFAIL);
    }
    return 0;
}
