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

var safeString = []string{"byte", "char", "find", "format", "gmatch", "len", "match", "sub"}

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
		RegistryGrowStep:    256,
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
	str := s.copyLib(G.RawGetString("string").(*glua.LTable), safeString)
	str.RawSetString("rep", L.NewFunction(s.strRep))
	str.RawSetString("gsub", L.NewFunction(s.sized(G.RawGetString("string").(*glua.LTable).RawGetString("gsub"))))
	str.RawSetString("format", L.NewFunction(s.sized(G.RawGetString("string").(*glua.LTable).RawGetString("format"))))
	for _, name := range []string{"upper", "lower", "reverse"} {
		str.RawSetString(name, L.NewFunction(s.sized(G.RawGetString("string").(*glua.LTable).RawGetString(name))))
	}
	str.Metatable = s.denying([]string{"dump"})
	tbl := s.copyLib(G.RawGetString("table").(*glua.LTable), safeTable)
	tbl.RawSetString("concat", L.NewFunction(s.sized(G.RawGetString("table").(*glua.LTable).RawGetString("concat"))))
	mth := s.copyLib(G.RawGetString("math").(*glua.LTable), safeMath)
	js := L.NewTable()
	js.RawSetString("encode", L.NewFunction(s.jsonEncode))
	js.RawSetString("decode", L.NewFunction(s.jsonDecode))
	js.RawSetString("null", s.null)
	js.RawSetString("array", L.NewFunction(s.jsonArray))

	s.globals.RawSetString("string", s.readOnly(str, "string"))
	s.globals.RawSetString("table", s.readOnly(tbl, "table"))
	s.globals.RawSetString("math", s.readOnly(mth, "math"))
	s.globals.RawSetString("json", s.readOnly(js, "json"))
	s.globals.RawSetString("log", L.NewFunction(s.log))
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
	mt := s.L.CreateTable(0, 2)
	mt.RawSetString("__index", s.globals)
	env.Metatable = s.locked(mt)
	env.RawSetString("_G", env)
	return env
}

// charge counts n bytes produced by a builtin against the call's cap.
func (s *state) charge(L *glua.LState, n int64) {
	c := s.call
	c.bytes += n
	if n > c.limit || c.bytes > c.limit {
		s.overLimit(L)
	}
}

// overLimit ends the call for exceeding its memory cap. The verdict is
// sticky and the call's context is cancelled, so a pcall that catches the
// error only buys the script its next instruction.
func (s *state) overLimit(L *glua.LState) {
	s.call.kill(killMemory)
	L.RaiseError("script exceeded its memory limit of %d bytes", s.call.limit)
}

// strRep is string.rep with the result size checked before it is built.
func (s *state) strRep(L *glua.LState) int {
	str := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || len(str) == 0 {
		L.Push(glua.LString(""))
		return 1
	}
	s.charge(L, int64(len(str))*int64(n))
	L.Push(glua.LString(strings.Repeat(str, n)))
	return 1
}

// sized wraps a string-producing builtin: the arguments' sizes bound what it
// may produce before it runs (gsub may multiply, so its bound is checked
// after too), and every string it returns is charged.
func (s *state) sized(fn glua.LValue) glua.LGFunction {
	f := fn.(*glua.LFunction).GFunction
	return func(L *glua.LState) int {
		top := L.GetTop()
		var in int64
		for i := 1; i <= top; i++ {
			if str, ok := L.Get(i).(glua.LString); ok {
				in += int64(len(str))
			}
		}
		if in > s.call.limit {
			s.overLimit(L)
		}
		n := f(L)
		for i := L.GetTop() - n + 1; i <= L.GetTop(); i++ {
			if str, ok := L.Get(i).(glua.LString); ok {
				s.charge(L, int64(len(str)))
			}
		}
		return n
	}
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
