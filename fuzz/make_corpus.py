#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
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


def opt_str(options, key):
    m = re.search(r"(?:^|\s)%s=(\S*)" % re.escape(key), options)
    return m.group(1) if m else None


# Decision tables of fuzz_server (bytes 8-15): every decision accepted, and a mix of
# refusals, deferrals and 421s.
SERVER_TABLES = [bytes(8), bytes([0, 5, 0, 3, 1, 4, 6, 2]), bytes([0x5] * 8)]


def server_header(o, seed, table, prealloc):
    b2 = 0
    for bit, word in enumerate(["lmtp", "tls", "auth-plaintext", "keep-injection", "proxy", "strict"]):
        if has(o, word):
            b2 |= 1 << bit
    b2 |= (1 if has(o, "normalize") else 2 if has(o, "allow") else 0) << 6
    ext = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x80  # the server's default extensions
    if has(o, "starttls"):
        ext |= 0x100
    if has(o, "auth"):
        ext |= 0x200
    for word, bit in [("no-pipelining", 0x1), ("no-esc", 0x80), ("no-chunking", 0x10), ("no-size", 0x2)]:
        if has(o, word):
            ext &= ~bit
    if has(o, "binarymime"):
        ext |= 0x20
    if has(o, "all-ext"):
        ext = 0x3FFF
    b5 = (1 if has(o, "lenient-lf") else 0) | (4 if has(o, "no-brackets") else 0) | (8 if has(o, "empty-helo") else 0)
    size = opt_num(o, "max-size", None)
    if size is not None:
        b5 |= (3 if size == 0 else 1 if size <= 100 else 2 if size <= 5000 else 0) << 4
    errors = opt_num(o, "errors", None)
    if errors is not None:
        b5 |= {3: 1, 0: 2, 1: 3}.get(errors, 0) << 6
    b6 = 1 if has(o, "timeout") else 2 if has(o, "shutdown") else 0
    if opt_num(o, "out", 16384) < 16384:
        b6 |= 4
    if has(o, "trust-xclient") or has(o, "trust-late"):
        b6 |= 0x10
    if has(o, "trust-xforward") or has(o, "trust-late"):
        b6 |= 0x20
    if has(o, "sasl-mechs"):
        b6 |= 0x40
    if opt_num(o, "max-rcpt", 1000) == 100:
        b6 |= 0x80
    if has(o, "defer"):
        table = bytes([0x5] * 8)
    pause = 0xFF if has(o, "pause-data") else 0
    b7 = min(opt_num(o, "fail", 0), 127) | (0x80 if prealloc else 0)
    # byte 17: max_pending (pipeline=N, rounded down to the harness's steps), the answers'
    # order (order=DIGITS other than oldest first: a seed from the digits)
    steps = [1, 2, 3, 4, 8, 16, 64, 1024]
    pending = opt_num(o, "pipeline", 1)
    b17 = max(i for i, n in enumerate(steps) if n <= pending)
    order = opt_str(o, "order")
    if order and order not in ("1234", "12", "123"):
        b17 |= (sum(order.encode()) % 15 + 1) << 3
    if pending > 1 and re.search(r"(?:^|\s)defer-", o):
        table = bytes([0x5] * 8)
    # SMTP_SERVER_CHUNK_AHEAD: bytes 0 and 1 differ in bit 1 (the seeds used here have it clear)
    b1 = 2 if has(o, "ahead") else 0
    return bytes([seed, b1, b2, ext & 0xFF, ext >> 8, b5, b6, b7]) + table + bytes([pause, b17])


