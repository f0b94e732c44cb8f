/* SPDX-License-Identifier: MIT */
/*
 * The server session engine's private state, shared by lib/server*.c. Not installed.
 *
 * Files: server.c (object, read loop, command state machine and its transitions), server_out.c
 * (output queue and reply lines), server_ehlo.c (the EHLO capability list), server_decide.c
 * (the application's decisions), server_data.c (DATA and BDAT streaming and the end of a
 * message), server_auth.c (AUTH and its SASL exchanges), server_xclient.c (XCLIENT and
 * XFORWARD), server_proxy.c (the PROXY protocol header), server_pipe.c (commands read while
 * decisions are pending: pipelined deferral).
 */
#ifndef SMTP_SERVER_INTERNAL_H
#define SMTP_SERVER_INTERNAL_H

#include "internal.h"

#include <smtp/command.h>

#include <smtp/server.h>

/* Free output space below which no more input is consumed: any one reply fits in it. */
#define SMTP_SRV_RESERVE 2048
/*
 * The output queue's first allocation: a greeting and a few replies. It doubles on demand up
 * to max_output and keeps its size, so that steady state allocates nothing.
 */
#define SMTP_SRV_OUT_MIN 512
/* The longest reply text an application may give (a reply line stays under 512 octets). */
#define SMTP_SRV_MAX_TEXT 400

/*
 * Output room each command read ahead (server_pipe.c) keeps for its reply, beyond
 * SMTP_SRV_RESERVE (the pending decision's reply and a 421): a reply line is at most 512
 * octets.
 */
#define SMTP_SRV_SLOT_ROOM 512
/* The largest max_pending (smtp_server_settings). */
#define SMTP_SRV_MAX_PENDING 1024

/* The limit a message's content is held to: max_message_size, or none when it is only
 * advertised (SMTP_SERVER_SIZE_ADVISORY). */
#define SMTP_SRV_BODY_LIMIT(srv)                                                                   \
    (((srv)->set.flags & SMTP_SERVER_SIZE_ADVISORY) ? 0 : (srv)->set.max_message_size)

/* What the engine reads next. */
typedef enum smtp_srv_input {
    SMTP_SRV_IN_COMMAND = 0, /* command lines (or a SASL response) */
    SMTP_SRV_IN_DATA,        /* DATA content up to CRLF.CRLF */
    SMTP_SRV_IN_CHUNK        /* BDAT payload: chunk_left octets */
} smtp_srv_input;

/* The kind of an AUTH exchange in progress. */
typedef enum smtp_srv_mech {
    SMTP_SRV_MECH_NONE = 0,    /* not a mechanism advertised */
    SMTP_SRV_MECH_PLAIN,       /* RFC 4616: one message, initial response or after "334 " */
    SMTP_SRV_MECH_LOGIN,       /* user name, then password, each after a 334 prompt */
    SMTP_SRV_MECH_CRAM_MD5,    /* RFC 2195, built in (server_sasl.c): on_auth_lookup */
    SMTP_SRV_MECH_SCRAM,       /* SCRAM-SHA-256 (RFC 5802, RFC 7677), built in: on_auth_lookup */
    SMTP_SRV_MECH_XOAUTH2,     /* Google's, built in: on_auth_token */
    SMTP_SRV_MECH_OAUTHBEARER, /* RFC 7628, built in: on_auth_token */
    SMTP_SRV_MECH_EXTERNAL,    /* RFC 4422 appendix A, built in: on_auth_token; over TLS only */
    SMTP_SRV_MECH_OTHER        /* run by on_sasl */
} smtp_srv_mech;

/* The most capability lines of the application's own (settings.ehlo_keywords). */
#define SMTP_SRV_EHLO_EXTRA 8

/* The PROXY header reader's buffer: the v2 header (16) and the largest address block (216). */
#define SMTP_SRV_PROXY_BUF 232
/* Scratch space kept for the LOGIN user name while the password is read. */
#define SMTP_SRV_LOGIN_USER (SMTP_SERVER_MAX_IDENTITY + 1)
/*
 * SCRAM's part of the scratch buffer (server_sasl.c), before the responses it decodes: the
 * decoded authcid and authzid (SMTP_SRV_LOGIN_USER each), StoredKey and ServerKey, then the
 * gs2 header and the AuthMessage so far (client-first-message-bare "," server-first-message
 * ","), at most SMTP_SRV_SCRAM_KEEP octets, which the client-final message is decoded right
 * after.
 */
#define SMTP_SRV_SCRAM_KEEP 2048
#define SMTP_SRV_SCRAM_KEYS (2 * SMTP_SRV_LOGIN_USER)
#define SMTP_SRV_SCRAM_HEAD (SMTP_SRV_SCRAM_KEYS + 2 * SMTP_SERVER_SCRAM_KEY + SMTP_SRV_SCRAM_KEEP)
/*
 * A refused XOAUTH2 or OAUTHBEARER token's reply, kept in the scratch buffer after the LOGIN
 * user's room while the client answers the error challenge (the answer is decoded after it):
 * the enhanced code (16 octets), then the text and its NUL. The buffer has that room when
 * on_auth_token is set.
 */
#define SMTP_SRV_REFUSAL (16 + SMTP_SRV_MAX_TEXT + 1)

