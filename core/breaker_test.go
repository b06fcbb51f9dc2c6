package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Outcomes of a guarded call, as a step would report them.
var (
	errBrkUnavailable = sdk.RetryableErrorf("HTTP_503", "service unavailable") // counts as a failure
	errBrkNotFound    = &sdk.Error{Code: "HTTP_404", Message: "no such lead"}  // the service answered: success
	errBrkCancelled   = sdk.Errorf(sdk.CodeCancelled, "execution cancelled")   // says nothing
)

var brkEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newBreakerFixture(t *testing.T) (*core.Breakers, *clockwork.FakeClock) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(brkEpoch)
	return core.NewBreakers(core.NewMemoryStore(), clk), clk
}

// brkCall runs one call through the breaker with the given outcome and returns
// the refusal, if any.
func brkCall(t *testing.T, b *core.Breakers, ref core.BreakerRef, outcome error) error {
	t.Helper()
	p, err := b.Acquire(t.Context(), ref)
	if err != nil {
		return err
	}
	require.NoError(t, p.Done(t.Context(), outcome))
	return nil
}

// brkOpen trips ref's breaker with threshold failures.
func brkOpen(t *testing.T, b *core.Breakers, ref core.BreakerRef) {
	t.Helper()
	for range ref.Config().Threshold {
		require.NoError(t, brkCall(t, b, ref, errBrkUnavailable))
	}
	st, err := b.Get(t.Context(), ref.ServiceID)
	require.NoError(t, err)
	require.Equal(t, core.BreakerOpen, st.State)
}

func brkState(t *testing.T, b *core.Breakers, id string) core.BreakerState {
	t.Helper()
	st, err := b.Get(t.Context(), id)
	require.NoError(t, err)
	return st
}

// requireCircuitOpen checks err is a CIRCUIT_OPEN refusal and returns it.
func requireCircuitOpen(t *testing.T, err error, id, state string) *sdk.Error {
	t.Helper()
	require.Error(t, err)
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, sdk.CodeCircuitOpen, e.Code)
	require.False(t, e.Retryable)
	require.False(t, sdk.IsRetryable(err))
	require.Equal(t, map[string]any{"serviceId": id, "state": state}, e.Details)
	return e
}

func TestBreakerOpensAfterThresholdConsecutiveFailures(t *testing.T) {
	t.Parallel()
	F, S, N, C := errBrkUnavailable, error(nil), error(errBrkNotFound), error(errBrkCancelled)
	tests := []struct {
		name            string
		threshold       int
		outcomes        []error
		wantState       string
		wantConsecutive int
		wantFailures    int64
		wantSuccesses   int64
	}{
		{name: "one short of threshold", threshold: 3, outcomes: []error{F, F}, wantState: core.BreakerClosed, wantConsecutive: 2, wantFailures: 2},
		{name: "exactly threshold", threshold: 3, outcomes: []error{F, F, F}, wantState: core.BreakerOpen, wantConsecutive: 3, wantFailures: 3},
		{name: "threshold one", threshold: 1, outcomes: []error{F}, wantState: core.BreakerOpen, wantConsecutive: 1, wantFailures: 1},
		{name: "success in between resets the count", threshold: 3, outcomes: []error{F, F, S, F, F}, wantState: core.BreakerClosed, wantConsecutive: 2, wantFailures: 4, wantSuccesses: 1},
		{name: "non-retryable error counts as success", threshold: 3, outcomes: []error{F, F, N, F, F}, wantState: core.BreakerClosed, wantConsecutive: 2, wantFailures: 4, wantSuccesses: 1},
		{name: "only 404s never trip", threshold: 1, outcomes: []error{N, N, N}, wantState: core.BreakerClosed, wantSuccesses: 3},
		{name: "cancellation neither counts nor resets", threshold: 3, outcomes: []error{F, F, C, F}, wantState: core.BreakerOpen, wantConsecutive: 3, wantFailures: 3},
		{name: "plain errors are not failures", threshold: 1, outcomes: []error{errors.New("bad config")}, wantState: core.BreakerClosed, wantSuccesses: 1},
		{name: "deadline exceeded is a failure", threshold: 1, outcomes: []error{context.DeadlineExceeded}, wantState: core.BreakerOpen, wantConsecutive: 1, wantFailures: 1},
		{name: "context.Canceled says nothing", threshold: 1, outcomes: []error{context.Canceled, context.Canceled}, wantState: core.BreakerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _ := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "leads", Threshold: tt.threshold}
			for i, o := range tt.outcomes {
				require.NoError(t, brkCall(t, b, ref, o), "call %d", i)
			}
			st := brkState(t, b, "leads")
			require.Equal(t, tt.wantState, st.State)
			require.Equal(t, tt.wantConsecutive, st.ConsecutiveFailures)
			require.Equal(t, tt.wantFailures, st.TotalFailures)
			require.Equal(t, tt.wantSuccesses, st.TotalSuccesses)
			require.Equal(t, int64(len(tt.outcomes)), st.TotalCalls)
			require.Zero(t, st.TotalRejections)
		})
	}
}

