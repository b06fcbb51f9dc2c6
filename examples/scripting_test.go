package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
)

// The WASM guests of wasm/ are built once per test binary, as `make
// examples` builds them, into a temporary modules directory.
var (
	buildOnce  sync.Once
	buildDir   string
	buildErr   error
	modulesDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// modules returns the directory holding NAME.wasm for every guest of wasm/.
func modules(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "weft-examples-"); buildErr != nil {
			return
		}
		modulesDir = filepath.Join(buildDir, "modules")
		guests, err := filepath.Glob("wasm/*/main.go")
		if err != nil || len(guests) == 0 {
			buildErr = fmt.Errorf("no guests in wasm/ (%v)", err)
			return
		}
		pkgs := map[string]string{}
		for _, g := range guests {
			pkgs[filepath.Base(filepath.Dir(g))] = "./" + filepath.Dir(g)
		}
		if buildErr = wasmtest.BuildAll(pkgs, modulesDir); buildErr != nil {
			return
		}
		// Compile once into the tests' shared cache, so that the tests
		// loading the modules in parallel (slow to compile under -race) all
		// reuse it.
		rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: modulesDir, CacheDir: wasmtest.CacheDir()})
		if err != nil {
			buildErr = err
			return
		}
		buildErr = rt.Close(context.Background())
	})
	require.NoError(t, buildErr)
	return modulesDir
}

// addScripting adds to reg what `weft run --scripts-dir lua --modules-dir
// bin/modules` adds: the LUA step type, the Lua transforms and validators of
// lua/, and the components of every WASM guest of wasm/.
func addScripting(t testing.TB, reg *core.Registry) {
	t.Helper()
	addLua(t, reg)
	mods, err := wasm.Register(context.Background(), reg, wasm.Options{ModulesDir: modules(t), CacheDir: wasmtest.CacheDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mods.Close(context.Background()) })
}

// addLua adds the LUA step type and the scripts of lua/ to reg.
func addLua(t testing.TB, reg *core.Registry) {
	t.Helper()
	rt, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	for kind, register := range map[string]func(*core.Registry, string, string) error{
		"transforms": rt.RegisterTransform, "validators": rt.RegisterValidator,
	} {
		files, err := filepath.Glob(filepath.Join("lua", kind, "*.lua"))
		require.NoError(t, err)
		require.NotEmpty(t, files, kind)
		for _, f := range files {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, register(reg, strings.TrimSuffix(filepath.Base(f), ".lua"), string(src)), f)
		}
	}
}

