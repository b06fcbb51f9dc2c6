package mockapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxBodyBytes caps the size of request bodies; larger bodies get 413.
const maxBodyBytes = 1 << 20

// Option configures a [Server] created by [New].
type Option func(*Server)

// WithWebhookSecret sets the Standard Webhooks secret used to verify
// POST /webhooks deliveries. A secret of the form "whsec_<base64>" is
// base64-decoded to obtain the HMAC key; any other non-empty secret is used
// as raw key bytes. An empty secret disables verification (the default), in
// which case every delivery is accepted and recorded with Verified=false.
func WithWebhookSecret(secret string) Option {
	return func(s *Server) { s.secret = secret }
}

// WithLogger sets the logger the server uses. Each request is logged at
// debug level. A nil logger discards all output (the default).
func WithLogger(logger *slog.Logger) Option {
	return func(s *Server) { s.logger = logger }
}

// WithoutRecording stops the server keeping a record of every request
// ([Server.Requests] stays empty): for load tests, where the records would
// grow without bound and their lock would be the bottleneck.
func WithoutRecording() Option {
	return func(s *Server) { s.noRecord = true }
}

// Request is a record of one HTTP request received by a [Server].
type Request struct {
	// Method is the HTTP method, e.g. "POST".
	Method string `json:"method"`
	// Path is the URL path, e.g. "/leads/42".
	Path string `json:"path"`
	// Query holds the parsed URL query parameters.
	Query url.Values `json:"query,omitempty"`
	// Headers holds the request headers (canonical names).
	Headers http.Header `json:"headers,omitempty"`
	// Body is the request body decoded as JSON (numbers as [encoding/json.Number]),
	// or the body as a string when it is not valid JSON, or nil when empty
	// or rejected for being too large.
	Body any `json:"body,omitempty"`
	// Time is when the request was received.
	Time time.Time `json:"time"`
}

// Delivery is a record of one webhook received on POST /webhooks.
type Delivery struct {
	// ID is the webhook-id header.
	ID string `json:"id"`
	// Timestamp is the webhook-timestamp header, verbatim.
	Timestamp string `json:"timestamp"`
	// Signature is the webhook-signature header, verbatim.
	Signature string `json:"signature"`
	// Verified reports whether the signature matched the configured secret.
	// It is always false when no secret is configured.
	Verified bool `json:"verified"`
	// Body is the payload decoded as JSON, or as a string when it is not
	// valid JSON, or nil when empty.
	Body any `json:"body"`
	// ReceivedAt is when the delivery was received.
	ReceivedAt time.Time `json:"receivedAt"`
}

// Server is an [net/http.Handler] mocking the external services the weft
// examples call. See the package documentation for the endpoints. A Server
// is safe for concurrent use.
type Server struct {
	mux    *http.ServeMux
	logger *slog.Logger
	secret string
	key    []byte // HMAC key for webhook signatures; nil disables verification
	// noRecord: WithoutRecording
	noRecord bool

	mu         sync.Mutex
	requests   []Request
	deliveries []Delivery
	flaky      map[string]int          // key → calls so far
	quoteSeq   map[string]int          // carrier → quotes issued
	quotes     map[quoteKey]quote      // (carrier, idempotency key) → first response
	contacts   map[string]contact      // lower-cased e-mail → contact
	contactSeq int                     // contacts created
	upserts    map[string]upsertRecord // idempotency key → first contact upsert
}

type quoteKey struct{ carrier, idempotencyKey string }

// New returns a Server configured with opts.
func New(opts ...Option) *Server {
	s := &Server{}
	for _, opt := range opts {
		opt(s)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.secret != "" {
		key, err := decodeSecret(s.secret)
		if err != nil {
			s.logger.Warn("webhook secret has the whsec_ prefix but is not valid base64; using its raw bytes as the key", "err", err)
		}
		s.key = key
	}
	s.resetLocked()
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /health", s.handleHealth)
	s.mux.HandleFunc("GET /leads", s.handleLeads)
	s.mux.HandleFunc("GET /leads/{id}", s.handleLead)
	s.mux.HandleFunc("POST /carriers/{name}", s.handleCarrier)
	s.mux.HandleFunc("PUT /crm/contacts/{email}", s.handleUpsertContact)
	s.mux.HandleFunc("GET /crm/contacts/{email}", s.handleGetContact)
	s.mux.HandleFunc("GET /flaky", s.handleFlaky)
	s.mux.HandleFunc("POST /flaky", s.handleFlaky)
	s.mux.HandleFunc("GET /slow", s.handleSlow)
	s.mux.HandleFunc("/status/{code}", s.handleStatus)
	s.mux.HandleFunc("/echo", s.handleEcho)
	s.mux.HandleFunc("POST /webhooks", s.handleWebhook)
	s.mux.HandleFunc("GET /webhooks/deliveries", s.handleDeliveries)
}

// ServeHTTP records the request, enforces the 1 MiB body cap and dispatches
// it to the matching endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.logger.Debug("request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status(), "duration", time.Since(start))
	}()

	var rec Request
	if !s.noRecord {
		rec = Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Headers: r.Header.Clone(), Time: start}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.record(rec)
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(sw, http.StatusRequestEntityTooLarge, "request body exceeds the 1 MiB limit")
			return
		}
		writeError(sw, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	if !s.noRecord {
		rec.Body = parseBody(raw)
		s.record(rec)
	}

	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, raw))
	r.Body = io.NopCloser(bytes.NewReader(raw))

	if h, pattern := s.mux.Handler(r); pattern == "" {
		// No route matched: run the mux's own 404/405 handler only to learn
		// its status and Allow header, then answer in JSON instead of text.
		probe := &probeWriter{header: make(http.Header)}
		h.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			sw.Header().Set("Allow", allow)
		}
		code := probe.code
		if code == 0 {
			code = http.StatusNotFound
		}
		writeError(sw, code, http.StatusText(code)+": "+r.Method+" "+r.URL.Path)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// Requests returns every request received since creation or the last
// [Server.Reset], in arrival order. The returned slice is a copy; the Body
// values must be treated as read-only.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Headers = r.Headers.Clone()
		out[i] = r
	}
	return out
}

// Deliveries returns every webhook received on POST /webhooks since creation
// or the last [Server.Reset], in arrival order, including those whose
// signature did not verify.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	copy(out, s.deliveries)
	return out
}

// Reset clears the recorded requests and deliveries, the /flaky counters,
// the carrier quote counters, the CRM contacts and the idempotency records,
// returning the server to its initial state.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.requests = nil
	s.deliveries = nil
	s.flaky = make(map[string]int)
	s.quoteSeq = make(map[string]int)
	s.quotes = make(map[quoteKey]quote)
	s.contacts = make(map[string]contact)
	s.contactSeq = 0
	s.upserts = make(map[string]upsertRecord)
}

func (s *Server) record(r Request) {
	if s.noRecord {
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

type bodyKey struct{}

// rawBody returns the request body already read by ServeHTTP.
func rawBody(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

// parseBody decodes b as JSON (numbers as json.Number), falling back to the
// body as a string, or nil when b is empty.
func parseBody(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if v, err := decodeJSON(b); err == nil {
		return v
	}
	return string(b)
}

// decodeJSON decodes exactly one JSON value from b, keeping numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// statusWriter remembers the status code written, for logging.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// probeWriter captures the status and headers of the mux's fallback handlers.
type probeWriter struct {
	header http.Header
	code   int
}

func (w *probeWriter) Header() http.Header { return w.header }
func (w *probeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *probeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
