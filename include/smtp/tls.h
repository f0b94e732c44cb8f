/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the optional TLS adapter (library smtp_tls, CMake target smtp::tls), built on
 * mbedTLS 2.28 or 3.x. It is a byte-stream filter that knows no socket: ciphertext goes in and
 * out on the network side, plaintext in and out on the application side. The adapter that owns
 * the socket (or a test's in-memory pipe) moves the ciphertext; the SMTP engines (smtp_client,
 * smtp_server) read and write the plaintext. This header includes no mbedTLS header.
 *
 * Usage: one config per role, shared by every connection (it holds the certificates, the CA
 * chain and the random generator, seeded once), one session per connection.
 *
 *   smtp_tls_settings ts;
 *   smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);      // verification ON by default
 *   ts.ca_file = "my-ca.pem";            // optional: the system's store by default
 *   smtp_tls_config *cfg;
 *   char why[256];
 *   if (smtp_tls_config_new(&cfg, &ts, NULL, why, sizeof why) < 0) die(why);
 *
 *   // STARTTLS (RFC 3207): once smtp_client_want_tls(cli) is 1 (the server, once its
 *   // "220 Ready to start TLS" was written out: on_starttls), or at once for implicit TLS
 *   // (RFC 8314; set SMTP_CLIENT_TLS / SMTP_SERVER_TLS in the settings' flags):
 *   smtp_tls *tls;
 *   smtp_tls_new(&tls, cfg, "mail.example.org", NULL);  // server: NULL host name
 *   loop:
 *     n = recv(fd, net, sizeof net);   smtp_tls_feed(tls, net, n);   // keep what it left
 *     (on end of file: smtp_tls_feed_eof(tls))
 *     while ((m = smtp_tls_pull(tls, out, sizeof out)) > 0) send(fd, out, m);
 *     if (smtp_tls_get_state(tls) == SMTP_TLS_FAILED) -> log smtp_tls_error(tls);
 *                                                   smtp_client_tls_done(cli, 0), close
 *     first time SMTP_TLS_OPEN: smtp_client_tls_done(cli, 1) / smtp_server_tls_done(srv, 1);
 *                               log smtp_tls_version(tls), smtp_tls_ciphersuite(tls)
 *     p = smtp_tls_read(tls, plain, sizeof plain);    -> smtp_client_read / smtp_server_read
 *     q = smtp_client_write(cli, buf, sizeof buf);    -> smtp_tls_write(tls, buf, q)
 *   smtp_tls_close(tls); pull and send the close_notify; smtp_tls_del(tls);
 *   smtp_tls_config_del(cfg);                          // after its last session
 *
 * The handshake runs by itself inside feed, pull, read and write: a client's first pull
 * gives its ClientHello. Each call does what it can now and never waits: 0 means "nothing now",
 * and the state, smtp_tls_want_pull and smtp_tls_want_feed say what is missing.
 *
 * DANE (RFC 7672): a client session given the server's TLSA records (smtp_tls_set_dane, after
 * smtp_tls_new) is authenticated by them instead of certificate authorities;
 * smtp_tls_dane_result and smtp_tls_verify_text tell the outcome.
 *
 * Errors: negative SMTP_ERR_* codes (there is no TLS-specific code): SMTP_ERR_PROTO for a
 * failed handshake or a broken TLS stream (a certificate that does not verify, a host name
 * mismatch, a DANE mismatch, garbage, a truncated stream), SMTP_ERR_NOMEM when mbedTLS or the
 * allocator runs out of memory. They are sticky: the session is SMTP_TLS_FAILED, and
 * smtp_tls_error gives the mbedTLS text (mbedtls_strerror) and smtp_tls_error_code the mbedTLS
 * code.
 *
 * Threads: a session is used by one thread at a time. Sessions of one config may run in
 * different threads only when mbedTLS was built with MBEDTLS_THREADING_C (Debian's is): the
 * shared random generator then locks itself.
 */
#ifndef SMTP_TLS_H
#define SMTP_TLS_H

#include <smtp/common.h>
#include <smtp/io.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The side of the connection a config serves. */
typedef enum smtp_tls_role { SMTP_TLS_CLIENT = 0, SMTP_TLS_SERVER = 1 } smtp_tls_role;

/** How the peer's certificate is checked (smtp_tls_settings.verify). */
typedef enum smtp_tls_verify {
    /**
     * Client: the server's chain must lead to a configured CA and name the host given to
     * smtp_tls_new, or the handshake fails. Server: a client certificate is required and must
     * lead to a configured CA. The client's default.
     */
    SMTP_TLS_VERIFY_REQUIRED = 0,
    /**
     * The certificate is checked and the outcome reported (smtp_tls_verify_result), but a
     * failure does not stop the handshake. DANGEROUS for a client: an active attacker can read
     * and change the session (opportunistic TLS, RFC 7435; log the result). Server: a client
     * certificate is asked for, not required.
     */
    SMTP_TLS_VERIFY_OPTIONAL = 1,
    /**
     * No check at all. DANGEROUS for a client, as above, and nothing is reported. Server: no
     * client certificate is asked for (the server's default).
     */
    SMTP_TLS_VERIFY_NONE = 2
} smtp_tls_verify;

/** The lowest protocol version accepted (smtp_tls_settings.min_version). */
typedef enum smtp_tls_version_min {
    SMTP_TLS_MIN_1_2 = 0, /**< TLS 1.2 (RFC 8314 4.1 requires at least 1.2); the default */
    SMTP_TLS_MIN_1_3 = 1  /**< TLS 1.3 only: needs an mbedTLS 3.x built with TLS 1.3 */
} smtp_tls_version_min;

/** The smallest per-session ciphertext buffer (smtp_tls_settings.in_buffer, .out_buffer). */
#define SMTP_TLS_MIN_BUFFER 1024
/** The default: one whole TLS record (16384 octets of data and its header and overhead). */
#define SMTP_TLS_DEFAULT_BUFFER 17408
/** The largest per-session ciphertext buffer: 16 MiB (more buys nothing; a record is 17 KiB). */
#define SMTP_TLS_MAX_BUFFER 16777216

/** The version of smtp_tls_settings this header describes (common.h: versioned structs). */
#define SMTP_TLS_SETTINGS_VERSION 2

/**
 * Settings of a config. Fill with smtp_tls_settings_init, then change fields. Strings are read
 * by smtp_tls_config_new only (they need not outlive the call). Certificates and keys come
 * from PEM (or DER) files or from NUL-terminated PEM text in memory; both may be given for the
 * CA, which then holds both.
 */
typedef struct smtp_tls_settings {
    smtp_tls_role role; /**< client or server */
    /** SMTP_TLS_VERIFY_REQUIRED for a client, SMTP_TLS_VERIFY_NONE for a server by default. */
    smtp_tls_verify verify;
    smtp_tls_version_min min_version; /**< SMTP_TLS_MIN_1_2 by default */
    /**
     * The own certificate chain (leaf first, then intermediates) and its private key: required
     * for a server, optional for a client (a client certificate). NULL: none.
     */
    /** @{ */
    const char *cert_file;
    const char *key_file;
    const char *cert_pem;
    const char *key_pem;
    const char *key_password; /**< for an encrypted key; NULL: none */
    /** @} */
    /**
     * Trusted CAs: a file of certificates, a directory whose every file is read (Debian:
     * "/etc/ssl/certs"), PEM text. Any of them replaces the system's store. A client that
     * verifies (verify not SMTP_TLS_VERIFY_NONE) and names none of them gets the system's
     * store: the first of these files that can be read and holds certificates,
     * /etc/ssl/certs/ca-certificates.crt (Debian, Ubuntu), /etc/pki/tls/certs/ca-bundle.crt
     * (Fedora, RHEL), /etc/ssl/cert.pem (the BSDs, macOS), else the directory /etc/ssl/certs;
     * none found makes smtp_tls_config_new fail. A server that asks for client certificates
     * (verify not NONE) must name its CAs: it gets no system store.
     */
    /** @{ */
    const char *ca_file;
    const char *ca_path;
    const char *ca_pem;
    /** @} */
    /**
     * The ciphertext buffers of each session, in octets, allocated by smtp_tls_new: received
     * bytes not yet decrypted (in) and encrypted bytes not yet pulled (out). Default
     * SMTP_TLS_DEFAULT_BUFFER each, from SMTP_TLS_MIN_BUFFER to SMTP_TLS_MAX_BUFFER. Smaller
     * buffers only mean more calls. mbedTLS adds its own record buffers (about 2 x 16 KiB per session).
     */
    /** @{ */
    size_t in_buffer;
    size_t out_buffer;
    /** @} */
    /**
     * Version 2. A server's TLS 1.2 session tickets (RFC 5077): the seconds a ticket stays good,
     * which is also how long each ticket key is used (mbedTLS's ticket module keeps two, made
     * from the config's random generator). 0, the default: no tickets, every handshake is full.
     * Up to SMTP_TLS_MAX_TICKET_LIFETIME. A client that resumes with a ticket skips the key
     * exchange and the signature; the resumed session keeps the keys of the full handshake that
     * issued the ticket, so whoever holds a ticket key can read the sessions of its tickets:
     * their forward secrecy starts when the key is dropped, up to twice the lifetime after the
     * handshake. Must be 0 for a client.
     */
    unsigned ticket_lifetime;
} smtp_tls_settings;

/** The longest smtp_tls_settings.ticket_lifetime, in seconds: one day. */
#define SMTP_TLS_MAX_TICKET_LIFETIME 86400u

/**
 * smtp_tls_settings_init fills `*s` with the defaults for `role`, in this header's version of
 * smtp_tls_settings.
 *
 * A macro: smtp_tls_settings_init_versioned with SMTP_TLS_SETTINGS_VERSION. See
 * smtp_tls_settings_init_versioned.
 */
#define smtp_tls_settings_init(s, role)                                                            \
    smtp_tls_settings_init_versioned(SMTP_TLS_SETTINGS_VERSION, (s), (role))
/**
 * smtp_tls_settings_init_versioned fills the fields of smtp_tls_settings version `version`
 * with their defaults for `role`.
 *
 * The defaults: verification SMTP_TLS_VERIFY_REQUIRED for a client and SMTP_TLS_VERIFY_NONE
 * for a server, TLS 1.2 at least, SMTP_TLS_DEFAULT_BUFFER for both buffers, no file and no
 * PEM text, no session tickets. Call it through smtp_tls_settings_init, then change fields.
 *
 * @param version  The version of smtp_tls_settings the caller was built with
 *                 (1 .. SMTP_TLS_SETTINGS_VERSION); another version is ignored.
 * @param s        The settings to fill, every field; NULL is ignored.
 * @param role     SMTP_TLS_CLIENT or SMTP_TLS_SERVER: stored in `s->role`, and chooses the
 *                 verification default.
 */
SMTP_API void smtp_tls_settings_init_versioned(int version, smtp_tls_settings *s,
                                               smtp_tls_role role);

/** The shared configuration: certificates, CA chain, random generator. Opaque. */
typedef struct smtp_tls_config smtp_tls_config;

/**
 * smtp_tls_config_new creates a config in `*pcfg` from settings of this header's version.
 *
 * A macro: smtp_tls_config_new_versioned with SMTP_TLS_SETTINGS_VERSION. See
 * smtp_tls_config_new_versioned.
 */
#define smtp_tls_config_new(pcfg, settings, mem, err, errlen)                                      \
    smtp_tls_config_new_versioned((pcfg), SMTP_TLS_SETTINGS_VERSION, (settings), (mem), (err),     \
                                  (errlen))
/**
 * smtp_tls_config_new_versioned creates the configuration that the sessions of one role share,
 * in `*pcfg`.
 *
 * It seeds the random generator (mbedTLS entropy and CTR-DRBG, once for every session of the
 * config), loads the certificates, key and CAs, and checks that the key matches the
 * certificate. Call it through smtp_tls_config_new. Free the config with smtp_tls_config_del
 * after its last session.
 *
 * @code
 *   smtp_tls_settings ts;
 *   smtp_tls_settings_init(&ts, SMTP_TLS_CLIENT);   // verification on by default
 *   ts.ca_file = "my-ca.pem";                       // optional: the system's store by default
 *   smtp_tls_config *cfg;
 *   char why[256];
 *   if (smtp_tls_config_new(&cfg, &ts, NULL, why, sizeof why) < 0)
 *       fprintf(stderr, "TLS configuration: %s\n", why);
 * @endcode
 *
 * @param pcfg              Receives the config, which the caller owns; NULL on error.
 * @param settings_version  The version of smtp_tls_settings the caller was built with
 *                          (SMTP_TLS_SETTINGS_VERSION); the fields that version lacks keep
 *                          their defaults.
 * @param settings          The settings, read only during this call: its strings need not
 *                          outlive it.
 * @param mem               Allocates the config and, unless smtp_tls_new is given another, its
 *                          sessions; it must outlive them. NULL: smtp_mem_default().
 * @param err               When not NULL, a failure writes a NUL-terminated reason (the
 *                          setting and mbedTLS's text) to err[0..errlen); success leaves "".
 * @param errlen            The size of `err` in octets; 0 writes nothing.
 * @return 0 on success, or one of these negative error codes (then `*pcfg` is NULL, when
 *         `pcfg` is not NULL, and nothing stays allocated):
 * @retval SMTP_ERR_INVALID_ARGUMENT  `pcfg` or `settings` is NULL; a settings version this
 *         library lacks; a value out of range (role, verify, min_version, a buffer below
 *         SMTP_TLS_MIN_BUFFER or above SMTP_TLS_MAX_BUFFER); a certificate without a key or the reverse, or both a file and
 *         PEM text for one of them; a server without certificate and key; a server that
 *         verifies with no CA; a client that verifies with no CA given and no system store
 *         found; a file or text that does not load, or CAs given that hold no certificate; a
 *         key that does not match the certificate; SMTP_TLS_MIN_1_3 with an mbedTLS without
 *         TLS 1.3; a ticket_lifetime for a client, above SMTP_TLS_MAX_TICKET_LIFETIME, or with
 *         an mbedTLS without session tickets.
 * @retval SMTP_ERR_INVALID_STATE  The system gave no entropy to seed the random generator, or
 *         the PSA crypto of mbedTLS 3.x would not initialize.
 * @retval SMTP_ERR_NOMEM  The allocator or mbedTLS ran out of memory.
 */
SMTP_API int smtp_tls_config_new_versioned(smtp_tls_config **pcfg, int settings_version,
                                           const smtp_tls_settings *settings, const smtp_mem *mem,
                                           char *err, size_t errlen);

/**
 * smtp_tls_config_del frees a config.
 *
 * Every session made from it must be gone (smtp_tls_del), and every client that uses it
 * through smtp_tls_crypto.
 *
 * @param cfg  The config; NULL is ignored.
 */
SMTP_API void smtp_tls_config_del(smtp_tls_config *cfg);

/** One connection's TLS session. Opaque. */
typedef struct smtp_tls smtp_tls;

/** Where a session stands (smtp_tls_get_state). */
typedef enum smtp_tls_state {
    SMTP_TLS_HANDSHAKE = 0, /**< the handshake is in progress */
    SMTP_TLS_OPEN = 1,      /**< the handshake is done: application data flows */
    SMTP_TLS_CLOSED = 2,    /**< the peer sent close_notify: no more data will come from it */
    SMTP_TLS_FAILED = 3     /**< a fatal error: smtp_tls_error says which; pull what is left */
} smtp_tls_state;

/**
 * smtp_tls_new creates the TLS session of one connection in `*ps`, with config `cfg`.
 *
 * A client's `host` is the server's name: sent as SNI and, with verification, matched against
 * the certificate (RFC 6125; with SMTP it is the MX host or the submission server's name,
 * RFC 7672 / RFC 8314). An IP address as `host` ("192.0.2.1", "2001:db8::1", or as SMTP
 * writes address literals, "[192.0.2.1]", "[IPv6:2001:db8::1]") is not sent as SNI
 * (RFC 6066 3 allows host names only), and with verification the certificate must carry that
 * address among its subjectAltName iPAddress entries (compared as binary: RFC 6125 1.7.2,
 * RFC 5280 4.2.1.6); a mismatch is reported as BADCERT_CN_MISMATCH, with its own words in
 * smtp_tls_verify_text. The session and its two ciphertext buffers are allocated here, once;
 * mbedTLS allocates its own record buffers with its allocator.
 *
 * @code
 *   smtp_tls *tls;
 *   if (smtp_tls_new(&tls, cfg, "mail.example.org", NULL) < 0)   // a server: NULL host
 *       return -1;
 *   char out[SMTP_TLS_DEFAULT_BUFFER];
 *   smtp_ssize n;
 *   while ((n = smtp_tls_pull(tls, out, sizeof out)) > 0)   // first the ClientHello
 *       send(fd, out, (size_t)n, 0);
 *   // then feed what arrives (smtp_tls_feed) and pull again, until SMTP_TLS_OPEN
 * @endcode
 *
 * @param ps    Receives the session, which the caller owns (smtp_tls_del); NULL on error.
 * @param cfg   The config, borrowed: it must outlive the session.
 * @param host  For a client, the server's host name or IP address, as above; copied. NULL
 *              only for a client with SMTP_TLS_VERIFY_NONE. A server passes NULL.
 * @param mem   Allocates the session and its buffers; NULL: the config's allocator.
 * @return 0 on success, or one of these negative error codes (then `*ps` is NULL, when `ps`
 *         is not NULL):
 * @retval SMTP_ERR_INVALID_ARGUMENT  `ps` or `cfg` is NULL; a client whose verification is not
 *         SMTP_TLS_VERIFY_NONE without `host`; a server with a `host`; a `host` that is empty,
 *         over 255 octets, or holds a space or a control byte; mbedTLS refused the setup or
 *         the host name.
 * @retval SMTP_ERR_NOMEM  The allocator or mbedTLS ran out of memory.
 */
SMTP_API int smtp_tls_new(smtp_tls **ps, smtp_tls_config *cfg, const char *host,
                          const smtp_mem *mem);

/**
 * smtp_tls_del frees a session and its buffers.
 *
 * No close_notify is sent: see smtp_tls_close.
 *
 * @param tls  The session; NULL is ignored.
 */
SMTP_API void smtp_tls_del(smtp_tls *tls);

/**
 * smtp_tls_feed takes ciphertext received from the peer and advances the handshake with it.
 *
 * The ciphertext may be split anywhere. What fits in the in buffer is copied; when fewer than
 * `len` octets are taken (possibly 0: the buffer is full), read plaintext, then feed the rest
 * again. After feeding, call smtp_tls_read until it gives 0, and smtp_tls_pull. Once the
 * peer's close_notify was read (SMTP_TLS_CLOSED), bytes fed are dropped (and counted taken).
 *
 * @param tls   The session.
 * @param data  The ciphertext, `len` octets; may be NULL when `len` is 0.
 * @param len   The length of `data` in octets.
 * @return The number of octets taken (0 .. `len`), or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL, or `data` is NULL with `len` > 0; not
 *         sticky.
 * @retval SMTP_ERR_INVALID_STATE  smtp_tls_feed_eof was called before; not sticky.
 * @retval SMTP_ERR_PROTO  The session failed, in this call or before: a failed handshake (a
 *         certificate that does not verify, a host name mismatch, an alert, garbage) or a
 *         broken stream; sticky.
 * @retval SMTP_ERR_NOMEM  mbedTLS ran out of memory, in this call or before; sticky.
 */
SMTP_API smtp_ssize smtp_tls_feed(smtp_tls *tls, const char *data, size_t len);

/**
 * smtp_tls_feed_eof tells the session that the peer closed the connection.
 *
 * Once the bytes fed before are used, a handshake in progress fails (here), and an open
 * session that got no close_notify fails as truncated: SMTP_ERR_PROTO from smtp_tls_read
 * once it has read what came before (SMTP ends with QUIT and its reply, so a lost tail shows
 * there too). Nothing may be fed after it.
 *
 * @param tls  The session.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL.
 * @retval SMTP_ERR_PROTO  The session failed: its handshake, cut short here, or earlier; sticky.
 * @retval SMTP_ERR_NOMEM  mbedTLS ran out of memory, here or earlier; sticky.
 */
SMTP_API int smtp_tls_feed_eof(smtp_tls *tls);

/**
 * smtp_tls_pull copies up to `cap` octets of ciphertext to send to the peer into `dest`.
 *
 * It advances the handshake first (a client's first pull gives its ClientHello). It works in
 * every state and never gives the session's sticky error: after a failure it gives the alert
 * mbedTLS queued for the peer, if any. Pull until it gives 0.
 *
 * @param tls   The session.
 * @param dest  Where the ciphertext goes, `cap` octets; may be NULL when `cap` is 0.
 * @param cap   The size of `dest` in octets.
 * @return The number of octets copied (0: nothing to send now), or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL, or `dest` is NULL with `cap` > 0.
 */
SMTP_API smtp_ssize smtp_tls_pull(smtp_tls *tls, char *dest, size_t cap);

/**
 * smtp_tls_write encrypts plaintext for the peer, to be pulled with smtp_tls_pull.
 *
 * Fewer than `len` octets (possibly 0) are taken while the out buffer is full (pull, then
 * write the rest) or the handshake is not done yet.
 *
 * @param tls   The session.
 * @param data  The plaintext, `len` octets; may be NULL when `len` is 0.
 * @param len   The length of `data` in octets.
 * @return The number of octets taken (0 .. `len`), or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL, or `data` is NULL with `len` > 0; not
 *         sticky.
 * @retval SMTP_ERR_INVALID_STATE  After smtp_tls_close; not sticky.
 * @retval SMTP_ERR_PROTO  The session failed, in this call (the handshake, or mbedTLS could not
 *         write) or before; sticky.
 * @retval SMTP_ERR_NOMEM  mbedTLS ran out of memory, in this call or before; sticky.
 */
SMTP_API smtp_ssize smtp_tls_write(smtp_tls *tls, const char *data, size_t len);

/**
 * smtp_tls_read copies up to `cap` octets of decrypted plaintext into `dest`.
 *
 * It advances the handshake first. It gives 0 when no plaintext is ready: feed more
 * ciphertext; or the handshake is not done; or the peer closed (SMTP_TLS_CLOSED).
 *
 * @param tls   The session.
 * @param dest  Where the plaintext goes, `cap` octets; may be NULL when `cap` is 0.
 * @param cap   The size of `dest` in octets; 0 reads nothing.
 * @return The number of octets copied (0: none ready), or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL, or `dest` is NULL with `cap` > 0; not
 *         sticky.
 * @retval SMTP_ERR_PROTO  A bad record, a fatal alert from the peer, a stream that ended
 *         without close_notify after smtp_tls_feed_eof, a failed handshake, or an earlier
 *         failure; sticky.
 * @retval SMTP_ERR_NOMEM  mbedTLS ran out of memory, in this call or before; sticky.
 */
SMTP_API smtp_ssize smtp_tls_read(smtp_tls *tls, char *dest, size_t cap);

/**
 * smtp_tls_close queues a close_notify alert for the peer (RFC 8446 6.1, RFC 5246 7.2.1).
 *
 * Pull and send it, then close the connection. Nothing may be written after it; the peer's
 * own close_notify can still be read. Calling it again does nothing.
 *
 * @param tls  The session.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` is NULL.
 * @retval SMTP_ERR_INVALID_STATE  The handshake is not done; not sticky.
 * @retval SMTP_ERR_PROTO  The session failed, before or as the alert was queued; sticky.
 * @retval SMTP_ERR_NOMEM  mbedTLS ran out of memory, here or before; sticky.
 */
SMTP_API int smtp_tls_close(smtp_tls *tls);

/**
 * smtp_tls_get_state tells where the session stands.
 *
 * @param tls  The session; may be NULL.
 * @return The session's state; SMTP_TLS_FAILED for a NULL `tls`.
 */
SMTP_API smtp_tls_state smtp_tls_get_state(const smtp_tls *tls);

/**
 * smtp_tls_want_pull tells whether smtp_tls_pull has ciphertext to give.
 *
 * It looks at what the session holds now (encrypted records, also an alert after a failure,
 * and a close_notify that smtp_tls_close asked for) and runs no handshake step; a new client
 * session gives 1: it speaks first, and its first smtp_tls_pull makes and gives the
 * ClientHello.
 *
 * @param tls  The session; may be NULL.
 * @return 1 when smtp_tls_pull has bytes to give (or, for a new client, will make them),
 *         else 0 (also for a NULL `tls`).
 */
SMTP_API int smtp_tls_want_pull(const smtp_tls *tls);

/**
 * smtp_tls_want_feed tells whether the session can take ciphertext now.
 *
 * @param tls  The session; may be NULL.
 * @return 1 when it can (room in the in buffer, not failed, not closed by the peer, no eof
 *         fed), else 0 (also for a NULL `tls`).
 */
SMTP_API int smtp_tls_want_feed(const smtp_tls *tls);

/**
 * smtp_tls_error says why the session failed: what was being done, and mbedTLS's text.
 *
 * The text is mbedtls_strerror's, with the certificate problems when verification failed
 * ("handshake: X509 - Certificate verification failed... [The certificate Common Name (CN)
 * does not match with the expected CN]").
 *
 * @param tls  The session; may be NULL.
 * @return The text, never NULL: "" while the session has not failed, "no session" (static)
 *         for a NULL `tls`. Owned by the session.
 */
SMTP_API const char *smtp_tls_error(const smtp_tls *tls);

/**
 * smtp_tls_error_code gives the mbedTLS error code of the session's failure.
 *
 * @param tls  The session; may be NULL.
 * @return The (negative) mbedTLS code, or 0 when the session has not failed (or `tls` is
 *         NULL).
 */
SMTP_API int smtp_tls_error_code(const smtp_tls *tls);

/**
 * smtp_tls_version names the negotiated protocol ("TLSv1.2"), for logs and Received headers.
 *
 * @param tls  The session; may be NULL.
 * @return The name, in static storage; NULL before the handshake is done, once the session
 *         failed, or for a NULL `tls`.
 */
SMTP_API const char *smtp_tls_version(const smtp_tls *tls);

/**
 * smtp_tls_ciphersuite names the negotiated cipher suite
 * ("TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"), for logs and Received headers.
 *
 * @param tls  The session; may be NULL.
 * @return The name, in static storage; NULL before the handshake is done, once the session
 *         failed, or for a NULL `tls`.
 */
SMTP_API const char *smtp_tls_ciphersuite(const smtp_tls *tls);

/** smtp_tls_verify_result's value when no verification took place. */
#define SMTP_TLS_VERIFY_UNAVAILABLE 0xffffffffu

/**
 * smtp_tls_verify_result gives the outcome of the check of the peer's certificate.
 *
 * With SMTP_TLS_VERIFY_OPTIONAL the handshake goes on whatever the outcome. With DANE
 * (smtp_tls_set_dane) it is DANE's outcome: 0 when a TLSA record matched;
 * MBEDTLS_X509_BADCERT_NOT_TRUSTED when none did, BADCERT_CN_MISMATCH for a DANE-TA name
 * mismatch, the chain's problems when a DANE-TA chain did not validate;
 * SMTP_TLS_VERIFY_UNAVAILABLE when no record was usable (nothing was authenticated).
 *
 * @param tls  The session; may be NULL.
 * @return 0 when the certificate verified (the chain and, for a client, the host name; or a
 *         TLSA record); else mbedTLS's MBEDTLS_X509_BADCERT_* / BADCRL_* bits; or
 *         SMTP_TLS_VERIFY_UNAVAILABLE when no certificate was checked (SMTP_TLS_VERIFY_NONE,
 *         no certificate received, handshake not far enough, no usable TLSA record, NULL
 *         `tls`).
 */
SMTP_API uint32_t smtp_tls_verify_result(const smtp_tls *tls);

/**
 * smtp_tls_verify_text writes a one-line description of smtp_tls_verify_result to `buf`.
 *
 * The text is "verified", "not verified" (SMTP_TLS_VERIFY_UNAVAILABLE), or the problems joined
 * by "; " ("The certificate is not correctly signed by the trusted CA"). With DANE
 * (smtp_tls_set_dane) it is DANE's outcome, records counted from 1: "DANE-EE TLSA record 1 of
 * 2 (3 1 1) matched the server's certificate", "DANE-TA TLSA record 2 of 2 (2 0 1) matched
 * certificate 3 of the server's chain, for mx.example.org", "no usable TLSA record (2 given):
 * TLS without authentication (RFC 7672 2.2)", "TLSA mismatch: no usable TLSA record (2 of 2)
 * matches the server's certificate chain", "name mismatch for DANE-TA: ...", "DANE-TA chain
 * does not validate: ...", or "not verified" before the check.
 *
 * @param tls  The session.
 * @param buf  Receives the text, NUL-terminated, cut to fit.
 * @param cap  The size of `buf` in octets.
 * @return The length written (without the NUL), or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_verify_text(const smtp_tls *tls, char *buf, size_t cap);

/**
 * smtp_tls_verify_failed tells whether the session failed because the peer's certificate did
 * not verify.
 *
 * Then smtp_tls_verify_text says why, and smtp_tls_failure_text says it in one line. A DANE
 * authentication that failed (smtp_tls_dane_result) is such a failure.
 *
 * @param tls  The session; may be NULL.
 * @return 1 when it did, 0 otherwise (not failed, failed for another reason, NULL `tls`).
 */
SMTP_API int smtp_tls_verify_failed(const smtp_tls *tls);

/**
 * smtp_tls_failure_text writes why the session failed, in one line for a user, to `buf`.
 *
 * For a certificate that did not verify the text is "certificate verification failed: " and
 * smtp_tls_verify_text ("certificate verification failed: The certificate is not correctly
 * signed by the trusted CA"); with DANE it is "DANE authentication failed: " and
 * smtp_tls_verify_text ("DANE authentication failed: TLSA mismatch: ..."); else
 * smtp_tls_error.
 *
 * @param tls  The session.
 * @param buf  Receives the text, NUL-terminated, cut to fit; "" while the session has not
 *             failed.
 * @param cap  The size of `buf` in octets.
 * @return The length written (without the NUL; 0: the session has not failed), or a negative
 *         error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_failure_text(const smtp_tls *tls, char *buf, size_t cap);

/**
 * smtp_tls_peer_subject writes the subject of the peer's certificate ("CN=mail.example.org")
 * to `buf`.
 *
 * @param tls  The session.
 * @param buf  Receives the subject, NUL-terminated; "" when there is none or it does not fit
 *             whole (it is not cut).
 * @param cap  The size of `buf` in octets.
 * @return Its length (without the NUL); 0 when the peer sent no certificate, the handshake is
 *         not done, the session failed, or `cap` is too small; or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_peer_subject(const smtp_tls *tls, char *buf, size_t cap);

/**
 * smtp_tls_peer_issuer writes the issuer of the peer's certificate ("CN=Example CA, O=Example")
 * to `buf`.
 *
 * @param tls  The session.
 * @param buf  Receives the issuer, NUL-terminated; "" when there is none or it does not fit
 *             whole (it is not cut).
 * @param cap  The size of `buf` in octets.
 * @return Its length (without the NUL); 0 when the peer sent no certificate, the handshake is
 *         not done, the session failed, or `cap` is too small; or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_peer_issuer(const smtp_tls *tls, char *buf, size_t cap);

/**
 * smtp_tls_peer_not_before writes the start of the validity of the peer's certificate, in UTC,
 * to `buf`.
 *
 * The form is "2025-01-31T23:59:59Z": 20 characters, so give `cap` at least 21.
 *
 * @param tls  The session.
 * @param buf  Receives the time, NUL-terminated; "" when there is none or `cap` is too small.
 * @param cap  The size of `buf` in octets.
 * @return Its length (20); 0 when the peer sent no certificate, the handshake is not done, the
 *         session failed, or `cap` is too small; or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_peer_not_before(const smtp_tls *tls, char *buf, size_t cap);

/**
 * smtp_tls_peer_not_after writes the end of the validity of the peer's certificate, in UTC, to
 * `buf`.
 *
 * The form is "2025-01-31T23:59:59Z": 20 characters, so give `cap` at least 21.
 *
 * @param tls  The session.
 * @param buf  Receives the time, NUL-terminated; "" when there is none or `cap` is too small.
 * @param cap  The size of `buf` in octets.
 * @return Its length (20); 0 when the peer sent no certificate, the handshake is not done, the
 *         session failed, or `cap` is too small; or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `buf` is NULL, or `cap` is 0.
 */
SMTP_API int smtp_tls_peer_not_after(const smtp_tls *tls, char *buf, size_t cap);

/* ---- DANE (RFC 7672): the server authenticated by TLSA records ---- */

/**
 * @name TLSA fields (RFC 6698 2.1, with the names of RFC 7218)
 * The values of smtp_tls_tlsa's usage, selector and mtype this library uses. Other values are
 * accepted and make their record unusable.
 * @{
 */
#define SMTP_TLS_TLSA_PKIX_TA 0  /**< usage PKIX-TA(0): unusable with SMTP (RFC 7672 3.1.3) */
#define SMTP_TLS_TLSA_PKIX_EE 1  /**< usage PKIX-EE(1): unusable with SMTP (RFC 7672 3.1.3) */
#define SMTP_TLS_TLSA_DANE_TA 2  /**< usage DANE-TA(2): a trust anchor of the server's chain */
#define SMTP_TLS_TLSA_DANE_EE 3  /**< usage DANE-EE(3): the server's own certificate or key */
#define SMTP_TLS_TLSA_CERT 0     /**< selector Cert(0): the whole certificate, DER */
#define SMTP_TLS_TLSA_SPKI 1     /**< selector SPKI(1): its SubjectPublicKeyInfo, DER */
#define SMTP_TLS_TLSA_FULL 0     /**< matching type Full(0): the selected bytes themselves */
#define SMTP_TLS_TLSA_SHA2_256 1 /**< matching type SHA2-256(1): their SHA-256, 32 octets */
#define SMTP_TLS_TLSA_SHA2_512 2 /**< matching type SHA2-512(2): their SHA-512, 64 octets */
/** @} */

/** The most TLSA records smtp_tls_set_dane takes. */
#define SMTP_TLS_DANE_MAX_TLSA 100
/** The longest certificate association data of one record (a TLSA RDATA is at most 65535). */
#define SMTP_TLS_DANE_MAX_DATA 65532

/**
 * One TLSA record (RFC 6698 2.1) as the application's resolver gave it. It has no version of
 * its own: it is reached only through smtp_tls_dane.tlsa, so a field added to it comes with a
 * new SMTP_TLS_DANE_VERSION.
 */
typedef struct smtp_tls_tlsa {
    uint8_t usage;             /**< certificate usage: SMTP_TLS_TLSA_DANE_TA... */
    uint8_t selector;          /**< SMTP_TLS_TLSA_CERT or SMTP_TLS_TLSA_SPKI */
    uint8_t mtype;             /**< matching type: SMTP_TLS_TLSA_FULL... */
    const unsigned char *data; /**< the certificate association data, `len` octets */
    size_t len;                /**< its length: 32 for SHA2-256, 64 for SHA2-512 */
} smtp_tls_tlsa;

/** The version of smtp_tls_dane this header describes (common.h: versioned structs). */
#define SMTP_TLS_DANE_VERSION 1

/**
 * What DANE authenticates one connection with (smtp_tls_set_dane): the TLSA records found for
 * the server and the names its certificate may carry. Fill with smtp_tls_dane_init, then set
 * the fields. The library looks up nothing: the records are those of "_25._tcp." and the TLSA
 * base domain, which the application's resolver found DNSSEC-secure (RFC 7672 2.2). Everything
 * is copied by smtp_tls_set_dane.
 */
typedef struct smtp_tls_dane {
    const smtp_tls_tlsa *tlsa; /**< the TLSA records, `ntlsa` of them */
    size_t ntlsa;              /**< how many: 1 .. SMTP_TLS_DANE_MAX_TLSA */
    /**
     * The TLSA base domain: the MX host name after its DNSSEC-secure CNAMEs, where the records
     * were found (RFC 7672 2.2.3). It is sent as SNI (RFC 7672 8.1) and is a reference
     * identifier for DANE-TA (RFC 7672 3.2.3). NULL: the host name given to smtp_tls_new.
     */
    const char *base_domain;
    /**
     * The MX host name as the MX record gave it, before CNAMEs: another reference identifier
     * for DANE-TA (RFC 7672 3.2.3). NULL: the host name given to smtp_tls_new (none when that
     * is an IP address).
     */
    const char *mx_host;
} smtp_tls_dane;

/**
 * smtp_tls_dane_init clears `*dane` in this header's version of smtp_tls_dane.
 *
 * A macro: smtp_tls_dane_init_versioned with SMTP_TLS_DANE_VERSION. See
 * smtp_tls_dane_init_versioned.
 */
#define smtp_tls_dane_init(dane) smtp_tls_dane_init_versioned(SMTP_TLS_DANE_VERSION, (dane))
/**
 * smtp_tls_dane_init_versioned clears the fields of smtp_tls_dane version `version`: no record,
 * no name.
 *
 * Call it through smtp_tls_dane_init, then set the fields.
 *
 * @param version  The version of smtp_tls_dane the caller was built with
 *                 (1 .. SMTP_TLS_DANE_VERSION); another version is ignored.
 * @param dane     The struct to clear, every field; NULL is ignored.
 */
SMTP_API void smtp_tls_dane_init_versioned(int version, smtp_tls_dane *dane);

/**
 * smtp_tls_set_dane makes a client session authenticate the server with DANE, from settings
 * of this header's version.
 *
 * A macro: smtp_tls_set_dane_versioned with SMTP_TLS_DANE_VERSION. See
 * smtp_tls_set_dane_versioned.
 */
#define smtp_tls_set_dane(tls, dane)                                                               \
    smtp_tls_set_dane_versioned((tls), SMTP_TLS_DANE_VERSION, (dane))
/**
 * smtp_tls_set_dane_versioned makes a client session authenticate the server with DANE
 * (RFC 7672) instead of its config's certificate authorities.
 *
 * Call it after smtp_tls_new (or smtp_tls_io_filter_new: smtp_tls_io_filter_session) and
 * before the first smtp_tls_pull. The records are checked as RFC 7672 3 says, whatever the
 * config's verify mode:
 *  - DANE-EE(3): the server's certificate, or its public key, matches the record. Its names and
 *    dates are not looked at (RFC 7672 3.1.1).
 *  - DANE-TA(2): a certificate of the chain the server sent above its own, or that
 *    certificate's key, matches the record (the server must send it, RFC 7672 3.1.2); the chain
 *    from it down to the server's certificate validates (signatures, dates; the trust anchor's
 *    own dates excepted, as RFC 5280 6.1 has no dates for one); and the server's certificate
 *    names a reference identifier (RFC 7672 3.2.3): base_domain or mx_host, in a
 *    subjectAltName dNSName, else in the subject's CN when it has no dNSName, "*" being
 *    allowed as the whole leftmost label only (RFC 6125 6.4.3).
 *  - Unusable records are ignored: PKIX-TA(0) and PKIX-EE(1) (RFC 7672 3.1.3), an unknown
 *    usage, selector or matching type, a digest of the wrong length, no data.
 *
 * When no record is usable the session goes on without authentication (RFC 7672 2.2: TLS is
 * still required). When some are and none matches, the handshake fails as a certificate that
 * does not verify (smtp_tls_verify_failed), whatever certificate authorities would say. After
 * the check smtp_tls_dane_result says which record matched or why none did,
 * smtp_tls_verify_text says it in words, and smtp_tls_verify_result is 0 only when a record
 * matched: a filter tied with smtp_tls_io_filter_report then tells the client engine the
 * server was authenticated (REQUIRETLS, RFC 8689 4.2). The records and names are copied into
 * one block from the session's allocator; mbedTLS's record buffers are made anew for the
 * session (the handshake runs with a configuration that lets DANE decide). A second call
 * replaces the first.
 *
 * @code
 *   static const unsigned char spki_sha256[32] = {...};   // from "_25._tcp.mx.example.org"
 *   smtp_tls_tlsa rr = {SMTP_TLS_TLSA_DANE_EE, SMTP_TLS_TLSA_SPKI, SMTP_TLS_TLSA_SHA2_256,
 *                       spki_sha256, sizeof spki_sha256};
 *   smtp_tls_dane dane;
 *   smtp_tls_dane_init(&dane);
 *   dane.tlsa = &rr;
 *   dane.ntlsa = 1;
 *   smtp_tls *tls;
 *   if (smtp_tls_new(&tls, cfg, "mx.example.org", NULL) < 0 ||
 *       smtp_tls_set_dane(tls, &dane) < 0)
 *       return -1;
 * @endcode
 *
 * @param tls      A client session whose handshake has not started.
 * @param version  The version of smtp_tls_dane the caller was built with
 *                 (SMTP_TLS_DANE_VERSION).
 * @param dane     The records and names, read only during this call.
 * @return 0 on success, or one of these negative error codes (then the session is as it was,
 *         unless it says SMTP_TLS_FAILED):
 * @retval SMTP_ERR_INVALID_ARGUMENT  `tls` or `dane` is NULL; a version this library lacks; a
 *         server session; no record or more than SMTP_TLS_DANE_MAX_TLSA; a record with NULL
 *         data and a length, or more than SMTP_TLS_DANE_MAX_DATA octets; no base domain (none
 *         given, and the session's host is an IP address or NULL); a base_domain or mx_host
 *         that is empty, over 253 octets without a final dot, an IP address, or has an empty
 *         label, a space, "*" or a byte that is not printable ASCII.
 * @retval SMTP_ERR_INVALID_STATE  The handshake has started (a first smtp_tls_pull,
 *         smtp_tls_feed, smtp_tls_read or smtp_tls_write was made), or the session failed.
 * @retval SMTP_ERR_NOMEM  The allocator ran out of memory (nothing changed), or mbedTLS did as
 *         it made the session anew (the session is then SMTP_TLS_FAILED).
 * @retval SMTP_ERR_PROTO  mbedTLS refused to make the session anew (not expected: the names
 *         were checked); the session is then SMTP_TLS_FAILED.
 */
SMTP_API int smtp_tls_set_dane_versioned(smtp_tls *tls, int version, const smtp_tls_dane *dane);

/** What DANE made of a session (smtp_tls_dane_result). */
typedef enum smtp_tls_dane_status {
    SMTP_TLS_DANE_OFF = 0,     /**< no DANE: smtp_tls_set_dane was not called */
    SMTP_TLS_DANE_PENDING = 1, /**< the server's certificate has not been checked yet */
    /** A record matched: the server is authenticated. */
    SMTP_TLS_DANE_MATCHED = 2,
    /** No record was usable: TLS without authentication (RFC 7672 2.2). */
    SMTP_TLS_DANE_UNUSABLE = 3,
    /** Usable records, none matched the server's chain: the handshake failed. */
    SMTP_TLS_DANE_MISMATCH = 4,
    /**
     * A DANE-TA record matched and the chain validated, but the server's certificate names no
     * reference identifier: the handshake failed.
     */
    SMTP_TLS_DANE_NAME_MISMATCH = 5,
    /**
     * A DANE-TA record matched, but the chain from it to the server's certificate does not
     * validate (a signature, an expired certificate): the handshake failed.
     */
    SMTP_TLS_DANE_CHAIN_INVALID = 6
} smtp_tls_dane_status;

/**
 * smtp_tls_dane_result tells what DANE made of the server's certificate chain.
 *
 * When several records fail, the one that got furthest is reported: a name mismatch, then an
 * invalid chain, then a plain mismatch.
 *
 * @param tls    The session; may be NULL.
 * @param index  When not NULL, receives the index in smtp_tls_dane.tlsa of the record that
 *               matched (MATCHED) or that got furthest (NAME_MISMATCH, CHAIN_INVALID), else
 *               SIZE_MAX.
 * @param usage  When not NULL, receives that record's usage (SMTP_TLS_TLSA_DANE_EE or
 *               SMTP_TLS_TLSA_DANE_TA), else 0.
 * @return The outcome; SMTP_TLS_DANE_OFF for a NULL `tls`.
 */
SMTP_API smtp_tls_dane_status smtp_tls_dane_result(const smtp_tls *tls, size_t *index,
                                                   uint8_t *usage);

/* ---- The SASL cryptography of both engines (smtp_crypto, <smtp/common.h>) ---- */

/**
 * smtp_tls_crypto fills `*crypto` with mbedTLS's cryptography for CRAM-MD5 and SCRAM-SHA-256:
 * the client's (smtp_client_settings.crypto) and the server's built-in ones
 * (smtp_server_settings.crypto, smtp_server_scram_make).
 *
 * The hook gets mbedTLS's HMAC-MD5, HMAC-SHA-256 and SHA-256, and random bytes from `cfg`'s
 * generator (the CTR-DRBG a config seeds once). A function mbedTLS was built without (MD5 is
 * optional in mbedTLS) stays NULL, which disables its mechanism. Each function of the hook
 * gives 0 or SMTP_ERR_PROTO (mbedTLS failed).
 *
 * @code
 *   smtp_client_crypto crypto;
 *   smtp_tls_crypto(&crypto, cfg);
 *   client_settings.crypto = &crypto;    // borrowed: keep it alive with the client
 * @endcode
 *
 * @param crypto  The hook to fill, every field.
 * @param cfg     A config of either role, for the random bytes; it must outlive every client
 *                and server using the hook. NULL: random is NULL, so the client's CRAM-MD5
 *                only (the server's CRAM-MD5 and SCRAM-SHA-256 need random too).
 * @return 0 on success, or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `crypto` is NULL.
 */
SMTP_API int smtp_tls_crypto(smtp_client_crypto *crypto, smtp_tls_config *cfg);

/* ---- With the I/O adapter (<smtp/io.h>) ---- */

/**
 * smtp_tls_io_filter_new creates a session, as smtp_tls_new(&tls, cfg, host, mem), and fills
 * `*filter` to run it under the I/O adapter.
 *
 * Call it from the adapter's TLS factory (smtp_io_settings.tls_new). filter->ctx is the
 * smtp_tls session, so smtp_io_conn_filter(conn)->ctx gives it to smtp_tls_version,
 * smtp_tls_error and the other queries; the filter's del frees it (with the connection). Its
 * handshake() gives 1 once the handshake is done (OPEN, or CLOSED when the peer's
 * close_notify came right after it), 0 while it runs, SMTP_ERR_PROTO when it failed; its
 * read() gives SMTP_ERR_PROTO, the adapter's end of stream, once the peer's close_notify was
 * read; close() queues the close_notify.
 *
 * @code
 *   static int tls_new(smtp_io_filter *f, smtp_io_conn *conn, void *user_data)
 *   {
 *       struct app *a = user_data;
 *       int rc = smtp_tls_io_filter_new(f, a->client_cfg, a->server_name, NULL);
 *       if (rc == 0 && smtp_io_conn_client(conn))   // REQUIRETLS needs the verification
 *           rc = smtp_tls_io_filter_report(f, smtp_io_conn_client(conn));
 *       return rc;
 *   }
 * @endcode
 *
 * @param filter  The filter to fill (the factory's); left untouched on error.
 * @param cfg     The config, as for smtp_tls_new: it must outlive the connection.
 * @param host    A client's server name, NULL for a server, as for smtp_tls_new.
 * @param mem     Allocates the session, as for smtp_tls_new; NULL: the config's allocator.
 * @return 0 on success, or one of these negative error codes (then nothing stays allocated):
 * @retval SMTP_ERR_INVALID_ARGUMENT  `filter` is NULL, or one of smtp_tls_new's reasons.
 * @retval SMTP_ERR_NOMEM  The allocator or mbedTLS ran out of memory.
 */
SMTP_API int smtp_tls_io_filter_new(smtp_io_filter *filter, smtp_tls_config *cfg, const char *host,
                                    const smtp_mem *mem);

/**
 * smtp_tls_io_filter_report makes a filter that smtp_tls_io_filter_new filled tell the client
 * engine `cli` whether the server's certificate verified.
 *
 * As its handshake completes, the filter calls smtp_client_tls_verified(cli, 1) when the
 * server's certificate verified (smtp_tls_verify_result 0: the chain and the host name
 * given, or with DANE a TLSA record that matched), else smtp_client_tls_verified(cli, 0). The I/O adapter does not look at
 * certificates, and a client sends REQUIRETLS messages only over verified TLS (RFC 8689 4.2);
 * smtp_tls_client_run does this itself. Call it from the factory, before the handshake
 * completes.
 *
 * @param filter  A filter that smtp_tls_io_filter_new filled.
 * @param cli     The client engine to tell (smtp_io_conn_client(conn) in the factory); NULL
 *                unties the filter from the engine it was tied to.
 * @return 0 on success, or a negative error code:
 * @retval SMTP_ERR_INVALID_ARGUMENT  `filter` is NULL or another kind of filter.
 */
SMTP_API int smtp_tls_io_filter_report(smtp_io_filter *filter, smtp_client *cli);

/**
 * smtp_tls_io_filter_session gives the session of a filter that smtp_tls_io_filter_new filled,
 * for the queries above.
 *
 * After a connection ended with SMTP_IO_TLS (on_close, or before smtp_io_conn_del),
 * smtp_tls_failure_text(smtp_tls_io_filter_session(smtp_io_conn_filter(conn)), buf,
 * sizeof buf) says why.
 *
 * @param filter  The filter; may be NULL.
 * @return The session, owned by the filter, or NULL when `filter` is NULL or another kind of
 *         filter.
 */
SMTP_API smtp_tls *smtp_tls_io_filter_session(const smtp_io_filter *filter);

/* ---- The common client task ---- */

/**
 * smtp_tls_client_run connects to a server and runs the client session `cli` there until it
 * ends, with TLS as the client's settings ask, blocking.
 *
 * It connects with smtp_io_connect and runs the session with smtp_io_client_run. TLS follows
 * the client's settings: from the first byte with SMTP_CLIENT_TLS (implicit TLS, RFC 8314),
 * or after the server's 220 to STARTTLS under SMTP_CLIENT_TLS_OPPORTUNISTIC or _REQUIRED
 * (RFC 3207). The server's certificate must verify for `host` against `ca_file`; the
 * configuration is made only when TLS starts. Submit the messages (and quit) before the call
 * or from the client's callbacks; on_message and on_session_end report how the conversation
 * went. Links smtp_io.
 *
 * @param cli         The client engine, borrowed; its flags choose implicit TLS or STARTTLS.
 * @param host        The server: a host name, or an IP address matched against the
 *                    certificate's iPAddress names (smtp_tls_new).
 * @param port        A port number or service name; NULL: 465 when the client has
 *                    SMTP_CLIENT_TLS, else 25.
 * @param ca_file     The trusted CAs (PEM); NULL: the system's store, as smtp_tls_settings
 *                    says.
 * @param timeout_ms  The connect timeout, in milliseconds, as for smtp_io_connect; 0: the
 *                    system's.
 * @param detail      Receives the detail of the status (as smtp_io_status says); may be NULL.
 * @return How the connection ended:
 * @retval SMTP_IO_DONE     The session ran to its end.
 * @retval SMTP_IO_RESOLVE  `host` did not resolve (detail: the EAI_* code); the client engine
 *         was not run.
 * @retval SMTP_IO_SYSERR   No address could be reached (the client engine was not run), or a
 *         socket call failed later (detail: the errno value).
 * @retval SMTP_IO_TIMEOUT  The connection timed out (the client engine was not run), or a
 *         deadline of the session passed.
 * @retval SMTP_IO_TLS      The configuration or the handshake failed (detail: the SMTP_ERR_*
 *         code of smtp_tls_config_new, of smtp_tls_new or of the handshake; a certificate that
 *         does not verify gives SMTP_ERR_PROTO).
 * @retval SMTP_IO_EOF      The server closed the connection before the session ended.
 * @retval SMTP_IO_ERROR    `cli` or `host` is NULL (detail: SMTP_ERR_INVALID_ARGUMENT), or a
 *         library error during the session, as smtp_io_client_run.
 */
SMTP_API smtp_io_status smtp_tls_client_run(smtp_client *cli, const char *host, const char *port,
                                            const char *ca_file, uint32_t timeout_ms, int *detail);

/**
 * smtp_tls_client_run_err is smtp_tls_client_run that also says why TLS failed.
 *
 * When it returns SMTP_IO_TLS, a NUL-terminated reason is written to err[0..errlen): the
 * configuration's error (smtp_tls_config_new's text), the session's smtp_tls_failure_text
 * ("certificate verification failed: The certificate is not correctly signed by the trusted
 * CA"), or smtp_io_status_text when neither said anything. For any other status `err` is "".
 *
 * @param cli         The client engine, as for smtp_tls_client_run.
 * @param host        The server, as for smtp_tls_client_run.
 * @param port        The port, as for smtp_tls_client_run; NULL: 465 or 25.
 * @param ca_file     The trusted CAs (PEM), as for smtp_tls_client_run; NULL: the system's.
 * @param timeout_ms  The connect timeout in milliseconds, as for smtp_tls_client_run.
 * @param detail      Receives the detail of the status; may be NULL.
 * @param err         Receives the reason of a TLS failure, else ""; may be NULL.
 * @param errlen      The size of `err` in octets; 0 writes nothing.
 * @return How the connection ended, as for smtp_tls_client_run:
 * @retval SMTP_IO_DONE     The session ran to its end.
 * @retval SMTP_IO_RESOLVE  `host` did not resolve.
 * @retval SMTP_IO_SYSERR   No address could be reached, or a socket call failed.
 * @retval SMTP_IO_TIMEOUT  The connection or a deadline of the session timed out.
 * @retval SMTP_IO_TLS      The configuration or the handshake failed: `err` says why.
 * @retval SMTP_IO_EOF      The server closed the connection before the session ended.
 * @retval SMTP_IO_ERROR    `cli` or `host` is NULL, or a library error during the session.
 */
SMTP_API smtp_io_status smtp_tls_client_run_err(smtp_client *cli, const char *host,
                                                const char *port, const char *ca_file,
                                                uint32_t timeout_ms, int *detail, char *err,
                                                size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_TLS_H */
