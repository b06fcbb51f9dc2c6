package core_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// hangGuard bounds every wait of these tests on something that must happen:
// a guard against a hang, far above what any of them needs under -race on a
// busy machine, never a measure of speed.
const hangGuard = 2 * time.Minute

// waitFor polls cond until it holds; the store is shared with goroutines of
// the engine under test, which this test does not control.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func statusOf(t *testing.T, store core.Store, id string) core.Status {
	t.Helper()
	x, err := store.GetExecution(context.Background(), id)
	require.NoError(t, err)
	return x.Status
}

func TestSubmitAndWork(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	store := core.NewMemoryStore()
	eng := core.New(core.Options{Registry: reg, Store: store})
	plan := compile(t, eng, `{"name": "w", "steps": [
		{"id": "a", "type": "echo", "config": {"n": "{{input.n}}"}},
		{"id": "b", "type": "echo", "config": {"twice": "{{ steps.a.output.n * 2 }}"}}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ids []string
	for i := range 20 {
		id, err := eng.Submit(ctx, plan, map[string]any{"n": i})
		require.NoError(t, err)
		require.Equal(t, core.StatusPending, statusOf(t, store, id), "Submit returns before the execution runs")
		ids = append(ids, id)
	}
	done := make(chan error)
	go func() { done <- eng.Work(ctx, core.WorkOptions{Concurrency: 4}) }()
	for i, id := range ids {
		waitFor(t, "execution "+id, func() bool { return statusOf(t, store, id) == core.StatusCompleted })
		x, err := store.GetExecution(ctx, id)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"twice": float64(2 * i)}, x.Output)
		require.Len(t, x.Steps, 2)
	}
	cancel()
	require.NoError(t, <-done)
}

// Long top-level WAITs park their executions in the store: no goroutine per
// execution while they wait, and all wake on time.
func TestParkedWaitsHoldNoGoroutines(t *testing.T) {
	// Not parallel: it counts goroutines.
	reg, _ := newRegistry(t)
	store := core.NewMemoryStore()
	clock := clockwork.NewFakeClock()
	eng := core.New(core.Options{Registry: reg, Store: store, Clock: clock})
	plan := compile(t, eng, `{"name": "nap", "steps": [
		{"id": "nap", "type": "WAIT", "config": {"duration": 3600000}},
		{"id": "after", "type": "echo", "config": {"woke": "{{steps.nap.output.waitedMs}}"}}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2000
	ids := make([]string, n)
	for i := range ids {
		id, err := eng.Submit(ctx, plan, nil)
		require.NoError(t, err)
		ids[i] = id
	}
	before := runtime.NumGoroutine()
	go func() { _ = eng.Work(ctx, core.WorkOptions{Concurrency: 64}) }()
	// A parked execution stays parked until the clock moves: each is looked
	// at until it is, once.
	for _, id := range ids {
		waitFor(t, "execution "+id+" to park", func() bool { return statusOf(t, store, id) == core.StatusWaiting })
	}
	// The last executions' goroutines may still be returning: the count must
	// settle under the margin (one goroutine per parked wait never would).
	waitFor(t, "parked executions to hold no goroutines", func() bool { return runtime.NumGoroutine()-before < 20 })
	x, err := store.GetExecution(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(time.Hour), x.WakeAt)
	require.Equal(t, core.StatusWaiting, x.Steps["nap"].Status)

	clock.Advance(time.Hour - time.Second)
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, core.StatusWaiting, statusOf(t, store, ids[0]), "not before its time")
	clock.Advance(time.Second)
	for _, id := range ids {
		waitFor(t, "execution "+id+" to wake", func() bool { return statusOf(t, store, id) == core.StatusCompleted })
	}
	x, err = store.GetExecution(ctx, ids[n-1])
	require.NoError(t, err)
	require.Equal(t, map[string]any{"woke": float64(3600000)}, x.Output)
	require.Equal(t, 1, x.Steps["nap"].Attempts, "the parked attempt resumes; it is not a new one")
}

// crashingStore stands for a process that died: once crashed, nothing it
// writes reaches the store, and its leases expire.
type crashingStore struct {
	core.Store
	mu      sync.Mutex
	crashed bool
}

func (s *crashingStore) crash() { s.mu.Lock(); s.crashed = true; s.mu.Unlock() }

func (s *crashingStore) dead() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.crashed }

var errDead = errors.New("process died")

func (s *crashingStore) Checkpoint(ctx context.Context, id string, l core.Lease, cp *core.Checkpoint) error {
	if s.dead() {
		return errDead
	}
	return s.Store.Checkpoint(ctx, id, l, cp)
}

func (s *crashingStore) Renew(ctx context.Context, owner string, l map[string]int64, until time.Time) ([]string, error) {
	if s.dead() {
		return nil, errDead
	}
	return s.Store.Renew(ctx, owner, l, until)
}

func (s *crashingStore) Claim(ctx context.Context, owner string, n int, now time.Time, d time.Duration) ([]core.Claimed, error) {
	if s.dead() {
		return nil, errDead
	}
	return s.Store.Claim(ctx, owner, n, now, d)
}

// An engine dies in the middle of an execution; once its lease expires,
// another engine resumes the execution from its checkpoints: steps that
// completed are not run again, the interrupted one runs again with the same
// idempotency key, and an at-most-once step that may have been sent ends
// INTERRUPTED.
func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	var mu sync.Mutex
	calls := map[string]int{}
	gate := make(chan struct{})
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: sdk.NewStep("count",
		func(ctx context.Context, in struct {
			Key   string `json:"key"`
			Block bool   `json:"block"`
		}) (string, error) {
			mu.Lock()
			calls[in.Key]++
			n := calls[in.Key]
			mu.Unlock()
			if in.Block && n == 1 {
				gate <- struct{}{}
				<-ctx.Done() // the first engine dies while this call is in flight
				return "", ctx.Err()
			}
			return in.Key, nil
		}).Info()}))
	_ = tc
	shared := core.NewMemoryStore()
	clock := clockwork.NewFakeClock()
	dying := &crashingStore{Store: shared}
	a := core.New(core.Options{Registry: reg, Store: dying, Clock: clock, Owner: "a", LeaseDuration: 10 * time.Second})
	b := core.New(core.Options{Registry: reg, Store: shared, Clock: clock, Owner: "b", LeaseDuration: 10 * time.Second})
	doc := `{"name": "crash", "steps": [
		{"id": "one", "type": "count", "config": {"key": "one"}},
		{"id": "two", "type": "count", "config": {"key": "two", "block": true}},
		{"id": "three", "type": "count", "config": {"key": "three"}}]}`
	planA := compile(t, a, doc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := a.Submit(ctx, planA, nil)
	require.NoError(t, err)

	actx, stopA := context.WithCancel(ctx)
	go func() { _ = a.Work(actx, core.WorkOptions{}) }()
	<-gate // "two" is in flight
	dying.crash()
	stopA()

	x, err := shared.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, core.StatusRunning, x.Status)
	require.Equal(t, core.StatusCompleted, x.Steps["one"].Status)
	require.Equal(t, core.StatusRunning, x.Steps["two"].Status)

	go func() { _ = b.Work(ctx, core.WorkOptions{Poll: time.Second}) }()
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, core.StatusRunning, statusOf(t, shared, id), "b waits for a's lease to expire")
	clock.Advance(11 * time.Second)
	waitFor(t, "b to finish the execution", func() bool { return statusOf(t, shared, id) == core.StatusCompleted })
	mu.Lock()
	require.Equal(t, map[string]int{"one": 1, "two": 2, "three": 1}, calls, "completed steps never run twice; the interrupted one once more")
	mu.Unlock()
	x, err = shared.GetExecution(ctx, id)
	require.NoError(t, err)
	two := x.Steps["two"]
	require.Equal(t, 2, two.Attempts)
	require.Equal(t, core.StatusInterrupted, two.History[0].Status)
	require.Equal(t, core.StatusCompleted, two.History[1].Status)
}

