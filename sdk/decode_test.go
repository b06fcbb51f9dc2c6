package sdk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

// Meta is exported so that encoding/json can allocate it when it is embedded
// through a pointer.
type Meta struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

type address struct {
	Street string `json:"street"`
	City   string `json:"city"`
}

type contact struct {
	Meta
	Name     string            `json:"name"`
	Age      int               `json:"age"`
	Email    *string           `json:"email"`
	Tags     []string          `json:"tags"`
	Headers  map[string]string `json:"headers"`
	Address  *address          `json:"address"`
	Location [2]float64        `json:"location"`
	Active   bool              `json:"active"`
}

type numbers struct {
	I   int     `json:"i"`
	I8  int8    `json:"i8"`
	I64 int64   `json:"i64"`
	U   uint    `json:"u"`
	U8  uint8   `json:"u8"`
	F   float64 `json:"f"`
	F32 float32 `json:"f32"`
}

type item struct {
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

type order struct {
	Items []item `json:"items"`
}

type small struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

type tagged struct {
	Internal string `json:"-"`
	Dash     string `json:"-,"`
	Plain    string
	Options  string `json:",omitempty"`
}

type withPtrEmbed struct {
	*Meta
	Name string `json:"name"`
}

// level implements encoding.TextUnmarshaler.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q", b)
	}
	return nil
}

// celsius implements json.Unmarshaler: a number, or a string such as "21C".
type celsius float64

func (c *celsius) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*c = celsius(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if f, err := strconv.ParseFloat(strings.TrimSuffix(s, "C"), 64); err == nil && strings.HasSuffix(s, "C") {
			*c = celsius(f)
			return nil
		}
	}
	return errors.New(`want a number or a string such as "21C"`)
}

type special struct {
	Raw   json.RawMessage `json:"raw"`
	At    time.Time       `json:"at"`
	Level level           `json:"level"`
	Temp  celsius         `json:"temp"`
	Addr  netip.Addr      `json:"addr"`
	Any   any             `json:"any"`
}

func ptr[T any](v T) *T { return &v }

