# shellcheck shell=bash
# Shared by scripts/demo and scripts/test: make sure what Imprint needs is installed and
# running, installing it on a Debian machine when we are root. Sourced, not run.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/imprint"
MIN_RUST="1.88"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || die "missing $*; install it with your package manager"
  say "installing $* (apt)"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# psql that never prompts for a password (a prompt would hang an unattended run).
pg_ok() { psql -w "$1" -qAtc 'select 1' </dev/null >/dev/null 2>&1; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

ensure_rust() {
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  command -v cc >/dev/null || apt_install build-essential
  command -v curl >/dev/null || apt_install curl ca-certificates
  local have=""
  command -v cargo >/dev/null && have="$(cargo --version | awk '{print $2}')"
  if [ -z "$have" ] || ! version_ge "$have" "$MIN_RUST"; then
    say "installing the Rust toolchain with rustup (found: ${have:-none}; need >= $MIN_RUST)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
      --component rustfmt,clippy || die "could not install Rust; see https://rustup.rs"
    . "$HOME/.cargo/env"
  fi
}

ensure_rust_components() {
  if command -v rustup >/dev/null; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
}

# PostgreSQL on 127.0.0.1:5432, installed and started when missing. Exports
# IMPRINT_TEST_POSTGRES_URL when the server needs a password (a fresh Debian install).
ensure_postgres() {
  local url="${IMPRINT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  command -v psql >/dev/null || apt_install postgresql postgresql-client
  if ! pg_ok "$url"; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      for dir in /etc/postgresql/*/; do
        local v
        v="$(basename "$dir")"
        say "starting PostgreSQL $v"
        as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
      done
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
  fi
  if ! pg_ok "$url"; then
    # A fresh install answers on TCP with password authentication: give the postgres role the
    # password "postgres" (over the local socket, as the postgres user) and use it. Only on a
    # server that had no working password-less access; say so.
    local pw_url="postgres://postgres:postgres@127.0.0.1:5432/postgres"
    if pg_ok "$pw_url"; then
      url="$pw_url"
    elif as_root su postgres -c "psql -w -qAtc \"ALTER USER postgres PASSWORD 'postgres'\"" </dev/null >/dev/null 2>&1 \
        && pg_ok "$pw_url"; then
      say "set the PostgreSQL role 'postgres' password to 'postgres' for the tests"
      url="$pw_url"
    else
      die "PostgreSQL does not answer at $url; set IMPRINT_TEST_POSTGRES_URL to a server the tests may create databases on"
    fi
  fi
  export IMPRINT_TEST_POSTGRES_URL="$url"
}

# RabbitMQ on 127.0.0.1:5672 with guest/guest, installed and started when missing. Tests make a
# vhost each with rabbitmqctl, so they need it on this machine.
ensure_rabbitmq() {
  command -v rabbitmqctl >/dev/null || apt_install rabbitmq-server
  if ! as_root rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
    say "starting RabbitMQ"
    as_root rabbitmq-server -detached >/dev/null 2>&1 || true
    as_root rabbitmqctl -q start_app >/dev/null 2>&1 || true
    as_root rabbitmqctl -q await_startup --timeout 90 >/dev/null 2>&1 \
      || die "RabbitMQ did not start; see /var/log/rabbitmq"
  fi
}

# A virtualenv with the contract test's Python packages, cached by the requirements' hash.
ensure_python() {
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  local req="$REPO/tests/contract/requirements.txt"
  local venv
  venv="$CACHE/venv-$(sha256sum "$req" | cut -c1-12)"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import grpc, grpc_tools, grpc_status, pika' 2>/dev/null; then
    say "installing the Python contract client (grpcio) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  fi
  export IMPRINT_PYTHON="$venv/bin/python"
}

# buf, from npm, for `buf lint` and the README's `buf curl` tour.
# kubectl, to render the Kubernetes manifests (kubectl kustomize); Debian's kubernetes-client.
ensure_kubectl() {
  command -v kubectl >/dev/null || apt_install kubernetes-client
}

# Debian's Chromium, which the widget test drives headless through playwright-core.
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
  IMPRINT_CHROMIUM="$(command -v chromium)"
  export IMPRINT_CHROMIUM
}

ensure_node_tools() {
  command -v npm >/dev/null || apt_install nodejs npm
  # Reinstall whenever the lock file changes (a stamp records the one installed).
  local stamp="$REPO/tools/node_modules/.imprint-lock"
  if [ ! -x "$REPO/tools/node_modules/.bin/buf" ] || ! cmp -s "$REPO/tools/package-lock.json" "$stamp"; then
    say "installing buf and playwright-core (npm)"
    (cd "$REPO/tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$REPO/tools/package-lock.json" "$stamp"
  fi
  export PATH="$REPO/tools/node_modules/.bin:$PATH"
}

# A Docker engine, from Debian's packages: docker.io (the daemon, containerd, runc), debootstrap
# for the base images and docker-compose. The daemon is started by hand when none answers (these
# machines have no init system to start it), with overlay2 storage, its log in
# /var/log/imprint-dockerd.log. Exports DOCKER and COMPOSE (the compose command line).
ensure_docker() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    missing+=(docker-compose)
  fi
  [ ${#missing[@]} -eq 0 ] || apt_install --no-install-recommends "${missing[@]}"
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: /var/log/imprint-dockerd.log)"
    as_root sh -c 'nohup dockerd --storage-driver overlay2 >>/var/log/imprint-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || die "dockerd did not start; see /var/log/imprint-dockerd.log"
  fi
  DOCKER=docker
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"; else COMPOSE="docker-compose"; fi
  export DOCKER COMPOSE
}
