package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/weftworks/weft/sdk"
)

// ErrLeaseLost is returned by guarded writes when the execution is no longer
// leased to the caller: its lease expired and another engine took it over.
// The caller must stop working on the execution and write nothing more.
var ErrLeaseLost = errors.New("execution lease lost")

// DuplicateError is returned by CreateExecution for an execution whose
// idempotency key an execution of the same workflow already has.
type DuplicateError struct {
	ID string // the execution that has the key
}

func (e *DuplicateError) Error() string {
	return "an execution with this idempotency key exists: " + e.ID
}

// Lease says which engine runs an execution, until when. The token changes
// on every claim, so a writer that lost its lease cannot write by mistake
// after another engine claimed the execution.
type Lease struct {
	Owner string
	Token int64
	Until time.Time
}

// Claimed is an execution an engine has leased.
type Claimed struct {
	Execution *Execution // the header; Steps is empty
	Lease     Lease
}

// StepResult is the durable outcome of a top-level step: what later steps see
// of it, whether the execution goes on past it, and the steps it chose not to
// run. It is written in the same transaction as the step's final state, and
// the schedule of its dependants follows from it.
type StepResult struct {
	StepID string     `json:"stepId"`
	Status Status     `json:"status"`
	OK     bool       `json:"ok"` // completed, or failed and recovered (CONTINUE, fallback)
	Output any        `json:"output,omitempty"`
	Error  *sdk.Error `json:"error,omitempty"`
	Skips  []string   `json:"skips,omitempty"`
	// OutputIsStep lets a store keep the output once: it is the step's own
	// output, stored with the step. Stores resolve it before returning.
	OutputIsStep bool `json:"outputIsStep,omitempty"`
}

// RunState is what a claimed execution resumes from.
type RunState struct {
	// Steps holds the last saved state of every step run, keyed like
	// Execution.Steps.
	Steps map[string]*StepState
	// Results holds the outcome of every top-level step already resolved.
	Results map[string]StepResult
}

// Checkpoint is one atomic change to a leased execution.
type Checkpoint struct {
	Steps   []*StepState // step states to save (each with its attempts)
	Results []StepResult // top-level steps resolved
	// Execution, when set, replaces the execution's header (status, output,
	// error, wake time …); Steps is ignored.
	Execution *Execution
	// Release gives the lease back: the execution finished, or is parked
	// until Execution.WakeAt.
	Release bool
	// Async tells the store the caller does not wait for this write: it may
	// be written later, or merged into a later checkpoint of the same steps,
	// and a crash may lose it — but writes are applied in the order they are
	// made, so once a later awaited write returns, this one is durable too.
	// Used for records whose loss only makes a step that may safely run again
	// run again: an attempt that starts, a retry, the result of a pure step.
	Async bool
}

// ExecutionStore persists executions and lets several engines share them.
// Implementations copy what they are given: the engine keeps changing its own
// objects after a call returns.
type ExecutionStore interface {
	// CreateExecution stores a new execution. Without a lease it is stored
	// as PENDING for any engine to claim, durably before the call returns.
	// With a lease it is stored already claimed by the lease's owner, who
	// runs it at once; the store may then apply the write asynchronously, as
	// long as it applies the owner's later writes after it. An execution
	// whose IdempotencyKey another execution of the same workflow has is not
	// stored: the error is a *DuplicateError naming that one.
	CreateExecution(ctx context.Context, x *Execution, lease *Lease) error
	// Claim leases up to n executions that are ready to run: PENDING ones,
	// WAITING ones whose wake time has come, and RUNNING or WAITING ones
	// whose lease expired because their engine stopped.
	Claim(ctx context.Context, owner string, n int, now time.Time, leaseFor time.Duration) ([]Claimed, error)
	// Renew extends the leases an owner holds; it returns the ids of those it
	// no longer holds.
	Renew(ctx context.Context, owner string, leases map[string]int64, until time.Time) (lost []string, err error)
	// LoadRun returns the saved state of an execution, to resume it.
	LoadRun(ctx context.Context, id string) (*RunState, error)
	// Checkpoint applies a change atomically if the lease is still held,
	// else returns ErrLeaseLost and changes nothing.
	Checkpoint(ctx context.Context, id string, lease Lease, cp *Checkpoint) error
	// GetExecution returns an execution with its steps, or ErrNotFound.
	GetExecution(ctx context.Context, id string) (*Execution, error)
	// Cancel ends an unfinished execution as CANCELLED at once, with err as
	// its error: its lease is revoked, so the engine running it (if any)
	// writes nothing more and stops at its next write or lease renewal, and
	// its unfinished steps end CANCELLED. ErrConflict for a finished
	// execution, ErrNotFound for an unknown one.
	Cancel(ctx context.Context, id string, err *sdk.Error, now time.Time) error
	// Reopen makes a FAILED, CANCELLED or TIMED_OUT execution PENDING again,
	// to retry it: the results of the steps in results are dropped and the
	// states of the steps in steps become PENDING (their attempts kept), so
	// that those run again while the others keep their outputs. ErrConflict
	// when the execution is not in one of those statuses.
	Reopen(ctx context.Context, id string, results, steps []string, now time.Time) error
	// NextWake returns the earliest wake time of a parked execution.
	NextWake(ctx context.Context) (time.Time, bool, error)
}

