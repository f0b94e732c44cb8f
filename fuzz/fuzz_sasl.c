/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the server engine's built-in SASL mechanisms (lib/server_sasl.c: CRAM-MD5,
 * SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, EXTERNAL), a whole smtp_server session fed a hostile
 * client, with the reference crypto of tests/tls/refcrypto.h (its random fixed: RFC 7677's
 * server nonce, so that a seed can hold a whole valid SCRAM exchange).
 *
 * The accounts: "user" has the SCRAM-SHA-256 credentials of "pencil" (RFC 7677's salt, 4096
 * iterations), "tim" the CRAM-MD5 password "tanstaaftanstaaf", "temp" a lookup failing for
 * now (454); anyone else is unknown. Tokens: "good" is accepted, anything else refused.
 *
 * Checked here, besides no crash, no over-read and no undefined behaviour:
 *  - the same event log and output fed whole and split at input-chosen points (the lookups
 *    and token decisions answered at once or after the read, as the input says);
 *  - the output is CRLF lines without NUL;
 *  - SCRAM's proof check, seen through the crypto hook: the engine hashes the ClientKey it
 *    recovers (ClientProof XOR ClientSignature); it proves itself ("334 v=...") exactly as many
 *    times as that ClientKey was the true one of a known account, and signs only AuthMessages
 *    that begin with "n=" and hold the server nonce;
 *  - an authenticated identity only after a right proof: SCRAM's is "user" or the authzid its
 *    lookup saw, with a right ClientKey seen; CRAM-MD5's is "tim", its digest computed under the
 *    right password; a token's is what on_auth_token accepted;
 *  - what on_auth_token gets is what the header documents: an authzid of UTF-8-safe octets
 *    without control bytes, at most 255; a token without SP or control bytes, not empty but for
 *    EXTERNAL; XOAUTH2's user not empty;
 *  - no leak, and no allocation beyond a small budget after smtp_server_new.
 * FUZZ_TRACE=1 in the environment prints the event log of each run.
 * Input layout: byte 0 flags (1 defer the lookups, 2 defer the token decisions, 4 TLS, so that
 * EXTERNAL is offered, 8 max_auth_line 512), byte 1 the split seed; the rest is the client's
 * stream.
 */
#include "../tests/tls/refcrypto.h"
#include "../tests/tls/sasl_server.h"
#include "fuzz_common.h"

#include <smtp/codec.h>
#include <smtp/server.h>

#define HEADER 2

/* RFC 7677 3's server nonce "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", as the engine's random octets. */
static const unsigned char nonce_bytes[30] = {4,  70, 84, 55, 34, 78, 53, 51, 63, 16,
                                              48, 63, 50, 33, 31, 68, 83, 86, 36, 39,
                                              74, 72, 8,  70, 44, 74, 36, 3,  73, 14};
static const char nonce_text[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

static smtp_server_scram pencil;            /* "user" */
static unsigned char pencil_client_key[32]; /* its ClientKey: what a right proof gives back */

enum { M_NONE, M_SCRAM, M_CRAM, M_TOKEN };

struct run {
    smtp_server *srv;
    struct fmem fm;
    struct flog ev, out;
    smtp_crypto crypto; /* the engine's: the reference functions, wrapped to watch them */
    struct ref_crypto_state cs;
    unsigned flags;
    int failed;
    /* Deferred answers, given once the read returned. */
    int pending; /* M_* of the decision pending, or M_NONE */
    int pending_known;
    /* What the crypto hook saw. */
    int mech, known;   /* the last exchange's mechanism and whether its user is known */
    char authzid[256]; /* SCRAM: the authzid its lookup saw */
    size_t authzid_len;
    int right_keys;     /* ClientKeys recovered right for a known account */
    int right_key_seen; /* in the current exchange */
    int cram_real_key;  /* the last CRAM-MD5 digest was computed under the real key */
    int token_accepted;
    char token_identity[256];
};

static struct run *cur; /* the run the crypto wrappers report to */

static int w_hmac_md5(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                      unsigned char *out, void *ctx)
{
    cur->cram_real_key = keylen == 16 && memcmp(key, "tanstaaftanstaaf", 16) == 0;
    return ref_hmac_md5(key, keylen, msg, len, out, ctx);
}

static int w_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg,
                         size_t len, unsigned char *out, void *ctx)
{
    /* The ClientSignature and ServerSignature: over an AuthMessage, keyed by a stored key. */
    if (keylen == 32 && len > 2 && msg[0] == 'n' && msg[1] == '=') {
        FUZZ_ASSERT(len >= sizeof nonce_text - 1);
        int found = 0;
        for (size_t i = 0; i + sizeof nonce_text - 1 <= len && !found; i++)
            found = memcmp(msg + i, nonce_text, sizeof nonce_text - 1) == 0;
        FUZZ_ASSERT(found);
    }
    return ref_hmac_sha256(key, keylen, msg, len, out, ctx);
}

