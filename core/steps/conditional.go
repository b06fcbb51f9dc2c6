package steps

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Conditional is the CONDITIONAL step. It evaluates either conditions
// ({field, operator, value}, combined with logic AND or OR) or an expression,
// then lets the steps listed in then (when true) or else (when false) run; the
// others end SKIPPED, as does every step that depends only on skipped steps.
// The listed steps wait for the CONDITIONAL even without dependsOn.
// Output: {"result": bool, "branch": "then"|"else"}.
type Conditional struct {
	logic      string
	conditions []condition
	expr       *core.Expr
	then, els  []string
}

var (
	_ core.EngineStep  = (*Conditional)(nil)
	_ core.ControlFlow = (*Conditional)(nil)
)

// ControlFlow implements core.ControlFlow.
func (*Conditional) ControlFlow() {}

// Info implements sdk.Component.
func (*Conditional) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeConditional,
		Summary: "Chooses a branch from conditions or an expression; the other branch is skipped.",
		New:     func() sdk.Component { return &Conditional{} }}
}

type conditionalConfig struct {
	Conditions []conditionConfig `json:"conditions"`
	Logic      string            `json:"logic"`
	Expression string            `json:"expression"`
	Then       []string          `json:"then"`
	Else       []string          `json:"else"`
}

type conditionConfig struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

type condition struct {
	path  []core.PathSeg
	op    string
	value *core.ValueTemplate
	re    *regexp.Regexp // static pattern of "matches"
}

// operators maps accepted spellings to canonical operator names.
var operators = map[string]string{
	"eq": "eq", "equals": "eq", "==": "eq",
	"ne": "ne", "neq": "ne", "not_equals": "ne", "!=": "ne",
	"gt": "gt", "greater_than": "gt", ">": "gt",
	"gte": "gte", "greater_than_or_equal": "gte", ">=": "gte",
	"lt": "lt", "less_than": "lt", "<": "lt",
	"lte": "lte", "less_than_or_equal": "lte", "<=": "lte",
	"contains": "contains", "not_contains": "not_contains",
	"starts_with": "starts_with", "ends_with": "ends_with",
	"in": "in", "not_in": "not_in",
	"exists": "exists", "not_exists": "not_exists",
	"empty": "empty", "not_empty": "not_empty",
	"matches": "matches",
}

var unaryOperators = map[string]bool{"exists": true, "not_exists": true, "empty": true, "not_empty": true}

// Compile implements core.EngineStep.
func (c *Conditional) Compile(sc *core.StepCompiler) error {
	var cfg conditionalConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	c.logic = strings.ToUpper(cfg.Logic)
	switch c.logic {
	case "":
		c.logic = "AND"
	case "AND", "OR":
	default:
		sc.Problem("logic", "%q is not AND or OR", cfg.Logic)
	}
	switch {
	case cfg.Expression != "" && len(cfg.Conditions) > 0:
		sc.Problem("", "give either conditions or expression, not both")
	case cfg.Expression != "":
		c.expr = sc.Expr(cfg.Expression, "expression")
	case len(cfg.Conditions) == 0:
		sc.Problem("conditions", "give conditions or an expression")
	}
	for i, cc := range cfg.Conditions {
		base := fmt.Sprintf("conditions[%d]", i)
		cond := condition{}
		if cc.Field == "" {
			sc.Problem(base+".field", "is required")
		} else {
			cond.path = sc.ParsePath(cc.Field, base+".field")
		}
		op, ok := operators[strings.ToLower(cc.Operator)]
		if !ok {
			sc.Problem(base+".operator", "%q is not an operator (eq, ne, gt, gte, lt, lte, contains, not_contains, starts_with, ends_with, in, not_in, exists, not_exists, empty, not_empty, matches)", cc.Operator)
		}
		cond.op = op
		if !unaryOperators[op] {
			cond.value = sc.Template(cc.Value, base+".value")
		}
		if s, isStr := cc.Value.(string); op == "matches" && isStr && !core.HasTemplate(s) {
			re, err := regexp.Compile(s)
			if err != nil {
				sc.Problem(base+".value", "invalid regular expression: %v", err)
			}
			cond.re = re
		}
		c.conditions = append(c.conditions, cond)
	}
	c.then, c.els = cfg.Then, cfg.Else
	sc.Branch(cfg.Then, "then")
	sc.Branch(cfg.Else, "else")
	for _, t := range cfg.Then {
		for _, e := range cfg.Else {
			if t == e {
				sc.Problem("else", "step %q is in both then and else", t)
			}
		}
	}
	return nil
}

