package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/examples/mockapi"
	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

// crm serves the plugin's components over the real plugin protocol.
func crm(t *testing.T) *plugintest.Plugin {
	t.Helper()
	return plugintest.New(t, &UpsertContact{}, &ContactFromLead{}, &ValidContact{})
}

// ada is a valid contact as the step's config carries it.
func ada() map[string]any {
	return map[string]any{"email": "Ada.Lovelace@Example.com", "firstName": "Ada", "lastName": "Lovelace",
		"phone": "+14155550134", "company": "Analytical Engines"}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := crm(t).Describe(t.Context())
	require.NoError(t, err)
	require.Len(t, d.Components, 3)
	kinds := map[string]sdk.Kind{}
	for _, c := range d.Components {
		kinds[c.Name] = c.Kind
		require.Equal(t, version, c.Version, c.Name)
		require.True(t, c.ChecksConfig, c.Name)
		require.NotEmpty(t, c.Summary, c.Name)
		var schema map[string]any
		require.NoError(t, json.Unmarshal(c.ConfigSchema, &schema), c.Name)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", schema["$schema"], c.Name)
	}
	require.Equal(t, map[string]sdk.Kind{"upsert_contact": sdk.KindStep, "contact_from_lead": sdk.KindTransform,
		"valid_contact": sdk.KindValidator}, kinds)
}