// DefinitionStore keeps the workflow versions executions run, so that any
// engine can resume any execution.
type DefinitionStore interface {
	// SaveDefinition stores a workflow definition as an immutable version and
	// returns its workflow id and version. Saving the same definition again
	// returns the same version.
	SaveDefinition(ctx context.Context, wf *Workflow) (id string, version int, err error)
	// GetDefinition returns a stored version, or ErrNotFound.
	GetDefinition(ctx context.Context, id string, version int) (*Workflow, error)
}

// Store is everything the engine persists through. core defines it; db/
// implements it on SQLite and PostgreSQL; MemoryStore keeps it in memory.
type Store interface {
	ExecutionStore
	DefinitionStore
	BreakerStore
}

// Notifier is implemented by stores that can tell engines promptly that work
// is waiting (PostgreSQL LISTEN/NOTIFY); engines without it poll.
type Notifier interface {
	// Notify announces new work to every engine sharing the store.
	Notify(ctx context.Context) error
	// Subscribe returns a channel that receives a value when work may be
	// waiting, until ctx ends; it may then be closed.
	Subscribe(ctx context.Context) (<-chan struct{}, error)
}

// MemoryStore is a Store held in memory: for `weft run`, tests and embedding.
// It is safe for concurrent use; nothing survives the process.
type MemoryStore struct {
	mu          sync.RWMutex
	executions  map[string]*memExecution
	order       []string // creation order, for fair claims
	breakers    map[string]BreakerState
	definitions map[string][]*Workflow // workflow id → versions (1-based)
	byHash      map[string][2]any      // definition hash → id, version
	subs        []chan struct{}
	tokens      int64
}

type memExecution struct {
	header  Execution // Steps unused
	lease   Lease
	steps   map[string]StepState
	results map[string]StepResult
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		executions:  map[string]*memExecution{},
		breakers:    map[string]BreakerState{},
		definitions: map[string][]*Workflow{},
		byHash:      map[string][2]any{},
	}
}

var (
	_ Store    = (*MemoryStore)(nil)
	_ Notifier = (*MemoryStore)(nil)
)

// CreateExecution implements ExecutionStore.
func (m *MemoryStore) CreateExecution(_ context.Context, x *Execution, lease *Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.executions[x.ID]; dup {
		return fmt.Errorf("memory store: execution %s exists", x.ID)
	}
	if x.IdempotencyKey != "" {
		for _, id := range m.order {
			if h := &m.executions[id].header; h.WorkflowID == x.WorkflowID && h.IdempotencyKey == x.IdempotencyKey {
				return &DuplicateError{ID: id}
			}
		}
	}
	mx := &memExecution{header: *x, steps: map[string]StepState{}, results: map[string]StepResult{}}
	mx.header.Steps = nil
	if lease != nil {
		mx.lease = *lease
	}
	m.executions[x.ID] = mx
	m.order = append(m.order, x.ID)
	return nil
}

