/* SPDX-License-Identifier: MIT */
/*
 * The application of the event-loop examples (examples/libuv/uv-smtp.c,
 * examples/libevent/ev-smtp.c), the same on every loop: the command line, the engines' settings
 * and callbacks, the message, the TLS configurations and the verdict. The loop files hold the
 * embedding itself: sockets, buffers, backpressure, timers, STARTTLS and closing.
 */
#ifndef SMTP_EXAMPLES_EVLOOP_DEMO_H
#define SMTP_EXAMPLES_EVLOOP_DEMO_H

#include <smtp/smtp.h>
#ifdef SMTP_EXAMPLE_TLS
#include <smtp/tls.h>
#endif

/*
 * demo_init reads the command line, PROG PORT [--stall] [CERT KEY CA], and prepares the
 * settings, the message and (with CERT KEY CA) the TLS configurations: the server offers
 * STARTTLS with CERT and KEY, the client requires it and verifies "localhost" against CA.
 * --stall: the server never greets, and the client's greeting timeout is 1 s. Returns the port
 * (0: any free one), or -1 after saying why on standard error.
 */
int demo_init(int argc, char **argv);

/* demo_server creates and starts a server engine for a new connection (its callbacks print
 * each message's envelope and size). Returns 0 or an SMTP_ERR_* code. */
int demo_server(smtp_server **srv, void *user_data);

/* demo_client creates the client engine with the message submitted and QUIT asked for.
 * Returns 0 or an SMTP_ERR_* code. */
int demo_client(smtp_client **cli, void *user_data);

/*
 * One connection's engine and, after STARTTLS, its TLS session: the part of a connection that
 * is the same on every loop. The loop owns the socket and moves the bytes (`c` may be any struct
 * with these members: the ENG macros below use srv and cli).
 */
typedef struct demo_conn {
    smtp_server *srv; /* one engine or the other */
    smtp_client *cli;
    struct smtp_tls *tls; /* after STARTTLS: between the socket and the engine */
    int tls_open, eof, eof_given;
    char in[16384];  /* plaintext received and not consumed by the engine yet (see below) */
    char pend[4096]; /* TLS: plaintext pulled from the engine, not taken by the session yet */
    size_t in_len, pend_len;
} demo_conn;

/*
 * demo_starttls starts TLS when the engine asks for it: the client once the server's 220 came,
 * the server once its 220 was written (nothing `unsent`). Plaintext still `kept` after that
 * point was pipelined over the boundary: never consumed, the server drops it, the client fails
 * (RFC 3207 4.2). Returns 1 when the session started (drop what was kept: from now on the
 * socket carries ciphertext, for demo_tls_input), 0 when not now, -1 when the session failed.
 */
int demo_starttls(demo_conn *c, int unsent, const char *kept, size_t kept_len);

/*
 * demo_tls_input feeds ciphertext from the socket to the TLS session (*taken: how much it took;
 * keep the rest), tells the engine when the handshake is done (smtp_*_tls_done) and decrypts into
 * c->in while it is empty: the client must be fed one read at a time. Sets c->eof at the end of
 * the stream (close_notify, or a TLS failure, printed). Returns 1 when anything moved, 0, or -1.
 */
int demo_tls_input(demo_conn *c, const char *data, size_t len, size_t *taken);

/* demo_tls_eof tells the TLS session, if any, that the socket reached its end of file. */
void demo_tls_eof(demo_conn *c);

/* demo_pull fills out[0..cap) with bytes to send: the engine's output, encrypted under TLS.
 * Returns how many (0: nothing now), or a negative SMTP_ERR_* when the engine or TLS failed. */
smtp_ssize demo_pull(demo_conn *c, char *out, size_t cap);

/* demo_tls_close queues TLS's close_notify and puts it in out[0..cap): returns its length, or 0
 * (no TLS session open). Send it if you can, then close the socket. */
smtp_ssize demo_tls_close(demo_conn *c, char *out, size_t cap);

/* demo_conn_free frees the engine and the TLS session (not `c`). */
void demo_conn_free(demo_conn *c);

/*
 * For a connection struct `c` with both `srv` and `cli` members, one of them set: the same call
 * on whichever engine it runs (smtp_server_X or smtp_client_X), its name, and whether it takes
 * input now (the client not while it waits for the TLS handshake).
 */
#define ENG(c, X, ...)                                                                             \
    ((c)->srv ? smtp_server_##X((c)->srv, __VA_ARGS__) : smtp_client_##X((c)->cli, __VA_ARGS__))
#define ENG0(c, X) ((c)->srv ? smtp_server_##X((c)->srv) : smtp_client_##X((c)->cli))
#define WHO(c) ((c)->srv ? "server" : "client")
#define ENG_WANTS_READ(c)                                                                          \
    ((c)->srv ? smtp_server_want_read((c)->srv)                                                    \
              : smtp_client_want_read((c)->cli) && !smtp_client_want_tls((c)->cli))

/* demo_finish prints the verdict and frees what demo_init made. Returns the exit status: 0 when
 * the message was delivered, received whole and nothing failed (`failed` 0), else 1. */
int demo_finish(int failed);

#endif