func TestBreakerOpenRefusesFast(t *testing.T) {
	t.Parallel()
	b, clk := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "leads", Threshold: 2, Timeout: 10000}
	brkOpen(t, b, ref)
	opened := clk.Now()
	st := brkState(t, b, "leads")
	require.True(t, opened.Equal(st.OpenedAt))
	require.True(t, opened.Equal(st.StateChangedAt))
	require.True(t, opened.Equal(st.LastFailureAt))

	tests := []struct {
		name           string
		advance        time.Duration
		wantRetryAfter time.Duration
	}{
		{name: "right after opening", advance: 0, wantRetryAfter: 10 * time.Second},
		{name: "four seconds later", advance: 4 * time.Second, wantRetryAfter: 6 * time.Second},
		{name: "one millisecond before the trial", advance: 6*time.Second - time.Millisecond, wantRetryAfter: time.Millisecond},
	}
	// Sequential: the cases share one clock.
	for i, tt := range tests {
		clk.Advance(tt.advance)
		p, err := b.Acquire(t.Context(), ref)
		require.Nil(t, p, tt.name)
		e := requireCircuitOpen(t, err, "leads", core.BreakerOpen)
		require.Equal(t, tt.wantRetryAfter, e.RetryAfter, tt.name)
		require.Contains(t, e.Message, `"leads"`)
		st := brkState(t, b, "leads")
		require.Equal(t, int64(i+1), st.TotalRejections, tt.name)
		require.Equal(t, int64(2), st.TotalCalls, "refused calls are not calls: %s", tt.name)
		require.True(t, opened.Equal(st.OpenedAt), "refusals do not move OpenedAt: %s", tt.name)
	}
}

func TestBreakerHalfOpenAfterTimeout(t *testing.T) {
	t.Parallel()
	b, clk := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "leads", Threshold: 1, Timeout: 30000}
	brkOpen(t, b, ref)
	gen := brkState(t, b, "leads").Generation

	clk.Advance(30*time.Second - time.Millisecond)
	require.Equal(t, core.BreakerOpen, brkState(t, b, "leads").State)

	clk.Advance(time.Millisecond)
	// Visible before any call: Get and List show what the next call will find.
	st := brkState(t, b, "leads")
	require.Equal(t, core.BreakerHalfOpen, st.State)
	require.Equal(t, gen, st.Generation, "refresh is only a view; nothing was stored")
	list, err := b.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, core.BreakerHalfOpen, list[0].State)

	p, err := b.Acquire(t.Context(), ref)
	require.NoError(t, err)
	st = brkState(t, b, "leads")
	require.Equal(t, core.BreakerHalfOpen, st.State)
	require.Equal(t, 1, st.HalfOpenCalls)
	require.Greater(t, st.Generation, gen)
	require.True(t, clk.Now().Equal(st.StateChangedAt))
	require.NoError(t, p.Done(t.Context(), nil))
	require.Equal(t, core.BreakerClosed, brkState(t, b, "leads").State)
}

