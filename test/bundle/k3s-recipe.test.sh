#!/usr/bin/env bash
# Test of the k3s bundle's scripts without k3s: each scenario runs a node's user-data (built the
# way src/control-plane/node-boot-config.ts builds it, run by /bin/sh like cloud-init would) in a
# sandbox, with a STAND-IN k3s that records its argv, environment and what was on disk when it
# was started, then behaves just enough like k3s (writes the kubeconfig, answers kubectl's
# /readyz and node queries, serves the kubelet healthz) for the scripts to reach "ready".
#
#   test/bundle/k3s-recipe.test.sh        (root; about 30-60 s; no network)
#
# Sandbox: `unshare --mount --net --pid --fork --mount-proc` with copy-on-write overlays over
# /etc /var /opt /run /usr/local /root: the scripts run unmodified, at their real paths, and
# nothing they write reaches the host; the network namespace has loopback (the status server on
# :8099 and the stand-in kubelet's healthz on 127.0.0.1:10248 live there) and, where a scenario
# gives it one, the node's one NIC (a veth end holding the node's VPC address); leaving the PID
# namespace ends every process a scenario started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"

# ---- inside the sandbox: run one node's user-data and collect what happened -----------------------
if [ "${1:-}" = --inside ]; then
  S=$2 # scenario directory (on the host's /tmp, outside the overlays)
  O=$S/overlay
  mkdir -p "$O"
  mount -t tmpfs tmpfs "$O"
  for d in /etc /var /opt /run /usr/local /root; do
    n=$(echo "$d" | tr / _)
    mkdir -p "$O/$n.up" "$O/$n.work"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$O/$n.up,workdir=$O/$n.work" "$d"
  done
  ip link set lo up
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  mkdir -p /opt/bundle /var/www
  cp "$S/../k3s-standin" /opt/bundle/k3s
  sed -i "s|__REC__|$S/rec|" /opt/bundle/k3s
  chmod 755 /opt/bundle/k3s
  cp "$S/../k3s-airgap-images-amd64.tar.zst" /opt/bundle/
  mkdir -p "$S/rec"
  [ -f "$S/pre.sh" ] && . "$S/pre.sh"
  set -a
  [ -f "$S/env" ] && . "$S/env"
  set +a
  runs=$(cat "$S/runs" 2>/dev/null || echo 1)
  for i in $(seq "$runs"); do
    $(cat "$S/shell" 2>/dev/null || echo /bin/sh) "$S/user-data" >>"$S/console" 2>&1 </dev/null ||
      echo "user-data exited $?" >>"$S/console"
    for _ in $(seq 150); do # up to 30 s
      st=$(sed -n 's/^{"stage":"\([a-z]*\)".*/\1/p' /var/www/status 2>/dev/null || true)
      [ "$st" = ready ] || [ "$st" = failed ] && break
      sleep 0.2
    done
    [ "$i" -lt "$runs" ] && sleep 3
  done
  cp /var/www/status "$S/status.json" 2>/dev/null || true
  curl -s --max-time 3 http://127.0.0.1:8099/status >"$S/status.http" 2>/dev/null || true
  tls=/var/lib/rancher/k3s/server/tls
  [ -d "$tls" ] && ls -l "$tls" >"$S/tls.ls"
  cp "$tls/server-ca.crt" "$S/server-ca.crt" 2>/dev/null || true
  stat -c '%a %U' /etc/kaas/k3s/run.sh >"$S/run.sh.mode" 2>/dev/null || true
  cp /etc/kaas/k3s/run.sh "$S/run.sh" 2>/dev/null || true
  cp /etc/systemd/system/k3s*.service "$S/" 2>/dev/null || true
  ls -l /var/lib/rancher/k3s/agent/images/ >"$S/images.ls" 2>/dev/null || true
  ip -4 -o addr show >"$S/addrs.out" 2>&1
  exit 0
fi

# ---- outside -------------------------------------------------------------------------------------------
START=$(date +%s.%N)
[ "$(id -u)" = 0 ] || { echo "must run as root (unshare, overlay mounts)" >&2; exit 2; }
for c in unshare openssl curl busybox jq sha256sum; do
  command -v $c >/dev/null || { echo "missing tool: $c" >&2; exit 2; }
