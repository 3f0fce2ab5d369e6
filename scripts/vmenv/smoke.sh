#!/usr/bin/env bash
# End-to-end proof of the real-VM path: inside the vmenv namespace, define a dir pool, an
# isolated libvirt network with a static DHCP entry, upload a NoCloud seed ISO, boot the test
# node image as a <domain type='qemu'>, wait for its user-data, fetch its status file over the
# network from inside the namespace, tear everything down and verify nothing is left.
#
#   scripts/vmenv/smoke.sh [RUNS]        (default 1 run; prints per-run timings and the medians)
#
# Environment:
#   SMOKE_SEED_BUS=virtio|ide|scsi  how the seed ISO is attached: virtio disk (default),
#                                   IDE CD-ROM (machine "pc") or virtio-scsi CD-ROM
#   SMOKE_MEM_MIB=256               guest memory
#   SMOKE_TIMEOUT=90                seconds to wait for user-data-done
#   SMOKE_CMDLINE_EXTRA=""          appended to the guest kernel command line
#   SMOKE_KERNEL, SMOKE_INITRD      boot these files instead of building guest-image/ (experiments)
#   SMOKE_KEEP=1                    on failure, leave the guest, network and pool for inspection
#   KAAS_NETNS, KAAS_VMENV_DIR      as for vmenv.sh
# Starts vmenv when it is not up (and stops it again at the end); leaves it up otherwise.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${1:-1}
NS=${KAAS_NETNS:-kaas-vm}
DIR=${KAAS_VMENV_DIR:-$ROOT/.data/vmenv}
export KAAS_NETNS=$NS KAAS_VMENV_DIR=$DIR
BUS=${SMOKE_SEED_BUS:-virtio}
MEM=${SMOKE_MEM_MIB:-256}
TIMEOUT=${SMOKE_TIMEOUT:-90}
IMG=${KAAS_GUEST_IMAGE_DIR:-$ROOT/guest-image}
URI=qemu:///system
DOM=vmtest-node1 NET=vmtest-net BR=vmtest0 POOL=vmtest-pool VOL=vmtest-node1-seed.iso
MAC=52:54:00:77:00:11 IP=10.77.0.11 GW=10.77.0.1
W=$DIR/smoke
LOG=$W/$DOM.serial.log
POOLDIR=$DIR/pool

say() { echo "[smoke] $*" >&2; }
die() {
  say "FAIL: $*"
  [ -f "$LOG" ] && { say "serial log:"; sed 's/^/  | /' "$LOG" >&2; }
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then
    say "SMOKE_KEEP=1: leaving $DOM, $NET and $POOL defined"
  else
    declare -F cleanup >/dev/null && { cleanup || true; }
    [ "${STARTED_VMENV:-0}" = 1 ] && "$HERE/vmenv.sh" down
  fi
  exit 1
}
now() { date +%s.%N; }
dt() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
V() { ip netns exec "$NS" virsh -q -c "$URI" "$@" </dev/null; }
in_ns() { ip netns exec "$NS" "$@"; }
has() { V "$1" --all --name | awk 'NF{print $1}' | grep -qx "$2"; }   # has list|net-list|pool-list NAME

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
case $IP in 10.77.0.*) ;; *) die "guest IP must be inside the namespace's 10.77.0.0/24" ;; esac

STARTED_VMENV=0
if ! "$HERE/vmenv.sh" status >/dev/null 2>&1; then
  "$HERE/vmenv.sh" up >/dev/null
  STARTED_VMENV=1
fi

KERNEL=${SMOKE_KERNEL:-$IMG/vmlinuz}
INITRD=${SMOKE_INITRD:-$IMG/initramfs.img}
t=$(now)
[ -n "${SMOKE_KERNEL:-}${SMOKE_INITRD:-}" ] || "$ROOT/scripts/guest/build-guest-image.sh" "$IMG"
T_IMAGE=$(dt "$t" "$(now)")
mkdir -p "$W"
# qemu runs as libvirt-qemu: every directory above the image and the state folder must be searchable
for f in "$KERNEL" "$INITRD" "$W"; do
  d=$(dirname "$f")
  runuser -u libvirt-qemu -- test -x "$d" 2>/dev/null ||
    die "user libvirt-qemu cannot reach $d (make its parent directories o+x)"
done

