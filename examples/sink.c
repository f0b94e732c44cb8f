/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's server (sink.h): the I/O adapter's multi-connection loop with one server engine
 * per connection, whose callbacks keep the envelope, write the message into the Maildir as it
 * arrives (content after dot-unstuffing, byte for byte) and, at the end of the data, make it
 * durable (ex_maildir_commit: fsync of file and directory) before returning, so the engine's
 * 250 never precedes the fsync (DESIGN.md invariant 6). Then the JSON line is printed.
 *
 * SIGINT and SIGTERM call smtp_io_loop_shutdown (async-signal-safe): the loop closes its
 * listeners, sends 421 to idle connections, lets open transactions finish, and returns.
 *
 * Fault injection (faults.h): each policy callback first counts its decision point and looks
 * up the rules. --disconnect returns -1: the engine's feeding call fails
 * (SMTP_ERR_CALLBACK_FAILURE), the adapter ends the connection (SMTP_IO_ERROR) and closes it
 * without writing anything more (lib/io/conn.c: a finished connection pushes no output), so
 * the client sees the connection closed with no reply. --reply with a refusal answers it and
 * skips the callback's own work (a refused RCPT is not kept, a refused DATA opens no file, a
 * refused '.' drops the file and prints no JSON line); an acceptance code replaces the
 * default reply. --delay returns SMTP_SERVER_DEFER and keeps the reply (the default
 * acceptance, a --reply rule's or the callback's own) on a timer list: sink_run drives the
 * loop with smtp_io_loop_run_once up to the nearest deadline, then answers with
 * smtp_server_reply and smtp_io_loop_update.
 *
 * Each JSON line also says who sent the message and when: "peer" (smtp_server_client_address,
 * so a PROXY header counts), "time" (RFC 3339 in UTC, when the message was accepted),
 * "conn" (the connection's number, as -v logs it) and, over TLS, "tls_version" and "tls_cipher"
 * of the TLS adapter's session (null without TLS).
 */
#include "sink.h"
#include "authfile.h"
#include "json.h"
#include "maildir.h"
#include "transcript.h"
#include "workers.h"

#include <smtp/io.h>
#ifdef SMTP_EXAMPLES_HAVE_TLS
#include "tls_glue.h"
#endif

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sink_session sink_session;

typedef struct sink_state {
    const sink_options *o;
    const ex_worker *worker; /* --workers: this process's part; NULL for one process */
    smtp_io_loop *loop;
    ex_maildir maildir;
    ex_authfile auth;
    unsigned long long connections, messages;
    sink_session *timers; /* sessions with a --delay reply due, unordered */
    time_t stamp_sec;     /* the second that stamp holds, formatted once per second */
    char stamp[24];       /* "2026-12-07T12:34:56" */
    size_t stamp_len;
} sink_state;

/* A reply kept for later (--delay): code 0 is the engine's default acceptance. */
typedef struct sink_reply {
    int code;
    char enhanced[12];
    char text[EX_FAULT_TEXT_MAX + 1];
    size_t len;
} sink_reply;

/*
 * The parts of the JSON line that are the same for each message of a session: from "helo" to
 * the time's opening quote, and from its closing quote to "requiretls". Made at the first
 * message and again when what they hold changed (the key); not used once the client
 * authenticated (the identity is not part of the key).
 */
typedef struct json_fixed {
    char *text; /* the middle, then the tail; NULL: none yet */
    size_t mid_len, tail_len;
    unsigned helo_gen, peer_gen;
    int tls;
    const char *peer, *version, *cipher;
} json_fixed;

/* One connection. The envelope is kept until the message is answered. */
struct sink_session {
    sink_state *st;
    smtp_io_conn *conn;
    unsigned long long id;
    char helo[SMTP_MAX_DOMAIN]; /* the engine refuses a longer name (501): never cut */
    size_t helo_len;
    char from[260];
    size_t from_len;
    char *to; /* accepted recipients, each followed by a NUL */
    size_t to_len, to_cap, nto;
    ex_maildir_msg *msg; /* allocated at the first message with --maildir */
    int storing;         /* msg holds an open file */
    /* Fault injection: occurrences of each decision point, the decision in progress. */
    unsigned long count[EX_FAULT_POINTS];
    int replied;            /* the decision in progress has its reply */
    unsigned long defer_ms; /* the decision in progress is answered this late */
    const ex_fault *accept; /* a --reply rule with an acceptance code for it */
    sink_reply later;       /* the reply of a deferred decision */
    ex_fault_point later_point;
    int64_t due;              /* when (now_ms) */
    sink_session *next_timer; /* in st->timers while a reply is due */
    int timed;                /* in st->timers */
    int tls_logged;           /* -v: the TLS line was written */
    int requiretls;           /* the message's MAIL had REQUIRETLS (RFC 8689) */
    char peer[80];            /* the JSON line's "peer", formatted for peer_addr:peer_port */
    char peer_addr[64];       /* the client address it was formatted for ("": none yet) */
    unsigned peer_port;
    unsigned helo_gen, peer_gen; /* counts of the changes of helo and peer */
    json_fixed fixed;            /* the JSON line's parts that change with neither message */
    ex_transcript tr; /* -v: the commands and replies, "smtp-sink: [n] C: ..." */
    char tag[48];
};

static sink_state *the_state; /* for the signal handler */

#ifdef SMTP_EXAMPLES_HAVE_TLS
static ex_tls tls_config;    /* the certificate and key, for every connection */
static ex_tls random_config; /* without them, the random generator of the SASL crypto */
static smtp_crypto crypto;   /* SCRAM-SHA-256 and CRAM-MD5 (--auth-file) */

static int tls_new(smtp_io_filter *filter, smtp_io_conn *conn, void *ud)
{
    (void)conn;
    (void)ud;
    return ex_tls_filter(&tls_config, filter);
}
#endif

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ADDR:PORT" or "[IPV6]:PORT" of the engine's client (the socket's, or what a PROXY header or
 * XCLIENT said); 0 (buf "") when it is unknown. */
