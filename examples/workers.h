/* SPDX-License-Identifier: MIT */
/*
 * smtp-sink --workers N: N processes that share one port with SO_REUSEPORT (Linux 3.9, the
 * BSDs), so that the kernel spreads the connections over them and a multi-core machine is
 * used. The parent binds every worker's sockets (so the port is known and any error is
 * reported once, before a worker starts), forks the workers, forwards SIGINT and SIGTERM to
 * them, and adds up what each one served. A parent killed outright takes its workers with it
 * (Linux: PR_SET_PDEATHSIG sends each SIGTERM). Workers write their JSON lines under a lock
 * (ex_workers_lock), so that lines never interleave mid-line, whatever their length: a
 * process-shared robust mutex in memory the workers share, taken without a system call when
 * no other worker holds it (an fcntl lock cost two system calls a message, a third of a
 * worker's time: BENCHMARKS.md), and released by the kernel's robust-futex list if its
 * holder dies.
 */
#ifndef EX_WORKERS_H
#define EX_WORKERS_H

#include <pthread.h>
#include <stddef.h>

#define EX_WORKERS_MAX 64 /* --workers 1..64 */
#define EX_WORKERS_FDS 8  /* listening sockets per worker: one per address of --listen */

/* What a worker gets: its number, its sockets, the lock and where to report its counts. */
typedef struct ex_worker {
    size_t index, count; /* index from 0, of count workers */
    int fds[EX_WORKERS_FDS];
    size_t nfds;
    pthread_mutex_t *lock; /* the JSON lines' lock, in memory the workers share */
    int result_fd; /* the pipe to the parent (ex_worker_report) */
} ex_worker;

/* A worker's serving function: returns a sysexits.h status, the worker's exit status. */
typedef int (*ex_worker_fn)(const ex_worker *w, void *ud);

/*
 * ex_workers_run binds `count` sets of listening sockets on `host` (NULL: every address) and
 * `port` (0: one the kernel chooses, the same for every set), starts `count` processes that
 * each call `fn` with their own set, prints "smtp-sink: listening on HOST port N (n workers)"
 * on standard error once they all exist, and waits for them. SIGINT and SIGTERM are passed on to every worker; a worker that
 * fails (a status other than 0, or killed by a signal) stops the others. `connections` and
 * `messages` receive the totals the workers reported. Returns 0 when every worker returned
 * 0, else the first failure's status (EX_SOFTWARE for a worker killed by a signal), or
 * EX_UNAVAILABLE when the sockets cannot be bound, EX_OSERR when a process cannot start.
 */
int ex_workers_run(const char *host, const char *port, size_t count, ex_worker_fn fn, void *ud,
                   unsigned long long *connections, unsigned long long *messages);

/* ex_worker_report sends a worker's counts to the parent (once, at its end). */
void ex_worker_report(const ex_worker *w, unsigned long long connections,
                      unsigned long long messages);

/* ex_workers_lock and ex_workers_unlock hold the JSON lines' lock; a no-op when `w` is NULL
 * (one process). */
void ex_workers_lock(const ex_worker *w);
void ex_workers_unlock(const ex_worker *w);

#endif /* EX_WORKERS_H */
