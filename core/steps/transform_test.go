package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// transformStep returns a one-step workflow with a DATA_TRANSFORM whose source
// and operations are JSON.
func transformStep(source, ops string) string {
	cfg := `{"operations": ` + ops
	if source != "" {
		cfg += `, "source": ` + source
	}
	return wf(`{"id": "tx", "type": "DATA_TRANSFORM", "config": ` + cfg + `}}`)
}

// upperTransform upper-cases every string value of an object.
var upperTransform = sdk.NewTransform("upper", func(_ context.Context, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if s, ok := v.(string); ok {
			v = strings.ToUpper(s)
		}
		out[k] = v
	}
	return out, nil
})

// failingTransform rejects every value with a code of its own.
var failingTransform = sdk.NewTransform("fails", func(_ context.Context, in any) (any, error) {
	return nil, sdk.Errorf("NORMALIZE_FAILED", "cannot normalise %v", in)
})

// flakyTransform fails, retryably, every call but each third.
type flakyTransform struct{ calls *atomic.Int32 }

func (f *flakyTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "flaky", New: func() sdk.Component { return f }}
}

func (f *flakyTransform) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	if f.calls.Add(1)%3 != 0 {
		return nil, &sdk.Error{Code: "UPSTREAM_BUSY", Message: "busy", Retryable: true, RetryAfter: time.Millisecond, Details: map[string]any{"n": 1}}
	}
	return in, nil
}

// suffixTransform appends its configured suffix to a string.
type suffixTransform struct {
	Suffix string `json:"suffix"`
}

func (s *suffixTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "suffix", New: func() sdk.Component { return &suffixTransform{} }}
}

func (s *suffixTransform) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	str, ok := in.(string)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "want a string")
	}
	return str + s.Suffix, nil
}

