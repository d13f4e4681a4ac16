#!/usr/bin/env bash
# Builds bench/follower-bench.c and measures one log follower that follows
# many pod logs at once through a local pod-log server on 127.0.0.1. It runs
# three times: with the server in a separate process over plain HTTP, then
# over HTTPS with a self-signed certificate made here, then with the server
# in the follower's own process.
#
# usage: bench/follower-bench.sh [follower-bench options]
#   (default 1,000 streams, 60 s, one line per 100 ms per stream)
# Results: build/bench/follower-{http,https,inprocess}.json
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
B=build/default
make -s -j2 "$B/libmason-operator.a" "$B/libmason-common.a"
mkdir -p "$B/bench" build/bench
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Icommon -Ioperator $(pkg-config --cflags $PKGS) \
    -o "$B/bench/follower-bench" bench/follower-bench.c "$B/libmason-operator.a" \
    "$B/libmason-common.a" $(pkg-config --libs $PKGS) -lpthread -lm

tls=$(mktemp -d)
trap 'rm -rf "$tls"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null

fixture=tests/fixtures/streams/claude-success.jsonl
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $(uname -sr); libcurl $(pkg-config --modversion libcurl), libmicrohttpd $(pkg-config --modversion libmicrohttpd)"
rc=0
for run in http https inprocess; do
    args=()
    case $run in
    https) args=(--tls "$tls") ;;
    inprocess) args=(--in-process) ;;
    esac
    echo "== $run, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$B/bench/follower-bench" "${args[@]}" --json "build/bench/follower-$run.json" "$@" \
        "$fixture" || rc=1
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
exit $rc
