package steps

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// DataTransform is the DATA_TRANSFORM step. It takes source (default: the
// execution input) and applies operations in order; when source is an array,
// the operations apply to each element. Operations:
//
//	{"type": "map", "mapping": {"to.path": "from.path"}, "keep": false}
//	{"type": "rename", "from": "email", "to": "contactEmail"}
//	{"type": "calculate", "field": "priority", "expression": "score * 2"}
//	{"type": "format", "field": "state", "format": "upper"}
//	{"type": "merge", "with": {"source": "web"}, "deep": false}
//	{"type": "set", "field": "status", "value": "{{steps.x.output.status}}"}
//	{"type": "remove", "fields": ["internalId"]}
//	{"type": "transform", "name": "normalize_phone", "config": {…}}
//	{"type": "transform", "rule": "score_lead"}
//	{"type": "transform", "script": {"lang": "lua", "source": "return input"}}
//
// A transform operation names a registered transform (built-in, Lua, WASM or
// plugin), or a stored TransformationRule (rule), or carries an inline script
// in a registered language; config is the transform's static config (a
// script sees it as ctx.config).
//
// Expressions see the record's fields as bare names, plus input, variables,
// steps and execution. The output is the transformed data.
type DataTransform struct {
	source *core.ValueTemplate
	ops    []operation
}

var _ core.EngineStep = (*DataTransform)(nil)

// Info implements sdk.Component.
func (*DataTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeDataTransform,
		Summary: "Reshapes data: map, rename, calculate, format, merge, set, remove, or a named transform.",
		New:     func() sdk.Component { return &DataTransform{} }}
}

type transformConfig struct {
	Source     any               `json:"source"`
	Operations []operationConfig `json:"operations"`
}

type operationConfig struct {
	Type       string             `json:"type"`
	Mapping    map[string]string  `json:"mapping"`
	Keep       bool               `json:"keep"`
	From       string             `json:"from"`
	To         string             `json:"to"`
	Field      string             `json:"field"`
	Expression string             `json:"expression"`
	Format     string             `json:"format"`
	Layout     string             `json:"layout"`
	Decimals   *int               `json:"decimals"`
	With       any                `json:"with"`
	Deep       bool               `json:"deep"`
	Value      any                `json:"value"`
	Fields     []string           `json:"fields"`
	Name       string             `json:"name"`
	Rule       string             `json:"rule"`
	Script     *core.InlineScript `json:"script"`
	Config     map[string]any     `json:"config"`
}

type operation struct {
	kind     string
	mapping  [][2][]core.PathSeg // (to, from) pairs
	keep     bool
	from, to []core.PathSeg
	field    []core.PathSeg
	expr     *core.Expr
	format   string
	layout   string
	decimals int
	value    *core.ValueTemplate
	deep     bool
	fields   [][]core.PathSeg
	tr       sdk.Transform
}

var formats = []string{"upper", "lower", "trim", "title", "number", "integer", "round", "string", "boolean", "date", "json"}

