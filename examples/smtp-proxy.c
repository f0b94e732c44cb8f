/* SPDX-License-Identifier: MIT */
/*
 * smtp-proxy: a transparent SMTP/LMTP relay built from libsmtp's two engines. Each client
 * connection gets one upstream connection; every verdict the client sees on its envelope and
 * its message is upstream's reply, relayed as it is (smtp_server_relay_to), and the client's
 * pipelining is kept (the server engine reads a pipelined group ahead, the client engine sends
 * it upstream in one flight).
 *
 * How the two engines meet. The server engine (the client's side, "down") defers each decision
 * that needs upstream: the greeting until the upstream session is ready (on_ready), each MAIL,
 * RCPT, DATA, end of data, VRFY, HELP and ETRN until upstream answered it. Each deferred
 * decision is a `pend` entry, oldest first, matched to the client engine's callbacks in command
 * order. The body streams through a buffer: the server's on_data fills it (pausing the
 * client's connection above PX_BODY_HIGH), the client's body source drains it. When the body
 * source waits, or a BDAT LAST's data is still to be told upstream (data_due), on_data hands
 * its octets to the client engine at once (smtp_client_body_ready, smtp_client_data_as) and
 * keeps only what the engine did not take: no copy of its own.
 * Calls across the engines happen inside one engine's callbacks; the other connection is then
 * marked and brought up to date (smtp_io_loop_update) after the loop's turn, from `work`, so
 * that no connection is flushed or freed under a callback running on it.
 *
 * Exit statuses: 0 after SIGINT/SIGTERM; 64 (EX_USAGE) for a bad command line; 66 for a file
 * that cannot be read; 65 for a certificate that cannot be loaded; 68 (EX_NOHOST) for an
 * upstream host that does not resolve; 69 when it cannot listen; 70 for an internal failure.
 */
#include "args.h"

#include <smtp/client.h>
#include <smtp/codec.h>
#include <smtp/io.h>
#include <smtp/server.h>
#include <smtp/smtp.h>
#ifdef SMTP_EXAMPLES_HAVE_TLS
#include "tls_glue.h"

#include <smtp/tls.h>
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "smtp-proxy"
#define usage_error(...) ex_usage_error(PROG, __VA_ARGS__)

enum { EX_OK = 0, EX_USAGE_ = 64, EX_DATAERR = 65, EX_NOINPUT = 66, EX_NOHOST = 68 };
enum { EX_UNAVAILABLE = 69, EX_SOFTWARE = 70 };

/* The body buffer: the client's connection pauses above HIGH, resumes below LOW. */
#define PX_BODY_HIGH (256 * 1024)
#define PX_BODY_LOW (64 * 1024)
/* Decisions waiting for upstream at once: a pipelined group (the engine's read-ahead bound). */
#define PX_MAX_PENDING 128

typedef struct px_options {
    char listen_host[EX_HOST_MAX], listen_port[EX_PORT_MAX];
    char up_host[EX_HOST_MAX], up_port[EX_PORT_MAX];
    int xclient, xforward, proxy_version; /* upstream: who the real client is */
    const char *tls_cert, *tls_key, *cafile;
    smtp_client_tls_policy up_tls;
    int lmtp, verbose;
    const char *filter;         /* --filter: the message through `sh -c filter` */
    uint32_t filter_timeout_ms; /* --filter-timeout */
    size_t max_connections;
    const char *hostname;
} px_options;

/* A decision of the server engine waiting for upstream's reply, or (id 0) a command of the
 * proxy's own whose reply is not relayed (XCLIENT, XFORWARD, RSET). */
enum px_kind { P_MAIL, P_RCPT, P_DATA, P_END, P_COMMAND, P_OWN };
typedef struct px_pend {
    uint64_t id;
    enum px_kind kind;
} px_pend;

typedef struct px_state px_state;
typedef struct px_conn px_conn;

struct px_conn {
    px_state *st;
    unsigned long long id;
    smtp_io_conn *down; /* the client's connection (server engine); NULL once closed */
    smtp_server *srv;
    smtp_io_conn *up; /* upstream (client engine); NULL before it is made and once closed */
    smtp_client *cli;
    int up_fd;      /* connecting, before the loop has it */
    int down_gone;  /* on_close of `down` was called */
    int up_gone;    /* on_close of `up` was called, or it was never made */
    int up_ready;   /* upstream's session is ready (on_ready) */
    int up_dead;    /* upstream's session ended: nothing more goes there */
    int shut;       /* the client's session is to end with 421 once its replies are out */
    int queued;     /* in the state's work list */
    int dirty_down, dirty_up;
    px_conn *next_work;
    /* Who the client is: for XCLIENT, XFORWARD and the PROXY header. */
    char peer_addr[INET6_ADDRSTRLEN], local_addr[INET6_ADDRSTRLEN];
    unsigned peer_port, local_port;
    char helo[SMTP_MAX_DOMAIN + 1];
    smtp_verb helo_verb;
    int xclient_done;
    /* A VRFY, HELP or ETRN that waits for the proxy's own command upstream (RSET). */
    smtp_verb held_verb;
    uint64_t held_id;
    char held_arg[SMTP_MAX_COMMAND_LINE];
    uint64_t greet_id, helo_id; /* the greeting and a hello waiting for upstream; 0: none */
    /* Decisions waiting for upstream, oldest first (a ring). */
    px_pend pend[PX_MAX_PENDING];
    size_t pend_head, pend_len;
    /* The transaction: its strings (the client engine borrows them until on_message). */
    int txn;                 /* smtp_client_mail_from was called, on_message not yet */
    int binary;              /* BODY=BINARYMIME: BDAT both ways */
    int in_body;             /* the client's message content is coming (on_data) */
    int lmtp_given;          /* LMTP: replies relayed for the message so far */
    size_t lmtp_owed;        /* LMTP: replies owed for the message */
    char sender[SMTP_MAX_PATH + 1], envid[101], holduntil[64];
    /* The recipients' strings, which the client engine borrows until on_rcpt: each in a block
     * of its own, so that the table grows without moving them; kept for the connection. */
    struct px_rcpt {
        char address[SMTP_MAX_PATH + 1];
        char orcpt[501];
    } * *rcpts;
    size_t nrcpts, rcpts_cap;
    /* The body between the two engines: what the client engine could not take yet, and (only
     * during on_data) the client's octets offered to it straight from the server engine. */
    char *body;
    size_t body_len, body_off, body_cap;
    smtp_span body_now;
    int body_end;     /* the client's message is complete */
    int body_abort;   /* the client's message will not complete: upstream must not get it */
    int body_waiting; /* the body source answered SMTP_ERR_AGAIN */
    int data_due;     /* a BDAT LAST accepted, upstream told at its first octets (data_due_start) */
    /* A message sent as one BDAT LAST: its octets still to come (the body is complete when
     * they came, before the engine judged the BDAT: SMTP_SERVER_CHUNK_AHEAD). */
    int chunk_counting;
    uint64_t chunk_left;
    size_t up_rcpts_ok; /* recipients upstream accepted in this transaction */
    int txn_wait;       /* the client's side paused until upstream's transaction ended */
    int paused_once;  /* -v: the client's connection was paused for this message */
    /* --filter: the message spooled (spool_fd), the filter's output and standard error, the
     * filter's process while it runs, and the decision of the message's end it answers. */
    int spool_fd, out_fd, err_fd, spool_err;
    pid_t filter_pid;
    int64_t filter_deadline;
    uint64_t end_id;
    px_conn *next_filter;
    /* Upstream's verdict on the message when it came before the client finished sending it. */
    int early_code;
    size_t early_len;
    char early_text[SMTP_SERVER_MAX_RELAY_TEXT];
};

struct px_state {
    const px_options *o;
    smtp_io_loop *loop;
    struct sockaddr_storage up_addr;
    socklen_t up_addrlen;
    smtp_client_settings cs;
    smtp_io_settings up_io;
    px_conn *work;
    px_conn *filters; /* connections whose filter runs */
    unsigned long long connections;
};

static px_state *the_state; /* for the signal handler */

#ifdef SMTP_EXAMPLES_HAVE_TLS
static ex_tls down_tls, up_tls;

static int down_tls_new(smtp_io_filter *filter, smtp_io_conn *conn, void *ud)
{
    (void)conn, (void)ud;
    return ex_tls_filter(&down_tls, filter);
}

static int up_tls_new(smtp_io_filter *filter, smtp_io_conn *conn, void *ud)
{
    (void)ud;
    int rc = ex_tls_filter(&up_tls, filter);
    /* REQUIRETLS needs the engine to know whether the certificate verified (RFC 8689 4.2). */
    if (rc == 0) rc = smtp_tls_io_filter_report(filter, smtp_io_conn_client(conn));
    return rc;
}
#endif

