package steps_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// httpStep returns a one-step workflow with an HTTP_REQUEST of config cfg
// (a JSON object) and extra step fields (JSON members, may be empty).
func httpStep(cfg, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return wf(`{"id": "call", "type": "HTTP_REQUEST", "config": ` + cfg + extra + `}`)
}

func TestHTTPRequestMethods(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name   string
		method string // "" leaves it out
		want   string
	}{
		{name: "default is GET", method: "", want: "GET"},
		{name: "GET", method: "GET", want: "GET"},
		{name: "POST", method: "POST", want: "POST"},
		{name: "PUT", method: "PUT", want: "PUT"},
		{name: "PATCH", method: "PATCH", want: "PATCH"},
		{name: "DELETE", method: "DELETE", want: "DELETE"},
		{name: "OPTIONS", method: "OPTIONS", want: "OPTIONS"},
		{name: "lower case is upper-cased", method: "post", want: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := ""
			if tt.method != "" {
				method = fmt.Sprintf(`"method": %q, `, tt.method)
			}
			exec := run(t, eng, httpStep(`{`+method+`"url": "`+base+`/echo"}`, ""), nil)
			requireCompleted(t, exec)
			out := obj(t, step(t, exec, "call").Output)
			require.Equal(t, tt.want, obj(t, out["body"])["method"])
		})
	}

	t.Run("HEAD has no body", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, httpStep(`{"method": "HEAD", "url": "`+base+`/echo"}`, ""), nil)
		requireCompleted(t, exec)
		out := obj(t, step(t, exec, "call").Output)
		require.Equal(t, float64(200), out["status"])
		require.Nil(t, out["body"])
	})
}

func TestHTTPRequestSendsHeadersQueryAndBody(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name        string
		cfg         string
		wantHeaders map[string]string
		wantQuery   map[string]any
		wantBody    any
	}{
		{
			name: "headers are stringified and defaults sent",
			cfg:  `{"url": "BASE/echo", "headers": {"X-Custom": "v1", "X-Num": 5, "X-Bool": true}}`,
			wantHeaders: map[string]string{"x-custom": "v1", "x-num": "5", "x-bool": "true",
				"user-agent": "weft", "accept": "application/json, */*;q=0.5"},
			wantQuery: map[string]any{},
		},
		{
			name:        "a header overrides a default",
			cfg:         `{"url": "BASE/echo", "headers": {"User-Agent": "mine", "Accept": "text/plain"}}`,
			wantHeaders: map[string]string{"user-agent": "mine", "accept": "text/plain"},
			wantQuery:   map[string]any{},
		},
		{
			name:      "query values, arrays repeated, null dropped, URL query kept",
			cfg:       `{"url": "BASE/echo?keep=1", "query": {"tag": ["a", "b"], "n": 5, "flag": false, "skip": null, "q": "x y&z"}}`,
			wantQuery: map[string]any{"keep": "1", "tag": []any{"a", "b"}, "n": "5", "flag": "false", "q": "x y&z"},
		},
		{
			name:        "object body is JSON",
			cfg:         `{"method": "POST", "url": "BASE/echo", "body": {"a": 1, "b": [true, null], "html": "<&>"}}`,
			wantHeaders: map[string]string{"content-type": "application/json"},
			wantQuery:   map[string]any{},
			wantBody:    map[string]any{"a": float64(1), "b": []any{true, nil}, "html": "<&>"},
		},
		{
			name:        "array body is JSON",
			cfg:         `{"method": "POST", "url": "BASE/echo", "body": [1, "two"]}`,
			wantHeaders: map[string]string{"content-type": "application/json"},
			wantQuery:   map[string]any{},
			wantBody:    []any{float64(1), "two"},
		},
		{
			name:        "string body is sent as it is",
			cfg:         `{"method": "POST", "url": "BASE/echo", "body": "hello, world"}`,
			wantHeaders: map[string]string{"content-type": "text/plain; charset=utf-8"},
			wantQuery:   map[string]any{},
			wantBody:    "hello, world",
		},
		{
			name:        "a header overrides the content type",
			cfg:         `{"method": "PUT", "url": "BASE/echo", "body": "<x/>", "headers": {"Content-Type": "application/xml"}}`,
			wantHeaders: map[string]string{"content-type": "application/xml"},
			wantQuery:   map[string]any{},
			wantBody:    "<x/>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, httpStep(strings.ReplaceAll(tt.cfg, "BASE", base), ""), nil)
			requireCompleted(t, exec)
			echo := obj(t, obj(t, step(t, exec, "call").Output)["body"])
			headers := obj(t, echo["headers"])
			for k, v := range tt.wantHeaders {
				require.Equal(t, v, headers[k], "header %s", k)
			}
			require.Equal(t, tt.wantQuery, echo["query"])
			require.Equal(t, tt.wantBody, echo["body"])
		})
	}

	t.Run("no body, no content type", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, httpStep(`{"url": "`+base+`/echo?probe=nobody"}`, ""), nil)
		requireCompleted(t, exec)
		for _, r := range requestsTo(m, "/echo") {
			if r.Query.Get("probe") == "nobody" {
				require.Empty(t, r.Headers.Get("Content-Type"))
				require.Nil(t, r.Body)
				return
			}
		}
		require.Fail(t, "request not received")
	})
}

