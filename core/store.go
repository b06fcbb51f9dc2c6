package core

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
)

// ExecutionStore persists execution records as the engine makes progress.
// Implementations copy what they are given: the engine keeps changing its own
// objects after the call returns.
type ExecutionStore interface {
	// SaveExecution stores the execution's header: everything but Steps.
	SaveExecution(ctx context.Context, x *Execution) error
	// SaveStep stores the state of one step, with its attempts.
	SaveStep(ctx context.Context, executionID string, s *StepState) error
	// GetExecution returns an execution with its steps, or ErrNotFound.
	GetExecution(ctx context.Context, id string) (*Execution, error)
}

// Store is everything the engine persists through. core defines it; db/
// implements it on SQLite and PostgreSQL; MemoryStore keeps it in memory.
type Store interface {
	ExecutionStore
	BreakerStore
}

// MemoryStore is a Store held in memory: for `weft run`, tests and embedding.
// It is safe for concurrent use; nothing survives the process.
type MemoryStore struct {
	mu         sync.RWMutex
	executions map[string]*memExecution
	breakers   map[string]BreakerState
}

type memExecution struct {
	header Execution // Steps unused
	steps  map[string]StepState
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{executions: map[string]*memExecution{}, breakers: map[string]BreakerState{}}
}

var _ Store = (*MemoryStore)(nil)

// SaveExecution implements ExecutionStore.
func (m *MemoryStore) SaveExecution(_ context.Context, x *Execution) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx, ok := m.executions[x.ID]
	if !ok {
		mx = &memExecution{steps: map[string]StepState{}}
		m.executions[x.ID] = mx
	}
	mx.header = *x
	mx.header.Steps = nil
	return nil
}

// SaveStep implements ExecutionStore.
func (m *MemoryStore) SaveStep(_ context.Context, executionID string, s *StepState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx, ok := m.executions[executionID]
	if !ok {
		return errors.New("memory store: save step of unknown execution " + executionID)
	}
	cp := *s
	if len(s.History) > 0 {
		cp.History = slices.Clone(s.History)
	}
	mx.steps[s.ID] = cp
	return nil
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
