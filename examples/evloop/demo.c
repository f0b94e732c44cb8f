/* SPDX-License-Identifier: MIT */
/* The application of the event-loop examples (demo.h). */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *prog;
    smtp_server_settings server;
    smtp_client_settings client;
    char *body; /* the message, and what the server received of it so far */
    size_t body_len, got_len;
    uint64_t got_hash; /* FNV-1a of what the server received: the test compares the client's */
    int stall, same, received, delivered;
#ifdef SMTP_EXAMPLE_TLS
    smtp_tls_config *server_tls, *client_tls;
#endif
} demo;

#define FNV_BASIS 14695981039346656037u

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    while (n--)
        h = (h ^ (unsigned char)*p++) * 1099511628211u;
    return h;
}

/* --stall: a greeting that is never decided (the client's timeout ends the session). */
static int on_connect(smtp_server *srv, void *user_data)
{
    (void)srv, (void)user_data;
    return demo.stall ? SMTP_SERVER_DEFER : 0;
}

/* The content arrives in pieces: each is compared with the message where it belongs. */
static int on_data(smtp_server *srv, smtp_span data, void *user_data)
{
    (void)srv, (void)user_data;
    if (demo.got_len + data.len > demo.body_len ||
        memcmp(demo.body + demo.got_len, data.ptr, data.len) != 0)
        demo.same = 0;
    demo.got_len += data.len;
    demo.got_hash = fnv1a(demo.got_hash, data.ptr, data.len);
    return 0;
}

/* With SMTP_SERVER_ENVELOPE the engine kept the envelope: sender and accepted recipients. */
static int on_message_end(smtp_server *srv, const smtp_server_message *msg, void *user_data)
{
    (void)user_data;
    printf("server: message from %.*s to", (int)msg->sender.path.len, msg->sender.path.ptr);
    for (size_t i = 0; i < msg->recipients; i++)
        printf(" %.*s", (int)msg->rcpts[i].path.len, msg->rcpts[i].path.ptr);
    printf(": %llu octets (FNV-1a %016llx)%s\n", (unsigned long long)msg->size,
           (unsigned long long)demo.got_hash, smtp_server_tls(srv) ? " over TLS" : "");
    demo.received = demo.same && msg->size == demo.body_len && demo.got_len == demo.body_len;
    demo.got_len = 0, demo.same = 1, demo.got_hash = FNV_BASIS; /* ready for another message */
    return 0;
}

static int on_message(smtp_client *cli, const smtp_client_result *res, void *user_data)
{
    (void)cli, (void)user_data;
    printf("client: %s, %zu accepted", smtp_client_status_name(res->status), res->accepted);
    if (res->reply)
        printf(": %d %.*s", res->reply->code, (int)res->reply->text.len, res->reply->text.ptr);
    printf("\n");
    demo.delivered = res->status == SMTP_CLIENT_DELIVERED;
    return 0;
}

static int on_session_end(smtp_client *cli, const smtp_client_session_result *res, void *user_data)
{
    (void)cli, (void)user_data;
    printf("client: session ended: %s", smtp_client_end_name(res->end));
    if (res->error) printf(" (%s)", smtp_error_text(res->error));
    printf("\n");
    return 0;
}

