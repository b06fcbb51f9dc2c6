package core

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// Expression limits. expr-lang ≥ 1.17.7 already bounds parser recursion and
// VM memory; these caps keep hostile definitions cheap to reject.
const (
	MaxExprLength = 4096 // characters
	MaxExprDepth  = 64   // nesting of (), [] and {}
	maxExprNodes  = 2000
)

// Expr is an expression compiled once per workflow version with expr-lang/expr.
// It is evaluated over plain JSON-shaped data only (maps, slices, strings,
// numbers, booleans): never over host objects with methods, which is how
// expression sandboxes in comparable engines were escaped.
type Expr struct {
	src  string
	prog *vm.Program
	refs []string // step ids read through steps.<id>
}

// ExprError is a compile error with its position in the expression (1-based).
type ExprError struct {
	Source  string
	Message string
	Line    int
	Column  int
}

func (e *ExprError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("expression %q: %s (line %d, column %d)", e.Source, e.Message, e.Line, e.Column)
	}
	return fmt.Sprintf("expression %q: %s", e.Source, e.Message)
}

// CompileExpr compiles an expression. Names resolve at run time against the
// environment; unknown names evaluate to nil.
func CompileExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Source: src, Message: "empty expression"}
	}
	if len(src) > MaxExprLength {
		return nil, &ExprError{Source: src[:40] + "…", Message: fmt.Sprintf("longer than %d characters", MaxExprLength)}
	}
	if line, col, ok := tooDeep(src); ok {
		return nil, &ExprError{Source: src, Message: fmt.Sprintf("nested deeper than %d levels", MaxExprDepth), Line: line, Column: col}
	}
	if err := checkExprTree(src); err != nil {
		return nil, err
	}
	prog, err := expr.Compile(src, expr.AllowUndefinedVariables(), expr.MaxNodes(maxExprNodes),
		expr.Patch(builtinNames{}), expr.Patch(budgeted{}),
		expr.Function(addFunc, budgetedAdd), expr.Function(joinFunc, budgetedJoin), expr.Function(repeatFunc, budgetedRepeat))
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, &ExprError{Source: src, Message: fe.Message, Line: fe.Line, Column: fe.Column + 1}
		}
		return nil, &ExprError{Source: src, Message: err.Error()}
	}
	e := &Expr{src: src, prog: prog}
	e.refs = stepRefs(prog.Node())
	return e, nil
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Refs returns the step ids the expression reads through steps.<id>.
func (e *Expr) Refs() []string { return e.refs }

// Eval runs the expression over env and returns a JSON-shaped result that
// shares nothing mutable with env.
func (e *Expr) Eval(env map[string]any) (any, error) {
	run := make(map[string]any, len(env)+1)
	for k, v := range env {
		run[k] = v
	}
	run[budgetVar] = &exprBudget{left: maxExprBytes}
	out, err := (&vm.VM{MemoryBudget: exprMemoryBudget}).Run(e.prog, run)
	if err != nil {
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i] // drop expr's source excerpt
		}
		return nil, fmt.Errorf("expression %q: %s", e.src, msg)
	}
	if !finite(out) {
		return nil, fmt.Errorf("expression %q: the result is not a finite number (division by zero?)", e.src)
	}
	return DeepCopy(Normalize(out)), nil
}

// Evaluation bounds. expr counts the elements of ranges, arrays and maps an
// evaluation creates against exprMemoryBudget (so 1..1000000 fails); string
// and array growth through + and join is counted against maxExprBytes. With
// let, reduce and predicates nested more than two deep rejected at compile
// time, an evaluation's work stays proportional to its data.
const (
	exprMemoryBudget     = 200_000
	maxExprBytes         = 16 << 20
	maxPredicateNesting  = 2
	budgetVar            = "$budget"
	addFunc, joinFunc    = "_add", "_join"
	repeatFunc           = "_repeat"
	exprTooMuchMemoryMsg = "memory budget exceeded: the expression builds more than 16 MiB of text or arrays"
)

type exprBudget struct{ left int }

func (b *exprBudget) charge(n int) error {
	b.left -= n
	if b.left < 0 {
		return errors.New(exprTooMuchMemoryMsg)
	}
	return nil
}

