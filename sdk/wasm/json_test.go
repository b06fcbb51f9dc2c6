package wasm

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonSamples are valid and invalid JSON texts on which decodeJSON must agree
// with encoding/json.
var jsonSamples = []string{
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `12345678901234`, `123456789012345`, `-123456789012345`,
	`1234567890123456`, `12345678901234567890`, `1.5`, `-0.25e-3`, `1E3`, `1e+2`, `6.02214076e23`, `1e400`, `-1e400`,
	`4.9e-324`, `""`, `"hello"`, `"héllo wörld"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u4e2d\ud83d\ude00"`,
	`"\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\udc00\ud800"`, `"\uDEAD"`, "\"\xff\xfe\"", "\"a\xc3\"", "\"\xed\xa0\x80\"",
	`"a long string of plain ASCII text, longer than eight bytes"`, `"12345678\"9"`, `"1234567\u00e9"`,
	`[]`, `{}`, `[1,"a",null,true,{"k":[]}]`, `{"a":1,"b":{"c":[1,2,{"d":null}]},"a":2}`, ` { "a" : [ 1 , 2 ] } `,
	"\t\n\r [1]\n", `{"":""}`, `{"é\n":"x"}`,
	// invalid
	``, ` `, `nul`, `nulll`, `tru`, `truex`, `-`, `01`, `1.`, `.5`, `+1`, `1e`, `1e+`, `0x10`, `NaN`, `Infinity`,
	`"abc`, `"a\"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", "\"a\x00b\"", `[1,]`, `[1 2]`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{a:1}`, `{"a":1`, `[`, `]`, `}`, `1 2`, `[] []`, "\xef\xbb\xbf1", `'a'`,
}

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	samples := append(jsonSamples,
		strings.Repeat("[", 10000)+strings.Repeat("]", 10000),
		strings.Repeat("[", 10001)+strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001),
	)
	for _, s := range samples {
		checkDecode(t, []byte(s))
	}
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(b, &want)
	got, err := decodeJSON(b)
	if wantErr != nil {
		require.Error(t, err, "%q: encoding/json says %v", b, wantErr)
		return
	}
	require.NoError(t, err, "%q", b)
	require.Equal(t, want, got, "%q", b)
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

// TestDecodeJSONCopiesStrings: the request buffer is reused for the next call.
func TestDecodeJSONCopiesStrings(t *testing.T) {
	b := []byte(`{"key":"a value longer than eight bytes"}`)
	v, err := decodeJSON(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 'x'
	}
	require.Equal(t, map[string]any{"key": "a value longer than eight bytes"}, v)
}

type point struct {
	X int `json:"x"`
}

type upper string

func (u upper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(u))) }

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"bool", true},
		{"string", "hello"},
		{"escapes", "quote \" backslash \\ newline \n tab \t nul \x00 del \x7f <b>&amp;</b> \u2028"},
		{"long and escaped late", "0123456789abcdef0123456789abcdef\""},
		{"non-ASCII", "héllo wörld 中文 😀"},
		{"invalid UTF-8", "a\xffb\xc3"},
		{"float", 1.5},
		{"integral float", 3.0},
		{"negative zero", math.Copysign(0, -1)},
		{"tiny float", 1e-7},
		{"huge float", 1e21},
		{"ints", []any{int(-3), int64(1 << 60), int32(7), uint64(1 << 63)}},
		{"map sorted", map[string]any{"b": 1.0, "a": []any{"x", nil}, "c": map[string]any{}}},
		{"nil map", map[string]any(nil)},
		{"nil slice", []any(nil)},
		{"empty slice", []any{}},
		{"strings", []string{"a", "b\""}},
		{"nil strings", []string(nil)},
		{"struct", point{X: 2}},
		{"marshaler", upper("abc")},
		{"nested others", map[string]any{"p": &point{X: 1}, "raw": json.RawMessage(`{"z": 1}`), "f32": float32(0.1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.v)
			require.NoError(t, err)
			got, err := appendJSON([]byte("prefix"), tt.v, 0)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(got), "prefix"))
			got = got[len("prefix"):]
			require.True(t, json.Valid(got), "%s", got)
			require.JSONEq(t, string(want), string(got))
			if !strings.ContainsAny(string(want), `\`) {
				require.Equal(t, string(want), string(got), "same bytes when nothing is escaped")
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for name, v := range map[string]any{
		"NaN":      math.NaN(),
		"Inf":      []any{math.Inf(1)},
		"func":     map[string]any{"f": func() {}},
		"channel":  make(chan int),
		"cyclic":   cyclic,
		"deep NaN": map[string]any{"a": map[string]any{"b": math.NaN()}},
	} {
		t.Run(name, func(t *testing.T) {
			_, want := json.Marshal(v)
			require.Error(t, want)
			_, err := appendJSON(nil, v, 0)
			require.Error(t, err)
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "0123456789", "\"\\\n\x00", "héllo", "a\xffb", "\xed\xa0\x80", "<>&\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		var back, want string
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &want))
		require.Equal(t, want, back)
	})
}
