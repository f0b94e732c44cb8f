/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — SMTP/LMTP commands: the server's streaming command parser, a stateless parser for
 * one line, and the client's command emitters.
 *
 * Grammar: RFC 5321 4.1.1 and 4.1.2, RFC 2033 (LHLO), RFC 3030 (BDAT), RFC 3207 (STARTTLS),
 * RFC 4954 (AUTH), RFC 1985 (ETRN), Postfix XCLIENT/XFORWARD. The parser splits a command into
 * spans (verb, argument, path, parameters...) that borrow the input; it does not parse
 * addresses (see <smtp/path.h>) or ESMTP parameters (see <smtp/params.h>).
 *
 * A peer's malformed command is not a failure of the parser: it is delivered as a command
 * whose `error` says what is wrong, and smtp_cmd_error_reply() gives the reply to send.
 */
#ifndef SMTP_COMMAND_H
#define SMTP_COMMAND_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The command verbs. Verbs are recognised case-insensitively. */
typedef enum smtp_verb {
    SMTP_VERB_UNKNOWN = 0, /**< not a verb libsmtp knows: answer 500 (or 502) */
    SMTP_VERB_HELO,
    SMTP_VERB_EHLO,
    SMTP_VERB_LHLO, /**< RFC 2033 */
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT, /**< RFC 3030 */
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS, /**< RFC 3207 */
    SMTP_VERB_AUTH,     /**< RFC 4954 */
    SMTP_VERB_ETRN,     /**< RFC 1985 */
    SMTP_VERB_XCLIENT,  /**< Postfix */
    SMTP_VERB_XFORWARD  /**< Postfix; the highest value */
} smtp_verb;

/**
 * smtp_verb_name returns the canonical upper-case name of `verb` ("MAIL").
 *
 * @param verb  The verb.
 * @return The name in static storage, never NULL: "UNKNOWN" for SMTP_VERB_UNKNOWN and any
 *         value that is not an smtp_verb.
 */
SMTP_API const char *smtp_verb_name(smtp_verb verb);

/** What is wrong with a command line. The comment gives the reply smtp_cmd_error_reply() picks. */
typedef enum smtp_cmd_error {
    SMTP_CMD_OK = 0,
    SMTP_CMD_ERR_UNKNOWN_VERB,        /**< 500 5.5.1: the verb is not recognised */
    SMTP_CMD_ERR_SYNTAX,              /**< 501 5.5.4: the argument breaks the verb's grammar */
    SMTP_CMD_ERR_MISSING_ARGUMENT,    /**< 501 5.5.4: a required argument is absent */
    SMTP_CMD_ERR_UNEXPECTED_ARGUMENT, /**< 501 5.5.4: DATA, RSET, QUIT, STARTTLS with an argument */
    /**
     * 521 5.5.4: a BDAT whose chunk size is missing, malformed or above UINT64_MAX. The
     * server cannot tell how many octets of chunk data follow, so it cannot stay in sync with
     * the stream: it must reply and close the connection (RFC 3030 3, as Postfix does).
     */
    SMTP_CMD_ERR_BDAT,
    /**
     * 500 5.5.2 (5.5.6 for AUTH and SASL lines, RFC 4954 4): the line exceeded its limit
     * (RFC 5321 4.5.3.1.4). The rest of the line was discarded; the next line is a command.
     */
    SMTP_CMD_ERR_LINE_TOO_LONG,
    SMTP_CMD_ERR_BARE_LF, /**< 500 5.5.2: an LF without CR ended the line (RFC 5321 2.3.8) */
    SMTP_CMD_ERR_BARE_CR, /**< 500 5.5.2: a CR not followed by LF inside the line */
    SMTP_CMD_ERR_NUL      /**< 500 5.5.2: a NUL byte inside the line */
} smtp_cmd_error;

/**
 * smtp_cmd_error_name returns the enumerator name of `error` without its prefix ("SYNTAX",
 * "OK").
 *
 * @param error  The command error.
 * @return The name in static storage, never NULL: "INVALID" for a value that is not an
 *         smtp_cmd_error.
 */