done
W=$(mktemp -d /tmp/kaas-k3s-test.XXXXXX)
cleanup() { if [ "${KAAS_K3S_TEST_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT

S3=${KAAS_K3S_SCRIPTS:-$ROOT/bundles/k3s/scripts} # override: mutation checks
P=$W/pki
FIP=10.78.0.100
TOKEN=$(openssl rand -hex 32)
pki_ca "$P" k3st
pki_cert "$P" "$P" m1 m1 "" 1 "$(node_sans m1 10.77.0.11 $FIP)"
pki_cert "$P" "$P" m2 m2 "" 1 "$(node_sans m2 10.77.0.12 $FIP)"
pki_cert "$P" "$P" w1 w1 "" 0 "$(node_sans w1 10.77.0.21 $FIP)"
head -c 1048576 /dev/urandom >"$W/k3s-airgap-images-amd64.tar.zst"
IMAGES_SHA=$(sha256sum <"$W/k3s-airgap-images-amd64.tar.zst" | cut -d' ' -f1)
CA_SHA=$(sha256sum <"$P/ca.crt" | cut -d' ' -f1)
CAKEY_SHA=$(sha256sum <"$P/ca.key" | cut -d' ' -f1)

# The stand-in k3s. __REC__ becomes the scenario's record directory.
cat >"$W/k3s-standin" <<'STANDIN'
#!/bin/sh
# stand-in for k3s (tests only): records how it was started, then acts just enough like k3s
REC=__REC__
D=/var/lib/rancher/k3s
case "${1:-}" in
  server | agent)
    n=$(($(cat $REC/starts 2>/dev/null || echo 0) + 1))
    echo $n >$REC/starts
    : >$REC/argv.$n
    for a in "$@"; do printf '%s\n' "$a" >>$REC/argv.$n; done
    env | sort >$REC/env.$n
    prev=
    for a in "$@"; do
      [ "$prev" = --token-file ] && echo "$(stat -c '%a %U' "$a") $(cat "$a")" >$REC/token-file.$n
      prev=$a
    done
    for f in server-ca.crt server-ca.key client-ca.crt client-ca.key; do
      if [ -f $D/server/tls/$f ]; then
        echo "$f $(sha256sum <$D/server/tls/$f | cut -d' ' -f1) $(stat -c %a $D/server/tls/$f)"
      else
        echo "$f missing"
      fi
    done >$REC/tls-at-start.$n
    for f in $D/agent/images/*; do [ -f "$f" ] && echo "${f##*/} $(sha256sum <"$f" | cut -d' ' -f1)"; done \
      >$REC/images-at-start.$n 2>/dev/null
    if [ -f $REC/fail ]; then echo 'level=fatal msg="stand-in k3s told to fail"' >&2; exit 1; fi
    if [ "$1" = server ]; then
      kc=/etc/rancher/k3s/k3s.yaml prev=
      for a in "$@"; do [ "$prev" = --write-kubeconfig ] && kc=$a; prev=$a; done
      sleep 1
      mkdir -p "$(dirname "$kc")" $D/server/db
      printf 'apiVersion: v1\nkind: Config\n# stand-in\n' >"$kc"
    else
      mkdir -p $D/agent/hz
      echo ok >$D/agent/hz/healthz
      busybox httpd -p 127.0.0.1:10248 -h $D/agent/hz
      sleep 1
      printf 'apiVersion: v1\nkind: Config\n# stand-in kubelet\n' >$D/agent/kubelet.kubeconfig
    fi
    trap 'exit 0' TERM INT
    while :; do sleep 1; done
    ;;
  kubectl)
    echo "$*" >>$REC/kubectl.log
    kc= prev=
    for a in "$@"; do [ "$prev" = --kubeconfig ] && kc=$a; prev=$a; done
    [ -n "$kc" ] && [ -f "$kc" ] || { echo "The connection to the server localhost:8080 was refused" >&2; exit 1; }
    case " $* " in
      *" --raw=/readyz "*) echo ok ;;
      *" get node "*) printf True ;;
      *) echo "stand-in k3s: unsupported kubectl $*" >&2; exit 1 ;;
    esac
    ;;
  *) echo "stand-in k3s: unsupported: $*" >&2; exit 1 ;;
esac
STANDIN

