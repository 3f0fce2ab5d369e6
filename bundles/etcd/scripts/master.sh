#!/bin/sh
# kaas etcd bundle, master role (sourced after common.sh by the node's user-data; busybox ash).
#
# The initial master (KAAS_INITIAL_MASTER=1) starts a new cluster of one, empty or restored from
# a backup (KAAS_RESTORE_FILE, below); every other master registers itself with `etcdctl member
# add` through the masters already running, then starts with --initial-cluster-state existing.
# Client and peer traffic is TLS with certificates from the cluster CA, and both sides demand a
# client certificate signed by it.
#
# The set-up runs here; a supervisor then runs in the background (so the user-data returns): it
# joins, starts etcd, restarts it with backoff when it exits, and refreshes the status file.
# Running the user-data again is safe: a running supervisor is left alone, a member that is
# already registered is reused, and an existing data directory is restarted as it is.

KAAS_ETCD_MOUNT=${KAAS_ETCD_MOUNT:-/var/lib/etcd}
KAAS_ETCD_DATA=$KAAS_ETCD_MOUNT/data
KAAS_ETCD_CONF=$KAAS_ETCD_MOUNT/kaas-etcd.conf   # initial-cluster flags, kept on the data disk
KAAS_ETCD_RESTORE_DIR=$KAAS_ETCD_MOUNT/restore     # a restore in progress (same filesystem as data)
KAAS_ETCD_PIDFILE=$KAAS_STATE_DIR/etcd.pid
KAAS_SUPERVISOR_PIDFILE=$KAAS_STATE_DIR/supervisor.pid
KAAS_PEER_URL=https://$KAAS_NODE_IP:$KAAS_ETCD_PEER_PORT
KAAS_CLIENT_URL=https://$KAAS_NODE_IP:$KAAS_ETCD_CLIENT_PORT

# where the member's data lives, and the backup it was restored from (if it was)
kaas_storage_details() {
  printf '%s,%s' "$(kaas_jstr dataStorage "${KAAS_DATA_STORAGE:-}")" "$(kaas_jstr dataNote "${KAAS_DATA_NOTE:-}")"
  [ -z "${KAAS_RESTORED_FROM:-}" ] || printf ',%s' "$(kaas_jstr restoredFrom "$KAAS_RESTORED_FROM")"
}

