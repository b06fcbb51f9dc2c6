package plugins_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/plugins"
	"github.com/weftworks/weft/sdk"
)

func TestLoadRegistersNamespacedComponents(t *testing.T) {
	t.Parallel()
	m, _, reg, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"weft-plugin-echo": "echo", "README.md": "echo"})})
	require.NoError(t, err)
	for _, want := range []struct {
		kind sdk.Kind
		name string
	}{{sdk.KindStep, "echo.echo"}, {sdk.KindTransform, "echo.upper"}, {sdk.KindValidator, "echo.email"}, {sdk.KindTransform, "echo.fail"}} {
		e, ok := reg.Lookup(want.kind, want.name)
		require.True(t, ok, "%s %s", want.kind, want.name)
		require.Equal(t, core.OriginPlugin, e.Origin)
	}
	e, _ := reg.Lookup(sdk.KindStep, "echo.echo")
	require.Equal(t, "1.2.3", e.Version)
	require.JSONEq(t, `{"type": "object", "properties": {"say": {"type": "string"}}}`, string(e.ConfigSchema))

	list := m.List()
	require.Len(t, list, 2, "README.md is executable here, so it is tried as a plugin")
	var echo, readme plugins.Status
	for _, s := range list {
		if s.Name == "echo" {
			echo = s
		} else {
			readme = s
		}
	}
	require.Equal(t, plugins.StateRunning, echo.State)
	require.Len(t, echo.SHA256, 64)
	require.Equal(t, 1, echo.Protocol)
	require.Len(t, echo.Components, 4)
	require.Equal(t, "README", readme.Name)
	require.Equal(t, plugins.StateRunning, readme.State, "a hard link of the echo binary is a plugin too")
}

func TestWorkflowUsesPluginComponents(t *testing.T) {
	t.Parallel()
	_, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"})})
	require.NoError(t, err)
	exec := run(t, eng, `{"name": "p", "steps": [
	  {"id": "check", "type": "VALIDATION", "config": {"validator": "echo.email"}},
	  {"id": "say", "type": "echo.echo", "dependsOn": ["check"], "config": {"say": "hi {{input.email}}"}},
	  {"id": "up", "type": "DATA_TRANSFORM", "dependsOn": ["say"], "config": {"source": "{{steps.say.output.said}}",
	   "operations": [{"type": "transform", "name": "echo.upper", "config": {"suffix": "!"}}]}}]}`,
		map[string]any{"email": "ada@example.com"})
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Equal(t, "HI ADA@EXAMPLE.COM!", exec.Steps["up"].Output)
	say := exec.Steps["say"].Output.(map[string]any)
	require.Equal(t, float64(1), say["attempt"])
	require.Equal(t, exec.ID+"/say", say["key"], "run info crosses the boundary")

	exec = run(t, eng, `{"name": "p", "steps": [{"id": "check", "type": "VALIDATION", "config": {"validator": "echo.email"}}]}`,
		map[string]any{"email": "nope"})
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, sdk.CodeValidationFailed, exec.Error.Code)
	require.Equal(t, []any{map[string]any{"field": "email", "rule": "validator", "message": "is not an e-mail address"}},
		exec.Steps["check"].Error.Details.(map[string]any)["violations"])
}

