package sdk

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type assignInner struct {
	K string         `json:"k"`
	M map[string]any `json:"m"`
}

type assignEmbedded struct {
	E int `json:"e"`
}

type assignPtrEmbedded struct {
	PE string `json:"pe"`
}

type assignName string

type assignTarget struct {
	assignEmbedded
	*assignPtrEmbedded
	S    string                `json:"s"`
	Name assignName            `json:"name"`
	I    int                   `json:"i"`
	U8   uint8                 `json:"u8"`
	F    float64               `json:"f"`
	F32  float32               `json:"f32"`
	B    bool                  `json:"b"`
	P    *int                  `json:"p"`
	PP   **string              `json:"pp"`
	L    []assignInner         `json:"l"`
	M    map[assignName]*int   `json:"m"`
	MM   map[string][]any      `json:"mm"`
	Any  any                   `json:"any"`
	In   assignInner           `json:"in"`
	IP   *assignInner          `json:"ip"`
	Q    int                   `json:"q,string"`
	Bs   []byte                `json:"bs"`
	T    time.Time             `json:"t"`
	Arr  [2]int                `json:"arr"`
	Err  error                 `json:"err"`
	Raw  json.RawMessage       `json:"raw"`
	Keys map[int]string        `json:"keys"`
	Skip string                `json:"-"`
	Opt  map[string]assignName `json:"opt,omitempty"`
}

