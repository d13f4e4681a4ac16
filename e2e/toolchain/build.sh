#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) and the Vault server that the secret
# tests run in dev mode, from the Go module proxy at the versions pinned in the
# go.mod files beside this script. Binaries are cached outside the repository,
# keyed by version, so a second run builds nothing. Vault has a cache key of
# its own, so changing its version does not rebuild the control plane.
#
# usage: build.sh                build what is missing, print the control plane's bin directory
#        build.sh --print        print the control plane's bin directory only
#        build.sh --print-vault  print the Vault bin directory only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v4.3.2
VAULT_VERSION=v1.21.0
key="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
cache_root=${MASON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mason}
cache=$cache_root/$key
bin=$cache/bin
logs=$cache/logs
vault_bin=$cache_root/vault-$VAULT_VERSION/bin
vault_logs=$cache_root/vault-$VAULT_VERSION/logs

case "${1:-}" in
--print)
    echo "$bin"
    exit 0
    ;;
--print-vault)
    echo "$vault_bin"
    exit 0
    ;;
esac

mkdir -p "$bin" "$logs" "$vault_bin" "$vault_logs"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

# build NAME MODULE-DIR PACKAGE [LDFLAGS]: one binary, logged to its own file.
# BUILD_BIN and BUILD_LOGS choose the cache directories (default: the control plane's).
build()
{
    local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
    local out=${BUILD_BIN:-$bin} log=${BUILD_LOGS:-$logs}/$name.log
    if [ -x "$out/$name" ]; then
        return 0
    fi
    echo "building $name ($pkg); log: $log" >&2
    if ! (cd "$here/$dir" && go build -trimpath -ldflags "-s -w $ldflags" \
            -o "$out/$name.tmp" "$pkg") >"$log" 2>&1; then
        echo "error: building $name failed at step 'go build $pkg'; see $log" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    mv "$out/$name.tmp" "$out/$name"
}

minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
kv="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
kv="$kv -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
kv="$kv -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
kv="$kv -X k8s.io/component-base/version.gitTreeState=clean"

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver kubernetes k8s.io/kubernetes/cmd/kube-apiserver "$kv"
build kube-controller-manager kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$kv"
build kube-scheduler kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$kv"
build kubectl kubernetes k8s.io/kubernetes/cmd/kubectl "$kv"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
build helm helm helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
# Vault's version comes from a file embedded in its source, so it needs no -X flag.
BUILD_BIN=$vault_bin BUILD_LOGS=$vault_logs build vault vault github.com/hashicorp/vault

echo "$bin"
