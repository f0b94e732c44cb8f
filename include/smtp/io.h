/* SPDX-License-Identifier: MIT */
/** @file
 * libsmtp — the I/O adapter (library smtp_io, CMake target smtp::io): binds the sans-I/O
 * engines of <smtp/client.h> and <smtp/server.h> to POSIX sockets, poll/epoll and the
 * monotonic clock. It is optional: the core never includes it, and an application with its own
 * event loop may use the engines directly.
 *
 * Three levels, each built on the one before:
 *  1. Connections (smtp_io_conn): one non-blocking descriptor and one engine. The application
 *     asks which events to wait for (smtp_io_conn_events) and until when
 *     (smtp_io_conn_deadline), and reports what happened (smtp_io_conn_on_readable,
 *     _on_writable, _on_timer). The connection reads into the engine, writes what the engine
 *     produces (partial writes, EAGAIN, EOF), enforces the engines' RFC 5321 4.5.3.2 timeouts
 *     and a server's reply delay (smtp_server_output_delay), runs STARTTLS and implicit TLS
 *     through a byte-stream filter, and closes.
 *  2. Blocking calls: smtp_io_connect (by name, every address in turn, with a timeout),
 *     smtp_io_client_run and smtp_io_server_run (one session to its end on one descriptor).
 *  3. A multi-connection server loop (smtp_io_loop): listening sockets, accept, one server
 *     session per connection made through a factory callback, deadlines in a binary heap,
 *     a bounded number of connections, graceful shutdown. epoll on Linux, poll elsewhere.
 *
 * Time: every deadline is an absolute time in milliseconds on the clock of smtp_io_now_ms
 * (CLOCK_MONOTONIC). SMTP_IO_NEVER means no deadline.
 *
 * Errors: functions return 0 (or a count) or a negative SMTP_ERR_* code for the library's own
 * failures (misuse, memory, an engine's fatal error). What happens on the network (the peer
 * closed, a socket call failed, a timeout, TLS failed) is not an error of the library: it ends
 * the connection, and smtp_io_status says how, with a detail (an errno value, a getaddrinfo
 * EAI_* code, a filter's code or an SMTP_ERR_* code).
 *
 * Not thread-safe: one connection or loop is used by one thread at a time.
 */
#ifndef SMTP_IO_H
#define SMTP_IO_H

#include <smtp/client.h>
#include <smtp/common.h>
#include <smtp/server.h>

#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Time ---- */

/** No deadline (the largest int64_t). */
#define SMTP_IO_NEVER INT64_MAX

/**
 * smtp_io_now_ms returns the monotonic clock (CLOCK_MONOTONIC) in milliseconds.
 *
 * Every deadline of the adapter is a time on this clock, and the event handlers take it as
 * `now`.
 *
 * @return The clock's time in milliseconds (from an unspecified origin), or 0 when the clock
 *         cannot be read.
 */
SMTP_API int64_t smtp_io_now_ms(void);

/* ---- How a connection ended ---- */

/** How a connection ended (smtp_io_conn_status), with a detail code as each value says. */
typedef enum smtp_io_status {
    SMTP_IO_OK = 0,  /**< still open (or, from smtp_io_connect, connected) */
    SMTP_IO_DONE,    /**< the session ended (QUIT, 421, the engine's close) and was closed */
    SMTP_IO_EOF,     /**< the peer closed or reset the connection before the session ended */
    SMTP_IO_SYSERR,  /**< a socket call failed; detail: its errno */
    SMTP_IO_TIMEOUT, /**< a deadline passed: an engine timeout, stalled output, connect, TLS
                      * handshake; detail 0 */
    SMTP_IO_TLS,     /**< TLS failed: the handshake or the filter failed (detail: the filter's
                      * negative code), or the engine asked for TLS and no factory was set
                      * (detail: SMTP_ERR_INVALID_STATE) */
    SMTP_IO_ERROR,   /**< a library error; detail: the SMTP_ERR_* code (an engine's fatal error,
                      * memory, misuse) */
    SMTP_IO_RESOLVE, /**< smtp_io_connect: the name did not resolve; detail: the EAI_* code */
    SMTP_IO_SHUTDOWN /**< closed by smtp_io_loop_shutdown or smtp_io_loop_del */
} smtp_io_status;

/**
 * smtp_io_status_name returns the name of a status without its SMTP_IO_ prefix.
 *
 * @param status  A status (smtp_io_conn_status, smtp_io_connect, smtp_io_client_run).
 * @return "OK", "DONE", "EOF", "SYSERR", "TIMEOUT", "TLS", "ERROR", "RESOLVE" or "SHUTDOWN";
 *         "INVALID" for another value. Static storage, never NULL.
 */
SMTP_API const char *smtp_io_status_name(smtp_io_status status);

/**
 * smtp_io_status_text writes a one-line description of `status` with its `detail` into `buf`.
 *
 * The detail is read as the status defines it: an errno value (strerror), an EAI_* code
 * (gai_strerror) or an SMTP_ERR_* code (smtp_error_text), as in "socket error: Connection
 * refused" or "TLS failed (-100: out of memory)". A text longer than `buf` is cut.
 *
 * @param status  How the connection ended.
 * @param detail  The detail that came with `status`.
 * @param buf     Receives the text, always NUL-terminated when `cap` > 0; NULL: nothing is
 *                written.
 * @param cap     The size of `buf` in octets; 0: nothing is written.
 * @return `buf`, as given.
 */
SMTP_API const char *smtp_io_status_text(smtp_io_status status, int detail, char *buf, size_t cap);

/* ---- The byte-stream filter (TLS seam) ---- */

/**
 * A filter sits between the socket and the engine: ciphertext from the socket is fed in,
 * ciphertext to send is pulled out, and the engine's plaintext goes through read and write.
 * A TLS session (<smtp/tls.h>, or any other TLS library) implements it; the adapter never
 * calls the TLS library itself. All functions receive `ctx` first. None blocks.
 * Return values: >= 0 as described, or a negative code of the filter's own (any negative
 * int; SMTP_ERR_* codes are welcome): every negative return is fatal for the connection.
 */
typedef struct smtp_io_filter {
    void *ctx; /**< the TLS session, passed first to each function */
    /**
     * Advances the handshake with the bytes fed so far.
     *
     * @param ctx  The filter's `ctx`.
     * @return 1 once the handshake is complete, 0 while it needs more (the adapter pulls what
     *         it produced and sends it, and feeds what arrives), or a negative code when it
     *         failed (the peer's certificate was refused, an alert...): the connection ends
     *         with SMTP_IO_TLS, that code as detail.
     */
    int (*handshake)(void *ctx);
    /**
     * Takes ciphertext read from the socket.
     *
     * @param ctx   The filter's `ctx`.
     * @param data  The ciphertext, `len` octets, valid during the call only.
     * @param len   The number of octets at `data` (> 0).
     * @return The number of octets taken: fewer than `len` when the filter's buffer is full
     *         (the adapter keeps the rest, reads no more from the socket, and offers it again
     *         at its next step); a negative code ends the connection with SMTP_IO_TLS.
     */
    smtp_ssize (*feed)(void *ctx, const char *data, size_t len);
    /**
     * Copies ciphertext to send into `dest`.
     *
     * @param ctx   The filter's `ctx`.
     * @param dest  Receives up to `cap` octets.
     * @param cap   The room at `dest` in octets.
     * @return The number of octets copied, 0 when there is nothing to send now; a negative code
     *         ends the connection with SMTP_IO_TLS.
     */
    smtp_ssize (*pull)(void *ctx, char *dest, size_t cap);
    /**
     * Copies decrypted plaintext into `dest`.
     *
     * @param ctx   The filter's `ctx`.
     * @param dest  Receives up to `cap` octets.
     * @param cap   The room at `dest` in octets.
     * @return The number of octets copied, 0 when none is available until more ciphertext is
     *         fed. A negative return ends the stream: the adapter treats it as the peer's end
     *         of file (a close_notify) or failure, so the connection ends as SMTP_IO_EOF
     *         (SMTP_IO_DONE when the session had already ended), not as SMTP_IO_TLS.
     */
    smtp_ssize (*read)(void *ctx, char *dest, size_t cap);
    /**
     * Takes plaintext to encrypt.
     *
     * @param ctx   The filter's `ctx`.
     * @param data  The plaintext, `len` octets, valid during the call only.
     * @param len   The number of octets at `data` (> 0).
     * @return The number of octets taken: fewer than `len` when the filter's buffer is full
     *         (the adapter pulls ciphertext and offers the rest again); a negative code ends
     *         the connection with SMTP_IO_TLS.
     */
    smtp_ssize (*write)(void *ctx, const char *data, size_t len);
    /**
     * Queues a close_notify alert to pull before the socket is closed; may be NULL.
     *
     * smtp_io_conn_del calls it when the session ended (SMTP_IO_DONE or SMTP_IO_TIMEOUT) after
     * the handshake completed and all output was written, then pulls the alert and sends it
     * once, without waiting.
     *
     * @param ctx  The filter's `ctx`.
     */
    void (*close)(void *ctx);
    /**
     * Frees the filter (called once, when the connection is freed); may be NULL.
     *
     * @param ctx  The filter's `ctx`.
     */
    void (*del)(void *ctx);
} smtp_io_filter;

