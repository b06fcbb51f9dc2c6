package db

import (
	"encoding/json"
	"strings"
	"testing"
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