# ---- membership --------------------------------------------------------------------------------------
# kaas_etcd_register: makes sure this node is a member of the running cluster and sets
# KAAS_INITIAL_CLUSTER to the --initial-cluster value it must start with. Returns 1 (retry later)
# when no other master answers or the cluster refuses the change for now (e.g. an earlier joiner
# has not started yet: etcd's strict reconfiguration check).
kaas_etcd_register() {
  local eps list line id state out
  eps=$(kaas_master_endpoints other)
  [ -n "$eps" ] || { KAAS_JOIN_MSG="KAAS_MASTERS lists no other master to join"; return 1; }
  if ! list=$(kaas_etcdctl --endpoints="$eps" member list -w simple 2>"$KAAS_STATE_DIR/join.err"); then
    KAAS_JOIN_MSG="no master answers yet ($eps): $(tail -n 1 "$KAAS_STATE_DIR/join.err")"
    return 1
  fi
  line=$(echo "$list" | awk -F', ' -v p="$KAAS_PEER_URL" '$4 == p {print; exit}')
  if [ -n "$line" ]; then
    id=${line%%,*}
    state=$(echo "$line" | awk -F', ' '{print $2}')
    if [ "$state" = started ]; then
      # A started member with our peer URL while our data directory is empty: an earlier
      # incarnation of this node (VM recreated on a new disk). Replace it.
      kaas_log "member $id with $KAAS_PEER_URL is a stale incarnation of this node: removing it"
      if ! out=$(kaas_etcdctl --endpoints="$eps" member remove "$id" 2>&1); then
        KAAS_JOIN_MSG="cannot remove stale member $id: $out"
        return 1
      fi
      return 1 # added on the next attempt
    fi
    kaas_log "member $id already registered for $KAAS_PEER_URL (not started): reusing it"
    KAAS_INITIAL_CLUSTER=$(echo "$list" | awk -F', ' -v me="$KAAS_NODE_NAME" -v p="$KAAS_PEER_URL" \
      '{n = $3; if ($4 == p) n = me; printf "%s%s=%s", (NR > 1 ? "," : ""), n, $4}')
    return 0
  fi
  if ! out=$(kaas_etcdctl --endpoints="$eps" member add "$KAAS_NODE_NAME" --peer-urls="$KAAS_PEER_URL" 2>&1); then
    KAAS_JOIN_MSG="member add refused for now: $(echo "$out" | tail -n 1)"
    return 1
  fi
  KAAS_INITIAL_CLUSTER=$(echo "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
  [ -n "$KAAS_INITIAL_CLUSTER" ] || { KAAS_JOIN_MSG="member add gave no initial cluster: $out"; return 1; }
  kaas_log "registered as $(echo "$out" | sed -n 's/^Member \([0-9a-f]*\) added.*/\1/p'); initial cluster $KAAS_INITIAL_CLUSTER"
  return 0
}

# ---- restore from a backup ---------------------------------------------------------------------------
# A cluster created from a backup: the initial master's seed carries an etcd snapshot (as
# `etcdctl snapshot save` writes it: bolt db and its sha256) as the file KAAS_RESTORE_FILE, whose
# own sha256 is KAAS_RESTORE_SHA256. Before the member's first start the file is copied to the data
# disk, checked, and restored (etcdutl from 3.5 on, else etcdctl) into KAAS_ETCD_RESTORE_DIR; the
# member directory is then renamed into the empty data directory. That rename is the commit point:
# a crash before it restores again from the start, and once the member directory exists the node
# restarts from it and never restores again. A wrong checksum or a failed restore fails the node
# for good: an empty cluster in its place would pass for a restore that lost every key.
kaas_etcd_restore() {
  local want got tool=$KAAS_ETCDCTL_BIN work=$KAAS_ETCD_RESTORE_DIR log=$KAAS_STATE_DIR/restore.log
  local keep="not starting an empty cluster instead"
  want=$(printf %s "${KAAS_RESTORE_SHA256:-}" | tr A-F a-f)
  case $want in *[!0-9a-f]*) want= ;; esac
  if [ ${#want} != 64 ]; then
    kaas_fail "restore: KAAS_RESTORE_SHA256 is not a sha256 (64 hex digits); $keep" "$(kaas_storage_details)"
    return 1
  fi
  kaas_status installing false "restoring the etcd snapshot $KAAS_RESTORE_FILE from the seed" "$(kaas_storage_details)"
  rm -rf "$work" # what an interrupted restore left
  mkdir -p "$work" && chmod 700 "$work"
  if ! kaas_seed_copy "$KAAS_RESTORE_FILE" "$work/snapshot.db"; then
    kaas_fail "restore: $KAAS_SEED_ERR; $keep" "$(kaas_storage_details)"
    return 1
  fi
  got=$(sha256sum "$work/snapshot.db" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    rm -rf "$work"
    kaas_fail "restore: snapshot $KAAS_RESTORE_FILE has sha256 $got, expected $want: not restoring it; $keep" \
      "$(kaas_storage_details)"
    return 1
  fi
  [ -f "$KAAS_ETCDUTL_BIN" ] && tool=$KAAS_ETCDUTL_BIN
  kaas_log "restoring $KAAS_RESTORE_FILE (sha256 $want) with ${tool##*/}"
  if ! (kaas_glibc_exec "$tool" snapshot restore "$work/snapshot.db" --name "$KAAS_NODE_NAME" \
    --initial-cluster "$KAAS_IC" --initial-advertise-peer-urls "$KAAS_PEER_URL" \
    --initial-cluster-token "kaas-$KAAS_CLUSTER_ID" --data-dir "$work/data") >"$log" 2>&1 ||
    [ ! -d "$work/data/member" ]; then
    rm -rf "$work"
    kaas_fail "restore: ${tool##*/} snapshot restore of $KAAS_RESTORE_FILE failed: $(kaas_last_error "$log"); $keep" \
      "$(kaas_storage_details)"
    return 1
  fi
  KAAS_RESTORED_FROM=$want
  kaas_etcd_save_conf # first: restarts report restoredFrom once the member directory is in place
  mkdir -p "$KAAS_ETCD_DATA" && chmod 700 "$KAAS_ETCD_DATA" &&
    mv "$work/data/member" "$KAAS_ETCD_DATA/member" || {
    kaas_fail "restore: cannot move the restored member into $KAAS_ETCD_DATA; $keep" "$(kaas_storage_details)"
    return 1
  }
  rm -rf "$work"
  kaas_log "restored the snapshot $KAAS_RESTORE_FILE (sha256 $want) into $KAAS_ETCD_DATA"
}

# the start flags (and the backup the data came from), read again when the member restarts
kaas_etcd_save_conf() {
  {
    printf 'KAAS_IC=%s\nKAAS_ICS=%s\n' "$(kaas_shq "$KAAS_IC")" "$KAAS_ICS"
    [ -z "$KAAS_RESTORED_FROM" ] || printf 'KAAS_RESTORED_FROM=%s\n' "$KAAS_RESTORED_FROM"
  } >"$KAAS_ETCD_CONF.tmp" && mv -f "$KAAS_ETCD_CONF.tmp" "$KAAS_ETCD_CONF"
}

# Decides the start flags: sets KAAS_IC (--initial-cluster) and KAAS_ICS (new|existing), waiting
# and retrying as long as a joining master cannot register; restores the backup first when there
# is one. Returns 1 when the member must not start (a failed restore, reported).
kaas_etcd_prepare() {
  local n=0 delay=2
  KAAS_IC= KAAS_ICS= KAAS_RESTORED_FROM=
  if [ -d "$KAAS_ETCD_DATA/member" ]; then
    [ -f "$KAAS_ETCD_CONF" ] && . "$KAAS_ETCD_CONF"
    [ -n "$KAAS_IC" ] || KAAS_IC=$KAAS_NODE_NAME=$KAAS_PEER_URL KAAS_ICS=existing
    rm -rf "$KAAS_ETCD_RESTORE_DIR" # a restore that stopped after its commit point
    kaas_log "restarting the member from its data directory"
    return 0
  fi
  if [ "$KAAS_INITIAL_MASTER" = 1 ]; then
    KAAS_IC=$KAAS_NODE_NAME=$KAAS_PEER_URL KAAS_ICS=new
    if [ -n "${KAAS_RESTORE_FILE:-}" ]; then
      kaas_etcd_restore
      return
    fi
  else
    [ -z "${KAAS_RESTORE_FILE:-}" ] ||
      kaas_log "WARNING: KAAS_RESTORE_FILE ignored: only the initial master restores, the others join it"
    while ! kaas_etcd_register; do
      n=$((n + 1))
      kaas_status joining false "joining the etcd cluster (attempt $n): $KAAS_JOIN_MSG" "$(kaas_storage_details)"
      sleep $delay
      [ $delay -lt 10 ] && delay=$((delay + 2))
    done
    KAAS_IC=$KAAS_INITIAL_CLUSTER KAAS_ICS=existing
  fi
  kaas_etcd_save_conf
}

# Client port on every address: the cluster's endpoint (the floating IP) is a load balancer in
# front of the masters that connects to KAAS_NODE_IP:2379 and health-checks it from another VPC
# address; the floating IP itself is on no NIC of this node.
kaas_etcd_start() { # starts etcd in the background, PID in $KAAS_ETCD_PIDFILE
  local p="$KAAS_PKI"
  mkdir -p "$KAAS_ETCD_DATA"
  chmod 700 "$KAAS_ETCD_DATA"
  kaas_glibc_exec "$KAAS_ETCD_BIN" --name "$KAAS_NODE_NAME" --data-dir "$KAAS_ETCD_DATA" \
    --listen-client-urls "https://0.0.0.0:$KAAS_ETCD_CLIENT_PORT" --advertise-client-urls "$KAAS_CLIENT_URL" \
    --listen-peer-urls "https://0.0.0.0:$KAAS_ETCD_PEER_PORT" --initial-advertise-peer-urls "$KAAS_PEER_URL" \
    --listen-metrics-urls http://127.0.0.1:2381 \
    --client-cert-auth --trusted-ca-file "$p/ca.crt" --cert-file "$p/node.crt" --key-file "$p/node.key" \
    --peer-client-cert-auth --peer-trusted-ca-file "$p/ca.crt" --peer-cert-file "$p/node.crt" \
    --peer-key-file "$p/node.key" \
    --initial-cluster-token "kaas-$KAAS_CLUSTER_ID" --initial-cluster "$KAAS_IC" \
    --initial-cluster-state "$KAAS_ICS" \
    --heartbeat-interval "$KAAS_ETCD_HEARTBEAT_MS" --election-timeout "$KAAS_ETCD_ELECTION_MS" \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --logger zap --log-outputs stderr \
    >>"$KAAS_STATE_DIR/etcd.log" 2>&1 </dev/null &
  echo $! >"$KAAS_ETCD_PIDFILE"
  kaas_log "etcd started (pid $!, --initial-cluster-state $KAAS_ICS); log $KAAS_STATE_DIR/etcd.log"
}

# ---- readiness ---------------------------------------------------------------------------------------
# Ready = this member answers a linearizable health check over TLS (which needs a leader and a
# quorum), reports a leader, and is listed as a started member. Sets KAAS_CHECK_MSG and
# KAAS_CHECK_DETAILS.
kaas_master_check() {
  local ep=https://127.0.0.1:$KAAS_ETCD_CLIENT_PORT st ml id leader lname members started herr
  KAAS_CHECK_DETAILS="$(kaas_storage_details)"
  if ! herr=$(kaas_etcdctl --endpoints="$ep" endpoint health 2>&1); then
    KAAS_CHECK_MSG="etcd member not healthy yet: $(echo "$herr" | tail -n 1)"
    return 1
  fi
  st=$(kaas_etcdctl --endpoints="$ep" endpoint status -w json 2>/dev/null) || st=
  ml=$(kaas_etcdctl --endpoints="$ep" member list -w simple 2>/dev/null) || ml=
  id=$(echo "$st" | sed -n 's/.*"member_id":\([0-9]*\).*/\1/p')
  leader=$(echo "$st" | sed -n 's/.*"leader":\([0-9]*\).*/\1/p')
  [ -n "$id" ] && id=$(printf '%x' "$id")
  [ -n "$leader" ] && [ "$leader" != 0 ] && leader=$(printf '%x' "$leader") || leader=
  members=$(echo "$ml" | grep -c ', ')
  started=$(echo "$ml" | grep -c ', started, ')
  lname=$(echo "$ml" | awk -F', ' -v l="$leader" '$1 == l {print $3; exit}')
  KAAS_CHECK_DETAILS="$KAAS_CHECK_DETAILS,$(kaas_jstr memberId "$id"),$(kaas_jstr leaderId "$leader"),$(kaas_jstr leader "$lname")"
  KAAS_CHECK_DETAILS="$KAAS_CHECK_DETAILS,\"members\":$members,\"startedMembers\":$started"
  KAAS_CHECK_DETAILS="$KAAS_CHECK_DETAILS,$(kaas_jstr clientUrl "$KAAS_CLIENT_URL"),$(kaas_jstr etcdVersion "${KAAS_ETCD_VERSION:-}")"
  if [ -z "$leader" ]; then
    KAAS_CHECK_MSG="etcd member has no leader"
    return 1
  fi
  if [ -z "$id" ] || ! echo "$ml" | grep -q "^$id, started, "; then
    KAAS_CHECK_MSG="this member ($id) is not listed as started"
    return 1
  fi
  KAAS_CHECK_MSG="etcd member $KAAS_NODE_NAME healthy; leader ${lname:-$leader}; $started/$members members started"
  return 0
}

# ---- supervisor --------------------------------------------------------------------------------------
kaas_trim_log() { # keeps RAM-backed logs small
  local f="$1"
  [ -f "$f" ] && [ "$(wc -c <"$f")" -gt 2097152 ] && { tail -c 524288 "$f" >"$f.1"; : >"$f"; }
  return 0
}

kaas_master_supervise() {
  local restarts=0 pid rc started_at delay was_ready=0 stage
  kaas_etcd_prepare || return 1
  while :; do
    kaas_etcd_start
    read -r pid <"$KAAS_ETCD_PIDFILE"
    started_at=$(date +%s)
    while kaas_alive "$pid"; do
      if kaas_master_check; then
        kaas_status ready true "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
        was_ready=1
      else
        stage=joining
        [ "$KAAS_ICS" = new ] && [ $was_ready = 0 ] && stage=installing
        kaas_status $stage false "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
      fi
      kaas_trim_log "$KAAS_STATE_DIR/etcd.log"
      sleep "$KAAS_STATUS_INTERVAL"
    done
    wait "$pid"
    rc=$?
    if [ -f "$KAAS_STATE_DIR/left" ]; then
      kaas_status failed false "member removed from the cluster (leave.sh); etcd stopped" \
        "\"left\":true,$(kaas_storage_details)"
      return 0
    fi
    [ $(($(date +%s) - started_at)) -ge 120 ] && restarts=0   # a long run resets the count
    restarts=$((restarts + 1))
    if [ $restarts -gt "$KAAS_ETCD_MAX_RESTARTS" ]; then
      kaas_fail "etcd exited (rc=$rc) $restarts times in a row; giving up: $(kaas_last_error "$KAAS_STATE_DIR/etcd.log")" \
        "\"restarts\":$((restarts - 1)),$(kaas_storage_details)"
      return 1
    fi
    delay=$((1 << restarts))
    kaas_status installing false "etcd exited (rc=$rc); restart $restarts of $KAAS_ETCD_MAX_RESTARTS in ${delay}s: $(kaas_last_error "$KAAS_STATE_DIR/etcd.log")" \
      "\"restarts\":$restarts,$(kaas_storage_details)"
    kaas_log "etcd exited rc=$rc; restarting in ${delay}s"
    sleep $delay
  done
}

# ---- main --------------------------------------------------------------------------------------------
if [ "$KAAS_SETUP_OK" != 1 ]; then
  kaas_log "set-up failed; not starting etcd"
elif kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE"; then
  kaas_log "etcd supervisor already running (pid $(cat "$KAAS_SUPERVISOR_PIDFILE")); nothing to do"
elif kaas_setup_runtime; then
  kaas_data_dir "$KAAS_ETCD_MOUNT"
  rm -f "$KAAS_STATE_DIR/left"
  kaas_status installing false "starting etcd ($KAAS_ETCD_VERSION) on ${KAAS_DATA_STORAGE}" "$(kaas_storage_details)"
  kaas_master_supervise &
  echo $! >"$KAAS_SUPERVISOR_PIDFILE"
  kaas_log "supervisor pid $!"
fi
