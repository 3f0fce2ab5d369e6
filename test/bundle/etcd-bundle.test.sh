#!/usr/bin/env bash
# Proof of the etcd bundle on real guests: boots two masters and a worker of the kaas test node
# image (Debian cloud kernel + busybox initramfs, software emulation) with qemu, inside a network
# namespace of its own, with seeds whose user-data is built the way src/nodes/node-boot-config.ts
# builds it, and a bundle disk (label kaas-bundle) holding etcd, etcdctl and the glibc loader.
#
#   test/bundle/etcd-bundle.test.sh          (root; about 2-2.5 minutes on 2 cores)
#
# Before booting anything, in the node image's root (chroot, private mount namespace, loop
# devices): a blank data disk is formatted and mounted, an ext4 one is reused, anything else is
# left alone (tmpfs instead); etcd and etcdctl run through the bundle's loader where there is no
# glibc. Then, on three guests (m1 initial master, m2 joining master, w1 worker):
#  - m2 joins with `member add`; member list shows both, started; same leader on both;
#  - every node's status JSON reaches ready:true; KAAS_STAGE lines on the consoles;
#  - masters keep etcd's data on their formatted data disk (/dev/vda);
#  - the endpoint as the platform's load balancer uses it: both masters answer on 2379 at their
#    VPC address from the VPC's last host address (the health checks' source), and a tenant's
#    request to https://FLOATING_IP:2379 delivered to a master's VPC address passes TLS with the
#    admin certificate (the floating IP is on no NIC); a client without a certificate is refused;
#  - a key written through w1's gateway (inside w1, with its certificate) reads back from m2,
#    and the other way round; the gateway passes TLS through (no certificate, no access);
#  - running the user-data again changes nothing; killing etcd: the supervisor restarts it and
#    the data is still there;
#  - leave.sh, run inside m2, removes it; m1 and w1 stay ready;
#  - m2, registered again from outside with its data wiped, reuses that registration and catches
#    up; m2 powered off hard and booted again comes back as the same member from its disk.
# Commands run inside the guests through a test-only hook appended to the user-data (see seed()).
#
# Environment: KAAS_BT_KEEP=1 keeps the work directory (consoles, seeds) for inspection;
# KAAS_BT_TIMEOUT=240 seconds to wait for readiness; KAAS_BT_LOCAL_ONLY=1 runs only the checks
# before the guests boot (data-disk handling, etcd through the loader; a few seconds).
#
# Network: namespace kaas-bt-<pid> with bridge kbt-vpc 10.77.0.1/24 (the VPC: masters .11/.12,
# worker .21; .254, the health checks' source, also on the bridge), one NIC per guest. The
# floating IP 10.78.0.100 is only named (certificates, KAAS_FLOATING_IP, the TLS name of the
# endpoint checks). dnsmasq (DHCP only) and a trigger HTTP server run in the namespace; nothing is
# sent outside it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
START=$(date +%s.%N)
TIMEOUT=${KAAS_BT_TIMEOUT:-240}
NS=kaas-bt-$$
W=$(mktemp -d /tmp/kaas-bt.XXXXXX)
QEMU_PIDS=()
DNSMASQ_PID=
HTTPD_PID=
LOOPS=
log() { echo "[etcd-bundle] $*" >&2; }
elapsed() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $START}"; }