func TestHTTPRequestOutput(t *testing.T) {
	t.Parallel()
	binary := []byte{0xff, 0xfe, 0x00, 0x01}
	base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			writeJSON(w, http.StatusCreated, map[string]any{"n": 1, "list": []int{1, 2}})
		case "/text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(`{"looks": "like json"}`))
		case "/untyped-json":
			w.Header()["Content-Type"] = nil // suppress sniffing
			_, _ = w.Write([]byte(`[1, 2]`))
		case "/binary":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(binary)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/bad-json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{not json`))
		}
	})
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name       string
		path       string
		wantStatus float64
		wantBody   any
	}{
		{name: "JSON is parsed", path: "/json", wantStatus: 201, wantBody: map[string]any{"n": float64(1), "list": []any{float64(1), float64(2)}}},
		{name: "text is kept even when it looks like JSON", path: "/text", wantStatus: 200, wantBody: `{"looks": "like json"}`},
		{name: "JSON without a content type is parsed", path: "/untyped-json", wantStatus: 200, wantBody: []any{float64(1), float64(2)}},
		{name: "binary is base64", path: "/binary", wantStatus: 200, wantBody: map[string]any{"base64": base64.StdEncoding.EncodeToString(binary)}},
		{name: "empty body is null", path: "/empty", wantStatus: 204, wantBody: nil},
		{name: "malformed JSON is kept as text", path: "/bad-json", wantStatus: 200, wantBody: `{not json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, httpStep(`{"url": "`+base+tt.path+`"}`, ""), nil)
			requireCompleted(t, exec)
			out := obj(t, step(t, exec, "call").Output)
			require.ElementsMatch(t, []string{"status", "headers", "body"}, keys(out))
			require.Equal(t, tt.wantStatus, out["status"])
			require.Equal(t, tt.wantBody, out["body"])
			// The step's output is also the execution's (it is the only step).
			require.Equal(t, out, exec.Output)
		})
	}

	t.Run("headers are lower-case and joined", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, httpStep(`{"url": "`+base+`/json"}`, ""), nil)
		requireCompleted(t, exec)
		headers := obj(t, obj(t, step(t, exec, "call").Output)["headers"])
		require.Equal(t, "a, b", headers["x-multi"])
		require.Equal(t, "application/json", headers["content-type"])
	})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHTTPRequestAcceptStatus(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name     string
		accept   string // JSON array, or "" for the default
		status   int
		wantCode string // "" when accepted
	}{
		{name: "default accepts 2xx", status: 201},
		{name: "default accepts 299", status: 299},
		{name: "default rejects 404", status: 404, wantCode: "HTTP_404"},
		{name: "default rejects 500", status: 500, wantCode: "HTTP_500"},
		{name: "code", accept: `[404]`, status: 404},
		{name: "code as string", accept: `["404"]`, status: 404},
		{name: "code list rejects others", accept: `[200]`, status: 201, wantCode: "HTTP_201"},
		{name: "class", accept: `["4xx"]`, status: 418},
		{name: "class upper case", accept: `["5XX"]`, status: 503},
		{name: "range", accept: `["400-404"]`, status: 404},
		{name: "range excludes above", accept: `["400-404"]`, status: 405, wantCode: "HTTP_405"},
		{name: "several patterns", accept: `["2xx", 409]`, status: 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := fmt.Sprintf(`{"url": "%s/status/%d"`, base, tt.status)
			if tt.accept != "" {
				cfg += `, "acceptStatus": ` + tt.accept
			}
			exec := run(t, eng, httpStep(cfg+"}", ""), nil)
			st := step(t, exec, "call")
			if tt.wantCode == "" {
				requireCompleted(t, exec)
				require.Equal(t, float64(tt.status), obj(t, st.Output)["status"])
				return
			}
			requireFailed(t, exec, tt.wantCode)
			require.Equal(t, core.StatusFailed, st.Status)
			require.Equal(t, tt.wantCode, st.Error.Code)
			require.Equal(t, "call", exec.FailedStep)
		})
	}
}

