package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"github.com/weftworks/weft/sdk"
)

// Origin says where a registered component comes from.
type Origin string

// Origins of registry entries.
const (
	OriginBuiltin  Origin = "builtin"  // core/steps
	OriginCompiled Origin = "compiled" // sdk.Register in a compiled-in package
	OriginLua      Origin = "lua"
	OriginWASM     Origin = "wasm"
	OriginPlugin   Origin = "plugin"
)

// Entry is one registered component.
type Entry struct {
	sdk.Info
	Origin Origin `json:"origin"`
	// Source is a file path or plugin binary, for diagnostics.
	Source string `json:"source,omitempty"`

	schema *configSchema // Info.ConfigSchema compiled, set by Register and Replace
}

// EngineStep is a step type that needs the engine itself: control flow
// (CONDITIONAL, PARALLEL, FOR_EACH), waiting (WAIT), and steps that evaluate
// expressions or call other components (DATA_TRANSFORM, VALIDATION). It is
// registered like any other step; instead of receiving a rendered config it
// compiles its own config once per workflow version and runs with access to
// the execution's scope.
type EngineStep interface {
	sdk.Component
	// Compile checks and prepares the step's config. Problems are reported
	// through c; a returned error is an internal failure.
	Compile(c *StepCompiler) error
	// Execute runs the step once and returns its output.
	Execute(ctx context.Context, r *StepRun) (any, error)
}

// ControlFlow marks engine steps that only direct other steps (CONDITIONAL,
// PARALLEL, FOR_EACH) or wait (WAIT). The engine's default step timeout does
// not apply to them: the steps they run have their own.
type ControlFlow interface {
	ControlFlow()
}

// ErrDuplicateComponent is returned when a name is registered twice.
var ErrDuplicateComponent = errors.New("component already registered")

// Registry holds every component an engine can use, whatever runtime provides
// it. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	entries   map[sdk.Kind]map[string]Entry
	languages map[string]ScriptLanguage
	schemas   map[[32]byte]*schemaRef // compiled config schemas by sha256, shared by entries
}

// NewRegistry returns a registry seeded with the components compiled in through
// sdk.Register. Built-in step types are added by core/steps. It panics when a
// compiled-in component's config schema does not compile: a programming
// error, which sdk.Register (standard library only) cannot detect itself.
func NewRegistry() *Registry {
	r := NewEmptyRegistry()
	for _, info := range sdk.Registered() {
		if err := r.Register(Entry{Info: info, Origin: OriginCompiled}); err != nil {
			panic("core.NewRegistry: " + err.Error())
		}
	}
	return r
}

// NewEmptyRegistry returns a registry with nothing in it.
func NewEmptyRegistry() *Registry {
	return &Registry{entries: map[sdk.Kind]map[string]Entry{}, languages: map[string]ScriptLanguage{},
		schemas: map[[32]byte]*schemaRef{}}
}

// Register adds an entry. The component must implement the interface of its
// kind (a step may be an sdk.Step or an EngineStep), and its config schema,
// if it declares one, must compile (see compileConfigSchema).
func (r *Registry) Register(e Entry) error {
	cs, err := r.checkEntry(e.Info)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.entries[e.Kind]
	if m == nil {
		m = map[string]Entry{}
		r.entries[e.Kind] = m
	}
	if _, dup := m[e.Name]; dup {
		return fmt.Errorf("%w: %s %q", ErrDuplicateComponent, e.Kind, e.Name)
	}
	e.schema = r.holdSchema(cs)
	m[e.Name] = e
	return nil
}

// Replace adds an entry, replacing any with the same kind and name (used when
// a plugin or module is reloaded).
func (r *Registry) Replace(e Entry) error {
	cs, err := r.checkEntry(e.Info)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries[e.Kind] == nil {
		r.entries[e.Kind] = map[string]Entry{}
	}
	e.schema = r.holdSchema(cs) // before the release: an unchanged schema stays compiled
	if old, ok := r.entries[e.Kind][e.Name]; ok {
		r.releaseSchema(old.schema)
	}
	r.entries[e.Kind][e.Name] = e
	return nil
}

// Unregister removes an entry; it reports whether there was one.
func (r *Registry) Unregister(kind sdk.Kind, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.entries[kind][name]
	if !ok {
		return false
	}
	r.releaseSchema(old.schema)
	delete(r.entries[kind], name)
	return true
}

// checkEntry checks an entry's info and compiles its config schema.
func (r *Registry) checkEntry(info sdk.Info) (*configSchema, error) {
	if err := checkInfo(info); err != nil {
		return nil, err
	}
	cs, err := r.acquireSchema(info.ConfigSchema)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", info.Kind, info.Name, err)
	}
	return cs, nil
}

func checkInfo(info sdk.Info) error {
	if err := info.Check(); err != nil {
		return err
	}
	if info.Kind == sdk.KindStep {
		inst := info.New()
		if _, ok := inst.(EngineStep); ok {
			return nil
		}
	}
	return sdk.CheckComponent(info)
}

// Lookup finds an entry by kind and name.
func (r *Registry) Lookup(kind sdk.Kind, name string) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[kind][name]
	return e, ok
}

// List returns the entries of a kind ("" for all), sorted by kind and name.
func (r *Registry) List(kind sdk.Kind) []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Entry
	for k, m := range r.entries {
		if kind != "" && k != kind {
			continue
		}
		for _, e := range m {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Names returns the sorted names registered under a kind.
func (r *Registry) Names(kind sdk.Kind) []string {
	entries := r.List(kind)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names
}

// ScriptLanguage compiles inline scripts of one language: the
// {"script": {"lang": "lua", "source": "…"}} of a DATA_TRANSFORM transform
// operation or a VALIDATION step. Scripts are compiled once, when the
// workflow is compiled, so a syntax error is reported at validation time.
type ScriptLanguage interface {
	// CompileScript compiles source as a component of kind (sdk.KindTransform
	// or sdk.KindValidator); name identifies it in error messages. A syntax
	// error is a *sdk.ValidationError whose problems carry the line and
	// column within source. The component returned is unconfigured: the
	// engine hands it the operation's static config as JSON when it
	// implements json.Unmarshaler.
	CompileScript(kind sdk.Kind, name, source string) (sdk.Component, error)
}

var langPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// RegisterLanguage makes lang usable in inline scripts. Names are lower-case
// ("lua"); registering one twice is an error.
func (r *Registry) RegisterLanguage(lang string, l ScriptLanguage) error {
	if !langPattern.MatchString(lang) || l == nil {
		return fmt.Errorf("script language %q: want a lower-case name and a non-nil compiler", lang)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.languages[lang]; dup {
		return fmt.Errorf("%w: script language %q", ErrDuplicateComponent, lang)
	}
	r.languages[lang] = l
	return nil
}

// Language returns the compiler of lang.
func (r *Registry) Language(lang string) (ScriptLanguage, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	l, ok := r.languages[lang]
	return l, ok
}

// Languages returns the registered script languages, sorted.
func (r *Registry) Languages() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.languages))
	for l := range r.languages {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
