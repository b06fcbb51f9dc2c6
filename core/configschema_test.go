package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// callSchema is the config schema of the "call" step, shaped like one an
// out-of-process plugin declares.
const callSchema = `{
  "type": "object",
  "properties": {
    "url": {"type": "string", "format": "uri"},
    "retries": {"type": "integer", "minimum": 0},
    "count": {"type": "integer", "minimum": 1},
    "mode": {"enum": ["fast", "slow"]},
    "tags": {"type": "array", "items": {"type": "string", "minLength": 2}},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "target": {"$ref": "#/$defs/target"},
    "limit": {"anyOf": [{"type": "integer"}, {"const": "unlimited"}]},
    "auth": {"oneOf": [
      {"type": "object", "properties": {"token": {"type": "string", "minLength": 20}}, "required": ["token"], "additionalProperties": false},
      {"type": "object", "required": ["user", "password"]}]}
  },
  "required": ["url"],
  "additionalProperties": false,
  "$defs": {"target": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}, "required": ["port"]}}
}`

// schemaStep is a step with a config schema and no ConfigChecker, as a
// plugin's adapter is: the schema is all the engine knows of its config.
type schemaStep struct {
	name   string
	schema string
	calls  *atomic.Int64
}

func (s *schemaStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: s.name, ConfigSchema: json.RawMessage(s.schema),
		New: func() sdk.Component { return s }}
}

func (s *schemaStep) Run(_ context.Context, in sdk.Input) (sdk.Output, error) {
	s.calls.Add(1)
	return sdk.Output{Data: in.Config}, nil
}

// scaleTransform multiplies by its static config's factor; its schema wants
// a positive factor.
type scaleTransform struct {
	Factor float64 `json:"factor"`
}

func (*scaleTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "scale",
		ConfigSchema: json.RawMessage(`{"type": "object", "properties": {"factor": {"type": "number", "exclusiveMinimum": 0}}, "required": ["factor"], "additionalProperties": false}`),
		New:          func() sdk.Component { return new(scaleTransform) }}
}

func (s *scaleTransform) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	n, _ := in.(float64)
	return n * s.Factor, nil
}

// maxValidator rejects numbers above its static config's max.
type maxValidator struct {
	Max float64 `json:"max"`
}

func (*maxValidator) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindValidator, Name: "at_most",
		ConfigSchema: json.RawMessage(`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"max": {"type": "number"}}, "required": ["max"]}`),
		New:          func() sdk.Component { return new(maxValidator) }}
}

func (v *maxValidator) Validate(_ context.Context, in sdk.Value) error {
	if n, _ := in.(float64); n > v.Max {
		return &sdk.ValidationError{Problems: []sdk.Problem{{Message: "too large"}}}
	}
	return nil
}

// schemaLang compiles any source to a transform whose schema requires
// "label": the inline-script path to config schemas.
type schemaLang struct{}

func (schemaLang) CompileScript(kind sdk.Kind, name, source string) (sdk.Component, error) {
	return &labelTransform{}, nil
}

type labelTransform struct {
	Label string `json:"label"`
}

func (*labelTransform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "label",
		ConfigSchema: json.RawMessage(`{"type": "object", "required": ["label"]}`),
		New:          func() sdk.Component { return new(labelTransform) }}
}

func (l *labelTransform) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	return l.Label, nil
}

func schemaEngine(t testing.TB) (*core.Engine, *atomic.Int64) {
	t.Helper()
	calls := new(atomic.Int64)
	reg := steps.NewRegistry(steps.Options{})
	for _, c := range []sdk.Component{
		&schemaStep{name: "call", schema: callSchema, calls: calls},
		&scaleTransform{}, &maxValidator{},
		sdk.NewStep("plain", func(_ context.Context, in any) (any, error) { return in, nil }),
		sdk.NewStep("typed", func(_ context.Context, in struct {
			N int `json:"n"`
		}) (int, error) {
			return in.N, nil
		}, sdk.WithConfigSchema(json.RawMessage(`{"properties": {"n": {"type": "integer", "maximum": 9}}}`))),
	} {
		require.NoError(t, reg.Register(core.Entry{Info: c.Info(), Origin: core.OriginPlugin}))
	}
	require.NoError(t, reg.RegisterLanguage("fake", schemaLang{}))
	return core.New(core.Options{Registry: reg}), calls
}

