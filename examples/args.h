/* SPDX-License-Identifier: MIT */
/*
 * Strict parsing of command-line values shared by smtp-send and smtp-sink: numbers and
 * HOST[:PORT] endpoints. Every function rejects anything it does not fully understand, so a
 * typo becomes an exit status 64 (EX_USAGE) instead of a silent default.
 */
#ifndef EX_ARGS_H
#define EX_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* The longest host name or address an endpoint may hold (RFC 1035 2.3.4: 255), NUL included. */
#define EX_HOST_MAX 256
/* Room for a decimal port and its NUL. */
#define EX_PORT_MAX 6

/*
 * ex_parse_u64 parses `arg` as a decimal number in [min, max] into *out: digits only (no sign,
 * no space, no suffix, not empty). Returns 0, or -1 (with *out unchanged).
 */
int ex_parse_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *out);

/*
 * ex_parse_endpoint splits "HOST", "HOST:PORT", "[IPV6]" or "[IPV6]:PORT" into `host` (without
 * brackets) and `port` (decimal 0-65535, or `default_port` when absent; port 0 is kept only if
 * `allow_port0`, for a listener letting the kernel choose). A bare IPv6 address without
 * brackets ("::1") is accepted as a host without a port, since its colons cannot be a port
 * separator. Returns 0, or -1 with `*why` set to a static message.
 */
int ex_parse_endpoint(const char *arg, const char *default_port, int allow_port0, char *host,
                      size_t host_cap, char *port, size_t port_cap, const char **why);

/*
 * ex_usage_error prints "PROG: MESSAGE" and a pointer to --help on standard error, then exits
 * with 64 (EX_USAGE): the one way both programs refuse a command line.
 */
__attribute__((format(printf, 2, 3), noreturn)) void ex_usage_error(const char *prog,
                                                                    const char *fmt, ...);

/*
 * ex_stop_on_signals makes SIGINT and SIGTERM call `fn` (which asks the loop to stop:
 * smtp_io_loop_shutdown is async-signal-safe) and ignores SIGPIPE (a peer that closed is seen
 * as a write error): the servers' signal set-up.
 */
void ex_stop_on_signals(void (*fn)(int));

#endif /* EX_ARGS_H */
