# SPDX-License-Identifier: MIT
"""Python's smtplib against smtp-sink: one scenario per MODE.

Usage: py_smtplib_client.py MODE PORT EXPECTED_DIR MESSAGE [CA]

For the N-th message the sink must accept it writes EXPECTED_DIR/N.eml (the bytes the sink
must store: what smtplib sends, unstuffed) and N.json (the envelope and session fields the
sink's JSON line must show); py_sink_check.py compares them with the sink's output. Replies
that must be refusals are asserted here. Prints the transcript (set_debuglevel) on stderr.

MODE plain: sink --max-recipients 3 --max-size 5000: sendmail with bytes and with a str with
     bare LF line ends, send_message (Bcc stripped, in the envelope), SMTPUTF8 addresses,
     a fourth recipient deferred (452), SIZE over the limit refused at MAIL (552), NOOP, RSET.
MODE tls: sink with STARTTLS and --auth-file (alice:pw): starttls with the CA, login
     (PLAIN), AUTH LOGIN with and without an initial response, a wrong password (535), no
     AUTH before TLS.
MODE lmtp: sink --lmtp: smtplib.LMTP over TCP, one and two recipients.
"""

import copy
import email.generator
import email.message
import io
import json
import os
import smtplib
import ssl
import sys

MODE, PORT, OUT, MESSAGE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
CA = sys.argv[5] if len(sys.argv) > 5 else None
count = 0


def expect(content, **fields):
    """Records the next message the sink must store."""
    global count
    count += 1
    with open(os.path.join(OUT, "%d.eml" % count), "wb") as f:
        f.write(content)
    with open(os.path.join(OUT, "%d.json" % count), "w") as f:
        json.dump(fields, f)


def check(cond, what):
    if not cond:
        raise SystemExit("py_smtplib_client: " + what)


def flatten(msg, utf8=False):
    """The bytes smtplib.send_message sends for msg, as Lib/smtplib.py makes them (a copy
    without Bcc and Resent-Bcc, flattened with CRLF; the policy with utf8=True when the
    addresses need SMTPUTF8), plus the final CRLF that data() adds when it is missing."""
    msg_copy = copy.copy(msg)
    del msg_copy["Bcc"]
    del msg_copy["Resent-Bcc"]
    buf = io.BytesIO()
    if utf8:
        g = email.generator.BytesGenerator(buf, policy=msg.policy.clone(utf8=True))
    else:
        g = email.generator.BytesGenerator(buf)
    g.flatten(msg_copy, linesep="\r\n")
    data = buf.getvalue()
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def connect(cls=smtplib.SMTP, host="127.0.0.1"):
    s = cls(host, PORT, local_hostname="smtplib.example", timeout=20)
    s.set_debuglevel(1)
    return s


