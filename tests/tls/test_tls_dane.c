/* SPDX-License-Identifier: MIT */
/*
 * Tests of DANE (RFC 7672; smtp_tls_set_dane, smtp_tls_dane_result) in memory: a client and a
 * server session joined by the wires of pair.h, every handshake run with the records cut into
 * random pieces and into single octets, with certificates made at run time (pki.h) and TLSA
 * records computed from them (test_pki_tlsa).
 *   DANE-EE   every selector and matching type; a mismatch fails; an expired certificate and a
 *             certificate for another name pass (RFC 7672 3.1.1); certificate authorities do
 *             not count either way.
 *   DANE-TA   the root or an intermediate as trust anchor, by certificate or key; the name
 *             of the base domain or of the MX host, wildcards, the CN without subjectAltName;
 *             a wrong name, an anchor not sent, an anchor that signed nothing, an expired leaf
 *             fail; the failure that got furthest is reported.
 *   unusable  PKIX-TA/PKIX-EE only, unknown parameters, digests of the wrong length: TLS
 *             without authentication.
 *   the API   what is refused, when; SNI; a second call; the allocator.
 */
#include <smtp/tls.h>

#include "check.h"
#include "failmem.h"
#include "pair.h"
#include "pki.h"
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_pki pki;

/* mbedTLS's certificate flags the tests look for (x509.h; the same in 2.28 and 3.x). */
#define BADCERT_EXPIRED 0x01u
#define BADCERT_CN_MISMATCH 0x04u
#define BADCERT_NOT_TRUSTED 0x08u
/* MBEDTLS_ERR_X509_CERT_VERIFY_FAILED */
#define CERT_VERIFY_FAILED (-0x2700)

/* The piece sizes every handshake is run with: single octets, small and whole records. */
static const size_t pieces[] = {1, 333, 20000};

/* TLSA records under construction: each keeps its data. */
#define MAX_SET 8
typedef struct tlsa_set {
    smtp_tls_tlsa rr[MAX_SET];
    unsigned char data[MAX_SET][PKI_PEM_MAX];
    size_t n;
} tlsa_set;

/* Appends the record "usage selector mtype" for certificate `index` of the PEM `pem`. */
static void add(tlsa_set *s, int usage, int selector, int mtype, const char *pem, size_t index)
{
    smtp_tls_tlsa *r = &s->rr[s->n];
    r->usage = (uint8_t)usage;
    r->selector = (uint8_t)selector;
    r->mtype = (uint8_t)mtype;
    r->len = test_pki_tlsa(pem, index, selector, mtype, s->data[s->n], sizeof s->data[s->n]);
    r->data = s->data[s->n];
    CHECK(r->len > 0);
    s->n++;
}

/* What one handshake with DANE should give. */
typedef struct want {
    smtp_tls_dane_status status;
    size_t index; /* SIZE_MAX: none */
    const char *text;
} want;

static smtp_tls_config *cli_req, *cli_none, *cli_other; /* CAs: the test CA, none, another */

/*
 * Runs a client of `ccfg` for `host` with the records and names against a server of `chain`
 * (the server's key unless `key`), once for each piece size, and checks the outcome: the
 * handshake completes exactly when DANE authenticated or had no usable record, and the
 * result, the texts and the verification say the same.
 */
