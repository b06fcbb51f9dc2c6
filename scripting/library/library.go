package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/sdk"
)

// DefaultSyncInterval is how often weft serve looks for rules and modules
// changed by other instances.
const DefaultSyncInterval = 10 * time.Second

// Store keeps rules and modules; db implements it.
type Store interface {
	ListRules(ctx context.Context) ([]core.StoredRule, error)
	GetRule(ctx context.Context, name string) (core.StoredRule, error)
	CreateRule(ctx context.Context, r core.StoredRule) (core.StoredRule, error)
	UpdateRule(ctx context.Context, name string, ifVersion int, r core.StoredRule) (core.StoredRule, error)
	DeleteRule(ctx context.Context, name string) error
	ListModules(ctx context.Context) ([]core.StoredModule, error)
	GetModule(ctx context.Context, name string) (core.StoredModule, error)
	ModuleBinary(ctx context.Context, name string) (core.StoredModule, error)
	SaveModule(ctx context.Context, m core.StoredModule, replace bool) (core.StoredModule, bool, error)
	DeleteModule(ctx context.Context, name string) error
}

// Options configure a Library. Store, Registry and Lua are required.
type Options struct {
	Store    Store
	Registry *core.Registry
	// Lua runs the rules (registered into Registry with PutRule).
	Lua *lua.Runtime
	// WASM runs the uploaded modules; it must have been registered into
	// Registry (wasm.Runtime.Register). Nil refuses uploads.
	WASM *wasm.Runtime
	// Logger receives what Sync applied and what it could not.
	Logger *slog.Logger
}

// ErrNoModules is returned by module writes when the library has no WASM
// runtime.
var ErrNoModules = errors.New("this server runs no WASM modules")

// Library is the stored scripts of one process. It is safe for concurrent
// use.
type Library struct {
	store Store
	reg   *core.Registry
	lua   *lua.Runtime
	wasm  *wasm.Runtime
	log   *slog.Logger

	// mu orders writes and syncs: a sync never sees a write half done (its
	// row stored but not yet applied here, which it would undo).
	mu      sync.Mutex
	rules   map[string]string // name → hash of what is loaded
	modules map[string]string // name → SHA-256 of what is loaded
	failed  map[string]string // "rule:x"/"module:x" → what failed to load, not to log it every sync
}

// New returns a library; call Sync to load what is stored.
func New(opts Options) (*Library, error) {
	if opts.Store == nil || opts.Registry == nil || opts.Lua == nil {
		return nil, errors.New("library: Store, Registry and Lua are required")
	}
	l := &Library{store: opts.Store, reg: opts.Registry, lua: opts.Lua, wasm: opts.WASM, log: opts.Logger,
		rules: map[string]string{}, modules: map[string]string{}, failed: map[string]string{}}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l, nil
}

// ruleHash identifies what a rule loads: its language, source and config.
func ruleHash(r core.StoredRule) string {
	cfg, _ := json.Marshal(r.Config)
	sum := sha256.Sum256([]byte(r.Language + "\x00" + r.Source + "\x00" + string(cfg)))
	return hex.EncodeToString(sum[:])
}

