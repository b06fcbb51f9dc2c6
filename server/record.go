package server

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	segjson "github.com/segmentio/encoding/json"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// An execution's record is answered on every ?wait= and GET of an
// execution, so it is encoded here by hand rather than by reflection: the
// bytes are exactly what encoding/json writes for core.Execution (field
// order, omitempty, omitzero, sorted map keys, no HTML escaping; see
// TestRecordJSONIsEncodingJSONs and FuzzRecordJSON), and the values inside it
// (inputs, outputs, error details) are encoded by segmentio/encoding, whose
// output for decoded JSON values is encoding/json's. segmentio cannot encode
// the record itself: it ignores omitzero, and answered
// "wakeAt":"0001-01-01T00:00:00Z" for every execution that never waited.

// recordEncoder appends a record's JSON; the first error stops it (every
// append after it does nothing) and is its result.
type recordEncoder struct {
	b   []byte
	err error
}

func (e *recordEncoder) raw(s string) { e.b = append(e.b, s...) }

func (e *recordEncoder) str(name, s string) {
	e.raw(name)
	e.b = appendString(e.b, s)
}

// strOmitEmpty is str for a field tagged omitempty.
func (e *recordEncoder) strOmitEmpty(name, s string) {
	if s != "" {
		e.str(name, s)
	}
}

func (e *recordEncoder) int(name string, n int64) {
	e.raw(name)
	e.b = strconv.AppendInt(e.b, n, 10)
}

func (e *recordEncoder) value(name string, v any) {
	if e.err == nil {
		e.raw(name)
		e.b, e.err = appendValue(e.b, v)
	}
}

// time appends t as time.Time.MarshalJSON does, which fails for years it
// cannot write in RFC 3339.
func (e *recordEncoder) time(name string, t time.Time) {
	if e.err != nil {
		return
	}
	e.raw(name)
	if y := t.Year(); y < 0 || y > 9999 {
		var j []byte
		j, e.err = t.MarshalJSON()
		e.b = append(e.b, j...)
		return
	}
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, time.RFC3339Nano)
	e.b = append(e.b, '"')
}

// timeOmitZero is time for a field tagged omitzero.
func (e *recordEncoder) timeOmitZero(name string, t time.Time) {
	if !t.IsZero() {
		e.time(name, t)
	}
}

// error appends a field tagged omitempty that holds an *sdk.Error.
func (e *recordEncoder) error(name string, x *sdk.Error) {
	if x == nil {
		return
	}
	e.raw(name)
	e.str(`{"code":`, x.Code)
	e.str(`,"message":`, x.Message)
	e.raw(`,"retryable":`)
	e.b = strconv.AppendBool(e.b, x.Retryable)
	if x.Details != nil {
		e.value(`,"details":`, x.Details)
	}
	e.raw("}")
}

// appendExecution appends x's record as encoding/json would encode it.
func appendExecution(b []byte, x *core.Execution) ([]byte, error) {
	if x == nil {
		return append(b, "null"...), nil
	}
	e := &recordEncoder{b: b}
	e.str(`{"id":`, x.ID)
	e.strOmitEmpty(`,"workflowId":`, x.WorkflowID)
	e.str(`,"workflowName":`, x.WorkflowName)
	if x.WorkflowVersion != 0 {
		e.int(`,"workflowVersion":`, int64(x.WorkflowVersion))
	}
	e.str(`,"status":`, string(x.Status))
	e.value(`,"input":`, x.Input)
	e.value(`,"output":`, x.Output)
	e.error(`,"error":`, x.Error)
	e.strOmitEmpty(`,"failedStep":`, x.FailedStep)
	e.time(`,"createdAt":`, x.CreatedAt)
	e.timeOmitZero(`,"startedAt":`, x.StartedAt)
	e.timeOmitZero(`,"finishedAt":`, x.FinishedAt)
	e.int(`,"durationMs":`, x.DurationMs)
	e.timeOmitZero(`,"wakeAt":`, x.WakeAt)
	e.strOmitEmpty(`,"idempotencyKey":`, x.IdempotencyKey)
	if x.Steps == nil {
		e.raw(`,"steps":null}`)
		return e.b, e.err
	}
	keys := make([]string, 0, len(x.Steps))
	for k := range x.Steps {
		keys = append(keys, k)
	}
	slices.Sort(keys) // encoding/json sorts map keys as strings too
	e.raw(`,"steps":{`)
	for i, k := range keys {
		if i > 0 {
			e.raw(",")
		}
		e.str("", k)
		e.raw(":")
		e.step(x.Steps[k])
	}
	e.raw("}}")
	return e.b, e.err
}

func (e *recordEncoder) step(st *core.StepState) {
	if st == nil {
		e.raw("null")
		return
	}
	e.str(`{"id":`, st.ID)
	e.str(`,"type":`, st.Type)
	e.str(`,"status":`, string(st.Status))
	e.strOmitEmpty(`,"parent":`, st.Parent)
	if st.Index != nil {
		e.int(`,"index":`, int64(*st.Index))
	}
	e.int(`,"attempts":`, int64(st.Attempts))
	if st.Input != nil {
		e.value(`,"input":`, st.Input)
	}
	e.value(`,"output":`, st.Output)
	e.error(`,"error":`, st.Error)
	e.timeOmitZero(`,"startedAt":`, st.StartedAt)
	e.timeOmitZero(`,"finishedAt":`, st.FinishedAt)
	e.int(`,"durationMs":`, st.DurationMs)
	e.strOmitEmpty(`,"fallbackFor":`, st.FallbackFor)
	e.timeOmitZero(`,"wakeAt":`, st.WakeAt)
	if st.History == nil {
		e.raw(`,"history":null}`)
		return
	}
	e.raw(`,"history":[`)
	for i := range st.History {
		if i > 0 {
			e.raw(",")
		}
		e.attempt(&st.History[i])
	}
	e.raw("]}")
}

func (e *recordEncoder) attempt(a *core.Attempt) {
	e.int(`{"attempt":`, int64(a.Attempt))
	e.str(`,"status":`, string(a.Status))
	e.error(`,"error":`, a.Error)
	e.time(`,"startedAt":`, a.StartedAt)
	e.timeOmitZero(`,"finishedAt":`, a.FinishedAt)
	e.int(`,"durationMs":`, a.DurationMs)
	if a.RetryDelayMs != 0 {
		e.int(`,"retryDelayMs":`, a.RetryDelayMs)
	}
	if len(a.Logs) > 0 {
		e.raw(`,"logs":[`)
		for i, l := range a.Logs {
			if i > 0 {
				e.raw(",")
			}
			e.str("", l)
		}
		e.raw("]")
	}
	e.raw("}")
}

// appendOutputView appends the ?view=output answer.
func appendOutputView(b []byte, x *core.Execution) ([]byte, error) {
	e := &recordEncoder{b: b}
	e.str(`{"executionId":`, x.ID)
	e.str(`,"status":`, string(x.Status))
	e.value(`,"output":`, x.Output)
	e.error(`,"error":`, x.Error)
	e.raw("}")
	return e.b, e.err
}

// appendValue appends a value of a record: what JSON decoding or a step
// produced, encoded as encoding/json would (maps sorted, MarshalJSON
// honoured, no HTML escaping).
func appendValue(b []byte, v any) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	return segjson.Append(b, v, segjson.SortMapKeys)
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping off.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			// The rare string that needs escaping, or is not ASCII (U+2028,
			// U+2029 and invalid UTF-8 are escaped too): the library's way.
			out, _ := segjson.Append(b, s, 0)
			return out
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