static void run(smtp_tls_config *ccfg, const char *host, const char *chain, const char *key,
                const tlsa_set *set, const char *base, const char *mx, want w)
{
    smtp_tls_config *scfg =
        pair_server_config(chain, key ? key : pki.server_key, SMTP_TLS_DEFAULT_BUFFER);
    smtp_tls_dane d;
    smtp_tls_dane_init(&d);
    d.tlsa = set->rr;
    d.ntlsa = set->n;
    d.base_domain = base;
    d.mx_host = mx;
    int ok = w.status == SMTP_TLS_DANE_MATCHED || w.status == SMTP_TLS_DANE_UNUSABLE;
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        wire_seed = 100 + k;
        pair p;
        pair_open(&p, ccfg, host, scfg, pieces[k]);
        CHECK_INT(smtp_tls_set_dane(p.cli, &d), 0);
        CHECK_INT(smtp_tls_dane_result(p.cli, NULL, NULL), SMTP_TLS_DANE_PENDING);
        pair_run(&p);
        size_t index = 0;
        uint8_t usage = 99;
        CHECK_INT(smtp_tls_dane_result(p.cli, &index, &usage), w.status);
        CHECK_INT(index, w.index);
        if (w.index != SIZE_MAX) CHECK_INT(usage, set->rr[w.index].usage);
        char text[600], fail[700];
        CHECK(smtp_tls_verify_text(p.cli, text, sizeof text) > 0);
        if (!strstr(text, w.text)) fprintf(stderr, "text \"%s\", wanted \"%s\"\n", text, w.text);
        CHECK(strstr(text, w.text) != NULL);
        smtp_tls_failure_text(p.cli, fail, sizeof fail);
        uint32_t flags = smtp_tls_verify_result(p.cli);
        if (ok) {
            check_open(&p);
            CHECK_INT(smtp_tls_verify_failed(p.cli), 0);
            CHECK_STR(fail, "");
            CHECK_INT(flags, w.status == SMTP_TLS_DANE_MATCHED ? 0 : SMTP_TLS_VERIFY_UNAVAILABLE);
        } else {
            CHECK_INT(smtp_tls_get_state(p.cli), SMTP_TLS_FAILED);
            CHECK_INT(smtp_tls_get_state(p.srv), SMTP_TLS_FAILED); /* it got the alert */
            CHECK_INT(smtp_tls_verify_failed(p.cli), 1);
            CHECK_INT(smtp_tls_error_code(p.cli), CERT_VERIFY_FAILED);
            CHECK(strncmp(fail, "DANE authentication failed: ", 28) == 0);
            CHECK(strstr(fail, w.text) != NULL);
            CHECK(strstr(smtp_tls_error(p.cli), w.text) != NULL);
            CHECK(flags != 0 && flags != SMTP_TLS_VERIFY_UNAVAILABLE);
            if (w.status == SMTP_TLS_DANE_MISMATCH) CHECK(flags & BADCERT_NOT_TRUSTED);
            if (w.status == SMTP_TLS_DANE_NAME_MISMATCH) CHECK_INT(flags, BADCERT_CN_MISMATCH);
        }
        pair_close(&p);
    }
    smtp_tls_config_del(scfg);
}

static want matched(size_t index, const char *text)
{
    want w = {SMTP_TLS_DANE_MATCHED, index, text};
    return w;
}

static want outcome(smtp_tls_dane_status st, size_t index, const char *text)
{
    want w = {st, index, text};
    return w;
}

static const want unusable = {SMTP_TLS_DANE_UNUSABLE, SIZE_MAX, "no usable TLSA record"};
static const want mismatch = {SMTP_TLS_DANE_MISMATCH, SIZE_MAX, "TLSA mismatch"};

