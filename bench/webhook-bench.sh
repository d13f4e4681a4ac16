#!/usr/bin/env bash
# Admission latency and throughput of mason-webhook against a controller-runtime
# baseline, over TLS on loopback, in one run.
#
# The script builds the client (bench/webhook_bench.c) and the baseline
# (bench/baseline/, a Go module built from the Go module proxy), generates a
# throwaway CA and serving certificate, and starts build/default/bin/mason-webhook
# and the baseline on 127.0.0.1 with free ports. bench/webhook_compare.py then
# checks that both servers make the same decisions and patches. The request is a
# pod with 3 containers and 8 volumes. For each server in turn, the client sends
# the hardened pod (bench/webhook-review-hardened.json) to the validation
# endpoint back to back at concurrency 1, 16 and 64 and paced at 1,000 requests
# per second. It also sends the unhardened pod (bench/webhook-review-bare.json,
# which also mounts one claim twice) to the mutation endpoint at concurrency 1.
# The script prints one JSON line per run, mason's own latency histogram over
# the paced run (bench/webhook_histogram.py), the peak and current RSS of each
# server, the load average before and after, and the throughput ratios. The same
# lines go to build/bench/webhook.jsonl.
#
# usage: bench/webhook-bench.sh    (run `make all` first; needs go, cc, libcurl, openssl)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
work=$(mktemp -d)
pids=()
cleanup()
{
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -o build/bench/webhook_bench bench/webhook_bench.c \
    $(pkg-config --cflags --libs libcurl) -lpthread
(cd bench/baseline && go build -trimpath -o "$top/build/bench/webhook-baseline" .)

(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 \
        -subj /CN=bench-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
        -days 1 -extfile ext.cnf 2>/dev/null
)

# wait_for_log FILE PATTERN NAME: waits up to 10 s for PATTERN in FILE.
wait_for_log()
{
    for _ in $(seq 100); do
        grep -q "$2" "$1" && return 0
        sleep 0.1
    done
    echo "$3 did not start: $(cat "$1")" >&2
    exit 1
}

"$top/build/default/bin/mason-webhook" --listen 127.0.0.1:0 --tls-cert "$work/tls.crt" \
    --tls-key "$work/tls.key" --log-level info 2>"$work/webhook.log" &
mason_pid=$!
pids+=("$mason_pid")
wait_for_log "$work/webhook.log" '"port":' mason-webhook
mason_port=$(grep -o '"port":[0-9]*' "$work/webhook.log" | head -1 | cut -d: -f2)

# The controller-runtime webhook server cannot listen on port 0, so pick a free port here.
baseline_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build/bench/webhook-baseline --listen "127.0.0.1:$baseline_port" --cert-dir "$work" \
    2>"$work/baseline.log" &
baseline_pid=$!
pids+=("$baseline_pid")
wait_for_log "$work/baseline.log" 'Serving webhook server' baseline

client=build/bench/webhook_bench
hardened=bench/webhook-review-hardened.json
bare=bench/webhook-review-bare.json
results=build/bench/webhook.jsonl
: >"$results"
emit()
{
    echo "$1" | tee -a "$results"
}
loadavg()
{
    cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g'
}

emit "{\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"nproc\": $(nproc), \"loadavg_before\": [$(loadavg)]}"
# Measuring makes sense only when both servers do the same work.
compared=$(python3 bench/webhook_compare.py "$work/ca.crt" "https://127.0.0.1:$mason_port" \
    "https://127.0.0.1:$baseline_port") || { echo "$compared" >&2; exit 1; }
emit "$compared"

# run SERVER BASE VALIDATE_PATH: the five measured runs against one server.
run_server()
{
    local server=$1 base=$2 validate=$3
    # one PATH BODY CONCURRENCY REQUESTS_PER_THREAD [RATE]
    one()
    {
        local path=$1 file=$2
        shift 2
        emit "{\"server\": \"$server\", \"endpoint\": \"$path\", \"body\": \"$(basename "$file")\", \"result\": $("$client" "$base$path" "$file" "$work/ca.crt" "$@" | tr -d '\n')}"
    }
    "$client" "$base$validate" "$hardened" "$work/ca.crt" 1 200 >/dev/null # warm-up
    one "$validate" "$hardened" 1 5000
    one /mutate/pods "$bare" 1 5000
    one "$validate" "$hardened" 16 1000
    one "$validate" "$hardened" 64 300
    if [ "$server" = mason ]; then
        curl -sf --cacert "$work/ca.crt" "$base/metrics" >"$work/metrics-before"
    fi
    one "$validate" "$hardened" 4 1250 1000
    if [ "$server" = mason ]; then
        curl -sf --cacert "$work/ca.crt" "$base/metrics" >"$work/metrics-after"
        emit "$(python3 bench/webhook_histogram.py "$work/metrics-before" "$work/metrics-after")"
    fi
}
run_server mason "https://127.0.0.1:$mason_port" /validate/pods/enforce
run_server baseline "https://127.0.0.1:$baseline_port" /validate/pods

for entry in "mason $mason_pid" "baseline $baseline_pid"; do
    set -- $entry
    emit "{\"server\": \"$1\", \"peak_rss_kb\": $(awk '/VmHWM/ {print $2}' "/proc/$2/status"), \"rss_kb\": $(awk '/VmRSS/ {print $2}' "/proc/$2/status")}"
done
emit "{\"loadavg_after\": [$(loadavg)]}"
emit "$(python3 - "$results" <<'EOF'
import json
import sys

rates = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    # The paced run (concurrency 4) is limited by its rate, so it is left out.
    if "result" in row and "/validate/" in row["endpoint"] and row["result"]["concurrency"] != 4:
        result = row["result"]
        rates.setdefault(f"c{result['concurrency']}", {})[row["server"]] = result["throughput_rps"]
ratios = {key: round(r["mason"] / r["baseline"], 2) for key, r in rates.items()
          if r.get("baseline")}
print(json.dumps({"validate_throughput_ratio_mason_to_baseline": ratios}))
EOF
)"
