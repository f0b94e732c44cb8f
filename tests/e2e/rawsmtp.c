/* SPDX-License-Identifier: MIT */
/*
 * rawsmtp: a deliberately dumb SMTP client for the end-to-end tests. It sends bytes exactly
 * as a file holds them (bare LFs, pipelining without permission, half a message), which
 * libsmtp's own client would never do, and copies every byte the server sends to standard
 * output as it arrives.
 *
 * Usage: rawsmtp PORT FILE [GOFILE FILE2]
 * Connects to 127.0.0.1:PORT (nothing else), writes FILE at once, and reads until the server
 * closes. With GOFILE and FILE2, it writes FILE2 once GOFILE exists (the test creates it), so
 * a test can act (send a signal) while a transaction is half done. Gives up after 30 seconds.
 *
 * Usage: rawsmtp --serve PORTFILE FILE
 * A scripted server instead: listens on 127.0.0.1 with a port the kernel chooses (written to
 * PORTFILE), accepts one connection, plays FILE (a broken server's replies) one reply per
 * command line the client sends (play()), then closes its side, and copies what the client
 * sends to standard output until the client closes (30 s at most).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *copy = malloc(*len + 1);
    if (copy == NULL) exit(2);
    memcpy(copy, buf, *len);
    return copy;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* the server closed: what it said is printed anyway */
        data += n;
        len -= (size_t)n;
    }
}

/* Waits up to 50 ms for bytes on fd, copies them to standard output and returns how many
 * (buf holds them); 0 when none came in time, -1 when the peer closed or poll/recv failed. */
static ssize_t copy_some(int fd, char *buf, size_t cap)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 50);
    if (r < 0 && errno != EINTR) return -1;
    if (r <= 0) return 0;
    ssize_t n = recv(fd, buf, cap, 0);
    if (n <= 0) return -1;
    fwrite(buf, 1, (size_t)n, stdout);
    fflush(stdout);
    return n;
}

/* Copies what arrives on fd to standard output until the peer closes or `end` passes. */
static void drain(int fd, time_t end)
{
    char buf[4096];
    while (time(NULL) < end && copy_some(fd, buf, sizeof buf) >= 0) {
    }
}

/* The length of the first reply in p[0..n): through its final line (one whose fourth byte is
 * not '-'), or all of it. */
static size_t reply_len(const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') continue;
        if (i - start < 4 || p[start + 3] != '-') return i + 1;
        start = i + 1;
    }
    return n;
}

/*
 * Plays the script as a server that answers each command after it came: the first reply at
 * once, then one reply per line the client sends (the lines of a message, after a 354 up to
 * the lone ".", are read, not answered). A client that pipelines gets its replies as the
 * lines come. Then end of file, and what the client sends is copied until it closes.
 */
static void play(int fd, const char *text, size_t len, time_t end)
{
    size_t pos = reply_len(text, len);
    int in_data = 0;
    char line[1024];
    size_t llen = 0;
    send_all(fd, text, pos);
    char buf[4096];
    while (pos < len && time(NULL) < end) {
        ssize_t n = copy_some(fd, buf, sizeof buf);
        if (n < 0) break;
        for (ssize_t i = 0; i < n && pos < len; i++) {
            if (llen < sizeof line) line[llen++] = buf[i];
            if (buf[i] != '\n') continue;
            int dot = llen == 3 && line[0] == '.';
            llen = 0;
            if (in_data && !dot) continue;
            size_t k = reply_len(text + pos, len - pos);
            send_all(fd, text + pos, k);
            in_data = !in_data && k >= 3 && memcmp(text + pos, "354", 3) == 0;
            pos += k;
        }
    }
}

static int serve(const char *portfile, const char *script)
{
    size_t len;
    char *text = slurp(script, &len);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
        perror("listen");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return 1;
    fprintf(f, "%d\n", ntohs(sa.sin_port));
    fclose(f);
    rename(tmp, portfile); /* the test never reads half a number */
    struct pollfd p = {lfd, POLLIN, 0};
    if (poll(&p, 1, 30000) != 1) return 1;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) return 1;
    time_t end = time(NULL) + 30;
    play(fd, text, len, end);
    shutdown(fd, SHUT_WR); /* the script is all this server says: then end of file */
    drain(fd, end);
    free(text);
    close(fd);
    close(lfd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--serve") == 0) return serve(argv[2], argv[3]);
    if (argc != 3 && argc != 5) {
        fprintf(stderr,
                "usage: rawsmtp PORT FILE [GOFILE FILE2] | rawsmtp --serve PORTFILE FILE\n");
        return 2;
    }
    int port = atoi(argv[1]);
    if (port <= 0 || port > 65535) return 2;
    size_t len1, len2 = 0;
    char *first = slurp(argv[2], &len1);
    char *second = argc == 5 ? slurp(argv[4], &len2) : NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 1;
    }
    send_all(fd, first, len1);
    time_t end = time(NULL) + 30;
    while (time(NULL) < end) {
        if (second != NULL && access(argv[3], F_OK) == 0) {
            send_all(fd, second, len2);
            free(second);
            second = NULL;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
    }
    free(first);
    free(second);
    close(fd);
    return 0;
}
