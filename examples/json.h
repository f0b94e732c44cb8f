/*
 * JSON output for smtp-sink's one line per accepted message (RFC 8259).
 */
#ifndef EX_JSON_H
#define EX_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * ex_json_string writes `len` arbitrary bytes at `s` to `out` as a JSON string with its
 * quotes. Valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) is copied;
 * '"', '\\' and control bytes are escaped (RFC 8259 7); every byte that is not part of valid
 * UTF-8 is written as the code point of the same value ("\u00ff" for 0xFF), so the output is
 * always valid JSON in valid UTF-8, whatever a client sent.
 */
void ex_json_string(FILE *out, const char *s, size_t len);

/* ex_utf8_seq returns the length (1-4) of the valid UTF-8 sequence at s[0..len), or 0. */
size_t ex_utf8_seq(const unsigned char *s, size_t len);

#endif /* EX_JSON_H */
