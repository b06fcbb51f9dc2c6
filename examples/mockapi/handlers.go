package mockapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSlowMs bounds GET /slow so a typo cannot park a request for hours.
const maxSlowMs = 300_000

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// quote is the response of POST /carriers/{name}.
type quote struct {
	Carrier        string  `json:"carrier"`
	Accepted       bool    `json:"accepted"`
	QuoteID        string  `json:"quoteId"`
	Premium        float64 `json:"premium"`
	IdempotencyKey string  `json:"idempotencyKey"`
	Replayed       bool    `json:"replayed"`
	Received       any     `json:"received"`
}

func (s *Server) handleCarrier(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "down" {
		writeError(w, http.StatusServiceUnavailable, `carrier "down" is unavailable`)
		return
	}
	var body any
	if raw := rawBody(r); len(strings.TrimSpace(string(raw))) > 0 {
		v, err := decodeJSON(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "request body is not valid JSON: "+err.Error())
			return
		}
		body = v
	}
	key := r.Header.Get("Idempotency-Key")

	s.mu.Lock()
	if key != "" {
		if prev, ok := s.quotes[quoteKey{name, key}]; ok {
			s.mu.Unlock()
			prev.Replayed = true
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSON(w, http.StatusCreated, prev)
			return
		}
	}
	s.quoteSeq[name]++
	q := quote{
		Carrier:        name,
		Accepted:       true,
		QuoteID:        "q-" + name + "-" + strconv.Itoa(s.quoteSeq[name]),
		Premium:        premiumFor(body),
		IdempotencyKey: key,
		Received:       body,
	}
	if key != "" {
		s.quotes[quoteKey{name, key}] = q
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, q)
}

// premiumFor derives a premium of 100 + 1.5×score (or priority), rounded to
// cents, defaulting to 100 when the body has neither as a number.
func premiumFor(body any) float64 {
	m, ok := body.(map[string]any)
	if !ok {
		return 100
	}
	for _, field := range []string{"score", "priority"} {
		if v, ok := toFloat(m[field]); ok {
			return math.Round((100+1.5*v)*100) / 100
		}
	}
	return 100
}

func toFloat(v any) (float64, bool) {
	var f float64
	var err error
	switch v := v.(type) {
	case json.Number:
		f, err = v.Float64()
	case float64:
		f = v
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
	default:
		return 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func (s *Server) handleFlaky(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" {
		key = "default"
	}
	failures, err := intParam(q.Get("failures"), 2, 0, math.MaxInt32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "failures: "+err.Error())
		return
	}
	status, err := intParam(q.Get("status"), http.StatusServiceUnavailable, 400, 599)
	if err != nil {
		writeError(w, http.StatusBadRequest, "status: "+err.Error())
		return
	}
	retryAfter := q.Get("retryAfter")

	s.mu.Lock()
	s.flaky[key]++
	attempt := s.flaky[key]
	s.mu.Unlock()

	if attempt <= failures {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeJSON(w, status, map[string]any{"error": "flaky failure", "attempt": attempt})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "attempts": attempt})
}

func (s *Server) handleSlow(w http.ResponseWriter, r *http.Request) {
	ms, err := intParam(r.URL.Query().Get("ms"), 1000, 0, maxSlowMs)
	if err != nil {
		writeError(w, http.StatusBadRequest, "ms: "+err.Error())
		return
	}
	start := time.Now()
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		writeJSON(w, http.StatusOK, map[string]int{"sleptMs": ms})
	case <-r.Context().Done():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":   "request cancelled",
			"sleptMs": time.Since(start).Milliseconds(),
		})
	}
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	code, err := intParam(r.PathValue("code"), 0, 200, 599)
	if err != nil {
		writeError(w, http.StatusBadRequest, "status code: "+err.Error())
		return
	}
	writeJSON(w, code, map[string]int{"status": code})
}

// echoResponse is the response of /echo.
type echoResponse struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   map[string]any    `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"`
}

func (s *Server) handleEcho(w http.ResponseWriter, r *http.Request) {
	query := make(map[string]any)
	for k, vs := range r.URL.Query() {
		if len(vs) == 1 {
			query[k] = vs[0]
		} else {
			query[k] = vs
		}
	}
	headers := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	writeJSON(w, http.StatusOK, echoResponse{
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   query,
		Headers: headers,
		Body:    parseBody(rawBody(r)),
	})
}

// intParam parses s as an integer in [lo, hi], returning def when s is empty.
func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errInvalidInt{s, lo, hi}
	}
	if n < lo || n > hi {
		return 0, errInvalidInt{s, lo, hi}
	}
	return n, nil
}

type errInvalidInt struct {
	value  string
	lo, hi int
}

func (e errInvalidInt) Error() string {
	return strconv.Quote(e.value) + " is not an integer between " + strconv.Itoa(e.lo) + " and " + strconv.Itoa(e.hi)
}
