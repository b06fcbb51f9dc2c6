package steps_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// nestedHTTP returns a nested HTTP_REQUEST step definition.
func nestedHTTP(id, url, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `{"id": "` + id + `", "type": "HTTP_REQUEST", "config": {"url": "` + url + `"}` + extra + `}`
}

func TestParallelOutputs(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, `{"name": "t", "steps": [
		{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("lead_a", base+"/leads/42", "")+`,
			`+nestedHTTP("lead_b", base+"/leads/7", "")+`,
			{"id": "calc", "type": "DATA_TRANSFORM", "config": {"source": {"n": "{{input.n}}"}, "operations": [{"type": "calculate", "field": "m", "expression": "n + 1"}]}}]}},
		{"id": "after", "type": "DATA_TRANSFORM", "dependsOn": ["fan"], "config": {"source": {
			"a": "{{steps.lead_a.output.body.email}}",
			"b": "{{steps.lead_b.output.body.score}}",
			"m": "{{steps.calc.output.m}}",
			"viaFan": "{{steps.fan.output.lead_a.body.id}}"}, "operations": [{"type": "set", "field": "ok", "value": true}]}}]}`,
		map[string]any{"n": 1})
	requireCompleted(t, exec)

	fan := obj(t, step(t, exec, "fan").Output)
	require.ElementsMatch(t, []string{"lead_a", "lead_b", "calc"}, keys(fan))
	require.Equal(t, "42", obj(t, obj(t, fan["lead_a"])["body"])["id"])
	require.Equal(t, "7", obj(t, obj(t, fan["lead_b"])["body"])["id"])
	require.Equal(t, map[string]any{"n": float64(1), "m": float64(2)}, fan["calc"])

	require.Equal(t, map[string]any{
		"a": "Ada.Lovelace@Example.com", "b": float64(30), "m": float64(2), "viaFan": "42", "ok": true,
	}, exec.Output, "nested outputs are visible to later steps as steps.<nested>.output")

	for _, id := range []string{"lead_a", "lead_b", "calc"} {
		st := step(t, exec, id)
		require.Equal(t, core.StatusCompleted, st.Status)
		require.Equal(t, "fan", st.Parent)
		require.Nil(t, st.Index)
		require.Equal(t, 1, st.Attempts)
	}
}

func TestParallelMaxConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		steps          int
		maxConcurrency int // 0 leaves it out: all at once
		wantMax        int
	}{
		{name: "two at a time", steps: 4, maxConcurrency: 2, wantMax: 2},
		{name: "three at a time, uneven", steps: 6, maxConcurrency: 3, wantMax: 3},
		{name: "one at a time", steps: 3, maxConcurrency: 1, wantMax: 1},
		{name: "all at once by default", steps: 5, wantMax: 5},
		{name: "limit above the step count", steps: 3, maxConcurrency: 10, wantMax: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBarrier(tt.wantMax)
			base := serve(t, func(w http.ResponseWriter, r *http.Request) {
				defer b.leave()
				if !b.enter(r.Context()) {
					writeJSON(w, http.StatusGatewayTimeout, map[string]any{"error": "barrier never filled"})
					return
				}
				writeJSON(w, 200, map[string]any{"path": r.URL.Path})
			})
			eng := newEngine(t, engineOpts{})
			var nested []string
			for i := range tt.steps {
				nested = append(nested, nestedHTTP(fmt.Sprintf("s%d", i), fmt.Sprintf("%s/%d", base, i), ""))
			}
			cfg := `{"steps": [` + strings.Join(nested, ",") + `]`
			if tt.maxConcurrency > 0 {
				cfg += fmt.Sprintf(`, "maxConcurrency": %d`, tt.maxConcurrency)
			}
			exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": `+cfg+`}}`), nil)
			requireCompleted(t, exec)
			require.Equal(t, tt.wantMax, b.maxInflight())
			require.Len(t, obj(t, exec.Output), tt.steps)
		})
	}
}

