package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// readDocument reads a workflow document (JSON or YAML) from the body and
// validates it: every problem comes back at once, with its path, line and
// column.
func (s *Server) readDocument(r *http.Request) (*core.Workflow, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	wf, err := s.engine.ValidateDocument(r.Context(), blankReadOnly(data))
	if err != nil {
		return nil, err
	}
	// The store assigns ids and versions.
	wf.ID, wf.Version = "", 0
	return wf, nil
}

func (s *Server) createWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.readDocument(r)
	if err != nil {
		return err
	}
	info, err := s.catalog.CreateWorkflow(r.Context(), wf)
	if err != nil {
		return fmt.Errorf("create workflow: %w", err)
	}
	w.Header().Set("Location", "/api/v1/workflows/"+info.ID)
	w.Header().Set("ETag", etag(info.Version))
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	info, err := s.workflow(r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(info.Version))
	writeJSON(w, http.StatusOK, info)
	return nil
}

// workflow loads the workflow named by the path.
func (s *Server) workflow(r *http.Request) (*core.WorkflowInfo, error) {
	id := r.PathValue("id")
	info, err := s.catalog.GetWorkflow(r.Context(), id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "workflow %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %s: %w", id, err)
	}
	return info, nil
}

// runnable is workflow for execute, which runs on every request: it reads
// the catalog at most once per lookupTTL per workflow.
func (s *Server) runnable(r *http.Request) (*core.WorkflowInfo, error) {
	if info, ok := s.wfCache.get(r.PathValue("id")); ok {
		return info, nil
	}
	info, err := s.workflow(r)
	if err == nil {
		s.wfCache.put(info.ID, info)
	}
	return info, err
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "status", "category", "name", "limit", "cursor"); err != nil {
		return err
	}
	f := core.WorkflowFilter{Category: q.Get("category"), Name: q.Get("name"), Cursor: q.Get("cursor")}
	if q.Has("name") && strings.TrimSpace(f.Name) == "" {
		// An empty name would select every workflow: a script's unset
		// variable must not become "all of them".
		return badParam("name", "is empty: give the workflow's name, or leave the parameter out")
	}
	if len(f.Name) > 200 {
		return badParam("name", "at most 200 characters, as a workflow's name")
	}
	if st := q.Get("status"); st != "" {
		f.Status = core.WorkflowStatus(strings.ToUpper(st))
		switch f.Status {
		case core.WorkflowDraft, core.WorkflowActive, core.WorkflowPaused, core.WorkflowCompleted, core.WorkflowFailed, core.WorkflowCancelled:
		default:
			return badParam("status", "%q is not a workflow status (DRAFT, ACTIVE, PAUSED, COMPLETED, FAILED, CANCELLED)", st)
		}
	}
	var err error
	if f.Limit, err = limitParam(q.Get("limit")); err != nil {
		return err
	}
	page, err := s.catalog.ListWorkflows(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) updateWorkflow(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ifVersion, err := ifMatch(r)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	// A workflow as GET answers it may come back whole (read, change, write).
	wf, err := s.engine.ValidateDocument(r.Context(), blankReadOnly(data))
	if err != nil {
		return err
	}
	if ifVersion == 0 {
		ifVersion = wf.Version // a version in the body is an If-Match too
	}
	wf.ID, wf.Version = "", 0
	info, err := s.catalog.UpdateWorkflow(r.Context(), id, ifVersion, wf)
	s.wfCache.drop(id)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "workflow %q not found", id)
	case errors.Is(err, core.ErrConflict):
		return errorf(http.StatusConflict, CodeConflict, "workflow %q is no longer at version %d: fetch it again and reapply your change", id, ifVersion)
	case err != nil:
		return fmt.Errorf("update workflow %s: %w", id, err)
	}
	if info.Status == core.WorkflowActive {
		s.engine.Wake(r.Context()) // it may have been PAUSED, with executions queued
	}
	w.Header().Set("ETag", etag(info.Version))
	writeJSON(w, http.StatusOK, info)
	return nil
}