SMTP_API const char *smtp_cmd_error_name(smtp_cmd_error error);

/**
 * smtp_cmd_error_reply gives the reply a server sends for a command of verb `verb` that has
 * error `error`.
 *
 * Any error on a BDAT line gives 521: the server must close (see SMTP_CMD_ERR_BDAT).
 *
 * @param error     What is wrong with the line: `cmd->error` of a command, or `resp->error`
 *                  of a SASL response line.
 * @param verb      The command's verb (`cmd->verb`); SMTP_VERB_AUTH for a SASL response line.
 *                  A value that is not an smtp_verb counts as SMTP_VERB_UNKNOWN.
 * @param enhanced  If not NULL, receives the RFC 3463 enhanced status code ("5.5.4") in
 *                  static storage, or NULL when 0 is returned.
 * @param text      If not NULL, receives a short text in static storage stating the expected
 *                  grammar ("Syntax: MAIL FROM:<reverse-path> [SP <mail-parameters>]") or the
 *                  problem ("Error: bare <LF> received"), or NULL when 0 is returned.
 * @return The reply code, 500, 501 or 521; or 0 for SMTP_CMD_OK and values that are not an
 *         smtp_cmd_error.
 */
SMTP_API int smtp_cmd_error_reply(smtp_cmd_error error, smtp_verb verb, const char **enhanced,
                                  const char **text);

/**
 * A parsed command. Every span borrows the line (valid only during the callback, or as long
 * as the line given to smtp_cmd_parse); an absent element is the span {NULL, 0}.
 *
 * When `error` is a line-level error (LINE_TOO_LONG, BARE_LF, BARE_CR, NUL), only `verb`,
 * `name` and `line` are set: `verb` is what the first word names (so a bad BDAT line is still
 * known as BDAT), and for LINE_TOO_LONG `line` holds only the first limit-1 octets.
 */
typedef struct smtp_cmd {
    smtp_verb verb;       /**< the command the first word names */
    smtp_cmd_error error; /**< SMTP_CMD_OK, or what is wrong with the line */
    smtp_span line;       /**< the whole line without its line end */
    smtp_span name;       /**< the verb as sent ("mail"): the line's bytes before the first SP */
    /**
     * Everything after the verb and the SPs that follow it, trailing SP and HTAB removed
     * (RFC 5321 4.1.1: a server should tolerate trailing white space). This is the argument
     * of VRFY, EXPN, HELP, NOOP, ETRN and the attribute string of XCLIENT and XFORWARD.
     */
    /** @{ */
    smtp_span arg;
    smtp_span domain; /* HELO, EHLO, LHLO: the client's name, one word of at most 255 octets
                         (SMTP_MAX_DOMAIN; longer: SMTP_CMD_ERR_SYNTAX), not validated */
    /** @} */
    /**
     * MAIL, RCPT: the path with its angle brackets ("<a@b>", "<>"), found quote-aware (a
     * quoted local part may hold '>' and SP); under SMTP_CMD_LENIENT_PATH_BRACKETS, a path
     * sent without brackets is the word after the colon.
     */
    smtp_span path;
    smtp_span params;           /**< MAIL, RCPT: the parameters after the path (may be empty) */
    smtp_span mechanism;        /**< AUTH: the SASL mechanism, 1-20 of A-Z a-z 0-9 '-' '_' */
    smtp_span initial_response; /**< AUTH: as sent ("=" is a zero-length response); or absent */
    uint64_t chunk_size;        /**< BDAT */
    int last;                   /**< BDAT: 1 with the LAST marker, else 0 */
} smtp_cmd;

/*
 * Parser flags (smtp_cmd_settings.flags, smtp_cmd_parse). Lenient flags accept what RFC 5321
 * forbids; use them only to talk to known broken peers.
 */
