/* SPDX-License-Identifier: MIT */
/*
 * The TLS seam (conn.c's filter stages) with a filter that misbehaves as a TLS peer or
 * library may (faultfilter.h): slow peers (a few octets per call, each way, over STARTTLS and
 * implicit TLS, early talkers judged) lose nothing; an alert during the handshake ends that
 * side with TLS and its code, and the other with the end of the stream, the message failed; a
 * close_notify in the middle of a command or of a body ends the server with EOF, the message
 * aborted and never acknowledged; a record that does not decrypt, an alert to send, a write
 * refused (at once, or after plaintext was kept) end with TLS. A session that ended well
 * queues a close_notify; one that failed does not. Every filter made is freed.
 */
#include "faults.h"
#include "faultfilter.h"

/* A STARTTLS (or implicit TLS) pair whose filters are ff_new's: its settings, then
 * fk_start. */
static void setup(struct fk_pair *p, int implicit)
{
    CHECK_INT(fk_open(p), 0);
    p->sio.tls_new = p->cio.tls_new = ff_new;
    if (implicit) {
        p->ss.flags |= SMTP_SERVER_TLS;
        p->cs.flags |= SMTP_CLIENT_TLS;
        p->sio.implicit_tls = p->cio.implicit_tls = 1;
    } else {
        p->ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
        p->cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    }
}

static void start(struct fk_pair *p, int implicit, int nmsg, size_t body)
{
    setup(p, implicit);
    CHECK_INT(fk_start(p, nmsg, body, NULL), 0);
}

/* Every filter made was freed, once. */
static void check_freed(void)
{
    CHECK_INT(ff_counts[0].dels, ff_counts[0].made);
    CHECK_INT(ff_counts[1].dels, ff_counts[1].made);
}

/* The filter of a connection is there from the handshake on, and TLS is on after it. */
static int seen_filter, seen_tls;

static int look_at_filter(smtp_io_conn *conn, void *ud)
{
    (void)ud;
    const smtp_io_filter *f = smtp_io_conn_filter(conn);
    if (f && f->handshake == ff_handshake) seen_filter = 1;
    if (smtp_io_conn_tls(conn)) seen_tls = 1;
    return 0;
}

/* Both peers slow: records one to three octets at a time, every way. The server judges early
 * talkers (strict pipelining: under implicit TLS the filter hands it the first plaintext) and
 * gives the handshake all the time it needs (handshake_timeout_ms 0). */
static void test_slow_peers(int implicit)
{
    ff_reset();
    for (int i = 0; i < 2; i++) {
        ff_knobs[i].feed_max = 1;
        ff_knobs[i].pull_max = 3;
        ff_knobs[i].read_max = 2;
        ff_knobs[i].write_max = 3;
    }
    struct fk_pair p;
    setup(&p, implicit);
    p.ss.flags |= SMTP_SERVER_STRICT_PIPELINING;
    p.sio.handshake_timeout_ms = 0;
    CHECK_INT(fk_start(&p, 2, 5000, NULL), 0);
    CHECK_INT(fk_run(&p, 20000), 1);
    CHECK_INT(p.status[0], SMTP_IO_DONE);
    CHECK_INT(p.status[1], SMTP_IO_DONE);
    CHECK_INT(p.cli.delivered, 2);
    CHECK_INT(p.srv.tls_messages, 2);
    CHECK(fk_consistent(&p));
    CHECK_INT(ff_counts[0].made, 1);
    CHECK_INT(ff_counts[1].made, 1);
    CHECK_INT(ff_counts[0].closes, 1); /* the session ended well: close_notify */
    CHECK_INT(ff_counts[1].closes, 1);
    fk_close(&p);
    check_freed();
}

/* The connection pieces' filter queries, seen from on_progress. */
static void test_filter_queries(void)
{
    ff_reset();
    struct fk_pair p;
    seen_filter = seen_tls = 0;
    CHECK_INT(fk_open(&p), 0);
    p.sio.tls_new = p.cio.tls_new = ff_new;
    p.ss.extensions |= SMTP_SERVER_EXT_STARTTLS;
    p.cs.tls = SMTP_CLIENT_TLS_REQUIRED;
    p.cio.on_progress = look_at_filter;
    CHECK_INT(fk_start(&p, 1, 100, NULL), 0);
    CHECK(smtp_io_conn_filter(p.conn[1]) == NULL); /* plaintext until STARTTLS */
    CHECK_INT(smtp_io_conn_tls(p.conn[1]), 0);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK(seen_filter && seen_tls);
    CHECK(smtp_io_conn_filter(NULL) == NULL);
    CHECK_INT(smtp_io_conn_tls(NULL), 0);
    CHECK_INT(p.cli.delivered, 1);
    fk_close(&p);
    check_freed();
}

