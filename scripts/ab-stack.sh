#!/usr/bin/env bash
# Interleaved A/B of two stack binaries through the three tiers, set up as
# scripts/bench.sh's stack rows (2 workers, debug off, access log off, the
# 1 KiB and 1 MiB files under /files/). Each round starts each binary
# fresh, in ABBA order (A B, then B A: whichever runs first in a pair is
# not always the same one), warms it up for a second and runs wrk -t2 for
# D; each line gives the rate, the CPU µs per request of the whole process
# tree, the p99 and the client's CPU µs per request (wrk's user + system
# time, from bash's time: what answering sooner or later costs the load
# generator on the same CPUs), then the means. Only the interleaved comparison means
# anything on a shared machine.
#   bash scripts/ab-stack.sh BIN_A BIN_B [ROUNDS]
#   APP=echo URLPATH='/echo/x?a=1' CONNS=16 bash scripts/ab-stack.sh /tmp/base/stack /tmp/new/stack 6
#   URLPATH=/files/1k.bin bash scripts/ab-stack.sh /tmp/base/stack /tmp/new/stack 6
# APP (hello), URLPATH (/), CONNS (64), D (3s), PORT (18341); ENVA and ENVB
# are extra environment for A and B (ENVB=GOMAXPROCS=1 with one binary for both).
set -euo pipefail
A=$1 B=$2 R=${3:-4}
APP=${APP:-hello} URLPATH=${URLPATH:-/} CONNS=${CONNS:-64} D=${D:-3s} PORT=${PORT:-18341}
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/ab-stack-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/files"
head -c 1024 /dev/urandom >"$W/files/1k.bin"
head -c 1048576 /dev/urandom >"$W/files/1m.bin"
cat >"$W/stack.yaml" <<YAML
run_dir: $W/run
edge:
  listen: ["127.0.0.1:$PORT"]
  access_log: "off"
  locations:
    - path: /files/
      root: $W/files
    - path: /
      upstream: app
  upstreams:
    app:
      servers: ["unix:$W/run/app.sock"]
appserver:
  listen: unix:$W/run/app.sock
  app: $APP
  processes: 2
admin: {listen: ""}
apps:
  polls:
    debug: false
    secret_key: ab-stack-0123456789abcdef0123456789abcdef0123456789
    allowed_hosts: ["127.0.0.1"]
YAML
URL="http://127.0.0.1:$PORT$URLPATH"

# tree_ticks PID: the CPU ticks (user + system) of PID and its children.
tree_ticks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

run() { # NAME BIN ENV
  (cd "$W" && exec env $3 "$2" up -c "$W/stack.yaml" --log-level warn >"$W/$1.log" 2>&1) &
  PID=$!
  local i
  for i in $(seq 100); do curl -sf -o /dev/null "$URL" && break; sleep 0.05; done
  wrk -t2 -c"$CONNS" -d1s "$URL" >/dev/null
  local t0 t1 out n
  t0=$(tree_ticks "$PID")
  out=$( { TIMEFORMAT='%3U %3S'; time wrk -t2 -c"$CONNS" -d"$D" --latency "$URL"; } 2>"$W/wt")
  t1=$(tree_ticks "$PID")
  kill -TERM "$PID"; wait "$PID" || true; PID=
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$1 $(echo "$out" | awk '/^Requests\/sec/ {printf "%d", $2}') $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}') $(echo "$out" | awk '$1 == "99%" {print $2}') $(tail -1 "$W/wt" | awk -v n="$n" '{printf "%.1f", ($1+$2)*1e6/n}')"
}

echo "name req/s cpu_us/req p99 client_us/req"
for r in $(seq "$R"); do
  if ((r % 2)); then run A "$A" "${ENVA:-}"; run B "$B" "${ENVB:-}"; else run B "$B" "${ENVB:-}"; run A "$A" "${ENVA:-}"; fi
done | tee "$W/out"
awk '{n[$1]++; r[$1] += $2; c[$1] += $3; p = $4; sub("ms", "", p); q[$1] += p; w[$1] += $5}
  END {for (k in n) printf "%s: %d rounds, mean %.0f req/s, %.1f µs/request, p99 %.2f ms, client %.1f µs/request\n", k, n[k], r[k] / n[k], c[k] / n[k], q[k] / n[k], w[k] / n[k]}' "$W/out" | sort
