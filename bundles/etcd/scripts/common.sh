#!/bin/sh
# kaas etcd bundle: shared helpers and node set-up, sourced by the node's user-data before
# master.sh or worker.sh (busybox ash; the user-data runs with `set -u`).
#
# Environment (exported by the user-data, see bundles/README.md): KAAS_ROLE, KAAS_NODE_NAME,
# KAAS_NODE_IP, KAAS_CLUSTER_ID, KAAS_MASTERS, KAAS_INITIAL_MASTER, KAAS_PKI, KAAS_BUNDLE_DIR,
# KAAS_STATUS_FILE, KAAS_NODE_LABELS, KAAS_NODE_TAINTS, ... Tunables (all optional):
#   KAAS_STATE_DIR=/run/kaas/bundle   pid files, flags, logs of this bundle
#   KAAS_STATUS_INTERVAL=5            seconds between status refreshes
#   KAAS_ETCD_MAX_RESTARTS=5          restarts of a crashed etcd before the node reports "failed"
#   KAAS_DATA_DEV=/dev/vda            the node's data disk (formatted only when blank)
#   KAAS_NODE_META_MAX=8192           bytes of the status details given to labels and taints
#   KAAS_SEED=/run/seed               where the node image mounted the NoCloud seed (label cidata)

# ---- defaults ------------------------------------------------------------------------------------
KAAS_PKI=${KAAS_PKI:-/etc/kaas/pki}
KAAS_BUNDLE_DIR=${KAAS_BUNDLE_DIR:-/opt/bundle}
KAAS_STATUS_FILE=${KAAS_STATUS_FILE:-/var/www/status}
KAAS_STATE_DIR=${KAAS_STATE_DIR:-/run/kaas/bundle}
KAAS_STATUS_INTERVAL=${KAAS_STATUS_INTERVAL:-5}
KAAS_ETCD_MAX_RESTARTS=${KAAS_ETCD_MAX_RESTARTS:-5}
KAAS_DATA_DEV=${KAAS_DATA_DEV:-/dev/vda}
KAAS_SEED=${KAAS_SEED:-/run/seed}
KAAS_FLOATING_IP=${KAAS_FLOATING_IP:-}
KAAS_MASTERS=${KAAS_MASTERS:-}
KAAS_INITIAL_MASTER=${KAAS_INITIAL_MASTER:-0}
KAAS_ETCD_CLIENT_PORT=2379
KAAS_ETCD_PEER_PORT=2380
KAAS_ETCD_PROXY_PORT=23790
# Raft timing for nodes that may run under software emulation (etcd's 100/1000 ms defaults
# cause needless elections on a busy emulated CPU). Same values on every member.
KAAS_ETCD_HEARTBEAT_MS=${KAAS_ETCD_HEARTBEAT_MS:-250}
KAAS_ETCD_ELECTION_MS=${KAAS_ETCD_ELECTION_MS:-2500}
export ETCDCTL_API=3
mkdir -p "$KAAS_STATE_DIR" "$(dirname "$KAAS_STATUS_FILE")"

# ---- logging and status --------------------------------------------------------------------------
kaas_log() { echo "kaas-etcd: $*"; }