/* The decision the application owes (smtp_server_reply). */
typedef enum smtp_srv_decision {
    SMTP_SRV_DECISION_NONE = 0,
    SMTP_SRV_DECISION_CONNECT,
    SMTP_SRV_DECISION_HELO,
    SMTP_SRV_DECISION_MAIL,
    SMTP_SRV_DECISION_RCPT,
    SMTP_SRV_DECISION_DATA, /* DATA: 354 */
    SMTP_SRV_DECISION_BDAT, /* first BDAT of a message: no reply on acceptance */
    SMTP_SRV_DECISION_MESSAGE,
    SMTP_SRV_DECISION_VRFY,
    SMTP_SRV_DECISION_AUTH,     /* on_auth: PLAIN/LOGIN credentials */
    SMTP_SRV_DECISION_SASL,     /* on_sasl: a step of another mechanism */
    SMTP_SRV_DECISION_LOOKUP,   /* on_auth_lookup: CRAM-MD5/SCRAM credentials; 0: unknown */
    SMTP_SRV_DECISION_TOKEN,    /* on_auth_token: XOAUTH2, OAUTHBEARER, EXTERNAL */
    SMTP_SRV_DECISION_XCLIENT,  /* on_xclient: 220 and a reset on acceptance */
    SMTP_SRV_DECISION_XFORWARD, /* on_xforward: 250 */
    SMTP_SRV_DECISION_ETRN,     /* on_etrn: 250, 251, 252, 253 */
    SMTP_SRV_DECISION_HELP      /* on_help: 211, 214 */
} smtp_srv_decision;

/*
 * Where the session is in the conversation (the diagram in server.c), switched on by the
 * command handlers. Closing is not a phase but a flag beside it (srv->closing): a session
 * decides to close in any phase and keeps what that phase left open, which is still owed to
 * the application (smtp_server_eof reports an open transaction, smtp_server_in_transaction
 * says so until then).
 */
typedef enum smtp_srv_phase {
    SMTP_SRV_NEW = 0,  /* smtp_server_start not called yet */
    SMTP_SRV_PROXY,    /* reading the PROXY header (SMTP_SERVER_PROXY) */
    SMTP_SRV_GREETING, /* the greeting is being decided (on_connect) */
    SMTP_SRV_REFUSED,  /* greeted with a refusal: only QUIT is served (RFC 5321 3.1) */
    SMTP_SRV_NO_HELO,  /* greeted, or everything forgotten: HELO/EHLO/LHLO comes first */
    SMTP_SRV_READY,    /* HELO/EHLO/LHLO accepted, no transaction */
    SMTP_SRV_MAIL,     /* MAIL accepted, no recipient yet */
    SMTP_SRV_RCPTS,    /* one recipient or more accepted */
    SMTP_SRV_MESSAGE,  /* DATA or the first BDAT accepted, until the message's final reply */
    SMTP_SRV_AUTH,     /* an AUTH exchange (RFC 4954 4), until 235 or its failure */
    SMTP_SRV_TLS_WAIT  /* STARTTLS accepted: until smtp_server_tls_done (RFC 3207 4.2) */
} smtp_srv_phase;

struct smtp_srv_env_item;

/*
 * A command read while decisions are pending (server_pipe.c): RCPT, DATA or BDAT read ahead
 * under PIPELINING. Its decision may be asked early and answered in any order; the command
 * itself is judged against the session's real state only once every command before it was
 * answered (smtp_srv_pipe_flush), in command order.
 */
typedef struct smtp_srv_slot {
    uint64_t id;            /* the decision asked early; 0: none */
    smtp_srv_decision kind; /* RCPT, DATA, BDAT; NONE when none was asked */
    smtp_verb verb;         /* the command */
    int answered;           /* the application's answer is stored below */
    int relay;              /* it is a relayed reply (smtp_server_relay_to): lines verbatim */
    int code;               /* the answer: 0 for the default acceptance */
    int has_enhanced, has_text;
    char enhanced[16];
    size_t len;
    char text[SMTP_SRV_MAX_TEXT];
    /* A reply of the engine's own instead of a decision (static strings): a line the parser
     * refused (line_error: the same whatever the state), or a RCPT's faulty path or parameter
     * (503 instead when no transaction is open by then). */
    int reply_code;
    int line_error;
    const char *reply_enhanced, *reply_text;
    uint64_t chunk;              /* BDAT: the chunk's size */
    int last;                    /* BDAT LAST */
    size_t path_len, params_len; /* RCPT: its envelope copy (SMTP_SERVER_ENVELOPE) */
} smtp_srv_slot;

struct smtp_server {
    const smtp_mem *mem;
    smtp_server_callbacks cb;
    void *user_data;
    smtp_server_settings set; /* strings point into `strings` */
    char *strings;            /* one allocation: hostname, AUTH list, MT-PRIORITY profile */
    smtp_cmd_parser *parser;
    smtp_mem parser_mem; /* counts the parser's allocations for smtp_server_memory */
    size_t parser_bytes;

    /* Output queue: out[out_head .. out_head + out_len) of out_cap allocated octets (grown on
     * demand up to set.max_output, the bound flow control works with). */
    char *out;
    size_t out_head, out_len, out_cap;
    unsigned out_delay; /* ms to hold the queued output (soft error limit); 0: none */

