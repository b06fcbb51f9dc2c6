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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/weftworks/weft/core"
)

// cli is what a client command writes to and reads from.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// clientCommand parses a client command's arguments: the shared flags
// (--server, --json), the command's own (set up by flags), and between
// minArgs and maxArgs positional arguments (maxArgs < 0: no maximum). ok is
// false after a usage error, which has been printed.
func (c cli) clientCommand(name, usage string, args []string, minArgs, maxArgs int, flags func(fs *flag.FlagSet)) (client *apiClient, cf clientFlags, rest []string, code int) {
	fs := flag.NewFlagSet("weft "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cf.register(fs)
	if flags != nil {
		flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: weft %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
		fmt.Fprint(c.stderr, clientFooter)
	}
	rest, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, cf, nil, exitOK
	}
	if err != nil {
		return nil, cf, nil, exitUsage
	}
	if len(rest) < minArgs || (maxArgs >= 0 && len(rest) > maxArgs) {
		fmt.Fprintf(c.stderr, "weft %s: wrong number of arguments\n", name)
		fs.Usage()
		return nil, cf, nil, exitUsage
	}
	client, err = newClient(cf, c.stderr)
	if err != nil {
		fmt.Fprintf(c.stderr, "weft %s: %v\n", name, err)
		return nil, cf, nil, exitUsage
	}
	return client, cf, rest, -1
}

// clientFooter ends the usage of every client command.
const clientFooter = `
The API key is WEFT_API_KEY, else the one the credentials file keeps for the
server (weft serve writes the key it creates on first start there; so does
weft auth login). Exit codes: 0 done (an execution COMPLETED), 1 the server
refused or an execution FAILED, TIMED_OUT or CANCELLED, 2 bad usage, 3 the
server cannot be reached, 4 no valid API key, or its role may not do this.
`

// fail prints a client command's error and returns its exit code.
func (c cli) fail(name string, err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(c.stderr, "weft %s: interrupted\n", name)
		return exitInterrupted
	}
	fmt.Fprintf(c.stderr, "weft %s: %v\n", name, err)
	return exitCode(err)
}

// executionID checks an execution id before it goes into a URL: ids are
// UUIDs, and ".", ".." or "a/b" would name another endpoint.
func executionID(id string) (string, error) {
	if _, err := uuid.Parse(id); err != nil {
		return "", usageError(fmt.Sprintf("%q is not an execution id (weft executions list shows them)", id))
	}
	return id, nil
}

// subcommands dispatches `weft GROUP SUB …` to one of subs, suggesting
// the nearest for a typo.
func (c cli) subcommands(ctx context.Context, group, usage string, args []string, subs map[string]func(context.Context, []string) int) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	run, ok := subs[args[0]]
	if !ok {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		fmt.Fprintf(c.stderr, "weft %s: unknown command %q%s\n\n%s", group, args[0], didYouMean(args[0], names), usage)
		return exitUsage
	}
	return run(ctx, args[1:])
}

// --- workflows ---

const workflowsUsage = `Usage:
  weft workflows list [--status S] [--category C] [--name N]   the workflows of the catalog
  weft workflows get WORKFLOW                                  one workflow and its steps
  weft workflows apply FILE… [--var NAME=VALUE]                create or update workflows by name
  weft workflows delete WORKFLOW                               delete a workflow (its executions stay)

WORKFLOW is an id or a name. Every command takes --server URL (env WEFT_URL)
and --json. Run "weft workflows COMMAND -h" for its flags.
`

func (c cli) cmdWorkflows(ctx context.Context, args []string) int {
	return c.subcommands(ctx, "workflows", workflowsUsage, args, map[string]func(context.Context, []string) int{
		"list":   c.workflowsList,
		"get":    c.workflowsGet,
		"apply":  c.workflowsApply,
		"delete": c.workflowsDelete,
	})
}

