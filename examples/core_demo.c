/* SPDX-License-Identifier: MIT */
/*
 * smtp-core-demo: one SMTP conversation held in memory, built only from libsmtp's sans-I/O core.
 *
 * A client and a server live in this process and talk through two byte queues. Neither side
 * sees a socket: the client writes commands with the emitters and reads replies with the reply
 * parser; the server reads commands with the command parser, checks paths with the path
 * parser, unstuffs the message with the DATA decoder and answers with the reply emitter.
 * To show that nothing depends on how bytes arrive, every transfer is cut into small pieces,
 * the way a firewall or an anti-virus proxy may split packets: the client still acts only on
 * complete replies. The transcript and the message the server received are printed.
 *
 * (The session engines, built on the same core, replace the hand-written logic below.)
 */
#include <smtp/smtp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE_C2S 5 /* client-to-server bytes arrive in pieces of this size */
#define PIECE_S2C 7 /* server-to-client bytes too */

struct queue {
    char buf[4096];
    size_t len;
};

static void die(const char *what, int err)
{
    fprintf(stderr, "smtp-core-demo: %s: %s\n", what, smtp_error_text(err));
    exit(1);
}

/* Prints the bytes a side sends, one "C: " / "S: " line per protocol line. */
static void show(const char *prefix, const char *data, size_t len)
{
    static int at_line_start[2] = {1, 1};
    int side = prefix[0] == 'S';
    for (size_t i = 0; i < len; i++) {
        if (at_line_start[side]) fputs(prefix, stdout);
        at_line_start[side] = data[i] == '\n';
        if (data[i] != '\r') putchar(data[i]);
    }
}

static void put(struct queue *q, const char *prefix, const char *data, smtp_ssize n)
{
    if (n < 0) die("emit", (int)n);
    if ((size_t)n > sizeof q->buf - q->len) die("queue", SMTP_ERR_NOBUF);
    memcpy(q->buf + q->len, data, (size_t)n);
    q->len += (size_t)n;
    show(prefix, data, (size_t)n);
}

/* ---- the server: command parser, path parser, DATA decoder, reply emitter ---- */

struct server {
    smtp_cmd_parser *parser;
    struct queue *out;
    int in_data;
    int quit;
    smtp_data_decoder dec;
    char message[2048];
    size_t message_len;
    char from[256], to[256];
};

static void reply(struct server *s, int code, const char *enh, const char *text)
{
    char buf[512];
    put(s->out, "S: ", buf, smtp_emit_reply1(buf, sizeof buf, code, enh, text, strlen(text)));
}

static void copy_mailbox(char *dst, size_t cap, const smtp_path *p)
{
    size_t n = p->mailbox.len < cap - 1 ? p->mailbox.len : cap - 1;
    memcpy(dst, p->mailbox.ptr, n);
    dst[n] = '\0';
}

static int on_command(smtp_cmd_parser *parser, const smtp_cmd *cmd, void *user_data)
{
    (void)parser;
    struct server *s = user_data;
    smtp_path path;
    if (cmd->error != SMTP_CMD_OK) {
        reply(s, 500, "5.5.2", "syntax error");
        return 0;
    }
    switch (cmd->verb) {
    case SMTP_VERB_EHLO: {
        char buf[512];
        smtp_span lines[] = {{"demo.invalid greets you", 23},
                             {"PIPELINING", 10},
                             {"8BITMIME", 8},
                             {"SIZE 1000000", 12},
                             {"ENHANCEDSTATUSCODES", 19}};
        put(s->out, "S: ", buf, smtp_emit_reply(buf, sizeof buf, 250, NULL, lines, 5));
        break;
    }
    case SMTP_VERB_MAIL:
    case SMTP_VERB_RCPT: {
        int mail = cmd->verb == SMTP_VERB_MAIL;
        unsigned flags = mail ? SMTP_PATH_ALLOW_NULL : 0;
        int rv = smtp_path_parse(cmd->path.ptr, cmd->path.len, flags, &path);
        if (rv != 0) {
            reply(s, 501, "5.1.3", smtp_error_text(rv));
            break;
        }
        copy_mailbox(mail ? s->from : s->to, sizeof s->from, &path);
        reply(s, 250, mail ? "2.1.0" : "2.1.5", "ok");
        break;
    }
    case SMTP_VERB_DATA:
        reply(s, 354, NULL, "end data with <CR><LF>.<CR><LF>");
        smtp_data_decoder_init(&s->dec, SMTP_DATA_BARE_REJECT);
        s->message_len = 0;
        s->in_data = 1;
        return SMTP_PAUSE; /* what follows is message content, not commands */
    case SMTP_VERB_QUIT:
        reply(s, 221, "2.0.0", "bye");
        s->quit = 1;
        return SMTP_PAUSE;
    default: reply(s, 502, "5.5.1", "not in this demo");
    }
    return 0;
}

