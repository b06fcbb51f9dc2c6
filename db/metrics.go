package db

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// A workflow's metrics are computed from its executions when asked, with
// aggregates both dialects run the same way (no percentile functions: SQLite
// has none). Three queries, each over the (workflow_id, id) index:
//   - counts, summed and longest durations and the newest creation time,
//     grouped by status, over the whole window;
//   - the durations of the sample (the most recent finished executions of
//     the window, at most core.MetricsSampleLimit), sorted here for the
//     percentiles;
//   - the sample's step attempts, grouped by step key (step_executions'
//     primary key starts with the execution id).
// The work is bounded by the sample for all but the first query, which reads
// one index entry and row per execution of the window.

// finishedStatuses are the statuses of an execution that has ended.
var finishedStatuses = []string{
	string(ExecutionCompleted), string(ExecutionFailed), string(ExecutionCancelled), string(ExecutionTimedOut),
}

// allStatuses are the statuses an execution can have, for ByStatus.
var allStatuses = []core.Status{core.StatusPending, core.StatusRunning, core.StatusWaiting, core.StatusCompleted,
	core.StatusFailed, core.StatusCancelled, core.StatusTimedOut}

// WorkflowMetrics summarises the executions of a workflow created in
// [from, to) (zero bounds are open). It does not check that the workflow
// exists: one without executions has zero counts.
func (s *Store) WorkflowMetrics(ctx context.Context, workflowID string, from, to time.Time) (*core.WorkflowMetrics, error) {
	m := &core.WorkflowMetrics{WorkflowID: workflowID, From: from, To: to, ByStatus: map[core.Status]int64{},
		Steps: []core.StepMetrics{}}
	for _, st := range allStatuses {
		m.ByStatus[st] = 0
	}
	window := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("workflow_id = ?", workflowID)
		if !from.IsZero() {
			q = q.Where("created_at >= ?", micros(from))
		}
		if !to.IsZero() {
			q = q.Where("created_at < ?", micros(to))
		}
		return q
	}

	var groups []struct {
		Status  string `bun:"status"`
		N       int64  `bun:"n"`
		SumMs   int64  `bun:"sum_ms"`
		MaxMs   int64  `bun:"max_ms"`
		Created int64  `bun:"created"`
	}
	err := window(s.db.bun.NewSelect().TableExpr("workflow_executions")).
		ColumnExpr("status, COUNT(*) AS n").
		ColumnExpr("CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS sum_ms").
		ColumnExpr("CAST(COALESCE(MAX(duration_ms), 0) AS BIGINT) AS max_ms").
		ColumnExpr("CAST(COALESCE(MAX(created_at), 0) AS BIGINT) AS created").
		Group("status").Scan(ctx, &groups)
	if err != nil {
		return nil, fmt.Errorf("metrics of workflow %s: %w", workflowID, err)
	}
	var sumMs, maxMs, last int64
	for _, g := range groups {
		m.ByStatus[core.Status(g.Status)] += g.N
		m.TotalExecutions += g.N
		last = max(last, g.Created)
		if slices.Contains(finishedStatuses, g.Status) {
			m.Finished += g.N
			sumMs += g.SumMs
			maxMs = max(maxMs, g.MaxMs)
		}
	}
	m.LastExecutionAt = fromMicros(last)
	if m.Finished > 0 {
		rate := float64(m.ByStatus[core.StatusCompleted]) / float64(m.Finished)
		avg := float64(sumMs) / float64(m.Finished)
		m.SuccessRate, m.AvgDurationMs, m.MaxDurationMs = &rate, &avg, &maxMs
	} else {
		return m, nil
	}

	sample := func() *bun.SelectQuery {
		return window(s.db.bun.NewSelect().TableExpr("workflow_executions")).
			Where("status IN (?)", bun.In(finishedStatuses)).
			OrderExpr("id DESC").Limit(core.MetricsSampleLimit)
	}
	var durations []int64
	if err := sample().Column("duration_ms").Scan(ctx, &durations); err != nil {
		return nil, fmt.Errorf("metrics of workflow %s: durations: %w", workflowID, err)
	}
	m.SampleSize = len(durations)
	if len(durations) > 0 {
		slices.Sort(durations)
		p50, p95 := percentile(durations, 50), percentile(durations, 95)
		m.P50DurationMs, m.P95DurationMs = &p50, &p95
	}

	steps, err := s.stepMetrics(ctx, sample().Column("id"))
	if err != nil {
		return nil, fmt.Errorf("metrics of workflow %s: steps: %w", workflowID, err)
	}
	m.Steps = steps
	return m, nil
}

