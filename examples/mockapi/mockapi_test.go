package mockapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/examples/mockapi"
)

// newTestServer serves a fresh mockapi.Server on 127.0.0.1.
func newTestServer(t *testing.T, opts ...mockapi.Option) (*mockapi.Server, *httptest.Server) {
	t.Helper()
	s := mockapi.New(opts...)
	ts := httptest.NewUnstartedServer(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ts.Listener.Close())
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return s, ts
}

type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the response body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &v), "body: %s", r.body)
	return v
}

func do(t *testing.T, ts *httptest.Server, method, path, body string, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode != http.StatusNoContent && method != http.MethodHead {
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func TestHealthAndRouting(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string
		wantAllow  string
	}{
		{name: "health", method: "GET", path: "/health", wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "unknown path is a JSON 404", method: "GET", path: "/nope", wantStatus: 404, wantBody: `{"error":"Not Found: GET /nope"}`},
		{name: "wrong method is a JSON 405", method: "DELETE", path: "/health", wantStatus: 405,
			wantBody: `{"error":"Method Not Allowed: DELETE /health"}`, wantAllow: "GET, HEAD"},
		{name: "carriers only accept POST", method: "GET", path: "/carriers/acme", wantStatus: 405,
			wantBody: `{"error":"Method Not Allowed: GET /carriers/acme"}`, wantAllow: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, tt.method, tt.path, "", nil)
			require.Equal(t, tt.wantStatus, res.status)
			require.JSONEq(t, tt.wantBody, res.body)
			require.Equal(t, tt.wantAllow, res.header.Get("Allow"))
		})
	}
}

