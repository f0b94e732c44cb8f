/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — SMTP replies: the streaming reply parser (client side) and the reply emitter
 * (server side). RFC 5321 4.2, RFC 2034 / RFC 3463 (enhanced status codes).
 *
 * The parser is fed whatever bytes arrived, split anywhere (a firewall or an anti-virus proxy
 * may cut a multi-line reply into several packets), and reports each reply line through
 * on_line; the line with `last` set completes the reply. A client must act only on a complete
 * reply, so a reply split across reads changes nothing.
 *
 *   smtp_reply_parser *p;
 *   smtp_reply_callbacks cb = {.on_line = my_line};
 *   smtp_reply_parser_new(&p, &cb, NULL, NULL, my_state);
 *   smtp_ssize n = smtp_reply_parser_read(p, buf, len);   // n < 0: the server broke the protocol
 *   smtp_reply_parser_del(p);
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One line of a reply, as reported to on_line. Every span is valid only during the callback. */
typedef struct smtp_reply_line {
    /** The reply code, 200..599 (the first digit is 2-5, RFC 5321 4.2.1). */
    int code;
    /** 1 on the final line of the reply ("250 ..." or "250" alone), 0 on a continuation line. */
    int last;
    /** 0-based position of this line in its reply. */
    size_t index;
    /** The text after the separator, possibly empty (a final line "250\r\n" has none). */
    smtp_span text;
    /**
     * The enhanced status code ("2.1.5") when `text` begins with one (RFC 3463 2:
     * class.subject.detail, 1-3 digits each) whose class equals the reply code's first digit,
     * followed by SP or the end of the line; else an empty span (len 0). A 3xx reply has none
     * (RFC 3463 2: the class is 2, 4 or 5).
     */
    smtp_span enhanced;
    /** The text after the enhanced status code and its SP; equal to `text` when there is none. */
    smtp_span message;
} smtp_reply_line;

/** The opaque reply parser. */
typedef struct smtp_reply_parser smtp_reply_parser;

/** The version of smtp_reply_callbacks this header describes (common.h: versioned structs). */
#define SMTP_REPLY_CALLBACKS_VERSION 1

/**
 * Callbacks of the reply parser: the parser first, user_data last. A NULL callback is a
 * no-op. Inside one, smtp_reply_parser_read on the same parser returns SMTP_ERR_INVALID_STATE
 * and smtp_reply_parser_del must not be called.
 */
typedef struct smtp_reply_callbacks {
    /**
     * Called once per reply line, in order; the line with `line->last` set completes the
     * reply.
     *
     * @param parser     The parser that read the line.
     * @param line       The line; it and its spans are valid only during the call.
     * @param user_data  The `user_data` given to smtp_reply_parser_new.
     * @return 0 to go on, SMTP_PAUSE to make smtp_reply_parser_read return right after this
     *         line, or a negative value to fail (the read returns SMTP_ERR_CALLBACK_FAILURE and
     *         the parser stays failed). Any other positive value counts as 0.
     */
    int (*on_line)(smtp_reply_parser *parser, const smtp_reply_line *line, void *user_data);
} smtp_reply_callbacks;

/** The version of smtp_reply_settings this header describes (common.h: versioned structs). */
#define SMTP_REPLY_SETTINGS_VERSION 1

/** Limits of the reply parser. Fill with smtp_reply_settings_init, then change fields. */
typedef struct smtp_reply_settings {
    /**
     * The longest reply line accepted, in octets including CRLF (RFC 5321 4.5.3.1.5 sets 512;
     * the default, 2048, tolerates servers that exceed it). At least 6. The parser allocates a
     * buffer of this size once, with the first line split across reads.
     */
    size_t max_line;
    /** The most lines one reply may have (default 1000); memory stays bounded either way. */
    size_t max_lines;
} smtp_reply_settings;

/**
 * smtp_reply_settings_init fills `settings` with the defaults of this header's version.
 *
 * See smtp_reply_settings_init_versioned.
 */
#define smtp_reply_settings_init(settings)                                                         \
    smtp_reply_settings_init_versioned(SMTP_REPLY_SETTINGS_VERSION, (settings))
/**
 * smtp_reply_settings_init_versioned fills the fields of smtp_reply_settings version `version`
 * with their defaults.
 *
 * @param version   The struct version the caller was compiled with
 *                  (1 .. SMTP_REPLY_SETTINGS_VERSION); another version is ignored.
 * @param settings  The settings to fill. NULL is ignored.
 */