# scenario NAME NODE ROLE IP INITIAL MASTERS FIP: prepares $W/NAME with the node's user-data
scenario() {
  local d=$W/$1
  mkdir -p "$d"
  U_ROLE=$3 U_NAME=$2 U_IP=$4 U_CLUSTER_NAME=k3st U_CLUSTER_ID=5f0c2b7e-0000-4000-8000-00000000k3s1
  U_BUNDLE=k3s U_VERSION=v1.31.4+k3s1 U_FIP=$7 U_MASTERS=$6 U_INITIAL=$5 U_GATEWAY=10.77.0.1 U_PREFIX=24
  U_TOKEN=$TOKEN U_CA_CRT=$P/ca.crt U_CA_KEY= U_NODE_CRT=$P/$2.crt U_NODE_KEY=$P/$2.key
  [ "$3" = master ] && U_CA_KEY=$P/ca.key
  U_COMMON=$S3/common.sh U_ROLE_SCRIPT=$S3/$3.sh
  gen_user_data >"$d/user-data"
  # tunables for a quick test: no wait for reachable servers, 1 s status refresh
  printf 'KAAS_SERVER_PROBE_SECONDS=0\nKAAS_STATUS_INTERVAL=1\nKAAS_INIT=supervise\n' >"$d/env"
}
one_nic() { # NAME IP: the sandbox gets the node's one NIC, eth0, holding IP (MTU as on OVN)
  cat >>"$W/$1/pre.sh" <<EOF
ip link add eth0 type veth peer name eth0-peer
ip addr add $2/24 dev eth0
ip link set eth0 mtu 1442 up
EOF
}
with_meta() { # NAME LABELS TAINTS: the node's labels and taints, exported as node-boot-config.ts does
  local u=$W/$1/user-data
  {
    sed -n '1,/^export KAAS_STATUS_FILE=/p' "$u"
    echo "export KAAS_NODE_LABELS=$(ud_quote "$2")"
    echo "export KAAS_NODE_TAINTS=$(ud_quote "$3")"
    sed '1,/^export KAAS_STATUS_FILE=/d' "$u"
  } >"$u.new" && mv "$u.new" "$u"
}
run() { # NAME: runs the scenario in its sandbox
  unshare --mount --net --pid --fork --mount-proc --kill-child "$0" --inside "$W/$1" >"$W/$1/sandbox.log" 2>&1 ||
    echo "sandbox of $1 exited $?" >>"$W/$1/sandbox.log"
}
argv() { cat "$W/$1/rec/argv.${2:-1}" 2>/dev/null; }
has_arg() { argv "$1" | grep -qxF -- "$2"; }                                # NAME ARG
arg_after() { argv "$1" | awk -v f="$2" 'p {print; exit} $0 == f {p = 1}'; } # NAME FLAG -> value
all_after() { argv "$1" | awk -v f="$2" 'p {print; p = 0; next} $0 == f {p = 1}'; }

scenario m1 m1 master 10.77.0.11 1 10.77.0.11,10.77.0.12 $FIP
one_nic m1 10.77.0.11
scenario m2 m2 master 10.77.0.12 0 10.77.0.11,10.77.0.12 $FIP
scenario w1 w1 worker 10.77.0.21 0 10.77.0.11,10.77.0.12 $FIP
one_nic w1 10.77.0.21
scenario w2 w1 worker 10.77.0.21 0 10.77.0.11,10.77.0.12 ""
# a worker of a pool with labels and taints (w1; bb: the same under busybox sh), with lines the
# platform never sends among them: the scripts must skip them, not run or pass them
POOL_LABELS=$'example.com/gpu=a100\nnode.kubernetes.io/spot=\ntier=web'
POOL_TAINTS=$'dedicated=gpu:NoSchedule\nexample.com/preempt:NoExecute'
BAD_LABELS=$'x=$(touch '"$W"$'/pwned)\nwith space=1'
BAD_TAINTS=$'a=b:Sometimes\n`touch '"$W"$'/pwned`:NoSchedule'
with_meta w1 "$POOL_LABELS"$'\n'"$BAD_LABELS" "$BAD_TAINTS"$'\n'"$POOL_TAINTS"
scenario sd m1 master 10.77.0.11 1 10.77.0.11 $FIP
sed -i 's/^KAAS_INIT=.*/KAAS_INIT=auto/' "$W/sd/env"
cat >"$W/sd/pre.sh" <<'EOF'
# systemd as PID 1, as far as the scripts can tell: /run/systemd/system and a stand-in systemctl
# that records its calls and, for `enable --now`, runs the unit's ExecStart
mkdir -p /run/systemd/system
cat >/usr/local/sbin/systemctl <<SC
#!/bin/sh
R=$S/rec
echo "\$*" >>\$R/systemctl.log
case "\$1" in
  daemon-reload) exit 0 ;;
  enable) for u; do :; done
    case " \$* " in *" --now "*)
      cmd=\$(sed -n 's/^ExecStart=//p' /etc/systemd/system/\$u)
      \$cmd >>\$R/unit.log 2>&1 </dev/null &
      echo \$! >\$R/unit.pid ;; esac ;;
  is-failed) kill -0 "\$(cat \$R/unit.pid)" 2>/dev/null && exit 1; exit 0 ;;
  *) exit 0 ;;
