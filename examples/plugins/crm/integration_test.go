package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/plugins"
	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

// pluginsDir holds the crm binary, built once by TestMain as `make
// examples` builds it.
var pluginsDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weft-crm-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginsDir = dir
	if err := plugintest.Build(".", filepath.Join(dir, "crm")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logs is a concurrency-safe log sink.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// engine loads the crm plugin from the plugins directory into a registry
// holding the built-in steps, as `weft serve --plugins-dir` does.
func engine(t *testing.T, sink *logs) *core.Engine {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m := plugins.New(plugins.Options{Dir: pluginsDir, Logger: logger})
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	reg := steps.NewRegistry(steps.Options{})
	require.NoError(t, m.Load(t.Context(), reg))
	for _, want := range []struct {
		kind sdk.Kind
		name string
	}{{sdk.KindStep, "crm.upsert_contact"}, {sdk.KindTransform, "crm.contact_from_lead"}, {sdk.KindValidator, "crm.valid_contact"}} {
		e, ok := reg.Lookup(want.kind, want.name)
		require.True(t, ok, want.name)
		require.Equal(t, core.OriginPlugin, e.Origin)
		require.Equal(t, version, e.Version)
	}
	return core.New(core.Options{Registry: reg, Logger: logger})
}

// compile validates and compiles a workflow document.
func compile(t *testing.T, eng *core.Engine, doc []byte) *core.Plan {
	t.Helper()
	wf, err := eng.ValidateDocument(t.Context(), doc)
	require.NoError(t, err)
	plan, err := eng.Compile(t.Context(), wf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	return plan
}

func execute(t *testing.T, eng *core.Engine, plan *core.Plan, input map[string]any) *core.Execution {
	t.Helper()
	exec, err := eng.Execute(t.Context(), plan, input)
	require.NoError(t, err)
	return exec
}

// contactKeys returns the Idempotency-Key of every contact upsert the mock
// received.
func contactKeys(mock *mockapi.Server) []string {
	var keys []string
	for _, r := range mock.Requests() {
		if r.Method == http.MethodPut && strings.HasPrefix(r.Path, "/crm/contacts/") {
			keys = append(keys, r.Headers.Get("Idempotency-Key"))
		}
	}
	return keys
}

func TestCRMSyncWorkflow(t *testing.T) {
	t.Parallel()
	var sink logs
	eng := engine(t, &sink)
	mock := mockapi.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	doc, err := os.ReadFile("../crm-sync.json")
	require.NoError(t, err)
	plan := compile(t, eng, doc)
	in := map[string]any{"apiBase": srv.URL, "leadId": "7"} // GRACE HOPPER, 212.555.0199

	first := execute(t, eng, plan, in)
	require.Equal(t, core.StatusCompleted, first.Status, "error: %v", first.Error)
	contact := map[string]any{"id": "c-1", "email": "grace.hopper@example.org", "firstName": "Grace", "lastName": "Hopper",
		"phone": "+12125550199", "version": float64(1)}
	require.Equal(t, map[string]any{"contactId": "c-1", "created": true, "replayed": false, "contact": contact,
		"announced": string(core.StatusCompleted)}, first.Output)
	deliveries := mock.Deliveries()
	require.Len(t, deliveries, 1, "a new contact is announced")
	require.Equal(t, "contact.created", deliveries[0].Body.(map[string]any)["type"])

	second := execute(t, eng, plan, in)
	require.Equal(t, core.StatusCompleted, second.Status, "error: %v", second.Error)
	contact["version"] = float64(2)
	require.Equal(t, map[string]any{"contactId": "c-1", "created": false, "replayed": false, "contact": contact,
		"announced": string(core.StatusSkipped)}, second.Output)
	require.Equal(t, core.StatusSkipped, second.Steps["welcome"].Status)
	require.Len(t, mock.Deliveries(), 1, "an updated contact is not announced again")

	require.Equal(t, []string{first.ID + "/upsert", second.ID + "/upsert"}, contactKeys(mock),
		"each execution sends its own idempotency key")
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(sink.String(), "\n") {
			if strings.Contains(line, `"msg":"contact upserted"`) && strings.Contains(line, `"plugin":"crm"`) &&
				strings.Contains(line, `"execution":"`+second.ID+`"`) {
				return true
			}
		}
		return false
	}, 2*time.Minute, 10*time.Millisecond, "the plugin's log records reach weft's log, tagged with the plugin:\n%s", sink.String())
}