func TestConfigSchemaAtValidation(t *testing.T) {
	t.Parallel()
	eng, _ := schemaEngine(t)
	step := func(config string) string {
		return `{"name": "w", "steps": [{"id": "a", "type": "call", "config": ` + config + `}]}`
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "valid", doc: step(`{"url": "http://x.test/a", "retries": 2, "mode": "fast", "tags": ["ab"], "target": {"port": 80}}`)},
		{name: "below minimum", doc: step(`{"url": "http://x.test/", "retries": -1}`),
			want: []string{"steps[0].config.retries: must be >= 0"}},
		{name: "whole template for an integer", doc: step(`{"url": "http://x.test/", "count": "{{input.n}}"}`)},
		{name: "template for an enum and a format", doc: step(`{"url": "{{input.url}}", "mode": "{{input.mode}}"}`)},
		{name: "partial template in a URI", doc: step(`{"url": "http://x.test/{{input.id}}"}`)},
		{name: "template standing for an object", doc: step(`{"url": "http://x.test/", "target": "{{input.target}}", "headers": "{{input.h}}"}`)},
		{name: "partial template cannot be an integer", doc: step(`{"url": "http://x.test/", "count": "n={{input.n}}"}`),
			want: []string{"steps[0].config.count: must be integer, not string"}},
		{name: "missing required", doc: step(`{"retries": 1}`),
			want: []string{"steps[0].config.url: is required"}},
		{name: "missing required inside a template-free object", doc: step(`{"url": "{{input.url}}", "target": {}}`),
			want: []string{"steps[0].config.target.port: is required"}},
		{name: "no config at all", doc: `{"name": "w", "steps": [{"id": "a", "type": "call"}]}`,
			want: []string{"steps[0].config.url: is required"}},
		{name: "unknown property", doc: step(`{"url": "http://x.test/", "colour": "red"}`),
			want: []string{"steps[0].config.colour: is not allowed: the schema does not define this property"}},
		{name: "array item", doc: step(`{"url": "http://x.test/", "tags": ["ok", "x", "{{input.t}}"]}`),
			want: []string{"steps[0].config.tags[1]: must be at least 2 characters long"}},
		{name: "quoted key", doc: step(`{"url": "http://x.test/", "headers": {"X.Key": 5, "ok": "{{input.k}}"}}`),
			want: []string{`steps[0].config.headers["X.Key"]: must be string, not number`}},
		{name: "through a $ref", doc: step(`{"url": "http://x.test/", "target": {"port": 70000}}`),
			want: []string{"steps[0].config.target.port: must be <= 65535"}},
		{name: "bad format and enum", doc: step(`{"url": "not a uri", "mode": "medium"}`),
			want: []string{
				`steps[0].config.mode: must be one of: "fast", "slow"`,
				`steps[0].config.url: is not a valid uri: relative url`,
			}},
		{name: "every violation", doc: step(`{"retries": -2, "count": 0, "tags": "ab"}`),
			want: []string{
				"steps[0].config.count: must be >= 1",
				"steps[0].config.retries: must be >= 0",
				"steps[0].config.tags: must be array, not string",
				"steps[0].config.url: is required",
			}},
		{name: "nested in PARALLEL", doc: `{"name": "w", "steps": [{"id": "p", "type": "PARALLEL", "config": {"steps": [
			{"id": "a", "type": "call", "config": {"url": "http://x.test/"}},
			{"id": "b", "type": "call", "config": {"url": "http://x.test/", "retries": -1}}]}}]}`,
			want: []string{"steps[0].config.steps[1].config.retries: must be >= 0"}},
		{name: "transform static config", doc: `{"name": "w", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": 2, "operations": [
			{"type": "transform", "name": "scale", "config": {"factor": 2}},
			{"type": "transform", "name": "scale", "config": {"factor": 0}},
			{"type": "transform", "name": "scale", "config": {"factor": "{{input.f}}"}}]}}]}`,
			want: []string{
				"steps[0].config.operations[1].config.factor: must be > 0",
				"steps[0].config.operations[2].config.factor: must be number, not string",
			}},
		{name: "transform without config", doc: `{"name": "w", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": 2, "operations": [
			{"type": "transform", "name": "scale"}]}}]}`,
			want: []string{"steps[0].config.operations[0].name: needs a config: factor: is required"}},
		{name: "inline script config", doc: `{"name": "w", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": 2, "operations": [
			{"type": "transform", "script": {"lang": "fake", "source": "x"}, "config": {"labl": "a"}}]}}]}`,
			want: []string{"steps[0].config.operations[0].config.label: is required"}},
		{name: "validator config", doc: `{"name": "w", "steps": [{"id": "v", "type": "VALIDATION", "config": {"data": 1, "validator": "at_most", "validatorConfig": {"max": "ten"}}}]}`,
			want: []string{"steps[0].config.validatorConfig.max: must be number, not string"}},
		{name: "anyOf with a template", doc: step(`{"url": "http://x.test/", "limit": "{{input.limit}}"}`)},
		{name: "anyOf", doc: step(`{"url": "http://x.test/", "limit": "lots"}`),
			want: []string{`steps[0].config.limit: matches none of the anyOf alternatives (must be integer, not string; or must be "unlimited")`}},
		{name: "oneOf whose alternative fails only at a template", doc: step(`{"url": "http://x.test/", "auth": {"token": "{{secrets.t}}"}}`)},
		{name: "oneOf", doc: step(`{"url": "http://x.test/", "auth": {"token": "short"}}`),
			want: []string{`steps[0].config.auth: matches none of the oneOf alternatives (token: must be at least 20 characters long; or password: is required, user: is required)`}},
		{name: "schema and ConfigChecker report a path once", doc: `{"name": "w", "steps": [{"id": "a", "type": "typed", "config": {"n": "x", "m": 1}}]}`,
			want: []string{"steps[0].config.m: unknown field \"m\" (known: n)", "steps[0].config.n: must be integer, not string"}},
		{name: "schema beside a ConfigChecker", doc: `{"name": "w", "steps": [{"id": "a", "type": "typed", "config": {"n": 10}}]}`,
			want: []string{"steps[0].config.n: must be <= 9"}},
		{name: "no schema, no check", doc: `{"name": "w", "steps": [{"id": "a", "type": "plain", "config": {"anything": [1, "{{input.x}}"]}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, eng, tt.doc)
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

// TestConfigSchemaPositions checks, through the public validation API, that
// schema problems carry the line and column of the offending value.
func TestConfigSchemaPositions(t *testing.T) {
	t.Parallel()
	eng, _ := schemaEngine(t)
	doc := `{
  "name": "positions",
  "steps": [
    {"id": "ok", "type": "call", "config": {"url": "http://x.test/"}},
    {"id": "bad", "type": "call", "config": {
      "url": "http://x.test/",
      "retries": -1,
      "tags": ["ok",
               "x"]
    }},
    {"id": "missing", "type": "call",
     "config": {"count": "{{input.n}}"}}
  ]
}`
	require.Equal(t, []string{
		"steps[1].config.retries (line 7, column 7): must be >= 0",
		"steps[1].config.tags[1] (line 9, column 16): must be at least 2 characters long",
		"steps[2].config.url (line 12, column 6): is required",
	}, allProblems(t, eng, []byte(doc)))
}

func TestConfigSchemaRegistration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		schema  string
		wantErr string
		remote  bool
	}{
		{name: "object", schema: `{"type": "object"}`},
		{name: "boolean", schema: `true`},
		{name: "draft 7", schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}}, "properties": {"n": {"$ref": "#/definitions/n"}}}`},
		{name: "draft 2020-12", schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"n": {"type": "integer"}}, "properties": {"n": {"$ref": "#/$defs/n"}}}`},
		{name: "not JSON", schema: `{"type": `, wantErr: `step "s": config schema is not JSON`},
		{name: "not an object", schema: `[1]`, wantErr: "config schema must be a JSON object or boolean, not an array"},
		{name: "bad keyword value", schema: `{"type": "integer", "minimum": "zero"}`,
			wantErr: `step "s": config schema is not a valid JSON Schema: minimum: must be number, not string`},
		{name: "unknown type", schema: `{"properties": {"a": {"type": "int"}}}`, wantErr: "is not a valid JSON Schema: properties.a.type: "},
		{name: "bad regexp", schema: `{"pattern": "("}`, wantErr: "is not a valid JSON Schema: pattern: is not a valid regex"},
		{name: "draft 4", schema: `{"$schema": "http://json-schema.org/draft-04/schema#"}`, wantErr: `unsupported $schema "http://json-schema.org/draft-04/schema#"`},
		{name: "custom meta-schema", schema: `{"$schema": "https://example.test/meta"}`, wantErr: "unsupported $schema"},
		{name: "remote ref", schema: `{"$ref": "https://example.test/schema.json"}`, remote: true,
			wantErr: `$ref "https://example.test/schema.json" is not loaded`},
		{name: "relative ref", schema: `{"properties": {"a": {"$ref": "other.json#/a"}}}`, remote: true,
			wantErr: `$ref "other.json" is not loaded`},
		{name: "file ref", schema: `{"$ref": "file:///etc/passwd"}`, remote: true, wantErr: `$ref "file:///etc/passwd" is not loaded`},
		{name: "missing local ref", schema: `{"$ref": "#/$defs/nope"}`, wantErr: `config schema does not compile: json-pointer in "#/$defs/nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := core.NewEmptyRegistry()
			s := &schemaStep{name: "s", schema: tt.schema, calls: new(atomic.Int64)}
			err := reg.Register(core.Entry{Info: s.Info(), Origin: core.OriginPlugin})
			if tt.wantErr == "" {
				require.NoError(t, err)
				_, ok := reg.Lookup(sdk.KindStep, "s")
				require.True(t, ok)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.remote, errors.Is(err, core.ErrRemoteSchemaRef), "%v", err)
			_, ok := reg.Lookup(sdk.KindStep, "s")
			require.False(t, ok, "a component whose schema does not compile is not registered")

			// Replace refuses it too, and keeps what was there.
			good := &schemaStep{name: "s", schema: `{"type": "object"}`, calls: new(atomic.Int64)}
			require.NoError(t, reg.Replace(core.Entry{Info: good.Info(), Origin: core.OriginPlugin}))
			require.ErrorContains(t, reg.Replace(core.Entry{Info: s.Info(), Origin: core.OriginPlugin}), tt.wantErr)
			e, ok := reg.Lookup(sdk.KindStep, "s")
			require.True(t, ok)
			require.JSONEq(t, `{"type": "object"}`, string(e.ConfigSchema))
		})
	}
}

