#!/bin/sh
# kaas k3s bundle, worker role (sourced after common.sh by the node's user-data).
#
#   k3s agent --server https://<floating IP, else a reachable master>:6443 --token-file ... 
# The server URL only matters for the first contact: the agent then learns every server and
# balances across them itself (its local load balancer on 127.0.0.1:6444).
#
# Ready = the kubelet answers "ok" on http://127.0.0.1:10248/healthz AND the API says this node
# is Ready. There is no admin kubeconfig on an agent, so the API is asked with the node's own
# credentials: `k3s kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node
# <name>` (the kubelet's client certificate may read its own Node object; the request goes
# through the agent's load balancer to a server).

kaas_k3s_worker_check() {
  local hz node kc="$K3S_DATA/agent/kubelet.kubeconfig"
  KAAS_CHECK_DETAILS="$(kaas_jstr server "${KAAS_K3S_JOIN:-}")"
  hz=$(kaas_http_get http://127.0.0.1:10248/healthz 2>&1) || hz="${hz:-no answer}"
  node=
  [ -f "$kc" ] && node=$("$K3S_BIN" kubectl --kubeconfig "$kc" --request-timeout=5s get node "$KAAS_NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
  KAAS_CHECK_DETAILS="$KAAS_CHECK_DETAILS,$(kaas_jstr kubeletHealthz "$(echo "$hz" | tail -n 1)"),$(kaas_jstr nodeReady "${node:-unknown}")"
  if [ "$hz" = ok ] && [ "$node" = True ]; then
    KAAS_CHECK_MSG="k3s agent ready: kubelet healthy, node $KAAS_NODE_NAME Ready"
    return 0
  fi
  if [ "$hz" != ok ]; then
    KAAS_CHECK_MSG="kubelet not healthy yet: $(echo "$hz" | tail -n 1)"
  else
    KAAS_CHECK_MSG="kubelet healthy; node $KAAS_NODE_NAME not Ready yet (Ready=${node:-unknown})"
  fi
  return 1
}

kaas_k3s_worker_main() {
  local a iface server
  if kaas_pid_alive "$KAAS_SUPERVISOR_PIDFILE"; then
    kaas_log "k3s supervisor already running (pid $(cat "$KAAS_SUPERVISOR_PIDFILE")); nothing to do"
    return 0
  fi
  # shellcheck disable=SC2046 # one address per word
  server=$(kaas_k3s_pick_server $KAAS_FLOATING_IP $(echo "$KAAS_MASTERS" | tr ',' ' '))
  [ -n "$server" ] || { kaas_fail "no floating IP and no masters to join"; return 1; }
  KAAS_K3S_JOIN=https://$server:$K3S_PORT
  kaas_k3s_write_token || { kaas_fail "cannot write the join token file"; return 1; }
  set -- agent --server "$KAAS_K3S_JOIN" --token-file "$KAAS_K3S_TOKEN_FILE" \
    --node-ip "$KAAS_NODE_IP" --node-name "$KAAS_NODE_NAME"
  # the node's labels and taints (its pool's), each as an argument of its own
  while IFS= read -r a; do
    [ -z "$a" ] || set -- "$@" "$a"
  done <<EOF
$(kaas_k3s_node_meta_args)
EOF
  iface=$(kaas_nic_of_ip "$KAAS_NODE_IP") # as on masters: flannel on the NIC with the node's address
  [ -n "$iface" ] && set -- "$@" --flannel-iface "$iface"
  kaas_k3s_write_run "$@"
  kaas_status joining false "starting k3s agent ($KAAS_K3S_JOIN)"
  kaas_k3s_launch k3s-agent kaas_k3s_worker_check joining
}

if [ "$KAAS_SETUP_OK" = 1 ]; then
  kaas_k3s_worker_main
else
  kaas_log "set-up failed; not starting k3s"
fi
