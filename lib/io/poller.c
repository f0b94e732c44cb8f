/* SPDX-License-Identifier: MIT */
/*
 * Readiness for the loop: epoll on Linux, poll(2) elsewhere, behind one small interface.
 * Level-triggered in both. A descriptor with no interest is removed from the set (epoll would
 * still report hang-ups for it and poll too), so a connection that waits only for the
 * application or a deadline costs nothing per wake-up. With epoll, smtp_io_poller_want drops
 * an interest lazily: the descriptor stays in the kernel's set until an event comes for it,
 * and only then is removed (that event is not reported), so a connection that stops reading
 * while its application decides and reads again once it has (a proxy, each message) makes no
 * epoll_ctl call unless its peer sends meanwhile.
 *
 * (Define SMTP_IO_FORCE_POLL to build the poll version on Linux too, to test it.)
 *
 * epoll: each entry's smtp_io_pollent is the event's data pointer.
 * poll: a pollfd table and a parallel table of entries; each entry knows its slot, and removal
 * moves the last slot into the hole (O(1)).
 */
#include "io_internal.h"

#include "internal.h"

#include <errno.h>
#include <unistd.h>

#if defined(__linux__) && !defined(SMTP_IO_FORCE_POLL)
#include <sys/epoll.h>
#define SMTP_IO_EPOLL 1
#else
#include <poll.h>
#define SMTP_IO_EPOLL 0
#endif

struct smtp_io_poller {
    const smtp_mem *mem;
#if SMTP_IO_EPOLL
    int epfd;
#else
    struct pollfd *fds;
    smtp_io_pollent **ents;
    size_t len, cap;
#endif
};

int smtp_io_poller_new(smtp_io_poller **pp, const smtp_mem *mem)
{
    smtp_io_poller *p = smtp_calloc(mem, 1, sizeof *p);
    if (!p) return SMTP_ERR_NOMEM;
    p->mem = mem;
#if SMTP_IO_EPOLL
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        smtp_free(mem, p);
        return SMTP_ERR_INVALID_STATE;
    }
#endif
    *pp = p;
    return 0;
}

void smtp_io_poller_del(smtp_io_poller *p)
{
    if (!p) return;
#if SMTP_IO_EPOLL
    close(p->epfd);
#else
    smtp_free(p->mem, p->fds);
    smtp_free(p->mem, p->ents);
#endif
    smtp_free(p->mem, p);
}

#if SMTP_IO_EPOLL

int smtp_io_poller_set(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events)
{
    pe->events = events;
    if (pe->registered && events == pe->kernel) return 0;
    if (events == 0) {
        /* Out of the set (not MOD with no events: EPOLLHUP would still wake the loop for a
         * connection that waits for its application); nothing to do when it is not in it. */
        if (pe->registered) (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, pe->fd, NULL);
        pe->registered = 0;
        pe->kernel = 0;
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events =
        ((events & SMTP_IO_READ) ? EPOLLIN : 0u) | ((events & SMTP_IO_WRITE) ? EPOLLOUT : 0u);
    ev.data.ptr = pe;
    if (epoll_ctl(p->epfd, pe->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, pe->fd, &ev) < 0)
        return SMTP_ERR_INVALID_STATE;
    pe->registered = 1;
    pe->kernel = events;
    return 0;
}

int smtp_io_poller_want(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events)
{
    if (events == 0 && pe->registered) {
        pe->events = 0; /* removed from the kernel's set if an event comes first */
        return 0;
    }
    return smtp_io_poller_set(p, pe, events);
}

int smtp_io_poller_wait(smtp_io_poller *p, int timeout_ms,
                        void (*fn)(smtp_io_pollent *pe, unsigned events, void *arg), void *arg)
{
    struct epoll_event evs[256];
    int n = epoll_wait(p->epfd, evs, 256, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        smtp_io_pollent *pe = evs[i].data.ptr;
        if (pe->registered && pe->events == 0) {
            /* An interest dropped lazily (smtp_io_poller_want): out of the set now. */
            (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, pe->fd, NULL);
            pe->registered = 0;
            pe->kernel = 0;
            continue;
        }
        unsigned ev = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ev |= SMTP_IO_READ;
        if (evs[i].events & EPOLLOUT) ev |= SMTP_IO_WRITE;
        fn(pe, ev, arg);
    }
    return n;
}

#else

int smtp_io_poller_set(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events)
{
    if (pe->registered && events == pe->events) return 0;
    if (events == 0) {
        if (!pe->registered) return 0;
        size_t last = --p->len;
        if (pe->slot != last) {
            p->fds[pe->slot] = p->fds[last];
            p->ents[pe->slot] = p->ents[last];
            p->ents[pe->slot]->slot = pe->slot;
        }
        pe->registered = 0;
        pe->events = 0;
        return 0;
    }
    if (!pe->registered) {
        if (p->len == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64;
            struct pollfd *fds = smtp_realloc(p->mem, p->fds, cap * sizeof *fds);
            if (!fds) return SMTP_ERR_NOMEM;
            p->fds = fds;
            smtp_io_pollent **ents = smtp_realloc(p->mem, p->ents, cap * sizeof *ents);
            if (!ents) return SMTP_ERR_NOMEM;
            p->ents = ents;
            p->cap = cap;
        }
        pe->slot = p->len++;
        p->ents[pe->slot] = pe;
        p->fds[pe->slot].fd = pe->fd;
        pe->registered = 1;
    }
    p->fds[pe->slot].events =
        (short)(((events & SMTP_IO_READ) ? POLLIN : 0) | ((events & SMTP_IO_WRITE) ? POLLOUT : 0));
    pe->events = events;
    return 0;
}

int smtp_io_poller_want(smtp_io_poller *p, smtp_io_pollent *pe, unsigned events)
{
    return smtp_io_poller_set(p, pe, events); /* poll(2) has no set to keep in the kernel */
}

int smtp_io_poller_wait(smtp_io_poller *p, int timeout_ms,
                        void (*fn)(smtp_io_pollent *pe, unsigned events, void *arg), void *arg)
{
    int n = poll(p->fds, (nfds_t)p->len, timeout_ms);
    if (n < 0) return -errno;
    /* Handlers may add and remove entries: walk from the end, and collect first. */
    int seen = 0;
    for (size_t i = p->len; i-- > 0 && seen < n;) {
        if (i >= p->len) continue;
        short re = p->fds[i].revents;
        if (!re) continue;
        p->fds[i].revents = 0;
        seen++;
        unsigned ev = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ev |= SMTP_IO_READ;
        if (re & POLLOUT) ev |= SMTP_IO_WRITE;
        fn(p->ents[i], ev, arg);
    }
    return n;
}

#endif