// TestConfigSchemaReplace checks that a reloaded component is validated
// against its new schema, and the old one is forgotten.
func TestConfigSchemaReplace(t *testing.T) {
	t.Parallel()
	reg := steps.NewRegistry(steps.Options{})
	eng := core.New(core.Options{Registry: reg})
	v1 := &schemaStep{name: "svc", schema: `{"properties": {"n": {"type": "integer"}}}`, calls: new(atomic.Int64)}
	v2 := &schemaStep{name: "svc", schema: `{"properties": {"n": {"type": "string"}}}`, calls: new(atomic.Int64)}
	doc := `{"name": "w", "steps": [{"id": "a", "type": "svc", "config": {"n": 1}}]}`

	require.NoError(t, reg.Register(core.Entry{Info: v1.Info(), Origin: core.OriginPlugin}))
	require.Empty(t, problems(t, eng, doc))
	require.NoError(t, reg.Replace(core.Entry{Info: v2.Info(), Origin: core.OriginPlugin}))
	require.Equal(t, []string{"steps[0].config.n: must be string, not number"}, problems(t, eng, doc))
	require.NoError(t, reg.Replace(core.Entry{Info: v1.Info(), Origin: core.OriginPlugin}))
	require.Empty(t, problems(t, eng, doc))
	require.True(t, reg.Unregister(sdk.KindStep, "svc"))
	require.NoError(t, reg.Register(core.Entry{Info: v2.Info(), Origin: core.OriginPlugin}))
	require.Len(t, problems(t, eng, doc), 1)
}

