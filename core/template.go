package core

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// Template roots. A bare name such as {{leadId}} is looked up in the input,
// then in the workflow variables.
const (
	RootInput     = "input"
	RootVariables = "variables"
	RootSteps     = "steps"
	RootExecution = "execution"
	RootSecrets   = "secrets"
	RootItem      = "item"
	RootIndex     = "index"
	RootError     = "error"
)

var reservedRoots = map[string]bool{
	RootInput: true, RootVariables: true, RootSteps: true, RootExecution: true,
	RootSecrets: true, RootItem: true, RootIndex: true, RootError: true,
}

// Scope is what templates and expressions read during an execution.
type Scope interface {
	// Resolve returns the value of a root name (input, steps, item …) or of a
	// bare name (input first, then variables).
	Resolve(root string) (any, bool)
	// Env returns the environment expressions are evaluated in: the reserved
	// roots plus every variable and input field as a bare name.
	Env() map[string]any
	// Secret returns the value of a secret (and remembers it for redaction).
	Secret(ctx context.Context, name string) (string, error)
}

// Template is a string with {{…}} placeholders, parsed once per workflow
// version. A placeholder holds either a path (input.x, steps.a.output.items[0],
// leadId) or an expr-lang expression ({{ input.x ?? "none" }}, {{ upper(name) }}).
type Template struct {
	src   string
	parts []tplPart
}

type tplPart struct {
	lit string
	ph  *placeholder
}

type placeholder struct {
	src  string
	root string
	path []PathSeg // after the root; nil for the root alone
	expr *Expr     // set when the placeholder is not a plain path
}

// TemplateError is a template that cannot be parsed, with the 1-based column of
// the problem.
type TemplateError struct {
	Source  string
	Message string
	Column  int
}

func (e *TemplateError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("template %q: %s (column %d)", e.Source, e.Message, e.Column)
	}
	return fmt.Sprintf("template %q: %s", e.Source, e.Message)
}

// HasTemplate reports whether s contains a {{ placeholder.
func HasTemplate(s string) bool { return strings.Contains(s, "{{") }

// ParseTemplate parses s. A string without placeholders is a valid template
// that renders to itself.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	rest, off := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tplPart{lit: rest})
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: rest[:i]})
		}
		body := rest[i+2:]
		end, ok := sdk.PlaceholderEnd(body)
		if !ok {
			msg := "unclosed {{: missing }}"
			if end < len(body) && body[end] == '}' {
				msg = "unbalanced '}' in placeholder"
			}
			return nil, &TemplateError{Source: s, Message: msg, Column: off + i + 1}
		}
		inner := rest[i+2 : i+2+end]
		ph, perr := parsePlaceholder(inner)
		if perr != nil {
			msg := perr.Error()
			col := off + i + 1
			if ee, ok := perr.(*ExprError); ok {
				msg = ee.Message
				if ee.Column > 0 && ee.Line <= 1 {
					col = off + i + 2 + (len(inner) - len(strings.TrimLeft(inner, " \t\n"))) + ee.Column
				}
			}
			return nil, &TemplateError{Source: s, Message: msg, Column: col}
		}
		t.parts = append(t.parts, tplPart{ph: ph})
		consumed := i + 2 + end + 2
		rest, off = rest[consumed:], off+consumed
	}
	return t, nil
}

