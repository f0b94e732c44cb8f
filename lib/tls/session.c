/* SPDX-License-Identifier: MIT */
/*
 * A TLS session as a byte-stream filter (smtp_tls). mbedTLS does the protocol; it talks to the
 * network through two in-memory callbacks set with mbedtls_ssl_set_bio:
 *   bio_recv  gives mbedTLS the ciphertext fed so far (smtp_tls_feed) from the in queue, or
 *             MBEDTLS_ERR_SSL_WANT_READ when the queue is empty (0, end of stream, after
 *             smtp_tls_feed_eof);
 *   bio_send  appends mbedTLS's records to the out queue (pulled by smtp_tls_pull), or answers
 *             MBEDTLS_ERR_SSL_WANT_WRITE when the queue is full.
 * Both queues are allocated once with the session; nothing here allocates later.
 *
 * The handshake needs no call of its own: feed, pull, read and write advance it when it is in
 * progress, so the caller just moves bytes until smtp_tls_get_state says OPEN or FAILED.
 *
 * The one trap is a short send. When bio_send takes fewer bytes than offered, mbedTLS keeps
 * the rest of the record and, on its next mbedtls_ssl_write, only flushes it and returns the
 * length it was given, as if the new data had been sent (it expects the same arguments
 * again). So `out_blocked` records whether the last send was short (then mbedTLS holds
 * unsent bytes), and: pull flushes them as soon as it makes room (mbedtls_ssl_write of 0
 * bytes, or the handshake step, which flushes first); write flushes before new data and hands
 * mbedTLS no more than fits in the out queue with a record's overhead, so that a record is
 * never left half-sent with its data counted twice or lost.
 *
 * With DANE (smtp_tls_set_dane, dane.c) the session runs on the config's second mbedTLS
 * configuration, whose verification is OPTIONAL: verify_callback drops what mbedTLS thinks of
 * the chain at every depth and, at the leaf (its last call), hands the chain the server sent
 * to the DANE check; a failure there is the callback's error, which ends the handshake in
 * every mode. The end of the handshake checks the outcome once more.
 */
#include "tls_internal.h"

#include <mbedtls/asn1.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A byte queue over a fixed buffer: bytes [start, start + len) are waiting. */
typedef struct tls_queue {
    unsigned char *buf;
    size_t cap, start, len;
} tls_queue;

/* Room reserved beyond a record's overhead in the out queue for an alert mbedTLS may add. */
#define TLS_ALERT_ROOM 64
/* The overhead assumed when mbedTLS cannot tell it (mbedtls_ssl_get_record_expansion). */
#define TLS_MAX_EXPANSION 512

struct smtp_tls {
    mbedtls_ssl_context ssl;
    smtp_tls_config *cfg;
    smtp_mem mem;
    smtp_tls_state state;
    int err;          /* the sticky SMTP_ERR_* once FAILED */
    int mbed_err;     /* the mbedTLS code of the failure */
    int eof;          /* smtp_tls_feed_eof was called */
    int out_blocked;  /* the last bio_send was short: mbedTLS holds unsent bytes */
    int close_wanted; /* smtp_tls_close was called */
    int close_sent;   /* the close_notify alert was handed to mbedTLS */
    int verified;     /* mbedTLS checked a peer certificate (verify_callback ran) */
    int stepped;      /* the handshake took a step (a client's ClientHello is made then) */
    size_t ip_len;    /* the host is an IP literal of 4 or 16 octets (ip), else 0 */
    unsigned char ip[16];
    char host[256];   /* the host as given (for the messages about an IP literal) */
    char *last_words; /* smtp_tls_keep_failure: where smtp_tls_del leaves the failure text */
    size_t last_words_cap;
    smtp_client *report; /* smtp_tls_io_filter_report: told the verification once OPEN */
    tls_dane *dane;      /* smtp_tls_set_dane: the records, then the outcome; NULL: none */
    tls_queue in, out;
#if defined(SMTP_TLS_LEND_TABLE)
    tls_lender lender; /* what tls_rng lends to during a handshake step (ecdhe_table.c) */
#endif
    char error[320];
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Appends up to n bytes; returns how many fit. Moves the waiting bytes to the front first
 * when the tail has no room. */
static size_t queue_push(tls_queue *q, const void *data, size_t n)
{
    n = min_size(n, q->cap - q->len);
    if (n == 0) return 0;
    if (q->start + q->len + n > q->cap) {
        memmove(q->buf, q->buf + q->start, q->len);
        q->start = 0;
    }
    memcpy(q->buf + q->start + q->len, data, n);
    q->len += n;
    return n;
}

/* Removes up to n bytes into dest; returns how many. */
static size_t queue_pop(tls_queue *q, void *dest, size_t n)
{
    n = min_size(n, q->len);
    if (n == 0) return 0;
    memcpy(dest, q->buf + q->start, n);
    q->start += n;
    q->len -= n;
    if (q->len == 0) q->start = 0;
    return n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    smtp_tls *tls = ctx;
    if (tls->in.len == 0) return tls->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    return (int)queue_pop(&tls->in, buf, min_size(len, INT_MAX));
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    smtp_tls *tls = ctx;
    if (len == 0) return 0;
    size_t n = queue_push(&tls->out, buf, min_size(len, INT_MAX));
    /* mbedTLS always offers all it holds, so a full take means it holds nothing more. */
    tls->out_blocked = n < len;
    return n == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)n;
}

