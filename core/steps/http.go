package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/egress"
	"github.com/weftworks/weft/sdk"
)

// HTTPRequest is the HTTP_REQUEST step.
//
// Config: method (default GET), url, headers, query, body (objects and arrays
// are sent as JSON, strings as they are), acceptStatus (codes such as 200 or
// patterns such as "2xx"; default 2xx), maxResponseBytes. Output:
// {status, headers, body} with JSON bodies parsed. A status outside
// acceptStatus fails the step with code HTTP_<status>, retryable for 408, 429
// and 5xx; Retry-After is passed on to the retry policy.
type HTTPRequest struct {
	opts Options
}

var (
	_ sdk.Step          = (*HTTPRequest)(nil)
	_ sdk.ConfigChecker = (*HTTPRequest)(nil)
)

// Info implements sdk.Component.
func (h *HTTPRequest) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeHTTPRequest,
		Summary: "Calls an HTTP API and returns {status, headers, body}.",
		New:     func() sdk.Component { return &HTTPRequest{opts: h.opts} }}
}

type httpConfig struct {
	Method           string         `json:"method"`
	URL              string         `json:"url"`
	Headers          map[string]any `json:"headers"`
	Query            map[string]any `json:"query"`
	Body             any            `json:"body"`
	AcceptStatus     []any          `json:"acceptStatus"`
	MaxResponseBytes int64          `json:"maxResponseBytes"`
}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// CheckConfig implements sdk.ConfigChecker.
func (*HTTPRequest) CheckConfig(config sdk.Value) error {
	ve := &sdk.ValidationError{}
	if err := sdk.CheckConfigShape(config, httpConfig{}); err != nil {
		ve.Problems = append(ve.Problems, err.(*sdk.ValidationError).Problems...)
	}
	m, _ := config.(map[string]any)
	checkMethod(ve, m["method"])
	checkURL(ve, m["url"])
	if list, ok := m["acceptStatus"].([]any); ok {
		for i, s := range list {
			if _, err := parseStatusPattern(s); err != nil {
				ve.Add(fmt.Sprintf("acceptStatus[%d]", i), "%v", err)
			}
		}
	}
	return ve.Err()
}

func checkMethod(ve *sdk.ValidationError, v any) {
	s, ok := v.(string)
	if !ok || core.HasTemplate(s) {
		return
	}
	for _, m := range httpMethods {
		if strings.EqualFold(s, m) {
			return
		}
	}
	ve.Add("method", "%q is not one of %s", s, strings.Join(httpMethods, ", "))
}

// checkURL checks what can be checked before templates are rendered: a URL
// that starts with a template is checked at run time only.
func checkURL(ve *sdk.ValidationError, v any) {
	s, ok := v.(string)
	if !ok || s == "" {
		if v == nil {
			ve.Add("url", "is required")
		}
		return
	}
	if strings.HasPrefix(s, "{{") {
		return
	}
	probe := s
	if i := strings.Index(probe, "{{"); i >= 0 {
		probe = probe[:i] + "x"
	}
	u, err := url.Parse(probe)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ve.Add("url", "%q is not an http:// or https:// URL", s)
	}
}

// statusPattern matches a status code: 200, or "2xx", or "200-299".
type statusPattern struct{ lo, hi int }

func parseStatusPattern(v any) (statusPattern, error) {
	switch x := v.(type) {
	case float64:
		if x >= 100 && x <= 599 && x == float64(int(x)) {
			return statusPattern{int(x), int(x)}, nil
		}
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
			base := int(s[0]-'0') * 100
			return statusPattern{base, base + 99}, nil
		}
		if lo, hi, ok := strings.Cut(s, "-"); ok {
			l, e1 := strconv.Atoi(lo)
			h, e2 := strconv.Atoi(hi)
			if e1 == nil && e2 == nil && l >= 100 && h <= 599 && l <= h {
				return statusPattern{l, h}, nil
			}
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
			return statusPattern{n, n}, nil
		}
	}
	return statusPattern{}, fmt.Errorf("%v is not a status code (200), class (\"2xx\") or range (\"200-299\")", v)
}

