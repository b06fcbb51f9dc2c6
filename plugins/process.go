package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/jonboulle/clockwork"
	"google.golang.org/grpc"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
	"github.com/weftworks/weft/sdk/plugin/pb"
)

// State is where a plugin process is in its life.
type State string

// States of a plugin.
const (
	StateRunning  State = "RUNNING"  // the process is up and answered
	StateStopped  State = "STOPPED"  // not running; it starts on its next call
	StateCrashed  State = "CRASHED"  // it died or hung; it restarts on its next call, after its backoff
	StateFailed   State = "FAILED"   // it could not be started or described (see Status.Error)
	StateStarting State = "STARTING" // being started or stopped right now
	StateDraining State = "DRAINING" // replaced or removed by a Reload, finishing its calls under way
)

// process is one plugin binary and, while it runs, its process.
type process struct {
	m      *Manager
	name   string
	path   string
	sha256 string

	mu        sync.Mutex
	client    *goplugin.Client
	rpc       *plugin.Client
	state     State
	lastErr   error // why it crashed or did not start; nil while it runs
	starts    int
	crashes   int       // crashes in a row; reset once it has stayed up for StableAfter
	upSince   time.Time // when the running process started
	notBefore time.Time // a crashed plugin is not restarted before this
	desc      plugin.Description
	described bool

	// calls counts the calls under way (get to release). A process that a
	// Reload replaced or removed is retired: it takes no new call and is
	// stopped once calls drops to zero, or when drain fires.
	calls   int
	retired bool
	drain   clockwork.Timer
}

// errNoSealedCopy says that a sealed copy of a binary cannot be made here.
var errNoSealedCopy = errors.New("no sealed copies of binaries on this system")

// errRetired is get's answer on a process a Reload replaced: the caller
// asks the manager for the current one.
var errRetired = errors.New("plugin process replaced by a reload")

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// get returns a client of the running process, starting it when it is not
// running (first use, after a crash once its backoff has passed).
func (p *process) get(ctx context.Context) (*plugin.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m.closed.Load() {
		return nil, &sdk.Error{Code: sdk.CodeCancelled, Message: fmt.Sprintf("plugin %s: weft is stopping its plugins", p.name), Err: context.Canceled}
	}
	if p.retired {
		return nil, errRetired
	}
	if p.client != nil && !p.client.Exited() {
		p.calls++
		return p.rpc, nil
	}
	if p.client != nil { // it exited between calls
		p.crashedLocked("the plugin process exited")
	}
	if wait := p.notBefore.Sub(p.m.clock.Now()); wait > 0 {
		if p.state == StateFailed { // it did not start: say why, with its code
			return nil, &sdk.Error{Code: sdk.AsError(p.lastErr).Code, Retryable: true, RetryAfter: wait,
				Message: fmt.Sprintf("%s (next start in %s)", p.lastErr, wait.Round(time.Millisecond))}
		}
		return nil, &sdk.Error{Code: sdk.CodePluginCrashed, Retryable: true, RetryAfter: wait,
			Message: fmt.Sprintf("plugin %s crashed (%s); it restarts in %s", p.name, p.lastErr, wait.Round(time.Millisecond))}
	}
	// The start is the plugin's, not the call's: a call with little time
	// left must not make a healthy plugin look broken.
	if err := p.startLocked(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	p.calls++
	return p.rpc, nil
}

// release ends a call that get let in. The last call of a retired process
// stops it.
func (p *process) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls--
	if p.retired && p.calls == 0 {
		go p.stop() // a kill may wait for the process: not on the caller's time
	}
}

// retire takes p out of service after a Reload replaced or removed it: it
// takes no new call, finishes those under way and is then stopped — at the
// latest after the manager's DrainTimeout, when it is killed with what is
// still running.
func (p *process) retire() {
	p.mu.Lock()
	p.retired = true
	if p.calls == 0 || p.client == nil {
		p.mu.Unlock()
		p.stop()
		return
	}
	p.m.setDraining(p, true)
	p.drain = p.m.clock.AfterFunc(p.m.opts.DrainTimeout, func() {
		p.mu.Lock()
		busy := p.calls > 0 && p.client != nil
		p.mu.Unlock()
		if busy {
			p.m.opts.Logger.Warn("plugin process replaced by a reload still had calls under way; killed", "plugin", p.name, "drain", p.m.opts.DrainTimeout)
		}
		p.stop() // go-plugin's Kill asks the process to exit first and waits up to 2 s
	})
	p.mu.Unlock()
}

