package steps

import (
	"context"
	"fmt"
	"sync"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Parallel is the PARALLEL step: it runs its nested steps concurrently, at
// most maxConcurrency at a time (default: all). Each nested step has its own
// retries, breaker, timeout and record, and its output is visible to later
// steps as steps.<id>.output. The first failure (of a step whose onError is
// not CONTINUE) stops the others and fails the PARALLEL.
// Output: {"<nested id>": output, …}.
type Parallel struct {
	nodes          []*core.Node
	maxConcurrency int
}

var (
	_ core.EngineStep  = (*Parallel)(nil)
	_ core.ControlFlow = (*Parallel)(nil)
)

// ControlFlow implements core.ControlFlow.
func (*Parallel) ControlFlow() {}

// Info implements sdk.Component.
func (*Parallel) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeParallel,
		Summary: "Runs nested steps concurrently, up to maxConcurrency at a time.",
		New:     func() sdk.Component { return &Parallel{} }}
}

type parallelConfig struct {
	Steps          []core.Step `json:"steps"`
	MaxConcurrency int         `json:"maxConcurrency"`
}

// Compile implements core.EngineStep.
func (p *Parallel) Compile(sc *core.StepCompiler) error {
	var cfg parallelConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	if len(cfg.Steps) == 0 {
		sc.Problem("steps", "a PARALLEL needs at least one nested step")
	}
	if cfg.MaxConcurrency < 0 {
		sc.Problem("maxConcurrency", "must be at least 1 (or 0 for all at once)")
	}
	p.maxConcurrency = cfg.MaxConcurrency
	if p.maxConcurrency == 0 {
		p.maxConcurrency = len(cfg.Steps)
	}
	for i := range cfg.Steps {
		p.nodes = append(p.nodes, sc.Nested(&cfg.Steps[i], fmt.Sprintf("steps[%d]", i)))
	}
	return nil
}

// Execute implements core.EngineStep.
func (p *Parallel) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	outputs := make([]any, len(p.nodes))
	errs := make([]error, len(p.nodes))
	sem := make(chan struct{}, p.maxConcurrency)
	var wg sync.WaitGroup
	for i, n := range p.nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			r.SkipNested(ctx, n)
			continue
		}
		wg.Add(1)
		branch := func() {
			defer wg.Done()
			defer func() { <-sem }()
			outputs[i], errs[i] = r.RunNested(ctx, n, core.NestedRun{})
			if errs[i] != nil {
				cancel(fmt.Errorf("nested step %q failed", n.ID()))
			}
		}
		if i == len(p.nodes)-1 {
			branch() // the last branch runs here: one goroutine fewer
			continue
		}
		go branch()
	}
	wg.Wait()
	if i := firstFailure(errs); i >= 0 {
		return nil, nestedFailure(p.nodes[i].ID(), errs[i])
	}
	for i, err := range errs {
		if err != nil {
			return nil, nestedFailure(p.nodes[i].ID(), err)
		}
	}
	out := make(map[string]any, len(p.nodes))
	for i, n := range p.nodes {
		out[n.ID()] = outputs[i]
	}
	return out, nil
}

func isCancelled(err error) bool { return sdk.ErrorCode(err) == sdk.CodeCancelled }

// firstFailure is the index of the first error that is not a cancellation
// caused by another failure, or -1.
func firstFailure(errs []error) int {
	for i, err := range errs {
		if err != nil && !isCancelled(err) {
			return i
		}
	}
	return -1
}

// nestedFailure reports a nested step's failure under its own code, so retry
// policies and onError of the enclosing step see what really happened.
func nestedFailure(id string, err error) error {
	e := sdk.AsError(err)
	return &sdk.Error{Code: e.Code, Message: fmt.Sprintf("nested step %q: %s", id, e.Message),
		Retryable: e.Retryable, Details: map[string]any{"stepId": id}, Err: err}
}