// TestCRMSyncLostResponse loses the CRM's first answer on the way back, as
// a proxy timing out would: the contact was created, the step sees a 503
// with Retry-After, and its retry (same idempotency key) is answered with
// the first result instead of writing again.
func TestCRMSyncLostResponse(t *testing.T) {
	t.Parallel()
	var sink logs
	eng := engine(t, &sink)
	mock := mockapi.New()
	var lost atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && lost.CompareAndSwap(false, true) {
			mock.ServeHTTP(httptest.NewRecorder(), r) // done, but the answer never arrives
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mock.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	doc, err := os.ReadFile("../crm-sync.json")
	require.NoError(t, err)
	exec := execute(t, eng, compile(t, eng, doc), map[string]any{"apiBase": srv.URL, "leadId": "42"})
	require.Equal(t, core.StatusCompleted, exec.Status, "error: %v", exec.Error)

	up := exec.Steps["upsert"]
	require.Equal(t, 2, up.Attempts)
	require.Equal(t, "HTTP_503", up.History[0].Error.Code)
	require.True(t, up.History[0].Error.Retryable)
	require.Equal(t, int64(1000), up.History[0].RetryDelayMs, "the CRM's Retry-After, not the policy's 200 ms")
	out := exec.Output.(map[string]any)
	require.Equal(t, true, out["created"])
	require.Equal(t, true, out["replayed"], "the retry was answered with the first attempt's result")
	require.Equal(t, float64(1), out["contact"].(map[string]any)["version"], "written once")
	require.Equal(t, []string{exec.ID + "/upsert", exec.ID + "/upsert"}, contactKeys(mock), "one key across the attempts")
}

func TestCRMComponentsInWorkflows(t *testing.T) {
	t.Parallel()
	eng := engine(t, &logs{})

	t.Run("config problems are reported when the workflow is validated", func(t *testing.T) {
		wf, err := eng.ValidateDocument(t.Context(), []byte(`{"name": "bad", "steps": [
		  {"id": "up", "type": "crm.upsert_contact", "config": {"baseUrl": "ftp://crm.example.com",
		   "contact": {"email": "ada@localhost", "lastName": "Lovelace", "nick": "A"}}},
		  {"id": "t", "type": "DATA_TRANSFORM", "dependsOn": ["up"], "config": {"operations": [
		   {"type": "transform", "name": "crm.contact_from_lead", "config": {"defaultCountryCode": "+1"}}]}}]}`))
		if err == nil {
			_, err = eng.Compile(t.Context(), wf)
		}
		require.Error(t, err)
		for _, want := range []string{
			"steps[0].config.baseUrl",           // schema pattern and CheckConfig
			"steps[0].config.contact.email",     // CheckConfig: no domain name
			"steps[0].config.contact.firstName", // schema: required
			"steps[0].config.contact.nick",      // schema: additionalProperties
			"steps[1].config.operations[0].config.defaultCountryCode",
		} {
			require.Contains(t, err.Error(), want)
		}
	})

	t.Run("a rejected contact lists every violation", func(t *testing.T) {
		plan := compile(t, eng, []byte(`{"name": "check", "steps": [{"id": "check", "type": "VALIDATION",
		  "config": {"validator": "crm.valid_contact"}}]}`))
		exec := execute(t, eng, plan, map[string]any{"email": "nope", "firstName": "Ada", "phone": "12"})
		require.Equal(t, core.StatusFailed, exec.Status)
		require.Equal(t, sdk.CodeValidationFailed, exec.Error.Code)
		require.Equal(t, []any{
			map[string]any{"field": "email", "rule": "validator", "message": "is not an e-mail address"},
			map[string]any{"field": "lastName", "rule": "validator", "message": "is required"},
			map[string]any{"field": "phone", "rule": "validator", "message": `"12" is not an international phone number (want E.164, such as +14155550134)`},
		}, exec.Steps["check"].Error.Details.(map[string]any)["violations"])
	})

	t.Run("a CRM that refuses is not retried", func(t *testing.T) {
		refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		}))
		t.Cleanup(refusing.Close)
		plan := compile(t, eng, []byte(`{"name": "up", "steps": [{"id": "up", "type": "crm.upsert_contact",
		  "config": {"baseUrl": "{{input.base}}", "contact": {"email": "a@example.com", "firstName": "A", "lastName": "B"}},
		  "retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1}}]}`))
		exec := execute(t, eng, plan, map[string]any{"base": refusing.URL})
		require.Equal(t, core.StatusFailed, exec.Status)
		require.Equal(t, "HTTP_403", exec.Error.Code)
		require.Equal(t, 1, exec.Steps["up"].Attempts, "the plugin said 403 is not retryable")
	})
}
