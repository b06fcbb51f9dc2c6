package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/sdk"
)

// Cancel cancels an execution running in this engine; it reports whether one
// was running.
func (e *Engine) Cancel(id string) bool {
	e.mu.Lock()
	cancel, ok := e.running[id]
	e.mu.Unlock()
	if ok {
		cancel(errCancelled)
	}
	return ok
}

// run is the state of one execution while this engine holds its lease.
type run struct {
	e     *Engine
	plan  *Plan
	exec  *Execution
	lease Lease
	scope scope
	bg    context.Context // for records: outlives cancellation
	// loaded holds the step states saved by an earlier run of the execution
	// (a crash, a park); results the top-level steps already resolved.
	loaded  map[string]*StepState
	results map[string]StepResult
	// canPark lets long top-level WAITs park the execution in the store.
	canPark bool
	// stop ends the run when its lease is lost.
	stop context.CancelCauseFunc

	mu   sync.Mutex // guards exec.Steps and the fields below
	lost bool       // the run stopped: its lease was lost, or its store failed
	// storeErr is the write that failed when the store failed (see checkpoint).
	storeErr error
	// queued counts the results of components written without waiting;
	// synced is the count known durable. A component attempt does not start
	// (call out) before every result it could depend on is durable.
	queued, synced int
	// syncing, while an awaited write is under way, is closed when it ends;
	// it makes the first syncingUpTo queued results durable.
	syncing     chan struct{}
	syncingUpTo int
}

// errLeaseLost ends a run whose lease another engine took over.
var errLeaseLost = fmt.Errorf("%w: another engine took the execution over", ErrLeaseLost)

// errShutdown stops the runs of an engine whose Work ends: they are given
// back to the store, not finished.
var errShutdown = errors.New("engine stopping")

// errStoreFailed stops a run whose records could not be written.
var errStoreFailed = errors.New("the execution's records could not be written")

// errParked ends a WAIT that parks its execution instead of sleeping.
var errParked = errors.New("parked")

// newRun prepares the run of an execution: its scope, its saved state.
func (e *Engine) newRun(ctx context.Context, plan *Plan, exec *Execution, lease Lease, rs *RunState) *run {
	wf := plan.wf
	vars := wf.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	x := &run{e: e, plan: plan, exec: exec, lease: lease, bg: context.WithoutCancel(ctx),
		loaded: map[string]*StepState{}, results: map[string]StepResult{}}
	if rs != nil {
		x.loaded, x.results = rs.Steps, rs.Results
	}
	x.scope = scope{x: &execScope{
		input:     exec.Input,
		variables: Normalize(vars).(map[string]any),
		execution: map[string]any{"id": exec.ID, "workflowId": wf.ID, "workflowName": wf.Name, "startedAt": exec.StartedAt.UTC().Format(time.RFC3339Nano)},
		steps:     &stepTable{entries: map[string]*stepEntry{}},
		secrets:   e.secrets,
		redact:    &redactor{parent: plan.redact},
	}}
	// Fetch the secrets the plan reads before anything is recorded, so that
	// no record is written before their values are known to the redactor. A
	// missing secret fails the step that reads it, not the execution here.
	for _, name := range plan.secrets {
		_, _ = x.scope.Secret(ctx, name)
	}
	for id, r := range x.results {
		x.scope.x.steps.set(id, r.Status, r.Output, errValue(r.Error))
	}
	for k, st := range x.loaded {
		exec.Steps[k] = st
	}
	return x
}

// drive runs a claimed execution until it finishes, parks or loses its
// lease. It reports whether the execution finished.
func (x *run) drive(ctx context.Context) bool {
	e, exec := x.e, x.exec
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x.stop = cancel
	e.mu.Lock()
	e.running[exec.ID] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, exec.ID)
		e.mu.Unlock()
	}()
	if x.plan.timeout > 0 {
		// The execution's time counts from its start, across restarts.
		var stop context.CancelFunc
		runCtx, stop = withTimeout(runCtx, e.clock, exec.StartedAt.Add(x.plan.timeout).Sub(e.clock.Now()), errExecutionTimeout)
		defer stop()
	}
	// A failing step stops the steps still running (fail fast): their results
	// could no longer change the outcome.
	schedCtx, failFast := context.WithCancelCause(runCtx)
	defer failFast(nil)
	wake, parked := x.schedule(schedCtx, failFast)
	if x.isLost() {
		return false
	}
	if errors.Is(context.Cause(runCtx), errShutdown) {
		// The engine stops: give the execution back as it is; an engine
		// resumes it from its checkpoints.
		_ = x.checkpoint(&Checkpoint{Execution: x.header(), Release: true})
		return false
	}
	if parked && runCtx.Err() == nil {
		x.park(wake)
		return false
	}
	x.finish(ctx, runCtx)
	return !x.isLost()
}