/** The opaque connection: a socket, its engine and its TLS filter. */
typedef struct smtp_io_conn smtp_io_conn;

/**
 * A TLS factory fills `*filter` for a connection that starts TLS now.
 *
 * It is called for a client after the server's 220 to STARTTLS (smtp_client_want_tls) or at
 * once with implicit TLS; for a server once its "220 Ready to start TLS" was written out
 * (RFC 3207 4.2). smtp_io_conn_server and smtp_io_conn_client tell the role; the host name to
 * verify is the application's (keep it in `user_data`).
 *
 * @param filter     A zeroed filter to fill: `ctx` and every function (`close` and `del` may
 *                   stay NULL). On success the connection owns it and calls its `del` when
 *                   it is freed.
 * @param conn       The connection that starts TLS.
 * @param user_data  smtp_io_settings.user_data.
 * @return 0 on success, or a negative code: the connection then ends with SMTP_IO_TLS, that
 *         code as detail, and `del` is not called (free what was made before returning).
 *         A filter left without handshake, feed, pull, read or write ends the connection
 *         too (SMTP_IO_TLS, detail SMTP_ERR_INVALID_ARGUMENT; its `del` is called).
 */
typedef int (*smtp_io_tls_factory)(smtp_io_filter *filter, smtp_io_conn *conn, void *user_data);

/* ---- Connection settings ---- */

/** Directions of smtp_io_settings.on_trace. */
#define SMTP_IO_TRACE_IN 1  /**< plaintext received from the peer, as it arrives */
#define SMTP_IO_TRACE_OUT 2 /**< plaintext the engine produced, as it is pulled */

/** Settings of a connection. Fill with smtp_io_settings_init, then change fields. */
typedef struct smtp_io_settings {
    /**
     * Output that makes no progress (the peer reads nothing) ends the connection with
     * SMTP_IO_TIMEOUT after this many milliseconds; default 300000 (RFC 5321 4.5.3.2's five
     * minutes); 0: never.
     */
    uint32_t write_timeout_ms;
    /** Time allowed to write out the last reply (221, 421) before closing; default 10000. */
    uint32_t linger_ms;
    /** The TLS handshake must finish within this; default 60000; 0: never. */
    uint32_t handshake_timeout_ms;
    /**
     * Server only: when non-zero, the server engine's timeouts (smtp_server_timeout, at least
     * five minutes for commands) are cut to at most this many milliseconds (a server under
     * load, like Postfix's stress-dependent smtpd_timeout; tests). Below five minutes this
     * departs from RFC 5321 4.5.3.2.7. Default 0.
     */
    uint32_t server_timeout_cap_ms;
    /** Bytes read from the socket at once (1 to 65536); default 16384. */
    uint32_t read_size;
    /** Non-zero: start TLS before anything else (implicit TLS, RFC 8314 3.3). tls_new is then
     * required. A server engine must be given SMTP_SERVER_TLS, a client SMTP_CLIENT_TLS. A failed
     * handshake ends the connection with SMTP_IO_TLS; the engine, which knows only STARTTLS,
     * sees the connection closed (a client: SMTP_CLIENT_END_CLOSED). */
    int implicit_tls;
    /** The TLS factory for STARTTLS and implicit TLS; NULL: none (a session that asks for TLS
     * then ends with SMTP_IO_TLS). */
    smtp_io_tls_factory tls_new;
    /**
     * The transcript: every plaintext byte in and out, to print as "C: " and "S: " lines, say;
     * may be NULL.
     *
     * @param conn       The connection.
     * @param direction  SMTP_IO_TRACE_IN (received from the peer, as it arrives) or
     *                   SMTP_IO_TRACE_OUT (produced by the engine, as it is pulled).
     * @param data       The bytes, `len` octets, valid during the call only; not
     *                   NUL-terminated.
     * @param len        The number of octets at `data` (> 0).
     * @param user_data  The settings' `user_data`.
     */
    void (*on_trace)(smtp_io_conn *conn, int direction, const char *data, size_t len,
                     void *user_data);
    /**
     * Called after every event the connection handled (bytes read and fed, output written,
     * a handshake step).
     *
     * From here a client application submits the next message, tells a waiting body source it
     * has data (smtp_client_body_ready) or quits. It is not called again while it runs, nor
     * once the connection is done. May be NULL.
     *
     * @param conn       The connection.
     * @param user_data  The settings' `user_data`.
     * @return 0, or a negative value to end the connection (SMTP_IO_ERROR, detail
     *         SMTP_ERR_CALLBACK_FAILURE).
     */
    int (*on_progress)(smtp_io_conn *conn, void *user_data);
    /** Passed to tls_new, on_trace and on_progress. */
    void *user_data;
} smtp_io_settings;

/** The version of smtp_io_settings this header describes (common.h: versioned structs). */
#define SMTP_IO_SETTINGS_VERSION 1

/**
 * smtp_io_settings_init fills `*s` with the defaults, for this header's version of the struct.
 *
 * A macro: see smtp_io_settings_init_versioned, called with SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_settings_init(s) smtp_io_settings_init_versioned(SMTP_IO_SETTINGS_VERSION, (s))
/**
 * smtp_io_settings_init_versioned fills the fields of smtp_io_settings version `version` with
 * their defaults.
 *
 * Call it through the macro smtp_io_settings_init. The defaults: write_timeout_ms 300000,
 * linger_ms 10000, handshake_timeout_ms 60000, read_size 16384, every other field 0 or NULL.
 *
 * @param version  The version of the caller's struct (1 .. SMTP_IO_SETTINGS_VERSION); another
 *                 version is ignored.
 * @param s        The settings to fill; NULL is ignored.
 */
SMTP_API void smtp_io_settings_init_versioned(int version, smtp_io_settings *s);

/* ---- Connections: the pieces for an application's own poll/epoll loop ---- */

/** Events to wait for (smtp_io_conn_events). */
/** @{ */
#define SMTP_IO_READ 0x1u
#define SMTP_IO_WRITE 0x2u
/** @} */

/**
 * smtp_io_conn_new_client binds the client engine `cli` to the connected descriptor `fd`, for
 * this header's version of smtp_io_settings.
 *
 * A macro: see smtp_io_conn_new_client_versioned, called with SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_conn_new_client(pc, fd, cli, settings, mem)                                        \
    smtp_io_conn_new_client_versioned((pc), (fd), (cli), SMTP_IO_SETTINGS_VERSION, (settings),     \
                                      (mem))
/**
 * smtp_io_conn_new_client_versioned binds the client engine `cli` to the connected descriptor
 * `fd` in a new connection.
 *
 * Call it through the macro smtp_io_conn_new_client. The descriptor is made non-blocking and
 * close-on-exec (with TCP_NODELAY). The connection takes its first step at once (implicit TLS
 * starts, on_progress is called), so it may already be done (smtp_io_conn_done) when this
 * returns 0, after a failed TLS factory for instance.
 *
 * @param pc                Receives the connection; NULL on error.
 * @param fd                A connected socket. The connection owns it from now on and closes
 *                          it in smtp_io_conn_del; on error it is left open.
 * @param cli               The client engine. It stays the caller's, who deletes it after the
 *                          connection.
 * @param settings_version  SMTP_IO_SETTINGS_VERSION: the version of `*settings`.
 * @param settings          The connection's settings, copied; NULL for the defaults.
 * @param mem               The allocator (NULL: the default); it must outlive the connection.
 * @return 0 on success, or one of these negative error codes (with `*pc` NULL when `pc` is not
 *         NULL, and `fd` left open):
 * @retval SMTP_ERR_INVALID_ARGUMENT `pc` or `cli` is NULL, `fd` < 0, a settings version this
 *         library lacks, read_size 0 or over 65536, or implicit_tls without tls_new.
 * @retval SMTP_ERR_NOMEM No memory for the connection.
 */
