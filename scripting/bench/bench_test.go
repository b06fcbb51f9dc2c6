package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
)

// builtinOps is the transform as built-in DATA_TRANSFORM operations.
const builtinOps = `[
	{"type": "format", "field": "email", "format": "trim"},
	{"type": "format", "field": "email", "format": "lower"},
	{"type": "calculate", "field": "name", "expression": "firstName + ' ' + lastName"},
	{"type": "format", "field": "name", "format": "title"},
	{"type": "calculate", "field": "phone", "expression": "join(filter(split(phone, ''), # >= '0' && # <= '9'), '')"},
	{"type": "calculate", "field": "score", "expression": "(employees >= 1000 ? 40 : employees >= 100 ? 25 : 10) + (source == 'referral' ? 30 : source == 'partner' ? 20 : 10) + (phone != '' ? 10 : 0)"},
	{"type": "map", "mapping": {"id": "id", "email": "email", "name": "name", "phone": "phone", "score": "score"}}]`

// variants are the ways of writing the transform, each the step "prepare"
// of a one-step workflow whose input.leads are the records. The first three
// are DATA_TRANSFORM steps applying their operations to every record (one
// Lua or WASM call per record); the batch variants make one call for all.
var variants = []struct{ name, step string }{
	{"builtin", transformStep(builtinOps)},
	{"lua", transformStep(`[{"type": "transform", "name": "prepare_lead_lua"}]`)},
	{"wasm", transformStep(`[{"type": "transform", "name": "prepare_lead"}]`)},
	{"lua_batch", luaBatchStep()},
	{"wasm_batch", `{"id": "prepare", "type": "DATA_TRANSFORM", "config": {"source": {"leads": "{{input.leads}}"},
		"operations": [{"type": "transform", "name": "prepare_leads"}]}}`},
}

func transformStep(ops string) string {
	return `{"id": "prepare", "type": "DATA_TRANSFORM", "config": {"source": "{{input.leads}}", "operations": ` + ops + `}}`
}

// luaBatchStep is a LUA step running testdata/prepare_lead.lua, unchanged,
// as a function over every record.
func luaBatchStep() string {
	src, err := os.ReadFile("testdata/prepare_lead.lua")
	if err != nil {
		panic(err) // the test data is part of the package
	}
	batch := "local function prepare(input)\n" + string(src) + "\nend\n" +
		"local out = {}\nfor i, lead in ipairs(input) do out[i] = prepare(lead) end\nreturn json.array(out)"
	step, err := json.Marshal(map[string]any{"id": "prepare", "type": "LUA",
		"config": map[string]any{"input": "{{input.leads}}", "source": batch}})
	if err != nil {
		panic(err)
	}
	return string(step)
}

// records are n lead records as they arrive from a web form.
func records(n int) []any {
	first := []string{"ada", "GRACE", "alan", "Katherine"}
	last := []string{"LOVELACE", "hopper", "Turing", "johnson"}
	sources := []string{"web", "referral", "partner", "ads"}
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{
			"id":        float64(i),
			"email":     fmt.Sprintf("  Lead%d@Example.COM ", i),
			"firstName": first[i%len(first)],
			"lastName":  last[i/len(first)%len(last)],
			"phone":     fmt.Sprintf("+44 (20) 7946-%04d", i),
			"employees": float64(i * 37 % 2000),
			"source":    sources[i%len(sources)],
			"country":   "gb",
		}
	}
	return out
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// modulesDir builds the WASM guest once per test binary.
func modulesDir(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "weft-bench-"); buildErr != nil {
			return
		}
		buildErr = wasmtest.Build("./testdata/prepare_lead", filepath.Join(buildDir, "prepare_lead.wasm"))
	})
	require.NoError(t, buildErr)
	return buildDir
}

// engine returns an engine whose registry has the built-in steps, the Lua
// transforms prepare_lead_lua and trivial_lua, and the WASM transforms
// prepare_lead, prepare_leads, trivial and trivial_struct.
func engine(t testing.TB) *core.Engine {
	eng, _ := engineAndRegistry(t)
	return eng
}

func engineAndRegistry(t testing.TB) (*core.Engine, *core.Registry) {
	t.Helper()
	reg := steps.NewRegistry(steps.Options{})
	rt, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	src, err := os.ReadFile("testdata/prepare_lead.lua")
	require.NoError(t, err)
	require.NoError(t, rt.RegisterTransform(reg, "prepare_lead_lua", string(src)))
	require.NoError(t, rt.RegisterTransform(reg, "trivial_lua", "return input.n + 1"))
	// The default compilation cache: a second run finds the compiled guest.
	mods, err := wasm.Register(context.Background(), reg, wasm.Options{ModulesDir: modulesDir(t), CacheDir: wasmtest.CacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mods.Close(context.Background()) })
	return core.New(core.Options{Registry: reg}), reg
}