/** Accept LF alone as a line end (streaming parser only; lines keep no CR either way). */
#define SMTP_CMD_LENIENT_BARE_LF 0x1u
/** Reject "MAIL FROM: <a@b>" (SP after the colon), accepted by default as most servers do. */
#define SMTP_CMD_STRICT_PATH_SPACE 0x2u
/** Accept "MAIL FROM:a@b" (a path without angle brackets). */
#define SMTP_CMD_LENIENT_PATH_BRACKETS 0x4u
/** Accept HELO, EHLO and LHLO without a name (then `domain` is empty). */
#define SMTP_CMD_LENIENT_EMPTY_HELO 0x8u

/**
 * smtp_cmd_parse parses one complete command line into `*out`.
 *
 * It is stateless and allocates nothing. It does not check the line length (the framing
 * layer does). A CR, LF or NUL in the line gives SMTP_CMD_ERR_BARE_CR, _BARE_LF or _NUL,
 * whichever comes first.
 *
 * @param line   The line without its CRLF, `len` octets; need not be NUL-terminated. May be
 *               NULL when `len` is 0. The spans of `*out` borrow it.
 * @param len    The length of `line` in octets.
 * @param flags  The SMTP_CMD_* parser flags, or'ed; 0 for none. SMTP_CMD_LENIENT_BARE_LF is
 *               accepted and has no effect here.
 * @param out    Receives the command; must not be NULL.
 * @return 0 when the command is well formed (`out->error` is SMTP_CMD_OK), or one of these
 *         negative error codes:
 * @retval SMTP_ERR_SYNTAX `out->error` holds the peer's error; `out` is filled as documented
 *         at smtp_cmd.
 * @retval SMTP_ERR_INVALID_ARGUMENT `out` is NULL, `line` is NULL with `len` > 0, or `flags`
 *         holds an unknown bit; `out` is untouched.
 */
SMTP_API int smtp_cmd_parse(const char *line, size_t len, unsigned flags, smtp_cmd *out);

/** The streaming parser: consumes a server's input stream and reports one command per line. */
typedef struct smtp_cmd_parser smtp_cmd_parser;

/**
 * A SASL response line (RFC 4954 4), read instead of a command after
 * smtp_cmd_parser_expect_sasl().
 */
typedef struct smtp_sasl_response {
    /**
     * SMTP_CMD_OK, or a line-level error: LINE_TOO_LONG (limit max_auth_line), BARE_LF,
     * BARE_CR or NUL. Answer it with smtp_cmd_error_reply(error, SMTP_VERB_AUTH, ...).
     */
    smtp_cmd_error error;
    smtp_span line; /**< the line without CRLF, not decoded (base64 is for <smtp/codec.h>) */
    int cancelled;  /**< 1 when the line is "*": the client cancels the exchange */
} smtp_sasl_response;

/** The version of smtp_cmd_callbacks this header describes (common.h: versioned structs). */
#define SMTP_CMD_CALLBACKS_VERSION 1

/**
 * Callbacks: the parser first, user_data last. A NULL callback is a no-op. Each returns 0 to
 * continue, SMTP_PAUSE to make smtp_cmd_parser_read return right after the line just
 * reported (with the bytes after it unconsumed), or a negative value to fail
 * (smtp_cmd_parser_read then returns SMTP_ERR_CALLBACK_FAILURE, for good). Other positive
 * values count as 0. Inside one, smtp_cmd_parser_read on the same parser returns
 * SMTP_ERR_INVALID_STATE and smtp_cmd_parser_del must not be called.
 *
 * Pause after DATA and BDAT to read the payload with <smtp/data.h>, after STARTTLS so that
 * nothing pipelined after it is consumed (RFC 3207 4.2, DESIGN.md invariant 4), or whenever
 * the application must decide before the next command is read.
 */
