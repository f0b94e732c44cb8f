/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the server session engine: a sans-I/O SMTP (RFC 5321) and LMTP (RFC 2033) server
 * protocol engine.
 *
 * The engine holds one connection's conversation. The adapter (the code that owns the socket,
 * the clock and TLS) feeds it the bytes the client sent and pulls the bytes to send back; the
 * engine never reads, writes, sleeps or looks at a clock. The application keeps every decision
 * (who may connect, which senders and recipients are accepted, where the message goes) through
 * callbacks that answer at once or later (SMTP_SERVER_DEFER, then smtp_server_reply).
 *
 *   smtp_server_settings s;
 *   smtp_server_settings_init(&s);
 *   s.hostname = "mx.example.org";
 *   smtp_server *srv;
 *   smtp_server_new(&srv, &callbacks, &s, NULL, app);
 *   smtp_server_start(srv);                       // decides and queues the greeting
 *   loop:
 *     n = smtp_server_read(srv, buf, len);        // n < 0: fatal; else keep buf[n..len) for later
 *     smtp_server_output_delay(srv) -> a timer first (after too many errors)
 *     m = smtp_server_write(srv, out, sizeof out);  // send out[0..m)
 *     smtp_server_want_tls(srv) -> write all, TLS handshake, smtp_server_tls_done(srv, ok)
 *     smtp_server_want_close(srv) -> close the socket
 *   smtp_server_eof(srv);                         // the client went away
 *   smtp_server_del(srv);
 *
 * Protocol errors of the client are not errors of the engine: it answers them (500, 501, 503,
 * 555...). Negative returns are the caller's misuse or a fatal condition (memory, a failed
 * callback) and are sticky for the feeding calls.
 *
 * Pipelined deferral (settings.max_pending above 1). An application that decides after a round
 * trip, a proxy above all, keeps its client's PIPELINING (RFC 2920): while the decision of a
 * MAIL or a RCPT is deferred, the engine reads on, and runs the policy callbacks of the RCPT,
 * DATA and BDAT commands the client sent in the same group at once, each as if the decisions
 * before it will be accepted (on_rcpt's index counts the recipients still pending). Each
 * decision has an id (smtp_server_decision, in its callback) and is answered with
 * smtp_server_reply_to, in any order. The replies go out in command order, an answer waiting
 * in the engine for those before it, and each is the reply a server reading one command at a
 * time gives: the RCPTs after a refused MAIL get 503 5.5.1 and a DATA or BDAT without an
 * accepted recipient 554 5.5.1 (503 without MAIL), whatever the application answered them; an
 * on_data_start that accepted then gets on_message_abort SMTP_SERVER_ABORT_NO_RECIPIENTS (no
 * content follows, nothing is acknowledged). DATA and BDAT end the group: nothing after them
 * is read, the content and a BDAT's chunk included, until they are answered and judged; then
 * the content comes to on_data as for a DATA read in turn (SMTP_SERVER_CHUNK_AHEAD lets a
 * BDAT's chunk come early). Every other command (EHLO, RSET,
 * MAIL, NOOP, QUIT, STARTTLS, AUTH, VRFY...) waits unread until every decision before it was
 * answered. The group is bounded: at most max_pending decisions and commands waiting, and
 * only while the output queue has room for all their replies; then reading stops until an
 * answer comes.
 *
 * @code
 * // A proxy: each command goes upstream (<smtp/client.h>) as it is read, so the client's
 * // MAIL, RCPTs and DATA leave in one upstream flight; upstream's replies answer them.
 * static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
 * {
 *     struct relay *r = ud;
 *     r->mail_id = smtp_server_decision(srv);
 *     smtp_client_mail_from(r->up, &r->msg);            // its sender from m->path
 *     return SMTP_SERVER_DEFER;
 * }
 * static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
 * {
 *     struct relay *r = ud;
 *     r->rcpt_id[r->nrcpt++] = smtp_server_decision(srv);
 *     smtp_client_rcpt_to(r->up, &r->rcpt);             // its address from rc->path
 *     return SMTP_SERVER_DEFER;
 * }
 * // Later, from the client engine's on_reply (MAIL) and on_rcpt (each RCPT):
 * smtp_server_reply_to(srv, r->mail_id, reply->code, enhanced, text, text_len);
 * @endcode
 */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H

#include <smtp/command.h>
#include <smtp/common.h>
#include <smtp/data.h>
#include <smtp/params.h>
#include <smtp/path.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The opaque server session. */
typedef struct smtp_server smtp_server;

/**
 * A policy callback returns SMTP_SERVER_DEFER to answer later with smtp_server_reply (after a
 * database or DNS lookup). Until then the engine processes no later input: smtp_server_read
 * returns having consumed the bytes up to the end of the command (or of the message) that
 * asked, and smtp_server_want_read is 0. With settings.max_pending above 1, a deferred MAIL
 * or RCPT lets the RCPT, DATA and BDAT of the client's group be read ahead (pipelined
 * deferral, above).
 */
#define SMTP_SERVER_DEFER 2

/** Extensions advertised in the EHLO reply (smtp_server_settings.extensions). */
/** @{ */
#define SMTP_SERVER_EXT_PIPELINING 0x0001u          /**< RFC 2920 */
#define SMTP_SERVER_EXT_SIZE 0x0002u                /**< RFC 1870: "SIZE n" (max_message_size) */
#define SMTP_SERVER_EXT_8BITMIME 0x0004u            /**< RFC 6152 */
#define SMTP_SERVER_EXT_SMTPUTF8 0x0008u            /**< RFC 6531 */
#define SMTP_SERVER_EXT_CHUNKING 0x0010u            /**< RFC 3030: BDAT */
#define SMTP_SERVER_EXT_BINARYMIME 0x0020u          /**< RFC 3030; only with CHUNKING */
#define SMTP_SERVER_EXT_DSN 0x0040u                 /**< RFC 3461 */
#define SMTP_SERVER_EXT_ENHANCEDSTATUSCODES 0x0080u /**< RFC 2034: then every reply has one */
#define SMTP_SERVER_EXT_STARTTLS 0x0100u            /**< RFC 3207; never over TLS */
#define SMTP_SERVER_EXT_AUTH                                                                       \
    0x0200u /**< RFC 4954; over TLS only unless SMTP_SERVER_AUTH_PLAINTEXT                         \
             */
#define SMTP_SERVER_EXT_REQUIRETLS 0x0400u  /**< RFC 8689; over TLS only */
#define SMTP_SERVER_EXT_DELIVERBY 0x0800u   /**< RFC 2852: "DELIVERBY [deliverby_min]" */
#define SMTP_SERVER_EXT_MT_PRIORITY 0x1000u /**< RFC 6710: "MT-PRIORITY [mt_priority_profile]" */
#define SMTP_SERVER_EXT_LIMITS 0x2000u      /**< RFC 9422: "LIMITS RCPTMAX=n MAILMAX=n" */
/**
 * RFC 4865: "FUTURERELEASE interval date-time" (settings future_release_interval and
 * future_release_until, both required): MAIL accepts HOLDFOR and HOLDUNTIL. Since settings
 * version 2.
 */
#define SMTP_SERVER_EXT_FUTURERELEASE 0x4000u
/** RFC 7293: RCPT accepts RRVS. Since settings version 2. */
#define SMTP_SERVER_EXT_RRVS 0x8000u
#define SMTP_SERVER_EXT_ALL 0xffffu
/** @} */

/* Behaviour flags (smtp_server_settings.flags). */
/**
 * LMTP (RFC 2033): LHLO instead of HELO/EHLO, one reply per accepted recipient after data —
 * also when the engine refuses the message (too big, a bare LF/CR, a refused BDAT LAST).
 */
#define SMTP_SERVER_LMTP 0x01u
/** The connection is already encrypted (implicit TLS, RFC 8314): no STARTTLS, AUTH allowed. */
#define SMTP_SERVER_TLS 0x02u
/** Offer and accept AUTH without TLS (dangerous: passwords in clear text). */
#define SMTP_SERVER_AUTH_PLAINTEXT 0x04u
/**
 * Do not close the connection when bytes follow STARTTLS before the handshake (they are still
 * never consumed: the adapter must drop them). The default closes with 421 (CVE-2011-0411).
 */
#define SMTP_SERVER_KEEP_TLS_INJECTION 0x08u
/**
 * Expect a HAProxy PROXY protocol header (version 1 or 2) before anything else: the greeting
 * waits for it, on_proxy reports it, and a malformed one closes the connection without a
 * reply. Only for listeners behind a proxy: a direct client could forge its address.
 */
#define SMTP_SERVER_PROXY 0x10u
/**
 * Enforce RFC 2920 command synchronization (as Postfix and Exim do): a client that sends
 * anything before the reply it must wait for was written gets "554 5.5.0 Error: SMTP protocol
 * synchronization" and the connection closes. It must wait for the greeting, for the reply to
 * every command that ends a group (every command but RSET, MAIL, RCPT, BDAT and XFORWARD;
 * every command at all when PIPELINING was not negotiated by EHLO/LHLO) and for each 334
 * challenge of AUTH. "Written" means pulled by smtp_server_write: bytes fed while any of that
 * reply is still in the engine's output queue (or not yet decided) are a violation. An adapter
 * using this flag must therefore write out all pending output before it feeds bytes it read
 * after that output was produced. Bytes offered to smtp_server_read while such a reply is
 * still being decided (a deferred on_connect, on_helo...) are not consumed, as always, but
 * remembered: once the decision is made, the next read with input is a violation.
 */
#define SMTP_SERVER_STRICT_PIPELINING 0x20u
/**
 * Allocate every buffer in smtp_server_new at its largest (the output queue at max_output, the
 * decoding buffer, the command line buffer) instead of on demand: nothing is allocated
 * afterwards, and SMTP_ERR_NOMEM can come from smtp_server_new only (systems that reserve
 * memory up front; tests that check it). An idle session then costs about max_output +
 * 2 * max_line octets more; with AUTH (whose decoding buffer is allocated at _new anyway)
 * about max_output + max_auth_line more. With SMTP_SERVER_ENVELOPE the envelope's buffers too:
 * about (max_recipients + 1) * (max_line + 64) octets. With max_pending above 1 the slots of
 * commands read ahead too: about 520 * max_pending octets.
 */
#define SMTP_SERVER_PREALLOCATE 0x40u
/**
 * Keep the envelope for on_message_end (smtp_server_message.sender and .rcpts) and the name
 * of the accepted HELO/EHLO/LHLO (smtp_server_helo): the hello's name and the path and
 * parameters of MAIL and RCPT are copied as each command is read (so that a deferred decision
 * needs nothing more of the caller's input) and kept once the application accepts it. The
 * buffers grow on demand to the largest transaction seen and are kept (nothing is allocated
 * per message once they are large enough). Off by default: an application that keeps what
 * on_mail and on_rcpt report needs no copy.
 */
/** @{ */
#define SMTP_SERVER_ENVELOPE 0x80u
/** @} */
/**
 * max_message_size is advertised (SIZE) and checked against a MAIL's SIZE= (552 5.3.4), but a
 * message whose content goes over it is not cut: it is delivered whole and the application
 * decides (a proxy relays its upstream's limit and lets upstream refuse the message, so that
 * the session goes on as it would with upstream itself).
 */
/** @{ */
#define SMTP_SERVER_SIZE_ADVISORY 0x100u
/** @} */
/**
 * With settings.max_pending above 1: the chunk of a BDAT read ahead whose on_data_start
 * accepted it (at once, or later with smtp_server_reply_to) comes to on_data as it arrives,
 * before the decisions of the MAIL and RCPTs before it are answered, instead of waiting
 * unread for them. A proxy then sends its client's whole group, the message included, in one
 * flight upstream (MAIL, RCPT, BDAT LAST and the chunk), as a client that pipelines BDAT does;
 * smtp_server_decision_chunk tells on_data_start the chunk's size and whether it is the last.
 * Only the first chunk of a message is read ahead (a BDAT ends the group). If the engine then
 * refuses the BDAT (no recipient was accepted, or MAIL was refused: 554 or 503 5.5.1), the
 * content already given is not a message: on_message_abort SMTP_SERVER_ABORT_NO_RECIPIENTS
 * follows as for any acceptance read ahead, and the rest of the chunk is read and dropped.
 * on_message_end still comes only once the BDAT was judged, with the whole size.
 */
/** @{ */
#define SMTP_SERVER_CHUNK_AHEAD 0x200u
#define SMTP_SERVER_FLAGS_ALL 0x3ffu
/** @} */

/**
 * Trust granted to the peer (smtp_server_settings.trust, smtp_server_set_trust): it may send
 * Postfix's XCLIENT (to impersonate the client it proxies) or XFORWARD (to pass on the
 * original client's attributes). Grant it only to your own proxies and content filters.
 * Untrusted peers get 550 5.7.0 and the commands are not advertised.
 */
/** @{ */
#define SMTP_SERVER_TRUST_XCLIENT 0x1u
#define SMTP_SERVER_TRUST_XFORWARD 0x2u
#define SMTP_SERVER_TRUST_ALL 0x3u
/** @} */

/** The longest identity an AUTH exchange or XCLIENT LOGIN may establish, in octets. */
#define SMTP_SERVER_MAX_IDENTITY 255
/** The longest SASL challenge (raw octets, before base64) smtp_server_auth_challenge sends. */
#define SMTP_SERVER_MAX_CHALLENGE 1024

/**
 * Settings. Fill with smtp_server_settings_init, then change fields. Strings are copied by
 * smtp_server_new (they need not outlive the call).
 */
typedef struct smtp_server_settings {
    /**
     * The server's name, first word of the greeting and of the EHLO reply: 1-255 printable
     * ASCII octets without SP. Default "localhost". The banner never shows a software name or
     * version ("220 <hostname> ESMTP").
     */
    /** @{ */
    const char *hostname;
    unsigned extensions; /* SMTP_SERVER_EXT_*; default PIPELINING SIZE 8BITMIME SMTPUTF8
                            CHUNKING ENHANCEDSTATUSCODES DSN */
    unsigned flags;      /**< SMTP_SERVER_* flags; default 0 */
    /** @} */
    /**
     * Lenient SMTP_CMD_* flags of the command parser: SMTP_CMD_LENIENT_EMPTY_HELO (HELO/EHLO
     * without a name), SMTP_CMD_LENIENT_PATH_BRACKETS ("MAIL FROM:a@b"),
     * SMTP_CMD_STRICT_PATH_SPACE, SMTP_CMD_LENIENT_BARE_LF. Default 0.
     */
    unsigned cmd_flags;
    /** What a bare LF or CR in DATA content does (<smtp/data.h>); default REJECT: 550 5.6.0. */
    smtp_data_policy bare_policy;
    /** Largest message in octets (0: no limit). Default 10240000 (Postfix's). */
    uint64_t max_message_size;
    /** Longest command line with CRLF; default 2048 (extensions lengthen MAIL/RCPT). */
    size_t max_line;
    /** Longest AUTH line and SASL response with CRLF; default 12288 (RFC 4954 4). */
    size_t max_auth_line;
    /** Recipients per message, then 452 4.5.3; default 1000, at least 100 (RFC 5321 4.5.3.1.8). */
    size_t max_recipients;
    /** Messages per connection, then 421 4.7.0 at the next MAIL; default 1000 (0: no limit). */
    size_t max_messages;
    /** Error replies (4xx/5xx) before 421 4.7.0 and close; default 20 (Postfix); 0: no limit. */
    unsigned hard_error_limit;
    /**
     * Error replies after which every further reply is delayed by error_delay_ms (Postfix's
     * smtpd_soft_error_limit: slows down clients that probe or guess); default 10; 0: never.
     * The engine has no clock: it asks the adapter to hold its output
     * (smtp_server_output_delay). Both error counts restart after an accepted message.
     */
    unsigned soft_error_limit;
    /** That delay in milliseconds (Postfix's smtpd_error_sleep_time); default 1000, at most
     * 300000 (a client waits five minutes for a reply, RFC 5321 4.5.3.2); 0: no delay, but
     * past the soft limit commands are still read one at a time, each once the replies
     * before it were written (set soft_error_limit to 0 to turn both off). */
    unsigned error_delay_ms;
    /** NOOP, RSET, VRFY, ETRN, HELP before 421 4.7.0 and close; default 100 (Postfix). */
    unsigned junk_command_limit;
    /** Failed AUTH exchanges before 421 4.7.0 and close; default 3; 0: no limit. */
    unsigned auth_attempt_limit;
    /**
     * The output queue bound in octets; default 16384, at least 4096. The engine stops
     * consuming input while less than 2048 octets are free, so the peer cannot make it buffer
     * without bound (a client pipelining without reading its replies). The queue starts at
     * 512 octets and grows on demand up to this bound, then keeps its size.
     */
    size_t max_output;
    /** Milliseconds to wait for a command (RFC 5321 4.5.3.2.7: at least five minutes, 300000);
     * default 300000. */
    uint32_t timeout_command;
    /** Milliseconds to wait for more message data (RFC 5321 4.5.3.2.6); default 300000; 0:
     * none. */
    uint32_t timeout_data;
    /**
     * The AUTH mechanisms advertised, space separated, in the order given; default "PLAIN
     * LOGIN". Built in: PLAIN (RFC 4616) and LOGIN with on_auth; CRAM-MD5 (RFC 2195) and
     * SCRAM-SHA-256 (RFC 5802, RFC 7677) with on_auth_lookup and `crypto` (since version 4);
     * XOAUTH2, OAUTHBEARER (RFC 7628) and EXTERNAL (RFC 4422 appendix A) with on_auth_token
     * (since version 4; EXTERNAL is offered over TLS only). Any other name, and one of those
     * whose callback (or crypto function) is missing, is run by on_sasl. Each name is a SASL
     * mechanism name (RFC 4422 3.1: 1-20 of A-Z 0-9 '-' '_').
     */
    const char *auth_mechanisms;
    unsigned deliverby_min;          /**< DELIVERBY's min-by-time in seconds; 0: none shown */
    const char *mt_priority_profile; /**< MT-PRIORITY's profile ("MIXER"); NULL: none shown */
    unsigned trust;                  /**< SMTP_SERVER_TRUST_* granted to this peer; default 0 */
    /**
     * FUTURERELEASE's max-future-release-interval in seconds (1 .. 999999999), required with
     * SMTP_SERVER_EXT_FUTURERELEASE: a MAIL whose HOLDFOR asks for more gets 501 5.5.4.
     * Since version 2; default 0.
     */
    uint32_t future_release_interval;
    /**
     * FUTURERELEASE's max-future-release-date-time (RFC 3339, "2026-12-14T12:00:00Z"),
     * required with SMTP_SERVER_EXT_FUTURERELEASE. The engine has no clock: the application
     * writes it (now plus the interval) for each session, and judges a HOLDUNTIL against it
     * in on_mail (params.holduntil_utc). Since version 2; default NULL.
     */
    const char *future_release_until;
    /**
     * Capability lines of the application's own added to the EHLO reply, separated by LF: each
     * an ehlo-line (RFC 5321 4.1.1.1: a keyword of letters, digits and '-' starting with a
     * letter or digit, then space-separated printable parameters), at most 8 lines; the whole
     * EHLO reply must still fit in 2048 octets. For a vendor extension ("XSHADOW",
     * "X-EXPIRES 86400"). Since version 2; default NULL: none.
     */
    const char *ehlo_keywords;
    /**
     * MAIL and RCPT parameters of the application's own (RFC 5321 4.1.2 esmtp-keyword),
     * space-separated ("XSHADOW X-TAG"): the engine accepts them, with or without a value,
     * counted in params.extra, and hands the parameter text to on_mail and on_rcpt
     * (smtp_server_mail.param_text); any other unknown parameter is refused with 555. Since
     * version 2; default NULL: none.
     */
    const char *mail_param_names;
    const char *rcpt_param_names; /**< the same for RCPT (since version 2) */
    /**
     * The most decisions pending at once, counting the commands read ahead with them
     * (pipelined deferral, above): 1 .. 1024. Above 1, while the decision of a MAIL or RCPT
     * is deferred, a client that EHLO offered PIPELINING has its RCPT, DATA and BDAT read
     * ahead and their decisions asked early, up to max_pending commands pending together.
     * Above 1, max_pending slots of about 520 octets are allocated with the first command read
     * ahead (at smtp_server_new with SMTP_SERVER_PREALLOCATE); while they cannot be, commands
     * are read in turn. Since version 3; default 1: nothing is read after a deferred command
     * until it is answered.
     */
    size_t max_pending;
    /**
     * The cryptography of the built-in CRAM-MD5 (hmac_md5 and random) and SCRAM-SHA-256
     * (hmac_sha256, sha256 and random): smtp_crypto (<smtp/common.h>), the client's hook too,
     * which smtp_tls_crypto (<smtp/tls.h>) fills from mbedTLS. The struct is
     * copied; its ctx must outlive the session. random makes CRAM-MD5's challenge (16 octets)
     * and SCRAM's server nonce (30 octets). Since version 4; default NULL: neither is built in.
     */
    const smtp_crypto *crypto;
    /**
     * A secret of the server's that makes the salt SCRAM-SHA-256 shows for a user
     * on_auth_lookup does not know: HMAC-SHA-256 of the user name under it, the same for the
     * same name every time, so that a client cannot tell an unknown user from a wrong password
     * (nor guess the salt without the secret). Keep it the same across restarts; NULL uses
     * the hostname (the salt is then stable, but computable by anyone). Copied. Since version
     * 4; default NULL.
     */
    const char *auth_mock_secret;
    /**
     * The iteration count shown with that salt: make it the count of your users' credentials.
     * 1 .. 100000000. Since version 4; default 4096 (RFC 7677 4).
     */
    uint32_t auth_mock_iterations;
} smtp_server_settings;

/**
 * The version of smtp_server_settings this header describes (common.h: versioned structs):
 * 2 added future_release_interval, future_release_until, ehlo_keywords, mail_param_names and
 * rcpt_param_names; 3 added max_pending; 4 added crypto, auth_mock_secret and
 * auth_mock_iterations.
 */
#define SMTP_SERVER_SETTINGS_VERSION 4

/**
 * smtp_server_settings_init fills `*s` with the defaults of this header's version.
 *
 * See smtp_server_settings_init_versioned.
 */
#define smtp_server_settings_init(s)                                                               \
    smtp_server_settings_init_versioned(SMTP_SERVER_SETTINGS_VERSION, (s))
/**
 * smtp_server_settings_init_versioned fills the fields of smtp_server_settings version
 * `version` with their defaults (given with each field above).
 *
 * A caller of an older version has the smaller struct of its header: only the fields that
 * version had are written.
 *
 * @param version  The struct version the caller was compiled with
 *                 (1 .. SMTP_SERVER_SETTINGS_VERSION); another version is ignored.
 * @param s        The settings to fill. NULL is ignored.
 */
SMTP_API void smtp_server_settings_init_versioned(int version, smtp_server_settings *s);

/** The arguments of MAIL FROM, valid during the callback (spans borrow the command line). */
typedef struct smtp_server_mail {
    smtp_span path;          /**< as sent, with its angle brackets ("<>" for the null path) */
    smtp_path parsed;        /**< smtp_path_parse of `path` */
    smtp_mail_params params; /**< the checked parameters */
    /**
     * AUTH= (RFC 4954 5), xtext-decoded: the mailbox with its angle brackets, or "<>". An
     * unauthenticated client's value is replaced by "<>", as RFC 4954 5 requires; whether to
     * trust an authenticated client's value is the application's call. {NULL, 0} when the
     * parameter was not sent. Accepted only while AUTH is offered (else 555).
     */
    smtp_span auth;
    /** The parameters as sent ("SIZE=100 XSHADOW=1"), or empty: an application parameter of
     * mail_param_names is read here (smtp_param_iter_init). */
    smtp_span param_text;
} smtp_server_mail;

/** The arguments of RCPT TO, valid during the callback. */
typedef struct smtp_server_rcpt {
    smtp_span path;          /**< as sent, with its angle brackets */
    smtp_path parsed;        /**< smtp_path_parse of `path` */
    smtp_rcpt_params params; /**< the checked parameters */
    /** How many recipients were accepted before this one; read ahead (settings.max_pending),
     * those still pending count as accepted. */
    size_t index;
    smtp_span param_text; /**< the parameters as sent, or empty (see smtp_server_mail) */
} smtp_server_rcpt;

/** An address of the envelope (smtp_server_message): as the client sent it, accepted. */
typedef struct smtp_server_address {
    smtp_span path;   /**< with its angle brackets: "<a@example.org>", "<>" for the null path */
    smtp_span params; /**< the parameters after it, as sent ("SIZE=100 BODY=8BITMIME"), or empty;
                         smtp_mail_params_parse / smtp_rcpt_params_parse read them */
} smtp_server_address;

/** A complete message, reported to on_message_end. */
typedef struct smtp_server_message {
    uint64_t size;       /**< content octets delivered through on_data */
    unsigned data_flags; /**< SMTP_DATA_FLAG_* seen by the DATA decoder (0 for BDAT) */
    int bdat;            /**< 1 when received with BDAT (RFC 3030), 0 with DATA */
    size_t recipients;   /**< accepted recipients: LMTP expects that many replies */
    /**
     * With SMTP_SERVER_ENVELOPE, the envelope (RFC 5321 3.3), valid during the callback (and
     * until the decision is answered when deferred): MAIL's reverse-path and parameters, and
     * the `recipients` accepted RCPTs in the order accepted. Without it: empty and NULL.
     */
    /** @{ */
    smtp_server_address sender;
    const smtp_server_address *rcpts;
    /** @} */
} smtp_server_message;

/** Why a message that was being received is dropped (on_message_abort). */
typedef enum smtp_server_abort_reason {
    SMTP_SERVER_ABORT_EOF = 1, /**< smtp_server_eof: the connection was lost */
    /** Over max_message_size: the rest is read and dropped, then 552 5.3.4 (a BDAT's size is
     * judged from its line; the BDATs pipelined after it get the 552 too). */
    SMTP_SERVER_ABORT_SIZE,
    /** A bare LF/CR under SMTP_DATA_BARE_REJECT: 550 5.6.0. A DATA message both too big and
     * with a bare LF/CR is aborted for the first in the stream, whatever the split (an octet
     * that is both the first over the limit and a bare LF/CR counts as BARE). */
    SMTP_SERVER_ABORT_BARE,
    SMTP_SERVER_ABORT_RESET,    /**< RSET, HELO/EHLO or a failed BDAT ended the transaction */
    SMTP_SERVER_ABORT_TIMEOUT,  /**< smtp_server_timeout_expired */
    SMTP_SERVER_ABORT_SHUTDOWN, /**< smtp_server_shutdown, a 421, or a pipelining violation */
    /**
     * A DATA or BDAT read ahead (settings.max_pending above 1): on_data_start accepted it
     * early, but once the decisions before it were answered no recipient was accepted (or MAIL
     * was refused), so the engine refused it (554 5.5.1, or 503 5.5.1) and no content comes.
     */
    SMTP_SERVER_ABORT_NO_RECIPIENTS,
} smtp_server_abort_reason;

/**
 * smtp_server_abort_name returns the name of an abort reason, for logs.
 *
 * @param reason  The reason.
 * @return "EOF", "SIZE", "BARE", "RESET", "TIMEOUT", "SHUTDOWN" or "NO_RECIPIENTS", or
 *         "INVALID" for a value that is not an smtp_server_abort_reason. Never NULL; static
 *         storage.
 */
SMTP_API const char *smtp_server_abort_name(smtp_server_abort_reason reason);

/** Credentials of AUTH PLAIN or LOGIN, for on_auth. */
typedef struct smtp_server_auth {
    smtp_span mechanism; /**< "PLAIN" or "LOGIN", as advertised */
    /** PLAIN's authorization identity (RFC 4616 2): whom the client wants to act as; empty
     * when none was given (always for LOGIN). */
    smtp_span authzid;
    smtp_span authcid;  /**< the user name: 1-255 octets of UTF-8 without control bytes */
    smtp_span password; /**< at least one octet; any byte but NUL */
} smtp_server_auth;

/** One step of an AUTH exchange run by the application (on_sasl). */
typedef struct smtp_server_sasl {
    smtp_span mechanism; /**< as advertised in auth_mechanisms ("XOAUTH2") */
    unsigned step;      /**< 0 for the AUTH command, then 1, 2... for the responses to challenges */
    int has_response;   /**< 0 only at step 0 when AUTH came without an initial response */
    smtp_span response; /**< the client's response, base64-decoded (may be empty) */
} smtp_server_sasl;

/**
 * Whose credentials a built-in CRAM-MD5 or SCRAM-SHA-256 exchange needs (on_auth_lookup).
 * Since callbacks version 3.
 */
typedef struct smtp_server_auth_lookup {
    smtp_span mechanism; /**< "CRAM-MD5" or "SCRAM-SHA-256", as advertised */
    /** The user name: 1-255 octets of UTF-8 without control bytes, compared as octets (no
     * SASLprep: a name is looked up as the client sent it). SCRAM's "=2C" and "=3D" are
     * decoded. */
    smtp_span authcid;
    /** SCRAM's authorization identity (RFC 5802 7 "a="), decoded: whom the client wants to act
     * as; empty when none was given (always for CRAM-MD5). */
    smtp_span authzid;
} smtp_server_auth_lookup;

/** The length of SCRAM-SHA-256's keys: a SHA-256 digest. */
#define SMTP_SERVER_SCRAM_KEY 32
/** The longest salt of smtp_server_scram, in octets. */
#define SMTP_SERVER_SCRAM_SALT_MAX 64

/**
 * A user's SCRAM-SHA-256 credentials (RFC 5802 3), as a server stores them instead of the
 * password: smtp_server_scram_make computes them, smtp_server_auth_scram gives them.
 */
typedef struct smtp_server_scram {
    /** StoredKey = H(ClientKey), ClientKey = HMAC(SaltedPassword, "Client Key"). */
    unsigned char stored_key[SMTP_SERVER_SCRAM_KEY];
    /** ServerKey = HMAC(SaltedPassword, "Server Key"). */
    unsigned char server_key[SMTP_SERVER_SCRAM_KEY];
    unsigned char salt[SMTP_SERVER_SCRAM_SALT_MAX]; /**< the salt, salt_len octets */
    size_t salt_len;                                /**< 1 .. SMTP_SERVER_SCRAM_SALT_MAX */
    uint32_t iterations; /**< SaltedPassword's iteration count, at least 1 */
} smtp_server_scram;

/**
 * A bearer token or an EXTERNAL request, for on_auth_token. The spans stay valid until the
 * decision is answered. Since callbacks version 3.
 */
typedef struct smtp_server_token {
    smtp_span mechanism; /**< "XOAUTH2", "OAUTHBEARER" or "EXTERNAL", as advertised */
    /**
     * Whom the client wants to act as: OAUTHBEARER's gs2 "a=" (RFC 7628 3.1, decoded), the
     * whole message of EXTERNAL (RFC 4422 A.1); empty when none was given (always for
     * XOAUTH2). UTF-8 without control bytes, at most 255 octets.
     */
    smtp_span authzid;
    /** XOAUTH2's "user=": the account the token is for; empty for the others. */
    smtp_span user;
    /** The OAuth 2.0 bearer token ("auth=Bearer <token>", RFC 6750 2.1); empty for EXTERNAL,
     * whose credential is the TLS client certificate the application checked. */
    smtp_span token;
} smtp_server_token;

/** Attributes of XCLIENT or XFORWARD (Postfix), xtext-decoded; see the present bits. */
#define SMTP_SERVER_XATTR_NAME 0x001u     /**< client host name, "[UNAVAILABLE]", "[TEMPUNAVAIL]" */
#define SMTP_SERVER_XATTR_ADDR 0x002u     /**< client address: IPv4, or IPv6 ("IPV6:" optional) */
#define SMTP_SERVER_XATTR_PORT 0x004u     /**< client port, 0-65535 */
#define SMTP_SERVER_XATTR_PROTO 0x008u    /**< "SMTP" or "ESMTP" (any case) */
#define SMTP_SERVER_XATTR_HELO 0x010u     /**< the HELO/EHLO name the client sent */
#define SMTP_SERVER_XATTR_LOGIN 0x020u    /**< XCLIENT: the SASL login name */
#define SMTP_SERVER_XATTR_DESTADDR 0x040u /**< XCLIENT: the address the client connected to */
#define SMTP_SERVER_XATTR_DESTPORT 0x080u /**< XCLIENT: the port the client connected to */
#define SMTP_SERVER_XATTR_IDENT 0x100u    /**< XFORWARD: the original queue id */
#define SMTP_SERVER_XATTR_SOURCE 0x200u   /**< XFORWARD: "LOCAL" or "REMOTE" */

/**
 * The attributes one XCLIENT or XFORWARD command carried. Every value may also be
 * "[UNAVAILABLE]" or "[TEMPUNAVAIL]" (Postfix). A value given twice keeps the last one.
 * Spans borrow an internal buffer, valid until the decision is answered.
 */
typedef struct smtp_server_xattrs {
    unsigned present; /**< SMTP_SERVER_XATTR_* */
    /** The values, each under its SMTP_SERVER_XATTR_* bit. */
    /** @{ */
    smtp_span name, addr, port, proto, helo, login, destaddr, destport, ident, source;
    /** @} */
} smtp_server_xattrs;

/** The address family of a PROXY header. */
typedef enum smtp_server_proxy_family {
    SMTP_SERVER_PROXY_UNSPEC = 0, /**< v1 UNKNOWN, v2 UNSPEC or LOCAL: use the socket's addresses */
    SMTP_SERVER_PROXY_TCP4,       /**< IPv4 */
    SMTP_SERVER_PROXY_TCP6,       /**< IPv6 */
    SMTP_SERVER_PROXY_UNIX        /**< v2 only */
} smtp_server_proxy_family;

/** A PROXY protocol header (HAProxy's proxy-protocol.txt), for on_proxy. */
typedef struct smtp_server_proxy {
    int version; /**< 1 (text) or 2 (binary) */
    int local;   /**< v2 LOCAL command: the proxy's own connection (a health check) */
    smtp_server_proxy_family family; /**< the address family */
    /** Addresses in network byte order: 4 (TCP4) or 16 (TCP6) octets, or a 108-octet UNIX
     * path padded with NULs; empty for UNSPEC. Valid during the callback. */
    /** @{ */
    smtp_span src_addr, dst_addr;
    uint16_t src_port, dst_port; /**< 0 for UNSPEC and UNIX */
    /** @} */
} smtp_server_proxy;

/** The version of smtp_server_callbacks this header describes (common.h: versioned structs):
 * 2 added on_etrn and on_help; 3 on_auth_lookup and on_auth_token. */
#define SMTP_SERVER_CALLBACKS_VERSION 3

/**
 * Callbacks. Every one receives the session first and `user_data` last. A NULL callback means
 * the default: accept (policy callbacks) or ignore (notifications).
 *
 * Policy callbacks (on_connect, on_helo, on_mail, on_rcpt, on_data_start, on_message_end,
 * on_vrfy, on_etrn, on_help) decide one reply. Each either
 *  - returns 0: the engine sends its default acceptance, unless the callback has already
 *    called smtp_server_reply (the usual way to refuse: reply 550 then return 0);
 *  - returns SMTP_SERVER_DEFER: the decision comes later through smtp_server_reply, or
 *    smtp_server_reply_to with the id smtp_server_decision gives in the callback (order is
 *    kept: no later command is read meanwhile, but for the commands read ahead with
 *    settings.max_pending above 1, whose replies wait for the earlier ones);
 *  - returns a negative value: the feeding call fails with SMTP_ERR_CALLBACK_FAILURE and the
 *    session is dead (sticky).
 * Other positive values count as 0. on_data may also return SMTP_PAUSE: smtp_server_read then
 * returns right after that piece of content (flow control), having consumed at least one byte
 * (a pause always makes progress): when no byte of that read made the piece (the CRLF that
 * replaces a bare LF or CR under SMTP_DATA_BARE_NORMALIZE, a bare CR held from the read
 * before), the read still consumes the next byte, which the engine keeps and reads first
 * next time; nothing after the piece is delivered before the next read. Callbacks may call
 * smtp_server_reply and smtp_server_reply_to (an answer to another decision than the
 * callback's own takes effect once the callback returned), smtp_server_set_extensions,
 * smtp_server_write (it only copies replies already queued; the client's write, which
 * produces output, may not be called from its callbacks) and the query functions, never
 * smtp_server_read, smtp_server_del or the other state-changing calls (they return
 * SMTP_ERR_INVALID_STATE).
 */
typedef struct smtp_server_callbacks {
    /**
     * The connection is up: decide the greeting (a policy callback).
     *
     * Accept: "220 <hostname> ESMTP". Refuse with 554 (the engine then answers 503 to everything
     * but QUIT, RFC 5321 3.1) or 421 (closes).
     *
     * @param srv        The session.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_connect)(smtp_server *srv, void *user_data);
    /**
     * HELO, EHLO or LHLO was received: decide its reply (a policy callback).
     *
     * Accept: 250 and, for EHLO and LHLO, the capability list.
     *
     * @param srv        The session.
     * @param verb       SMTP_VERB_HELO, SMTP_VERB_EHLO or SMTP_VERB_LHLO.
     * @param domain     The client's name: one word of at most 255 octets (SMTP_MAX_DOMAIN; a
     *                   longer one got 501), not otherwise validated; may be empty under
     *                   SMTP_CMD_LENIENT_EMPTY_HELO. Valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_helo)(smtp_server *srv, smtp_verb verb, smtp_span domain, void *user_data);
    /**
     * MAIL FROM was received and checked (path, parameters, SIZE against the limit): decide its
     * reply (a policy callback).
     *
     * Accept: 250 2.1.0; the transaction begins.
     *
     * @param srv        The session.
     * @param mail       The arguments of MAIL FROM, valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_mail)(smtp_server *srv, const smtp_server_mail *mail, void *user_data);
    /**
     * RCPT TO was received and checked: decide its reply (a policy callback).
     *
     * Accept (250, 251, 252): counted as a recipient; default 250 2.1.5.
     *
     * @param srv        The session.
     * @param rcpt       The arguments of RCPT TO, valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_rcpt)(smtp_server *srv, const smtp_server_rcpt *rcpt, void *user_data);
    /**
     * DATA, or the first BDAT of a message, was received: decide whether the message may come (a
     * policy callback).
     *
     * Read ahead (settings.max_pending above 1), it runs before the decisions of the MAIL and
     * RCPTs before it are answered; whatever it answers, the engine refuses the command once
     * they are if no recipient was accepted (and on_message_abort NO_RECIPIENTS follows an
     * acceptance), and nothing of the message is read before that (but see
     * SMTP_SERVER_CHUNK_AHEAD).
     *
     * Accept: 354 (DATA) or streaming starts (BDAT: the reply comes after the chunk). Refusing the
     * first BDAT ends the transaction (RFC 3030 2: the client must start over; no on_reset
     * follows) and its payload is dropped; the refusal is sent once the chunk was read (in LMTP,
     * after BDAT LAST, once per accepted recipient), and the BDATs pipelined after it are dropped
     * with the same reply.
     *
     * @param srv        The session.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_data_start)(smtp_server *srv, void *user_data);
    /**
     * A piece of the message content (unstuffed for DATA, raw for BDAT), in order.
     *
     * @param srv        The session.
     * @param data       The piece, not empty. It borrows the input or static storage: valid
     *                   during the call only.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 to go on, SMTP_PAUSE to make smtp_server_read return right after this piece (see
     *         above), or a negative value to fail the session. Any other positive value counts
     *         as 0.
     */
    int (*on_data)(smtp_server *srv, smtp_span data, void *user_data);
    /**
     * The whole message was received and handed over through on_data: decide its final reply (a
     * policy callback).
     *
     * Accept: 250 2.0.0 (in LMTP mode, one reply per accepted recipient: call smtp_server_reply
     * msg->recipients times; the replies not given repeat the last one given, or 250 when none
     * was). Nothing is acknowledged before this callback returned or its deferred reply came.
     *
     * @param srv        The session.
     * @param msg        The message: its size, how it came and, with SMTP_SERVER_ENVELOPE, its
     *                   envelope; valid during the call (the envelope until the decision is
     *                   answered when deferred).
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_message_end)(smtp_server *srv, const smtp_server_message *msg, void *user_data);
    /**
     * A message that on_data_start accepted will not complete: drop what on_data gave.
     *
     * Once per message: one aborted for SIZE or BARE while the rest of it is read and dropped gets
     * no second call (nor on_reset) when the session ends (EOF, timeout, shutdown) first. Also
     * after on_message_end when the session ends before its decision is complete (it was deferred
     * and not answered, or in LMTP not every reply owed was given): nothing more of it will be
     * acknowledged. A notification.
     *
     * @param srv        The session.
     * @param reason     Why the message is dropped.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0, or a negative value to fail the session (the call that reported it returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_message_abort)(smtp_server *srv, smtp_server_abort_reason reason, void *user_data);
    /**
     * A transaction (an accepted MAIL) ended without a message: RSET, HELO/EHLO, STARTTLS, QUIT, a
     * refused DATA end, or the end of the session.
     *
     * A notification.
     *
     * @param srv        The session.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0, or a negative value to fail the session (the call that reported it returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_reset)(smtp_server *srv, void *user_data);
    /**
     * VRFY was received: decide its reply (a policy callback).
     *
     * Default 252 2.5.0 (no user enumeration); the application may resolve the argument.
     *
     * @param srv        The session.
     * @param arg        The argument of VRFY as sent, valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_vrfy)(smtp_server *srv, smtp_span arg, void *user_data);
    /**
     * STARTTLS was accepted and "220 2.0.0 Ready to start TLS" queued: once that reply is written,
     * start the TLS handshake, then call smtp_server_tls_done.
     *
     * A notification.
     *
     * @param srv        The session.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0, or a negative value to fail the session (the call that reported it returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_starttls)(smtp_server *srv, void *user_data);
    /**
     * Bytes were fed after the STARTTLS line, before smtp_server_tls_done: plaintext pipelined
     * over the TLS boundary (RFC 3207 4.2, CVE-2011-0411).
     *
     * They are never consumed. Unless SMTP_SERVER_KEEP_TLS_INJECTION, the engine then queues 421
     * and closes. Reported once. A notification.
     *
     * @param srv        The session.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0, or a negative value to fail the session (the call that reported it returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_tls_injection)(smtp_server *srv, void *user_data);
    /**
     * AUTH PLAIN or LOGIN credentials were received (RFC 4954, RFC 4616): decide (a policy
     * callback).
     *
     * Accept (return 0, reply 235, or smtp_server_auth_accept to name the identity): "235 2.7.0
     * Authentication successful", and the identity is authzid when given, else authcid. Refuse:
     * 535 5.7.8 for bad credentials (RFC 4954 6), 454 4.7.0 for a temporary failure, any 4xx/5xx.
     * Required when auth_mechanisms lists PLAIN or LOGIN and AUTH is enabled.
     *
     * @param srv        The session.
     * @param auth       The credentials; the spans stay valid until the decision is answered
     *                   (also after SMTP_SERVER_DEFER).
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_auth)(smtp_server *srv, const smtp_server_auth *auth, void *user_data);
    /**
     * A step of an AUTH exchange of any other mechanism: decide (a policy callback).
     *
     * Answer with smtp_server_auth_challenge (a 334 challenge: the client's response comes back as
     * the next step), smtp_server_auth_accept (235), or smtp_server_reply with a 4xx/5xx refusal.
     * There is no default acceptance. Required when auth_mechanisms lists a mechanism other than
     * PLAIN and LOGIN and AUTH is enabled.
     *
     * @param srv        The session.
     * @param step       The step; its response stays valid until the decision is answered.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (without an answer given: a refusal, 535 5.7.8), SMTP_SERVER_DEFER to answer
     *         later, or a negative value to fail the session.
     */
    int (*on_sasl)(smtp_server *srv, const smtp_server_sasl *step, void *user_data);
    /**
     * XCLIENT was received from a trusted peer: decide (a policy callback).
     *
     * Accept (0 or 220): the session is reset as for a new connection (HELO, transaction,
     * authentication, error counts) and greeted again with "220 <hostname> ESMTP"; a LOGIN
     * attribute becomes the authenticated identity. Refuse with a 4xx/5xx: nothing changes.
     *
     * @param srv        The session.
     * @param attrs      The attributes; the spans stay valid until the decision is answered.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_xclient)(smtp_server *srv, const smtp_server_xattrs *attrs, void *user_data);
    /**
     * XFORWARD was received from a trusted peer: decide (a policy callback).
     *
     * Accept (0 or 250): "250 2.0.0 Ok". The application keeps the attributes for the next
     * transaction (Postfix forgets them after each one).
     *
     * @param srv        The session.
     * @param attrs      The attributes; the spans stay valid until the decision is answered.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_xforward)(smtp_server *srv, const smtp_server_xattrs *attrs, void *user_data);
    /**
     * The PROXY header was read (SMTP_SERVER_PROXY), before on_connect decides the greeting.
     *
     * The application may call smtp_server_set_trust here. A notification.
     *
     * @param srv        The session.
     * @param proxy      The header; its address spans are valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0, or a negative value to fail the session (the call that reported it returns
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_proxy)(smtp_server *srv, const smtp_server_proxy *proxy, void *user_data);
    /**
     * ETRN was received (RFC 1985): decide its reply (a policy callback).
     *
     * Accept (0 or 250, 251, 252, 253): "250 2.0.0 Queuing started" by default; refuse with 458,
     * 459 or any 4xx/5xx. NULL: ETRN is not implemented (502), as before version 2. Since
     * version 2.
     *
     * @param srv        The session.
     * @param arg        The argument as sent: "[@]domain" or "#queue"; valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_etrn)(smtp_server *srv, smtp_span arg, void *user_data);
    /**
     * HELP was received: answer it (a policy callback).
     *
     * Answer with 211 or 214 (one line of text) or a 4xx/5xx. Default "214 2.0.0 See RFC 5321"
     * (also when NULL). Since version 2.
     *
     * @param srv        The session.
     * @param arg        The argument, empty when none; valid during the call.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (the default acceptance, unless a reply was already given), SMTP_SERVER_DEFER to
     *         answer later with smtp_server_reply, or a negative value to fail the session.
     */
    int (*on_help)(smtp_server *srv, smtp_span arg, void *user_data);
    /**
     * A built-in CRAM-MD5 or SCRAM-SHA-256 exchange needs a user's credentials: look them up
     * (a policy callback). Since version 3.
     *
     * Answer with smtp_server_auth_password (CRAM-MD5: the password) or smtp_server_auth_scram
     * (SCRAM-SHA-256: the stored credentials, never the password); the engine then checks the
     * client's proof itself and ends the exchange (235 2.7.0 or 535 5.7.8). The identity is
     * the authzid when given, else the authcid: refuse here an authzid the user may not act
     * as. Return 0 without an answer (or answer smtp_server_reply code 0) when the user does
     * not exist: the exchange goes on with made-up credentials (SCRAM: settings
     * auth_mock_secret and auth_mock_iterations) and fails as a wrong password does, with the
     * same replies and work. A 4xx/5xx reply is sent at once: 454 4.7.0 when the lookup
     * failed for now. Required, with settings.crypto, for the built-in CRAM-MD5 and
     * SCRAM-SHA-256.
     *
     * @param srv        The session.
     * @param lookup     The mechanism and names; the spans stay valid until the decision is
     *                   answered (also after SMTP_SERVER_DEFER).
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (without an answer given: an unknown user), SMTP_SERVER_DEFER to answer later,
     *         or a negative value to fail the session.
     */
    int (*on_auth_lookup)(smtp_server *srv, const smtp_server_auth_lookup *lookup, void *user_data);
    /**
     * XOAUTH2, OAUTHBEARER or EXTERNAL credentials were received: decide (a policy
     * callback). Since version 3.
     *
     * The engine parses the message (RFC 7628 3.1, Google's XOAUTH2 format, RFC 4422 A.1) and
     * refuses a malformed one itself (535 5.7.8). Accept with smtp_server_auth_accept (NULL
     * identity: the authzid, else XOAUTH2's user); refuse with smtp_server_reply, 535 5.7.8
     * for a bad token, 454 4.7.0 for a temporary failure. For XOAUTH2 and OAUTHBEARER a
     * refusal (but 421) first goes as the error challenge those mechanisms define (a 334 with
     * a JSON status: RFC 7628 3.2.2), and the reply once the client answered it. EXTERNAL's
     * credential is the TLS client certificate: the application checks it (its adapter knows
     * it) and whether its subject may act as the authzid. There is no default acceptance:
     * returning 0 without an answer refuses (535 5.7.8).
     *
     * @param srv        The session.
     * @param token      The credentials; the spans stay valid until the decision is answered.
     * @param user_data  The `user_data` given to smtp_server_new.
     * @return 0 (without an answer given: a refusal), SMTP_SERVER_DEFER to answer later, or a
     *         negative value to fail the session.
     */
    int (*on_auth_token)(smtp_server *srv, const smtp_server_token *token, void *user_data);
} smtp_server_callbacks;

/**
 * smtp_server_new creates a server session with the struct versions of this header.
 *
 * See smtp_server_new_versioned.
 */
#define smtp_server_new(pp, callbacks, settings, mem, user_data)                                   \
    smtp_server_new_versioned((pp), SMTP_SERVER_CALLBACKS_VERSION, (callbacks),                    \
                              SMTP_SERVER_SETTINGS_VERSION, (settings), (mem), (user_data))
/**
 * smtp_server_new_versioned creates the session of one connection and stores it in `*pp`,
 * reading `callbacks` and `settings` as the struct versions the caller uses.
 *
 * The callbacks and settings are copied, strings included (they need not outlive the call).
 * Call it through the macro smtp_server_new, which passes the versions of this header.
 *
 * Memory: the session, its command parser and the first 512 octets of the output queue are
 * allocated here. The output queue grows on demand up to max_output. The parser's line buffer
 * (max_line octets, or max_auth_line with SMTP_SERVER_EXT_AUTH: without AUTH offered, an AUTH
 * line is held to max_line) comes with the first command line split across reads. A decoding
 * buffer (for XCLIENT, XFORWARD, AUTH= and SASL responses: max_line octets, or about
 * max_auth_line with AUTH) is allocated here too with SMTP_SERVER_EXT_AUTH or a trust bit,
 * else when first used (after smtp_server_set_trust). The slots of commands read ahead
 * (settings.max_pending) come with the first one. All are kept until smtp_server_del, so
 * that a session allocates nothing per message (steady state). With SMTP_SERVER_PREALLOCATE
 * all are allocated here, at their largest, instead. smtp_server_memory tells the total.
 *
 * @param pp                 Receives the session, or NULL on error (when `pp` is not NULL).
 *                           Free it with smtp_server_del.
 * @param callbacks_version  The version of smtp_server_callbacks the caller uses
 *                           (SMTP_SERVER_CALLBACKS_VERSION).
 * @param callbacks          The callbacks, copied; NULL for all defaults.
 * @param settings_version   The version of smtp_server_settings the caller uses
 *                           (SMTP_SERVER_SETTINGS_VERSION).
 * @param settings           The settings, copied; NULL for the defaults.
 * @param mem                The allocator, or NULL for smtp_mem_default(); it must outlive the
 *                           session.
 * @param user_data          Passed to every callback.
 * @return 0 on success, or one of these negative error codes (then nothing stays allocated):
 * @retval SMTP_ERR_INVALID_ARGUMENT `pp` is NULL, a struct version this library lacks, or a
 *         setting out of range: hostname NULL, empty, over 255 octets or with a byte outside
 *         0x21-0x7E; max_recipients < 100; max_output < 4096; timeout_command < 300000;
 *         error_delay_ms > 300000; line limits outside the command parser's range (8 .. 1048576
 *         octets); an unknown bit in flags, cmd_flags, extensions or trust, or an unknown
 *         bare_policy; an AUTH list over 400 octets or an MT-PRIORITY profile over 64 octets,
 *         or either with a byte outside printable ASCII (or SP in the profile);
 *         mail_param_names or rcpt_param_names that are not space-separated esmtp-keywords (at
 *         most 400 octets); ehlo_keywords that are not at most 8 LF-separated printable lines,
 *         each starting with an esmtp-keyword; SMTP_SERVER_EXT_FUTURERELEASE without a
 *         future_release_interval of 1 .. 999999999 and a future_release_until that is an RFC
 *         3339 date-time; an EHLO reply that would not fit in 2048 octets; with
 *         SMTP_SERVER_EXT_AUTH, an AUTH list that is empty or holds a name that is not a SASL
 *         mechanism name, PLAIN or LOGIN listed without on_auth, or another mechanism listed
 *         without on_sasl and not built in (CRAM-MD5 and SCRAM-SHA-256 with on_auth_lookup and
 *         the crypto functions they need, XOAUTH2, OAUTHBEARER and EXTERNAL with
 *         on_auth_token); auth_mock_iterations 0 or over 100000000.
 * @retval SMTP_ERR_NOMEM An allocation failed.
 */
SMTP_API int smtp_server_new_versioned(smtp_server **pp, int callbacks_version,
                                       const smtp_server_callbacks *callbacks, int settings_version,
                                       const smtp_server_settings *settings, const smtp_mem *mem,
                                       void *user_data);

/**
 * smtp_server_del frees the session; no callback is called.
 *
 * It must not be called from a callback.
 *
 * @param srv  The session. NULL is ignored.
 */
SMTP_API void smtp_server_del(smtp_server *srv);

/**
 * smtp_server_start begins the conversation: on_connect decides the greeting, at once or
 * deferred.
 *
 * Call it once, when the connection is up. With SMTP_SERVER_PROXY the greeting waits for the
 * PROXY header: on_proxy, then on_connect, are called once smtp_server_read has read it.
 *
 * @param srv  The session, new.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL.
 * @retval SMTP_ERR_INVALID_STATE Called twice, or from a callback.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_connect returned a negative value (fatal and sticky).
 */
SMTP_API int smtp_server_start(smtp_server *srv);

/**
 * smtp_server_read consumes client bytes and processes every complete command, message part
 * or chunk in them, in order, calling the callbacks and queueing replies.
 *
 * The input may be split anywhere. The call stops before the end of the input when it must: a
 * decision is pending, the output queue is nearly full (write, then feed the rest again), the
 * session is closing, STARTTLS waits for the handshake (bytes after the STARTTLS line are
 * never consumed), output is to be held (smtp_server_output_delay), or on_data returned
 * SMTP_PAUSE (a pause consumes at least one byte). The caller keeps the unconsumed bytes and
 * feeds them again later, followed by new ones.
 *
 * @code
 * smtp_ssize n = smtp_server_read(srv, in, in_len);
 * if (n < 0) return n;                           // fatal: close the connection
 * memmove(in, in + n, in_len - (size_t)n);       // keep what was not consumed
 * in_len -= (size_t)n;
 * while ((n = smtp_server_write(srv, out, sizeof out)) > 0)
 *     send_all(fd, out, (size_t)n);              // after smtp_server_output_delay, if any
 * @endcode
 *
 * @param srv   The session, started.
 * @param data  The bytes the client sent, split anywhere; need not be NUL-terminated. May be
 *              NULL when `len` is 0.
 * @param len   The length of `data` in octets.
 * @return The number of bytes consumed, `len` or fewer; or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, or `data` is NULL with `len` > 0 (nothing
 *         happens).
 * @retval SMTP_ERR_INVALID_STATE Before smtp_server_start, or from a callback.
 * @retval SMTP_ERR_CALLBACK_FAILURE A callback returned a negative value (fatal and sticky:
 *         every later call returns it).
 * @retval SMTP_ERR_NOMEM The output queue, the decoding buffer, the command line buffer or
 *         (SMTP_SERVER_ENVELOPE) the envelope's buffers could not be allocated (fatal and
 *         sticky).
 */
SMTP_API smtp_ssize smtp_server_read(smtp_server *srv, const char *data,
                                     size_t len) SMTP_WARN_UNUSED;

/**
 * smtp_server_write copies up to `cap` bytes of pending output to `dest` and removes them from
 * the queue.
 *
 * It may be called from a callback. After a write, the engine may queue more (LMTP replies
 * waiting for room). Copying at least one byte ends the delay of smtp_server_output_delay.
 *
 * @param srv   The session.
 * @param dest  Where to copy, `cap` bytes; may be NULL when `cap` is 0.
 * @param cap   The size of `dest` in bytes.
 * @return The number of bytes copied (0 when nothing is pending), or one of these negative
 *         error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, or `dest` is NULL with `cap` > 0.
 * @retval SMTP_ERR_NOMEM The queue could not grow for LMTP replies still owed: the session
 *         failed. Reported once: by the call that failed when it copied nothing, else (it
 *         returns the bytes it copied) by the next call. Later calls copy what is still
 *         queued, as after any fatal error.
 */
SMTP_API smtp_ssize smtp_server_write(smtp_server *srv, char *dest, size_t cap) SMTP_WARN_UNUSED;

/**
 * smtp_server_reply answers the pending decision of a policy callback, inside the callback
 * (then return 0) or later after SMTP_SERVER_DEFER.
 *
 * Called from a policy callback it answers that callback's decision; elsewhere the oldest
 * decision pending (the only one, unless commands were read ahead: settings.max_pending).
 * It is smtp_server_reply_to with smtp_server_decision's id.
 *
 * Codes allowed: 421 always (queued, then the connection closes); on_connect 220, 554 or any
 * 4xx/5xx; on_helo/on_mail/on_message_end 250; on_rcpt 250, 251, 252; on_data_start 354 for
 * DATA (the first BDAT of a message is accepted with 0 only); on_vrfy 250, 251, 252; on_auth
 * 235; on_xclient 220; on_xforward 250; on_etrn 250, 251, 252, 253; on_help 211, 214;
 * on_auth_lookup 0 only (an unknown user); and 4xx/5xx for every one (on_sasl and
 * on_auth_token: 4xx/5xx only, accept with smtp_server_auth_accept).
 * Answered after SMTP_SERVER_DEFER, the decision also completes at once what needs no more
 * input: an empty BDAT chunk ("BDAT 0 LAST" whose on_data_start was deferred) gets its reply,
 * or ends the message, so on_message_end may be called from inside this call (and may
 * defer). On SMTP_ERR_INVALID_ARGUMENT, SMTP_ERR_UNSAFE_ARGUMENT, SMTP_ERR_INVALID_STATE and
 * SMTP_ERR_NOBUF nothing changes and the decision stays pending.
 *
 * @code
 * // In on_rcpt: refuse at once, then return 0.
 * smtp_server_reply(srv, 550, "5.1.1", "Error: no such user", 19);
 * // Or return SMTP_SERVER_DEFER from on_rcpt and, once a lookup is done:
 * int rv = smtp_server_reply(srv, 0, NULL, NULL, 0);   // the default acceptance
 * @endcode
 *
 * @param srv       The session.
 * @param code      The reply code (see above), or 0 for the default acceptance.
 * @param enhanced  An RFC 3463 code of the reply code's class ("5.7.1"), NUL-terminated, or
 *                  NULL for a default one; must be NULL with `code` 0. Sent only with
 *                  ENHANCEDSTATUSCODES, and never on a greeting, an accepted XCLIENT's 220, the
 *                  250 of an accepted hello or 354.
 * @param text      One line of text, `len` octets, or NULL (with `len` 0) for a default text.
 *                  A greeting or an accepted XCLIENT's 220 puts it after the hostname; the
 *                  replies to an accepted hello and DATA are fixed and ignore it.
 * @param len       The length of `text`, at most 400 octets.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL; a code this decision does not allow, or a
 *         4xx/5xx whose second digit is above 5 (RFC 5321 4.2); `enhanced` malformed, of
 *         another class, or given with `code` 0; `text` NULL with `len` > 0, `len` over 400
 *         octets, or a greeting or 220 line ("CODE hostname text") over 512 octets.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A control byte other than TAB (CR, LF, NUL...) or DEL in
 *         the text.
 * @retval SMTP_ERR_INVALID_STATE No decision is pending (none was asked, it was answered, or
 *         the session ended), or the session failed.
 * @retval SMTP_ERR_NOBUF The output queue has no room for the reply: write, then reply again.
 * @retval SMTP_ERR_CALLBACK_FAILURE The decision was made, but a callback it led to
 *         (on_message_end of an empty BDAT chunk) failed: fatal and sticky.
 * @retval SMTP_ERR_NOMEM The decision was made, but the output queue could not grow: fatal and
 *         sticky.
 */
SMTP_API int smtp_server_reply(smtp_server *srv, int code, const char *enhanced, const char *text,
                               size_t len);

/**
 * smtp_server_decision returns the id of a decision, for smtp_server_reply_to.
 *
 * Ids count from 1 in each session and are never reused. Keep the id of a decision deferred
 * while others may be asked (settings.max_pending above 1): in its policy callback.
 *
 * @param srv  The session, or NULL.
 * @return Called from a policy callback before it answers: the id of the decision that
 *         callback makes. Elsewhere: the id of the oldest decision pending (the one
 *         smtp_server_reply answers), or 0 when none is (and for NULL).
 */
SMTP_API uint64_t smtp_server_decision(const smtp_server *srv);

/**
 * smtp_server_decision_command returns the command whose decision is being made: the one of
 * the policy callback running (a command read ahead included), else the oldest pending.
 *
 * on_data_start tells DATA from the first BDAT of a message with it (a proxy sends upstream
 * the command its client sent, so that DATA's 354 is upstream's).
 *
 * @param srv  The session, or NULL.
 * @return SMTP_VERB_HELO, SMTP_VERB_EHLO or SMTP_VERB_LHLO; SMTP_VERB_MAIL, SMTP_VERB_RCPT,
 *         SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_VRFY, SMTP_VERB_AUTH (on_auth and on_sasl),
 *         SMTP_VERB_XCLIENT, SMTP_VERB_XFORWARD, SMTP_VERB_ETRN or SMTP_VERB_HELP; or
 *         SMTP_VERB_UNKNOWN for the greeting, the end of a message (smtp_server_message.bdat
 *         says how it came), no decision, and NULL.
 */
SMTP_API smtp_verb smtp_server_decision_command(const smtp_server *srv);

/**
 * smtp_server_decision_chunk tells the size of the chunk of the BDAT whose decision is being
 * made (in on_data_start: that of a BDAT read ahead included), and whether it is the last
 * (BDAT ... LAST). With SMTP_SERVER_CHUNK_AHEAD a proxy knows from it when the content it
 * forwards ahead is complete.
 *
 * @param srv   The session.
 * @param size  Receives the chunk's size in octets, or NULL.
 * @param last  Receives 1 for BDAT ... LAST, else 0; or NULL.
 * @return 0; SMTP_ERR_INVALID_STATE when the decision is not a BDAT's (none, DATA, another
 *         command); SMTP_ERR_INVALID_ARGUMENT when srv is NULL.
 */
SMTP_API int smtp_server_decision_chunk(const smtp_server *srv, uint64_t *size, int *last);

/**
 * smtp_server_reply_to answers decision `id` (smtp_server_decision), pending or read ahead,
 * as smtp_server_reply answers the oldest one.
 *
 * The codes allowed are smtp_server_reply's. The replies leave in command order: an answer to
 * a decision read ahead (settings.max_pending above 1) is checked and kept, and its reply goes
 * out once every decision before it was answered (then the engine judges the command as if it
 * had just been read: a RCPT after a refused MAIL gets 503 5.5.1, a DATA or BDAT without an
 * accepted recipient 554 5.5.1, whatever the answer). So the engine may carry on from inside
 * this call with the commands that answer frees (an empty BDAT chunk's on_message_end, an
 * on_message_abort NO_RECIPIENTS); called from a callback, it carries on once the callbacks
 * returned. On SMTP_ERR_INVALID_ARGUMENT, SMTP_ERR_UNSAFE_ARGUMENT, SMTP_ERR_INVALID_STATE and
 * SMTP_ERR_NOBUF nothing changes and the decision stays pending.
 *
 * @code
 * // In on_rcpt: keep the id, ask upstream, return SMTP_SERVER_DEFER. Upstream's reply:
 * rv = smtp_server_reply_to(srv, id, 550, "5.1.1", "No such user", 12);
 * @endcode
 *
 * @param srv       The session.
 * @param id        The decision's id, from smtp_server_decision.
 * @param code      The reply code (see smtp_server_reply), or 0 for the default acceptance.
 * @param enhanced  An RFC 3463 code of the reply code's class, or NULL (see
 *                  smtp_server_reply).
 * @param text      One line of text, `len` octets, or NULL (with `len` 0) for a default text.
 * @param len       The length of `text`, at most 400 octets.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, `id` is 0 or was never given, or the answer
 *         is not one smtp_server_reply allows for that decision.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A control byte other than TAB or DEL in the text.
 * @retval SMTP_ERR_INVALID_STATE Decision `id` is not pending: it was answered already, or
 *         dropped when the session ended or closed (a 421); or the session failed.
 * @retval SMTP_ERR_NOBUF The output queue has no room for the reply: write, then reply again
 *         (only for the oldest decision pending).
 * @retval SMTP_ERR_CALLBACK_FAILURE The decision was made, but a callback it led to failed:
 *         fatal and sticky.
 * @retval SMTP_ERR_NOMEM The decision was made, but the output queue could not grow: fatal and
 *         sticky.
 */
SMTP_API int smtp_server_reply_to(smtp_server *srv, uint64_t id, int code, const char *enhanced,
                                  const char *text, size_t len);

/** The longest text of a relayed reply (smtp_server_relay_to), its lines joined by LF. */
#define SMTP_SERVER_MAX_RELAY_TEXT 400
/** The most lines a relayed reply (smtp_server_relay_to) may have. */
#define SMTP_SERVER_MAX_RELAY_LINES 16

/**
 * smtp_server_relay_to answers decision `id` with another server's reply, relayed as it is:
 * what a proxy or a content filter does with its upstream's verdict.
 *
 * `text` is the reply as smtp_client_reply reports it: the text of each line after the code
 * and its separator (enhanced status codes included), lines joined by LF. It goes out line by
 * line behind `code`, "-" after the code of every line but the last, " " on the last one,
 * nothing added or changed: no enhanced code of the engine's, no hostname before a greeting's
 * text; an empty line goes as the code alone. So a 354 keeps its text, and a multi-line
 * refusal keeps its lines. An accepted hello and an accepted first BDAT are the exceptions:
 * the engine's own reply goes out (its capability list; the chunk's reply after it). Otherwise
 * as smtp_server_reply_to: the codes each decision allows (but 0, the default acceptance), the
 * replies in command order, what the engine does once a decision is answered.
 *
 * @code
 * // A client engine's on_rcpt for the recipient whose RCPT the server deferred (id kept):
 * smtp_server_relay_to(srv, id, reply->code, reply->text.ptr, reply->text.len);
 * @endcode
 *
 * @param srv   The session.
 * @param id    The decision's id (smtp_server_decision), or 0 for the decision smtp_server_reply
 *              would answer.
 * @param code  The reply code, 200..599, one the decision allows (see smtp_server_reply).
 * @param text  The lines' text joined by LF, `len` octets; NULL with `len` 0 for one line
 *              without text.
 * @param len   The length of `text`, at most SMTP_SERVER_MAX_RELAY_TEXT octets.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL; `id` was never given; `code` outside
 *         200..599 or not one the decision allows; `text` NULL with `len` > 0, `len` over
 *         SMTP_SERVER_MAX_RELAY_TEXT octets, or more than SMTP_SERVER_MAX_RELAY_LINES lines.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A control byte other than TAB and LF (CR, NUL...) or DEL in
 *         the text.
 * @retval SMTP_ERR_INVALID_STATE `id` 0 and no decision pending, or decision `id` is not
 *         pending (see smtp_server_reply_to); or the session failed.
 * @retval SMTP_ERR_NOBUF The output queue has no room for the reply: write, then relay again.
 * @retval SMTP_ERR_CALLBACK_FAILURE The decision was made, but a callback it led to failed:
 *         fatal and sticky.
 * @retval SMTP_ERR_NOMEM The decision was made, but the output queue could not grow: fatal and
 *         sticky.
 */
SMTP_API int smtp_server_relay_to(smtp_server *srv, uint64_t id, int code, const char *text,
                                  size_t len);

/**
 * smtp_server_auth_challenge answers a pending on_sasl step with a challenge: "334 " and the
 * base64 of `data`.
 *
 * The client's response comes back as the next on_sasl step; "*" from the client cancels
 * (501 5.0.0). On the errors other than SMTP_ERR_NOMEM nothing changes.
 *
 * @param srv   The session.
 * @param data  The challenge, raw octets (before base64); may be NULL when `len` is 0.
 * @param len   The length of `data`, at most SMTP_SERVER_MAX_CHALLENGE; 0 for an empty
 *              challenge ("334 ").
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, `data` is NULL with `len` > 0, or `len` is
 *         over SMTP_SERVER_MAX_CHALLENGE.
 * @retval SMTP_ERR_INVALID_STATE No on_sasl decision is pending, or the session failed or is
 *         closing.
 * @retval SMTP_ERR_NOBUF No room in the output queue: write, then call again.
 * @retval SMTP_ERR_NOMEM The output queue could not grow: the session failed (fatal and
 *         sticky).
 */
SMTP_API int smtp_server_auth_challenge(smtp_server *srv, const char *data, size_t len);

/**
 * smtp_server_auth_accept ends a pending on_auth or on_sasl decision with success: "235 2.7.0
 * Authentication successful".
 *
 * `identity` becomes the authenticated identity (smtp_server_auth_identity). On the errors
 * other than SMTP_ERR_NOMEM nothing changes.
 *
 * @param srv       The session.
 * @param identity  The identity, `len` octets, copied. For on_auth, NULL keeps the default
 *                  (authzid, else authcid); for on_auth_token, NULL takes the authzid, else
 *                  XOAUTH2's user; for on_sasl it is required.
 * @param len       The length of `identity`, 1 .. SMTP_SERVER_MAX_IDENTITY; 0 with `identity`
 *                  NULL.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL; `identity` NULL with `len` > 0, for
 *         on_sasl, or for on_auth_token without an authzid or user; `len` 0 or over
 *         SMTP_SERVER_MAX_IDENTITY with an identity.
 * @retval SMTP_ERR_UNSAFE_ARGUMENT A control byte (TAB included) or DEL in the identity.
 * @retval SMTP_ERR_INVALID_STATE No on_auth, on_sasl or on_auth_token decision is pending
 *         (none was asked, it was answered, or the session ended), or the session failed.
 * @retval SMTP_ERR_NOBUF No room for the reply in the output queue: write, then call again.
 * @retval SMTP_ERR_NOMEM The output queue could not grow: the session failed (fatal and
 *         sticky).
 */
SMTP_API int smtp_server_auth_accept(smtp_server *srv, const char *identity, size_t len);

/**
 * smtp_server_auth_password answers a pending on_auth_lookup of CRAM-MD5 with the user's
 * password: the engine checks the client's digest (RFC 2195 2, compared in constant time) and
 * ends the exchange with 235 2.7.0 or 535 5.7.8.
 *
 * On the errors other than SMTP_ERR_NOMEM and SMTP_ERR_CALLBACK_FAILURE nothing changes and
 * the decision stays pending.
 *
 * @param srv       The session.
 * @param password  The password, `len` octets (used as given: no SASLprep); not kept.
 * @param len       The length of `password`, at least 1.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` or `password` is NULL, `len` is 0, or the exchange
 *         is not CRAM-MD5.
 * @retval SMTP_ERR_INVALID_STATE No on_auth_lookup decision is pending, or the session failed.
 * @retval SMTP_ERR_NOBUF No room for the reply in the output queue: write, then call again.
 * @retval SMTP_ERR_CALLBACK_FAILURE A crypto function failed: fatal and sticky.
 * @retval SMTP_ERR_NOMEM The output queue could not grow: fatal and sticky.
 */
SMTP_API int smtp_server_auth_password(smtp_server *srv, const char *password, size_t len);

/**
 * smtp_server_auth_scram answers a pending on_auth_lookup of SCRAM-SHA-256 with the user's
 * stored credentials: the engine sends the server-first message (its nonce from the crypto
 * hook's random, the salt and the iteration count), checks the client's proof (RFC 5802 3:
 * H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey, in constant time), proves
 * itself with the ServerSignature ("v=", in a 334) and ends the exchange with 235 2.7.0, or
 * 535 5.7.8 for a wrong proof.
 *
 * On the errors other than SMTP_ERR_NOMEM and SMTP_ERR_CALLBACK_FAILURE nothing changes and
 * the decision stays pending.
 *
 * @param srv   The session.
 * @param cred  The credentials, copied (smtp_server_scram_make).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` or `cred` is NULL, the salt is empty or over
 *         SMTP_SERVER_SCRAM_SALT_MAX octets, the iteration count 0, or the exchange is not
 *         SCRAM-SHA-256.
 * @retval SMTP_ERR_INVALID_STATE No on_auth_lookup decision is pending, or the session failed.
 * @retval SMTP_ERR_NOBUF No room for the challenge in the output queue: write, then call
 *         again.
 * @retval SMTP_ERR_CALLBACK_FAILURE The crypto hook's random failed: fatal and sticky.
 * @retval SMTP_ERR_NOMEM The output queue could not grow: fatal and sticky.
 */
SMTP_API int smtp_server_auth_scram(smtp_server *srv, const smtp_server_scram *cred);

/**
 * smtp_server_scram_make computes the SCRAM-SHA-256 credentials a server stores for a password
 * (RFC 5802 3): SaltedPassword = Hi(password, salt, iterations), then StoredKey and ServerKey.
 *
 * It runs hmac_sha256 `iterations` times. The password is used as given: no SASLprep (a
 * client that normalises a non-ASCII password differently will not match).
 *
 * @param out         Receives the credentials (the salt copied).
 * @param crypto      The crypto hook: hmac_sha256 and sha256 are used.
 * @param password    The password, `len` octets.
 * @param len         The length of `password`, at least 1.
 * @param salt        The salt, random and per user: `salt_len` octets.
 * @param salt_len    1 .. SMTP_SERVER_SCRAM_SALT_MAX.
 * @param iterations  The iteration count, at least 1 (RFC 7677 4: 4096 or more).
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT A pointer is NULL, hmac_sha256 or sha256 is missing, `len`
 *         is 0, `salt_len` is out of range, or `iterations` is 0.
 * @retval SMTP_ERR_CALLBACK_FAILURE A crypto function failed (then `*out` is zeroed).
 */
SMTP_API int smtp_server_scram_make(smtp_server_scram *out, const smtp_crypto *crypto,
                                    const char *password, size_t len, const unsigned char *salt,
                                    size_t salt_len, uint32_t iterations);

/**
 * smtp_server_helo returns the name the client gave with the accepted HELO, EHLO or LHLO.
 *
 * The name is kept only with SMTP_SERVER_ENVELOPE.
 *
 * @param srv  The session, or NULL.
 * @return The name (at most 255 octets, not NUL-terminated), valid until the next hello or
 *         smtp_server_del; {NULL, 0} for NULL, without SMTP_SERVER_ENVELOPE, before a hello
 *         was accepted, and after the TLS handshake of STARTTLS or an accepted XCLIENT until
 *         the next one.
 */
SMTP_API smtp_span smtp_server_helo(const smtp_server *srv);

/**
 * smtp_server_set_client_address tells the session the client's address and port, as the
 * adapter learned them from the socket.
 *
 * The I/O adapter of <smtp/io.h> does it for every session it makes. A PROXY header
 * (SMTP_SERVER_PROXY) of family TCP4 or TCP6 and an accepted XCLIENT with ADDR or PORT replace
 * them with the client they speak for. It may be called at any time.
 *
 * @param srv   The session.
 * @param addr  The address, NUL-terminated: a dotted quad or IPv6 text (RFC 4291 2.2, without
 *              brackets or zone). Copied (and kept in RFC 5952 form).
 * @param port  The port, 0 .. 65535.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` or `addr` is NULL, `addr` is not an address, or
 *         `port` is over 65535.
 */
SMTP_API int smtp_server_set_client_address(smtp_server *srv, const char *addr, unsigned port);

/**
 * smtp_server_client_address returns the client's address as text and stores its port in
 * `*port`.
 *
 * @param srv   The session, or NULL.
 * @param port  Receives the port when not NULL; 0 while the address is unknown.
 * @return The address, a dotted quad or IPv6 in RFC 5952 form ("2001:db8::1",
 *         "::ffff:192.0.2.1"), NUL-terminated and owned by the session until it changes; or
 *         NULL while it is unknown (never set, a PROXY header of family UNIX, XCLIENT
 *         ADDR=[UNAVAILABLE]) and for NULL `srv`.
 */
SMTP_API const char *smtp_server_client_address(const smtp_server *srv, unsigned *port);

/**
 * smtp_server_tls tells whether the session runs over TLS: from the start (SMTP_SERVER_TLS,
 * implicit TLS) or since smtp_server_tls_done(srv, 1) after STARTTLS.
 *
 * @param srv  The session, or NULL.
 * @return 1 over TLS, else 0 (0 for NULL).
 */
SMTP_API int smtp_server_tls(const smtp_server *srv);

/**
 * smtp_server_auth_identity returns the authenticated identity of the client.
 *
 * Authentication lasts for the session: RSET and EHLO keep it; the TLS handshake of STARTTLS
 * and XCLIENT end it (an XCLIENT LOGIN sets a new one).
 *
 * @param srv  The session, or NULL.
 * @return The identity (NUL-terminated, at most SMTP_SERVER_MAX_IDENTITY octets, owned by the
 *         session and valid until the next state change), or NULL while the client is not
 *         authenticated (and for NULL).
 */
SMTP_API const char *smtp_server_auth_identity(const smtp_server *srv);

/**
 * smtp_server_set_trust sets the SMTP_SERVER_TRUST_* bits granted to the peer, replacing
 * settings.trust.
 *
 * Call it once the peer's address is known, from on_connect or on_proxy for example: it may be
 * called from a callback. The next EHLO reply advertises XCLIENT/XFORWARD accordingly.
 *
 * @param srv    The session.
 * @param trust  SMTP_SERVER_TRUST_XCLIENT and SMTP_SERVER_TRUST_XFORWARD, or'ed; 0 for none.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, or `trust` has an unknown bit.
 */
SMTP_API int smtp_server_set_trust(smtp_server *srv, unsigned trust);

/**
 * smtp_server_set_extensions changes, for this session, the extensions the EHLO (or LHLO)
 * reply advertises and the message size limit, replacing settings.extensions and
 * settings.max_message_size.
 *
 * A proxy calls it once it knows what its upstream offers, from a deferred on_connect or
 * on_helo: its own extensions intersected with upstream's, and the smaller SIZE. It may be
 * called from a callback, and only until a hello is accepted (the client may rely on the
 * list from then on, and a transaction may begin under the limit): again after the TLS
 * handshake of STARTTLS or an accepted XCLIENT, which forget the hello. Everything the
 * extensions govern follows: the parameters MAIL and RCPT accept, BDAT, STARTTLS, AUTH,
 * PIPELINING (no command is read ahead without it), the enhanced codes of the replies after
 * this call.
 *
 * @param srv               The session.
 * @param extensions        SMTP_SERVER_EXT_* bits, or'ed: only bits of settings.extensions (the
 *                          session was checked and sized for those: AUTH's mechanisms and
 *                          buffers, FUTURERELEASE's values).
 * @param max_message_size  The largest message in octets, shown by SIZE; 0: no limit.
 * @return 0 on success, or one of these negative error codes (then nothing changes):
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL, `extensions` has a bit settings.extensions
 *         lacks, or the EHLO reply would not fit in 2048 octets.
 * @retval SMTP_ERR_INVALID_STATE A hello was accepted since the session began (or since the
 *         last STARTTLS handshake or XCLIENT), or the session failed.
 */
SMTP_API int smtp_server_set_extensions(smtp_server *srv, unsigned extensions,
                                        uint64_t max_message_size);

/**
 * smtp_server_pending tells whether a decision waits for smtp_server_reply.
 *
 * @param srv  The session, or NULL.
 * @return 1 while a decision is pending (or, settings.max_pending above 1, a command read ahead
 *         waits for its turn), else 0 (0 for NULL).
 */
SMTP_API int smtp_server_pending(const smtp_server *srv);

/**
 * smtp_server_want_read tells whether the engine can consume input now.
 *
 * @param srv  The session, or NULL.
 * @return 1 when it can: started, no decision pending, not closing or failed, not waiting for
 *         TLS, no output held back (smtp_server_output_delay; past the soft error limit, any
 *         output pending), no LMTP reply waiting for room, and room for replies in the output
 *         queue; and with settings.max_pending above 1, while a MAIL's or RCPT's decision is
 *         pending, as long as a command may be read ahead (room for one more, no DATA or BDAT
 *         read ahead, and the next command not seen yet to be one that must wait); else 0 (0
 *         for NULL).
 */
SMTP_API int smtp_server_want_read(const smtp_server *srv);

/**
 * smtp_server_want_write tells whether output is pending (see smtp_server_output_delay for
 * when to send it).
 *
 * @param srv  The session, or NULL.
 * @return 1 when output is pending, else 0 (0 for NULL).
 */
SMTP_API int smtp_server_want_write(const smtp_server *srv);

/**
 * smtp_server_output_delay tells how long the adapter should hold the pending output before it
 * writes it (smtp_server_write).
 *
 * The delay is non-zero once the client has made soft_error_limit error replies (Postfix's
 * smtpd_soft_error_limit and smtpd_error_sleep_time): every reply after that is delayed by
 * error_delay_ms. The delay counts from when the adapter first sees the value non-zero (arm a
 * timer, without blocking other connections), and smtp_server_write ends it. Meanwhile the
 * engine consumes no input (smtp_server_want_read is 0, smtp_server_read stops right after the
 * command that drew the reply, so each reply is delayed on its own) and smtp_server_timeout is
 * 0 (the wait for the client starts once the reply was sent). An adapter that ignores it just
 * does not delay. smtp_server_shutdown and smtp_server_timeout_expired cancel the delay.
 *
 * @param srv  The session, or NULL.
 * @return The delay in milliseconds, or 0 to write now (also when nothing is pending, and for
 *         NULL).
 */
SMTP_API unsigned smtp_server_output_delay(const smtp_server *srv);

/**
 * smtp_server_want_tls tells whether the adapter should now run the TLS handshake of STARTTLS.
 *
 * That is from the moment the 220 reply to STARTTLS is queued until smtp_server_tls_done. The
 * adapter then writes out all pending output (until smtp_server_want_write is 0), then runs the
 * TLS handshake and reads no more plaintext (RFC 3207 4.2; bytes already read after the
 * STARTTLS line are never consumed: drop them).
 *
 * @param srv  The session, or NULL.
 * @return 1 in that state; 0 otherwise, once the session is closing (plaintext injected after
 *         STARTTLS, a shutdown) or failed, and for NULL.
 */
SMTP_API int smtp_server_want_tls(const smtp_server *srv);

/**
 * smtp_server_in_transaction tells whether a mail transaction is open.
 *
 * A transaction is open from an accepted MAIL until it ends (the final reply to its message,
 * RSET, HELO/EHLO, STARTTLS, QUIT, an abort). A MAIL still being decided is
 * smtp_server_pending, not yet a transaction. An adapter stopping gracefully lets sessions in a
 * transaction (or with a decision pending) finish first.
 *
 * @param srv  The session, or NULL.
 * @return 1 in a transaction, else 0 (0 for NULL).
 */
SMTP_API int smtp_server_in_transaction(const smtp_server *srv);

/**
 * smtp_server_memory tells how many octets the session holds from its allocator now.
 *
 * That is the session itself, its setting strings, the command parser, the output queue,
 * (once used) the decoding buffer and the slots of commands read ahead (settings.max_pending)
 * and (SMTP_SERVER_ENVELOPE) the envelope's buffers; not the allocator's own overhead.
 *
 * @param srv  The session, or NULL.
 * @return The octets held, 0 for NULL.
 */
SMTP_API size_t smtp_server_memory(const smtp_server *srv);

/**
 * smtp_server_want_close tells whether the connection should be closed now.
 *
 * That is after QUIT's 221, a 421, a 521, a failed TLS handshake, a malformed PROXY header, a
 * pipelining violation (554), smtp_server_eof, smtp_server_timeout_expired,
 * smtp_server_shutdown or a fatal error, once all output was written.
 *
 * @param srv  The session, or NULL.
 * @return 1 when the connection should be closed (1 for NULL), else 0.
 */
SMTP_API int smtp_server_want_close(const smtp_server *srv);

/**
 * smtp_server_tls_done reports the end of the TLS handshake after STARTTLS.
 *
 * With `ok` non-zero the session goes on over TLS (RFC 3207 4.2): every piece of session state
 * is forgotten (HELO, transaction, AUTH), EHLO is required again and STARTTLS is no longer
 * offered; feed decrypted bytes from now on. With `ok` 0 the handshake failed: nothing more
 * can be said in either plaintext or TLS, so the session closes without a word
 * (smtp_server_want_close).
 *
 * @param srv  The session.
 * @param ok   Non-zero when the handshake succeeded, 0 when it failed.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL.
 * @retval SMTP_ERR_INVALID_STATE No STARTTLS is waiting, output is still pending (the 220 has
 *         not been written yet), the session is closing, or called from a callback.
 */
SMTP_API int smtp_server_tls_done(smtp_server *srv, int ok);

/** What the server is waiting for (smtp_server_timeout). */
typedef enum smtp_server_wait {
    SMTP_SERVER_WAIT_NONE = 0, /**< for the application or the adapter, or closing: no timer */
    SMTP_SERVER_WAIT_COMMAND,  /**< a command (or the PROXY header, or a SASL response) */
    SMTP_SERVER_WAIT_DATA      /**< more message data (DATA content, a BDAT chunk) */
} smtp_server_wait;

/**
 * smtp_server_timeout says what the server waits for from the client now, and the timeout that
 * applies from the settings (RFC 5321 4.5.3.2).
 *
 * The timeout is timeout_command between commands and timeout_data inside a message. The
 * adapter restarts its timer whenever it feeds bytes and when the value returned changes.
 *
 * @param srv  The session, or NULL.
 * @param ms   Receives the timeout in milliseconds when not NULL; 0 with SMTP_SERVER_WAIT_NONE.
 * @return SMTP_SERVER_WAIT_COMMAND or SMTP_SERVER_WAIT_DATA, or SMTP_SERVER_WAIT_NONE when no
 *         client timeout applies (not started, a decision is pending, a TLS handshake, closing
 *         or failed, output held by smtp_server_output_delay; NULL).
 */
SMTP_API smtp_server_wait smtp_server_timeout(const smtp_server *srv, uint32_t *ms);

/**
 * smtp_server_timeout_expired tells the engine that the timeout from smtp_server_timeout
 * passed without input.
 *
 * The engine queues "421 4.4.2 <hostname> Error: timeout exceeded", drops any message in
 * progress (on_message_abort TIMEOUT) and closes. An open transaction without a message is
 * reported (on_reset) and a pending decision is dropped. A 421 that finds no room in the output
 * queue is dropped and the call succeeds; before the PROXY header was read none is queued.
 *
 * @param srv  The session.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL.
 * @retval SMTP_ERR_INVALID_STATE Called from a callback, or the session is closing or failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message_abort or on_reset returned a negative value.
 * @retval SMTP_ERR_NOMEM The output queue could not grow for the 421: fatal and sticky, the
 *         session only wants to close.
 */
SMTP_API int smtp_server_timeout_expired(smtp_server *srv);

/**
 * smtp_server_shutdown ends the session from the server's side (RFC 5321 3.8).
 *
 * The engine queues "421 4.3.2 <hostname> Service shutting down", drops any message in progress
 * (on_message_abort SHUTDOWN) and closes. As smtp_server_timeout_expired: an open transaction
 * is reported (on_reset), a pending decision dropped, a 421 without room dropped, and none
 * queued before the PROXY header.
 *
 * @param srv  The session.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL.
 * @retval SMTP_ERR_INVALID_STATE Called from a callback, or the session is closing or failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message_abort or on_reset returned a negative value.
 * @retval SMTP_ERR_NOMEM The output queue could not grow for the 421: fatal and sticky, the
 *         session only wants to close.
 */
SMTP_API int smtp_server_shutdown(smtp_server *srv);

/**
 * smtp_server_eof tells the engine that the client closed the connection (or it broke).
 *
 * A message in progress is aborted (on_message_abort EOF; nothing is acknowledged), an open
 * transaction reported (on_reset), a pending decision dropped. The session then only wants to
 * close. It may be called after the session decided to close (after QUIT or a 421).
 *
 * @param srv  The session.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `srv` is NULL.
 * @retval SMTP_ERR_INVALID_STATE Called from a callback, or the session failed.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_message_abort or on_reset returned a negative value.
 */
SMTP_API int smtp_server_eof(smtp_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_SERVER_H */