#define LOG(p, ...)                                                                                \
    do {                                                                                           \
        if ((p)->st->o->verbose) log_line((p), __VA_ARGS__);                                       \
    } while (0)

__attribute__((format(printf, 2, 3))) static void log_line(const px_conn *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, PROG ": [%llu] %s\n", p->id, buf);
}

/* ---- the work list: connections to bring up to date after the loop's turn ---- */

static void schedule(px_conn *p)
{
    if (p->queued) return;
    p->queued = 1;
    p->next_work = p->st->work;
    p->st->work = p;
}

static void touch_down(px_conn *p)
{
    p->dirty_down = 1;
    schedule(p);
}

static void touch_up(px_conn *p)
{
    p->dirty_up = 1;
    schedule(p);
}

/* ---- the decisions waiting for upstream ---- */

static int pend_push(px_conn *p, enum px_kind kind, uint64_t id)
{
    if (p->pend_len == PX_MAX_PENDING) return -1;
    p->pend[(p->pend_head + p->pend_len++) % PX_MAX_PENDING] = (px_pend){id, kind};
    return 0;
}

static px_pend *pend_front(px_conn *p)
{
    return p->pend_len ? &p->pend[p->pend_head] : NULL;
}

static void pend_pop(px_conn *p)
{
    p->pend_head = (p->pend_head + 1) % PX_MAX_PENDING;
    p->pend_len--;
}

/* The proxy's own code for an upstream reply it cannot relay as it is: never an acceptance
 * (451 for a 2xx or 3xx), and a second digit the engine takes (x51 for one over 5). */
static int unrelayable_code(int code)
{
    if (code < 400) code = 451;
    return code / 10 % 10 > 5 ? code / 100 * 100 + 51 : code;
}

/* Answers a decision with upstream's reply as it is. A reply the engine cannot carry (a code
 * that decision does not allow, text over SMTP_SERVER_MAX_RELAY_TEXT) becomes the nearest
 * reply of the proxy's own: never an acceptance upstream did not give. */
static void relay(px_conn *p, uint64_t id, const smtp_client_reply *r)
{
    if (p->srv == NULL || id == 0) return;
    int rc = smtp_server_relay_to(p->srv, id, r->code, r->text.ptr, r->text.len);
    if (rc == SMTP_ERR_INVALID_ARGUMENT || rc == SMTP_ERR_UNSAFE_ARGUMENT) {
        LOG(p, "upstream's %d reply cannot be relayed as it is (%s)", r->code,
            smtp_error_name(rc));
        rc = smtp_server_reply_to(p->srv, id, unrelayable_code(r->code), NULL,
                                  "Upstream's reply not relayable", 30);
    }
    if (rc < 0 && rc != SMTP_ERR_INVALID_STATE) LOG(p, "reply: %s", smtp_error_name(rc));
    touch_down(p);
}

/* Answers a decision with a reply of the proxy's own (upstream lost or refused locally). */
static void answer(px_conn *p, uint64_t id, int code, const char *enhanced, const char *text)
{
    if (p->srv == NULL || id == 0) return;
    int rc = smtp_server_reply_to(p->srv, id, code, enhanced, text, text ? strlen(text) : 0);
    if (rc < 0 && rc != SMTP_ERR_INVALID_STATE) LOG(p, "reply: %s", smtp_error_name(rc));
    touch_down(p);
}

static void close_fd(int *fd);

/* ---- upstream's side: the client engine's callbacks ---- */

/* The server extensions the proxy offers for what upstream offers: the intersection, with
 * STARTTLS its own (TLS on each side is independent) and CHUNKING always (BDAT goes as DATA to
 * an upstream without it). */
static unsigned offered(const px_conn *p, uint64_t *size)
{
    const smtp_caps *k = smtp_client_caps(p->cli);
    static const struct {
        smtp_cap cap;
        unsigned ext;
    } map[] = {{SMTP_CAP_PIPELINING, SMTP_SERVER_EXT_PIPELINING},
               {SMTP_CAP_8BITMIME, SMTP_SERVER_EXT_8BITMIME},
               {SMTP_CAP_SMTPUTF8, SMTP_SERVER_EXT_SMTPUTF8},
               {SMTP_CAP_DSN, SMTP_SERVER_EXT_DSN},
               {SMTP_CAP_ENHANCEDSTATUSCODES, SMTP_SERVER_EXT_ENHANCEDSTATUSCODES}};
    unsigned ext = SMTP_SERVER_EXT_CHUNKING;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (k && smtp_caps_has(k, map[i].cap)) ext |= map[i].ext;
    if (k && smtp_caps_has(k, SMTP_CAP_BINARYMIME) && smtp_caps_has(k, SMTP_CAP_CHUNKING))
        ext |= SMTP_SERVER_EXT_BINARYMIME;
    *size = 0;
    if (k && smtp_caps_has(k, SMTP_CAP_SIZE)) {
        ext |= SMTP_SERVER_EXT_SIZE;
        *size = smtp_caps_size(k);
    }
    if (p->st->o->tls_cert != NULL) ext |= SMTP_SERVER_EXT_STARTTLS;
    return ext;
}

static void set_extensions(px_conn *p)
{
    uint64_t size;
    unsigned ext = offered(p, &size);
    (void)smtp_server_set_extensions(p->srv, ext, size); /* refused once a hello was taken */
}

/* Upstream ended its session: what waits for it gets 451 4.4.2 (a greeting 421 4.4.1 or
 * upstream's own refusal), and the client's session ends with 421 once that is out. A message
 * the client is still sending is answered when it ends (on_message_end). */
/* Upstream's transaction ended: the client's side reads on (see on_message_abort). */
static void txn_wait_end(px_conn *p)
{
    if (!p->txn_wait) return;
    p->txn_wait = 0;
    if (p->down == NULL) return;
    smtp_io_conn_pause(p->down, 0);
    touch_down(p);
}

static void upstream_lost(px_conn *p, const smtp_client_reply *r, const char *why)
{
    txn_wait_end(p);
    if (p->up_dead) return;
    p->up_dead = 1;
    p->up_ready = 0;
    LOG(p, "upstream: %s", why);
    if (p->srv == NULL) return;
    if (p->greet_id) {
        char text[300];
        if (r != NULL && r->code >= 400) {
            relay(p, p->greet_id, r); /* upstream's refusal of the session, as it is */
        } else {
            snprintf(text, sizeof text, "4.4.1 %s upstream unavailable", p->st->cs.helo_name);
            (void)smtp_server_relay_to(p->srv, p->greet_id, 421, text, strlen(text));
        }
        p->greet_id = 0;
        touch_down(p);
        return;
    }
    if (p->helo_id) answer(p, p->helo_id, 421, "4.4.2", "Upstream connection lost");
    p->helo_id = 0;
    if (p->held_id) answer(p, p->held_id, 451, "4.4.2", "Upstream connection lost");
    p->held_id = 0;
    while (p->pend_len) {
        px_pend *e = pend_front(p);
        if (e->kind == P_END && p->in_body) break; /* answered at on_message_end */
        if (e->id) answer(p, e->id, 451, "4.4.2", "Upstream connection lost");
        pend_pop(p);
    }
    p->shut = 1;
    touch_down(p);
}

static int up_ready(smtp_client *cli, void *ud)
{
    (void)cli;
    px_conn *p = ud;
    p->up_ready = 1;
    LOG(p, "upstream ready%s", smtp_client_tls(cli) ? " (TLS)" : "");
    if (p->srv == NULL) return 0;
    if (p->greet_id) { /* the greeting waited for upstream: the proxy's own, now */
        set_extensions(p);
        (void)smtp_server_reply_to(p->srv, p->greet_id, 0, NULL, NULL, 0);
        p->greet_id = 0;
        touch_down(p);
    }
    if (p->helo_id) { /* a hello waited for XCLIENT's new session */
        set_extensions(p);
        (void)smtp_server_reply_to(p->srv, p->helo_id, 0, NULL, NULL, 0);
        p->helo_id = 0;
        touch_down(p);
    }
    return 0;
}

/* The data goes upstream with `verb`, the client's command (BDAT falls back to DATA without
 * CHUNKING). A DATA's reply is awaited: by the client's DATA (P_DATA with its decision), or
 * by the proxy alone (id 0: a 354 upstream gave for a client's BDAT, or the filter's data).
 * Returns 0, or -1 (nothing sent). */