static int w_sha256(const unsigned char *msg, size_t len, unsigned char *out, void *ctx)
{
    /* Only the recovered ClientKey is hashed by the engine. */
    FUZZ_ASSERT(len == 32);
    if (cur->mech == M_SCRAM && cur->known && memcmp(msg, pencil_client_key, 32) == 0) {
        cur->right_keys++;
        cur->right_key_seen = 1;
    }
    return ref_sha256(msg, len, out, ctx);
}

static int span_is(smtp_span s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int answer_lookup(struct run *r)
{
    smtp_server *srv = r->srv;
    if (r->mech == M_SCRAM && r->known) return smtp_server_auth_scram(srv, &pencil);
    if (r->mech == M_CRAM && r->known)
        return smtp_server_auth_password(srv, "tanstaaftanstaaf", 16);
    if (r->pending_known < 0) return smtp_server_reply(srv, 454, "4.7.0", "Try later", 9);
    return smtp_server_reply(srv, 0, NULL, NULL, 0); /* unknown */
}

static int on_lookup(smtp_server *srv, const smtp_server_auth_lookup *lk, void *ud)
{
    (void)srv;
    struct run *r = ud;
    flog_str(&r->ev, "lookup");
    flog_span(&r->ev, " mech", lk->mechanism.ptr, lk->mechanism.len);
    flog_span(&r->ev, " authcid", lk->authcid.ptr, lk->authcid.len);
    flog_span(&r->ev, " authzid", lk->authzid.ptr, lk->authzid.len);
    flog_str(&r->ev, "\n");
    FUZZ_ASSERT(lk->authcid.len >= 1 && lk->authcid.len <= 255 && lk->authzid.len <= 255);
    int scram = span_is(lk->mechanism, "SCRAM-SHA-256");
    FUZZ_ASSERT(scram || (span_is(lk->mechanism, "CRAM-MD5") && lk->authzid.len == 0));
    r->mech = scram ? M_SCRAM : M_CRAM;
    r->known = span_is(lk->authcid, scram ? "user" : "tim");
    r->right_key_seen = 0;
    memcpy(r->authzid, lk->authzid.ptr, lk->authzid.len);
    r->authzid_len = lk->authzid.len;
    r->pending_known = span_is(lk->authcid, "temp") ? -1 : r->known;
    if (r->flags & 1) {
        r->pending = r->mech;
        return SMTP_SERVER_DEFER;
    }
    FUZZ_ASSERT(answer_lookup(r) == 0);
    return 0;
}

/* The documented shape of what on_auth_token gets. */
static void check_token(const smtp_server_token *t)
{
    FUZZ_ASSERT(t->authzid.len <= 255);
    for (size_t i = 0; i < t->authzid.len; i++)
        FUZZ_ASSERT((unsigned char)t->authzid.ptr[i] >= 0x20 && t->authzid.ptr[i] != 0x7f);
    int external = span_is(t->mechanism, "EXTERNAL");
    FUZZ_ASSERT(external == (t->token.len == 0));
    for (size_t i = 0; i < t->token.len; i++)
        FUZZ_ASSERT((unsigned char)t->token.ptr[i] > 0x20 && t->token.ptr[i] != 0x7f);
    FUZZ_ASSERT(!span_is(t->mechanism, "XOAUTH2") || t->user.len > 0);
}

static int answer_token(struct run *r)
{
    if (!r->token_accepted) return smtp_server_reply(r->srv, 535, NULL, NULL, 0);
    return smtp_server_auth_accept(r->srv, r->token_identity, strlen(r->token_identity));
}

static int on_token(smtp_server *srv, const smtp_server_token *t, void *ud)
{
    (void)srv;
    struct run *r = ud;
    flog_str(&r->ev, "token");
    flog_span(&r->ev, " mech", t->mechanism.ptr, t->mechanism.len);
    flog_span(&r->ev, " authzid", t->authzid.ptr, t->authzid.len);
    flog_span(&r->ev, " user", t->user.ptr, t->user.len);
    flog_span(&r->ev, " token", t->token.ptr, t->token.len);
    flog_str(&r->ev, "\n");
    check_token(t);
    r->mech = M_TOKEN;
    int external = span_is(t->mechanism, "EXTERNAL");
    r->token_accepted = external ? t->authzid.len == 0 : span_is(t->token, "good");
    snprintf(r->token_identity, sizeof r->token_identity, "%s",
             external ? "cert-subject" : "token-user");
    if (r->flags & 2) {
        r->pending = M_TOKEN;
        return SMTP_SERVER_DEFER;
    }
    FUZZ_ASSERT(answer_token(r) == 0);
    return 0;
}

static smtp_ssize write_server(void *engine, char *dest, size_t cap)
{
    return smtp_server_write(engine, dest, cap);
}

/* Counts the lines of `out` that begin with `prefix`. */
static int count_lines(const struct flog *out, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i + pl <= out->len; i++)
        if ((i == 0 || out->buf[i - 1] == '\n') && memcmp(out->buf + i, prefix, pl) == 0) n++;
    return n;
}

