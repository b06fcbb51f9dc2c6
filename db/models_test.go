package db

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weftworks/weft/sdk"
)

func TestStorable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`"plain"`, `"plain"`},
		{`"a\u0000b"`, `"a\ufffdb"`},
		{`"\u0000\u0000"`, `"\ufffd\ufffd"`},
		{`{"\u0000":1}`, `{"\ufffd":1}`},
		{`"\\u0000"`, `"\\u0000"`},                   // a backslash, then the text u0000
		{`"\\\u0000"`, `"\\\ufffd"`},                 // a backslash, then NUL
		{`"\\\\u0000 \u0000"`, `"\\\\u0000 \ufffd"`}, // two backslashes and text; then NUL
	} {
		if got := string(storable([]byte(c.in))); got != c.want {
			t.Errorf("storable(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// Whatever a string holds, its stored form decodes to it with NUL replaced.
func FuzzStorable(f *testing.F) {
	for _, s := range []string{"", "a\x00b", `\u0000`, "\\\x00", `\\u0000` + "\x00", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var plain, stored string
		if err := json.Unmarshal(b, &plain); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(storable(b), &stored); err != nil {
			t.Fatalf("storable(%s) is not JSON: %v", b, err)
		}
		if want := strings.ReplaceAll(plain, "\x00", "\uFFFD"); stored != want {
			t.Fatalf("stored %q, want %q", stored, want)
		}
	})
}

// encode must write what encoding/json writes (sorted keys, the same
// escapes), so that records read the same whichever encoder wrote them and
// storable's \u0000 rule holds.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b", "<&>", "\u2028\u2029", "\xff\xfe", "tab\there", `quote"back\`, "é😀"} {
		f.Add(s, int64(42), 1.5, true)
	}
	f.Fuzz(func(t *testing.T, s string, i int64, x float64, b bool) {
		v := map[string]any{
			s:   []any{s, i, x, b, nil, map[string]any{"k": s, s + "2": []string{s}}},
			"n": json.Number("12.50"), "i": i, "f": x, "raw": json.RawMessage(`{"z":1,"a":2}`),
			"err": &sdk.Error{Code: "HTTP_503", Message: s},
		}
		want, wantErr := json.Marshal(v)
		got, err := encode(v)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("encode error %v, encoding/json error %v", err, wantErr)
		}
		if string(got) != string(want) {
			t.Fatalf("encode:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}
