/* SPDX-License-Identifier: MIT */
/*
 * The command parser (server side): one line -> smtp_cmd, and the streaming parser that
 * frames the input with the line framer (line.h) and reports each line through callbacks.
 *
 * How a line is parsed (RFC 5321 4.1.1): the verb is the bytes before the first SP, looked up
 * case-insensitively; the argument is the rest after the SPs that follow, trailing SP/HTAB
 * trimmed (4.1.1: servers tolerate trailing white space). Then each verb's grammar splits the
 * argument into spans; nothing is copied or allocated.
 *
 * Line limits: the framer's buffer holds the longest line allowed, max(max_line,
 * max_auth_line); the limit of a given line depends on its verb (AUTH lines and SASL responses
 * may reach 12288 octets, RFC 4954 4, others 512, RFC 5321 4.5.3.1.4), so it is applied here
 * once the verb is known. A line-level problem (too long, bare LF/CR, NUL) wins over the
 * grammar, and such a line is never parsed further: only its verb is reported.
 */
#include "line.h"

#include <smtp/command.h>
#include <smtp/path.h>

#include <string.h>

#define SMTP_CMD_FLAGS_ALL                                                                         \
    (SMTP_CMD_LENIENT_BARE_LF | SMTP_CMD_STRICT_PATH_SPACE | SMTP_CMD_LENIENT_PATH_BRACKETS |      \
     SMTP_CMD_LENIENT_EMPTY_HELO)

/* RFC 5321 4.5.3.1.4 and RFC 4954 4. */
#define SMTP_DEFAULT_MAX_LINE 512
#define SMTP_DEFAULT_MAX_AUTH_LINE 12288
#define SMTP_MIN_LINE 8
#define SMTP_MAX_LINE_LIMIT 1048576

/* ---- verbs ---- */

struct verb_info {
    const char *name;    /* canonical */
    const char *grammar; /* for 501 replies */
};

static const struct verb_info verbs[] = {
    [SMTP_VERB_UNKNOWN] = {"UNKNOWN", NULL},
    [SMTP_VERB_HELO] = {"HELO", "Syntax: HELO <domain>"},
    [SMTP_VERB_EHLO] = {"EHLO", "Syntax: EHLO <domain>"},
    [SMTP_VERB_LHLO] = {"LHLO", "Syntax: LHLO <domain>"},
    [SMTP_VERB_MAIL] = {"MAIL", "Syntax: MAIL FROM:<reverse-path> [SP <mail-parameters>]"},
    [SMTP_VERB_RCPT] = {"RCPT", "Syntax: RCPT TO:<forward-path> [SP <rcpt-parameters>]"},
    [SMTP_VERB_DATA] = {"DATA", "Syntax: DATA"},
    [SMTP_VERB_BDAT] = {"BDAT", "Syntax: BDAT <chunk-size> [LAST]"},
    [SMTP_VERB_RSET] = {"RSET", "Syntax: RSET"},
    [SMTP_VERB_NOOP] = {"NOOP", "Syntax: NOOP [<string>]"},
    [SMTP_VERB_QUIT] = {"QUIT", "Syntax: QUIT"},
    [SMTP_VERB_VRFY] = {"VRFY", "Syntax: VRFY <string>"},
    [SMTP_VERB_EXPN] = {"EXPN", "Syntax: EXPN <string>"},
    [SMTP_VERB_HELP] = {"HELP", "Syntax: HELP [<string>]"},
    [SMTP_VERB_STARTTLS] = {"STARTTLS", "Syntax: STARTTLS"},
    [SMTP_VERB_AUTH] = {"AUTH", "Syntax: AUTH <mechanism> [<initial-response>]"},
    [SMTP_VERB_ETRN] = {"ETRN", "Syntax: ETRN [@|#]<node>"},
    [SMTP_VERB_XCLIENT] = {"XCLIENT", "Syntax: XCLIENT <attribute=value> ..."},
    [SMTP_VERB_XFORWARD] = {"XFORWARD", "Syntax: XFORWARD <attribute=value> ..."},
};