// queuedResult notes a component's result queued without waiting for it.
// Called after the write is queued: a write queued later is applied after it.
func (x *run) queuedResult() {
	x.mu.Lock()
	x.queued++
	x.mu.Unlock()
}

// recordStart records the start of a component's attempt before it calls
// out. For an at-most-once step the write is awaited. For an idempotent one
// it is not — but the results queued before it must be durable before it
// calls out: a write under way that makes them so is waited for rather than
// made again, so that parallel branches starting together share one commit.
func (x *run) recordStart(st *StepState, idempotent bool) error {
	x.mu.Lock()
	need := x.queued
	if idempotent && need <= x.synced {
		x.mu.Unlock()
		return x.checkpoint(&Checkpoint{Steps: []*StepState{st}, Async: true})
	}
	if idempotent && x.syncing != nil && x.syncingUpTo >= need {
		wait := x.syncing
		x.mu.Unlock()
		err := x.checkpoint(&Checkpoint{Steps: []*StepState{st}, Async: true})
		<-wait // a failure there stops the run (x.lost), which the caller checks
		return err
	}
	done := make(chan struct{})
	x.syncing, x.syncingUpTo = done, need
	x.mu.Unlock()
	err := x.checkpoint(&Checkpoint{Steps: []*StepState{st}})
	x.mu.Lock()
	if err == nil {
		x.synced = max(x.synced, need)
	}
	if x.syncing == done {
		x.syncing = nil
	}
	x.mu.Unlock()
	close(done)
	return err
}

func (x *run) isLost() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lost
}

// checkpoint writes a change under the run's lease. Losing the lease stops
// the run: another engine owns the execution now.
func (x *run) checkpoint(cp *Checkpoint) error {
	if x.isLost() {
		if err := x.failure(); err != nil {
			return fmt.Errorf("%w: %w", errStoreFailed, err)
		}
		return errLeaseLost
	}
	err := x.e.store.Checkpoint(x.bg, x.exec.ID, x.lease, cp)
	if errors.Is(err, ErrLeaseLost) {
		x.mu.Lock()
		x.lost = true
		x.mu.Unlock()
		if x.stop != nil {
			x.stop(errLeaseLost)
		}
		x.e.log.Warn("lease lost; another engine runs the execution now", "execution", x.exec.ID)
		return errLeaseLost
	}
	if err != nil {
		x.e.log.Error("checkpoint", "execution", x.exec.ID, "err", err)
		if !cp.Async {
			x.storeFailed(err)
		}
	}
	return err
}

// storeFailed stops the run after a write it waited for failed. Going on
// would break what the records promise: an at-most-once step would be called
// with its start unrecorded, a call could go out on results that are not
// durable. The execution stays as last recorded; once its lease runs out an
// engine resumes it from its checkpoints (Execute reports the error).
func (x *run) storeFailed(err error) {
	x.mu.Lock()
	first := !x.lost
	x.lost = true
	if x.storeErr == nil {
		x.storeErr = err
	}
	x.mu.Unlock()
	if first {
		if x.stop != nil {
			x.stop(fmt.Errorf("%w: %w", errStoreFailed, err))
		}
		x.e.log.Error("records cannot be written; the execution stops and resumes from its checkpoints once its lease runs out",
			"execution", x.exec.ID, "err", err)
	}
}

// failure returns the write that stopped the run, if the store failed.
func (x *run) failure() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.storeErr
}

// result is what a finished top-level step tells the scheduler.
type result struct {
	node   *Node
	state  *StepState
	ok     bool // completed, or failed and recovered (CONTINUE, fallback)
	output any
	err    *sdk.Error
	skips  []*Node
	parked time.Time // a WAIT that parks until then
}

