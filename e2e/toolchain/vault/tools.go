//go:build tools

// Package toolchain pins the Vault server that the end-to-end tests run in
// dev mode to exercise the operator's Vault secret backend.
package toolchain

import _ "github.com/hashicorp/vault"
