/* SPDX-License-Identifier: MIT */
/*
 * Ready-made body sources for the client engine (smtp_client_read_body_fn, <smtp/client.h>):
 * a file descriptor and a stdio stream. They live in the I/O adapter because they read; the
 * engine only calls them when it has room.
 */
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

smtp_ssize smtp_io_read_fd(smtp_client *cli, char *dest, size_t cap, void *user_data)
{
    (void)cli;
    const int *fd = user_data;
    if (!fd || *fd < 0) return SMTP_ERR_INVALID_ARGUMENT;
    for (;;) {
        ssize_t n = read(*fd, dest, cap);
        if (n >= 0) return (smtp_ssize)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return SMTP_ERR_AGAIN;
        return SMTP_ERR_INVALID_STATE; /* a read error: the body cannot be had whole */
    }
}

smtp_ssize smtp_io_read_file(smtp_client *cli, char *dest, size_t cap, void *user_data)
{
    (void)cli;
    FILE *f = user_data;
    if (!f) return SMTP_ERR_INVALID_ARGUMENT;
    size_t n = fread(dest, 1, cap, f);
    if (n > 0) return (smtp_ssize)n;
    return ferror(f) ? SMTP_ERR_INVALID_STATE : 0;
}
