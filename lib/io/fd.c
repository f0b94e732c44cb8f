/* SPDX-License-Identifier: MIT */
/*
 * Descriptor helpers, the clock, and the names of statuses: the small system-facing pieces
 * shared by the rest of the adapter.
 */
#include "io_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int smtp_io_fd_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return want == fl ? 0 : fcntl(fd, F_SETFL, want);
}

void smtp_io_fd_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/*
 * SMTP writes small commands and replies back to back (a pipelined group, the end of data
 * after the last body block): Nagle's algorithm would hold the second write until the
 * first is acknowledged, a delayed ACK later. Not a TCP socket: ignored.
 */
void smtp_io_fd_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
}

void smtp_io_fd_tell_peer(int fd, smtp_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN];
    unsigned port;
    const void *addr;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&ss;
        addr = &in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        addr = &in6->sin6_addr;
        port = ntohs(in6->sin6_port);
    } else {
        return; /* a UNIX socket, a pipe: no address */
    }
    if (inet_ntop(ss.ss_family, addr, text, sizeof text))
        (void)smtp_server_set_client_address(srv, text, port);
}

int64_t smtp_io_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smtp_io_settings_init_versioned(int version, smtp_io_settings *s)
{
    if (!s || version < 1 || version > SMTP_IO_SETTINGS_VERSION) return;
    memset(s, 0, sizeof *s);
    s->write_timeout_ms = 300000;
    s->linger_ms = 10000;
    s->handshake_timeout_ms = 60000;
    s->read_size = 16384;
}

int smtp_io_settings_copy(int version, const smtp_io_settings *settings, smtp_io_settings *out)
{
    /* Version 1 is the only one yet: a later one copies the fields of `version` over the
     * defaults. */
    if (version != SMTP_IO_SETTINGS_VERSION) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_io_settings_init(out);
    if (settings) *out = *settings;
    if (out->read_size == 0 || out->read_size > SMTP_IO_MAX_READ ||
        (out->implicit_tls && !out->tls_new))
        return SMTP_ERR_INVALID_ARGUMENT;
    return 0;
}

const char *smtp_io_status_name(smtp_io_status status)
{
    switch (status) {
    case SMTP_IO_OK: return "OK";
    case SMTP_IO_DONE: return "DONE";
    case SMTP_IO_EOF: return "EOF";
    case SMTP_IO_SYSERR: return "SYSERR";
    case SMTP_IO_TIMEOUT: return "TIMEOUT";
    case SMTP_IO_TLS: return "TLS";
    case SMTP_IO_ERROR: return "ERROR";
    case SMTP_IO_RESOLVE: return "RESOLVE";
    case SMTP_IO_SHUTDOWN: return "SHUTDOWN";
    }
    return "INVALID";
}

const char *smtp_io_status_text(smtp_io_status status, int detail, char *buf, size_t cap)
{
    if (!buf || cap == 0) return buf;
    switch (status) {
    case SMTP_IO_OK: snprintf(buf, cap, "open"); break;
    case SMTP_IO_DONE: snprintf(buf, cap, "session ended"); break;
    case SMTP_IO_EOF: snprintf(buf, cap, "connection closed by the peer"); break;
    case SMTP_IO_SYSERR: snprintf(buf, cap, "socket error: %s", strerror(detail)); break;
    case SMTP_IO_TIMEOUT: snprintf(buf, cap, "timed out"); break;
    case SMTP_IO_TLS:
        snprintf(buf, cap, "TLS failed (%d: %s)", detail, smtp_error_text(detail));
        break;
    case SMTP_IO_ERROR: snprintf(buf, cap, "%s", smtp_error_text(detail)); break;
    case SMTP_IO_RESOLVE:
        snprintf(buf, cap, "name resolution failed: %s", gai_strerror(detail));
        break;
    case SMTP_IO_SHUTDOWN: snprintf(buf, cap, "server shutting down"); break;
    default: snprintf(buf, cap, "unknown status %d", (int)status); break;
    }
    return buf;
}