// Claim implements ExecutionStore.
func (m *MemoryStore) Claim(_ context.Context, owner string, n int, now time.Time, leaseFor time.Duration) ([]Claimed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Claimed
	for _, id := range m.order {
		if len(out) >= n {
			break
		}
		mx := m.executions[id]
		if !claimable(&mx.header, mx.lease, now) {
			continue
		}
		m.tokens++
		mx.lease = Lease{Owner: owner, Token: m.tokens, Until: now.Add(leaseFor)}
		h := mx.header
		out = append(out, Claimed{Execution: &h, Lease: mx.lease})
	}
	return out, nil
}

// claimable says whether an execution may be claimed now.
func claimable(x *Execution, lease Lease, now time.Time) bool {
	expired := lease.Owner == "" || !now.Before(lease.Until)
	switch x.Status {
	case StatusPending:
		return expired
	case StatusWaiting:
		return expired && !now.Before(x.WakeAt)
	case StatusRunning:
		return expired
	}
	return false
}

// Renew implements ExecutionStore.
func (m *MemoryStore) Renew(_ context.Context, owner string, leases map[string]int64, until time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var lost []string
	for id, token := range leases {
		mx, ok := m.executions[id]
		if !ok || mx.lease.Owner != owner || mx.lease.Token != token {
			lost = append(lost, id)
			continue
		}
		mx.lease.Until = until
	}
	sort.Strings(lost)
	return lost, nil
}

// LoadRun implements ExecutionStore.
func (m *MemoryStore) LoadRun(_ context.Context, id string) (*RunState, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mx, ok := m.executions[id]
	if !ok {
		return nil, ErrNotFound
	}
	rs := &RunState{Steps: make(map[string]*StepState, len(mx.steps)), Results: make(map[string]StepResult, len(mx.results))}
	for k, s := range mx.steps {
		rs.Steps[k] = s.Clone()
	}
	for k, r := range mx.results {
		rs.Results[k] = r
	}
	return rs, nil
}

// Checkpoint implements ExecutionStore.
func (m *MemoryStore) Checkpoint(_ context.Context, id string, lease Lease, cp *Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx, ok := m.executions[id]
	if !ok {
		return ErrNotFound
	}
	if mx.lease.Owner != lease.Owner || mx.lease.Token != lease.Token {
		return ErrLeaseLost
	}
	for _, s := range cp.Steps {
		c := *s
		if len(s.History) > 0 {
			c.History = slices.Clone(s.History)
		}
		mx.steps[s.ID] = c
	}
	for _, r := range cp.Results {
		mx.results[r.StepID] = r
	}
	if cp.Execution != nil {
		mx.header = *cp.Execution
		mx.header.Steps = nil
	}
	if cp.Release {
		mx.lease = Lease{}
	}
	return nil
}

// Cancel implements ExecutionStore.
func (m *MemoryStore) Cancel(_ context.Context, id string, err *sdk.Error, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx, ok := m.executions[id]
	if !ok {
		return ErrNotFound
	}
	h := &mx.header
	if h.Status.Terminal() {
		return fmt.Errorf("%w: execution %s is %s", ErrConflict, id, h.Status)
	}
	h.Status, h.Error, h.FinishedAt, h.WakeAt = StatusCancelled, err, now, time.Time{}
	if !h.StartedAt.IsZero() {
		h.DurationMs = now.Sub(h.StartedAt).Milliseconds()
	}
	mx.lease = Lease{} // the holder's writes fail from now on
	for k, st := range mx.steps {
		if !st.Status.Terminal() {
			st.Status, st.FinishedAt, st.WakeAt = StatusCancelled, now, time.Time{}
			st.History = slices.Clone(st.History)
			for i := range st.History {
				if a := &st.History[i]; !a.Status.Terminal() {
					a.Status = StatusCancelled
					if a.FinishedAt.IsZero() {
						a.FinishedAt = now
					}
				}
			}
			mx.steps[k] = st
		}
	}
	return nil
}