SMTP_API void smtp_reply_settings_init_versioned(int version, smtp_reply_settings *settings);

/**
 * smtp_reply_parser_new creates a reply parser with the struct versions of this header.
 *
 * See smtp_reply_parser_new_versioned.
 */
#define smtp_reply_parser_new(pparser, callbacks, settings, mem, user_data)                        \
    smtp_reply_parser_new_versioned((pparser), SMTP_REPLY_CALLBACKS_VERSION, (callbacks),          \
                                    SMTP_REPLY_SETTINGS_VERSION, (settings), (mem), (user_data))
/**
 * smtp_reply_parser_new_versioned creates a reply parser and stores it in `*pparser`, reading
 * `callbacks` and `settings` as the struct versions the caller uses.
 *
 * The callbacks and settings are copied. The parser's line buffer (max_line octets) is
 * allocated with the first line split across reads, then kept. Call it through the macro
 * smtp_reply_parser_new, which passes the versions of this header.
 *
 * @code
 * smtp_reply_callbacks cb = {.on_line = my_line};
 * smtp_reply_parser *p;
 * if (smtp_reply_parser_new(&p, &cb, NULL, NULL, my_state) < 0) return -1;
 * smtp_ssize n = smtp_reply_parser_read(p, buf, len); // n < 0: the server broke the protocol
 * smtp_reply_parser_del(p);
 * @endcode
 *
 * @param pparser            Receives the new parser, or NULL on error (when `pparser` is not
 *                           NULL). Free it with smtp_reply_parser_del.
 * @param callbacks_version  The version of smtp_reply_callbacks the caller uses
 *                           (SMTP_REPLY_CALLBACKS_VERSION).
 * @param callbacks          The callbacks, copied; NULL for none.
 * @param settings_version   The version of smtp_reply_settings the caller uses
 *                           (SMTP_REPLY_SETTINGS_VERSION).
 * @param settings           The limits, copied; NULL for the defaults.
 * @param mem                The allocator, or NULL for smtp_mem_default(); it must outlive the
 *                           parser.
 * @param user_data          Passed to every callback.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `pparser` is NULL, `max_line` is below 6, `max_lines` is 0,
 *         or a struct version this library lacks.
 * @retval SMTP_ERR_NOMEM The parser could not be allocated.
 */
SMTP_API int smtp_reply_parser_new_versioned(smtp_reply_parser **pparser, int callbacks_version,
                                             const smtp_reply_callbacks *callbacks,
                                             int settings_version,
                                             const smtp_reply_settings *settings,
                                             const smtp_mem *mem, void *user_data);

/**
 * smtp_reply_parser_del frees the parser.
 *
 * It must not be called from the parser's own on_line.
 *
 * @param parser  The parser to free. NULL is allowed.
 */
SMTP_API void smtp_reply_parser_del(smtp_reply_parser *parser);

/**
 * smtp_reply_parser_read consumes `len` bytes of server output and reports complete lines.
 *
 * A line split across calls is kept (up to max_line octets) until its CRLF arrives. After a
 * protocol violation or a callback failure the parser is failed and every later call returns
 * the same error (reset it to reuse it). No reply is ever made up: a violation is reported as
 * an error, never as a reply.
 *
 * @param parser  The parser.
 * @param data    Server output, split anywhere; need not be NUL-terminated. May be NULL when
 *                `len` is 0.
 * @param len     The length of `data` in octets.
 * @return The number of bytes consumed: `len`, or fewer when on_line returned SMTP_PAUSE (call
 *         again with the rest); or one of these negative error codes:
 * @retval SMTP_ERR_REPLY_CODE A line does not begin with three digits, the first one 2-5.
 * @retval SMTP_ERR_REPLY_SEPARATOR The code is followed by a byte other than SP, '-' or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH A line of a multi-line reply has another code than the first.
 * @retval SMTP_ERR_REPLY_TOO_LONG A reply has more than max_lines lines.
 * @retval SMTP_ERR_LINE_TOO_LONG A line exceeds max_line octets.
 * @retval SMTP_ERR_BARE_LF A line ends in LF without CR before it.
 * @retval SMTP_ERR_BARE_CR A CR inside a line.
 * @retval SMTP_ERR_NUL A NUL inside a line.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_line returned a negative value.
 * @retval SMTP_ERR_NOMEM The line buffer, needed for the first line split across reads, could
 *         not be allocated.
 * @retval SMTP_ERR_INVALID_ARGUMENT `parser` is NULL, or `data` is NULL with `len` > 0 (not
 *         sticky).
 * @retval SMTP_ERR_INVALID_STATE Called from the parser's own on_line (not sticky).
 */