// budgeted rewrites a + b, join(…) and repeat(…) into calls of functions that count what
// they build against the evaluation's budget (passed as a hidden variable).
type budgeted struct{}

func (budgeted) Visit(node *ast.Node) {
	budget := &ast.IdentifierNode{Value: budgetVar}
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		// Two literals cannot grow: leave them to expr, which also type-checks them.
		if n.Operator == "+" && !(isLiteral(n.Left) && isLiteral(n.Right)) {
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: addFunc}, Arguments: []ast.Node{n.Left, n.Right, budget}})
		}
	case *ast.BuiltinNode:
		switch n.Name {
		case "join":
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: joinFunc}, Arguments: append(slices.Clone(n.Arguments), budget)})
		case "repeat":
			// expr's repeat counts its result only after building it.
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: repeatFunc}, Arguments: append(slices.Clone(n.Arguments), budget)})
		}
	}
}

// budgetedRepeat is expr's repeat, refusing before it allocates too much.
func budgetedRepeat(params ...any) (any, error) {
	b, args := budgetOf(params)
	if len(args) != 2 {
		return nil, fmt.Errorf("repeat takes a string and a count")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("repeat: expected a string")
	}
	var n int
	switch c := args[1].(type) {
	case int:
		n = c
	case float64:
		n = int(c)
	default:
		return nil, fmt.Errorf("repeat: the count must be a number")
	}
	if n < 0 {
		return nil, fmt.Errorf("repeat: the count must not be negative")
	}
	if len(s) > 0 && n > maxExprBytes/len(s) {
		return nil, errors.New(exprTooMuchMemoryMsg)
	}
	if err := b.charge(len(s) * n); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

func budgetOf(args []any) (*exprBudget, []any) {
	b, _ := args[len(args)-1].(*exprBudget)
	if b == nil {
		b = &exprBudget{left: maxExprBytes}
	}
	return b, args[:len(args)-1]
}

// budgetedAdd is expr's + with the size of strings and arrays it builds counted.
func budgetedAdd(params ...any) (any, error) {
	b, args := budgetOf(params)
	if len(args) != 2 {
		return nil, fmt.Errorf("+ needs two operands")
	}
	switch x := args[0].(type) {
	case string:
		if y, ok := args[1].(string); ok {
			if err := b.charge(len(x) + len(y)); err != nil {
				return nil, err
			}
		}
	case []any:
		if y, ok := args[1].([]any); ok {
			if err := b.charge(8 * (len(x) + len(y))); err != nil {
				return nil, err
			}
		}
	}
	return runtime.Add(args[0], args[1]), nil
}

// budgetedJoin is expr's join with the size of the result counted.
func budgetedJoin(params ...any) (any, error) {
	b, args := budgetOf(params)
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("join takes a list and an optional separator")
	}
	sep := ""
	if len(args) == 2 {
		s, ok := args[1].(string)
		if !ok {
			return nil, fmt.Errorf("join: the separator must be a string")
		}
		sep = s
	}
	list, ok := args[0].([]any)
	if !ok {
		if ss, isStrings := args[0].([]string); isStrings {
			list = make([]any, len(ss))
			for i, s := range ss {
				list[i] = s
			}
		} else {
			return nil, fmt.Errorf("join: expected an array of strings")
		}
	}
	parts := make([]string, len(list))
	size := len(sep) * max(len(list)-1, 0)
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("join: element %d is not a string", i)
		}
		parts[i] = s
		size += len(s)
	}
	if err := b.charge(size); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