int demo_init(int argc, char **argv)
{
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    demo.prog = slash ? slash + 1 : argc > 0 ? argv[0] : "demo";
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, also into a file */
    demo.stall = argc > 2 && strcmp(argv[2], "--stall") == 0;
    int a = 2 + demo.stall;
    char *end;
    long port = argc > 1 ? strtol(argv[1], &end, 10) : -1;
    if ((argc != a && argc != a + 3) || port < 0 || port > 65535 || *end) {
        fprintf(stderr, "usage: %s PORT [--stall] [CERT KEY CA]\n", demo.prog);
        return -1;
    }
    smtp_server_settings_init(&demo.server);
    demo.server.flags = SMTP_SERVER_ENVELOPE; /* on_message_end gets the envelope */
    smtp_client_settings_init(&demo.client);
    demo.client.helo_name = "client.example.org";
    if (demo.stall) demo.client.timeout_greeting = 1000;
    if (argc == a + 3) {
#ifdef SMTP_EXAMPLE_TLS
        smtp_tls_settings ss, cs;
        smtp_tls_settings_init(&ss, SMTP_TLS_SERVER);
        smtp_tls_settings_init(&cs, SMTP_TLS_CLIENT); /* verification required */
        ss.cert_file = argv[a], ss.key_file = argv[a + 1], cs.ca_file = argv[a + 2];
        char why[256];
        if (smtp_tls_config_new(&demo.server_tls, &ss, NULL, why, sizeof why) < 0 ||
            smtp_tls_config_new(&demo.client_tls, &cs, NULL, why, sizeof why) < 0) {
            fprintf(stderr, "%s: %s\n", demo.prog, why);
            smtp_tls_config_del(demo.server_tls);
            return -1;
        }
        demo.server.extensions |= SMTP_SERVER_EXT_STARTTLS;
        demo.client.tls = SMTP_CLIENT_TLS_REQUIRED;
#else
        fprintf(stderr, "%s: libsmtp was built without mbedTLS: no STARTTLS\n", demo.prog);
        return -1;
#endif
    }
    /* About 300 kB: a header, then lines, every fifth one starting with a dot. */
    size_t cap = 300000 + 64;
    if (!(demo.body = malloc(cap))) return fprintf(stderr, "%s: out of memory\n", demo.prog), -1;
    demo.body_len = (size_t)snprintf(demo.body, cap, "Subject: %s\r\n\r\n", demo.prog);
    for (unsigned i = 0; demo.body_len < cap - 64; i++)
        demo.body_len += (size_t)snprintf(demo.body + demo.body_len, cap - demo.body_len,
                                          i % 5 ? "line %u of the message\r\n" : ".%u\r\n", i);
    demo.same = 1, demo.got_hash = FNV_BASIS;
    return (int)port;
}

int demo_server(smtp_server **srv, void *user_data)
{
    static const smtp_server_callbacks cb = {
        .on_connect = on_connect, .on_data = on_data, .on_message_end = on_message_end};
    int r = smtp_server_new(srv, &cb, &demo.server, NULL, user_data);
    return r < 0 ? r : smtp_server_start(*srv);
}

int demo_client(smtp_client **cli, void *user_data)
{
    static const smtp_client_callbacks cb = {.on_message = on_message,
                                             .on_session_end = on_session_end};
    static const smtp_client_rcpt to[] = {{"b@example.org", 0, NULL}, {"c@example.org", 0, NULL}};
    smtp_client_message m;
    smtp_client_message_init(&m);
    m.sender = "a@example.org", m.rcpts = to, m.nrcpts = 2;
    m.body = demo.body, m.body_len = demo.body_len;
    int r = smtp_client_new(cli, &cb, &demo.client, NULL, user_data);
    if (r == 0) r = smtp_client_submit(*cli, &m);
    if (r == 0) r = smtp_client_quit(*cli); /* once the message is done */
    if (r == 0)
        printf("client: sending %zu octets (FNV-1a %016llx)\n", demo.body_len,
               (unsigned long long)fnv1a(FNV_BASIS, demo.body, demo.body_len));
    return r;
}

int demo_starttls(demo_conn *c, int unsent, const char *kept, size_t kept_len)
{
#ifdef SMTP_EXAMPLE_TLS
    if (c->tls ||
        !(c->srv ? smtp_server_want_tls(c->srv) && !smtp_server_want_write(c->srv) && !unsent
                 : smtp_client_want_tls(c->cli)))
        return 0;
    if (c->cli && kept_len) { /* the engine reports the injection (SMTP_ERR_PROTO) */
        smtp_ssize n = smtp_client_read(c->cli, kept, kept_len);
        fprintf(stderr, "client: after STARTTLS: %s\n",
                smtp_error_text(n < 0 ? (int)n : SMTP_ERR_PROTO));
        return -1;
    }
    int r = c->srv ? smtp_tls_new(&c->tls, demo.server_tls, NULL, NULL)
                   : smtp_tls_new(&c->tls, demo.client_tls, "localhost", NULL);
    if (r == 0) return 1;
    fprintf(stderr, "%s: TLS: %s\n", WHO(c), smtp_error_text(r));
    (void)ENG(c, tls_done, 0); /* the engine closes (the client: END_TLS_FAILED) */
#else
    (void)c, (void)unsent, (void)kept, (void)kept_len;
#endif
    return 0;
}

