/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the example programs' helpers: strict numbers and endpoints (args.c), JSON
 * escaping of arbitrary bytes (json.c), the auth file (authfile.c), the transcript
 * (transcript.c) and the Maildir writer (maildir.c).
 */
#include "args.h"
#include "authfile.h"
#include "json.h"
#include "maildir.h"
#include "transcript.h"

#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_numbers(void)
{
    uint64_t v = 7;
    CHECK(ex_parse_u64("0", 0, 10, &v) == 0 && v == 0);
    CHECK(ex_parse_u64("10", 0, 10, &v) == 0 && v == 10);
    CHECK(ex_parse_u64("18446744073709551615", 0, UINT64_MAX, &v) == 0 && v == UINT64_MAX);
    v = 7;
    CHECK(ex_parse_u64("18446744073709551616", 0, UINT64_MAX, &v) == -1 && v == 7);
    CHECK(ex_parse_u64("11", 0, 10, &v) == -1);
    CHECK(ex_parse_u64("0", 1, 10, &v) == -1);
    CHECK(ex_parse_u64("", 0, 10, &v) == -1);
    CHECK(ex_parse_u64("-1", 0, 10, &v) == -1);
    CHECK(ex_parse_u64("+1", 0, 10, &v) == -1);
    CHECK(ex_parse_u64(" 1", 0, 10, &v) == -1);
    CHECK(ex_parse_u64("1k", 0, 10, &v) == -1);
    CHECK(v == 7);
}

static int endpoint(const char *arg, int port0, const char *host, const char *port)
{
    char h[EX_HOST_MAX], p[EX_PORT_MAX];
    const char *why = NULL;
    int rc = ex_parse_endpoint(arg, "25", port0, h, sizeof h, p, sizeof p, &why);
    if (host == NULL) return rc == -1 && why != NULL;
    return rc == 0 && strcmp(h, host) == 0 && strcmp(p, port) == 0;
}

static void test_endpoints(void)
{
    CHECK(endpoint("mx.example.org", 0, "mx.example.org", "25"));
    CHECK(endpoint("mx.example.org:587", 0, "mx.example.org", "587"));
    CHECK(endpoint("127.0.0.1:0025", 0, "127.0.0.1", "25"));
    CHECK(endpoint("[::1]", 0, "::1", "25"));
    CHECK(endpoint("[2001:db8::1]:2525", 0, "2001:db8::1", "2525"));
    CHECK(endpoint("::1", 0, "::1", "25"));
    CHECK(endpoint("127.0.0.1:0", 1, "127.0.0.1", "0"));
    CHECK(endpoint("127.0.0.1:0", 0, NULL, NULL));
    CHECK(endpoint("host:65536", 0, NULL, NULL));
    CHECK(endpoint("host:", 0, NULL, NULL));
    CHECK(endpoint(":25", 0, NULL, NULL));
    CHECK(endpoint("", 0, NULL, NULL));
    CHECK(endpoint("[::1", 0, NULL, NULL));
    CHECK(endpoint("[::1]x", 0, NULL, NULL));
    CHECK(endpoint("[::1]:", 0, NULL, NULL));
    CHECK(endpoint("[]:25", 0, NULL, NULL));
    CHECK(endpoint("[host]:25", 0, NULL, NULL));
    CHECK(endpoint("ho st:25", 0, NULL, NULL));
    CHECK(endpoint("host:2x", 0, NULL, NULL));
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(endpoint(big, 0, NULL, NULL));
}

/* What a JSON line holds once flushed: it goes to a temporary file, read back whole. */
static char *jline_text(ex_jline *j)
{
    static char out[65536];
    FILE *f = tmpfile();
    if (f == NULL) return strcpy(out, "(no tmpfile)");
    int fd = j->fd;
    j->fd = fileno(f);
    CHECK(ex_jline_flush(j) == 0 && j->len == 0);
    j->fd = fd;
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* Escapes `len` bytes into a string. */
static char *json(const char *s, size_t len)
{
    ex_jline j;
    ex_jline_init(&j, -1);
    ex_jline_string(&j, s, len);
    return jline_text(&j);
}

/* Escapes `len` bytes into a string, read from the line's buffer (no flush: short). */
static const char *json_buf(const char *s, size_t len)
{
    static ex_jline j;
    ex_jline_init(&j, -1);
    ex_jline_string(&j, s, len);
    ex_jline_raw(&j, "", 1);
    return j.buf;
}

/* Every octet value at every place of runs of plain text is escaped as it is alone: the
 * escaper's whole-string check (blocks of 16 and 8 octets, the last one overlapping, and
 * octets below 8) and its word-at-a-time path for plain runs against its octet-by-octet one. */
static void test_jline_words(void)
{
    static const size_t lens[] = {5, 8, 12, 16, 24, 40};
    for (unsigned c = 0; c < 256; c++) {
        char one = (char)c, alone[16];
        snprintf(alone, sizeof alone, "%s", json(&one, 1)); /* json's buffer is reused */
        size_t an = strlen(alone);
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            size_t len = lens[l];
            for (size_t pos = 0; pos < len; pos++) {
                char in[40], want[64];
                memset(in, 'a', len);
                in[pos] = (char)c;
                want[0] = '"';
                memset(want + 1, 'a', pos);
                memcpy(want + 1 + pos, alone + 1, an - 2);
                memset(want + 1 + pos + an - 2, 'a', len - 1 - pos);
                memcpy(want + 1 + pos + an - 2 + len - 1 - pos, "\"", 2);
                if (strcmp(json_buf(in, len), want) != 0) {
                    CHECK(strcmp(json_buf(in, len), want) == 0);
                    return;
                }
            }
        }
    }
}

