#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from the Go module proxy at the versions
# pinned in the go.mod files beside this script. Binaries are cached outside
# the repository, keyed by version, so a second run builds nothing.
#
# usage: build.sh            build what is missing, print the bin directory
#        build.sh --print    print the bin directory only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v4.3.2
key="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
cache=${MASON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mason}/$key
bin=$cache/bin
logs=$cache/logs

if [ "${1:-}" = "--print" ]; then
    echo "$bin"
    exit 0
fi

mkdir -p "$bin" "$logs"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

# build NAME MODULE-DIR PACKAGE [LDFLAGS]: one binary, logged to its own file.
build()
{
    local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
    local log=$logs/$name.log
    if [ -x "$bin/$name" ]; then
        return 0
    fi
    echo "building $name ($pkg); log: $log" >&2
    if ! (cd "$here/$dir" && go build -trimpath -ldflags "-s -w $ldflags" \
            -o "$bin/$name.tmp" "$pkg") >"$log" 2>&1; then
        echo "error: building $name failed at step 'go build $pkg'; see $log" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    mv "$bin/$name.tmp" "$bin/$name"
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

echo "$bin"
