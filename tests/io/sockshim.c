/* SPDX-License-Identifier: MIT */
/*
 * The socket shim of the adapter's fault tests (tests/io/fault_*.c, declared in faults.h).
 *
 * Those tests are linked with ld's --wrap for each system call below (lib/io/CMakeLists.txt
 * lists them): every call of `recv` in the adapter (and in the test) reaches __wrap_recv here,
 * which calls the real one (__real_recv) unless a rule of the test says to fail it with an
 * errno value or to move fewer octets. The library's code is untouched and its production
 * build has no cost: only the tests' executables are linked this way, with a static copy of
 * the adapter.
 */
#include "faults.h"

#include <netdb.h>
#include <stdarg.h>
#include <sys/epoll.h>

#define SHIM_MAX_RULES 16

static struct shim_rule rules[SHIM_MAX_RULES];
static int nrules;
static long calls[SHIM_NCALLS], hits[SHIM_NCALLS];

void shim_rule_add(struct shim_rule r)
{
    if (nrules == SHIM_MAX_RULES) abort();
    if (r.every == 0) r.every = 1;
    rules[nrules++] = r;
}

void shim_clear(void)
{
    nrules = 0;
    memset(calls, 0, sizeof calls);
    memset(hits, 0, sizeof hits);
}

long shim_calls(enum shim_call call)
{
    return calls[call];
}

long shim_hits(enum shim_call call)
{
    return hits[call];
}

/* Does `data` (len octets) contain the NUL-terminated `s`? */
static int contains(const char *data, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, s, n) == 0) return 1;
    return 0;
}

/*
 * The rule that applies to this call of `call` on `fd`, or NULL: the first whose descriptor and
 * content match, once its `skip` is used up, on every `every`-th matching call, `times` times.
 * `cmd`: fcntl's command; `data`/`len`: the octets the call moves (send), or NULL.
 */
static const struct shim_rule *match_cmd(enum shim_call call, int fd, int cmd, const char *data,
                                         size_t len)
{
    calls[call]++;
    for (int i = 0; i < nrules; i++) {
        struct shim_rule *r = &rules[i];
        if (r->call != call || r->times == 0 || (r->fd >= 0 && r->fd != fd)) continue;
        if ((r->cmd && r->cmd != cmd) || (r->match && (!data || !contains(data, len, r->match))))
            continue;
        if (r->skip > 0) {
            r->skip--;
            continue;
        }
        if (++r->seen % r->every != 0) continue;
        if (r->times > 0) r->times--;
        hits[call]++;
        return r;
    }
    return NULL;
}

static const struct shim_rule *match(enum shim_call call, int fd, const char *data, size_t len)
{
    return match_cmd(call, fd, 0, data, len);
}

/* Is there a rule for `call` that matches content? */
static int content_rules(enum shim_call call)
{
    for (int i = 0; i < nrules; i++)
        if (rules[i].call == call && rules[i].match && rules[i].times != 0) return 1;
    return 0;
}

/* Fails the call: -1 with errno. */
static int failed(const struct shim_rule *r)
{
    errno = r->err;
    return -1;
}

ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
    /* A rule with content to match peeks at what waits (the read moves nothing meanwhile). */
    char peek[65536];
    ssize_t seen = -1;
    if (content_rules(SHIM_RECV))
        seen = __real_recv(fd, peek, len < sizeof peek ? len : sizeof peek,
                           flags | MSG_PEEK | MSG_DONTWAIT);
    const struct shim_rule *r =
        match(SHIM_RECV, fd, seen > 0 ? peek : NULL, seen > 0 ? (size_t)seen : 0);
    if (r && r->err) return failed(r);
    if (r && r->max < len) len = r->max;
    return __real_recv(fd, buf, len, flags);
}

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags)
{
    const struct shim_rule *r = match(SHIM_SEND, fd, buf, len);
    if (r && r->err) return failed(r);
    if (r && r->max < len) len = r->max;
    return __real_send(fd, buf, len, flags);
}

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __wrap_read(int fd, void *buf, size_t len);
ssize_t __wrap_read(int fd, void *buf, size_t len)
{
    const struct shim_rule *r = match(SHIM_READ, fd, NULL, 0);
    if (r && r->err) return failed(r);
    if (r && r->max < len) len = r->max;
    return __real_read(fd, buf, len);
}

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
    const struct shim_rule *r = match(SHIM_WRITE, fd, buf, len);
    if (r && r->err) return failed(r);
    if (r && r->max < len) len = r->max;
    return __real_write(fd, buf, len);
}