/* A line whose writes go to a temporary file (returned, NULL with a failed check). */
static FILE *jline_file(ex_jline *j)
{
    ex_jline_init(j, -1);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f != NULL) j->fd = fileno(f);
    return f;
}

/* A line longer than the buffer leaves in several writes, unchanged: plain runs, escapes and
 * UTF-8 sequences that straddle the buffer's end. */
static void test_jline_long(void)
{
    static char in[3 * EX_JLINE_CAP], want[8 * EX_JLINE_CAP];
    size_t w = 0;
    want[w++] = '"';
    for (size_t i = 0; i < sizeof in; i++) {
        static const char *const pieces[] = {"a", "\"", "\xc3\xa9", "\xff", "\x01"};
        static const char *const out[] = {"a", "\\\"", "\xc3\xa9", "\\u00ff", "\\u0001"};
        size_t k = (i * 7) % 5, n = strlen(pieces[k]);
        if (i + n > sizeof in) { /* no sequence cut by the end of the input */
            k = 0;
            n = 1;
        }
        memcpy(in + i, pieces[k], n);
        memcpy(want + w, out[k], strlen(out[k]));
        w += strlen(out[k]);
        i += n - 1;
    }
    want[w++] = '"';
    ex_jline j;
    FILE *f = jline_file(&j);
    if (f == NULL) return;
    ex_jline_string(&j, in, sizeof in);
    ex_jline_lit(&j, ",");
    ex_jline_u64(&j, 0);
    ex_jline_lit(&j, ",");
    ex_jline_u64(&j, UINT64_MAX);
    CHECK(ex_jline_flush(&j) == 0);
    memcpy(want + w, ",0,18446744073709551615", 23);
    w += 23;
    rewind(f);
    static char got[sizeof want];
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    CHECK(n == w && memcmp(got, want, w) == 0);
}

/* Numbers, two digits a step: every length, a digit or a pair left at the front. */
static void test_jline_u64(void)
{
    static const uint64_t v[] = {0, 7, 10, 99, 100, 101, 1024, 99999, 100000, 1000000007};
    static const char *const want[] = {"0",   "7",    "10",    "99",     "100",
                                       "101", "1024", "99999", "100000", "1000000007"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ex_jline j;
        ex_jline_init(&j, -1);
        ex_jline_u64(&j, v[i]);
        CHECK(j.len == strlen(want[i]) && memcmp(j.buf, want[i], j.len) == 0);
    }
}

/* A number whose digits do not fit the room left in the buffer (2 to 9 octets short): the
 * line leaves in two writes, unchanged. */
static void test_jline_u64_full(void)
{
    for (size_t left = 1; left < 10; left++) {
        ex_jline j;
        FILE *f = jline_file(&j);
        if (f == NULL) return;
        memset(j.buf, 'x', EX_JLINE_CAP - left);
        j.len = EX_JLINE_CAP - left;
        ex_jline_u64(&j, 1000000007);
        CHECK(ex_jline_flush(&j) == 0);
        rewind(f);
        static char got[EX_JLINE_CAP + 16];
        size_t n = fread(got, 1, sizeof got, f);
        fclose(f);
        CHECK(n == EX_JLINE_CAP - left + 10 && got[EX_JLINE_CAP - left - 1] == 'x' &&
              memcmp(got + EX_JLINE_CAP - left, "1000000007", 10) == 0);
    }
}

/* A full non-blocking pipe (stdout inherited that way): the flush waits for room instead of
 * dropping the line. The reader, a child, starts draining only after the pipe filled up. */
