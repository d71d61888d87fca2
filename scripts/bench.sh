#!/usr/bin/env bash
# Benchmarks the stack side by side with its peers, on loopback, on this
# machine, and prints two markdown tables, every row and the ratios of each
# stack row to its peer (also saved with wrk's raw output in a results
# directory):
#
#   nginx → uWSGI → bare WSGI hello          stack up, app hello (and with keepalive: 0)
#   nginx → uWSGI → Django template page     stack up, polls index and detail (debug off)
#   nginx → uWSGI → Python echo (16 conns)   stack up, app echo
#   nginx static 1 KiB and 1 MiB             stack up, the same files through the edge
#   nginx in front of uWSGI (hello)          stack edge in front of the same uWSGI
#   nginx → uWSGI (hello)                    nginx in front of stack appserver (hello)
#
# Each scenario: wrk, 2 threads, 64 connections (echo: 16), DURATION
# (default 10s).
# CPU µs/request is the utime+stime of every process of the scenario (the
# servers and all their children, from /proc) after minus before, divided
# by the requests wrk completed. uWSGI and the stack both run 2 worker
# processes. Only ratios inside one run mean anything: the absolute
# figures depend on the machine and whatever else runs on it.
#
#   bash scripts/bench.sh
#   DURATION=3s RESULTS=/tmp/bench bash scripts/bench.sh
#   METRICS=off bash scripts/bench.sh    # the stack without its admin surface and metrics
#
# Installs what is missing with apt: nginx, uwsgi, uwsgi-plugin-python3,
# wrk, python3-django.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

DURATION=${DURATION:-10s}
# The stack's metrics are on (the admin on its control socket only, so the
# instances do not all take port 8001); METRICS=off turns the admin
# surface, and with it the metrics, off.
METRICS=${METRICS:-on}
ADMIN='admin: {listen: ""}'
[ "$METRICS" = off ] && ADMIN='admin: {listen: "", socket: ""}'
RESULTS=${RESULTS:-$REPO/results/bench-$(date -u +%Y%m%dT%H%M%SZ)} # results/ is ignored by git
PORT_NGINX=${PORT_NGINX:-18601}
PORT_HELLO=${PORT_HELLO:-18602}
PORT_POLLS=${PORT_POLLS:-18603}
PORT_ECHO=${PORT_ECHO:-18604}
PORT_EDGE=${PORT_EDGE:-18605}
PORT_NGX_APP=${PORT_NGX_APP:-18606}
PORT_HELLO0=${PORT_HELLO0:-18607}
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
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
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

