package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// pipelineDB opens a fresh schema of the PostgreSQL test database.
func pipelineDB(t *testing.T) *DB {
	t.Helper()
	base := os.Getenv("WEFT_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set WEFT_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("weft_test_%d", rand.Int64N(1<<40))
	admin, err := Open(ctx, base, Options{NoMigrate: true})
	require.NoError(t, err)
	_, err = admin.Bun().ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Bun().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	d, err := Open(ctx, u.String(), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// On PostgreSQL a batch of the engine's records is pipelined: every
// statement in one round trip. A write whose lease is lost, or whose
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