func TestUpsertContact(t *testing.T) {
	t.Parallel()
	mock := mockapi.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	p := crm(t)

	out, err := p.Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": srv.URL + "/", "contact": ada()})
	require.NoError(t, err)
	want := map[string]any{"id": "c-1", "created": true, "replayed": false, "contact": map[string]any{
		"id": "c-1", "email": "ada.lovelace@example.com", "firstName": "Ada", "lastName": "Lovelace",
		"phone": "+14155550134", "company": "Analytical Engines", "version": float64(1)}}
	require.Equal(t, want, out)

	reqs := mock.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "PUT", reqs[0].Method)
	require.Equal(t, "/crm/contacts/ada.lovelace@example.com", reqs[0].Path)
	require.Equal(t, "test-execution/test-step", reqs[0].Headers.Get("Idempotency-Key"), "the run's idempotency key")
	require.Equal(t, "application/json", reqs[0].Headers.Get("Content-Type"))
	require.Equal(t, "weft-plugin-crm/"+version, reqs[0].Headers.Get("User-Agent"))

	// plugintest runs every attempt with the same idempotency key, as the
	// engine does for the retries of one step: the CRM replays its answer.
	out, err = p.Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": srv.URL, "contact": ada()})
	require.NoError(t, err)
	want["replayed"] = true
	require.Equal(t, want, out)

	// An update: the contact exists, and the key is new to the CRM.
	mock.Reset()
	resp, err := srv.Client().Do(mustPut(t, srv.URL+"/crm/contacts/grace@example.org", `{"firstName": "Grace", "lastName": "Brewster"}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	out, err = p.Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": srv.URL,
		"contact": map[string]any{"email": "grace@example.org", "firstName": "Grace", "lastName": "Hopper"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": "c-1", "created": false, "replayed": false, "contact": map[string]any{
		"id": "c-1", "email": "grace@example.org", "firstName": "Grace", "lastName": "Hopper", "version": float64(2)}}, out)
}

func mustPut(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, strings.NewReader(body))
	require.NoError(t, err)
	return req
}

// crmReplying is a CRM that answers every request with status, header and body.
func crmReplying(t *testing.T, status int, header map[string]string, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUpsertContactErrors(t *testing.T) {
	t.Parallel()
	p := crm(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	built := time.Now()
	inAMinute := built.Add(time.Minute).Truncate(time.Second) // whole seconds, as an HTTP-date has them
	var redirected atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { redirected.Store(true) }))
	t.Cleanup(elsewhere.Close)
	tests := []struct {
		name           string
		baseURL        string
		wantCode       string
		wantRetryable  bool
		wantRetryAfter time.Duration
		retryAt        time.Time // an HTTP-date Retry-After, in place of wantRetryAfter
		wantMessage    string
	}{
		{name: "unavailable with Retry-After seconds", wantCode: "HTTP_503", wantRetryable: true, wantRetryAfter: 7 * time.Second,
			baseURL:     crmReplying(t, 503, map[string]string{"Retry-After": "7"}, `{"error": "maintenance"}`).URL,
			wantMessage: "HTTP 503 Service Unavailable: maintenance"},
		{name: "rate limited with an HTTP-date Retry-After", wantCode: "HTTP_429", wantRetryable: true, retryAt: inAMinute,
			baseURL: crmReplying(t, 429, map[string]string{"Retry-After": inAMinute.UTC().Format(http.TimeFormat)}, `{}`).URL},
		{name: "server error without Retry-After", wantCode: "HTTP_500", wantRetryable: true,
			baseURL: crmReplying(t, 500, nil, `oops`).URL, wantMessage: "HTTP 500 Internal Server Error"},
		{name: "refused contact is not retried", wantCode: "HTTP_422",
			baseURL:     crmReplying(t, 422, map[string]string{"Retry-After": "3"}, `{"error": "no such company"}`).URL,
			wantMessage: "HTTP 422 Unprocessable Entity: no such company", wantRetryAfter: 3 * time.Second},
		{name: "not found is not retried", wantCode: "HTTP_404", baseURL: crmReplying(t, 404, nil, `{"error": "no CRM here"}`).URL},
		{name: "redirects are not followed", wantCode: "HTTP_307",
			baseURL: crmReplying(t, 307, map[string]string{"Location": elsewhere.URL + "/crm/contacts/x"}, ``).URL},
		{name: "a 2xx that is not a contact", wantCode: "CRM_BAD_RESPONSE",
			baseURL: crmReplying(t, 200, nil, `{"ok": true}`).URL, wantMessage: "HTTP 200 from the CRM is not a contact upsert result"},
		{name: "nobody listening", wantCode: sdk.CodeConnection, wantRetryable: true, baseURL: closed.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": tt.baseURL, "contact": ada()})
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantCode, e.Code, e.Message)
			require.Equal(t, tt.wantRetryable, e.Retryable)
			if tt.retryAt.IsZero() {
				require.Equal(t, tt.wantRetryAfter, e.RetryAfter)
			} else { // the time from when the plugin read the date to the date
				require.GreaterOrEqual(t, e.RetryAfter, time.Until(tt.retryAt).Truncate(time.Millisecond))
				require.LessOrEqual(t, e.RetryAfter, tt.retryAt.Sub(built)+time.Millisecond)
			}
			if tt.wantMessage != "" {
				require.Equal(t, tt.wantMessage, e.Message)
			}
		})
	}
	require.False(t, redirected.Load(), "the redirect was not followed")
}

func TestUpsertContactHonoursItsContext(t *testing.T) {
	t.Parallel()
	abandoned, done := make(chan struct{}), make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a hang-up only once the body is read
		select {
		case <-r.Context().Done(): // the plugin hung up
			close(abandoned)
		case <-done:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(done) })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := crm(t).Run(ctx, "upsert_contact", map[string]any{"baseUrl": hung.URL, "contact": ada()})
	require.Error(t, err)
	select {
	case <-abandoned: // the plugin gave up its request when its context ended
	case <-time.After(2 * time.Minute): // a guard, not a budget
		t.Fatal("the plugin kept its request to the CRM open after its deadline")
	}
}

func TestUpsertContactRefusesBadRenderedConfig(t *testing.T) {
	t.Parallel()
	mock := mockapi.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	_, err := crm(t).Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": "ftp://" + srv.Listener.Addr().String(),
		"contact": map[string]any{"email": "ada@localhost", "firstName": " ", "lastName": "Lovelace", "phone": "555"}})
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, sdk.CodeInvalidConfig, e.Code)
	require.False(t, e.Retryable)
	require.Equal(t, []any{
		map[string]any{"path": "baseUrl", "message": `"ftp://` + srv.Listener.Addr().String() + `" is not an http or https URL`},
		map[string]any{"path": "contact.email", "message": "has no domain name (want name@example.com)"},
		map[string]any{"path": "contact.firstName", "message": "is required"},
		map[string]any{"path": "contact.phone", "message": `"555" is not an international phone number (want E.164, such as +14155550134)`},
	}, e.Details)
	require.Empty(t, mock.Requests(), "nothing was sent")

	_, err = crm(t).Run(t.Context(), "upsert_contact", map[string]any{"baseUrl": srv.URL, "contact": ada(), "retries": 3})
	require.ErrorAs(t, err, &e)
	require.Equal(t, sdk.CodeInvalidConfig, e.Code)
	require.Contains(t, e.Message, `retries: unknown field "retries"`)
}

func TestUpsertContactCheckConfig(t *testing.T) {
	t.Parallel()
	p := crm(t)
	tests := []struct {
		name   string
		config any
		want   []sdk.Problem // nil: accepted
	}{
		{name: "literal", config: map[string]any{"baseUrl": "https://crm.example.com/api", "contact": ada()}},
		{name: "templates", config: map[string]any{"baseUrl": "{{apiBase}}", "contact": "{{steps.check.output}}"}},
		{name: "templated fields", config: map[string]any{"baseUrl": "{{apiBase}}/v2", "contact": map[string]any{
			"email": "{{input.email}}", "firstName": "{{input.first}}", "lastName": "Lovelace"}}},
		{name: "no config", config: nil, want: []sdk.Problem{{Path: "baseUrl", Message: "is required"}, {Path: "contact", Message: "is required"}}},
		{name: "unknown field", config: map[string]any{"baseUrl": "http://x", "contact": ada(), "baseUri": "http://y"},
			want: []sdk.Problem{{Path: "baseUri", Message: `unknown field "baseUri" (did you mean "baseUrl"?)`}}},
		{name: "shape and semantic problems together", config: map[string]any{"baseUrl": "http://x",
			"contact": map[string]any{"email": "ada", "firstName": "Ada", "lastName": "Lovelace", "nick": "A"}},
			want: []sdk.Problem{
				{Path: "contact.nick", Message: `unknown field "nick" (known: email, firstName, lastName, phone, company)`},
				{Path: "contact.email", Message: "is not an e-mail address"}}},
		{name: "wrong type", config: map[string]any{"baseUrl": 8080, "contact": ada()},
			want: []sdk.Problem{{Path: "baseUrl", Message: "expected a string, got a number"}}},
		{name: "semantic problems", config: map[string]any{"baseUrl": "https://user:pw@crm.example.com", "contact": map[string]any{
			"email": "Ada <ada@example.com>", "lastName": "Lovelace", "phone": "{{input.phone}}"}},
			want: []sdk.Problem{
				{Path: "baseUrl", Message: "must not carry credentials: configure them in the plugin's environment"},
				{Path: "contact.email", Message: "is not an e-mail address"},
				{Path: "contact.firstName", Message: "is required"}}},
		{name: "query in the base URL", config: map[string]any{"baseUrl": "http://crm.example.com/?tenant=1", "contact": "{{c}}"},
			want: []sdk.Problem{{Path: "baseUrl", Message: `"http://crm.example.com/?tenant=1" must not have a query or fragment: the step appends /crm/contacts/{email}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckConfig(t.Context(), sdk.KindStep, "upsert_contact", tt.config)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.want, ve.Problems)
		})
	}
}

