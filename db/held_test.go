package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
)

// probeAPI answers every request with {"score": 72} after calling probe
// with the execution id (taken from the Idempotency-Key) and the path.
func probeAPI(t *testing.T, probe func(execID, path string) error) string {
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		execID, _, _ := strings.Cut(r.Header.Get("Idempotency-Key"), "/")
		mu.Lock()
		err := probe(execID, r.URL.Path)
		mu.Unlock()
		if err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"score": 72}`))
	}))
	t.Cleanup(api.Close)
	return api.URL
}

// A step that calls out only does so once the results it could depend on
// are committed; pure steps in between need not wait.
func TestCallsOutOnDurableResults(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		d := openDB(t, b.dsn(t))
		api := probeAPI(t, func(execID, path string) error {
			if path != "/second" {
				return nil
			}
			// Straight from the table, past the store and what it holds.
			s, err := stepStatus(d, execID, "first")
			if err != nil {
				return fmt.Errorf("the first call's result is not in the database when the second call goes out: %w", err)
			}
			if s != string(core.StatusCompleted) {
				return fmt.Errorf("first is %s in the database when the second call goes out", s)
			}
			return nil
		})
		eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: d.Store()})
		plan := compileOn(t, eng, `{"name": "two calls", "steps": [
			{"id": "first", "type": "HTTP_REQUEST", "config": {"url": "{{input.api}}/first"}},
			{"id": "shape", "type": "DATA_TRANSFORM", "config": {"source": "{{steps.first.output.body}}", "operations": [{"type": "calculate", "field": "priority", "expression": "score * 2"}]}},
			{"id": "second", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{input.api}}/second", "body": "{{steps.shape.output}}"}}]}`)
		for range 5 {
			x, err := eng.Execute(context.Background(), plan, map[string]any{"api": api})
			require.NoError(t, err)
			require.Equal(t, core.StatusCompleted, x.Status, "%v", x.Error)
		}
	})
}

// The same for calls made inside a FOR_EACH: the call after it goes out once
// every item's result is in the database.
func TestCallsOutOnDurableNestedResults(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		d := openDB(t, b.dsn(t))
		api := probeAPI(t, func(execID, path string) error {
			if path != "/after" {
				return nil
			}
			var n int
			err := d.Bun().NewSelect().Table("step_executions").ColumnExpr("COUNT(*)").
				Where("execution_id = ? AND step_key LIKE 'call[%' AND step_status = ?", execID, core.StatusCompleted).
				Scan(context.Background(), &n)
			if err != nil {
				return err
			}
			if n != 3 {
				return fmt.Errorf("%d of the 3 items are in the database as COMPLETED when the next call goes out", n)
			}
			return nil
		})
		eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: d.Store()})
		plan := compileOn(t, eng, `{"name": "items then a call", "steps": [
			{"id": "each", "type": "FOR_EACH", "config": {"items": [1, 2, 3], "maxConcurrency": 3,
				"step": {"id": "call", "type": "HTTP_REQUEST", "config": {"url": "{{input.api}}/item/{{item}}"}}}},
			{"id": "after", "type": "HTTP_REQUEST", "dependsOn": ["each"], "config": {"url": "{{input.api}}/after"}}]}`)
		for range 3 {
			x, err := eng.Execute(context.Background(), plan, map[string]any{"api": api})
			require.NoError(t, err)
			require.Equal(t, core.StatusCompleted, x.Status, "%v", x.Error)
		}
	})
}

func stepStatus(d *db.DB, execID, step string) (string, error) {
	var s string
	err := d.Bun().NewSelect().Table("step_executions").Column("step_status").
		Where("execution_id = ? AND step_key = ?", execID, step).Order("attempt DESC").Limit(1).Scan(context.Background(), &s)
	return s, err
}

// An execution run by its creator is held in memory for a moment (its
// records written together), but whoever reads it sees it.
func TestHeldExecutionIsVisible(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		d := openDB(t, b.dsn(t))
		store := d.Store()
		api := probeAPI(t, func(execID, _ string) error {
			x, err := store.GetExecution(context.Background(), execID)
			if err != nil {
				return err
			}
			if x.Status != core.StatusRunning || x.Steps["call"] == nil || x.Steps["call"].Status != core.StatusRunning {
				return fmt.Errorf("execution %s, steps %v: want it and its call RUNNING", x.Status, x.Steps)
			}
			return nil
		})
		eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: store})
		plan := compileOn(t, eng, `{"name": "one call", "steps": [{"id": "call", "type": "HTTP_REQUEST", "config": {"url": "{{input.api}}/x"}}]}`)
		x, err := eng.Execute(context.Background(), plan, map[string]any{"api": api})
		require.NoError(t, err)
		require.Equal(t, core.StatusCompleted, x.Status, "%v", x.Error)
		s, err := stepStatus(d, x.ID, "call")
		require.NoError(t, err)
		require.Equal(t, string(core.StatusCompleted), s)
	})
}