kaas_json_escape() { # STRING -> the string's JSON-escaped form (without quotes) on stdout
  printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# kaas_jstr KEY VALUE -> "KEY":"VALUE" (for building the details object)
kaas_jstr() { printf '"%s":"%s"' "$1" "$(kaas_json_escape "$2")"; }

# kaas_status STAGE READY MESSAGE [DETAILS]
#   STAGE installing|joining|ready|failed; READY true|false; DETAILS: comma-separated JSON members
#   ("k":"v","n":1) added to the details object after the node's facts. Written atomically; a
#   stage change is also printed to the console as "KAAS_STAGE <stage> ...".
kaas_status() {
  local stage="$1" ready="$2" msg="$3" extra="${4:-}" d f last=
  d="$(kaas_jstr role "${KAAS_ROLE:-}"),$(kaas_jstr nodeId "${KAAS_NODE_ID:-}"),$(kaas_jstr node "${KAAS_NODE_NAME:-}"),$(kaas_jstr nodeIp "${KAAS_NODE_IP:-}")"
  d="$d,$(kaas_jstr bundle "etcd"),$(kaas_jstr version "${KAAS_VERSION:-}"),\"updatedAt\":$(date +%s)"
  [ -n "${KAAS_NODE_META_JSON:-}" ] && d="$d,$KAAS_NODE_META_JSON"
  [ -n "$extra" ] && d="$d,$extra"
  f=$KAAS_STATUS_FILE
  printf '{"stage":"%s","ready":%s,"message":"%s","details":{%s}}\n' \
    "$stage" "$ready" "$(kaas_json_escape "$msg")" "$d" >"$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
  [ -f "$KAAS_STATE_DIR/stage" ] && read -r last <"$KAAS_STATE_DIR/stage"
  if [ "$last" != "$stage" ]; then
    echo "$stage" >"$KAAS_STATE_DIR/stage"
    echo "KAAS_STAGE $stage bundle=etcd ready=$ready node=${KAAS_NODE_NAME:-} msg=$msg"
    [ -d /run/kaas ] && [ -f /proc/uptime ] &&
      { read -r up _ </proc/uptime; echo "$up $stage" >>/run/kaas/stages; } 2>/dev/null
  fi
  return 0
}

kaas_fail() { # MESSAGE [DETAILS]: publishes "failed" and returns 1
  kaas_status failed false "$1" "${2:-}"
  kaas_log "FAILED: $1"
  return 1
}

# kaas_last_error LOGFILE: the gist of a log's last line (etcd logs JSON: its msg and error)
kaas_last_error() {
  local l
  l=$(tail -n 1 "$1" 2>/dev/null)
  case $l in
    '{'*) printf '%s' "$l" | sed -n 's/.*"msg":"\([^"]*\)".*/\1/p' | tr '\n' ' '
          printf '%s' "$l" | sed -n 's/.*"error":"\([^"]*\)".*/: \1/p' ;;
    *) printf '%s' "$l" | cut -c1-300 ;;
  esac
}

kaas_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
kaas_pid_alive() { # PIDFILE -> 0 when the process it names runs
  local p=
  [ -f "$1" ] && read -r p <"$1"
  kaas_alive "$p"
}

