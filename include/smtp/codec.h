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
 * smtp_utf8_check checks that `s` is well-formed UTF-8 (RFC 3629 4).
 *
 * Well formed means no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, and no truncated or stray continuation bytes. ASCII, controls included, passes.
 *
 * @param s         The bytes to check, `len` octets; need not be NUL-terminated. May be NULL
 *                  when `len` is 0.
 * @param len       The length of `s` in octets.
 * @param error_at  If not NULL, receives on SMTP_ERR_UTF8 the offset of the first byte of the
 *                  bad sequence; left unchanged otherwise.
 * @return 0 when `s` is well-formed UTF-8 (an empty `s` is), or one of these negative error
 *         codes:
 * @retval SMTP_ERR_UTF8 `s` holds a sequence that is not well formed.
 * @retval SMTP_ERR_INVALID_ARGUMENT `s` is NULL with `len` > 0.
 */
SMTP_API int smtp_utf8_check(const char *s, size_t len, size_t *error_at);

/* ---- xtext (RFC 3461 4) ---- */

/**
 * smtp_xtext_encoded_len returns the length of the xtext encoding of `in`.
 *
 * Bytes "!".."~" other than '+' and '=' count 1, every other byte 3 ("+HH"). Control bytes
 * (C0 or DEL) are refused: smtp_xtext_decode would refuse their encoding.
 *
 * @param in   The bytes to encode, `len` octets; need not be NUL-terminated. May be NULL when
 *             `len` is 0.
 * @param len  The length of `in` in octets.
 * @return The length of the encoding in octets (0 for an empty `in`), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `in` holds a control byte: C0 or DEL, which the decoder
 *         would refuse.
 * @retval SMTP_ERR_OVERFLOW The length does not fit smtp_ssize.
 */
SMTP_API smtp_ssize smtp_xtext_encoded_len(const char *in, size_t len);

/**
 * smtp_xtext_encode writes the xtext encoding of `in` into `out`, with uppercase hex digits.
 *
 * @code
 * char buf[64];
 * smtp_ssize n = smtp_xtext_encode("a+b=c", 5, buf, sizeof buf);
 * if (n < 0)
 *     return (int)n; // SMTP_ERR_NOBUF: smtp_xtext_encoded_len gives the size needed
 * // buf[0..n) holds "a+2Bb+3Dc", not NUL-terminated
 * @endcode
 *
 * @param in   The bytes to encode, `len` octets; need not be NUL-terminated. May be NULL when
 *             `len` is 0.
 * @param len  The length of `in` in octets.
 * @param out  The caller's buffer, `cap` octets; receives the encoding, not NUL-terminated.
 *             May be NULL when `cap` is 0.
 * @param cap  The size of `out` in octets; smtp_xtext_encoded_len gives the exact size needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL with `cap` > 0, or `in` is NULL with
 *         `len` > 0.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `in` holds a control byte (C0 or DEL).
 * @retval SMTP_ERR_OVERFLOW The length of the encoding does not fit smtp_ssize.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the encoded length; nothing was written.
 */
SMTP_API smtp_ssize smtp_xtext_encode(const char *in, size_t len, char *out, size_t cap);

/**
 * smtp_xtext_decoded_len validates `in` as xtext and returns its decoded length.
 *
 * Strict: an xchar is "!".."~" except '+' and '='; a hexchar is '+' and two UPPERCASE hex
 * digits; a hexchar decoding to a control byte (C0 or DEL) is refused; bytes 0x80..0xFF may be
 * decoded (xtext encodes octets).
 *
 * @param in   The xtext, `len` octets; need not be NUL-terminated. May be NULL when `len` is
 *             0.
 * @param len  The length of `in` in octets.
 * @return The decoded length in octets (an empty `in` is valid: 0), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0.
 * @retval SMTP_ERR_XTEXT A byte that is neither an xchar nor '+', a '+' not followed by two
 *         uppercase hex digits, or a hexchar decoding to a control byte.
 */
SMTP_API smtp_ssize smtp_xtext_decoded_len(const char *in, size_t len);

