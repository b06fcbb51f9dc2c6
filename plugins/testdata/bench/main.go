// Command bench is a test plugin with a trivial step, noop, that returns its
// config as its output: a call of it measures the plugin round trip alone.
package main

import (
	"context"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
)

// noop returns its rendered config unchanged.
type noop struct{}

func (*noop) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "noop", Summary: "Returns its config.",
		New: func() sdk.Component { return &noop{} }}
}

func (*noop) Run(_ context.Context, in sdk.Input) (sdk.Output, error) {
	return sdk.Output{Data: in.Config}, nil
}

func main() {
	plugin.Serve(&noop{})
}
