#!/bin/sh
# kaas k3s bundle: shared helpers and node set-up, sourced by the node's user-data before
# master.sh or worker.sh. POSIX sh (dash on Debian, busybox ash); the user-data runs `set -u`.
#
# Written for a real Linux guest (e.g. a Debian cloud image) with the bundle volume mounted at
# $KAAS_BUNDLE_DIR: the k3s binary at $KAAS_BUNDLE_DIR/k3s and the air-gap images at
# $KAAS_BUNDLE_DIR/k3s-airgap-images-amd64.tar.zst. k3s runs as a systemd service when systemd
# is PID 1 (as k3s's own installer does it), else under a supervisor loop started here.
#
# Environment: the node facts the user-data exports (see bundles/README.md), and optionally
#   KAAS_STATE_DIR=/run/kaas/bundle    pid files, logs, flags of this bundle
#   KAAS_STATUS_INTERVAL=5             seconds between status refreshes
#   KAAS_INIT=auto|systemd|supervise   how k3s is run (auto: systemd when it is PID 1)
#   KAAS_K3S_MAX_RESTARTS=5            restarts (supervise mode) before reporting "failed"
#   KAAS_STATUS_SERVER=auto|0          start a status server on :8099 when nothing listens there
#   KAAS_SERVER_PROBE_SECONDS=60       how long to look for a reachable server (joiners, agents)

KAAS_PKI=${KAAS_PKI:-/etc/kaas/pki}
KAAS_BUNDLE_DIR=${KAAS_BUNDLE_DIR:-/opt/bundle}
KAAS_STATUS_FILE=${KAAS_STATUS_FILE:-/var/www/status}
KAAS_STATE_DIR=${KAAS_STATE_DIR:-/run/kaas/bundle}
KAAS_STATUS_INTERVAL=${KAAS_STATUS_INTERVAL:-5}
KAAS_INIT=${KAAS_INIT:-auto}
KAAS_K3S_MAX_RESTARTS=${KAAS_K3S_MAX_RESTARTS:-5}
KAAS_STATUS_SERVER=${KAAS_STATUS_SERVER:-auto}
KAAS_SERVER_PROBE_SECONDS=${KAAS_SERVER_PROBE_SECONDS:-60}
KAAS_FLOATING_IP=${KAAS_FLOATING_IP:-}
KAAS_MASTERS=${KAAS_MASTERS:-}
KAAS_INITIAL_MASTER=${KAAS_INITIAL_MASTER:-0}

K3S_BIN=${K3S_BIN:-$KAAS_BUNDLE_DIR/k3s}
K3S_IMAGES=${K3S_IMAGES:-$KAAS_BUNDLE_DIR/k3s-airgap-images-amd64.tar.zst}
K3S_DATA=/var/lib/rancher/k3s
K3S_KUBECONFIG=/etc/rancher/k3s/k3s.yaml
K3S_PORT=6443
KAAS_K3S_DIR=/etc/kaas/k3s            # run.sh (holds the join token: root only)
KAAS_K3S_RUN=$KAAS_K3S_DIR/run.sh
KAAS_K3S_TOKEN_FILE=$KAAS_K3S_DIR/token   # the join token (0600): k3s --token-file, never in argv
KAAS_SUPERVISOR_PIDFILE=$KAAS_STATE_DIR/supervisor.pid
KAAS_K3S_PIDFILE=$KAAS_STATE_DIR/k3s.pid
umask 022
mkdir -p "$KAAS_STATE_DIR" "$(dirname "$KAAS_STATUS_FILE")"

# ---- logging and status --------------------------------------------------------------------------
kaas_log() { echo "kaas-k3s: $*"; }
kaas_json_escape() {
  printf '%s' "$1" | tr '\n\r\t' '   ' | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}
kaas_jstr() { printf '"%s":"%s"' "$1" "$(kaas_json_escape "$2")"; }
kaas_shq() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }

