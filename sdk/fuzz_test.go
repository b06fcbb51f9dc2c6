package sdk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

type fuzzEmbedded struct {
	E string `json:"e"`
}

type fuzzNested struct {
	K string `json:"k"`
	V []int  `json:"v"`
}

// fuzzTarget has assorted field types. It avoids the shapes for which
// DecodeValue has known bugs (see TestDecodeValueMatchesEncodingJSON).
type fuzzTarget struct {
	fuzzEmbedded
	S     string          `json:"s"`
	B     bool            `json:"b"`
	I     int             `json:"i"`
	I8    int8            `json:"i8"`
	U16   uint16          `json:"u16"`
	I64   int64           `json:"i64"`
	F     float64         `json:"f"`
	F32   float32         `json:"f32"`
	P     *int            `json:"p"`
	L     []string        `json:"l"`
	A     [2]int          `json:"a"`
	M     map[string]int  `json:"m"`
	Any   any             `json:"any"`
	Raw   json.RawMessage `json:"raw"`
	T     time.Time       `json:"t"`
	N     *fuzzNested     `json:"n"`
	NS    []fuzzNested    `json:"ns"`
	Plain string
}

func strictDecode(b []byte) (fuzzTarget, error) {
	var v fuzzTarget
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&v)
	return v, err
}

// hasFoldedDuplicateKeys reports whether some object in b has two keys that
// are equal under case folding.
func hasFoldedDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				key := k.(string)
				for _, seen := range keys {
					if strings.EqualFold(seen, key) {
						return true
					}
				}
				keys = append(keys, key)
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return walk()
}

// valueView is v as JSON-shaped data: what the rest of the engine sees.
func valueView(t *testing.T, v fuzzTarget) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// FuzzDecodeValue checks that DecodeValue never panics and that what it
// accepts is what encoding/json's strict Decoder produces.
//
// DecodeValue receives values, not bytes: the bytes were first decoded into
// any, which loses information. So the exact contract checked is
//
//	DecodeValue(v) == strict Decode(json.Marshal(v))
//
// and against the original bytes the results agree except where that first
// step loses information:
//   - number notation: 1.0 and 1e2 decode to the same float64 as 1 and 100, so
//     they fit integer fields, whereas encoding/json refuses such literals for
//     integers (an *UnmarshalTypeError on "number 1.0");
//   - precision: integers beyond 2^53 were rounded to float64, and a float32
//     field gets the float64 rounded again (double rounding, at most one
//     float32 ulp off: 1.0000000596046447752 gives 1.0000001 instead of 1);
//     json.RawMessage is re-encoded (compact, keys sorted);
//     comparing the results as JSON-shaped values absorbs the first two;
//   - duplicate keys: an object decoded into a map keeps only the last of
//     equal keys and loses the order of keys that differ only in case, which
//     encoding/json's case-insensitive field matching depends on. Inputs with
//     keys equal under case folding are not compared with the original bytes.
func FuzzDecodeValue(f *testing.F) {
	for _, seed := range []string{
		`null`, `[]`, `"x"`, `1`, `{}`,
		`{"s": "a", "b": true, "i": -3, "i8": 127, "u16": 65535, "i64": -9007199254740992, "f": 1.5, "f32": 0.1}`,
		`{"p": 4, "l": ["a", "b"], "a": [1, 2], "m": {"x.y": 1}, "any": {"a": [null, true, 1.5]}}`,
		`{"p": null, "l": null, "m": null, "n": null, "t": null, "raw": null, "s": null}`,
		`{"raw": {"b": 1, "a": [1.0, "x"]}, "t": "2024-01-02T03:04:05+01:00"}`,
		`{"n": {"k": "x", "v": [1, 2]}, "ns": [{"k": "y"}, {"v": []}]}`,
		`{"e": "embedded", "Plain": "p", "PLAIN": "q"}`,
		`{"S": "case", "I64": 5}`,
		`{"i": 1.5}`, `{"i": 1.0}`, `{"i": 1e2}`, `{"i8": 300}`, `{"i8": -129}`, `{"u16": -1}`,
		`{"i64": 9007199254740993}`, `{"i64": 1e300}`,
		`{"f32": 1.0000000596046447763}`, `{"f32": 1.0000000596046447752}`, `{"f32": 1e39}`,
		`{"a": [1]}`, `{"a": [1, 2, 3]}`, `{"l": [1]}`, `{"ns": [1]}`,
		`{"t": "yesterday"}`, `{"t": 5}`,
		`{"unknown": 1, "sx": 2}`, `{"s": "a", "s": 1}`, `{"Plain": "a", "plain": "b"}`,
		`{"n": {"k": 1, "v": ["x"], "z": 1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var data any
		if json.Unmarshal(b, &data) != nil {
			return
		}
		var got fuzzTarget
		if err := sdk.DecodeValue(data, &got); err != nil {
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Problems)
			return
		}

		// What the direct path takes, the full check accepts.
		require.NoError(t, sdk.CheckShape(data, reflect.TypeFor[fuzzTarget](), false))

		canonical, err := json.Marshal(data)
		require.NoError(t, err)
		want, err := strictDecode(canonical)
		require.NoError(t, err, "DecodeValue accepted what encoding/json refuses: %s", canonical)
		require.Equal(t, want, got, "input %s", canonical)

		if hasFoldedDuplicateKeys(b) {
			return
		}
		orig, err := strictDecode(b)
		if err != nil {
			var ute *json.UnmarshalTypeError
			require.True(t, errors.As(err, &ute) && strings.HasPrefix(ute.Value, "number"),
				"encoding/json refuses %s for a reason other than number notation: %v", b, err)
			return
		}
		if orig.F32 != got.F32 {
			// Double rounding: got.F32 is the float64's shortest decimal form
			// rounded to float32 (checked exactly above).
			require.True(t, math.Nextafter32(orig.F32, got.F32) == got.F32, "%v and %v are more than one ulp apart", orig.F32, got.F32)
			orig.F32 = got.F32
		}
		require.Equal(t, valueView(t, orig), valueView(t, got), "input %s", b)
	})
}
