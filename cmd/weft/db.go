package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/scripting/library"
)

// dbFlags are the database flags shared by the commands that use one.
type dbFlags struct {
	dsn         string
	synchronous string
}

func (f *dbFlags) register(fs *flag.FlagSet, def string) {
	f.dsn = envOr("WEFT_DB", def)
	f.synchronous = envOr("WEFT_SQLITE_SYNCHRONOUS", "FULL")
	fs.StringVar(&f.dsn, "db", f.dsn, "database: an SQLite file or a postgres:// URL (env WEFT_DB)")
	fs.StringVar(&f.synchronous, "sqlite-synchronous", f.synchronous, "SQLite synchronous mode: FULL survives power loss, NORMAL a process crash (env WEFT_SQLITE_SYNCHRONOUS)")
}

func (f *dbFlags) open(ctx context.Context, migrate bool) (*db.DB, error) {
	return db.Open(ctx, f.dsn, db.Options{Synchronous: f.synchronous, NoMigrate: !migrate})
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dbf dbFlags
	dbf.register(fs, "weft.db")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft migrate [--db weft.db|postgres://…]\n\nApplies the database migrations this weft knows. weft serve, worker and run --db\nalso apply them at start; a database migrated by a newer weft is refused.\n\nFlags:")
		fs.PrintDefaults()
	}
	if rest, err := parseArgs(fs, args); err != nil || len(rest) > 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	d, err := dbf.open(ctx, false)
	if err != nil {
		fmt.Fprintf(stderr, "weft migrate: %v\n", err)
		return exitFailed
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "weft migrate: %v\n", err)
		return exitFailed
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "the database is up to date")
		return exitOK
	}
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	return exitOK
}

// engineFlags configure an engine that runs executions from a database.
type engineFlags struct {
	dbFlags
	egressFlags
	concurrency int
	lease       time.Duration
	owner       string
	modulesDir  string
	scriptsDir  string
	syncEvery   time.Duration
	pluginFlags
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	f.dbFlags.register(fs, "weft.db")
	f.egressFlags.register(fs)
	f.concurrency, _ = strconv.Atoi(envOr("WEFT_CONCURRENCY", "32"))
	f.lease, _ = time.ParseDuration(envOr("WEFT_LEASE", "30s"))
	fs.IntVar(&f.concurrency, "concurrency", f.concurrency, "executions run at once (env WEFT_CONCURRENCY)")
	fs.DurationVar(&f.lease, "lease", f.lease, "how long an execution stays claimed without renewal; another worker takes it over after (env WEFT_LEASE)")
	fs.StringVar(&f.owner, "name", os.Getenv("WEFT_WORKER_NAME"), "this worker's name in leases (default host:pid:random; env WEFT_WORKER_NAME)")
	fs.StringVar(&f.modulesDir, "modules-dir", os.Getenv("WEFT_MODULES_DIR"), "a directory of WASM modules (*.wasm) to load as transforms, validators and WASM steps (env WEFT_MODULES_DIR)")
	fs.StringVar(&f.scriptsDir, "scripts-dir", os.Getenv("WEFT_SCRIPTS_DIR"), scriptsDirUsage)
	f.syncEvery, _ = time.ParseDuration(envOr("WEFT_SYNC_INTERVAL", library.DefaultSyncInterval.String()))
	f.pluginFlags.register(fs, defaultPluginsDir)
	fs.DurationVar(&f.syncEvery, "sync-interval", f.syncEvery, "how often to load the transformation rules and WASM modules other instances stored, changed or deleted (env WEFT_SYNC_INTERVAL)")
}

// extensions are what an engine runs besides the built-in steps: the
// stored rules and modules (lib, to keep in sync with lib.Run) and the
// plugins.
type extensions struct {
	lib     *library.Library
	plugins *boundPlugins
}

