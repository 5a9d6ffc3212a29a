//go:build tools

// Package tools pins pulumi-yaml's language host as a dependency of this module, so that
// `go mod tidy` keeps it (and everything it needs) in go.mod and go.sum, and
// `go build github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml` from this folder
// builds exactly the versions pinned here.
//
// Why v1.30.0: the proxy's version list shows only v1.11.1 and v1.25.0, but asked by
// name it serves v1.28.0 and v1.30.0 (v1.26.0 and v1.27.0 were refused; nothing newer
// was asked). v1.30.0 implements the Link RPC that `pulumi package add` calls in a YAML
// project; v1.25.0 does not ("linking package: method Link not implemented").
//
// This is a module of its own, not part of ../go.mod: pulumi-yaml is written against the
// pkg/v3 and sdk/v3 of its release (v3.224.0 for v1.30.0) and does not compile against
// v3.276.0, which the CLI needs (both v1.25.0 and v1.30.0 fail there: the arguments of
// plugin.NewContextWithRoot and schema.NewPluginLoader changed). Here minimal version
// selection gives it the v3.224.0 it was released with; the host talks to the v3.276.0
// engine over the language host gRPC protocol, as any separately installed language
// plugin does.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