/*
 * The address of an IP literal host: "192.0.2.1", "2001:db8::1", or in brackets as SMTP writes
 * address literals (RFC 5321 4.1.3): "[192.0.2.1]", "[IPv6:2001:db8::1]" (and "[2001:db8::1]").
 * Writes the 4 or 16 octets to addr; returns their number, or 0 for a host name.
 */
static size_t ip_literal(const char *host, unsigned char addr[16])
{
    char text[256];
    size_t n = strlen(host);
    int v6_only = 0;
    if (n >= sizeof text) return 0;
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']') return 0;
        host++;
        n -= 2;
        static const char tag[] = "ipv6:";
        size_t i = 0;
        while (i < 5 && i < n && (host[i] | 0x20) == tag[i])
            i++;
        if (i == 5) {
            host += 5;
            n -= 5;
            v6_only = 1;
        }
    }
    memcpy(text, host, n);
    text[n] = '\0';
    if (!v6_only && inet_pton(AF_INET, text, addr) == 1) return 4;
    if (inet_pton(AF_INET6, text, addr) == 1) return 16;
    return 0;
}

/*
 * 1 when the certificate names the address in an iPAddress subjectAltName (RFC 5280 4.2.1.6:
 * [7] OCTET STRING of 4 or 16 octets), compared as binary. mbedTLS keeps every SAN entry, the
 * types it cannot parse too (2.28 knows only dNSName and otherName), in subject_alt_names:
 * the tag byte and the contents, which the parser bounded.
 */
static int crt_names_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
    const int ip_tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next) {
        if (s->buf.p != NULL && s->buf.tag == ip_tag && s->buf.len == len &&
            memcmp(s->buf.p, ip, len) == 0)
            return 1;
    }
    return 0;
}

/*
 * Notes that mbedTLS checked a peer certificate. For an IP literal host, whose name mbedTLS was
 * not given, checks the leaf's iPAddress names and marks a mismatch as mbedTLS marks a host
 * name that does not match (BADCERT_CN_MISMATCH): with VERIFY_REQUIRED the handshake fails.
 */
