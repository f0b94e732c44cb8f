/* SPDX-License-Identifier: MIT */
/*
 * The server engine's reader for the HAProxy PROXY protocol header (proxy-protocol.txt,
 * versions 1 and 2), read before the greeting when SMTP_SERVER_PROXY is set.
 *
 * How it works: the first octet tells the version ('P' for the text form, CR for the binary
 * signature). Octets are checked as they arrive and held in a fixed buffer, so the header may
 * be split anywhere and nothing is allocated:
 *  - v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF, or "PROXY UNKNOWN"
 *    and anything up to CRLF; at most 107 octets with CRLF; single spaces, addresses in their
 *    canonical text forms (RFC 4291 2.2, smtp_ip_parse), ports 0-65535 without leading zeros.
 *  - v2: the 12-octet signature, version 2 with command LOCAL or PROXY, a family (UNSPEC,
 *    TCP over IPv4/IPv6, UNIX stream) and a length. The length is checked against the
 *    family's address block before any of it is read; the address block is kept and what
 *    follows it (TLVs) is skipped, never buffered. LOCAL (a health check from the proxy
 *    itself) carries no addresses: its block is skipped whatever its family says.
 * Any deviation closes the connection without a reply: the peer is not a conforming proxy,
 * and a client must never be greeted on a connection whose origin is unknown.
 */
#include "server_internal.h"

#include <string.h>

#define V1_MAX 107 /* the longest v1 line, CRLF included */
#define V2_HEAD 16

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Does p[0..n) begin with the literal `lit` (case-sensitive: the header is)? */
static int starts_with(const char *p, size_t n, const char *lit)
{
    size_t i = 0;
    for (; lit[i]; i++)
        if (i >= n || p[i] != lit[i]) return 0;
    return 1;
}

/* ---- the header ---- */

/* The header is bad: close without a reply. */
static void bad_header(smtp_server *srv)
{
    srv->closing = 1;
}

/* Reports the header and starts the greeting decision. */
static int header_done(smtp_server *srv, const smtp_server_proxy *px)
{
    /* The client the proxy speaks for; UNSPEC and LOCAL keep the socket's peer. */
    if (px->family == SMTP_SERVER_PROXY_TCP4 || px->family == SMTP_SERVER_PROXY_TCP6)
        smtp_srv_set_client(srv, (const unsigned char *)px->src_addr.ptr, px->src_addr.len,
                            px->src_port);
    else if (px->family == SMTP_SERVER_PROXY_UNIX)
        smtp_srv_set_client(srv, NULL, 0, 0);
    if (smtp_srv_cb_result(srv, SMTP_SRV_CALL(srv, on_proxy, px)) < 0) return -1;
    return smtp_srv_greet(srv);
}

/* Splits the v1 line after "PROXY " into exactly `n` words separated by single spaces. */
static int v1_words(const char *p, size_t len, smtp_span *w, size_t n)
{
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        size_t b = i;
        while (i < len && p[i] != ' ')
            i++;
        if (i == b) return 0;
        w[k] = (smtp_span){p + b, i - b};
        if (k + 1 < n) {
            if (i == len) return 0;
            i++;
        }
    }
    return i == len;
}

/* A port: 0-65535 in decimal, without leading zeros. */
static int v1_port(smtp_span w, uint16_t *port)
{
    uint64_t v;
    if (w.len > 1 && w.ptr[0] == '0') return 0;
    if (smtp_parse_uint(w.ptr, w.len, 5, 65535, &v) < 0) return 0;
    *port = (uint16_t)v;
    return 1;
}

/* The whole v1 line, CRLF excluded, is in proxy_buf. */
static int v1_line(smtp_server *srv)
{
    const char *line = (const char *)srv->proxy_buf + 6; /* after "PROXY " */
    size_t len = srv->proxy_len - 2 - 6;
    smtp_server_proxy px;
    memset(&px, 0, sizeof px);
    px.version = 1;
    /* "the receiver must ignore anything presented before the CRLF" after UNKNOWN */
    if (starts_with(line, len, "UNKNOWN") && (len == 7 || line[7] == ' '))
        return header_done(srv, &px);
    smtp_span w[5];
    unsigned char src[16], dst[16];
    if (!v1_words(line, len, w, 5)) goto bad;
    if (w[0].len == 4 && starts_with(w[0].ptr, 4, "TCP4")) {
        if (smtp_ip_parse(w[1].ptr, w[1].len, 0, src, NULL) != 4 ||
            smtp_ip_parse(w[2].ptr, w[2].len, 0, dst, NULL) != 4)
            goto bad;
        px.family = SMTP_SERVER_PROXY_TCP4;
        px.src_addr = (smtp_span){(const char *)src, 4};
        px.dst_addr = (smtp_span){(const char *)dst, 4};
    } else if (w[0].len == 4 && starts_with(w[0].ptr, 4, "TCP6")) {
        if (smtp_ip_parse(w[1].ptr, w[1].len, 0, src, NULL) != 16 ||
            smtp_ip_parse(w[2].ptr, w[2].len, 0, dst, NULL) != 16)
            goto bad;
        px.family = SMTP_SERVER_PROXY_TCP6;
        px.src_addr = (smtp_span){(const char *)src, 16};
        px.dst_addr = (smtp_span){(const char *)dst, 16};
    } else {
        goto bad;
    }
    if (!v1_port(w[3], &px.src_port) || !v1_port(w[4], &px.dst_port)) goto bad;
    return header_done(srv, &px);
bad:
    bad_header(srv);
    return 0;
}