static int data_upstream(px_conn *p, smtp_verb verb, uint64_t id)
{
    int bdat = verb == SMTP_VERB_BDAT &&
               smtp_caps_has(smtp_client_caps(p->cli), SMTP_CAP_CHUNKING);
    int binary = p->binary; /* BODY=BINARYMIME: BDAT both ways (the proxy offers it so) */
    int rc = smtp_client_data_as(p->cli, bdat || binary ? SMTP_CLIENT_DATA_BDAT
                                                        : SMTP_CLIENT_DATA_DATA);
    if (rc != 0) {
        LOG(p, "data not relayed: %s", smtp_error_name(rc));
        return -1;
    }
    touch_up(p);
    if (bdat || binary) return 0;
    return pend_push(p, P_DATA, id);
}

/* The client's command that waited for the proxy's own command upstream goes now. */
static void send_held(px_conn *p)
{
    uint64_t id = p->held_id;
    p->held_id = 0;
    if (smtp_client_command(p->cli, p->held_verb, p->held_arg[0] ? p->held_arg : NULL) != 0 ||
        pend_push(p, P_COMMAND, id) != 0) {
        answer(p, id, 451, "4.3.0", "Cannot relay the command now");
        return;
    }
    touch_up(p);
}

/* The replies to MAIL, DATA (354 or a refusal) and the commands sent for the client. */
static int up_reply(smtp_client *cli, const smtp_client_reply *r, void *ud)
{
    (void)cli;
    px_conn *p = ud;
    px_pend *e = pend_front(p);
    if (e == NULL) {
        LOG(p, "upstream reply %d to nothing awaited", r ? r->code : 0);
        return 0;
    }
    enum px_kind k = e->kind;
    uint64_t id = e->id;
    pend_pop(p);
    if (k == P_OWN) {
        if (r == NULL)
            LOG(p, "upstream does not offer it: not sent");
        else
            LOG(p, "upstream: %s %d", smtp_verb_name(r->command), r->code);
        if (p->held_id) send_held(p);
        return 0;
    }
    if (r == NULL) return 0;
    relay(p, id, r); /* a DATA's 354 is the client's go-ahead, text and all */
    return 0;
}

static int up_rcpt(smtp_client *cli, const smtp_client_rcpt *rcpt, const smtp_client_reply *r,
                   void *ud)
{
    (void)cli, (void)rcpt;
    px_conn *p = ud;
    px_pend *e = pend_front(p);
    if (r->command == SMTP_VERB_RCPT) {
        if (e == NULL || e->kind != P_RCPT) {
            LOG(p, "upstream RCPT reply out of order");
            return -1;
        }
        uint64_t id = e->id;
        pend_pop(p);
        if (r->code >= 200 && r->code < 300) p->up_rcpts_ok++;
        relay(p, id, r);
        return 0;
    }
    /* LMTP: a recipient's reply after the data. */
    if (e != NULL && e->kind == P_END && !p->in_body) {
        relay(p, e->id, r);
        p->lmtp_given++;
    }
    return 0;
}

/* The transaction ended upstream: whatever of it still waits gets its verdict. */
static int up_message(smtp_client *cli, const smtp_client_result *res, void *ud)
{
    (void)cli;
    px_conn *p = ud;
    p->txn = 0;
    txn_wait_end(p);
    close_fd(&p->out_fd); /* --filter: its output went (or will not) */
    const smtp_client_reply *r = res->reply;
    for (px_pend *e; (e = pend_front(p)) != NULL;) {
        if (e->kind == P_OWN || e->kind == P_COMMAND) break;
        if (e->kind == P_END && p->in_body) break;
        uint64_t id = e->id;
        enum px_kind k = e->kind;
        pend_pop(p);
        if (k == P_END && p->st->o->lmtp) {
            /* Every recipient gets a reply; those upstream never gave are not deliveries. */
            for (size_t i = (size_t)p->lmtp_given; i < p->lmtp_owed; i++)
                answer(p, id, 451, "4.4.2", "Upstream gave no reply for this recipient");
            continue;
        }
        /* Only a reply to the command itself is its verdict (the result's reply may be a
         * recipient's refusal, or a MAIL's). */
        int own = r != NULL && ((k == P_MAIL && r->command == SMTP_VERB_MAIL) ||
                                ((k == P_DATA || k == P_END) && (r->command == SMTP_VERB_DATA ||
                                                                 r->command == SMTP_VERB_BDAT)));
        /* An acceptance only when upstream delivered: a 2xx that broke the protocol (to
         * DATA, say) acknowledges nothing. */
        if (own && !(k == P_END && r->code == 354) &&
            (r->code >= 400 || res->status == SMTP_CLIENT_DELIVERED))
            relay(p, id, r);
        else if (res->status == SMTP_CLIENT_PERMFAIL && k != P_END)
            answer(p, id, 554, "5.5.1", "Error: transaction refused upstream");
        else if (res->status == SMTP_CLIENT_UNSUPPORTED)
            answer(p, id, 554, "5.5.4", "Upstream does not support what the message needs");
        else
            answer(p, id, 451, "4.4.2", "Upstream transaction failed");
    }
    if (p->in_body && p->body_end && r != NULL && r->code != 354 &&
        (r->command == SMTP_VERB_DATA || r->command == SMTP_VERB_BDAT) &&
        (r->code >= 400 || res->status == SMTP_CLIENT_DELIVERED)) {
        /* The whole message went upstream before the engine judged the client's BDAT (its
         * chunk came ahead of the envelope's replies): upstream's verdict answers the
         * message's end when it comes (a text too long to relay as on relay()); an acceptance
         * only when upstream delivered (a 2xx that broke the protocol acknowledges nothing). */
        if (r->text.len <= sizeof p->early_text) {
            p->early_code = r->code;
            if (r->text.len) memcpy(p->early_text, r->text.ptr, r->text.len);
            p->early_len = r->text.len;
        } else {
            LOG(p, "upstream's %d reply cannot be relayed as it is (too long)", r->code);
            p->early_code = unrelayable_code(r->code);
            memcpy(p->early_text, "Upstream's reply not relayable", 30);
            p->early_len = 30;
        }
    } else if (p->in_body) {
        /* Upstream decided before the client finished sending: its verdict waits for the end,
         * and nothing more of the message goes upstream. */
        p->body_abort = 1;
        p->early_code = r != NULL && r->code >= 400 ? r->code : 451;
        p->early_len = 0;
        if (r != NULL && r->code >= 400 && r->text.len <= sizeof p->early_text) {
            if (r->text.len) memcpy(p->early_text, r->text.ptr, r->text.len);
            p->early_len = r->text.len;
        } else {
            p->early_code = 451;
            memcpy(p->early_text, "4.4.2 Upstream transaction failed", 33);
            p->early_len = 33;
        }
    }
    return 0;
}

static int up_session_end(smtp_client *cli, const smtp_client_session_result *res, void *ud)
{
    (void)cli;
    px_conn *p = ud;
    if (res->end == SMTP_CLIENT_END_QUIT) return 0;
    char why[160];
    snprintf(why, sizeof why, "session ended: %s%s%s", smtp_client_end_name(res->end),
             res->error ? " " : "", res->error ? smtp_error_name(res->error) : "");
    upstream_lost(p, res->reply, why);
    return 0;
}

/* The body source of the upstream message: what the client sent so far. */
static smtp_ssize up_body(smtp_client *cli, char *dest, size_t cap, void *ud)
{
    (void)cli;
    px_conn *p = ud;
    if (p->body_abort) return SMTP_ERR_CALLBACK_FAILURE; /* never a partial message upstream */
    if (p->out_fd >= 0) { /* --filter: what it printed, whole */
        ssize_t k;
        do
            k = read(p->out_fd, dest, cap);
        while (k < 0 && errno == EINTR);
        if (k < 0) return SMTP_ERR_CALLBACK_FAILURE;
        return (smtp_ssize)k;
    }
    size_t n = p->body_len - p->body_off;
    if (n == 0 && p->body_now.len) { /* on_data's octets, not kept */
        n = p->body_now.len < cap ? p->body_now.len : cap;
        memcpy(dest, p->body_now.ptr, n);
        p->body_now.ptr += n;
        p->body_now.len -= n;
        return (smtp_ssize)n;
    }
    if (n == 0) {
        if (p->body_end) return 0;
        p->body_waiting = 1;
        return SMTP_ERR_AGAIN;
    }
    if (n > cap) n = cap;
    memcpy(dest, p->body + p->body_off, n);
    p->body_off += n;
    if (p->body_off == p->body_len) p->body_off = p->body_len = 0;
    if (p->down && smtp_io_conn_paused(p->down) && !p->txn_wait &&
        p->body_len - p->body_off < PX_BODY_LOW) {
        smtp_io_conn_pause(p->down, 0);
        touch_down(p);
    }
    return (smtp_ssize)n;
}


