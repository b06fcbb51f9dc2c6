package db_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/sdk"
)

func compileOn(t testing.TB, eng *core.Engine, doc string) *core.Plan {
	wf, err := core.ParseWorkflow([]byte(doc))
	if err == nil {
		var plan *core.Plan
		if plan, err = eng.Compile(context.Background(), wf); err == nil {
			return plan
		}
	}
	panic(err)
}

const leadFlow = `{"name": "lead flow", "steps": [
	{"id": "lead", "type": "HTTP_REQUEST", "config": {"url": "{{input.api}}/leads/{{input.leadId}}"}},
	{"id": "shape", "type": "DATA_TRANSFORM", "config": {"source": "{{steps.lead.output.body}}", "operations": [{"type": "calculate", "field": "priority", "expression": "score * 2"}]}},
	{"id": "hot", "type": "CONDITIONAL", "config": {"expression": "steps.shape.output.priority > 100", "then": ["submit"], "else": []}},
	{"id": "submit", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{input.api}}/carriers/acme", "body": "{{steps.shape.output}}"}}]}`

// The engine's record read back from the database is the record it returned.
func TestExecutionOnDatabase(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(mockapi.New())
	t.Cleanup(api.Close)
	testEachDB(t, func(t *testing.T, b backend) {
		d := openDB(t, b.dsn(t))
		eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: d.Store()})
		plan := compileOn(t, eng, leadFlow)
		exec, err := eng.Execute(context.Background(), plan, map[string]any{"api": api.URL, "leadId": "42"})
		require.NoError(t, err)
		require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
		got, err := d.Store().GetExecution(context.Background(), exec.ID)
		require.NoError(t, err)
		require.Equal(t, core.StatusCompleted, got.Status)
		require.Equal(t, exec.Output, got.Output)
		require.Equal(t, exec.Input, got.Input)
		require.Len(t, got.Steps, 4)
		for id, st := range exec.Steps {
			require.Equal(t, st.Status, got.Steps[id].Status, id)
			require.Equal(t, st.Attempts, got.Steps[id].Attempts, id)
			require.Equal(t, st.Output, got.Steps[id].Output, id)
		}
		require.NotEmpty(t, got.WorkflowID)
		require.Equal(t, 1, got.WorkflowVersion)
	})
}

// Breaker state lives in the database: it survives a restart and every
// instance sharing the database sees the same breaker.
func TestBreakersAreShared(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		ctx := context.Background()
		first := openDB(t, dsn)
		a := core.New(core.Options{Store: first.Store()})
		_, err := a.Breakers().SetConfig(ctx, "crm", core.BreakerConfig{Threshold: 2, Timeout: 60000, HalfOpenMaxCalls: 1})
		require.NoError(t, err)
		for range 2 {
			p, err := a.Breakers().Acquire(ctx, core.BreakerRef{ServiceID: "crm"})
			require.NoError(t, err)
			require.NoError(t, p.Done(ctx, sdk.RetryableErrorf("HTTP_503", "down")))
		}
		st, err := a.Breakers().Get(ctx, "crm")
		require.NoError(t, err)
		require.Equal(t, core.BreakerOpen, st.State)

		second := openDB(t, dsn) // another instance
		bEng := core.New(core.Options{Store: second.Store()})
		_, err = bEng.Breakers().Acquire(ctx, core.BreakerRef{ServiceID: "crm"})
		require.ErrorContains(t, err, "CIRCUIT_OPEN", "the other instance sees the open breaker")

		require.NoError(t, first.Close()) // a restart
		restarted := openDB(t, dsn)
		st, err = core.New(core.Options{Store: restarted.Store()}).Breakers().Get(ctx, "crm")
		require.NoError(t, err)
		require.Equal(t, core.BreakerOpen, st.State)
		require.Equal(t, core.BreakerConfigFromAPI, st.ConfigSource)
		require.Equal(t, int64(2), st.TotalFailures)
	})
}

