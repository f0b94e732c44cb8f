/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the optional IDNA component (library smtp_idn, CMake target smtp::idn, pkg-config
 * smtp-idn), built when libidn2 is found. It converts a domain with U-labels to its A-label form
 * (IDNA2008, RFC 5890), which a server without SMTPUTF8 (RFC 6531) needs: give
 * smtp_idn_to_ascii to the client engine, which stays free of libidn2, as its
 * smtp_client_settings.idna_to_ascii. This header includes no libidn2 header.
 *
 * @code
 * smtp_client_settings s;
 * smtp_client_settings_init(&s);
 * s.idna_to_ascii = smtp_idn_to_ascii;
 * s.helo_name = "mail.bücher.example";    // EHLO mail.xn--bcher-kva.example
 * // to a server without SMTPUTF8, RCPT TO:<info@bücher.example> goes as
 * // RCPT TO:<info@xn--bcher-kva.example>; a UTF-8 local part still needs SMTPUTF8
 * @endcode
 */
#ifndef SMTP_IDN_H
#define SMTP_IDN_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * smtp_idn_to_ascii converts a domain to its A-label form: IDNA2008 (RFC 5891) with UTS #46
 * non-transitional processing, as browsers and curl look names up.
 *
 * A domain all in ASCII (LDH labels, or an address literal) is copied unchanged: its case is
 * kept and its "xn--" labels are not decoded. A domain with a U-label goes whole through
 * libidn2's idn2_lookup_u8 (IDN2_NFC_INPUT, IDN2_NONTRANSITIONAL, IDN2_USE_STD3_ASCII_RULES):
 * mapped by UTS #46 (case folded, so that its ASCII labels come out in lower case too, and
 * normalized to NFC; non-transitional: "ß" stays, where transitional processing gives "ss", and
 * so do the zero-width joiners), each label checked by IDNA2008 (RFC 5892 code points, hyphens,
 * leading combining marks, CONTEXTJ, the bidirectional rule of RFC 5893), each "xn--" label
 * checked to be a valid A-label, and each label with non-ASCII characters written as "xn--" and
 * its Punycode (RFC 3492). The result is checked to be an ASCII domain (smtp_domain_parse).
 * libidn2 allocates with malloc during the call and frees before it returns; the function keeps
 * no state and may be called from any thread.
 *
 * @param domain  The domain, `len` octets (UTF-8); need not be NUL-terminated. May be NULL
 *                when `len` is 0.
 * @param len     The length of `domain` in octets.
 * @param out     Receives the A-label form and a NUL; unspecified on error.
 * @param cap     The room at `out` in octets; 256 always suffices (a domain is at most 255
 *                octets).
 * @return The length of the A-label form, without its NUL, or one of these negative error
 *         codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `domain` is NULL with `len` > 0, or `out` is NULL.
 * @retval SMTP_ERR_SYNTAX Not a domain (smtp_domain_parse with U-labels allowed: empty, an
 *         empty label, a byte outside letters, digits, hyphens and UTF-8), or one IDNA2008
 *         refuses: a hyphen at the start or end of a label or in its third and fourth places,
 *         a leading combining mark, a joiner out of its context, a mix of directions, an
 *         "xn--" label that is not valid Punycode or not the A-label of its U-label.
 * @retval SMTP_ERR_UTF8 Malformed UTF-8, or a code point IDNA2008 disallows or that Unicode
 *         leaves unassigned (U+2603 SNOWMAN is disallowed).
 * @retval SMTP_ERR_TOO_LONG Over 255 octets, in UTF-8 or in A-label form, or a label over 63
 *         octets in A-label form.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the A-label form and its NUL.
 * @retval SMTP_ERR_NOMEM libidn2 could not allocate.
 */
SMTP_API int smtp_idn_to_ascii(const char *domain, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_IDN_H */