/*
 * A call that either fails as a rule says or runs: its type, name and shim_call, the
 * descriptor its rules match, its parameters and its arguments.
 */
#define SHIM_FAIL_OR_RUN(type, name, call, fd, params, args)                                       \
    type __real_##name params;                                                                     \
    type __wrap_##name params;                                                                     \
    type __wrap_##name params                                                                      \
    {                                                                                              \
        const struct shim_rule *r = match(call, fd, NULL, 0);                                      \
        if (r && r->err) return failed(r);                                                         \
        return __real_##name args;                                                                 \
    }

SHIM_FAIL_OR_RUN(int, accept, SHIM_ACCEPT, fd, (int fd, struct sockaddr *sa, socklen_t *len),
                 (fd, sa, len))
SHIM_FAIL_OR_RUN(int, epoll_create1, SHIM_EPOLL_CREATE, -1, (int flags), (flags))
SHIM_FAIL_OR_RUN(int, pipe, SHIM_PIPE, -1, (int fds[2]), (fds))
SHIM_FAIL_OR_RUN(int, socket, SHIM_SOCKET, -1, (int domain, int type, int protocol),
                 (domain, type, protocol))
SHIM_FAIL_OR_RUN(int, getsockopt, SHIM_GETSOCKOPT, fd,
                 (int fd, int level, int name, void *val, socklen_t *len),
                 (fd, level, name, val, len))
SHIM_FAIL_OR_RUN(int, getpeername, SHIM_GETPEERNAME, fd,
                 (int fd, struct sockaddr *sa, socklen_t *len), (fd, sa, len))
SHIM_FAIL_OR_RUN(int, getsockname, SHIM_GETSOCKNAME, fd,
                 (int fd, struct sockaddr *sa, socklen_t *len), (fd, sa, len))
SHIM_FAIL_OR_RUN(int, bind, SHIM_BIND, fd, (int fd, const struct sockaddr *sa, socklen_t len),
                 (fd, sa, len))
SHIM_FAIL_OR_RUN(int, listen, SHIM_LISTEN, fd, (int fd, int backlog), (fd, backlog))
SHIM_FAIL_OR_RUN(int, clock_gettime, SHIM_CLOCK, -1, (clockid_t id, struct timespec *ts), (id, ts))

/* A rule without an errno value makes poll and epoll_wait return 0 at once: a timeout. */
int __real_poll(struct pollfd *p, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *p, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *p, nfds_t n, int timeout)
{
    const struct shim_rule *r = match(SHIM_POLL, n ? p[0].fd : -1, NULL, 0);
    if (r) return r->err ? failed(r) : 0;
    return __real_poll(p, n, timeout);
}

int __real_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout);
int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout);
int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    const struct shim_rule *r = match(SHIM_EPOLL_WAIT, epfd, NULL, 0);
    if (r) return r->err ? failed(r) : 0;
    return __real_epoll_wait(epfd, ev, max, timeout);
}

/* epoll_ctl's rules match the descriptor registered, not the epoll instance. */
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    const struct shim_rule *r = match(SHIM_EPOLL_CTL, fd, NULL, 0);
    if (r && r->err) return failed(r);
    return __real_epoll_ctl(epfd, op, fd, ev);
}

/* connect's EINTR is what the kernel does: the connection goes on without the caller. */
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    const struct shim_rule *r = match(SHIM_CONNECT, fd, NULL, 0);
    if (r && r->err == EINTR) (void)__real_connect(fd, sa, len);
    if (r && r->err) return failed(r);
    return __real_connect(fd, sa, len);
}

int __real_fcntl(int fd, int cmd, ...);
int __wrap_fcntl(int fd, int cmd, ...);
int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long); /* the adapter's commands take an int or nothing */
    va_end(ap);
    const struct shim_rule *r = match_cmd(SHIM_FCNTL, fd, cmd, NULL, 0);
    if (r && r->err) return failed(r);
    return __real_fcntl(fd, cmd, arg);
}

/* getaddrinfo's rules give EAI_SYSTEM with their errno value. */
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    const struct shim_rule *r = match(SHIM_GETADDRINFO, -1, NULL, 0);
    if (r && r->err) {
        errno = r->err;
        return EAI_SYSTEM;
    }
    return __real_getaddrinfo(node, service, hints, res);
}

int shim_poll(struct pollfd *p, nfds_t n, int timeout)
{
    return __real_poll(p, n, timeout);
}
