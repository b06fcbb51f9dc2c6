package db

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db/dbtest"
)

// pipelineDB opens a fresh schema of the PostgreSQL test database.
func pipelineDB(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), dbtest.PostgresDSN(t), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// On PostgreSQL a batch of the engine's records is pipelined: BEGIN, every
// statement and COMMIT in one round trip. A write whose lease is lost, or whose
// statement fails, fails alone — the batch is run again statement by
// statement — and the others commit.
func TestPipelinedBatch(t *testing.T) {
	t.Parallel()
	d := pipelineDB(t)
	ctx := context.Background()
	store := d.Store()
	now := time.Now()
	lease := core.Lease{Owner: "me", Token: 1, Until: now.Add(time.Minute)}
	for _, id := range []string{"a", "b", "c"} {
		x := &core.Execution{ID: id, WorkflowID: "wf", WorkflowVersion: 1, Status: core.StatusRunning, CreatedAt: now, StartedAt: now}
		require.NoError(t, store.CreateExecution(ctx, x, &lease))
		require.NoError(t, d.flushHeld(id)) // in the database now
	}
	// step writes a step row of execution id under the lease with token.
	step := func(id, key string, token int64) *op {
		row := StepExecution{ExecutionID: id, StepKey: key, Attempt: 1, StepID: key, StepType: "HTTP_REQUEST",
			Status: ExecutionStatus(core.StatusCompleted), StepStatus: ExecutionStatus(core.StatusCompleted)}
		return &op{ctx: ctx, piped: true, done: make(chan error, 1), fn: func(ctx context.Context, tx bun.Tx) error {
			if err := d.execGuarded(ctx, tx, sqlGuard, micros(now), id, "me", token); err != nil {
				return err
			}
			return d.upsertSteps(ctx, tx, []StepExecution{row})
		}}
	}
	stored := func(id, key string) bool {
		n, err := d.Bun().NewSelect().Table("step_executions").Where("execution_id = ? AND step_key = ?", id, key).Count(ctx)
		require.NoError(t, err)
		return n == 1
	}
	c := d.batch
	// The committer's loop is idle (nothing is queued): the test runs a
	// batch on its own.
	before := c.pipelined
	errs := c.commit([]*op{step("a", "one", 1), step("b", "one", 1), step("c", "one", 1)})
	require.Equal(t, []error{nil, nil, nil}, errs)
	require.Equal(t, before+1, c.pipelined, "the batch was pipelined")

	// A lost lease alone stops the pipelined commit too (its guard raises),
	// and only its write fails.
	errs = c.commit([]*op{step("a", "lost", 1), step("b", "lost", 2)})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], core.ErrLeaseLost)
	require.True(t, stored("a", "lost"))
	require.False(t, stored("b", "lost"), "a write whose lease is lost is not made")
	require.Equal(t, before+1, c.pipelined, "the batch with a lost lease was run statement by statement")

	bad := step("c", "two", 1)
	bad.fn = func(ctx context.Context, tx bun.Tx) error {
		_, err := d.exec(ctx, tx, "INSERT INTO step_executions (execution_id) VALUES (?)", "c") // NOT NULL columns missing
		return err
	}
	errs = c.commit([]*op{step("a", "two", 1), step("b", "two", 2), bad})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], core.ErrLeaseLost)
	require.ErrorContains(t, errs[2], "null value")
	require.True(t, stored("a", "two"), "the write beside the failing ones is committed")
	require.False(t, stored("b", "two"), "a write whose lease is lost is not made")
	require.False(t, stored("c", "two"), "a failed write is not made")
	require.Equal(t, before+1, c.pipelined, "the failing batch was run statement by statement")
}