/* Takes one v1 octet; 1 when the line is complete, 0 to go on, -1 when it is bad. */
static int v1_octet(smtp_server *srv, unsigned char c)
{
    size_t i = srv->proxy_len;
    if (i < 6 && c != (unsigned char)"PROXY "[i]) return -1;
    if (c == '\n') {
        if (i == 0 || srv->proxy_buf[i - 1] != '\r') return -1;
        srv->proxy_buf[srv->proxy_len++] = c;
        return 1;
    }
    if (i > 0 && srv->proxy_buf[i - 1] == '\r') return -1; /* CR not before LF */
    if (c != '\r' && smtp_is_ctl(c)) return -1;
    if (i + 1 >= V1_MAX) return -1; /* no room left for the LF */
    srv->proxy_buf[srv->proxy_len++] = c;
    return 0;
}

/* The v2 address block needed by the family octet; -1 for a family SMTP cannot use. */
static long v2_block(unsigned char fam)
{
    switch (fam) {
    case 0x00: return 0;   /* UNSPEC */
    case 0x11: return 12;  /* TCP over IPv4 */
    case 0x21: return 36;  /* TCP over IPv6 */
    case 0x31: return 216; /* UNIX stream */
    default: return -1;    /* datagrams, unknown families and protocols */
    }
}

/* The fixed 16-octet v2 header is complete: check the length before reading the block. */
static int v2_head(smtp_server *srv)
{
    const unsigned char *h = srv->proxy_buf;
    int local = (h[12] & 0x0f) == 0;
    uint32_t len = (uint32_t)h[14] << 8 | h[15];
    long block = local ? 0 : v2_block(h[13]);
    if (block < 0 || len < (uint32_t)block) return -1;
    srv->proxy_need = V2_HEAD + (size_t)block;
    srv->proxy_skip = len - (uint32_t)block;
    return 0;
}

static int v2_done(smtp_server *srv)
{
    const unsigned char *h = srv->proxy_buf;
    smtp_server_proxy px;
    memset(&px, 0, sizeof px);
    px.version = 2;
    px.local = (h[12] & 0x0f) == 0;
    size_t alen = 0;
    if (!px.local && h[13] == 0x11) px.family = SMTP_SERVER_PROXY_TCP4, alen = 4;
    if (!px.local && h[13] == 0x21) px.family = SMTP_SERVER_PROXY_TCP6, alen = 16;
    if (!px.local && h[13] == 0x31) px.family = SMTP_SERVER_PROXY_UNIX, alen = 108;
    if (alen) {
        const char *b = (const char *)h + V2_HEAD;
        px.src_addr = (smtp_span){b, alen};
        px.dst_addr = (smtp_span){b + alen, alen};
        if (px.family != SMTP_SERVER_PROXY_UNIX) {
            const unsigned char *p = h + V2_HEAD + 2 * alen;
            px.src_port = (uint16_t)(p[0] << 8 | p[1]);
            px.dst_port = (uint16_t)(p[2] << 8 | p[3]);
        }
    }
    return header_done(srv, &px);
}

/* Takes one v2 octet of the header or address block; 1 when both are in, -1 when bad. */
static int v2_octet(smtp_server *srv, unsigned char c)
{
    size_t i = srv->proxy_len;
    if (i < sizeof v2_sig && c != v2_sig[i]) return -1;
    /* Version 2 (high nibble), command LOCAL (0) or PROXY (1). */
    if (i == 12 && c != 0x20 && c != 0x21) return -1;
    srv->proxy_buf[srv->proxy_len++] = c;
    if (srv->proxy_len == V2_HEAD && v2_head(srv) < 0) return -1;
    return srv->proxy_len >= V2_HEAD && srv->proxy_len == srv->proxy_need;
}

smtp_ssize smtp_srv_proxy_read(smtp_server *srv, const char *data, size_t len)
{
    size_t i = 0;
    int v2 = srv->proxy_len > 0 && srv->proxy_buf[0] == '\r';
    int complete = srv->proxy_len >= V2_HEAD && srv->proxy_len == srv->proxy_need;
    while (i < len && !complete) {
        unsigned char c = (unsigned char)data[i++];
        if (srv->proxy_len == 0) v2 = c == '\r';
        int r = v2 ? v2_octet(srv, c) : v1_octet(srv, c);
        if (r < 0) {
            bad_header(srv);
            return (smtp_ssize)i;
        }
        if (r && !v2) return v1_line(srv) < 0 ? -1 : (smtp_ssize)i;
        complete = r;
    }
    if (!complete) return (smtp_ssize)i;
    /* v2: drop the TLVs (or the LOCAL block) without holding them. */
    size_t n = len - i < srv->proxy_skip ? len - i : srv->proxy_skip;
    srv->proxy_skip -= (uint32_t)n;
    i += n;
    if (srv->proxy_skip == 0 && v2_done(srv) < 0) return -1;
    return (smtp_ssize)i;
}
