package steps_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// validationStep returns a one-step workflow with a VALIDATION.
func validationStep(cfg string) string {
	return wf(`{"id": "check", "type": "VALIDATION", "config": ` + cfg + `}`)
}

// noDisposable rejects mailinator addresses, listing its problems the sdk way.
var noDisposable = sdk.NewValidator("no_disposable", func(_ context.Context, in map[string]any) error {
	email, _ := in["email"].(string)
	if strings.HasSuffix(email, "@mailinator.com") {
		return &sdk.ValidationError{Problems: []sdk.Problem{{Path: "email", Message: "is a disposable address"}}}
	}
	return nil
})

// brokenValidator fails with an ordinary error, not a rejection.
var brokenValidator = sdk.NewValidator("broken", func(_ context.Context, _ any) error {
	return errors.New("validator backend unavailable")
})

// violations returns the violations of a failed VALIDATION step.
func violations(t *testing.T, st *core.StepState) []map[string]any {
	t.Helper()
	require.NotNil(t, st.Error)
	require.Equal(t, sdk.CodeValidationFailed, st.Error.Code)
	details := obj(t, st.Error.Details)
	var out []map[string]any
	for _, v := range list(t, details["violations"]) {
		out = append(out, obj(t, v))
	}
	return out
}

func fieldsOf(vs []map[string]any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i], _ = v["field"].(string)
	}
	return out
}

func TestValidationPasses(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{noDisposable}})
	tests := []struct {
		name  string
		cfg   string
		input any
		want  string // JSON of the output; "" means the input
	}{
		{
			name:  "rules over nested fields, data defaults to the input",
			cfg:   `{"rules": {"email": "required,email", "score": "gte=0,lte=100", "address.zip": "required,len=5,numeric", "tags": "min=1,dive,alpha"}}`,
			input: map[string]any{"email": "ada@example.com", "score": 72, "address": map[string]any{"zip": "94107"}, "tags": []any{"hot"}},
		},
		{
			name:  "missing optional fields pass",
			cfg:   `{"rules": {"phone": "e164", "website": "url", "age": "gte=18", "nested.deep": "email"}}`,
			input: map[string]any{"name": "x"},
		},
		{
			name:  "null optional field passes",
			cfg:   `{"rules": {"phone": "e164"}}`,
			input: map[string]any{"phone": nil},
		},
		{
			name:  "omitempty skips empty values",
			cfg:   `{"rules": {"phone": "omitempty,e164"}}`,
			input: map[string]any{"phone": ""},
		},
		{
			name:  "oneof and array index",
			cfg:   `{"rules": {"state": "oneof=ca ny tx", "items[0].id": "required"}}`,
			input: map[string]any{"state": "ny", "items": []any{map[string]any{"id": "a"}}},
		},
		{
			name:  "explicit data with templates",
			cfg:   `{"data": {"email": "{{input.contact.email}}", "score": "{{input.score}}"}, "rules": {"email": "required,email", "score": "gte=50"}}`,
			input: map[string]any{"contact": map[string]any{"email": "ada@example.com"}, "score": 50},
			want:  `{"email": "ada@example.com", "score": 50}`,
		},
		{
			name:  "named validator alone",
			cfg:   `{"validator": "no_disposable"}`,
			input: map[string]any{"email": "ada@example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, validationStep(tt.cfg), tt.input)
			requireCompleted(t, exec)
			want := core.Normalize(tt.input)
			if tt.want != "" {
				want = jsonValue(t, tt.want)
			}
			require.Equal(t, want, step(t, exec, "check").Output, "the output is the data")
		})
	}
}

