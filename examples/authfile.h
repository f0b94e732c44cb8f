/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink's --auth-file: the users allowed to authenticate, one "user:password" a line.
 */
#ifndef EX_AUTHFILE_H
#define EX_AUTHFILE_H

#include <stddef.h>

typedef struct ex_authfile {
    char *text; /* the file's contents; entries point into it */
    size_t count;
    struct ex_auth_entry {
        const char *user, *password;
        size_t user_len, password_len;
    } * entries;
} ex_authfile;

/*
 * ex_authfile_load reads `path`. Format: one "user:password" a line, split at the first ':'
 * (a password may hold ':'); LF or CRLF line ends; empty lines and lines starting with '#'
 * are skipped. A line without ':', with an empty user or password, or with a NUL byte is an
 * error. Returns 0; -1 when the file cannot be read (or memory runs out); -2 when it is
 * malformed (no entry at all, or a bad line). `err` holds a message (line number included).
 */
int ex_authfile_load(ex_authfile *af, const char *path, char *err, size_t err_cap);

/*
 * ex_authfile_check returns 1 when `user` and `password` match an entry, else 0. Passwords
 * are compared in time independent of where they differ.
 */
int ex_authfile_check(const ex_authfile *af, const char *user, size_t user_len,
                      const char *password, size_t password_len);

void ex_authfile_free(ex_authfile *af);

#endif /* EX_AUTHFILE_H */
