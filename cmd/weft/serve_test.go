package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serverProc is a running `weft serve`.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	key  string // the admin key it printed, if it made one
	// hints are the command lines it printed to try (continuations joined).
	hints  []string
	exited chan struct{}
}

// procGuard bounds the waits of these tests on a weft process (to start, to
// stop, to make progress): a guard against a hang, far above what any of
// them needs under -race on a busy machine, never a measure of speed.
const procGuard = 2 * time.Minute

var (
	servingRe = regexp.MustCompile(`msg=serving addr=(\S+)`)
	keyRe     = regexp.MustCompile(`(?m)^\s+(weft_[A-Za-z0-9_-]+)\s*$`)
)

// startServer starts `weft serve` on dsn and a free port, and waits until it
// serves.
func startServer(t *testing.T, bin, dsn string, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--lease", "2s"}, args...)...)
	cmd.Env = append(os.Environ(), "WEFT_SQLITE_SYNCHRONOUS=NORMAL")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serverProc{cmd: cmd, exited: make(chan struct{})}
	keys, addrs := make(chan string, 1), make(chan string, 1)
	banner := make(chan []string, 1) // stdout has said all it says at start: the lines to try
	go func() {
		sc := bufio.NewScanner(stdout)
		var hints []string
		inTry, cont := false, ""
		for sc.Scan() {
			line := sc.Text()
			t.Log(line)
			if m := keyRe.FindStringSubmatch(line); m != nil {
				select {
				case keys <- m[1]:
				default:
				}
			}
			switch l := strings.TrimSpace(line); {
			case l == "Try:":
				inTry = true
			case inTry && l == "":
				inTry = false
				banner <- hints
			case inTry && strings.HasSuffix(l, `\`):
				cont += strings.TrimSuffix(l, `\`) + " "
			case inTry:
				hints, cont = append(hints, cont+l), ""
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(sc.Text())
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	select {
	case p.addr = <-addrs:
	case <-p.exited:
		t.Fatalf("weft serve exited: %v", cmd.ProcessState)
	case <-time.After(procGuard):
		t.Fatal("weft serve did not start")
	}
	select { // the key comes before "Try:" on stdout, if a key was made
	case p.hints = <-banner:
	case <-time.After(procGuard):
		t.Fatal("weft serve printed no curl lines")
	}
	select {
	case p.key = <-keys:
	default:
	}
	return p
}

// call makes an API request and decodes the answer.
func (p *serverProc) call(t *testing.T, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), string(data))
	}
	return res.StatusCode, out
}

// TestServeKilled: executions submitted through the API to a server that is
// SIGKILLed mid-run finish once it is started again, and the API shows each
// COMPLETED with its full step history.
func TestServeKilled(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	api := &countingAPI{calls: map[string]int{}}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	dsn := filepath.Join(t.TempDir(), "weft.db")

	first := startServer(t, bin, dsn)
	require.NotEmpty(t, first.key, "a new database gets an admin key, printed")
	key := first.key
	doc := strings.ReplaceAll(crashWorkflow, "{{input.api}}", srv.URL)
	status, wf := first.call(t, key, "POST", "/api/v1/workflows", doc)
	require.Equal(t, http.StatusCreated, status, wf)
	const n = 40
	var ids []string
	for range n {
		status, x := first.call(t, key, "POST", fmt.Sprintf("/api/v1/workflows/%s/execute", wf["id"]), `{"input": {}}`)
		require.Equal(t, http.StatusAccepted, status, x)
		ids = append(ids, x["executionId"].(string))
	}
	made := func() int { _, total := api.snapshot(); return total }
	waitProgress(t, "the first server to make some calls", 2*time.Millisecond, made, func() bool { return made() >= n })
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.exited
	_, atKill := api.snapshot()

	second := startServer(t, bin, dsn)
	require.Empty(t, second.key, "no new admin key once keys exist")
	completed := func() int {
		c := 0
		for _, id := range ids {
			if _, x := second.call(t, key, "GET", "/api/v1/executions/"+id, ""); x["status"] == "COMPLETED" {
				c++
			}
		}
		return c
	}
	waitProgress(t, "the second server to finish every execution", 20*time.Millisecond, completed, func() bool { return completed() == n })
	for _, id := range ids {
		status, x := second.call(t, key, "GET", "/api/v1/executions/"+id, "")
		require.Equal(t, http.StatusOK, status, x)
		require.Equal(t, "COMPLETED", x["status"], id)
		steps := x["steps"].(map[string]any)
		for _, s := range []string{"a", "b", "c"} {
			st := steps[s].(map[string]any)
			require.Equal(t, "COMPLETED", st["status"], "%s/%s", id, s)
			hist := st["history"].([]any)
			require.NotEmpty(t, hist, "%s/%s", id, s)
			require.Equal(t, "COMPLETED", hist[len(hist)-1].(map[string]any)["status"])
		}
	}
	calls, total := api.snapshot()
	for k, c := range calls {
		require.LessOrEqual(t, c, 2, "step %s called %d times", k, c)
	}
	require.Less(t, atKill, 3*n, "the kill came before the end")
	t.Logf("%d calls before the kill, %d in all, for %d step runs", atKill, total, 3*n)
}

// TestServeNoAuthRefused: --no-auth only on a loopback address.
func TestServeNoAuthRefused(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"serve", "--no-auth", "--addr", "0.0.0.0:0", "--db", filepath.Join(t.TempDir(), "w.db")}, nil, &out, &errb)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errb.String(), "--no-auth is refused")
}

// TestServeGracefulShutdown: on SIGTERM a step under way finishes (within
// --shutdown-timeout) and its execution completes; the server exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	release := make(chan struct{})
	called := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(api.Close)
	dsn := filepath.Join(t.TempDir(), "weft.db")
	p := startServer(t, bin, dsn, "--shutdown-timeout", procGuard.String())
	status, wf := p.call(t, p.key, "POST", "/api/v1/workflows",
		`{"name": "slow", "steps": [{"id": "call", "type": "HTTP_REQUEST", "config": {"url": "`+api.URL+`"}}]}`)
	require.Equal(t, http.StatusCreated, status, wf)
	status, x := p.call(t, p.key, "POST", fmt.Sprintf("/api/v1/workflows/%s/execute", wf["id"]), "")
	require.Equal(t, http.StatusAccepted, status, x)
	<-called // the step is under way
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(200 * time.Millisecond) // the server is draining: the call is still out
	close(release)
	select {
	case <-p.exited:
	case <-time.After(2 * procGuard): // beyond its --shutdown-timeout
		t.Fatal("the server did not stop")
	}
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode())

	// Started again, the API shows the execution completed by the first one.
	q := startServer(t, bin, dsn)
	status, got := q.call(t, p.key, "GET", "/api/v1/executions/"+x["executionId"].(string), "")
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "COMPLETED", got["status"])
	require.Len(t, got["steps"].(map[string]any)["call"].(map[string]any)["history"], 1, "the step ran once")
}
