#!/bin/sh
# kaas etcd bundle, worker role (sourced after common.sh by the node's user-data; busybox ash).
#
# A worker runs `etcd gateway` on port 23790 (all addresses, so 127.0.0.1:23790 too): a TCP
# proxy in front of the masters' client port. TLS goes end to end, so the masters still demand a
# client certificate from the cluster CA for every request, and nothing is served without one.
# Programs on the node talk to etcd through it with the node's certificate:
#   /run/kaas/bundle/bin/etcdctl --endpoints=https://127.0.0.1:23790 get foo
# (the masters' certificates name 127.0.0.1, so the server check passes through the gateway).
#
# Why not `etcd grpc-proxy`: etcd 3.4's grpc-proxy only accepts a client certificate with an
# EMPTY common name for its connections to the masters, and the platform's node certificates
# carry the node name as CN (it fails with "cert has non empty Common Name").
#
# Readiness is a real request through the gateway: `etcdctl endpoint health` against it does a
# linearizable read, which only succeeds when the gateway reaches a master and the cluster has a
# quorum. A supervisor in the background restarts the gateway with backoff, refreshes the status
# file, and follows membership changes: when a started member's client URL is missing from the
# gateway's endpoints (a master added or replaced since this node's seed was written), it
# restarts the gateway with the started members' URLs.

KAAS_PROXY_LISTEN=${KAAS_PROXY_LISTEN:-0.0.0.0:$KAAS_ETCD_PROXY_PORT}
KAAS_PROXY_URL=https://127.0.0.1:$KAAS_ETCD_PROXY_PORT
KAAS_PROXY_PIDFILE=$KAAS_STATE_DIR/gateway.pid
KAAS_SUPERVISOR_PIDFILE=$KAAS_STATE_DIR/supervisor.pid
KAAS_PROXY_ENDPOINTS_FILE=$KAAS_STATE_DIR/endpoints

kaas_proxy_start() { # ENDPOINTS (https://host:port,...)
  local eps
  eps=$(echo "$1" | sed 's|https://||g')
  kaas_glibc_exec "$KAAS_ETCD_BIN" gateway start --endpoints="$eps" --listen-addr="$KAAS_PROXY_LISTEN" \
    --retry-delay 5s >>"$KAAS_STATE_DIR/gateway.log" 2>&1 </dev/null &
  echo $! >"$KAAS_PROXY_PIDFILE"
  echo "$1" >"$KAAS_PROXY_ENDPOINTS_FILE"
  kaas_log "etcd gateway started (pid $!) on $KAAS_PROXY_LISTEN to $eps"
}

kaas_worker_check() { # sets KAAS_CHECK_MSG, KAAS_CHECK_DETAILS; 0 when a request through the gateway works
  local err
  KAAS_CHECK_DETAILS="$(kaas_jstr gateway "$KAAS_PROXY_LISTEN"),$(kaas_jstr endpoints "$(cat "$KAAS_PROXY_ENDPOINTS_FILE" 2>/dev/null)"),$(kaas_jstr etcdVersion "${KAAS_ETCD_VERSION:-}")"
  if err=$(kaas_etcdctl --endpoints="$KAAS_PROXY_URL" endpoint health 2>&1); then
    KAAS_CHECK_MSG="etcd gateway on :$KAAS_ETCD_PROXY_PORT reaches the cluster"
    return 0
  fi
  KAAS_CHECK_MSG="etcd gateway does not reach the cluster yet: $(echo "$err" | tail -n 1)"
  return 1
}

# Client URLs of the cluster's started members, sorted and comma-separated (empty on error).
kaas_cluster_client_urls() {
  kaas_etcdctl --endpoints="$KAAS_PROXY_URL" member list -w simple 2>/dev/null |
    awk -F', ' '$2 == "started" && $5 != "" {print $5}' | sort | tr '\n' ',' | sed 's/,$//'
}

# kaas_has_new_url NEW CURRENT: 0 when NEW (comma list) has a URL that CURRENT lacks. Only then is
# the gateway restarted (with exactly the started members): members that are still joining have
# no client URL yet and must not be dropped, and a removed master costs nothing while it stays
# in the list (the gateway skips endpoints it cannot reach).
kaas_has_new_url() {
  local u
  [ -n "$1" ] || return 1
  for u in $(echo "$1" | tr ',' ' '); do
    case ",$2," in *",$u,"*) ;; *) return 0 ;; esac
  done
  return 1
}

kaas_worker_supervise() {
  local eps restarts=0 pid rc started_at delay tick=0 urls ever_ready=0
  eps=$(kaas_master_endpoints)
  while :; do
    kaas_proxy_start "$eps"
    read -r pid <"$KAAS_PROXY_PIDFILE"
    started_at=$(date +%s)
    while kaas_alive "$pid"; do
      if kaas_worker_check; then
        kaas_status ready true "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
        ever_ready=1
        tick=$((tick + 1))
        if [ $((tick % 12)) = 1 ]; then # about once a minute: follow membership changes
          urls=$(kaas_cluster_client_urls)
          if kaas_has_new_url "$urls" "$eps"; then
            kaas_log "masters changed: gateway endpoints $eps -> $urls"
            eps=$urls
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            restarts=-1 # not a crash
            break
          fi
        fi
      else
        kaas_status joining false "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
      fi
      sleep "$KAAS_STATUS_INTERVAL"
    done
    [ $restarts = -1 ] && { restarts=0; continue; }
    wait "$pid"
    rc=$?
    [ $(($(date +%s) - started_at)) -ge 120 ] && restarts=0
    restarts=$((restarts + 1))
    if [ $restarts -gt "$KAAS_ETCD_MAX_RESTARTS" ]; then
      kaas_fail "etcd gateway exited (rc=$rc) $restarts times in a row; giving up: $(kaas_last_error "$KAAS_STATE_DIR/gateway.log")" \
        "\"restarts\":$((restarts - 1))"
      return 1
    fi
    delay=$((1 << restarts))
    kaas_status "$([ $ever_ready = 1 ] && echo joining || echo installing)" false \
      "etcd gateway exited (rc=$rc); restart $restarts of $KAAS_ETCD_MAX_RESTARTS in ${delay}s: $(kaas_last_error "$KAAS_STATE_DIR/gateway.log")" \
      "\"restarts\":$restarts"
    sleep $delay
  done
}

if [ "$KAAS_SETUP_OK" != 1 ]; then
  kaas_log "set-up failed; not starting the etcd gateway"
elif kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE"; then
  kaas_log "etcd gateway supervisor already running (pid $(cat "$KAAS_SUPERVISOR_PIDFILE")); nothing to do"
elif [ -z "$(kaas_master_endpoints)" ]; then
  kaas_fail "KAAS_MASTERS is empty: no etcd cluster to connect to"
elif kaas_setup_runtime; then
  kaas_status installing false "starting the etcd gateway to $(kaas_master_endpoints)"
  kaas_worker_supervise &
  echo $! >"$KAAS_SUPERVISOR_PIDFILE"
  kaas_log "supervisor pid $!"
fi
