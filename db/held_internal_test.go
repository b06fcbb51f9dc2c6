package db

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db/dbtest"
)

// heldDSNs are the databases the held-records tests run on: SQLite always,
// PostgreSQL when WEFT_TEST_POSTGRES_DSN is set.
var heldDSNs = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "weft.db") },
	"postgres": func(t *testing.T) string { return dbtest.PostgresDSN(t) },
}

// heldExecution opens dsn with nothing leaving the hold on a timer, and
// creates execution "x" there under the lease it returns, held.
func heldExecution(t *testing.T, dsn string) (*DB, core.Lease, time.Time) {
	t.Helper()
	d, err := Open(context.Background(), dsn, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	d.held.holdFor = time.Hour
	now := time.Now().Truncate(time.Millisecond)
	lease := core.Lease{Owner: "me", Token: 1, Until: now.Add(time.Minute)}
	x := &core.Execution{ID: "x", WorkflowID: "wf", WorkflowVersion: 1, Status: core.StatusRunning, CreatedAt: now, StartedAt: now}
	require.NoError(t, d.Store().CreateExecution(context.Background(), x, &lease))
	return d, lease, now
}

// stepState is a step of execution "x" in status s, on its first attempt.
func stepState(id string, s core.Status, at time.Time) *core.StepState {
	return &core.StepState{ID: id, Type: "HTTP_REQUEST", Status: s, StartedAt: at, Attempts: 1,
		History: []core.Attempt{{Attempt: 1, Status: s, StartedAt: at}}}
}

// After an execution's first awaited write, what nobody waits for is held
// again and goes with the next awaited write: an execution whose steps end
// while it runs costs two writes, not one per step.
func TestHeldAfterTheFirstWrite(t *testing.T) {
	t.Parallel()
	for name, dsn := range heldDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, lease, now := heldExecution(t, dsn(t))
			store := d.Store()
			step := func(id string, s core.Status) *core.StepState { return stepState(id, s, now) }
			checkpoint := func(cp *core.Checkpoint) { require.NoError(t, store.Checkpoint(ctx, "x", lease, cp)) }

			checkpoint(&core.Checkpoint{Steps: []*core.StepState{step("first", core.StatusCompleted)}})
			checkpoint(&core.Checkpoint{Steps: []*core.StepState{step("a", core.StatusRunning)}, Async: true})
			checkpoint(&core.Checkpoint{Steps: []*core.StepState{step("b", core.StatusCompleted)}, Async: true})
			checkpoint(&core.Checkpoint{Steps: []*core.StepState{step("a", core.StatusCompleted)}, Async: true})
			d.held.mu.Lock()
			h := d.held.m["x"]
			d.held.mu.Unlock()
			require.NotNil(t, h, "held again after its first write")
			require.True(t, h.inserted)
			done := &core.Execution{ID: "x", Status: core.StatusCompleted, CreatedAt: now, StartedAt: now, FinishedAt: now.Add(time.Second),
				Output: map[string]any{"ok": true}}
			checkpoint(&core.Checkpoint{Execution: done, Release: true})

			got, err := store.GetExecution(ctx, "x")
			require.NoError(t, err)
			require.Equal(t, core.StatusCompleted, got.Status)
			require.Equal(t, map[string]any{"ok": true}, got.Output)
			for _, id := range []string{"first", "a", "b"} {
				require.NotNil(t, got.Steps[id], id)
				require.Equal(t, core.StatusCompleted, got.Steps[id].Status, id)
			}
			var owner string
			require.NoError(t, d.Bun().NewSelect().Table("workflow_executions").Column("lease_owner").Where("id = 'x'").Scan(ctx, &owner))
			require.Empty(t, owner, "released")
			d.held.mu.Lock()
			require.Nil(t, d.held.m["x"], "a released execution is not held")
			d.held.mu.Unlock()
			require.NoError(t, d.Close())
			require.Equal(t, 2, d.batch.written, "the first write and the final one")
		})
	}
}

// Records held under a lease that has since passed to another engine are
// not written over the new owner's: they fail on their lease.
func TestHeldRecordsOfALostLease(t *testing.T) {
	t.Parallel()
	for name, dsn := range heldDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, mine, now := heldExecution(t, dsn(t))
			store := d.Store()
			step := func(s core.Status) *core.Checkpoint {
				return &core.Checkpoint{Steps: []*core.StepState{stepState("a", s, now)}}
			}
			require.NoError(t, store.Checkpoint(ctx, "x", mine, &core.Checkpoint{}))
			late := step(core.StatusCompleted)
			late.Async = true
			require.NoError(t, store.Checkpoint(ctx, "x", mine, late), "held")

			cs, err := store.Claim(ctx, "other", 1, now.Add(2*time.Minute), time.Minute)
			require.NoError(t, err)
			require.Len(t, cs, 1, "claimed once the lease ran out")
			theirs := cs[0].Lease
			require.NoError(t, store.Checkpoint(ctx, "x", theirs, step(core.StatusRunning)))
			got, err := store.GetExecution(ctx, "x")
			require.NoError(t, err)
			require.Equal(t, core.StatusRunning, got.Steps["a"].Status, "the new owner's record stands")
			require.ErrorIs(t, store.Checkpoint(ctx, "x", mine, step(core.StatusFailed)), core.ErrLeaseLost)
		})
	}
}

// A read of an execution held again after its first write, with nothing
// held since, leaves its row as that write left it.
func TestHeldAgainAndReadBeforeAnythingCame(t *testing.T) {
	t.Parallel()
	for name, dsn := range heldDSNs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, lease, now := heldExecution(t, dsn(t))
			store := d.Store()
			require.NoError(t, store.Checkpoint(ctx, "x", lease, &core.Checkpoint{Steps: []*core.StepState{stepState("a", core.StatusCompleted, now)}}))
			updatedAt := func() int64 {
				var at int64
				require.NoError(t, d.Bun().NewSelect().Table("workflow_executions").Column("updated_at").Where("id = 'x'").Scan(ctx, &at))
				return at
			}
			written := updatedAt()
			require.NotZero(t, written)
			got, err := store.GetExecution(ctx, "x")
			require.NoError(t, err)
			require.Equal(t, core.StatusCompleted, got.Steps["a"].Status)
			require.Equal(t, written, updatedAt())
		})
	}
}
