#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first:
# Debian's nginx, uwsgi and uwsgi-plugin-python3, php-fpm, prometheus and
# chromium, the real peers of the interop tests (they are never skipped).
#
#   bash scripts/test.sh            # what CI runs (.ci/run calls exactly this)
#   FUZZTIME=2m bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME=${FUZZTIME:-20s}
PEERS=(nginx uwsgi uwsgi-plugin-python3 php-fpm prometheus chromium)

step() { printf '\n== %s\n' "$*"; }

step "peers: ${PEERS[*]}"
missing=()
for p in "${PEERS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  had_nginx=0; [ -s /run/nginx.pid ] && had_nginx=1
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # The nginx package starts a system nginx on port 80; the tests run their
  # own, so stop the one the install started.
  if [ "$had_nginx" = 0 ] && [ -s /run/nginx.pid ]; then
    $SUDO kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
  fi
fi
nginx -v 2>&1
uwsgi --version

# Docker (issue 12): the image test builds and runs the Dockerfile and
# compose.yaml. Install docker.io and docker-compose when missing and start dockerd when it is not running (CI runs
# as root without systemd), in the background with its own log.
step "docker engine"
docker_pkgs=()
command -v dockerd >/dev/null 2>&1 || docker_pkgs+=(docker.io)
{ docker compose version || docker-compose version; } >/dev/null 2>&1 || docker_pkgs+=(docker-compose)
if ((${#docker_pkgs[@]})); then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${docker_pkgs[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO sh -c 'setsid dockerd >/var/log/stack-test-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 /var/log/stack-test-dockerd.log; exit 1; }
fi
docker version -f 'docker engine {{.Server.Version}}'

# PostgreSQL and iproute2 for the many-hosts test (e2e/hosts_netns_test.go),
# which runs its own initdb cluster on a private port in a network
# namespace. The package's own cluster (port 5432) is not wanted: stop it
# if the install started it.
step "postgresql"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v ip >/dev/null; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq postgresql iproute2 >/dev/null
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      $SUDO pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  fi
fi
ls -d /usr/lib/postgresql/*/bin

# curl (Debian's, which decodes gzip, br and zstd) for the compression
# test (e2e/edge_compress_test.go): `curl --compressed` against the edge.
step "curl"
if ! command -v curl >/dev/null; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq curl >/dev/null
fi
curl --version | head -1

step "go vet"
go vet ./...

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go test -race (unit, end-to-end, interop)"
go test -race -count=1 -timeout 20m ./...

step "fuzz the uwsgi decoder for $FUZZTIME"
go test -run '^$' -fuzz '^FuzzReadRequest$' -fuzztime "$FUZZTIME" ./uwsgi

echo
echo "all tests passed"
