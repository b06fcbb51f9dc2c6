package core

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

// TestSchemaSharing checks that entries declaring the same schema share one
// compilation, and that it is forgotten when the last of them goes.
func TestSchemaSharing(t *testing.T) {
	t.Parallel()
	reg := NewEmptyRegistry()
	schema := json.RawMessage(`{"type": "object", "properties": {"n": {"type": "integer"}}}`)
	entry := func(name string, schema json.RawMessage) Entry {
		c := sdk.NewStep(name, func(_ context.Context, in any) (any, error) { return in, nil }, sdk.WithConfigSchema(schema))
		return Entry{Info: c.Info(), Origin: OriginPlugin}
	}
	require.NoError(t, reg.Register(entry("a", schema)))
	require.NoError(t, reg.Register(entry("b", schema)))
	a, _ := reg.Lookup(sdk.KindStep, "a")
	b, _ := reg.Lookup(sdk.KindStep, "b")
	require.NotNil(t, a.schema)
	require.Same(t, a.schema, b.schema, "one compilation for one schema")
	require.Len(t, reg.schemas, 1)
	require.Equal(t, 2, reg.schemas[a.schema.sum].refs)

	// A reload with the same schema keeps the compilation.
	require.NoError(t, reg.Replace(entry("a", schema)))
	a2, _ := reg.Lookup(sdk.KindStep, "a")
	require.Same(t, a.schema, a2.schema)
	require.Equal(t, 2, reg.schemas[a.schema.sum].refs)

	// A duplicate registration does not count.
	require.Error(t, reg.Register(entry("a", schema)))
	require.Equal(t, 2, reg.schemas[a.schema.sum].refs)

	require.NoError(t, reg.Replace(entry("a", json.RawMessage(`{"type": "object"}`))))
	require.Len(t, reg.schemas, 2)
	require.True(t, reg.Unregister(sdk.KindStep, "b"))
	require.Len(t, reg.schemas, 1, "the first schema has no user left")
	require.True(t, reg.Unregister(sdk.KindStep, "a"))
	require.Empty(t, reg.schemas)

	require.NoError(t, reg.Register(entry("plain", nil)))
	p, _ := reg.Lookup(sdk.KindStep, "plain")
	require.Nil(t, p.schema)
	require.Empty(t, reg.schemas)
}

// TestSchemaForeignValues checks that values of Go types the validator does
// not know (from expressions, components) are judged by their JSON shape.
func TestSchemaForeignValues(t *testing.T) {
	t.Parallel()
	cs, err := compileConfigSchema(json.RawMessage(`{"properties": {"ids": {"type": "array", "items": {"type": "integer", "minimum": 1}}}}`))
	require.NoError(t, err)
	require.NoError(t, cs.checkRendered(map[string]any{"ids": []int{1, 2}}, "x"))
	err = cs.checkRendered(map[string]any{"ids": []int{1, 0}}, "x")
	require.Equal(t, sdk.CodeInvalidConfig, sdk.AsError(err).Code)
	require.Equal(t, []sdk.Problem{{Path: "ids[1]", Message: "must be >= 1"}}, sdk.AsError(err).Details)
}

func BenchmarkConfigSchemaCompile(b *testing.B) {
	raw := json.RawMessage(benchSchema)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compileConfigSchema(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfigSchemaRendered measures the run-time check of a rendered
// config, made before every attempt of a step with a schema.
func BenchmarkConfigSchemaRendered(b *testing.B) {
	cs, err := compileConfigSchema(json.RawMessage(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	cfg := map[string]any{"url": "http://x.test/a", "retries": 3.0, "mode": "fast",
		"tags": []any{"ab", "cd"}, "headers": map[string]any{"X-A": "1", "X-B": "2"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := cs.checkRendered(cfg, "call"); err != nil {
			b.Fatal(err)
		}
	}
}

const benchSchema = `{
  "type": "object",
  "properties": {
    "url": {"type": "string", "format": "uri"},
    "retries": {"type": "integer", "minimum": 0},
    "mode": {"enum": ["fast", "slow"]},
    "tags": {"type": "array", "items": {"type": "string", "minLength": 2}},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}}
  },
  "required": ["url"],
  "additionalProperties": false
}`
