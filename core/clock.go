package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jonboulle/clockwork"
)

var (
	errExecutionTimeout = fmt.Errorf("execution timed out: %w", context.DeadlineExceeded)
	errStepTimeout      = fmt.Errorf("attempt timed out: %w", context.DeadlineExceeded)
	errCancelled        = errors.New("execution cancelled")
	errFailFast         = errors.New("another step failed")
)

// withTimeout is context.WithTimeoutCause on the engine's clock, so that tests
// on a fake clock move deadlines by advancing time. (clockwork's own
// WithTimeout blocks in Err until the context is done, which rules it out.)
func withTimeout(parent context.Context, clock clockwork.Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	if reflect.TypeOf(clock) == realClockType {
		return context.WithTimeoutCause(parent, d, cause) // fewer allocations
	}
	ctx, cancel := context.WithCancelCause(parent)
	deadline := clock.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	t := clock.AfterFunc(d, func() { cancel(cause) })
	return &deadlineCtx{Context: ctx, deadline: deadline}, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

var realClockType = reflect.TypeOf(clockwork.NewRealClock())

type deadlineCtx struct {
	context.Context
	deadline time.Time
}

// Deadline reports the earlier of this context's deadline and its parent's
// (computed at creation).
func (c *deadlineCtx) Deadline() (time.Time, bool) {
	return c.deadline, true
}

// Err reports DeadlineExceeded when the context ended by its deadline.
func (c *deadlineCtx) Err() error {
	err := c.Context.Err()
	if err != nil && errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}
