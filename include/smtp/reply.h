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
     * Called once per reply line, in order. Return 0 to go on, SMTP_PAUSE to make
     * smtp_reply_parser_read return right after this line, or a negative value to fail (the
     * read returns SMTP_ERR_CALLBACK_FAILURE and the parser stays failed).
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
     * buffer of this size once, in smtp_reply_parser_new.
     */
    size_t max_line;
    /** The most lines one reply may have (default 1000); memory stays bounded either way. */
    size_t max_lines;
} smtp_reply_settings;

/**
 * smtp_reply_settings_init fills `settings` with the defaults. NULL is ignored.
 * (A macro: smtp_reply_settings_init_versioned with SMTP_REPLY_SETTINGS_VERSION.)
 */
#define smtp_reply_settings_init(settings)                                                         \
    smtp_reply_settings_init_versioned(SMTP_REPLY_SETTINGS_VERSION, (settings))
/**
 * smtp_reply_settings_init_versioned fills the fields of smtp_reply_settings version `version`
 * (1 .. SMTP_REPLY_SETTINGS_VERSION) with their defaults; another version is ignored.
 */
SMTP_API void smtp_reply_settings_init_versioned(int version, smtp_reply_settings *settings);

/**
 * smtp_reply_parser_new creates a parser and stores it in *pparser.
 * `callbacks` is copied; NULL means no callbacks. `settings` is copied; NULL means defaults.
 * `mem` is the allocator (NULL: smtp_mem_default()); it must outlive the parser.
 * `user_data` is passed to every callback.
 * (A macro: smtp_reply_parser_new_versioned with the versions of this header.)
 * Returns 0, SMTP_ERR_INVALID_ARGUMENT (pparser NULL, max_line < 6, max_lines 0 or a version
 * this library lacks) or SMTP_ERR_NOMEM. On error *pparser is NULL (when pparser is not NULL).
 */
#define smtp_reply_parser_new(pparser, callbacks, settings, mem, user_data)                        \
    smtp_reply_parser_new_versioned((pparser), SMTP_REPLY_CALLBACKS_VERSION, (callbacks),          \
                                    SMTP_REPLY_SETTINGS_VERSION, (settings), (mem), (user_data))
/** smtp_reply_parser_new_versioned is smtp_reply_parser_new with the struct versions the caller
 * uses. */
SMTP_API int smtp_reply_parser_new_versioned(smtp_reply_parser **pparser, int callbacks_version,
                                             const smtp_reply_callbacks *callbacks,
                                             int settings_version,
                                             const smtp_reply_settings *settings,
                                             const smtp_mem *mem, void *user_data);

/** smtp_reply_parser_del frees the parser. NULL is allowed. */
SMTP_API void smtp_reply_parser_del(smtp_reply_parser *parser);

/**
 * smtp_reply_parser_read consumes `len` bytes of server output and reports complete lines.
 * A line split across calls is kept (up to max_line octets) until its CRLF arrives.
 * Returns the number of bytes consumed: `len`, or fewer when on_line returned SMTP_PAUSE
 * (call again with the rest). Returns a negative error on a protocol violation, after which
 * the parser is failed and returns the same error on every call (reset it to reuse it):
 *   SMTP_ERR_REPLY_CODE       a line does not begin with three digits, the first one 2-5;
 *   SMTP_ERR_REPLY_SEPARATOR  the code is followed by a byte other than SP, '-' or CRLF;
 *   SMTP_ERR_REPLY_MISMATCH   a line of a multi-line reply has another code than the first;
 *   SMTP_ERR_REPLY_TOO_LONG   a reply has more than max_lines lines;
 *   SMTP_ERR_LINE_TOO_LONG    a line exceeds max_line octets;
 *   SMTP_ERR_BARE_LF / SMTP_ERR_BARE_CR / SMTP_ERR_NUL   in a line;
 *   SMTP_ERR_CALLBACK_FAILURE on_line returned a negative value;
 *   SMTP_ERR_INVALID_ARGUMENT parser NULL, or data NULL with len > 0 (not sticky);
 *   SMTP_ERR_INVALID_STATE    called from its own on_line (not sticky).
 * No reply is ever made up: a violation is reported as an error, never as a reply.
 */
SMTP_API smtp_ssize smtp_reply_parser_read(smtp_reply_parser *parser, const char *data,
                                           size_t len) SMTP_WARN_UNUSED;

/**
 * smtp_reply_parser_idle returns 1 when the parser stands between replies with no partial
 * line held (so a connection closing now loses no reply), 0 otherwise (inside a line or a
 * multi-line reply, or failed; 0 for NULL).
 */
SMTP_API int smtp_reply_parser_idle(const smtp_reply_parser *parser);

/**
 * smtp_reply_parser_reset forgets any partial line or reply and a sticky error, keeping the
 * settings, callbacks and buffer (e.g. after the TLS handshake of STARTTLS, RFC 3207 4.2).
 * NULL is ignored.
 */
SMTP_API void smtp_reply_parser_reset(smtp_reply_parser *parser);

/**
 * smtp_emit_reply writes a reply of one or more lines into `dest`: every line but the last is
 * "CODE-[ENH ]TEXT\r\n", the last "CODE[ SP ENH][ SP TEXT]\r\n" (an empty last line without an
 * enhanced code is "CODE\r\n"). When `enhanced` is not NULL it is put on every line
 * (RFC 2034 4). `lines` holds `nlines` texts (nlines >= 1; a text may be empty).
 * Returns the number of bytes written, or with dest NULL and cap 0 the number that would be.
 * On any error nothing at all is written:
 *   SMTP_ERR_INVALID_ARGUMENT  code not 200..599 or with a second digit above 5 (RFC 5321
 *                              4.2 Reply-code), enhanced not "C.SSS.DDD" with C equal to the
 *                              code's first digit (so never on a 3xx reply: RFC 3463 2 has
 *                              classes 2, 4 and 5 only), nlines 0, or a line longer than 512 octets
 *                              with its CRLF (RFC 5321 4.5.3.1.5);
 *   SMTP_ERR_UNSAFE_ARGUMENT   a text holds CR, LF, NUL or another control byte (TAB is
 *                              allowed: RFC 5321 textstring), or DEL;
 *   SMTP_ERR_NOBUF             the reply does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_reply(char *dest, size_t cap, int code, const char *enhanced,
                                    const smtp_span *lines, size_t nlines);

/**
 * smtp_emit_reply1 is smtp_emit_reply for a single line given as `text`/`len`.
 * Same returns and errors.
 */
SMTP_API smtp_ssize smtp_emit_reply1(char *dest, size_t cap, int code, const char *enhanced,
                                     const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_REPLY_H */
