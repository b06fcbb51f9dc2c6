package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

type createKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// createKey makes an API key. The key is in this answer only: weft keeps
// its hash.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "role: " + err.Error(),
			Details: []sdk.Problem{{Path: "role", Message: err.Error()}}}
	}
	if len(req.Name) > 200 {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "name: at most 200 characters",
			Details: []sdk.Problem{{Path: "name", Message: "at most 200 characters"}}}
	}
	secret, k, err := CreateKey(r.Context(), s.keys, req.Name, role)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		core.APIKey
		Key string `json:"key"`
	}{k, secret})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.keys.ListKeys(r.Context())
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	if keys == nil {
		keys = []core.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": keys})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.keys.RevokeKey(r.Context(), id)
	if errors.Is(err, core.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "API key %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	s.keyCache.clear() // cached by hash, which this server does not know
	w.WriteHeader(http.StatusNoContent)
	return nil
}
