package core_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// FuzzParseTemplate: any string either parses or returns a *TemplateError;
// a parsed template renders without panicking and its parts agree.
func FuzzParseTemplate(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "{{x}}", "{{ input.lead.score }}", "a {{b}} c {{d.e[0]}}", "{{steps.get_lead.output.body}}",
		`{{ x ?? "}}" }}`, `{{ {"a": {"b": 1}}.a.b }}`, "{{", "}}", "{{}}", "{{ 1 + }}", "{{a}}}", "{{{{a}}}}",
		"{{ upper(name) }}", "{{secrets.token}}", "{{ steps['x'].output }}", "{{ 1..10 | map(# * 2) }}",
		"{{\"\\\"}}\"}}", "{{ `raw }}` }}", "{{item}} {{index}}", "{{ len(input) > 0 ? 'a' : 'b' }}",
	} {
		f.Add(seed)
	}
	scope := benchScope{data: map[string]any{
		"input": map[string]any{"lead": map[string]any{"score": 72.0}, "list": []any{1.0, "x"}},
		"steps": map[string]any{"get_lead": map[string]any{"output": map[string]any{"body": "b"}}},
		"x":     1.0, "name": "ada",
	}}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := core.ParseTemplate(src)
		if err != nil {
			var te *core.TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TemplateError: %v", err, err)
			}
			return
		}
		if tpl.String() != src {
			t.Fatalf("String() = %q, want %q", tpl.String(), src)
		}
		_ = tpl.Refs()
		v, err := tpl.Render(context.Background(), scope)
		if err == nil && !tpl.Whole() {
			if _, ok := v.(string); !ok {
				t.Fatalf("a template with text renders to a string, got %T", v)
			}
		}
		if !core.HasTemplate(src) && (err != nil || v != src) {
			t.Fatalf("a string without {{ renders to itself, got %v, %v", v, err)
		}
	})
}

// FuzzValidateDocument: any document is parsed and validated without panic;
// problems always come as a *sdk.ValidationError with messages, and a
// position, when a problem has one, lies within the document (JSON or YAML).
// A YAML problem with a path always has a position.
func FuzzValidateDocument(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/invalid/*")
	examples, _ := filepath.Glob("../examples/*.json")
	for _, p := range append(seeds, examples...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"name": "x", "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`))
	f.Add([]byte("name: y\nsteps: [{id: a, type: WAIT, config: {duration: 1}}]\n"))
	f.Add([]byte(`{"name": "x", "steps": [{"id": "a", "type": "FOR_EACH", "config": {"items": [1], "step": {"id": "b", "type": "PARALLEL", "config": {"steps": [{"id": "c", "type": "WAIT", "config": {"duration": 1}}]}}}}]}`))
	f.Add([]byte("---\r\nname: y\r\nsteps:\r\n  - id: a\r\n    type: WAIT\r\n    config:\t{duration: 1, until: x}\r\n  -\r\n"))
	f.Add([]byte("\xef\xbb\xbfname: é\nsteps:\n  - |\n    literal\n  - {id: \"ü\", type: WAIT, <<: {config: {duration: .inf}}}\n? colour\n: red\n"))
	f.Add([]byte("name: y\nsteps:\n  - id: a\n    type: call\n    config: {url: x, url: y}\n...\n---\nname: [z]\n"))
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, err := eng.ValidateDocument(context.Background(), data)
		if err == nil {
			if wf == nil {
				t.Fatal("valid document without a workflow")
			}
			return
		}
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %T is not a *sdk.ValidationError: %v", err, err)
		}
		if len(ve.Problems) == 0 {
			t.Fatal("a ValidationError without problems")
		}
		doc := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		trimmed := bytes.TrimSpace(doc)
		isYAML := len(trimmed) > 0 && trimmed[0] != '{' && trimmed[0] != '['
		lines := bytes.SplitAfter(doc, []byte("\n"))
		for _, p := range ve.Problems {
			if p.Message == "" {
				t.Fatalf("problem without a message at %q", p.Path)
			}
			if p.Line == 0 {
				if isYAML && p.Path != "" {
					t.Fatalf("YAML problem without a position: %v", p)
				}
				continue
			}
			if p.Line < 1 || p.Line > len(lines) || p.Column < 1 || p.Column > len(lines[p.Line-1])+1 {
				t.Fatalf("%v lies outside the document (%d lines)", p, len(lines))
			}
		}
	})
}

// FuzzCompileExpr: any expression compiles or fails with an *ExprError, and a
// compiled one evaluates over plain data without panicking or hanging.
func FuzzCompileExpr(f *testing.F) {
	for _, seed := range []string{
		"score * 2", "a.b.c", "x ?? 5", "count(items, # > 1)", "1..1000000 | filter(# > 0) | len()",
		`repeat("a", 1000000)`, "((((((1))))))", "steps.a.output.v + 1", `{"a": [1, 2]}.a[1]`, "",
		"let x = 1; x + 1", "items | map(#.id) | join(',')", "type == 'lead' && date != nil",
	} {
		f.Add(seed)
	}
	env := map[string]any{"score": 72.0, "a": map[string]any{"b": map[string]any{"c": 1.0}}, "items": []any{1.0, 2.0, 3.0},
		"steps": map[string]any{"a": map[string]any{"output": map[string]any{"v": 1.0}}}, "type": "lead"}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := core.CompileExpr(src)
		if err != nil {
			var ee *core.ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not an *ExprError: %v", err, err)
			}
			return
		}
		_, _ = e.Eval(env)
	})
}