// schedule runs the step graph: every step whose dependencies are done starts
// at once; results come back to this one goroutine, which owns the schedule.
// Steps resolved by an earlier run count as done. It returns parked=true (and
// the earliest wake time) when nothing can run until a parked WAIT ends.
func (x *run) schedule(ctx context.Context, failFast context.CancelCauseFunc) (time.Time, bool) {
	nodes := x.plan.graph()
	done := make(map[*Node]bool, len(nodes))
	skipped := map[*Node]bool{}
	forcedSkip := map[*Node]bool{}
	failed := x.exec.FailedStep != ""
	for _, n := range x.plan.nodes {
		r, ok := x.results[n.def.ID]
		if !ok {
			continue
		}
		done[n] = true
		skipped[n] = r.Status == StatusSkipped
		for _, id := range r.Skips {
			if s, ok := x.plan.byID[id]; ok {
				forcedSkip[s] = true
			}
		}
	}
	pending := make(map[*Node]int, len(nodes))
	results := make(chan result, len(nodes))
	running := 0
	var wake time.Time
	parked := 0

	launch := func(n *Node, alone bool) {
		running++
		if alone {
			// Nothing else runs or is ready: no goroutine to start and hand
			// the result back from (most steps of most workflows are a
			// chain). results has room for every node.
			results <- x.runTop(ctx, n)
			return
		}
		go func() { results <- x.runTop(ctx, n) }()
	}
	// ready is a queue: every node enters it once, so it never outgrows nodes.
	ready := make([]*Node, 0, len(nodes))
	head := 0
	for _, n := range nodes {
		if n.handler || done[n] {
			continue
		}
		for _, d := range n.deps {
			if !done[d] {
				pending[n]++
			}
		}
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	release := func(n *Node) {
		for _, d := range n.dependants {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	for head < len(ready) || running > 0 {
		for head < len(ready) {
			n := ready[head]
			head++
			allSkipped := len(n.deps) > 0
			for _, d := range n.deps {
				allSkipped = allSkipped && skipped[d]
			}
			if n.barrier {
				// Nothing to run: pass the group's outcome on at once.
				skipped[n] = allSkipped
				release(n)
				continue
			}
			if failed || ctx.Err() != nil || forcedSkip[n] || allSkipped {
				skipped[n] = true
				x.skipTop(n)
				release(n)
				continue
			}
			launch(n, running == 0 && head == len(ready))
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if !r.parked.IsZero() {
			parked++
			if wake.IsZero() || r.parked.Before(wake) {
				wake = r.parked
			}
			continue // its dependants wait for the WAIT to end, after the park
		}
		for _, s := range r.skips {
			forcedSkip[s] = true
		}
		if !r.ok {
			if !failed && x.exec.FailedStep == "" && ctx.Err() == nil {
				x.exec.FailedStep = r.node.def.ID
				x.exec.Error = &sdk.Error{
					Code:    r.err.Code,
					Message: fmt.Sprintf("step %q failed: %s", r.node.def.ID, r.err.Message),
					Details: map[string]any{"stepId": r.node.def.ID},
				}
				failFast(fmt.Errorf("%w: step %q failed", errFailFast, r.node.def.ID))
			}
			failed = true
		}
		release(r.node)
	}
	return wake, parked > 0 && !failed
}

// skipTop records a top-level step that will not run.
func (x *run) skipTop(n *Node) {
	st := x.skippedState(n, n.def.ID, "")
	x.scope.x.steps.set(n.def.ID, StatusSkipped, nil, nil)
	states := []*StepState{st}
	for _, c := range x.skipNested(n, n.def.ID) {
		states = append(states, c)
	}
	_ = x.checkpoint(&Checkpoint{Steps: states, Results: []StepResult{{StepID: n.def.ID, Status: StatusSkipped}}})
}

// skippedState makes and announces the record of a step that will not run.
func (x *run) skippedState(n *Node, key, parent string) *StepState {
	now := x.e.clock.Now()
	st := &StepState{ID: key, Type: n.def.Type, Status: StatusSkipped, Parent: parent, FinishedAt: now, History: []Attempt{}}
	x.putState(st)
	x.e.emit(Event{Type: EventStepFinished, Time: now, ExecutionID: x.exec.ID, StepID: key, StepType: n.def.Type, Status: StatusSkipped})
	return st
}

// skipNested records the nested steps of a skipped step (a FOR_EACH's step
// has no runs to record: there are no items).
func (x *run) skipNested(n *Node, key string) []*StepState {
	if n.repeats {
		return nil
	}
	var out []*StepState
	for _, c := range n.nested {
		ck := nestedKey(key, n.def.ID, c.def.ID, nil)
		out = append(out, x.skippedState(c, ck, key))
		out = append(out, x.skipNested(c, ck)...)
	}
	return out
}

// runTop runs a top-level step, with its fallback when it has one, and
// checkpoints its result together with its final state.
func (x *run) runTop(ctx context.Context, n *Node) result {
	out, st, err, skips := x.runStep(ctx, n, x.scope, runKey{key: n.def.ID, top: true})
	r := result{node: n, state: st, output: out, skips: skips}
	if err == errParkedStep {
		r.parked = st.WakeAt
		return r
	}
	if err == nil {
		r.ok = true
	} else {
		r.err = err
		// A step that chooses branches and failed chose none: whatever happens
		// next (CONTINUE, a fallback), both branches are skipped.
		r.skips = n.branches
		if ctx.Err() == nil {
			switch {
			case n.onError == OnErrorContinue:
				r.ok = true
			case n.fallback != nil:
				out, ok, ferr := x.runFallback(ctx, n, err)
				if ok {
					r.ok, r.output = true, out
				} else {
					r.err = ferr
				}
			}
		}
	}
	if ctx.Err() != nil && !r.ok {
		// Cut short by the execution (cancelled, failed elsewhere, out of
		// time): record the state, resolve nothing.
		_ = x.checkpoint(&Checkpoint{Steps: []*StepState{st}})
		return r
	}
	res := StepResult{StepID: n.def.ID, Status: st.Status, OK: r.ok, Output: x.scope.x.redact.scrub(r.output), Error: st.Error}
	for _, s := range r.skips {
		res.Skips = append(res.Skips, s.def.ID)
	}
	x.scope.x.steps.set(n.def.ID, st.Status, r.output, errValue(r.err))
	// A result is written without waiting when losing it in a crash only
	// makes the step run again: an engine step's (pure, or made of nested
	// runs with records of their own), or an idempotent component's that
	// succeeded. Writes are applied in order, and no component attempt
	// starts before the results queued until then are durable (see
	// runStep), so nothing calls out on a result that a crash could undo;
	// pure dependants (transforms, conditions) need not wait. The execution's
	// final write is awaited and makes everything before it durable.
	async := r.ok && (n.engine != nil || n.idempotent)
	cp := &Checkpoint{Steps: []*StepState{st}, Results: []StepResult{res}, Async: async}
	if !r.ok && x.exec.FailedStep == "" {
		// The failure is recorded with the result that caused it.
		hdr := x.header()
		hdr.FailedStep = n.def.ID
		hdr.Error = x.scrubError(&sdk.Error{Code: r.err.Code, Message: fmt.Sprintf("step %q failed: %s", n.def.ID, r.err.Message),
			Details: map[string]any{"stepId": n.def.ID}})
		cp.Execution = hdr
	}
	if x.checkpoint(cp) == nil && async && n.step != nil {
		x.queuedResult()
	}
	return r
}

// header returns a copy of the execution's header for a checkpoint.
func (x *run) header() *Execution {
	h := *x.exec
	h.Steps = nil
	return &h
}

// runFallback runs the fallback chain of a failed step. The fallback sees the
// failure as {{error.code}}, {{error.message}} and {{error.stepId}}.
func (x *run) runFallback(ctx context.Context, failed *Node, cause *sdk.Error) (any, bool, *sdk.Error) {
	for f := failed.fallback; f != nil; {
		locals := map[string]any{RootError: errValueFor(failed.def.ID, cause)}
		key := f.def.ID
		if f.sharedFallback {
			key = f.def.ID + "@" + failed.def.ID // one record per step it stands in for
		}
		out, _, err, _ := x.runStep(ctx, f, x.scope.with(locals), runKey{key: key, fallbackFor: failed.def.ID})
		if err == nil {
			return out, true, nil
		}
		if f.onError == OnErrorContinue {
			return nil, true, nil
		}
		failed, cause, f = f, err, f.fallback
	}
	return nil, false, cause
}

func errValue(err *sdk.Error) any {
	if err == nil {
		return nil
	}
	m := map[string]any{"code": err.Code, "message": err.Message}
	if err.Details != nil {
		m["details"] = Normalize(err.Details)
	}
	return m
}

func errValueFor(stepID string, err *sdk.Error) map[string]any {
	m := errValue(err).(map[string]any)
	m["stepId"] = stepID
	return m
}

// runKey identifies a step run inside an execution.
type runKey struct {
	key         string // record key: the step id, or id[index] for FOR_EACH items
	parent      string
	index       *int
	fallbackFor string
	top         bool // a top-level step: its final state is saved with its result
}

// errParkedStep is returned by runStep for a WAIT that parked.
var errParkedStep = &sdk.Error{Code: "PARKED", Message: "waiting in the store", Err: errParked}

// runStep runs one step (top-level or nested) through retries, breaker and
// timeouts, recording every attempt. It returns the output, or the error that
// ended the step, and the steps it chose to skip. A step an earlier run of
// the execution completed is not run again: its saved output is returned.
func (x *run) runStep(ctx context.Context, n *Node, sc scope, k runKey) (any, *StepState, *sdk.Error, []*Node) {
	e := x.e
	start := e.clock.Now()
	var st *StepState
	firstAttempt := 1
	if prev, ok := x.loaded[k.key]; ok {
		switch prev.Status {
		case StatusCompleted:
			if k.key == n.def.ID && !k.top {
				x.scope.x.steps.set(n.def.ID, prev.Status, prev.Output, nil)
			}
			return prev.Output, prev, nil, nil
		case StatusFailed, StatusInterrupted:
			if k.key == n.def.ID && !k.top {
				x.scope.x.steps.set(n.def.ID, prev.Status, nil, errValue(prev.Error))
			}
			return nil, prev, prev.Error, nil
		}
		// Interrupted mid-flight (a crash, a lost lease) or parked: go on
		// from where it was, attempt numbers continuing.
		st = prev.Clone()
		st.Status = StatusRunning
		if st.StartedAt.IsZero() { // skipped before a retry: it starts now
			st.StartedAt = start
		}
		if len(st.History) > 0 {
			last := &st.History[len(st.History)-1]
			// RUNNING: a crash; CANCELLED: the engine stopped mid-attempt.
			if last.Status == StatusRunning || last.Status == StatusCancelled {
				last.Status = StatusInterrupted
				last.FinishedAt = start
				if !n.idempotent && st.WakeAt.IsZero() {
					// At most once: it may have done its work before the crash.
					return x.interrupted(n, k, st, start)
				}
			}
		}
		firstAttempt = st.Attempts + 1
		if !st.WakeAt.IsZero() {
			// A parked WAIT resumes the attempt it parked in.
			firstAttempt = max(st.Attempts, 1)
			st.History = st.History[:max(len(st.History)-1, 0)]
		}
	} else {
		// One allocation for the state and room for its first attempt.
		alloc := &struct {
			StepState
			first [1]Attempt
		}{StepState: StepState{ID: k.key, Type: n.def.Type, Status: StatusRunning, Parent: k.parent, Index: k.index,
			StartedAt: start, FallbackFor: k.fallbackFor}}
		st = &alloc.StepState
		st.History = alloc.first[:0:1]
	}
	x.putState(st)
	e.emit(Event{Type: EventStepStarted, Time: start, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type, Status: StatusRunning, Attempt: firstAttempt})

	info := sdk.RunInfo{
		WorkflowID: x.plan.wf.ID, ExecutionID: x.exec.ID, StepID: n.def.ID,
		IdempotencyKey: x.exec.ID + "/" + k.key,
	}
	var out any
	var stepErr *sdk.Error
	var skips []*Node
	failures := 0
	for attempt := firstAttempt; ; attempt++ {
		info.Attempt = attempt
		st.Attempts = attempt
		st.History = append(st.History, Attempt{Attempt: attempt, Status: StatusRunning, StartedAt: e.clock.Now()})
		// The attempt of a component (which may call out) is recorded before it
		// runs: after a crash it shows as interrupted, and an at-most-once step
		// is not sent again — for those the write is awaited. Engine steps
		// (control flow, transforms) are pure: their records come when they end.
		if n.step != nil {
			// Results of components queued without waiting become durable
			// with this write, before this one calls out.
			err := x.recordStart(st, n.idempotent)
			if x.isLost() {
				// Not called: the run stops (see checkpoint) — also when this
				// write went through but a write of a parallel branch failed.
				msg := "the run stopped"
				if err != nil {
					msg = err.Error()
				}
				return nil, st, &sdk.Error{Code: sdk.CodeCancelled, Message: msg}, nil
			}
		}
		var err error
		var input any
		out, input, skips, err = x.attempt(ctx, n, sc, info, st)
		if st.Input == nil && input != nil {
			st.Input = x.scope.x.redact.scrub(input)
		}
		now := e.clock.Now()
		h := &st.History[len(st.History)-1]
		h.FinishedAt = now
		h.DurationMs = now.Sub(h.StartedAt).Milliseconds()
		if errors.Is(err, errParked) {
			h.Status = StatusWaiting
			st.Status = StatusWaiting
			_ = x.checkpoint(&Checkpoint{Steps: []*StepState{st}})
			e.emit(Event{Type: EventStepWaiting, Time: now, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type, Status: StatusWaiting, Attempt: attempt})
			return nil, st, errParkedStep, nil
		}
		if err == nil {
			out = Normalize(out)
			h.Status = StatusCompleted
			break
		}
		failures++
		stepErr = x.classify(ctx, err)
		h.Status, h.Error = StatusFailed, x.scrubError(stepErr)
		if ctx.Err() != nil {
			h.Status = x.interruptedStatus(ctx)
			break
		}
		if failures >= n.retry.maxAttempts || !n.retry.retryable(stepErr) {
			break
		}
		if !n.idempotent && (stepErr.Code == sdk.CodeTimeout || stepErr.Code == sdk.CodeConnection || stepErr.Code == sdk.CodePluginCrashed) {
			break // the request may have done its work: an at-most-once step is not sent again
		}
		if stepErr.RetryAfter > MaxRetryAfter {
			break // the service asks for more patience than a step gets
		}
		delay := n.retry.delay(failures, stepErr.RetryAfter, e.rand)
		if dl, ok := ctx.Deadline(); ok && e.clock.Now().Add(delay).After(dl) {
			break // the execution would time out before the next attempt
		}
		h.RetryDelayMs = delay.Milliseconds()
		_ = x.checkpoint(&Checkpoint{Steps: []*StepState{st}, Async: true})
		e.emit(Event{Type: EventStepRetrying, Time: now, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type,
			Status: StatusFailed, Attempt: attempt, Delay: delay, Error: h.Error})
		if err := sleep(ctx, e.clock, delay); err != nil {
			break
		}
	}

	end := e.clock.Now()
	st.FinishedAt = end
	st.DurationMs = end.Sub(st.StartedAt).Milliseconds()
	st.WakeAt = time.Time{}
	last := st.History[len(st.History)-1]
	st.Status = last.Status
	if st.Status == StatusCompleted {
		stepErr = nil
		st.Output = x.scope.x.redact.scrub(out)
	} else {
		out, skips = nil, nil
		st.Error = x.scrubError(stepErr)
	}
	if k.key == n.def.ID && !k.top {
		x.scope.x.steps.set(n.def.ID, st.Status, out, errValue(stepErr))
	}
	if !k.top {
		// Nested steps follow the rule of runTop's results.
		async := st.Status == StatusCompleted && (n.engine != nil || n.idempotent)
		if x.checkpoint(&Checkpoint{Steps: []*StepState{st}, Async: async}) == nil && async && n.step != nil {
			x.queuedResult()
		}
	}
	e.emit(Event{Type: EventStepFinished, Time: end, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type,
		Status: st.Status, Attempt: st.Attempts, Duration: end.Sub(start), Error: st.Error})
	return out, st, stepErr, skips
}

// interrupted ends an at-most-once step that an earlier run may have sent:
// INTERRUPTED, never run again; its onError decides what follows.
func (x *run) interrupted(n *Node, k runKey, st *StepState, now time.Time) (any, *StepState, *sdk.Error, []*Node) {
	err := sdk.Errorf(sdk.CodeInterrupted, "step %q was interrupted by a crash and is at most once (idempotent: false); it is not run again", n.def.ID)
	st.Status, st.Error, st.FinishedAt = StatusInterrupted, err, now
	st.DurationMs = now.Sub(st.StartedAt).Milliseconds()
	x.putState(st)
	if !k.top {
		_ = x.checkpoint(&Checkpoint{Steps: []*StepState{st}})
	}
	x.e.emit(Event{Type: EventStepFinished, Time: now, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type,
		Status: st.Status, Attempt: st.Attempts, Error: err})
	return nil, st, err, nil
}

// attempt makes one attempt: render the config, pass the breaker, bound the
// time, call the component. It returns the rendered input for the record.
func (x *run) attempt(ctx context.Context, n *Node, sc scope, info sdk.RunInfo, st *StepState) (out any, input any, skips []*Node, err error) {
	if n.engine != nil {
		timeout := n.timeout
		if _, control := n.engine.(ControlFlow); !control && timeout == 0 {
			timeout = x.e.stepTimeout // it may call transforms and validators
		}
		actx, cancel := x.attemptContext(ctx, timeout)
		defer cancel()
		r := &StepRun{x: x, node: n, scope: sc, info: info, state: st}
		out, err = x.guard(n, func() (any, error) { return n.engine.Execute(actx, r) })
		if len(r.logs) > 0 {
			st.History[len(st.History)-1].Logs = r.logs
		}
		return out, nil, r.skips, timeoutCause(ctx, actx, err)
	}
	cfg, err := n.config.Render(ctx, sc)
	if err != nil {
		return nil, nil, nil, templateErr(err)
	}
	if n.schema != nil {
		// Before the breaker: a config the component would refuse says
		// nothing about the service behind it.
		if err := n.schema.checkRendered(cfg, n.def.Type); err != nil {
			return nil, cfg, nil, err
		}
	}
	if n.breaker != nil {
		permit, aerr := x.e.breakers.Acquire(ctx, *n.breaker)
		if aerr != nil {
			return nil, cfg, nil, aerr
		}
		// err is the named result: the call's final outcome. A call cut short
		// by the execution (cancelled, failed elsewhere, out of time) says
		// nothing about the service.
		defer func() {
			outcome := err
			if ctx.Err() != nil {
				outcome = &sdk.Error{Code: sdk.CodeCancelled, Message: "call interrupted by the execution"}
			}
			_ = permit.Done(x.bg, outcome)
		}()
	}
	timeout := n.timeout
	if timeout == 0 {
		timeout = x.e.stepTimeout
	}
	actx, cancel := x.attemptContext(ctx, timeout)
	defer cancel()
	out, err = x.guard(n, func() (any, error) {
		o, err := n.step.Run(actx, sdk.Input{Config: cfg, Run: info})
		return o.Data, err
	})
	err = timeoutCause(ctx, actx, err)
	return out, cfg, nil, err
}

// guard turns a panicking component into a failed attempt: a bug in one
// component must not take the engine down.
func (x *run) guard(n *Node, call func() (any, error)) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			x.e.log.Error("step panicked", "execution", x.exec.ID, "step", n.def.ID, "type", n.def.Type,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, sdk.Errorf(sdk.CodeInternal, "step %q panicked: %v", n.def.ID, p)
		}
	}()
	return call()
}

func (x *run) attemptContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	return withTimeout(ctx, x.e.clock, timeout, errStepTimeout)
}

// timeoutCause turns an error caused by the attempt's own deadline (the
// attempt context ended, the execution's did not) into a retryable TIMEOUT,
// whatever the component made of it.
func timeoutCause(ctx, actx context.Context, err error) error {
	if err == nil || actx.Err() == nil || ctx.Err() != nil {
		return err
	}
	if !errors.Is(context.Cause(actx), errStepTimeout) {
		return err
	}
	if e := sdk.AsError(err); e.Code == sdk.CodeTimeout {
		return e
	}
	return &sdk.Error{Code: sdk.CodeTimeout, Message: "attempt timed out: " + err.Error(), Retryable: true, Err: err}
}

func templateErr(err error) error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	return sdk.Errorf(sdk.CodeTemplate, "%v", err)
}

