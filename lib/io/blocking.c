/* SPDX-License-Identifier: MIT */
/*
 * The blocking calls: connecting by name, and running one client or server session on one
 * descriptor until it ends. They are the connection pieces (conn.c) driven by poll(2) on a
 * single descriptor, with the connection's deadline as poll's timeout.
 */
#include "io_internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits until a non-blocking connect completes; returns 0 or an errno value. */
static int connect_wait(int fd, uint32_t timeout_ms)
{
    int64_t end = smtp_io_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int64_t left = end - smtp_io_now_ms();
        if (left < 0) left = 0;
        int r = poll(&p, 1, timeout_ms ? (int)left : -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) return ETIMEDOUT;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
        return err;
    }
}

/* Connects to one address; returns the descriptor or -1 with *err set. */
static int connect_one(const struct addrinfo *ai, uint32_t timeout_ms, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    smtp_io_fd_cloexec(fd);
    if (smtp_io_fd_nonblock(fd, 1) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    *err = r == 0 ? 0 : errno;
    if (r < 0 && (errno == EINPROGRESS || errno == EINTR)) *err = connect_wait(fd, timeout_ms);
    if (*err == 0 && smtp_io_fd_nonblock(fd, 0) < 0) *err = errno;
    if (*err) {
        close(fd);
        return -1;
    }
    return fd;
}

int smtp_io_connect(const char *host, const char *port, uint32_t timeout_ms, smtp_io_status *status,
                    int *detail)
{
    smtp_io_status st_dummy;
    int det_dummy;
    if (!status) status = &st_dummy;
    if (!detail) detail = &det_dummy;
    *status = SMTP_IO_OK;
    *detail = 0;
    if (!host || !port) {
        *status = SMTP_IO_ERROR;
        *detail = SMTP_ERR_INVALID_ARGUMENT;
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        *status = g == EAI_SYSTEM ? SMTP_IO_SYSERR : SMTP_IO_RESOLVE;
        *detail = g == EAI_SYSTEM ? errno : g;
        return -1;
    }
    int fd = -1, err = ENOENT;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, timeout_ms, &err);
    freeaddrinfo(res);
    if (fd < 0) {
        *status = err == ETIMEDOUT ? SMTP_IO_TIMEOUT : SMTP_IO_SYSERR;
        *detail = err == ETIMEDOUT ? 0 : err;
    }
    return fd;
}

/* Drives a connection with poll until it is done. */
static void run(smtp_io_conn *c)
{
    while (!smtp_io_conn_done(c)) {
        unsigned ev = smtp_io_conn_events(c);
        int64_t deadline = smtp_io_conn_deadline(c);
        int64_t now = smtp_io_now_ms();
        if (ev == 0 && deadline == SMTP_IO_NEVER) {
            /* Nothing can happen: the application left the session waiting for itself. */
            smtp_io_conn_flush(c, now);
            if (smtp_io_conn_events(c) == 0 && smtp_io_conn_deadline(c) == SMTP_IO_NEVER &&
                !smtp_io_conn_done(c))
                smtp_io_conn_finish(c, SMTP_IO_ERROR, SMTP_ERR_INVALID_STATE);
            continue;
        }
        int timeout = -1;
        if (deadline != SMTP_IO_NEVER) {
            int64_t left = deadline - now;
            timeout = left <= 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
        }
        struct pollfd p = {.fd = ev ? smtp_io_conn_fd(c) : -1, .events = 0};
        if (ev & SMTP_IO_READ) p.events |= POLLIN;
        if (ev & SMTP_IO_WRITE) p.events |= POLLOUT;
        int r = poll(&p, 1, timeout);
        now = smtp_io_now_ms();
        if (r < 0) {
            if (errno == EINTR) continue;
            smtp_io_conn_finish(c, SMTP_IO_SYSERR, errno);
            break;
        }
        if (r == 0) {
            smtp_io_conn_on_timer(c, now);
            continue;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) smtp_io_conn_on_readable(c, now);
        if (p.revents & POLLOUT) smtp_io_conn_on_writable(c, now);
        if (!smtp_io_conn_done(c) && smtp_io_conn_deadline(c) <= now) smtp_io_conn_on_timer(c, now);
    }
}

static smtp_io_status finish_run(smtp_io_conn *c, int *detail)
{
    smtp_io_status st = smtp_io_conn_status(c, detail);
    smtp_io_conn_del(c);
    return st;
}

smtp_io_status smtp_io_client_run_versioned(smtp_client *cli, int fd, int settings_version,
                                            const smtp_io_settings *settings, const smtp_mem *mem,
                                            int *detail)
{
    int det_dummy;
    if (!detail) detail = &det_dummy;
    smtp_io_conn *c;
    int r = smtp_io_conn_new_client_versioned(&c, fd, cli, settings_version, settings, mem);
    if (r < 0) {
        if (fd >= 0) close(fd);
        *detail = r;
        return SMTP_IO_ERROR;
    }
    run(c);
    return finish_run(c, detail);
}

smtp_io_status smtp_io_server_run_versioned(
    int fd, int callbacks_version, const smtp_server_callbacks *callbacks,
    int server_settings_version, const smtp_server_settings *server_settings, void *user_data,
    int settings_version, const smtp_io_settings *settings, const smtp_mem *mem, int *detail)
{
    int det_dummy;
    if (!detail) detail = &det_dummy;
    smtp_io_conn *c;
    int r = smtp_io_conn_new_server_versioned(&c, fd, callbacks_version, callbacks,
                                              server_settings_version, server_settings, user_data,
                                              settings_version, settings, mem);
    if (r < 0) {
        if (fd >= 0) close(fd);
        *detail = r;
        return SMTP_IO_ERROR;
    }
    run(c);
    return finish_run(c, detail);
}
