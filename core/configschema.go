package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/weftworks/weft/sdk"
)

// configSchema is the compiled JSON Schema of a component's config
// (sdk.Info.ConfigSchema). A compiled schema is immutable and safe for
// concurrent validation.
type configSchema struct {
	sch *jsonschema.Schema
	sum [sha256.Size]byte
}

// schemaRef counts the registry entries sharing a compiled schema, so that a
// schema is compiled once however many components (or reloads) declare it,
// and forgotten when none does.
type schemaRef struct {
	cs   *configSchema
	refs int
}

// schemaBase is the URL a config schema is compiled under. Nothing is ever
// fetched from it (.invalid never resolves, and no loader is installed); a
// relative $ref resolves against it and is refused like any other.
const schemaBase = "https://weft.invalid/config-schema.json"

// Meta-schema URLs of the two drafts a config schema may declare.
const (
	draft2020URL = "https://json-schema.org/draft/2020-12/schema"
	draft7URL    = "http://json-schema.org/draft-07/schema#"
)

// ErrRemoteSchemaRef is wrapped by the error of a config schema that refers to
// a document outside itself: config schemas are self-contained, so that
// validating a workflow never touches the network or the filesystem.
var ErrRemoteSchemaRef = errors.New("config schema refers outside itself")

// noLoader refuses every $ref that leaves the schema document. Meta-schemas
// of the known drafts are built into the library and never reach it.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	shown := strings.TrimPrefix(url, "https://weft.invalid/")
	return nil, fmt.Errorf("%w: $ref %q is not loaded (remote and file references are refused; put shared definitions in $defs and refer to them as #/$defs/name)", ErrRemoteSchemaRef, shown)
}

// compileConfigSchema compiles a component's config schema. Drafts 2020-12
// (the default when $schema is absent) and 7 are accepted. Formats are
// asserted under both, so "format": "email" means what authors expect.
func compileConfigSchema(raw json.RawMessage) (*configSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("config schema is not JSON: %w", err)
	}
	switch d := doc.(type) {
	case bool:
	case map[string]any:
		if s, ok := d["$schema"]; ok {
			str, _ := s.(string)
			if !supportedDraft(str) {
				return nil, fmt.Errorf("config schema: unsupported $schema %v: use %q (draft 2020-12, the default) or %q (draft 7)", display(s), draft2020URL, draft7URL)
			}
		}
	default:
		return nil, fmt.Errorf("config schema must be a JSON object or boolean, not %s", jsonTypeName(doc))
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaBase, doc); err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	sch, err := c.Compile(schemaBase)
	if err != nil {
		var lerr *jsonschema.LoadURLError
		if errors.As(err, &lerr) && errors.Is(lerr.Err, ErrRemoteSchemaRef) {
			return nil, fmt.Errorf("config schema does not compile: %w", lerr.Err)
		}
		var serr *jsonschema.SchemaValidationError
		if errors.As(err, &serr) {
			// Against its meta-schema: word it like any other problem list,
			// with paths inside the schema (properties.retries.minimum).
			if verr, ok := serr.Err.(*jsonschema.ValidationError); ok {
				w := &schemaWalker{root: doc}
				w.visit(verr)
				if len(w.problems) > 0 {
					return nil, fmt.Errorf("config schema is not a valid JSON Schema: %w", &sdk.ValidationError{Problems: w.problems})
				}
			}
		}
		// Without the library's internal base URL, on one line.
		msg := strings.ReplaceAll(err.Error(), schemaBase, "")
		return nil, fmt.Errorf("config schema does not compile: %s", strings.ReplaceAll(msg, "\n", " "))
	}
	return &configSchema{sch: sch, sum: sha256.Sum256(raw)}, nil
}

func supportedDraft(u string) bool {
	u = strings.TrimSuffix(u, "#")
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return u == "json-schema.org/draft/2020-12/schema" || u == "json-schema.org/draft-07/schema"
}

// acquireSchema returns the compiled schema of raw, compiling it only when no
// entry shares it yet, and counts the new reference. It must not be called
// with r.mu held: compiling may take a while.
func (r *Registry) acquireSchema(raw json.RawMessage) (*configSchema, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	sum := sha256.Sum256(raw)
	r.mu.RLock()
	ref := r.schemas[sum]
	r.mu.RUnlock()
	if ref != nil {
		return ref.cs, nil
	}
	return compileConfigSchema(raw)
}

