package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/server"
)

// serveFlags configure weft serve.
type serveFlags struct {
	engineFlags
	addr     string
	load     listFlag
	noAuth   bool
	maxBody  int64
	shutdown time.Duration
	// maxModuleSize caps POST /api/v1/modules, apart from maxBody.
	maxModuleSize int64
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.engineFlags.register(fs)
	f.addr = envOr("WEFT_ADDR", "127.0.0.1:8080")
	f.noAuth = envOr("WEFT_NO_AUTH", "") == "true"
	f.maxBody, _ = strconv.ParseInt(envOr("WEFT_MAX_BODY", strconv.Itoa(server.DefaultMaxBody)), 10, 64)
	f.shutdown, _ = time.ParseDuration(envOr("WEFT_SHUTDOWN_TIMEOUT", "30s"))
	fs.StringVar(&f.addr, "addr", f.addr, "address to listen on (env WEFT_ADDR)")
	fs.Var(&f.load, "load", "workflow files to add to the catalog at start, unless one of the same name is there (repeatable)")
	fs.BoolVar(&f.noAuth, "no-auth", f.noAuth, "serve without API keys, every caller an admin: local development only, refused unless --addr is loopback (env WEFT_NO_AUTH=true)")
	fs.Int64Var(&f.maxBody, "max-body", f.maxBody, "largest request body accepted, in bytes (env WEFT_MAX_BODY)")
	f.maxModuleSize, _ = strconv.ParseInt(envOr("WEFT_MAX_MODULE_SIZE", strconv.Itoa(server.DefaultMaxModuleSize)), 10, 64)
	fs.Int64Var(&f.maxModuleSize, "max-module-size", f.maxModuleSize, "largest WASM module accepted by POST /api/v1/modules, in bytes (env WEFT_MAX_MODULE_SIZE)")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", f.shutdown, "on SIGTERM/SIGINT, how long running steps may take to finish; the rest resume at the next start (env WEFT_SHUTDOWN_TIMEOUT)")
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serveFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: weft serve [--addr 127.0.0.1:8080] [--db weft.db|postgres://…] [flags]\n\nServes the REST API and runs executions until SIGINT or SIGTERM. Migrations are\napplied at start. On a database without API keys, an admin key is created and\nprinted once.\n\nFlags:")
		fs.PrintDefaults()
	}
	if rest, err := parseArgs(fs, args); err != nil || len(rest) > 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	if sf.noAuth && !server.IsLoopback(sf.addr) {
		fmt.Fprintf(stderr, "weft serve: --no-auth is refused on %s: it is only for a loopback address such as 127.0.0.1:8080\n", sf.addr)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := sf.open(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitFailed
	}
	defer d.Close()
	var srv *server.Server
	eng, ext, closeExtensions, err := sf.engine(ctx, d, logger, func(ev core.Event) {
		if srv != nil {
			srv.Observe(ev)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitUsage
	}
	defer closeExtensions() // after the engine has drained: plugins stop last
	store := d.Store()
	srv, err = server.New(server.Options{
		Engine: eng, Catalog: store, Keys: store, Logger: logger, MaxBody: sf.maxBody, NoAuth: sf.noAuth,
		Rules: ext.lib, Modules: ext.lib, MaxModuleSize: sf.maxModuleSize, Plugins: ext.plugins,
		Ready: func(ctx context.Context) error { return ready(ctx, d) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitFailed
	}
	loaded, err := loadWorkflows(ctx, eng, store, sf.load, logger)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitFailed
	}
	if !sf.noAuth {
		if err := firstAdminKey(ctx, store, ln.Addr().String(), loaded, stdout); err != nil {
			fmt.Fprintf(stderr, "weft serve: %v\n", err)
			return exitFailed
		}
	}
	go ext.lib.Run(ctx, sf.syncEvery) // rules and modules other instances change
	logger.Info("serving", "addr", ln.Addr().String(), "db", d.Dialect(), "auth", !sf.noAuth)
	return serve(ctx, ln, srv, eng, sf, logger, stderr)
}

// serve runs the HTTP server and the claim loop until ctx ends, then shuts
// down: no new requests or claims, running steps get sf.shutdown to finish.
func serve(ctx context.Context, ln net.Listener, h http.Handler, eng *core.Engine, sf serveFlags, logger *slog.Logger, stderr io.Writer) int {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	worked := make(chan error, 1)
	go func() { worked <- eng.Work(workCtx, core.WorkOptions{Concurrency: sf.concurrency, Drain: sf.shutdown}) }()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		code = exitFailed
	case err := <-worked:
		fmt.Fprintf(stderr, "weft serve: claim loop stopped: %v\n", err)
		code = exitFailed
	}
	// No new requests nor claims; requests and executions under way get
	// sf.shutdown to finish. Executions still running then stop, and resume
	// from their checkpoints at the next start (or on another instance).
	logger.Info("shutting down", "timeout", sf.shutdown)
	stopWork()
	sctx, cancel := context.WithTimeout(context.Background(), sf.shutdown)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("http shutdown", "err", err)
	}
	select {
	case <-worked:
	case <-time.After(sf.shutdown + 10*time.Second):
		logger.Warn("executions did not stop in time; they resume at the next start")
	}
	logger.Info("stopped")
	return code
}

// ready is /ready: the database answers and has every migration applied.
func ready(ctx context.Context, d *db.DB) error {
	if err := d.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	pending, err := d.Pending(ctx)
	if err != nil {
		return fmt.Errorf("database migrations: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d database migrations not applied", len(pending))
	}
	return nil
}

// firstAdminKey creates an admin key on a database that has none and prints
// it, once (it is stored only as a hash), with curl lines to try.
func firstAdminKey(ctx context.Context, keys server.Keys, addr string, loaded []*core.WorkflowInfo, stdout io.Writer) error {
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return fmt.Errorf("count API keys: %w", err)
	}
	secret := "$WEFT_KEY"
	if n == 0 {
		if secret, _, err = server.CreateKey(ctx, keys, "first admin", server.RoleAdmin); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nNo API keys yet: created an admin key. It is shown only this once; weft keeps its hash:\n\n    %s\n", secret)
	} else {
		fmt.Fprintf(stdout, "\nThis database has API keys; set WEFT_KEY to one (a new one: weft apikey create --role admin).\n")
	}
	fmt.Fprintf(stdout, "\nTry:\n    curl -H 'Authorization: Bearer %s' http://%s/api/v1/workflows\n", secret, addr)
	for _, wf := range loaded {
		fmt.Fprintf(stdout, "    curl -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"+
			"         -d '{\"input\":{\"leadId\":\"lead_123\"}}' 'http://%s/api/v1/workflows/%s/execute?wait=10s'\n", secret, addr, wf.ID)
	}
	fmt.Fprintln(stdout)
	return nil
}

// loadWorkflows adds workflow files to the catalog, skipping those whose
// name a workflow there already has (a restart loads nothing twice).
func loadWorkflows(ctx context.Context, eng *core.Engine, catalog server.Catalog, files []string, logger *slog.Logger) ([]*core.WorkflowInfo, error) {
	if len(files) == 0 {
		return nil, nil
	}
	have := map[string]*core.WorkflowInfo{}
	for cursor := ""; ; {
		page, err := catalog.ListWorkflows(ctx, core.WorkflowFilter{Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, wf := range page.Items {
			have[wf.Name] = wf
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	var out []*core.WorkflowInfo
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--load: %w", err)
		}
		wf, err := eng.ValidateDocument(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("--load %s: %w", f, err)
		}
		if info, ok := have[wf.Name]; ok {
			out = append(out, info)
			continue
		}
		info, err := catalog.CreateWorkflow(ctx, wf)
		if err != nil {
			return nil, fmt.Errorf("--load %s: %w", f, err)
		}
		logger.Info("workflow loaded", "file", f, "id", info.ID, "name", info.Name)
		have[wf.Name] = info
		out = append(out, info)
	}
	return out, nil
}
