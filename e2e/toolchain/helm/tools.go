//go:build tools

// Package toolchain pins the helm client used to check the chart.
package toolchain

import _ "helm.sh/helm/v4/cmd/helm"
