// Package storetest is the conformance suite of core.Store: every store
// (in memory, SQLite, PostgreSQL) must pass it, so the engine can rely on the
// same semantics whatever keeps its data. Like testing/fstest, it is called
// from the store's own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store { return newStore(t) })
//	}
package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Run runs the suite; open returns an empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s core.Store)
	}{
		{"ExecutionRoundTrip", executionRoundTrip},
		{"ClaimRules", claimRules},
		{"ClaimsAreExclusive", claimsAreExclusive},
		{"LeaseGuardsWrites", leaseGuardsWrites},
		{"Renew", renew},
		{"NextWake", nextWake},
		{"Definitions", definitions},
		{"Breakers", breakers},
		{"Cancel", cancel},
		{"Reopen", reopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newExecution(id string, status core.Status, created time.Time) *core.Execution {
	return &core.Execution{ID: id, WorkflowID: "wf", WorkflowVersion: 1, WorkflowName: "Test", Status: status,
		Input: map[string]any{"leadId": "42"}, CreatedAt: created, Steps: map[string]*core.StepState{}}
}

func claimOne(t *testing.T, s core.Store, owner string, now time.Time) core.Claimed {
	t.Helper()
	cs, err := s.Claim(context.Background(), owner, 1, now, time.Minute)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	return cs[0]
}

func executionRoundTrip(t *testing.T, s core.Store) {
	ctx := context.Background()
	x := newExecution("x1", core.StatusPending, t0)
	require.NoError(t, s.CreateExecution(ctx, x, nil))
	c := claimOne(t, s, "a", t0)
	require.Equal(t, "x1", c.Execution.ID)
	require.Equal(t, map[string]any{"leadId": "42"}, c.Execution.Input)
	require.True(t, c.Execution.CreatedAt.Equal(t0))

	idx := 2
	step := &core.StepState{
		ID: "call", Type: "HTTP_REQUEST", Status: core.StatusCompleted, Attempts: 2,
		Input:     map[string]any{"url": "http://x"},
		Output:    map[string]any{"status": float64(200), "body": []any{"a", float64(1), nil, true}},
		StartedAt: t0, FinishedAt: t0.Add(3 * time.Second), DurationMs: 3000,
		History: []core.Attempt{
			{Attempt: 1, Status: core.StatusFailed, Error: &sdk.Error{Code: "HTTP_503", Message: "down", Retryable: true},
				StartedAt: t0, FinishedAt: t0.Add(time.Second), DurationMs: 1000, RetryDelayMs: 1000},
			{Attempt: 2, Status: core.StatusCompleted, StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(3 * time.Second), DurationMs: 1000,
				Logs: []string{"scoring", "ünïcode ✓"}},
		},
	}
	nested := &core.StepState{ID: "each[2]", Type: "echo", Status: core.StatusFailed, Parent: "each", Index: &idx, Attempts: 1,
		Error:     &sdk.Error{Code: "BOOM", Message: "no", Details: map[string]any{"k": "v"}},
		StartedAt: t0, FinishedAt: t0, History: []core.Attempt{{Attempt: 1, Status: core.StatusFailed,
			Error: &sdk.Error{Code: "BOOM", Message: "no"}, StartedAt: t0, FinishedAt: t0}}}
	skipped := &core.StepState{ID: "later", Type: "noop", Status: core.StatusSkipped, FinishedAt: t0, History: []core.Attempt{}}
	res := core.StepResult{StepID: "call", Status: core.StatusCompleted, OK: true, Output: step.Output, Skips: []string{"b", "c"}}
	hdr := *c.Execution
	hdr.Status, hdr.StartedAt = core.StatusRunning, t0
	hdr.FailedStep = "each"
	hdr.Error = &sdk.Error{Code: "BOOM", Message: "step failed"}
	require.NoError(t, s.Checkpoint(ctx, "x1", c.Lease, &core.Checkpoint{
		Steps: []*core.StepState{step, nested, skipped}, Results: []core.StepResult{res}, Execution: &hdr}))

	rs, err := s.LoadRun(ctx, "x1")
	require.NoError(t, err)
	require.Equal(t, res, rs.Results["call"])
	for _, want := range []*core.StepState{step, nested, skipped} {
		got := rs.Steps[want.ID]
		require.NotNil(t, got, want.ID)
		require.Equal(t, normalizeTimes(want), normalizeTimes(got), want.ID)
	}
	x2, err := s.GetExecution(ctx, "x1")
	require.NoError(t, err)
	require.Equal(t, core.StatusRunning, x2.Status)
	require.Equal(t, "each", x2.FailedStep)
	require.Equal(t, "BOOM", x2.Error.Code)
	require.Len(t, x2.Steps, 3)

	// A step saved again (a later attempt) replaces its rows.
	step.Attempts = 3
	step.History = append(step.History, core.Attempt{Attempt: 3, Status: core.StatusRunning, StartedAt: t0.Add(4 * time.Second)})
	step.Status = core.StatusRunning
	require.NoError(t, s.Checkpoint(ctx, "x1", c.Lease, &core.Checkpoint{Steps: []*core.StepState{step}}))
	rs, err = s.LoadRun(ctx, "x1")
	require.NoError(t, err)
	require.Equal(t, 3, rs.Steps["call"].Attempts)
	require.Equal(t, core.StatusRunning, rs.Steps["call"].Status)
	require.Len(t, rs.Steps["call"].History, 3)

	_, err = s.GetExecution(ctx, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)
}

// normalizeTimes compares times by instant, whatever their location.
func normalizeTimes(s *core.StepState) *core.StepState {
	c := s.Clone()
	fix := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	fix(&c.StartedAt)
	fix(&c.FinishedAt)
	fix(&c.WakeAt)
	for i := range c.History {
		fix(&c.History[i].StartedAt)
		fix(&c.History[i].FinishedAt)
	}
	return c
}

func claimRules(t *testing.T, s core.Store) {
	ctx := context.Background()
	mk := func(id string, st core.Status, created time.Time, lease *core.Lease, wake time.Time) {
		x := newExecution(id, st, created)
		x.WakeAt = wake
		require.NoError(t, s.CreateExecution(ctx, x, lease))
	}
	mk("pending", core.StatusPending, t0, nil, time.Time{})
	mk("waiting_later", core.StatusWaiting, t0.Add(time.Second), nil, t0.Add(time.Hour))
	mk("waiting_due", core.StatusWaiting, t0.Add(2*time.Second), nil, t0.Add(time.Minute))
	mk("running_alive", core.StatusRunning, t0.Add(3*time.Second), &core.Lease{Owner: "b", Token: 7, Until: t0.Add(10 * time.Minute)}, time.Time{})
	mk("running_dead", core.StatusRunning, t0.Add(4*time.Second), &core.Lease{Owner: "c", Token: 7, Until: t0.Add(time.Minute)}, time.Time{})
	mk("done", core.StatusCompleted, t0.Add(5*time.Second), nil, time.Time{})

	now := t0.Add(2 * time.Minute)
	cs, err := s.Claim(ctx, "a", 10, now, time.Minute)
	require.NoError(t, err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Execution.ID)
		require.Equal(t, "a", c.Lease.Owner)
		require.True(t, c.Lease.Until.Equal(now.Add(time.Minute)))
	}
	require.Equal(t, []string{"pending", "waiting_due", "running_dead"}, ids, "oldest first; only what is ready")
	for _, c := range cs {
		if c.Execution.ID == "running_dead" {
			require.NotEqual(t, int64(7), c.Lease.Token, "a new claim gets a new token")
		}
	}
	cs, err = s.Claim(ctx, "a", 10, now, time.Minute)
	require.NoError(t, err)
	require.Empty(t, cs, "claimed executions are not claimed again while leased")

	cs, err = s.Claim(ctx, "a", 1, t0.Add(2*time.Hour), time.Minute)
	require.NoError(t, err)
	require.Len(t, cs, 1, "the limit is respected")
}

func claimsAreExclusive(t *testing.T, s core.Store) {
	ctx := context.Background()
	const n = 60
	for i := range n {
		require.NoError(t, s.CreateExecution(ctx, newExecution(fmt.Sprintf("x%02d", i), core.StatusPending, t0.Add(time.Duration(i)*time.Millisecond)), nil))
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 6 {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for {
				cs, err := s.Claim(ctx, owner, 3, t0.Add(time.Second), time.Minute)
				require.NoError(t, err)
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					prev, dup := seen[c.Execution.ID]
					require.False(t, dup, "%s claimed by %s and %s", c.Execution.ID, prev, owner)
					seen[c.Execution.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n)
}

func leaseGuardsWrites(t *testing.T, s core.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateExecution(ctx, newExecution("x", core.StatusPending, t0), nil))
	old := claimOne(t, s, "a", t0)
	// a stalls; its lease expires and b takes the execution over.
	taken := claimOne(t, s, "b", t0.Add(2*time.Minute))
	late := &core.StepState{ID: "s", Type: "t", Status: core.StatusCompleted, History: []core.Attempt{{Attempt: 1, Status: core.StatusCompleted}}}
	err := s.Checkpoint(ctx, "x", old.Lease, &core.Checkpoint{Steps: []*core.StepState{late},
		Results: []core.StepResult{{StepID: "s", Status: core.StatusCompleted, OK: true}}})
	require.ErrorIs(t, err, core.ErrLeaseLost, "a writer that lost its lease writes nothing")
	rs, err := s.LoadRun(ctx, "x")
	require.NoError(t, err)
	require.Empty(t, rs.Steps)
	require.Empty(t, rs.Results)
	require.NoError(t, s.Checkpoint(ctx, "x", taken.Lease, &core.Checkpoint{Steps: []*core.StepState{late}}))

	// Release gives the execution back: claimable at once.
	hdr := newExecution("x", core.StatusRunning, t0)
	require.NoError(t, s.Checkpoint(ctx, "x", taken.Lease, &core.Checkpoint{Execution: hdr, Release: true}))
	again := claimOne(t, s, "c", t0.Add(2*time.Minute))
	require.Equal(t, "x", again.Execution.ID)
	require.Error(t, s.Checkpoint(ctx, "x", taken.Lease, &core.Checkpoint{}))
}

func renew(t *testing.T, s core.Store) {
	ctx := context.Background()
	for _, id := range []string{"a1", "a2"} {
		require.NoError(t, s.CreateExecution(ctx, newExecution(id, core.StatusPending, t0), nil))
	}
	cs, err := s.Claim(ctx, "a", 2, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	leases := map[string]int64{}
	for _, c := range cs {
		leases[c.Execution.ID] = c.Lease.Token
	}
	lost, err := s.Renew(ctx, "a", leases, t0.Add(10*time.Minute))
	require.NoError(t, err)
	require.Empty(t, lost)
	cs, err = s.Claim(ctx, "b", 2, t0.Add(5*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Empty(t, cs, "renewed leases hold")
	cs, err = s.Claim(ctx, "b", 1, t0.Add(11*time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	lost, err = s.Renew(ctx, "a", leases, t0.Add(20*time.Minute))
	require.NoError(t, err)
	require.Equal(t, []string{cs[0].Execution.ID}, lost)
}

func nextWake(t *testing.T, s core.Store) {
	ctx := context.Background()
	_, ok, err := s.NextWake(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	for i, d := range []time.Duration{time.Hour, time.Minute, 2 * time.Hour} {
		x := newExecution(fmt.Sprint("w", i), core.StatusWaiting, t0)
		x.WakeAt = t0.Add(d)
		require.NoError(t, s.CreateExecution(ctx, x, nil))
	}
	next, ok, err := s.NextWake(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, next.Equal(t0.Add(time.Minute)), "got %v", next)
}

func definitions(t *testing.T, s core.Store) {
	ctx := context.Background()
	wf := &core.Workflow{Name: "Lead flow", Category: "leads", Steps: []core.Step{{ID: "a", Type: "noop"}}}
	id, v, err := s.SaveDefinition(ctx, wf)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	require.Equal(t, 1, v)
	id2, v2, err := s.SaveDefinition(ctx, wf)
	require.NoError(t, err)
	require.Equal(t, [2]any{id, 1}, [2]any{id2, v2}, "the same definition is the same version")

	changed := *wf
	changed.ID = id
	changed.Steps = []core.Step{{ID: "a", Type: "noop"}, {ID: "b", Type: "noop"}}
	_, v3, err := s.SaveDefinition(ctx, &changed)
	require.NoError(t, err)
	require.Equal(t, 2, v3)

	got, err := s.GetDefinition(ctx, id, 1)
	require.NoError(t, err)
	require.Equal(t, "Lead flow", got.Name)
	require.Len(t, got.Steps, 1)
	got, err = s.GetDefinition(ctx, id, 2)
	require.NoError(t, err)
	require.Len(t, got.Steps, 2)
	_, err = s.GetDefinition(ctx, id, 3)
	require.ErrorIs(t, err, core.ErrNotFound)
}

func breakers(t *testing.T, s core.Store) {
	ctx := context.Background()
	st, err := s.UpdateBreaker(ctx, "crm", func(b *core.BreakerState, exists bool) error {
		require.False(t, exists)
		b.State, b.Config, b.ConfigSource, b.TotalCalls, b.OpenedAt = core.BreakerOpen, core.BreakerConfig{Threshold: 3, Timeout: 1000, HalfOpenMaxCalls: 2}, core.BreakerConfigFromAPI, 9, t0
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "crm", st.ServiceID)
	got, err := s.GetBreaker(ctx, "crm")
	require.NoError(t, err)
	require.Equal(t, core.BreakerOpen, got.State)
	require.Equal(t, core.BreakerConfig{Threshold: 3, Timeout: 1000, HalfOpenMaxCalls: 2}, got.Config)
	require.Equal(t, int64(9), got.TotalCalls)
	require.True(t, got.OpenedAt.Equal(t0))

	_, err = s.UpdateBreaker(ctx, "crm", func(*core.BreakerState, bool) error { return core.ErrSkipUpdate })
	require.ErrorIs(t, err, core.ErrSkipUpdate)

	// Concurrent read-modify-writes are atomic.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := s.UpdateBreaker(ctx, "crm", func(b *core.BreakerState, _ bool) error { b.TotalCalls++; return nil })
			require.NoError(t, err)
		})
	}
	wg.Wait()
	got, err = s.GetBreaker(ctx, "crm")
	require.NoError(t, err)
	require.Equal(t, int64(29), got.TotalCalls)

	_, err = s.UpdateBreaker(ctx, "erp", func(b *core.BreakerState, _ bool) error { b.State = core.BreakerClosed; return nil })
	require.NoError(t, err)
	list, err := s.ListBreakers(ctx)
	require.NoError(t, err)
	ids := []string{}
	for _, b := range list {
		ids = append(ids, b.ServiceID)
	}
	require.True(t, sort.StringsAreSorted(ids))
	require.Equal(t, []string{"crm", "erp"}, ids)
	require.NoError(t, s.DeleteBreaker(ctx, "crm"))
	require.ErrorIs(t, s.DeleteBreaker(ctx, "crm"), core.ErrNotFound)
	_, err = s.GetBreaker(ctx, "crm")
	require.ErrorIs(t, err, core.ErrNotFound)
}

func cancel(t *testing.T, s core.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateExecution(ctx, newExecution("run", core.StatusPending, t0), nil))
	require.NoError(t, s.CreateExecution(ctx, newExecution("queued", core.StatusPending, t0.Add(time.Second)), nil))
	held := claimOne(t, s, "a", t0)
	require.Equal(t, "run", held.Execution.ID)
	started := newExecution("run", core.StatusRunning, t0)
	started.StartedAt = t0
	running := &core.StepState{ID: "call", Type: "HTTP_REQUEST", Status: core.StatusRunning, StartedAt: t0,
		Attempts: 1, History: []core.Attempt{{Attempt: 1, Status: core.StatusRunning, StartedAt: t0}}}
	done := &core.StepState{ID: "first", Type: "WAIT", Status: core.StatusCompleted, Attempts: 1,
		History: []core.Attempt{{Attempt: 1, Status: core.StatusCompleted, StartedAt: t0, FinishedAt: t0}}}
	require.NoError(t, s.Checkpoint(ctx, "run", held.Lease, &core.Checkpoint{Execution: started}))
	require.NoError(t, s.Checkpoint(ctx, "run", held.Lease, &core.Checkpoint{Steps: []*core.StepState{done, running},
		Results: []core.StepResult{{StepID: "first", Status: core.StatusCompleted, OK: true}}}))

	why := &sdk.Error{Code: sdk.CodeCancelled, Message: "cancelled by a test"}
	at := t0.Add(3 * time.Second)
	require.NoError(t, s.Cancel(ctx, "run", why, at))
	x, err := s.GetExecution(ctx, "run")
	require.NoError(t, err)
	require.Equal(t, core.StatusCancelled, x.Status)
	require.Equal(t, why.Code, x.Error.Code)
	require.Equal(t, int64(3000), x.DurationMs)
	require.True(t, x.FinishedAt.Equal(at))
	require.Equal(t, core.StatusCancelled, x.Steps["call"].Status, "the step in flight")
	require.Equal(t, core.StatusCancelled, x.Steps["call"].History[0].Status)
	require.Equal(t, core.StatusCompleted, x.Steps["first"].Status, "a finished step keeps its status")
	// The engine that ran it has lost its lease: it writes nothing more.
	late := &core.StepState{ID: "call", Type: "HTTP_REQUEST", Status: core.StatusCompleted, Attempts: 1,
		History: []core.Attempt{{Attempt: 1, Status: core.StatusCompleted, StartedAt: t0}}}
	require.ErrorIs(t, s.Checkpoint(ctx, "run", held.Lease, &core.Checkpoint{Steps: []*core.StepState{late}}), core.ErrLeaseLost)
	lost, err := s.Renew(ctx, "a", map[string]int64{"run": held.Lease.Token}, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, []string{"run"}, lost)

	// A queued execution is cancelled before it runs: nobody claims it.
	require.NoError(t, s.Cancel(ctx, "queued", why, at))
	cs, err := s.Claim(ctx, "b", 10, t0.Add(time.Hour), time.Minute)
	require.NoError(t, err)
	require.Empty(t, cs)

	require.ErrorIs(t, s.Cancel(ctx, "run", why, at), core.ErrConflict, "already finished")
	require.ErrorIs(t, s.Cancel(ctx, "nope", why, at), core.ErrNotFound)
}

func reopen(t *testing.T, s core.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateExecution(ctx, newExecution("x", core.StatusPending, t0), nil))
	c := claimOne(t, s, "a", t0)
	ok := &core.StepState{ID: "get", Type: "HTTP_REQUEST", Status: core.StatusCompleted, Attempts: 1, Output: map[string]any{"n": 1.0},
		History: []core.Attempt{{Attempt: 1, Status: core.StatusCompleted, StartedAt: t0, FinishedAt: t0}}}
	bad := &core.StepState{ID: "post", Type: "HTTP_REQUEST", Status: core.StatusFailed, Attempts: 2,
		Error:   &sdk.Error{Code: "HTTP_503", Message: "unavailable"},
		History: []core.Attempt{{Attempt: 1, Status: core.StatusFailed, StartedAt: t0}, {Attempt: 2, Status: core.StatusFailed, StartedAt: t0}}}
	require.NoError(t, s.Checkpoint(ctx, "x", c.Lease, &core.Checkpoint{Steps: []*core.StepState{ok, bad}, Results: []core.StepResult{
		{StepID: "get", Status: core.StatusCompleted, OK: true, Output: map[string]any{"n": 1.0}},
		{StepID: "post", Status: core.StatusFailed, Error: bad.Error}}}))
	failed := newExecution("x", core.StatusFailed, t0)
	failed.Error, failed.FailedStep, failed.FinishedAt = bad.Error, "post", t0.Add(time.Second)
	require.NoError(t, s.Checkpoint(ctx, "x", c.Lease, &core.Checkpoint{Execution: failed, Release: true}))

	require.NoError(t, s.Reopen(ctx, "x", []string{"post"}, []string{"post"}, t0.Add(time.Minute)))
	x, err := s.GetExecution(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, core.StatusPending, x.Status)
	require.Nil(t, x.Error)
	require.Empty(t, x.FailedStep)
	require.True(t, x.FinishedAt.IsZero())
	rs, err := s.LoadRun(ctx, "x")
	require.NoError(t, err)
	require.Contains(t, rs.Results, "get", "a completed step keeps its result")
	require.Equal(t, map[string]any{"n": 1.0}, rs.Results["get"].Output)
	require.NotContains(t, rs.Results, "post")
	require.Equal(t, core.StatusPending, rs.Steps["post"].Status)
	require.Len(t, rs.Steps["post"].History, 2, "its attempts are kept")
	require.Equal(t, core.StatusCompleted, rs.Steps["get"].Status)
	// Claimable again, at once.
	again := claimOne(t, s, "b", t0.Add(time.Minute))
	require.Equal(t, "x", again.Execution.ID)

	require.ErrorIs(t, s.Reopen(ctx, "x", nil, nil, t0), core.ErrConflict, "not finished")
	require.ErrorIs(t, s.Reopen(ctx, "nope", nil, nil, t0), core.ErrNotFound)

	// The retry's run: a step skipped before (no attempt) and the failed
	// one both complete now, and the record says so.
	skipped := &core.StepState{ID: "after", Type: "DATA_TRANSFORM", Status: core.StatusSkipped}
	require.NoError(t, s.Checkpoint(ctx, "x", again.Lease, &core.Checkpoint{Steps: []*core.StepState{skipped}}))
	t1 := t0.Add(2 * time.Minute)
	post := rs.Steps["post"].Clone()
	post.Status, post.Error, post.Attempts, post.StartedAt, post.FinishedAt = core.StatusCompleted, nil, 3, t1, t1
	post.History = append(post.History, core.Attempt{Attempt: 3, Status: core.StatusCompleted, StartedAt: t1, FinishedAt: t1})
	after := &core.StepState{ID: "after", Type: "DATA_TRANSFORM", Status: core.StatusCompleted, Attempts: 1, StartedAt: t1, FinishedAt: t1,
		History: []core.Attempt{{Attempt: 1, Status: core.StatusCompleted, StartedAt: t1, FinishedAt: t1}}}
	require.NoError(t, s.Checkpoint(ctx, "x", again.Lease, &core.Checkpoint{Steps: []*core.StepState{post, after}}))
	x, err = s.GetExecution(ctx, "x")
	require.NoError(t, err)
	for _, id := range []string{"get", "post", "after"} {
		require.Equal(t, core.StatusCompleted, x.Steps[id].Status, "step %s after the retry", id)
	}
	require.Nil(t, x.Steps["post"].Error, "the failed attempts' error is not the step's any more")
	require.Equal(t, 3, x.Steps["post"].Attempts)
	require.Len(t, x.Steps["post"].History, 3)
	require.Equal(t, 1, x.Steps["after"].Attempts)
}