# kaas_status STAGE READY MESSAGE [DETAILS]: atomic JSON at $KAAS_STATUS_FILE; a stage change is
# printed to the console as "KAAS_STAGE <stage> bundle=k3s ...".
kaas_status() {
  local stage="$1" ready="$2" msg="$3" extra="${4:-}" d f last=
  d="$(kaas_jstr role "${KAAS_ROLE:-}"),$(kaas_jstr nodeId "${KAAS_NODE_ID:-}"),$(kaas_jstr node "${KAAS_NODE_NAME:-}"),$(kaas_jstr nodeIp "${KAAS_NODE_IP:-}")"
  d="$d,$(kaas_jstr bundle k3s),$(kaas_jstr version "${KAAS_VERSION:-}"),\"updatedAt\":$(date +%s)"
  [ -n "$extra" ] && d="$d,$extra"
  f=$KAAS_STATUS_FILE
  printf '{"stage":"%s","ready":%s,"message":"%s","details":{%s}}\n' \
    "$stage" "$ready" "$(kaas_json_escape "$msg")" "$d" >"$f.tmp.$$" && chmod 644 "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
  [ -f "$KAAS_STATE_DIR/stage" ] && read -r last <"$KAAS_STATE_DIR/stage"
  if [ "$last" != "$stage" ]; then
    echo "$stage" >"$KAAS_STATE_DIR/stage"
    echo "KAAS_STAGE $stage bundle=k3s ready=$ready node=${KAAS_NODE_NAME:-} msg=$msg"
  fi
  return 0
}
kaas_fail() { kaas_status failed false "$1" "${2:-}"; kaas_log "FAILED: $1"; return 1; }
kaas_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
kaas_pid_alive() { local p=; [ -f "$1" ] && read -r p <"$1"; kaas_alive "$p"; }

# ---- status server ---------------------------------------------------------------------------------
# The kaas test image serves /var/www on :8099 itself; a stock cloud image does not.
kaas_port_listening() { # PORT
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {f = 1} END {exit !f}'
}
kaas_ensure_status_server() {
  local dir
  [ "$KAAS_STATUS_SERVER" = 0 ] && return 0
  kaas_port_listening 8099 && return 0
  dir=$(dirname "$KAAS_STATUS_FILE")
  if command -v busybox >/dev/null 2>&1 && busybox --list 2>/dev/null | grep -qx httpd; then
    busybox httpd -p 8099 -h "$dir"
  elif command -v python3 >/dev/null 2>&1; then
    (cd "$dir" && exec python3 -m http.server 8099 --bind 0.0.0.0 >"$KAAS_STATE_DIR/status-server.log" 2>&1 </dev/null) &
  else
    kaas_log "WARNING: nothing serves $KAAS_STATUS_FILE on :8099 (no busybox httpd, no python3)"
    return 1
  fi
  kaas_log "status server on :8099 serving $dir"
}

# ---- network ----------------------------------------------------------------------------------------
kaas_nic_of_ip() { # IP -> name of the interface holding it
  ip -o -4 addr show 2>/dev/null | awk -v ip="$1" '{split($4, a, "/"); if (a[1] == ip) {print $2; exit}}'
}

# ---- k3s preparation --------------------------------------------------------------------------------
kaas_k3s_check_bundle() {
  [ -f "$K3S_BIN" ] || { kaas_fail "no k3s binary at $K3S_BIN: is the kaas-bundle volume attached?"; return 1; }
  if [ ! -x "$K3S_BIN" ]; then # bundle filesystem without exec bits: run a copy
    mkdir -p /usr/local/bin
    cp "$K3S_BIN" /usr/local/bin/k3s && chmod 755 /usr/local/bin/k3s || { kaas_fail "cannot copy $K3S_BIN"; return 1; }
    K3S_BIN=/usr/local/bin/k3s
  fi
  [ -f "$K3S_IMAGES" ] || { kaas_fail "no air-gap images at $K3S_IMAGES"; return 1; }
  return 0
}

