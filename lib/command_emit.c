/* SPDX-License-Identifier: MIT */
/*
 * Command emitters (client side): write one command line with its CRLF into the caller's
 * buffer.
 *
 * How it works: every emitter first checks the arguments and the total length of its line
 * (fixed text and caller arguments, described as up to four pieces, or added up by the MAIL
 * and RCPT emitters, the client's hot ones), and only then copies. So a refused call writes
 * nothing at all (DESIGN.md invariant 5): no control byte (CR, LF, NUL, HTAB, any C0, DEL) can
 * reach the wire, and no half line is left in `dest`.
 */
#include "internal.h"

#include <smtp/command.h>

#include <string.h>

/*
 * What an extension parameter adds to the 512-octet limit of a MAIL or RCPT line (RFC 5321
 * 4.5.3.1.4: extensions may raise it). The RFC's own figure where it gives one, else the SP,
 * the keyword and the longest value its grammar allows. SMTP_MAX_MAIL_LINE and
 * SMTP_MAX_RCPT_LINE (<smtp/command.h>) are 512 plus the sums of these tables.
 */
struct allowance {
    const char *keyword; /* lowercase */
    size_t octets;
    unsigned slot; /* keywords with the same slot share one allowance (counted once) */
};

static const struct allowance mail_allowances[] = {
    {"size", 26, 0},        /* RFC 1870 3 (5) */
    {"body", 16, 1},        /* " BODY=BINARYMIME" (RFC 6152 2, RFC 3030 3) */
    {"smtputf8", 10, 2},    /* RFC 6531 3.1 (5) */
    {"ret", 9, 3},          /* " RET=HDRS" (RFC 3461 4.3) */
    {"envid", 107, 4},      /* " ENVID=" and 100 characters of xtext (RFC 3461 4.4) */
    {"auth", 500, 5},       /* RFC 4954 3 */
    {"requiretls", 11, 6},  /* " REQUIRETLS" (RFC 8689) */
    {"mt-priority", 15, 7}, /* " MT-PRIORITY=-9" (RFC 6710) */
    {"by", 17, 8},          /* " BY=-999999999;RT" (RFC 2852) */
    /* " HOLDUNTIL=" and a date-time with a 3-digit fraction and an offset (RFC 4865, RFC 3339
     * 5.6); " HOLDFOR=" and 9 digits is shorter. Only one of them may be given (RFC 4865 3):
     * one allowance for either, counted once even if both are. */
    {"holduntil", 40, 9},
    {"holdfor", 40, 9},
};

static const struct allowance rcpt_allowances[] = {
    {"notify", 29, 0}, /* " NOTIFY=SUCCESS,FAILURE,DELAY" (RFC 3461 4.1) */
    {"orcpt", 507, 1}, /* " ORCPT=" and 500 characters (RFC 3461 4.2) */
};

/*
 * 512 plus the allowance of each extension keyword present in `params` (each counted once; a
 * keyword libsmtp does not know adds nothing).
 */
static size_t path_line_limit(const char *params, size_t plen, const struct allowance *table,
                              size_t count)
{
    unsigned seen = 0;
    size_t limit = SMTP_MAX_COMMAND_LINE;
    size_t i = 0;
    while (i < plen) {
        while (i < plen && params[i] == ' ')
            i++;
        size_t start = i;
        while (i < plen && params[i] != ' ' && params[i] != '=')
            i++;
        for (size_t k = 0; k < count; k++) {
            if ((seen & (1u << table[k].slot)) ||
                !smtp_span_ieq(params + start, i - start, table[k].keyword))
                continue;
            seen |= 1u << table[k].slot;
            limit += table[k].octets;
        }
        while (i < plen && params[i] != ' ')
            i++;
    }
    return limit;
}

/* A line under construction: pieces copied in order, then CRLF. */
struct line_pieces {
    smtp_span piece[6];
    size_t count;
};

static void add(struct line_pieces *l, const char *p, size_t n)
{
    l->piece[l->count].ptr = p;
    l->piece[l->count].len = n;
    l->count++;
}

