# SPDX-License-Identifier: MIT
"""Checks what smtp-sink stored against what the client sent.

Usage: py_sink_check.py SINK_OUT EXPECTED_DIR

SINK_OUT is smtp-sink's standard output (one JSON line per accepted message, in the order
the messages were accepted). EXPECTED_DIR holds, for the N-th message (from 1), N.eml: the
exact bytes the Maildir file must hold, and optionally N.json: an object whose every key must
equal the one in the N-th JSON line (e.g. {"to": [...], "auth": "alice", "tls": true}). The
number of lines must equal the number of N.eml files. Prints what differs; exit 1 then.
"""

import json
import os
import sys


def main():
    sink_out, exp_dir = sys.argv[1], sys.argv[2]
    with open(sink_out, "rb") as f:
        lines = [json.loads(line) for line in f.read().splitlines()]
    n = 0
    while os.path.exists(os.path.join(exp_dir, "%d.eml" % (n + 1))):
        n += 1
    errors = []
    if len(lines) != n:
        errors.append("smtp-sink accepted %d messages, expected %d" % (len(lines), n))
    for i, line in enumerate(lines[:n], 1):
        base = os.path.join(exp_dir, str(i))
        with open(base + ".eml", "rb") as f:
            expected = f.read()
        with open(line["file"], "rb") as f:
            stored = f.read()
        if stored != expected:
            at = next(
                (k for k in range(min(len(stored), len(expected))) if stored[k] != expected[k]),
                min(len(stored), len(expected)),
            )
            errors.append(
                "message %d: stored %d octets, expected %d; first difference at %d: %r vs %r"
                % (i, len(stored), len(expected), at, stored[at:at + 40], expected[at:at + 40])
            )
        if line["size"] != len(stored):
            errors.append("message %d: size %d in JSON, %d stored" % (i, line["size"], len(stored)))
        if os.path.exists(base + ".json"):
            with open(base + ".json", "rb") as f:
                want = json.load(f)
            for key, value in want.items():
                if line.get(key) != value:
                    errors.append("message %d: %s is %r, expected %r" % (i, key, line.get(key), value))
    for e in errors:
        print("py_sink_check: " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
