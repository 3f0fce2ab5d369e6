#!/usr/bin/env bash
# `make bench`: builds the benchmarks and runs them against the real services; figures are
# printed and written to bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh # the project's Node.js first on PATH
services_env=$(scripts/services.sh up) || exit 1
eval "$(echo "$services_env" | sed 's/^/export /')"
export KAAS_TEST_ADMIN_DATABASE_URL=$DATABASE_URL KAAS_LOG_LEVEL=${KAAS_LOG_LEVEL:-warn} UV_THREADPOOL_SIZE=16
npx tsc -p tsconfig.bench.json --outDir dist-bench
mkdir -p bench/results
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
# The soak (bench/soak.bench.ts, 30 minutes) is not in the default list: `make bench-soak` runs it.
for b in ${KAAS_BENCHES:-hypervisor-ops ipam cluster-create recovery sweep api idle scale}; do
  echo "== $b"
  if [ "$b" = hypervisor-ops ]; then
    # The binding's own micro-benchmark: every call on libvirt's test driver, 200 iterations.
    node native/libvirt/bench/ops.mjs 200 | tee bench/results/hypervisor-ops.txt
  else
    node "dist-bench/bench/$b.bench.js"
  fi
done
# Every figure of the performance targets beside its target, from the newest results.
node dist-bench/bench/summary.js "$load_at_start"
