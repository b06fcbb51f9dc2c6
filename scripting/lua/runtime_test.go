package lua_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

func run(t testing.TB, rt *lua.Runtime, src string, input any) (lua.Result, error) {
	t.Helper()
	sc, err := rt.Compile("test", src)
	require.NoError(t, err)
	return rt.Run(context.Background(), sc, lua.Call{Input: input})
}

// requireHealthy checks that the runtime still runs scripts correctly. Some
// runtimes here have a timeout of a few tens of ms, which a busy machine
// can take from a trivial script (descheduled, or a GC): running out of
// time is not being unhealthy, so the check is tried again then.
func requireHealthy(t *testing.T, rt *lua.Runtime) {
	t.Helper()
	var res lua.Result
	var err error
	for range 50 {
		res, err = run(t, rt, `return {n = input.n + 1, s = string.upper("ok"), t = type(string.rep), g = rawget(_G, "leak")}`, map[string]any{"n": 1.0})
		if sdk.ErrorCode(err) != lua.CodeScriptTimeout {
			break
		}
	}
	require.NoError(t, err)
	require.Equal(t, map[string]any{"n": 2.0, "s": "OK", "t": "function"}, res.Value)
}

func TestConvert(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	tests := []struct {
		name string
		src  string
		in   any
		want any
	}{
		{"round trip", `return input`, map[string]any{"a": []any{1.0, "x", true, nil, map[string]any{}}, "b": 2.5}, map[string]any{"a": []any{1.0, "x", true, nil, map[string]any{}}, "b": 2.5}},
		{"empty array stays array", `return input`, []any{}, []any{}},
		{"empty object stays object", `return input`, map[string]any{}, map[string]any{}},
		{"new empty table is an object", `return {}`, nil, map[string]any{}},
		{"json.array marks an empty array", `return json.array()`, nil, []any{}},
		{"sequence is an array", `return {3, 2, 1}`, nil, []any{3.0, 2.0, 1.0}},
		{"sparse table is an object", `local t = {} t[1] = "a" t[3] = "c" return t`, nil, map[string]any{"1": "a", "3": "c"}},
		{"null in input is json.null", `return input.x == json.null`, map[string]any{"x": nil}, true},
		{"top-level null input is nil", `return input == nil`, nil, true},
		{"absent ctx.config is nil", `return (ctx.config or {}).x == nil`, nil, true},
		{"nil result", `return nil`, nil, nil},
		{"integers and floats", `return {i = 3, f = 0.5, big = 2^53}`, nil, map[string]any{"i": 3.0, "f": 0.5, "big": 9007199254740992.0}},
		{"json.encode sorts keys", `return json.encode({b = 1, a = {json.null, true}})`, nil, `{"a":[null,true],"b":1}`},
		{"json.decode", `local v = json.decode('{"a":[1,{}],"b":null}') return {v.a[1], v.b == json.null}`, nil, []any{1.0, true}},
		{"ctx is absent for plain runs", `return ctx.nothing`, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, rt, tt.src, tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Value)
		})
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	deep := map[string]any{}
	cur := deep
	for range 200 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	tests := []struct {
		name string
		src  string
		in   any
		code string
		msg  string
	}{
		{"function result", `return function() end`, nil, lua.CodeScriptError, "function cannot be converted"},
		{"NaN", `return 0/0`, nil, lua.CodeScriptError, "not valid JSON"},
		{"cycle", `local t = {} t.t = t return t`, nil, lua.CodeScriptError, "deeper than"},
		{"deep input", `return 1`, deep, sdk.CodeInvalidInput, "deeper than"},
		{"table key", `return {[{}] = 1}`, nil, lua.CodeScriptError, "cannot be a JSON object key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, rt, tt.src, tt.in)
			require.Error(t, err)
			require.Equal(t, tt.code, sdk.ErrorCode(err))
			require.Contains(t, err.Error(), tt.msg)
		})
	}
	requireHealthy(t, rt)
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	_, err := run(t, rt, "local x = 1\n\nerror('boom')", nil)
	require.Equal(t, lua.CodeScriptError, sdk.ErrorCode(err))
	require.Contains(t, err.Error(), "test:3: boom")
	require.NotContains(t, err.Error(), "stack traceback")

	_, err = run(t, rt, `error({code = "BAD_LEAD", message = "no email", retryable = true})`, nil)
	e := sdk.AsError(err)
	require.Equal(t, "BAD_LEAD", e.Code)
	require.Equal(t, "no email", e.Message)
	require.True(t, e.Retryable)

	_, err = run(t, rt, `error(string.rep("x", 5000))`, nil)
	require.Less(t, len(err.Error()), 1100, "long messages are truncated")
}

