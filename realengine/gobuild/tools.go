//go:build tools

// Package tools pins the Pulumi CLI's main package as a dependency of this module, so that
// `go mod tidy` keeps pkg/v3 (and everything the CLI needs) in go.mod and go.sum, and
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` from this folder builds exactly
// the versions pinned here.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
