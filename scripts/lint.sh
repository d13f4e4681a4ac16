#!/usr/bin/env bash
# Static checks beyond the warnings of `make DEVELOPER=1`: formatting, headers
# that compile on their own, shell syntax (shellcheck too when installed) and
# Python syntax. Prints one line per failed check and "lint: N passed, N failed".
# usage: scripts/lint.sh   (from `make lint`, which builds with -Werror first)
set -u
cd "$(dirname "$0")/.."

PKGS="libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3"
passed=0
failed=0

check() {
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        passed=$((passed + 1))
    else
        printf '%s\n' "$out"
        echo "FAILED: $name"
        failed=$((failed + 1))
    fi
}

# A header must include what it uses, so that any include order works.
header_alone() {
    # shellcheck disable=SC2046
    printf '#include "%s"\n' "$1" |
        cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon -Ioperator -Iwebhook \
            $(pkg-config --cflags $PKGS) -fsyntax-only -x c -
}

check "clang-format" make -s fmt-check
for h in common/*.h operator/*.h webhook/*.h; do
    check "$h compiles alone" header_alone "$h"
done

shell_files=$(git ls-files '*.sh' .ci/run)
for f in $shell_files; do
    check "$f syntax" bash -n "$f"
done
if command -v shellcheck >/dev/null; then
    # shellcheck disable=SC2086
    check "shellcheck" shellcheck -S warning $shell_files
else
    echo "lint: shellcheck is not installed, so shell scripts get a syntax check only"
fi

pycache=$(mktemp -d)
trap 'rm -rf "$pycache"' EXIT
for f in $(git ls-files '*.py'); do
    check "$f syntax" env PYTHONPYCACHEPREFIX="$pycache" python3 -m py_compile "$f"
done

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