static int format_peer(const smtp_server *srv, char *buf, size_t cap)
{
    unsigned port = 0;
    const char *addr = smtp_server_client_address(srv, &port);
    buf[0] = '\0';
    if (addr == NULL) return 0;
    snprintf(buf, cap, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u", addr, port);
    return 1;
}

/* The TLS session's protocol and cipher suite, NULL each when the connection is not over TLS. */
static void tls_names(const smtp_io_conn *conn, const char **version, const char **cipher)
{
    *version = *cipher = NULL;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (!smtp_io_conn_tls(conn)) return;
    const smtp_tls *tls = smtp_tls_io_filter_session(smtp_io_conn_filter(conn));
    *version = smtp_tls_version(tls);
    *cipher = smtp_tls_ciphersuite(tls);
#else
    (void)conn;
#endif
}

/* -v: the TLS line, once, at the first decision after the handshake. */
static void log_tls(sink_session *s)
{
    if (!s->st->o->verbose || s->tls_logged || !smtp_io_conn_tls(s->conn)) return;
    const char *version, *cipher;
    tls_names(s->conn, &version, &cipher);
    s->tls_logged = 1;
    fprintf(stderr, "smtp-sink: [%llu] TLS %s %s\n", s->id, version ? version : "?",
            cipher ? cipher : "?");
}

/* Now as RFC 3339 in UTC with milliseconds: "2026-12-07T12:34:56.789Z" into buf[32]; returns
 * its length. The date and time of day are formatted once per second (gmtime_r and strftime
 * cost more than the rest), the milliseconds by hand (snprintf was a fifth of the line). */
static size_t format_time(sink_state *st, char buf[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != st->stamp_sec || st->stamp[0] == '\0') {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        if (strftime(st->stamp, sizeof st->stamp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            st->stamp[0] = '\0';
        st->stamp_len = strlen(st->stamp);
        st->stamp_sec = ts.tv_sec;
    }
    size_t n = st->stamp_len;
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
    memcpy(buf, st->stamp, n);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    buf[n + 2] = (char)('0' + ms / 10 % 10);
    buf[n + 3] = (char)('0' + ms % 10);
    buf[n + 4] = 'Z';
    return n + 5;
}

/* The JSON line's "peer": formatted once per connection, and again only when the client's
 * address changes (XCLIENT, a PROXY header); NULL while it is unknown. */
static const char *session_peer(sink_session *s, const smtp_server *srv)
{
    unsigned port = 0;
    const char *addr = smtp_server_client_address(srv, &port);
    if (addr == NULL) return NULL;
    if (s->peer_addr[0] == '\0' || port != s->peer_port || strcmp(addr, s->peer_addr) != 0) {
        snprintf(s->peer_addr, sizeof s->peer_addr, "%s", addr); /* longer: formatted each time */
        s->peer_port = port;
        format_peer(srv, s->peer, sizeof s->peer);
        s->peer_gen++;
    }
    return s->peer;
}

static const char *const point_names[EX_FAULT_POINTS] = {"CONNECT", "HELO", "MAIL", "RCPT",
                                                         "DATA",    ".",    "VRFY"};

/* Answers the decision in progress now, or keeps the reply for later under --delay. */
static int answer(sink_session *s, smtp_server *srv, int code, const char *enhanced,
                  const char *text, size_t len)
{
    s->replied = 1;
    if (s->defer_ms == 0) return smtp_server_reply(srv, code, enhanced, text, len) == 0 ? 0 : -1;
    s->later.code = code;
    snprintf(s->later.enhanced, sizeof s->later.enhanced, "%s", enhanced ? enhanced : "");
    s->later.len = len < EX_FAULT_TEXT_MAX ? len : EX_FAULT_TEXT_MAX;
    if (s->later.len > 0) memcpy(s->later.text, text, s->later.len);
    return 0;
}

static int answer_fault(sink_session *s, smtp_server *srv, const ex_fault *r)
{
    size_t len = strlen(r->text);
    return answer(s, srv, r->code, r->enhanced[0] ? r->enhanced : NULL, len ? r->text : NULL, len);
}

/*
 * The start of a policy callback: counts the decision point and applies the rules for this
 * occurrence. Returns -1 (--disconnect: fail the session, nothing is written), 1 (a --reply
 * refusal was given: skip the callback's work) or 0 (go on).
 */
static int fault_begin(sink_session *s, smtp_server *srv, ex_fault_point point)
{
    const ex_faults *f = &s->st->o->faults;
    unsigned long n = ++s->count[point];
    log_tls(s);
    s->replied = 0;
    s->defer_ms = 0;
    s->accept = NULL;
    s->later.code = 0;
    s->later.len = 0;
    s->later_point = point;
    if (f->n == 0) return 0;
    if (ex_faults_find(f, EX_FAULT_DISCONNECT, point, n) != NULL) {
        if (s->st->o->verbose)
            fprintf(stderr, "smtp-sink: [%llu] --disconnect %s#%lu\n", s->id, point_names[point],
                    n);
        return -1;
    }
    const ex_fault *d = ex_faults_find(f, EX_FAULT_DELAY, point, n);
    if (d != NULL) s->defer_ms = d->ms;
    const ex_fault *r = ex_faults_find(f, EX_FAULT_REPLY, point, n);
    if (r == NULL) return 0;
    if (!ex_fault_refuses(r)) {
        s->accept = r;
        return 0;
    }
    return answer_fault(s, srv, r) < 0 ? -1 : 1;
}

/* The end of a policy callback that returns `rc`: the acceptance rule, the deferral. */
static int fault_end(sink_session *s, smtp_server *srv, int rc)
{
    if (rc < 0) return rc;
    if (!s->replied && s->accept != NULL && answer_fault(s, srv, s->accept) < 0) return -1;
    if (s->defer_ms == 0) return 0;
    s->due = now_ms() + (int64_t)s->defer_ms;
    s->defer_ms = 0;
    if (!s->timed) {
        s->timed = 1;
        s->next_timer = s->st->timers;
        s->st->timers = s;
    }
    return SMTP_SERVER_DEFER;
}

static void timer_unlink(sink_session *s)
{
    if (!s->timed) return;
    for (sink_session **p = &s->st->timers; *p != NULL; p = &(*p)->next_timer)
        if (*p == s) {
            *p = s->next_timer;
            break;
        }
    s->timed = 0;
}

/* Milliseconds until the nearest --delay reply is due, or -1 when none is. */
static int timers_wait(const sink_state *st)
{
    if (st->timers == NULL) return -1;
    int64_t first = st->timers->due;
    for (const sink_session *s = st->timers; s != NULL; s = s->next_timer)
        if (s->due < first) first = s->due;
    int64_t d = first - now_ms();
    return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

/* Answers the deferred decisions that are due. Each answer may close its connection
 * (smtp_io_loop_update calls on_close) or defer again (on_message_end from inside
 * smtp_server_reply): the list is searched again after each. */
static void timers_fire(sink_state *st)
{
    while (st->timers != NULL) { /* the clock is read only when a reply waits */
        int64_t now = now_ms();
        sink_session *s = st->timers;
        while (s != NULL && s->due > now)
            s = s->next_timer;
        if (s == NULL) return;
        timer_unlink(s);
        sink_reply r = s->later;
        ex_fault_point point = s->later_point;
        smtp_io_conn *conn = s->conn;
        smtp_server *srv = smtp_io_conn_server(conn);
        const char *enh = r.enhanced[0] ? r.enhanced : NULL;
        const char *text = r.len ? r.text : NULL;
        int rc = smtp_server_reply(srv, r.code, enh, text, r.len);
        /* In LMTP the end of the data owes one reply per accepted recipient: the same. */
        for (size_t i = 0; rc == 0 && point == EX_FAULT_DOT && i < s->nto && !s->timed &&
                           smtp_server_pending(srv);
             i++)
            rc = smtp_server_reply(srv, r.code, enh, text, r.len);
        if (rc != 0)
            fprintf(stderr, "smtp-sink: [%llu] delayed reply: %s\n", s->id, smtp_error_text(rc));
        (void)smtp_io_loop_update(st->loop, conn); /* may free s */
    }
}

static int on_connect(smtp_server *srv, void *ud)
{
    sink_session *s = ud;
    if (s->st->o->verbose && s->st->o->proxy_protocol) {
        char peer[80];
        if (format_peer(srv, peer, sizeof peer))
            fprintf(stderr, "smtp-sink: [%llu] PROXY: client %s\n", s->id, peer);
        else
            fprintf(stderr, "smtp-sink: [%llu] PROXY: client unknown\n", s->id);
    }
    return fault_end(s, srv, fault_begin(s, srv, EX_FAULT_CONNECT));
}

static int on_vrfy(smtp_server *srv, smtp_span arg, void *ud)
{
    (void)arg;
    sink_session *s = ud;
    return fault_end(s, srv, fault_begin(s, srv, EX_FAULT_VRFY));
}

static int on_helo(smtp_server *srv, smtp_verb verb, smtp_span domain, void *ud)
{
    (void)verb;
    sink_session *s = ud;
    int rc = fault_begin(s, srv, EX_FAULT_HELO);
    if (rc != 0) return fault_end(s, srv, rc);
    s->helo_len = domain.len < sizeof s->helo ? domain.len : sizeof s->helo;
    if (s->helo_len > 0) memcpy(s->helo, domain.ptr, s->helo_len);
    s->helo_gen++;
    return fault_end(s, srv, 0);
}

static int on_mail(smtp_server *srv, const smtp_server_mail *mail, void *ud)
{
    sink_session *s = ud;
    int rc = fault_begin(s, srv, EX_FAULT_MAIL);
    if (rc != 0) return fault_end(s, srv, rc);
    smtp_span box = mail->parsed.mailbox; /* empty for the null path <> */
    s->from_len = box.len < sizeof s->from ? box.len : sizeof s->from;
    if (s->from_len > 0) memcpy(s->from, box.ptr, s->from_len);
    s->to_len = s->nto = 0;
    s->requiretls = (mail->params.present & SMTP_MAIL_REQUIRETLS) != 0;
    return fault_end(s, srv, 0);
}

static int on_rcpt(smtp_server *srv, const smtp_server_rcpt *rcpt, void *ud)
{
    sink_session *s = ud;
    int rc = fault_begin(s, srv, EX_FAULT_RCPT);
    if (rc != 0) return fault_end(s, srv, rc);
    size_t max = s->st->o->max_recipients;
    if (max != 0 && rcpt->index >= max) {
        static const char text[] = "Error: too many recipients";
        return fault_end(s, srv, answer(s, srv, 452, "4.5.3", text, sizeof text - 1));
    }
    smtp_span box = rcpt->parsed.mailbox;
    if (box.len == 0) box = rcpt->parsed.local; /* <Postmaster> */
    if (s->to_len + box.len + 1 > s->to_cap) {
        size_t cap = s->to_cap ? s->to_cap * 2 : 1024;
        while (cap < s->to_len + box.len + 1)
            cap *= 2;
        char *to = realloc(s->to, cap);
        if (to == NULL) {
            static const char text[] = "Error: out of memory";
            return fault_end(s, srv, answer(s, srv, 452, "4.3.1", text, sizeof text - 1));
        }
        s->to = to;
        s->to_cap = cap;
    }
    if (box.len > 0) memcpy(s->to + s->to_len, box.ptr, box.len);
    s->to_len += box.len;
    s->to[s->to_len++] = '\0';
    s->nto++;
    return fault_end(s, srv, 0);
}

static int refuse_storage(sink_session *s, smtp_server *srv, int err)
{
    char text[160];
    int n = snprintf(text, sizeof text, "Error: cannot store the message: %s", strerror(err));
    return fault_end(s, srv, answer(s, srv, 451, "4.3.0", text, (size_t)n));
}

static int on_data_start(smtp_server *srv, void *ud)
{
    sink_session *s = ud;
    int rc = fault_begin(s, srv, EX_FAULT_DATA);
    if (rc != 0 || s->st->o->maildir == NULL) return fault_end(s, srv, rc);
    if (s->msg == NULL && (s->msg = malloc(sizeof *s->msg)) == NULL)
        return refuse_storage(s, srv, ENOMEM);
    if (ex_maildir_begin(&s->st->maildir, s->msg) != 0) return refuse_storage(s, srv, errno);
    s->storing = 1;
    return fault_end(s, srv, 0);
}

static int on_data(smtp_server *srv, smtp_span data, void *ud)
{
    (void)srv;
    sink_session *s = ud;
    if (s->storing) ex_maildir_write(s->msg, data.ptr, data.len);
    return 0;
}

/* A string of the JSON line, or null for NULL. */
static void json_str_or_null(ex_jline *j, const char *v)
{
    if (v != NULL)
        ex_jline_string(j, v, strlen(v));
    else
        ex_jline_lit(j, "null");
}

/* The JSON line from "helo" to the time's opening quote. */
static void json_middle(ex_jline *j, const sink_session *s, int tls, const char *user,
                        const char *peer)
{
    ex_jline_lit(j, ",\"helo\":");
    ex_jline_string(j, s->helo, s->helo_len);
    if (tls)
        ex_jline_lit(j, ",\"tls\":true,\"auth\":");
    else
        ex_jline_lit(j, ",\"tls\":false,\"auth\":");
    json_str_or_null(j, user);
    ex_jline_lit(j, ",\"peer\":");
    json_str_or_null(j, peer);
    ex_jline_lit(j, ",\"time\":\"");
}

/* The JSON line from the time's closing quote to "requiretls" and its colon. */
static void json_tail(ex_jline *j, const sink_session *s, const char *version, const char *cipher)
{
    ex_jline_lit(j, "\",\"conn\":");
    ex_jline_u64(j, s->id);
    ex_jline_lit(j, ",\"tls_version\":");
    json_str_or_null(j, version);
    ex_jline_lit(j, ",\"tls_cipher\":");
    json_str_or_null(j, cipher);
    ex_jline_lit(j, ",\"requiretls\":");
}

/* s->fixed for these values, made again when they changed; 0 when it cannot be had (no
 * memory): the caller writes the parts itself. */
static int json_fixed_for(sink_session *s, int tls, const char *peer, const char *version,
                          const char *cipher)
{
    json_fixed *f = &s->fixed;
    if (f->text != NULL && f->helo_gen == s->helo_gen && f->peer_gen == s->peer_gen &&
        f->tls == tls && f->peer == peer && f->version == version && f->cipher == cipher)
        return 1;
    /* Both parts fit the buffer: a name of 255 octets escaped is at most 1,530. */
    ex_jline t;
    ex_jline_init(&t, -1);
    json_middle(&t, s, tls, NULL, peer);
    size_t mid = t.len;
    json_tail(&t, s, version, cipher);
    char *text = realloc(f->text, t.len);
    if (text == NULL) return 0;
    memcpy(text, t.buf, t.len);
    *f = (json_fixed){text, mid, t.len - mid, s->helo_gen, s->peer_gen, tls, peer, version, cipher};
    return 1;
}

/* The line of an accepted message, built in a buffer and written with one write(2). */
static void print_json(sink_session *s, uint64_t size, const char *file)
{
    char when[32];
    const char *version, *cipher;
    smtp_server *srv = smtp_io_conn_server(s->conn);
    const char *peer = session_peer(s, srv);
    size_t when_len = format_time(s->st, when);
    tls_names(s->conn, &version, &cipher);
    int tls = smtp_io_conn_tls(s->conn);
    const char *user = smtp_server_auth_identity(srv);
    int fixed = user == NULL && json_fixed_for(s, tls, peer, version, cipher);
    ex_workers_lock(s->st->worker); /* workers: one line at a time, whole */
    ex_jline j;
    ex_jline_init(&j, STDOUT_FILENO);
    ex_jline_lit(&j, "{\"from\":");
    ex_jline_string(&j, s->from, s->from_len);
    ex_jline_lit(&j, ",\"to\":[");
    const char *p = s->to;
    for (size_t i = 0; i < s->nto; i++) {
        size_t n = strlen(p);
        if (i > 0) ex_jline_lit(&j, ",");
        ex_jline_string(&j, p, n);
        p += n + 1;
    }
    ex_jline_lit(&j, "],\"size\":");
    ex_jline_u64(&j, size);
    ex_jline_lit(&j, ",\"file\":");
    if (file != NULL)
        ex_jline_string(&j, file, strlen(file));
    else
        ex_jline_lit(&j, "null");
    if (fixed)
        ex_jline_raw(&j, s->fixed.text, s->fixed.mid_len);
    else
        json_middle(&j, s, tls, user, peer);
    /* The time is digits, '-', ':', 'T', '.' and 'Z': nothing to escape. */
    ex_jline_raw(&j, when, when_len);
    if (fixed)
        ex_jline_raw(&j, s->fixed.text + s->fixed.mid_len, s->fixed.tail_len);
    else
        json_tail(&j, s, version, cipher);
    if (s->requiretls)
        ex_jline_lit(&j, "true}\n");
    else
        ex_jline_lit(&j, "false}\n");
    (void)ex_jline_flush(&j); /* stdout gone (a closed pipe): the message is stored anyway */
    ex_workers_unlock(s->st->worker);
}

/* The end of the data: durable first (fsync), then the JSON line, then the engine's 250. */
static int on_message_end(smtp_server *srv, const smtp_server_message *m, void *ud)
{
    sink_session *s = ud;
    const char *file = NULL;
    int rc = fault_begin(s, srv, EX_FAULT_DOT);
    if (rc != 0) {
        if (s->storing) ex_maildir_abort(s->msg); /* refused: nothing kept, no JSON line */
        s->storing = 0;
        return fault_end(s, srv, rc);
    }
    if (s->storing) {
        s->storing = 0;
        if (ex_maildir_commit(&s->st->maildir, s->msg) != 0) return refuse_storage(s, srv, errno);
        file = s->msg->new_path;
    }
    s->st->messages++;
    print_json(s, m->size, file);
    return fault_end(s, srv, 0);
}

static int on_message_abort(smtp_server *srv, smtp_server_abort_reason reason, void *ud)
{
    (void)srv;
    sink_session *s = ud;
    if (s->st->o->verbose)
        fprintf(stderr, "smtp-sink: [%llu] message dropped: %s\n", s->id,
                smtp_server_abort_name(reason));
    if (s->storing) ex_maildir_abort(s->msg);
    s->storing = 0;
    return 0;
}

static int on_auth(smtp_server *srv, const smtp_server_auth *auth, void *ud)
{
    sink_session *s = ud;
    if (ex_authfile_check(&s->st->auth, auth->authcid.ptr, auth->authcid.len, auth->password.ptr,
                          auth->password.len) &&
        (auth->authzid.len == 0 ||
         (auth->authzid.len == auth->authcid.len &&
          memcmp(auth->authzid.ptr, auth->authcid.ptr, auth->authcid.len) == 0)))
        return 0;
    static const char text[] = "Error: authentication failed";
    return smtp_server_reply(srv, 535, "5.7.8", text, sizeof text - 1) == 0 ? 0 : -1;
}

/* CRAM-MD5 and SCRAM-SHA-256 (built into the engine): the entry's password or SCRAM
 * credentials; an authzid other than the user is refused, as on_auth does. A user without
 * them is unknown to the engine, which then fails the exchange as for a wrong password. */
static int on_auth_lookup(smtp_server *srv, const smtp_server_auth_lookup *lk, void *ud)
{
    sink_session *s = ud;
    const struct ex_auth_entry *e =
        ex_authfile_find(&s->st->auth, lk->authcid.ptr, lk->authcid.len);
    if (lk->authzid.len != 0 && (lk->authzid.len != lk->authcid.len ||
                                 memcmp(lk->authzid.ptr, lk->authcid.ptr, lk->authcid.len) != 0))
        e = NULL;
    int scram = lk->mechanism.len == 13 && memcmp(lk->mechanism.ptr, "SCRAM-SHA-256", 13) == 0;
    if (e == NULL) return 0;
    if (scram && e->has_scram) return smtp_server_auth_scram(srv, &e->scram) == 0 ? 0 : -1;
    if (!scram && e->password != NULL)
        return smtp_server_auth_password(srv, e->password, e->password_len) == 0 ? 0 : -1;
    return 0;
}

static const smtp_server_callbacks callbacks = {
    .on_connect = on_connect,
    .on_helo = on_helo,
    .on_mail = on_mail,
    .on_rcpt = on_rcpt,
    .on_data_start = on_data_start,
    .on_data = on_data,
    .on_message_end = on_message_end,
    .on_message_abort = on_message_abort,
    .on_auth = on_auth,
    .on_vrfy = on_vrfy,
    .on_auth_lookup = on_auth_lookup,
};

static int on_accept(smtp_io_conn *conn, const struct sockaddr *peer, socklen_t peerlen,
                     smtp_io_session *session, void *ud)
{
    sink_state *st = ud;
    sink_session *s = calloc(1, sizeof *s);
    if (s == NULL) return -1;
    s->st = st;
    s->conn = conn;
    /* Workers number their connections apart: worker w of n gives w+1, w+1+n, w+1+2n... */
    s->id = ++st->connections;
    if (st->worker != NULL) s->id = (s->id - 1) * st->worker->count + st->worker->index + 1;
    session->callbacks = &callbacks;
    session->user_data = s;
    snprintf(s->tag, sizeof s->tag, "smtp-sink: [%llu] ", s->id);
    ex_transcript_init(&s->tr, st->o->verbose ? stderr : NULL, s->tag);
    ex_transcript_mask_auth(&s->tr, 1);      /* no password in a log */
    ex_transcript_summarize_data(&s->tr, 1); /* nor every message */
    if (st->o->verbose) {
        char host[NI_MAXHOST], serv[NI_MAXSERV];
        if (peer != NULL && getnameinfo(peer, peerlen, host, sizeof host, serv, sizeof serv,
                                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            fprintf(stderr,
                    strchr(host, ':') ? "smtp-sink: [%llu] connected from [%s]:%s\n"
                                      : "smtp-sink: [%llu] connected from %s:%s\n",
                    s->id, host, serv);
        else
            fprintf(stderr, "smtp-sink: [%llu] connected\n", s->id);
    }
    return 0;
}

static void on_close(smtp_io_conn *conn, smtp_io_status status, int detail, void *session_data,
                     void *ud)
{
    (void)conn;
    sink_state *st = ud;
    sink_session *s = session_data;
    if (s == NULL) return;
    timer_unlink(s);
    ex_transcript_end(&s->tr);
    if (st->o->verbose) {
        char text[256];
        fprintf(stderr, "smtp-sink: [%llu] closed: %s\n", s->id,
                smtp_io_status_text(status, detail, text, sizeof text));
    }
    if (s->storing) ex_maildir_abort(s->msg);
    free(s->msg);
    free(s->to);
    free(s->fixed.text);
    free(s);
}

/* -v: every octet of a session, in and out, to its transcript (smtp_io_settings.on_trace). */
static void on_trace(smtp_io_conn *conn, int direction, const char *data, size_t len, void *ud)
{
    (void)ud;
    sink_session *s = smtp_io_conn_session_data(conn);
    if (s != NULL)
        ex_transcript_add(&s->tr, direction == SMTP_IO_TRACE_IN ? EX_CLIENT : EX_SERVER, data, len);
}

static void on_signal(int sig)
{
    (void)sig;
    if (the_state != NULL) smtp_io_loop_shutdown(the_state->loop);
}

static void engine_settings(const sink_options *o, smtp_server_settings *ss)
{
    static char host[256];
    if (o->hostname != NULL) {
        ss->hostname = o->hostname;
    } else if (gethostname(host, sizeof host) == 0 && host[0] != '\0') {
        host[sizeof host - 1] = '\0';
        for (char *p = host; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) *p = '-';
        ss->hostname = host;
    }
    if (o->lmtp) ss->flags |= SMTP_SERVER_LMTP;
    if (o->pipelining_strict) ss->flags |= SMTP_SERVER_STRICT_PIPELINING;
    if (o->proxy_protocol) ss->flags |= SMTP_SERVER_PROXY;
    if (o->implicit_tls)
        ss->flags |= SMTP_SERVER_TLS;
    else if (o->tls_cert != NULL)
        ss->extensions |= SMTP_SERVER_EXT_STARTTLS;
    if (o->auth_file != NULL) ss->extensions |= SMTP_SERVER_EXT_AUTH;
    /* RFC 8689: offered over TLS only (the engine advertises it once TLS is up) */
    if (o->tls_cert != NULL) ss->extensions |= SMTP_SERVER_EXT_REQUIRETLS;
    if (o->insecure_auth) ss->flags |= SMTP_SERVER_AUTH_PLAINTEXT;
    if (o->lenient)
        ss->cmd_flags |=
            SMTP_CMD_LENIENT_EMPTY_HELO | SMTP_CMD_LENIENT_PATH_BRACKETS | SMTP_CMD_LENIENT_BARE_LF;
    ss->bare_policy = o->bare_policy;
    if (o->max_size_set) ss->max_message_size = o->max_size;
    /* The engine keeps RFC 5321 4.5.3.1.8's floor of 100; a lower limit is on_rcpt's. */
    if (o->max_recipients > ss->max_recipients) ss->max_recipients = o->max_recipients;
    /* A sink under a load test takes what comes: no per-connection limit unless asked. */
    ss->max_messages = o->max_messages;
}

static void close_files(sink_state *st);

/* What the server needs from files (the Maildir, --auth-file, the certificate): opened and
 * checked; on failure a message and the status. With --workers the parent checks them once,
 * so that a mistake is reported before any worker starts, and each worker opens them again
 * (its own random generator for TLS, seeded after the fork). */
static int open_files(sink_state *st, const sink_options *o)
{
    if (o->maildir != NULL && ex_maildir_open(&st->maildir, o->maildir) != 0) {
        fprintf(stderr, "smtp-sink: --maildir %s: %s\n", o->maildir, strerror(errno));
        return EX_CANTCREAT;
    }
    const smtp_crypto *k = NULL; /* without mbedTLS, no SCRAM-SHA-256 nor CRAM-MD5 */
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls_cert != NULL) {
        char err[512];
        if (ex_tls_server_init(&tls_config, o->tls_cert, o->tls_key, err, sizeof err) != 0) {
            /* The files were readable (smtp-sink.c): what fails is their contents. */
            fprintf(stderr, "smtp-sink: TLS: %s\n", err);
            return EX_DATAERR;
        }
    }
    if (o->auth_file != NULL) {
        char err[512];
        if (tls_config.cfg == NULL &&
            ex_tls_client_init(&random_config, NULL, 1, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "smtp-sink: random generator: %s\n", err);
            ex_tls_free(&tls_config);
            return EX_SOFTWARE;
        }
        smtp_tls_crypto(&crypto, tls_config.cfg != NULL ? tls_config.cfg : random_config.cfg);
        k = &crypto;
    }
#endif
    if (o->auth_file != NULL) {
        char err[512];
        int rc = ex_authfile_load(&st->auth, o->auth_file, k, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "smtp-sink: --auth-file: %s\n", err);
            close_files(st);
            return rc == -2 ? EX_DATAERR : EX_NOINPUT;
        }
    }
    return EX_OK;
}

static void close_files(sink_state *st)
{
    ex_authfile_free(&st->auth);
#ifdef SMTP_EXAMPLES_HAVE_TLS
    ex_tls_free(&tls_config);
    ex_tls_free(&random_config);
#endif
}

/* The mechanisms --auth-file offers: SCRAM-SHA-256 and CRAM-MD5 too when the crypto is there
 * (mbedTLS; CRAM-MD5 when it has MD5). */
static void auth_settings(const sink_state *st, smtp_server_settings *ss)
{
    const smtp_crypto *k = st->auth.crypto;
    if (k == NULL) return;
    ss->crypto = k;
    ss->auth_mechanisms =
        k->hmac_md5 != NULL ? "SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN" : "SCRAM-SHA-256 PLAIN LOGIN";
}

int sink_make_scram(const char *user)
{
#ifdef SMTP_EXAMPLES_HAVE_TLS
    char pw[1024], err[512];
    if (fgets(pw, sizeof pw, stdin) == NULL) pw[0] = '\0';
    size_t n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "smtp-sink: --make-scram: no password on standard input\n");
        return EX_DATAERR;
    }
    int status = EX_OK;
    if (ex_tls_client_init(&random_config, NULL, 1, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "smtp-sink: random generator: %s\n", err);
        return EX_SOFTWARE;
    }
    smtp_tls_crypto(&crypto, random_config.cfg);
    if (ex_authfile_make_scram(stdout, user, pw, n, &crypto) != 0) {
        fprintf(stderr, "smtp-sink: --make-scram: the crypto failed\n");
        status = EX_SOFTWARE;
    }
    memset(pw, 0, sizeof pw);
    ex_tls_free(&random_config);
    return status;
#else
    (void)user;
    fprintf(stderr, "smtp-sink: --make-scram: this smtp-sink was built without mbedTLS\n");
    return EX_USAGE;
#endif
}

/*
 * Resident memory after a wave of connections (issue #19): each connection's engine and
 * buffers are freed when it closes, but glibc's malloc keeps freed memory for reuse (it returns
 * only a free top of its heap), so the sink's RSS stays at the wave's peak, about 4 KiB a
 * connection, and the next wave reuses it. Once every connection of a wave of more than 256 is
 * gone, the memory goes back to the system (malloc_trim): RSS falls back near its idle size.
 */
static void give_back(const sink_state *st, size_t *peak)
{
    size_t n = smtp_io_loop_connections(st->loop);
    if (n > *peak) *peak = n;
    if (n > 0 || *peak <= 256) return;
    *peak = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* One process's server: listens itself (w NULL), or serves a worker's sockets. */
static int serve(const sink_options *o, const ex_worker *w)
{
    sink_state st;
    memset(&st, 0, sizeof st);
    st.o = o;
    st.worker = w;
    int status = open_files(&st, o);
    if (status != EX_OK) return status;
    smtp_io_loop_settings ls;
    smtp_io_loop_settings_init(&ls);
    smtp_server_settings ss;
    smtp_server_settings_init(&ss);
    engine_settings(o, &ss);
    auth_settings(&st, &ss);
    ls.server = &ss;
    smtp_io_settings io;
    smtp_io_settings_init(&io);
    if (o->verbose) io.on_trace = on_trace;
    ls.io = &io;
    ls.on_accept = on_accept;
    ls.on_close = on_close;
    ls.user_data = &st;
    if (o->max_connections != 0) ls.max_connections = o->max_connections;
#ifdef SMTP_EXAMPLES_HAVE_TLS
    if (o->tls_cert != NULL) {
        io.tls_new = tls_new;
        io.implicit_tls = o->implicit_tls;
    }
#endif
    int rc = smtp_io_loop_new(&st.loop, &ls, NULL);
    if (rc != 0) {
        fprintf(stderr, "smtp-sink: cannot start: %s\n", smtp_error_text(rc));
        status = EX_SOFTWARE;
        goto out;
    }
    if (w != NULL) {
        for (size_t i = 0; i < w->nfds; i++) {
            if ((rc = smtp_io_loop_add_listener(st.loop, w->fds[i])) != 0) {
                fprintf(stderr, "smtp-sink: worker %zu: %s\n", w->index + 1, smtp_error_text(rc));
                status = EX_SOFTWARE;
                goto out;
            }
        }
    } else {
        smtp_io_status ios;
        int detail;
        if (smtp_io_loop_listen(st.loop, o->any_host ? NULL : o->host, o->port, &ios, &detail) <
            0) {
            char text[256];
            fprintf(stderr, "smtp-sink: cannot listen on %s port %s: %s\n",
                    o->any_host ? "*" : o->host, o->port,
                    smtp_io_status_text(ios, detail, text, sizeof text));
            status = EX_UNAVAILABLE;
            goto out;
        }
    }
    the_state = &st;
    ex_stop_on_signals(on_signal);
    if (w != NULL) { /* the parent blocked them until this handler was in place */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    } else {
        fprintf(stderr, "smtp-sink: listening on %s port %d\n", o->any_host ? "*" : o->host,
                smtp_io_loop_port(st.loop, 0));
    }
    size_t peak = 0;
    while ((rc = smtp_io_loop_run_once(st.loop, timers_wait(&st))) > 0) {
        timers_fire(&st);
        give_back(&st, &peak);
    }
    if (rc < 0) {
        fprintf(stderr, "smtp-sink: %s\n", smtp_error_text(rc));
        status = EX_SOFTWARE;
    } else if (w != NULL) {
        ex_worker_report(w, st.connections, st.messages);
    } else {
        fprintf(stderr, "smtp-sink: stopped after %llu connection(s), %llu message(s)\n",
                st.connections, st.messages);
    }
    the_state = NULL;
out:
    smtp_io_loop_del(st.loop);
    close_files(&st);
    return status;
}

static int serve_worker(const ex_worker *w, void *ud)
{
    return serve(ud, w);
}

int sink_run(const sink_options *o)
{
    if (o->workers <= 1) return serve(o, NULL);
    /* Every file checked once, before any worker starts. */
    sink_state st;
    memset(&st, 0, sizeof st);
    int status = open_files(&st, o);
    close_files(&st);
    if (status != EX_OK) return status;
    unsigned long long connections, messages;
    status = ex_workers_run(o->any_host ? NULL : o->host, o->port, o->workers, serve_worker,
                            (void *)o, &connections, &messages);
    if (status == EX_OK)
        fprintf(stderr, "smtp-sink: stopped after %llu connection(s), %llu message(s)\n",
                connections, messages);
    return status;
}
