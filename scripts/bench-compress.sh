#!/usr/bin/env bash
# Compression on vs off (issue 10: no page may get slower when compression
# lands). Runs two `stack up` with the polls app (2 workers, debug off) and
# two with hello, identical but for edge.compression (off: gzip, zstd and
# precompressed all off, as before compression existed; on: gzip and zstd
# on, min_length 256, precompressed on), and measures each page through both
# in alternation, ROUNDS times, with wrk (2 threads, 64 connections), with
# and without a browser's Accept-Encoding. Prints the rates and CPU
# µs/request (every process of the stack, from /proc) and the on/off ratio.
# Only ratios inside one run mean anything on a busy machine.
#
#   bash scripts/bench-compress.sh
#   ROUNDS=5 DURATION=5s bash scripts/bench-compress.sh
#   ONLY='polls index none' ROUNDS=10 bash scripts/bench-compress.sh   # rows whose "page AE" matches
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-4s}
ROUNDS=${ROUNDS:-3}
PORT_OFF=${PORT_OFF:-18621}
PORT_ON=${PORT_ON:-18622}
PORT_HOFF=${PORT_HOFF:-18623}
PORT_HON=${PORT_HON:-18624}
AE='Accept-Encoding: gzip, deflate, br, zstd'
command -v wrk >/dev/null || { echo "bench-compress: wrk is missing (apt-get install wrk)" >&2; exit 1; }

W=$(mktemp -d /tmp/stack-bench-compress-XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$W/stack" ./cmd/stack
mkdir -p "$W/static"
head -c 1024 /dev/urandom >"$W/static/1k.bin"
head -c 1048576 /dev/urandom >"$W/static/1m.bin"
# 1 KiB of text: compressible, compressed on the fly when accepted.
head -c 1024 < <(yes 'static text, one kibibyte of it, compressible') >"$W/static/1k.txt"

config() { # NAME PORT APP COMPRESSION
  cat >"$W/$1.yaml" <<YAML
run_dir: $W/run/$1
admin: {listen: "", socket: ""}
edge:
  listen: ["127.0.0.1:$2"]
  compression: $4
  locations:
    - {path: /static/, root: $W/static}
    - {path: /, upstream: app}
appserver: {app: $3, processes: 2}
apps:
  polls: {debug: false, secret_key: bench-$RANDOM$RANDOM$RANDOM$RANDOM, allowed_hosts: ["127.0.0.1"]}
YAML
  setsid "$W/stack" up -c "$W/$1.yaml" --log-level warn >"$W/$1.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_$1" '%s' $!
}
config off $PORT_OFF polls '{gzip: false, zstd: false, precompressed: false}'
config on $PORT_ON polls '{gzip: true, zstd: true, min_length: 256}'
config hoff $PORT_HOFF hello '{gzip: false, zstd: false, precompressed: false}'
config hon $PORT_HON hello '{gzip: true, zstd: true, min_length: 256}'

tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
      { parent[$1] = $2 } END { in_tree[root] = 1
        do { added = 0; for (c in parent) if (!(c in in_tree) && (parent[c] in in_tree)) { in_tree[c] = 1; added = 1 } } while (added)
        for (c in in_tree) print c }'
}
cpu_ticks() {
  local total=0 p f
  for p in $(tree_pids "$1"); do
    f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
wait_http() {
  for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench-compress: $1 did not answer" >&2; cat "$W"/*.log >&2; exit 1
}

# run PID URL [HEADER]: one wrk run; prints "rps cpu_us_per_request".
run() {
  local pid=$1 url=$2 before after out reqs
  shift 2
  before=$(cpu_ticks "$pid")
  out=$(wrk -t2 -c64 -d"$DURATION" "$@" "$url")
  after=$(cpu_ticks "$pid")
  if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "bench-compress: errors on $url: $out" >&2; fi
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$out" | awk -v t=$(( (after - before) * 1000000 / HZ )) -v n="$reqs" '/^Requests\/sec/ {printf "%.0f %.1f\n", $2, n ? t / n : 0}'
}

echo "| page | Accept-Encoding | off rps | on rps | on/off rps | off CPU µs/req | on CPU µs/req | response bytes on |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
page() { # LABEL PATH OFFPORT ONPORT OFFPID ONPID AE?
  local label=$1 path=$2 po=$3 pn=$4 ido=$5 idn=$6 ae=${7:-}
  [[ "$label ${ae:-none}" =~ ${ONLY:-.} ]] || return 0
  local hdr=() r o_rps=0 o_cpu=0 n_rps=0 n_cpu=0 size
  [ -n "$ae" ] && hdr=(-H "$AE")
  wait_http "http://127.0.0.1:$po$path"; wait_http "http://127.0.0.1:$pn$path"
  wrk -t2 -c64 -d1s "${hdr[@]}" "http://127.0.0.1:$po$path" >/dev/null
  wrk -t2 -c64 -d1s "${hdr[@]}" "http://127.0.0.1:$pn$path" >/dev/null
  for i in $(seq 1 "$ROUNDS"); do
    # Off first in odd rounds, on first in even ones: neither always
    # follows the other.
    for which in $( ((i % 2)) && echo "off on" || echo "on off"); do
      if [ "$which" = off ]; then
        read -r r c < <(run "$ido" "http://127.0.0.1:$po$path" "${hdr[@]}"); o_rps=$((o_rps + r)); o_cpu=$(awk -v a=$o_cpu -v b=$c 'BEGIN {print a + b}')
      else
        read -r r c < <(run "$idn" "http://127.0.0.1:$pn$path" "${hdr[@]}"); n_rps=$((n_rps + r)); n_cpu=$(awk -v a=$n_cpu -v b=$c 'BEGIN {print a + b}')
      fi
    done
  done
  size=$(curl -s "${hdr[@]}" -o /dev/null -w '%{size_download}' "http://127.0.0.1:$pn$path")
  awk -v l="$label" -v ae="${ae:-none}" -v or=$o_rps -v nr=$n_rps -v oc=$o_cpu -v nc=$n_cpu -v k=$ROUNDS -v s=$size \
    'BEGIN {printf "| %s | %s | %.0f | %.0f | %.2f× | %.1f | %.1f | %s |\n", l, ae, or / k, nr / k, or ? nr / or : 0, oc / k, nc / k, s}'
}
for ae in "" browser; do
  page 'hello (14 B, below min_length)' / $PORT_HOFF $PORT_HON "$PID_hoff" "$PID_hon" "$ae"
  page 'polls index' /polls/ $PORT_OFF $PORT_ON "$PID_off" "$PID_on" "$ae"
  page 'static 1 KiB (.bin)' /static/1k.bin $PORT_OFF $PORT_ON "$PID_off" "$PID_on" "$ae"
  page 'static 1 KiB (.txt)' /static/1k.txt $PORT_OFF $PORT_ON "$PID_off" "$PID_on" "$ae"
  page 'static 1 MiB (.bin)' /static/1m.bin $PORT_OFF $PORT_ON "$PID_off" "$PID_on" "$ae"
done
