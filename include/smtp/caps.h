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

/**
 * smtp_caps_init empties `caps`: no capability, no line seen.
 *
 * Call it before the first line of each EHLO reply, so that the next smtp_caps_add_line reads
 * the greeting line.
 *
 * @param caps  The capabilities to empty; NULL is ignored.
 */
SMTP_API void smtp_caps_init(smtp_caps *caps);

/**
 * smtp_caps_add_line adds the next line of a 250 EHLO reply to `caps`.
 *
 * The first line after smtp_caps_init gives the server's domain (its first word); the others
 * are keyword lines. Nothing is kept pointing into `line`. A server's odd line is not an
 * error: an unknown keyword is counted (smtp_caps_unknown), unreadable parameters are counted
 * and ignored (smtp_caps_malformed).
 *
 * @code
 * smtp_caps caps;
 * smtp_caps_init(&caps);
 * smtp_caps_add_line(&caps, "mx.example.org Hello", 20);
 * smtp_caps_add_line(&caps, "SIZE 10485760", 13);
 * smtp_caps_add_line(&caps, "AUTH PLAIN LOGIN", 16);
 * if (smtp_caps_auth_mechs(&caps) & SMTP_AUTH_PLAIN)
 *     printf("PLAIN, up to %llu octets\n", (unsigned long long)smtp_caps_size(&caps));
 * @endcode
 *
 * @param caps  The capabilities being filled, set up with smtp_caps_init; must not be NULL.
 * @param line  The text of the line after the reply code and its separator ("250-" or
 *              "250 "), `len` octets; need not be NUL-terminated. A trailing CRLF, LF or CR
 *              is ignored. May be NULL when `len` is 0.
 * @param len   The length of `line` in octets.
 * @return 0 on success, also for an unknown keyword or unreadable parameters, or this negative
 *         error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT `caps` is NULL, or `line` is NULL with `len` > 0.
 */
SMTP_API int smtp_caps_add_line(smtp_caps *caps, const char *line, size_t len);

/**
 * smtp_caps_has tells whether the server announced the capability `cap`.
 *
 * A known keyword whose parameters could not be read still counts as announced.
 *
 * @param caps  The capabilities; may be NULL.
 * @param cap   The capability to look up.
 * @return 1 if the server announced `cap`, else 0, also for a NULL `caps` or a `cap` that is
 *         not an smtp_cap (SMTP_CAP_COUNT included).
 */
SMTP_API int smtp_caps_has(const smtp_caps *caps, smtp_cap cap);

/**
 * smtp_cap_name returns the EHLO keyword of `cap` ("8BITMIME").
 *
 * @param cap  The capability.
 * @return The keyword in upper case, in static storage, or NULL for a value that is not an
 *         smtp_cap (SMTP_CAP_COUNT included).
 */
SMTP_API const char *smtp_cap_name(smtp_cap cap);

/**
 * smtp_caps_size returns the SIZE limit in octets (RFC 1870).
 *
 * When SIZE is announced more than once the smallest limit wins.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The limit in octets, or 0 when there is none known: `caps` NULL, SIZE absent,
 *         without a number, "SIZE 0" (no limit), or a parameter that is not a number fitting
 *         64 bits.
 */
SMTP_API uint64_t smtp_caps_size(const smtp_caps *caps);

/**
 * smtp_caps_auth_mechs returns the SMTP_AUTH_* bits of the announced SASL mechanisms.
 *
 * Names are matched without regard to case, by AUTH and the old AUTH= alike. A bit stays set
 * even when its name did not fit in smtp_caps_auth_list (smtp_caps_auth_truncated).
 *
 * @param caps  The capabilities; may be NULL.
 * @return The SMTP_AUTH_* bits or'ed, or 0 when none of those mechanisms was announced or
 *         `caps` is NULL.
 */
SMTP_API uint32_t smtp_caps_auth_mechs(const smtp_caps *caps);

/**
 * smtp_caps_has_auth tells whether the SASL mechanism `mech` was announced by AUTH or AUTH=.
 *
 * It searches the bounded copy of the list: a name that did not fit
 * (smtp_caps_auth_truncated) is not found, though its SMTP_AUTH_* bit is set if it has one.
 *
 * @param caps  The capabilities; may be NULL.
 * @param mech  The mechanism name, `len` octets, any case; need not be NUL-terminated.
 * @param len   The length of `mech` in octets.
 * @return 1 if the mechanism was announced, else 0, also when `caps` or `mech` is NULL or
 *         `len` is 0.
 */
SMTP_API int smtp_caps_has_auth(const smtp_caps *caps, const char *mech, size_t len);

/**
 * smtp_caps_auth_list returns the names of the announced SASL mechanisms.
 *
 * Each name appears once, in the order first seen, separated by one space, as the server
 * spelled it (AUTH and AUTH= merged). Names that are not valid SASL names (RFC 4422 3.1: 1-20
 * of A-Z 0-9 - _, here in any case) end the list of their line and are counted as malformed.
 * The copy holds at most SMTP_CAPS_AUTH_LIST_MAX octets: see smtp_caps_auth_truncated.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The names as a span that points into `caps` and is valid while `caps` is; empty
 *         when no mechanism was announced or `caps` is NULL.
 */