# pss_kb PID...: the proportional set size of these processes and their
# descendants, in kB (shared pages counted once across them).
pss_kb() {
  local total=0 p
  for p in $(tree_pids "$@"); do
    total=$((total + $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# startup_ms PORT PATH CMD...: median over 5 starts of the time from
# starting CMD to its first 200 on PATH.
startup_ms() {
  python3 - "$@" <<'PY'
import http.client, os, signal, subprocess, sys, time
port, path, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
took = []
for _ in range(5):
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
    took.append((time.monotonic() - t0) * 1000)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait()
    time.sleep(0.3)
print("%.0f" % sorted(took)[2])
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

# --- the scenarios ---------------------------------------------------------

HZ=$(getconf CLK_TCK)
TABLE="$RESULTS/table.md"

declare -A RPS CPU P99

# measure LABEL URL PID...: runs wrk against URL and adds a row to the table.
# CONNS (default 64) is wrk's connection count.
measure() {
  local label=$1 url=$2; shift 2
  local conns=${CONNS:-64}
  wait_http "$url"
  wrk -t2 -c"$conns" -d1s "$url" >/dev/null # warm-up
  local before after out reqs rps p99 errs slug
  slug=$(printf '%s' "$label" | tr -cs 'a-zA-Z0-9' '_')
  before=$(cpu_ticks "$@")
  out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency "$url")
  after=$(cpu_ticks "$@")
  echo "$out" >"$RESULTS/wrk_$slug.txt"
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {n += $4 + $6 + $8 + $10} END {print n + 0}')
  local us=$(( (after - before) * 1000000 / HZ )) cpu
  cpu=$(awk -v us="$us" -v n="$reqs" 'BEGIN {printf "%.1f", n ? us / n : 0}')
  RPS[$label]=$rps CPU[$label]=$cpu P99[$label]=$p99
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p99" "$cpu" "$errs" | tee -a "$TABLE"
}

# ratio STACK_LABEL PEER_LABEL GOAL: a row of the ratio table.
ratio() {
  local s=$1 p=$2 goal=$3
  printf '| %s | %s | %s | %s | %s |\n' "$s" "$p" \
    "$(awk -v a="${RPS[$s]}" -v b="${RPS[$p]}" 'BEGIN {printf "%.2f×", b ? a / b : 0}')" \
    "$(awk -v a="${CPU[$s]}" -v b="${CPU[$p]}" 'BEGIN {printf "%.2f×", b ? a / b : 0}')" "$goal" | tee -a "$TABLE"
}

main() {
  install_missing
  mkdir -p "$RESULTS"
  W=$(mktemp -d /tmp/stack-bench-XXXXXX)
  chmod 755 "$W" # nginx's workers (nobody when run as root) read files here
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  log "building the stack"
  go build -o "$W/stack" ./cmd/stack

  # Static files and the two WSGI apps.
  mkdir -p "$W/static" "$W/templates" "$W/nginx" "$W/run"
  head -c 1024 /dev/urandom >"$W/static/1k.bin"
  head -c 1048576 /dev/urandom >"$W/static/1m.bin"
  cat >"$W/hello.py" <<'PY'
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"Hello, web!\n"]
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
<!doctype html><html><head><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1><ul>{% for q in questions %}<li><a href="/polls/{{ q.id }}/">{{ q.text }}</a></li>{% endfor %}</ul>
</body></html>
HTML
  cat >"$W/djangopage.py" <<PY
# Django with a template page and the usual middleware, no apps, no database.
import django
from django.conf import settings
settings.configure(
    DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                "django.middleware.common.CommonMiddleware",
                "django.middleware.clickjacking.XFrameOptionsMiddleware"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": ["$W/templates"]}],
)
django.setup()
from django.shortcuts import render
from django.urls import path
def index(request):
    qs = [{"id": i, "text": "Question %d?" % i} for i in range(5)]
    return render(request, "index.html", {"title": "Polls", "questions": qs})
urlpatterns = [path("django/", index)]
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
PY

  cat >"$W/nginx.conf" <<NGINX
daemon off;
worker_processes 2;
user $(id -un);
pid $W/nginx.pid;
error_log $RESULTS/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    # As the reference peers harness and Debian's own nginx.conf: without
    # them nginx reads each file into a buffer and writes it.
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $W/nginx/body;
    uwsgi_temp_path $W/nginx/uwsgi;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    scgi_temp_path $W/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location /static/ { alias $W/static/; }
        location /django/ { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/django.sock; }
        location /echo/ { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/echo.sock; }
        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/hello.sock; }
    }
    server {
        # nginx in front of stack appserver (the one-tier row).
        listen 127.0.0.1:$PORT_NGX_APP;
        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/run/appalone/app.sock; }
    }
}
NGINX
  local uwsgi_common=(--plugin python3 --master --processes 2 --disable-logging --chmod-socket=666 --die-on-term)
  spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  spawn UWSGI_HELLO uwsgi "${uwsgi_common[@]}" --socket "$W/hello.sock" --wsgi-file "$W/hello.py"
  spawn UWSGI_DJANGO uwsgi "${uwsgi_common[@]}" --socket "$W/django.sock" --wsgi-file "$W/djangopage.py"
  spawn UWSGI_ECHO uwsgi "${uwsgi_common[@]}" --socket "$W/echo.sock" --wsgi-file "$W/echo.py"

  # The stack: two instances, one per app, each with 2 worker processes.
  cat >"$W/hello.yaml" <<YAML
