#!/bin/sh
# SPDX-License-Identifier: MIT
# Counts the lines of user C in a program, the measure of the README's task examples ("Send a
# message", "Receive messages": at most 25 each). A line is a statement, a declaration or a
# function's head, however clang-format wraps it: comments, blank lines, #include lines and
# lines holding only braces are not counted, and a line that does not end in ';', '{' or '}'
# continues on the next (a wrapped call, an initializer with one field a line, an `if` and the
# statement it guards). Prints "CODE PHYSICAL": that count, and the non-blank lines outside
# comments.
# Usage: example_lines.sh FILE.c
set -eu
awk '
    BEGIN { incomment = 0; logical = 0; physical = 0; open = 0 }
    {
        line = $0; out = ""
        # Strip comments (/* */ spanning lines, and //), keeping string literals intact.
        while (length(line) > 0) {
            if (incomment) {
                e = index(line, "*/")
                if (e == 0) { line = ""; break }
                line = substr(line, e + 2); incomment = 0; continue
            }
            s = index(line, "/*"); d = index(line, "//"); q = index(line, "\"")
            if (q > 0 && (s == 0 || q < s) && (d == 0 || q < d)) {
                rest = substr(line, q + 1); end = 0; i = 1
                while (i <= length(rest)) {
                    c = substr(rest, i, 1)
                    if (c == "\\") { i += 2; continue }
                    if (c == "\"") { end = i; break }
                    i++
                }
                if (end == 0) { out = out line; line = ""; break }
                out = out substr(line, 1, q + end); line = substr(rest, end + 1); continue
            }
            if (d > 0 && (s == 0 || d < s)) { out = out substr(line, 1, d - 1); line = ""; break }
            if (s > 0) { out = out substr(line, 1, s - 1); line = substr(line, s + 2); incomment = 1; continue }
            out = out line; line = ""
        }
        gsub(/^[ \t]+|[ \t]+$/, "", out)
        if (out == "") next
        physical++
        if (out ~ /^#include/) next
        if (out ~ /^[{}]+;?$/) { if (open) { logical++; open = 0 }; next }
        if (!open) open = 1
        if (out ~ /[;{}]$/) { logical++; open = 0 }
    }
    END { if (open) logical++; print logical, physical }
' "$1"
