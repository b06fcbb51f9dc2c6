package main

import (
	"context"
	_ "embed"
	"strconv"
	"strings"
	"unicode"

	"github.com/weftworks/weft/sdk"
)

//go:embed schemas/contact_from_lead.json
var contactFromLeadSchema []byte

// ContactFromLead is the transform crm.contact_from_lead: a lead record (as
// GET /leads/{id} of the mock API returns it) becomes a Contact. The address
// is trimmed and lower-cased; "name" is split into first and last name
// (unless the lead has firstName and lastName), and names written all in
// lower or upper case are capitalised; the phone number is normalised to
// E.164 when it can be; company is kept. Other fields of the lead are left
// out. It does not judge the result: crm.valid_contact does.
//
// Config: {"defaultCountryCode": "1"}, optional.
type ContactFromLead struct {
	DefaultCountryCode string `json:"defaultCountryCode"`
}

var (
	_ sdk.Transform     = (*ContactFromLead)(nil)
	_ sdk.ConfigChecker = (*ContactFromLead)(nil)
)

// Info implements sdk.Component.
func (*ContactFromLead) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "contact_from_lead", Version: version,
		Summary:      "Turns a lead record into a CRM contact: e-mail lower-cased, name split and capitalised, phone in E.164.",
		ConfigSchema: contactFromLeadSchema,
		New:          func() sdk.Component { return &ContactFromLead{} }}
}

// CheckConfig implements sdk.ConfigChecker.
func (*ContactFromLead) CheckConfig(config sdk.Value) error {
	if err := sdk.CheckConfigShape(config, ContactFromLead{}); err != nil {
		return err
	}
	ve := &sdk.ValidationError{}
	obj, _ := config.(map[string]any)
	if cc, ok := obj["defaultCountryCode"].(string); ok && !strings.Contains(cc, "{{") && !validCountryCode(cc) {
		ve.Add("defaultCountryCode", "%q is not a country calling code (1 to 3 digits, such as \"1\" or \"44\")", cc)
	}
	return ve.Err()
}

func validCountryCode(cc string) bool {
	if len(cc) < 1 || len(cc) > 3 || cc[0] == '0' {
		return false
	}
	for _, r := range cc {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Transform implements sdk.Transform.
func (t *ContactFromLead) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	lead, ok := in.(map[string]any)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "want a lead object, got %s", sdk.TypeName(in))
	}
	if t.DefaultCountryCode != "" && !validCountryCode(t.DefaultCountryCode) {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "defaultCountryCode %q is not a country calling code", t.DefaultCountryCode)
	}
	ve := &sdk.ValidationError{}
	str := func(field string) string {
		switch v := lead[field].(type) {
		case nil:
			return ""
		case string:
			return strings.TrimSpace(v)
		case float64: // phone numbers stored as numbers
			if field == "phone" {
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		ve.Add(field, "expected a string, got %s", sdk.TypeName(lead[field]))
		return ""
	}
	c := Contact{Email: strings.ToLower(str("email")), Company: str("company")}
	c.FirstName, c.LastName = str("firstName"), str("lastName")
	if name := str("name"); c.FirstName == "" && c.LastName == "" && name != "" {
		words := strings.Fields(name)
		c.FirstName, c.LastName = words[0], strings.Join(words[1:], " ")
	}
	c.FirstName, c.LastName = capitalise(c.FirstName), capitalise(c.LastName)
	c.Phone = normalisePhone(str("phone"), t.DefaultCountryCode)
	if ve.Err() != nil {
		// INVALID_INPUT rather than VALIDATION_FAILED: a lead of the wrong
		// shape is a broken pipeline, not data to reject.
		return nil, &sdk.Error{Code: sdk.CodeInvalidInput, Message: "lead: " + ve.Error(), Details: ve.Problems}
	}
	return c, nil
}

// capitalise writes each word of a name written all in lower or all in
// upper case with a capital initial ("ada lovelace", "GRACE HOPPER"), after
// spaces, hyphens and apostrophes. Mixed case ("McAdams") is kept as given.
func capitalise(name string) string {
	if name != strings.ToLower(name) && name != strings.ToUpper(name) {
		return name
	}
	out := []rune(strings.ToLower(name))
	start := true
	for i, r := range out {
		if start && unicode.IsLetter(r) {
			out[i] = unicode.ToUpper(r)
		}
		start = r == ' ' || r == '-' || r == '\''
	}
	return string(out)
}

// normalisePhone writes a phone number in E.164: +, country code, number.
// A number written with + or 00 keeps its country code; one written without
// gets countryCode (after dropping a national trunk prefix 0), unless it
// already starts with it and is too long to be a national number. Without a
// country code, or without digits, the number is returned as given.
func normalisePhone(phone, countryCode string) string {
	var digits strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	switch {
	case d == "":
		return phone
	case strings.HasPrefix(phone, "+"):
		return "+" + d
	case strings.HasPrefix(d, "00"):
		return "+" + d[2:]
	case countryCode == "":
		return phone
	case strings.HasPrefix(d, countryCode) && len(d) > 10:
		return "+" + d
	}
	return "+" + countryCode + strings.TrimLeft(d, "0")
}