// classify turns any error into an *sdk.Error, naming execution-level
// cancellation and timeout for what they are.
func (x *run) classify(ctx context.Context, err error) *sdk.Error {
	if ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errCancelled):
			return &sdk.Error{Code: sdk.CodeCancelled, Message: "execution cancelled", Err: err}
		case errors.Is(cause, errFailFast):
			return &sdk.Error{Code: sdk.CodeCancelled, Message: "stopped: " + cause.Error(), Err: err}
		case errors.Is(cause, errLeaseLost), errors.Is(cause, errShutdown), errors.Is(cause, errStoreFailed):
			return &sdk.Error{Code: sdk.CodeCancelled, Message: cause.Error(), Err: err}
		case errors.Is(cause, errExecutionTimeout):
			return &sdk.Error{Code: sdk.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", x.plan.timeout), Err: err}
		case errors.Is(cause, errStepTimeout):
			return &sdk.Error{Code: sdk.CodeTimeout, Message: "the enclosing step timed out", Err: err}
		case errors.Is(cause, context.DeadlineExceeded):
			return &sdk.Error{Code: sdk.CodeTimeout, Message: "the caller's deadline passed", Err: err}
		default:
			return &sdk.Error{Code: sdk.CodeCancelled, Message: cause.Error(), Err: err}
		}
	}
	e := sdk.AsError(err)
	if e.Message == "" {
		cp := *e // the component's own value, maybe shared: never change it
		cp.Message = cp.Code
		e = &cp
	}
	return e
}