def client_header(o, seed):
    b2 = 1 if has(o, "lmtp") else 0
    if not has(o, "nopipe"):
        b2 |= 2
    if not has(o, "nochunk"):
        b2 |= 4
    tls = opt_str(o, "tls")
    b2 |= (1 if tls == "opp" else 2 if tls == "req" else 0) << 3
    if has(o, "implicit_tls"):
        b2 |= 0x20
    if opt_str(o, "user") is not None:
        b2 |= 0x40
    if has(o, "plainauth"):
        b2 |= 0x80
    mech = opt_str(o, "mech")
    b3 = {"PLAIN": 1, "LOGIN": 2, "XOAUTH2": 3, "OAUTHBEARER": 4}.get(mech, 5 if opt_str(o, "token") else 0)
    if opt_num(o, "replytext", 4096) < 4096 or opt_num(o, "out", 16384) < 16384:
        b3 |= 8
    if len(re.findall(r"(?:^|\s)from=", o)) > 1:
        b3 |= 0x10
    if not has(o, "noquit"):
        b3 |= 0x20
    if has(o, "tls_fail"):
        b3 |= 0x40
    b4 = 0
    for bit, words in enumerate([["8bit"], [], ["ret", "envid", "notify"], ["size"], ["requiretls"],
                                 ["prio"], ["by"], ["aon"]]):
        if any(has(o, w) or opt_str(o, w) is not None for w in words):
            b4 |= 1 << bit
    frm = opt_str(o, "from") or ""
    if "\\x" in frm:
        b4 |= 2
    nto = max(1, min(4, len(re.findall(r"(?:^|\s)to=", o))))
    b5 = (nto - 1) | (seed & 0x3F) << 2
    b7 = (1 if has(o, "reqdsn") else 0) | (2 if opt_str(o, "holdfor") else 0) | (4 if has(o, "binary") else 0)
    b6 = 0x80 if opt_str(o, "cmd") is not None else 0  # the application's commands
    if opt_str(o, "xclient") is not None or opt_str(o, "xforward") is not None:
        b6 = 0xC0  # smtp_client_xclient: XCLIENT, then XFORWARD
    b1 = (0x80 if has(o, "tls_unverified") else 0) | (0x40 if has(o, "external") else 0)
    return bytes([seed, b1, b2, b3, b4, b5, b6, b7])


def client_stream(o, data):
    """The server's bytes with the harness's "[TLS]" marker where the vector's tls_at is."""
    at = opt_num(o, "tls_at", None)
    if at is None or at > len(data):
        return data
    return data[:at] + b"[TLS]" + data[at:]


def envelope_seeds():
    """Hand-made envelopes for fuzz_envelope (layout at the top of fuzz/fuzz_envelope.c)."""
    every = 0x7F  # PIPELINING CHUNKING 8BITMIME SMTPUTF8 DSN BINARYMIME SIZE
    cases = [
        (bytes([every, 0x3B, 0, 0, 0, 1]), [b"a@example.org", b"", b"b@example.net"], b"hello\r\n"),
        (bytes([every, 0x1B, 0, 0, 0, 2]), [b"a@example.org", b"", b"b@example.net"], b".\r\n..\r\n.x"),
        (bytes([0x01, 0x10, 0, 0, 0, 3]), [b"a@example.org", b"", b"b@example.net"], b"bare\nlf\rcr\r\n.\r\n"),
        (bytes([every, 0x3F, 0x02, 0x43, 7, 4]), [b"", b"", b"b@example.net", b"c@example.net"], b"8bit \xe9\r\n"),
        (bytes([every, 0x3F, 0x03, 0x00, 0, 5]), [b"a@example.org", b"", b"b@example.net"], b"\x00\r\n.\r\n\rbin\n\xff"),
        (bytes([every, 0x3F, 0xF4, 0xFE, 9, 6]), [b"a@example.org", b"id+1=x y", b"b@example.net\x01o+r=@x.y",
                                                 b"Postmaster", b"c@[192.0.2.1]", b"\"q t\"@example.net"], b"dsn\r\n"),
        (bytes([every, 0x3F, 0, 0, 0, 7]), [b"s\xc3\xa9@b\xc3\xbccher.example", b"", b"\xc3\xbc@example.net\x01\xc3\xbc@x.y"], b"utf8\r\n"),
        (bytes([0x80 | every, 0x3F, 0, 1, 0, 8]), [b"a@example.org", b"", b"b@example.net", b"c@example.net"], b"lmtp\r\n"),
        (bytes([every, 0xFF, 0, 0, 0, 9]), [b"a@example.org", b"", b"b@example.net"], b"x" * 1200 + b"\r\n" + b".\r\n" * 20),
        (bytes([0, 0, 0, 0, 0, 10]), [b"a@example.org", b"", b"b@example.net"], b""),
        (bytes([every, 0x04, 0x10, 0, 0, 11]), [b"a@example.org", b"", b"b@example.net"], b"requiretls\r\n"),
        (bytes([every, 0x3F, 0, 0, 0, 12]), [b"a\r\n@example.org", b"", b"b@example.net"], b"unsafe\r\n"),
        (bytes([every, 0x3F, 0, 0, 0, 13]), [b"a@" + b"x" * 300 + b".org", b"", b"b@example.net"], b"long\r\n"),
    ]
    return [h + b"\0".join(fields) + b"\0" + body for h, fields, body in cases]


