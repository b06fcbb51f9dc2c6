package examples_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// configured returns a new instance of a registered component with its
// static config (JSON, "" for none), as a DATA_TRANSFORM or VALIDATION step
// makes it.
func configured(t *testing.T, reg *core.Registry, kind sdk.Kind, name, config string) sdk.Component {
	t.Helper()
	e, ok := reg.Lookup(kind, name)
	require.True(t, ok, "%s %s", kind, name)
	c := e.New()
	if config != "" {
		require.NoError(t, c.(interface{ UnmarshalJSON([]byte) error }).UnmarshalJSON([]byte(config)))
	}
	return c
}

func TestLuaTransforms(t *testing.T) {
	t.Parallel()
	reg := steps.NewRegistry(steps.Options{})
	addLua(t, reg)
	tests := []struct {
		name      string
		transform string
		config    string
		input     any
		want      any
		wantCode  string
	}{
		{name: "phone with a country code", transform: "normalize_phone", input: "+44 (20) 7946-0018", want: "+442079460018"},
		{name: "phone with the 00 prefix", transform: "normalize_phone", input: "0044 20 7946 0018", want: "+442079460018"},
		{name: "national phone gets the default code", transform: "normalize_phone", input: "(415) 555-0134", want: "+14155550134"},
		{name: "North American phone written with its 1", transform: "normalize_phone", input: "1-415-555-0134", want: "+14155550134"},
		{name: "trunk 0 dropped", transform: "normalize_phone", config: `{"defaultCountryCode": "+44"}`, input: "020 7946 0018", want: "+442079460018"},
		{name: "phone field of a record", transform: "normalize_phone",
			input: map[string]any{"name": "Grace", "phone": "212.555.0199"}, want: map[string]any{"name": "Grace", "phone": "+12125550199"}},
		{name: "another field", transform: "normalize_phone", config: `{"field": "mobile", "defaultCountryCode": 49}`,
			input: map[string]any{"mobile": "0151 2345 6789"}, want: map[string]any{"mobile": "+4915123456789"}},
		{name: "record without a phone", transform: "normalize_phone", input: map[string]any{"name": "Ada"}, want: map[string]any{"name": "Ada"}},
		{name: "too short", transform: "normalize_phone", input: "555-12", wantCode: "INVALID_PHONE"},
		{name: "too long", transform: "normalize_phone", input: "+1 234 567 890 123 456", wantCode: "INVALID_PHONE"},
		{name: "not a phone", transform: "normalize_phone", input: 42.0, wantCode: sdk.CodeInvalidInput},

		{name: "hot lead", transform: "score_lead",
			input: map[string]any{"crmScore": 72.0, "source": "web", "phone": "+14155550134", "email": "ada@example.com"},
			want:  map[string]any{"crmScore": 72.0, "source": "web", "phone": "+14155550134", "email": "ada@example.com", "score": 71.0, "tier": "hot"}},
		{name: "free mail, no phone", transform: "score_lead",
			input: map[string]any{"crmScore": 50.0, "source": "Ads", "email": "joe@gmail.com", "phone": nil},
			want:  map[string]any{"crmScore": 50.0, "source": "Ads", "email": "joe@gmail.com", "phone": nil, "score": 30.0, "tier": "cold"}},
		{name: "capped at 100", transform: "score_lead",
			input: map[string]any{"crmScore": 250.0, "source": "referral", "phone": "1", "email": "a@acme.io"},
			want:  map[string]any{"crmScore": 250.0, "source": "referral", "phone": "1", "email": "a@acme.io", "score": 100.0, "tier": "hot"}},
		{name: "configured points and tiers", transform: "score_lead", config: `{"sources": {"web": 50}, "hot": 90, "warm": 60}`,
			input: map[string]any{"crmScore": 41.0, "source": "web"},
			want:  map[string]any{"crmScore": 41.0, "source": "web", "score": 71.0, "tier": "warm"}},
		{name: "nothing known", transform: "score_lead", input: map[string]any{}, want: map[string]any{"score": 0.0, "tier": "cold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := configured(t, reg, sdk.KindTransform, tt.transform, tt.config).(sdk.Transform)
			got, err := tr.Transform(context.Background(), tt.input)
			if tt.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantCode, sdk.AsError(err).Code, err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLuaValidators(t *testing.T) {
	t.Parallel()
	reg := steps.NewRegistry(steps.Options{})
	addLua(t, reg)
	tests := []struct {
		name   string
		config string
		input  any
		want   []sdk.Problem // nil: accepted
	}{
		{name: "company address", input: "ada@example.com"},
		{name: "disposable domain", input: map[string]any{"email": "joe@Mailinator.com"},
			want: []sdk.Problem{{Path: "email", Message: "mailinator.com is a disposable e-mail domain"}}},
		{name: "subdomain of a disposable domain", input: "x@mail.yopmail.com",
			want: []sdk.Problem{{Message: "mail.yopmail.com is a disposable e-mail domain"}}},
		{name: "domain added by config", config: `{"domains": ["Spam.Example"]}`, input: "a@spam.example",
			want: []sdk.Problem{{Message: "spam.example is a disposable e-mail domain"}}},
		{name: "domain allowed by config", config: `{"allow": ["mailinator.com"]}`, input: "joe@mailinator.com"},
		{name: "not an address", input: map[string]any{"email": "nobody"},
			want: []sdk.Problem{{Path: "email", Message: `"nobody" is not an e-mail address`}}},
		{name: "not a string", input: map[string]any{"email": 5.0},
			want: []sdk.Problem{{Path: "email", Message: "must be a string, got number"}}},
		{name: "no address", input: map[string]any{"name": "Ada"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := configured(t, reg, sdk.KindValidator, "email_not_disposable", tt.config).(sdk.Validator)
			err := v.Validate(context.Background(), tt.input)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var ve *sdk.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tt.want, ve.Problems)
		})
	}
}
