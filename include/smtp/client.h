/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the client session engine: a sans-I/O SMTP (RFC 5321) and LMTP (RFC 2033) client.
 *
 * The engine holds one connection's conversation. The adapter (the code that owns the socket,
 * the clock and TLS) feeds it the bytes the server sent and pulls the bytes to send; the engine
 * never reads, writes, sleeps or looks at a clock. The application submits messages one at a
 * time (an envelope and a body the engine pulls as it has room: from memory, or from a read
 * callback) and learns the outcome through callbacks: one per recipient, one per message, one
 * for the session. The engine never acknowledges a body it did not send whole: a body source
 * that fails ends the session before the end of data.
 *
 *   smtp_client_settings s;
 *   smtp_client_settings_init(&s);
 *   s.helo_name = "client.example.org";          // default "localhost"
 *   smtp_client *cli;
 *   smtp_client_new(&cli, &callbacks, &s, NULL, app);
 *   message.body = text; message.body_len = len;   // or message.read_body = a source
 *   smtp_client_submit(cli, &message);             // borrowed until on_message
 *   loop:
 *     n = smtp_client_read(cli, buf, len);         // n < 0: the session failed; else keep
 *                                                  // buf[n..len) and feed it again later
 *     m = smtp_client_write(cli, out, sizeof out); // send out[0..m)
 *     smtp_client_want_tls(cli) -> handshake, then smtp_client_tls_done(cli, ok)
 *                                   (and smtp_client_tls_verified(cli, 1) if the cert verified)
 *     smtp_client_timeout(cli, &ms) -> arm a timer; on expiry smtp_client_timeout_expired(cli)
 *   smtp_client_quit(cli);                         // after the last message
 *   ... until smtp_client_want_close(cli)
 *   smtp_client_del(cli);
 *
 * The client never sends a command before the whole reply it waits for has arrived, however
 * the reply was split across reads (RFC 5321 4.2, DESIGN.md invariant 2). A reply that answers
 * no command the client has sent (unsolicited, or an extra reply: one that came in the same read
 * as the reply before it, before the client could send the command it would answer) is a
 * protocol violation, not the answer to the next command; a 421 reply ends the session cleanly
 * at any point (RFC 5321 3.8). So what is fed in one smtp_client_read call matters: bytes that
 * arrived together.
 *
 * Negative returns are SMTP_ERR_* codes. Errors of the feeding call smtp_client_read (a server
 * protocol violation, a failed callback) are fatal and sticky: the session has failed,
 * on_session_end has said why, and every later feeding call returns the same error.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <smtp/common.h>
#include <smtp/caps.h>
#include <smtp/command.h>
#include <smtp/params.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The opaque client session. */
typedef struct smtp_client smtp_client;

/** STARTTLS policy (RFC 3207). */
typedef enum smtp_client_tls_policy {
    /** Never send STARTTLS. */
    SMTP_CLIENT_TLS_NONE = 0,
    /** Use STARTTLS when the server offers it; go on in plaintext when it is absent or refused. */
    SMTP_CLIENT_TLS_OPPORTUNISTIC = 1,
    /**
     * STARTTLS or nothing: when the server does not offer it or refuses it, the client sends
     * QUIT and nothing else, and the session ends (SMTP_CLIENT_END_TLS_UNAVAILABLE).
     */
    SMTP_CLIENT_TLS_REQUIRED = 2
} smtp_client_tls_policy;

/**
 * The client's crypto hook (smtp_client_settings.crypto) is the library's one SASL crypto hook,
 * smtp_crypto (<smtp/common.h>), which the server's built-in mechanisms use too. A mechanism
 * is offered only when every function it needs is set: CRAM-MD5 (RFC 2195) hmac_md5;
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) hmac_sha256, sha256 and random. A failing function makes
 * the feeding call return SMTP_ERR_CALLBACK_FAILURE and the session end
 * (SMTP_CLIENT_END_ERROR), as for a callback. They are called from smtp_client_read (and
 * random from the call that completes the EHLO reply); SCRAM's key derivation runs
 * hmac_sha256 once per iteration the server asks for (4096 usually; at most
 * settings.auth_max_iterations).
 */
typedef smtp_crypto smtp_client_crypto;

/* smtp_client_settings.flags */
/** Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the data. */
#define SMTP_CLIENT_LMTP 0x01u
/**
 * The connection is already protected by TLS (implicit TLS on port 465, RFC 8314 3.3): no
 * STARTTLS is sent and AUTH may run.
 */
#define SMTP_CLIENT_TLS 0x02u
/** Allow AUTH without TLS (dangerous: the credentials travel in clear); see auth_user. */
#define SMTP_CLIENT_AUTH_PLAINTEXT 0x04u
/** Never pipeline (by default MAIL, RCPT and DATA/BDAT are pipelined when offered, RFC 2920). */
#define SMTP_CLIENT_NO_PIPELINING 0x08u
/** Never use BDAT (by default the body goes with BDAT when CHUNKING is offered, RFC 3030). */
#define SMTP_CLIENT_NO_CHUNKING 0x10u
/**
 * The TLS layer presents a client certificate: the client may authenticate with SASL EXTERNAL
 * (RFC 4422 appendix A, RFC 4954), by name (auth_mech "EXTERNAL", which needs this flag) or
 * picked when the server offers it and neither auth_password nor auth_token is set. AUTH then
 * runs even without auth_user. EXTERNAL is used over TLS only (implicit, or after STARTTLS),
 * SMTP_CLIENT_AUTH_PLAINTEXT notwithstanding. The engine never sees the certificate: the
 * adapter's TLS configuration holds it (smtp_tls_settings.cert_file...).
 */
#define SMTP_CLIENT_AUTH_EXTERNAL 0x20u
/**
 * Allocate every buffer in smtp_client_new at its largest (the output queue at max_output, the
 * buffers of a transaction, the SASL scratch when AUTH is asked for) instead of on demand:
 * nothing is allocated afterwards (but smtp_client_mail_from's recipients' table and
 * smtp_client_set_helo's name), and SMTP_ERR_NOMEM can come from smtp_client_new only. An idle
 * client then costs about max_output + (max_recipients + 16) * 16 + max_recipients +
 * max_reply_text + max_body_buffer octets more (about 50 KiB with the defaults).
 */
#define SMTP_CLIENT_PREALLOCATE 0x40u

/**
 * The version of smtp_client_settings this header describes (common.h: versioned structs):
 * 2 added auth_min_iterations, 3 the connection reuse limits (reuse_max_messages...) and
 * idna_to_ascii.
 */
#define SMTP_CLIENT_SETTINGS_VERSION 3

/**
 * Settings of a client. Fill with smtp_client_settings_init, then change fields. Strings are
 * copied by smtp_client_new (as are the crypto functions): they need not outlive the call.
 */
