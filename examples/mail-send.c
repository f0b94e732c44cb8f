/* SPDX-License-Identifier: MIT */
/* mail-send HOST PORT CAFILE FROM TO < MESSAGE: one message over STARTTLS (README: Send a message)
 */
#include <smtp/tls.h>
#include <stdio.h>

/* Each recipient's reply to RCPT (in LMTP also its reply after the data). */
static int on_rcpt(smtp_client *cli, const smtp_client_rcpt *to, const smtp_client_reply *r,
                   void *user_data)
{
    (void)cli, (void)user_data;
    return printf("%s: %d %.*s\n", to->address, r->code, (int)r->text.len, r->text.ptr) < 0;
}

/* The message's outcome and the reply that decided it (NULL: nothing was sent). */
static int on_message(smtp_client *cli, const smtp_client_result *res, void *user_data)
{
    (void)cli, (void)user_data;
    const smtp_client_reply *r = res->reply;
    return printf("message: %s %d\n", smtp_client_status_name(res->status), r ? r->code : 0) < 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) return 64;
    smtp_client_settings s;
    smtp_client_settings_init(&s);    /* EHLO localhost: set s.helo_name to relay to others */
    s.tls = SMTP_CLIENT_TLS_REQUIRED; /* or _OPPORTUNISTIC, _NONE; port 465: SMTP_CLIENT_TLS */
    /* AUTH: s.auth_user, s.auth_password (after TLS; the strongest mechanism offered) */
    smtp_client_callbacks cb = {.on_rcpt = on_rcpt, .on_message = on_message};
    smtp_client_rcpt to = {.address = argv[5]};
    /* The body from a callback; .body and .body_len instead: one in memory, of any size. */
    smtp_client_message m = {.sender = argv[4],
                             .rcpts = &to,
                             .nrcpts = 1,
                             .read_body = smtp_io_read_file,
                             .read_body_data = stdin};
    smtp_client *cli;
    if (smtp_client_new(&cli, &cb, &s, NULL, NULL) != 0 || smtp_client_submit(cli, &m) != 0 ||
        smtp_client_quit(cli) != 0) /* QUIT once the message is done */
        return 64;
    char why[256]; /* why TLS failed: a certificate, a name, an alert */
    smtp_io_status st =
        smtp_tls_client_run_err(cli, argv[1], argv[2], argv[3], 30000, NULL, why, sizeof why);
    if (st == SMTP_IO_TLS) fprintf(stderr, "mail-send: TLS: %s\n", why);
    smtp_client_del(cli);
    return st == SMTP_IO_DONE ? 0 : 75;
}
