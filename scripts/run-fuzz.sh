#!/usr/bin/env bash
# Runs the fuzz targets in tests/fuzz/.
#   run-fuzz.sh replay PROGRAM...   replay each target's seed corpus
#                                   (tests/fuzz/corpus/<target>/) and print one
#                                   "N passed, N failed" line
#   run-fuzz.sh libfuzzer SOURCE... build each target with clang and libFuzzer
#                                   and fuzz it for FUZZ_SECONDS (default 60)
set -u
mode=$1
shift
top=$(pwd)

replay()
{
    local passed=0 failed=0 t name corpus
    for t in "$@"; do
        name=$(basename "$t")
        corpus=$top/tests/fuzz/corpus/$name
        if [ ! -d "$corpus" ]; then
            echo "FAILED: $name has no seed corpus in tests/fuzz/corpus/$name"
            failed=$((failed + 1))
            continue
        fi
        if "$t" "$corpus"; then
            echo "ok: $name ($(find "$corpus" -type f | wc -l) inputs)"
            passed=$((passed + 1))
        else
            echo "FAILED: $name"
            failed=$((failed + 1))
        fi
    done
    echo "fuzz: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

libfuzzer()
{
    # The libraries get their own build directory: the gcc sanitizer build in
    # build/address-undefined/ has no fuzzer instrumentation.
    local seconds=${FUZZ_SECONDS:-60} src name b=build/libfuzzer rc=0
    local lib=build/libfuzzer-lib/address-undefined
    make -s B="$lib" CC=clang SANITIZE=address,undefined CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
        "$lib/libmason-common.a" "$lib/libmason-operator.a" "$lib/libmason-webhook.a" || return 1
    mkdir -p "$b"
    for src in "$@"; do
        name=$(basename "$src" .c)
        clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -Icommon \
            -Ioperator -Iwebhook $(pkg-config --cflags jansson) -o "$b/$name" "$src" \
            "$lib/libmason-webhook.a" "$lib/libmason-operator.a" "$lib/libmason-common.a" \
            $(pkg-config --libs libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3) \
            -lpthread -lm || return 1
        mkdir -p "tests/fuzz/corpus-run/$name"
        echo "fuzzing $name for ${seconds}s"
        "$b/$name" -max_total_time="$seconds" -max_len=1048576 "tests/fuzz/corpus-run/$name" \
            "tests/fuzz/corpus/$name" || rc=1
    done
    return $rc
}

case "$mode" in
replay) replay "$@" ;;
libfuzzer) libfuzzer "$@" ;;
*) echo "usage: run-fuzz.sh replay|libfuzzer ..." >&2; exit 2 ;;
esac