def plain():
    with open(MESSAGE, "rb") as f:
        raw = f.read()
    s = connect()
    check(s.ehlo()[0] == 250, "EHLO")
    check(s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("smtputf8"), "EHLO keywords")
    # 1. Bytes, sent as they are (smtplib dot-stuffs and keeps CRLF).
    check(s.sendmail("a@example.org", ["b@example.org"], raw) == {}, "sendmail bytes")
    expect(raw, **{"from": "a@example.org", "to": ["b@example.org"], "helo": "smtplib.example"})
    # 2. A str with bare LF line ends: smtplib turns each into CRLF and adds the final CRLF.
    text = "Subject: lf\n\n.dot\nline two\nno final newline"
    check(s.sendmail("a@example.org", ["c@example.org"], text) == {}, "sendmail str")
    expect(b"Subject: lf\r\n\r\n.dot\r\nline two\r\nno final newline\r\n", to=["c@example.org"])
    # 3. send_message: To, Bcc and Cc are the recipients (in that order), Bcc is not sent.
    m = email.message.EmailMessage()
    m["From"] = "Alice <a@example.org>"
    m["To"] = "Bob <b@example.org>"
    m["Cc"] = "c@example.org"
    m["Bcc"] = "hidden@example.org"
    m["Subject"] = "send_message"
    m["Message-ID"] = "<1@smtplib.example>"
    m.set_content("Hello.\n.a line with a leading dot\n")
    check(s.send_message(m) == {}, "send_message")
    expect(flatten(m), **{"from": "a@example.org",
                          "to": ["b@example.org", "hidden@example.org", "c@example.org"]})
    check(b"hidden" not in flatten(m), "Bcc in the flattened message")
    # 4. Internationalized addresses: smtplib sends SMTPUTF8 (RFC 6531) and BODY=8BITMIME.
    m = email.message.EmailMessage()
    m["From"] = "j\u00f6rg@example.org"
    m["To"] = "\u00e9l\u00e8ve@\u00e9cole.example"
    m["Subject"] = "caf\u00e9"
    m.set_content("gr\u00fc\u00dfe\n", cte="8bit")
    check(s.send_message(m) == {}, "send_message SMTPUTF8")
    expect(flatten(m, utf8=True), **{"from": "j\u00f6rg@example.org",
                                     "to": ["\u00e9l\u00e8ve@\u00e9cole.example"]})
    # 5. A fourth recipient is over the sink's --max-recipients 3: 452, the others accepted.
    rcpts = ["r1@example.org", "r2@example.org", "r3@example.org", "r4@example.org"]
    refused = s.sendmail("a@example.org", rcpts, raw)
    check(list(refused) == ["r4@example.org"] and refused["r4@example.org"][0] == 452,
          "r4 not deferred: %r" % (refused,))
    expect(raw, to=rcpts[:3])
    # 6. SIZE= over the sink's --max-size 5000: refused at MAIL (RFC 1870 6.1).
    big = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n"
    big = big * 70
    try:
        s.sendmail("a@example.org", ["b@example.org"], big)
        check(False, "a message over SIZE was accepted")
    except smtplib.SMTPSenderRefused as e:
        check(e.smtp_code == 552, "SIZE: %r" % (e,))
    check(s.noop()[0] == 250, "NOOP")
    check(s.rset()[0] == 250, "RSET")
    # 7. After those, one more message on the same connection.
    check(s.sendmail("<>", ["b@example.org"], raw) == {}, "null sender")
    expect(raw, **{"from": "", "to": ["b@example.org"]})
    check(s.quit()[0] == 221, "QUIT")


def tls():
    ctx = ssl.create_default_context(cafile=CA)
    with open(MESSAGE, "rb") as f:
        raw = f.read()
    # AUTH is offered after TLS only; the certificate is for localhost.
    s = connect(host="localhost")
    s.ehlo()
    check(not s.has_extn("auth"), "AUTH offered before TLS")
    try:
        s.login("alice", "pw")
        check(False, "login before TLS")
    except smtplib.SMTPNotSupportedError:
        pass
    check(s.starttls(context=ctx)[0] == 220, "STARTTLS")
    s.ehlo()
    check(s.has_extn("auth"), "no AUTH after TLS")
    check(s.login("alice", "pw")[0] == 235, "login")
    check(s.sendmail("a@example.org", ["b@example.org"], raw) == {}, "sendmail over TLS")
    expect(raw, to=["b@example.org"], tls=True, auth="alice")
    s.quit()
    # AUTH LOGIN with the user name as an initial response (what smtplib sends by default),
    # then without it (334 for each), and a wrong password (535 5.7.8).
    for initial in (True, False):
        s = connect(host="localhost")
        s.starttls(context=ctx)
        s.ehlo()
        s.user, s.password = "alice", "pw"
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=initial)
        check(code == 235, "AUTH LOGIN (initial response %s)" % initial)
        check(s.sendmail("a@example.org", ["b@example.org"], raw) == {}, "sendmail")
        expect(raw, tls=True, auth="alice")
        s.quit()
    s = connect(host="localhost")
    s.starttls(context=ctx)
    try:
        s.login("alice", "wrong")
        check(False, "a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, "wrong password: %r" % (e,))
    s.quit()


def lmtp():
    with open(MESSAGE, "rb") as f:
        raw = f.read()
    s = connect(cls=smtplib.LMTP)
    check(s.ehlo()[0] == 250, "LHLO")
    check(s.sendmail("a@example.org", ["b@example.org"], raw) == {}, "LMTP one recipient")
    expect(raw, to=["b@example.org"], helo="smtplib.example")
    # smtplib.LMTP reads only the first of the per-recipient replies after the data (its
    # sendmail is SMTP's); the second is read here, as RFC 2033 4.2 sends it.
    check(s.sendmail("a@example.org", ["b@example.org", "c@example.org"], raw) == {}, "LMTP two")
    code, _ = s.getreply()
    check(code == 250, "the second recipient's reply: %d" % code)
    expect(raw, to=["b@example.org", "c@example.org"])
    check(s.quit()[0] == 221, "QUIT")


{"plain": plain, "tls": tls, "lmtp": lmtp}[MODE]()
print("py_smtplib_client %s: %d messages" % (MODE, count))
