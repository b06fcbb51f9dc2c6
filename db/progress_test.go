package db

import (
	"slices"
	"testing"
	"time"

	"github.com/weftworks/weft/core"
)

// A progress record whose delay ran out is queued under the lock that a
// later write of the same step takes first: the later write cannot be queued
// ahead of it (and then be overwritten by the older state it superseded).
func TestProgressRecordIsQueuedBeforeALaterWrite(t *testing.T) {
	t.Parallel()
	var h heldBack
	entered, release := make(chan struct{}), make(chan struct{})
	h.later("x", []string{"x/a"}, func() { close(entered); <-release })
	<-entered // the delay ran out; the progress record is being queued
	superseded := make(chan struct{})
	go func() {
		h.settle("x", []string{"x/a"}, false) // what a later write of the step does first
		close(superseded)
	}()
	select {
	case <-superseded:
		t.Fatal("a later write of the step went ahead while the progress record it supersedes was still being queued")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-superseded
}

// A progress record superseded before its delay runs out is never written,
// and neither is one replaced by a newer progress record of the same step.
func TestProgressRecordSuperseded(t *testing.T) {
	t.Parallel()
	var h heldBack
	written := make(chan string, 3)
	h.later("x", []string{"x/a"}, func() { written <- "a1" })
	h.later("x", []string{"x/a"}, func() { written <- "a2" })
	h.later("x", []string{"x/b"}, func() { written <- "b" })
	h.settle("x", []string{"x/b"}, false)
	if got := <-written; got != "a2" {
		t.Fatalf("written %q, want only the newest progress record of a (a2)", got)
	}
	h.mu.Lock()
	n := len(h.pending)
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d executions still have progress records pending after the last one was written", n)
	}
	select {
	case got := <-written:
		t.Fatalf("%q written after it was superseded", got)
	default:
	}
}

// An awaited write queues the execution's held-back progress records before
// itself — but not those it supersedes, nor another execution's.
func TestAwaitedWriteQueuesHeldBackProgress(t *testing.T) {
	t.Parallel()
	var h heldBack
	var order []string
	h.later("x", []string{"x/a"}, func() { order = append(order, "x/a") })
	h.later("x", []string{"x/b"}, func() { order = append(order, "x/b") })
	h.later("y", []string{"y/a"}, func() { order = append(order, "y/a") })
	h.settle("x", []string{"x/b"}, true)
	order = append(order, "awaited x/b")
	if want := []string{"x/a", "awaited x/b"}; !slices.Equal(order, want) {
		t.Fatalf("queued %v, want %v", order, want)
	}
	h.settle("y", []string{"y/a"}, false)
	h.mu.Lock()
	n := len(h.pending)
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d executions still have progress records pending", n)
	}
}

func TestIsProgress(t *testing.T) {
	t.Parallel()
	running := &core.StepState{ID: "a", Status: core.StatusRunning}
	done := &core.StepState{ID: "b", Status: core.StatusCompleted}
	for _, c := range []struct {
		name string
		cp   core.Checkpoint
		want bool
	}{
		{"an attempt starts", core.Checkpoint{Steps: []*core.StepState{running}}, true},
		{"a nested step's result", core.Checkpoint{Steps: []*core.StepState{done}}, false},
		{"one of them finished", core.Checkpoint{Steps: []*core.StepState{running, done}}, false},
		{"a top-level result", core.Checkpoint{Steps: []*core.StepState{running}, Results: []core.StepResult{{StepID: "a"}}}, false},
		{"a header", core.Checkpoint{Execution: &core.Execution{}}, false},
		{"a release", core.Checkpoint{Release: true}, false},
	} {
		if got := isProgress(&c.cp); got != c.want {
			t.Errorf("%s: isProgress = %v, want %v", c.name, got, c.want)
		}
	}
}
