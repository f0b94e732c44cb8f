/* SPDX-License-Identifier: MIT */
/*
 * replay: the lightest load a pipelining SMTP server can be given, for `make bench`'s rows that
 * measure the server (smtp-sink --workers) rather than the client (issue #17).
 *
 * Usage: replay PORT SESSIONS COUNT MSGFILE
 * Opens SESSIONS connections to 127.0.0.1:PORT and sends COUNT messages on each: after the
 * greeting and EHLO, each message is the same prepared bytes, "MAIL FROM:<a@example.org>",
 * "RCPT TO:<b@example.org>", "BDAT <size> LAST" and MSGFILE's octets, written back to back,
 * half a window at a time, with at most WINDOW messages awaiting their replies (RFC 2920 pipelining, RFC 3030 BDAT: no
 * 354 to wait for). It parses no more of the replies than it must: it counts their last lines
 * and checks that each is a 2xx. Then QUIT. One thread, poll(2). Exit 0 when every message got
 * its three 2xx replies, 1 otherwise (with the reply that failed on standard error).
 * smtp-send does far more per message (it builds each command, parses each reply, reports each
 * recipient): about 7.5 us a message here, as much as the sink's own work, so a load made by it
 * measures the client as much as the server. This one costs about 1 us.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { WINDOW = 32, REPLIES_PER_MSG = 3 };

struct session {
    int fd;
    int phase;            /* 0 greeting, 1 EHLO reply, 2 messages, 3 QUIT sent */
    long sent, done;      /* messages written; messages whose replies all came */
    long finals;          /* last reply lines seen since EHLO's */
    const char *out;      /* what is being written */
    size_t out_len, out_off;
    char line[512];       /* the reply line being read */
    size_t line_len;
};

static char *msg;
static size_t msg_len;
static long count;

static int fail(const char *what)
{
    fprintf(stderr, "replay: %s\n", what);
    return -1;
}

/* A complete reply line: its last line (a space after the code) counts, and must be 2xx. */
static int on_line(struct session *s)
{
    if (s->line_len < 4) return fail("a reply line shorter than its code");
    if (s->line[3] == '-') return 0; /* "250-...": not the last line of its reply */
    if (s->line[0] != '2') {
        s->line[s->line_len < sizeof s->line ? s->line_len : sizeof s->line - 1] = '\0';
        fprintf(stderr, "replay: refused: %s\n", s->line);
        return -1;
    }
    if (s->phase == 0) {
        s->phase = 1;
        s->out = "EHLO replay.example\r\n";
        s->out_len = strlen(s->out);
        s->out_off = 0;
    } else if (s->phase == 1) {
        s->phase = 2;
    } else if (s->phase == 2) {
        if (++s->finals % REPLIES_PER_MSG == 0) s->done++;
    }
    return 0;
}

static int on_input(struct session *s)
{
    char buf[16384];
    ssize_t n = recv(s->fd, buf, sizeof buf, 0);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : fail("recv failed");
    if (n == 0) return s->phase == 3 ? 1 : fail("the server closed the connection");
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (on_line(s) < 0) return -1;
            s->line_len = 0;
        } else if (s->line_len < sizeof s->line) {
            s->line[s->line_len++] = buf[i];
        }
    }
    return 0;
}

/* What to write next: messages while the window allows, then QUIT. */
static void next_output(struct session *s)
{
    if (s->out_off < s->out_len) return;
    s->out = NULL;
    if (s->phase != 2) return;
    long room = WINDOW - (s->sent - s->done);
    if (s->sent < count && room >= WINDOW / 2) {
        /* Half a window or more at once, from the prepared run of WINDOW messages: one
         * send(2) for many messages. */
        long k = count - s->sent < room ? count - s->sent : room;
        s->out = msg;
        s->out_len = msg_len * (size_t)k;
        s->out_off = 0;
        s->sent += k;
    } else if (s->done == count) {
        s->out = "QUIT\r\n";
        s->out_len = 6;
        s->out_off = 0;
        s->phase = 3;
    }
}

static int on_output(struct session *s)
{
    while (s->out != NULL && s->out_off < s->out_len) {
        ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : fail("send failed");
        s->out_off += (size_t)n;
        if (s->out_off == s->out_len) next_output(s);
    }
    return 0;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fputs("usage: replay PORT SESSIONS COUNT MSGFILE\n", stderr);
        return 2;
    }
    int port = atoi(argv[1]), nsess = atoi(argv[2]);
    count = atol(argv[3]);
    FILE *f = fopen(argv[4], "rb");
    if (port <= 0 || nsess <= 0 || count <= 0 || f == NULL) {
        fputs("replay: bad arguments\n", stderr);
        return 2;
    }
    static char body[1 << 20];
    size_t blen = fread(body, 1, sizeof body, f);
    fclose(f);
    char head[128];
    int hl = snprintf(head, sizeof head,
                      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT %zu LAST\r\n",
                      blen);
    msg_len = (size_t)hl + blen;
    msg = malloc(msg_len * WINDOW);
    struct session *ss = calloc((size_t)nsess, sizeof *ss);
    struct pollfd *pf = calloc((size_t)nsess, sizeof *pf);
    if (msg == NULL || ss == NULL || pf == NULL) return 2;
    for (int i = 0; i < WINDOW; i++) {
        memcpy(msg + msg_len * (size_t)i, head, (size_t)hl);
        memcpy(msg + msg_len * (size_t)i + hl, body, blen);
    }
    for (int i = 0; i < nsess; i++) {
        ss[i].fd = connect_to(port);
        if (ss[i].fd < 0) {
            perror("replay: connect");
            return 1;
        }
    }
    int open_ = nsess;
    while (open_ > 0) {
        for (int i = 0; i < nsess; i++) {
            pf[i].fd = ss[i].fd;
            pf[i].events = ss[i].fd < 0 ? 0 : POLLIN | (ss[i].out ? POLLOUT : 0);
        }
        if (poll(pf, (nfds_t)nsess, 30000) <= 0) return fail("no progress for 30 s"), 1;
        for (int i = 0; i < nsess; i++) {
            struct session *s = &ss[i];
            if (s->fd < 0) continue;
            int r = 0;
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) r = on_input(s);
            if (r == 0) {
                next_output(s);
                r = on_output(s);
            }
            if (r < 0) return 1;
            if (r > 0) {
                close(s->fd);
                s->fd = -1;
                open_--;
            }
        }
    }
    for (int i = 0; i < nsess; i++)
        if (ss[i].done != count) return fail("a session ended early"), 1;
    free(msg);
    free(ss);
    free(pf);
    return 0;
}