// Reopen implements ExecutionStore.
func (m *MemoryStore) Reopen(_ context.Context, id string, results, steps []string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx, ok := m.executions[id]
	if !ok {
		return ErrNotFound
	}
	h := &mx.header
	if !Retryable(h.Status) {
		return fmt.Errorf("%w: execution %s is %s", ErrConflict, id, h.Status)
	}
	h.Status, h.Output, h.Error, h.FailedStep = StatusPending, nil, nil, ""
	h.FinishedAt, h.DurationMs, h.WakeAt = time.Time{}, 0, time.Time{}
	mx.lease = Lease{}
	for _, r := range results {
		delete(mx.results, r)
	}
	for _, k := range steps {
		if st, ok := mx.steps[k]; ok {
			st.Status, st.Error, st.FinishedAt = StatusPending, nil, time.Time{}
			mx.steps[k] = st
		}
	}
	m.order = append(slices.DeleteFunc(m.order, func(x string) bool { return x == id }), id)
	return nil
}

// Retryable reports whether an execution in that status may be retried.
func Retryable(s Status) bool {
	return s == StatusFailed || s == StatusCancelled || s == StatusTimedOut
}

// GetExecution implements ExecutionStore.
func (m *MemoryStore) GetExecution(_ context.Context, id string) (*Execution, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mx, ok := m.executions[id]
	if !ok {
		return nil, ErrNotFound
	}
	x := mx.header
	x.Steps = make(map[string]*StepState, len(mx.steps))
	for k, s := range mx.steps {
		x.Steps[k] = s.Clone()
	}
	return &x, nil
}

// NextWake implements ExecutionStore.
func (m *MemoryStore) NextWake(context.Context) (time.Time, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var next time.Time
	for _, mx := range m.executions {
		if mx.header.Status == StatusWaiting && (next.IsZero() || mx.header.WakeAt.Before(next)) {
			next = mx.header.WakeAt
		}
	}
	return next, !next.IsZero(), nil
}

// SaveDefinition implements DefinitionStore.
func (m *MemoryStore) SaveDefinition(_ context.Context, wf *Workflow) (string, int, error) {
	hash, err := DefinitionHash(wf)
	if err != nil {
		return "", 0, err
	}
	hash = wf.ID + "/" + hash // a stored workflow keeps its id; inline ones share by content
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref, ok := m.byHash[hash]; ok {
		return ref[0].(string), ref[1].(int), nil
	}
	id := wf.ID
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	cp := *wf
	cp.ID = id
	m.definitions[id] = append(m.definitions[id], &cp)
	version := len(m.definitions[id])
	cp.Version = version
	m.byHash[hash] = [2]any{id, version}
	return id, version, nil
}

// GetDefinition implements DefinitionStore.
func (m *MemoryStore) GetDefinition(_ context.Context, id string, version int) (*Workflow, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	versions := m.definitions[id]
	if version < 1 || version > len(versions) {
		return nil, ErrNotFound
	}
	return versions[version-1], nil
}

// Notify implements Notifier.
func (m *MemoryStore) Notify(context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, c := range m.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	return nil
}

// Subscribe implements Notifier.
func (m *MemoryStore) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	c := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs = append(m.subs, c)
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.subs = slices.DeleteFunc(m.subs, func(s chan struct{}) bool { return s == c })
	}()
	return c, nil
}

// UpdateBreaker implements BreakerStore.
func (m *MemoryStore) UpdateBreaker(_ context.Context, id string, fn func(*BreakerState, bool) error) (BreakerState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, exists := m.breakers[id]
	if err := fn(&s, exists); err != nil {
		return s, err
	}
	s.ServiceID = id
	m.breakers[id] = s
	return s, nil
}

// GetBreaker implements BreakerStore.
func (m *MemoryStore) GetBreaker(_ context.Context, id string) (BreakerState, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.breakers[id]
	if !ok {
		return BreakerState{}, ErrNotFound
	}
	return s, nil
}

// ListBreakers implements BreakerStore.
func (m *MemoryStore) ListBreakers(context.Context) ([]BreakerState, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]BreakerState, 0, len(m.breakers))
	for _, s := range m.breakers {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServiceID < out[j].ServiceID })
	return out, nil
}

// DeleteBreaker implements BreakerStore.
func (m *MemoryStore) DeleteBreaker(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.breakers[id]; !ok {
		return ErrNotFound
	}
	delete(m.breakers, id)
	return nil
}