func TestErrorsCrossTheBoundary(t *testing.T) {
	t.Parallel()
	_, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"})})
	require.NoError(t, err)
	exec := run(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "echo.echo", "config": {"fail": "CRM_DOWN"},
	  "retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1, "retryableErrors": ["CRM_DOWN"]}}]}`, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	e := exec.Steps["s"].Error
	require.Equal(t, "CRM_DOWN", e.Code)
	require.Equal(t, "asked to fail", e.Message)
	require.True(t, e.Retryable)
	require.Equal(t, map[string]any{"why": "test"}, e.Details)
	require.Len(t, exec.Steps["s"].History, 2, "the engine's retry policy matched the plugin's code")

	exec = run(t, eng, `{"name": "e", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": "x",
	  "operations": [{"type": "transform", "name": "echo.fail"}]}}]}`, nil)
	require.Equal(t, sdk.CodeStepFailed, exec.Steps["t"].Error.Code)
	require.Contains(t, exec.Steps["t"].Error.Message, "plain error")

	exec = run(t, eng, `{"name": "e", "steps": [{"id": "p", "type": "echo.echo", "config": {"panic": true}}]}`, nil)
	require.Equal(t, sdk.CodeInternal, exec.Steps["p"].Error.Code)
	require.Contains(t, exec.Steps["p"].Error.Message, "echo was asked to panic")
}

func TestConfigCheckedAtValidation(t *testing.T) {
	t.Parallel()
	_, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"})})
	require.NoError(t, err)
	w, err := core.ParseWorkflow([]byte(`{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"sai": "typo"}}]}`))
	require.NoError(t, err)
	_, err = eng.Compile(t.Context(), w)
	require.ErrorContains(t, err, "steps[0].config.sai")
}

func TestCrashedPluginIsRestarted(t *testing.T) {
	t.Parallel()
	// StableAfter: every crash is a first one, restarted without a backoff
	// (see TestRestartBackoff).
	m, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), StableAfter: time.Nanosecond})
	require.NoError(t, err)
	for _, crash := range []string{`{"exit": 3}`, `{"goroutinePanic": true}`} {
		exec := run(t, eng, `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": `+crash+`}]}`, nil)
		require.Equal(t, core.StatusFailed, exec.Status, crash)
		e := exec.Steps["s"].Error
		require.Equal(t, sdk.CodePluginCrashed, e.Code, crash)
		require.Contains(t, e.Message, "plugin echo")
		require.Equal(t, plugins.StateCrashed, m.List()[0].State)

		exec = run(t, eng, `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "back"}}]}`, nil)
		require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
		require.Equal(t, "back", exec.Steps["s"].Output.(map[string]any)["said"])
	}
	require.Equal(t, 3, m.List()[0].Starts)
}

func TestHungPluginTimesOutAndIsRestarted(t *testing.T) {
	t.Parallel()
	m, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), HealthTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	exec := run(t, eng, `{"name": "h", "steps": [{"id": "s", "type": "echo.echo", "timeout": 200, "config": {"hang": true}}]}`, nil)
	require.Equal(t, sdk.CodeTimeout, exec.Steps["s"].Error.Code, "the step ends at its timeout")
	// A hung plugin also fails its health check, and is killed.
	require.Eventually(t, func() bool { return m.List()[0].State == plugins.StateCrashed }, hangGuard, 20*time.Millisecond)
	exec = run(t, eng, `{"name": "h", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "ok"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Equal(t, 2, m.List()[0].Starts)
}

func TestSlowCallTimesOutWithoutRestart(t *testing.T) {
	t.Parallel()
	// The health check that follows the timeout has all the time it needs:
	// the plugin is healthy, however slowly a busy machine lets it answer.
	m, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), HealthTimeout: hangGuard})
	require.NoError(t, err)
	exec := run(t, eng, `{"name": "h", "steps": [{"id": "s", "type": "echo.echo", "timeout": 100, "config": {"sleepMs": 60000}}]}`, nil)
	require.Equal(t, sdk.CodeTimeout, exec.Steps["s"].Error.Code)
	exec = run(t, eng, `{"name": "h", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "ok"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, 1, m.List()[0].Starts, "a plugin that honours its deadline is healthy")
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo"})
	m, _, reg, err := load(t, plugins.Options{Dir: dir, Checksums: map[string]string{"echo": strings.Repeat("ab", 32)}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "PLUGIN_CHECKSUM")
	require.Contains(t, err.Error(), "does not match its configured sha256")
	st := m.List()[0]
	require.Equal(t, plugins.StateFailed, st.State)
	_, ok := reg.Lookup(sdk.KindStep, "echo.echo")
	require.False(t, ok)

	pinned, _, reg, err := load(t, plugins.Options{Dir: dir, Checksums: map[string]string{"echo": st.SHA256}})
	require.NoError(t, err)
	_, ok = reg.Lookup(sdk.KindStep, "echo.echo")
	require.True(t, ok)
	if runtime.GOOS == "linux" {
		// A pinned plugin runs from a sealed copy of the bytes that were
		// checked, not from the file.
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pinned.List()[0].PID))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(exe, "/memfd:weft-plugin-echo"), exe)
		require.Equal(t, filepath.Join(dir, "echo"), pinned.List()[0].Path)
	}
}

func TestIncompatibleProtocol(t *testing.T) {
	t.Parallel()
	m, _, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"v2": "v2", "echo": "echo"})})
	require.Error(t, err)
	require.Contains(t, err.Error(), "PLUGIN_PROTOCOL")
	require.Contains(t, err.Error(), "plugin v2 speaks another version of weft's plugin protocol")
	states := map[string]plugins.State{}
	for _, s := range m.List() {
		states[s.Name] = s.State
	}
	require.Equal(t, map[string]plugins.State{"v2": plugins.StateFailed, "echo": plugins.StateRunning}, states, "one bad plugin does not stop the others")
}

