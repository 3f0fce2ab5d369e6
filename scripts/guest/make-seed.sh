#!/usr/bin/env bash
# Builds a NoCloud seed ISO (ISO 9660 + Joliet + Rock Ridge, volume label "cidata") holding
# meta-data, user-data and network-config, for manual tests of the guest image.
#
#   scripts/guest/make-seed.sh OUT.iso META-DATA USER-DATA NETWORK-CONFIG
#
# Uses xorriso, or genisoimage when xorriso is missing (installs xorriso when neither is there).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 OUT.iso META-DATA USER-DATA NETWORK-CONFIG" >&2; exit 64; }
OUT=$1 META=$2 UD=$3 NET=$4
for f in "$META" "$UD" "$NET"; do [ -f "$f" ] || { echo "make-seed: no file $f" >&2; exit 1; }; done
if ! command -v xorriso >/dev/null && ! command -v genisoimage >/dev/null; then
  dpkg -s xorriso >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends xorriso >/dev/null </dev/null ||
      { apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends xorriso >/dev/null </dev/null; }
  }
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp "$META" "$T/meta-data"
cp "$UD" "$T/user-data"
cp "$NET" "$T/network-config"
mkdir -p "$(dirname "$OUT")"
if command -v xorriso >/dev/null; then
  xorriso -as mkisofs -quiet -o "$OUT.tmp" -V cidata -J -r "$T" 2>/dev/null
else
  genisoimage -quiet -o "$OUT.tmp" -volid cidata -joliet -rock "$T"
fi
chmod 644 "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