SMTP_API int smtp_io_conn_new_client_versioned(smtp_io_conn **pc, int fd, smtp_client *cli,
                                               int settings_version,
                                               const smtp_io_settings *settings,
                                               const smtp_mem *mem);

/**
 * smtp_io_conn_new_server creates and starts a server engine bound to the connected descriptor
 * `fd`, for this header's versions of the structs.
 *
 * A macro: see smtp_io_conn_new_server_versioned, called with SMTP_SERVER_CALLBACKS_VERSION,
 * SMTP_SERVER_SETTINGS_VERSION and SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_conn_new_server(pc, fd, callbacks, server_settings, user_data, settings, mem)      \
    smtp_io_conn_new_server_versioned((pc), (fd), SMTP_SERVER_CALLBACKS_VERSION, (callbacks),      \
                                      SMTP_SERVER_SETTINGS_VERSION, (server_settings),             \
                                      (user_data), SMTP_IO_SETTINGS_VERSION, (settings), (mem))
/**
 * smtp_io_conn_new_server_versioned creates a server engine bound to the connected descriptor
 * `fd` in a new connection, and starts it.
 *
 * Call it through the macro smtp_io_conn_new_server. The engine is made by smtp_server_new
 * with `callbacks`, `server_settings`, `mem` and `user_data`, all as documented there, and
 * started (smtp_server_start: do not call it yourself). The connection owns the engine
 * (smtp_io_conn_server) and tells it the peer's address (smtp_server_set_client_address). The
 * application's callbacks receive the engine and `user_data` as usual. The connection follows
 * the engine's queries: it runs STARTTLS once the 220 is written (smtp_server_want_tls), holds
 * replies the engine asks to delay (smtp_server_output_delay: a deadline, never a sleep), and
 * knows whether a transaction is open (smtp_io_conn_busy). The descriptor is made
 * non-blocking and close-on-exec (with TCP_NODELAY).
 *
 * @param pc                       Receives the connection; NULL on error.
 * @param fd                       A connected (accepted) socket. The connection owns it from
 *                                 now on and closes it in smtp_io_conn_del; on error it is
 *                                 left open.
 * @param callbacks_version        SMTP_SERVER_CALLBACKS_VERSION: the version of `*callbacks`.
 * @param callbacks                The engine's callbacks; NULL: all defaults.
 * @param server_settings_version  SMTP_SERVER_SETTINGS_VERSION: the version of
 *                                 `*server_settings`.
 * @param server_settings          The engine's settings; NULL: the defaults.
 * @param user_data                Passed last to the engine's callbacks.
 * @param settings_version         SMTP_IO_SETTINGS_VERSION: the version of `*settings`.
 * @param settings                 The connection's settings, copied; NULL for the defaults.
 * @param mem                      The allocator of the connection and the engine (NULL: the
 *                                 default); it must outlive the connection.
 * @return 0 on success, or one of these negative error codes (with `*pc` NULL when `pc` is not
 *         NULL, and `fd` left open):
 * @retval SMTP_ERR_INVALID_ARGUMENT `pc` is NULL, `fd` < 0, `settings` refused as by
 *         smtp_io_conn_new_client_versioned, or smtp_server_new refused `callbacks` or
 *         `server_settings` (a setting out of range, a struct version this library lacks).
 * @retval SMTP_ERR_NOMEM No memory for the connection or the engine.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_connect failed (returned a negative value).
 */
SMTP_API int smtp_io_conn_new_server_versioned(
    smtp_io_conn **pc, int fd, int callbacks_version, const smtp_server_callbacks *callbacks,
    int server_settings_version, const smtp_server_settings *server_settings, void *user_data,
    int settings_version, const smtp_io_settings *settings, const smtp_mem *mem);

/**
 * smtp_io_conn_del closes the connection's descriptor and frees the connection.
 *
 * A connection still open ends first as SMTP_IO_SHUTDOWN: its engine is told the connection
 * is gone (smtp_server_eof, smtp_client_eof). When the session had ended (SMTP_IO_DONE or
 * SMTP_IO_TIMEOUT) over TLS with all output written, a TLS close_notify is queued (the
 * filter's `close`, when set) and sent once, without waiting. Then the descriptor is closed,
 * the filter freed (its `del`) and, for a server connection, the engine; a client engine
 * stays the application's.
 *
 * @param conn  The connection; NULL is ignored.
 */
SMTP_API void smtp_io_conn_del(smtp_io_conn *conn);

/**
 * smtp_io_conn_fd returns the connection's descriptor.
 *
 * @param conn  The connection.
 * @return The descriptor, or -1 when `conn` is NULL.
 */
SMTP_API int smtp_io_conn_fd(const smtp_io_conn *conn);

/**
 * smtp_io_conn_client returns the client engine of a client connection.
 *
 * @param conn  The connection.
 * @return The engine given to smtp_io_conn_new_client, or NULL for a server connection or
 *         when `conn` is NULL.
 */
SMTP_API smtp_client *smtp_io_conn_client(const smtp_io_conn *conn);

/**
 * smtp_io_conn_server returns the server engine of a server connection.
 *
 * @param conn  The connection.
 * @return The engine, owned by the connection, or NULL for a client connection, for a loop's
 *         connection during on_accept (its engine is made after), or when `conn` is NULL.
 */
SMTP_API smtp_server *smtp_io_conn_server(const smtp_io_conn *conn);

/**
 * smtp_io_conn_session_data returns the session's user_data of a loop's connection.
 *
 * For a connection a loop accepted it is the user_data on_accept set (smtp_io_session.user_data,
 * the loop's user_data without a factory); for smtp_io_loop_add_client's, its `session_data`.
 * The callbacks of smtp_io_settings (on_trace, on_progress, tls_new), shared by every
 * connection, find their session with it.
 *
 * @param conn  The connection.
 * @return The session's user_data; NULL for a connection of no loop (smtp_io_conn_new_client,
 *         smtp_io_conn_new_server), during on_accept, or when `conn` is NULL.
 */
SMTP_API void *smtp_io_conn_session_data(const smtp_io_conn *conn);

/**
 * smtp_io_conn_filter returns the TLS filter in use, whose `ctx` is the TLS session.
 *
 * @param conn  The connection.
 * @return The filter, from the start of the TLS handshake on; NULL before TLS started, or when
 *         `conn` is NULL.
 */
SMTP_API const smtp_io_filter *smtp_io_conn_filter(const smtp_io_conn *conn);

/**
 * smtp_io_conn_tls tells whether the TLS handshake completed on the connection.
 *
 * @param conn  The connection.
 * @return 1 once the TLS handshake completed, else 0 (0 when `conn` is NULL).
 */
SMTP_API int smtp_io_conn_tls(const smtp_io_conn *conn);

/**
 * smtp_io_conn_busy tells whether a server connection has a transaction open or a decision
 * pending.
 *
 * A transaction is open (smtp_server_in_transaction) from an accepted MAIL until its message
 * was answered or aborted, or the transaction was reset; a decision is pending
 * (smtp_server_pending) until the application answered it, and a MAIL being decided counts.
 * smtp_io_loop_shutdown lets such connections finish.
 *
 * @param conn  The connection.
 * @return 1 while the connection is busy, else 0 (0 for a client connection and when `conn`
 *         is NULL).
 */
SMTP_API int smtp_io_conn_busy(const smtp_io_conn *conn);

/**
 * smtp_io_conn_pause stops or resumes reading from the connection's peer: flow control for an
 * application that passes what the engine reads to a slower place (a proxy's upstream).
 *
 * While paused, nothing is read from the socket and nothing more is fed to the engine (what
 * was read stays buffered, and the peer's end of file waits behind it); output still goes out
 * and deadlines run. Pause from the engine's callbacks (a server's on_data returning
 * SMTP_PAUSE stops the read at once); resume with `paused` 0 and then smtp_io_loop_update (or
 * smtp_io_conn_flush outside a loop) to feed what is buffered.
 *
 * @param conn    The connection.
 * @param paused  Non-zero to pause, 0 to resume.
 * @return 0 on success, or SMTP_ERR_INVALID_ARGUMENT when `conn` is NULL.
 */
SMTP_API int smtp_io_conn_pause(smtp_io_conn *conn, int paused);

