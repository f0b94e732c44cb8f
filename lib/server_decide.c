/* SPDX-License-Identifier: MIT */
/*
 * The server engine's decisions: what the application answers at a policy point
 * (smtp_server_reply, a callback's default acceptance or DEFER) is checked against the
 * decision pending, turned into its reply, and handed to the file that owns the state it
 * changes (server.c for HELO, MAIL and RCPT, server_data.c for DATA, BDAT and the message,
 * server_auth.c, server_xclient.c).
 *
 * Default texts and enhanced codes (RFC 3463) fill what the application left out; an answer
 * that is neither an acceptance of the decision nor a 4xx/5xx refusal, or whose reply line
 * could not be formatted, is refused (SMTP_ERR_INVALID_ARGUMENT) and changes nothing: it is
 * checked whole (check_answer) before the decision is cleared and the state it changes is
 * touched.
 */
#include "server_internal.h"

#include "scan.h"

#include <string.h>

/* check_args is smtp_srv_apply's, inlined there (the hot path: every decision) and in the
 * wrapper that server_pipe.c calls. */
#if defined(__GNUC__) || defined(__clang__)
#define DECIDE_INLINE static inline __attribute__((always_inline))
#else
#define DECIDE_INLINE static inline
#endif

/* Is the decision one of an AUTH exchange? */
static int is_auth(smtp_srv_decision decision)
{
    switch (decision) {
    case SMTP_SRV_DECISION_AUTH:
    case SMTP_SRV_DECISION_SASL:
    case SMTP_SRV_DECISION_LOOKUP:
    case SMTP_SRV_DECISION_TOKEN: return 1;
    default: return 0;
    }
}

/* Is `code` an acceptance for decision `decision`? (0 is the default acceptance everywhere.) */
static int accepts(smtp_srv_decision decision, int code)
{
    if (code == 0) return 1;
    switch (decision) {
    case SMTP_SRV_DECISION_CONNECT: return code == 220;
    case SMTP_SRV_DECISION_HELO:
    case SMTP_SRV_DECISION_MAIL:
    case SMTP_SRV_DECISION_MESSAGE: return code == 250;
    case SMTP_SRV_DECISION_RCPT:
    case SMTP_SRV_DECISION_VRFY: return code == 250 || code == 251 || code == 252;
    case SMTP_SRV_DECISION_DATA: return code == 354;
    case SMTP_SRV_DECISION_AUTH:
    case SMTP_SRV_DECISION_SASL:
    case SMTP_SRV_DECISION_TOKEN: return code == 235; /* SASL, TOKEN: smtp_server_auth_accept */
    case SMTP_SRV_DECISION_LOOKUP: return 0;          /* 0 only (above): an unknown user */
    case SMTP_SRV_DECISION_XCLIENT: return code == 220;
    case SMTP_SRV_DECISION_XFORWARD: return code == 250;
    case SMTP_SRV_DECISION_ETRN: return code >= 250 && code <= 253; /* RFC 1985 5 */
    case SMTP_SRV_DECISION_HELP: return code == 211 || code == 214; /* RFC 5321 4.2.3 */
    default: return 0;
    }
}

/*
 * One octet of a reply text that is a control: LF between the lines of a relayed reply (at
 * most SMTP_SERVER_MAX_RELAY_LINES of them), TAB anywhere; any other control is unsafe. Returns
 * 0 or the error that refuses the text.
 */
static inline int judge_ctl(unsigned char c, int relay, size_t *lines)
{
    if (c == '\n' && relay)
        return ++*lines > SMTP_SERVER_MAX_RELAY_LINES ? SMTP_ERR_INVALID_ARGUMENT : 0;
    return c != '\t' && smtp_is_ctl(c) ? SMTP_ERR_UNSAFE_ARGUMENT : 0;
}

/* The octets [from, to) of text, one by one. */
static inline int judge_octets(const char *text, size_t from, size_t to, int relay, size_t *lines)
{
    for (size_t i = from; i < to; i++) {
        int r = judge_ctl((unsigned char)text[i], relay, lines);
        if (r < 0) return r;
    }
    return 0;
}

/* Does the word at p hold an octet below 0x20 or DEL? (TAB and LF too: false alarms are
 * judged octet by octet.) */
static inline int word_has_ctl(const char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t x, d;
    memcpy(&x, p, 8);
    d = x ^ (ones * 0x7f);
    return (((x - ones * 0x20) & ~x & highs) | ((d - ones) & ~d & highs)) != 0;
}

