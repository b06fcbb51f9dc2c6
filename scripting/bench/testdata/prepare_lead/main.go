// Command prepare_lead is the benchmark's transform as a WASM guest: the
// same as the built-in operations and testdata/prepare_lead.lua; also the
// same in one call for a batch, and trivial transforms.
package main

import (
	"context"
	"strings"
	"unicode"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/wasm"
)

// lead is an incoming record. sdk decodes strictly, so every field a record
// may carry is listed, even those the transform does not use.
type lead struct {
	ID        float64 `json:"id"`
	Email     string  `json:"email"`
	FirstName string  `json:"firstName"`
	LastName  string  `json:"lastName"`
	Phone     string  `json:"phone"`
	Employees float64 `json:"employees"`
	Source    string  `json:"source"`
	Country   string  `json:"country"`
}

type prepared struct {
	ID    float64 `json:"id"`
	Email string  `json:"email"`
	Name  string  `json:"name"`
	Phone string  `json:"phone"`
	Score float64 `json:"score"`
}

func prepare(_ context.Context, l lead) (prepared, error) {
	phone := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, l.Phone)
	score := 10.0
	switch {
	case l.Employees >= 1000:
		score = 40
	case l.Employees >= 100:
		score = 25
	}
	switch l.Source {
	case "referral":
		score += 30
	case "partner":
		score += 20
	default:
		score += 10
	}
	if phone != "" {
		score += 10
	}
	return prepared{
		ID:    l.ID,
		Email: strings.ToLower(strings.TrimSpace(l.Email)),
		Name:  title(l.FirstName + " " + l.LastName),
		Phone: phone,
		Score: score,
	}, nil
}

// title upper-cases the first letter or digit of every run of them, as the
// built-in "title" format does.
func title(s string) string {
	out := []rune(strings.ToLower(s))
	start := true
	for i, r := range out {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start {
				out[i] = unicode.ToUpper(r)
			}
			start = false
		} else {
			start = true
		}
	}
	return string(out)
}

// prepareAll prepares a batch of leads in one call.
func prepareAll(ctx context.Context, in struct {
	Leads []lead `json:"leads"`
}) ([]prepared, error) {
	out := make([]prepared, len(in.Leads))
	for i, l := range in.Leads {
		out[i], _ = prepare(ctx, l)
	}
	return out, nil
}

func init() {
	wasm.Serve(
		sdk.NewTransform("prepare_lead", prepare,
			sdk.WithSummary("Prepares a lead: trimmed lower-case e-mail, title-cased name, the phone's digits, a score.")),
		sdk.NewTransform("prepare_leads", prepareAll,
			sdk.WithSummary("Prepares {leads: [...]}, a batch of leads, in one call.")),
		sdk.NewTransform("trivial", func(_ context.Context, in map[string]any) (float64, error) {
			n, _ := in["n"].(float64)
			return n + 1, nil
		}, sdk.WithSummary("Returns n + 1: the cost of a call and nothing else.")),
		sdk.NewTransform("trivial_struct", func(_ context.Context, in struct {
			N float64 `json:"n"`
		}) (float64, error) {
			return in.N + 1, nil
		}, sdk.WithSummary("Returns n + 1, its input decoded into a struct.")),
	)
}

func main() {}