static void test_jline_nonblocking(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK) == 0);
    static char fill[4096];
    memset(fill, 'f', sizeof fill);
    size_t filled = 0;
    for (ssize_t n; (n = write(fds[1], fill, sizeof fill)) > 0;)
        filled += (size_t)n;
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* reads everything, says whether the line came after the filling */
        close(fds[1]);
        usleep(100000);
        static char back[1 << 20];
        size_t got = 0;
        for (ssize_t n; (n = read(fds[0], back + got, sizeof back - got)) > 0;)
            got += (size_t)n;
        _exit(got == filled + 5 && memcmp(back + filled, "\"ok\"\n", 5) == 0 ? 0 : 1);
    }
    close(fds[0]);
    ex_jline j;
    ex_jline_init(&j, fds[1]);
    ex_jline_string(&j, "ok", 2);
    ex_jline_lit(&j, "\n");
    CHECK(ex_jline_flush(&j) == 0);
    close(fds[1]);
    int status = -1;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_json(void)
{
    CHECK_STR(json("a@b", 3), "\"a@b\"");
    CHECK_STR(json("", 0), "\"\"");
    CHECK_STR(json("q\"b\\", 4), "\"q\\\"b\\\\\"");
    CHECK_STR(json("\r\n\t\x01\x7f", 5), "\"\\r\\n\\t\\u0001\\u007f\"");
    CHECK_STR(json("\0x", 2), "\"\\u0000x\"");
    CHECK_STR(json("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");           /* valid UTF-8 kept */
    CHECK_STR(json("\xf0\x9f\x93\xa7", 4), "\"\xf0\x9f\x93\xa7\""); /* U+1F4E7 */
    CHECK_STR(json("\xff", 1), "\"\\u00ff\"");
    CHECK_STR(json("\xc3", 1), "\"\\u00c3\"");                                  /* truncated */
    CHECK_STR(json("\xc0\xaf", 2), "\"\\u00c0\\u00af\"");                       /* overlong '/' */
    CHECK_STR(json("\xed\xa0\x80", 3), "\"\\u00ed\\u00a0\\u0080\"");            /* a surrogate */
    CHECK_STR(json("\xf4\x90\x80\x80", 4), "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
    CHECK_STR(json("\xe2\x82", 2), "\"\\u00e2\\u0082\"");
    CHECK(ex_utf8_seq((const unsigned char *)"\xe2\x82\xac", 3) == 3);
    CHECK(ex_utf8_seq((const unsigned char *)"\xe2\x82\xac", 2) == 0);
    test_jline_long();
    test_jline_u64();
    test_jline_u64_full();
    test_jline_words();
    test_jline_nonblocking();
}

static char dir[] = "/tmp/smtp-units.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static int load(const char *text, ex_authfile *af)
{
    char path[256], err[256];
    write_file("users", text);
    snprintf(path, sizeof path, "%s/users", dir);
    return ex_authfile_load(af, path, NULL, err, sizeof err);
}

static void test_authfile(void)
{
    ex_authfile af;
    CHECK(load("# comment\n\nalice:pw:with:colons\r\nbob:x\n", &af) == 0);
    CHECK(af.count == 2);
    CHECK(ex_authfile_check(&af, "alice", 5, "pw:with:colons", 14));
    CHECK(!ex_authfile_check(&af, "alice", 5, "pw:with:colon", 13));
    CHECK(!ex_authfile_check(&af, "alice", 5, "pw:with:colonsX", 15));
    CHECK(!ex_authfile_check(&af, "alice", 5, "x", 1));
    CHECK(ex_authfile_check(&af, "bob", 3, "x", 1));
    CHECK(!ex_authfile_check(&af, "bo", 2, "x", 1));
    CHECK(!ex_authfile_check(&af, "carol", 5, "x", 1));
    ex_authfile_free(&af);
    CHECK(load("nocolon\n", &af) == -2);
    CHECK(load(":pw\n", &af) == -2);
    CHECK(load("user:\n", &af) == -2);
    CHECK(load("# only a comment\n", &af) == -2);
    char err[256];
    CHECK(ex_authfile_load(&af, "/nonexistent/users", NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/users") != NULL);
}

static void test_transcript(void)
{
    char out[1024];
    FILE *f = fmemopen(out, sizeof out, "w");
    ex_transcript t;
    ex_transcript_init(&t, f, "");
    ex_transcript_add(&t, EX_SERVER, "220 hi\r", 7);
    ex_transcript_add(&t, EX_SERVER, "\n", 1);
    ex_transcript_add(&t, EX_CLIENT, "EHLO a\r\nMAIL FROM:<>\r\n", 22);
    ex_transcript_add(&t, EX_SERVER, "250-x\r\n250 y\x01z\r\n", 16);
    ex_transcript_add(&t, EX_CLIENT, "\r\n", 2);
    ex_transcript_add(&t, EX_CLIENT, "half", 4);
    ex_transcript_note(&t, "TLS");
    ex_transcript_end(&t);
    fclose(f);
    CHECK_STR(out, "S: 220 hi\nC: EHLO a\nC: MAIL FROM:<>\nS: 250-x\nS: 250 y\\x01z\nC: \n"
                   "C: half\\\n* TLS\n");
}

/* BDAT chunk data is summarised, never shown as lines: a chunk that ends mid-line leaves the
 * next command on a line of its own; a chunk cut by a server line or a note is summarised in
 * parts; "BDAT" inside chunk data is data; BDAT 0 LAST has no data line. */
#define ADD(t, side, lit) ex_transcript_add((t), (side), (lit), sizeof(lit) - 1)
static void test_transcript_bdat(void)
{
    char out[2048];
    FILE *f = fmemopen(out, sizeof out, "w");
    ex_transcript t;
    ex_transcript_init(&t, f, "[2] ");
    ADD(&t, EX_CLIENT, "BDAT 9\r\nabc\r\nde");
    ADD(&t, EX_CLIENT, "fgBDAT 12 LAST\r\n");
    ADD(&t, EX_CLIENT, "BDAT 1\r\nx\r\n");
    ADD(&t, EX_SERVER, "250 ok\r\n");
    ADD(&t, EX_CLIENT, "\nQUIT\r\nBDAT 0 LAST\r\nbdat 3\r\nabcRSET\r\nBDAT 2x\r\n");
    ADD(&t, EX_CLIENT, "BDAT 5 LAST\r\nab");
    ex_transcript_note(&t, "note");
    ADD(&t, EX_CLIENT, "c");
    ex_transcript_end(&t);
    fclose(f);
    CHECK_STR(out, "[2] C: BDAT 9\n"
                   "[2] C: <9 octets of BDAT data>\n"
                   "[2] C: BDAT 12 LAST\n"
                   "[2] C: <11 octets of BDAT data>\n"
                   "[2] S: 250 ok\n"
                   "[2] C: <1 octet of BDAT data>\n"
                   "[2] C: QUIT\n"
                   "[2] C: BDAT 0 LAST\n"
                   "[2] C: bdat 3\n"
                   "[2] C: <3 octets of BDAT data>\n"
                   "[2] C: RSET\n"
                   "[2] C: BDAT 2x\n"
                   "[2] C: BDAT 5 LAST\n"
                   "[2] C: <2 octets of BDAT data>\n"
                   "[2] * note\n"
                   "[2] C: <1 octet of BDAT data>\n");
}

static size_t count_dir(const char *sub)
{
    char path[256];
    snprintf(path, sizeof path, "%s/md/%s", dir, sub);
    DIR *d = opendir(path);
    size_t n = 0;
    if (d == NULL) return (size_t)-1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_maildir(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/md", dir);
    ex_maildir md;
    CHECK(ex_maildir_open(&md, path) == 0);
    CHECK(ex_maildir_open(&md, path) == 0); /* existing directories are fine */
    CHECK(count_dir("cur") == 0);
    ex_maildir_msg *m = malloc(sizeof *m);
    ex_maildir_msg *m2 = malloc(sizeof *m2);
    CHECK(ex_maildir_begin(&md, m) == 0);
    CHECK(ex_maildir_begin(&md, m2) == 0);
    CHECK(strcmp(m->tmp_path, m2->tmp_path) != 0); /* unique names */
    CHECK(count_dir("tmp") == 2);
    /* More than one buffer of data, in odd pieces. */
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    for (size_t off = 0; off < sizeof big; off += 777)
        ex_maildir_write(m, big + off, sizeof big - off < 777 ? sizeof big - off : 777);
    CHECK(ex_maildir_commit(&md, m) == 0);
    CHECK(count_dir("new") == 1 && count_dir("tmp") == 1);
    FILE *f = fopen(m->new_path, "rb");
    static char back[sizeof big + 1];
    CHECK(f != NULL && fread(back, 1, sizeof back, f) == sizeof big);
    fclose(f);
    CHECK(memcmp(back, big, sizeof big) == 0);
    CHECK(m->size == sizeof big);
    ex_maildir_write(m2, "x", 1);
    ex_maildir_abort(m2);
    ex_maildir_abort(m2); /* twice is harmless */
    CHECK(count_dir("tmp") == 0 && count_dir("new") == 1);
    unlink(m->new_path);
    free(m);
    free(m2);
    const char *subs[] = {"tmp", "new", "cur", ""};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/md/%s", dir, subs[i]);
        rmdir(path);
    }
    /* A Maildir that cannot be created. */
    CHECK(ex_maildir_open(&md, "/nonexistent/dir/md") == -1);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) return 1;
    test_numbers();
    test_endpoints();
    test_json();
    test_authfile();
    test_transcript();
    test_transcript_bdat();
    test_maildir();
    char path[256];
    snprintf(path, sizeof path, "%s/users", dir);
    unlink(path);
    rmdir(dir);
    return check_finish();
}
