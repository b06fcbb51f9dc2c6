package core

import (
	"context"
	"errors"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// Load parses a workflow document (JSON or YAML) and compiles it into a Plan
// ready to execute. Every problem of the document comes back at once in one
// *sdk.ValidationError, in document order, with the workflow as far as it
// could be decoded (nil when the document cannot be parsed at all). Problems
// at or below a path whose value has the wrong shape are left out: they would
// only repeat it ("name: expected a string" makes "name: is required" noise).
func (e *Engine) Load(ctx context.Context, data []byte) (*Workflow, *Plan, error) {
	wf, err := ParseWorkflow(data)
	var shape []sdk.Problem
	if err != nil {
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, err
		}
		shape = ve.Problems
	}
	if wf == nil {
		return nil, nil, err
	}
	plan, cerr := e.Compile(ctx, wf)
	problems := shape
	if cerr != nil {
		var ve *sdk.ValidationError
		if !errors.As(cerr, &ve) {
			return wf, nil, cerr
		}
		for _, p := range ve.Problems {
			if !covered(p, shape) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) == 0 {
		return wf, plan, nil
	}
	if plan != nil {
		_ = plan.Close(ctx)
	}
	SortProblems(problems)
	return wf, nil, &sdk.ValidationError{Problems: problems}
}

// ValidateDocument is Load without keeping the plan: it reports every problem
// of a workflow document, or nil.
func (e *Engine) ValidateDocument(ctx context.Context, data []byte) (*Workflow, error) {
	wf, plan, err := e.Load(ctx, data)
	if plan != nil {
		if cerr := plan.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}
	return wf, err
}

// covered reports whether p repeats a shape problem: same message at the same
// path, or any problem below a path whose value could not be decoded.
func covered(p sdk.Problem, shape []sdk.Problem) bool {
	for _, s := range shape {
		if s.Path == p.Path && s.Message == p.Message {
			return true
		}
		if s.Path != "" && (strings.HasPrefix(s.Message, "expected ") || strings.HasPrefix(s.Message, "circuitBreaker must be")) {
			if p.Path == s.Path || strings.HasPrefix(p.Path, s.Path+".") || strings.HasPrefix(p.Path, s.Path+"[") {
				return true
			}
		}
	}
	return false
}
