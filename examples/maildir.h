/* SPDX-License-Identifier: MIT */
/*
 * A Maildir writer (https://cr.yp.to/proto/maildir.html) for smtp-sink: each message is
 * written to DIR/tmp under a unique name, flushed to disk, and renamed into DIR/new, so a
 * reader never sees a partial message and an acknowledged one survives a crash.
 */
#ifndef EX_MAILDIR_H
#define EX_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

#define EX_MAILDIR_PATH_MAX 4096

typedef struct ex_maildir {
    char dir[EX_MAILDIR_PATH_MAX];
    char host[256];           /* the host name part of unique names, '/' and ':' escaped */
    unsigned long deliveries; /* Q in unique names: deliveries started by this process */
} ex_maildir;

/* One message being written. */
typedef struct ex_maildir_msg {
    int fd;     /* -1 when no message is open */
    int failed; /* errno of the first failed write, or 0 */
    uint64_t size;
    size_t used; /* bytes in buf not yet written */
    char buf[65536];
    char tmp_path[EX_MAILDIR_PATH_MAX];
    char new_path[EX_MAILDIR_PATH_MAX];
} ex_maildir_msg;

/*
 * ex_maildir_open prepares `md` for DIR, creating DIR, DIR/tmp, DIR/new and DIR/cur (mode 0700)
 * when missing. Returns 0, or -1 with errno set.
 */
int ex_maildir_open(ex_maildir *md, const char *dir);

/*
 * ex_maildir_begin creates a new file in DIR/tmp with a unique name (seconds, then
 * "M<microseconds>P<pid>Q<deliveries>" and the host name, as the Maildir page suggests),
 * created with O_EXCL so a collision is detected and retried. Returns 0, or -1 with errno.
 */
int ex_maildir_begin(ex_maildir *md, ex_maildir_msg *msg);

/* ex_maildir_write appends bytes (buffered). A failure is kept for ex_maildir_commit. */
void ex_maildir_write(ex_maildir_msg *msg, const char *data, size_t len);

/*
 * ex_maildir_commit flushes the message, fsyncs it, closes it, renames it into DIR/new and
 * fsyncs DIR/new so the rename is durable too. Only after it returned 0 may the message be
 * acknowledged. On failure (-1, errno set) the temporary file is removed.
 */
int ex_maildir_commit(ex_maildir *md, ex_maildir_msg *msg);

/* ex_maildir_abort closes and removes an open message. Safe when none is open. */
void ex_maildir_abort(ex_maildir_msg *msg);

#endif /* EX_MAILDIR_H */
