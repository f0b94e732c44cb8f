# SPDX-License-Identifier: MIT
"""Python's smtplib against smtp-sink's built-in CRAM-MD5 and SCRAM-SHA-256.

Usage: py_sasl_client.py PORT

The sink's --auth-file holds "plain:secret" (a password entry: the sink derives SCRAM
credentials from it) and "scram" with the SCRAM-SHA-256 entry of "pencil" (no password kept).
CRAM-MD5 is smtplib's own (SMTP.login picks it first); SCRAM-SHA-256, which smtplib lacks, is
the client side of RFC 5802 written here with hashlib and hmac, independently of libsmtp, and
it checks the server's signature. Each accepted login sends one message (the sink's JSON line
shows the identity); refusals must be 535, alike for a wrong password and an unknown user.
Prints the transcript (set_debuglevel) on stderr.
"""

import base64
import hashlib
import hmac
import os
import smtplib
import sys

PORT = int(sys.argv[1])


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


class Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802 3, 7; RFC 7677), as an smtplib authobject."""

    def __init__(self, user, password, authzid=""):
        self.user, self.password = user, password.encode()
        self.gs2 = "n,%s," % ("a=" + authzid if authzid else "")
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), self.nonce)
        self.step = 0
        self.verified = False

    def __call__(self, challenge=None):
        self.step += 1
        if challenge is None:  # the initial response: client-first-message
            return self.gs2 + self.first_bare
        text = challenge.decode()
        if self.step == 2:  # server-first-message: r=..,s=..,i=..
            attrs = dict(kv.split("=", 1) for kv in text.split(","))
            check(attrs["r"].startswith(self.nonce) and len(attrs["r"]) > len(self.nonce),
                  "the server's nonce does not extend ours")
            salt, iterations = base64.b64decode(attrs["s"]), int(attrs["i"])
            check(iterations >= 4096, "fewer than 4096 iterations")
            salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, iterations)
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            without_proof = "c=%s,r=%s" % (base64.b64encode(self.gs2.encode()).decode(), attrs["r"])
            auth_message = ",".join((self.first_bare, text, without_proof)).encode()
            signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
            self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
            return without_proof + ",p=" + base64.b64encode(proof).decode()
        # server-final-message: v=ServerSignature, then the empty response.
        check(text.startswith("v="), "no server signature: " + text)
        check(base64.b64decode(text[2:]) == self.server_signature, "a wrong server signature")
        self.verified = True
        return ""


def session():
    s = smtplib.SMTP("127.0.0.1", PORT, local_hostname="py.example", timeout=20)
    s.set_debuglevel(1)
    s.ehlo()
    mechs = s.esmtp_features.get("auth", "").split()
    check("SCRAM-SHA-256" in mechs and "CRAM-MD5" in mechs, "offered: %r" % mechs)
    return s


def send(s, user):
    s.sendmail("a@example.org", ["b@example.org"], b"Subject: %s\r\n\r\nx\r\n" % user.encode())
    s.quit()


def refused(login):
    s = session()
    try:
        login(s)
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, "refused with %d" % e.smtp_code)
        check(b"5.7.8" in e.smtp_error, "no 5.7.8: %r" % e.smtp_error)
        s.quit()
        return
    check(False, "a login that must fail passed")


# CRAM-MD5: smtplib's login prefers it when offered.
s = session()
code, _ = s.login("plain", "secret")
check(code == 235, "CRAM-MD5 login")
send(s, "plain")

def cram(s, user, password):
    """AUTH CRAM-MD5 alone (SMTP.login would go on to PLAIN after a refusal)."""
    s.user, s.password = user, password
    return s.auth("CRAM-MD5", s.auth_cram_md5)


refused(lambda s: cram(s, "plain", "wrong"))
refused(lambda s: cram(s, "nobody", "secret"))
refused(lambda s: cram(s, "scram", "pencil"))  # a SCRAM entry has no password for CRAM-MD5

# SCRAM-SHA-256 for the SCRAM entry and for the password entry, the server proving itself.
for user, password in (("scram", "pencil"), ("plain", "secret")):
    s = session()
    a = Scram(user, password)
    code, _ = s.auth("SCRAM-SHA-256", a)
    check(code == 235 and a.verified, "SCRAM-SHA-256 login of " + user)
    send(s, user)
# An authzid other than the user is refused; a wrong password and an unknown user alike.
refused(lambda s: s.auth("SCRAM-SHA-256", Scram("scram", "pencil", authzid="root")))
refused(lambda s: s.auth("SCRAM-SHA-256", Scram("scram", "pencil2")))
refused(lambda s: s.auth("SCRAM-SHA-256", Scram("nobody", "pencil")))
print("ok")