static int verify_callback(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    smtp_tls *tls = ctx;
    tls->verified = 1;
    if (tls->dane) {
        /* RFC 7672 3: the TLSA records alone decide, whatever certificate authorities say. */
        *flags = 0;
        if (depth != 0) return 0;
        return tls_dane_check(tls->dane, crt) == 0 ? 0 : MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    }
    if (depth == 0 && tls->ip_len > 0 && !crt_names_ip(crt, tls->ip, tls->ip_len))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

/* Writes the problems in flags to buf, as smtp_tls_flags_text, but for an IP literal says that
 * the address is missing instead of mbedTLS's words about the Common Name. */
static size_t problems_text(const smtp_tls *tls, char *buf, size_t cap, uint32_t flags)
{
    if (tls->ip_len == 0 || !(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH))
        return smtp_tls_flags_text(buf, cap, flags);
    size_t n = smtp_tls_flags_text(buf, cap, flags & ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH);
    if (n + 1 < cap)
        snprintf(buf + n, cap - n, "%sThe certificate names no IP address %.64s (iPAddress)",
                 n > 0 ? "; " : "", tls->host);
    n = strlen(buf);
    return n;
}

/* Writes "DANE authentication failed: " and DANE's outcome to buf[0..cap), cap > 0; returns the
 * length written. */
static size_t dane_failure_text(const smtp_tls *tls, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "DANE authentication failed: ");
    size_t used = n < 0 ? 0 : min_size((size_t)n, cap - 1);
    return used + tls_dane_text(tls->dane, buf + used, cap - used);
}

/* Makes the session FAILED with mbedTLS's reason; returns the sticky error. */
static int tls_fail(smtp_tls *tls, int mbedtls_err, const char *what)
{
    if (tls->dane && tls_dane_failed(tls->dane)) {
        /* DANE turned the chain down: a certificate that did not verify, in DANE's words (the
         * callback's error reached mbedTLS as a fatal one). */
        tls->state = SMTP_TLS_FAILED;
        tls->mbed_err = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
        tls->err = SMTP_ERR_PROTO;
        size_t n = (size_t)snprintf(tls->error, sizeof tls->error, "%s: ", what);
        if (n < sizeof tls->error) dane_failure_text(tls, tls->error + n, sizeof tls->error - n);
        return tls->err;
    }
    tls->state = SMTP_TLS_FAILED;
    tls->mbed_err = mbedtls_err;
    tls->err = smtp_tls_map_error(mbedtls_err);
    smtp_tls_describe(tls->error, sizeof tls->error, what, mbedtls_err);
    if (mbedtls_err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        size_t used = strlen(tls->error);
        char problems[240];
        problems_text(tls, problems, sizeof problems, mbedtls_ssl_get_verify_result(&tls->ssl));
        if (used + 4 < sizeof tls->error)
            snprintf(tls->error + used, sizeof tls->error - used, " [%s]", problems);
    }
    return tls->err;
}

static int is_retry(int ret)
{
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return 1;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    /* 3.x with TLS 1.3: a ticket arrived; we keep no session cache, so just go on. */
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) return 1;
#endif
    return 0;
}

/* Advances a handshake in progress as far as the queued bytes allow. */
static void drive_handshake(smtp_tls *tls)
{
    if (tls->state != SMTP_TLS_HANDSHAKE) return;
    tls->stepped = 1;
#if defined(SMTP_TLS_LEND_TABLE)
    tls_lender_enter(&tls->lender);
    int ret = mbedtls_ssl_handshake(&tls->ssl);
    tls_lender_leave();
#else
    int ret = mbedtls_ssl_handshake(&tls->ssl);
#endif
    if (ret == 0 && tls->dane && tls_dane_finish(tls->dane) != 0) {
        /* Not expected (the callback fails the handshake first), but no DANE, no session. */
        (void)mbedtls_ssl_send_alert_message(&tls->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                             MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
        tls_fail(tls, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "handshake");
    } else if (ret == 0) {
        tls->state = SMTP_TLS_OPEN;
    } else if (!is_retry(ret)) {
        tls_fail(tls, ret, "handshake");
    }
}

/* Lets mbedTLS hand over the bytes it holds after a short send, then a wanted close_notify. */
static void flush_pending(smtp_tls *tls)
{
    if (tls->state == SMTP_TLS_FAILED) return;
    if (tls->state == SMTP_TLS_HANDSHAKE) {
        drive_handshake(tls); /* every handshake step flushes first */
        return;
    }
    if (tls->out_blocked) {
        /* With bytes held, mbedtls_ssl_write only flushes them (see the top of this file). */
        static const unsigned char none[1] = {0};
        int ret = mbedtls_ssl_write(&tls->ssl, none, 0);
        if (ret < 0 && !is_retry(ret)) {
            tls_fail(tls, ret, "write");
            return;
        }
    }
    if (!tls->out_blocked && tls->close_wanted && !tls->close_sent) {
        tls->close_sent = 1;
        int ret = mbedtls_ssl_close_notify(&tls->ssl);
        if (ret < 0 && !is_retry(ret)) tls_fail(tls, ret, "close_notify");
    }
}

void smtp_tls_keep_failure(smtp_tls *tls, char *buf, size_t cap)
{
    tls->last_words = buf;
    tls->last_words_cap = cap;
}

void smtp_tls_set_report(smtp_tls *tls, smtp_client *cli)
{
    tls->report = cli;
}

smtp_client *smtp_tls_take_report(smtp_tls *tls)
{
    smtp_client *cli = tls->report;
    tls->report = NULL;
    return cli;
}

void smtp_tls_del(smtp_tls *tls)
{
    if (!tls) return;
    if (tls->last_words && tls->last_words_cap > 0 && tls->state == SMTP_TLS_FAILED)
        (void)smtp_tls_failure_text(tls, tls->last_words, tls->last_words_cap);
    mbedtls_ssl_free(&tls->ssl);
    tls_dane_del(tls->dane);
    smtp_mem mem = tls->mem;
    mem.free(tls, mem.user_data);
}

static int host_ok(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c < 0x21 || c == 0x7f) return 0;
    }
    return 1;
}

