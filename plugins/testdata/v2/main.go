// Command v2 is a test plugin that speaks another protocol version.
package main

import (
	"context"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
)

func main() {
	plugin.Handshake.ProtocolVersion = plugin.ProtocolVersion + 1
	plugin.Serve(sdk.NewTransform("same", func(_ context.Context, in any) (any, error) { return in, nil }))
}