func TestBreakerHalfOpenTrials(t *testing.T) {
	t.Parallel()
	F, S, N := errBrkUnavailable, error(nil), error(errBrkNotFound)
	tests := []struct {
		name     string
		maxCalls int
		outcomes []error // of the admitted trials, in order
		want     string
	}{
		{name: "single trial succeeds", maxCalls: 1, outcomes: []error{S}, want: core.BreakerClosed},
		{name: "single trial fails", maxCalls: 1, outcomes: []error{F}, want: core.BreakerOpen},
		{name: "single trial answers 404", maxCalls: 1, outcomes: []error{N}, want: core.BreakerClosed},
		{name: "three trials all succeed", maxCalls: 3, outcomes: []error{S, S, S}, want: core.BreakerClosed},
		{name: "two of three succeeded so far", maxCalls: 3, outcomes: []error{S, S}, want: core.BreakerHalfOpen},
		{name: "last of three fails", maxCalls: 3, outcomes: []error{S, S, F}, want: core.BreakerOpen},
		{name: "first of three fails", maxCalls: 3, outcomes: []error{F}, want: core.BreakerOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, clk := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "svc", Threshold: 1, Timeout: 1000, HalfOpenMaxCalls: tt.maxCalls}
			brkOpen(t, b, ref)
			firstOpened := brkState(t, b, "svc").OpenedAt
			clk.Advance(time.Second)

			// Exactly maxCalls concurrent trials are admitted; the next is refused.
			permits := make([]*core.Permit, tt.maxCalls)
			for i := range permits {
				p, err := b.Acquire(t.Context(), ref)
				require.NoError(t, err, "trial %d", i)
				permits[i] = p
			}
			_, err := b.Acquire(t.Context(), ref)
			e := requireCircuitOpen(t, err, "svc", core.BreakerHalfOpen)
			require.GreaterOrEqual(t, e.RetryAfter, time.Duration(0))
			require.Equal(t, int64(1), brkState(t, b, "svc").TotalRejections)

			clk.Advance(10 * time.Millisecond)
			for i, o := range tt.outcomes {
				require.NoError(t, permits[i].Done(t.Context(), o))
			}
			st := brkState(t, b, "svc")
			require.Equal(t, tt.want, st.State)
			switch tt.want {
			case core.BreakerOpen:
				require.True(t, clk.Now().Equal(st.OpenedAt), "reopening sets a new OpenedAt")
				require.False(t, firstOpened.Equal(st.OpenedAt))
				_, err := b.Acquire(t.Context(), ref)
				e := requireCircuitOpen(t, err, "svc", core.BreakerOpen)
				require.Equal(t, time.Second, e.RetryAfter, "a full timeout from the reopening")
			case core.BreakerClosed:
				require.Zero(t, st.ConsecutiveFailures)
				require.Zero(t, st.HalfOpenCalls)
				require.NoError(t, brkCall(t, b, ref, nil))
			case core.BreakerHalfOpen:
				require.Equal(t, len(tt.outcomes), st.HalfOpenSuccesses)
			}
		})
	}
}

func TestBreakerCancelledTrialGivesBackItsSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outcome error
	}{
		{name: "sdk CANCELLED error", outcome: errBrkCancelled},
		{name: "context.Canceled", outcome: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, clk := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "svc", Threshold: 1, Timeout: 1000}
			brkOpen(t, b, ref)
			clk.Advance(time.Second)

			p, err := b.Acquire(t.Context(), ref)
			require.NoError(t, err)
			_, err = b.Acquire(t.Context(), ref)
			requireCircuitOpen(t, err, "svc", core.BreakerHalfOpen)

			require.NoError(t, p.Done(t.Context(), tt.outcome))
			st := brkState(t, b, "svc")
			require.Equal(t, core.BreakerHalfOpen, st.State)
			require.Zero(t, st.HalfOpenCalls)
			require.Equal(t, int64(1), st.TotalFailures, "only the tripping failure")
			require.Zero(t, st.TotalSuccesses)

			// The slot is free again: a new trial is admitted and decides.
			require.NoError(t, brkCall(t, b, ref, nil))
			require.Equal(t, core.BreakerClosed, brkState(t, b, "svc").State)
		})
	}
}

func TestBreakerLateOutcomeAfterReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		halfOpen  bool // admit the late call as a half-open trial
		outcome   error
		wantFails int64
		wantOK    int64
	}{
		{name: "late failure of a closed-state call", outcome: errBrkUnavailable, wantFails: 2},
		{name: "late success of a closed-state call", outcome: nil, wantFails: 1, wantOK: 1},
		{name: "late failure of a half-open trial", halfOpen: true, outcome: errBrkUnavailable, wantFails: 2},
		{name: "late cancellation of a half-open trial", halfOpen: true, outcome: errBrkCancelled, wantFails: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, clk := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "svc", Threshold: 1, Timeout: 1000}
			var late *core.Permit
			if tt.halfOpen {
				brkOpen(t, b, ref)
				clk.Advance(time.Second)
				p, err := b.Acquire(t.Context(), ref)
				require.NoError(t, err)
				late = p
			} else {
				p, err := b.Acquire(t.Context(), ref)
				require.NoError(t, err)
				late = p
				require.NoError(t, brkCall(t, b, ref, errBrkUnavailable)) // opens it
			}
			before := brkState(t, b, "svc")
			reset, err := b.Reset(t.Context(), "svc")
			require.NoError(t, err)
			require.Equal(t, core.BreakerClosed, reset.State)
			require.Greater(t, reset.Generation, before.Generation)
			require.Equal(t, ref.Config(), reset.Config, "Reset keeps the config")

			require.NoError(t, late.Done(t.Context(), tt.outcome))
			st := brkState(t, b, "svc")
			require.Equal(t, core.BreakerClosed, st.State, "the late outcome does not move the new state")
			require.Zero(t, st.ConsecutiveFailures)
			require.Equal(t, reset.Generation, st.Generation)
			require.Equal(t, tt.wantFails, st.TotalFailures, "totals still count it")
			require.Equal(t, tt.wantOK, st.TotalSuccesses)
		})
	}
}

func TestBreakerStaleTrialSlotsReleasedAfterTimeout(t *testing.T) {
	t.Parallel()
	b, clk := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "svc", Threshold: 1, Timeout: 5000, HalfOpenMaxCalls: 2}
	brkOpen(t, b, ref)
	clk.Advance(5 * time.Second)

	// Two trials whose callers crash: their outcomes never come back.
	lost := make([]*core.Permit, 2)
	for i := range lost {
		p, err := b.Acquire(t.Context(), ref)
		require.NoError(t, err)
		lost[i] = p
	}
	clk.Advance(5*time.Second - time.Millisecond)
	_, err := b.Acquire(t.Context(), ref)
	requireCircuitOpen(t, err, "svc", core.BreakerHalfOpen)

	clk.Advance(time.Millisecond)
	p, err := b.Acquire(t.Context(), ref)
	require.NoError(t, err, "slots are released one timeout after HALF_OPEN began")
	st := brkState(t, b, "svc")
	require.Equal(t, core.BreakerHalfOpen, st.State)
	require.Equal(t, 1, st.HalfOpenCalls)

	// The lost trials reporting after all do not decide for the new ones.
	require.NoError(t, lost[0].Done(t.Context(), errBrkUnavailable))
	require.Equal(t, core.BreakerHalfOpen, brkState(t, b, "svc").State)
	require.NoError(t, p.Done(t.Context(), nil))
	require.NoError(t, brkCall(t, b, ref, nil))
	require.Equal(t, core.BreakerClosed, brkState(t, b, "svc").State)
}

func TestBreakerSetConfigWinsOverStep(t *testing.T) {
	t.Parallel()
	b, clk := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "svc", Threshold: 1, Timeout: 1000}

	require.NoError(t, brkCall(t, b, ref, nil))
	st := brkState(t, b, "svc")
	require.Equal(t, core.BreakerConfigFromStep, st.ConfigSource)
	require.Equal(t, core.BreakerConfig{Threshold: 1, Timeout: 1000, HalfOpenMaxCalls: 1}, st.Config)

	// A step's config follows the step while the API has not spoken.
	ref2 := core.BreakerRef{ServiceID: "svc", Threshold: 2, Timeout: 1000}
	require.NoError(t, brkCall(t, b, ref2, nil))
	require.Equal(t, 2, brkState(t, b, "svc").Config.Threshold)

	apiCfg := core.BreakerConfig{Threshold: 3, Timeout: 20000, HalfOpenMaxCalls: 2}
	got, err := b.SetConfig(t.Context(), "svc", apiCfg)
	require.NoError(t, err)
	require.Equal(t, apiCfg, got.Config)
	require.Equal(t, core.BreakerConfigFromAPI, got.ConfigSource)

	// Later Acquires with the step's threshold 1 keep the API's threshold 3.
	require.NoError(t, brkCall(t, b, ref, errBrkUnavailable))
	require.NoError(t, brkCall(t, b, ref, errBrkUnavailable))
	st = brkState(t, b, "svc")
	require.Equal(t, core.BreakerClosed, st.State)
	require.Equal(t, apiCfg, st.Config)
	require.Equal(t, core.BreakerConfigFromAPI, st.ConfigSource)
	require.NoError(t, brkCall(t, b, ref, errBrkUnavailable))
	require.Equal(t, core.BreakerOpen, brkState(t, b, "svc").State)

	// And the API's timeout, not the step's 1s.
	clk.Advance(time.Second)
	_, err = b.Acquire(t.Context(), ref)
	e := requireCircuitOpen(t, err, "svc", core.BreakerOpen)
	require.Equal(t, 19*time.Second, e.RetryAfter)
}

func TestBreakerSetConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     core.BreakerConfig
		wantErr bool
	}{
		{name: "valid", cfg: core.BreakerConfig{Threshold: 2, Timeout: 500, HalfOpenMaxCalls: 1}},
		{name: "minimums", cfg: core.BreakerConfig{Threshold: 1, Timeout: 1, HalfOpenMaxCalls: 1}},
		{name: "zero threshold", cfg: core.BreakerConfig{Threshold: 0, Timeout: 500, HalfOpenMaxCalls: 1}, wantErr: true},
		{name: "negative threshold", cfg: core.BreakerConfig{Threshold: -1, Timeout: 500, HalfOpenMaxCalls: 1}, wantErr: true},
		{name: "zero timeout", cfg: core.BreakerConfig{Threshold: 2, Timeout: 0, HalfOpenMaxCalls: 1}, wantErr: true},
		{name: "zero halfOpenMaxCalls", cfg: core.BreakerConfig{Threshold: 2, Timeout: 500}, wantErr: true},
		{name: "all zero", cfg: core.BreakerConfig{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _ := newBreakerFixture(t)
			st, err := b.SetConfig(t.Context(), "new-svc", tt.cfg)
			if tt.wantErr {
				var ve *sdk.ValidationError
				require.ErrorAs(t, err, &ve)
				require.NotEmpty(t, ve.Problems)
				_, err := b.Get(t.Context(), "new-svc")
				require.ErrorIs(t, err, core.ErrNotFound, "a refused config creates nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, core.BreakerClosed, st.State, "SetConfig creates a missing breaker")
			require.Equal(t, "new-svc", st.ServiceID)
			require.Equal(t, tt.cfg, brkState(t, b, "new-svc").Config)
		})
	}
}

func TestBreakerResetAndDelete(t *testing.T) {
	t.Parallel()
	b, _ := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "svc", Threshold: 1}

	_, err := b.Reset(t.Context(), "unknown")
	require.ErrorIs(t, err, core.ErrNotFound)
	_, err = b.Get(t.Context(), "unknown")
	require.ErrorIs(t, err, core.ErrNotFound, "Reset of an unknown id creates nothing")
	require.ErrorIs(t, b.Delete(t.Context(), "unknown"), core.ErrNotFound)

	brkOpen(t, b, ref)
	st, err := b.Reset(t.Context(), "svc")
	require.NoError(t, err)
	require.Equal(t, core.BreakerClosed, st.State)
	require.NoError(t, brkCall(t, b, ref, nil), "a reset breaker admits calls")

	p, err := b.Acquire(t.Context(), ref)
	require.NoError(t, err)
	require.NoError(t, b.Delete(t.Context(), "svc"))
	_, err = b.Get(t.Context(), "svc")
	require.ErrorIs(t, err, core.ErrNotFound)
	require.NoError(t, p.Done(t.Context(), errBrkUnavailable), "outcome after Delete is dropped")
	_, err = b.Get(t.Context(), "svc")
	require.ErrorIs(t, err, core.ErrNotFound, "a late outcome does not recreate the breaker")

	require.NoError(t, brkCall(t, b, ref, nil))
	st = brkState(t, b, "svc")
	require.Equal(t, core.BreakerClosed, st.State, "the next call starts CLOSED")
	require.Equal(t, int64(1), st.TotalCalls, "with fresh counters")
}

