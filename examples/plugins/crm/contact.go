package main

import (
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// Contact is a CRM contact as this plugin's components exchange it: the
// transform produces it, the validator checks it, the step sends it.
type Contact struct {
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone,omitempty"`
	Company   string `json:"company,omitempty"`
}

// contactFields are the fields of a Contact, in the order problems are
// reported.
var contactFields = []string{"email", "firstName", "lastName", "phone", "company"}

// e164 is an international phone number: +, a country code, at most 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// emailProblem says what is wrong with an e-mail address, or "".
func emailProblem(s string) string {
	if strings.TrimSpace(s) == "" {
		return "is required"
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "is not an e-mail address"
	}
	if len(s) > 254 {
		return "is longer than 254 characters"
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "[") {
		return "has no domain name (want name@example.com)"
	}
	return ""
}

// checkContactValue reports every problem of a contact given as JSON-shaped
// data, at paths below base: wrong types, unknown fields, a malformed
// address or phone, blank names. With templates (an unrendered config), a
// field holding a {{…}} template is not judged: its value is not known yet.
func checkContactValue(ve *sdk.ValidationError, base string, v any, requirePhone, templates bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		ve.Add(base, "expected a contact object, got %s", sdk.TypeName(v))
		return
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(contactFields, k) {
			ve.Add(sdk.KeyPath(base, k), "unknown field (a contact has %s)", strings.Join(contactFields, ", "))
		}
	}
	for _, f := range contactFields {
		path := sdk.KeyPath(base, f)
		raw, present := obj[f]
		if raw == nil {
			present = false
		}
		s, isString := raw.(string)
		switch {
		case present && !isString:
			ve.Add(path, "expected a string, got %s", sdk.TypeName(raw))
			continue
		case templates && isString && strings.Contains(s, "{{"):
			continue
		}
		switch f {
		case "email":
			if msg := emailProblem(s); msg != "" {
				ve.Add(path, "%s", msg)
			}
		case "firstName", "lastName":
			if strings.TrimSpace(s) == "" {
				ve.Add(path, "is required")
			}
		case "phone":
			switch {
			case !present && requirePhone:
				ve.Add(path, "is required")
			case present && !e164.MatchString(s):
				ve.Add(path, "%q is not an international phone number (want E.164, such as +14155550134)", s)
			}
		}
	}
}