func TestDataTransformOperations(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{upperTransform, &suffixTransform{}}})
	lead := `{"email": "Ada@Example.com", "name": "ada LOVELACE", "score": 36, "state": " ca ",
		"address": {"zip": "94107", "city": "SF"}, "internal": 1, "tags": ["a"]}`
	tests := []struct {
		name   string
		source string // JSON; "" uses the input
		ops    string
		input  any
		want   string // JSON
	}{
		{
			name:   "map to nested paths",
			source: lead,
			ops:    `[{"type": "map", "mapping": {"contact.email": "email", "contact.zip": "address.zip", "firstTag": "tags[0]", "absent": "nope.nope"}}]`,
			want:   `{"contact": {"email": "Ada@Example.com", "zip": "94107"}, "firstTag": "a"}`,
		},
		{
			name:   "map with keep",
			source: `{"a": 1, "b": {"c": 2}}`,
			ops:    `[{"type": "map", "mapping": {"x.y": "b.c"}, "keep": true}]`,
			want:   `{"a": 1, "b": {"c": 2}, "x": {"y": 2}}`,
		},
		{
			name:   "rename",
			source: `{"email": "a@b.c", "score": 1}`,
			ops:    `[{"type": "rename", "from": "email", "to": "contactEmail"}]`,
			want:   `{"contactEmail": "a@b.c", "score": 1}`,
		},
		{
			name:   "rename nested to nested",
			source: `{"address": {"zip": "1", "city": "x"}}`,
			ops:    `[{"type": "rename", "from": "address.zip", "to": "postal.code"}]`,
			want:   `{"address": {"city": "x"}, "postal": {"code": "1"}}`,
		},
		{
			name:   "rename of a missing field changes nothing",
			source: `{"a": 1}`,
			ops:    `[{"type": "rename", "from": "b", "to": "c"}]`,
			want:   `{"a": 1}`,
		},
		{
			name:   "calculate from record fields",
			source: `{"score": 36, "bonus": 4}`,
			ops:    `[{"type": "calculate", "field": "priority", "expression": "score * 2 + bonus"}]`,
			want:   `{"score": 36, "bonus": 4, "priority": 76}`,
		},
		{
			name:   "calculate into a nested field, strings and booleans",
			source: `{"given": "Ada", "family": "Lovelace", "score": 72}`,
			ops:    `[{"type": "calculate", "field": "meta.full", "expression": "given + ' ' + family"}, {"type": "calculate", "field": "meta.hot", "expression": "score >= 70"}]`,
			want:   `{"given": "Ada", "family": "Lovelace", "score": 72, "meta": {"full": "Ada Lovelace", "hot": true}}`,
		},
		{
			name:   "calculate sees earlier operations",
			source: `{"n": 2}`,
			ops:    `[{"type": "calculate", "field": "m", "expression": "n * 10"}, {"type": "calculate", "field": "k", "expression": "m + 1"}]`,
			want:   `{"n": 2, "m": 20, "k": 21}`,
		},
		{
			name:  "calculate sees input and variables",
			input: map[string]any{"factor": 3, "score": 5},
			ops:   `[{"type": "calculate", "field": "r", "expression": "score * factor + input.score + variables.offset + offset"}]`,
			want:  `{"factor": 3, "score": 5, "r": 40}`,
		},
		{name: "format upper", source: `{"state": "ca"}`, ops: `[{"type": "format", "field": "state", "format": "upper"}]`, want: `{"state": "CA"}`},
		{name: "format UPPER spelled upper case", source: `{"state": "ca"}`, ops: `[{"type": "format", "field": "state", "format": "UPPER"}]`, want: `{"state": "CA"}`},
		{name: "format lower", source: `{"e": "A@B.C"}`, ops: `[{"type": "format", "field": "e", "format": "lower"}]`, want: `{"e": "a@b.c"}`},
		{name: "format trim", source: `{"s": "  x y \n"}`, ops: `[{"type": "format", "field": "s", "format": "trim"}]`, want: `{"s": "x y"}`},
		{name: "format title", source: `{"n": "ada LOVELACE-king o'neil 3rd"}`, ops: `[{"type": "format", "field": "n", "format": "title"}]`, want: `{"n": "Ada Lovelace-King O'Neil 3rd"}`},
		{name: "format number from string", source: `{"n": " 42.5 "}`, ops: `[{"type": "format", "field": "n", "format": "number"}]`, want: `{"n": 42.5}`},
		{name: "format integer truncates", source: `{"n": "-42.9"}`, ops: `[{"type": "format", "field": "n", "format": "integer"}]`, want: `{"n": -42}`},
		{name: "format round default 0 decimals", source: `{"n": 2.5}`, ops: `[{"type": "format", "field": "n", "format": "round"}]`, want: `{"n": 3}`},
		{name: "format round 2 decimals", source: `{"n": 3.14159}`, ops: `[{"type": "format", "field": "n", "format": "round", "decimals": 2}]`, want: `{"n": 3.14}`},
		{name: "format round negative decimals", source: `{"n": 1234}`, ops: `[{"type": "format", "field": "n", "format": "round", "decimals": -2}]`, want: `{"n": 1200}`},
		{name: "format string of a number", source: `{"n": 5}`, ops: `[{"type": "format", "field": "n", "format": "string"}]`, want: `{"n": "5"}`},
		{name: "format string of null", source: `{"n": null}`, ops: `[{"type": "format", "field": "n", "format": "string"}]`, want: `{"n": ""}`},
		{name: "format boolean from string", source: `{"b": "TRUE", "c": "0"}`, ops: `[{"type": "format", "field": "b", "format": "boolean"}, {"type": "format", "field": "c", "format": "boolean"}]`, want: `{"b": true, "c": false}`},
		{name: "format boolean from number", source: `{"b": 0, "c": 2}`, ops: `[{"type": "format", "field": "b", "format": "boolean"}, {"type": "format", "field": "c", "format": "boolean"}]`, want: `{"b": false, "c": true}`},
		{name: "format boolean of null is false", source: `{"b": null}`, ops: `[{"type": "format", "field": "b", "format": "boolean"}]`, want: `{"b": false}`},
		{name: "format date from plain date", source: `{"d": "2024-03-05"}`, ops: `[{"type": "format", "field": "d", "format": "date"}]`, want: `{"d": "2024-03-05T00:00:00Z"}`},
		{name: "format date with layout", source: `{"d": "2024-03-05T17:04:05Z"}`, ops: `[{"type": "format", "field": "d", "format": "date", "layout": "02/01/2006 15:04"}]`, want: `{"d": "05/03/2024 17:04"}`},
		{name: "format date keeps the offset", source: `{"d": "2024-03-05T17:04:05+02:00"}`, ops: `[{"type": "format", "field": "d", "format": "date"}]`, want: `{"d": "2024-03-05T17:04:05+02:00"}`},
		{name: "format date from Unix seconds", source: `{"d": 86400}`, ops: `[{"type": "format", "field": "d", "format": "date", "layout": "2006-01-02"}]`, want: `{"d": "1970-01-02"}`},
		{name: "format json", source: `{"o": {"a": [1, "<x>"]}}`, ops: `[{"type": "format", "field": "o", "format": "json"}]`, want: `{"o": "{\"a\":[1,\"<x>\"]}"}`},
		{name: "format of null stays null", source: `{"s": null}`, ops: `[{"type": "format", "field": "s", "format": "upper"}]`, want: `{"s": null}`},
		{
			name:   "merge shallow replaces nested objects",
			source: `{"a": {"x": 1}, "b": 1}`,
			ops:    `[{"type": "merge", "with": {"a": {"y": 2}, "c": 3}}]`,
			want:   `{"a": {"y": 2}, "b": 1, "c": 3}`,
		},
		{
			name:   "merge deep combines nested objects",
			source: `{"a": {"x": 1, "n": {"p": 1}}, "b": 1}`,
			ops:    `[{"type": "merge", "with": {"a": {"y": 2, "n": {"q": 2}}, "b": {"now": "object"}}, "deep": true}]`,
			want:   `{"a": {"x": 1, "y": 2, "n": {"p": 1, "q": 2}}, "b": {"now": "object"}}`,
		},
		{
			name:   "merge from a template",
			source: `{"a": 1}`,
			input:  map[string]any{"extra": map[string]any{"b": 2}},
			ops:    `[{"type": "merge", "with": "{{input.extra}}"}]`,
			want:   `{"a": 1, "b": 2}`,
		},
		{
			name:   "merge with templated values",
			source: `{"a": 1}`,
			input:  map[string]any{"src": "web"},
			ops:    `[{"type": "merge", "with": {"source": "{{input.src}}", "ref": "x-{{input.src}}"}}]`,
			want:   `{"a": 1, "source": "web", "ref": "x-web"}`,
		},
		{
			name:   "merge with null does nothing",
			source: `{"a": 1}`,
			ops:    `[{"type": "merge", "with": "{{input.nothing}}"}]`,
			want:   `{"a": 1}`,
		},
		{
			name:   "set static, nested and templated with its type",
			source: `{"a": 1}`,
			input:  map[string]any{"n": 7, "list": []any{1, 2}},
			ops:    `[{"type": "set", "field": "status", "value": "new"}, {"type": "set", "field": "m.n", "value": "{{input.n}}"}, {"type": "set", "field": "l", "value": "{{input.list}}"}, {"type": "set", "field": "s", "value": "n={{input.n}}"}]`,
			want:   `{"a": 1, "status": "new", "m": {"n": 7}, "l": [1, 2], "s": "n=7"}`,
		},
		{
			name:   "set null",
			source: `{"a": 1}`,
			ops:    `[{"type": "set", "field": "a", "value": null}]`,
			want:   `{"a": null}`,
		},
		{
			name:   "set overwrites a scalar on the way",
			source: `{"a": 1}`,
			ops:    `[{"type": "set", "field": "a.b", "value": 2}]`,
			want:   `{"a": {"b": 2}}`,
		},
		{
			name:   "remove top-level and nested, missing ignored",
			source: lead,
			ops:    `[{"type": "remove", "fields": ["internal", "address.zip", "tags", "nope", "nope.deeper"]}]`,
			want:   `{"email": "Ada@Example.com", "name": "ada LOVELACE", "score": 36, "state": " ca ", "address": {"city": "SF"}}`,
		},
		{
			name:   "named transform",
			source: `{"a": "x", "n": 1}`,
			ops:    `[{"type": "transform", "name": "upper"}]`,
			want:   `{"a": "X", "n": 1}`,
		},
		{
			name:   "named transform with config, on a scalar",
			source: `"lead"`,
			ops:    `[{"type": "transform", "name": "suffix", "config": {"suffix": "-42"}}]`,
			want:   `"lead-42"`,
		},
		{
			name:   "pipeline",
			source: lead,
			ops: `[{"type": "rename", "from": "email", "to": "contactEmail"},
				{"type": "calculate", "field": "priority", "expression": "score * 2"},
				{"type": "format", "field": "state", "format": "trim"},
				{"type": "format", "field": "state", "format": "upper"},
				{"type": "map", "mapping": {"email": "contactEmail", "priority": "priority", "state": "state"}},
				{"type": "transform", "name": "upper"}]`,
			want: `{"email": "ADA@EXAMPLE.COM", "priority": 72, "state": "CA"}`,
		},
		{
			name:  "source defaults to the input",
			input: map[string]any{"a": "x"},
			ops:   `[{"type": "set", "field": "b", "value": true}]`,
			want:  `{"a": "x", "b": true}`,
		},
		{
			name:   "null source is an empty object",
			source: `"{{input.nothing}}"`,
			ops:    `[{"type": "set", "field": "b", "value": 1}]`,
			want:   `{"b": 1}`,
		},
		{
			name:   "array source: operations apply per element",
			source: `[{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]`,
			ops:    `[{"type": "calculate", "field": "m", "expression": "n * 10"}, {"type": "format", "field": "s", "format": "upper"}]`,
			want:   `[{"n": 1, "s": "A", "m": 10}, {"n": 2, "s": "B", "m": 20}]`,
		},
		{
			name:   "empty array source",
			source: `[]`,
			ops:    `[{"type": "set", "field": "x", "value": 1}]`,
			want:   `[]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := transformStep(tt.source, tt.ops)
			doc = strings.Replace(doc, `{"name": "test",`, `{"name": "test", "variables": {"offset": 10},`, 1)
			exec := run(t, eng, doc, tt.input)
			requireCompleted(t, exec)
			require.Equal(t, jsonValue(t, tt.want), step(t, exec, "tx").Output)
			require.Equal(t, jsonValue(t, tt.want), exec.Output)
		})
	}
}

// TestDataTransformCalculateFieldsNamedLikeBuiltins: the record's fields are
// bare names in expressions, whatever they are called.
func TestDataTransformCalculateFieldsNamedLikeBuiltins(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	// $env reaches the field whatever its name.
	exec := run(t, eng, transformStep(`{"count": 2}`, `[{"type": "calculate", "field": "n", "expression": "$env.count * 2"}]`), nil)
	requireCompleted(t, exec)
	require.Equal(t, map[string]any{"count": float64(2), "n": float64(4)}, exec.Output)

	var shadowed []string
	for _, field := range []string{"type", "count", "date", "first", "last", "min", "max", "sum", "values"} {
		doc := transformStep(`{"`+field+`": 2}`, `[{"type": "calculate", "field": "n", "expression": "`+field+` == 2"}]`)
		w, err := core.ParseWorkflow([]byte(doc))
		require.NoError(t, err)
		if _, err := eng.Compile(context.Background(), w); err != nil {
			shadowed = append(shadowed, field)
			continue
		}
		exec := run(t, eng, doc, nil)
		requireCompleted(t, exec)
		require.Equal(t, true, obj(t, exec.Output)["n"], field)
	}
	if len(shadowed) > 0 {
		t.Fatalf("regression: core/expr.go CompileExpr: bare names that are expr-lang builtins resolve to the builtin, so record fields named %v cannot be read", shadowed)
	}
}

// TestDataTransformFormatMissingField: like rename, format leaves a record
// without the field as it is.
func TestDataTransformFormatMissingField(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	var added []string
	for _, f := range []string{"upper", "string", "boolean", "number", "date"} {
		exec := run(t, eng, transformStep(`{"a": 1}`, `[{"type": "format", "field": "b", "format": "`+f+`"}]`), nil)
		requireCompleted(t, exec)
		if _, ok := obj(t, exec.Output)["b"]; ok {
			added = append(added, f)
		}
	}
	if len(added) > 0 {
		t.Fatalf("regression: core/steps/transform.go format on a missing field adds it (null, \"\" or false) for formats %v", added)
	}
}

func TestDataTransformCalculateSeesSteps(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, `{"name": "t", "variables": {"minScore": 50}, "steps": [
		{"id": "base", "type": "DATA_TRANSFORM", "config": {"source": {"bonus": 5}, "operations": [{"type": "set", "field": "k", "value": 1}]}},
		{"id": "tx", "type": "DATA_TRANSFORM", "dependsOn": ["base"], "config": {"source": {"score": 60}, "operations": [
			{"type": "calculate", "field": "total", "expression": "score + steps.base.output.bonus"},
			{"type": "calculate", "field": "qualified", "expression": "total > minScore"},
			{"type": "calculate", "field": "exec", "expression": "execution.id != ''"},
			{"type": "set", "field": "from", "value": "{{steps.base.output.k}}"}]}}]}`, nil)
	requireCompleted(t, exec)
	require.Equal(t, map[string]any{"score": float64(60), "total": float64(65), "qualified": true, "exec": true, "from": float64(1)}, exec.Output)
}

// TestDataTransformDoesNotMutateSource checks that a transform works on a copy:
// a later step still sees the source step's original output.
func TestDataTransformDoesNotMutateSource(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	original := `{"email": "a@b.c", "nested": {"x": 1, "list": [1, 2]}, "rows": [{"n": 1}]}`
	tests := []struct {
		name string
		tx   string // the transform's config
	}{
		{
			name: "every operation on the source object",
			tx: `{"source": "{{steps.src.output}}", "operations": [
				{"type": "rename", "from": "email", "to": "mail"},
				{"type": "set", "field": "nested.x", "value": 99},
				{"type": "remove", "fields": ["nested.list"]},
				{"type": "merge", "with": {"nested": {"y": 2}}, "deep": true},
				{"type": "map", "mapping": {"n": "nested"}, "keep": true},
				{"type": "set", "field": "n.z", "value": 3},
				{"type": "format", "field": "rows", "format": "json"}]}`,
		},
		{
			name: "per element of an array source",
			tx: `{"source": "{{steps.src.output.rows}}", "operations": [
				{"type": "set", "field": "n", "value": 100}]}`,
		},
		{
			name: "a sub-object of another step's output set into the record",
			tx: `{"source": {}, "operations": [
				{"type": "set", "field": "copy", "value": "{{steps.src.output.nested}}"},
				{"type": "set", "field": "copy.injected", "value": true}]}`,
		},
		{
			name: "a sub-object of another step's output calculated into the record",
			tx: `{"source": {}, "operations": [
				{"type": "calculate", "field": "copy", "expression": "steps.src.output.nested"},
				{"type": "remove", "fields": ["copy.x"]}]}`,
		},
		{
			name: "map with keep of a sub-object",
			tx: `{"source": {"holder": "{{steps.src.output.nested}}"}, "operations": [
				{"type": "set", "field": "holder.x", "value": -1}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, `{"name": "t", "steps": [
				{"id": "src", "type": "DATA_TRANSFORM", "config": {"source": `+original+`, "operations": [{"type": "set", "field": "email", "value": "a@b.c"}]}},
				{"id": "tx", "type": "DATA_TRANSFORM", "dependsOn": ["src"], "config": `+tt.tx+`},
				{"id": "later", "type": "DATA_TRANSFORM", "dependsOn": ["tx"], "config": {"source": {"seen": "{{steps.src.output}}"}, "operations": [{"type": "set", "field": "ok", "value": true}]}}]}`, nil)
			requireCompleted(t, exec)
			want := jsonValue(t, original)
			seen := obj(t, step(t, exec, "later").Output)["seen"]
			recorded := step(t, exec, "src").Output
			if !equalJSON(want, seen) || !equalJSON(want, recorded) {
				if strings.HasPrefix(tt.name, "a sub-object") {
					t.Fatal("regression: core/steps/transform.go set/calculate store a reference to another step's output; later operations mutate that output")
				}
			}
			require.Equal(t, want, seen, "a later step sees the original")
			require.Equal(t, want, recorded, "the record keeps the original")
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestDataTransformRuntimeErrors(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{failingTransform, &suffixTransform{}}})
	tests := []struct {
		name     string
		source   string
		ops      string
		wantCode string
		wantMsg  []string
	}{
		{name: "format number on text", source: `{"n": "abc"}`, ops: `[{"type": "format", "field": "n", "format": "number"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"operation 0 (format)", `"abc" is not a number`}},
		{name: "format integer on an object", source: `{"n": {"a": 1}}`, ops: `[{"type": "format", "field": "n", "format": "integer"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"is not a number"}},
		{name: "format boolean on text", source: `{"b": "maybe"}`, ops: `[{"type": "format", "field": "b", "format": "boolean"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{`"maybe" is not a boolean`}},
		{name: "format date on text", source: `{"d": "next tuesday"}`, ops: `[{"type": "set", "field": "x", "value": 1}, {"type": "format", "field": "d", "format": "date"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"operation 1 (format)", "is not a date"}},
		{name: "calculate type error", source: `{"a": {"x": 1}}`, ops: `[{"type": "calculate", "field": "b", "expression": "a * 2"}]`,
			wantCode: sdk.CodeExpression, wantMsg: []string{"operation 0 (calculate)"}},
		{name: "record is not an object", source: `"text"`, ops: `[{"type": "set", "field": "x", "value": 1}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"expected an object, got a string"}},
		{name: "array element is not an object", source: `[{"n": 1}, 5]`, ops: `[{"type": "set", "field": "x", "value": 1}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"item 1:", "expected an object"}},
		{name: "array element fails a format", source: `[{"n": "1"}, {"n": "x"}]`, ops: `[{"type": "format", "field": "n", "format": "number"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"item 1:", `"x" is not a number`}},
		{name: "merge with a non-object", source: `{"a": 1}`, ops: `[{"type": "merge", "with": "{{input.list}}"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"with must be an object, got an array"}},
		{name: "transform keeps its own code", source: `{"a": 1}`, ops: `[{"type": "transform", "name": "fails"}]`,
			wantCode: "NORMALIZE_FAILED", wantMsg: []string{"operation 0 (transform)", "cannot normalise"}},
		{name: "transform rejects its input", source: `{"a": 1}`, ops: `[{"type": "transform", "name": "suffix"}]`,
			wantCode: sdk.CodeInvalidInput, wantMsg: []string{"want a string"}},
		{name: "template error in source", source: `"{{ input.list / 2 }}"`, ops: `[{"type": "set", "field": "x", "value": 1}]`,
			wantCode: sdk.CodeExpression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, transformStep(tt.source, tt.ops), map[string]any{"list": []any{1, 2}})
			requireFailed(t, exec, tt.wantCode)
			st := step(t, exec, "tx")
			require.Equal(t, core.StatusFailed, st.Status)
			require.Equal(t, tt.wantCode, st.Error.Code)
			for _, m := range tt.wantMsg {
				require.Contains(t, st.Error.Message, m)
			}
		})
	}
}

// A transform's error keeps its code, retryable flag and details when the
// step says where it happened: the record says what the component said.
func TestDataTransformKeepsRetryableErrors(t *testing.T) {
	t.Parallel()
	flaky := &flakyTransform{calls: new(atomic.Int32)}
	eng := newEngine(t, engineOpts{components: []sdk.Component{flaky}})
	for _, source := range []string{`{"a": 1}`, `[{"a": 1}]`} {
		exec := run(t, eng, transformStep(source, `[{"type": "transform", "name": "flaky"}]`), nil)
		st := step(t, exec, "tx")
		require.Equal(t, core.StatusFailed, st.Status)
		require.Equal(t, "UPSTREAM_BUSY", st.Error.Code)
		require.True(t, st.Error.Retryable, "%s: %+v", source, st.Error)
		require.Equal(t, "map[n:1]", fmt.Sprint(st.Error.Details))
		flaky.calls.Store(0)
	}
}

func TestDataTransformCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{&suffixTransform{}}})
	const op0 = "steps[0].config.operations[0]"
	tests := []struct {
		name string
		cfg  string
		want [][2]string
	}{
		{name: "no operations", cfg: `{"source": {}}`, want: [][2]string{{"steps[0].config.operations", "at least one operation"}}},
		{name: "empty operations", cfg: `{"operations": []}`, want: [][2]string{{"steps[0].config.operations", "at least one operation"}}},
		{name: "unknown operation", cfg: `{"operations": [{"type": "explode"}]}`, want: [][2]string{{op0 + ".type", `"explode" is not an operation`}}},
		{name: "missing type", cfg: `{"operations": [{"field": "a"}]}`, want: [][2]string{{op0 + ".type", "is required"}}},
		{name: "unknown config field", cfg: `{"operations": [{"type": "set", "field": "a", "value": 1}], "extra": 1}`, want: [][2]string{{"steps[0].config.extra", ""}}},
		{name: "unknown operation field", cfg: `{"operations": [{"type": "set", "field": "a", "value": 1, "bogus": 1}]}`, want: [][2]string{{op0 + ".bogus", ""}}},
		{name: "field of another operation", cfg: `{"operations": [{"type": "rename", "from": "a", "to": "b", "field": "c"}]}`, want: [][2]string{{op0 + ".field", `not used by a "rename" operation`}}},
		{name: "map without mapping", cfg: `{"operations": [{"type": "map"}]}`, want: [][2]string{{op0 + ".mapping", "at least one"}}},
		{name: "map with a bad path", cfg: `{"operations": [{"type": "map", "mapping": {"a": "b..c"}}]}`, want: [][2]string{{op0 + ".mapping.a", "is not a field path"}}},
		{name: "rename without from and to", cfg: `{"operations": [{"type": "rename"}]}`, want: [][2]string{{op0 + ".from", "is required"}, {op0 + ".to", "is required"}}},
		{name: "calculate without expression", cfg: `{"operations": [{"type": "calculate", "field": "a"}]}`, want: [][2]string{{op0 + ".expression", "is required"}}},
		{name: "calculate without field", cfg: `{"operations": [{"type": "calculate", "expression": "1"}]}`, want: [][2]string{{op0 + ".field", "is required"}}},
		{name: "expression that does not compile", cfg: `{"operations": [{"type": "calculate", "field": "a", "expression": "score * (2 +"}]}`, want: [][2]string{{op0 + ".expression", "column"}}},
		{name: "expression referring to an unknown step", cfg: `{"operations": [{"type": "calculate", "field": "a", "expression": "steps.ghost.output.n"}]}`, want: [][2]string{{op0 + ".expression", `step "ghost"`}}},
		{name: "format unknown", cfg: `{"operations": [{"type": "format", "field": "a", "format": "shout"}]}`, want: [][2]string{{op0 + ".format", `"shout" is not a format`}}},
		{name: "format without field", cfg: `{"operations": [{"type": "format", "format": "upper"}]}`, want: [][2]string{{op0 + ".field", "is required"}}},
		{name: "merge without with", cfg: `{"operations": [{"type": "merge"}]}`, want: [][2]string{{op0 + ".with", "is required"}}},
		{name: "set with a bad path", cfg: `{"operations": [{"type": "set", "field": ".a", "value": 1}]}`, want: [][2]string{{op0 + ".field", "is not a field path"}}},
		{name: "remove without fields", cfg: `{"operations": [{"type": "remove"}]}`, want: [][2]string{{op0 + ".fields", "at least one"}}},
		{name: "remove with a bad path", cfg: `{"operations": [{"type": "remove", "fields": ["a", "b."]}]}`, want: [][2]string{{op0 + ".fields[1]", "is not a field path"}}},
		{name: "transform without name", cfg: `{"operations": [{"type": "transform"}]}`, want: [][2]string{{op0 + ".name", "is required"}}},
		{name: "transform unknown", cfg: `{"operations": [{"type": "transform", "name": "nope"}]}`, want: [][2]string{{op0 + ".name", `unknown transform "nope"`}}},
		{name: "broken source template", cfg: `{"source": "{{input.x", "operations": [{"type": "set", "field": "a", "value": 1}]}`, want: [][2]string{{"steps[0].config.source", "unclosed"}}},
		{name: "broken value template", cfg: `{"operations": [{"type": "set", "field": "a", "value": "{{ 1 + }}"}]}`, want: [][2]string{{op0 + ".value", ""}}},
		{
			name: "every problem at once",
			cfg:  `{"operations": [{"type": "explode"}, {"type": "rename", "from": "a"}, {"type": "calculate", "field": "x", "expression": "1 +"}]}`,
			want: [][2]string{{op0 + ".type", ""}, {"steps[0].config.operations[1].to", "is required"}, {"steps[0].config.operations[2].expression", ""}},
		},
		{name: "retry policy on an engine step", cfg: `{"operations": [{"type": "set", "field": "a", "value": 1}]}`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.want == nil {
				ps := problems(t, eng, wf(`{"id": "tx", "type": "DATA_TRANSFORM", "retryPolicy": {"maxAttempts": 2}, "config": `+tt.cfg+`}`))
				requireProblem(t, ps, "steps[0].retryPolicy", "not retried")
				return
			}
			ps := problems(t, eng, wf(`{"id": "tx", "type": "DATA_TRANSFORM", "config": `+tt.cfg+`}`))
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}

	t.Run("expression error has its position", func(t *testing.T) {
		t.Parallel()
		w, err := core.ParseWorkflow([]byte(wf(`{"id": "tx", "type": "DATA_TRANSFORM", "config": {"operations": [{"type": "calculate", "field": "a", "expression": "score * * 2"}]}}`)))
		require.NoError(t, err)
		_, err = eng.Compile(context.Background(), w)
		var ve *sdk.ValidationError
		require.True(t, errors.As(err, &ve))
		require.Len(t, ve.Problems, 1)
		p := ve.Problems[0]
		require.Equal(t, op0+".expression", p.Path)
		require.Contains(t, p.Message, "line 1, column")
		require.Positive(t, p.Line, "located in the document")
	})
}

func TestDataTransformRegisteredTransformInstances(t *testing.T) {
	t.Parallel()
	// Two operations with different configs get separate instances.
	eng := newEngine(t, engineOpts{components: []sdk.Component{&suffixTransform{}}})
	exec := run(t, eng, transformStep(`"x"`, `[
		{"type": "transform", "name": "suffix", "config": {"suffix": "-a"}},
		{"type": "transform", "name": "suffix", "config": {"suffix": "-b"}}]`), nil)
	requireCompleted(t, exec)
	require.Equal(t, "x-a-b", exec.Output)

	ps := problems(t, eng, transformStep(`"x"`, `[{"type": "transform", "name": "suffix", "config": {"suffix": 5}}]`))
	require.NotEmpty(t, ps)
	require.True(t, strings.HasPrefix(ps[0].Path, "steps[0].config.operations[0].name"), fmt.Sprint(ps))
}
