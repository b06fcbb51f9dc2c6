package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

// SecretSource provides the values of {{secrets.NAME}}.
type SecretSource interface {
	Secret(ctx context.Context, name string) (string, error)
}

// ErrNoSecret is returned for a secret that is not configured.
var ErrNoSecret = errors.New("secret not configured")

// EnvSecrets reads secrets from environment variables: {{secrets.api_key}} is
// WEFT_SECRET_API_KEY.
type EnvSecrets struct{}

// Secret implements SecretSource.
func (EnvSecrets) Secret(_ context.Context, name string) (string, error) {
	key := "WEFT_SECRET_" + strings.ToUpper(name)
	v, ok := os.LookupEnv(key)
	if !ok {
		return "", fmt.Errorf("%w: %q (set %s)", ErrNoSecret, name, key)
	}
	return v, nil
}

// MapSecrets is a SecretSource backed by a map.
type MapSecrets map[string]string

// Secret implements SecretSource.
func (m MapSecrets) Secret(_ context.Context, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrNoSecret, name)
	}
	return v, nil
}

// Redacted replaces secret values in execution records and logs.
const Redacted = "[REDACTED]"

// minRedactLen is the shortest secret value redacted by value: shorter ones
// would blank out ordinary text.
const minRedactLen = 4

// redactor remembers the secret values an execution used so that they never
// reach its records.
type redactor struct {
	mu     sync.RWMutex
	values []string
	// parent holds the secrets of the plan (fetched by components through
	// their Host); an execution's redactor removes those too.
	parent *redactor
}