// holdSchema records that an entry now uses cs; r.mu must be held. When
// another registration compiled the same schema meanwhile, its copy is kept.
func (r *Registry) holdSchema(cs *configSchema) *configSchema {
	if cs == nil {
		return nil
	}
	ref := r.schemas[cs.sum]
	if ref == nil {
		ref = &schemaRef{cs: cs}
		r.schemas[cs.sum] = ref
	}
	ref.refs++
	return ref.cs
}

// releaseSchema drops an entry's use of cs; r.mu must be held.
func (r *Registry) releaseSchema(cs *configSchema) {
	if cs == nil {
		return
	}
	if ref := r.schemas[cs.sum]; ref != nil {
		if ref.refs--; ref.refs <= 0 {
			delete(r.schemas, cs.sum)
		}
	}
}

// schemaOf returns the compiled config schema of a component that is not a
// registry entry (an inline script's), reusing a registered entry's
// compilation when the schema is the same.
func (r *Registry) schemaOf(c sdk.Component) (*configSchema, error) {
	return r.acquireSchema(c.Info().ConfigSchema)
}

// emptyConfig stands for an absent config: components decode both alike, so
// the schema checks it as {} (and reports the properties it requires).
var emptyConfig = map[string]any{}

// checkUnrendered validates a config as written in a workflow, with paths
// relative to the config. A violation that rendering a {{…}} template could
// cure is not reported (see schemaWalker.tolerated).
func (cs *configSchema) checkUnrendered(config any) []sdk.Problem {
	if config == nil {
		config = emptyConfig
	}
	return cs.problems(config, true)
}

// checkRendered validates a rendered config before a step runs. A violation
// is a non-retryable INVALID_CONFIG error listing every problem, with paths
// relative to the config.
func (cs *configSchema) checkRendered(config any, stepType string) error {
	if config == nil {
		config = emptyConfig
	}
	problems := cs.problems(config, false)
	if len(problems) == 0 {
		return nil
	}
	ve := &sdk.ValidationError{Problems: problems}
	return &sdk.Error{Code: sdk.CodeInvalidConfig,
		Message: fmt.Sprintf("rendered config does not match the config schema of %s: %s", stepType, ve.Error()),
		Details: problems, Err: ve}
}

func (cs *configSchema) problems(v any, templates bool) []sdk.Problem {
	err := cs.sch.Validate(v)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []sdk.Problem{{Message: err.Error()}}
	}
	w := &schemaWalker{root: v, templates: templates}
	w.visit(verr)
	if w.foreign {
		// A value of a Go type the validator does not know (an int slice from
		// an expression, a struct): validate its JSON shape instead. Rare, so
		// the common path never copies.
		n := Normalize(v)
		verr, ok := cs.sch.Validate(n).(*jsonschema.ValidationError)
		if !ok {
			return nil
		}
		w = &schemaWalker{root: n, templates: templates}
		w.visit(verr)
	}
	// The library walks objects in map order; problems come out sorted.
	sort.SliceStable(w.problems, func(i, j int) bool { return w.problems[i].Path < w.problems[j].Path })
	return w.problems
}

var schemaPrinter = message.NewPrinter(language.English)

// schemaWalker turns jsonschema's tree of errors into flat problems at our
// path syntax (retries, headers["X-Key"], items[2].id).
type schemaWalker struct {
	root      any
	templates bool // the config is unrendered: tolerate what a template may cure
	foreign   bool // a value of a type the validator does not know was met
	problems  []sdk.Problem
}

