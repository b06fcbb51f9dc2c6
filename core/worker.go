package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/weftworks/weft/sdk"
)

// DefaultLeaseDuration is how long an engine holds an execution without
// renewing its lease. Another engine takes the execution over once it expires.
const DefaultLeaseDuration = 30 * time.Second

// Execution lifecycle events besides those in engine.go.
const (
	EventExecutionParked  = "execution.parked"
	EventExecutionResumed = "execution.resumed"
)

// planRef is where a plan's workflow version is stored.
type planRef struct {
	once    sync.Once
	id      string
	version int
	err     error
}

// stored makes sure the plan's workflow version is in the store, so that any
// engine can resume its executions, and returns its id and version.
func (e *Engine) stored(ctx context.Context, p *Plan) (string, int, error) {
	p.ref.once.Do(func() {
		p.ref.id, p.ref.version = p.wf.ID, p.wf.Version
		if p.ref.id == "" || p.ref.version == 0 {
			p.ref.id, p.ref.version, p.ref.err = e.store.SaveDefinition(ctx, p.wf)
		}
		if p.ref.err == nil {
			e.mu.Lock()
			e.plans[planKey(p.ref.id, p.ref.version)] = p
			e.mu.Unlock()
		}
	})
	return p.ref.id, p.ref.version, p.ref.err
}

func planKey(id string, version int) string { return fmt.Sprintf("%s@%d", id, version) }

// Plan returns the compiled plan of a stored workflow version, compiling it
// on first use; executions submitted with it run that version.
func (e *Engine) Plan(ctx context.Context, id string, version int) (*Plan, error) {
	return e.planFor(ctx, id, version)
}

// planFor returns the compiled plan of a stored workflow version.
func (e *Engine) planFor(ctx context.Context, id string, version int) (*Plan, error) {
	key := planKey(id, version)
	e.mu.Lock()
	p, ok := e.plans[key]
	e.mu.Unlock()
	if ok {
		return p, nil
	}
	wf, err := e.store.GetDefinition(ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("workflow %s version %d: %w", id, version, err)
	}
	p, err = e.Compile(ctx, wf)
	if err != nil {
		return nil, fmt.Errorf("workflow %s version %d: %w", id, version, err)
	}
	p.ref.once.Do(func() { p.ref.id, p.ref.version = id, version })
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.plans[key]; ok {
		_ = p.Close(ctx)
		return prev, nil
	}
	e.plans[key] = p
	return p, nil
}

func (e *Engine) newExecution(id, wfID string, version int, plan *Plan, input any) *Execution {
	now := e.clock.Now()
	return &Execution{
		ID: id, WorkflowID: wfID, WorkflowName: plan.wf.Name, WorkflowVersion: version,
		Status: StatusPending, Input: DeepCopy(Normalize(input)), CreatedAt: now,
		Steps: map[string]*StepState{},
	}
}

// Submit stores a new execution of a plan and returns its id at once; an
// engine running Work (this one or another sharing the store) runs it.
func (e *Engine) Submit(ctx context.Context, plan *Plan, input any) (string, error) {
	id, _, err := e.SubmitKeyed(ctx, plan, input, "")
	return id, err
}

// SubmitKeyed is Submit with an idempotency key: if an execution of the
// plan's workflow already has the key, no new one is made and its id is
// returned, with replayed true.
func (e *Engine) SubmitKeyed(ctx context.Context, plan *Plan, input any, key string) (id string, replayed bool, err error) {
	wfID, version, err := e.stored(ctx, plan)
	if err != nil {
		return "", false, fmt.Errorf("submit: %w", err)
	}
	exec := e.newExecution(e.newID(), wfID, version, plan, input)
	exec.IdempotencyKey = key
	id, replayed, err = e.enqueue(ctx, exec)
	if err != nil {
		return "", false, fmt.Errorf("submit: %w", err)
	}
	return id, replayed, nil
}

// enqueue stores a new execution PENDING, durably, for a worker to claim,
// and wakes the workers. An execution of its workflow that has its
// idempotency key already is returned instead, with replayed true.
func (e *Engine) enqueue(ctx context.Context, exec *Execution) (id string, replayed bool, err error) {
	err = e.store.CreateExecution(ctx, exec, nil)
	var dup *DuplicateError
	if errors.As(err, &dup) {
		return dup.ID, true, nil
	}
	if err != nil {
		return "", false, err
	}
	e.signal(ctx)
	return exec.ID, false, nil
}

// begin stores a new execution as RUNNING, leased to this engine, and
// prepares its run in runCtx (ctx is the caller's, for the store). The
// store may hold its first records in memory (see Accept). A *DuplicateError
// names the execution that has its idempotency key already.
func (e *Engine) begin(ctx, runCtx context.Context, plan *Plan, exec *Execution) (*run, error) {
	exec.Status, exec.StartedAt = StatusRunning, exec.CreatedAt
	lease := Lease{Owner: e.owner, Token: rand.Int64N(1 << 52), Until: e.clock.Now().Add(e.leaseFor)}
	x := e.newRun(runCtx, plan, exec, lease, nil) // the scope keeps the real input
	exec.Input = x.scope.x.redact.scrub(exec.Input)
	if err := e.store.CreateExecution(ctx, exec, &lease); err != nil {
		return nil, err
	}
	e.emit(Event{Type: EventExecutionStarted, Time: exec.StartedAt, ExecutionID: exec.ID, Status: StatusRunning})
	return x, nil
}

