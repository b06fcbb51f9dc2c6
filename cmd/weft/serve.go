package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/server"
)

// serveFlags configure weft serve.
type serveFlags struct {
	engineFlags
	addr string
	load listFlag
	vars varFlags
	// saveCredentials: keep the first admin key in the user's credentials
	// file; "" decides by the address (yes on loopback).
	saveCredentials string
	noAuth          bool
	maxBody         int64
	shutdown        time.Duration
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
	fs.Var(&f.load, "load", "workflow files to apply to the catalog at start, as weft workflows apply does: created, or the workflow of that name updated (repeatable)")
	fs.Var(&f.vars, "var", "with --load: set a workflow variable, NAME=VALUE (VALUE as JSON when it parses, else a string; repeatable)")
	f.saveCredentials = envOr("WEFT_SAVE_CREDENTIALS", "")
	fs.Func("save-credentials", "keep the admin key made on first start in this user's credentials file ($XDG_CONFIG_HOME/weft/credentials, or WEFT_CREDENTIALS), for the weft CLI: true or false; default true on a loopback --addr, false elsewhere (a server's service account keeps no key) (env WEFT_SAVE_CREDENTIALS)", func(v string) error {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("true or false")
		}
		f.saveCredentials = v
		return nil
	})
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
	eng, ext, closeExtensions, err := sf.engine(ctx, d, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitUsage
	}
	defer closeExtensions() // after the engine has drained: plugins stop last
	store := d.Store()
	changes, err := store.CatalogChanges(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitFailed
	}
	srv, err := server.New(server.Options{
		Engine: eng, Catalog: store, Keys: store, Logger: logger, MaxBody: sf.maxBody, NoAuth: sf.noAuth, CatalogChanges: changes,
		Rules: ext.lib, Modules: ext.lib, MaxModuleSize: sf.maxModuleSize, Plugins: ext.plugins,
		Ready: func(ctx context.Context) error { return ready(ctx, d) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "weft serve: %v\n", err)
		return exitFailed
	}
	loaded, err := loadWorkflows(ctx, eng, store, sf.load, sf.vars, logger)
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
		save := server.IsLoopback(sf.addr)
		if sf.saveCredentials != "" {
			save, _ = strconv.ParseBool(sf.saveCredentials)
		}
		hint := keyHint{base: serverURL(ln.Addr()), self: os.Args[0], save: save, dsn: sf.dsn}
		if err := hint.print(ctx, store, loaded, stdout); err != nil {
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

// serverURL is the URL clients on this machine reach a listener at: an
// unspecified address (0.0.0.0, ::) is reached at loopback.
func serverURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// keyHint is what weft serve prints at start: the admin key it creates on a
// database that has none (once: weft stores only its hash), kept for the
// CLI in the credentials file when save is set, and commands to try — each
// correct as pasted: the CLI finds the key itself when it is kept, and the
// curl lines ask the CLI for it rather than carry it (shell history).
type keyHint struct {
	base string // the server's URL
	self string // this binary, as it was run
	save bool
	dsn  string
}

func (h keyHint) print(ctx context.Context, keys server.Keys, loaded []*core.WorkflowInfo, stdout io.Writer) error {
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return fmt.Errorf("count API keys: %w", err)
	}
	credPath := credentialsPath()
	if !h.save {
		credPath = ""
	}
	self := shellQuote(h.self)
	kept, export := false, ""
	if n == 0 {
		secret, _, err := server.CreateKey(ctx, keys, "first admin", server.RoleAdmin)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nNo API keys yet: created an admin key. It is shown only this once; weft keeps its hash:\n\n    %s\n", secret)
		switch err := saveCredential(credPath, h.base, secret); {
		case err != nil:
			fmt.Fprintf(stdout, "\nIt could not be kept for the CLI (%v).\n", err)
		case credPath != "":
			kept = true
			fmt.Fprintf(stdout, "\nIt is also kept in %s (readable by you only), where the weft CLI finds it.\n", credPath)
		}
		if !kept {
			export = "export WEFT_API_KEY=" + secret
		}
	} else if key := h.storedKey(ctx, keys, credPath); key != "" && saveCredential(credPath, h.base, key) == nil {
		// A key of this database kept for this server, or for another
		// address of it (a restart on another port): kept for this one.
		kept = true
		fmt.Fprintf(stdout, "\nThis database has API keys; the weft CLI uses the one kept in %s.\n", credPath)
	} else {
		db := "DB"
		if !strings.Contains(h.dsn, "://") && h.dsn != "" { // a PostgreSQL URL may hold a password
			db = shellQuote(h.dsn)
		}
		fmt.Fprintf(stdout, "\nThis database has API keys, and the CLI has none for %s. Give it one:\n"+
			"    export WEFT_API_KEY=weft_…   # a key of this server; a new one: %s apikey create --role admin --db %s\n", h.base, self, db)
	}
	// --server only when the CLI would not find this server by itself.
	serverFlag := ""
	if c, err := newClient(clientFlags{server: os.Getenv("WEFT_URL")}, nil); err != nil || c.base != h.base {
		serverFlag = " --server " + h.base
	}
	bearer := "$(" + self + serverFlag + " auth token)"
	if !kept {
		bearer = "$WEFT_API_KEY"
	}
	fmt.Fprintf(stdout, "\nTry:\n")
	if export != "" {
		fmt.Fprintf(stdout, "    %s\n", export)
	}
	fmt.Fprintf(stdout, "    %s workflows list%s\n", self, serverFlag)
	for _, wf := range loaded {
		input := `{}`
		if mentionsLeadID(wf) {
			input = `{"leadId": "lead_123"}`
		}
		fmt.Fprintf(stdout, "    %s execute %s%s --input %s --wait\n", self, shellQuote(wf.Name), serverFlag, shellQuote(input))
	}
	fmt.Fprintf(stdout, "    curl -H \"Authorization: Bearer %s\" %s/api/v1/workflows\n", bearer, h.base)
	for _, wf := range loaded {
		body := `{"input": {}}`
		if mentionsLeadID(wf) {
			body = `{"input": {"leadId": "lead_123"}}`
		}
		fmt.Fprintf(stdout, "    curl -X POST -H \"Authorization: Bearer %s\" -H 'Content-Type: application/json' \\\n"+
			"         --data-binary %s '%s/api/v1/workflows/%s/execute?wait=10s'\n", bearer, shellQuote(body), h.base, wf.ID)
	}
	fmt.Fprintln(stdout)
	return nil
}

// storedKey is a key of the credentials file that this database knows and
// has not revoked: the one kept for this server, else one kept for another
// address (the same database served on another port before).
func (h keyHint) storedKey(ctx context.Context, keys server.Keys, credPath string) string {
	creds, err := readCredentials(credPath)
	if err != nil {
		return ""
	}
	candidates := []string{creds.Servers[h.base].APIKey}
	for _, sc := range creds.Servers {
		candidates = append(candidates, sc.APIKey)
	}
	for _, key := range candidates {
		if key == "" {
			continue
		}
		if k, err := keys.KeyByHash(ctx, server.HashKey(key)); err == nil && k.RevokedAt.IsZero() {
			return key
		}
	}
	return ""
}

// mentionsLeadID reports whether a workflow reads a leadId (the examples'
// input), so that the lines to try give it one.
func mentionsLeadID(wf *core.WorkflowInfo) bool {
	data, err := json.Marshal(wf.Steps)
	return err == nil && strings.Contains(string(data), "leadId")
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// loadWorkflows applies workflow files to the catalog as weft workflows
// apply does (one transaction each, so instances starting at once on one
// database make one workflow of a name): a file whose name no workflow has
// is created; the workflow of that name is updated (a new version only if
// the file changed it, so a restart changes nothing), keeping its status —
// a restart does not undo an operator's pause; several of one name are left
// alone, with a warning. vars are set in every file's variables.
func loadWorkflows(ctx context.Context, eng *core.Engine, catalog server.Catalog, files []string, vars varFlags, logger *slog.Logger) ([]*core.WorkflowInfo, error) {
	var out []*core.WorkflowInfo
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--load: %w", err)
		}
		if data, err = withVariables(data, vars); err != nil {
			return nil, fmt.Errorf("--load %s: --var: %w", f, err)
		}
		wf, err := eng.ValidateDocument(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("--load %s: %w", f, err)
		}
		wf.ID, wf.Version = "", 0
		res, err := catalog.ApplyWorkflow(ctx, wf, core.ApplyOptions{KeepStatus: true})
		var ae *core.AmbiguousNameError
		switch {
		case errors.As(err, &ae):
			logger.Warn("--load: several workflows have this name; none is updated", "file", f, "name", wf.Name, "ids", strings.Join(ae.IDs, ","))
			continue
		case err != nil:
			return nil, fmt.Errorf("--load %s: %w", f, err)
		}
		if res.Action != core.ApplyUnchanged {
			logger.Info("workflow "+res.Action, "file", f, "id", res.Workflow.ID, "name", res.Workflow.Name, "version", res.Workflow.Version)
		}
		out = append(out, res.Workflow)
	}
	return out, nil
}
