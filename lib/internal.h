/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by the library's source files. Not installed.
 */
#ifndef SMTP_INTERNAL_H
#define SMTP_INTERNAL_H

#include <smtp/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation through a caller's allocator (never NULL here: resolve with smtp_mem_or_default). */
static inline const smtp_mem *smtp_mem_or_default(const smtp_mem *mem)
{
    return mem ? mem : smtp_mem_default();
}

static inline void *smtp_malloc(const smtp_mem *mem, size_t size)
{
    return mem->malloc(size, mem->user_data);
}

static inline void *smtp_calloc(const smtp_mem *mem, size_t nmemb, size_t size)
{
    return mem->calloc(nmemb, size, mem->user_data);
}

static inline void *smtp_realloc(const smtp_mem *mem, void *ptr, size_t size)
{
    return mem->realloc(ptr, size, mem->user_data);
}

static inline void smtp_free(const smtp_mem *mem, void *ptr)
{
    mem->free(ptr, mem->user_data);
}

/* ASCII character classes, locale-independent (RFC 5234 core rules). */
static inline bool smtp_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool smtp_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool smtp_is_alnum(unsigned char c)
{
    return smtp_is_digit(c) || smtp_is_alpha(c);
}

/* A control byte: C0, DEL. Tab is a control too; callers that allow it check it first. */
static inline bool smtp_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static inline unsigned char smtp_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* WSP: SP or HTAB (RFC 5234 B.1). */
static inline bool smtp_is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The value of a hex digit, either case (ABNF HEXDIG is case-insensitive), or -1. */
static inline int smtp_hex_value(unsigned char c)
{
    if (smtp_is_digit(c)) return c - '0';
    c = smtp_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Spans and grammar pieces used by more than one parser (lib/grammar.c). */

/* Does p[0..n) hold a control byte (C0, HTAB included, or DEL)? */
bool smtp_span_has_ctl(const char *p, size_t n);

/* RFC 5322 3.2.3 atext, ASCII only: ALPHA / DIGIT / one of !#$%&'*+-/=?^_`{|}~ (bit c of a
 * map of the 128 ASCII codes: the path parser asks this of every octet of a local part). */
static inline bool smtp_is_atext(unsigned char c)
{
    static const uint64_t map[2] = {UINT64_C(0xa3ffacfa00000000), UINT64_C(0x7fffffffc7fffffe)};
    return c < 128 && ((map[c >> 6] >> (c & 63)) & 1u);
}

/*
 * RFC 4422 3.1: sasl-mech = 1*20mech-char, mech-char = UPPER-ALPHA / DIGIT / "-" / "_".
 * Lower case is accepted too: peers send it, and names are compared without regard to case.
 */
bool smtp_is_sasl_mech(const char *p, size_t n);

/*
 * Parses all of p[0..n) as a decimal number of 1..max_digits digits and at most `limit`.
 * Returns 0 (and sets *out), SMTP_ERR_SYNTAX (empty, or a byte that is not a digit) or
 * SMTP_ERR_OVERFLOW (more than max_digits digits, or above limit); *out is untouched on error.
 */
int smtp_parse_uint(const char *p, size_t n, size_t max_digits, uint64_t limit, uint64_t *out);

/* Case-insensitive ASCII comparison of a span with a lowercase NUL-terminated literal. */
bool smtp_span_ieq(const char *ptr, size_t len, const char *lower_lit);

/* Case-insensitive ASCII prefix test against a lowercase literal. */
bool smtp_span_iprefix(const char *ptr, size_t len, const char *lower_lit);

/* Case-insensitive ASCII comparison of two spans. */
bool smtp_span_ieq_span(const char *a, size_t alen, const char *b, size_t blen);

/*
 * The length of the enhanced status code (RFC 3463 2: class "." 1*3digit "." 1*3digit) that
 * begins `s`, when its class is the first digit of the reply `code` and that digit is 2, 4 or
 * 5 (RFC 3463 has no class 3); 0 when there is none.
 * The caller checks what follows it.
 */
size_t smtp_enhanced_prefix(const char *s, size_t len, int code);

/*
 * Scans the text after a path's '<' for the end of the path token: the first '>' (and, when
 * `stop_at_space`, the first SP) outside the quoted-string local part. A quoted string can only
 * be the whole local part (RFC 5321 4.1.2), so a '"' opens one only at the start of the
 * mailbox or right after a source route's ':'; elsewhere, e.g. inside a general address
 * literal "[tag:\"]", it is an ordinary byte. Returns the offset of the terminator, or `n`
 * when there is none; *open_quote tells whether a quoted string or quoted pair ran to the end.
 * (lib/path.c)
 */
size_t smtp_path_scan(const char *p, size_t n, bool stop_at_space, bool *open_quote);

/*
 * The limit of a MAIL (rcpt false) or RCPT line with these parameters (without the SP before
 * them): 512 octets plus what each extension keyword present allows (smtp_emit_mail, the one
 * rule of both). (lib/command_emit.c)
 */
size_t smtp_emit_path_limit(bool rcpt, const char *params, size_t plen);

/*
 * How smtp_ip_parse reads an address. Without a flag: RFC 4291 2.2 text and the dotted quad,
 * as PROXY v1 writes them (no leading zeros, "::" for one group or more, no tag).
 * SMTP_IP_RFC5321: an address literal's body (RFC 5321 4.1.3): IPv4 numbers may have leading
 * zeros, IPv6 needs the tag "IPv6:" (any case), "::" stands for two groups or more.
 * SMTP_IP_TAG: RFC 4291 text that may carry the "IPv6:" tag (Postfix's XCLIENT ADDR=).
 */
#define SMTP_IP_RFC5321 0x1u
#define SMTP_IP_TAG 0x2u

/*
 * Parses all of p[0..n) as an IP address under `flags` (SMTP_IP_*): IPv4 when it has no ':'
 * (nor the tag), else IPv6. Returns 4 (out[0..4) is the address), 16 (out[0..16)), or 0 when it
 * is none, with the offset of the fault in *bad when bad is not NULL. (lib/ipaddr.c)
 */
int smtp_ip_parse(const char *p, size_t n, unsigned flags, unsigned char out[16], size_t *bad);

/* The longest text smtp_ip_format writes, with its NUL ("ffff:...:ffff", 8 * 5 octets). */
#define SMTP_IP_TEXT_MAX 46
/*
 * Writes the address addr[0..len) (len 4 or 16) as text, NUL-terminated: the dotted quad, or
 * IPv6 in RFC 5952's form. Returns its length. (lib/ipaddr.c)
 */
size_t smtp_ip_format(const unsigned char *addr, size_t len, char out[SMTP_IP_TEXT_MAX]);

#define SMTP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The SMTP_XATTR_* bit of an XCLIENT/XFORWARD attribute name (any case), 0 for an unknown one.
 * (lib/caps.c) */
unsigned smtp_xattr_bit(const char *name, size_t len);

/*
 * A bounded string builder (lib/strbuf.c) over p[0..cap): each append either fits whole or
 * sets `err` (SMTP_ERR_TOO_LONG when there is no room, an encoder's own error otherwise), and
 * every append after a failure is dropped: check err once at the end. Make it with
 * {buffer, 0, capacity, 0}.
 */
typedef struct smtp_strbuf {
    char *p;
    size_t len, cap;
    int err;
} smtp_strbuf;
void smtp_strbuf_put(smtp_strbuf *b, const void *s, size_t n);
void smtp_strbuf_puts(smtp_strbuf *b, const char *s);
void smtp_strbuf_base64(smtp_strbuf *b, const void *data, size_t n); /* RFC 4648 4 */
void smtp_strbuf_xtext(smtp_strbuf *b, const char *raw);             /* RFC 3461 4 */
void smtp_strbuf_uint(smtp_strbuf *b, uint64_t v);                   /* decimal */
void smtp_strbuf_int(smtp_strbuf *b, int64_t v);                     /* decimal */

/* The capacity a growing buffer of `cap` (0: none yet, then `first`) takes to hold `need`:
 * doubled until it does, so that growth costs O(log need) reallocations. */
static inline size_t smtp_grown_cap(size_t cap, size_t need, size_t first)
{
    if (!cap) cap = first;
    while (cap < need)
        cap *= 2;
    return cap;
}

/*
 * Calls the application's callback `name` of engine `o` (fields cb, user_data, in_callback)
 * with the engine first and its user_data last, behind the reentrancy guard: while in_callback
 * is set the engine's feeding calls refuse to run (docs/DESIGN.md, the 1.0 dialect). `r` gets
 * the callback's result, 0 for a NULL callback. SMTP_CALLBACK0 is for a callback without
 * other arguments.
 */
#define SMTP_CALLBACK(o, r, name, ...)                                                             \
    do {                                                                                           \
        (r) = 0;                                                                                   \
        if ((o)->cb.name) {                                                                        \
            int saved_ = (o)->in_callback;                                                         \
            (o)->in_callback = 1;                                                                  \
            (r) = (o)->cb.name((o), __VA_ARGS__, (o)->user_data);                                  \
            (o)->in_callback = saved_;                                                             \
        }                                                                                          \
    } while (0)
#define SMTP_CALLBACK0(o, r, name)                                                                 \
    do {                                                                                           \
        (r) = 0;                                                                                   \
        if ((o)->cb.name) {                                                                        \
            int saved_ = (o)->in_callback;                                                         \
            (o)->in_callback = 1;                                                                  \
            (r) = (o)->cb.name((o), (o)->user_data);                                               \
            (o)->in_callback = saved_;                                                             \
        }                                                                                          \
    } while (0)

#endif /* SMTP_INTERNAL_H */
