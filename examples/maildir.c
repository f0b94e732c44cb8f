/* SPDX-License-Identifier: MIT */
/*
 * Maildir delivery (maildir.h). The order is the one the Maildir page gives for a reliable
 * delivery: create DIR/tmp/<unique> exclusively, write, fsync, close, then link it into DIR/new
 * (rename here: the tmp name is ours alone) and fsync the directory, because on Linux a rename
 * is durable only once its directory is synced. Writes go through a 64 KiB buffer: one
 * write(2) per buffer, not one per piece of data the SMTP engine hands over.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    return -1;
}

/* The host part of unique names: '/' and ':' cannot appear, so they become \057 and \072. */
static void escape_host(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p != '\0' && o + 5 < cap; p++) {
        if (*p == '/' || *p == ':') {
            o += (size_t)snprintf(out + o, cap - o, "\\%03o", (unsigned)(unsigned char)*p);
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

int ex_maildir_open(ex_maildir *md, const char *dir)
{
    static const char *const subdirs[] = {"tmp", "new", "cur"};
    char path[EX_MAILDIR_PATH_MAX + 8];
    if (strlen(dir) + 5 >= sizeof md->dir) return errno = ENAMETOOLONG, -1;
    snprintf(md->dir, sizeof md->dir, "%s", dir);
    if (mkdir_if_missing(dir) != 0) return -1;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subdirs[i]);
        if (mkdir_if_missing(path) != 0) return -1;
    }
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    escape_host(host, md->host, sizeof md->host);
    md->deliveries = 0;
    return 0;
}

int ex_maildir_begin(ex_maildir *md, ex_maildir_msg *msg)
{
    msg->fd = -1;
    msg->failed = 0;
    msg->size = 0;
    msg->used = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        char name[512];
        snprintf(name, sizeof name, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
                 (long)getpid(), ++md->deliveries, md->host);
        int n1 = snprintf(msg->tmp_path, sizeof msg->tmp_path, "%s/tmp/%s", md->dir, name);
        int n2 = snprintf(msg->new_path, sizeof msg->new_path, "%s/new/%s", md->dir, name);
        if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof msg->new_path) return errno = ENAMETOOLONG, -1;
        msg->fd = open(msg->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (msg->fd >= 0) return 0;
        if (errno != EEXIST) return -1;
    }
    return errno = EEXIST, -1;
}

static void flush(ex_maildir_msg *msg)
{
    size_t off = 0;
    while (off < msg->used && !msg->failed) {
        ssize_t n = write(msg->fd, msg->buf + off, msg->used - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            msg->failed = n < 0 ? errno : EIO;
            break;
        }
        off += (size_t)n;
    }
    msg->used = 0;
}

void ex_maildir_write(ex_maildir_msg *msg, const char *data, size_t len)
{
    msg->size += len;
    while (len > 0 && !msg->failed) {
        size_t room = sizeof msg->buf - msg->used;
        size_t n = len < room ? len : room;
        memcpy(msg->buf + msg->used, data, n);
        msg->used += n;
        data += n;
        len -= n;
        if (msg->used == sizeof msg->buf) flush(msg);
    }
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int ex_maildir_commit(ex_maildir *md, ex_maildir_msg *msg)
{
    flush(msg);
    if (!msg->failed && fsync(msg->fd) != 0) msg->failed = errno;
    if (close(msg->fd) != 0 && !msg->failed) msg->failed = errno;
    msg->fd = -1;
    if (!msg->failed && rename(msg->tmp_path, msg->new_path) != 0) msg->failed = errno;
    if (msg->failed) {
        unlink(msg->tmp_path);
        return errno = msg->failed, -1;
    }
    char newdir[EX_MAILDIR_PATH_MAX + 8];
    snprintf(newdir, sizeof newdir, "%s/new", md->dir);
    /* The message is in new/ already; if the directory sync fails it may not survive a
     * crash, so it is not acknowledged (the client retries; a duplicate beats a loss). */
    return fsync_dir(newdir);
}

void ex_maildir_abort(ex_maildir_msg *msg)
{
    if (msg->fd < 0) return;
    close(msg->fd);
    msg->fd = -1;
    unlink(msg->tmp_path);
}
