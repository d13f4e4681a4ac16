#!/usr/bin/env bash
# Runs the benchmarks and prints their results: the operator benchmarks on
# the local control plane, and the webhook, stream-parsing, scoring, log
# follower and secret cache benchmarks, which need no cluster. It builds mason-operator and the control-plane binaries first
# (the first toolchain build takes tens of minutes) and brings the control
# plane up. The benchmarks work in namespaces of their own and delete them.
#
# usage: bench/run.sh [throughput] [memory] [latency] [webhook] [stream] [score] [follower] [secrets]
#        (default: all)
# Results: build/bench/operator_<name>.json; operator logs: build/bench/*-operator.log
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
    set -- throughput memory latency webhook stream score follower secrets
fi
operator_names=()
for name in "$@"; do
    case $name in
    throughput | memory | latency) operator_names+=("$name") ;;
    webhook | stream | score | follower | secrets) ;;
    *)
        echo "error: unknown benchmark '$name'; use throughput, memory, latency, webhook, stream, score, follower or secrets" >&2
        exit 2
        ;;
    esac
done

# Benchmarks without a cluster: each script prints its own results.
declare -A scripts=([webhook]=webhook-bench.sh [stream]=stream-parse.sh [score]=score-bench.sh
    [follower]=follower-bench.sh [secrets]=secrets-cache.sh)
mkdir -p build/bench
for name in "$@"; do
    script=${scripts[$name]:-}
    [ -n "$script" ] || continue
    echo "== $name: bench/$script (output: build/bench/$name.out)" >&2
    if ! "bench/$script" >"build/bench/$name.out" 2>&1; then
        echo "error: bench/$script failed; see build/bench/$name.out" >&2
        tail -n 5 "build/bench/$name.out" >&2
    fi
    tail -n 15 "build/bench/$name.out"
done
[ ${#operator_names[@]} -gt 0 ] || exit 0
set -- "${operator_names[@]}"

make -s -j2 all
e2e/toolchain/build.sh >/dev/null
KUBECONFIG=$(e2e/cluster.sh up | tail -n 1)
export KUBECONFIG
out=build/bench
mkdir -p "$out"

failed=()
for name in "$@"; do
    echo "== operator_$name (output: $out/operator_$name.out)" >&2
    rm -f "$out/operator_$name.json"
    if ! python3 "bench/operator_$name.py" --json "$out/operator_$name.json" \
        >"$out/operator_$name.out" 2>&1; then
        echo "error: operator_$name failed; see $out/operator_$name.out" >&2
        tail -n 5 "$out/operator_$name.out" >&2
        failed+=("$name")
    fi
done

python3 - "$out" "$@" <<'SUMMARY'
import json, pathlib, sys

out = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    path = out / f"operator_{name}.json"
    if not path.exists():
        print(f"{name}: failed, no result")
        continue
    r = json.loads(path.read_text())
    met = "met" if r.get("target_met") else "NOT met"
    if name == "throughput":
        b, o = r["baseline"], r["operator"]
        print(f"throughput: baseline {r['count']} Jobs in {b['seconds']} s; operator "
              f"{r['count']} AgentTasks in {o.get('seconds')} s; ratio {r.get('ratio')} "
              f"(target {r.get('target', 'ratio >= 0.8')}: {met})")
    elif name == "memory":
        print(f"memory: VmRSS {r['full']['vm_rss_mib']} MiB (VmHWM {r['full']['vm_hwm_mib']} "
              f"MiB) with {r['count']} AgentTasks, {r['empty']['vm_rss_mib']} MiB empty "
              f"(target {r['target']}: {met})")
    else:
        l = r.get("latency_ms", {})
        print(f"latency: p50 {l.get('p50')} ms, p90 {l.get('p90')} ms, p99 {l.get('p99')} ms, "
              f"max {l.get('max')} ms over {r['count']} tasks "
              f"(target {r.get('target', 'p99 <= 100 ms')}: {met})")
print(f"details: {out}/operator_*.json")
SUMMARY
[ ${#failed[@]} -eq 0 ] || exit 1