// Compile implements core.EngineStep.
func (t *DataTransform) Compile(sc *core.StepCompiler) error {
	var cfg transformConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	src := cfg.Source
	if src == nil {
		src = "{{input}}"
	}
	t.source = sc.Template(src, "source")
	if len(cfg.Operations) == 0 {
		sc.Problem("operations", "give at least one operation (map, rename, calculate, format, merge, set, remove, transform)")
	}
	path := func(s, rel string) []core.PathSeg {
		if s == "" {
			sc.Problem(rel, "is required")
			return nil
		}
		segs := core.ParsePath(s)
		if segs == nil {
			sc.Problem(rel, "%q is not a field path like email or address.zip", s)
		}
		return segs
	}
	for i, oc := range cfg.Operations {
		base := fmt.Sprintf("operations[%d]", i)
		op := operation{kind: oc.Type}
		unused := func(names ...string) {
			present := map[string]bool{
				"mapping": oc.Mapping != nil, "from": oc.From != "", "to": oc.To != "", "field": oc.Field != "",
				"expression": oc.Expression != "", "format": oc.Format != "", "with": oc.With != nil,
				"value": oc.Value != nil, "fields": oc.Fields != nil, "name": oc.Name != "", "config": oc.Config != nil,
				"rule": oc.Rule != "", "script": oc.Script != nil,
				"layout": oc.Layout != "", "decimals": oc.Decimals != nil, "keep": oc.Keep, "deep": oc.Deep,
			}
			for _, name := range slices.Sorted(maps.Keys(present)) {
				if present[name] && !slices.Contains(names, name) {
					sc.Problem(base+"."+name, "not used by a %q operation", oc.Type)
				}
			}
		}
		switch oc.Type {
		case "map":
			unused("mapping", "keep")
			if len(oc.Mapping) == 0 {
				sc.Problem(base+".mapping", "give at least one \"to\": \"from\" pair")
			}
			for _, to := range slices.Sorted(maps.Keys(oc.Mapping)) {
				from := oc.Mapping[to]
				op.mapping = append(op.mapping, [2][]core.PathSeg{path(to, base+".mapping"), path(from, sdk.KeyPath(base+".mapping", to))})
			}
			op.keep = oc.Keep
		case "rename":
			unused("from", "to")
			op.from, op.to = path(oc.From, base+".from"), path(oc.To, base+".to")
		case "calculate":
			unused("field", "expression")
			op.field = path(oc.Field, base+".field")
			if oc.Expression == "" {
				sc.Problem(base+".expression", "is required")
			} else {
				op.expr = sc.Expr(oc.Expression, base+".expression")
			}
		case "format":
			unused("field", "format", "layout", "decimals")
			op.field = path(oc.Field, base+".field")
			op.format, op.layout = strings.ToLower(oc.Format), oc.Layout
			if oc.Decimals != nil {
				op.decimals = *oc.Decimals
			}
			known := false
			for _, f := range formats {
				known = known || f == op.format
			}
			if !known {
				sc.Problem(base+".format", "%q is not a format (%s)", oc.Format, strings.Join(formats, ", "))
			}
		case "merge":
			unused("with", "deep")
			if oc.With == nil {
				sc.Problem(base+".with", "is required: an object, or a template that yields one")
			}
			op.value, op.deep = sc.Template(oc.With, base+".with"), oc.Deep
		case "set":
			unused("field", "value")
			op.field = path(oc.Field, base+".field")
			op.value = sc.Template(oc.Value, base+".value")
		case "remove":
			unused("fields")
			if len(oc.Fields) == 0 {
				sc.Problem(base+".fields", "give at least one field")
			}
			for j, f := range oc.Fields {
				op.fields = append(op.fields, path(f, fmt.Sprintf("%s.fields[%d]", base, j)))
			}
		case "transform":
			unused("name", "rule", "script", "config")
			var config any
			if oc.Config != nil {
				config = oc.Config
			}
			switch given := btoi(oc.Name != "") + btoi(oc.Rule != "") + btoi(oc.Script != nil); {
			case given == 0:
				sc.Problem(base+".name", "is required: the name of a registered transform (or give rule, a stored rule, or script, an inline script)")
			case given > 1:
				sc.Problem(base, "give exactly one of name (a registered transform), rule (a stored rule) or script (an inline script)")
			case oc.Name != "":
				op.tr = sc.Transform(oc.Name, config, base+".name")
			case oc.Rule != "":
				op.tr = sc.Rule(oc.Rule, config, base+".rule")
			default:
				op.tr = sc.ScriptTransform(*oc.Script, config, base+".script")
			}
		case "":
			sc.Problem(base+".type", "is required")
		default:
			sc.Problem(base+".type", "%q is not an operation (map, rename, calculate, format, merge, set, remove, transform)", oc.Type)
		}
		t.ops = append(t.ops, op)
	}
	return nil
}

// Execute implements core.EngineStep.
func (t *DataTransform) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	data, err := r.Render(ctx, t.source)
	if err != nil {
		return nil, err
	}
	data = core.DeepCopy(data) // the source may be another step's output, which must not change
	if list, ok := data.([]any); ok {
		for i, rec := range list {
			if list[i], err = t.apply(ctx, r, rec); err != nil {
				return nil, prefixError(err, fmt.Sprintf("item %d", i))
			}
		}
		return list, nil
	}
	return t.apply(ctx, r, data)
}

func (t *DataTransform) apply(ctx context.Context, r *core.StepRun, rec any) (any, error) {
	for i, op := range t.ops {
		var err error
		if rec, err = op.apply(ctx, r, rec); err != nil {
			return nil, prefixError(err, fmt.Sprintf("operation %d (%s)", i, op.kind))
		}
	}
	return rec, nil
}

// prefixError says where in the step an error happened and keeps the rest
// of it: its code, whether it is retryable (a transform served by a plugin
// that crashed is), how long to wait and its details.
func prefixError(err error, where string) error {
	e := sdk.AsError(err)
	return &sdk.Error{Code: e.Code, Message: where + ": " + e.Message, Retryable: e.Retryable, RetryAfter: e.RetryAfter, Details: e.Details, Err: err}
}

