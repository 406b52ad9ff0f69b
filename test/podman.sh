#!/usr/bin/env bash
# A private Podman API service (Docker Engine API on a unix socket) for the docker source's tests and benchmark.
# Recipe and Podman's differences from Docker: ../shared/TESTING.md.
#
#   test/podman.sh start     install Podman if missing (apt), start the service if not running, import the busybox
#                            image once; prints `export …` lines for the environment (eval "$(test/podman.sh start)")
#                            and writes them to $ARBITER_PODMAN_DIR/env as well
#   test/podman.sh stop      stop the service (containers keep running under conmon; `clean` removes them)
#   test/podman.sh clean     remove every container labelled arbiter.test (the service need not run)
#   test/podman.sh status    exit 0 when the service answers
#   test/podman.sh env       print the export lines again
#
# Everything lives in ARBITER_PODMAN_DIR (default /tmp/arbiter-podman): containers.conf, podman.sock, podman.pid,
# podman.log, env. The socket path stays the same across stop/start, so a client can reconnect to it.
# Messages go to stderr; stdout carries only the export lines.
set -euo pipefail

DIR="${ARBITER_PODMAN_DIR:-/tmp/arbiter-podman}"
SOCK="$DIR/podman.sock"
PIDFILE="$DIR/podman.pid"
CONF="$DIR/containers.conf"
IMAGE="localhost/busybox:latest"
SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

log() { echo "podman.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_podman() {
  if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && command -v conmon >/dev/null 2>&1 &&
    command -v iptables >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
    return
  fi
  command -v apt-get >/dev/null 2>&1 || { log "podman is not installed and there is no apt-get to install it"; exit 1; }
  # iptables: netavark sets up the default bridge network with it ("netavark: No such file or directory" without it)
  log "installing podman (apt-get, ~30 s)…"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq \
    podman runc conmon netavark aardvark-dns catatonit uidmap iptables curl >/dev/null
}

write_conf() {
  mkdir -p "$DIR"
  local hn
  hn="$(ulimit -Hn)"
  # runc: crun refuses the hybrid cgroup layout of this sandbox; ulimits within the hard limits;
  # events to a file (no journald here)
  cat > "$CONF" <<CONF
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=4096:4096"]
[engine]
runtime = "runc"
events_logger = "file"
CONF
}

podman_cli() {
  CONTAINERS_CONF="$CONF" podman "$@"
}

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && [ -S "$SOCK" ] &&
    curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
}

import_busybox() {
  if podman_cli image exists "$IMAGE"; then return; fi
  log "importing $IMAGE from Debian's busybox-static…"
  local t
  t="$(mktemp -d)"
  # the package lists may be missing or stale on a machine that already had Podman: update once and retry
  (cd "$t" && { apt-get download busybox-static >/dev/null 2>&1 || { as_root apt-get update -qq >&2 && apt-get download busybox-static >/dev/null; }; } &&
    dpkg-deb -x busybox-static_*.deb x)
  mkdir -p "$t"/rootfs/{bin,tmp,proc,sys,dev,etc}
  cp "$t/x/bin/busybox" "$t/rootfs/bin/"
  for a in $("$t/rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$t/rootfs/bin/$a"; done
  tar -C "$t/rootfs" -c . | podman_cli import -q - "$IMAGE" >/dev/null
  rm -rf "$t"
}

print_env() {
  cat <<ENV
export ARBITER_TEST_DOCKER_HOST=unix://$SOCK
export ARBITER_PODMAN_DIR=$DIR
export ARBITER_PODMAN_SCRIPT=$SCRIPT
ENV
}

start() {
  install_podman
  command -v curl >/dev/null 2>&1 || { log "curl is needed to check the service"; exit 1; }
  write_conf
  if ! running; then
    rm -f "$SOCK"
    # setsid: the service must outlive the shell that started it, and not get its signals
    CONTAINERS_CONF="$CONF" setsid podman system service --time=0 "unix://$SOCK" >>"$DIR/podman.log" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 100); do
      running && break
      sleep 0.1
    done
    running || { log "service did not come up; see $DIR/podman.log"; tail -5 "$DIR/podman.log" >&2; exit 1; }
    log "service up on unix://$SOCK (pid $(cat "$PIDFILE"))"
  fi
  import_busybox
  print_env > "$DIR/env"
  print_env
}

stop() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$PIDFILE"
  fi
  rm -f "$SOCK"
}

clean() {
  [ -f "$CONF" ] || write_conf
  local ids
  ids="$(podman_cli ps -aq --filter label=arbiter.test 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || podman_cli rm -f -t 0 $ids >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  clean) clean ;;
  status) running ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|clean|status|env" >&2; exit 2 ;;
esac