/* ---- --filter: the whole message through a command before it goes upstream ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An unlinked temporary file, for the spool and the filter's outputs. */
static int temp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/smtp-proxy.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void filter_files_close(px_conn *p)
{
    close_fd(&p->spool_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
}

/* Ends the upstream transaction without its data (the message is not forwarded). */
static void upstream_rset(px_conn *p)
{
    if (p->txn && !p->up_dead && p->cli != NULL &&
        smtp_client_command(p->cli, SMTP_VERB_RSET, NULL) == 0) {
        pend_push(p, P_OWN, 0);
        touch_up(p);
    }
}

static void filter_unlink(px_conn *p)
{
    for (px_conn **q = &p->st->filters; *q != NULL; q = &(*q)->next_filter) {
        if (*q == p) {
            *q = p->next_filter;
            break;
        }
    }
    p->next_filter = NULL;
}

/* Stops a filter that still runs (the client left, or the proxy stops): our own child. */
static void filter_kill(px_conn *p)
{
    if (p->filter_pid <= 0) return;
    kill(p->filter_pid, SIGKILL);
    waitpid(p->filter_pid, NULL, 0);
    p->filter_pid = 0;
    filter_unlink(p);
}

/* Runs `sh -c filter` on the spooled message. Returns 0, or -1 (then nothing runs). */
static int filter_start(px_conn *p)
{
    p->out_fd = temp_fd();
    p->err_fd = temp_fd();
    if (p->out_fd < 0 || p->err_fd < 0 || lseek(p->spool_fd, 0, SEEK_SET) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dup2(p->spool_fd, 0) < 0 || dup2(p->out_fd, 1) < 0 || dup2(p->err_fd, 2) < 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", p->st->o->filter, (char *)NULL);
        _exit(127);
    }
    p->filter_pid = pid;
    p->filter_deadline = mono_ms() + p->st->o->filter_timeout_ms;
    p->next_filter = p->st->filters;
    p->st->filters = p;
    return 0;
}

/* The first line the filter wrote to its standard error, printable ASCII only. */
static size_t filter_reason(px_conn *p, char *buf, size_t cap)
{
    size_t n = 0;
    char tmp[300];
    ssize_t k = pread(p->err_fd, tmp, sizeof tmp, 0);
    for (ssize_t i = 0; i < k && tmp[i] != '\n' && n + 1 < cap; i++)
        buf[n++] = tmp[i] >= 0x20 && tmp[i] < 0x7f ? tmp[i] : '?';
    buf[n] = '\0';
    return n;
}

/* The filter ended (status as waitpid gives it; -1: timed out): forward, refuse or defer. */
static void filter_done(px_conn *p, int status)
{
    uint64_t id = p->end_id;
    p->end_id = 0;
    close_fd(&p->spool_fd);
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !p->up_dead &&
        lseek(p->out_fd, 0, SEEK_SET) == 0) {
        LOG(p, "filter: exit 0, forwarded");
        close_fd(&p->err_fd);
        p->body_end = 1;
        /* The data upstream now (BDAT when it can: one flight); its verdict the client's. */
        if (data_upstream(p, SMTP_VERB_BDAT, 0) == 0 && pend_push(p, P_END, id) == 0) {
            touch_up(p);
            return;
        }
        answer(p, id, 451, "4.3.0", "Cannot relay the data now");
        filter_files_close(p);
        return;
    }
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        char why[200];
        size_t n = filter_reason(p, why, sizeof why);
        LOG(p, "filter: exit 1, refused: %s", why);
        answer(p, id, 550, "5.7.1", n ? why : "Message refused by the content filter");
    } else {
        if (status == -1)
            LOG(p, "filter: timed out after %u ms", (unsigned)p->st->o->filter_timeout_ms);
        else
            LOG(p, "filter: failed (status %d)", status);
        answer(p, id, 451, "4.7.1", p->up_dead ? "Upstream connection lost"
                                                : "Content filter failed, try again later");
    }
    filter_files_close(p);
    upstream_rset(p); /* a refused message is never forwarded */
}

/* After each turn of the loop: the filters that ended or ran out of time. */
static void filters_check(px_state *st)
{
    if (st->filters == NULL) return; /* no clock read each turn without --filter */
    int64_t now = mono_ms();
    px_conn *p = st->filters;
    while (p != NULL) {
        px_conn *next = p->next_filter;
        int status;
        pid_t r = waitpid(p->filter_pid, &status, WNOHANG);
        if (r == 0 && now >= p->filter_deadline) {
            kill(p->filter_pid, SIGKILL);
            waitpid(p->filter_pid, NULL, 0);
            status = -1;
            r = p->filter_pid;
        }
        if (r == p->filter_pid || r < 0) {
            p->filter_pid = 0;
            filter_unlink(p);
            filter_done(p, r < 0 ? 0x7f00 : status);
        }
        p = next;
    }
}

static const smtp_client_callbacks up_callbacks = {
    .on_rcpt = up_rcpt,
    .on_message = up_message,
    .on_session_end = up_session_end,
    .on_reply = up_reply,
    .on_ready = up_ready,
};

/* ---- the client's side: the server engine's callbacks ---- */

/* Upstream cannot take a command now: refuse it ourselves (never accept). */
static int refuse_unavailable(px_conn *p)
{
    smtp_server_reply(p->srv, 451, "4.4.2", "Upstream connection lost", 24);
    return 0;
}

static int on_connect(smtp_server *srv, void *ud)
{
    px_conn *p = ud;
    p->srv = srv;
    if (p->up_dead) {
        char text[300];
        snprintf(text, sizeof text, "4.4.1 %s upstream unavailable", p->st->cs.helo_name);
        smtp_server_relay_to(srv, 0, 421, text, strlen(text));
        return 0;
    }
    if (p->up_ready) {
        set_extensions(p);
        return 0;
    }
    p->greet_id = smtp_server_decision(srv);
    return SMTP_SERVER_DEFER;
}

static int on_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    px_conn *p = ud;
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    size_t n = domain.len < sizeof p->helo - 1 ? domain.len : sizeof p->helo - 1;
    if (n) memcpy(p->helo, domain.ptr, n); /* an empty span may have no pointer */
    p->helo[n] = '\0';
    p->helo_verb = verb;
    if (p->st->o->xclient && !p->xclient_done && smtp_caps_has(smtp_client_caps(p->cli), SMTP_CAP_XCLIENT)) {
        /* Upstream learns who the client is; its new session answers this hello. */
        p->xclient_done = 1;
        char port[8];
        snprintf(port, sizeof port, "%u", p->peer_port);
        smtp_client_xattr a[5];
        size_t na = 0;
        a[na++] = (smtp_client_xattr){"ADDR", p->peer_addr};
        a[na++] = (smtp_client_xattr){"PORT", port};
        a[na++] = (smtp_client_xattr){"PROTO", verb == SMTP_VERB_HELO ? "SMTP" : "ESMTP"};
        if (p->helo[0]) a[na++] = (smtp_client_xattr){"HELO", p->helo};
        a[na++] = (smtp_client_xattr){"NAME", "[UNAVAILABLE]"};
        /* Postfix records the name of the EHLO after XCLIENT: the client's, when it is one. */
        if (p->helo[0] && smtp_client_set_helo(p->cli, p->helo) != 0)
            LOG(p, "the client's hello name cannot go upstream: the proxy's instead");
        if (pend_push(p, P_OWN, 0) == 0 && smtp_client_xclient(p->cli, SMTP_VERB_XCLIENT, a, na) == 0) {
            p->up_ready = 0; /* until the new session (or the refusal) */
            p->helo_id = smtp_server_decision(srv);
            touch_up(p);
            return SMTP_SERVER_DEFER;
        }
        LOG(p, "XCLIENT not sent");
    }
    set_extensions(p);
    return 0;
}

