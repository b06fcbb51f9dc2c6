// Package plugintest tests a plugin's components without weft: it serves
// them over the real plugin protocol (gRPC, in-process) and calls them as
// the host would, so what a test sees is what the engine will see, errors
// and JSON round trips included.
//
//	func TestHello(t *testing.T) {
//		p := plugintest.New(t, hello)
//		out, err := p.Run(t.Context(), "hello", map[string]any{"name": "Ada"})
//		require.NoError(t, err)
//		require.Equal(t, "hello, Ada", out)
//	}
package plugintest

import (
	"context"
	"encoding/json"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
	"github.com/weftworks/weft/sdk/plugin/pb"
)

// Plugin is components served over the plugin protocol for a test.
type Plugin struct {
	client *plugin.Client
}

// New serves components in-process for the duration of the test. It fails
// the test when plugin.Serve would refuse them.
func New(t testing.TB, cs ...sdk.Component) *Plugin {
	t.Helper()
	srv, err := plugin.NewServer(cs...)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{plugin.Name: &plugin.GRPC{Impl: srv}})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(plugin.Name)
	if err != nil {
		t.Fatal(err)
	}
	return &Plugin{client: plugin.NewClient(raw.(pb.PluginClient))}
}

// Describe returns what the plugin tells the host it provides.
func (p *Plugin) Describe(ctx context.Context) (plugin.Description, error) {
	return p.client.Describe(ctx)
}

// CheckConfig checks a step's config, or a transform's or validator's
// static config, as the host does when a workflow is validated.
func (p *Plugin) CheckConfig(ctx context.Context, kind sdk.Kind, name string, config any) error {
	return p.client.CheckConfig(ctx, kind, name, config)
}

// Run runs the step name once with a rendered config.
func (p *Plugin) Run(ctx context.Context, name string, config any) (any, error) {
	return p.client.Call(ctx, sdk.KindStep, name, config, nil, &sdk.RunInfo{
		WorkflowID: "test-workflow", ExecutionID: "test-execution", StepID: "test-step", Attempt: 1,
		IdempotencyKey: "test-execution/test-step"})
}

// Transform runs the transform name on in, with a static config (nil: none).
func (p *Plugin) Transform(ctx context.Context, name string, in, config any) (any, error) {
	return p.client.Call(ctx, sdk.KindTransform, name, in, staticConfig(config), nil)
}

// Validate runs the validator name on in, with a static config (nil: none).
func (p *Plugin) Validate(ctx context.Context, name string, in, config any) error {
	_, err := p.client.Call(ctx, sdk.KindValidator, name, in, staticConfig(config), nil)
	return err
}

func staticConfig(config any) json.RawMessage {
	if config == nil {
		return nil
	}
	b, _ := json.Marshal(config)
	return b
}
