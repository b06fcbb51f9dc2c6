package core

import (
	"context"
	"errors"
	"fmt"

	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

func retryMs(ms int64) *int64 { return &ms }

func TestRetryPlanDelay(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name       string
		policy     RetryPolicy
		attempt    int
		retryAfter time.Duration
		want       time.Duration
	}{
		{name: "fixed attempt 1", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(100)}, attempt: 1, want: 100 * ms},
		{name: "fixed attempt 5", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(100)}, attempt: 5, want: 100 * ms},
		{name: "linear attempt 1", policy: RetryPolicy{Strategy: RetryLinear, InitialDelay: retryMs(100)}, attempt: 1, want: 100 * ms},
		{name: "linear attempt 2", policy: RetryPolicy{Strategy: RetryLinear, InitialDelay: retryMs(100)}, attempt: 2, want: 200 * ms},
		{name: "linear attempt 3", policy: RetryPolicy{Strategy: RetryLinear, InitialDelay: retryMs(100)}, attempt: 3, want: 300 * ms},
		{name: "exponential default multiplier 1", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100)}, attempt: 1, want: 100 * ms},
		{name: "exponential default multiplier 2", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100)}, attempt: 2, want: 200 * ms},
		{name: "exponential default multiplier 4", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100)}, attempt: 4, want: 800 * ms},
		{name: "exponential multiplier 3", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100), Multiplier: 3}, attempt: 3, want: 900 * ms},
		{name: "exponential multiplier 1.5", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(200), Multiplier: 1.5}, attempt: 3, want: 450 * ms},
		{name: "empty strategy is exponential", policy: RetryPolicy{InitialDelay: retryMs(10)}, attempt: 3, want: 40 * ms},
		{name: "default initial delay", policy: RetryPolicy{Strategy: RetryExponential}, attempt: 2, want: 2 * time.Second},
		{name: "zero initial delay retries at once", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(0)}, attempt: 3, want: 0},
		{name: "maxDelay caps exponential", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100), MaxDelay: 250}, attempt: 3, want: 250 * ms},
		{name: "maxDelay below the delay is not applied", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100), MaxDelay: 250}, attempt: 2, want: 200 * ms},
		{name: "maxDelay caps linear", policy: RetryPolicy{Strategy: RetryLinear, InitialDelay: retryMs(100), MaxDelay: 150}, attempt: 9, want: 150 * ms},
		{name: "huge attempt does not overflow", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(1000)}, attempt: 10000, want: time.Duration(1 << 62)}, // float64(MaxInt64/2) rounds to 2^62,
		{name: "huge attempt with cap", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(1000), MaxDelay: 30000}, attempt: 10000, want: 30 * time.Second},
		{name: "retry-after larger wins", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(100)}, attempt: 1, retryAfter: 5 * time.Second, want: 5 * time.Second},
		{name: "retry-after larger than maxDelay wins", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(100), MaxDelay: 200}, attempt: 1, retryAfter: time.Second, want: time.Second},
		{name: "retry-after smaller is ignored", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(100)}, attempt: 1, retryAfter: 50 * ms, want: 100 * ms},
		{name: "retry-after with zero delay", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(0)}, attempt: 1, retryAfter: 3 * ms, want: 3 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan := newRetryPlan(&tt.policy)
			got := plan.delay(tt.attempt, tt.retryAfter, func() float64 { panic("no jitter configured") })
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRetryPlanJitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy RetryPolicy
		rnd    float64
		lo, hi time.Duration // inclusive bounds
	}{
		{name: "rnd 0 gives -jitter", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(1000), Jitter: 0.2}, rnd: 0, lo: 800 * time.Millisecond, hi: 800 * time.Millisecond},
		{name: "rnd 0.5 gives the exact delay", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(1000), Jitter: 0.2}, rnd: 0.5, lo: time.Second, hi: time.Second},
		{name: "rnd 0.999 gives almost +jitter", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(1000), Jitter: 0.2}, rnd: 0.999, lo: 1199 * time.Millisecond, hi: 1200 * time.Millisecond},
		{name: "full jitter at rnd 0 waits nothing", policy: RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(1000), Jitter: 1}, rnd: 0, lo: 0, hi: 0},
		{name: "jitter applies to the exponential delay", policy: RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(100), Jitter: 0.5}, rnd: 0, lo: 100 * time.Millisecond, hi: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan := newRetryPlan(&tt.policy)
			attempt := 1
			if tt.policy.Strategy == RetryExponential {
				attempt = 2 // 200ms before jitter
			}
			got := plan.delay(attempt, 0, func() float64 { return tt.rnd })
			require.GreaterOrEqual(t, got, tt.lo)
			require.LessOrEqual(t, got, tt.hi)
		})
	}

	t.Run("default random source stays within bounds", func(t *testing.T) {
		t.Parallel()
		plan := newRetryPlan(&RetryPolicy{Strategy: RetryFixed, InitialDelay: retryMs(1000), Jitter: 0.25})
		for range 200 {
			got := plan.delay(1, 0, nil)
			require.GreaterOrEqual(t, got, 750*time.Millisecond)
			require.LessOrEqual(t, got, 1250*time.Millisecond)
		}
	})
}

