// Command leads is an example WASM guest for weft: a transform that
// normalises lead records and a validator that rejects disposable e-mail
// domains. Build it into a modules directory with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o modules/leads.wasm ./examples/wasm/leads
//
// and use it from a workflow:
//
//	{"type": "DATA_TRANSFORM", "config": {"operations": [{"type": "transform", "name": "normalize_lead"}]}}
//	{"type": "VALIDATION", "config": {"data": "{{input.email}}", "validator": "reject_disposable_email"}}
package main

import (
	"context"
	"strings"
	"unicode"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/wasm"
)

// Lead is a lead record as it arrives from web forms and list imports.
type Lead struct {
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone"`
	Company   string `json:"company"`
	Country   string `json:"country"`
}

// Normalized is a cleaned-up lead.
type Normalized struct {
	Email    string `json:"email"`
	Domain   string `json:"domain"`
	FullName string `json:"fullName"`
	Phone    string `json:"phone,omitempty"`
	Company  string `json:"company,omitempty"`
	Country  string `json:"country,omitempty"`
}

func normalize(_ context.Context, l Lead) (Normalized, error) {
	n := Normalized{
		Email:    strings.ToLower(strings.TrimSpace(l.Email)),
		FullName: strings.Join(strings.Fields(title(l.FirstName)+" "+title(l.LastName)), " "),
		Phone:    digits(l.Phone),
		Company:  strings.Join(strings.Fields(l.Company), " "),
		Country:  strings.ToUpper(strings.TrimSpace(l.Country)),
	}
	if at := strings.LastIndexByte(n.Email, '@'); at > 0 {
		n.Domain = n.Email[at+1:]
	}
	return n, nil
}

func title(s string) string {
	words := strings.Fields(strings.ToLower(s))
	for i, w := range words {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		words[i] = string(r)
	}
	return strings.Join(words, " ")
}

// digits keeps a leading + and the digits of a phone number.
func digits(s string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		if unicode.IsDigit(r) || (i == 0 && r == '+') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var disposable = map[string]bool{
	"mailinator.com": true, "guerrillamail.com": true, "10minutemail.com": true,
	"tempmail.com": true, "yopmail.com": true, "trashmail.com": true,
	"sharklasers.com": true, "getnada.com": true, "dispostable.com": true,
}

func rejectDisposable(_ context.Context, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		ve := &sdk.ValidationError{}
		ve.Add("", "%q is not an e-mail address", email)
		return ve
	}
	if domain := email[at+1:]; disposable[domain] {
		ve := &sdk.ValidationError{}
		ve.Add("", "%s is a disposable e-mail domain", domain)
		return ve
	}
	return nil
}

func init() {
	wasm.Serve(
		sdk.NewTransform("normalize_lead", normalize,
			sdk.WithSummary("Normalises a lead: trimmed lower-case e-mail and its domain, title-cased full name, digits-only phone.")),
		sdk.NewValidator("reject_disposable_email", rejectDisposable,
			sdk.WithSummary("Rejects e-mail addresses at disposable domains.")),
	)
}

func main() {}
