package sdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stable error codes. Users and retry policies match on them
// (retryPolicy.retryableErrors), so they never change meaning.
const (
	CodeTimeout          = "TIMEOUT"            // an attempt or the execution ran out of time
	CodeConnection       = "CONNECTION"         // the remote side could not be reached
	CodeCircuitOpen      = "CIRCUIT_OPEN"       // refused by an open circuit breaker
	CodeValidationFailed = "VALIDATION_FAILED"  // a VALIDATION step or validator rejected data
	CodeInvalidConfig    = "INVALID_CONFIG"     // a step's rendered config is unusable
	CodeInvalidInput     = "INVALID_INPUT"      // a transform got a value it cannot handle
	CodeTemplate         = "TEMPLATE_ERROR"     // a {{…}} template could not be rendered
	CodeExpression       = "EXPRESSION_ERROR"   // an expression failed at run time
	CodeForbiddenAddress = "FORBIDDEN_ADDRESS"  // outbound call to a refused address
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE" // a response exceeded its size cap
	CodeCancelled        = "CANCELLED"          // the execution was cancelled
	CodeInterrupted      = "INTERRUPTED"        // an at-most-once step was interrupted by a crash
	CodePluginCrashed    = "PLUGIN_CRASHED"     // an out-of-process plugin died during the call
	CodeInternal         = "INTERNAL"           // a bug or an unexpected condition
	CodeStepFailed       = "STEP_FAILED"        // a step failed without a code of its own
)

// HTTPStatusCode returns the error code for an HTTP status: HTTP_404, HTTP_503.
func HTTPStatusCode(status int) string {
	return "HTTP_" + strconv.Itoa(status)
}

// Error is the error shape that survives every boundary (process, VM, database).
type Error struct {
	// Code is stable and machine-readable: TIMEOUT, HTTP_503, VALIDATION_FAILED.
	Code string `json:"code"`
	// Message is for humans.
	Message string `json:"message"`
	// Retryable tells the engine whether trying again may help. A retry policy's
	// retryableErrors list, when given, takes precedence.
	Retryable bool `json:"retryable"`
	// RetryAfter is how long the remote side asked us to wait (Retry-After).
	RetryAfter time.Duration `json:"-"`
	// Details carries structured data, e.g. the list of validation problems.
	Details Value `json:"details,omitempty"`
	// Err is the local cause; it is not serialised.
	Err error `json:"-"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the local cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// Errorf returns a non-retryable *Error with the given code. Causes wrapped
// with %w stay reachable through errors.Is and errors.As.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
	if _, multi := err.(interface{ Unwrap() []error }); multi {
		e.Err = err // several %w: keep them all
	}
	return e
}

// RetryableErrorf returns a retryable *Error with the given code.
func RetryableErrorf(code, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Retryable = true
	return e
}

// Permanent marks err as never worth retrying, keeping its code when it has
// one. err itself is not changed, and everything it wraps stays reachable.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	e := AsError(err)
	if direct, ok := err.(*Error); ok && direct == e {
		cp := *e
		cp.Retryable = false
		return &cp
	}
	return &Error{Code: e.Code, Message: err.Error(), RetryAfter: e.RetryAfter, Details: e.Details, Err: err}
}

// AsError returns err as an *Error: the one it wraps, or a new one whose code
// is derived from well-known causes (context deadline → TIMEOUT, cancellation →
// CANCELLED, anything else → STEP_FAILED).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &Error{Code: CodeValidationFailed, Message: ve.Error(), Details: ve.Problems, Err: err}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: err.Error(), Retryable: true, Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCancelled, Message: err.Error(), Err: err}
	}
	return &Error{Code: CodeStepFailed, Message: err.Error(), Err: err}
}

// ErrorCode returns the stable code of err ("" for nil).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// IsRetryable reports whether err is worth retrying according to the error
// itself. Validation failures, cancellation and errors marked Permanent are not.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	return AsError(err).Retryable
}

// Problem is one thing wrong with a value, at a path such as
// steps[2].config.url or email.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Line and Column locate the problem in the source document when known (1-based).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// String formats the problem as "path: message" (with line:col when known).
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Path != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s (line %d, column %d): ", p.Path, p.Line, p.Column)
	case p.Path != "":
		b.WriteString(p.Path + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d, column %d: ", p.Line, p.Column)
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found, never just the first.
type ValidationError struct {
	Problems []Problem `json:"problems"`
}

// Error implements error.
func (e *ValidationError) Error() string {
	switch len(e.Problems) {
	case 0:
		return "invalid"
	case 1:
		return e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Add appends a problem.
func (e *ValidationError) Add(path, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds problems, else nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

// JoinPath joins a parent path and a child path: ("steps[1]", "url") → "steps[1].url";
// ("items", "[2]") → "items[2]".
func JoinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}
