package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/sdk"
)

// DefaultStepTimeout bounds each attempt of a step that sets no timeout of its
// own, so that a hung remote service cannot hold an execution for ever.
const DefaultStepTimeout = 5 * time.Minute

// Options configure an Engine. The zero value works: an in-memory store, the
// real clock, a registry of compiled-in components (add the built-in step
// types with core/steps), no secrets, logs discarded.
type Options struct {
	Registry *Registry
	Store    Store
	Clock    clockwork.Clock
	Secrets  SecretSource
	Logger   *slog.Logger
	// Observer receives progress events; it is called from many goroutines.
	Observer func(Event)
	// NewID makes execution ids; the default makes UUIDv7s (time-ordered).
	NewID func() string
	// DefaultStepTimeout bounds attempts of steps without a timeout; 0 means
	// DefaultStepTimeout, a negative value means none.
	DefaultStepTimeout time.Duration
	// Rand returns floats in [0,1) for retry jitter; tests make it fixed.
	Rand func() float64
}

// Engine compiles workflows and runs executions.
type Engine struct {
	reg         *Registry
	store       Store
	clock       clockwork.Clock
	secrets     SecretSource
	log         *slog.Logger
	observer    func(Event)
	newID       func() string
	stepTimeout time.Duration
	rand        func() float64
	breakers    *Breakers

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
}

// New returns an engine.
func New(opts Options) *Engine {
	e := &Engine{
		reg: opts.Registry, store: opts.Store, clock: opts.Clock, secrets: opts.Secrets,
		log: opts.Logger, observer: opts.Observer, newID: opts.NewID,
		stepTimeout: opts.DefaultStepTimeout, rand: opts.Rand,
		running: map[string]context.CancelCauseFunc{},
	}
	if e.reg == nil {
		e.reg = NewRegistry()
	}
	if e.store == nil {
		e.store = NewMemoryStore()
	}
	if e.clock == nil {
		e.clock = clockwork.NewRealClock()
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.newID == nil {
		e.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	switch {
	case e.stepTimeout == 0:
		e.stepTimeout = DefaultStepTimeout
	case e.stepTimeout < 0:
		e.stepTimeout = 0
	}
	if e.rand == nil {
		e.rand = rand.Float64
	}
	e.breakers = NewBreakers(e.store, e.clock)
	return e
}

// Registry returns the engine's registry.
func (e *Engine) Registry() *Registry { return e.reg }

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Breakers returns the engine's circuit breakers.
func (e *Engine) Breakers() *Breakers { return e.breakers }

// Clock returns the engine's clock.
func (e *Engine) Clock() clockwork.Clock { return e.clock }

// Event is a progress report: an execution or a step started, retried or
// finished.
type Event struct {
	Type        string        `json:"type"`
	Time        time.Time     `json:"time"`
	ExecutionID string        `json:"executionId"`
	StepID      string        `json:"stepId,omitempty"`
	StepType    string        `json:"stepType,omitempty"`
	Status      Status        `json:"status"`
	Attempt     int           `json:"attempt,omitempty"`
	Delay       time.Duration `json:"-"` // before the next attempt (step.retrying)
	Duration    time.Duration `json:"-"` // of the step or execution (*.finished)
	Error       *sdk.Error    `json:"error,omitempty"`
}

// MarshalJSON writes durations in milliseconds, as everywhere in the contract.
func (ev Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		DelayMs    int64 `json:"delayMs,omitempty"`
		DurationMs int64 `json:"durationMs,omitempty"`
	}{plain(ev), ev.Delay.Milliseconds(), ev.Duration.Milliseconds()})
}

// Event types.
const (
	EventExecutionStarted  = "execution.started"
	EventExecutionFinished = "execution.finished"
	EventStepStarted       = "step.started"
	EventStepWaiting       = "step.waiting"
	EventStepRetrying      = "step.retrying"
	EventStepFinished      = "step.finished"
)

func (e *Engine) emit(ev Event) {
	if e.observer != nil {
		e.observer(ev)
	}
}

// Cancel cancels a running execution; it reports whether one was running.
func (e *Engine) Cancel(id string) bool {
	e.mu.Lock()
	cancel, ok := e.running[id]
	e.mu.Unlock()
	if ok {
		cancel(errCancelled)
	}
	return ok
}

// run is the state of one execution.
type run struct {
	e     *Engine
	plan  *Plan
	exec  *Execution
	scope scope
	bg    context.Context // for records: outlives cancellation

	mu sync.Mutex // guards exec.Steps
}

