package mockapi_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContactValidation(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		email      string
		body       string
		wantStatus int
		wantError  string
	}{
		{name: "not an address", email: "ada", body: `{"firstName":"Ada","lastName":"Lovelace"}`, wantStatus: 422,
			wantError: `"ada" is not an e-mail address`},
		{name: "no domain dot", email: "ada@example", body: `{"firstName":"Ada","lastName":"Lovelace"}`, wantStatus: 422,
			wantError: `"ada@example" is not an e-mail address`},
		{name: "empty body", email: "ada@example.com", wantStatus: 400,
			wantError: "request body is empty: send the contact as a JSON object"},
		{name: "bad JSON", email: "ada@example.com", body: `{"firstName":`, wantStatus: 400,
			wantError: "request body is not a contact: unexpected EOF"},
		{name: "unknown field", email: "ada@example.com", body: `{"firstName":"Ada","lastName":"Lovelace","nick":"A"}`, wantStatus: 400,
			wantError: `request body is not a contact: unknown field "nick"`},
		{name: "wrong type", email: "ada@example.com", body: `{"firstName":1,"lastName":"Lovelace"}`, wantStatus: 400,
			wantError: "request body is not a contact: cannot unmarshal number into Go struct field contactBody.firstName of type string"},
		{name: "trailing data", email: "ada@example.com", body: `{"firstName":"Ada","lastName":"Lovelace"} {}`, wantStatus: 400,
			wantError: "request body is not a contact: unexpected data after the JSON value"},
		{name: "missing names", email: "ada@example.com", body: `{"firstName":" "}`, wantStatus: 422,
			wantError: "firstName and lastName required"},
		{name: "body email differs", email: "ada@example.com", body: `{"email":"grace@example.org","firstName":"Ada","lastName":"Lovelace"}`,
			wantStatus: 422, wantError: `body email "grace@example.org" is not the contact's address "ada@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, ts, "PUT", "/crm/contacts/"+tt.email, tt.body, map[string]string{"Content-Type": "application/json"})
			require.Equal(t, tt.wantStatus, res.status, res.body)
			require.Equal(t, tt.wantError, res.json(t)["error"])
		})
	}
	res := do(t, ts, "GET", "/crm/contacts/ada@example.com", "", nil)
	require.Equal(t, 404, res.status, "no rejected request created the contact")
}

func TestContactUpsert(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t)
	calls := []struct {
		name       string
		method     string
		path       string
		body       string
		key        string
		wantStatus int
		wantBody   string
		wantReplay bool
	}{
		{name: "unknown contact", method: "GET", path: "/crm/contacts/ada@example.com", wantStatus: 404,
			wantBody: `{"error":"contact ada@example.com not found"}`},
		{name: "create", method: "PUT", path: "/crm/contacts/Ada@Example.com", key: "k1", wantStatus: 201,
			body: `{"email":"ADA@example.com","firstName":" Ada ","lastName":"Lovelace","phone":"+14155550134","company":"Analytical Engines"}`,
			wantBody: `{"contact":{"id":"c-1","email":"ada@example.com","firstName":"Ada","lastName":"Lovelace","phone":"+14155550134",
			  "company":"Analytical Engines","version":1},"created":true,"idempotencyKey":"k1","replayed":false}`},
		{name: "same key replays the creation", method: "PUT", path: "/crm/contacts/ada@example.com", key: "k1", wantStatus: 201,
			body: `{"firstName":"Augusta","lastName":"King"}`, wantReplay: true,
			wantBody: `{"contact":{"id":"c-1","email":"ada@example.com","firstName":"Ada","lastName":"Lovelace","phone":"+14155550134",
			  "company":"Analytical Engines","version":1},"created":true,"idempotencyKey":"k1","replayed":true}`},
		{name: "same key for another contact", method: "PUT", path: "/crm/contacts/grace@example.org", key: "k1", wantStatus: 422,
			body: `{"firstName":"Grace","lastName":"Hopper"}`, wantBody: `{"error":"Idempotency-Key \"k1\" was used for another contact"}`},
		{name: "update replaces the fields", method: "PUT", path: "/crm/contacts/ada%40example.com", key: "k2", wantStatus: 200,
			body: `{"firstName":"Augusta Ada","lastName":"King"}`,
			wantBody: `{"contact":{"id":"c-1","email":"ada@example.com","firstName":"Augusta Ada","lastName":"King","version":2},
			  "created":false,"idempotencyKey":"k2","replayed":false}`},
		{name: "without a key every call writes", method: "PUT", path: "/crm/contacts/ada@example.com", wantStatus: 200,
			body: `{"firstName":"Augusta Ada","lastName":"King"}`,
			wantBody: `{"contact":{"id":"c-1","email":"ada@example.com","firstName":"Augusta Ada","lastName":"King","version":3},
			  "created":false,"idempotencyKey":"","replayed":false}`},
		{name: "a second contact", method: "PUT", path: "/crm/contacts/grace@example.org", key: "k3", wantStatus: 201,
			body: `{"firstName":"Grace","lastName":"Hopper"}`,
			wantBody: `{"contact":{"id":"c-2","email":"grace@example.org","firstName":"Grace","lastName":"Hopper","version":1},
			  "created":true,"idempotencyKey":"k3","replayed":false}`},
		{name: "replay of an update keeps its status", method: "PUT", path: "/crm/contacts/ada@example.com", key: "k2", wantStatus: 200,
			body: `{"firstName":"X","lastName":"Y"}`, wantReplay: true,
			wantBody: `{"contact":{"id":"c-1","email":"ada@example.com","firstName":"Augusta Ada","lastName":"King","version":2},
			  "created":false,"idempotencyKey":"k2","replayed":true}`},
		{name: "get", method: "GET", path: "/crm/contacts/ADA@example.com", wantStatus: 200,
			wantBody: `{"id":"c-1","email":"ada@example.com","firstName":"Augusta Ada","lastName":"King","version":3}`},
		{name: "POST is not allowed", method: "POST", path: "/crm/contacts/ada@example.com", wantStatus: 405,
			wantBody: `{"error":"Method Not Allowed: POST /crm/contacts/ada@example.com"}`},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			header := map[string]string{"Content-Type": "application/json"}
			if c.key != "" {
				header["Idempotency-Key"] = c.key
			}
			res := do(t, ts, c.method, c.path, c.body, header)
			require.Equal(t, c.wantStatus, res.status, res.body)
			require.JSONEq(t, c.wantBody, res.body)
			if c.wantReplay {
				require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
			} else {
				require.Empty(t, res.header.Get("Idempotent-Replayed"))
			}
		})
	}
}

func TestResetForgetsContacts(t *testing.T) {
	t.Parallel()
	s, ts := newTestServer(t)
	body := `{"firstName":"Ada","lastName":"Lovelace"}`
	require.Equal(t, 201, do(t, ts, "PUT", "/crm/contacts/ada@example.com", body, map[string]string{"Idempotency-Key": "k"}).status)
	s.Reset()
	require.Equal(t, 404, do(t, ts, "GET", "/crm/contacts/ada@example.com", "", nil).status)
	res := do(t, ts, "PUT", "/crm/contacts/grace@example.org", `{"firstName":"Grace","lastName":"Hopper"}`, map[string]string{"Idempotency-Key": "k"})
	require.Equal(t, 201, res.status, "the key is forgotten too")
	require.Equal(t, "c-1", res.json(t)["contact"].(map[string]any)["id"], "ids start again")
}
