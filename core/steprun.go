package core

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/sdk"
)

// StepRun is what an EngineStep's Execute sees: the execution's scope, the
// means to render templates, evaluate expressions, run nested steps, skip
// branches and wait.
type StepRun struct {
	x     *run
	node  *Node
	scope scope
	info  sdk.RunInfo
	state *StepState
	skips []*Node
	logs  []string
	cut   int // lines dropped past MaxStepLogLines
}

// Caps of StepRun.Log: a step's log belongs in its record, not a flood.
const (
	MaxStepLogLines    = 100
	MaxStepLogLineSize = 1000 // bytes; a longer line is cut, marked with …
)

// Log records a line in the attempt's record (Attempt.Logs) and writes it to
// the engine log. Secrets are redacted. Past MaxStepLogLines the last line
// counts what was dropped. It must be called from Execute's goroutine.
func (r *StepRun) Log(line string) {
	line = r.x.scope.x.redact.scrubString(line)
	r.Logger().Info(line)
	if len(line) > MaxStepLogLineSize {
		cut := MaxStepLogLineSize
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	if len(r.logs) < MaxStepLogLines {
		r.logs = append(r.logs, line)
		return
	}
	r.cut++
	r.logs[MaxStepLogLines-1] = fmt.Sprintf("… %d more lines not kept", r.cut+1)
}

// Info identifies the run.
func (r *StepRun) Info() sdk.RunInfo { return r.info }

// Clock returns the engine's clock.
func (r *StepRun) Clock() clockwork.Clock { return r.x.e.clock }

// Logger returns a logger tagged with the execution and step.
func (r *StepRun) Logger() *slog.Logger {
	return r.x.e.log.With("execution", r.info.ExecutionID, "step", r.info.StepID)
}

// Scope returns what templates and expressions of this step read.
func (r *StepRun) Scope() Scope { return r.scope }

// Render renders a compiled value template. Failures carry TEMPLATE_ERROR or
// EXPRESSION_ERROR.
func (r *StepRun) Render(ctx context.Context, vt *ValueTemplate) (any, error) {
	v, err := vt.Render(ctx, r.scope)
	if err != nil {
		return nil, templateErr(err)
	}
	return v, nil
}

// Eval evaluates an expression in the step's environment, with vars (if any)
// added as bare names on top.
func (r *StepRun) Eval(e *Expr, vars map[string]any) (any, error) {
	env := r.scope.Env()
	if len(vars) > 0 {
		merged := make(map[string]any, len(env)+len(vars))
		for k, v := range env {
			merged[k] = v
		}
		for k, v := range vars {
			if !reservedRoots[k] {
				merged[k] = v
			}
		}
		env = merged
	}
	v, err := e.Eval(env)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeExpression, "%v", err)
	}
	return v, nil
}

// Lookup reads a path (steps.x.output.score, input.id, leadId) in the scope.
func (r *StepRun) Lookup(path []PathSeg) (any, bool) {
	if len(path) == 0 || path[0].Key == "" {
		return nil, false
	}
	root, ok := r.scope.Resolve(path[0].Key)
	if !ok {
		return nil, false
	}
	return Lookup(root, path[1:])
}

// NestedRun says how a nested step runs.
type NestedRun struct {
	// Index is the FOR_EACH item index; the run is recorded as id[index].
	Index *int
	// Locals are extra template roots, such as item and index.
	Locals map[string]any
}

// RunNested runs a step compiled with StepCompiler.Nested, with its own
// retries, breaker, timeout and records. A failure is returned as an error
// unless the step's onError is CONTINUE, in which case its output is nil.
func (r *StepRun) RunNested(ctx context.Context, n *Node, opts NestedRun) (any, error) {
	key := runKey{key: nestedKey(r.state.ID, r.node.def.ID, n.def.ID, opts.Index), parent: r.state.ID, index: opts.Index}
	sc := r.scope
	if len(opts.Locals) > 0 {
		sc = sc.with(opts.Locals)
	}
	out, _, err, _ := r.x.runStep(ctx, n, sc, key)
	if err != nil {
		if n.onError == OnErrorContinue && ctx.Err() == nil {
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}

// nestedKey names the record of a nested run so that it is unique in the
// execution: the step's id under a top-level parent ("carrier_a"), id[index]
// for FOR_EACH items ("send[3]"), and the parent's key as a prefix when the
// parent is itself a repeated run ("each[2]/call", "each[2]/inner[0]"). The
// key is also the base of the step's idempotency key.
func nestedKey(parentKey, parentID, id string, index *int) string {
	k := id
	if index != nil {
		k += "[" + strconv.Itoa(*index) + "]"
	}
	if parentKey != parentID {
		k = parentKey + "/" + k
	}
	return k
}

// SkipNested records nested steps that will not run (a PARALLEL cut short),
// so that every step of the workflow has a record.
func (r *StepRun) SkipNested(ctx context.Context, n *Node) {
	key := nestedKey(r.state.ID, r.node.def.ID, n.def.ID, nil)
	states := append([]*StepState{r.x.skippedState(n, key, r.state.ID)}, r.x.skipNested(n, key)...)
	_ = r.x.checkpoint(&Checkpoint{Steps: states})
}

// Started returns when the step started, across restarts of the execution.
func (r *StepRun) Started() time.Time { return r.state.StartedAt }

// Skip marks steps chosen against (the untaken branch of a CONDITIONAL): they
// end SKIPPED, and so does every step that depends only on skipped steps.
func (r *StepRun) Skip(ids ...string) {
	for _, id := range ids {
		if n, ok := r.x.plan.byID[id]; ok {
			r.skips = append(r.skips, n)
		}
	}
}

// Wait waits until the given time (or until ctx ends), recording the step as
// WAITING meanwhile. The wake time is saved: a resumed execution waits for
// the time first asked, not for a new one. A long wait of a top-level step
// in an execution run by Work parks the execution in the store instead,
// freeing its goroutine; it resumes at the wake time.
func (r *StepRun) Wait(ctx context.Context, until time.Time) error {
	if !r.state.WakeAt.IsZero() {
		until = r.state.WakeAt
	}
	r.state.WakeAt = until
	now := r.x.e.clock.Now()
	d := until.Sub(now)
	if d <= 0 {
		return nil
	}
	if r.x.canPark && r.node.parent == nil && d >= r.x.e.parkAfter {
		return errParked
	}
	r.state.Status = StatusWaiting
	_ = r.x.checkpoint(&Checkpoint{Steps: []*StepState{r.state}})
	r.x.e.emit(Event{Type: EventStepWaiting, Time: now, ExecutionID: r.info.ExecutionID,
		StepID: r.state.ID, StepType: r.node.def.Type, Status: StatusWaiting, Attempt: r.info.Attempt})
	err := sleep(ctx, r.x.e.clock, d)
	r.state.Status = StatusRunning
	return err
}
