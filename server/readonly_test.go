package server

import (
	"encoding/json"
	"testing"
)

func TestBlankReadOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`{"name": "a", "createdAt": "x", "steps": []}`, `{"name": "a"                  , "steps": []}`},
		{`{"createdAt": "x", "name": "a"}`, `{                  "name": "a"}`},
		{`{"name": "a", "updatedAt": "y"}`, `{"name": "a"                  }`},
		{`{"createdAt": 1, "updatedAt": {"a": [1, ","]}}`, `{                                            }`},
		{`{"name": "createdAt", "nested": {"createdAt": 1}}`, `{"name": "createdAt", "nested": {"createdAt": 1}}`},
		{"{\n  \"name\": \"a\",\n  \"createdAt\": \"x\",\n  \"steps\": []\n}", "{\n  \"name\": \"a\" \n                  ,\n  \"steps\": []\n}"},
		{`name: a`, `name: a`},
		{`{"name": `, `{"name": `},
	} {
		got := string(blankReadOnly([]byte(c.in)))
		if len(got) != len(c.in) {
			t.Errorf("%s: length changed: %q", c.in, got)
		}
		if json.Valid([]byte(c.in)) && !json.Valid([]byte(got)) {
			t.Errorf("%s: no longer JSON: %q", c.in, got)
		}
		var m map[string]any
		if json.Unmarshal([]byte(got), &m) == nil {
			if _, ok := m["createdAt"]; ok {
				t.Errorf("%s: createdAt kept: %q", c.in, got)
			}
		}
		if got != c.want {
			t.Errorf("blankReadOnly(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzBlankReadOnly(f *testing.F) {
	f.Add(`{"name": "a", "createdAt": "x", "steps": [{"id": "s"}], "updatedAt": "y"}`)
	f.Add(`{"createdAt":"\"}","a":1}`)
	f.Fuzz(func(t *testing.T, in string) {
		got := blankReadOnly([]byte(in))
		if len(got) != len(in) {
			t.Fatalf("length changed: %q → %q", in, got)
		}
		var before map[string]json.RawMessage
		if json.Unmarshal([]byte(in), &before) != nil {
			return
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(got, &after); err != nil {
			t.Fatalf("%q → %q: %v", in, got, err)
		}
		for k, v := range before {
			if readOnlyFields[k] {
				if _, ok := after[k]; ok {
					t.Fatalf("%q → %q: %s kept", in, got, k)
				}
				continue
			}
			if string(after[k]) != string(v) {
				t.Fatalf("%q → %q: %s changed", in, got, k)
			}
		}
	})
}
