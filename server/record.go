package server

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
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

// recordBuffers hold encoded answers; one that grew past maxPooledAnswer
// is not kept.
var recordBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const maxPooledAnswer = 256 << 10

// writeEncoded answers status with the JSON that encode appends, sent with
// its length in one piece. A value that cannot be encoded (a NaN in an
// output) is an internal error, returned before anything was written.
func writeEncoded(w http.ResponseWriter, status int, encode func([]byte) ([]byte, error)) error {
	bp := recordBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledAnswer {
			recordBuffers.Put(bp)
		}
	}()
	b, err := encode((*bp)[:0])
	if err != nil {
		return err
	}
	b = append(b, '\n') // as json.Encoder ends every value
	*bp = b
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// appendExecution appends x's record as encoding/json would encode it.
func appendExecution(b []byte, x *core.Execution) ([]byte, error) {
	if x == nil {
		return append(b, "null"...), nil
	}
	var err error
	b = append(b, `{"id":`...)
	b = appendString(b, x.ID)
	if x.WorkflowID != "" {
		b = append(b, `,"workflowId":`...)
		b = appendString(b, x.WorkflowID)
	}
	b = append(b, `,"workflowName":`...)
	b = appendString(b, x.WorkflowName)
	if x.WorkflowVersion != 0 {
		b = append(b, `,"workflowVersion":`...)
		b = strconv.AppendInt(b, int64(x.WorkflowVersion), 10)
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(x.Status))
	b = append(b, `,"input":`...)
	if b, err = appendValue(b, x.Input); err != nil {
		return b, err
	}
	b = append(b, `,"output":`...)
	if b, err = appendValue(b, x.Output); err != nil {
		return b, err
	}
	if x.Error != nil {
		b = append(b, `,"error":`...)
		if b, err = appendError(b, x.Error); err != nil {
			return b, err
		}
	}
	if x.FailedStep != "" {
		b = append(b, `,"failedStep":`...)
		b = appendString(b, x.FailedStep)
	}
	b = append(b, `,"createdAt":`...)
	if b, err = appendTime(b, x.CreatedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"startedAt":`, x.StartedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"finishedAt":`, x.FinishedAt); err != nil {
		return b, err
	}
	b = append(b, `,"durationMs":`...)
	b = strconv.AppendInt(b, x.DurationMs, 10)
	if b, err = appendTimeField(b, `,"wakeAt":`, x.WakeAt); err != nil {
		return b, err
	}
	if x.IdempotencyKey != "" {
		b = append(b, `,"idempotencyKey":`...)
		b = appendString(b, x.IdempotencyKey)
	}
	b = append(b, `,"steps":`...)
	if x.Steps == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(x.Steps))
		for k := range x.Steps {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys as strings too
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = appendStep(b, x.Steps[k]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func appendStep(b []byte, st *core.StepState) ([]byte, error) {
	if st == nil {
		return append(b, "null"...), nil
	}
	var err error
	b = append(b, `{"id":`...)
	b = appendString(b, st.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, st.Type)
	b = append(b, `,"status":`...)
	b = appendString(b, string(st.Status))
	if st.Parent != "" {
		b = append(b, `,"parent":`...)
		b = appendString(b, st.Parent)
	}
	if st.Index != nil {
		b = append(b, `,"index":`...)
		b = strconv.AppendInt(b, int64(*st.Index), 10)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(st.Attempts), 10)
	if st.Input != nil {
		b = append(b, `,"input":`...)
		if b, err = appendValue(b, st.Input); err != nil {
			return b, err
		}
	}
	b = append(b, `,"output":`...)
	if b, err = appendValue(b, st.Output); err != nil {
		return b, err
	}
	if st.Error != nil {
		b = append(b, `,"error":`...)
		if b, err = appendError(b, st.Error); err != nil {
			return b, err
		}
	}
	if b, err = appendTimeField(b, `,"startedAt":`, st.StartedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"finishedAt":`, st.FinishedAt); err != nil {
		return b, err
	}
	b = append(b, `,"durationMs":`...)
	b = strconv.AppendInt(b, st.DurationMs, 10)
	if st.FallbackFor != "" {
		b = append(b, `,"fallbackFor":`...)
		b = appendString(b, st.FallbackFor)
	}
	if b, err = appendTimeField(b, `,"wakeAt":`, st.WakeAt); err != nil {
		return b, err
	}
	b = append(b, `,"history":`...)
	if st.History == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range st.History {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendAttempt(b, &st.History[i]); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

func appendAttempt(b []byte, a *core.Attempt) ([]byte, error) {
	var err error
	b = append(b, `{"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, string(a.Status))
	if a.Error != nil {
		b = append(b, `,"error":`...)
		if b, err = appendError(b, a.Error); err != nil {
			return b, err
		}
	}
	b = append(b, `,"startedAt":`...)
	if b, err = appendTime(b, a.StartedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeField(b, `,"finishedAt":`, a.FinishedAt); err != nil {
		return b, err
	}
	b = append(b, `,"durationMs":`...)
	b = strconv.AppendInt(b, a.DurationMs, 10)
	if a.RetryDelayMs != 0 {
		b = append(b, `,"retryDelayMs":`...)
		b = strconv.AppendInt(b, a.RetryDelayMs, 10)
	}
	if len(a.Logs) > 0 {
		b = append(b, `,"logs":[`...)
		for i, l := range a.Logs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, l)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

func appendError(b []byte, e *sdk.Error) ([]byte, error) {
	var err error
	b = append(b, `{"code":`...)
	b = appendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"retryable":`...)
	b = strconv.AppendBool(b, e.Retryable)
	if e.Details != nil {
		b = append(b, `,"details":`...)
		if b, err = appendValue(b, e.Details); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendOutputView appends the ?view=output answer.
func appendOutputView(b []byte, x *core.Execution) ([]byte, error) {
	var err error
	b = append(b, `{"executionId":`...)
	b = appendString(b, x.ID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(x.Status))
	b = append(b, `,"output":`...)
	if b, err = appendValue(b, x.Output); err != nil {
		return b, err
	}
	if x.Error != nil {
		b = append(b, `,"error":`...)
		if b, err = appendError(b, x.Error); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
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

func appendTimeField(b []byte, name string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	b = append(b, name...)
	return appendTime(b, t)
}

// appendTime appends t as time.Time.MarshalJSON does, which fails for
// years it cannot write in RFC 3339.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		j, err := t.MarshalJSON()
		return append(b, j...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
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