func (x *run) interruptedStatus(ctx context.Context) Status {
	if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
		return StatusTimedOut
	}
	return StatusCancelled
}

func (x *run) scrubError(e *sdk.Error) *sdk.Error {
	if e == nil {
		return nil
	}
	cp := *e
	cp.Message = x.scope.x.redact.scrubString(cp.Message)
	if cp.Details != nil {
		cp.Details = x.scope.x.redact.scrub(Normalize(cp.Details))
	}
	return &cp
}

func (x *run) putState(st *StepState) {
	x.mu.Lock()
	x.exec.Steps[st.ID] = st
	x.mu.Unlock()
}

// park gives the execution back to the store until its earliest WAIT ends;
// no goroutine waits for it.
func (x *run) park(wake time.Time) {
	h := x.header()
	h.Status, h.WakeAt = StatusWaiting, wake
	x.exec.Status, x.exec.WakeAt = StatusWaiting, wake
	if x.checkpoint(&Checkpoint{Execution: h, Release: true}) == nil {
		x.e.emit(Event{Type: EventExecutionParked, Time: x.e.clock.Now(), ExecutionID: x.exec.ID, Status: StatusWaiting})
	}
}

// finish settles the execution's status and output, runs the error handler
// when it failed, and records the result.
func (x *run) finish(parent, ctx context.Context) {
	exec := x.exec
	switch {
	case exec.FailedStep != "":
		exec.Status = StatusFailed
	case ctx.Err() != nil && x.interruptedStatus(ctx) == StatusTimedOut:
		exec.Status = StatusTimedOut
		exec.Error = x.classify(ctx, ctx.Err())
		exec.Error.Err = nil
	case ctx.Err() != nil:
		exec.Status = StatusCancelled
		exec.Error = x.classify(ctx, ctx.Err())
		exec.Error.Err = nil
	default:
		exec.Status = StatusCompleted
		out, err := x.output(ctx)
		if err != nil {
			exec.Status = StatusFailed
			exec.Error = sdk.AsError(err)
		} else {
			exec.Output = x.scope.x.redact.scrub(out)
		}
	}
	if h := x.plan.errorHandler; h != nil && exec.Status != StatusCompleted && exec.Status != StatusCancelled {
		x.runErrorHandler(parent, h)
	}
	exec.Error = x.scrubError(exec.Error)
	exec.Input = x.scope.x.redact.scrub(exec.Input)
	exec.WakeAt = time.Time{}
	end := x.e.clock.Now()
	exec.FinishedAt = end
	exec.DurationMs = end.Sub(exec.StartedAt).Milliseconds()
	if x.checkpoint(&Checkpoint{Execution: x.header(), Release: true}) != nil && x.isLost() {
		return
	}
	x.e.emit(Event{Type: EventExecutionFinished, Time: end, ExecutionID: exec.ID, Status: exec.Status,
		Duration: end.Sub(exec.StartedAt), Error: exec.Error})
}

