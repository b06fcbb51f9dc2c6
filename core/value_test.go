package core_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

type valLead struct {
	Email  string            `json:"email"`
	Score  int               `json:"score"`
	Tags   []string          `json:"tags,omitempty"`
	Extra  map[string]int    `json:"extra,omitempty"`
	Inner  *valInner         `json:"inner,omitempty"`
	Labels map[string]string `json:"-"`
}

type valInner struct {
	OK bool `json:"ok"`
}

type valName string

type valStamp struct{ t time.Time }

func (s valStamp) MarshalJSON() ([]byte, error) { return json.Marshal(s.t.Format("2006-01-02")) }

func TestNormalize(t *testing.T) {
	t.Parallel()
	var nilPtr *valLead
	var nilSlice []int
	var nilMap map[string]int
	tests := []struct {
		name string
		in   any
		want any
	}{
		{name: "nil", in: nil, want: nil},
		{name: "bool", in: true, want: true},
		{name: "string", in: "s", want: "s"},
		{name: "float64", in: 1.5, want: 1.5},
		{name: "int", in: 7, want: 7.0},
		{name: "int8", in: int8(-3), want: -3.0},
		{name: "int16", in: int16(300), want: 300.0},
		{name: "int32", in: int32(-9), want: -9.0},
		{name: "int64", in: int64(1 << 40), want: float64(1 << 40)},
		{name: "uint", in: uint(4), want: 4.0},
		{name: "uint8", in: uint8(255), want: 255.0},
		{name: "uint16", in: uint16(65535), want: 65535.0},
		{name: "uint32", in: uint32(5), want: 5.0},
		{name: "uint64", in: uint64(6), want: 6.0},
		{name: "float32", in: float32(0.5), want: 0.5},
		{name: "named string", in: valName("ada"), want: "ada"},
		{name: "json.Number integer", in: json.Number("12"), want: 12.0},
		{name: "json.Number float", in: json.Number("-1.25e2"), want: -125.0},
		{name: "json.Number invalid", in: json.Number("abc"), want: "abc"},
		{name: "RawMessage object", in: json.RawMessage(`{"a":[1,"x",null]}`), want: map[string]any{"a": []any{1.0, "x", nil}}},
		{name: "RawMessage scalar", in: json.RawMessage(`3`), want: 3.0},
		{name: "RawMessage invalid", in: json.RawMessage(`{oops`), want: "{oops"},
		{name: "struct", in: valLead{Email: "a@b.c", Score: 3, Tags: []string{"x"}, Inner: &valInner{OK: true}, Labels: map[string]string{"no": "no"}},
			want: map[string]any{"email": "a@b.c", "score": 3.0, "tags": []any{"x"}, "inner": map[string]any{"ok": true}}},
		{name: "pointer to struct", in: &valLead{Email: "p", Extra: map[string]int{"k": 1}},
			want: map[string]any{"email": "p", "score": 0.0, "extra": map[string]any{"k": 1.0}}},
		{name: "nil pointer", in: nilPtr, want: nil},
		{name: "nil typed slice", in: nilSlice, want: nil},
		{name: "nil typed map", in: nilMap, want: nil},
		{name: "[]string", in: []string{"a", "b"}, want: []any{"a", "b"}},
		{name: "[]int", in: []int{1, 2}, want: []any{1.0, 2.0}},
		{name: "array", in: [2]int64{3, 4}, want: []any{3.0, 4.0}},
		{name: "[]map", in: []map[string]int{{"a": 1}}, want: []any{map[string]any{"a": 1.0}}},
		{name: "map[string]string", in: map[string]string{"a": "b"}, want: map[string]any{"a": "b"}},
		{name: "map[string]int", in: map[string]int{"a": 1}, want: map[string]any{"a": 1.0}},
		{name: "map[string][]int", in: map[string][]int{"a": {1}}, want: map[string]any{"a": []any{1.0}}},
		{name: "map with int keys", in: map[int]string{1: "one"}, want: map[string]any{"1": "one"}},
		{name: "[]byte as base64", in: []byte("hi"), want: "aGk="},
		{name: "time.Time via JSON", in: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), want: "2026-03-01T12:00:00Z"},
		{name: "marshaler", in: valStamp{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}, want: "2026-03-01"},
		{name: "nested non-plain in plain map", in: map[string]any{"a": []int{1}, "b": map[string]any{"c": int64(2), "d": "x"}},
			want: map[string]any{"a": []any{1.0}, "b": map[string]any{"c": 2.0, "d": "x"}}},
		{name: "nested non-plain in plain array", in: []any{"x", []any{int32(1), json.Number("2")}},
			want: []any{"x", []any{1.0, 2.0}}},
		{name: "unmarshalable", in: func() {}, want: nil},
		{name: "infinity becomes null", in: math.Inf(1), want: nil},
		{name: "NaN becomes null", in: math.NaN(), want: nil},
		{name: "NaN inside a map becomes null", in: map[string]any{"x": math.NaN()}, want: map[string]any{"x": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, core.Normalize(tt.in))
		})
	}
}

