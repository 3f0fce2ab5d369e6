#!/usr/bin/env bash
# Installs what a fresh Debian bookworm machine with Node 20 is missing: Debian packages, then the
# npm dependencies (which compile the libvirt binding, so libvirt-dev must come first).
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(postgresql redis-server libvirt-dev libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  dnsmasq-base iptables nftables xorriso genisoimage busybox-static linux-image-cloud-amd64 etcd-server etcd-client
  pkg-config python3 make g++ iproute2 util-linux procps curl chromium openvswitch-common ovn-common ovn-central
  openvswitch-switch ovn-host ethtool iputils-ping postgresql-client-common redis-tools openssl jq cpio xz-utils zstd)
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
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[deps] npm ci" >&2
  SCARF_ANALYTICS=false npm ci --no-audit --no-fund
fi
# The libvirt binding: rebuilt when missing or older than its sources.
addon=native/libvirt/build/Release/kaas_libvirt.node
if [ ! -f "$addon" ] || [ -n "$(find native/libvirt/binding.gyp native/libvirt/src -newer "$addon" -print -quit)" ]; then
  echo "[deps] building the libvirt binding" >&2
  npm run --silent build:native >/dev/null
fi
