package steps_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// waitStep returns a one-step workflow with a WAIT of the given config.
func waitStep(cfg string) string {
	return wf(`{"id": "pause", "type": "WAIT", "config": ` + cfg + `}`)
}

func TestWaitOnFakeClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   string
		input map[string]any
		wait  time.Duration
	}{
		{name: "duration", cfg: `{"duration": 60000}`, wait: time.Minute},
		{name: "duration from a template", cfg: `{"duration": "{{input.ms}}"}`, input: map[string]any{"ms": 1500}, wait: 1500 * time.Millisecond},
		{name: "duration as a numeric string", cfg: `{"duration": "250"}`, wait: 250 * time.Millisecond},
		{name: "until", cfg: `{"until": "` + fixedTime.Add(2*time.Hour).Format(time.RFC3339) + `"}`, wait: 2 * time.Hour},
		{name: "until with an offset", cfg: `{"until": "` + fixedTime.Add(90*time.Minute).In(time.FixedZone("x", -5*3600)).Format(time.RFC3339Nano) + `"}`, wait: 90 * time.Minute},
		{name: "until from a template", cfg: `{"until": "{{input.at}}"}`, input: map[string]any{"at": fixedTime.Add(time.Hour).Format(time.RFC3339)}, wait: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fc := clockwork.NewFakeClockAt(fixedTime)
			ev := newEvents()
			eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe})
			plan := compile(t, eng, waitStep(tt.cfg))
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			a := startExec(ctx, eng, plan, tt.input)

			waiting := ev.next(t, core.EventStepWaiting)
			require.Equal(t, core.StatusWaiting, waiting.Status)
			require.Equal(t, "pause", waiting.StepID)
			require.Equal(t, "WAIT", waiting.StepType)
			stored, err := eng.Store().GetExecution(ctx, waiting.ExecutionID)
			require.NoError(t, err)
			require.Equal(t, core.StatusWaiting, stored.Steps["pause"].Status, "the store shows the step WAITING")

			// Short of the time, the wait goes on.
			require.NoError(t, fc.BlockUntilContext(ctx, 1))
			fc.Advance(tt.wait - time.Millisecond)
			require.NoError(t, fc.BlockUntilContext(ctx, 1))
			select {
			case <-a.done:
				require.Fail(t, "the wait ended early")
			default:
			}
			fc.Advance(time.Millisecond)
			exec := a.wait(t)

			requireCompleted(t, exec)
			st := step(t, exec, "pause")
			require.Equal(t, core.StatusCompleted, st.Status)
			require.Equal(t, map[string]any{
				"waitedMs":  float64(tt.wait.Milliseconds()),
				"resumedAt": fixedTime.Add(tt.wait).Format(time.RFC3339Nano),
			}, st.Output)
			require.Equal(t, tt.wait.Milliseconds(), st.DurationMs)
			require.Equal(t, 1, st.Attempts)
		})
	}
}

func TestWaitWithoutWaiting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  string
	}{
		{name: "zero duration", cfg: `{"duration": 0}`},
		{name: "until in the past", cfg: `{"until": "` + fixedTime.Add(-time.Hour).Format(time.RFC3339) + `"}`},
		{name: "until now", cfg: `{"until": "` + fixedTime.Format(time.RFC3339) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fc := clockwork.NewFakeClockAt(fixedTime)
			ev := newEvents()
			eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe})
			exec := run(t, eng, waitStep(tt.cfg), nil)
			requireCompleted(t, exec)
			require.Empty(t, ev.ofType(core.EventStepWaiting), "no WAITING for a time already reached")
			require.Equal(t, float64(0), obj(t, exec.Output)["waitedMs"])
		})
	}
}

func TestWaitCancelled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cancel func(ctxCancel context.CancelFunc, eng *core.Engine, execID string)
		msg    string
	}{
		{name: "context cancelled", cancel: func(c context.CancelFunc, _ *core.Engine, _ string) { c() }},
		{name: "engine Cancel", cancel: func(_ context.CancelFunc, eng *core.Engine, id string) {
			if !eng.Cancel(id) {
				panic("execution not running")
			}
		}, msg: "execution cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fc := clockwork.NewFakeClockAt(fixedTime)
			ev := newEvents()
			eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe})
			plan := compile(t, eng, wf(`{"id": "pause", "type": "WAIT", "config": {"duration": 3600000}},
				{"id": "after", "type": "WAIT", "dependsOn": ["pause"], "config": {"duration": 0}}`))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a := startExec(ctx, eng, plan, nil)
			waiting := ev.next(t, core.EventStepWaiting)
			tt.cancel(cancel, eng, waiting.ExecutionID)
			exec := a.wait(t)

			require.Equal(t, core.StatusCancelled, exec.Status)
			require.Equal(t, sdk.CodeCancelled, exec.Error.Code)
			if tt.msg != "" {
				require.Contains(t, exec.Error.Message, tt.msg)
			}
			require.Empty(t, exec.FailedStep)
			st := step(t, exec, "pause")
			require.Equal(t, core.StatusCancelled, st.Status)
			require.Equal(t, 1, st.Attempts)
			require.Equal(t, core.StatusSkipped, step(t, exec, "after").Status)
			require.Equal(t, fixedTime, fc.Now(), "no time passed")
		})
	}
}

