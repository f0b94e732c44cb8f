/* SPDX-License-Identifier: MIT */
/*
 * The server engine's built-in SASL mechanisms beyond PLAIN and LOGIN: CRAM-MD5 (RFC 2195)
 * and SCRAM-SHA-256 (RFC 5802, RFC 7677), checked here from the credentials the application
 * looks up (on_auth_lookup); XOAUTH2 (Google's), OAUTHBEARER (RFC 7628) and EXTERNAL (RFC 4422
 * appendix A), parsed here and judged by the application (on_auth_token).
 *
 * How it works. server_auth.c runs the AUTH command and decodes each response; this file
 * reads the messages and keeps each exchange's state (auth_step):
 *
 *   CRAM-MD5     AUTH -> 334 <challenge> (1) -> "user digest" -> lookup -> 235 / 535
 *   SCRAM        AUTH [client-first] -> (0: 334 "" -> client-first) -> lookup ->
 *                334 server-first (1) -> client-final -> 334 "v=" ServerSignature (2) ->
 *                "" -> 235; a wrong proof: 535
 *   XOAUTH2,     AUTH [message] -> (0: 334 "" -> message) -> on_auth_token -> 235; or a
 *   OAUTHBEARER  refusal: 334 error challenge (1) -> the client's answer -> the refusal
 *   EXTERNAL     AUTH [authzid] -> (0: 334 "" -> authzid) -> on_auth_token -> 235 / refusal
 *
 * The crypto is the application's (settings.crypto, copied into srv->crypto): this file only
 * strings the calls together. CRAM-MD5's challenge is "<N1.N2@hostname>", N1 and N2 the two
 * halves of 16 random octets read as big-endian numbers; SCRAM's server nonce is 30 random
 * octets, each mapped to a printable character other than ',' (RFC 5802 7). Both come from the
 * random function, so a test fixes them (and replays RFC 2195's and RFC 7677's examples).
 *
 * SCRAM's state lives in the scratch buffer, before the decoded responses (auth_head): the
 * decoded authcid and authzid (the lookup's spans), the gs2 header, then the AuthMessage so
 * far, client-first-message-bare "," server-first-message ",", so that the client-final
 * message decoded right after it completes the AuthMessage in place.
 *
 * An unknown user (the lookup's default) is not told apart from a wrong password: CRAM-MD5
 * computes its HMAC with a made-up key and answers 535; SCRAM shows a salt made of the name
 * (HMAC-SHA-256 of it under auth_mock_secret) and auth_mock_iterations, runs the same proof
 * check against made-up keys, and answers 535. Proofs and digests are compared in constant
 * time. User names are compared as octets: no SASLprep (RFC 4013), so a client that
 * normalises a non-ASCII name or password otherwise does not match; ASCII ones are unchanged
 * by it.
 */
#include "server_internal.h"

#include <smtp/codec.h>

#include <stdio.h>
#include <string.h>

#define MD5_LEN 16
#define SHA256_LEN SMTP_SERVER_SCRAM_KEY
#define SCRAM_NONCE 30 /* the server's part of the nonce, in characters */
#define MOCK_SALT 16   /* the made-up salt of an unknown user, in octets */

static const char malformed[] = "Error: malformed SASL message";
static const char invalid[] = "Error: authentication failed";

/* The replies that end an exchange. */
static int refuse(smtp_server *srv)
{
    return smtp_srv_auth_refuse(srv, 535, "5.7.8", invalid);
}

static int refuse_malformed(smtp_server *srv)
{
    return smtp_srv_auth_refuse(srv, 501, "5.5.2", malformed);
}

/* A crypto function failed: fatal, as a failed callback. */
static int crypto_failed(smtp_server *srv)
{
    return smtp_srv_fail(srv, SMTP_ERR_CALLBACK_FAILURE);
}

/* Compares n octets without an early exit: the time does not tell where they differ. */
static int same(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}

static smtp_span mechanism(const smtp_server *srv)
{
    return (smtp_span){srv->auth_name, strlen(srv->auth_name)};
}

/* Asks decision `kind` (LOOKUP or TOKEN) of its callback, with the request in srv->ask. The
 * callback is there (the mechanism is built in only then) and AUTH is never read ahead: the
 * plain form of SMTP_SRV_ASK. */
