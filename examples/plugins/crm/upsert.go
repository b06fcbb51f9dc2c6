package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
)

// version is the version of this plugin's components.
const version = "1.0.0"

// maxResponseBytes caps what the step reads of a CRM response.
const maxResponseBytes = 1 << 20

//go:embed schemas/upsert_contact.json
var upsertSchema []byte

// client is shared by every call: the host creates a new step instance per
// call, and connections are worth keeping. It follows no redirect, so the
// step talks to its configured baseUrl and nowhere else; there is no
// client-wide timeout because every request carries the step's context.
var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// UpsertContact is the step crm.upsert_contact: PUT {baseUrl}/crm/contacts/{email}
// creates the contact or updates it. It sends the run's idempotency key, so
// the retry of an attempt whose response was lost is answered with the first
// attempt's result instead of writing twice.
//
// Output: {"id", "created", "replayed", "contact"}.
//
// Errors: HTTP 408, 429 and 5xx are retryable HTTP_nnn errors carrying the
// response's Retry-After; other statuses are HTTP_nnn errors that are not
// retried; TIMEOUT and CONNECTION are retryable; a 2xx response that is not
// a contact is CRM_BAD_RESPONSE.
type UpsertContact struct{}

var (
	_ sdk.Step          = (*UpsertContact)(nil)
	_ sdk.ConfigChecker = (*UpsertContact)(nil)
)

// upsertConfig is the step's config.
type upsertConfig struct {
	BaseURL string  `json:"baseUrl"`
	Contact Contact `json:"contact"`
}

// Info implements sdk.Component.
func (*UpsertContact) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "upsert_contact", Version: version,
		Summary:      "Creates or updates a CRM contact by e-mail address (PUT {baseUrl}/crm/contacts/{email}), idempotently.",
		ConfigSchema: upsertSchema,
		New:          func() sdk.Component { return &UpsertContact{} }}
}

// CheckConfig implements sdk.ConfigChecker. It runs when a workflow is
// validated, on the config as written: what templates will fill in is
// checked again before each run.
func (*UpsertContact) CheckConfig(config sdk.Value) error {
	shape := &sdk.ValidationError{}
	if err := sdk.CheckConfigShape(config, upsertConfig{}); err != nil && !errors.As(err, &shape) {
		return err
	}
	obj, _ := config.(map[string]any)
	ve := &sdk.ValidationError{}
	if _, ok := obj["baseUrl"]; !ok {
		ve.Add("baseUrl", "is required")
	} else if s, _ := obj["baseUrl"].(string); !strings.Contains(s, "{{") {
		if msg := baseURLProblem(s); msg != "" {
			ve.Add("baseUrl", "%s", msg)
		}
	}
	switch c := obj["contact"].(type) {
	case nil:
		ve.Add("contact", "is required")
	case string: // a whole {{…}} template, per CheckConfigShape
	default:
		checkContactValue(ve, "contact", c, false, true)
	}
	// Every problem once: the shape's (unknown fields, wrong types), then
	// the others at paths it did not report.
	seen := map[string]bool{}
	for _, p := range shape.Problems {
		seen[p.Path] = true
	}
	for _, p := range ve.Problems {
		if !seen[p.Path] {
			shape.Problems = append(shape.Problems, p)
		}
	}
	return shape.Err()
}

// baseURLProblem says what is wrong with a base URL, or "".
func baseURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "is required"
	case err != nil:
		return fmt.Sprintf("is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an http or https URL", s)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", s)
	case u.User != nil:
		return "must not carry credentials: configure them in the plugin's environment"
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q must not have a query or fragment: the step appends /crm/contacts/{email}", s)
	}
	return ""
}

