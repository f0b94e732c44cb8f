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

/** smtp_io_now_ms returns the monotonic clock (CLOCK_MONOTONIC) in milliseconds. */
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

/** smtp_io_status_name returns "OK", "DONE", "EOF"...; "INVALID" for another value. Static. */
SMTP_API const char *smtp_io_status_name(smtp_io_status status);

/**
 * smtp_io_status_text writes a one-line description of `status` with its `detail` ("connect
 * failed: Connection refused") into `buf` (`cap` octets, always NUL-terminated when cap > 0)
 * and returns buf.
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
     * Advances the handshake with the bytes fed so far: returns 1 once it is complete, 0
     * while it needs more (pull what it produced and send it, feed what arrives), or a
     * negative code when it failed (the peer's certificate was refused, an alert...).
     */
    int (*handshake)(void *ctx);
    /** Takes ciphertext read from the socket; returns the bytes taken (fewer than len when its
     * buffer is full: the adapter offers the rest again after the next read). */
    smtp_ssize (*feed)(void *ctx, const char *data, size_t len);
    /** Copies up to `cap` octets of ciphertext to send into `dest`; returns how many (0:
     * nothing to send now). */
    smtp_ssize (*pull)(void *ctx, char *dest, size_t cap);
    /**
     * Copies up to `cap` octets of decrypted plaintext into `dest`; returns how many: 0 when
     * none is available until more ciphertext is fed. A negative return ends the stream:
     * the adapter treats it as the peer's end of file (a close_notify) or failure.
     */
    smtp_ssize (*read)(void *ctx, char *dest, size_t cap);
    /** Takes plaintext to encrypt; returns the bytes taken (fewer than len when its buffer is
     * full: the adapter pulls ciphertext and offers the rest again). */
    smtp_ssize (*write)(void *ctx, const char *data, size_t len);
    /** Queues a close_notify alert to pull before the socket is closed; may be NULL. */
    void (*close)(void *ctx);
    /** Frees the filter (called once, when the connection is freed); may be NULL. */
    void (*del)(void *ctx);
} smtp_io_filter;

/** The opaque connection: a socket, its engine and its TLS filter. */
typedef struct smtp_io_conn smtp_io_conn;

/**
 * A TLS factory fills `*filter` for a connection that starts TLS now: a client after the
 * server's 220 to STARTTLS (smtp_client_want_tls) or at once with implicit TLS; a server
 * once its "220 Ready to start TLS" was written out (RFC 3207 4.2). smtp_io_conn_server and
 * smtp_io_conn_client tell the role; the host name to verify is the application's (keep it in
 * user_data). Returns 0, or a negative code: the connection then ends with SMTP_IO_TLS.
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
    /** Bytes read from the socket at once (at most 65536); default 16384. */
    uint32_t read_size;
    /** Non-zero: start TLS before anything else (implicit TLS, RFC 8314 3.3). tls_new is then
     * required. A server engine must be given SMTP_SERVER_TLS, a client SMTP_CLIENT_TLS. A failed
     * handshake ends the connection with SMTP_IO_TLS; the engine, which knows only STARTTLS,
     * sees the connection closed (a client: SMTP_CLIENT_END_CLOSED). */
    int implicit_tls;
    /** The TLS factory for STARTTLS and implicit TLS; NULL: none (a session that asks for TLS
     * then ends with SMTP_IO_TLS). */
    smtp_io_tls_factory tls_new;
    /** The transcript: every plaintext byte in and out (e.g. "C: "/"S: " lines); may be NULL. */
    void (*on_trace)(smtp_io_conn *conn, int direction, const char *data, size_t len,
                     void *user_data);
    /**
     * Called after every event the connection handled (bytes read and fed, output written,
     * a handshake step): a client application submits the next message, tells a waiting body
     * source it has data (smtp_client_body_ready) or quits from here. Returns 0, or a negative
     * value to end the connection (SMTP_IO_ERROR, detail SMTP_ERR_CALLBACK_FAILURE). May be NULL.
     */
    int (*on_progress)(smtp_io_conn *conn, void *user_data);
    /** Passed to tls_new, on_trace and on_progress. */
    void *user_data;
} smtp_io_settings;

/** The version of smtp_io_settings this header describes (common.h: versioned structs). */
#define SMTP_IO_SETTINGS_VERSION 1