/* Reads message content until CRLF.CRLF; returns the bytes consumed. */
static size_t server_data(struct server *s, const char *data, size_t len)
{
    size_t used = 0;
    while (s->in_data) {
        smtp_span piece;
        size_t n;
        int ev = smtp_data_decode(&s->dec, data + used, len - used, &piece, &n);
        if (ev < 0) die("data", ev);
        used += n;
        if (ev == SMTP_DATA_NEED_INPUT) break;
        if (ev == SMTP_DATA_CONTENT) {
            if (piece.len > sizeof s->message - s->message_len) die("message", SMTP_ERR_NOBUF);
            memcpy(s->message + s->message_len, piece.ptr, piece.len);
            s->message_len += piece.len;
            continue;
        }
        s->in_data = 0; /* SMTP_DATA_END */
        if (smtp_data_decoder_flags(&s->dec) & SMTP_DATA_FLAG_REJECT)
            reply(s, 550, "5.6.0", "bare CR or LF in message");
        else
            reply(s, 250, "2.0.0", "queued");
    }
    return used;
}

/* Feeds the server what has arrived; keeps what it could not use yet. */
static void server_feed(struct server *s, const char *data, size_t len)
{
    static char pending[4096];
    static size_t npending;
    if (len > sizeof pending - npending) die("server input", SMTP_ERR_NOBUF);
    memcpy(pending + npending, data, len);
    npending += len;
    size_t pos = 0;
    while (pos < npending && !s->quit) {
        size_t n;
        if (s->in_data) {
            n = server_data(s, pending + pos, npending - pos);
        } else {
            smtp_ssize rv = smtp_cmd_parser_read(s->parser, pending + pos, npending - pos);
            if (rv < 0) die("command parser", (int)rv);
            n = (size_t)rv;
        }
        if (n == 0) break;
        pos += n;
    }
    memmove(pending, pending + pos, npending - pos);
    npending -= pos;
}

/* ---- the client: emitters, DATA encoder, reply parser ---- */

struct client {
    smtp_reply_parser *parser;
    struct queue *out;
    int code;     /* the code of the last complete reply */
    int complete; /* set when a whole reply has arrived */
    int lines;
};

static int on_reply_line(smtp_reply_parser *parser, const smtp_reply_line *line, void *user_data)
{
    (void)parser;
    struct client *c = user_data;
    c->lines++;
    if (line->last) {
        c->code = line->code;
        c->complete = 1;
    }
    return 0;
}

/* Moves bytes from `q` to the other side in small pieces, like a splitting proxy would. */
static void deliver_to_server(struct queue *q, struct server *s)
{
    for (size_t i = 0; i < q->len; i += PIECE_C2S)
        server_feed(s, q->buf + i, q->len - i < PIECE_C2S ? q->len - i : PIECE_C2S);
    q->len = 0;
}

