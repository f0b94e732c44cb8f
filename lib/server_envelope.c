/* SPDX-License-Identifier: MIT */
/*
 * The server's envelope (SMTP_SERVER_ENVELOPE): MAIL's and each accepted RCPT's path and
 * parameters, and the HELO name, kept for the commands the application accepts, so that
 * on_message_end can hand over the whole envelope (RFC 5321 3.3) and no application has to
 * collect it from on_mail and on_rcpt.
 *
 * A command's spans borrow the caller's input, which is gone once smtp_server_read returns,
 * while a deferred decision is answered later: so what the envelope needs is copied when the
 * command is read (smtp_srv_env_ask), and joins the envelope only when it is accepted. The
 * addresses being decided wait right after the envelope so far (a MAIL starts a new one), in
 * command order: the one pending first, then those of the RCPTs read ahead of their turn
 * (server_pipe.c). Decisions are judged in that order, so the one judged is always first:
 * accepted, it joins the envelope where it is; refused, its copy is dropped and those after it
 * move down (smtp_srv_env_drop), so refused addresses take no room. A hello name being decided
 * waits in the second half of the name buffer, so that a refused hello leaves the accepted
 * name as it was. Acceptance copies nothing more and cannot fail.
 *
 * The texts go back to back into one buffer; offsets are kept while collecting (the buffer
 * moves when it grows) and become spans only at the end of the message. Both buffers grow on
 * demand to the largest transaction seen and are kept until smtp_server_del, so the steady
 * state allocates nothing per message (DESIGN.md invariant 7); with SMTP_SERVER_PREALLOCATE
 * they are allocated at their largest in smtp_server_new instead.
 */
#include "server_internal.h"

#include <string.h>

/* One address of the envelope: offsets into srv->env. The items and the spans built from them
 * (env_addrs) share one allocation, so that they grow together or not at all. */
struct smtp_srv_env_item {
    size_t path_off, path_len, params_off, params_len;
};

#define ENV_ITEM_SIZE (sizeof(struct smtp_srv_env_item) + sizeof(smtp_server_address))

static int kept(const smtp_server *srv)
{
    return (srv->set.flags & SMTP_SERVER_ENVELOPE) != 0;
}

/* Room for `more` octets of text after the first `at`, and for `items` items. */
static int reserve(smtp_server *srv, size_t at, size_t more, size_t items)
{
    if (at + more > srv->env_cap) {
        size_t cap = smtp_grown_cap(srv->env_cap, at + more, 256);
        char *p = smtp_realloc(srv->mem, srv->env, cap);
        if (!p) return SMTP_ERR_NOMEM;
        srv->env = p;
        srv->env_cap = cap;
    }
    if (items > srv->env_items_cap) {
        size_t cap = smtp_grown_cap(srv->env_items_cap, items, 8);
        struct smtp_srv_env_item *it = smtp_realloc(srv->mem, srv->env_items, cap * ENV_ITEM_SIZE);
        if (!it) return SMTP_ERR_NOMEM;
        srv->env_items = it;
        srv->env_addrs = (smtp_server_address *)(void *)(it + cap);
        srv->env_items_cap = cap;
    }
    return 0;
}

/* The name buffer: the accepted hello's name, then the one being decided. */
#define HELO_BUF (2 * SMTP_MAX_DOMAIN)

static int reserve_helo(smtp_server *srv)
{
    if (!srv->helo_name) srv->helo_name = smtp_malloc(srv->mem, HELO_BUF);
    return srv->helo_name ? 0 : SMTP_ERR_NOMEM;
}

/* Copies the hello name being decided after the accepted one. */
static int ask_helo(smtp_server *srv, smtp_span domain)
{
    if (reserve_helo(srv) < 0) return smtp_srv_fail(srv, SMTP_ERR_NOMEM);
    /* The command parser refuses a longer name (RFC 5321 4.5.3.1.2). */
    srv->helo_ask_len = domain.len < SMTP_MAX_DOMAIN ? domain.len : SMTP_MAX_DOMAIN;
    if (srv->helo_ask_len) memcpy(srv->helo_name + SMTP_MAX_DOMAIN, domain.ptr, srv->helo_ask_len);
    return 0;
}

/*
 * Copies the address being decided after the envelope so far, with room for its item; a RCPT
 * read ahead (srv->spec) after those being decided before it, with room for every item they
 * may add (at most a MAIL and max_recipients RCPTs: server_pipe.c lets no more in).
 */