// A held execution's lease is renewed in memory, a claim that finds its
// lease expired sees it, and closing the database writes it.
func TestHeldExecutionLeaseAndClose(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.dsn(t)
		d, err := db.Open(ctx, dsn, db.Options{})
		require.NoError(t, err)
		x, _ := leasedExecution(t, d.Store(), nil)
		now := x.StartedAt
		lost, err := d.Store().Renew(ctx, "me", map[string]int64{"x": 1}, now.Add(2*time.Minute))
		require.NoError(t, err)
		require.Empty(t, lost, "a held execution's lease is held")
		lost, err = d.Store().Renew(ctx, "other", map[string]int64{"x": 1}, now.Add(2*time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"x"}, lost)
		cs, err := d.Store().Claim(ctx, "other", 10, now.Add(90*time.Second), time.Minute)
		require.NoError(t, err)
		require.Empty(t, cs, "the renewed lease has not expired")
		require.NoError(t, d.Close())

		d = openDB(t, dsn)
		var until int64
		require.NoError(t, d.Bun().NewSelect().Table("workflow_executions").Column("lease_until").
			Where("id = 'x'").Scan(ctx, &until))
		require.Equal(t, now.Add(2*time.Minute).UnixMicro(), until, "written on close, with its renewed lease")
		cs, err = d.Store().Claim(ctx, "other", 10, now.Add(3*time.Minute), time.Minute)
		require.NoError(t, err)
		require.Len(t, cs, 1, "claimed once its lease has expired")
	})
}

// Writes the engine does not wait for are applied in order, and once a
// later awaited write returns they are in the database: a progress record
// held back, and a nested step's result (which must never be held back).
func TestAsyncWritesAreDurableOnceALaterWriteIs(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		d := openDB(t, b.dsn(t))
		x, lease := leasedExecution(t, d.Store(), nil)
		write := func(step string, s core.Status, async bool) {
			require.NoError(t, writeStep(d.Store(), x, lease, step, s, async))
		}
		write("first", core.StatusRunning, false) // the execution is in the database now
		write("a", core.StatusRunning, true)      // an attempt starts
		write("b", core.StatusCompleted, true)    // a nested step's result
		write("c", core.StatusRunning, false)
		for step, want := range map[string]core.Status{"a": core.StatusRunning, "b": core.StatusCompleted, "c": core.StatusRunning} {
			s, err := stepStatus(d, "x", step)
			require.NoError(t, err, "%s is not in the database once a later awaited write returned", step)
			require.Equal(t, string(want), s, step)
		}
	})
}

// When a write the engine did not wait for fails, the execution's next
// awaited write fails too: whoever is told it is durable relies on every
// earlier write being durable.
func TestFailedAsyncWriteFailsTheNextAwaitedOne(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := openDB(t, b.dsn(t))
		// The database refuses one step's row, as a full disk would refuse all.
		trigger := []string{`CREATE TRIGGER refuse BEFORE INSERT ON step_executions WHEN NEW.step_key = 'refused'
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`}
		if d.Dialect() == "pg" {
			trigger = []string{
				`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
					IF NEW.step_key = 'refused' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER refuse BEFORE INSERT ON step_executions FOR EACH ROW EXECUTE FUNCTION refuse()`,
			}
		}
		for _, q := range trigger {
			_, err := d.Bun().ExecContext(ctx, q)
			require.NoError(t, err)
		}
		store := d.Store()
		x, lease := leasedExecution(t, store, nil)
		write := func(step string, s core.Status, async bool) error {
			return writeStep(store, x, lease, step, s, async)
		}
		require.NoError(t, write("first", core.StatusRunning, false)) // the execution is in the database now
		require.NoError(t, write("refused", core.StatusCompleted, true), "not waited for: it fails later")
		err := write("next", core.StatusRunning, false)
		require.ErrorContains(t, err, "an earlier record of execution x was not written")
		require.ErrorContains(t, err, "refused by the test")
		// For the rest of the lease: a parallel branch's write must not pass
		// either. Known before, the write is not made at all.
		require.ErrorContains(t, write("parallel", core.StatusRunning, false), "refused by the test")
		_, err = stepStatus(d, "x", "parallel")
		require.ErrorIs(t, err, sql.ErrNoRows, "a write that fails is not made")

		// Once the lease runs out, whoever claims the execution writes again.
		cs, err := store.Claim(ctx, "other", 1, x.StartedAt.Add(2*time.Minute), time.Minute)
		require.NoError(t, err)
		require.Len(t, cs, 1)
		lease = cs[0].Lease
		require.NoError(t, write("next", core.StatusRunning, false))
	})
}

