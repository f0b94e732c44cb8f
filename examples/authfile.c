/* SPDX-License-Identifier: MIT */
/*
 * The --auth-file reader (authfile.h): the whole file is read into memory once, split into
 * lines in place, and each entry points into that copy.
 */
#include "authfile.h"

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

int ex_authfile_load(ex_authfile *af, const char *path, char *err, size_t err_cap)
{
    size_t len;
    memset(af, 0, sizeof *af);
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
        e->password = colon + 1;
        e->password_len = ll - e->user_len - 1;
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

int ex_authfile_check(const ex_authfile *af, const char *user, size_t user_len,
                      const char *password, size_t password_len)
{
    int ok = 0;
    for (size_t i = 0; i < af->count; i++) {
        const struct ex_auth_entry *e = &af->entries[i];
        if (e->user_len == user_len && memcmp(e->user, user, user_len) == 0)
            ok |= same_secret(e->password, e->password_len, password, password_len);
    }
    return ok;
}

void ex_authfile_free(ex_authfile *af)
{
    free(af->text);
    free(af->entries);
    memset(af, 0, sizeof *af);
}
