package sdk

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// DecodeValue decodes JSON-shaped data into v (a non-nil pointer) strictly:
// unknown object fields and values of the wrong type are all reported, each
// with its path, in a *ValidationError. Field names follow encoding/json: the
// json tag (or the Go name), matched exactly, else case-insensitively.
func DecodeValue(data Value, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("sdk: DecodeValue needs a non-nil pointer, got %T", v)
	}
	// The direct path first, for a zero target (encoding/json decodes into
	// what is there: defaults set before the call, maps it adds to). What it
	// takes, CheckShape accepts; what it declines gets the full check, with
	// every problem reported, and encoding/json.
	if target := rv.Elem(); target.IsZero() {
		if assign(data, target) {
			return nil
		}
		target.SetZero() // what assign set before it gave up
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
	if len(s) < 4 || !strings.HasPrefix(s, "{{") {
		return false
	}
	end, ok := PlaceholderEnd(s[2:])
	return ok && end+4 == len(s)
}

// PlaceholderEnd finds the "}}" that closes a placeholder whose content starts
// at s[0] (just after "{{"), skipping string literals and the nested braces of
// expressions such as {{ {"a": 1}.a }}. It returns the index of that "}}" in s.
// The engine's template parser uses the same rule.
func PlaceholderEnd(s string) (int, bool) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, i+1 < len(s) && s[i+1] == '}'
			}
			depth--
		}
	}
	return 0, false
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
		if data == nil {
			return // encoding/json hands null to UnmarshalJSON; most leave the value alone
		}
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
		if data == nil {
			return
		}
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
			if f.quoted {
				c.checkQuoted(KeyPath(path, k), obj[k], f.typ)
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
		for _, k := range sortedKeys(obj) {
			if err := checkMapKey(k, t.Key()); err != nil {
				c.add(KeyPath(path, k), "%v", err)
				continue
			}
			c.check(KeyPath(path, k), obj[k], t.Elem())
		}
	case reflect.Slice, reflect.Array:
		if data == nil {
			return
		}
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			s, ok := data.(string)
			if !ok {
				c.add(path, "expected a base64 string, got %s", TypeName(data))
			} else if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				c.add(path, "invalid base64: %v", err)
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
		f, ok := number(data)
		if !ok {
			c.add(path, "expected a number, got %s", TypeName(data))
			return
		}
		if t.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 {
			c.add(path, "number %v out of range", f)
		}
	}
}

// checkMapKey checks that an object key can become a key of type kt, as
// encoding/json converts it (strings, integers, TextUnmarshalers).
func checkMapKey(k string, kt reflect.Type) error {
	if reflect.PointerTo(kt).Implements(textUnmarshalerType) {
		return reflect.New(kt).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k))
	}
	switch kt.Kind() {
	case reflect.String:
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil || reflect.New(kt).Elem().OverflowInt(n) {
			return fmt.Errorf("key %q is not an integer of type %s", k, kt)
		}
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil || reflect.New(kt).Elem().OverflowUint(n) {
			return fmt.Errorf("key %q is not an unsigned integer of type %s", k, kt)
		}
		return nil
	}
	return fmt.Errorf("objects cannot be decoded into maps keyed by %s", kt)
}

// checkQuoted checks a field tagged ",string": its number or boolean is
// written as a JSON string.
func (c *shapeChecker) checkQuoted(path string, data Value, t reflect.Type) {
	if data == nil {
		return
	}
	str, ok := data.(string)
	if !ok {
		c.add(path, "expected a quoted value (the field is tagged \",string\"), got %s", TypeName(data))
		return
	}
	if c.templates && IsWholeTemplate(str) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var inner any
	if t.Kind() == reflect.String {
		if err := json.Unmarshal([]byte(str), new(string)); err != nil {
			c.add(path, "expected a quoted JSON string, got %q", str)
		}
		return
	}
	if err := json.Unmarshal([]byte(str), &inner); err != nil {
		c.add(path, "%q does not hold a %s", str, t.Kind())
		return
	}
	c.check(path, inner, t)
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
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		return rv.Float(), true
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

type fieldInfo struct {
	typ    reflect.Type
	quoted bool  // the ",string" option
	index  []int // the field's index path (through embedded structs)
	viaPtr bool  // the path goes through an embedded pointer
}

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

// structFields maps json names to field types following encoding/json's
// rules: tags and "-", embedded structs promoted, and for a name found more
// than once the shallowest field wins, a tagged one over an untagged one at
// the same depth, and a tie hides the name altogether.
func structFields(t reflect.Type) fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(fieldSet)
	}
	type candidate struct {
		fieldInfo
		name   string
		depth  int
		tagged bool
	}
	var all []candidate
	visited := map[reflect.Type]bool{}
	var walk func(t reflect.Type, depth int, index []int, viaPtr bool)
	walk = func(t reflect.Type, depth int, index []int, viaPtr bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		defer delete(visited, t)
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if !isValidTag(name) {
				name = "" // as encoding/json: the Go name then
			}
			path := append(index[:len(index):len(index)], i)
			if f.Anonymous && name == "" {
				ft := f.Type
				ptr := ft.Kind() == reflect.Pointer
				if ptr {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, depth+1, path, viaPtr || ptr)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if name == "" {
				name = f.Name
			}
			quoted := false
			qt := f.Type // encoding/json looks through an unnamed pointer
			if qt.Name() == "" && qt.Kind() == reflect.Pointer {
				qt = qt.Elem()
			}
			for _, o := range strings.Split(opts, ",") {
				if o == "string" {
					switch k := qt.Kind(); {
					case k == reflect.Bool, k == reflect.String, k >= reflect.Int && k <= reflect.Float64:
						quoted = true
					}
				}
			}
			all = append(all, candidate{fieldInfo{typ: f.Type, quoted: quoted, index: path, viaPtr: viaPtr}, name, depth, tagged})
		}
	}
	walk(t, 0, nil, false)
	byName := map[string][]candidate{}
	var order []string
	for _, c := range all {
		if _, seen := byName[c.name]; !seen {
			order = append(order, c.name)
		}
		byName[c.name] = append(byName[c.name], c)
	}
	fs := fieldSet{byName: map[string]fieldInfo{}}
	for _, name := range order {
		cands := byName[name]
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].depth != cands[j].depth {
				return cands[i].depth < cands[j].depth
			}
			return cands[i].tagged && !cands[j].tagged
		})
		if len(cands) > 1 && cands[0].depth == cands[1].depth && cands[0].tagged == cands[1].tagged {
			continue // ambiguous: encoding/json ignores the name
		}
		fs.byName[name] = cands[0].fieldInfo
		fs.names = append(fs.names, name)
	}
	fieldCache.Store(t, fs)
	return fs
}

// isValidTag reports whether s may name a field in a json tag, by
// encoding/json's rule; it ignores a tag name it refuses.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quotes are reserved; other punctuation is allowed.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// suggest returns the known name closest to s when it is close enough to be a
// likely typo.
func suggest(s string, known []string) string {
	// Allow one edit per three characters (at most three), so short names do
	// not "match" unrelated ones; a name of one or two letters gets none.
	best, bestD := "", min(3, len(s)/3)+1
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

// levenshtein is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours ("ulr" → "url") cost one.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