func TestBreakerLateOutcomeAfterDeleteAndRecreate(t *testing.T) {
	t.Parallel()
	b, _ := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "svc", Threshold: 1}
	late, err := b.Acquire(t.Context(), ref)
	require.NoError(t, err)
	require.NoError(t, b.Delete(t.Context(), "svc"))
	require.NoError(t, brkCall(t, b, ref, nil)) // recreates it, CLOSED
	require.NoError(t, late.Done(t.Context(), errBrkUnavailable))
	require.Equal(t, core.BreakerClosed, brkState(t, b, "svc").State,
		"a call admitted before Delete must not open the breaker that replaced it")
}

func TestBreakerForce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing bool
		state    string
		wantErr  bool
	}{
		{name: "open a new breaker", state: core.BreakerOpen},
		{name: "half-open a new breaker", state: core.BreakerHalfOpen},
		{name: "close a new breaker", state: core.BreakerClosed},
		{name: "open an existing breaker", existing: true, state: core.BreakerOpen},
		{name: "half-open an existing breaker", existing: true, state: core.BreakerHalfOpen},
		{name: "unknown state", state: "AJAR", wantErr: true},
		{name: "lower case state", state: "open", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, clk := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "svc", Threshold: 2, Timeout: 7000}
			if tt.existing {
				require.NoError(t, brkCall(t, b, ref, nil))
			}
			clk.Advance(time.Minute)
			st, err := b.Force(t.Context(), "svc", tt.state)
			if tt.wantErr {
				require.Error(t, err)
				_, err := b.Get(t.Context(), "svc")
				if !tt.existing {
					require.ErrorIs(t, err, core.ErrNotFound)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.state, st.State)
			require.True(t, clk.Now().Equal(st.StateChangedAt))
			wantCfg := core.BreakerConfig{Threshold: 5, Timeout: 60000, HalfOpenMaxCalls: 1}
			if tt.existing {
				wantCfg = ref.Config()
			}
			require.Equal(t, wantCfg, st.Config)
			if tt.state == core.BreakerOpen {
				require.True(t, clk.Now().Equal(st.OpenedAt))
				_, err := b.Acquire(t.Context(), ref)
				e := requireCircuitOpen(t, err, "svc", core.BreakerOpen)
				require.Equal(t, 7*time.Second, e.RetryAfter)
			} else {
				require.NoError(t, brkCall(t, b, ref, nil))
			}
		})
	}
}

func TestBreakerListSorted(t *testing.T) {
	t.Parallel()
	b, _ := newBreakerFixture(t)
	list, err := b.List(t.Context())
	require.NoError(t, err)
	require.Empty(t, list)
	for _, id := range []string{"crm", "billing", "zeta", "auth"} {
		require.NoError(t, brkCall(t, b, core.BreakerRef{ServiceID: id}, nil))
	}
	list, err = b.List(t.Context())
	require.NoError(t, err)
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ServiceID
	}
	require.Equal(t, []string{"auth", "billing", "crm", "zeta"}, ids)
}

func TestBreakerConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  core.BreakerRef
		want core.BreakerConfig
	}{
		{name: "bare service id", ref: core.BreakerRef{ServiceID: "x"}, want: core.BreakerConfig{Threshold: 5, Timeout: 60000, HalfOpenMaxCalls: 1}},
		{name: "threshold only", ref: core.BreakerRef{ServiceID: "x", Threshold: 2}, want: core.BreakerConfig{Threshold: 2, Timeout: 60000, HalfOpenMaxCalls: 1}},
		{name: "everything set", ref: core.BreakerRef{ServiceID: "x", Threshold: 9, Timeout: 10, HalfOpenMaxCalls: 4}, want: core.BreakerConfig{Threshold: 9, Timeout: 10, HalfOpenMaxCalls: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.ref.Config())
			b, _ := newBreakerFixture(t)
			require.NoError(t, brkCall(t, b, tt.ref, nil))
			require.Equal(t, tt.want, brkState(t, b, "x").Config)
		})
	}
	require.Equal(t, 5, core.DefaultBreakerThreshold)
	require.Equal(t, 60000, core.DefaultBreakerTimeoutMs)
	require.Equal(t, 1, core.DefaultBreakerHalfOpenMaxCalls)
}

