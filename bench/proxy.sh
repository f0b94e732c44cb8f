# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154,SC2153,SC2034 # run.sh's variables (out, ex, FROM, ours_args...)
# bench/proxy.sh: part "proxy" of bench/run.sh (issue #15 item 5), sourced by it: it uses
# run.sh's helpers (row, section, start_ours, load, median, ratio, met_*, stop...) and runs
# with `BENCH_ONLY=proxy bash bench/run.sh BUILD_DIR` or in the whole `make bench`.
#
# Three paths to the same sink (our smtp-sink --discard), measured in the same rounds:
#   direct:  smtp-send -> smtp-sink
#   ours:    smtp-send -> smtp-proxy -> smtp-sink
#   nginx:   smtp-send -> nginx's mail proxy (smtp_auth none, xclient off) -> smtp-sink
# 1. messages per second, 10 pipelined smtp-send sessions of 1,000 1 KiB messages each
#    (smtp-proxy keeps the server engine's default of 1,000 messages per connection), the
#    three paths interleaved, median of BENCH_REPS rounds; targets: through smtp-proxy at
#    least 0.6x direct and 1.5x nginx; CPU time per message of the proxy and of the sink;
# 2. round trips per message, from two transcripts of one session of BENCH_PROXY_RTT_COUNT
#    messages (default 6), the first message left out (a proxy's session start: nginx sends
#    its own EHLO and the first MAIL upstream): the client's waits (smtp-send -v, as run.sh's
#    part rtt counts them) and upstream's, the flights smtp-sink answered (smtp-sink -v: the
#    runs of its reply lines); target: upstream's through smtp-proxy the same as direct;
# 3. resident memory per idle proxied connection: BENCH_PROXY_IDLE (default 1000) clients
#    greeted and after EHLO (bench/idle_hold ... ehlo), the proxy's VmRSS growth over them;
#    target under 16 KiB (nginx's worker, which connects upstream only at MAIL, alongside).
#
# nginx's mail module comes from Debian (packages nginx and libnginx-mod-mail), installed
# like Postfix only when this runs as root; otherwise (or with BENCH_WITHOUT=nginx) its rows
# say "skipped". It runs in the foreground (daemon off, one worker like smtp-proxy's one
# loop) from a config of its own in BUILD_DIR/bench-out/nginx, on a free high port of
# 127.0.0.1, and asks its auth_http on each session a tiny Python http.server started here,
# which answers Auth-Status OK with the sink's address. Every process is stopped by its PID.