/**
 * smtp_io_conn_paused says whether reading from the connection's peer is paused
 * (smtp_io_conn_pause).
 *
 * @param conn  The connection.
 * @return 1 when paused, 0 when not or when `conn` is NULL.
 */
SMTP_API int smtp_io_conn_paused(const smtp_io_conn *conn);

/**
 * smtp_io_conn_events returns the events to wait for on the descriptor.
 *
 * Ask again after every handler call and smtp_io_conn_flush.
 *
 * @param conn  The connection.
 * @return SMTP_IO_READ, SMTP_IO_WRITE, both, or 0: wait for the deadline only, or for the
 *         application (a deferred server decision; a client waiting for body data or a
 *         message). 0 also once the connection is done and when `conn` is NULL.
 */
SMTP_API unsigned smtp_io_conn_events(const smtp_io_conn *conn);

/**
 * smtp_io_conn_deadline returns when smtp_io_conn_on_timer must be called.
 *
 * It changes after every handler call and smtp_io_conn_flush.
 *
 * @param conn  The connection.
 * @return An absolute time on the clock of smtp_io_now_ms, or SMTP_IO_NEVER (also once the
 *         connection is done and when `conn` is NULL).
 */
SMTP_API int64_t smtp_io_conn_deadline(const smtp_io_conn *conn);

/**
 * smtp_io_conn_on_readable handles the descriptor being readable (or hung up, or in error).
 *
 * Like every event handler it does what it can without blocking: it reads until EAGAIN (at
 * most a few reads, for fairness) and feeds the engine, keeps unconsumed bytes, pulls and
 * writes output (keeping what the socket did not take), runs TLS, gives the engine
 * smtp_*_eof on the peer's end of file, and calls on_progress. Spurious calls are harmless.
 * Do not call it from inside the engine's callbacks. Afterwards check smtp_io_conn_done, then
 * smtp_io_conn_events and smtp_io_conn_deadline. What happens on the network (the peer
 * closed, a socket call failed, TLS failed) ends the connection with 0 returned:
 * smtp_io_conn_status says how.
 *
 * @param conn  The connection.
 * @param now   The current time (smtp_io_now_ms).
 * @return 0 on success or after an end on the network, or one of these negative error codes
 *         (the connection is then done with SMTP_IO_ERROR and that code as detail, and every
 *         later handler call returns the code again):
 * @retval SMTP_ERR_INVALID_ARGUMENT `conn` is NULL (nothing is done).
 * @retval SMTP_ERR_INVALID_STATE The engine refused a call in its state: the handler was
 *         called from inside one of the engine's callbacks.
 * @retval SMTP_ERR_NOMEM A buffer of the connection or of the engine could not grow.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_progress returned a negative value, or one of the
 *         engine's callbacks (a client's body source too) failed.
 * @retval SMTP_ERR_PROTO Client: the server broke the protocol (an unsolicited or extra reply,
 *         a reply code that cannot answer the command, bytes after the 220 to STARTTLS, a bad
 *         SASL exchange).
 * @retval SMTP_ERR_REPLY_CODE Client: a reply line without a valid 2xx-5xx code.
 * @retval SMTP_ERR_REPLY_SEPARATOR Client: a reply code followed by a byte other than SP, '-'
 *         or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH Client: a continuation line with a different reply code.
 * @retval SMTP_ERR_REPLY_TOO_LONG Client: a multi-line reply with too many lines.
 * @retval SMTP_ERR_LINE_TOO_LONG Client: a reply line too long.
 * @retval SMTP_ERR_BARE_LF Client: a bare LF in a reply.
 * @retval SMTP_ERR_BARE_CR Client: a bare CR in a reply.
 * @retval SMTP_ERR_NUL Client: a NUL byte in a reply.
 */
SMTP_API int smtp_io_conn_on_readable(smtp_io_conn *conn, int64_t now);

/**
 * smtp_io_conn_on_writable handles the descriptor being writable.
 *
 * It writes what the socket did not take before, then works as smtp_io_conn_on_readable
 * without reading the socket: it pulls and writes output, runs TLS, feeds the engine the input
 * it kept, and calls on_progress. Spurious calls are harmless. Do not call it from inside the
 * engine's callbacks. Afterwards check smtp_io_conn_done, then smtp_io_conn_events and
 * smtp_io_conn_deadline. An end on the network returns 0 (smtp_io_conn_status says how).
 *
 * @param conn  The connection.
 * @param now   The current time (smtp_io_now_ms).
 * @return 0 on success or after an end on the network, or one of these negative error codes
 *         (the connection is then done with SMTP_IO_ERROR and that code as detail, and every
 *         later handler call returns the code again):
 * @retval SMTP_ERR_INVALID_ARGUMENT `conn` is NULL (nothing is done).
 * @retval SMTP_ERR_INVALID_STATE The engine refused a call in its state: the handler was
 *         called from inside one of the engine's callbacks.
 * @retval SMTP_ERR_NOMEM A buffer of the connection or of the engine could not grow.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_progress returned a negative value, or one of the
 *         engine's callbacks (a client's body source too) failed.
 * @retval SMTP_ERR_PROTO Client: the server broke the protocol (an unsolicited or extra reply,
 *         a reply code that cannot answer the command, bytes after the 220 to STARTTLS, a bad
 *         SASL exchange).
 * @retval SMTP_ERR_REPLY_CODE Client: a reply line without a valid 2xx-5xx code.
 * @retval SMTP_ERR_REPLY_SEPARATOR Client: a reply code followed by a byte other than SP, '-'
 *         or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH Client: a continuation line with a different reply code.
 * @retval SMTP_ERR_REPLY_TOO_LONG Client: a multi-line reply with too many lines.
 * @retval SMTP_ERR_LINE_TOO_LONG Client: a reply line too long.
 * @retval SMTP_ERR_BARE_LF Client: a bare LF in a reply.
 * @retval SMTP_ERR_BARE_CR Client: a bare CR in a reply.
 * @retval SMTP_ERR_NUL Client: a NUL byte in a reply.
 */
SMTP_API int smtp_io_conn_on_writable(smtp_io_conn *conn, int64_t now);

/**
 * smtp_io_conn_on_timer handles the connection's deadline (smtp_io_conn_deadline).
 *
 * Once `now` reaches the deadline it acts on what passed: an engine timeout (RFC 5321
 * 4.5.3.2) is given to the engine (smtp_*_timeout_expired: a server queues 421, a client
 * ends its session), held output is released, and stalled output, a TLS handshake too long or
 * a last reply not written within linger_ms end the connection. Then it works as
 * smtp_io_conn_on_writable. Spurious calls (before the deadline) are harmless. Do not call it
 * from inside the engine's callbacks. Afterwards check smtp_io_conn_done, then
 * smtp_io_conn_events and smtp_io_conn_deadline. An end on the network or by a timeout
 * returns 0 (smtp_io_conn_status says how).
 *
 * @param conn  The connection.
 * @param now   The current time (smtp_io_now_ms).
 * @return 0 on success or after an end on the network or by a timeout, or one of these
 *         negative error codes (the connection is then done with SMTP_IO_ERROR and that code
 *         as detail, and every later handler call returns the code again):
 * @retval SMTP_ERR_INVALID_ARGUMENT `conn` is NULL (nothing is done).
 * @retval SMTP_ERR_INVALID_STATE The engine refused a call in its state: the handler was
 *         called from inside one of the engine's callbacks.
 * @retval SMTP_ERR_NOMEM A buffer of the connection or of the engine could not grow.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_progress returned a negative value, or one of the
 *         engine's callbacks (a client's body source too; one called for the timeout) failed.
 * @retval SMTP_ERR_PROTO Client: the server broke the protocol (an unsolicited or extra reply,
 *         a reply code that cannot answer the command, bytes after the 220 to STARTTLS, a bad
 *         SASL exchange).
 * @retval SMTP_ERR_REPLY_CODE Client: a reply line without a valid 2xx-5xx code.
 * @retval SMTP_ERR_REPLY_SEPARATOR Client: a reply code followed by a byte other than SP, '-'
 *         or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH Client: a continuation line with a different reply code.
 * @retval SMTP_ERR_REPLY_TOO_LONG Client: a multi-line reply with too many lines.
 * @retval SMTP_ERR_LINE_TOO_LONG Client: a reply line too long.
 * @retval SMTP_ERR_BARE_LF Client: a bare LF in a reply.
 * @retval SMTP_ERR_BARE_CR Client: a bare CR in a reply.
 * @retval SMTP_ERR_NUL Client: a NUL byte in a reply.
 */