// checkExprTree rejects what would let an evaluation's cost grow faster than
// its data — let (reuse of intermediate results), reduce (an accumulator that
// can double each step), predicates nested more than two deep — and secrets,
// which are not in the expression environment (use {{secrets.NAME}}).
func checkExprTree(src string) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // expr.Compile reports it with its position
	}
	var problem *ExprError
	fail := func(n ast.Node, msg string) {
		if problem == nil {
			line, col := exprPosition(src, n.Location().From)
			problem = &ExprError{Source: src, Message: msg, Line: line, Column: col}
		}
	}
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		if n == nil || problem != nil {
			return
		}
		switch x := n.(type) {
		case *ast.VariableDeclaratorNode:
			fail(n, "let is not supported in workflow expressions")
		case *ast.IdentifierNode:
			if x.Value == RootSecrets {
				fail(n, "secrets are not available in expressions; use a {{secrets.NAME}} placeholder")
			}
		case *ast.PointerNode:
			if x.Name == "acc" {
				fail(n, "reduce is not supported in workflow expressions; use sum(), map() or filter()")
			}
		case *ast.BuiltinNode:
			if x.Name == "reduce" {
				fail(n, "reduce is not supported in workflow expressions; use sum(), map() or filter()")
			}
			for _, a := range x.Arguments {
				walk(a, depth)
			}
		case *ast.PredicateNode:
			if depth+1 > maxPredicateNesting {
				fail(n, fmt.Sprintf("predicates nested more than %d deep", maxPredicateNesting))
			}
			walk(x.Node, depth+1)
		case *ast.UnaryNode:
			walk(x.Node, depth)
		case *ast.BinaryNode:
			walk(x.Left, depth)
			walk(x.Right, depth)
		case *ast.ChainNode:
			walk(x.Node, depth)
		case *ast.MemberNode:
			walk(x.Node, depth)
			walk(x.Property, depth)
		case *ast.SliceNode:
			walk(x.Node, depth)
			walk(x.From, depth)
			walk(x.To, depth)
		case *ast.CallNode:
			walk(x.Callee, depth)
			for _, a := range x.Arguments {
				walk(a, depth)
			}
		case *ast.ConditionalNode:
			walk(x.Cond, depth)
			walk(x.Exp1, depth)
			walk(x.Exp2, depth)
		case *ast.SequenceNode:
			for _, e := range x.Nodes {
				walk(e, depth)
			}
		case *ast.ArrayNode:
			for _, e := range x.Nodes {
				walk(e, depth)
			}
		case *ast.MapNode:
			for _, e := range x.Pairs {
				walk(e, depth)
			}
		case *ast.PairNode:
			walk(x.Key, depth)
			walk(x.Value, depth)
		}
	}
	walk(tree.Node, 0)
	if problem != nil {
		return problem
	}
	return nil
}

// exprPosition turns a character offset into a 1-based line and column.
func exprPosition(src string, offset int) (int, int) {
	line, col := 1, 1
	for i, r := range []rune(src) {
		if i >= offset {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// finite reports whether v holds no NaN or infinity, which JSON cannot carry.
func finite(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return finite(float64(x))
	case []any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

// builtinNames lets data fields share names with expr's builtin functions: a
// bare count, type or date that is not called reads the field of that name
// ($env["count"]) instead of naming the function; count(items, # > 1) still
// calls the builtin.
type builtinNames struct{}

func (builtinNames) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if _, isBuiltin := builtin.Index[id.Value]; isBuiltin {
		ast.Patch(node, &ast.MemberNode{Node: &ast.IdentifierNode{Value: "$env"}, Property: &ast.StringNode{Value: id.Value}})
	}
}

// tooDeep reports the position where bracket nesting first exceeds the cap,
// ignoring brackets inside string literals.
func tooDeep(src string) (int, int, bool) {
	depth, line, col := 0, 1, 0
	var quote rune
	escaped := false
	for _, r := range src {
		col++
		if r == '\n' {
			line, col = line+1, 0
		}
		if quote != 0 {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
			}
			continue
		}
		switch r {
		case '"', '\'', '`':
			quote = r
		case '(', '[', '{':
			depth++
			if depth > MaxExprDepth {
				return line, col, true
			}
		case ')', ']', '}':
			depth--
		}
	}
	return 0, 0, false
}

// stepRefs collects the ids in steps.<id> and steps["<id>"] member accesses.
func stepRefs(node ast.Node) []string {
	v := &refVisitor{seen: map[string]bool{}}
	ast.Walk(&node, v)
	return v.refs
}

type refVisitor struct {
	refs []string
	seen map[string]bool
}

func (v *refVisitor) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "steps" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok && !v.seen[s.Value] {
		v.seen[s.Value] = true
		v.refs = append(v.refs, s.Value)
	}
}