// problemStrings returns the problems of a *ValidationError as strings, or nil
// for a nil error.
func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve, "want a *ValidationError, got %T: %v", err, err)
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func TestDecodeValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     sdk.Value
		into     func() any // returns a pointer to a fresh target
		want     any        // what the pointer points to afterwards, when problems is nil
		problems []string
	}{
		{
			name: "struct with every kind of field",
			data: map[string]any{
				"id": "c1", "version": 2.0,
				"name": "Ada", "age": 36.0, "email": "ada@example.com",
				"tags": []any{"a", "b"}, "headers": map[string]any{"x.y": "1"},
				"address":  map[string]any{"street": "1 Main St", "city": "London"},
				"location": []any{51.5, -0.1}, "active": true,
			},
			into: func() any { return new(contact) },
			want: contact{
				Meta: Meta{ID: "c1", Version: 2},
				Name: "Ada", Age: 36, Email: ptr("ada@example.com"),
				Tags: []string{"a", "b"}, Headers: map[string]string{"x.y": "1"},
				Address:  &address{Street: "1 Main St", City: "London"},
				Location: [2]float64{51.5, -0.1}, Active: true,
			},
		},
		{
			name: "field names fall back to a case-insensitive match like encoding/json",
			data: map[string]any{"NAME": "Ada", "Age": 36.0, "ID": "c1"},
			into: func() any { return new(contact) },
			want: contact{Meta: Meta{ID: "c1"}, Name: "Ada", Age: 36},
		},
		{
			name: "embedded struct through a pointer is allocated",
			data: map[string]any{"id": "m1", "name": "x"},
			into: func() any { return new(withPtrEmbed) },
			want: withPtrEmbed{Meta: &Meta{ID: "m1"}, Name: "x"},
		},
		{
			name: "json tags: dash skips, dash-comma names the field -, no name keeps the Go name",
			data: map[string]any{"-": "d", "Plain": "p", "Options": "o"},
			into: func() any { return new(tagged) },
			want: tagged{Dash: "d", Plain: "p", Options: "o"},
		},
		{
			name:     "a field tagged - is unknown",
			data:     map[string]any{"Internal": "x"},
			into:     func() any { return new(tagged) },
			problems: []string{`Internal: unknown field "Internal" (known: -, Plain, Options)`},
		},
		{
			name: "null leaves every kind of field at its zero value",
			data: map[string]any{
				"name": nil, "age": nil, "email": nil, "tags": nil, "headers": nil,
				"address": nil, "active": nil, "id": nil,
			},
			into: func() any { return new(contact) },
			want: contact{},
		},
		{
			name: "null at the top level",
			data: nil,
			into: func() any { return new(contact) },
			want: contact{},
		},
		{
			name: "map of ints",
			data: map[string]any{"a": 1.0, "b": -2.0},
			into: func() any { return new(map[string]int) },
			want: map[string]int{"a": 1, "b": -2},
		},
		{
			name:     "map values are checked with quoted paths",
			data:     map[string]any{"ok": 1.0, "x.y": "2", "has space": true},
			into:     func() any { return new(map[string]int) },
			problems: []string{`["has space"]: expected an integer, got a boolean`, `["x.y"]: expected an integer, got a string`},
		},
		{
			name: "slice of structs",
			data: []any{map[string]any{"name": "a", "qty": 1.0}, map[string]any{"name": "b"}},
			into: func() any { return new([]item) },
			want: []item{{Name: "a", Qty: 1}, {Name: "b"}},
		},
		{
			name:     "array of the wrong length",
			data:     map[string]any{"location": []any{1.0}},
			into:     func() any { return new(contact) },
			problems: []string{"location: expected an array of 2 elements, got 1"},
		},
		{
			name: "integral numbers into every integer and float type",
			data: map[string]any{
				"i": 3.0, "i8": -128.0, "i64": float64(1 << 53), "u": 7.0, "u8": 255.0,
				"f": 1.5, "f32": 2.0,
			},
			into: func() any { return new(numbers) },
			want: numbers{I: 3, I8: -128, I64: 1 << 53, U: 7, U8: 255, F: 1.5, F32: 2},
		},
		{
			name: "Go ints and json.Number are numbers too",
			data: map[string]any{"i": 3, "i64": int64(-4), "f": json.Number("2.5"), "u": json.Number("9")},
			into: func() any { return new(numbers) },
			want: numbers{I: 3, I64: -4, F: 2.5, U: 9},
		},
		{
			name: "every numeric problem at once",
			data: map[string]any{
				"i": 1.5, "i8": 300.0, "i64": float64(1<<53) * 4, "u": -1.0, "u8": 256.0,
				"f": "1.5", "f32": true,
			},
			into: func() any { return new(numbers) },
			problems: []string{
				"f: expected a number, got a string",
				"f32: expected a number, got a boolean",
				"i: expected an integer, got 1.5",
				"i64: integer 3.602879701896397e+16 out of range",
				"i8: integer 300 out of range",
				"u: expected a non-negative integer, got -1",
				"u8: integer 256 out of range",
			},
		},
		{
			name:     "int8 underflow",
			data:     map[string]any{"i8": -129.0},
			into:     func() any { return new(numbers) },
			problems: []string{"i8: integer -129 out of range"},
		},
		{
			name:     "a string is not an integer",
			data:     map[string]any{"i": "3"},
			into:     func() any { return new(numbers) },
			problems: []string{"i: expected an integer, got a string"},
		},
		{
			name: "every problem at once, each with its path, in key order",
			data: map[string]any{
				"name": 1.0, "age": "old", "tags": []any{"a", 2.0},
				"headers": map[string]any{"x.y": 3.0, "ok": "yes"},
				"address": map[string]any{"city": false, "zip": "N1"},
				"active":  "yes", "colour": "red",
			},
			into: func() any { return new(contact) },
			problems: []string{
				"active: expected true or false, got a string",
				`address.city: expected a string, got a boolean`,
				`address.zip: unknown field "zip" (known: street, city)`,
				"age: expected an integer, got a string",
				`colour: unknown field "colour" (known: id, version, name, age, email, tags, headers, address, location, active)`,
				`headers["x.y"]: expected a string, got a number`,
				"name: expected a string, got a number",
				"tags[1]: expected a string, got a number",
			},
		},
		{
			name: "paths through slices of structs",
			data: map[string]any{"items": []any{
				map[string]any{"name": "a"},
				map[string]any{"name": "b", "qty": 2.0},
				map[string]any{"name": 3.0, "qty": 1.5},
				"four",
			}},
			into: func() any { return new(order) },
			problems: []string{
				"items[2].name: expected a string, got a number",
				"items[2].qty: expected an integer, got 1.5",
				"items[3]: expected an object, got a string",
			},
		},
		{
			name:     "wrong type at the top level has no path",
			data:     "hello",
			into:     func() any { return new(contact) },
			problems: []string{"expected an object, got a string"},
		},
		{
			name:     "an array where an object is expected",
			data:     map[string]any{"address": []any{}},
			into:     func() any { return new(contact) },
			problems: []string{"address: expected an object, got an array"},
		},
		{
			name:     "an object where an array is expected",
			data:     map[string]any{"tags": map[string]any{}},
			into:     func() any { return new(contact) },
			problems: []string{"tags: expected an array, got an object"},
		},
		{
			name: "did you mean: near misses",
			data: map[string]any{"adress": nil, "emal": nil, "hedaers": nil, "nam": nil},
			into: func() any { return new(contact) },
			problems: []string{
				`adress: unknown field "adress" (did you mean "address"?)`,
				`emal: unknown field "emal" (did you mean "email"?)`,
				`hedaers: unknown field "hedaers" (did you mean "headers"?)`,
				`nam: unknown field "nam" (did you mean "name"?)`,
			},
		},
		{
			name: "no suggestion for unrelated names",
			data: map[string]any{"zip": 1.0, "nickname": "x"},
			into: func() any { return new(small) },
			problems: []string{
				`nickname: unknown field "nickname" (known: name, age)`,
				`zip: unknown field "zip" (known: name, age)`,
			},
		},
		{
			name: "raw messages, time, text and json unmarshalers",
			data: map[string]any{
				"raw":   map[string]any{"a": []any{1.0, "x"}},
				"at":    "2024-05-06T07:08:09Z",
				"level": "high",
				"temp":  "21.5C",
				"addr":  "10.0.0.1",
				"any":   []any{1.0, map[string]any{"b": nil}},
			},
			into: func() any { return new(special) },
			want: special{
				Raw:   json.RawMessage(`{"a":[1,"x"]}`),
				At:    time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
				Level: 2,
				Temp:  21.5,
				Addr:  netip.MustParseAddr("10.0.0.1"),
				Any:   []any{1.0, map[string]any{"b": nil}},
			},
		},
		{
			name: "a json.Unmarshaler receives numbers too",
			data: map[string]any{"temp": 20.0},
			into: func() any { return new(special) },
			want: special{Temp: 20},
		},
		{
			name: "errors from text and json unmarshalers carry their path",
			data: map[string]any{"level": "medium", "temp": "warm", "addr": 10.0},
			into: func() any { return new(special) },
			problems: []string{
				"addr: expected a string, got a number",
				`level: unknown level "medium"`,
				`temp: want a number or a string such as "21C"`,
			},
		},
		{
			name: "json.RawMessage at the top level",
			data: map[string]any{"k": []any{true, nil}},
			into: func() any { return new(json.RawMessage) },
			want: json.RawMessage(`{"k":[true,null]}`),
		},
		{
			name: "any accepts everything",
			data: []any{"x", 1.0, nil},
			into: func() any { return new(any) },
			want: []any{"x", 1.0, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.into()
			err := sdk.DecodeValue(tt.data, v)
			if tt.problems != nil {
				require.Equal(t, tt.problems, problemStrings(t, err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, reflect.ValueOf(v).Elem().Interface())
		})
	}
}

func TestDecodeValueTimeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   any
		want string // substring of the message
	}{
		{name: "not a time", at: "yesterday", want: `parsing time`},
		{name: "a number", at: 5.0, want: "Time.UnmarshalJSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s special
			err := sdk.DecodeValue(map[string]any{"at": tt.at, "level": "nope"}, &s)
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Problems, 2, "both problems are reported")
			require.Equal(t, "at", ve.Problems[0].Path)
			require.Contains(t, ve.Problems[0].Message, tt.want)
			require.Equal(t, "level", ve.Problems[1].Path)
		})
	}
}

func TestDecodeValueNeedsNonNilPointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "struct value", v: small{}, want: "sdk: DecodeValue needs a non-nil pointer, got sdk_test.small"},
		{name: "nil pointer", v: (*small)(nil), want: "sdk: DecodeValue needs a non-nil pointer, got *sdk_test.small"},
		{name: "nil", v: nil, want: "sdk: DecodeValue needs a non-nil pointer, got <nil>"},
		{name: "map value", v: map[string]any{}, want: "sdk: DecodeValue needs a non-nil pointer, got map[string]interface {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sdk.DecodeValue(map[string]any{"name": "x"}, tt.v)
			require.EqualError(t, err, tt.want)
			var ve *sdk.ValidationError
			require.False(t, errors.As(err, &ve), "a programming error is not a validation error")
		})
	}
}

func TestInputDecode(t *testing.T) {
	t.Parallel()
	var s small
	in := sdk.Input{Config: map[string]any{"name": "Ada", "age": 36.0}}
	require.NoError(t, in.Decode(&s))
	require.Equal(t, small{Name: "Ada", Age: 36}, s)

	in.Config = map[string]any{"age": "x"}
	require.Equal(t, []string{"age: expected an integer, got a string"}, problemStrings(t, in.Decode(&s)))
}

type templCfg struct {
	URL     string            `json:"url"`
	Count   int               `json:"count"`
	Enabled bool              `json:"enabled"`
	Headers map[string]string `json:"headers"`
	Items   []item            `json:"items"`
	Target  *address          `json:"target"`
	At      time.Time         `json:"at"`
}

func TestCheckConfigShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		config   sdk.Value
		sample   any
		problems []string
	}{
		{
			name: "a whole template stands for a value of any type",
			config: map[string]any{
				"url": "{{input.url}}", "count": "{{ input.n + 1 }}", "enabled": "{{flag}}",
				"headers": "{{input.headers}}", "items": "{{steps.a.output}}",
				"target": "{{input.target}}", "at": "{{now}}",
			},
			sample: templCfg{},
		},
		{
			name: "whole templates inside containers",
			config: map[string]any{
				"headers": map[string]any{"x.y": "{{a}}"},
				"items":   []any{"{{first}}", map[string]any{"name": "{{n}}", "qty": "{{q}}"}},
				"target":  map[string]any{"city": "{{c}}"},
			},
			sample: &templCfg{},
		},
		{
			name:   "the whole config may be a template",
			config: "{{input}}",
			sample: templCfg{},
		},
		{
			name:   "text around a template is a string",
			config: map[string]any{"url": "https://{{host}}/x", "count": "{{n}} items", "enabled": "x{{a}}"},
			sample: templCfg{},
			problems: []string{
				"count: expected an integer, got a string",
				"enabled: expected true or false, got a string",
			},
		},
		{
			name:     "two templates are not one value",
			config:   map[string]any{"count": "{{a}}{{b}}"},
			sample:   templCfg{},
			problems: []string{"count: expected an integer, got a string"},
		},
		{
			name:   "unknown fields are reported even when their value is a template",
			config: map[string]any{"urls": "{{u}}", "items": []any{map[string]any{"nmae": "{{x}}", "qty": "3 {{q}}"}}},
			sample: templCfg{},
			problems: []string{
				`items[0].nmae: unknown field "nmae" (did you mean "name"?)`,
				"items[0].qty: expected an integer, got a string",
				`urls: unknown field "urls" (did you mean "url"?)`,
			},
		},
		{
			name:     "literal values are still checked",
			config:   map[string]any{"count": 1.5, "at": "later"},
			sample:   templCfg{},
			problems: []string{`at: parsing time "later" as "2006-01-02T15:04:05Z07:00": cannot parse "later" as "2006"`, "count: expected an integer, got 1.5"},
		},
		{
			name:   "nil sample checks nothing",
			config: map[string]any{"anything": 1.0},
			sample: nil,
		},
		{
			name:   "nil config is fine",
			config: nil,
			sample: templCfg{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sdk.CheckConfigShape(tt.config, tt.sample)
			require.Equal(t, tt.problems, problemStrings(t, err))
		})
	}
}