/*
 * A reply's text (smtp_server_relay_to: a relayed one may hold LF between its lines). Every
 * reply of a proxied message is checked, so the octets are looked at 16 at a time (SSE2, as
 * smtp_span_has_ctl) or a word at a time: only a block holding a control is judged octet by
 * octet, in order, so the first octet at fault decides the error as a plain loop would.
 */
DECIDE_INLINE int check_text(const char *text, size_t len, int relay)
{
    if (!len) return 0; /* most answers: the default text */
    if (!text || len > SMTP_SRV_MAX_TEXT) return SMTP_ERR_INVALID_ARGUMENT;
    size_t lines = 1, i = 0;
#if defined(SMTP_SCAN_SSE2)
    if (len >= 16 && !smtp_scan_portable) {
        /* The last 16 overlap the others: the octets already judged are masked off. */
        const __m128i c0 = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f),
                      tab = _mm_set1_epi8('\t');
        for (size_t judged = 0;; i += 16, judged = i) {
            if (i + 16 > len) i = len - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(text + i));
            __m128i ctl =
                _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, c0), v), _mm_cmpeq_epi8(v, del));
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl));
            m &= 0xffffu << (judged - i);
            for (; m; m &= m - 1) {
                int r = judge_ctl((unsigned char)text[i + (size_t)__builtin_ctz(m)], relay, &lines);
                if (r < 0) return r;
            }
            if (i + 16 == len) return 0;
        }
    }
#endif
    for (; i + 8 <= len; i += 8) {
        if (word_has_ctl(text + i)) {
            int r = judge_octets(text, i, i + 8, relay, &lines);
            if (r < 0) return r;
        }
    }
    /* The last few octets: in the word that ends the text when there is one. */
    if (i == len || (len >= 8 && !word_has_ctl(text + len - 8))) return 0;
    return judge_octets(text, i, len, relay, &lines);
}

int smtp_srv_check_text(const char *text, size_t len, int relay)
{
    return check_text(text, len, relay);
}

/* The default enhanced code of a reply: the class, refined for MAIL and RCPT (RFC 3463). */
static const char *default_enhanced(smtp_srv_decision decision, int code)
{
    /* RFC 4954 6: authentication credentials invalid */
    if (is_auth(decision) && code == 535) return "5.7.8";
    if (code >= 500) return "5.0.0";
    if (code >= 400) return "4.0.0";
    if (decision == SMTP_SRV_DECISION_MAIL) return "2.1.0";
    if (decision == SMTP_SRV_DECISION_RCPT) return "2.1.5";
    return "2.0.0";
}

/* The final reply to a message: one in SMTP, one per accepted recipient in LMTP (RFC 2033
 * 4.2); the message has then ended, taken or not. */
static int apply_message(smtp_server *srv, int code, const char *enhanced, const char *text,
                         size_t len)
{
    int ok = code < 300;
    if (!code) code = 250;
    int fixed = code == 250 && !enhanced && !text; /* the default acceptance, formatted once */
    if (!enhanced) enhanced = default_enhanced(SMTP_SRV_DECISION_MESSAGE, code);
    if (!text) text = ok ? "Ok: queued" : "Error: message not accepted", len = strlen(text);
    if (srv->set.flags & SMTP_SERVER_LMTP) {
        int r = smtp_srv_queue_lmtp_line(srv, code, enhanced, text, len);
        if (r < 0) return r;
        if (--srv->lmtp_left) {
            srv->decision = SMTP_SRV_DECISION_MESSAGE; /* more replies owed */
            return 0;
        }
        smtp_srv_clear_transaction(srv, srv->lmtp_ok);
        if (code == 421) srv->closing = 1;
        return 0;
    }
    int r = fixed ? smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_QUEUED)
                  : smtp_srv_queue_line(srv, code, enhanced, text, len);
    if (r < 0) return r;
    smtp_srv_clear_transaction(srv, ok);
    if (code == 421) srv->closing = 1;
    return smtp_srv_count_error(srv, code);
}