func parsePlaceholder(inner string) (*placeholder, error) {
	src := strings.TrimSpace(inner)
	if src == "" {
		return nil, fmt.Errorf("empty placeholder {{}}")
	}
	if segs := ParsePath(src); segs != nil && segs[0].Key != "" {
		return &placeholder{src: src, root: segs[0].Key, path: segs[1:]}, nil
	}
	e, err := CompileExpr(src)
	if err != nil {
		return nil, err
	}
	return &placeholder{src: src, expr: e}, nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// IsStatic reports whether the template has no placeholders.
func (t *Template) IsStatic() bool {
	return len(t.parts) == 0 || (len(t.parts) == 1 && t.parts[0].ph == nil)
}

// Whole reports whether the template is exactly one placeholder, in which case
// it renders to the value's own JSON type.
func (t *Template) Whole() bool { return len(t.parts) == 1 && t.parts[0].ph != nil }

// Refs returns the step ids the template reads through steps.<id>.
func (t *Template) Refs() []string {
	var refs []string
	for _, p := range t.parts {
		if p.ph == nil {
			continue
		}
		if p.ph.expr != nil {
			refs = append(refs, p.ph.expr.refs...)
		} else if p.ph.root == RootSteps && len(p.ph.path) > 0 && p.ph.path[0].Key != "" {
			refs = append(refs, p.ph.path[0].Key)
		}
	}
	return refs
}

// UsesSecrets reports whether the template reads {{secrets.…}}.
func (t *Template) UsesSecrets() bool {
	for _, p := range t.parts {
		if p.ph != nil && p.ph.root == RootSecrets {
			return true
		}
	}
	return false
}

// SecretNames returns the names of the secrets the template reads.
func (t *Template) SecretNames() []string {
	var names []string
	for _, p := range t.parts {
		if p.ph != nil && p.ph.root == RootSecrets && len(p.ph.path) == 1 && p.ph.path[0].Key != "" {
			names = append(names, p.ph.path[0].Key)
		}
	}
	return names
}

// Render evaluates the template in scope. A template that is exactly one
// placeholder keeps the value's JSON type (as a copy: changing it changes
// nothing in the scope); otherwise values are interpolated into the string
// (objects as JSON, null as "").
func (t *Template) Render(ctx context.Context, s Scope) (any, error) {
	if t.Whole() {
		v, err := t.parts[0].ph.eval(ctx, s)
		return DeepCopy(v), err
	}
	if t.IsStatic() {
		return t.src, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ph == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.ph.eval(ctx, s)
		if err != nil {
			return nil, err
		}
		b.WriteString(Stringify(v))
	}
	return b.String(), nil
}

func (p *placeholder) eval(ctx context.Context, s Scope) (any, error) {
	if p.expr != nil {
		v, err := p.expr.Eval(s.Env())
		if err != nil {
			return nil, sdk.Errorf(sdk.CodeExpression, "%v", err)
		}
		return v, nil
	}
	if p.root == RootSecrets {
		if len(p.path) != 1 || p.path[0].Key == "" {
			return nil, sdk.Errorf(sdk.CodeTemplate, "{{%s}}: use {{secrets.NAME}}", p.src)
		}
		v, err := s.Secret(ctx, p.path[0].Key)
		if err != nil {
			return nil, sdk.Errorf(sdk.CodeTemplate, "{{%s}}: %v", p.src, err)
		}
		return v, nil
	}
	if p.root == RootSteps && len(p.path) > 0 && p.path[0].Key != "" {
		if sr, ok := s.(stepResolver); ok {
			entry, ok := sr.resolveStep(p.path[0].Key)
			if !ok {
				return nil, nil
			}
			v, _ := Lookup(entry, p.path[1:])
			return v, nil
		}
	}
	root, ok := s.Resolve(p.root)
	if !ok {
		return nil, nil
	}
	v, _ := Lookup(root, p.path)
	return v, nil
}

// stepResolver is implemented by the engine's scope: reading steps.<id>…
// without building the map of every step's entry.
type stepResolver interface {
	resolveStep(id string) (any, bool)
}

// ValueTemplate is a JSON-shaped value (a step's config) whose strings may hold
// templates. Parts without templates are kept as they are.
type ValueTemplate struct {
	static      any
	tpl         *Template
	obj         map[string]*ValueTemplate
	arr         []*ValueTemplate
	refs        []ref // step ids read, with the path of the string that reads them
	secrets     []string
	usesSecrets bool
}

// CompileValue parses every template inside v. Problems are reported with
// their path below base, every one of them.
func CompileValue(v any, base string) (*ValueTemplate, []sdk.Problem) {
	var problems []sdk.Problem
	vt := compileValue(v, base, &problems)
	return vt, problems
}

func compileValue(v any, path string, problems *[]sdk.Problem) *ValueTemplate {
	switch x := v.(type) {
	case string:
		if !HasTemplate(x) {
			return &ValueTemplate{static: x}
		}
		t, err := ParseTemplate(x)
		if err != nil {
			*problems = append(*problems, sdk.Problem{Path: path, Message: err.Error()})
			return &ValueTemplate{static: x}
		}
		vt := &ValueTemplate{tpl: t, secrets: t.SecretNames(), usesSecrets: t.UsesSecrets()}
		for _, id := range t.Refs() {
			vt.refs = append(vt.refs, ref{id: id, path: path})
		}
		return vt
	case map[string]any:
		vt := &ValueTemplate{obj: make(map[string]*ValueTemplate, len(x))}
		dynamic := false
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c := compileValue(x[k], sdk.KeyPath(path, k), problems)
			vt.obj[k] = c
			vt.refs = append(vt.refs, c.refs...)
			vt.secrets = append(vt.secrets, c.secrets...)
			vt.usesSecrets = vt.usesSecrets || c.usesSecrets
			dynamic = dynamic || c.static == nil && (c.tpl != nil || c.obj != nil || c.arr != nil)
		}
		if !dynamic {
			return &ValueTemplate{static: x}
		}
		return vt
	case []any:
		vt := &ValueTemplate{arr: make([]*ValueTemplate, len(x))}
		dynamic := false
		for i, e := range x {
			c := compileValue(e, path+"["+strconv.Itoa(i)+"]", problems)
			vt.arr[i] = c
			vt.refs = append(vt.refs, c.refs...)
			vt.secrets = append(vt.secrets, c.secrets...)
			vt.usesSecrets = vt.usesSecrets || c.usesSecrets
			dynamic = dynamic || c.static == nil && (c.tpl != nil || c.obj != nil || c.arr != nil)
		}
		if !dynamic {
			return &ValueTemplate{static: x}
		}
		return vt
	}
	return &ValueTemplate{static: v}
}

// Refs returns the step ids read anywhere in the value.
func (vt *ValueTemplate) Refs() []string {
	if vt == nil {
		return nil
	}
	ids := make([]string, 0, len(vt.refs))
	for _, r := range vt.refs {
		if !slices.Contains(ids, r.id) {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// UsesSecrets reports whether the value reads {{secrets.…}} anywhere.
func (vt *ValueTemplate) UsesSecrets() bool { return vt != nil && vt.usesSecrets }

// SecretNames returns the names of the secrets the value reads.
func (vt *ValueTemplate) SecretNames() []string {
	if vt == nil {
		return nil
	}
	return vt.secrets
}

// Render builds a fresh value with every template evaluated. The result shares
// nothing mutable with the compiled value, so a component may change it.
func (vt *ValueTemplate) Render(ctx context.Context, s Scope) (any, error) {
	if vt == nil {
		return nil, nil
	}
	switch {
	case vt.tpl != nil:
		return vt.tpl.Render(ctx, s)
	case vt.obj != nil:
		out := make(map[string]any, len(vt.obj))
		for k, c := range vt.obj {
			v, err := c.Render(ctx, s)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case vt.arr != nil:
		out := make([]any, len(vt.arr))
		for i, c := range vt.arr {
			v, err := c.Render(ctx, s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return DeepCopy(vt.static), nil
}
