//go:build tools

// Package toolchain pins the etcd server that backs the local API server.
package toolchain

import _ "go.etcd.io/etcd/server/v3"
