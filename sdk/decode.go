package sdk

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// DecodeValue decodes JSON-shaped data into v (a non-nil pointer) strictly:
// unknown object fields and values of the wrong type are all reported, each
// with its path, in a *ValidationError. Field names match json tags exactly.
func DecodeValue(data Value, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("sdk: DecodeValue needs a non-nil pointer, got %T", v)
	}
	if err := CheckShape(data, rv.Elem().Type(), false); err != nil {
		return err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Message: err.Error()}}}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &ValidationError{Problems: []Problem{{Message: err.Error()}}}
	}
	return nil
}

// CheckConfigShape checks that an unrendered config could decode into a value of
// the same type as sample (a struct or pointer to one): unknown fields and wrong
// types are reported with their paths. A string that is exactly one {{…}}
// template is accepted in place of a value of any type.
func CheckConfigShape(config Value, sample any) error {
	t := reflect.TypeOf(sample)
	if t == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return CheckShape(config, t, true)
}

// IsWholeTemplate reports whether s is exactly one {{…}} template, which the
// engine replaces by a value of any JSON type.
func IsWholeTemplate(s string) bool {
	return len(s) >= 4 && strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") &&
		strings.Count(s, "{{") == 1 && strings.Count(s, "}}") == 1
}

// CheckShape checks that data fits type t and returns a *ValidationError with
// every problem, or nil. When templates is true, a whole {{…}} template string
// is accepted for any type.
func CheckShape(data Value, t reflect.Type, templates bool) error {
	c := shapeChecker{templates: templates}
	c.check("", data, t)
	if len(c.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: c.problems}
}

type shapeChecker struct {
	templates bool
	problems  []Problem
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (c *shapeChecker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *shapeChecker) check(path string, data Value, t reflect.Type) {
	if c.templates {
		if s, ok := data.(string); ok && IsWholeTemplate(s) {
			return
		}
	}
	if t.Kind() == reflect.Interface {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		raw, err := json.Marshal(data)
		if err == nil {
			err = json.Unmarshal(raw, reflect.New(t).Interface())
		}
		if err != nil {
			c.add(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := data.(string)
		if !ok {
			c.add(path, "expected a string, got %s", TypeName(data))
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			c.add(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if data != nil {
			c.check(path, data, t.Elem())
		}
	case reflect.Struct:
		if data == nil {
			return
		}
		obj, ok := data.(map[string]any)
		if !ok {
			c.add(path, "expected an object, got %s", TypeName(data))
			return
		}
		fields := structFields(t)
		for _, k := range sortedKeys(obj) {
			f, ok := fields.lookup(k)
			if !ok {
				msg := fmt.Sprintf("unknown field %q", k)
				if s := suggest(k, fields.names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else if len(fields.names) > 0 {
					msg += " (known: " + strings.Join(fields.names, ", ") + ")"
				}
				c.problems = append(c.problems, Problem{Path: KeyPath(path, k), Message: msg})
				continue
			}
			c.check(KeyPath(path, k), obj[k], f.typ)
		}
	case reflect.Map:
		if data == nil {
			return
		}
		obj, ok := data.(map[string]any)
		if !ok {
			c.add(path, "expected an object, got %s", TypeName(data))
			return
		}
		if t.Key().Kind() != reflect.String {
			return
		}
		for _, k := range sortedKeys(obj) {
			c.check(KeyPath(path, k), obj[k], t.Elem())
		}
	case reflect.Slice, reflect.Array:
		if data == nil && t.Kind() == reflect.Slice {
			return
		}
		if t.Elem().Kind() == reflect.Uint8 {
			if _, ok := data.(string); !ok {
				c.add(path, "expected a base64 string, got %s", TypeName(data))
			}
			return
		}
		arr, ok := data.([]any)
		if !ok {
			c.add(path, "expected an array, got %s", TypeName(data))
			return
		}
		if t.Kind() == reflect.Array && len(arr) != t.Len() {
			c.add(path, "expected an array of %d elements, got %d", t.Len(), len(arr))
		}
		for i, e := range arr {
			c.check(path+"["+strconv.Itoa(i)+"]", e, t.Elem())
		}
	case reflect.String:
		if _, ok := data.(string); !ok && data != nil {
			c.add(path, "expected a string, got %s", TypeName(data))
		}
	case reflect.Bool:
		if _, ok := data.(bool); !ok && data != nil {
			c.add(path, "expected true or false, got %s", TypeName(data))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if data == nil {
			return
		}
		f, ok := number(data)
		if !ok {
			c.add(path, "expected an integer, got %s", TypeName(data))
			return
		}
		if f != math.Trunc(f) {
			c.add(path, "expected an integer, got %v", f)
			return
		}
		if reflect.Zero(t).CanUint() && f < 0 {
			c.add(path, "expected a non-negative integer, got %v", f)
			return
		}
		if math.Abs(f) > 1<<53 || (t.Bits() < 64 && overflows(f, t)) {
			c.add(path, "integer %v out of range", f)
		}
	case reflect.Float32, reflect.Float64:
		if data == nil {
			return
		}
		if _, ok := number(data); !ok {
			c.add(path, "expected a number, got %s", TypeName(data))
		}
	}
}

func overflows(f float64, t reflect.Type) bool {
	v := reflect.New(t).Elem()
	if v.CanInt() {
		return v.OverflowInt(int64(f))
	}
	return v.OverflowUint(uint64(f))
}

func number(v Value) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// TypeName names the JSON type of a value for error messages.
func TypeName(v Value) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number, int, int64, float32, int32:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// KeyPath appends an object key to a path, quoting keys that are not plain
// identifiers: (steps[0].config, url) → steps[0].config.url;
// (headers, "x.y") → headers["x.y"].
func KeyPath(parent, key string) string {
	plain := key != ""
	for _, r := range key {
		if r == '.' || r == '[' || r == ']' || r == '"' || r == ' ' {
			plain = false
			break
		}
	}
	if !plain {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type fieldInfo struct{ typ reflect.Type }

type fieldSet struct {
	byName map[string]fieldInfo
	names  []string
}

var fieldCache sync.Map // reflect.Type → fieldSet

// lookup finds a field by its json name: exactly, else case-insensitively as
// encoding/json does.
func (fs fieldSet) lookup(name string) (fieldInfo, bool) {
	if f, ok := fs.byName[name]; ok {
		return f, true
	}
	for _, n := range fs.names {
		if strings.EqualFold(n, name) {
			return fs.byName[n], true
		}
	}
	return fieldInfo{}, false
}

// structFields maps json names to field types, following encoding/json's rules
// for tags, "-" and embedded structs.
func structFields(t reflect.Type) fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{byName: map[string]fieldInfo{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; !dup {
				fs.names = append(fs.names, name)
			}
			fs.byName[name] = fieldInfo{typ: f.Type}
		}
	}
	walk(t)
	fieldCache.Store(t, fs)
	return fs
}

// suggest returns the known name closest to s when it is close enough to be a
// likely typo.
func suggest(s string, known []string) string {
	// Allow one edit per three characters (at least one, at most three), so
	// short names do not "match" unrelated ones.
	best, bestD := "", max(1, min(3, len(s)/3))+1
	for _, k := range known {
		if strings.EqualFold(k, s) {
			return k
		}
		if d := levenshtein(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Suggest returns the candidate closest to s when it is close enough to be a
// likely typo, or "".
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