// runErrorHandler runs the workflow's errorHandler. It runs even when the
// execution timed out, so it gets a context of its own: not cancelled with
// the execution, bounded by the handler's timeout (or the engine's default),
// and still stoppable through Engine.Cancel.
func (x *run) runErrorHandler(parent context.Context, h *Node) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	defer cancel(nil)
	x.e.mu.Lock()
	x.e.running[x.exec.ID] = cancel
	x.e.mu.Unlock()
	timeout := h.timeout
	if timeout == 0 {
		timeout = x.e.stepTimeout
	}
	if timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = withTimeout(ctx, x.e.clock, timeout, errStepTimeout)
		defer stop()
	}
	errv := map[string]any{"code": x.exec.Error.Code, "message": x.exec.Error.Message, "stepId": x.exec.FailedStep}
	_, _, _, _ = x.runStep(ctx, h, x.scope.with(map[string]any{RootError: errv}), runKey{key: h.def.ID})
}

// output computes the execution's output: the workflow's output template, or
// the output of the step that ended it, or an object of the outputs of the
// steps that ended it when there are several.
func (x *run) output(ctx context.Context) (any, error) {
	if x.plan.output != nil {
		v, err := x.plan.output.Render(ctx, x.scope)
		if err != nil {
			return nil, templateErr(err)
		}
		return v, nil
	}
	var sinks []*Node
	for _, n := range x.plan.sinks {
		if st := x.exec.Steps[n.def.ID]; st != nil && st.Status != StatusSkipped {
			sinks = append(sinks, n)
		}
	}
	outputOf := func(n *Node) any {
		entry, _ := x.scope.x.steps.get(n.def.ID)
		m, _ := entry.(map[string]any)
		return m["output"]
	}
	if len(sinks) == 1 {
		return outputOf(sinks[0]), nil
	}
	out := make(map[string]any, len(sinks))
	for _, n := range sinks {
		out[n.def.ID] = outputOf(n)
	}
	return out, nil
}

// sleep waits on the engine's clock, or until ctx ends.
func sleep(ctx context.Context, clock clockwork.Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// host is the sdk.Host lent to components at provisioning. Secrets it hands
// out are remembered by the plan, so that every execution of the plan keeps
// them out of its records.
type host struct {
	log     *slog.Logger
	secrets SecretSource
	redact  *redactor
}

func (h host) Logger() *slog.Logger { return h.log }

func (h host) Secret(ctx context.Context, name string) (string, error) {
	if h.secrets == nil {
		return "", fmt.Errorf("%w: %q", ErrNoSecret, name)
	}
	v, err := h.secrets.Secret(ctx, name)
	if err == nil {
		h.redact.remember(v)
	}
	return v, err
}

func (e *Engine) host(component string, redact *redactor) sdk.Host {
	return host{log: e.log.With("component", component), secrets: e.secrets, redact: redact}
}