/* Sets up mbedTLS's side of the session on `conf`: the host name when `named` (NULL: none to
 * check), then the byte queues and the verify callback. Returns an mbedTLS code. */
static int ssl_start(smtp_tls *tls, const mbedtls_ssl_config *conf, int named, const char *name)
{
    mbedtls_ssl_init(&tls->ssl);
    int ret = mbedtls_ssl_setup(&tls->ssl, conf);
    if (ret == 0 && named) ret = mbedtls_ssl_set_hostname(&tls->ssl, name);
    if (ret != 0) return ret;
    mbedtls_ssl_set_bio(&tls->ssl, tls, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_verify(&tls->ssl, verify_callback, tls);
    return 0;
}

int smtp_tls_new(smtp_tls **ps, smtp_tls_config *cfg, const char *host, const smtp_mem *mem)
{
    if (ps) *ps = NULL;
    if (!ps || !cfg) return SMTP_ERR_INVALID_ARGUMENT;
    if (cfg->role == SMTP_TLS_SERVER ? host != NULL
                                     : (!host && cfg->verify != SMTP_TLS_VERIFY_NONE))
        return SMTP_ERR_INVALID_ARGUMENT;
    if (host && !host_ok(host)) return SMTP_ERR_INVALID_ARGUMENT;
    if (!mem) mem = &cfg->mem;
    /* One block: the session, then the in and out buffers. */
    smtp_tls *tls = mem->calloc(1, sizeof *tls + cfg->in_buffer + cfg->out_buffer, mem->user_data);
    if (!tls) return SMTP_ERR_NOMEM;
    tls->cfg = cfg;
    tls->mem = *mem;
    tls->in.buf = (unsigned char *)(tls + 1);
    tls->in.cap = cfg->in_buffer;
    tls->out.buf = tls->in.buf + cfg->in_buffer;
    tls->out.cap = cfg->out_buffer;
#if defined(SMTP_TLS_LEND_TABLE)
    tls->lender.cfg = cfg;
    tls->lender.ssl = &tls->ssl;
#endif
    if (host) {
        snprintf(tls->host, sizeof tls->host, "%s", host);
        tls->ip_len = ip_literal(host, tls->ip);
    }
    /* A host name is the SNI and the name the certificate must carry (RFC 6125). An IP
     * literal is no SNI (RFC 6066 3): mbedTLS gets no name (NULL: 3.6 then knows that no name
     * check was meant) and verify_callback checks the iPAddress names. */
    int ret = ssl_start(tls, &cfg->conf, host != NULL, tls->ip_len ? NULL : host);
    if (ret != 0) {
        smtp_tls_del(tls);
        return smtp_tls_map_error(ret) == SMTP_ERR_NOMEM ? SMTP_ERR_NOMEM
                                                         : SMTP_ERR_INVALID_ARGUMENT;
    }
    *ps = tls;
    return 0;
}

/* The size of each version of smtp_tls_dane (common.h: versioned structs); 0: unknown. */
static size_t dane_size(int version)
{
    return version == 1 ? sizeof(smtp_tls_dane) : 0;
}

int smtp_tls_set_dane_versioned(smtp_tls *tls, int version, const smtp_tls_dane *dane_in)
{
    if (!tls || !dane_in || !dane_size(version) || tls->cfg->role != SMTP_TLS_CLIENT)
        return SMTP_ERR_INVALID_ARGUMENT;
    if (tls->state != SMTP_TLS_HANDSHAKE || tls->stepped) return SMTP_ERR_INVALID_STATE;
    smtp_tls_dane in;
    smtp_tls_dane_init(&in);
    memcpy(&in, dane_in, dane_size(version));
    tls_dane *d;
    int rc = tls_dane_new(&d, &in, tls->ip_len == 0 && tls->host[0] ? tls->host : NULL, &tls->mem);
    if (rc != 0) return rc;
    /* The handshake has not begun: mbedTLS's side is made anew on the DANE configuration,
     * with the TLSA base domain as SNI (RFC 7672 8.1; tls_dane_new checked it). */
    mbedtls_ssl_free(&tls->ssl);
    int ret = ssl_start(tls, &tls->cfg->dane_conf, 1, tls_dane_sni(d));
    if (ret != 0) {
        tls_dane_del(d);
        tls_fail(tls, ret, "DANE setup");
        return tls->err;
    }
    tls_dane_del(tls->dane);
    tls->dane = d;
    return 0;
}

smtp_tls_dane_status smtp_tls_dane_result(const smtp_tls *tls, size_t *index, uint8_t *usage)
{
    if (index) *index = SIZE_MAX;
    if (usage) *usage = 0;
    if (!tls || !tls->dane) return SMTP_TLS_DANE_OFF;
    return tls_dane_status(tls->dane, index, usage);
}

smtp_ssize smtp_tls_feed(smtp_tls *tls, const char *data, size_t len)
{
    if (!tls || (!data && len > 0)) return SMTP_ERR_INVALID_ARGUMENT;
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    if (tls->eof) return SMTP_ERR_INVALID_STATE;
    /* After close_notify the peer has nothing more to say (RFC 5246 7.2.1): drop the rest. */
    if (tls->state == SMTP_TLS_CLOSED) return (smtp_ssize)len;
    size_t n = queue_push(&tls->in, data, len);
    drive_handshake(tls);
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    return (smtp_ssize)n;
}

int smtp_tls_feed_eof(smtp_tls *tls)
{
    if (!tls) return SMTP_ERR_INVALID_ARGUMENT;
    tls->eof = 1;
    drive_handshake(tls);
    return tls->state == SMTP_TLS_FAILED ? tls->err : 0;
}

smtp_ssize smtp_tls_pull(smtp_tls *tls, char *dest, size_t cap)
{
    if (!tls || (!dest && cap > 0)) return SMTP_ERR_INVALID_ARGUMENT;
    flush_pending(tls);
    size_t n = 0;
    while (n < cap && tls->out.len > 0) {
        n += queue_pop(&tls->out, dest + n, cap - n);
        if (tls->out_blocked || tls->close_wanted) flush_pending(tls);
    }
    return (smtp_ssize)n;
}

/* How many plaintext bytes one mbedtls_ssl_write may take so that its record fits whole. */
static size_t write_room(smtp_tls *tls)
{
    int expansion = mbedtls_ssl_get_record_expansion(&tls->ssl);
    int payload = mbedtls_ssl_get_max_out_record_payload(&tls->ssl);
    size_t overhead = (expansion > 0 ? (size_t)expansion : TLS_MAX_EXPANSION) + TLS_ALERT_ROOM;
    size_t free_room = tls->out.cap - tls->out.len;
    if (payload <= 0 || free_room <= overhead) return 0;
    return min_size(free_room - overhead, (size_t)payload);
}

smtp_ssize smtp_tls_write(smtp_tls *tls, const char *data, size_t len)
{
    if (!tls || (!data && len > 0)) return SMTP_ERR_INVALID_ARGUMENT;
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    if (tls->close_wanted) return SMTP_ERR_INVALID_STATE;
    drive_handshake(tls);
    flush_pending(tls);
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    if (tls->state == SMTP_TLS_HANDSHAKE || tls->out_blocked) return 0;
    size_t taken = 0;
    while (taken < len) {
        size_t chunk = min_size(len - taken, write_room(tls));
        if (chunk == 0) break;
        int ret = mbedtls_ssl_write(&tls->ssl, (const unsigned char *)data + taken, chunk);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE && tls->out_blocked) {
            /* Not expected (the record fitted), but if so the record holds all of chunk. */
            taken += chunk;
            break;
        }
        if (is_retry(ret)) break;
        if (ret < 0) return tls_fail(tls, ret, "write");
        taken += (size_t)ret;
    }
    return (smtp_ssize)taken;
}