/* DANE-EE(3): the leaf, by certificate or key, whole or digested; nothing else is checked. */
static void test_dane_ee(void)
{
    for (int sel = 0; sel <= 1; sel++) {
        for (int mt = 0; mt <= 2; mt++) {
            tlsa_set s = {.n = 0};
            char text[80];
            add(&s, 3, sel, mt, pki.server_chain, 0);
            snprintf(text, sizeof text, "DANE-EE TLSA record 1 of 1 (3 %d %d) matched", sel, mt);
            run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL, matched(0, text));
        }
    }
    /* Another certificate's key, a digest one bit off: a mismatch, though PKIX would pass. */
    tlsa_set s = {.n = 0};
    add(&s, 3, 1, 1, pki.server_chain, 1);
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL, mismatch);
    s.n = 0;
    add(&s, 3, 1, 2, pki.server_chain, 0);
    s.data[0][63] ^= 1;
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL, mismatch);
    /* Expired, and for another name (RFC 7672 3.1.1): still the server's key. */
    s.n = 0;
    add(&s, 3, 1, 1, pki.expired_chain, 0);
    run(cli_req, "localhost", pki.expired_chain, NULL, &s, NULL, NULL, matched(0, "DANE-EE"));
    s.n = 0;
    add(&s, 3, 0, 1, pki.server_chain, 0);
    run(cli_req, "other.test", pki.server_chain, NULL, &s, NULL, NULL, matched(0, "DANE-EE"));
    run(cli_req, "other.test", pki.server_chain, NULL, &s, "mx.elsewhere.test", NULL,
        matched(0, "DANE-EE"));
    /* Certificate authorities do not count: none, or the wrong one, or verification off. */
    run(cli_other, "localhost", pki.server_chain, NULL, &s, NULL, NULL, matched(0, "DANE-EE"));
    run(cli_none, "localhost", pki.server_chain, NULL, &s, NULL, NULL, matched(0, "DANE-EE"));
    s.data[0][0] ^= 1;
    run(cli_none, "localhost", pki.server_chain, NULL, &s, NULL, NULL, mismatch);
    /* The first record that matches is the one reported. */
    s.n = 0;
    add(&s, 1, 1, 1, pki.server_chain, 0); /* PKIX-EE: unusable */
    add(&s, 3, 1, 1, pki.server_chain, 1); /* the CA's key */
    add(&s, 3, 1, 2, pki.server_chain, 0);
    add(&s, 3, 0, 0, pki.server_chain, 0);
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL,
        matched(2, "DANE-EE TLSA record 3 of 4 (3 1 2) matched the server's certificate"));
}

