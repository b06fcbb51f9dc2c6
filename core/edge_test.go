package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// Every run of a nested step has its own record and idempotency key, also
// when a PARALLEL runs once per FOR_EACH item.
func TestNestedRunKeysAreUnique(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg, NewID: func() string { return "x1" }})
	exec := execute(t, eng, `{"name": "keys", "steps": [
		{"id": "each", "type": "FOR_EACH", "config": {"items": [10, 20], "maxConcurrency": 2, "step":
			{"id": "par", "type": "PARALLEL", "config": {"steps": [
				{"id": "call", "type": "runinfo", "config": {"n": "{{item}}"}},
				{"id": "other", "type": "runinfo"}]}}}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	keys := map[string]bool{}
	for _, id := range []string{"each", "par[0]", "par[1]", "par[0]/call", "par[1]/call", "par[0]/other", "par[1]/other"} {
		st, ok := exec.Steps[id]
		require.True(t, ok, "record %s; have %v", id, exec.StepIDs())
		require.Equal(t, core.StatusCompleted, st.Status)
		if strings.Contains(id, "/") {
			key := st.Output.(map[string]any)["key"].(string)
			require.False(t, keys[key], "idempotency key %s used twice", key)
			keys[key] = true
			require.Equal(t, "x1/"+id, key)
		}
	}
	require.Len(t, exec.Steps, 7)
	results := exec.Steps["each"].Output.([]any)
	require.Equal(t, float64(20), results[1].(map[string]any)["call"].(map[string]any)["config"].(map[string]any)["n"])
}

func TestReferenceToForEachStepIsRejected(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	got := problems(t, eng, `{"name": "r", "steps": [
		{"id": "each", "type": "FOR_EACH", "config": {"items": [1], "step": {"id": "inner", "type": "echo"}}},
		{"id": "after", "type": "echo", "config": {"v": "{{steps.inner.output}}"}}]}`)
	require.Equal(t, []string{`steps[1].config.v: refers to step "inner", which runs once per item of "each": read the results as steps.each.output`}, got)
}

func TestHandlerCannotBranch(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	got := problems(t, eng, `{"name": "h", "steps": [
		{"id": "a", "type": "fail", "onError": "fb"},
		{"id": "fb", "type": "CONDITIONAL", "config": {"expression": "true", "then": ["x"], "else": []}},
		{"id": "x", "type": "noop"}]}`)
	require.Equal(t, []string{`steps[1].config: step "fb" is a fallback or error handler; it cannot choose branches (then/else) among the workflow's steps`}, got)
}

// A CONDITIONAL that fails and is recovered chose no branch: both are skipped.
func TestFailedConditionalSkipsBothBranches(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "c", "steps": [
		{"id": "cond", "type": "CONDITIONAL", "onError": "CONTINUE", "config": {"expression": "1 / nope.x > 0", "then": ["yes"], "else": ["no"]}},
		{"id": "yes", "type": "noop"},
		{"id": "no", "type": "noop"}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, core.StatusFailed, exec.Steps["cond"].Status)
	require.Equal(t, core.StatusSkipped, exec.Steps["yes"].Status)
	require.Equal(t, core.StatusSkipped, exec.Steps["no"].Status)
}

