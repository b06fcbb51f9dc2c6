package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/dbtest"
)

// countingAPI counts the calls of every step run by its Idempotency-Key
// (execution id / step key), taking a little time so a kill lands mid-run.
type countingAPI struct {
	mu    sync.Mutex
	calls map[string]int
	total int
}

func (c *countingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	c.mu.Lock()
	c.calls[key]++
	c.total++
	c.mu.Unlock()
	time.Sleep(time.Duration(5+rand.IntN(10)) * time.Millisecond)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"step": %q}`, strings.TrimPrefix(r.URL.Path, "/"))
}

func (c *countingAPI) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		cp[k] = v
	}
	return cp, c.total
}

const crashWorkflow = `{"name": "crash test", "steps": [
	{"id": "a", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{input.api}}/a"}},
	{"id": "b", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{input.api}}/b", "body": "{{steps.a.output.body}}"}},
	{"id": "c", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{input.api}}/c"}}]}`

// waitProgress polls until done holds. There is no deadline on the whole: it
// fails only when progress has not moved for procGuard, so that a slow
// machine takes the time it needs while a stuck one fails.
func waitProgress(t *testing.T, what string, poll time.Duration, progress func() int, done func() bool) {
	t.Helper()
	last, moved := progress(), time.Now()
	for !done() {
		if p := progress(); p != last {
			last, moved = p, time.Now()
		} else if time.Since(moved) > procGuard {
			t.Fatalf("waiting for %s: no progress in %v (at %d)", what, procGuard, p)
		}
		time.Sleep(poll)
	}
}

// workerProc is a running `weft worker`; exited is closed when it ends.
type workerProc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// alive fails the test at once when the worker has ended: waiting for work
// it will never do would only time out.
func (w *workerProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-w.exited:
		t.Fatalf("worker %s exited: %v", w.name, w.cmd.ProcessState)
	default:
	}
}

// worker starts `weft worker` on dsn; its output goes to the test log.
func worker(t *testing.T, bin, dsn, name string) *workerProc {
	t.Helper()
	cmd := exec.Command(bin, "worker", "--db", dsn, "--lease", "2s", "--concurrency", "16", "--name", name)
	cmd.Env = append(os.Environ(), "WEFT_SQLITE_SYNCHRONOUS=NORMAL")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	w := &workerProc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.exited
	})
	return w
}

// stepStates reads every step's status from the database.
func stepStates(t *testing.T, dsn string) (map[string]core.Status, map[core.Status]int) {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{NoMigrate: true})
	require.NoError(t, err)
	defer d.Close()
	var rows []struct {
		ExecutionID string
		StepKey     string
		StepStatus  string
	}
	require.NoError(t, d.Bun().NewSelect().Table("step_executions").Column("execution_id", "step_key", "step_status").
		Distinct().Scan(context.Background(), &rows))
	steps := map[string]core.Status{}
	for _, r := range rows {
		steps[r.ExecutionID+"/"+r.StepKey] = core.Status(r.StepStatus)
	}
	var execs []struct{ Status string }
	require.NoError(t, d.Bun().NewSelect().Table("workflow_executions").Column("status").Scan(context.Background(), &execs))
	counts := map[core.Status]int{}
	for _, x := range execs {
		counts[core.Status(x.Status)]++
	}
	return steps, counts
}

// crashTest submits n executions, runs workers, SIGKILLs the first one mid-run
// and checks the guarantees: every execution completes; no step that had
// completed is called again; an interrupted step is called at most once more.
func crashTest(t *testing.T, dsn string, workers int) {
	bin := weftBinary(t)
	api := &countingAPI{calls: map[string]int{}}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	wf := filepath.Join(t.TempDir(), "crash.json")
	require.NoError(t, os.WriteFile(wf, []byte(crashWorkflow), 0o644))
	const n = 200
	out, err := exec.Command(bin, "submit", wf, "--db", dsn, "--count", fmt.Sprint(n), "--input", `{"api": "`+srv.URL+`"}`).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Len(t, strings.Fields(string(out)), n)

	victim := worker(t, bin, dsn, "victim")
	var survivors []*workerProc
	for i := 1; i < workers; i++ {
		survivors = append(survivors, worker(t, bin, dsn, fmt.Sprintf("survivor-%d", i)))
	}
	// Kill while about a third of the calls are done.
	made := func() int { _, total := api.snapshot(); return total }
	waitProgress(t, "the workers to make a third of the calls", 5*time.Millisecond, made, func() bool { return made() >= n })
	// Both must be alive: the victim holds work, the survivors take it over.
	for _, w := range append(survivors, victim) {
		w.alive(t)
	}
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited
	before, _ := stepStates(t, dsn)
	callsAtKill, _ := api.snapshot()

	if workers == 1 {
		survivors = append(survivors, worker(t, bin, dsn, "restarted")) // the same machine, started again
	}
	completed := func() int {
		for _, w := range survivors {
			w.alive(t)
		}
		_, counts := stepStates(t, dsn)
		return counts[core.StatusCompleted]
	}
	waitProgress(t, "every execution to complete", 100*time.Millisecond, completed, func() bool { return completed() == n })
	after, _ := stepStates(t, dsn)
	calls, _ := api.snapshot()
	require.Len(t, after, 3*n)
	completedBefore, interrupted, again := 0, 0, 0
	for key, status := range after {
		require.Equal(t, core.StatusCompleted, status, key)
		require.GreaterOrEqual(t, calls[key], 1, key)
		if before[key] == core.StatusCompleted {
			completedBefore++
			require.Equal(t, 1, calls[key], "step %s had completed before the kill: it must not be called again", key)
			continue
		}
		require.LessOrEqual(t, calls[key], callsAtKill[key]+1, "step %s was called more than once more after the kill", key)
		if callsAtKill[key] > 0 {
			interrupted++
			if calls[key] > callsAtKill[key] {
				again++
			}
		}
	}
	t.Logf("%d step runs completed before the kill, %d were in flight (%d of them called again), %d calls in all",
		completedBefore, interrupted, again, len(calls))
	require.Positive(t, completedBefore, "the kill came after some steps completed")
}

func TestCrashSQLite(t *testing.T) {
	t.Parallel()
	crashTest(t, filepath.Join(t.TempDir(), "weft.db"), 1)
}

func TestCrashPostgresTwoWorkers(t *testing.T) {
	t.Parallel()
	crashTest(t, dbtest.PostgresDSN(t), 2)
}