    /* The session's state: its phase, and the flags orthogonal to it. */
    smtp_srv_phase phase;
    int closing;          /* no more input: close once the output is written (in any phase) */
    int error;            /* sticky fatal error, 0 while none; closing then */
    int in_callback;      /* callbacks running (SMTP_SRV_CALL): no reentrant state changes */
    int stop;             /* the current read must return (pause) */
    int tls_active;       /* the connection is encrypted */
    int injection;        /* TLS_WAIT: bytes after STARTTLS were reported */
    int ehlo;             /* past NO_HELO: the hello was EHLO or LHLO, so extensions apply */
    smtp_srv_input input; /* what the read loop reads next (PROXY: the phase says) */

    /* The pending decision. */
    smtp_srv_decision decision;
    uint64_t decision_id;    /* its id (smtp_server_decision) */
    uint64_t last_id;        /* the last id given; ids count from 1 */
    int answered;            /* smtp_server_reply was called during the policy callback */
    /* relay_arg: the answer being given is a relayed reply (smtp_server_relay_to, or a slot's
     * kept one); relay: the next reply line formatted is it (consumed by that line). */
    int relay_arg, relay;
    smtp_verb decision_verb; /* HELO/EHLO/LHLO for DECISION_HELO */
    int decision_last;       /* BDAT LAST for DECISION_BDAT */
    uint64_t decision_chunk; /* BDAT size for DECISION_BDAT */
    uint64_t decision_ahead; /* of it, the octets delivered ahead (SMTP_SERVER_CHUNK_AHEAD) */
    size_t lmtp_left;        /* LMTP replies still owed for DECISION_MESSAGE */
    size_t lmtp_fill;        /* copies of lmtp_last still to queue (no room yet) */
    int lmtp_ok;             /* an LMTP recipient accepted the message */
    int lmtp_fill_error;     /* queueing those copies failed in an smtp_server_write that had
                              * copied octets: the error its next call reports; 0: none */
    char lmtp_last[512];     /* the last LMTP reply line, with CRLF */
    size_t lmtp_last_len;

    /* The transaction. */
    size_t rcpts;         /* accepted recipients */
    int binarymime;       /* MAIL BODY=BINARYMIME: BDAT only (RFC 3030 3) */
    int smtputf8;         /* MAIL SMTPUTF8 */
    int bdat;             /* the message comes with BDAT */
    int discard;          /* an smtp_server_abort_reason: content is dropped until the end */
    uint64_t msg_size;    /* content octets so far */
    uint64_t chunk_left;  /* BDAT payload octets still to read */
    int chunk_last;       /* the chunk being read is LAST */
    int chunk_deliver;    /* the chunk goes to on_data (else it is discarded) */
    uint64_t chunk_total; /* the current chunk's size, for its 250 reply */
    smtp_data_decoder decoder;
    /*
     * A DATA content byte a read took while the decoder had not seen it (smtp_server_read: a
     * pause always consumes at least one byte); the decoder reads it first at the next read.
     */
    char carry;
    int carried;
    /*
     * A refused BDAT's reply, queued once its chunk was read and dropped (RFC 3030 2): the
     * formatted line with CRLF, its code (for the error count) and how many copies the chunk
     * being skipped owes (0: none; LMTP: one per accepted recipient after BDAT LAST).
     */
    char held[512];
    size_t held_len;
    int held_code;
    size_t held_copies;
    /*
     * A BDAT of the message was refused: the BDATs pipelined after it (until another command)
     * are dropped with the same reply (RFC 3030 2); in LMTP a BDAT LAST among them owes one
     * per recipient the failed transaction had accepted (failed_rcpts).
     */
    int chunk_failed;
    size_t failed_rcpts;

    /*
     * Pipelined deferral (server_pipe.c, settings.max_pending > 1): the commands read after
     * the pending decision, in order, ring[ring_head ..) of ring_cap (max_pending) slots.
     * ring_rcpts counts the RCPT decisions among them; ring_closed: one of them ends the group
     * (DATA, BDAT, a 521), nothing more is read. decision_spec: the pending decision is the first
     * slot's (asked early). spec: the slot of the command being read ahead now. admitted: a command
     * was let in and the parser is reading its line; pipe_wait: the next command was seen
     * and must wait for the answers.
     */
    smtp_srv_slot *ring;
    size_t ring_cap, ring_head, ring_len, ring_rcpts;
    int ring_closed, decision_spec, admitted, pipe_wait;
    smtp_srv_slot *spec;
    uint64_t ahead; /* octets of the last slot's BDAT chunk given to on_data (CHUNK_AHEAD) */

    /* Counters. */
    size_t messages;
    unsigned errors, junk;

    /* Decoding buffer (server_auth.c, server_xclient.c): allocated when first needed
     * (smtp_srv_scratch), then kept; scratch_cap is its size either way. */
    char *scratch;
    size_t scratch_cap;
    unsigned trust;       /* SMTP_SERVER_TRUST_* */
    unsigned ext_allowed; /* settings.extensions: what smtp_server_set_extensions may offer */
    unsigned param_ext;   /* smtp_srv_param_ext of set.extensions */