func TestPluginsDoNotInheritTheEnvironment(t *testing.T) {
	t.Setenv("WEFT_TEST_SECRET", "s3cr3t")
	_, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}),
		Env: map[string][]string{"echo": {"GREETING=hello"}}})
	require.NoError(t, err)
	for env, want := range map[string]any{"WEFT_TEST_SECRET": nil, "GREETING": "hello", "GOMAXPROCS": "1"} {
		exec := run(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "echo.echo", "config": {"env": "`+env+`"}}]}`, nil)
		require.Equal(t, want, exec.Steps["s"].Output.(map[string]any)["env"], env)
	}
}

func TestMaxProcs(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo", "other": "echo"})
	_, eng, _, err := load(t, plugins.Options{Dir: dir, MaxProcs: 3, Env: map[string][]string{"other": {"GOMAXPROCS=2"}}})
	require.NoError(t, err)
	for typ, want := range map[string]string{"echo.echo": "3", "other.echo": "2"} {
		exec := run(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "`+typ+`", "config": {"env": "GOMAXPROCS"}}]}`, nil)
		require.Equal(t, want, exec.Steps["s"].Output.(map[string]any)["env"], typ)
	}
}

func TestPluginLogsReachTheHostLog(t *testing.T) {
	t.Parallel()
	var sink logs
	_, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), Logger: sink.logger()})
	require.NoError(t, err)
	run(t, eng, `{"name": "l", "steps": [{"id": "talk", "type": "echo.echo", "config": {"log": "hello from the plugin"}}]}`, nil)
	require.Eventually(t, func() bool { return strings.Contains(sink.String(), "hello from the plugin") }, hangGuard, 10*time.Millisecond)
	for _, line := range strings.Split(sink.String(), "\n") {
		if strings.Contains(line, "hello from the plugin") {
			require.Contains(t, line, `"level":"WARN"`)
			require.Contains(t, line, `"plugin":"echo"`)
			require.Contains(t, line, `"step":"talk"`)
		}
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo"})
	m, _, reg, err := load(t, plugins.Options{Dir: dir})
	require.NoError(t, err)

	require.NoError(t, os.Link(buildPlugin(t, "./testdata/echo"), filepath.Join(dir, "other")))
	rep, err := m.Reload(t.Context(), reg)
	require.NoError(t, err)
	require.Equal(t, []string{"other"}, rep.Added)
	require.Equal(t, []string{"echo"}, rep.Unchanged)
	_, ok := reg.Lookup(sdk.KindTransform, "other.upper")
	require.True(t, ok)

	require.NoError(t, os.Remove(filepath.Join(dir, "other")))
	rep, err = m.Reload(t.Context(), reg)
	require.NoError(t, err)
	require.Equal(t, []string{"other"}, rep.Removed)
	_, ok = reg.Lookup(sdk.KindTransform, "other.upper")
	require.False(t, ok)
	require.Len(t, m.List(), 1)
}

func TestCloseLeavesNoProcess(t *testing.T) {
	t.Parallel()
	m, _, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo", "other": "echo"})})
	require.NoError(t, err)
	var pids []int
	for _, s := range m.List() {
		require.NotZero(t, s.PID)
		pids = append(pids, s.PID)
	}
	require.NoError(t, m.Close(context.Background()))
	for _, pid := range pids {
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "plugin process %d is gone", pid)
	}
	for _, s := range m.List() {
		require.Zero(t, s.PID)
	}
}

func TestRestartBackoff(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClock()
	m, eng, _, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), Clock: clock,
		BackoffMin: time.Second, StableAfter: time.Hour})
	require.NoError(t, err)
	crash := `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"exit": 1}}]}`
	ok := `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "hi"}}]}`

	run(t, eng, crash, nil) // first crash: restarted at once
	require.Equal(t, core.StatusCompleted, run(t, eng, ok, nil).Status)
	run(t, eng, crash, nil) // second in a row: a second's backoff
	exec := run(t, eng, ok, nil)
	require.Equal(t, sdk.CodePluginCrashed, exec.Steps["s"].Error.Code)
	require.Contains(t, exec.Steps["s"].Error.Message, "restarts in 1s")
	clock.Advance(time.Second)
	require.Equal(t, core.StatusCompleted, run(t, eng, ok, nil).Status)
	require.Equal(t, 3, m.List()[0].Starts)
}