esac
SC
chmod 755 /usr/local/sbin/systemctl
EOF
scenario bb w1 worker 10.77.0.21 0 10.77.0.11,10.77.0.12 $FIP
echo "busybox sh" >"$W/bb/shell"
with_meta bb "$POOL_LABELS"$'\n'"$BAD_LABELS" "$BAD_TAINTS"$'\n'"$POOL_TAINTS"
scenario bbm m2 master 10.77.0.12 0 10.77.0.11,10.77.0.12 $FIP
echo "busybox sh" >"$W/bbm/shell"
scenario rerun m1 master 10.77.0.11 1 10.77.0.11 $FIP
echo 2 >"$W/rerun/runs"
scenario crash m1 master 10.77.0.11 1 10.77.0.11 $FIP
echo 'touch "$S/rec/fail"' >"$W/crash/pre.sh"
echo KAAS_K3S_MAX_RESTARTS=2 >>"$W/crash/env"
scenario conflict m1 master 10.77.0.11 1 10.77.0.11 $FIP
cat >"$W/conflict/pre.sh" <<'EOF'
# k3s ran here before, with a CA of its own
mkdir -p /var/lib/rancher/k3s/server/tls /var/lib/rancher/k3s/server/db
echo "-----BEGIN CERTIFICATE----- another CA" >/var/lib/rancher/k3s/server/tls/server-ca.crt
EOF

SCENARIOS="m1 m2 w1 w2 sd bb bbm rerun crash conflict"
echo "running $(wc -w <<<"$SCENARIOS") scenarios in sandboxes (in parallel)"
for s in $SCENARIOS; do run $s & done
wait

echo "== initial master (m1)"
check "k3s started once, as 'server'" test "$(cat "$W/m1/rec/starts" 2>/dev/null)" = 1 -a "$(argv m1 | head -1)" = server
check "--cluster-init on the initial master" has_arg m1 --cluster-init
check "no --server on the initial master" bash -c "! grep -qx -- --server '$W/m1/rec/argv.1'"
check "--token-file holds KAAS_JOIN_TOKEN (600 root); no --token in argv, no token in k3s's environment" \
  bash -c "[ \"\$(cat '$W/m1/rec/token-file.1')\" = '600 root $TOKEN' ] && ! grep -qx -- --token '$W/m1/rec/argv.1' && ! grep -q '$TOKEN' '$W/m1/rec/env.1' '$W/m1/rec/argv.1'"
check "--tls-san includes the floating IP and the node IP" \
  bash -c "grep -qx '$FIP' <<<'$(all_after m1 --tls-san)' && grep -qx 10.77.0.11 <<<'$(all_after m1 --tls-san)'"
check "--node-ip, --node-name, --disable-cloud-controller" \
  test "$(arg_after m1 --node-ip)/$(arg_after m1 --node-name)/$(has_arg m1 --disable-cloud-controller && echo y)" = 10.77.0.11/m1/y
check "cluster CA installed as server-ca and client-ca BEFORE k3s started (certs 644, keys 600)" \
  diff <(printf '%s\n' "server-ca.crt $CA_SHA 644" "server-ca.key $CAKEY_SHA 600" "client-ca.crt $CA_SHA 644" "client-ca.key $CAKEY_SHA 600") \
  "$W/m1/rec/tls-at-start.1"
check "air-gap images copied into agent/images before the start" \
  test "$(cat "$W/m1/rec/images-at-start.1")" = "k3s-airgap-images-amd64.tar.zst $IMAGES_SHA"
check "status ready:true after /readyz answered ok" \
  jqe '.stage == "ready" and .ready == true and .details.readyz == "ok" and .details.bundle == "k3s"' "$(cat "$W/m1/status.json")"