func TestConfigSchemaAtRunTime(t *testing.T) {
	t.Parallel()
	const doc = `{"name": "w", "steps": [{"id": "a", "type": "call",
		"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1},
		"config": {"url": "{{input.url}}", "count": "{{input.n}}", "target": "{{input.target}}"}}]}`
	tests := []struct {
		name    string
		input   map[string]any
		want    []sdk.Problem // nil: the step runs
		wantMsg string
	}{
		{name: "valid after rendering", input: map[string]any{"url": "http://x.test/", "n": 3.0, "target": map[string]any{"port": 80.0}}},
		{name: "below minimum", input: map[string]any{"url": "http://x.test/", "n": 0.0, "target": map[string]any{"port": 80.0}},
			want: []sdk.Problem{{Path: "count", Message: "must be >= 1"}}, wantMsg: "count: must be >= 1"},
		{name: "wrong types", input: map[string]any{"url": 5.0, "n": "three", "target": map[string]any{}},
			want: []sdk.Problem{
				{Path: "count", Message: "must be integer, not string"},
				{Path: "target.port", Message: "is required"},
				{Path: "url", Message: "must be string, not number"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eng, calls := schemaEngine(t)
			exec, err := eng.Execute(t.Context(), compile(t, eng, doc), tt.input)
			require.NoError(t, err)
			st := exec.Steps["a"]
			if tt.want == nil {
				require.Equal(t, core.StatusCompleted, exec.Status, "%+v", st.Error)
				require.Equal(t, int64(1), calls.Load())
				return
			}
			require.Equal(t, core.StatusFailed, exec.Status)
			require.Equal(t, int64(0), calls.Load(), "the component is not called with a config its schema refuses")
			require.Equal(t, sdk.CodeInvalidConfig, st.Error.Code)
			require.False(t, st.Error.Retryable)
			require.Equal(t, 1, st.Attempts, "INVALID_CONFIG is not retried")
			require.Contains(t, st.Error.Message, tt.wantMsg)
			require.Contains(t, st.Error.Message, "config schema of call")
			var got []sdk.Problem // the record went through the store as JSON
			require.NoError(t, json.Unmarshal([]byte(toJSON(t, st.Error.Details)), &got))
			require.ElementsMatch(t, tt.want, got)
			require.Equal(t, tt.input["url"], st.Input.(map[string]any)["url"], "the rendered config is recorded")
		})
	}
}

// TestConfigSchemaTransformRuns checks that a transform whose static config
// passed its schema runs with it.
func TestConfigSchemaTransformRuns(t *testing.T) {
	t.Parallel()
	eng, _ := schemaEngine(t)
	exec := execute(t, eng, `{"name": "w", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": "{{input.n}}", "operations": [
		{"type": "transform", "name": "scale", "config": {"factor": 2.5}}]}}]}`, map[string]any{"n": 4.0})
	require.Equal(t, core.StatusCompleted, exec.Status)
	require.Equal(t, 10.0, exec.Steps["t"].Output)
}