// Execute implements core.EngineStep.
func (c *Conditional) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	result, err := c.evaluate(ctx, r)
	if err != nil {
		return nil, err
	}
	branch := "else"
	if result {
		branch = "then"
		r.Skip(c.els...)
	} else {
		r.Skip(c.then...)
	}
	return map[string]any{"result": result, "branch": branch}, nil
}

func (c *Conditional) evaluate(ctx context.Context, r *core.StepRun) (bool, error) {
	if c.expr != nil {
		v, err := r.Eval(c.expr, nil)
		if err != nil {
			return false, err
		}
		return truthy(v), nil
	}
	for _, cond := range c.conditions {
		ok, err := cond.eval(ctx, r)
		if err != nil {
			return false, err
		}
		if c.logic == "OR" && ok {
			return true, nil
		}
		if c.logic == "AND" && !ok {
			return false, nil
		}
	}
	return c.logic == "AND", nil
}

func (cond condition) eval(ctx context.Context, r *core.StepRun) (bool, error) {
	actual, found := r.Lookup(cond.path)
	switch cond.op {
	case "exists":
		return found && actual != nil, nil
	case "not_exists":
		return !found || actual == nil, nil
	case "empty":
		return isEmpty(actual), nil
	case "not_empty":
		return !isEmpty(actual), nil
	}
	expected, err := r.Render(ctx, cond.value)
	if err != nil {
		return false, err
	}
	return compare(cond.op, actual, expected, cond.re)
}

// truthy follows JSON intuition: false, null, 0, "" and empty collections are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// asNumber reads numbers and numeric strings.
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case bool:
		return 0, false
	}
	return 0, false
}

// equal compares loosely: numbers and numeric strings by value, everything
// else by JSON equality.
func equal(a, b any) bool {
	if x, ok := asNumber(a); ok {
		if y, ok := asNumber(b); ok {
			return x == y
		}
	}
	return reflect.DeepEqual(a, b)
}

func compare(op string, actual, expected any, re *regexp.Regexp) (bool, error) {
	switch op {
	case "eq":
		return equal(actual, expected), nil
	case "ne":
		return !equal(actual, expected), nil
	case "gt", "gte", "lt", "lte":
		var cmp int
		x, okx := asNumber(actual)
		y, oky := asNumber(expected)
		switch {
		case okx && oky:
			cmp = cmpFloat(x, y)
		default:
			as, ok1 := actual.(string)
			bs, ok2 := expected.(string)
			if !ok1 || !ok2 {
				return false, nil // incomparable values: the condition does not hold
			}
			cmp = strings.Compare(as, bs)
		}
		switch op {
		case "gt":
			return cmp > 0, nil
		case "gte":
			return cmp >= 0, nil
		case "lt":
			return cmp < 0, nil
		}
		return cmp <= 0, nil
	case "contains", "not_contains":
		c := contains(actual, expected)
		return c == (op == "contains"), nil
	case "starts_with":
		s, ok := actual.(string)
		return ok && strings.HasPrefix(s, core.Stringify(expected)), nil
	case "ends_with":
		s, ok := actual.(string)
		return ok && strings.HasSuffix(s, core.Stringify(expected)), nil
	case "in", "not_in":
		c := contains(expected, actual)
		return c == (op == "in"), nil
	case "matches":
		if re == nil {
			pattern := core.Stringify(expected)
			if len(pattern) > 1000 {
				return false, sdk.Errorf(sdk.CodeExpression, "pattern longer than 1000 characters")
			}
			var err error
			if re, err = regexp.Compile(pattern); err != nil {
				return false, sdk.Errorf(sdk.CodeExpression, "invalid regular expression %q: %v", pattern, err)
			}
		}
		return re.MatchString(core.Stringify(actual)), nil
	}
	return false, sdk.Errorf(sdk.CodeInternal, "unknown operator %q", op)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// contains: substring for strings, element for arrays, key for objects.
func contains(container, elem any) bool {
	switch c := container.(type) {
	case string:
		return strings.Contains(c, core.Stringify(elem))
	case []any:
		for _, e := range c {
			if equal(e, elem) {
				return true
			}
		}
	case map[string]any:
		_, ok := c[core.Stringify(elem)]
		return ok
	}
	return false
}