static bool verb_valid(smtp_verb verb)
{
    return (unsigned)verb < SMTP_ARRAY_LEN(verbs);
}

const char *smtp_verb_name(smtp_verb verb)
{
    return verb_valid(verb) ? verbs[verb].name : verbs[SMTP_VERB_UNKNOWN].name;
}

/*
 * A verb of 4 to 8 letters as one number: the little-endian values of its first four and its
 * last four octets (the same four for a 4-letter verb), each octet ORed with 0x20. For a
 * letter that is its lower case; a byte b maps to a lowercase letter only when b is that
 * letter in either case, so equal keys of equal lengths are the same verb, case aside.
 */
static uint32_t le32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

#define VERB4(a, b, c, d)                                                                          \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define VERB8(a, b, c, d, e, f, g, h)                                                              \
    ((uint64_t)VERB4(a, b, c, d) | (uint64_t)VERB4(e, f, g, h) << 32)

static smtp_verb verb_lookup(const char *p, size_t n)
{
    if (n < 4 || n > 8) return SMTP_VERB_UNKNOWN;
    uint64_t key = ((uint64_t)le32(p) | (uint64_t)le32(p + n - 4) << 32) | 0x2020202020202020u;
    if (n == 4) {
        switch ((uint32_t)key) {
        case VERB4('h', 'e', 'l', 'o'): return SMTP_VERB_HELO;
        case VERB4('e', 'h', 'l', 'o'): return SMTP_VERB_EHLO;
        case VERB4('l', 'h', 'l', 'o'): return SMTP_VERB_LHLO;
        case VERB4('m', 'a', 'i', 'l'): return SMTP_VERB_MAIL;
        case VERB4('r', 'c', 'p', 't'): return SMTP_VERB_RCPT;
        case VERB4('d', 'a', 't', 'a'): return SMTP_VERB_DATA;
        case VERB4('b', 'd', 'a', 't'): return SMTP_VERB_BDAT;
        case VERB4('r', 's', 'e', 't'): return SMTP_VERB_RSET;
        case VERB4('n', 'o', 'o', 'p'): return SMTP_VERB_NOOP;
        case VERB4('q', 'u', 'i', 't'): return SMTP_VERB_QUIT;
        case VERB4('v', 'r', 'f', 'y'): return SMTP_VERB_VRFY;
        case VERB4('e', 'x', 'p', 'n'): return SMTP_VERB_EXPN;
        case VERB4('h', 'e', 'l', 'p'): return SMTP_VERB_HELP;
        case VERB4('a', 'u', 't', 'h'): return SMTP_VERB_AUTH;
        case VERB4('e', 't', 'r', 'n'): return SMTP_VERB_ETRN;
        default: return SMTP_VERB_UNKNOWN;
        }
    }
    if (n == 7 && key == VERB8('x', 'c', 'l', 'i', 'i', 'e', 'n', 't')) return SMTP_VERB_XCLIENT;
    if (n == 8 && key == VERB8('s', 't', 'a', 'r', 't', 't', 'l', 's')) return SMTP_VERB_STARTTLS;
    if (n == 8 && key == VERB8('x', 'f', 'o', 'r', 'w', 'a', 'r', 'd')) return SMTP_VERB_XFORWARD;
    return SMTP_VERB_UNKNOWN;
}

/* ---- errors and replies ---- */

static const char *const error_names[] = {
    [SMTP_CMD_OK] = "OK",
    [SMTP_CMD_ERR_UNKNOWN_VERB] = "UNKNOWN_VERB",
    [SMTP_CMD_ERR_SYNTAX] = "SYNTAX",
    [SMTP_CMD_ERR_MISSING_ARGUMENT] = "MISSING_ARGUMENT",
    [SMTP_CMD_ERR_UNEXPECTED_ARGUMENT] = "UNEXPECTED_ARGUMENT",
    [SMTP_CMD_ERR_BDAT] = "BDAT",
    [SMTP_CMD_ERR_LINE_TOO_LONG] = "LINE_TOO_LONG",
    [SMTP_CMD_ERR_BARE_LF] = "BARE_LF",
    [SMTP_CMD_ERR_BARE_CR] = "BARE_CR",
    [SMTP_CMD_ERR_NUL] = "NUL",
};