smtp_ssize smtp_tls_read(smtp_tls *tls, char *dest, size_t cap)
{
    if (!tls || (!dest && cap > 0)) return SMTP_ERR_INVALID_ARGUMENT;
    drive_handshake(tls);
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    if (tls->state != SMTP_TLS_OPEN || cap == 0) return 0;
    for (;;) {
        int ret = mbedtls_ssl_read(&tls->ssl, (unsigned char *)dest, min_size(cap, INT_MAX));
        if (ret > 0) return ret;
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            tls->state = SMTP_TLS_CLOSED;
            return 0;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) return 0;
        if (is_retry(ret)) continue;
        /* 0 or CONN_EOF: the stream ended (smtp_tls_feed_eof) without close_notify. */
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
            return tls_fail(tls, MBEDTLS_ERR_SSL_CONN_EOF, "read: truncated, no close_notify");
        return tls_fail(tls, ret, "read");
    }
}

int smtp_tls_close(smtp_tls *tls)
{
    if (!tls) return SMTP_ERR_INVALID_ARGUMENT;
    if (tls->state == SMTP_TLS_FAILED) return tls->err;
    if (tls->state == SMTP_TLS_HANDSHAKE) return SMTP_ERR_INVALID_STATE;
    tls->close_wanted = 1;
    flush_pending(tls);
    return tls->state == SMTP_TLS_FAILED ? tls->err : 0;
}