typedef struct smtp_cmd_callbacks {
    /**
     * on_command reports one command line, well-formed or not (`cmd->error`).
     *
     * @param parser     The parser reporting the line.
     * @param cmd        The command; it and its spans are valid only during the callback.
     * @param user_data  The `user_data` given to smtp_cmd_parser_new.
     * @return 0 to continue, SMTP_PAUSE to make smtp_cmd_parser_read return right after this
     *         line, or a negative value to fail.
     */
    int (*on_command)(smtp_cmd_parser *parser, const smtp_cmd *cmd, void *user_data);
    /**
     * on_sasl_response reports one SASL response line, read after
     * smtp_cmd_parser_expect_sasl.
     *
     * Call smtp_cmd_parser_expect_sasl again from here to read the next line as a SASL
     * response too (after sending another 334 challenge).
     *
     * @param parser     The parser reporting the line.
     * @param resp       The response; it and its span are valid only during the callback.
     * @param user_data  The `user_data` given to smtp_cmd_parser_new.
     * @return 0 to continue, SMTP_PAUSE to make smtp_cmd_parser_read return right after this
     *         line, or a negative value to fail.
     */
    int (*on_sasl_response)(smtp_cmd_parser *parser, const smtp_sasl_response *resp,
                            void *user_data);
} smtp_cmd_callbacks;

/** The version of smtp_cmd_settings this header describes (common.h: versioned structs). */
#define SMTP_CMD_SETTINGS_VERSION 1

/** Limits and flags of the command parser. Fill with smtp_cmd_settings_init, then change fields. */
typedef struct smtp_cmd_settings {
    /**
     * The longest command line in octets, CRLF included: 512 by default (RFC 5321
     * 4.5.3.1.4). Servers offering extensions that lengthen MAIL and RCPT (SIZE, DSN,
     * AUTH=) should raise it (Postfix uses 2048). At least 8, at most 1048576.
     */
    size_t max_line;
    /**
     * The longest AUTH command line and SASL response line, CRLF included: 12288 by default
     * (RFC 4954 4). At least 8, at most 1048576.
     */
    size_t max_auth_line;
    unsigned flags; /**< SMTP_CMD_* flags; 0 by default */
} smtp_cmd_settings;

/**
 * smtp_cmd_settings_init fills `*settings` with the defaults of this header's version.
 * See smtp_cmd_settings_init_versioned (a macro: it passes SMTP_CMD_SETTINGS_VERSION).
 */
#define smtp_cmd_settings_init(settings)                                                           \
    smtp_cmd_settings_init_versioned(SMTP_CMD_SETTINGS_VERSION, (settings))
/**
 * smtp_cmd_settings_init_versioned fills the fields of smtp_cmd_settings version `version`
 * with their defaults.
 *
 * The defaults are those documented at smtp_cmd_settings: `max_line` 512, `max_auth_line`
 * 12288, `flags` 0.
 *
 * @param version   The version of smtp_cmd_settings the caller was compiled with
 *                  (SMTP_CMD_SETTINGS_VERSION, 1 .. the library's); another version is
 *                  ignored.
 * @param settings  The settings to fill; NULL is ignored.
 */
SMTP_API void smtp_cmd_settings_init_versioned(int version, smtp_cmd_settings *settings);

/**
 * smtp_cmd_parser_new creates a streaming command parser in `*pp`.
 * See smtp_cmd_parser_new_versioned (a macro: it passes the struct versions of this header).
 */
#define smtp_cmd_parser_new(pp, callbacks, settings, mem, user_data)                               \
    smtp_cmd_parser_new_versioned((pp), SMTP_CMD_CALLBACKS_VERSION, (callbacks),                   \
                                  SMTP_CMD_SETTINGS_VERSION, (settings), (mem), (user_data))
