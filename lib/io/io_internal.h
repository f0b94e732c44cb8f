/* SPDX-License-Identifier: MIT */
/*
 * Internal declarations of the I/O adapter (lib/io): the connection object, shared by the
 * connection code, the blocking calls and the loop; the poller
 * (epoll or poll) and the timer heap used by the loop. Not installed.
 */
#ifndef SMTP_IO_INTERNAL_H
#define SMTP_IO_INTERNAL_H

#include <smtp/io.h>

#include <stddef.h>
#include <stdint.h>

/* The size of one pull from an engine or a filter, and so the most kept unsent. */
#define SMTP_IO_CHUNK 4096
/* The largest read_size. */
#define SMTP_IO_MAX_READ 65536

/* Bytes kept between events: allocated when first needed, freed once empty. */
typedef struct smtp_io_buf {
    char *ptr;
    size_t len;
    size_t cap;
} smtp_io_buf;

/*
 * A registration with the poller: `slot` is the poller's index (poll) and `events` what is
 * registered now (SMTP_IO_READ/WRITE; 0: not registered). `kind` says what owns it.
 */
typedef struct smtp_io_pollent {
    size_t slot;
    unsigned events; /* the interest wanted (SMTP_IO_READ, SMTP_IO_WRITE) */
    unsigned kernel; /* epoll: the interest the kernel has (smtp_io_poller_want keeps it) */
    int registered;
    int fd;
    int kind; /* SMTP_IO_ENT_* */
} smtp_io_pollent;

#define SMTP_IO_ENT_CONN 1
#define SMTP_IO_ENT_LISTEN 2
#define SMTP_IO_ENT_WAKE 3

typedef enum smtp_io_tls_phase {
    SMTP_IO_TLS_OFF = 0,   /* plaintext */
    SMTP_IO_TLS_HANDSHAKE, /* the filter runs the handshake: no plaintext moves */
    SMTP_IO_TLS_ON         /* plaintext goes through the filter */
} smtp_io_tls_phase;

struct smtp_io_conn {
    int fd;
    smtp_client *cli; /* the client role: owned by the application */
    smtp_server *srv; /* the server role: owned by the connection */
    const smtp_mem *mem;
    smtp_io_settings set;
    smtp_io_filter *filter; /* allocated when TLS starts */
    smtp_io_tls_phase tls;
    smtp_io_buf in;   /* plaintext the engine has not consumed yet */
    smtp_io_buf cin;  /* ciphertext the filter has not taken yet */
    smtp_io_buf pout; /* plaintext the filter has not taken yet */
    smtp_io_buf out;  /* bytes the socket has not taken yet */
    /* Timers (absolute ms). */
    int64_t wait_start;     /* when the engine's current wait began */
    uint32_t wait_ms;       /* its timeout (0: none) */
    int wait_kind;          /* what it waits for (client: smtp_client_wait; server: seconds) */
    int64_t write_since;    /* output pending without progress since then */
    int64_t phase_deadline; /* handshake or linger deadline */
    int64_t hold_until;     /* server: output held until then (smtp_server_output_delay) */
    int64_t deadline;       /* the nearest of all, or SMTP_IO_NEVER */
    /* State. */
    unsigned eof_seen : 1;    /* the peer's end of file (or TLS close) was read */
    unsigned eof_given : 1;   /* ...and given to the engine */
    unsigned filter_end : 1;  /* the filter's plaintext stream ended */
    unsigned lingering : 1;   /* the engine closed; writing out the rest */
    unsigned paused : 1;      /* smtp_io_conn_pause: the peer is not read */
    unsigned timed_out : 1;   /* an engine timeout expired: the end is SMTP_IO_TIMEOUT */
    unsigned holding : 1;     /* server: hold_until is armed for the engine's output */
    unsigned drain : 1;       /* server: 421 once no transaction is open (graceful stop) */
    unsigned done : 1;        /* over: status says how */
    unsigned in_progress : 1; /* inside on_progress (no recursion) */
    unsigned sync_probe : 1;  /* server, strict pipelining: input not yet probed before the
                                 first output (the greeting) */
    smtp_io_status status;
    int detail;
    /* The loop's bookkeeping. */
    smtp_io_pollent pe;
    size_t heap_index;
    int64_t heap_deadline; /* the deadline the heap placed it by (heap.c) */
    void *loop_data;       /* the session's user_data, for on_close */
};

