package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// The original's orchestration requests: /api/orchestration/active lists
// the executions that have not finished, and /api/orchestration/active/{id}
// is one execution's status (a request id is an execution id).

// unfinished are the statuses of an execution still under way.
var unfinished = []core.Status{core.StatusPending, core.StatusRunning, core.StatusWaiting}

// statusRecord is an execution's status, without its input, output and
// steps (GET /api/v1/executions/{id}, its location, has them all).
type statusRecord struct {
	RequestID       string      `json:"requestId"`
	ExecutionID     string      `json:"executionId"`
	WorkflowID      string      `json:"workflowId,omitempty"`
	WorkflowName    string      `json:"workflowName"`
	WorkflowVersion int         `json:"workflowVersion,omitempty"`
	Status          core.Status `json:"status"`
	// Active is true while the execution is PENDING, RUNNING or WAITING.
	Active     bool       `json:"active"`
	Error      *sdk.Error `json:"error,omitempty"`
	FailedStep string     `json:"failedStep,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  time.Time  `json:"startedAt,omitzero"`
	FinishedAt time.Time  `json:"finishedAt,omitzero"`
	DurationMs int64      `json:"durationMs"`
	WakeAt     time.Time  `json:"wakeAt,omitzero"`
	// StepCounts (steps recorded so far, by status) and CurrentSteps (those
	// running or waiting now) are given for one execution, not in lists.
	StepCounts   map[core.Status]int `json:"stepCounts,omitempty"`
	CurrentSteps []string            `json:"currentSteps,omitempty"`
	Location     string              `json:"location"`
}

func newStatusRecord(x *core.Execution) statusRecord {
	return statusRecord{
		RequestID: x.ID, ExecutionID: x.ID, WorkflowID: x.WorkflowID, WorkflowName: x.WorkflowName,
		WorkflowVersion: x.WorkflowVersion, Status: x.Status, Active: slices.Contains(unfinished, x.Status),
		Error: x.Error, FailedStep: x.FailedStep, CreatedAt: x.CreatedAt, StartedAt: x.StartedAt,
		FinishedAt: x.FinishedAt, DurationMs: x.DurationMs, WakeAt: x.WakeAt, Location: "/api/v1/executions/" + x.ID,
	}
}

// listActive lists the executions that have not finished, newest first,
// paginated like /api/v1/executions (filters workflowId, status — one of
// PENDING, RUNNING, WAITING —, from, to; limit, cursor).
func (s *Server) listActive(w http.ResponseWriter, r *http.Request) error {
	f, err := executionFilter(r, unfinished, "the status of an active execution")
	if err != nil {
		return err
	}
	page, err := s.catalog.ListExecutions(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list active executions: %w", err)
	}
	out := core.Page[statusRecord]{Items: make([]statusRecord, 0, len(page.Items)), Next: page.Next}
	for _, x := range page.Items {
		out.Items = append(out.Items, newStatusRecord(x))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getActive is one execution's status record, finished or not.
func (s *Server) getActive(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("requestId")
	x, err := s.engine.Store().GetExecution(r.Context(), id)
	if errors.Is(err, core.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "request %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("get execution %s: %w", id, err)
	}
	rec := newStatusRecord(x)
	rec.StepCounts = map[core.Status]int{}
	for key, st := range x.Steps {
		rec.StepCounts[st.Status]++
		if st.Status == core.StatusRunning || st.Status == core.StatusWaiting {
			rec.CurrentSteps = append(rec.CurrentSteps, key)
		}
	}
	slices.Sort(rec.CurrentSteps)
	writeJSON(w, http.StatusOK, rec)
	return nil
}