func TestHTTPRequestStatusErrors(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	retry := `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1}`
	tests := []struct {
		name          string
		status        int
		policy        string
		wantCode      string
		wantRetryable bool
		wantAttempts  int
	}{
		{name: "404 is not retryable", status: 404, policy: retry, wantCode: "HTTP_404", wantAttempts: 1},
		{name: "400 is not retryable", status: 400, policy: retry, wantCode: "HTTP_400", wantAttempts: 1},
		{name: "408 is retryable", status: 408, policy: retry, wantCode: "HTTP_408", wantRetryable: true, wantAttempts: 3},
		{name: "429 is retryable", status: 429, policy: retry, wantCode: "HTTP_429", wantRetryable: true, wantAttempts: 3},
		{name: "503 is retryable", status: 503, policy: retry, wantCode: "HTTP_503", wantRetryable: true, wantAttempts: 3},
		{name: "no policy, no retry", status: 503, wantCode: "HTTP_503", wantRetryable: true, wantAttempts: 1},
		{
			name: "retryableErrors restricts", status: 503, wantCode: "HTTP_503", wantRetryable: true, wantAttempts: 1,
			policy: `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1, "retryableErrors": ["TIMEOUT"]}`,
		},
		{
			name: "retryableErrors pattern widens", status: 404, wantCode: "HTTP_404", wantAttempts: 2,
			policy: `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1, "retryableErrors": ["HTTP_4XX"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, httpStep(fmt.Sprintf(`{"url": "%s/status/%d"}`, base, tt.status), tt.policy), nil)
			requireFailed(t, exec, tt.wantCode)
			st := step(t, exec, "call")
			require.Equal(t, tt.wantCode, st.Error.Code)
			require.Equal(t, tt.wantRetryable, st.Error.Retryable)
			require.Equal(t, tt.wantAttempts, st.Attempts)
			require.Len(t, st.History, tt.wantAttempts)
			// The response is kept in the error's details.
			details := obj(t, st.Error.Details)
			require.Equal(t, float64(tt.status), details["status"])
			require.Equal(t, map[string]any{"status": float64(tt.status)}, details["body"])
		})
	}
}

func TestHTTPRequestRetriesFlakyAPI(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	key := "retry-" + t.Name()
	exec := run(t, eng, httpStep(
		`{"method": "POST", "url": "`+base+`/flaky?key=`+key+`&failures=2", "body": {"lead": 1}}`,
		`"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1}`), nil)
	requireCompleted(t, exec)

	st := step(t, exec, "call")
	require.Equal(t, core.StatusCompleted, st.Status)
	require.Equal(t, 3, st.Attempts)
	require.Len(t, st.History, 3)
	for i, h := range st.History[:2] {
		require.Equal(t, i+1, h.Attempt)
		require.Equal(t, core.StatusFailed, h.Status)
		require.Equal(t, "HTTP_503", h.Error.Code)
		require.Equal(t, int64(1), h.RetryDelayMs)
	}
	require.Equal(t, core.StatusCompleted, st.History[2].Status)
	require.Nil(t, st.History[2].Error)
	require.Equal(t, map[string]any{"ok": true, "attempts": float64(3)}, obj(t, st.Output)["body"])

	// The Idempotency-Key is the same on every attempt, and names the
	// execution and the step.
	reqs := requestsTo(m, "/flaky")
	require.Len(t, reqs, 3)
	want := exec.ID + "/call"
	for _, r := range reqs {
		require.Equal(t, want, r.Headers.Get("Idempotency-Key"))
	}
}

func TestHTTPRequestIdempotencyKeyDiffersPerExecution(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	plan := compile(t, eng, httpStep(`{"method": "POST", "url": "`+base+`/carriers/acme", "body": {"score": 10}}`, ""))
	var quotes []any
	for range 2 {
		exec, err := eng.Execute(context.Background(), plan, nil)
		require.NoError(t, err)
		requireCompleted(t, exec)
		body := obj(t, obj(t, exec.Output)["body"])
		require.Equal(t, false, body["replayed"])
		quotes = append(quotes, body["quoteId"])
	}
	require.NotEqual(t, quotes[0], quotes[1])
	reqs := requestsTo(m, "/carriers/acme")
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].Headers.Get("Idempotency-Key"), reqs[1].Headers.Get("Idempotency-Key"))
}

func TestHTTPRequestHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	tests := []struct {
		name         string
		retryAfter   int   // seconds, sent by the API
		initialDelay int64 // ms, of the policy
		wantDelay    time.Duration
	}{
		{name: "Retry-After longer than the policy wins", retryAfter: 7, initialDelay: 1, wantDelay: 7 * time.Second},
		{name: "policy longer than Retry-After wins", retryAfter: 1, initialDelay: 3000, wantDelay: 3 * time.Second},
		{name: "Retry-After 0 leaves the policy", retryAfter: 0, initialDelay: 250, wantDelay: 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fc := clockwork.NewFakeClockAt(fixedTime)
			ev := newEvents()
			// No default attempt timeout: the only timer on the fake clock is
			// the retry delay.
			eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe, defaultStepTimeout: -1})
			url := fmt.Sprintf("%s/flaky?key=%s&failures=1&status=429&retryAfter=%d", base, t.Name(), tt.retryAfter)
			plan := compile(t, eng, httpStep(`{"url": "`+url+`"}`,
				fmt.Sprintf(`"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": %d}`, tt.initialDelay)))

			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			a := startExec(ctx, eng, plan, nil)
			retrying := ev.next(t, core.EventStepRetrying)
			require.Equal(t, tt.wantDelay, retrying.Delay)
			require.NoError(t, fc.BlockUntilContext(ctx, 1))
			fc.Advance(tt.wantDelay)
			exec := a.wait(t)

			requireCompleted(t, exec)
			st := step(t, exec, "call")
			require.Equal(t, 2, st.Attempts)
			require.Equal(t, "HTTP_429", st.History[0].Error.Code)
			require.Equal(t, tt.wantDelay.Milliseconds(), st.History[0].RetryDelayMs)
			require.Equal(t, tt.wantDelay.Milliseconds(), st.DurationMs, "the wait is on the engine's clock")
		})
	}
}

