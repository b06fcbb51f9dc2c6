package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// progressPrinter writes one line per step event on stderr (what started,
// retried, waited and finished, with attempt and duration) for weft run and
// for the client commands that follow an execution (execute --wait,
// executions watch). On a terminal it also keeps a last line that shows the
// steps running now and for how long, redrawn as the time passes, so that a
// slow step is visibly slow while it runs, not only when it ends.
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	width int
	// live: w is a terminal; the status line is drawn.
	live    bool
	running map[string]runningStep
	drawn   bool // the status line is on the screen
	fd      int  // the terminal, for its width (read at each draw: it may be resized)
	now     func() time.Time
	stop    chan struct{}
	stopped sync.WaitGroup
}

// isTerminalFile reports whether f is a terminal.
func isTerminalFile(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// runningStep is a step the status line shows.
type runningStep struct {
	typ   string
	since time.Time
}

// liveRedraw is how often the status line's times move.
const liveRedraw = 100 * time.Millisecond

func newProgress(w io.Writer, quiet bool) *progressPrinter {
	p := &progressPrinter{w: w, quiet: quiet, running: map[string]runningStep{}, now: time.Now}
	if f, ok := w.(*os.File); ok && !quiet && os.Getenv("TERM") != "dumb" && isTerminalFile(f) {
		p.live, p.fd = true, int(f.Fd())
	}
	return p
}

// start prints the header line and, on a terminal, starts redrawing the
// status line. stepIDs size the step column.
func (p *progressPrinter) start(name string, stepIDs []string) {
	for _, id := range stepIDs {
		p.width = max(p.width, len(id))
	}
	p.width = min(max(p.width, 8), 40)
	if p.quiet {
		return
	}
	fmt.Fprintf(p.w, "▶ %s\n", name)
	if p.live {
		p.stop = make(chan struct{})
		p.stopped.Add(1)
		go func() {
			defer p.stopped.Done()
			t := time.NewTicker(liveRedraw)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.tick()
				}
			}
		}()
	}
}

// tick redraws the status line with the running steps' elapsed times.
func (p *progressPrinter) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
}

// draw writes the status line (p.mu held).
func (p *progressPrinter) draw() {
	if !p.live {
		return
	}
	p.clear()
	if len(p.running) == 0 {
		return
	}
	ids := make([]string, 0, len(p.running))
	for id := range p.running {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := p.running[a].since.Compare(p.running[b].since); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	now := p.now()
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%s %s", id, fmtElapsed(now.Sub(p.running[id].since))))
	}
	// ASCII only, and shorter than the terminal is wide: a line that
	// wraps could not be erased by the next draw.
	line := "  ... running: " + strings.Join(parts, ", ")
	if cols, _, err := term.GetSize(p.fd); err == nil && cols > 4 && len(line) >= cols {
		line = line[:cols-4] + "..."
	}
	fmt.Fprint(p.w, line)
	p.drawn = true
}

// clear erases the status line, so that an event line takes its place
// (p.mu held).
func (p *progressPrinter) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line prints one event line above the status line.
func (p *progressPrinter) line(s string) {
	p.clear()
	fmt.Fprintln(p.w, s)
	p.draw()
}

func (p *progressPrinter) id(stepID string) string {
	return fmt.Sprintf("%-*s", p.width, printable(stepID))
}

var statusMarks = map[core.Status]string{
	core.StatusCompleted: "✓", core.StatusFailed: "✗", core.StatusSkipped: "–",
	core.StatusCancelled: "■", core.StatusTimedOut: "⏱", core.StatusInterrupted: "!",
}

// started reports an attempt of a step that began at since.
func (p *progressPrinter) started(stepID, stepType string, attempt int, since time.Time) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if since.IsZero() {
		since = p.now()
	}
	p.running[printable(stepID)] = runningStep{typ: stepType, since: since}
	p.line(fmt.Sprintf("  … %s %-14s RUNNING   attempt %d", p.id(stepID), printable(stepType), attempt))
}

func (p *progressPrinter) waiting(stepID, stepType string) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, printable(stepID))
	p.line(fmt.Sprintf("  ◷ %s %-14s WAITING", p.id(stepID), printable(stepType)))
}

// retrying reports a failed attempt that is retried (after delay, when
// known).
func (p *progressPrinter) retrying(stepID, stepType string, attempt int, err *sdk.Error, delay time.Duration) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, printable(stepID))
	s := fmt.Sprintf("  ↻ %s %-14s FAILED    attempt %d: %s; retrying", p.id(stepID), printable(stepType), attempt, errText(err))
	if delay > 0 {
		s += " in " + fmtDuration(delay)
	}
	p.line(s)
}

func (p *progressPrinter) finished(stepID, stepType string, status core.Status, attempt int, d time.Duration, err *sdk.Error) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, printable(stepID))
	s := fmt.Sprintf("  %s %s %-14s ", statusMarks[status], p.id(stepID), printable(stepType))
	if status == core.StatusSkipped {
		s += string(status)
	} else {
		s += fmt.Sprintf("%-9s attempt %d  %s", printable(string(status)), attempt, fmtDuration(d))
	}
	if err != nil {
		s += "  " + errText(err)
	}
	p.line(s)
}

// event reports an engine event (weft run).
func (p *progressPrinter) event(ev core.Event) {
	switch ev.Type {
	case core.EventStepStarted:
		p.started(ev.StepID, ev.StepType, ev.Attempt, ev.Time)
	case core.EventStepWaiting:
		p.waiting(ev.StepID, ev.StepType)
	case core.EventStepRetrying:
		p.retrying(ev.StepID, ev.StepType, ev.Attempt, ev.Error, ev.Delay)
	case core.EventStepFinished:
		p.finished(ev.StepID, ev.StepType, ev.Status, ev.Attempt, ev.Duration, ev.Error)
	}
}

// done stops the status line and prints how the execution ended.
func (p *progressPrinter) done(status core.Status, durationMs int64) {
	p.halt()
	if !p.quiet {
		fmt.Fprintf(p.w, "%s %s in %dms\n", statusMarks[status], status, durationMs)
	}
}

// halt stops and erases the status line.
func (p *progressPrinter) halt() {
	if p.stop != nil {
		close(p.stop)
		p.stopped.Wait()
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = map[string]runningStep{}
	p.clear()
}

func errText(e *sdk.Error) string {
	if e == nil {
		return ""
	}
	msg := []rune(printable(e.Message))
	if len(msg) > 160 {
		msg = append(msg[:160], '…')
	}
	return printable(e.Code) + ": " + string(msg)
}

// fmtDuration shows durations to a useful precision: 0.42ms, 12ms, 1.5s.
func fmtDuration(d time.Duration) string {
	switch {
	case d == 0: // a record's whole milliseconds: under one
		return "<1ms"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// fmtElapsed shows a running time to a tenth of a second: 0.3s, 12.5s, 2m05s.
func fmtElapsed(d time.Duration) string {
	d = max(d, 0)
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
