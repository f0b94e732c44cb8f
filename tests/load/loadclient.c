/* SPDX-License-Identifier: MIT */
/*
 * The load and abuse client of tests/load/run.sh: many SMTP conversations at once over
 * 127.0.0.1, driven by one poll(2) loop, each a script of steps (send, then wait for a reply
 * of a given code). It prints what the server acknowledged, so that the caller can compare it
 * with what the server stored.
 *
 *   loadclient PORT concurrent N   N connections held at once (all greeted before any goes
 *                                  on), then one in ten sends a message, and all QUIT
 *   loadclient PORT vanish N       N connections of each kind that vanish: mid-command,
 *                                  mid-DATA, mid-BDAT (each with FIN, and with RST), garbage
 *   loadclient PORT tls-vanish N   N connections that vanish inside the STARTTLS handshake
 *                                  (a partial ClientHello, with FIN and with RST)
 *   loadclient PORT slow N MS      N clients sending one message one byte every MS ms
 *   loadclient PORT noread SECS    one client pipelining EHLO without reading any reply until
 *                                  the connection is blocked, held SECS seconds, then closed
 *   loadclient PORT rset N         N clients each abandoning a transaction with RSET, then
 *                                  sending a message and RSET again on the same connection
 *   loadclient PORT one            one message
 *
 * Output: "acked=K" (messages that got 250 after their data), "failed=F" (scripts that did
 * not end as planned), and for noread "blocked after B bytes". Exit status 0 when every
 * script ended as planned, 1 otherwise, 2 on a usage or system error. Every phase is bounded
 * by a deadline (SMTP_LOAD_DEADLINE seconds, default 60).
 */
#define _DEFAULT_SOURCE
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
#include <time.h>
#include <unistd.h>

/* One step: send `send` (NULL: nothing), then wait for a reply with code `expect` (0: do not
 * wait; then `close_how` ends the script: 1 FIN, 2 RST). `ack`: this reply acknowledges a
 * message. */
struct step {
    const char *send;
    int expect;
    int ack;
    int close_how;
};

#define BODY                                                                                       \
    "From: load@test.example\r\nSubject: load\r\n\r\n"                                             \
    "A message of the load test.\r\n..a line that starts with a dot\r\n"

static const struct step s_message[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\n", 250, 0, 0},
    {"MAIL FROM:<load@test.example>\r\n", 250, 0, 0},
    {"RCPT TO:<sink@test.example>\r\n", 250, 0, 0},
    {"DATA\r\n", 354, 0, 0},
    {BODY ".\r\n", 250, 1, 0},
    {"QUIT\r\n", 221, 0, 1},
    {NULL, 0, 0, 0},
};

/* A transaction abandoned with RSET, then a message over the same connection (RFC 5321 4.1.1.5:
 * RSET always gets 250 and the connection goes on). */
static const struct step s_rset[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\n", 250, 0, 0},
    {"MAIL FROM:<load@test.example>\r\n", 250, 0, 0},
    {"RCPT TO:<dropped@test.example>\r\n", 250, 0, 0},
    {"RSET\r\n", 250, 0, 0},
    {"MAIL FROM:<load@test.example>\r\n", 250, 0, 0},
    {"RCPT TO:<sink@test.example>\r\n", 250, 0, 0},
    {"DATA\r\n", 354, 0, 0},
    {BODY ".\r\n", 250, 1, 0},
    {"RSET\r\n", 250, 0, 0},
    {"QUIT\r\n", 221, 0, 1},
    {NULL, 0, 0, 0},
};

/* Greeted, EHLO, QUIT: what most of the concurrent connections do. */
static const struct step s_quit[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\n", 250, 0, 0},
    {"QUIT\r\n", 221, 0, 1},
    {NULL, 0, 0, 0},
};

#define UP_TO_DATA                                                                                 \
    {NULL, 220, 0, 0}, {"EHLO load.test.example\r\n", 250, 0, 0},                                  \
        {"MAIL FROM:<gone@test.example>\r\n", 250, 0, 0},                                          \
    {                                                                                              \
        "RCPT TO:<sink@test.example>\r\n", 250, 0, 0                                               \
    }