check "readiness asked k3s kubectl get --raw=/readyz with the server's kubeconfig" \
  grep -q -- '--kubeconfig /etc/rancher/k3s/k3s.yaml --request-timeout=5s get --raw=/readyz' "$W/m1/rec/kubectl.log"
check "status JSON served on :8099 (the scripts started a status server)" \
  jqe '.ready == true' "$(cat "$W/m1/status.http")"
check "console shows KAAS_STAGE installing -> ready" \
  bash -c "grep -q '^KAAS_STAGE installing bundle=k3s' '$W/m1/console' && grep -q '^KAAS_STAGE ready bundle=k3s ready=true' '$W/m1/console'"
check "run.sh (holds the token) is root-only (700)" test "$(cat "$W/m1/run.sh.mode")" = "700 root"
check "--flannel-iface eth0: the NIC that holds the node's address (its only NIC)" \
  test "$(arg_after m1 --flannel-iface)" = eth0
check "the floating IP is on no NIC (the endpoint is a load balancer): eth0 holds only 10.77.0.11" \
  bash -c "! grep -q ' $FIP/' '$W/m1/addrs.out' && [ \"\$(grep -c ' inet ' '$W/m1/addrs.out')\" = 2 ] && grep -q 'eth0 *inet 10.77.0.11/24' '$W/m1/addrs.out'"

echo "== joining master (m2)"
check "k3s server with --server https://10.77.0.11:6443 (the other master)" \
  test "$(argv m2 | head -1) $(arg_after m2 --server)" = "server https://10.77.0.11:6443"
check "no --cluster-init on a joining master" bash -c "! grep -qx -- --cluster-init '$W/m2/rec/argv.1'"
check "--token-file holds KAAS_JOIN_TOKEN" test "$(cat "$W/m2/rec/token-file.1")" = "600 root $TOKEN"
check "--tls-san includes the floating IP" grep -qx "$FIP" <<<"$(all_after m2 --tls-san)"
check "cluster CA installed before the start" grep -q "^server-ca.crt $CA_SHA 644" "$W/m2/rec/tls-at-start.1"
check "images copied" test "$(cat "$W/m2/rec/images-at-start.1")" = "k3s-airgap-images-amd64.tar.zst $IMAGES_SHA"
check "status: joining, then ready" \
  bash -c "grep -q '^KAAS_STAGE joining bundle=k3s' '$W/m2/console' && [ -s '$W/m2/status.json' ] && jq -e '.ready == true' '$W/m2/status.json' >/dev/null"

echo "== worker (w1: floating IP set; w2: none)"
check "k3s agent --server https://$FIP:6443 (the floating IP)" \
  test "$(argv w1 | head -1) $(arg_after w1 --server)" = "agent https://$FIP:6443"
check "--token-file holds KAAS_JOIN_TOKEN, --node-ip and --node-name set, no token in the environment" \
  bash -c "[ \"\$(cat '$W/w1/rec/token-file.1') $(arg_after w1 --node-ip) $(arg_after w1 --node-name)\" = '600 root $TOKEN 10.77.0.21 w1' ] && ! grep -q '$TOKEN' '$W/w1/rec/env.1'"
check "no server-only flags on an agent" \
  bash -c "! grep -qxE -- '--cluster-init|--tls-san|--disable-cloud-controller' '$W/w1/rec/argv.1'"
check "no CA keys written on a worker" grep -q '^server-ca.key missing' "$W/w1/rec/tls-at-start.1"
check "images copied" test "$(cat "$W/w1/rec/images-at-start.1")" = "k3s-airgap-images-amd64.tar.zst $IMAGES_SHA"
check "ready = kubelet healthz ok + node Ready through the kubelet's kubeconfig" \
  jqe '.ready == true and .details.kubeletHealthz == "ok" and .details.nodeReady == "True"' "$(cat "$W/w1/status.json")"
check "node query used /var/lib/rancher/k3s/agent/kubelet.kubeconfig" \
  grep -q -- '--kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig --request-timeout=5s get node w1' "$W/w1/rec/kubectl.log"
check "without a floating IP the agent joins through the first master" \
  test "$(arg_after w2 --server)" = https://10.77.0.11:6443
check "--flannel-iface eth0 on the worker too" test "$(arg_after w1 --flannel-iface)" = eth0
check "no NIC holds the node's address (w2): no --flannel-iface, k3s picks the interface itself" \
  bash -c "[ -s '$W/w2/rec/argv.1' ] && ! grep -qx -- --flannel-iface '$W/w2/rec/argv.1'"

