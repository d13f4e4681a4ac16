#!/usr/bin/env bash
# Runs the end-to-end suites (e2e/test_*.py) with pytest against the local
# control plane. It builds the programs and the control-plane binaries and
# brings the control plane up first, so the time a first build takes is not
# charged to a test, and exports KUBECONFIG, KUBECTL and HELM for the suites.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc 2>/dev/null || echo 2)" all
bin=$(e2e/toolchain/build.sh)
KUBECONFIG=$(e2e/cluster.sh up | tail -n 1)
export KUBECONFIG KUBECTL=$bin/kubectl HELM=$bin/helm
exec python3 -m pytest -p no:cacheprovider -q -rs "${@:-e2e}"
