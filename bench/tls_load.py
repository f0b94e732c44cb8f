#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""STARTTLS sessions for part "tls" of bench/run.sh (bench/tls.sh), the same for every server.

Each session: the greeting, EHLO, STARTTLS, a full TLS handshake (no session resumption: a
new TLS session every time, no ticket kept), EHLO again over TLS. The client is Python's ssl
module (OpenSSL), not mbedTLS: OpenSSL's side of the handshake is cheap (its P-256 is
assembly), the session costs the client about 1.5 ms of CPU, mostly Python's (it prints it);
and its offer is pinned, one version, one cipher suite and one key-exchange group, so that
both servers negotiate the same (an ECDSA P-256 certificate signs, whatever each server would
otherwise prefer).

  tls_load.py handshakes HOST PORT THREADS TOTAL
      TOTAL sessions from THREADS threads, each ended by QUIT and its reply, then closed;
      prints "sessions N seconds S version V cipher C group G client_cpu_ms M" (V and C as
      the last session negotiated them, M this process's CPU time per session), exit 1 if one
      failed.
  tls_load.py --resume handshakes HOST PORT THREADS TOTAL
      The same with TLS 1.2 session tickets (RFC 5077): each thread first makes one full
      session, not counted, for a ticket; then the TOTAL sessions each offer the thread's
      latest ticket. Adds "resumed R" to the line: the sessions the server resumed (a server
      that issues no ticket, or refuses it, makes full handshakes: R below TOTAL).
  tls_load.py hold HOST PORT N PID
      N sessions, one after the other, each left open and idle after its second EHLO; prints
      "held K kib_per_connection X": the growth of process PID's resident size (VmRSS) over
      the K sessions held, half a second after the last, per session. Then closes them.

Options (before the mode): --resume (above), --group NAME (default prime256v1, OpenSSL's name of secp256r1),
--cipher OPENSSL-NAME (default ECDHE-ECDSA-AES128-GCM-SHA256). One group only (Python's ssl
sets no list): the certificate's curve, since a TLS 1.2 server signs with an ECDSA key only on a
curve the client names (RFC 8422 5.1), so X25519 alone fails. TLS 1.2: mbedTLS 2.28, Debian
12's, has no TLS 1.3 server.
The certificate is not verified: the servers' work is what is measured.
"""
import socket
import ssl
import sys
import threading
import time


class Session:
    """One STARTTLS session, blocking, with replies read whole (RFC 5321 4.2.1)."""

    def __init__(self, ctx, host, port, session=None):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.conn = self.sock
        self.buf = b""
        self.expect(b"220")
        self.command(b"EHLO load.bench.test", b"250")
        self.command(b"STARTTLS", b"220")
        self.conn = ctx.wrap_socket(self.sock, server_hostname=None, session=session)
        self.buf = b""
        self.command(b"EHLO load.bench.test", b"250")

    def expect(self, code):
        while True:
            end = self.buf.find(b"\r\n")
            if end < 0:
                data = self.conn.recv(4096)
                if not data:
                    raise OSError("connection closed by the server")
                self.buf += data
                continue
            line, self.buf = self.buf[:end], self.buf[end + 2:]
            if not line.startswith(code):
                raise OSError("unexpected reply: %r" % line)
            if line[3:4] != b"-":
                return

    def command(self, line, code):
        self.conn.sendall(line + b"\r\n")
        self.expect(code)

    def quit(self):
        self.command(b"QUIT", b"221")
        self.sock.close()


def context(group, cipher, tickets=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(cipher)
    ctx.set_ecdh_curve(group)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET  # no ticket to resume with (none is offered either)
    return ctx


def handshakes(ctx, host, port, threads, total, group, resume):
    left = [total]
    done = [0, None, None, 0]  # sessions, version, cipher, resumed
    failed = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def worker():
        ticket = None
        try:
            if resume:  # one full session for a ticket, before the clock starts
                s = Session(ctx, host, port)
                ticket = s.conn.session
                s.quit()
        except (OSError, ssl.SSLError) as e:
            with lock:
                failed.append(str(e))
        start.wait()
        while True:
            with lock:
                if left[0] == 0 or failed:
                    return
                left[0] -= 1
            try:
                s = Session(ctx, host, port, ticket)
                version, cipher = s.conn.version(), s.conn.cipher()[0]
                reused = s.conn.session_reused
                if resume:
                    ticket = s.conn.session
                s.quit()
            except (OSError, ssl.SSLError) as e:
                with lock:
                    failed.append(str(e))
                return
            with lock:
                done[0] += 1
                done[1], done[2] = version, cipher
                done[3] += 1 if reused else 0

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0, c0 = time.monotonic(), time.process_time()
    for t in pool:
        t.join()
    seconds, cpu = time.monotonic() - t0, time.process_time() - c0
    if failed:
        print("tls_load: %s" % failed[0], file=sys.stderr)
        return 1
    print("sessions %d seconds %.3f version %s cipher %s group %s client_cpu_ms %.2f%s"
          % (done[0], seconds, done[1], done[2], group, cpu * 1e3 / max(done[0], 1),
             " resumed %d" % done[3] if resume else ""))
    return 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError("no VmRSS for %d" % pid)


def hold(ctx, host, port, n, pid):
    before = rss_kib(pid)
    held = []
    try:
        for _ in range(n):
            held.append(Session(ctx, host, port))
    except (OSError, ssl.SSLError) as e:
        print("tls_load: %s after %d sessions" % (e, len(held)), file=sys.stderr)
    time.sleep(0.5)  # the server's last replies and allocations settle
    after = rss_kib(pid)
    per = "%.1f" % ((after - before) / len(held)) if held else "fail"
    print("held %d kib_per_connection %s" % (len(held), per))
    for s in held:
        s.sock.close()
    return 0 if len(held) == n else 1


def main(argv):
    group, cipher, resume = "prime256v1", "ECDHE-ECDSA-AES128-GCM-SHA256", False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--resume":
            resume = True
            argv = argv[1:]
            continue
        if argv[0] == "--group" and len(argv) > 1:
            group = argv[1]
        elif argv[0] == "--cipher" and len(argv) > 1:
            cipher = argv[1]
        else:
            break
        argv = argv[2:]
    if len(argv) != 5 or argv[0] not in ("handshakes", "hold"):
        print(__doc__, file=sys.stderr)
        return 2
    ctx = context(group, cipher, resume)
    host, port, a, b = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    if argv[0] == "handshakes":
        return handshakes(ctx, host, port, a, b, group, resume)
    return hold(ctx, host, port, a, b)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
