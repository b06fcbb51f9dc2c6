package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

func TestErrorError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *sdk.Error
		want string
	}{
		{name: "code only", err: &sdk.Error{Code: sdk.CodeTimeout}, want: "TIMEOUT"},
		{name: "code and message", err: &sdk.Error{Code: "HTTP_503", Message: "unavailable"}, want: "HTTP_503: unavailable"},
		{name: "cause is not printed", err: &sdk.Error{Code: "X", Message: "m", Err: io.EOF}, want: "X: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestHTTPStatusCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{name: "not found", status: 404, want: "HTTP_404"},
		{name: "unavailable", status: 503, want: "HTTP_503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.HTTPStatusCode(tt.status))
		})
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       *sdk.Error
		code      string
		message   string
		retryable bool
		cause     error // want errors.Is(err, cause) and Unwrap() == cause
	}{
		{
			name: "plain", err: sdk.Errorf(sdk.CodeInvalidConfig, "url %q is not absolute", "x"),
			code: "INVALID_CONFIG", message: `url "x" is not absolute`,
		},
		{
			name: "with %w keeps the cause", err: sdk.Errorf(sdk.CodeConnection, "dialing: %w", io.ErrUnexpectedEOF),
			code: "CONNECTION", message: "dialing: unexpected EOF", cause: io.ErrUnexpectedEOF,
		},
		{
			name: "retryable", err: sdk.RetryableErrorf(sdk.HTTPStatusCode(503), "try later"),
			code: "HTTP_503", message: "try later", retryable: true,
		},
		{
			name: "retryable with %w", err: sdk.RetryableErrorf(sdk.CodeConnection, "read: %w", io.EOF),
			code: "CONNECTION", message: "read: EOF", retryable: true, cause: io.EOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.code, tt.err.Code)
			require.Equal(t, tt.message, tt.err.Message)
			require.Equal(t, tt.retryable, tt.err.Retryable)
			require.Equal(t, tt.retryable, sdk.IsRetryable(tt.err))
			require.Equal(t, tt.code, sdk.ErrorCode(tt.err))
			require.Equal(t, tt.cause, tt.err.Unwrap())
			if tt.cause != nil {
				require.ErrorIs(t, tt.err, tt.cause)
			}
		})
	}
}

func TestErrorfKeepsEveryWrappedCause(t *testing.T) {
	t.Parallel()
	a, b := errors.New("a"), errors.New("b")
	e := sdk.Errorf("X", "both: %w and %w", a, b)
	require.ErrorIs(t, e, a)
	require.ErrorIs(t, e, b)
	require.Equal(t, "X: both: a and b", e.Error())
	require.ErrorIs(t, sdk.Errorf("X", "one: %w", a), a)
	require.NoError(t, sdk.Errorf("X", "none %d", 1).Unwrap())
}

