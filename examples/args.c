/* SPDX-License-Identifier: MIT */
/*
 * Strict command-line value parsing (args.h). Numbers are parsed by hand rather than with
 * strtoul, which accepts signs, leading spaces and wraps "-1" to ULONG_MAX. An endpoint is
 * split on its last colon unless the host is bracketed, the way URLs write IPv6 (RFC 3986
 * 3.2.2).
 */
#include "args.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int ex_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    if (arg == NULL || *arg == '\0') return -1;
    uint64_t v = 0;
    for (const char *p = arg; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int copy_part(const char *s, size_t len, char *dst, size_t cap)
{
    if (len >= cap) return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

/* A host name or address: no empty part, no byte outside printable ASCII, no space. */
static int host_ok(const char *s, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

int ex_parse_endpoint(const char *arg, const char *default_port, int allow_port0, char *host,
                      size_t host_cap, char *port, size_t port_cap, const char **why)
{
    const char *h = arg, *p = NULL;
    size_t hlen;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL) return *why = "missing ']' after an IPv6 address", -1;
        h = arg + 1;
        hlen = (size_t)(close - h);
        if (memchr(h, ':', hlen) == NULL) return *why = "brackets hold an IPv6 address", -1;
        if (close[1] == ':')
            p = close + 2;
        else if (close[1] != '\0')
            return *why = "expected ':PORT' after ']'", -1;
    } else {
        const char *colon = strchr(arg, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            hlen = strlen(arg); /* a bare IPv6 address: no port */
        } else {
            hlen = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
            if (colon != NULL) p = colon + 1;
        }
    }
    if (!host_ok(h, hlen)) return *why = "empty or malformed host", -1;
    if (copy_part(h, hlen, host, host_cap) != 0) return *why = "host name too long", -1;
    if (p == NULL) p = default_port;
    uint64_t n;
    if (ex_parse_u64(p, allow_port0 ? 0 : 1, 65535, &n) != 0)
        return *why = allow_port0 ? "the port must be a number from 0 to 65535"
                                  : "the port must be a number from 1 to 65535",
               -1;
    if (port_cap < EX_PORT_MAX) return *why = "port buffer too small", -1;
    snprintf(port, port_cap, "%u", (unsigned)n); /* "0025" becomes "25" */
    return 0;
}

void ex_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    exit(EX_USAGE);
}

void ex_stop_on_signals(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
