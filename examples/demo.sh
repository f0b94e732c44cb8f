#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: smtp-sink on a free loopback port with a temporary Maildir, one message sent with
# smtp-send -v, then the transcript, smtp-sink's JSON line and the stored message. smtp-sink
# listens on 127.0.0.1 only, on a port the kernel chooses, and is stopped by its PID.
# Usage: demo.sh BINDIR (where smtp-send and smtp-sink were built)
set -eu
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp-demo.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/smtp-sink" --listen 127.0.0.1:0 --maildir "$tmp/Maildir" --hostname sink.example \
    >"$tmp/sink.json" 2>"$tmp/sink.log" &
pid=$!
port=
i=0
while [ -z "$port" ]; do
    port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1 port \([0-9][0-9]*\)$/\1/p' "$tmp/sink.log")
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "demo: smtp-sink did not start:" >&2
        cat "$tmp/sink.log" >&2
        exit 1
    fi
    [ -n "$port" ] || sleep 0.05
done

# A sample message; its line "." and ".signature" show dot-stuffing on the wire (RFC 5321
# 4.5.2) and their restoration in the Maildir.
printf '%s\r\n' \
    "From: Alice <alice@example.org>" \
    "To: Bob <bob@example.org>" \
    "Subject: Hello from libsmtp" \
    "Message-ID: <demo.1@example.org>" \
    "" \
    "Hi Bob," \
    "" \
    "this message went from smtp-send to smtp-sink over 127.0.0.1:$port." \
    "The next line is a single dot, and the one after starts with one:" \
    "." \
    ".signature" \
    "" \
    "Alice" >"$tmp/message.eml"

echo "== smtp-send -v: the SMTP conversation (C: client, S: server)"
"$bin/smtp-send" -v --server "127.0.0.1:$port" --helo client.example --no-chunking \
    --from alice@example.org --to bob@example.org --data "$tmp/message.eml" 2>&1
echo
echo "== smtp-sink's JSON line for the message"
cat "$tmp/sink.json"
file=$(ls "$tmp/Maildir/new")
echo
printf "== the stored message, Maildir/new/%s (CRLF shown as %s)\\n" "$file" "\\r\\n"
sed 's/\r$/\\r\\n/' "$tmp/Maildir/new/$file"
kill -TERM "$pid"
wait "$pid" || true
pid=
echo
echo "== smtp-sink stopped: $(tail -n 1 "$tmp/sink.log")"
