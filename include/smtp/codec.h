/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the small codecs of SMTP parameters and authentication:
 *  - UTF-8 validation (RFC 3629, as SMTPUTF8 requires: RFC 6531 3.3);
 *  - xtext (RFC 3461 4), the encoding of ENVID, ORCPT and AUTH= values;
 *  - the "utf-8" address forms of RFC 6533 3 (utf-8-addr-xtext and utf-8-addr-unitext);
 *  - base64 (RFC 4648 4), for AUTH PLAIN, LOGIN and XOAUTH2 exchanges.
 *
 * Every encoder and decoder writes into a caller's buffer and allocates nothing. Each has a
 * companion that computes the exact output length, so that callers can size the buffer.
 * Conventions of the functions returning smtp_ssize: the number of bytes written or needed
 * (>= 0), or a negative SMTP_ERR_* code. When the output buffer is too small the function
 * returns SMTP_ERR_NOBUF and writes nothing. `out` may be NULL when `cap` is 0. The output is
 * never NUL-terminated.
 */
#ifndef SMTP_CODEC_H
#define SMTP_CODEC_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * smtp_utf8_check checks that `s` is well-formed UTF-8: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated or stray continuation bytes. ASCII,
 * controls included, passes. `error_at`, if not NULL, receives the offset of the first byte of
 * the bad sequence. Returns 0, SMTP_ERR_UTF8, or SMTP_ERR_INVALID_ARGUMENT (NULL `s`, len > 0).
 */
SMTP_API int smtp_utf8_check(const char *s, size_t len, size_t *error_at);

/* ---- xtext (RFC 3461 4) ---- */

/**
 * smtp_xtext_encoded_len returns the length of the xtext encoding of `in`: bytes "!".."~" other
 * than '+' and '=' count 1, every other byte 3 ("+HH"). Errors: SMTP_ERR_INVALID_ARGUMENT (NULL
 * `in` with len > 0), SMTP_ERR_UNSAFE_ARGUMENT (`in` holds a control byte: C0 or DEL, which
 * the decoder would refuse), SMTP_ERR_OVERFLOW (the length does not fit smtp_ssize).
 */
SMTP_API smtp_ssize smtp_xtext_encoded_len(const char *in, size_t len);

/**
 * smtp_xtext_encode writes the xtext encoding of `in` into `out` (uppercase hex digits).
 * Returns the bytes written, or the errors of smtp_xtext_encoded_len, or SMTP_ERR_NOBUF
 * (`cap` is smaller than the encoded length; nothing written), or SMTP_ERR_INVALID_ARGUMENT
 * (NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_xtext_encode(const char *in, size_t len, char *out, size_t cap);

/**
 * smtp_xtext_decoded_len validates `in` as xtext and returns its decoded length.
 * Strict: an xchar is "!".."~" except '+' and '='; a hexchar is '+' and two UPPERCASE hex
 * digits; a hexchar decoding to a control byte (C0 or DEL) is refused; bytes 0x80..0xFF may be
 * decoded (xtext encodes octets). An empty `in` is valid (length 0).
 * Errors: SMTP_ERR_XTEXT, SMTP_ERR_INVALID_ARGUMENT (NULL `in` with len > 0).
 */
SMTP_API smtp_ssize smtp_xtext_decoded_len(const char *in, size_t len);

/**
 * smtp_xtext_decode decodes the xtext `in` into `out`. Returns the bytes written, or the errors
 * of smtp_xtext_decoded_len, or SMTP_ERR_NOBUF (nothing written), or
 * SMTP_ERR_INVALID_ARGUMENT (NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_xtext_decode(const char *in, size_t len, char *out, size_t cap);

/* ---- RFC 6533 utf-8 address forms (ORCPT=utf-8;...) ---- */

/**
 * Flag of the utf8addr functions: the unitext form (utf-8-addr-unitext), where non-ASCII
 * characters appear as raw UTF-8. Allowed only when SMTPUTF8 is in effect. Without it
 * (utf-8-addr-xtext) every non-ASCII character is written "\x{HEX}".
 */
#define SMTP_UTF8ADDR_UNITEXT 0x01u