// applyWorkflow creates the workflow of the definition's name, or updates
// the one workflow of that name to it: 201 with what it did when created,
// 200 when updated (a new version) or unchanged (none). Applies of one name
// never make two workflows, whichever instances serve them.
func (s *Server) applyWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.readDocument(r)
	if err != nil {
		return err
	}
	res, err := s.catalog.ApplyWorkflow(r.Context(), wf, core.ApplyOptions{})
	if res != nil && res.Workflow != nil {
		s.wfCache.drop(res.Workflow.ID)
	}
	var ae *core.AmbiguousNameError
	switch {
	case errors.As(err, &ae):
		return &apiError{Status: http.StatusConflict, Code: CodeConflict, Message: ae.Error(),
			Details: []sdk.Problem{{Path: "name", Message: fmt.Sprintf("%d workflows have this name", len(ae.IDs))}}}
	case err != nil:
		return fmt.Errorf("apply workflow: %w", err)
	}
	if res.Action == core.ApplyUpdated && res.Workflow.Status == core.WorkflowActive {
		s.engine.Wake(r.Context()) // it may have been PAUSED, with executions queued
	}
	status := http.StatusOK
	if res.Action == core.ApplyCreated {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/api/v1/workflows/"+res.Workflow.ID)
	w.Header().Set("ETag", etag(res.Workflow.Version))
	writeJSON(w, status, res)
	return nil
}

func (s *Server) deleteWorkflow(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.catalog.DeleteWorkflow(r.Context(), id)
	s.wfCache.drop(id)
	if errors.Is(err, core.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "workflow %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("delete workflow %s: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// validateWorkflow checks a document without storing it. The request
// succeeds whether or not the document is valid: the answer says which,
// with every problem.
func (s *Server) validateWorkflow(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	wf, err := s.engine.ValidateDocument(r.Context(), data)
	var ve *sdk.ValidationError
	switch {
	case errors.As(err, &ve):
		writeJSON(w, http.StatusOK, map[string]any{"valid": false, "problems": ve.Problems})
	case err != nil:
		return err
	default:
		writeJSON(w, http.StatusOK, map[string]any{"valid": true, "steps": len(wf.Steps), "problems": []sdk.Problem{}})
	}
	return nil
}

// executeRequest is the body of an execute call; it may be empty.
type executeRequest struct {
	Input any `json:"input"`
}

func (s *Server) executeWorkflow(w http.ResponseWriter, r *http.Request) error {
	if err := submitParams(r); err != nil {
		return err
	}
	var req executeRequest
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	info, err := s.runnable(r)
	if err != nil {
		return err
	}
	switch info.Status {
	case core.WorkflowActive, core.WorkflowPaused, "": // a PAUSED workflow's executions queue until it is ACTIVE
	default:
		return errorf(http.StatusConflict, CodeConflict, "workflow %q is %s: only an ACTIVE (or PAUSED, to queue) workflow runs", info.ID, info.Status)
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		return badParam("Idempotency-Key", "at most 200 characters")
	}
	plan, err := s.engine.Plan(r.Context(), info.ID, info.Version)
	if err != nil {
		return fmt.Errorf("plan of workflow %s: %w", info.ID, err)
	}
	// A PAUSED workflow's executions are queued: no instance claims them
	// until it is ACTIVE.
	st, err := s.engine.Start(r.Context(), plan, req.Input,
		core.StartOptions{IdempotencyKey: key, Queue: info.Status == core.WorkflowPaused})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer st.Close()
	return s.accepted(w, r, st)
}

// inlineRequest runs a definition that is not in the catalog.
type inlineRequest struct {
	Workflow json.RawMessage `json:"workflow"`
	Input    any             `json:"input"`
}

func (s *Server) executeInline(w http.ResponseWriter, r *http.Request) error {
	if err := submitParams(r); err != nil {
		return err
	}
	var req inlineRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if len(req.Workflow) == 0 || string(req.Workflow) == "null" {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "workflow: is required (the definition to run)",
			Details: []sdk.Problem{{Path: "workflow", Message: "is required"}}}
	}
	_, plan, err := s.engine.Load(r.Context(), req.Workflow)
	if err != nil {
		var ve *sdk.ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Problems { // paths are within the workflow field
				ve.Problems[i].Path = "workflow" + pathSuffix(ve.Problems[i].Path)
				ve.Problems[i].Line, ve.Problems[i].Column = 0, 0
			}
		}
		return err
	}
	st, err := s.engine.Start(r.Context(), plan, req.Input, core.StartOptions{})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer st.Close()
	return s.accepted(w, r, st)
}

// pathSuffix joins a document path under a parent field.
func pathSuffix(p string) string {
	switch {
	case p == "":
		return ""
	case strings.HasPrefix(p, "["):
		return p
	}
	return "." + p
}

// decodeOptional decodes a JSON body that may be absent.
func decodeOptional(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil
	}
	return decodeJSON(data, v)
}

// etag is a workflow version as an entity tag.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatch reads If-Match: a version, as an entity tag ("3", W/"3") or bare.
func ifMatch(r *http.Request) (int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || v <= 0 {
		return 0, badParam("If-Match", "%q is not a workflow version (send the ETag of the version you changed, e.g. \"3\")", h)
	}
	return v, nil
}
