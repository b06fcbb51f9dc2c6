package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// WorkflowStatus is the lifecycle state of a workflow definition.
type WorkflowStatus string

// Workflow statuses, as in the original API.
const (
	WorkflowDraft     WorkflowStatus = "DRAFT"
	WorkflowActive    WorkflowStatus = "ACTIVE"
	WorkflowPaused    WorkflowStatus = "PAUSED"
	WorkflowCompleted WorkflowStatus = "COMPLETED"
	WorkflowFailed    WorkflowStatus = "FAILED"
	WorkflowCancelled WorkflowStatus = "CANCELLED"
)

// Workflow is a workflow definition: the JSON contract of docs/workflows.md.
// Durations are integers in milliseconds.
type Workflow struct {
	// ID is assigned by the store; definitions submitted for creation leave it empty.
	ID          string         `json:"id,omitempty" validate:"max=100"`
	Name        string         `json:"name" validate:"required,max=200"`
	Description string         `json:"description,omitempty" validate:"max=5000"`
	Category    string         `json:"category,omitempty" validate:"max=100"`
	Status      WorkflowStatus `json:"status,omitempty" validate:"omitempty,oneof=DRAFT ACTIVE PAUSED COMPLETED FAILED CANCELLED"`
	Version     int            `json:"version,omitempty" validate:"gte=0"`
	// Timeout bounds the whole execution, in milliseconds; 0 means no bound.
	Timeout   int64          `json:"timeout,omitempty" validate:"gte=0"`
	Variables map[string]any `json:"variables,omitempty"`
	Triggers  []Trigger      `json:"triggers,omitempty" validate:"dive"`
	Steps     []Step         `json:"steps" validate:"required,min=1,dive"`
	// ErrorHandler names a step that runs when the execution fails.
	ErrorHandler string `json:"errorHandler,omitempty"`
	// DefaultRetryPolicy applies to every step that has no retryPolicy of its own.
	DefaultRetryPolicy *RetryPolicy `json:"defaultRetryPolicy,omitempty"`
	// Output is rendered when the execution completes and becomes its output.
	// Without it, the output is that of the last step, or an object keyed by
	// step id when several steps end the workflow.
	Output   any            `json:"output,omitempty"`
	Tags     []string       `json:"tags,omitempty" validate:"max=50,dive,max=100"`
	Metadata map[string]any `json:"metadata,omitempty"`

	source *sourceMap // where paths are in the document it was parsed from
}

// Trigger starts executions of a workflow.
type Trigger struct {
	ID        string         `json:"id,omitempty"`
	Type      string         `json:"type" validate:"required,oneof=MANUAL EVENT CRON SCHEDULE WEBHOOK"`
	Config    map[string]any `json:"config,omitempty"`
	IsEnabled *bool          `json:"isEnabled,omitempty"`
}

// OnError values besides a fallback step id.
const (
	OnErrorFail     = "FAIL"
	OnErrorContinue = "CONTINUE"
)