SMTP_API int smtp_io_conn_on_timer(smtp_io_conn *conn, int64_t now);

/**
 * smtp_io_conn_flush processes what the application changed outside the handlers.
 *
 * Call it after a deferred smtp_server_reply, smtp_client_submit, smtp_client_body_ready or
 * smtp_server_shutdown made outside the engine's callbacks: it feeds kept input the engine can
 * now take, pulls and writes output, and recomputes the events and the deadline, as
 * smtp_io_conn_on_writable does. Do not call it from inside the engine's callbacks.
 *
 * @param conn  The connection.
 * @param now   The current time (smtp_io_now_ms).
 * @return 0 on success or after an end on the network, or one of these negative error codes
 *         (the connection is then done with SMTP_IO_ERROR and that code as detail, and every
 *         later handler call returns the code again):
 * @retval SMTP_ERR_INVALID_ARGUMENT `conn` is NULL (nothing is done).
 * @retval SMTP_ERR_INVALID_STATE The engine refused a call in its state: the function was
 *         called from inside one of the engine's callbacks.
 * @retval SMTP_ERR_NOMEM A buffer of the connection or of the engine could not grow.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_progress returned a negative value, or one of the
 *         engine's callbacks (a client's body source too) failed.
 * @retval SMTP_ERR_PROTO Client: the server broke the protocol (an unsolicited or extra reply,
 *         a reply code that cannot answer the command, bytes after the 220 to STARTTLS, a bad
 *         SASL exchange).
 * @retval SMTP_ERR_REPLY_CODE Client: a reply line without a valid 2xx-5xx code.
 * @retval SMTP_ERR_REPLY_SEPARATOR Client: a reply code followed by a byte other than SP, '-'
 *         or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH Client: a continuation line with a different reply code.
 * @retval SMTP_ERR_REPLY_TOO_LONG Client: a multi-line reply with too many lines.
 * @retval SMTP_ERR_LINE_TOO_LONG Client: a reply line too long.
 * @retval SMTP_ERR_BARE_LF Client: a bare LF in a reply.
 * @retval SMTP_ERR_BARE_CR Client: a bare CR in a reply.
 * @retval SMTP_ERR_NUL Client: a NUL byte in a reply.
 */
SMTP_API int smtp_io_conn_flush(smtp_io_conn *conn, int64_t now);

/**
 * smtp_io_conn_done tells whether the connection is over, so that smtp_io_conn_del is due.
 *
 * @param conn  The connection.
 * @return 1 when the connection is over (smtp_io_conn_status says how), else 0; 1 when `conn`
 *         is NULL.
 */
SMTP_API int smtp_io_conn_done(const smtp_io_conn *conn);

/**
 * smtp_io_conn_status returns how the connection ended, with its detail.
 *
 * @param conn    The connection.
 * @param detail  Receives the detail code (as smtp_io_status describes it; 0 while the
 *                connection is open and when `conn` is NULL); may be NULL.
 * @return How the connection ended, SMTP_IO_OK while it is open (and when `conn` is NULL).
 */
SMTP_API smtp_io_status smtp_io_conn_status(const smtp_io_conn *conn, int *detail);

/* ---- Body sources (smtp_client_message.read_body, <smtp/client.h>) ---- */

/**
 * smtp_io_read_fd is a body source that reads the descriptor `user_data` points to with
 * read(2) until its end of file.
 *
 * Set message.read_body = smtp_io_read_fd and message.read_body_data = &fd, where `fd` is an
 * `int` (an open file or a pipe, say) that outlives the message. A non-blocking descriptor
 * without data gives SMTP_ERR_AGAIN: call smtp_client_body_ready when it is readable. The
 * other errors fail the session before the end of data (smtp_client_read_body_fn), so the
 * message is never acknowledged short.
 *
 * @param cli        The client engine (not used).
 * @param dest       Receives up to `cap` octets of the body.
 * @param cap        The room at `dest` in octets.
 * @param user_data  A pointer to the descriptor (`int *`).
 * @return The number of octets read, 0 at the end of file, or one of these negative error
 *         codes:
 * @retval SMTP_ERR_AGAIN The descriptor is non-blocking and has no data now (EAGAIN).
 * @retval SMTP_ERR_INVALID_ARGUMENT No descriptor: `user_data` is NULL or points to a
 *         negative value.
 * @retval SMTP_ERR_INVALID_STATE read(2) failed (EINTR is retried).
 */
SMTP_API smtp_ssize smtp_io_read_fd(smtp_client *cli, char *dest, size_t cap, void *user_data);

/**
 * smtp_io_read_file is a body source that reads the stdio stream `user_data` with fread until
 * its end of file.
 *
 * Set message.read_body = smtp_io_read_file and message.read_body_data to the `FILE *`. Its
 * errors fail the session before the end of data, as those of smtp_io_read_fd.
 *
 * @param cli        The client engine (not used).
 * @param dest       Receives up to `cap` octets of the body.
 * @param cap        The room at `dest` in octets.
 * @param user_data  The stream (`FILE *`), open for reading.
 * @return The number of octets read, 0 at the end of file, or one of these negative error
 *         codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT The stream is NULL.
 * @retval SMTP_ERR_INVALID_STATE fread read nothing and the stream's error indicator is set
 *         (ferror).
 */
SMTP_API smtp_ssize smtp_io_read_file(smtp_client *cli, char *dest, size_t cap, void *user_data);

/* ---- Blocking calls ---- */

/**
 * smtp_io_connect resolves `host` and `port` and connects to the first of their addresses that
 * accepts.
 *
 * The name is resolved with getaddrinfo, and each address is tried in turn (IPv6 and IPv4, in
 * the resolver's order) by a non-blocking connect and poll, each within `timeout_ms`. The
 * descriptor returned is in blocking mode and close-on-exec, ready for smtp_io_client_run or
 * smtp_io_loop_add_client.
 *
 * @param host        A name, an IPv4 address or an IPv6 address without brackets.
 * @param port        A port number or a service name.
 * @param timeout_ms  The time allowed to each address in milliseconds; 0: the system's.
 * @param status      Receives SMTP_IO_OK, or why the call failed (below); may be NULL.
 * @param detail      Receives the detail of `*status` (0 on success); may be NULL.
 * @return The connected descriptor, or -1 with `*status` and `*detail` set as follows:
 *  - SMTP_IO_RESOLVE: the name did not resolve; detail: the getaddrinfo EAI_* code.
 *  - SMTP_IO_SYSERR: getaddrinfo failed with EAI_SYSTEM (detail: its errno), or the last
 *    address tried failed (detail: its errno, ECONNREFUSED for instance).
 *  - SMTP_IO_TIMEOUT: the last address tried timed out; detail 0.
 *  - SMTP_IO_ERROR: `host` or `port` is NULL; detail SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_io_connect(const char *host, const char *port, uint32_t timeout_ms,
                             smtp_io_status *status, int *detail);

/**
 * smtp_io_client_run runs the client session `cli` on the connected descriptor `fd` until it
 * is done, for this header's version of smtp_io_settings.
 *
 * A macro: see smtp_io_client_run_versioned, called with SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_client_run(cli, fd, settings, mem, detail)                                         \
    smtp_io_client_run_versioned((cli), (fd), SMTP_IO_SETTINGS_VERSION, (settings), (mem), (detail))
/**
 * smtp_io_client_run_versioned runs the client session `cli` on the connected descriptor `fd`
 * until the session is done or the connection ends.
 *
 * Call it through the macro smtp_io_client_run. It blocks: a connection (as
 * smtp_io_conn_new_client_versioned makes it) is driven with poll on the one descriptor,
 * enforcing the engine's timeouts, until the session is done (smtp_client_want_close) or the
 * connection ends; then it is freed. The application submits messages before the call, from
 * the engine's callbacks, or from settings->on_progress; the engine's on_session_end says how
 * the conversation went.
 *
 * @code
 * smtp_client_rcpt to = {.address = "bob@example.org"};
 * smtp_client_message m = {.sender = "alice@example.org", .rcpts = &to, .nrcpts = 1,
 *                          .read_body = smtp_io_read_file, .read_body_data = stdin};
 * smtp_client *cli;
 * if (smtp_client_new(&cli, NULL, NULL, NULL, NULL) != 0) return 1;
 * if (smtp_client_submit(cli, &m) == 0 && smtp_client_quit(cli) == 0) { // QUIT after it
 *     int fd = smtp_io_connect("mx.example.org", "25", 30000, NULL, NULL);
 *     if (fd >= 0) smtp_io_client_run(cli, fd, NULL, NULL, NULL); // closes fd
 * }
 * smtp_client_del(cli);
 * @endcode
 *
 * @param cli               The client engine. It stays the caller's: delete it after the call.
 * @param fd                A connected socket (smtp_io_connect gives one). The call takes it
 *                          and always closes it, on error too.
 * @param settings_version  SMTP_IO_SETTINGS_VERSION: the version of `*settings`.
 * @param settings          The connection's settings, copied; NULL for the defaults.
 * @param mem               The allocator (NULL: the default).
 * @param detail            Receives the detail of the status returned; may be NULL.
 * @return How the connection ended, its detail in `*detail`:
 * @retval SMTP_IO_DONE The session ran to its end (QUIT, 421, the engine's close).
 * @retval SMTP_IO_EOF The server closed or reset the connection before the session ended.
 * @retval SMTP_IO_SYSERR A socket call or poll failed; detail: its errno.
 * @retval SMTP_IO_TIMEOUT An engine timeout, stalled output or the TLS handshake; detail 0.
 * @retval SMTP_IO_TLS TLS failed (detail: the filter's code), or the session asked for TLS
 *         and settings->tls_new is NULL (detail SMTP_ERR_INVALID_STATE).
 * @retval SMTP_IO_ERROR A library error; detail: SMTP_ERR_INVALID_ARGUMENT (`cli` NULL, `fd`
 *         < 0, `settings` refused as by smtp_io_conn_new_client_versioned), SMTP_ERR_NOMEM,
 *         the engine's fatal error (as smtp_io_conn_on_readable returns it), or
 *         SMTP_ERR_INVALID_STATE when the session waits for the application with nothing that
 *         could wake it (no event to wait for and no deadline, even after on_progress).
 */