echo "== labels and taints (w1, bb: a pool's worker; m1, w2: none)"
for s in w1 bb; do
  check "$s: a --node-label for each of the pool's labels, a --node-taint for each of its taints" \
    test "$(all_after $s --node-label)|$(all_after $s --node-taint)" = "$POOL_LABELS|$POOL_TAINTS"
  check "$s: the malformed lines skipped with a warning each (4)" \
    test "$(grep -c 'WARNING: skipping a malformed line of KAAS_NODE_' "$W/$s/console")" = 4
done
check "nothing in the malformed lines was run" test ! -e "$W/pwned"
for s in m1 w2; do
  check "$s (no labels, no taints): no --node-label, no --node-taint" \
    bash -c "[ -s '$W/$s/rec/argv.1' ] && ! grep -qxE -- '--node-label|--node-taint' '$W/$s/rec/argv.1'"
done

echo "== systemd mode (systemd as PID 1)"
check "unit k3s.service written: ExecStart=/etc/kaas/k3s/run.sh, Restart=always, Type=notify" \
  bash -c "grep -qx 'ExecStart=/etc/kaas/k3s/run.sh' '$W/sd/k3s.service' && grep -qx 'Restart=always' '$W/sd/k3s.service' && grep -qx 'Type=notify' '$W/sd/k3s.service'"
check "systemctl daemon-reload, then enable --now --no-block k3s.service" \
  diff <(printf '%s\n' daemon-reload 'enable --now --no-block k3s.service') <(grep -v '^is-failed' "$W/sd/rec/systemctl.log")
check "the unit's ExecStart started k3s with the same flags" \
  bash -c "[ \"\$(cat '$W/sd/rec/starts')\" = 1 ] && grep -qx -- --cluster-init '$W/sd/rec/argv.1'"
check "status ready, details.init=systemd" jqe '.ready == true and .details.init == "systemd"' "$(cat "$W/sd/status.json")"

echo "== the same scripts under busybox sh (joining master, worker)"
for x in "bb agent https://$FIP:6443" "bbm server https://10.77.0.11:6443"; do
  set -- $x
  check "$1: k3s $2 --server $3 --token-file <KAAS_JOIN_TOKEN>, status ready" \
    test "$(argv $1 | head -1)|$(arg_after $1 --server)|$(cat "$W/$1/rec/token-file.1")|$(jq -r .ready "$W/$1/status.json" 2>/dev/null)" \
    = "$2|$3|600 root $TOKEN|true"
done

echo "== robustness"
check "user-data run twice: k3s started once, still ready" \
  bash -c "[ \"\$(cat '$W/rerun/rec/starts')\" = 1 ] && grep -q 'already running' '$W/rerun/console' && [ -s '$W/rerun/status.json' ] && jq -e '.ready == true' '$W/rerun/status.json' >/dev/null"
check "the second run left the published status alone (one 'installing' stage line)" \
  test "$(grep -c '^KAAS_STAGE installing bundle=k3s' "$W/rerun/console")" = 1
check "k3s that keeps exiting: restarted with backoff (3 starts), then status failed" \
  bash -c "[ \"\$(cat '$W/crash/rec/starts')\" = 3 ] && [ -s '$W/crash/status.json' ] && jq -e '.stage == \"failed\" and .ready == false and (.message | test(\"k3s exited \\\\(rc=1\\\\) 3 times\"))' '$W/crash/status.json' >/dev/null"
check "an existing k3s with another CA is not overwritten: failed, k3s not started" \
  bash -c "[ ! -f '$W/conflict/rec/starts' ] && [ -s '$W/conflict/status.json' ] && jq -e '.stage == \"failed\" and (.message | test(\"refusing\"))' '$W/conflict/status.json' >/dev/null && grep -q 'another CA' '$W/conflict/server-ca.crt'"

if [ "$T_FAIL" != 0 ]; then
  for s in $SCENARIOS; do
    echo "---- $s: console"; cat "$W/$s/console" 2>/dev/null | tail -n 15
    echo "---- $s: status"; cat "$W/$s/status.json" 2>/dev/null
    echo "---- $s: sandbox"; tail -n 5 "$W/$s/sandbox.log" 2>/dev/null
  done
fi
echo "run time $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $START}") s"
summary
