package db_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
)

const benchFlow = `{"name": "bench", "steps": [
	{"id": "call", "type": "HTTP_REQUEST", "config": {"url": "{{input.api}}/lead"}},
	{"id": "shape", "type": "DATA_TRANSFORM", "config": {"source": "{{steps.call.output.body}}", "operations": [{"type": "calculate", "field": "priority", "expression": "score * 2"}]}},
	{"id": "hot", "type": "CONDITIONAL", "config": {"conditions": [{"field": "steps.shape.output.priority", "operator": "gt", "value": 100}], "then": [], "else": []}}]}`

// BenchmarkThreeStepWorkflow runs a 3-step workflow (an HTTP call to a
// local mock, a transform, a condition) from 32 goroutines at once, in
// memory, on SQLite (synchronous=FULL) and on PostgreSQL (when
// WEFT_TEST_POSTGRES_DSN is set), and reports executions/s and the p50 and
// p99 latency of an execution.
func BenchmarkThreeStepWorkflow(b *testing.B) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": "42", "score": 72, "email": "ada@example.com"}`))
	}))
	defer api.Close()
	stores := []struct {
		name string
		open func(b *testing.B) core.Store
	}{
		{"memory", func(*testing.B) core.Store { return core.NewMemoryStore() }},
		{"sqlite", func(b *testing.B) core.Store {
			return benchDB(b, filepath.Join(b.TempDir(), "bench.db")).Store()
		}},
		{"sqlite-normal", func(b *testing.B) core.Store {
			d, err := db.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), db.Options{Synchronous: "NORMAL"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = d.Close() })
			return d.Store()
		}},
		{"postgres", func(b *testing.B) core.Store {
			return benchDB(b, postgresDSN(b)).Store()
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			store := s.open(b)
			eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: store})
			plan := compileOn(b, eng, benchFlow)
			input := map[string]any{"api": api.URL}
			const workers = 32
			var mu sync.Mutex
			var lat []time.Duration
			next := make(chan struct{})
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					mine := make([]time.Duration, 0, 256)
					for range next {
						start := time.Now()
						x, err := eng.Execute(context.Background(), plan, input)
						if err != nil || x.Status != core.StatusCompleted {
							b.Error(err, x.Status)
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			b.ResetTimer()
			for b.Loop() {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "executions/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}

func benchDB(b *testing.B, dsn string) *db.DB {
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	return d
}