func (w *schemaWalker) add(path, format string, args ...any) {
	w.problems = append(w.problems, sdk.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (w *schemaWalker) visit(e *jsonschema.ValidationError) {
	loc, val := w.locate(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		for _, c := range e.Causes {
			w.visit(c)
		}
		return
	case *kind.InvalidJsonValue:
		w.foreign = true
		return
	case *kind.Required:
		// The object exists; only its missing members are reported, each at
		// its own path. No template renders a missing property into being.
		for _, m := range k.Missing {
			w.add(sdk.KeyPath(loc, m), "is required")
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			w.add(sdk.KeyPath(loc, p), "is not allowed: the schema does not define this property")
		}
		return
	case *kind.AnyOf:
		w.alternatives(e, loc, "anyOf")
		return
	case *kind.OneOf:
		if k.Subschemas == nil {
			w.alternatives(e, loc, "oneOf")
			return
		}
	}
	if w.tolerated(e.ErrorKind, val) {
		return
	}
	w.add(loc, "%s", schemaMessage(e.ErrorKind))
}

// alternatives reports an anyOf or oneOf none of whose schemas matched. With
// an unrendered config, an alternative that fails only where templates stand
// may match once rendered, so nothing is reported.
func (w *schemaWalker) alternatives(e *jsonschema.ValidationError, loc, keyword string) {
	var why []string
	for _, c := range e.Causes {
		sub := &schemaWalker{root: w.root, templates: w.templates}
		sub.visit(c)
		sort.SliceStable(sub.problems, func(i, j int) bool { return sub.problems[i].Path < sub.problems[j].Path })
		w.foreign = w.foreign || sub.foreign
		if len(sub.problems) == 0 {
			return
		}
		if len(e.Causes) == 1 {
			w.problems = append(w.problems, sub.problems...)
			return
		}
		parts := make([]string, len(sub.problems))
		for i, p := range sub.problems {
			parts[i] = p.Message
			if p.Path != loc {
				parts[i] = strings.TrimPrefix(strings.TrimPrefix(p.Path, loc), ".") + ": " + p.Message
			}
		}
		why = append(why, strings.Join(parts, ", "))
	}
	w.add(loc, "matches none of the %s alternatives (%s)", keyword, strings.Join(why, "; or "))
}

// tolerated reports whether a violation found in an unrendered config may be
// cured by rendering: the value is a string holding a template (a whole
// {{…}} becomes a value of any type; a partial one stays a string, so a
// type violation there is real), or the keyword judges the whole value and
// a template sits somewhere inside it.
func (w *schemaWalker) tolerated(k jsonschema.ErrorKind, val any) bool {
	if !w.templates {
		return false
	}
	if s, ok := val.(string); ok && HasTemplate(s) {
		if t, ok := k.(*kind.Type); ok && !sdk.IsWholeTemplate(s) {
			for _, want := range t.Want {
				if want == "string" {
					return true
				}
			}
			return false
		}
		return true
	}
	switch k.(type) {
	case *kind.Const, *kind.Enum, *kind.Not, *kind.OneOf, *kind.UniqueItems,
		*kind.Contains, *kind.MinContains, *kind.MaxContains:
		return holdsTemplate(val)
	}
	return false
}

// holdsTemplate reports whether v has a string with a template anywhere.
func holdsTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return HasTemplate(x)
	case map[string]any:
		for _, e := range x {
			if holdsTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsTemplate(e) {
				return true
			}
		}
	}
	return false
}

// locate turns a JSON-pointer-like instance location into our path syntax
// and finds the value there. Whether a token is an index or a key depends on
// the value it steps into (an object may have a key "0").
func (w *schemaWalker) locate(tokens []string) (string, any) {
	path, v := "", w.root
	for _, tok := range tokens {
		switch x := v.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return sdk.KeyPath(path, tok), nil
			}
			path, v = path+"["+tok+"]", x[i]
		case map[string]any:
			path, v = sdk.KeyPath(path, tok), x[tok]
		default:
			path, v = sdk.KeyPath(path, tok), nil
		}
	}
	return path, v
}

// schemaMessage words a violation the way the rest of weft's problems read
// ("must be >= 0", "is required"), falling back to the library's wording.
func schemaMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q", k.Want)
	case *kind.Format:
		return fmt.Sprintf("is not a valid %s: %v", k.Want, k.Err)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, v := range k.Want {
			want[i] = display(v)
		}
		return "must be one of: " + strings.Join(want, ", ")
	case *kind.Const:
		return "must be " + display(k.Want)
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the schema in \"not\""
	}
	return k.LocalizedString(schemaPrinter)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display renders a schema value compactly as JSON.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "an array"
	case json.Number, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
