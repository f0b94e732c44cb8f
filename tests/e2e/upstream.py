#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scripted upstream SMTP server for smtp-proxy's end-to-end tests (tests/e2e/proxy.sh).

Usage: upstream.py PORTFILE LOGFILE [MODE...]
Listens on 127.0.0.1 with a port the kernel chooses (written to PORTFILE), serves connections
one after the other until killed (by its PID), and logs to LOGFILE:
  "R <repr>"     each recv() as it came (so a test sees which commands came in one flight),
  "STORED <n>"   a message received whole (n content octets), after its CRLF.CRLF,
  "CLOSED"       the end of a connection.
Its replies are deliberately its own (multi-line ones included), so that a test can check
that the proxy relays them as they are. Recipients whose local part starts with "bad" are
refused with a two-line 550.
MODEs: bytewise (each reply sent one octet per packet: the anti-virus proxy or UTM case),
kill-data (the connection is cut once the first octets of the data arrived: nothing stored),
xclient, xforward (offer them), proxy (expect a PROXY v1 header first), slow (a 4 KiB receive
buffer, and 2 s without reading at the start of the data), small (SIZE 500000, else 10000000),
chunking (offer CHUNKING: BDAT's chunks are counted, a message stored at LAST; a BDAT in a
transaction without an accepted recipient gets 554 once its chunk was read, RFC 3030 2),
late354 (1 s before the 354), data250 (a broken server's 250 to DATA instead of its 354).
"""
import socket
import sys
import time

EHLO = [
    "250-up.example Hello, pleased to meet you",
    "250-PIPELINING",
    "250-SIZE %d",
    "250-8BITMIME",
    "250-ENHANCEDSTATUSCODES",
]


def main():
    portfile, logfile, modes = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    log = open(logfile, "a", buffering=1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os

    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = srv.accept()
        if "slow" in modes:  # a small window, read slowly: the proxy's side fills up
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.settimeout(30)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            serve(conn, log, modes)
        except (OSError, ValueError) as e:
            log.write("ERROR %s\n" % e)
        conn.close()
        log.write("CLOSED\n")


def send(conn, modes, lines):
    data = "".join(line + "\r\n" for line in lines).encode()
    if "bytewise" in modes:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(0.002)
    else:
        conn.sendall(data)


def data_end(conn, log, modes, buf):
    """The data's end in buf: the message stored and accepted; returns (rest, still in data)."""
    end = buf.find(b"\r\n.\r\n")
    if end < 0:
        return buf, True
    if "small" in modes and end + 2 > 500000:
        send(conn, modes, ["552 5.3.4 Message size exceeds fixed maximum message size (fake)"])
        return buf[end + 5 :], False
    log.write("STORED %d\n" % (end + 2))
    send(conn, modes, ["250-2.0.0 Message accepted for delivery", "250 2.0.0 queue id FAKE123"])
    return buf[end + 5 :], False


class Chunk:
    """The BDAT being read: octets left, LAST, the message's octets so far, recipients."""

    def __init__(self):
        self.left = None
        self.last = False
        self.total = 0
        self.rcpts = 0


def chunk_read(conn, log, modes, buf, c):
    """Consumes the chunk's octets in buf; once all came, replies. Returns the rest of buf."""
    n = min(len(buf), c.left)
    c.left -= n
    c.total += n
    buf = buf[n:]
    if c.left:
        return buf
    c.left = None
    if c.rcpts == 0:
        send(conn, modes, ["554 5.5.1 No valid recipients (fake)"])
    elif c.last:
        log.write("STORED %d\n" % c.total)
        send(conn, modes, ["250 2.0.0 queue id FAKE456 (fake, BDAT)"])
    else:
        send(conn, modes, ["250 2.0.0 %d octets (fake)" % c.total])
        return buf
    c.total = 0
    c.rcpts = 0
    return buf


def serve(conn, log, modes):
    buf = b""
    c = Chunk()
    ehlo = [line % (500000 if "small" in modes else 10000000) if "%" in line else line for line in EHLO]
    ehlo += (["250-XCLIENT ADDR PORT PROTO HELO NAME"] if "xclient" in modes else [])
    ehlo += ["250-XFORWARD ADDR PORT PROTO HELO SOURCE"] if "xforward" in modes else []
    ehlo += ["250-CHUNKING"] if "chunking" in modes else []
    ehlo += ["250 DSN"]
    greeted = "proxy" not in modes
    if greeted:
        send(conn, modes, ["220 up.example ESMTP fake upstream"])
    in_data = False
    stalled = False
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        log.write("R %r\n" % chunk)
        buf += chunk
        if in_data:
            if "slow" in modes and not stalled:
                # A stalled upstream (a content scanner at work): the proxy must hold the
                # client back meanwhile.
                time.sleep(2)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                stalled = True
            if "kill-data" in modes:
                conn.shutdown(socket.SHUT_RDWR)
                return
            buf, in_data = data_end(conn, log, modes, buf)
            if in_data:
                continue
        if c.left is not None:
            buf = chunk_read(conn, log, modes, buf, c)
        while b"\r\n" in buf and not in_data and c.left is None:
            line, buf = buf.split(b"\r\n", 1)
            cmd = line.decode("latin-1")
            verb = cmd.split(" ", 1)[0].upper()
            if not greeted:
                if not cmd.startswith("PROXY "):
                    return
                greeted = True
                send(conn, modes, ["220 up.example ESMTP fake upstream"])
            elif verb in ("EHLO", "LHLO"):
                send(conn, modes, ehlo)
            elif verb == "HELO":
                send(conn, modes, ["250 up.example"])
            elif verb == "XCLIENT":
                send(conn, modes, ["220 up.example ESMTP fake upstream, who you are noted"])
            elif verb == "XFORWARD":
                send(conn, modes, ["250 2.0.0 Ok"])
            elif verb == "MAIL":
                c.rcpts = 0
                send(conn, modes, ["250 2.1.0 Sender OK (fake)"])
            elif verb == "RCPT":
                if cmd[9:].lstrip("<").lower().startswith("bad"):
                    send(conn, modes, ["550-5.1.1 The email account that you tried to reach does",
                                       "550 5.1.1 not exist. Please check the address."])
                else:
                    c.rcpts += 1
                    send(conn, modes, ["250 2.1.5 Recipient OK (fake)"])
            elif verb == "DATA":
                if "late354" in modes:  # a round trip that takes its time
                    time.sleep(1)
                if "data250" in modes:  # a broken server: a 2xx to DATA, and no data taken
                    send(conn, modes, ["250 2.0.0 DATA taken (broken fake)"])
                    continue
                send(conn, modes, ["354 Go ahead, fake upstream; end with <CRLF>.<CRLF>"])
                in_data = True
                if "kill-data" not in modes:
                    buf, in_data = data_end(conn, log, modes, buf)
            elif verb == "BDAT" and "chunking" in modes:
                args = cmd.split()
                c.left = int(args[1])
                c.last = len(args) > 2 and args[2].upper() == "LAST"
                buf = chunk_read(conn, log, modes, buf, c)
            elif verb == "RSET":
                c.rcpts = 0
                send(conn, modes, ["250 2.0.0 Reset (fake)"])
            elif verb == "VRFY":
                send(conn, modes, ["252 2.5.2 Cannot verify, will try (fake)"])
            elif verb == "NOOP":
                send(conn, modes, ["250 2.0.0 Ok"])
            elif verb == "QUIT":
                send(conn, modes, ["221 2.0.0 Bye (fake)"])
                return
            else:
                send(conn, modes, ["502 5.5.2 Not implemented (fake)"])


if __name__ == "__main__":
    main()