/**
 * smtp_cmd_parser_new_versioned creates a streaming command parser in `*pp`, for the struct
 * versions the caller was compiled with.
 *
 * The parser itself is allocated here; its buffer of max(max_line, max_auth_line) - 1 bytes,
 * for lines split across reads, is allocated by the first smtp_cmd_parser_read that ends
 * inside a line (a peer that sends whole lines never needs it), or by
 * smtp_cmd_parser_reserve, then kept until smtp_cmd_parser_del. Fields that the caller's
 * versions lack keep their defaults. Call it through the macro smtp_cmd_parser_new.
 *
 * @param pp                 Receives the new parser, which the caller frees with
 *                           smtp_cmd_parser_del; set to NULL on error. Must not be NULL.
 * @param callbacks_version  SMTP_CMD_CALLBACKS_VERSION as the caller was compiled with.
 * @param callbacks          The callbacks, copied; NULL makes every callback a no-op.
 * @param settings_version   SMTP_CMD_SETTINGS_VERSION as the caller was compiled with.
 * @param settings           The limits and flags, copied; NULL for the defaults.
 * @param mem                The allocator, NULL for smtp_mem_default(); not copied: it must
 *                           outlive the parser.
 * @param user_data          Passed to every callback as its last argument; may be NULL.
 * @return 0 on success, or one of these negative error codes (then `*pp` is NULL, when `pp` is
 *         not NULL, and nothing stays allocated):
 * @retval SMTP_ERR_INVALID_ARGUMENT `pp` is NULL, a version this library lacks, `max_line` or
 *         `max_auth_line` below 8 or above 1048576, or an unknown flag.
 * @retval SMTP_ERR_NOMEM The parser could not be allocated.
 */
SMTP_API int smtp_cmd_parser_new_versioned(smtp_cmd_parser **pp, int callbacks_version,
                                           const smtp_cmd_callbacks *callbacks,
                                           int settings_version, const smtp_cmd_settings *settings,
                                           const smtp_mem *mem, void *user_data);

/**
 * smtp_cmd_parser_del frees the parser `p` and its line buffer.
 *
 * It must not be called from one of the parser's own callbacks.
 *
 * @param p  The parser; NULL is ignored.
 */
SMTP_API void smtp_cmd_parser_del(smtp_cmd_parser *p);

/**
 * smtp_cmd_parser_read consumes bytes of the client's stream and reports each complete line
 * through the callbacks, in order.
 *
 * Any split of the stream is fine: a line may span reads. Line ends are CRLF; a line over its
 * limit, a bare LF, a bare CR or a NUL is reported as a command with an error (or as a SASL
 * response with an error), and reading goes on with the next line.
 *
 * @code
 * smtp_cmd_callbacks cb = {.on_command = on_command}; // the application's callback
 * smtp_cmd_parser *p;
 * if (smtp_cmd_parser_new(&p, &cb, NULL, NULL, conn) < 0)
 *     return -1;
 * smtp_ssize n = smtp_cmd_parser_read(p, buf, len); // buf: len bytes from the client
 * if (n < 0)
 *     smtp_cmd_parser_del(p); // and close the connection
 * // 0 <= n < len: a callback paused; feed buf + n again when ready
 * @endcode
 *
 * @param p     The parser; must not be NULL.
 * @param data  The bytes read from the client, `len` of them; the spans given to callbacks
 *              may point into it. May be NULL when `len` is 0.
 * @param len   The number of bytes in `data`.
 * @return The number of bytes consumed: `len`, or less when a callback returned SMTP_PAUSE
 *         (the bytes after the paused line are left for the caller, who feeds them again
 *         later); or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `p` is NULL, or `data` is NULL with `len` > 0; nothing
 *         happens.
 * @retval SMTP_ERR_INVALID_STATE Called from one of the parser's own callbacks; nothing
 *         happens.
 * @retval SMTP_ERR_CALLBACK_FAILURE A callback returned a negative value, in this call or an
 *         earlier one: every later call returns it too.
 * @retval SMTP_ERR_NOMEM The buffer for a line split across reads could not be allocated (see
 *         smtp_cmd_parser_reserve), in this call or an earlier one: every later call returns
 *         it too.
 */
SMTP_API smtp_ssize smtp_cmd_parser_read(smtp_cmd_parser *p, const char *data,
                                         size_t len) SMTP_WARN_UNUSED;