smtp_tls_state smtp_tls_get_state(const smtp_tls *tls)
{
    return tls ? tls->state : SMTP_TLS_FAILED;
}

int smtp_tls_want_pull(const smtp_tls *tls)
{
    if (!tls) return 0;
    if (tls->out.len > 0) return 1;
    /* a new client speaks first: its first pull makes and gives the ClientHello */
    if (tls->state == SMTP_TLS_HANDSHAKE && !tls->stepped && tls->cfg->role == SMTP_TLS_CLIENT)
        return 1;
    return tls->state != SMTP_TLS_FAILED &&
           (tls->out_blocked || (tls->close_wanted && !tls->close_sent));
}

int smtp_tls_want_feed(const smtp_tls *tls)
{
    if (!tls || tls->eof) return 0;
    if (tls->state != SMTP_TLS_HANDSHAKE && tls->state != SMTP_TLS_OPEN) return 0;
    return tls->in.len < tls->in.cap;
}

const char *smtp_tls_error(const smtp_tls *tls)
{
    if (!tls) return "no session";
    return tls->state == SMTP_TLS_FAILED ? tls->error : "";
}

int smtp_tls_error_code(const smtp_tls *tls)
{
    return tls && tls->state == SMTP_TLS_FAILED ? tls->mbed_err : 0;
}

mbedtls_ssl_context *tls_ssl(smtp_tls *tls)
{
    return &tls->ssl;
}

unsigned tls_tables_lent(const smtp_tls *tls)
{
#if defined(SMTP_TLS_LEND_TABLE)
    return tls->lender.lent;
#else
    (void)tls;
    return 0;
#endif
}

static int handshake_done(const smtp_tls *tls)
{
    return tls && (tls->state == SMTP_TLS_OPEN || tls->state == SMTP_TLS_CLOSED);
}

