package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
	guest "github.com/weftworks/weft/sdk/wasm"
)

// Error codes of WASM calls, besides sdk's TIMEOUT, CANCELLED and
// RESPONSE_TOO_LARGE.
const (
	// CodeTrap: the guest crashed (a panic, running out of its memory cap, an
	// exit); the instance is discarded.
	CodeTrap = "WASM_TRAP"
	// CodeABI: the guest broke the ABI (no answer, a malformed one).
	CodeABI = "WASM_ABI"
	// CodeModuleRemoved: the module of a component was removed (or replaced
	// by one that no longer serves it) after the workflow was compiled.
	CodeModuleRemoved = "WASM_MODULE_REMOVED"
)

// Runtime holds the compiled modules of a modules directory, and those added
// at run time (uploaded), with their pools of instances. It is safe for
// concurrent use. Close it when done.
type Runtime struct {
	opts  Options
	rt    wazero.Runtime
	cache wazero.CompilationCache
	// modules is copied on write (under mu), so that every call finds its
	// module without taking a lock.
	modules atomic.Pointer[map[string]*Module]
	mu      sync.Mutex
	// regs are the registries Register added the modules to; AddModule and
	// RemoveModule keep them up to date.
	regs []*core.Registry
}

// Module is one loaded module: its compiled code, its components and its pool
// of instances.
type Module struct {
	name       string
	path       string
	source     string // core.Entry.Source of its components
	sha256     string
	size       int
	rt         *Runtime
	compiled   wazero.CompiledModule
	components []guest.Description
	pool       *pool
	maxIn      int
	maxOut     int
}

// Name returns the module's name (its file name without .wasm, or the name
// it was added under).
func (m *Module) Name() string { return m.name }

// SHA256 returns the SHA-256 of the module's code, in hex.
func (m *Module) SHA256() string { return m.sha256 }

// Size returns the size of the module's code, in bytes.
func (m *Module) Size() int { return m.size }

// Source is where the module comes from: its file, or "upload:<name>" for
// one added with AddModule. It is the Source of its registry entries.
func (m *Module) Source() string { return m.source }

// Close frees a module that Prepare returned and that was not installed.
// An installed module is closed by RemoveModule, a replacement or
// Runtime.Close.
func (m *Module) Close(ctx context.Context) error {
	m.pool.close(ctx)
	return m.compiled.Close(ctx)
}

// Components returns what the module serves, as it described itself.
func (m *Module) Components() []guest.Description {
	return append([]guest.Description(nil), m.components...)
}

// Load compiles and checks every module of opts.ModulesDir: a module that does
// not compile, imports anything but WASI and weft_v2, lacks the ABI's exports,
// fails to start or describes itself badly is reported here, never at run
// time. Every problem is reported, joined. Each module is instantiated once
// to describe itself; that instance stays in its pool. An empty ModulesDir
// loads nothing: modules are then only added at run time (AddModule).
func Load(ctx context.Context, opts Options) (*Runtime, error) {
	opts = opts.withDefaults()
	var files []string
	if opts.ModulesDir != "" {
		var err error
		if files, err = filepath.Glob(filepath.Join(opts.ModulesDir, "*.wasm")); err != nil {
			return nil, fmt.Errorf("wasm: %w", err)
		}
		sort.Strings(files)
	}
	var err error
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(opts.MemoryLimitPages).
		WithCloseOnContextDone(true) // a looping guest must stop, and not stall the host's GC
	var cache wazero.CompilationCache
	if opts.CacheDir != "-" {
		if cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("wasm: compilation cache: %w", err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	rc = rc.WithCompilationCache(cache)
	r := &Runtime{opts: opts, rt: wazero.NewRuntimeWithConfig(ctx, rc), cache: cache}
	r.modules.Store(&map[string]*Module{})
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm: %w", err)
	}
	if err := instantiateHost(ctx, r.rt); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm: %w", err)
	}
	var errs []error
	loaded := map[string]*Module{}
	for _, f := range files {
		m, err := r.load(ctx, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		loaded[m.name] = m
	}
	r.modules.Store(&loaded)
	if err := errors.Join(errs...); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	return r, nil
}

func (r *Runtime) load(ctx context.Context, path string) (*Module, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasm module %q (%s): %w", name, path, err)
	}
	return r.compile(ctx, name, path, path, bin)
}

