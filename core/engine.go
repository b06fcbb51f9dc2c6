package core

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
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
	// Owner names this engine in execution leases; default host:pid:random.
	Owner string
	// LeaseDuration is how long this engine holds an execution between lease
	// renewals; another engine takes it over when the lease expires. Default
	// DefaultLeaseDuration.
	LeaseDuration time.Duration
	// ParkAfter: a top-level WAIT longer than this parks its execution in the
	// store (WAITING, with a wake time) and frees its goroutine, when the
	// execution runs under Work. Default 2s; negative: never park.
	ParkAfter time.Duration
}

// DefaultParkAfter is the default of Options.ParkAfter.
const DefaultParkAfter = 2 * time.Second

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
	owner       string
	parkAfter   time.Duration
	leaseFor    time.Duration
	keeper      leaseKeeper

	mu      sync.Mutex
	pool    *pool // while Work runs
	watches map[string][]chan *Execution
	running map[string]context.CancelCauseFunc
	plans   map[string]*Plan // by workflow id@version, for claimed executions
	wake    chan struct{}    // work submitted in this process
}

// New returns an engine.
func New(opts Options) *Engine {
	e := &Engine{
		reg: opts.Registry, store: opts.Store, clock: opts.Clock, secrets: opts.Secrets,
		log: opts.Logger, observer: opts.Observer, newID: opts.NewID,
		stepTimeout: opts.DefaultStepTimeout, rand: opts.Rand, owner: opts.Owner, parkAfter: opts.ParkAfter, leaseFor: opts.LeaseDuration,
		running: map[string]context.CancelCauseFunc{}, plans: map[string]*Plan{}, wake: make(chan struct{}, 1),
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
	if e.owner == "" {
		host, _ := os.Hostname()
		e.owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if e.leaseFor <= 0 {
		e.leaseFor = DefaultLeaseDuration
	}
	e.keeper.e = e
	switch {
	case e.parkAfter == 0:
		e.parkAfter = DefaultParkAfter
	case e.parkAfter < 0:
		e.parkAfter = 0 // never
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

// Owner returns the name this engine uses in execution leases.
func (e *Engine) Owner() string { return e.owner }

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
