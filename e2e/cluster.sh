#!/usr/bin/env bash
# The local Kubernetes control plane for tests and the demo: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake
# node that runs pods and serves their logs), all on 127.0.0.1.
#
# usage: cluster.sh up      start what is not running; print the kubeconfig path
#        cluster.sh down    stop everything this script started
#        cluster.sh status  exit 0 when the API server is healthy
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/e2e/.cluster
bin=$("$top/e2e/toolchain/build.sh" --print)
kubeconfig=$dir/kubeconfig
ETCD_PORT=${MASON_ETCD_PORT:-23791}
API_PORT=${MASON_API_PORT:-16443}
KWOK_PORT=${MASON_KWOK_PORT:-10350}
KCM_PORT=${MASON_KCM_PORT:-10357}
SCHED_PORT=${MASON_SCHED_PORT:-10359}
kwok_crds=(logs clusterlogs)

die()
{
    echo "error: $*" >&2
    exit 1
}

# owned_pid NAME: prints the pid in NAME.pid when that process still runs bin/NAME, so a pid
# that the system reused for another program is never taken for ours.
owned_pid()
{
    local pidfile=$dir/$1.pid pid argv0
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1) || return 1
    [ "$argv0" = "$bin/$1" ] || return 1
    echo "$pid"
}

running()
{
    owned_pid "$1" >/dev/null
}

# check_ports NAME PORT...: fails when something already listens on a port NAME needs.
check_ports()
{
    local name=$1 port
    shift
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "cannot start $name: 127.0.0.1:$port is already in use, most likely by the control plane of another checkout; run 'make cluster-down' there, or pick free ports with MASON_ETCD_PORT (also uses +10), MASON_API_PORT, MASON_KWOK_PORT, MASON_KCM_PORT and MASON_SCHED_PORT"
        fi
    done
}

# start NAME ARGS...: runs bin/NAME in the background with its log in .cluster.
start()
{
    local name=$1
    shift
    if running "$name"; then
        return 0
    fi
    rm -f "$dir/$name.pid"
    [ -x "$bin/$name" ] || die "$name is not built; run 'make toolchain' (binary expected at $bin/$name)"
    setsid "$bin/$name" "$@" >>"$dir/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds or the time is up.
wait_for()
{
    local name=$1 seconds=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! running "$name"; then
            die "$name exited during start; see $dir/$name.log"
        fi
        sleep 0.2
    done
    die "$name did not become ready within ${seconds}s (step: $*); see $dir/$name.log"
}

make_certs()
{
    local pki=$dir/pki
    [ -f "$pki/admin.crt" ] && return 0
    mkdir -p "$pki"
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
            -subj "/CN=mason-local-ca" 2>/dev/null
        openssl genrsa -out sa.key 2048 2>/dev/null
        openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
        sign serving "/CN=kube-apiserver" \
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
        sign kwok "/CN=kwok-node-0" "subjectAltName=IP:127.0.0.1,DNS:localhost"
        sign admin "/O=system:masters/CN=mason-admin" "extendedKeyUsage=clientAuth"
    ) || die "certificate generation failed in $pki"
}

# sign NAME SUBJECT EXTENSION: a key and a certificate signed by the local CA.
sign()
{
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}

write_kubeconfig()
{
    local pki=$dir/pki
    cat >"$kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: mason-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: mason-admin
  user:
    client-certificate-data: $(base64 -w0 "$pki/admin.crt")
    client-key-data: $(base64 -w0 "$pki/admin.key")
contexts:
- name: mason-local
  context:
    cluster: mason-local
    user: mason-admin
    namespace: default
current-context: mason-local
KUBECONFIG
}

api_healthy()
{
    curl -sf --max-time 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
        --key "$dir/pki/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null
}