# The air-gap images where k3s imports them from at start (before the first start).
kaas_k3s_install_images() {
  local dst="$K3S_DATA/agent/images/${K3S_IMAGES##*/}"
  mkdir -p "$K3S_DATA/agent/images"
  if [ -f "$dst" ] && [ "$(wc -c <"$dst")" = "$(wc -c <"$K3S_IMAGES")" ]; then return 0; fi
  cp "$K3S_IMAGES" "$dst.tmp" && mv -f "$dst.tmp" "$dst" || { kaas_fail "cannot copy the air-gap images to $dst"; return 1; }
  kaas_log "air-gap images copied to $dst"
}

# kaas_k3s_pick_server CANDIDATE...: the first candidate whose :6443 accepts TCP within
# KAAS_SERVER_PROBE_SECONDS, else the first candidate (k3s keeps retrying it).
kaas_k3s_pick_server() {
  local end c
  end=$(($(date +%s) + KAAS_SERVER_PROBE_SECONDS))
  while [ "$(date +%s)" -lt "$end" ]; do
    for c in "$@"; do
      if command -v nc >/dev/null 2>&1 && nc -z -w 2 "$c" $K3S_PORT 2>/dev/null </dev/null; then echo "$c"; return 0; fi
    done
    command -v nc >/dev/null 2>&1 || break
    sleep 3
  done
  echo "$1"
}

kaas_other_masters() { # this node's fellow masters from KAAS_MASTERS, one per line
  echo "$KAAS_MASTERS" | tr ', ' '\n\n' | sed '/^$/d' | grep -vxF "$KAAS_NODE_IP" || true
}

# ---- the node's labels and taints ------------------------------------------------------------------
# KAAS_NODE_LABELS holds one `key=value` per line, KAAS_NODE_TAINTS one `key=value:Effect` or
# `key:Effect` per line (bundles/README.md); both unset or empty when the node has none. They are
# data: read line by line, checked against the characters Kubernetes allows in keys and values,
# and a line of any other shape is skipped with a warning rather than passed on.
kaas_valid_meta() { # KEY VALUE: key [A-Za-z0-9._/-]+, value [A-Za-z0-9._-]*
  case $1 in '' | *[!A-Za-z0-9._/-]*) return 1 ;; esac
  case $2 in *[!A-Za-z0-9._-]*) return 1 ;; esac
  return 0
}
kaas_valid_label() { # LINE
  case $1 in *=*) kaas_valid_meta "${1%%=*}" "${1#*=}" ;; *) return 1 ;; esac
}
kaas_valid_taint() { # LINE
  local kv
  case $1 in *:NoSchedule | *:PreferNoSchedule | *:NoExecute) ;; *) return 1 ;; esac
  kv=${1%:*}
  case $kv in *=*) kaas_valid_meta "${kv%%=*}" "${kv#*=}" ;; *) kaas_valid_meta "$kv" "" ;; esac
}
kaas_meta_skip() { # VARIABLE LINE: the warning for a malformed line (shown sanitised)
  kaas_log "WARNING: skipping a malformed line of $1: $(printf %s "$2" | tr -c 'A-Za-z0-9._/=:-' '?' | cut -c1-120)" >&2
}
# kaas_k3s_node_meta_args -> `--node-label`, `key=value`, ..., `--node-taint`, `key=value:Effect`,
# ..., one argument per line, for the role script to append to k3s's arguments
kaas_k3s_node_meta_args() {
  local l
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    if kaas_valid_label "$l"; then printf -- '--node-label\n%s\n' "$l"; else kaas_meta_skip KAAS_NODE_LABELS "$l"; fi
  done <<EOF
${KAAS_NODE_LABELS:-}
EOF
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    if kaas_valid_taint "$l"; then printf -- '--node-taint\n%s\n' "$l"; else kaas_meta_skip KAAS_NODE_TAINTS "$l"; fi
  done <<EOF
${KAAS_NODE_TAINTS:-}
EOF
}

