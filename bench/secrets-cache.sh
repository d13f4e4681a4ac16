#!/usr/bin/env bash
# Builds and runs the secret cache benchmark (bench/secrets-cache-bench.c):
# 1,000 lookups of 10 distinct secrets, the way 1,000 AgentTasks that share
# 10 external secrets resolve them, then 1,000,000 for the lookup rate.
# Run from the repository root.
set -eu
make -s build/default/libmason-operator.a build/default/libmason-common.a
pkgs="libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
mkdir -p build/default/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -Icommon -Ioperator $(pkg-config --cflags $pkgs) \
    -o build/default/bench/secrets-cache-bench bench/secrets-cache-bench.c \
    build/default/libmason-operator.a build/default/libmason-common.a \
    $(pkg-config --libs $pkgs) -lpthread -lm
build/default/bench/secrets-cache-bench 1000 10 2
build/default/bench/secrets-cache-bench 1000000 10 2
