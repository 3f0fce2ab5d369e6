#!/usr/bin/env bash
# A libvirtd for real (TCG) guests that lives inside a network namespace of its own: bridges,
# dnsmasq, taps and every guest address exist only in that namespace. No systemd needed.
#
#   scripts/vmenv/vmenv.sh up            install missing packages, create the netns, start
#                                        virtlogd + libvirtd in it (idempotent)
#   scripts/vmenv/vmenv.sh down          remove kaas-*/vmtest-* domains, networks and pools,
#                                        stop both daemons, delete the netns, verify (idempotent)
#   scripts/vmenv/vmenv.sh status        exit 0 when up, 3 when down
#   scripts/vmenv/vmenv.sh exec CMD...   run CMD inside the namespace (ip netns exec)
#   scripts/vmenv/vmenv.sh virsh ARGS... virsh -c qemu:///system ARGS... inside the namespace
#
# Environment: KAAS_NETNS (default kaas-vm), KAAS_VMENV_DIR (default .data/vmenv in the repo),
# KAAS_VMENV_SOCKET_TIMEOUT (seconds to wait for each daemon's socket, default 10).
# Connect with qemu:///system (socket /run/libvirt/libvirt-sock); run anything that talks to
# guests under `ip netns exec $KAAS_NETNS`.
#
# KAAS_VMENV_PRIVATE=1 makes a further, separate hypervisor host beside that one: its daemons
# also get a mount namespace of their own, with private /run, /etc/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt under KAAS_VMENV_DIR, so they share no state, socket,
# bridge or dnsmasq with the first. Connect with qemu:///system?socket=$KAAS_VMENV_DIR/run/libvirt/libvirt-sock.
#
# OVN (docs/real-vms.md, "OVN on the test hosts"): each host can also run Open vSwitch (userspace
# datapath) and ovn-controller, so that guests plug into br-int with an openvswitch virtualport.
#   KAAS_VMENV_OVN=1 ... up              also start OVN as the central host: Northbound and
#                                        Southbound databases, ovn-northd, a provider bridge br-ex
#   KAAS_VMENV_OVN_JOIN=<netns> ... up   also start OVN as a host joining the central host that
#                                        lives in <netns> (an underlay veth is laid to it)
#   scripts/vmenv/vmenv.sh ovn-up        the same for a host whose namespace is up or not (no libvirtd)
#   scripts/vmenv/vmenv.sh ovn-down      stop this host's OVN, remove its bridges, veths and databases
# `down` includes ovn-down. Settings: KAAS_VMENV_OVN_CHASSIS (default: the netns name),
# KAAS_VMENV_OVN_UNDERLAY_IP (192.168.254.1 central, .2 joining; a /24 on br-phy),
# KAAS_VMENV_OVN_SB (joining: default tcp:<central's br-phy address>:6642),
# KAAS_VMENV_OVN_JOIN_DB (joining: the central host's Open vSwitch database, default
# unix:/run/openvswitch/db.sock), KAAS_VMENV_OVN_PROVIDER (central: br-ex address, default
# 10.250.0.1/24), KAAS_VMENV_OVN_PHYSNET (default physnet).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NS=${KAAS_NETNS:-kaas-vm}
DIR=${KAAS_VMENV_DIR:-$ROOT/.data/vmenv}
PRIVATE=${KAAS_VMENV_PRIVATE:-0}
SOCK_TIMEOUT=${KAAS_VMENV_SOCKET_TIMEOUT:-10}   # seconds; the socket is normally there in ~0.3 s
if [ "$PRIVATE" = 1 ]; then
  SOCK=$DIR/run/libvirt/libvirt-sock
  LOGSOCK=$DIR/run/libvirt/virtlogd-sock
  URI="qemu:///system?socket=$SOCK"
else
  SOCK=/run/libvirt/libvirt-sock
  LOGSOCK=/run/libvirt/virtlogd-sock
  URI=qemu:///system
fi
PREFIX_RE='^(kaas-|vmtest-)'
PKGS=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base iptables nftables iproute2 iputils-ping
  util-linux procps)
OVN_PKGS=(openvswitch-switch ovn-host ovn-central ethtool)