func TestSyntaxErrorHasPosition(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	_, err := rt.Compile("bad", "local x = 1\nreturn x +\n")
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 1)
	require.Equal(t, 3, ve.Problems[0].Line, ve.Error())
	require.Contains(t, ve.Problems[0].Message, "syntax error")
}

func TestCompileCache(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	a, err := rt.Compile("x", "return 1")
	require.NoError(t, err)
	b, err := rt.Compile("x", "return 1")
	require.NoError(t, err)
	require.Equal(t, a, b)
}

func TestLogCaptured(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	res, err := run(t, rt, `log("hello", 1, true) log({}) return 1`, nil)
	require.NoError(t, err)
	require.Len(t, res.Logs, 2)
	require.Equal(t, "hello 1 true", res.Logs[0])
}

// TestEscapes runs every escape attempt: each ends in a clear error, and the
// runtime is healthy afterwards.
func TestEscapes(t *testing.T) {
	t.Parallel()
	// The endless loops end at a short timeout; every other case must end
	// with its own error, however slowly it gets there.
	rt := lua.New(lua.Options{Timeout: noTimeout})
	loops := lua.New(lua.Options{Timeout: 500 * time.Millisecond})
	tests := []struct {
		name string
		src  string
		code string
		msg  string
	}{
		{"os.execute", `return os.execute("id")`, lua.CodeScriptError, "os"},
		{"io.open", `return io.open("/etc/passwd")`, lua.CodeScriptError, "io"},
		{"require", `return require("os")`, lua.CodeScriptError, "require"},
		{"load", `return load("return 1")`, lua.CodeScriptError, "load"},
		{"loadstring", `return loadstring("return 1")()`, lua.CodeScriptError, "loadstring"},
		{"dofile", `return dofile("/etc/passwd")`, lua.CodeScriptError, "dofile"},
		{"loadfile", `return loadfile("/etc/passwd")`, lua.CodeScriptError, "loadfile"},
		{"string.dump", `return string.dump(function() end)`, lua.CodeScriptError, "dump"},
		{"debug.getregistry", `return debug.getregistry()`, lua.CodeScriptError, "debug"},
		{"collectgarbage", `return collectgarbage("count")`, lua.CodeScriptError, "collectgarbage"},
		{"package.loaded", `return package.loaded`, lua.CodeScriptError, "package"},
		{"setfenv", `setfenv(1, {})`, lua.CodeScriptError, "setfenv"},
		{"overwrite string.rep", `string.rep = nil`, lua.CodeScriptError, "read-only"},
		{"rawset on a library", `rawset(string, "rep", nil)`, lua.CodeScriptError, "rawset"},
		{"setmetatable on a library", `setmetatable(string, {__index = function() return 1 end})`, lua.CodeScriptError, "protected metatable"},
		{"getmetatable of a library", `local mt = getmetatable(string) mt.__index.upper = nil`, lua.CodeScriptError, "index"},
		{"string metatable", `local mt = getmetatable("") mt.__index = {}`, lua.CodeScriptError, "index"},
		{"environment metatable", `setmetatable(_G, {})`, lua.CodeScriptError, "protected metatable"},
		{"json.null metatable", `setmetatable(json.null, {})`, lua.CodeScriptError, "protected metatable"},
		{"ctx is read-only", `ctx.x = 1`, lua.CodeScriptError, "read-only"},
		{"infinite loop", `while true do end`, lua.CodeScriptTimeout, "longer than"},
		{"infinite loop in pcall", `while true do pcall(function() while true do end end) end`, lua.CodeScriptTimeout, "longer than"},
		{"stack flood with string.byte", `return string.byte(string.rep("x", 1e6), 1, -1)`, lua.CodeScriptError, "registry overflow"},
		{"recursive __index", `local t = setmetatable({}, {__index = function(t, k) return t[k + 1] end}) return t[1]`, lua.CodeScriptError, "callstack overflow"},
		{"deep recursion", `local function f(n) return 1 + f(n + 1) end return f(1)`, lua.CodeScriptError, "stack overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := rt
			if tt.code == lua.CodeScriptTimeout {
				rt = loops
			}
			res, err := run(t, rt, tt.src, nil)
			require.Errorf(t, err, "got %v", res.Value)
			require.Equal(t, tt.code, sdk.ErrorCode(err), err.Error())
			require.Contains(t, err.Error(), tt.msg)
			requireHealthy(t, rt)
		})
	}
}

