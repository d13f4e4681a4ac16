//go:build tools

// Package toolchain pins kwok, which plays the node that runs agent pods.
package toolchain

import _ "sigs.k8s.io/kwok/cmd/kwok"
