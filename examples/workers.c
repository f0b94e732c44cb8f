/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink --workers (workers.h): the sockets, the processes, the signals and the counts.
 *
 * Signals: the parent blocks SIGINT and SIGTERM before it forks, so a worker cannot be killed
 * by one before its handler is in place (the worker unblocks them once its loop runs, in
 * sink.c); the parent then catches them and passes them on with kill(2). Ctrl-C on a
 * terminal reaches every process of the group at once: a worker that gets SIGINT twice shuts
 * down once (smtp_io_loop_shutdown is idempotent).
 */
#include "workers.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

/* The workers' process ids, for the signal handler (0: reaped). */
static volatile pid_t worker_pids[EX_WORKERS_MAX];
static size_t nworker_pids;

static void forward_signal(int sig)
{
    int e = errno;
    for (size_t i = 0; i < nworker_pids; i++)
        if (worker_pids[i] > 0) (void)kill(worker_pids[i], sig);
    errno = e;
}

static int port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

static void set_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons((uint16_t)port);
}

/* One listening socket that shares its address with the other workers'; -1 with errno. */
static int listen_shared(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (ai->ai_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* Every worker's sockets: w[i].fds over every address of `host` that binds (a port chosen by
 * the kernel for the first is used by all). Returns the port, or -1 after a message. */
static int bind_all(const char *host, const char *port, ex_worker *w, size_t count)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        fprintf(stderr, "smtp-sink: cannot listen on %s port %s: %s\n", host ? host : "*", port,
                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return -1;
    }
    int bound = 0, err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (w[0].nfds == EX_WORKERS_FDS) break;
        if (bound != 0 && port_of(ai->ai_addr) == 0) set_port(ai->ai_addr, bound);
        size_t i = 0;
        for (; i < count; i++) {
            int fd = listen_shared(ai);
            if (fd < 0) break;
            w[i].fds[w[i].nfds++] = fd;
            if (bound == 0) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof ss;
                if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
                    bound = port_of((struct sockaddr *)&ss);
                set_port(ai->ai_addr, bound);
            }
        }
        if (i < count) { /* this address is not for every worker: none of them gets it */
            err = errno;
            for (size_t k = 0; k < i; k++)
                close(w[k].fds[--w[k].nfds]);
        }
    }
    freeaddrinfo(res);
    if (w[0].nfds == 0) {
        fprintf(stderr, "smtp-sink: cannot listen on %s port %s: %s\n", host ? host : "*", port,
                strerror(err));
        return -1;
    }
    return bound;
}

/* The JSON lines' lock: a robust, process-shared mutex in an anonymous shared mapping that
 * every worker inherits; NULL on failure (errno set). */
static pthread_mutex_t *shared_lock(void)
{
    void *p = mmap(NULL, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc == 0) rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0) rc = pthread_mutex_init(p, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) {
        munmap(p, sizeof(pthread_mutex_t));
        errno = rc;
        return NULL;
    }
    return p;
}

static void close_sockets(ex_worker *w, size_t count)
{
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < w[i].nfds; k++)
            close(w[i].fds[k]);
}

int ex_workers_run(const char *host, const char *port, size_t count, ex_worker_fn fn, void *ud,
                   unsigned long long *connections, unsigned long long *messages)
{
    ex_worker w[EX_WORKERS_MAX];
    memset(w, 0, sizeof w);
    *connections = *messages = 0;
    if (count < 1 || count > EX_WORKERS_MAX) return EX_SOFTWARE;
    int bound = bind_all(host, port, w, count);
    if (bound < 0) return EX_UNAVAILABLE;
    pthread_mutex_t *lock = shared_lock();
    int result[2] = {-1, -1};
    if (lock == NULL || pipe(result) < 0) {
        fprintf(stderr, "smtp-sink: cannot start the workers: %s\n", strerror(errno));
        close_sockets(w, count);
        if (lock != NULL) munmap(lock, sizeof *lock);
        return EX_OSERR;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    int status = EX_OK;
    size_t started = 0;
    pid_t parent = getpid();
    for (; started < count; started++) {
        w[started].index = started;
        w[started].count = count;
        w[started].lock = lock;
        w[started].result_fd = result[1];
        fflush(NULL); /* nothing buffered is written twice */
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "smtp-sink: cannot start worker %zu: %s\n", started + 1,
                    strerror(errno));
            status = EX_OSERR;
            break;
        }
        if (pid == 0) {
#ifdef __linux__
            /* A parent killed outright (SIGKILL: no chance to pass a signal on) must not leave
             * its workers serving the port: each gets SIGTERM then, and stops as for one.
             * The parent may have died between fork and here: then stop at once. */
            (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) raise(SIGTERM);
#endif
            close(result[0]);
            for (size_t i = 0; i < count; i++)
                if (i != started)
                    for (size_t k = 0; k < w[i].nfds; k++)
                        close(w[i].fds[k]);
            /* SIGINT and SIGTERM stay blocked until the worker's handler is in place */
            int st = fn(&w[started], ud);
            fflush(NULL);
            _exit(st);
        }
        worker_pids[started] = pid;
        nworker_pids = started + 1;
    }
    /* Said once every worker exists (the sockets were listening since bind_all: a client that
     * connects earlier waits in the backlog), so that whoever waits for this line finds them. */
    if (status == EX_OK)
        fprintf(stderr, "smtp-sink: listening on %s port %d (%zu workers)\n", host ? host : "*",
                bound, count);
    close_sockets(w, count); /* the workers have theirs */
    close(result[1]);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (status != EX_OK) forward_signal(SIGTERM);
    /* Wait for every worker; the first to fail stops the others. */
    size_t left = started;
    while (left > 0) {
        int ws;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        size_t i = 0;
        while (i < started && worker_pids[i] != pid)
            i++;
        if (i == started) continue;
        worker_pids[i] = 0;
        left--;
        int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : EX_SOFTWARE;
        if (WIFSIGNALED(ws))
            fprintf(stderr, "smtp-sink: worker %zu (pid %ld) killed by signal %d\n", i + 1,
                    (long)pid, WTERMSIG(ws));
        if (st != EX_OK && status == EX_OK) {
            status = st;
            forward_signal(SIGTERM);
        }
    }
    /* The counts: one record per worker that got to its end. */
    unsigned long long rec[2];
    ssize_t n;
    while ((n = read(result[0], rec, sizeof rec)) == (ssize_t)sizeof rec ||
           (n < 0 && errno == EINTR)) {
        if (n < 0) continue;
        *connections += rec[0];
        *messages += rec[1];
    }
    close(result[0]);
    munmap(lock, sizeof *lock); /* every worker is gone */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    nworker_pids = 0;
    return status;
}

void ex_worker_report(const ex_worker *w, unsigned long long connections,
                      unsigned long long messages)
{
    unsigned long long rec[2] = {connections, messages};
    ssize_t n;
    do
        n = write(w->result_fd, rec, sizeof rec); /* one record: atomic (< PIPE_BUF) */
    while (n < 0 && errno == EINTR);
}

void ex_workers_lock(const ex_worker *w)
{
    if (w == NULL) return;
    /* A worker that died holding it (killed mid-line): its line stays cut, the parent stops
     * every worker anyway (a failure); the lock itself is made usable again. */
    if (pthread_mutex_lock(w->lock) == EOWNERDEAD) pthread_mutex_consistent(w->lock);
}

void ex_workers_unlock(const ex_worker *w)
{
    if (w != NULL) pthread_mutex_unlock(w->lock);
}
