/* SPDX-License-Identifier: MIT */
/*
 * The client session engine: SASL authentication (RFC 4954) with PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login), XOAUTH2 (Google's), OAUTHBEARER (RFC 7628), and, with the
 * application's crypto functions (settings.crypto), CRAM-MD5 (RFC 2195) and SCRAM-SHA-256
 * (RFC 5802, RFC 7677; no channel binding: gs2 flag "n"); and EXTERNAL (RFC 4422 appendix A)
 * when the TLS layer presents a client certificate (SMTP_CLIENT_AUTH_EXTERNAL).
 *
 * AUTH runs once the final EHLO reply is in: after the TLS handshake when STARTTLS is used,
 * so the mechanism is chosen only from what the server offered over TLS (RFC 3207 4.2). It
 * never runs over plaintext unless the settings allow it.
 *
 * Steps (auth_step). 0 is the AUTH command: PLAIN, XOAUTH2, OAUTHBEARER, SCRAM-SHA-256 and
 * EXTERNAL (the authorization identity, or "=" for none) send their first message as the
 * initial response; LOGIN and CRAM-MD5 wait for a challenge.
 * LOGIN answers its two 334 challenges with the user name (1), then the password (2).
 * CRAM-MD5 answers its challenge with "user SP hex(HMAC-MD5(password, challenge))" (1).
 * SCRAM answers the server-first message with the client-final message (1), and the
 * server-final message, once its signature verified, with an empty response (2: RFC 4954 4
 * carries a mechanism's final server data in a 334, never in the 235). STEP_END is the
 * response that ends an exchange early: the empty one (or "AQ==") the specifications of
 * XOAUTH2 and OAUTHBEARER require after an error challenge, or "*" to cancel.
 *
 * Messages the client makes up itself are built in the scratch buffer and base64-encoded
 * after it at the moment they are sent. Messages that answer a challenge are computed when
 * the challenge arrives (its text lives only during the reply) and kept in the SASL buffer
 * until they are sent; secrets are wiped once used. A SCRAM server that does not prove it
 * knows the password (a wrong ServerSignature, or a 235 before it) fails the session with
 * nothing more sent: it is not the server the password belongs to.
 */
#include "client_internal.h"

#include <smtp/codec.h>
#include <smtp/command.h>

#include <string.h>

enum {
    MECH_NONE,
    MECH_PLAIN,
    MECH_LOGIN,
    MECH_XOAUTH2,
    MECH_OAUTHBEARER,
    MECH_CRAM_MD5,
    MECH_SCRAM_SHA_256,
    MECH_EXTERNAL,
    MECH_LAST = MECH_EXTERNAL
};

#define STEP_END 9