// Wake tells this engine's workers, and through the store other engines',
// that executions may have become claimable (a paused workflow resumed).
func (e *Engine) Wake(ctx context.Context) { e.signal(ctx) }

// signal wakes this engine's workers and, through the store, other engines'.
func (e *Engine) signal(ctx context.Context) {
	select {
	case e.wake <- struct{}{}:
	default:
	}
	if n, ok := e.store.(Notifier); ok {
		if err := n.Notify(ctx); err != nil {
			e.log.Warn("notify engines", "err", err)
		}
	}
}

// Execute runs a plan to the end in this goroutine and returns the execution
// record. The execution is stored (claimed by this engine) before it starts,
// so with a durable store another engine resumes it if this process dies.
// Long WAITs block here instead of parking. A failed execution is reported
// through its status; the error is non-nil when the execution could not be
// stored, or when its records stopped being written: the run then stops (see
// run.storeFailed) and the execution returned is as far as it got.
func (e *Engine) Execute(ctx context.Context, plan *Plan, input any) (*Execution, error) {
	wfID, version, err := e.stored(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("record execution: %w", err)
	}
	exec := e.newExecution(e.newID(), wfID, version, plan, input)
	x, err := e.begin(ctx, ctx, plan, exec)
	if err != nil {
		return nil, fmt.Errorf("record execution: %w", err)
	}
	stop := e.keeper.hold(x)
	defer stop()
	e.ended(x, x.drive(ctx))
	if err := x.failure(); err != nil {
		return exec, fmt.Errorf("record execution %s: %w", exec.ID, err)
	}
	return exec, nil
}

// WorkOptions configure Work.
type WorkOptions struct {
	// Concurrency is the number of executions run at once; default 32.
	Concurrency int
	// Poll is how often to look for executions whose engine died (expired
	// leases) and for work when the store cannot notify; default half the
	// lease duration.
	Poll time.Duration
	// Drain is how long the executions under way may go on once ctx ends
	// (a graceful shutdown): no new ones are claimed, those that finish in
	// time finish, and the rest then stop and go back to the store, to
	// resume from their checkpoints. Zero stops them at once.
	Drain time.Duration
}

// Work runs executions from the store until ctx ends: submitted ones, parked
// ones whose wake time has come, and those of engines that stopped (their
// lease expired). Several engines may share a store. When ctx ends, Work
// stops taking work and returns once the executions it runs have stopped;
// their leases run out and another engine resumes them from their checkpoints.
func (e *Engine) Work(ctx context.Context, opts WorkOptions) error {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	if opts.Poll <= 0 {
		opts.Poll = e.leaseFor / 2
	}
	// When ctx ends the runs stop as a shutdown, not a cancellation: their
	// executions go back to the store unfinished.
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	running := make(chan struct{}) // closed once every run has returned
	go func() {
		<-ctx.Done()
		if opts.Drain > 0 {
			t := e.clock.NewTimer(opts.Drain)
			defer t.Stop()
			select {
			case <-running:
			case <-t.Chan():
			}
		}
		stopRuns(errShutdown)
	}()
	var notified <-chan struct{}
	if n, ok := e.store.(Notifier); ok {
		c, err := n.Subscribe(ctx)
		if err != nil {
			return fmt.Errorf("subscribe to the store: %w", err)
		}
		notified = c
	}
	// The pool is shared with Start, which runs an execution here at once
	// when a slot is free.
	p := &pool{slots: make(chan struct{}, opts.Concurrency), freed: make(chan struct{}, 1), ctx: runCtx}
	e.mu.Lock()
	if e.pool == nil { // a second Work of one engine keeps its slots to itself
		e.pool = p
	}
	e.mu.Unlock()
	defer func() {
		// No Start joins the pool once it is gone, so the wait below is the
		// last word on its runs.
		e.mu.Lock()
		if e.pool == p {
			e.pool = nil
		}
		e.mu.Unlock()
		p.wg.Wait()
		close(running)
	}()
	slots, freed := p.slots, p.freed
	// pending: there may be claimable work not yet claimed. A freed slot is
	// a reason to claim only then: most slots are freed by executions Start
	// ran, with nothing queued, and a claim is a write.
	pending := true
	for {
		if free := cap(slots) - len(slots); free > 0 && pending {
			claims, err := e.store.Claim(ctx, e.owner, free, e.clock.Now(), e.leaseFor)
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim executions", "err", err)
			}
			for _, c := range claims {
				slots <- struct{}{}
				p.wg.Add(1)
				go func() {
					defer p.release()
					e.resume(runCtx, c)
				}()
			}
			// Every free slot filled: there may be more, claimed as soon as
			// a slot frees. An error is tried again at the next poll.
			pending = err == nil && len(claims) == free
			if pending {
				continue
			}
		}
		wait := opts.Poll
		if next, ok, err := e.store.NextWake(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(e.clock.Now()), 0))
		}
		timer := e.clock.NewTimer(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-e.wake:
			case _, open := <-notified:
				if !open {
					notified = nil // the notifier stopped (ctx is done)
					continue sleep
				}
			case <-timer.Chan():
			case <-freed:
				if !pending {
					continue sleep
				}
			}
			break
		}
		timer.Stop()
		pending = true
	}
}

