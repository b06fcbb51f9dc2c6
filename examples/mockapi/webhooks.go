package mockapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

const secretPrefix = "whsec_"

// decodeSecret returns the HMAC key for a Standard Webhooks secret. On a
// malformed "whsec_" secret it returns the raw bytes and an error.
func decodeSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		if key, err2 := base64.RawStdEncoding.DecodeString(rest); err2 == nil {
			return key, nil
		}
		return []byte(secret), fmt.Errorf("decoding webhook secret: %w", err)
	}
	return key, nil
}

// verifySignature reports whether any "v1,<base64>" entry of sigHeader is the
// HMAC-SHA256, keyed with key, of "<id>.<timestamp>.<body>".
func verifySignature(key []byte, id, timestamp string, body []byte, sigHeader string) bool {
	if id == "" || timestamp == "" || sigHeader == "" {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(sigHeader) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	raw := rawBody(r)
	d := Delivery{
		ID:         r.Header.Get(headerWebhookID),
		Timestamp:  r.Header.Get(headerWebhookTimestamp),
		Signature:  r.Header.Get(headerWebhookSignature),
		Body:       parseBody(raw),
		ReceivedAt: time.Now(),
	}
	if s.key != nil {
		d.Verified = verifySignature(s.key, d.ID, d.Timestamp, raw, d.Signature)
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()

	if s.key != nil && !d.Verified {
		writeError(w, http.StatusUnauthorized, "webhook signature verification failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"received": true})
}

func (s *Server) handleDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Delivery{"items": s.Deliveries()})
}
