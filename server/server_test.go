package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/dbtest"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/scripting/library"
	"github.com/weftworks/weft/server"
)

var (
	_ server.Catalog = (*db.Store)(nil)
	_ server.Keys    = (*db.Store)(nil)
)

// env is a running server on a real database, with a key of every role and
// the mock API the example workflows call.
type env struct {
	t    *testing.T
	url  string
	srv  *server.Server
	eng  *core.Engine
	db   *db.DB
	mock *mockapi.Server
	api  string
	keys map[server.Role]string
	lib  *library.Library
	reg  *core.Registry
}

// databases are the databases the server tests run on: SQLite always,
// PostgreSQL when WEFT_TEST_POSTGRES_DSN is set.
func databases(t *testing.T) map[string]func(t *testing.T) string {
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "weft.db") },
	}
	if os.Getenv(dbtest.EnvDSN) != "" {
		dbs["postgres"] = func(t *testing.T) string { return dbtest.PostgresDSN(t) }
	} else {
		t.Log(dbtest.SkipMessage)
	}
	return dbs
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := db.Open(ctx, dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: d, keys: map[server.Role]string{}, mock: mockapi.New()}
	api := httptest.NewServer(e.mock)
	e.api = api.URL
	reg := steps.NewRegistry(steps.Options{})
	e.scripts(reg, d) // LUA, WASM, stored rules and modules (library_test.go)
	eng := core.New(core.Options{
		Registry: reg, Store: d.Store(),
	})
	e.eng = eng
	store := d.Store()
	e.srv, err = server.New(server.Options{Engine: eng, Catalog: store, Keys: store, MaxBody: 1 << 20, Rules: e.lib, Modules: e.lib,
		MaxWait: hangGuard}) // the tests' ?wait=2m: a busy machine may take its time
	if err != nil {
		t.Fatal(err)
	}
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		_ = eng.Work(ctx, core.WorkOptions{Poll: 50 * time.Millisecond})
	}()
	hs := httptest.NewServer(e.srv)
	e.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-worked
		api.Close()
		d.Close()
	})
	for _, r := range server.Roles {
		secret, _, err := server.CreateKey(ctx, store, "test "+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[r] = secret
	}
	return e
}

// call makes a request with a key (none if empty) and decodes the JSON
// answer.
func (e *env) call(method, path, key string, body any, header ...string) (int, http.Header, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, data)
		}
	}
	return res.StatusCode, res.Header, out
}

// leadWorkflow is the original design's example workflow, calling the mock.
func (e *env) leadWorkflow() string {
	data, err := os.ReadFile("../examples/lead-distribution.json")
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.ReplaceAll(string(data), "http://127.0.0.1:9100", e.api)
}

func errorCode(t *testing.T, body map[string]any) string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %v", body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %v", body)
	}
	code, _ := e["code"].(string)
	return code
}

func TestWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			admin, editor := e.keys[server.RoleAdmin], e.keys[server.RoleEditor]

			status, hdr, wf := e.call("POST", "/api/v1/workflows", editor, e.leadWorkflow())
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, wf)
			}
			id, _ := wf["id"].(string)
			if id == "" || hdr.Get("Location") != "/api/v1/workflows/"+id || hdr.Get("ETag") != `"1"` {
				t.Fatalf("create: id %q, Location %q, ETag %q", id, hdr.Get("Location"), hdr.Get("ETag"))
			}
			if wf["name"] != "Submit Lead to Multiple Carriers" || wf["status"] != "ACTIVE" || wf["version"] != 1.0 {
				t.Fatalf("create answered %v", wf)
			}

			status, _, got := e.call("GET", "/api/v1/workflows/"+id, e.keys[server.RoleViewer], nil)
			if status != http.StatusOK || got["id"] != id || len(got["steps"].([]any)) != 4 {
				t.Fatalf("get: %d %v", status, got)
			}
			// The same through the original's alias.
			if status, _, got = e.call("GET", "/api/v1/orchestration/workflows/"+id, admin, nil); status != http.StatusOK || got["id"] != id {
				t.Fatalf("get (alias): %d %v", status, got)
			}

			changed := strings.Replace(e.leadWorkflow(), `"timeout": 60000`, `"timeout": 30000`, 1)
			status, hdr, got = e.call("PUT", "/api/v1/workflows/"+id, editor, changed, "If-Match", `"1"`)
			if status != http.StatusOK || got["version"] != 2.0 || got["timeout"] != 30000.0 || hdr.Get("ETag") != `"2"` {
				t.Fatalf("update: %d %v", status, got)
			}
			status, _, got = e.call("PUT", "/api/v1/workflows/"+id, editor, changed, "If-Match", `"1"`)
			if status != http.StatusConflict || errorCode(t, got) != server.CodeConflict {
				t.Fatalf("stale update: %d %v", status, got)
			}

			// Read, change, write back whole (createdAt and all).
			_, _, current := e.call("GET", "/api/v1/workflows/"+id, editor, nil)
			current["description"] = "edited"
			status, _, got = e.call("PUT", "/api/v1/workflows/"+id, editor, current)
			if status != http.StatusOK || got["version"] != 3.0 || got["description"] != "edited" {
				t.Fatalf("write back what GET answered: %d %v", status, got)
			}

			status, _, list := e.call("GET", "/api/v1/workflows?category=lead_distribution", editor, nil)
			if status != http.StatusOK || len(list["items"].([]any)) != 1 {
				t.Fatalf("list: %d %v", status, list)
			}

			if status, _, got = e.call("DELETE", "/api/v1/workflows/"+id, editor, nil); status != http.StatusNoContent {
				t.Fatalf("delete: %d %v", status, got)
			}
			if status, _, got = e.call("GET", "/api/v1/workflows/"+id, editor, nil); status != http.StatusNotFound || errorCode(t, got) != server.CodeNotFound {
				t.Fatalf("get after delete: %d %v", status, got)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); pagination(t, newEnv(t, dsn(t))) })
	}
}

func pagination(t *testing.T, e *env) {
	key := e.keys[server.RoleEditor]
	for i := range 7 {
		doc := strings.Replace(e.leadWorkflow(), "Submit Lead to Multiple Carriers", "wf "+string(rune('a'+i)), 1)
		if status, _, got := e.call("POST", "/api/v1/workflows", key, doc); status != http.StatusCreated {
			t.Fatalf("create %d: %d %v", i, status, got)
		}
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		status, _, page := e.call("GET", "/api/v1/workflows?limit=3&cursor="+cursor, key, nil)
		if status != http.StatusOK {
			t.Fatalf("page %d: %d %v", pages, status, page)
		}
		pages++
		for _, it := range page["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("workflow %s listed twice", id)
			}
			seen[id] = true
		}
		next, _ := page["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("listed %d workflows in %d pages, want 7 in 3", len(seen), pages)
	}
}