/* A path as sent ("<a@example.org>") without its angle brackets, into buf. */
static int unbracket(smtp_span path, char *buf, size_t cap)
{
    const char *s = path.ptr;
    size_t n = path.len;
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') s++, n -= 2;
    if (n >= cap) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int xtext_copy(smtp_span x, char *buf, size_t cap)
{
    smtp_ssize n = smtp_xtext_decode(x.ptr, x.len, buf, cap - 1);
    if (n < 0) return -1;
    buf[n] = '\0';
    return 0;
}

static int on_mail(smtp_server *srv, const smtp_server_mail *m, void *ud)
{
    px_conn *p = ud;
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    smtp_client_message msg;
    smtp_client_message_init(&msg);
    if (unbracket(m->path, p->sender, sizeof p->sender) != 0) {
        smtp_server_reply(srv, 501, "5.1.7", "Bad sender address", 18);
        return 0;
    }
    const smtp_mail_params *mp = &m->params;
    msg.sender = p->sender;
    if (mp->present & SMTP_MAIL_SIZE) msg.size = mp->size;
    if (mp->present & SMTP_MAIL_BODY) msg.body_type = mp->body;
    p->binary = msg.body_type == SMTP_BODY_BINARYMIME;
    if (mp->present & SMTP_MAIL_RET) msg.ret = mp->ret;
    if (mp->present & SMTP_MAIL_SMTPUTF8) msg.flags |= SMTP_CLIENT_MSG_SMTPUTF8;
    if (mp->present & SMTP_MAIL_ENVID) {
        if (xtext_copy(mp->envid, p->envid, sizeof p->envid) == 0) msg.envid = p->envid;
    }
    if (mp->present & SMTP_MAIL_MT_PRIORITY) {
        msg.mt_priority_set = 1;
        msg.mt_priority = mp->mt_priority;
    }
    if (mp->present & SMTP_MAIL_BY) {
        msg.by_mode = mp->by_mode;
        msg.by_time = mp->by_time;
        msg.by_trace = mp->by_trace;
    }
    if (mp->present & SMTP_MAIL_REQUIRETLS) msg.requiretls = 1;
    msg.read_body = up_body;
    msg.read_body_data = p;
    p->nrcpts = 0;
    p->body_len = p->body_off = 0;
    p->body_end = p->body_abort = p->body_waiting = p->paused_once = p->data_due = 0;
    p->chunk_counting = 0;
    p->up_rcpts_ok = 0;
    p->early_code = 0;
    p->lmtp_given = 0;
    if (p->st->o->xforward && smtp_caps_has(smtp_client_caps(p->cli), SMTP_CAP_XFORWARD)) {
        char port[8];
        snprintf(port, sizeof port, "%u", p->peer_port);
        smtp_client_xattr a[] = {{"ADDR", p->peer_addr},
                                 {"PORT", port},
                                 {"PROTO", p->helo_verb == SMTP_VERB_HELO ? "SMTP" : "ESMTP"},
                                 {"HELO", p->helo[0] ? p->helo : "[UNAVAILABLE]"},
                                 {"SOURCE", "REMOTE"}};
        if (pend_push(p, P_OWN, 0) != 0 ||
            smtp_client_xclient(p->cli, SMTP_VERB_XFORWARD, a, sizeof a / sizeof a[0]) != 0)
            LOG(p, "XFORWARD not sent");
    }
    int rc = smtp_client_mail_from(p->cli, &msg);
    if (rc != 0) {
        LOG(p, "MAIL not relayed: %s", smtp_error_name(rc));
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the transaction now", 32);
        return 0;
    }
    p->txn = 1;
    if (pend_push(p, P_MAIL, smtp_server_decision(srv)) != 0) return -1;
    touch_up(p);
    return SMTP_SERVER_DEFER;
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rc, void *ud)
{
    px_conn *p = ud;
    if (p->up_dead) return refuse_unavailable(p);
    if (!p->txn) { /* MAIL was refused: the engine answers 503 whatever this says */
        smtp_server_reply(srv, 503, "5.5.1", "Error: need MAIL command", 24);
        return 0;
    }
    if (p->nrcpts == p->rcpts_cap) {
        size_t cap = p->rcpts_cap ? p->rcpts_cap * 2 : 8;
        struct px_rcpt **n = realloc(p->rcpts, cap * sizeof *n);
        if (n == NULL) return -1;
        for (size_t i = p->rcpts_cap; i < cap; i++)
            n[i] = NULL;
        p->rcpts = n;
        p->rcpts_cap = cap;
    }
    if (p->rcpts[p->nrcpts] == NULL && (p->rcpts[p->nrcpts] = malloc(sizeof **p->rcpts)) == NULL)
        return -1;
    struct px_rcpt *r = p->rcpts[p->nrcpts];
    if (unbracket(rc->path, r->address, sizeof r->address) != 0) {
        smtp_server_reply(srv, 501, "5.1.3", "Bad recipient address", 21);
        return 0;
    }
    smtp_client_rcpt cr = {r->address, 0, NULL};
    if (rc->params.present & SMTP_RCPT_NOTIFY) cr.notify = rc->params.notify;
    if ((rc->params.present & SMTP_RCPT_ORCPT) && rc->params.orcpt_type == SMTP_ORCPT_RFC822 &&
        xtext_copy(rc->params.orcpt_addr, r->orcpt, sizeof r->orcpt) == 0)
        cr.orcpt = r->orcpt;
    int e = smtp_client_rcpt_to(p->cli, &cr);
    if (e != 0) {
        LOG(p, "RCPT not relayed: %s", smtp_error_name(e));
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the recipient now", 30);
        return 0;
    }
    p->nrcpts++;
    if (pend_push(p, P_RCPT, smtp_server_decision(srv)) != 0) return -1;
    touch_up(p);
    return SMTP_SERVER_DEFER;
}

static int on_data_start(smtp_server *srv, void *ud)
{
    px_conn *p = ud;
    if (p->up_dead) return refuse_unavailable(p);
    if (!p->txn) {
        smtp_server_reply(srv, 503, "5.5.1", "Error: need RCPT command", 24);
        return 0;
    }
    if (p->st->o->filter != NULL) {
        /* The filter sees only whole messages: the client's data is spooled first, under the
         * proxy's own 354 (the engine refuses DATA itself if upstream accepted no recipient). */
        close_fd(&p->spool_fd);
        p->spool_fd = temp_fd();
        p->spool_err = p->spool_fd < 0;
        p->in_body = 1;
        return 0;
    }
    /* Upstream gets the client's command. DATA waits for upstream's 354 (or its refusal),
     * which the client then gets as it is. A BDAT has no go-ahead: accepted now, the chunks
     * stream, and the verdict is upstream's after the last one (a DATA's refusal upstream
     * included, when upstream lacks CHUNKING). */
    smtp_verb verb = smtp_server_decision_command(srv);
    uint64_t id = verb == SMTP_VERB_DATA ? smtp_server_decision(srv) : 0;
    /* A message in one BDAT LAST is complete once its octets came: upstream gets its LAST
     * then, with the envelope when the chunk came ahead of the envelope's replies. Upstream
     * is told of the data at the chunk's first octets (on_data), so that the client engine
     * takes them with the command rather than waiting for them. */
    uint64_t size = 0;
    int last = 0;
    if (verb == SMTP_VERB_BDAT && smtp_server_decision_chunk(srv, &size, &last) != 0) last = 0;
    if (last && size > 0) {
        p->chunk_counting = 1;
        p->chunk_left = size;
        p->data_due = 1;
        p->in_body = 1;
        return 0;
    }
    if (data_upstream(p, verb, id) != 0) {
        smtp_server_reply(srv, 451, "4.3.0", "Cannot relay the data now", 25);
        return 0;
    }
    p->in_body = 1;
    if (last) p->body_end = 1; /* BDAT 0 LAST */
    return id ? SMTP_SERVER_DEFER : 0;
}

/* The data of a BDAT LAST accepted with data_due goes upstream now: its octets came (on_data),
 * the message ended, or it stopped first (then from work(): the client engine may end its
 * transaction at once, which it must not do under its own callback). Nothing goes once
 * upstream's transaction ended. A failure is the message's verdict at its end. */
static void data_due_start(px_conn *p)
{
    if (!p->data_due) return;
    p->data_due = 0;
    if (!p->txn || p->up_dead || data_upstream(p, SMTP_VERB_BDAT, 0) == 0) return;
    p->body_abort = 1;
    p->early_code = 451;
    memcpy(p->early_text, "4.3.0 Cannot relay the data now", 31);
    p->early_len = 31;
}

/* Keeps the client's octets for the body source. Returns 0, or -1 (out of memory). */
static int body_keep(px_conn *p, smtp_span data)
{
    if (p->body_len + data.len > p->body_cap) {
        if (p->body_off) {
            memmove(p->body, p->body + p->body_off, p->body_len - p->body_off);
            p->body_len -= p->body_off;
            p->body_off = 0;
        }
        if (p->body_len + data.len > p->body_cap) {
            size_t cap = p->body_cap ? p->body_cap : 16384;
            while (cap < p->body_len + data.len)
                cap *= 2;
            char *b = realloc(p->body, cap);
            if (b == NULL) return -1;
            p->body = b;
            p->body_cap = cap;
        }
    }
    memcpy(p->body + p->body_len, data.ptr, data.len);
    p->body_len += data.len;
    return 0;
}

static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    px_conn *p = ud;
    if (p->st->o->filter != NULL) {
        while (!p->spool_err && data.len) {
            ssize_t k = write(p->spool_fd, data.ptr, data.len);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                p->spool_err = 1;
                break;
            }
            data.ptr += k;
            data.len -= (size_t)k;
        }
        return 0;
    }
    if (p->body_abort || p->up_dead) return 0; /* dropped: the verdict comes at the end */
    if (p->chunk_counting && (p->chunk_left -= data.len) == 0) {
        p->chunk_counting = 0;
        p->body_end = 1;
    }
    if (p->data_due || p->body_waiting) {
        /* The client engine takes the octets from the span (up_body, after what is kept):
         * only what it cannot take now is kept. */
        p->body_now = data;
        if (p->data_due) {
            data_due_start(p);
        } else {
            p->body_waiting = 0;
            if (smtp_client_body_ready(p->cli) == SMTP_ERR_INVALID_STATE) p->body_waiting = 1;
        }
        data = p->body_now;
        p->body_now = (smtp_span){NULL, 0};
        touch_up(p);
    }
    if (data.len && body_keep(p, data) != 0) return -1;
    if (p->body_waiting) touch_up(p);
    if (p->body_len - p->body_off >= PX_BODY_HIGH && p->down) {
        if (!p->paused_once) LOG(p, "client paused: %d KiB wait for upstream", PX_BODY_HIGH / 1024);
        p->paused_once = 1;
        smtp_io_conn_pause(p->down, 1); /* until upstream took most of it */
        return SMTP_PAUSE;
    }
    return 0;
}

