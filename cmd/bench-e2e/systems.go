package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weftworks/weft/db/dbtest"
	"github.com/weftworks/weft/examples/mockapi"
)

// workflowJSON is the benchmark's workflow for weft; handwritten/main.go is
// the same by hand.
//
//go:embed workflow.json
var workflowJSON []byte

// target is one server the clients call.
type target struct {
	url    string      // the execute endpoint
	header http.Header // auth
	pids   []int       // the processes whose CPU and memory are the server's
	// fsyncs counts the fsync and fdatasync calls so far (strace pass only).
	fsyncs func() (int64, error)
}

// startMock serves the mock API in this process, without keeping a record of
// each request.
func startMock() (*mockServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mockapi.New(mockapi.WithoutRecording()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &mockServer{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

type mockServer struct {
	URL string
	srv *http.Server
}

func (m *mockServer) Close() { _ = m.srv.Close() }

// start starts a fresh instance of sys (fresh database) and returns what the
// clients call, and how to stop it all. Under strace (the fsync pass) the
// server runs under `strace -f --seccomp-bpf`, which stops it only at the
// calls it counts.
func (cfg *config) start(ctx context.Context, dir, api, sys string, round int, strace bool) ([]target, func(), error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) ([]target, func(), error) {
		stopAll()
		return nil, nil, err
	}
	name := fmt.Sprintf("%s-%d", sys, round)
	if sys == "handwritten" {
		p, err := startProc(ctx, dir, name, nil, regexp.MustCompile(`^listening (\S+)`), cfg.handBin, "-addr", "127.0.0.1:0", "-api", api)
		if err != nil {
			return fail(err)
		}
		stops = append(stops, p.stop)
		return []target{{url: "http://" + p.addr + "/execute", header: http.Header{}, pids: []int{p.pid()}}}, stopAll, nil
	}

	var dsn string
	env := []string{"WEFT_CREDENTIALS=none"}
	instances := 1
	switch sys {
	case "weft", "weft-normal":
		dsn = filepath.Join(dir, name+".db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(dsn + suffix)
		}
		env = append(env, "WEFT_SQLITE_SYNCHRONOUS=FULL")
		if sys == "weft-normal" {
			env[len(env)-1] = "WEFT_SQLITE_SYNCHRONOUS=NORMAL"
		}
	case "weft-pg", "weft-pg2":
		fresh, drop, err := dbtest.FreshSchema(ctx, cfg.postgres, "weft_bench")
		if err != nil {
			return fail(err)
		}
		stops = append(stops, drop)
		dsn = fresh
		if sys == "weft-pg2" {
			instances = 2
		}
	}
	key, err := createKey(ctx, cfg.weftBin, dsn, env)
	if err != nil {
		return fail(err)
	}
	header := http.Header{"Authorization": {"Bearer " + key}}
	var procs []*proc
	for i := range instances {
		bin, args := cfg.weftBin, []string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--save-credentials=false"}
		if strace {
			args = append([]string{"-f", "--seccomp-bpf", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", filepath.Join(dir, fmt.Sprintf("%s-%d.strace", name, i)), bin}, args...)
			bin = "strace"
		}
		p, err := startProc(ctx, dir, fmt.Sprintf("%s-%d", name, i), env, regexp.MustCompile(`msg=serving addr=(\S+)`), bin, args...)
		if err != nil {
			return fail(err)
		}
		stops = append(stops, p.stop)
		procs = append(procs, p)
	}
	wfID, err := applyWorkflow(ctx, "http://"+procs[0].addr, header, api)
	if err != nil {
		return fail(err)
	}
	path := "/api/v1/workflows/" + wfID + "/execute?wait=60s"
	if cfg.view == "output" {
		path += "&view=output"
	}
	var targets []target
	for i, p := range procs {
		t := target{url: "http://" + p.addr + path, header: header, pids: []int{p.pid()}}
		if strace {
			t.fsyncs = straceCounter(filepath.Join(dir, fmt.Sprintf("%s-%d.strace", name, i)))
		}
		targets = append(targets, t)
	}
	return targets, stopAll, nil
}

// proc is a server process started by the harness.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
}

// pid is the server's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc starts a server, its output going to a log file in dir, and
// waits for the line (on stdout or stderr) that gives its address.
func startProc(ctx context.Context, dir, name string, env []string, ready *regexp.Regexp, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// A group of its own, signalled as one: under strace the server is
	// strace's child, and must get the signal itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	outR, outW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	addrs := make(chan string, 1)
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			logMu.Lock()
			fmt.Fprintln(logFile, sc.Text())
			logMu.Unlock()
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, outR)
	}()
	go func() {
		_ = cmd.Wait()
		outW.Close()
		logFile.Close()
		close(p.exited)
	}()
	t := time.NewTimer(2 * time.Minute) // a guard against a hang, not a budget
	defer t.Stop()
	select {
	case p.addr = <-addrs:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before it listened: see %s (-keep keeps it)", name, logPath)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	case <-t.C:
		p.stop()
		return nil, fmt.Errorf("%s did not say where it listens: see %s (-keep keeps it)", name, logPath)
	}
}

// stop ends the process group: SIGINT, then SIGKILL if it lingers.
func (p *proc) stop() {
	_ = syscall.Kill(-p.pid(), syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
	}
}

// createKey makes the admin key the clients use.
func createKey(ctx context.Context, bin, dsn string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "apikey", "create", "--role", "admin", "--name", "bench-e2e", "--db", dsn)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("weft apikey create: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// applyWorkflow stores the benchmark's workflow, calling the mock at api.
func applyWorkflow(ctx context.Context, base string, header http.Header, api string) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal(workflowJSON, &doc); err != nil {
		return "", fmt.Errorf("workflow.json: %w", err)
	}
	doc["variables"] = map[string]any{"apiBase": api}
	body, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/workflows/apply", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("apply the workflow: %w", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("apply the workflow: HTTP %d: %s", res.StatusCode, data)
	}
	var ans struct {
		Workflow struct {
			ID string `json:"id"`
		} `json:"workflow"`
	}
	if err := json.Unmarshal(data, &ans); err != nil || ans.Workflow.ID == "" {
		return "", fmt.Errorf("apply the workflow: unexpected answer %s", data)
	}
	return ans.Workflow.ID, nil
}

// straceCounter counts the completed fsync and fdatasync calls in an
// strace -o file.
func straceCounter(path string) func() (int64, error) {
	return func() (int64, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		var n int64
		for line := range bytes.Lines(data) {
			// A call interrupted by another thread's is written twice: once
			// "<unfinished ...>", once "<... fsync resumed>"; count it once.
			if bytes.Contains(line, []byte("resumed>")) {
				continue
			}
			if bytes.Contains(line, []byte("fsync(")) || bytes.Contains(line, []byte("fdatasync(")) {
				n++
			}
		}
		return n, nil
	}
}

// procStats reads a process's CPU time (user+system) and peak RSS from /proc.
func procStats(pid int) (cpu time.Duration, peakRSS int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command (which may hold spaces) start at the state,
	// field 3: utime and stime are fields 14 and 15, in clock ticks (USER_HZ,
	// 100 on Linux).
	rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	var ut, st int64
	if _, err := fmt.Sscan(f[11]+" "+f[12], &ut, &st); err != nil {
		return 0, 0, fmt.Errorf("/proc stat: %w", err)
	}
	cpu = time.Duration(ut+st) * 10 * time.Millisecond
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil {
				peakRSS = kb << 10
			}
		}
	}
	return cpu, peakRSS, nil
}
