package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// stdJSON is what encoding/json writes for v, as the server configures it.
func stdJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// outputView is the ?view=output answer's shape, for encoding/json.
type outputView struct {
	ExecutionID string      `json:"executionId"`
	Status      core.Status `json:"status"`
	Output      any         `json:"output"`
	Error       *sdk.Error  `json:"error,omitempty"`
}

func requireSameAsEncodingJSON(t testing.TB, x *core.Execution) {
	t.Helper()
	got, err := appendExecution(nil, x)
	require.NoError(t, err)
	require.Equal(t, string(stdJSON(t, x)), string(got))
	if x == nil {
		return
	}
	got, err = appendOutputView(nil, x)
	require.NoError(t, err)
	require.Equal(t, string(stdJSON(t, outputView{x.ID, x.Status, x.Output, x.Error})), string(got))
}

// TestRecordJSONIsEncodingJSONs: the hand-written encoder of the record
// writes, byte for byte, what encoding/json writes: field order, omitempty,
// omitzero, escapes, sorted keys, values that marshal themselves.
func TestRecordJSONIsEncodingJSONs(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 23, 51, 39, 658905466, time.UTC)
	one := 1
	zero := 0
	full := &core.Execution{
		ID: "01a252eb", WorkflowID: "wf-1", WorkflowName: "lead \"routing\" <b>&</b>\n\u2028é", WorkflowVersion: 3,
		Status:     core.StatusFailed,
		Input:      map[string]any{"leadId": "42", "n": 1.5e-7, "big": 1e21, "list": []any{true, nil, "x", map[string]any{}}},
		Output:     map[string]any{"z": 1.0, "a": json.RawMessage(`{"raw":true}`), "when": t0},
		Error:      &sdk.Error{Code: "HTTP_503", Message: "down\tnow", Retryable: true, Details: []any{"a"}},
		FailedStep: "get", CreatedAt: t0, StartedAt: t0.Add(time.Millisecond), FinishedAt: t0.Add(time.Second),
		DurationMs: 1000, WakeAt: t0.In(time.FixedZone("x", 3600)), IdempotencyKey: "k\x00\x7f\xff",
		Steps: map[string]*core.StepState{
			"b": {ID: "b", Type: "HTTP_REQUEST", Status: core.StatusCompleted, Parent: "fan", Index: &one, Attempts: 2,
				Input: map[string]any{}, Output: []any{}, Error: &sdk.Error{Code: "X"}, StartedAt: t0, FinishedAt: t0,
				DurationMs: 3, FallbackFor: "a", WakeAt: t0,
				History: []core.Attempt{
					{Attempt: 1, Status: core.StatusFailed, Error: &sdk.Error{Code: "TIMEOUT", Details: map[string]any{}}, StartedAt: t0, FinishedAt: t0, DurationMs: 1, RetryDelayMs: 250, Logs: []string{"one", "tw\"o"}},
					{Attempt: 2, Status: core.StatusCompleted, StartedAt: t0, Logs: []string{}},
				}},
			"a":   {ID: "a", Type: "WAIT", Status: core.StatusPending, Index: &zero, History: []core.Attempt{}},
			"nil": nil,
			"日本":  {ID: "日本", Output: "text"},
		},
	}
	for name, x := range map[string]*core.Execution{
		"nil":         nil,
		"zero":        {},
		"empty steps": {ID: "x", Steps: map[string]*core.StepState{}},
		"full":        full,
		"values":      {ID: "v", Input: "s", Output: math.MaxInt64, Error: &sdk.Error{}},
	} {
		t.Run(name, func(t *testing.T) { requireSameAsEncodingJSON(t, x) })
	}
}

// A value encoding/json refuses (NaN) is an error here too, not a record
// cut short.
func TestRecordJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	x := &core.Execution{ID: "x", Output: map[string]any{"v": math.NaN()}}
	_, err := json.Marshal(x)
	require.Error(t, err)
	_, err = appendExecution(nil, x)
	require.Error(t, err)
}

// FuzzRecordJSON: any strings, numbers and decoded values in a record
// encode as encoding/json encodes them.
func FuzzRecordJSON(f *testing.F) {
	f.Add("id", "name", `{"a":[1,2.5,"x"]}`, int64(3), "step", "\u2028<>&\"\\")
	f.Add("", "\xff\xfe", `null`, int64(-1), "\x00", "é")
	f.Fuzz(func(t *testing.T, id, name, value string, n int64, step, log string) {
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			v = value
		}
		t0 := time.Unix(0, n).UTC()
		x := &core.Execution{ID: id, WorkflowName: name, WorkflowVersion: int(n % 1000), Status: core.Status(step),
			Input: v, Output: map[string]any{name: v, step: n}, CreatedAt: t0, WakeAt: time.Unix(n, 0),
			DurationMs: n, Error: &sdk.Error{Code: step, Message: log, Details: v},
			Steps: map[string]*core.StepState{step: {ID: step, Type: name, Input: v, Output: v, StartedAt: t0,
				History: []core.Attempt{{Attempt: int(n), Status: core.Status(log), StartedAt: t0, Logs: []string{log, name}}}}}}
		requireSameAsEncodingJSON(t, x)
	})
}

// BenchmarkRecordJSON encodes the record make bench-e2e's workflow answers
// (testdata/bench-record.json).
func BenchmarkRecordJSON(b *testing.B) {
	data, err := os.ReadFile("testdata/bench-record.json")
	require.NoError(b, err)
	var x core.Execution
	require.NoError(b, json.Unmarshal(data, &x))
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendExecution(buf[:0], &x)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = stdJSON(b, &x)
		}
	})
}

// Answers go out whole, with their length; one that cannot be encoded is a
// 500 with a JSON error, not a 200 cut short.
func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusCreated, map[string]any{"at": time.Time{}, "s": "<&>"})
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "{\"at\":\"0001-01-01T00:00:00Z\",\"s\":\"<&>\"}\n", rec.Body.String())
	require.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))

	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]any{"v": math.NaN()})
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.JSONEq(t, `{"error":{"code":"INTERNAL","message":"the answer could not be encoded"}}`, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
}