func TestAsError(t *testing.T) {
	t.Parallel()
	sdkErr := sdk.RetryableErrorf(sdk.HTTPStatusCode(503), "unavailable")
	ve := &sdk.ValidationError{Problems: []sdk.Problem{{Path: "email", Message: "is required"}}}
	deadline, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-deadline.Done()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()

	tests := []struct {
		name      string
		err       error
		code      string
		message   string
		retryable bool
		details   any
		same      *sdk.Error // when set, AsError returns this very *Error
	}{
		{name: "plain error", err: errors.New("boom"), code: "STEP_FAILED", message: "boom"},
		{name: "deadline", err: context.DeadlineExceeded, code: "TIMEOUT", message: "context deadline exceeded", retryable: true},
		{name: "a context's deadline", err: deadline.Err(), code: "TIMEOUT", message: "context deadline exceeded", retryable: true},
		{name: "wrapped deadline", err: fmt.Errorf("calling crm: %w", context.DeadlineExceeded), code: "TIMEOUT", message: "calling crm: context deadline exceeded", retryable: true},
		{name: "cancelled", err: context.Canceled, code: "CANCELLED", message: "context canceled"},
		{name: "a context's cancellation", err: cancelled.Err(), code: "CANCELLED", message: "context canceled"},
		{name: "validation error", err: ve, code: "VALIDATION_FAILED", message: "email: is required", details: ve.Problems},
		{name: "wrapped validation error", err: fmt.Errorf("input: %w", ve), code: "VALIDATION_FAILED", message: "email: is required", details: ve.Problems},
		{name: "*Error itself", err: sdkErr, code: "HTTP_503", message: "unavailable", retryable: true, same: sdkErr},
		{
			name: "*Error through %w chains", err: fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", sdkErr)),
			code: "HTTP_503", message: "unavailable", retryable: true, same: sdkErr,
		},
		{name: "*Error in a join", err: errors.Join(io.EOF, sdkErr), code: "HTTP_503", message: "unavailable", retryable: true, same: sdkErr},
		{
			name: "*Error wins over the deadline it wraps",
			err:  &sdk.Error{Code: sdk.CodeConnection, Message: "dial", Err: context.DeadlineExceeded},
			code: "CONNECTION", message: "dial",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := sdk.AsError(tt.err)
			require.NotNil(t, e)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.message, e.Message)
			require.Equal(t, tt.retryable, e.Retryable)
			require.Equal(t, tt.details, e.Details)
			if tt.same != nil {
				require.Same(t, tt.same, e)
			} else {
				require.ErrorIs(t, e, tt.err, "the original error stays reachable")
			}
			require.Equal(t, tt.code, sdk.ErrorCode(tt.err))
			require.Equal(t, tt.retryable, sdk.IsRetryable(tt.err))
		})
	}
}

func TestNilErrors(t *testing.T) {
	t.Parallel()
	require.Nil(t, sdk.AsError(nil))
	require.Empty(t, sdk.ErrorCode(nil))
	require.False(t, sdk.IsRetryable(nil))
	require.NoError(t, sdk.Permanent(nil))
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func() error
		code string
	}{
		{name: "retryable *Error", err: func() error { return sdk.RetryableErrorf(sdk.CodeConnection, "reset") }, code: "CONNECTION"},
		{
			name: "wrapped retryable *Error",
			err:  func() error { return fmt.Errorf("x: %w", sdk.RetryableErrorf(sdk.HTTPStatusCode(429), "slow down")) },
			code: "HTTP_429",
		},
		{name: "deadline", err: func() error { return context.DeadlineExceeded }, code: "TIMEOUT"},
		{name: "plain error", err: func() error { return io.EOF }, code: "STEP_FAILED"},
		{name: "non-retryable *Error", err: func() error { return sdk.Errorf(sdk.CodeInvalidConfig, "bad") }, code: "INVALID_CONFIG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orig := tt.err()
			wasRetryable := sdk.IsRetryable(orig)
			p := sdk.Permanent(orig)
			require.Equal(t, tt.code, sdk.ErrorCode(p))
			require.False(t, sdk.IsRetryable(p))
			require.Equal(t, wasRetryable, sdk.IsRetryable(orig), "the original is not mutated")
			var e *sdk.Error
			if errors.As(orig, &e) {
				require.NotSame(t, e, sdk.AsError(p))
			} else {
				require.ErrorIs(t, p, orig, "the cause stays reachable")
			}
		})
	}
}

func TestPermanentKeepsFields(t *testing.T) {
	t.Parallel()
	orig := &sdk.Error{Code: "HTTP_429", Message: "slow down", Retryable: true, RetryAfter: time.Minute, Details: []string{"d"}, Err: io.EOF}
	p := sdk.AsError(sdk.Permanent(orig))
	require.Equal(t, sdk.Error{Code: "HTTP_429", Message: "slow down", RetryAfter: time.Minute, Details: []string{"d"}, Err: io.EOF}, *p)
	require.True(t, orig.Retryable)
}