static int ask(smtp_server *srv, smtp_srv_decision kind)
{
    smtp_srv_ask(srv, kind);
    srv->in_callback++;
    int r = kind == SMTP_SRV_DECISION_LOOKUP
                ? srv->cb.on_auth_lookup(srv, &srv->ask.lookup, srv->user_data)
                : srv->cb.on_auth_token(srv, &srv->ask.token, srv->user_data);
    return smtp_srv_decided(srv, smtp_srv_returned(srv, r));
}

/* Asks on_auth_lookup for the credentials of srv->cred's names. */
static int ask_lookup(smtp_server *srv)
{
    srv->ask.lookup.mechanism = mechanism(srv);
    srv->ask.lookup.authcid = srv->cred.authcid;
    srv->ask.lookup.authzid = srv->cred.authzid;
    return ask(srv, SMTP_SRV_DECISION_LOOKUP);
}

/* ---- gs2 header and saslname (RFC 5801 4, RFC 5802 7) ---- */

/*
 * saslname = 1*(UTF8-char-safe / "=2C" / "=3D"): decodes p[0..n) (an attribute's value, so
 * without ',') into out (at most SMTP_SERVER_MAX_IDENTITY octets); returns its length, or -1
 * when it is malformed or not an identity (UTF-8 without control bytes).
 */
static smtp_ssize saslname(const char *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '=') {
            if (n - i < 3) return -1;
            if (p[i + 1] == '2' && p[i + 2] == 'C')
                c = ',';
            else if (p[i + 1] != '3' || p[i + 2] != 'D')
                return -1;
            i += 2;
        }
        if (k == SMTP_SERVER_MAX_IDENTITY) return -1;
        out[k++] = c;
    }
    return smtp_srv_identity_ok(out, k, 1) ? (smtp_ssize)k : -1;
}

/* The value of attribute `name` at p[*pos..n) ("r=..." up to ',' or the end); advances *pos
 * past it and its ','. 0, or -1 when the next attribute is not `name`. */
static int attr(const char *p, size_t n, size_t *pos, char name, smtp_span *value)
{
    size_t i = *pos;
    if (n - i < 2 || p[i] != name || p[i + 1] != '=') return -1;
    const char *v = p + i + 2, *comma = memchr(v, ',', n - i - 2);
    value->ptr = v;
    value->len = comma ? (size_t)(comma - v) : n - i - 2;
    *pos = comma ? (size_t)(comma - p) + 1 : n;
    return 0;
}

enum { GS2_OK = 0, GS2_MALFORMED = -1, GS2_CHANNEL_BINDING = -2 };

/*
 * gs2-header = gs2-cbind-flag "," [authzid] "," with gs2-cbind-flag "n" (the client does not
 * do channel binding) or "y" (it would, but thinks the server cannot: we advertise no -PLUS
 * variant, so that is true). "p=" asks for channel binding, which is not offered. The authzid
 * ("a=" saslname) is decoded into `authzid` (SMTP_SRV_LOGIN_USER octets). Sets *len to the
 * header's length.
 */
static int gs2_header(smtp_server *srv, const char *p, size_t n, char *authzid, size_t *len)
{
    if (n && p[0] == 'p') return GS2_CHANNEL_BINDING;
    if (n < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',') return GS2_MALFORMED;
    size_t pos = 2;
    smtp_span a = {authzid, 0};
    if (p[pos] != ',') {
        smtp_span raw;
        if (attr(p, n, &pos, 'a', &raw) < 0 || pos == n || raw.len == 0) return GS2_MALFORMED;
        smtp_ssize k = saslname(raw.ptr, raw.len, authzid);
        if (k < 0) return GS2_MALFORMED;
        a.len = (size_t)k;
        *len = pos;
    } else {
        *len = pos + 1;
    }
    srv->cred.authzid = a;
    return GS2_OK;
}

/* A gs2 header's error reply. */
static int gs2_refused(smtp_server *srv, int e)
{
    if (e == GS2_CHANNEL_BINDING)
        return smtp_srv_auth_refuse(srv, 535, "5.7.8", "Error: channel binding not supported");
    return refuse_malformed(srv);
}

/* ---- CRAM-MD5 (RFC 2195) ---- */

/* CRAM-MD5's random octets, kept at the head of the scratch buffer (the LOGIN user's room: the
 * response is decoded after it). */
#define CRAM_RANDOM 16

