#!/usr/bin/env bash
# Benchmarks the stack side by side with its peers, on loopback, on this
# machine, and prints a markdown table (also saved with wrk's raw output in
# a results directory):
#
#   nginx → uWSGI → bare WSGI hello          stack up, app hello
#   nginx → uWSGI → Django template page     stack up, polls index (debug off)
#   nginx static 1 KiB and 1 MiB             stack up, the same files through the edge
#
# Each scenario: wrk, 2 threads, 64 connections, DURATION (default 10s).
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
# two instances do not both take port 8001); METRICS=off turns the admin
# surface, and with it the metrics, off.
METRICS=${METRICS:-on}
ADMIN='admin: {listen: ""}'
[ "$METRICS" = off ] && ADMIN='admin: {listen: "", socket: ""}'
RESULTS=${RESULTS:-$REPO/results/bench-$(date -u +%Y%m%dT%H%M%SZ)} # results/ is ignored by git
PORT_NGINX=${PORT_NGINX:-18601}
PORT_HELLO=${PORT_HELLO:-18602}
PORT_POLLS=${PORT_POLLS:-18603}
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
  printf -v "$name" '%s' $!
}

# cpu_ticks PID...: utime+stime of these processes and all their
# descendants, from /proc/PID/stat.
cpu_ticks() {
  local total=0 p f
  for p in $(ps -e -o pid=,ppid= | awk -v roots="$*" '
      BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) in_tree[r[i]] = 1 }
      { parent[$1] = $2 }
      END {
        do { added = 0
             for (c in parent) if (!(c in in_tree) && (parent[c] in in_tree)) { in_tree[c] = 1; added = 1 }
        } while (added)
        for (c in in_tree) print c
      }'); do
    # The fields after the command name (which may hold spaces): utime is
    # the 12th, stime the 13th.
    f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
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

# measure LABEL URL PID...: runs wrk against URL and adds a row to the table.
measure() {
  local label=$1 url=$2; shift 2
  wait_http "$url"
  wrk -t2 -c64 -d1s "$url" >/dev/null # warm-up
  local before after out reqs rps p99 errs slug
  slug=$(printf '%s' "$label" | tr -cs 'a-zA-Z0-9' '_')
  before=$(cpu_ticks "$@")
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "$url")
  after=$(cpu_ticks "$@")
  echo "$out" >"$RESULTS/wrk_$slug.txt"
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errs=$(echo "$out" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {n += $4 + $6 + $8 + $10} END {print n + 0}')
  local us=$(( (after - before) * 1000000 / HZ ))
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p99" \
    "$(awk -v us="$us" -v n="$reqs" 'BEGIN {printf "%.1f", n ? us / n : 0}')" "$errs" | tee -a "$TABLE"
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
    client_body_temp_path $W/nginx/body;
    uwsgi_temp_path $W/nginx/uwsgi;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    scgi_temp_path $W/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location /static/ { alias $W/static/; }
        location /django/ { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/django.sock; }
        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$W/hello.sock; }
    }
}
NGINX
  local uwsgi_common=(--plugin python3 --master --processes 2 --disable-logging --chmod-socket=666 --die-on-term)
  spawn NGINX nginx -p "$W/" -c "$W/nginx.conf" -e "$RESULTS/nginx-error.log"
  spawn UWSGI_HELLO uwsgi "${uwsgi_common[@]}" --socket "$W/hello.sock" --wsgi-file "$W/hello.py"
  spawn UWSGI_DJANGO uwsgi "${uwsgi_common[@]}" --socket "$W/django.sock" --wsgi-file "$W/djangopage.py"

  # The stack: two instances, one per app, each with 2 worker processes.
  cat >"$W/hello.yaml" <<YAML
run_dir: $W/run/hello
edge: {listen: ["127.0.0.1:$PORT_HELLO"]}
appserver: {app: hello, processes: 2}
$ADMIN
YAML
  cat >"$W/polls.yaml" <<YAML
run_dir: $W/run/polls
edge:
  listen: ["127.0.0.1:$PORT_POLLS"]
  locations:
    - {path: /static/, root: $W/static}
    - {path: /, upstream: app}
appserver: {app: polls, processes: 2}
$ADMIN
apps:
  polls: {debug: false, secret_key: bench-$RANDOM$RANDOM$RANDOM$RANDOM, allowed_hosts: ["127.0.0.1"]}
YAML
  spawn STACK_HELLO "$W/stack" up -c "$W/hello.yaml" --log-level warn
  spawn STACK_POLLS "$W/stack" up -c "$W/polls.yaml" --log-level warn

  local n="http://127.0.0.1:$PORT_NGINX" h="http://127.0.0.1:$PORT_HELLO" p="http://127.0.0.1:$PORT_POLLS"
  {
    echo "\`DURATION=$DURATION METRICS=$METRICS bash scripts/bench.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d); wrk -t2 -c64."
    echo
    echo '| scenario | req/s | p99 | CPU µs/request | errors |'
    echo '| --- | --- | --- | --- | --- |'
  } | tee "$TABLE"
  measure 'nginx → uWSGI → bare WSGI hello' "$n/" "$NGINX" "$UWSGI_HELLO"
  measure '**stack up, `hello`**' "$h/" "$STACK_HELLO"
  measure 'nginx → uWSGI → Django template page' "$n/django/" "$NGINX" "$UWSGI_DJANGO"
  measure '**stack up, polls index** (debug off)' "$p/polls/" "$STACK_POLLS"
  measure 'nginx static 1 KiB' "$n/static/1k.bin" "$NGINX"
  measure '**stack up, static 1 KiB**' "$p/static/1k.bin" "$STACK_POLLS"
  measure 'nginx static 1 MiB' "$n/static/1m.bin" "$NGINX"
  measure '**stack up, static 1 MiB**' "$p/static/1m.bin" "$STACK_POLLS"
  log "results in $RESULTS"
}

main "$@"
