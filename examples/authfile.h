/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's --auth-file: the users allowed to authenticate, one "user:password" or
 * "user:{SCRAM-SHA-256}..." a line.
 */
#ifndef EX_AUTHFILE_H
#define EX_AUTHFILE_H

#include <smtp/server.h>

#include <stddef.h>
#include <stdio.h>

typedef struct ex_authfile {
    char *text; /* the file's contents; entries point into it */
    size_t count;
    struct ex_auth_entry {
        const char *user, *password; /* password NULL for a SCRAM entry */
        size_t user_len, password_len;
        int has_scram;           /* a SCRAM entry, or one derived from the password */
        smtp_server_scram scram; /* with has_scram */
    } * entries;
    const smtp_crypto *crypto; /* ex_authfile_load's, for ex_authfile_check */
} ex_authfile;

/* The iteration count of the SCRAM credentials made from a password (RFC 7677 4). */
#define EX_SCRAM_ITERATIONS 4096

/*
 * ex_authfile_load reads `path`. Format: one entry a line, the user name up to the first ':'
 * (a password may hold ':'); LF or CRLF line ends; empty lines and lines starting with '#'
 * are skipped. After the ':' either a password (as is, or after "{PLAIN}"), or SCRAM-SHA-256
 * credentials as Dovecot writes them: "{SCRAM-SHA-256}ITERATIONS,SALT,STOREDKEY,SERVERKEY",
 * the last three in base64 (ex_authfile_make_scram makes such a line). With `crypto` (NULL
 * when there is none: no mbedTLS), each password entry also gets SCRAM credentials (a random
 * salt, EX_SCRAM_ITERATIONS). A line without ':', with an empty user or password, with a NUL
 * byte, a malformed SCRAM entry, or a SCRAM entry without `crypto` is an error. Returns 0; -1
 * when the file cannot be read (or memory runs out); -2 when it is malformed (no entry at
 * all, or a bad line). `err` holds a message (line number included). `crypto` must outlive
 * `af`.
 */
int ex_authfile_load(ex_authfile *af, const char *path, const smtp_crypto *crypto, char *err,
                     size_t err_cap);

/*
 * ex_authfile_check returns 1 when `user` and `password` match an entry, else 0. Passwords
 * are compared in time independent of where they differ; against a SCRAM entry the password's
 * StoredKey is (with its salt and iterations).
 */
int ex_authfile_check(const ex_authfile *af, const char *user, size_t user_len,
                      const char *password, size_t password_len);

/* ex_authfile_find returns the entry of `user`, or NULL. */
const struct ex_auth_entry *ex_authfile_find(const ex_authfile *af, const char *user,
                                             size_t user_len);

/*
 * ex_authfile_make_scram writes the line "user:{SCRAM-SHA-256}4096,SALT,STOREDKEY,SERVERKEY"
 * and LF to `out` for `password`, with a random salt of 16 octets. Returns 0, or -1 when the
 * crypto failed.
 */
int ex_authfile_make_scram(FILE *out, const char *user, const char *password, size_t len,
                           const smtp_crypto *crypto);

void ex_authfile_free(ex_authfile *af);

#endif /* EX_AUTHFILE_H */