static int apply_connect(smtp_server *srv, int code, const char *text, size_t len)
{
    char buf[SMTP_SRV_MAX_TEXT + 1];
    int refuse = code && code != 220;
    if (srv->relay) { /* another server's greeting, as it is: no hostname put before it */
        smtp_srv_greeted(srv, refuse);
        int r = smtp_srv_queue_line(srv, code, NULL, text, len);
        if (r == 0 && code == 421) srv->closing = 1;
        return r;
    }
    if (!text) {
        text = !refuse ? "ESMTP" : code == 421 ? "Service not available" : "No SMTP service here";
        len = strlen(text);
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    smtp_srv_greeted(srv, refuse);
    return smtp_srv_queue_host_reply(srv, code ? code : 220, NULL, buf);
}

static int apply(smtp_server *srv, smtp_srv_decision decision, int code, const char *enhanced,
                 const char *text, size_t len)
{
    int ok = accepts(decision, code);
    if (!ok && !enhanced) enhanced = default_enhanced(decision, code);
    switch (decision) {
    case SMTP_SRV_DECISION_CONNECT: return apply_connect(srv, code, text, len);
    case SMTP_SRV_DECISION_MESSAGE: return apply_message(srv, code, enhanced, text, len);
    case SMTP_SRV_DECISION_HELO:
        if (ok) {
            srv->relay = 0; /* an accepted hello's reply is the engine's own */
            smtp_srv_helo_accepted(srv);
            if (srv->decision_verb == SMTP_VERB_HELO)
                return smtp_srv_queue_line(srv, 250, NULL, srv->set.hostname,
                                           strlen(srv->set.hostname));
            return smtp_srv_queue_ehlo(srv);
        }
        break;
    case SMTP_SRV_DECISION_MAIL:
    case SMTP_SRV_DECISION_RCPT:
        if (!ok) {
            smtp_srv_env_drop(srv);
            break;
        }
        if (decision == SMTP_SRV_DECISION_MAIL)
            smtp_srv_mail_accepted(srv);
        else
            smtp_srv_rcpt_accepted(srv);
        if ((!code || code == 250) && !enhanced && !text)
            return smtp_srv_queue_fixed(srv, decision == SMTP_SRV_DECISION_MAIL
                                                 ? SMTP_SRV_FIXED_MAIL
                                                 : SMTP_SRV_FIXED_RCPT);
        if (!text) text = "Ok", len = 2;
        break;
    case SMTP_SRV_DECISION_DATA:
        if (ok) {
            int r = smtp_srv_data_begin(srv, 0);
            if (r < 0) return r;
            /* An intermediate reply: no enhanced code (RFC 2034 3). A relayed one's text is
             * the other server's. */
            if (srv->relay) return smtp_srv_queue_line(srv, 354, NULL, text, len);
            return smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_DATA);
        }
        break;
    case SMTP_SRV_DECISION_BDAT:
        if (ok) {
            srv->relay = 0;
            return smtp_srv_data_begin(srv, 1); /* the chunk's reply comes after it */
        }
        return smtp_srv_bdat_refused(srv, code, enhanced, text, len);
    case SMTP_SRV_DECISION_LOOKUP:
        if (ok) return smtp_srv_sasl_unknown(srv); /* goes on, to fail as a wrong password */
        break;
    case SMTP_SRV_DECISION_AUTH:
    case SMTP_SRV_DECISION_SASL:
    case SMTP_SRV_DECISION_TOKEN:
        if (ok) {
            smtp_srv_auth_success(srv);
            code = 235;
            enhanced = "2.7.0";
            if (!text) text = "Authentication successful", len = strlen(text);
        } else if (!text && code == 535) {
            text = "Authentication credentials invalid", len = strlen(text);
        }
        break;
    case SMTP_SRV_DECISION_XCLIENT:
        if (ok) {
            srv->relay = 0;
            smtp_srv_xclient_reset(srv);
            return apply_connect(srv, 220, text, len);
        }
        break;
    case SMTP_SRV_DECISION_XFORWARD: break;
    case SMTP_SRV_DECISION_ETRN:
        if (ok && !code) text = "Queuing started", len = strlen(text);
        break;
    case SMTP_SRV_DECISION_HELP:
        if (ok && !code) code = 214, text = "See RFC 5321", len = strlen(text);
        break;
    case SMTP_SRV_DECISION_VRFY:
        if (ok && !code) {
            code = 252;
            enhanced = "2.5.0";
            text = "Cannot VRFY user, but will accept message and attempt delivery";
            len = strlen(text);
        }
        break;
    default: return SMTP_ERR_INVALID_STATE;
    }
    if (!code) code = 250;
    if (!enhanced) enhanced = default_enhanced(decision, code);
    if (!text) text = code < 400 ? "Ok" : "Error: command rejected", len = strlen(text);
    if (!ok && decision == SMTP_SRV_DECISION_TOKEN) {
        /* XOAUTH2 and OAUTHBEARER: the error challenge first (RFC 7628 3.2.2). */
        int later = smtp_srv_sasl_refusal(srv, code, enhanced, text, len);
        if (later) return later < 0 ? later : 0;
    }
    int r = smtp_srv_queue_line(srv, code, enhanced, text, len);
    if (r < 0) return r;
    if (code == 421) srv->closing = 1;
    r = smtp_srv_count_error(srv, code);
    if (r < 0) return r;
    if (!ok && is_auth(decision)) return smtp_srv_auth_failed(srv);
    return 0;
}