SMTP_API smtp_ssize smtp_reply_parser_read(smtp_reply_parser *parser, const char *data,
                                           size_t len) SMTP_WARN_UNUSED;

/**
 * smtp_reply_parser_reserve allocates the parser's line buffer now, if it is not yet, so that
 * smtp_reply_parser_read never allocates.
 *
 * It is for code that reserves its memory up front.
 *
 * @param parser  The parser; must not be NULL.
 * @return 0 on success (also when the buffer was already there), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `parser` is NULL.
 * @retval SMTP_ERR_NOMEM The buffer could not be allocated; the parser is unchanged.
 */
SMTP_API int smtp_reply_parser_reserve(smtp_reply_parser *parser);

/**
 * smtp_reply_parser_idle tells whether the parser stands between replies with no partial line
 * held, so that a connection closing now loses no reply.
 *
 * @param parser  The parser, or NULL.
 * @return 1 when idle; 0 inside a line or a multi-line reply, when the parser failed, or for
 *         NULL.
 */
SMTP_API int smtp_reply_parser_idle(const smtp_reply_parser *parser);

/**
 * smtp_reply_parser_reset forgets any partial line or reply and a sticky error, keeping the
 * settings, callbacks and buffer.
 *
 * Use it to read a new stream with the same parser, for example after the TLS handshake of
 * STARTTLS (RFC 3207 4.2).
 *
 * @param parser  The parser. NULL is ignored.
 */
SMTP_API void smtp_reply_parser_reset(smtp_reply_parser *parser);

/**
 * smtp_emit_reply writes a reply of one or more lines into `dest`.
 *
 * Every line but the last is "CODE-[ENH ]TEXT\r\n", the last "CODE[ SP ENH][ SP TEXT]\r\n" (an
 * empty text adds nothing, not even its SP: an empty last line without an enhanced code is
 * "CODE\r\n"). When `enhanced` is not NULL it is put on every line (RFC 2034 4). Every
 * argument is checked and the size computed before anything is written: on any error nothing
 * at all is written, so a peer is never sent half a reply or a line broken by an injected CRLF.
 *
 * @param dest      Where to write, `cap` bytes; NULL with `cap` 0 to measure the reply.
 * @param cap       The size of `dest` in bytes.
 * @param code      The reply code: 200..599 with a second digit of at most 5 (RFC 5321 4.2
 *                  Reply-code).
 * @param enhanced  The enhanced status code, NUL-terminated ("2.1.5"): "C.SSS.DDD" (1-3 digits
 *                  each) with C equal to the first digit of `code`, so never on a 3xx reply
 *                  (RFC 3463 2 has classes 2, 4 and 5 only); NULL for none.
 * @param lines     The texts of the lines, `nlines` spans (a text may be empty); each line with
 *                  its CRLF must fit in 512 octets (RFC 5321 4.5.3.1.5).
 * @param nlines    The number of lines, at least 1.
 * @return The number of bytes written, or with `dest` NULL and `cap` 0 the number that would
 *         be; or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `code` or `enhanced` is not as above, `lines` is NULL,
 *         `nlines` is 0, a span is NULL with a length, `dest` is NULL with `cap` > 0, or a line
 *         is longer than 512 octets with its CRLF.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A text holds CR, LF, NUL, another control byte (TAB is
 *         allowed: RFC 5321 textstring) or DEL.
 * @retval SMTP_ERR_NOBUF The reply does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_reply(char *dest, size_t cap, int code, const char *enhanced,
                                    const smtp_span *lines, size_t nlines);

/**
 * smtp_emit_reply1 is smtp_emit_reply for a reply of a single line given as `text`/`len`.
 *
 * @param dest      As for smtp_emit_reply.
 * @param cap       As for smtp_emit_reply.
 * @param code      As for smtp_emit_reply.
 * @param enhanced  As for smtp_emit_reply.
 * @param text      The text of the line, `len` octets; may be NULL when `len` is 0.
 * @param len       The length of `text` in octets; 0 for no text ("250\r\n").
 * @return As smtp_emit_reply: the number of bytes written (or that would be), or one of these
 *         negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT As for smtp_emit_reply, and `text` NULL with `len` > 0.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT As for smtp_emit_reply.
 * @retval SMTP_ERR_NOBUF As for smtp_emit_reply.
 */
SMTP_API smtp_ssize smtp_emit_reply1(char *dest, size_t cap, int code, const char *enhanced,
                                     const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_REPLY_H */