func TestLeads(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{name: "good lead", path: "/leads/42", wantStatus: 200,
			wantBody: `{"id":"42","email":"Ada.Lovelace@Example.com","name":"ada lovelace","score":72,"state":"ca","phone":"+1 (415) 555-0134","source":"web"}`},
		{name: "low-score lead", path: "/leads/7", wantStatus: 200,
			wantBody: `{"id":"7","email":"grace.hopper@example.org","name":"GRACE HOPPER","score":30,"state":"ny","phone":"212.555.0199","source":"referral"}`},
		{name: "disposable email lead", path: "/leads/13", wantStatus: 200,
			wantBody: `{"id":"13","email":"temp.user@mailinator.com","name":"temp user","score":55,"state":"tx","phone":"5125550100","source":"ads"}`},
		{name: "unknown lead", path: "/leads/99", wantStatus: 404, wantBody: `{"error":"lead 99 not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, "GET", tt.path, "", nil)
			require.Equal(t, tt.wantStatus, res.status)
			require.JSONEq(t, tt.wantBody, res.body)
		})
	}

	t.Run("list", func(t *testing.T) {
		res := do(t, ts, "GET", "/leads", "", nil)
		require.Equal(t, 200, res.status)
		var list struct {
			Items []struct {
				ID    string `json:"id"`
				Score int    `json:"score"`
			} `json:"items"`
			Count int `json:"count"`
		}
		require.NoError(t, json.Unmarshal([]byte(res.body), &list))
		require.Equal(t, 4, list.Count)
		require.Len(t, list.Items, 4)
		ids := []string{list.Items[0].ID, list.Items[1].ID, list.Items[2].ID, list.Items[3].ID}
		require.Equal(t, []string{"42", "7", "13", "lead_123"}, ids)
	})

	t.Run("flaky lead", func(t *testing.T) {
		// Three 503s, then the lead, in every cycle of four calls.
		for cycle := range 2 {
			for call := range 4 {
				res := do(t, ts, "GET", "/leads/lead_flaky", "", nil)
				if call < 3 {
					require.Equal(t, 503, res.status, "cycle %d call %d", cycle, call+1)
					continue
				}
				require.Equal(t, 200, res.status, "cycle %d call %d", cycle, call+1)
				require.JSONEq(t, `{"id":"lead_flaky","email":"Katherine.Johnson@Example.com","name":"katherine johnson","score":91,"state":"va","phone":"757 555 0142","source":"partner"}`, res.body)
			}
		}
	})
}

func TestCarriers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		carrier    string
		body       string
		key        string
		wantStatus int
		wantBody   string
	}{
		{name: "premium from score", carrier: "acme", body: `{"score":72,"state":"ca"}`, key: "k1", wantStatus: 201,
			wantBody: `{"carrier":"acme","accepted":true,"quoteId":"q-acme-1","premium":208,"idempotencyKey":"k1","replayed":false,"received":{"score":72,"state":"ca"}}`},
		{name: "premium from priority", carrier: "globex", body: `{"priority":3}`, wantStatus: 201,
			wantBody: `{"carrier":"globex","accepted":true,"quoteId":"q-globex-1","premium":104.5,"idempotencyKey":"","replayed":false,"received":{"priority":3}}`},
		{name: "score wins over priority", carrier: "initech", body: `{"priority":3,"score":"10"}`, wantStatus: 201,
			wantBody: `{"carrier":"initech","accepted":true,"quoteId":"q-initech-1","premium":115,"idempotencyKey":"","replayed":false,"received":{"priority":3,"score":"10"}}`},
		{name: "default premium", carrier: "umbrella", body: `{"name":"x"}`, wantStatus: 201,
			wantBody: `{"carrier":"umbrella","accepted":true,"quoteId":"q-umbrella-1","premium":100,"idempotencyKey":"","replayed":false,"received":{"name":"x"}}`},
		{name: "empty body", carrier: "hooli", wantStatus: 201,
			wantBody: `{"carrier":"hooli","accepted":true,"quoteId":"q-hooli-1","premium":100,"idempotencyKey":"","replayed":false,"received":null}`},
		{name: "carrier down", carrier: "down", body: `{"score":1}`, wantStatus: 503,
			wantBody: `{"error":"carrier \"down\" is unavailable"}`},
		{name: "invalid JSON", carrier: "acme", body: `{"score":`, wantStatus: 400},
		{name: "trailing garbage", carrier: "acme", body: `{} {}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t)
			header := map[string]string{"Content-Type": "application/json"}
			if tt.key != "" {
				header["Idempotency-Key"] = tt.key
			}
			res := do(t, ts, "POST", "/carriers/"+tt.carrier, tt.body, header)
			require.Equal(t, tt.wantStatus, res.status, res.body)
			if tt.wantBody != "" {
				require.JSONEq(t, tt.wantBody, res.body)
			} else {
				require.Contains(t, res.json(t)["error"], "not valid JSON")
			}
		})
	}
}

func TestCarrierIdempotency(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	steps := []struct {
		name         string
		carrier      string
		key          string
		score        int
		wantQuoteID  string
		wantReplayed bool
		wantScore    float64
	}{
		{name: "first call with key", carrier: "acme", key: "order-1", score: 10, wantQuoteID: "q-acme-1", wantScore: 10},
		{name: "same key replays the first quote", carrier: "acme", key: "order-1", score: 99, wantQuoteID: "q-acme-1", wantReplayed: true, wantScore: 10},
		{name: "new key gets a new quote", carrier: "acme", key: "order-2", score: 20, wantQuoteID: "q-acme-2", wantScore: 20},
		{name: "same key on another carrier is independent", carrier: "globex", key: "order-1", score: 30, wantQuoteID: "q-globex-1", wantScore: 30},
		{name: "no key never replays", carrier: "acme", score: 40, wantQuoteID: "q-acme-3", wantScore: 40},
		{name: "no key never replays again", carrier: "acme", score: 40, wantQuoteID: "q-acme-4", wantScore: 40},
		{name: "replay still works later", carrier: "acme", key: "order-2", score: 1, wantQuoteID: "q-acme-2", wantReplayed: true, wantScore: 20},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			header := map[string]string{}
			if st.key != "" {
				header["Idempotency-Key"] = st.key
			}
			body, err := json.Marshal(map[string]int{"score": st.score})
			require.NoError(t, err)
			res := do(t, ts, "POST", "/carriers/"+st.carrier, string(body), header)
			require.Equal(t, 201, res.status)
			got := res.json(t)
			require.Equal(t, st.wantQuoteID, got["quoteId"])
			require.Equal(t, st.wantReplayed, got["replayed"])
			require.Equal(t, st.key, got["idempotencyKey"])
			require.Equal(t, st.wantScore, got["received"].(map[string]any)["score"])
			if st.wantReplayed {
				require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
			} else {
				require.Empty(t, res.header.Get("Idempotent-Replayed"))
			}
		})
	}
}