/**
 * smtp_cmd_parser_reserve allocates the parser's line buffer now, if it is not yet, so that
 * smtp_cmd_parser_read never allocates.
 *
 * It is for code that reserves its memory up front.
 *
 * @param p  The parser; must not be NULL.
 * @return 0 on success (also when the buffer was already there), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `p` is NULL.
 * @retval SMTP_ERR_NOMEM The buffer could not be allocated; the parser is unchanged.
 */
SMTP_API int smtp_cmd_parser_reserve(smtp_cmd_parser *p);

/**
 * smtp_cmd_parser_expect_sasl makes the parser read the next line as a SASL response instead
 * of a command.
 *
 * That line is reported by on_sasl_response, with the limit `max_auth_line`; after it, lines
 * are commands again. Call it when sending a 334 challenge: from on_command (for the AUTH
 * line itself), from on_sasl_response, or between reads.
 *
 * @param p  The parser; must not be NULL.
 * @return 0 on success, or this negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT `p` is NULL.
 */
SMTP_API int smtp_cmd_parser_expect_sasl(smtp_cmd_parser *p);

/*
 * Command emitters (client side). Each writes one complete command line with its CRLF into
 * `dest` (capacity `cap`; not NUL-terminated) and returns the number of bytes written; with
 * `dest` NULL and `cap` 0 it writes nothing and returns the number that would be written (after
 * the same checks but the last), as smtp_emit_reply does.
 * On any error, nothing at all is written to `dest` (DESIGN.md invariant 5):
 *  - SMTP_ERR_INVALID_ARGUMENT: a NULL pointer with a non-zero length (`dest` NULL with `cap`
 *    > 0 included), a verb that is not a
 *    known one, an argument that breaks the verb's grammar as documented below;
 *  - SMTP_ERR_UNSAFE_ARGUMENT: an argument holds a control byte: CR, LF, NUL, any other
 *    byte below 0x20 including HTAB (no command grammar needs one), or DEL. Bytes 0x80-0xFF
 *    pass (SMTPUTF8, RFC 6531);
 *  - SMTP_ERR_TOO_LONG: the line would exceed SMTP_MAX_COMMAND_LINE (512) octets with CRLF
 *    (RFC 5321 4.5.3.1.4), SMTP_MAX_AUTH_LINE (12288) for AUTH and SASL lines (RFC 4954 4), or
 *    for smtp_emit_mail and smtp_emit_rcpt 512 plus what the parameters present allow (below);
 *  - SMTP_ERR_NOBUF: the line does not fit in `cap` bytes.
 * The checks run in this order: NULL pointers and the verb, control bytes, the grammar, the
 * length, the capacity. So an argument with a control byte is SMTP_ERR_UNSAFE_ARGUMENT even
 * where it also breaks the grammar (smtp_emit_rcpt checks for an empty mailbox first).
 */

/**
 * Line limits of the emitters, CRLF included. RFC 5321 4.5.3.1.4 sets 512 octets and lets
 * extensions raise it: each MAIL or RCPT parameter libsmtp knows adds what its RFC grants (or
 * its SP, keyword and longest value): MAIL SIZE 26 (RFC 1870), BODY 16, SMTPUTF8 10
 * (RFC 6531), RET 9 and ENVID 107 (RFC 3461), AUTH 500 (RFC 4954), REQUIRETLS 11, MT-PRIORITY
 * 15, BY 17, HOLDUNTIL or HOLDFOR 40; RCPT NOTIFY 29 and ORCPT 507 (RFC 3461). So a MAIL line
 * with SIZE may have 538 octets, one without parameters 512. SMTP_MAX_MAIL_LINE and
 * SMTP_MAX_RCPT_LINE are the longest lines with every parameter present: a server offering
 * those extensions should read lines that long (smtp_cmd_settings.max_line; the server
 * engine's default is 2048).
 */
/** @{ */
#define SMTP_MAX_COMMAND_LINE 512
#define SMTP_MAX_MAIL_LINE 1263
#define SMTP_MAX_RCPT_LINE 1048
#define SMTP_MAX_AUTH_LINE 12288 /**< AUTH and SASL response lines (RFC 4954 4) */
/** @} */

