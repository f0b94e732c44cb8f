/* SPDX-License-Identifier: MIT */
/*
 * idle_hold: open N connections to an SMTP server, read every greeting, then hold them all
 * idle until standard input closes (or says anything), and close them. For the memory an
 * idle connection costs a server (bench/run.sh reads the server's RSS while they are held).
 *
 *   idle_hold HOST PORT N     prints "held K" on stdout once K connections were greeted
 *                             (K < N when the server stopped greeting or a limit was hit)
 *   idle_hold HOST PORT N ehlo
 *                             the same, each connection also saying EHLO and reading the
 *                             whole reply before it is counted (bench/proxy.sh: an idle
 *                             session after EHLO, which a proxy may answer differently)
 *
 * Connections are opened in batches of BATCH, each batch greeted before the next, so the
 * server's listen queue never overflows (a full queue would delay connects by SYN retries).
 * The soft RLIMIT_NOFILE is raised to the hard one first. This is a benchmark tool only.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 100
#define GREETING_WAIT_MS 5000

/* Where a reply stands on one connection: the octets into its current line, and whether
 * that line is the last of the reply (a space after the code, RFC 5321 4.2.1). */
struct reply_pos {
    size_t col;
    int last;
};

/* Feeds octets of a reply; returns whether its last line ended in them. */
static int reply_done(struct reply_pos *r, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (r->last) return 1;
            r->col = 0;
            continue;
        }
        if (r->col == 3) r->last = buf[i] == ' ';
        r->col++;
    }
    return 0;
}

/* Reads until a whole reply arrives on every one of fds[0..n); returns how many did. */
static size_t greet_all(const int *fds, size_t n)
{
    struct pollfd *p = calloc(n, sizeof *p);
    struct reply_pos *pos = calloc(n, sizeof *pos);
    if (p == NULL || pos == NULL) {
        free(p);
        free(pos);
        return 0;
    }
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN;
    }
    while (done < n) {
        int r = poll(p, (nfds_t)n, GREETING_WAIT_MS);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* the server stopped greeting */
        for (size_t i = 0; i < n; i++) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            char buf[512];
            ssize_t got = read(p[i].fd, buf, sizeof buf);
            if (got <= 0) {
                free(p);
                free(pos);
                return done; /* closed: the server refused the connection */
            }
            if (reply_done(&pos[i], buf, (size_t)got)) {
                p[i].fd = -1; /* answered (220 or not: the server holds the connection) */
                done++;
            }
        }
    }
    free(p);
    free(pos);
    return done;
}

/* Says EHLO on every one of fds[0..n); returns how many took it. */
static size_t ehlo_all(const int *fds, size_t n)
{
    static const char ehlo[] = "EHLO idle.bench.test\r\n";
    for (size_t i = 0; i < n; i++)
        if (write(fds[i], ehlo, sizeof ehlo - 1) != (ssize_t)(sizeof ehlo - 1)) return i;
    return n;
}

int main(int argc, char **argv)
{
    if ((argc != 4 && argc != 5) || (argc == 5 && strcmp(argv[4], "ehlo") != 0)) {
        fprintf(stderr, "usage: idle_hold HOST PORT N [ehlo]\n");
        return 2;
    }
    int say_ehlo = argc == 5;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t want = strtoul(argv[3], NULL, 10);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "idle_hold: %s: not an IPv4 address\n", argv[1]);
        return 2;
    }
    int *fds = calloc(want ? want : 1, sizeof *fds);
    if (fds == NULL) return 1;
    size_t held = 0, total = 0; /* greeted; opened (closed at the end) */
    while (held < want) {
        size_t n = want - held < BATCH ? want - held : BATCH, opened = 0;
        for (; opened < n; opened++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) break;
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
                close(fd);
                break;
            }
            fds[total + opened] = fd;
        }
        size_t greeted = greet_all(fds + total, opened);
        if (say_ehlo && greeted == opened) {
            greeted = ehlo_all(fds + total, opened);
            if (greeted == opened) greeted = greet_all(fds + total, opened);
        }
        total += opened;
        held += greeted;
        if (greeted < n) {
            fprintf(stderr, "idle_hold: %s after %zu connections\n",
                    opened < n ? strerror(errno) : "no greeting", held);
            break;
        }
    }
    printf("held %zu\n", held);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) < 0 && errno == EINTR)
        continue;
    for (size_t i = 0; i < total; i++)
        close(fds[i]);
    free(fds);
    return 0;
}
