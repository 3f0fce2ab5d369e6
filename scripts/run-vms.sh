#!/usr/bin/env bash
# `make run-vms`: the platform with a real libvirt host and real (software-emulated) guests.
# libvirtd, Open vSwitch, ovn-controller, OVN's central databases and ovn-northd, PostgreSQL,
# Redis, the API and a worker all run inside the network namespace this script creates, so guests
# and their networks exist only there; Ctrl-C stops and removes all. The namespace's br-ex
# (10.250.0.1/24) is the provider network: add a floating-IP range there, for example
#   kaasctl floating-ips add-range 10.250.0.10 10.250.0.99
# Reach the API from the machine with: ip netns exec kaas-vm curl http://127.0.0.1:8080/healthz
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export KAAS_NETNS=${KAAS_NETNS:-kaas-vm}
export KAAS_VMENV_DIR=$ROOT/.data/run-vms/vmenv
DATA=$ROOT/.data/run-vms
mkdir -p "$DATA"
ns() { scripts/vmenv/vmenv.sh exec "$@"; }
cleanup() {
  ns env KAAS_DATA_DIR="$DATA" KAAS_PG_PORT=55434 KAAS_REDIS_PORT=56381 scripts/services.sh down >/dev/null 2>&1 || true
  scripts/vmenv/vmenv.sh down || true
}
trap cleanup EXIT
# The host's chassis is named as the platform's host ("local-1", registered by prepare).
ovn_env=$(KAAS_VMENV_OVN=1 KAAS_VMENV_OVN_CHASSIS=local-1 scripts/vmenv/vmenv.sh up | grep '^KAAS_OVN_' || true)
ovn_var() { echo "$ovn_env" | sed -n "s/^$1=//p"; }
[ -n "$(ovn_var KAAS_OVN_NB)" ] || { echo "OVN did not come up in $KAAS_NETNS" >&2; exit 1; }
services_env=$(ns env KAAS_DATA_DIR="$DATA" KAAS_PG_PORT=55434 KAAS_REDIS_PORT=56381 KAAS_SERVICES_OVN=0 scripts/services.sh up)
service_var() { echo "$services_env" | sed -n "s/^$1=//p"; }
echo "kaas with real VMs: inside namespace $KAAS_NETNS (ip netns exec $KAAS_NETNS bash, then use kaasctl)" >&2
ns env KAAS_DATA_DIR="$DATA" KAAS_PG_PORT=55434 KAAS_REDIS_PORT=56381 KAAS_SKIP_SERVICES=1 \
  DATABASE_URL="$(service_var DATABASE_URL)" REDIS_URL="$(service_var REDIS_URL)" \
  KAAS_OVN_NB="$(ovn_var KAAS_OVN_NB)" KAAS_OVN_SB="$(ovn_var KAAS_OVN_SB)" KAAS_OVN_PHYSNET="$(ovn_var KAAS_OVN_PHYSNET)" \
  KAAS_DEFAULT_HOST_URI=qemu:///system KAAS_DEFAULT_HOST_DOMAIN_TYPE=qemu \
  KAAS_DEFAULT_IMAGE_KERNEL="$ROOT/guest-image/vmlinuz" KAAS_DEFAULT_IMAGE_INITRD="$ROOT/guest-image/initramfs.img" \
  KAAS_HOST_DATA_DIR="$DATA/host" scripts/run.sh &
platform=$!
# A signal to this script reaches the platform too (Ctrl-C reaches both anyway); the EXIT trap
# then removes the namespace with everything in it.
trap 'kill -TERM "$platform" 2>/dev/null || true' INT TERM
wait "$platform" || true
wait "$platform" 2>/dev/null || true
