package core

import (
	"context"
	"errors"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// ValidateDocument parses a workflow document (JSON or YAML) and validates it.
// It returns the workflow (nil when the document cannot be parsed at all) and
// every problem in one *sdk.ValidationError, in document order. Problems at or
// below a path whose value has the wrong shape are left out: they would only
// repeat it ("name: expected a string" makes "name: is required" noise).
func (e *Engine) ValidateDocument(ctx context.Context, data []byte) (*Workflow, error) {
	wf, err := ParseWorkflow(data)
	var shape []sdk.Problem
	if err != nil {
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		shape = ve.Problems
	}
	if wf == nil {
		return nil, err
	}
	problems := shape
	if verr := e.Validate(ctx, wf); verr != nil {
		var ve *sdk.ValidationError
		if !errors.As(verr, &ve) {
			return wf, verr
		}
		for _, p := range ve.Problems {
			if !covered(p, shape) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) == 0 {
		return wf, nil
	}
	SortProblems(problems)
	return wf, &sdk.ValidationError{Problems: problems}
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
