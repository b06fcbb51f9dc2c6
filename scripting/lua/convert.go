package lua

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	glua "github.com/yuin/gopher-lua"
)

// toLua converts JSON-shaped Go data to a Lua value. Arrays get the state's
// array marker so that an empty array stays an array on the way back; null
// inside arrays and objects becomes json.null.
func (s *state) toLua(v any, depth int) (glua.LValue, error) {
	if depth > s.rt.opts.MaxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", s.rt.opts.MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return s.null, nil
	case bool:
		return glua.LBool(x), nil
	case string:
		return glua.LString(x), nil
	case float64:
		return glua.LNumber(x), nil
	case float32:
		return glua.LNumber(x), nil
	case int:
		return glua.LNumber(x), nil
	case int64:
		return glua.LNumber(x), nil
	case int32:
		return glua.LNumber(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return glua.LNumber(f), nil
	case []any:
		t := s.L.CreateTable(len(x), 0)
		for i, e := range x {
			lv, err := s.toLua(e, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetInt(i+1, lv)
		}
		t.Metatable = s.arrayMT
		return t, nil
	case map[string]any:
		t := s.L.CreateTable(0, len(x))
		for k, e := range x {
			lv, err := s.toLua(e, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	// Anything else that encoding/json can marshal: normalise first.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot pass %T to Lua: %v", v, err)
	}
	var norm any
	if err := json.Unmarshal(raw, &norm); err != nil {
		return nil, err
	}
	if reflect.TypeOf(norm) == reflect.TypeOf(v) {
		return nil, fmt.Errorf("cannot pass %T to Lua", v)
	}
	return s.toLua(norm, depth)
}

// fromLua converts a Lua value to JSON-shaped Go data. Rules: json.null and
// nil → nil; a number → float64 (NaN and infinities are refused); a table
// with the array marker, or whose keys are exactly 1..n with n ≥ 1 → []any;
// any other table → map[string]any (number keys written as decimal strings);
// an empty unmarked table → {}. Functions, userdata, threads and tables
// nested deeper than MaxDepth (cycles included) are refused.
func (s *state) fromLua(v glua.LValue, depth int) (any, error) {
	if depth > s.rt.opts.MaxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels (or a cycle)", s.rt.opts.MaxDepth)
	}
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(x), nil
	case glua.LString:
		return string(x), nil
	case glua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v is not valid JSON", f)
		}
		return f, nil
	case *glua.LUserData:
		if x == s.null {
			return nil, nil
		}
	case *glua.LTable:
		return s.tableFromLua(x, depth)
	}
	return nil, fmt.Errorf("a Lua %s cannot be converted to JSON", v.Type())
}

// keyShape counts t's keys and tells whether they are all integers in
// 1..n, n being its length.
func keyShape(t *glua.LTable) (n, count int, allInts bool) {
	n, allInts = t.Len(), true
	t.ForEach(func(k, _ glua.LValue) {
		count++
		if f, ok := k.(glua.LNumber); !ok || float64(f) != math.Trunc(float64(f)) || f < 1 || int(f) > n {
			allInts = false
		}
	})
	return n, count, allInts
}

func (s *state) tableFromLua(t *glua.LTable, depth int) (any, error) {
	n, count, allInts := keyShape(t)
	if t.Metatable == s.arrayMT || (count > 0 && allInts && count == n) {
		if !allInts || count != n {
			return nil, fmt.Errorf("a table marked as an array has keys other than 1..%d", n)
		}
		out := make([]any, n)
		for i := 1; i <= n; i++ {
			e, err := s.fromLua(t.RawGetInt(i), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i-1] = e
		}
		return out, nil
	}
	out := make(map[string]any, count)
	var ferr error
	keys := make([]glua.LValue, 0, count)
	t.ForEach(func(k, _ glua.LValue) { keys = append(keys, k) })
	for _, k := range keys {
		var key string
		switch kk := k.(type) {
		case glua.LString:
			key = string(kk)
		case glua.LNumber:
			key = strconv.FormatFloat(float64(kk), 'f', -1, 64)
		default:
			return nil, fmt.Errorf("a table key of type %s cannot be a JSON object key", k.Type())
		}
		e, err := s.fromLua(t.RawGet(k), depth+1)
		if err != nil {
			ferr = fmt.Errorf("%s: %w", key, err)
			break
		}
		out[key] = e
	}
	return out, ferr
}
