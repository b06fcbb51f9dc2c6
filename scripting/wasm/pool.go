package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/weftworks/weft/sdk"
)

// instance is one instantiated module, used by one call at a time.
type instance struct {
	mod      api.Module
	describe api.Function
	call     api.Function
	stderr   *head
}

// pool keeps a module's instances. At most cap(slots) instances live at once;
// idle ones wait in idle. An instance whose call failed in any way other than
// a clean answer (trap, exit, deadline, oversized answer) is closed and
// dropped, never reused.
type pool struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	idle     chan *instance
	slots    chan struct{}

	mu     sync.Mutex
	closed bool
}

func newPool(rt wazero.Runtime, compiled wazero.CompiledModule, max int) *pool {
	return &pool{rt: rt, compiled: compiled, idle: make(chan *instance, max), slots: make(chan struct{}, max)}
}

var errPoolClosed = errors.New("module unloaded")

// get returns an idle instance, or a new one when fewer than the cap live;
// otherwise it waits for one or for ctx.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	select {
	case in := <-p.idle:
		return in, nil
	case p.slots <- struct{}{}:
		in, err := p.instantiate(ctx)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns an instance after a call; healthy says whether it may be reused.
func (p *pool) put(in *instance, healthy bool) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if healthy && !closed && !in.mod.IsClosed() {
		p.idle <- in // never blocks: idle holds at most cap(slots)
		return
	}
	_ = in.mod.Close(context.Background())
	<-p.slots
}

func (p *pool) instantiate(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errPoolClosed
	}
	st := &head{max: 512}
	// No WithFS, WithEnv, WithSysWalltime, WithSysNanotime or WithRandSource:
	// the guest sees no files, no environment, a fixed fake clock and
	// deterministic randomness. WASI has no sockets in wasip1.
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStderr(st).
		WithStdout(st)
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w%s", err, st.suffix())
	}
	return &instance{mod: mod, describe: mod.ExportedFunction(exportDescribe), call: mod.ExportedFunction(exportCall), stderr: st}, nil
}

// close closes the idle instances and makes put close the busy ones when
// they come back.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case in := <-p.idle:
			_ = in.mod.Close(ctx)
			<-p.slots
		default:
			return
		}
	}
}

// invoke calls fn (describe or call) on an instance with request as input and
// returns the guest's answer and its status (0 ok, 1 error JSON).
func (p *pool) invoke(ctx context.Context, which string, request []byte, maxOut int) ([]byte, uint32, error) {
	in, err := p.get(ctx)
	if err != nil {
		return nil, 0, sdk.AsError(err)
	}
	in.stderr.reset()
	x := &exchange{in: request, maxOut: maxOut}
	fn := in.call
	if which == exportDescribe {
		fn = in.describe
	}
	res, err := fn.Call(context.WithValue(ctx, exchangeKey{}, x))
	if err != nil {
		p.put(in, false)
		return nil, 0, callError(ctx, err, in.stderr)
	}
	if x.tooLarge > 0 {
		p.put(in, false) // the guest may hold a half-finished state
		return nil, 0, sdk.Errorf(sdk.CodeResponseTooLarge, "wasm answer of %d bytes exceeds the %d-byte cap", x.tooLarge, maxOut)
	}
	p.put(in, true)
	if !x.wrote {
		return nil, 0, sdk.Errorf(CodeABI, "%s returned without calling output_write", which)
	}
	status := uint32(0)
	if len(res) > 0 {
		status = uint32(res[0])
	}
	return x.out, status, nil
}

// callError maps a failed call to an *sdk.Error.
func callError(ctx context.Context, err error, stderr *head) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &sdk.Error{Code: sdk.CodeTimeout, Message: "wasm call stopped: deadline exceeded", Retryable: true, Err: context.DeadlineExceeded}
		case sys.ExitCodeContextCanceled:
			return &sdk.Error{Code: sdk.CodeCancelled, Message: "wasm call stopped: cancelled", Err: context.Canceled}
		}
		return &sdk.Error{Code: CodeTrap, Message: fmt.Sprintf("wasm module exited with code %d%s", exit.ExitCode(), stderr.suffix()), Err: err}
	}
	if ctx.Err() != nil {
		return sdk.AsError(ctx.Err())
	}
	msg, _, _ := strings.Cut(err.Error(), "\n") // drop wazero's wasm stack trace
	return &sdk.Error{Code: CodeTrap, Message: fmt.Sprintf("wasm trap: %s%s", msg, stderr.suffix()), Err: err}
}

// head keeps the first bytes a guest wrote to stdout and stderr during a
// call, for error messages (a Go guest reports "fatal error: out of memory"
// or a panic there, before its goroutine dump).
type head struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *head) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *head) reset() {
	t.mu.Lock()
	t.b = t.b[:0]
	t.mu.Unlock()
}

func (t *head) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.b) == 0 {
		return ""
	}
	return " (guest output: " + strings.TrimSpace(string(t.b)) + ")"
}