/* An alert during the handshake, from the server's library or the client's. */
static void test_handshake_alert(int side, int implicit)
{
    ff_reset();
    ff_knobs[side].handshake_fail = side ? -0x7780 : SMTP_ERR_PROTO; /* any negative code */
    struct fk_pair p;
    start(&p, implicit, 1, 100);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[side], SMTP_IO_TLS);
    CHECK_INT(p.detail[side], side ? -0x7780 : SMTP_ERR_PROTO);
    CHECK_INT(p.status[!side], SMTP_IO_EOF);
    CHECK_INT(p.cli.delivered, 0);
    CHECK_INT(p.cli.failed, 1);
    /* The client engine knows why: told by the adapter, or by the end of the stream. */
    CHECK(p.cli.end == (side ? SMTP_CLIENT_END_TLS_FAILED : SMTP_CLIENT_END_CLOSED) ||
          (implicit && p.cli.end == SMTP_CLIENT_END_CLOSED));
    CHECK_INT(p.srv.messages, 0);
    CHECK_INT(ff_counts[0].closes + ff_counts[1].closes, 0);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
    check_freed();
}

/*
 * The client's close_notify (or an alert read as the end) reaches the server after `after`
 * octets of plaintext: in the middle of a command, or of the body. The server ends with EOF; a
 * message in progress is aborted and nothing was acknowledged.
 */
static void test_end_mid_stream(size_t after, int in_body)
{
    ff_reset();
    ff_knobs[0].read_end_after = after;
    ff_knobs[0].read_end = SMTP_ERR_PROTO;
    struct fk_pair p;
    start(&p, 1, 1, 20000);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[0], SMTP_IO_EOF);
    CHECK_INT(p.srv.messages, 0);
    CHECK_INT(p.srv.aborts[SMTP_SERVER_ABORT_EOF], in_body);
    CHECK_INT(p.status[1], SMTP_IO_EOF);
    CHECK_INT(p.cli.delivered, 0);
    CHECK_INT(p.cli.failed, 1);
    CHECK_INT(ff_counts[0].closes, 0);
    fk_close(&p);
    check_freed();
}

/* A failure of the filter itself in the middle of the session, on either side: TLS, with the
 * filter's code; no message acknowledged that the client does not count. */
static void test_filter_fails(int which)
{
    ff_reset();
    int side = which == 1 || which == 3;
    switch (which) {
    case 0: /* a record that does not decrypt, in the middle of the body (fed in pieces) */
        ff_knobs[0].feed_max = 1000;
        ff_knobs[0].feed_fail_after = 3000;
        ff_knobs[0].feed_fail = SMTP_ERR_PROTO;
        break;
    case 1: /* an alert the client's library has to send */
        ff_knobs[1].pull_fail = SMTP_ERR_PROTO;
        break;
    case 2: /* the server's library refuses plaintext */
        ff_knobs[0].write_fail = SMTP_ERR_NOMEM;
        break;
    case 3: /* the client's takes a little at a time, then refuses what was kept */
        ff_knobs[1].write_max = 100;
        ff_knobs[1].write_fail_after = 2000;
        ff_knobs[1].write_fail = SMTP_ERR_NOMEM;
        break;
    }
    struct fk_pair p;
    start(&p, which == 1, 1, 20000);
    CHECK_INT(fk_run(&p, 5000), 1);
    CHECK_INT(p.status[side], SMTP_IO_TLS);
    CHECK_INT(p.detail[side], which >= 2 ? SMTP_ERR_NOMEM : SMTP_ERR_PROTO);
    CHECK_INT(p.status[!side], SMTP_IO_EOF);
    CHECK_INT(p.cli.delivered, 0);
    CHECK_INT(p.srv.messages, 0);
    CHECK(p.closed[0] && p.closed[1]);
    fk_close(&p);
    check_freed();
}

int main(void)
{
    iot_limit_time(100);
    test_slow_peers(0);
    test_slow_peers(1);
    test_filter_queries();
    for (int side = 0; side < 2; side++) {
        test_handshake_alert(side, 0);
        test_handshake_alert(side, 1);
    }
    test_end_mid_stream(30, 0);    /* inside EHLO or MAIL */
    test_end_mid_stream(10000, 1); /* inside the body */
    for (int which = 0; which < 4; which++)
        test_filter_fails(which);
    return check_finish();
}