run_dir: $W/run/hello
edge: {listen: ["127.0.0.1:$PORT_HELLO"], access_log: "off"}
appserver: {app: hello, processes: 2}
$ADMIN
YAML
  cat >"$W/polls.yaml" <<YAML
run_dir: $W/run/polls
edge:
  listen: ["127.0.0.1:$PORT_POLLS"]
  access_log: "off"
  locations:
    - {path: /static/, root: $W/static}
    - {path: /, upstream: app}
appserver: {app: polls, processes: 2}
$ADMIN
apps:
  polls: {debug: false, secret_key: bench-$RANDOM$RANDOM$RANDOM$RANDOM, allowed_hosts: ["127.0.0.1"]}
YAML
  cat >"$W/hello0.yaml" <<YAML
run_dir: $W/run/hello0
edge:
  listen: ["127.0.0.1:$PORT_HELLO0"]
  access_log: "off"
  upstreams: {app: {servers: ["unix:$W/run/hello0/app.sock"], keepalive: 0}}
appserver: {listen: "unix:$W/run/hello0/app.sock", app: hello, processes: 2}
$ADMIN
YAML
  cat >"$W/echo.yaml" <<YAML
run_dir: $W/run/echo
edge: {listen: ["127.0.0.1:$PORT_ECHO"], access_log: "off"}
appserver: {app: echo, processes: 2}
$ADMIN
YAML
  # One tier each: stack edge in front of the uWSGI hello, and stack
  # appserver (hello) behind nginx.
  cat >"$W/edgealone.yaml" <<YAML
run_dir: $W/run/edgealone
edge:
  listen: ["127.0.0.1:$PORT_EDGE"]
  access_log: "off"
  upstreams: {app: {servers: ["unix:$W/hello.sock"]}}
$ADMIN
YAML
  cat >"$W/appalone.yaml" <<YAML