/* The challenge, made again from those octets whenever needed: "<N1.N2@hostname>"; it always
 * fits in CRAM_CHALLENGE_MAX (below), the `cap` of every caller. */
static size_t cram_challenge(const smtp_server *srv, char *out, size_t cap)
{
    unsigned long long v[2] = {0, 0};
    for (int i = 0; i < CRAM_RANDOM; i++)
        v[i / 8] = v[i / 8] << 8 | (unsigned char)srv->scratch[i];
    return (size_t)snprintf(out, cap, "<%llu.%llu@%s>", v[0], v[1], srv->set.hostname);
}

/* The most a challenge takes: two 20-digit numbers and a hostname of 255 octets. */
#define CRAM_CHALLENGE_MAX (2 * 20 + SMTP_MAX_DOMAIN + 8)

static int cram_begin(smtp_server *srv, int has_ir)
{
    /* RFC 2195 2: the server speaks first; there is no initial response. */
    if (has_ir) return refuse_malformed(srv);
    if (srv->crypto.random((unsigned char *)srv->scratch, CRAM_RANDOM, srv->crypto.ctx) < 0)
        return crypto_failed(srv);
    char c[CRAM_CHALLENGE_MAX];
    srv->auth_step = 1;
    return smtp_srv_auth_send(srv, c, cram_challenge(srv, c, sizeof c));
}

/* RFC 2195 2: the response is the user name, SP, and 32 hex digits (the user name may hold
 * spaces: the digest follows the last one). */
static int cram_response(smtp_server *srv, smtp_span r)
{
    size_t sp = r.len;
    while (sp > 0 && r.ptr[sp - 1] != ' ')
        sp--;
    if (sp < 2 || r.len - sp != 2 * MD5_LEN) return refuse_malformed(srv);
    for (size_t i = sp; i < r.len; i++)
        if (smtp_hex_value((unsigned char)r.ptr[i]) < 0) return refuse_malformed(srv);
    if (!smtp_srv_identity_ok(r.ptr, sp - 1, 0)) return refuse(srv);
    srv->cred.authcid = (smtp_span){r.ptr, sp - 1};
    srv->cred.authzid = (smtp_span){r.ptr, 0};
    srv->cram_digest = (smtp_span){r.ptr + sp, 2 * MD5_LEN};
    return ask_lookup(srv);
}

/* Checks the digest against HMAC-MD5(secret, challenge) and ends the exchange. */
static int cram_check(smtp_server *srv, const char *secret, size_t len)
{
    char c[CRAM_CHALLENGE_MAX];
    size_t clen = cram_challenge(srv, c, sizeof c);
    unsigned char mac[MD5_LEN], sent[MD5_LEN];
    if (srv->crypto.hmac_md5((const unsigned char *)secret, len, (const unsigned char *)c, clen,
                             mac, srv->crypto.ctx) < 0)
        return crypto_failed(srv);
    const char *hex = srv->cram_digest.ptr;
    for (size_t i = 0; i < MD5_LEN; i++)
        sent[i] = (unsigned char)(smtp_hex_value((unsigned char)hex[2 * i]) << 4 |
                                  smtp_hex_value((unsigned char)hex[2 * i + 1]));
    int ok = same(mac, sent, MD5_LEN) & !srv->auth_unknown; /* no early exit */
    return ok ? smtp_srv_auth_succeed(srv) : refuse(srv);
}

/* ---- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---- */

/* Where SCRAM keeps its state in the scratch buffer. */
static char *scram_authcid(smtp_server *srv)
{
    return srv->scratch;
}

static char *scram_authzid(smtp_server *srv)
{
    return srv->scratch + SMTP_SRV_LOGIN_USER;
}

static unsigned char *scram_stored(smtp_server *srv)
{
    return (unsigned char *)srv->scratch + SMTP_SRV_SCRAM_KEYS;
}

static unsigned char *scram_server(smtp_server *srv)
{
    return (unsigned char *)srv->scratch + SMTP_SRV_SCRAM_KEYS + SMTP_SERVER_SCRAM_KEY;
}

static char *scram_kept(smtp_server *srv) /* the gs2 header, then the AuthMessage so far */
{
    return srv->scratch + SMTP_SRV_SCRAM_KEYS + 2 * SMTP_SERVER_SCRAM_KEY;
}

