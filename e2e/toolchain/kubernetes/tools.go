//go:build tools

// Package toolchain pins the Kubernetes control-plane programs that the
// end-to-end suites run. It is never compiled; it only records the imports
// so that go.mod and go.sum list every module the programs need.
package toolchain

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
