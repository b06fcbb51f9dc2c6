package plugin

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/weftworks/weft/sdk/plugin/pb"
)

// ProtocolVersion is the version of the wire protocol (package
// weft.plugin.v1 of pb/plugin.proto). The host refuses a plugin built
// against another version, with a message naming both.
const ProtocolVersion = 1

// MaxMessageSize bounds one message of the protocol, both ways (a step's
// rendered config, a value to transform, an output): 64 MiB. Larger calls
// fail with INVALID_INPUT; the plugin is not restarted for them.
const MaxMessageSize = 64 << 20

// Name is the name under which a weft plugin binary serves its one
// go-plugin plugin.
const Name = "weft"

// Handshake is the go-plugin handshake shared by host and plugins. The magic
// cookie is not a secret: it stops a plugin binary started by hand from
// waiting for a host that will never come, with a message saying so.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "WEFT_PLUGIN",
	MagicCookieValue: "5d8c0b3e-weft-plugin-v1",
}

// GRPC is the go-plugin shim of the protocol: the plugin side serves Impl,
// the host side gets a pb.PluginClient. Host and plugins share it, as
// go-plugin's examples share their "shared" package.
type GRPC struct {
	goplugin.NetRPCUnsupportedPlugin
	// Impl is what a plugin serves; unused on the host.
	Impl pb.PluginServer
}

var _ goplugin.GRPCPlugin = (*GRPC)(nil)

// GRPCServer implements goplugin.GRPCPlugin.
func (p *GRPC) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient implements goplugin.GRPCPlugin.
func (p *GRPC) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewPluginClient(c), nil
}