func TestExecute(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			_, _, wf := e.call("POST", "/api/v1/workflows", e.keys[server.RoleEditor], e.leadWorkflow())
			id := wf["id"].(string)
			op := e.keys[server.RoleOperator]

			// Asynchronous: 202, Location, then the record.
			status, hdr, got := e.call("POST", "/api/v1/workflows/"+id+"/execute", op, `{"input":{"leadId":"lead_123"}}`)
			if status != http.StatusAccepted || got["executionId"] == "" || hdr.Get("Location") != "/api/v1/executions/"+got["executionId"].(string) {
				t.Fatalf("execute: %d %v %v", status, got, hdr)
			}
			x := e.until(hdr.Get("Location"), op)
			if x["status"] != "COMPLETED" {
				t.Fatalf("execution ended %v: %v", x["status"], x)
			}
			st := x["steps"].(map[string]any)
			for _, step := range []string{"get_lead", "shape", "qualified", "fan_out", "carrier_a", "carrier_b"} {
				s, ok := st[step].(map[string]any)
				if !ok || s["status"] != "COMPLETED" || len(s["history"].([]any)) == 0 {
					t.Fatalf("step %s: %v", step, st[step])
				}
			}

			// ?wait: the finished record at once.
			status, _, got = e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m", op, `{"input":{"leadId":"7"}}`)
			if status != http.StatusOK || got["status"] != "COMPLETED" {
				t.Fatalf("execute?wait: %d %v", status, got)
			}

			// Listing, filtered by workflow and status.
			status, _, list := e.call("GET", "/api/v1/executions?workflowId="+id+"&status=COMPLETED", op, nil)
			if status != http.StatusOK || len(list["items"].([]any)) != 2 {
				t.Fatalf("list executions: %d %v", status, list)
			}

			// An inline definition, not saved in the catalog.
			inline := `{"workflow": ` + e.leadWorkflow() + `, "input": {"leadId": "42"}}`
			status, _, got = e.call("POST", "/api/orchestration/execute?wait=2m", e.keys[server.RoleEditor], inline)
			if status != http.StatusOK || got["status"] != "COMPLETED" {
				t.Fatalf("inline execute: %d %v", status, got)
			}
			// Another inline definition: run, and not saved in the catalog.
			other := `{"workflow": {"name": "one-off", "steps": [{"id": "get", "type": "HTTP_REQUEST", "config": {"url": "` + e.api + `/leads/42"}}]}}`
			if status, _, got = e.call("POST", "/api/orchestration/execute?wait=2m", e.keys[server.RoleEditor], other); status != http.StatusOK || got["status"] != "COMPLETED" {
				t.Fatalf("inline execute: %d %v", status, got)
			}
			_, _, all := e.call("GET", "/api/v1/workflows", op, nil)
			if n := len(all["items"].([]any)); n != 1 {
				t.Fatalf("the catalog lists %d workflows after inline runs, want only the one created: %v", n, all)
			}
		})
	}
}

// hangGuard bounds every wait of these tests on something that must happen
// (an execution finishing, parking): a guard against a hang, far above what
// any of them needs under -race on a busy machine, never a measure of speed.
const hangGuard = 2 * time.Minute

// until polls an execution until it has finished.
func (e *env) until(path, key string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		status, _, x := e.call("GET", path, key, nil)
		if status != http.StatusOK {
			e.t.Fatalf("GET %s: %d %v", path, status, x)
		}
		if s, _ := x["status"].(string); core.Status(s).Terminal() {
			return x
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %s still %v", path, x["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRoleMatrix walks every route with every role, no key, an unknown key
// and a revoked one: 401 without a valid key, 403 for a role that may not,
// anything else for one that may.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); roleMatrix(t, newEnv(t, dsn(t))) })
	}
}

func roleMatrix(t *testing.T, e *env) {
	ctx := context.Background()
	store := e.db.Store()
	revoked, k, err := server.CreateKey(ctx, store, "revoked", server.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	may := map[string][]server.Role{
		"public": server.Roles,
		"read":   server.Roles,
		"run":    {server.RoleOperator, server.RoleEditor, server.RoleAdmin},
		"author": {server.RoleEditor, server.RoleAdmin},
		"admin":  {server.RoleAdmin},
	}
	for _, ep := range e.srv.Endpoints() {
		path := strings.NewReplacer("{id}", "00000000-0000-0000-0000-000000000000", "{serviceId}", "no-such-service", "{requestId}", "00000000-0000-0000-0000-000000000000", "{name}", "no-such-name").Replace(ep.Path)
		allowed, ok := may[ep.Permission]
		if !ok {
			t.Fatalf("%s %s: unknown permission %q", ep.Method, ep.Path, ep.Permission)
		}
		for _, role := range server.Roles {
			status, _, body := e.call(ep.Method, path, e.keys[role], "{}")
			want := slicesContains(allowed, role)
			if want && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
				t.Errorf("%s %s as %s: %d %v, want allowed", ep.Method, ep.Path, role, status, body)
			}
			if !want && status != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", ep.Method, ep.Path, role, status)
			}
			if status >= 500 {
				t.Errorf("%s %s as %s: %d %v", ep.Method, ep.Path, role, status, body)
			}
		}
		if ep.Permission == "public" {
			continue
		}
		for name, key := range map[string]string{"no key": "", "unknown key": "weft_nope", "revoked key": revoked} {
			status, hdr, body := e.call(ep.Method, path, key, "{}")
			if status != http.StatusUnauthorized || errorCode(t, body) != server.CodeUnauthorized || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s: %d %v, want 401", ep.Method, ep.Path, name, status, body)
			}
		}
	}
}

