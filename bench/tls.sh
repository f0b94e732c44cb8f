# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154,SC2153,SC2034 # run.sh's variables (out, ex, FROM, ours_args...)
# bench/tls.sh: part "tls" of bench/run.sh (issue #18's TLS rows), sourced by it: it uses
# run.sh's helpers (row, section, start_ours, load, ticks, median, ratio, met_*, stop...) and
# runs with `BENCH_ONLY=tls bash bench/run.sh BUILD_DIR` or in the whole `make bench`.
#
# Our smtp-sink --discard against nodemailer's smtp-server (bench/tls_server.mjs: STARTTLS, no
# AUTH required, no size limit, the stream read and thrown away), both with the same key and
# certificate (ECDSA P-256, made now by e2e_mkcert, tests/e2e/mkcert.c), in the same run:
# 1. memory per idle TLS connection: BENCH_TLS_IDLE (default 1000) sessions held, each after
#    EHLO, STARTTLS, the handshake and EHLO again (bench/tls_load.py hold), the growth of the
#    server's VmRSS over them per session, each server fresh; target under 64 KiB;
# 2. STARTTLS handshakes per second: BENCH_TLS_HANDSHAKES (default 1000) sessions from
#    BENCH_TLS_CLIENTS (default 128) threads of bench/tls_load.py (greeting, EHLO, STARTTLS, a
#    full handshake, EHLO, QUIT; smtp-server's sessions wait on something else than its CPU,
#    so that 16 clients kept it at a fifth of a CPU and 128 bring it near saturation),
#    the servers' CPU time per handshake alongside; target at least 2x smtp-server's; then, in
#    rows of their own that never replace these, the same sessions resumed with a TLS 1.2
#    session ticket (tls_load.py --resume: each client thread's first session, not counted,
#    gets one; ours runs with --tls-tickets 3600, smtp-server issues tickets by default). The
#    load client is Python's ssl (OpenSSL), whose side of a handshake is cheap, with one offer
#    for both servers: TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256, the group secp256r1 (the
#    certificate's curve: a TLS 1.2 server signs only with a curve the client names);
# 3. messages per second over TLS: smtp-send --tls-required --no-chunking (DATA: smtp-server
#    has no BDAT), 10 sessions of 1,000 1 KiB messages, the certificate verified (ipcert.pem
#    names 127.0.0.1), each server's own choice of cipher suite (the table says which);
#    target at least 2x smtp-server's.
# Rates are medians of BENCH_REPS rounds after a warm-up round, both servers in each round (ours
# first), servers on the sinks' CPU and clients on the other (run.sh's placement); each
# server's CPU time per operation alongside, and for handshakes its inverse (the rate at
# saturation), which the machine's other work does not blur. Needs mbedTLS (smtp-sink with
# TLS, e2e_mkcert) and python3; smtp-server needs node and the interop tests' npm install in
# tests/interop/node (or BENCH_NODE_DIR), which this makes only as root (npm ci, as
# tests/interop/install.sh does); a missing one makes its rows say "skipped", never fails.
# BENCH_WITHOUT=node behaves as if node were missing.

tls_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# start_smtp_server NAME CERT KEY [PREFIX...]: bench/tls_server.mjs; sets npid, nport.
start_smtp_server() {
    local name=$1 cert=$2 key=$3
    shift 3
    "$@" node "$tls_src/bench/tls_server.mjs" --modules "$TLS_NODE_DIR" --cert "$cert" \
        --key "$key" >"$out/$name.out" 2>"$out/$name.err" &
    npid=$!
    pids="$pids $npid"
    nport=$(px_port "$name" "$npid") && return 0 # bench/proxy.sh's: "... listening on ... port N"
    note "smtp-server did not start: $(tail -3 "$out/$name.err")"
    return 1
}

