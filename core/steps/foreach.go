package steps

import (
	"context"
	"fmt"
	"sync"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// ForEach is the FOR_EACH step: it runs one nested step for every item of
// items, at most maxConcurrency at a time (default 1: one after the other,
// kind to rate-limited APIs). The nested step sees {{item}} and {{index}};
// each run is recorded as <id>[<index>]. Results come back in item order. The
// first failure stops the remaining items and fails the FOR_EACH, unless the
// nested step's onError is CONTINUE, which leaves null at its index.
// Output: [result, …].
type ForEach struct {
	maxItems       int
	items          *core.ValueTemplate
	node           *core.Node
	maxConcurrency int
}

var (
	_ core.EngineStep  = (*ForEach)(nil)
	_ core.ControlFlow = (*ForEach)(nil)
)

// ControlFlow implements core.ControlFlow.
func (*ForEach) ControlFlow() {}

// Info implements sdk.Component.
func (f *ForEach) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeForEach,
		Summary: "Runs a nested step for every item; results keep the items' order.",
		New:     func() sdk.Component { return &ForEach{maxItems: f.maxItems} }}
}

type forEachConfig struct {
	Items          any        `json:"items"`
	Step           *core.Step `json:"step"`
	MaxConcurrency int        `json:"maxConcurrency"`
}

// Compile implements core.EngineStep.
func (f *ForEach) Compile(sc *core.StepCompiler) error {
	var cfg forEachConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	switch items := cfg.Items.(type) {
	case nil:
		sc.Problem("items", "is required: an array, or a template such as {{steps.list.output.body.items}}")
	case string:
		if !core.HasTemplate(items) {
			sc.Problem("items", "must be an array or a {{…}} template that yields one")
		}
	case []any:
	default:
		sc.Problem("items", "must be an array or a {{…}} template that yields one, got %s", sdk.TypeName(items))
	}
	f.items = sc.Template(cfg.Items, "items")
	if cfg.MaxConcurrency < 0 {
		sc.Problem("maxConcurrency", "must be at least 1")
	}
	f.maxConcurrency = max(cfg.MaxConcurrency, 1)
	if cfg.Step == nil {
		sc.Problem("step", "is required: the step to run for each item")
		return nil
	}
	f.node = sc.NestedEach(cfg.Step, "step")
	return nil
}

// Execute implements core.EngineStep.
func (f *ForEach) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	v, err := r.Render(ctx, f.items)
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok {
		if v == nil {
			items = []any{}
		} else {
			return nil, sdk.Errorf(sdk.CodeInvalidConfig, "items must be an array, got %s", sdk.TypeName(v))
		}
	}
	if len(items) > f.maxItems {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "%d items exceed the limit of %d per FOR_EACH", len(items), f.maxItems)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]any, len(items))
	errs := make([]error, len(items))
	sem := make(chan struct{}, f.maxConcurrency)
	var wg sync.WaitGroup
	for i, item := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		run := func() {
			defer wg.Done()
			defer func() { <-sem }()
			idx := i
			results[i], errs[i] = r.RunNested(ctx, f.node, core.NestedRun{
				Index:  &idx,
				Locals: map[string]any{core.RootItem: item, core.RootIndex: float64(i)},
			})
			if errs[i] != nil {
				cancel(fmt.Errorf("item %d failed", i))
			}
		}
		if i == len(items)-1 {
			run() // the last item runs here: one goroutine fewer
			continue
		}
		go run()
	}
	wg.Wait()
	if i := firstFailure(errs); i >= 0 {
		return nil, itemFailure(i, errs[i])
	}
	for i, err := range errs {
		if err != nil {
			return nil, itemFailure(i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

func itemFailure(i int, err error) error {
	e := sdk.AsError(err)
	return &sdk.Error{Code: e.Code, Message: fmt.Sprintf("item %d: %s", i, e.Message),
		Retryable: e.Retryable, Details: map[string]any{"index": float64(i)}, Err: err}
}
