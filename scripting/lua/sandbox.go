package lua

import (
	"encoding/json"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Globals a script sees. Everything else of the base library (load,
// loadstring, loadfile, dofile, require, module, collectgarbage, getfenv,
// setfenv, rawset, newproxy, print, _printregs) is left out, and the os, io,
// debug, package, channel and coroutine libraries are never opened.
var safeBase = []string{
	"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
	"rawequal", "rawget", "rawlen", "select", "setmetatable", "tonumber",
	"tostring", "type", "unpack", "xpcall",
}

var safeString = []string{"byte", "char", "find", "len", "match", "sub"}

var safeTable = []string{"getn", "insert", "maxn", "remove", "sort"}

var safeMath = []string{
	"abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp",
	"floor", "fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min",
	"mod", "modf", "pi", "pow", "rad", "random", "sin", "sinh", "sqrt", "tan", "tanh",
}

// state is one pooled Lua state with its sandbox. It runs one call at a time.
type state struct {
	rt      *Runtime
	L       *glua.LState
	globals *glua.LTable // backing table of every call's environment; never reachable by scripts
	null    *glua.LUserData
	arrayMT *glua.LTable
	envMT   *glua.LTable // shared by every call's environment; locked
	ctxMT   *glua.LTable // shared by every call's ctx; locked
	protos  map[*glua.FunctionProto]*glua.LFunction

	// Per call.
	call *call
}

func newState(rt *Runtime) *state {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       rt.opts.CallStackSize,
		RegistrySize:        1024,
		RegistryMaxSize:     rt.opts.RegistryMaxSize,
		RegistryGrowStep:    4096,
		MinimizeStackMemory: true,
	})
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{{glua.BaseLibName, glua.OpenBase}, {glua.TabLibName, glua.OpenTable}, {glua.StringLibName, glua.OpenString}, {glua.MathLibName, glua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	s := &state{rt: rt, L: L, protos: map[*glua.FunctionProto]*glua.LFunction{}}
	G := L.G.Global
	s.globals = L.NewTable()
	for _, name := range safeBase {
		s.globals.RawSetString(name, G.RawGetString(name))
	}
	s.null = L.NewUserData()
	s.null.Metatable = s.locked(L.NewTable())
	s.arrayMT = s.locked(L.NewTable())

	s.globals.Metatable = s.denying(safeDenied)
	s.envMT = L.NewTable()
	s.envMT.RawSetString("__index", s.globals)
	s.locked(s.envMT)
	s.ctxMT = L.NewTable()
	s.ctxMT.RawSetString("__index", L.NewFunction(s.ctxIndex))
	s.ctxMT.RawSetString("__newindex", L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("ctx is read-only")
		return 0
	}))
	s.locked(s.ctxMT)
	realStr := G.RawGetString("string").(*glua.LTable)
	str := s.copyLib(realStr, safeString)
	s.installStringLimits(str, realStr)
	str.Metatable = s.denying([]string{"dump"})
	tbl := s.copyLib(G.RawGetString("table").(*glua.LTable), safeTable)
	tbl.RawSetString("concat", L.NewFunction(s.tableConcat(G.RawGetString("table").(*glua.LTable).RawGetString("concat"))))
	mth := s.copyLib(G.RawGetString("math").(*glua.LTable), safeMath)
	js := L.NewTable()
	js.RawSetString("encode", L.NewFunction(s.jsonEncode))
	js.RawSetString("decode", L.NewFunction(s.jsonDecode))
	js.RawSetString("null", s.null)
	js.RawSetString("array", L.NewFunction(s.jsonArray))
	js.RawSetString("isarray", L.NewFunction(s.jsonIsArray))

	s.globals.RawSetString("string", s.readOnly(str, "string"))
	s.globals.RawSetString("table", s.readOnly(tbl, "table"))
	s.globals.RawSetString("math", s.readOnly(mth, "math"))
	s.globals.RawSetString("json", s.readOnly(js, "json"))
	s.globals.RawSetString("log", L.NewFunction(s.log))
	s.globals.RawSetString(concatName, L.NewFunction(s.concat))
	// Methods on strings ("x"):upper() go through the same checked library,
	// and the string metatable cannot be fetched or changed.
	smt := L.NewTable()
	smt.RawSetString("__index", str)
	L.SetMetatable(glua.LString(""), s.locked(smt))
	// The real globals stay only for the builtins themselves.
	return s
}

// Names whose use fails with a clear message instead of "attempt to call a
// non-function object".
var safeDenied = []string{
	"os", "io", "debug", "package", "require", "module", "load", "loadstring",
	"loadfile", "dofile", "collectgarbage", "setfenv", "getfenv", "rawset",
	"newproxy", "print", "coroutine", "channel",
}

