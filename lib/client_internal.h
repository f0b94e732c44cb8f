/* SPDX-License-Identifier: MIT */
/*
 * The client session engine's private state, shared by lib/client.c (session, replies, I/O),
 * lib/client_txn.c (messages: MAIL, RCPT, DATA, BDAT, RSET and the body) and
 * lib/client_auth.c (SASL). Not installed.
 */
#ifndef SMTP_CLIENT_INTERNAL_H
#define SMTP_CLIENT_INTERNAL_H

#include "internal.h"

#include <smtp/caps.h>
#include <smtp/client.h>
#include <smtp/data.h>
#include <smtp/path.h>
#include <smtp/reply.h>

/* What the session sends next once the expectation queue allows it. */
enum smtp_cli_phase {
    SMTP_CLI_GREETING, /* waiting for the greeting: nothing to send */
    SMTP_CLI_HELLO,    /* send EHLO (LHLO in LMTP mode) */
    SMTP_CLI_HELO,     /* send HELO (EHLO got 500/502) */
    SMTP_CLI_WAIT,     /* a negotiation command is out: nothing to send */
    SMTP_CLI_STARTTLS, /* send STARTTLS */
    SMTP_CLI_TLS,      /* the adapter runs the TLS handshake: nothing in or out */
    SMTP_CLI_AUTH,     /* send the next AUTH line */
    SMTP_CLI_READY,    /* messages; QUIT when asked */
    SMTP_CLI_QUIT,     /* send QUIT as soon as nothing is awaited */
    SMTP_CLI_CLOSING,  /* QUIT is out */
    SMTP_CLI_DONE      /* nothing more in or out */
};

/* What an awaited reply answers. */
enum smtp_cli_expect_kind {
    SMTP_CLI_X_IGNORE, /* a reply still owed after the session failed: read and dropped */
    SMTP_CLI_X_GREETING,
    SMTP_CLI_X_EHLO, /* EHLO or LHLO */
    SMTP_CLI_X_HELO,
    SMTP_CLI_X_STARTTLS,
    SMTP_CLI_X_AUTH,
    SMTP_CLI_X_RSET, /* flag 2: the reuse probe (smtp_client_reuse) */
    SMTP_CLI_X_QUIT,
    SMTP_CLI_X_MAIL,
    SMTP_CLI_X_RCPT,     /* index: the recipient */
    SMTP_CLI_X_DATA,     /* the 354 */
    SMTP_CLI_X_DATA_END, /* after CRLF.CRLF; flag: the lone dot of an aborted message */
    SMTP_CLI_X_BDAT,     /* flag: BDAT LAST */
    SMTP_CLI_X_LMTP,     /* index: the recipient whose reply after the data this is;
                            flag: the data went with BDAT (the reply answers BDAT LAST) */
    SMTP_CLI_X_COMMAND   /* the application's command (smtp_client_command): cmd_verb */
};

/* One awaited reply: what it answers, and where its command ends in the output stream. */
struct smtp_cli_expect {
    uint64_t end; /* output offset just after the command (and its BDAT chunk) */
    uint32_t index;
    uint8_t kind;
    uint8_t flag;
};

/* The awaited replies outside a transaction: the greeting, EHLO, STARTTLS, AUTH, one command
 * of the application's, RSET, QUIT. The ring starts with this many slots in the client. */
#define SMTP_CLI_XQ_MIN 8
/* The output queue's first allocation; it doubles on demand up to max_output. */
#define SMTP_CLI_OUT_MIN 512

/* The deciding reply of a message, copied so that it outlives the reply buffer. */
struct smtp_cli_saved {
    int set;
    int code;
    smtp_verb command;
    size_t lines;
    int truncated;
    size_t enh_off, enh_len;
    size_t len;
    char *text; /* max_reply_text octets */
};

/* The message in progress (smtp_client.msg NULL: none). */
enum smtp_cli_mail { SMTP_CLI_MAIL_NONE, SMTP_CLI_MAIL_SENT, SMTP_CLI_MAIL_OK, SMTP_CLI_MAIL_FAIL };
enum smtp_cli_data {
    SMTP_CLI_DATA_NONE,  /* neither DATA nor BDAT sent */
    SMTP_CLI_DATA_SENT,  /* DATA out, 354 awaited */
    SMTP_CLI_DATA_BODY,  /* 354 received: body streaming */
    SMTP_CLI_DATA_ABORT, /* 354 received with no recipient: a lone "." to send */
    SMTP_CLI_DATA_BDAT,  /* BDAT chunks streaming */
    SMTP_CLI_DATA_END,   /* end of data or BDAT LAST out: final replies awaited */
    SMTP_CLI_DATA_FAIL   /* DATA refused */
};

