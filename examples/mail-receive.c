/* SPDX-License-Identifier: MIT */
/* mail-receive PORT: accepts mail on 127.0.0.1 PORT, prints each message (README: Receive messages)
 */
#include <smtp/io.h>
#include <stdio.h>

/* The body as it streams in: unstuffed (DATA) or as sent (BDAT), piece by piece. */
static int on_data(smtp_server *srv, smtp_span data, void *user_data)
{
    (void)srv, (void)user_data;
    return fwrite(data.ptr, 1, data.len, stdout) == data.len ? 0 : -1;
}

/* The whole message, with its envelope and who sent it: the verdict. */
static int on_message_end(smtp_server *srv, const smtp_server_message *m, void *user_data)
{
    (void)user_data;
    unsigned port;
    const char *addr = smtp_server_client_address(srv, &port), *id = smtp_server_auth_identity(srv);
    smtp_span helo = smtp_server_helo(srv), from = m->sender.path, opts = m->sender.params;
    printf("\nfrom %.*s %.*s (helo %.*s, %s port %u, tls %d, auth %s): %llu octets\n",
           (int)from.len, from.ptr, (int)opts.len, opts.ptr, (int)helo.len, helo.ptr,
           addr ? addr : "?", port, smtp_server_tls(srv), id ? id : "none",
           (unsigned long long)m->size);
    for (size_t i = 0; i < m->recipients; i++)
        printf("to %.*s\n", (int)m->rcpts[i].path.len, m->rcpts[i].path.ptr);
    if (fflush(stdout) != 0 || m->size == 0) /* refuse: a 5xx (or a 4xx: try again later) */
        return smtp_server_reply(srv, 554, "5.6.0", "Nothing stored", 14);
    return 0; /* accept: 250; or SMTP_SERVER_DEFER, then smtp_server_reply when decided */
}

int main(int argc, char **argv)
{
    if (argc != 2) return 64;
    smtp_server_settings s;
    smtp_server_settings_init(&s);  /* 220 localhost ESMTP: set s.hostname */
    s.flags = SMTP_SERVER_ENVELOPE; /* on_message_end gets the envelope */
    smtp_server_callbacks cb = {.on_data = on_data, .on_message_end = on_message_end};
    smtp_io_loop_settings ls; /* STARTTLS: an smtp_io_settings with tls_new (<smtp/tls.h>) */
    smtp_io_loop_settings_init(&ls);
    ls.server = &s, ls.callbacks = &cb, ls.max_connections = 1; /* one at a time: whole bodies */
    smtp_io_loop *loop;
    if (smtp_io_loop_new(&loop, &ls, NULL) != 0 ||
        smtp_io_loop_listen(loop, "127.0.0.1", argv[1], NULL, NULL) < 1)
        return 69;
    return smtp_io_loop_run(loop) == 0 ? 0 : 70; /* serves until killed */
}
