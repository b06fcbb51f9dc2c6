package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/sdk"
)

// testTimeout bounds every wait of a test on something asynchronous; it is a
// guard against hangs, never a delay, and never a measure of speed: far above
// what any test needs under -race on a busy machine.
const testTimeout = 2 * time.Minute

// forever is a /slow delay (the mock's longest) that outlasts testTimeout: a
// call to it ends only when it is cancelled or times out, which is what the
// tests using it check.
const forever = "300000"

// fixedTime is the start of every fake clock.
var fixedTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// engineOpts configure newEngine; the zero value is a plain engine.
type engineOpts struct {
	steps              steps.Options
	clock              clockwork.Clock
	secrets            core.SecretSource
	observer           func(core.Event)
	defaultStepTimeout time.Duration
	components         []sdk.Component
}

// newEngine returns an engine with the built-in steps (the egress client's
// default policy, which allows 127.0.0.1) and the given extra components.
func newEngine(t testing.TB, o engineOpts) *core.Engine {
	t.Helper()
	if o.steps.Client == nil {
		o.steps.Client = egress.NewClient(egress.Options{})
	}
	reg := steps.NewRegistry(o.steps)
	for _, c := range o.components {
		require.NoError(t, reg.Register(core.Entry{Info: c.Info(), Origin: core.OriginCompiled}))
	}
	return core.New(core.Options{
		Registry:           reg,
		Clock:              o.clock,
		Secrets:            o.secrets,
		Observer:           o.observer,
		DefaultStepTimeout: o.defaultStepTimeout,
	})
}

// wf wraps step definitions (JSON objects, comma-separated) into a workflow.
func wf(stepsJSON string) string {
	return `{"name": "test", "steps": [` + stepsJSON + `]}`
}

// compile parses and compiles a workflow document that must be valid.
func compile(t testing.TB, eng *core.Engine, doc string) *core.Plan {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err, "parse")
	plan, err := eng.Compile(context.Background(), w)
	require.NoError(t, err, "compile")
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	return plan
}

// problems parses and compiles a workflow document that must be rejected and
// returns every problem reported.
func problems(t testing.TB, eng *core.Engine, doc string) []sdk.Problem {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err, "parse")
	_, err = eng.Compile(context.Background(), w)
	require.Error(t, err, "compile should fail")
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "want *sdk.ValidationError, got %T: %v", err, err)
	require.NotEmpty(t, ve.Problems)
	return ve.Problems
}

// requireProblem asserts that a problem at path exists whose message
// contains substr.
func requireProblem(t testing.TB, ps []sdk.Problem, path, substr string) {
	t.Helper()
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Message, substr) {
			return
		}
	}
	require.Failf(t, "problem not reported", "want a problem at %q containing %q; got:\n%s", path, substr, formatProblems(ps))
}

func formatProblems(ps []sdk.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// run compiles and executes a workflow document.
func run(t testing.TB, eng *core.Engine, doc string, input any) *core.Execution {
	t.Helper()
	plan := compile(t, eng, doc)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	exec, err := eng.Execute(ctx, plan, input)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "the execution ended only at the test's guard")
	return exec
}

// requireCompleted asserts that the execution completed, showing its error
// otherwise.
func requireCompleted(t testing.TB, exec *core.Execution) {
	t.Helper()
	require.Equalf(t, core.StatusCompleted, exec.Status, "execution error: %v", exec.Error)
}

// requireFailed asserts that the execution failed with the given code.
func requireFailed(t testing.TB, exec *core.Execution, code string) {
	t.Helper()
	require.Equal(t, core.StatusFailed, exec.Status)
	require.NotNil(t, exec.Error)
	require.Equal(t, code, exec.Error.Code, "execution error: %v", exec.Error)
}

// step returns the record of a step, which must exist.
func step(t testing.TB, exec *core.Execution, id string) *core.StepState {
	t.Helper()
	st, ok := exec.Steps[id]
	require.Truef(t, ok, "no record of step %q; have %v", id, exec.StepIDs())
	return st
}

// mock starts the mock API on 127.0.0.1 and returns it with its base URL.
func mock(t testing.TB, opts ...mockapi.Option) (*mockapi.Server, string) {
	t.Helper()
	m := mockapi.New(opts...)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv.URL
}

// serve starts a test server with handler h and returns its base URL.
func serve(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// requestsTo returns the requests the mock received on a path.
func requestsTo(m *mockapi.Server, path string) []mockapi.Request {
	var out []mockapi.Request
	for _, r := range m.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// obj asserts v is a JSON object and returns it.
func obj(t testing.TB, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.Truef(t, ok, "want an object, got %T: %#v", v, v)
	return m
}

// list asserts v is a JSON array and returns it.
func list(t testing.TB, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	require.Truef(t, ok, "want an array, got %T: %#v", v, v)
	return l
}

// jsonValue decodes a JSON literal into plain JSON-shaped data.
func jsonValue(t testing.TB, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

// events collects observer events and lets a test wait for one of a type.
type events struct {
	mu    sync.Mutex
	all   []core.Event
	waits map[string]chan core.Event
}

func newEvents() *events { return &events{waits: map[string]chan core.Event{}} }

func (e *events) chanFor(typ string) chan core.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.waits[typ]
	if !ok {
		ch = make(chan core.Event, 64)
		e.waits[typ] = ch
	}
	return ch
}

// observe is the engine observer.
func (e *events) observe(ev core.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.chanFor(ev.Type) <- ev:
	default:
	}
}

// next waits for the next event of a type.
func (e *events) next(t testing.TB, typ string) core.Event {
	t.Helper()
	select {
	case ev := <-e.chanFor(typ):
		return ev
	case <-time.After(testTimeout):
		require.FailNow(t, "timed out waiting for event "+typ)
		return core.Event{}
	}
}

func (e *events) ofType(typ string) []core.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []core.Event
	for _, ev := range e.all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// asyncExec runs an execution in a goroutine; wait returns its record.
type asyncExec struct {
	done chan struct{}
	exec *core.Execution
	err  error
}

func startExec(ctx context.Context, eng *core.Engine, plan *core.Plan, input any) *asyncExec {
	a := &asyncExec{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.exec, a.err = eng.Execute(ctx, plan, input)
	}()
	return a
}

func (a *asyncExec) wait(t testing.TB) *core.Execution {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(testTimeout):
		require.FailNow(t, "execution did not finish")
	}
	require.NoError(t, a.err)
	return a.exec
}

// barrier releases the requests of a handler in groups of n, recording how
// many were in flight at most.
type barrier struct {
	n int

	mu       sync.Mutex
	inflight int
	max      int
	arrived  int
	gate     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, gate: make(chan struct{})} }

// enter blocks until n requests (counting this one) have arrived in the
// current group; it reports false when the group never fills.
func (b *barrier) enter(ctx context.Context) bool {
	b.mu.Lock()
	b.inflight++
	b.max = max(b.max, b.inflight)
	b.arrived++
	gate := b.gate
	if b.arrived == b.n {
		close(gate)
		b.arrived = 0
		b.gate = make(chan struct{})
	}
	b.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-ctx.Done():
		return false
	case <-time.After(testTimeout):
		return false
	}
}

func (b *barrier) leave() {
	b.mu.Lock()
	b.inflight--
	b.mu.Unlock()
}

func (b *barrier) maxInflight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.max
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
