package core_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// testComponents registers steps whose behaviour tests control:
//
//	echo   returns its rendered config
//	noop   returns nil
//	fail   fails with config.code (retryable when config.retryable) until
//	       config.failures attempts have failed (0 = always)
//	block  blocks until its context ends
type testComponents struct {
	mu       sync.Mutex
	attempts map[string]int // by execution/step key
	started  chan string
	calls    atomic.Int64
}

func newRegistry(t testing.TB) (*core.Registry, *testComponents) {
	t.Helper()
	tc := &testComponents{attempts: map[string]int{}, started: make(chan string, 100)}
	reg := steps.NewRegistry(steps.Options{})
	add := func(c sdk.Component) {
		require.NoError(t, reg.Register(core.Entry{Info: c.Info(), Origin: core.OriginCompiled}))
	}
	add(sdk.NewStep("echo", func(_ context.Context, in any) (any, error) {
		tc.calls.Add(1)
		return in, nil
	}))
	add(sdk.NewStep("noop", func(context.Context, any) (any, error) { return nil, nil }))
	add(&failStep{tc: tc})
	add(runInfoStep{})
	add(sdk.NewStep("block", func(ctx context.Context, in any) (any, error) {
		tc.started <- core.Stringify(in)
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	return reg, tc
}

// failStep fails a configured number of times, counting attempts per
// idempotency key (stable across the retries of one step of one execution).
type failStep struct{ tc *testComponents }

func (f *failStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "fail", New: func() sdk.Component { return f }}
}

func (f *failStep) Run(_ context.Context, in sdk.Input) (sdk.Output, error) {
	var cfg struct {
		Code         string `json:"code"`
		Retryable    bool   `json:"retryable"`
		Failures     int    `json:"failures"`
		RetryAfterMs int    `json:"retryAfterMs"`
		Output       any    `json:"output"`
	}
	if err := in.Decode(&cfg); err != nil {
		return sdk.Output{}, err
	}
	f.tc.mu.Lock()
	f.tc.attempts[in.Run.IdempotencyKey]++
	n := f.tc.attempts[in.Run.IdempotencyKey]
	f.tc.mu.Unlock()
	if cfg.Failures == 0 || n <= cfg.Failures {
		code := cfg.Code
		if code == "" {
			code = "BOOM"
		}
		e := &sdk.Error{Code: code, Message: "failure " + core.Stringify(float64(n)), Retryable: cfg.Retryable}
		e.RetryAfter = core.Millis(int64(cfg.RetryAfterMs))
		return sdk.Output{}, e
	}
	return sdk.Output{Data: cfg.Output}, nil
}

func parse(t testing.TB, doc string) *core.Workflow {
	t.Helper()
	wf, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	return wf
}

func compile(t testing.TB, eng *core.Engine, doc string) *core.Plan {
	t.Helper()
	plan, err := eng.Compile(context.Background(), parse(t, doc))
	require.NoError(t, err)
	return plan
}

func execute(t testing.TB, eng *core.Engine, doc string, input any) *core.Execution {
	t.Helper()
	exec, err := eng.Execute(context.Background(), compile(t, eng, doc), input)
	require.NoError(t, err)
	return exec
}

// problems compiles doc and returns its problems as "path: message" lines.
func problems(t testing.TB, eng *core.Engine, doc string) []string {
	t.Helper()
	wf, err := core.ParseWorkflow([]byte(doc))
	var out []string
	if err != nil {
		ve, ok := err.(*sdk.ValidationError)
		require.True(t, ok, "parse error %v", err)
		for _, p := range ve.Problems {
			out = append(out, p.Path+": "+p.Message)
		}
		if wf == nil {
			return out
		}
	}
	_, err = eng.Compile(context.Background(), wf)
	if err == nil {
		return out
	}
	ve, ok := err.(*sdk.ValidationError)
	require.True(t, ok, "compile error %v", err)
	for _, p := range ve.Problems {
		out = append(out, p.Path+": "+p.Message)
	}
	return out
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// runInfoStep returns the RunInfo it was called with.
type runInfoStep struct{}

func (runInfoStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "runinfo", New: func() sdk.Component { return runInfoStep{} }}
}

func (runInfoStep) Run(_ context.Context, in sdk.Input) (sdk.Output, error) {
	return sdk.Output{Data: map[string]any{"key": in.Run.IdempotencyKey, "step": in.Run.StepID, "config": in.Config}}, nil
}
