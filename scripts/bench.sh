#!/usr/bin/env bash
# Benchmarks the stack side by side with its peers, on loopback, on this
# machine, and prints two markdown tables, every row and the ratios of each
# stack row to its peer (rate, servers' CPU, client's CPU and p99 ratios;
# also saved with wrk's raw output in a results directory):
#
#   nginx → uWSGI → bare WSGI hello          stack up, app hello (and with keepalive: 0, and edge.processes: 2)
#   nginx → uWSGI → Django template page     stack up, polls index and detail (debug off)
#   nginx → uWSGI → Python echo (16 conns)   stack up, app echo (and edge.processes: 2)
#   nginx static 1 KiB and 1 MiB             stack up, the same files through the edge
#   nginx in front of uWSGI (hello)          stack edge in front of the same uWSGI
#   nginx → uWSGI (hello)                    nginx in front of stack appserver (hello)
#
# Each scenario runs alone, as in the reference peers harness: its servers
# start, take a 2 s warm-up and DURATION (default 10s) of wrk with 2
# threads and 64 connections (echo: 16), and stop before the next starts.
# The whole set runs ROUNDS times (default 3), each peer next to the stack
# rows it is compared with, peer first in odd rounds and last in even ones
# (ABBA), so that a machine whose speed drifts over the minutes of a run
# moves both sides of a ratio alike. The tables give the median of the
# rounds, the ratio table each round's rate ratio too; every round's rows
# are in rounds.md. Each row with a goal of issue 10 is judged on its
# medians (its rate and CPU goals, and p99 ≤ the peer's), as are idle
# memory and start-up, and a last line counts the goals met and names
# those missed: the issue is done when two runs meet them all.
# The peers are the harness's: a bare WSGI hello without Content-Length,
# and Django 3.2 rendering a template with no apps, no middleware and no
# database. The stack is set up as the harness's target: 2 workers, debug
# off, access log off, the files under /files/ of the same instance.
# CPU µs/request is the utime+stime of every process of the scenario (the
# servers and all their children, from /proc) after minus before, divided
# by the requests wrk completed. uWSGI and the stack both run 2 worker
# processes. Client CPU µs/request is wrk's own utime+stime (bash's time)
# over the same requests: what the load generator paid for them, on the
# same CPUs, so a setup whose answers cost the client more serves fewer of
# them than its own CPU per request suggests. CPU idle is the share of the machine's CPU time (all CPUs)
# that neither the servers nor wrk used during the run. The table's
# header gives the machine's cost of waking a process (wake_rtt). Only
# ratios inside one run mean anything: the absolute figures depend on the
# machine and whatever else runs on it.
#
#   bash scripts/bench.sh
#   DURATION=3s ROUNDS=1 RESULTS=/tmp/bench bash scripts/bench.sh
#   METRICS=off bash scripts/bench.sh    # the stack without its admin surface and metrics
#
# Installs what is missing with apt: nginx, uwsgi, uwsgi-plugin-python3,
# wrk, python3-django.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS must be a whole number from 1 up" >&2; exit 2; }
# The stack's metrics are on (the admin on its control socket only, so the
# instances do not all take port 8001); METRICS=off turns the admin
# surface, and with it the metrics, off.
METRICS=${METRICS:-on}
ADMIN='admin: {listen: ""}'
[ "$METRICS" = off ] && ADMIN='admin: {listen: "", socket: ""}'
RESULTS=${RESULTS:-$REPO/results/bench-$(date -u +%Y%m%dT%H%M%SZ)} # results/ is ignored by git
PORT=${PORT:-18601} # every scenario in turn, alone
NEEDS=(nginx uwsgi uwsgi-plugin-python3 wrk python3-django)

log() { printf 'bench: %s\n' "$*" >&2; }

install_missing() {
  local missing=() p
  for p in "${NEEDS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  local had_nginx=0; [ -s /run/nginx.pid ] && had_nginx=1
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  # The package starts a system nginx on port 80; this script runs its own.
  if [ "$had_nginx" = 0 ] && [ -s /run/nginx.pid ]; then
    $sudo kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
  fi
}

# --- processes -------------------------------------------------------------

