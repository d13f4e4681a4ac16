#!/usr/bin/env bash
# Builds and runs bench/score-bench.c: normalised events per second per core
# through the engine adapters and trajectory scoring on the captured streams
# in ../shared/transcripts, beside the parse rates of the same lines with
# jansson and with the adapters' JSON reader (operator/jscan.c).
#
# usage: bench/score-bench.sh [--megabytes N]   (default 300 MB per pass)
# Result: build/bench/score.json
set -euo pipefail
cd "$(dirname "$0")/.."

transcripts=../shared/transcripts
if [ ! -d "$transcripts" ]; then
    echo "error: $transcripts is absent; the benchmark replays the captured streams there" >&2
    exit 2
fi
PKGS="libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
B=build/default
make -s -j2 "$B/libmason-operator.a" "$B/libmason-common.a"
mkdir -p "$B/bench" build/bench
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Icommon -Ioperator $(pkg-config --cflags $PKGS) \
    -o "$B/bench/score-bench" bench/score-bench.c "$B/libmason-operator.a" "$B/libmason-common.a" \
    $(pkg-config --libs $PKGS) -lpthread -lm
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(cc --version | head -n 1); jansson $(pkg-config --modversion jansson)"
"$B/bench/score-bench" --json build/bench/score.json "$@" "$transcripts"
