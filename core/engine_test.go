package core_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

func TestIndependentStepsRunConcurrently(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	plan := compile(t, eng, `{"name": "fan", "steps": [
		{"id": "a", "type": "block", "config": {"name": "a"}, "dependsOn": []},
		{"id": "b", "type": "block", "config": {"name": "b"}, "dependsOn": []},
		{"id": "c", "type": "noop", "dependsOn": ["a", "b"]}]}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *core.Execution)
	go func() {
		exec, err := eng.Execute(ctx, plan, nil)
		require.NoError(t, err)
		done <- exec
	}()
	// Both blocking steps start although neither finished: they run at once.
	got := []string{<-tc.started, <-tc.started}
	require.ElementsMatch(t, []string{`{"name":"a"}`, `{"name":"b"}`}, got)
	cancel()
	exec := <-done
	require.Equal(t, core.StatusCancelled, exec.Status)
	require.Equal(t, core.StatusCancelled, exec.Steps["a"].Status)
	require.Equal(t, core.StatusSkipped, exec.Steps["c"].Status)
}

func TestOrderWithoutDependsOn(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	var mu sync.Mutex
	var events []string
	eng := core.New(core.Options{Registry: reg, Observer: func(ev core.Event) {
		if ev.Type == core.EventStepStarted || ev.Type == core.EventStepFinished {
			mu.Lock()
			events = append(events, ev.Type+" "+ev.StepID)
			mu.Unlock()
		}
	}})
	// Without dependsOn, a step runs after the steps of the next lower order
	// (order, else list position), so it may read their outputs.
	exec := execute(t, eng, `{"name": "seq", "steps": [
		{"id": "third", "type": "echo", "order": 3, "config": {"v": "{{steps.second.output.v}}!"}},
		{"id": "first", "type": "echo", "order": 1, "config": {"v": "a"}},
		{"id": "second", "type": "echo", "order": 2, "config": {"v": "{{steps.first.output.v}}b"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, map[string]any{"v": "ab!"}, exec.Output)
	require.Equal(t, []string{
		"step.started first", "step.finished first", "step.started second", "step.finished second",
		"step.started third", "step.finished third"}, events)
}

func TestTemplating(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg, NewID: func() string { return "exec-1" }})
	exec := execute(t, eng, `{"name": "tpl", "variables": {"minScore": 50, "region": "eu"},
		"steps": [{"id": "s", "type": "echo", "config": {
			"number": "{{minScore}}",
			"object": "{{input.lead}}",
			"text": "score {{input.lead.score}} in {{region}} for {{input.lead}}",
			"shadow": "{{region}}",
			"missing": "{{input.nope.deeper}}",
			"missingText": "[{{input.nope}}]",
			"index": "{{input.list[1]}}",
			"dotIndex": "{{input.list.0}}",
			"exec": "{{execution.id}}",
			"expr": "{{ input.lead.score > minScore ? 'hot' : 'cold' }}",
			"fallback": "{{ input.nope ?? 'default' }}",
			"nested": {"deep": ["{{input.lead.score}}", "static"]}}}]}`,
		map[string]any{"lead": map[string]any{"score": 72}, "region": "us", "list": []any{"x", "y"}})
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Equal(t, map[string]any{
		"number":      float64(50), // an exact {{x}} keeps the JSON type
		"object":      map[string]any{"score": float64(72)},
		"text":        `score 72 in us for {"score":72}`,
		"shadow":      "us", // bare names: input first, then variables
		"missing":     nil,
		"missingText": "[]",
		"index":       "y",
		"dotIndex":    "x",
		"exec":        "exec-1",
		"expr":        "hot",
		"fallback":    "default",
		"nested":      map[string]any{"deep": []any{float64(72), "static"}},
	}, exec.Output)
}

func TestOnErrorContinue(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "cont", "steps": [
		{"id": "f", "type": "fail", "config": {"code": "NOPE"}, "onError": "CONTINUE"},
		{"id": "after", "type": "echo", "dependsOn": ["f"],
		 "config": {"status": "{{steps.f.status}}", "code": "{{steps.f.error.code}}", "out": "{{steps.f.output}}"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, core.StatusFailed, exec.Steps["f"].Status)
	require.Equal(t, "NOPE", exec.Steps["f"].Error.Code)
	require.Equal(t, map[string]any{"status": "FAILED", "code": "NOPE", "out": nil}, exec.Output)
}

func TestFallbackStep(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	doc := `{"name": "fb", "steps": [
		{"id": "primary", "type": "fail", "config": {"code": "{{input.code}}", "failures": "{{input.failures}}", "output": "primary"}, "onError": "backup"},
		{"id": "backup", "type": "echo", "config": {"from": "backup", "because": "{{error.code}}", "of": "{{error.stepId}}"}},
		{"id": "after", "type": "echo", "dependsOn": ["primary"], "config": {"got": "{{steps.primary.output}}"}}]}`

	exec := execute(t, eng, doc, map[string]any{"code": "DOWN", "failures": 0})
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, core.StatusFailed, exec.Steps["primary"].Status)
	require.Equal(t, core.StatusCompleted, exec.Steps["backup"].Status)
	require.Equal(t, "primary", exec.Steps["backup"].FallbackFor)
	require.Equal(t, map[string]any{"got": map[string]any{"from": "backup", "because": "DOWN", "of": "primary"}}, exec.Output)

	// When the primary succeeds the fallback never runs.
	exec = execute(t, eng, doc, map[string]any{"code": "DOWN", "failures": -1})
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.NotContains(t, exec.Steps, "backup")
	require.Equal(t, map[string]any{"got": "primary"}, exec.Output)
}

func TestErrorHandlerRunsWhenExecutionFails(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "eh", "errorHandler": "notify", "steps": [
		{"id": "charge", "type": "fail", "config": {"code": "CARD_DECLINED"}},
		{"id": "ship", "type": "echo", "dependsOn": ["charge"]},
		{"id": "notify", "type": "echo", "config": {"failed": "{{error.stepId}}", "code": "{{error.code}}"}}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, "charge", exec.FailedStep)
	require.Equal(t, "CARD_DECLINED", exec.Error.Code)
	require.Equal(t, core.StatusSkipped, exec.Steps["ship"].Status)
	require.Equal(t, core.StatusCompleted, exec.Steps["notify"].Status)
	require.Equal(t, map[string]any{"failed": "charge", "code": "CARD_DECLINED"}, exec.Steps["notify"].Output)
}

func TestFailureStopsRunningSteps(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	// slow and bad start together; bad's failure fails the execution at once
	// (fail fast): slow is cancelled, never is skipped.
	exec := execute(t, eng, `{"name": "ff", "steps": [
		{"id": "slow", "type": "block", "dependsOn": []},
		{"id": "bad", "type": "fail", "config": {"code": "BAD"}, "dependsOn": []},
		{"id": "never", "type": "noop", "dependsOn": ["bad"]}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, "bad", exec.FailedStep)
	require.Equal(t, "BAD", exec.Error.Code)
	require.Equal(t, core.StatusCancelled, exec.Steps["slow"].Status)
	require.Equal(t, sdk.CodeCancelled, exec.Steps["slow"].Error.Code)
	require.Equal(t, core.StatusSkipped, exec.Steps["never"].Status)
}

func TestPanickingComponentFailsOnlyItsStep(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: sdk.NewStep("panic",
		func(context.Context, any) (any, error) { panic("kaboom") }).Info()}))
	eng := core.New(core.Options{Registry: reg})
	exec := execute(t, eng, `{"name": "p", "steps": [{"id": "x", "type": "panic"}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, sdk.CodeInternal, exec.Steps["x"].Error.Code)
	require.Contains(t, exec.Steps["x"].Error.Message, "kaboom")
}

func TestSecretsNeverReachRecords(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	var seen string
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: sdk.NewStep("auth",
		func(_ context.Context, in struct {
			Header string `json:"header"`
		}) (any, error) {
			seen = in.Header
			return map[string]any{"echo": in.Header}, &sdk.Error{Code: "DENIED", Message: "bad token " + in.Header}
		}).Info()}))
	store := core.NewMemoryStore()
	eng := core.New(core.Options{Registry: reg, Store: store, Secrets: core.MapSecrets{"token": "s3cr3t-value"}})
	exec := execute(t, eng, `{"name": "sec", "steps": [
		{"id": "call", "type": "auth", "config": {"header": "Bearer {{secrets.token}}"}, "onError": "CONTINUE"},
		{"id": "leak", "type": "echo", "dependsOn": ["call"], "config": {"again": "{{secrets.token}}", "err": "{{steps.call.error.message}}"}}]}`, nil)
	require.Equal(t, "Bearer s3cr3t-value", seen, "the component gets the real secret")
	stored, err := store.GetExecution(context.Background(), exec.ID)
	require.NoError(t, err)
	for _, rec := range []*core.Execution{exec, stored} {
		js := toJSON(t, rec)
		require.NotContains(t, js, "s3cr3t-value")
		require.Contains(t, js, core.Redacted)
	}
}

func TestExecutionOutput(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg})
	tests := []struct {
		name string
		doc  string
		want any
	}{
		{"one final step", `{"name": "o", "steps": [{"id": "a", "type": "echo", "config": {"x": 1}}, {"id": "b", "type": "echo", "config": {"y": 2}}]}`,
			map[string]any{"y": float64(2)}},
		{"several final steps", `{"name": "o", "steps": [{"id": "a", "type": "echo", "config": {"x": 1}, "dependsOn": []}, {"id": "b", "type": "echo", "config": {"y": 2}, "dependsOn": []}]}`,
			map[string]any{"a": map[string]any{"x": float64(1)}, "b": map[string]any{"y": float64(2)}}},
		{"output template", `{"name": "o", "output": {"sum": "{{steps.a.output.x}}"}, "steps": [{"id": "a", "type": "echo", "config": {"x": 1}}]}`,
			map[string]any{"sum": float64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := execute(t, eng, tt.doc, nil)
			require.Equal(t, tt.want, exec.Output)
		})
	}
}

