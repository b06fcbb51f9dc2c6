package wasm_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/wasm"
)

// BenchmarkTrivialTransform measures one call of a trivial transform on a
// warm pool: encode, copy in, guest decode/encode, copy out, decode.
// "serial" is the cost of one call (one goroutine, one instance busy);
// "parallel" runs GOMAXPROCS callers at once, so its ns/op is the inverse of
// throughput, not the latency of a call.
func BenchmarkTrivialTransform(b *testing.B) {
	_, reg := engine(b, wasm.Options{}, "basic")
	tr := transform(b, reg, "upper", "")
	// Warm as many instances as the parallel run uses.
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			_, err := tr.Transform(b.Context(), "warm")
			require.NoError(b, err)
		})
	}
	wg.Wait()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		// The mean hides the spread a busy machine adds; the median is the
		// figure the target is stated in.
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := tr.Transform(b.Context(), "hello"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tr.Transform(b.Context(), "hello"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkNormalizeLeads runs a DATA_TRANSFORM workflow step that applies
// the example normalize_lead WASM transform to 1,000 records (one call per
// record, as DATA_TRANSFORM applies operations to each array element).
func BenchmarkNormalizeLeads(b *testing.B) {
	eng, _ := engine(b, wasm.Options{}, "leads")
	records := make([]any, 1000)
	for i := range records {
		records[i] = map[string]any{
			"email": fmt.Sprintf("  Lead%d@Example.COM ", i), "firstName": "ada", "lastName": "LOVELACE",
			"phone": "+44 (20) 7946-0018", "company": " Analytical   Engines ", "country": "gb",
		}
	}
	doc := `{"name": "bench", "steps": [{"id": "n", "type": "DATA_TRANSFORM",
	  "config": {"source": "{{input.leads}}", "operations": [{"type": "transform", "name": "normalize_lead"}]}}]}`
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(b, err)
	plan, err := eng.Compile(b.Context(), w)
	require.NoError(b, err)
	input := map[string]any{"leads": records}
	b.ReportAllocs()
	for b.Loop() {
		exec, err := eng.Execute(b.Context(), plan, input)
		if err != nil || exec.Status != core.StatusCompleted {
			b.Fatal(err, exec.Error)
		}
		if got := len(exec.Steps["n"].Output.([]any)); got != 1000 {
			b.Fatalf("%d records", got)
		}
	}
}