# tls_idle NAME PORT PID: BENCH_TLS_IDLE idle TLS sessions held on PORT; sets tls_kib to PID's
# VmRSS growth per session ("fail" for none; "(held only K)" when fewer were).
tls_idle() {
    local line held
    line=$(python3 "$tls_src/bench/tls_load.py" hold 127.0.0.1 "$2" "$TLS_IDLE" \
        "$3" 2>"$out/$1.err")
    echo "$line" >"$out/$1.held"
    read -r _ held _ tls_kib <<<"$line"
    tls_kib=${tls_kib:-fail}
    [ "${held:-0}" = "$TLS_IDLE" ] || tls_kib="$tls_kib (held only ${held:-0})"
}

# tls_round NAME KIND TOTAL PORT PID: one load of TOTAL sessions (KIND handshakes: TLS_CLIENTS
# threads of tls_load.py, its rate from its own clock and its offer kept in tls-NAME.offer;
# KIND resumed: the same with --resume) or messages (KIND send-tls: run.sh's load, 10
# sessions); the rate appended to bench-out/tls-NAME.rate and the server's CPU time (clock
# ticks) to tls-NAME.ticks.
tls_round() {
    local name=$1 kind=$2 total=$3 port=$4 pid=$5 t0 line resume=()
    [ "$kind" = resumed ] && resume=(--resume) && kind=handshakes
    t0=$(ticks "$pid")
    if [ "$kind" = handshakes ]; then
        line=$("${pin_client[@]}" python3 "$tls_src/bench/tls_load.py" "${resume[@]}" \
            handshakes 127.0.0.1 "$port" "$TLS_CLIENTS" "$total" 2>>"$out/tls-load.log")
        echo "$line" >>"$out/tls-$name.offer"
        awk -v l="$line" 'BEGIN { split(l, f, " "); if (f[1] == "sessions" && f[4] > 0)
            printf "%.0f\n", f[2] / f[4]; else print "fail" }' >>"$out/tls-$name.rate"
    else
        load "$kind" 10 "$total" "$port" "${pin_client[@]}" >>"$out/tls-$name.rate"
    fi
    echo $(($(ticks "$pid") - t0)) >>"$out/tls-$name.ticks"
}

# tls_busy NAME TOTAL: the server's CPU time over each round's duration (TOTAL / rate), median:
# near 1, it was saturated; well below, the machine's other work or the client held it back.
tls_busy() {
    paste "$out/tls-$1.ticks" "$out/tls-$1.rate" | awk -v n="$2" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
        '$2 > 0 { print ($1 / hz) / (n / $2) }' >"$out/tls-$1.busy"
    medianf %.2f "$out/tls-$1.busy"
}

# tls_cpu NAME TOTAL UNIT: the server's CPU time per operation over all rounds of NAME (TOTAL
# operations a round), in ms (UNIT 1e3) or us (1e6).
tls_cpu() {
    awk -v n="$2" -v u="$3" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
        '{ t += $1; k++ } END { if (k) printf "%.2f", t * u / hz / (n * k); else print "-" }' \
        "$out/tls-$1.ticks"
}

# tls_offer NAME: "version cipher group" as the last handshakes load of NAME printed them.
tls_offer() {
    tail -n 1 "$out/tls-$1.offer" 2>/dev/null |
        sed -n 's/^sessions .* version \([^ ]*\) cipher \([^ ]*\) group \([^ ]*\) .*/\1 \2 \3/p'
}

# tls_probe PORT: "version cipher" as smtp-send's default offer negotiates them on PORT.
tls_probe() {
    "$ex/smtp-send" --probe --tls-required --cafile "$TLS_CA" -s "127.0.0.1:$1" 2>&1 |
        sed -n 's/^tls: //p'
}

# tls_resumed NAME: "R of N" over the rounds of NAME (tls_load.py --resume's count).
tls_resumed() {
    awk '/^sessions / { n += $2; for (i = 1; i < NF; i++) if ($i == "resumed") r += $(i + 1) }
        END { if (n) printf "%d of %d\n", r, n; else print "fail" }' "$out/tls-$1.offer" 2>/dev/null ||
        echo fail
}

# tls_client_cpu NAME: the median of tls_load.py's CPU ms per session over the rounds of NAME.
tls_client_cpu() {
    sed -n 's/.* client_cpu_ms //p' "$out/tls-$1.offer" >"$out/tls-$1.client"
    medianf %.2f "$out/tls-$1.client"
}