# kaas_k3s_write_token: the join token into $KAAS_K3S_TOKEN_FILE (root only), for --token-file:
# an argument would show in every user's `ps`
kaas_k3s_write_token() {
  mkdir -p "$KAAS_K3S_DIR"
  chmod 700 "$KAAS_K3S_DIR"
  (umask 077 && printf '%s\n' "$KAAS_JOIN_TOKEN" >"$KAAS_K3S_TOKEN_FILE.tmp") &&
    mv -f "$KAAS_K3S_TOKEN_FILE.tmp" "$KAAS_K3S_TOKEN_FILE"
}

# kaas_k3s_write_run ARGS...: /etc/kaas/k3s/run.sh execs k3s with exactly these arguments
# (shell-quoted; mode 0700), without the node's secrets in its environment
kaas_k3s_write_run() {
  local a line="exec $(kaas_shq "$K3S_BIN")"
  for a in "$@"; do line="$line $(kaas_shq "$a")"; done
  mkdir -p "$KAAS_K3S_DIR"
  chmod 700 "$KAAS_K3S_DIR"
  {
    echo '#!/bin/sh'
    echo "# k3s for kaas node $KAAS_NODE_NAME ($KAAS_ROLE); written by the kaas k3s bundle"
    echo 'unset KAAS_JOIN_TOKEN'
    echo "$line"
  } >"$KAAS_K3S_RUN.tmp" && chmod 700 "$KAAS_K3S_RUN.tmp" && mv -f "$KAAS_K3S_RUN.tmp" "$KAAS_K3S_RUN"
}

kaas_init_mode() {
  case $KAAS_INIT in
    systemd | supervise) echo "$KAAS_INIT" ;;
    *) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd; else echo supervise; fi ;;
  esac
}

# systemd unit like k3s's installer writes (Type=notify; Restart=always; gives up after
# 6 failed starts in 10 minutes, which the status loop reports as "failed")
kaas_k3s_systemd_start() { # UNIT
  local u=/etc/systemd/system/$1.service
  mkdir -p /etc/systemd/system
  cat >"$u.tmp" <<EOF
[Unit]
Description=k3s ($KAAS_ROLE of kaas cluster ${KAAS_CLUSTER_NAME:-})
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=600
StartLimitBurst=6

[Service]
Type=notify
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=$KAAS_K3S_RUN
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
EOF
  mv -f "$u.tmp" "$u"
  systemctl daemon-reload &&
    systemctl enable --now --no-block "$1.service" >"$KAAS_STATE_DIR/systemctl.log" 2>&1 ||
    { kaas_fail "systemctl enable --now $1 failed: $(tail -n 1 "$KAAS_STATE_DIR/systemctl.log")"; return 1; }
  kaas_log "k3s runs as systemd unit $1.service"
}

