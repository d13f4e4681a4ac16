#!/usr/bin/env bash
# Installs what mason needs to build and test: the C libraries and tools from
# Debian's packages, and the Python packages the end-to-end suites use. Runs
# apt-get and pip only for what is missing, so a second run is quick.
#
# usage: deps.sh           install what is missing
#        deps.sh --check   exit 1 and list what is missing, install nothing
set -euo pipefail

debs=(build-essential pkg-config libcurl4-openssl-dev libjansson-dev libyaml-dev
      libcyaml-dev libssl-dev libmicrohttpd-dev libsqlite3-dev libcmocka-dev
      clang libclang-rt-14-dev clang-format valgrind openssl curl)
pips=("moto[server]==5.2.1" "pytest" "PyYAML" "requests" "cryptography")

missing_debs()
{
    local p
    for p in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            echo "$p"
    done
}

missing_pips()
{
    python3 - "$@" <<'PY'
import importlib.util, sys
mods = {"moto[server]": "moto", "pytest": "pytest", "PyYAML": "yaml",
        "requests": "requests", "cryptography": "cryptography"}
for spec in sys.argv[1:]:
    name = spec.split("==")[0]
    if importlib.util.find_spec(mods.get(name, name)) is None:
        print(spec)
PY
}

mapfile -t need_debs < <(missing_debs)
mapfile -t need_pips < <(missing_pips "${pips[@]}")

if [ "${1:-}" = "--check" ]; then
    [ ${#need_debs[@]} -eq 0 ] && [ ${#need_pips[@]} -eq 0 ] && exit 0
    echo "missing: ${need_debs[*]} ${need_pips[*]}" >&2
    exit 1
fi

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
if [ ${#need_debs[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${need_debs[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${need_debs[@]}" >/dev/null
fi
if [ ${#need_pips[@]} -gt 0 ]; then
    echo "deps: installing Python packages: ${need_pips[*]}" >&2
    python3 -m pip install -q "${need_pips[@]}"
fi
echo "deps: all present" >&2
