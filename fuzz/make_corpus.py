#!/usr/bin/env python3
"""Builds the fuzz seed corpora from the protocol vectors.

Usage: fuzz/make_corpus.py [--check]

Every case of tests/vectors/<runner>/*.vec becomes one input file of the fuzz target that
covers the same entry point, in fuzz/corpus/<target>/vec-<file>-<NNN>: the case's input,
decoded from the vector notation (tests/vec.h), behind the header bytes through which that
target reads its options (see the comment at the top of each fuzz/fuzz_<target>.c), set from
the case's `options:` line. Files named vec-* are regenerated; any other file in a corpus
directory (a saved crash, a hand-written seed) is kept. Identical inputs are written once.
With --check, nothing is written: the exit status says whether the corpora are up to date.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "tests", "vectors")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "s": b" ", "\\": b"\\"}


def decode_input(lines):
    """The vector input notation: physical newlines are ignored, escapes as in tests/vec.h."""
    text = "".join(lines)
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ESCAPES:
            out += ESCAPES[nxt]
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            raise ValueError("bad escape %r" % text[i : i + 4])
    return bytes(out)


def parse_vec(path):
    """Yields (name, options, input bytes) for each case of a .vec file."""
    name, options, section, body = None, "", None, []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")

    def flush():
        if name is not None:
            return (name, options, decode_input(body))
        return None

    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith("#"):
            continue
        if line.startswith("=== "):
            case = flush()
            if case:
                yield case
            name, options, section, body = line[4:].strip(), "", None, []
        elif section is None and line.startswith("options:"):
            options = line[len("options:") :].strip()
        elif line in ("--- input", "--- events"):
            section = line[4:]
        elif section == "input":
            body.append(line)
    case = flush()
    if case:
        yield case


def opt_num(options, key, default):
    m = re.search(r"(?:^|\s)%s=(\d+)(?:\s|$)" % re.escape(key), options)
    return int(m.group(1)) if m else default


def has(options, word):
    return word in options.split()


# ---- one header per target, mirroring the layout documented in fuzz/fuzz_<target>.c ----


def command_header(o, seed):
    flags = 0
    for bit, word in enumerate(["lf", "strict-space", "no-brackets", "empty-helo", "pause", "pause-all"]):
        if has(o, word):
            flags |= 1 << bit
    flags |= min(opt_num(o, "sasl", 0), 3) << 6
    max_line = opt_num(o, "max", 512)
    auth = opt_num(o, "auth-max", 12288)
    b2 = 0x80 if max_line == 512 else min((max_line - 8) // 4, 0x7F)
    b3 = 0x80 if auth == 12288 else min((auth - 8) // 8, 0x7F)
    return bytes([seed, flags, b2, b3, min(opt_num(o, "fail", 0), 255)])


def path_header(o):
    flags = 0
    for bit, word in enumerate(["mail", "rcpt", "utf8", "lenient"]):
        if has(o, word):
            flags |= 1 << bit
    return bytes([flags])


EXTENSIONS = ["size", "8bitmime", "binarymime", "smtputf8", "dsn", "auth", "requiretls",
              "mtpriority", "deliverby", "futurerelease", "rrvs"]


def params_header(o):
    b0 = 1 if has(o, "rcpt") else 0
    if has(o, "utf8"):
        b0 |= 2
    if has(o, "claim-x"):
        b0 |= 1 << 2
    elif has(o, "cbfail"):
        b0 |= 3 << 2
    ext = 0
    for bit, word in enumerate(EXTENSIONS):
        if not has(o, "no-" + word):
            ext |= 1 << bit
    return bytes([b0, ext & 0xFF, ext >> 8])


def data_header(o, seed, encode):
    if encode:
        mode = 1 if has(o, "crlf") else 2 if has(o, "raw") else 0
        return bytes([seed, mode << 2, min(opt_num(o, "out", 0), 255)])
    policy = 1 if has(o, "normalize") else 2 if has(o, "allow") else 0
    return bytes([seed, policy, 0])


def seeds_for(runner, options, data):
    """The (target, bytes) seeds of one case."""
    if runner == "command":
        # two split patterns: tiny pieces and larger ones
        return [("command", command_header(options, s) + data) for s in (0x00, 0x47)]
    if runner == "path":
        return [("path", path_header(options) + data)]
    if runner == "params":
        return [("params", params_header(options) + data)]
    if runner == "caps":
        return [("caps", bytes([0]) + data), ("caps", bytes([1]) + data)]
    if runner == "data_decode":
        return [("data", data_header(options, s, False) + data) for s in (0x00, 0x83)]
    if runner == "data_encode":
        return [("data", data_header(options, 0x21, True) + data)]
    if runner == "codec":
        return [("codec", data)]
    return []  # reply has its own hand-made corpus; engines have none yet


def build():
    """Returns {target: {filename: bytes}}."""
    out = {}
    seen = {}
    for runner in sorted(os.listdir(VECTORS)):
        rdir = os.path.join(VECTORS, runner)
        if not os.path.isdir(rdir):
            continue
        for vec in sorted(os.listdir(rdir)):
            if not vec.endswith(".vec"):
                continue
            stem = vec[:-4]
            for n, (_, options, data) in enumerate(parse_vec(os.path.join(rdir, vec))):
                for k, (target, blob) in enumerate(seeds_for(runner, options, data)):
                    if blob in seen.setdefault(target, set()):
                        continue
                    seen[target].add(blob)
                    name = "vec-%s-%s-%03d%s" % (runner, stem, n, "" if k == 0 else chr(ord("a") + k))
                    out.setdefault(target, {})[name] = blob
    return out


def main():
    check = "--check" in sys.argv[1:]
    wanted = build()
    stale = False
    for target, files in sorted(wanted.items()):
        d = os.path.join(CORPUS, target)
        if not check:
            os.makedirs(d, exist_ok=True)
        old = {f for f in os.listdir(d) if f.startswith("vec-")} if os.path.isdir(d) else set()
        for f in sorted(old - set(files)):
            stale = True
            if not check:
                os.remove(os.path.join(d, f))
        for name, blob in files.items():
            p = os.path.join(d, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    if f.read() == blob:
                        continue
            stale = True
            if not check:
                with open(p, "wb") as f:
                    f.write(blob)
        print("%-8s %4d seeds" % (target, len(files)))
    if check and stale:
        print("fuzz corpora are out of date: run fuzz/make_corpus.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
