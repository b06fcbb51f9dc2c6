package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
	// CodeABI: the guest broke the weft_v1 ABI (no answer, a malformed one).
	CodeABI = "WASM_ABI"
)

// Runtime holds the compiled modules of a modules directory and their pools
// of instances. It is safe for concurrent use. Close it when done.
type Runtime struct {
	opts    Options
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	modules map[string]*Module
}

// Module is one loaded module: its compiled code, its components and its pool
// of instances.
type Module struct {
	name       string
	path       string
	components []guest.Description
	pool       *pool
	maxIn      int
	maxOut     int
}

// Name returns the module's name (its file name without .wasm).
func (m *Module) Name() string { return m.name }

// Components returns what the module serves, as it described itself.
func (m *Module) Components() []guest.Description {
	return append([]guest.Description(nil), m.components...)
}

// Load compiles and checks every module of opts.ModulesDir: a module that does
// not compile, imports anything but WASI and weft_v1, lacks the ABI's exports,
// fails to start or describes itself badly is reported here, never at run
// time. Every problem is reported, joined. Each module is instantiated once
// to describe itself; that instance stays in its pool.
func Load(ctx context.Context, opts Options) (*Runtime, error) {
	opts = opts.withDefaults()
	if opts.ModulesDir == "" {
		return nil, errors.New("wasm: Options.ModulesDir is empty")
	}
	files, err := filepath.Glob(filepath.Join(opts.ModulesDir, "*.wasm"))
	if err != nil {
		return nil, fmt.Errorf("wasm: %w", err)
	}
	sort.Strings(files)
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
	r := &Runtime{opts: opts, rt: wazero.NewRuntimeWithConfig(ctx, rc), cache: cache, modules: map[string]*Module{}}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm: %w", err)
	}
	if err := instantiateHost(ctx, r.rt); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm: %w", err)
	}
	var errs []error
	for _, f := range files {
		m, err := r.load(ctx, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.modules[m.name] = m
	}
	if err := errors.Join(errs...); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	return r, nil
}

func (r *Runtime) load(ctx context.Context, path string) (*Module, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	fail := func(format string, args ...any) error {
		return fmt.Errorf("wasm module %q (%s): %s", name, path, fmt.Sprintf(format, args...))
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fail("%v", err)
	}
	compiled, err := r.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fail("does not compile: %v", err)
	}
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
	m := &Module{name: name, path: path, pool: newPool(r.rt, compiled, r.opts.MaxInstances), maxIn: r.opts.MaxInputBytes, maxOut: r.opts.MaxOutputBytes}
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
	m, ok := r.modules[name]
	return m, ok
}

// Modules returns the loaded modules' names, sorted.
func (r *Runtime) Modules() []string {
	names := make([]string, 0, len(r.modules))
	for n := range r.modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Register adds to reg the WASM step type and every transform and validator
// the modules serve, under the names they declared (origin "wasm", source the
// module's file). Step components are reached through the WASM step type.
func (r *Runtime) Register(reg *core.Registry) error {
	var errs []error
	if err := reg.Register(core.Entry{Info: (&Step{rt: r}).Info(), Origin: core.OriginWASM}); err != nil {
		errs = append(errs, err)
	}
	for _, name := range r.Modules() {
		m := r.modules[name]
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
			if err := reg.Register(core.Entry{Info: c.Info(), Origin: core.OriginWASM, Source: m.path}); err != nil {
				errs = append(errs, fmt.Errorf("wasm module %q: %w", m.name, err))
			}
		}
	}
	return errors.Join(errs...)
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
	for _, m := range r.modules {
		m.pool.close(ctx)
	}
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// call sends one request to the module and decodes the answer.
func (m *Module) call(ctx context.Context, req guest.Request) (json.RawMessage, error) {
	b, err := json.Marshal(req)
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
	var resp guest.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, sdk.Errorf(CodeABI, "wasm %s %q: malformed answer: %v", req.Kind, req.Name, err)
	}
	return resp.Output, nil
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
