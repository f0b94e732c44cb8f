/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: DANE's check of a server's chain against TLSA records (lib/tls/dane.c:
 * tls_dane_new, tls_dane_check, tls_dane_finish and the outcome's getters), with the
 * certificates of tests/tls/pki.h made once per process (keys are random each time, so the
 * input says which certificate's data a record holds, not the data itself).
 *
 * The chains (leaf first): the server's (localhost, mail.test) with its CA; the DANE leaf
 * (mx.dane.test, *.pool.dane.test) with its intermediate and the CA, with the intermediate
 * alone, and with the intermediate's expired twin and the CA; the expired server leaf with the
 * CA; the leaf with IP addresses only (CN ip-only) with the CA; the server's leaf with an
 * intermediate that did not sign it; the client's certificate (CN client.test, no
 * subjectAltName) with the CA. Which anchor validates which path is known from how pki.c made
 * them (the table `valid` below).
 *
 * Checked against a reference written here from RFC 7672 3 and dane.c's top comment:
 *  - tls_dane_new refuses exactly the invalid inputs (no record, over 100, a name that is no
 *    reference identifier: empty, over 253 octets, an empty label, a space, control, 8-bit or
 *    '*' octet, an IP address), and allocates one block, freed by tls_dane_del;
 *  - the outcome of the check, by the reference's own matching (each record's data against the
 *    selected bytes or their SHA-256/SHA-512 as test_pki_tlsa computes them) and its own name
 *    matching (RFC 6125 6.4: case, a final dot, "*" as the whole leftmost label of three or
 *    more; the subjectAltName dNSNames, else the CN): the status, the record and certificate
 *    named, the reference identifier a DANE-TA match names, what tls_dane_check,
 *    tls_dane_failed, tls_dane_finish and tls_dane_flags return; a second check gives the
 *    same; tls_dane_finish without a check gives UNUSABLE or MISMATCH;
 *  - tls_dane_sni is the base domain without its final dot;
 *  - tls_dane_text is NUL-terminated within any capacity, a prefix of the whole text, and
 *    names the record ("TLSA record I of N") and the name the reference expects.
 * Input layout: byte 0 the chain (modulo 8), byte 1 the base domain and byte 2 the MX host
 * (each modulo 16 from the list `names`; 15 takes a name from the input: a length byte and
 * the octets), byte 3 the session's host (the same way), byte 4 flags (1 the allocation fails,
 * 2 no check: tls_dane_finish alone), byte 5 the text's capacity; then records of four bytes,
 * usage, selector, matching type and source, each followed by its data: the source's low bits
 * name a certificate of the chain (its data for the record's selector and matching type,
 * 0x40: one octet changed, 0x20: one octet short), or with 0x80 a length byte and raw octets.
 */
#include "fuzz_common.h"

/* The throwaway PKI, compiled here: one translation unit, like every target. */
#include "../tests/tls/pki.c"
#include "tls_internal.h"

#include <arpa/inet.h>

#define HEADER 6
#define NCHAINS 8
#define MAX_DEPTH 3
#define MAX_RECS 12
#define DATA_MAX 1024 /* the largest selection (a certificate's DER) fits */

static test_pki pki;
static mbedtls_x509_crt chains[NCHAINS];
static size_t depth_of[NCHAINS];

/* Does the certificate at `depth` (1 or more) validate the path down to the leaf as the only
 * trust anchor? From pki.c: every pair is signed right and in date but the expired leaf
 * (chain 4), the CA above the expired intermediate (chain 3, depth 2: that one is not the
 * anchor, so its dates count) and the intermediate that did not sign the server (chain 6). */
static const int valid[NCHAINS][MAX_DEPTH] = {{0, 1, 0}, {0, 1, 1}, {0, 1, 0}, {0, 1, 0},
                                              {0, 0, 0}, {0, 1, 0}, {0, 0, 0}, {0, 1, 0}};

/* The names each leaf presents to a reference identifier (subjectAltName dNSNames, else CN). */
static const char *const leaf_names[NCHAINS][2] = {
    {"localhost", "mail.test"},           {"mx.dane.test", "*.pool.dane.test"},
    {"mx.dane.test", "*.pool.dane.test"}, {"mx.dane.test", "*.pool.dane.test"},
    {"localhost", "mail.test"},           {"ip-only", NULL},
    {"localhost", "mail.test"},           {"client.test", NULL},
};

static const char *const names[15] = {NULL,
                                      "mx.dane.test",
                                      "MX.Dane.TEST.",
                                      "a.pool.dane.test",
                                      "pool.dane.test",
                                      "b.a.pool.dane.test",
                                      "localhost",
                                      "mail.test.",
                                      "ip-only",
                                      "client.test",
                                      "other.test",
                                      "127.0.0.1",
                                      "::1",
                                      "a..test",
                                      "*.pool.dane.test"};