// Closing the database writes the progress records it still holds back.
func TestCloseWritesHeldBackProgress(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.dsn(t)
		d, err := db.Open(ctx, dsn, db.Options{})
		require.NoError(t, err)
		x, lease := leasedExecution(t, d.Store(), nil)
		require.NoError(t, writeStep(d.Store(), x, lease, "first", core.StatusRunning, false))  // the execution is in the database now
		require.NoError(t, writeStep(d.Store(), x, lease, "running", core.StatusRunning, true)) // an attempt starts: held back
		require.NoError(t, d.Close())
		s, err := stepStatus(openDB(t, dsn), "x", "running")
		require.NoError(t, err, "the progress record is written on close")
		require.Equal(t, string(core.StatusRunning), s)
	})
}

// An output holding the character NUL (a binary response body) is recorded,
// with U+FFFD in its place, on both databases: PostgreSQL's JSONB refuses
// NUL, and an unrecordable result would stop its execution for good.
func TestOutputWithNULIsRecorded(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		d := openDB(t, b.dsn(t))
		store := d.Store()
		x, lease := leasedExecution(t, store, func(x *core.Execution) { x.Input = map[string]any{"raw": "in\x00put"} })
		out := map[string]any{"body": "bin\x00ary"}
		st := oneAttempt("call", core.StatusCompleted, x.StartedAt)
		st.Output = out
		require.NoError(t, store.Checkpoint(ctx, "x", lease, &core.Checkpoint{Steps: []*core.StepState{st},
			Results: []core.StepResult{{StepID: "call", Status: core.StatusCompleted, OK: true, Output: out}}}))
		hdr := *x
		hdr.Status, hdr.Output, hdr.FinishedAt = core.StatusCompleted, out, x.StartedAt
		require.NoError(t, store.Checkpoint(ctx, "x", lease, &core.Checkpoint{Execution: &hdr, Release: true}))

		got, err := store.GetExecution(ctx, "x")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"body": "bin\uFFFDary"}, got.Output)
		require.Equal(t, map[string]any{"raw": "in\uFFFDput"}, got.Input)
		require.Equal(t, map[string]any{"body": "bin\uFFFDary"}, got.Steps["call"].Output)
	})
}

// leasedExecution stores a running execution "x" claimed by "me", as
// Engine.Execute does (held in memory until its first awaited write); edit,
// if given, changes it first.
func leasedExecution(t *testing.T, store *db.Store, edit func(*core.Execution)) (*core.Execution, core.Lease) {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	lease := core.Lease{Owner: "me", Token: 1, Until: now.Add(time.Minute)}
	x := &core.Execution{ID: "x", WorkflowID: "wf", WorkflowVersion: 1, Status: core.StatusRunning, CreatedAt: now, StartedAt: now}
	if edit != nil {
		edit(x)
	}
	require.NoError(t, store.CreateExecution(context.Background(), x, &lease))
	return x, lease
}

// oneAttempt is the state of a step that made one attempt, now at status s.
func oneAttempt(step string, s core.Status, at time.Time) *core.StepState {
	return &core.StepState{ID: step, Type: "HTTP_REQUEST", Status: s, StartedAt: at, Attempts: 1,
		History: []core.Attempt{{Attempt: 1, Status: s, StartedAt: at}}}
}

// writeStep checkpoints one step of x at status s, awaited or not.
func writeStep(store *db.Store, x *core.Execution, lease core.Lease, step string, s core.Status, async bool) error {
	return store.Checkpoint(context.Background(), x.ID, lease,
		&core.Checkpoint{Steps: []*core.StepState{oneAttempt(step, s, x.StartedAt)}, Async: async})
}
