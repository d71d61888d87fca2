#!/usr/bin/env bash
# idle_pss.sh: the idle memory of `stack up` as scripts/bench.sh measures it,
# process by process. It starts the stack as bench.sh's stack_yaml does
# (polls, debug off, 2 workers, access log off), waits for /polls/, sleeps
# 1 s and takes each process's PSS (fresh); then runs wrk -t2 -c64 on
# /polls/ and /polls/1/ (a 2 s warm-up and DURATION each, as bench.sh),
# sleeps 2 s and takes them again (after). Each process's PSS is split by
# kind from /proc/PID/smaps: anonymous memory (Go's heap, stacks and
# metadata, SQLite's heap), the binary's code, its read-only data and the
# rest. The binary's pages are shared by the three processes (one binary,
# no copy), and the kernel maps 64 KB around each page a process touches
# (fault-around): each process maps ~9 of the 10 MB of text and of
# read-only data, so these two kinds are ~19 MB of the total, fresh or
# after, and only a smaller binary lowers them.
#
#   go build -o /tmp/stack ./cmd/stack
#   STACK=/tmp/stack PORT=18199 DURATION=5s bash scripts/idle_pss.sh
#
# With --log-level debug (LOG_LEVEL=debug) each trim of internal/memtrim is
# in $RESULTS/stack.log, with the time the load ended after it.
set -euo pipefail
: "${STACK:?set STACK to the stack binary}"
PORT=${PORT:-18199}
DURATION=${DURATION:-5s}
W=$(mktemp -d /tmp/stack-idle-XXXXXX)
RESULTS=${RESULTS:-$W}
mkdir -p "$W/static" "$W/run"
cat >"$W/polls.yaml" <<YAML
run_dir: $W/run/polls
edge:
  listen: ["127.0.0.1:$PORT"]
  access_log: "off"
  locations:
    - path: /files/
      root: $W/static
    - path: /
      upstream: app
  upstreams:
    app:
      servers: ["unix:$W/run/polls/app.sock"]
appserver:
  listen: unix:$W/run/polls/app.sock
  app: polls
  processes: 2
admin: {listen: ""}
apps:
  polls:
    debug: false
    secret_key: idle-$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM
    allowed_hosts: ["127.0.0.1"]
YAML
cd "$W"
setsid "$STACK" up -c "$W/polls.yaml" --log-level "${LOG_LEVEL:-warn}" >"$RESULTS/stack.log" 2>&1 &
root=$!
trap 'kill $root 2>/dev/null; sleep 0.5; rm -rf "$W"' EXIT
u=http://127.0.0.1:$PORT
for _ in $(seq 150); do curl -fs -o /dev/null "$u/polls/" && break; sleep 0.1; done

# tree: the root and all its descendants (workers started by a worker or
# by a script would be missed by the root's children alone), as
# scripts/bench.sh's tree_pids counts them.
tree() {
  local p=$1
  echo "$p"
  for p in $(pgrep -P "$p"); do tree "$p"; done
}

# snapshot LABEL: one line per process, then the total (kB).
snapshot() {
  local total=0 p exe line
  for p in $(tree $root); do
    exe=$(readlink /proc/$p/exe)
    line=$(awk -v exe="$exe" '
      /^[0-9a-f]+-[0-9a-f]+ / { kind = "other"
        if ($6 == "") kind = "anon"
        else if ($6 == exe && $2 ~ /x/) kind = "text"
        else if ($6 == exe && $2 !~ /w/) kind = "rodata"
        else if ($6 ~ /^\[(heap|stack)\]$/) kind = "anon"
        next }
      /^Pss:/ { pss[kind] += $2; all += $2 }
      END { printf "%d anon=%d text=%d rodata=%d other=%d", all, pss["anon"], pss["text"], pss["rodata"], pss["other"] }' /proc/$p/smaps)
    total=$((total + ${line%% *}))
    printf '%s pid %s %-18s Pss %s kB\n' "$1" "$p" "$(tr '\0' ' ' </proc/$p/cmdline | awk '{print $2}')" "${line/ / kB: }"
  done
  echo "$1 total $total kB"
}

sleep 1
snapshot fresh
for path in /polls/ /polls/1/; do
  wrk -t2 -c64 -d2s "$u$path" >/dev/null
  wrk -t2 -c64 -d"$DURATION" "$u$path" | awk -v p="$path" '/^Requests\/sec/ {print "load", p, $2, "req/s"}'
done
echo "load ended $(date +%T.%N)"
sleep 2
snapshot after
