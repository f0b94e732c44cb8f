/* SPDX-License-Identifier: MIT */
/*
 * The line-end scanner (internal): finds the next CR or LF in a span, the one search the DATA
 * decoder and encoder make per line.
 *
 * Three ways, one answer: SSE2 on x86-64 (16 octets a compare, every x86-64 CPU has it), NEON
 * on little-endian AArch64, and a portable one (8 octets a word, then octet by octet) that
 * every other target builds and that the tests run too (smtp_scan_portable).
 */
#ifndef SMTP_SCAN_H
#define SMTP_SCAN_H

#include "internal.h"

/*
 * Nonzero: smtp_scan_eol takes the portable path even where a SIMD one is built. For the tests
 * (tests/vec.c replays the DATA vectors both ways); 0 by default. Not thread-safe to change
 * while another thread scans.
 */
extern int smtp_scan_portable;

/* Whether this build has a SIMD path (else smtp_scan_portable changes nothing). */
extern const int smtp_scan_has_simd;

/* smtp_scan_eol returns the first CR or LF in [p, end), or `end` when there is none. */
const char *smtp_scan_eol(const char *p, const char *end);

/* smtp_scan_eol0 returns the first CR, LF or NUL in [p, end), or `end` (the line framer's). */
const char *smtp_scan_eol0(const char *p, const char *end);

#endif /* SMTP_SCAN_H */
