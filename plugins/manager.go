package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Error codes of plugins, besides sdk.CodePluginCrashed.
const (
	CodePluginStart    = "PLUGIN_START"    // the binary could not be started or did not answer
	CodePluginChecksum = "PLUGIN_CHECKSUM" // the binary does not match its configured sha256
	CodePluginProtocol = "PLUGIN_PROTOCOL" // the plugin speaks another protocol version
)

// Defaults of Options.
const (
	DefaultStartTimeout  = 10 * time.Second
	DefaultDrainTimeout  = time.Minute
	DefaultHealthTimeout = time.Second
	DefaultBackoffMin    = 500 * time.Millisecond
	DefaultBackoffMax    = time.Minute
	DefaultStableAfter   = time.Minute
	DefaultMaxProcs      = 1
)

// Options configure a Manager. The zero value works except for Dir.
type Options struct {
	// Dir holds the plugin binaries: every executable regular file directly
	// in it is a plugin, named after its file (without an extension and a
	// "weft-plugin-" prefix): plugins/crm serves crm.upsert_contact.
	Dir string
	// Checksums pins plugins by name to the hex SHA-256 of their binary;
	// a pinned plugin whose binary differs is refused (go-plugin's
	// SecureConfig checks it again at every start). When it is set, a
	// plugin it does not list is refused too: pinning is an allowlist.
	Checksums map[string]string
	// Env is the environment of each plugin by name ("KEY=value" entries).
	// Plugins inherit nothing from weft's environment, secrets included.
	Env map[string][]string
	// MaxProcs is the GOMAXPROCS of plugin processes (unless a plugin's Env
	// sets GOMAXPROCS): default DefaultMaxProcs; negative for Go's default,
	// every CPU. One processor keeps a call's hand-offs between goroutines
	// on one thread, which cuts the round trip by a fifth here (see
	// docs/performance.md#plugins); a plugin doing heavy computation for many
	// calls at once wants more.
	MaxProcs int
	// Logger receives weft's messages about plugins and the plugins' own
	// log records, tagged with the plugin's name. Default slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds starting a plugin and its first answer. Default
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// HealthTimeout bounds the check of a plugin whose call ran out of time:
	// a plugin that does not answer it is deemed hung, killed and restarted.
	// Default DefaultHealthTimeout.
	HealthTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before a crashed plugin is
	// started again: none after its first crash, then BackoffMin doubling
	// with each crash in a row, up to BackoffMax. Defaults
	// DefaultBackoffMin and DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// StableAfter is how long a plugin must stay up for its crash count to
	// start again from zero. Default DefaultStableAfter.
	StableAfter time.Duration
	// DrainTimeout bounds how long a process that a Reload replaced or
	// removed keeps serving the calls it had under way; it is stopped when
	// the last one ends, or killed after DrainTimeout. Default
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Clock drives the backoff and the drain. Default the real clock.
	Clock clockwork.Clock
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = DefaultHealthTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.StableAfter <= 0 {
		o.StableAfter = DefaultStableAfter
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.MaxProcs == 0 {
		o.MaxProcs = DefaultMaxProcs
	}
	return o
}

// Manager runs the plugins of a directory and keeps their components in a
// core registry. It is safe for concurrent use.
type Manager struct {
	opts  Options
	clock clockwork.Clock

	mu     sync.Mutex // serialises Load, Reload and Close
	closed atomic.Bool

	procsMu sync.RWMutex // guards plugins and draining; never held while a process starts
	plugins map[string]*process
	// draining holds the processes a Reload replaced or removed while they
	// finish their calls (see process.retire); Close stops them too.
	draining map[*process]bool
}

// current returns the process now serving the plugin name: calls of
// component instances made before a Reload go to the new process, never to
// the one it replaced.
func (m *Manager) current(name string) (*process, bool) {
	m.procsMu.RLock()
	defer m.procsMu.RUnlock()
	p, ok := m.plugins[name]
	return p, ok
}

func (m *Manager) setProcess(name string, p *process) {
	m.procsMu.Lock()
	defer m.procsMu.Unlock()
	if p == nil {
		delete(m.plugins, name)
	} else {
		m.plugins[name] = p
	}
}

func (m *Manager) processes() map[string]*process {
	m.procsMu.RLock()
	defer m.procsMu.RUnlock()
	out := make(map[string]*process, len(m.plugins))
	for k, v := range m.plugins {
		out[k] = v
	}
	return out
}

// New returns a manager; nothing starts until Load.
func New(opts Options) *Manager {
	opts = opts.withDefaults()
	return &Manager{opts: opts, clock: opts.Clock, plugins: map[string]*process{}, draining: map[*process]bool{}}
}

// Status describes one plugin, for `weft plugins list` and the API.
type Status struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Module and Version are the plugin's Go module and version, from
	// its build info ("(devel)" for a local build).
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
	// SDKVersion is the version of weft's module it was built with.
	SDKVersion string `json:"sdkVersion,omitempty"`
	Protocol   int    `json:"protocol"`
	State      State  `json:"state"`
	Error      string `json:"error,omitempty"`
	Starts     int    `json:"starts"`
	// Calls is the number of calls under way.
	Calls int `json:"calls"`
	// PID is the process's id while it runs.
	PID        int               `json:"pid,omitempty"`
	Components []ComponentStatus `json:"components"`
}

