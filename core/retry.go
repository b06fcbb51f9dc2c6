package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/weftworks/weft/sdk"
)

// MaxRetryAfter bounds the Retry-After the engine honours: a service asking
// for a longer wait fails the attempt for good instead of parking the step.
const MaxRetryAfter = time.Hour

// Retry defaults, applied where a policy leaves a field at zero.
const (
	DefaultMaxAttempts  = 3
	DefaultInitialDelay = time.Second
	DefaultMultiplier   = 2.0
)

var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// retryPlan is a RetryPolicy with defaults applied and patterns compiled.
type retryPlan struct {
	strategy    string
	maxAttempts int
	initial     time.Duration
	max         time.Duration
	multiplier  float64
	jitter      float64
	codes       []string // exact codes and patterns such as HTTP_5XX
}

// noRetry runs a step once.
var noRetry = &retryPlan{strategy: RetryNone, maxAttempts: 1}

func newRetryPlan(p *RetryPolicy) *retryPlan {
	if p == nil {
		return noRetry
	}
	r := &retryPlan{
		strategy:    strings.ToUpper(p.Strategy),
		maxAttempts: p.MaxAttempts,
		initial:     DefaultInitialDelay,
		max:         Millis(p.MaxDelay),
		multiplier:  p.Multiplier,
		jitter:      p.Jitter,
		codes:       p.RetryableErrors,
	}
	if r.strategy == "" {
		r.strategy = RetryExponential
	}
	if r.strategy == RetryNone {
		r.maxAttempts = 1
	}
	if r.maxAttempts == 0 {
		r.maxAttempts = DefaultMaxAttempts
	}
	if p.InitialDelay != nil {
		r.initial = Millis(*p.InitialDelay)
	}
	if r.multiplier == 0 {
		r.multiplier = DefaultMultiplier
	}
	return r
}

// checkRetryPolicy reports semantic problems of a policy at path.
func checkRetryPolicy(p *RetryPolicy, path string) []sdk.Problem {
	if p == nil {
		return nil
	}
	var out []sdk.Problem
	if p.MaxDelay > 0 && p.InitialDelay != nil && *p.InitialDelay > p.MaxDelay {
		out = append(out, sdk.Problem{Path: path + ".maxDelay", Message: fmt.Sprintf("maxDelay %d is smaller than initialDelay %d", p.MaxDelay, *p.InitialDelay)})
	}
	if p.Multiplier != 0 && p.Multiplier < 1 {
		out = append(out, sdk.Problem{Path: path + ".multiplier", Message: "multiplier must be at least 1"})
	}
	for i, c := range p.RetryableErrors {
		if !codePattern.MatchString(c) {
			out = append(out, sdk.Problem{Path: fmt.Sprintf("%s.retryableErrors[%d]", path, i),
				Message: fmt.Sprintf("%q is not an error code (upper case, like TIMEOUT, CONNECTION, HTTP_5XX, HTTP_429)", c)})
		}
	}
	return out
}

// retryable decides whether err is worth another attempt under this plan.
func (r *retryPlan) retryable(err error) bool {
	e := sdk.AsError(err)
	if e.Code == sdk.CodeCancelled {
		return false
	}
	if len(r.codes) == 0 {
		return e.Retryable
	}
	for _, c := range r.codes {
		if codeMatches(c, e.Code) {
			return true
		}
	}
	return false
}

// codeMatches compares an error code with a pattern in which X stands for any
// digit: HTTP_5XX matches HTTP_503, HTTP_4XX matches HTTP_429.
func codeMatches(pattern, code string) bool {
	if pattern == code {
		return true
	}
	if len(pattern) != len(code) || !strings.Contains(pattern, "X") {
		return false
	}
	for i := range len(pattern) {
		p, c := pattern[i], code[i]
		if p == c {
			continue
		}
		if p == 'X' && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// delay returns how long to wait after the given failed attempt (1-based)
// before the next one. rnd returns a float in [0,1) for jitter.
func (r *retryPlan) delay(attempt int, retryAfter time.Duration, rnd func() float64) time.Duration {
	var d float64
	switch r.strategy {
	case RetryFixed:
		d = float64(r.initial)
	case RetryLinear:
		d = float64(r.initial) * float64(attempt)
	default: // EXPONENTIAL
		d = float64(r.initial) * math.Pow(r.multiplier, float64(attempt-1))
	}
	if r.max > 0 && d > float64(r.max) {
		d = float64(r.max)
	}
	if r.jitter > 0 {
		if rnd == nil {
			rnd = rand.Float64
		}
		d += d * r.jitter * (2*rnd() - 1)
		if r.max > 0 && d > float64(r.max) {
			d = float64(r.max) // maxDelay caps every delay, jitter included
		}
	}
	if d > float64(math.MaxInt64/2) {
		d = float64(math.MaxInt64 / 2)
	}
	out := time.Duration(d)
	// The API's Retry-After is honoured: never retry sooner than it asks.
	if retryAfter > out {
		out = retryAfter
	}
	return max(out, 0)
}
