#!/bin/sh
# kaas k3s bundle, master role (sourced after common.sh by the node's user-data).
#
# k3s server with embedded etcd. Before the first start the platform's cluster CA becomes k3s's
# server CA and client CA (so the kubeconfig the platform issues - cluster CA + an admin client
# certificate signed by it - works against the API, and the API's serving certificate, which
# names the floating IP, verifies against that CA); k3s generates the rest (request-header CA,
# etcd CAs, service-account key) on the initial master and hands them to joining servers.
#   initial master:  k3s server --cluster-init ...
#   other masters:   k3s server --server https://<a running master>:6443 ...
# Ready = `k3s kubectl get --raw=/readyz` answers "ok" (API server and its etcd healthy).

kaas_k3s_install_ca() {
  local tls="$K3S_DATA/server/tls" n
  [ -s "$KAAS_PKI/ca.key" ] || { kaas_fail "a master needs the cluster CA key at $KAAS_PKI/ca.key"; return 1; }
  mkdir -p "$tls"
  chmod 700 "$tls"
  for n in server-ca client-ca; do
    if [ -f "$tls/$n.crt" ] && ! cmp -s "$tls/$n.crt" "$KAAS_PKI/ca.crt"; then
      if [ -d "$K3S_DATA/server/db" ]; then
        kaas_fail "k3s already runs with a $n that is not the cluster CA ($tls/$n.crt); refusing to replace it"
        return 1
      fi
      kaas_log "replacing $tls/$n.crt (k3s never ran here)"
    fi
    cp "$KAAS_PKI/ca.crt" "$tls/$n.crt.tmp" && chmod 644 "$tls/$n.crt.tmp" && mv -f "$tls/$n.crt.tmp" "$tls/$n.crt" &&
      (umask 077 && cp "$KAAS_PKI/ca.key" "$tls/$n.key.tmp") && chmod 600 "$tls/$n.key.tmp" &&
      mv -f "$tls/$n.key.tmp" "$tls/$n.key" || { kaas_fail "cannot install the cluster CA as $tls/$n"; return 1; }
  done
  kaas_log "cluster CA installed as k3s server-ca and client-ca in $tls"
}

kaas_k3s_master_check() {
  local out node
  KAAS_CHECK_DETAILS="$(kaas_jstr apiServer "https://$KAAS_NODE_IP:$K3S_PORT"),$(kaas_jstr joinedVia "${KAAS_K3S_JOIN:-cluster-init}")"
  if [ ! -f "$K3S_KUBECONFIG" ]; then
    KAAS_CHECK_MSG="k3s server starting (no $K3S_KUBECONFIG yet)"
    return 1
  fi
  out=$("$K3S_BIN" kubectl --kubeconfig "$K3S_KUBECONFIG" --request-timeout=5s get --raw=/readyz 2>&1)
  node=$("$K3S_BIN" kubectl --kubeconfig "$K3S_KUBECONFIG" --request-timeout=5s get node "$KAAS_NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || node=
  KAAS_CHECK_DETAILS="$KAAS_CHECK_DETAILS,$(kaas_jstr readyz "$(echo "$out" | tail -n 1)"),$(kaas_jstr nodeReady "${node:-unknown}")"
  if [ "$out" = ok ]; then
    KAAS_CHECK_MSG="k3s API server ready (/readyz ok); node Ready=${node:-unknown}"
    return 0
  fi
  KAAS_CHECK_MSG="k3s API server not ready: $(echo "$out" | tail -n 1)"
  return 1
}

kaas_k3s_master_main() {
  local a iface server wait=installing
  if kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE"; then
    kaas_log "k3s supervisor already running (pid $(cat "$KAAS_SUPERVISOR_PIDFILE")); nothing to do"
    return 0
  fi
  kaas_k3s_install_ca || return 1
  kaas_k3s_write_token || { kaas_fail "cannot write the join token file"; return 1; }
  set -- server --token-file "$KAAS_K3S_TOKEN_FILE"
  if [ "$KAAS_INITIAL_MASTER" = 1 ]; then
    set -- "$@" --cluster-init
  else
    # shellcheck disable=SC2046 # one address per word
    server=$(kaas_k3s_pick_server $(kaas_other_masters) $KAAS_FLOATING_IP)
    [ -n "$server" ] || { kaas_fail "no other master in KAAS_MASTERS and no floating IP to join through"; return 1; }
    KAAS_K3S_JOIN=https://$server:$K3S_PORT
    set -- "$@" --server "$KAAS_K3S_JOIN"
    wait=joining
  fi
  # the floating IP is the cluster's endpoint: a load balancer in front of the masters' :6443 (it
  # is on no NIC of this node), so only the certificate has to name it
  [ -n "$KAAS_FLOATING_IP" ] && set -- "$@" --tls-san "$KAAS_FLOATING_IP"
  set -- "$@" --tls-san "$KAAS_NODE_IP" --tls-san "$KAAS_NODE_NAME" \
    --node-ip "$KAAS_NODE_IP" --advertise-address "$KAAS_NODE_IP" --node-name "$KAAS_NODE_NAME" \
    --disable-cloud-controller --write-kubeconfig "$K3S_KUBECONFIG" --write-kubeconfig-mode 0600
  # the node's labels and taints, if it has any (only workers do: they are their pool's)
  while IFS= read -r a; do
    [ -z "$a" ] || set -- "$@" "$a"
  done <<EOF
$(kaas_k3s_node_meta_args)
EOF
  # flannel on the NIC that holds KAAS_NODE_IP (the node's only NIC), found by its address rather
  # than by the default route: VXLAN then always runs on the address k3s advertises
  iface=$(kaas_nic_of_ip "$KAAS_NODE_IP")
  [ -n "$iface" ] && set -- "$@" --flannel-iface "$iface"
  kaas_k3s_write_run "$@"
  kaas_status "$wait" false "starting k3s server (${KAAS_K3S_JOIN:-new cluster})"
  kaas_k3s_launch k3s kaas_k3s_master_check "$wait"
}

if [ "$KAAS_SETUP_OK" = 1 ]; then
  kaas_k3s_master_main
else
  kaas_log "set-up failed; not starting k3s"
fi
