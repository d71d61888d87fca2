#!/usr/bin/env bash
# Interleaved A/B of `stack appserver` behind Debian's nginx, as scripts/bench.sh's
# "nginx in front of stack appserver" scenario sets it up (hello, processes: 2, nginx
# with 2 workers, uwsgi_pass over a Unix socket: one connection per request).
# Two setups run side by side; wrk -t2 -c64 alternates A B A B; each line gives rps,
# p99 and the CPU µs/request of every server process (nginx master and workers,
# appserver master and workers).
#   bash scripts/ab-appalone.sh BIN_A BIN_B [ROUNDS]
#   PA=18331 PB=18332 D=4s APP=hello URLPATH=/ bash scripts/ab-appalone.sh /tmp/base/stack /tmp/new/stack 6
#   bash scripts/ab-appalone.sh /tmp/new/stack uwsgi 6   # the peer: uWSGI (2 workers) with bench.sh's WSGI hello
# CONNS (default 64) is wrk's connection count. Only the interleaved comparison
# means anything on a shared machine.
set -euo pipefail
A=$1 B=$2 R=${3:-4}
PA=${PA:-18331} PB=${PB:-18332} D=${D:-4s} APP=${APP:-hello} URLPATH=${URLPATH:-/} CONNS=${CONNS:-64}
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/ab-appalone-XXXXXX); chmod 755 "$W"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$W"; }
trap cleanup EXIT

setup() { # NAME BIN PORT
  local n=$1 bin=$2 port=$3 d=$W/$1 user=
  mkdir -p "$d/nginx"
  [ "$(id -u)" = 0 ] && user="user www-data;"
  cat >"$d/app.yaml" <<YAML
run_dir: $d/run
appserver: {listen: "unix:$d/app.sock", socket_mode: "0666", app: $APP, processes: 2}
admin: {listen: ""}
YAML
  cat >"$d/nginx.conf" <<NG
$user daemon off; worker_processes 2; pid $d/nginx.pid; error_log $d/nginx-error.log warn;
events { worker_connections 4096; }
http { access_log off;
  client_body_temp_path $d/nginx/b; uwsgi_temp_path $d/nginx/u; proxy_temp_path $d/nginx/p;
  fastcgi_temp_path $d/nginx/f; scgi_temp_path $d/nginx/s;
  server { listen 127.0.0.1:$port; location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$d/app.sock; } } }
NG
  if [ "$bin" = uwsgi ]; then
    printf '%s\n' 'def application(environ, start_response):' \
      "    start_response('200 OK', [('Content-Type', 'text/html')])" "    return [b'<h1>Hello, web!</h1>']" >"$d/hello.py"
    setsid uwsgi --plugin python3 --master --processes 2 --disable-logging --chmod-socket=666 --die-on-term --need-app \
      --socket "$d/app.sock" --wsgi-file "$d/hello.py" >"$d/app.log" 2>&1 & PIDS+=($!); disown $!
  else
    setsid "$bin" appserver -c "$d/app.yaml" --log-level warn >"$d/app.log" 2>&1 & PIDS+=($!); disown $!
  fi
  setsid nginx -p "$d/" -c "$d/nginx.conf" -e "$d/nginx-error.log" >"$d/nginx.log" 2>&1 & PIDS+=($!); disown $!
}
tree() { ps -e -o pid=,ppid=,sid= | awk -v s="$*" 'BEGIN{n=split(s,a," ");for(i=1;i<=n;i++)S[a[i]]=1} ($3 in S){print $1}'; }
ticks() { local t=0 p f; for p in $(tree "$@"); do f=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null) || continue; set -- $f; t=$((t+${12}+${13})); done; echo $t; }
run() { # LABEL PORT SIDS...
  local l=$1 port=$2; shift 2
  local c0 c1 out
  c0=$(ticks "$@"); out=$(wrk -t2 -c$CONNS -d$D --latency http://127.0.0.1:$port$URLPATH); c1=$(ticks "$@")
  echo "$out" | awk -v l=$l -v c0=$c0 -v c1=$c1 -v hz=$HZ '
    /requests in/ {n=$1} /^Requests\/sec/ {r=$2} $1=="99%" {p=$2} /Non-2xx|Socket errors/ {e=e" "$0}
    END {printf "%s rps=%.0f p99=%s cpu_us_per_req=%.1f%s\n", l, r, p, (c1-c0)/hz*1e6/n, e}'
}
setup a "$A" "$PA"; sa="${PIDS[0]} ${PIDS[1]}"
setup b "$B" "$PB"; sb="${PIDS[2]} ${PIDS[3]}"
for i in $(seq 50); do curl -fs -o /dev/null 127.0.0.1:$PA$URLPATH && curl -fs -o /dev/null 127.0.0.1:$PB$URLPATH && break; sleep 0.1; done
wrk -t2 -c$CONNS -d2s http://127.0.0.1:$PA$URLPATH >/dev/null; wrk -t2 -c$CONNS -d2s http://127.0.0.1:$PB$URLPATH >/dev/null
for i in $(seq "$R"); do run A $PA $sa; run B $PB $sb; done | tee "$W/out"
python3 - "$W/out" <<'PY'
import re, statistics, sys
unit = {"ms": 1, "us": 1e-3, "s": 1e3, "": 1}  # p99 in ms
v = {}
for line in open(sys.argv[1]):
    side = line.split()[0]
    for k, x, u in re.findall(r"(\w+)=([0-9.]+)(ms|us|s)?", line):
        v.setdefault((side, k), []).append(float(x) * unit[u])
for (side, k), xs in sorted(v.items()):
    print(f"median {side} {k} {statistics.median(xs):g} ({len(xs)} runs)")
PY