func TestBreakerDefaultThresholdOpensAtFive(t *testing.T) {
	t.Parallel()
	b, clk := newBreakerFixture(t)
	ref := core.BreakerRef{ServiceID: "x"}
	for i := range 4 {
		require.NoError(t, brkCall(t, b, ref, errBrkUnavailable), "failure %d", i+1)
	}
	require.Equal(t, core.BreakerClosed, brkState(t, b, "x").State)
	require.NoError(t, brkCall(t, b, ref, errBrkUnavailable))
	require.Equal(t, core.BreakerOpen, brkState(t, b, "x").State)
	clk.Advance(59 * time.Second)
	_, err := b.Acquire(t.Context(), ref)
	e := requireCircuitOpen(t, err, "x", core.BreakerOpen)
	require.Equal(t, time.Second, e.RetryAfter)
}

func TestBreakerRefJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		want    core.BreakerRef
		wantErr bool
	}{
		{name: "service id string", doc: `"leads-api"`, want: core.BreakerRef{ServiceID: "leads-api"}},
		{name: "object with id only", doc: `{"serviceId": "leads-api"}`, want: core.BreakerRef{ServiceID: "leads-api"}},
		{name: "object with config", doc: `{"serviceId": "a", "threshold": 3, "timeout": 1500, "halfOpenMaxCalls": 2}`,
			want: core.BreakerRef{ServiceID: "a", Threshold: 3, Timeout: 1500, HalfOpenMaxCalls: 2}},
		{name: "unknown field", doc: `{"serviceId": "a", "treshold": 3}`, wantErr: true},
		{name: "number", doc: `42`, wantErr: true},
		{name: "array", doc: `["a"]`, wantErr: true},
		{name: "wrong field type", doc: `{"serviceId": "a", "threshold": "3"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got core.BreakerRef
			err := json.Unmarshal([]byte(tt.doc), &got)
			if tt.wantErr {
				require.ErrorContains(t, err, "circuitBreaker must be a service id")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	// Inside a step, both spellings land in Step.CircuitBreaker.
	var st core.Step
	require.NoError(t, json.Unmarshal([]byte(`{"id": "s", "type": "noop", "circuitBreaker": "svc"}`), &st))
	require.Equal(t, &core.BreakerRef{ServiceID: "svc"}, st.CircuitBreaker)
}

func TestBreakerConcurrentCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		threshold    int
		fail         func(i int) bool
		wantState    string
		wantFailures int64 // -1: depends on the interleaving
	}{
		{name: "mixed outcomes, never trips", threshold: 1000, fail: func(i int) bool { return i%2 == 0 }, wantState: core.BreakerClosed, wantFailures: 25},
		{name: "all failing, trips midway", threshold: 10, fail: func(int) bool { return true }, wantState: core.BreakerOpen, wantFailures: -1},
		{name: "all succeeding", threshold: 1, fail: func(int) bool { return false }, wantState: core.BreakerClosed, wantFailures: 0},
	}
	const workers = 50
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _ := newBreakerFixture(t)
			ref := core.BreakerRef{ServiceID: "hot", Threshold: tt.threshold}
			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			admitted, refused := 0, 0
			errs := make(chan error, workers)
			for i := range workers {
				wg.Go(func() {
					<-start
					p, err := b.Acquire(context.Background(), ref)
					if err != nil {
						if sdk.ErrorCode(err) != sdk.CodeCircuitOpen {
							errs <- err
						}
						mu.Lock()
						refused++
						mu.Unlock()
						return
					}
					mu.Lock()
					admitted++
					mu.Unlock()
					var outcome error
					if tt.fail(i) {
						outcome = errBrkUnavailable
					}
					if err := p.Done(context.Background(), outcome); err != nil {
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			st := brkState(t, b, "hot")
			require.Equal(t, workers, admitted+refused)
			require.Equal(t, int64(admitted), st.TotalCalls)
			require.Equal(t, int64(refused), st.TotalRejections)
			require.Equal(t, st.TotalCalls, st.TotalSuccesses+st.TotalFailures)
			require.Equal(t, tt.wantState, st.State)
			if tt.wantFailures >= 0 {
				require.Zero(t, refused)
				require.Equal(t, tt.wantFailures, st.TotalFailures)
			} else {
				require.GreaterOrEqual(t, st.TotalFailures, int64(tt.threshold))
			}
		})
	}
}
