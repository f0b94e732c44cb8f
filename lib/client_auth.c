/*
 * The client session engine: SASL authentication (RFC 4954) with PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login), XOAUTH2 (Google's) and OAUTHBEARER (RFC 7628).
 *
 * AUTH runs once the final EHLO reply is in: after the TLS handshake when STARTTLS is used,
 * so the mechanism is chosen only from what the server offered over TLS (RFC 3207 4.2). It
 * never runs over plaintext unless the settings allow it. PLAIN, XOAUTH2 and OAUTHBEARER send
 * their message as the initial response (one round trip); LOGIN answers the two 334
 * challenges with the user name, then the password. A 334 to XOAUTH2 or OAUTHBEARER carries
 * an error: the client answers with the empty response their specifications require and
 * reads the final failure. The SASL message is built in the scratch buffer, base64-encoded
 * after it, and emitted with smtp_emit_auth / smtp_emit_sasl_response.
 */
#include "client_internal.h"

#include <smtp/codec.h>
#include <smtp/command.h>

#include <string.h>

enum { MECH_NONE, MECH_PLAIN, MECH_LOGIN, MECH_XOAUTH2, MECH_OAUTHBEARER };

static const char *const mech_names[] = {"", "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"};
static const uint32_t mech_bits[] = {0, SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN, SMTP_AUTH_XOAUTH2,
                                     SMTP_AUTH_OAUTHBEARER};

static int uses_token(int mech)
{
    return mech == MECH_XOAUTH2 || mech == MECH_OAUTHBEARER;
}

int smtp_cli_auth_named(const smtp_client_settings *s)
{
    static const char *const lower[] = {"", "plain", "login", "xoauth2", "oauthbearer"};
    if (!s->auth_mech) return 0;
    for (int m = MECH_PLAIN; m <= MECH_OAUTHBEARER; m++) {
        if (!smtp_span_ieq(s->auth_mech, strlen(s->auth_mech), lower[m])) continue;
        /* The named mechanism needs its kind of credential. */
        if (s->auth_user && !(uses_token(m) ? s->auth_token : s->auth_password)) return -1;
        return m;
    }
    return -1;
}

/* The strongest offered mechanism the credentials allow (a bearer token over a password:
 * it is scoped and revocable), or the one named. */
static int choose(const smtp_client *c)
{
    uint32_t offered = c->ehlo ? smtp_caps_auth_mechs(&c->caps) : 0;
    int named = smtp_cli_auth_named(&c->set);
    if (named > 0) return (offered & mech_bits[named]) ? named : MECH_NONE;
    static const int order[] = {MECH_OAUTHBEARER, MECH_XOAUTH2, MECH_PLAIN, MECH_LOGIN};
    for (size_t i = 0; i < SMTP_ARRAY_LEN(order); i++) {
        int m = order[i];
        if (!(offered & mech_bits[m])) continue;
        if (uses_token(m) ? c->set.auth_token != NULL : c->set.auth_password != NULL) return m;
    }
    return MECH_NONE;
}

int smtp_cli_auth_start(smtp_client *c)
{
    /* RFC 4954 4: never send credentials in clear unless told to. */
    int mech = (c->tls_active || c->set.auth_allow_plaintext) ? choose(c) : MECH_NONE;
    if (mech == MECH_NONE) return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
    c->auth_mech = mech;
    c->auth_step = 0;
    c->phase = SMTP_CLI_AUTH;
    return 0;
}

/* Builds the raw SASL message of the current step into scratch; returns its length, or
 * (size_t)-1 when it does not fit. `limit` leaves room for its base64 form after it. */