/* DANE-TA(2): an anchor the server sent, the chain from it, the name. */
static void test_dane_ta(void)
{
    tlsa_set s = {.n = 0};
    /* The root, sent second in the chain. */
    add(&s, 2, 0, 1, pki.server_chain, 1);
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL,
        matched(0, "DANE-TA TLSA record 1 of 1 (2 0 1) matched certificate 2 of the server's "
                   "chain, for localhost"));
    s.n = 0;
    add(&s, 2, 1, 1, pki.server_chain, 1);
    run(cli_none, "mail.test", pki.server_chain, NULL, &s, NULL, NULL, matched(0, "for mail.test"));
    /* Under an intermediate: the intermediate or the root as the anchor. */
    s.n = 0;
    add(&s, 2, 1, 1, pki.dane_chain, 1);
    run(cli_other, "mx.dane.test", pki.dane_chain, NULL, &s, NULL, NULL,
        matched(0, "certificate 2 of the server's chain"));
    s.n = 0;
    add(&s, 2, 0, 2, pki.dane_chain, 2);
    run(cli_other, "mx.dane.test", pki.dane_chain, NULL, &s, NULL, NULL,
        matched(0, "certificate 3 of the server's chain, for mx.dane.test"));
    /* The reference identifiers (RFC 7672 3.2.3): the base domain, the MX host, the host. */
    s.n = 0;
    add(&s, 2, 1, 1, pki.dane_chain, 1);
    run(cli_req, "127.0.0.1", pki.dane_chain, NULL, &s, "mx.dane.test", NULL,
        matched(0, "for mx.dane.test"));
    run(cli_req, "mx.example.org", pki.dane_chain, NULL, &s, "mx.dane.test.", NULL,
        matched(0, "for mx.dane.test"));
    run(cli_req, "127.0.0.1", pki.dane_chain, NULL, &s, "mx.example.org", "MX.Dane.Test",
        matched(0, "for MX.Dane.Test"));
    run(cli_req, "mx.dane.test", pki.dane_chain, NULL, &s, "mx.example.org", NULL,
        matched(0, "for mx.dane.test"));
    /* "*.pool.dane.test" covers one label, the leftmost, and no less. */
    run(cli_req, "a.pool.dane.test", pki.dane_chain, NULL, &s, NULL, NULL,
        matched(0, "for a.pool.dane.test"));
    run(cli_req, "127.0.0.1", pki.dane_chain, NULL, &s, "XN--A-B.POOL.DANE.TEST", NULL,
        matched(0, "for XN--A-B.POOL.DANE.TEST"));
    want name_wrong = outcome(SMTP_TLS_DANE_NAME_MISMATCH, 0,
                              "name mismatch for DANE-TA: TLSA record 1 of 1 (2 1 1) matched "
                              "certificate 2 of the chain, but the server's certificate does not "
                              "name ");
    run(cli_req, "pool.dane.test", pki.dane_chain, NULL, &s, NULL, NULL, name_wrong);
    run(cli_req, "a.b.pool.dane.test", pki.dane_chain, NULL, &s, NULL, NULL, name_wrong);
    run(cli_req, "dane.test", pki.dane_chain, NULL, &s, NULL, NULL, name_wrong);
    run(cli_req, "127.0.0.1", pki.dane_chain, NULL, &s, "mx.example.org", "mx2.example.org",
        outcome(SMTP_TLS_DANE_NAME_MISMATCH, 0,
                "does not name mx.example.org nor mx2.example.org"));
    /* The CN when there is no subjectAltName. */
    char cn_chain[2 * PKI_PEM_MAX];
    snprintf(cn_chain, sizeof cn_chain, "%s%s", pki.client_cert, pki.ca);
    s.n = 0;
    add(&s, 2, 1, 1, pki.ca, 0);
    run(cli_req, "client.test", cn_chain, pki.client_key, &s, NULL, NULL,
        matched(0, "for client.test"));
    run(cli_req, "localhost", cn_chain, pki.client_key, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_NAME_MISMATCH, 0, "does not name localhost"));
    /* An anchor the server does not send cannot be checked: a mismatch (RFC 7672 3.1.2). */
    run(cli_req, "mx.dane.test", pki.dane_short_chain, NULL, &s, NULL, NULL, mismatch);
    /* An anchor that matches the leaf itself is no anchor of it. */
    s.n = 0;
    add(&s, 2, 1, 1, pki.server_chain, 0);
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL, mismatch);
    /* An anchor sent that signed nothing of the chain; an expired leaf under the anchor. */
    char bogus[2 * PKI_PEM_MAX];
    snprintf(bogus, sizeof bogus, "%s%s", pki.server_cert, pki.other_ca);
    s.n = 0;
    add(&s, 2, 0, 1, pki.other_ca, 0);
    run(cli_req, "localhost", bogus, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_CHAIN_INVALID, 0,
                "DANE-TA chain does not validate: TLSA record 1 of 1 (2 0 1) matched certificate "
                "2 of the chain, but: The certificate is not correctly signed"));
    s.n = 0;
    add(&s, 2, 1, 1, pki.ca, 0);
    run(cli_req, "localhost", pki.expired_chain, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_CHAIN_INVALID, 0, "validity has expired"));
    /* The anchor's own dates do not count (RFC 5280 6.1); those under it do. */
    s.n = 0;
    add(&s, 2, 1, 1, pki.inter, 0); /* the expired twin has the same key */
    run(cli_req, "mx.dane.test", pki.dane_old_inter_chain, NULL, &s, NULL, NULL,
        matched(0, "certificate 2 of the server's chain"));
    s.n = 0;
    add(&s, 2, 0, 1, pki.ca, 0);
    run(cli_req, "mx.dane.test", pki.dane_old_inter_chain, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_CHAIN_INVALID, 0,
                "matched certificate 3 of the chain, but: The "
                "certificate validity has expired"));
    /* The furthest failure is reported: a name mismatch over a chain that does not validate
     * over a mismatch; a DANE-EE match after them all still authenticates. */
    s.n = 0;
    add(&s, 3, 1, 1, pki.ca, 0);    /* mismatch */
    add(&s, 2, 0, 1, pki.ca, 0);    /* name mismatch */
    add(&s, 2, 1, 1, pki.inter, 0); /* not sent: mismatch */
    run(cli_req, "other.test", pki.server_chain, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_NAME_MISMATCH, 1, "TLSA record 2 of 3 (2 0 1)"));
    add(&s, 3, 1, 1, pki.server_chain, 0);
    run(cli_req, "other.test", pki.server_chain, NULL, &s, NULL, NULL,
        matched(3, "DANE-EE TLSA record 4 of 4"));
    s.n = 0;
    add(&s, 2, 0, 1, pki.ca, 0);
    add(&s, 2, 1, 2, pki.other_ca, 0);
    run(cli_req, "localhost", bogus, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_CHAIN_INVALID, 1, "TLSA record 2 of 2 (2 1 2)"));
}