/*
 * Checks an answer to `decision` for everything that could make its reply fail, so that a
 * refused answer changes nothing (server.h: the decision stays pending): once it passed,
 * apply() can only fail for want of memory, which fails the session. The room
 * for the reply is checked apart (check_answer): an answer kept for a command read ahead has
 * its room kept since the command was read (server_pipe.c).
 */
DECIDE_INLINE int check_args(const smtp_server *srv, smtp_srv_decision decision, int code,
                             const char *enhanced, const char *text, size_t len)
{
    int ok = accepts(decision, code);
    if (!ok && !(code >= 400 && code <= 599)) return SMTP_ERR_INVALID_ARGUMENT;
    /* RFC 5321 4.2: the second digit is 0-5 (every accepting code is). */
    if (code / 10 % 10 > 5) return SMTP_ERR_INVALID_ARGUMENT;
    if (decision == SMTP_SRV_DECISION_BDAT && code == 354) return SMTP_ERR_INVALID_ARGUMENT;
    if (enhanced) {
        size_t el = strlen(enhanced);
        if (!code || smtp_enhanced_prefix(enhanced, el, code) != el)
            return SMTP_ERR_INVALID_ARGUMENT;
    }
    int r = check_text(text, len, srv->relay_arg);
    if (r < 0) return r;
    /* The greeting and an accepted XCLIENT's 220 put the hostname before the text (not before
     * a relayed greeting's). */
    int greeting = (decision == SMTP_SRV_DECISION_CONNECT && !srv->relay_arg) ||
                   (decision == SMTP_SRV_DECISION_XCLIENT && ok);
    if (greeting && text && !smtp_srv_host_reply_fits(srv, len)) return SMTP_ERR_INVALID_ARGUMENT;
    return 0;
}

static int check_answer(const smtp_server *srv, smtp_srv_decision decision, int code,
                        const char *enhanced, const char *text, size_t len)
{
    int r = check_args(srv, decision, code, enhanced, text, len);
    if (r < 0) return r;
    /* Room for the reply and, with the hard error limit, a 421 after it. */
    size_t need = decision == SMTP_SRV_DECISION_HELO ? SMTP_SRV_RESERVE : 1024;
    if (smtp_srv_out_room(srv) < need) return SMTP_ERR_NOBUF;
    return 0;
}

int smtp_srv_apply(smtp_server *srv, int code, const char *enhanced, const char *text, size_t len)
{
    smtp_srv_decision decision = srv->decision;
    if (decision == SMTP_SRV_DECISION_NONE) return SMTP_ERR_INVALID_STATE;
    int r = check_answer(srv, decision, code, enhanced, text, len);
    if (r < 0) return r;
    srv->decision = SMTP_SRV_DECISION_NONE;
    if (srv->in_callback) srv->answered = 1;
    /* A decision asked early (server_pipe.c): its command is judged at its turn. */
    if (srv->decision_spec) return smtp_srv_pipe_answer_head(srv, code, enhanced, text, len);
    /* A relayed reply: its lines as they are, for the first reply queued (server_out.c). */
    srv->relay = srv->relay_arg;
    srv->relay_arg = 0;
    r = apply(srv, decision, code, enhanced, text, len);
    srv->relay = 0;
    return r;
}

/* The same for the other files (server_pipe.c, server_data.c). */
int smtp_srv_accepts(smtp_srv_decision decision, int code)
{
    return accepts(decision, code);
}

int smtp_srv_check_answer(const smtp_server *srv, smtp_srv_decision decision, int code,
                          const char *enhanced, const char *text, size_t len)
{
    return check_args(srv, decision, code, enhanced, text, len);
}

int smtp_srv_apply_kept(smtp_server *srv, const smtp_srv_slot *slot)
{
    /* Checked when it was kept: given now as to the decision pending, it is applied. */
    srv->decision = slot->kind;
    srv->relay_arg = slot->relay;
    int r = smtp_srv_apply(srv, slot->code, slot->has_enhanced ? slot->enhanced : NULL,
                           slot->has_text ? slot->text : NULL, slot->has_text ? slot->len : 0);
    return r < 0 ? smtp_srv_fail(srv, r) : 0;
}

