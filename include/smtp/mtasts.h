/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — MTA-STS (RFC 8461) as data: the policy text and the MX-pattern matcher.
 *
 * The library fetches nothing: the application looks up the `_mta-sts` TXT record and fetches
 * `https://mta-sts.<domain>/.well-known/mta-sts.txt` itself, then hands the body to
 * smtp_mtasts_parse, and checks each MX host it may deliver to with smtp_mtasts_policy_match
 * (or one pattern with smtp_mtasts_mx_match). Caching the policy for max_age seconds, the TXT
 * record's id and TLSRPT are the application's. Everything here is stateless, allocates
 * nothing and never reads past `len`; a parsed policy borrows the text it was parsed from.
 */
#ifndef SMTP_MTASTS_H
#define SMTP_MTASTS_H

#include <smtp/common.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The largest policy body smtp_mtasts_parse accepts, in octets (64 KiB, RFC 8461 3.3). */
#define SMTP_MTASTS_MAX_POLICY 65536
/** The largest max_age value, in seconds (about one year, RFC 8461 3.2). */
#define SMTP_MTASTS_MAX_AGE 31557600u

/** The policy mode (RFC 8461 5). */
typedef enum smtp_mtasts_mode {
    SMTP_MTASTS_NONE = 0,    /**< "none": the domain no longer has a policy */
    SMTP_MTASTS_TESTING = 1, /**< "testing": report failures, deliver anyway */
    SMTP_MTASTS_ENFORCE = 2  /**< "enforce": deliver only to matching MX hosts over valid TLS */
} smtp_mtasts_mode;

/** A parsed policy. It borrows the parsed text: keep that text alive while using it. */
typedef struct smtp_mtasts_policy {
    smtp_mtasts_mode mode; /**< the first "mode" field */
    uint32_t max_age;      /**< the first "max_age" field, in seconds (0..SMTP_MTASTS_MAX_AGE) */
    size_t mx_count;       /**< how many "mx" fields (at least 1 unless mode is none) */
    /** The whole policy text as parsed; smtp_mtasts_mx_next walks it for the mx patterns. */
    smtp_span text;
    /** On error: the offset of the byte where the fault was found (the end of the text when a
     * required field is missing). 0 on success. */
    size_t error_at;
} smtp_mtasts_policy;

/**
 * smtp_mtasts_parse parses an MTA-STS policy body (RFC 8461 3.2) and fills `*out`.
 *
 * The body is lines "key: value" ended by CRLF or LF (the last one may be unterminated).
 * Fields: "version" must be "STSv1"; "mode" is "enforce", "testing" or "none"; "max_age" is
 * 1 to 10 digits, at most SMTP_MTASTS_MAX_AGE; "mx" is a pattern, a domain name or "*." and a
 * domain name (RFC 8461 4.1), and may repeat. version, mode and max_age are required; at least
 * one mx is required unless the mode is "none". Keys and the values above are case-sensitive
 * (RFC 8461 3.2 uses \%s strings). Any other key (1 to 32 of ALPHA, DIGIT, '_', '-', '.',
 * starting with ALPHA or DIGIT) is an extension: its value is checked (printable ASCII, SP or
 * UTF-8, not empty) and otherwise ignored. When version, mode or max_age appears more than
 * once the first wins and the others are ignored like extensions (RFC 8461 3.2). Only WSP
 * after the ':' and at the end of a line is allowed; empty lines are ignored (a leniency: the
 * grammar has none, but an extra newline at the end of a served file is common and harmless).
 *
 * @code
 * smtp_mtasts_policy policy;
 * if (smtp_mtasts_parse(body, body_len, &policy) == 0 && policy.mode == SMTP_MTASTS_ENFORCE &&
 *     smtp_mtasts_policy_match(&policy, mx_host, strlen(mx_host)) != 1) {
 *     // enforce mode and no mx pattern matches this MX host: do not deliver to it
 * }
 * @endcode
 *
 * @param s    The policy body, `len` octets; need not be NUL-terminated. May be NULL when
 *             `len` is 0. The parsed policy borrows it: keep it alive while using `*out`.
 * @param len  The length of `s` in octets.
 * @param out  Receives the policy. On an error other than SMTP_ERR_INVALID_ARGUMENT,
 *             `out->error_at` says where the fault was found and the other fields are
 *             unspecified; with SMTP_ERR_INVALID_ARGUMENT it is left untouched.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `s` is NULL with `len` > 0, or `out` is NULL.
 * @retval SMTP_ERR_TOO_LONG More than SMTP_MTASTS_MAX_POLICY octets (`error_at` is then
 *         SMTP_MTASTS_MAX_POLICY), a key over 32 octets, or an mx domain over 255 octets or
 *         with a label over 63.
 * @retval SMTP_ERR_SYNTAX A line that is not "key:" value, a control byte (bare CR, NUL, a
 *         tab inside a value), an empty value, a bad version, mode or mx, a max_age with a
 *         byte that is not a digit, or a required field missing (`error_at` is then `len`).
 * @retval SMTP_ERR_OVERFLOW max_age above SMTP_MTASTS_MAX_AGE or longer than 10 digits.
 * @retval SMTP_ERR_UTF8 Malformed UTF-8 in a value, or any byte >= 0x80 outside an
 *         extension's value (in a key, an mx value, or the first version, mode or max_age
 *         value).
 */
