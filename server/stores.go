package server

import (
	"context"
	"time"

	"github.com/weftworks/weft/core"
)

// Catalog is the workflow catalogue and the execution listing the server
// manages; db implements it.
type Catalog interface {
	// CreateWorkflow stores a new workflow (a new id, version 1) whatever its
	// name; its Status defaults to ACTIVE.
	CreateWorkflow(ctx context.Context, wf *core.Workflow) (*core.WorkflowInfo, error)
	// GetWorkflow returns the current version of a workflow that is not
	// deleted, or core.ErrNotFound.
	GetWorkflow(ctx context.Context, id string) (*core.WorkflowInfo, error)
	// ListWorkflows lists workflows that are not deleted, newest first.
	ListWorkflows(ctx context.Context, f core.WorkflowFilter) (core.Page[*core.WorkflowInfo], error)
	// UpdateWorkflow replaces a workflow's definition and status. A changed
	// definition becomes the next immutable version; running executions keep
	// theirs. ifVersion > 0 must be the current version, else
	// core.ErrConflict.
	UpdateWorkflow(ctx context.Context, id string, ifVersion int, wf *core.Workflow) (*core.WorkflowInfo, error)
	// ApplyWorkflow creates the workflow of the definition's name, or
	// updates the one workflow of that name (no new version when nothing
	// changed), atomically; several of the name are a
	// *core.AmbiguousNameError.
	ApplyWorkflow(ctx context.Context, wf *core.Workflow, opts core.ApplyOptions) (*core.ApplyResult, error)
	// DeleteWorkflow deletes a workflow (its versions and executions stay,
	// for the executions' sake), or returns core.ErrNotFound.
	DeleteWorkflow(ctx context.Context, id string) error
	// ListExecutions lists executions without their steps, newest first.
	ListExecutions(ctx context.Context, f core.ExecutionFilter) (core.Page[*core.Execution], error)
	// WorkflowMetrics summarises the executions of a workflow created in
	// [from, to) (zero bounds are open); see core.WorkflowMetrics. It does
	// not check that the workflow exists.
	WorkflowMetrics(ctx context.Context, workflowID string, from, to time.Time) (*core.WorkflowMetrics, error)
}

// Keys stores API keys; db implements it.
type Keys interface {
	// SaveKey stores a new key (ID, Hash and Prefix set).
	SaveKey(ctx context.Context, k core.APIKey) error
	// KeyByHash returns the key with that hash, revoked or not, or
	// core.ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (core.APIKey, error)
	// ListKeys lists every key, revoked ones too, oldest first.
	ListKeys(ctx context.Context) ([]core.APIKey, error)
	// RevokeKey revokes a key, or returns core.ErrNotFound.
	RevokeKey(ctx context.Context, id string) error
	// CountKeys counts the keys that are not revoked.
	CountKeys(ctx context.Context) (int, error)
}
