// Package plugintest tests a plugin's components without weft: it serves
// them over the real plugin protocol (gRPC over an in-memory connection,
// without go-plugin's process handling) and calls them as the host does, so
// what a test sees is what the engine will see, errors and JSON round trips
// included.
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
	"fmt"
	"net"
	"os/exec"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

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
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	pb.RegisterPluginServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///plugintest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
	})
	return &Plugin{client: plugin.NewClient(pb.NewPluginClient(conn))}
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

// Run runs the step name once with a rendered config, as attempt 1 of step
// test-step of execution test-execution.
func (p *Plugin) Run(ctx context.Context, name string, config any) (any, error) {
	return p.RunWith(ctx, name, config, sdk.RunInfo{
		WorkflowID: "test-workflow", ExecutionID: "test-execution", StepID: "test-step", Attempt: 1,
		IdempotencyKey: "test-execution/test-step"})
}

// RunWith runs the step name once with a rendered config and the given run
// (attempt, idempotency key).
func (p *Plugin) RunWith(ctx context.Context, name string, config any, run sdk.RunInfo) (any, error) {
	return p.client.Call(ctx, sdk.KindStep, name, config, nil, &run)
}

// Transform runs the transform name on in, with a static config (nil: none).
func (p *Plugin) Transform(ctx context.Context, name string, in, config any) (any, error) {
	raw, err := staticConfig(config)
	if err != nil {
		return nil, err
	}
	return p.client.Call(ctx, sdk.KindTransform, name, in, raw, nil)
}

// Validate runs the validator name on in, with a static config (nil: none).
func (p *Plugin) Validate(ctx context.Context, name string, in, config any) error {
	raw, err := staticConfig(config)
	if err != nil {
		return err
	}
	_, err = p.client.Call(ctx, sdk.KindValidator, name, in, raw, nil)
	return err
}

func staticConfig(config any) (json.RawMessage, error) {
	if config == nil {
		return nil, nil
	}
	b, err := json.Marshal(config)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "encode config: %v", err)
	}
	return b, nil
}

// Build builds the plugin binary of package pkg (as `go build` takes it,
// relative to the test's directory) into out, for tests that run it through
// a real host (package plugins), as weft will run it.
func Build(pkg, out string) error {
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("build the plugin %s: %v\n%s", pkg, err, b)
	}
	return nil
}
