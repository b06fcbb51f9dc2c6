package mockapi

import "net/http"

// lead is a CRM record served by GET /leads and GET /leads/{id}. The data is
// deliberately messy (mixed case, unformatted phone numbers) so the examples
// have something to normalise.
type lead struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Score  int    `json:"score"`
	State  string `json:"state"`
	Phone  string `json:"phone"`
	Source string `json:"source"`
}

// leads is the fixed data set, in the order GET /leads lists it.
var leads = []lead{
	// A good lead: high score, valid email.
	{ID: "42", Email: "Ada.Lovelace@Example.com", Name: "ada lovelace", Score: 72, State: "ca", Phone: "+1 (415) 555-0134", Source: "web"},
	// A low-score lead, for routing/filtering examples.
	{ID: "7", Email: "grace.hopper@example.org", Name: "GRACE HOPPER", Score: 30, State: "ny", Phone: "212.555.0199", Source: "referral"},
	// A lead with a disposable email domain, for validation examples.
	{ID: "13", Email: "temp.user@mailinator.com", Name: "temp user", Score: 55, State: "tx", Phone: "5125550100", Source: "ads"},
	// The lead of the original API's curl examples ({"input":{"leadId":"lead_123"}}).
	{ID: "lead_123", Email: "Alan.Turing@Example.com", Name: "alan turing", Score: 88, State: "wa", Phone: "(206) 555-0123", Source: "partner"},
}

func findLead(id string) (lead, bool) {
	for _, l := range leads {
		if l.ID == id {
			return l, true
		}
	}
	return lead{}, false
}

func (s *Server) handleLeads(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": leads, "count": len(leads)})
}

// flakyLead is a lead whose service is down three calls in four: calls 1–3
// answer 503, call 4 the lead, and so on. The examples' GET retries three
// times, so an execution for it fails, and retrying that execution (call 4)
// completes it: the quickstart's failed execution, retried.
var flakyLead = lead{ID: "lead_flaky", Email: "Katherine.Johnson@Example.com", Name: "katherine johnson", Score: 91,
	State: "va", Phone: "757 555 0142", Source: "partner"}

// flakyLeadPeriod is the length of flakyLead's cycle of calls.
const flakyLeadPeriod = 4

func (s *Server) handleLead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == flakyLead.ID {
		s.mu.Lock()
		s.flaky["lead:"+id]++
		n := s.flaky["lead:"+id]
		s.mu.Unlock()
		if n%flakyLeadPeriod != 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "the lead service is unavailable", "attempt": n})
			return
		}
		writeJSON(w, http.StatusOK, flakyLead)
		return
	}
	l, ok := findLead(id)
	if !ok {
		writeError(w, http.StatusNotFound, "lead "+id+" not found")
		return
	}
	writeJSON(w, http.StatusOK, l)
}
