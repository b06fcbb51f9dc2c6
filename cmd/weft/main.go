// Command weft runs and checks weft workflows, serves the REST API, and
// talks to a running server.
//
//	weft workflows list|get|apply|delete   the server's workflows (apply: create or update by name)
//	weft execute WORKFLOW [--wait]         start an execution on the server (and follow it)
//	weft executions list|get|watch|retry|cancel
//	weft breakers list|reset|config        the server's circuit breakers
//	weft auth token|login                  the API key the client commands send
//	weft validate FILE…                    check definitions; every problem as FILE: path: message
//	weft run FILE [--input JSON|@file] [--json] [--db DSN]   run a workflow in-process
//	weft submit FILE --db DSN [--input …]  submit executions for workers
//	weft worker --db DSN                   run executions from a database
//	weft serve [--addr …] [--db DSN]       serve the REST API and run executions
//	weft apikey create|list|revoke         manage the server's API keys
//	weft plugins list                      list the plugins and what they provide
//	weft migrate --db DSN                  apply database migrations
//	weft version                           print the version
//
// Exit codes: 0 success (valid, or execution COMPLETED); 1 invalid workflow
// or unreadable file (validate), execution FAILED, TIMED_OUT or CANCELLED
// (run, execute --wait, executions watch), or a request the server refused;
// 2 bad usage, or a workflow that cannot run because it is invalid (run);
// 3 the server cannot be reached; 4 no valid API key, or a role that may
// not do this.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	usageHeader = `weft — API orchestration engine

Usage:
  weft workflows list|get|apply|delete        the server's workflows (apply: create or update by name)
  weft execute WORKFLOW [--input JSON] [--wait]  start an execution on the server, and follow it
  weft executions list|get|watch|retry|cancel the server's executions
  weft breakers list|reset|config             the server's circuit breakers
  weft auth token|login                       the API key the commands above send

  weft validate FILE…                         check workflow definitions
  weft run FILE [flags]                       run a workflow in this process (--db to record it)
  weft submit FILE [flags]                    submit executions to a database for workers
  weft worker [flags]                         run executions from a database
  weft serve [flags]                          serve the REST API and run executions
  weft apikey create|list|revoke [flags]      manage the server's API keys
  weft plugins list [flags]                   list the plugins and what they provide
  weft migrate [flags]                        apply database migrations
  weft version                                print the version

Commands that talk to a server use --server URL (env WEFT_URL) and the key in
WEFT_API_KEY or the credentials file (weft serve writes the key it creates
there). Run "weft COMMAND -h" for a command's flags.

Exit codes: 0 done (valid; the execution COMPLETED), 1 invalid or failed (an
execution FAILED, TIMED_OUT or CANCELLED; the server refused), 2 bad usage,
3 the server cannot be reached, 4 no valid API key, or its role may not.
`
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole CLI, callable from tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageHeader)
		return exitUsage
	}
	c := cli{stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "workflows", "workflow":
		return c.cmdWorkflows(ctx, args[1:])
	case "execute":
		return c.cmdExecute(ctx, args[1:])
	case "executions", "execution":
		return c.cmdExecutions(ctx, args[1:])
	case "breakers", "breaker":
		return c.cmdBreakers(ctx, args[1:])
	case "auth":
		return c.cmdAuth(ctx, args[1:])
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdin, stdout, stderr)
	case "submit":
		return cmdSubmit(ctx, args[1:], stdin, stdout, stderr)
	case "worker":
		tuneGC()
		return cmdWorker(ctx, args[1:], stderr)
	case "serve":
		tuneGC()
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "apikey":
		return cmdAPIKey(ctx, args[1:], stdout, stderr)
	case "plugins":
		return cmdPlugins(ctx, args[1:], stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "weft %s\n", versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageHeader)
		return exitOK
	}
	fmt.Fprintf(stderr, "weft: unknown command %q%s\n\n%s", args[0], didYouMean(args[0], commands), usageHeader)
	return exitUsage
}

// commands are the top-level commands, for suggestions.
var commands = []string{"workflows", "execute", "executions", "breakers", "auth", "validate", "run", "submit",
	"worker", "serve", "apikey", "plugins", "migrate", "version", "help"}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return v + " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "dev"
}
