package core

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
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
	prog, err := expr.Compile(src, expr.AllowUndefinedVariables(), expr.MaxNodes(maxExprNodes), expr.Patch(builtinNames{}))
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
	out, err := expr.Run(e.prog, env)
	if err != nil {
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i] // drop expr's source excerpt
		}
		return nil, fmt.Errorf("expression %q: %s", e.src, msg)
	}
	return DeepCopy(Normalize(out)), nil
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