const char *smtp_cmd_error_name(smtp_cmd_error error)
{
    if ((unsigned)error >= SMTP_ARRAY_LEN(error_names)) return "INVALID";
    return error_names[error];
}

static int reply_of(int code, const char *enh, const char *txt, const char **enhanced,
                    const char **text)
{
    if (enhanced) *enhanced = enh;
    if (text) *text = txt;
    return code;
}

int smtp_cmd_error_reply(smtp_cmd_error error, smtp_verb verb, const char **enhanced,
                         const char **text)
{
    if (error == SMTP_CMD_OK || (unsigned)error >= SMTP_ARRAY_LEN(error_names))
        return reply_of(0, NULL, NULL, enhanced, text);
    if (!verb_valid(verb)) verb = SMTP_VERB_UNKNOWN;
    /* Whatever is wrong with a BDAT line, its chunk size is unknown: reply and close. */
    if (verb == SMTP_VERB_BDAT)
        return reply_of(521, "5.5.4", verbs[SMTP_VERB_BDAT].grammar, enhanced, text);
    switch (error) {
    case SMTP_CMD_ERR_UNKNOWN_VERB:
        return reply_of(500, "5.5.1", "Error: command not recognized", enhanced, text);
    case SMTP_CMD_ERR_LINE_TOO_LONG:
        /* RFC 4954 4 defines 5.5.6 for the authentication exchange; RFC 3463 5.5.2 else. */
        if (verb == SMTP_VERB_AUTH)
            return reply_of(500, "5.5.6", "Authentication Exchange line is too long", enhanced,
                            text);
        return reply_of(500, "5.5.2", "Error: line too long", enhanced, text);
    case SMTP_CMD_ERR_BARE_LF:
        return reply_of(500, "5.5.2", "Error: bare <LF> received", enhanced, text);
    case SMTP_CMD_ERR_BARE_CR:
        return reply_of(500, "5.5.2", "Error: bare <CR> received", enhanced, text);
    case SMTP_CMD_ERR_NUL:
        return reply_of(500, "5.5.2", "Error: NUL byte received", enhanced, text);
    default: break;
    }
    /* SYNTAX, MISSING_ARGUMENT, UNEXPECTED_ARGUMENT (BDAT is handled above). */
    const char *grammar = verbs[verb].grammar ? verbs[verb].grammar : "Error: syntax error";
    return reply_of(501, "5.5.4", grammar, enhanced, text);
}

/* ---- parsing one line ---- */

static smtp_span span_of(const char *p, size_t n)
{
    smtp_span s = {n ? p : NULL, n};
    return s;
}

/* Bytes before the first SP: the verb as sent. */
static size_t verb_len(const char *line, size_t len)
{
    const char *sp = len ? memchr(line, ' ', len) : NULL;
    return sp ? (size_t)(sp - line) : len;
}

/* verb_len of a command line: most verbs have 4 letters, told without a search (no SP among
 * the first four octets, the line ending or a SP after them). */
static size_t verb_len4(const char *line, size_t len)
{
    if (len == 4 || (len > 4 && line[4] == ' ')) {
        uint32_t x = le32(line) ^ 0x20202020u; /* a zero byte where there is a SP */
        if (!((x - 0x01010101u) & ~x & 0x80808080u)) return 4;
    }
    return verb_len(line, len);
}

/* The line's length without trailing SP and HTAB. */
static size_t trimmed_len(const char *line, size_t len)
{
    while (len > 0 && smtp_is_wsp((unsigned char)line[len - 1]))
        len--;
    return len;
}

/* Sets up a command with only its line, name and verb (all a line-level error reports);
 * returns the line's length without trailing SP and HTAB. */
