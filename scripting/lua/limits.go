package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Every builtin that can build a large string is replaced by a version that
// bounds its result before building it (against what is left of the call's
// MemoryLimit) and charges what it built. What the VM builds by itself
// (the .. operator, table growth) is the watchdog's job.

// matchCost is what the pattern matcher keeps per match: gsub and gmatch
// find every match before producing anything.
const matchCost = 32

func (s *state) remaining() int64 { return s.call.limit - s.call.bytes }

// precheck fails the call when an operation may build more than what is
// left of its allowance.
func (s *state) precheck(L *glua.LState, worst int64) {
	if worst < 0 || worst > s.remaining() {
		s.overLimit(L)
	}
}

// charge counts n bytes produced by a builtin against the call's cap.
func (s *state) charge(L *glua.LState, n int64) {
	s.call.bytes += n
	if s.call.bytes > s.call.limit {
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

// pushCharged charges the strings among the top n values of the stack.
func (s *state) pushCharged(L *glua.LState, n int) int {
	for i := L.GetTop() - n + 1; i <= L.GetTop(); i++ {
		if str, ok := L.Get(i).(glua.LString); ok {
			s.charge(L, int64(len(str)))
		}
	}
	return n
}

func gfn(t *glua.LTable, name string) glua.LGFunction {
	return t.RawGetString(name).(*glua.LFunction).GFunction
}

func (s *state) installStringLimits(str, real *glua.LTable) {
	L := s.L
	// rep: the size is known before anything is built.
	str.RawSetString("rep", L.NewFunction(func(L *glua.LState) int {
		v := L.CheckString(1)
		n := L.CheckInt(2)
		if n <= 0 || v == "" {
			L.Push(glua.LString(""))
			return 1
		}
		if int64(n) > s.remaining() {
			s.overLimit(L)
		}
		s.precheck(L, int64(len(v))*int64(n))
		s.charge(L, int64(len(v))*int64(n))
		L.Push(glua.LString(strings.Repeat(v, n)))
		return 1
	}))
	// upper, lower, reverse: the result is as long as the argument.
	for _, name := range []string{"upper", "lower", "reverse"} {
		f := gfn(real, name)
		str.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			s.precheck(L, int64(len(L.CheckString(1))))
			return s.pushCharged(L, f(L))
		}))
	}
	// format: Go's fmt refuses widths and precisions over 1e6, so each verb
	// produces at most its width, its precision and its argument.
	format := gfn(real, "format")
	str.RawSetString("format", L.NewFunction(func(L *glua.LState) int {
		f := L.CheckString(1)
		worst := int64(len(f)) + formatWidths(f)
		for i := 2; i <= L.GetTop(); i++ {
			worst += int64(len(L.ToStringMeta(L.Get(i)).String())) + 32
		}
		s.precheck(L, worst)
		return s.pushCharged(L, format(L))
	}))
	// gsub: at most len(s)+1 matches; each adds the replacement, and every
	// %0-%9 in it at most the matched text (matches do not overlap); a
	// table's replacement is at most its longest string.
	gsub := gfn(real, "gsub")
	str.RawSetString("gsub", L.NewFunction(func(L *glua.LState) int {
		src := int64(len(L.CheckString(1)))
		L.CheckString(2)
		matches := src + 1
		if n := L.OptInt(4, -1); n >= 0 && int64(n) < matches {
			matches = int64(n)
		}
		worst := src + matches*matchCost
		switch r := L.Get(3).(type) {
		case glua.LString:
			worst += matches*int64(len(r)) + int64(strings.Count(string(r), "%"))*src
		case *glua.LTable:
			var longest int64
			r.ForEach(func(_, v glua.LValue) {
				if n := int64(len(glua.LVAsString(v))); n > longest {
					longest = n
				}
			})
			worst += matches * longest
		}
		// A function replacement runs Lua per match: what it builds is
		// charged as it goes, and the watchdog sees the rest.
		s.precheck(L, worst)
		return s.pushCharged(L, gsub(L))
	}))
	// gmatch finds every match up front.
	gmatch := gfn(real, "gmatch")
	str.RawSetString("gmatch", L.NewFunction(func(L *glua.LState) int {
		s.precheck(L, (int64(len(L.CheckString(1)))+1)*matchCost)
		return gmatch(L)
	}))
}

// formatWidths sums the widths and precisions written in a format string.
func formatWidths(f string) int64 {
	var total int64
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		for i < len(f) {
			if f[i] >= '0' && f[i] <= '9' {
				n := int64(0)
				for i < len(f) && f[i] >= '0' && f[i] <= '9' {
					if n < 1e7 {
						n = n*10 + int64(f[i]-'0')
					}
					i++
				}
				total += min(n, 1e6)
				continue
			}
			if f[i] == '.' || f[i] == '[' || f[i] == ']' || f[i] == '*' {
				i++
				continue
			}
			break
		}
	}
	return total
}

// tableConcat bounds table.concat by the strings it would join.
func (s *state) tableConcat(fn glua.LValue) glua.LGFunction {
	concat := fn.(*glua.LFunction).GFunction
	return func(L *glua.LState) int {
		t := L.CheckTable(1)
		sep := int64(len(L.OptString(2, "")))
		i := L.OptInt(3, 1)
		j := L.OptInt(4, t.Len())
		var worst int64
		for k := i; k <= j; k++ {
			v := t.RawGetInt(k)
			if v == glua.LNil {
				break // concat fails on it
			}
			worst += int64(len(glua.LVAsString(v))) + sep
			if worst > s.remaining() {
				s.overLimit(L)
			}
		}
		return s.pushCharged(L, concat(L))
	}
}
