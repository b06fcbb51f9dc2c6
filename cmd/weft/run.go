package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/sdk"
)

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "", "execution input: JSON, @file.json, or @- for standard input")
	asJSON := fs.Bool("json", false, "print the execution record as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	dsn := fs.String("db", "", "record the execution in this database (SQLite file or postgres:// URL); default: in memory")
	sync := fs.String("sqlite-synchronous", envOr("WEFT_SQLITE_SYNCHRONOUS", "FULL"), "SQLite synchronous mode (FULL or NORMAL)")
	modulesDir := fs.String("modules-dir", os.Getenv("WEFT_MODULES_DIR"), "a directory of WASM modules (*.wasm) to load (env WEFT_MODULES_DIR)")
	scriptsDir := fs.String("scripts-dir", os.Getenv("WEFT_SCRIPTS_DIR"), scriptsDirUsage)
	var eg egressFlags
	eg.register(fs)
	var pf pluginFlags
	pf.register(fs, "")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft run FILE [flags]\n\nRuns a workflow in this process, with progress on stderr; in memory, or recorded\nin a database with --db. Secrets come from WEFT_SECRET_<NAME> environment\nvariables. Exit 0 COMPLETED, 1 FAILED, TIMED_OUT or CANCELLED, 2 bad usage or\ninvalid workflow.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "weft run: give exactly one workflow file")
		fs.Usage()
		return exitUsage
	}
	in, err := readInput(*input, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "weft run: --input: %v\n", err)
		return exitUsage
	}
	egressOpts, err := eg.options()
	if err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitUsage
	}

	progress := &progressPrinter{w: stderr, quiet: *quiet}
	reg := registry(steps.Options{Client: egress.NewClient(egressOpts)})
	if err := loadScripts(reg, *scriptsDir); err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitUsage
	}
	release, err := loadModules(ctx, reg, *modulesDir)
	if err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitUsage
	}
	defer release()
	bp, err := startPlugins(ctx, reg, pf, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitUsage
	}
	defer bp.Close(context.WithoutCancel(ctx))
	opts := core.Options{
		Registry: reg,
		Secrets:  core.EnvSecrets{},
		Observer: progress.event,
	}
	if *dsn != "" {
		// Recorded in the database and claimed by this process: if it dies,
		// a worker on the same database resumes the execution.
		d, err := db.Open(ctx, *dsn, db.Options{Synchronous: *sync})
		if err != nil {
			fmt.Fprintf(stderr, "weft run: %v\n", err)
			return exitFailed
		}
		defer d.Close()
		opts.Store = d.Store()
	}
	eng := core.New(opts)
	wf, plan, problems, err := load(ctx, eng, files[0])
	if err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitUsage
	}
	if len(problems) > 0 {
		printProblems(stderr, files[0], problems)
		return exitUsage
	}
	defer plan.Close(context.WithoutCancel(ctx))
	progress.start(wf)
	exec, err := eng.Execute(ctx, plan, in)
	if err != nil {
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitFailed
	}
	progress.done(exec)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(exec); err != nil {
			fmt.Fprintf(stderr, "weft run: cannot print the execution record: %v\n", err)
			return exitFailed
		}
	} else {
		printSummary(stdout, exec)
	}
	if exec.Status == core.StatusCompleted {
		return exitOK
	}
	return exitFailed
}

// readInput reads --input: inline JSON, @file, or @- for stdin.
func readInput(arg string, stdin io.Reader) (any, error) {
	if arg == "" {
		return map[string]any{}, nil
	}
	data := []byte(arg)
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		var err error
		if name == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, core.MaxDefinitionBytes))
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, err
		}
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, err)
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return v, nil
}

func printSummary(w io.Writer, exec *core.Execution) {
	fmt.Fprintf(w, "execution %s %s in %dms\n", exec.ID, exec.Status, exec.DurationMs)
	if exec.Error != nil {
		fmt.Fprintf(w, "error: %s: %s\n", exec.Error.Code, exec.Error.Message)
	}
	if exec.Output != nil {
		out, _ := json.MarshalIndent(exec.Output, "", "  ")
		fmt.Fprintf(w, "output:\n%s\n", out)
	}
}

// progressPrinter writes one line per step event on stderr: what started,
// retried, waited and finished, with attempt and duration.
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	width int
}

func (p *progressPrinter) start(wf *core.Workflow) {
	for _, s := range wf.Steps {
		p.width = max(p.width, len(s.ID))
	}
	p.width = min(max(p.width, 8), 40)
	if !p.quiet {
		fmt.Fprintf(p.w, "▶ %s (%d steps)\n", wf.Name, len(wf.Steps))
	}
}

var statusMarks = map[core.Status]string{
	core.StatusCompleted: "✓", core.StatusFailed: "✗", core.StatusSkipped: "–",
	core.StatusCancelled: "■", core.StatusTimedOut: "⏱", core.StatusInterrupted: "!",
}

func (p *progressPrinter) event(ev core.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	id := fmt.Sprintf("%-*s", p.width, ev.StepID)
	switch ev.Type {
	case core.EventStepStarted:
		fmt.Fprintf(p.w, "  … %s %-14s RUNNING   attempt %d\n", id, ev.StepType, ev.Attempt)
	case core.EventStepWaiting:
		fmt.Fprintf(p.w, "  ◷ %s %-14s WAITING\n", id, ev.StepType)
	case core.EventStepRetrying:
		fmt.Fprintf(p.w, "  ↻ %s %-14s FAILED    attempt %d: %s; retrying in %s\n", id, ev.StepType, ev.Attempt, errText(ev.Error), fmtDuration(ev.Delay))
	case core.EventStepFinished:
		mark := statusMarks[ev.Status]
		line := fmt.Sprintf("  %s %s %-14s %-9s", mark, id, ev.StepType, ev.Status)
		if ev.Status != core.StatusSkipped {
			line += fmt.Sprintf(" attempt %d  %s", ev.Attempt, fmtDuration(ev.Duration))
		}
		if ev.Error != nil {
			line += "  " + errText(ev.Error)
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *progressPrinter) done(exec *core.Execution) {
	if p.quiet {
		return
	}
	fmt.Fprintf(p.w, "%s %s in %dms\n", statusMarks[exec.Status], exec.Status, exec.DurationMs)
}

func errText(e *sdk.Error) string {
	if e == nil {
		return ""
	}
	msg := e.Message
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return e.Code + ": " + msg
}

// fmtDuration shows durations to a useful precision: 0.42ms, 12ms, 1.5s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
