package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
)

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	x, err := s.engine.Store().GetExecution(r.Context(), id)
	if errors.Is(err, core.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "execution %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("get execution %s: %w", id, err)
	}
	return writeRecord(w, x)
}

// cancelExecution cancels an unfinished execution at once (200 with its
// record); 409 if it has finished.
func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	x, err := s.engine.CancelExecution(r.Context(), id)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "execution %q not found", id)
	case errors.Is(err, core.ErrConflict):
		return s.statusConflict(r, id, "only an unfinished execution is cancelled")
	case err != nil:
		return err
	}
	return writeRecord(w, x)
}

// retryExecution runs a FAILED, CANCELLED or TIMED_OUT execution again from
// the steps that did not complete; it answers like execute (202, or the
// result with ?wait=).
func (s *Server) retryExecution(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := submitParams(r); err != nil {
		return err
	}
	st := s.engine.Follow(id) // before the retry, so that its end is not missed
	defer st.Close()
	err := s.engine.Retry(r.Context(), id)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "execution %q not found", id)
	case errors.Is(err, core.ErrConflict):
		return s.statusConflict(r, id, "only a FAILED, CANCELLED or TIMED_OUT execution is retried")
	case err != nil:
		return err
	}
	return s.accepted(w, r, st)
}

// statusConflict is the 409 of a change an execution's status does not
// allow, saying what its status is.
func (s *Server) statusConflict(r *http.Request, id, rule string) error {
	x, err := s.engine.Store().GetExecution(r.Context(), id)
	if err != nil {
		return fmt.Errorf("get execution %s: %w", id, err)
	}
	return errorf(http.StatusConflict, CodeConflict, "execution %q is %s: %s", id, x.Status, rule)
}

// executionStatuses are the statuses an execution can have.
var executionStatuses = []core.Status{core.StatusPending, core.StatusRunning, core.StatusWaiting, core.StatusCompleted,
	core.StatusFailed, core.StatusCancelled, core.StatusTimedOut}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) error {
	f, err := executionFilter(r, executionStatuses, "an execution status")
	if err != nil {
		return err
	}
	page, err := s.catalog.ListExecutions(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list executions: %w", err)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// executionFilter reads the query of an execution listing: workflowId,
// status (one of allowed, which name describes), from, to, limit, cursor.
// The listing is restricted to allowed.
func executionFilter(r *http.Request, allowed []core.Status, name string) (core.ExecutionFilter, error) {
	q := r.URL.Query()
	if err := onlyParams(q, "status", "workflowId", "from", "to", "limit", "cursor"); err != nil {
		return core.ExecutionFilter{}, err
	}
	f := core.ExecutionFilter{WorkflowID: q.Get("workflowId"), Cursor: q.Get("cursor")}
	if len(allowed) < len(executionStatuses) {
		f.Statuses = allowed
	}
	if st := q.Get("status"); st != "" {
		f.Status = core.Status(strings.ToUpper(st))
		if !slices.Contains(allowed, f.Status) {
			return f, badParam("status", "%q is not %s (%s)", st, name, joinStatuses(allowed))
		}
	}
	var err error
	if f.From, err = timeParam(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, badParam("from", "must be before to")
	}
	f.Limit, err = limitParam(q.Get("limit"))
	return f, err
}

func joinStatuses(ss []core.Status) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// accepted answers a submitted execution: 202 with its id and Location, or,
// with ?wait=DURATION (bounded by MaxWait), its record once it has finished
// (200) — or the 202 if it has not by then. An execution this instance runs
// is answered from the run itself, not read back from the database; a 202
// is sent only once the execution is durable.
func (s *Server) accepted(w http.ResponseWriter, r *http.Request, st *core.Started) error {
	id := st.ID
	location := "/api/v1/executions/" + id
	w.Header().Set("Location", location)
	if st.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if d, _ := waitOf(r); d > 0 {
		x, err := s.wait(r.Context(), st, min(d, s.maxWait))
		if err != nil {
			return fmt.Errorf("wait for execution %s: %w", id, err)
		}
		if x != nil && x.Status.Terminal() {
			return writeExecution(w, r, x)
		}
	}
	if st.Here {
		// A 202 promises the execution survives a crash.
		if err := s.engine.Accept(r.Context(), id); err != nil {
			return fmt.Errorf("accept execution %s: %w", id, err)
		}
	}
	status := core.StatusPending
	if st.Replayed {
		// The execution of an earlier request: say where it is now.
		x, err := s.engine.Store().GetExecution(r.Context(), id)
		if err != nil {
			return fmt.Errorf("get execution %s: %w", id, err)
		}
		status = x.Status
	}
	writeJSON(w, http.StatusAccepted, map[string]string{
		"executionId": id, "requestId": id, "status": string(status), "location": location,
	})
	return nil
}

// writeExecution answers a finished execution: its whole record, or with
// ?view=output (or "Prefer: return=minimal") only its id, status and output
// (and error, when it failed).
func writeExecution(w http.ResponseWriter, r *http.Request, x *core.Execution) error {
	if viewOf(r) == "output" {
		return writeEncoded(w, http.StatusOK, func(b []byte) ([]byte, error) { return appendOutputView(b, x) })
	}
	return writeRecord(w, x)
}

// writeRecord answers 200 with an execution's whole record.
func writeRecord(w http.ResponseWriter, x *core.Execution) error {
	return writeEncoded(w, http.StatusOK, func(b []byte) ([]byte, error) { return appendExecution(b, x) })
}

// viewOf reads ?view= (full or output), or a "Prefer: return=minimal"
// header (RFC 7240) when there is none.
func viewOf(r *http.Request) string {
	if v := r.URL.Query().Get("view"); v != "" {
		return v
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(p, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(pref), " ", ""), "return=minimal") {
				return "output"
			}
		}
	}
	return "full"
}