/* No usable record: TLS without authentication (RFC 7672 2.2), whatever the CAs say. */
static void test_unusable(void)
{
    tlsa_set s = {.n = 0};
    add(&s, 0, 1, 1, pki.server_chain, 1); /* PKIX-TA */
    add(&s, 1, 1, 1, pki.server_chain, 0); /* PKIX-EE */
    run(cli_other, "localhost", pki.server_chain, NULL, &s, NULL, NULL, unusable);
    run(cli_req, "localhost", pki.server_chain, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_UNUSABLE, SIZE_MAX,
                "no usable TLSA record (2 given): TLS without authentication (RFC 7672 2.2)"));
    /* Unknown usage, selector, matching type; digests of the wrong length; no data. */
    static const unsigned char zeros[64];
    const smtp_tls_tlsa odd[] = {
        {4, 1, 1, zeros, 32}, {3, 2, 1, zeros, 32}, {3, 1, 3, zeros, 32}, {255, 255, 255, zeros, 1},
        {3, 1, 1, zeros, 31}, {3, 1, 1, zeros, 64}, {3, 1, 2, zeros, 32}, {2, 0, 0, NULL, 0},
    };
    s.n = 0;
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        s.rr[s.n++] = odd[i];
    run(cli_other, "localhost", pki.server_chain, NULL, &s, NULL, NULL, unusable);
    /* One usable record among them decides. */
    s.n = 7;
    add(&s, 3, 1, 1, pki.server_chain, 0);
    run(cli_other, "localhost", pki.server_chain, NULL, &s, NULL, NULL,
        matched(7, "TLSA record 8 of 8"));
    s.data[7][5] ^= 1;
    run(cli_other, "localhost", pki.server_chain, NULL, &s, NULL, NULL,
        outcome(SMTP_TLS_DANE_MISMATCH, SIZE_MAX, "no usable TLSA record (1 of 8) matches"));
}

/* 1 when the ClientHello of a DANE session for host holds `text` (the SNI would). */
static int hello_holds(const char *host, const smtp_tls_dane *d, const char *text)
{
    smtp_tls *cli = NULL;
    CHECK_INT(smtp_tls_new(&cli, cli_req, host, NULL), 0);
    CHECK_INT(smtp_tls_set_dane(cli, d), 0);
    int found = pair_hello_holds(cli, text);
    smtp_tls_del(cli);
    return found;
}