# ---- the node's labels and taints ------------------------------------------------------------------
# KAAS_NODE_LABELS holds one `key=value` per line, KAAS_NODE_TAINTS one `key=value:Effect` or
# `key:Effect` per line (bundles/README.md). There is no kubelet here to apply them, so the status
# details record them:
#   "labels":{"key":"value",...},"taints":[{"key":"k","value":"v","effect":"NoSchedule"},...]
# each only when the node has some. They are data: a line that is not of that shape, or has a
# character Kubernetes does not allow in keys and values, is skipped with a warning (nothing else
# can reach the JSON, so no escaping is needed). Entries past KAAS_NODE_META_MAX bytes are left
# out and counted in "labelsOmitted"/"taintsOmitted": the whole status line must stay under the
# platform's 16 KiB.
KAAS_NODE_META_MAX=${KAAS_NODE_META_MAX:-8192}
kaas_valid_meta() { # KEY VALUE: key [A-Za-z0-9._/-]+, value [A-Za-z0-9._-]*
  case $1 in '' | *[!A-Za-z0-9._/-]*) return 1 ;; esac
  case $2 in *[!A-Za-z0-9._-]*) return 1 ;; esac
  return 0
}
kaas_meta_skip() { # VARIABLE LINE: the warning for a malformed line (shown sanitised)
  kaas_log "WARNING: skipping a malformed line of $1: $(printf %s "$2" | tr -c 'A-Za-z0-9._/=:-' '?' | cut -c1-120)" >&2
}
# kaas_node_meta_json -> the "labels" and "taints" members for the details object (or nothing)
kaas_node_meta_json() {
  local l kv k v e item used=0 lo=0 to=0 labels= taints= out=
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    case $l in *=*) k=${l%%=*} v=${l#*=} ;; *) k= v= ;; esac
    kaas_valid_meta "$k" "$v" || { kaas_meta_skip KAAS_NODE_LABELS "$l"; continue; }
    item="\"$k\":\"$v\""
    if [ $((used + ${#item} + 1)) -gt "$KAAS_NODE_META_MAX" ]; then lo=$((lo + 1)); continue; fi
    labels="$labels${labels:+,}$item"
    used=$((used + ${#item} + 1))
  done <<EOF
${KAAS_NODE_LABELS:-}
EOF
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    case $l in *:NoSchedule | *:PreferNoSchedule | *:NoExecute) e=${l##*:} kv=${l%:*} ;; *) e= kv= ;; esac
    case $kv in *=*) k=${kv%%=*} v=${kv#*=} ;; *) k=$kv v= ;; esac
    [ -n "$e" ] && kaas_valid_meta "$k" "$v" || { kaas_meta_skip KAAS_NODE_TAINTS "$l"; continue; }
    item="{\"key\":\"$k\"${v:+,\"value\":\"$v\"},\"effect\":\"$e\"}"
    if [ $((used + ${#item} + 1)) -gt "$KAAS_NODE_META_MAX" ]; then to=$((to + 1)); continue; fi
    taints="$taints${taints:+,}$item"
    used=$((used + ${#item} + 1))
  done <<EOF
${KAAS_NODE_TAINTS:-}
EOF
  [ -n "$labels" ] && out="\"labels\":{$labels}"
  [ -n "$taints" ] && out="$out${out:+,}\"taints\":[$taints]"
  [ $lo = 0 ] || out="$out${out:+,}\"labelsOmitted\":$lo"
  [ $to = 0 ] || out="$out${out:+,}\"taintsOmitted\":$to"
  printf '%s' "$out"
}

# ---- glibc programs on a busybox guest ----------------------------------------------------------
# Debian's etcd and etcdctl are dynamically linked against glibc, which the guest does not have:
# the bundle carries the loader and libc beside them, and they run as
#   /opt/bundle/ld-linux-x86-64.so.2 --library-path /opt/bundle /opt/bundle/etcd ...
# KAAS_LOADER empty means the programs run directly (static build, or a guest with glibc).
KAAS_LOADER=${KAAS_LOADER:-}
KAAS_LIBDIR=${KAAS_LIBDIR:-}
KAAS_ETCD_BIN=${KAAS_ETCD_BIN:-$KAAS_BUNDLE_DIR/etcd}
KAAS_ETCDCTL_BIN=${KAAS_ETCDCTL_BIN:-$KAAS_BUNDLE_DIR/etcdctl}
KAAS_ETCDUTL_BIN=${KAAS_ETCDUTL_BIN:-$KAAS_BUNDLE_DIR/etcdutl}   # etcd >= 3.5 only

kaas_setup_runtime() {
  local ld="$KAAS_BUNDLE_DIR/ld-linux-x86-64.so.2" lib="$KAAS_STATE_DIR/lib"
  [ -f "$KAAS_ETCD_BIN" ] || { kaas_fail "no etcd in the bundle ($KAAS_ETCD_BIN): is the kaas-bundle disk attached?"; return 1; }
  [ -f "$KAAS_ETCDCTL_BIN" ] || { kaas_fail "no etcdctl in the bundle ($KAAS_ETCDCTL_BIN)"; return 1; }
  if [ -f "$ld" ] && [ -f "$KAAS_BUNDLE_DIR/libc.so.6" ]; then
    if [ -x "$ld" ]; then
      KAAS_LOADER=$ld KAAS_LIBDIR=$KAAS_BUNDLE_DIR
    else # a bundle filesystem without exec bits: copy the (small) loader and libc to tmpfs
      mkdir -p "$lib"
      cp "$ld" "$KAAS_BUNDLE_DIR/libc.so.6" "$lib/" && chmod 755 "$lib/ld-linux-x86-64.so.2" ||
        { kaas_fail "cannot copy the glibc loader to $lib"; return 1; }
      KAAS_LOADER=$lib/ld-linux-x86-64.so.2 KAAS_LIBDIR=$lib
    fi
  elif "$KAAS_ETCDCTL_BIN" version >/dev/null 2>&1; then
    KAAS_LOADER= KAAS_LIBDIR=
  else
    kaas_fail "etcdctl does not run here and the bundle has no ld-linux-x86-64.so.2 + libc.so.6"
    return 1
  fi
  if ! KAAS_ETCD_VERSION=$(kaas_etcdctl_plain version 2>&1 | sed -n 's/^etcdctl version: //p') ||
    [ -z "$KAAS_ETCD_VERSION" ]; then
    kaas_fail "etcdctl does not start through ${KAAS_LOADER:-no loader}"
    return 1
  fi
  export KAAS_LOADER KAAS_LIBDIR KAAS_ETCD_VERSION
  kaas_write_wrappers
  kaas_log "etcd $KAAS_ETCD_VERSION from $KAAS_BUNDLE_DIR (loader: ${KAAS_LOADER:-none})"
}

# $KAAS_STATE_DIR/bin/etcd and .../etcdctl: the bundle's programs through the loader, for people
# and tools on the node. The etcdctl wrapper defaults to this node's certificate (ETCDCTL_* env).
kaas_write_wrappers() {
  local d="$KAAS_STATE_DIR/bin" b run
  mkdir -p "$d"
  for b in etcd etcdctl; do
    eval "run=\$KAAS_$(echo $b | tr a-z A-Z)_BIN"
    {
      echo '#!/bin/sh'
      if [ $b = etcdctl ]; then
        echo "export ETCDCTL_API=3 ETCDCTL_CACERT=\${ETCDCTL_CACERT:-$KAAS_PKI/ca.crt}"
        echo "export ETCDCTL_CERT=\${ETCDCTL_CERT:-$KAAS_PKI/node.crt} ETCDCTL_KEY=\${ETCDCTL_KEY:-$KAAS_PKI/node.key}"
      fi
      if [ -n "$KAAS_LOADER" ]; then
        echo "exec $KAAS_LOADER --library-path $KAAS_LIBDIR $run \"\$@\""
      else
        echo "exec $run \"\$@\""
      fi
    } >"$d/$b.tmp" && chmod 755 "$d/$b.tmp" && mv -f "$d/$b.tmp" "$d/$b"
  done
}

# kaas_glibc_exec BIN ARGS...: replaces the shell with BIN (call it as `kaas_glibc_exec ... &` so
# that $! is the program's own PID)
kaas_glibc_exec() {
  local bin="$1"
  shift
  if [ -n "$KAAS_LOADER" ]; then
    exec "$KAAS_LOADER" --library-path "$KAAS_LIBDIR" "$bin" "$@"
  else
    exec "$bin" "$@"
  fi
}
kaas_etcd() { (kaas_glibc_exec "$KAAS_ETCD_BIN" "$@"); }
kaas_etcdctl_plain() { (kaas_glibc_exec "$KAAS_ETCDCTL_BIN" "$@"); }
# etcdctl with this node's client certificate (every etcd endpoint of the cluster wants one)
kaas_etcdctl() {
  kaas_etcdctl_plain --cacert "$KAAS_PKI/ca.crt" --cert "$KAAS_PKI/node.crt" --key "$KAAS_PKI/node.key" \
    --dial-timeout 3s --command-timeout "${KAAS_ETCDCTL_TIMEOUT:-8s}" "$@"
}

# ---- files of the seed ---------------------------------------------------------------------------
# kaas_seed_copy NAME DEST: copies the root-directory file NAME of the node's NoCloud seed to DEST
# (through DEST.tmp, so DEST is whole or absent); on failure KAAS_SEED_ERR says why. The node image
# mounts the seed read-only at $KAAS_SEED before it runs the user-data; where the seed is not
# mounted there (an image that unmounts it after boot), it is found by its label, cidata, and
# mounted read-only just for the copy.
kaas_seed_copy() {
  local name="$1" dest="$2" dir= dev mp="$KAAS_STATE_DIR/seed" mounted= rc
  KAAS_SEED_ERR=
  case $name in '' | */* | . | ..) KAAS_SEED_ERR="invalid seed file name '$name'"; return 1 ;; esac
  if [ -f "$KAAS_SEED/$name" ]; then
    dir=$KAAS_SEED
  else
    dev=$(findfs LABEL=cidata 2>/dev/null) || dev=$(findfs LABEL=CIDATA 2>/dev/null) || dev=
    if [ -z "$dev" ]; then
      KAAS_SEED_ERR="no $name in $KAAS_SEED and no seed medium (label cidata) found"
      return 1
    fi
    dir=$(awk -v d="$dev" '$1 == d {print $2; exit}' /proc/mounts)
    if [ -z "$dir" ] || [ ! -f "$dir/$name" ]; then
      mkdir -p "$mp"
      if ! mount -t iso9660 -o ro "$dev" "$mp" 2>/dev/null && ! mount -o ro "$dev" "$mp" 2>"$KAAS_STATE_DIR/seed-mount.log"; then
        KAAS_SEED_ERR="cannot mount the seed $dev: $(tail -n 1 "$KAAS_STATE_DIR/seed-mount.log")"
        return 1
      fi
      dir=$mp mounted=1
    fi
  fi
  if [ ! -f "$dir/$name" ]; then
    KAAS_SEED_ERR="the seed ($dir) has no file $name"
    rc=1
  elif cp "$dir/$name" "$dest.tmp" 2>"$KAAS_STATE_DIR/seed-copy.log" && mv -f "$dest.tmp" "$dest"; then
    rc=0
  else
    KAAS_SEED_ERR="cannot copy $dir/$name to $dest: $(tail -n 1 "$KAAS_STATE_DIR/seed-copy.log")"
    rm -f "$dest.tmp"
    rc=1
  fi
  [ -n "$mounted" ] && umount "$mp" 2>/dev/null
  return $rc
}

# ---- cluster facts -------------------------------------------------------------------------------
kaas_master_ips() { echo "$KAAS_MASTERS" | tr ', ' '\n\n' | sed '/^$/d'; }
# client endpoints of the masters, comma-separated; "other" leaves this node out
kaas_master_endpoints() {
  local ip out=
  for ip in $(kaas_master_ips); do
    [ "${1:-}" = other ] && [ "$ip" = "$KAAS_NODE_IP" ] && continue
    out="$out${out:+,}https://$ip:$KAAS_ETCD_CLIENT_PORT"
  done
  echo "$out"
}

# ---- data disk -----------------------------------------------------------------------------------
# kaas_data_dir MOUNTPOINT: puts the node's data disk at MOUNTPOINT (read-write), sets
# KAAS_DATA_STORAGE ("disk <dev> <fs>" or "tmpfs") and KAAS_DATA_NOTE.
#  - a filesystem that the image's boot script already mounted at /data (label "kaas-data") is
#    bind-mounted;
#  - else KAAS_DATA_DEV (/dev/vda) is used when it holds an ext2/3/4 filesystem, formatted
#    (ext4 via mkfs.ext4 when the image has it, else busybox mke2fs = ext2, label "kaas-data")
#    when its first MiB is all zeros (a new, blank volume), and left alone otherwise;
#  - without a usable disk the data lives on tmpfs, i.e. in the VM's memory, and is lost at
#    power-off: reported in the status details.
kaas_data_dir() {
  local mp="$1" dev="$KAAS_DATA_DEV" d magic mkfs
  mkdir -p "$mp"
  KAAS_DATA_NOTE=
  if grep -q " $mp " /proc/mounts; then
    KAAS_DATA_STORAGE=$(cat "$KAAS_STATE_DIR/data-storage" 2>/dev/null || echo mounted)
    return 0
  fi
  if grep -q ' /data ' /proc/mounts; then
    d=$(awk '$2 == "/data" {print $1; exit}' /proc/mounts)
    if mount -o bind /data "$mp"; then
      KAAS_DATA_STORAGE="disk $d ext4"
      echo "$KAAS_DATA_STORAGE" >"$KAAS_STATE_DIR/data-storage"
      return 0
    fi
  fi
  if [ -b "$dev" ]; then
    for d in "$(cat /run/kaas/seed-dev 2>/dev/null)" "$(cat /run/kaas/bundle-dev 2>/dev/null)"; do
      [ "$d" = "$dev" ] && { KAAS_DATA_NOTE="$dev is the seed or bundle disk"; dev=; break; }
    done
    [ -n "$dev" ] && grep -q "^$dev " /proc/mounts && { KAAS_DATA_NOTE="$dev is mounted elsewhere"; dev=; }
  else
    KAAS_DATA_NOTE="no data disk $dev"
    dev=
  fi
  if [ -n "$dev" ]; then
    magic=$(dd if="$dev" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')
    if [ "$magic" != 53ef ]; then
      if [ "$(dd if="$dev" bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]; then
        if command -v mkfs.ext4 >/dev/null 2>&1; then
          mkfs="mkfs.ext4 -q -F -L kaas-data -E lazy_itable_init=1,lazy_journal_init=1"
        else
          mkfs="mke2fs -L kaas-data"
        fi
        kaas_log "formatting blank data disk $dev (${mkfs%% *})"
        if $mkfs "$dev" >"$KAAS_STATE_DIR/mkfs.log" 2>&1; then
          magic=53ef
        else
          KAAS_DATA_NOTE="formatting $dev failed: $(tail -n 1 "$KAAS_STATE_DIR/mkfs.log")"
        fi
      else
        KAAS_DATA_NOTE="$dev holds data that is not an ext2/3/4 filesystem; not formatting it"
      fi
    fi
    if [ "$magic" = 53ef ]; then
      if mount -t ext4 -o rw,noatime "$dev" "$mp" 2>"$KAAS_STATE_DIR/mount.log" ||
        mount -t ext2 -o rw,noatime "$dev" "$mp" 2>>"$KAAS_STATE_DIR/mount.log"; then
        KAAS_DATA_STORAGE="disk $dev $(awk -v m="$mp" '$2 == m {print $3; exit}' /proc/mounts)"
        echo "$KAAS_DATA_STORAGE" >"$KAAS_STATE_DIR/data-storage"
        return 0
      fi
      KAAS_DATA_NOTE="mounting $dev failed: $(tail -n 1 "$KAAS_STATE_DIR/mount.log")"
    fi
  fi
  mount -t tmpfs -o mode=0700 tmpfs "$mp" || return 1
  KAAS_DATA_STORAGE=tmpfs
  echo "$KAAS_DATA_STORAGE" >"$KAAS_STATE_DIR/data-storage"
  kaas_log "WARNING: data on tmpfs (lost at power-off): $KAAS_DATA_NOTE"
  return 0
}

# ---- one-time node set-up --------------------------------------------------------------------------
# The node's facts for leave.sh and for people logging in later (quoted, sourced by leave.sh).
kaas_shq() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
kaas_save_env() {
  local v val
  for v in KAAS_ROLE KAAS_NODE_ID KAAS_NODE_NAME KAAS_NODE_IP KAAS_CLUSTER_NAME KAAS_CLUSTER_ID KAAS_MASTERS \
    KAAS_FLOATING_IP KAAS_PKI KAAS_BUNDLE_DIR KAAS_STATUS_FILE KAAS_STATE_DIR; do
    eval "val=\${$v:-}"
    printf '%s=%s\n' "$v" "$(kaas_shq "$val")"
  done >"$KAAS_STATE_DIR/env.tmp" && mv -f "$KAAS_STATE_DIR/env.tmp" "$KAAS_STATE_DIR/env"
}

kaas_save_env
KAAS_NODE_META_JSON=$(kaas_node_meta_json) # once: the status loop adds it to every line
# (a re-run of the user-data while the supervisor runs must not touch the published status)
kaas_pid_alive "$KAAS_STATE_DIR/supervisor.pid" ||
  kaas_status installing false "setting up the node (${KAAS_ROLE:-?})"
KAAS_SETUP_OK=1
for f in ca.crt node.crt node.key; do
  [ -s "$KAAS_PKI/$f" ] || { kaas_fail "missing $KAAS_PKI/$f"; KAAS_SETUP_OK=0; }
done