// runAsync starts an execution and returns a channel with its record.
func runAsync(t *testing.T, eng *core.Engine, plan *core.Plan, input any) <-chan *core.Execution {
	t.Helper()
	done := make(chan *core.Execution, 1)
	go func() {
		exec, err := eng.Execute(context.Background(), plan, input)
		if err != nil {
			t.Error(err)
		}
		done <- exec
	}()
	return done
}

func TestRetryDelaysOnFakeClock(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	clock := clockwork.NewFakeClock()
	retries := make(chan core.Event, 10)
	eng := core.New(core.Options{Registry: reg, Clock: clock, Observer: func(ev core.Event) {
		if ev.Type == core.EventStepRetrying {
			retries <- ev
		}
	}})
	plan := compile(t, eng, `{"name": "r", "steps": [{"id": "flaky", "type": "fail",
		"config": {"code": "HTTP_503", "retryable": true, "failures": 2, "output": "ok"},
		"retryPolicy": {"strategy": "EXPONENTIAL", "maxAttempts": 3, "initialDelay": 100, "multiplier": 3, "retryableErrors": ["HTTP_5XX"]}}]}`)
	done := runAsync(t, eng, plan, nil)
	ctx := t.Context()
	attempts := func() int {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		for _, n := range tc.attempts {
			return n
		}
		return 0
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		ev := <-retries
		require.Equal(t, want, ev.Delay)
		require.NoError(t, clock.BlockUntilContext(ctx, 1))
		clock.Advance(want - time.Millisecond)
		require.Equal(t, i+1, attempts(), "no new attempt before the delay has passed")
		clock.Advance(time.Millisecond)
	}
	exec := <-done
	require.Equal(t, core.StatusCompleted, exec.Status)
	st := exec.Steps["flaky"]
	require.Equal(t, 3, st.Attempts)
	require.Equal(t, "ok", st.Output)
	require.Len(t, st.History, 3)
	require.Equal(t, []int64{100, 300, 0}, []int64{st.History[0].RetryDelayMs, st.History[1].RetryDelayMs, st.History[2].RetryDelayMs})
	require.Equal(t, []core.Status{core.StatusFailed, core.StatusFailed, core.StatusCompleted},
		[]core.Status{st.History[0].Status, st.History[1].Status, st.History[2].Status})
	require.Equal(t, "HTTP_503", st.History[0].Error.Code)
}

func TestRetryDecisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		stepConfig   string
		policy       string
		wantAttempts int
		wantDelays   []time.Duration
	}{
		{"code matches pattern", `{"code": "HTTP_503", "failures": 5}`, `{"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 10, "retryableErrors": ["HTTP_5XX"]}`, 3, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}},
		{"code not listed", `{"code": "HTTP_404", "retryable": true}`, `{"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 10, "retryableErrors": ["HTTP_5XX", "TIMEOUT"]}`, 1, nil},
		{"own code listed", `{"code": "RATE_LIMITED", "failures": 1, "output": 1}`, `{"strategy": "LINEAR", "maxAttempts": 4, "initialDelay": 10, "retryableErrors": ["RATE_LIMITED"]}`, 2, []time.Duration{10 * time.Millisecond}},
		{"no list: the error decides (retryable)", `{"code": "X", "retryable": true, "failures": 2, "output": 1}`, `{"strategy": "LINEAR", "maxAttempts": 5, "initialDelay": 10}`, 3, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{"no list: the error decides (permanent)", `{"code": "X"}`, `{"strategy": "LINEAR", "maxAttempts": 5, "initialDelay": 10}`, 1, nil},
		{"NONE", `{"code": "X", "retryable": true}`, `{"strategy": "NONE", "maxAttempts": 5}`, 1, nil},
		{"maxDelay caps", `{"code": "X", "retryable": true, "failures": 3, "output": 1}`, `{"maxAttempts": 4, "initialDelay": 100, "multiplier": 10, "maxDelay": 500}`, 4, []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{"Retry-After wins when longer", `{"code": "HTTP_429", "retryable": true, "failures": 1, "retryAfterMs": 5000, "output": 1}`, `{"strategy": "FIXED", "initialDelay": 100}`, 2, []time.Duration{5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, _ := newRegistry(t)
			clock := clockwork.NewFakeClock()
			var mu sync.Mutex
			var delays []time.Duration
			eng := core.New(core.Options{Registry: reg, Clock: clock, Observer: func(ev core.Event) {
				if ev.Type == core.EventStepRetrying {
					mu.Lock()
					delays = append(delays, ev.Delay)
					mu.Unlock()
					go func() {
						_ = clock.BlockUntilContext(context.Background(), 1)
						clock.Advance(ev.Delay)
					}()
				}
			}})
			doc := `{"name": "r", "steps": [{"id": "s", "type": "fail", "config": ` + tt.stepConfig + `, "retryPolicy": ` + tt.policy + `}]}`
			exec := execute(t, eng, doc, nil)
			require.Equal(t, tt.wantAttempts, exec.Steps["s"].Attempts)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, tt.wantDelays, delays)
		})
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	eng := core.New(core.Options{Registry: reg, Clock: clockwork.NewFakeClock()})
	exec := execute(t, eng, `{"name": "d", "defaultRetryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 0},
		"steps": [
			{"id": "uses_default", "type": "fail", "config": {"code": "X", "retryable": true}, "onError": "CONTINUE"},
			{"id": "own", "type": "fail", "config": {"code": "X", "retryable": true}, "retryPolicy": {"strategy": "NONE"}, "onError": "CONTINUE", "dependsOn": []}]}`, nil)
	require.Equal(t, 2, exec.Steps["uses_default"].Attempts)
	require.Equal(t, 1, exec.Steps["own"].Attempts)
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	clock := clockwork.NewFakeClock()
	eng := core.New(core.Options{Registry: reg, Clock: clock})
	plan := compile(t, eng, `{"name": "t", "steps": [{"id": "hang", "type": "block", "timeout": 1000,
		"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 0, "retryableErrors": ["TIMEOUT"]}}]}`)
	done := runAsync(t, eng, plan, nil)
	for range 2 {
		<-tc.started
		clock.Advance(999 * time.Millisecond)
		select {
		case <-done:
			t.Fatal("timed out early")
		default:
		}
		clock.Advance(time.Millisecond)
	}
	exec := <-done
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, 2, exec.Steps["hang"].Attempts, "TIMEOUT is retried when the policy lists it")
	require.Equal(t, sdk.CodeTimeout, exec.Steps["hang"].Error.Code)
	require.Equal(t, sdk.CodeTimeout, exec.Error.Code)
}

