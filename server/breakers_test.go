package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/weftworks/weft/server"
)

// createWorkflow stores a definition and returns its id.
func (e *env) createWorkflow(doc string) string {
	e.t.Helper()
	status, _, wf := e.call("POST", "/api/v1/workflows", e.keys[server.RoleEditor], doc)
	if status != http.StatusCreated {
		e.t.Fatalf("create workflow: %d %v", status, wf)
	}
	return wf["id"].(string)
}

// execute runs a stored workflow and waits for its finished record.
func (e *env) execute(id, body string) map[string]any {
	e.t.Helper()
	status, hdr, x := e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m", e.keys[server.RoleOperator], body)
	if status == http.StatusAccepted {
		return e.until(hdr.Get("Location"), e.keys[server.RoleOperator])
	}
	if status != http.StatusOK {
		e.t.Fatalf("execute %s: %d %v", id, status, x)
	}
	return x
}

// mockCalls counts the requests the mock API received on a path.
func (e *env) mockCalls(path string) int {
	n := 0
	for _, r := range e.mock.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// executionCode is the error code of a finished execution ("" if none).
func executionCode(x map[string]any) string {
	e, _ := x["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// TestBreakerOpensFailsFastAndResets drives a breaker OPEN with a failing
// mock: the API shows it OPEN, the next call fails fast with CIRCUIT_OPEN
// without reaching the mock, and after a reset calls go through again.
func TestBreakerOpensFailsFastAndResets(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			viewer, admin := e.keys[server.RoleViewer], e.keys[server.RoleAdmin]
			// /flaky fails its first two calls with 503, then answers 200.
			id := e.createWorkflow(`{"name": "flaky", "steps": [{"id": "call", "type": "HTTP_REQUEST",
				"config": {"method": "GET", "url": "` + e.api + `/flaky?key=cb&failures=2"},
				"circuitBreaker": {"serviceId": "flaky-api", "threshold": 2, "timeout": 600000, "halfOpenMaxCalls": 1}}]}`)

			if status, _, got := e.call("GET", "/api/v1/circuit-breakers/flaky-api", viewer, nil); status != http.StatusNotFound || errorCode(t, got) != server.CodeNotFound {
				t.Fatalf("breaker before its first call: %d %v", status, got)
			}

			for i, want := range []string{"CLOSED", "OPEN"} {
				x := e.execute(id, `{}`)
				if x["status"] != "FAILED" || executionCode(x) != "HTTP_503" {
					t.Fatalf("execution %d: %v %v", i+1, x["status"], x["error"])
				}
				status, _, b := e.call("GET", "/api/v1/circuit-breakers/flaky-api", viewer, nil)
				if status != http.StatusOK || b["state"] != want || b["consecutiveFailures"] != float64(i+1) {
					t.Fatalf("breaker after %d failures: %d %v", i+1, status, b)
				}
			}

			// OPEN, through the API: state, the step's config, counters, times.
			status, _, b := e.call("GET", "/api/v1/orchestration/circuit-breakers/flaky-api", viewer, nil)
			cfg, _ := b["config"].(map[string]any)
			if status != http.StatusOK || b["serviceId"] != "flaky-api" || b["state"] != "OPEN" || b["configSource"] != "step" ||
				cfg["threshold"] != 2.0 || cfg["timeout"] != 600000.0 || cfg["halfOpenMaxCalls"] != 1.0 ||
				b["totalCalls"] != 2.0 || b["totalFailures"] != 2.0 || b["openedAt"] == nil || b["lastFailureAt"] == nil {
				t.Fatalf("open breaker: %d %v", status, b)
			}
			status, _, list := e.call("GET", "/api/v1/circuit-breakers?state=open", viewer, nil)
			if items, _ := list["items"].([]any); status != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["serviceId"] != "flaky-api" {
				t.Fatalf("list of open breakers: %d %v", status, list)
			}

			// The next call fails fast: one attempt, refused, and the mock never
			// sees it. (How fast is no condition here: a busy machine is slow.)
			before := e.mockCalls("/flaky")
			x := e.execute(id, `{}`)
			if x["status"] != "FAILED" || executionCode(x) != "CIRCUIT_OPEN" {
				t.Fatalf("execution through an open breaker: %v %v", x["status"], x["error"])
			}
			step := x["steps"].(map[string]any)["call"].(map[string]any)
			if se, _ := step["error"].(map[string]any); se["code"] != "CIRCUIT_OPEN" || step["attempts"] != 1.0 {
				t.Fatalf("step through an open breaker: %v", step)
			}
			if got := e.mockCalls("/flaky"); got != before {
				t.Fatalf("the mock received %d calls through an open breaker", got-before)
			}
			if _, _, b = e.call("GET", "/api/v1/circuit-breakers/flaky-api", viewer, nil); b["totalRejections"] != 1.0 || b["state"] != "OPEN" {
				t.Fatalf("breaker after a refusal: %v", b)
			}

			// Only an admin resets it.
			for _, role := range []server.Role{server.RoleViewer, server.RoleOperator, server.RoleEditor} {
				if status, _, got := e.call("POST", "/api/v1/circuit-breakers/flaky-api/reset", e.keys[role], nil); status != http.StatusForbidden {
					t.Fatalf("reset as %s: %d %v", role, status, got)
				}
			}
			status, _, b = e.call("POST", "/api/v1/circuit-breakers/flaky-api/reset", admin, nil)
			if status != http.StatusOK || b["state"] != "CLOSED" || b["consecutiveFailures"] != 0.0 || b["config"].(map[string]any)["threshold"] != 2.0 {
				t.Fatalf("reset: %d %v", status, b)
			}
			if _, _, b = e.call("GET", "/api/v1/circuit-breakers/flaky-api", viewer, nil); b["state"] != "CLOSED" {
				t.Fatalf("after reset: %v", b)
			}

			// Through again: the mock's third call succeeds.
			x = e.execute(id, `{}`)
			if x["status"] != "COMPLETED" || e.mockCalls("/flaky") != before+1 {
				t.Fatalf("after reset: %v %v (mock calls %d → %d)", x["status"], x["error"], before, e.mockCalls("/flaky"))
			}
			if _, _, b = e.call("GET", "/api/v1/circuit-breakers/flaky-api", viewer, nil); b["state"] != "CLOSED" || b["totalSuccesses"] != 1.0 {
				t.Fatalf("after a success: %v", b)
			}
		})
	}
}

