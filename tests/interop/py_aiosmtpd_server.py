# SPDX-License-Identifier: MIT
"""An aiosmtpd (Debian's python3-aiosmtpd) SMTP or LMTP server for the interop tests.

Listens on 127.0.0.1, a port the kernel chooses, written to --port-file once it listens.
Every message it takes is written to --dir as N.eml (the content exactly as aiosmtpd
received it, after its own dot-unstuffing) and N.json (the envelope, the MAIL and RCPT
parameters, the authenticated user and whether TLS was on). SIGTERM stops it.

Options:
  --lmtp                 aiosmtpd.lmtp.LMTP instead of SMTP
  --user NAME:PASSWORD   accept these credentials (repeatable); AUTH PLAIN and LOGIN offered
  --insecure-auth        offer AUTH without TLS (auth_require_tls=False)
  --tls CERT KEY         offer STARTTLS with this certificate
  --refuse-rcpt ADDR     answer RCPT TO:<ADDR> with 550 5.1.1 (repeatable)
  --rcpt-reply ADDR=REPLY  answer RCPT TO:<ADDR> with REPLY, the recipient not taken
                         (repeatable); a newline in REPLY separates the lines of a
                         multi-line reply ("550-5.1.1 one" NL "550 5.1.1 two")
  --rset-delay SECONDS   answer RSET that much later (a slow upstream for smtp-proxy's tests)
  --data-reply ADDR=REPLY  LMTP: the reply for ADDR after the data (default 250 2.0.0 ...);
                         a newline separates the lines of a multi-line reply
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lmtp", action="store_true")
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--insecure-auth", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--refuse-rcpt", action="append", default=[])
    ap.add_argument("--rcpt-reply", action="append", default=[])
    ap.add_argument("--data-reply", action="append", default=[])
    ap.add_argument("--rset-delay", type=float, default=0)
    a = ap.parse_args()

    users = {}
    for u in a.user:
        name, _, password = u.partition(":")
        users[name.encode()] = password.encode()
    # aiosmtpd sends a handler's reply followed by CRLF: the lines of a multi-line reply are
    # joined by CRLF.
    def replies(args):
        return {k: v.replace("\n", "\r\n") for k, v in (r.split("=", 1) for r in args)}

    rcpt_replies = replies(a.rcpt_reply)
    data_replies = replies(a.data_reply)
    count = [0]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and users.get(auth_data.login) == auth_data.password
        )
        if ok:
            session.auth_mechanism = mechanism
        # handled=False: aiosmtpd itself answers a failure (535 5.7.8); with the default
        # (True) it would leave the client waiting for a reply the handler never sends.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    class Handler:
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            return "250 2.1.0 OK"

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in a.refuse_rcpt:
                return "550 5.1.1 <%s>: no such user" % address
            if address in rcpt_replies:
                return rcpt_replies[address]
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.append(rcpt_options)
            return "250 2.1.5 OK"

        async def handle_RSET(self, server, session, envelope):
            await asyncio.sleep(a.rset_delay)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            count[0] += 1
            base = os.path.join(a.dir, str(count[0]))
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content)
            login = session.auth_data.login.decode() if session.authenticated else None
            meta = {
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "rcpt_options": envelope.rcpt_options,
                "auth": login,
                "mechanism": getattr(session, "auth_mechanism", None),
                "tls": session.ssl is not None,
                "helo": session.host_name,
            }
            with open(base + ".json.tmp", "w") as f:
                json.dump(meta, f, sort_keys=True)
            os.rename(base + ".json.tmp", base + ".json")
            if not a.lmtp:
                return "250 2.0.0 OK: queued as %d" % count[0]
            # RFC 2033 4.2: one reply per accepted recipient, in RCPT order; aiosmtpd sends
            # what handle_DATA returns followed by CRLF, so the lines are joined by CRLF.
            return "\r\n".join(
                data_replies.get(r, "250 2.0.0 <%s> delivered" % r) for r in envelope.rcpt_tos
            )

    tls_context = None
    if a.tls:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(a.tls[0], a.tls[1])

    cls = LMTP if a.lmtp else SMTP

    def factory():
        return cls(
            Handler(),
            hostname="aiosmtpd.test",
            tls_context=tls_context,
            authenticator=authenticator if users else None,
            auth_require_tls=not a.insecure_auth,
            decode_data=False,
        )

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