SMTP_API int smtp_mtasts_parse(const char *s, size_t len, smtp_mtasts_policy *out);

/**
 * smtp_mtasts_mx_next gives the next mx pattern of a policy that smtp_mtasts_parse accepted,
 * in the order they were written.
 *
 * @param policy  The parsed policy; the text it borrows must still be alive.
 * @param cursor  Where the walk is: set `*cursor` to 0 before the first call; each call
 *                advances it.
 * @param mx      Receives the next pattern: a span of the policy text, without the
 *                surrounding white space.
 * @return 1 with the next pattern in `*mx`, 0 when there are no more, or this negative error
 *         code:
 * @retval SMTP_ERR_INVALID_ARGUMENT `policy`, `cursor` or `mx` is NULL, the policy's text is
 *         NULL with a length > 0, or `*cursor` is past the end of the text.
 */
SMTP_API int smtp_mtasts_mx_next(const smtp_mtasts_policy *policy, size_t *cursor, smtp_span *mx);

/**
 * smtp_mtasts_mx_match checks an MX host name against one mx pattern (RFC 8461 4.1).
 *
 * The host matches when the names are equal, ignoring ASCII case, or when the pattern is "*."
 * followed by a domain and the host is exactly one label followed by that domain
 * ("*.example.com" matches "mx.example.com", not "example.com" nor "a.b.example.com"). One
 * trailing dot on either name is ignored (an MX record's name is often written fully
 * qualified).
 *
 * @param pattern      The mx pattern, `pattern_len` octets: ["*."] Domain. May be NULL when
 *                     `pattern_len` is 0 (then it is SMTP_ERR_SYNTAX).
 * @param pattern_len  The length of `pattern` in octets.
 * @param host         The MX host name, `host_len` octets. May be NULL when `host_len` is 0
 *                     (then it is SMTP_ERR_SYNTAX).
 * @param host_len     The length of `host` in octets.
 * @return 1 when the host matches, 0 when it does not, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `pattern` or `host` is NULL with a length > 0.
 * @retval SMTP_ERR_SYNTAX The pattern is not ["*."] Domain, or the host is not a domain name
 *         (an address literal, an empty name).
 * @retval SMTP_ERR_TOO_LONG A name over 255 octets or a label over 63.
 * @retval SMTP_ERR_UTF8 A byte >= 0x80 (MX names are ASCII, A-labels for IDNs).
 */
SMTP_API int smtp_mtasts_mx_match(const char *pattern, size_t pattern_len, const char *host,
                                  size_t host_len);

/**
 * smtp_mtasts_policy_match checks an MX host name against every mx pattern of a parsed
 * policy, as smtp_mtasts_mx_match does.
 *
 * The policy's mode is not considered: what a failed match means (refuse the host in enforce
 * mode, report it in testing mode) is the caller's.
 *
 * @param policy    A policy that smtp_mtasts_parse accepted; the text it borrows must still
 *                  be alive.
 * @param host      The MX host name, `host_len` octets; one trailing dot is ignored. May be
 *                  NULL when `host_len` is 0 (then it is SMTP_ERR_SYNTAX).
 * @param host_len  The length of `host` in octets.
 * @return 1 when a pattern matches, 0 when none does (always for a policy without mx), or one
 *         of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `policy` is NULL, `host` is NULL with a length > 0, or the
 *         policy's text is NULL with a length > 0.
 * @retval SMTP_ERR_SYNTAX The host is not a domain name (an address literal, an empty name).
 * @retval SMTP_ERR_TOO_LONG The host is over 255 octets or has a label over 63.
 * @retval SMTP_ERR_UTF8 The host has a byte >= 0x80.
 */
SMTP_API int smtp_mtasts_policy_match(const smtp_mtasts_policy *policy, const char *host,
                                      size_t host_len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_MTASTS_H */
