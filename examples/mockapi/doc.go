// Package mockapi is an in-process mock of the external HTTP APIs that the
// weft examples orchestrate. It lets the examples (and their tests) run
// offline and deterministically, while exercising the engine's retry,
// timeout, idempotency and webhook-verification features.
//
// A [Server] is a plain [net/http.Handler]: mount it in an
// [net/http/httptest.Server] for tests, or run the mockapi command
// (examples/mockapi/cmd/mockapi) to serve it on a TCP address. Every
// request is recorded and can be inspected with [Server.Requests];
// webhook deliveries are available from [Server.Deliveries].
//
// # Endpoints
//
// All responses are JSON; errors are {"error": "..."}. Request bodies are
// capped at 1 MiB (larger bodies get 413). Unknown paths get 404 and known
// paths with an unsupported method get 405 (with an Allow header).
//
//	Method     Path                   Behaviour
//	---------  ---------------------  ---------------------------------------------------------------
//	GET        /health                200 {"status":"ok"}
//	GET        /leads                 200 {"items":[lead…],"count":N}
//	GET        /leads/{id}            200 lead for ids "42" (good lead), "7" (score 30, state "ny"),
//	                                  "13" (disposable mailinator.com email, score 55), "lead_123"
//	                                  (score 88: the original API's curl examples); "lead_flaky"
//	                                  (score 91) answers 503 to calls 1–3 of every 4, so an execution
//	                                  with three attempts fails and its retry succeeds; else 404
//	POST       /carriers/{name}       201 {"carrier","accepted":true,"quoteId":"q-<name>-<n>","premium",
//	                                  "idempotencyKey","replayed","received":<body>}; premium is
//	                                  100+1.5×body.score (else body.priority, else 100); carrier
//	                                  "down" → 503; non-JSON body → 400; a repeated Idempotency-Key
//	                                  for the same carrier replays the first quote with
//	                                  "replayed":true and an Idempotent-Replayed: true header
//	PUT        /crm/contacts/{email}  upserts a CRM contact from {"firstName","lastName","phone","company"}
//	                                  (and optionally "email", which must be the path's): 201 when
//	                                  created, 200 when updated, body {"contact":{"id":"c-<n>","email",
//	                                  "firstName","lastName","phone","company","version"},"created",
//	                                  "idempotencyKey","replayed"}; addresses are matched in lower
//	                                  case and PUT replaces the fields (an omitted phone is cleared);
//	                                  unknown fields or bad JSON → 400; a malformed address, missing
//	                                  names or a body email that differs → 422; a repeated
//	                                  Idempotency-Key replays the first response (status included)
//	                                  with "replayed":true and Idempotent-Replayed: true, or is 422
//	                                  when it was used for another contact
//	GET        /crm/contacts/{email}  200 the contact; else 404
//	GET, POST  /flaky                 ?key=K&failures=N&status=S&retryAfter=R: per key, calls 1..N
//	                                  fail with S (default 503) {"error":"flaky failure","attempt":i}
//	                                  and Retry-After: R when R is given; later calls return
//	                                  200 {"ok":true,"attempts":i}; defaults key=default, failures=2
//	GET        /slow                  ?ms=N: waits N ms (default 1000, max 300000), then
//	                                  200 {"sleptMs":N}; if the request context ends first,
//	                                  503 {"error":"request cancelled","sleptMs":elapsed}
//	any        /status/{code}         responds with code (200–599) and {"status":code}; else 400
//	any        /echo                  200 {"method","path","query":{k:v or [v…]},
//	                                  "headers":{lower-case name: value},"body":<JSON or string>}
//	POST       /webhooks              records a [Delivery]; 401 if a secret is configured and the
//	                                  Standard Webhooks signature does not verify; else
//	                                  200 {"received":true}
//	GET        /webhooks/deliveries   200 {"items":[delivery…]}
//
// # Webhook signatures
//
// POST /webhooks follows the Standard Webhooks specification
// (https://www.standardwebhooks.com): the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the signature is
// HMAC-SHA256 keyed with the secret (for "whsec_<base64>" secrets the key is
// the base64-decoded suffix, otherwise the raw bytes of the secret), and the
// webhook-signature header holds space-separated "v1,<base64 signature>"
// entries, any one of which may match. The timestamp is not checked against
// the clock, so recorded fixtures stay valid.
package mockapi
