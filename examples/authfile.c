/* SPDX-License-Identifier: MIT */
/*
 * The --auth-file reader (authfile.h): the whole file is read into memory once, split into
 * lines in place, and each entry points into that copy. SCRAM-SHA-256 entries are decoded, and
 * password entries get SCRAM credentials made at load time, so that the server never needs
 * the password for SCRAM and can check a PLAIN password against a SCRAM entry.
 */
#include "authfile.h"

#include <smtp/codec.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (used == cap) {
            char *bigger = cap < ((size_t)1 << 26) ? realloc(buf, cap * 2) : NULL;
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
                errno = EIO;
            }
            break;
        }
    }
    fclose(f);
    *len = used;
    return buf;
}

static const char scram_tag[] = "{SCRAM-SHA-256}";
static const char plain_tag[] = "{PLAIN}";

/* The next ','-separated base64 field of p[*pos..n) decoded into out (at most cap octets);
 * its length, or -1. */
static long b64_field(const char *p, size_t n, size_t *pos, unsigned char *out, size_t cap)
{
    const char *f = p + *pos, *comma = memchr(f, ',', n - *pos);
    size_t flen = comma ? (size_t)(comma - f) : n - *pos;
    *pos += flen + (comma != NULL);
    smtp_ssize k = smtp_base64_decode(f, flen, (char *)out, cap);
    return k > 0 ? (long)k : -1;
}

/* "ITERATIONS,SALT,STOREDKEY,SERVERKEY" (Dovecot's form, after its tag): 0, or -1. */
static int parse_scram(const char *p, size_t n, smtp_server_scram *c)
{
    size_t pos = 0;
    unsigned long it = 0;
    while (pos < n && p[pos] >= '0' && p[pos] <= '9' && it <= 100000000)
        it = it * 10 + (unsigned long)(p[pos++] - '0');
    if (pos == 0 || pos == n || p[pos] != ',' || it == 0 || it > 100000000) return -1;
    pos++;
    unsigned char key[SMTP_SERVER_SCRAM_KEY + 3];
    long salt = b64_field(p, n, &pos, c->salt, sizeof c->salt);
    if (salt < 0 || b64_field(p, n, &pos, key, sizeof key) != SMTP_SERVER_SCRAM_KEY) return -1;
    memcpy(c->stored_key, key, SMTP_SERVER_SCRAM_KEY);
    if (pos == n || b64_field(p, n, &pos, key, sizeof key) != SMTP_SERVER_SCRAM_KEY || pos != n)
        return -1;
    memcpy(c->server_key, key, SMTP_SERVER_SCRAM_KEY);
    c->salt_len = (size_t)salt;
    c->iterations = (uint32_t)it;
    return 0;
}

/* The SCRAM credentials of a password entry: a random salt. 0, or -1. */
static int derive_scram(struct ex_auth_entry *e, const smtp_crypto *crypto)
{
    unsigned char salt[16];
    if (crypto->random == NULL || crypto->random(salt, sizeof salt, crypto->ctx) < 0) return -1;
    if (smtp_server_scram_make(&e->scram, crypto, e->password, e->password_len, salt, sizeof salt,
                               EX_SCRAM_ITERATIONS) < 0)
        return -1;
    e->has_scram = 1;
    return 0;
}

/* The value after "user:": a password, or SCRAM credentials. NULL, or what is wrong. */
static const char *entry_value(struct ex_auth_entry *e, const char *v, size_t n,
                               const smtp_crypto *crypto)
{
    size_t st = sizeof scram_tag - 1, pt = sizeof plain_tag - 1;
    if (n >= st && memcmp(v, scram_tag, st) == 0) {
        if (crypto == NULL) return "SCRAM-SHA-256 entries need a build with mbedTLS";
        if (parse_scram(v + st, n - st, &e->scram) < 0)
            return "expected user:{SCRAM-SHA-256}ITERATIONS,SALT,STOREDKEY,SERVERKEY";
        e->has_scram = 1;
        return NULL;
    }
    if (n >= pt && memcmp(v, plain_tag, pt) == 0) v += pt, n -= pt;
    if (n == 0) return "expected user:password";
    e->password = v;
    e->password_len = n;
    if (crypto != NULL && derive_scram(e, crypto) < 0) return "cannot make SCRAM credentials";
    return NULL;
}