/**
 * smtp_io_settings_init fills `*s` with the defaults above. NULL is ignored.
 * (A macro: smtp_io_settings_init_versioned with SMTP_IO_SETTINGS_VERSION.)
 */
#define smtp_io_settings_init(s) smtp_io_settings_init_versioned(SMTP_IO_SETTINGS_VERSION, (s))
/** smtp_io_settings_init_versioned fills the fields of smtp_io_settings version `version`
 * (1 .. SMTP_IO_SETTINGS_VERSION) with their defaults; another version is ignored. */
SMTP_API void smtp_io_settings_init_versioned(int version, smtp_io_settings *s);

/* ---- Connections: the pieces for an application's own poll/epoll loop ---- */

/** Events to wait for (smtp_io_conn_events). */
/** @{ */
#define SMTP_IO_READ 0x1u
#define SMTP_IO_WRITE 0x2u
/** @} */

/**
 * smtp_io_conn_new_client binds the client engine `cli` (owned by the caller, who deletes it
 * after the connection) to the connected descriptor `fd`, which the connection now owns: it
 * is made non-blocking and closed by smtp_io_conn_del. `settings` (NULL: defaults) is copied;
 * `mem` (NULL: default) must outlive the connection.
 * Returns 0; SMTP_ERR_INVALID_ARGUMENT (pc or cli NULL, fd < 0, implicit_tls without
 * tls_new, read_size over 65536, a settings version this library lacks); SMTP_ERR_NOMEM. On
 * error *pc is NULL and fd is left open.
 * (A macro: smtp_io_conn_new_client_versioned with this header's version.)
 */
#define smtp_io_conn_new_client(pc, fd, cli, settings, mem)                                        \
    smtp_io_conn_new_client_versioned((pc), (fd), (cli), SMTP_IO_SETTINGS_VERSION, (settings),     \
                                      (mem))
/** smtp_io_conn_new_client_versioned is smtp_io_conn_new_client with the caller's version. */
SMTP_API int smtp_io_conn_new_client_versioned(smtp_io_conn **pc, int fd, smtp_client *cli,
                                               int settings_version,
                                               const smtp_io_settings *settings,
                                               const smtp_mem *mem);

/**
 * smtp_io_conn_new_server creates a server engine (smtp_server_new with `callbacks`,
 * `server_settings`, `mem` and `user_data`, all as documented there) bound to the connected
 * descriptor `fd`, which the connection now owns, and starts it (smtp_server_start: do not
 * call it yourself). The connection owns the engine (smtp_io_conn_server). The application's
 * callbacks receive the engine and `user_data` as usual. The connection follows the engine's
 * queries: it runs STARTTLS once the 220 is written (smtp_server_want_tls), holds replies
 * the engine asks to delay (smtp_server_output_delay: a deadline, never a sleep), and knows
 * whether a transaction is open (smtp_io_conn_busy).
 * Returns 0; SMTP_ERR_INVALID_ARGUMENT (as smtp_io_conn_new_client, or from
 * smtp_server_new); SMTP_ERR_NOMEM; SMTP_ERR_CALLBACK_FAILURE (on_connect failed).
 * On error *pc is NULL and fd is left open.
 * (A macro: smtp_io_conn_new_server_versioned with this header's versions.)
 */
#define smtp_io_conn_new_server(pc, fd, callbacks, server_settings, user_data, settings, mem)      \
    smtp_io_conn_new_server_versioned((pc), (fd), SMTP_SERVER_CALLBACKS_VERSION, (callbacks),      \
                                      SMTP_SERVER_SETTINGS_VERSION, (server_settings),             \
                                      (user_data), SMTP_IO_SETTINGS_VERSION, (settings), (mem))
/** smtp_io_conn_new_server_versioned is smtp_io_conn_new_server with the caller's versions. */
SMTP_API int smtp_io_conn_new_server_versioned(
    smtp_io_conn **pc, int fd, int callbacks_version, const smtp_server_callbacks *callbacks,
    int server_settings_version, const smtp_server_settings *server_settings, void *user_data,
    int settings_version, const smtp_io_settings *settings, const smtp_mem *mem);

/**
 * smtp_io_conn_del closes the descriptor (after queueing a TLS close_notify and trying once to
 * send it), frees the filter and, for a server connection, the engine. NULL is ignored.
 */
SMTP_API void smtp_io_conn_del(smtp_io_conn *conn);

