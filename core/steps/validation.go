package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Validation is the VALIDATION step. It checks data (default: the execution
// input) against rules, a map from field path to validator/v10 tags such as
// "required,email" or "gte=0,lte=100", and/or a named validator component
// (validator, with validatorConfig) or an inline script in a registered
// language ({"script": {"lang": "lua", "source": "…"}}). A
// failure fails the step with code VALIDATION_FAILED, listing every violation
// with its field in error.details.violations. On success the output is the
// data itself.
type Validation struct {
	data      *core.ValueTemplate
	rules     []rule
	validator sdk.Validator
}

var _ core.EngineStep = (*Validation)(nil)

type rule struct {
	field string
	path  []core.PathSeg
	tag   string
}

// Info implements sdk.Component.
func (*Validation) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeValidation,
		Summary: "Checks data against validator rules or a named validator; fails with VALIDATION_FAILED listing every violation.",
		New:     func() sdk.Component { return &Validation{} }}
}

type validationConfig struct {
	Data            any                `json:"data"`
	Rules           map[string]string  `json:"rules"`
	Validator       string             `json:"validator"`
	Script          *core.InlineScript `json:"script"`
	ValidatorConfig map[string]any     `json:"validatorConfig"`
}

var tagValidator = validator.New()

// Compile implements core.EngineStep.
func (v *Validation) Compile(sc *core.StepCompiler) error {
	var cfg validationConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	if len(cfg.Rules) == 0 && cfg.Validator == "" && cfg.Script == nil {
		sc.Problem("rules", "give rules (field → validator tags), a validator name or an inline script")
	}
	if cfg.Validator != "" && cfg.Script != nil {
		sc.Problem("script", "give a validator name or an inline script, not both")
	}
	data := cfg.Data
	if data == nil {
		data = "{{input}}"
	}
	v.data = sc.Template(data, "data")
	fields := make([]string, 0, len(cfg.Rules))
	for f := range cfg.Rules {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		tag := cfg.Rules[f]
		p := sdk.KeyPath("rules", f)
		path := core.ParsePath(f)
		if path == nil {
			sc.Problem(p, "%q is not a field path like email or address.zip", f)
			continue
		}
		if err := checkTag(tag); err != nil {
			sc.Problem(p, "%v", err)
			continue
		}
		v.rules = append(v.rules, rule{field: f, path: path, tag: tag})
	}
	if cfg.Validator != "" {
		var config any
		if cfg.ValidatorConfig != nil {
			config = cfg.ValidatorConfig
		}
		v.validator = sc.Validator(cfg.Validator, config, "validator")
	} else if cfg.Script != nil {
		var config any
		if cfg.ValidatorConfig != nil {
			config = cfg.ValidatorConfig
		}
		v.validator = sc.ScriptValidator(*cfg.Script, config, "script")
	}
	return nil
}

// checkTag dry-runs a tag: validator/v10 panics on unknown tags and malformed
// parameters, which must be reported when the workflow is saved. Some tags
// apply to one kind of value only (gte=0.5 to numbers, unique to arrays), so a
// tag is accepted when it runs on any JSON kind.
func checkTag(tag string) error {
	if strings.TrimSpace(tag) == "" {
		return fmt.Errorf("empty rule")
	}
	var last any
	for _, sample := range []any{"", 0.0, true, []any{}, map[string]any{}} {
		p := tryTag(sample, tag)
		if p == nil {
			return nil
		}
		last = p
	}
	return fmt.Errorf("invalid rule %q: %v", tag, last)
}

func tryTag(sample any, tag string) (panicked any) {
	defer func() { panicked = recover() }()
	_ = tagValidator.Var(sample, tag)
	return nil
}

// Execute implements core.EngineStep.
func (v *Validation) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	data, err := r.Render(ctx, v.data)
	if err != nil {
		return nil, err
	}
	var violations []any
	for _, rl := range v.rules {
		value, found := core.Lookup(data, rl.path)
		if msg, ok := checkValue(value, found, rl.tag); !ok {
			violations = append(violations, map[string]any{"field": rl.field, "rule": rl.tag, "message": msg})
		}
	}
	if v.validator != nil {
		if err := v.validator.Validate(ctx, data); err != nil {
			var ve *sdk.ValidationError
			if !errors.As(err, &ve) {
				return nil, err
			}
			for _, p := range ve.Problems {
				violations = append(violations, map[string]any{"field": p.Path, "rule": "validator", "message": p.Message})
			}
		}
	}
	if len(violations) == 0 {
		return data, nil
	}
	msgs := make([]string, len(violations))
	for i, vi := range violations {
		m := vi.(map[string]any)
		if m["field"] == "" {
			msgs[i] = m["message"].(string)
		} else {
			msgs[i] = fmt.Sprintf("%s: %s", m["field"], m["message"])
		}
	}
	noun := "violation"
	if len(violations) > 1 {
		noun = "violations"
	}
	return nil, &sdk.Error{
		Code:    sdk.CodeValidationFailed,
		Message: fmt.Sprintf("%d %s: %s", len(violations), noun, strings.Join(msgs, "; ")),
		Details: map[string]any{"violations": violations},
	}
}

// checkValue applies a tag to one value. A missing or null field fails only a
// rule that requires it; other rules apply to present values.
func checkValue(value any, found bool, tag string) (msg string, ok bool) {
	required := false
	for _, t := range strings.Split(tag, ",") {
		if t == "required" {
			required = true
		}
	}
	if !found || value == nil {
		if required {
			return "is required", false
		}
		return "", true
	}
	defer func() {
		if p := recover(); p != nil {
			msg, ok = fmt.Sprintf("cannot apply %q to %s", tag, sdk.TypeName(value)), false
		}
	}()
	err := tagValidator.Var(value, tag)
	if err == nil {
		return "", true
	}
	var verrs validator.ValidationErrors
	if errors.As(err, &verrs) && len(verrs) > 0 {
		return ruleMessage(verrs[0], value), false
	}
	return err.Error(), false
}

func ruleMessage(fe validator.FieldError, value any) string {
	p := fe.Param()
	_, isString := value.(string)
	_, isList := value.([]any)
	unit := ""
	if isString {
		unit = " characters"
	} else if isList {
		unit = " items"
	}
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "url", "http_url":
		return "must be a URL"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "e164":
		return "must be a phone number in E.164 format (+14155550134)"
	case "gte", "min":
		return "must be at least " + p + unit
	case "lte", "max":
		return "must be at most " + p + unit
	case "gt":
		return "must be greater than " + p + unit
	case "lt":
		return "must be less than " + p + unit
	case "len":
		return "must have length " + p
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(p, " ", ", ")
	case "eq":
		return "must equal " + p
	case "ne":
		return "must not equal " + p
	case "alpha":
		return "must contain letters only"
	case "alphanum":
		return "must contain letters and digits only"
	case "numeric", "number":
		return "must be numeric"
	}
	if p != "" {
		return fmt.Sprintf("fails the %s=%s rule", fe.Tag(), p)
	}
	return fmt.Sprintf("fails the %s rule", fe.Tag())
}
