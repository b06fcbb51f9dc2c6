package steps

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// WebhookCall is the WEBHOOK_CALL step: it POSTs a JSON event and, when a
// secret is set, signs it the Standard Webhooks way (webhook-id,
// webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>").
//
// Config: url, payload, eventType (when set the body is
// {"type", "timestamp", "data"}), secret ("whsec_<base64>" or raw text),
// headers, acceptStatus. The webhook-id is stable across the retries of the
// step, so receivers can drop duplicates. Output: the delivery record
// {webhookId, timestamp, status, signed, response}.
type WebhookCall struct {
	opts Options
}

var (
	_ sdk.Step          = (*WebhookCall)(nil)
	_ sdk.ConfigChecker = (*WebhookCall)(nil)
)

// Info implements sdk.Component.
func (w *WebhookCall) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeWebhookCall,
		Summary: "POSTs a JSON event signed with Standard Webhooks headers.",
		New:     func() sdk.Component { return &WebhookCall{opts: w.opts} }}
}

type webhookConfig struct {
	URL          string         `json:"url"`
	Payload      any            `json:"payload"`
	EventType    string         `json:"eventType"`
	Secret       string         `json:"secret"`
	Headers      map[string]any `json:"headers"`
	AcceptStatus []any          `json:"acceptStatus"`
}

// CheckConfig implements sdk.ConfigChecker.
func (*WebhookCall) CheckConfig(config sdk.Value) error {
	ve := &sdk.ValidationError{}
	if err := sdk.CheckConfigShape(config, webhookConfig{}); err != nil {
		ve.Problems = append(ve.Problems, err.(*sdk.ValidationError).Problems...)
	}
	m, _ := config.(map[string]any)
	checkURL(ve, m["url"])
	if s, ok := m["secret"].(string); ok && !core.HasTemplate(s) {
		if _, err := webhookKey(s); err != nil {
			ve.Add("secret", "%v", err)
		}
		ve.Add("secret", "write the secret as {{secrets.NAME}}, not inline: workflow definitions are stored and shown")
	}
	if list, ok := m["acceptStatus"].([]any); ok {
		for i, s := range list {
			if _, err := parseStatusPattern(s); err != nil {
				ve.Add(fmt.Sprintf("acceptStatus[%d]", i), "%v", err)
			}
		}
	}
	return ve.Err()
}

// webhookKey returns the HMAC key of a Standard Webhooks secret.
func webhookKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("a whsec_ secret must be base64 after the prefix")
		}
		return key, nil
	}
	if secret == "" {
		return nil, fmt.Errorf("empty secret")
	}
	return []byte(secret), nil
}

// SignWebhook computes the Standard Webhooks signature header value for a
// message: "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
func SignWebhook(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Run implements sdk.Step.
func (w *WebhookCall) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	var cfg webhookConfig
	if err := in.Decode(&cfg); err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	ve := &sdk.ValidationError{}
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
	now := w.opts.Clock.Now()
	// The id derives from the idempotency key: the same across retries.
	sum := sha256.Sum256([]byte(in.Run.IdempotencyKey))
	id := "msg_" + hex.EncodeToString(sum[:12])
	payload := cfg.Payload
	if cfg.EventType != "" {
		payload = map[string]any{"type": cfg.EventType, "timestamp": now.UTC().Format(time.RFC3339), "data": cfg.Payload}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "payload: %v", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.opts.UserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if cfg.Secret != "" {
		sig, err := SignWebhook(cfg.Secret, id, ts, body)
		if err != nil {
			return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "secret: %v", err)
		}
		req.Header.Set("webhook-signature", sig)
	}
	for k, v := range cfg.Headers {
		req.Header.Set(k, core.Stringify(v))
	}
	resp, err := do(ctx, w.opts, req, w.opts.MaxResponseBytes)
	if err != nil {
		return sdk.Output{}, err
	}
	if !accepted(resp.status, accept) {
		return sdk.Output{}, statusError(resp)
	}
	return sdk.Output{Data: map[string]any{
		"webhookId": id,
		"timestamp": float64(ts),
		"status":    float64(resp.status),
		"signed":    cfg.Secret != "",
		"response":  resp.body,
	}}, nil
}
