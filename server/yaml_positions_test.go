package server_test

import (
	"net/http"
	"testing"

	"github.com/weftworks/weft/server"
)

// TestYAMLProblemPositions checks that a YAML definition's problems come
// back with their line and column, as a JSON definition's do: from the
// validate endpoint in "problems", and from create in the error's "details".
func TestYAMLProblemPositions(t *testing.T) {
	e := newEnv(t, databases(t)["sqlite"](t))
	ed := e.keys[server.RoleEditor]
	doc := "# a YAML definition\n" +
		"name: yaml problems\n" +
		"steps:\n" +
		"  - id: a\n" +
		"    type: HTTP\n" +
		"    config: {}\n" +
		"  - {id: b, type: WAIT, dependsOn: [nope], config: {duration: 1}}\n"
	want := []struct {
		path         string
		line, column float64
	}{
		{"steps[0].type", 5, 5},
		{"steps[1].dependsOn[0]", 7, 37},
	}
	check := func(what string, problems []any) {
		t.Helper()
		if len(problems) != len(want) {
			t.Fatalf("%s: want %d problems, got %v", what, len(want), problems)
		}
		for i, w := range want {
			p := problems[i].(map[string]any)
			if p["path"] != w.path || p["line"] != w.line || p["column"] != w.column || p["message"] == "" {
				t.Fatalf("%s: problem %d is %v, want %s at line %v, column %v", what, i, p, w.path, w.line, w.column)
			}
		}
	}

	status, _, got := e.call("POST", "/api/v1/workflows/validate", ed, doc, "Content-Type", "application/yaml")
	if status != http.StatusOK || got["valid"] != false {
		t.Fatalf("validate: %d %v", status, got)
	}
	check("validate", got["problems"].([]any))

	status, _, got = e.call("POST", "/api/v1/workflows", ed, doc, "Content-Type", "application/yaml")
	if status != http.StatusBadRequest {
		t.Fatalf("create: %d %v", status, got)
	}
	details, _ := got["error"].(map[string]any)["details"].([]any)
	check("create", details)

	// A syntax error has a position too.
	status, _, got = e.call("POST", "/api/v1/workflows/validate", ed, "name: x\nsteps: [\n", "Content-Type", "application/yaml")
	if status != http.StatusOK || got["valid"] != false {
		t.Fatalf("validate a syntax error: %d %v", status, got)
	}
	p := got["problems"].([]any)[0].(map[string]any)
	if p["line"] == nil || p["column"] == nil {
		t.Fatalf("a YAML syntax error without a position: %v", p)
	}
}
