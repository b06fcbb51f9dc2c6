package steps_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/sdk"
)

// webhookStep returns a one-step workflow with a WEBHOOK_CALL.
func webhookStep(cfg, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return wf(`{"id": "hook", "type": "WEBHOOK_CALL", "config": ` + cfg + extra + `}`)
}

// hmacSig computes a Standard Webhooks signature independently of the code
// under test.
func hmacSig(key []byte, id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignWebhook(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef-key")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	body := []byte(`{"type":"lead.qualified","data":{"id":"42"}}`)
	tests := []struct {
		name   string
		secret string
		id     string
		ts     int64
		body   []byte
		want   string
	}{
		{
			// The test vector of the Standard Webhooks specification.
			name:   "specification vector",
			secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			id:     "msg_p5jXN8AQM9LWM0D4loKWxJek", ts: 1614265330, body: []byte(`{"test": 2432232314}`),
			want: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		},
		{name: "whsec secret is base64 decoded", secret: whsec, id: "msg_1", ts: 1700000000, body: body,
			want: hmacSig(key, "msg_1", "1700000000", body)},
		{name: "raw secret is used as bytes", secret: "plain-secret", id: "msg_2", ts: 1, body: body,
			want: hmacSig([]byte("plain-secret"), "msg_2", "1", body)},
		{name: "empty body", secret: whsec, id: "msg_3", ts: 0, body: nil,
			want: hmacSig(key, "msg_3", "0", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := steps.SignWebhook(tt.secret, tt.id, tt.ts, tt.body)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("the signature covers id, timestamp and body", func(t *testing.T) {
		t.Parallel()
		ref, err := steps.SignWebhook(whsec, "msg_1", 100, body)
		require.NoError(t, err)
		for _, other := range []func() (string, error){
			func() (string, error) { return steps.SignWebhook(whsec, "msg_2", 100, body) },
			func() (string, error) { return steps.SignWebhook(whsec, "msg_1", 101, body) },
			func() (string, error) { return steps.SignWebhook(whsec, "msg_1", 100, append([]byte{' '}, body...)) },
			func() (string, error) {
				return steps.SignWebhook("whsec_"+base64.StdEncoding.EncodeToString([]byte("k2")), "msg_1", 100, body)
			},
		} {
			got, err := other()
			require.NoError(t, err)
			require.NotEqual(t, ref, got)
		}
	})

	errTests := []struct {
		name   string
		secret string
	}{
		{name: "empty secret", secret: ""},
		{name: "whsec secret not base64", secret: "whsec_***"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := steps.SignWebhook(tt.secret, "msg", 1, []byte("{}"))
			require.Error(t, err)
		})
	}
}

func TestWebhookCallVerifiedByReceiver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
	}{
		{name: "whsec secret", secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("a-32-byte-long-key-for-webhooks!"))},
		{name: "raw secret", secret: "a raw shared secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, base := mock(t, mockapi.WithWebhookSecret(tt.secret))
			fc := clockwork.NewFakeClockAt(fixedTime)
			eng := newEngine(t, engineOpts{steps: steps.Options{Clock: fc}, secrets: core.MapSecrets{"hook": tt.secret}})
			exec := run(t, eng, webhookStep(`{"url": "`+base+`/webhooks", "eventType": "lead.qualified",
				"payload": {"leadId": "{{leadId}}", "score": 72}, "secret": "{{secrets.hook}}"}`, ""),
				map[string]any{"leadId": "42"})
			requireCompleted(t, exec)

			ds := m.Deliveries()
			require.Len(t, ds, 1)
			d := ds[0]
			require.True(t, d.Verified, "the receiver verifies the signature")
			require.True(t, strings.HasPrefix(d.ID, "msg_"), d.ID)
			require.Equal(t, strconv.FormatInt(fixedTime.Unix(), 10), d.Timestamp)
			require.True(t, strings.HasPrefix(d.Signature, "v1,"), d.Signature)
			require.Equal(t, map[string]any{
				"type":      "lead.qualified",
				"timestamp": fixedTime.Format(time.RFC3339),
				"data":      map[string]any{"leadId": "42", "score": json.Number("72")},
			}, d.Body)

			out := obj(t, step(t, exec, "hook").Output)
			require.Equal(t, map[string]any{
				"webhookId": d.ID,
				"timestamp": float64(fixedTime.Unix()),
				"status":    float64(200),
				"signed":    true,
				"response":  map[string]any{"received": true},
			}, out)

			raw, err := json.Marshal(exec)
			require.NoError(t, err)
			require.NotContains(t, string(raw), tt.secret, "the secret is not recorded")
		})
	}
}