    /* AUTH (server_auth.c). */
    smtp_srv_mech auth_mech; /* the kind of the exchange in progress (the AUTH phase) */
    unsigned auth_step;      /* on_sasl's step counter */
    char auth_name[24];      /* the mechanism's advertised name, NUL-terminated */
    size_t login_user_len;   /* LOGIN: the user name kept at scratch[0..) */
    smtp_server_auth cred;   /* the credentials of a pending DECISION_AUTH (spans into scratch) */
    unsigned auth_failures;  /* failed exchanges, for auth_attempt_limit */
    int authenticated;
    int identity_given; /* smtp_server_auth_accept named the identity of the pending decision */
    char identity[SMTP_SERVER_MAX_IDENTITY + 1];
    smtp_span xclient_login; /* XCLIENT LOGIN of a pending DECISION_XCLIENT (into scratch) */
    smtp_span xclient_addr;  /* ADDR and PORT of a pending DECISION_XCLIENT (into scratch) */
    smtp_span xclient_port;
    unsigned xclient_has; /* of those, SMTP_SERVER_XATTR_ADDR and _PORT when sent */

    /* The built-in mechanisms (server_sasl.c). */
    smtp_crypto crypto;          /* settings.crypto's copy (settings.crypto points here) */
    size_t auth_head;            /* responses are decoded at scratch + auth_head */
    union {                      /* the request of the pending decision (spans into scratch) */
        smtp_server_token token; /* DECISION_TOKEN */
        smtp_server_auth_lookup lookup; /* DECISION_LOOKUP */
    } ask;
    int auth_unknown;       /* the credentials are made up: the exchange must fail */
    smtp_span cram_digest;  /* CRAM-MD5: the client's 32 hex digits (into scratch) */
    size_t scram_gs2_len;   /* the gs2 header kept at scratch + 2 * SMTP_SRV_LOGIN_USER */
    size_t scram_nonce_off; /* the combined nonce, inside the kept server-first message */
    size_t scram_nonce_len;
    /* A refusal of XOAUTH2 or OAUTHBEARER, sent once the client answered the error challenge
     * (RFC 7628 3.2.2): its code; its texts at scratch + SMTP_SRV_LOGIN_USER. */
    int refusal_code;

    /* The client's address (server_peer.c): RFC 5952 text, "" while unknown. */
    char client_addr[SMTP_IP_TEXT_MAX];
    uint16_t client_port;

    /* PROXY header (server_proxy.c). */
    unsigned char proxy_buf[SMTP_SRV_PROXY_BUF];
    size_t proxy_len;    /* octets held in proxy_buf */
    size_t proxy_need;   /* v2: octets of header and address block to hold */
    uint32_t proxy_skip; /* v2: octets of TLVs (or a LOCAL block) still to drop */

    /* RFC 2920 synchronization (SMTP_SERVER_STRICT_PIPELINING). */
    uint64_t out_total;   /* octets ever queued */
    uint64_t out_written; /* octets ever pulled by smtp_server_write */
    uint64_t sync_end;    /* out_total at the end of the last reply the client must wait for */
    int sync_owed;        /* such a reply is owed but not queued yet (a decision pending) */
    int sync_early;       /* input was offered while that decision was pending */
    /* The envelope (server_envelope.c, SMTP_SERVER_ENVELOPE): the copies of the accepted
     * addresses, followed by the copy of the one being decided (ask_path_len octets of path,
     * ask_params_len of parameters, at env + env_len). */
    char *env;
    size_t env_len, env_cap;
    size_t ask_path_len, ask_params_len;
    size_t env_tail; /* the end of the copies: the addresses being decided follow env_len */
    struct smtp_srv_env_item *env_items;
    smtp_server_address *env_addrs; /* after env_items, in its allocation */
    size_t env_nitems, env_items_cap;
    /* 2 * SMTP_MAX_DOMAIN octets once a hello was read: the accepted hello's name (helo_len
     * octets), then the one being decided (helo_ask_len). */
    char *helo_name;
    size_t helo_len, helo_ask_len;
};

/* Is a transaction open: MAIL accepted, and its message not ended (RFC 5321 3.3)? */
static inline int smtp_srv_in_transaction(const smtp_server *srv)
{
    switch (srv->phase) {
    case SMTP_SRV_MAIL:
    case SMTP_SRV_RCPTS:
    case SMTP_SRV_MESSAGE: return 1;
    default: return 0;
    }
}

/*
 * Past the soft error limit, each command is read only once the replies before it were
 * written: its own reply is then the only one the adapter holds (smtp_server_output_delay).
 */
static inline int smtp_srv_slowed_down(const smtp_server *srv)
{
    unsigned soft = srv->set.soft_error_limit;
    return srv->out_delay || (soft && srv->errors >= soft && srv->out_len);
}

/* ---- server.c ---- */

/* Runs a callback result through the convention: < 0 fails the session (returns -1). */
int smtp_srv_cb_result(smtp_server *srv, int r);
/* Forgets the transaction; reports on_reset (open transaction) or on_message_abort. */
int smtp_srv_reset_transaction(smtp_server *srv, smtp_server_abort_reason why);
/* Clears the transaction without callbacks; `accepted`: a message was taken. */
void smtp_srv_clear_transaction(smtp_server *srv, int accepted);
/* Marks the session failed with `err` (sticky); returns err. */
int smtp_srv_fail(smtp_server *srv, int err);
/* Allocates the decoding buffer if it is not yet; 0, or -1 with the session failed (NOMEM). */
int smtp_srv_scratch(smtp_server *srv);

/* Ends a callback call of SMTP_SRV_CALL: returns its result `r`. */
static inline int smtp_srv_returned(smtp_server *srv, int r)
{
    srv->in_callback--;
    return r;
}

