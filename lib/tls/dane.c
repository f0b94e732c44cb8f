/* SPDX-License-Identifier: MIT */
/*
 * DANE for SMTP (RFC 7672, with RFC 6698 and RFC 7671 for TLSA records): the server's
 * certificate chain checked against the TLSA records the application found for it
 * (smtp_tls_set_dane). The session (session.c) makes a tls_dane from the caller's records and
 * hands it the chain the server sent from its verify callback, once, at the leaf; this file
 * knows nothing of the session.
 *
 * How a chain is checked (RFC 7672 3):
 *   usable   a record of usage DANE-TA(2) or DANE-EE(3), selector Cert(0) or SPKI(1) and
 *            matching type Full(0) with data, SHA2-256(1) with 32 octets or SHA2-512(2) with
 *            64 (when mbedTLS has the hash). PKIX-TA(0) and PKIX-EE(1) are not for SMTP
 *            (3.1.3); anything else is unknown. No usable record: TLS without
 *            authentication (2.2), the session goes on.
 *   DANE-EE  the leaf's DER or its SubjectPublicKeyInfo matches; nothing else is looked at
 *            (3.1.1: no name, no dates).
 *   DANE-TA  a certificate the server sent above its leaf matches (3.1.2: the server sends
 *            its trust anchor); the leaf then verifies with that certificate as the only
 *            trust anchor (mbedtls_x509_crt_verify: signatures, CA bits, path lengths and the
 *            dates of every certificate under the anchor; not the anchor's own dates, which
 *            RFC 5280 6.1 path validation does not have); and the leaf names a reference
 *            identifier (3.2.3).
 * The first record in the caller's order that passes authenticates. When none does, the
 * failure that got furthest is kept for the report: a DANE-TA name mismatch, then a chain that
 * did not validate, then a plain mismatch.
 */
#include "tls_internal.h"

#include <mbedtls/md.h>
#include <mbedtls/oid.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 3.0 and 3.1 made the certificate's raw SubjectPublicKeyInfo private; 3.2 made it public
 * again (2.28 has it public). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03020000
#define CRT_SPKI(crt) (&(crt)->MBEDTLS_PRIVATE(pk_raw))
#else
#define CRT_SPKI(crt) (&(crt)->pk_raw)
#endif

/* The longest reference identifier, without a final dot (RFC 1035 2.3.4). */
#define NAME_MAX_LEN 253

typedef struct dane_rec {
    uint8_t usage, selector, mtype;
    int usable;
    const unsigned char *data; /* in the block, after the records */
    size_t len;
} dane_rec;

struct tls_dane {
    smtp_mem mem;
    dane_rec *rec;
    size_t nrec, nusable;
    /* The reference identifiers without a final dot: [0] the TLSA base domain (the SNI),
     * [1] the MX host name when it differs. */
    const char *names[2];
    size_t nnames;
    smtp_tls_dane_status status;
    size_t index;         /* the record reported, SIZE_MAX when none */
    size_t depth;         /* DANE-TA: the matched certificate's place in the chain (leaf 0) */
    size_t name;          /* MATCHED by DANE-TA: the reference identifier the leaf names */
    uint32_t chain_flags; /* CHAIN_INVALID: what mbedTLS found wrong with the chain */
};

void smtp_tls_dane_init_versioned(int version, smtp_tls_dane *dane)
{
    if (!dane || version < 1 || version > SMTP_TLS_DANE_VERSION) return;
    memset(dane, 0, sizeof *dane);
}

/* The hash of a digest matching type, or NULL (Full, unknown, or mbedTLS built without). */
static const mbedtls_md_info_t *rec_md(uint8_t mtype)
{
    if (mtype == SMTP_TLS_TLSA_SHA2_256) return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (mtype == SMTP_TLS_TLSA_SHA2_512) return mbedtls_md_info_from_type(MBEDTLS_MD_SHA512);
    return NULL;
}

/* RFC 7672 3.1.3 and RFC 7671 (unknown parameters, a digest of the wrong length). */
static int rec_usable(const smtp_tls_tlsa *r)
{
    if (r->usage != SMTP_TLS_TLSA_DANE_TA && r->usage != SMTP_TLS_TLSA_DANE_EE) return 0;
    if (r->selector != SMTP_TLS_TLSA_CERT && r->selector != SMTP_TLS_TLSA_SPKI) return 0;
    if (r->mtype == SMTP_TLS_TLSA_FULL) return r->len > 0;
    const mbedtls_md_info_t *md = rec_md(r->mtype);
    return md != NULL && r->len == mbedtls_md_get_size(md);
}

/*
 * The length of a reference identifier without its final dot, or 0 when it is not one: empty,
 * too long, an empty label, a byte that is no printable ASCII, a space or "*" (no wildcard in
 * a reference, RFC 6125 6.4.3), or an IP address (RFC 6066 3: no SNI; TLSA base domains are
 * names).
 */
