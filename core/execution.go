package core

import (
	"maps"
	"slices"
	"time"

	"github.com/weftworks/weft/sdk"
)

// Status is the status of an execution or of a step.
type Status string

// Execution and step statuses. SKIPPED and INTERRUPTED apply to steps only.
const (
	StatusPending     Status = "PENDING"
	StatusRunning     Status = "RUNNING"
	StatusWaiting     Status = "WAITING"
	StatusCompleted   Status = "COMPLETED"
	StatusFailed      Status = "FAILED"
	StatusCancelled   Status = "CANCELLED"
	StatusTimedOut    Status = "TIMED_OUT"
	StatusSkipped     Status = "SKIPPED"
	StatusInterrupted Status = "INTERRUPTED"
)

// Terminal reports whether the status is final.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusCancelled, StatusTimedOut, StatusSkipped, StatusInterrupted:
		return true
	}
	return false
}

// Execution is the record of one run of a workflow.
type Execution struct {
	ID              string     `json:"id"`
	WorkflowID      string     `json:"workflowId,omitempty"`
	WorkflowName    string     `json:"workflowName"`
	WorkflowVersion int        `json:"workflowVersion,omitempty"`
	Status          Status     `json:"status"`
	Input           any        `json:"input"`
	Output          any        `json:"output"`
	Error           *sdk.Error `json:"error,omitempty"`
	// FailedStep is the step whose failure failed the execution.
	FailedStep string    `json:"failedStep,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	DurationMs int64     `json:"durationMs"`
	// WakeAt is when a WAITING execution, parked in the store, runs again.
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// IdempotencyKey, when set, identifies the execution among those of its
	// workflow: submitting the same key again returns this execution.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Steps is keyed by step id; FOR_EACH iterations appear as id[index].
	Steps map[string]*StepState `json:"steps"`
}

// StepState is the record of one step in an execution, with every attempt.
type StepState struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status Status `json:"status"`
	// Parent is the PARALLEL or FOR_EACH step a nested step runs in.
	Parent string `json:"parent,omitempty"`
	// Index is the FOR_EACH item index of an iteration.
	Index      *int       `json:"index,omitempty"`
	Attempts   int        `json:"attempts"`
	Input      any        `json:"input,omitempty"`
	Output     any        `json:"output"`
	Error      *sdk.Error `json:"error,omitempty"`
	StartedAt  time.Time  `json:"startedAt,omitzero"`
	FinishedAt time.Time  `json:"finishedAt,omitzero"`
	DurationMs int64      `json:"durationMs"`
	// FallbackFor names the step whose failure this fallback step replaced.
	FallbackFor string `json:"fallbackFor,omitempty"`
	// WakeAt is when a WAITING step's wait ends.
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// History has one entry per attempt, oldest first.
	History []Attempt `json:"history"`
}

// Attempt is the record of one attempt of a step.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Status     Status     `json:"status"`
	Error      *sdk.Error `json:"error,omitempty"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt time.Time  `json:"finishedAt,omitzero"`
	DurationMs int64      `json:"durationMs"`
	// RetryDelayMs is the wait before the next attempt, when there is one.
	RetryDelayMs int64 `json:"retryDelayMs,omitempty"`
	// Logs are the lines the step logged during the attempt (a LUA script's
	// log(...)), secrets redacted; see StepRun.Log for the caps.
	Logs []string `json:"logs,omitempty"`
}

// Clone returns a copy of the execution that shares nothing mutable with it.
func (x *Execution) Clone() *Execution {
	if x == nil {
		return nil
	}
	cp := *x
	cp.Steps = make(map[string]*StepState, len(x.Steps))
	for k, s := range x.Steps {
		cp.Steps[k] = s.Clone()
	}
	return &cp
}

// Clone returns a copy of the step state that shares nothing mutable with it.
func (s *StepState) Clone() *StepState {
	if s == nil {
		return nil
	}
	cp := *s
	cp.History = slices.Clone(s.History)
	return &cp
}

// StepIDs returns the ids of the recorded steps, sorted.
func (x *Execution) StepIDs() []string {
	return slices.Sorted(maps.Keys(x.Steps))
}