// recorded is one request received by a recorder.
type recorded struct {
	header http.Header
	body   []byte
}

// recorder is a webhook receiver that fails the first failures requests
// with 503 and records every request with its raw body.
type recorder struct {
	failures int

	mu   sync.Mutex
	reqs []recorded
}

func (rc *recorder) handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recorded{header: r.Header.Clone(), body: body})
	n := len(rc.reqs)
	rc.mu.Unlock()
	if n <= rc.failures {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "try later"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"ok": n})
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

func TestWebhookCallHeadersAndSignature(t *testing.T) {
	t.Parallel()
	key := []byte("independent-key")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	rc := &recorder{failures: 2}
	base := serve(t, rc.handler)
	fc := clockwork.NewFakeClockAt(fixedTime)
	eng := newEngine(t, engineOpts{steps: steps.Options{Clock: fc}, secrets: core.MapSecrets{"hook": secret}})
	exec := run(t, eng, webhookStep(`{"url": "`+base+`/in", "payload": {"a": [1, "<b>"]},
		"secret": "{{secrets.hook}}", "headers": {"X-Tenant": "t1"}}`,
		`"retryPolicy": {"strategy": "FIXED", "maxAttempts": 3, "initialDelay": 1}`), nil)
	requireCompleted(t, exec)
	st := step(t, exec, "hook")
	require.Equal(t, 3, st.Attempts)

	reqs := rc.all()
	require.Len(t, reqs, 3)
	id := reqs[0].header.Get("webhook-id")
	require.NotEmpty(t, id)
	for i, r := range reqs {
		require.Equal(t, id, r.header.Get("webhook-id"), "attempt %d: the webhook-id is stable across retries", i+1)
		ts := r.header.Get("webhook-timestamp")
		require.Equal(t, strconv.FormatInt(fixedTime.Unix(), 10), ts)
		require.Equal(t, hmacSig(key, id, ts, r.body), r.header.Get("webhook-signature"))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.Equal(t, "weft", r.header.Get("User-Agent"))
		require.Equal(t, "t1", r.header.Get("X-Tenant"))
		// Without eventType the payload is the body, exactly, without HTML escaping.
		require.Equal(t, `{"a":[1,"<b>"]}`, string(r.body))
	}
	out := obj(t, st.Output)
	require.Equal(t, id, out["webhookId"])
	require.Equal(t, float64(202), out["status"])
	require.Equal(t, map[string]any{"ok": float64(3)}, out["response"])
}

func TestWebhookCallIDDiffersPerStepAndExecution(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	plan := compile(t, eng, wf(`
		{"id": "one", "type": "WEBHOOK_CALL", "config": {"url": "`+base+`/webhooks", "payload": 1}},
		{"id": "two", "type": "WEBHOOK_CALL", "config": {"url": "`+base+`/webhooks", "payload": 2}}`))
	for range 2 {
		exec, err := eng.Execute(t.Context(), plan, nil)
		require.NoError(t, err)
		requireCompleted(t, exec)
	}
	ds := m.Deliveries()
	require.Len(t, ds, 4)
	seen := map[string]bool{}
	for _, d := range ds {
		require.False(t, seen[d.ID], "duplicate webhook-id %s", d.ID)
		seen[d.ID] = true
	}
}

func TestWebhookCallUnsigned(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, webhookStep(`{"url": "`+base+`/webhooks", "payload": {"x": "{{input.x}}"}}`, ""), map[string]any{"x": true})
	requireCompleted(t, exec)
	ds := m.Deliveries()
	require.Len(t, ds, 1)
	require.Empty(t, ds[0].Signature, "no signature without a secret")
	require.False(t, ds[0].Verified)
	require.NotEmpty(t, ds[0].ID)
	require.NotEmpty(t, ds[0].Timestamp)
	require.Equal(t, map[string]any{"x": true}, ds[0].Body)
	out := obj(t, step(t, exec, "hook").Output)
	require.Equal(t, false, out["signed"])
	require.Equal(t, ds[0].ID, out["webhookId"])
}

