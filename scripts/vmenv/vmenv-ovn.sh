# shellcheck shell=bash
# Open vSwitch and OVN for one vmenv host; sourced by vmenv.sh, whose NS, DIR, PRIVATE,
# SOCK_TIMEOUT and helpers (log, die, alive, comm_of, stop_pid, procs_in_ns, ns_exists,
# ns_inode, need_pkgs) it uses.
#
# The kernel of these machines has no openvswitch module, so every bridge uses the userspace
# datapath (datapath_type=netdev), and the Geneve endpoint address sits on the netdev bridge br-phy
# that holds the underlay port (docs/real-vms.md, "OVN on the test hosts").
#
# Role "central": the Northbound and Southbound databases and ovn-northd run here too; the
# provider bridge br-ex (mapped as $KAAS_VMENV_OVN_PHYSNET) carries the address that stands for
# the outside. Role "join": ovn-controller reaches the central Southbound over the underlay, a veth
# pair this host lays between its br-phy and the central host's br-phy.

OVN_DIR=$DIR/ovn   # our pid records, logs and the printed environment (kept across ovn-down: logs only)
if [ "$PRIVATE" = 1 ]; then
  # libvirtd of a private host sees $DIR/run as /run, so the ovs-vsctl it runs to plug a guest
  # finds this database at the default /run/openvswitch/db.sock
  OVS_RUN=$DIR/run/openvswitch
  OVN_RUN=$DIR/run/ovn
  OVS_DB_FILE=$OVN_DIR/db/conf.db
  OVN_DB_DIR=$OVN_DIR/db
else
  # libvirtd of this host shares the machine's /run: Open vSwitch and OVN use Debian's default paths
  OVS_RUN=/run/openvswitch
  OVN_RUN=/run/ovn
  OVS_DB_FILE=/var/lib/openvswitch/conf.db   # /etc/openvswitch/conf.db is Debian's link to it
  OVN_DB_DIR=/var/lib/ovn
fi
OVS_DB=unix:$OVS_RUN/db.sock
NB_SOCK=$OVN_RUN/ovnnb_db.sock
SB_SOCK=$OVN_RUN/ovnsb_db.sock
OVN_BRIDGES=(br-int br-phy br-ex ovs-netdev)   # ovs-netdev: the userspace datapath's own port

ovn_role_wanted() { # prints central|join when this run asks for OVN, nothing otherwise
  if [ -n "${KAAS_VMENV_OVN_JOIN:-}" ]; then echo join
  elif [ "${KAAS_VMENV_OVN:-0}" = 1 ]; then echo central
  fi
}
ovn_role() { cat "$OVN_DIR/role" 2>/dev/null || true; }

ovn_comm() {
  case $1 in
    ovs-db|nb-db|sb-db) echo ovsdb-server ;;
    vswitchd) echo ovs-vswitchd ;;
    northd) echo ovn-northd ;;
    controller) echo ovn-controller ;;
  esac
}
ovn_comm_ok() { # KEY COMM: whether a process of this command name is that daemon (ovs-vswitchd
  # runs under its --monitor, which names itself "monitor")
  [ "$2" = "$(ovn_comm "$1")" ] || { [ "$1" = vswitchd ] && [ "$2" = monitor ]; }
}
ovn_keys() { # ROLE -> the daemons of that role, in start order
  case $1 in
    central) echo ovs-db vswitchd nb-db sb-db northd controller ;;
    join) echo ovs-db vswitchd controller ;;
  esac
}
ovn_ours() { # KEY -> our PID of that daemon when it runs
  local p; p=$(cat "$OVN_DIR/$1.pid" 2>/dev/null || true)
  if [ -n "$p" ] && alive "$p" && ovn_comm_ok "$1" "$(comm_of "$p")"; then echo "$p"; return 0; fi
  return 1
}
ovn_all_up() {
  local role k; role=$(ovn_role)
  [ -n "$role" ] || return 1
  for k in $(ovn_keys "$role"); do ovn_ours "$k" >/dev/null || return 1; done
  [ -S "$OVS_RUN/db.sock" ]
}

# every tool gets the run folders, so that ovs-appctl/ovn-appctl find the daemons' control sockets
OX() { ip netns exec "$NS" env OVS_RUNDIR="$OVS_RUN" OVN_RUNDIR="$OVN_RUN" OVS_LOGDIR="$OVN_DIR" \
  OVN_LOGDIR="$OVN_DIR" OVS_DBDIR="$(dirname "$OVS_DB_FILE")" OVN_DBDIR="$OVN_DB_DIR" "$@"; }
