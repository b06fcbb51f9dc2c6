package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftworks/weft/server"
)

// TestWorkflowMetrics runs the lead workflow four ways and a flaky one with
// retries, and reads their metrics: counts by status, success rate,
// durations, per-step runs, attempts, retries and failures, in a window or
// not.
func TestWorkflowMetrics(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			viewer := e.keys[server.RoleViewer]
			lead := e.createWorkflow(e.leadWorkflow())
			start := time.Now()

			// Nothing run yet: zeros, and null where there is nothing to compute.
			status, _, m := e.call("GET", "/api/v1/workflows/"+lead+"/metrics", viewer, nil)
			if status != http.StatusOK || m["workflowId"] != lead || m["totalExecutions"] != 0.0 || m["successRate"] != nil ||
				m["p95DurationMs"] != nil || len(m["steps"].([]any)) != 0 || m["byStatus"].(map[string]any)["COMPLETED"] != 0.0 {
				t.Fatalf("metrics of a workflow never run: %d %v", status, m)
			}

			// lead_123, 42: qualified (all steps); 7: not (the fan-out is
			// skipped); nope: the mock answers 404, get_lead fails.
			for lead_, want := range map[string]string{"lead_123": "COMPLETED", "42": "COMPLETED", "7": "COMPLETED", "nope": "FAILED"} {
				if x := e.execute(lead, `{"input":{"leadId":"`+lead_+`"}}`); x["status"] != want {
					t.Fatalf("lead %s: %v %v", lead_, x["status"], x["error"])
				}
			}

			status, _, m = e.call("GET", "/api/v1/workflows/"+lead+"/metrics", viewer, nil)
			if status != http.StatusOK {
				t.Fatalf("metrics: %d %v", status, m)
			}
			by := m["byStatus"].(map[string]any)
			if m["totalExecutions"] != 4.0 || m["finished"] != 4.0 || by["COMPLETED"] != 3.0 || by["FAILED"] != 1.0 ||
				by["RUNNING"] != 0.0 || m["successRate"] != 0.75 || m["sampleSize"] != 4.0 {
				t.Fatalf("metrics counts: %v", m)
			}
			for _, f := range []string{"avgDurationMs", "maxDurationMs", "p50DurationMs", "p95DurationMs"} {
				if v, ok := m[f].(float64); !ok || v < 0 {
					t.Fatalf("%s: %v", f, m[f])
				}
			}
			if m["p50DurationMs"].(float64) > m["p95DurationMs"].(float64) || m["p95DurationMs"].(float64) > m["maxDurationMs"].(float64) {
				t.Fatalf("durations out of order: %v", m)
			}
			last, err := time.Parse(time.RFC3339Nano, m["lastExecutionAt"].(string))
			if err != nil || last.Before(start.Add(-time.Second)) || last.After(time.Now().Add(time.Second)) {
				t.Fatalf("lastExecutionAt %v: %v", m["lastExecutionAt"], err)
			}
			steps := stepsByID(t, m)
			for id, want := range map[string]map[string]float64{
				"get_lead":  {"runs": 4, "completed": 3, "failed": 1, "attempts": 4, "retries": 0, "failedAttempts": 1},
				"shape":     {"runs": 3, "completed": 3, "failed": 0},
				"fan_out":   {"runs": 2, "completed": 2},
				"carrier_a": {"runs": 2, "completed": 2, "attempts": 2},
			} {
				for k, v := range want {
					if steps[id][k] != v {
						t.Errorf("step %s: %s = %v, want %v (%v)", id, k, steps[id][k], v, steps[id])
					}
				}
			}
			if steps["get_lead"]["type"] != "HTTP_REQUEST" || steps["get_lead"]["avgDurationMs"] == nil {
				t.Errorf("get_lead: %v", steps["get_lead"])
			}

			// Retries, and FOR_EACH items counted under their step's id.
			flaky := e.createWorkflow(`{"name": "retried", "steps": [
				{"id": "call", "type": "HTTP_REQUEST", "config": {"method": "GET", "url": "` + e.api + `/flaky?key=m&failures=2"},
				 "retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 10, "retryableErrors": ["HTTP_5XX"]}},
				{"id": "loop", "type": "FOR_EACH", "dependsOn": ["call"], "config": {"items": [1, 2, 3], "step":
				 {"id": "each", "type": "DATA_TRANSFORM", "config": {"source": {"n": "{{item}}"}, "operations": [{"type": "calculate", "field": "m", "expression": "n * 2"}]}}}}]}`)
			if x := e.execute(flaky, ``); x["status"] != "COMPLETED" {
				t.Fatalf("retried: %v %v", x["status"], x["error"])
			}
			_, _, m = e.call("GET", "/api/v1/orchestration/workflows/"+flaky+"/metrics", viewer, nil)
			steps = stepsByID(t, m)
			for id, want := range map[string]map[string]float64{
				"call": {"runs": 1, "completed": 1, "attempts": 3, "retries": 2, "failedAttempts": 2},
				"loop": {"runs": 1, "completed": 1},
				"each": {"runs": 3, "completed": 3, "attempts": 3},
			} {
				for k, v := range want {
					if steps[id][k] != v {
						t.Errorf("step %s: %s = %v, want %v (%v)", id, k, steps[id][k], v, steps[id])
					}
				}
			}
			if m["totalExecutions"] != 1.0 || m["successRate"] != 1.0 {
				t.Errorf("retried workflow: %v", m)
			}

			// Windows: RFC 3339 or Unix ms; an empty window has no figures.
			ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
			future := time.Now().Add(time.Hour)
			for q, total := range map[string]float64{
				"from=" + ms(start.Add(-time.Minute)):                        4,
				"from=" + start.Add(-time.Minute).UTC().Format(time.RFC3339): 4,
				"from=" + ms(start.Add(-time.Minute)) + "&to=" + ms(future):  4,
				"from=" + ms(future): 0,
				"to=" + start.Add(-time.Minute).UTC().Format(time.RFC3339):                 0,
				"from=" + ms(start.Add(-time.Hour)) + "&to=" + ms(start.Add(-time.Minute)): 0,
			} {
				status, _, m := e.call("GET", "/api/v1/workflows/"+lead+"/metrics?"+q, viewer, nil)
				if status != http.StatusOK || m["totalExecutions"] != total {
					t.Errorf("?%s: %d %v", q, status, m)
				}
				if total == 0 && (m["successRate"] != nil || m["avgDurationMs"] != nil || m["sampleSize"] != 0.0 || len(m["steps"].([]any)) != 0) {
					t.Errorf("?%s: figures without executions: %v", q, m)
				}
				if strings.HasPrefix(q, "from=") && m["from"] == nil {
					t.Errorf("?%s: the window is not in the answer: %v", q, m)
				}
			}

			for _, c := range []struct {
				name, path string
				status     int
				code       string
			}{
				{"unknown workflow", "/api/v1/workflows/nope/metrics", 404, server.CodeNotFound},
				{"bad from", "/api/v1/workflows/" + lead + "/metrics?from=yesterday", 400, server.CodeInvalidRequest},
				{"bad to", "/api/v1/workflows/" + lead + "/metrics?to=2026-13-01", 400, server.CodeInvalidRequest},
				{"from after to", "/api/v1/workflows/" + lead + "/metrics?from=2000&to=1000", 400, server.CodeInvalidRequest},
				{"unknown parameter", "/api/v1/workflows/" + lead + "/metrics?since=1000", 400, server.CodeInvalidRequest},
			} {
				status, _, got := e.call("GET", c.path, viewer, nil)
				if status != c.status || errorCode(t, got) != c.code {
					t.Errorf("%s: %d %v, want %d %s", c.name, status, got, c.status, c.code)
				}
			}
			// A deleted workflow has no metrics.
			if status, _, _ := e.call("DELETE", "/api/v1/workflows/"+flaky, e.keys[server.RoleEditor], nil); status != http.StatusNoContent {
				t.Fatalf("delete: %d", status)
			}
			if status, _, got := e.call("GET", "/api/v1/workflows/"+flaky+"/metrics", viewer, nil); status != http.StatusNotFound {
				t.Fatalf("metrics of a deleted workflow: %d %v", status, got)
			}
		})
	}
}

// stepsByID indexes a metrics answer's steps by id.
func stepsByID(t *testing.T, m map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, ok := m["steps"].([]any)
	if !ok {
		t.Fatalf("no steps in %v", m)
	}
	for _, s := range list {
		st := s.(map[string]any)
		out[st["stepId"].(string)] = st
	}
	return out
}