SMTP_API smtp_io_status smtp_io_client_run_versioned(smtp_client *cli, int fd, int settings_version,
                                                     const smtp_io_settings *settings,
                                                     const smtp_mem *mem, int *detail);

/**
 * smtp_io_server_run serves the accepted descriptor `fd` with one server session until it
 * ends, for this header's versions of the structs.
 *
 * A macro: see smtp_io_server_run_versioned, called with SMTP_SERVER_CALLBACKS_VERSION,
 * SMTP_SERVER_SETTINGS_VERSION and SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_server_run(fd, callbacks, server_settings, user_data, settings, mem, detail)       \
    smtp_io_server_run_versioned((fd), SMTP_SERVER_CALLBACKS_VERSION, (callbacks),                 \
                                 SMTP_SERVER_SETTINGS_VERSION, (server_settings), (user_data),     \
                                 SMTP_IO_SETTINGS_VERSION, (settings), (mem), (detail))
/**
 * smtp_io_server_run_versioned serves the accepted descriptor `fd` with one server session
 * until it ends, and frees the session.
 *
 * Call it through the macro smtp_io_server_run. It blocks: the session is made and started
 * as by smtp_io_conn_new_server_versioned, and driven with poll on the one descriptor until it
 * ends. A decision the callbacks defer (SMTP_SERVER_DEFER) must be answered from the callbacks
 * or from settings->on_progress.
 *
 * @param fd                       A connected (accepted) socket. The call takes it and always
 *                                 closes it, on error too.
 * @param callbacks_version        SMTP_SERVER_CALLBACKS_VERSION: the version of `*callbacks`.
 * @param callbacks                The engine's callbacks; NULL: all defaults.
 * @param server_settings_version  SMTP_SERVER_SETTINGS_VERSION: the version of
 *                                 `*server_settings`.
 * @param server_settings          The engine's settings; NULL: the defaults.
 * @param user_data                Passed last to the engine's callbacks.
 * @param settings_version         SMTP_IO_SETTINGS_VERSION: the version of `*settings`.
 * @param settings                 The connection's settings, copied; NULL for the defaults.
 * @param mem                      The allocator (NULL: the default).
 * @param detail                   Receives the detail of the status returned; may be NULL.
 * @return How the connection ended, its detail in `*detail`:
 * @retval SMTP_IO_DONE The session ended (after QUIT, a 421 or the engine's close).
 * @retval SMTP_IO_EOF The client vanished: it closed or reset the connection before the
 *         session ended.
 * @retval SMTP_IO_SYSERR A socket call or poll failed; detail: its errno.
 * @retval SMTP_IO_TIMEOUT An engine timeout (the client was sent 421), stalled output or the
 *         TLS handshake; detail 0.
 * @retval SMTP_IO_TLS TLS failed (detail: the filter's code), or the client asked for
 *         STARTTLS and settings->tls_new is NULL (detail SMTP_ERR_INVALID_STATE).
 * @retval SMTP_IO_ERROR A library error; detail: a code of smtp_io_conn_new_server_versioned
 *         (SMTP_ERR_INVALID_ARGUMENT, SMTP_ERR_NOMEM, SMTP_ERR_CALLBACK_FAILURE), the engine's
 *         fatal error (as smtp_io_conn_on_readable returns it), or SMTP_ERR_INVALID_STATE when
 *         the session waits for the application with nothing that could wake it (a deferred
 *         decision not answered, even after on_progress).
 */
SMTP_API smtp_io_status smtp_io_server_run_versioned(
    int fd, int callbacks_version, const smtp_server_callbacks *callbacks,
    int server_settings_version, const smtp_server_settings *server_settings, void *user_data,
    int settings_version, const smtp_io_settings *settings, const smtp_mem *mem, int *detail);

/* ---- The multi-connection loop: accepted and outgoing connections ---- */

/** The opaque multi-connection loop. */
typedef struct smtp_io_loop smtp_io_loop;

/**
 * What the factory decides for a new connection (smtp_io_loop_settings.on_accept). The loop
 * fills it with the loop's defaults before the call; the structs it points to are of the
 * versions given to smtp_io_loop_new (this header's), and copied by the engine.
 */
typedef struct smtp_io_session {
    /** The callbacks of the session (NULL: all defaults); preset to the loop's `callbacks`. */
    const smtp_server_callbacks *callbacks;
    /** The engine's settings (NULL: defaults); preset to the loop's `server`. */
    const smtp_server_settings *settings;
    /** The user_data of the session's callbacks (and on_close's session_data); preset to NULL
     * (without on_accept every session gets the loop's user_data). */
    void *user_data;
} smtp_io_session;

/** Settings of a loop. Fill with smtp_io_loop_settings_init, then change fields. */
typedef struct smtp_io_loop_settings {
    /** I/O settings of every connection (copied; NULL: defaults; its user_data goes to its
     * callbacks). */
    const smtp_io_settings *io;
    /**
     * The sessions' engine settings and callbacks, used as they are when on_accept is NULL and
     * handed to on_accept as defaults otherwise (NULL: the engine's defaults). Both structs and
     * the settings' strings are borrowed until smtp_io_loop_del.
     */
    /** @{ */
    const smtp_server_settings *server;
    const smtp_server_callbacks *callbacks;
    /** @} */
    /** Connections held at most; when reached the loop stops accepting until one closes.
     * Default 1000; at least 1. */
    size_t max_connections;
    /** listen(2) backlog of smtp_io_loop_listen; default 511. */
    int backlog;
    /**
     * After smtp_io_loop_shutdown, connections with an open transaction may finish it for
     * this many milliseconds; then they get 421 too. Default 30000.
     */
    uint32_t shutdown_grace_ms;
    /**
     * The factory: a connection was accepted from `peer` as `conn`.
     *
     * Fill `*session` (callbacks, settings, user_data) and return 0, or return a negative
     * value to close the connection at once without a word (to refuse with a 554 greeting,
     * accept and refuse in on_connect instead). May be NULL: every session then gets
     * `server`, `callbacks` and `user_data` as they are. A loop that listens needs on_accept
     * or callbacks (a loop that only drives outgoing connections, smtp_io_loop_add_client,
     * needs neither).
     *
     * @param conn       The new connection, without its engine yet (made after this returns
     *                   0); valid until on_close.
     * @param peer       The peer's address, `peerlen` octets, valid during the call only.
     * @param peerlen    The length of `*peer` in octets.
     * @param session    Preset to the loop's defaults (smtp_io_session); fill it in.
     * @param user_data  The loop settings' `user_data`.
     * @return 0 to make the session: on_close is then called once the connection ends, also
     *         when its engine could not be made (SMTP_IO_ERROR with the code of
     *         smtp_server_new). A negative value closes the connection and frees `conn` at
     *         once without on_close: free here what `session->user_data` holds.
     */
    int (*on_accept)(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t peerlen,
                     smtp_io_session *session, void *user_data);
    /**
     * The connection `conn` ended and will be freed after this returns, a server connection
     * with its engine.
     *
     * Free the session's user_data here; a client engine is the application's, and may be
     * deleted here. May be NULL.
     *
     * @param conn          The connection; valid until this returns.
     * @param status        How it ended (as smtp_io_conn_status returns it).
     * @param detail        The detail of `status`.
     * @param session_data  The session's user_data (smtp_io_session.user_data), or
     *                      smtp_io_loop_add_client's `session_data`.
     * @param user_data     The loop settings' `user_data`.
     */
    void (*on_close)(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                     void *user_data);
    /** Passed last to on_accept and on_close, and the sessions' user_data without on_accept. */
    void *user_data;
} smtp_io_loop_settings;