/** smtp_io_conn_fd returns the descriptor, or -1 for NULL. */
SMTP_API int smtp_io_conn_fd(const smtp_io_conn *conn);

/** smtp_io_conn_client / _server return the engine (NULL for the other role or NULL conn). */
/** @{ */
SMTP_API smtp_client *smtp_io_conn_client(const smtp_io_conn *conn);
SMTP_API smtp_server *smtp_io_conn_server(const smtp_io_conn *conn);
/** @} */

/** smtp_io_conn_filter returns the TLS filter in use (its ctx is the TLS session), or NULL. */
SMTP_API const smtp_io_filter *smtp_io_conn_filter(const smtp_io_conn *conn);

/** smtp_io_conn_tls returns 1 once the TLS handshake completed on the connection, else 0. */
SMTP_API int smtp_io_conn_tls(const smtp_io_conn *conn);

/**
 * smtp_io_conn_busy returns 1 while a server connection has a transaction open
 * (smtp_server_in_transaction: from an accepted MAIL until its message was answered or
 * aborted, or the transaction was reset) or a decision pending (smtp_server_pending: a MAIL
 * being decided counts), else 0. smtp_io_loop_shutdown lets such connections finish.
 */
SMTP_API int smtp_io_conn_busy(const smtp_io_conn *conn);

/**
 * smtp_io_conn_events returns the events to wait for on the descriptor: SMTP_IO_READ,
 * SMTP_IO_WRITE, both, or 0 (wait for the deadline only, or for the application: a deferred
 * server decision; a client waiting for body data or a message).
 */
SMTP_API unsigned smtp_io_conn_events(const smtp_io_conn *conn);

/**
 * smtp_io_conn_deadline returns when smtp_io_conn_on_timer must be called (an absolute time
 * of smtp_io_now_ms), or SMTP_IO_NEVER. It changes after every call below.
 */
SMTP_API int64_t smtp_io_conn_deadline(const smtp_io_conn *conn);

/**
 * The event handlers, given the current time `now` (smtp_io_now_ms). Each does what it can
 * without blocking: reads until EAGAIN (at most a few reads, for fairness) and feeds the
 * engine, keeps unconsumed bytes, pulls and writes output (keeping what the socket did not
 * take), runs TLS, gives the engines smtp_*_eof on the peer's end of file and
 * smtp_*_timeout_expired when a timeout passed, and calls on_progress. Spurious calls are
 * harmless. Afterwards check smtp_io_conn_done.
 * Return 0, or the negative SMTP_ERR_* of an engine's fatal error or of misuse (conn NULL:
 * SMTP_ERR_INVALID_ARGUMENT); the connection is then done.
 */
/** @{ */
SMTP_API int smtp_io_conn_on_readable(smtp_io_conn *conn, int64_t now);
SMTP_API int smtp_io_conn_on_writable(smtp_io_conn *conn, int64_t now);
SMTP_API int smtp_io_conn_on_timer(smtp_io_conn *conn, int64_t now);
/** @} */

/**
 * smtp_io_conn_flush processes what the application changed outside the handlers (a
 * deferred smtp_server_reply, smtp_client_submit, smtp_client_body_ready, smtp_server_shutdown): it
 * feeds kept input the engine can now take, pulls and writes output, and recomputes the events and
 * the deadline. Returns as the handlers.
 */
SMTP_API int smtp_io_conn_flush(smtp_io_conn *conn, int64_t now);

/**
 * smtp_io_conn_done returns 1 when the connection is over (smtp_io_conn_status says how):
 * call smtp_io_conn_del. 1 for NULL.
 */
SMTP_API int smtp_io_conn_done(const smtp_io_conn *conn);

/** smtp_io_conn_status returns how the connection ended (SMTP_IO_OK while it is open) and
 * stores the detail in *detail when not NULL. */
SMTP_API smtp_io_status smtp_io_conn_status(const smtp_io_conn *conn, int *detail);

/* ---- Body sources (smtp_client_message.read_body, <smtp/client.h>) ---- */

/**
 * smtp_io_read_fd is a body source reading the descriptor that `user_data` points to (an
 * `int`, e.g. an open file or a pipe) with read(2) until its end of file. Set
 * message.read_body = smtp_io_read_fd and message.read_body_data = &fd. A non-blocking
 * descriptor without data gives SMTP_ERR_AGAIN (call smtp_client_body_ready when it is
 * readable). Returns octets read, 0 at the end, SMTP_ERR_AGAIN, or SMTP_ERR_INVALID_ARGUMENT
 * (no descriptor) and SMTP_ERR_INVALID_STATE (a read error), which fail the session before
 * the end of data, so the message is never acknowledged short.
 */