func TestHTTPRequestHonoursRetryAfterDate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var mu sync.Mutex
	var sentAt, retryAt time.Time
	base := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			// An HTTP date 30 s from now (the real clock: the API's clock),
			// whole seconds as the format has them.
			mu.Lock()
			sentAt = time.Now()
			retryAt = sentAt.Add(30 * time.Second).Truncate(time.Second)
			w.Header().Set("Retry-After", retryAt.UTC().Format(http.TimeFormat))
			mu.Unlock()
			writeJSON(w, http.StatusServiceUnavailable, nil)
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	fc := clockwork.NewFakeClockAt(fixedTime)
	ev := newEvents()
	eng := newEngine(t, engineOpts{clock: fc, observer: ev.observe, defaultStepTimeout: -1})
	plan := compile(t, eng, httpStep(`{"url": "`+base+`/"}`, `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1}`))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	a := startExec(ctx, eng, plan, nil)
	retrying := ev.next(t, core.EventStepRetrying)
	// The engine read the date between the answer and the event, however
	// long that took: the delay is the time from then to the date.
	seenAt := time.Now()
	mu.Lock()
	lo, hi := retryAt.Sub(seenAt), retryAt.Sub(sentAt)
	mu.Unlock()
	require.GreaterOrEqual(t, retrying.Delay, lo.Truncate(time.Millisecond), "the date, not the policy's 1 ms")
	require.LessOrEqual(t, retrying.Delay, hi+time.Millisecond)
	require.NoError(t, fc.BlockUntilContext(ctx, 1))
	fc.Advance(retrying.Delay)
	exec := a.wait(t)
	requireCompleted(t, exec)
	require.Equal(t, retrying.Delay.Milliseconds(), step(t, exec, "call").History[0].RetryDelayMs)
}

func TestHTTPRequestTransportErrors(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	// Port 1 (tcpmux) is closed on any test machine; a just-closed httptest
	// server's port could be reused by a parallel test.
	closedURL := "http://127.0.0.1:1"
	eng := newEngine(t, engineOpts{})
	retry := `"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1}`
	tests := []struct {
		name          string
		cfg           string
		extra         string
		wantCode      string
		wantRetryable bool
		wantAttempts  int
	}{
		{
			name: "connection refused", cfg: `{"url": "` + closedURL + `/x"}`, extra: retry,
			wantCode: sdk.CodeConnection, wantRetryable: true, wantAttempts: 2,
		},
		{
			name: "metadata address is forbidden", cfg: `{"url": "http://169.254.169.254/latest/meta-data/"}`, extra: retry,
			wantCode: sdk.CodeForbiddenAddress, wantAttempts: 1,
		},
		{
			name: "per-step timeout", cfg: `{"url": "` + base + `/slow?ms=` + forever + `"}`, extra: `"timeout": 50`,
			wantCode: sdk.CodeTimeout, wantRetryable: true, wantAttempts: 1,
		},
		{
			name: "response larger than the step's cap", cfg: `{"url": "` + base + `/echo", "maxResponseBytes": 16}`,
			wantCode: sdk.CodeResponseTooLarge, wantAttempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, httpStep(tt.cfg, tt.extra), nil)
			requireFailed(t, exec, tt.wantCode)
			st := step(t, exec, "call")
			require.Equal(t, tt.wantCode, st.Error.Code)
			require.Equal(t, tt.wantRetryable, st.Error.Retryable)
			require.Equal(t, tt.wantAttempts, st.Attempts)
		})
	}
}

func TestHTTPRequestResponseCap(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 100)
	base := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	})
	tests := []struct {
		name      string
		engineCap int64
		stepCap   int // 0: none
		wantCode  string
	}{
		{name: "exactly at the engine cap", engineCap: 100},
		{name: "one byte over the engine cap", engineCap: 99, wantCode: sdk.CodeResponseTooLarge},
		{name: "step lowers the cap", engineCap: 1000, stepCap: 99, wantCode: sdk.CodeResponseTooLarge},
		{name: "step cannot raise the cap", engineCap: 50, stepCap: 1000, wantCode: sdk.CodeResponseTooLarge},
		{name: "step cap at size", engineCap: 1000, stepCap: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eng := newEngine(t, engineOpts{steps: steps.Options{MaxResponseBytes: tt.engineCap}})
			cfg := `{"url": "` + base + `/"`
			if tt.stepCap > 0 {
				cfg += fmt.Sprintf(`, "maxResponseBytes": %d`, tt.stepCap)
			}
			exec := run(t, eng, httpStep(cfg+"}", ""), nil)
			if tt.wantCode == "" {
				requireCompleted(t, exec)
				require.Equal(t, body, obj(t, exec.Output)["body"])
				return
			}
			requireFailed(t, exec, tt.wantCode)
		})
	}
}

