package steps_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// forEachStep returns a one-step workflow with a FOR_EACH of the given config.
func forEachStep(cfg string) string {
	return wf(`{"id": "loop", "type": "FOR_EACH", "config": ` + cfg + `}`)
}

// reverseOrder is a handler that waits until n requests have arrived, then
// answers them last first, each answer after the later one has finished.
type reverseOrder struct {
	n int

	mu      sync.Mutex
	arrived int
	all     chan struct{}
	turn    []chan struct{}
	order   []int
}

func newReverseOrder(n int) *reverseOrder {
	r := &reverseOrder{n: n, all: make(chan struct{}), turn: make([]chan struct{}, n)}
	for i := range r.turn {
		r.turn[i] = make(chan struct{})
	}
	return r
}

func (ro *reverseOrder) handler(w http.ResponseWriter, r *http.Request) {
	i, _ := strconv.Atoi(r.URL.Query().Get("index"))
	ro.mu.Lock()
	ro.arrived++
	if ro.arrived == ro.n {
		close(ro.all)
		close(ro.turn[ro.n-1])
	}
	ro.mu.Unlock()
	for _, ch := range []chan struct{}{ro.all, ro.turn[i]} {
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-time.After(testTimeout):
			writeJSON(w, http.StatusGatewayTimeout, nil)
			return
		}
	}
	writeJSON(w, 200, map[string]any{"item": r.URL.Query().Get("item"), "index": i})
	ro.mu.Lock()
	ro.order = append(ro.order, i)
	ro.mu.Unlock()
	if i > 0 {
		close(ro.turn[i-1])
	}
}

func TestForEachResultsInItemOrder(t *testing.T) {
	t.Parallel()
	ro := newReverseOrder(3)
	base := serve(t, ro.handler)
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, forEachStep(`{"items": ["a", "b", "c"], "maxConcurrency": 3, "step":
		{"id": "fetch", "type": "HTTP_REQUEST", "config": {"url": "`+base+`/?item={{item}}&index={{index}}"}}}`), nil)
	requireCompleted(t, exec)
	require.Equal(t, []int{2, 1, 0}, ro.order, "the items completed out of order")

	out := list(t, step(t, exec, "loop").Output)
	require.Len(t, out, 3)
	for i, item := range []string{"a", "b", "c"} {
		body := obj(t, obj(t, out[i])["body"])
		require.Equal(t, item, body["item"])
		require.Equal(t, float64(i), body["index"])

		st := step(t, exec, fmt.Sprintf("fetch[%d]", i))
		require.Equal(t, core.StatusCompleted, st.Status)
		require.Equal(t, "loop", st.Parent)
		require.NotNil(t, st.Index)
		require.Equal(t, i, *st.Index)
		require.Equal(t, out[i], st.Output)
	}
	require.NotContains(t, exec.Steps, "fetch", "iterations are recorded as id[index] only")
}

func TestForEachItemAndIndex(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name  string
		doc   string
		input map[string]any
		want  string // JSON of the FOR_EACH output
	}{
		{
			name: "static items, item and index keep their types",
			doc: forEachStep(`{"items": [{"n": 1}, {"n": 2}], "step": {"id": "each", "type": "DATA_TRANSFORM",
				"config": {"source": "{{item}}", "operations": [{"type": "set", "field": "i", "value": "{{index}}"}, {"type": "calculate", "field": "m", "expression": "n * 10 + index"}]}}}`),
			want: `[{"n": 1, "i": 0, "m": 10}, {"n": 2, "i": 1, "m": 21}]`,
		},
		{
			name: "items from the input",
			doc: forEachStep(`{"items": "{{input.ids}}", "step": {"id": "each", "type": "DATA_TRANSFORM",
				"config": {"source": {"id": "{{item}}", "label": "#{{index}}: {{item}}"}, "operations": [{"type": "format", "field": "id", "format": "upper"}]}}}`),
			input: map[string]any{"ids": []any{"x", "y", "z"}},
			want:  `[{"id": "X", "label": "#0: x"}, {"id": "Y", "label": "#1: y"}, {"id": "Z", "label": "#2: z"}]`,
		},
		{
			name: "items from an earlier step",
			doc: `{"name": "t", "steps": [
				{"id": "list", "type": "HTTP_REQUEST", "config": {"url": "` + base + `/leads"}},
				{"id": "loop", "type": "FOR_EACH", "dependsOn": ["list"], "config": {"items": "{{steps.list.output.body.items}}", "maxConcurrency": 2,
					"step": {"id": "each", "type": "HTTP_REQUEST", "config": {"url": "` + base + `/leads/{{item.id}}"}}}}]}`,
			want: "",
		},
		{
			name: "items from an expression",
			doc: forEachStep(`{"items": "{{ filter(input.nums, # > 1) }}", "step": {"id": "each", "type": "DATA_TRANSFORM",
				"config": {"source": {"v": "{{item}}"}, "operations": [{"type": "calculate", "field": "sq", "expression": "v * v"}]}}}`),
			input: map[string]any{"nums": []any{1, 2, 3}},
			want:  `[{"v": 2, "sq": 4}, {"v": 3, "sq": 9}]`,
		},
		{
			name:  "empty items",
			doc:   forEachStep(`{"items": [], "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			want:  `[]`,
			input: nil,
		},
		{
			name:  "empty items from a template",
			doc:   forEachStep(`{"items": "{{input.none}}", "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			input: map[string]any{"none": []any{}},
			want:  `[]`,
		},
		{
			name: "null items are no items",
			doc:  forEachStep(`{"items": "{{input.missing}}", "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			want: `[]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, tt.doc, tt.input)
			requireCompleted(t, exec)
			out := list(t, step(t, exec, "loop").Output)
			if tt.want == "" {
				require.Len(t, out, 4)
				for i, id := range []string{"42", "7", "13", "lead_123"} {
					require.Equal(t, id, obj(t, obj(t, out[i])["body"])["id"])
				}
				return
			}
			require.Equal(t, jsonValue(t, tt.want), out)
		})
	}
}

