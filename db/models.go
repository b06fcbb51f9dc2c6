package db

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	segjson "github.com/segmentio/encoding/json"
	"github.com/uptrace/bun"
)

// WorkflowStatus is the lifecycle state of a workflow definition.
type WorkflowStatus string

// Workflow statuses.
const (
	WorkflowDraft     WorkflowStatus = "DRAFT"
	WorkflowActive    WorkflowStatus = "ACTIVE"
	WorkflowPaused    WorkflowStatus = "PAUSED"
	WorkflowCompleted WorkflowStatus = "COMPLETED"
	WorkflowFailed    WorkflowStatus = "FAILED"
	WorkflowCancelled WorkflowStatus = "CANCELLED"
)

// ExecutionStatus is the status of an execution or a step.
type ExecutionStatus string

// Execution statuses (steps also SKIPPED and INTERRUPTED).
const (
	ExecutionPending     ExecutionStatus = "PENDING"
	ExecutionRunning     ExecutionStatus = "RUNNING"
	ExecutionWaiting     ExecutionStatus = "WAITING"
	ExecutionCompleted   ExecutionStatus = "COMPLETED"
	ExecutionFailed      ExecutionStatus = "FAILED"
	ExecutionCancelled   ExecutionStatus = "CANCELLED"
	ExecutionTimedOut    ExecutionStatus = "TIMED_OUT"
	ExecutionSkipped     ExecutionStatus = "SKIPPED"
	ExecutionInterrupted ExecutionStatus = "INTERRUPTED"
)

// HTTPMethod is the method of a webhook.
type HTTPMethod string

// HTTP methods.
const (
	MethodGet     HTTPMethod = "GET"
	MethodPost    HTTPMethod = "POST"
	MethodPut     HTTPMethod = "PUT"
	MethodPatch   HTTPMethod = "PATCH"
	MethodDelete  HTTPMethod = "DELETE"
	MethodHead    HTTPMethod = "HEAD"
	MethodOptions HTTPMethod = "OPTIONS"
)

// CircuitBreakerState is the state of a circuit breaker.
type CircuitBreakerState string

// Circuit breaker states.
const (
	BreakerClosed   CircuitBreakerState = "CLOSED"
	BreakerOpen     CircuitBreakerState = "OPEN"
	BreakerHalfOpen CircuitBreakerState = "HALF_OPEN"
)

// JSON is a JSON column: JSONB on PostgreSQL, TEXT on SQLite.
type JSON []byte

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSON(nil), v...)
	case string:
		*j = JSON(v)
	default:
		return fmt.Errorf("JSON column: cannot scan %T", src)
	}
	return nil
}

// encode encodes a record with segmentio/encoding/json: the same output as
// encoding/json (sorted keys, the same escapes, MarshalJSON honoured) at a
// third of the CPU and 2 allocations instead of ~20 for a step's output.
// Encoding is on the path of every checkpoint: with encoding/json it was
// ~10 % of an execution's CPU on SQLite (docs/performance.md).
func encode(v any) ([]byte, error) { return segjson.Marshal(v) }

// toJSON encodes v; nil stays NULL.
func toJSON(v any) (JSON, error) { return toJSONAs(v, encode) }

// recordJSON is toJSON for the data of an execution (inputs and outputs),
// with the keys of maps in no particular order: sorting them was 40 % of
// encoding an execution's records, which every checkpoint does, and
// nothing reads stored data but a decoder. What must encode the same every
// time (a workflow's hash) uses encode.
func recordJSON(v any) (JSON, error) {
	return toJSONAs(v, func(v any) ([]byte, error) {
		// Encoded into a pooled buffer, then copied at its size: appending
		// to a nil slice grew it a dozen times for a step's output, a
		// tenth of what the request path allocates.
		bp := encodeBuffers.Get().(*[]byte)
		defer encodeBuffers.Put(bp)
		b, err := segjson.Append((*bp)[:0], v, 0)
		if cap(b) <= maxPooledBuffer {
			*bp = b
		}
		if err != nil {
			return nil, err
		}
		return bytes.Clone(b), nil
	})
}

// encodeBuffers are recordJSON's; one that grew past maxPooledBuffer is
// not kept.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuffer = 64 << 10