// ComponentStatus is one component a plugin provides, by its registered name.
type ComponentStatus struct {
	Kind    sdk.Kind `json:"kind"`
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Summary string   `json:"summary,omitempty"`
}

// ReloadReport says what a Load or Reload changed.
type ReloadReport struct {
	Added     []string `json:"added"`
	Changed   []string `json:"changed"`
	Removed   []string `json:"removed"`
	Unchanged []string `json:"unchanged"`
	// Failed maps plugins that could not be loaded to why.
	Failed map[string]string `json:"failed,omitempty"`
}

// PluginName is the name of the plugin in a binary's file: its base name
// without an extension and without a "weft-plugin-" prefix.
func PluginName(path string) string {
	name := filepath.Base(path)
	if ext := filepath.Ext(name); ext != "" {
		name = strings.TrimSuffix(name, ext)
	}
	return strings.TrimPrefix(name, "weft-plugin-")
}

// qualify namespaces a component's name with its plugin's name.
func qualify(plugin, name string) string {
	if strings.HasPrefix(name, plugin+".") {
		return name
	}
	return plugin + "." + name
}

// Load starts every plugin of the directory, asks each what it provides and
// registers that in reg. A plugin that fails is reported in the returned
// error (every failure, joined) and in its Status; the others are loaded.
func (m *Manager) Load(ctx context.Context, reg *core.Registry) error {
	rep, err := m.Reload(ctx, reg)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(rep.Failed)) {
		errs = append(errs, errors.New(rep.Failed[name]))
	}
	return errors.Join(errs...)
}

// Reload scans the directory again: new binaries are started and
// registered, changed ones (another sha256) restarted and registered anew,
// removed ones stopped and unregistered. Executions under way keep the
// component instances they compiled with; their next calls go to the new
// process.
func (m *Manager) Reload(ctx context.Context, reg *core.Registry) (ReloadReport, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := ReloadReport{Failed: map[string]string{}}
	if m.closed.Load() {
		return rep, errors.New("plugins: manager closed")
	}
	found, err := m.scan()
	if err != nil {
		return rep, err
	}
	procs := m.processes()
	for name, old := range procs {
		if _, ok := found[name]; !ok {
			m.setProcess(name, nil)
			m.unregister(reg, old)
			old.retire()
			rep.Removed = append(rep.Removed, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(found)) {
		path := found[name]
		sum, err := fileSHA256(path)
		if err != nil {
			rep.Failed[name] = fmt.Sprintf("plugin %s: %v", name, err)
			continue
		}
		old := procs[name]
		if old != nil && old.sha256 == sum && old.path == path && old.status().State != StateFailed {
			rep.Unchanged = append(rep.Unchanged, name)
			continue
		}
		p := &process{m: m, name: name, path: path, sha256: sum, state: StateStopped}
		p.mu.Lock()
		err = p.startLocked(ctx)
		p.mu.Unlock()
		if err != nil {
			rep.Failed[name] = err.Error()
			if old == nil || old.status().State == StateFailed {
				m.setProcess(name, p) // listed, FAILED, with its error
				if old != nil {
					old.retire() // a caller holding it must not start it again
				}
			}
			continue
		}
		if err := m.register(reg, p, old); err != nil {
			p.stop()
			rep.Failed[name] = err.Error()
			continue
		}
		m.setProcess(name, p)
		if old != nil {
			old.retire()
			rep.Changed = append(rep.Changed, name)
		} else {
			rep.Added = append(rep.Added, name)
		}
	}
	return rep, nil
}

// scan lists the plugin binaries of the directory by plugin name.
func (m *Manager) scan() (map[string]string, error) {
	found := map[string]string{}
	if m.opts.Dir == "" {
		return found, nil
	}
	entries, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return found, nil
		}
		return nil, fmt.Errorf("plugins: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue // directories, links to nowhere, READMEs, checksum files
		}
		path := filepath.Join(m.opts.Dir, e.Name())
		name := PluginName(path)
		if prev, dup := found[name]; dup {
			return nil, fmt.Errorf("plugins: %s and %s are both plugin %q", prev, path, name)
		}
		found[name] = path
	}
	return found, nil
}