/* Delivers server output piece by piece until the client holds one complete reply. */
static int await_reply(struct client *c, struct queue *q, int want)
{
    c->complete = 0;
    size_t i = 0;
    int pieces = 0;
    while (!c->complete && i < q->len) {
        size_t n = q->len - i < PIECE_S2C ? q->len - i : PIECE_S2C;
        smtp_ssize rv = smtp_reply_parser_read(c->parser, q->buf + i, n);
        if (rv < 0) die("reply parser", (int)rv);
        i += n;
        pieces++;
    }
    memmove(q->buf, q->buf + i, q->len - i);
    q->len -= i;
    if (!c->complete || c->code != want) {
        fprintf(stderr, "smtp-core-demo: expected a complete %d reply, got %d\n", want,
                c->complete ? c->code : 0);
        exit(1);
    }
    printf("   (the client read this reply in %d pieces and acted only once it was whole)\n",
           pieces);
    return c->code;
}

static void command(struct client *c, smtp_ssize n, const char *buf)
{
    put(c->out, "C: ", buf, n);
}

int main(void)
{
    static struct queue c2s, s2c;
    struct server srv = {.out = &s2c};
    struct client cli = {.out = &c2s};
    char buf[1024];

    smtp_cmd_callbacks ccb = {.on_command = on_command};
    int rv = smtp_cmd_parser_new(&srv.parser, &ccb, NULL, NULL, &srv);
    if (rv != 0) die("smtp_cmd_parser_new", rv);
    smtp_reply_callbacks rcb = {.on_line = on_reply_line};
    rv = smtp_reply_parser_new(&cli.parser, &rcb, NULL, NULL, &cli);
    if (rv != 0) die("smtp_reply_parser_new", rv);

    printf("libsmtp %s core demo: a client and a server in memory\n\n", smtp_lib_version());
    reply(&srv, 220, NULL, "demo.invalid ESMTP"); /* no software version in the banner */
    await_reply(&cli, &s2c, 220);

    command(&cli, smtp_emit_command(buf, sizeof buf, SMTP_VERB_EHLO, "client.invalid", 14), buf);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 250);

    const char *from = "alice@example.org", *to = "bob@example.org";
    command(&cli, smtp_emit_mail(buf, sizeof buf, from, strlen(from), "BODY=8BITMIME", 13), buf);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 250);
    command(&cli, smtp_emit_rcpt(buf, sizeof buf, to, strlen(to), NULL, 0), buf);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 250);
    command(&cli, smtp_emit_command(buf, sizeof buf, SMTP_VERB_DATA, NULL, 0), buf);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 354);

    /* The body as an application has it: LF line ends and a line that starts with a dot. */
    const char *body = "From: alice@example.org\nTo: bob@example.org\nSubject: demo\n\n"
                       "Hello Bob,\n.this line starts with a dot, so it is sent as \"..\"\n"
                       ".\nA lone dot above is content too.";
    smtp_data_encoder enc;
    smtp_data_encoder_init(&enc, SMTP_DATA_ENCODE_DOT);
    size_t consumed, produced;
    rv = smtp_data_encode(&enc, body, strlen(body), buf, sizeof buf, &consumed, &produced);
    if (rv != 0 || consumed != strlen(body)) die("smtp_data_encode", rv);
    put(&c2s, "C: ", buf, (smtp_ssize)produced);
    rv = smtp_data_encode_finish(&enc, buf, sizeof buf, &produced);
    if (rv != 0) die("smtp_data_encode_finish", rv);
    put(&c2s, "C: ", buf, (smtp_ssize)produced);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 250);

    command(&cli, smtp_emit_command(buf, sizeof buf, SMTP_VERB_QUIT, NULL, 0), buf);
    deliver_to_server(&c2s, &srv);
    await_reply(&cli, &s2c, 221);

    printf("\nThe server received a message from <%s> to <%s>, %zu octets after unstuffing:\n",
           srv.from, srv.to, srv.message_len);
    printf("----\n%.*s----\n", (int)srv.message_len, srv.message);

    smtp_cmd_parser_del(srv.parser);
    smtp_reply_parser_del(cli.parser);
    return 0;
}