// Run implements sdk.Step.
func (h *HTTPRequest) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	var cfg httpConfig
	if err := in.Decode(&cfg); err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	ve := &sdk.ValidationError{}
	checkMethod(ve, cfg.Method)
	checkURL(ve, cfg.URL)
	accept := make([]statusPattern, 0, len(cfg.AcceptStatus))
	for _, a := range cfg.AcceptStatus {
		p, err := parseStatusPattern(a)
		if err != nil {
			ve.Add("acceptStatus", "%v", err)
		}
		accept = append(accept, p)
	}
	if err := ve.Err(); err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	target, err := withQuery(cfg.URL, cfg.Query)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "url: %v", err)
	}
	body, contentType, err := encodeBody(cfg.Body)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "body: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(cfg.Method), target, body)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", h.opts.UserAgent)
	req.Header.Set("Accept", "application/json, */*;q=0.5")
	// Stable across the attempts of this step in this execution, so a retried
	// POST is recognised by APIs that support idempotency keys.
	if in.Run.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.Run.IdempotencyKey)
	}
	for k, v := range cfg.Headers {
		req.Header.Set(k, core.Stringify(v))
	}
	limit := h.opts.MaxResponseBytes
	if cfg.MaxResponseBytes > 0 && cfg.MaxResponseBytes < limit {
		limit = cfg.MaxResponseBytes
	}
	out, err := do(ctx, h.opts, req, limit)
	if err != nil {
		return sdk.Output{}, err
	}
	if !accepted(out.status, accept) {
		return sdk.Output{}, statusError(out)
	}
	return sdk.Output{Data: out.value()}, nil
}

func withQuery(raw string, query map[string]any) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	if len(query) == 0 {
		return u.String(), nil
	}
	q := u.Query()
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := query[k].(type) {
		case nil:
		case []any:
			for _, e := range v {
				q.Add(k, core.Stringify(e))
			}
		default:
			q.Set(k, core.Stringify(v))
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func encodeBody(body any) (io.Reader, string, error) {
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case string:
		return strings.NewReader(b), "text/plain; charset=utf-8", nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, "", err
	}
	return &buf, "application/json", nil
}

func accepted(status int, accept []statusPattern) bool {
	if len(accept) == 0 {
		return status >= 200 && status <= 299
	}
	for _, p := range accept {
		if status >= p.lo && status <= p.hi {
			return true
		}
	}
	return false
}

// response is a received HTTP response.
type response struct {
	status     int
	headers    map[string]any
	body       any
	retryAfter time.Duration
}

func (r *response) value() map[string]any {
	return map[string]any{"status": float64(r.status), "headers": r.headers, "body": r.body}
}

// do sends the request and reads at most limit bytes of the response,
// mapping transport failures to stable codes.
func do(ctx context.Context, opts Options, req *http.Request, limit int64) (*response, error) {
	resp, err := opts.Client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if int64(len(raw)) > limit {
		return nil, sdk.Errorf(sdk.CodeResponseTooLarge, "response body exceeds %d bytes", limit)
	}
	out := &response{status: resp.StatusCode, headers: map[string]any{}}
	for k, v := range resp.Header {
		out.headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	out.body = decodeBody(resp.Header.Get("Content-Type"), raw)
	out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), opts.Clock.Now())
	return out, nil
}

func decodeBody(contentType string, raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "json") || (ct == "" && json.Valid(raw)) {
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			return v
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	return map[string]any{"base64": raw}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maxErrorBody bounds the response body kept in an error's details: every
// failed attempt is recorded, and a 10 MB error page per attempt is noise.
const maxErrorBody = 4 << 10

func statusError(r *response) error {
	details := r.value()
	if b, err := json.Marshal(r.body); err == nil && len(b) > maxErrorBody {
		details["body"] = fmt.Sprintf("%s… (%d bytes, truncated)", strings.ToValidUTF8(string(b[:maxErrorBody]), ""), len(b))
	}
	return &sdk.Error{
		Code:       sdk.HTTPStatusCode(r.status),
		Message:    fmt.Sprintf("HTTP %d %s", r.status, http.StatusText(r.status)),
		Retryable:  r.status == 408 || r.status == 429 || r.status >= 500,
		RetryAfter: r.retryAfter,
		Details:    details,
	}
}

// transportError maps a failed round trip to FORBIDDEN_ADDRESS, TIMEOUT or
// CONNECTION.
func transportError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, egress.ErrForbiddenAddress):
		return &sdk.Error{Code: sdk.CodeForbiddenAddress, Message: unwrapURLError(err), Err: err}
	case ctx.Err() != nil:
		return &sdk.Error{Code: sdk.CodeTimeout, Message: unwrapURLError(err), Retryable: true, Err: ctx.Err()}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Message: unwrapURLError(err), Retryable: true, Err: err}
	}
	return &sdk.Error{Code: sdk.CodeConnection, Message: unwrapURLError(err), Retryable: true, Err: err}
}

func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %s: %v", ue.Op, ue.URL, ue.Err)
	}
	return err.Error()
}