/**
 * smtp_utf8addr_decoded_len validates `in` as utf-8-addr-xtext (or, with
 * SMTP_UTF8ADDR_UNITEXT, utf-8-addr-unitext) and returns the length of its UTF-8 decoding.
 * Literal bytes are QCHAR: "!".."~" except '+', '=' and '\'. "`\x{HEX}`" (hex digits in either
 * case) is an EmbeddedUnicodeChar: 2 to 6 digits, no leading zero, naming either one of the
 * characters that cannot appear literally (SP, '+', '=', '\'), or a scalar value from U+0080
 * to U+10FFFF that is not a surrogate. Controls (even as `\x{..}`) are refused. Raw UTF-8 with
 * the UNITEXT flag must be well formed.
 * Errors: SMTP_ERR_XTEXT (malformed), SMTP_ERR_UTF8 (raw byte >= 0x80 without the flag, or
 * malformed UTF-8), SMTP_ERR_INVALID_ARGUMENT (NULL `in` with len > 0, unknown flag).
 */
SMTP_API smtp_ssize smtp_utf8addr_decoded_len(const char *in, size_t len, unsigned flags);

/**
 * smtp_utf8addr_decode decodes `in` into UTF-8 in `out`. Returns the bytes written, or the
 * errors of smtp_utf8addr_decoded_len, or SMTP_ERR_NOBUF (nothing written), or
 * SMTP_ERR_INVALID_ARGUMENT (NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_utf8addr_decode(const char *in, size_t len, unsigned flags, char *out,
                                         size_t cap);

/**
 * smtp_utf8addr_encoded_len returns the length of the RFC 6533 encoding of the UTF-8 string
 * `in`: SP, '+', '=' and '\' become `\x{20}`, `\x{2B}`, `\x{3D}`, `\x{5C}`; non-ASCII characters
 * become `\x{HEX}` (uppercase, shortest form), or stay raw with SMTP_UTF8ADDR_UNITEXT.
 * Errors: SMTP_ERR_UTF8 (`in` is not well-formed UTF-8), SMTP_ERR_UNSAFE_ARGUMENT (a control
 * byte), SMTP_ERR_OVERFLOW, SMTP_ERR_INVALID_ARGUMENT (NULL `in` with len > 0, unknown flag).
 */
SMTP_API smtp_ssize smtp_utf8addr_encoded_len(const char *in, size_t len, unsigned flags);

/**
 * smtp_utf8addr_encode writes that encoding into `out`. Returns the bytes written, or the errors
 * of smtp_utf8addr_encoded_len, or SMTP_ERR_NOBUF (nothing written), or
 * SMTP_ERR_INVALID_ARGUMENT (NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_utf8addr_encode(const char *in, size_t len, unsigned flags, char *out,
                                         size_t cap);

/* ---- base64 (RFC 4648 4, standard alphabet, padded) ---- */

/**
 * smtp_base64_encoded_len returns 4 * ceil(len / 3), or SMTP_ERR_OVERFLOW when that does not
 * fit smtp_ssize.
 */
SMTP_API smtp_ssize smtp_base64_encoded_len(size_t len);

/**
 * smtp_base64_encode writes the padded base64 encoding of `in` into `out`, with no line breaks.
 * Returns the bytes written, or SMTP_ERR_NOBUF (nothing written), SMTP_ERR_OVERFLOW, or
 * SMTP_ERR_INVALID_ARGUMENT (NULL `in` with len > 0, NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_base64_encode(const char *in, size_t len, char *out, size_t cap);

/**
 * smtp_base64_decoded_len validates `in` as strict base64 and returns its decoded length.
 * Strict (RFC 4648 3.1-3.5): the length is a multiple of 4; padding is required and only at
 * the end ("=" or "=="); no white space, line breaks or bytes outside the alphabet; the unused
 * bits before the padding must be zero (a canonical encoding), so that each decoded value has
 * exactly one accepted encoding. An empty `in` is valid (length 0).
 * Errors: SMTP_ERR_BASE64, SMTP_ERR_INVALID_ARGUMENT (NULL `in` with len > 0).
 */
SMTP_API smtp_ssize smtp_base64_decoded_len(const char *in, size_t len);

/**
 * smtp_base64_decode decodes `in` into `out`. Returns the bytes written, or the errors of
 * smtp_base64_decoded_len, or SMTP_ERR_NOBUF (nothing written), or SMTP_ERR_INVALID_ARGUMENT
 * (NULL `out` with cap > 0).
 */
SMTP_API smtp_ssize smtp_base64_decode(const char *in, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CODEC_H */
