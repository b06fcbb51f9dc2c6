package server

import (
	"net/http"
	"strings"
)

// routes is every endpoint. Those under /api/v1/ (but health, the keys, the
// stored scripts and the OpenAPI document) are served under /api/v1/orchestration/ too, as the
// original served them. server/openapi.json documents every one of them
// (openapi_test.go checks it).
func (s *Server) routes() []route {
	rs := []route{
		{"GET", "/health", permPublic, s.health},
		{"GET", "/ready", permPublic, s.readiness},
		{"GET", "/api/v1/orchestration/health", permPublic, s.orchestrationHealth},
		{"GET", "/api/v1/openapi.json", permPublic, s.openAPI},

		{"POST", "/api/v1/workflows", permAuthor, s.createWorkflow},
		{"GET", "/api/v1/workflows", permRead, s.listWorkflows},
		{"POST", "/api/v1/workflows/validate", permAuthor, s.validateWorkflow},
		{"POST", "/api/v1/workflows/apply", permAuthor, s.applyWorkflow},
		{"GET", "/api/v1/workflows/{id}", permRead, s.getWorkflow},
		{"PUT", "/api/v1/workflows/{id}", permAuthor, s.updateWorkflow},
		{"DELETE", "/api/v1/workflows/{id}", permAuthor, s.deleteWorkflow},
		{"POST", "/api/v1/workflows/{id}/execute", permRun, s.executeWorkflow},
		{"GET", "/api/v1/workflows/{id}/metrics", permRead, s.workflowMetrics},

		{"GET", "/api/v1/executions", permRead, s.listExecutions},
		{"GET", "/api/v1/executions/{id}", permRead, s.getExecution},
		{"POST", "/api/v1/executions/{id}/cancel", permRun, s.cancelExecution},
		{"POST", "/api/v1/executions/{id}/retry", permRun, s.retryExecution},

		{"GET", "/api/v1/circuit-breakers", permRead, s.listBreakers},
		{"GET", "/api/v1/circuit-breakers/{serviceId}", permRead, s.getBreaker},
		{"PUT", "/api/v1/circuit-breakers/{serviceId}/config", permAdmin, s.setBreakerConfig},
		{"POST", "/api/v1/circuit-breakers/{serviceId}/reset", permAdmin, s.resetBreaker},
		{"DELETE", "/api/v1/circuit-breakers/{serviceId}", permAdmin, s.deleteBreaker},

		{"POST", "/api/orchestration/execute", permAuthor, s.executeInline},
		{"GET", "/api/orchestration/active", permRead, s.listActive},
		{"GET", "/api/orchestration/active/{requestId}", permRead, s.getActive},

		{"GET", "/api/v1/transformation-rules", permRead, s.listRules},
		{"POST", "/api/v1/transformation-rules", permAuthor, s.createRule},
		{"GET", "/api/v1/transformation-rules/{name}", permRead, s.getRule},
		{"PUT", "/api/v1/transformation-rules/{name}", permAuthor, s.updateRule},
		{"DELETE", "/api/v1/transformation-rules/{name}", permAuthor, s.deleteRule},

		{"GET", "/api/v1/modules", permRead, s.listModules},
		{"POST", "/api/v1/modules", permAdmin, s.uploadModule},
		{"GET", "/api/v1/modules/{name}", permRead, s.getModule},
		{"DELETE", "/api/v1/modules/{name}", permAdmin, s.deleteModule},

		{"GET", "/api/v1/plugins", permRead, s.listPlugins},
		{"POST", "/api/v1/plugins/reload", permAdmin, s.reloadPlugins},

		{"GET", "/api/v1/api-keys", permAdmin, s.listKeys},
		{"POST", "/api/v1/api-keys", permAdmin, s.createKey},
		{"DELETE", "/api/v1/api-keys/{id}", permAdmin, s.revokeKey},
	}
	for _, rt := range rs {
		rest, ok := strings.CutPrefix(rt.path, "/api/v1/")
		if !ok || strings.HasPrefix(rest, "orchestration/") || strings.HasPrefix(rest, "api-keys") || rest == "openapi.json" ||
			strings.HasPrefix(rest, "transformation-rules") || strings.HasPrefix(rest, "modules") || strings.HasPrefix(rest, "plugins") { // new resources: no alias
			continue
		}
		alias := rt
		alias.path = "/api/v1/orchestration/" + rest
		rs = append(rs, alias)
	}
	return rs
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readiness answers 200 when the database is reachable and its migrations
// applied, else 503 with the reason.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) error {
	if err := s.ready(r.Context()); err != nil {
		// Public: the reason is logged, not told (driver errors name hosts
		// and users).
		s.log.Warn("not ready", "err", err)
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "not ready: the database is unreachable or not migrated (see the server log)")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// orchestrationHealth is the original's health report: overall status and
// its parts.
func (s *Server) orchestrationHealth(w http.ResponseWriter, r *http.Request) error {
	status, db := http.StatusOK, "up"
	if err := s.ready(r.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		status, db = http.StatusServiceUnavailable, "down"
	}
	overall := "healthy"
	if status != http.StatusOK {
		overall = "unhealthy"
	}
	writeJSON(w, status, map[string]any{
		"status":     overall,
		"components": map[string]string{"database": db, "engine": "up"},
	})
	return nil
}

// Endpoint describes one route and the permission it needs: public, read,
// run, author or admin.
type Endpoint struct {
	Method, Path, Permission string
}

// Endpoints lists every route, aliases included (docs, tests, the OpenAPI
// check).
func (s *Server) Endpoints() []Endpoint {
	var out []Endpoint
	for _, rt := range s.routes() {
		out = append(out, Endpoint{Method: rt.method, Path: rt.path, Permission: rt.perm.String()})
	}
	return out
}