static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *ud)
{
    px_conn *p = ud;
    p->in_body = 0;
    p->body_end = 1;
    p->lmtp_owed = msg->recipients;
    if (p->st->o->filter != NULL) {
        if (p->up_dead || p->spool_err || filter_start(p) != 0) {
            LOG(p, "filter: %s", p->up_dead ? "upstream lost" : "cannot run");
            filter_files_close(p);
            const char *why = p->up_dead ? "Upstream connection lost" : "Cannot filter now";
            smtp_server_reply(srv, 451, p->up_dead ? "4.4.2" : "4.3.0", why, strlen(why));
            if (p->up_dead) p->shut = 1;
            upstream_rset(p);
            touch_down(p);
            return 0;
        }
        p->end_id = smtp_server_decision(srv);
        return SMTP_SERVER_DEFER;
    }
    data_due_start(p);
    if (p->early_code) { /* upstream decided already: its verdict, now */
        smtp_server_relay_to(srv, 0, p->early_code, p->early_text, p->early_len);
        p->early_code = 0;
        return 0;
    }
    if (p->up_dead) {
        smtp_server_reply(srv, 451, "4.4.2", "Upstream connection lost", 24);
        p->shut = 1;
        touch_down(p);
        return 0;
    }
    if (pend_push(p, P_END, smtp_server_decision(srv)) != 0) return -1;
    /* Upstream's connection has news only for a body source that waits for the end; else
     * the client engine has the body (or will pull it when its connection can take more). */
    if (p->body_waiting) touch_up(p);
    return SMTP_SERVER_DEFER;
}

static int on_message_abort(smtp_server *srv, smtp_server_abort_reason why, void *ud)
{
    (void)srv;
    px_conn *p = ud;
    p->in_body = 0;
    if (p->st->o->filter != NULL) { /* nothing went upstream: the transaction ends there */
        filter_kill(p);
        filter_files_close(p);
        upstream_rset(p);
        return 0;
    }
    if (p->data_due) touch_up(p); /* work() tells upstream of the data (data_due_start) */
    if (p->txn && why == SMTP_SERVER_ABORT_NO_RECIPIENTS && p->up_rcpts_ok == 0) {
        /* The BDAT (its chunk given ahead) was refused for upstream's own refusals: upstream
         * has no recipient either, and its client engine ends the transaction there, after
         * the replies to what it sent of the message: the client's next commands (its RSET,
         * a new MAIL) wait for that, unread, rather than find upstream still in it. */
        p->chunk_counting = 0;
        if (p->down != NULL) {
            smtp_io_conn_pause(p->down, 1);
            p->txn_wait = 1;
        }
        return 0;
    }
    if (p->txn) {
        /* The client's message will not complete: upstream must not get a partial one. The
         * body source fails, and the client engine closes the connection. */
        LOG(p, "message aborted (%s): upstream connection dropped", smtp_server_abort_name(why));
        p->body_abort = 1;
        touch_up(p);
    }
    return 0;
}

static int on_reset(smtp_server *srv, void *ud)
{
    (void)srv;
    px_conn *p = ud;
    if (p->txn && !p->up_dead && p->cli != NULL) {
        /* The client's RSET (or a new hello) ends the transaction upstream too. */
        if (smtp_client_command(p->cli, SMTP_VERB_RSET, NULL) == 0) {
            pend_push(p, P_OWN, 0);
            touch_up(p);
        }
    }
    return 0;
}

/* Is a command of the proxy's own out (P_OWN: the RSET of the client's RSET, XCLIENT,
 * XFORWARD)? Only that one's reply frees the client engine for a command of the client's
 * (send_held); a message in progress upstream does not end before the client's does. */
static int own_pending(const px_conn *p)
{
    for (size_t i = 0; i < p->pend_len; i++)
        if (p->pend[(p->pend_head + i) % PX_MAX_PENDING].kind == P_OWN) return 1;
    return 0;
}

/* VRFY, HELP and ETRN go upstream and come back as they are. */
static int forward(px_conn *p, smtp_verb verb, smtp_span arg)
{
    if (p->up_dead || !p->up_ready) return refuse_unavailable(p);
    char buf[SMTP_MAX_COMMAND_LINE];
    if (arg.len >= sizeof buf) return 0;
    if (arg.len) memcpy(buf, arg.ptr, arg.len); /* HELP alone: an empty span, no pointer */
    buf[arg.len] = '\0';
    int rc = smtp_client_command(p->cli, verb, arg.len ? buf : NULL);
    if (rc == SMTP_ERR_INVALID_STATE && own_pending(p) && !p->held_id) {
        /* The proxy's own command (the RSET of the client's RSET) is still out: this one
         * follows once it is answered, as the client's own order has it. */
        p->held_verb = verb;
        memcpy(p->held_arg, buf, arg.len + 1);
        p->held_id = smtp_server_decision(p->srv);
        return SMTP_SERVER_DEFER;
    }
    if (rc != 0) {
        smtp_server_reply(p->srv, 451, "4.3.0", "Cannot relay the command now", 28);
        return 0;
    }
    if (pend_push(p, P_COMMAND, smtp_server_decision(p->srv)) != 0) return -1;
    touch_up(p);
    return SMTP_SERVER_DEFER;
}

static int on_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    return forward(ud, SMTP_VERB_VRFY, arg);
}

static int on_help(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    return forward(ud, SMTP_VERB_HELP, arg);
}

static int on_etrn(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)srv;
    return forward(ud, SMTP_VERB_ETRN, arg);
}

static const smtp_server_callbacks down_callbacks = {
    .on_connect = on_connect,
    .on_helo = on_helo,
    .on_mail = on_mail,
    .on_rcpt = on_rcpt,
    .on_data_start = on_data_start,
    .on_data = on_data,
    .on_message_end = on_message_end,
    .on_message_abort = on_message_abort,
    .on_reset = on_reset,
    .on_vrfy = on_vrfy,
    .on_help = on_help,
    .on_etrn = on_etrn,
};

/* ---- connections ---- */

static void sockaddr_text(const struct sockaddr *sa, char *addr, size_t cap, unsigned *port)
{
    addr[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)cap);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], addr, (socklen_t)cap);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)cap);
        }
        *port = ntohs(in6->sin6_port);
    }
}

/* A non-blocking connect to upstream: the loop sees it complete (or fail) as the greeting's
 * read. Returns the descriptor or -1 (errno). */
