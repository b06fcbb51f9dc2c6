package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/pb"
)

// ErrTransport wraps failures of the connection to a plugin (it died, it
// did not answer in time), as opposed to errors its components returned.
// When the call's deadline passed or it was cancelled, the chain also holds
// context.DeadlineExceeded or context.Canceled.
var ErrTransport = errors.New("plugin transport")

// Client calls the components of one plugin over the protocol. The host
// uses it, and so does package plugintest.
type Client struct {
	rpc pb.PluginClient
}

// NewClient returns a client over a gRPC connection to a plugin.
func NewClient(rpc pb.PluginClient) *Client { return &Client{rpc: rpc} }

// Description is what a plugin says it provides.
type Description struct {
	// SDKVersion is the version of weft's module the plugin was built with.
	SDKVersion string
	// Module and Version are the plugin's own Go module and its version
	// ("(devel)" for a local build).
	Module, Version string
	Components      []ComponentInfo
}

// ComponentInfo is one component of a plugin, as sdk.Info without New.
type ComponentInfo struct {
	Kind         sdk.Kind
	Name         string
	Version      string
	Summary      string
	ConfigSchema json.RawMessage
	// ChecksConfig says the component implements sdk.ConfigChecker.
	ChecksConfig bool
}

// Describe asks the plugin what it provides.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	resp, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, transportError(ctx, "describe", err)
	}
	d := Description{SDKVersion: resp.SdkVersion, Module: resp.Module, Version: resp.Version}
	for _, pc := range resp.Components {
		d.Components = append(d.Components, ComponentInfo{Kind: sdk.Kind(pc.Kind), Name: pc.Name, Version: pc.Version,
			Summary: pc.Summary, ConfigSchema: pc.ConfigSchema, ChecksConfig: pc.ChecksConfig})
	}
	return d, nil
}

// CheckConfig has the component check a config; the error is the
// component's verdict (often a *sdk.ValidationError), or wraps ErrTransport.
func (c *Client) CheckConfig(ctx context.Context, kind sdk.Kind, name string, config any) error {
	raw, err := json.Marshal(config)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidConfig, "encode config: %v", err)
	}
	resp, err := c.rpc.CheckConfig(ctx, &pb.CheckConfigRequest{Kind: string(kind), Name: name, ConfigJson: raw})
	if err != nil {
		return transportError(ctx, "check config", err)
	}
	return errorFromWire(resp.Error)
}

// Call runs a component once: a step with its rendered config as input and
// run set, a transform or validator with the value as input and its static
// config (nil: none). A component's failure is an *sdk.Error or a
// *sdk.ValidationError; a failure of the connection wraps ErrTransport.
func (c *Client) Call(ctx context.Context, kind sdk.Kind, name string, input any, config json.RawMessage, run *sdk.RunInfo) (any, error) {
	in, err := json.Marshal(input)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "%s %q: encode input: %v", kind, name, err)
	}
	req := &pb.CallRequest{Kind: string(kind), Name: name, InputJson: in, ConfigJson: config}
	if run != nil {
		req.Run = runToWire(*run)
	}
	resp, err := c.rpc.Call(ctx, req)
	if err != nil {
		return nil, transportError(ctx, fmt.Sprintf("%s %q", kind, name), err)
	}
	if resp.Error != nil {
		return nil, errorFromWire(resp.Error)
	}
	if len(resp.OutputJson) == 0 {
		return nil, nil
	}
	var out any
	if err := json.Unmarshal(resp.OutputJson, &out); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "%s %q: malformed output: %v", kind, name, err)
	}
	return out, nil
}

// Health returns how many calls the plugin is still running although the
// host cancelled them.
func (c *Client) Health(ctx context.Context) (abandoned int, err error) {
	resp, err := c.rpc.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return 0, transportError(ctx, "health", err)
	}
	return int(resp.AbandonedCalls), nil
}

// transportError wraps a failed RPC in ErrTransport and, when ctx ended,
// in ctx's error too, so that callers can match context.DeadlineExceeded
// and context.Canceled as with any in-process call.
func transportError(ctx context.Context, what string, err error) error {
	ctxErr := ctx.Err()
	if dl, ok := ctx.Deadline(); ctxErr == nil && (status.Code(err) == codes.DeadlineExceeded || ok && !time.Now().Before(dl)) {
		// gRPC enforces the deadline itself (on both sides) and may see it
		// pass before ctx's own timer fires: a timeout, not a broken
		// connection.
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr != nil {
		return fmt.Errorf("%w: %s: %w (%w)", ErrTransport, what, ctxErr, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrTransport, what, err)
}