# ---- supervision and status loop ------------------------------------------------------------------
# kaas_k3s_run UNIT CHECKFN WAITSTAGE: starts k3s (systemd unit, or run.sh under a restart loop)
# and keeps the status file current; CHECKFN sets KAAS_CHECK_MSG / KAAS_CHECK_DETAILS and returns
# 0 when the node is ready. WAITSTAGE is the stage shown until then (installing|joining).
kaas_k3s_run() {
  local unit="$1" check="$2" wait="$3" mode restarts=0 pid rc started delay
  mode=$(kaas_init_mode)
  echo "$mode" >"$KAAS_STATE_DIR/init-mode"
  if [ "$mode" = systemd ]; then
    kaas_k3s_systemd_start "$unit" || return 1
    while :; do
      if systemctl is-failed --quiet "$unit.service"; then
        kaas_fail "$unit.service failed (gave up after repeated restarts; see journalctl -u $unit)" "$(kaas_jstr init systemd)"
      elif $check; then
        kaas_status ready true "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS,$(kaas_jstr init systemd)"
        wait=joining
      else
        kaas_status "$wait" false "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS,$(kaas_jstr init systemd)"
      fi
      sleep "$KAAS_STATUS_INTERVAL"
    done
  fi
  while :; do
    "$KAAS_K3S_RUN" >>"$KAAS_STATE_DIR/k3s.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$KAAS_K3S_PIDFILE"
    started=$(date +%s)
    kaas_log "k3s started (pid $pid); log $KAAS_STATE_DIR/k3s.log"
    while kaas_alive "$pid"; do
      if $check; then
        kaas_status ready true "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
        wait=joining
      else
        kaas_status "$wait" false "$KAAS_CHECK_MSG" "$KAAS_CHECK_DETAILS"
      fi
      [ -f "$KAAS_STATE_DIR/k3s.log" ] && [ "$(wc -c <"$KAAS_STATE_DIR/k3s.log")" -gt 8388608 ] &&
        { tail -c 1048576 "$KAAS_STATE_DIR/k3s.log" >"$KAAS_STATE_DIR/k3s.log.1"; : >"$KAAS_STATE_DIR/k3s.log"; }
      sleep "$KAAS_STATUS_INTERVAL"
    done
    wait "$pid"
    rc=$?
    [ $(($(date +%s) - started)) -ge 300 ] && restarts=0
    restarts=$((restarts + 1))
    if [ $restarts -gt "$KAAS_K3S_MAX_RESTARTS" ]; then
      kaas_fail "k3s exited (rc=$rc) $restarts times in a row; giving up: $(tail -n 1 "$KAAS_STATE_DIR/k3s.log" 2>/dev/null)" \
        "\"restarts\":$((restarts - 1))"
      return 1
    fi
    delay=$((1 << restarts))
    kaas_status "$wait" false "k3s exited (rc=$rc); restart $restarts of $KAAS_K3S_MAX_RESTARTS in ${delay}s: $(tail -n 1 "$KAAS_STATE_DIR/k3s.log" 2>/dev/null)" \
      "\"restarts\":$restarts"
    sleep $delay
  done
}

# kaas_k3s_launch UNIT CHECKFN WAITSTAGE: runs kaas_k3s_run in the background once per boot
kaas_k3s_launch() {
  if kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE"; then
    kaas_log "k3s supervisor already running (pid $(cat "$KAAS_SUPERVISOR_PIDFILE")); nothing to do"
    return 0
  fi
  kaas_k3s_run "$@" &
  echo $! >"$KAAS_SUPERVISOR_PIDFILE"
  kaas_log "supervisor pid $!"
}

# kaas_http_get URL -> body on stdout. curl when the image has it; else, for plain
# http://IP:PORT/PATH, one HTTP/1.0 request through nc (a static busybox's wget can crash in
# the C library's resolver on minimal images); else wget.
kaas_http_get() {
  local rest hostport path out
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 5 "$1"
    return
  fi
  rest=${1#http://}
  if [ "$rest" != "$1" ] && command -v nc >/dev/null 2>&1; then
    hostport=${rest%%/*}
    path=/${rest#*/}
    [ "$rest" = "$hostport" ] && path=/
    out=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" |
      nc -w 5 "${hostport%:*}" "${hostport##*:}" 2>/dev/null) || out=
    case $out in
      "HTTP/1."?" 200"*)
        printf '%s\n' "$out" | tr -d '\r' | sed '1,/^$/d'
        return 0
        ;;
      "") echo "no answer from $hostport" >&2 ;;
      *) echo "$(printf '%s\n' "$out" | head -n 1 | tr -d '\r')" >&2 ;;
    esac
    return 1
  fi
  if command -v wget >/dev/null 2>&1; then wget -q -T 5 -O - "$1"; else busybox wget -q -T 5 -O - "$1"; fi
}

# ---- one-time node set-up ----------------------------------------------------------------------------
# (a re-run of the user-data while the supervisor runs must not touch the published status)
kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE" ||
  kaas_status installing false "setting up the node (${KAAS_ROLE:-?})"
kaas_ensure_status_server || true
KAAS_SETUP_OK=1
for f in ca.crt node.crt node.key; do
  [ -s "$KAAS_PKI/$f" ] || { kaas_fail "missing $KAAS_PKI/$f"; KAAS_SETUP_OK=0; }
done
if [ "$KAAS_SETUP_OK" = 1 ]; then
  kaas_k3s_check_bundle && kaas_k3s_install_images || KAAS_SETUP_OK=0
fi