// remember adds a secret value, and the forms it takes when it is put in a
// URL or a JSON string, so those are redacted too.
func (r *redactor) remember(v string) {
	if r == nil || len(v) < minRedactLen {
		return
	}
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if js, err := json.Marshal(v); err == nil {
		forms = append(forms, string(js[1:len(js)-1]))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Copy on write: readers keep using the slice they got.
	values := slices.Clone(r.values)
	for _, f := range forms {
		if !slices.Contains(values, f) {
			values = append(values, f)
		}
	}
	// Longest first: a secret containing a shorter one must go whole.
	sort.SliceStable(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	r.values = values
}

// all returns every value to redact, longest first.
func (r *redactor) all() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	values := r.values
	r.mu.RUnlock()
	if parent := r.parent.all(); len(parent) > 0 {
		values = append(slices.Clone(values), parent...)
		sort.SliceStable(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	}
	return values
}

func (r *redactor) active() bool { return len(r.all()) > 0 }

// scrub returns v with every remembered secret value replaced, copying only
// what changes.
func (r *redactor) scrub(v any) any {
	values := r.all()
	if len(values) == 0 {
		return v
	}
	return scrubValue(v, values)
}

func (r *redactor) scrubString(s string) string {
	values := r.all()
	if len(values) == 0 {
		return s
	}
	return scrubText(s, values)
}

func scrubText(s string, values []string) string {
	for _, v := range values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

func scrubValue(v any, values []string) any {
	switch x := v.(type) {
	case string:
		return scrubText(x, values)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[scrubText(k, values)] = scrubValue(e, values)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrubValue(e, values)
		}
		return out
	}
	return v
}

// stepTable holds what later steps see of finished steps: steps.<id>.output,
// .status and .error. Written by the executor, read by templates of steps
// running concurrently.
type stepTable struct {
	mu       sync.RWMutex
	entries  map[string]*stepEntry
	version  int
	snapshot map[string]any
	snapVer  int
}

// stepEntry is one finished step; its map form is built on first read.
type stepEntry struct {
	status Status
	output any
	err    any
	m      map[string]any
}

func (e *stepEntry) value() map[string]any {
	if e.m == nil {
		e.m = map[string]any{"output": e.output, "status": string(e.status)}
		if e.err != nil {
			e.m["error"] = e.err
		}
	}
	return e.m
}

func (t *stepTable) set(id string, status Status, output any, errv any) {
	t.mu.Lock()
	t.entries[id] = &stepEntry{status: status, output: output, err: errv}
	t.version++
	t.mu.Unlock()
}

// get returns one step's entry, for the steps.<id>… fast path of templates.
func (t *stepTable) get(id string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[id]
	if !ok {
		return nil, false
	}
	return e.value(), true
}

// view returns an immutable map of every step's entry and its version. It is
// rebuilt only when a step finished since the last call.
func (t *stepTable) view() (map[string]any, int) {
	t.mu.RLock()
	if t.snapshot != nil && t.snapVer == t.version {
		s, v := t.snapshot, t.snapVer
		t.mu.RUnlock()
		return s, v
	}
	t.mu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.snapshot == nil || t.snapVer != t.version {
		s := make(map[string]any, len(t.entries))
		for k, e := range t.entries {
			s[k] = e.value()
		}
		t.snapshot, t.snapVer = s, t.version
	}
	return t.snapshot, t.snapVer
}

// execScope is the data of one execution that templates and expressions read.
type execScope struct {
	input     any
	variables map[string]any
	execution map[string]any
	steps     *stepTable
	secrets   SecretSource
	redact    *redactor

	envMu  sync.Mutex
	env    map[string]any
	envVer int
}

// scope is an execScope plus locals (item, index, error) of a nested run.
type scope struct {
	x      *execScope
	locals map[string]any
}

var _ Scope = scope{}

// resolveStep implements the steps.<id> fast path: one step's entry without
// building the map of every step.
func (s scope) resolveStep(id string) (any, bool) { return s.x.steps.get(id) }

func (s scope) with(locals map[string]any) scope {
	if len(s.locals) == 0 {
		return scope{x: s.x, locals: locals}
	}
	merged := make(map[string]any, len(s.locals)+len(locals))
	for k, v := range s.locals {
		merged[k] = v
	}
	for k, v := range locals {
		merged[k] = v
	}
	return scope{x: s.x, locals: merged}
}

// Resolve implements Scope.
func (s scope) Resolve(root string) (any, bool) {
	if v, ok := s.locals[root]; ok {
		return v, true
	}
	switch root {
	case RootInput:
		return s.x.input, true
	case RootVariables:
		return s.x.variables, true
	case RootSteps:
		v, _ := s.x.steps.view()
		return v, true
	case RootExecution:
		return s.x.execution, true
	case RootItem, RootIndex, RootError, RootSecrets:
		return nil, false
	}
	if in, ok := s.x.input.(map[string]any); ok {
		if v, ok := in[root]; ok {
			return v, true
		}
	}
	v, ok := s.x.variables[root]
	return v, ok
}

// Env implements Scope: variables, then input fields, as bare names, and the
// reserved roots on top.
func (s scope) Env() map[string]any {
	base := s.x.baseEnv()
	if len(s.locals) == 0 {
		return base
	}
	env := make(map[string]any, len(base)+len(s.locals))
	for k, v := range base {
		env[k] = v
	}
	for k, v := range s.locals {
		env[k] = v
	}
	return env
}

func (x *execScope) baseEnv() map[string]any {
	steps, ver := x.steps.view()
	x.envMu.Lock()
	defer x.envMu.Unlock()
	if x.env != nil && x.envVer == ver {
		return x.env
	}
	in, _ := x.input.(map[string]any)
	env := make(map[string]any, len(x.variables)+len(in)+5)
	// Bare names as in templates: input over variables, never a reserved root
	// (an input field named item must not pose as a FOR_EACH item).
	for k, v := range x.variables {
		if !reservedRoots[k] {
			env[k] = v
		}
	}
	for k, v := range in {
		if !reservedRoots[k] {
			env[k] = v
		}
	}
	env[RootInput] = x.input
	env[RootVariables] = x.variables
	env[RootExecution] = x.execution
	env[RootSteps] = steps
	x.env, x.envVer = env, ver
	return env
}

// Secret implements Scope.
func (s scope) Secret(ctx context.Context, name string) (string, error) {
	if s.x.secrets == nil {
		return "", fmt.Errorf("%w: %q (no secret source configured)", ErrNoSecret, name)
	}
	v, err := s.x.secrets.Secret(ctx, name)
	if err != nil {
		return "", err
	}
	s.x.redact.remember(v)
	return v, nil
}