func toJSONAs(v any, encode func(any) ([]byte, error)) (JSON, error) {
	if v == nil {
		return nil, nil
	}
	b, err := encode(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return storable(b), nil
}

// storable replaces the character NUL in encoded JSON (the escape \u0000,
// which encoding/json always uses for it) with U+FFFD. PostgreSQL's JSONB
// refuses NUL, so a step output holding one — a binary response body — could
// never be recorded, and its execution would stop and resume forever. The
// replacement is made on SQLite too, so that a record reads the same on
// both. An escaped backslash followed by "u0000" is text, and is kept.
func storable(b []byte) []byte {
	const nul = `\u0000`
	i := bytes.Index(b, []byte(nul))
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i >= 0 {
		// A real escape has an even number of backslashes before it.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		out = append(out, b[:i]...)
		if n%2 == 0 {
			out = append(out, `\ufffd`...)
		} else {
			out = append(out, nul...)
		}
		b = b[i+len(nul):]
		i = bytes.Index(b, []byte(nul))
	}
	return append(out, b...)
}

// fromJSON decodes a column into v; NULL leaves v alone.
func fromJSON(j JSON, v any) error {
	if len(j) == 0 {
		return nil
	}
	return json.Unmarshal(j, v)
}

// micros stores a time as microseconds since the epoch; zero is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros reads a time stored by micros.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// Workflow is a stored workflow: its current definition and version.
type Workflow struct {
	bun.BaseModel `bun:"table:workflows"`

	ID          string `bun:"id,pk"`
	Name        string
	Description string
	Category    string
	Status      WorkflowStatus
	Version     int
	Definition  JSON
	Tags        JSON
	CreatedAt   int64
	UpdatedAt   int64
	DeletedAt   int64
}

// WorkflowVersion is an immutable version of a workflow's definition.
type WorkflowVersion struct {
	bun.BaseModel `bun:"table:workflow_versions"`

	WorkflowID string `bun:"workflow_id,pk"`
	Version    int    `bun:"version,pk"`
	Definition JSON
	Hash       string
	CreatedAt  int64
}

// WorkflowExecution is one run of a workflow version.
type WorkflowExecution struct {
	bun.BaseModel `bun:"table:workflow_executions"`

	ID              string `bun:"id,pk"`
	WorkflowID      string
	WorkflowVersion int
	WorkflowName    string
	Status          ExecutionStatus
	Input           JSON
	Output          JSON
	Error           JSON
	FailedStep      string
	IdempotencyKey  *string
	CreatedAt       int64
	StartedAt       int64
	FinishedAt      int64
	DurationMs      int64
	WakeAt          int64
	LeaseOwner      string
	LeaseToken      int64
	LeaseUntil      int64
	UpdatedAt       int64
	// DueAt is when the execution may be claimed (see dueAt); it orders claims.
	DueAt int64
}

// StepExecution is one attempt of one step of an execution. A step that
// never ran (SKIPPED) has one row with attempt 0. The step_* columns and the
// result describe the step as a whole and are the same on all its rows.
type StepExecution struct {
	bun.BaseModel `bun:"table:step_executions"`

	ExecutionID    string `bun:"execution_id,pk"`
	StepKey        string `bun:"step_key,pk"`
	Attempt        int    `bun:"attempt,pk"`
	StepID         string
	StepType       string
	ParentKey      string
	ItemIndex      *int
	FallbackFor    string
	Status         ExecutionStatus
	StepStatus     ExecutionStatus
	Input          JSON
	Output         JSON
	Error          JSON
	StepError      JSON
	StepStartedAt  int64
	StepFinishedAt int64
	StepDurationMs int64
	StartedAt      int64
	FinishedAt     int64
	DurationMs     int64
	RetryDelayMs   int64
	WakeAt         int64
	// Result is the checkpointed outcome of a top-level step (a
	// core.StepResult), written with its final state: what later steps see
	// and which steps it skipped. NULL until the step is resolved.
	Result JSON
	// Logs is the attempt's core.Attempt.Logs; NULL when it logged nothing.
	Logs JSON
}

// CircuitBreaker is the shared state of one service's breaker.
type CircuitBreaker struct {
	bun.BaseModel `bun:"table:circuit_breakers"`

	ServiceID           string `bun:"service_id,pk"`
	State               CircuitBreakerState
	Config              JSON
	ConfigSource        string
	ConsecutiveFailures int
	HalfOpenCalls       int
	HalfOpenSuccesses   int
	OpenedAt            int64
	StateChangedAt      int64
	LastFailureAt       int64
	LastSuccessAt       int64
	TotalCalls          int64
	TotalSuccesses      int64
	TotalFailures       int64
	TotalRejections     int64
	Generation          int64
	UpdatedAt           int64
}

// Webhook is an outbound webhook registration.
type Webhook struct {
	bun.BaseModel `bun:"table:webhooks"`

	ID         string `bun:"id,pk"`
	WorkflowID string
	URL        string `bun:"url"`
	Method     HTTPMethod
	Events     JSON
	SecretName string
	IsActive   bool
	CreatedAt  int64
	UpdatedAt  int64
}

// WebhookEvent is one webhook delivery.
type WebhookEvent struct {
	bun.BaseModel `bun:"table:webhook_events"`

	ID             string `bun:"id,pk"`
	WebhookID      string
	ExecutionID    string
	StepKey        string
	EventType      string
	Payload        JSON
	Status         string
	ResponseStatus int
	Attempts       int
	Error          JSON
	CreatedAt      int64
	DeliveredAt    int64
}

// TransformationRule is a stored script usable as a transform or step.
type TransformationRule struct {
	bun.BaseModel `bun:"table:transformation_rules"`

	ID          string `bun:"id,pk"`
	Name        string
	Description string
	Language    string
	Source      string
	Config      JSON
	CreatedAt   int64
	UpdatedAt   int64
	// Version is the rule's revision, from 1.
	Version int
}

// OrchestrationMetrics aggregates the executions of a workflow per time bucket.
type OrchestrationMetrics struct {
	bun.BaseModel `bun:"table:orchestration_metrics"`

	WorkflowID      string `bun:"workflow_id,pk"`
	BucketStart     int64  `bun:"bucket_start,pk"`
	Executions      int64
	Completed       int64
	Failed          int64
	Cancelled       int64
	TimedOut        int64
	TotalDurationMs int64
	MaxDurationMs   int64
	UpdatedAt       int64
}

// WorkflowTemplate is a reusable workflow definition.
type WorkflowTemplate struct {
	bun.BaseModel `bun:"table:workflow_templates"`

	ID          string `bun:"id,pk"`
	Name        string
	Description string
	Category    string
	Definition  JSON
	CreatedAt   int64
	UpdatedAt   int64
}

// APIKey is an API key: its SHA-256 and a short prefix, never the key.
type APIKey struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID        string `bun:"id,pk"`
	Name      string
	Role      string
	Prefix    string
	Hash      string
	CreatedAt int64
	// RevokedAt is when the key was revoked; 0 while it is valid.
	RevokedAt int64
}