// engine builds an engine on the database with the built-in steps, LUA,
// the Lua scripts of --scripts-dir, the WASM modules of --modules-dir, the
// rules and modules stored in the database and the plugins of
// --plugins-dir; close stops the plugins and releases the modules once the
// engine is done.
func (f *engineFlags) engine(ctx context.Context, d *db.DB, logger *slog.Logger, observer func(core.Event)) (eng *core.Engine, ext extensions, close func(), err error) {
	eo, err := f.egressFlags.options()
	if err != nil {
		return nil, ext, nil, err
	}
	reg := registry(steps.Options{Client: egress.NewClient(eo)})
	if err := loadScripts(reg, f.scriptsDir); err != nil {
		return nil, ext, nil, err
	}
	lib, closeModules, err := loadLibrary(ctx, reg, d, f.modulesDir, logger)
	if err != nil {
		return nil, ext, nil, err
	}
	bp, err := startPlugins(ctx, reg, f.pluginFlags, logger)
	if err != nil {
		closeModules()
		return nil, ext, nil, err
	}
	close = func() {
		_ = bp.Close(context.WithoutCancel(ctx))
		closeModules()
	}
	return core.New(core.Options{
		Registry:      reg,
		Store:         d.Store(),
		Secrets:       core.EnvSecrets{},
		Logger:        logger,
		Observer:      observer,
		LeaseDuration: f.lease,
		Owner:         f.owner,
	}), extensions{lib: lib, plugins: bp}, close, nil
}

func cmdWorker(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ef engineFlags
	ef.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft worker [--db weft.db|postgres://…] [flags]\n\nRuns executions from the database until SIGINT or SIGTERM: submitted ones, parked\nones whose wake time has come, and those of workers that stopped. Several workers\nmay share one PostgreSQL database.\n\nFlags:")
		fs.PrintDefaults()
	}
	if rest, err := parseArgs(fs, args); err != nil || len(rest) > 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := ef.open(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "weft worker: %v\n", err)
		return exitFailed
	}
	defer d.Close()
	eng, ext, closeExtensions, err := ef.engine(ctx, d, logger, func(ev core.Event) {
		if ev.Type == core.EventExecutionFinished {
			logger.Info("execution finished", "execution", ev.ExecutionID, "status", ev.Status, "ms", ev.Duration.Milliseconds())
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "weft worker: %v\n", err)
		return exitUsage
	}
	defer closeExtensions()
	go ext.lib.Run(ctx, ef.syncEvery)
	logger.Info("worker started", "db", d.Dialect(), "name", eng.Owner(), "concurrency", ef.concurrency, "lease", ef.lease)
	if err := eng.Work(ctx, core.WorkOptions{Concurrency: ef.concurrency}); err != nil {
		fmt.Fprintf(stderr, "weft worker: %v\n", err)
		return exitFailed
	}
	logger.Info("worker stopped")
	return exitOK
}

func cmdSubmit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dbf dbFlags
	dbf.register(fs, "weft.db")
	input := fs.String("input", "", "execution input: JSON, @file.json, or @- for standard input")
	count := fs.Int("count", 1, "number of executions to submit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft submit FILE [--db …] [--input JSON|@file] [--count N]\n\nStores a workflow's definition and submits executions of it for workers to run;\nprints their ids.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) != 1 || *count < 1 {
		fs.Usage()
		return exitUsage
	}
	in, err := readInput(*input, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "weft submit: --input: %v\n", err)
		return exitUsage
	}
	d, err := dbf.open(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "weft submit: %v\n", err)
		return exitFailed
	}
	defer d.Close()
	eng := core.New(core.Options{Registry: registry(steps.Options{}), Store: d.Store()})
	_, plan, problems, err := load(ctx, eng, files[0])
	if err != nil {
		fmt.Fprintf(stderr, "weft submit: %v\n", err)
		return exitUsage
	}
	if len(problems) > 0 {
		printProblems(stderr, files[0], problems)
		return exitUsage
	}
	defer plan.Close(context.WithoutCancel(ctx))
	var ids []string
	for range *count {
		id, err := eng.Submit(ctx, plan, in)
		if err != nil {
			fmt.Fprintf(stderr, "weft submit: %v\n", err)
			return exitFailed
		}
		ids = append(ids, id)
	}
	fmt.Fprintln(stdout, strings.Join(ids, "\n"))
	return exitOK
}