struct smtp_client {
    const smtp_mem *mem;
    smtp_client_callbacks cb;
    smtp_client_settings set; /* strings point into the client's block, crypto to `crypto` */
    smtp_client_crypto crypto;
    void *user_data;
    smtp_reply_parser *rp;
    int in_callback; /* an application callback or the body source is running */

    int error; /* the sticky error of a failed session */
    int phase; /* enum smtp_cli_phase */
    char *helo_own; /* smtp_client_set_helo's name (NULL: settings.helo_name), allocated once */
    int m_how;      /* smtp_client_data_as's choice for the transaction (0: AUTO) */
    int ended; /* on_session_end was called */
    int quit_asked;
    int tls_active;
    int tls_verified; /* the adapter said the server's certificate verified (RFC 8689 4.2) */
    int ehlo;         /* the session began with EHLO/LHLO (else HELO): caps are meaningful */
    smtp_caps caps;
    smtp_caps caps_next; /* filled while an EHLO reply arrives */

    /* SASL */
    int auth_mech; /* enum in client_auth.c; 0: none chosen */
    int auth_step;
    int auth_cancelled;                /* "*" was sent by choice: the end is AUTH_UNAVAILABLE */
    int auth_verified;                 /* SCRAM: the server signature matched */
    char auth_nonce[20];               /* SCRAM: the client nonce (base64 of 15 random octets) */
    unsigned char auth_server_sig[32]; /* SCRAM: the ServerSignature expected */
    /* The raw SASL message to send next is sasl[sasl_off .. sasl_off + sasl_len), computed
     * from a challenge (CRAM-MD5, SCRAM); the buffer exists with crypto and auth_user only. */
    char *sasl;
    size_t sasl_cap, sasl_off, sasl_len;

    /* output: out[out_head .. out_head + out_len) is pending, in out_cap allocated octets
     * (smtp_cli_out_room grows it on demand up to set.max_output; NULL until first used) */
    char *out;
    size_t out_cap, out_head, out_len;
    uint64_t out_total;   /* octets ever put in the output */
    uint64_t out_written; /* octets ever pulled by smtp_client_write */
    /* The last run of the producer left the queue empty with nothing it may send. Every change
     * that could let it send runs it again (a reply read, an API call's kick), or clears this;
     * until then smtp_client_write need not ask it. */
    int dry;
    smtp_verb last_verb;
    char *scratch; /* max_output octets for SASL messages, allocated at the first AUTH */

    /* awaited replies, a ring: xq_min until the first transaction, then in `txn` */
    struct smtp_cli_expect *xq;
    size_t xq_cap, xq_head, xq_len;
    struct smtp_cli_expect xq_min[SMTP_CLI_XQ_MIN];
    /* One allocation made for the first message (smtp_cli_txn_buffers) and kept: the ring of
     * awaited replies at its largest (max_recipients + 16), rcpt_ok, saved.text and body. */
    char *txn;

    /*
     * Input handed back: smtp_client_read returned early with bytes left, which the caller
     * feeds again first (client.h). The first `held` bytes of the input to come had arrived
     * before the output past `held_written` was pulled, so they cannot answer a command
     * that ends there.
     */
    size_t held;
    uint64_t held_written;

    /* the reply being read */
    int r_started;   /* its first byte has arrived */
    int r_solicited; /* at that moment, a command it answers was written out */
    int r_complete;
    int r_code;
    size_t r_lines;
    int r_truncated;
    size_t r_enh_off, r_enh_len;
    char *r_text;     /* the text of a reply of several lines, gathered */
    const char *r_at; /* the reply's text: r_text, or a one-line reply's line where it lies */
    size_t r_text_cap, r_text_len;