func TestExecutionTimeout(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	clock := clockwork.NewFakeClock()
	eng := core.New(core.Options{Registry: reg, Clock: clock})
	plan := compile(t, eng, `{"name": "t", "timeout": 5000, "errorHandler": "cleanup", "steps": [
		{"id": "hang", "type": "block", "timeout": 60000},
		{"id": "next", "type": "noop", "dependsOn": ["hang"]},
		{"id": "cleanup", "type": "echo", "config": {"why": "{{error.code}}"}}]}`)
	done := runAsync(t, eng, plan, nil)
	<-tc.started
	clock.Advance(5 * time.Second)
	exec := <-done
	require.Equal(t, core.StatusTimedOut, exec.Status)
	require.Equal(t, sdk.CodeTimeout, exec.Error.Code)
	require.Equal(t, core.StatusTimedOut, exec.Steps["hang"].Status)
	require.Equal(t, core.StatusSkipped, exec.Steps["next"].Status)
	require.Equal(t, map[string]any{"why": "TIMEOUT"}, exec.Steps["cleanup"].Output, "the error handler runs after a timeout")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	ids := make(chan string, 1)
	var eng *core.Engine
	eng = core.New(core.Options{Registry: reg, Observer: func(ev core.Event) {
		if ev.Type == core.EventExecutionStarted {
			ids <- ev.ExecutionID
		}
	}})
	plan := compile(t, eng, `{"name": "c", "steps": [{"id": "hang", "type": "block"}]}`)
	done := runAsync(t, eng, plan, nil)
	id := <-ids
	<-tc.started
	require.True(t, eng.Cancel(id))
	exec := <-done
	require.Equal(t, core.StatusCancelled, exec.Status)
	require.Equal(t, sdk.CodeCancelled, exec.Error.Code)
	require.False(t, eng.Cancel(id), "nothing left to cancel")
}