// Parked WAITs cost no goroutine each, and all wake on time. A thousand
// executions (four times the worker's concurrency, forty times the goroutine
// margin) show it in the default run; WEFT_TEST_FULL_SCALE=1 runs 10,000 on
// SQLite, and BenchmarkParkedWaits measures how fast they park and wake.
func TestManyParkedWaits(t *testing.T) {
	// Not parallel: it counts goroutines.
	testEachDBSerial(t, func(t *testing.T, b backend, n int) {
		parkAndWake(t, openDB(t, b.dsn(t)), n)
	})
}

// BenchmarkParkedWaits parks b.N executions on a WAIT of an hour (on an
// injected clock), then wakes them all; it reports both rates.
func BenchmarkParkedWaits(b *testing.B) {
	for _, bk := range []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return filepath.Join(b.TempDir(), "weft.db") }},
		{"postgres", func(b *testing.B) string { return postgresDSN(b) }},
	} {
		b.Run(bk.name, func(b *testing.B) {
			d := benchDB(b, bk.dsn(b))
			b.ResetTimer()
			parked, woken := parkAndWake(b, d, b.N)
			b.ReportMetric(float64(b.N)/parked.Seconds(), "parked/s")
			b.ReportMetric(float64(b.N)/woken.Seconds(), "woken/s")
		})
	}
}