PIDS=()
# stop_all ends every process spawned so far (each its own session), and
# waits until the port is free for the next scenario.
stop_all() {
  local p i
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for i in $(seq 1 50); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  PIDS=()
  rm -f "$W"/*.sock
  sleep 0.5
}
cleanup() {
  stop_all
  rm -rf "$W"
}

# spawn NAME CMD...: runs CMD in a session (and process group) of its own,
# output to $RESULTS/NAME.log, and stores its pid in the variable NAME. A
# background job of a script is no group leader, so setsid makes the
# session in place instead of forking: $! is CMD itself.
spawn() {
  local name=$1; shift
  setsid "$@" >"$RESULTS/$name.log" 2>&1 &
  PIDS+=($!)
  disown $!
  printf -v "$name" '%s' $!
}

# cpu_ticks PID...: utime+stime of these processes and all their
# descendants, from /proc/PID/stat.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
      BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1 }
      { parent[$1] = $2 }
      END {
        do { added = 0
             for (c in parent) if (!(c in in_tree) && (parent[c] in in_tree)) { in_tree[c] = 1; added = 1 }
        } while (added)
        for (c in in_tree) print c
      }'
}

cpu_ticks() {
  local total=0 p f
  for p in $(tree_pids "$@"); do
    # The fields after the command name (which may hold spaces): utime is
    # the 12th, stime the 13th.
    f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# cpu_idle_ticks: the machine's idle and total jiffies so far, all CPUs
# (/proc/stat: idle and iowait count as idle).
cpu_idle_ticks() {
  awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print $5 + $6, t; exit}' /proc/stat
}

# pss_kb PID...: the proportional set size of these processes and their
# descendants, in kB (shared pages counted once across them).
pss_kb() {
  local total=0 p
  for p in $(tree_pids "$@"); do
    total=$((total + $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# startup_ms PORT N CMD_A -- PATH_A -- CMD_B -- PATH_B: the median time from
# starting each command to its first 200 on its path, N starts each, in
# ABBA order (A B B A A B ...) so that both see the same machine; prints
# the two medians.
startup_ms() {
  python3 - "$@" <<'PY'
import http.client, os, signal, subprocess, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
rest = sys.argv[3:]
cut = [i for i, a in enumerate(rest) if a == "--"]
cmds = {"A": (rest[:cut[0]], rest[cut[0] + 1]), "B": (rest[cut[1] + 1:cut[2]], rest[cut[2] + 1])}
took = {"A": [], "B": []}
def start(cmd, path):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while time.monotonic() - t0 < 30:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.002)
    ms = (time.monotonic() - t0) * 1000
    os.killpg(p.pid, signal.SIGTERM)
    p.wait()
    time.sleep(0.3)
    return ms
for i in range(n):
    for k in ("AB" if i % 2 == 0 else "BA"):
        took[k].append(start(*cmds[k]))
def median(v):
    v = sorted(v)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2
print("%.0f %.0f" % (median(took["A"]), median(took["B"])))
PY
}

wait_http() {
  local i
  for i in $(seq 1 150); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  log "$1 did not answer; see $RESULTS/*.log"; exit 1
}

# median V...: the median of numbers (the mean of the middle two for an
# even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR) printf "%.6g", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2}'
}

# --- the scenarios ---------------------------------------------------------

HZ=$(getconf CLK_TCK)
TABLE="$RESULTS/table.md"
ROUNDS_TABLE="$RESULTS/rounds.md"

# Every measurement, by label and round; LABELS keeps the first round's
# order for the table.
declare -A RPS CPU CLIENT P99 ERRS IDLE
LABELS=()
ROUND=1

# measure LABEL URL PID...: runs wrk against URL and records the rate, p99,
# CPU per request and errors of this round (a row of rounds.md). CONNS
# (default 64) is wrk's connection count.
measure() {
  local label=$1 url=$2; shift 2
  local conns=${CONNS:-64}
  wait_http "$url"
  wrk -t2 -c"$conns" -d2s "$url" >/dev/null # warm-up, as the reference harness
  local before after out reqs rps p99 errs slug
  slug=$(printf '%s' "$label" | tr -cs 'a-zA-Z0-9' '_')
  local idle0 all0 idle1 all1 idle
  before=$(cpu_ticks "$@")
  read -r idle0 all0 < <(cpu_idle_ticks)
  # wrk's CPU time as bash's time keyword reports it (its last line on
  # the group's stderr), in seconds with milliseconds.
  out=$( { TIMEFORMAT='%3U %3S'; time wrk -t2 -c"$conns" -d"$DURATION" --latency "$url"; } 2>"$W/wrk_time")
  read -r idle1 all1 < <(cpu_idle_ticks)
  after=$(cpu_ticks "$@")
  # The share of the machine's CPU time nobody used during the run: the
  # servers and wrk share the CPUs, so a setup cheaper per request than
  # its peer turns that into rate only if it keeps them busy.
  idle=$(awk -v i=$((idle1 - idle0)) -v t=$((all1 - all0)) 'BEGIN {printf "%.0f", t ? 100 * i / t : 0}')
  echo "$out" >"$RESULTS/wrk_${slug}_round$ROUND.txt"
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  # wrk prints the p99 as 950.00us, 4.87ms or 1.02s: kept in ms.
  p99=$(echo "$out" | awk '$1 == "99%" {v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /[0-9]s$/ && $2 !~ /ms$/) v *= 1000; else if ($2 ~ /m$/) v *= 60000; printf "%.2f", v}')
  errs=$(echo "$out" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {n += $4 + $6 + $8 + $10} END {print n + 0}')
  local us=$(( (after - before) * 1000000 / HZ )) cpu
  cpu=$(awk -v us="$us" -v n="$reqs" 'BEGIN {printf "%.1f", n ? us / n : 0}')
  local client
  client=$(tail -n 1 "$W/wrk_time" | awk -v n="$reqs" '{printf "%.1f", n ? ($1 + $2) * 1000000 / n : 0}')
  [ -n "${RPS[$label|1]+x}" ] || LABELS+=("$label")
  RPS[$label|$ROUND]=$rps CPU[$label|$ROUND]=$cpu CLIENT[$label|$ROUND]=$client P99[$label|$ROUND]=$p99 ERRS[$label|$ROUND]=$errs IDLE[$label|$ROUND]=$idle
  printf '| %s | %s | %s | %sms | %s | %s | %s%% | %s |\n' "$ROUND" "$label" "$rps" "$p99" "$cpu" "$client" "$idle" "$errs" | tee -a "$ROUNDS_TABLE" >&2
}

# of MAP LABEL: the label's values in MAP (RPS, CPU, CLIENT, P99, IDLE or ERRS), a round each.
of() {
  local -n m=$1
  local r
  for r in $(seq 1 "$ROUNDS"); do echo "${m[$2|$r]:-0}"; done
}

# scenario_row LABEL: a row of the table, the medians of the rounds (the
# errors summed).
scenario_row() {
  printf '| %s | %.0f | %.2fms | %.1f | %.1f | %.0f%% | %s |\n' "$1" "$(median $(of RPS "$1"))" "$(median $(of P99 "$1"))" \
    "$(median $(of CPU "$1"))" "$(median $(of CLIENT "$1"))" "$(median $(of IDLE "$1"))" "$(of ERRS "$1" | awk '{n += $1} END {print n + 0}')"
}

# ratio STACK_LABEL PEER_LABEL GOAL [MIN_RATE [MAX_CPU]]: a row of the
# ratio table: the median over the rounds of each round's ratios, each
# round's rate ratio, and with MIN_RATE the verdict on the row's goals.
ratio() {
  local s=$1 p=$2 goal=$3 min_rate=${4:-} max_cpu=${5:-} r rates=() cpus=() clients=() p99s=()
  for r in $(seq 1 "$ROUNDS"); do
    rates+=("$(awk -v a="${RPS[$s|$r]}" -v b="${RPS[$p|$r]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')")
    cpus+=("$(awk -v a="${CPU[$s|$r]}" -v b="${CPU[$p|$r]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')")
    clients+=("$(awk -v a="${CLIENT[$s|$r]}" -v b="${CLIENT[$p|$r]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')")
    p99s+=("$(awk -v a="${P99[$s|$r]}" -v b="${P99[$p|$r]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')")
  done
  local rate cpu p99 verdict=—
  rate=$(median "${rates[@]}") cpu=$(median "${cpus[@]}") p99=$(median "${p99s[@]}")
  if [ -n "$min_rate" ]; then
    # The goals of this row, on the medians as printed (two decimals), and
    # p99 ≤ 1× on every page with a goal.
    verdict=$(awk -v r="$rate" -v mr="$min_rate" -v c="$cpu" -v mc="$max_cpu" -v q="$p99" 'BEGIN {
      r = sprintf("%.2f", r) + 0; c = sprintf("%.2f", c) + 0; q = sprintf("%.2f", q) + 0
      if (r < mr) miss = miss ", rate"
      if (mc != "" && c > mc + 0) miss = miss ", CPU"
      if (q > 1) miss = miss ", p99"
      print miss == "" ? "met" : "**not met**: " substr(miss, 3) }')
    GOALS=$((GOALS + 1))
    if [ "$verdict" = met ]; then
      GOALS_MET=$((GOALS_MET + 1))
    else
      GOALS_MISSED+=("$s: ${verdict#\*\*not met\*\*: }")
    fi
  fi
  printf '| %s | %s | %.2f× | %.2f× | %.2f× | %.2f× | %s | %s | %s |\n' "$s" "$p" "$rate" "$cpu" \
    "$(median "${clients[@]}")" "$p99" "$goal" "$verdict" "$(printf '%s× ' "${rates[@]}" | sed 's/ $//; s/ / · /g')"
}

# GOALS counts the goals judged, GOALS_MET those met, GOALS_MISSED says
# which were not and why (ratio and the memory and start-up lines).
GOALS=0 GOALS_MET=0 GOALS_MISSED=()

# judge NAME VALUE MAX: one goal of the memory and start-up lines.
judge() {
  GOALS=$((GOALS + 1))
  if awk -v v="$2" -v m="$3" 'BEGIN {exit !(v + 0 <= m + 0)}'; then
    GOALS_MET=$((GOALS_MET + 1))
  else
    GOALS_MISSED+=("$1: $2, goal ≤ $3")
  fi
}

# The peers, as the reference harness sets them up: a bare WSGI hello (no
# Content-Length: nginx sends it chunked), and Django 3.2 with a template
# page and nothing else (no apps, no middleware, no database: the cheapest
# Django request there is).
write_peers() {
  cat >"$W/hello.py" <<'PY'
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/html')])
    return [b'<h1>Hello, web!</h1>']
PY
  cat >"$W/echo.py" <<'PY'
# The echo app's shape in Python: JSON of the request as the app saw it.
import hashlib, json
def application(environ, start_response):
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n else b""
    headers = {k[5:].replace("_", "-").title(): [v] for k, v in environ.items() if k.startswith("HTTP_")}
    out = json.dumps({"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
        "raw_path": environ.get("REQUEST_URI", ""), "query": environ.get("QUERY_STRING", ""),
        "headers": headers, "host": environ.get("HTTP_HOST", ""), "scheme": environ["wsgi.url_scheme"],
        "remote_addr": environ.get("REMOTE_ADDR", "") + ":" + environ.get("REMOTE_PORT", ""),
        "body_length": len(body), "body_sha256": hashlib.sha256(body).hexdigest()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
PY
  cat >"$W/templates/index.html" <<'HTML'
<!DOCTYPE html>
<html>
<head><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<ul>
{% for item in items %}  <li>{{ item }}</li>
{% endfor %}</ul>
</body>
</html>
HTML
  cat >"$W/djangopage.py" <<PY
# Django with a template page: no apps, no middleware, no database.
import django
from django.conf import settings
settings.configure(
    DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
    INSTALLED_APPS=[], MIDDLEWARE=[], DATABASES={}, USE_I18N=True, USE_TZ=True,
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": ["$W/templates"], "APP_DIRS": False, "OPTIONS": {"context_processors": []}}],
)
django.setup()
from django.shortcuts import render
from django.urls import path
ITEMS = ["item %d" % i for i in range(10)]
def index(request):
    return render(request, "index.html", {"title": "Hello, web!", "items": ITEMS})
urlpatterns = [path("", index)]
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
PY
}

# nginx_conf PORT LOCATIONS: an nginx.conf as the reference harness writes
# it, with one server on PORT.
nginx_conf() {
  local user=; [ "$(id -u)" = 0 ] && user="user www-data;"
  cat >"$W/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 2;
pid $W/nginx.pid;
error_log $RESULTS/nginx-error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    # As the reference harness and Debian's own nginx.conf: without them
    # nginx reads each file into a buffer and writes it.
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $W/nginx/body;
    uwsgi_temp_path $W/nginx/uwsgi;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    scgi_temp_path $W/nginx/scgi;
    server {
        listen 127.0.0.1:$1;
$2
    }
}
NGINX
}

uwsgi_pass() { printf '        location %s { include /etc/nginx/uwsgi_params; uwsgi_pass unix:%s; }\n' "$1" "$2"; }

# start_uwsgi NAME WSGI-FILE: one uWSGI (master and 2 workers) on $W/NAME.sock.
start_uwsgi() {
  spawn "$1" uwsgi --plugin python3 --master --processes 2 --disable-logging --chmod-socket=666 \
    --die-on-term --need-app --socket "$W/$1.sock" --wsgi-file "$2"
}

# stack_yaml NAME APP [EXTRA [EDGE_EXTRA]]: the stack as the goals measure it (the
# reference harness's stack-target): APP with debug off, 2 workers, access
# log off, the 1 KiB and 1 MiB files under /files/.
stack_yaml() {
  cat >"$W/$1.yaml" <<YAML
run_dir: $W/run/$1
edge:
  listen: ["127.0.0.1:$PORT"]
  access_log: "off"${4:-}
  locations:
    - path: /files/
      root: $W/static
    - path: /
      upstream: app
  upstreams:
    app:
      servers: ["unix:$W/run/$1/app.sock"]${3:-}
appserver:
  listen: unix:$W/run/$1/app.sock
  app: $2
  processes: 2
$ADMIN
apps:
  polls:
    debug: false
    secret_key: bench-$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM$RANDOM
    allowed_hosts: ["127.0.0.1"]
YAML
}

# The scenarios, each one setup measured alone: started, loaded, stopped.
# U is the URL of the port they take in turn.

peer_hello() {
  nginx_conf "$PORT" "$(uwsgi_pass / "$W/UWSGI.sock")"
  start_uwsgi UWSGI "$W/hello.py"; spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  measure 'nginx → uWSGI → bare WSGI hello' "$U/" "$NGINX" "$UWSGI"
  stop_all
}
stack_hello() {
  stack_yaml hello hello; spawn STACK "$W/stack" up -c "$W/hello.yaml" --log-level warn
  measure '**stack up, `hello`**' "$U/" "$STACK"
  stop_all
}
stack_hello_keepalive_off() {
  stack_yaml hello0 hello $'\n      keepalive: 0'; spawn STACK "$W/stack" up -c "$W/hello0.yaml" --log-level warn
  measure '**stack up, `hello`, keepalive: 0**' "$U/" "$STACK"
  stop_all
}
# The same with the edge in two processes (edge.processes: 2, nginx's
# worker_processes), each on one CPU's share; no goal, not the default.
EDGE2=$'\n  processes: 2'
stack_hello_edge2() {
  stack_yaml hello2 hello '' "$EDGE2"; spawn STACK "$W/stack" up -c "$W/hello2.yaml" --log-level warn
  measure '**stack up, `hello`, edge.processes: 2**' "$U/" "$STACK"
  stop_all
}
# One tier each: stack edge in front of uWSGI's hello, and nginx in front
# of stack appserver (hello).
edge_alone() {
  cat >"$W/edgealone.yaml" <<YAML
run_dir: $W/run/edgealone
edge:
  listen: ["127.0.0.1:$PORT"]
  access_log: "off"
  upstreams: {app: {servers: ["unix:$W/UWSGI.sock"]}}
$ADMIN
YAML
  start_uwsgi UWSGI "$W/hello.py"; spawn STACK "$W/stack" edge -c "$W/edgealone.yaml" --log-level warn
  measure '**stack edge** in front of uWSGI (hello)' "$U/" "$STACK" "$UWSGI"
  stop_all
}
appserver_alone() {
  cat >"$W/appalone.yaml" <<YAML
run_dir: $W/run/appalone
appserver: {listen: "unix:$W/appalone.sock", socket_mode: "0666", app: hello, processes: 2}
$ADMIN
YAML
  nginx_conf "$PORT" "$(uwsgi_pass / "$W/appalone.sock")"
  spawn STACK "$W/stack" appserver -c "$W/appalone.yaml" --log-level warn; spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  measure '**nginx in front of stack appserver** (hello)' "$U/" "$NGINX" "$STACK"
  stop_all
}

peer_django() {
  nginx_conf "$PORT" "$(uwsgi_pass / "$W/UWSGI_DJANGO.sock")"
  start_uwsgi UWSGI_DJANGO "$W/djangopage.py"; spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  measure 'nginx → uWSGI → Django template page' "$U/" "$NGINX" "$UWSGI_DJANGO"
  stop_all
}
# stack_polls also takes the idle memory: before the load and two seconds
# after it.
stack_polls() {
  stack_yaml polls polls; spawn STACK "$W/stack" up -c "$W/polls.yaml" --log-level warn
  wait_http "$U/polls/"
  sleep 1
  PSS_FRESH+=("$(pss_kb "$STACK")")
  measure '**stack up, polls index** (debug off)' "$U/polls/" "$STACK"
  measure '**stack up, polls detail** (debug off)' "$U/polls/1/" "$STACK"
  sleep 2
  PSS_AFTER+=("$(pss_kb "$STACK")")
  stop_all
}

peer_echo() {
  nginx_conf "$PORT" "$(uwsgi_pass / "$W/UWSGI_ECHO.sock")"
  start_uwsgi UWSGI_ECHO "$W/echo.py"; spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  CONNS=16 measure 'nginx → uWSGI → Python echo, 16 conns' "$U/echo/x?a=1" "$NGINX" "$UWSGI_ECHO"
  stop_all
}
stack_echo() {
  stack_yaml echo echo; spawn STACK "$W/stack" up -c "$W/echo.yaml" --log-level warn
  CONNS=16 measure '**stack up, `echo`, 16 conns**' "$U/echo/x?a=1" "$STACK"
  stop_all
}
stack_echo_edge2() {
  stack_yaml echo2 echo '' "$EDGE2"; spawn STACK "$W/stack" up -c "$W/echo2.yaml" --log-level warn
  CONNS=16 measure '**stack up, `echo`, 16 conns, edge.processes: 2**' "$U/echo/x?a=1" "$STACK"
  stop_all
}

nginx_static() {
  nginx_conf "$PORT" "        location /files/ { alias $W/static/; }"
  spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  measure 'nginx static 1 KiB' "$U/files/1k.bin" "$NGINX"
  measure 'nginx static 1 MiB' "$U/files/1m.bin" "$NGINX"
  stop_all
}
stack_static() {
  stack_yaml files polls; spawn STACK "$W/stack" up -c "$W/files.yaml" --log-level warn
  measure '**stack up, static 1 KiB**' "$U/files/1k.bin" "$STACK"
  measure '**stack up, static 1 MiB**' "$U/files/1m.bin" "$STACK"
  stop_all
}

# in_turn SCENARIO...: runs the scenarios in this order in odd rounds and
# in the reverse order in even ones.
in_turn() {
  local i
  if ((ROUND % 2)); then
    for i in "$@"; do "$i"; done
  else
    for ((i = $#; i >= 1; i--)); do "${!i}"; done
  fi
}

# wake_rtt: the mean round trip of a byte between two processes over two
# pipes, in µs, with both on one CPU and then on two: what waking a
# sleeping process costs here. On one CPU it is two context switches; on
# two, the other CPU has gone idle between the bytes, and waking it is up
# to the hypervisor (on the project's VM, 3-5 against 60-80 µs; on bare
# metal a few µs either way). Every request through three tiers wakes a
# process or two, and on 2 CPUs one is often idle: a machine whose idle
# CPUs wake slowly leaves both setups idle part of the time (bench's rows
# show it as a rate below what the CPU per request allows), and moves the
# ratios from one machine to another.
wake_rtt() {
  python3 - <<'PY'
import os, time
def rtt(cpus_a, cpus_b, n=20000):
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, cpus_b)
        for _ in range(n):
            os.read(a_r, 1)
            os.write(b_w, b"x")
        os._exit(0)
    os.sched_setaffinity(0, cpus_a)
    t = time.perf_counter()
    for _ in range(n):
        os.write(a_w, b"x")
        os.read(b_r, 1)
    dt = time.perf_counter() - t
    os.waitpid(pid, 0)
    for fd in (a_r, a_w, b_r, b_w):
        os.close(fd)
    return dt / n * 1e6
cpus = sorted(os.sched_getaffinity(0))
same = rtt({cpus[0]}, {cpus[0]})
print("%.1f %s" % (same, "%.1f" % rtt({cpus[0]}, {cpus[-1]}) if len(cpus) > 1 else "-"))
PY
}

main() {
  install_missing
  mkdir -p "$RESULTS"
  W=$(mktemp -d /tmp/stack-bench-XXXXXX)
  chmod 755 "$W" # nginx's workers (www-data when run as root) read files here
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  # The stack is built as the Docker image builds it (static, no cgo, no
  # PostgreSQL driver by default, stripped): the binary that runs in
  # production. Go's hello for the start-up ratio is built the same way.
  log "building the stack as the image does (CGO_ENABLED=0, -tags nopostgres)"
  CGO_ENABLED=0 go build -trimpath -tags nopostgres -ldflags "-s -w" -o "$W/stack" ./cmd/stack
  mkdir -p "$W/static" "$W/templates" "$W/nginx" "$W/run"
  head -c 1024 /dev/urandom >"$W/static/1k.bin"
  head -c 1048576 /dev/urandom >"$W/static/1m.bin"
  write_peers
  U="http://127.0.0.1:$PORT"
  local wake_same wake_across
  read -r wake_same wake_across < <(wake_rtt)
  PSS_FRESH=() PSS_AFTER=()
  {
    echo '| round | scenario | req/s | p99 | CPU µs/request | client CPU µs/request | CPU idle | errors |'
    echo '| --- | --- | --- | --- | --- | --- | --- | --- |'
  } >"$ROUNDS_TABLE"

  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    log "round $ROUND of $ROUNDS"
    in_turn peer_hello stack_hello stack_hello_edge2 stack_hello_keepalive_off edge_alone appserver_alone
    in_turn peer_django stack_polls
    in_turn peer_echo stack_echo stack_echo_edge2
    in_turn nginx_static stack_static
  done

  # Start-up: Go's bare net/http hello against stack up with polls, their
  # starts interleaved.
  cat >"$W/gohello.go" <<'GO'
package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, web!\n") })
	http.ListenAndServe(os.Args[1], nil)
}
GO
  (cd "$W" && go mod init gohello >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$W/gohello" .)
  stack_yaml startup polls
  local starts=$((ROUNDS * 2 + 1)) go_ms stack_ms
  read -r go_ms stack_ms < <(startup_ms "$PORT" "$starts" "$W/gohello" "127.0.0.1:$PORT" -- / -- \
    "$W/stack" up -c "$W/startup.yaml" --log-level warn -- /polls/)
  # And the topology it reproduces, started the same way: uWSGI loading the
  # Django page, nginx in front (one process group, as stack up).
  nginx_conf "$PORT" "$(uwsgi_pass / "$W/UWSGI_START.sock")"
  cat >"$W/peerstart.sh" <<SH
uwsgi --plugin python3 --master --processes 2 --disable-logging --chmod-socket=666 --die-on-term --need-app --socket "$W/UWSGI_START.sock" --wsgi-file "$W/djangopage.py" >/dev/null 2>&1 &
exec nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
SH
  local peer_ms stack2_ms
  read -r peer_ms stack2_ms < <(startup_ms "$PORT" "$starts" bash "$W/peerstart.sh" -- / -- \
    "$W/stack" up -c "$W/startup.yaml" --log-level warn -- /polls/)

  local pss_mb start_x
  pss_mb=$(median "${PSS_AFTER[@]}" | awk '{printf "%d", $1 / 1024}')
  start_x=$(awk -v a="$stack_ms" -v b="$go_ms" 'BEGIN {printf "%.1f", b ? a / b : 0}')
  local of_rounds="the median of $ROUNDS rounds"
  ((ROUNDS > 1)) || of_rounds="one round"
  {
    echo "\`DURATION=$DURATION ROUNDS=$ROUNDS METRICS=$METRICS bash scripts/bench.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d); wrk -t2 -c64, each scenario alone, $of_rounds (each round's rows in rounds.md). A pipe round trip between two processes: ${wake_same} µs on one CPU, ${wake_across} µs across two."
    echo
    echo '| scenario | req/s | p99 | CPU µs/request | client CPU µs/request | CPU idle | errors |'
    echo '| --- | --- | --- | --- | --- | --- | --- |'
    local l
    for l in "${LABELS[@]}"; do scenario_row "$l"; done
    echo
    echo "Idle, \`stack up\` with polls and 2 workers holds $(median "${PSS_FRESH[@]}" | awk '{printf "%d", $1 / 1024}') MB PSS before any load and $pss_mb MB two seconds after its runs (goal ≤ 30 MB; medians of the rounds, in kB: $(echo "${PSS_FRESH[*]}") and $(echo "${PSS_AFTER[*]}"))."
    echo "Start to first 200 (median of $starts, interleaved): Go's bare net/http hello ${go_ms} ms, \`stack up\` with polls and 2 workers ${stack_ms} ms, ${start_x}× (goal ≤ 2×). Against the topology it reproduces (again $starts interleaved): nginx → uWSGI → Django template page ${peer_ms} ms, \`stack up\` ${stack2_ms} ms, $(awk -v a="$stack2_ms" -v b="$peer_ms" 'BEGIN {printf "%.2f", b ? a / b : 0}')×."
    echo
    echo '| stack | peer | req/s ratio | CPU/request ratio | client CPU/request ratio | p99 ratio (goal ≤ 1×) | goal (issue 10) | verdict | req/s ratio of each round |'
    echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ratio '**stack up, `hello`**' 'nginx → uWSGI → bare WSGI hello' '≥ 1.25× rate, ≤ 0.8× CPU' 1.25 0.8
    ratio '**stack up, `hello`, edge.processes: 2**' 'nginx → uWSGI → bare WSGI hello' '(no goal: not the default)'
    ratio '**stack up, `hello`, keepalive: 0**' 'nginx → uWSGI → bare WSGI hello' '(no goal: keep-alive off)'
    ratio '**stack up, polls index** (debug off)' 'nginx → uWSGI → Django template page' '≥ 3× rate' 3
    ratio '**stack up, polls detail** (debug off)' 'nginx → uWSGI → Django template page' '≥ 3× rate' 3
    ratio '**stack up, `echo`, 16 conns**' 'nginx → uWSGI → Python echo, 16 conns' '≥ 1.5× rate' 1.5
    ratio '**stack up, `echo`, 16 conns, edge.processes: 2**' 'nginx → uWSGI → Python echo, 16 conns' '(no goal: not the default)'
    ratio '**stack up, static 1 KiB**' 'nginx static 1 KiB' '≥ 0.8× rate' 0.8
    ratio '**stack up, static 1 MiB**' 'nginx static 1 MiB' '≥ 0.9× rate' 0.9
    ratio '**stack edge** in front of uWSGI (hello)' 'nginx → uWSGI → bare WSGI hello' '≥ 1.0× rate, ≤ 1.0× CPU' 1.0 1.0
    ratio '**nginx in front of stack appserver** (hello)' 'nginx → uWSGI → bare WSGI hello' '≥ 1.0× rate' 1.0
    judge 'idle PSS after load (MB)' "$pss_mb" 30
    judge 'start to first 200, × Go hello' "$start_x" 2
    echo
    if ((GOALS_MET == GOALS)); then
      echo "Issue 10's goals: all $GOALS met in this run."
    else
      echo "Issue 10's goals: $GOALS_MET of $GOALS met in this run; not met: $(printf '%s; ' "${GOALS_MISSED[@]}" | sed 's/; $//')."
    fi
  } | tee "$TABLE"
  log "results in $RESULTS"
}

main "$@"