cleanup() {
  local p pids
  set +e
  # every process in the namespace is ours: qemu, dnsmasq, the trigger server
  pids="${QEMU_PIDS[*]} $DNSMASQ_PID $HTTPD_PID $(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ' || true)"
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  for p in $LOOPS; do losetup -d "$p" 2>/dev/null || true; done
  if [ "${KAAS_BT_KEEP:-0}" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "must run as root (network namespace, taps)" >&2; exit 2; }
need=()
for c in qemu-system-x86_64 qemu-img openssl dnsmasq xorriso curl jq busybox; do
  command -v $c >/dev/null || need+=("$c")
done
if [ ${#need[@]} -gt 0 ]; then echo "missing tools: ${need[*]}" >&2; exit 2; fi

# ---- artifacts -----------------------------------------------------------------------------------
log "guest image (kernel + busybox initramfs, without etcd: etcd must come from the bundle disk)"
KAAS_GUEST_ETCD=0 "$ROOT/scripts/guest/build-guest-image.sh" "$W/image" 2>&1 | tail -1 >&2
CMDLINE="$(jq -r .cmdline "$W/image/manifest.json") kaas_bundle"

log "bundle disk: etcd, etcdctl + glibc loader and libc (what make bundles provides)"
B=$W/bundle
mkdir -p "$B"
for f in etcd etcdctl ld-linux-x86-64.so.2 libc.so.6; do
  if [ -f "$ROOT/bundles/etcd/artifacts/$f" ]; then cp "$ROOT/bundles/etcd/artifacts/$f" "$B/"; fi
done
[ -f "$B/etcd" ] || cp "$(command -v etcd)" "$B/"
[ -f "$B/etcdctl" ] || cp "$(command -v etcdctl)" "$B/"
[ -f "$B/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$B/"
[ -f "$B/libc.so.6" ] || cp -L /lib/x86_64-linux-gnu/libc.so.6 "$B/"
chmod 755 "$B"/*
xorriso -as mkisofs -quiet -o "$W/bundle.iso" -V kaas-bundle -J -r "$B" 2>/dev/null
HOST_ETCDCTL=$B/etcdctl

R=$W/chroot
mkdir -p "$R"
(cd "$R" && zcat "$W/image/initramfs.img" | cpio -id --quiet 2>/dev/null)
cp "$ROOT/bundles/etcd/scripts/common.sh" "$R/common.sh"

echo "== data disk handling (common.sh's kaas_data_dir in the image's root, on loop devices)"
# blank -> formatted and mounted; ext4 with data -> mounted as it is; anything else -> untouched
# and tmpfs instead. In a private mount namespace, chrooted into the node image's root.
truncate -s 64M "$W/blank.img" "$W/other.img"
head -c 1048576 /dev/urandom | dd of="$W/other.img" conv=notrunc status=none
other_sha=$(sha256sum <"$W/other.img")
LOOPS=$(losetup -f --show "$W/blank.img") && LOOPS="$LOOPS $(losetup -f --show "$W/other.img")"
set -- $LOOPS
cat >"$R/datadisk.sh" <<'EOF'
export KAAS_ROLE=worker KAAS_NODE_NAME=t KAAS_NODE_IP=127.0.0.1 KAAS_STATE_DIR=/tmp/kb
export KAAS_STATUS_FILE=/tmp/kb/status KAAS_PKI=/nonexistent
. /common.sh >/dev/null
try() { KAAS_DATA_DEV=$1; kaas_data_dir /var/lib/etcd >/dev/null; echo "$2: $KAAS_DATA_STORAGE | ${KAAS_DATA_NOTE:-}"; }
try "$1" first; echo marker >/var/lib/etcd/marker; umount /var/lib/etcd
try "$1" second; cat /var/lib/etcd/marker; umount /var/lib/etcd
try "$2" other; umount /var/lib/etcd
EOF
unshare -m sh -c 'mount --bind /dev "$1/dev" && mount -t proc proc "$1/proc" && chroot "$1" /bin/sh /datadisk.sh "$2" "$3"' \
  sh "$R" "$1" "$2" >"$W/datadisk.out" 2>&1 || true
sed 's/^/     /' "$W/datadisk.out"
check "a blank data disk is formatted (ext4, label kaas-data) and mounted" \
  grep -qx "first: disk $1 ext4 | " "$W/datadisk.out"
check "an ext4 data disk is mounted as it is, not formatted again (its files survive)" \
  bash -c "grep -qx 'second: disk $1 ext4 | ' '$W/datadisk.out' && grep -qx marker '$W/datadisk.out'"
check "a disk holding anything else is left alone; etcd data goes to tmpfs, and the status says why" \
  grep -qx "other: tmpfs | $2 holds data that is not an ext2/3/4 filesystem; not formatting it" "$W/datadisk.out"
check "... and its bytes are unchanged" test "$(sha256sum <"$W/other.img")" = "$other_sha"
for l in $LOOPS; do losetup -d "$l"; done
LOOPS=
rm -f "$W/blank.img" "$W/other.img"

echo "== etcd from the bundle in a busybox root without glibc"
rm -rf "${R:?}/lib/x86_64-linux-gnu" "${R:?}/lib64" "${R:?}/usr/lib/x86_64-linux-gnu"
mkdir -p "$R/opt/bundle"
cp "$B"/* "$R/opt/bundle/"
check "busybox root has no glibc: the bundle's etcd cannot run directly" \
  bash -c "! chroot '$R' /opt/bundle/etcd --version >/dev/null 2>&1"
v=$(chroot "$R" /bin/sh -c '
  export KAAS_ROLE=worker KAAS_NODE_NAME=t KAAS_NODE_IP=127.0.0.1 KAAS_BUNDLE_DIR=/opt/bundle
  export KAAS_STATE_DIR=/tmp/kb KAAS_STATUS_FILE=/tmp/kb/status KAAS_PKI=/nonexistent
  . /common.sh >/dev/null
  kaas_setup_runtime >/dev/null && echo "loader=$KAAS_LOADER version=$KAAS_ETCD_VERSION"
  kaas_etcd --version | head -1' 2>&1 || true)
check "common.sh runs etcdctl and etcd through the bundle's loader ($(echo "$v" | tr '\n' ' '))" \
  grep -q 'loader=/opt/bundle/ld-linux-x86-64.so.2 version=3.4.23' <<<"$v"
check "etcd --version through the loader" grep -q 'etcd Version: 3.4.23' <<<"$v"
rm -rf "$R"
if [ "${KAAS_BT_LOCAL_ONLY:-0}" = 1 ]; then summary; exit; fi # the checks above only, no guests

# ---- PKI (like src/clusters/cluster-pki.ts) ----------------------------------------------------------
P=$W/pki
FIP=10.78.0.100
pki_ca "$P" bt
pki_cert "$P" "$P" m1 m1 "" 1 "$(node_sans m1 10.77.0.11 $FIP)"
pki_cert "$P" "$P" m2 m2 "" 1 "$(node_sans m2 10.77.0.12 $FIP)"
pki_cert "$P" "$P" w1 w1 "" 0 "$(node_sans w1 10.77.0.21 $FIP)"
pki_cert "$P" "$P" admin kaas-admin system:masters 0 ""
TOKEN=$(openssl rand -hex 32)

# ---- seeds -------------------------------------------------------------------------------------------
S=$ROOT/bundles/etcd/scripts
seed() { # NAME ROLE IP INITIAL MASTERS
  local n=$1 d=$W/seed-$1
  mkdir -p "$d"
  U_ROLE=$2 U_NAME=$n U_IP=$3 U_CLUSTER_NAME=bt U_CLUSTER_ID=0b7c6f1e-5d2a-4c1b-9e8f-bt0000000001
  U_BUNDLE=etcd U_VERSION=v3.4.23 U_FIP=$FIP U_MASTERS=$5 U_INITIAL=$4 U_GATEWAY=10.77.0.1 U_PREFIX=24
  U_TOKEN=$TOKEN U_CA_CRT=$P/ca.crt U_CA_KEY= U_NODE_CRT=$P/$n.crt U_NODE_KEY=$P/$n.key
  [ "$2" = master ] && U_CA_KEY=$P/ca.key
  U_COMMON=$S/common.sh U_ROLE_SCRIPT=$S/$2.sh
  gen_user_data >"$d/user-data"
  # Test hook, not part of the platform's user-data: the harness runs commands in the guest by
  # serving them as http://10.77.0.1:8098/hook-<name>-<n> (n = 1, 2, ...); the guest publishes
  # the output and exit status as /hook-<n>.out and /hook-<n>.rc on its status server. The
  # bundle's leave.sh is written beside the other bundle files, as a platform would ship it.
  {
    echo
    ud_heredoc /etc/kaas/bundle/leave.sh "$S/leave.sh" 0755
    echo 'p=$(cat /run/kaas/hook.pid 2>/dev/null) # once per boot (busybox: kill -0 "" succeeds)'
    echo 'if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then'
    echo '( i=1; while :; do'
    echo '  if wget -q -O /run/kaas/hook "http://10.77.0.1:8098/hook-$KAAS_NODE_NAME-$i" 2>/dev/null; then'
    echo '    sh /run/kaas/hook >/var/www/hook-$i.out 2>&1; echo $? >/var/www/hook-$i.rc; i=$((i + 1))'
    echo '  else sleep 1; fi; done ) </dev/null >/dev/null 2>&1 &'
    echo 'echo $! >/run/kaas/hook.pid'
    echo 'fi'
  } >>"$d/user-data"
  sh -n "$d/user-data"
  printf 'instance-id: "bt-%s"\nlocal-hostname: "%s"\n' "$n" "$n" >"$d/meta-data"
  printf 'version: 2\nethernets: {}\n' >"$d/network-config"
  xorriso -as mkisofs -quiet -o "$W/$n-seed.iso" -V cidata -J -r "$d" 2>/dev/null
  qemu-img create -q -f qcow2 "$W/$n-data.qcow2" 1G
}
seed m1 master 10.77.0.11 1 10.77.0.11
seed m2 master 10.77.0.12 0 10.77.0.11,10.77.0.12
seed w1 worker 10.77.0.21 0 10.77.0.11,10.77.0.12

# ---- network namespace: VPC bridge, DHCP, trigger server ---------------------------------------------
ip netns add "$NS"
N() { ip -n "$NS" "$@"; }
X() { ip netns exec "$NS" "$@"; }
N link set lo up
N link add kbt-vpc type bridge && N addr add 10.77.0.1/24 dev kbt-vpc && N link set kbt-vpc up
HC_SRC=10.77.0.254 # the VPC's last host address: where the platform's load balancer health-checks from
N addr add $HC_SRC/24 dev kbt-vpc
tap() { N tuntap add dev "$1" mode tap && N link set "$1" master "$2" && N link set "$1" up; }
tap kbt-m1-0 kbt-vpc
tap kbt-m2-0 kbt-vpc
tap kbt-w1-0 kbt-vpc
ip netns exec "$NS" dnsmasq --keep-in-foreground --user=root --port=0 --no-resolv --no-hosts --bind-interfaces \
  --interface=kbt-vpc --dhcp-authoritative --dhcp-range=10.77.0.0,static,255.255.255.0,1h \
  --dhcp-host=52:54:00:77:00:11,10.77.0.11 --dhcp-host=52:54:00:77:00:12,10.77.0.12 \
  --dhcp-host=52:54:00:77:00:21,10.77.0.21 \
  --dhcp-leasefile="$W/dnsmasq.leases" --pid-file= --log-dhcp --log-facility="$W/dnsmasq.log" &
DNSMASQ_PID=$!
mkdir -p "$W/www"
ip netns exec "$NS" busybox httpd -f -p 10.77.0.1:8098 -h "$W/www" &
HTTPD_PID=$!

# ---- guests ----------------------------------------------------------------------------------------
boot() { # NAME MAC: one NIC, on the VPC
  local n=$1 args
  args=(-name "kbt-$n" -machine pc -accel tcg -cpu qemu64 -m 384 -smp 1 -nodefaults -no-user-config
    -display none -serial "file:$W/$n.console" -no-reboot
    -kernel "$W/image/vmlinuz" -initrd "$W/image/initramfs.img" -append "$CMDLINE"
    -drive "file=$W/$n-data.qcow2,if=virtio,format=qcow2"
    -drive "file=$W/$n-seed.iso,if=virtio,format=raw,readonly=on"
    -drive "file=$W/bundle.iso,if=virtio,format=raw,readonly=on"
    -device virtio-rng-pci
    -netdev "tap,id=n0,ifname=kbt-$n-0,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$2")
  ip netns exec "$NS" qemu-system-x86_64 "${args[@]}" & # ip netns exec execs: $! is qemu
  QEMU_PIDS+=($!)
}
log "booting m1 (initial master), m2 (joining master), w1 (worker) under TCG"
T_BOOT=$(date +%s.%N)
boot m1 52:54:00:77:00:11
boot m2 52:54:00:77:00:12
boot w1 52:54:00:77:00:21

status() { X curl -s --max-time 3 "http://$1:8099/status" 2>/dev/null || true; }
declare -A READY_T
deadline=$(($(date +%s) + TIMEOUT))
while :; do
  all=1
  for ip in 10.77.0.11 10.77.0.12 10.77.0.21; do
    [ -n "${READY_T[$ip]:-}" ] && continue
    if [ "$(status $ip | jq -r '.ready' 2>/dev/null)" = true ]; then
      READY_T[$ip]=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T_BOOT}")
      log "$ip ready after ${READY_T[$ip]} s"
    else
      all=0
    fi
  done
  [ $all = 1 ] && break
  [ "$(date +%s)" -lt $deadline ] || break
  for p in "${QEMU_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { log "a qemu exited"; break 2; }; done
  sleep 2
done

echo "== readiness (status JSON at http://NODE:8099/status)"
for n in m1:10.77.0.11 m2:10.77.0.12 w1:10.77.0.21; do
  ip=${n#*:} n=${n%%:*}
  s=$(status "$ip")
  echo "     $n: $s"
  check "$n status is valid JSON with stage ready and ready:true (after ${READY_T[$ip]:-never} s)" \
    jqe '.stage == "ready" and .ready == true and (.message|type) == "string" and (.details|type) == "object"' "$s"
  check "$n printed KAAS_STAGE lines on its console (installing -> ready)" \
    bash -c "grep -q '^KAAS_STAGE installing bundle=etcd' '$W/$n.console' && grep -q '^KAAS_STAGE ready bundle=etcd ready=true' '$W/$n.console'"
done

declare -A HOOK_N
# guest_run NAME IP 'SCRIPT': runs SCRIPT (busybox sh) in the guest; its output lands in $GOUT,
# its exit status is guest_run's. Call it directly, not in $(...): it counts hooks per guest.
GOUT=
guest_run() {
  local n=$1 ip=$2 k rc=
  k=$((${HOOK_N[$n]:-0} + 1))
  HOOK_N[$n]=$k
  printf '%s\n' "$3" >"$W/www/hook-$n-$k.tmp" && mv "$W/www/hook-$n-$k.tmp" "$W/www/hook-$n-$k"
  for _ in $(seq 90); do
    rc=$(X curl -sf --max-time 3 "http://$ip:8099/hook-$k.rc" 2>/dev/null || true)
    [ -n "$rc" ] && break
    sleep 1
  done
  GOUT=$(X curl -sf --max-time 3 "http://$ip:8099/hook-$k.out" 2>/dev/null || true)
  [ "$rc" = 0 ]
}
ctl() { X "$HOST_ETCDCTL" --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" --dial-timeout 3s --command-timeout 10s "$@"; }
echo "== cluster"
ml=$(ctl --endpoints=https://10.77.0.11:2379 member list -w simple 2>&1 || true)
echo "$ml" | sed 's/^/     /'
check "member list shows m1 and m2, both started" \
  bash -c "[ \$(grep -c ', started, ' <<<'$ml') = 2 ] && grep -q ', started, m1, https://10.77.0.11:2380, https://10.77.0.11:2379' <<<'$ml' && grep -q ', started, m2, https://10.77.0.12:2380, https://10.77.0.12:2379' <<<'$ml'"
check "m2 joined an existing cluster (member add, --initial-cluster-state existing)" \
  grep -q 'initial-cluster-state existing' "$W/m2.console"
l1=$(status 10.77.0.11 | jq -r .details.leaderId) l2=$(status 10.77.0.12 | jq -r .details.leaderId)
check "both masters report the same leader ($l1)" test -n "$l1" -a "$l1" = "$l2"
for n in m1:10.77.0.11 m2:10.77.0.12; do
  ip=${n#*:} n=${n%%:*}
  ds=$(status "$ip" | jq -r .details.dataStorage)
  check "$n keeps etcd data on its formatted data disk ($ds)" grep -Eq '^disk /dev/vda ext[234]$' <<<"$ds"
done
check "client certificate required: a TLS client without one is refused" \
  bash -c "! ip netns exec $NS $HOST_ETCDCTL --cacert $P/ca.crt --endpoints=https://10.77.0.11:2379 --dial-timeout 3s --command-timeout 5s get x >/dev/null 2>&1"

echo "== the endpoint (the floating IP: a load balancer in front of the masters' VPC addresses)"
# lb MASTER_IP PATH BODY: a POST to https://$FIP:2379/PATH (etcd's v3 JSON gateway) with the admin
# certificate, TLS checking the name $FIP, carried to the master's VPC address as the load
# balancer carries it
lb() { X curl -s --max-time 10 --connect-to "$FIP:2379:$1:2379" --cacert "$P/ca.crt" --cert "$P/admin.crt" \
  --key "$P/admin.key" "https://$FIP:2379$2" -d "$3" 2>&1 || true; }
b64() { printf %s "$1" | base64 -w0; }
for n in m1:10.77.0.11 m2:10.77.0.12; do
  ip=${n#*:} n=${n%%:*}
  out=$(X curl -s --max-time 10 --interface $HC_SRC --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
    "https://$ip:2379/health" 2>&1 || true)
  check "$n answers on $ip:2379 to the health checks' source $HC_SRC ($out)" jqe '.health == "true"' "$out"
done
out=$(lb 10.77.0.11 /v3/kv/put "{\"key\":\"$(b64 /tenant/hello)\",\"value\":\"$(b64 world)\"}")
check "tenant access: a put to https://$FIP:2379 with the admin certificate, delivered to m1 ($out)" \
  jqe '.header.revision != null' "$out"
out=$(lb 10.77.0.12 /v3/kv/range "{\"key\":\"$(b64 /tenant/hello)\"}")
check "... reads back through https://$FIP:2379 delivered to m2 (its certificate names $FIP too)" \
  jqe '.kvs[0].value | @base64d == "world"' "$out"
guest_run m1 10.77.0.11 'ip -4 -o addr show; ip route' || true
echo "$GOUT" | sed 's/^/     m1| /'
check "m1 has one NIC, eth0 with its VPC address and the default route; the floating IP is on no NIC" \
  bash -c "grep -q 'eth0 .*inet 10.77.0.11/24' <<<'$GOUT' && grep -q '^default via 10.77.0.1 dev eth0' <<<'$GOUT' && ! grep -q ' $FIP/' <<<'$GOUT' && ! grep -q 'eth1' <<<'$GOUT'"

echo "== data through the worker's gateway (inside w1, with w1's certificate)"
WCTL='/run/kaas/bundle/bin/etcdctl --endpoints=https://127.0.0.1:23790'
guest_run w1 10.77.0.21 "$WCTL put /bt/through-worker v-$TOKEN" && r=0 || r=$?
check "put through w1's gateway on 127.0.0.1:23790 ($GOUT)" test $r = 0
got=$(ctl --endpoints=https://10.77.0.12:2379 get /bt/through-worker --print-value-only 2>&1 || true)
check "reads back from master m2 over TLS (got: ${got:0:20}...)" test "$got" = "v-$TOKEN"
guest_run w1 10.77.0.21 "$WCTL get /tenant/hello --print-value-only" || true
got=$GOUT
check "a key written through the floating IP reads back through w1's gateway (got: $got)" test "$got" = world
check "the gateway passes TLS through: without a client certificate the masters refuse" \
  bash -c "! ip netns exec $NS $HOST_ETCDCTL --insecure-skip-tls-verify --endpoints=https://10.77.0.21:23790 --dial-timeout 3s --command-timeout 5s get x >/dev/null 2>&1"

echo "== the user-data runs again on m1 (idempotent)"
guest_run m1 10.77.0.11 'sh /run/kaas/user-data' && r=0 || r=$?
sleep 1
check "second run exits 0 and leaves the running supervisor alone ($(tail -n 1 <<<"$GOUT"))" \
  bash -c "[ $r = 0 ] && grep -q 'etcd supervisor already running' <<<'$GOUT'"
check "no second etcd, status untouched (one 'installing' stage line), still ready" \
  bash -c "[ \$(grep -c '^kaas-etcd: etcd started' '$W/m1.console') = 1 ] && [ \$(grep -c '^KAAS_STAGE installing bundle=etcd' '$W/m1.console') = 1 ]"
check "m1 still ready" jqe '.ready == true' "$(status 10.77.0.11)"

echo "== robustness: etcd on m1 is killed; its supervisor restarts it"
guest_run m1 10.77.0.11 'kill -9 $(cat /run/kaas/bundle/etcd.pid)' || true
sleep 1
s=$(status 10.77.0.11)
for _ in $(seq 60); do
  s=$(status 10.77.0.11)
  jqe '.ready == true' "$s" && grep -q 'etcd exited' "$W/m1.console" && break
  sleep 1
done
check "m1 reported the crash on its console and in its status" grep -q 'etcd exited (rc=137); restart 1 of 5' "$W/m1.console"
check "m1 is ready again after the restart" jqe '.ready == true and .details.members == 2' "$s"
got=$(ctl --endpoints=https://10.77.0.11:2379 get /bt/through-worker --print-value-only 2>&1 || true)
check "m1 kept its data across the restart (its data disk)" test "$got" = "v-$TOKEN"

echo "== leave.sh removes m2"
guest_run m2 10.77.0.12 /etc/kaas/bundle/leave.sh && r=0 || r=$?
echo "$GOUT" | sed 's/^/     m2| /'
check "leave.sh exited 0 in m2" test $r = 0
ml=$(ctl --endpoints=https://10.77.0.11:2379 member list -w simple 2>&1 || true)
echo "$ml" | sed 's/^/     /'
check "member list now shows only m1" bash -c "[ \$(grep -c ', ' <<<'$ml') = 1 ] && grep -q ', started, m1, ' <<<'$ml'"
for _ in $(seq 20); do
  s=$(status 10.77.0.12)
  [ "$(jq -r .details.left <<<"$s")" = true ] && break
  sleep 1
done
check "m2 reports stage failed with details.left=true" jqe '.stage == "failed" and .ready == false and .details.left == true' "$s"
for _ in $(seq 30); do
  [ "$(status 10.77.0.11 | jq -r '.details.members')" = 1 ] && break
  sleep 2
done
check "m1 stays ready as a cluster of one" jqe '.ready == true and .details.members == 1' "$(status 10.77.0.11)"
guest_run w1 10.77.0.21 "$WCTL put /bt/after-leave ok" && r=0 || r=$?
check "w1's gateway still works after m2 left ($GOUT)" test $r = 0
check "w1 stays ready" jqe '.ready == true' "$(status 10.77.0.21)"

echo "== m2 comes back: registered beforehand (as the platform or an earlier run might), data wiped"
out=$(ctl --endpoints=https://10.77.0.11:2379 member add m2 --peer-urls=https://10.77.0.12:2380 2>&1 || true)
check "member m2 added again from outside (unstarted)" grep -q '^Member .* added to cluster' <<<"$out"
guest_run m2 10.77.0.12 'rm -rf /var/lib/etcd/data /var/lib/etcd/kaas-etcd.conf /run/kaas/bundle/left; sh /run/kaas/user-data' || true
for _ in $(seq 90); do
  jqe '.ready == true and .details.startedMembers == 2' "$(status 10.77.0.12)" && break
  sleep 2
done
# the second run's output (the supervisor's too) goes to the hook's output file, not the console
rerun_out=$(X curl -sf --max-time 3 "http://10.77.0.12:8099/hook-${HOOK_N[m2]}.out" 2>/dev/null || true)
check "m2 found its registered member and reused it (no second member add)" \
  grep -q 'already registered for https://10.77.0.12:2380 (not started): reusing it' <<<"$rerun_out"
check "m2 is ready again, 2/2 members started" jqe '.ready == true and .details.startedMembers == 2' "$(status 10.77.0.12)"
ml=$(ctl --endpoints=https://10.77.0.11:2379 member list -w simple 2>&1 || true)
echo "$ml" | sed 's/^/     /'
check "member list shows m1 and m2 started again" bash -c "[ \$(grep -c ', started, m[12], ' <<<'$ml') = 2 ]"
got=$(ctl --endpoints=https://10.77.0.12:2379 get /bt/after-leave --print-value-only 2>&1 || true)
check "m2 caught up with the data written while it was away" test "$got" = ok

echo "== m2 is powered off hard and boots again from its disk"
id_before=$(status 10.77.0.12 | jq -r .details.memberId)
kill -9 "${QEMU_PIDS[1]}" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "${QEMU_PIDS[1]}" 2>/dev/null || break; sleep 0.1; done
mv "$W/m2.console" "$W/m2.console.1"
rm -f "$W/www/hook-m2-"* # the new boot's hook poller starts counting at 1 again
HOOK_N[m2]=0
T_REBOOT=$(date +%s.%N)
boot m2 52:54:00:77:00:12
for _ in $(seq 60); do
  jqe '.ready == true and .details.startedMembers == 2' "$(status 10.77.0.12)" && break
  sleep 2
done
s=$(status 10.77.0.12)
check "m2 ready again after $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T_REBOOT}") s, same member ($id_before)" \
  jqe ".ready == true and .details.memberId == \"$id_before\" and .details.startedMembers == 2" "$s"
check "the image mounted the data disk by its label, the bundle reused it (no format)" \
  bash -c "grep -q '^KAAS_STAGE data-mounted dev=/dev/vda formatted=0' '$W/m2.console' && ! grep -q 'formatting blank data disk' '$W/m2.console' && grep -q 'restarting the member from its data directory' '$W/m2.console'"
check "its data disk is in use (details.dataStorage)" jqe '.details.dataStorage == "disk /dev/vda ext4"' "$s"

if [ "$T_FAIL" != 0 ]; then
  for n in m1 m2 w1; do echo "---- $n console (tail)"; tail -n 40 "$W/$n.console"; done
fi
echo "run time $(elapsed) s (guests ready after m1 ${READY_T[10.77.0.11]:-?} s, m2 ${READY_T[10.77.0.12]:-?} s, w1 ${READY_T[10.77.0.21]:-?} s)"
summary
