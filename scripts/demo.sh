#!/usr/bin/env bash
# Runs the main job end to end on the local control plane: installs what is
# missing, brings the control plane up, installs the CRDs and RBAC, starts
# mason-operator, applies examples/agenttask.yaml and has kwok play the agent
# pod, which prints a Claude Code stream-json stream and exits 0. Prints
# `kubectl get agenttasks` as the task goes from Pending to Succeeded.
# Running it again replaces the task and starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/deps.sh --check 2>/dev/null || scripts/deps.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" all
bin=$(e2e/toolchain/build.sh --print)
if [ ! -x "$bin/kwok" ]; then
    echo "demo: building the local control plane from the Go module proxy;" \
        "the first build takes 25 to 40 minutes on two cores" >&2
fi
e2e/toolchain/build.sh >/dev/null
kubeconfig=$(e2e/cluster.sh up | tail -n 1)
export KUBECONFIG=$kubeconfig
kubectl() { "$bin/kubectl" "$@"; }
dir=$top/e2e/.cluster/demo
mkdir -p "$dir"

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/agenttasks.mason.dev --timeout=60s >/dev/null
kubectl apply -k config/rbac >/dev/null
kubectl delete agenttask fix-flaky-test -n default --ignore-not-found --wait=true >/dev/null

build/default/bin/mason-operator --config e2e/demo/mason-config.yaml >"$dir/operator.log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null; wait $operator 2>/dev/null || true' EXIT
echo "demo: mason-operator started (pid $operator, log $dir/operator.log)"

show() { echo; echo "\$ kubectl get agenttasks"; kubectl get agenttasks -n default; }

kubectl apply -f examples/agenttask.yaml
show

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it prints something.
wait_for()
{
    local seconds=$1 what=$2 out
    shift 2
    for _ in $(seq $((seconds * 5))); do
        out=$("$@" 2>/dev/null || true)
        if [ -n "$out" ]; then
            printf '%s\n' "$out"
            return 0
        fi
        sleep 0.2
    done
    echo "demo: timed out after ${seconds}s waiting for $what; see $dir/operator.log" >&2
    exit 1
}

# wait_phase PHASE: polls the task until its phase is PHASE.
wait_phase()
{
    local phase
    for _ in $(seq 300); do
        phase=$(kubectl get agenttask fix-flaky-test -n default -o 'jsonpath={.status.phase}')
        [ "$phase" = "$1" ] && return 0
        case "$phase" in Succeeded | Failed)
            echo "demo: the task ended $phase, not $1; see $dir/operator.log" >&2
            kubectl get agenttask fix-flaky-test -n default -o 'jsonpath={.status.message}' >&2
            echo >&2
            exit 1 ;;
        esac
        sleep 0.2
    done
    echo "demo: timed out after 60s waiting for phase $1; see $dir/operator.log" >&2
    exit 1
}

job=$(wait_for 60 "the task's Job" kubectl get agenttask fix-flaky-test -n default \
    -o 'jsonpath={.status.runs[0].job}')
pod=$(wait_for 60 "the agent pod" kubectl get pods -n default \
    -l "batch.kubernetes.io/job-name=$job" -o 'jsonpath={.items[0].metadata.name}')
wait_phase Running
show

# kwok serves the pod's log from this file, in the CRI format a kubelet writes.
log=$dir/$pod.log
: >"$log"
kubectl apply -f - >/dev/null <<LOGS
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata:
  name: $pod
  namespace: default
spec:
  logs:
  - containers: [agent]
    logsFile: $log
    follow: true
LOGS
while IFS= read -r line; do
    printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$line" >>"$log"
    sleep 0.3
done <e2e/demo/claude-stream.jsonl
sleep 2 # let the operator read the last line before the container exits
echo
echo "\$ kubectl logs $pod --tail=1"
kubectl logs -n default "$pod" --tail=1 | cut -c1-160

show
kubectl annotate --overwrite -n default "pod/$pod" e2e.mason.dev/exit-code=0 >/dev/null
wait_phase Succeeded
show
echo
echo "\$ kubectl describe agenttask fix-flaky-test | tail -n 8"
kubectl describe agenttask fix-flaky-test -n default | tail -n 8
echo
echo "demo: done. The control plane keeps running; stop it with 'make cluster-down'."