func TestFlaky(t *testing.T) {
	t.Parallel()
	type call struct {
		method         string
		query          string
		wantStatus     int
		wantBody       string
		wantRetryAfter string
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{name: "defaults fail twice with 503", calls: []call{
			{method: "GET", query: "", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":1}`},
			{method: "POST", query: "", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":2}`},
			{method: "GET", query: "", wantStatus: 200, wantBody: `{"ok":true,"attempts":3}`},
			{method: "GET", query: "", wantStatus: 200, wantBody: `{"ok":true,"attempts":4}`},
		}},
		{name: "counters are per key", calls: []call{
			{method: "GET", query: "key=a&failures=1", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":1}`},
			{method: "GET", query: "key=b&failures=1", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":1}`},
			{method: "GET", query: "key=a&failures=1", wantStatus: 200, wantBody: `{"ok":true,"attempts":2}`},
			{method: "GET", query: "key=b&failures=1", wantStatus: 200, wantBody: `{"ok":true,"attempts":2}`},
		}},
		{name: "custom status and Retry-After", calls: []call{
			{method: "POST", query: "key=rl&failures=1&status=429&retryAfter=7", wantStatus: 429,
				wantBody: `{"error":"flaky failure","attempt":1}`, wantRetryAfter: "7"},
			{method: "POST", query: "key=rl&failures=1&status=429&retryAfter=7", wantStatus: 200, wantBody: `{"ok":true,"attempts":2}`},
		}},
		{name: "no Retry-After unless asked", calls: []call{
			{method: "GET", query: "key=n&failures=1", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":1}`},
		}},
		{name: "zero failures succeeds at once", calls: []call{
			{method: "GET", query: "key=z&failures=0", wantStatus: 200, wantBody: `{"ok":true,"attempts":1}`},
		}},
		{name: "invalid parameters are rejected without counting", calls: []call{
			{method: "GET", query: "key=bad&failures=-1", wantStatus: 400},
			{method: "GET", query: "key=bad&failures=x", wantStatus: 400},
			{method: "GET", query: "key=bad&status=200", wantStatus: 400},
			{method: "GET", query: "key=bad&status=abc", wantStatus: 400},
			{method: "GET", query: "key=bad&failures=1", wantStatus: 503, wantBody: `{"error":"flaky failure","attempt":1}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t)
			for i, c := range tt.calls {
				res := do(t, ts, c.method, "/flaky?"+c.query, "", nil)
				require.Equal(t, c.wantStatus, res.status, "call %d: %s", i+1, res.body)
				if c.wantBody != "" {
					require.JSONEq(t, c.wantBody, res.body, "call %d", i+1)
				} else {
					require.NotEmpty(t, res.json(t)["error"])
				}
				require.Equal(t, c.wantRetryAfter, res.header.Get("Retry-After"), "call %d", i+1)
			}
		})
	}
}

func TestFlakyConcurrentCounting(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	const n, failures = 20, 5
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := ts.Client().Get(ts.URL + "/flaky?key=conc&failures=5")
			if err != nil {
				statuses <- 0
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	require.Equal(t, map[int]int{503: failures, 200: n - failures}, count)
}

func TestSlow(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantBody   string
	}{
		{name: "zero wait", query: "ms=0", wantStatus: 200, wantBody: `{"sleptMs":0}`},
		{name: "short wait", query: "ms=1", wantStatus: 200, wantBody: `{"sleptMs":1}`},
		{name: "not a number", query: "ms=soon", wantStatus: 400},
		{name: "negative", query: "ms=-5", wantStatus: 400},
		{name: "too long", query: "ms=300001", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, "GET", "/slow?"+tt.query, "", nil)
			require.Equal(t, tt.wantStatus, res.status, res.body)
			if tt.wantBody != "" {
				require.JSONEq(t, tt.wantBody, res.body)
			} else {
				require.Contains(t, res.json(t)["error"], "ms:")
			}
		})
	}

	t.Run("returns when the request context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", "/slow?ms=300000", nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		mockapi.New().ServeHTTP(rec, req)
		require.Less(t, time.Since(start), 2*time.Minute, "returned long before its five minutes")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, "request cancelled", body["error"])
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		method     string
		code       string
		wantStatus int
		wantBody   string
	}{
		{name: "ok", method: "GET", code: "200", wantStatus: 200, wantBody: `{"status":200}`},
		{name: "teapot", method: "GET", code: "418", wantStatus: 418, wantBody: `{"status":418}`},
		{name: "server error", method: "GET", code: "500", wantStatus: 500, wantBody: `{"status":500}`},
		{name: "unavailable via POST", method: "POST", code: "503", wantStatus: 503, wantBody: `{"status":503}`},
		{name: "not a number", method: "GET", code: "abc", wantStatus: 400},
		{name: "too small", method: "GET", code: "199", wantStatus: 400},
		{name: "too large", method: "GET", code: "600", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, tt.method, "/status/"+tt.code, "", nil)
			require.Equal(t, tt.wantStatus, res.status)
			if tt.wantBody != "" {
				require.JSONEq(t, tt.wantBody, res.body)
			} else {
				require.Contains(t, res.json(t)["error"], "status code")
			}
		})
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		header      map[string]string
		wantQuery   map[string]any
		wantBody    any
		wantHeaders map[string]string
	}{
		{name: "JSON body, repeated query and headers", method: "POST", path: "/echo?a=1&b=x&b=y",
			body:        `{"n":1.5,"tags":["t"]}`,
			header:      map[string]string{"Content-Type": "application/json", "X-Trace-ID": "abc"},
			wantQuery:   map[string]any{"a": "1", "b": []any{"x", "y"}},
			wantBody:    map[string]any{"n": 1.5, "tags": []any{"t"}},
			wantHeaders: map[string]string{"content-type": "application/json", "x-trace-id": "abc"}},
		{name: "text body", method: "POST", path: "/echo", body: "hello, world",
			wantQuery: map[string]any{}, wantBody: "hello, world"},
		{name: "GET without body", method: "GET", path: "/echo?q=go",
			wantQuery: map[string]any{"q": "go"}, wantBody: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, tt.method, tt.path, tt.body, tt.header)
			require.Equal(t, 200, res.status)
			got := res.json(t)
			require.Equal(t, tt.method, got["method"])
			require.Equal(t, "/echo", got["path"])
			require.Equal(t, tt.wantQuery, got["query"])
			require.Equal(t, tt.wantBody, got["body"])
			headers := got["headers"].(map[string]any)
			for k, v := range tt.wantHeaders {
				require.Equal(t, v, headers[k], "header %s", k)
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{name: "exactly 1 MiB is accepted", size: 1 << 20, wantStatus: 200},
		{name: "one byte over 1 MiB is rejected", size: 1<<20 + 1, wantStatus: 413},
		{name: "far over 1 MiB is rejected", size: 3 << 20, wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newTestServer(t)
			res := do(t, ts, "POST", "/echo", strings.Repeat("a", tt.size), nil)
			require.Equal(t, tt.wantStatus, res.status)
			if tt.wantStatus == 413 {
				require.JSONEq(t, `{"error":"request body exceeds the 1 MiB limit"}`, res.body)
			}
			reqs := s.Requests()
			require.Len(t, reqs, 1, "oversized requests are still recorded")
			require.Equal(t, "/echo", reqs[0].Path)
		})
	}
}

// Published Standard Webhooks test vector (see the standard-webhooks libraries).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = "1614265330"
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// sign computes a Standard Webhooks signature header entry independently of
// the package under test.
func sign(t *testing.T, secret, id, timestamp, body string) string {
	t.Helper()
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		key, err = base64.StdEncoding.DecodeString(rest)
		require.NoError(t, err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignHelperMatchesPublishedVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, vectorSignature, sign(t, vectorSecret, vectorID, vectorTimestamp, vectorBody))
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	const rawSecret = "plain-secret"
	good := sign(t, vectorSecret, vectorID, vectorTimestamp, vectorBody)
	tests := []struct {
		name         string
		secret       string
		id           string
		timestamp    string
		body         string
		signature    string
		wantStatus   int
		wantVerified bool
	}{
		{name: "valid signature", secret: vectorSecret, id: vectorID, timestamp: vectorTimestamp,
			body: vectorBody, signature: good, wantStatus: 200, wantVerified: true},
		{name: "any matching entry verifies", secret: vectorSecret, id: vectorID, timestamp: vectorTimestamp,
			body: vectorBody, signature: "v1,AAAA v2,zzz " + good + " v1a,xx", wantStatus: 200, wantVerified: true},
		{name: "raw (non-whsec) secret", secret: rawSecret, id: "msg_1", timestamp: "1700000000",
			body: `{"a":1}`, signature: sign(t, rawSecret, "msg_1", "1700000000", `{"a":1}`), wantStatus: 200, wantVerified: true},
		{name: "tampered body", secret: vectorSecret, id: vectorID, timestamp: vectorTimestamp,
			body: `{"test": 2432232315}`, signature: good, wantStatus: 401},
		{name: "tampered id", secret: vectorSecret, id: "msg_other", timestamp: vectorTimestamp,
			body: vectorBody, signature: good, wantStatus: 401},
		{name: "tampered timestamp", secret: vectorSecret, id: vectorID, timestamp: "1614265331",
			body: vectorBody, signature: good, wantStatus: 401},
		{name: "wrong secret", secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")),
			id: vectorID, timestamp: vectorTimestamp, body: vectorBody, signature: good, wantStatus: 401},
		{name: "wrong version prefix", secret: vectorSecret, id: vectorID, timestamp: vectorTimestamp,
			body: vectorBody, signature: "v2," + strings.TrimPrefix(good, "v1,"), wantStatus: 401},
		{name: "missing signature", secret: vectorSecret, id: vectorID, timestamp: vectorTimestamp,
			body: vectorBody, wantStatus: 401},
		{name: "no secret accepts anything unverified", id: "msg_2", timestamp: "1", body: "not json",
			signature: "v1,bogus", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newTestServer(t, mockapi.WithWebhookSecret(tt.secret))
			header := map[string]string{"Content-Type": "application/json"}
			for k, v := range map[string]string{"webhook-id": tt.id, "webhook-timestamp": tt.timestamp, "webhook-signature": tt.signature} {
				if v != "" {
					header[k] = v
				}
			}
			res := do(t, ts, "POST", "/webhooks", tt.body, header)
			require.Equal(t, tt.wantStatus, res.status, res.body)
			if tt.wantStatus == 200 {
				require.JSONEq(t, `{"received":true}`, res.body)
			} else {
				require.JSONEq(t, `{"error":"webhook signature verification failed"}`, res.body)
			}

			deliveries := s.Deliveries()
			require.Len(t, deliveries, 1, "every delivery is recorded")
			d := deliveries[0]
			require.Equal(t, tt.id, d.ID)
			require.Equal(t, tt.timestamp, d.Timestamp)
			require.Equal(t, tt.signature, d.Signature)
			require.Equal(t, tt.wantVerified, d.Verified)
			var wantBody any = tt.body
			if json.Valid([]byte(tt.body)) {
				var v any
				dec := json.NewDecoder(strings.NewReader(tt.body))
				dec.UseNumber()
				require.NoError(t, dec.Decode(&v))
				wantBody = v
			}
			require.Equal(t, wantBody, d.Body)

			list := do(t, ts, "GET", "/webhooks/deliveries", "", nil)
			require.Equal(t, 200, list.status)
			items := list.json(t)["items"].([]any)
			require.Len(t, items, 1)
			item := items[0].(map[string]any)
			require.Equal(t, tt.id, item["id"])
			require.Equal(t, tt.wantVerified, item["verified"])
		})
	}

	t.Run("empty deliveries list", func(t *testing.T) {
		_, ts := newTestServer(t)
		res := do(t, ts, "GET", "/webhooks/deliveries", "", nil)
		require.Equal(t, 200, res.status)
		require.JSONEq(t, `{"items":[]}`, res.body)
	})
}

func TestRequestsAndReset(t *testing.T) {
	t.Parallel()
	s, ts := newTestServer(t)
	do(t, ts, "GET", "/leads/42?expand=a&expand=b", "", map[string]string{"X-Test": "1"})
	do(t, ts, "POST", "/echo", `{"n":12345678901234567890}`, nil)
	do(t, ts, "POST", "/echo", "plain text", nil)
	do(t, ts, "GET", "/nope", "", nil)
	require.Equal(t, 503, do(t, ts, "GET", "/flaky?failures=1", "", nil).status)
	require.Equal(t, 200, do(t, ts, "GET", "/flaky?failures=1", "", nil).status)

	reqs := s.Requests()
	tests := []struct {
		name       string
		index      int
		wantMethod string
		wantPath   string
		wantBody   any
	}{
		{name: "lead", index: 0, wantMethod: "GET", wantPath: "/leads/42"},
		{name: "JSON body keeps number precision", index: 1, wantMethod: "POST", wantPath: "/echo",
			wantBody: map[string]any{"n": json.Number("12345678901234567890")}},
		{name: "text body", index: 2, wantMethod: "POST", wantPath: "/echo", wantBody: "plain text"},
		{name: "unknown path is recorded too", index: 3, wantMethod: "GET", wantPath: "/nope"},
		{name: "flaky", index: 4, wantMethod: "GET", wantPath: "/flaky"},
	}
	require.Len(t, reqs, 6)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reqs[tt.index]
			require.Equal(t, tt.wantMethod, r.Method)
			require.Equal(t, tt.wantPath, r.Path)
			require.Equal(t, tt.wantBody, r.Body)
			require.False(t, r.Time.IsZero())
		})
	}
	require.Equal(t, []string{"a", "b"}, reqs[0].Query["expand"])
	require.Equal(t, "1", reqs[0].Headers.Get("X-Test"))
	for i := 1; i < len(reqs); i++ {
		require.False(t, reqs[i].Time.Before(reqs[i-1].Time), "requests are in arrival order")
	}

	// The returned records are copies.
	reqs[0].Headers.Set("X-Test", "changed")
	require.Equal(t, "1", s.Requests()[0].Headers.Get("X-Test"))

	s.Reset()
	require.Empty(t, s.Requests())
	require.Empty(t, s.Deliveries())
	require.Equal(t, 503, do(t, ts, "GET", "/flaky?failures=1", "", nil).status, "Reset clears flaky counters")
	res := do(t, ts, "POST", "/carriers/acme", "{}", map[string]string{"Idempotency-Key": "k"})
	require.Equal(t, "q-acme-1", res.json(t)["quoteId"])
	require.Len(t, s.Requests(), 2)
}

func TestWithLoggerLogsRequests(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slogToBuffer(&mu, &buf)
	_, ts := newTestServer(t, mockapi.WithLogger(logger))
	do(t, ts, "GET", "/status/418", "", nil)
	ts.Close() // wait for the handler (and its deferred log call) to finish
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, buf.String(), "path=/status/418")
	require.Contains(t, buf.String(), "status=418")
}

// lockedWriter serialises writes to a shared buffer.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func slogToBuffer(mu *sync.Mutex, buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
