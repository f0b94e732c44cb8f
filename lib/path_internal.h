/* SPDX-License-Identifier: MIT */
/*
 * The two ways of smtp_path_parse (lib/path.c), exposed for tests/test_path_fast.c, which shows
 * that they give the same results. Not installed; the symbols are hidden.
 */
#ifndef SMTP_PATH_INTERNAL_H
#define SMTP_PATH_INTERNAL_H

#include <smtp/path.h>

/*
 * The fast path for the common "<local@domain>": a dot-string local part of ASCII atext and a
 * domain of LDH labels, within every limit. It does not depend on the flags of
 * smtp_path_parse: such a path parses the same under each of them. Returns 1 when it filled
 * *out as smtp_path_parse_full does (every field), 0 when it left the path (and *out) to the
 * full parser. `s` may be NULL when `len` is 0; `out` must not be NULL.
 */
int smtp_path_parse_plain(const char *s, size_t len, smtp_path *out);

/* The full parser: smtp_path_parse without the fast path, with the same contract. */
int smtp_path_parse_full(const char *s, size_t len, unsigned flags, smtp_path *out);

#endif