/* The longest server-first message beyond the client's nonce: "r=", the server nonce,
 * ",s=", a salt of 64 octets in base64, ",i=", ten digits, and the ',' after it. */
#define SERVER_FIRST_MAX (2 + SCRAM_NONCE + 3 + 88 + 3 + 10 + 2)

/*
 * client-first-message = gs2-header client-first-message-bare, and
 * client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]:
 * keeps the header and the bare message, then asks for the user's credentials.
 */
static int scram_first(smtp_server *srv, smtp_span m)
{
    size_t gs2 = 0;
    int e = gs2_header(srv, m.ptr, m.len, scram_authzid(srv), &gs2);
    if (e < 0) return gs2_refused(srv, e);
    const char *bare = m.ptr + gs2;
    size_t blen = m.len - gs2, pos = 0;
    smtp_span user, nonce;
    /* "m=" is a mandatory extension none of which exists: refused as malformed too. */
    if (attr(bare, blen, &pos, 'n', &user) < 0 || attr(bare, blen, &pos, 'r', &nonce) < 0 ||
        nonce.len == 0)
        return refuse_malformed(srv);
    for (size_t i = 0; i < nonce.len; i++)
        if ((unsigned char)nonce.ptr[i] < 0x21 || (unsigned char)nonce.ptr[i] > 0x7e)
            return refuse_malformed(srv);
    smtp_ssize ulen = saslname(user.ptr, user.len, scram_authcid(srv));
    if (ulen <= 0) return refuse_malformed(srv);
    /* What is kept must leave room for the server-first message (which repeats the nonce). */
    if (gs2 + blen + 1 + nonce.len + SERVER_FIRST_MAX > SMTP_SRV_SCRAM_KEEP)
        return smtp_srv_auth_refuse(srv, 501, "5.5.2", "Error: SASL message too long");
    srv->cred.authcid = (smtp_span){scram_authcid(srv), (size_t)ulen};
    char *kept = scram_kept(srv);
    size_t nonce_off = (size_t)(nonce.ptr - bare);
    memmove(kept, m.ptr, m.len); /* below the decoded message: nothing is overwritten early */
    srv->scram_gs2_len = gs2;
    srv->scram_nonce_off = gs2 + blen + 1 + 2; /* where the nonce will be in server-first */
    srv->scram_nonce_len = nonce.len;
    /* The server-first message starts with the client's nonce: copied now, once. */
    char *sf = kept + gs2 + blen;
    sf[0] = ',';
    memcpy(sf + 1, "r=", 2);
    memmove(sf + 3, kept + gs2 + nonce_off, nonce.len);
    return ask_lookup(srv);
}

/* RFC 5802 7: nonce characters are printable ASCII but ','; a random octet picks one. */
static char nonce_char(unsigned char b)
{
    unsigned k = b % 93u; /* '!' .. '~' is 94 characters, less ',' */
    return (char)(k < 11 ? 0x21 + k : 0x22 + k);
}

/* Sends server-first-message = nonce "," salt "," iteration-count (RFC 5802 7), its nonce the
 * client's and 30 random characters; the AuthMessage so far is kept. */
static int scram_server_first(smtp_server *srv, const unsigned char *salt, size_t salt_len,
                              uint32_t iterations)
{
    unsigned char raw[SCRAM_NONCE];
    if (srv->crypto.random(raw, sizeof raw, srv->crypto.ctx) < 0) return crypto_failed(srv);
    char *kept = scram_kept(srv);
    size_t sf = srv->scram_nonce_off - 2; /* "r=" */
    smtp_strbuf b = {kept, srv->scram_nonce_off + srv->scram_nonce_len, SMTP_SRV_SCRAM_KEEP, 0};
    for (size_t i = 0; i < sizeof raw; i++) {
        char c = nonce_char(raw[i]);
        smtp_strbuf_put(&b, &c, 1);
    }
    srv->scram_nonce_len += SCRAM_NONCE;
    smtp_strbuf_puts(&b, ",s=");
    smtp_strbuf_base64(&b, salt, salt_len);
    smtp_strbuf_puts(&b, ",i=");
    smtp_strbuf_uint(&b, iterations);
    size_t sf_end = b.len;
    smtp_strbuf_puts(&b, ",");
    if (b.err) return smtp_srv_fail(srv, SMTP_ERR_INVALID_STATE); /* sized in scram_first */
    srv->auth_head = (size_t)(kept - srv->scratch) + b.len;       /* client-final completes it */
    srv->auth_step = 1;
    return smtp_srv_auth_send(srv, kept + sf, sf_end - sf);
}