int demo_tls_input(demo_conn *c, const char *data, size_t len, size_t *taken)
{
    *taken = 0;
#ifdef SMTP_EXAMPLE_TLS
    if (!c->tls || c->eof_given) return 0;
    smtp_ssize k = smtp_tls_feed(c->tls, data, len), n = 0;
    *taken = k > 0 ? (size_t)k : 0;
    smtp_tls_state st = smtp_tls_get_state(c->tls);
    if (st == SMTP_TLS_OPEN && !c->tls_open) { /* the engine goes on over TLS, from scratch */
        c->tls_open = 1;
        printf("%s: %s, %s\n", WHO(c), smtp_tls_version(c->tls), smtp_tls_ciphersuite(c->tls));
        return ENG(c, tls_done, 1) < 0 ? -1 : 1;
    }
    if (c->tls_open && !c->in_len && (n = smtp_tls_read(c->tls, c->in, sizeof c->in)) > 0)
        c->in_len = (size_t)n;
    if (n < 0 || (st >= SMTP_TLS_CLOSED && !c->in_len)) { /* the end: clean or not */
        if (!c->eof && smtp_tls_get_state(c->tls) == SMTP_TLS_FAILED)
            fprintf(stderr, "%s: TLS: %s\n", WHO(c), smtp_tls_error(c->tls));
        if (!c->tls_open) (void)ENG(c, tls_done, 0);
        c->eof = 1;
    }
    return k > 0 || n > 0;
#else
    (void)c, (void)data, (void)len;
    return 0;
#endif
}

void demo_tls_eof(demo_conn *c)
{
#ifdef SMTP_EXAMPLE_TLS
    if (c->tls) (void)smtp_tls_feed_eof(c->tls);
#endif
    (void)c;
}

smtp_ssize demo_pull(demo_conn *c, char *out, size_t cap)
{
#ifdef SMTP_EXAMPLE_TLS
    if (c->tls) { /* a session may take less than it is given: pend keeps the rest */
        smtp_ssize n = c->tls_open && !c->pend_len ? ENG(c, write, c->pend, sizeof c->pend) : 0;
        if (n < 0) return n;
        c->pend_len += (size_t)n;
        if ((n = c->pend_len ? smtp_tls_write(c->tls, c->pend, c->pend_len) : 0) < 0) return n;
        memmove(c->pend, c->pend + n, c->pend_len -= (size_t)n);
        return smtp_tls_pull(c->tls, out, cap);
    }
#endif
    return ENG(c, write, out, cap);
}

smtp_ssize demo_tls_close(demo_conn *c, char *out, size_t cap)
{
#ifdef SMTP_EXAMPLE_TLS
    if (c->tls_open && smtp_tls_close(c->tls) == 0) return smtp_tls_pull(c->tls, out, cap);
#endif
    (void)c, (void)out, (void)cap;
    return 0;
}

void demo_conn_free(demo_conn *c)
{
    smtp_server_del(c->srv);
    smtp_client_del(c->cli);
#ifdef SMTP_EXAMPLE_TLS
    smtp_tls_del(c->tls);
#endif
}

int demo_finish(int failed)
{
    int ok = demo.delivered && demo.received && !failed;
    printf("%s: %s\n", demo.prog,
           ok                ? "delivered and received whole"
           : !demo.delivered ? "FAILED: not delivered"
                             : "FAILED: not received whole");
    free(demo.body);
#ifdef SMTP_EXAMPLE_TLS
    smtp_tls_config_del(demo.server_tls);
    smtp_tls_config_del(demo.client_tls);
#endif
    return ok ? 0 : 1;
}