// Sync makes what is loaded match what is stored: rules and modules added,
// changed or deleted (by another instance) are applied. A rule or module
// that fails to load (one stored by a newer weft, a name now taken) is
// logged once and skipped; the others still load. The error reports a
// store that could not be read, and what failed.
func (l *Library) Sync(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if err := l.syncRules(ctx); err != nil {
		errs = append(errs, err)
	}
	if l.wasm != nil {
		if err := l.syncModules(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Library) syncRules(ctx context.Context) error {
	stored, err := l.store.ListRules(ctx)
	if err != nil {
		return fmt.Errorf("sync rules: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, r := range stored {
		seen[r.Name] = true
		h := ruleHash(r)
		if l.rules[r.Name] == h {
			continue
		}
		key := "rule:" + r.Name
		if err := l.applyRule(r); err != nil {
			if l.failed[key] != h {
				l.failed[key] = h
				l.log.Error("stored rule not loaded", "rule", r.Name, "err", err)
			}
			errs = append(errs, err)
			continue
		}
		delete(l.failed, key)
		l.log.Info("rule loaded", "rule", r.Name, "version", r.Version)
	}
	for name := range l.rules {
		if !seen[name] {
			l.lua.DeleteRule(l.reg, name)
			delete(l.rules, name)
			l.log.Info("rule removed", "rule", name)
		}
	}
	return errors.Join(errs...)
}

// applyRule loads a rule here. Call with l.mu held.
func (l *Library) applyRule(r core.StoredRule) error {
	if r.Language != lua.Lang {
		return fmt.Errorf("rule %q: language %q is not supported (only %q)", r.Name, r.Language, lua.Lang)
	}
	if err := l.lua.PutRuleConfig(l.reg, r.Name, r.Source, r.Config); err != nil {
		return err
	}
	l.rules[r.Name] = ruleHash(r)
	return nil
}

func (l *Library) syncModules(ctx context.Context) error {
	stored, err := l.store.ListModules(ctx)
	if err != nil {
		return fmt.Errorf("sync modules: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for _, m := range stored {
		seen[m.Name] = true
		if l.modules[m.Name] == m.SHA256 {
			continue
		}
		key := "module:" + m.Name
		if l.failed[key] == m.SHA256 {
			continue // compiling it again would fail again
		}
		if err := l.loadModule(ctx, m.Name); err != nil {
			l.failed[key] = m.SHA256
			l.log.Error("stored module not loaded", "module", m.Name, "err", err)
			errs = append(errs, err)
			continue
		}
		delete(l.failed, key)
		l.log.Info("module loaded", "module", m.Name, "sha256", m.SHA256)
	}
	for name := range l.modules {
		if !seen[name] {
			l.wasm.RemoveModule(ctx, name)
			delete(l.modules, name)
			l.log.Info("module removed", "module", name)
		}
	}
	return errors.Join(errs...)
}

// loadModule reads a stored module's code and installs it. Call with l.mu
// held.
func (l *Library) loadModule(ctx context.Context, name string) error {
	sm, err := l.store.ModuleBinary(ctx, name)
	if err != nil {
		return err
	}
	m, err := l.wasm.AddModule(ctx, name, sm.Binary)
	if err != nil {
		return err
	}
	l.modules[name] = m.SHA256()
	return nil
}

// Run calls Sync every interval until ctx ends, logging what fails.
func (l *Library) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSyncInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Sync(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("sync of stored rules and modules", "err", err)
			}
		}
	}
}

// ListRules lists the stored rules by name.
func (l *Library) ListRules(ctx context.Context) ([]core.StoredRule, error) {
	return l.store.ListRules(ctx)
}

// GetRule returns a stored rule, or core.ErrNotFound.
func (l *Library) GetRule(ctx context.Context, name string) (core.StoredRule, error) {
	return l.store.GetRule(ctx, name)
}

// checkRule compiles a rule as it would be loaded: a *sdk.ValidationError
// lists what is wrong (a syntax error with its line and column, as a
// problem at "source"); a transform of that name from elsewhere is
// core.ErrDuplicateComponent.
func (l *Library) checkRule(r *core.StoredRule) error {
	ve := &sdk.ValidationError{}
	if r.Language == "" {
		r.Language = lua.Lang
	}
	if r.Language != lua.Lang {
		ve.Add("language", "%q is not supported: the only rule language is %q", r.Language, lua.Lang)
	}
	if err := (sdk.Info{Kind: sdk.KindTransform, Name: r.Name, New: func() sdk.Component { return nil }}).Check(); err != nil {
		ve.Add("name", "letters, digits and underscores, dot-separated, at most 100 characters")
	}
	if len(r.Description) > 2000 {
		ve.Add("description", "at most 2000 characters")
	}
	if strings.TrimSpace(r.Source) == "" {
		ve.Add("source", "is required: the Lua script")
	} else if _, err := l.lua.Compile("rule."+r.Name, r.Source); err != nil {
		var sve *sdk.ValidationError
		if !errors.As(err, &sve) {
			return err
		}
		for _, p := range sve.Problems {
			p.Path = "source"
			ve.Problems = append(ve.Problems, p)
		}
	}
	if len(ve.Problems) > 0 {
		return ve
	}
	if e, ok := l.reg.Lookup(sdk.KindTransform, r.Name); ok && (e.Origin != core.OriginLua || e.Source != lua.RuleSource(r.Name)) {
		return fmt.Errorf("rule %q: %w: a %s transform of that name is registered", r.Name, core.ErrDuplicateComponent, e.Origin)
	}
	return nil
}

// CreateRule compiles, stores and loads a new rule. A syntax error is a
// *sdk.ValidationError (line and column); a taken name core.ErrExists, or
// core.ErrDuplicateComponent when a transform from elsewhere has it.
func (l *Library) CreateRule(ctx context.Context, r core.StoredRule) (core.StoredRule, error) {
	if err := l.checkRule(&r); err != nil {
		return core.StoredRule{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	stored, err := l.store.CreateRule(ctx, r)
	if err != nil {
		return core.StoredRule{}, err
	}
	return stored, l.applyRule(stored)
}

// UpdateRule compiles, stores and loads a new version of a rule (see
// Store.UpdateRule for ifVersion).
func (l *Library) UpdateRule(ctx context.Context, name string, ifVersion int, r core.StoredRule) (core.StoredRule, error) {
	r.Name = name
	if err := l.checkRule(&r); err != nil {
		return core.StoredRule{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	stored, err := l.store.UpdateRule(ctx, name, ifVersion, r)
	if err != nil {
		return core.StoredRule{}, err
	}
	return stored, l.applyRule(stored)
}

// DeleteRule deletes a rule and unloads it. Workflows that use it fail
// their next call with RULE_NOT_FOUND; new ones referring to it no longer
// validate.
func (l *Library) DeleteRule(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.store.DeleteRule(ctx, name); err != nil {
		return err
	}
	l.lua.DeleteRule(l.reg, name)
	delete(l.rules, name)
	return nil
}

// ListModules lists the uploaded modules by name, without their code.
func (l *Library) ListModules(ctx context.Context) ([]core.StoredModule, error) {
	return l.store.ListModules(ctx)
}

// GetModule returns an uploaded module without its code, or
// core.ErrNotFound.
func (l *Library) GetModule(ctx context.Context, name string) (core.StoredModule, error) {
	return l.store.GetModule(ctx, name)
}

// UploadModule compiles and checks bin as the module name (a
// *wasm.ModuleError says what is wrong: not WASM, where it fails to
// compile, the ABI), stores it and loads it. A module of that name is
// replaced when replace is set, else core.ErrExists; created says whether
// there was none. Nothing is stored when the module is refused.
func (l *Library) UploadModule(ctx context.Context, name string, bin []byte, replace bool) (core.StoredModule, bool, error) {
	if l.wasm == nil {
		return core.StoredModule{}, false, ErrNoModules
	}
	if !replace {
		if _, err := l.store.GetModule(ctx, name); err == nil {
			return core.StoredModule{}, false, fmt.Errorf("module %q: %w", name, core.ErrExists)
		}
	}
	m, err := l.wasm.Prepare(ctx, name, bin)
	if err != nil {
		return core.StoredModule{}, false, err
	}
	installed := false
	defer func() {
		if !installed {
			_ = m.Close(context.WithoutCancel(ctx))
		}
	}()
	sm := core.StoredModule{Name: name, SHA256: m.SHA256(), Size: int64(len(bin)), Binary: bin}
	for _, d := range m.Components() {
		sm.Components = append(sm.Components, core.ModuleComponent{Kind: d.Kind, Name: d.Name, Version: d.Version, Summary: d.Summary})
	}
	sort.Slice(sm.Components, func(i, j int) bool {
		a, b := sm.Components[i], sm.Components[j]
		return a.Kind < b.Kind || (a.Kind == b.Kind && a.Name < b.Name)
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	stored, created, err := l.store.SaveModule(ctx, sm, replace)
	if err != nil {
		return core.StoredModule{}, false, err
	}
	if err := l.wasm.Install(ctx, m); err != nil {
		return core.StoredModule{}, false, err
	}
	installed = true
	l.modules[name] = m.SHA256()
	delete(l.failed, "module:"+name)
	return stored, created, nil
}

// DeleteModule deletes an uploaded module and unloads it: calls in flight
// finish; workflows that use it fail their next call with
// WASM_MODULE_REMOVED.
func (l *Library) DeleteModule(ctx context.Context, name string) error {
	if l.wasm == nil {
		return ErrNoModules
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.store.DeleteModule(ctx, name); err != nil {
		return err
	}
	l.wasm.RemoveModule(ctx, name)
	delete(l.modules, name)
	delete(l.failed, "module:"+name)
	return nil
}
