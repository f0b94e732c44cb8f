# SPDX-License-Identifier: MIT
"""Python's smtplib to aiosmtpd, directly and through smtp-proxy: the same outcomes both ways.

Usage: py_proxy_smtplib.py DIRECT_PORT PROXY_PORT AIOSMTPD_DIR MESSAGE

aiosmtpd (py_aiosmtpd_server.py) runs with --rcpt-reply for multi@example.org (a two-line 550)
and temp@example.org (a 451). One session per port, the same calls in the same order: what
each call returns (codes, texts, the refused recipients with their replies) must be equal
through the proxy and directly, and each proxied message must reach aiosmtpd with the same
bytes, envelope and MAIL parameters as the direct one. Prints the outcomes on stdout and the
transcripts (set_debuglevel) on stderr; exits 1 with the differences.
"""

import json
import os
import smtplib
import sys

DIRECT, PROXY, AIO, MESSAGE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
MULTI = b"5.1.1 <multi@example.org>: no such user here,\n5.1.1 and this is the refusal's second line"
with open(MESSAGE, "rb") as f:
    RAW = f.read()
# Over the proxy's 256 KiB body buffer: the client's connection is paused and resumed.
BIG = b"Subject: big\r\n\r\n" + b"".join(b"%07d " % i + b"y" * 70 + b"\r\n" for i in range(8000))


def session(port):
    """The calls, against 127.0.0.1:port; returns [(what, outcome), ...] and the messages
    aiosmtpd must have taken, in order, as (bytes, recipients)."""
    out, sent = [], []
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="smtplib.example", timeout=30)
    s.set_debuglevel(1)
    out.append(("ehlo", s.ehlo()[0]))
    out.append(("8bitmime", s.has_extn("8bitmime")))
    # VRFY goes upstream and comes back as it is. aiosmtpd answers HELP with 250, which RFC
    # 5321 (4.3.2: 211, 214) does not allow: the proxy does not relay a code the command does
    # not allow, it refuses with its own 4xx (docs/smtp-proxy.1), never an acceptance. The HELP
    # replies are checked apart in main().
    out.append(("vrfy", s.verify("b@example.org")))
    help_reply = s.docmd("HELP")
    # 1. Four recipients: a two-line 550, a 451, two accepted; the message goes to those two.
    rcpts = ["b@example.org", "multi@example.org", "c@example.org", "temp@example.org"]
    refused = s.sendmail("a@example.org", rcpts, RAW, mail_options=["BODY=8BITMIME"])
    out.append(("sendmail 4 recipients", sorted(refused.items())))
    sent.append((RAW, ["b@example.org", "c@example.org"]))
    # 2. Every recipient refused: no DATA, the refusals as they are.
    try:
        s.sendmail("a@example.org", ["multi@example.org", "temp@example.org"], RAW)
        out.append(("all refused", "accepted"))
    except smtplib.SMTPRecipientsRefused as e:
        out.append(("all refused", sorted(e.recipients.items())))
    # 3. smtplib, after every recipient was refused, sent RSET; the proxy answers it at once and
    # sends its own RSET upstream; a VRFY right after that waits for that reply (it once got
    # "451 Cannot relay the command now" through the proxy, 252 directly: issue #15).
    vrfy_after_rset = s.verify("b@example.org")
    out.append(("rset", s.rset()[0]))
    out.append(("noop", s.noop()[0]))
    # 4. The next message on the same connection, then one over the proxy's body buffer.
    out.append(("sendmail again", s.sendmail("<>", ["d@example.org"], RAW)))
    sent.append((RAW, ["d@example.org"]))
    out.append(("sendmail big", s.sendmail("a@example.org", ["b@example.org"], BIG)))
    sent.append((BIG, ["b@example.org"]))
    out.append(("quit", s.quit()[0]))
    return out, sent, help_reply, vrfy_after_rset


def norm(params):
    """MAIL or RCPT parameters (a list, or a list of lists) upper-cased and sorted."""
    if params and isinstance(params[0], list):
        return [norm(p) for p in params]
    return sorted(p.upper() for p in params)


def main():
    errors = []
    direct, sent, help_d, vrfy_d = session(DIRECT)
    proxied, sent_p, help_p, vrfy_p = session(PROXY)
    print("help: directly %r, through the proxy %r" % (help_d, help_p))
    if help_d[0] != 250 or not help_d[1].startswith(b"Supported commands:"):
        errors.append("aiosmtpd's HELP reply changed: %r (update the test)" % (help_d,))
    if not 400 <= help_p[0] < 500:
        errors.append("HELP through the proxy: %r, expected the proxy's own 4xx" % (help_p,))
    for (what, d), (_, p) in zip(direct, proxied):
        print("%s: %r" % (what, p))
        if d != p:
            errors.append("%s: directly %r, through the proxy %r" % (what, d, p))
    refused = dict(dict(direct)["sendmail 4 recipients"])
    if refused.get("multi@example.org") != (550, MULTI):
        errors.append("the two-line 550 is not as aiosmtpd sent it: %r" % (refused,))
    if refused.get("temp@example.org", (0,))[0] != 451:
        errors.append("temp@example.org not deferred: %r" % (refused,))
    # aiosmtpd took the direct session's messages first, then the proxied ones.
    n = len(sent)
    for i, (content, to) in enumerate(sent + sent_p, 1):
        base = os.path.join(AIO, str(i))
        if not os.path.exists(base + ".json"):
            errors.append("aiosmtpd has no message %d" % i)
            continue
        with open(base + ".eml", "rb") as f:
            got = f.read()
        with open(base + ".json") as f:
            meta = json.load(f)
        if got != content:
            errors.append("message %d: aiosmtpd got %d octets, expected %d" % (i, len(got), len(content)))
        if meta["to"] != to:
            errors.append("message %d: recipients %r, expected %r" % (i, meta["to"], to))
        if i > n:
            with open(os.path.join(AIO, "%d.json" % (i - n))) as f:
                d = json.load(f)
            # The parameters re-encoded by the proxy: compared without regard to case and order.
            for k in ("mail_options", "rcpt_options"):
                meta[k], d[k] = norm(meta[k]), norm(d[k])
            for k in ("from", "mail_options", "rcpt_options"):
                if meta[k] != d[k]:
                    errors.append("message %d: %s %r through the proxy, %r directly" % (i, k, meta[k], d[k]))
            if meta["helo"] != "proxy.test":
                errors.append("message %d: HELO %r, not the proxy's" % (i, meta["helo"]))
    if os.path.exists(os.path.join(AIO, "%d.json" % (2 * n + 1))):
        errors.append("aiosmtpd took more than %d messages" % (2 * n))
    for e in errors:
        print("py_proxy_smtplib: " + e)
    if vrfy_p != vrfy_d:
        print("py_proxy_smtplib: VRFY right after a RSET that ended a transaction: directly %r, "
              "through the proxy %r" % (vrfy_d, vrfy_p))
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