func slicesContains(rs []server.Role, r server.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// TestBadInput tries what a new user gets wrong: every answer is a JSON
// error with a code and a message, and the server keeps serving.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); badInput(t, newEnv(t, dsn(t))) })
	}
}

func badInput(t *testing.T, e *env) {
	ed := e.keys[server.RoleEditor]
	_, _, wf := e.call("POST", "/api/v1/workflows", ed, e.leadWorkflow())
	id := wf["id"].(string)
	big := `{"name": "big", "description": "` + strings.Repeat("x", 10<<20) + `", "steps": []}`
	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
		mention                  string // in the message or details
	}{
		{"truncated JSON", "POST", "/api/v1/workflows", `{"name": "x", "steps": [`, nil, 400, server.CodeValidation, "line 1"},
		{"wrong type", "POST", "/api/v1/workflows", `{"name": 42, "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`, nil, 400, server.CodeValidation, "name"},
		{"empty body", "POST", "/api/v1/workflows", ``, nil, 400, server.CodeValidation, ""},
		{"10 MB body", "POST", "/api/v1/workflows", big, nil, 413, server.CodeTooLarge, "limit"},
		{"form encoded", "POST", "/api/v1/workflows", `name=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, server.CodeUnsupportedType, "application/json"},
		{"unknown workflow", "GET", "/api/v1/workflows/nope", ``, nil, 404, server.CodeNotFound, "nope"},
		{"execute unknown workflow", "POST", "/api/v1/workflows/nope/execute", `{"input": {}}`, nil, 404, server.CodeNotFound, "nope"},
		{"execute truncated", "POST", "/api/v1/workflows/" + id + "/execute", `{"input": {"leadId": `, nil, 400, server.CodeInvalidJSON, "truncated"},
		{"execute unknown field", "POST", "/api/v1/workflows/" + id + "/execute", `{"inputs": {}}`, nil, 400, server.CodeInvalidJSON, "inputs"},
		{"execute trailing data", "POST", "/api/v1/workflows/" + id + "/execute", `{"input": {}} {}`, nil, 400, server.CodeInvalidJSON, "after"},
		{"bad wait", "POST", "/api/v1/workflows/" + id + "/execute?wait=soon", `{}`, nil, 400, server.CodeInvalidRequest, "wait"},
		{"bad view", "POST", "/api/v1/workflows/" + id + "/execute?wait=1s&view=short", `{}`, nil, 400, server.CodeInvalidRequest, "view"},
		{"misspelt wait", "POST", "/api/v1/workflows/" + id + "/execute?wiat=30s", `{}`, nil, 400, server.CodeInvalidRequest, "wiat"},
		{"invalid cursor", "GET", "/api/v1/workflows?cursor=garbage!", ``, nil, 400, server.CodeInvalidRequest, "cursor"},
		{"invalid execution cursor", "GET", "/api/v1/executions?cursor=garbage!", ``, nil, 400, server.CodeInvalidRequest, "cursor"},
		{"bad limit", "GET", "/api/v1/executions?limit=100000", ``, nil, 400, server.CodeInvalidRequest, "limit"},
		{"bad status", "GET", "/api/v1/executions?status=DONE", ``, nil, 400, server.CodeInvalidRequest, "status"},
		{"bad time", "GET", "/api/v1/executions?from=yesterday", ``, nil, 400, server.CodeInvalidRequest, "from"},
		{"unknown parameter", "GET", "/api/v1/workflows?stauts=ACTIVE", ``, nil, 400, server.CodeInvalidRequest, "stauts"},
		{"bad If-Match", "PUT", "/api/v1/workflows/" + id, e.leadWorkflow(), []string{"If-Match", "yesterday"}, 400, server.CodeInvalidRequest, "If-Match"},
		{"unknown execution", "GET", "/api/v1/executions/nope", ``, nil, 404, server.CodeNotFound, "nope"},
		{"unknown route", "GET", "/api/v2/things", ``, nil, 404, server.CodeNotFound, "/api/v2/things"},
		{"wrong method", "PATCH", "/api/v1/workflows", `{}`, nil, 405, server.CodeMethodNotAllowed, "PATCH"},
		{"wrong role", "DELETE", "/api/v1/workflows/" + id, ``, []string{"Authorization", "Bearer " + e.keys[server.RoleViewer]}, 403, server.CodeForbidden, "viewer"},
		{"bad role for a key", "POST", "/api/v1/api-keys", `{"role": "root"}`, []string{"Authorization", "Bearer " + e.keys[server.RoleAdmin]}, 400, server.CodeValidation, "role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			status, _, got := e.call(c.method, c.path, ed, body, c.header...)
			if status != c.status || errorCode(t, got) != c.code {
				t.Fatalf("%d %v, want %d %s", status, got, c.status, c.code)
			}
			if data, _ := json.Marshal(got); !strings.Contains(string(data), c.mention) {
				t.Fatalf("the answer does not mention %q: %s", c.mention, data)
			}
		})
	}
	// Still serving, and no refused execute started anything.
	if status, _, got := e.call("GET", "/api/v1/workflows/"+id, ed, nil); status != http.StatusOK {
		t.Fatalf("after bad input: %d %v", status, got)
	}
	if _, _, list := e.call("GET", "/api/v1/executions?workflowId="+id, ed, nil); len(list["items"].([]any)) != 0 {
		t.Fatalf("a refused execute started an execution: %v", list)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); health(t, newEnv(t, dsn(t))) })
	}
}

func health(t *testing.T, e *env) {
	for _, p := range []string{"/health", "/ready", "/api/v1/orchestration/health"} {
		if status, _, got := e.call("GET", p, "", nil); status != http.StatusOK {
			t.Fatalf("%s: %d %v", p, status, got)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); apiKeys(t, newEnv(t, dsn(t))) })
	}
}

func apiKeys(t *testing.T, e *env) {
	admin := e.keys[server.RoleAdmin]
	status, hdr, got := e.call("POST", "/api/v1/api-keys", admin, `{"name": "ci", "role": "operator"}`)
	secret, _ := got["key"].(string)
	if status != http.StatusCreated || !strings.HasPrefix(secret, "weft_") || got["role"] != "operator" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create key: %d %v", status, got)
	}
	if status, _, _ := e.call("GET", "/api/v1/workflows", secret, nil); status != http.StatusOK {
		t.Fatalf("the new key does not work: %d", status)
	}
	if status, _, _ := e.call("GET", "/api/v1/workflows", "", nil, "X-API-Key", secret); status != http.StatusOK {
		t.Fatalf("the new key does not work in X-API-Key: %d", status)
	}
	if status, _, _ := e.call("POST", "/api/v1/workflows", "", e.leadWorkflow(), "X-API-Key", secret); status != http.StatusForbidden {
		t.Fatalf("an operator key authored a workflow: %d", status)
	}
	_, _, list := e.call("GET", "/api/v1/api-keys", admin, nil)
	data, _ := json.Marshal(list)
	if strings.Contains(string(data), secret) || strings.Contains(string(data), server.HashKey(secret)) {
		t.Fatalf("the key list shows a key or its hash: %s", data)
	}
	if status, _, got := e.call("DELETE", "/api/v1/api-keys/"+got["id"].(string), admin, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d %v", status, got)
	}
	if status, _, _ := e.call("GET", "/api/v1/workflows", secret, nil); status != http.StatusUnauthorized {
		t.Fatalf("a revoked key still works: %d", status)
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:80": true, "127.0.0.2:1": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:8080": false, "example.com:80": false,
	} {
		if got := server.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
