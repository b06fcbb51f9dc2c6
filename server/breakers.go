package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Circuit breakers, as core.Breakers keeps them (in the database, shared by
// every instance). A breaker's JSON is core.BreakerState: state, config and
// where it comes from (step or api), counters and times.

// maxServiceID bounds a service id, as a step's circuitBreaker does.
const maxServiceID = 200

func (s *Server) listBreakers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "state"); err != nil {
		return err
	}
	state := strings.ToUpper(q.Get("state"))
	switch state {
	case "", core.BreakerClosed, core.BreakerOpen, core.BreakerHalfOpen:
	default:
		return badParam("state", "%q is not a breaker state (CLOSED, OPEN, HALF_OPEN)", q.Get("state"))
	}
	list, err := s.engine.Breakers().List(r.Context())
	if err != nil {
		return fmt.Errorf("list breakers: %w", err)
	}
	items := make([]core.BreakerState, 0, len(list))
	for _, b := range list {
		if state == "" || b.State == state {
			items = append(items, b)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) getBreaker(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("serviceId")
	st, err := s.engine.Breakers().Get(r.Context(), id)
	if err != nil {
		return breakerError(id, "get", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// breakerConfigRequest is the body of PUT …/config. A field left out keeps
// the breaker's current value (the default, for a breaker that does not
// exist yet); at least one must be given.
type breakerConfigRequest struct {
	Threshold        *int   `json:"threshold"`
	Timeout          *int64 `json:"timeout"`
	HalfOpenMaxCalls *int   `json:"halfOpenMaxCalls"`
}

// setBreakerConfig sets a breaker's config; it then wins over what steps
// declare. A breaker that does not exist yet is created (CLOSED), so an
// operator may configure it before its first call.
func (s *Server) setBreakerConfig(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("serviceId")
	if len(id) > maxServiceID {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation,
			Message: fmt.Sprintf("serviceId: must be at most %d characters", maxServiceID),
			Details: []sdk.Problem{{Path: "serviceId", Message: fmt.Sprintf("must be at most %d characters", maxServiceID)}}}
	}
	var req breakerConfigRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Threshold == nil && req.Timeout == nil && req.HalfOpenMaxCalls == nil {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation,
			Message: "give at least one of threshold, timeout (ms), halfOpenMaxCalls",
			Details: []sdk.Problem{{Message: "give at least one of threshold, timeout (ms), halfOpenMaxCalls"}}}
	}
	st, err := s.engine.Breakers().UpdateConfig(r.Context(), id, func(c *core.BreakerConfig) {
		if req.Threshold != nil {
			c.Threshold = *req.Threshold
		}
		if req.Timeout != nil {
			c.Timeout = *req.Timeout
		}
		if req.HalfOpenMaxCalls != nil {
			c.HalfOpenMaxCalls = *req.HalfOpenMaxCalls
		}
	})
	var ve *sdk.ValidationError
	if errors.As(err, &ve) {
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: ve.Error(), Details: ve.Problems}
	}
	if err != nil {
		return fmt.Errorf("set config of breaker %s: %w", id, err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// resetBreaker closes a breaker and clears its failure counts; its config
// stays.
func (s *Server) resetBreaker(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	id := r.PathValue("serviceId")
	st, err := s.engine.Breakers().Reset(r.Context(), id)
	if err != nil {
		return breakerError(id, "reset", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// deleteBreaker forgets a breaker: its counters, and a config set through
// the API. The next call through it starts CLOSED with its step's config.
func (s *Server) deleteBreaker(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("serviceId")
	if err := s.engine.Breakers().Delete(r.Context(), id); err != nil {
		return breakerError(id, "delete", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func breakerError(id, what string, err error) error {
	if errors.Is(err, core.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeNotFound, "circuit breaker %q not found", id)
	}
	return fmt.Errorf("%s breaker %s: %w", what, id, err)
}
