package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
)

const executionsUsage = `Usage:
  weft execute WORKFLOW [--input JSON|@file|@-] [--wait]   start an execution (and follow it)
  weft executions list [--workflow WORKFLOW] [--status S]  the newest executions
  weft executions get ID                                   one execution: every step, every attempt
  weft executions watch ID                                 follow an execution until it ends
  weft executions retry ID [--wait]                        run a failed execution again from its failed steps
  weft executions cancel ID                                cancel an unfinished execution

WORKFLOW is an id or a name. Every command takes --server URL (env WEFT_URL)
and --json. Run "weft executions COMMAND -h" for its flags.
`

func (c cli) cmdExecutions(ctx context.Context, args []string) int {
	return c.subcommands(ctx, "executions", executionsUsage, args, map[string]func(context.Context, []string) int{
		"list":   c.executionsList,
		"get":    c.executionsGet,
		"watch":  c.executionsWatch,
		"retry":  c.executionsRetry,
		"cancel": c.executionsCancel,
	})
}

// accepted is the 202 answer of execute and retry.
type accepted struct {
	ExecutionID string      `json:"executionId"`
	Status      core.Status `json:"status"`
	Location    string      `json:"location"`
}

func (c cli) cmdExecute(ctx context.Context, args []string) int {
	var input, key string
	var wait, quiet bool
	client, cf, rest, code := c.clientCommand("execute", "execute WORKFLOW [--input JSON|@file|@-] [--wait] [flags]", args, 1, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&input, "input", "", "the execution's input: JSON, @file.json, or @- for standard input")
		fs.BoolVar(&wait, "wait", false, "follow the execution until it ends, step by step on stderr; exit 0 only if it COMPLETED")
		fs.BoolVar(&quiet, "quiet", false, "with --wait: no progress lines")
		fs.StringVar(&key, "idempotency-key", "", "an Idempotency-Key: a second execute with the same key starts nothing and answers the first execution")
	})
	if code >= 0 {
		return code
	}
	in, err := readInput(input, c.stdin)
	if err != nil {
		fmt.Fprintf(c.stderr, "weft execute: --input: %v\n", err)
		return exitUsage
	}
	wf, _, err := client.workflow(ctx, rest[0])
	if err != nil {
		return c.fail("execute", err)
	}
	r := request{method: http.MethodPost, path: "/api/v1/workflows/" + url.PathEscape(wf.ID) + "/execute", body: map[string]any{"input": in}}
	if key != "" {
		r.header = http.Header{"Idempotency-Key": {key}}
	}
	var a accepted
	var raw json.RawMessage
	if _, err := client.do(ctx, r, &raw); err != nil {
		return c.fail("execute", err)
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return c.fail("execute", err)
	}
	return c.started(ctx, "execute", client, cf, a, raw, wait, quiet, nil)
}

// started reports an execution that execute or retry started, and follows
// it with --wait.
// before, when not nil, is the execution as it was before a retry: what it
// shows is not reported again.
func (c cli) started(ctx context.Context, name string, client *apiClient, cf clientFlags, a accepted, raw json.RawMessage, wait, quiet bool, before *core.Execution) int {
	if !wait {
		if cf.json {
			_ = printJSON(c.stdout, raw)
			return exitOK
		}
		fmt.Fprintf(c.stdout, "execution %s %s\n", printable(a.ExecutionID), printable(string(a.Status)))
		fmt.Fprintf(c.stderr, "follow it: weft executions watch %s\n", printable(a.ExecutionID))
		return exitOK
	}
	x, err := client.watch(ctx, a.ExecutionID, newProgress(c.stderr, quiet), before)
	if errors.Is(err, context.Canceled) {
		// Ctrl-C stops the following, not the execution.
		id := printable(a.ExecutionID)
		fmt.Fprintf(c.stderr, "weft %s: stopped following execution %s; it goes on on the server (weft executions watch %s; weft executions cancel %s)\n",
			name, id, id, id)
		return exitInterrupted
	}
	if err != nil {
		return c.fail(name, err)
	}
	return c.printFinished(x, cf)
}

// printFinished prints a finished execution, and is the exit code of its
// status.
func (c cli) printFinished(x *core.Execution, cf clientFlags) int {
	if cf.json {
		_ = printJSON(c.stdout, x)
	} else {
		printSummary(c.stdout, x)
	}
	if x.Status == core.StatusCompleted {
		return exitOK
	}
	return exitFailed
}