static size_t command_head(smtp_cmd *c, const char *line, size_t len)
{
    memset(c, 0, sizeof *c);
    c->line = span_of(line, len);
    size_t end = trimmed_len(line, len);
    size_t vl = verb_len4(line, end);
    c->name = span_of(line, vl);
    c->verb = verb_lookup(line, vl);
    return end;
}

static smtp_cmd_error error_of_status(smtp_line_status st)
{
    switch (st) {
    case SMTP_LINE_TOO_LONG: return SMTP_CMD_ERR_LINE_TOO_LONG;
    case SMTP_LINE_BARE_LF: return SMTP_CMD_ERR_BARE_LF;
    case SMTP_LINE_BARE_CR: return SMTP_CMD_ERR_BARE_CR;
    case SMTP_LINE_NUL: return SMTP_CMD_ERR_NUL;
    default: return SMTP_CMD_OK;
    }
}

/*
 * Finds the '>' closing a path that starts with '<' at p[0]; a quoted local part may hold '>'
 * and SP (RFC 5321 4.1.2). Returns its index, or n when there is none.
 */
static size_t path_end(const char *p, size_t n)
{
    bool open_quote;
    size_t end = 1 + smtp_path_scan(p + 1, n - 1, false, &open_quote);
    return open_quote ? n : end;
}

/* MAIL FROM:<reverse-path> [SP params], RCPT TO:<forward-path> [SP params] (RFC 5321 4.1.1.2-3). */
/* The length of MAIL's "FROM:" or RCPT's "TO:" (either case) at the start of a[0..n), or 0. */
static size_t path_keyword(const char *a, size_t n, bool mail)
{
    if (mail)
        return n >= 5 && (le32(a) | 0x20202020u) == VERB4('f', 'r', 'o', 'm') && a[4] == ':' ? 5
                                                                                             : 0;
    return n >= 3 && (a[0] | 0x20) == 't' && (a[1] | 0x20) == 'o' && a[2] == ':' ? 3 : 0;
}

static smtp_cmd_error parse_path_command(smtp_cmd *c, bool mail, unsigned flags)
{
    const char *a = c->arg.ptr;
    size_t n = c->arg.len;
    if (n == 0) return SMTP_CMD_ERR_MISSING_ARGUMENT;
    size_t i = path_keyword(a, n, mail);
    if (!i) return SMTP_CMD_ERR_SYNTAX;
    if (i < n && a[i] == ' ') {
        /* "MAIL FROM: <a@b>" is common; RFC 5321 has no SP there. */
        if (flags & SMTP_CMD_STRICT_PATH_SPACE) return SMTP_CMD_ERR_SYNTAX;
        while (i < n && a[i] == ' ')
            i++;
    }
    if (i == n) return SMTP_CMD_ERR_SYNTAX;
    size_t end;
    if (a[i] == '<') {
        end = i + path_end(a + i, n - i);
        if (end == n) return SMTP_CMD_ERR_SYNTAX;
        end++;
    } else {
        if (!(flags & SMTP_CMD_LENIENT_PATH_BRACKETS)) return SMTP_CMD_ERR_SYNTAX;
        end = i + verb_len(a + i, n - i);
    }
    c->path = span_of(a + i, end - i);
    if (end < n) {
        if (a[end] != ' ') return SMTP_CMD_ERR_SYNTAX;
        while (end < n && a[end] == ' ')
            end++;
        c->params = span_of(a + end, n - end);
    }
    return SMTP_CMD_OK;
}

/* BDAT SP chunk-size [SP end-marker] (RFC 3030 2): chunk-size = 1*DIGIT, end-marker = "LAST". */
static smtp_cmd_error parse_bdat(smtp_cmd *c)
{
    const char *a = c->arg.ptr;
    size_t n = c->arg.len, i = 0;
    while (i < n && smtp_is_digit((unsigned char)a[i]))
        i++;
    /* Any number of digits (leading zeros are fine) up to UINT64_MAX. */
    if (smtp_parse_uint(a, i, SIZE_MAX, UINT64_MAX, &c->chunk_size) < 0) return SMTP_CMD_ERR_BDAT;
    if (i == n) return SMTP_CMD_OK;
    if (a[i] != ' ') return SMTP_CMD_ERR_BDAT;
    while (i < n && a[i] == ' ')
        i++;
    if (!smtp_span_ieq(a + i, n - i, "last")) return SMTP_CMD_ERR_BDAT;
    c->last = 1;
    return SMTP_CMD_OK;
}