/*
 * The default acceptance of the decisions every message makes (MAIL, RCPT, DATA, the message's
 * end in SMTP): what smtp_srv_apply(srv, 0, NULL, NULL, 0) does, without the checks an answer
 * of the application needs (code 0 without text always passes them) and with each reply
 * formatted once (smtp_srv_queue_fixed). Any other decision, one asked early (server_pipe.c),
 * or too little room for the reply: smtp_srv_apply.
 */
static int accept_default(smtp_server *srv)
{
    smtp_srv_decision decision = srv->decision;
    switch (decision) {
    case SMTP_SRV_DECISION_MESSAGE:
        if (srv->set.flags & SMTP_SERVER_LMTP) return smtp_srv_apply(srv, 0, NULL, NULL, 0);
        break;
    case SMTP_SRV_DECISION_MAIL:
    case SMTP_SRV_DECISION_RCPT:
    case SMTP_SRV_DECISION_DATA: break;
    default: return smtp_srv_apply(srv, 0, NULL, NULL, 0);
    }
    if (srv->decision_spec || srv->relay_arg || smtp_srv_out_room(srv) < 1024)
        return smtp_srv_apply(srv, 0, NULL, NULL, 0);
    srv->decision = SMTP_SRV_DECISION_NONE;
    if (srv->in_callback) srv->answered = 1;
    srv->relay = 0;
    int r;
    switch (decision) {
    case SMTP_SRV_DECISION_MAIL:
        smtp_srv_mail_accepted(srv);
        return smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_MAIL);
    case SMTP_SRV_DECISION_RCPT:
        smtp_srv_rcpt_accepted(srv);
        return smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_RCPT);
    case SMTP_SRV_DECISION_DATA:
        r = smtp_srv_data_begin(srv, 0);
        return r < 0 ? r : smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_DATA);
    default: /* the message: 250, and a message more */
        r = smtp_srv_queue_fixed(srv, SMTP_SRV_FIXED_QUEUED);
        if (r < 0) return r;
        smtp_srv_clear_transaction(srv, 1);
        return 0;
    }
}

int smtp_srv_decided(smtp_server *srv, int r)
{
    if (srv->spec) return smtp_srv_spec_decided(srv, r); /* kept in its slot */
    if (smtp_srv_cb_result(srv, r) < 0) return -1;
    if (srv->decision == SMTP_SRV_DECISION_NONE) return 0;
    if (r == SMTP_SERVER_DEFER) {
        /* The read stops here, unless commands may be read ahead (server_pipe.c). */
        if (!srv->ring_cap) srv->stop = 1;
        srv->pipe_wait = 0; /* the next command is yet to be looked at */
        return 0;
    }
    if (srv->decision == SMTP_SRV_DECISION_MESSAGE && srv->answered) {
        /* LMTP: the replies not given repeat the last one given. */
        srv->decision = SMTP_SRV_DECISION_NONE;
        srv->lmtp_fill = srv->lmtp_left;
        srv->lmtp_left = 0;
        return smtp_srv_lmtp_fill(srv);
    }
    if (srv->decision == SMTP_SRV_DECISION_MESSAGE && (srv->set.flags & SMTP_SERVER_LMTP)) {
        /* LMTP without any reply: every recipient gets the default acceptance. */
        srv->decision = SMTP_SRV_DECISION_NONE;
        int e = smtp_srv_queue_lmtp_line(srv, 250, "2.0.0", "Ok", 2);
        if (e < 0) return e;
        srv->lmtp_fill = srv->lmtp_left - 1;
        srv->lmtp_left = 0;
        return smtp_srv_lmtp_fill(srv);
    }
    /* A mechanism run by the application, or a token, has no default acceptance. */
    if (srv->decision == SMTP_SRV_DECISION_SASL || srv->decision == SMTP_SRV_DECISION_TOKEN)
        return smtp_srv_apply(srv, 535, NULL, NULL, 0);
    return accept_default(srv);
}

/*
 * After an answer given outside the callbacks: the replies of the commands read ahead that it
 * frees (in order), then what needs no more input. Before settling: what resumes may owe the
 * reply the client waits for (RFC 2920).
 */
static int after_answer(smtp_server *srv)
{
    if (srv->in_callback) return 0; /* the engine goes on once the callbacks returned */
    int r = smtp_srv_pipe_flush(srv);
    if (r < 0) return r;
    r = smtp_srv_resume(srv);
    if (r < 0) return r;
    smtp_srv_sync_settle(srv);
    return 0;
}

