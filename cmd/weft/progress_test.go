package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// TestProgressStatusLine: on a terminal, the last line shows the running
// steps and how long they have run, redrawn as time passes and erased
// before each event line; elsewhere there is no such line. The clock is
// the printer's own, moved by hand.
func TestProgressStatusLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := &progressPrinter{w: &buf, live: true, running: map[string]runningStep{}, now: func() time.Time { return now }}
	p.start("wf (2 steps)", []string{"get_lead", "shape"}) // no ticker: p.stop stays nil without a terminal? it is live here
	p.halt()                                               // stop the ticker; the test draws by hand
	buf.Reset()

	p.started("get_lead", "HTTP_REQUEST", 1, now)
	require.Equal(t, "  … get_lead HTTP_REQUEST   RUNNING   attempt 1\n  ... running: get_lead 0.0s", buf.String())
	buf.Reset()
	now = now.Add(2500 * time.Millisecond)
	p.tick()
	require.Equal(t, "\r\x1b[K  ... running: get_lead 2.5s", buf.String(), "the time moves on the same line")
	buf.Reset()
	now = now.Add(70 * time.Second)
	p.started("shape", "DATA_TRANSFORM", 1, now.Add(-time.Second))
	require.Equal(t, "\r\x1b[K  … shape    DATA_TRANSFORM RUNNING   attempt 1\n  ... running: get_lead 1m12s, shape 1.0s", buf.String())
	buf.Reset()
	p.retrying("get_lead", "HTTP_REQUEST", 1, &sdk.Error{Code: "HTTP_503", Message: "down"}, 100*time.Millisecond)
	require.Equal(t, "\r\x1b[K  ↻ get_lead HTTP_REQUEST   FAILED    attempt 1: HTTP_503: down; retrying in 100ms\n  ... running: shape 1.0s", buf.String())
	buf.Reset()
	p.finished("shape", "DATA_TRANSFORM", core.StatusCompleted, 1, 3*time.Millisecond, nil)
	require.Equal(t, "\r\x1b[K  ✓ shape    DATA_TRANSFORM COMPLETED attempt 1  3ms\n", buf.String(), "nothing runs: no status line")
	buf.Reset()
	p.done(core.StatusCompleted, 73000)
	require.Equal(t, "✓ COMPLETED in 73000ms\n", buf.String())

	// Not a terminal: event lines only.
	buf.Reset()
	plain := newProgress(&buf, false)
	plain.start("wf", []string{"a"})
	plain.started("a", "WAIT", 1, time.Time{})
	plain.tick()
	plain.done(core.StatusCompleted, 1)
	require.NotContains(t, buf.String(), "running:")
	require.NotContains(t, buf.String(), "\x1b")
	require.Equal(t, 3, strings.Count(buf.String(), "\n"))
}

func TestFmtElapsed(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "0.0s", -time.Second: "0.0s", 1234 * time.Millisecond: "1.2s", 59900 * time.Millisecond: "59.9s", 125 * time.Second: "2m05s"} {
		require.Equal(t, want, fmtElapsed(d), "%v", d)
	}
}