// TestBreakerConfig sets breakers' configs through the API: a breaker that
// does not exist yet is created, fields left out keep their value, the
// API's config wins over the step's, and every bad request is a 400 that
// names what is wrong and changes nothing.
func TestBreakerConfig(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			admin, viewer := e.keys[server.RoleAdmin], e.keys[server.RoleViewer]
			const path = "/api/v1/circuit-breakers/crm"

			for _, role := range []server.Role{server.RoleViewer, server.RoleOperator, server.RoleEditor} {
				if status, _, got := e.call("PUT", path+"/config", e.keys[role], `{"threshold": 3}`); status != http.StatusForbidden {
					t.Fatalf("PUT config as %s: %d %v", role, status, got)
				}
			}
			if status, _, got := e.call("GET", path, viewer, nil); status != http.StatusNotFound {
				t.Fatalf("forbidden PUTs created the breaker: %d %v", status, got)
			}

			status, _, b := e.call("PUT", path+"/config", admin, `{"threshold":10,"timeout":120000,"halfOpenMaxCalls":5}`)
			if status != http.StatusOK || b["serviceId"] != "crm" || b["state"] != "CLOSED" || b["configSource"] != "api" ||
				!sameJSON(b["config"], `{"threshold":10,"timeout":120000,"halfOpenMaxCalls":5}`) {
				t.Fatalf("configure a new breaker: %d %v", status, b)
			}
			status, _, b = e.call("PUT", path+"/config", admin, `{"timeout": 5000}`)
			if status != http.StatusOK || !sameJSON(b["config"], `{"threshold":10,"timeout":5000,"halfOpenMaxCalls":5}`) {
				t.Fatalf("change one field: %d %v", status, b)
			}
			// Left out on a new breaker: the defaults.
			status, _, b = e.call("PUT", "/api/v1/orchestration/circuit-breakers/billing/config", admin, `{"threshold": 2}`)
			if status != http.StatusOK || !sameJSON(b["config"], `{"threshold":2,"timeout":60000,"halfOpenMaxCalls":1}`) {
				t.Fatalf("configure a new breaker with one field: %d %v", status, b)
			}

			long := strings.Repeat("s", 201)
			for _, c := range []struct {
				name, path, body string
				status           int
				code             string
				paths            []string // details[].path, in any order
			}{
				{"zero threshold", path + "/config", `{"threshold": 0}`, 400, server.CodeValidation, []string{"threshold"}},
				{"every field wrong", path + "/config", `{"threshold": 0, "timeout": -1, "halfOpenMaxCalls": 5000}`, 400, server.CodeValidation,
					[]string{"threshold", "timeout", "halfOpenMaxCalls"}},
				{"timeout over a year", path + "/config", `{"timeout": 100000000000000}`, 400, server.CodeValidation, []string{"timeout"}},
				{"nothing to set", path + "/config", `{}`, 400, server.CodeValidation, nil},
				{"null", path + "/config", `null`, 400, server.CodeValidation, nil},
				{"unknown field", path + "/config", `{"treshold": 10}`, 400, server.CodeInvalidJSON, []string{"treshold"}},
				{"string number", path + "/config", `{"threshold": "10"}`, 400, server.CodeInvalidJSON, []string{"threshold"}},
				{"fraction", path + "/config", `{"halfOpenMaxCalls": 1.5}`, 400, server.CodeInvalidJSON, []string{"halfOpenMaxCalls"}},
				{"huge number", path + "/config", `{"threshold": 1e400}`, 400, server.CodeInvalidJSON, nil},
				{"truncated", path + "/config", `{"threshold": 1`, 400, server.CodeInvalidJSON, nil},
				{"trailing data", path + "/config", `{"threshold": 1} x`, 400, server.CodeInvalidJSON, nil},
				{"empty body", path + "/config", ``, 400, server.CodeInvalidJSON, nil},
				{"an array", path + "/config", `[1, 2]`, 400, server.CodeInvalidJSON, nil},
				{"service id too long", "/api/v1/circuit-breakers/" + long + "/config", `{"threshold": 1}`, 400, server.CodeValidation, []string{"serviceId"}},
				{"reset with a body", path + "/reset", `{"force": true}`, 400, server.CodeInvalidJSON, []string{"force"}},
				{"reset unknown", "/api/v1/circuit-breakers/nope/reset", ``, 404, server.CodeNotFound, nil},
				{"get unknown", "/api/v1/circuit-breakers/nope", ``, 404, server.CodeNotFound, nil},
				{"delete unknown", "/api/v1/circuit-breakers/nope", ``, 404, server.CodeNotFound, nil},
				{"bad state filter", "/api/v1/circuit-breakers?state=AJAR", ``, 400, server.CodeInvalidRequest, []string{"state"}},
				{"unknown parameter", "/api/v1/circuit-breakers?status=OPEN", ``, 400, server.CodeInvalidRequest, []string{"status"}},
			} {
				t.Run(c.name, func(t *testing.T) {
					method := "PUT"
					switch {
					case strings.HasSuffix(c.path, "/reset"):
						method = "POST"
					case strings.HasPrefix(c.name, "delete"):
						method = "DELETE"
					case !strings.HasSuffix(c.path, "/config"):
						method = "GET"
					}
					var body any
					if c.body != "" {
						body = c.body
					}
					status, _, got := e.call(method, c.path, admin, body)
					if status != c.status || errorCode(t, got) != c.code {
						t.Fatalf("%s %s: %d %v, want %d %s", method, c.path, status, got, c.status, c.code)
					}
					var paths []string
					details, _ := got["error"].(map[string]any)["details"].([]any)
					for _, d := range details {
						if p, _ := d.(map[string]any)["path"].(string); p != "" {
							paths = append(paths, p)
						}
					}
					for _, p := range c.paths {
						if !strings.Contains(strings.Join(paths, " "), p) {
							t.Fatalf("no problem at %q in %v", p, got)
						}
					}
				})
			}
			if _, _, b = e.call("GET", path, viewer, nil); !sameJSON(b["config"], `{"threshold":10,"timeout":5000,"halfOpenMaxCalls":5}`) {
				t.Fatalf("bad requests changed the config: %v", b)
			}
			if status, _, _ := e.call("GET", "/api/v1/circuit-breakers/"+long, viewer, nil); status != http.StatusNotFound {
				t.Fatalf("a refused config created a breaker: %d", status)
			}

			// Set before its first call, the API's config wins over the step's:
			// one failure opens a breaker whose step says five.
			id := e.createWorkflow(`{"name": "down", "steps": [{"id": "call", "type": "HTTP_REQUEST",
				"config": {"method": "GET", "url": "` + e.api + `/status/503"},
				"circuitBreaker": {"serviceId": "down-api", "threshold": 5}}]}`)
			if status, _, b := e.call("PUT", "/api/v1/circuit-breakers/down-api/config", admin, `{"threshold": 1}`); status != http.StatusOK {
				t.Fatalf("configure down-api: %d %v", status, b)
			}
			if x := e.execute(id, ``); executionCode(x) != "HTTP_503" {
				t.Fatalf("first call: %v", x["error"])
			}
			_, _, b = e.call("GET", "/api/v1/circuit-breakers/down-api", viewer, nil)
			if b["state"] != "OPEN" || b["configSource"] != "api" || b["config"].(map[string]any)["threshold"] != 1.0 {
				t.Fatalf("down-api after one failure: %v", b)
			}

			// Deleted, a breaker is forgotten (its API config too).
			if status, _, got := e.call("DELETE", path, viewer, nil); status != http.StatusForbidden {
				t.Fatalf("delete as viewer: %d %v", status, got)
			}
			if status, _, got := e.call("DELETE", path, admin, nil); status != http.StatusNoContent {
				t.Fatalf("delete: %d %v", status, got)
			}
			if status, _, got := e.call("GET", path, viewer, nil); status != http.StatusNotFound {
				t.Fatalf("get after delete: %d %v", status, got)
			}
			status, _, list := e.call("GET", "/api/v1/circuit-breakers", viewer, nil)
			var ids []string
			for _, it := range list["items"].([]any) {
				ids = append(ids, it.(map[string]any)["serviceId"].(string))
			}
			if status != http.StatusOK || strings.Join(ids, ",") != "billing,down-api" {
				t.Fatalf("list: %d %v", status, ids)
			}
		})
	}
}

// sameJSON reports whether a decoded value is the JSON doc.
func sameJSON(v any, doc string) bool {
	var want any
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		panic(err)
	}
	a, _ := json.Marshal(v)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}
