package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

// TestWorkflowMetrics checks the execution figures of a workflow's metrics
// on executions of known statuses and durations (the server's tests cover
// the step counts, from real runs).
func TestWorkflowMetrics(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store()
		// wf: executions a minute apart: 20 finished ones lasting 1 … 20 s
		// (every fourth FAILED, the 10th CANCELLED), then RUNNING and
		// PENDING ones; another workflow's execution lasts longer.
		add := func(wf string, i int, status core.Status, ms int64) time.Time {
			at := epoch.Add(time.Duration(i) * time.Minute)
			x := &core.Execution{ID: uuid.Must(uuid.NewV7()).String(), WorkflowID: wf, WorkflowVersion: 1, WorkflowName: wf,
				Status: status, CreatedAt: at, DurationMs: ms, Steps: map[string]*core.StepState{}}
			if status.Terminal() {
				x.StartedAt, x.FinishedAt = at, at.Add(time.Duration(ms)*time.Millisecond)
			}
			require.NoError(t, s.CreateExecution(ctx, x, nil))
			return at
		}
		created := map[int]time.Time{}
		for i := 1; i <= 20; i++ {
			st := core.StatusCompleted
			switch {
			case i%4 == 0:
				st = core.StatusFailed
			case i == 10:
				st = core.StatusCancelled
			}
			created[i] = add("wf", i, st, int64(i)*1000)
		}
		created[21] = add("wf", 21, core.StatusRunning, 0)
		created[22] = add("wf", 22, core.StatusPending, 0)
		add("other", 23, core.StatusCompleted, 99000)

		ms := func(v int64) *int64 { return &v }
		f := func(v float64) *float64 { return &v }
		tests := []struct {
			name              string
			from, to          time.Time
			total, finished   int64
			completed, failed int64
			rate, avg         *float64
			max, p50, p95     *int64
			last              time.Time
		}{
			{name: "all", total: 22, finished: 20, completed: 14, failed: 5, rate: f(14.0 / 20), avg: f(10500),
				max: ms(20000), p50: ms(10000), p95: ms(19000), last: created[22]},
			{name: "window", from: created[1], to: created[5], total: 4, finished: 4, completed: 3, failed: 1,
				rate: f(0.75), avg: f(2500), max: ms(4000), p50: ms(2000), p95: ms(4000), last: created[4]},
			{name: "only unfinished", from: created[21], total: 2, last: created[22]},
			{name: "empty", from: created[22].Add(time.Hour)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, err := s.WorkflowMetrics(ctx, "wf", tt.from, tt.to)
				require.NoError(t, err)
				require.Equal(t, tt.total, m.TotalExecutions)
				require.Equal(t, tt.finished, m.Finished)
				require.Equal(t, tt.completed, m.ByStatus[core.StatusCompleted])
				require.Equal(t, tt.failed, m.ByStatus[core.StatusFailed])
				require.Len(t, m.ByStatus, 7, "every status, 0 or not")
				require.Equal(t, tt.rate, m.SuccessRate)
				require.Equal(t, tt.avg, m.AvgDurationMs)
				require.Equal(t, tt.max, m.MaxDurationMs)
				require.Equal(t, tt.p50, m.P50DurationMs)
				require.Equal(t, tt.p95, m.P95DurationMs)
				require.Equal(t, int(tt.finished), m.SampleSize)
				require.True(t, tt.last.Equal(m.LastExecutionAt), "last %v, want %v", m.LastExecutionAt, tt.last)
				require.NotNil(t, m.Steps)
			})
		}
	})
}

// TestListExecutionsByStatuses lists executions in any of several
// statuses, as /api/orchestration/active does.
func TestListExecutionsByStatuses(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := openDB(t, b.dsn(t)).Store()
		statuses := []core.Status{core.StatusPending, core.StatusRunning, core.StatusWaiting, core.StatusCompleted,
			core.StatusFailed, core.StatusWaiting, core.StatusPending}
		for i, st := range statuses {
			x := &core.Execution{ID: uuid.Must(uuid.NewV7()).String(), WorkflowID: "wf", WorkflowVersion: 1,
				WorkflowName: fmt.Sprintf("x%d", i), Status: st, CreatedAt: epoch.Add(time.Duration(i) * time.Minute),
				Steps: map[string]*core.StepState{}}
			require.NoError(t, s.CreateExecution(ctx, x, nil))
		}
		unfinished := []core.Status{core.StatusPending, core.StatusRunning, core.StatusWaiting}
		for _, tt := range []struct {
			name   string
			filter core.ExecutionFilter
			want   []string
		}{
			{"unfinished", core.ExecutionFilter{Statuses: unfinished}, []string{"x6", "x5", "x2", "x1", "x0"}},
			{"unfinished and waiting", core.ExecutionFilter{Statuses: unfinished, Status: core.StatusWaiting}, []string{"x5", "x2"}},
			{"unfinished and completed", core.ExecutionFilter{Statuses: unfinished, Status: core.StatusCompleted}, nil},
			{"finished", core.ExecutionFilter{Statuses: []core.Status{core.StatusCompleted, core.StatusFailed}}, []string{"x4", "x3"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				for _, limit := range []int{1, 2, 0} {
					f := tt.filter
					f.Limit = limit
					got := walk(t, limit, func(cursor string) (core.Page[*core.Execution], error) {
						f.Cursor = cursor
						return s.ListExecutions(ctx, f)
					})
					var names []string
					for _, x := range got {
						names = append(names, x.WorkflowName)
					}
					require.Equal(t, tt.want, names, "limit %d", limit)
				}
			})
		}
	})
}