static const struct step s_mid_command[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\nMAIL FROM:<gone@test.exa", 0, 0, 1},
    {NULL, 0, 0, 0},
};
static const struct step s_mid_command_rst[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\nMAIL FROM:<gone@test.exa", 0, 0, 2},
    {NULL, 0, 0, 0},
};
static const struct step s_mid_data[] = {
    UP_TO_DATA,
    {"DATA\r\n", 354, 0, 0},
    {"Subject: never finished\r\n\r\nhalf a line", 0, 0, 1},
    {NULL, 0, 0, 0},
};
static const struct step s_mid_data_rst[] = {
    UP_TO_DATA,
    {"DATA\r\n", 354, 0, 0},
    {"Subject: never finished\r\n\r\nhalf a line\r\n.", 0, 0, 2},
    {NULL, 0, 0, 0},
};
static const struct step s_mid_bdat[] = {
    UP_TO_DATA,
    {"BDAT 1000 LAST\r\nonly a few octets of the thousand", 0, 0, 1},
    {NULL, 0, 0, 0},
};
static const struct step s_mid_bdat_rst[] = {
    UP_TO_DATA,
    {"BDAT 100\r\n0123456789", 0, 0, 2},
    {NULL, 0, 0, 0},
};
static const struct step s_garbage[] = {
    {NULL, 220, 0, 0},
    {"\x16\x03\x01\x00\xff\x01\x00\x00\xfb\x03\x03 not smtp \x00\x01\x02\r\n\xff\xfe", 0, 0, 1},
    {NULL, 0, 0, 0},
};
/* A TLS 1.2/1.3 ClientHello record header announcing 512 octets, and only some of them. */
#define PARTIAL_HELLO "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x11\x22\x33\x44"
static const struct step s_tls[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\n", 250, 0, 0},
    {"STARTTLS\r\n", 220, 0, 0},
    {PARTIAL_HELLO, 0, 0, 1},
    {NULL, 0, 0, 0},
};
static const struct step s_tls_rst[] = {
    {NULL, 220, 0, 0},
    {"EHLO load.test.example\r\n", 250, 0, 0},
    {"STARTTLS\r\n", 220, 0, 0},
    {PARTIAL_HELLO, 0, 0, 2},
    {NULL, 0, 0, 0},
};

struct conn {
    int fd;
    const struct step *script;
    size_t step;
    const char *out; /* the rest of the current step's bytes */
    size_t out_len;
    char in[4096];
    size_t in_len;
    int connecting, done, ok;
    int slow_ms; /* one byte at a time, every slow_ms */
    long long next_send;
    int hold; /* wait here (after the greeting) until released */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int port;
static long long deadline;
static size_t acked, failed;

static int open_conn(struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->connecting = 1;
    return 0;
}

static void finish(struct conn *c, int ok)
{
    if (c->done) return;
    c->done = 1;
    c->ok = ok;
    if (!ok) failed++;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* Ends the script's connection as its last step says: FIN or RST. */
static void hang_up(struct conn *c, int how)
{
    if (how == 2) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    finish(c, 1);
}

static void start_step(struct conn *c)
{
    const struct step *s = &c->script[c->step];
    c->out = s->send;
    c->out_len = s->send ? strlen(s->send) : 0;
}

/* A complete reply at the head of c->in: its code (consumed), or 0. */
static int take_reply(struct conn *c)
{
    size_t i = 0;
    while (i < c->in_len) {
        char *nl = memchr(c->in + i, '\n', c->in_len - i);
        if (!nl) return 0;
        size_t ll = (size_t)(nl - (c->in + i)) + 1;
        if (ll >= 4 && c->in[i + 3] != '-') {
            int code = atoi(c->in + i);
            size_t used = i + ll;
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            return code ? code : -1;
        }
        i += ll;
    }
    return 0;
}

static void advance(struct conn *c)
{
    for (;;) {
        const struct step *s = &c->script[c->step];
        if (!s->send && !s->expect) {
            finish(c, 1);
            return;
        }
        if (c->out_len) return; /* still sending */
        if (!s->expect) {
            hang_up(c, s->close_how);
            return;
        }
        int code = take_reply(c);
        if (code == 0) return;
        if (code != s->expect) {
            fprintf(stderr, "loadclient: step %zu: reply %d, expected %d\n", c->step, code,
                    s->expect);
            finish(c, 0);
            return;
        }
        if (s->ack) acked++;
        if (s->close_how) {
            hang_up(c, s->close_how);
            return;
        }
        c->step++;
        if (c->hold && c->step == 1) return;
        start_step(c);
    }
}

static void on_writable(struct conn *c, long long now)
{
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fprintf(stderr, "loadclient: connect: %s\n", strerror(err));
            finish(c, 0);
            return;
        }
        c->connecting = 0;
    }
    while (c->out_len) {
        size_t n = c->out_len;
        if (c->slow_ms) {
            if (now < c->next_send) return;
            n = 1;
            c->next_send = now + c->slow_ms;
        }
        ssize_t w = send(c->fd, c->out, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            finish(c, 0);
            return;
        }
        c->out += w;
        c->out_len -= (size_t)w;
        if (c->slow_ms) break;
    }
    if (!c->out_len) advance(c);
}

