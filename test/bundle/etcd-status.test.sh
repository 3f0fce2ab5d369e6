#!/usr/bin/env bash
# The etcd bundle's status line without a guest: sources bundles/etcd/scripts/common.sh the way
# the user-data does (dash and busybox sh, `set -u`), with the node's labels and taints in
# KAAS_NODE_LABELS / KAAS_NODE_TAINTS, state and status file in a temporary directory, then
# publishes a status and checks the JSON: the labels and taints recorded in its details,
# malformed lines skipped (never run, never breaking the JSON), nothing for a node without any,
# and the largest labels and taints the platform admits kept under the 16 KiB status line.
#
#   test/bundle/etcd-status.test.sh        (any user; a second or two; no network, no VMs)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
for c in dash busybox jq; do
  command -v $c >/dev/null || { echo "missing tool: $c" >&2; exit 2; }
done
W=$(mktemp -d /tmp/kaas-etcd-status-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
COMMON=${KAAS_ETCD_SCRIPTS:-$ROOT/bundles/etcd/scripts}/common.sh

# publish NAME SHELL: sources common.sh in SHELL with $W/NAME.labels / .taints (when present) as
# the node's labels and taints, publishes a ready status; the status line lands in $W/NAME.json,
# the console in $W/NAME.console
publish() {
  local d=$W/$1
  mkdir -p "$d/pki" "$d/state" "$d/www"
  for f in ca.crt node.crt node.key; do echo stand-in >"$d/pki/$f"; done
  (
    export KAAS_ROLE=worker KAAS_NODE_ID=6f1c0000-0000-4000-8000-000000000021 KAAS_NODE_NAME=w1
    export KAAS_NODE_IP=10.77.0.21 KAAS_VERSION=v3.4.23 KAAS_PKI=$d/pki KAAS_STATE_DIR=$d/state
    export KAAS_STATUS_FILE=$d/www/status
    [ -f "$W/$1.labels" ] && export KAAS_NODE_LABELS="$(cat "$W/$1.labels")"
    [ -f "$W/$1.taints" ] && export KAAS_NODE_TAINTS="$(cat "$W/$1.taints")"
    cd "$d"
    $2 -c 'set -u; . "$1"; kaas_status ready true "etcd gateway on :23790 reaches the cluster" "\"gateway\":\"0.0.0.0:23790\""' \
      sh "$COMMON"
  ) >"$W/$1.console" 2>&1 || echo "exit $?" >>"$W/$1.console"
  cp "$d/www/status" "$W/$1.json" 2>/dev/null || : >"$W/$1.json"
}

cat >"$W/tmpl.labels" <<'EOF'
tier=web
example.com/gpu=a100
node.kubernetes.io/spot=
EOF
cat >"$W/tmpl.taints" <<'EOF'
dedicated=gpu:NoSchedule
example.com/preempt:NoExecute
EOF
# malformed lines: a command substitution, quotes and backslashes, a space, a missing "=", an
# unknown effect, a colon in a key; none is a label or taint the platform admits
cat >"$W/tmpl-bad.labels" <<'EOF'
tier=web
x=$(touch __W__/pwned)
`touch __W__/pwned`=1
q"uote=1
back=sla\sh
with space=1
noequals
EOF
cat >"$W/tmpl-bad.taints" <<'EOF'
dedicated=gpu:NoSchedule
a=b:Sometimes
a:b:NoSchedule
x="y":NoExecute
EOF
sed -i "s|__W__|$W|g" "$W/tmpl-bad.labels"
# the most the platform admits: 64 labels and 32 taints, keys of a 253-character prefix and a
# 63-character name, 63-character values
p=$(printf 'a%.0s' $(seq 253)) n=$(printf 'b%.0s' $(seq 60)) v=$(printf 'c%.0s' $(seq 63))
for i in $(seq 100 163); do echo "$p/$n$i=$v"; done >"$W/tmpl-big.labels"
for i in $(seq 100 131); do echo "$p/$n$i=$v:NoSchedule"; done >"$W/tmpl-big.taints"

LABELS='{"example.com/gpu":"a100","node.kubernetes.io/spot":"","tier":"web"}'
TAINTS='[{"key":"dedicated","value":"gpu","effect":"NoSchedule"},{"key":"example.com/preempt","effect":"NoExecute"}]'
for sh in dash "busybox sh"; do
  t=${sh%% *}
  for s in "" -bad -big; do
    cp "$W/tmpl$s.labels" "$W/$t$s.labels"
    cp "$W/tmpl$s.taints" "$W/$t$s.taints"
    publish "$t$s" "$sh"
  done
  publish "$t-none" "$sh"

  echo "== $sh"
  check "labels and taints recorded in the details, beside the node's facts and the bundle's own" \
    jqe ".stage == \"ready\" and .details.labels == $LABELS and .details.taints == $TAINTS and
      .details.node == \"w1\" and .details.gateway == \"0.0.0.0:23790\"" "$(cat "$W/$t.json")"
  check "a node without labels or taints: neither in the details" \
    jqe '.stage == "ready" and (.details | has("labels") or has("taints") | not)' "$(cat "$W/$t-none.json")"
  check "malformed lines skipped: valid JSON with only the well-formed entries" \
    jqe '.details.labels == {"tier":"web"} and .details.taints == [{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]' \
    "$(cat "$W/$t-bad.json")"
  check "... nothing in them was run" test ! -e "$W/pwned"
  check "... each one named in a warning on the console (9)" \
    test "$(grep -c 'WARNING: skipping a malformed line of KAAS_NODE_' "$W/$t-bad.console")" = 9
  check "the largest admitted labels and taints: a status line under 16 KiB, the rest counted as omitted" \
    bash -c "[ \$(wc -c <'$W/$t-big.json') -lt 16384 ] && jq -e '(.details.labels | length) + .details.labelsOmitted == 64 and
      (.details.taints | length) + (.details.taintsOmitted // 0) == 32 and .details.labelsOmitted > 0' '$W/$t-big.json' >/dev/null"
done

if [ "$T_FAIL" != 0 ]; then
  for f in "$W"/*.console; do echo "---- ${f##*/}"; tail -n 12 "$f"; done
fi
summary