static size_t name_len(const char *name)
{
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.') n--;
    if (n == 0 || n > NAME_MAX_LEN || name[0] == '[' || name[0] == '.' || name[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '*' || (c == '.' && name[i - 1] == '.')) return 0;
    }
    char text[NAME_MAX_LEN + 1];
    unsigned char addr[16];
    memcpy(text, name, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1) return 0;
    return n;
}

static int ascii_caseeq(const unsigned char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

int tls_dane_new(tls_dane **pd, const smtp_tls_dane *in, const char *host, const smtp_mem *mem)
{
    *pd = NULL;
    if (!in->tlsa || in->ntlsa == 0 || in->ntlsa > SMTP_TLS_DANE_MAX_TLSA)
        return SMTP_ERR_INVALID_ARGUMENT;
    size_t data = 0;
    for (size_t i = 0; i < in->ntlsa; i++) {
        const smtp_tls_tlsa *r = &in->tlsa[i];
        if ((!r->data && r->len > 0) || r->len > SMTP_TLS_DANE_MAX_DATA)
            return SMTP_ERR_INVALID_ARGUMENT;
        data += r->len;
    }
    const char *base = in->base_domain ? in->base_domain : host;
    const char *mx = in->mx_host ? in->mx_host : host;
    size_t base_len = base ? name_len(base) : 0, mx_len = mx ? name_len(mx) : 0;
    if (base_len == 0 || (mx && mx_len == 0)) return SMTP_ERR_INVALID_ARGUMENT;
    if (mx && mx_len == base_len && ascii_caseeq((const unsigned char *)mx, base, base_len))
        mx = NULL; /* one name */

    /* One block: the state, the records, their data, the names. */
    size_t size = sizeof(tls_dane) + in->ntlsa * sizeof(dane_rec) + data + base_len + 1 +
                  (mx ? mx_len + 1 : 0);
    tls_dane *d = mem->calloc(1, size, mem->user_data);
    if (!d) return SMTP_ERR_NOMEM;
    d->mem = *mem;
    d->rec = (dane_rec *)(d + 1);
    d->nrec = in->ntlsa;
    unsigned char *p = (unsigned char *)(d->rec + in->ntlsa);
    for (size_t i = 0; i < in->ntlsa; i++) {
        const smtp_tls_tlsa *r = &in->tlsa[i];
        dane_rec *c = &d->rec[i];
        c->usage = r->usage;
        c->selector = r->selector;
        c->mtype = r->mtype;
        c->usable = rec_usable(r);
        d->nusable += (size_t)c->usable;
        c->data = p;
        c->len = r->len;
        if (r->len > 0) memcpy(p, r->data, r->len);
        p += r->len;
    }
    memcpy(p, base, base_len); /* the block is zeroed: the NUL is there */
    d->names[d->nnames++] = (const char *)p;
    p += base_len + 1;
    if (mx) {
        memcpy(p, mx, mx_len);
        d->names[d->nnames++] = (const char *)p;
    }
    d->status = SMTP_TLS_DANE_PENDING;
    d->index = SIZE_MAX;
    *pd = d;
    return 0;
}

void tls_dane_del(tls_dane *d)
{
    if (!d) return;
    smtp_mem mem = d->mem;
    mem.free(d, mem.user_data);
}

const char *tls_dane_sni(const tls_dane *d)
{
    return d->names[0];
}

/* Does the record match the certificate (its DER, or its SubjectPublicKeyInfo's)? */
static int rec_matches(const dane_rec *r, const mbedtls_x509_crt *crt)
{
    const mbedtls_x509_buf *sel = r->selector == SMTP_TLS_TLSA_CERT ? &crt->raw : CRT_SPKI(crt);
    if (r->mtype == SMTP_TLS_TLSA_FULL)
        return sel->len == r->len && memcmp(sel->p, r->data, r->len) == 0;
    unsigned char digest[64];
    const mbedtls_md_info_t *md = rec_md(r->mtype);
    return md != NULL && mbedtls_md_get_size(md) == r->len && r->len <= sizeof digest &&
           mbedtls_md(md, sel->p, sel->len, digest) == 0 && memcmp(digest, r->data, r->len) == 0;
}

/* The chain's verification callback: the trust anchor's own dates do not count (RFC 5280 6.1
 * takes a trust anchor as a name and a key). */
static int anchor_dates(void *anchor, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)depth;
    if (crt == anchor)
        *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    return 0;
}

/* What is wrong with the path from `ta` (a certificate the server sent) down to `leaf`, with
 * `ta` as the only trust anchor: 0 when the path validates, else MBEDTLS_X509_BADCERT_* bits
 * (NOT_TRUSTED: no path to it). */
