package main

import (
	"context"
	_ "embed"

	"github.com/weftworks/weft/sdk"
)

//go:embed schemas/valid_contact.json
var validContactSchema []byte

// ValidContact is the validator crm.valid_contact: a contact needs a
// well-formed e-mail address, a first and a last name; a phone number, when
// present (or required by requirePhone), must be in E.164; no other fields
// are allowed. Every problem is reported, each at its path.
//
// Config: {"requirePhone": true}, optional.
type ValidContact struct {
	RequirePhone bool `json:"requirePhone"`
}

var (
	_ sdk.Validator     = (*ValidContact)(nil)
	_ sdk.ConfigChecker = (*ValidContact)(nil)
)

// Info implements sdk.Component.
func (*ValidContact) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindValidator, Name: "valid_contact", Version: version,
		Summary:      "Checks a CRM contact: e-mail address, first and last name, E.164 phone.",
		ConfigSchema: validContactSchema,
		New:          func() sdk.Component { return &ValidContact{} }}
}

// CheckConfig implements sdk.ConfigChecker.
func (*ValidContact) CheckConfig(config sdk.Value) error {
	return sdk.CheckConfigShape(config, ValidContact{})
}

// Validate implements sdk.Validator.
func (v *ValidContact) Validate(_ context.Context, in sdk.Value) error {
	ve := &sdk.ValidationError{}
	checkContactValue(ve, "", in, v.RequirePhone, false)
	return ve.Err()
}
