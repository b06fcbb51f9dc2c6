package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

// memoryEngine is an engine on a memory store, with the test components.
func memoryEngine(t *testing.T) (*core.Engine, *core.MemoryStore, *testComponents) {
	reg, tc := newRegistry(t)
	store := core.NewMemoryStore()
	return core.New(core.Options{Registry: reg, Store: store}), store, tc
}

// working runs eng.Work until the test ends (startHere waits until Start can
// use its slots).
func working(t *testing.T, eng *core.Engine, concurrency int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Work(ctx, core.WorkOptions{Concurrency: concurrency}) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// finished waits for the record a Started reports.
func finished(t *testing.T, st *core.Started) *core.Execution {
	t.Helper()
	select {
	case x := <-st.Finished():
		return x
	case <-time.After(hangGuard):
		t.Fatalf("execution %s: no end reported", st.ID)
		return nil
	}
}

const echoTwice = `{"name": "w", "steps": [
	{"id": "a", "type": "echo", "config": {"n": "{{input.n}}"}},
	{"id": "b", "type": "echo", "config": {"twice": "{{ steps.a.output.n * 2 }}"}}]}`

// startHere starts an execution that runs here: first it waits until Work
// has made its slots (it may not have when the test begins).
func startHere(t *testing.T, eng *core.Engine, plan *core.Plan, input any) *core.Started {
	t.Helper()
	probe := compile(t, eng, `{"name": "probe", "steps": [{"id": "a", "type": "noop"}]}`)
	waitFor(t, "Work's slots", func() bool {
		st, err := eng.Start(context.Background(), probe, nil, core.StartOptions{})
		require.NoError(t, err)
		defer st.Close()
		finished(t, st) // run here or by Work: it ends either way
		return st.Here
	})
	st, err := eng.Start(context.Background(), plan, input, core.StartOptions{})
	require.NoError(t, err)
	require.True(t, st.Here, "a slot is free")
	t.Cleanup(st.Close)
	return st
}

// Start runs the execution in this engine at once, and reports its final
// record — the one the store has — without anyone reading the store.
func TestStartRunsHere(t *testing.T) {
	t.Parallel()
	eng, store, _ := memoryEngine(t)
	working(t, eng, 4)
	plan := compile(t, eng, echoTwice)
	st := startHere(t, eng, plan, map[string]any{"n": 21})
	require.False(t, st.Replayed)
	x := finished(t, st)
	require.NotNil(t, x)
	require.Equal(t, core.StatusCompleted, x.Status)
	require.Equal(t, map[string]any{"twice": float64(42)}, x.Output)
	stored, err := store.GetExecution(context.Background(), st.ID)
	require.NoError(t, err)
	require.Equal(t, toJSON(t, stored), toJSON(t, x), "the record reported is the one stored")
	require.NoError(t, eng.Accept(context.Background(), st.ID))
}

// Without Work there is no capacity here: the execution is queued in the
// store, PENDING, and a worker that claims it reports its end as well.
func TestStartQueuesWithoutWork(t *testing.T) {
	t.Parallel()
	eng, store, _ := memoryEngine(t)
	plan := compile(t, eng, echoTwice)
	st, err := eng.Start(context.Background(), plan, map[string]any{"n": 1}, core.StartOptions{})
	require.NoError(t, err)
	defer st.Close()
	require.False(t, st.Here)
	require.Equal(t, core.StatusPending, statusOf(t, store, st.ID))
	working(t, eng, 1)
	x := finished(t, st)
	require.NotNil(t, x)
	require.Equal(t, core.StatusCompleted, x.Status)
	require.Equal(t, map[string]any{"twice": float64(2)}, x.Output)
}

// With every slot taken, Start queues: it never runs more than Work's
// concurrency at once.
func TestStartQueuesWhenFull(t *testing.T) {
	t.Parallel()
	eng, store, tc := memoryEngine(t)
	working(t, eng, 1)
	blocking := compile(t, eng, `{"name": "b", "steps": [{"id": "b", "type": "block", "config": {"n": "x"}}]}`)
	first := startHere(t, eng, blocking, nil)
	<-tc.started
	second, err := eng.Start(context.Background(), compile(t, eng, echoTwice), map[string]any{"n": 2}, core.StartOptions{})
	require.NoError(t, err)
	defer second.Close()
	require.False(t, second.Here, "the only slot is taken")
	require.Equal(t, core.StatusPending, statusOf(t, store, second.ID))
	require.True(t, eng.Cancel(first.ID))
	require.Equal(t, core.StatusCancelled, finished(t, first).Status)
	require.Equal(t, core.StatusCompleted, finished(t, second).Status, "queued, then run once the slot was free")
}

// An idempotency key names one execution: starting again with it starts
// nothing and names the first.
func TestStartIdempotencyKey(t *testing.T) {
	t.Parallel()
	eng, _, tc := memoryEngine(t)
	working(t, eng, 4)
	plan := compile(t, eng, echoTwice)
	var ids []string
	for range 3 {
		st, err := eng.Start(context.Background(), plan, map[string]any{"n": 3}, core.StartOptions{IdempotencyKey: "k"})
		require.NoError(t, err)
		if len(ids) == 0 {
			require.False(t, st.Replayed)
			require.Equal(t, core.StatusCompleted, finished(t, st).Status)
		} else {
			require.True(t, st.Replayed)
		}
		ids = append(ids, st.ID)
		st.Close()
	}
	require.Equal(t, []string{ids[0], ids[0], ids[0]}, ids)
	require.Equal(t, int64(2), tc.calls.Load(), "one execution of two steps ran")
}

// A run that parks its execution reports that it ended unfinished (nil): the
// store has it, WAITING.
func TestStartParks(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	store := core.NewMemoryStore()
	eng := core.New(core.Options{Registry: reg, Store: store, ParkAfter: time.Second})
	working(t, eng, 2)
	plan := compile(t, eng, `{"name": "w", "steps": [{"id": "w", "type": "WAIT", "config": {"duration": 3600000}}]}`)
	st := startHere(t, eng, plan, nil)
	require.Nil(t, finished(t, st))
	require.Equal(t, core.StatusWaiting, statusOf(t, store, st.ID))
}
