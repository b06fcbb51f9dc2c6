package server

import (
	"fmt"
	"net/http"
)

// workflowMetrics summarises a workflow's executions, optionally those
// created in a window (?from=, ?to=: RFC 3339 or Unix milliseconds):
// counts by status, success rate, durations, last execution, per-step
// counts. See core.WorkflowMetrics for what each figure covers.
func (s *Server) workflowMetrics(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "from", "to"); err != nil {
		return err
	}
	from, err := timeParam(q, "from")
	if err != nil {
		return err
	}
	to, err := timeParam(q, "to")
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return badParam("from", "must be before to")
	}
	info, err := s.workflow(r)
	if err != nil {
		return err
	}
	m, err := s.catalog.WorkflowMetrics(r.Context(), info.ID, from, to)
	if err != nil {
		return fmt.Errorf("metrics of workflow %s: %w", info.ID, err)
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