func TestAtMostOnceStepIsInterruptedByACrash(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	gate := make(chan struct{})
	sent := 0
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: sdk.NewStep("charge",
		func(ctx context.Context, _ any) (string, error) {
			sent++
			gate <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		}).Info()}))
	shared := core.NewMemoryStore()
	clock := clockwork.NewFakeClock()
	dying := &crashingStore{Store: shared}
	a := core.New(core.Options{Registry: reg, Store: dying, Clock: clock, Owner: "a", LeaseDuration: 10 * time.Second})
	b := core.New(core.Options{Registry: reg, Store: shared, Clock: clock, Owner: "b", LeaseDuration: 10 * time.Second})
	doc := `{"name": "once", "steps": [
		{"id": "charge", "type": "charge", "idempotent": false, "onError": "refund_check"},
		{"id": "refund_check", "type": "echo", "config": {"why": "{{error.code}}"}}]}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := a.Submit(ctx, compile(t, a, doc), nil)
	require.NoError(t, err)
	actx, stopA := context.WithCancel(ctx)
	go func() { _ = a.Work(actx, core.WorkOptions{}) }()
	<-gate
	dying.crash()
	stopA()
	go func() { _ = b.Work(ctx, core.WorkOptions{Poll: time.Second}) }()
	clock.Advance(11 * time.Second)
	waitFor(t, "b to finish", func() bool { return statusOf(t, shared, id) == core.StatusCompleted })
	require.Equal(t, 1, sent, "an at-most-once step is never sent twice")
	x, err := shared.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, core.StatusInterrupted, x.Steps["charge"].Status)
	require.Equal(t, sdk.CodeInterrupted, x.Steps["charge"].Error.Code)
	require.Equal(t, map[string]any{"why": "INTERRUPTED"}, x.Output, "its onError path runs")
}

// An engine that stops (Work's context ends) gives its executions back
// unfinished; another engine resumes them at once.
func TestShutdownHandsExecutionsBack(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	shared := core.NewMemoryStore()
	// The step's timeout is on the engines' clock: it cannot pass in a before
	// a hands the execution back, however slow the machine.
	clock := clockwork.NewFakeClock()
	a := core.New(core.Options{Registry: reg, Store: shared, Owner: "a", Clock: clock})
	b := core.New(core.Options{Registry: reg, Store: shared, Owner: "b", Clock: clock})
	plan := compile(t, a, `{"name": "s", "steps": [{"id": "slow", "type": "block", "config": {"n": "{{input.n}}"}, "timeout": 300},
		{"id": "after", "type": "echo", "config": {"v": 1}, "dependsOn": []}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := a.Submit(ctx, plan, map[string]any{"n": 1})
	require.NoError(t, err)
	actx, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() { _ = a.Work(actx, core.WorkOptions{}); close(doneA) }()
	<-tc.started
	stopA()
	<-doneA
	x, err := shared.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, core.StatusRunning, x.Status, "not cancelled: handed back")
	go func() { _ = b.Work(ctx, core.WorkOptions{}) }()
	<-tc.started // b runs the step again at once (no lease to wait for)
	waitFor(t, "b to finish", func() bool {
		clock.Advance(100 * time.Millisecond) // until the step's 300 ms have passed
		return statusOf(t, shared, id).Terminal()
	})
	x, err = shared.GetExecution(ctx, id)
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, x.Status, "the blocking step times out in b")
	require.Equal(t, core.StatusCompleted, x.Steps["after"].Status)
	require.Equal(t, 2, x.Steps["slow"].Attempts)
}

