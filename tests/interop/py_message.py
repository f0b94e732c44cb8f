# SPDX-License-Identifier: MIT
"""Writes the interop tests' standard message to the file named by the first argument.

CRLF line ends, lines that need dot-stuffing (".", "..", ".leading dot", ". "), 8-bit bytes
(UTF-8 and an invalid \\xff), a tab, an empty body line and a 900-octet line: what a server
stores must be these bytes exactly (a client may add only what its own documentation says).
"""

import sys

MESSAGE = (
    b"From: a@example.org\r\n"
    b"To: b@example.org\r\n"
    b"Subject: interop\r\n"
    b"\r\n"
    b".\r\n"
    b"..\r\n"
    b".leading dot\r\n"
    b"\r\n"
    b"caf\xc3\xa9 \xff\t end\r\n"
    + b"long-line-" * 90
    + b"\r\n"
    b". \r\n"
    b"last line\r\n"
)

with open(sys.argv[1], "wb") as f:
    f.write(MESSAGE)
