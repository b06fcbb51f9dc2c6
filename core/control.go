package core

import (
	"context"
	"fmt"

	"github.com/weftworks/weft/sdk"
)

// CancelExecution cancels an execution wherever it runs: it is recorded
// CANCELLED at once (durably, with its unfinished steps), the engine running
// it loses its lease, and if that is this engine its steps are stopped now;
// another engine stops at its next write or lease renewal. It returns the
// execution as recorded, ErrConflict if it had already finished.
func (e *Engine) CancelExecution(ctx context.Context, id string) (*Execution, error) {
	now := e.clock.Now()
	err := e.store.Cancel(ctx, id, &sdk.Error{Code: sdk.CodeCancelled, Message: "execution cancelled"}, now)
	if err != nil {
		return nil, fmt.Errorf("cancel execution %s: %w", id, err)
	}
	e.Cancel(id) // stop the steps running here; their records are not written
	e.emit(Event{Type: EventExecutionFinished, Time: now, ExecutionID: id, Status: StatusCancelled})
	return e.store.GetExecution(ctx, id)
}

// Retry runs a FAILED, CANCELLED or TIMED_OUT execution again from where it
// failed: steps that completed keep their outputs and do not run again; the
// others (the failed, interrupted, cancelled and skipped ones, and the
// workflow's errorHandler) run again, attempt numbers continuing. The
// execution keeps its id and its history; an engine running Work picks it
// up. ErrConflict if the execution is in another status.
func (e *Engine) Retry(ctx context.Context, id string) error {
	x, err := e.store.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("retry execution %s: %w", id, err)
	}
	if !Retryable(x.Status) {
		return fmt.Errorf("retry execution %s: %w: it is %s, and only a FAILED, CANCELLED or TIMED_OUT execution is retried", id, ErrConflict, x.Status)
	}
	plan, err := e.planFor(ctx, x.WorkflowID, x.WorkflowVersion)
	if err != nil {
		return fmt.Errorf("retry execution %s: %w", id, err)
	}
	rs, err := e.store.LoadRun(ctx, id)
	if err != nil {
		return fmt.Errorf("retry execution %s: %w", id, err)
	}
	results, steps := retrySet(rs, plan.wf.ErrorHandler)
	if err := e.store.Reopen(ctx, id, results, steps, e.clock.Now()); err != nil {
		return fmt.Errorf("retry execution %s: %w", id, err)
	}
	e.signal(ctx)
	return nil
}

// retrySet says what a retry runs again: the results to drop (all but those
// of steps that ended well and were not skipped; a skip a kept CONDITIONAL
// decided is decided again from its result) and the step states to reopen
// (all but completed ones). The error handler runs again in any case.
func retrySet(rs *RunState, handler string) (results, steps []string) {
	for id, r := range rs.Results {
		if !r.OK || r.Status == StatusSkipped || id == handler {
			results = append(results, id)
		}
	}
	for k, st := range rs.Steps {
		if st.Status != StatusCompleted || (handler != "" && (k == handler || st.Parent == handler)) {
			steps = append(steps, k)
		}
	}
	return results, steps
}