static int ask_address(smtp_server *srv, smtp_span path, smtp_span params)
{
    size_t at = srv->spec ? srv->env_tail : srv->env_len, items = srv->env_nitems + 1;
    if (srv->spec) {
        items += 1 + srv->ring_rcpts;
        if (items > srv->set.max_recipients + 1) items = srv->set.max_recipients + 1;
    }
    int r = reserve(srv, at, path.len + params.len, items);
    if (r < 0) return smtp_srv_fail(srv, r);
    char *p = srv->env + at;
    if (path.len) memcpy(p, path.ptr, path.len);
    if (params.len) memcpy(p + path.len, params.ptr, params.len);
    if (srv->spec) {
        srv->spec->path_len = path.len;
        srv->spec->params_len = params.len;
    } else {
        srv->ask_path_len = path.len;
        srv->ask_params_len = params.len;
    }
    srv->env_tail = at + path.len + params.len;
    return 0;
}

int smtp_srv_env_ask(smtp_server *srv, const smtp_cmd *cmd)
{
    if (!kept(srv)) return 0;
    switch (cmd->verb) {
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
    case SMTP_VERB_LHLO: return ask_helo(srv, cmd->domain);
    case SMTP_VERB_MAIL:
        srv->env_len = 0; /* a new transaction: the helo name is kept apart */
        srv->env_nitems = 0;
        break;
    default: break;
    }
    return ask_address(srv, cmd->path, cmd->params);
}

void smtp_srv_env_add(smtp_server *srv)
{
    if (!kept(srv)) return;
    struct smtp_srv_env_item *it = &srv->env_items[srv->env_nitems++];
    it->path_off = srv->env_len;
    it->path_len = srv->ask_path_len;
    it->params_off = it->path_off + it->path_len;
    it->params_len = srv->ask_params_len;
    srv->env_len = it->params_off + it->params_len;
}

void smtp_srv_env_drop(smtp_server *srv)
{
    if (!kept(srv)) return;
    size_t n = srv->ask_path_len + srv->ask_params_len, from = srv->env_len + n;
    if (srv->env_tail > from)
        memmove(srv->env + srv->env_len, srv->env + from, srv->env_tail - from);
    srv->env_tail -= n;
    srv->ask_path_len = srv->ask_params_len = 0;
}

void smtp_srv_env_helo(smtp_server *srv)
{
    if (!kept(srv)) return;
    srv->helo_len = srv->helo_ask_len;
    if (srv->helo_len) memcpy(srv->helo_name, srv->helo_name + SMTP_MAX_DOMAIN, srv->helo_len);
}

void smtp_srv_env_fill(smtp_server *srv, smtp_server_message *msg)
{
    if (!kept(srv) || srv->env_nitems == 0) return;
    for (size_t i = 0; i < srv->env_nitems; i++) {
        const struct smtp_srv_env_item *it = &srv->env_items[i];
        srv->env_addrs[i].path = (smtp_span){srv->env + it->path_off, it->path_len};
        srv->env_addrs[i].params = (smtp_span){srv->env + it->params_off, it->params_len};
    }
    msg->sender = srv->env_addrs[0];
    msg->rcpts = srv->env_addrs + 1;
}

int smtp_srv_env_reserve(smtp_server *srv)
{
    if (!kept(srv)) return 0;
    /* The largest transaction: MAIL and max_recipients RCPTs of max_line octets each. */
    size_t items = srv->set.max_recipients + 1;
    int r = reserve(srv, 0, items * srv->set.max_line, items);
    return r < 0 ? r : reserve_helo(srv);
}

size_t smtp_srv_env_memory(const smtp_server *srv)
{
    return srv->env_cap + srv->env_items_cap * ENV_ITEM_SIZE + (srv->helo_name ? HELO_BUF : 0);
}

void smtp_srv_env_free(smtp_server *srv)
{
    smtp_free(srv->mem, srv->env);
    smtp_free(srv->mem, srv->env_items); /* env_addrs with it */
    smtp_free(srv->mem, srv->helo_name);
}

smtp_span smtp_server_helo(const smtp_server *srv)
{
    smtp_span s = {NULL, 0};
    if (srv && srv->helo_name && srv->phase > SMTP_SRV_NO_HELO) {
        s.ptr = srv->helo_name;
        s.len = srv->helo_len;
    }
    return s;
}
