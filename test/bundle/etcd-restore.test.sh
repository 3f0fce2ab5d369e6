#!/usr/bin/env bash
# A cluster created from a backup, without a guest: a real etcd (the bundle's binaries, through its
# glibc loader, TLS from a cluster CA made here) gets keys and an `etcdctl snapshot save`; then the
# bundle's master.sh restores that snapshot the way the initial master's user-data runs it
# (common.sh and master.sh sourced under busybox sh and dash with `set -u`, KAAS_* as the
# user-data exports them, KAAS_RESTORE_FILE naming the snapshot on the seed, KAAS_RESTORE_SHA256
# its checksum). Only the data disk is a stand-in (a directory). Checked:
#  - the restored member starts and turns ready, reads back the keys (and not what was written
#    after the snapshot), is the only member, under this node's name and peer URL; the status
#    details carry "restoredFrom":"<sha256>";
#  - running the user-data again changes nothing; after etcd and its supervisor are stopped (a
#    reboot), it restarts from the data directory without restoring again, still reporting
#    restoredFrom, with a key written after the restore;
#  - with the seed not mounted where the image puts it, the medium labelled cidata is mounted
#    read-only for the copy (findfs and the mount of that device are stand-ins) and unmounted;
#  - a wrong sha256, a snapshot that fails etcd's own integrity check, a file missing from the
#    seed: the node reports "failed" with the reason and starts no etcd (no member, no process).
#
#   test/bundle/etcd-restore.test.sh      (any user with namespaces; about 15 s; no network, no VMs)
#
# etcd's ports are fixed (2379, 2380, 2381 for metrics): the test runs in network, mount and PID
# namespaces of its own, so it never meets another etcd and leaves no process behind.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
for c in dash busybox jq openssl unshare ip sha256sum; do
  command -v $c >/dev/null || { echo "missing tool: $c" >&2; exit 2; }
done
ART=${KAAS_ETCD_ARTIFACTS:-$ROOT/bundles/etcd/artifacts}
SCRIPTS=${KAAS_ETCD_SCRIPTS:-$ROOT/bundles/etcd/scripts}
for f in etcd etcdctl ld-linux-x86-64.so.2 libc.so.6; do
  [ -f "$ART/$f" ] || { echo "no $ART/$f: run scripts/bundles.sh first" >&2; exit 2; }
done

if [ -z "${KAAS_RT_INNER:-}" ]; then
  ns=(--net --mount --pid --fork --mount-proc)
  [ "$(id -u)" = 0 ] || ns=(--map-root-user "${ns[@]}")
  KAAS_RT_INNER=1 exec unshare "${ns[@]}" bash "$0" "$@"
fi
ip link set lo up