    /* the message in progress */
    const smtp_client_message *msg; /* &msg_copy while a message is in progress, else NULL */
    smtp_client_message msg_copy;   /* the submitted message (what it points to is borrowed) */
    int m_bdat;                     /* the body goes with BDAT */
    uint64_t m_size; /* the size computed or given when MAIL was prepared (result.size) */
    int m_mail;      /* enum smtp_cli_mail */
    int m_data;      /* enum smtp_cli_data */
    int m_utf8;      /* SMTPUTF8 goes with MAIL: an address needs it, or the flag asks for it;
                        0: addresses go in ASCII, U-labels as A-labels (settings.idna_to_ascii) */
    int m_decided;   /* the message has failed (m_status); replies still owed are read */
    int m_status;
    int m_delivered;
    size_t m_pending; /* awaited replies that belong to the message */
    size_t m_rcpt_sent, m_rcpt_replied, m_ok, m_rej, m_temp;
    size_t m_lmtp_ok, m_lmtp_rej, m_lmtp_temp;
    unsigned char *rcpt_ok; /* max_recipients flags */
    /* A transaction opened with smtp_client_mail_from: its MAIL and DATA replies go to on_reply;
     * m_open while recipients may still be added (until smtp_client_data); its recipients
     * are copied into inc_rcpts (max_recipients, allocated at the first smtp_client_mail_from). */
    int m_incremental, m_open;
    smtp_client_rcpt *inc_rcpts;
    /* LIMITS RCPTMAX (RFC 9422 4.2): a whole envelope over the server's limit goes as several
     * transactions over the same session, each for msg->rcpts[t_first .. t_end); t_split: the
     * message is split; its recipients delivered and not delivered so far, and whether any of
     * those failed temporarily. m_rcpt_sent is an index into msg->rcpts, m_rcpt_replied counts
     * the replies of the transaction. */
    int t_split;
    size_t t_first, t_end, t_delivered, t_failed, t_temp;
    int need_rset; /* a transaction is open after a failure: send RSET */
    /* Reuse (smtp_client_reuse): messages reported so far; probe 1: the next message is
     * preceded by RSET, 2: that RSET is out and MAIL waits for its 2xx. */
    uint64_t messages;
    int probe;

    /* The application's command (smtp_client_command): its verb while it is pending (to send,
     * or sent and awaiting its reply), else SMTP_VERB_UNKNOWN; its argument, copied. */
    smtp_verb cmd_verb;
    int cmd_sent;
    int cmd_has_arg;
    char cmd_arg[SMTP_MAX_COMMAND_LINE];
    struct smtp_cli_saved saved;

    /*
     * The body. A body in memory is encoded from msg->body at body_off. A body source is read
     * into body[body_head .. body_head + body_len) (max_body_buffer octets); body_ended: it
     * said the end; body_wait: it said SMTP_ERR_AGAIN (until smtp_client_body_ready).
     */
    size_t body_off;
    char *body;
    size_t body_cap, body_head, body_len;
    int body_ended;
    int body_wait;
    smtp_data_encoder enc;
};

/* The settings' flags (SMTP_CLIENT_*). */
static inline int smtp_cli_lmtp(const smtp_client *cli)
{
    return (cli->set.flags & SMTP_CLIENT_LMTP) != 0;
}

static inline int smtp_cli_chunking(const smtp_client *cli)
{
    return (cli->set.flags & SMTP_CLIENT_NO_CHUNKING) == 0;
}

/* ---- lib/client.c ---- */
/* Room at the output queue's tail, grown first (up to max_output) so that at least `want`
 * octets fit, or as many as max_output leaves; *room gets what is there. NULL: no memory. */
char *smtp_cli_out_room(smtp_client *cli, size_t want, size_t *room);
/* The buffers of a transaction (the client's `txn`), allocated at the first message:
 * 0 or SMTP_ERR_NOMEM (nothing changed). */
int smtp_cli_txn_buffers(smtp_client *cli);
void smtp_cli_out_commit(smtp_client *cli, size_t n, smtp_verb verb);
size_t smtp_cli_xq_free(const smtp_client *cli);
void smtp_cli_expect_push(smtp_client *cli, int kind, uint32_t index, int flag);
/* Whether a command `verb` may be written now (RFC 2920 3.1 with PIPELINING, else lockstep). */
int smtp_cli_may_send(const smtp_client *cli, smtp_verb verb);
/* A fatal error of the feeding call: the session fails without a word to the server
 * (END_PROTOCOL, or END_ERROR for a callback or memory); returns the sticky error. */
