// Package examples_test runs every example workflow against the bundled mock
// API, so the examples in the README and docs keep working.
package examples_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/examples/mockapi"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type example struct {
	input map[string]any
	// scripted examples need the Lua scripts of lua/ and the WASM modules
	// of wasm/ (weft run --scripts-dir lua --modules-dir bin/modules).
	scripted bool
	check    func(t *testing.T, exec *core.Execution, mock *mockapi.Server, logs string)
}

// examples maps every example file to its input and what it must produce.
var examples = map[string]example{
	"lead-distribution.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, mock *mockapi.Server, _ string) {
			out := exec.Output.(map[string]any)
			for _, carrier := range []string{"carrier_a", "carrier_b"} {
				resp := out[carrier].(map[string]any)
				require.Equal(t, float64(201), resp["status"])
				received := resp["body"].(map[string]any)["received"].(map[string]any)
				require.Equal(t, "Ada.Lovelace@Example.com", received["contactEmail"])
				require.Equal(t, float64(144), received["priority"])
				require.Equal(t, "CA", received["state"])
			}
		},
	},
	"steps/http-request.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			require.Equal(t, 3, exec.Steps["flaky"].Attempts)
			require.Equal(t, float64(3), exec.Output.(map[string]any)["attempts"])
		},
	},
	"steps/data-transform.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			require.Equal(t, map[string]any{
				"who":   "Ada Lovelace",
				"email": "ada.lovelace@example.com",
				"rank":  map[string]any{"priority": "high", "score": float64(83)},
			}, exec.Output)
			require.Equal(t, "autumn", exec.Steps["shape"].Output.(map[string]any)["campaign"])
		},
	},
	"steps/conditional.json": {
		input: map[string]any{"leadId": "7"}, // score 30: the cold branch
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			require.Equal(t, core.StatusSkipped, exec.Steps["hot"].Status)
			require.Equal(t, core.StatusCompleted, exec.Steps["cold"].Status)
			require.Equal(t, "else", exec.Output.(map[string]any)["branch"])
		},
	},
	"steps/parallel.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			require.Equal(t, core.StatusFailed, exec.Steps["initech"].Status, "the carrier that is down fails alone")
			out := exec.Output.(map[string]any)
			require.Equal(t, float64(208), out["cheapest"])
			require.Equal(t, "FAILED", out["initech"])
		},
	},
	"steps/for-each.json": {
		input: map[string]any{},
		check: func(t *testing.T, exec *core.Execution, mock *mockapi.Server, _ string) {
			quotes := exec.Output.(map[string]any)["quotes"].([]any)
			require.Len(t, quotes, 4) // one per lead of the mock
			require.Contains(t, exec.Steps, "submit_one[3]")
			for i, r := range exec.Steps["submit"].Output.([]any) {
				body := r.(map[string]any)["body"].(map[string]any)["received"].(map[string]any)
				require.Equal(t, float64(i), body["position"], "results keep the items' order")
			}
		},
	},
	"steps/wait.json": {
		input: map[string]any{"pauseMs": 20},
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			out := exec.Output.(map[string]any)
			require.Equal(t, "ok", out["health"])
			require.GreaterOrEqual(t, out["waitedMs"], float64(20))
		},
	},
	"steps/webhook-call.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, mock *mockapi.Server, _ string) {
			deliveries := mock.Deliveries()
			require.Len(t, deliveries, 1)
			require.True(t, deliveries[0].Verified, "the mock verifies the Standard Webhooks signature")
			require.Equal(t, true, exec.Output.(map[string]any)["signed"])
		},
	},
	"mixed-lead-pipeline.json": {
		input:    map[string]any{"leadId": "42"},
		scripted: true,
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, logs string) {
			checkQualifiedLead(t, exec, logs)
		},
	},
	"steps/validation.json": {
		input: map[string]any{"leadId": "42"},
		check: func(t *testing.T, exec *core.Execution, _ *mockapi.Server, _ string) {
			require.Equal(t, float64(201), exec.Output.(map[string]any)["status"])
		},
	},
}

func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	more, err := filepath.Glob("steps/*.json")
	require.NoError(t, err)
	files = append(files, more...)
	require.Len(t, files, len(examples), "every example file needs an entry in this test, and every entry a file")
	for _, f := range files {
		ex, ok := examples[f]
		require.True(t, ok, "no test for %s", f)
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			exec, mock, logs := runExample(t, f, ex.scripted, ex.input)
			require.Equal(t, core.StatusCompleted, exec.Status, "error: %v", exec.Error)
			ex.check(t, exec, mock, logs)
		})
	}
}

func TestValidationExampleRejectsBadLead(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mockapi.New())
	t.Cleanup(srv.Close)
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{})})
	data, err := os.ReadFile("steps/validation.json")
	require.NoError(t, err)
	wf, err := eng.ValidateDocument(context.Background(), data)
	require.NoError(t, err)
	plan, err := eng.Compile(context.Background(), wf)
	require.NoError(t, err)
	exec, err := eng.Execute(context.Background(), plan, map[string]any{"apiBase": srv.URL, "leadId": "7"})
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, "VALIDATION_FAILED", exec.Error.Code)
	violations := exec.Steps["check"].Error.Details.(map[string]any)["violations"].([]any)
	require.Len(t, violations, 1)
	require.Equal(t, "score", violations[0].(map[string]any)["field"])
	require.Equal(t, core.StatusSkipped, exec.Steps["submit"].Status)
}