E2E = os.path.join(ROOT, "tests", "e2e")
FAULT_KINDS = {"reply": b"r", "disconnect": b"d", "delay": b"w"}


def faults_seeds():
    """fuzz_faults (layout at the top of fuzz/fuzz_faults.c): the --reply, --disconnect and
    --delay specs of each smtp-sink command line of the end-to-end tests (tests/e2e/*.sh), the
    rules of one line together, then two connections that meet every decision point."""
    spec = re.compile(r"--(reply|disconnect|delay)[ =](?:'([^']*)'|\"([^\"]*)\"|([^\s'\"]+))")
    seeds = []
    for name in sorted(os.listdir(E2E)):
        if not name.endswith(".sh"):
            continue
        with open(os.path.join(E2E, name), encoding="utf-8") as f:
            lines = f.read().replace("\\\n", " ").splitlines()
        for line in lines:
            rules = [FAULT_KINDS[m.group(1)] + "".join(g for g in m.groups()[1:] if g).encode()
                     for m in spec.finditer(line)]
            if rules:
                seeds.append(b"\n".join(rules) + b"\n@CHMRRRD.VMRD.HMRD.\n@CHMRD.V")
    return [bytes([0x40, flags]) + s for s in seeds for flags in (0, 1)]


def dane_seeds():
    """fuzz_dane (layout at the top of fuzz/fuzz_dane.c): the cases of tests/tls/test_tls_dane.c
    as records naming the certificates of the test PKI."""
    def rec(usage, selector, mtype, src=0, raw=None):
        return bytes([usage, selector, mtype, src]) + (bytes([len(raw)]) + raw if raw is not None else b"")
    ee = [rec(3, s, m) for s in (0, 1) for m in (0, 1, 2)]
    cases = [
        # DANE-EE, every selector and matching type; an expired leaf and another name pass
        ([0, 0, 0, 6, 0, 200], ee[k:k + 1]) for k in range(6)
    ] + [
        ([4, 0, 0, 10, 0, 200], [rec(3, 1, 1)]),
        ([0, 0, 0, 6, 0, 200], [rec(3, 1, 1, 0x44)]),  # one octet changed: a mismatch
        # DANE-TA: the root, the intermediate, by certificate or key, names and wildcards
        ([1, 0, 0, 1, 0, 255], [rec(2, 0, 1, 2)]),
        ([1, 3, 1, 10, 0, 255], [rec(2, 1, 1, 1)]),
        ([2, 2, 0, 10, 0, 255], [rec(2, 1, 2, 1)]),
        ([1, 5, 0, 10, 0, 255], [rec(2, 0, 0, 1)]),  # *.pool.dane.test is one label only
        ([1, 4, 0, 10, 0, 255], [rec(2, 0, 1, 1)]),  # nor the parent
        ([1, 0, 0, 10, 0, 255], [rec(2, 0, 1, 1)]),  # a wrong name
        ([3, 0, 0, 1, 0, 255], [rec(2, 1, 1, 1), rec(2, 0, 1, 2)]),  # the expired intermediate
        ([4, 0, 0, 6, 0, 255], [rec(2, 0, 1, 1)]),  # the expired leaf
        ([5, 8, 0, 0, 0, 255], [rec(2, 0, 1, 1)]),  # CN when no dNSName
        ([7, 9, 0, 0, 0, 255], [rec(2, 1, 1, 1)]),  # CN without subjectAltName
        ([6, 6, 0, 0, 0, 255], [rec(2, 0, 1, 1)]),  # an intermediate that signed nothing here
        ([0, 6, 7, 0, 0, 40], [rec(2, 0, 1, 0)]),  # the anchor not sent (the leaf itself)
        # unusable records: PKIX, unknown parameters, digests of the wrong length, no data
        ([0, 6, 0, 0, 0, 255], [rec(0, 0, 1), rec(1, 1, 1), rec(3, 2, 1), rec(3, 0, 3),
                                rec(3, 0, 1, 0x20), rec(3, 0, 0, 0x80, b"")]),
        # the failure that got furthest, then a match after it
        ([1, 10, 0, 1, 0, 255], [rec(3, 1, 1, 0x80, bytes(32)), rec(2, 0, 1, 2), rec(2, 1, 1, 1),
                                 rec(3, 0, 2)]),
        # no chain checked; no memory
        ([0, 6, 0, 0, 2, 255], [rec(3, 1, 1)]),
        ([0, 6, 0, 0, 2, 255], [rec(0, 1, 1)]),
        ([0, 6, 0, 0, 1, 255], [rec(3, 1, 1)]),
        # names from the input, refused names, short texts
        ([1, 15, 0, 0, 0, 30], [rec(2, 0, 1, 1)]),
        ([0, 11, 0, 0, 0, 255], [rec(3, 1, 1)]),
        ([0, 13, 0, 0, 0, 255], [rec(3, 1, 1)]),
        ([0, 0, 0, 0, 0, 255], [rec(3, 1, 1)]),
        ([0, 6, 12, 0, 0, 1], [rec(3, 1, 1)]),
    ]
    out = []
    for header, recs in cases:
        extra = b"\x0dmx.dane.test." if header[1] == 15 else b""
        out.append(bytes(header) + extra + b"".join(recs))
    return out


