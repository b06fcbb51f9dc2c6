package hello_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	_ "github.com/weftworks/weft/examples/hello/compiled" // hello.greet compiled in, through sdk.Register
	"github.com/weftworks/weft/examples/hello/greet"
	"github.com/weftworks/weft/plugins"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

// workflow greets the input twice over: hello.greet with a static config,
// then a FOR_EACH that greets every guest (four at a time) with the
// default config, so that calls run concurrently too.
const workflow = `{"name": "hello", "steps": [
  {"id": "host", "type": "DATA_TRANSFORM", "config": {"source": "{{input.host}}",
   "operations": [{"type": "transform", "name": "hello.greet", "config": {"greeting": "Bonjour", "excited": true}}]}},
  {"id": "guests", "type": "FOR_EACH", "dependsOn": ["host"], "config": {"items": "{{input.guests}}", "maxConcurrency": 4,
   "step": {"id": "guest", "type": "DATA_TRANSFORM", "config": {"source": "{{item}}",
    "operations": [{"type": "transform", "name": "hello.greet"}]}}}}]}`

// runtime is one way of serving hello.greet: a registry that holds it, with
// the built-in step types.
type runtime struct {
	name   string
	origin core.Origin
	reg    func(t *testing.T) *core.Registry
}

// builtins is a registry of the built-in step types only: hello.greet is
// compiled into this test binary, so the registries of the other runtimes
// must not start from core.NewRegistry.
func builtins(t *testing.T) *core.Registry {
	reg := core.NewEmptyRegistry()
	require.NoError(t, steps.Register(reg, steps.Options{}))
	return reg
}

var runtimes = []runtime{
	{"compiled", core.OriginCompiled, func(t *testing.T) *core.Registry {
		// core.NewRegistry picks up what sdk.Register added (package compiled).
		return steps.NewRegistry(steps.Options{})
	}},
	{"plugin", core.OriginPlugin, func(t *testing.T) *core.Registry {
		dir := t.TempDir()
		require.NoError(t, plugintest.Build("./plugin", filepath.Join(dir, "hello")))
		m := plugins.New(plugins.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		reg := builtins(t)
		require.NoError(t, m.Load(t.Context(), reg))
		return reg
	}},
	{"wasm", core.OriginWASM, func(t *testing.T) *core.Registry {
		dir := t.TempDir()
		require.NoError(t, wasmtest.Build("./wasm", filepath.Join(dir, "hello.wasm")))
		reg := builtins(t)
		rt, err := wasm.Register(t.Context(), reg, wasm.Options{ModulesDir: dir, CacheDir: wasmtest.CacheDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = rt.Close(context.Background()) })
		return reg
	}},
}

// result is what an execution recorded, in a form to compare across runtimes.
type result struct {
	Status core.Status
	// Outputs of the steps host and guests.
	Outputs map[string]any
	Code    string
	Message string
}

func execute(t *testing.T, eng *core.Engine, input any) result {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(workflow))
	require.NoError(t, err)
	p, err := eng.Compile(t.Context(), w)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	x, err := eng.Execute(t.Context(), p, input)
	require.NoError(t, err)
	r := result{Status: x.Status, Outputs: map[string]any{}}
	// The workflow's own steps; the records of FOR_EACH items
	// (guest[i]) after a failure depend on how far the others had got.
	for _, id := range []string{"host", "guests"} {
		if st := x.Steps[id]; st != nil {
			r.Outputs[id] = core.Normalize(st.Output)
		}
	}
	if x.Error != nil {
		r.Code, r.Message = x.Error.Code, x.Error.Message
	}
	return r
}

// TestOneComponentThreeRuntimes runs the same workflow on greet.Component
// compiled in, served by a plugin process and served by a WASM module, and
// requires the same outputs and the same errors from all three.
func TestOneComponentThreeRuntimes(t *testing.T) {
	inputs := []struct {
		name  string
		input string
		want  result
	}{
		{name: "greets", input: `{"host": {"name": "Ada", "title": "Countess"}, "guests": [{"name": "Zoë"}, {"name": "世界"}, {"name": "Grace", "title": "Dr"}]}`,
			want: result{Status: core.StatusCompleted, Outputs: map[string]any{
				"host": map[string]any{"text": "Bonjour, Countess Ada!", "runes": float64(22), "tags": []any{"Bonjour,", "Countess", "Ada!"}},
				"guests": []any{
					map[string]any{"text": "Hello, Zoë.", "runes": float64(11), "tags": []any{"Hello,", "Zoë."}},
					map[string]any{"text": "Hello, 世界.", "runes": float64(10), "tags": []any{"Hello,", "世界."}},
					map[string]any{"text": "Hello, Dr Grace.", "runes": float64(16), "tags": []any{"Hello,", "Dr", "Grace."}},
				}}}},
		{name: "no guests", input: `{"host": {"name": "Ada"}, "guests": []}`,
			want: result{Status: core.StatusCompleted, Outputs: map[string]any{
				"host":   map[string]any{"text": "Bonjour, Ada!", "runes": float64(13), "tags": []any{"Bonjour,", "Ada!"}},
				"guests": []any{}}}},
		{name: "a guest without a name", input: `{"host": {"name": "Ada"}, "guests": [{"name": "Zoë"}, {"name": " "}]}`,
			want: result{Status: core.StatusFailed, Code: greet.CodeNoName,
				Message: `step "guests" failed: item 1: operation 0 (transform): greet: the person has no name`, Outputs: map[string]any{
					"host":   map[string]any{"text": "Bonjour, Ada!", "runes": float64(13), "tags": []any{"Bonjour,", "Ada!"}},
					"guests": nil}}},
		{name: "a host that is not a person", input: `{"host": {"name": 7, "age": 36}, "guests": []}`,
			want: result{Status: core.StatusFailed, Code: sdk.CodeInvalidInput,
				Message: "step \"host\" failed: operation 0 (transform): greet: 2 problems:\n  age: unknown field \"age\" (known: name, title)\n  name: expected a string, got a number",
				Outputs: map[string]any{"host": nil, "guests": nil}}},
	}
	engines := make([]*core.Engine, len(runtimes))
	for i, rt := range runtimes {
		reg := rt.reg(t)
		e, ok := reg.Lookup(sdk.KindTransform, greet.Name)
		require.True(t, ok, "%s: hello.greet is not registered", rt.name)
		require.Equal(t, rt.origin, e.Origin, "%s: hello.greet comes from another runtime", rt.name)
		require.Equal(t, "1.0.0", e.Version, rt.name)
		engines[i] = core.New(core.Options{Registry: reg})
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			var input any
			require.NoError(t, json.Unmarshal([]byte(in.input), &input))
			results := make([]result, len(runtimes))
			for i, rt := range runtimes {
				results[i] = execute(t, engines[i], input)
				t.Logf("%-8s %+v", rt.name, results[i])
			}
			got := results[0]
			require.Equal(t, in.want.Status, got.Status, "error: %s", got.Message)
			require.Equal(t, in.want.Code, got.Code, "error: %s", got.Message)
			require.Equal(t, in.want.Message, got.Message)
			if in.want.Outputs != nil {
				require.Equal(t, in.want.Outputs, got.Outputs)
			}
			for i, rt := range runtimes[1:] {
				require.Equal(t, got, results[i+1], "%s differs from %s", rt.name, runtimes[0].name)
			}
		})
	}
}