run_tls() {
    setup_pinning
    TLS_IDLE=${BENCH_TLS_IDLE:-1000}
    TLS_CLIENTS=${BENCH_TLS_CLIENTS:-128}
    TLS_NODE_DIR=${BENCH_NODE_DIR:-$tls_src/tests/interop/node}
    local hs=$((${BENCH_TLS_HANDSHAKES:-1000} * scale)) msgs=$((10000 * scale)) node_ok=0 why
    local o_pid o_port n_pid n_port ver pki=$out/tls-pki
    if [ ! -x "$ex/e2e_mkcert" ]; then
        section "TLS (issue #18): mbedTLS missing (no TLS in this build): skipped"
        return
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        section "TLS (issue #18): python3 missing (bench/tls_load.py, the load client): skipped"
        return
    fi
    local NODE_MISSING="node missing: skipped"
    if ! without node; then
        if ! command -v node >/dev/null 2>&1 && apt_install nodejs npm; then :; fi
        if [ ! -d "$TLS_NODE_DIR/node_modules/smtp-server" ] && [ "$(id -u)" = 0 ] &&
            command -v npm >/dev/null 2>&1; then
            note "installing smtp-server (npm ci in $TLS_NODE_DIR, running as root)"
            (cd "$TLS_NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) \
                >>"$out/npm.log" 2>&1 || note "npm ci failed (see $out/npm.log)"
        fi
        if ! command -v node >/dev/null 2>&1; then
            NODE_MISSING="node missing: skipped"
        elif [ ! -d "$TLS_NODE_DIR/node_modules/smtp-server" ]; then
            NODE_MISSING="smtp-server missing: skipped"
        else
            node_ok=1
            ver="smtp-server $(node -p "require('$TLS_NODE_DIR/node_modules/smtp-server/package.json').version"), node $(node --version), OpenSSL $(node -p process.versions.openssl)"
        fi
    fi
    [ $node_ok = 1 ] || note "$NODE_MISSING (npm install of tests/interop/node: run as root, or tests/interop/install.sh)"
    mkdir -p "$pki"
    "$ex/e2e_mkcert" "$pki" || { section "TLS (issue #18): e2e_mkcert failed: skipped" && return; }
    local cert=$pki/ipcert.pem key=$pki/key.pem
    TLS_CA=$pki/ca.pem
    ours_args=(--tls-cert "$cert" --tls-key "$key")
    ours_stdout=/dev/null

    # ---- 1. memory per idle TLS connection, each server fresh ----
    local idle_ours idle_node=$NODE_MISSING
    note "tls: $TLS_IDLE idle TLS sessions on our smtp-sink"
    start_ours tls-idle-ours || exit 1
    tls_idle tls-idle-ours "$sport" "$spid"
    idle_ours=$tls_kib
    stop "$spid"
    if [ $node_ok = 1 ]; then
        note "tls: $TLS_IDLE idle TLS sessions on smtp-server"
        if start_smtp_server tls-idle-node "$cert" "$key"; then
            tls_idle tls-idle-node "$nport" "$npid"
            idle_node=$tls_kib
            stop "$npid"
        else
            idle_node="smtp-server did not start: skipped"
        fi
    fi

    # ---- 2. and 3. handshakes and messages per second, interleaved rounds ----
    note "tls: handshakes and messages per second ($placement)"
    # Tickets for the resumed rows (an smtp-sink without --tls-tickets: those rows say so);
    # tls_load.py's full handshakes ask for none, so they are the same with or without.
    local tickets=0
    if "$ex/smtp-sink" --help 2>&1 | grep -q -- --tls-tickets; then
        tickets=1
        ours_args+=(--tls-tickets 3600)
    fi
    start_ours tls-ours "${pin_sink[@]}" || exit 1
    o_pid=$spid o_port=$sport
    if [ $node_ok = 1 ]; then
        if start_smtp_server tls-node "$cert" "$key" "${pin_sink[@]}"; then
            n_pid=$npid n_port=$nport
        else
            node_ok=0
            NODE_MISSING="smtp-server did not start: skipped (bench-out/tls-node.err)"
        fi
    fi
    ours_args=()
    ours_stdout=
    # A round of a fifth, not counted: node compiles its hot paths as they run (its first
    # thousand handshakes cost it twice the CPU of the next), and both heaps reach their size.
    note "tls: warm-up round (not counted)"
    tls_round warm-hs-ours handshakes $((hs / 5)) "$o_port" "$o_pid"
    [ $node_ok = 1 ] && tls_round warm-hs-node handshakes $((hs / 5)) "$n_port" "$n_pid"
    tls_round warm-msg-ours send-tls $((msgs / 5)) "$o_port" "$o_pid"
    [ $node_ok = 1 ] && tls_round warm-msg-node send-tls $((msgs / 5)) "$n_port" "$n_pid"
    [ $tickets = 1 ] && tls_round warm-rs-ours resumed $((hs / 5)) "$o_port" "$o_pid"
    [ $node_ok = 1 ] && tls_round warm-rs-node resumed $((hs / 5)) "$n_port" "$n_pid"
    for rep in $(seq "$reps"); do
        note "tls: round $rep of $reps"
        tls_round hs-ours handshakes "$hs" "$o_port" "$o_pid"
        [ $node_ok = 1 ] && tls_round hs-node handshakes "$hs" "$n_port" "$n_pid"
        [ $tickets = 1 ] && tls_round rs-ours resumed "$hs" "$o_port" "$o_pid"
        [ $node_ok = 1 ] && tls_round rs-node resumed "$hs" "$n_port" "$n_pid"
        tls_round msg-ours send-tls "$msgs" "$o_port" "$o_pid"
        [ $node_ok = 1 ] && tls_round msg-node send-tls "$msgs" "$n_port" "$n_pid"
    done
    local probe_ours probe_node=$NODE_MISSING
    probe_ours=$(tls_probe "$o_port")
    stop "$o_pid"
    if [ $node_ok = 1 ]; then
        probe_node=$(tls_probe "$n_port")
        stop "$n_pid"
    fi

    local h_ours h_node=$NODE_MISSING m_ours m_node=$NODE_MISSING r offer
    offer=$(tls_offer hs-ours)
    section "TLS (issue #18): our smtp-sink --discard against nodemailer's smtp-server${ver:+ ($ver)}, the same ECDSA P-256 certificate; rates median [slowest-fastest] of $reps interleaved rounds; $placement; a shared 2-CPU machine (other sessions' builds and tests alongside)"
    row "KiB per idle TLS connection at $TLS_IDLE (RSS; EHLO STARTTLS EHLO)" "$idle_ours" \
        "$idle_node" "< 64" "$(met_lt "${idle_ours%% *}" 64)"
    h_ours=$(median "$out/tls-hs-ours.rate")
    [ $node_ok = 1 ] && h_node=$(median "$out/tls-hs-node.rate")
    r=$(ratio "$h_ours" "$h_node")
    row "STARTTLS handshakes/s, $hs sessions from $TLS_CLIENTS clients" "$h_ours $(spread "$out/tls-hs-ours.rate" 1)" \
        "$(vs "$h_node" "$h_ours" "$(spread "$out/tls-hs-node.rate" 1)")" ">= 2x smtp-server" \
        "$(met_ge "$r" 2)"
    [ $node_ok = 1 ] && [ "$reps" -gt 1 ] &&
        row "  by round, ours / smtp-server" "$(ratios "$out/tls-hs-ours.rate" "$out/tls-hs-node.rate")" "-" "-" ""
    local c_node=$NODE_MISSING
    [ $node_ok = 1 ] && c_node=$(tls_cpu hs-node "$hs" 1e3)
    row "  server CPU ms per handshake" "$(tls_cpu hs-ours "$hs" 1e3)" \
        "$(vs "$c_node" "$(tls_cpu hs-ours "$hs" 1e3)")" "-" ""
    row "  server CPU busy (CPU time / duration)" "$(tls_busy hs-ours "$hs")" \
        "$([ $node_ok = 1 ] && tls_busy hs-node "$hs" || echo "$NODE_MISSING")" "-" ""
    # At saturation a server's rate is 1 / its CPU per handshake: the comparison the machine's
    # other work does not blur (it decides how much of its CPU each server gets in a round).
    local p_ours p_node=$NODE_MISSING
    p_ours=$(ratio 1000 "$(tls_cpu hs-ours "$hs" 1e3)")
    [ $node_ok = 1 ] && p_node=$(ratio 1000 "$c_node")
    row "  handshakes per server CPU-second (1 / CPU per handshake)" "${p_ours%.*}" \
        "$(vs "${p_node%.*}" "${p_ours%.*}")" ">= 2x smtp-server" "$(met_ge "$(ratio "$p_ours" "$p_node")" 2)"
    row "  load client CPU ms per session (tls_load.py)" "$(tls_client_cpu hs-ours)" \
        "$([ $node_ok = 1 ] && tls_client_cpu hs-node || echo "$NODE_MISSING")" "-" ""
    local offer_node=$NODE_MISSING
    [ $node_ok = 1 ] && offer_node=$(tls_offer hs-node)
    row "  negotiated (tls_load.py's one offer)" "${offer:-fail}" "${offer_node:-fail}" "the same" \
        "$([ -n "$offer" ] && [ "$offer" = "$offer_node" ] && echo yes || echo -)"
    # Resumed sessions: rows of their own, never in place of the full handshakes above.
    local rs_ours="--tls-tickets missing: skipped" rs_node=$NODE_MISSING rc_ours=- rc_node=$NODE_MISSING
    if [ $tickets = 1 ]; then
        rs_ours="$(median "$out/tls-rs-ours.rate") $(spread "$out/tls-rs-ours.rate" 1)"
        rc_ours=$(tls_cpu rs-ours "$hs" 1e3)
    fi
    if [ $node_ok = 1 ]; then
        rs_node=$(vs "$(median "$out/tls-rs-node.rate")" "$(median "$out/tls-rs-ours.rate" 2>/dev/null)" \
            "$(spread "$out/tls-rs-node.rate" 1)")
        rc_node=$(vs "$(tls_cpu rs-node "$hs" 1e3)" "$rc_ours")
    fi
    row "RESUMED STARTTLS handshakes/s (TLS 1.2 ticket; separate row), $hs sessions" "$rs_ours" \
        "$rs_node" "-" ""
    row "  server CPU ms per resumed handshake" "$rc_ours" "$rc_node" "-" ""
    row "  sessions resumed / offered a ticket" "$([ $tickets = 1 ] && tls_resumed rs-ours || echo -)" \
        "$([ $node_ok = 1 ] && tls_resumed rs-node || echo "$NODE_MISSING")" "all" ""
    m_ours=$(median "$out/tls-msg-ours.rate")
    [ $node_ok = 1 ] && m_node=$(median "$out/tls-msg-node.rate")
    r=$(ratio "$m_ours" "$m_node")
    row "msgs/s over TLS, 10 sessions (smtp-send, DATA)" "$m_ours $(spread "$out/tls-msg-ours.rate")" \
        "$(vs "$m_node" "$m_ours" "$(spread "$out/tls-msg-node.rate")")" ">= 2x smtp-server" \
        "$(met_ge "$r" 2)"
    [ $node_ok = 1 ] && [ "$reps" -gt 1 ] &&
        row "  by round, ours / smtp-server" "$(ratios "$out/tls-msg-ours.rate" "$out/tls-msg-node.rate")" "-" "-" ""
    c_node=$NODE_MISSING
    [ $node_ok = 1 ] && c_node=$(tls_cpu msg-node "$msgs" 1e6)
    row "  server CPU us per message" "$(tls_cpu msg-ours "$msgs" 1e6)" \
        "$(vs "$c_node" "$(tls_cpu msg-ours "$msgs" 1e6)")" "-" ""
    row "  server CPU busy (CPU time / duration)" "$(tls_busy msg-ours "$msgs")" \
        "$([ $node_ok = 1 ] && tls_busy msg-node "$msgs" || echo "$NODE_MISSING")" "-" ""
    row "  negotiated with smtp-send (each server's choice)" "${probe_ours:-fail}" "${probe_node:-fail}" "-" ""
}