// register puts p's components into reg, replacing those of old.
func (m *Manager) register(reg *core.Registry, p *process, old *process) error {
	var entries []core.Entry
	for _, c := range p.desc.Components {
		info := componentInfo(p, c)
		if err := info.Check(); err != nil {
			return fmt.Errorf("plugin %s: %w", p.name, err)
		}
		if e, ok := reg.Lookup(info.Kind, info.Name); ok && (e.Origin != core.OriginPlugin || (old == nil || e.Source != old.path) && e.Source != p.path) {
			return fmt.Errorf("plugin %s: %s %q is already provided by %s (%s)", p.name, info.Kind, info.Name, e.Origin, e.Source)
		}
		e := core.Entry{Info: info, Origin: core.OriginPlugin, Source: p.path}
		// The registry's own checks (the config schema compiles) on a scratch
		// registry first: a refusal must not leave reg half updated.
		if err := core.NewEmptyRegistry().Register(e); err != nil {
			return fmt.Errorf("plugin %s: %w", p.name, err)
		}
		entries = append(entries, e)
	}
	if old != nil {
		m.unregister(reg, old)
	}
	for _, e := range entries {
		if err := reg.Replace(e); err != nil {
			return fmt.Errorf("plugin %s: %w", p.name, err)
		}
	}
	return nil
}

func (m *Manager) unregister(reg *core.Registry, p *process) {
	for _, c := range p.desc.Components {
		if e, ok := reg.Lookup(c.Kind, qualify(p.name, c.Name)); ok && e.Origin == core.OriginPlugin && e.Source == p.path {
			reg.Unregister(c.Kind, e.Name)
		}
	}
}

// List returns the status of every plugin, sorted by name, and of the
// processes that a Reload replaced or removed while they finish their calls
// (DRAINING, after the process now serving the same name).
func (m *Manager) List() []Status {
	procs := m.allProcesses()
	out := make([]Status, 0, len(procs))
	for _, p := range procs {
		out = append(out, p.status())
	}
	// By name; a process draining after a Reload after the one now serving.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].State != StateDraining && out[j].State == StateDraining
	})
	return out
}

// Close stops every plugin process, those draining after a Reload
// included. Calls under way fail; later calls are refused.
func (m *Manager) Close(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed.Store(true)
	var wg sync.WaitGroup
	for _, p := range m.allProcesses() {
		wg.Go(p.stop)
	}
	wg.Wait()
	return nil
}

// allProcesses returns the processes serving plugins and those draining
// after a Reload.
func (m *Manager) allProcesses() []*process {
	m.procsMu.RLock()
	defer m.procsMu.RUnlock()
	return append(slices.Collect(maps.Values(m.plugins)), slices.Collect(maps.Keys(m.draining))...)
}

// setDraining notes that p drains (on), or is stopped (off).
func (m *Manager) setDraining(p *process, on bool) {
	m.procsMu.Lock()
	defer m.procsMu.Unlock()
	if on {
		m.draining[p] = true
	} else {
		delete(m.draining, p)
	}
}

// backoff is the wait before a restart after n crashes in a row.
func (m *Manager) backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := m.opts.BackoffMin
	for i := 2; i < n && d < m.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, m.opts.BackoffMax)
}
