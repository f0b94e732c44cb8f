/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the grammar of SMTP paths and domains (RFC 5321 4.1.2, 4.1.3, 4.5.3.1;
 * RFC 6531 3.3 for SMTPUTF8).
 *
 * smtp_path_parse checks the "<...>" token of MAIL FROM: or RCPT TO: and splits it into spans
 * that borrow the input; smtp_domain_parse checks a domain or an address literal alone (the
 * argument of HELO/EHLO, or a client's configured HELO name). Both are stateless, allocate
 * nothing and never read past `len`.
 */
#ifndef SMTP_PATH_H
#define SMTP_PATH_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** RFC 5321 4.5.3.1: size limits, in octets. */
#define SMTP_MAX_LOCAL_PART 64 /**< 4.5.3.1.1 */
#define SMTP_MAX_DOMAIN 255    /**< 4.5.3.1.2 */
#define SMTP_MAX_PATH 256      /**< 4.5.3.1.3, brackets and source route included */
#define SMTP_MAX_LABEL 63      /**< RFC 1035 2.3.4, checked on ASCII labels */

/* Input flags of smtp_path_parse and smtp_domain_parse. */
/** Accept the null path "<>" (MAIL FROM's reverse-path, RFC 5321 4.1.1.2). */
#define SMTP_PATH_ALLOW_NULL 0x01u
/** Accept "<Postmaster>" without a domain, any case (RCPT TO, RFC 5321 4.1.1.3). */
#define SMTP_PATH_ALLOW_POSTMASTER 0x02u
/**
 * SMTPUTF8 is in effect (RFC 6531 3.3): UTF-8 is allowed in the local part and as U-labels in
 * domains. Without it any byte >= 0x80 is SMTP_ERR_UTF8.
 */
#define SMTP_PATH_UTF8 0x04u
/**
 * Lenient (dangerous): also accept a path without its angle brackets ("user@example.com"), as
 * some broken clients send. The 256-octet limit still counts the two missing brackets.
 */
#define SMTP_PATH_LENIENT_BRACKETS 0x08u

/** Output flags (smtp_path.flags). */
#define SMTP_PATH_F_NULL 0x01u         /**< the null path "<>" */
#define SMTP_PATH_F_POSTMASTER 0x02u   /**< "<Postmaster>" without a domain */
#define SMTP_PATH_F_SOURCE_ROUTE 0x04u /**< a source route was present and stripped */
#define SMTP_PATH_F_QUOTED 0x08u       /**< the local part is a quoted string */
#define SMTP_PATH_F_UTF8 0x10u         /**< holds UTF-8: the path needs SMTPUTF8 */
#define SMTP_PATH_F_NO_BRACKETS 0x20u  /**< accepted without brackets (lenient flag) */

/** What a domain is. */
typedef enum smtp_domain_kind {
    SMTP_DOMAIN_NONE = 0, /**< no domain (null path, "<Postmaster>") */
    SMTP_DOMAIN_NAME,     /**< dot-separated labels (LDH, or U-labels with SMTPUTF8) */
    SMTP_DOMAIN_IPV4,     /**< "[1.2.3.4]" */
    SMTP_DOMAIN_IPV6,     /**< "[IPv6:...]" */
    SMTP_DOMAIN_GENERAL   /**< "[tag:content]", General-address-literal */
} smtp_domain_kind;

/** A parsed domain. Spans borrow the parsed input. */
typedef struct smtp_domain {
    smtp_domain_kind kind; /**< none, a name or an address literal */
    /** The domain exactly as written; for a literal, brackets included. */
    smtp_span text;
    /** Literals: the text inside the brackets after the tag ("1.2.3.4", "::1", "content"). */
    smtp_span literal;
    /** General-address-literal: its Standardized-tag. Empty otherwise. */
    smtp_span tag;
    /** IPV4: the address in addr[0..3]; IPV6: addr[0..15], network byte order. */
    unsigned char addr[16];
    /** Non-zero when a label holds UTF-8 (a U-label, RFC 6531 3.3). */
    int utf8;
} smtp_domain;

/** A parsed path. Spans borrow the parsed input; empty spans have len 0. */
typedef struct smtp_path {
    unsigned flags; /**< SMTP_PATH_F_* */
    /** "local@domain" as written, without brackets and source route (empty for "<>"). */
    smtp_span mailbox;
    /** The local part as written: a quoted string keeps its quotes and backslashes. */
    smtp_span local;
    /** The source route "@a,@b" as written, without its ':' (RFC 5321 4.1.2 A-d-l). */
    /** @{ */
    smtp_span route;
    smtp_domain domain;
    /** @} */
    /** On error: the offset in the input of the byte where the grammar failed (for TOO_LONG,
     * the start of the element that is too long). 0 on success. */
    size_t error_at;
} smtp_path;

/**
 * smtp_path_parse parses the path token of MAIL FROM: or RCPT TO: ("<...>") and splits it
 * into spans that borrow the input.
 *
 * Local parts are Dot-string or Quoted-string and kept as written (quoted-pairs are only
 * validated). Domains are names or address literals (IPv4, every IPv6 form of RFC 5321 4.1.3
 * with its group counts, General-address-literal). A source route (RFC 5321 C, "@a,@b:") is
 * accepted, stripped from `mailbox`, and reported. The whole grammar is checked before the
 * length limits, so SMTP_ERR_TOO_LONG means the path is otherwise well formed.
 *
 * @param s      The token as it follows "MAIL FROM:" or "RCPT TO:", `len` octets; need not
 *               be NUL-terminated. May be NULL when `len` is 0.
 * @param len    The length of `s` in octets.
 * @param flags  SMTP_PATH_ALLOW_NULL, SMTP_PATH_ALLOW_POSTMASTER, SMTP_PATH_UTF8 and
 *               SMTP_PATH_LENIENT_BRACKETS, or'ed; 0 for none.
 * @param out    Receives the path. On error, `out->error_at` says where the grammar failed
 *               and the other fields are unspecified.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `s` is NULL with `len` > 0, `out` is NULL, or an unknown
 *         flag is set.
 * @retval SMTP_ERR_SYNTAX The token does not follow the grammar, or is "<>" or "<Postmaster>"
 *         where its flag does not allow it.
 * @retval SMTP_ERR_UTF8 Malformed UTF-8 (overlong, surrogate, above U+10FFFF, truncated), or
 *         any octet >= 0x80 without SMTP_PATH_UTF8.
 * @retval SMTP_ERR_TOO_LONG A local part over 64 octets, a domain over 255, a label over 63,
 *         or a path over 256.
 */
SMTP_API int smtp_path_parse(const char *s, size_t len, unsigned flags, smtp_path *out);

/**
 * smtp_domain_parse parses a whole Domain or address literal (RFC 5321 4.1.2): the argument of
 * EHLO or HELO, for a server checking a client's greeting or a client checking its configured
 * name.
 *
 * @param s         The domain, `len` octets; need not be NUL-terminated. May be NULL when
 *                  `len` is 0.
 * @param len       The length of `s` in octets.
 * @param flags     0, or SMTP_PATH_UTF8 to accept U-labels (the other SMTP_PATH_* flags are
 *                  accepted and have no effect).
 * @param out       Receives the domain; its spans borrow `s`.
 * @param error_at  If not NULL, receives the offset of the failure (0 on success).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `s` is NULL with `len` > 0, `out` is NULL, or an unknown
 *         flag is set.
 * @retval SMTP_ERR_SYNTAX Not a domain or an address literal, or an empty string.
 * @retval SMTP_ERR_UTF8 As for smtp_path_parse.
 * @retval SMTP_ERR_TOO_LONG More than 255 octets, or a label over 63.
 */
SMTP_API int smtp_domain_parse(const char *s, size_t len, unsigned flags, smtp_domain *out,
                               size_t *error_at);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_PATH_H */