func TestForEachIdempotencyKeyPerItem(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, forEachStep(`{"items": [1, 2, 3], "step": {"id": "submit", "type": "HTTP_REQUEST",
		"config": {"method": "POST", "url": "`+base+`/carriers/acme", "body": {"score": "{{item}}"}}}}`), nil)
	requireCompleted(t, exec)
	reqs := requestsTo(m, "/carriers/acme")
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		require.Equal(t, fmt.Sprintf("%s/submit[%d]", exec.ID, i), r.Headers.Get("Idempotency-Key"))
	}
	for _, res := range list(t, exec.Output) {
		require.Equal(t, false, obj(t, obj(t, res)["body"])["replayed"])
	}
}

func TestForEachFailures(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	statusLoop := func(items, extra string) string {
		if extra != "" {
			extra = ", " + extra
		}
		return forEachStep(`{"items": ` + items + `, "step": {"id": "call", "type": "HTTP_REQUEST",
			"config": {"url": "` + base + `/status/{{item}}"}` + extra + `}}`)
	}

	t.Run("a failure stops the remaining items", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, statusLoop(`[200, 500, 200, 200]`, ""), nil)
		requireFailed(t, exec, "HTTP_500")
		loop := step(t, exec, "loop")
		require.Equal(t, "HTTP_500", loop.Error.Code)
		require.True(t, loop.Error.Retryable)
		require.Equal(t, map[string]any{"index": float64(1)}, loop.Error.Details)
		require.Contains(t, loop.Error.Message, "item 1:")
		require.Equal(t, core.StatusCompleted, step(t, exec, "call[0]").Status)
		require.Equal(t, core.StatusFailed, step(t, exec, "call[1]").Status)
		require.NotContains(t, exec.Steps, "call[2]", "later items never started")
		require.NotContains(t, exec.Steps, "call[3]")
	})

	t.Run("a failure stops concurrent items", func(t *testing.T) {
		t.Parallel()
		// The slow item would outlast the test's guard: run fails unless it
		// was stopped.
		exec := run(t, eng, forEachStep(`{"items": ["slow?ms=`+forever+`", "status/404"], "maxConcurrency": 2, "step": {"id": "call", "type": "HTTP_REQUEST",
			"config": {"url": "`+base+`/{{item}}"}}}`), nil)
		requireFailed(t, exec, "HTTP_404")
		require.Equal(t, core.StatusCancelled, step(t, exec, "call[0]").Status)
		require.Equal(t, map[string]any{"index": float64(1)}, step(t, exec, "loop").Error.Details)
	})

	t.Run("CONTINUE leaves null at the index", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, statusLoop(`[200, 500, 201]`, `"onError": "CONTINUE"`), nil)
		requireCompleted(t, exec)
		out := list(t, step(t, exec, "loop").Output)
		require.Len(t, out, 3)
		require.Equal(t, float64(200), obj(t, out[0])["status"])
		require.Nil(t, out[1])
		require.Equal(t, float64(201), obj(t, out[2])["status"])
		require.Equal(t, core.StatusFailed, step(t, exec, "call[1]").Status)
	})

	t.Run("nested retries are per item", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, forEachStep(`{"items": ["a", "b"], "step": {"id": "call", "type": "HTTP_REQUEST",
			"config": {"url": "`+base+`/flaky?key=`+t.Name()+`-{{item}}&failures=1"},
			"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1}}}`), nil)
		requireCompleted(t, exec)
		require.Equal(t, 2, step(t, exec, "call[0]").Attempts)
		require.Equal(t, 2, step(t, exec, "call[1]").Attempts)
	})

	tests := []struct {
		name     string
		doc      string
		input    map[string]any
		wantCode string
		wantMsg  string
	}{
		{name: "items not an array", doc: forEachStep(`{"items": "{{input.v}}", "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			input: map[string]any{"v": "abc"}, wantCode: sdk.CodeInvalidConfig, wantMsg: "items must be an array, got a string"},
		{name: "items an object", doc: forEachStep(`{"items": "{{input.v}}", "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			input: map[string]any{"v": map[string]any{"a": 1}}, wantCode: sdk.CodeInvalidConfig, wantMsg: "items must be an array"},
		{name: "interpolated items are a string", doc: forEachStep(`{"items": "x{{input.v}}", "step": {"id": "each", "type": "WAIT", "config": {"duration": 1}}}`),
			input: map[string]any{"v": []any{1}}, wantCode: sdk.CodeInvalidConfig, wantMsg: "items must be an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, tt.doc, tt.input)
			requireFailed(t, exec, tt.wantCode)
			require.Contains(t, step(t, exec, "loop").Error.Message, tt.wantMsg)
		})
	}
}

func TestForEachItemLimit(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{steps: steps.Options{MaxForEachItems: 3}})
	loop := forEachStep(`{"items": "{{input.items}}", "step": {"id": "each", "type": "DATA_TRANSFORM",
		"config": {"source": {"v": "{{item}}"}, "operations": [{"type": "set", "field": "ok", "value": true}]}}}`)
	tests := []struct {
		name     string
		items    []any
		wantCode string
	}{
		{name: "at the limit", items: []any{1, 2, 3}},
		{name: "over the limit", items: []any{1, 2, 3, 4}, wantCode: sdk.CodeInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, loop, map[string]any{"items": tt.items})
			if tt.wantCode == "" {
				requireCompleted(t, exec)
				require.Len(t, list(t, exec.Output), len(tt.items))
				return
			}
			requireFailed(t, exec, tt.wantCode)
			require.Contains(t, step(t, exec, "loop").Error.Message, "exceed the limit of 3")
			require.NotContains(t, exec.Steps, "each[0]", "no item ran")
		})
	}
}

func TestForEachCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	const each = `{"id": "each", "type": "WAIT", "config": {"duration": 1}}`
	tests := []struct {
		name string
		cfg  string
		want [][2]string
	}{
		{name: "missing items", cfg: `{"step": ` + each + `}`, want: [][2]string{{"steps[0].config.items", "is required"}}},
		{name: "items a number", cfg: `{"items": 5, "step": ` + each + `}`, want: [][2]string{{"steps[0].config.items", "got a number"}}},
		{name: "items an object", cfg: `{"items": {"a": 1}, "step": ` + each + `}`, want: [][2]string{{"steps[0].config.items", "must be an array"}}},
		{name: "items a plain string", cfg: `{"items": "a,b", "step": ` + each + `}`, want: [][2]string{{"steps[0].config.items", "must be an array or a {{…}} template"}}},
		{name: "missing step", cfg: `{"items": [1]}`, want: [][2]string{{"steps[0].config.step", "is required"}}},
		{name: "negative maxConcurrency", cfg: `{"items": [1], "maxConcurrency": -2, "step": ` + each + `}`, want: [][2]string{{"steps[0].config.maxConcurrency", "at least 1"}}},
		{name: "nested step config problem", cfg: `{"items": [1], "step": {"id": "each", "type": "WAIT", "config": {}}}`, want: [][2]string{{"steps[0].config.step.config", "give duration"}}},
		{name: "nested dependsOn", cfg: `{"items": [1], "step": {"id": "each", "type": "WAIT", "dependsOn": ["x"], "config": {"duration": 1}}}`, want: [][2]string{{"steps[0].config.step.dependsOn", "not allowed"}}},
		{name: "nested id duplicates the FOR_EACH", cfg: `{"items": [1], "step": {"id": "loop", "type": "WAIT", "config": {"duration": 1}}}`, want: [][2]string{{"steps[0].config.step.id", `duplicate step id "loop"`}}},
		{name: "broken items template", cfg: `{"items": "{{input.x", "step": ` + each + `}`, want: [][2]string{{"steps[0].config.items", "unclosed"}}},
		{name: "unknown field", cfg: `{"items": [1], "step": ` + each + `, "parallel": true}`, want: [][2]string{{"steps[0].config.parallel", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, forEachStep(tt.cfg))
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}
}