static void on_readable(struct conn *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* The server closed: fine only when the script was about to. */
        const struct step *s = &c->script[c->step];
        finish(c, s->close_how != 0 && !s->expect);
        return;
    }
    c->in_len += (size_t)r;
    if (c->in_len == sizeof c->in) c->in_len = 0; /* a huge reply: keep reading */
    advance(c);
}

/*
 * Runs n conversations; at most `burst` connect at a time. With `hold`, every connection
 * stops after its greeting until all n are greeted (they are then all open at once).
 */
static int run(struct conn *cs, size_t n, int hold)
{
    struct pollfd *pf = calloc(n, sizeof *pf);
    size_t *idx = calloc(n, sizeof *idx);
    if (!pf || !idx) return -1;
    size_t opened = 0, burst = 256, released = !hold;
    for (;;) {
        long long now = now_ms();
        if (now > deadline) {
            fprintf(stderr, "loadclient: deadline passed\n");
            for (size_t i = 0; i < n; i++)
                finish(&cs[i], 0);
            break;
        }
        /* open more, keeping at most `burst` in the connect phase */
        size_t connecting = 0, live = 0, greeted = 0;
        for (size_t i = 0; i < opened; i++) {
            connecting += !cs[i].done && (cs[i].connecting || cs[i].step == 0);
            live += !cs[i].done;
            greeted += cs[i].done || cs[i].step >= 1;
        }
        while (opened < n && connecting < burst) {
            cs[opened].hold = hold;
            if (open_conn(&cs[opened]) < 0) {
                perror("loadclient: socket/connect");
                finish(&cs[opened], 0);
            } else {
                start_step(&cs[opened]);
                connecting++;
                live++;
            }
            opened++;
        }
        if (!released && opened == n && greeted == n) {
            released = 1;
            printf("held %zu connections at once\n", live);
            for (size_t i = 0; i < n; i++) {
                cs[i].hold = 0;
                if (!cs[i].done) start_step(&cs[i]), advance(&cs[i]);
            }
        }
        if (opened == n && live == 0) break;
        size_t k = 0;
        int timeout = 200;
        for (size_t i = 0; i < opened; i++) {
            struct conn *c = &cs[i];
            if (c->done) continue;
            short ev = POLLIN;
            if (c->connecting || c->out_len) ev |= POLLOUT;
            if (c->slow_ms && c->out_len) {
                long long wait = c->next_send - now;
                if (wait > 0) {
                    ev &= (short)~POLLOUT;
                    if (wait < timeout) timeout = (int)wait;
                }
            }
            pf[k].fd = c->fd;
            pf[k].events = ev;
            pf[k].revents = 0;
            idx[k++] = i;
        }
        if (poll(pf, k, timeout) < 0 && errno != EINTR) return -1;
        now = now_ms();
        for (size_t j = 0; j < k; j++) {
            struct conn *c = &cs[idx[j]];
            if (c->done) continue;
            if (pf[j].revents & (POLLIN | POLLHUP | POLLERR)) on_readable(c);
            if (!c->done && (pf[j].revents & POLLOUT || (c->slow_ms && c->out_len)))
                on_writable(c, now);
        }
    }
    free(pf);
    free(idx);
    return 0;
}