typedef struct smtp_client_settings {
    /**
     * The name sent with EHLO, HELO or LHLO: a domain or an address literal ("[192.0.2.1]"),
     * checked with smtp_domain_parse (RFC 5321 4.1.1.1); NULL is refused. Default "localhost"
     * (as Go's net/smtp): enough for submission to your own server; an MTA that relays to
     * others sets its fully-qualified name (RFC 5321 4.1.4), which many servers require. A
     * name with U-labels is refused, unless idna_to_ascii is set: it is then sent in its
     * A-label form.
     */
    const char *helo_name;
    /** SMTP_CLIENT_* flags; 0 by default. */
    unsigned flags;
    /** The STARTTLS policy; SMTP_CLIENT_TLS_NONE by default. */
    smtp_client_tls_policy tls;
    /**
     * SASL authentication (RFC 4954), done after EHLO (after the TLS handshake when STARTTLS
     * is used) when auth_user is not NULL or SMTP_CLIENT_AUTH_EXTERNAL is set; without TLS only
     * with SMTP_CLIENT_AUTH_PLAINTEXT, else the session ends with SMTP_CLIENT_END_AUTH_UNAVAILABLE.
     * auth_password serves SCRAM-SHA-256, CRAM-MD5, PLAIN and LOGIN (it is used as given: no
     * SASLprep normalisation); auth_token (an OAuth 2.0 bearer token) serves OAUTHBEARER (RFC 7628)
     * and XOAUTH2. auth_authzid (NULL: none) is the identity to act as (PLAIN, OAUTHBEARER,
     * SCRAM-SHA-256, EXTERNAL: its initial response, empty "=" when NULL). auth_mech names the
     * mechanism to use ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", with `crypto` "CRAM-MD5",
     * "SCRAM-SHA-256", with SMTP_CLIENT_AUTH_EXTERNAL "EXTERNAL"); NULL picks the strongest the
     * server offers that the credentials allow: OAUTHBEARER, XOAUTH2 with a token; SCRAM-SHA-256
     * (mutual authentication, the password never leaves the client), CRAM-MD5 (the password never
     * leaves the client), PLAIN, LOGIN with a password; EXTERNAL with SMTP_CLIENT_AUTH_EXTERNAL and
     * neither a password nor a token. A server that offers CRAM-MD5 but cannot check it for the
     * account makes AUTH fail: name the mechanism then.
     */
    /** @{ */
    const char *auth_user;
    const char *auth_password;
    const char *auth_token;
    const char *auth_authzid;
    const char *auth_mech;
    /** @} */
    /**
     * The cryptography CRAM-MD5 and SCRAM-SHA-256 need (see smtp_client_crypto); NULL (the
     * default): those mechanisms are neither picked nor accepted in auth_mech. The struct is
     * copied; its ctx must outlive the client.
     */
    const smtp_client_crypto *crypto;
    /**
     * The most SCRAM iterations (RFC 5802 5.1 "i") the client computes: default 1000000, at
     * least 1. A server asking for more gets "*" (the exchange is cancelled) and the session
     * ends with SMTP_CLIENT_END_AUTH_UNAVAILABLE: each iteration is one HMAC, run inside
     * smtp_client_read.
     */
    uint32_t auth_max_iterations;
    /** The longest reply line, CRLF included (default 2048, at least 6; smtp_reply_settings). */
    size_t max_reply_line;
    /** The most lines of one reply (default 1000). */
    size_t max_reply_lines;
    /**
     * The reply text kept for results (every line's text joined by LF), in octets: default
     * 4096, at least 64. Longer replies are truncated in results (smtp_client_reply.truncated);
     * the EHLO reply is read line by line and never truncated for the capabilities.
     */
    size_t max_reply_text;
    /**
     * The output queue in octets: default 16384, at least 1024. It holds commands not yet
     * pulled by smtp_client_write and encoded body data; it bounds how many commands one
     * pipelined flight holds before the adapter pulls some (the rest follow as room frees).
     * An AUTH command longer than this cannot be sent (SMTP_CLIENT_END_AUTH_UNAVAILABLE).
     */
    size_t max_output;
    /** The buffer a body source (smtp_client_message.read_body) is read into: default 16384
     * octets, at least 1. A body in memory is encoded from where it is, without a copy. */
    size_t max_body_buffer;
    /** The most recipients of one message (default 1000, at least 1, at most 100000). */
    size_t max_recipients;
    /**
     * Timeouts in milliseconds (RFC 5321 4.5.3.2): greeting 5 min, MAIL 5 min, RCPT 5 min,
     * DATA initiation 2 min, each data block 3 min, end of data 10 min; other commands
     * (EHLO, STARTTLS, AUTH, RSET, QUIT) 5 min. 0 disables one. See smtp_client_timeout.
     */
    /** @{ */
    uint32_t timeout_greeting;
    uint32_t timeout_mail;
    uint32_t timeout_rcpt;
    uint32_t timeout_data;
    uint32_t timeout_data_block;
    uint32_t timeout_data_end;
    uint32_t timeout_command;
    /** @} */
    /**
     * The fewest SCRAM iterations the client accepts: default 4096 (RFC 7677 4); 0 or 1: no
     * floor; a value above auth_max_iterations counts as auth_max_iterations. A server asking for
     * fewer gets "*" (the exchange is cancelled) and the session ends with
     * SMTP_CLIENT_END_AUTH_UNAVAILABLE, as above. Since version 2 (a version-1 caller gets the
     * default).
     */
    uint32_t auth_min_iterations;
    /**
     * Connection reuse, as Postfix's connection cache (smtp_connection_reuse_count_limit,
     * smtp_connection_reuse_time_limit, smtp_connection_cache_time_limit): limits that
     * smtp_client_reuse checks with the times the adapter measured. The most messages a
     * session takes (0: no limit), the oldest it may be (milliseconds since it started), the
     * longest it may have been idle, and the idle time beyond which the next message is
     * preceded by RSET, a liveness probe whose 250 must come before MAIL (0 disables each).
     * Defaults 0: no limit, no probe. Since version 3.
     */
    /** @{ */
    uint32_t reuse_max_messages;
    uint32_t reuse_max_age;
    uint32_t reuse_max_idle;
    uint32_t reuse_probe_idle;
    /** @} */
    /**
     * idna_to_ascii converts a domain holding U-labels to its A-label form (IDNA, RFC 5890),
     * for a server that lacks SMTPUTF8: smtp_idn_to_ascii (<smtp/idn.h>, the library smtp_idn,
     * built with libidn2) is one. NULL (the default): nothing is converted, and a message
     * with UTF-8 in an address needs SMTPUTF8.
     *
     * With it set, the client converts:
     *   - a UTF-8 helo_name, once, in smtp_client_new (EHLO, HELO and LHLO send the A-label
     *     form);
     *   - the addresses of a message that needs SMTPUTF8 only for U-labels in domains (every
     *     local part ASCII) when the server does not offer SMTPUTF8: MAIL and RCPT then carry
     *     the A-label forms and no SMTPUTF8 parameter. A message with a UTF-8 local part still
     *     needs SMTPUTF8. The decision is made before MAIL: a domain the function refuses, or
     *     an address or a line its A-label form makes too long (RFC 5321 4.5.3.1), makes the
     *     message SMTP_CLIENT_UNSUPPORTED (missing SMTP_CAP_SMTPUTF8) with nothing sent, as
     *     without the function. A server that offers SMTPUTF8 gets the addresses as they are
     *     (RFC 6531);
     *   - a recipient with U-labels in its domain given to smtp_client_rcpt_to while its
     *     transaction's MAIL goes without SMTPUTF8.
     *
     * It must answer the same for the same domain every time: the client calls it when it
     * decides and again as it writes each command. A different answer then fails the session
     * (SMTP_ERR_CALLBACK_FAILURE). It is called from inside smtp_client_new (the helo_name),
     * smtp_client_rcpt_to, and any call that makes the client write MAIL or RCPT
     * (smtp_client_read, smtp_client_write, smtp_client_submit...), and may not call the
     * client. The client allocates nothing for it; the function may (smtp_idn_to_ascii:
     * libidn2's malloc, freed before it returns). Since version 3.
     *
     * @param domain  The domain as written in the address or helo_name, `len` octets, valid
     *                UTF-8 with at least one U-label; not NUL-terminated.
     * @param len     The length of `domain` in octets.
     * @param out     Receives the A-label form, ASCII (a NUL after it is allowed).
     * @param cap     The room at `out` in octets (256: a domain is at most 255 octets and its
     *                NUL).
     * @return The length of the A-label form written to `out` (without a NUL), or a negative
     *         SMTP_ERR_* code when the domain cannot be converted. The client checks the
     *         result is an ASCII domain (smtp_domain_parse); one that is not counts as
     *         refused.
     */
    int (*idna_to_ascii)(const char *domain, size_t len, char *out, size_t cap);
} smtp_client_settings;

/**
 * smtp_client_settings_init fills `*settings` with the defaults above.
 *
 * A macro: smtp_client_settings_init_versioned with SMTP_CLIENT_SETTINGS_VERSION. See
 * smtp_client_settings_init_versioned.
 */
#define smtp_client_settings_init(settings)                                                        \
    smtp_client_settings_init_versioned(SMTP_CLIENT_SETTINGS_VERSION, (settings))
/**
 * smtp_client_settings_init_versioned fills the fields of smtp_client_settings version
 * `version` with their defaults.
 *
 * @param version   The version of smtp_client_settings the caller was compiled with,
 *                  1 .. SMTP_CLIENT_SETTINGS_VERSION; with another version nothing is written.
 * @param settings  The settings to fill, as far as that version reaches. NULL is ignored.
 */
SMTP_API void smtp_client_settings_init_versioned(int version, smtp_client_settings *settings);

/**
 * A server reply as reported to callbacks. Every span is valid only during the callback.
 */
typedef struct smtp_client_reply {
    /**
     * The command the reply answers: SMTP_VERB_UNKNOWN for the greeting and for an unsolicited
     * reply; SMTP_VERB_DATA for the 354 and for the reply after the end of the data;
     * SMTP_VERB_BDAT for the reply to a BDAT chunk, BDAT LAST included. In LMTP the replies
     * after the data, one per accepted recipient (on_rcpt, and the deciding reply of
     * on_message), likewise answer DATA, or BDAT when the message went with BDAT.
     */
    smtp_verb command;
    int code; /**< 200..599 */
    /** The enhanced status code of the first line ("5.1.1", RFC 3463), empty when none. */
    smtp_span enhanced;
    /** The text of every line after the code and separator, joined by LF (no final LF). */
    smtp_span text;
    size_t lines;  /**< how many lines the reply had */
    int truncated; /**< 1 when `text` was cut at max_reply_text octets */
} smtp_client_reply;

/** The outcome of a message. */
typedef enum smtp_client_status {
    /** Accepted after the data, for `accepted` recipients (LMTP: delivered to at least one). */
    SMTP_CLIENT_DELIVERED = 0,
    /** A 4xx reply, a 421, a lost connection, a timeout: try again later. */
    SMTP_CLIENT_TEMPFAIL = 1,
    /** A 5xx reply: do not try again as is. */
    SMTP_CLIENT_PERMFAIL = 2,
    /**
     * Refused by the client before anything of the message was sent: the message needs an
     * extension the server does not offer (`missing`; REQUIRETLS also when the session's TLS
     * was not verified: see smtp_client_tls_verified), or declares a SIZE above the server's
     * limit (`missing` is SMTP_CAP_SIZE).
     */
    SMTP_CLIENT_UNSUPPORTED = 3
} smtp_client_status;

/**
 * smtp_client_status_name returns the name of a message's outcome.
 *
 * @param status  An smtp_client_status.
 * @return "DELIVERED", "TEMPFAIL", "PERMFAIL" or "UNSUPPORTED", or "INVALID" for another
 *         value; static storage, never NULL.
 */