cleanup() { # remove every vmtest object of this script (also leftovers of an interrupted run)
  local a
  if has list "$DOM"; then
    V destroy "$DOM" >/dev/null 2>&1 || true
    V undefine "$DOM" >/dev/null
  fi
  if has pool-list "$POOL"; then
    a=$(V pool-info "$POOL" | awk '/^State:/{print $2}')
    if [ "$a" != running ]; then V pool-start "$POOL" >/dev/null 2>&1 || true; fi
    V vol-delete "$VOL" --pool "$POOL" >/dev/null 2>&1 || true
    V pool-destroy "$POOL" >/dev/null 2>&1 || true
    V pool-delete "$POOL" >/dev/null 2>&1 || true
    V pool-undefine "$POOL" >/dev/null
  fi
  if has net-list "$NET"; then
    V net-destroy "$NET" >/dev/null 2>&1 || true
    V net-undefine "$NET" >/dev/null 2>&1 || true
  fi
  rm -rf "$POOLDIR"
}

verify_clean() {
  local left=""
  V list --all --name | grep -q '^vmtest-' && left="$left domain"
  V net-list --all --name | grep -q '^vmtest-' && left="$left network"
  V pool-list --all --name | grep -q '^vmtest-' && left="$left pool"
  pgrep -f "guest=$DOM," >/dev/null && left="$left qemu-process"
  pgrep -f "dnsmasq/$NET.conf" >/dev/null && left="$left dnsmasq"
  in_ns ip link show "$BR" >/dev/null 2>&1 && left="$left bridge:$BR"
  ip link show "$BR" >/dev/null 2>&1 && left="$left bridge-in-root-ns:$BR"
  [ -e "$POOLDIR" ] && left="$left pool-dir"
  [ -z "$left" ] || die "left after teardown:$left"
}

seed_disk_xml() {
  case $BUS in
    virtio) echo "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='$POOL' volume='$VOL'/><target dev='vda' bus='virtio'/><readonly/></disk>" ;;
    ide) echo "<disk type='volume' device='cdrom'><driver name='qemu' type='raw'/><source pool='$POOL' volume='$VOL'/><target dev='hdc' bus='ide'/><readonly/></disk>" ;;
    scsi) echo "<controller type='scsi' model='virtio-scsi'/><disk type='volume' device='cdrom'><driver name='qemu' type='raw'/><source pool='$POOL' volume='$VOL'/><target dev='sda' bus='scsi'/><readonly/></disk>" ;;
    *) die "SMOKE_SEED_BUS must be virtio, ide or scsi" ;;
  esac
}

write_inputs() {
  cat >"$W/net.xml" <<E
<network>
  <name>$NET</name>
  <bridge name='$BR' stp='off' delay='0'/>
  <ip address='$GW' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.77.0.100' end='10.77.0.200'/>
      <host mac='$MAC' name='$DOM' ip='$IP'/>
    </dhcp>
  </ip>
</network>
E
  printf 'instance-id: %s-%s\nlocal-hostname: %s\n' "$DOM" "$(date +%s)" "$DOM" >"$W/meta-data"
  cat >"$W/user-data" <<'E'
#!/bin/sh
echo USERDATA_RAN
echo "status-ok host=$(hostname) ip=$KAAS_IP" > /var/www/status
E
  printf 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' >"$W/network-config"
  cat >"$W/domain.xml" <<E
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>$MEM</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 ${SMOKE_CMDLINE_EXTRA:-}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    $(seed_disk_xml)
    <interface type='network'><source network='$NET'/><mac address='$MAC'/><model type='virtio'/></interface>
    <serial type='file'><source path='$LOG'/><target port='0'/></serial>
    <console type='file'><source path='$LOG'/><target type='serial' port='0'/></console>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
E
}

# wait_marker REGEX: poll the serial log until a line matches; prints seconds since T_START
wait_marker() {
  local deadline
  deadline=$(awk "BEGIN{printf \"%.3f\", $T_START + $TIMEOUT}")
  while :; do
    grep -qE "$1" "$LOG" 2>/dev/null && { dt "$T_START" "$(now)"; return 0; }
    awk "BEGIN{exit !($(now) > $deadline)}" && return 1
    V domstate "$DOM" 2>/dev/null | grep -q running || return 1
    sleep 0.02
  done
}

