package lua

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// CodeRuleNotFound: a stored rule a workflow refers to was deleted after
// the workflow was compiled.
const CodeRuleNotFound = "RULE_NOT_FOUND"

// ruleSet holds a runtime's stored rules (TransformationRules), by name.
// Components look their rule up at every call, so an edit applies to the
// next call of every workflow, compiled or not, and a call in flight
// finishes with the version it started with.
type ruleSet struct {
	mu    sync.RWMutex
	rules map[string]*rule
}

type rule struct {
	script *Script
	config any
}

func (s *ruleSet) get(name string) (*rule, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.rules[name]
	return r, ok
}

func (s *ruleSet) names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.rules))
	for n := range s.rules {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RuleSource is the core.Entry.Source of the transform of rule name.
func RuleSource(name string) string { return core.RuleSourcePrefix + name }

// PutRule compiles source and keeps it as the stored rule name, registered
// in reg as the transform name (origin lua, source "rule:<name>"), replacing
// a previous version of the rule. A syntax error is a *sdk.ValidationError
// with its line and column; a transform of that name from anywhere else
// (a built-in, a module, another registration) is refused with
// core.ErrDuplicateComponent. In both cases nothing changes.
func (rt *Runtime) PutRule(reg *core.Registry, name, source string) error {
	return rt.PutRuleConfig(reg, name, source, nil)
}

// PutRuleConfig is PutRule with the rule's default config: the script's
// ctx.config when the operation or step using the rule gives none.
func (rt *Runtime) PutRuleConfig(reg *core.Registry, name, source string, config any) error {
	tr := &RuleTransform{rt: rt, name: name}
	info := tr.Info()
	if err := info.Check(); err != nil {
		return fmt.Errorf("lua rule %q: %w", name, err)
	}
	sc, err := rt.Compile("rule."+name, source)
	if err != nil {
		return fmt.Errorf("lua rule %q: %w", name, err)
	}
	rt.rules.mu.Lock()
	defer rt.rules.mu.Unlock()
	if e, ok := reg.Lookup(sdk.KindTransform, name); ok && (e.Origin != core.OriginLua || e.Source != RuleSource(name)) {
		from := string(e.Origin)
		if e.Source != "" {
			from += " " + e.Source
		}
		return fmt.Errorf("lua rule %q: %w: transform %q comes from %s", name, core.ErrDuplicateComponent, name, from)
	}
	if err := reg.Replace(core.Entry{Info: info, Origin: core.OriginLua, Source: RuleSource(name)}); err != nil {
		return fmt.Errorf("lua rule %q: %w", name, err)
	}
	if rt.rules.rules == nil {
		rt.rules.rules = map[string]*rule{}
	}
	rt.rules.rules[name] = &rule{script: sc, config: config}
	return nil
}

// DeleteRule forgets the stored rule name and removes its transform from
// reg; it reports whether there was such a rule. Workflows compiled with it
// fail their next call with RULE_NOT_FOUND.
func (rt *Runtime) DeleteRule(reg *core.Registry, name string) bool {
	rt.rules.mu.Lock()
	defer rt.rules.mu.Unlock()
	_, ok := rt.rules.rules[name]
	delete(rt.rules.rules, name)
	if e, found := reg.Lookup(sdk.KindTransform, name); found && e.Origin == core.OriginLua && e.Source == RuleSource(name) {
		reg.Unregister(sdk.KindTransform, name)
	}
	return ok
}

// Rule returns the compiled script of the stored rule name.
func (rt *Runtime) Rule(name string) (*Script, bool) {
	r, ok := rt.rules.get(name)
	if !ok {
		return nil, false
	}
	return r.script, true
}

// Rules returns the names of the stored rules, sorted.
func (rt *Runtime) Rules() []string { return rt.rules.names() }

// knownRules lists the stored rules for error messages.
func (rt *Runtime) knownRules() string {
	names := rt.Rules()
	if len(names) == 0 {
		return "none stored"
	}
	return "stored: " + strings.Join(names, ", ")
}

// RuleTransform is the transform of a stored rule. It runs the rule's
// current version at every call; its JSON config, when given, replaces the
// rule's default as ctx.config.
type RuleTransform struct {
	rt         *Runtime
	name       string
	config     any
	configured bool
}

var (
	_ sdk.Transform    = (*RuleTransform)(nil)
	_ json.Unmarshaler = (*RuleTransform)(nil)
)

// Info implements sdk.Component.
func (t *RuleTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: t.name, Summary: "Lua rule (a stored TransformationRule)",
		New: func() sdk.Component { return &RuleTransform{rt: t.rt, name: t.name} }}
}

// UnmarshalJSON keeps the static config for ctx.config.
func (t *RuleTransform) UnmarshalJSON(b []byte) error {
	t.configured = true
	return json.Unmarshal(b, &t.config)
}

// Transform implements sdk.Transform.
func (t *RuleTransform) Transform(ctx context.Context, in sdk.Value) (sdk.Value, error) {
	r, ok := t.rt.rules.get(t.name)
	if !ok {
		return nil, ruleNotFound(t.name)
	}
	cfg := r.config
	if t.configured {
		cfg = t.config
	}
	res, err := t.rt.Run(ctx, r.script, Call{Input: in, Ctx: map[string]any{"config": cfg}})
	if err != nil {
		return nil, err
	}
	return res.Value, nil
}

func ruleNotFound(name string) error {
	return sdk.Permanent(sdk.Errorf(CodeRuleNotFound, "lua rule %q was deleted", name))
}

// RuntimeOf returns the runtime of the LUA step type registered in reg (by
// Register or RegisterStep): the one whose stored rules LUA steps see, so
// the one to put rules into.
func RuntimeOf(reg *core.Registry) (*Runtime, bool) {
	e, ok := reg.Lookup(sdk.KindStep, TypeLua)
	if !ok {
		return nil, false
	}
	st, ok := e.New().(*Step)
	if !ok || st.rt == nil {
		return nil, false
	}
	return st.rt, true
}