SMTP_API smtp_span smtp_caps_auth_list(const smtp_caps *caps);

/**
 * smtp_caps_auth_truncated tells whether a mechanism name was dropped for lack of room.
 *
 * @param caps  The capabilities; may be NULL.
 * @return 1 if a name did not fit in the SMTP_CAPS_AUTH_LIST_MAX octets of
 *         smtp_caps_auth_list, else 0, also for a NULL `caps`.
 */
SMTP_API int smtp_caps_auth_truncated(const smtp_caps *caps);

/**
 * smtp_caps_domain returns the server's domain or address literal, the first word of the
 * first line.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The domain as a span that points into `caps` and is valid while `caps` is; empty
 *         when there was none, when it held a control byte, when it was longer than
 *         SMTP_CAPS_DOMAIN_MAX, or when `caps` is NULL.
 */
SMTP_API smtp_span smtp_caps_domain(const smtp_caps *caps);

/**
 * smtp_caps_deliverby_min returns DELIVERBY's min-by-time in seconds (RFC 2852).
 *
 * @param caps  The capabilities; may be NULL.
 * @return The min-by-time in seconds, or 0 when none was given, it was unreadable or `caps` is
 *         NULL.
 */
SMTP_API uint32_t smtp_caps_deliverby_min(const smtp_caps *caps);

/**
 * smtp_caps_mt_priority_profile returns MT-PRIORITY's priority profile ("MIXER",
 * "STANAG4406", "NSEP"...).
 *
 * @param caps  The capabilities; may be NULL.
 * @return The profile name as a span that points into `caps` and is valid while `caps` is;
 *         empty when none was given, it was unreadable or `caps` is NULL.
 */
SMTP_API smtp_span smtp_caps_mt_priority_profile(const smtp_caps *caps);

/**
 * smtp_caps_future_release gets FUTURERELEASE's two limits (RFC 4865).
 *
 * @param caps          The capabilities; may be NULL.
 * @param max_interval  Receives the max-future-release-interval in seconds; may be NULL.
 * @param max_datetime  Receives the max-future-release-date-time in seconds since the epoch,
 *                      UTC; may be NULL.
 * @return 1 when both were announced and readable, having filled the non-NULL pointers; else
 *         0, leaving them alone.
 */
SMTP_API int smtp_caps_future_release(const smtp_caps *caps, uint64_t *max_interval,
                                      int64_t *max_datetime);

/**
 * smtp_caps_limit returns the LIMITS value `which` (RFC 9422).
 *
 * When a limit is announced more than once the smallest value wins. Unknown limit names are
 * ignored; a value of 0, or one that is not a number fitting 32 bits, is ignored and counted
 * as malformed.
 *
 * @param caps   The capabilities; may be NULL.
 * @param which  The limit: SMTP_LIMIT_MAILMAX, SMTP_LIMIT_RCPTMAX or SMTP_LIMIT_RCPTDOMAINMAX.
 * @return The limit, or 0 when it was not announced, `caps` is NULL or `which` is not an
 *         smtp_caps_limit_name.
 */
SMTP_API uint32_t smtp_caps_limit(const smtp_caps *caps, smtp_caps_limit_name which);

/**
 * smtp_caps_xclient returns the SMTP_XATTR_* bits of the attributes XCLIENT announced.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The bits of every XCLIENT line or'ed, unknown names ignored; 0 when there is none or
 *         `caps` is NULL.
 */
SMTP_API unsigned smtp_caps_xclient(const smtp_caps *caps);

/**
 * smtp_caps_xforward returns the SMTP_XATTR_* bits of the attributes XFORWARD announced.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The bits of every XFORWARD line or'ed, unknown names ignored; 0 when there is none or
 *         `caps` is NULL.
 */
SMTP_API unsigned smtp_caps_xforward(const smtp_caps *caps);

/**
 * smtp_caps_unknown counts the keyword lines whose keyword smtp_caps does not know.
 *
 * @param caps  The capabilities; may be NULL.
 * @return The number of such lines, at most 65535; 0 for a NULL `caps`.
 */
SMTP_API unsigned smtp_caps_unknown(const smtp_caps *caps);

/**
 * smtp_caps_malformed counts the lines that were not fully understood.
 *
 * Those are a first line whose first word held a control byte or was longer than
 * SMTP_CAPS_DOMAIN_MAX, a keyword that is not an ehlo-keyword, a keyword followed by '='
 * (other than the old AUTH=), parameters on a keyword that takes none, and parameters that
 * do not follow their extension's grammar or are missing where it requires them (those are
 * ignored, the keyword still counts as announced).
 *
 * @param caps  The capabilities; may be NULL.
 * @return The number of such lines, at most 65535; 0 for a NULL `caps`.
 */
SMTP_API unsigned smtp_caps_malformed(const smtp_caps *caps);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CAPS_H */