// slowDecode is DecodeValue by encoding/json alone, as it was before assign.
func slowDecode(data Value, v any) error {
	if err := CheckShape(data, reflect.TypeOf(v).Elem(), false); err != nil {
		return err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// The direct path gives what encoding/json gives, for every kind of value a
// host or a guest may hand a component (Go ints, json.Number, float32,
// invalid UTF-8…), and declines what it does not know.
func TestAssignMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	seven := 7
	tests := []struct {
		name   string
		data   map[string]any
		direct bool // taken by assign, not encoding/json
	}{
		{"plain fields", map[string]any{"s": "x", "name": "n", "i": 3.0, "u8": 255.0, "f": 0.1, "b": true}, true},
		{"Go integers", map[string]any{"i": int64(-9007199254740992), "u8": uint(7), "f": 5, "f32": int32(3)}, true},
		{"json.Number", map[string]any{"i": json.Number("12"), "f": json.Number("0.1"), "f32": json.Number("0.1")}, false},
		{"float32 field from a float64", map[string]any{"f32": 1.0000000596046447752}, true},
		{"float32 value", map[string]any{"f": float32(0.1)}, false},
		{"negative zero", map[string]any{"f": math.Copysign(0, -1), "i": math.Copysign(0, -1), "any": math.Copysign(0, -1)}, true},
		{"pointers", map[string]any{"p": 4.0, "pp": "deep", "ip": map[string]any{"k": "v"}}, true},
		{"nulls", map[string]any{"p": nil, "l": nil, "m": nil, "any": nil, "in": nil, "t": nil, "raw": nil}, false},
		{"nested", map[string]any{"l": []any{map[string]any{"k": "a", "m": map[string]any{"x": []any{1.0, "y", nil, true}}}, map[string]any{}}, "in": map[string]any{"k": "b"}}, true},
		{"maps", map[string]any{"m": map[string]any{"a": 1.0, "b": nil}, "mm": map[string]any{"x": []any{map[string]any{"n": 1}}}, "opt": map[string]any{}}, true},
		{"interface from Go values", map[string]any{"any": map[string]any{"n": 3, "l": []any{int64(4), uint(5)}}}, true},
		{"embedded", map[string]any{"e": 2.0}, true},
		{"embedded pointer", map[string]any{"pe": "x"}, false},
		{"case-insensitive key", map[string]any{"S": "x"}, false},
		{"quoted field", map[string]any{"q": "12"}, false},
		{"bytes", map[string]any{"bs": "aGk="}, false},
		{"time", map[string]any{"t": "2024-01-02T03:04:05Z"}, false},
		{"array", map[string]any{"arr": []any{1.0, 2.0}}, false},
		{"raw", map[string]any{"raw": map[string]any{"b": 1.0, "a": true}}, false},
		{"integer keys", map[string]any{"keys": map[string]any{"1": "one"}}, false},
		{"invalid UTF-8", map[string]any{"s": "a\xffb"}, false},
		{"invalid UTF-8 key", map[string]any{"mm": map[string]any{"\xff": []any{}}}, false},
		{"NaN", map[string]any{"f": math.NaN()}, false},
		{"a Go slice", map[string]any{"any": []string{"a"}}, false},
		{"empty", map[string]any{}, true},
		{"int pointer value", map[string]any{"i": &seven}, false},
		{"unknown field", map[string]any{"nope": 1.0}, false},
		{"wrong type", map[string]any{"s": 1.0}, false},
		{"fraction into an integer", map[string]any{"i": 1.5}, false},
		{"beyond 2^53", map[string]any{"i": int64(1) << 60}, false},
		{"overflow", map[string]any{"u8": 256.0}, false},
		{"float32 out of range", map[string]any{"f32": 1e39}, false},
		{"negative unsigned", map[string]any{"u8": -1.0}, false},
		// Found in review: Go integers beyond 2^53, json.Number's own
		// grammar, float32 from a big Go integer.
		{"int64 beyond 2^53", map[string]any{"i": int64(9007199254740993)}, false},
		{"json.Number beyond 2^53", map[string]any{"i": json.Number("9007199254740993")}, false},
		{"json.Number 1.0 into an int", map[string]any{"i": json.Number("1.0")}, false},
		{"json.Number not JSON", map[string]any{"f": json.Number("0x1p4"), "any": json.Number("+1")}, false},
		{"float32 from a big int", map[string]any{"f32": int64(1<<60 + 3<<36 - 1)}, false},
		{"float32 from an int", map[string]any{"f32": int64(1<<24 + 1)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fast, slow assignTarget
			fastErr := DecodeValue(tt.data, &fast)
			slowErr := slowDecode(tt.data, &slow)
			require.Equal(t, slowErr == nil, fastErr == nil, "fast %v, slow %v", fastErr, slowErr)
			if slowErr == nil {
				require.Equal(t, slow, fast)
			}
			var direct assignTarget
			took := assign(tt.data, reflect.ValueOf(&direct).Elem())
			require.Equal(t, tt.direct, took)
			if took {
				require.NoError(t, CheckShape(tt.data, reflect.TypeFor[assignTarget](), false), "assign takes only what CheckShape accepts")
			}
		})
	}
}

// Field shapes where the field rules must be encoding/json's (found in
// review): a tag name encoding/json refuses (the Go name then), ",string" on
// an unnamed pointer, a json.Number field.
func TestAssignFieldRules(t *testing.T) {
	t.Parallel()
	type target struct {
		X int         `json:"a'b"`
		P *int        `json:"p,string"`
		N json.Number `json:"n"`
		O int         `json:"ok"`
	}
	for _, data := range []map[string]any{
		{"a'b": 1.0}, {"X": 2.0}, {"p": 5.0}, {"p": "5"}, {"n": "abc"}, {"n": "12"}, {"ok": 3.0},
	} {
		var fast, slow target
		fastErr := DecodeValue(data, &fast)
		slowErr := slowDecode(data, &slow)
		require.Equal(t, slowErr == nil, fastErr == nil, "%v: fast %v, slow %v", data, fastErr, slowErr)
		require.Equal(t, slow, fast, "%v", data)
	}
}

// A target with values already set is decoded by encoding/json, which keeps
// them where the data says nothing and adds to maps that are there.
func TestDecodeValueKeepsDefaults(t *testing.T) {
	t.Parallel()
	v := assignTarget{S: "default", MM: map[string][]any{"kept": {1.0}}}
	require.NoError(t, DecodeValue(map[string]any{"i": 1.0, "mm": map[string]any{"new": []any{}}}, &v))
	require.Equal(t, "default", v.S)
	require.Equal(t, 1, v.I)
	require.Equal(t, map[string][]any{"kept": {1.0}, "new": {}}, v.MM)
}

func BenchmarkDecodeValue(b *testing.B) {
	type lead struct {
		ID     string         `json:"id"`
		Email  string         `json:"email"`
		Name   string         `json:"name"`
		Phone  string         `json:"phone"`
		Score  float64        `json:"score"`
		Tags   []string       `json:"tags"`
		Extra  map[string]any `json:"extra"`
		Active bool           `json:"active"`
	}
	data := map[string]any{"id": "l-1", "email": " Ada@Example.com ", "name": "ada lovelace", "phone": "+1 (555) 010-0000",
		"score": 72.0, "tags": []any{"a", "b"}, "extra": map[string]any{"source": "web"}, "active": true}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			var l lead
			if err := DecodeValue(data, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var l lead
			if err := slowDecode(data, &l); err != nil {
				b.Fatal(err)
			}
		}
	})
}