/*
 * SMTP_SRV_CALL evaluates to the result of callback `name` (0 when the application left it
 * NULL), called with the session first and user_data last while srv->in_callback counts it, so
 * that no API call from inside changes state reentrantly. SMTP_SRV_CALL0: for a callback with
 * no argument of its own. `srv` is evaluated more than once.
 */
#define SMTP_SRV_CALL(srv, name, ...)                                                              \
    ((srv)->cb.name                                                                                \
         ? smtp_srv_returned((srv), ((srv)->in_callback++,                                         \
                                     (srv)->cb.name((srv), __VA_ARGS__, (srv)->user_data)))        \
         : 0)
#define SMTP_SRV_CALL0(srv, name)                                                                  \
    ((srv)->cb.name ? smtp_srv_returned(                                                           \
                          (srv), ((srv)->in_callback++, (srv)->cb.name((srv), (srv)->user_data)))  \
                    : 0)

/*
 * SMTP_SRV_ASK asks the application for decision `kind` (SMTP_SRV_DECISION_*) through its
 * policy callback `name`: the decision is pending from now until it is answered, by
 * smtp_server_reply (during the callback or later) or by the callback's result
 * (smtp_srv_decided: 0 accepts, DEFER waits). Evaluates to smtp_srv_decided's result. A
 * command read ahead (srv->spec) asks into its slot instead: smtp_srv_ask and smtp_srv_decided
 * choose, so that each call site has the callback's call once. SMTP_SRV_ASK0: for a callback
 * with no argument of its own.
 */
#define SMTP_SRV_ASK(srv, kind, name, ...)                                                         \
    (smtp_srv_ask((srv), (kind)), smtp_srv_decided((srv), SMTP_SRV_CALL(srv, name, __VA_ARGS__)))
#define SMTP_SRV_ASK0(srv, kind, name)                                                             \
    (smtp_srv_ask((srv), (kind)), smtp_srv_decided((srv), SMTP_SRV_CALL0(srv, name)))

/* The slot a command read ahead asks into (server_pipe.c): a new id; its callback runs next. */
void smtp_srv_spec_ask(smtp_server *srv, smtp_srv_decision kind);

/* Makes decision `kind` the pending one, with a new id, before its callback runs; a command
 * read ahead (srv->spec) asks into its slot instead. */
static inline void smtp_srv_ask(smtp_server *srv, smtp_srv_decision kind)
{
    if (srv->spec) {
        smtp_srv_spec_ask(srv, kind);
        return;
    }
    srv->decision = kind;
    srv->answered = 0;
    srv->decision_id = ++srv->last_id;
}

/* The current command or response requires the client to wait for its reply (RFC 2920). */
void smtp_srv_sync_begin(smtp_server *srv);
/* Once no decision is pending (and no BDAT chunk is being read), records where the reply
 * the client must wait for ends. */
void smtp_srv_sync_settle(smtp_server *srv);
/* Starts the greeting decision (on_connect). */
int smtp_srv_greet(smtp_server *srv);
/*
 * After a decision answered outside the callbacks: carries on with what needs no more input
 * (an empty BDAT chunk completes), as the adapter may have none to feed. Returns 0 or the
 * session's fatal error.
 */
int smtp_srv_resume(smtp_server *srv);
/* What on_command and on_sasl_response return to the command parser after an event. */
int smtp_srv_parser_result(smtp_server *srv);

/* ---- server.c: what an accepted decision does to the session ---- */

/* The greeting was given; `refused`: it was a refusal (554 or 421). */
void smtp_srv_greeted(smtp_server *srv, int refused);
/* HELO/EHLO/LHLO (srv->decision_verb) was accepted. */
void smtp_srv_helo_accepted(smtp_server *srv);
/* MAIL was accepted: the transaction begins. */
void smtp_srv_mail_accepted(smtp_server *srv);
/* RCPT was accepted: one more recipient. */
void smtp_srv_rcpt_accepted(smtp_server *srv);
/* The parameter extensions (SMTP_PARAM_EXT_*) that settings.extensions `e` allow, before those
 * that depend on the session (REQUIRETLS, AUTH): kept in srv->param_ext. */
unsigned smtp_srv_param_ext(unsigned e);
/* The RCPT command (a RCPT read ahead too: srv->spec). */
int smtp_srv_cmd_rcpt(smtp_server *srv, const smtp_cmd *cmd);
/*
 * The reply a RCPT gets from the session's state before its path and parameters are read
 * (no transaction, inside BDAT, too many recipients counting `pending` more), or 0 when there
 * is none; *enhanced and *text are static.
 */
int smtp_srv_rcpt_refusal(const smtp_server *srv, size_t pending, const char **enhanced,
                          const char **text);

/* ---- server_envelope.c (SMTP_SERVER_ENVELOPE; each a no-op without it) ---- */
/*
 * Copies what the envelope needs of a HELO/EHLO/LHLO, MAIL or RCPT about to be decided: its
 * name, or its path and parameters (a MAIL starts a new envelope). Its spans borrow the
 * caller's input, gone once smtp_server_read returns, and the decision may come later. 0, or
 * -1 with the session failed (NOMEM).
 */