// After a Reload, component instances made before it call the new process;
// the one it replaced is never started again, and Close leaves nothing.
func TestReloadRoutesOldInstancesToTheNewProcess(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo"})
	m, _, reg, err := load(t, plugins.Options{Dir: dir})
	require.NoError(t, err)
	e, ok := reg.Lookup(sdk.KindStep, "echo.echo")
	require.True(t, ok)
	old := e.New().(sdk.Step)
	_, err = old.Run(t.Context(), sdk.Input{Config: map[string]any{"say": "before"}})
	require.NoError(t, err)

	// Another binary under the same name: the bench plugin, which serves no "echo".
	require.NoError(t, os.Remove(filepath.Join(dir, "echo")))
	require.NoError(t, os.Link(buildPlugin(t, "./testdata/bench"), filepath.Join(dir, "echo")))
	rep, err := m.Reload(t.Context(), reg)
	require.NoError(t, err)
	require.Equal(t, []string{"echo"}, rep.Changed)
	_, ok = reg.Lookup(sdk.KindStep, "echo.echo")
	require.False(t, ok, "the new binary does not provide it")

	_, err = old.Run(t.Context(), sdk.Input{Config: map[string]any{"say": "after"}})
	require.ErrorContains(t, err, `this plugin serves no step "echo"`, "the call went to the new process")
	list := m.List()
	require.Len(t, list, 1)
	require.Equal(t, 1, list[0].Starts)
	pid := list[0].PID
	require.NoError(t, m.Close(context.Background()))
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH)
	_, err = old.Run(t.Context(), sdk.Input{Config: map[string]any{}})
	require.ErrorIs(t, err, context.Canceled, "a closed manager starts nothing")
}

// A Reload that replaces a plugin lets the old process finish the calls it
// has under way, then stops it; a call that outlives the manager's
// DrainTimeout is cut off (PLUGIN_CRASHED), and the process with it.
func TestReloadDrainsCallsUnderWay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sleepMs int
		expire  bool // advance the clock past the drain timeout
	}{
		{name: "the call ends", sleepMs: 4000},
		{name: "the drain times out", sleepMs: 60000, expire: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := clockwork.NewFakeClock()
			dir := pluginsDir(t, map[string]string{"echo": "echo"})
			replacement := buildPlugin(t, "./testdata/bench") // before the call: a build takes a while
			m, _, reg, err := load(t, plugins.Options{Dir: dir, Clock: clock, DrainTimeout: time.Minute})
			require.NoError(t, err)
			e, ok := reg.Lookup(sdk.KindStep, "echo.echo")
			require.True(t, ok)
			type result struct {
				out sdk.Output
				err error
			}
			done := make(chan result, 1)
			go func() {
				out, err := e.New().(sdk.Step).Run(t.Context(), sdk.Input{Config: map[string]any{"say": "slow", "sleepMs": tt.sleepMs}})
				done <- result{out, err}
			}()
			require.Eventually(t, func() bool { return m.List()[0].Calls == 1 }, hangGuard, 5*time.Millisecond)
			oldPID := m.List()[0].PID

			require.NoError(t, os.Remove(filepath.Join(dir, "echo")))
			require.NoError(t, os.Link(replacement, filepath.Join(dir, "echo")))
			rep, err := m.Reload(t.Context(), reg)
			require.NoError(t, err)
			require.Equal(t, []string{"echo"}, rep.Changed)
			list := m.List()
			require.Len(t, list, 2, "the new process and the draining one")
			require.Equal(t, plugins.StateRunning, list[0].State)
			require.Equal(t, 0, list[0].Calls, "the new process")
			require.NotEqual(t, oldPID, list[0].PID)
			require.Equal(t, plugins.StateDraining, list[1].State)
			require.Equal(t, oldPID, list[1].PID)
			require.Equal(t, 1, list[1].Calls)
			require.NoError(t, syscall.Kill(oldPID, 0), "the old process serves its call still")

			if tt.expire {
				require.NoError(t, clock.BlockUntilContext(t.Context(), 1)) // the drain timer
				clock.Advance(time.Minute)
				r := receive(t, done)
				require.Equal(t, sdk.CodePluginCrashed, sdk.AsError(r.err).Code, "%v", r.err)
			} else {
				r := receive(t, done)
				require.NoError(t, r.err)
				require.Equal(t, "slow", r.out.Data.(map[string]any)["said"])
			}
			require.Eventually(t, func() bool { return syscall.Kill(oldPID, 0) == syscall.ESRCH }, hangGuard, 5*time.Millisecond, "the old process is stopped once drained")
			require.Eventually(t, func() bool { return len(m.List()) == 1 }, hangGuard, 5*time.Millisecond, "no longer listed")
		})
	}
}

