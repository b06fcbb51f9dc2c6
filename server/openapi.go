package server

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the API's OpenAPI 3.1 document, written by hand;
// openapi_test.go checks it against the route table (every route
// documented, nothing documented that is not a route).
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}