func TestGlobalsDoNotLeak(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	for i := range 3 {
		res, err := run(t, rt, `local before = leak; leak = 1; x = (x or 0) + 1; return {before == nil, x}`, nil)
		require.NoError(t, err)
		require.Equal(t, []any{true, 1.0}, res.Value, "run %d", i)
	}
}

// noTimeout is the Timeout of runtimes whose tests are about something
// else: a guard that stops a runaway script, far above what any call of
// theirs needs even under -race on a busy machine.
const noTimeout = 2 * time.Minute

// TestTimeout: an endless loop ends with SCRIPT_TIMEOUT at the runtime's
// Timeout, or with TIMEOUT when the caller's deadline comes first, and
// neither before its time. How soon after is BenchmarkTimeoutOvershoot's
// figure: a busy machine may take longer.
func TestTimeout(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{Timeout: 50 * time.Millisecond})
	loop, err := rt.Compile("loop", `local i = 0 while true do i = i + 1 end`)
	require.NoError(t, err)
	requireHealthy(t, rt) // a warm state
	start := time.Now()
	err = runGuarded(t, rt, context.Background(), loop)
	require.Equal(t, lua.CodeScriptTimeout, sdk.ErrorCode(err))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "not before the timeout")

	sc, _ := rt.Compile("loop", `while true do end`)
	start = time.Now() // before the deadline is set: it cannot come sooner
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err = runGuarded(t, rt, ctx, sc)
	require.Equal(t, sdk.CodeTimeout, sdk.ErrorCode(err), "the caller's deadline came first")
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "not before the deadline")
	requireHealthy(t, rt)
}

// runGuarded runs sc and returns its error; it fails the test if the call
// has not returned after noTimeout (a timeout that never fires).
func runGuarded(t *testing.T, rt *lua.Runtime, ctx context.Context, sc *lua.Script) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, sc, lua.Call{})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(noTimeout):
		t.Fatalf("the call was not stopped after %v", noTimeout)
		return nil
	}
}