/* What smtp_tls_set_dane refuses, and when; the SNI; a second call. */
static void test_api(void)
{
    static const unsigned char digest[32];
    smtp_tls_tlsa rr = {3, 1, 1, digest, 32};
    smtp_tls_dane d, none;
    smtp_tls_dane_init(&d);
    CHECK(d.tlsa == NULL && d.ntlsa == 0 && d.base_domain == NULL && d.mx_host == NULL);
    d.tlsa = &rr;
    d.ntlsa = 1;
    none = d;
    smtp_tls_dane_init_versioned(SMTP_TLS_DANE_VERSION + 1, &none); /* ignored */
    smtp_tls_dane_init_versioned(0, &none);
    smtp_tls_dane_init_versioned(1, NULL);
    CHECK(none.tlsa == &rr);

    smtp_tls *t = NULL, *srv = NULL;
    smtp_tls_config *scfg = pair_server_config(pki.server_chain, pki.server_key, 4096);
    CHECK_INT(smtp_tls_new(&t, cli_req, "localhost", NULL), 0);
    CHECK_INT(smtp_tls_new(&srv, scfg, NULL, NULL), 0);
    CHECK_INT(smtp_tls_set_dane(NULL, &d), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_set_dane(t, NULL), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_set_dane_versioned(t, 0, &d), SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_set_dane_versioned(t, SMTP_TLS_DANE_VERSION + 1, &d),
              SMTP_ERR_INVALID_ARGUMENT);
    CHECK_INT(smtp_tls_set_dane(srv, &d), SMTP_ERR_INVALID_ARGUMENT); /* a server */
    /* The records. */
    smtp_tls_tlsa many[SMTP_TLS_DANE_MAX_TLSA + 1];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        many[i] = rr;
    smtp_tls_dane bad = d;
    bad.ntlsa = 0;
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.tlsa = NULL;
    bad.ntlsa = 1;
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.tlsa = many;
    bad.ntlsa = SMTP_TLS_DANE_MAX_TLSA + 1;
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    bad.ntlsa = SMTP_TLS_DANE_MAX_TLSA;
    CHECK_INT(smtp_tls_set_dane(t, &bad), 0);
    smtp_tls_tlsa odd = {3, 1, 1, NULL, 32};
    bad.tlsa = &odd;
    bad.ntlsa = 1;
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    unsigned char *big = calloc(1, SMTP_TLS_DANE_MAX_DATA + 1);
    odd.data = big;
    odd.len = SMTP_TLS_DANE_MAX_DATA + 1;
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    odd.len = SMTP_TLS_DANE_MAX_DATA; /* unusable, not refused */
    CHECK_INT(smtp_tls_set_dane(t, &bad), 0);
    free(big);
    /* The names. */
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    long_name[253] = '\0';
    for (size_t i = 1; i < 253; i += 2)
        long_name[i] = '.';
    static const char *const wrong[] = {
        "",          ".",           "a b",         "*.dane.test",   "mx\001",
        "192.0.2.1", "[192.0.2.1]", "2001:db8::1", "\xc3\xa9.test", "a..test",
        ".a.test",   "a.test.."};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        bad = d;
        bad.base_domain = wrong[i];
        CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
        bad = d;
        bad.mx_host = wrong[i];
        CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    }
    bad = d;
    bad.base_domain = long_name; /* 253 octets */
    CHECK_INT(smtp_tls_set_dane(t, &bad), 0);
    long_name[253] = '.'; /* and a final dot */
    long_name[254] = '\0';
    CHECK_INT(smtp_tls_set_dane(t, &bad), 0);
    long_name[254] = 'a'; /* 255 */
    long_name[255] = '\0';
    CHECK_INT(smtp_tls_set_dane(t, &bad), SMTP_ERR_INVALID_ARGUMENT);
    smtp_tls_del(t);
    smtp_tls_del(srv);
    /* No base domain: an IP address as host, or no host, needs one. */
    CHECK_INT(smtp_tls_new(&t, cli_req, "[IPv6:::1]", NULL), 0);
    CHECK_INT(smtp_tls_set_dane(t, &d), SMTP_ERR_INVALID_ARGUMENT);
    bad = d;
    bad.base_domain = "mx.dane.test";
    CHECK_INT(smtp_tls_set_dane(t, &bad), 0);
    smtp_tls_del(t);
    CHECK_INT(smtp_tls_new(&t, cli_none, NULL, NULL), 0);
    CHECK_INT(smtp_tls_set_dane(t, &d), SMTP_ERR_INVALID_ARGUMENT);
    smtp_tls_del(t);

    /* Refused once the handshake has begun; a failed call changes nothing. */
    pair p;
    wire_seed = 9;
    pair_open(&p, cli_req, "localhost", scfg, 500);
    CHECK_INT(smtp_tls_dane_result(p.cli, NULL, NULL), SMTP_TLS_DANE_OFF);
    bad = d;
    bad.base_domain = "";
    CHECK_INT(smtp_tls_set_dane(p.cli, &bad), SMTP_ERR_INVALID_ARGUMENT);
    CHECK(wire_pull(p.c2s, p.cli) > 0);
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), SMTP_ERR_INVALID_STATE);
    pair_run(&p);
    check_open(&p); /* PKIX, as without DANE */
    CHECK_INT(smtp_tls_verify_result(p.cli), 0);
    size_t index = 7;
    uint8_t usage = 7;
    CHECK_INT(smtp_tls_dane_result(p.cli, &index, &usage), SMTP_TLS_DANE_OFF);
    CHECK(index == SIZE_MAX && usage == 0);
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), SMTP_ERR_INVALID_STATE);
    pair_close(&p);
    CHECK_INT(smtp_tls_dane_result(NULL, &index, NULL), SMTP_TLS_DANE_OFF);

    /* A second call replaces the first. */
    tlsa_set s = {.n = 0};
    add(&s, 3, 1, 1, pki.server_chain, 0);
    smtp_tls_dane good = d;
    good.tlsa = s.rr;
    pair_open(&p, cli_req, "localhost", scfg, 500);
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), 0);
    CHECK_INT(smtp_tls_set_dane(p.cli, &good), 0);
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_dane_result(p.cli, &index, &usage), SMTP_TLS_DANE_MATCHED);
    CHECK(index == 0 && usage == SMTP_TLS_TLSA_DANE_EE);
    pair_close(&p);
    smtp_tls_config_del(scfg);

    /* The TLSA base domain is the SNI (RFC 7672 8.1), also for an address; else the host. */
    good.base_domain = "sni.dane.test";
    CHECK_INT(hello_holds("localhost", &good, "sni.dane.test"), 1);
    CHECK_INT(hello_holds("localhost", &good, "localhost"), 0);
    CHECK_INT(hello_holds("127.0.0.1", &good, "sni.dane.test"), 1);
    good.base_domain = NULL;
    CHECK_INT(hello_holds("mx.dane.test", &good, "mx.dane.test"), 1);
}