SMTP_API const char *smtp_client_status_name(smtp_client_status status);

/** What on_message reports. */
typedef struct smtp_client_result {
    smtp_client_status status; /**< the message's outcome */
    /**
     * The reply that decided the outcome, by status:
     *  - DELIVERED: the 2xx after the end of the data (DATA's CRLF.CRLF or BDAT LAST); in
     *    LMTP the last reply after the data, which may be a refusal of another recipient.
     *  - PERMFAIL: always a 5xx: to MAIL, DATA, a BDAT chunk or the end of the data; the
     *    first RCPT refusal when no recipient was accepted (or, with
     *    SMTP_CLIENT_MSG_ALL_OR_NOTHING, one was refused), whatever DATA or BDAT got then;
     *    in LMTP the last reply after the data; or a 5xx that ended the session (greeting,
     *    EHLO, RSET, STARTTLS, AUTH: see on_session_end).
     *  - TEMPFAIL: a 4xx in the same places; with no recipient accepted and one refusal
     *    temporary, the first RCPT refusal (which may be a 5xx); or, when the session ended
     *    before the message was decided, the reply that ended it (on_session_end's `reply`):
     *    a 421 or an unsolicited 221 (SHUTDOWN), the reply that broke the protocol, of any
     *    code (PROTOCOL: a 250 nothing awaited, a 2xx to DATA, a 3xx where none is
     *    allowed), the EHLO 250 without STARTTLS when TLS is required, a 4xx refusal. When
     *    that end had no reply (a lost connection, a timeout, a malformed reply, a local
     *    error), the first RCPT refusal if there was one, else NULL.
     *  - UNSUPPORTED: NULL (nothing was sent).
     */
    const smtp_client_reply *reply;
    size_t accepted;  /**< recipients accepted by RCPT (LMTP: delivered after the data) */
    size_t rejected;  /**< recipients refused by RCPT (LMTP: refused after the data too) */
    smtp_cap missing; /**< SMTP_CLIENT_UNSUPPORTED: the extension that was needed */
    /**
     * The message's size as the client computed or was given it (RFC 1870: the octets
     * transmitted, CRLF line ends counted): declared with SIZE= when the server offers it, and
     * the size found over its limit when `missing` is SMTP_CAP_SIZE; 0 when unknown or when
     * MAIL was never prepared.
     */
    uint64_t size;
    /**
     * SMTP_CLIENT_RESULT_* flags. SMTP_CLIENT_RESULT_NOT_SENT: nothing of the message reached
     * the server (no MAIL went out: the session ended first, a reuse probe failed, a
     * transaction ended before its MAIL), so it may be given at once to another connection.
     */
    unsigned flags;
} smtp_client_result;

/** smtp_client_result.flags: nothing of the message went out (no MAIL was written). */
#define SMTP_CLIENT_RESULT_NOT_SENT 0x1u

/** Why a session ended (on_session_end). */
typedef enum smtp_client_end {
    SMTP_CLIENT_END_QUIT = 0,         /**< QUIT was sent and answered: the normal end */
    SMTP_CLIENT_END_SHUTDOWN,         /* the server sent 421 (RFC 5321 3.8), or a 221 that
                                         answered nothing (it closes: Postfix does so) */
    SMTP_CLIENT_END_REJECTED,         /**< a refusal: greeting, EHLO/HELO/LHLO, RSET (`reply`) */
    SMTP_CLIENT_END_PROTOCOL,         /**< the server broke the protocol (`error`) */
    SMTP_CLIENT_END_CLOSED,           /**< the server closed the connection (smtp_client_eof) */
    SMTP_CLIENT_END_TIMEOUT,          /**< smtp_client_timeout_expired */
    SMTP_CLIENT_END_TLS_UNAVAILABLE,  /**< TLS required, STARTTLS not offered or refused */
    SMTP_CLIENT_END_TLS_FAILED,       /**< the adapter's TLS handshake failed */
    SMTP_CLIENT_END_AUTH_UNAVAILABLE, /* no usable mechanism, AUTH refused over plaintext,
                                         or SCRAM cancelled (auth_max_iterations,
                                         auth_min_iterations) */
    SMTP_CLIENT_END_AUTH_FAILED,      /**< the server refused the credentials (`reply`) */
    SMTP_CLIENT_END_ERROR             /**< a local failure (`error`: a callback) */
} smtp_client_end;

/**
 * smtp_client_end_name returns the name of the reason a session ended.
 *
 * @param end  An smtp_client_end.
 * @return The enumerator's name without its prefix ("QUIT", "SHUTDOWN", "REJECTED"...,
 *         "ERROR"), or "INVALID" for another value; static storage, never NULL.
 */
SMTP_API const char *smtp_client_end_name(smtp_client_end end);

/** What on_session_end reports. */
typedef struct smtp_client_session_result {
    smtp_client_end end;            /**< why the session ended */
    int error;                      /**< SMTP_ERR_* for END_PROTOCOL and END_ERROR, else 0 */
    const smtp_client_reply *reply; /**< the reply that ended the session, or NULL */
} smtp_client_session_result;

/** Recipient of a message. */
typedef struct smtp_client_rcpt {
    /** The mailbox without angle brackets ("user@example.org"), NUL-terminated. */
    const char *address;
    /**
     * DSN (RFC 3461 4.1): SMTP_NOTIFY_* bits for NOTIFY=, 0 for none. NOTIFY and ORCPT are
     * sent only when the server offers DSN; see SMTP_CLIENT_MSG_REQUIRE_DSN.
     */
    unsigned notify;
    /**
     * DSN ORCPT (RFC 3461 4.2): the original recipient, an RFC 822 address sent as
     * "ORCPT=rfc822;" and its xtext encoding (at least one character, at most 500 with
     * "rfc822;", ASCII); NULL for none ("" is refused by smtp_client_submit).
     */
    const char *orcpt;
} smtp_client_rcpt;

/**
 * The version of smtp_client_callbacks this header describes (common.h: versioned structs):
 * 2 added on_reply, 3 on_ready.
 */
#define SMTP_CLIENT_CALLBACKS_VERSION 3

/**
 * Callbacks. Each gets the client first and the user_data given to smtp_client_new last. A
 * NULL callback is a no-op. Each returns 0 to go on or a negative value to fail: the feeding
 * call then returns SMTP_ERR_CALLBACK_FAILURE and the session is failed (sticky).
 * Inside a callback (and a body source) smtp_client_read, smtp_client_write and
 * smtp_client_body_ready return SMTP_ERR_INVALID_STATE, and smtp_client_del must not be
 * called; smtp_client_submit and smtp_client_quit may be.
 */
