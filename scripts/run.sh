#!/usr/bin/env bash
# `make run`: starts PostgreSQL and Redis (if needed), applies migrations, then runs the API and
# the workers (KAAS_WORKERS, default 1) in the foreground. Ctrl-C stops everything this script
# started. Each worker serves /metrics, /healthz and /readyz on its own port: KAAS_WORKER_PORT
# (default 9464) for the first, the ports after it for the others; 0 or off for none.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh # the project's Node.js first on PATH
DATA=${KAAS_DATA_DIR:-$(pwd)/.data}
mkdir -p "$DATA"
exec 9>"$DATA/run.lock"
if ! flock -n 9; then
  echo "kaas is already running (pid $(cat "$DATA/run.pid" 2>/dev/null || echo '?')); stop it with Ctrl-C in its terminal first." >&2
  exit 1
fi
echo $$ >"$DATA/run.pid"
workers=${KAAS_WORKERS:-1}
if ! [[ $workers =~ ^[1-9][0-9]?$ ]]; then
  echo "KAAS_WORKERS: must be a number of workers from 1 to 99, got \"$workers\"" >&2
  exit 1
fi

# KAAS_SKIP_SERVICES=1: DATABASE_URL and REDIS_URL as given, or the platform's defaults (with the
# passwords in $DATA/secrets/, if there are any).
if [ "${KAAS_SKIP_SERVICES:-0}" != 1 ]; then
  services_env=$(scripts/services.sh up) || { echo "could not start PostgreSQL and Redis (see above)" >&2; exit 1; }
  eval "$(echo "$services_env" | sed 's/^/export /')"
fi
export KAAS_DATA_DIR=$DATA
export UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-16}
# The API's and the workers' Node.js flags (memory): deploy/node-flags.
read -ra node_flags <<<"$(grep -v '^[[:space:]]*#' deploy/node-flags | tr '\n' ' ')"
scripts/bundles.sh >/dev/null
node dist/src/prepare.js

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping kaas..." >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KAAS_KEEP_SERVICES:-0}" = 1 ] || [ "${KAAS_SKIP_SERVICES:-0}" = 1 ] || scripts/services.sh down
  rm -f "$DATA/run.pid"
}
trap stop INT TERM EXIT

node "${node_flags[@]}" dist/src/main.js &
pids+=($!)
worker_port=${KAAS_WORKER_PORT:-9464}
worker_ports=()
for ((i = 0; i < workers; i++)); do
  if [[ ${worker_port,,} =~ ^(0|off)$ ]]; then port=$worker_port
  elif [[ $worker_port =~ ^[0-9]+$ ]]; then port=$((10#$worker_port + i)); worker_ports+=("$port")
  else port=$worker_port # not a port: the worker says so and stops
  fi
  KAAS_WORKER_PORT=$port node "${node_flags[@]}" dist/src/worker.js &
  pids+=($!)
done
echo "kaas API on http://${KAAS_HOST:-127.0.0.1}:${KAAS_PORT:-8080} (dashboard at /, docs at /docs); Ctrl-C stops it." >&2
[ ${#worker_ports[@]} -eq 0 ] ||
  echo "$workers worker(s): /metrics, /healthz and /readyz on ${KAAS_WORKER_HOST:-127.0.0.1} port(s) ${worker_ports[*]}" >&2
[ -n "${KAAS_ADMIN_TOKEN:-}" ] ||
  echo "admin token in $DATA/admin-token: npx kaasctl login http://${KAAS_HOST:-127.0.0.1}:${KAAS_PORT:-8080} --name operator --token-file $DATA/admin-token" >&2
# Exit (and stop the rest) as soon as any process dies.
wait -n "${pids[@]}"
