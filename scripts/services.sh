#!/usr/bin/env bash
# Starts PostgreSQL, Redis and OVN's central part (the Northbound and Southbound databases and
# ovn-northd) as plain local processes, on loopback or unix sockets, with their data under
# $KAAS_DATA_DIR (default .data/ in the repo). No Docker, no systemd: all are children of this
# script's caller, tracked by PID files, and reused when already running.
# PostgreSQL asks for a password (scram-sha-256) and so does Redis (requirepass): both are made
# on first start and kept in $KAAS_DATA_DIR/secrets/ (mode 0600); `up` prints the URLs with them.
#
#   scripts/services.sh install   install the Debian packages that are missing
#   scripts/services.sh up        start them (idempotent) and print the env to use them
#   scripts/services.sh down      stop them
#   scripts/services.sh status
#   scripts/services.sh secrets   only make the passwords (for docker-compose.yml)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA=${KAAS_DATA_DIR:-$ROOT/.data}
PG_PORT=${KAAS_PG_PORT:-55432}
REDIS_PORT=${KAAS_REDIS_PORT:-56379}
PG_DIR=$DATA/postgres
REDIS_DIR=$DATA/redis
RUN_DIR=$DATA/run
OVN_DIR=$DATA/ovn
SECRETS_DIR=$DATA/secrets
PKGS=(postgresql redis-server ovn-central openvswitch-common)

log() { echo "[services] $*" >&2; }

need_pkgs() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    if [ ! -f /var/lib/apt/lists/lock ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock | head -1)" ]; then
      apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  fi
}