func TestContactFromLead(t *testing.T) {
	t.Parallel()
	p := crm(t)
	us := map[string]any{"defaultCountryCode": "1"}
	tests := []struct {
		name   string
		lead   any
		config any
		want   any
	}{
		{name: "lead 42 of the mock", config: us,
			lead: map[string]any{"id": "42", "email": "Ada.Lovelace@Example.com", "name": "ada lovelace", "score": 72, "state": "ca", "phone": "+1 (415) 555-0134", "source": "web"},
			want: map[string]any{"email": "ada.lovelace@example.com", "firstName": "Ada", "lastName": "Lovelace", "phone": "+14155550134"}},
		{name: "upper-case name, national number", config: us,
			lead: map[string]any{"email": "grace.hopper@example.org", "name": "GRACE HOPPER", "phone": "212.555.0199"},
			want: map[string]any{"email": "grace.hopper@example.org", "firstName": "Grace", "lastName": "Hopper", "phone": "+12125550199"}},
		{name: "national number with its country code", config: us,
			lead: map[string]any{"email": "a@b.co", "name": "x", "phone": "1 (206) 555-0123"},
			want: map[string]any{"email": "a@b.co", "firstName": "X", "lastName": "", "phone": "+12065550123"}},
		{name: "trunk prefix dropped", config: map[string]any{"defaultCountryCode": "44"},
			lead: map[string]any{"email": "t@example.co.uk", "name": "tim berners-lee", "phone": "020 7946 0958"},
			want: map[string]any{"email": "t@example.co.uk", "firstName": "Tim", "lastName": "Berners-Lee", "phone": "+442079460958"}},
		{name: "00 international prefix", lead: map[string]any{"email": "k@example.de", "name": "Konrad Zuse", "phone": "0049 30 1234567"},
			want: map[string]any{"email": "k@example.de", "firstName": "Konrad", "lastName": "Zuse", "phone": "+49301234567"}},
		{name: "no country code: national numbers kept", lead: map[string]any{"email": "k@example.de", "name": "Konrad Zuse", "phone": "030 1234567"},
			want: map[string]any{"email": "k@example.de", "firstName": "Konrad", "lastName": "Zuse", "phone": "030 1234567"}},
		{name: "names given, mixed case kept, company, numeric phone", config: us,
			lead: map[string]any{"email": " Rachel@Example.com ", "firstName": "Rachel", "lastName": "McAdams", "name": "ignored",
				"company": " Acme ", "phone": float64(4155550134)},
			want: map[string]any{"email": "rachel@example.com", "firstName": "Rachel", "lastName": "McAdams", "company": "Acme", "phone": "+14155550134"}},
		{name: "several given names", lead: map[string]any{"email": "a@b.co", "name": "  mary   ann  evans "},
			want: map[string]any{"email": "a@b.co", "firstName": "Mary", "lastName": "Ann Evans"}},
		{name: "nothing to go on", lead: map[string]any{},
			want: map[string]any{"email": "", "firstName": "", "lastName": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := p.Transform(t.Context(), "contact_from_lead", tt.lead, tt.config)
			require.NoError(t, err)
			require.Equal(t, tt.want, out)
		})
	}

	t.Run("not a lead", func(t *testing.T) {
		_, err := p.Transform(t.Context(), "contact_from_lead", []any{"x"}, nil)
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, sdk.CodeInvalidInput, e.Code)
		require.Equal(t, "want a lead object, got an array", e.Message)
	})
	t.Run("fields of the wrong type", func(t *testing.T) {
		_, err := p.Transform(t.Context(), "contact_from_lead", map[string]any{"email": true, "name": "a b", "company": []any{}}, nil)
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, sdk.CodeInvalidInput, e.Code)
		require.Equal(t, []any{
			map[string]any{"path": "email", "message": "expected a string, got a boolean"},
			map[string]any{"path": "company", "message": "expected a string, got an array"},
		}, e.Details)
	})
	t.Run("config", func(t *testing.T) {
		err := p.CheckConfig(t.Context(), sdk.KindTransform, "contact_from_lead", map[string]any{"defaultCountryCode": "+1"})
		var ve *sdk.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []sdk.Problem{{Path: "defaultCountryCode", Message: `"+1" is not a country calling code (1 to 3 digits, such as "1" or "44")`}}, ve.Problems)
		err = p.CheckConfig(t.Context(), sdk.KindTransform, "contact_from_lead", map[string]any{"countryCode": "1"})
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "countryCode", ve.Problems[0].Path)
		require.NoError(t, p.CheckConfig(t.Context(), sdk.KindTransform, "contact_from_lead", nil))
	})
}

