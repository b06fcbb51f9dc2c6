package core

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Normalize turns v into plain JSON-shaped data: nil, bool, float64, string,
// []any and map[string]any. NaN and infinities, which JSON cannot carry,
// become nil. Values that already have that shape are returned
// as they are (no copy); anything else (structs, typed maps and slices,
// integers) is converted, through encoding/json when there is no direct way.
// Expressions and templates only ever see normalised data.
func Normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil // JSON has no NaN or infinity; records must stay encodable
		}
		return v
	case nil, bool, string:
		return v
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case float32:
		return Normalize(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case json.RawMessage:
		var out any
		if json.Unmarshal(x, &out) != nil {
			return string(x)
		}
		return out
	case map[string]any:
		if isPlain(x) {
			return x
		}
		cp := make(map[string]any, len(x))
		for k, e := range x {
			cp[k] = Normalize(e)
		}
		return cp
	case []any:
		if isPlain(x) {
			return x
		}
		cp := make([]any, len(x))
		for i, e := range x {
			cp[i] = Normalize(e)
		}
		return cp
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil
		}
		if rv.Type().Elem().Kind() != reflect.Uint8 {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = Normalize(rv.Index(i).Interface())
			}
			return out
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String && !rv.Type().Implements(marshalerType) {
			if rv.IsNil() {
				return nil
			}
			out := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				out[it.Key().String()] = Normalize(it.Value().Interface())
			}
			return out
		}
	case reflect.Int, reflect.Int8, reflect.Int16:
		return float64(rv.Int())
	case reflect.Uint8, reflect.Uint16:
		return float64(rv.Uint())
	case reflect.String:
		if !rv.Type().Implements(marshalerType) {
			return rv.String()
		}
	case reflect.Bool:
		return rv.Bool()
	case reflect.Float32, reflect.Float64:
		return Normalize(rv.Float())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// isPlain reports whether v is already JSON-shaped all the way down.
func isPlain(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case nil, bool, string:
		return true
	case map[string]any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
		return true
	}
	return false
}

// DeepCopy copies JSON-shaped data so the copy can be changed freely.
func DeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		cp := make(map[string]any, len(x))
		for k, e := range x {
			cp[k] = DeepCopy(e)
		}
		return cp
	case []any:
		cp := make([]any, len(x))
		for i, e := range x {
			cp[i] = DeepCopy(e)
		}
		return cp
	}
	return v
}

// Stringify renders a value for interpolation into a string: strings as they
// are, null as "", integers without exponent, objects and arrays as JSON.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Normalize(v)); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Lookup follows a path of keys and indexes into JSON-shaped data. Missing keys,
// indexes out of range and steps into scalars yield (nil, false).
func Lookup(v any, path []PathSeg) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			if seg.Key == "" && seg.Index >= 0 {
				var ok bool
				v, ok = x[strconv.Itoa(seg.Index)]
				if !ok {
					return nil, false
				}
				continue
			}
			var ok bool
			v, ok = x[seg.Key]
			if !ok {
				return nil, false
			}
		case []any:
			i := seg.Index
			if seg.Key != "" {
				n, err := strconv.Atoi(seg.Key)
				if err != nil {
					return nil, false
				}
				i = n
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// PathSeg is one step of a path: an object key, or an array index (Key "").
type PathSeg struct {
	Key   string
	Index int
}

// ParsePath parses a dotted path such as steps.get_lead.output.items[0].id or
// items.0.id. It returns nil for a path that is not in that grammar.
func ParsePath(s string) []PathSeg {
	if s == "" {
		return nil
	}
	var segs []PathSeg
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 2 {
				return nil
			}
			digits := s[i+1 : i+j]
			if strings.TrimLeft(digits, "0123456789") != "" {
				return nil
			}
			n, err := strconv.Atoi(digits)
			if err != nil {
				return nil
			}
			segs = append(segs, PathSeg{Index: n})
			i += j + 1
			switch {
			case i == len(s), s[i] == '[':
			case s[i] == '.':
				i++
				if i == len(s) {
					return nil
				}
			default:
				return nil // a[0]b
			}
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				if !isPathChar(s[j], j == i && len(segs) == 0) {
					return nil
				}
				j++
			}
			if j == i {
				return nil
			}
			segs = append(segs, PathSeg{Key: s[i:j], Index: -1})
			i = j
			if i < len(s) && s[i] == '.' {
				i++
				if i == len(s) {
					return nil
				}
			}
		}
	}
	return segs
}

func isPathChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		return true
	case c >= '0' && c <= '9', c == '-':
		return !first
	}
	return false
}