func (c cli) executionsWatch(ctx context.Context, args []string) int {
	var quiet bool
	client, cf, rest, code := c.clientCommand("executions watch", "executions watch ID [flags]", args, 1, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&quiet, "quiet", false, "no progress lines, only the result")
	})
	if code >= 0 {
		return code
	}
	id, err := executionID(rest[0])
	if err != nil {
		return c.fail("executions watch", err)
	}
	x, err := client.watch(ctx, id, newProgress(c.stderr, quiet), nil)
	if err != nil {
		return c.fail("executions watch", err)
	}
	return c.printFinished(x, cf)
}

func (c cli) executionsRetry(ctx context.Context, args []string) int {
	var wait, quiet bool
	client, cf, rest, code := c.clientCommand("executions retry", "executions retry ID [--wait] [flags]", args, 1, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&wait, "wait", false, "follow the execution until it ends, step by step on stderr; exit 0 only if it COMPLETED")
		fs.BoolVar(&quiet, "quiet", false, "with --wait: no progress lines")
	})
	if code >= 0 {
		return code
	}
	id, err := executionID(rest[0])
	if err != nil {
		return c.fail("executions retry", err)
	}
	path := "/api/v1/executions/" + id
	var before *core.Execution
	if wait { // the attempts made before the retry are not news
		before = new(core.Execution)
		if _, err := client.do(ctx, request{method: http.MethodGet, path: path}, before); err != nil {
			return c.fail("executions retry", err)
		}
	}
	var raw json.RawMessage
	if _, err := client.do(ctx, request{method: http.MethodPost, path: path + "/retry"}, &raw); err != nil {
		return c.fail("executions retry", err)
	}
	var a accepted
	if err := json.Unmarshal(raw, &a); err != nil {
		return c.fail("executions retry", err)
	}
	return c.started(ctx, "executions retry", client, cf, a, raw, wait, quiet, before)
}