/* conn.c */
/* Allocates a connection shell around `fd` (no engine yet) with checked `settings`
 * (smtp_io_settings_copy). */
int smtp_io_conn_alloc(smtp_io_conn **pc, int fd, const smtp_io_settings *settings,
                       const smtp_mem *mem);
/* The server structs of a session and the versions the application compiled them with. */
typedef struct smtp_io_server_args {
    int callbacks_version;
    const smtp_server_callbacks *callbacks;
    int settings_version;
    const smtp_server_settings *settings;
    void *user_data;
} smtp_io_server_args;
/* Creates and starts the server engine of a shell (smtp_io_conn_new_server's work). */
int smtp_io_conn_init_server(smtp_io_conn *c, const smtp_io_server_args *args, int64_t now);
/* Frees a shell or a connection without closing its descriptor. */
void smtp_io_conn_free(smtp_io_conn *c);
/* Graceful stop: 421 now when no transaction is open (or `force`), else when it ends. */
int smtp_io_conn_drain(smtp_io_conn *c, int force, int64_t now);
/* Ends the connection with `status` (the first end counts). */
void smtp_io_conn_finish(smtp_io_conn *c, smtp_io_status status, int detail);

/* fd.c: the settings of `version` (NULL: the defaults) into *out, checked: 0 or
 * SMTP_ERR_INVALID_ARGUMENT (an unknown version, read_size 0 or over SMTP_IO_MAX_READ,
 * implicit_tls without tls_new). */
int smtp_io_settings_copy(int version, const smtp_io_settings *settings, smtp_io_settings *out);

/* fd.c: descriptor helpers. */
int smtp_io_fd_nonblock(int fd, int on);
void smtp_io_fd_cloexec(int fd);
void smtp_io_fd_nodelay(int fd);
/* Tells the server engine the socket's peer address (smtp_server_set_client_address). */
void smtp_io_fd_tell_peer(int fd, smtp_server *srv);

/* poller.c: epoll on Linux, poll elsewhere. */
typedef struct smtp_io_poller smtp_io_poller;
int smtp_io_poller_new(smtp_io_poller **pp, const smtp_mem *mem);
void smtp_io_poller_del(smtp_io_poller *p);
/* Registers, changes or removes (events 0) the interest of `pe` in its descriptor. */
int smtp_io_poller_set(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events);
/* As smtp_io_poller_set, but an interest dropped to 0 stays in the kernel until an event
 * comes for it (the wait removes it then, without calling back): a connection that waits for
 * its application between two reads, the common case, costs no system call at all. */
int smtp_io_poller_want(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events);
/* Waits up to timeout_ms (-1: forever) and calls `fn` for each ready entry with the events
 * (SMTP_IO_READ for input, hang-up or error too; SMTP_IO_WRITE). Returns the count or -errno. */
int smtp_io_poller_wait(smtp_io_poller *p, int timeout_ms,
                        void (*fn)(smtp_io_pollent *pe, unsigned events, void *arg), void *arg);

/* heap.c: connections ordered by deadline (a binary min-heap, O(log n) updates). */
typedef struct smtp_io_heap {
    smtp_io_conn **items;
    size_t len;
    size_t cap;
} smtp_io_heap;
/* Makes room for one more connection (then smtp_io_heap_push cannot fail). */
int smtp_io_heap_reserve(smtp_io_heap *h, const smtp_mem *mem);
int smtp_io_heap_push(smtp_io_heap *h, smtp_io_conn *c, const smtp_mem *mem);
void smtp_io_heap_remove(smtp_io_heap *h, smtp_io_conn *c);
/* Restores the order after c->deadline changed; nothing to do when it did not. */
void smtp_io_heap_update(smtp_io_heap *h, smtp_io_conn *c);
/* Restores the order of the whole heap (after many deadlines changed). */
void smtp_io_heap_rebuild(smtp_io_heap *h);
void smtp_io_heap_free(smtp_io_heap *h, const smtp_mem *mem);

#endif /* SMTP_IO_INTERNAL_H */