/* The selections of every certificate: [chain][depth][selector][mtype]. */
static unsigned char sel[NCHAINS][MAX_DEPTH][2][3][DATA_MAX];
static size_t sel_len[NCHAINS][MAX_DEPTH][2][3];

static void setup(void)
{
    if (test_pki_make(&pki) != 0) abort();
    char pem[4][4 * PKI_PEM_MAX];
    snprintf(pem[0], sizeof pem[0], "%s%s", pki.server_cert, pki.inter);
    snprintf(pem[1], sizeof pem[1], "%s%s", pki.client_cert, pki.ca);
    const char *text[NCHAINS] = {pki.server_chain,
                                 pki.dane_chain,
                                 pki.dane_short_chain,
                                 pki.dane_old_inter_chain,
                                 pki.expired_chain,
                                 pki.ip_chain,
                                 pem[0],
                                 pem[1]};
    for (int c = 0; c < NCHAINS; c++) {
        mbedtls_x509_crt_init(&chains[c]);
        if (mbedtls_x509_crt_parse(&chains[c], (const unsigned char *)text[c],
                                   strlen(text[c]) + 1) != 0)
            abort();
        for (const mbedtls_x509_crt *x = &chains[c]; x != NULL; x = x->next)
            depth_of[c]++;
        FUZZ_ASSERT(depth_of[c] <= MAX_DEPTH);
        for (size_t d = 0; d < depth_of[c]; d++)
            for (int s = 0; s < 2; s++)
                for (int m = 0; m < 3; m++)
                    sel_len[c][d][s][m] =
                        test_pki_tlsa(text[c], d, s, m, sel[c][d][s][m], DATA_MAX);
    }
}

/* ---- the reference ---- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static int same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i])) return 0;
    return 1;
}

/* A reference identifier's length without its final dot, 0 when it is none. */
static size_t ref_name(const char *s)
{
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '.') n--;
    if (n == 0 || n > 253 || s[0] == '[') return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
        } else if (c <= ' ' || c >= 0x7f || c == '*') {
            return 0;
        } else {
            label++;
        }
    }
    if (label == 0) return 0;
    char text[254];
    unsigned char addr[16];
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1 ? 0 : n;
}

/* RFC 6125 6.4: presented name p against the reference r[0..rn). */
static int ref_match(const char *p, const char *r, size_t rn)
{
    size_t pn = strlen(p);
    if (pn > 0 && p[pn - 1] == '.') pn--;
    if (pn == rn && same_nocase(p, r, rn)) return 1;
    if (pn < 4 || p[0] != '*' || p[1] != '.') return 0;
    const char *rest = memchr(p + 2, '.', pn - 2);
    if (rest == NULL) return 0; /* "*.org": two labels */
    const char *dot = memchr(r, '.', rn);
    if (dot == NULL || dot == r) return 0;
    size_t tail = rn - (size_t)(dot + 1 - r);
    return tail == pn - 2 && same_nocase(p + 2, dot + 1, tail);
}

struct rec {
    smtp_tls_tlsa t;
    unsigned char data[DATA_MAX];
};

static int ref_usable(const smtp_tls_tlsa *t)
{
    static const size_t want[3] = {0, 32, 64};
    if (t->usage != 2 && t->usage != 3) return 0;
    if (t->selector > 1 || t->mtype > 2) return 0;
    return t->mtype == 0 ? t->len > 0 : t->len == want[t->mtype];
}

static int ref_matches(const smtp_tls_tlsa *t, int chain, size_t depth)
{
    size_t n = sel_len[chain][depth][t->selector][t->mtype];
    return n == t->len && memcmp(sel[chain][depth][t->selector][t->mtype], t->data, n) == 0;
}

struct want {
    smtp_tls_dane_status status;
    size_t index, depth, name; /* index SIZE_MAX: none named */
};

