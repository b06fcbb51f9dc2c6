package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftworks/weft/server"
)

// TestActive lists the executions under way (two parked in a long WAIT),
// page by page, and reads the status of one of them and of a finished one.
func TestActive(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			viewer, op := e.keys[server.RoleViewer], e.keys[server.RoleOperator]
			parked := e.createWorkflow(`{"name": "parked", "steps": [{"id": "pause", "type": "WAIT", "config": {"duration": 600000}}]}`)
			lead := e.createWorkflow(e.leadWorkflow())
			done := e.execute(lead, `{"input":{"leadId":"lead_123"}}`)["id"].(string)

			var waiting []string
			for range 2 {
				status, _, got := e.call("POST", "/api/v1/workflows/"+parked+"/execute", op, `{}`)
				if status != http.StatusAccepted {
					t.Fatalf("execute: %d %v", status, got)
				}
				waiting = append(waiting, got["requestId"].(string))
			}
			slices.Sort(waiting)
			slices.Reverse(waiting) // newest first
			// Both parked, WAITING.
			deadline := time.Now().Add(hangGuard)
			for {
				_, _, page := e.call("GET", "/api/orchestration/active?status=WAITING", viewer, nil)
				if len(page["items"].([]any)) == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not both WAITING: %v", page)
				}
				time.Sleep(20 * time.Millisecond)
			}

			// Page by page: only the unfinished, newest first.
			var seen []string
			cursor := ""
			for pages := 0; ; pages++ {
				status, _, page := e.call("GET", "/api/orchestration/active?limit=1&cursor="+cursor, viewer, nil)
				if status != http.StatusOK || pages > 2 {
					t.Fatalf("page %d: %d %v", pages, status, page)
				}
				for _, it := range page["items"].([]any) {
					rec := it.(map[string]any)
					if rec["active"] != true || rec["status"] != "WAITING" || rec["requestId"] != rec["executionId"] ||
						rec["workflowId"] != parked || rec["location"] != "/api/v1/executions/"+rec["executionId"].(string) {
						t.Fatalf("active item: %v", rec)
					}
					seen = append(seen, rec["requestId"].(string))
				}
				next, _ := page["nextCursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if strings.Join(seen, ",") != strings.Join(waiting, ",") {
				t.Fatalf("active: %v, want %v", seen, waiting)
			}

			for q, n := range map[string]int{
				"workflowId=" + parked: 2, "workflowId=" + lead: 0, "status=running": 0, "status=WAITING": 2,
				"from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339): 0,
			} {
				status, _, page := e.call("GET", "/api/orchestration/active?"+q, viewer, nil)
				if status != http.StatusOK || len(page["items"].([]any)) != n {
					t.Errorf("?%s: %d %v, want %d items", q, status, page, n)
				}
			}

			// One execution's status record, parked or finished.
			status, _, rec := e.call("GET", "/api/orchestration/active/"+waiting[0], viewer, nil)
			if status != http.StatusOK || rec["active"] != true || rec["status"] != "WAITING" || rec["wakeAt"] == nil ||
				!sameJSON(rec["currentSteps"], `["pause"]`) || !sameJSON(rec["stepCounts"], `{"WAITING": 1}`) {
				t.Fatalf("status of a parked execution: %d %v", status, rec)
			}
			if _, found := rec["input"]; found {
				t.Fatalf("a status record carries the input: %v", rec)
			}
			status, _, rec = e.call("GET", "/api/orchestration/active/"+done, viewer, nil)
			if status != http.StatusOK || rec["active"] != false || rec["status"] != "COMPLETED" || rec["finishedAt"] == nil ||
				rec["currentSteps"] != nil || rec["stepCounts"].(map[string]any)["COMPLETED"] != 6.0 {
				t.Fatalf("status of a finished execution: %d %v", status, rec)
			}

			for _, c := range []struct {
				name, path string
				status     int
				code       string
			}{
				{"unknown request", "/api/orchestration/active/nope", 404, server.CodeNotFound},
				{"finished status", "/api/orchestration/active?status=COMPLETED", 400, server.CodeInvalidRequest},
				{"not a status", "/api/orchestration/active?status=DONE", 400, server.CodeInvalidRequest},
				{"bad cursor", "/api/orchestration/active?cursor=garbage!", 400, server.CodeInvalidRequest},
				{"bad limit", "/api/orchestration/active?limit=0", 400, server.CodeInvalidRequest},
				{"bad from", "/api/orchestration/active?from=soon", 400, server.CodeInvalidRequest},
				{"unknown parameter", "/api/orchestration/active?state=WAITING", 400, server.CodeInvalidRequest},
			} {
				status, _, got := e.call("GET", c.path, viewer, nil)
				if status != c.status || errorCode(t, got) != c.code {
					t.Errorf("%s: %d %v, want %d %s", c.name, status, got, c.status, c.code)
				}
			}
			if status, _, _ := e.call("GET", "/api/orchestration/active", "", nil); status != http.StatusUnauthorized {
				t.Errorf("active without a key: %d", status)
			}
		})
	}
}