# px_port NAME: the port a server of ours printed on stderr ("... port N ...").
px_port() {
    local name=$1 pid=$2 port='' _
    for _ in $(seq 300); do
        port=$(sed -n 's/^[a-z-]*: listening on [^ ]* port \([0-9]*\).*/\1/p' "$out/$name.err" |
            head -n 1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && wait_listen "$pid" "$port" && echo "$port"
}

# start_proxy NAME UPSTREAM_PORT [PREFIX...]: smtp-proxy on a kernel-chosen port; sets ppid, pport.
start_proxy() {
    local name=$1 up=$2
    shift 2
    "$@" "$ex/smtp-proxy" -l 127.0.0.1:0 -u "127.0.0.1:$up" --hostname proxy.bench.test \
        --max-connections 20000 2>"$out/$name.err" &
    ppid=$!
    pids="$pids $ppid"
    pport=$(px_port "$name" "$ppid") && return 0
    note "smtp-proxy did not start: $(cat "$out/$name.err")"
    return 1
}

# nginx: the binary, and the mail module when it is a dynamic one (Debian's).
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NGINX_MAIL_SO=/usr/lib/nginx/modules/ngx_mail_module.so
have_nginx_mail() {
    [ -x "$NGINX" ] || return 1
    [ -f "$NGINX_MAIL_SO" ] && return 0
    "$NGINX" -V 2>&1 | grep -q -- '--with-mail\( \|$\)' # built in
}

# start_nginx UPSTREAM_PORT [PREFIX...]: the auth_http endpoint and nginx's mail proxy in front
# of 127.0.0.1:UPSTREAM_PORT; sets npid (nginx's master), nworker, nport, apid.
start_nginx() {
    local up=$1 dir=$out/nginx aport load_mod=
    shift
    mkdir -p "$dir"
    rm -f "$dir/auth.port"
    python3 - "$dir/auth.port" "$up" >"$dir/auth.log" 2>&1 <<'EOF' &
import http.server, sys
class Auth(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # nginx's auth_http request: every session goes to the sink
        self.send_response(200)
        for k, v in (("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                     ("Auth-Port", sys.argv[2]), ("Content-Length", "0")):
            self.send_header(k, v)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Auth)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
EOF
    apid=$!
    pids="$pids $apid"
    for _ in $(seq 100); do
        [ -s "$dir/auth.port" ] && break
        kill -0 "$apid" 2>/dev/null || break
        sleep 0.1
    done
    aport=$(cat "$dir/auth.port" 2>/dev/null)
    if [ -z "$aport" ]; then
        note "nginx's auth_http endpoint did not start: $(cat "$dir/auth.log")"
        return 1
    fi
    [ -f "$NGINX_MAIL_SO" ] && load_mod="load_module $NGINX_MAIL_SO;"
    for _ in 1 2 3 4 5 6 7 8; do
        nport=$((20000 + (RANDOM % 10000)))
        listening "$nport" && continue
        cat >"$dir/nginx.conf" <<EOF
$load_mod
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
mail {
    server_name proxy.bench.test;
    auth_http 127.0.0.1:$aport/auth;
    xclient off;
    server {
        listen 127.0.0.1:$nport;
        protocol smtp;
        smtp_auth none;
        smtp_capabilities PIPELINING "SIZE 10240000" 8BITMIME SMTPUTF8 CHUNKING DSN ENHANCEDSTATUSCODES;
    }
}
EOF
        "$@" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$dir/nginx.out" 2>&1 &
        npid=$!
        pids="$pids $npid"
        if wait_listen "$npid" "$nport"; then
            nworker=$(children "$npid" | head -n 1)
            [ -n "$nworker" ] && return 0
        fi
        stop "$npid"
    done
    note "nginx did not start: $(tail -2 "$dir/nginx.out" "$dir/error.log" 2>/dev/null)"
    return 1
}
stop_nginx() {
    stop "$npid" # SIGTERM: nginx's master stops its worker, then exits
    stop "$apid"
}

# px_waits FILE: waits per message in a -v transcript (lines "C: ..." and "S: ...", maybe
# prefixed "smtp-sink: [N] "): the runs of S lines from the second MAIL to QUIT, per message
# (the first left out), for PX_RTT_N messages.
px_waits() {
    sed 's/^smtp-sink: \[[0-9]*\] //' "$1" |
        awk -v n="$PX_RTT_N" '/^C: MAIL /{ mails++ } /^C: QUIT/{ quit = 1 }
            mails >= 2 && !quit && /^S: /{ if (!s) runs++; s = 1; next } /^C: /{ s = 0 }
            END { if (n > 1 && mails == n) printf "%.1f\n", runs / (n - 1); else print "fail" }'
}

# px_rtt NAME PORT: one session of PX_RTT_N messages to PORT (smtp-send -v); the sink (spid,
# started with -v) must be quiet otherwise. Sets rt_client and rt_up.
px_rtt() {
    local name=$1 port=$2 from
    from=$(wc -l <"$out/px-rtt-sink.err")
    "$ex/smtp-send" -v -s "127.0.0.1:$port" -f "$FROM" -t "$TO" -d "$out/msg.eml" \
        --count "$PX_RTT_N" 2>"$out/px-rtt-$name.client" >/dev/null
    sleep 0.3 # the sink's last lines (QUIT) reach its log
    tail -n +"$((from + 1))" "$out/px-rtt-sink.err" >"$out/px-rtt-$name.sink"
    rt_client=$(px_waits "$out/px-rtt-$name.client")
    rt_up=$(px_waits "$out/px-rtt-$name.sink")
}

# px_idle NAME PORT PID...: holds PX_IDLE idle connections (greeted, after EHLO) to PORT;
# sets idle_kib to each PID's VmRSS growth per connection held ("fail" for none), one a word.
px_idle() {
    local name=$1 port=$2 hpid held p
    shift 2
    local -a rss0=()
    for p in "$@"; do rss0+=("$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"); done
    rm -f "$out/$name.fifo"
    mkfifo "$out/$name.fifo"
    # idle_hold's "held K" line is read from a pipe (2 minutes at most); it holds the
    # connections until descriptor 8, the other end of its standard input, closes.
    exec 7< <(exec "$bench/idle_hold" 127.0.0.1 "$port" "$PX_IDLE" ehlo <"$out/$name.fifo" \
        2>"$out/$name.hold.err")
    hpid=$!
    pids="$pids $hpid"
    exec 8>"$out/$name.fifo"
    read -r -t 120 _ held <&7 || held=0
    sleep 0.5 # the last greetings and EHLO replies settle
    idle_kib=
    local i=0
    for p in "$@"; do
        idle_kib="$idle_kib $(awk -v a="${rss0[$i]}" -v b="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")" \
            -v n="${held:-0}" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "fail" }')"
        i=$((i + 1))
    done
    exec 8>&- 7<&-
    wait "$hpid" 2>/dev/null
    forget "$hpid"
    rm -f "$out/$name.fifo"
    [ "${held:-0}" = "$PX_IDLE" ] || idle_kib="$idle_kib (held only ${held:-0})"
}

run_proxy() {
    setup_pinning
    PX_RTT_N=${BENCH_PROXY_RTT_COUNT:-6}
    PX_IDLE=${BENCH_PROXY_IDLE:-1000}
    local total=10000 direct ours theirs r s_ticks m_ticks n_msgs ver nginx_ok=0
    local d_port p_port n_port d_pid p_pid
    if [ ! -x "$ex/smtp-proxy" ]; then
        section "smtp-proxy (issue #15): $ex/smtp-proxy missing: skipped"
        return
    fi
    local NG_MISSING="nginx missing: skipped"
    if ! without nginx; then
        have_nginx_mail || apt_install nginx libnginx-mod-mail || true
        if ! command -v python3 >/dev/null 2>&1; then
            NG_MISSING="python3 missing (nginx's auth_http): skipped"
        elif have_nginx_mail; then
            nginx_ok=1
            ver=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
        fi
    fi
    [ $nginx_ok = 1 ] || note "$NG_MISSING (its mail module: Debian packages nginx and libnginx-mod-mail; run as root to have them installed)"

    # ---- 1. messages per second, the three paths interleaved ----
    note "proxy: direct, smtp-proxy and nginx in front of one sink ($placement)"
    ours_stdout=/dev/null
    start_ours px-sink "${pin_sink[@]}" || exit 1
    d_pid=$spid
    d_port=$sport
    start_proxy px-proxy "$d_port" "${pin_sink[@]}" || exit 1
    p_pid=$ppid
    p_port=$pport
    if [ $nginx_ok = 1 ]; then
        start_nginx "$d_port" "${pin_sink[@]}" || { nginx_ok=0 && NG_MISSING="nginx did not start: skipped (bench-out/nginx)"; }
        n_port=$nport
    fi
    : >"$out/px-ticks"
    for rep in $(seq "$reps"); do
        note "proxy: round $rep of $reps"
        s_ticks=$(ticks "$d_pid")
        load send 10 "$total" "$d_port" "${pin_client[@]}" >>"$out/px-direct"
        echo "direct $(($(ticks "$d_pid") - s_ticks)) 0" >>"$out/px-ticks"
        s_ticks=$(ticks "$d_pid")
        m_ticks=$(ticks "$p_pid")
        load send 10 "$total" "$p_port" "${pin_client[@]}" >>"$out/px-ours"
        echo "ours $(($(ticks "$d_pid") - s_ticks)) $(($(ticks "$p_pid") - m_ticks))" >>"$out/px-ticks"
        if [ $nginx_ok = 1 ]; then
            s_ticks=$(ticks "$d_pid")
            m_ticks=$(ticks "$nworker" "$npid")
            load send 10 "$total" "$n_port" "${pin_client[@]}" >>"$out/px-nginx"
            echo "nginx $(($(ticks "$d_pid") - s_ticks)) $(($(ticks "$nworker" "$npid") - m_ticks))" \
                >>"$out/px-ticks"
        fi
    done
    [ $nginx_ok = 1 ] && stop_nginx
    stop "$p_pid"
    stop "$d_pid"
    ours_stdout=

    section "smtp-proxy (issue #15): smtp-send, 10 pipelined sessions of 1,000 1 KiB messages, to smtp-sink --discard directly, through smtp-proxy and through nginx's mail proxy${ver:+ ($ver)}; msgs/s median [slowest-fastest] of $reps interleaved rounds; $placement (proxies on the sink's CPU); a shared 2-CPU machine: other sessions' builds and tests ran alongside"
    direct=$(median "$out/px-direct")
    ours=$(median "$out/px-ours")
    theirs=$NG_MISSING
    [ $nginx_ok = 1 ] && theirs=$(median "$out/px-nginx")
    row "direct: smtp-send -> smtp-sink, msgs/s" "$direct $(spread "$out/px-direct")" "-" "-" ""
    r=$(ratio "$ours" "$direct")
    row "through smtp-proxy, msgs/s (x direct; by round)" \
        "$(echo "$ours $(spread "$out/px-ours") (x$r) $(ratios "$out/px-ours" "$out/px-direct")" | tr -s ' ')" \
        "-" ">= 0.6x direct" "$(met_ge "$r" 0.6)"
    row "through smtp-proxy against nginx's mail proxy, msgs/s" "$ours" \
        "$(vs "$theirs" "$ours" "$(spread "$out/px-nginx")")" ">= 1.5x nginx" \
        "$(met_ge "$(ratio "$ours" "$theirs")" 1.5)"
    [ $nginx_ok = 1 ] && [ "$reps" -gt 1 ] &&
        row "  by round, smtp-proxy / nginx" "$(ratios "$out/px-ours" "$out/px-nginx")" "-" "-" ""
    # CPU time per message over all rounds (clock ticks: 10 ms over 10,000 messages a round).
    n_msgs=$((total * reps))
    cpu_of() { # cpu_of WHO FIELD: CPU us per message, all rounds (field 2: the sink, 3: the proxy)
        awk -v who="$1" -v f="$2" -v n="$n_msgs" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
            '$1 == who { t += $f; k++ } END { if (k) printf "%.1f", t * 1e6 / hz / n; else print "-" }' \
            "$out/px-ticks"
    }
    local ng_cpu=$NG_MISSING ng_sink=$NG_MISSING
    if [ $nginx_ok = 1 ]; then
        ng_cpu=$(cpu_of nginx 3)
        ng_sink=$(cpu_of nginx 2)
    fi
    row "  proxy CPU us/msg (nginx: master and worker)" "$(cpu_of ours 3)" \
        "$(vs "$ng_cpu" "$(cpu_of ours 3)")" "-" ""
    row "  sink CPU us/msg behind the proxy (direct: $(cpu_of direct 2))" "$(cpu_of ours 2)" \
        "$(vs "$ng_sink" "$(cpu_of ours 2)")" "-" ""

    # ---- 2. round trips per message ----
    note "proxy: round trips (transcripts of smtp-send -v and smtp-sink -v)"
    ours_args=(-v)
    ours_stdout=/dev/null
    start_ours px-rtt-sink || exit 1
    ours_args=()
    ours_stdout=
    d_pid=$spid
    d_port=$sport
    local c_direct u_direct c_ours u_ours c_ng=$NG_MISSING u_ng=$NG_MISSING
    px_rtt direct "$d_port"
    c_direct=$rt_client u_direct=$rt_up
    start_proxy px-rtt-proxy "$d_port" || exit 1
    px_rtt ours "$pport"
    c_ours=$rt_client u_ours=$rt_up
    stop "$ppid"
    if [ $nginx_ok = 1 ] && start_nginx "$d_port"; then
        px_rtt nginx "$nport"
        c_ng=$rt_client u_ng=$rt_up
        stop_nginx
    fi
    stop "$d_pid"
    section "round trips per message through a proxy: one session of $PX_RTT_N messages (the first left out), smtp-send -v (the client's waits) and smtp-sink -v (the flights the sink answered); direct: $c_direct and $u_direct"
    row "client's waits per message, through smtp-proxy" "$c_ours" "$(vs "$c_ng" "$c_ours")" \
        "= direct ($c_direct)" "$(awk -v a="$c_ours" -v b="$c_direct" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "-"; else print (a == b) ? "yes" : "NO" }')"
    row "upstream round trips per message, through smtp-proxy" "$u_ours" "$(vs "$u_ng" "$u_ours")" \
        "= direct ($u_direct)" "$(awk -v a="$u_ours" -v b="$u_direct" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "-"; else print (a == b) ? "yes" : "NO" }')"

    # ---- 3. memory per idle proxied connection ----
    note "proxy: $PX_IDLE idle connections through smtp-proxy"
    start_ours px-idle-sink || exit 1
    d_pid=$spid
    d_port=$sport
    start_proxy px-idle-proxy "$d_port" || exit 1
    px_idle px-idle-ours "$pport" "$ppid" "$d_pid"
    local idle_ours idle_sink idle_ng=$NG_MISSING
    read -r idle_ours idle_sink _ <<<"$idle_kib"
    [[ $idle_kib == *held* ]] && idle_ours="$idle_ours (${idle_kib#*(}"
    stop "$ppid"
    if [ $nginx_ok = 1 ] && start_nginx "$d_port"; then
        note "proxy: $PX_IDLE idle connections through nginx"
        px_idle px-idle-nginx "$nport" "$nworker"
        idle_ng="${idle_kib# } (no upstream connection before MAIL)"
        stop_nginx
    fi
    stop "$d_pid"
    section "memory per idle proxied connection: resident size growth / $PX_IDLE connections held (greeted, after EHLO)"
    row "smtp-proxy, KiB per idle connection (RSS)" "$idle_ours" "$idle_ng" "< 16" \
        "$(met_lt "${idle_ours%% *}" 16)"
    row "  the sink behind it, KiB per upstream connection" "$idle_sink" "-" "-" ""
}
