package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftworks/weft/server"
)

// countCalls counts the requests the mock received on a path.
func (e *env) countCalls(path string) int {
	n := 0
	for _, r := range e.mock.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func (e *env) create(doc string) string {
	e.t.Helper()
	status, _, wf := e.call("POST", "/api/v1/workflows", e.keys[server.RoleEditor], strings.ReplaceAll(doc, "API", e.api))
	if status != http.StatusCreated {
		e.t.Fatalf("create: %d %v", status, wf)
	}
	return wf["id"].(string)
}

// TestRetry: a failed execution retried runs again from the step that
// failed; the step that completed is not called again, and the failed
// step's attempts go on where they were.
func TestRetry(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			op := e.keys[server.RoleOperator]
			id := e.create(`{"name": "retry me", "steps": [
				{"id": "lead", "type": "HTTP_REQUEST", "config": {"url": "API/leads/42"}},
				{"id": "flaky", "type": "HTTP_REQUEST", "dependsOn": ["lead"], "config": {"url": "API/flaky?key=` + name + `&failures=1"}},
				{"id": "after", "type": "DATA_TRANSFORM", "dependsOn": ["flaky"],
				 "config": {"source": "{{steps.lead.output.body}}", "operations": [{"type": "calculate", "field": "double", "expression": "score * 2"}]}}]}`)
			status, _, x := e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m", op, nil)
			if status != http.StatusOK || x["status"] != "FAILED" || x["failedStep"] != "flaky" {
				t.Fatalf("first run: %d %v", status, x)
			}
			xid := x["id"].(string)

			status, _, x = e.call("POST", "/api/v1/executions/"+xid+"/retry?wait=2m", op, nil)
			if status != http.StatusOK || x["status"] != "COMPLETED" || x["id"] != xid {
				t.Fatalf("retry: %d %v", status, x)
			}
			if out := x["output"].(map[string]any); out["double"] != 144.0 {
				t.Fatalf("output %v", out)
			}
			if n := e.countCalls("/leads/42"); n != 1 {
				t.Fatalf("the completed step was called %d times, want once", n)
			}
			if n := e.countCalls("/flaky"); n != 2 {
				t.Fatalf("the failed step was called %d times, want twice", n)
			}
			for _, step := range []string{"lead", "flaky", "after"} { // "after" was SKIPPED by the failure
				st := x["steps"].(map[string]any)[step].(map[string]any)
				if st["status"] != "COMPLETED" || st["startedAt"] == nil || st["durationMs"].(float64) > 60000 {
					t.Fatalf("step %s after the retry: %v", step, st)
				}
			}
			hist := x["steps"].(map[string]any)["flaky"].(map[string]any)["history"].([]any)
			if len(hist) != 2 || hist[0].(map[string]any)["status"] != "FAILED" || hist[1].(map[string]any)["attempt"] != 2.0 {
				t.Fatalf("flaky's history: %v", hist)
			}
			// A completed execution is not retried.
			if status, _, got := e.call("POST", "/api/v1/executions/"+xid+"/retry", op, nil); status != http.StatusConflict || errorCode(t, got) != server.CodeConflict {
				t.Fatalf("retry of a completed execution: %d %v", status, got)
			}
		})
	}
}

