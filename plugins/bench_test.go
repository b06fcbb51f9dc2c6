package plugins_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/plugins"
	"github.com/weftworks/weft/sdk"
)

// benchStep starts the bench plugin (testdata/bench) and returns an instance
// of its step noop, made from its registry entry as the engine's compiler
// makes one.
func benchStep(b *testing.B) sdk.Step {
	b.Helper()
	dir := b.TempDir()
	require.NoError(b, os.Link(buildPlugin(b, "./testdata/bench"), filepath.Join(dir, "bench")))
	m := plugins.New(plugins.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	reg := core.NewEmptyRegistry()
	require.NoError(b, steps.Register(reg, steps.Options{}))
	require.NoError(b, m.Load(context.Background(), reg))
	e, ok := reg.Lookup(sdk.KindStep, "bench.noop")
	require.True(b, ok)
	step, ok := e.New().(sdk.Step)
	require.True(b, ok)
	return step
}

var benchInput = sdk.Input{
	Config: map[string]any{"leadId": "42", "score": float64(77)},
	Run: sdk.RunInfo{WorkflowID: "w", ExecutionID: "x", StepID: "noop", Attempt: 1,
		IdempotencyKey: "x/noop"},
}

// BenchmarkTrivialStepCall is the round trip of one call of a trivial plugin
// step, one call at a time: the host encodes the config as JSON, calls the
// plugin process over go-plugin's gRPC (AutoMTLS, a Unix socket), the
// plugin decodes, runs noop, encodes its output, and the host decodes it.
// It reports the median and 99th percentile of the calls besides their mean
// (ns/op).
func BenchmarkTrivialStepCall(b *testing.B) {
	step := benchStep(b)
	ctx := context.Background()
	for range 100 { // warm up the connection and both processes' pools
		_, err := step.Run(ctx, benchInput)
		require.NoError(b, err)
	}
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		out, err := step.Run(ctx, benchInput)
		durations = append(durations, time.Since(start))
		if err != nil || out.Data == nil {
			b.Fatalf("noop: %v, %v", out.Data, err)
		}
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds()), "µs-p50")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds()), "µs-p99")
}

// BenchmarkTrivialStepCallParallel is BenchmarkTrivialStepCall with calls
// from 8×GOMAXPROCS goroutines at once, on one instance and one connection,
// as the steps of concurrent executions share them: ns/op is the inverse of
// the throughput.
func BenchmarkTrivialStepCallParallel(b *testing.B) {
	step := benchStep(b)
	ctx := context.Background()
	for range 100 {
		_, err := step.Run(ctx, benchInput)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := step.Run(ctx, benchInput)
			if err != nil || out.Data == nil {
				b.Errorf("noop: %v, %v", out.Data, err)
				return
			}
		}
	})
}