func TestSharedFallbackHasARecordPerStep(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "f", "steps": [
		{"id": "a", "type": "fail", "config": {"code": "A"}, "onError": "fb", "dependsOn": []},
		{"id": "b", "type": "fail", "config": {"code": "B"}, "onError": "fb", "dependsOn": []},
		{"id": "fb", "type": "echo", "config": {"code": "{{error.code}}"}},
		{"id": "join", "type": "echo", "dependsOn": ["a", "b"], "config": {"a": "{{steps.a.output.code}}", "b": "{{steps.b.output.code}}"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, map[string]any{"code": "A"}, exec.Steps["fb@a"].Output)
	require.Equal(t, map[string]any{"code": "B"}, exec.Steps["fb@b"].Output)
	require.Equal(t, map[string]any{"a": "A", "b": "B"}, exec.Output)
}

// A call cut short by the execution says nothing about the service: the
// breaker stays closed.
func TestCancelledCallsDoNotOpenBreakers(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "b", "steps": [
		{"id": "slow", "type": "block", "circuitBreaker": {"serviceId": "svc", "threshold": 1}, "dependsOn": []},
		{"id": "bad", "type": "fail", "dependsOn": []}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, core.StatusCancelled, exec.Steps["slow"].Status)
	st, err := eng.Breakers().Get(context.Background(), "svc")
	require.NoError(t, err)
	require.Equal(t, core.BreakerClosed, st.State)
	require.Zero(t, st.TotalFailures)
}

func TestNonFiniteNumbers(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "n", "steps": [{"id": "t", "type": "DATA_TRANSFORM",
		"config": {"source": {"score": 1}, "operations": [{"type": "calculate", "field": "r", "expression": "score / 0"}]}}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, sdk.CodeExpression, exec.Error.Code)
	_, err := json.Marshal(exec)
	require.NoError(t, err, "the record stays encodable")
}

func TestErrorHandlerIsBounded(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	clock := clockwork.NewFakeClock()
	eng := core.New(core.Options{Registry: reg, Clock: clock})
	plan := compile(t, eng, `{"name": "h", "errorHandler": "cleanup", "steps": [
		{"id": "bad", "type": "fail"},
		{"id": "cleanup", "type": "block", "timeout": 1000}]}`)
	done := runAsync(t, eng, plan, nil)
	<-tc.started
	clock.Advance(time.Second)
	exec := <-done
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, sdk.CodeTimeout, exec.Steps["cleanup"].Error.Code)
}

func TestErrorHandlerCanBeCancelled(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	ids := make(chan string, 1)
	eng := core.New(core.Options{Registry: reg, Observer: func(ev core.Event) {
		if ev.Type == core.EventExecutionStarted {
			ids <- ev.ExecutionID
		}
	}})
	plan := compile(t, eng, `{"name": "h", "errorHandler": "cleanup", "steps": [
		{"id": "bad", "type": "fail"},
		{"id": "cleanup", "type": "block"}]}`)
	done := runAsync(t, eng, plan, nil)
	id := <-ids
	<-tc.started
	require.True(t, eng.Cancel(id))
	exec := <-done
	require.Equal(t, core.StatusCancelled, exec.Steps["cleanup"].Status)
}

func TestRetryAfterBeyondLimitIsNotWaitedFor(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg, Clock: clockwork.NewFakeClock()})
	ms := core.MaxRetryAfter.Milliseconds() + 1000
	exec := execute(t, eng, fmt.Sprintf(`{"name": "r", "steps": [{"id": "s", "type": "fail",
		"config": {"code": "HTTP_429", "retryable": true, "retryAfterMs": %d}, "retryPolicy": {"maxAttempts": 3}}]}`, ms), nil)
	require.Equal(t, 1, exec.Steps["s"].Attempts)
}

func TestAtMostOnceStepsAreNotRetriedAfterTimeouts(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	policy := `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 0}`
	exec := execute(t, eng, `{"name": "r", "steps": [
		{"id": "once", "type": "fail", "idempotent": false, "config": {"code": "TIMEOUT", "retryable": true}, "onError": "CONTINUE", `+policy+`},
		{"id": "once_429", "type": "fail", "idempotent": false, "config": {"code": "HTTP_429", "retryable": true, "failures": 1}, `+policy+`, "dependsOn": []},
		{"id": "many", "type": "fail", "config": {"code": "TIMEOUT", "retryable": true}, "onError": "CONTINUE", `+policy+`, "dependsOn": []}]}`, nil)
	require.Equal(t, 1, exec.Steps["once"].Attempts, "the request may have done its work")
	require.Equal(t, 2, exec.Steps["once_429"].Attempts, "a 429 was refused: safe to send again")
	require.Equal(t, 3, exec.Steps["many"].Attempts)
}