static void ref_check(const struct rec *r, size_t n, int chain, const char *ids[2], size_t nids,
                      struct want *w)
{
    static const int rank[] = {[SMTP_TLS_DANE_MISMATCH] = 1,
                               [SMTP_TLS_DANE_CHAIN_INVALID] = 2,
                               [SMTP_TLS_DANE_NAME_MISMATCH] = 3};
    size_t usable = 0;
    for (size_t i = 0; i < n; i++)
        usable += (size_t)ref_usable(&r[i].t);
    *w = (struct want){usable ? SMTP_TLS_DANE_MISMATCH : SMTP_TLS_DANE_UNUSABLE, SIZE_MAX, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const smtp_tls_tlsa *t = &r[i].t;
        if (!ref_usable(t)) continue;
        if (t->usage == 3 && ref_matches(t, chain, 0)) {
            *w = (struct want){SMTP_TLS_DANE_MATCHED, i, 0, 0};
            return;
        }
        for (size_t d = 1; t->usage == 2 && d < depth_of[chain]; d++) {
            if (!ref_matches(t, chain, d)) continue;
            smtp_tls_dane_status st = SMTP_TLS_DANE_CHAIN_INVALID;
            size_t which = SIZE_MAX;
            for (int k = 0; valid[chain][d] && k < 2 && which == SIZE_MAX; k++)
                for (size_t j = 0; leaf_names[chain][k] && j < nids && which == SIZE_MAX; j++)
                    if (ref_match(leaf_names[chain][k], ids[j], ref_name(ids[j]))) which = j;
            if (valid[chain][d])
                st = which == SIZE_MAX ? SMTP_TLS_DANE_NAME_MISMATCH : SMTP_TLS_DANE_MATCHED;
            if (st == SMTP_TLS_DANE_MATCHED) {
                *w = (struct want){st, i, d, which};
                return;
            }
            if (rank[st] > rank[w->status]) *w = (struct want){st, i, d, 0};
        }
    }
}

/* ---- the input ---- */

struct in {
    const uint8_t *p, *end;
};

static int in_byte(struct in *in)
{
    return in->p < in->end ? *in->p++ : -1;
}

/* Name choice b: NULL or one of `names`, or (15) a NUL-terminated copy of input octets. */
static const char *pick_name(struct in *in, int b, char buf[300])
{
    if (b % 16 < 15) return names[b % 16];
    int n = in_byte(in);
    if (n < 0) n = 0;
    size_t k = 0;
    while (k < (size_t)n && in->p < in->end)
        buf[k++] = (char)*in->p++;
    buf[k] = '\0';
    return buf;
}

static void check_text(tls_dane *d, size_t cap, const struct want *w, size_t nrec,
                       const char *ids[2])
{
    char whole[1024];
    size_t n = tls_dane_text(d, whole, sizeof whole);
    FUZZ_ASSERT(n > 0 && n < sizeof whole && strlen(whole) == n);
    char *buf = malloc(cap ? cap : 1);
    if (!buf) abort();
    size_t k = tls_dane_text(d, buf, cap);
    if (cap == 0) {
        FUZZ_ASSERT(k == 0);
    } else {
        FUZZ_ASSERT(k < cap && strlen(buf) == k && k <= n && memcmp(buf, whole, k) == 0);
        FUZZ_ASSERT(k == n || k == cap - 1);
    }
    free(buf);
    char rec[64];
    if (w->index != SIZE_MAX) {
        snprintf(rec, sizeof rec, "TLSA record %zu of %zu ", w->index + 1, nrec);
        FUZZ_ASSERT(strstr(whole, rec) != NULL);
    }
    if (w->status == SMTP_TLS_DANE_MATCHED && w->depth > 0) {
        size_t len = strlen(whole), id = ref_name(ids[w->name]);
        FUZZ_ASSERT(len > id && same_nocase(whole + len - id, ids[w->name], id) &&
                    whole[len - id - 1] == ' ');
    }
}