/**
 * smtp_emit_command writes the command line "VERB[ SP arg]" CRLF, with the canonical verb
 * name.
 *
 * `arg` is written as is: only its presence is checked against the verb, and its bytes for
 * control bytes. The limit is SMTP_MAX_AUTH_LINE for AUTH and 512 for every other verb, MAIL
 * and RCPT included whatever their parameters: use smtp_emit_mail and smtp_emit_rcpt for
 * longer ones.
 *
 * @param dest    The buffer that receives the line, not NUL-terminated; NULL with `cap` 0 to
 *                get the length only.
 * @param cap     The capacity of `dest` in bytes.
 * @param verb    The command, any smtp_verb but SMTP_VERB_UNKNOWN.
 * @param arg     The argument, `arglen` octets (for MAIL the whole "FROM:<a@b> SIZE=10"); may
 *                be NULL when `arglen` is 0. An empty argument writes the verb alone.
 * @param arglen  The length of `arg` in octets.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `dest` is NULL with `cap` > 0, `arg` is NULL with
 *         `arglen` > 0, `verb` is SMTP_VERB_UNKNOWN or not an smtp_verb; an argument for DATA,
 *         RSET, QUIT or STARTTLS; no argument for HELO, EHLO, LHLO, MAIL, RCPT, BDAT, AUTH,
 *         VRFY, EXPN, ETRN, XCLIENT or XFORWARD (NOOP and HELP take either).
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `arg` holds a control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed 512 octets, or SMTP_MAX_AUTH_LINE for AUTH.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_command(char *dest, size_t cap, smtp_verb verb, const char *arg,
                                      size_t arglen);

/**
 * smtp_emit_mail writes the command line "MAIL FROM:<mailbox>[ SP params]" CRLF.
 *
 * The line may have 512 octets plus the allowance of each known keyword in `params`, counted
 * once and matched without regard to case (see SMTP_MAX_MAIL_LINE).
 *
 * @code
 * char line[SMTP_MAX_MAIL_LINE];
 * smtp_ssize n = smtp_emit_mail(line, sizeof line, "a@example.org", 13, "SIZE=1024", 9);
 * if (n < 0)
 *     return n; // nothing was written
 * // send n bytes of line
 * @endcode
 *
 * @param dest     The buffer that receives the line, not NUL-terminated; NULL with `cap` 0 to
 *                 get the length only.
 * @param cap      The capacity of `dest` in bytes.
 * @param mailbox  The reverse-path without its angle brackets ("a@example.org"), `mlen`
 *                 octets, written as is; empty gives the null reverse-path "<>". May be NULL
 *                 when `mlen` is 0.
 * @param mlen     The length of `mailbox` in octets.
 * @param params   The MAIL parameters ("SIZE=10 BODY=8BITMIME"), `plen` octets, written as is
 *                 after one SP; empty for none. May be NULL when `plen` is 0.
 * @param plen     The length of `params` in octets.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `dest` is NULL with `cap` > 0, `mailbox` is NULL with
 *         `mlen` > 0 or `params` is NULL with `plen` > 0; a '>' or SP in `mailbox` outside a
 *         quoted string, or an unterminated quoted string or quoted pair (it would end the
 *         path early).
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `mailbox` or `params` holds a control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed 512 octets plus the allowances of the
 *         parameters present.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_mail(char *dest, size_t cap, const char *mailbox, size_t mlen,
                                   const char *params, size_t plen);

/**
 * smtp_emit_rcpt writes the command line "RCPT TO:<mailbox>[ SP params]" CRLF.
 *
 * It works as smtp_emit_mail does; the limit is 512 plus NOTIFY's and ORCPT's allowances
 * (SMTP_MAX_RCPT_LINE), and an empty mailbox is invalid ("<>" is not a forward-path).
 *
 * @param dest     The buffer that receives the line, not NUL-terminated; NULL with `cap` 0 to
 *                 get the length only.
 * @param cap      The capacity of `dest` in bytes.
 * @param mailbox  The forward-path without its angle brackets, `mlen` octets, written as is;
 *                 must not be empty.
 * @param mlen     The length of `mailbox` in octets.
 * @param params   The RCPT parameters ("NOTIFY=NEVER"), `plen` octets, written as is after
 *                 one SP; empty for none. May be NULL when `plen` is 0.
 * @param plen     The length of `params` in octets.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `mlen` is 0; `dest` is NULL with `cap` > 0, `mailbox` is
 *         NULL with `mlen` > 0 or `params` is NULL with `plen` > 0; a '>' or SP in `mailbox`
 *         outside a quoted string, or an unterminated quoted string or quoted pair.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `mailbox` or `params` holds a control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed 512 octets plus the allowances of the
 *         parameters present.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_rcpt(char *dest, size_t cap, const char *mailbox, size_t mlen,
                                   const char *params, size_t plen);

/**
 * smtp_emit_bdat writes the command line "BDAT size[ LAST]" CRLF (RFC 3030 2).
 *
 * The line has at most 32 octets, so it is never too long.
 *
 * @param dest  The buffer that receives the line, not NUL-terminated; NULL with `cap` 0 to get
 *              the length only.
 * @param cap   The capacity of `dest` in bytes.
 * @param size  The size of the chunk that follows, in octets; 0 is allowed.
 * @param last  Non-zero to add LAST: this chunk ends the message.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `dest` is NULL with `cap` > 0.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_bdat(char *dest, size_t cap, uint64_t size, int last);

/**
 * smtp_emit_auth writes the command line "AUTH mechanism[ SP initial-response]" CRLF
 * (RFC 4954 4).
 *
 * The limit is SMTP_MAX_AUTH_LINE.
 *
 * @param dest              The buffer that receives the line, not NUL-terminated; NULL with
 *                          `cap` 0 to get the length only.
 * @param cap               The capacity of `dest` in bytes.
 * @param mech              The SASL mechanism name, `mechlen` octets.
 * @param mechlen           The length of `mech` in octets.
 * @param initial_response  The initial response as base64 text, not raw data, `irlen`
 *                          octets: NULL for none, or a zero length for an empty response
 *                          (written "=").
 * @param irlen             The length of `initial_response` in octets.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `dest` is NULL with `cap` > 0, `mech` is NULL with
 *         `mechlen` > 0 or `initial_response` is NULL with `irlen` > 0; a mechanism that is
 *         not 1-20 of A-Z a-z 0-9 '-' '_'; an initial response with a byte outside the base64
 *         alphabet and '='.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `mech` or `initial_response` holds a control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed SMTP_MAX_AUTH_LINE (12288) octets.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_auth(char *dest, size_t cap, const char *mech, size_t mechlen,
                                   const char *initial_response, size_t irlen);

/**
 * smtp_emit_sasl_response writes a SASL response line: `text` then CRLF (RFC 4954 4).
 *
 * The limit is SMTP_MAX_AUTH_LINE.
 *
 * @param dest  The buffer that receives the line, not NUL-terminated; NULL with `cap` 0 to get
 *              the length only.
 * @param cap   The capacity of `dest` in bytes.
 * @param text  The response, `len` octets: base64 text, possibly empty, or "*" to cancel the
 *              exchange. May be NULL when `len` is 0.
 * @param len   The length of `text` in octets.
 * @return The number of bytes written (with `dest` NULL, that would be written), or one of
 *         these negative error codes, having written nothing:
 * @retval SMTP_ERR_INVALID_ARGUMENT `dest` is NULL with `cap` > 0, or `text` is NULL with
 *         `len` > 0; a byte outside the base64 alphabet and '=' (other than a lone "*").
 * @retval SMTP_ERR_UNSAFE_ARGUMENT `text` holds a control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed SMTP_MAX_AUTH_LINE (12288) octets.
 * @retval SMTP_ERR_NOBUF The line does not fit in `cap` bytes.
 */
SMTP_API smtp_ssize smtp_emit_sasl_response(char *dest, size_t cap, const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_COMMAND_H */