static size_t build(smtp_client *c, size_t limit)
{
    const smtp_client_settings *s = &c->set;
    size_t n = 0;
    int ok = 1;
#define PUT(str, len)                                                                              \
    do {                                                                                           \
        size_t l_ = (len);                                                                         \
        if (n + l_ > limit)                                                                        \
            ok = 0;                                                                                \
        else                                                                                       \
            memcpy(c->scratch + n, (str), l_), n += l_;                                            \
    } while (0)
#define PUTS(str) PUT((str), strlen(str))
    switch (c->auth_mech) {
    case MECH_PLAIN: /* RFC 4616 2: [authzid] NUL authcid NUL passwd */
        if (s->auth_authzid) PUTS(s->auth_authzid);
        PUT("", 1);
        PUTS(s->auth_user);
        PUT("", 1);
        PUTS(s->auth_password);
        break;
    case MECH_LOGIN:
        if (c->auth_step == 1)
            PUTS(s->auth_user);
        else
            PUTS(s->auth_password);
        break;
    case MECH_XOAUTH2: /* "user=" user ^A "auth=Bearer " token ^A ^A */
        PUTS("user=");
        PUTS(s->auth_user);
        PUTS("\001auth=Bearer ");
        PUTS(s->auth_token);
        PUTS("\001\001");
        break;
    case MECH_OAUTHBEARER: /* RFC 7628 3.1: gs2-header ^A "auth=Bearer " token ^A ^A */
        PUTS("n,");
        if (s->auth_authzid) {
            PUTS("a=");
            PUTS(s->auth_authzid);
        }
        PUTS(",\001auth=Bearer ");
        PUTS(s->auth_token);
        PUTS("\001\001");
        break;
    default: ok = 0;
    }
#undef PUT
#undef PUTS
    return ok ? n : (size_t)-1;
}

int smtp_cli_auth_produce(smtp_client *c)
{
    size_t room;
    smtp_ssize e;
    char *dst = smtp_cli_out_room(c, &room);
    /* Step 0 is the AUTH command; a step after an error challenge (auth_step 9) is the
     * response that ends the exchange. */
    if (c->auth_step == 9) {
        const char *resp = c->auth_mech == MECH_OAUTHBEARER ? "AQ==" : ""; /* RFC 7628 3.2.3 */
        const char *text = c->auth_mech == MECH_PLAIN ? "*" : resp;
        e = smtp_emit_sasl_response(dst, room, text, strlen(text));
    } else if (c->auth_mech == MECH_LOGIN && c->auth_step == 0) {
        e = smtp_emit_auth(dst, room, "LOGIN", 5, NULL, 0);
    } else {
        size_t limit = c->out_cap / 4; /* raw, then 4/3 as much base64 after it */
        size_t raw = build(c, limit);
        if (raw == (size_t)-1) return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
        smtp_ssize b = smtp_base64_encode(c->scratch, raw, c->scratch + limit, c->out_cap - limit);
        if (b < 0) return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
        const char *b64 = c->scratch + limit;
        if (c->auth_step == 0) {
            const char *name = mech_names[c->auth_mech];
            e = smtp_emit_auth(dst, room, name, strlen(name), b64, (size_t)b);
        } else {
            e = smtp_emit_sasl_response(dst, room, b64, (size_t)b);
        }
        memset(c->scratch, 0, raw); /* do not keep the secret around */
    }
    if (e == SMTP_ERR_NOBUF && c->out_len) return 0;
    if (e < 0) return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_UNAVAILABLE, 0, NULL, 1);
    smtp_cli_out_commit(c, (size_t)e, SMTP_VERB_AUTH);
    smtp_cli_expect_push(c, SMTP_CLI_X_AUTH, 0, 0);
    c->phase = SMTP_CLI_WAIT;
    return 1;
}

int smtp_cli_auth_reply(smtp_client *c, const smtp_client_reply *r)
{
    if (r->code == 235) { /* RFC 4954 6: authenticated */
        if (c->auth_step == 9) return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_FAILED, 0, r, 1);
        c->phase = SMTP_CLI_READY;
        return 0;
    }
    if (r->code == 334) {
        if (c->auth_mech == MECH_LOGIN && c->auth_step < 2) {
            c->auth_step++; /* 1: the user name, 2: the password */
            c->phase = SMTP_CLI_AUTH;
            return 0;
        }
        if (c->auth_step != 9 && c->auth_mech != MECH_LOGIN) {
            c->auth_step = 9; /* an error challenge (RFC 7628 3.2.2) or an odd one: end it */
            c->phase = SMTP_CLI_AUTH;
            return 0;
        }
        return SMTP_ERR_PROTO; /* a challenge after the exchange should be over */
    }
    return smtp_cli_end(c, SMTP_CLIENT_END_AUTH_FAILED, 0, r, 1);
}