func TestValidContact(t *testing.T) {
	t.Parallel()
	p := crm(t)
	tests := []struct {
		name    string
		contact any
		config  any
		want    []sdk.Problem // nil: valid
	}{
		{name: "valid", contact: ada()},
		{name: "valid without phone", contact: map[string]any{"email": "a@b.co", "firstName": "A", "lastName": "B"}},
		{name: "phone required", contact: map[string]any{"email": "a@b.co", "firstName": "A", "lastName": "B"},
			config: map[string]any{"requirePhone": true}, want: []sdk.Problem{{Path: "phone", Message: "is required"}}},
		{name: "every problem with its path",
			contact: map[string]any{"email": "not-an-address", "firstName": "", "phone": "+1 415 555", "nick": "x", "company": 7},
			want: []sdk.Problem{
				{Path: "nick", Message: "unknown field (a contact has email, firstName, lastName, phone, company)"},
				{Path: "email", Message: "is not an e-mail address"},
				{Path: "firstName", Message: "is required"},
				{Path: "lastName", Message: "is required"},
				{Path: "phone", Message: `"+1 415 555" is not an international phone number (want E.164, such as +14155550134)`},
				{Path: "company", Message: "expected a string, got a number"}}},
		{name: "a template is just text here", contact: map[string]any{"email": "{{input.email}}", "firstName": "A", "lastName": "B"},
			want: []sdk.Problem{{Path: "email", Message: "is not an e-mail address"}}},
		{name: "not an object", contact: "ada@example.com",
			want: []sdk.Problem{{Message: "expected a contact object, got a string"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(t.Context(), "valid_contact", tt.contact, tt.config)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.want, ve.Problems)
		})
	}
}