func TestWebhookCallFailures(t *testing.T) {
	t.Parallel()
	_, verifying := mock(t, mockapi.WithWebhookSecret("the-receivers-secret"))
	_, plain := mock(t)
	tests := []struct {
		name     string
		cfg      string
		secrets  core.MapSecrets
		wantCode string
	}{
		{name: "wrong secret is rejected by the receiver",
			cfg:     `{"url": "` + verifying + `/webhooks", "payload": {}, "secret": "{{secrets.hook}}"}`,
			secrets: core.MapSecrets{"hook": "not-the-receivers-secret"}, wantCode: "HTTP_401"},
		{name: "unsigned is rejected by a verifying receiver",
			cfg: `{"url": "` + verifying + `/webhooks", "payload": {}}`, wantCode: "HTTP_401"},
		{name: "status outside acceptStatus",
			cfg: `{"url": "` + plain + `/webhooks", "payload": {}, "acceptStatus": [201]}`, wantCode: "HTTP_200"},
		{name: "status accepted by acceptStatus",
			cfg: `{"url": "` + plain + `/status/409", "payload": {}, "acceptStatus": ["2xx", 409]}`},
		{name: "missing secret", cfg: `{"url": "` + plain + `/webhooks", "payload": {}, "secret": "{{secrets.nope}}"}`,
			secrets: core.MapSecrets{}, wantCode: sdk.CodeTemplate},
		{name: "secret rendering to a bad whsec", cfg: `{"url": "` + plain + `/webhooks", "payload": {}, "secret": "{{secrets.hook}}"}`,
			secrets: core.MapSecrets{"hook": "whsec_%%%"}, wantCode: sdk.CodeInvalidConfig},
		{name: "templated URL with a bad scheme", cfg: `{"url": "{{input.url}}", "payload": {}}`, wantCode: sdk.CodeInvalidConfig},
		{name: "forbidden address", cfg: `{"url": "http://169.254.169.254/hook", "payload": {}}`, wantCode: sdk.CodeForbiddenAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eng := newEngine(t, engineOpts{secrets: tt.secrets})
			exec := run(t, eng, webhookStep(tt.cfg, ""), map[string]any{"url": "file:///etc/passwd"})
			if tt.wantCode == "" {
				requireCompleted(t, exec)
				return
			}
			requireFailed(t, exec, tt.wantCode)
			require.Equal(t, tt.wantCode, step(t, exec, "hook").Error.Code)
		})
	}
}

func TestWebhookCallCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name string
		cfg  string
		want [][2]string
	}{
		{name: "inline secret", cfg: `{"url": "http://127.0.0.1/h", "secret": "whsec_c2VjcmV0"}`,
			want: [][2]string{{"steps[0].config.secret", "{{secrets.NAME}}"}}},
		{name: "inline raw secret", cfg: `{"url": "http://127.0.0.1/h", "secret": "hunter2"}`,
			want: [][2]string{{"steps[0].config.secret", "not inline"}}},
		{name: "inline malformed whsec secret", cfg: `{"url": "http://127.0.0.1/h", "secret": "whsec_%%%"}`,
			want: [][2]string{{"steps[0].config.secret", "base64"}, {"steps[0].config.secret", "not inline"}}},
		{name: "missing url", cfg: `{"payload": {}}`,
			want: [][2]string{{"steps[0].config.url", "is required"}}},
		{name: "non-http url", cfg: `{"url": "mailto:x@example.com"}`,
			want: [][2]string{{"steps[0].config.url", "http://"}}},
		{name: "unknown field", cfg: `{"url": "http://127.0.0.1/h", "method": "PUT"}`,
			want: [][2]string{{"steps[0].config.method", ""}}},
		{name: "bad acceptStatus", cfg: `{"url": "http://127.0.0.1/h", "acceptStatus": ["abc"]}`,
			want: [][2]string{{"steps[0].config.acceptStatus[0]", ""}}},
		{name: "eventType not a string", cfg: `{"url": "http://127.0.0.1/h", "eventType": 5}`,
			want: [][2]string{{"steps[0].config.eventType", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, webhookStep(tt.cfg, ""))
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}

	t.Run("templated secret compiles", func(t *testing.T) {
		t.Parallel()
		compile(t, eng, webhookStep(`{"url": "http://127.0.0.1/h", "secret": "{{secrets.hook}}", "eventType": "{{input.t}}"}`, ""))
	})
}

func TestWebhookCallPayloadFromEarlierStep(t *testing.T) {
	t.Parallel()
	m, base := mock(t)
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, fmt.Sprintf(`{"name": "t", "steps": [
		{"id": "lead", "type": "HTTP_REQUEST", "config": {"url": "%[1]s/leads/7"}},
		{"id": "hook", "type": "WEBHOOK_CALL", "dependsOn": ["lead"], "config": {
			"url": "%[1]s/webhooks", "eventType": "lead.scored", "payload": "{{steps.lead.output.body}}"}}]}`, base), nil)
	requireCompleted(t, exec)
	ds := m.Deliveries()
	require.Len(t, ds, 1)
	data := obj(t, obj(t, ds[0].Body)["data"])
	require.Equal(t, "7", data["id"])
	require.Equal(t, json.Number("30"), data["score"])
}
