package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// StartOptions configure Engine.Start.
type StartOptions struct {
	// IdempotencyKey, when set: if an execution of the plan's workflow
	// already has it, no new one is made and Started names that one.
	IdempotencyKey string
	// Queue stores the execution for a worker to claim, never running it
	// here at once: for a PAUSED workflow, whose executions wait until it is
	// ACTIVE (claims skip them meanwhile).
	Queue bool
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
// docs/durability.md). Without a free slot (or without Work running, or
// with opts.Queue) it is stored PENDING, durably, for a worker to claim, as
// Submit does.
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

	var p *pool
	if !opts.Queue {
		e.mu.Lock()
		if e.pool != nil && e.pool.acquire() {
			p = e.pool
		}
		e.mu.Unlock()
	}
	if p == nil {
		st.ID, st.Replayed, err = e.enqueue(ctx, exec)
	} else {
		var x *run
		if x, err = e.begin(ctx, p.ctx, plan, exec); err == nil {
			x.canPark = e.parkAfter > 0
			st.Here = true
			go func() {
				hold := e.keeper.hold(x)
				finished := x.drive(p.ctx)
				hold()
				// The slot is free before the waiter hears of the end: the
				// caller's next execution finds it free.
				p.release()
				e.ended(x, finished)
			}()
			return st, nil
		}
		p.release()
		var dup *DuplicateError
		if errors.As(err, &dup) {
			st.ID, st.Replayed, err = dup.ID, true, nil
		}
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("start: %w", err)
	}
	if st.Replayed {
		// Watch the execution that has the key instead.
		stop()
		st.finished, st.stop = e.Watch(st.ID)
	}
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