func TestHTTPRequestTemplates(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	doc := fmt.Sprintf(`{"name": "t", "variables": {"carrier": "acme"}, "steps": [
		{"id": "get_lead", "type": "HTTP_REQUEST", "config": {"url": "%[1]s/leads/{{leadId}}"}},
		{"id": "submit", "type": "HTTP_REQUEST", "dependsOn": ["get_lead"], "config": {
			"method": "POST",
			"url": "%[1]s/echo?carrier={{carrier}}",
			"headers": {"X-Lead": "{{input.leadId}}"},
			"query": {"score": "{{steps.get_lead.output.body.score}}", "tags": "{{input.tags}}"},
			"body": {
				"email": "{{steps.get_lead.output.body.email}}",
				"score": "{{steps.get_lead.output.body.score}}",
				"note": "score={{steps.get_lead.output.body.score}}",
				"lead": "{{steps.get_lead.output.body}}",
				"tags": "{{input.tags}}",
				"missing": "{{input.nothing}}",
				"expr": "{{ steps.get_lead.output.body.score * 2 }}"
			}}}]}`, base)
	exec := run(t, eng, doc, map[string]any{"leadId": "42", "tags": []any{"a", "b"}})
	requireCompleted(t, exec)

	echo := obj(t, obj(t, step(t, exec, "submit").Output)["body"])
	require.Equal(t, "/echo", echo["path"])
	require.Equal(t, map[string]any{"carrier": "acme", "score": "72", "tags": []any{"a", "b"}}, echo["query"])
	require.Equal(t, "42", obj(t, echo["headers"])["x-lead"])
	body := obj(t, echo["body"])
	require.Equal(t, "Ada.Lovelace@Example.com", body["email"])
	require.Equal(t, float64(72), body["score"], "an exact template keeps the number")
	require.Equal(t, "score=72", body["note"])
	require.Equal(t, float64(144), body["expr"])
	require.Equal(t, []any{"a", "b"}, body["tags"])
	require.Nil(t, body["missing"])
	require.Equal(t, "42", obj(t, body["lead"])["id"])

	// On the wire the score is a JSON number, not a string.
	reqs := requestsTo(m, "/echo")
	require.Len(t, reqs, 1)
	require.Equal(t, json.Number("72"), obj(t, reqs[0].Body)["score"])
	require.Equal(t, "/leads/42", requestsTo(m, "/leads/42")[0].Path)

	// The record keeps the rendered config as the step's input.
	in := obj(t, step(t, exec, "submit").Input)
	require.Equal(t, base+"/echo?carrier=acme", in["url"])
}

func TestHTTPRequestRuntimeConfigErrors(t *testing.T) {
	t.Parallel()
	_, base := mock(t)
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name  string
		cfg   string
		input map[string]any
	}{
		{name: "templated URL with a bad scheme", cfg: `{"url": "{{input.url}}"}`, input: map[string]any{"url": "ftp://example.com/x"}},
		{name: "templated URL empty", cfg: `{"url": "{{input.url}}"}`, input: map[string]any{}},
		{name: "templated method unknown", cfg: `{"method": "{{input.m}}", "url": "` + base + `/echo"}`, input: map[string]any{"m": "FETCH"}},
		{name: "templated acceptStatus bad", cfg: `{"url": "` + base + `/echo", "acceptStatus": "{{input.a}}"}`, input: map[string]any{"a": []any{"abc"}}},
		{name: "templated headers not an object", cfg: `{"url": "` + base + `/echo", "headers": "{{input.h}}"}`, input: map[string]any{"h": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, httpStep(tt.cfg, `"retryPolicy": {"maxAttempts": 3, "initialDelay": 1}`), tt.input)
			requireFailed(t, exec, sdk.CodeInvalidConfig)
			require.Equal(t, 1, step(t, exec, "call").Attempts, "a bad config is not retried")
		})
	}
}