// startLocked starts the process and checks that it answers.
func (p *process) startLocked(ctx context.Context) error {
	opts := p.m.opts
	sum, pinned := opts.Checksums[p.name]
	exe := p.path
	if pinned {
		// Run the bytes that are checked (go-plugin's SecureConfig hashes
		// the file it starts): a sealed copy, not the file, which could be
		// replaced between the check and the exec.
		f, err := sealedCopy(p.name, p.path)
		switch {
		case err == nil:
			defer f.Close() // once started, the process has its own reference
			exe = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
		case !errors.Is(err, errNoSealedCopy):
			return p.failLocked(sdk.Errorf(CodePluginStart, "plugin %s: copy %s to run it: %v", p.name, p.path, err))
		}
	}
	cmd := exec.Command(exe)
	cmd.Args[0] = p.path // what the plugin sees as its name
	cmd.Env = append([]string(nil), opts.Env[p.name]...)
	if opts.MaxProcs > 0 && !slices.ContainsFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, "GOMAXPROCS=") }) {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(opts.MaxProcs))
	}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  plugin.Handshake,
		Plugins:          goplugin.PluginSet{plugin.Name: &plugin.GRPC{}},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true, // a plugin gets only the environment it is configured to get
		StartTimeout:     opts.StartTimeout,
		Logger:           newSlogger(opts.Logger, p.name),
		Stderr:           io.Discard,
	}
	if opts.Checksums != nil && !pinned {
		return p.failLocked(sdk.Errorf(CodePluginChecksum, "plugin %s: %s is not listed in the plugin checksums: refusing to run it", p.name, p.path))
	}
	if pinned {
		want, err := hex.DecodeString(sum)
		if err != nil || len(want) != sha256.Size {
			return p.failLocked(sdk.Errorf(CodePluginChecksum, "plugin %s: checksum %q is not a hex SHA-256", p.name, sum))
		}
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}
	cfg.GRPCDialOptions = []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(plugin.MaxMessageSize), grpc.MaxCallSendMsgSize(plugin.MaxMessageSize))}
	client := goplugin.NewClient(cfg)
	p.starts++
	conn, err := client.Client()
	if err != nil {
		client.Kill()
		return p.failLocked(startError(p.name, p.path, err))
	}
	if err := p.checkRunning(client); err != nil {
		client.Kill()
		return p.failLocked(err)
	}
	raw, err := conn.Dispense(plugin.Name)
	if err != nil {
		client.Kill()
		return p.failLocked(sdk.Errorf(CodePluginStart, "plugin %s: %w", p.name, err))
	}
	rpc := plugin.NewClient(raw.(pb.PluginClient))
	dctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	desc, err := rpc.Describe(dctx)
	if err != nil {
		client.Kill()
		return p.failLocked(sdk.Errorf(CodePluginStart, "plugin %s: describe: %w", p.name, err))
	}
	if !p.described {
		p.desc, p.described = desc, true // fixed for the process's binary: Info reads it without the lock
	}
	p.client, p.rpc = client, rpc
	p.state, p.lastErr, p.upSince = StateRunning, nil, p.m.clock.Now()
	p.m.opts.Logger.Info("plugin started", "plugin", p.name, "path", p.path, "components", len(desc.Components))
	return nil
}

// startError explains why go-plugin could not start a plugin, in the
// user's terms.
func startError(name, path string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, goplugin.ErrChecksumsDoNotMatch):
		return sdk.Errorf(CodePluginChecksum, "plugin %s: %s does not match its configured sha256: refusing to run it", name, path)
	case strings.Contains(strings.ToLower(msg), "incompatible api version"):
		return sdk.Errorf(CodePluginProtocol, "plugin %s speaks another version of weft's plugin protocol than this weft (%d): rebuild it against a matching weft sdk (%s)",
			name, plugin.ProtocolVersion, msg)
	}
	return sdk.Errorf(CodePluginStart, "plugin %s: could not start %s: %v", name, path, err)
}

// failLocked records a start that failed; err is an *sdk.Error with a
// PLUGIN_* code, made retryable: the next attempt starts the plugin again
// (after the backoff).
func (p *process) failLocked(err error) error {
	if e, ok := err.(*sdk.Error); ok {
		cp := *e
		cp.Retryable = true
		err = &cp
	}
	p.state, p.lastErr = StateFailed, err
	p.client, p.rpc = nil, nil
	p.crashes++
	p.notBefore = p.m.clock.Now().Add(p.m.backoff(p.crashes))
	p.m.opts.Logger.Error("plugin failed to start", "plugin", p.name, "error", err)
	return err
}

