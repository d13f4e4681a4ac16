#!/usr/bin/env bash
# Admission latency of mason-webhook over TLS on loopback. The script builds
# the client (bench/webhook_bench.c), generates a throwaway CA and serving
# certificate, and starts build/default/bin/mason-webhook on 127.0.0.1 with a
# free port. The client sends a pod with 3 containers and 8 volumes: the hardened pod
# (bench/webhook-review-hardened.json) to the enforcing validation endpoint
# back to back at concurrency 1, 16 and 64 and paced at 1,000 requests per
# second, and the unhardened pod (bench/webhook-review-bare.json, which also
# mounts one claim twice) to the mutation endpoint at concurrency 1. Prints
# one JSON line per run and the webhook's peak RSS.
#
# usage: bench/webhook-bench.sh    (run `make all` first)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
work=$(mktemp -d)
pid=
cleanup()
{
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -o build/bench/webhook_bench bench/webhook_bench.c \
    $(pkg-config --cflags --libs libcurl) -lpthread

(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 \
        -subj /CN=bench-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt \
        -days 1 -extfile ext.cnf 2>/dev/null
)

"$top/build/default/bin/mason-webhook" --listen 127.0.0.1:0 --tls-cert "$work/tls.crt" \
    --tls-key "$work/tls.key" --log-level info 2>"$work/webhook.log" &
pid=$!
port=
for _ in $(seq 50); do
    port=$(grep -o '"port":[0-9]*' "$work/webhook.log" | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "mason-webhook did not start: $(cat "$work/webhook.log")" >&2; exit 1; }

client=build/bench/webhook_bench
hardened=bench/webhook-review-hardened.json
bare=bench/webhook-review-bare.json
base=https://127.0.0.1:$port
# run PATH BODY CONCURRENCY REQUESTS_PER_THREAD [RATE]
run()
{
    local path=$1 file=$2
    shift 2
    printf '{"endpoint": "%s", "body": "%s", "result": ' "$path" "$(basename "$file")"
    "$client" "$base$path" "$file" "$work/ca.crt" "$@" | tr -d '\n'
    printf '}\n'
}
run /validate/pods/enforce "$hardened" 1 200 >/dev/null # warm-up
run /validate/pods/enforce "$hardened" 1 5000
run /mutate/pods "$bare" 1 5000
run /validate/pods/enforce "$hardened" 16 1000
run /validate/pods/enforce "$hardened" 64 300
run /validate/pods/enforce "$hardened" 4 1250 1000
echo "{\"webhook_peak_rss_kb\": $(awk '/VmHWM/ {print $2}' "/proc/$pid/status")}"