// parkAndWake submits n executions of a workflow that waits an hour, runs a
// worker until every one is parked, checks that they hold no goroutines and
// that the next wake is due in an hour, advances the clock by an hour and
// waits until every one has completed. It returns how long parking and
// waking took (the benchmark's figures; the test asserts none).
func parkAndWake(tb testing.TB, d *db.DB, n int) (parked, woken time.Duration) {
	tb.Helper()
	clock := clockwork.NewFakeClock()
	store := d.Store().WithClock(clock.Now)
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: store, Clock: clock})
	plan := compileOn(tb, eng, `{"name": "nap", "steps": [
		{"id": "nap", "type": "WAIT", "config": {"duration": 3600000}},
		{"id": "done", "type": "DATA_TRANSFORM", "config": {"source": {"waited": "{{steps.nap.output.waitedMs}}"}, "operations": [{"type": "set", "field": "ok", "value": true}]}}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < n; i += 32 {
				id, err := eng.Submit(ctx, plan, nil)
				require.NoError(tb, err)
				ids[i] = id
			}
		})
	}
	wg.Wait()
	before := runtime.NumGoroutine()
	start := time.Now()
	worked := make(chan struct{})
	defer func() { cancel(); <-worked }()
	go func() {
		defer close(worked)
		_ = eng.Work(ctx, core.WorkOptions{Concurrency: 256})
	}()
	count := func(status core.Status) int {
		var c int
		err := d.Bun().NewSelect().Table("workflow_executions").ColumnExpr("COUNT(*)").Where("status = ?", status).Scan(ctx, &c)
		require.NoError(tb, err)
		return c
	}
	waitForCount(tb, "every execution to park", func() int { return count(core.StatusWaiting) }, n)
	parked = time.Since(start)
	// The goroutines of the last executions to park may still be returning:
	// wait for the count to settle rather than read it once. One goroutine
	// per parked wait would never settle below the margin.
	waitSettled(tb, fmt.Sprintf("%d parked executions to hold no goroutines", n),
		func() bool { return runtime.NumGoroutine()-before < 40 },
		func() string {
			return fmt.Sprintf("%d goroutines more than before the worker", runtime.NumGoroutine()-before)
		})
	next, ok, err := store.NextWake(ctx)
	require.NoError(tb, err)
	require.True(tb, ok)
	require.Equal(tb, clock.Now().Add(time.Hour).UnixMicro(), next.UnixMicro())

	start = time.Now()
	clock.Advance(time.Hour)
	waitForCount(tb, "every execution to wake and finish", func() int { return count(core.StatusCompleted) }, n)
	woken = time.Since(start)
	x, err := store.GetExecution(ctx, ids[n-1])
	require.NoError(tb, err)
	require.Equal(tb, map[string]any{"waited": float64(3600000), "ok": true}, x.Output)
	return parked, woken
}

// testEachDBSerial is testEachDB for tests that must not run in parallel,
// with the number of executions to use on each backend.
func testEachDBSerial(t *testing.T, fn func(t *testing.T, b backend, n int)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, backend{"sqlite", func(t *testing.T) string { return t.TempDir() + "/weft.db" }}, fullScale(1000, 10000))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, backend{"postgres", func(t *testing.T) string { return postgresDSN(t) }}, fullScale(1000, 2000)) // the same behaviour; the SQLite run shows the 10,000
	})
}

// fullScale is small in the default run and full when WEFT_TEST_FULL_SCALE
// is set (README, Development): the scale tests' properties hold at either,
// the full one only takes minutes.
func fullScale(small, full int) int {
	if os.Getenv("WEFT_TEST_FULL_SCALE") != "" {
		return full
	}
	return small
}

// stallAfter is how long a scale test waits without seeing any progress
// before it fails: a guard against a hang, never a budget for the work,
// which may take as long as it needs while it moves.
const stallAfter = 2 * time.Minute

// waitForCount polls count until it reaches want. There is no deadline on
// the whole: it fails only when the count has not moved for stallAfter.
func waitForCount(tb testing.TB, what string, count func() int, want int) {
	tb.Helper()
	last, moved := -1, time.Now()
	for {
		c := count()
		if c == want {
			return
		}
		if c != last {
			last, moved = c, time.Now()
		} else if time.Since(moved) > stallAfter {
			tb.Fatalf("waiting for %s: stuck at %d of %d for %v", what, c, want, stallAfter)
		}
		// Not too often: the conditions count thousands of rows, and the
		// polls would take the CPU the executions need.
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSettled polls cond until it holds, failing with state() after
// stallAfter: for a condition that holds at once or after a few
// milliseconds when the code is right, and never when it is wrong.
func waitSettled(tb testing.TB, what string, cond func() bool, state func() string) {
	tb.Helper()
	for deadline := time.Now().Add(stallAfter); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: still %s after %v", what, state(), stallAfter)
		}
	}
}

var _ = db.IsPostgres

// Claims take executions in the order they became claimable — a lease that
// ran out, a parked WAIT that is due, a new execution — and leave those not
// yet due.
func TestClaimOrder(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := openDB(t, b.dsn(t))
		store := d.Store()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		create := func(id string, status core.Status, created time.Time, wake time.Time, lease *core.Lease) {
			x := &core.Execution{ID: id, WorkflowID: "wf", WorkflowVersion: 1, Status: status, CreatedAt: created, WakeAt: wake}
			require.NoError(t, store.CreateExecution(ctx, x, lease))
		}
		create("new-later", core.StatusPending, at(3), time.Time{}, nil)
		create("parked", core.StatusWaiting, at(0), at(2), nil)
		create("new", core.StatusPending, at(1), time.Time{}, nil)
		create("crashed", core.StatusRunning, at(0), time.Time{}, &core.Lease{Owner: "gone", Token: 1, Until: at(4)})
		create("parked-long", core.StatusWaiting, at(0), at(60), nil)
		create("leased", core.StatusRunning, at(0), time.Time{}, &core.Lease{Owner: "alive", Token: 1, Until: at(60)})
		var order []string
		for {
			cs, err := store.Claim(ctx, "me", 1, at(10), time.Minute)
			require.NoError(t, err)
			if len(cs) == 0 {
				break
			}
			order = append(order, cs[0].Execution.ID)
		}
		require.Equal(t, []string{"new", "parked", "new-later", "crashed"}, order)
	})
}