/**
 * smtp_xtext_decode decodes the xtext `in` into `out`.
 *
 * The whole of `in` is validated first (as by smtp_xtext_decoded_len), so a failing call
 * writes nothing.
 *
 * @param in   The xtext, `len` octets; need not be NUL-terminated. May be NULL when `len` is
 *             0.
 * @param len  The length of `in` in octets.
 * @param out  The caller's buffer, `cap` octets; receives the decoded bytes, not
 *             NUL-terminated. May be NULL when `cap` is 0.
 * @param cap  The size of `out` in octets; smtp_xtext_decoded_len gives the exact size needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL with `cap` > 0, or `in` is NULL with
 *         `len` > 0.
 * @retval SMTP_ERR_XTEXT `in` is not xtext, as for smtp_xtext_decoded_len.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the decoded length; nothing was written.
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
 *
 * Literal bytes are QCHAR: "!".."~" except '+', '=' and '\'. `\x{HEX}` (hex digits in either
 * case) is an EmbeddedUnicodeChar: 2 to 6 digits, no leading zero, naming either one of the
 * characters that cannot appear literally (SP, '+', '=', '\'), or a scalar value from U+0080
 * to U+10FFFF that is not a surrogate. Controls (C0 and DEL), even as `\x{..}`, are refused.
 * Raw UTF-8 with the UNITEXT flag must be well formed.
 *
 * @param in     The encoded address, `len` octets; need not be NUL-terminated. May be NULL
 *               when `len` is 0.
 * @param len    The length of `in` in octets.
 * @param flags  0 for utf-8-addr-xtext, or SMTP_UTF8ADDR_UNITEXT for utf-8-addr-unitext.
 * @return The length of the decoding in octets (0 for an empty `in`), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0, or a flag other than
 *         SMTP_UTF8ADDR_UNITEXT is set.
 * @retval SMTP_ERR_XTEXT Malformed: an ASCII byte that is not a QCHAR (a control, SP, '+' or
 *         '=') outside an EmbeddedUnicodeChar, or a '\' that does not start a valid one.
 * @retval SMTP_ERR_UTF8 A raw byte >= 0x80 without SMTP_UTF8ADDR_UNITEXT, or malformed UTF-8
 *         with it.
 */
SMTP_API smtp_ssize smtp_utf8addr_decoded_len(const char *in, size_t len, unsigned flags);

/**
 * smtp_utf8addr_decode decodes the RFC 6533 address `in` into UTF-8 in `out`.
 *
 * The whole of `in` is validated first (as by smtp_utf8addr_decoded_len), so a failing call
 * writes nothing.
 *
 * @param in     The encoded address, `len` octets; need not be NUL-terminated. May be NULL
 *               when `len` is 0.
 * @param len    The length of `in` in octets.
 * @param flags  0 for utf-8-addr-xtext, or SMTP_UTF8ADDR_UNITEXT for utf-8-addr-unitext.
 * @param out    The caller's buffer, `cap` octets; receives the UTF-8, not NUL-terminated.
 *               May be NULL when `cap` is 0.
 * @param cap    The size of `out` in octets; smtp_utf8addr_decoded_len gives the exact size
 *               needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL with `cap` > 0, `in` is NULL with `len` > 0,
 *         or a flag other than SMTP_UTF8ADDR_UNITEXT is set.
 * @retval SMTP_ERR_XTEXT Malformed, as for smtp_utf8addr_decoded_len.
 * @retval SMTP_ERR_UTF8 A raw byte >= 0x80 without SMTP_UTF8ADDR_UNITEXT, or malformed UTF-8
 *         with it.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the decoded length; nothing was written.
 */
SMTP_API smtp_ssize smtp_utf8addr_decode(const char *in, size_t len, unsigned flags, char *out,
                                         size_t cap);

/**
 * smtp_utf8addr_encoded_len returns the length of the RFC 6533 encoding of the UTF-8 string
 * `in`.
 *
 * SP, '+', '=' and '\' become `\x{20}`, `\x{2B}`, `\x{3D}`, `\x{5C}`; non-ASCII characters
 * become `\x{HEX}` (uppercase, shortest form), or stay raw with SMTP_UTF8ADDR_UNITEXT.
 *
 * @param in     The address in UTF-8, `len` octets; need not be NUL-terminated. May be NULL
 *               when `len` is 0.
 * @param len    The length of `in` in octets.
 * @param flags  0 for utf-8-addr-xtext, or SMTP_UTF8ADDR_UNITEXT for utf-8-addr-unitext.
 * @return The length of the encoding in octets (0 for an empty `in`), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0, or a flag other than
 *         SMTP_UTF8ADDR_UNITEXT is set.
 * @retval SMTP_ERR_UTF8 `in` is not well-formed UTF-8.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `in` holds a control byte (C0 or DEL).
 * @retval SMTP_ERR_OVERFLOW The length does not fit smtp_ssize.
 */
SMTP_API smtp_ssize smtp_utf8addr_encoded_len(const char *in, size_t len, unsigned flags);

