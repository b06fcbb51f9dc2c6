package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// StartOptions configure Engine.Start.
type StartOptions struct {
	// IdempotencyKey, when set: if an execution of the plan's workflow
	// already has it, no new one is made and Started names that one.
	IdempotencyKey string
}

// Started is an execution Engine.Start made (or found, by its idempotency
// key).
type Started struct {
	// ID is the execution's id.
	ID string
	// Replayed: an execution of the workflow already had the idempotency
	// key, and this is that one; nothing new was started.
	Replayed bool
	// Here: this engine runs the execution now. Otherwise it waits in the
	// store, PENDING, for a worker (this engine's or another's).
	Here bool

	finished <-chan *Execution
	stop     func()
}

// Finished receives the execution's record when a run of it in this engine
// ends: the final record once it is durable, or nil when the run ended
// without finishing it (parked, lease lost, engine stopping) — the store
// then has it. A replayed execution's channel only reports runs that start
// after Start returned.
func (s *Started) Finished() <-chan *Execution { return s.finished }

// Close stops watching the execution. The execution goes on.
func (s *Started) Close() { s.stop() }

// Start stores a new execution of a plan and, when this engine's Work has a
// free slot, runs it here at once: no round trip through the store's queue,
// and its first records stay in memory until a write must be durable (see
// docs/durability.md). Without a free slot (or without Work running) it is
// stored PENDING, durably, for a worker to claim, as Submit does.
//
// An execution started here is not yet durable when Start returns: before
// telling anyone it was accepted, call Accept. The run does not depend on
// ctx: it goes on when the caller stops waiting.
func (e *Engine) Start(ctx context.Context, plan *Plan, input any, opts StartOptions) (*Started, error) {
	wfID, version, err := e.stored(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	exec := e.newExecution(e.newID(), wfID, version, plan, input)
	exec.IdempotencyKey = opts.IdempotencyKey
	finished, stop := e.Watch(exec.ID)
	st := &Started{ID: exec.ID, finished: finished, stop: stop}
	replayed := func(dup *DuplicateError) (*Started, error) {
		stop()
		st.ID, st.Replayed = dup.ID, true
		st.finished, st.stop = e.Watch(dup.ID)
		return st, nil
	}

	e.mu.Lock()
	p := e.pool
	here := p != nil && p.acquire()
	e.mu.Unlock()
	if !here {
		err := e.store.CreateExecution(ctx, exec, nil)
		var dup *DuplicateError
		if errors.As(err, &dup) {
			return replayed(dup)
		}
		if err != nil {
			stop()
			return nil, fmt.Errorf("start: %w", err)
		}
		e.signal(ctx)
		return st, nil
	}

	exec.Status, exec.StartedAt = StatusRunning, exec.CreatedAt
	lease := Lease{Owner: e.owner, Token: rand.Int64N(1 << 52), Until: e.clock.Now().Add(e.leaseFor)}
	x := e.newRun(p.ctx, plan, exec, lease, nil) // the scope keeps the real input
	x.canPark = e.parkAfter > 0
	exec.Input = x.scope.x.redact.scrub(exec.Input)
	if err := e.store.CreateExecution(ctx, exec, &lease); err != nil {
		p.release()
		var dup *DuplicateError
		if errors.As(err, &dup) {
			return replayed(dup)
		}
		stop()
		return nil, fmt.Errorf("start: %w", err)
	}
	st.Here = true
	e.emit(Event{Type: EventExecutionStarted, Time: exec.StartedAt, ExecutionID: exec.ID, Status: StatusRunning})
	go func() {
		hold := e.keeper.hold(x)
		finished := x.drive(p.ctx)
		hold()
		// The slot is free before the waiter hears of the end: the caller's
		// next execution finds it free.
		p.release()
		e.ended(x, finished)
	}()
	return st, nil
}

// Follow watches an execution that Start did not make (one submitted to
// the queue, or retried): Finished reports its runs in this engine that end
// from now on. Close it when done.
func (e *Engine) Follow(id string) *Started {
	c, stop := e.Watch(id)
	return &Started{ID: id, finished: c, stop: stop}
}

// Accepter is implemented by stores that may keep a new execution's first
// records in memory for a moment (db holds those of executions run at once
// by their creator): Accept returns once the execution is durably stored.
type Accepter interface {
	Accept(ctx context.Context, id string) error
}

// Accept makes a started execution durable, if the store had not yet
// written it: call it before telling a client the execution was accepted
// (a 202), which promises that a crash will not lose it.
func (e *Engine) Accept(ctx context.Context, id string) error {
	if a, ok := e.store.(Accepter); ok {
		return a.Accept(ctx, id)
	}
	return nil
}

// Watch returns a channel that receives an execution's record when a run of
// it in this engine ends — the final record, once durable, or nil when the
// run ended without finishing it — and a function that stops watching. It
// reports only runs that end after the call.
func (e *Engine) Watch(id string) (<-chan *Execution, func()) {
	c := make(chan *Execution, 1)
	e.mu.Lock()
	if e.watches == nil {
		e.watches = map[string][]chan *Execution{}
	}
	e.watches[id] = append(e.watches[id], c)
	e.mu.Unlock()
	return c, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if cs := slices.DeleteFunc(e.watches[id], func(x chan *Execution) bool { return x == c }); len(cs) > 0 {
			e.watches[id] = cs
		} else {
			delete(e.watches, id)
		}
	}
}

// ended tells the watchers of x's execution that its run here ended, and
// how: finished (its final record is durable) or not.
func (e *Engine) ended(x *run, finished bool) {
	id := x.exec.ID
	e.mu.Lock()
	cs := e.watches[id]
	delete(e.watches, id)
	e.mu.Unlock()
	if len(cs) == 0 {
		return
	}
	var rec *Execution
	if finished && x.exec.Status.Terminal() {
		// The run is over: nothing changes these any more. The map is
		// copied so that a reader cannot race a late writer of it.
		cp := *x.exec
		x.mu.Lock()
		cp.Steps = maps.Clone(x.exec.Steps)
		x.mu.Unlock()
		rec = &cp
	}
	for _, c := range cs {
		c <- rec // buffered, one value per watch
	}
}
