/*
 * The server callbacks a connection puts between the engine and the application. The engine's
 * user_data is the connection; each hook forwards to the application's callback with the
 * application's user_data, so the application sees the engine exactly as if it had made it.
 * A few hooks also note what the connection must know: STARTTLS was accepted (start the
 * handshake once its 220 is written, RFC 3207 4.2) and whether a transaction is open (a
 * graceful shutdown lets it finish). A callback the application left NULL stays NULL in the
 * engine (its default applies) unless the connection needs to see it; then the hook returns 0,
 * which is the same default.
 */
#include "io_internal.h"

#define APP(ud) ((smtp_io_conn *)(ud))->app
#define APP_DATA(ud) ((smtp_io_conn *)(ud))->app_data

static int h_connect(smtp_server *s, void *ud)
{
    return APP(ud)->on_connect(s, APP_DATA(ud));
}

static int h_helo(smtp_server *s, smtp_verb verb, smtp_span domain, void *ud)
{
    ((smtp_io_conn *)ud)->txn = 0; /* HELO/EHLO end any transaction (RFC 5321 4.1.4) */
    return APP(ud)->on_helo ? APP(ud)->on_helo(s, verb, domain, APP_DATA(ud)) : 0;
}

static int h_mail(smtp_server *s, const smtp_server_mail *mail, void *ud)
{
    ((smtp_io_conn *)ud)->txn = 1;
    return APP(ud)->on_mail ? APP(ud)->on_mail(s, mail, APP_DATA(ud)) : 0;
}

static int h_rcpt(smtp_server *s, const smtp_server_rcpt *rcpt, void *ud)
{
    return APP(ud)->on_rcpt(s, rcpt, APP_DATA(ud));
}

static int h_data_start(smtp_server *s, void *ud)
{
    return APP(ud)->on_data_start(s, APP_DATA(ud));
}

static int h_data(smtp_server *s, smtp_span data, void *ud)
{
    return APP(ud)->on_data(s, data, APP_DATA(ud));
}

static int h_message_end(smtp_server *s, const smtp_server_message *msg, void *ud)
{
    /* A deferred answer keeps the connection busy through smtp_server_pending. */
    ((smtp_io_conn *)ud)->txn = 0;
    return APP(ud)->on_message_end ? APP(ud)->on_message_end(s, msg, APP_DATA(ud)) : 0;
}

static int h_message_abort(smtp_server *s, smtp_server_abort_reason why, void *ud)
{
    ((smtp_io_conn *)ud)->txn = 0;
    return APP(ud)->on_message_abort ? APP(ud)->on_message_abort(s, why, APP_DATA(ud)) : 0;
}

static int h_reset(smtp_server *s, void *ud)
{
    ((smtp_io_conn *)ud)->txn = 0;
    return APP(ud)->on_reset ? APP(ud)->on_reset(s, APP_DATA(ud)) : 0;
}

static int h_vrfy(smtp_server *s, smtp_span arg, void *ud)
{
    return APP(ud)->on_vrfy(s, arg, APP_DATA(ud));
}

static int h_starttls(smtp_server *s, void *ud)
{
    ((smtp_io_conn *)ud)->starttls = 1;
    ((smtp_io_conn *)ud)->txn = 0; /* STARTTLS resets the session (RFC 3207 4.2) */
    return APP(ud)->on_starttls ? APP(ud)->on_starttls(s, APP_DATA(ud)) : 0;
}

static int h_tls_injection(smtp_server *s, void *ud)
{
    return APP(ud)->on_tls_injection(s, APP_DATA(ud));
}

static int h_auth(smtp_server *s, const smtp_server_auth *auth, void *ud)
{
    return APP(ud)->on_auth(s, auth, APP_DATA(ud));
}

static int h_sasl(smtp_server *s, const smtp_server_sasl *step, void *ud)
{
    return APP(ud)->on_sasl(s, step, APP_DATA(ud));
}

static int h_xclient(smtp_server *s, const smtp_server_xattrs *attrs, void *ud)
{
    return APP(ud)->on_xclient(s, attrs, APP_DATA(ud));
}

static int h_xforward(smtp_server *s, const smtp_server_xattrs *attrs, void *ud)
{
    return APP(ud)->on_xforward(s, attrs, APP_DATA(ud));
}

static int h_proxy(smtp_server *s, const smtp_server_proxy *proxy, void *ud)
{
    return APP(ud)->on_proxy(s, proxy, APP_DATA(ud));
}

void smtp_io_hooks_fill(smtp_server_callbacks *h, const smtp_server_callbacks *app)
{
    /* Seen by the connection: always hooked. */
    h->on_helo = h_helo;
    h->on_mail = h_mail;
    h->on_message_end = h_message_end;
    h->on_message_abort = h_message_abort;
    h->on_reset = h_reset;
    h->on_starttls = h_starttls;
    /* Forwarded only when set, so that the engine's defaults apply otherwise. */
    h->on_connect = app->on_connect ? h_connect : NULL;
    h->on_rcpt = app->on_rcpt ? h_rcpt : NULL;
    h->on_data_start = app->on_data_start ? h_data_start : NULL;
    h->on_data = app->on_data ? h_data : NULL;
    h->on_vrfy = app->on_vrfy ? h_vrfy : NULL;
    h->on_tls_injection = app->on_tls_injection ? h_tls_injection : NULL;
    h->on_auth = app->on_auth ? h_auth : NULL;
    h->on_sasl = app->on_sasl ? h_sasl : NULL;
    h->on_xclient = app->on_xclient ? h_xclient : NULL;
    h->on_xforward = app->on_xforward ? h_xforward : NULL;
    h->on_proxy = app->on_proxy ? h_proxy : NULL;
}
