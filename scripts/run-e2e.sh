#!/usr/bin/env bash
# Runs the end-to-end suites (e2e/test_*.py) with pytest. The suites start
# the local control plane themselves through e2e/conftest.py; this script
# builds the programs and the control-plane binaries first, so the time a
# first build takes is not charged to a test.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc 2>/dev/null || echo 2)" all
e2e/toolchain/build.sh >/dev/null
exec python3 -m pytest -p no:cacheprovider -q -rs "${@:-e2e}"