// TestConcurrentIsolation makes 1,000 concurrent calls of a registered Lua
// transform through the registry: each sees only its own input and globals.
func TestConcurrentIsolation(t *testing.T) {
	t.Parallel()
	reg := core.NewEmptyRegistry()
	rt := lua.New(lua.Options{Timeout: noTimeout}) // 1,000 calls at once share the CPU
	err := rt.RegisterTransform(reg, "iso", `
		shared = (shared or 0) + 1
		local out = {}
		for i = 1, 10 do out[i] = input.id * i end
		return {id = input.id, sum = out[10], shared = shared, tag = string.format("n%d", input.id)}`)
	require.NoError(t, err)
	entry, ok := reg.Lookup(sdk.KindTransform, "iso")
	require.True(t, ok)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := entry.New().(sdk.Transform).Transform(context.Background(), map[string]any{"id": float64(i)})
			if err != nil {
				errs <- err
				return
			}
			want := map[string]any{"id": float64(i), "sum": float64(i * 10), "shared": 1.0, "tag": fmt.Sprintf("n%d", i)}
			if fmt.Sprint(out) != fmt.Sprint(want) {
				errs <- fmt.Errorf("call %d: got %v", i, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLibrariesAreSafeSubsets(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	res, err := run(t, rt, `
		local names = {}
		for _, lib in ipairs({"os", "io", "debug", "package", "coroutine", "channel", "load", "dofile", "print"}) do
			if pcall(function() return _G[lib] end) then names[#names + 1] = lib end
		end
		return json.array(names)`, nil)
	require.NoError(t, err)
	require.Equal(t, []any{}, res.Value)
	res, err = run(t, rt, `return table.concat({string.lower("A"), ("b"):upper(), tostring(math.floor(2.5))}, "-")`, nil)
	require.NoError(t, err)
	require.Equal(t, "a-B-2", res.Value)
}

func TestConcatOperator(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"strings and numbers", `return "a" .. 1 .. 2.5 .. "b"`, "a12.5b"},
		{"chain in a call", `return string.len("ab" .. "cd" .. "ef")`, 6.0},
		{"metamethod", `local t = setmetatable({}, {__concat = function(a, b) return "T" end}) return t .. "x"`, "T"},
		{"in a multiple return", `local function f() return "a" .. "b", 2 end local x, y = f() return {x, y}`, []any{"ab", 2.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, rt, tt.src, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Value)
		})
	}
	_, err := run(t, rt, "local x = 1\nreturn x .. {}", nil)
	require.ErrorContains(t, err, "test:2: attempt to concatenate a table value")
}

func TestStackFloodWithUnpack(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	big := make([]any, 100_000)
	for i := range big {
		big[i] = float64(i)
	}
	_, err := run(t, rt, `return unpack(input)`, big)
	require.Equal(t, lua.CodeScriptError, sdk.ErrorCode(err))
	require.ErrorContains(t, err, "registry overflow")
	requireHealthy(t, rt)
}

func TestJSONIsArrayAndErrorDetails(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	sc, err := rt.Compile("isarray", `return {
	  input = json.isarray(input.list), empty = json.isarray(input.empty), obj = json.isarray(input.obj),
	  lit = json.isarray({1, 2}), blank = json.isarray({}), marked = json.isarray(json.array()),
	  holes = json.isarray({[1] = 1, [3] = 3}), str = json.isarray("x")}`)
	require.NoError(t, err)
	res, err := rt.Run(t.Context(), sc, lua.Call{Input: map[string]any{"list": []any{1.0}, "empty": []any{}, "obj": map[string]any{}}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"input": true, "empty": true, "obj": false, "lit": true, "blank": false,
		"marked": true, "holes": false, "str": false}, res.Value)

	sc, err = rt.Compile("details", `error({code = "BAD_LEAD", message = "no email", retryable = true, details = {field = "email", seen = json.array()}})`)
	require.NoError(t, err)
	_, err = rt.Run(t.Context(), sc, lua.Call{})
	e := sdk.AsError(err)
	require.Equal(t, "BAD_LEAD", e.Code)
	require.True(t, e.Retryable)
	require.Equal(t, map[string]any{"field": "email", "seen": []any{}}, e.Details)
}

func TestSyntaxErrorAtEndOfSource(t *testing.T) {
	t.Parallel()
	rt := lua.New(lua.Options{})
	for src, want := range map[string]sdk.Problem{
		"return (":                         {Line: 1, Column: 9, Message: "Lua syntax error: unexpected end of source"},
		"local x = 1\nif x then\nreturn 2": {Line: 3, Column: 9, Message: "Lua syntax error: unexpected end of source"},
		"x = = 1":                          {Line: 1, Column: 5, Message: `Lua syntax error near "="`},
	} {
		_, err := rt.Compile("s", src)
		var ve *sdk.ValidationError
		require.ErrorAs(t, err, &ve, src)
		require.Equal(t, want, ve.Problems[0], src)
	}
}