static int up_connect(const px_state *st)
{
    int fd = socket(st->up_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (const struct sockaddr *)&st->up_addr, st->up_addrlen) != 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void up_start(px_conn *p)
{
    px_state *st = p->st;
    int fd = up_connect(st);
    if (fd < 0) {
        char why[128];
        snprintf(why, sizeof why, "cannot connect: %s", strerror(errno));
        upstream_lost(p, NULL, why);
        return;
    }
    if (smtp_client_new(&p->cli, &up_callbacks, &st->cs, NULL, p) != 0) {
        close(fd);
        upstream_lost(p, NULL, "out of memory");
        return;
    }
    if (st->o->proxy_version) {
        int same = strchr(p->peer_addr, ':') == NULL && strchr(p->local_addr, ':') == NULL;
        int both6 = strchr(p->peer_addr, ':') != NULL && strchr(p->local_addr, ':') != NULL;
        int rc = same || both6
                     ? smtp_client_proxy_header(p->cli, st->o->proxy_version, p->peer_addr,
                                                p->peer_port, p->local_addr, p->local_port)
                     : smtp_client_proxy_header(p->cli, st->o->proxy_version, NULL, 0, NULL, 0);
        if (rc != 0) LOG(p, "PROXY header: %s", smtp_error_name(rc));
    }
    p->up_gone = 0;
    int rc = smtp_io_loop_add_client(st->loop, fd, p->cli, &st->up_io, p, &p->up);
    if (rc != 0) {
        close(fd);
        p->up_gone = 1;
        upstream_lost(p, NULL, smtp_error_name(rc));
    }
}

static int on_accept(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t peerlen,
                     smtp_io_session *session, void *ud)
{
    (void)peerlen;
    px_state *st = ud;
    px_conn *p = calloc(1, sizeof *p);
    if (p == NULL) return -1;
    p->st = st;
    p->down = conn;
    p->id = ++st->connections;
    p->up_gone = 1;
    p->spool_fd = p->out_fd = p->err_fd = -1;
    if (peer != NULL) sockaddr_text(peer, p->peer_addr, sizeof p->peer_addr, &p->peer_port);
    struct sockaddr_storage local;
    socklen_t ll = sizeof local;
    if (getsockname(smtp_io_conn_fd(conn), (struct sockaddr *)&local, &ll) == 0)
        sockaddr_text((struct sockaddr *)&local, p->local_addr, sizeof p->local_addr,
                      &p->local_port);
    session->callbacks = &down_callbacks;
    session->user_data = p;
    LOG(p, strchr(p->peer_addr, ':') ? "connected from [%s]:%u" : "connected from %s:%u",
        p->peer_addr, p->peer_port);
    schedule(p); /* upstream is connected after this turn of the loop */
    return 0;
}

static void on_close(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                     void *ud)
{
    (void)ud;
    px_conn *p = session_data;
    if (p == NULL) return;
    char text[256];
    if (conn == p->down) {
        p->down = NULL;
        p->srv = NULL;
        p->down_gone = 1;
        LOG(p, "closed: %s", smtp_io_status_text(status, detail, text, sizeof text));
        filter_kill(p);
        data_due_start(p);
        if (p->body_waiting || p->txn) p->body_abort = 1;
        touch_up(p); /* upstream's session ends too (QUIT, or cut mid-message) */
    } else {
        p->up = NULL;
        p->up_gone = 1;
        LOG(p, "upstream closed: %s", smtp_io_status_text(status, detail, text, sizeof text));
        if (!p->up_dead) {
            char why[300];
            snprintf(why, sizeof why, "closed: %s", text);
            upstream_lost(p, NULL, why);
        }
        touch_down(p);
    }
    schedule(p);
}

/* Upstream is gone: the client's session ends with 421 once nothing waits for upstream and no
 * message is coming (one the engine refused, for its size say, is read to its end first). */
static void maybe_shut(px_conn *p)
{
    if (!p->shut || p->pend_len || p->in_body || p->end_id || p->srv == NULL) return;
    if (smtp_server_want_close(p->srv) || smtp_server_pending(p->srv) ||
        smtp_server_timeout(p->srv, NULL) == SMTP_SERVER_WAIT_DATA)
        return;
    p->shut = 0;
    (void)smtp_server_shutdown(p->srv);
}

/* The client's connection after each of its events: a 421 that waited for a message's end. */
static int down_progress(smtp_io_conn *conn, void *ud)
{
    (void)ud;
    px_conn *p = smtp_io_conn_session_data(conn);
    if (p != NULL) maybe_shut(p);
    return 0;
}

/* After the loop's turn: each marked connection is brought up to date. */
static void work(px_state *st)
{
    while (st->work != NULL) {
        px_conn *p = st->work;
        st->work = p->next_work;
        p->queued = 0;
        if (p->cli == NULL && !p->up_dead && !p->down_gone) up_start(p);
        if (p->data_due && !p->in_body) data_due_start(p); /* a message stopped before its octets */
        if (p->dirty_up && p->up != NULL) {
            p->dirty_up = 0;
            if (p->body_waiting && (p->body_len > p->body_off || p->body_end || p->body_abort)) {
                p->body_waiting = 0;
                (void)smtp_client_body_ready(p->cli);
            }
            if (p->down_gone && !p->up_dead) {
                p->up_dead = 1;
                (void)smtp_client_quit(p->cli);
            }
            if (p->up != NULL) (void)smtp_io_loop_update(st->loop, p->up);
        }
        if (p->dirty_down && p->down != NULL) {
            p->dirty_down = 0;
            maybe_shut(p);
            if (p->down != NULL) (void)smtp_io_loop_update(st->loop, p->down);
        }
        if (p->down_gone && p->up_gone && !p->queued) {
            filter_kill(p);
            filter_files_close(p);
            smtp_client_del(p->cli);
            for (size_t i = 0; i < p->rcpts_cap; i++)
                free(p->rcpts[i]);
            free(p->rcpts);
            free(p->body);
            free(p);
        }
    }
}

/* ---- options ---- */

static void help(void)
{
    fputs("Usage: " PROG " --upstream HOST:PORT [OPTION]...\n"
          "Relay SMTP (or LMTP) transparently: every verdict the client sees is upstream's.\n"
          "\n"
          "  -l, --listen ADDR:PORT     address to listen on (default 127.0.0.1:10025); IPv6 as\n"
          "                             [ADDR]:PORT, port 0 for one the kernel chooses (printed)\n"
          "  -u, --upstream HOST:PORT   the server to relay to (port default 25)\n"
          "      --xclient              tell upstream the client's address with XCLIENT\n"
          "                             (Postfix: smtpd_authorized_xclient_hosts)\n"
          "      --xforward             ... with XFORWARD before each transaction\n"
          "      --upstream-proxy-protocol v1|v2\n"
          "                             ... with a HAProxy PROXY header\n"
          "      --tls-cert FILE        certificate chain (PEM): offer STARTTLS to clients\n"
          "      --tls-key FILE         its private key (PEM)\n"
          "      --upstream-tls POLICY  STARTTLS upstream: none (default), opportunistic or\n"
          "                             required\n"
          "      --cafile FILE          CAs to verify upstream's certificate (default: the\n"
          "                             system's store)\n"
          "      --filter 'COMMAND'     pipe each whole message through sh -c COMMAND: what it\n"
          "                             prints goes upstream (exit 0); exit 1 refuses it (550\n"
          "                             5.7.1 and its first line of stderr); else 451 4.7.1\n"
          "      --filter-timeout SECONDS\n"
          "                             the filter's time per message (default 60)\n"
          "      --lmtp                 speak LMTP on both sides\n"
          "      --max-connections N    client connections at once (default 1000)\n"
          "      --hostname NAME        name in the greeting and EHLO reply (and upstream's EHLO)\n"
          "  -v, --verbose              log each connection, and upstream's end, on stderr\n"
          "  -h, --help                 show this help and exit\n"
          "      --version              show the version and exit\n",
          stdout);
}

static void parse(int argc, char **argv, px_options *o)
{
    enum { O_XCLIENT = 256, O_XFORWARD, O_PROXY, O_CERT, O_KEY, O_UPTLS, O_CAFILE, O_LMTP };
    enum { O_MAXCONN = 300, O_HOSTNAME, O_VERSION, O_FILTER, O_FILTER_TIMEOUT };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'},
        {"xclient", no_argument, NULL, O_XCLIENT},
        {"xforward", no_argument, NULL, O_XFORWARD},
        {"upstream-proxy-protocol", required_argument, NULL, O_PROXY},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"upstream-tls", required_argument, NULL, O_UPTLS},
        {"cafile", required_argument, NULL, O_CAFILE},
        {"lmtp", no_argument, NULL, O_LMTP},
        {"filter", required_argument, NULL, O_FILTER},
        {"filter-timeout", required_argument, NULL, O_FILTER_TIMEOUT},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"hostname", required_argument, NULL, O_HOSTNAME},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    strcpy(o->listen_host, "127.0.0.1");
    strcpy(o->listen_port, "10025");
    o->filter_timeout_ms = 60000;
    int have_upstream = 0, c;
    const char *why;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "l:u:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (ex_parse_endpoint(optarg, "10025", 1, o->listen_host, sizeof o->listen_host,
                                  o->listen_port, sizeof o->listen_port, &why) != 0)
                usage_error("--listen %s: %s", optarg, why);
            break;
        case 'u':
            if (ex_parse_endpoint(optarg, "25", 0, o->up_host, sizeof o->up_host, o->up_port,
                                  sizeof o->up_port, &why) != 0)
                usage_error("--upstream %s: %s", optarg, why);
            have_upstream = 1;
            break;
        case O_XCLIENT: o->xclient = 1; break;
        case O_XFORWARD: o->xforward = 1; break;
        case O_PROXY:
            if (strcmp(optarg, "v1") == 0)
                o->proxy_version = 1;
            else if (strcmp(optarg, "v2") == 0)
                o->proxy_version = 2;
            else
                usage_error("--upstream-proxy-protocol %s: v1 or v2", optarg);
            break;
        case O_CERT: o->tls_cert = optarg; break;
        case O_KEY: o->tls_key = optarg; break;
        case O_UPTLS:
            if (strcmp(optarg, "none") == 0)
                o->up_tls = SMTP_CLIENT_TLS_NONE;
            else if (strcmp(optarg, "opportunistic") == 0)
                o->up_tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
            else if (strcmp(optarg, "required") == 0)
                o->up_tls = SMTP_CLIENT_TLS_REQUIRED;
            else
                usage_error("--upstream-tls %s: none, opportunistic or required", optarg);
            break;
        case O_CAFILE: o->cafile = optarg; break;
        case O_LMTP: o->lmtp = 1; break;
        case O_FILTER:
            if (*optarg == '\0') usage_error("--filter: an empty command");
            o->filter = optarg;
            break;
        case O_FILTER_TIMEOUT:
            if (ex_parse_u64(optarg, 1, 86400, &v) != 0)
                usage_error("--filter-timeout %s: seconds from 1 to 86400", optarg);
            o->filter_timeout_ms = (uint32_t)v * 1000;
            break;
        case O_MAXCONN:
            if (ex_parse_u64(optarg, 1, 1000000, &v) != 0)
                usage_error("--max-connections %s: a number from 1 to 1000000", optarg);
            o->max_connections = (size_t)v;
            break;
        case O_HOSTNAME:
            if (*optarg == '\0' || strlen(optarg) > 255 || strpbrk(optarg, " \t\r\n") != NULL)
                usage_error("--hostname %s: one word of at most 255 octets", optarg);
            o->hostname = optarg;
            break;
        case 'v': o->verbose = 1; break;
        case 'h': help(); exit(0);
        case O_VERSION: printf(PROG " (libsmtp %s)\n", smtp_lib_version()); exit(0);
        default: usage_error("unknown option");
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (!have_upstream) usage_error("--upstream HOST:PORT is required");
    if (o->xclient + o->xforward + (o->proxy_version != 0) > 1)
        usage_error("--xclient, --xforward and --upstream-proxy-protocol exclude each other");
    if (o->filter != NULL && o->lmtp)
        usage_error("--filter and --lmtp: a filter's single verdict cannot answer LMTP's per "
                    "recipient replies");
    if ((o->tls_cert != NULL) != (o->tls_key != NULL))
        usage_error("--tls-cert and --tls-key go together");
