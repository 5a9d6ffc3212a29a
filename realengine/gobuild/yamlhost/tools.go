//go:build tools

// Package tools pins pulumi-yaml's language host as a dependency of this module, so that
// `go mod tidy` keeps it (and everything it needs) in go.mod and go.sum, and
// `go build github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml` from this folder
// builds exactly the versions pinned here.
//
// This is a module of its own, not part of ../go.mod: pulumi-yaml v1.25.0 (the newest the
// Go module proxy lists) is written against pkg/v3 and sdk/v3 v3.206.0 and does not
// compile against v3.276.0, which the CLI needs (plugin.NewContextWithRoot and
// schema.NewPluginLoader changed). Here minimal version selection gives it the v3.206.0 it
// was released with; the host talks to the v3.276.0 engine over the language host gRPC
// protocol, as any separately installed language plugin does.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