/** The version of smtp_io_loop_settings this header describes (common.h: versioned structs). */
#define SMTP_IO_LOOP_SETTINGS_VERSION 1

/**
 * smtp_io_loop_settings_init fills `*s` with the defaults, for this header's version of the
 * struct.
 *
 * A macro: see smtp_io_loop_settings_init_versioned, called with
 * SMTP_IO_LOOP_SETTINGS_VERSION.
 */
#define smtp_io_loop_settings_init(s)                                                              \
    smtp_io_loop_settings_init_versioned(SMTP_IO_LOOP_SETTINGS_VERSION, (s))
/**
 * smtp_io_loop_settings_init_versioned fills the fields of smtp_io_loop_settings version
 * `version` with their defaults.
 *
 * Call it through the macro smtp_io_loop_settings_init. The defaults: max_connections 1000,
 * backlog 511, shutdown_grace_ms 30000; io, server, callbacks, on_accept, on_close and
 * user_data NULL.
 *
 * @param version  The version of the caller's struct (1 .. SMTP_IO_LOOP_SETTINGS_VERSION);
 *                 another version is ignored.
 * @param s        The settings to fill; NULL is ignored.
 */
SMTP_API void smtp_io_loop_settings_init_versioned(int version, smtp_io_loop_settings *s);

/**
 * smtp_io_loop_new creates a loop, for this header's versions of the structs.
 *
 * A macro: see smtp_io_loop_new_versioned, called with SMTP_IO_LOOP_SETTINGS_VERSION,
 * SMTP_IO_SETTINGS_VERSION, SMTP_SERVER_CALLBACKS_VERSION and SMTP_SERVER_SETTINGS_VERSION.
 */
#define smtp_io_loop_new(pl, settings, mem)                                                        \
    smtp_io_loop_new_versioned((pl), SMTP_IO_LOOP_SETTINGS_VERSION, (settings),                    \
                               SMTP_IO_SETTINGS_VERSION, SMTP_SERVER_CALLBACKS_VERSION,            \
                               SMTP_SERVER_SETTINGS_VERSION, (mem))
/**
 * smtp_io_loop_new_versioned creates a multi-connection loop.
 *
 * Call it through the macro smtp_io_loop_new. The loop holds an epoll instance on Linux (a
 * pollfd table elsewhere) and a wake-up pipe. `settings` and its io settings are copied; the
 * server settings and callbacks it points to are borrowed until smtp_io_loop_del. Then add
 * listeners (smtp_io_loop_listen, smtp_io_loop_add_listener) or outgoing connections
 * (smtp_io_loop_add_client) and run it (smtp_io_loop_run).
 *
 * @code
 * smtp_server_callbacks cb = {.on_message_end = on_message_end}; // the application's
 * smtp_io_loop_settings ls;
 * smtp_io_loop_settings_init(&ls);
 * ls.callbacks = &cb; // ls.server: the engine's settings (NULL: defaults)
 * smtp_io_loop *loop;
 * if (smtp_io_loop_new(&loop, &ls, NULL) != 0) return 1;
 * if (smtp_io_loop_listen(loop, NULL, "2525", NULL, NULL) > 0)
 *     smtp_io_loop_run(loop); // until smtp_io_loop_shutdown, from a signal handler say
 * smtp_io_loop_del(loop);
 * @endcode
 *
 * @param pl                       Receives the loop; NULL on error.
 * @param settings_version         SMTP_IO_LOOP_SETTINGS_VERSION: the version of `*settings`.
 * @param settings                 The loop's settings (required), copied.
 * @param io_settings_version      SMTP_IO_SETTINGS_VERSION: the version of `*settings->io`.
 * @param callbacks_version        SMTP_SERVER_CALLBACKS_VERSION: the version of the server
 *                                 callbacks the loop hands to sessions (settings->callbacks and
 *                                 those on_accept puts in smtp_io_session).
 * @param server_settings_version  SMTP_SERVER_SETTINGS_VERSION: likewise, of the server
 *                                 settings.
 * @param mem                      The allocator of the loop and its connections (NULL: the
 *                                 default); it must outlive the loop.
 * @return 0 on success, or one of these negative error codes (with `*pl` NULL when `pl` is not
 *         NULL):
 * @retval SMTP_ERR_INVALID_ARGUMENT `pl` or `settings` is NULL, max_connections is 0, the io
 *         settings are refused as by smtp_io_conn_new_client_versioned, or a struct version
 *         this library lacks.
 * @retval SMTP_ERR_NOMEM No memory for the loop or its poller.
 * @retval SMTP_ERR_INVALID_STATE epoll_create1, epoll_ctl or pipe failed (out of descriptors,
 *         say).
 */
SMTP_API int smtp_io_loop_new_versioned(smtp_io_loop **pl, int settings_version,
                                        const smtp_io_loop_settings *settings,
                                        int io_settings_version, int callbacks_version,
                                        int server_settings_version, const smtp_mem *mem);

/**
 * smtp_io_loop_del closes every connection and listener and frees the loop.
 *
 * Each open connection ends as SMTP_IO_SHUTDOWN: on_close is called, then the connection is
 * freed, a server connection with its engine (client engines stay the application's). The
 * listening sockets and the wake-up pipe are closed. Do not call it from the loop's callbacks
 * (call smtp_io_loop_shutdown there).
 *
 * @param loop  The loop; NULL is ignored.
 */
SMTP_API void smtp_io_loop_del(smtp_io_loop *loop);

/**
 * smtp_io_loop_listen binds and listens on every address of `host` and `port` and adds the
 * sockets to the loop.
 *
 * Each address gets a socket of its own (SO_REUSEADDR; IPV6_V6ONLY for IPv6) listening with
 * the loop's backlog, added as by smtp_io_loop_add_listener. An address that cannot be bound
 * is skipped when another one succeeds. With port "0" the kernel chooses the port of the first
 * socket and the others share it (smtp_io_loop_port tells it).
 *
 * @param loop    The loop.
 * @param host    The local address or name to listen on; NULL: every local address, IPv6 and
 *                IPv4.
 * @param port    A port number or a service name; "0": a port chosen by the kernel.
 * @param status  Receives SMTP_IO_OK, or why the call failed (below); may be NULL.
 * @param detail  Receives the detail of `*status` (0 on success); may be NULL.
 * @return The number of sockets added (>= 1), or -1 with `*status` and `*detail` set as
 *         follows:
 *  - SMTP_IO_RESOLVE: the address did not resolve; detail: the getaddrinfo EAI_* code.
 *  - SMTP_IO_SYSERR: getaddrinfo failed with EAI_SYSTEM (detail: its errno), or no address
 *    could be bound (detail: the errno of socket, bind or listen for the last one).
 *  - SMTP_IO_ERROR: `loop` or `port` is NULL (detail SMTP_ERR_INVALID_ARGUMENT), or adding a
 *    socket failed (detail: the code of smtp_io_loop_add_listener). When that happens after
 *    other sockets were added, they stay and their number is returned, with `*status`
 *    SMTP_IO_ERROR all the same.
 */
SMTP_API int smtp_io_loop_listen(smtp_io_loop *loop, const char *host, const char *port,
                                 smtp_io_status *status, int *detail);