func TestPermanentKeepsWrappingContext(t *testing.T) {
	t.Parallel()
	inner := sdk.RetryableErrorf("HTTP_503", "unavailable")
	p := sdk.Permanent(fmt.Errorf("charging: %w", inner))
	require.False(t, sdk.IsRetryable(p))
	require.Equal(t, "HTTP_503", sdk.ErrorCode(p))
	require.Contains(t, p.Error(), "charging")
	require.ErrorIs(t, p, inner, "the whole chain stays reachable")
	require.True(t, inner.Retryable, "the original is not changed")
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    sdk.Problem
		want string
	}{
		{name: "path", p: sdk.Problem{Path: "steps[0].url", Message: "is required"}, want: "steps[0].url: is required"},
		{name: "path and position", p: sdk.Problem{Path: "url", Message: "bad", Line: 3, Column: 7}, want: "url (line 3, column 7): bad"},
		{name: "position only", p: sdk.Problem{Message: "bad", Line: 3, Column: 7}, want: "line 3, column 7: bad"},
		{name: "message only", p: sdk.Problem{Message: "bad"}, want: "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.p.String())
		})
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		problems [][2]string // path, message
		want     string
	}{
		{name: "no problem", want: "invalid"},
		{name: "one problem", problems: [][2]string{{"email", "is required"}}, want: "email: is required"},
		{
			name:     "many problems",
			problems: [][2]string{{"email", "is required"}, {"age", "must be at least 18"}, {"", "too many fields"}},
			want:     "3 problems:\n  email: is required\n  age: must be at least 18\n  too many fields",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ve sdk.ValidationError
			for _, p := range tt.problems {
				ve.Add(p[0], "%s", p[1])
			}
			require.Equal(t, tt.want, ve.Error())
			if len(tt.problems) == 0 {
				require.NoError(t, ve.Err())
				return
			}
			require.Same(t, &ve, ve.Err())
			require.Len(t, ve.Problems, len(tt.problems))
		})
	}
}

func TestValidationErrorAdd(t *testing.T) {
	t.Parallel()
	var ve sdk.ValidationError
	ve.Add("items[2].qty", "must be at most %d, got %d", 10, 12)
	require.Equal(t, []sdk.Problem{{Path: "items[2].qty", Message: "must be at most 10, got 12"}}, ve.Problems)

	var nilVE *sdk.ValidationError
	require.NoError(t, nilVE.Err(), "Err on a nil *ValidationError is a nil error")
}

func TestJoinPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, parent, child, want string
	}{
		{name: "field", parent: "steps[1]", child: "url", want: "steps[1].url"},
		{name: "index", parent: "items", child: "[2]", want: "items[2]"},
		{name: "quoted key", parent: "headers", child: `["x.y"]`, want: `headers["x.y"]`},
		{name: "no parent", parent: "", child: "url", want: "url"},
		{name: "no child", parent: "steps[1]", child: "", want: "steps[1]"},
		{name: "neither", parent: "", child: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.JoinPath(tt.parent, tt.child))
		})
	}
}

func TestKeyPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, parent, key, want string
	}{
		{name: "plain key", parent: "steps[0].config", key: "url", want: "steps[0].config.url"},
		{name: "plain key at the root", parent: "", key: "url", want: "url"},
		{name: "dot", parent: "headers", key: "x.y", want: `headers["x.y"]`},
		{name: "dot at the root", parent: "", key: "x.y", want: `["x.y"]`},
		{name: "space", parent: "h", key: "a b", want: `h["a b"]`},
		{name: "brackets", parent: "h", key: "a[0]", want: `h["a[0]"]`},
		{name: "quote", parent: "h", key: `say "hi"`, want: `h["say \"hi\""]`},
		{name: "empty key", parent: "h", key: "", want: `h[""]`},
		{name: "dashes stay plain", parent: "headers", key: "Content-Type", want: "headers.Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.KeyPath(tt.parent, tt.key))
		})
	}
}
