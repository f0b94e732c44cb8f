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
 * smtp_mtasts_parse parses an MTA-STS policy body (RFC 8461 3.2): `len` bytes at `s`, lines
 * "key: value" ended by CRLF or LF (the last one may be unterminated), and fills `*out`.
 *
 * Fields: "version" must be "STSv1"; "mode" is "enforce", "testing" or "none"; "max_age" is
 * 1 to 10 digits, at most SMTP_MTASTS_MAX_AGE; "mx" is a pattern, a domain name or "*." and a
 * domain name (RFC 8461 4.1), and may repeat. version, mode and max_age are required; at least
 * one mx is required unless the mode is "none". Keys and the values above are case-sensitive
 * (RFC 8461 3.2 uses %s strings). Any other key (1 to 32 of ALPHA, DIGIT, '_', '-', '.',
 * starting with ALPHA or DIGIT) is an extension: its value is checked (printable ASCII, SP or
 * UTF-8, not empty) and otherwise ignored. When version, mode or max_age appears more than
 * once the first wins and the others are ignored like extensions (RFC 8461 3.2). Only WSP
 * after the ':' and at the end of a line is allowed; empty lines are ignored (a leniency: the
 * grammar has none, but an extra newline at the end of a served file is common and harmless).
 *
 * Returns 0, or:
 *  SMTP_ERR_INVALID_ARGUMENT  `s` (with len > 0) or `out` is NULL;
 *  SMTP_ERR_TOO_LONG          more than SMTP_MTASTS_MAX_POLICY octets; a key over 32 octets;
 *                             an mx domain over 255 octets or with a label over 63;
 *  SMTP_ERR_SYNTAX            a line that is not "key:" value, a control byte (bare CR, NUL,
 *                             a tab inside a value), an empty value, a bad version, mode or mx,
 *                             or a required field missing (error_at is then `len`);
 *  SMTP_ERR_OVERFLOW          max_age above SMTP_MTASTS_MAX_AGE or longer than 10 digits;
 *  SMTP_ERR_UTF8              malformed UTF-8 in an extension's value, or any byte >= 0x80
 *                             elsewhere.
 * On error, out->error_at says where; the other fields are unspecified.
 */
SMTP_API int smtp_mtasts_parse(const char *s, size_t len, smtp_mtasts_policy *out);

/**
 * smtp_mtasts_mx_next walks the mx patterns of a policy that smtp_mtasts_parse accepted, in
 * the order they were written. `*cursor` starts at 0 and is advanced by each call.
 *
 * Returns 1 with the next pattern in `*mx` (a span of the policy text, without the
 * surrounding white space), 0 when there are no more, or SMTP_ERR_INVALID_ARGUMENT (a NULL
 * argument, or a cursor past the end of the text).
 */
SMTP_API int smtp_mtasts_mx_next(const smtp_mtasts_policy *policy, size_t *cursor, smtp_span *mx);

/**
 * smtp_mtasts_mx_match checks an MX host name against one mx pattern (RFC 8461 4.1): the
 * names are equal, ignoring ASCII case, or the pattern is "*." followed by a domain and the
 * host is exactly one label followed by that domain ("*.example.com" matches
 * "mx.example.com", not "example.com" nor "a.b.example.com"). One trailing dot on either
 * name is ignored (an MX record's name is often written fully qualified).
 *
 * Returns 1 (match), 0 (no match), or SMTP_ERR_INVALID_ARGUMENT (NULL `pattern` or `host`
 * with a length > 0), SMTP_ERR_SYNTAX (the pattern is not ["*."] Domain, or the host is not a
 * domain name), SMTP_ERR_TOO_LONG (a name over 255 octets or a label over 63),
 * SMTP_ERR_UTF8 (a byte >= 0x80: MX names are ASCII, A-labels for IDNs).
 */
SMTP_API int smtp_mtasts_mx_match(const char *pattern, size_t pattern_len, const char *host,
                                  size_t host_len);

/**
 * smtp_mtasts_policy_match checks an MX host name against every mx pattern of a parsed
 * policy, as smtp_mtasts_mx_match does. The policy's mode is not considered: what a failed
 * match means (refuse the host in enforce mode, report it in testing mode) is the caller's.
 *
 * Returns 1 when a pattern matches, 0 when none does (always for a policy without mx), or
 * SMTP_ERR_INVALID_ARGUMENT (NULL `policy`, NULL `host` with a length > 0) or the error
 * smtp_mtasts_mx_match gives for an invalid `host`.
 */
SMTP_API int smtp_mtasts_policy_match(const smtp_mtasts_policy *policy, const char *host,
                                      size_t host_len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_MTASTS_H */