VS() { OX ovs-vsctl --db="$OVS_DB" --timeout=20 "$@" </dev/null; }

ovn_start() { # KEY PATH COMMAND ARGS...: a foreground daemon in the netns, up once PATH exists
  local key=$1 path=$2 p
  shift 2
  rm -f "$path"
  # the same detachment as libvirtd's (start_daemon): own session, stopped by PID, no lock fd
  setsid ip netns exec "$NS" env OVS_RUNDIR="$OVS_RUN" OVN_RUNDIR="$OVN_RUN" OVS_LOGDIR="$OVN_DIR" \
    OVN_LOGDIR="$OVN_DIR" "$@" --log-file="$OVN_DIR/$key.log" -vconsole:off \
    </dev/null >>"$OVN_DIR/$key.out" 2>&1 9>&- &
  p=$!
  echo "$p" >"$OVN_DIR/$key.pid"
  for _ in $(seq 1 $((SOCK_TIMEOUT * 20))); do
    [ -e "$path" ] && ovn_comm_ok "$key" "$(comm_of "$p")" && return 0
    alive "$p" || { tail -5 "$OVN_DIR/$key.log" "$OVN_DIR/$key.out" >&2 2>/dev/null; die "$key exited during start (log: $OVN_DIR/$key.log)"; }
    sleep 0.05
  done
  die "$key: no $path after $SOCK_TIMEOUT s (log: $OVN_DIR/$key.log)"
}