/*
 * client-final-message = client-final-message-without-proof "," proof, where
 * client-final-message-without-proof = channel-binding "," nonce ["," extensions]: checks the
 * channel binding (the gs2 header again), the nonce and the proof (RFC 5802 3):
 * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), H(ClientKey) == StoredKey. Then
 * proves the server with "v=" HMAC(ServerKey, AuthMessage).
 */
static int scram_final(smtp_server *srv, smtp_span m)
{
    const char *kept = scram_kept(srv);
    size_t pos = 0, gs2 = srv->scram_gs2_len;
    smtp_span cb, nonce, proof, ext;
    if (attr(m.ptr, m.len, &pos, 'c', &cb) < 0 || attr(m.ptr, m.len, &pos, 'r', &nonce) < 0)
        return refuse_malformed(srv);
    size_t without_proof = pos - 1;                     /* the ',' after the nonce */
    while (attr(m.ptr, m.len, &pos, 'p', &proof) < 0) { /* extensions before the proof */
        if (pos == m.len || !smtp_is_alpha((unsigned char)m.ptr[pos]) ||
            attr(m.ptr, m.len, &pos, m.ptr[pos], &ext) < 0)
            return refuse_malformed(srv);
        without_proof = pos - 1;
    }
    if (pos != m.len || proof.ptr + proof.len != m.ptr + m.len) return refuse_malformed(srv);
    /* RFC 5802 5.1 "c": base64 of the gs2 header (no channel binding data). */
    char expect[((SMTP_SRV_SCRAM_KEEP + 2) / 3) * 4 + 1];
    smtp_ssize el = smtp_base64_encode(kept, gs2, expect, sizeof expect);
    unsigned char sent[SHA256_LEN + 3];
    if (el < 0 || cb.len != (size_t)el || memcmp(cb.ptr, expect, cb.len) != 0 ||
        nonce.len != srv->scram_nonce_len ||
        memcmp(nonce.ptr, kept + srv->scram_nonce_off, nonce.len) != 0 ||
        smtp_base64_decode(proof.ptr, proof.len, (char *)sent, sizeof sent) != SHA256_LEN)
        return refuse_malformed(srv);
    /* AuthMessage = client-first-message-bare "," server-first-message ","
     * client-final-message-without-proof: contiguous, the last part just decoded. */
    const unsigned char *am = (const unsigned char *)kept + gs2;
    size_t am_len = (size_t)(m.ptr - (kept + gs2)) + without_proof;
    const smtp_crypto *k = &srv->crypto;
    unsigned char sig[SHA256_LEN], key[SHA256_LEN], h[SHA256_LEN];
    if (k->hmac_sha256(scram_stored(srv), SHA256_LEN, am, am_len, sig, k->ctx) < 0)
        return crypto_failed(srv);
    for (size_t i = 0; i < SHA256_LEN; i++)
        key[i] = sent[i] ^ sig[i];
    if (k->sha256(key, SHA256_LEN, h, k->ctx) < 0 ||
        k->hmac_sha256(scram_server(srv), SHA256_LEN, am, am_len, sig, k->ctx) < 0)
        return crypto_failed(srv);
    int ok = same(h, scram_stored(srv), SHA256_LEN) & !srv->auth_unknown;
    memset(key, 0, sizeof key);
    if (!ok) return refuse(srv);
    /* RFC 5802 7: server-final-message = "v=" base64(ServerSignature); RFC 4954 4 carries it
     * in a 334, and the client's empty response then gets the 235. */
    char v[2 + ((SHA256_LEN + 2) / 3) * 4 + 1] = "v=";
    smtp_ssize vl = smtp_base64_encode((const char *)sig, SHA256_LEN, v + 2, sizeof v - 2);
    srv->auth_step = 2;
    return smtp_srv_auth_send(srv, v, 2 + (size_t)vl);
}

/* The made-up credentials of an unknown user: a salt from the name (the same every time),
 * keys that match no proof (auth_unknown fails it anyway; the work is a known user's). */
