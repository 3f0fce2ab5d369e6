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

# The second version, etcd 3.5.16, comes from Debian's next release (trixie). apt downloads its
# packages with a configuration of its own (sources list, lists, archives under .data/apt-trixie):
# the machine's apt sources are left as they are. Its binaries need glibc 2.34, which the bundle's
# libc (Debian 12's 2.36) provides, so they share the loader and libc above.
next=v3.5.16
next_deb=3.5.16-4
apt_dir=$PWD/.data/apt-trixie
have_next() {
  local v
  [ -x "$out/$next/etcd" ] && [ -x "$out/$next/etcdctl" ] && [ -x "$out/$next/etcdutl" ] &&
    v=$("$out/$next/etcd" --version 2>/dev/null) && [[ $v == *"Version: ${next#v}"* ]]
}
if ! have_next; then
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc"
  echo "deb http://deb.debian.org/debian trixie main" >"$apt_dir/etc/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o APT::Architecture=amd64 -o APT::Sandbox::User=root -o Debug::NoLocking=1)
  if apt-get -qq "${apt_opts[@]}" update >/dev/null 2>&1 &&
    (cd "$apt_dir/archives" && apt-get -qq "${apt_opts[@]}" download "etcd-server=$next_deb" "etcd-client=$next_deb" >/dev/null 2>&1); then
    tmp=$(mktemp -d)
    for deb in "$apt_dir/archives/etcd-server_${next_deb}_amd64.deb" "$apt_dir/archives/etcd-client_${next_deb}_amd64.deb"; do
      dpkg-deb -x "$deb" "$tmp"
    done
    mkdir -p "$out/$next"
    for bin in etcd etcdutl etcdctl; do install -m 0755 "$tmp/usr/bin/$bin" "$out/$next/$bin"; done
    rm -rf "$tmp"
  else
    echo "make bundles: could not download etcd $next from Debian trixie; the bundle offers v3.4.23 only" >&2
  fi
fi
sums="etcd etcdctl ld-linux-x86-64.so.2 libc.so.6"
have_next && sums="$sums $next/etcd $next/etcdctl $next/etcdutl"
# shellcheck disable=SC2086 # the list of file names
(cd "$out" && sha256sum $sums >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "etcd bundle: $(cd "$out" && ./etcd --version | head -1)$(have_next && echo ", $("$out/$next/etcd" --version | head -1)")"