// ModuleError is a module refused by Prepare (or Load): it does not
// compile, breaks the ABI, or fails to describe itself.
type ModuleError struct {
	Module string // the module's name
	Where  string // its file, or "" for an upload
	Reason string // what is wrong, with the offset or section when wazero says
}

// ModuleReason says what is wrong, without the module's name.
func (e *ModuleError) ModuleReason() string { return e.Reason }

func (e *ModuleError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("wasm module %q (%s): %s", e.Module, e.Where, e.Reason)
	}
	return fmt.Sprintf("wasm module %q: %s", e.Module, e.Reason)
}

// compile compiles and checks one module: imports, the ABI's exports, its
// first instance and its description.
func (r *Runtime) compile(ctx context.Context, name, path, source string, bin []byte) (*Module, error) {
	fail := func(format string, args ...any) error {
		return &ModuleError{Module: name, Where: path, Reason: fmt.Sprintf(format, args...)}
	}
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, fail("is not a WebAssembly binary: it does not start with the magic bytes \\0asm (got %d bytes)", len(bin))
	}
	compiled, err := r.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fail("does not compile: %s", compileError(bin, err))
	}
	ok := false
	defer func() {
		if !ok {
			_ = compiled.Close(ctx)
		}
	}()
	for _, def := range compiled.ImportedFunctions() {
		mod, fn, _ := def.Import()
		if mod != wasi_snapshot_preview1.ModuleName && mod != guest.ABI {
			return nil, fail("imports %s.%s; only %s and %s are provided", mod, fn, wasi_snapshot_preview1.ModuleName, guest.ABI)
		}
	}
	exports := compiled.ExportedFunctions()
	var missing []string
	for _, e := range []string{exportDescribe, exportCall} {
		if _, ok := exports[e]; !ok {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return nil, fail("does not implement ABI %s: missing export %s (build a Go guest with sdk/wasm and -buildmode=c-shared)", guest.ABI, strings.Join(missing, ", "))
	}
	if _, ok := exports["_initialize"]; !ok {
		return nil, fail("is not a reactor module: missing export _initialize (build with -buildmode=c-shared)")
	}
	// Compiling is not bounded (wazero does not interrupt it); starting the
	// first instance and describing are.
	ctx, cancel := context.WithTimeout(ctx, r.opts.LoadTimeout)
	defer cancel()
	sum := sha256.Sum256(bin)
	m := &Module{name: name, path: path, source: source, sha256: hex.EncodeToString(sum[:]), size: len(bin), rt: r,
		compiled: compiled, pool: newPool(r.rt, compiled, r.opts.MaxInstances), maxIn: r.opts.MaxInputBytes, maxOut: r.opts.MaxOutputBytes}
	out, status, err := m.pool.invoke(ctx, exportDescribe, nil, r.opts.MaxOutputBytes)
	if err == nil && status != 0 {
		err = fmt.Errorf("describe returned %d", status)
	}
	if err == nil {
		err = json.Unmarshal(out, &m.components)
	}
	if err == nil {
		err = checkDescriptions(m.components)
	}
	if err != nil {
		m.pool.close(ctx)
		return nil, fail("describe: %v", err)
	}
	ok = true
	return m, nil
}

