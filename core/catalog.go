package core

import (
	"errors"
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

// WorkflowFilter selects workflows to list. Zero fields select everything.
type WorkflowFilter struct {
	Status   WorkflowStatus
	Category string
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
