package mockapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// contact is a CRM contact, kept by PUT /crm/contacts/{email} under its
// lower-cased e-mail address.
type contact struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone,omitempty"`
	Company   string `json:"company,omitempty"`
	// Version counts the writes of the contact: 1 when created.
	Version int `json:"version"`
}

// contactBody is the request body of PUT /crm/contacts/{email}.
type contactBody struct {
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone"`
	Company   string `json:"company"`
}

// upsertResult is the response of PUT /crm/contacts/{email}.
type upsertResult struct {
	Contact        contact `json:"contact"`
	Created        bool    `json:"created"`
	IdempotencyKey string  `json:"idempotencyKey"`
	Replayed       bool    `json:"replayed"`
}

// upsertRecord is the first response given for an Idempotency-Key.
type upsertRecord struct {
	email  string
	status int
	result upsertResult
}

// contactKey is the identity of a contact: its address, case-insensitively.
func contactKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// plausibleEmail is the mock's check of an address: something@domain.tld.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.ContainsAny(s, " \t\r\n") &&
		strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.Contains(domain, "@")
}

func (s *Server) handleUpsertContact(w http.ResponseWriter, r *http.Request) {
	email := contactKey(r.PathValue("email"))
	if !plausibleEmail(email) {
		writeError(w, http.StatusUnprocessableEntity, strconv.Quote(r.PathValue("email"))+" is not an e-mail address")
		return
	}
	raw := rawBody(r)
	if len(bytes.TrimSpace(raw)) == 0 {
		writeError(w, http.StatusBadRequest, "request body is empty: send the contact as a JSON object")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body contactBody
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "request body is not a contact: "+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "request body is not a contact: unexpected data after the JSON value")
		return
	}
	var missing []string
	if strings.TrimSpace(body.FirstName) == "" {
		missing = append(missing, "firstName")
	}
	if strings.TrimSpace(body.LastName) == "" {
		missing = append(missing, "lastName")
	}
	switch {
	case body.Email != "" && contactKey(body.Email) != email:
		writeError(w, http.StatusUnprocessableEntity, "body email "+strconv.Quote(body.Email)+" is not the contact's address "+strconv.Quote(email))
		return
	case len(missing) > 0:
		writeError(w, http.StatusUnprocessableEntity, strings.Join(missing, " and ")+" required")
		return
	}
	key := r.Header.Get("Idempotency-Key")

	s.mu.Lock()
	if key != "" {
		if prev, ok := s.upserts[key]; ok {
			s.mu.Unlock()
			if prev.email != email {
				writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key "+strconv.Quote(key)+" was used for another contact")
				return
			}
			res := prev.result
			res.Replayed = true
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSON(w, prev.status, res)
			return
		}
	}
	c, exists := s.contacts[email]
	if !exists {
		s.contactSeq++
		c = contact{ID: "c-" + strconv.Itoa(s.contactSeq), Email: email}
	}
	// PUT replaces the contact's fields: an omitted phone or company is cleared.
	c.FirstName, c.LastName = strings.TrimSpace(body.FirstName), strings.TrimSpace(body.LastName)
	c.Phone, c.Company = strings.TrimSpace(body.Phone), strings.TrimSpace(body.Company)
	c.Version++
	s.contacts[email] = c
	res := upsertResult{Contact: c, Created: !exists, IdempotencyKey: key}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	if key != "" {
		s.upserts[key] = upsertRecord{email: email, status: status, result: res}
	}
	s.mu.Unlock()
	writeJSON(w, status, res)
}

func (s *Server) handleGetContact(w http.ResponseWriter, r *http.Request) {
	email := contactKey(r.PathValue("email"))
	s.mu.Lock()
	c, ok := s.contacts[email]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "contact "+email+" not found")
		return
	}
	writeJSON(w, http.StatusOK, c)
}
