#!/usr/bin/env bash
# `make bundles`: fills the etcd bundle's artifacts from Debian's etcd-server and etcd-client and
# records their checksums, which the platform verifies at start-up. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
for p in etcd-server etcd-client; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client >/dev/null; break; }
done
out=bundles/etcd/artifacts
mkdir -p "$out"
for bin in etcd etcdctl; do
  src=$(command -v "$bin" || true)
  [ -n "$src" ] || { echo "make bundles: $bin not found after installing etcd-server/etcd-client" >&2; exit 1; }
  if ! cmp -s "$src" "$out/$bin"; then install -m 0755 "$src" "$out/$bin"; fi
done
# Debian's etcd is linked against glibc, which the small guest image does not carry: the bundle
# brings the loader and libc, and the bundle scripts run etcd through that loader.
for lib in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/libc.so.6; do
  name=$(basename "$lib")
  if ! cmp -s "$(readlink -f "$lib")" "$out/$name"; then install -m 0755 "$(readlink -f "$lib")" "$out/$name"; fi
done
(cd "$out" && sha256sum etcd etcdctl ld-linux-x86-64.so.2 libc.so.6 >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "etcd bundle: $(cd "$out" && ./etcd --version | head -1)"
