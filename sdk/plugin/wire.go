package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/pb"
)

// errorToWire turns a component's error into its wire form: the *sdk.Error
// the engine would read from it in-process (sdk.AsError), and the problems
// of a *sdk.ValidationError it is or wraps.
func errorToWire(err error) *pb.Error {
	if err == nil {
		return nil
	}
	e := sdk.AsError(err)
	w := &pb.Error{Code: e.Code, Message: e.Message, Retryable: e.Retryable, RetryAfterMs: e.RetryAfter.Milliseconds()}
	var ve *sdk.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			w.Problems = append(w.Problems, &pb.Problem{Path: p.Path, Message: p.Message})
		}
		if len(w.Problems) == 0 {
			w.Problems = []*pb.Problem{{Message: ve.Error()}}
		}
	}
	if e.Details != nil && len(w.Problems) == 0 {
		if b, merr := json.Marshal(e.Details); merr == nil {
			w.DetailsJson = b
		}
	}
	return w
}

// errorFromWire is the inverse of errorToWire: a *sdk.ValidationError as a
// validator returns it, or an *sdk.Error (wrapping the problems when it
// had some, as sdk.NewStep's decoding errors do).
func errorFromWire(w *pb.Error) error {
	if w == nil {
		return nil
	}
	var ve *sdk.ValidationError
	if len(w.Problems) > 0 {
		ve = &sdk.ValidationError{}
		for _, p := range w.Problems {
			ve.Problems = append(ve.Problems, sdk.Problem{Path: p.Path, Message: p.Message})
		}
		if w.Code == sdk.CodeValidationFailed || w.Code == "" {
			return ve
		}
	}
	e := &sdk.Error{Code: w.Code, Message: w.Message, Retryable: w.Retryable,
		RetryAfter: time.Duration(w.RetryAfterMs) * time.Millisecond}
	if e.Code == "" {
		e.Code = sdk.CodeStepFailed
	}
	if len(w.DetailsJson) > 0 {
		_ = json.Unmarshal(w.DetailsJson, &e.Details)
	}
	switch e.Code { // as sdk.AsError's codes for the context's errors are, in-process
	case sdk.CodeTimeout:
		e.Err = context.DeadlineExceeded
	case sdk.CodeCancelled:
		e.Err = context.Canceled
	}
	if ve != nil {
		e.Err = ve
		if e.Details == nil {
			e.Details = ve.Problems
		}
	}
	return e
}

func runToWire(r sdk.RunInfo) *pb.RunInfo {
	return &pb.RunInfo{WorkflowId: r.WorkflowID, ExecutionId: r.ExecutionID, StepId: r.StepID,
		Attempt: int32(r.Attempt), IdempotencyKey: r.IdempotencyKey}
}

func runFromWire(r *pb.RunInfo) sdk.RunInfo {
	if r == nil {
		return sdk.RunInfo{}
	}
	return sdk.RunInfo{WorkflowID: r.WorkflowId, ExecutionID: r.ExecutionId, StepID: r.StepId,
		Attempt: int(r.Attempt), IdempotencyKey: r.IdempotencyKey}
}