// TestCancel: an execution cancelled mid-step ends CANCELLED at once and
// stays so when the step's call returns; one parked in a WAIT too.
func TestCancel(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			op := e.keys[server.RoleOperator]
			// The call is held until the test lets it go, so that the cancel
			// always lands while it is in flight.
			started, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			var handled sync.WaitGroup
			held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handled.Add(1)
				defer handled.Done()
				once.Do(func() { close(started) })
				select {
				case <-release:
				case <-r.Context().Done():
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"ok": true}`))
			}))
			defer held.Close()
			slow := e.create(`{"name": "slow", "steps": [{"id": "call", "type": "HTTP_REQUEST", "config": {"url": "` + held.URL + `/slow"}},
				{"id": "next", "type": "WAIT", "dependsOn": ["call"], "config": {"duration": 1}}]}`)
			status, hdr, _ := e.call("POST", "/api/v1/workflows/"+slow+"/execute", op, nil)
			if status != http.StatusAccepted {
				t.Fatalf("execute: %d", status)
			}
			loc := hdr.Get("Location")
			select {
			case <-started:
			case <-time.After(hangGuard):
				t.Fatal("the slow call never started")
			}
			status, _, x := e.call("POST", loc+"/cancel", op, nil)
			if status != http.StatusOK || x["status"] != "CANCELLED" {
				t.Fatalf("cancel: %d %v", status, x)
			}
			if st := x["steps"].(map[string]any)["call"].(map[string]any); st["status"] != "CANCELLED" {
				t.Fatalf("the step in flight: %v", st)
			}
			if status, _, got := e.call("POST", loc+"/cancel", op, nil); status != http.StatusConflict {
				t.Fatalf("cancel twice: %d %v", status, got)
			}
			// The call returns (if the cancel has not ended it already); the
			// execution stays CANCELLED and goes no further.
			close(release)
			handled.Wait()
			time.Sleep(100 * time.Millisecond) // the engine takes in the answer
			_, _, x = e.call("GET", loc, op, nil)
			if x["status"] != "CANCELLED" || x["steps"].(map[string]any)["next"] != nil {
				t.Fatalf("after the call returned: %v", x)
			}

			parked := e.create(`{"name": "parked", "steps": [{"id": "nap", "type": "WAIT", "config": {"duration": 3600000}}]}`)
			_, hdr, _ = e.call("POST", "/api/v1/workflows/"+parked+"/execute", op, nil)
			loc = hdr.Get("Location")
			for deadline := time.Now().Add(hangGuard); ; {
				if _, _, x = e.call("GET", loc, op, nil); x["status"] == "WAITING" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("never parked: %v", x)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if status, _, x = e.call("POST", loc+"/cancel", op, nil); status != http.StatusOK || x["status"] != "CANCELLED" {
				t.Fatalf("cancel a parked execution: %d %v", status, x)
			}
			if status, _, got := e.call("POST", "/api/v1/executions/nope/cancel", op, nil); status != http.StatusNotFound {
				t.Fatalf("cancel unknown: %d %v", status, got)
			}
		})
	}
}

// TestIdempotencyKey: the same key on execute is the same execution.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			op := e.keys[server.RoleOperator]
			id := e.create(`{"name": "once", "steps": [{"id": "get", "type": "HTTP_REQUEST", "config": {"url": "API/leads/42"}}]}`)
			path := "/api/v1/workflows/" + id + "/execute"
			status, hdr, first := e.call("POST", path+"?wait=2m", op, `{"input": {}}`, "Idempotency-Key", "order-1")
			if status != http.StatusOK || first["status"] != "COMPLETED" || hdr.Get("Idempotent-Replayed") != "" {
				t.Fatalf("first: %d %v", status, first)
			}
			status, hdr, again := e.call("POST", path, op, `{"input": {}}`, "Idempotency-Key", "order-1")
			if status != http.StatusAccepted || again["executionId"] != first["id"] || again["status"] != "COMPLETED" || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("again: %d %v %v", status, again, hdr)
			}
			_, _, other := e.call("POST", path, op, `{"input": {}}`, "Idempotency-Key", "order-2")
			if other["executionId"] == first["id"] {
				t.Fatal("another key made no new execution")
			}
			if n := e.countCalls("/leads/42"); n > 2 {
				t.Fatalf("the step ran %d times for two keys", n)
			}
		})
	}
}

// TestPausedWorkflowQueues: executions of a PAUSED workflow wait, and run
// once it is ACTIVE again.
func TestPausedWorkflowQueues(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			ed, op := e.keys[server.RoleEditor], e.keys[server.RoleOperator]
			doc := `{"name": "pausable", "status": "PAUSED", "steps": [{"id": "get", "type": "HTTP_REQUEST", "config": {"url": "API/leads/42"}}]}`
			id := e.create(doc)
			status, hdr, got := e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=300ms", op, nil)
			if status != http.StatusAccepted || got["status"] != "PENDING" {
				t.Fatalf("execute a paused workflow: %d %v", status, got)
			}
			loc := hdr.Get("Location")
			if _, _, x := e.call("GET", loc, op, nil); x["status"] != "PENDING" || e.countCalls("/leads/42") != 0 {
				t.Fatalf("ran while paused: %v", x)
			}
			active := strings.Replace(strings.ReplaceAll(doc, "API", e.api), "PAUSED", "ACTIVE", 1)
			if status, _, got := e.call("PUT", "/api/v1/workflows/"+id, ed, active); status != http.StatusOK || got["status"] != "ACTIVE" {
				t.Fatalf("resume: %d %v", status, got)
			}
			if x := e.until(loc, op); x["status"] != "COMPLETED" {
				t.Fatalf("after resuming: %v", x)
			}
			draft := e.create(strings.Replace(doc, "PAUSED", "DRAFT", 1))
			if status, _, got := e.call("POST", "/api/v1/workflows/"+draft+"/execute", op, nil); status != http.StatusConflict || errorCode(t, got) != server.CodeConflict {
				t.Fatalf("execute a draft: %d %v", status, got)
			}
		})
	}
}

func TestValidateEndpoint(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			ed := e.keys[server.RoleEditor]
			status, _, got := e.call("POST", "/api/v1/workflows/validate", ed, e.leadWorkflow())
			if status != http.StatusOK || got["valid"] != true || got["steps"] != 4.0 {
				t.Fatalf("a valid definition: %d %v", status, got)
			}
			bad := `{"name": "bad",
  "steps": [{"id": "a", "type": "HTTP", "config": {}},
            {"id": "b", "type": "WAIT", "dependsOn": ["nope"], "config": {"duration": 1}}]}`
			status, _, got = e.call("POST", "/api/v1/workflows/validate", ed, bad)
			if status != http.StatusOK || got["valid"] != false {
				t.Fatalf("an invalid definition: %d %v", status, got)
			}
			problems := got["problems"].([]any)
			if len(problems) < 2 {
				t.Fatalf("want every problem, got %v", problems)
			}
			first := problems[0].(map[string]any)
			if first["path"] != "steps[0].type" || first["line"] != 2.0 || first["column"] == nil {
				t.Fatalf("first problem: %v", first)
			}
			// Nothing was stored.
			if _, _, list := e.call("GET", "/api/v1/workflows", ed, nil); len(list["items"].([]any)) != 0 {
				t.Fatalf("validate stored a workflow: %v", list)
			}
		})
	}
}