int smtp_srv_env_ask(smtp_server *srv, const smtp_cmd *cmd);
/* The hello asked was accepted: its name becomes smtp_server_helo's. */
void smtp_srv_env_helo(smtp_server *srv);
/* The MAIL or RCPT asked was accepted: its address joins the envelope. */
void smtp_srv_env_add(smtp_server *srv);
/* The MAIL or RCPT asked was refused: its copy is dropped (those of the commands read ahead
 * after it move down). */
void smtp_srv_env_drop(smtp_server *srv);
/* Points msg->sender and msg->rcpts at the envelope (valid until the next MAIL). */
void smtp_srv_env_fill(smtp_server *srv, smtp_server_message *msg);
/* Allocates the buffers at their largest (SMTP_SERVER_PREALLOCATE). */
int smtp_srv_env_reserve(smtp_server *srv);
size_t smtp_srv_env_memory(const smtp_server *srv);
void smtp_srv_env_free(smtp_server *srv);

/* ---- server_out.c ---- */

/*
 * Appends raw bytes to the output queue, growing it when needed; SMTP_ERR_NOBUF when they do
 * not fit in max_output, SMTP_ERR_NOMEM (the session then failed) when it cannot grow. Past
 * the soft error limit the output is to be held (srv->out_delay).
 */
int smtp_srv_out(smtp_server *srv, const char *p, size_t n);
/* Free octets in the output queue (up to max_output). */
static inline size_t smtp_srv_out_room(const smtp_server *srv)
{
    return srv->set.max_output - srv->out_len;
}
/*
 * Queues one reply line of text[0..len); `enhanced` is dropped without ENHANCEDSTATUSCODES,
 * NULL for none. Counts nothing and closes nothing. Errors are the emitter's or smtp_srv_out's.
 */
int smtp_srv_queue_line(smtp_server *srv, int code, const char *enhanced, const char *text,
                        size_t len);
/* The replies every message gets, formatted once (smtp_srv_queue_fixed). */
typedef enum smtp_srv_fixed {
    SMTP_SRV_FIXED_MAIL,   /* 250 2.1.0 Ok: MAIL accepted by default */
    SMTP_SRV_FIXED_RCPT,   /* 250 2.1.5 Ok: RCPT accepted by default */
    SMTP_SRV_FIXED_DATA,   /* 354 End data with <CR><LF>.<CR><LF> */
    SMTP_SRV_FIXED_QUEUED, /* 250 2.0.0 Ok: queued: a message accepted by default */
} smtp_srv_fixed;
/* Queues a fixed reply line, as smtp_srv_queue_line would format it, without formatting it. */
int smtp_srv_queue_fixed(smtp_server *srv, smtp_srv_fixed which);
/* After a queued 4xx/5xx: counts it; at the hard error limit a 421 follows (Postfix's rule). */
int smtp_srv_count_error(smtp_server *srv, int code);
/*
 * Queues one reply of the engine's own (not a decision). `enhanced` is dropped without
 * ENHANCEDSTATUSCODES; NULL for none. A 4xx/5xx reply counts as an error; at the hard limit a
 * 421 follows and the session closes. A 421 closes the session. Returns 0, or the session's
 * error: a reply that cannot be queued fails the session.
 */
int smtp_srv_queue_reply(smtp_server *srv, int code, const char *enhanced, const char *text);
/* Queues "CODE <hostname> text" (greeting and 421 lines carry the server's name). */
int smtp_srv_queue_host_reply(smtp_server *srv, int code, const char *enhanced, const char *text);
/* Does "CODE <hostname> text" with `len` octets of text and no enhanced code fit in a reply
 * line (512 octets with CRLF, RFC 5321 4.5.3.1.5)? */
int smtp_srv_host_reply_fits(const smtp_server *srv, size_t len);
/*
 * Formats the reply to a refused BDAT (or a refused message) and keeps it, `copies` times
 * owed, until smtp_srv_release_held queues it: after the chunk was read (RFC 3030 2).
 * Errors are the emitter's.
 */
int smtp_srv_hold_reply(smtp_server *srv, int code, const char *enhanced, const char *text,
                        size_t len, size_t copies);
/*
 * Queues the copies of the held reply owed, if any: the first now, the others as room allows
 * (LMTP), and counts the reply once as an error reply.
 */
int smtp_srv_release_held(smtp_server *srv);
/* Queues an LMTP reply line and keeps it for the copies owed to later recipients (lmtp_fill);
 * a 2xx marks the message taken (lmtp_ok). */
int smtp_srv_queue_lmtp_line(smtp_server *srv, int code, const char *enhanced, const char *text,
                             size_t len);
/* Queues LMTP reply copies still owed (after a write made room); once all are queued, the
 * message has ended. */
int smtp_srv_lmtp_fill(smtp_server *srv);

/* ---- server_ehlo.c ---- */

/* Queues the 250 reply to EHLO/LHLO with the configured capabilities. */
int smtp_srv_queue_ehlo(smtp_server *srv);
/* Measures the largest EHLO reply the settings can produce (for smtp_server_new). */
smtp_ssize smtp_srv_ehlo_size(const smtp_server *srv);

/* ---- server_decide.c ---- */

/* Calls a policy callback's result handling: default acceptance or deferral (a command read
 * ahead: smtp_srv_spec_decided). */