func (op *operation) apply(ctx context.Context, r *core.StepRun, rec any) (any, error) {
	if op.kind == "transform" {
		out, err := op.tr.Transform(ctx, rec)
		if err != nil {
			return nil, err
		}
		return core.Normalize(out), nil
	}
	obj, ok := rec.(map[string]any)
	if !ok {
		if rec != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "expected an object, got %s", sdk.TypeName(rec))
		}
		obj = map[string]any{}
	}
	switch op.kind {
	case "map":
		out := map[string]any{}
		if op.keep {
			out = obj
		}
		for _, m := range op.mapping {
			if v, ok := core.Lookup(obj, m[1]); ok {
				setPath(out, m[0], v)
			}
		}
		return out, nil
	case "rename":
		if v, ok := core.Lookup(obj, op.from); ok {
			removePath(obj, op.from)
			setPath(obj, op.to, v)
		}
	case "calculate":
		v, err := r.Eval(op.expr, obj)
		if err != nil {
			return nil, err
		}
		setPath(obj, op.field, v)
	case "format":
		v, ok := core.Lookup(obj, op.field)
		if !ok {
			return obj, nil // like rename: a missing field is left missing
		}
		f, err := format(v, op.format, op.layout, op.decimals)
		if err != nil {
			return nil, err
		}
		setPath(obj, op.field, f)
	case "merge":
		with, err := r.Render(ctx, op.value)
		if err != nil {
			return nil, err
		}
		wm, ok := with.(map[string]any)
		if !ok {
			if with == nil {
				return obj, nil
			}
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "merge: with must be an object, got %s", sdk.TypeName(with))
		}
		merge(obj, core.DeepCopy(wm).(map[string]any), op.deep)
	case "set":
		v, err := r.Render(ctx, op.value)
		if err != nil {
			return nil, err
		}
		setPath(obj, op.field, v)
	case "remove":
		for _, f := range op.fields {
			removePath(obj, f)
		}
	}
	return obj, nil
}

// setPath sets a value at a path of keys, creating objects on the way.
func setPath(obj map[string]any, path []core.PathSeg, v any) {
	for i, seg := range path {
		key := seg.Key
		if key == "" {
			key = strconv.Itoa(seg.Index)
		}
		if i == len(path)-1 {
			obj[key] = v
			return
		}
		next, ok := obj[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[key] = next
		}
		obj = next
	}
}

func removePath(obj map[string]any, path []core.PathSeg) {
	if len(path) == 0 {
		return
	}
	parent, ok := core.Lookup(obj, path[:len(path)-1])
	if m, isMap := parent.(map[string]any); ok && isMap {
		delete(m, path[len(path)-1].Key)
	}
}

func merge(dst, src map[string]any, deep bool) {
	for k, v := range src {
		if deep {
			if dm, ok := dst[k].(map[string]any); ok {
				if sm, ok := v.(map[string]any); ok {
					merge(dm, sm, true)
					continue
				}
			}
		}
		dst[k] = v
	}
}

func format(v any, f, layout string, decimals int) (any, error) {
	if v == nil && f != "string" && f != "boolean" {
		return nil, nil
	}
	switch f {
	case "upper":
		return strings.ToUpper(core.Stringify(v)), nil
	case "lower":
		return strings.ToLower(core.Stringify(v)), nil
	case "trim":
		return strings.TrimSpace(core.Stringify(v)), nil
	case "title":
		return titleCase(core.Stringify(v)), nil
	case "string":
		return core.Stringify(v), nil
	case "json":
		return core.Stringify(v), nil
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, sdk.Errorf(sdk.CodeInvalidInput, "%q is not a boolean", x)
			}
			return b, nil
		}
		return truthy(v), nil
	case "number", "integer", "round":
		n, ok := asNumber(v)
		if !ok {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "%q is not a number", core.Stringify(v))
		}
		switch f {
		case "integer":
			n = math.Trunc(n)
		case "round":
			if decimals < -15 || decimals > 15 {
				return nil, sdk.Errorf(sdk.CodeInvalidInput, "decimals must be between -15 and 15, got %d", decimals)
			}
			p := math.Pow(10, float64(decimals))
			n = math.Round(n*p) / p
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "%q is not a finite number", core.Stringify(v))
		}
		return n, nil
	case "date":
		t, err := parseTime(v)
		if err != nil {
			return nil, err
		}
		if layout == "" {
			layout = time.RFC3339
		}
		return t.Format(layout), nil
	}
	return nil, sdk.Errorf(sdk.CodeInternal, "unknown format %q", f)
}

// parseTime reads RFC 3339 times, plain dates and Unix seconds.
func parseTime(v any) (time.Time, error) {
	if n, ok := v.(float64); ok {
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	s := core.Stringify(v)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, sdk.Errorf(sdk.CodeInvalidInput, "%q is not a date (RFC 3339, 2006-01-02 or Unix seconds)", s)
}

func titleCase(s string) string {
	out := []rune(strings.ToLower(s))
	start := true
	for i, r := range out {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start {
				out[i] = unicode.ToUpper(r)
			}
			start = false
		} else {
			start = true
		}
	}
	return string(out)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
