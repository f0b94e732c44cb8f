/* SPDX-License-Identifier: MIT */
/*
 * Who the client is: its address and port as the application sees them. The adapter tells
 * the socket's peer (smtp_server_set_client_address); a PROXY header (server_proxy.c) and an
 * accepted XCLIENT (server_xclient.c) replace it with the client they speak for, as Postfix's
 * smtpd does, so that policy code reads one value whichever way the client came in.
 * The address is kept as text in RFC 5952 form (smtp_ip_format), the form a log or an access
 * table expects, whatever form it arrived in.
 */
#include "server_internal.h"

#include <string.h>

void smtp_srv_set_client(smtp_server *srv, const unsigned char *addr, size_t len, unsigned port)
{
    if (len == 4 || len == 16)
        smtp_ip_format(addr, len, srv->client_addr);
    else
        srv->client_addr[0] = '\0';
    srv->client_port = (uint16_t)(srv->client_addr[0] ? port : 0);
}

int smtp_srv_set_client_text(smtp_server *srv, const char *addr, size_t len, unsigned flags,
                             unsigned port)
{
    unsigned char bin[16];
    int n = smtp_ip_parse(addr, len, flags, bin, NULL);
    if (n == 0 || port > 65535) return SMTP_ERR_INVALID_ARGUMENT;
    smtp_srv_set_client(srv, bin, (size_t)n, port);
    return 0;
}

int smtp_server_set_client_address(smtp_server *srv, const char *addr, unsigned port)
{
    if (!srv || !addr) return SMTP_ERR_INVALID_ARGUMENT;
    return smtp_srv_set_client_text(srv, addr, strlen(addr), 0, port);
}

const char *smtp_server_client_address(const smtp_server *srv, unsigned *port)
{
    if (port) *port = srv ? srv->client_port : 0;
    return srv && srv->client_addr[0] ? srv->client_addr : NULL;
}