/* AUTH SP mechanism [SP initial-response] (RFC 4954 4). */
static smtp_cmd_error parse_auth(smtp_cmd *c)
{
    const char *a = c->arg.ptr;
    size_t n = c->arg.len;
    if (n == 0) return SMTP_CMD_ERR_MISSING_ARGUMENT;
    size_t ml = verb_len(a, n);
    if (!smtp_is_sasl_mech(a, ml)) return SMTP_CMD_ERR_SYNTAX;
    c->mechanism = span_of(a, ml);
    size_t i = ml;
    while (i < n && a[i] == ' ')
        i++;
    if (i == n) return SMTP_CMD_OK;
    /* The initial response is one word; its base64 is checked when it is decoded. */
    if (memchr(a + i, ' ', n - i)) return SMTP_CMD_ERR_SYNTAX;
    c->initial_response = span_of(a + i, n - i);
    return SMTP_CMD_OK;
}

/* HELO/EHLO/LHLO SP ( Domain / address-literal ) (RFC 5321 4.1.1.1, RFC 2033 4.1), at most
 * 255 octets (RFC 5321 4.5.3.1.2): longer is a syntax error (501), never a cut name. */
static smtp_cmd_error parse_hello(smtp_cmd *c, unsigned flags)
{
    if (c->arg.len == 0)
        return (flags & SMTP_CMD_LENIENT_EMPTY_HELO) ? SMTP_CMD_OK : SMTP_CMD_ERR_MISSING_ARGUMENT;
    if (memchr(c->arg.ptr, ' ', c->arg.len)) return SMTP_CMD_ERR_SYNTAX;
    if (c->arg.len > SMTP_MAX_DOMAIN) return SMTP_CMD_ERR_SYNTAX; /* 4.5.3.1.2 */
    c->domain = c->arg;
    return SMTP_CMD_OK;
}

static smtp_cmd_error parse_argument(smtp_cmd *c, unsigned flags)
{
    switch (c->verb) {
    case SMTP_VERB_UNKNOWN: return SMTP_CMD_ERR_UNKNOWN_VERB;
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
    case SMTP_VERB_LHLO: return parse_hello(c, flags);
    case SMTP_VERB_MAIL: return parse_path_command(c, true, flags);
    case SMTP_VERB_RCPT: return parse_path_command(c, false, flags);
    case SMTP_VERB_BDAT: return parse_bdat(c);
    case SMTP_VERB_AUTH: return parse_auth(c);
    case SMTP_VERB_DATA:
    case SMTP_VERB_RSET:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_STARTTLS: return c->arg.len ? SMTP_CMD_ERR_UNEXPECTED_ARGUMENT : SMTP_CMD_OK;
    case SMTP_VERB_NOOP:
    case SMTP_VERB_HELP: return SMTP_CMD_OK;
    case SMTP_VERB_VRFY:
    case SMTP_VERB_EXPN:
    case SMTP_VERB_ETRN:
    case SMTP_VERB_XCLIENT:
    case SMTP_VERB_XFORWARD: return c->arg.len ? SMTP_CMD_OK : SMTP_CMD_ERR_MISSING_ARGUMENT;
    }
    return SMTP_CMD_ERR_UNKNOWN_VERB;
}

/* Parses the argument of a line known to hold no CR, LF or NUL, once command_head has set
 * up `c` and found the line's trimmed length `end`. */