int smtp_server_reply_to(smtp_server *srv, uint64_t id, int code, const char *enhanced,
                         const char *text, size_t len)
{
    if (!srv || id == 0 || id > srv->last_id) return SMTP_ERR_INVALID_ARGUMENT;
    if (srv->error) return SMTP_ERR_INVALID_STATE;
    int r;
    if (srv->decision != SMTP_SRV_DECISION_NONE && srv->decision_id == id) {
        /* on_sasl and on_auth_token accept only with smtp_server_auth_accept. */
        if ((srv->decision == SMTP_SRV_DECISION_SASL || srv->decision == SMTP_SRV_DECISION_TOKEN) &&
            code < 400)
            return SMTP_ERR_INVALID_ARGUMENT;
        r = smtp_srv_apply(srv, code, enhanced, text, len);
        if (r == SMTP_ERR_NOMEM || r == SMTP_ERR_CALLBACK_FAILURE) return smtp_srv_fail(srv, r);
    } else {
        r = smtp_srv_pipe_answer(srv, id, code, enhanced, text, len); /* one read ahead */
    }
    if (r < 0) return r;
    return after_answer(srv);
}

int smtp_server_relay_to(smtp_server *srv, uint64_t id, int code, const char *text, size_t len)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    if (id == 0) {
        id = smtp_server_decision(srv);
        if (srv->error || id == 0) return SMTP_ERR_INVALID_STATE;
    }
    /* Every code a decision allows, but the default acceptance: a relayed reply has its own. */
    if (code < 200 || code > 599 || (!text && len)) return SMTP_ERR_INVALID_ARGUMENT;
    srv->relay_arg = 1;
    int r = smtp_server_reply_to(srv, id, code, NULL, text ? text : "", text ? len : 0);
    srv->relay_arg = 0;
    return r;
}

int smtp_server_reply(smtp_server *srv, int code, const char *enhanced, const char *text,
                      size_t len)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    /* In a policy callback, the decision it makes; elsewhere the oldest one pending. */
    uint64_t id = smtp_server_decision(srv);
    if (srv->error || id == 0) return SMTP_ERR_INVALID_STATE;
    return smtp_server_reply_to(srv, id, code, enhanced, text, len);
}

smtp_verb smtp_server_decision_command(const smtp_server *srv)
{
    if (!srv) return SMTP_VERB_UNKNOWN;
    if (srv->spec) return srv->spec->verb; /* a command read ahead, its callback running */
    switch (srv->decision) {
    case SMTP_SRV_DECISION_HELO: return srv->decision_verb;
    case SMTP_SRV_DECISION_MAIL: return SMTP_VERB_MAIL;
    case SMTP_SRV_DECISION_RCPT: return SMTP_VERB_RCPT;
    case SMTP_SRV_DECISION_DATA: return SMTP_VERB_DATA;
    case SMTP_SRV_DECISION_BDAT: return SMTP_VERB_BDAT;
    case SMTP_SRV_DECISION_VRFY: return SMTP_VERB_VRFY;
    case SMTP_SRV_DECISION_AUTH:
    case SMTP_SRV_DECISION_SASL: return SMTP_VERB_AUTH;
    case SMTP_SRV_DECISION_XCLIENT: return SMTP_VERB_XCLIENT;
    case SMTP_SRV_DECISION_XFORWARD: return SMTP_VERB_XFORWARD;
    case SMTP_SRV_DECISION_ETRN: return SMTP_VERB_ETRN;
    case SMTP_SRV_DECISION_HELP: return SMTP_VERB_HELP;
    default: return SMTP_VERB_UNKNOWN; /* the greeting, the end of a message, none */
    }
}

int smtp_server_decision_chunk(const smtp_server *srv, uint64_t *size, int *last)
{
    if (!srv) return SMTP_ERR_INVALID_ARGUMENT;
    uint64_t n;
    int l;
    int r = smtp_srv_pipe_chunk(srv, &n, &l);
    if (r < 0) return r;
    if (size) *size = n;
    if (last) *last = l;
    return 0;
}

uint64_t smtp_server_decision(const smtp_server *srv)
{
    if (!srv) return 0;
    /* The policy callback of a command read ahead runs while srv->spec is its slot; any other
     * policy callback makes the pending decision. */
    if (srv->spec) return srv->spec->id;
    return srv->decision != SMTP_SRV_DECISION_NONE ? srv->decision_id : 0;
}