func (c cli) workflowsList(ctx context.Context, args []string) int {
	var status, category, name string
	var limit int
	var quiet bool
	client, cf, _, code := c.clientCommand("workflows list", "workflows list [--status S] [--category C] [--name N] [--limit N] [-q] [flags]", args, 0, 0, func(fs *flag.FlagSet) {
		quietFlag(fs, &quiet)
		fs.StringVar(&status, "status", "", "only workflows with this status (DRAFT, ACTIVE, PAUSED, …)")
		fs.StringVar(&category, "category", "", "only workflows of this category")
		fs.StringVar(&name, "name", "", "only workflows of exactly this name")
		fs.IntVar(&limit, "limit", 0, "at most this many (default: all)")
	})
	if code >= 0 {
		return code
	}
	if limit < 0 {
		return c.fail("workflows list", usageError("--limit: a count, 0 for all"))
	}
	q := url.Values{}
	for k, v := range map[string]string{"status": status, "category": category, "name": name} {
		if v != "" {
			q.Set(k, v)
		}
	}
	items, err := listAll[*core.WorkflowInfo](ctx, client, "/api/v1/workflows", q, limit)
	if err != nil {
		return c.fail("workflows list", err)
	}
	printListing(c, cf, quiet, items, "no workflows (add one: weft workflows apply FILE)",
		[]string{"ID", "NAME", "VERSION", "STATUS", "STEPS", "UPDATED"}, func(wf *core.WorkflowInfo) []any {
			return []any{wf.ID, wf.Name, wf.Version, wf.Status, len(wf.Steps), when(wf.UpdatedAt)}
		})
	return exitOK
}