int smtp_srv_decided(smtp_server *srv, int r);
/* Applies a decision (code 0: default acceptance). */
int smtp_srv_apply(smtp_server *srv, int code, const char *enhanced, const char *text, size_t len);
/* Checks an answer to decision `kind` as smtp_srv_apply does, the room for its reply aside. */
int smtp_srv_check_answer(const smtp_server *srv, smtp_srv_decision kind, int code,
                          const char *enhanced, const char *text, size_t len);
/* Applies the answer kept for a command read ahead (its decision's kind), checked already;
 * errors are fatal (0, or the session's error). */
int smtp_srv_apply_kept(smtp_server *srv, const smtp_srv_slot *slot);
/* Is `code` an acceptance for decision `kind` (0: the default acceptance)? */
int smtp_srv_accepts(smtp_srv_decision kind, int code);
/* Checks a reply's text: at most SMTP_SRV_MAX_TEXT octets, no control but TAB and, with
 * `relay`, LF between at most SMTP_SERVER_MAX_RELAY_LINES lines. Returns 0,
 * SMTP_ERR_INVALID_ARGUMENT (too long, too many lines, NULL with a length) or
 * SMTP_ERR_UNSAFE_ARGUMENT (a control). */
int smtp_srv_check_text(const char *text, size_t len, int relay);

/* ---- server_pipe.c ---- */

/* Sizes the ring (max_pending slots, when above 1) at smtp_server_new; allocates it there
 * with SMTP_SERVER_PREALLOCATE only. */
int smtp_srv_pipe_new(smtp_server *srv);
/* Allocates the ring if it is not yet: 0 or SMTP_ERR_NOMEM. */
int smtp_srv_pipe_ring(smtp_server *srv);
void smtp_srv_pipe_free(smtp_server *srv);
/* May the read loop let in the command at p[0..n) while a decision is pending? 1: the parser
 * reads it (as a command read ahead), 0: stop. */
int smtp_srv_pipe_admit(smtp_server *srv, const char *p, size_t n);
/* Is the pipeline open: could a command be read ahead now (the input aside)? */
int smtp_srv_pipe_open(const smtp_server *srv);
/* Reads a command let in by smtp_srv_pipe_admit: asks its decision early into a slot. */
int smtp_srv_pipe_dispatch(smtp_server *srv, const smtp_cmd *cmd);
/* Judges, in command order, the commands read ahead whose turn came; the first one still
 * unanswered becomes the pending decision. 0, or the session's fatal error. */
int smtp_srv_pipe_flush(smtp_server *srv);
/* The session ends (`why`) or closes: the commands read ahead are dropped unanswered (an
 * on_data_start accepted early gets its on_message_abort). 0, or -1 with the session failed. */
int smtp_srv_pipe_drop(smtp_server *srv, smtp_server_abort_reason why);
/* An answer to decision `id` read ahead and not yet the pending one: checked, then kept. */
int smtp_srv_pipe_answer(smtp_server *srv, uint64_t id, int code, const char *enhanced,
                         const char *text, size_t len);
/* An answer to the pending decision asked early: kept in its slot, then flushed. */
int smtp_srv_pipe_answer_head(smtp_server *srv, int code, const char *enhanced, const char *text,
                              size_t len);
/* A policy callback of a command read ahead returned `r`: the default answer kept, or DEFER. */
int smtp_srv_spec_decided(smtp_server *srv, int r);
/* An engine reply to the command read ahead (a faulty RCPT): kept in its slot. */
void smtp_srv_spec_reply(smtp_server *srv, int code, const char *enhanced, const char *text);
/* How many RCPT decisions are pending (recipients that may yet be accepted). */
size_t smtp_srv_pending_rcpts(const smtp_server *srv);
/* May the chunk of the BDAT read ahead be delivered now (SMTP_SERVER_CHUNK_AHEAD)? */
int smtp_srv_ahead_open(const smtp_server *srv);
/* Delivers octets of that chunk from data[0..len) to on_data; the octets consumed, or -1. */
smtp_ssize smtp_srv_ahead_read(smtp_server *srv, const char *data, size_t len);
/* The BDAT read ahead in its slot, or the pending BDAT decision: its chunk's size and LAST. */
int smtp_srv_pipe_chunk(const smtp_server *srv, uint64_t *size, int *last);

/* ---- server_data.c ---- */

/* Consumes DATA content or BDAT payload; returns bytes consumed or a negative error. */
smtp_ssize smtp_srv_data_read(smtp_server *srv, const char *data, size_t len);
/*
 * A read paused by on_data before it consumed a byte: in DATA content, takes `byte` (the next
 * input byte) for the decoder to read first at the next read, and returns 1 (it counts as
 * consumed); else returns 0.
 */
int smtp_srv_take_carry(smtp_server *srv, char byte);
/* DATA and BDAT commands. */
int smtp_srv_cmd_data(smtp_server *srv);
int smtp_srv_cmd_bdat(smtp_server *srv, const smtp_cmd *cmd);
/* A DATA or BDAT read ahead (server_pipe.c) judged at its turn: the state's refusal, else the
 * answer to its on_data_start asked early (asked now if it was not). */
int smtp_srv_data_commit(smtp_server *srv, const smtp_srv_slot *slot);
int smtp_srv_bdat_commit(smtp_server *srv, const smtp_srv_slot *slot);
/* After DECISION_DATA/DECISION_BDAT was accepted: start reading the content (`bdat`: a chunk). */
int smtp_srv_data_begin(smtp_server *srv, int bdat);
/* DECISION_BDAT was refused: the transaction fails; the reply waits for the chunk (but a 421). */
int smtp_srv_bdat_refused(smtp_server *srv, int code, const char *enhanced, const char *text,
                          size_t len);