func TestNormalizePlainFastPath(t *testing.T) {
	t.Parallel()
	t.Run("plain map is returned as is", func(t *testing.T) {
		t.Parallel()
		m := map[string]any{"a": []any{1.0, "x", nil, true}, "b": map[string]any{"c": "d"}}
		got := core.Normalize(m)
		require.Equal(t, reflect.ValueOf(m).UnsafePointer(), reflect.ValueOf(got).UnsafePointer(), "no copy")
		got.(map[string]any)["z"] = 1.0
		require.Contains(t, m, "z", "same map")
	})
	t.Run("plain array is returned as is", func(t *testing.T) {
		t.Parallel()
		a := []any{1.0, map[string]any{"k": "v"}}
		got := core.Normalize(a).([]any)
		require.Same(t, &a[0], &got[0])
	})
	t.Run("non-plain map is copied, source untouched", func(t *testing.T) {
		t.Parallel()
		m := map[string]any{"n": 1, "ok": "x"}
		got := core.Normalize(m).(map[string]any)
		require.NotEqual(t, reflect.ValueOf(m).UnsafePointer(), reflect.ValueOf(got).UnsafePointer())
		require.Equal(t, map[string]any{"n": 1.0, "ok": "x"}, got)
		require.Equal(t, 1, m["n"], "the source keeps its int")
	})
	t.Run("non-plain array is copied", func(t *testing.T) {
		t.Parallel()
		a := []any{"x", 2}
		got := core.Normalize(a).([]any)
		require.NotSame(t, &a[0], &got[0])
		require.Equal(t, []any{"x", 2.0}, got)
		require.Equal(t, 2, a[1])
	})
}

func TestDeepCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		v      func() any
		mutate func(any)
	}{
		{name: "nested map", v: func() any {
			return map[string]any{"a": map[string]any{"b": []any{1.0, map[string]any{"c": "d"}}}}
		}, mutate: func(v any) {
			m := v.(map[string]any)
			inner := m["a"].(map[string]any)
			inner["b"].([]any)[0] = "changed"
			inner["b"].([]any)[1].(map[string]any)["c"] = "changed"
			inner["new"] = true
			delete(m, "a")
		}},
		{name: "nested array", v: func() any {
			return []any{[]any{1.0}, map[string]any{"k": []any{"v"}}}
		}, mutate: func(v any) {
			a := v.([]any)
			a[0].([]any)[0] = nil
			a[1].(map[string]any)["k"].([]any)[0] = nil
			a[1] = "replaced"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orig := tt.v()
			cp := core.DeepCopy(orig)
			require.Equal(t, orig, cp)
			tt.mutate(cp)
			require.Equal(t, tt.v(), orig, "the original is independent of the copy")
		})
	}
	t.Run("scalars as they are", func(t *testing.T) {
		t.Parallel()
		for _, v := range []any{nil, "s", 1.0, true} {
			require.Equal(t, v, core.DeepCopy(v))
		}
	})
}

