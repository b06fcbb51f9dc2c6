package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modulesDir := fs.String("modules-dir", os.Getenv("WEFT_MODULES_DIR"), "a directory of WASM modules (*.wasm) whose components workflows may name (env WEFT_MODULES_DIR)")
	scriptsDir := fs.String("scripts-dir", os.Getenv("WEFT_SCRIPTS_DIR"), scriptsDirUsage)
	var pf pluginFlags
	pf.register(fs, "")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft validate FILE… [flags]\n\nChecks workflow definitions (JSON or YAML). Prints every problem as FILE: path: message;\nexits 0 when all are valid, 1 when any is not (or cannot be read), 2 on bad usage.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	reg := registry(steps.Options{})
	if err := loadScripts(reg, *scriptsDir); err != nil {
		fmt.Fprintf(stderr, "weft validate: %v\n", err)
		return exitUsage
	}
	release, err := loadModules(ctx, reg, *modulesDir)
	if err != nil {
		fmt.Fprintf(stderr, "weft validate: %v\n", err)
		return exitUsage
	}
	defer release()
	bp, err := startPlugins(ctx, reg, pf, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintf(stderr, "weft validate: %v\n", err)
		return exitUsage
	}
	defer bp.Close(context.WithoutCancel(ctx))
	eng := core.New(core.Options{Registry: reg})
	code := exitOK
	for _, f := range files {
		wf, problems, err := check(ctx, eng, f)
		if err != nil {
			// A file that cannot be read is not valid either: 1, as for a
			// definition with problems; the others are still checked.
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			code = max(code, exitFailed)
			continue
		}
		if len(problems) > 0 {
			printProblems(stdout, f, problems)
			code = max(code, exitFailed)
			continue
		}
		fmt.Fprintf(stdout, "%s: valid (%d steps)\n", f, len(wf.Steps))
	}
	return code
}

// check reads and validates a workflow file. Problems of the definition are
// returned as a list; err is for files that cannot be read.
func check(ctx context.Context, eng *core.Engine, file string) (*core.Workflow, []sdk.Problem, error) {
	wf, plan, problems, err := load(ctx, eng, file)
	if plan != nil {
		_ = plan.Close(ctx)
	}
	return wf, problems, err
}

// load reads a workflow file and compiles it, once.
func load(ctx context.Context, eng *core.Engine, file string) (*core.Workflow, *core.Plan, []sdk.Problem, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, nil, err
	}
	wf, plan, err := eng.Load(ctx, data)
	if err != nil {
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, nil, err
		}
		return wf, nil, ve.Problems, nil
	}
	return wf, plan, nil, nil
}

// printProblems prints one problem per line: FILE: path: message (line L, column C).
func printProblems(w io.Writer, file string, problems []sdk.Problem) {
	for _, p := range problems {
		where := ""
		if p.Line > 0 {
			where = fmt.Sprintf(" (line %d, column %d)", p.Line, p.Column)
		}
		if p.Path == "" {
			fmt.Fprintf(w, "%s: %s%s\n", file, printable(p.Message), where)
			continue
		}
		fmt.Fprintf(w, "%s: %s: %s%s\n", file, printable(p.Path), printable(p.Message), where)
	}
}