func TestImplicitOrderFollowsTheList(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	// b has no order: it comes after a (order 10), not before it.
	exec := execute(t, eng, `{"name": "o", "steps": [
		{"id": "a", "type": "echo", "order": 10, "config": {"v": 1}},
		{"id": "b", "type": "echo", "config": {"v": "{{steps.a.output.v}}"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Equal(t, map[string]any{"v": float64(1)}, exec.Output)
}

// Two large groups of steps joined by order are linked through a barrier,
// not every pair: validation stays linear (see BenchmarkValidateTwoOrderGroups).
func TestLargeOrderGroups(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, twoGroups(200), nil)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Len(t, exec.Steps, 400, "the barrier has no record")
	for id, st := range exec.Steps {
		require.Equal(t, core.StatusCompleted, st.Status, id)
	}
	// Every step of the second group ran after every step of the first.
	var lastFirst, firstSecond time.Time
	for i := range 200 {
		lastFirst = maxTime(lastFirst, exec.Steps[fmt.Sprintf("a%d", i)].FinishedAt)
		st := exec.Steps[fmt.Sprintf("b%d", i)].StartedAt
		if firstSecond.IsZero() || st.Before(firstSecond) {
			firstSecond = st
		}
	}
	require.False(t, firstSecond.Before(lastFirst))
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func twoGroups(n int) string {
	var b strings.Builder
	b.WriteString(`{"name": "groups", "steps": [`)
	for i := range n {
		fmt.Fprintf(&b, `{"id": "a%d", "type": "noop", "order": 1},`, i)
	}
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": "b%d", "type": "echo", "order": 2, "config": {"prev": "{{steps.a%d.output}}"}}`, i, n-1-i)
	}
	b.WriteString("]}")
	return b.String()
}

func BenchmarkValidateTwoOrderGroups(b *testing.B) {
	reg, _ := newRegistry(b)
	eng := core.New(core.Options{Registry: reg})
	doc := []byte(twoGroups(5000))
	for b.Loop() {
		if _, err := eng.ValidateDocument(context.Background(), doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEventJSONUsesMilliseconds(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(core.Event{Type: core.EventStepRetrying, Delay: 1500 * time.Millisecond, Duration: 2 * time.Second})
	require.NoError(t, err)
	require.Contains(t, string(b), `"delayMs":1500`)
	require.Contains(t, string(b), `"durationMs":2000`)
}

// Secrets are redacted in the forms they take in URLs and JSON, and those a
// component fetched through its Host at provisioning.
func TestSecretRedactionForms(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: (&hostSecretStep{}).Info()}))
	secret := "p@ss/w+rd=1"
	eng := core.New(core.Options{Registry: reg, Secrets: core.MapSecrets{"token": secret, "host": "h0st-secret"}})
	exec := execute(t, eng, `{"name": "s", "steps": [
		{"id": "q", "type": "echo", "config": {"url": "http://x/?k={{ secrets_url }}", "raw": "{{secrets.token}}"}},
		{"id": "h", "type": "hostsecret"}]}`, map[string]any{"secrets_url": url.QueryEscape(secret)})
	js := toJSON(t, exec)
	require.NotContains(t, js, secret)
	require.NotContains(t, js, url.QueryEscape(secret))
	require.NotContains(t, js, "h0st-secret")
}

// hostSecretStep fetches a secret through its Host when provisioned and
// returns it on every run.
type hostSecretStep struct{ value string }

func (s *hostSecretStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "hostsecret", New: func() sdk.Component { return &hostSecretStep{} }}
}

func (s *hostSecretStep) Provision(ctx context.Context, h sdk.Host) error {
	v, err := h.Secret(ctx, "host")
	s.value = v
	return err
}

func (s *hostSecretStep) Run(context.Context, sdk.Input) (sdk.Output, error) {
	return sdk.Output{Data: "got " + s.value}, nil
}

var _ = steps.TypeWait