SMTP_API smtp_ssize smtp_io_read_fd(smtp_client *cli, char *dest, size_t cap, void *user_data);

/**
 * smtp_io_read_file is a body source reading the stdio stream `user_data` (a FILE *) with
 * fread until its end of file. Returns octets read, 0 at the end, SMTP_ERR_INVALID_ARGUMENT
 * (stream NULL) or SMTP_ERR_INVALID_STATE (ferror), which fail the session as above.
 */
SMTP_API smtp_ssize smtp_io_read_file(smtp_client *cli, char *dest, size_t cap, void *user_data);

/* ---- Blocking calls ---- */

/**
 * smtp_io_connect resolves `host` (a name, an IPv4 address or an IPv6 address without
 * brackets) and `port` (a number or a service name) with getaddrinfo and tries each address
 * in turn (IPv6 and IPv4, in the resolver's order), each within `timeout_ms` (0: the
 * system's), by a non-blocking connect and poll. Returns the connected descriptor (blocking
 * mode, close-on-exec), or -1 with *status (when not NULL) SMTP_IO_RESOLVE (detail: EAI_*),
 * SMTP_IO_SYSERR (detail: the last address's errno, e.g. ECONNREFUSED), SMTP_IO_TIMEOUT (the
 * last address timed out) or SMTP_IO_ERROR (detail SMTP_ERR_INVALID_ARGUMENT: host or port
 * NULL). `detail` may be NULL.
 */
SMTP_API int smtp_io_connect(const char *host, const char *port, uint32_t timeout_ms,
                             smtp_io_status *status, int *detail);

/**
 * smtp_io_client_run runs the client session `cli` on the connected descriptor `fd` until it
 * is done (smtp_client_want_close) or the connection ends, enforcing the engine's timeouts.
 * It takes `fd` and always closes it. The application submits messages before the call, from
 * the engine's callbacks, or from settings->on_progress. `settings`: NULL for
 * defaults. Returns how the connection ended (SMTP_IO_DONE when the session ran to its end;
 * the engine's on_session_end says how the conversation went) with the detail in *detail
 * (may be NULL); SMTP_IO_ERROR with SMTP_ERR_INVALID_ARGUMENT for cli NULL or fd < 0.
 * (A macro: smtp_io_client_run_versioned with this header's version.)
 */
#define smtp_io_client_run(cli, fd, settings, mem, detail)                                         \
    smtp_io_client_run_versioned((cli), (fd), SMTP_IO_SETTINGS_VERSION, (settings), (mem), (detail))
/** smtp_io_client_run_versioned is smtp_io_client_run with the caller's version. */
SMTP_API smtp_io_status smtp_io_client_run_versioned(smtp_client *cli, int fd, int settings_version,
                                                     const smtp_io_settings *settings,
                                                     const smtp_mem *mem, int *detail);

/**
 * smtp_io_server_run serves the accepted descriptor `fd` with a server session made as by
 * smtp_io_conn_new_server, until it ends, and frees the session. It takes `fd` and always
 * closes it. Returns as smtp_io_client_run (SMTP_IO_DONE after QUIT or the engine's close,
 * SMTP_IO_EOF when the client vanished).
 * (A macro: smtp_io_server_run_versioned with this header's versions.)
 */
#define smtp_io_server_run(fd, callbacks, server_settings, user_data, settings, mem, detail)       \
    smtp_io_server_run_versioned((fd), SMTP_SERVER_CALLBACKS_VERSION, (callbacks),                 \
                                 SMTP_SERVER_SETTINGS_VERSION, (server_settings), (user_data),     \
                                 SMTP_IO_SETTINGS_VERSION, (settings), (mem), (detail))