func (c cli) executionsCancel(ctx context.Context, args []string) int {
	client, cf, rest, code := c.clientCommand("executions cancel", "executions cancel ID [flags]", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	id, err := executionID(rest[0])
	if err != nil {
		return c.fail("executions cancel", err)
	}
	var raw json.RawMessage
	if _, err := client.do(ctx, request{method: http.MethodPost, path: "/api/v1/executions/" + id + "/cancel"}, &raw); err != nil {
		return c.fail("executions cancel", err)
	}
	if cf.json {
		_ = printJSON(c.stdout, raw)
		return exitOK
	}
	var x core.Execution
	if err := json.Unmarshal(raw, &x); err != nil {
		return c.fail("executions cancel", err)
	}
	fmt.Fprintf(c.stdout, "execution %s %s\n", printable(x.ID), printable(string(x.Status)))
	return exitOK
}

func (c cli) executionsGet(ctx context.Context, args []string) int {
	client, cf, rest, code := c.clientCommand("executions get", "executions get ID [flags]", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	id, err := executionID(rest[0])
	if err != nil {
		return c.fail("executions get", err)
	}
	var raw json.RawMessage
	if _, err := client.do(ctx, request{method: http.MethodGet, path: "/api/v1/executions/" + id}, &raw); err != nil {
		return c.fail("executions get", err)
	}
	if cf.json {
		_ = printJSON(c.stdout, raw)
		return exitOK
	}
	var x core.Execution
	if err := json.Unmarshal(raw, &x); err != nil {
		return c.fail("executions get", err)
	}
	printExecution(c.stdout, &x)
	return exitOK
}

func (c cli) executionsList(ctx context.Context, args []string) int {
	var workflow, status string
	var quiet bool
	limit := 20
	client, cf, _, code := c.clientCommand("executions list", "executions list [--workflow WORKFLOW] [--status S] [--limit N] [-q] [flags]", args, 0, 0, func(fs *flag.FlagSet) {
		quietFlag(fs, &quiet)
		fs.StringVar(&workflow, "workflow", "", "only executions of this workflow (id or name)")
		fs.StringVar(&status, "status", "", "only executions with this status (PENDING, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED, TIMED_OUT)")
		fs.IntVar(&limit, "limit", limit, "at most this many, newest first (0: all)")
	})
	if code >= 0 {
		return code
	}
	if limit < 0 {
		return c.fail("executions list", usageError("--limit: a count, 0 for all"))
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if workflow != "" {
		wf, _, err := client.workflow(ctx, workflow)
		if err != nil {
			return c.fail("executions list", err)
		}
		q.Set("workflowId", wf.ID)
	}
	items, err := listAll[*core.Execution](ctx, client, "/api/v1/executions", q, max(limit, 0))
	if err != nil {
		return c.fail("executions list", err)
	}
	printListing(c, cf, quiet, items, "no executions",
		[]string{"ID", "WORKFLOW", "STATUS", "CREATED", "DURATION", "ERROR"}, func(x *core.Execution) []any {
			dur := "-"
			if x.Status.Terminal() {
				dur = fmtDuration(time.Duration(x.DurationMs) * time.Millisecond)
			}
			return []any{x.ID, x.WorkflowName, x.Status, when(x.CreatedAt), dur, errText(x.Error)}
		})
	return exitOK
}

// printSummary prints how an execution ended: status, error, output.
func printSummary(w io.Writer, x *core.Execution) {
	fmt.Fprintf(w, "execution %s %s in %dms\n", printable(x.ID), printable(string(x.Status)), x.DurationMs)
	if x.Error != nil {
		where := ""
		if x.FailedStep != "" {
			where = " (step " + printable(x.FailedStep) + ")"
		}
		fmt.Fprintf(w, "error%s: %s\n", where, errText(x.Error))
	}
	if x.Output != nil {
		out, _ := json.MarshalIndent(x.Output, "", "  ")
		fmt.Fprintf(w, "output:\n%s\n", out)
	}
}

// printExecution prints an execution: what it is, its steps (with every
// failed attempt), and its error or output.
func printExecution(w io.Writer, x *core.Execution) {
	fmt.Fprintf(w, "execution %s of %s (version %d): %s", printable(x.ID), printable(x.WorkflowName), x.WorkflowVersion, printable(string(x.Status)))
	if x.Status.Terminal() {
		fmt.Fprintf(w, " in %dms", x.DurationMs)
	}
	fmt.Fprintf(w, "\ncreated %s\n\n", when(x.CreatedAt))
	tw := table(w, "STEP", "TYPE", "STATUS", "ATTEMPTS", "DURATION", "ERROR")
	for _, s := range sortedSteps(x) {
		dur := "-"
		if s.Status.Terminal() && s.Status != core.StatusSkipped {
			dur = fmtDuration(time.Duration(s.DurationMs) * time.Millisecond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", printable(s.ID), printable(s.Type), printable(string(s.Status)), s.Attempts, dur, errText(s.Error))
		for _, h := range s.History {
			if h.Error != nil && (h.Attempt != s.Attempts || s.Status != h.Status) {
				fmt.Fprintf(tw, "  attempt %d\t\t%s\t\t%s\t%s\n", h.Attempt, printable(string(h.Status)), fmtDuration(time.Duration(h.DurationMs)*time.Millisecond), errText(h.Error))
			}
		}
	}
	_ = tw.Flush()
	if x.Error != nil {
		fmt.Fprintf(w, "\nerror: %s\n", errText(x.Error))
	}
	if x.Output != nil {
		out, _ := json.MarshalIndent(x.Output, "", "  ")
		fmt.Fprintf(w, "\noutput:\n%s\n", out)
	}
}

// sortedSteps orders an execution's steps as they ran: by start, steps that
// did not start (skipped) last, then by id.
func sortedSteps(x *core.Execution) []*core.StepState {
	steps := make([]*core.StepState, 0, len(x.Steps))
	for id, s := range x.Steps {
		if s.ID == "" {
			s.ID = id
		}
		steps = append(steps, s)
	}
	slices.SortFunc(steps, func(a, b *core.StepState) int {
		switch {
		case a.StartedAt.IsZero() != b.StartedAt.IsZero():
			if a.StartedAt.IsZero() {
				return 1
			}
			return -1
		case !a.StartedAt.Equal(b.StartedAt):
			return a.StartedAt.Compare(b.StartedAt)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return steps
}

// watch polls an execution until it ends, reporting its steps' progress
// since before (nil: since it started).
func (c *apiClient) watch(ctx context.Context, id string, p *progressPrinter, before *core.Execution) (*core.Execution, error) {
	seen := map[string]stepSeen{}
	if before != nil {
		for _, s := range before.Steps {
			seen[s.ID] = stepSeen{status: s.Status, attempts: s.Attempts, history: len(s.History), retried: s.Attempts, started: s.Attempts}
		}
	}
	poll := 50 * time.Millisecond
	headed := false
	defer p.halt()
	for {
		var x core.Execution
		if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/executions/" + url.PathEscape(id)}, &x); err != nil {
			return nil, err
		}
		if x.ID != id || x.Status == "" {
			return nil, &remoteError{Status: http.StatusOK, Message: fmt.Sprintf("GET /api/v1/executions/%s: the answer is not that execution's record", id)}
		}
		if !headed {
			var ids []string
			if x.WorkflowID != "" {
				if wf, _, err := c.workflow(ctx, x.WorkflowID); err == nil {
					ids = stepIDs(wf.Steps)
				}
			}
			p.start(fmt.Sprintf("%s, execution %s", x.WorkflowName, x.ID), ids)
			headed = true
		}
		changed := reportSteps(&x, seen, p)
		if x.Status.Terminal() {
			p.done(x.Status, x.DurationMs)
			return &x, nil
		}
		// Poll often while things move, then back off to two seconds: each
		// look reads the whole record.
		if changed {
			poll = 200 * time.Millisecond
		} else {
			poll = min(poll*3/2, 2*time.Second)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// stepSeen is what the last look at a step showed.
type stepSeen struct {
	status   core.Status
	attempts int
	history  int
	// retried is the last attempt reported as failed and retried; started
	// the last reported as started.
	retried, started int
}

// reportSteps reports what changed in an execution's steps since seen,
// and records what it saw; it says whether anything changed.
func reportSteps(x *core.Execution, seen map[string]stepSeen, p *progressPrinter) bool {
	changed := false
	// What one look shows is reported in the order it happened (a parent
	// ends after its children), not in the order of the steps.
	type event struct {
		at   time.Time
		emit func()
	}
	var events []event
	for _, s := range sortedSteps(x) {
		prev, known := seen[s.ID]
		now := stepSeen{status: s.Status, attempts: s.Attempts, history: len(s.History), retried: prev.retried, started: prev.started}
		if known && prev == now {
			continue
		}
		changed = true
		// Attempts that failed and were retried since the last look (an
		// attempt's record may have been seen while it ran).
		for _, h := range s.History {
			retried := h.RetryDelayMs > 0 || h.Attempt < s.Attempts
			if h.Attempt > now.retried && retried && (h.Status == core.StatusFailed || h.Status == core.StatusTimedOut) {
				events = append(events, event{h.FinishedAt, func() {
					p.retrying(s.ID, s.Type, h.Attempt, h.Error, time.Duration(h.RetryDelayMs)*time.Millisecond)
				}})
				now.retried = h.Attempt
			}
		}
		// An attempt is under way unless the step's last attempt has ended
		// (between two attempts, waiting out a retry delay).
		var last *core.Attempt
		if n := len(s.History); n > 0 {
			last = &s.History[n-1]
		}
		attempt := max(s.Attempts, 1)
		underWay := s.Status == core.StatusRunning && (last == nil || last.Attempt != s.Attempts || !last.Status.Terminal())
		if underWay && attempt > prev.started {
			now.started = attempt
		}
		seen[s.ID] = now
		switch {
		case underWay && attempt > prev.started:
			since := s.StartedAt
			if last != nil && last.Attempt == s.Attempts && !last.StartedAt.IsZero() {
				since = last.StartedAt
			}
			events = append(events, event{since, func() { p.started(s.ID, s.Type, attempt, since) }})
		case s.Status == core.StatusWaiting && prev.status != core.StatusWaiting:
			events = append(events, event{s.StartedAt, func() { p.waiting(s.ID, s.Type) }})
		case s.Status.Terminal() && (!known || prev.status != s.Status || prev.attempts != s.Attempts):
			at := s.FinishedAt
			if at.IsZero() { // skipped: it never ran
				at = x.FinishedAt
			}
			events = append(events, event{at, func() {
				p.finished(s.ID, s.Type, s.Status, s.Attempts, time.Duration(s.DurationMs)*time.Millisecond, s.Error)
			}})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int {
		switch {
		case a.at.IsZero() != b.at.IsZero(): // not known: last
			if a.at.IsZero() {
				return 1
			}
			return -1
		}
		return a.at.Compare(b.at)
	})
	for _, ev := range events {
		ev.emit()
	}
	return changed
}

// stepIDs lists the ids of a workflow's steps, nested ones included (the
// width of the progress lines' step column).
func stepIDs(steps []core.Step) []string {
	var ids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["id"].(string); ok {
				ids = append(ids, id)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	data, _ := json.Marshal(steps)
	var v any
	_ = json.Unmarshal(data, &v)
	walk(v)
	return ids
}