def txn_seeds():
    """fuzz_txn (layout at the top of fuzz/fuzz_txn.c): the incremental transactions of
    tests/test_client.c and of smtp-proxy's relaying, as scripts of calls and deliveries."""
    MAIL, RCPT, DATA, DATA_AS, RSET, NOOP, ALL, ONE, BODY, END, QUIT, CLOSE = range(12)
    hello = [ALL, ALL]  # the greeting, then the hello's reply
    body = [BODY, 5] + list(b"hello") + [BODY, 7] + list(b"\r\n.dot\n") + [END]
    cases = [
        # flags, reply choices, script
        (0x06, [], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, QUIT, ALL]),
        (0x00, [], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA] + [ALL] * 6 + [QUIT, ALL]),
        (0x0B, [], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL] + body + [ALL, ALL, QUIT, ALL]),
        (0x02, [], hello + [MAIL, 0, RCPT, 0, RSET, ALL, MAIL, 5, RCPT, 1, DATA_AS, 1] + [ONE] * 5 + [QUIT, ALL]),
        # refusals: MAIL, some recipients, every recipient (a 354 all the same: an empty message)
        (0x02, [0, 0, 4], hello + [MAIL, 0, RCPT, 0, RCPT, 1, ALL, ALL, QUIT, ALL]),
        (0x02, [0, 0, 0, 2, 0, 4], hello + [MAIL, 0, RCPT, 0, RCPT, 1, RCPT, 2, DATA, ALL, ALL, QUIT, ALL]),
        (0x02, [0, 0, 0, 2, 4, 0], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, QUIT, ALL]),
        (0x06, [0, 0, 0, 2, 4], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, QUIT, ALL]),
        (0x02, [0, 0, 0, 0, 3, 0], hello + [MAIL, 0, RCPT, 0, DATA, ALL, ALL, MAIL, 0, RCPT, 2, DATA, ALL, ALL, QUIT, ALL]),
        # 421 in the middle; the server closes; QUIT in a transaction
        (0x02, [0, 0, 0, 6], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, QUIT, ALL]),
        (0x02, [], hello + [MAIL, 0, RCPT, 0, ONE, CLOSE]),
        (0x02, [], hello + [MAIL, 0, RCPT, 0, QUIT, ALL, ALL]),
        # LMTP with DATA and with BDAT, a refusal after the data
        (0x03, [0, 0, 0, 0, 0, 0, 0, 3], hello + [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, ALL, QUIT, ALL]),
        (0x07, [0, 0, 0, 0, 0, 2], hello + [MAIL, 0, RCPT, 0, RCPT, 1, RCPT, 5, DATA, ALL, ALL, QUIT, ALL]),
        # DATA asked for with CHUNKING; BDAT asked for without; NOOP between; multi-line replies
        (0x06, [0x80, 0x80, 0x80, 0x81], hello + [MAIL, 0, RCPT, 0, DATA_AS, 1, ALL, ALL, NOOP, ALL, QUIT, ALL]),
        (0x02, [], hello + [NOOP, ALL, MAIL, 0, RCPT, 0, DATA_AS, 2, ALL, ALL, QUIT, ALL]),
        # the whole transaction before the greeting; a body source in a BDAT flight
        (0x86, [], [MAIL, 0, RCPT, 0, RCPT, 1, DATA, ALL, ALL, ALL, QUIT, ALL]),
        (0x4E, [], hello + [MAIL, 0, RCPT, 0, DATA, ALL] + body + [ALL, ALL, QUIT, ALL]),
        # UTF-8 without SMTPUTF8, refused arguments, all-or-nothing
        (0x02, [], hello + [MAIL, 2, MAIL, 3, MAIL, 0x40, RCPT, 3, RCPT, 4, DATA, ALL, ALL, QUIT, ALL]),
        (0x12, [0, 0, 0, 2], hello + [MAIL, 0x80, RCPT, 0, RCPT, 1, DATA, ALL, ALL, QUIT, ALL]),
    ]
    out = []
    for n, (flags, choices, script) in enumerate(cases):
        out.append(bytes([n * 37 & 0xFF, flags, len(choices)] + choices + script))
    return out