W=$(mktemp -d /tmp/kaas-etcd-restore-test.XXXXXX)
SRC_PID=
stop_node() { # DIR: stops the node's supervisor, then its etcd, and waits for both
  local p f
  for f in "$1/state/supervisor.pid" "$1/state/etcd.pid"; do
    [ -f "$f" ] || continue
    read -r p <"$f"
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  done
}
cleanup() {
  set +e
  for d in "$W"/node-*; do [ -d "$d" ] && stop_node "$d"; done
  [ -n "$SRC_PID" ] && kill "$SRC_PID" 2>/dev/null && wait "$SRC_PID" 2>/dev/null
  if [ "${KAAS_RT_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# ---- PKI and the bundle's programs (through its loader, as on the guest) ----------------------
pki_ca "$W/pki" restore-test
pki_cert "$W/pki" "$W/pki" node m1 "" 1 "$(node_sans m1 127.0.0.1)"
glibc() { "$ART/ld-linux-x86-64.so.2" --library-path "$ART" "$@"; }
TLS=(--cacert "$W/pki/ca.crt" --cert "$W/pki/node.crt" --key "$W/pki/node.key")
ctl() { # PORT ARGS...: etcdctl against 127.0.0.1:PORT with the node's certificate
  local port=$1
  shift
  ETCDCTL_API=3 glibc "$ART/etcdctl" --endpoints="https://127.0.0.1:$port" "${TLS[@]}" --dial-timeout 2s "$@"
}
wait_healthy() { # PORT
  for _ in $(seq 100); do ctl "$1" endpoint health >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# ---- the backup: a cluster of its own (other ports), keys, a snapshot -------------------------
P="$W/pki"
glibc "$ART/etcd" --name src --data-dir "$W/src" \
  --listen-client-urls https://127.0.0.1:12379 --advertise-client-urls https://127.0.0.1:12379 \
  --listen-peer-urls https://127.0.0.1:12380 --initial-advertise-peer-urls https://127.0.0.1:12380 \
  --initial-cluster src=https://127.0.0.1:12380 --initial-cluster-token src-cluster \
  --client-cert-auth --trusted-ca-file "$P/ca.crt" --cert-file "$P/node.crt" --key-file "$P/node.key" \
  --peer-client-cert-auth --peer-trusted-ca-file "$P/ca.crt" --peer-cert-file "$P/node.crt" \
  --peer-key-file "$P/node.key" --logger zap --log-outputs stderr >"$W/src.log" 2>&1 &
SRC_PID=$!
wait_healthy 12379 || { tail -n 5 "$W/src.log"; echo "the source etcd did not start" >&2; exit 1; }
BIG=$(head -c 48000 /dev/urandom | base64 -w0)
ctl 12379 put /kaas/a alpha >/dev/null
ctl 12379 put /kaas/b 'a value, with spaces' >/dev/null
ctl 12379 put /kaas/big "$BIG" >/dev/null
ctl 12379 put /kaas/gone soon >/dev/null
ctl 12379 del /kaas/gone >/dev/null
mkdir -p "$W/seed" "$W/seed-medium" "$W/empty"
ctl 12379 snapshot save "$W/seed/etcd-snapshot.db" >"$W/snapshot.log" 2>&1
ctl 12379 put /kaas/after-snapshot later >/dev/null
kill "$SRC_PID"; wait "$SRC_PID" 2>/dev/null || true; SRC_PID=
SHA=$(sha256sum "$W/seed/etcd-snapshot.db" | cut -d' ' -f1)
cp "$W/seed/etcd-snapshot.db" "$W/seed-medium/"
# a snapshot that etcd's own check refuses (its trailing sha256 no longer matches), and its checksum
cp "$W/seed/etcd-snapshot.db" "$W/seed/corrupt.db"
printf 'kaas' | dd of="$W/seed/corrupt.db" bs=1 seek=20000 conv=notrunc 2>/dev/null
SHA_CORRUPT=$(sha256sum "$W/seed/corrupt.db" | cut -d' ' -f1)

# ---- the node -------------------------------------------------------------------------------------
# Stand-ins for the guest's seed medium lookup: findfs knows one device labelled cidata (once
# $W/cidata-attached exists), and a mount of that device (recorded) bind-mounts the medium's files;
# any other mount is the real one. Under dash only: busybox sh runs its own applets first.
mkdir -p "$W/bin"
cat >"$W/bin/findfs" <<EOF
#!/bin/sh
[ "\$1" = LABEL=cidata ] && [ -e "$W/cidata-attached" ] && { echo /dev/kaas-test-cidata; exit 0; }
exit 1
EOF
cat >"$W/bin/mount" <<EOF
#!/bin/sh
case " \$* " in
  *" /dev/kaas-test-cidata "*)
    echo "\$*" >>"$W/seed-mounts.log"
    for a; do mp=\$a; done
    exec $(command -v mount) --bind "$W/seed-medium" "\$mp" ;;
esac
exec $(command -v mount) "\$@"
EOF
chmod 755 "$W/bin/findfs" "$W/bin/mount"

# user_data NAME SHELL SEED FILE SHA256: the end of the initial master's user-data (its facts
# exported, common.sh and master.sh sourced) with the data disk as a directory; the node's files
# in $W/node-NAME, its console appended to console there.
user_data() {
  local d=$W/node-$1
  mkdir -p "$d/www"
  (
    export KAAS_ROLE=master KAAS_NODE_ID=6f1c0000-0000-4000-8000-000000000011 KAAS_NODE_NAME=m1
    export KAAS_NODE_IP=127.0.0.1 KAAS_CLUSTER_NAME=restored KAAS_CLUSTER_ID=c0ffee00-0000-4000-8000-000000000001
    export KAAS_BUNDLE=etcd KAAS_VERSION=v3.4.23 KAAS_FLOATING_IP= KAAS_MASTERS=127.0.0.1
    export KAAS_INITIAL_MASTER=1 KAAS_GATEWAY=127.0.0.254 KAAS_PREFIX=24 KAAS_JOIN_TOKEN=$(printf '0%.0s' $(seq 64))
    export KAAS_PKI=$W/pki KAAS_BUNDLE_DIR=$ART KAAS_STATUS_FILE=$d/www/status
    export KAAS_STATE_DIR=$d/state KAAS_ETCD_MOUNT=$d/etcd KAAS_STATUS_INTERVAL=1 KAAS_SEED=$3
    export KAAS_RESTORE_FILE=$4 KAAS_RESTORE_SHA256=$5 PATH=$W/bin:$PATH
    cd "$d"
    $2 -c 'set -u
      . "$1"
      kaas_data_dir() { mkdir -p "$1"; KAAS_DATA_STORAGE="disk stand-in"; KAAS_DATA_NOTE=; }
      . "$2"' sh "$SCRIPTS/common.sh" "$SCRIPTS/master.sh"
  ) >>"$W/node-$1/console" 2>&1 || echo "user-data exit $?" >>"$W/node-$1/console"
}
status() { cat "$W/node-$1/www/status" 2>/dev/null || true; }
# wait_stage NAME STAGE...: until the node's status is in one of the stages (20 s at most)
wait_stage() {
  local n=$1 s
  shift
  for _ in $(seq 200); do
    s=$(jq -r .stage <<<"$(status "$n")" 2>/dev/null || true)
    for want; do [ "$s" = "$want" ] && return 0; done
    sleep 0.1
  done
  return 1
}
# no_etcd NAME: the supervisor gave up, no etcd was started, no member was created
no_etcd() {
  local d=$W/node-$1 p
  read -r p <"$d/state/supervisor.pid"
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$p" 2>/dev/null && [ ! -e "$d/state/etcd.pid" ] && [ ! -e "$d/etcd/data/member" ] &&
    ! grep -q 'etcd started' "$d/console"
}

# ---- refusals ---------------------------------------------------------------------------------------
echo "== a wrong sha256, a corrupt snapshot, a missing file: failed, nothing started"
for sh in "busybox sh" dash; do
  t=${sh%% *}
  user_data "badsha-$t" "$sh" "$W/seed" etcd-snapshot.db "$(printf 'ab%.0s' $(seq 32))"
  wait_stage "badsha-$t" failed || true
  check "$sh, a wrong sha256: failed, naming both checksums" \
    jqe ".stage == \"failed\" and .ready == false and (.message | test(\"has sha256 $SHA, expected (ab){32}: not restoring\"))
      and (.details | has(\"restoredFrom\") | not)" "$(status "badsha-$t")"
  check "$sh, ... no etcd started, no member created, no copy of the snapshot left" \
    bash -c "$(declare -f no_etcd); W='$W'; no_etcd badsha-$t && [ ! -e '$W/node-badsha-$t/etcd/restore' ]"
done
user_data corrupt "busybox sh" "$W/seed" corrupt.db "$SHA_CORRUPT"
wait_stage corrupt failed || true
check "a snapshot that fails etcd's integrity check (its sha256 given right): failed, with etcdctl's reason" \
  jqe '.stage == "failed" and (.message | test("etcdctl snapshot restore of corrupt.db failed: .*sha256"))' \
  "$(status corrupt)"
check "... no etcd started, no member created" bash -c "$(declare -f no_etcd); W='$W'; no_etcd corrupt"
user_data missing dash "$W/empty" etcd-snapshot.db "$SHA"
wait_stage missing failed || true
check "no snapshot where the seed should be mounted, and no seed medium: failed, saying so" \
  jqe '.stage == "failed" and (.message | test("no etcd-snapshot.db in .*/empty and no seed medium \\(label cidata\\) found"))' \
  "$(status missing)"
check "... no etcd started" bash -c "$(declare -f no_etcd); W='$W'; no_etcd missing"
touch "$W/cidata-attached"
mkdir -p "$W/medium-without"
user_data missing-on-medium dash "$W/empty" other.db "$SHA"
wait_stage missing-on-medium failed || true
check "a medium without the file: failed, saying so; the medium unmounted again" \
  jqe '.stage == "failed" and (.message | test("the seed \\(.*/state/seed\\) has no file other.db"))' \
  "$(status missing-on-medium)"
check "... no etcd started" bash -c "$(declare -f no_etcd); W='$W'; no_etcd missing-on-medium && ! grep -q ' $W/node-missing-on-medium/state/seed ' /proc/mounts"
rm -f "$W/seed-mounts.log"

# ---- the restore ------------------------------------------------------------------------------------
# the etcd a check talks to must be the node's own
check "no etcd answers on 127.0.0.1:2379 before the restore" bash -c "$(declare -f ctl glibc); ART='$ART'; TLS=(${TLS[*]}); ! ctl 2379 endpoint health >/dev/null 2>&1"
echo "== restored on the initial master (busybox sh, the seed mounted by the image)"
user_data m1 "busybox sh" "$W/seed" etcd-snapshot.db "$SHA"
wait_stage m1 ready failed || true
check "ready, with \"restoredFrom\":\"<sha256>\" in the status details" \
  jqe ".stage == \"ready\" and .ready == true and .details.restoredFrom == \"$SHA\" and .details.node == \"m1\"" \
  "$(status m1)"
check "the keys read back from the restored member" \
  test "$(ctl 2379 get /kaas/a --print-value-only 2>/dev/null)|$(ctl 2379 get /kaas/b --print-value-only 2>/dev/null)" = \
  "alpha|a value, with spaces"
check "... the large value too" test "$(ctl 2379 get /kaas/big --print-value-only 2>/dev/null)" = "$BIG"
check "... a key deleted before the snapshot stays deleted, one written after it is absent" \
  test "$(ctl 2379 get /kaas/gone /kaas/after-snapshot --keys-only 2>/dev/null; ctl 2379 get /kaas/after-snapshot --keys-only 2>/dev/null)" = ""
ml=$(ctl 2379 member list -w simple 2>/dev/null || true)
check "the only member is this node, under its name and peer URL" \
  bash -c '[ "$(echo "$1" | grep -c ", started, ")" = 1 ] && echo "$1" | grep -q ", started, m1, https://127.0.0.1:2380, "' _ "$ml"
check "the restore is recorded on the data disk, its scratch directory gone" \
  bash -c "grep -qx 'KAAS_RESTORED_FROM=$SHA' '$W/node-m1/etcd/kaas-etcd.conf' && [ ! -e '$W/node-m1/etcd/restore' ]"
check "the console names the restored snapshot" grep -q "restored the snapshot etcd-snapshot.db (sha256 $SHA)" "$W/node-m1/console"

user_data m1 "busybox sh" "$W/seed" etcd-snapshot.db "$SHA"
check "the user-data run again: the supervisor is left alone" grep -q 'supervisor already running' "$W/node-m1/console"
ctl 2379 put /kaas/after-restore kept >/dev/null 2>&1 || true
stop_node "$W/node-m1"
rm -f "$W/node-m1/www/status"
user_data m1 "busybox sh" "$W/seed" etcd-snapshot.db "$SHA"
wait_stage m1 ready failed || true
check "stopped and run again (a reboot): ready from the data directory, restoredFrom still reported" \
  jqe ".stage == \"ready\" and .details.restoredFrom == \"$SHA\"" "$(status m1)"
check "... not restored again: the key written after the restore is there" \
  test "$(ctl 2379 get /kaas/after-restore --print-value-only 2>/dev/null)" = kept
check "... the console says so" bash -c "grep -q 'restarting the member from its data directory' '$W/node-m1/console' &&
  [ \$(grep -c 'restored the snapshot' '$W/node-m1/console') = 1 ]"
stop_node "$W/node-m1"

check "no etcd answers on 127.0.0.1:2379 after it stopped" bash -c "$(declare -f ctl glibc); ART='$ART'; TLS=(${TLS[*]}); ! ctl 2379 endpoint health >/dev/null 2>&1"
echo "== restored with the seed not mounted by the image (dash): the medium labelled cidata"
user_data unmounted dash "$W/empty" etcd-snapshot.db "$SHA"
wait_stage unmounted ready failed || true
check "ready and restored from the medium" \
  jqe ".stage == \"ready\" and .details.restoredFrom == \"$SHA\"" "$(status unmounted)"
check "... the keys read back" test "$(ctl 2379 get /kaas/a --print-value-only 2>/dev/null)" = alpha
check "... the medium was mounted read-only, once, and is unmounted again" \
  bash -c "[ \$(wc -l <'$W/seed-mounts.log') = 1 ] && grep -q -- '-o ro /dev/kaas-test-cidata' '$W/seed-mounts.log' &&
    ! grep -q ' $W/node-unmounted/state/seed ' /proc/mounts"
stop_node "$W/node-unmounted"

if [ "$T_FAIL" != 0 ]; then
  for f in "$W"/node-*/console; do echo "---- $f"; tail -n 15 "$f"; done
  for f in "$W"/node-*/www/status; do echo "---- $f"; cat "$f"; done
fi
summary