static void parse_clean_line(const char *line, size_t end, unsigned flags, smtp_cmd *c)
{
    size_t a = c->name.len;
    while (a < end && line[a] == ' ')
        a++;
    c->arg = span_of(line + a, end - a);
    c->error = parse_argument(c, flags);
}

int smtp_cmd_parse(const char *line, size_t len, unsigned flags, smtp_cmd *out)
{
    if (!out || (!line && len) || (flags & ~SMTP_CMD_FLAGS_ALL)) return SMTP_ERR_INVALID_ARGUMENT;
    if (!line) line = ""; /* an empty line; spares pointer arithmetic on NULL */
    smtp_cmd_error lerr = error_of_status(smtp_line_scan(line, len));
    size_t end = command_head(out, line, len);
    if (lerr != SMTP_CMD_OK)
        out->error = lerr;
    else
        parse_clean_line(line, end, flags, out);
    return out->error == SMTP_CMD_OK ? 0 : SMTP_ERR_SYNTAX;
}

/* ---- the streaming parser ---- */

struct smtp_cmd_parser {
    smtp_line_framer framer;
    smtp_cmd_callbacks cb;
    smtp_cmd_settings settings;
    const smtp_mem *mem;
    void *user_data;
    int error;      /* sticky: SMTP_ERR_CALLBACK_FAILURE once a callback failed */
    bool sasl_next; /* the next line is a SASL response */
    int in_callback;
};

void smtp_cmd_settings_init_versioned(int version, smtp_cmd_settings *settings)
{
    if (!settings || version < 1 || version > SMTP_CMD_SETTINGS_VERSION) return;
    settings->max_line = SMTP_DEFAULT_MAX_LINE;
    settings->max_auth_line = SMTP_DEFAULT_MAX_AUTH_LINE;
    settings->flags = 0;
}

static bool limit_valid(size_t n)
{
    return n >= SMTP_MIN_LINE && n <= SMTP_MAX_LINE_LIMIT;
}

/* The size of each version of the structs (common.h: versioned structs); 0: unknown. */
static size_t settings_size(int version)
{
    return version == 1 ? sizeof(smtp_cmd_settings) : 0;
}

static size_t callbacks_size(int version)
{
    return version == 1 ? sizeof(smtp_cmd_callbacks) : 0;
}

int smtp_cmd_parser_new_versioned(smtp_cmd_parser **pp, int callbacks_version,
                                  const smtp_cmd_callbacks *callbacks, int settings_version,
                                  const smtp_cmd_settings *settings, const smtp_mem *mem,
                                  void *user_data)
{
    if (!pp) return SMTP_ERR_INVALID_ARGUMENT;
    *pp = NULL;
    if (!settings_size(settings_version) || !callbacks_size(callbacks_version))
        return SMTP_ERR_INVALID_ARGUMENT;
    /* What a caller's version lacks keeps its default. */
    smtp_cmd_settings s;
    smtp_cmd_settings_init(&s);
    if (settings) memcpy(&s, settings, settings_size(settings_version));
    smtp_cmd_callbacks cb;
    memset(&cb, 0, sizeof cb);
    if (callbacks) memcpy(&cb, callbacks, callbacks_size(callbacks_version));
    if (!limit_valid(s.max_line) || !limit_valid(s.max_auth_line) ||
        (s.flags & ~SMTP_CMD_FLAGS_ALL))
        return SMTP_ERR_INVALID_ARGUMENT;
    mem = smtp_mem_or_default(mem);
    smtp_cmd_parser *p = smtp_calloc(mem, 1, sizeof *p);
    if (!p) return SMTP_ERR_NOMEM;
    size_t max = s.max_line > s.max_auth_line ? s.max_line : s.max_auth_line;
    /* The line buffer comes with the first line split across reads (most never are). */
    unsigned lflags = SMTP_LINE_ON_DEMAND;
    if (s.flags & SMTP_CMD_LENIENT_BARE_LF) lflags |= SMTP_LINE_LENIENT_BARE_LF;
    int rv = smtp_line_init(&p->framer, max, lflags, mem);
    if (rv < 0) {
        smtp_free(mem, p);
        return rv;
    }
    p->cb = cb;
    p->settings = s;
    p->mem = mem;
    p->user_data = user_data;
    *pp = p;
    return 0;
}