// crashedLocked records that the process died or hung, and kills what is
// left of it; it restarts on its next call, after a backoff that grows with
// crashes in a row.
func (p *process) crashedLocked(why string) {
	if p.client == nil {
		return
	}
	p.client.Kill()
	if p.m.clock.Since(p.upSince) >= p.m.opts.StableAfter {
		p.crashes = 0
	}
	p.crashes++
	p.client, p.rpc = nil, nil
	p.state, p.lastErr = StateCrashed, errors.New(why)
	p.notBefore = p.m.clock.Now().Add(p.m.backoff(p.crashes))
	p.m.opts.Logger.Warn("plugin crashed", "plugin", p.name, "reason", why, "crashes", p.crashes)
}

// crashed is crashedLocked for a call that failed on the client c: a
// process already replaced is left alone.
func (p *process) crashed(c *plugin.Client, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rpc == c {
		p.crashedLocked(why)
	}
}

// exited reports whether the process behind c has exited.
func (p *process) exited(c *plugin.Client) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rpc != c || p.client == nil || p.client.Exited()
}

// stop ends the process (shutdown, reload); it may start again on its next
// call unless retired.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Kill()
	}
	p.client, p.rpc = nil, nil
	if p.state == StateRunning {
		p.state = StateStopped
	}
	if p.retired {
		if p.drain != nil {
			p.drain.Stop()
		}
		p.m.setDraining(p, false)
	}
}

// status reports the plugin's state. A plugin being started (or killed)
// holds its lock for a while; it is then reported STARTING rather than
// making the listing wait.
func (p *process) status() Status {
	if !p.mu.TryLock() {
		return Status{Name: p.name, Path: p.path, SHA256: p.sha256, Protocol: plugin.ProtocolVersion, State: StateStarting}
	}
	defer p.mu.Unlock()
	st := Status{Name: p.name, Path: p.path, SHA256: p.sha256, SDKVersion: p.desc.SDKVersion, Module: p.desc.Module, Version: p.desc.Version, Protocol: plugin.ProtocolVersion,
		State: p.state, Starts: p.starts, Calls: p.calls}
	if p.lastErr != nil {
		st.Error = p.lastErr.Error()
	}
	if p.client != nil {
		if p.client.Exited() {
			st.State = StateCrashed
		} else if rc := p.client.ReattachConfig(); rc != nil {
			st.PID = rc.Pid
		}
	}
	if p.retired && st.State != StateCrashed {
		st.State = StateDraining
	}
	for _, c := range p.desc.Components {
		st.Components = append(st.Components, ComponentStatus{Kind: c.Kind, Name: qualify(p.name, c.Name), Version: c.Version, Summary: c.Summary})
	}
	return st
}

// waitExited reports whether the process behind c has exited, giving it a
// moment: a broken connection is seen before the process's exit is.
func (p *process) waitExited(c *plugin.Client) bool {
	for i := 0; i < 100; i++ {
		if p.exited(c) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// checkHealth runs after a call to the plugin behind c ran out of time.
// The cancellation reached the plugin; a sound component returns at once.
// After HealthTimeout the plugin is asked whether it still runs a
// cancelled call: if so, or if it does not answer, it is hung, and is killed
// (and restarted on its next call).
func (p *process) checkHealth(c *plugin.Client) {
	<-p.m.clock.After(p.m.opts.HealthTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), p.m.opts.HealthTimeout)
	defer cancel()
	abandoned, err := c.Health(ctx)
	switch {
	case err != nil:
		p.crashed(c, fmt.Sprintf("it did not answer a health check after a call ran out of time (hung): %v", err))
	case abandoned > 0:
		p.crashed(c, fmt.Sprintf("%d call(s) still ran %s after their deadline (hung)", abandoned, p.m.opts.HealthTimeout))
	}
}

// checkRunning checks that the process started runs the binary this
// plugin was loaded from (its SHA-256 when loaded, or the pinned one): the
// file at the path may have been replaced between the check and the exec,
// or since the load (a restart after a crash must not run another binary
// under the old description; a Reload picks up a new one). On Linux the
// executed file is read through /proc/PID/exe, whatever the path names
// now; elsewhere the path is hashed again.
func (p *process) checkRunning(client *goplugin.Client) error {
	want := p.sha256
	if pinned, ok := p.m.opts.Checksums[p.name]; ok {
		want = strings.ToLower(pinned)
	}
	exe := p.path
	if rc := client.ReattachConfig(); rc != nil && rc.Pid > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/exe", rc.Pid)); err == nil {
			exe = fmt.Sprintf("/proc/%d/exe", rc.Pid)
		}
	}
	got, err := fileSHA256(exe)
	if err != nil {
		return sdk.Errorf(CodePluginStart, "plugin %s: read the running binary: %v", p.name, err)
	}
	if got != want {
		return sdk.Errorf(CodePluginChecksum, "plugin %s: the binary that started (sha256 %s) is not the one loaded (%s): refusing to run it; reload to load a new binary", p.name, got[:12], want[:12])
	}
	return nil
}