// pool is the capacity of an engine's Work: the executions it claims and
// those Start runs at once share its slots and its shutdown.
type pool struct {
	slots chan struct{}   // one value per execution running
	freed chan struct{}   // a slot was freed: Work may claim again
	ctx   context.Context // the runs' context: a shutdown, not a cancellation, when Work ends
	wg    sync.WaitGroup
}

// acquire takes a free slot if there is one (with e.mu held, so that Work's
// final wait cannot start in between).
func (p *pool) acquire() bool {
	select {
	case p.slots <- struct{}{}:
		p.wg.Add(1)
		return true
	default:
		return false
	}
}

// release frees a slot taken by acquire or by Work's claims.
func (p *pool) release() {
	<-p.slots
	select {
	case p.freed <- struct{}{}:
	default:
	}
	p.wg.Done()
}

// resume runs a claimed execution from its checkpoints.
func (e *Engine) resume(ctx context.Context, c Claimed) {
	exec := c.Execution
	exec.Steps = map[string]*StepState{}
	fail := func(err error) {
		now := e.clock.Now()
		h := *exec
		h.Steps = nil
		h.Status, h.FinishedAt = StatusFailed, now
		h.Error = &sdk.Error{Code: sdk.CodeInternal, Message: err.Error()}
		if cerr := e.store.Checkpoint(context.WithoutCancel(ctx), exec.ID, c.Lease, &Checkpoint{Execution: &h, Release: true}); cerr != nil {
			e.log.Error("record execution", "execution", exec.ID, "err", cerr)
		}
	}
	plan, err := e.planFor(ctx, exec.WorkflowID, exec.WorkflowVersion)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("resume execution", "execution", exec.ID, "err", err)
			fail(err)
		}
		return
	}
	rs, err := e.store.LoadRun(ctx, exec.ID)
	if err != nil {
		e.log.Error("load execution", "execution", exec.ID, "err", err)
		return // the lease runs out; another attempt later
	}
	resumed := exec.Status != StatusPending
	if !resumed {
		exec.StartedAt = e.clock.Now()
	}
	exec.Status, exec.WakeAt = StatusRunning, time.Time{}
	x := e.newRun(ctx, plan, exec, c.Lease, rs)
	x.canPark = e.parkAfter > 0
	stop := e.keeper.hold(x)
	defer stop()
	if err := x.checkpoint(&Checkpoint{Execution: x.header()}); err != nil {
		e.ended(x, false)
		return
	}
	ev := EventExecutionStarted
	if resumed {
		ev = EventExecutionResumed
	}
	e.emit(Event{Type: ev, Time: e.clock.Now(), ExecutionID: exec.ID, Status: StatusRunning})
	e.ended(x, x.drive(ctx))
}

// leaseKeeper renews the leases of the executions this engine runs and stops
// those whose lease it lost.
type leaseKeeper struct {
	e    *Engine
	mu   sync.Mutex
	runs map[string]*run
	on   bool
}

// hold keeps x's lease renewed until the returned function is called.
func (k *leaseKeeper) hold(x *run) func() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.runs == nil {
		k.runs = map[string]*run{}
	}
	k.runs[x.exec.ID] = x
	if !k.on {
		k.on = true
		go k.loop()
	}
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.runs, x.exec.ID)
	}
}

func (k *leaseKeeper) loop() {
	// Renewals follow real time even on a test's fake clock: they must not
	// count among the sleepers a test waits for.
	every := k.e.leaseFor / 3
	for {
		time.Sleep(every)
		k.mu.Lock()
		if len(k.runs) == 0 {
			k.on = false
			k.mu.Unlock()
			return
		}
		leases := make(map[string]int64, len(k.runs))
		for id, x := range k.runs {
			leases[id] = x.lease.Token
		}
		k.mu.Unlock()
		lost, err := k.e.store.Renew(context.Background(), k.e.owner, leases, k.e.clock.Now().Add(k.e.leaseFor))
		if err != nil {
			k.e.log.Error("renew leases", "err", err)
			continue
		}
		for _, id := range lost {
			k.mu.Lock()
			x := k.runs[id]
			k.mu.Unlock()
			if x != nil {
				x.mu.Lock()
				x.lost = true
				x.mu.Unlock()
				if x.stop != nil {
					x.stop(errLeaseLost)
				}
				k.e.log.Warn("lease lost; another engine runs the execution now", "execution", id)
			}
		}
	}
}
