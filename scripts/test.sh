#!/usr/bin/env bash
# `make test`: the whole suite against real PostgreSQL, Redis and libvirt.
#   unit + medium + end-to-end (jest), then the real-VM suite inside a network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
services_env=$(scripts/services.sh up) || { echo "could not start PostgreSQL and Redis (see above)" >&2; exit 1; }
eval "$(echo "$services_env" | sed 's/^/export /')"
export KAAS_TEST_ADMIN_DATABASE_URL=$DATABASE_URL
# The etcd bundle's artifacts come from Debian's packages; clusters are refused without them.
scripts/bundles.sh >/dev/null
export KAAS_LOG_LEVEL=${KAAS_LOG_LEVEL:-warn}
started=$(date +%s)
NODE_OPTIONS=--experimental-vm-modules npx jest --maxWorkers=2 "$@"
if [ $# -eq 0 ]; then
  # The k3s recipe, run against a stand-in k3s that records its arguments (plain bash test).
  bash test/bundle/k3s-recipe.test.sh
  # The etcd bundle's status line (labels and taints included), under dash and busybox sh.
  bash test/bundle/etcd-status.test.sh
  # Restoring a cluster from an etcd snapshot (real etcd, in namespaces of its own; ~20 s).
  bash test/bundle/etcd-restore.test.sh
fi
if [ "${KAAS_SKIP_VM_TESTS:-0}" != 1 ] && [ -x scripts/test-vm.sh ] && [ $# -eq 0 ]; then
  scripts/test-vm.sh
fi
echo "make test: all suites passed in $(($(date +%s) - started)) s"