/** smtp_io_server_run_versioned is smtp_io_server_run with the caller's versions. */
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
     * The factory: a connection was accepted from `peer` (`peerlen` octets) as `conn`. Fill
     * `*session` (callbacks, settings, user_data) and return 0, or return a negative value to
     * close the connection at once without a word (to refuse with a 554 greeting, accept and
     * refuse in on_connect instead). `conn` stays valid until on_close. May be NULL: every
     * session then gets `server`, `callbacks` and `user_data` as they are. A loop that listens
     * needs on_accept or callbacks (a loop that only drives outgoing connections,
     * smtp_io_loop_add_client, needs neither).
     */
    int (*on_accept)(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t peerlen,
                     smtp_io_session *session, void *user_data);
    /**
     * The connection `conn` ended (`status`, `detail` as smtp_io_conn_status) and will be
     * freed after this returns, a server connection with its engine: free the session's
     * user_data here (`session_data`: the session's user_data, or smtp_io_loop_add_client's);
     * a client engine is the application's, and may be deleted here. May be NULL.
     */
    void (*on_close)(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                     void *user_data);
    /** Passed last to on_accept and on_close, and the sessions' user_data without on_accept. */
    void *user_data;
} smtp_io_loop_settings;

/** The version of smtp_io_loop_settings this header describes (common.h: versioned structs). */
#define SMTP_IO_LOOP_SETTINGS_VERSION 1

/**
 * smtp_io_loop_settings_init fills `*s` with the defaults above (io, server and callbacks
 * NULL). NULL is ignored. (A macro: smtp_io_loop_settings_init_versioned with
 * SMTP_IO_LOOP_SETTINGS_VERSION.)
 */
#define smtp_io_loop_settings_init(s)                                                              \
    smtp_io_loop_settings_init_versioned(SMTP_IO_LOOP_SETTINGS_VERSION, (s))
/** smtp_io_loop_settings_init_versioned fills the fields of smtp_io_loop_settings version
 * `version` (1 .. SMTP_IO_LOOP_SETTINGS_VERSION) with their defaults; another is ignored. */
SMTP_API void smtp_io_loop_settings_init_versioned(int version, smtp_io_loop_settings *s);

/**
 * smtp_io_loop_new creates a loop (an epoll instance on Linux, a pollfd table elsewhere, a
 * wake-up pipe). `settings` and its io settings are copied (the server settings and callbacks
 * are borrowed); `mem` (NULL: default) must outlive the loop. Returns 0;
 * SMTP_ERR_INVALID_ARGUMENT (pl or settings NULL, max_connections 0, io settings as
 * smtp_io_conn_new_client, a struct version this library lacks); SMTP_ERR_NOMEM;
 * SMTP_ERR_INVALID_STATE (epoll_create1 or pipe failed: out of descriptors).
 * (A macro: smtp_io_loop_new_versioned with this header's versions.)
 */
#define smtp_io_loop_new(pl, settings, mem)                                                        \
    smtp_io_loop_new_versioned((pl), SMTP_IO_LOOP_SETTINGS_VERSION, (settings),                    \
                               SMTP_IO_SETTINGS_VERSION, SMTP_SERVER_CALLBACKS_VERSION,            \
                               SMTP_SERVER_SETTINGS_VERSION, (mem))
/** smtp_io_loop_new_versioned is smtp_io_loop_new with the versions of the caller's structs:
 * the loop settings, their io settings, and the server callbacks and settings it hands to
 * sessions (its own and those on_accept puts in smtp_io_session). */
SMTP_API int smtp_io_loop_new_versioned(smtp_io_loop **pl, int settings_version,
                                        const smtp_io_loop_settings *settings,
                                        int io_settings_version, int callbacks_version,
                                        int server_settings_version, const smtp_mem *mem);

/** smtp_io_loop_del closes every connection (on_close with SMTP_IO_SHUTDOWN) and listener and
 * frees the loop. NULL is ignored. */
SMTP_API void smtp_io_loop_del(smtp_io_loop *loop);

/**
 * smtp_io_loop_listen binds and listens on every address of `host` (NULL: every local address,
 * IPv6 and IPv4) and `port` ("0": a port chosen by the kernel) and adds the sockets to the
 * loop. Returns the number of sockets added (>= 1), or -1 with *status and *detail as
 * smtp_io_connect (SMTP_IO_SYSERR: the errno of bind or listen).
 */
SMTP_API int smtp_io_loop_listen(smtp_io_loop *loop, const char *host, const char *port,
                                 smtp_io_status *status, int *detail);

/**
 * smtp_io_loop_add_listener adds a listening socket the application made (inherited from a
 * supervisor, say); the loop makes it non-blocking and closes it in smtp_io_loop_del.
 * Returns 0; SMTP_ERR_INVALID_ARGUMENT (loop NULL, fd < 0, neither on_accept nor callbacks);
 * SMTP_ERR_NOMEM;
 * SMTP_ERR_INVALID_STATE (after shutdown, or epoll_ctl refused the descriptor).
 */