#ifndef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls_cert != NULL || o->up_tls != SMTP_CLIENT_TLS_NONE || o->cafile != NULL)
        usage_error("TLS options need a build with mbedTLS");
#endif
    if (o->cafile != NULL && o->up_tls == SMTP_CLIENT_TLS_NONE)
        usage_error("--cafile needs --upstream-tls opportunistic or required");
    const char *files[] = {o->tls_cert, o->tls_key, o->cafile};
    for (size_t i = 0; i < 3; i++) {
        if (files[i] != NULL && access(files[i], R_OK) != 0) {
            fprintf(stderr, PROG ": %s: %s\n", files[i], strerror(errno));
            exit(EX_NOINPUT);
        }
    }
}

static void on_signal(int sig)
{
    (void)sig;
    if (the_state != NULL) smtp_io_loop_shutdown(the_state->loop);
}

int main(int argc, char **argv)
{
    px_options o;
    parse(argc, argv, &o);
    static char host[256];
    if (o.hostname == NULL) {
        if (gethostname(host, sizeof host) != 0 || host[0] == '\0') strcpy(host, "localhost");
        host[sizeof host - 1] = '\0';
        for (char *q = host; *q; q++)
            if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) *q = '-';
        o.hostname = host;
    }
    px_state st;
    memset(&st, 0, sizeof st);
    st.o = &o;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(o.up_host, o.up_port, &hints, &ai);
    if (g != 0) {
        fprintf(stderr, PROG ": --upstream %s: %s\n", o.up_host, gai_strerror(g));
        return EX_NOHOST;
    }
    memcpy(&st.up_addr, ai->ai_addr, ai->ai_addrlen);
    st.up_addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    smtp_client_settings_init(&st.cs);
    st.cs.helo_name = o.hostname;
    st.cs.tls = o.up_tls;
    if (o.lmtp) st.cs.flags |= SMTP_CLIENT_LMTP;
    st.cs.max_reply_text = SMTP_SERVER_MAX_RELAY_TEXT + 1; /* a longer one is not relayed */
    smtp_io_settings_init(&st.up_io);
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    io.on_progress = down_progress;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    char err[512];
    if (o.tls_cert != NULL) {
        if (ex_tls_server_init(&down_tls, o.tls_cert, o.tls_key, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": TLS: %s\n", err);
            return EX_DATAERR;
        }
        io.tls_new = down_tls_new;
    }
    if (o.up_tls != SMTP_CLIENT_TLS_NONE) {
        if (ex_tls_client_init(&up_tls, o.cafile, 0, o.up_host, err, sizeof err) != 0) {
            fprintf(stderr, PROG ": upstream TLS: %s\n", err);
            return EX_DATAERR;
        }
        st.up_io.tls_new = up_tls_new;
    }
#endif
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    ss.hostname = o.hostname;
    if (o.lmtp) ss.flags |= SMTP_SERVER_LMTP;
    ss.extensions = SMTP_SERVER_EXT_PIPELINING | SMTP_SERVER_EXT_SIZE | SMTP_SERVER_EXT_8BITMIME |
                    SMTP_SERVER_EXT_SMTPUTF8 | SMTP_SERVER_EXT_CHUNKING |
                    SMTP_SERVER_EXT_BINARYMIME | SMTP_SERVER_EXT_DSN |
                    SMTP_SERVER_EXT_ENHANCEDSTATUSCODES;
    if (o.tls_cert != NULL) ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    ss.max_message_size = 0; /* upstream's SIZE, once known */
    /* Upstream's SIZE is advertised and a MAIL's SIZE= held to it, but a message over it
     * goes to upstream whole, which refuses it as it would directly: the session goes on. */
    ss.flags |= SMTP_SERVER_SIZE_ADVISORY;
    ss.max_pending = PX_MAX_PENDING / 2;
    /* A BDAT's chunk goes upstream with the envelope, in the same flight (not through a
     * filter, which needs the message whole first, nor in LMTP, whose BDAT LAST waits for the
     * recipients' replies). */
    if (o.filter == NULL && !o.lmtp) ss.flags |= SMTP_SERVER_CHUNK_AHEAD;
    ss.max_messages = 0; /* upstream's limit, not one of the proxy's own */
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    ls.server = &ss;
    ls.io = &io;
    ls.on_accept = on_accept;
    ls.on_close = on_close;
    ls.user_data = &st;
    if (o.max_connections) ls.max_connections = o.max_connections;
    int rc = smtp_io_loop_new(&st.loop, &ls, NULL);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot start: %s\n", smtp_error_text(rc));
        return EX_SOFTWARE;
    }
    smtp_io_status ios;
    int detail;
    if (smtp_io_loop_listen(st.loop, o.listen_host, o.listen_port, &ios, &detail) < 0) {
        char text[256];
        fprintf(stderr, PROG ": cannot listen on %s port %s: %s\n", o.listen_host, o.listen_port,
                smtp_io_status_text(ios, detail, text, sizeof text));
        smtp_io_loop_del(st.loop);
        return EX_UNAVAILABLE;
    }
    the_state = &st;
    ex_stop_on_signals(on_signal);
    fprintf(stderr, PROG ": listening on %s port %d, relaying to %s port %s\n", o.listen_host,
            smtp_io_loop_port(st.loop, 0), o.up_host, o.up_port);
    while ((rc = smtp_io_loop_run_once(st.loop, st.work ? 0 : st.filters ? 20 : -1)) > 0) {
        filters_check(&st);
        work(&st);
    }
    work(&st);
    int status = EX_OK;
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", smtp_error_text(rc));
        status = EX_SOFTWARE;
    } else {
        fprintf(stderr, PROG ": stopped after %llu connection(s)\n", st.connections);
    }
    the_state = NULL;
    smtp_io_loop_del(st.loop);
    work(&st);
#ifdef SMTP_EXAMPLES_HAVE_TLS
    ex_tls_free(&down_tls);
    ex_tls_free(&up_tls);
#endif
    return status;
}