// percentile is the p-th percentile of sorted values by the nearest-rank
// method: the smallest value with at least p % of the values at or below it.
func percentile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// stepMetrics counts the step attempts of the executions ids selects, per
// step id.
func (s *Store) stepMetrics(ctx context.Context, ids *bun.SelectQuery) ([]core.StepMetrics, error) {
	var rows []struct {
		StepKey        string `bun:"step_key"`
		StepType       string `bun:"step_type"`
		Runs           int64  `bun:"runs"`
		Completed      int64  `bun:"completed"`
		Failed         int64  `bun:"failed"`
		Skipped        int64  `bun:"skipped"`
		Attempts       int64  `bun:"attempts"`
		Retries        int64  `bun:"retries"`
		FailedAttempts int64  `bun:"failed_attempts"`
		RunMs          int64  `bun:"run_ms"`
	}
	// One row per step key has attempt <= 1 (0 for a step that never ran):
	// it carries the step's outcome (step_status is the same on all its rows).
	err := s.db.bun.NewSelect().TableExpr("step_executions").
		ColumnExpr("step_key, step_type").
		ColumnExpr("CAST(SUM(CASE WHEN attempt = 1 THEN 1 ELSE 0 END) AS BIGINT) AS runs").
		ColumnExpr("CAST(SUM(CASE WHEN attempt <= 1 AND step_status = 'COMPLETED' THEN 1 ELSE 0 END) AS BIGINT) AS completed").
		ColumnExpr("CAST(SUM(CASE WHEN attempt <= 1 AND step_status IN ('FAILED', 'TIMED_OUT', 'INTERRUPTED', 'CANCELLED') THEN 1 ELSE 0 END) AS BIGINT) AS failed").
		ColumnExpr("CAST(SUM(CASE WHEN attempt <= 1 AND step_status = 'SKIPPED' THEN 1 ELSE 0 END) AS BIGINT) AS skipped").
		ColumnExpr("CAST(SUM(CASE WHEN attempt >= 1 THEN 1 ELSE 0 END) AS BIGINT) AS attempts").
		ColumnExpr("CAST(SUM(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) AS BIGINT) AS retries").
		ColumnExpr("CAST(SUM(CASE WHEN attempt >= 1 AND status IN ('FAILED', 'TIMED_OUT') THEN 1 ELSE 0 END) AS BIGINT) AS failed_attempts").
		ColumnExpr("CAST(SUM(CASE WHEN attempt = 1 THEN step_duration_ms ELSE 0 END) AS BIGINT) AS run_ms").
		Where("execution_id IN (?)", ids).
		Group("step_key", "step_type").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	// Fold the keys of repeated runs (each[2]/call, send[3]) into their step id.
	byID := map[string]*core.StepMetrics{}
	runMs := map[string]int64{}
	for _, r := range rows {
		id := stepIDOf(r.StepKey)
		m := byID[id]
		if m == nil {
			m = &core.StepMetrics{StepID: id, Type: r.StepType}
			byID[id] = m
		}
		m.Runs += r.Runs
		m.Completed += r.Completed
		m.Failed += r.Failed
		m.Skipped += r.Skipped
		m.Attempts += r.Attempts
		m.Retries += r.Retries
		m.FailedAttempts += r.FailedAttempts
		runMs[id] += r.RunMs
	}
	out := make([]core.StepMetrics, 0, len(byID))
	for id, m := range byID {
		if m.Runs > 0 {
			avg := float64(runMs[id]) / float64(m.Runs)
			m.AvgDurationMs = &avg
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b core.StepMetrics) int { return strings.Compare(a.StepID, b.StepID) })
	return out, nil
}

// stepIDOf is the step id of a step record's key: the key's last part
// without its item index ("each[2]/call" → "call", "send[3]" → "send").
// Step ids have neither '/' nor '['.
func stepIDOf(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		key = key[i+1:]
	}
	id, _, _ := strings.Cut(key, "[")
	return id
}