// Step is one step of a workflow.
type Step struct {
	ID          string `json:"id" validate:"required,max=100,stepid"`
	Name        string `json:"name,omitempty" validate:"max=200"`
	Description string `json:"description,omitempty" validate:"max=5000"`
	// Type names a registered step type: HTTP_REQUEST, LUA, crm.upsert_contact …
	Type string `json:"type" validate:"required,max=100"`
	// Order places the step when it has no dependsOn; see the package docs.
	Order  int            `json:"order,omitempty" validate:"gte=0"`
	Config map[string]any `json:"config,omitempty"`
	// DependsOn lists the steps that must finish first. Absent: ordered by
	// order; present and empty: the step starts at once.
	DependsOn   []string     `json:"dependsOn" validate:"omitempty,dive,required"`
	RetryPolicy *RetryPolicy `json:"retryPolicy,omitempty"`
	// Timeout bounds each attempt, in milliseconds; 0 means the engine default.
	Timeout        int64       `json:"timeout,omitempty" validate:"gte=0"`
	CircuitBreaker *BreakerRef `json:"circuitBreaker,omitempty"`
	// OnError is FAIL (default), CONTINUE, or the id of a fallback step.
	OnError string `json:"onError,omitempty" validate:"max=100"`
	// Idempotent false makes the step at-most-once: after a crash it ends
	// INTERRUPTED instead of running again.
	Idempotent *bool          `json:"idempotent,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// HasDependsOn reports whether the step declares dependsOn (possibly empty:
// JSON [] decodes to an empty, non-nil slice).
func (s *Step) HasDependsOn() bool { return s.DependsOn != nil }

// Retry strategies.
const (
	RetryLinear      = "LINEAR"
	RetryExponential = "EXPONENTIAL"
	RetryFixed       = "FIXED"
	RetryNone        = "NONE"
)

// RetryPolicy says how often and how soon a failed step is tried again.
type RetryPolicy struct {
	Strategy string `json:"strategy,omitempty" validate:"omitempty,oneof=LINEAR EXPONENTIAL FIXED NONE"`
	// MaxAttempts counts the first attempt too; 0 means 3 (1 with NONE).
	MaxAttempts int `json:"maxAttempts,omitempty" validate:"gte=0,lte=100"`
	// InitialDelay in milliseconds; absent means 1000, 0 retries at once.
	InitialDelay *int64 `json:"initialDelay,omitempty" validate:"omitempty,gte=0"`
	// MaxDelay caps every delay, in milliseconds; 0 means no cap.
	MaxDelay int64 `json:"maxDelay,omitempty" validate:"gte=0"`
	// Multiplier for EXPONENTIAL; 0 means 2.
	Multiplier float64 `json:"multiplier,omitempty" validate:"gte=0,lte=100"`
	// Jitter randomises each delay by up to this fraction (0..1) either way.
	Jitter float64 `json:"jitter,omitempty" validate:"gte=0,lte=1"`
	// RetryableErrors lists the error codes worth retrying: TIMEOUT,
	// CONNECTION, HTTP_5XX, HTTP_429, HTTP_503, or a step's own codes. Empty:
	// whatever the error itself says is retryable.
	RetryableErrors []string `json:"retryableErrors,omitempty" validate:"dive,required,max=100"`
}

// BreakerRef names the circuit breaker that guards a step, and its default
// config. In JSON it is either a service id string or an object.
type BreakerRef struct {
	ServiceID        string `json:"serviceId" validate:"required,max=200"`
	Threshold        int    `json:"threshold,omitempty" validate:"gte=0,lte=1000000"`
	Timeout          int64  `json:"timeout,omitempty" validate:"gte=0,lte=31536000000"`
	HalfOpenMaxCalls int    `json:"halfOpenMaxCalls,omitempty" validate:"gte=0,lte=1000"`
}

// UnmarshalJSON accepts "service-id" or {"serviceId": …, …}.
func (b *BreakerRef) UnmarshalJSON(data []byte) error {
	var id string
	if err := json.Unmarshal(data, &id); err == nil {
		*b = BreakerRef{ServiceID: id}
		return nil
	}
	type plain BreakerRef
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("circuitBreaker must be a service id or {serviceId, threshold, timeout, halfOpenMaxCalls}: %w", err)
	}
	*b = BreakerRef(p)
	return nil
}

// Config returns the breaker config the reference asks for, defaults applied.
func (b BreakerRef) Config() BreakerConfig {
	c := BreakerConfig{Threshold: b.Threshold, Timeout: b.Timeout, HalfOpenMaxCalls: b.HalfOpenMaxCalls}
	return c.withDefaults()
}

// Millis converts a millisecond count from the workflow contract to a Duration.
func Millis(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// DefinitionHash identifies a definition's content: the same steps, config,
// variables and settings give the same hash, whatever the id, version and
// status (which change without making a new version).
func DefinitionHash(wf *Workflow) (string, error) {
	cp := *wf
	cp.ID, cp.Version, cp.Status = "", 0, ""
	cp.source = nil
	b, err := json.Marshal(&cp)
	if err != nil {
		return "", fmt.Errorf("hash definition: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