static void run_once(struct run *r, const uint8_t *data, size_t size, int split)
{
    memset(r, 0, sizeof *r);
    cur = r;
    r->flags = data[0];
    fmem_init(&r->fm);
    ref_crypto_init(&r->crypto, &r->cs, nonce_bytes, sizeof nonce_bytes);
    r->crypto.hmac_md5 = w_hmac_md5;
    r->crypto.hmac_sha256 = w_hmac_sha256;
    r->crypto.sha256 = w_sha256;
    smtp_server_settings s;
    smtp_server_settings_init(&s);
    s.hostname = "mx.example.org";
    s.extensions |= SMTP_SERVER_EXT_AUTH;
    s.flags |= (r->flags & 4) ? SMTP_SERVER_TLS : SMTP_SERVER_AUTH_PLAINTEXT;
    s.auth_mechanisms = "SCRAM-SHA-256 CRAM-MD5 XOAUTH2 OAUTHBEARER EXTERNAL";
    s.auth_attempt_limit = 0;
    s.hard_error_limit = 0;
    s.soft_error_limit = 0;
    s.crypto = &r->crypto;
    if (r->flags & 8) s.max_auth_line = 512;
    smtp_server_callbacks cb = {.on_auth_lookup = on_lookup, .on_auth_token = on_token};
    FUZZ_ASSERT(smtp_server_new(&r->srv, &cb, &s, &r->fm.mem, r) == 0);
    fmem_budget(&r->fm, 16); /* the output queue's growth, the parser's line buffer */
    FUZZ_ASSERT(smtp_server_start(r->srv) == 0);
    struct fsplit sp;
    fsplit_init(&sp, data[1]);
    const char *in = (const char *)data + HEADER;
    size_t len = size - HEADER, pos = 0;
    while (!r->failed) {
        if (fdrain(&r->out, split ? &sp : NULL, write_server, r->srv) < 0) r->failed = 1;
        if (r->pending != M_NONE) {
            int kind = r->pending;
            r->pending = M_NONE;
            int rc = kind == M_TOKEN ? answer_token(r) : answer_lookup(r);
            FUZZ_ASSERT(rc == 0 || smtp_error_is_fatal(rc));
            if (rc < 0) r->failed = 1;
            continue;
        }
        if (pos == len || !smtp_server_want_read(r->srv)) break;
        size_t n = split ? fsplit_piece(&sp) : len - pos;
        if (n > len - pos) n = len - pos;
        char *piece = fcopy(in + pos, n);
        smtp_ssize k = smtp_server_read(r->srv, piece, n);
        free(piece);
        if (k < 0) {
            FLOG(&r->ev, "read error %d\n", (int)k);
            r->failed = 1;
            break;
        }
        pos += (size_t)k;
        if (k == 0 && r->pending == M_NONE && smtp_server_want_read(r->srv)) break;
    }
    fdrain(&r->out, NULL, write_server, r->srv);
    FUZZ_ASSERT(fcrlf_clean(r->out.buf, r->out.len, 0));
    /* The server proves itself exactly when the client's proof was right. */
    FUZZ_ASSERT(count_lines(&r->out, "334 dj0") == r->right_keys || r->failed);
    const char *id = smtp_server_auth_identity(r->srv);
    FLOG(&r->ev, "identity %s right-keys %d\n", id ? id : "-", r->right_keys);
    if (getenv("FUZZ_TRACE")) flog_dump(split ? "split run" : "whole run", &r->ev);
    if (id) {
        FUZZ_ASSERT(count_lines(&r->out, "235 ") == 1);
        switch (r->mech) {
        case M_SCRAM:
            FUZZ_ASSERT(r->known && r->right_key_seen);
            FUZZ_ASSERT(r->authzid_len ? strlen(id) == r->authzid_len &&
                                             memcmp(id, r->authzid, r->authzid_len) == 0
                                       : strcmp(id, "user") == 0);
            break;
        case M_CRAM: FUZZ_ASSERT(r->known && r->cram_real_key && !strcmp(id, "tim")); break;
        case M_TOKEN: FUZZ_ASSERT(r->token_accepted && !strcmp(id, r->token_identity)); break;
        default: FUZZ_ASSERT(0);
        }
    } else {
        FUZZ_ASSERT(count_lines(&r->out, "235 ") == 0);
    }
    smtp_server_del(r->srv);
    FUZZ_ASSERT(r->fm.live == 0);
}

static void run_free(struct run *r)
{
    flog_free(&r->ev);
    flog_free(&r->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    if (!pencil.iterations) { /* once: "pencil"'s credentials and ClientKey */
        smtp_crypto k;
        struct ref_crypto_state ks;
        ref_crypto_init(&k, &ks, NULL, 0);
        unsigned char salt[16], salted[32];
        smtp_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, (char *)salt, sizeof salt);
        if (smtp_server_scram_make(&pencil, &k, "pencil", 6, salt, 16, 4096) < 0 ||
            sasl_srv_hi(&k, "pencil", salt, 16, 4096, salted) < 0)
            abort();
        k.hmac_sha256(salted, 32, (const unsigned char *)"Client Key", 10, pencil_client_key,
                      k.ctx);
    }
    static struct run whole, split;
    run_once(&split, data, size, 1);
    run_once(&whole, data, size, 0);
    flog_same("event logs", &whole.ev, &split.ev);
    flog_same_output(&whole.out, &split.out, whole.failed || split.failed);
    run_free(&whole);
    run_free(&split);
    return 0;
}