func TestRetryPlanJitterRespectsMaxDelay(t *testing.T) {
	t.Parallel()
	plan := newRetryPlan(&RetryPolicy{Strategy: RetryExponential, InitialDelay: retryMs(1000), MaxDelay: 2000, Jitter: 0.5})
	got := plan.delay(5, 0, func() float64 { return 0.999 })
	require.LessOrEqual(t, got, 2*time.Second)
}

func TestNewRetryPlanDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy *RetryPolicy
		want   retryPlan
	}{
		{name: "nil policy runs once", policy: nil,
			want: retryPlan{strategy: RetryNone, maxAttempts: 1}},
		{name: "empty policy", policy: &RetryPolicy{},
			want: retryPlan{strategy: RetryExponential, maxAttempts: 3, initial: time.Second, multiplier: 2}},
		{name: "NONE runs once whatever maxAttempts says", policy: &RetryPolicy{Strategy: RetryNone, MaxAttempts: 5},
			want: retryPlan{strategy: RetryNone, maxAttempts: 1, initial: time.Second, multiplier: 2}},
		{name: "lower-case strategy", policy: &RetryPolicy{Strategy: "linear", MaxAttempts: 4},
			want: retryPlan{strategy: RetryLinear, maxAttempts: 4, initial: time.Second, multiplier: 2}},
		{name: "initialDelay 0 kept", policy: &RetryPolicy{InitialDelay: retryMs(0)},
			want: retryPlan{strategy: RetryExponential, maxAttempts: 3, initial: 0, multiplier: 2}},
		{name: "everything set", policy: &RetryPolicy{Strategy: RetryFixed, MaxAttempts: 7, InitialDelay: retryMs(250), MaxDelay: 900, Multiplier: 1.5, Jitter: 0.1, RetryableErrors: []string{"TIMEOUT"}},
			want: retryPlan{strategy: RetryFixed, maxAttempts: 7, initial: 250 * time.Millisecond, max: 900 * time.Millisecond, multiplier: 1.5, jitter: 0.1, codes: []string{"TIMEOUT"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := newRetryPlan(tt.policy)
			require.Equal(t, tt.want, *got)
		})
	}
	require.Equal(t, 3, DefaultMaxAttempts)
	require.Equal(t, time.Second, DefaultInitialDelay)
	require.Equal(t, 2.0, DefaultMultiplier)
}

func TestRetryPlanRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		codes []string
		err   error
		want  bool
	}{
		{name: "explicit code listed", codes: []string{"TIMEOUT"}, err: &sdk.Error{Code: "TIMEOUT"}, want: true},
		{name: "explicit code listed, error says not retryable", codes: []string{"VALIDATION_FAILED"}, err: &sdk.Error{Code: "VALIDATION_FAILED"}, want: true},
		{name: "retryable error not listed", codes: []string{"TIMEOUT"}, err: sdk.RetryableErrorf("CONNECTION", "refused"), want: false},
		{name: "HTTP_5XX matches HTTP_503", codes: []string{"HTTP_5XX"}, err: &sdk.Error{Code: "HTTP_503"}, want: true},
		{name: "HTTP_5XX does not match HTTP_404", codes: []string{"HTTP_5XX"}, err: &sdk.Error{Code: "HTTP_404", Retryable: true}, want: false},
		{name: "HTTP_5XX does not match HTTP_5030", codes: []string{"HTTP_5XX"}, err: &sdk.Error{Code: "HTTP_5030"}, want: false},
		{name: "second pattern matches", codes: []string{"TIMEOUT", "HTTP_429"}, err: &sdk.Error{Code: "HTTP_429"}, want: true},
		{name: "step's own code", codes: []string{"CRM_BUSY"}, err: &sdk.Error{Code: "CRM_BUSY"}, want: true},
		{name: "wrapped error keeps its code", codes: []string{"HTTP_5XX"}, err: fmt.Errorf("call: %w", &sdk.Error{Code: "HTTP_502"}), want: true},
		{name: "deadline is TIMEOUT", codes: []string{"TIMEOUT"}, err: context.DeadlineExceeded, want: true},
		{name: "no list: retryable error", err: sdk.RetryableErrorf("CONNECTION", "refused"), want: true},
		{name: "no list: non-retryable error", err: &sdk.Error{Code: "HTTP_503"}, want: false},
		{name: "no list: deadline", err: context.DeadlineExceeded, want: true},
		{name: "no list: plain error", err: errors.New("boom"), want: false},
		{name: "CANCELLED never, even listed", codes: []string{"CANCELLED"}, err: &sdk.Error{Code: sdk.CodeCancelled, Retryable: true}, want: false},
		{name: "CANCELLED never without list", err: &sdk.Error{Code: sdk.CodeCancelled, Retryable: true}, want: false},
		{name: "context.Canceled never", codes: []string{"CANCELLED", "STEP_FAILED"}, err: context.Canceled, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan := newRetryPlan(&RetryPolicy{RetryableErrors: tt.codes})
			require.Equal(t, tt.want, plan.retryable(tt.err))
		})
	}
}

func TestCodeMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		code    string
		want    bool
	}{
		{name: "exact", pattern: "TIMEOUT", code: "TIMEOUT", want: true},
		{name: "different", pattern: "TIMEOUT", code: "CONNECTION", want: false},
		{name: "5XX matches 503", pattern: "HTTP_5XX", code: "HTTP_503", want: true},
		{name: "5XX matches 500", pattern: "HTTP_5XX", code: "HTTP_500", want: true},
		{name: "5XX does not match 404", pattern: "HTTP_5XX", code: "HTTP_404", want: false},
		{name: "5XX does not match 5030", pattern: "HTTP_5XX", code: "HTTP_5030", want: false},
		{name: "5XX does not match 50", pattern: "HTTP_5XX", code: "HTTP_50", want: false},
		{name: "X stands for digits only", pattern: "HTTP_5XX", code: "HTTP_5AB", want: false},
		{name: "4XX matches 429", pattern: "HTTP_4XX", code: "HTTP_429", want: true},
		{name: "XXX matches any status", pattern: "HTTP_XXX", code: "HTTP_200", want: true},
		{name: "exact 429", pattern: "HTTP_429", code: "HTTP_429", want: true},
		{name: "exact 429 not 428", pattern: "HTTP_429", code: "HTTP_428", want: false},
		{name: "pattern against itself", pattern: "HTTP_5XX", code: "HTTP_5XX", want: true},
		{name: "empty code", pattern: "HTTP_5XX", code: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, codeMatches(tt.pattern, tt.code))
		})
	}
}

func TestCheckRetryPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy *RetryPolicy
		want   []string // "path: message fragment"
	}{
		{name: "nil", policy: nil},
		{name: "empty", policy: &RetryPolicy{}},
		{name: "good", policy: &RetryPolicy{Strategy: RetryExponential, MaxAttempts: 3, InitialDelay: retryMs(100), MaxDelay: 2000, Multiplier: 2, RetryableErrors: []string{"TIMEOUT", "HTTP_5XX", "HTTP_429", "MY_CODE_2"}}},
		{name: "maxDelay equal to initialDelay", policy: &RetryPolicy{InitialDelay: retryMs(500), MaxDelay: 500}},
		{name: "no cap with large initialDelay", policy: &RetryPolicy{InitialDelay: retryMs(50000)}},
		{name: "multiplier exactly 1", policy: &RetryPolicy{Multiplier: 1}},
		{name: "maxDelay smaller than initialDelay", policy: &RetryPolicy{InitialDelay: retryMs(1000), MaxDelay: 500},
			want: []string{"p.maxDelay: maxDelay 500 is smaller than initialDelay 1000"}},
		{name: "multiplier below 1", policy: &RetryPolicy{Multiplier: 0.5},
			want: []string{"p.multiplier: multiplier must be at least 1"}},
		{name: "lower-case code", policy: &RetryPolicy{RetryableErrors: []string{"TIMEOUT", "http_5xx"}},
			want: []string{`p.retryableErrors[1]: "http_5xx" is not an error code`}},
		{name: "code with lower-case x", policy: &RetryPolicy{RetryableErrors: []string{"HTTP_5xx"}},
			want: []string{`p.retryableErrors[0]: "HTTP_5xx" is not an error code`}},
		{name: "code starting with a digit", policy: &RetryPolicy{RetryableErrors: []string{"5XX"}},
			want: []string{`p.retryableErrors[0]: "5XX" is not an error code`}},
		{name: "code with a dash", policy: &RetryPolicy{RetryableErrors: []string{"HTTP-503"}},
			want: []string{`p.retryableErrors[0]: "HTTP-503" is not an error code`}},
		{name: "every problem at once", policy: &RetryPolicy{InitialDelay: retryMs(10), MaxDelay: 5, Multiplier: 0.1, RetryableErrors: []string{"ok", "FINE", "no way"}},
			want: []string{
				"p.maxDelay: maxDelay 5 is smaller than initialDelay 10",
				"p.multiplier: multiplier must be at least 1",
				`p.retryableErrors[0]: "ok" is not an error code`,
				`p.retryableErrors[2]: "no way" is not an error code`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := checkRetryPolicy(tt.policy, "p")
			require.Len(t, got, len(tt.want), "%v", got)
			for i, w := range tt.want {
				require.Contains(t, got[i].Path+": "+got[i].Message, w)
			}
		})
	}

	t.Run("path of a step's policy", func(t *testing.T) {
		t.Parallel()
		got := checkRetryPolicy(&RetryPolicy{Multiplier: 0.5}, "steps[2].retryPolicy")
		require.Equal(t, []sdk.Problem{{Path: "steps[2].retryPolicy.multiplier", Message: "multiplier must be at least 1"}}, got)
	})
}