func (c cli) workflowsGet(ctx context.Context, args []string) int {
	client, cf, rest, code := c.clientCommand("workflows get", "workflows get WORKFLOW [flags]", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	wf, raw, err := client.workflow(ctx, rest[0])
	if err != nil {
		return c.fail("workflows get", err)
	}
	if cf.json {
		_ = printJSON(c.stdout, raw)
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nNAME\t%s\nVERSION\t%d\nSTATUS\t%s\n", printable(wf.ID), printable(wf.Name), wf.Version, printable(string(wf.Status)))
	if wf.Category != "" {
		fmt.Fprintf(tw, "CATEGORY\t%s\n", printable(wf.Category))
	}
	if wf.Description != "" {
		fmt.Fprintf(tw, "DESCRIPTION\t%s\n", printable(wf.Description))
	}
	fmt.Fprintf(tw, "CREATED\t%s\nUPDATED\t%s\n", when(wf.CreatedAt), when(wf.UpdatedAt))
	_ = tw.Flush()
	fmt.Fprintln(c.stdout)
	tw = table(c.stdout, "STEP", "TYPE", "AFTER")
	for _, s := range wf.Steps {
		after := strings.Join(s.DependsOn, ", ")
		if after == "" && s.Order != 0 {
			after = fmt.Sprintf("order %d", s.Order)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(s.ID), printable(s.Type), printable(after))
	}
	_ = tw.Flush()
	return exitOK
}

func (c cli) workflowsDelete(ctx context.Context, args []string) int {
	client, cf, rest, code := c.clientCommand("workflows delete", "workflows delete WORKFLOW [flags]", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	wf, _, err := client.workflow(ctx, rest[0])
	if err == nil {
		_, err = client.do(ctx, request{method: http.MethodDelete, path: "/api/v1/workflows/" + url.PathEscape(wf.ID)}, nil)
	}
	if err != nil {
		return c.fail("workflows delete", err)
	}
	if cf.json {
		_ = printJSON(c.stdout, map[string]any{"id": wf.ID, "name": wf.Name, "deleted": true})
		return exitOK
	}
	fmt.Fprintf(c.stdout, "deleted workflow %s (%s)\n", printable(wf.ID), printable(wf.Name))
	return exitOK
}

// workflow finds a workflow by id or by name: a name must be unique.
func (c *apiClient) workflow(ctx context.Context, ref string) (*core.WorkflowInfo, json.RawMessage, error) {
	if strings.TrimSpace(ref) == "" {
		// An unset shell variable must not name "every workflow".
		return nil, nil, usageError("the workflow is empty: give its id or name")
	}
	if _, err := uuid.Parse(ref); err == nil {
		var raw json.RawMessage
		_, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/workflows/" + url.PathEscape(ref)}, &raw)
		var re *remoteError
		if !errors.As(err, &re) || re.Status != http.StatusNotFound {
			if err != nil {
				return nil, nil, err
			}
			var wf core.WorkflowInfo
			if err := json.Unmarshal(raw, &wf); err != nil {
				return nil, nil, err
			}
			return &wf, raw, nil
		}
		// Not an id after all: it may be a name that looks like one.
	}
	items, err := listAll[json.RawMessage](ctx, c, "/api/v1/workflows", url.Values{"name": {ref}}, 0)
	if err != nil {
		return nil, nil, err
	}
	switch len(items) {
	case 0:
		return nil, nil, &remoteError{Status: http.StatusNotFound, Code: "NOT_FOUND",
			Message: fmt.Sprintf("no workflow has the id or name %q (weft workflows list shows them)", ref)}
	case 1:
		var wf core.WorkflowInfo
		if err := json.Unmarshal(items[0], &wf); err != nil {
			return nil, nil, err
		}
		return &wf, items[0], nil
	}
	return nil, nil, ambiguousName(ref, items)
}

// ambiguousName is the error of a name several workflows have.
func ambiguousName(name string, items []json.RawMessage) error {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		var wf struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(it, &wf)
		ids = append(ids, wf.ID)
	}
	return &remoteError{Status: http.StatusConflict, Code: "AMBIGUOUS",
		Message: fmt.Sprintf("%d workflows are named %q: %s; name one by its id", len(items), name, strings.Join(ids, ", "))}
}

// listAll follows a listing's cursors, up to limit items (0: all).
func listAll[T any](ctx context.Context, c *apiClient, path string, q url.Values, limit int) ([]T, error) {
	var all []T
	q = cloneValues(q)
	seen := map[string]bool{}
	for {
		page := 500
		if limit > 0 {
			page = min(page, limit-len(all))
		}
		q.Set("limit", fmt.Sprint(page))
		var p core.Page[T]
		if _, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.Next == "" || (limit > 0 && len(all) >= limit) {
			return all, nil
		}
		if seen[p.Next] || len(p.Items) == 0 {
			return nil, &remoteError{Status: http.StatusOK, Message: fmt.Sprintf("GET %s: the server's pages do not end (a cursor given twice, or an empty page with a next one)", path)}
		}
		seen[p.Next] = true
		q.Set("cursor", p.Next)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// printListing prints a listing: the server's JSON with --json, the ids
// with -q, else a table of header and a row per item (the first column is
// the id); an empty table says so on stderr with none.
func printListing[T any](c cli, cf clientFlags, quiet bool, items []T, none string, header []string, row func(T) []any) {
	if cf.json {
		_ = printJSON(c.stdout, map[string]any{"items": items})
		return
	}
	if quiet {
		for _, it := range items {
			fmt.Fprintln(c.stdout, printable(fmt.Sprint(row(it)[0])))
		}
		return
	}
	tw := table(c.stdout, header...)
	for _, it := range items {
		cells := row(it)
		for i, cell := range cells {
			sep := "\t"
			if i == len(cells)-1 {
				sep = "\n"
			}
			fmt.Fprint(tw, printable(fmt.Sprint(cell)), sep)
		}
	}
	_ = tw.Flush()
	if len(items) == 0 {
		fmt.Fprintln(c.stderr, none)
	}
}

// quietFlag registers -q and --quiet: a listing prints only ids, one a
// line, for the shell (ID=$(weft executions list --status FAILED --limit 1 -q)).
func quietFlag(fs *flag.FlagSet, quiet *bool) {
	fs.BoolVar(quiet, "q", false, "print only the ids, one a line")
	fs.BoolVar(quiet, "quiet", false, "the same as -q")
}

// printable makes a string from the server safe to print on a terminal:
// control characters (escape sequences that would move the cursor, clear
// the screen or write the clipboard; tabs and newlines that would make
// false rows) are shown escaped, as Go quotes them. A name is whatever a
// workflow's author typed.
func printable(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError || r == '\u2028' || r == '\u2029'
}

// usageError is bad input to a command found after its flags were parsed:
// exit 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// table starts a tabwriter with a header row.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// when shows a time in the local zone, to the second ("-" for none).
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