static void add_str(struct line_pieces *l, const char *s)
{
    add(l, s, strlen(s));
}

/* The line's length with its CRLF. */
static size_t line_length(const struct line_pieces *l)
{
    size_t total = 2;
    for (size_t i = 0; i < l->count; i++)
        total += l->piece[i].len;
    return total;
}

/*
 * Checks the length against `limit`, then the capacity, then writes the line. With dest NULL
 * (cap is then 0) it only returns the length, as smtp_emit_reply does.
 */
static smtp_ssize write_line(char *dest, size_t cap, const struct line_pieces *l, size_t limit)
{
    size_t total = line_length(l);
    if (total > limit) return SMTP_ERR_TOO_LONG;
    if (!dest) return (smtp_ssize)total;
    if (total > cap) return SMTP_ERR_NOBUF;
    size_t off = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (l->piece[i].len) memcpy(dest + off, l->piece[i].ptr, l->piece[i].len);
        off += l->piece[i].len;
    }
    dest[off++] = '\r';
    dest[off++] = '\n';
    return (smtp_ssize)off;
}

static bool args_invalid(const char *dest, size_t cap, const char *a, size_t alen)
{
    return (!dest && cap) || (!a && alen);
}

static bool takes_no_argument(smtp_verb verb)
{
    return verb == SMTP_VERB_DATA || verb == SMTP_VERB_RSET || verb == SMTP_VERB_QUIT ||
           verb == SMTP_VERB_STARTTLS;
}

static bool argument_optional(smtp_verb verb)
{
    return verb == SMTP_VERB_NOOP || verb == SMTP_VERB_HELP;
}

smtp_ssize smtp_emit_command(char *dest, size_t cap, smtp_verb verb, const char *arg, size_t arglen)
{
    if (args_invalid(dest, cap, arg, arglen) || verb <= SMTP_VERB_UNKNOWN ||
        verb > SMTP_VERB_XFORWARD)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_span_has_ctl(arg, arglen)) return SMTP_ERR_UNSAFE_ARGUMENT;
    if (takes_no_argument(verb) ? arglen != 0 : (arglen == 0 && !argument_optional(verb)))
        return SMTP_ERR_INVALID_ARGUMENT;
    struct line_pieces l = {.count = 0};
    add_str(&l, smtp_verb_name(verb));
    if (arglen) {
        add_str(&l, " ");
        add(&l, arg, arglen);
    }
    return write_line(dest, cap, &l,
                      verb == SMTP_VERB_AUTH ? SMTP_MAX_AUTH_LINE : SMTP_MAX_COMMAND_LINE);
}

/*
 * Whether "<" mailbox ">" is one path token: no '>' or SP outside the quoted local part, and
 * every quoted string and quoted pair closed (RFC 5321 4.1.2). Otherwise the receiver would end
 * the path early and read the rest as parameters.
 */
static bool mailbox_is_one_token(const char *p, size_t n)
{
    bool open_quote;
    return smtp_path_scan(p, n, true, &open_quote) == n && !open_quote;
}

size_t smtp_emit_path_limit(bool rcpt, const char *params, size_t plen)
{
    return rcpt ? path_line_limit(params, plen, rcpt_allowances, SMTP_ARRAY_LEN(rcpt_allowances))
                : path_line_limit(params, plen, mail_allowances, SMTP_ARRAY_LEN(mail_allowances));
}

