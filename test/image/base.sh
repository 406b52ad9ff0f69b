#!/usr/bin/env bash
# The base images of the container image test, made here without a registry (none is reachable on the test
# machines): Debian bookworm from Debian's mirror with debootstrap, plus this machine's Node (its executable, npm and
# headers: Debian's own nodejs is too old). Two images, imported with `podman import`:
#   localhost/arbiter-base:runtime   minbase + ca-certificates + node            (stands for node:22-bookworm-slim)
#   localhost/arbiter-base:build     the same + python3, make, g++ + npm, headers (stands for node:22-bookworm)
# Made once per machine (kept while the Node version is the same: label arbiter.base.node).
#   test/image/base.sh            make them if missing; prints their names
# Needs root (debootstrap, chroot) and test/podman.sh's engine settings (CONTAINERS_CONF).
set -euo pipefail
MIRROR="${ARBITER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_VERSION="$(node --version)"
CONF="${ARBITER_PODMAN_DIR:-/tmp/arbiter-podman}/containers.conf"
pm() { CONTAINERS_CONF="$CONF" podman "$@"; }
log() { echo "base.sh: $*" >&2; }

have() { [ "$(pm image inspect --format '{{index .Labels "arbiter.base.node"}}' "$1" 2>/dev/null || true)" = "$NODE_VERSION" ]; }

if have localhost/arbiter-base:runtime && have localhost/arbiter-base:build; then
  echo localhost/arbiter-base:runtime localhost/arbiter-base:build
  exit 0
fi
command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
W="$(mktemp -d /tmp/arbiter-base-XXXXXX)"
trap 'rm -rf "$W"' EXIT
NODE_BIN="$(readlink -f "$(command -v node)")"

add_node() { # rootfs [with npm and headers]
  install -D -m 0755 "$NODE_BIN" "$1/usr/local/bin/node"
  if [ "${2:-}" = full ]; then
    mkdir -p "$1/usr/local/lib/node_modules" "$1/usr/local/include"
    cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$1/usr/local/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"
    [ -d /usr/include/node ] && cp -a /usr/include/node "$1/usr/local/include/node"
    # node-gyp (better-sqlite3 without a prebuilt binary) takes the headers from here rather than downloading them
    # the machine's trust store too (npm's cafile): a registry reached through a TLS-inspecting proxy is trusted as here
    cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
    mkdir -p "$1/root" && printf 'nodedir=/usr/local\ncafile=/etc/ssl/certs/ca-certificates.crt\n' > "$1/root/.npmrc"
  fi
}
import_rootfs() { # rootfs image
  tar -C "$1" -c . | pm import --change "LABEL arbiter.base.node=$NODE_VERSION" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -q - "$2" >/dev/null
  log "imported $2"
}

log "debootstrap bookworm (minbase) from $MIRROR…"
debootstrap --variant=minbase --include=ca-certificates bookworm "$W/root" "$MIRROR" >"$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log" >&2; exit 1; }
chroot "$W/root" apt-get clean
rm -rf "$W/root/var/lib/apt/lists/"* "$W/root/usr/share/doc/"* "$W/root/usr/share/man/"*
cp -a "$W/root" "$W/build"
add_node "$W/root"
import_rootfs "$W/root" localhost/arbiter-base:runtime

log "the build image: python3, make, g++…"
cp /etc/resolv.conf "$W/build/etc/resolv.conf"
chroot "$W/build" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*'
add_node "$W/build" full
import_rootfs "$W/build" localhost/arbiter-base:build
echo localhost/arbiter-base:runtime localhost/arbiter-base:build
