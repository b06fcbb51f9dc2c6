package wasm_test

import (
	"context"
	"encoding/binary"
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

func request(t *testing.T, r wasm.Request) []byte {
	t.Helper()
	b, err := wasm.AppendRequest(nil, r)
	require.NoError(t, err)
	return b
}

// parts lays out a request by hand, as a guest in another language reads it.
func parts(ps ...string) []byte {
	var b []byte
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	}
	for _, p := range ps {
		b = append(b, p...)
	}
	return b
}

func TestHandle(t *testing.T) {
	tests := []struct {
		name       string
		request    []byte
		wantFailed bool
		want       string
	}{
		{"transform with fresh config per call", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Input: []byte(`"a"`), Config: []byte(`{"suffix":"!"}`)}), false, `"a!"`},
		{"no config leaks from the previous call", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Input: []byte(`"a"`)}), false, `"a"`},
		{"null config", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Input: []byte(`"a"`), Config: []byte(`null`)}), false, `"a"`},
		{"validator accepts", request(t, wasm.Request{Kind: sdk.KindValidator, Name: "positive", Input: []byte(`3`)}), false, `null`},
		{"validator rejects", request(t, wasm.Request{Kind: sdk.KindValidator, Name: "positive", Input: []byte(`-1`)}), true,
			`{"code":"VALIDATION_FAILED","message":"must be positive","retryable":false,"details":[{"path":"","message":"must be positive"}]}`},
		{"step", request(t, wasm.Request{Kind: sdk.KindStep, Name: "run_info", Input: []byte(`{"a":1}`), Run: &sdk.RunInfo{StepID: "s", Attempt: 2}}), false, `{"a":1}`},
		{"unknown component", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "nope"}), true, `{"code":"INTERNAL","message":"module serves no transform \"nope\"","retryable":false}`},
		{"bad config", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Config: []byte(`{"suffix":1}`)}), true, ``},
		{"malformed input", request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Input: []byte(`"a`)}), true, ``},
		{"bad run info", parts("step", "run_info", "", `{"Attempt":"x"}`, `{}`), true, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, failed := wasm.Handle(context.Background(), tt.request)
			require.Equal(t, tt.wantFailed, failed, "%s", out)
			if tt.want != "" {
				require.JSONEq(t, tt.want, string(out))
			}
		})
	}
}

func TestAppendRequest(t *testing.T) {
	b := request(t, wasm.Request{Kind: sdk.KindTransform, Name: "upper", Input: []byte(`"hi"`), Config: []byte(`{}`)})
	require.Equal(t, []byte("\x09\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00transformupper{}\"hi\""), b)
	require.Equal(t, parts("transform", "upper", "{}", "", `"hi"`), b)
	b = request(t, wasm.Request{Kind: sdk.KindStep, Name: "s", Run: &sdk.RunInfo{StepID: "x", Attempt: 1}})
	run := `{"WorkflowID":"","ExecutionID":"","StepID":"x","Attempt":1,"IdempotencyKey":""}`
	require.Equal(t, byte(len(run)), b[12])
	require.Equal(t, run, string(b[20+len("step")+len("s"):]))
}

// TestMalformedRequests: a request whose header does not match its length
// is refused, never read past.
func TestMalformedRequests(t *testing.T) {
	good := request(t, wasm.Request{Kind: sdk.KindTransform, Name: "suffix", Input: []byte(`"a"`)})
	tests := map[string][]byte{
		"empty":             nil,
		"short header":      good[:19],
		"part past the end": good[:len(good)-1],
		"bytes after parts": append(append([]byte(nil), good...), ' '),
		"huge length":       append([]byte{0xff, 0xff, 0xff, 0xff}, good[4:]...),
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			out, failed := wasm.Handle(context.Background(), req)
			require.True(t, failed)
			require.Contains(t, string(out), "decode request")
		})
	}
}