ovn_foreign() { # live daemons with a pid file in our run folders that we did not start
  local f p k mine=" "
  for k in ovs-db vswitchd nb-db sb-db northd controller; do mine="$mine$(cat "$OVN_DIR/$k.pid" 2>/dev/null || true) "; done
  for f in "$OVS_RUN"/*.pid "$OVN_RUN"/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f" 2>/dev/null || true)
    [ -n "$p" ] && alive "$p" && [[ $mine != *" $p "* ]] && echo "$p:$(comm_of "$p")"
  done
  return 0
}

ovn_wait() { # WHAT SECONDS COMMAND...: retries COMMAND every 0.1 s
  local what=$1 secs=$2
  shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "OVN: $what not within $secs s (logs: $OVN_DIR)"
}
chassis_registered() { OX ovn-sbctl --db="$1" --timeout=5 --bare --columns=name find Chassis name="$2" </dev/null | grep -qx "$2"; }
tunnel_up() { VS list-ports br-int | grep -q '^ovn-'; }

ovn_up_locked() { # ROLE
  local role=$1 t0 chassis ul_ip sb join="" join_db="" peer_dev="" provider="" physnet="" f
  t0=$(date +%s.%N)
  need_pkgs "${OVN_PKGS[@]}"
  mkdir -p "$OVN_DIR"
  if ovn_all_up && [ "$(ovn_role)" = "$role" ]; then
    log "OVN already up ($role, chassis $(sed -n 's/^KAAS_OVN_CHASSIS=//p' "$OVN_DIR/env"))"
    return 0
  fi
  f=$(ovn_foreign | tr '\n' ' ')
  if [ -n "$f" ]; then
    log "Open vSwitch/OVN daemons that vmenv did not start use $OVS_RUN or $OVN_RUN (${f% }); refusing to start."
    exit 2
  fi
  [ -n "$(ovn_role)" ] && { log "OVN half up: cleaning up first"; ovn_down_locked || true; }
  ns_exists || { ip netns add "$NS"; ip -n "$NS" link set lo up; }

  chassis=${KAAS_VMENV_OVN_CHASSIS:-$NS}
  if [ "$role" = join ]; then
    join=$KAAS_VMENV_OVN_JOIN
    [ -e "/run/netns/$join" ] || die "KAAS_VMENV_OVN_JOIN: no network namespace $join"
    join_db=${KAAS_VMENV_OVN_JOIN_DB:-unix:/run/openvswitch/db.sock}
    ul_ip=${KAAS_VMENV_OVN_UNDERLAY_IP:-192.168.254.2}
    if [ -n "${KAAS_VMENV_OVN_SB:-}" ]; then
      sb=$KAAS_VMENV_OVN_SB
    else
      f=$(ip -n "$join" -4 -o addr show dev br-phy 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
      [ -n "$f" ] || die "netns $join has no br-phy address: is OVN up there (KAAS_VMENV_OVN=1)?"
      sb=tcp:$f:6642
    fi
    # a name of at most 15 characters, unique per joining namespace
    peer_dev=ul-$(printf %s "$NS" | md5sum | cut -c1-8)
  else
    ul_ip=${KAAS_VMENV_OVN_UNDERLAY_IP:-192.168.254.1}
    sb=unix:$SB_SOCK
    provider=${KAAS_VMENV_OVN_PROVIDER:-10.250.0.1/24}
    physnet=${KAAS_VMENV_OVN_PHYSNET:-physnet}
  fi
  echo "$role" >"$OVN_DIR/role"
  printf 'JOIN_NS=%s\nJOIN_DB=%s\nPEER_DEV=%s\n' "$join" "$join_db" "$peer_dev" >"$OVN_DIR/join.env"

  # Open vSwitch: a database of its own, then the switch daemon
  mkdir -p "$OVS_RUN" "$OVN_RUN" "$(dirname "$OVS_DB_FILE")" "$OVN_DB_DIR"
  rm -f "$OVS_DB_FILE" "$(dirname "$OVS_DB_FILE")/.conf.db.~lock~"
  OX ovsdb-tool create "$OVS_DB_FILE" /usr/share/openvswitch/vswitch.ovsschema
  ovn_start ovs-db "$OVS_RUN/db.sock" ovsdb-server "$OVS_DB_FILE" --remote="punix:$OVS_RUN/db.sock" \
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options --pidfile
  VS --no-wait init
  # --monitor: a crash (Open vSwitch 3.1's userspace conntrack can abort under NAT and load
  # balancing: conntrack.c "conn_update_state" assertion) is followed by a restart, as the
  # service manager of a real host does; ovn-controller then puts the flows back.
  ovn_start vswitchd "$OVS_RUN/ovs-vswitchd.pid" ovs-vswitchd "$OVS_DB" --pidfile --monitor
  VS add-br br-phy -- set bridge br-phy datapath_type=netdev
  ip -n "$NS" addr add "$ul_ip/24" dev br-phy
  ip -n "$NS" link set br-phy up
  if [ "$role" = join ]; then
    ip -n "$NS" link del ul0 2>/dev/null || true
    ip -n "$join" link del "$peer_dev" 2>/dev/null || true
    ip link add ul0 netns "$NS" type veth peer name "$peer_dev" netns "$join"
    # the userspace datapath does not complete checksums a veth leaves to offload (TCP breaks)
    ip netns exec "$NS" ethtool -K ul0 tx off >/dev/null
    ip netns exec "$join" ethtool -K "$peer_dev" tx off >/dev/null
    ip -n "$NS" link set ul0 up
    ip -n "$join" link set "$peer_dev" up
    VS add-port br-phy ul0
    ip netns exec "$join" ovs-vsctl --db="$join_db" --timeout=20 --may-exist add-port br-phy "$peer_dev" </dev/null ||
      die "cannot add $peer_dev to br-phy of the central host ($join_db)"
  fi
  VS set open . external_ids:system-id="$chassis" external_ids:hostname="$chassis" \
    external_ids:ovn-remote="$sb" external_ids:ovn-encap-type=geneve external_ids:ovn-encap-ip="$ul_ip" \
    external_ids:ovn-bridge-datapath-type=netdev
  VS --may-exist add-br br-int -- set bridge br-int datapath_type=netdev fail-mode=secure \
    other-config:disable-in-band=true
  if [ "$role" = central ]; then
    VS add-br br-ex -- set bridge br-ex datapath_type=netdev
    VS set open . external_ids:ovn-bridge-mappings="$physnet:br-ex"
    ip -n "$NS" addr add "$provider" dev br-ex
    ip -n "$NS" link set br-ex up
    rm -f "$OVN_DB_DIR/ovnnb_db.db" "$OVN_DB_DIR/ovnsb_db.db" "$OVN_DB_DIR/.ovnnb_db.db.~lock~" "$OVN_DB_DIR/.ovnsb_db.db.~lock~"
    OX ovsdb-tool create "$OVN_DB_DIR/ovnnb_db.db" /usr/share/ovn/ovn-nb.ovsschema
    OX ovsdb-tool create "$OVN_DB_DIR/ovnsb_db.db" /usr/share/ovn/ovn-sb.ovsschema
    ovn_start nb-db "$NB_SOCK" ovsdb-server "$OVN_DB_DIR/ovnnb_db.db" --remote="punix:$NB_SOCK" \
      --pidfile="$OVN_RUN/ovnnb_db.pid" --unixctl="$OVN_RUN/ovnnb_db.ctl"
    # the Southbound also listens on the underlay, for the joining hosts' ovn-controllers
    ovn_start sb-db "$SB_SOCK" ovsdb-server "$OVN_DB_DIR/ovnsb_db.db" --remote="punix:$SB_SOCK" \
      --remote="ptcp:6642:$ul_ip" --pidfile="$OVN_RUN/ovnsb_db.pid" --unixctl="$OVN_RUN/ovnsb_db.ctl"
    ovn_start northd "$OVN_RUN/ovn-northd.pid" ovn-northd --ovnnb-db="unix:$NB_SOCK" --ovnsb-db="unix:$SB_SOCK" --pidfile
  fi
  ovn_start controller "$OVN_RUN/ovn-controller.pid" ovn-controller "$OVS_DB" --pidfile
  ovn_wait "chassis $chassis in the Southbound ($sb)" 30 chassis_registered "$sb" "$chassis"
  [ "$role" = join ] && ovn_wait "a Geneve tunnel on br-int (the central chassis seen)" 30 tunnel_up

  {
    echo "KAAS_OVN_CHASSIS=$chassis"
    echo "KAAS_OVS_DB=$OVS_DB"
    echo "KAAS_OVN_ENCAP_IP=$ul_ip"
    if [ "$role" = central ]; then
      echo "KAAS_OVN_NB=unix:$NB_SOCK"
      echo "KAAS_OVN_SB=unix:$SB_SOCK"
      echo "KAAS_OVN_SB_REMOTE=tcp:$ul_ip:6642"
      echo "KAAS_OVN_PHYSNET=$physnet"
      echo "KAAS_OVN_PROVIDER_ADDRESS=$provider"
    else
      echo "KAAS_OVN_SB=$sb"
    fi
  } >"$OVN_DIR/env"
  log "OVN up ($role) in $(since "$t0") s: chassis $chassis, encap $ul_ip, Open vSwitch $OVS_DB"
}

ovn_stop() { # KEY: by PID; ovn-controller and ovs-vswitchd are first asked to clean up after themselves
  local key=$1 p
  p=$(ovn_ours "$key") || return 0
  case $key in
    # only "exit" (not a signal) makes ovn-controller remove its chassis from the Southbound; it
    # needs the Southbound for that, hence the short timeout when the central host went first
    controller) OX ovn-appctl -T 3 -t "$OVN_RUN/ovn-controller.$p.ctl" exit >/dev/null 2>&1 || true ;;
    # the switch itself is the monitor's child, named in its pid file; once it exits cleanly the
    # monitor ends too
    vswitchd)
      local d
      d=$(cat "$OVS_RUN/ovs-vswitchd.pid" 2>/dev/null || true)
      [ -n "$d" ] && OX ovs-appctl -T 3 -t "$OVS_RUN/ovs-vswitchd.$d.ctl" exit --cleanup >/dev/null 2>&1 || true
      ;;
  esac
  case $key in
    controller|vswitchd) for _ in $(seq 1 30); do alive "$p" || return 0; sleep 0.1; done ;;
  esac
  stop_pid "$p" "$(ovn_comm "$key")"
}

# Removes this host's OVN: daemons, the underlay veth (and its port on the central br-phy),
# bridges, databases, sockets. Safe when nothing is there. Returns 1 when something is left.
ovn_down_locked() {
  local role k p c f n bad=0 left="" ino JOIN_NS="" JOIN_DB="" PEER_DEV=""
  role=$(ovn_role)
  # shellcheck disable=SC1091
  [ -f "$OVN_DIR/join.env" ] && . "$OVN_DIR/join.env"
  # the controller first, while the underlay still carries its goodbye to the Southbound
  ovn_stop controller || bad=1
  for k in northd sb-db nb-db vswitchd ovs-db; do ovn_stop "$k" || bad=1; done
  # the underlay last: a veth pulled from under a running ovs-vswitchd makes it log errors
  if [ -n "$JOIN_NS" ] && [ -n "$PEER_DEV" ] && [ -e "/run/netns/$JOIN_NS" ]; then
    if [[ $JOIN_DB != unix:* ]] || [ -S "${JOIN_DB#unix:}" ]; then
      ip netns exec "$JOIN_NS" ovs-vsctl --db="$JOIN_DB" --timeout=5 --if-exists del-port br-phy "$PEER_DEV" \
        </dev/null >/dev/null 2>&1 || log "could not remove $PEER_DEV from br-phy of $JOIN_NS"
    fi
    ip -n "$JOIN_NS" link del "$PEER_DEV" 2>/dev/null || true
  fi
  ino=$(ns_inode)
  if [ -n "$ino" ]; then
    # whatever Open vSwitch or OVN process is left in our namespace is ours: stop it by PID
    while read -r p c; do
      case $c in
        ovsdb-server|ovs-vswitchd|ovn-northd|ovn-controller)
          log "stopping leftover $c ($p) in netns $NS"; stop_pid "$p" "$c" || bad=1 ;;
      esac
    done < <(procs_in_ns "$ino")
  fi
  if ns_exists; then
    # the central host's ends of joining hosts' underlays, and a port left by a killed vswitchd
    for n in $(ip -n "$NS" -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      case $n in ul0|ul-*) ip -n "$NS" link del "$n" 2>/dev/null || true ;; esac
    done
    for n in "${OVN_BRIDGES[@]}"; do ip -n "$NS" link del "$n" 2>/dev/null || true; done
  fi
  # Files only when this host had OVN (a plain vmenv never touches the default paths), and
  # only when no daemon we did not start uses these folders.
  if [ -n "$role" ]; then
    f=$(ovn_foreign | tr '\n' ' ')
    if [ -n "$f" ]; then
      log "daemons that vmenv did not start use $OVS_RUN or $OVN_RUN (${f% }): leaving their files"
      bad=1
    else
      rm -rf "$OVS_RUN" "$OVN_RUN"
      rm -f "$OVS_DB_FILE" "$(dirname "$OVS_DB_FILE")/.conf.db.~lock~" "$OVN_DB_DIR/ovnnb_db.db" \
        "$OVN_DB_DIR/ovnsb_db.db" "$OVN_DB_DIR/.ovnnb_db.db.~lock~" "$OVN_DB_DIR/.ovnsb_db.db.~lock~"
      [ "$PRIVATE" = 1 ] && rm -rf "$OVN_DB_DIR"
    fi
  fi
  for k in ovs-db vswitchd nb-db sb-db northd controller; do rm -f "$OVN_DIR/$k.pid"; done
  rm -f "$OVN_DIR/role" "$OVN_DIR/join.env" "$OVN_DIR/env"

  # verify
  for k in ovs-db vswitchd nb-db sb-db northd controller; do p=$(ovn_ours "$k" || true); [ -n "$p" ] && left="$left $k:$p"; done
  if [ -n "$ino" ]; then
    while read -r p c; do
      case $c in ovsdb-server|ovs-vswitchd|ovn-northd|ovn-controller) left="$left $c:$p" ;; esac
    done < <(procs_in_ns "$ino")
  fi
  if ns_exists; then
    for n in "${OVN_BRIDGES[@]}" ul0; do ip -n "$NS" link show "$n" >/dev/null 2>&1 && left="$left link:$n"; done
  fi
  [ -n "$PEER_DEV" ] && [ -n "$JOIN_NS" ] && ip -n "$JOIN_NS" link show "$PEER_DEV" >/dev/null 2>&1 && left="$left link:$JOIN_NS/$PEER_DEV"
  if [ -n "$role" ]; then
    for f in "$OVS_DB_FILE" "$OVN_DB_DIR/ovnnb_db.db" "$OVN_DB_DIR/ovnsb_db.db" "$OVS_RUN" "$OVN_RUN"; do
      [ -e "$f" ] && left="$left file:$f"
    done
  fi
  if [ -n "$left" ] || [ $bad = 1 ]; then
    log "OVN down: NOT clean:${left:- (see messages above)}"
    return 1
  fi
  [ -n "$role" ] && log "OVN down ($role): no daemon, bridge, underlay veth or database left"
  return 0
}

ovn_print_env() { [ -f "$OVN_DIR/env" ] && ovn_all_up && cat "$OVN_DIR/env"; return 0; }

ovn_status() {
  local role k p
  role=$(ovn_role)
  [ -n "$role" ] || { echo "ovn       not set up"; return 0; }
  echo "ovn       role $role, $(ovn_all_up && echo up || echo 'NOT fully up')"
  for k in $(ovn_keys "$role"); do
    p=$(ovn_ours "$k" || true)
    printf '  %-10s %s\n' "$k" "${p:-not running}"
  done
  [ -f "$OVN_DIR/env" ] && sed 's/^/  /' "$OVN_DIR/env"
  return 0
}