/* The records are copied into one block of the session's allocator: refused when it fails,
 * nothing else allocated through it later, nothing left behind. */
static void test_memory(void)
{
    tlsa_set s = {.n = 0};
    add(&s, 3, 1, 1, pki.server_chain, 0);
    add(&s, 2, 0, 1, pki.server_chain, 1);
    smtp_tls_dane d;
    smtp_tls_dane_init(&d);
    d.tlsa = s.rr;
    d.ntlsa = s.n;
    d.mx_host = "mx.example.org";
    smtp_tls_config *scfg = pair_server_config(pki.server_chain, pki.server_key, 4096);
    struct failmem fm = {0};
    smtp_mem mem = failmem_mem(&fm);
    pair p;
    pair_open_mem(&p, cli_req, "localhost", &mem, scfg, 100);
    fm.fail_at = fm.calls + 1;
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), SMTP_ERR_NOMEM);
    CHECK_INT(fm.live, 1);
    CHECK_INT(smtp_tls_dane_result(p.cli, NULL, NULL), SMTP_TLS_DANE_OFF);
    fm.fail_at = 0;
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), 0);
    CHECK_INT(fm.live, 2);
    CHECK_INT(smtp_tls_set_dane(p.cli, &d), 0); /* the first block freed */
    CHECK_INT(fm.live, 2);
    int calls = fm.calls;
    wire_seed = 4;
    pair_run(&p);
    check_open(&p);
    CHECK_INT(smtp_tls_dane_result(p.cli, NULL, NULL), SMTP_TLS_DANE_MATCHED);
    CHECK_INT(fm.calls, calls);
    pair_close(&p);
    CHECK_INT(fm.live, 0);
    smtp_tls_config_del(scfg);
}

int main(void)
{
    if (test_pki_make(&pki) != 0) return 1;
    cli_req = pair_client_config(pki.ca, SMTP_TLS_VERIFY_REQUIRED, SMTP_TLS_DEFAULT_BUFFER);
    cli_none = pair_client_config(NULL, SMTP_TLS_VERIFY_NONE, SMTP_TLS_DEFAULT_BUFFER);
    cli_other = pair_client_config(pki.other_ca, SMTP_TLS_VERIFY_REQUIRED, 4096);
    test_dane_ee();
    test_dane_ta();
    test_unusable();
    test_api();
    test_memory();
    smtp_tls_config_del(cli_other);
    smtp_tls_config_del(cli_none);
    smtp_tls_config_del(cli_req);
    return check_finish();
}