// Run implements sdk.Step.
func (*UpsertContact) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	var cfg upsertConfig
	ve := &sdk.ValidationError{}
	if err := in.Decode(&cfg); err != nil {
		if !errors.As(err, &ve) {
			return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "config: %v", err)
		}
	} else {
		if msg := baseURLProblem(cfg.BaseURL); msg != "" {
			ve.Add("baseUrl", "%s", msg)
		}
		obj, _ := in.Config.(map[string]any)
		checkContactValue(ve, "contact", obj["contact"], false, false)
	}
	if ve.Err() != nil {
		// Not wrapped: a wrapped *sdk.ValidationError would cross the wire as
		// VALIDATION_FAILED, and this is the step's own config at fault.
		return sdk.Output{}, &sdk.Error{Code: sdk.CodeInvalidConfig, Message: "config: " + ve.Error(), Details: ve.Problems}
	}
	cfg.Contact.Email = strings.ToLower(cfg.Contact.Email)

	log := plugin.Logger().With("execution", in.Run.ExecutionID, "step", in.Run.StepID, "attempt", in.Run.Attempt)
	body, err := json.Marshal(cfg.Contact)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInternal, "encode contact: %v", err)
	}
	endpoint := strings.TrimSuffix(cfg.BaseURL, "/") + "/crm/contacts/" + url.PathEscape(cfg.Contact.Email)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint, bytes.NewReader(body))
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "baseUrl: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "weft-plugin-crm/"+version)
	if in.Run.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.Run.IdempotencyKey)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		err = transportError(ctx, err)
		log.Warn("CRM unreachable", "error", err)
		return sdk.Output{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return sdk.Output{}, transportError(ctx, err)
	}
	if len(raw) > maxResponseBytes {
		return sdk.Output{}, sdk.Errorf(sdk.CodeResponseTooLarge, "CRM response exceeds %d bytes", maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := statusError(resp, raw)
		log.Warn("CRM refused the contact", "status", resp.StatusCode, "retryable", err.Retryable, "error", err.Message)
		return sdk.Output{}, err
	}
	var res struct {
		Contact  map[string]any `json:"contact"`
		Created  bool           `json:"created"`
		Replayed bool           `json:"replayed"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.Contact["id"] == nil {
		return sdk.Output{}, &sdk.Error{Code: "CRM_BAD_RESPONSE",
			Message: fmt.Sprintf("HTTP %d from the CRM is not a contact upsert result", resp.StatusCode),
			Details: map[string]any{"status": resp.StatusCode, "body": truncate(raw)}}
	}
	// The contact's id, not its address: logs are kept longer than contacts.
	log.Info("contact upserted", "id", res.Contact["id"], "created", res.Created, "replayed", res.Replayed,
		"durationMs", time.Since(start).Milliseconds())
	return sdk.Output{Data: map[string]any{"id": res.Contact["id"], "created": res.Created, "replayed": res.Replayed, "contact": res.Contact}}, nil
}

// statusError turns a refused request into an HTTP_nnn error, retryable for
// the statuses that say "later" (408, 429, 5xx), with the Retry-After the
// CRM asked for.
func statusError(resp *http.Response, raw []byte) *sdk.Error {
	msg := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		msg += ": " + body.Error
	}
	return &sdk.Error{
		Code:       sdk.HTTPStatusCode(resp.StatusCode),
		Message:    msg,
		Retryable:  resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Details:    map[string]any{"status": resp.StatusCode, "body": truncate(raw)},
	}
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// transportError maps a failed round trip to TIMEOUT, CANCELLED or
// CONNECTION.
func transportError(ctx context.Context, err error) error {
	// Over gRPC the end of the host's deadline can reach the plugin as a
	// cancellation: a deadline that has passed says which it was.
	dl, hasDeadline := ctx.Deadline()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), ctx.Err() != nil && hasDeadline && !time.Now().Before(dl):
		return &sdk.Error{Code: sdk.CodeTimeout, Message: "CRM request: " + err.Error(), Retryable: true, Err: err}
	case ctx.Err() != nil:
		return &sdk.Error{Code: sdk.CodeCancelled, Message: "CRM request: " + err.Error(), Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &sdk.Error{Code: sdk.CodeTimeout, Message: "CRM request: " + err.Error(), Retryable: true, Err: err}
	}
	return &sdk.Error{Code: sdk.CodeConnection, Message: "CRM request: " + err.Error(), Retryable: true, Err: err}
}

// truncate keeps error details small: every failed attempt is recorded.
func truncate(raw []byte) string {
	const max = 2 << 10
	if len(raw) <= max {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw[:max]), "") + "…"
}