static int scram_mock(smtp_server *srv)
{
    const char *secret = srv->set.auth_mock_secret ? srv->set.auth_mock_secret : srv->set.hostname;
    const smtp_crypto *k = &srv->crypto;
    unsigned char salt[SHA256_LEN];
    if (k->hmac_sha256((const unsigned char *)secret, strlen(secret),
                       (const unsigned char *)srv->cred.authcid.ptr, srv->cred.authcid.len, salt,
                       k->ctx) < 0)
        return crypto_failed(srv);
    memcpy(scram_stored(srv), salt, SHA256_LEN);
    memcpy(scram_server(srv), salt, SHA256_LEN);
    srv->auth_unknown = 1;
    return scram_server_first(srv, salt, MOCK_SALT, srv->set.auth_mock_iterations);
}

/* ---- XOAUTH2, OAUTHBEARER (RFC 7628 3.1) and EXTERNAL (RFC 4422 A.1) ---- */

/*
 * *kvpair kvsep, with kvpair = key "=" value kvsep, key = 1*(ALPHA), value = *(VCHAR / SP /
 * HTAB / CR / LF) and kvsep = %x01: the end of both messages. Picks "auth" and "user".
 */
static int kvpairs(const char *p, size_t n, smtp_span *auth, smtp_span *user)
{
    size_t i = 0;
    for (;;) {
        if (i == n) return -1;
        if (p[i] == '\001') return i + 1 == n ? 0 : -1;
        size_t k = i;
        while (k < n && smtp_is_alpha((unsigned char)p[k]))
            k++;
        if (k == i || k == n || p[k] != '=') return -1;
        const char *v = p + k + 1, *sep = memchr(v, '\001', n - k - 1);
        if (!sep) return -1;
        for (const char *c = v; c < sep; c++)
            if (smtp_is_ctl((unsigned char)*c) && *c != '\t' && *c != '\r' && *c != '\n') return -1;
        smtp_span val = {v, (size_t)(sep - v)};
        if (smtp_span_ieq(p + i, k - i, "auth")) *auth = val;
        if (smtp_span_ieq(p + i, k - i, "user")) *user = val;
        i = (size_t)(sep - p) + 1;
    }
}

/* RFC 6750 2.1: "Bearer" 1*SP b64token (the scheme in any case); the token into *token. */
static int bearer(smtp_span auth, smtp_span *token)
{
    if (auth.len < 8 || !smtp_span_iprefix(auth.ptr, auth.len, "bearer ")) return -1;
    size_t i = 7;
    while (i < auth.len && auth.ptr[i] == ' ')
        i++;
    *token = (smtp_span){auth.ptr + i, auth.len - i};
    if (!token->len) return -1;
    for (size_t j = 0; j < token->len; j++)
        if (token->ptr[j] == ' ' || smtp_is_ctl((unsigned char)token->ptr[j])) return -1;
    return 0;
}

static int ask_token(smtp_server *srv, smtp_span authzid, smtp_span user, smtp_span token)
{
    srv->ask.token.mechanism = mechanism(srv);
    srv->ask.token.authzid = authzid;
    srv->ask.token.user = user;
    srv->ask.token.token = token;
    srv->cred.authzid = authzid; /* the default identity (smtp_server_auth_accept) */
    srv->cred.authcid = user;
    return ask(srv, SMTP_SRV_DECISION_TOKEN);
}

/* The message of XOAUTH2 ("user=" U ^A "auth=Bearer " T ^A ^A) or OAUTHBEARER (gs2-header
 * ^A *kvpair ^A, RFC 7628 3.1). */
static int token_message(smtp_server *srv, smtp_span m)
{
    smtp_span auth = {NULL, 0}, user = {m.ptr, 0}, token, authzid = {m.ptr, 0};
    size_t off = 0;
    if (srv->auth_mech == SMTP_SRV_MECH_OAUTHBEARER) {
        int e = gs2_header(srv, m.ptr, m.len, srv->scratch, &off);
        if (e < 0) return gs2_refused(srv, e);
        if (off == m.len || m.ptr[off] != '\001') return refuse_malformed(srv);
        off++;
        authzid = srv->cred.authzid;
    }
    if (kvpairs(m.ptr + off, m.len - off, &auth, &user) < 0 || !auth.ptr ||
        bearer(auth, &token) < 0)
        return refuse_malformed(srv);
    if (srv->auth_mech == SMTP_SRV_MECH_XOAUTH2) {
        if (!smtp_srv_identity_ok(user.ptr, user.len, 0)) return refuse_malformed(srv);
    } else {
        user = (smtp_span){m.ptr, 0};
    }
    return ask_token(srv, authzid, user, token);
}

