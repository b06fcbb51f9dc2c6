package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

var (
	echoOnce sync.Once
	echoBin  string
	echoErr  error
)

// echoPlugin builds the plugins package's test plugin once.
func echoPlugin(t *testing.T) string {
	t.Helper()
	echoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "weft-echo-plugin-")
		if err != nil {
			echoErr = err
			return
		}
		echoBin = filepath.Join(dir, "echo")
		echoErr = plugintest.Build("../../plugins/testdata/echo", echoBin)
	})
	require.NoError(t, echoErr)
	return echoBin
}

// pluginDir returns a plugins directory with the echo plugin under names.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	bin := echoPlugin(t)
	dir := t.TempDir()
	for _, n := range names {
		require.NoError(t, os.Link(bin, filepath.Join(dir, n)))
	}
	return dir
}

// gone reports whether a process has ended (a zombie no one reaped has).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) STATE …: comm may hold spaces, so read after the last ')'.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] == "Z"
}

func pluginPIDs(t *testing.T, p *serverProc) []int {
	t.Helper()
	code, out := p.call(t, p.key, "GET", "/api/v1/plugins", "")
	require.Equal(t, 200, code, "%v", out)
	var pids []int
	for _, it := range out["items"].([]any) {
		st := it.(map[string]any)
		require.Equal(t, "RUNNING", st["state"], "%v", st)
		pids = append(pids, int(st["pid"].(float64)))
	}
	return pids
}

func TestPluginsList(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, "echo")
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"plugins", "list", "--plugins-dir", dir}, nil, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	require.Contains(t, out.String(), "NAME")
	require.Regexp(t, `echo\s+\S+\s+1\s+RUNNING\s+.*step echo\.echo`, out.String())

	code = run(t.Context(), []string{"plugins", "list", "--plugins-dir", filepath.Join(dir, "nope")}, nil, &out, &errOut)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut.String(), "not a directory")
	// Asked for by name, even the default's name must exist (there is no
	// ./plugins in this package's directory); left to the default, it may not.
	errOut.Reset()
	code = run(t.Context(), []string{"plugins", "list", "--plugins-dir", "plugins"}, nil, &out, &errOut)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut.String(), "--plugins-dir plugins: not a directory")

	sums := filepath.Join(t.TempDir(), "plugins.sha256")
	require.NoError(t, os.WriteFile(sums, []byte(strings.Repeat("0", 64)+"  plugins/echo\n"), 0o600))
	out.Reset()
	errOut.Reset()
	code = run(t.Context(), []string{"plugins", "list", "--plugins-dir", dir, "--plugin-checksums", sums}, nil, &out, &errOut)
	require.Equal(t, exitFailed, code)
	require.Contains(t, out.String(), "FAILED: PLUGIN_CHECKSUM")
}

// TestServePlugins: the API lists and reloads plugins, and no plugin process
// outlives the server, whether it stops or is killed.
func TestServePlugins(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	dsn := filepath.Join(t.TempDir(), "weft.db")
	dir := pluginDir(t, "echo")

	p := startServer(t, bin, dsn, "--plugins-dir", dir)
	pids := pluginPIDs(t, p)
	require.Len(t, pids, 1)
	code, out := p.call(t, p.key, "POST", "/api/orchestration/execute?wait=2m", `{"workflow": {"name": "p", "steps": [
	  {"id": "s", "type": "echo.echo", "config": {"say": "{{input.who}}"}}]}, "input": {"who": "plugin"}}`)
	require.Equal(t, 200, code, "%v", out)
	require.Equal(t, "COMPLETED", out["status"], "%v", out)

	require.NoError(t, os.Link(echoPlugin(t), filepath.Join(dir, "other")))
	code, out = p.call(t, p.key, "POST", "/api/v1/plugins/reload", "")
	require.Equal(t, 200, code, "%v", out)
	require.Equal(t, []any{"other"}, out["report"].(map[string]any)["added"])
	pids = pluginPIDs(t, p)
	require.Len(t, pids, 2)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(procGuard):
		t.Fatal("weft serve did not stop")
	}
	for _, pid := range pids {
		require.True(t, gone(pid), "plugin process %d outlived the server", pid)
	}

	// Killed: the plugins see their parent go and end themselves.
	q := startServer(t, bin, dsn, "--plugins-dir", dir)
	q.key = p.key
	pids = pluginPIDs(t, q)
	require.NoError(t, q.cmd.Process.Kill())
	<-q.exited
	ctx, cancel := context.WithTimeout(t.Context(), procGuard)
	defer cancel()
	for _, pid := range pids {
		for !gone(pid) {
			select {
			case <-ctx.Done():
				t.Fatalf("plugin process %d outlived the killed server", pid)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func TestRunAndValidateWithPlugins(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, "echo")
	wf := filepath.Join(t.TempDir(), "wf.json")
	require.NoError(t, os.WriteFile(wf, []byte(`{"name": "p", "steps": [
	  {"id": "s", "type": "echo.echo", "config": {"say": "{{input.who}}"}}]}`), 0o600))
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"validate", "--plugins-dir", dir, wf}, nil, &out, &errOut)
	require.Equal(t, exitOK, code, "%s%s", out.String(), errOut.String())
	out.Reset()
	code = run(t.Context(), []string{"run", "--plugins-dir", dir, "--quiet", "--json", "--input", `{"who": "cli"}`, wf}, nil, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	require.Contains(t, out.String(), `"said": "cli"`)

	out.Reset()
	code = run(t.Context(), []string{"validate", wf}, nil, &out, &errOut)
	require.Equal(t, exitFailed, code, "without the plugin, echo.echo is unknown")
	require.Contains(t, out.String()+errOut.String(), `echo.echo`)
}
