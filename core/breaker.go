package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/sdk"
)

// Circuit breaker states.
const (
	BreakerClosed   = "CLOSED"
	BreakerOpen     = "OPEN"
	BreakerHalfOpen = "HALF_OPEN"
)

// Breaker defaults (docs/workflows.md, "Circuit breakers").
const (
	DefaultBreakerThreshold        = 5
	DefaultBreakerTimeoutMs        = 60000
	DefaultBreakerHalfOpenMaxCalls = 1
)

// Where a breaker's config comes from: the steps that use it, or the API,
// which wins over the steps.
const (
	BreakerConfigFromStep = "step"
	BreakerConfigFromAPI  = "api"
)

// BreakerConfig is the tunable part of a circuit breaker.
type BreakerConfig struct {
	// Threshold is the number of consecutive failures that opens the breaker.
	Threshold int `json:"threshold" validate:"gte=1,lte=1000000"`
	// Timeout is how long the breaker stays OPEN before a trial, in ms: at most
	// a year (far longer ones would overflow a time.Duration).
	Timeout int64 `json:"timeout" validate:"gte=1,lte=31536000000"`
	// HalfOpenMaxCalls is the number of trial calls admitted in HALF_OPEN; that
	// many successes close the breaker, one failure opens it again.
	HalfOpenMaxCalls int `json:"halfOpenMaxCalls" validate:"gte=1,lte=1000"`
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Threshold <= 0 {
		c.Threshold = DefaultBreakerThreshold
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultBreakerTimeoutMs
	}
	if c.HalfOpenMaxCalls <= 0 {
		c.HalfOpenMaxCalls = DefaultBreakerHalfOpenMaxCalls
	}
	return c
}

// BreakerState is everything known about one breaker: its state, config and
// counters. Stores persist it; the API shows it.
type BreakerState struct {
	ServiceID    string        `json:"serviceId"`
	State        string        `json:"state"`
	Config       BreakerConfig `json:"config"`
	ConfigSource string        `json:"configSource"`
	// ConsecutiveFailures counts failures since the last success (CLOSED).
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// HalfOpenCalls is the number of trial calls admitted since HALF_OPEN began.
	HalfOpenCalls int `json:"halfOpenCalls"`
	// HalfOpenSuccesses counts successful trial calls.
	HalfOpenSuccesses int       `json:"halfOpenSuccesses"`
	OpenedAt          time.Time `json:"openedAt,omitzero"`
	StateChangedAt    time.Time `json:"stateChangedAt,omitzero"`
	LastFailureAt     time.Time `json:"lastFailureAt,omitzero"`
	LastSuccessAt     time.Time `json:"lastSuccessAt,omitzero"`
	TotalCalls        int64     `json:"totalCalls"`
	TotalSuccesses    int64     `json:"totalSuccesses"`
	TotalFailures     int64     `json:"totalFailures"`
	TotalRejections   int64     `json:"totalRejections"`
	// Generation changes on every state change, so late results of calls made
	// under an earlier state do not move the breaker. It is bookkeeping, not
	// shown by the API.
	Generation int64 `json:"-"`
}

// newBreakerState returns a fresh CLOSED breaker. Its generation starts at a
// random number, so a call admitted by a deleted breaker of the same name
// cannot move the new one (in this process or another sharing the store).
func newBreakerState(id string, now time.Time) BreakerState {
	return BreakerState{ServiceID: id, State: BreakerClosed, StateChangedAt: now, Generation: rand.Int64N(1 << 52)}
}

func (s *BreakerState) setState(state string, now time.Time) {
	s.State = state
	s.StateChangedAt = now
	s.Generation++
	s.HalfOpenCalls, s.HalfOpenSuccesses = 0, 0
	if state == BreakerOpen {
		s.OpenedAt = now
	}
	if state == BreakerClosed {
		s.ConsecutiveFailures = 0
	}
}

// ErrNotFound is returned by stores for records that do not exist.
var ErrNotFound = errors.New("not found")

// BreakerStore persists breaker state. UpdateBreaker is an atomic
// read-modify-write: fn sees the current state (a fresh CLOSED state with
// exists=false when there is none) and changes it; the store saves the result
// unless fn returns an error. A store shared by several engine instances makes
// them share their breakers.
type BreakerStore interface {
	UpdateBreaker(ctx context.Context, serviceID string, fn func(s *BreakerState, exists bool) error) (BreakerState, error)
	GetBreaker(ctx context.Context, serviceID string) (BreakerState, error)
	ListBreakers(ctx context.Context) ([]BreakerState, error)
	DeleteBreaker(ctx context.Context, serviceID string) error
}

