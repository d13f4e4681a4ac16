#!/usr/bin/env bash
# Runs cmocka unit-test programs and prints one "N passed, N failed" line.
# usage: run-unit.sh [--valgrind] PROGRAM...
set -u
valgrind=
if [ "${1:-}" = "--valgrind" ]; then
    valgrind="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
    shift
fi
passed=0
failed=0
for t in "$@"; do
    out=$(MASON_TEST_TOP=$(pwd) $valgrind "$t" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # a crash, a sanitizer report or a valgrind error
    fi
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out"
        echo "FAILED: $t (exit $rc)"
    else
        echo "ok: $t ($p tests)"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