SMTP_API int smtp_io_loop_add_listener(smtp_io_loop *loop, int fd);

/**
 * smtp_io_loop_add_client drives the client engine `cli` on the connected descriptor `fd`
 * (smtp_io_connect gives one) among the loop's connections: many sessions in one thread, each
 * carrying as many messages as the application submits (from the engine's callbacks, or from
 * outside them followed by smtp_io_loop_update). The loop owns `fd` from now on; `cli` stays
 * the application's (delete it in on_close or after the loop). `settings` (copied) are the
 * connection's I/O settings, NULL for the loop's `io`. on_close reports the end with
 * `session_data`. When shutdown starts, the client sends QUIT once its message in progress is
 * done; after shutdown_grace_ms it is cut (SMTP_IO_SHUTDOWN).
 * Returns 0 and, when `pconn` is not NULL, the connection in *pconn, valid until on_close (NULL
 * if it already ended: on_close was called). Errors, with fd left open and nothing called:
 * SMTP_ERR_INVALID_ARGUMENT (loop or cli NULL, fd < 0, settings as smtp_io_conn_new_client),
 * SMTP_ERR_INVALID_STATE (the loop is shutting down), SMTP_ERR_NOMEM.
 * (A macro: smtp_io_loop_add_client_versioned with this header's version.)
 */
#define smtp_io_loop_add_client(loop, fd, cli, settings, session_data, pconn)                      \
    smtp_io_loop_add_client_versioned((loop), (fd), (cli), SMTP_IO_SETTINGS_VERSION, (settings),   \
                                      (session_data), (pconn))
/** smtp_io_loop_add_client_versioned is smtp_io_loop_add_client with the caller's version. */
SMTP_API int smtp_io_loop_add_client_versioned(smtp_io_loop *loop, int fd, smtp_client *cli,
                                               int settings_version,
                                               const smtp_io_settings *settings, void *session_data,
                                               smtp_io_conn **pconn);

/**
 * smtp_io_loop_port returns the local port of the `index`th listener (in the order added),
 * or -1 when there is none.
 */
SMTP_API int smtp_io_loop_port(const smtp_io_loop *loop, size_t index);

/**
 * smtp_io_loop_run_once waits up to `max_wait_ms` (-1: until the next deadline or event) and
 * handles what is ready: accepts, reads, writes, expired deadlines, shutdown.
 * Returns 1 while the loop goes on, 0 once nothing is left to do: every connection is closed
 * and the loop has shut down or has no listener (a loop that only drove clients);
 * SMTP_ERR_INVALID_ARGUMENT (loop NULL); SMTP_ERR_INVALID_STATE (epoll_wait or poll failed
 * other than by a signal). Errors of one connection end that connection only.
 */
SMTP_API int smtp_io_loop_run_once(smtp_io_loop *loop, int max_wait_ms);

/** smtp_io_loop_run calls smtp_io_loop_run_once until it returns 0 or an error; returns that. */
SMTP_API int smtp_io_loop_run(smtp_io_loop *loop);

/**
 * smtp_io_loop_shutdown starts a graceful shutdown: the loop closes its listeners; each
 * connection without an open transaction (smtp_io_conn_busy) gets "421 4.3.2 Service shutting
 * down" and is closed once it is written; those with one finish it first (or get 421 after
 * shutdown_grace_ms). Async-signal-safe: it only sets a flag and writes to the loop's
 * wake-up pipe; the work happens in smtp_io_loop_run_once. NULL is ignored.
 */
SMTP_API void smtp_io_loop_shutdown(smtp_io_loop *loop);

/**
 * smtp_io_loop_update tells the loop that the application changed `conn` outside its
 * callbacks (a deferred smtp_server_reply): it flushes the connection and updates its events
 * and deadline (closing it when done: on_close is called). Returns 0, SMTP_ERR_INVALID_ARGUMENT
 * (NULL), or the connection's error (it is then closed).
 */
SMTP_API int smtp_io_loop_update(smtp_io_loop *loop, smtp_io_conn *conn);

/** smtp_io_loop_connections returns the number of open connections (0 for NULL). */
SMTP_API size_t smtp_io_loop_connections(const smtp_io_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_IO_H */