// plan compiles the one-step workflow of step.
func plan(t testing.TB, eng *core.Engine, step string) *core.Plan {
	t.Helper()
	wf, err := core.ParseWorkflow([]byte(`{"name": "prepare leads", "steps": [` + step + `]}`))
	require.NoError(t, err)
	p, err := eng.Compile(context.Background(), wf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// run executes p over the records and returns the step's output.
func run(ctx context.Context, eng *core.Engine, p *core.Plan, leads []any) ([]any, error) {
	exec, err := eng.Execute(ctx, p, map[string]any{"leads": leads})
	if err != nil {
		return nil, err
	}
	if exec.Status != core.StatusCompleted {
		return nil, fmt.Errorf("%s: %v", exec.Status, exec.Error)
	}
	out, _ := exec.Steps["prepare"].Output.([]any)
	return out, nil
}

// TestSameOutput: every way gives the same 1,000 records, and the first
// ones are what the transform should make of them.
func TestSameOutput(t *testing.T) {
	t.Parallel()
	eng := engine(t)
	leads := records(1000)
	outputs := map[string][]any{}
	for _, v := range variants {
		out, err := run(t.Context(), eng, plan(t, eng, v.step), leads)
		require.NoError(t, err, v.name)
		require.Len(t, out, len(leads), v.name)
		outputs[v.name] = out
	}
	require.Equal(t, []any{
		map[string]any{"id": 0.0, "email": "lead0@example.com", "name": "Ada Lovelace", "phone": "442079460000", "score": 30.0},
		map[string]any{"id": 1.0, "email": "lead1@example.com", "name": "Grace Lovelace", "phone": "442079460001", "score": 50.0},
		map[string]any{"id": 2.0, "email": "lead2@example.com", "name": "Alan Lovelace", "phone": "442079460002", "score": 40.0},
		map[string]any{"id": 3.0, "email": "lead3@example.com", "name": "Katherine Lovelace", "phone": "442079460003", "score": 45.0},
		map[string]any{"id": 4.0, "email": "lead4@example.com", "name": "Ada Hopper", "phone": "442079460004", "score": 45.0},
	}, outputs["builtin"][:5])
	for _, v := range variants[1:] {
		require.Equal(t, outputs["builtin"], outputs[v.name], "%s and built-in operations agree", v.name)
	}
}

// BenchmarkPrepareLeads runs the one-step workflow over 1,000 records, the
// transform written each way; ns/op is one execution (1,000 records),
// ns/record the same divided by 1,000. The lua and wasm variants make one
// call per record, as DATA_TRANSFORM applies a named transform to each
// element of an array; lua_batch and wasm_batch one call in all. Instances
// and compiled scripts are warm.
func BenchmarkPrepareLeads(b *testing.B) {
	eng := engine(b)
	leads := records(1000)
	for _, v := range variants {
		p := plan(b, eng, v.step)
		b.Run(v.name, func(b *testing.B) {
			if _, err := run(b.Context(), eng, p, leads); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := run(b.Context(), eng, p, leads); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(leads)), "ns/record")
		})
	}
}

// BenchmarkTrivialCall measures one call of a trivial transform ({"n": 1} →
// 2) through the registry, as a DATA_TRANSFORM operation makes it, in Lua
// and in WASM, on a warm pool. The WASM guest takes its input as a
// map[string]any ("wasm") or decoded into a struct ("wasm_struct", as
// sdk.NewTransform decodes a typed input). p50-ns is the median call; the
// mean (ns/op) also carries the pauses a busy machine adds.
func BenchmarkTrivialCall(b *testing.B) {
	_, reg := engineAndRegistry(b)
	for _, v := range []struct{ name, transform string }{
		{"lua", "trivial_lua"}, {"wasm", "trivial"}, {"wasm_struct", "trivial_struct"},
	} {
		e, ok := reg.Lookup(sdk.KindTransform, v.transform)
		require.True(b, ok, v.transform)
		tr := e.New().(sdk.Transform)
		in := map[string]any{"n": 1.0}
		b.Run(v.name, func(b *testing.B) {
			if out, err := tr.Transform(b.Context(), in); err != nil || out != 2.0 { // warm
				b.Fatal(out, err)
			}
			b.ReportAllocs()
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := tr.Transform(b.Context(), in); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
