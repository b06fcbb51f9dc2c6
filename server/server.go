// Package server is weft's REST API: every endpoint of the original design
// on one port, over the durable engine. Handlers are thin: decode, call core
// or a store, encode. The stores it needs are the interfaces of stores.go.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weftworks/weft/core"
)

// DefaultMaxBody bounds request bodies unless Options.MaxBody says otherwise.
const DefaultMaxBody = 4 << 20

// Options configure a Server. Engine, Catalog and Keys are required.
type Options struct {
	Engine  *core.Engine
	Catalog Catalog
	Keys    Keys
	// Ready reports whether the server can do its work (database reachable,
	// migrations applied); /ready answers 503 while it fails.
	Ready func(ctx context.Context) error
	// Logger receives one line per failed request (never keys or bodies).
	Logger *slog.Logger
	// MaxBody bounds request bodies, in bytes; default DefaultMaxBody.
	MaxBody int64
	// NoAuth serves every request as an admin, without a key: for local
	// development only; cmd/weft refuses it on a non-loopback address.
	NoAuth bool
	// MaxWait bounds ?wait= on execute; default 60s.
	MaxWait time.Duration
	// Rules serves /api/v1/transformation-rules; nil answers 404 there.
	Rules Rules
	// Modules serves /api/v1/modules; nil answers 404 there.
	Modules Modules
	// MaxModuleSize bounds an uploaded module, in bytes; default
	// DefaultMaxModuleSize.
	MaxModuleSize int64
	// Plugins serves /api/v1/plugins; nil answers 404 there.
	Plugins Plugins
	// CatalogChanges, when set, receives when workflows or API keys changed
	// elsewhere (another instance sharing PostgreSQL: db.Store's
	// CatalogChanges): the server then drops what it cached of them at
	// once instead of within lookupTTL. Closing it stops the watch.
	CatalogChanges <-chan struct{}
}

// Server serves the API. It is an http.Handler.
type Server struct {
	engine  *core.Engine
	catalog Catalog
	keys    Keys
	ready   func(ctx context.Context) error
	log     *slog.Logger
	maxBody int64
	noAuth  bool
	maxWait time.Duration
	rules   Rules
	modules Modules
	// maxModuleSize caps module uploads (library.go).
	maxModuleSize int64
	plugins       Plugins
	mux           *http.ServeMux
	// What every request looks up: the caller's key (by hash), the
	// workflow it runs (cache.go).
	keyCache lookupCache[core.APIKey]
	wfCache  lookupCache[*core.WorkflowInfo]
}

// New returns a server.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil || opts.Catalog == nil || opts.Keys == nil {
		return nil, errors.New("server: Engine, Catalog and Keys are required")
	}
	s := &Server{
		engine: opts.Engine, catalog: opts.Catalog, keys: opts.Keys, ready: opts.Ready, log: opts.Logger,
		maxBody: opts.MaxBody, noAuth: opts.NoAuth, maxWait: opts.MaxWait, mux: http.NewServeMux(),
		rules: opts.Rules, modules: opts.Modules, maxModuleSize: opts.MaxModuleSize, plugins: opts.Plugins,
	}
	if s.maxModuleSize <= 0 {
		s.maxModuleSize = DefaultMaxModuleSize
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.maxWait <= 0 {
		s.maxWait = time.Minute
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.handler(rt))
	}
	if opts.CatalogChanges != nil {
		go func() {
			for range opts.CatalogChanges {
				s.keyCache.clear()
				s.wfCache.clear()
			}
		}()
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // it sets the path values; Handler does not
		return
	}
	// No route: the mux's own answer (404, or 405 with Allow), as JSON.
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
		s.fail(w, r, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		return
	}
	if probe.status == http.StatusMovedPermanently || probe.status == http.StatusTemporaryRedirect || probe.status == http.StatusPermanentRedirect {
		h.ServeHTTP(w, r) // path cleaning: let the mux redirect
		return
	}
	s.fail(w, r, errorf(http.StatusNotFound, CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

// statusProbe records what the mux would answer to a request it has no
// route for.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

// route is one endpoint: its ServeMux pattern, what a caller needs, and its
// handler. The routes table is the single source for the mux, the role
// matrix and the OpenAPI check.
type route struct {
	method, path string
	perm         permission
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// handler wraps a route: authorization, body limit and media type, errors
// as JSON, and a recovered panic as a 500 that keeps the server serving.
func (s *Server) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
				s.fail(w, r, errorf(http.StatusInternalServerError, CodeInternal, "internal error"))
			}
		}()
		r, err := s.authorize(r, rt.perm)
		if err == nil && r.Body != nil && r.Body != http.NoBody && hasBody(r.Method) {
			if limit, raw := s.rawBodyLimit(rt); raw {
				r.Body = http.MaxBytesReader(w, r.Body, limit) // the handler checks the media type
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
				err = checkMediaType(r)
			}
		}
		if err == nil {
			err = rt.handle(w, r)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

func hasBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// checkMediaType accepts JSON (and YAML, which workflow documents may be)
// or no Content-Type at all; anything else, such as the form encoding curl
// sends by default with -d, is refused with a hint.
func checkMediaType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch {
		case mt == "application/json", mt == "text/json", strings.HasSuffix(mt, "+json"),
			mt == "application/yaml", mt == "application/x-yaml", mt == "text/yaml":
			return nil
		}
	}
	return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType,
		"Content-Type %q is not accepted: send JSON with \"Content-Type: application/json\"", ct)
}

// fail writes an error as JSON. Internal errors are logged (with what
// failed, never the body or the key) and answered without detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := asAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weft"`)
	}
	writeJSON(w, ae.Status, map[string]any{"error": ae})
}

// writeJSON writes v as the JSON response, with encoding/json (omitzero
// and all); an execution's record, answered far more often, has its own
// encoder (record.go). If v cannot be encoded the answer is a bare 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	err := writeEncoded(w, status, func(b []byte) ([]byte, error) {
		buf := bytes.NewBuffer(b)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil // writeEncoded ends it
	})
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"code":"INTERNAL","message":"the answer could not be encoded"}}`+"\n")
	}
}

// answerBuffers hold encoded answers; one that grew past maxPooledAnswer
// is not kept.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const maxPooledAnswer = 256 << 10

// writeEncoded answers status with the JSON that encode appends, sent with
// its length in one piece. A value that cannot be encoded (a NaN in an
// output) is an internal error, returned before anything was written.
func writeEncoded(w http.ResponseWriter, status int, encode func([]byte) ([]byte, error)) error {
	bp := answerBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledAnswer {
			answerBuffers.Put(bp)
		}
	}()
	b, err := encode((*bp)[:0])
	if err != nil {
		return err
	}
	b = append(b, '\n') // as json.Encoder ends every value
	*bp = b
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// IsLoopback reports whether a listen address only accepts local
// connections (--no-auth is refused elsewhere).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