/* EXTERNAL's message is the authorization identity, or empty (RFC 4422 A.1). */
static int external_message(smtp_server *srv, smtp_span m)
{
    if (!smtp_srv_identity_ok(m.ptr, m.len, 1)) return refuse_malformed(srv);
    return ask_token(srv, m, (smtp_span){m.ptr, 0}, (smtp_span){m.ptr, 0});
}

int smtp_srv_sasl_refusal(smtp_server *srv, int code, const char *enhanced, const char *text,
                          size_t len)
{
    smtp_srv_mech mech = srv->auth_mech;
    if ((mech != SMTP_SRV_MECH_XOAUTH2 && mech != SMTP_SRV_MECH_OAUTHBEARER) || code == 421)
        return 0;
    /* RFC 7628 3.2.2: the error as JSON in a challenge; the client answers it ("\x01"; for
     * XOAUTH2 an empty line), then the refusal. */
    srv->refusal_code = code;
    char *kept = srv->scratch + SMTP_SRV_LOGIN_USER; /* the token is no longer needed */
    snprintf(kept, 16, "%s", enhanced);
    memmove(kept + 16, text, len); /* the text may be the application's copy of the token */
    kept[16 + len] = '\0';
    srv->auth_head = SMTP_SRV_LOGIN_USER + SMTP_SRV_REFUSAL;
    static const char oauthbearer[] = "{\"status\":\"invalid_token\"}";
    static const char xoauth2[] = "{\"status\":\"401\",\"schemes\":\"bearer\"}";
    const char *json = mech == SMTP_SRV_MECH_XOAUTH2 ? xoauth2 : oauthbearer;
    srv->auth_step = 1;
    srv->phase = SMTP_SRV_AUTH;
    int r = smtp_srv_auth_send(srv, json, strlen(json));
    return r < 0 ? srv->error : 1;
}

/* ---- the exchanges ---- */

int smtp_srv_sasl_begin(smtp_server *srv, int has_ir, smtp_span response)
{
    srv->auth_unknown = 0;
    if (srv->auth_mech == SMTP_SRV_MECH_CRAM_MD5) return cram_begin(srv, has_ir);
    if (!has_ir) return smtp_srv_auth_send(srv, "", 0); /* RFC 4954 4: "334 " */
    return smtp_srv_sasl_next(srv, response);
}

int smtp_srv_sasl_next(smtp_server *srv, smtp_span r)
{
    switch (srv->auth_mech) {
    case SMTP_SRV_MECH_CRAM_MD5: return cram_response(srv, r);
    case SMTP_SRV_MECH_SCRAM:
        if (srv->auth_step == 0) return scram_first(srv, r);
        if (srv->auth_step == 1) return scram_final(srv, r);
        /* RFC 5802 5: the client's answer to the server-final message is empty. */
        return r.len ? refuse_malformed(srv) : smtp_srv_auth_succeed(srv);
    case SMTP_SRV_MECH_EXTERNAL: return external_message(srv, r);
    default:
        if (srv->auth_step == 0) return token_message(srv, r);
        /* The answer to the error challenge: then the refusal the application gave. */
        return smtp_srv_auth_refuse(srv, srv->refusal_code, srv->scratch + SMTP_SRV_LOGIN_USER,
                                    srv->scratch + SMTP_SRV_LOGIN_USER + 16);
    }
}

int smtp_srv_sasl_unknown(smtp_server *srv)
{
    srv->auth_unknown = 1;
    if (srv->auth_mech == SMTP_SRV_MECH_SCRAM) {
        int r = scram_mock(srv);
        return r < 0 ? srv->error : 0;
    }
    /* The same work as a known user's: an HMAC under a made-up key. */
    int r = cram_check(srv, srv->set.hostname, strlen(srv->set.hostname));
    return r < 0 ? srv->error : 0;
}

/* ---- the application's answers to on_auth_lookup ---- */