// Execute runs a plan to the end and returns the execution record. The error
// is non-nil only when the execution could not be recorded at all; a failed
// execution is reported through its status.
func (e *Engine) Execute(ctx context.Context, plan *Plan, input any) (*Execution, error) {
	now := e.clock.Now()
	wf := plan.wf
	exec := &Execution{
		ID: e.newID(), WorkflowID: wf.ID, WorkflowName: wf.Name, WorkflowVersion: wf.Version,
		Status: StatusRunning, Input: DeepCopy(Normalize(input)), CreatedAt: now, StartedAt: now,
		Steps: map[string]*StepState{},
	}
	vars := wf.Variables
	if vars == nil {
		vars = map[string]any{}
	}
	x := &run{e: e, plan: plan, exec: exec, bg: context.WithoutCancel(ctx)}
	x.scope = scope{x: &execScope{
		input:     exec.Input,
		variables: Normalize(vars).(map[string]any),
		execution: map[string]any{"id": exec.ID, "workflowId": wf.ID, "workflowName": wf.Name, "startedAt": now.UTC().Format(time.RFC3339Nano)},
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
	// The record keeps the input with secret values removed; the scope reads
	// the real one.
	exec.Input = x.scope.x.redact.scrub(exec.Input)
	if err := e.store.SaveExecution(ctx, exec); err != nil {
		return nil, fmt.Errorf("record execution: %w", err)
	}
	e.emit(Event{Type: EventExecutionStarted, Time: now, ExecutionID: exec.ID, Status: StatusRunning})

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.mu.Lock()
	e.running[exec.ID] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, exec.ID)
		e.mu.Unlock()
	}()
	if plan.timeout > 0 {
		var stop context.CancelFunc
		runCtx, stop = withTimeout(runCtx, e.clock, plan.timeout, errExecutionTimeout)
		defer stop()
	}

	// A failing step stops the steps still running (fail fast): their results
	// could no longer change the outcome.
	schedCtx, failFast := context.WithCancelCause(runCtx)
	defer failFast(nil)
	x.schedule(schedCtx, failFast)
	x.finish(ctx, runCtx)
	return exec, nil
}

// result is what a finished top-level step tells the scheduler.
type result struct {
	node   *Node
	state  *StepState
	ok     bool // completed, or failed and recovered (CONTINUE, fallback)
	output any
	err    *sdk.Error
	skips  []*Node
}

