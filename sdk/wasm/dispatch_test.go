package wasm_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/wasm"
)

type suffix struct {
	Suffix string `json:"suffix"`
}

func (*suffix) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "suffix", New: func() sdk.Component { return new(suffix) }}
}

func (s *suffix) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	str, _ := in.(string)
	return str + s.Suffix, nil
}

func init() {
	wasm.Serve(
		&suffix{},
		sdk.NewValidator("positive", func(_ context.Context, n float64) error {
			if n <= 0 {
				ve := &sdk.ValidationError{}
				ve.Add("", "must be positive")
				return ve
			}
			return nil
		}),
		sdk.NewStep("run_info", func(_ context.Context, in map[string]any) (map[string]any, error) {
			return in, nil
		}),
	)
}

func TestDescribe(t *testing.T) {
	var ds []wasm.Description
	require.NoError(t, json.Unmarshal(wasm.Describe(), &ds))
	require.Equal(t, []wasm.Description{
		{Kind: sdk.KindTransform, Name: "suffix"},
		{Kind: sdk.KindValidator, Name: "positive"},
		{Kind: sdk.KindStep, Name: "run_info"},
	}, ds)
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name       string
		request    string
		wantFailed bool
		want       string
	}{
		{"transform with fresh config per call", `{"kind":"transform","name":"suffix","input":"a","config":{"suffix":"!"}}`, false, `{"output":"a!"}`},
		{"no config leaks from the previous call", `{"kind":"transform","name":"suffix","input":"a"}`, false, `{"output":"a"}`},
		{"validator accepts", `{"kind":"validator","name":"positive","input":3}`, false, `{"output":null}`},
		{"validator rejects", `{"kind":"validator","name":"positive","input":-1}`, true,
			`{"code":"VALIDATION_FAILED","message":"must be positive","retryable":false,"details":[{"path":"","message":"must be positive"}]}`},
		{"step", `{"kind":"step","name":"run_info","input":{"a":1},"run":{"StepID":"s","Attempt":2}}`, false, `{"output":{"a":1}}`},
		{"unknown component", `{"kind":"transform","name":"nope"}`, true, `{"code":"INTERNAL","message":"module serves no transform \"nope\"","retryable":false}`},
		{"malformed request", `{`, true, ``},
		{"bad config", `{"kind":"transform","name":"suffix","config":{"suffix":1}}`, true, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, failed := wasm.Handle(context.Background(), []byte(tt.request))
			require.Equal(t, tt.wantFailed, failed, "%s", out)
			if tt.want != "" {
				require.JSONEq(t, tt.want, string(out))
			}
		})
	}
}
