#!/bin/sh
# kaas etcd bundle: removes THIS master from its etcd cluster, before its VM is destroyed.
#
#   leave.sh [--dry-run]
#
# Runs in the master's guest (busybox sh) after common.sh + master.sh have run there: it reads
# the node's facts from $KAAS_STATE_DIR/env (written by common.sh; /run/kaas/bundle/env) unless
# they are in the environment already. Needs KAAS_NODE_NAME, KAAS_NODE_IP, KAAS_MASTERS and the
# node's certificates in KAAS_PKI. It
#   1. asks the other members (KAAS_MASTERS, plus whatever this member knows of) for the member
#      list and finds this node's member ID (by name, else by peer URL);
#   2. tells the local supervisor not to restart etcd, then runs `etcdctl member remove <id>`
#      through ANOTHER member (etcd's strict reconfiguration check refuses a removal that would
#      cost the remaining members their quorum);
#   3. stops the local etcd and publishes status "failed" with details.left=true.
# It refuses to remove the last member. Exit status: 0 removed (or not a member any more),
# 1 failed (nothing changed), 2 usage/environment error.
# It can also run outside the guest, from anything that reaches the masters' port 2379, with
# KAAS_ETCDCTL=etcdctl (a local etcdctl) and the node's certificate material in KAAS_PKI.
set -u
DRY=0
[ "${1:-}" = --dry-run ] && DRY=1
STATE=${KAAS_STATE_DIR:-/run/kaas/bundle}
if [ -z "${KAAS_NODE_NAME:-}" ] && [ -f "$STATE/env" ]; then . "$STATE/env"; fi
KAAS_PKI=${KAAS_PKI:-/etc/kaas/pki}
KAAS_BUNDLE_DIR=${KAAS_BUNDLE_DIR:-/opt/bundle}
KAAS_STATE_DIR=${KAAS_STATE_DIR:-$STATE}
KAAS_MASTERS=${KAAS_MASTERS:-}
export ETCDCTL_API=3
for v in KAAS_NODE_NAME KAAS_NODE_IP; do
  eval "[ -n \"\${$v:-}\" ]" || { echo "leave.sh: $v is not set (and no $STATE/env)" >&2; exit 2; }
done

log() { echo "kaas-etcd leave: $*"; }

# etcdctl: KAAS_ETCDCTL when given, else the bundle's through the bundle's glibc loader
ctl() {
  if [ -n "${KAAS_ETCDCTL:-}" ]; then
    set -- "$KAAS_ETCDCTL" "$@"
  elif [ -f "$KAAS_BUNDLE_DIR/ld-linux-x86-64.so.2" ]; then
    ld=$KAAS_BUNDLE_DIR/ld-linux-x86-64.so.2 libdir=$KAAS_BUNDLE_DIR
    [ -x "$ld" ] || { ld=$KAAS_STATE_DIR/lib/ld-linux-x86-64.so.2 libdir=$KAAS_STATE_DIR/lib; }
    set -- "$ld" --library-path "$libdir" "$KAAS_BUNDLE_DIR/etcdctl" "$@"
  else
    set -- "$KAAS_BUNDLE_DIR/etcdctl" "$@"
  fi
  "$@" --cacert "$KAAS_PKI/ca.crt" --cert "$KAAS_PKI/node.crt" --key "$KAAS_PKI/node.key" \
    --dial-timeout 3s --command-timeout 15s
}

status_left() {
  # same JSON shape as common.sh's kaas_status
  f=${KAAS_STATUS_FILE:-/var/www/status}
  [ -d "$(dirname "$f")" ] || return 0
  printf '{"stage":"failed","ready":false,"message":"%s","details":{"role":"master","nodeId":"%s","node":"%s","nodeIp":"%s","bundle":"etcd","left":true,"removedMemberId":"%s","updatedAt":%s}}\n' \
    "member $1 removed from the etcd cluster; etcd stopped" "${KAAS_NODE_ID:-}" "$KAAS_NODE_NAME" "$KAAS_NODE_IP" "$1" "$(date +%s)" \
    >"$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
  echo failed >"$KAAS_STATE_DIR/stage" 2>/dev/null
  echo "KAAS_STAGE failed bundle=etcd ready=false node=$KAAS_NODE_NAME msg=left the etcd cluster"
}

me_peer=https://$KAAS_NODE_IP:2380
others=
for ip in $(echo "$KAAS_MASTERS" | tr ', ' '\n\n'); do
  [ -z "$ip" ] || [ "$ip" = "$KAAS_NODE_IP" ] && continue
  others="$others${others:+,}https://$ip:2379"
done
# members this node knows of (masters added after its seed was written)
if known=$(ctl --endpoints="https://127.0.0.1:2379" member list -w simple 2>/dev/null); then
  for u in $(echo "$known" | awk -F', ' -v p="$me_peer" '$4 != p && $5 != "" {print $5}'); do
    case ",$others," in *",$u,"*) ;; *) others="$others${others:+,}$u" ;; esac
  done
fi
[ -n "$others" ] || { log "no other member to ask: refusing (this would remove the last member)"; exit 1; }

if ! list=$(ctl --endpoints="$others" member list -w simple 2>&1); then
  log "no other member answers ($others): $list"
  exit 1
fi
line=$(echo "$list" | awk -F', ' -v n="$KAAS_NODE_NAME" -v p="$me_peer" '$3 == n || $4 == p {print; exit}')
if [ -z "$line" ]; then
  log "$KAAS_NODE_NAME ($me_peer) is not a member (any more); nothing to remove"
  [ $DRY = 1 ] || { touch "$KAAS_STATE_DIR/left" 2>/dev/null; status_left none; }
  exit 0
fi
id=${line%%,*}
n=$(echo "$list" | grep -c ', ')
[ "$n" -gt 1 ] || { log "$KAAS_NODE_NAME is the only member: refusing to remove it"; exit 1; }
log "member $id ($KAAS_NODE_NAME) of $n; removing it through $others"
[ $DRY = 1 ] && { log "dry run: not removing"; exit 0; }

touch "$KAAS_STATE_DIR/left" 2>/dev/null # the supervisor must not restart etcd after this
# A member that (re)started within the last few seconds has not yet seen its peers long enough
# for etcd's reconfiguration check: it answers "unhealthy cluster" for that while. Try again
# for up to 20 s; any other refusal ends the attempt at once.
tries=0
while ! out=$(ctl --endpoints="$others" member remove "$id" 2>&1); do
  tries=$((tries + 1))
  case $out in *"unhealthy cluster"*) [ $tries -lt 10 ] && { sleep 2; continue; } ;; esac
  rm -f "$KAAS_STATE_DIR/left"
  log "member remove failed: $out"
  exit 1
done
log "$out"

# stop the local etcd (it also stops by itself once it learns it was removed)
pid=
[ -f "$KAAS_STATE_DIR/etcd.pid" ] && read -r pid <"$KAAS_STATE_DIR/etcd.pid"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
fi
status_left "$id"
exit 0