/* "MAIL FROM:<" or "RCPT TO:<" (hlen octets), the mailbox, '>', [SP params], CRLF. */
static smtp_ssize emit_path_command(char *dest, size_t cap, const char *head, size_t hlen,
                                    const char *mailbox, size_t mlen, const char *params,
                                    size_t plen, bool rcpt)
{
    if (args_invalid(dest, cap, mailbox, mlen) || (!params && plen))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_span_has_ctl(mailbox, mlen) || smtp_span_has_ctl(params, plen))
        return SMTP_ERR_UNSAFE_ARGUMENT;
    if (!mailbox_is_one_token(mailbox, mlen)) return SMTP_ERR_INVALID_ARGUMENT;
    size_t total = hlen + mlen + 1 + (plen ? 1 + plen : 0) + 2;
    /* The parameters' allowances matter only to a line longer than the base limit. */
    if (total > SMTP_MAX_COMMAND_LINE && total > smtp_emit_path_limit(rcpt, params, plen))
        return SMTP_ERR_TOO_LONG;
    if (!dest) return (smtp_ssize)total;
    if (total > cap) return SMTP_ERR_NOBUF;
    char *o = dest;
    memcpy(o, head, hlen);
    o += hlen;
    if (mlen) memcpy(o, mailbox, mlen);
    o += mlen;
    *o++ = '>';
    if (plen) {
        *o++ = ' ';
        memcpy(o, params, plen);
        o += plen;
    }
    *o++ = '\r';
    *o++ = '\n';
    return (smtp_ssize)total;
}

smtp_ssize smtp_emit_mail(char *dest, size_t cap, const char *mailbox, size_t mlen,
                          const char *params, size_t plen)
{
    return emit_path_command(dest, cap, "MAIL FROM:<", 11, mailbox, mlen, params, plen, false);
}

smtp_ssize smtp_emit_rcpt(char *dest, size_t cap, const char *mailbox, size_t mlen,
                          const char *params, size_t plen)
{
    /* RCPT TO:<> is not a forward-path (RFC 5321 4.1.1.3). */
    if (mlen == 0) return SMTP_ERR_INVALID_ARGUMENT;
    return emit_path_command(dest, cap, "RCPT TO:<", 9, mailbox, mlen, params, plen, true);
}

smtp_ssize smtp_emit_bdat(char *dest, size_t cap, uint64_t size, int last)
{
    if (!dest && cap) return SMTP_ERR_INVALID_ARGUMENT;
    char digits[20];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + size % 10);
        size /= 10;
    } while (size);
    struct line_pieces l = {.count = 0};
    add_str(&l, "BDAT ");
    add(&l, digits + n, sizeof digits - n);
    if (last) add_str(&l, " LAST");
    return write_line(dest, cap, &l, SMTP_MAX_COMMAND_LINE);
}

static bool is_base64_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!smtp_is_alnum(c) && c != '+' && c != '/' && c != '=') return false;
    }
    return true;
}

smtp_ssize smtp_emit_auth(char *dest, size_t cap, const char *mech, size_t mechlen,
                          const char *initial_response, size_t irlen)
{
    if (args_invalid(dest, cap, mech, mechlen) || (!initial_response && irlen))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_span_has_ctl(mech, mechlen) || smtp_span_has_ctl(initial_response, irlen))
        return SMTP_ERR_UNSAFE_ARGUMENT;
    if (!smtp_is_sasl_mech(mech, mechlen) || !is_base64_text(initial_response, irlen))
        return SMTP_ERR_INVALID_ARGUMENT;
    struct line_pieces l = {.count = 0};
    add_str(&l, "AUTH ");
    add(&l, mech, mechlen);
    if (initial_response) {
        add_str(&l, " ");
        /* RFC 4954 4: a zero-length initial response is sent as "=". */
        if (irlen)
            add(&l, initial_response, irlen);
        else
            add_str(&l, "=");
    }
    return write_line(dest, cap, &l, SMTP_MAX_AUTH_LINE);
}

smtp_ssize smtp_emit_sasl_response(char *dest, size_t cap, const char *text, size_t len)
{
    if (args_invalid(dest, cap, text, len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (smtp_span_has_ctl(text, len)) return SMTP_ERR_UNSAFE_ARGUMENT;
    bool cancel = len == 1 && text[0] == '*';
    if (!cancel && !is_base64_text(text, len)) return SMTP_ERR_INVALID_ARGUMENT;
    struct line_pieces l = {.count = 0};
    add(&l, text, len);
    return write_line(dest, cap, &l, SMTP_MAX_AUTH_LINE);
}