def proxy_seeds():
    """fuzz_proxy (layout at the top of fuzz/fuzz_proxy.c): the sessions of tests/e2e/proxy.sh
    as scripts of the client's commands and upstream's replies."""
    (HELLO, MAIL, RCPT, DATA, BDAT, RSET, NOOP, VRFY, RAW, QUIT, FLUSH, ALL, ONE, UP_CLOSE,
     DOWN_CLOSE, HELP) = range(16)
    up = [ALL, ALL]  # upstream's greeting and hello: the client's greeting follows
    body = list(b"Subject: x\n\n.dot\nhello")

    def data(content):
        return [DATA, len(content)] + list(content)

    def bdat(last, content):
        return [BDAT, 0x80 if last else 0, len(content)] + list(content)
    every = 0x3F
    cases = [
        # caps, upstream's reply choices, script
        (every, [], up + [HELLO, 0, FLUSH, MAIL, 0, RCPT, 2, RCPT, 3] + data(body) + [FLUSH, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x31, [], up + [HELLO, 0, MAIL, 0, RCPT, 2, RCPT, 3] + bdat(0, b"abcde") + bdat(1, b"xyz") + [FLUSH, ALL, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        (every, [], up + [HELLO, 0, MAIL, 0, RCPT, 2] + bdat(1, b"one chunk") + [FLUSH, ALL, ALL, MAIL, 3, RCPT, 2] + data(b"two") + [FLUSH, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        # refusals upstream: a recipient, MAIL, DATA, the end of data, a BDAT chunk
        (0x30, [0, 0, 4, 0], up + [HELLO, 0, MAIL, 0, RCPT, 2, RCPT, 3] + data(b"abc") + [FLUSH, ONE, ONE, ONE, ONE, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x33, [0, 0, 4], up + [HELLO, 0, MAIL, 0, RCPT, 2, RCPT, 3, FLUSH, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x33, [0, 0, 0, 0, 3], up + [HELLO, 0, MAIL, 0, RCPT, 2] + data(b"abc") + [FLUSH, ALL, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x33, [0, 0, 0, 0, 0, 3], up + [HELLO, 0, MAIL, 0, RCPT, 2] + data(b"abc") + [FLUSH, ALL, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x33, [0, 0, 0, 0, 3], up + [HELLO, 0, MAIL, 0, RCPT, 2] + bdat(0, b"x" * 40) + bdat(0, b"y" * 40) + bdat(1, b"z") + [FLUSH, ALL, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        # RSET in a transaction, then VRFY and HELP relayed; NOOP answered by the proxy
        (0x31, [], up + [HELLO, 0, MAIL, 0, RCPT, 2, RSET, VRFY, 2, HELP, NOOP, FLUSH, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        # upstream lost: 421 to MAIL, closed mid-message, closed before its greeting
        (0x31, [0, 0, 5], up + [HELLO, 0, MAIL, 0, RCPT, 2, FLUSH, ALL, ALL, MAIL, 0, FLUSH, ALL]),
        (0x33, [], up + [HELLO, 0, MAIL, 0, RCPT, 2] + bdat(0, b"part") + [FLUSH, ALL, UP_CLOSE] + bdat(1, b"rest") + [FLUSH, ALL]),
        (0x33, [], [UP_CLOSE, HELLO, 0, FLUSH]),
        # the client goes away mid-message; a raw line; a refused path; 8-bit and UTF-8
        (0x33, [], up + [HELLO, 0, MAIL, 0, RCPT, 2] + bdat(0, b"part") + [FLUSH, ALL, DOWN_CLOSE, ALL]),
        (0x33, [], up + [HELLO, 0, RAW, 4] + list(b"XYZZ") + [MAIL, 0x06, RCPT, 5, MAIL, 0x18, RCPT, 1, FLUSH, ALL, ALL, QUIT, FLUSH]),
        (0x37, [], up + [HELLO, 0, MAIL, 0x1D, RCPT, 0x85] + data(b"caf\xc3\xa9") + [FLUSH, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        # a pipelined group of many recipients (the proxy's recipient table grows)
        (0x33, [], up + [HELLO, 0, MAIL, 0] + [RCPT, 2, RCPT, 3] * 10 + data(b"many") + [FLUSH, ALL, ALL, ALL, QUIT, FLUSH, ALL]),
        (0x30, [], up + [HELLO, 0, MAIL, 0] + [RCPT, 2, RCPT, 3] * 10 + data(b"many") + [FLUSH] + [ONE] * 24 + [QUIT, FLUSH, ALL]),
    ]
    return [bytes([n * 29 & 0xFF, caps, len(ch)] + ch + script) for n, (caps, ch, script) in enumerate(cases)]


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
    if runner == "server":
        seeds = [("server", server_header(options, s, t, p) + data)
                 for s, t, p in ((0x00, SERVER_TABLES[0], True), (0x35, SERVER_TABLES[1], False))]
        if has(options, "builtin"):  # the built-in SASL mechanisms: fuzz_sasl's flags byte
            flags = (has(options, "defer-lookup") | has(options, "defer-token") << 1
                     | has(options, "tls") << 2 | (opt_num(options, "max-auth-line", 0) == 512) << 3)
            seeds.append(("sasl", bytes([flags, 0x07]) + data))
        return seeds
    if runner == "client":
        if opt_str(options, "proxy") is not None:
            return []  # fuzz_client has no header bit for smtp_client_proxy_header
        return [("client", client_header(options, s) + client_stream(options, data)) for s in (0x00, 0x6B)]
    if runner == "mtasts":
        # no header: the whole input is the policy and, split at its first SP, pattern and host
        return [("mtasts", data)]
    return []  # reply has its own hand-made corpus


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
    for n, blob in enumerate(faults_seeds()):
        out.setdefault("faults", {})["vec-faults-%03d" % n] = blob
    for n, blob in enumerate(dane_seeds()):
        out.setdefault("dane", {})["vec-dane-%03d" % n] = blob
    for n, blob in enumerate(txn_seeds()):
        out.setdefault("txn", {})["vec-txn-%03d" % n] = blob
    for n, blob in enumerate(proxy_seeds()):
        out.setdefault("proxy", {})["vec-proxy-%03d" % n] = blob
    for n, blob in enumerate(envelope_seeds()):
        out.setdefault("envelope", {})["vec-envelope-%03d" % n] = blob
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