int ex_authfile_load(ex_authfile *af, const char *path, const smtp_crypto *crypto, char *err,
                     size_t err_cap)
{
    size_t len;
    memset(af, 0, sizeof *af);
    af->crypto = crypto;
    af->text = read_all(path, &len);
    if (af->text == NULL) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += af->text[i] == '\n';
    af->entries = calloc(lines, sizeof *af->entries);
    if (af->entries == NULL) {
        snprintf(err, err_cap, "%s: out of memory", path);
        ex_authfile_free(af);
        return -1;
    }
    size_t lineno = 0;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(af->text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - af->text) : len;
        size_t next = nl ? end + 1 : len;
        lineno++;
        if (end > start && af->text[end - 1] == '\r') end--;
        const char *line = af->text + start;
        size_t ll = end - start;
        start = next;
        if (ll == 0 || line[0] == '#') continue;
        const char *colon = memchr(line, ':', ll);
        if (memchr(line, '\0', ll) != NULL || colon == NULL || colon == line ||
            colon == line + ll - 1) {
            snprintf(err, err_cap, "%s:%zu: expected user:password", path, lineno);
            ex_authfile_free(af);
            return -2;
        }
        struct ex_auth_entry *e = &af->entries[af->count++];
        e->user = line;
        e->user_len = (size_t)(colon - line);
        const char *bad = entry_value(e, colon + 1, ll - e->user_len - 1, crypto);
        if (bad != NULL) {
            snprintf(err, err_cap, "%s:%zu: %s", path, lineno, bad);
            ex_authfile_free(af);
            return -2;
        }
    }
    if (af->count == 0) {
        snprintf(err, err_cap, "%s: no user:password line", path);
        ex_authfile_free(af);
        return -2;
    }
    return 0;
}

/* Compares without an early exit, so the time does not tell where the passwords differ.
 * `a` (the stored password) is never empty. */
static int same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned diff = alen != blen;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned)((unsigned char)a[i % alen] ^ (unsigned char)b[i]);
    return diff == 0;
}

/* A password against a SCRAM entry: the StoredKey it gives with the entry's salt. */
static int scram_matches(const ex_authfile *af, const struct ex_auth_entry *e, const char *password,
                         size_t len)
{
    smtp_server_scram c;
    if (smtp_server_scram_make(&c, af->crypto, password, len, e->scram.salt, e->scram.salt_len,
                               e->scram.iterations) < 0)
        return 0;
    return same_secret((const char *)e->scram.stored_key, SMTP_SERVER_SCRAM_KEY,
                       (const char *)c.stored_key, SMTP_SERVER_SCRAM_KEY);
}

int ex_authfile_check(const ex_authfile *af, const char *user, size_t user_len,
                      const char *password, size_t password_len)
{
    int ok = 0;
    for (size_t i = 0; i < af->count; i++) {
        const struct ex_auth_entry *e = &af->entries[i];
        if (e->user_len != user_len || memcmp(e->user, user, user_len) != 0) continue;
        if (e->password != NULL)
            ok |= same_secret(e->password, e->password_len, password, password_len);
        else if (password_len > 0)
            ok |= scram_matches(af, e, password, password_len);
    }
    return ok;
}

const struct ex_auth_entry *ex_authfile_find(const ex_authfile *af, const char *user,
                                             size_t user_len)
{
    for (size_t i = 0; i < af->count; i++) {
        const struct ex_auth_entry *e = &af->entries[i];
        if (e->user_len == user_len && memcmp(e->user, user, user_len) == 0) return e;
    }
    return NULL;
}

/* Writes n octets of base64 to out. */
static void put_b64(FILE *out, const unsigned char *p, size_t n)
{
    char b[((SMTP_SERVER_SCRAM_SALT_MAX + 2) / 3) * 4 + 1];
    smtp_ssize k = smtp_base64_encode((const char *)p, n, b, sizeof b);
    fwrite(b, 1, k > 0 ? (size_t)k : 0, out);
}

int ex_authfile_make_scram(FILE *out, const char *user, const char *password, size_t len,
                           const smtp_crypto *crypto)
{
    struct ex_auth_entry e;
    memset(&e, 0, sizeof e);
    e.password = password;
    e.password_len = len;
    if (derive_scram(&e, crypto) < 0) return -1;
    fprintf(out, "%s:%s%u,", user, scram_tag, (unsigned)e.scram.iterations);
    put_b64(out, e.scram.salt, e.scram.salt_len);
    fputc(',', out);
    put_b64(out, e.scram.stored_key, SMTP_SERVER_SCRAM_KEY);
    fputc(',', out);
    put_b64(out, e.scram.server_key, SMTP_SERVER_SCRAM_KEY);
    fputc('\n', out);
    return 0;
}

void ex_authfile_free(ex_authfile *af)
{
    free(af->text);
    free(af->entries);
    memset(af, 0, sizeof *af);
}