// denying returns a locked metatable whose __index raises an error for the
// given names (and yields nil for others).
func (s *state) denying(names []string) *glua.LTable {
	deny := map[string]bool{}
	for _, n := range names {
		deny[n] = true
	}
	mt := s.L.NewTable()
	mt.RawSetString("__index", s.L.NewFunction(func(L *glua.LState) int {
		if k, ok := L.Get(2).(glua.LString); ok && deny[string(k)] {
			L.RaiseError("%s is not available in the sandbox", string(k))
		}
		L.Push(glua.LNil)
		return 1
	}))
	return s.locked(mt)
}

// locked sets __metatable so that getmetatable returns false and
// setmetatable refuses to change the metatable.
func (s *state) locked(mt *glua.LTable) *glua.LTable {
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

func (s *state) copyLib(src *glua.LTable, names []string) *glua.LTable {
	t := s.L.NewTable()
	for _, n := range names {
		t.RawSetString(n, src.RawGetString(n))
	}
	return t
}

// readOnly returns an empty proxy whose reads go to t and whose writes fail.
// The proxy's metatable is locked, so t itself is never reachable.
func (s *state) readOnly(t *glua.LTable, name string) *glua.LTable {
	mt := s.L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", s.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("%s is read-only", name)
		return 0
	}))
	p := s.L.NewTable()
	p.Metatable = s.locked(mt)
	return p
}

// newEnv returns a fresh environment for one call: writes land in it, reads
// fall through to the shared, unreachable globals.
func (s *state) newEnv() *glua.LTable {
	env := s.L.CreateTable(0, 4)
	env.Metatable = s.envMT
	env.RawSetString("_G", env)
	return env
}

func (s *state) log(L *glua.LState) int {
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
	}
	line := strings.Join(parts, " ")
	c := s.call
	if len(c.logs) < s.rt.opts.MaxLogLines {
		if len(line) > maxLogLine {
			line = line[:maxLogLine] + "…"
		}
		c.logs = append(c.logs, line)
	}
	return 0
}

const maxLogLine = 2000

func (s *state) jsonEncode(L *glua.LState) int {
	v, err := s.fromLua(L.CheckAny(1), 0)
	if err != nil {
		L.RaiseError("json.encode: %v", err)
	}
	s.precheck(L, 2*jsonSize(v)) // the encoder's buffer and the result
	b, err := json.Marshal(v)
	if err != nil {
		L.RaiseError("json.encode: %v", err)
	}
	s.charge(L, int64(len(b)))
	L.Push(glua.LString(b))
	return 1
}

func (s *state) jsonDecode(L *glua.LState) int {
	str := L.CheckString(1)
	s.charge(L, int64(len(str))*4) // decoded values take several times their text
	var v any
	if err := json.Unmarshal([]byte(str), &v); err != nil {
		L.RaiseError("json.decode: %v", err)
	}
	lv, err := s.toLua(v, 0)
	if err != nil {
		L.RaiseError("json.decode: %v", err)
	}
	L.Push(lv)
	return 1
}

// jsonArray marks a table as an array, so that an empty one converts to [].
func (s *state) jsonArray(L *glua.LState) int {
	t := L.OptTable(1, nil)
	if t == nil {
		t = L.NewTable()
	}
	if t.Metatable != glua.LNil && t.Metatable != s.arrayMT {
		L.ArgError(1, "table already has a metatable")
	}
	t.Metatable = s.arrayMT
	L.Push(t)
	return 1
}

// jsonIsArray tells whether a value converts to a JSON array: a table
// marked with json.array (as every array of the input is), or one with
// only the keys 1..n (n ≥ 1). An empty unmarked table is an object.
func (s *state) jsonIsArray(L *glua.LState) int {
	t, ok := L.Get(1).(*glua.LTable)
	if !ok {
		L.Push(glua.LFalse)
		return 1
	}
	if t.Metatable == s.arrayMT {
		L.Push(glua.LTrue)
		return 1
	}
	n, count, allInts := keyShape(t)
	L.Push(glua.LBool(count > 0 && allInts && count == n))
	return 1
}

// jsonSize bounds the length of v's JSON encoding.
func jsonSize(v any) int64 {
	switch x := v.(type) {
	case string:
		n := int64(2)
		for i := 0; i < len(x); i++ {
			switch c := x[i]; {
			case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
				n += 6
			case c >= 0x80:
				n += 3
			default:
				n++
			}
		}
		return n
	case []any:
		n := int64(2)
		for _, e := range x {
			n += jsonSize(e) + 1
		}
		return n
	case map[string]any:
		n := int64(2)
		for k, e := range x {
			n += jsonSize(k) + jsonSize(e) + 2
		}
		return n
	}
	return 24
}
