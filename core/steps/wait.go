package steps

import (
	"context"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Wait is the WAIT step: it waits for duration milliseconds, or until a time
// (RFC 3339), and records itself as WAITING meanwhile. Both may be templates.
// Output: {"waitedMs": n, "resumedAt": time}.
type Wait struct {
	duration *core.ValueTemplate
	until    *core.ValueTemplate
}

var (
	_ core.EngineStep  = (*Wait)(nil)
	_ core.ControlFlow = (*Wait)(nil)
)

// ControlFlow implements core.ControlFlow.
func (*Wait) ControlFlow() {}

// Info implements sdk.Component.
func (*Wait) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeWait, Summary: "Waits for a duration or until a time.",
		New: func() sdk.Component { return &Wait{} }}
}

type waitConfig struct {
	Duration any `json:"duration"`
	Until    any `json:"until"`
}

// Compile implements core.EngineStep.
func (w *Wait) Compile(sc *core.StepCompiler) error {
	var cfg waitConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	switch {
	case cfg.Duration != nil && cfg.Until != nil:
		sc.Problem("", "give duration or until, not both")
	case cfg.Duration != nil:
		if _, err := waitDuration(cfg.Duration); err != nil && !isTemplate(cfg.Duration) {
			sc.Problem("duration", "%s", sdk.AsError(err).Message)
		}
		w.duration = sc.Template(cfg.Duration, "duration")
	case cfg.Until != nil:
		if _, err := waitUntil(cfg.Until); err != nil && !isTemplate(cfg.Until) {
			sc.Problem("until", "%s", sdk.AsError(err).Message)
		}
		w.until = sc.Template(cfg.Until, "until")
	default:
		sc.Problem("", "give duration (milliseconds) or until (an RFC 3339 time)")
	}
	return nil
}

func isTemplate(v any) bool {
	s, ok := v.(string)
	return ok && core.HasTemplate(s)
}

// maxWaitMs bounds WAIT durations well inside time.Duration's range.
const maxWaitMs = 100 * 365.25 * 24 * 3600 * 1000

func waitDuration(v any) (time.Duration, error) {
	f, ok := asNumber(v)
	if !ok || f < 0 {
		return 0, sdk.Errorf(sdk.CodeInvalidConfig, "duration must be a non-negative number of milliseconds, got %s", core.Stringify(v))
	}
	if f > maxWaitMs {
		return 0, sdk.Errorf(sdk.CodeInvalidConfig, "duration %s ms is longer than the maximum of %.0f ms (100 years)", core.Stringify(v), maxWaitMs)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

func waitUntil(v any) (time.Time, error) {
	s, ok := v.(string)
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, sdk.Errorf(sdk.CodeInvalidConfig, "until must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", core.Stringify(v))
}

// Execute implements core.EngineStep.
func (w *Wait) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	start := r.Started() // kept across restarts: the wait is not started over
	var until time.Time
	if w.duration != nil {
		v, err := r.Render(ctx, w.duration)
		if err != nil {
			return nil, err
		}
		d, err := waitDuration(v)
		if err != nil {
			return nil, err
		}
		until = start.Add(d)
	} else {
		v, err := r.Render(ctx, w.until)
		if err != nil {
			return nil, err
		}
		if until, err = waitUntil(v); err != nil {
			return nil, err
		}
	}
	if err := r.Wait(ctx, until); err != nil {
		return nil, err
	}
	now := r.Clock().Now()
	return map[string]any{"waitedMs": float64(now.Sub(start).Milliseconds()), "resumedAt": now.UTC().Format(time.RFC3339Nano)}, nil
}