start_etcd()
{
    running etcd || check_ports etcd "$ETCD_PORT" "$((ETCD_PORT + 10))"
    start etcd --name mason-local --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
        --initial-cluster "mason-local=http://127.0.0.1:$((ETCD_PORT + 10))" \
        --listen-metrics-urls "" --quota-backend-bytes 4294967296 --unsafe-no-fsync
    wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver()
{
    local pki=$dir/pki
    running kube-apiserver || check_ports kube-apiserver "$API_PORT"
    start kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
        --tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
        --client-ca-file "$pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc \
        --service-account-key-file "$pki/sa.pub" \
        --service-account-signing-key-file "$pki/sa.key" \
        --service-cluster-ip-range 10.96.0.0/16 \
        --authorization-mode Node,RBAC \
        --kubelet-certificate-authority "$pki/ca.crt" \
        --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
        --kubelet-preferred-address-types InternalIP \
        --endpoint-reconciler-type none --profiling=false \
        --watch-cache=true --max-requests-inflight 800 --max-mutating-requests-inflight 400
    wait_for kube-apiserver 120 api_healthy
}

start_controllers()
{
    running kube-controller-manager || check_ports kube-controller-manager "$KCM_PORT"
    running kube-scheduler || check_ports kube-scheduler "$SCHED_PORT"
    start kube-controller-manager --kubeconfig "$kubeconfig" \
        --controllers job-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,ttl-after-finished-controller,serviceaccount-token-controller,persistentvolume-binder-controller \
        --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
        --use-service-account-credentials=false --leader-elect=false \
        --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
        --concurrent-job-syncs 20 --concurrent-gc-syncs 40 --kube-api-qps 400 --kube-api-burst 800
    start kube-scheduler --kubeconfig "$kubeconfig" --leader-elect=false \
        --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --kube-api-qps 400 --kube-api-burst 800
}

start_kwok()
{
    local kubectl=$bin/kubectl crd
    local crds
    crds=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$(kwok_version)/kustomize/crd/bases
    for crd in "${kwok_crds[@]}"; do
        "$kubectl" --kubeconfig "$kubeconfig" apply --server-side -f "$crds/kwok.x-k8s.io_$crd.yaml" >/dev/null ||
            die "installing the kwok CRD $crd failed (step: kubectl apply $crds/kwok.x-k8s.io_$crd.yaml)"
    done
    running kwok || check_ports kwok "$KWOK_PORT"
    start kwok --kubeconfig "$kubeconfig" --config "$top/e2e/kwok/stages.yaml" \
        --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
        --server-address "127.0.0.1:$KWOK_PORT" --node-ip 127.0.0.1 --node-port "$KWOK_PORT" \
        --tls-cert-file "$dir/pki/kwok.crt" --tls-private-key-file "$dir/pki/kwok.key" \
        --enable-crds Logs,ClusterLogs
    "$kubectl" --kubeconfig "$kubeconfig" apply -f "$top/e2e/kwok/node.yaml" >/dev/null ||
        die "creating the kwok node failed (step: kubectl apply e2e/kwok/node.yaml)"
    wait_for kwok 60 node_ready
    # The API server taints every new node not-ready; the node lifecycle
    # controller that would lift the taint is not run here, so lift it once.
    "$kubectl" --kubeconfig "$kubeconfig" taint node kwok-node-0 \
        node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
}

kwok_version()
{
    sed -n 's/^require sigs.k8s.io\/kwok \(v[^ ]*\)$/\1/p' "$top/e2e/toolchain/kwok/go.mod"
}

node_ready()
{
    "$bin/kubectl" --kubeconfig "$kubeconfig" get node kwok-node-0 \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -q True
}

default_sa_ready()
{
    "$bin/kubectl" --kubeconfig "$kubeconfig" get serviceaccount default -n default
}

up()
{
    mkdir -p "$dir"
    make_certs
    write_kubeconfig
    start_etcd
    start_apiserver
    start_controllers
    start_kwok
    wait_for kube-controller-manager 60 default_sa_ready
    echo "$kubeconfig"
}

down()
{
    local name pid
    for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
        if ! pid=$(owned_pid "$name"); then
            rm -f "$dir/$name.pid" # absent, or left by a process that is gone
            continue
        fi
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/$name.pid"
    done
    if [ "${1:-}" = "--purge" ]; then
        rm -rf "$dir"
    fi
}

# Stops the API server and starts it again, for tests of clients that must
# survive an API server restart.
restart_apiserver()
{
    local pid
    pid=$(owned_pid kube-apiserver) || die "kube-apiserver is not running; start it with 'cluster.sh up'"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/kube-apiserver.pid"
    start_apiserver
}

case "${1:-}" in
up) up ;;
down) down "${2:-}" ;;
status) api_healthy ;;
restart-apiserver) restart_apiserver ;;
*) die "usage: cluster.sh up | down [--purge] | status | restart-apiserver" ;;
esac