static uint32_t chain_flags(mbedtls_x509_crt *leaf, const mbedtls_x509_crt *ta)
{
    mbedtls_x509_crt anchor; /* ta alone: its `next` would be trusted too */
    uint32_t flags = 0;
    mbedtls_x509_crt_init(&anchor);
    int ret = mbedtls_x509_crt_parse_der_nocopy(&anchor, ta->raw.p, ta->raw.len);
    if (ret == 0)
        ret = mbedtls_x509_crt_verify_with_profile(leaf, &anchor, NULL,
                                                   &mbedtls_x509_crt_profile_default, NULL, &flags,
                                                   anchor_dates, &anchor);
    mbedtls_x509_crt_free(&anchor);
    if (ret == 0) return 0;
    /* Another error than a failed verification (memory): no path was shown. */
    return ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0
               ? flags
               : (uint32_t)MBEDTLS_X509_BADCERT_NOT_TRUSTED;
}

/*
 * Does a name the certificate presents match a reference identifier (RFC 6125 6.4)? ASCII
 * case is ignored, a final dot too; "*" matches one label, only as the whole leftmost label
 * of a name of three labels or more ("*.example.org", not "*.org" nor "mx*.example.org").
 */
static int name_matches(const unsigned char *p, size_t plen, const char *ref)
{
    size_t rlen = strlen(ref);
    if (plen > 0 && p[plen - 1] == '.') plen--;
    if (plen == rlen && ascii_caseeq(p, ref, rlen)) return 1;
    if (plen < 4 || p[0] != '*' || p[1] != '.' || !memchr(p + 2, '.', plen - 2)) return 0;
    const char *dot = memchr(ref, '.', rlen);
    if (!dot || dot == ref) return 0;
    size_t rest = rlen - (size_t)(dot + 1 - ref);
    return plen - 2 == rest && ascii_caseeq(p + 2, dot + 1, rest);
}

/* Does a presented name match one of the reference identifiers? Sets *which. */
static int names_one(const tls_dane *d, const unsigned char *p, size_t len, size_t *which)
{
    for (size_t i = 0; i < d->nnames; i++) {
        if (name_matches(p, len, d->names[i])) {
            *which = i;
            return 1;
        }
    }
    return 0;
}

/* RFC 7672 3.2.3 (RFC 6125 6.4.4): the subjectAltName dNSName entries; only when there is
 * none, the subject's CN. */
static int leaf_names(const tls_dane *d, const mbedtls_x509_crt *leaf, size_t *which)
{
    const int dns_tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME;
    int has_dns = 0;
    for (const mbedtls_x509_sequence *s = &leaf->subject_alt_names; s != NULL; s = s->next) {
        if (s->buf.p == NULL || s->buf.tag != dns_tag) continue;
        has_dns = 1;
        if (names_one(d, s->buf.p, s->buf.len, which)) return 1;
    }
    if (has_dns) return 0;
    for (const mbedtls_x509_name *n = &leaf->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
            names_one(d, n->val.p, n->val.len, which))
            return 1;
    }
    return 0;
}

/* Keeps a failure when it got further than the one kept. */
static void note(tls_dane *d, smtp_tls_dane_status st, size_t index, size_t depth, uint32_t flags)
{
    static const int rank[] = {[SMTP_TLS_DANE_MISMATCH] = 1,
                               [SMTP_TLS_DANE_CHAIN_INVALID] = 2,
                               [SMTP_TLS_DANE_NAME_MISMATCH] = 3};
    if (rank[st] <= rank[d->status]) return;
    d->status = st;
    d->index = index;
    d->depth = depth;
    d->chain_flags = flags;
}

/* A DANE-TA record against the certificates above the leaf; 1 when it authenticates. */
static int check_ta(tls_dane *d, size_t i, mbedtls_x509_crt *leaf)
{
    size_t depth = 1;
    for (const mbedtls_x509_crt *ta = leaf->next; ta != NULL; ta = ta->next, depth++) {
        if (ta->raw.p == NULL || !rec_matches(&d->rec[i], ta)) continue;
        uint32_t flags = chain_flags(leaf, ta);
        size_t which = 0;
        if (flags != 0) {
            note(d, SMTP_TLS_DANE_CHAIN_INVALID, i, depth, flags);
        } else if (!leaf_names(d, leaf, &which)) {
            note(d, SMTP_TLS_DANE_NAME_MISMATCH, i, depth, 0);
        } else {
            d->status = SMTP_TLS_DANE_MATCHED;
            d->index = i;
            d->depth = depth;
            d->name = which;
            return 1;
        }
    }
    return 0;
}