func checkDescriptions(ds []guest.Description) error {
	if len(ds) == 0 {
		return errors.New("serves no component (call wasm.Serve in init)")
	}
	var errs []error
	for _, d := range ds {
		info := sdk.Info{Kind: d.Kind, Name: d.Name, New: func() sdk.Component { return nil }}
		if err := info.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Module returns a loaded module by name.
func (r *Runtime) Module(name string) (*Module, bool) {
	m, ok := (*r.modules.Load())[name]
	return m, ok
}

// Modules returns the loaded modules' names, sorted.
func (r *Runtime) Modules() []string {
	mods := *r.modules.Load()
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Register adds to reg the WASM step type and every transform and validator
// the modules serve, under the names they declared (origin "wasm", source the
// module's file). Step components are reached through the WASM step type.
// The runtime remembers reg: modules added or removed later are added to
// or removed from it too.
func (r *Runtime) Register(reg *core.Registry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if err := reg.Register(core.Entry{Info: (&Step{rt: r}).Info(), Origin: core.OriginWASM}); err != nil {
		errs = append(errs, err)
	}
	mods := *r.modules.Load()
	for _, name := range r.Modules() {
		m := mods[name]
		for _, e := range m.entries() {
			if err := reg.Register(e); err != nil {
				errs = append(errs, fmt.Errorf("wasm module %q: %w", m.name, err))
			}
		}
	}
	r.regs = append(r.regs, reg)
	return errors.Join(errs...)
}

// entries are the registry entries of the module's transforms and
// validators (its steps are reached through the WASM step type).
func (m *Module) entries() []core.Entry {
	var out []core.Entry
	for _, d := range m.components {
		var c sdk.Component
		switch d.Kind {
		case sdk.KindTransform:
			c = &Transform{mod: m, desc: d}
		case sdk.KindValidator:
			c = &Validator{mod: m, desc: d}
		default:
			continue
		}
		out = append(out, core.Entry{Info: c.Info(), Origin: core.OriginWASM, Source: m.source})
	}
	return out
}

// serves reports whether the module serves a component.
func (m *Module) serves(kind sdk.Kind, name string) bool {
	for _, d := range m.components {
		if d.Kind == kind && d.Name == name {
			return true
		}
	}
	return false
}

// live returns the module a component of m should call now: m itself while
// it is loaded, or the module that replaced it under the same name if that
// one still serves the component. So a workflow compiled before a module
// was replaced calls the new code, and one whose component went away fails
// cleanly.
func (m *Module) live(kind sdk.Kind, name string) (*Module, error) {
	if m.rt == nil {
		return m, nil
	}
	cur, ok := m.rt.Module(m.name)
	if ok && (cur == m || (cur.source == m.source && cur.serves(kind, name))) {
		return cur, nil
	}
	if ok {
		return nil, sdk.Permanent(sdk.Errorf(CodeModuleRemoved, "wasm %s %q: module %q no longer serves it", kind, name, m.name))
	}
	return nil, sdk.Permanent(sdk.Errorf(CodeModuleRemoved, "wasm %s %q: module %q was removed", kind, name, m.name))
}

// Register loads every module of opts.ModulesDir and registers the WASM step
// type and the modules' transforms and validators into reg: [Load] followed
// by [Runtime.Register]. The caller closes the returned Runtime when the
// engine stops.
func Register(ctx context.Context, reg *core.Registry, opts Options) (*Runtime, error) {
	r, err := Load(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := r.Register(reg); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	return r, nil
}

// Close closes every instance and the wazero runtime. Compiled code stays in
// the on-disk cache.
func (r *Runtime) Close(ctx context.Context) error {
	for _, m := range *r.modules.Load() {
		m.pool.close(ctx)
	}
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// call sends one request to the module and returns the guest's output, as
// JSON (empty for none).
func (m *Module) call(ctx context.Context, req guest.Request) (json.RawMessage, error) {
	b, err := guest.AppendRequest(nil, req)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "wasm %s %q: encode request: %v", req.Kind, req.Name, err)
	}
	if len(b) > m.maxIn {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "wasm %s %q: request of %d bytes exceeds the %d-byte cap", req.Kind, req.Name, len(b), m.maxIn)
	}
	out, status, err := m.pool.invoke(ctx, exportCall, b, m.maxOut)
	if err != nil {
		return nil, err
	}
	if status != 0 {
		e := new(sdk.Error)
		if err := json.Unmarshal(out, e); err != nil || e.Code == "" {
			return nil, sdk.Errorf(CodeABI, "wasm %s %q: malformed error answer", req.Kind, req.Name)
		}
		if e.Code == sdk.CodeValidationFailed {
			if ps, ok := problems(e.Details); ok {
				return nil, &sdk.ValidationError{Problems: ps}
			}
		}
		return nil, e
	}
	return out, nil
}

// problems recovers the validation problems of a VALIDATION_FAILED error
// whose details crossed the boundary as JSON.
func problems(details any) ([]sdk.Problem, bool) {
	if details == nil {
		return nil, false
	}
	b, err := json.Marshal(details)
	if err != nil {
		return nil, false
	}
	var ps []sdk.Problem
	if err := json.Unmarshal(b, &ps); err != nil || len(ps) == 0 {
		return nil, false
	}
	return ps, true
}