/**
 * smtp_io_loop_add_listener adds a listening socket the application made (inherited from a
 * supervisor, say).
 *
 * The loop makes it non-blocking and close-on-exec, accepts connections from it, and closes it
 * when shutdown starts or in smtp_io_loop_del.
 *
 * @param loop  The loop.
 * @param fd    A bound, listening socket. The loop owns it on success; on error it is left
 *              open.
 * @return 0 on success, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `loop` is NULL, `fd` < 0, or the loop has neither
 *         on_accept nor callbacks to make sessions with.
 * @retval SMTP_ERR_INVALID_STATE The loop is shutting down (smtp_io_loop_shutdown was called),
 *         or the poller refused the descriptor (epoll_ctl failed; with poll, its table could
 *         not grow).
 * @retval SMTP_ERR_NOMEM No memory for the listener.
 */
SMTP_API int smtp_io_loop_add_listener(smtp_io_loop *loop, int fd);

/**
 * smtp_io_loop_add_client drives the client engine `cli` on the connected descriptor `fd`
 * among the loop's connections, for this header's version of smtp_io_settings.
 *
 * A macro: see smtp_io_loop_add_client_versioned, called with SMTP_IO_SETTINGS_VERSION.
 */
#define smtp_io_loop_add_client(loop, fd, cli, settings, session_data, pconn)                      \
    smtp_io_loop_add_client_versioned((loop), (fd), (cli), SMTP_IO_SETTINGS_VERSION, (settings),   \
                                      (session_data), (pconn))
/**
 * smtp_io_loop_add_client_versioned drives the client engine `cli` on the connected descriptor
 * `fd` among the loop's connections.
 *
 * Call it through the macro smtp_io_loop_add_client. Many sessions run in one thread, each
 * carrying as many messages as the application submits (from the engine's callbacks, or from
 * outside them followed by smtp_io_loop_update). The connection is made as by
 * smtp_io_conn_new_client_versioned and takes its first step at once. on_close reports its
 * end with `session_data`. When shutdown starts, the client sends QUIT once its message in
 * progress is done; after shutdown_grace_ms it is cut (SMTP_IO_SHUTDOWN).
 *
 * @param loop              The loop.
 * @param fd                A connected socket (smtp_io_connect gives one). The loop owns it
 *                          from now on; on error it is left open.
 * @param cli               The client engine. It stays the application's: delete it in
 *                          on_close or after the loop.
 * @param settings_version  SMTP_IO_SETTINGS_VERSION: the version of `*settings` (unused when
 *                          `settings` is NULL).
 * @param settings          The connection's settings, copied; NULL for the loop's `io`.
 * @param session_data      Handed to on_close as its `session_data`.
 * @param pconn             When not NULL, receives the connection, valid until on_close; NULL
 *                          if it already ended (on_close was called before this returned)
 *                          or on error.
 * @return 0 on success, or one of these negative error codes (with `fd` left open, and
 *         on_close not called):
 * @retval SMTP_ERR_INVALID_ARGUMENT `loop` or `cli` is NULL, `fd` < 0, or `settings` refused
 *         as by smtp_io_conn_new_client_versioned.
 * @retval SMTP_ERR_INVALID_STATE The loop is shutting down (smtp_io_loop_shutdown was called).
 * @retval SMTP_ERR_NOMEM No memory for the connection, or for its place among the loop's
 *         (made first: nothing was called and nothing written to `fd`).
 */
SMTP_API int smtp_io_loop_add_client_versioned(smtp_io_loop *loop, int fd, smtp_client *cli,
                                               int settings_version,
                                               const smtp_io_settings *settings, void *session_data,
                                               smtp_io_conn **pconn);

/**
 * smtp_io_loop_port returns the local port of a listener of the loop.
 *
 * @param loop   The loop.
 * @param index  The listener's index, in the order the listeners were added (0: the first).
 * @return The port, or -1 when `loop` is NULL, there is no listener at `index` (none after
 *         shutdown started), the listener is not an IPv4 or IPv6 socket, or getsockname
 *         failed.
 */
SMTP_API int smtp_io_loop_port(const smtp_io_loop *loop, size_t index);

/**
 * smtp_io_loop_run_once waits for the next event or deadline and handles what is ready.
 *
 * It accepts, reads, writes, runs the expired deadlines and carries out a shutdown that was
 * asked for. Errors of one connection end that connection only (on_close says how).
 *
 * @param loop         The loop.
 * @param max_wait_ms  The longest wait in milliseconds; 0: none; negative (-1): until the next
 *                     deadline or event (at most an hour).
 * @return 1 while the loop goes on, 0 once nothing is left to do: every connection is closed
 *         and the loop has shut down or has no listener (a loop that only drove clients).
 *         Or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `loop` is NULL.
 * @retval SMTP_ERR_INVALID_STATE epoll_wait or poll failed other than by a signal.
 */
SMTP_API int smtp_io_loop_run_once(smtp_io_loop *loop, int max_wait_ms);

/**
 * smtp_io_loop_run runs the loop until nothing is left to do or an error.
 *
 * It calls smtp_io_loop_run_once, waiting as long as needed, until that returns 0 or an error.
 * A loop that listens runs until smtp_io_loop_shutdown and the end of its connections.
 *
 * @param loop  The loop.
 * @return 0 once nothing is left to do, or one of these negative error codes:
 * @retval SMTP_ERR_INVALID_ARGUMENT `loop` is NULL.
 * @retval SMTP_ERR_INVALID_STATE epoll_wait or poll failed other than by a signal.
 */
SMTP_API int smtp_io_loop_run(smtp_io_loop *loop);

/**
 * smtp_io_loop_shutdown starts a graceful shutdown of the loop.
 *
 * The loop closes its listeners; each server connection without an open transaction
 * (smtp_io_conn_busy) gets "421 4.3.2 Service shutting down" and is closed once it is
 * written; those with one finish it first (or get 421 after shutdown_grace_ms). Client
 * connections send QUIT once their message in progress is done, and are cut after
 * shutdown_grace_ms. Async-signal-safe: it only sets a flag and writes to the loop's wake-up
 * pipe; the work happens in smtp_io_loop_run_once.
 *
 * @param loop  The loop; NULL is ignored.
 */
SMTP_API void smtp_io_loop_shutdown(smtp_io_loop *loop);

/**
 * smtp_io_loop_update tells the loop that the application changed `conn` outside the
 * callbacks.
 *
 * After a deferred smtp_server_reply, or an smtp_client_submit or smtp_client_body_ready made
 * outside the callbacks, it flushes the connection (smtp_io_conn_flush) and updates its events
 * and deadline in the loop. A connection that is then done is closed (on_close is called) and
 * `conn` is no longer valid.
 *
 * @param loop  The loop.
 * @param conn  One of the loop's connections.
 * @return 0 on success or after an end on the network, or one of these negative error codes
 *         (the connection then ended with SMTP_IO_ERROR and that code as detail, and was
 *         closed):
 * @retval SMTP_ERR_INVALID_ARGUMENT `loop` or `conn` is NULL (nothing is done).
 * @retval SMTP_ERR_INVALID_STATE The engine refused a call in its state: the function was
 *         called from inside one of the engine's callbacks.
 * @retval SMTP_ERR_NOMEM A buffer of the connection or of the engine could not grow.
 * @retval SMTP_ERR_CALLBACK_FAILURE on_progress returned a negative value, or one of the
 *         engine's callbacks (a client's body source too) failed.
 * @retval SMTP_ERR_PROTO Client: the server broke the protocol (an unsolicited or extra reply,
 *         a reply code that cannot answer the command, bytes after the 220 to STARTTLS, a bad
 *         SASL exchange).
 * @retval SMTP_ERR_REPLY_CODE Client: a reply line without a valid 2xx-5xx code.
 * @retval SMTP_ERR_REPLY_SEPARATOR Client: a reply code followed by a byte other than SP, '-'
 *         or CRLF.
 * @retval SMTP_ERR_REPLY_MISMATCH Client: a continuation line with a different reply code.
 * @retval SMTP_ERR_REPLY_TOO_LONG Client: a multi-line reply with too many lines.
 * @retval SMTP_ERR_LINE_TOO_LONG Client: a reply line too long.
 * @retval SMTP_ERR_BARE_LF Client: a bare LF in a reply.
 * @retval SMTP_ERR_BARE_CR Client: a bare CR in a reply.
 * @retval SMTP_ERR_NUL Client: a NUL byte in a reply.
 */
SMTP_API int smtp_io_loop_update(smtp_io_loop *loop, smtp_io_conn *conn);

/**
 * smtp_io_loop_connections returns the number of open connections of the loop.
 *
 * @param loop  The loop.
 * @return The number of connections, server and client, or 0 when `loop` is NULL.
 */
SMTP_API size_t smtp_io_loop_connections(const smtp_io_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_IO_H */
