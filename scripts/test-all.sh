#!/usr/bin/env bash
# Runs everything CI runs, in order: unit tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, the same tests under valgrind, the fuzz seed
# corpora, then the end-to-end suites against the local control plane (built
# first when the cache lacks it). Ends with one "N passed, N failed" line that
# sums every stage; a stage that cannot run counts as one failure.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
jobs=$(nproc 2>/dev/null || echo 2)

# count STAGE LOG: adds the stage's "N passed, N failed" (or pytest's summary) to the totals.
count()
{
    local stage=$1 log=$2 line p f e
    line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
    p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
    e=$(printf '%s' "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || echo 0)
    p=${p:-0} f=${f:-0} e=${e:-0}
    if [ -z "$line" ]; then
        echo "$stage: no result line; see the output above" >&2
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f + e))
}

# stage NAME COMMAND...: runs one stage, shows its output, counts its result.
stage()
{
    local name=$1 log rc
    shift
    log=$(mktemp)
    echo "== $name: $*"
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    count "$name" "$log"
    if [ "$rc" -ne 0 ] && ! grep -qE '[1-9][0-9]* (failed|errors?)' "$log"; then
        echo "$name: exited with status $rc" >&2
        failed=$((failed + 1))
    fi
    rm -f "$log"
}

if ! scripts/deps.sh --check 2>/dev/null; then
    scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi

stage "unit (ASan+UBSan)" make -s -j"$jobs" SANITIZE=address,undefined DEVELOPER=1 unit
stage "unit (valgrind)" make -s -j"$jobs" DEVELOPER=1 valgrind
stage "fuzz corpora" make -s -j"$jobs" SANITIZE=address,undefined fuzz-replay
stage "end to end" scripts/run-e2e.sh

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
