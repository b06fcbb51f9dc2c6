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

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
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

	progress := newProgress(stderr, *quiet)
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
	ids := make([]string, len(wf.Steps))
	for i, s := range wf.Steps {
		ids[i] = s.ID
	}
	progress.start(fmt.Sprintf("%s (%d steps)", wf.Name, len(wf.Steps)), ids)
	exec, err := eng.Execute(ctx, plan, in)
	if err != nil {
		progress.halt()
		fmt.Fprintf(stderr, "weft run: %v\n", err)
		return exitFailed
	}
	progress.done(exec.Status, exec.DurationMs)
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