func TestCheckShapeTemplatesFlag(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[templCfg]()
	tests := []struct {
		name      string
		templates bool
		problems  []string
	}{
		{name: "templates accepted", templates: true},
		{name: "templates are plain strings", templates: false, problems: []string{
			"count: expected an integer, got a string",
			`items: expected an array, got a string`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]any{"count": "{{n}}", "items": "{{list}}", "url": "{{u}}"}
			require.Equal(t, tt.problems, problemStrings(t, sdk.CheckShape(cfg, typ, tt.templates)))
		})
	}
}

func TestIsWholeTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{name: "name", s: "{{a}}", want: true},
		{name: "spaces and an expression", s: `{{ input.n * 2 }}`, want: true},
		{name: "expression with a map literal", s: `{{ x ?? {} }}`, want: true},
		{name: "two templates", s: "{{a}}{{b}}", want: false},
		{name: "two templates with a space", s: "{{a}} {{b}}", want: false},
		{name: "unclosed", s: "{{", want: false},
		{name: "only closing", s: "}}", want: false},
		{name: "empty", s: "", want: false},
		{name: "text before", s: "x{{a}}", want: false},
		{name: "text after", s: "{{a}}x", want: false},
		{name: "missing close", s: "{{a", want: false},
		{name: "no template", s: "plain", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.IsWholeTemplate(tt.s))
		})
	}
}

// IsWholeTemplate must agree with the engine's template parser
// (core.ParseTemplate + Template.Whole), which skips string literals and
// nested braces inside a placeholder.
func TestIsWholeTemplateAgreesWithEngine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{name: "stray closing brace after", s: "{{a}}}", want: false},
		{name: "nested map literal", s: `{{ {"a": {"b": 1}} }}`, want: true},
		{name: "closing braces in a string literal", s: `{{ x ?? "}}" }}`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.IsWholeTemplate(tt.s))
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"url", "method", "headers", "timeout", "body", "id"}
	tests := []struct {
		name  string
		s     string
		known []string
		want  string
	}{
		{name: "case only", s: "URL", known: known, want: "url"},
		{name: "one edit in a short name", s: "uri", known: known, want: "url"},
		{name: "one edit", s: "metod", known: known, want: "method"},
		{name: "transposition in a long name", s: "timeuot", known: known, want: "timeout"},
		{name: "two edits in a long name", s: "hedaers", known: known, want: "headers"},
		{name: "too far", s: "payload", known: known, want: ""},
		{name: "unrelated short name", s: "zip", known: known, want: ""},
		{name: "no candidates", s: "url", known: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.Suggest(tt.s, tt.known))
		})
	}
}

func TestSuggestShortNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		s     string
		known []string
	}{
		{name: "one letter", s: "x", known: []string{"y"}},
		{name: "two letters", s: "id", known: []string{"ip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, sdk.Suggest(tt.s, tt.known))
		})
	}
}

func TestTypeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "nil", v: nil, want: "null"},
		{name: "bool", v: true, want: "a boolean"},
		{name: "float64", v: 1.0, want: "a number"},
		{name: "json.Number", v: json.Number("1"), want: "a number"},
		{name: "int", v: 1, want: "a number"},
		{name: "string", v: "s", want: "a string"},
		{name: "array", v: []any{}, want: "an array"},
		{name: "object", v: map[string]any{}, want: "an object"},
		{name: "other", v: struct{}{}, want: "struct {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sdk.TypeName(tt.v))
		})
	}
}

// Known gaps between DecodeValue and encoding/json, each a bug.
type (
	shadowInner struct{ Name int }
	// shadowOuter.Name dominates the embedded shadowInner.Name for encoding/json.
	shadowOuter struct {
		Name string
		shadowInner
	}
	ambA struct{ X int }
	ambB struct{ X int }
	// ambiguous.X is ambiguous: encoding/json ignores it, so it is an unknown field.
	ambiguous struct {
		ambA
		ambB
	}
	stringOpt struct {
		N int `json:"n,string"`
	}
	byteArray struct {
		B [2]byte `json:"b"`
	}
	nullables struct {
		A    [2]int     `json:"a"`
		Addr netip.Addr `json:"addr"`
	}
)

func TestDecodeValueMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bug  string
		json string
		into func() any
	}{
		{
			name: "outer field shadows an embedded one",
			bug:  "sdk/decode.go:547 structFields lets a later embedded field overwrite an outer field of the same name (want encoding/json's dominance rules)",
			json: `{"Name": "x"}`,
			into: func() any { return new(shadowOuter) },
		},
		{
			name: "ambiguous embedded fields are unknown",
			bug:  "sdk/decode.go:547 ambiguous fields at the same depth are accepted, then silently dropped by json.Unmarshal",
			json: `{"X": 1}`,
			into: func() any { return new(ambiguous) },
		},
		{
			name: "the ,string option",
			bug:  `sdk/decode.go:530 the ",string" tag option is ignored: "12" is refused, 12 fails later without a path`,
			json: `{"n": "12"}`,
			into: func() any { return new(stringOpt) },
		},
		{
			name: "byte arrays are arrays, not base64",
			bug:  "sdk/decode.go:365 [N]byte is treated like []byte (base64); encoding/json wants an array of numbers",
			json: `{"b": [1, 2]}`,
			into: func() any { return new(byteArray) },
		},
		{
			name: "null into arrays and text unmarshalers",
			bug:  "sdk/decode.go:307,362 null is refused for arrays and encoding.TextUnmarshaler types; encoding/json leaves them unchanged",
			json: `{"a": null, "addr": null}`,
			into: func() any { return new(nullables) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_ = tt.bug
			want := tt.into()
			dec := json.NewDecoder(strings.NewReader(tt.json))
			dec.DisallowUnknownFields()
			wantErr := dec.Decode(want)

			var data any
			require.NoError(t, json.Unmarshal([]byte(tt.json), &data))
			got := tt.into()
			err := sdk.DecodeValue(data, got)
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// Problems that only json.Unmarshal detects come back as one problem without
// a path; CheckShape should find them.
func TestDecodeValueProblemsHavePaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data any
		into func() any
		path string
	}{
		{
			name: "invalid base64",
			data: map[string]any{"b": "!!"},
			into: func() any { return new(struct{ B []byte }) },
			path: "b",
		},
		{
			name: "map with integer keys",
			data: map[string]any{"m": map[string]any{"abc": 1.0}},
			into: func() any { return new(struct{ M map[int]string }) },
			path: "m.abc",
		},
		{
			name: "float32 overflow",
			data: map[string]any{"f": 1e39},
			into: func() any { return new(struct{ F float32 }) },
			path: "f",
		},
		{
			name: "Go integers other than int and int64",
			data: map[string]any{"n": int32(3)},
			into: func() any { return new(struct{ N int }) },
			path: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sdk.DecodeValue(tt.data, tt.into())
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Problems, 1)
			require.Equal(t, tt.path, ve.Problems[0].Path)
			require.NotContains(t, ve.Problems[0].Message, "json:")
		})
	}
}