void smtp_cmd_parser_del(smtp_cmd_parser *p)
{
    if (!p) return;
    smtp_line_free(&p->framer);
    smtp_free(p->mem, p);
}

int smtp_cmd_parser_reserve(smtp_cmd_parser *p)
{
    if (!p) return SMTP_ERR_INVALID_ARGUMENT;
    return smtp_line_reserve(&p->framer);
}

int smtp_cmd_parser_expect_sasl(smtp_cmd_parser *p)
{
    if (!p) return SMTP_ERR_INVALID_ARGUMENT;
    p->sasl_next = true;
    return 0;
}

/* Whether a line of `text` octets (line end excluded) exceeds `limit` (line end included). */
static bool over_limit(size_t text, size_t limit)
{
    return text > limit - 2;
}

static int deliver_sasl(smtp_cmd_parser *p, const smtp_line *ln)
{
    smtp_sasl_response r;
    memset(&r, 0, sizeof r);
    size_t limit = p->settings.max_auth_line;
    r.line = ln->text;
    if (ln->status == SMTP_LINE_TOO_LONG || over_limit(r.line.len, limit)) {
        /* As for commands: too long wins, and the prefix is the same however long. */
        r.error = SMTP_CMD_ERR_LINE_TOO_LONG;
        if (r.line.len > limit - 1) r.line.len = limit - 1;
    } else {
        r.error = error_of_status(ln->status);
    }
    r.cancelled = r.error == SMTP_CMD_OK && r.line.len == 1 && r.line.ptr[0] == '*';
    int rv;
    SMTP_CALLBACK(p, rv, on_sasl_response, &r);
    return rv;
}

static int deliver_command(smtp_cmd_parser *p, const smtp_line *ln)
{
    smtp_cmd c;
    const char *text = ln->text.ptr;
    size_t len = ln->text.len;
    size_t end = command_head(&c, text, len);
    size_t limit = c.verb == SMTP_VERB_AUTH ? p->settings.max_auth_line : p->settings.max_line;
    if (ln->status == SMTP_LINE_TOO_LONG || over_limit(len, limit)) {
        /* Report the same prefix however far past the limit the line went. */
        if (len > limit - 1) len = limit - 1;
        command_head(&c, text, len);
        c.error = SMTP_CMD_ERR_LINE_TOO_LONG;
    } else if (ln->status != SMTP_LINE_OK) {
        c.error = error_of_status(ln->status);
    } else {
        parse_clean_line(text, end, p->settings.flags, &c);
    }
    int rv;
    SMTP_CALLBACK(p, rv, on_command, &c);
    return rv;
}

static int deliver_line(smtp_cmd_parser *p, const smtp_line *ln)
{
    if (p->sasl_next) {
        /* One line only: the callback re-arms for the next challenge. */
        p->sasl_next = false;
        return deliver_sasl(p, ln);
    }
    return deliver_command(p, ln);
}

smtp_ssize smtp_cmd_parser_read(smtp_cmd_parser *p, const char *data, size_t len)
{
    if (!p || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
    if (p->error) return p->error;
    if (p->in_callback) return SMTP_ERR_INVALID_STATE;
    size_t off = 0;
    while (off < len) {
        smtp_line ln;
        off += smtp_line_next(&p->framer, data + off, len - off, &ln);
        if (ln.status == SMTP_LINE_NOMEM) {
            p->error = SMTP_ERR_NOMEM; /* no buffer for a split line: sticky, as a callback's */
            return p->error;
        }
        if (ln.status == SMTP_LINE_NONE) break;
        int rv = deliver_line(p, &ln);
        if (rv < 0) {
            p->error = SMTP_ERR_CALLBACK_FAILURE;
            return p->error;
        }
        if (rv == SMTP_PAUSE) break;
    }
    return (smtp_ssize)off;
}