// failingStore fails the awaited writes of one step's records while failing
// is set, as a full disk or an unreachable database would.
type failingStore struct {
	core.Store
	step    string
	mu      sync.Mutex
	failing bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) Checkpoint(ctx context.Context, id string, l core.Lease, cp *core.Checkpoint) error {
	s.mu.Lock()
	failing := s.failing
	s.mu.Unlock()
	if failing && !cp.Async {
		for _, st := range cp.Steps {
			if st.ID == s.step {
				return errDiskFull
			}
		}
	}
	return s.Store.Checkpoint(ctx, id, l, cp)
}

// When a write the engine waits for fails, the run stops: the at-most-once
// step whose start could not be recorded is not called, Execute says why,
// and once the lease runs out an engine resumes the execution from what
// was recorded.
func TestStoreFailureStopsTheRun(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	var mu sync.Mutex
	calls := map[string]int{}
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: sdk.NewStep("count",
		func(ctx context.Context, in struct {
			Key string `json:"key"`
		}) (string, error) {
			mu.Lock()
			calls[in.Key]++
			mu.Unlock()
			return in.Key, nil
		}).Info()}))
	shared := core.NewMemoryStore()
	clock := clockwork.NewFakeClock()
	broken := &failingStore{Store: shared, step: "charge", failing: true}
	a := core.New(core.Options{Registry: reg, Store: broken, Clock: clock, Owner: "a", LeaseDuration: 10 * time.Second})
	b := core.New(core.Options{Registry: reg, Store: shared, Clock: clock, Owner: "b", LeaseDuration: 10 * time.Second})
	doc := `{"name": "pay", "steps": [
		{"id": "quote", "type": "count", "config": {"key": "quote"}},
		{"id": "charge", "type": "count", "idempotent": false, "dependsOn": ["quote"], "config": {"key": "charge"}},
		{"id": "receipt", "type": "count", "dependsOn": ["charge"], "config": {"key": "receipt"}}]}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x, err := a.Execute(ctx, compile(t, a, doc), nil)
	require.ErrorIs(t, err, errDiskFull)
	require.NotNil(t, x)
	require.Equal(t, map[string]int{"quote": 1}, calls, "the step whose start could not be recorded is not called, nor what follows it")
	require.Equal(t, core.StatusRunning, statusOf(t, shared, x.ID), "left as recorded, for an engine to resume")

	go func() { _ = b.Work(ctx, core.WorkOptions{Poll: time.Second}) }()
	clock.Advance(11 * time.Second)
	waitFor(t, "b to finish", func() bool { return statusOf(t, shared, x.ID) == core.StatusCompleted })
	require.Equal(t, map[string]int{"quote": 1, "charge": 1, "receipt": 1}, calls, "resumed from its checkpoints")
}