int tls_dane_check(tls_dane *d, mbedtls_x509_crt *leaf)
{
    d->index = SIZE_MAX;
    d->chain_flags = 0;
    if (d->nusable == 0) {
        d->status = SMTP_TLS_DANE_UNUSABLE;
        return 0;
    }
    d->status = SMTP_TLS_DANE_MISMATCH;
    for (size_t i = 0; i < d->nrec; i++) {
        const dane_rec *r = &d->rec[i];
        if (!r->usable) continue;
        if (r->usage == SMTP_TLS_TLSA_DANE_EE && rec_matches(r, leaf)) {
            d->status = SMTP_TLS_DANE_MATCHED;
            d->index = i;
            d->depth = 0;
            return 0;
        }
        if (r->usage == SMTP_TLS_TLSA_DANE_TA && check_ta(d, i, leaf)) return 0;
    }
    return -1;
}

int tls_dane_failed(const tls_dane *d)
{
    return d->status == SMTP_TLS_DANE_MISMATCH || d->status == SMTP_TLS_DANE_NAME_MISMATCH ||
           d->status == SMTP_TLS_DANE_CHAIN_INVALID;
}

int tls_dane_finish(tls_dane *d)
{
    /* No certificate was checked: the server sent none (the check did not run). */
    if (d->status == SMTP_TLS_DANE_PENDING)
        d->status = d->nusable == 0 ? SMTP_TLS_DANE_UNUSABLE : SMTP_TLS_DANE_MISMATCH;
    return tls_dane_failed(d) ? -1 : 0;
}

smtp_tls_dane_status tls_dane_status(const tls_dane *d, size_t *index, uint8_t *usage)
{
    if (d->index != SIZE_MAX) {
        if (index) *index = d->index;
        if (usage) *usage = d->rec[d->index].usage;
    }
    return d->status;
}

uint32_t tls_dane_flags(const tls_dane *d)
{
    switch (d->status) {
    case SMTP_TLS_DANE_MATCHED: return 0;
    case SMTP_TLS_DANE_MISMATCH: return MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    case SMTP_TLS_DANE_NAME_MISMATCH: return MBEDTLS_X509_BADCERT_CN_MISMATCH;
    case SMTP_TLS_DANE_CHAIN_INVALID: return d->chain_flags;
    default: return SMTP_TLS_VERIFY_UNAVAILABLE; /* nothing was authenticated */
    }
}

/* Appends to buf[0..cap) at *used, NUL-terminated and cut to fit. */
static void add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n < cap - *used ? (size_t)n : cap - *used - 1;
}

/* "TLSA record 2 of 3 (2 1 1)": records counted from 1 for people. */
static void add_record(const tls_dane *d, char *buf, size_t cap, size_t *used)
{
    const dane_rec *r = &d->rec[d->index];
    add(buf, cap, used, "TLSA record %zu of %zu (%u %u %u)", d->index + 1, d->nrec,
        (unsigned)r->usage, (unsigned)r->selector, (unsigned)r->mtype);
}

size_t tls_dane_text(const tls_dane *d, char *buf, size_t cap)
{
    size_t used = 0;
    if (cap == 0) return 0;
    buf[0] = '\0';
    switch (d->status) {
    case SMTP_TLS_DANE_MATCHED:
        add(buf, cap, &used, "DANE-%s ", d->depth == 0 ? "EE" : "TA");
        add_record(d, buf, cap, &used);
        if (d->depth == 0)
            add(buf, cap, &used, " matched the server's certificate");
        else
            add(buf, cap, &used, " matched certificate %zu of the server's chain, for %s",
                d->depth + 1, d->names[d->name]);
        break;
    case SMTP_TLS_DANE_UNUSABLE:
        add(buf, cap, &used,
            "no usable TLSA record (%zu given): TLS without authentication (RFC 7672 2.2)",
            d->nrec);
        break;
    case SMTP_TLS_DANE_MISMATCH:
        add(buf, cap, &used,
            "TLSA mismatch: no usable TLSA record (%zu of %zu) matches the "
            "server's certificate chain",
            d->nusable, d->nrec);
        break;
    case SMTP_TLS_DANE_NAME_MISMATCH:
        add(buf, cap, &used, "name mismatch for DANE-TA: ");
        add_record(d, buf, cap, &used);
        add(buf, cap, &used,
            " matched certificate %zu of the chain, but the server's "
            "certificate does not name %s",
            d->depth + 1, d->names[0]);
        if (d->nnames > 1) add(buf, cap, &used, " nor %s", d->names[1]);
        break;
    case SMTP_TLS_DANE_CHAIN_INVALID: {
        char why[240];
        smtp_tls_flags_text(why, sizeof why, d->chain_flags);
        add(buf, cap, &used, "DANE-TA chain does not validate: ");
        add_record(d, buf, cap, &used);
        add(buf, cap, &used, " matched certificate %zu of the chain, but: %s", d->depth + 1, why);
        break;
    }
    default: add(buf, cap, &used, "not verified"); break;
    }
    return used;
}
