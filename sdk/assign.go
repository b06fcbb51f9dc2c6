package sdk

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// assign sets v, a settable zero value, from data, exactly as encoding/json
// would decode data's encoding — but without encoding and decoding it, which
// in a WASM guest cost most of a typed component's call — and only if
// CheckShape accepts data for v's type (it declines whatever CheckShape
// refuses). It knows the shapes that JSON data takes into
// plain Go types; for anything else (a json.Unmarshaler or TextUnmarshaler,
// a ",string" field, []byte, arrays, non-string map keys, a field behind an
// embedded pointer, a key that matches only case-insensitively, a string
// that is not valid UTF-8, a number JSON cannot hold, a value that is not
// JSON-shaped) it reports false, and the caller takes encoding/json's path.
func assign(data Value, v reflect.Value) bool {
	t := v.Type()
	if p := reflect.PointerTo(t); p.Implements(unmarshalerType) || p.Implements(textUnmarshalerType) {
		return false
	}
	if data == nil {
		return true // null leaves the zero value
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return false
		}
		x, ok := plainJSON(data)
		if ok {
			v.Set(reflect.ValueOf(x))
		}
		return ok
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if !assign(data, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	case reflect.Struct:
		obj, ok := data.(map[string]any)
		if !ok {
			return false
		}
		fields := structFields(t)
		for k, x := range obj {
			f, ok := fields.byName[k]
			if !ok || f.quoted || f.viaPtr || !assign(x, v.FieldByIndex(f.index)) {
				return false
			}
		}
		return true
	case reflect.Map:
		obj, ok := data.(map[string]any)
		kt := t.Key()
		if !ok || kt.Kind() != reflect.String || reflect.PointerTo(kt).Implements(textUnmarshalerType) {
			return false
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for k, x := range obj {
			e := reflect.New(t.Elem()).Elem()
			if !utf8.ValidString(k) || !assign(x, e) {
				return false
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(kt), e)
		}
		v.Set(m)
		return true
	case reflect.Slice:
		arr, ok := data.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return false
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, x := range arr {
			if !assign(x, s.Index(i)) {
				return false
			}
		}
		v.Set(s)
		return true
	case reflect.String:
		s, ok := data.(string)
		if !ok || !utf8.ValidString(s) || t == jsonNumberType {
			return false // a json.Number field takes only a number literal
		}
		v.SetString(s)
		return true
	case reflect.Bool:
		b, ok := data.(bool)
		v.SetBool(b)
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, ok := jsonNumber(data)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 || v.OverflowInt(int64(f)) {
			return false
		}
		v.SetInt(int64(f))
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := jsonNumber(data)
		// -0 too: encoding/json refuses "-0" for an unsigned integer.
		if !ok || f != math.Trunc(f) || math.Signbit(f) || f > 1<<53 || v.OverflowUint(uint64(f)) {
			return false
		}
		v.SetUint(uint64(f))
		return true
	case reflect.Float64:
		f, ok := jsonNumber(data)
		v.SetFloat(f)
		return ok
	case reflect.Float32:
		f, ok := jsonNumber(data)
		if !ok || math.Abs(f) > math.MaxFloat32 {
			return false
		}
		// As encoding/json does: the number's decimal, read as float32
		// (float32(f) would round twice). f holds the data's number exactly
		// (jsonNumber declines integers it would round), so its shortest
		// decimal is the same number as the data's encoding.
		f32, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 64), 32)
		if err != nil {
			return false
		}
		v.SetFloat(f32)
		return true
	}
	return false
}

var jsonNumberType = reflect.TypeFor[json.Number]()

// jsonNumber returns the number data holds as encoding/json would read it
// back from data's encoding: a float64. It declines what may not survive
// that trip unchanged: float32 values (encoded as their shortest float32
// decimal), Go integers beyond 2^53 (a float64 rounds them, encoding/json
// reads their digits into an integer field exactly), json.Number (its text
// is encoded as it is, and need not be a JSON number) — and what does not
// encode at all (NaN, infinities).
func jsonNumber(data Value) (float64, bool) {
	const exact = 1 << 53
	var f float64
	switch n := data.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
		if n > exact || n < -exact {
			return 0, false
		}
	case int64:
		f = float64(n)
		if n > exact || n < -exact {
			return 0, false
		}
	case int32:
		f = float64(n)
	case uint64:
		f = float64(n)
		if n > exact {
			return 0, false
		}
	case uint:
		f = float64(n)
		if n > exact {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// plainJSON returns data as encoding/json decodes its encoding into an
// interface{}: fresh maps and slices, float64 numbers. ok is false for data
// that is not plain JSON-shaped.
func plainJSON(data Value) (any, bool) {
	switch x := data.(type) {
	case nil, bool:
		return x, true
	case string:
		return x, utf8.ValidString(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := plainJSON(e)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			m[k] = c
		}
		return m, true
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			c, ok := plainJSON(e)
			if !ok {
				return nil, false
			}
			s[i] = c
		}
		return s, true
	}
	f, ok := jsonNumber(data)
	return f, ok
}
