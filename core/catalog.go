package core

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The catalog: the records a server lists and manages besides the engine's
// own (workflows people create and edit, API keys). The server defines the
// interfaces it consumes; these are the types they share with db.

// ErrConflict is returned by an update made against a version that is no
// longer the current one (optimistic concurrency: If-Match).
var ErrConflict = errors.New("conflict: the record changed since that version")

// ErrBadCursor is returned by a list call given a cursor it did not issue.
var ErrBadCursor = errors.New("invalid cursor")

// WorkflowInfo is a stored workflow: its current definition (ID, Version and
// Status set) and its bookkeeping. Its JSON is the definition's fields plus
// createdAt and updatedAt, as the original API returned them.
type WorkflowInfo struct {
	*Workflow
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// KeepStatus keeps an existing workflow's status (a restart's --load
	// does not undo an operator's pause); a new one takes the definition's.
	KeepStatus bool
}

// What an apply did.
const (
	ApplyCreated   = "created"
	ApplyUpdated   = "updated"
	ApplyUnchanged = "unchanged"
)

// ApplyResult is what applying a definition did: created the workflow of
// its name, updated it to a new version, or left it unchanged.
type ApplyResult struct {
	Action          string        `json:"action"`
	PreviousVersion int           `json:"previousVersion,omitempty"`
	Workflow        *WorkflowInfo `json:"workflow"`
}

// AmbiguousNameError is an apply by a name several workflows have (made by
// create, which does not look at names). It is an ErrConflict.
type AmbiguousNameError struct {
	Name string
	IDs  []string
}

func (e *AmbiguousNameError) Error() string {
	return fmt.Sprintf("%d workflows are named %q (%s): delete all but one (weft workflows delete ID)", len(e.IDs), e.Name, strings.Join(e.IDs, ", "))
}

// Unwrap makes it an ErrConflict.
func (e *AmbiguousNameError) Unwrap() error { return ErrConflict }

// WorkflowFilter selects workflows to list. Zero fields select everything.
type WorkflowFilter struct {
	Status   WorkflowStatus
	Category string
	// Name selects the workflows of exactly this name (weft workflows apply
	// finds the one it updates by name).
	Name string
	// Limit bounds the page (the store applies a default and a maximum).
	Limit int
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
}

// ExecutionFilter selects executions to list, newest first. Zero fields
// select everything.
type ExecutionFilter struct {
	WorkflowID string
	Status     Status
	// Statuses, when not empty, selects executions in any of these statuses
	// (and in Status too, when it is set).
	Statuses []Status
	// From and To bound the creation time: From <= createdAt < To.
	From, To time.Time
	Limit    int
	Cursor   string
}

// Page is one page of a listing. Next, when not empty, is the cursor of the
// following page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"nextCursor,omitempty"`
}

// MetricsSampleLimit bounds the executions a workflow's duration percentiles
// and step counts are computed from: the most recent finished executions of
// the window, at most this many. Counts by status, the success rate and the
// average duration cover the whole window.
const MetricsSampleLimit = 10000

// WorkflowMetrics summarises the executions of a workflow created in a
// window (From <= createdAt < To; zero bounds are open). Figures that need
// finished executions are nil (JSON null) when there are none.
type WorkflowMetrics struct {
	WorkflowID string    `json:"workflowId"`
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	// TotalExecutions counts the executions of the window; ByStatus splits
	// them by status (every execution status is present, 0 or not).
	TotalExecutions int64            `json:"totalExecutions"`
	ByStatus        map[Status]int64 `json:"byStatus"`
	// Finished counts COMPLETED, FAILED, CANCELLED and TIMED_OUT ones.
	Finished int64 `json:"finished"`
	// SuccessRate is COMPLETED / Finished, from 0 to 1.
	SuccessRate *float64 `json:"successRate"`
	// Durations of finished executions, in ms: the average and the maximum
	// over the window, the percentiles (nearest rank) over the sample.
	AvgDurationMs *float64 `json:"avgDurationMs"`
	MaxDurationMs *int64   `json:"maxDurationMs"`
	P50DurationMs *int64   `json:"p50DurationMs"`
	P95DurationMs *int64   `json:"p95DurationMs"`
	// LastExecutionAt is when the newest execution of the window was created.
	LastExecutionAt time.Time `json:"lastExecutionAt,omitzero"`
	// SampleSize is the number of finished executions the percentiles and
	// Steps are computed from: the most recent ones, at most
	// MetricsSampleLimit.
	SampleSize int `json:"sampleSize"`
	// Steps has one entry per step id of the workflow that ran in the sample
	// (FOR_EACH items and steps nested in them counted under their own id),
	// sorted by id.
	Steps []StepMetrics `json:"steps"`
}

// StepMetrics counts one step's runs and attempts over a metrics sample.
type StepMetrics struct {
	StepID string `json:"stepId"`
	Type   string `json:"type"`
	// Runs counts the times the step ran (each FOR_EACH item is a run);
	// Completed, Failed (FAILED, TIMED_OUT, INTERRUPTED, CANCELLED) and Skipped
	// count how its runs, and the times it was skipped, ended.
	Runs      int64 `json:"runs"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
	// Attempts counts every attempt; Retries those after a run's first;
	// FailedAttempts those that failed (retried or not).
	Attempts       int64 `json:"attempts"`
	Retries        int64 `json:"retries"`
	FailedAttempts int64 `json:"failedAttempts"`
	// AvgDurationMs is the average duration of a run, retries included.
	AvgDurationMs *float64 `json:"avgDurationMs"`
}

// APIKey is an API key as stored: never the key itself, only its SHA-256
// (keys are 256-bit random, so a slow hash adds nothing) and a short prefix
// that lets people tell their keys apart.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Prefix    string    `json:"prefix"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}
