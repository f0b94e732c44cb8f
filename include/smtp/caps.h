/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the EHLO capability parser (RFC 5321 4.1.1.1 and the extensions' RFCs).
 *
 * A client keeps an smtp_caps for the life of a session (and refills it after STARTTLS or
 * AUTH). It owns its data: fixed-size fields and bitmasks, no pointer into the reply, no
 * allocation, so it can be embedded, copied with memcpy and kept after the reply is gone.
 *
 * Feed it the text of each line of a 250 EHLO reply, after the code and the separator: the
 * first line is the server's domain and greeting, every other line is
 * `ehlo-keyword *(SP ehlo-param)`. Keywords, mechanism names and limit names are matched
 * without regard to case. A server's odd line never makes the parser fail: an unknown keyword
 * is counted, a known keyword with parameters it cannot read is still reported present but
 * its parameters are ignored (never half-read: "SIZE 12abc" announces SIZE with no known
 * limit) and the line is counted as malformed.
 */
#ifndef SMTP_CAPS_H
#define SMTP_CAPS_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The extensions smtp_caps knows (the RFC defining each keyword in brackets). */
typedef enum smtp_cap {
    SMTP_CAP_PIPELINING = 0,          /**< PIPELINING [RFC 2920] */
    SMTP_CAP_SIZE = 1,                /**< SIZE [n] [RFC 1870] */
    SMTP_CAP_8BITMIME = 2,            /**< 8BITMIME [RFC 6152] */
    SMTP_CAP_SMTPUTF8 = 3,            /**< SMTPUTF8 [RFC 6531] */
    SMTP_CAP_CHUNKING = 4,            /**< CHUNKING [RFC 3030] */
    SMTP_CAP_BINARYMIME = 5,          /**< BINARYMIME [RFC 3030] */
    SMTP_CAP_DSN = 6,                 /**< DSN [RFC 3461] */
    SMTP_CAP_ENHANCEDSTATUSCODES = 7, /**< ENHANCEDSTATUSCODES [RFC 2034] */
    SMTP_CAP_STARTTLS = 8,            /**< STARTTLS [RFC 3207] */
    SMTP_CAP_AUTH = 9,                /**< AUTH mech... and the old AUTH=mech... [RFC 4954] */
    SMTP_CAP_REQUIRETLS = 10,         /**< REQUIRETLS [RFC 8689] */
    SMTP_CAP_DELIVERBY = 11,          /**< DELIVERBY [min-by-time] [RFC 2852] */
    SMTP_CAP_MT_PRIORITY = 12,        /**< MT-PRIORITY [profile] [RFC 6710] */
    SMTP_CAP_FUTURERELEASE = 13,      /**< FUTURERELEASE interval date-time [RFC 4865] */
    SMTP_CAP_LIMITS = 14,             /**< LIMITS name=value... [RFC 9422] */
    SMTP_CAP_XCLIENT = 15,            /**< XCLIENT attribute... [Postfix] */
    SMTP_CAP_XFORWARD = 16,           /**< XFORWARD attribute... [Postfix] */
    SMTP_CAP_VRFY = 17,               /**< VRFY [RFC 5321 3.5] */
    SMTP_CAP_ETRN = 18,               /**< ETRN [RFC 1985] */
    SMTP_CAP_HELP = 19,               /**< HELP [RFC 5321 4.1.1.8] */
    SMTP_CAP_EXPN = 20,               /**< EXPN [RFC 5321 3.5] */
    SMTP_CAP_RRVS = 21,               /**< RRVS [RFC 7293] */
    SMTP_CAP_COUNT = 22               /**< the number of capabilities, not one */
} smtp_cap;

/** SASL mechanisms with a bit in smtp_caps_auth_mechs (others: smtp_caps_has_auth). */
/** @{ */
#define SMTP_AUTH_PLAIN 0x0001u
#define SMTP_AUTH_LOGIN 0x0002u
#define SMTP_AUTH_CRAM_MD5 0x0004u
#define SMTP_AUTH_DIGEST_MD5 0x0008u
#define SMTP_AUTH_SCRAM_SHA_1 0x0010u
#define SMTP_AUTH_SCRAM_SHA_1_PLUS 0x0020u
#define SMTP_AUTH_SCRAM_SHA_256 0x0040u
#define SMTP_AUTH_SCRAM_SHA_256_PLUS 0x0080u
#define SMTP_AUTH_XOAUTH2 0x0100u
#define SMTP_AUTH_OAUTHBEARER 0x0200u
#define SMTP_AUTH_EXTERNAL 0x0400u
#define SMTP_AUTH_ANONYMOUS 0x0800u
#define SMTP_AUTH_GSSAPI 0x1000u
#define SMTP_AUTH_NTLM 0x2000u
/** @} */

/** Attributes of XCLIENT and XFORWARD (Postfix XCLIENT_README, XFORWARD_README). */
/** @{ */
#define SMTP_XATTR_NAME 0x001u
#define SMTP_XATTR_ADDR 0x002u
#define SMTP_XATTR_PORT 0x004u
#define SMTP_XATTR_PROTO 0x008u
#define SMTP_XATTR_HELO 0x010u
#define SMTP_XATTR_LOGIN 0x020u
#define SMTP_XATTR_REVERSE_NAME 0x040u
#define SMTP_XATTR_DESTADDR 0x080u
#define SMTP_XATTR_DESTPORT 0x100u
#define SMTP_XATTR_SOURCE 0x200u
#define SMTP_XATTR_IDENT 0x400u
/** @} */

/** The limits of RFC 9422 (smtp_caps_limit). */
typedef enum smtp_caps_limit_name {
    SMTP_LIMIT_MAILMAX = 0,      /**< transactions per session */
    SMTP_LIMIT_RCPTMAX = 1,      /**< recipients per transaction */
    SMTP_LIMIT_RCPTDOMAINMAX = 2 /**< distinct recipient domains per transaction */
} smtp_caps_limit_name;

/** Bounds of the copies smtp_caps keeps. */
#define SMTP_CAPS_DOMAIN_MAX 255    /**< RFC 5321 4.5.3.1.2 */
#define SMTP_CAPS_AUTH_LIST_MAX 255 /**< the mechanism names, space-separated */
#define SMTP_CAPS_PROFILE_MAX 32    /**< an MT-PRIORITY profile name */

/**
 * The capabilities of one EHLO reply. Fields are private: read them with the functions below.
 * Set up with smtp_caps_init; owns no memory, needs no cleanup, may be copied.
 */
typedef struct smtp_caps {
    uint64_t size_;
    uint64_t fr_interval_;
    int64_t fr_datetime_;
    uint32_t present_;
    uint32_t auth_;
    uint32_t deliverby_;
    uint32_t limits_[3];
    uint16_t xclient_;
    uint16_t xforward_;
    uint16_t lines_;
    uint16_t unknown_;
    uint16_t malformed_;
    unsigned char fr_valid_;
    unsigned char auth_truncated_;
    unsigned char domain_len_;
    unsigned char auth_list_len_;
    unsigned char profile_len_;
    char domain_[SMTP_CAPS_DOMAIN_MAX];
    char auth_list_[SMTP_CAPS_AUTH_LIST_MAX];
    char profile_[SMTP_CAPS_PROFILE_MAX];
} smtp_caps;

/** smtp_caps_init empties `caps` (no capability, no line seen). NULL is ignored. */
SMTP_API void smtp_caps_init(smtp_caps *caps);

/**
 * smtp_caps_add_line adds the next line of the EHLO reply: `line`/`len` is the text after the
 * reply code and its separator (a trailing CRLF or LF, if present, is ignored). The first line
 * after smtp_caps_init gives the server's domain (its first word); the others are keyword
 * lines. Nothing is kept pointing into `line`.
 *
 * Returns 0 — also for unknown keywords and unreadable parameters, which are counted
 * (smtp_caps_unknown, smtp_caps_malformed) — or SMTP_ERR_INVALID_ARGUMENT for a NULL `caps`,
 * or a NULL `line` with a non-zero `len`.
 */
SMTP_API int smtp_caps_add_line(smtp_caps *caps, const char *line, size_t len);

/** smtp_caps_has returns 1 if the server announced `cap`, else 0 (also for NULL or a bad cap). */
SMTP_API int smtp_caps_has(const smtp_caps *caps, smtp_cap cap);

/** smtp_cap_name returns the EHLO keyword of `cap` ("8BITMIME"), or NULL for a bad value. */
SMTP_API const char *smtp_cap_name(smtp_cap cap);

/**
 * smtp_caps_size returns the SIZE limit in octets (RFC 1870), or 0 when there is none known:
 * SIZE absent, without a number, "SIZE 0" (no limit), or a parameter that is not a number
 * fitting 64 bits. When SIZE is announced more than once the smallest limit wins.
 */
SMTP_API uint64_t smtp_caps_size(const smtp_caps *caps);

/** smtp_caps_auth_mechs returns the SMTP_AUTH_* bits of the announced mechanisms. */
SMTP_API uint32_t smtp_caps_auth_mechs(const smtp_caps *caps);

/**
 * smtp_caps_has_auth returns 1 if the mechanism `mech`/`len` (any case) was announced by
 * AUTH or AUTH=, else 0. It searches the bounded copy of the list: a name that did not fit
 * (smtp_caps_auth_truncated) is not found, though its SMTP_AUTH_* bit is set if it has one.
 */
SMTP_API int smtp_caps_has_auth(const smtp_caps *caps, const char *mech, size_t len);

/**
 * smtp_caps_auth_list returns the announced mechanism names, each once, in the order first
 * seen, separated by one space, as the server spelled them (AUTH and AUTH= merged). The span
 * points into `caps` and is valid while `caps` is. Names that are not valid SASL names
 * (RFC 4422 3.1: 1-20 of A-Z 0-9 - _) end the list of their line and are counted as malformed.
 */
SMTP_API smtp_span smtp_caps_auth_list(const smtp_caps *caps);

/** smtp_caps_auth_truncated returns 1 if a mechanism name was dropped for lack of room. */
SMTP_API int smtp_caps_auth_truncated(const smtp_caps *caps);

/**
 * smtp_caps_domain returns the first word of the first line (the server's domain or address
 * literal), pointing into `caps`; empty when there was none, when it held a control byte, or
 * when it was longer than SMTP_CAPS_DOMAIN_MAX.
 */
SMTP_API smtp_span smtp_caps_domain(const smtp_caps *caps);

/** smtp_caps_deliverby_min returns DELIVERBY's min-by-time in seconds, 0 when none was given. */
SMTP_API uint32_t smtp_caps_deliverby_min(const smtp_caps *caps);

/**
 * smtp_caps_mt_priority_profile returns MT-PRIORITY's priority profile ("MIXER", "STANAG4406",
 * "NSEP"...), pointing into `caps`; empty when none was given.
 */
SMTP_API smtp_span smtp_caps_mt_priority_profile(const smtp_caps *caps);

/**
 * smtp_caps_future_release gets FUTURERELEASE's max-future-release-interval (seconds) and
 * max-future-release-date-time (seconds since the epoch, UTC). Returns 1 and fills the
 * non-NULL pointers if both were announced and readable, else 0 and leaves them alone.
 */
SMTP_API int smtp_caps_future_release(const smtp_caps *caps, uint64_t *max_interval,
                                      int64_t *max_datetime);

/** smtp_caps_limit returns the LIMITS value `which` (RFC 9422), 0 when not announced. */
SMTP_API uint32_t smtp_caps_limit(const smtp_caps *caps, smtp_caps_limit_name which);

/** smtp_caps_xclient returns the SMTP_XATTR_* bits XCLIENT announced (unknown names ignored). */
SMTP_API unsigned smtp_caps_xclient(const smtp_caps *caps);

/** smtp_caps_xforward returns the SMTP_XATTR_* bits XFORWARD announced. */
SMTP_API unsigned smtp_caps_xforward(const smtp_caps *caps);

/** smtp_caps_unknown returns how many keyword lines had a keyword smtp_caps does not know. */
SMTP_API unsigned smtp_caps_unknown(const smtp_caps *caps);

/**
 * smtp_caps_malformed returns how many lines were not fully understood: a keyword that is not
 * an ehlo-keyword, parameters on a keyword that takes none, or parameters that do not follow
 * their extension's grammar (those are ignored, the keyword still counts as announced).
 */
SMTP_API unsigned smtp_caps_malformed(const smtp_caps *caps);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CAPS_H */