/* Is a lookup of mechanism `mech` pending, with room for what follows? 0, or an error. */
static int lookup_pending(smtp_server *srv, smtp_srv_mech mech)
{
    if (srv->error || srv->decision != SMTP_SRV_DECISION_LOOKUP) return SMTP_ERR_INVALID_STATE;
    if (srv->auth_mech != mech) return SMTP_ERR_INVALID_ARGUMENT;
    /* A reply, or a challenge of at most 334 + base64(server-first), and a 421 after it. */
    if (smtp_srv_out_room(srv) < 1024) return SMTP_ERR_NOBUF;
    return 0;
}

/* The decision is answered: the exchange goes on from here. */
static int answered(smtp_server *srv, int r)
{
    if (r < 0) return srv->error ? srv->error : r;
    smtp_srv_sync_settle(srv);
    return 0;
}

static void take(smtp_server *srv)
{
    srv->decision = SMTP_SRV_DECISION_NONE;
    if (srv->in_callback) srv->answered = 1;
}

int smtp_server_auth_password(smtp_server *srv, const char *password, size_t len)
{
    if (!srv || !password || !len) return SMTP_ERR_INVALID_ARGUMENT;
    int r = lookup_pending(srv, SMTP_SRV_MECH_CRAM_MD5);
    if (r < 0) return r;
    take(srv);
    return answered(srv, cram_check(srv, password, len));
}

int smtp_server_auth_scram(smtp_server *srv, const smtp_server_scram *cred)
{
    if (!srv || !cred || !cred->salt_len || cred->salt_len > SMTP_SERVER_SCRAM_SALT_MAX ||
        !cred->iterations)
        return SMTP_ERR_INVALID_ARGUMENT;
    int r = lookup_pending(srv, SMTP_SRV_MECH_SCRAM);
    if (r < 0) return r;
    take(srv);
    memcpy(scram_stored(srv), cred->stored_key, SHA256_LEN);
    memcpy(scram_server(srv), cred->server_key, SHA256_LEN);
    return answered(srv, scram_server_first(srv, cred->salt, cred->salt_len, cred->iterations));
}

int smtp_server_scram_make(smtp_server_scram *out, const smtp_crypto *crypto, const char *password,
                           size_t len, const unsigned char *salt, size_t salt_len,
                           uint32_t iterations)
{
    if (!out || !crypto || !crypto->hmac_sha256 || !crypto->sha256 || !password || !len || !salt ||
        !salt_len || salt_len > SMTP_SERVER_SCRAM_SALT_MAX || !iterations)
        return SMTP_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    /* RFC 5802 2.2: Hi(str, salt, i) = U1 XOR U2 ... Ui, U1 = HMAC(str, salt + INT(1)),
     * Uj = HMAC(str, Uj-1). */
    const unsigned char *pw = (const unsigned char *)password;
    unsigned char first[SMTP_SERVER_SCRAM_SALT_MAX + 4], u[SHA256_LEN], next[SHA256_LEN];
    unsigned char salted[SHA256_LEN];
    memcpy(first, salt, salt_len);
    memcpy(first + salt_len, "\0\0\0\1", 4);
    int rv = crypto->hmac_sha256(pw, len, first, salt_len + 4, u, crypto->ctx);
    memcpy(salted, u, sizeof salted);
    for (uint32_t j = 1; rv >= 0 && j < iterations; j++) {
        rv = crypto->hmac_sha256(pw, len, u, sizeof u, next, crypto->ctx);
        memcpy(u, next, sizeof u);
        for (size_t i = 0; i < SHA256_LEN; i++)
            salted[i] ^= u[i];
    }
    unsigned char client_key[SHA256_LEN];
    if (rv >= 0)
        rv = crypto->hmac_sha256(salted, sizeof salted, (const unsigned char *)"Client Key", 10,
                                 client_key, crypto->ctx);
    if (rv >= 0) rv = crypto->sha256(client_key, sizeof client_key, out->stored_key, crypto->ctx);
    if (rv >= 0)
        rv = crypto->hmac_sha256(salted, sizeof salted, (const unsigned char *)"Server Key", 10,
                                 out->server_key, crypto->ctx);
    memset(salted, 0, sizeof salted);
    memset(client_key, 0, sizeof client_key);
    memset(u, 0, sizeof u);
    memset(next, 0, sizeof next);
    if (rv < 0) {
        memset(out, 0, sizeof *out);
        return SMTP_ERR_CALLBACK_FAILURE;
    }
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    return 0;
}
