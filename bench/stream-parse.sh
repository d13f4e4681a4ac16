#!/usr/bin/env bash
# Builds and runs the stream parsing benchmark (bench/stream-parse.c) on the
# captured streams in ../shared/transcripts when that folder exists, and on
# generated streams otherwise. Run from the repository root.
set -eu
make -s build/default/libmason-operator.a build/default/libmason-webhook.a \
    build/default/libmason-common.a
pkgs="libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
mkdir -p build/default/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Icommon -Ioperator $(pkg-config --cflags $pkgs) \
    -o build/default/bench/stream-parse bench/stream-parse.c build/default/libmason-operator.a \
    build/default/libmason-webhook.a build/default/libmason-common.a $(pkg-config --libs $pkgs) \
    -lpthread -lm
files=()
if [ -d ../shared/transcripts ]; then
    files=(../shared/transcripts/claude-*.jsonl ../shared/transcripts/codex-*.jsonl)
fi
build/default/bench/stream-parse "${files[@]}"