const char *smtp_tls_version(const smtp_tls *tls)
{
    return handshake_done(tls) ? mbedtls_ssl_get_version(&tls->ssl) : NULL;
}

const char *smtp_tls_ciphersuite(const smtp_tls *tls)
{
    return handshake_done(tls) ? mbedtls_ssl_get_ciphersuite(&tls->ssl) : NULL;
}

uint32_t smtp_tls_verify_result(const smtp_tls *tls)
{
    /* Before a certificate was checked mbedTLS may report 0 ("verified"): trust the flag. */
    if (!tls || !tls->verified) return SMTP_TLS_VERIFY_UNAVAILABLE;
    if (tls->dane) return tls_dane_flags(tls->dane);
    return mbedtls_ssl_get_verify_result(&tls->ssl);
}

int smtp_tls_verify_text(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    if (tls->dane) return (int)tls_dane_text(tls->dane, buf, cap);
    uint32_t flags = smtp_tls_verify_result(tls);
    if (flags == 0 || flags == SMTP_TLS_VERIFY_UNAVAILABLE) {
        int n = snprintf(buf, cap, "%s", flags == 0 ? "verified" : "not verified");
        return n < 0 ? 0 : (int)min_size((size_t)n, cap - 1);
    }
    return (int)problems_text(tls, buf, cap, flags);
}

int smtp_tls_peer_subject(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    if (!handshake_done(tls)) return 0;
    /* mbedTLS keeps the peer's certificate with MBEDTLS_SSL_KEEP_PEER_CERTIFICATE (default). */
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&tls->ssl);
    if (!peer) return 0;
    int n = mbedtls_x509_dn_gets(buf, cap, &peer->subject);
    if (n < 0) { /* too small: mbedTLS left nothing usable */
        buf[0] = '\0';
        return 0;
    }
    return n;
}

int smtp_tls_verify_failed(const smtp_tls *tls)
{
    return tls != NULL && tls->state == SMTP_TLS_FAILED &&
           tls->mbed_err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
}

/* The peer's certificate once the handshake is done, else NULL. mbedTLS keeps it with
 * MBEDTLS_SSL_KEEP_PEER_CERTIFICATE (the default). */
static const mbedtls_x509_crt *peer_cert(const smtp_tls *tls)
{
    return handshake_done(tls) ? mbedtls_ssl_get_peer_cert(&tls->ssl) : NULL;
}

int smtp_tls_peer_issuer(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    const mbedtls_x509_crt *peer = peer_cert(tls);
    if (!peer) return 0;
    int n = mbedtls_x509_dn_gets(buf, cap, &peer->issuer);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return n;
}

/* Writes a certificate time as "YYYY-MM-DDThh:mm:ssZ" (X.509 times are UTC, RFC 5280 4.1.2.5). */
static int time_text(const mbedtls_x509_time *t, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", t->year, t->mon, t->day, t->hour,
                     t->min, t->sec);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return n;
}

int smtp_tls_peer_not_before(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    const mbedtls_x509_crt *peer = peer_cert(tls);
    return peer ? time_text(&peer->valid_from, buf, cap) : 0;
}

int smtp_tls_peer_not_after(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    const mbedtls_x509_crt *peer = peer_cert(tls);
    return peer ? time_text(&peer->valid_to, buf, cap) : 0;
}

int smtp_tls_failure_text(const smtp_tls *tls, char *buf, size_t cap)
{
    if (!tls || !buf || cap == 0) return SMTP_ERR_INVALID_ARGUMENT;
    int n;
    if (smtp_tls_verify_failed(tls) && tls->dane) {
        n = (int)dane_failure_text(tls, buf, cap);
    } else if (smtp_tls_verify_failed(tls)) {
        char why[240];
        problems_text(tls, why, sizeof why, mbedtls_ssl_get_verify_result(&tls->ssl));
        n = snprintf(buf, cap, "certificate verification failed: %s", why);
    } else {
        n = snprintf(buf, cap, "%s", smtp_tls_error(tls));
    }
    return n < 0 ? 0 : (int)min_size((size_t)n, cap - 1);
}