/* Reads the next `size` payload octets and drops them; then the held reply is queued. */
void smtp_srv_skip_chunk(smtp_server *srv, uint64_t size);
/* A BDAT that is not LAST was refused: the BDATs pipelined after it get the held reply too;
 * `rcpts`: the recipients the failed transaction had accepted. */
void smtp_srv_chunks_failed(smtp_server *srv, size_t rcpts);
/* The end of a message: asks on_message_end. */
int smtp_srv_message_end(smtp_server *srv);

/* ---- server_auth.c ---- */

/* The room for the AUTH mechanisms offered (settings.auth_mechanisms: 400 octets at most). */
#define SMTP_SRV_AUTH_LIST 401
/* Writes the mechanisms offered on this connection (EXTERNAL needs TLS), space separated and
 * NUL-terminated, to out[0..cap); returns their length. */
size_t smtp_srv_auth_list(const smtp_server *srv, char *out, size_t cap);
/* Is AUTH offered on this connection (extension on, TLS or the plaintext flag, a mechanism)? */
int smtp_srv_auth_offered(const smtp_server *srv);
/* Checks the AUTH settings and callbacks for smtp_server_new (1: valid). */
int smtp_srv_auth_settings_ok(const smtp_server_settings *s, const smtp_server_callbacks *cb);
/* The AUTH command. */
int smtp_srv_cmd_auth(smtp_server *srv, const smtp_cmd *cmd);
/* A SASL response line (the command parser's on_sasl_response). */
int smtp_srv_sasl_response(smtp_server *srv, const smtp_sasl_response *resp);
/* An AUTH decision was accepted: the identity is set, the exchange ends. */
void smtp_srv_auth_success(smtp_server *srv);
/* An AUTH exchange failed (its reply queued): counts it, 421 at auth_attempt_limit. */
int smtp_srv_auth_failed(smtp_server *srv);
/* Forgets the authentication (TLS handshake, XCLIENT). */
void smtp_srv_auth_reset(smtp_server *srv);
/* Decodes MAIL's AUTH= value for on_mail (RFC 4954 5) into *out; 0, or -1 (NOMEM, fatal). */
int smtp_srv_mail_auth(smtp_server *srv, const smtp_mail_params *params, smtp_span *out);
/* Copies an identity (already checked) and marks the session authenticated. */
void smtp_srv_set_identity(smtp_server *srv, const char *p, size_t n);
/* Queues an exchange's refusal (a reply of the engine's own) and counts the failure; 0, or -1
 * with the session failed. */
int smtp_srv_auth_refuse(smtp_server *srv, int code, const char *enhanced, const char *text);
/* Queues "334 " and the base64 of data[0..len), then reads a SASL response; 0, or -1 with the
 * session failed. */
int smtp_srv_auth_send(smtp_server *srv, const char *data, size_t len);
/* Queues "235 2.7.0 Authentication successful": the exchange succeeded (cred's identity). */
int smtp_srv_auth_succeed(smtp_server *srv);
/* RFC 4616 2: an identity is UTF-8 of at most 255 octets, here without control bytes. */
int smtp_srv_identity_ok(const char *p, size_t n, int may_be_empty);

/* ---- server_sasl.c: CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, EXTERNAL ---- */

/* AUTH of a built-in mechanism (srv->auth_mech): its initial response, if any. */
int smtp_srv_sasl_begin(smtp_server *srv, int has_ir, smtp_span response);
/* A response of the client to a built-in mechanism's challenge, decoded. */
int smtp_srv_sasl_next(smtp_server *srv, smtp_span response);
/* DECISION_LOOKUP's default: the user is unknown, the exchange goes on to fail. */
int smtp_srv_sasl_unknown(smtp_server *srv);
/* A refusal of DECISION_TOKEN: 1 when it waits for the error challenge's answer (XOAUTH2,
 * OAUTHBEARER: the challenge is queued), 0 when it is to be queued now, or -1 (failed). */
int smtp_srv_sasl_refusal(smtp_server *srv, int code, const char *enhanced, const char *text,
                          size_t len);

/* ---- server_xclient.c ---- */

/* server_peer.c: the client's address from binary (len 4 or 16; another len: unknown) or
 * from text (smtp_ip_parse `flags`; 0 or SMTP_ERR_INVALID_ARGUMENT). */
void smtp_srv_set_client(smtp_server *srv, const unsigned char *addr, size_t len, unsigned port);
int smtp_srv_set_client_text(smtp_server *srv, const char *addr, size_t len, unsigned flags,
                             unsigned port);

/* XCLIENT and XFORWARD. */
int smtp_srv_cmd_xclient(smtp_server *srv, const smtp_cmd *cmd);
/* XCLIENT was accepted: the session starts over as for a new client (before the 220). */
void smtp_srv_xclient_reset(smtp_server *srv);

/* ---- server_proxy.c ---- */

/* Consumes PROXY header bytes; returns bytes consumed or a negative error. */
smtp_ssize smtp_srv_proxy_read(smtp_server *srv, const char *data, size_t len);

#endif /* SMTP_SERVER_INTERNAL_H */