RESULTS=()
one_run() {
  local n=$1 t0 t1 t_pool t_net t_seed t_def t_virsh m_init m_seed m_net m_uds m_udd got ip t_http t_down size
  cleanup
  t0=$(now)
  mkdir -p "$POOLDIR"
  V pool-define-as "$POOL" dir --target "$POOLDIR" >/dev/null
  V pool-build "$POOL" >/dev/null
  V pool-start "$POOL" >/dev/null
  t1=$(now); t_pool=$(dt "$t0" "$t1")

  write_inputs
  V net-define "$W/net.xml" >/dev/null
  V net-start "$NET" >/dev/null
  t0=$(now); t_net=$(dt "$t1" "$t0")

  "$ROOT/scripts/guest/make-seed.sh" "$W/seed.iso" "$W/meta-data" "$W/user-data" "$W/network-config"
  size=$(stat -c %s "$W/seed.iso")
  V vol-create-as "$POOL" "$VOL" "$size" --format raw >/dev/null
  V vol-upload "$VOL" "$W/seed.iso" --pool "$POOL" >/dev/null
  t1=$(now); t_seed=$(dt "$t0" "$t1")

  V define "$W/domain.xml" >/dev/null
  rm -f "$LOG"
  t0=$(now); t_def=$(dt "$t1" "$t0")

  OTHER_QEMU=$(pgrep -c qemu-system || true)
  read -r LOAD1 _ </proc/loadavg
  T_START=$(now)
  V start "$DOM" >/dev/null
  t_virsh=$(dt "$T_START" "$(now)")
  m_init=$(wait_marker '^KAAS_STAGE init') || die "no 'KAAS_STAGE init'"
  m_seed=$(wait_marker '^KAAS_STAGE seed-mounted') || die "seed not mounted"
  m_net=$(wait_marker '^KAAS_STAGE network-(up|failed)') || die "no network stage"
  m_uds=$(wait_marker '^KAAS_STAGE user-data-start') || die "user-data did not start"
  m_udd=$(wait_marker '^KAAS_STAGE user-data-done') || die "user-data did not finish"
  grep -q '^USERDATA_RAN' "$LOG" || die "USERDATA_RAN missing from the serial log"
  grep -q '^KAAS_STAGE user-data-done rc=0' "$LOG" || die "user-data rc != 0"
  ip=$(sed -n 's/^KAAS_STAGE network-up ip=\([0-9.]*\).*/\1/p' "$LOG" | tail -1)
  [ "$ip" = "$IP" ] || die "guest address '$ip' is not the static DHCP entry $IP"

  t0=$(now)
  got=""
  for _ in $(seq 1 50); do
    got=$(in_ns timeout 5 busybox wget -qO- "http://$IP:8099/status" 2>/dev/null || true)
    [ -n "$got" ] && break
    sleep 0.1
  done
  t_http=$(dt "$t0" "$(now)")
  [ "$got" = "status-ok host=$DOM ip=$IP" ] || die "status over http: '$got'"
  GUEST_STAGES=$(in_ns timeout 5 busybox wget -qO- "http://$IP:8099/kaas-stages" 2>/dev/null | tr '\n' ';' || true)

  t0=$(now)
  cleanup
  verify_clean
  t_down=$(dt "$t0" "$(now)")

  say "run $n: pool ${t_pool}s net ${t_net}s seed+upload ${t_seed}s define ${t_def}s | virsh-start ${t_virsh}s" \
    "init ${m_init}s seed-mounted ${m_seed}s network-up ${m_net}s user-data-start ${m_uds}s user-data-done ${m_udd}s" \
    "| http ${t_http}s | teardown+verify ${t_down}s | host: load ${LOAD1}, ${OTHER_QEMU} other qemu"
  say "run $n: guest uptime at stages: $GUEST_STAGES"
  RESULTS+=("$m_udd")
  INITS+=("$m_init")
  NETS+=("$m_net")
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

INITS=() NETS=()
say "image ${T_IMAGE}s ($KERNEL $(stat -c %s "$KERNEL") B, $INITRD $(stat -c %s "$INITRD") B); seed bus: $BUS; memory ${MEM} MiB; runs: $RUNS"
for i in $(seq 1 "$RUNS"); do one_run "$i"; done
say "median over $RUNS run(s): virsh start -> KAAS_STAGE init $(median "${INITS[@]}")s," \
  "network-up $(median "${NETS[@]}")s, user-data-done $(median "${RESULTS[@]}")s" \
  "(all user-data-done: ${RESULTS[*]})"
if [ $STARTED_VMENV = 1 ]; then "$HERE/vmenv.sh" down; fi
say "PASS"