func TestCircuitBreakerFailsFast(t *testing.T) {
	t.Parallel()
	reg, tc := newRegistry(t)
	clock := clockwork.NewFakeClock()
	eng := core.New(core.Options{Registry: reg, Clock: clock})
	plan := compile(t, eng, `{"name": "cb", "steps": [{"id": "call", "type": "fail",
		"config": {"code": "HTTP_503", "retryable": true, "failures": "{{input.failures}}", "output": "ok"},
		"circuitBreaker": {"serviceId": "crm", "threshold": 2, "timeout": 30000}}]}`)
	run := func(failures int) *core.Execution {
		exec, err := eng.Execute(context.Background(), plan, map[string]any{"failures": failures})
		require.NoError(t, err)
		return exec
	}
	require.Equal(t, "HTTP_503", run(0).Error.Code)
	require.Equal(t, "HTTP_503", run(0).Error.Code)
	st, err := eng.Breakers().Get(context.Background(), "crm")
	require.NoError(t, err)
	require.Equal(t, core.BreakerOpen, st.State)

	before := len(tc.attempts)
	exec := run(0)
	require.Equal(t, sdk.CodeCircuitOpen, exec.Error.Code)
	require.Len(t, tc.attempts, before, "an open breaker refuses without calling the component")

	clock.Advance(30 * time.Second) // HALF_OPEN: one trial call, which succeeds and closes the breaker
	exec = run(-1)
	require.Equal(t, core.StatusCompleted, exec.Status)
	st, err = eng.Breakers().Get(context.Background(), "crm")
	require.NoError(t, err)
	require.Equal(t, core.BreakerClosed, st.State)
}

func TestExecutionIsRecordedInStore(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	store := core.NewMemoryStore()
	eng := core.New(core.Options{Registry: reg, Store: store})
	exec := execute(t, eng, `{"name": "rec", "steps": [{"id": "a", "type": "echo", "config": {"x": "{{input.x}}"}}]}`, map[string]any{"x": 1})
	got, err := store.GetExecution(context.Background(), exec.ID)
	require.NoError(t, err)
	require.Equal(t, core.StatusCompleted, got.Status)
	require.Equal(t, map[string]any{"x": float64(1)}, got.Steps["a"].Input)
	require.Equal(t, map[string]any{"x": float64(1)}, got.Steps["a"].Output)
	require.False(t, got.FinishedAt.IsZero())
	_, err = store.GetExecution(context.Background(), "nope")
	require.ErrorIs(t, err, core.ErrNotFound)
	require.True(t, strings.Contains(toJSON(t, got), `"steps":{"a":`))
}
