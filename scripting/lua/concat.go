package lua

import (
	"reflect"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// concatName is the global the .. operator is compiled to call. It is not a
// valid Lua identifier, so no script can name, shadow or replace it.
const concatName = "\x00concat"

var exprType = reflect.TypeFor[ast.Expr]()

// rewriteConcat replaces every a .. b in the parsed chunk with a call of the
// size-checked concatenation. The VM's own concatenation cannot be bounded:
// one instruction joining eight strings multiplies their size by eight
// before anything can look, so a doubling loop overshoots any cap by
// gigabytes.
func rewriteConcat(chunk []ast.Stmt) {
	rewriteValue(reflect.ValueOf(chunk))
}

func rewriteValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			rewriteValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				rewriteValue(f)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			rewriteValue(v.Index(i))
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		rewriteValue(v.Elem())
		if c, ok := v.Interface().(*ast.StringConcatOpExpr); ok && v.Type() == exprType {
			call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: concatName}, Args: []ast.Expr{c.Lhs, c.Rhs}, AdjustRet: true}
			call.SetLine(c.Line())
			call.SetLastLine(c.LastLine())
			call.Func.SetLine(c.Line())
			v.Set(reflect.ValueOf(ast.Expr(call)))
		}
	}
}

// concat implements a .. b with Lua's rules (strings and numbers join; else
// the __concat metamethod), refusing a result longer than what is left of
// the call's memory allowance. Results are not charged cumulatively: a loop
// that grows a string piece by piece leaves only garbage behind, which the
// watchdog does not count.
func (s *state) concat(L *glua.LState) int {
	a, b := L.Get(1), L.Get(2)
	if canString(a) && canString(b) {
		as, bs := glua.LVAsString(a), glua.LVAsString(b)
		s.precheck(L, int64(len(as))+int64(len(bs)))
		var sb strings.Builder
		sb.Grow(len(as) + len(bs))
		sb.WriteString(string(as))
		sb.WriteString(string(bs))
		L.Push(glua.LString(sb.String()))
		return 1
	}
	mm := L.GetMetaField(a, "__concat")
	if mm == glua.LNil {
		mm = L.GetMetaField(b, "__concat")
	}
	if mm == glua.LNil {
		bad := a
		if canString(a) {
			bad = b
		}
		L.RaiseError("attempt to concatenate a %s value", bad.Type().String())
	}
	L.Push(mm)
	L.Push(a)
	L.Push(b)
	L.Call(2, 1)
	return 1
}

func canString(v glua.LValue) bool {
	switch v.(type) {
	case glua.LString, glua.LNumber:
		return true
	}
	return false
}