func TestStringify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "null", v: nil, want: ""},
		{name: "string", v: "a <b> & c", want: "a <b> & c"},
		{name: "empty string", v: "", want: ""},
		{name: "true", v: true, want: "true"},
		{name: "false", v: false, want: "false"},
		{name: "integer float", v: 3.0, want: "3"},
		{name: "zero", v: 0.0, want: "0"},
		{name: "negative integer", v: -42.0, want: "-42"},
		{name: "large integer without exponent", v: 123456789012.0, want: "123456789012"},
		{name: "1e21 without exponent", v: 1e21, want: "1000000000000000000000"},
		{name: "max safe integer", v: 9007199254740991.0, want: "9007199254740991"},
		{name: "fraction", v: 0.1, want: "0.1"},
		{name: "negative fraction", v: -2.5, want: "-2.5"},
		{name: "small fraction without exponent", v: 0.000001, want: "0.000001"},
		{name: "go int", v: 7, want: "7"},
		{name: "go int64", v: int64(1 << 40), want: "1099511627776"},
		{name: "object as JSON without HTML escaping", v: map[string]any{"b": "<b>&</b>", "a": 1.0}, want: `{"a":1,"b":"<b>&</b>"}`},
		{name: "array as JSON", v: []any{1.0, "x", nil, true}, want: `[1,"x",null,true]`},
		{name: "empty object", v: map[string]any{}, want: `{}`},
		{name: "empty array", v: []any{}, want: `[]`},
		{name: "struct as JSON", v: valInner{OK: true}, want: `{"ok":true}`},
		{name: "typed slice as JSON", v: []string{"a"}, want: `["a"]`},
		{name: "unicode kept", v: map[string]any{"s": "é→"}, want: `{"s":"é→"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, core.Stringify(tt.v))
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	data := map[string]any{
		"a":     map[string]any{"b": "c", "0": "zero-key", "n": nil},
		"items": []any{"x", map[string]any{"id": "y"}, []any{"p", "q"}},
		"s":     "scalar",
		"num":   1.0,
	}
	tests := []struct {
		name   string
		path   string
		want   any
		wantOK bool
	}{
		{name: "key", path: "a.b", want: "c", wantOK: true},
		{name: "whole subtree", path: "a", want: data["a"], wantOK: true},
		{name: "present null", path: "a.n", want: nil, wantOK: true},
		{name: "index", path: "items[0]", want: "x", wantOK: true},
		{name: "dotted index", path: "items.1.id", want: "y", wantOK: true},
		{name: "index then key", path: "items[1].id", want: "y", wantOK: true},
		{name: "nested indexes", path: "items[2][1]", want: "q", wantOK: true},
		{name: "index on a map with that key", path: "a[0]", want: "zero-key", wantOK: true},
		{name: "numeric key on a map", path: "a.0", want: "zero-key", wantOK: true},
		{name: "missing key", path: "a.zzz"},
		{name: "missing root", path: "nope"},
		{name: "index on a map without that key", path: "a[1]"},
		{name: "index out of range", path: "items[3]"},
		{name: "dotted index out of range", path: "items.9"},
		{name: "non-numeric key on array", path: "items.x"},
		{name: "into a string", path: "s.length"},
		{name: "index into a string", path: "s[0]"},
		{name: "into a number", path: "num.x"},
		{name: "into null", path: "a.n.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			segs := core.ParsePath(tt.path)
			require.NotNil(t, segs, tt.path)
			got, ok := core.Lookup(data, segs)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
	t.Run("empty path returns the value", func(t *testing.T) {
		t.Parallel()
		got, ok := core.Lookup("v", nil)
		require.True(t, ok)
		require.Equal(t, "v", got)
	})
	t.Run("negative index segment", func(t *testing.T) {
		t.Parallel()
		got, ok := core.Lookup([]any{"a"}, []core.PathSeg{{Index: -1}})
		require.False(t, ok)
		require.Nil(t, got)
		got, ok = core.Lookup([]any{"a"}, []core.PathSeg{{Key: "-1", Index: -1}})
		require.False(t, ok)
		require.Nil(t, got)
	})
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	k := func(key string) core.PathSeg { return core.PathSeg{Key: key, Index: -1} }
	i := func(n int) core.PathSeg { return core.PathSeg{Index: n} }
	tests := []struct {
		name string
		path string
		want []core.PathSeg // nil: not a path
	}{
		{name: "single key", path: "leadId", want: []core.PathSeg{k("leadId")}},
		{name: "dotted", path: "steps.get_lead.output", want: []core.PathSeg{k("steps"), k("get_lead"), k("output")}},
		{name: "index", path: "items[0]", want: []core.PathSeg{k("items"), i(0)}},
		{name: "index then key", path: "items[12].id", want: []core.PathSeg{k("items"), i(12), k("id")}},
		{name: "nested indexes", path: "m[1][2]", want: []core.PathSeg{k("m"), i(1), i(2)}},
		{name: "dotted numeric key", path: "items.0.id", want: []core.PathSeg{k("items"), k("0"), k("id")}},
		{name: "dash and digits inside keys", path: "get-lead2.x_1", want: []core.PathSeg{k("get-lead2"), k("x_1")}},
		{name: "dollar", path: "$env.x", want: []core.PathSeg{k("$env"), k("x")}},
		{name: "leading index", path: "[0].a", want: []core.PathSeg{i(0), k("a")}},
		{name: "underscore first", path: "_x", want: []core.PathSeg{k("_x")}},
		{name: "empty", path: ""},
		{name: "double dot", path: "a..b"},
		{name: "trailing dot", path: "a."},
		{name: "trailing dot after index", path: "a[0]."},
		{name: "leading dot", path: ".a"},
		{name: "non-numeric index", path: "a[x]"},
		{name: "quoted index", path: `a["x"]`},
		{name: "negative index", path: "a[-1]"},
		{name: "empty index", path: "a[]"},
		{name: "unclosed index", path: "a[0"},
		{name: "leading digit", path: "1abc"},
		{name: "leading dash", path: "-a"},
		{name: "space", path: "a b"},
		{name: "operator", path: "a+b"},
		{name: "expression", path: `a ?? "x"`},
		{name: "call", path: "upper(a)"},
		{name: "stray bracket", path: "a]"},
		{name: "unicode", path: "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, core.ParsePath(tt.path))
		})
	}
}