log() { echo "[vmenv] $*" >&2; }
die() { log "$*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

need_pkgs() {
  local missing=() p q
  # one dpkg-query for all of them (what "dpkg -s" reports, in one call)
  q=$(dpkg-query -W -f '${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do grep -qx "$p installed" <<<"$q" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null </dev/null ||
    { apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null </dev/null; }
}

# ---- processes -----------------------------------------------------------------------------------
alive() { # PID -> running (zombies count as gone)
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
comm_of() { cat "/proc/$1/comm" 2>/dev/null || true; }
pid_from() { cat "$DIR/$1.pid" 2>/dev/null || true; }
ours() { # NAME (libvirtd|virtlogd) -> prints our PID when that process runs
  local p; p=$(pid_from "$1")
  if [ -n "$p" ] && alive "$p" && [ "$(comm_of "$p")" = "$1" ]; then echo "$p"; return 0; fi
  return 1
}
all_pids() { # NAME -> every live PID with that command name
  local p
  for p in $(pgrep -x "$1" 2>/dev/null || true); do alive "$p" && echo "$p"; done
  return 0
}
private_daemon() { # PID -> a daemon of a private vmenv (its own /run: it shares nothing with us)
  tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qx 'KAAS_VMENV_PRIVATE=1'
}
foreign() { # NAME -> PIDs of that daemon not started by us that would share /run/libvirt with ours
  local mine p; mine=$(ours "$1" || true)
  for p in $(all_pids "$1"); do
    [ "$p" = "${mine:-none}" ] && continue
    [ "$PRIVATE" = 1 ] && continue   # ours has a /run of its own
    private_daemon "$p" || echo "$p"
  done
  return 0
}
ns_inode() { stat -L -c %i "/run/netns/$NS" 2>/dev/null || true; }
pid_ns_inode() { stat -L -c %i "/proc/$1/ns/net" 2>/dev/null || true; }
ns_exists() { [ -e "/run/netns/$NS" ]; }
procs_in_ns() { # INODE -> "PID COMM" of every live process in that network namespace
  local ino=$1 d p
  [ -n "$ino" ] || return 0
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$(pid_ns_inode "$p")" = "$ino" ] && alive "$p" && echo "$p $(comm_of "$p")"
  done
  return 0
}
stop_pid() { # PID NAME: TERM, wait up to 10 s, then KILL
  local p=$1
  alive "$p" || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$p" || return 0; sleep 0.1; done
  log "$2 ($p) did not stop on TERM, killing"
  kill -KILL "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$p" || return 0; sleep 0.1; done
  return 1
}

V() { virsh -q -c "$URI" "$@" </dev/null; }

# shellcheck source=scripts/vmenv/vmenv-ovn.sh
. "$HERE/vmenv-ovn.sh"

lock() { # serialise up/down of this state folder (parallel test workers)
  exec 9>"$DIR/lock"
  flock -w 120 9 || die "another vmenv up/down holds $DIR/lock for over 120 s"
}

# ---- up ----------------------------------------------------------------------------------------------
start_daemon() { # NAME SOCKET
  local name=$1 sock=$2 p
  rm -f "$sock"
  # ip netns exec exec()s the daemon (same PID); setsid detaches it from the caller's process
  # group, so the caller's terminal or harness signals do not reach it; it is stopped by PID
  # (fd 9, the vmenv lock, must not leak into the daemon)
  if [ "$PRIVATE" = 1 ]; then
    # unshare and sh exec() too; the bind mounts exist only in the daemon's mount namespace
    setsid ip netns exec "$NS" env KAAS_VMENV_PRIVATE=1 unshare --mount --propagation private \
      sh -c 'mount --bind "$1/run" /run && mount --bind "$1/etc" /etc/libvirt &&
        mount --bind "$1/lib" /var/lib/libvirt && mount --bind "$1/cache" /var/cache/libvirt &&
        mount --bind "$1/log" /var/log/libvirt && exec "$2"' sh "$DIR" "$name" \
      </dev/null >>"$DIR/$name.log" 2>&1 9>&- &
  else
    setsid ip netns exec "$NS" "$name" </dev/null >>"$DIR/$name.log" 2>&1 9>&- &
  fi
  p=$!
  echo "$p" >"$DIR/$name.pid"
  for _ in $(seq 1 $((SOCK_TIMEOUT * 20))); do
    [ -S "$sock" ] && [ "$(comm_of "$p")" = "$name" ] && break
    alive "$p" || { tail -5 "$DIR/$name.log" >&2; die "$name exited during start (log: $DIR/$name.log)"; }
    sleep 0.05
  done
  [ -S "$sock" ] || die "$name: no socket $sock after $SOCK_TIMEOUT s (log: $DIR/$name.log)"
  [ "$(pid_ns_inode "$p")" = "$(ns_inode)" ] || die "$name ($p) is not inside netns $NS"
}

no_default_network() {
  local a
  # a "default" network must never start in this daemon (it would NAT to the outside)
  if V net-info default >/dev/null 2>&1; then
    a=$(V net-info default 2>/dev/null | awk '/^Active:/{print $2}')
    [ "$a" = yes ] && V net-destroy default >/dev/null
    V net-autostart default --disable >/dev/null 2>&1 || true
    V net-undefine default >/dev/null
    log "undefined libvirt's 'default' network"
  fi
}

# The private instance's state: the configuration files of /etc/libvirt without any definition
# (fresh on every start), and the directory trees of libvirt's state, cache and log folders.
private_dirs() {
  local d
  # run/openvswitch and run/ovn belong to this host's OVN (ovn-up may have come first): kept
  rm -rf "$DIR/etc"
  [ -d "$DIR/run" ] && find "$DIR/run" -mindepth 1 -maxdepth 1 ! -name openvswitch ! -name ovn -exec rm -rf {} +
  mkdir -p "$DIR/etc" "$DIR/run/libvirt" "$DIR/lib" "$DIR/cache" "$DIR/log"
  # libvirt locks a guest's channel device in /var/lock (-> /run/lock) for every session opened on it.
  mkdir -p "$DIR/run/lock" && chmod 1777 "$DIR/run/lock"
  (cd /etc/libvirt && find . -maxdepth 1 -type f -print0 | xargs -0r cp -p -t "$DIR/etc")
  [ -d /etc/libvirt/nwfilter ] && cp -a /etc/libvirt/nwfilter "$DIR/etc/"
  mkdir -p "$DIR/etc/qemu/networks/autostart" "$DIR/etc/storage/autostart"
  for d in lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
    [ -d "${d#*:}" ] || continue
    (cd "${d#*:}" && find . -type d -print0 | tar --null --no-recursion -T - -cf - | tar -C "$DIR/${d%%:*}" -xpf -)
  done
}

since() { awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $1}"; }

cmd_up() {
  local t0 t1 lv vl f ovn
  t0=$(date +%s.%N)
  need_root
  need_pkgs "${PKGS[@]}"
  mkdir -p "$DIR"
  lock
  lv=$(ours libvirtd || true)
  vl=$(ours virtlogd || true)
  if [ -n "$lv" ] && [ -n "$vl" ] && [ -S "$SOCK" ] && ns_exists; then
    no_default_network
    log "already up: netns $NS, libvirtd $lv, virtlogd $vl"
    ovn=$(ovn_role_wanted)
    [ -n "$ovn" ] && ovn_up_locked "$ovn"
    print_env
    return 0
  fi
  f=$(foreign libvirtd | tr '\n' ' ')
  if [ -n "$f" ]; then
    log "a libvirtd that vmenv did not start is already running (pid ${f% }); refusing to start another."
    log "stop it first (it would share /run/libvirt with ours), or use it directly."
    exit 2
  fi
  f=$(foreign virtlogd | tr '\n' ' ')
  if [ -n "$f" ]; then
    log "a virtlogd that vmenv did not start is already running (pid ${f% }); refusing to start."
    exit 2
  fi
  # half-up leftovers of an earlier run
  [ -n "$lv" ] && stop_pid "$lv" libvirtd
  [ -n "$vl" ] && stop_pid "$vl" virtlogd

  ns_exists || ip netns add "$NS"
  ip -n "$NS" link set lo up
  [ "$PRIVATE" = 1 ] && private_dirs
  # never autostart libvirt's default network (libvirt-daemon-config-network installs the link)
  rm -f /etc/libvirt/qemu/networks/autostart/default.xml
  T_PREP=$(since "$t0")
  t1=$(date +%s.%N)
  start_daemon virtlogd "$LOGSOCK"
  T_VIRTLOGD=$(since "$t1")
  t1=$(date +%s.%N)
  start_daemon libvirtd "$SOCK"
  T_LIBVIRTD=$(since "$t1")
  V uri >/dev/null || die "libvirtd does not answer on $SOCK (log: $DIR/libvirtd.log)"
  no_default_network
  log "up in $(since "$t0") s (packages/checks/netns ${T_PREP} s, virtlogd socket ${T_VIRTLOGD} s," \
    "libvirtd socket ${T_LIBVIRTD} s): netns $NS, libvirtd $(pid_from libvirtd), virtlogd $(pid_from virtlogd), $URI"
  ovn=$(ovn_role_wanted)
  [ -n "$ovn" ] && ovn_up_locked "$ovn"
  print_env
}

print_env() {
  echo "KAAS_NETNS=$NS"
  echo "LIBVIRT_DEFAULT_URI=$URI"
  echo "KAAS_VMENV_DIR=$DIR"
  ovn_print_env
}

# ---- down --------------------------------------------------------------------------------------------
cmd_down() {
  need_root
  mkdir -p "$DIR"
  lock
  local lv vl ino n a bad=0 p c left=""
  lv=$(ours libvirtd || true)
  vl=$(ours virtlogd || true)
  ino=$(ns_inode)
  if [ -n "$lv" ] && [ -S "$SOCK" ]; then
    for n in $(V list --all --name 2>/dev/null); do
      if [[ $n =~ $PREFIX_RE ]]; then
        V destroy "$n" >/dev/null 2>&1 || true
        # a transient domain (virsh create) is gone once destroyed: nothing to undefine
        V undefine "$n" --nvram >/dev/null 2>&1 || V undefine "$n" >/dev/null 2>&1 ||
          ! V dominfo "$n" >/dev/null 2>&1 || { log "could not undefine domain $n"; bad=1; }
      elif [ "$(V domstate "$n" 2>/dev/null)" != "shut off" ]; then
        log "domain $n is not kaas-*/vmtest-*: stopping it (left defined)"
        V destroy "$n" >/dev/null 2>&1 || true
      fi
    done
    for n in $(V net-list --all --name 2>/dev/null); do
      if [[ $n =~ $PREFIX_RE ]] || [ "$n" = default ]; then
        a=$(V net-info "$n" 2>/dev/null | awk '/^Active:/{print $2}')
        [ "$a" = yes ] && V net-destroy "$n" >/dev/null 2>&1
        V net-undefine "$n" >/dev/null 2>&1 || true   # transient networks are gone after destroy
      else
        log "network $n is not kaas-*/vmtest-*: stopping it (left defined)"
        V net-destroy "$n" >/dev/null 2>&1 || true
      fi
    done
    for n in $(V pool-list --all --name 2>/dev/null); do
      if [[ $n =~ $PREFIX_RE ]]; then
        a=$(V pool-info "$n" 2>/dev/null | awk '/^State:/{print $2}')
        [ "$a" = running ] && V pool-destroy "$n" >/dev/null 2>&1
        V pool-undefine "$n" >/dev/null 2>&1 || true
      fi
    done
  elif [ -n "$lv" ]; then
    log "libvirtd $lv runs but its socket is missing; stopping it without cleanup"
  fi
  [ -n "$lv" ] && { stop_pid "$lv" libvirtd || bad=1; }
  [ -n "$vl" ] && { stop_pid "$vl" virtlogd || bad=1; }
  # after the guests: libvirt unplugs their ports from br-int through this host's Open vSwitch
  ovn_down_locked || bad=1

  # whatever our daemons left inside the namespace (guests, dnsmasq) is ours: stop it by PID
  if [ -n "$ino" ]; then
    while read -r p c; do
      [ -n "$p" ] || continue
      case $c in
        qemu-system-*|dnsmasq|libvirtd|virtlogd|libvirt_iohelp*|ovsdb-server|ovs-vswitchd|ovn-*)
          log "stopping leftover $c ($p) in netns $NS"; stop_pid "$p" "$c" || bad=1 ;;
        *) log "note: process $p ($c) still runs inside netns $NS (not stopped)" ;;
      esac
    done < <(procs_in_ns "$ino")
  fi
  if ns_exists; then
    for n in $(ip -n "$NS" -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      log "bridge $n was still present in netns $NS (removed with it)"
      left="$left bridge:$n"
    done
    ip netns del "$NS" || bad=1
  fi
  rm -f "$DIR/libvirtd.pid" "$DIR/virtlogd.pid"

  # verify
  ns_exists && left="$left netns:$NS"
  for p in $lv $vl; do alive "$p" && left="$left pid:$p"; done
  if [ -n "$ino" ]; then
    while read -r p c; do
      case $c in qemu-system-*|dnsmasq|libvirtd|virtlogd|ovsdb-server|ovs-vswitchd|ovn-*) left="$left $c:$p" ;; esac
    done < <(procs_in_ns "$ino")
  fi
  for p in $(all_pids dnsmasq); do   # libvirt's dnsmasq for one of our networks, escaped to the root netns
    [ "$(pid_ns_inode "$p")" = "$(pid_ns_inode 1)" ] || continue   # another vmenv's, inside its netns
    grep -qaE 'dnsmasq/(kaas-|vmtest-)[^/]*\.conf' "/proc/$p/cmdline" 2>/dev/null && left="$left dnsmasq:$p"
  done
  for n in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    # our daemon only ever made bridges inside the namespace; report anything similar outside it
    [[ $n =~ ^(kaas|vmtest) ]] && log "warning: bridge $n exists in the root namespace (not created by vmenv)"
  done
  if [ -n "$left" ] || [ $bad = 1 ]; then
    log "down: NOT clean:${left:- (see messages above)}"
    exit 1
  fi
  log "down: nothing left (no daemon, guest, dnsmasq, bridge or netns $NS)"
}

cmd_ovn_up() {
  local role
  need_root
  mkdir -p "$DIR"
  lock
  role=$(ovn_role_wanted)
  ovn_up_locked "${role:-central}"
  ovn_print_env
}

cmd_ovn_down() {
  need_root
  mkdir -p "$DIR"
  lock
  ovn_down_locked || exit 1
}

# ---- status ------------------------------------------------------------------------------------------
cmd_status() {
  local lv vl up=1 f
  lv=$(ours libvirtd || true)
  vl=$(ours virtlogd || true)
  echo "netns     $NS: $(ns_exists && echo present || echo absent)"
  echo "libvirtd  ${lv:-not running}$([ -n "$lv" ] && [ "$(pid_ns_inode "$lv")" = "$(ns_inode)" ] && echo ' (in netns)')"
  echo "virtlogd  ${vl:-not running}"
  echo "socket    $SOCK: $([ -S $SOCK ] && echo present || echo absent)"
  f=$(foreign libvirtd | tr '\n' ' ')
  [ -n "$f" ] && echo "foreign   libvirtd not started by vmenv: $f"
  ovn_status
  { [ -n "$lv" ] && [ -n "$vl" ] && ns_exists && [ -S $SOCK ]; } || up=0
  if [ $up = 1 ]; then
    echo "domains:";  V list --all 2>/dev/null | sed 's/^/  /'
    echo "networks:"; V net-list --all 2>/dev/null | sed 's/^/  /'
    echo "pools:";    V pool-list --all 2>/dev/null | sed 's/^/  /'
    return 0
  fi
  return 3
}

cmd_exec() {
  need_root
  ns_exists || die "netns $NS does not exist (run: $0 up)"
  [ $# -gt 0 ] || die "usage: $0 exec CMD [ARGS...]"
  # ovs-vsctl, ovs-appctl, ovn-appctl ... reach this host's daemons (a private host's are not at
  # the default paths of this mount namespace)
  exec ip netns exec "$NS" env OVS_RUNDIR="$OVS_RUN" OVN_RUNDIR="$OVN_RUN" "$@"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  virsh) shift; cmd_exec virsh -c "$URI" "$@" ;;
  ovn-up) shift; cmd_ovn_up "$@" ;;
  ovn-down) shift; cmd_ovn_down "$@" ;;
  *) echo "usage: $0 up|down|status|exec CMD...|virsh ARGS...|ovn-up|ovn-down" >&2; exit 64 ;;
esac