func TestValidationFails(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{noDisposable, brokenValidator}})
	tests := []struct {
		name       string
		cfg        string
		input      any
		wantFields []string
		wantMsgs   []string // substrings of the violations' messages, in order
	}{
		{
			name:       "every violation is listed",
			cfg:        `{"rules": {"email": "required,email", "score": "gte=0,lte=100", "address.zip": "required,len=5", "name": "required"}}`,
			input:      map[string]any{"email": "not-an-email", "score": 150, "address": map[string]any{}, "name": ""},
			wantFields: []string{"address.zip", "email", "name", "score"},
			wantMsgs:   []string{"is required", "valid email", "is required", "at most 100"},
		},
		{
			name:       "missing required nested field",
			cfg:        `{"rules": {"address.zip": "required"}}`,
			input:      map[string]any{"address": "not an object"},
			wantFields: []string{"address.zip"},
			wantMsgs:   []string{"is required"},
		},
		{
			name:       "string lengths and list sizes",
			cfg:        `{"rules": {"code": "min=3", "tags": "max=1"}}`,
			input:      map[string]any{"code": "ab", "tags": []any{"a", "b"}},
			wantFields: []string{"code", "tags"},
			wantMsgs:   []string{"at least 3 characters", "at most 1 items"},
		},
		{
			name:       "oneof",
			cfg:        `{"rules": {"state": "oneof=ca ny"}}`,
			input:      map[string]any{"state": "tx"},
			wantFields: []string{"state"},
			wantMsgs:   []string{"must be one of: ca, ny"},
		},
		{
			name:       "a rule that does not apply to the type",
			cfg:        `{"rules": {"email": "email", "count": "gte=5"}}`,
			input:      map[string]any{"email": 42, "count": true},
			wantFields: []string{"count", "email"},
			wantMsgs:   []string{`cannot apply "gte=5" to a boolean`, "valid email"},
		},
		{
			name:       "named validator problems merged with rule violations",
			cfg:        `{"rules": {"score": "gte=50"}, "validator": "no_disposable"}`,
			input:      map[string]any{"email": "temp@mailinator.com", "score": 30},
			wantFields: []string{"score", "email"},
			wantMsgs:   []string{"at least 50", "disposable"},
		},
		{
			name:       "input that does not decode for the validator",
			cfg:        `{"validator": "no_disposable"}`,
			input:      []any{1, 2},
			wantFields: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, validationStep(tt.cfg), tt.input)
			requireFailed(t, exec, sdk.CodeValidationFailed)
			st := step(t, exec, "check")
			require.Equal(t, core.StatusFailed, st.Status)
			require.Equal(t, 1, st.Attempts)
			require.False(t, st.Error.Retryable)
			vs := violations(t, st)
			require.NotEmpty(t, vs)
			if tt.wantFields == nil {
				return
			}
			require.Equal(t, tt.wantFields, fieldsOf(vs))
			for i, m := range tt.wantMsgs {
				require.Contains(t, vs[i]["message"], m, "violation %d", i)
				require.NotEmpty(t, vs[i]["rule"])
			}
			for _, f := range tt.wantFields {
				require.Contains(t, st.Error.Message, f+":", "the message names every field")
			}
		})
	}

	t.Run("a validator that errors keeps its error", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, validationStep(`{"validator": "broken"}`), map[string]any{})
		requireFailed(t, exec, sdk.CodeStepFailed)
		require.Contains(t, step(t, exec, "check").Error.Message, "validator backend unavailable")
	})

	t.Run("a failed validation can be handled by onError", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, `{"name": "t", "steps": [
			{"id": "check", "type": "VALIDATION", "onError": "CONTINUE", "config": {"rules": {"email": "required"}}},
			{"id": "report", "type": "DATA_TRANSFORM", "dependsOn": ["check"], "config": {"source": {"errors": "{{steps.check.error.details.violations}}"}, "operations": [{"type": "set", "field": "ok", "value": false}]}}]}`,
			map[string]any{})
		requireCompleted(t, exec)
		errs := list(t, obj(t, exec.Output)["errors"])
		require.Len(t, errs, 1)
		require.Equal(t, "email", obj(t, errs[0])["field"])
	})
}

func TestValidationCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{components: []sdk.Component{noDisposable}})
	tests := []struct {
		name string
		doc  string
		want [][2]string
	}{
		{name: "retry policy on a VALIDATION", doc: wf(`{"id": "check", "type": "VALIDATION", "retryPolicy": {"maxAttempts": 3}, "config": {"rules": {"a": "required"}}}`),
			want: [][2]string{{"steps[0].retryPolicy", "not retried"}}},
		{name: "unknown tag", doc: validationStep(`{"rules": {"email": "required,emial"}}`),
			want: [][2]string{{"steps[0].config.rules.email", "invalid rule"}}},
		{name: "malformed parameter", doc: validationStep(`{"rules": {"score": "gte=abc"}}`),
			want: [][2]string{{"steps[0].config.rules.score", "invalid rule"}}},
		{name: "empty rule", doc: validationStep(`{"rules": {"a": " "}}`),
			want: [][2]string{{"steps[0].config.rules.a", "empty rule"}}},
		{name: "bad field path", doc: validationStep(`{"rules": {"a..b": "required"}}`),
			want: [][2]string{{`steps[0].config.rules["a..b"]`, "is not a field path"}}},
		{name: "every bad rule listed", doc: validationStep(`{"rules": {"a": "nope", "b": "required", "c": "alsonope"}}`),
			want: [][2]string{{"steps[0].config.rules.a", ""}, {"steps[0].config.rules.c", ""}}},
		{name: "neither rules nor validator", doc: validationStep(`{"data": {}}`),
			want: [][2]string{{"steps[0].config.rules", "give rules"}}},
		{name: "unknown validator", doc: validationStep(`{"validator": "nope"}`),
			want: [][2]string{{"steps[0].config.validator", `unknown validator "nope" (known: no_disposable)`}}},
		{name: "rule not a string", doc: validationStep(`{"rules": {"a": 5}}`),
			want: [][2]string{{"steps[0].config.rules.a", ""}}},
		{name: "unknown field", doc: validationStep(`{"rules": {"a": "required"}, "strict": true}`),
			want: [][2]string{{"steps[0].config.strict", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := problems(t, eng, tt.doc)
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}
}

// TestValidationRulesForNonStrings: rules that are valid for the type of the
// field they check must compile, whatever they would mean for a string.
func TestValidationRulesForNonStrings(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name  string
		rule  string
		value any
	}{
		{name: "fractional bounds on a number", rule: "gte=0.5,lte=99.5", value: 72.25},
		{name: "unique on an array", rule: "unique", value: []any{"a", "b"}},
		{name: "dive into an array", rule: "dive,email", value: []any{"a@example.com"}},
	}
	var rejected []string
	for _, tt := range tests {
		doc := validationStep(`{"rules": {"v": "` + tt.rule + `"}}`)
		w, err := core.ParseWorkflow([]byte(doc))
		require.NoError(t, err)
		if _, err := eng.Compile(context.Background(), w); err != nil {
			rejected = append(rejected, tt.rule)
			continue
		}
		exec := run(t, eng, doc, map[string]any{"v": tt.value})
		requireCompleted(t, exec)
	}
	if len(rejected) > 0 {
		t.Fatalf("regression: core/steps/validation.go checkTag dry-runs tags on a string only, so valid rules %q are rejected at compile time", rejected)
	}
}