// runExample runs an example workflow against a fresh mock API with input
// (plus apiBase), and returns the execution, the mock and the engine log.
func runExample(t *testing.T, file string, scripted bool, input map[string]any) (*core.Execution, *mockapi.Server, string) {
	t.Helper()
	mock := mockapi.New(mockapi.WithWebhookSecret(webhookSecret))
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	reg := steps.NewRegistry(steps.Options{Client: egress.NewClient(egress.Options{})})
	if scripted {
		addScripting(t, reg)
	}
	var logs bytes.Buffer // slog handlers serialise their writes
	eng := core.New(core.Options{Registry: reg, Secrets: core.MapSecrets{"webhook": webhookSecret},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	wf, err := eng.ValidateDocument(context.Background(), data)
	require.NoError(t, err)
	plan, err := eng.Compile(context.Background(), wf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	in := map[string]any{"apiBase": srv.URL}
	for k, v := range input {
		in[k] = v
	}
	exec, err := eng.Execute(context.Background(), plan, in)
	require.NoError(t, err)
	return exec, mock, logs.String()
}

// checkQualifiedLead is what examples/mixed-lead-pipeline.json makes of
// lead 42 of the mock: every kind of step had its part.
func checkQualifiedLead(t *testing.T, exec *core.Execution, logs string) {
	out := exec.Output.(map[string]any)
	require.Equal(t, map[string]any{
		"email":    "ada.lovelace@example.com", // WASM normalize_lead
		"domain":   "example.com",              // WASM normalize_lead
		"fullName": "Ada Lovelace",             // built-in map, then WASM normalize_lead
		"phone":    "+14155550134",             // WASM digits, then Lua normalize_phone
		"crmScore": float64(72),                // built-in set
		"source":   "web",                      // built-in set
		"score":    float64(71),                // Lua score_lead: 72/2 + 15 (web) + 10 (phone) + 10 (company domain)
		"tier":     "hot",                      // Lua score_lead
		"band":     "A",                        // built-in calculate
	}, out["lead"])
	require.Equal(t, []any{"a", "b"}, out["carriers"], "the LUA step routes a hot lead to both carriers")
	quotes := out["quotes"].([]any)
	require.Len(t, quotes, 2)
	for i, carrier := range []string{"a", "b"} {
		q := quotes[i].(map[string]any)
		require.Equal(t, carrier, q["carrier"])
		require.Equal(t, 206.5, q["premium"], "100 + 1.5 × score")
		require.Equal(t, map[string]any{
			"contactEmail": "ada.lovelace@example.com", "name": "Ada Lovelace", "phone": "+14155550134",
			"score": float64(71), "tier": "hot", "band": "A", "channel": "web-form",
		}, q["received"])
	}
	require.Contains(t, logs, "routing ada.lovelace@example.com hot", "log(...) of the LUA step, in the engine log")
}

func TestMixedLeadPipeline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input map[string]any
		check func(t *testing.T, exec *core.Execution)
	}{
		{
			name:  "a warm lead goes to one carrier",
			input: map[string]any{"leadId": "7"}, // GRACE HOPPER, 212.555.0199, score 30, referral
			check: func(t *testing.T, exec *core.Execution) {
				require.Equal(t, core.StatusCompleted, exec.Status, "error: %v", exec.Error)
				out := exec.Output.(map[string]any)
				lead := out["lead"].(map[string]any)
				require.Equal(t, "Grace Hopper", lead["fullName"])
				require.Equal(t, "+12125550199", lead["phone"], "the default country code added to a national number")
				require.Equal(t, float64(65), lead["score"]) // 15 + 30 (referral) + 10 + 10
				require.Equal(t, "warm", lead["tier"])
				require.Equal(t, "B", lead["band"])
				require.Equal(t, []any{"a"}, out["carriers"])
				require.Len(t, out["quotes"], 1)
			},
		},
		{
			name:  "a disposable e-mail domain fails validation",
			input: map[string]any{"leadId": "13"}, // temp.user@mailinator.com
			check: func(t *testing.T, exec *core.Execution) {
				require.Equal(t, core.StatusFailed, exec.Status)
				require.Equal(t, sdk.CodeValidationFailed, exec.Error.Code)
				violations := exec.Steps["check"].Error.Details.(map[string]any)["violations"].([]any)
				require.Len(t, violations, 1)
				v := violations[0].(map[string]any)
				require.Equal(t, "email", v["field"])
				require.Contains(t, v["message"], "mailinator.com is a disposable e-mail domain")
				for _, id := range []string{"normalize", "route", "qualified", "submit"} {
					require.NotEqual(t, core.StatusCompleted, exec.Steps[id].Status, id)
				}
			},
		},
		{
			name:  "below the minimum score nothing is submitted",
			input: map[string]any{"leadId": "lead_123", "minScore": 95}, // scores 89
			check: func(t *testing.T, exec *core.Execution) {
				require.Equal(t, core.StatusCompleted, exec.Status, "error: %v", exec.Error)
				require.Equal(t, "else", exec.Steps["qualified"].Output.(map[string]any)["branch"])
				require.Equal(t, core.StatusSkipped, exec.Steps["submit"].Status)
				out := exec.Output.(map[string]any)
				require.Equal(t, float64(89), out["lead"].(map[string]any)["score"])
				require.Equal(t, "+12065550123", out["lead"].(map[string]any)["phone"])
				require.Empty(t, out["quotes"])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec, _, _ := runExample(t, "mixed-lead-pipeline.json", true, tt.input)
			tt.check(t, exec)
		})
	}
}