/**
 * smtp_utf8addr_encode writes the RFC 6533 encoding of the UTF-8 string `in` into `out`.
 *
 * The encoding is the one smtp_utf8addr_encoded_len describes.
 *
 * @param in     The address in UTF-8, `len` octets; need not be NUL-terminated. May be NULL
 *               when `len` is 0.
 * @param len    The length of `in` in octets.
 * @param flags  0 for utf-8-addr-xtext, or SMTP_UTF8ADDR_UNITEXT for utf-8-addr-unitext.
 * @param out    The caller's buffer, `cap` octets; receives the encoding, not NUL-terminated.
 *               May be NULL when `cap` is 0.
 * @param cap    The size of `out` in octets; smtp_utf8addr_encoded_len gives the exact size
 *               needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL with `cap` > 0, `in` is NULL with `len` > 0,
 *         or a flag other than SMTP_UTF8ADDR_UNITEXT is set.
 * @retval SMTP_ERR_UTF8 `in` is not well-formed UTF-8.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `in` holds a control byte (C0 or DEL).
 * @retval SMTP_ERR_OVERFLOW The length of the encoding does not fit smtp_ssize.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the encoded length; nothing was written.
 */
SMTP_API smtp_ssize smtp_utf8addr_encode(const char *in, size_t len, unsigned flags, char *out,
                                         size_t cap);

/* ---- base64 (RFC 4648 4, standard alphabet, padded) ---- */

/**
 * smtp_base64_encoded_len returns the length of the padded base64 encoding of `len` bytes.
 *
 * @param len  The number of bytes to encode.
 * @return 4 * ceil(`len` / 3), or a negative error code:
 * @retval SMTP_ERR_OVERFLOW That length does not fit smtp_ssize.
 */
SMTP_API smtp_ssize smtp_base64_encoded_len(size_t len);

/**
 * smtp_base64_encode writes the padded base64 encoding of `in` into `out`, with no line breaks.
 *
 * @code
 * char buf[64]; // the AUTH PLAIN response of user "user", password "pass"
 * smtp_ssize n = smtp_base64_encode("\0user\0pass", 10, buf, sizeof buf);
 * if (n < 0)
 *     return (int)n; // SMTP_ERR_NOBUF: smtp_base64_encoded_len gives the size needed
 * // buf[0..n) holds "AHVzZXIAcGFzcw==", not NUL-terminated
 * @endcode
 *
 * @param in   The bytes to encode, `len` octets; any byte values. May be NULL when `len` is 0.
 * @param len  The length of `in` in octets.
 * @param out  The caller's buffer, `cap` octets; receives the encoding, not NUL-terminated.
 *             May be NULL when `cap` is 0.
 * @param cap  The size of `out` in octets; smtp_base64_encoded_len gives the exact size
 *             needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0, or `out` is NULL with
 *         `cap` > 0.
 * @retval SMTP_ERR_OVERFLOW The length of the encoding does not fit smtp_ssize.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the encoded length; nothing was written.
 */
SMTP_API smtp_ssize smtp_base64_encode(const char *in, size_t len, char *out, size_t cap);

/**
 * smtp_base64_decoded_len validates `in` as strict base64 and returns its decoded length.
 *
 * Strict (RFC 4648 3.1-3.5): the length is a multiple of 4; padding is required and only at
 * the end ("=" or "=="); no white space, line breaks or bytes outside the alphabet; the unused
 * bits before the padding must be zero (a canonical encoding), so that each decoded value has
 * exactly one accepted encoding.
 *
 * @param in   The base64 text, `len` octets; need not be NUL-terminated. May be NULL when
 *             `len` is 0.
 * @param len  The length of `in` in octets.
 * @return The decoded length in octets (an empty `in` is valid: 0), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `in` is NULL with `len` > 0.
 * @retval SMTP_ERR_BASE64 `in` is not strict base64: a length that is not a multiple of 4
 *         (padding missing), a byte outside the alphabet (white space included), padding
 *         before the end, or non-zero unused bits.
 */
SMTP_API smtp_ssize smtp_base64_decoded_len(const char *in, size_t len);

/**
 * smtp_base64_decode decodes the strict base64 `in` into `out`.
 *
 * The whole of `in` is validated first (as by smtp_base64_decoded_len), so a failing call
 * writes nothing.
 *
 * @param in   The base64 text, `len` octets; need not be NUL-terminated. May be NULL when
 *             `len` is 0.
 * @param len  The length of `in` in octets.
 * @param out  The caller's buffer, `cap` octets; receives the decoded bytes (any values), not
 *             NUL-terminated. May be NULL when `cap` is 0.
 * @param cap  The size of `out` in octets; smtp_base64_decoded_len gives the exact size
 *             needed.
 * @return The number of bytes written to `out`, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL with `cap` > 0, or `in` is NULL with
 *         `len` > 0.
 * @retval SMTP_ERR_BASE64 `in` is not strict base64, as for smtp_base64_decoded_len.
 * @retval SMTP_ERR_NOBUF `cap` is smaller than the decoded length; nothing was written.
 */
SMTP_API smtp_ssize smtp_base64_decode(const char *in, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CODEC_H */
