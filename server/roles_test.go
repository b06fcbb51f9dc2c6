package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/weftworks/weft/server"
)

// TestForbiddenNamesRoles checks that a 403 says which role the call needs
// and which the caller's key has, in the roles users are given (viewer,
// operator, editor, admin), not the server's internal permissions.
func TestForbiddenNamesRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(t)["sqlite"](t))
	tests := []struct {
		role         server.Role
		method, path string
		body         any
		want         string
	}{
		{server.RoleViewer, "POST", "/api/v1/workflows/00000000-0000-0000-0000-000000000000/execute", "{}",
			"POST /api/v1/workflows/00000000-0000-0000-0000-000000000000/execute needs the operator role or higher; this key (weft_"},
		{server.RoleOperator, "POST", "/api/v1/workflows", e.leadWorkflow(), "needs the editor role or higher"},
		{server.RoleEditor, "POST", "/api/v1/circuit-breakers/x/reset", nil, "needs the admin role;"},
		{server.RoleViewer, "GET", "/api/v1/api-keys", nil, "needs the admin role;"},
	}
	for _, tt := range tests {
		status, _, body := e.call(tt.method, tt.path, e.keys[tt.role], tt.body)
		if status != http.StatusForbidden || errorCode(t, body) != server.CodeForbidden {
			t.Fatalf("%s %s as %s: %d %v, want 403 FORBIDDEN", tt.method, tt.path, tt.role, status, body)
		}
		msg := body["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, tt.want) || !strings.HasSuffix(msg, "has the "+string(tt.role)+" role") {
			t.Errorf("%s %s as %s: message %q, want it to contain %q and end with the caller's role", tt.method, tt.path, tt.role, msg, tt.want)
		}
		if strings.Contains(msg, "permission") {
			t.Errorf("message %q names an internal permission", msg)
		}
	}
}

// TestListWorkflowsByName checks ?name=: exact names, several workflows of
// one name, and names needing escapes in the query.
func TestListWorkflowsByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(t)["sqlite"](t))
	admin := e.keys[server.RoleAdmin]
	def := func(name string) string {
		return `{"name": ` + jsonString(name) + `, "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`
	}
	for _, name := range []string{"alpha", "alpha", "alpha beta & co", "Alpha"} {
		if status, _, body := e.call("POST", "/api/v1/workflows", admin, def(name)); status != http.StatusCreated {
			t.Fatalf("create %q: %d %v", name, status, body)
		}
	}
	for name, want := range map[string]int{"alpha": 2, "alpha beta & co": 1, "Alpha": 1, "alph": 0} {
		status, _, body := e.call("GET", "/api/v1/workflows?name="+queryEscape(name), admin, nil)
		if status != http.StatusOK {
			t.Fatalf("list %q: %d %v", name, status, body)
		}
		items := body["items"].([]any)
		if len(items) != want {
			t.Errorf("?name=%s: %d workflows, want %d", name, len(items), want)
		}
		for _, it := range items {
			if got := it.(map[string]any)["name"]; got != name {
				t.Errorf("?name=%s listed %v", name, got)
			}
		}
	}
}

func jsonString(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

func queryEscape(s string) string { return url.QueryEscape(s) }