func TestHTTPRequestSecretsNeverRecorded(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-t0ken-7f9a2c"
	m, base := mock(t)
	eng := newEngine(t, engineOpts{secrets: core.MapSecrets{"token": secret}})
	exec := run(t, eng, httpStep(`{"url": "`+base+`/echo?k={{secrets.token}}", "headers": {"Authorization": "Bearer {{secrets.token}}"}}`, ""), nil)
	requireCompleted(t, exec)

	// The secret went out on the wire …
	reqs := requestsTo(m, "/echo")
	require.Len(t, reqs, 1)
	require.Equal(t, "Bearer "+secret, reqs[0].Headers.Get("Authorization"))
	require.Equal(t, secret, reqs[0].Query.Get("k"))

	// … but appears nowhere in the record, though the API echoed it back.
	raw, err := json.Marshal(exec)
	require.NoError(t, err)
	require.NotContains(t, string(raw), secret)
	require.Contains(t, string(raw), core.Redacted)
	in := obj(t, step(t, exec, "call").Input)
	require.Equal(t, "Bearer "+core.Redacted, obj(t, in["headers"])["Authorization"])
}

func TestHTTPRequestSecretsNeverRecordedOnFailure(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-t0ken-b41d0e"
	// An API that echoes the credential it rejects, as some do.
	base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "bad token", "got": r.Header.Get("Authorization")})
	})
	ev := newEvents()
	eng := newEngine(t, engineOpts{secrets: core.MapSecrets{"token": secret}, observer: ev.observe})
	exec := run(t, eng, httpStep(`{"url": "`+base+`/x", "headers": {"Authorization": "Bearer {{secrets.token}}"}, "acceptStatus": [200]}`,
		`"retryPolicy": {"strategy": "FIXED", "maxAttempts": 2, "initialDelay": 1, "retryableErrors": ["HTTP_401"]}`), nil)
	requireFailed(t, exec, "HTTP_401")
	st := step(t, exec, "call")
	require.Equal(t, 2, st.Attempts)

	require.NotContains(t, fmt.Sprint(st.Error.Details), secret, "the step's error is redacted")

	// Everything but the attempt history is redacted.
	cp := exec.Clone()
	leaked := false
	for _, s := range cp.Steps {
		for i := range s.History {
			if e := s.History[i].Error; e != nil && strings.Contains(fmt.Sprint(e.Message, e.Details), secret) {
				leaked = true
			}
			s.History[i].Error = nil
		}
	}
	raw, err := json.Marshal(cp)
	require.NoError(t, err)
	require.NotContains(t, string(raw), secret)
	for _, e := range ev.ofType(core.EventStepRetrying) {
		if strings.Contains(fmt.Sprint(e.Error.Message, e.Error.Details), secret) {
			leaked = true
		}
	}
	if leaked {
		t.Fatal("regression: core/engine.go:422,437 record attempt errors (History[].Error, step.retrying events) unredacted: the secret leaks")
	}
}

func TestHTTPRequestCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name string
		cfg  string
		want [][2]string // path, message substring
	}{
		{name: "unknown method", cfg: `{"method": "FETCH", "url": "http://127.0.0.1/"}`,
			want: [][2]string{{"steps[0].config.method", `"FETCH" is not one of`}}},
		{name: "ftp URL", cfg: `{"url": "ftp://example.com/file"}`,
			want: [][2]string{{"steps[0].config.url", "is not an http:// or https:// URL"}}},
		{name: "URL without host", cfg: `{"url": "http:///path"}`,
			want: [][2]string{{"steps[0].config.url", "is not an http:// or https:// URL"}}},
		{name: "relative URL with a template later", cfg: `{"url": "/leads/{{leadId}}"}`,
			want: [][2]string{{"steps[0].config.url", "is not an http:// or https:// URL"}}},
		{name: "missing URL", cfg: `{"method": "GET"}`,
			want: [][2]string{{"steps[0].config.url", "is required"}}},
		{name: "no config", cfg: `null`,
			want: [][2]string{{"steps[0].config.url", "is required"}}},
		{name: "unknown field", cfg: `{"url": "http://127.0.0.1/", "bogus": 1}`,
			want: [][2]string{{"steps[0].config.bogus", ""}}},
		{name: "wrong type", cfg: `{"url": "http://127.0.0.1/", "headers": "x"}`,
			want: [][2]string{{"steps[0].config.headers", ""}}},
		{name: "bad acceptStatus class", cfg: `{"url": "http://127.0.0.1/", "acceptStatus": [200, "2xy"]}`,
			want: [][2]string{{"steps[0].config.acceptStatus[1]", "is not a status code"}}},
		{name: "acceptStatus out of range", cfg: `{"url": "http://127.0.0.1/", "acceptStatus": [99, 600]}`,
			want: [][2]string{{"steps[0].config.acceptStatus[0]", ""}, {"steps[0].config.acceptStatus[1]", ""}}},
		{name: "acceptStatus reversed range", cfg: `{"url": "http://127.0.0.1/", "acceptStatus": ["299-200"]}`,
			want: [][2]string{{"steps[0].config.acceptStatus[0]", ""}}},
		{name: "acceptStatus fraction", cfg: `{"url": "http://127.0.0.1/", "acceptStatus": [200.5]}`,
			want: [][2]string{{"steps[0].config.acceptStatus[0]", ""}}},
		{name: "every problem at once", cfg: `{"method": "FETCH", "url": "ftp://x", "acceptStatus": ["nope"]}`,
			want: [][2]string{{"steps[0].config.method", ""}, {"steps[0].config.url", ""}, {"steps[0].config.acceptStatus[0]", ""}}},
		{name: "broken template", cfg: `{"url": "http://127.0.0.1/{{leadId"}`,
			want: [][2]string{{"steps[0].config.url", "unclosed"}}},
		{name: "reference to an unknown step", cfg: `{"url": "http://127.0.0.1/{{steps.nope.output.x}}"}`,
			want: [][2]string{{"steps[0].config.url", `step "nope"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, httpStep(tt.cfg, ""))
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}

	t.Run("templated parts are accepted", func(t *testing.T) {
		t.Parallel()
		compile(t, eng, httpStep(`{"method": "{{input.m}}", "url": "{{input.base}}/x", "acceptStatus": "{{input.accept}}", "headers": "{{input.h}}"}`, ""))
		compile(t, eng, httpStep(`{"url": "http://{{input.host}}/x", "acceptStatus": ["2xx", "300-304", 404, "418"]}`, ""))
	})
}

// TestHTTPRequestConcurrentExecutions runs one plan many times at once: a
// plan is immutable and shared.
func TestHTTPRequestConcurrentExecutions(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, 200, map[string]any{"id": r.URL.Query().Get("id")})
	})
	eng := newEngine(t, engineOpts{})
	plan := compile(t, eng, httpStep(`{"url": "`+base+`/?id={{id}}"}`, ""))
	const n = 20
	results := make(chan *core.Execution, n)
	for i := range n {
		go func() {
			exec, err := eng.Execute(context.Background(), plan, map[string]any{"id": fmt.Sprint(i)})
			if err != nil {
				results <- nil
				return
			}
			results <- exec
		}()
	}
	seen := map[any]bool{}
	for range n {
		exec := <-results
		require.NotNil(t, exec)
		requireCompleted(t, exec)
		seen[obj(t, obj(t, exec.Output)["body"])["id"]] = true
	}
	require.Len(t, seen, n)
	require.Equal(t, int64(n), hits.Load())
}