static const char *const mech_names[] = {
    "", "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "SCRAM-SHA-256", "EXTERNAL"};
static const char *const mech_lower[] = {
    "", "plain", "login", "xoauth2", "oauthbearer", "cram-md5", "scram-sha-256", "external"};
static const uint32_t mech_bits[] = {0,
                                     SMTP_AUTH_PLAIN,
                                     SMTP_AUTH_LOGIN,
                                     SMTP_AUTH_XOAUTH2,
                                     SMTP_AUTH_OAUTHBEARER,
                                     SMTP_AUTH_CRAM_MD5,
                                     SMTP_AUTH_SCRAM_SHA_256,
                                     SMTP_AUTH_EXTERNAL};

#define SCRAM_NONCE_RAW 15 /* octets of randomness: 20 base64 characters, no padding */
#define SHA256_LEN 32

static int uses_token(int mech)
{
    return mech == MECH_XOAUTH2 || mech == MECH_OAUTHBEARER;
}

/* Whether the crypto functions `mech` needs are there. */
static int crypto_ok(const smtp_client_settings *s, int mech)
{
    const smtp_client_crypto *k = s->crypto;
    if (mech == MECH_CRAM_MD5) return k && k->hmac_md5;
    if (mech == MECH_SCRAM_SHA_256) return k && k->hmac_sha256 && k->sha256 && k->random;
    return 1;
}

/* EXTERNAL's credential is the client certificate the TLS layer presents. */
static int has_credential(const smtp_client_settings *s, int mech)
{
    if (mech == MECH_EXTERNAL) return (s->flags & SMTP_CLIENT_AUTH_EXTERNAL) != 0;
    if (!s->auth_user) return 0;
    return uses_token(mech) ? s->auth_token != NULL : s->auth_password != NULL;
}

int smtp_cli_auth_wanted(const smtp_client_settings *s)
{
    return s->auth_user || (s->flags & SMTP_CLIENT_AUTH_EXTERNAL);
}

int smtp_cli_auth_named(const smtp_client_settings *s)
{
    if (!s->auth_mech) return 0;
    for (int m = MECH_PLAIN; m <= MECH_LAST; m++) {
        if (!smtp_span_ieq(s->auth_mech, strlen(s->auth_mech), mech_lower[m])) continue;
        if (!crypto_ok(s, m)) return -1;
        /* The named mechanism needs its kind of credential. */
        if ((smtp_cli_auth_wanted(s) || m == MECH_EXTERNAL) && !has_credential(s, m)) return -1;
        return m;
    }
    return -1;
}

size_t smtp_cli_auth_buffer_size(const smtp_client_settings *s)
{
    if (!s->crypto || !s->auth_user) return 0;
    size_t ids = strlen(s->auth_user) + (s->auth_authzid ? strlen(s->auth_authzid) : 0);
    /* SCRAM's AuthMessage and client-final message: the server-first message (at most
     * max_reply_text as base64) twice at most, the escaped names, the fixed parts. */
    return 2 * s->max_reply_text + 8 * ids + 256;
}

/*
 * The strongest offered mechanism the credentials allow: a bearer token over a password (it
 * is scoped and revocable); then SCRAM-SHA-256 (the password never leaves the client and the
 * server proves it knows it), CRAM-MD5 (the password never leaves the client), PLAIN, LOGIN;
 * EXTERNAL only when neither a password nor a token is configured. Or the one named.
 * EXTERNAL needs TLS even with SMTP_CLIENT_AUTH_PLAINTEXT: the certificate is TLS's.
 */
static int choose(const smtp_client *cli)
{
    uint32_t offered = cli->ehlo ? smtp_caps_auth_mechs(&cli->caps) : 0;
    int named = smtp_cli_auth_named(&cli->set);
    if (!cli->tls_active) offered &= ~(uint32_t)SMTP_AUTH_EXTERNAL;
    if (named > 0)
        return (offered & mech_bits[named]) && has_credential(&cli->set, named) ? named : MECH_NONE;
    static const int order[] = {MECH_OAUTHBEARER, MECH_XOAUTH2, MECH_SCRAM_SHA_256,
                                MECH_CRAM_MD5,    MECH_PLAIN,   MECH_LOGIN};
    for (size_t i = 0; i < SMTP_ARRAY_LEN(order); i++) {
        int m = order[i];
        if ((offered & mech_bits[m]) && crypto_ok(&cli->set, m) && has_credential(&cli->set, m))
            return m;
    }
    const smtp_client_settings *s = &cli->set;
    if ((offered & SMTP_AUTH_EXTERNAL) && has_credential(s, MECH_EXTERNAL) && !s->auth_password &&
        !s->auth_token)
        return MECH_EXTERNAL;
    return MECH_NONE;
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int smtp_cli_auth_start(smtp_client *cli)
{
    /* RFC 4954 4: never send credentials in clear unless told to. */
    int allowed = cli->tls_active || (cli->set.flags & SMTP_CLIENT_AUTH_PLAINTEXT);
    int mech = allowed ? choose(cli) : MECH_NONE;
    if (mech == MECH_NONE) return smtp_cli_end(cli, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
    cli->auth_mech = mech;
    cli->auth_step = 0;
    cli->auth_cancelled = 0;
    cli->auth_verified = 0;
    cli->sasl_len = 0;
    if (mech == MECH_SCRAM_SHA_256) {
        /* RFC 5802 5.1: a fresh random nonce of printable characters other than ','. */
        const smtp_client_crypto *k = cli->set.crypto;
        unsigned char raw[SCRAM_NONCE_RAW];
        if (k->random(raw, sizeof raw, k->ctx) < 0) return SMTP_ERR_CALLBACK_FAILURE;
        smtp_base64_encode((const char *)raw, sizeof raw, cli->auth_nonce, sizeof cli->auth_nonce);
    }
    cli->phase = SMTP_CLI_AUTH;
    return 0;
}

/* ---- building messages ---- */

/* RFC 5802 5.1 saslname: ',' and '=' are written "=2C" and "=3D". */
static void sb_saslname(smtp_strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ',')
            smtp_strbuf_puts(b, "=2C");
        else if (*s == '=')
            smtp_strbuf_puts(b, "=3D");
        else
            smtp_strbuf_put(b, s, 1);
    }
}

/* RFC 5802 7: gs2-header = "n," ["a=" saslname] "," (no channel binding). */
static void sb_gs2_header(smtp_strbuf *b, const smtp_client_settings *s)
{
    smtp_strbuf_puts(b, "n,");
    if (s->auth_authzid) {
        smtp_strbuf_puts(b, "a=");
        sb_saslname(b, s->auth_authzid);
    }
    smtp_strbuf_puts(b, ",");
}

/* RFC 5802 7: client-first-message-bare = "n=" saslname ",r=" c-nonce. */
static void sb_client_first_bare(smtp_strbuf *b, const smtp_client *cli)
{
    smtp_strbuf_puts(b, "n=");
    sb_saslname(b, cli->set.auth_user);
    smtp_strbuf_puts(b, ",r=");
    smtp_strbuf_put(b, cli->auth_nonce, sizeof cli->auth_nonce);
}

/* Builds the raw SASL message the client makes up itself for the current step into scratch;
 * returns its length, or (size_t)-1 when it does not fit in `limit`. */
static size_t build(smtp_client *cli, size_t limit)
{
    const smtp_client_settings *s = &cli->set;
    smtp_strbuf b = {cli->scratch, 0, limit, 0};
    switch (cli->auth_mech) {
    case MECH_PLAIN: /* RFC 4616 2: [authzid] NUL authcid NUL passwd */
        if (s->auth_authzid) smtp_strbuf_puts(&b, s->auth_authzid);
        smtp_strbuf_put(&b, "", 1);
        smtp_strbuf_puts(&b, s->auth_user);
        smtp_strbuf_put(&b, "", 1);
        smtp_strbuf_puts(&b, s->auth_password);
        break;
    case MECH_LOGIN:
        smtp_strbuf_puts(&b, cli->auth_step == 1 ? s->auth_user : s->auth_password);
        break;
    case MECH_XOAUTH2: /* "user=" user ^A "auth=Bearer " token ^A ^A */
        smtp_strbuf_puts(&b, "user=");
        smtp_strbuf_puts(&b, s->auth_user);
        smtp_strbuf_puts(&b, "\001auth=Bearer ");
        smtp_strbuf_puts(&b, s->auth_token);
        smtp_strbuf_puts(&b, "\001\001");
        break;
    case MECH_OAUTHBEARER: /* RFC 7628 3.1: gs2-header ^A "auth=Bearer " token ^A ^A */
        sb_gs2_header(&b, s); /* the authzid's ',' and '=' as "=2C" and "=3D" (RFC 5801 4) */
        smtp_strbuf_puts(&b, "\001auth=Bearer ");
        smtp_strbuf_puts(&b, s->auth_token);
        smtp_strbuf_puts(&b, "\001\001");
        break;
    case MECH_SCRAM_SHA_256: /* RFC 5802 7: client-first-message */
        sb_gs2_header(&b, s);
        sb_client_first_bare(&b, cli);
        break;
    case MECH_EXTERNAL: /* RFC 4422 A.1: the authorization identity, or empty ("=") */
        if (s->auth_authzid) smtp_strbuf_puts(&b, s->auth_authzid);
        break;
    default: b.err = SMTP_ERR_INVALID_STATE;
    }
    return b.err ? (size_t)-1 : b.len;
}

int smtp_cli_scratch(smtp_client *cli)
{
    if (!cli->scratch) cli->scratch = smtp_malloc(cli->mem, cli->set.max_output);
    return cli->scratch ? 0 : SMTP_ERR_NOMEM;
}

int smtp_cli_auth_produce(smtp_client *cli)
{
    size_t room;
    smtp_ssize e;
    int mech = cli->auth_mech, step = cli->auth_step;
    int from_sasl = 0;
    size_t max = cli->set.max_output;
    char *dst = smtp_cli_out_room(cli, max, &room); /* an AUTH line may take all of it */
    if (!dst || smtp_cli_scratch(cli) < 0) return SMTP_ERR_NOMEM;
    if (step == STEP_END) {
        /* "*" cancels; RFC 7628 3.2.3's "AQ==" and XOAUTH2's empty line end an error. */
        int cancel = cli->auth_cancelled || mech == MECH_PLAIN || mech == MECH_EXTERNAL;
        const char *text = cancel ? "*" : mech == MECH_OAUTHBEARER ? "AQ==" : "";
        e = smtp_emit_sasl_response(dst, room, text, strlen(text));
    } else if (step == 0 && (mech == MECH_LOGIN || mech == MECH_CRAM_MD5)) {
        e = smtp_emit_auth(dst, room, mech_names[mech], strlen(mech_names[mech]), NULL, 0);
    } else if (step == 2 && mech == MECH_SCRAM_SHA_256) {
        e = smtp_emit_sasl_response(dst, room, "", 0);
    } else {
        size_t limit = max / 4; /* raw, then 4/3 as much base64 after it */
        const char *raw = cli->scratch;
        size_t rawlen;
        from_sasl = step == 1 && (mech == MECH_CRAM_MD5 || mech == MECH_SCRAM_SHA_256);
        if (from_sasl) {
            raw = cli->sasl + cli->sasl_off;
            rawlen = cli->sasl_len <= limit ? cli->sasl_len : (size_t)-1;
        } else {
            rawlen = build(cli, limit);
        }
        if (rawlen == (size_t)-1)
            return smtp_cli_end(cli, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
        smtp_ssize b = smtp_base64_encode(raw, rawlen, cli->scratch + limit, max - limit);
        if (!from_sasl) wipe(cli->scratch, rawlen); /* do not keep the secret around */
        if (b < 0) return smtp_cli_end(cli, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
        const char *b64 = cli->scratch + limit;
        if (step == 0)
            e = smtp_emit_auth(dst, room, mech_names[mech], strlen(mech_names[mech]), b64,
                               (size_t)b);
        else
            e = smtp_emit_sasl_response(dst, room, b64, (size_t)b);
        wipe(cli->scratch + limit, (size_t)b);
    }
    if (e == SMTP_ERR_NOBUF && cli->out_len) return 0; /* after the output drains */
    if (e < 0) return smtp_cli_end(cli, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
    if (from_sasl) wipe(cli->sasl, cli->sasl_cap);
    smtp_cli_out_commit(cli, (size_t)e, SMTP_VERB_AUTH);
    smtp_cli_expect_push(cli, SMTP_CLI_X_AUTH, 0, 0);
    cli->phase = SMTP_CLI_WAIT;
    return 1;
}

/* ---- answering challenges ---- */

/* Decodes the base64 text of a 334 challenge into sasl[off..); returns its length, or -1 when
 * it is not one line of base64 (RFC 4954 4). */
static smtp_ssize decode_challenge(smtp_client *cli, const smtp_client_reply *r, size_t off)
{
    if (r->lines != 1 || r->truncated || off > cli->sasl_cap) return -1;
    smtp_ssize n =
        smtp_base64_decode(r->text.ptr, r->text.len, cli->sasl + off, cli->sasl_cap - off);
    return n < 0 ? -1 : n;
}

/* The next message is sasl[off .. off + len): send it at step `step`. */
static int answer(smtp_client *cli, size_t off, size_t len, int step)
{
    cli->sasl_off = off;
    cli->sasl_len = len;
    cli->auth_step = step;
    cli->phase = SMTP_CLI_AUTH;
    return 0;
}

/* RFC 2195 2: the response is the user name, SP, and HMAC-MD5(password, challenge) as 32
 * lowercase hex digits. */
static int cram_md5(smtp_client *cli, const smtp_client_reply *r)
{
    const smtp_client_settings *s = &cli->set;
    const smtp_client_crypto *k = s->crypto;
    size_t ulen = strlen(s->auth_user), coff = ulen + 1 + 32;
    smtp_ssize n = decode_challenge(cli, r, coff);
    if (n < 0) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    unsigned char mac[16];
    int rv = k->hmac_md5((const unsigned char *)s->auth_password, strlen(s->auth_password),
                         (const unsigned char *)cli->sasl + coff, (size_t)n, mac, k->ctx);
    if (rv < 0) return SMTP_ERR_CALLBACK_FAILURE;
    memcpy(cli->sasl, s->auth_user, ulen);
    cli->sasl[ulen] = ' ';
    for (size_t i = 0; i < sizeof mac; i++) {
        cli->sasl[ulen + 1 + 2 * i] = "0123456789abcdef"[mac[i] >> 4];
        cli->sasl[ulen + 2 + 2 * i] = "0123456789abcdef"[mac[i] & 15];
    }
    wipe(mac, sizeof mac);
    return answer(cli, 0, coff, 1);
}

/* The value of attribute `name` ("r=") at the start of s[*pos..n); advances *pos past it and
 * its ','. Returns 0, or -1 when the next attribute is another one. */
static int scram_attr(const char *s, size_t n, size_t *pos, char name, smtp_span *value)
{
    size_t i = *pos;
    if (n - i < 2 || s[i] != name || s[i + 1] != '=') return -1;
    size_t end = i + 2;
    while (end < n && s[end] != ',')
        end++;
    value->ptr = s + i + 2;
    value->len = end - (i + 2);
    *pos = end < n ? end + 1 : end;
    return 0;
}

/* HMAC-SHA-256 through the hook; -1 when it failed. */
static int hmac(const smtp_client *cli, const void *key, size_t keylen, const void *msg, size_t len,
                unsigned char *out)
{
    const smtp_client_crypto *k = cli->set.crypto;
    return k->hmac_sha256(key, keylen, msg, len, out, k->ctx) < 0 ? -1 : 0;
}

/* RFC 5802 3: SaltedPassword = Hi(password, salt, i); ClientKey, StoredKey, the client proof
 * over AuthMessage, and the ServerSignature kept to check the server-final message. `salt`
 * has 4 octets of room after it for INT(1). */
static int scram_keys(smtp_client *cli, unsigned char *salt, size_t slen, uint32_t iterations,
                      const char *auth_msg, size_t alen, unsigned char proof[SHA256_LEN])
{
    const smtp_client_crypto *k = cli->set.crypto;
    const char *pw = cli->set.auth_password;
    size_t pwlen = strlen(pw);
    unsigned char salted[SHA256_LEN], u[SHA256_LEN], key[SHA256_LEN], stored[SHA256_LEN];
    int rv = -1;
    memcpy(salt + slen, "\0\0\0\1", 4);
    if (hmac(cli, pw, pwlen, salt, slen + 4, u) < 0) goto out;
    memcpy(salted, u, sizeof u);
    for (uint32_t j = 1; j < iterations; j++) {
        if (hmac(cli, pw, pwlen, u, sizeof u, key) < 0) goto out; /* U(j) = HMAC(pw, U(j-1)) */
        memcpy(u, key, sizeof u);
        for (size_t i = 0; i < sizeof u; i++)
            salted[i] ^= u[i];
    }
    if (hmac(cli, salted, sizeof salted, "Client Key", 10, key) < 0 ||
        k->sha256(key, sizeof key, stored, k->ctx) < 0 ||
        hmac(cli, stored, sizeof stored, auth_msg, alen, proof) < 0)
        goto out;
    for (size_t i = 0; i < SHA256_LEN; i++)
        proof[i] ^= key[i]; /* ClientProof = ClientKey XOR ClientSignature */
    if (hmac(cli, salted, sizeof salted, "Server Key", 10, key) < 0 ||
        hmac(cli, key, sizeof key, auth_msg, alen, cli->auth_server_sig) < 0)
        goto out;
    rv = 0;
out:
    wipe(salted, sizeof salted);
    wipe(u, sizeof u);
    wipe(key, sizeof key);
    wipe(stored, sizeof stored);
    return rv;
}

/* The server-first message: compute the client-final message. The SASL buffer then holds
 * AuthMessage = client-first-message-bare "," server-first-message ","
 * client-final-message-without-proof, and the client-final message is its tail with the
 * proof appended (RFC 5802 3, 7). */
static int scram_first(smtp_client *cli, const smtp_client_reply *r)
{
    smtp_strbuf b = {cli->sasl, 0, cli->sasl_cap, 0};
    sb_client_first_bare(&b, cli);
    smtp_strbuf_puts(&b, ",");
    size_t sf = b.len;
    smtp_ssize n = b.err ? -1 : decode_challenge(cli, r, sf);
    if (n < 0) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    b.len += (size_t)n;
    /* server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
     * ["," extensions]: an "m=" extension is mandatory, and unknown here. */
    const char *msg = cli->sasl + sf;
    size_t pos = 0;
    smtp_span nonce, salt, count;
    if (scram_attr(msg, (size_t)n, &pos, 'r', &nonce) < 0 ||
        scram_attr(msg, (size_t)n, &pos, 's', &salt) < 0 ||
        scram_attr(msg, (size_t)n, &pos, 'i', &count) < 0)
        return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    /* The nonce is ours followed by the server's, printable without ','. */
    if (nonce.len <= sizeof cli->auth_nonce ||
        memcmp(nonce.ptr, cli->auth_nonce, sizeof cli->auth_nonce) != 0)
        return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    for (size_t i = 0; i < nonce.len; i++)
        if ((unsigned char)nonce.ptr[i] < 0x21 || (unsigned char)nonce.ptr[i] > 0x7e)
            return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    uint64_t iterations = 0;
    for (size_t i = 0; i < count.len; i++) {
        if (!smtp_is_digit((unsigned char)count.ptr[i]) || iterations > UINT32_MAX)
            return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
        iterations = iterations * 10 + (uint64_t)(count.ptr[i] - '0');
    }
    if (count.len == 0 || iterations == 0) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    /* RFC 7677 4: fewer than 4096 iterations (auth_min_iterations) weaken the stored key. A
     * floor above the ceiling counts as the ceiling (a version-1 caller's low ceiling). */
    uint32_t floor = cli->set.auth_min_iterations;
    if (floor > cli->set.auth_max_iterations) floor = cli->set.auth_max_iterations;
    if (iterations > cli->set.auth_max_iterations || iterations < floor) {
        cli->auth_cancelled = 1; /* RFC 4954 4: "*" cancels the exchange */
        return answer(cli, 0, 0, STEP_END);
    }
    /* client-final-message-without-proof = "c=" base64(gs2-header) ",r=" nonce */
    smtp_strbuf_puts(&b, ",");
    size_t cf = b.len;
    smtp_strbuf gs2 = {cli->scratch, 0, cli->set.max_output, 0}; /* made by the first AUTH line */
    sb_gs2_header(&gs2, &cli->set);
    smtp_strbuf_puts(&b, "c=");
    if (gs2.err) b.err = gs2.err;
    smtp_strbuf_base64(&b, gs2.p, gs2.len);
    smtp_strbuf_puts(&b, ",r=");
    smtp_strbuf_put(&b, nonce.ptr, nonce.len);
    /* The salt, decoded into scratch with room for INT(1) after it. */
    smtp_ssize slen = smtp_base64_decode(salt.ptr, salt.len, cli->scratch, cli->set.max_output - 4);
    if (slen <= 0 || b.err) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    unsigned char proof[SHA256_LEN];
    if (scram_keys(cli, (unsigned char *)cli->scratch, (size_t)slen, (uint32_t)iterations,
                   cli->sasl, b.len, proof) < 0)
        return SMTP_ERR_CALLBACK_FAILURE;
    smtp_strbuf_puts(&b, ",p=");
    smtp_strbuf_base64(&b, proof, sizeof proof);
    wipe(proof, sizeof proof);
    if (b.err) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    return answer(cli, cf, b.len - cf, 1);
}

/* The server-final message: "v=" and the ServerSignature, which must match (RFC 5802 9), or
 * "e=" and an error, to which the empty response lets the server send its refusal. */
static int scram_final(smtp_client *cli, const smtp_client_reply *r)
{
    smtp_ssize n = decode_challenge(cli, r, 0);
    if (n < 0) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    size_t pos = 0;
    smtp_span v;
    if (scram_attr(cli->sasl, (size_t)n, &pos, 'e', &v) == 0) return answer(cli, 0, 0, 2);
    unsigned char sig[SHA256_LEN + 3];
    if (scram_attr(cli->sasl, (size_t)n, &pos, 'v', &v) < 0 ||
        smtp_base64_decode(v.ptr, v.len, (char *)sig, sizeof sig) != SHA256_LEN)
        return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    unsigned diff = 0;
    for (size_t i = 0; i < SHA256_LEN; i++)
        diff |= (unsigned)(sig[i] ^ cli->auth_server_sig[i]);
    if (diff) return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
    cli->auth_verified = 1;
    return answer(cli, 0, 0, 2);
}

static int challenge(smtp_client *cli, const smtp_client_reply *r)
{
    int mech = cli->auth_mech, step = cli->auth_step;
    if (mech == MECH_LOGIN && step < 2) {
        cli->auth_step++; /* 1: the user name, 2: the password */
        cli->phase = SMTP_CLI_AUTH;
        return 0;
    }
    if (mech == MECH_CRAM_MD5 && step == 0) return cram_md5(cli, r);
    if (mech == MECH_SCRAM_SHA_256 && step == 0) return scram_first(cli, r);
    if (mech == MECH_SCRAM_SHA_256 && step == 1) return scram_final(cli, r);
    if (step == 0 && (mech == MECH_PLAIN || mech == MECH_EXTERNAL || uses_token(mech))) {
        cli->auth_step = STEP_END; /* an error challenge (RFC 7628 3.2.2) or an odd one: end it */
        cli->phase = SMTP_CLI_AUTH;
        return 0;
    }
    return smtp_cli_fail(cli, SMTP_ERR_PROTO, r); /* a challenge after the exchange is over */
}

int smtp_cli_auth_reply(smtp_client *cli, const smtp_client_reply *r)
{
    if (r->code == 334) return challenge(cli, r);
    wipe(cli->sasl, cli->sasl_cap);
    smtp_client_end refused =
        cli->auth_cancelled ? SMTP_CLIENT_END_AUTH_UNAVAILABLE : SMTP_CLIENT_END_AUTH_FAILED;
    if (r->code == 235) { /* RFC 4954 6: authenticated */
        if (cli->auth_step == STEP_END) return smtp_cli_end(cli, refused, 0, r, 1);
        /* RFC 5802 9: a server that did not prove it knows the password is not trusted. */
        if (cli->auth_mech == MECH_SCRAM_SHA_256 && !cli->auth_verified)
            return smtp_cli_fail(cli, SMTP_ERR_PROTO, r);
        return smtp_cli_ready(cli);
    }
    return smtp_cli_end(cli, refused, 0, r, 1);
}