run_dir: $W/run/appalone
appserver: {listen: "unix:$W/run/appalone/app.sock", socket_mode: "0666", app: hello, processes: 2}
$ADMIN
YAML
  spawn STACK_HELLO "$W/stack" up -c "$W/hello.yaml" --log-level warn
  spawn STACK_HELLO0 "$W/stack" up -c "$W/hello0.yaml" --log-level warn
  spawn STACK_POLLS "$W/stack" up -c "$W/polls.yaml" --log-level warn
  spawn STACK_ECHO "$W/stack" up -c "$W/echo.yaml" --log-level warn
  spawn STACK_EDGE "$W/stack" edge -c "$W/edgealone.yaml" --log-level warn
  spawn STACK_APP "$W/stack" appserver -c "$W/appalone.yaml" --log-level warn

  local n="http://127.0.0.1:$PORT_NGINX" h="http://127.0.0.1:$PORT_HELLO" p="http://127.0.0.1:$PORT_POLLS"
  wait_http "$p/polls/"
  sleep 1
  PSS_FRESH=$(pss_kb "$STACK_POLLS")
  local h0="http://127.0.0.1:$PORT_HELLO0" e="http://127.0.0.1:$PORT_ECHO"
  local ea="http://127.0.0.1:$PORT_EDGE" na="http://127.0.0.1:$PORT_NGX_APP"
  {
    echo "\`DURATION=$DURATION METRICS=$METRICS bash scripts/bench.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d); wrk -t2 -c64."
    echo
    echo '| scenario | req/s | p99 | CPU µs/request | errors |'
    echo '| --- | --- | --- | --- | --- |'
  } | tee "$TABLE"
  measure 'nginx → uWSGI → bare WSGI hello' "$n/" "$NGINX" "$UWSGI_HELLO"
  measure '**stack up, `hello`**' "$h/" "$STACK_HELLO"
  measure '**stack up, `hello`, keepalive: 0**' "$h0/" "$STACK_HELLO0"
  measure 'nginx → uWSGI → Django template page' "$n/django/" "$NGINX" "$UWSGI_DJANGO"
  measure '**stack up, polls index** (debug off)' "$p/polls/" "$STACK_POLLS"
  measure '**stack up, polls detail** (debug off)' "$p/polls/1/" "$STACK_POLLS"
  CONNS=16 measure 'nginx → uWSGI → Python echo, 16 conns' "$n/echo/x?a=1" "$NGINX" "$UWSGI_ECHO"
  CONNS=16 measure '**stack up, `echo`, 16 conns**' "$e/echo/x?a=1" "$STACK_ECHO"
  measure 'nginx static 1 KiB' "$n/static/1k.bin" "$NGINX"
  measure '**stack up, static 1 KiB**' "$p/static/1k.bin" "$STACK_POLLS"
  measure 'nginx static 1 MiB' "$n/static/1m.bin" "$NGINX"
  measure '**stack up, static 1 MiB**' "$p/static/1m.bin" "$STACK_POLLS"
  measure '**stack edge** in front of uWSGI (hello)' "$ea/" "$STACK_EDGE" "$UWSGI_HELLO"
  measure '**nginx in front of stack appserver** (hello)' "$na/" "$NGINX" "$STACK_APP"
  # Memory at rest (before the load, PSS_FRESH, and after it) and start-up.
  sleep 2
  local pss go_ms stack_ms
  pss=$(pss_kb "$STACK_POLLS")
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
  (cd "$W" && go mod init gohello >/dev/null 2>&1 && go build -o "$W/gohello" .)
  go_ms=$(startup_ms 18608 / "$W/gohello" 127.0.0.1:18608)
  sed "s/$PORT_POLLS/18609/; s|run_dir: .*|run_dir: $W/run/startup|" "$W/polls.yaml" >"$W/startup.yaml"
  stack_ms=$(startup_ms 18609 /polls/ "$W/stack" up -c "$W/startup.yaml" --log-level warn)
  {
    echo
    echo "Idle, \`stack up\` with polls and 2 workers holds $((PSS_FRESH / 1024)) MB PSS before any load and $((pss / 1024)) MB two seconds after its runs (goal ≤ 30 MB)."
    echo "Start to first 200 (median of 5): Go's bare net/http hello ${go_ms} ms, \`stack up\` with polls and 2 workers ${stack_ms} ms, $(awk -v a="$stack_ms" -v b="$go_ms" 'BEGIN {printf "%.1f", b ? a / b : 0}')× (goal ≤ 2×)."
  } | tee -a "$TABLE"
  {
    echo
    echo '| stack | peer | req/s ratio | CPU/request ratio | goal (issue 10) |'
    echo '| --- | --- | --- | --- | --- |'
  } | tee -a "$TABLE"
  ratio '**stack up, `hello`**' 'nginx → uWSGI → bare WSGI hello' '≥ 1.25× rate, ≤ 0.8× CPU'
  ratio '**stack up, `hello`, keepalive: 0**' 'nginx → uWSGI → bare WSGI hello' '(no goal: keep-alive off)'
  ratio '**stack up, polls index** (debug off)' 'nginx → uWSGI → Django template page' '≥ 3× rate'
  ratio '**stack up, polls detail** (debug off)' 'nginx → uWSGI → Django template page' '≥ 3× rate'
  ratio '**stack up, `echo`, 16 conns**' 'nginx → uWSGI → Python echo, 16 conns' '≥ 1.5× rate'
  ratio '**stack up, static 1 KiB**' 'nginx static 1 KiB' '≥ 0.8× rate'
  ratio '**stack up, static 1 MiB**' 'nginx static 1 MiB' '≥ 0.9× rate'
  ratio '**stack edge** in front of uWSGI (hello)' 'nginx → uWSGI → bare WSGI hello' '≥ 1.0× rate, ≤ 1.0× CPU'
  ratio '**nginx in front of stack appserver** (hello)' 'nginx → uWSGI → bare WSGI hello' '≥ 1.0× rate'
  log "results in $RESULTS"
}

main "$@"
