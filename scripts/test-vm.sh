#!/usr/bin/env bash
# The real-VM suite: libvirtd, Open vSwitch, ovn-controller, OVN's central databases, PostgreSQL
# and Redis run inside a network namespace this script creates, so every bridge and guest address
# exists only there; the test process runs there too. A second real host (its own libvirtd, Open
# vSwitch and ovn-controller in a network and mount namespace of its own, KAAS_SECOND_NETNS) joins
# the first over a Geneve underlay. Guests are software-emulated (domain type qemu). Everything is
# torn down on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh # the project's Node.js first on PATH
ROOT=$(pwd)
export KAAS_NETNS=${KAAS_NETNS:-kaas-vmtest}
export KAAS_VMENV_DIR=$ROOT/.data/vmtest/vmenv
export KAAS_SECOND_NETNS=${KAAS_NETNS}2
SECOND_DIR=$ROOT/.data/vmtest/vmenv2
VMDATA=$ROOT/.data/vmtest
mkdir -p "$VMDATA"

scripts/guest/build-guest-image.sh >/dev/null
scripts/bundles.sh >/dev/null

ns() { scripts/vmenv/vmenv.sh exec "$@"; }
second() { KAAS_NETNS=$KAAS_SECOND_NETNS KAAS_VMENV_DIR=$SECOND_DIR KAAS_VMENV_PRIVATE=1 scripts/vmenv/vmenv.sh "$@"; }
cleanup() {
  rc=$?
  second down >/dev/null 2>&1 || second down || true
  ns env KAAS_DATA_DIR="$VMDATA" KAAS_PG_PORT=55433 KAAS_REDIS_PORT=56380 scripts/services.sh down >/dev/null 2>&1 || true
  scripts/vmenv/vmenv.sh down >/dev/null 2>&1 || scripts/vmenv/vmenv.sh down || true
  exit $rc
}
trap cleanup EXIT INT TERM

KAAS_VMENV_OVN=1 scripts/vmenv/vmenv.sh up >/dev/null
KAAS_VMENV_OVN_JOIN=$KAAS_NETNS second up >/dev/null
export KAAS_SECOND_HOST_URI="qemu:///system?socket=$SECOND_DIR/run/libvirt/libvirt-sock"
services_env=$(ns env KAAS_DATA_DIR="$VMDATA" KAAS_PG_PORT=55433 KAAS_REDIS_PORT=56380 KAAS_SERVICES_OVN=0 scripts/services.sh up)
db=$(echo "$services_env" | sed -n 's/^DATABASE_URL=//p')
redis=$(echo "$services_env" | sed -n 's/^REDIS_URL=//p')
started=$(date +%s)
ns env KAAS_SECOND_NETNS="$KAAS_SECOND_NETNS" KAAS_SECOND_HOST_URI="$KAAS_SECOND_HOST_URI" KAAS_SECOND_VMENV_DIR="$SECOND_DIR" \
  KAAS_PG_SOCKET="$VMDATA/run/.s.PGSQL.55433" KAAS_REDIS_SOCKET="$VMDATA/run/redis.sock" \
  KAAS_TEST_ADMIN_DATABASE_URL="$db" DATABASE_URL="$db" REDIS_URL="$redis" \
  KAAS_GUEST_IMAGE_DIR="$ROOT/guest-image" KAAS_VM_DATA_DIR="$VMDATA" KAAS_LOG_LEVEL=warn UV_THREADPOOL_SIZE=16 \
  NODE_OPTIONS=--experimental-vm-modules npx jest -c jest.vm.config.js --runInBand "$@"
echo "real-VM suite passed in $(($(date +%s) - started)) s"
