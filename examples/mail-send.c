/* SPDX-License-Identifier: MIT */
/* mail-send HOST PORT CAFILE FROM TO < MESSAGE: one message over STARTTLS (README: Send a message)
 */
#include <smtp/tls.h>
#include <stdio.h>

/* Each recipient's RCPT reply; `to` is the user_data given to smtp_client_new. */
static int on_rcpt(smtp_client *cli, size_t i, int after_data, const smtp_client_reply *r, void *to)
{
    (void)cli, (void)after_data;
    smtp_client_rcpt *rcpt = to;
    return printf("%s: %d %.*s\n", rcpt[i].address, r->code, (int)r->text.len, r->text.ptr) < 0;
}

/* The message's outcome and the reply that decided it; then QUIT (or submit the next one). */
static int on_message(smtp_client *cli, const smtp_client_result *res, void *to)
{
    const smtp_client_reply *r = res->reply;
    printf("message to %s: %s %d\n", ((smtp_client_rcpt *)to)[0].address,
           smtp_client_status_name(res->status), r ? r->code : 0);
    return smtp_client_quit(cli);
}

int main(int argc, char **argv)
{
    if (argc != 6) return 64;
    smtp_client_settings s;
    smtp_client_settings_init(&s);
    s.helo_name = "client.example.org";
    s.tls = SMTP_CLIENT_TLS_REQUIRED; /* STARTTLS or nothing; SMTP_CLIENT_TLS in s.flags: 465 */
    smtp_client_callbacks cb = {.on_rcpt = on_rcpt, .on_message = on_message};
    smtp_client_rcpt to[] = {{.address = argv[5]}};
    smtp_client_message m = {.sender = argv[4],
                             .rcpts = to,
                             .nrcpts = 1,
                             .read_body = smtp_io_read_file,
                             .read_body_data = stdin}; /* or .body and .body_len */
    smtp_client *cli;
    if (smtp_client_new(&cli, &cb, &s, NULL, to) != 0 || smtp_client_submit(cli, &m) != 0)
        return 64;
    smtp_io_status st = smtp_tls_client_run(cli, argv[1], argv[2], argv[3], 30000, NULL);
    smtp_client_del(cli);
    return st == SMTP_IO_DONE ? 0 : 75;
}