# Statistics of every statement (pg_stat_statements), which the benchmarks read to count the
# queries the platform sends; the extension itself is created where it is read.
PG_STATEMENTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=10000"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A generated secret (32 URL- and shell-safe characters), made once, readable by its owner only.
secret() {
  local f=$SECRETS_DIR/$1
  if [ ! -s "$f" ]; then
    (umask 077 && mkdir -p "$SECRETS_DIR" && head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$f.tmp" && mv "$f.tmp" "$f")
  fi
  chmod 700 "$SECRETS_DIR"
  chmod 600 "$f"
  cat "$f"
}
PG_PASSWORD=
REDIS_PASSWORD=
load_secrets() {
  PG_PASSWORD=$(secret postgres.password)
  REDIS_PASSWORD=$(secret redis.password)
  # For this script's own psql and redis-cli calls; never on a command line, where ps shows it.
  export PGPASSWORD=$PG_PASSWORD REDISCLI_AUTH=$REDIS_PASSWORD
}

pg_up() {
  local bin; bin=$(pg_bin)
  mkdir -p "$PG_DIR" "$RUN_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR" "$RUN_DIR"
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    log "initialising PostgreSQL in $PG_DIR"
    # initdb reads the password from a file that its user (postgres, under root) can open.
    local pwfile; pwfile=$(mktemp)
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_pg "$bin/initdb" -D "$PG_DIR" -U kaas --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$PG_DIR" -l "$RUN_DIR/postgres.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $RUN_DIR -c max_connections=300 -c fsync=${KAAS_PG_FSYNC:-on} -c shared_buffers=128MB $PG_STATEMENTS" start >/dev/null
  fi
  # A data folder made when connections needed no password gets one now.
  if grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$PG_DIR/pg_hba.conf"; then
    log "PostgreSQL: password authentication (scram-sha-256) from now on"
    psql -h 127.0.0.1 -p "$PG_PORT" -U kaas -d postgres -qv ON_ERROR_STOP=1 -v pw="$PG_PASSWORD" >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
ALTER ROLE kaas PASSWORD :'pw';
SQL
    sed -i -E 's/^([^#]*[[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' "$PG_DIR/pg_hba.conf"
    as_pg "$bin/pg_ctl" -D "$PG_DIR" reload >/dev/null
  fi
  # One started before pg_stat_statements was preloaded keeps running without it until its restart.
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U kaas -d postgres -tAc "show shared_preload_libraries" | grep -q pg_stat_statements; then
    log "PostgreSQL runs without pg_stat_statements (the benchmarks' query counts): restart it to load it (down, then up)"
  fi
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U kaas -d postgres -tAc "select 1 from pg_database where datname='kaas'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U kaas -d postgres -qc "create database kaas" >/dev/null
  fi
}

redis_up() {
  mkdir -p "$REDIS_DIR"
  # The password reaches Redis in a file of its own, not on its command line.
  (umask 077 && printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$SECRETS_DIR/redis.conf")
  if alive "$RUN_DIR/redis.pid" && redis-cli --no-auth-warning -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    # One started when Redis needed no password gets it now.
    if [ "$(REDISCLI_AUTH='' redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
      log "Redis: password required from now on"
      # Given on standard input, not as an argument.
      printf 'CONFIG SET requirepass "%s"\n' "$REDIS_PASSWORD" | REDISCLI_AUTH='' redis-cli -p "$REDIS_PORT" >/dev/null
    fi
    return 0
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  # Also on a unix socket, for processes in another network namespace of this machine (a relay
  # there; the real-VM suite's second host).
  redis-server "$SECRETS_DIR/redis.conf" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize yes \
    --unixsocket "$RUN_DIR/redis.sock" --unixsocketperm 700 \
    --pidfile "$RUN_DIR/redis.pid" --logfile "$DATA/redis.log" --appendonly yes \
    --maxmemory-policy noeviction --save "" >/dev/null
  for _ in $(seq 1 100); do [ "$(redis-cli --no-auth-warning -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done
  log "Redis did not start; see $DATA/redis.log"; exit 1
}

# OVN's run, log and database folders are ours, never the system's (/run/ovn, /var/lib/ovn).
ovn_env() {
  env OVS_RUNDIR="$OVN_DIR" OVS_LOGDIR="$OVN_DIR" OVS_DBDIR="$OVN_DIR" \
    OVN_RUNDIR="$OVN_DIR" OVN_LOGDIR="$OVN_DIR" OVN_DBDIR="$OVN_DIR" "$@"
}

ovsdb_up() { # name schema
  local name=$1 schema=$2
  if alive "$OVN_DIR/$name.pid" && [ -S "$OVN_DIR/$name.sock" ]; then return 0; fi
  [ -f "$OVN_DIR/$name.db" ] || ovsdb-tool create "$OVN_DIR/$name.db" "$schema"
  # A database written by an older OVN is brought to the installed schema.
  if [ "$(ovsdb-tool needs-conversion "$OVN_DIR/$name.db" "$schema")" = yes ]; then
    ovsdb-tool convert "$OVN_DIR/$name.db" "$schema"
  fi
  ovn_env ovsdb-server "$OVN_DIR/$name.db" --remote="punix:$OVN_DIR/$name.sock" \
    --pidfile="$OVN_DIR/$name.pid" --unixctl="$OVN_DIR/$name.ctl" --log-file="$OVN_DIR/$name.log" \
    --detach --no-chdir -vconsole:off 2>/dev/null
}

ovn_up() {
  mkdir -p "$OVN_DIR"
  ovsdb_up ovnnb_db /usr/share/ovn/ovn-nb.ovsschema
  ovsdb_up ovnsb_db /usr/share/ovn/ovn-sb.ovsschema
  if ! alive "$OVN_DIR/ovn-northd.pid"; then
    log "starting OVN (Northbound, Southbound, ovn-northd) in $OVN_DIR"
    ovn_env ovn-northd --ovnnb-db="unix:$OVN_DIR/ovnnb_db.sock" --ovnsb-db="unix:$OVN_DIR/ovnsb_db.sock" \
      --pidfile="$OVN_DIR/ovn-northd.pid" --unixctl="$OVN_DIR/ovn-northd.ctl" \
      --log-file="$OVN_DIR/ovn-northd.log" --detach --no-chdir -vconsole:off 2>/dev/null
  fi
}

ovn_down() {
  for name in ovn-northd ovnsb_db ovnnb_db; do
    if alive "$OVN_DIR/$name.pid"; then
      kill "$(cat "$OVN_DIR/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$OVN_DIR/$name.pid" || break; sleep 0.1; done
    fi
  done
}

case "${1:-up}" in
  install) need_pkgs "${PKGS[@]}" ;;
  up)
    need_pkgs "${PKGS[@]}"
    mkdir -p "$DATA"
    load_secrets
    pg_up
    redis_up
    # KAAS_SERVICES_OVN=0: OVN's central part runs elsewhere (the real-VM environment's own).
    [ "${KAAS_SERVICES_OVN:-1}" = 0 ] || ovn_up
    echo "DATABASE_URL=postgres://kaas:$PG_PASSWORD@127.0.0.1:$PG_PORT/kaas"
    echo "REDIS_URL=redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT"
    if [ "${KAAS_SERVICES_OVN:-1}" != 0 ]; then
      echo "KAAS_OVN_NB=unix:$OVN_DIR/ovnnb_db.sock"
      echo "KAAS_OVN_SB=unix:$OVN_DIR/ovnsb_db.sock"
    fi
    ;;
  down)
    bin=$(pg_bin)
    [ -f "$PG_DIR/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || true
    REDISCLI_AUTH=$(cat "$SECRETS_DIR/redis.password" 2>/dev/null || true)
    export REDISCLI_AUTH
    alive "$RUN_DIR/redis.pid" && redis-cli --no-auth-warning -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    ovn_down
    log "stopped"
    ;;
  status)
    bin=$(pg_bin)
    as_pg "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1 && echo "postgres: running on $PG_PORT" || echo "postgres: stopped"
    case "$(redis-cli -p "$REDIS_PORT" ping 2>&1)" in PONG | NOAUTH*) echo "redis: running on $REDIS_PORT" ;; *) echo "redis: stopped" ;; esac
    alive "$OVN_DIR/ovnnb_db.pid" && echo "ovn northbound: $OVN_DIR/ovnnb_db.sock" || echo "ovn northbound: stopped"
    alive "$OVN_DIR/ovn-northd.pid" && echo "ovn-northd: running" || echo "ovn-northd: stopped"
    ;;
  secrets)
    load_secrets
    (umask 077 && printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$SECRETS_DIR/redis.conf")
    log "passwords in $SECRETS_DIR"
    ;;
  *) echo "usage: $0 install|up|down|status|secrets" >&2; exit 2 ;;
esac