// Close stops a process that drains after a Reload with the others.
func TestCloseStopsDrainingProcesses(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo"})
	m, _, reg, err := load(t, plugins.Options{Dir: dir})
	require.NoError(t, err)
	e, _ := reg.Lookup(sdk.KindStep, "echo.echo")
	done := make(chan error, 1)
	go func() {
		_, err := e.New().(sdk.Step).Run(t.Context(), sdk.Input{Config: map[string]any{"hang": true}})
		done <- err
	}()
	require.Eventually(t, func() bool { return m.List()[0].Calls == 1 }, hangGuard, 5*time.Millisecond)
	oldPID := m.List()[0].PID
	require.NoError(t, os.Remove(filepath.Join(dir, "echo")))
	_, err = m.Reload(t.Context(), reg)
	require.NoError(t, err)
	list := m.List()
	require.Len(t, list, 1, "removed, draining")
	require.Equal(t, plugins.StateDraining, list[0].State)
	require.NoError(t, syscall.Kill(oldPID, 0), "draining")
	require.NoError(t, m.Close(context.Background()))
	require.ErrorIs(t, syscall.Kill(oldPID, 0), syscall.ESRCH)
	require.Error(t, receive(t, done))
}

// receive waits for what ch brings, failing the test rather than hanging.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("nothing came in %v", hangGuard)
		panic("unreachable")
	}
}

func TestLargeMessagesAndShortDeadlines(t *testing.T) {
	t.Parallel()
	m, eng, reg, err := load(t, plugins.Options{Dir: pluginsDir(t, map[string]string{"echo": "echo"}), StableAfter: time.Nanosecond})
	require.NoError(t, err)
	big := strings.Repeat("x", 5<<20) // over gRPC's default 4 MB
	exec := run(t, eng, `{"name": "b", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "{{input.big}}"}}]}`, map[string]any{"big": big})
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	require.Len(t, exec.Steps["s"].Output.(map[string]any)["said"], len(big))

	// A crash, then a call with almost no time left: the restart is the
	// plugin's, and does not leave it FAILED.
	run(t, eng, `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"exit": 1}}]}`, nil)
	e, _ := reg.Lookup(sdk.KindStep, "echo.echo")
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	_, _ = e.New().(sdk.Step).Run(ctx, sdk.Input{Config: map[string]any{"say": "hurry"}})
	require.NotEqual(t, plugins.StateFailed, m.List()[0].State)
	exec = run(t, eng, `{"name": "ok", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "fine"}}]}`, nil)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
}

func TestChecksumsAreAnAllowlist(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo", "other": "echo"})
	first, _, _, err := load(t, plugins.Options{Dir: dir})
	require.NoError(t, err)
	var sum string
	for _, s := range first.List() {
		sum = s.SHA256
	}
	m, _, reg, err := load(t, plugins.Options{Dir: dir, Checksums: map[string]string{"echo": sum}})
	require.ErrorContains(t, err, "plugin other: "+filepath.Join(dir, "other")+" is not listed in the plugin checksums")
	_, ok := reg.Lookup(sdk.KindStep, "echo.echo")
	require.True(t, ok)
	for _, s := range m.List() {
		if s.Name == "other" {
			require.Equal(t, plugins.StateFailed, s.State)
		}
	}
}

// A binary replaced on disk is not run by a restart: it would serve another
// description under the old one. A Reload loads it.
func TestRestartRefusesAReplacedBinary(t *testing.T) {
	t.Parallel()
	dir := pluginsDir(t, map[string]string{"echo": "echo"})
	m, eng, reg, err := load(t, plugins.Options{Dir: dir, StableAfter: time.Nanosecond})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "echo")))
	require.NoError(t, os.Link(buildPlugin(t, "./testdata/bench"), filepath.Join(dir, "echo")))
	run(t, eng, `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"exit": 1}}]}`, nil)
	exec := run(t, eng, `{"name": "c", "steps": [{"id": "s", "type": "echo.echo", "config": {"say": "x"}}]}`, nil)
	require.Equal(t, plugins.CodePluginChecksum, exec.Steps["s"].Error.Code, "%v", exec.Steps["s"].Error)
	require.Contains(t, exec.Steps["s"].Error.Message, "is not the one loaded")
	require.Equal(t, plugins.StateFailed, m.List()[0].State)

	rep, err := m.Reload(t.Context(), reg)
	require.NoError(t, err)
	require.Equal(t, []string{"echo"}, rep.Changed)
	_, ok := reg.Lookup(sdk.KindStep, "echo.noop")
	require.True(t, ok)
}
