package wasm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
)

// TestHandWrittenGuest loads a guest that implements ABI weft_v2 from its
// documentation alone (testdata/rawabi, no sdk/wasm): the request's parts
// arrive intact, a guest may ask for the request with too small a buffer,
// and an empty answer is a validator's success.
func TestHandWrittenGuest(t *testing.T) {
	t.Parallel()
	built(t) // the shared compilation cache
	dir := t.TempDir()
	require.NoError(t, wasmtest.Build("./testdata/rawabi", filepath.Join(dir, "rawabi.wasm")))
	rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: dir, CacheDir: cacheDir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	reg := steps.NewRegistry(steps.Options{})
	require.NoError(t, rt.Register(reg))

	big := strings.Repeat("é", 50000)
	tests := []struct {
		name   string
		config string
		input  any
		want   any
	}{
		{"config and input", `{"tag": "vip"}`, map[string]any{"id": 1.0, "tags": []any{"a"}},
			map[string]any{"kind": "transform", "name": "raw_echo", "config": map[string]any{"tag": "vip"},
				"input": map[string]any{"id": 1.0, "tags": []any{"a"}}}},
		{"no config", "", "x", map[string]any{"kind": "transform", "name": "raw_echo", "config": nil, "input": "x"}},
		{"large input", "", big, map[string]any{"kind": "transform", "name": "raw_echo", "config": nil, "input": big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := transform(t, reg, "raw_echo", tt.config).Transform(t.Context(), tt.input)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.NoError(t, validator(t, reg, "raw_silent").Validate(t.Context(), "anything"))
}

// TestRequestsAndAnswersOfEverySize sends one instance requests and answers
// around the sizes where the guest helper grows or drops its reused buffers.
func TestRequestsAndAnswersOfEverySize(t *testing.T) {
	t.Parallel()
	_, reg := engine(t, wasm.Options{MaxInstances: 1}, "basic")
	tr := transform(t, reg, "upper", "")
	for _, n := range []int{0, 1, 4000, 4096, 5000, 70000, 10, 300000, 3} {
		in := strings.Repeat("a\"ü", n/3)
		got, err := tr.Transform(t.Context(), in)
		require.NoError(t, err, "%d bytes", n)
		require.Equal(t, strings.ToUpper(in), got, "%d bytes", n)
	}
	_, err := transform(t, reg, "upper", "").Transform(t.Context(), 1.0)
	require.Equal(t, sdk.CodeInvalidInput, sdk.ErrorCode(err), "%v", err)
}