// submitParams checks the query of a call that starts an execution before
// anything starts: only ?wait= and ?view= are known, and they must parse — a
// bad one refused after the submit would make a client retry, and run it
// twice.
func submitParams(r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "wait", "view"); err != nil {
		return err
	}
	if v := q.Get("view"); q.Has("view") && v != "full" && v != "output" {
		return badParam("view", "%q is not full (the whole record) or output (id, status and output)", v)
	}
	_, err := waitOf(r)
	return err
}

// waitOf reads the request's ?wait= (0 without one).
func waitOf(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	return waitParam(v)
}

// waitParam reads ?wait=: a Go duration (30s, 1m) or milliseconds.
func waitParam(v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badParam("wait", "%q is not a duration (30s, 1m, or milliseconds)", v)
	}
	return d, nil
}

// wait returns the execution once it has finished, or as it is when d has
// passed or the request ends (nil if it runs here and has not finished). A
// run here reports its end itself: the record comes from memory, durable
// already, and the database is not read. An execution run elsewhere (or
// queued, or parked) is polled in the store.
func (s *Server) wait(ctx context.Context, st *core.Started, d time.Duration) (*core.Execution, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	store := s.engine.Store()
	const firstPoll = 20 * time.Millisecond
	here, poll := st.Here, firstPoll
	look := time.NewTimer(0) // look in the store now, unless it runs here
	defer look.Stop()
	if here {
		look.Stop()
	}
	for {
		select {
		case x := <-st.Finished():
			if x != nil {
				return x, nil
			}
			// The run here ended without finishing it (parked, or its
			// lease lost): the store has it now.
			here, poll = false, firstPoll
			look.Reset(0)
		case <-look.C:
			x, err := store.GetExecution(context.WithoutCancel(ctx), st.ID)
			if err != nil || x.Status.Terminal() {
				return x, err
			}
			look.Reset(poll)
			poll = min(2*poll, 500*time.Millisecond)
		case <-ctx.Done():
			if here {
				return nil, nil
			}
			return store.GetExecution(context.WithoutCancel(ctx), st.ID)
		}
	}
}

// onlyParams refuses query parameters an endpoint does not know (a typo
// would otherwise be silently ignored).
func onlyParams(q url.Values, known ...string) error {
	for k := range q {
		if k == "wait" || slices.Contains(known, k) {
			continue
		}
		return badParam(k, "unknown query parameter (known: %s)", strings.Join(known, ", "))
	}
	return nil
}

// limitParam reads ?limit= (1–500; 0: the store's default).
func limitParam(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, badParam("limit", "%q is not a page size from 1 to 500", v)
	}
	return n, nil
}

// timeParam reads an RFC 3339 time, or Unix milliseconds.
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badParam(name, "%q is not a time (RFC 3339, e.g. 2026-11-27T10:00:00Z, or Unix milliseconds)", v)
	}
	return t, nil
}
