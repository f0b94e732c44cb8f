/* SPDX-License-Identifier: MIT */
/*
 * The server's envelope (SMTP_SERVER_ENVELOPE): MAIL's and each accepted RCPT's path and
 * parameters, and the HELO name, copied when the application accepts them, so that
 * on_message_end can hand over the whole envelope (RFC 5321 3.3) and no application has to
 * collect it from on_mail and on_rcpt.
 *
 * The command's spans are valid until its decision is answered (server.h), so the copy is
 * made then: a refused command leaves nothing. The texts go back to back into one buffer;
 * offsets are kept while collecting (the buffer moves when it grows) and become spans only at
 * the end of the message. Both buffers grow on demand to the largest transaction seen and are
 * kept until smtp_server_del, so the steady state allocates nothing per message (DESIGN.md
 * invariant 7); with SMTP_SERVER_PREALLOCATE they are allocated at their largest in
 * smtp_server_new instead.
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

/* Room for `more` octets of text and one more item. */
static int reserve(smtp_server *srv, size_t more, size_t items)
{
    if (srv->env_len + more > srv->env_cap) {
        size_t cap = smtp_grown_cap(srv->env_cap, srv->env_len + more, 256);
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

static size_t put(smtp_server *srv, smtp_span s)
{
    size_t off = srv->env_len;
    if (s.len) memcpy(srv->env + off, s.ptr, s.len);
    srv->env_len += s.len;
    return off;
}

/* Appends the address being decided (srv->ask_path, ask_params); a failure fails the session. */
static int append(smtp_server *srv)
{
    size_t n = srv->env_nitems;
    int r = reserve(srv, srv->ask_path.len + srv->ask_params.len, n + 1);
    if (r < 0) return smtp_srv_fail(srv, r);
    struct smtp_srv_env_item *it = &srv->env_items[n];
    it->path_off = put(srv, srv->ask_path);
    it->path_len = srv->ask_path.len;
    it->params_off = put(srv, srv->ask_params);
    it->params_len = srv->ask_params.len;
    srv->env_nitems = n + 1;
    return 0;
}

int smtp_srv_env_mail(smtp_server *srv)
{
    if (!kept(srv)) return 0;
    srv->env_len = 0; /* a new transaction: the helo name is kept apart */
    srv->env_nitems = 0;
    return append(srv);
}

int smtp_srv_env_rcpt(smtp_server *srv)
{
    return kept(srv) ? append(srv) : 0;
}

int smtp_srv_env_helo(smtp_server *srv, smtp_span domain)
{
    if (!kept(srv)) return 0;
    if (!srv->helo_name) {
        srv->helo_name = smtp_malloc(srv->mem, SMTP_MAX_DOMAIN);
        if (!srv->helo_name) return smtp_srv_fail(srv, SMTP_ERR_NOMEM);
    }
    /* The command parser refuses a longer name (RFC 5321 4.5.3.1.2). */
    srv->helo_len = domain.len < SMTP_MAX_DOMAIN ? domain.len : SMTP_MAX_DOMAIN;
    if (srv->helo_len) memcpy(srv->helo_name, domain.ptr, srv->helo_len);
    return 0;
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
    int r = reserve(srv, items * srv->set.max_line, items);
    if (r == 0 && !srv->helo_name) {
        srv->helo_name = smtp_malloc(srv->mem, SMTP_MAX_DOMAIN);
        if (!srv->helo_name) r = SMTP_ERR_NOMEM;
    }
    return r;
}

size_t smtp_srv_env_memory(const smtp_server *srv)
{
    return srv->env_cap + srv->env_items_cap * ENV_ITEM_SIZE +
           (srv->helo_name ? SMTP_MAX_DOMAIN : 0);
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