func TestParallelFailure(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})

	t.Run("fails with the nested code and stops the others", func(t *testing.T) {
		t.Parallel()
		// The slow step would outlast the test's guard: run fails unless it
		// was stopped.
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("slow", base+"/slow?ms="+forever, "")+`,
			`+nestedHTTP("broken", base+"/status/404", "")+`]}},
			{"id": "after", "type": "DATA_TRANSFORM", "dependsOn": ["fan"], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}`), nil)

		requireFailed(t, exec, "HTTP_404")
		require.Equal(t, "fan", exec.FailedStep)
		fan := step(t, exec, "fan")
		require.Equal(t, core.StatusFailed, fan.Status)
		require.Equal(t, "HTTP_404", fan.Error.Code)
		require.False(t, fan.Error.Retryable)
		require.Equal(t, map[string]any{"stepId": "broken"}, fan.Error.Details)
		require.Contains(t, fan.Error.Message, `nested step "broken"`)

		require.Equal(t, "HTTP_404", step(t, exec, "broken").Error.Code)
		slow := step(t, exec, "slow")
		require.Equal(t, core.StatusCancelled, slow.Status)
		require.Equal(t, sdk.CodeCancelled, slow.Error.Code)
		require.Equal(t, core.StatusSkipped, step(t, exec, "after").Status)
	})

	t.Run("steps not started are skipped", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"maxConcurrency": 1, "steps": [
			`+nestedHTTP("first", base+"/status/500", "")+`,
			`+nestedHTTP("second", base+"/leads/42", "")+`,
			`+nestedHTTP("third", base+"/leads/7", "")+`]}}`), nil)
		requireFailed(t, exec, "HTTP_500")
		require.Equal(t, core.StatusFailed, step(t, exec, "first").Status)
		require.Equal(t, core.StatusSkipped, step(t, exec, "second").Status)
		require.Equal(t, core.StatusSkipped, step(t, exec, "third").Status)
	})

	t.Run("a retryable nested failure stays retryable", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("down", base+"/status/503", "")+`]}}`), nil)
		requireFailed(t, exec, "HTTP_503")
		require.True(t, step(t, exec, "fan").Error.Retryable)
	})

	t.Run("nested retry policy is honoured", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("flaky", base+"/flaky?key="+t.Name()+"&failures=1", `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1}`)+`]}}`), nil)
		requireCompleted(t, exec)
		require.Equal(t, 2, step(t, exec, "flaky").Attempts)
	})

	t.Run("nested timeout", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("slow", base+"/slow?ms="+forever, `"timeout": 50`)+`]}}`), nil)
		requireFailed(t, exec, sdk.CodeTimeout)
		require.Equal(t, sdk.CodeTimeout, step(t, exec, "slow").Error.Code)
	})

	t.Run("onError CONTINUE leaves null", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [
			`+nestedHTTP("broken", base+"/status/500", `"onError": "CONTINUE"`)+`,
			`+nestedHTTP("fine", base+"/leads/42", "")+`]}},
			{"id": "after", "type": "DATA_TRANSFORM", "dependsOn": ["fan"], "config": {"source": {"st": "{{steps.broken.status}}", "code": "{{steps.broken.error.code}}"}, "operations": [{"type": "set", "field": "x", "value": 1}]}}`), nil)
		requireCompleted(t, exec)
		fan := obj(t, step(t, exec, "fan").Output)
		require.Contains(t, fan, "broken")
		require.Nil(t, fan["broken"])
		require.Equal(t, "42", obj(t, obj(t, fan["fine"])["body"])["id"])
		require.Equal(t, core.StatusFailed, step(t, exec, "broken").Status)
		require.Equal(t, map[string]any{"st": "FAILED", "code": "HTTP_500", "x": float64(1)}, step(t, exec, "after").Output)
	})

	t.Run("onError CONTINUE on the PARALLEL itself", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, wf(`{"id": "fan", "type": "PARALLEL", "onError": "CONTINUE", "config": {"steps": [
			`+nestedHTTP("broken", base+"/status/500", "")+`]}},
			{"id": "after", "type": "DATA_TRANSFORM", "dependsOn": ["fan"], "config": {"source": {"code": "{{steps.fan.error.code}}"}, "operations": [{"type": "set", "field": "x", "value": 1}]}}`), nil)
		requireCompleted(t, exec)
		require.Equal(t, core.StatusFailed, step(t, exec, "fan").Status)
		require.Equal(t, map[string]any{"code": "HTTP_500", "x": float64(1)}, exec.Output)
	})
}

func TestParallelCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	okStep := func(id string) string {
		return `{"id": "` + id + `", "type": "DATA_TRANSFORM", "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}`
	}
	tests := []struct {
		name string
		doc  string
		want [][2]string
	}{
		{name: "nested dependsOn", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `,
			{"id": "b", "type": "DATA_TRANSFORM", "dependsOn": ["a"], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}}`),
			want: [][2]string{{"steps[0].config.steps[1].dependsOn", "dependsOn is not allowed here"}}},
		{name: "nested id duplicates a top-level id", doc: wf(okStep("a") + `, {"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `]}}`),
			want: [][2]string{{"steps[1].config.steps[0].id", `duplicate step id "a"`}}},
		{name: "top-level id duplicates a nested id", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `]}}, ` + okStep("a")),
			want: [][2]string{{"steps[1].id", `duplicate step id "a"`}}},
		{name: "nested ids duplicated", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `, ` + okStep("a") + `]}}`),
			want: [][2]string{{"steps[0].config.steps[1].id", `duplicate step id "a"`}}},
		{name: "no nested steps", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": []}}`),
			want: [][2]string{{"steps[0].config.steps", "at least one nested step"}}},
		{name: "negative maxConcurrency", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"maxConcurrency": -1, "steps": [` + okStep("a") + `]}}`),
			want: [][2]string{{"steps[0].config.maxConcurrency", "at least 1"}}},
		{name: "nested step with a bad config", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [{"id": "h", "type": "HTTP_REQUEST", "config": {"url": "ftp://x"}}]}}`),
			want: [][2]string{{"steps[0].config.steps[0].config.url", "http://"}}},
		{name: "nested step of an unknown type", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [{"id": "h", "type": "HTTP_REQUESTS"}]}}`),
			want: [][2]string{{"steps[0].config.steps[0].type", `did you mean "HTTP_REQUEST"`}}},
		{name: "nested step without id", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [{"type": "WAIT", "config": {"duration": 1}}]}}`),
			want: [][2]string{{"steps[0].config.steps[0].id", "is required"}}},
		{name: "nested step reads a sibling", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `,
			{"id": "b", "type": "DATA_TRANSFORM", "config": {"source": "{{steps.a.output}}", "operations": [{"type": "set", "field": "x", "value": 1}]}}]}}`),
			want: [][2]string{{"steps[0].config.steps[1].config.source", `runs inside the same step "fan"`}}},
		{name: "nested fallback", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [{"id": "a", "type": "DATA_TRANSFORM", "onError": "fb", "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}}, ` + okStep("fb")),
			want: [][2]string{{"steps[0].config.steps[0].onError", "FAIL or CONTINUE only"}}},
		{name: "retry policy on the PARALLEL", doc: wf(`{"id": "fan", "type": "PARALLEL", "retryPolicy": {"maxAttempts": 2}, "config": {"steps": [` + okStep("a") + `]}}`),
			want: [][2]string{{"steps[0].retryPolicy", "not retried"}}},
		{name: "circuit breaker on the PARALLEL", doc: wf(`{"id": "fan", "type": "PARALLEL", "circuitBreaker": "svc", "config": {"steps": [` + okStep("a") + `]}}`),
			want: [][2]string{{"steps[0].circuitBreaker", "no circuit breaker"}}},
		{name: "depending on a nested step", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `]}}, {"id": "b", "type": "WAIT", "dependsOn": ["a"], "config": {"duration": 1}}`),
			want: [][2]string{{"steps[1].dependsOn[0]", `depend on "fan" instead`}}},
		{name: "reading a nested step without depending on its parent", doc: wf(`{"id": "fan", "type": "PARALLEL", "config": {"steps": [` + okStep("a") + `]}}, {"id": "b", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": "{{steps.a.output}}", "operations": [{"type": "set", "field": "x", "value": 1}]}}`),
			want: [][2]string{{"steps[1].config.source", `add "fan" to dependsOn`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, tt.doc)
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}
}