// Breakers implements the CLOSED → OPEN → HALF_OPEN state machine described
// in docs/workflows.md over a BreakerStore. The state machine is written here
// rather than taken from sony/gobreaker because the state must live in the
// store (shared by instances, visible and settable through the API) and time
// must come from an injected clock.
type Breakers struct {
	store BreakerStore
	clock clockwork.Clock
}

// NewBreakers returns breakers persisted in store.
func NewBreakers(store BreakerStore, clock clockwork.Clock) *Breakers {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Breakers{store: store, clock: clock}
}

// Permit is an admitted call; report its outcome with Done.
type Permit struct {
	b          *Breakers
	id         string
	generation int64
}

// rejection carries a refusal out of the update function, which still saves
// the rejection counter.
type rejection struct {
	state      string
	retryAfter time.Duration
}

// Acquire asks the breaker named by ref to admit a call. An open breaker
// refuses it with a CIRCUIT_OPEN error (not retryable, carrying how long until
// the next trial).
func (b *Breakers) Acquire(ctx context.Context, ref BreakerRef) (*Permit, error) {
	stepCfg := ref.Config()
	var rej *rejection
	st, err := b.store.UpdateBreaker(ctx, ref.ServiceID, func(s *BreakerState, exists bool) error {
		now := b.clock.Now()
		rej = nil
		if !exists {
			*s = newBreakerState(ref.ServiceID, now)
		}
		if s.ConfigSource != BreakerConfigFromAPI {
			s.Config, s.ConfigSource = stepCfg, BreakerConfigFromStep
		}
		cfg := s.Config.withDefaults()
		openFor := Millis(cfg.Timeout)
		if s.State == BreakerOpen && !now.Before(s.OpenedAt.Add(openFor)) {
			s.setState(BreakerHalfOpen, now)
		}
		// Trial calls whose outcome never came back (the caller crashed) must not
		// keep the breaker half-open for ever: after another timeout, admit new trials.
		if s.State == BreakerHalfOpen && s.HalfOpenCalls >= cfg.HalfOpenMaxCalls && !now.Before(s.StateChangedAt.Add(openFor)) {
			s.setState(BreakerHalfOpen, now)
		}
		switch s.State {
		case BreakerOpen:
			s.TotalRejections++
			rej = &rejection{state: s.State, retryAfter: s.OpenedAt.Add(openFor).Sub(now)}
			return nil
		case BreakerHalfOpen:
			if s.HalfOpenCalls >= cfg.HalfOpenMaxCalls {
				s.TotalRejections++
				rej = &rejection{state: s.State}
				return nil
			}
			s.HalfOpenCalls++
		}
		s.TotalCalls++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("circuit breaker %q: %w", ref.ServiceID, err)
	}
	if rej != nil {
		e := sdk.Errorf(sdk.CodeCircuitOpen, "circuit breaker %q is %s; call refused", ref.ServiceID, rej.state)
		e.RetryAfter = rej.retryAfter
		e.Details = map[string]any{"serviceId": ref.ServiceID, "state": rej.state}
		return nil, e
	}
	return &Permit{b: b, id: ref.ServiceID, generation: st.Generation}, nil
}

// countsAsFailure decides what a call's error means for its breaker: errors
// that show the service is unwell (timeouts, connection errors, 5xx, 429 — the
// retryable ones) count as failures; an answer the service gave on purpose
// (404, a validation error) shows it is up; cancellation says nothing.
func countsAsFailure(err error) (failure, known bool) {
	if err == nil {
		return false, true
	}
	e := sdk.AsError(err)
	if e.Code == sdk.CodeCancelled {
		return false, false
	}
	return e.Retryable, true
}

// Done records the outcome of an admitted call.
func (p *Permit) Done(ctx context.Context, callErr error) error {
	failure, known := countsAsFailure(callErr)
	_, err := p.b.store.UpdateBreaker(ctx, p.id, func(s *BreakerState, exists bool) error {
		if !exists {
			return ErrSkipUpdate // deleted meanwhile
		}
		now := p.b.clock.Now()
		if !known {
			if s.State == BreakerHalfOpen && s.Generation == p.generation && s.HalfOpenCalls > 0 {
				s.HalfOpenCalls-- // give the trial slot back
			}
			return nil
		}
		if failure {
			s.TotalFailures++
			s.LastFailureAt = now
		} else {
			s.TotalSuccesses++
			s.LastSuccessAt = now
		}
		if s.Generation != p.generation {
			return nil // the breaker moved on (reset, reopened) since this call began
		}
		cfg := s.Config.withDefaults()
		switch s.State {
		case BreakerClosed:
			if !failure {
				s.ConsecutiveFailures = 0
				return nil
			}
			s.ConsecutiveFailures++
			if s.ConsecutiveFailures >= cfg.Threshold {
				s.setState(BreakerOpen, now)
			}
		case BreakerHalfOpen:
			if failure {
				s.setState(BreakerOpen, now)
				return nil
			}
			s.HalfOpenSuccesses++
			if s.HalfOpenSuccesses >= cfg.HalfOpenMaxCalls {
				s.setState(BreakerClosed, now)
			}
		}
		return nil
	})
	if errors.Is(err, ErrSkipUpdate) {
		return nil
	}
	return err
}

// ErrSkipUpdate may be returned by an UpdateBreaker function to leave the
// record unchanged; stores return it as is.
var ErrSkipUpdate = errors.New("no update")

// Get returns a breaker's state, or ErrNotFound.
func (b *Breakers) Get(ctx context.Context, serviceID string) (BreakerState, error) {
	s, err := b.store.GetBreaker(ctx, serviceID)
	if err != nil {
		return s, err
	}
	b.refresh(&s)
	return s, nil
}

// List returns every breaker's state, sorted by service id.
func (b *Breakers) List(ctx context.Context) ([]BreakerState, error) {
	list, err := b.store.ListBreakers(ctx)
	for i := range list {
		b.refresh(&list[i])
	}
	return list, err
}

// refresh shows an OPEN breaker whose timeout has passed as HALF_OPEN, which is
// what the next call will find.
func (b *Breakers) refresh(s *BreakerState) {
	if s.State == BreakerOpen && !b.clock.Now().Before(s.OpenedAt.Add(Millis(s.Config.withDefaults().Timeout))) {
		s.State = BreakerHalfOpen
	}
}

// Reset closes a breaker and clears its failure counts; its config stays.
func (b *Breakers) Reset(ctx context.Context, serviceID string) (BreakerState, error) {
	return b.store.UpdateBreaker(ctx, serviceID, func(s *BreakerState, exists bool) error {
		if !exists {
			return ErrNotFound
		}
		s.setState(BreakerClosed, b.clock.Now())
		return nil
	})
}

// SetConfig sets a breaker's config from the API; it then wins over the config
// steps declare. The breaker is created when it does not exist yet.
func (b *Breakers) SetConfig(ctx context.Context, serviceID string, cfg BreakerConfig) (BreakerState, error) {
	if problems := validateStruct(cfg, ""); len(problems) > 0 {
		return BreakerState{}, &sdk.ValidationError{Problems: problems}
	}
	return b.store.UpdateBreaker(ctx, serviceID, func(s *BreakerState, exists bool) error {
		now := b.clock.Now()
		if !exists {
			*s = newBreakerState(serviceID, now)
		}
		s.Config, s.ConfigSource = cfg, BreakerConfigFromAPI
		return nil
	})
}

// UpdateConfig changes a breaker's config from the API like SetConfig, but
// change sees the breaker's current config (the defaults for a breaker that
// does not exist yet, which is then created) and changes what it wants. The
// read, the change and the write are one atomic update, so concurrent changes
// of different fields are not lost. change may be called more than once.
func (b *Breakers) UpdateConfig(ctx context.Context, serviceID string, change func(*BreakerConfig)) (BreakerState, error) {
	return b.store.UpdateBreaker(ctx, serviceID, func(s *BreakerState, exists bool) error {
		if !exists {
			*s = newBreakerState(serviceID, b.clock.Now())
		}
		cfg := s.Config.withDefaults()
		change(&cfg)
		if problems := validateStruct(cfg, ""); len(problems) > 0 {
			return &sdk.ValidationError{Problems: problems}
		}
		s.Config, s.ConfigSource = cfg, BreakerConfigFromAPI
		return nil
	})
}

// Force sets a breaker's state by hand (an operator opening a breaker in front
// of a service under maintenance, say).
func (b *Breakers) Force(ctx context.Context, serviceID, state string) (BreakerState, error) {
	switch state {
	case BreakerClosed, BreakerOpen, BreakerHalfOpen:
	default:
		return BreakerState{}, fmt.Errorf("unknown breaker state %q", state)
	}
	return b.store.UpdateBreaker(ctx, serviceID, func(s *BreakerState, exists bool) error {
		now := b.clock.Now()
		if !exists {
			*s = newBreakerState(serviceID, now)
			s.Config, s.ConfigSource = BreakerConfig{}.withDefaults(), BreakerConfigFromStep
		}
		s.setState(state, now)
		return nil
	})
}

// Delete forgets a breaker; the next call through it starts CLOSED.
func (b *Breakers) Delete(ctx context.Context, serviceID string) error {
	return b.store.DeleteBreaker(ctx, serviceID)
}