/* A client that pipelines EHLO and never reads: the server must stop reading it (its output
 * queue is bounded) and go on serving others. */
static int noread(int secs)
{
    struct conn c;
    memset(&c, 0, sizeof c);
    if (open_conn(&c) < 0) return 2;
    int one = 1;
    setsockopt(c.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    static const char ehlo[] = "EHLO noread.test.example\r\n";
    size_t written = 0, off = 0;
    long long last = now_ms();
    while (now_ms() - last < 1000 && now_ms() < deadline) {
        struct pollfd pf = {c.fd, POLLOUT, 0};
        if (poll(&pf, 1, 100) <= 0) continue;
        ssize_t w = send(c.fd, ehlo + off, sizeof ehlo - 1 - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) continue;
            perror("loadclient: noread send");
            return 1;
        }
        written += (size_t)w;
        off = (off + (size_t)w) % (sizeof ehlo - 1);
        last = now_ms();
    }
    printf("blocked after %zu bytes\n", written);
    fflush(stdout);
    sleep((unsigned)secs);
    close(c.fd);
    return written > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: loadclient PORT concurrent|vanish|tls-vanish|slow|noread|rset|one "
                        "[N] [MS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    const char *mode = argv[2];
    size_t n = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 1;
    const char *dl = getenv("SMTP_LOAD_DEADLINE");
    deadline = now_ms() + 1000LL * (dl ? atoi(dl) : 60);
    if (strcmp(mode, "noread") == 0) return noread(argc > 3 ? atoi(argv[3]) : 2);

    static const struct step *const vanish[] = {s_mid_command,  s_mid_command_rst, s_mid_data,
                                                s_mid_data_rst, s_mid_bdat,        s_mid_bdat_rst,
                                                s_garbage};
    size_t kinds = 1;
    const struct step *const *scripts = NULL;
    const struct step *one_script = s_message;
    int hold = 0, slow = 0;
    if (strcmp(mode, "concurrent") == 0) {
        hold = 1;
    } else if (strcmp(mode, "vanish") == 0) {
        scripts = vanish;
        kinds = sizeof vanish / sizeof *vanish;
    } else if (strcmp(mode, "tls-vanish") == 0) {
        static const struct step *const tls[] = {s_tls, s_tls_rst};
        scripts = tls;
        kinds = 2;
    } else if (strcmp(mode, "slow") == 0) {
        slow = argc > 4 ? atoi(argv[4]) : 10;
    } else if (strcmp(mode, "rset") == 0) {
        one_script = s_rset;
    } else if (strcmp(mode, "one") != 0) {
        fprintf(stderr, "loadclient: unknown mode %s\n", mode);
        return 2;
    }
    size_t total = n * kinds;
    struct conn *cs = calloc(total ? total : 1, sizeof *cs);
    if (!cs) return 2;
    for (size_t i = 0; i < total; i++) {
        cs[i].fd = -1;
        cs[i].script = scripts ? scripts[i % kinds] : one_script;
        if (hold && i % 10) cs[i].script = s_quit; /* each message costs the sink an fsync */
        cs[i].slow_ms = slow;
    }
    if (run(cs, total, hold) < 0) {
        perror("loadclient");
        return 2;
    }
    free(cs);
    printf("acked=%zu failed=%zu\n", acked, failed);
    return failed ? 1 : 0;
}
