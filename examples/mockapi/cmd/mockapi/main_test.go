package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// helperEnv marks a re-executed test binary as a helper child process.
const helperEnv = "GO_WANT_MOCKAPI_HELPER_PROCESS"

// TestHelperProcess is not a real test: it is the child command that
// mockapi runs in exec mode (the os/exec "helper process" pattern). Its mode
// is the first argument after "--"; its exit code reports the outcome.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		os.Exit(10)
	}
	mode, rest := args[1], args[2:]
	switch mode {
	case "health":
		client := &http.Client{Timeout: 2 * time.Minute} // a guard, not a budget
		res, err := client.Get(os.Getenv("WEFT_MOCKAPI_URL") + "/health")
		if err != nil {
			os.Exit(11)
		}
		defer res.Body.Close()
		var body struct{ Status string }
		if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&body) != nil || body.Status != "ok" {
			os.Exit(12)
		}
		os.Exit(3)
	case "exit":
		if len(rest) == 1 && rest[0] == "0" {
			os.Exit(0)
		}
		os.Exit(1)
	case "args":
		// Arguments after the mode must arrive verbatim, flags and spaces included.
		if slices.Equal(rest, []string{"-addr", "a b", "--", "c"}) {
			os.Exit(4)
		}
		os.Exit(13)
	}
	os.Exit(14)
}

// buildMockapi compiles the command into a temporary directory.
func buildMockapi(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the mockapi binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found in PATH")
	}
	bin := filepath.Join(t.TempDir(), "mockapi")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestExecMode(t *testing.T) {
	bin := buildMockapi(t)
	self, err := os.Executable()
	require.NoError(t, err)
	helper := []string{self, "-test.run=^TestHelperProcess$", "--"}

	tests := []struct {
		name     string
		command  []string
		wantCode int
	}{
		{name: "child reaches the server through WEFT_MOCKAPI_URL",
			command: append(slices.Clone(helper), "health"), wantCode: 3},
		{name: "child exit code 0 is propagated",
			command: append(slices.Clone(helper), "exit", "0"), wantCode: 0},
		{name: "arguments after -- are passed verbatim",
			command: append(slices.Clone(helper), "args", "-addr", "a b", "--", "c"), wantCode: 4},
		{name: "command that cannot start exits 127",
			command: []string{filepath.Join(t.TempDir(), "does-not-exist")}, wantCode: 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"-addr", "127.0.0.1:0", "--"}, tt.command...)...)
			cmd.Env = append(os.Environ(), helperEnv+"=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if err != nil {
				exitErr, ok := errors.AsType[*exec.ExitError](err)
				require.True(t, ok, "running mockapi: %v", err)
				code = exitErr.ExitCode()
			}
			require.Equal(t, tt.wantCode, code, "stderr:\n%s", stderr.String())
			// The server listens before the command starts, on the real bound port.
			require.Regexp(t, `mock API listening on http://127\.0\.0\.1:[1-9][0-9]*\n`, stderr.String())
		})
	}
}

func TestServeUntilSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	bin := buildMockapi(t)
	tests := []struct {
		name   string
		signal os.Signal
	}{
		{name: "SIGTERM", signal: syscall.SIGTERM},
		{name: "SIGINT", signal: os.Interrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, "-addr", "127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())

			stderrReader := bufio.NewReader(stderr)
			line, err := stderrReader.ReadString('\n')
			require.NoError(t, err)
			baseURL, ok := strings.CutPrefix(strings.TrimSpace(line), "mock API listening on ")
			require.True(t, ok, "startup line: %q", line)
			require.True(t, strings.HasPrefix(baseURL, "http://127.0.0.1:"), baseURL)

			client := &http.Client{Timeout: 2 * time.Minute} // a guard, not a budget
			res, err := client.Get(baseURL + "/health")
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			require.Equal(t, http.StatusOK, res.StatusCode)

			drained := make(chan struct{})
			go func() {
				defer close(drained)
				_, _ = io.Copy(io.Discard, stderrReader)
			}()
			require.NoError(t, cmd.Process.Signal(tt.signal))
			<-drained // all reads must finish before Wait closes the pipe
			require.NoError(t, cmd.Wait(), "graceful shutdown exits 0")
		})
	}
}