func TestWaitExecutionTimeout(t *testing.T) {
	t.Parallel()
	fc := clockwork.NewFakeClockAt(fixedTime)
	ev := newEvents()
	eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe})
	plan := compile(t, eng, `{"name": "t", "timeout": 1000, "steps": [{"id": "pause", "type": "WAIT", "config": {"duration": 60000}}]}`)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	a := startExec(ctx, eng, plan, nil)
	ev.next(t, core.EventStepWaiting)
	// The execution's deadline and the wait's timer.
	require.NoError(t, fc.BlockUntilContext(ctx, 2))
	fc.Advance(time.Second)
	exec := a.wait(t)
	require.Equal(t, core.StatusTimedOut, exec.Status)
	require.Equal(t, sdk.CodeTimeout, exec.Error.Code)
	require.Equal(t, core.StatusTimedOut, step(t, exec, "pause").Status)
}

func TestWaitRuntimeErrors(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{clock: clockwork.NewFakeClockAt(fixedTime)})
	tests := []struct {
		name  string
		cfg   string
		input map[string]any
	}{
		{name: "templated duration not a number", cfg: `{"duration": "{{input.v}}"}`, input: map[string]any{"v": "soon"}},
		{name: "templated duration negative", cfg: `{"duration": "{{input.v}}"}`, input: map[string]any{"v": -5}},
		{name: "templated duration missing", cfg: `{"duration": "{{input.v}}"}`},
		{name: "templated until not a time", cfg: `{"until": "{{input.v}}"}`, input: map[string]any{"v": "tomorrow"}},
		{name: "templated until a number", cfg: `{"until": "{{input.v}}"}`, input: map[string]any{"v": 1700000000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, waitStep(tt.cfg), tt.input)
			requireFailed(t, exec, sdk.CodeInvalidConfig)
		})
	}
}

func TestWaitCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name string
		cfg  string
		want [][2]string
	}{
		{name: "both", cfg: `{"duration": 1000, "until": "2026-01-02T15:04:05Z"}`, want: [][2]string{{"steps[0].config", "not both"}}},
		{name: "neither", cfg: `{}`, want: [][2]string{{"steps[0].config", "give duration"}}},
		{name: "no config", cfg: `null`, want: [][2]string{{"steps[0].config", "give duration"}}},
		{name: "negative duration", cfg: `{"duration": -1}`, want: [][2]string{{"steps[0].config.duration", "non-negative"}}},
		{name: "duration text", cfg: `{"duration": "5m"}`, want: [][2]string{{"steps[0].config.duration", "non-negative number of milliseconds"}}},
		{name: "duration object", cfg: `{"duration": {"ms": 5}}`, want: [][2]string{{"steps[0].config.duration", ""}}},
		{name: "until not RFC 3339", cfg: `{"until": "2026-01-02 15:04"}`, want: [][2]string{{"steps[0].config.until", "RFC 3339"}}},
		{name: "until a date only", cfg: `{"until": "2026-01-02"}`, want: [][2]string{{"steps[0].config.until", "RFC 3339"}}},
		{name: "until a number", cfg: `{"until": 1700000000}`, want: [][2]string{{"steps[0].config.until", "RFC 3339"}}},
		{name: "unknown field", cfg: `{"duration": 1, "seconds": 1}`, want: [][2]string{{"steps[0].config.seconds", ""}}},
		{name: "broken template", cfg: `{"duration": "{{input.ms"}`, want: [][2]string{{"steps[0].config.duration", "unclosed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, waitStep(tt.cfg))
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}

	t.Run("retry policy on a WAIT", func(t *testing.T) {
		t.Parallel()
		ps := problems(t, eng, wf(`{"id": "pause", "type": "WAIT", "retryPolicy": {"maxAttempts": 2}, "config": {"duration": 1}}`))
		requireProblem(t, ps, "steps[0].retryPolicy", "not retried")
	})
}

// TestWaitHugeDuration: a duration too long for the clock must not end the
// wait at once.
func TestWaitHugeDuration(t *testing.T) {
	t.Parallel()
	fc := clockwork.NewFakeClockAt(fixedTime)
	ev := newEvents()
	eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe})
	doc := waitStep(`{"duration": 1e13}`) // about 317 years
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	if _, err := eng.Compile(context.Background(), w); err != nil {
		return // rejected: fine
	}
	plan := compile(t, eng, doc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startExec(ctx, eng, plan, nil)
	select {
	case <-a.done:
		if a.exec.Status == core.StatusCompleted {
			t.Fatal("regression: core/steps/wait.go waitDuration: a duration beyond time.Duration's range (> ~9.2e12 ms) overflows and the WAIT completes at once")
		}
		require.Equal(t, core.StatusFailed, a.exec.Status)
		return
	case <-ev.chanFor(core.EventStepWaiting):
	}
	cancel()
	require.Equal(t, core.StatusCancelled, a.wait(t).Status)
}