int smtp_cli_fail(smtp_client *cli, int error, const smtp_client_reply *reply);
/* Ends the session: reports it, fails the message in progress, then QUITs or stops. */
int smtp_cli_end(smtp_client *cli, smtp_client_end end, int error, const smtp_client_reply *reply,
                 int send_quit);
/* Runs the producer after an API call changed the state; a failure there is the session's. */
int smtp_cli_kick(smtp_client *cli);
/* Records a failed callback; returns SMTP_ERR_CALLBACK_FAILURE. */
int smtp_cli_callback_failed(smtp_client *cli);
/* Moves on once the hello (and STARTTLS) steps are over: AUTH or ready. */
int smtp_cli_after_tls(smtp_client *cli);
/* The session is ready for messages and commands: on_ready. */
int smtp_cli_ready(smtp_client *cli);
/* The A-label form of a domain holding U-labels by settings.idna_to_ascii, into `out`
 * (NUL-terminated): its length, or SMTP_ERR_UTF8 when there is no such function, it refused,
 * or what it gave is not an ASCII domain name. */
int smtp_cli_idna(const smtp_client_settings *s, const char *domain, size_t len,
                  char out[SMTP_MAX_DOMAIN + 1]);

/* ---- lib/client_txn.c ---- */
/* 1 when the C string mailbox (of length n: mailbox[n] is its NUL) is a plain ASCII
 * local@domain that smtp_path_parse accepts as it is (SMTP_PATH_LENIENT_BRACKETS) with a
 * domain name and no UTF-8, and that holds no control octet; 0 when it is anything else (then
 * only the full checks can tell). */
int smtp_cli_plain_mailbox(const char *mailbox, size_t n);
/* Emits the next unit of the message (a command, body data); 1 if anything was emitted. */
int smtp_cli_txn_produce(smtp_client *cli);
/* Whether smtp_cli_txn_produce has nothing to send for certain: no RSET owed, and no message,
 * or one that awaits DATA's 354 or the replies after its data, or whose DATA was refused.
 * Most of the producer's calls find this; the caller tests it before the call. */
static inline int smtp_cli_txn_waits(const smtp_client *cli)
{
    return !cli->need_rset &&
           (!cli->msg || cli->m_data == SMTP_CLI_DATA_SENT || cli->m_data == SMTP_CLI_DATA_END ||
            cli->m_data == SMTP_CLI_DATA_FAIL);
}
/* Handles a reply to MAIL, RCPT, DATA, BDAT or after the data. */
int smtp_cli_txn_reply(smtp_client *cli, const struct smtp_cli_expect *x,
                       const smtp_client_reply *r);
/* Fails the message in progress, if any (status, deciding reply or NULL) and reports it. */
int smtp_cli_txn_abort(smtp_client *cli, int status, const smtp_client_reply *r);
/* Whether the message in progress still has something to say before QUIT. */
int smtp_cli_txn_busy(const smtp_client *cli);
/* Whether the message in progress is a transaction opened with smtp_client_mail_from whose data has
 * not begun, which RSET or QUIT may end. */
int smtp_cli_txn_cancellable(const smtp_client *cli);
/* Ends such a transaction (TEMPFAIL, no reply): once the replies it is owed are in, on_message
 * reports it; the application's RSET (or QUIT) closes it at the server. */
int smtp_cli_txn_cancel(smtp_client *cli);

/* ---- lib/client_auth.c ---- */
/* The mechanism named by settings.auth_mech (0: none named, -1: unknown name, or its
 * credential or crypto functions are missing). */
int smtp_cli_auth_named(const smtp_client_settings *s);
/* Whether the settings ask for AUTH: a user name, or SASL EXTERNAL (the flag or by name). */
int smtp_cli_auth_wanted(const smtp_client_settings *s);
/* The size of the SASL buffer the settings need (0: none). */
size_t smtp_cli_auth_buffer_size(const smtp_client_settings *s);
/* The scratch buffer of SASL messages (max_output octets), allocated at the first AUTH:
 * 0 or SMTP_ERR_NOMEM. */
int smtp_cli_scratch(smtp_client *cli);
/* Picks the mechanism after the final EHLO; ends the session when none may be used. */
int smtp_cli_auth_start(smtp_client *cli);
/* Emits the next AUTH line; 1 if emitted. */
int smtp_cli_auth_produce(smtp_client *cli);
int smtp_cli_auth_reply(smtp_client *cli, const smtp_client_reply *r);

#endif /* SMTP_CLIENT_INTERNAL_H */
