// Command mockapi serves the weft examples' mock external APIs (package
// github.com/weftworks/weft/examples/mockapi) over HTTP.
//
// Usage:
//
//	mockapi [-addr 127.0.0.1:9100] [-webhook-secret whsec_...] [-v] [-- command [args...]]
//
// Without a command, mockapi serves until it receives SIGINT or SIGTERM and
// then shuts down gracefully.
//
// With a command (everything after "--", passed through verbatim), mockapi
// starts listening first, then runs the command with stdin, stdout and
// stderr inherited and WEFT_MOCKAPI_URL set to the server's base URL (the
// real bound address, so "-addr 127.0.0.1:0" works). When the command exits
// the server shuts down and mockapi exits with the command's exit code
// (128+N if it was killed by signal N, 127 if it could not be started).
// While the command runs, SIGTERM is forwarded to it; SIGINT is not
// forwarded, since a terminal already delivers it to the whole process group.
//
//	mockapi -addr 127.0.0.1:0 -- ./bin/weft run examples/x.json
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
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/weftworks/weft/examples/mockapi"
)

// urlEnv is the environment variable through which a child command learns
// the mock server's base URL.
const urlEnv = "WEFT_MOCKAPI_URL"

// shutdownTimeout bounds the graceful shutdown of the HTTP server.
const shutdownTimeout = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the os.Exit, returning the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mockapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9100", "listen `address`; port 0 picks a free port")
	secret := fs.String("webhook-secret", "", "Standard Webhooks `secret` (whsec_<base64> or raw) used to verify POST /webhooks")
	verbose := fs.Bool("v", false, "log every request to stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mockapi [flags] [-- command [args...]]\n\n"+
			"Serves the weft examples' mock APIs. With a command, runs it with %s set\n"+
			"to the server URL and exits with its exit code.\n\nflags:\n", urlEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logHandler := slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	logger := slog.New(logHandler)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen failed", "addr", *addr, "err", err)
		return 1
	}
	baseURL := "http://" + ln.Addr().String()

	// Handlers (notably GET /slow) watch the request context; cancelling the
	// base context at shutdown lets them finish promptly.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler: mockapi.New(
			mockapi.WithWebhookSecret(*secret),
			mockapi.WithLogger(logger),
		),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(logHandler, slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var code int
	if command := fs.Args(); len(command) > 0 {
		fmt.Fprintf(stderr, "mock API listening on %s\n", baseURL)
		code = runCommand(command, baseURL, stdout, stderr, logger, serveErr)
	} else {
		// Signals are handled before the line announces the server: a signal
		// sent as soon as it appears is a graceful stop, not a kill.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		fmt.Fprintf(stderr, "mock API listening on %s\n", baseURL)
		code = serveUntilSignal(ctx, logger, serveErr)
		stop()
	}

	cancelBase()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("graceful shutdown failed; closing", "err", err)
		_ = srv.Close()
	}
	return code
}

// serveUntilSignal blocks until SIGINT/SIGTERM (exit code 0) or until the
// server fails (exit code 1).
func serveUntilSignal(ctx context.Context, logger *slog.Logger, serveErr <-chan error) int {
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return 0
	case err := <-serveErr:
		logger.Error("server failed", "err", err)
		return 1
	}
}

// runCommand runs command with the server URL in its environment and returns
// its exit code.
func runCommand(command []string, baseURL string, stdout, stderr io.Writer, logger *slog.Logger, serveErr <-chan error) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), urlEnv+"="+baseURL)
	cmd.SysProcAttr = childAttr() // the command does not outlive the mock (Linux)
	if err := cmd.Start(); err != nil {
		logger.Error("cannot start command", "command", command[0], "err", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			return exitCode(err)
		case sig := <-sigs:
			if sig == syscall.SIGTERM {
				_ = cmd.Process.Signal(sig)
			}
		case err := <-serveErr:
			logger.Error("server failed while the command was running", "err", err)
			serveErr = nil // keep waiting for the command
		}
	}
}

// exitCode maps the result of exec.Cmd.Wait to a process exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		if c := exitErr.ExitCode(); c >= 0 {
			return c
		}
	}
	return 1
}