typedef struct smtp_client_callbacks {
    /**
     * on_rcpt reports the reply to RCPT for recipient `rcpt` (2xx: accepted).
     *
     * In LMTP mode, also the reply after the data for each accepted recipient: then
     * reply->command is SMTP_VERB_DATA or SMTP_VERB_BDAT instead of SMTP_VERB_RCPT. Likewise
     * for a message split by the server's LIMITS RCPTMAX (smtp_client_submit): each accepted
     * recipient gets its transaction's final reply (or DATA's refusal) after its RCPT reply.
     *
     * @param cli        The client.
     * @param rcpt       The recipient, an element of the current message's `rcpts` (its index
     *                   is rcpt - message.rcpts).
     * @param reply      The reply; valid only during the call.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_rcpt)(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *reply,
                   void *user_data);
    /**
     * on_message reports the outcome of the current message.
     *
     * The message (envelope and body) is no longer borrowed; the next message may be submitted
     * from here.
     *
     * @param cli        The client.
     * @param result     The outcome; it and the reply it points to are valid only during the
     *                   call.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_message)(smtp_client *cli, const smtp_client_result *result, void *user_data);
    /**
     * on_starttls says the server answered STARTTLS with 220: start the TLS handshake on the
     * connection now, then call smtp_client_tls_done (smtp_client_want_tls says the same).
     *
     * @param cli        The client.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_starttls)(smtp_client *cli, void *user_data);
    /**
     * on_session_end reports the outcome of the session, once, as soon as it is known.
     *
     * After a refusal the client may still send QUIT: keep calling smtp_client_write until
     * smtp_client_want_close.
     *
     * @param cli        The client.
     * @param result     Why the session ended; it and the reply it points to are valid only
     *                   during the call.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_session_end)(smtp_client *cli, const smtp_client_session_result *result,
                          void *user_data);
    /**
     * on_reply reports the reply to the application's command (smtp_client_command,
     * smtp_client_xclient), and to MAIL and DATA of a transaction opened with
     * smtp_client_mail_from.
     *
     * The next command, or a message, may be sent from here. Since version 2.
     *
     * @param cli        The client.
     * @param reply      The reply, valid only during the call: reply->command is the command's
     *                   verb (NOOP, RSET, VRFY, EXPN, HELP, ETRN, XCLIENT or XFORWARD; MAIL or
     *                   DATA: 354 or a refusal). NULL when an XCLIENT or XFORWARD was not sent
     *                   because the server does not offer it or any of its attributes.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_reply)(smtp_client *cli, const smtp_client_reply *reply, void *user_data);
    /**
     * on_ready says the session is ready for messages and commands: the greeting, the hello,
     * STARTTLS and AUTH went as the settings asked, and smtp_client_caps holds what the
     * server's last EHLO offered.
     *
     * Called each time the session becomes ready: once after the start, and again after an
     * accepted XCLIENT's new hello. A middlebox answers its own client's greeting or EHLO from
     * here (with the capabilities upstream offers); messages and commands given earlier are
     * already on their way. Since version 3.
     *
     * @param cli        The client.
     * @param user_data  The user_data given to smtp_client_new.
     * @return 0 to go on, or a negative value to fail the session (the feeding call returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_ready)(smtp_client *cli, void *user_data);
} smtp_client_callbacks;

/**
 * smtp_client_new creates a client in `*pcli`, waiting for the server's greeting.
 *
 * A macro: smtp_client_new_versioned with the versions of this header
 * (SMTP_CLIENT_CALLBACKS_VERSION, SMTP_CLIENT_SETTINGS_VERSION). See smtp_client_new_versioned.
 */
#define smtp_client_new(pcli, callbacks, settings, mem, user_data)                                 \
    smtp_client_new_versioned((pcli), SMTP_CLIENT_CALLBACKS_VERSION, (callbacks),                  \
                              SMTP_CLIENT_SETTINGS_VERSION, (settings), (mem), (user_data))
/**
 * smtp_client_new_versioned creates a client in `*pcli`, waiting for the server's greeting.
 *
 * Call it through smtp_client_new, which passes the struct versions of this header.
 *
 * Memory, bounded by the settings: the client, its reply text (max_reply_text), its SASL buffer
 * and its reply parser are allocated here. The output queue comes with the first command (512
 * octets) and doubles on demand up to max_output; the buffers of a transaction (its awaited
 * replies, max_recipients + 16 slots of 16 octets, the recipients' flags, a saved reply and
 * the body source's max_body_buffer) with the first message (smtp_client_submit,
 * smtp_client_mail_from), the SASL scratch (max_output) with the first AUTH line, the reply
 * parser's line buffer (max_reply_line) with the first reply line split across reads. All are
 * kept until smtp_client_del, so that a session allocates nothing per message (steady state).
 * An allocation that fails on demand fails the session (SMTP_ERR_NOMEM, fatal, on_session_end
 * with SMTP_CLIENT_END_ERROR), but for a message's buffers: smtp_client_submit then returns
 * SMTP_ERR_NOMEM and the session goes on. With SMTP_CLIENT_PREALLOCATE all are allocated here,
 * at their largest, instead.
 *
 * @code
 * smtp_client_callbacks cb = {.on_message = on_message, .on_session_end = on_session_end};
 * smtp_client_settings s;
 * smtp_client_settings_init(&s);
 * s.helo_name = "client.example.org";
 * smtp_client *cli;
 * int rv = smtp_client_new(&cli, &cb, &s, NULL, app);
 * if (rv < 0) fprintf(stderr, "smtp_client_new: %s\n", smtp_error_text(rv));
 * @endcode
 *
 * @param pcli               Receives the client, or NULL on error (when `pcli` is not NULL).
 * @param callbacks_version  The version of smtp_client_callbacks the caller was compiled with
 *                           (SMTP_CLIENT_CALLBACKS_VERSION).
 * @param callbacks          The callbacks, copied; NULL: none.
 * @param settings_version   The version of smtp_client_settings the caller was compiled with
 *                           (SMTP_CLIENT_SETTINGS_VERSION).
 * @param settings           The settings, copied with their strings and crypto functions;
 *                           NULL: the defaults.
 * @param mem                The allocator (NULL: smtp_mem_default()); it must outlive the
 *                           client.
 * @param user_data          Passed to every callback.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `pcli` is NULL; a version this library lacks; a setting
 *         out of range (a size under its minimum, max_recipients over 100000, a size so
 *         large the block would overflow, auth_max_iterations 0, an unknown `tls` policy);
 *         a helo_name that is NULL or not a domain or address literal (one with U-labels
 *         without idna_to_ascii, or whose A-label form it refused); an unknown flag; an
 *         auth_mech the client does not implement, whose crypto functions are missing, or
 *         whose credential is missing while AUTH is asked for (auth_user set, or
 *         SMTP_CLIENT_AUTH_EXTERNAL; "EXTERNAL" always needs that flag).
 * @retval SMTP_ERR_NOMEM The allocator failed.
 */
SMTP_API int smtp_client_new_versioned(smtp_client **pcli, int callbacks_version,
                                       const smtp_client_callbacks *callbacks, int settings_version,
                                       const smtp_client_settings *settings, const smtp_mem *mem,
                                       void *user_data);

/**
 * smtp_client_del frees the client.
 *
 * Not from inside a callback or a body source.
 *
 * @param cli  The client. NULL is ignored.
 */
SMTP_API void smtp_client_del(smtp_client *cli);

/**
 * smtp_client_read consumes server output `data`/`len`, split anywhere.
 *
 * Pass the bytes as they arrived, not more than one read of the connection gave (the client
 * takes bytes that come in one call for bytes that arrived together). The call may consume
 * less than `len`: when a complete reply leaves the client with output to send while a
 * command it wrote out still awaits a reply (pipelining), or with nothing to wait for. Then
 * send what smtp_client_write gives, let the application act, and feed the rest again, before
 * any byte read later (those bytes arrived before what is sent now). Errors are fatal and
 * sticky (on_session_end has reported SMTP_CLIENT_END_PROTOCOL or _ERROR; every later feeding
 * call returns the same error), except SMTP_ERR_INVALID_ARGUMENT and SMTP_ERR_INVALID_STATE.
 *
 * @code
 * // in[0..got): what one read of the connection gave
 * size_t off = 0;
 * while (off < got) {
 *     smtp_ssize n = smtp_client_read(cli, in + off, got - off);
 *     if (n <= 0) break; // < 0: the session failed; 0: it is over
 *     off += (size_t)n;
 *     flush(cli); // the application's: sends what smtp_client_write gives
 * }
 * @endcode
 *
 * @param cli   The client.
 * @param data  The bytes the server sent, `len` of them. May be NULL when `len` is 0.
 * @param len   The number of bytes at `data`.
 * @return The number of bytes consumed (0 once the session is done), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_PROTO An unsolicited or extra reply (one that arrived before the command
 *         it would answer was written out, in the same read as the reply before it for
 *         example, or when no reply was awaited; a 421 or 221 ends the session cleanly
 *         instead, RFC 5321 3.8); a reply code that cannot answer the awaited command (220 to
 *         EHLO, 354 to MAIL, 334 outside AUTH, a 2xx to DATA: RFC 5321 4.3.2); bytes after the
 *         220 to STARTTLS (an injection, RFC 3207 5); a SASL challenge after the exchange
 *         should be over or that is malformed (not base64; a SCRAM message that breaks
 *         RFC 5802 7 or whose nonce does not begin with the client's); or a SCRAM server
 *         signature that does not verify, or a 235 before it was verified (the server does
 *         not know the password: nothing more is sent, not even QUIT).
 * @retval SMTP_ERR_REPLY_CODE A malformed reply: a line without a valid 2xx-5xx code
 *         (<smtp/reply.h>).
 * @retval SMTP_ERR_REPLY_SEPARATOR A malformed reply: a code followed by a byte other than
 *         SP, '-' or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH A malformed reply: a continuation line with another code.
 * @retval SMTP_ERR_REPLY_TOO_LONG A reply of more than max_reply_lines lines.
 * @retval SMTP_ERR_LINE_TOO_LONG A reply line longer than max_reply_line.
 * @retval SMTP_ERR_BARE_LF A malformed reply: an LF without its CR.
 * @retval SMTP_ERR_BARE_CR A malformed reply: a CR without its LF.
 * @retval SMTP_ERR_NUL A malformed reply: a NUL byte.
 * @retval SMTP_ERR_CALLBACK_FAILURE A callback failed, or a body source
 *         (smtp_client_read_body_fn) or a crypto function (smtp_client_crypto) did.
 * @retval SMTP_ERR_NOMEM A buffer allocated on demand could not be (see
 *         smtp_client_new_versioned): the session failed.
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL, or `data` is NULL with `len` > 0 (not
 *         sticky).
 * @retval SMTP_ERR_INVALID_STATE Called inside a callback or a body source (not sticky).
 */
SMTP_API smtp_ssize smtp_client_read(smtp_client *cli, const char *data,
                                     size_t len) SMTP_WARN_UNUSED;

/**
 * smtp_client_write copies up to `cap` bytes to send into `dest` and returns how many.
 *
 * Bytes are produced on demand: commands as soon as they may be sent, body data as it is
 * pulled from the message's body. A body source that fails while this call pulls it fails the
 * session; the bytes copied before are returned all the same, and the next call gives the
 * sticky error.
 *
 * @param cli   The client.
 * @param dest  Receives the bytes to send. May be NULL when `cap` is 0.
 * @param cap   The room at `dest`, in bytes.
 * @return The number of bytes copied (0 when there is nothing to send now), the sticky error
 *         of a failed session (any fatal error of smtp_client_read), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_CALLBACK_FAILURE A body source (smtp_client_read_body_fn) or a callback
 *         failed, in this call or before.
 * @retval SMTP_ERR_NOMEM The output queue could not grow (see smtp_client_new_versioned):
 *         the session failed.
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL, or `dest` is NULL with `cap` > 0.
 * @retval SMTP_ERR_INVALID_STATE Called inside a callback or a body source.
 */
SMTP_API smtp_ssize smtp_client_write(smtp_client *cli, char *dest, size_t cap) SMTP_WARN_UNUSED;

/**
 * smtp_client_want_read tells whether the session expects or tolerates server bytes.
 *
 * @param cli  The client; may be NULL.
 * @return 1 while it does; 0 during the TLS handshake, once the session is done or has
 *         failed, and for a NULL `cli`.
 */
SMTP_API int smtp_client_want_read(const smtp_client *cli);

/**
 * smtp_client_want_write tells whether smtp_client_write has bytes to give.
 *
 * @param cli  The client; may be NULL.
 * @return 1 when it has; 0 when not, when the session has failed, and for a NULL `cli`.
 */
SMTP_API int smtp_client_want_write(const smtp_client *cli);

/**
 * smtp_client_want_close tells whether the session is over and the connection may be closed.
 *
 * @param cli  The client; may be NULL.
 * @return 1 when the session is over (QUIT answered, 421, a failure, eof) and everything to
 *         send was pulled (a failed session sends nothing more at once): nothing more will be
 *         sent, close the connection. Also 1 for a NULL `cli`; else 0.
 */
SMTP_API int smtp_client_want_close(const smtp_client *cli);

/* smtp_client_message.flags */
/** Deliver to none unless every recipient is accepted (default: deliver to the accepted). */
#define SMTP_CLIENT_MSG_ALL_OR_NOTHING 0x1u
/** Refuse the message (SMTP_CLIENT_UNSUPPORTED) rather than drop DSN parameters. */
#define SMTP_CLIENT_MSG_REQUIRE_DSN 0x2u
/** Refuse the message rather than drop MT-PRIORITY. */
#define SMTP_CLIENT_MSG_REQUIRE_MT_PRIORITY 0x4u
/**
 * Send SMTPUTF8 with MAIL (RFC 6531 3.4) even when no address given so far needs it: for a
 * transaction opened with smtp_client_mail_from whose recipients, added later, may hold UTF-8.
 * Its addresses are then never converted to A-labels (smtp_client_settings.idna_to_ascii).
 */
#define SMTP_CLIENT_MSG_SMTPUTF8 0x8u
/**
 * Send this message with DATA even when the server offers CHUNKING (a proxy whose own client
 * sent DATA relays upstream's 354): as SMTP_CLIENT_NO_CHUNKING for one message. A message with
 * BODY=BINARYMIME still goes with BDAT, which it needs.
 */
#define SMTP_CLIENT_MSG_NO_CHUNKING 0x10u

/**
 * smtp_client_read_body_fn is a body source (smtp_client_message.read_body): it copies up to
 * `cap` octets of the body, the raw message (header, empty line, text, any line ends), into
 * `dest` and returns how many.
 *
 * The engine calls it whenever it has room, with the message as `cli`'s current one.
 * Ready-made sources for a file descriptor and a FILE* are in <smtp/io.h>.
 *
 * @param cli        The client whose current message this is.
 * @param dest       Receives the octets.
 * @param cap        The room at `dest`, in octets (at least 1).
 * @param user_data  smtp_client_message.read_body_data.
 * @return
 *   - > 0: octets copied (at most `cap`; any amount: the engine asks again; more than `cap`
 *     counts as a failure);
 *   - 0: the end of the body;
 *   - SMTP_ERR_AGAIN: no octet ready now: the engine asks again after smtp_client_body_ready;
 *   - another negative value: the body cannot be read. A message cannot be cut short in SMTP,
 *     so the session fails (SMTP_CLIENT_END_ERROR with SMTP_ERR_CALLBACK_FAILURE, the message
 *     TEMPFAIL) and nothing more is sent, not even the end of data: close the connection.
 *     The server never acknowledges a partial body.
 */
typedef smtp_ssize (*smtp_client_read_body_fn)(smtp_client *cli, char *dest, size_t cap,
                                               void *user_data);

/**
 * A message: its envelope and its body. Fill with smtp_client_message_init, then set fields.
 * smtp_client_submit copies the struct; everything it points to (strings, recipients, the
 * body) is borrowed until on_message reports the message. Parameters go only to a server that
 * offers their extension; when one is not offered the message is refused before anything is
 * sent (SMTP_CLIENT_UNSUPPORTED) if the extension is needed for a correct delivery (SMTPUTF8,
 * 8BITMIME, BINARYMIME, REQUIRETLS, DELIVERBY, FUTURERELEASE) or required by a flag, and
 * silently left out otherwise (SIZE, DSN, MT-PRIORITY). SMTPUTF8 is not needed when the only
 * UTF-8 is in U-labels of domains and the settings convert them (idna_to_ascii).
 *
 * The body is sent as it is pulled: for DATA a leading '.' is doubled, bare LF and bare CR
 * become CRLF and a last line without a line end gets one (RFC 5321 4.5.2, 2.3.8), then
 * exactly one CRLF.CRLF; for BDAT bare LF and CR become CRLF, or with BODY=BINARYMIME bytes
 * go unchanged, in chunks of exact sizes, the last one marked LAST (RFC 3030).
 */
typedef struct smtp_client_message {
    /** The reverse-path without angle brackets; "" for the null path "<>". Required. */
    /** @{ */
    const char *sender;
    const smtp_client_rcpt *rcpts; /**< at least one */
    size_t nrcpts;
    /** @} */
    /**
     * The body in memory: `body_len` octets at `body` (NULL with 0: an empty body). Used when
     * read_body is NULL. Unless `size` gives it, the client computes its exact size as
     * transmitted for SIZE= (RFC 1870) when the server offers SIZE.
     */
    /** @{ */
    const char *body;
    size_t body_len;
    /** @} */
    /** A body source instead (see smtp_client_read_body_fn), and its user_data. */
    /** @{ */
    smtp_client_read_body_fn read_body;
    void *read_body_data;
    /** @} */
    /**
     * The body's size as transmitted (RFC 1870 3: CRLF line ends counted, dot-stuffing not),
     * declared with SIZE= and checked against the server's limit. 0: unknown, then no SIZE=
     * is sent for a body source, and the client computes it for a body in memory (a scan of
     * the body; give the size when you know it to spare that).
     */
    uint64_t size;
    /**
     * SMTP_BODY_8BITMIME (RFC 6152) or SMTP_BODY_BINARYMIME (RFC 3030: sent with BDAT, bytes
     * unchanged); SMTP_BODY_NONE (default) or SMTP_BODY_7BIT send no BODY parameter.
     */
    smtp_body body_type;
    smtp_ret ret; /**< DSN RET= (RFC 3461 4.3); SMTP_RET_NONE for none */
    /** DSN ENVID (RFC 3461 4.4), raw (xtext-encoded by the client: 1 to 100 characters once
     * encoded, ASCII; "" is refused by smtp_client_submit); NULL for none. */
    const char *envid;
    /** non-zero: REQUIRETLS (RFC 8689); the session must also use TLS whose server certificate
     * the adapter verified (RFC 8689 4.2: smtp_client_tls_verified), else the message is
     * refused (SMTP_CLIENT_UNSUPPORTED, missing SMTP_CAP_REQUIRETLS) */
    int requiretls;
    int mt_priority_set; /**< non-zero: send MT-PRIORITY=mt_priority (RFC 6710) */
    int mt_priority;     /**< -9..9 */
    /** DELIVERBY (RFC 2852): BY=by_time;R|N[T] when by_mode is not SMTP_BY_NONE. */
    /** @{ */
    smtp_by_mode by_mode;
    int64_t by_time; /**< seconds; > 0 in R mode; within -999999999..999999999 */
    int by_trace;
    /** @} */
    /** FUTURERELEASE (RFC 4865): HOLDFOR=holdfor when non-zero, or HOLDUNTIL=holduntil. */
    uint32_t holdfor;
    const char *holduntil; /**< an RFC 3339 date-time, or NULL */
    unsigned flags;        /**< SMTP_CLIENT_MSG_* */
} smtp_client_message;

/** The version of smtp_client_message this header describes (common.h: versioned structs). */
#define SMTP_CLIENT_MESSAGE_VERSION 1

/**
 * smtp_client_message_init clears `*msg` (no parameter, no flag).
 *
 * @param msg  The message to clear. NULL is ignored.
 */
SMTP_API void smtp_client_message_init(smtp_client_message *msg);

/**
 * smtp_client_submit starts a message.
 *
 * A macro: smtp_client_submit_versioned with SMTP_CLIENT_MESSAGE_VERSION. See
 * smtp_client_submit_versioned.
 */
#define smtp_client_submit(cli, msg)                                                               \
    smtp_client_submit_versioned((cli), SMTP_CLIENT_MESSAGE_VERSION, (msg))
/**
 * smtp_client_submit_versioned starts a message, given the message version the caller uses.
 *
 * Allowed while no message is in progress (before the greeting too, and from on_message); the
 * message is sent when the session is ready. When the server announces LIMITS RCPTMAX
 * (RFC 9422 4.2) below the number of recipients, the message goes as several transactions
 * over the session, the same body each time, each recipient told its transaction's outcome
 * (on_rcpt after the data, as LMTP's); on_message then reports the message once: DELIVERED
 * when some recipient has it, `accepted` and `rejected` over all the transactions, a refused
 * MAIL leaving the recipients after it unattempted (no on_rcpt). A body source cannot be sent
 * twice, nor can SMTP_CLIENT_MSG_ALL_OR_NOTHING hold across transactions: such a message is
 * refused before MAIL (SMTP_CLIENT_UNSUPPORTED, `missing` SMTP_CAP_LIMITS). The envelope is checked here: on any error
 * nothing is sent and nothing is kept. Once it returned 0 the message's outcome comes through
 * on_message only, also when the session fails at once (a body source that fails on its first
 * read). Call it through smtp_client_submit, which passes SMTP_CLIENT_MESSAGE_VERSION.
 *
 * @param cli      The client.
 * @param version  The version of smtp_client_message the caller was compiled with
 *                 (SMTP_CLIENT_MESSAGE_VERSION).
 * @param msg      The message. The struct is copied; what it points to (strings, recipients,
 *                 the body) is borrowed until on_message.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` or `msg` is NULL; an unknown `version`; no sender or
 *         no recipient, or a recipient without an address; more recipients than
 *         max_recipients; `body` NULL with `body_len` > 0 and no `read_body`; a path that is
 *         not valid (smtp_path_parse with the null path allowed for the sender, "Postmaster"
 *         for recipients, UTF-8 allowed; a path too long included); a parameter value out of
 *         range (an empty ENVID or ORCPT, RFC 3461 4.2, 4.4, is one).
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A string (the sender, an address, ENVID, ORCPT, HOLDUNTIL)
 *         holds CR, LF or another control byte.
 * @retval SMTP_ERR_TOO_LONG A MAIL or RCPT line would exceed its limit (512 octets,
 *         RFC 5321 4.5.3.1.4, plus what its parameters allow: see smtp_emit_mail), or would
 *         not fit in max_output.
 * @retval SMTP_ERR_NOMEM No memory for the buffers of a transaction (allocated with the first
 *         message and kept until smtp_client_del); the session goes on, without the message.
 * @retval SMTP_ERR_INVALID_STATE A message is in progress, or the session is ending or over
 *         (smtp_client_quit was called, the session ended or failed).
 */
SMTP_API int smtp_client_submit_versioned(smtp_client *cli, int version,
                                          const smtp_client_message *msg);

/**
 * smtp_client_mail_from opens a transaction whose recipients come one at a time: MAIL with the
 * message's sender and parameters now, each recipient with smtp_client_rcpt_to, then the data
 * with smtp_client_data.
 *
 * A middlebox relays its client's commands this way (each reply is the command's own), an MTA
 * adds recipients as it resolves them. `msg` is the message without its recipients (`rcpts`
 * NULL, `nrcpts` 0): the sender, the parameters, the body or body source (pulled only after
 * smtp_client_data, and only once the server takes the data: a source may answer
 * SMTP_ERR_AGAIN until its bytes arrive). The commands go out as they are given, pipelined when
 * the server offers PIPELINING (MAIL and the recipients given before its reply in one flight);
 * the replies are reported as they arrive: MAIL's and DATA's (354, or the refusal) to
 * on_reply, each recipient's to on_rcpt, and the outcome to on_message, as for
 * smtp_client_submit (which sends a whole envelope the same way). A refused MAIL ends the
 * transaction (on_reply, then on_message once no reply is owed). smtp_client_command(RSET)
 * before the data ends the transaction (on_message: TEMPFAIL without a reply) and sends RSET;
 * smtp_client_quit ends it too. SMTPUTF8 goes with MAIL when the sender needs it or the flag
 * SMTP_CLIENT_MSG_SMTPUTF8 asks for it (with settings.idna_to_ascii, a sender whose UTF-8 is in
 * U-labels only goes in A-label form to a server without SMTPUTF8, and MAIL without it; so do
 * the recipients given so far, and then every later one must have an A-label form);
 * SMTP_CLIENT_MSG_REQUIRE_DSN concerns RET and ENVID
 * (a recipient's NOTIFY and ORCPT are left out when the server lacks DSN). Call it through
 * smtp_client_mail_from, which passes SMTP_CLIENT_MESSAGE_VERSION.
 *
 * @code
 *   smtp_client_message m;
 *   smtp_client_message_init(&m);
 *   m.sender = "a@example.org";
 *   m.read_body = relay_body; // SMTP_ERR_AGAIN until the client's data arrives
 *   m.read_body_data = conn;
 *   smtp_client_mail_from(cli, &m);                  // on_reply: MAIL's reply
 *   smtp_client_rcpt_to(cli, &(smtp_client_rcpt){.address = "b@example.net"}); // on_rcpt
 *   smtp_client_data(cli);                           // on_reply: 354; on_message: the end
 * @endcode
 *
 * @param cli      The client.
 * @param version  The version of smtp_client_message the caller was compiled with
 *                 (SMTP_CLIENT_MESSAGE_VERSION).
 * @param msg      The message without recipients. The struct is copied; what it points to
 *                 (strings, the body) is borrowed until on_message.
 * @return 0 on success, or one of these negative error codes (then nothing is sent or kept):
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` or `msg` is NULL; an unknown `version`; `rcpts` or
 *         `nrcpts` given; no sender; `body` NULL with `body_len` > 0 and no `read_body`; a
 *         sender that is not a path; a parameter value out of range; an unknown flag.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A string (the sender, ENVID, HOLDUNTIL) holds CR, LF or
 *         another control byte.
 * @retval SMTP_ERR_TOO_LONG The MAIL line would exceed its limit, or would not fit in
 *         max_output.
 * @retval SMTP_ERR_NOMEM No memory for the recipients' table (max_recipients entries,
 *         allocated at the first call and kept until smtp_client_del) or for the buffers of a
 *         transaction (as smtp_client_submit).
 * @retval SMTP_ERR_INVALID_STATE A message is in progress, or the session is ending or over.
 */
SMTP_API int smtp_client_mail_from_versioned(smtp_client *cli, int version,
                                             const smtp_client_message *msg);
/** See smtp_client_mail_from_versioned. */
#define smtp_client_mail_from(cli, msg)                                                            \
    smtp_client_mail_from_versioned((cli), SMTP_CLIENT_MESSAGE_VERSION, (msg))

/**
 * smtp_client_rcpt_to adds a recipient to a transaction opened with smtp_client_mail_from.
 *
 * RCPT goes out at once when the session allows it (pipelined after MAIL with PIPELINING, else
 * after the previous reply); its reply comes to on_rcpt with `rcpt` pointing to the engine's
 * copy of the struct.
 *
 * @param cli   The client.
 * @param rcpt  The recipient. The struct is copied; its strings (address, ORCPT) are borrowed
 *              until on_rcpt has reported its reply (or on_message the transaction's end).
 * @return 0 on success, or one of these negative error codes (then nothing is sent or kept):
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` or `rcpt` is NULL; no address, or one that is not a
 *         path ("Postmaster" allowed); a DSN value out of range; the transaction has
 *         max_recipients recipients already.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT The address or ORCPT holds a control byte.
 * @retval SMTP_ERR_UTF8 The address needs SMTPUTF8, neither the sender nor the flag
 *         SMTP_CLIENT_MSG_SMTPUTF8 put it on MAIL, and it cannot go in A-label form instead
 *         (no settings.idna_to_ascii, a UTF-8 local part, a domain it refused, an A-label form
 *         too long).
 * @retval SMTP_ERR_TOO_LONG The RCPT line would exceed its limit or max_output.
 * @retval SMTP_ERR_INVALID_STATE No transaction opened with smtp_client_mail_from, or its data
 *         was asked for already (smtp_client_data), or it has failed (its MAIL was refused:
 *         on_message will report it), or the session failed.
 */
SMTP_API int smtp_client_rcpt_to(smtp_client *cli, const smtp_client_rcpt *rcpt);

/**
 * smtp_client_data ends the recipients of a transaction opened with smtp_client_mail_from: the
 * data follows (DATA, or BDAT with CHUNKING) once a recipient is accepted.
 *
 * With PIPELINING, DATA goes out at once, in the flight of the last recipients; its reply
 * comes to on_reply (354, then the body is sent; or a refusal). When every recipient was
 * refused, nothing more is sent (an open transaction is closed with RSET) and on_message
 * reports the message, with the first refusal; a 354 that arrives anyway is answered with an
 * empty message (RFC 2920 3.1). With SMTP_CLIENT_MSG_ALL_OR_NOTHING the data waits for every
 * recipient's reply. It may be called from on_rcpt (a relay that knows its last recipient
 * when that recipient's reply comes): when that reply was the last and every recipient was
 * refused, on_message reports the message before this call returns, still inside on_rcpt.
 *
 * @param cli  The client.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE No open transaction of smtp_client_mail_from, no recipient
 *         added, the transaction failed (its MAIL was refused), or the session failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message, called from inside this call because every
 *         recipient had been refused already, failed.
 */
SMTP_API int smtp_client_data(smtp_client *cli);

/** The command smtp_client_data_as sends the data with. */
typedef enum smtp_client_data_command {
    SMTP_CLIENT_DATA_AUTO = 0, /**< as smtp_client_data: BDAT with CHUNKING (but see the flags) */
    SMTP_CLIENT_DATA_DATA,     /**< DATA (a BODY=BINARYMIME message still goes with BDAT) */
    SMTP_CLIENT_DATA_BDAT      /**< BDAT when the server offers CHUNKING, else DATA */
} smtp_client_data_command;

/**
 * smtp_client_data_as is smtp_client_data with the data's command chosen now, whatever the
 * settings' SMTP_CLIENT_NO_CHUNKING and the message's SMTP_CLIENT_MSG_NO_CHUNKING say.
 *
 * A proxy sends upstream the command its own client sent (smtp_server_decision_command in
 * on_data_start): DATA, so that the 354 its client gets is upstream's; BDAT, so that the whole
 * message goes in the flight of its envelope, with no 354 to wait for.
 *
 * @param cli  The client.
 * @param how  SMTP_CLIENT_DATA_AUTO, SMTP_CLIENT_DATA_DATA or SMTP_CLIENT_DATA_BDAT.
 * @return As smtp_client_data, or:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL, or `how` is not one of the three.
 */
SMTP_API int smtp_client_data_as(smtp_client *cli, smtp_client_data_command how);

/**
 * smtp_client_command sends a command of the application's between messages: NOOP, RSET,
 * VRFY, EXPN, HELP or ETRN (RFC 5321 4.1.1, RFC 1985).
 *
 * The command goes out once the session is ready (after the greeting, EHLO, STARTTLS and
 * AUTH), and its reply, whatever its code, comes to on_reply; a 3xx reply is a protocol
 * violation, and a 421 ends the session instead (on_session_end). One command at a time: call
 * the next one from on_reply or after it. A message submitted while the command is pending
 * waits for its reply, as does QUIT. Monitoring probes (NOOP, VRFY) and a proxy relaying its
 * client's commands use it; the engine sends RSET by itself after a failed transaction. RSET is
 * also allowed during a transaction opened with smtp_client_mail_from whose data has not
 * begun: it ends the transaction (on_message: TEMPFAIL, no reply; from inside this call when
 * no reply is owed) and goes out once the transaction's owed replies are in.
 *
 * @param cli   The client.
 * @param verb  SMTP_VERB_NOOP, SMTP_VERB_RSET, SMTP_VERB_VRFY, SMTP_VERB_EXPN, SMTP_VERB_HELP
 *              or SMTP_VERB_ETRN.
 * @param arg   The command's argument, NUL-terminated, copied; NULL for none.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL; another verb; an argument for RSET, none
 *         for VRFY, EXPN or ETRN (smtp_emit_command's grammar).
 * @retval SMTP_ERR_UNSAFE_ARGUMENT The argument holds CR, LF or another control byte.
 * @retval SMTP_ERR_TOO_LONG The line would exceed 512 octets (RFC 5321 4.5.3.1.4).
 * @retval SMTP_ERR_INVALID_STATE A command is pending, a message is in progress (but for RSET
 *         ending a transaction of smtp_client_mail_from before its data), or the session is
 *         ending or over.
 * @retval SMTP_ERR_CALLBACK_FAILURE RSET ended a transaction with no reply owed, and
 *         on_message, called from inside this call, failed.
 */
SMTP_API int smtp_client_command(smtp_client *cli, smtp_verb verb, const char *arg);

/**
 * An attribute of Postfix's XCLIENT or XFORWARD (smtp_client_xclient): its name as Postfix
 * writes it ("NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT", "IDENT",
 * "SOURCE"...) and its value, raw (the client xtext-encodes it); "[UNAVAILABLE]" and
 * "[TEMPUNAVAIL]" are sent as they are. This struct will not grow.
 */
typedef struct smtp_client_xattr {
    const char *name;  /**< the attribute's name (smtp_caps_xclient's SMTP_XATTR_* names) */
    const char *value; /**< its raw value, NUL-terminated */
} smtp_client_xattr;

/**
 * smtp_client_xclient sends Postfix's XCLIENT or XFORWARD: a proxy or content filter tells a
 * server that trusts it (Postfix's smtpd_authorized_xclient_hosts) who the real client is.
 *
 * Like smtp_client_command it goes out between messages once the session is ready, one
 * command at a time, and on_reply reports the reply. Only the attributes the server's EHLO
 * announced for that command are sent (Postfix refuses the whole command for an unknown one);
 * when it announced none of them, or not the command at all, nothing is sent and on_reply is
 * called with a NULL reply (from inside this call when the session is already ready). XCLIENT
 * accepted (220) starts the session over as for a new client: the client sends EHLO again
 * (and AUTH when configured; TLS stays) and the capabilities are those of the new EHLO reply.
 * XFORWARD (250) describes the next transaction only (Postfix forgets it after each one): send
 * it before each message.
 *
 * @param cli    The client.
 * @param verb   SMTP_VERB_XCLIENT or SMTP_VERB_XFORWARD.
 * @param attrs  The attributes, `attrs[0..n)`: copied, their values xtext-encoded.
 * @param n      How many attributes `attrs` holds; at least 1.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL; another verb; `n` 0 or `attrs` NULL; an
 *         attribute with a NULL name or value, or a name libsmtp does not know.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A value holds a control byte (C0 or DEL; other bytes are
 *         xtext-encoded as "+HH").
 * @retval SMTP_ERR_TOO_LONG The line would exceed 512 octets (RFC 5321 4.5.3.1.4).
 * @retval SMTP_ERR_INVALID_STATE As smtp_client_command.
 * @retval SMTP_ERR_CALLBACK_FAILURE The server does not offer the command or any of the
 *         attributes, and on_reply, called from inside this call with a NULL reply, failed:
 *         the session has failed.
 */
SMTP_API int smtp_client_xclient(smtp_client *cli, smtp_verb verb, const smtp_client_xattr *attrs,
                                 size_t n);

/**
 * smtp_client_proxy_header sends a HAProxy PROXY protocol header (proxy-protocol.txt) as the
 * first octets of the connection.
 *
 * It tells a server behind a middlebox built on libsmtp (one that trusts it: Postfix's
 * smtpd_upstream_proxy_protocol, smtp_server's SMTP_SERVER_PROXY) who the real client is.
 * Call it once, before the first smtp_client_write and smtp_client_read; the header is queued
 * before anything else and awaits no reply (the client still waits for the greeting).
 * Version 1 sends "PROXY TCP4 src dst sport dport" CRLF (TCP6 for IPv6); version 2 the
 * 12-octet signature, version 2 with the PROXY command, TCP over IPv4 or IPv6, the length,
 * then the addresses and ports in network order (no TLV). Both addresses NULL and both ports
 * 0 say the origin is unknown: "PROXY UNKNOWN" CRLF, or version 2 with the LOCAL command and
 * family UNSPEC (as HAProxy sends it): the server keeps the connection's own endpoints.
 *
 * @param cli       The client.
 * @param version   1 (text) or 2 (binary).
 * @param src_addr  The real client's address as NUL-terminated text: an IPv4 dotted quad
 *                  (TCP4) or IPv6 (RFC 4291 2.2, sent in RFC 5952's form: TCP6); NULL with
 *                  `dst_addr` NULL for an unknown origin.
 * @param src_port  The real client's port, 0..65535 (0 without addresses).
 * @param dst_addr  The address the real client connected to, of the same family as
 *                  `src_addr`; NULL with `src_addr` NULL.
 * @param dst_port  The port the real client connected to, 0..65535 (0 without addresses).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL; a version other than 1 and 2; an address
 *         that is not IPv4 or IPv6 text; addresses of different families, or one NULL and not
 *         the other; a port over 65535, or not 0 without addresses.
 * @retval SMTP_ERR_INVALID_STATE A header was already queued, an octet was already written or
 *         read, or the session is over; the session runs over implicit TLS (SMTP_CLIENT_TLS:
 *         the header goes before the handshake, in plaintext, so the adapter writes it
 *         itself).
 * @retval SMTP_ERR_NOMEM No memory for the output queue's first 512 octets (nothing queued).
 */
SMTP_API int smtp_client_proxy_header(smtp_client *cli, int version, const char *src_addr,
                                      unsigned src_port, const char *dst_addr, unsigned dst_port);

/**
 * smtp_client_set_helo changes the name the client gives in its next hellos (EHLO, LHLO, or
 * HELO after a refused EHLO), in place of settings.helo_name.
 *
 * A proxy gives upstream its own client's name this way in the EHLO that follows an accepted
 * XCLIENT (Postfix records the name of that EHLO, not XCLIENT's HELO attribute). A hello
 * already sent is not changed.
 *
 * @param cli   The client.
 * @param name  A domain name or an address literal ("[192.0.2.1]"), at most 255 octets,
 *              NUL-terminated, copied; U-labels go in their A-label form (settings.idna_to_ascii).
 * @return 0 on success, or one of these negative error codes (then nothing changes):
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` or `name` is NULL, or `name` is not a domain name or
 *         an address literal.
 * @retval SMTP_ERR_UTF8 `name` has U-labels and settings.idna_to_ascii is NULL or refused it.
 * @retval SMTP_ERR_NOMEM No memory for the name (SMTP_MAX_DOMAIN + 1 octets, allocated at the
 *         first call and kept until smtp_client_del).
 * @retval SMTP_ERR_INVALID_STATE The session is over or failed.
 */
SMTP_API int smtp_client_set_helo(smtp_client *cli, const char *name);

/**
 * smtp_client_body_ready tells the client that the body source of the current message, which
 * last returned SMTP_ERR_AGAIN, has octets again.
 *
 * The engine pulls them as it has room, from inside this call too.
 *
 * @param cli  The client.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE No message in progress, inside a callback or a body source,
 *         or the session is over or has failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE Pulling failed the session: the body source failed (or a
 *         callback the client ran as it went on did).
 */
SMTP_API int smtp_client_body_ready(smtp_client *cli);

/**
 * smtp_client_quit asks the client to send QUIT once no message is in progress (now, if
 * none).
 *
 * A transaction opened with smtp_client_mail_from whose data has not begun ends here
 * (on_message: TEMPFAIL, no reply, once its owed replies are in); QUIT closes it at the server.
 *
 * @param cli  The client.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE The session is already ending or over (QUIT was already
 *         asked for, the session ended or failed).
 * @retval SMTP_ERR_CALLBACK_FAILURE The client went on producing output at once and a body
 *         source (or a callback it ran) failed, or on_message, reporting an open transaction
 *         from inside this call, failed: the session has failed.
 */
SMTP_API int smtp_client_quit(smtp_client *cli);

/**
 * smtp_client_eof tells the client the server closed the connection.
 *
 * Unless the session was done, it ends with SMTP_CLIENT_END_CLOSED and the message in
 * progress fails temporarily; nothing more is sent.
 *
 * @param cli  The client.
 * @return 0 on success (also when the session was done or had failed otherwise than by a
 *         callback), or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message or on_session_end failed, or the session had
 *         already failed by a callback (sticky).
 */
SMTP_API int smtp_client_eof(smtp_client *cli);

/**
 * smtp_client_want_tls tells whether the adapter must now run the TLS handshake.
 *
 * That is when the server has accepted STARTTLS with 220: no byte may be read or written in
 * plaintext until smtp_client_tls_done.
 *
 * @param cli  The client; may be NULL.
 * @return 1 when the handshake is due; else 0 (also for a failed session and a NULL `cli`).
 */
SMTP_API int smtp_client_want_tls(const smtp_client *cli);

/**
 * smtp_client_tls_done reports the end of the TLS handshake.
 *
 * With `ok` non-zero the session goes on over TLS: the capabilities are forgotten and EHLO is
 * sent again (RFC 3207 4.2); with `ok` 0 the session ends (SMTP_CLIENT_END_TLS_FAILED, the
 * message in progress TEMPFAIL) and nothing more is sent.
 *
 * @param cli  The client.
 * @param ok   Non-zero when the handshake succeeded, 0 when it failed.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE No handshake was asked for (smtp_client_want_tls is 0), or
 *         the session has failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE With `ok` 0: on_message or on_session_end failed.
 */
SMTP_API int smtp_client_tls_done(smtp_client *cli, int ok);

/**
 * smtp_client_tls_verified tells the client whether the server's certificate was verified
 * (its chain to a trusted CA and its name against the host, RFC 8689 4.2).
 *
 * Until then the TLS is taken as unverified. Messages with REQUIRETLS are sent only over
 * verified TLS; other messages, STARTTLS and AUTH do not depend on it. Call it once the
 * handshake is done: after STARTTLS before or after smtp_client_tls_done(cli, 1); with
 * implicit TLS (SMTP_CLIENT_TLS) the application's, any time before the first message
 * (smtp_tls_io_filter_report makes libsmtp's TLS filter call it).
 *
 * @param cli       The client.
 * @param verified  Non-zero: the certificate verified; 0 takes it back.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE The session neither runs over TLS nor waits for its
 *         handshake: nothing to verify.
 */
SMTP_API int smtp_client_tls_verified(smtp_client *cli, int verified);

/** What the client is waiting for (smtp_client_timeout). */
typedef enum smtp_client_wait {
    SMTP_CLIENT_WAIT_NONE = 0,   /**< for the application or the adapter, or done: no timer */
    SMTP_CLIENT_WAIT_GREETING,   /**< the 220 greeting */
    SMTP_CLIENT_WAIT_COMMAND,    /**< the reply to EHLO, STARTTLS, AUTH, RSET, QUIT... */
    SMTP_CLIENT_WAIT_MAIL,       /**< the reply to MAIL */
    SMTP_CLIENT_WAIT_RCPT,       /**< the reply to RCPT */
    SMTP_CLIENT_WAIT_DATA,       /**< the 354 to DATA */
    SMTP_CLIENT_WAIT_DATA_BLOCK, /**< sending body data (or the reply to a BDAT chunk) */
    SMTP_CLIENT_WAIT_DATA_END    /**< the reply after the end of data or to BDAT LAST */
} smtp_client_wait;

/**
 * smtp_client_timeout says what the client waits for now, and the timeout that applies.
 *
 * The adapter re-arms its timer when the value returned changes after a read or write
 * (RFC 5321 4.5.3.2: each timeout covers one wait); the engine never reads a clock.
 *
 * @param cli  The client; may be NULL (then SMTP_CLIENT_WAIT_NONE).
 * @param ms   If not NULL, receives the timeout of that wait in milliseconds, from the
 *             settings (0: none).
 * @return What the client waits for; SMTP_CLIENT_WAIT_NONE when no timer applies (waiting for
 *         the application or the adapter, during the TLS handshake, once the session is done
 *         or has failed).
 */
SMTP_API smtp_client_wait smtp_client_timeout(const smtp_client *cli, uint32_t *ms);

/**
 * smtp_client_timeout_expired tells the client the timeout of the current wait expired.
 *
 * The session ends (SMTP_CLIENT_END_TIMEOUT), the message in progress fails temporarily and
 * nothing more is sent.
 *
 * @param cli  The client.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `cli` is NULL.
 * @retval SMTP_ERR_INVALID_STATE The session is done or has failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message or on_session_end failed.
 */
SMTP_API int smtp_client_timeout_expired(smtp_client *cli);

/** Whether a session may take another message (smtp_client_reuse). */
typedef enum smtp_client_reuse_state {
    /** Close it: the session is over, failing or ending (QUIT asked), or a reuse limit was
     *  reached (then call smtp_client_quit). */
    SMTP_CLIENT_REUSE_NO = 0,
    SMTP_CLIENT_REUSE_YES,   /**< give it the next message */
    SMTP_CLIENT_REUSE_PROBE, /**< give it the next message: RSET goes first (a liveness probe) */
    SMTP_CLIENT_REUSE_BUSY   /**< a message or a command is in progress: not now */
} smtp_client_reuse_state;

/**
 * smtp_client_reuse tells whether a session may take another message, for a connection cache.
 *
 * The engine reads no clock: the adapter gives the times it measured. NO when the session is
 * over or ending, or reuse_max_messages messages were reported, or `age_ms` reached
 * reuse_max_age, or `idle_ms` reached reuse_max_idle; the connection should be closed (QUIT
 * while the session is open). PROBE when `idle_ms` reached reuse_probe_idle: from then on the
 * next message is preceded by RSET, and MAIL waits for its 2xx. A probe that fails (no reply,
 * the connection lost, a refusal) ends the session, and the message is reported with
 * SMTP_CLIENT_RESULT_NOT_SENT: give it to another connection. A session that has not reached
 * its greeting yet is YES (a message given now waits for it).
 *
 * @code
 *   // before giving a cached connection its next message
 *   switch (smtp_client_reuse(cli, now - last_used, now - opened)) {
 *   case SMTP_CLIENT_REUSE_YES:
 *   case SMTP_CLIENT_REUSE_PROBE: smtp_client_submit(cli, &msg); break;
 *   case SMTP_CLIENT_REUSE_NO: smtp_client_quit(cli); break; // and open another
 *   case SMTP_CLIENT_REUSE_BUSY: break;                      // try another
 *   }
 * @endcode
 *
 * @param cli      The client; may be NULL (then NO).
 * @param idle_ms  Milliseconds since the session's last message (or command) ended, or since
 *                 it started when it had none.
 * @param age_ms   Milliseconds since the session started (the connection was made).
 * @return What to do with the session (smtp_client_reuse_state).
 */
SMTP_API smtp_client_reuse_state smtp_client_reuse(smtp_client *cli, uint64_t idle_ms,
                                                   uint64_t age_ms);

/**
 * smtp_client_tls tells whether the session runs over TLS.
 *
 * @param cli  The client; may be NULL.
 * @return 1 when it does: from the start (SMTP_CLIENT_TLS, implicit TLS) or since
 *         smtp_client_tls_done(cli, 1) after STARTTLS; else 0 (0 for a NULL `cli`).
 */
SMTP_API int smtp_client_tls(const smtp_client *cli);

/**
 * smtp_client_caps returns the capabilities of the server's last EHLO (or LHLO) reply.
 *
 * They are empty before it, after HELO, and after STARTTLS (or an accepted XCLIENT) until the
 * new EHLO reply.
 *
 * @param cli  The client; may be NULL.
 * @return The capabilities, valid while `cli` is; NULL for a NULL `cli`.
 */
SMTP_API const smtp_caps *smtp_client_caps(const smtp_client *cli);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CLIENT_H */