/* An allocator whose every call fails (flag 1). */
static void *no_calloc(size_t n, size_t k, void *ud)
{
    (void)n, (void)k;
    ((struct fmem *)ud)->calls++;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < HEADER) return 0;
    struct in in = {data + HEADER, data + size};
    int chain = data[0] % NCHAINS;
    char nb[3][300];
    smtp_tls_dane cfg;
    smtp_tls_dane_init(&cfg);
    cfg.base_domain = pick_name(&in, data[1], nb[0]);
    cfg.mx_host = pick_name(&in, data[2], nb[1]);
    const char *host = pick_name(&in, data[3], nb[2]);
    unsigned flags = data[4];
    size_t cap = data[5];

    static struct rec recs[MAX_RECS];
    static smtp_tls_tlsa tlsa[MAX_RECS];
    size_t nrec = 0;
    while (nrec < MAX_RECS && in.end - in.p >= 4) {
        struct rec *r = &recs[nrec];
        r->t.usage = *in.p++;
        r->t.selector = *in.p++;
        r->t.mtype = *in.p++;
        int src = *in.p++;
        if (src & 0x80) {
            int n = in_byte(&in);
            size_t k = 0;
            while (n > 0 && k < (size_t)n && in.p < in.end)
                r->data[k++] = *in.p++;
            r->t.len = k;
        } else {
            size_t d = (size_t)(src & 3) % depth_of[chain];
            int s = r->t.selector & 1, m = r->t.mtype % 3;
            size_t n = sel_len[chain][d][s][m];
            memcpy(r->data, sel[chain][d][s][m], n);
            if ((src & 0x40) && n > 0) r->data[(size_t)(src >> 2 & 0xf) % n] ^= 1;
            if ((src & 0x20) && n > 0) n--;
            r->t.len = n;
        }
        r->t.data = r->data;
        tlsa[nrec++] = r->t;
    }
    cfg.tlsa = tlsa;
    cfg.ntlsa = nrec;

    /* The reference's verdict on the arguments. */
    const char *base = cfg.base_domain ? cfg.base_domain : host;
    const char *mx = cfg.mx_host ? cfg.mx_host : host;
    size_t bl = base ? ref_name(base) : 0, ml = mx ? ref_name(mx) : 0;
    int ok = nrec > 0 && bl > 0 && (mx == NULL || ml > 0);
    const char *ids[2] = {base, mx};
    size_t nids = ok && mx && !(ml == bl && same_nocase(mx, base, bl)) ? 2 : 1;

    struct fmem fm;
    fmem_init(&fm);
    if (flags & 1) fm.mem.calloc = no_calloc;
    tls_dane *d = (tls_dane *)1;
    int rc = tls_dane_new(&d, &cfg, host, &fm.mem);
    if (!ok) {
        FUZZ_ASSERT(rc == SMTP_ERR_INVALID_ARGUMENT && d == NULL);
        FUZZ_ASSERT(fm.calls == 0);
        return 0;
    }
    if (flags & 1) {
        FUZZ_ASSERT(rc == SMTP_ERR_NOMEM && d == NULL && fm.calls == 1);
        return 0;
    }
    FUZZ_ASSERT(rc == 0 && d != NULL && fm.calls == 1);
    /* The SNI: the base domain without its final dot. */
    FUZZ_ASSERT(strlen(tls_dane_sni(d)) == bl && memcmp(tls_dane_sni(d), base, bl) == 0);
    FUZZ_ASSERT(tls_dane_status(d, NULL, NULL) == SMTP_TLS_DANE_PENDING);

    struct want w;
    ref_check(recs, nrec, chain, ids, nids, &w);
    if (flags & 2) { /* no chain was checked: the handshake ended without one */
        int fin = tls_dane_finish(d);
        smtp_tls_dane_status st = tls_dane_status(d, NULL, NULL);
        FUZZ_ASSERT(st == (w.status == SMTP_TLS_DANE_UNUSABLE ? SMTP_TLS_DANE_UNUSABLE
                                                              : SMTP_TLS_DANE_MISMATCH));
        FUZZ_ASSERT(fin == (st == SMTP_TLS_DANE_MISMATCH ? -1 : 0));
        w = (struct want){st, SIZE_MAX, 0, 0}; /* no record is named */
    } else {
        for (int round = 0; round < 2; round++) {
            int chk = tls_dane_check(d, &chains[chain]);
            size_t index = SIZE_MAX;
            uint8_t usage = 0xff;
            smtp_tls_dane_status st = tls_dane_status(d, &index, &usage);
            if (st != w.status || index != w.index)
                fprintf(stderr, "chain %d: status %d record %zu, reference %d record %zu\n", chain,
                        (int)st, index, (int)w.status, w.index);
            FUZZ_ASSERT(st == w.status && index == w.index);
            FUZZ_ASSERT(index == SIZE_MAX ? usage == 0xff : usage == recs[index].t.usage);
            int failed = st != SMTP_TLS_DANE_MATCHED && st != SMTP_TLS_DANE_UNUSABLE;
            FUZZ_ASSERT(chk == (failed ? -1 : 0) && tls_dane_failed(d) == failed);
            FUZZ_ASSERT(tls_dane_finish(d) == chk && tls_dane_status(d, NULL, NULL) == st);
            uint32_t f = tls_dane_flags(d);
            switch (st) {
            case SMTP_TLS_DANE_MATCHED: FUZZ_ASSERT(f == 0); break;
            case SMTP_TLS_DANE_UNUSABLE: FUZZ_ASSERT(f == SMTP_TLS_VERIFY_UNAVAILABLE); break;
            case SMTP_TLS_DANE_MISMATCH: FUZZ_ASSERT(f == MBEDTLS_X509_BADCERT_NOT_TRUSTED); break;
            case SMTP_TLS_DANE_NAME_MISMATCH:
                FUZZ_ASSERT(f == MBEDTLS_X509_BADCERT_CN_MISMATCH);
                break;
            default: FUZZ_ASSERT(f != 0 && f != SMTP_TLS_VERIFY_UNAVAILABLE); break;
            }
        }
    }
    check_text(d, cap, &w, nrec, ids);
    tls_dane_del(d);
    FUZZ_ASSERT(fm.live == 0);
    return 0;
}