// schedule runs the step graph: every step whose dependencies are done starts
// at once; results come back to this one goroutine, which owns the schedule.
func (x *run) schedule(ctx context.Context, failFast context.CancelCauseFunc) {
	nodes := x.plan.graph()
	pending := make(map[*Node]int, len(nodes))
	skipped := map[*Node]bool{}
	forcedSkip := map[*Node]bool{}
	results := make(chan result, len(nodes))
	running := 0
	failed := false

	launch := func(n *Node) {
		running++
		go func() { results <- x.runTop(ctx, n) }()
	}
	// ready is a queue: every node enters it once, so it never outgrows nodes.
	ready := make([]*Node, 0, len(nodes))
	head := 0
	for _, n := range nodes {
		if n.handler {
			continue
		}
		pending[n] = len(n.deps)
		if len(n.deps) == 0 {
			ready = append(ready, n)
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
				for _, d := range n.dependants {
					if pending[d]--; pending[d] == 0 {
						ready = append(ready, d)
					}
				}
				continue
			}
			if failed || ctx.Err() != nil || forcedSkip[n] || allSkipped {
				skipped[n] = true
				x.markSkipped(ctx, n)
				for _, d := range n.dependants {
					if pending[d]--; pending[d] == 0 {
						ready = append(ready, d)
					}
				}
				continue
			}
			launch(n)
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
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
		for _, d := range r.node.dependants {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
}

func (x *run) markSkipped(ctx context.Context, n *Node) {
	x.markSkippedAs(ctx, n, n.def.ID, "")
}

// markSkippedAs records a step that will not run under the given key.
func (x *run) markSkippedAs(ctx context.Context, n *Node, key, parent string) {
	if n.barrier {
		return
	}
	now := x.e.clock.Now()
	st := &StepState{ID: key, Type: n.def.Type, Status: StatusSkipped, Parent: parent, FinishedAt: now, History: []Attempt{}}
	x.putState(st)
	if key == n.def.ID {
		x.scope.x.steps.set(n.def.ID, StatusSkipped, nil, nil)
	}
	x.save(ctx, st)
	x.e.emit(Event{Type: EventStepFinished, Time: now, ExecutionID: x.exec.ID, StepID: key, StepType: n.def.Type, Status: StatusSkipped})
	// Nested steps of a skipped step are skipped with it (a FOR_EACH's step
	// has no runs to record: there are no items).
	if n.repeats {
		return
	}
	for _, c := range n.nested {
		x.markSkippedAs(ctx, c, nestedKey(key, n.def.ID, c.def.ID, nil), key)
	}
}

// runTop runs a top-level step, with its fallback when it has one.
func (x *run) runTop(ctx context.Context, n *Node) result {
	out, st, err, skips := x.runStep(ctx, n, x.scope, runKey{key: n.def.ID})
	r := result{node: n, state: st, output: out, skips: skips}
	if err == nil {
		r.ok = true
		return r
	}
	r.err = err
	// A step that chooses branches and failed chose none: whatever happens
	// next (CONTINUE, a fallback), both branches are skipped.
	r.skips = n.branches
	if ctx.Err() != nil {
		return r
	}
	switch {
	case n.onError == OnErrorContinue:
		r.ok = true
	case n.fallback != nil:
		out, ok, ferr := x.runFallback(ctx, n, err)
		if ok {
			r.ok, r.output = true, out
			x.scope.x.steps.set(n.def.ID, StatusFailed, out, errValue(err))
		} else {
			r.err = ferr
		}
	}
	return r
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
}

// runStep runs one step (top-level or nested) through retries, breaker and
// timeouts, recording every attempt. It returns the output, or the error that
// ended the step, and the steps it chose to skip.
func (x *run) runStep(ctx context.Context, n *Node, sc scope, k runKey) (any, *StepState, *sdk.Error, []*Node) {
	e := x.e
	start := e.clock.Now()
	// One allocation for the state and room for its first attempt.
	alloc := &struct {
		StepState
		first [1]Attempt
	}{StepState: StepState{ID: k.key, Type: n.def.Type, Status: StatusRunning, Parent: k.parent, Index: k.index,
		StartedAt: start, FallbackFor: k.fallbackFor}}
	st := &alloc.StepState
	st.History = alloc.first[:0:1]
	x.putState(st)
	x.save(ctx, st)
	e.emit(Event{Type: EventStepStarted, Time: start, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type, Status: StatusRunning, Attempt: 1})

	info := sdk.RunInfo{
		WorkflowID: x.plan.wf.ID, ExecutionID: x.exec.ID, StepID: n.def.ID,
		IdempotencyKey: x.exec.ID + "/" + k.key,
	}
	var out any
	var stepErr *sdk.Error
	var skips []*Node
	for attempt := 1; ; attempt++ {
		info.Attempt = attempt
		st.Attempts = attempt
		at := Attempt{Attempt: attempt, Status: StatusRunning, StartedAt: e.clock.Now()}
		st.History = append(st.History, at)
		if attempt > 1 {
			x.save(ctx, st)
		}
		var err error
		var input any
		out, input, skips, err = x.attempt(ctx, n, sc, info, st)
		if attempt == 1 && input != nil {
			st.Input = x.scope.x.redact.scrub(input)
		}
		now := e.clock.Now()
		h := &st.History[len(st.History)-1]
		h.FinishedAt = now
		h.DurationMs = now.Sub(h.StartedAt).Milliseconds()
		if err == nil {
			out = Normalize(out)
			h.Status = StatusCompleted
			break
		}
		stepErr = x.classify(ctx, err)
		h.Status, h.Error = StatusFailed, x.scrubError(stepErr)
		if ctx.Err() != nil {
			h.Status = x.interruptedStatus(ctx)
			break
		}
		if attempt >= n.retry.maxAttempts || !n.retry.retryable(stepErr) {
			break
		}
		if !n.idempotent && (stepErr.Code == sdk.CodeTimeout || stepErr.Code == sdk.CodeConnection) {
			break // the request may have done its work: an at-most-once step is not sent again
		}
		if stepErr.RetryAfter > MaxRetryAfter {
			break // the service asks for more patience than a step gets
		}
		delay := n.retry.delay(attempt, stepErr.RetryAfter, e.rand)
		if dl, ok := ctx.Deadline(); ok && e.clock.Now().Add(delay).After(dl) {
			break // the execution would time out before the next attempt
		}
		h.RetryDelayMs = delay.Milliseconds()
		x.save(ctx, st)
		e.emit(Event{Type: EventStepRetrying, Time: now, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type,
			Status: StatusFailed, Attempt: attempt, Delay: delay, Error: h.Error})
		if err := sleep(ctx, e.clock, delay); err != nil {
			break
		}
	}

	end := e.clock.Now()
	st.FinishedAt = end
	st.DurationMs = end.Sub(start).Milliseconds()
	last := st.History[len(st.History)-1]
	st.Status = last.Status
	if st.Status == StatusCompleted {
		stepErr = nil
		st.Output = x.scope.x.redact.scrub(out)
	} else {
		out, skips = nil, nil
		st.Error = x.scrubError(stepErr)
	}
	if k.key == n.def.ID {
		x.scope.x.steps.set(n.def.ID, st.Status, out, errValue(stepErr))
	}
	x.save(ctx, st)
	e.emit(Event{Type: EventStepFinished, Time: end, ExecutionID: x.exec.ID, StepID: k.key, StepType: n.def.Type,
		Status: st.Status, Attempt: st.Attempts, Duration: end.Sub(start), Error: st.Error})
	return out, st, stepErr, skips
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
		return out, nil, r.skips, timeoutCause(ctx, actx, err)
	}
	cfg, err := n.config.Render(ctx, sc)
	if err != nil {
		return nil, nil, nil, templateErr(err)
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

func (x *run) save(_ context.Context, st *StepState) {
	if err := x.e.store.SaveStep(x.bg, x.exec.ID, st); err != nil {
		x.e.log.Error("record step", "execution", x.exec.ID, "step", st.ID, "err", err)
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
	end := x.e.clock.Now()
	exec.FinishedAt = end
	exec.DurationMs = end.Sub(exec.StartedAt).Milliseconds()
	if err := x.e.store.SaveExecution(context.WithoutCancel(parent), exec); err != nil {
		x.e.log.Error("record execution", "execution", exec.ID, "err", err)
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
