package lua

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/weftworks/weft/sdk"
)

// Stable error codes of Lua scripts.
const (
	CodeScriptError   = "SCRIPT_ERROR"   // the script raised an error or returned something that is not JSON
	CodeScriptTimeout = "SCRIPT_TIMEOUT" // the script ran past Options.Timeout
	CodeScriptMemory  = "SCRIPT_MEMORY"  // the script exceeded Options.MemoryLimit
	CodeScriptSyntax  = "SCRIPT_SYNTAX"  // the source does not compile
)

// Defaults of Options.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultMemoryLimit     = 64 << 20
	DefaultCallStackSize   = 200
	DefaultRegistryMaxSize = 64 * 1024
	DefaultMaxDepth        = 100
	DefaultMaxLogLines     = 100
	DefaultMaxSourceBytes  = 1 << 20
)

// Options configure a Runtime. The zero value gives the defaults.
type Options struct {
	// Timeout bounds one call; the caller's context may end it sooner.
	Timeout time.Duration
	// MemoryLimit caps what one call may allocate, in bytes: strings built
	// by the string and table builtins and by json, and the growth of the
	// process heap while the call runs (see the package documentation).
	MemoryLimit int64
	// CallStackSize bounds Lua call depth (deep recursion fails).
	CallStackSize int
	// RegistryMaxSize bounds the Lua value stack, in slots.
	RegistryMaxSize int
	// MaxDepth bounds the nesting of values crossing between Go and Lua.
	MaxDepth int
	// MaxLogLines caps the lines log(...) keeps per call.
	MaxLogLines int
	// MaxSourceBytes caps the size of a script's source.
	MaxSourceBytes int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.CallStackSize <= 0 {
		o.CallStackSize = DefaultCallStackSize
	}
	if o.RegistryMaxSize <= 0 {
		o.RegistryMaxSize = DefaultRegistryMaxSize
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxLogLines <= 0 {
		o.MaxLogLines = DefaultMaxLogLines
	}
	if o.MaxSourceBytes <= 0 {
		o.MaxSourceBytes = DefaultMaxSourceBytes
	}
	return o
}

// Runtime compiles Lua scripts once (cached by the hash of their source) and
// runs them on pooled, sandboxed states. It is safe for concurrent use.
type Runtime struct {
	opts   Options
	pool   sync.Pool
	protos sync.Map // [32]byte → *glua.FunctionProto
	cached atomic.Int64
	wd     *watchdog
	rules  ruleSet // stored rules, by name (rules.go)
}

// New returns a runtime with the given options.
func New(opts Options) *Runtime {
	return &Runtime{opts: opts.withDefaults(), wd: processWatchdog}
}

// Options returns the runtime's options with defaults applied.
func (rt *Runtime) Options() Options { return rt.opts }

// Script is a compiled Lua chunk. The chunk's body is the function called:
// it sees input and ctx as globals and returns the result.
type Script struct {
	name  string
	proto *glua.FunctionProto
}

// Name is the chunk name used in error messages.
func (s *Script) Name() string { return s.name }

// maxCachedScripts bounds the compile cache; sources past it are compiled
// each time they are registered or saved (never per call).
const maxCachedScripts = 10000

var posPattern = regexp.MustCompile(`line:(\d+)\(column:(\d+)\)`)

// Compile compiles source once; a second call with the same source reuses
// the compiled chunk. A syntax error is a *sdk.ValidationError whose problem
// carries the line and column.
func (rt *Runtime) Compile(name, source string) (*Script, error) {
	if len(source) > rt.opts.MaxSourceBytes {
		return nil, &sdk.ValidationError{Problems: []sdk.Problem{{Message: fmt.Sprintf("source is %d bytes; the limit is %d", len(source), rt.opts.MaxSourceBytes)}}}
	}
	key := sha256.Sum256([]byte(name + "\x00" + source))
	if p, ok := rt.protos.Load(key); ok {
		return &Script{name: name, proto: p.(*glua.FunctionProto)}, nil
	}
	chunk, err := parse.Parse(strings.NewReader(source), name)
	if err != nil {
		return nil, syntaxError(err, source)
	}
	rewriteConcat(chunk)
	proto, err := glua.Compile(chunk, name)
	if err != nil {
		return nil, syntaxError(err, source)
	}
	if rt.cached.Add(1) <= maxCachedScripts {
		rt.protos.Store(key, proto)
	}
	return &Script{name: name, proto: proto}, nil
}

func syntaxError(err error, source string) error {
	msg := err.Error()
	p := sdk.Problem{Message: "Lua syntax error: " + firstLine(msg)}
	var perr *parse.Error
	if errors.As(err, &perr) {
		p.Line, p.Column = perr.Pos.Line, perr.Pos.Column
		p.Message = "Lua syntax error: " + perr.Message
		if perr.Message == "syntax error" {
			p.Message = "Lua syntax error"
		}
		switch {
		case p.Line < 1: // at the end of the source: point just past its last character
			last := source[strings.LastIndexByte(source, '\n')+1:]
			p.Line, p.Column = strings.Count(source, "\n")+1, utf8.RuneCountInString(last)+1
			p.Message += ": unexpected end of source"
		case perr.Token != "":
			p.Message += " near " + strconv.Quote(perr.Token)
		}
	} else if m := posPattern.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column, _ = strconv.Atoi(m[2])
	}
	return &sdk.ValidationError{Problems: []sdk.Problem{p}}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Call is one run of a script.
type Call struct {
	// Input is the script's global input.
	Input any
	// Ctx holds the fields of the script's read-only global ctx. A field
	// whose value is a func() any is computed on first access.
	Ctx map[string]any
}

// Result is what a call produced. Values returned by the script become
// JSON-shaped Go values: nil and json.null → nil; booleans, strings; numbers
// → float64 (NaN and infinities are errors); a table marked as an array, or
// whose keys are exactly 1..n with n ≥ 1 → []any; any other table →
// map[string]any, number keys written in decimal (an empty unmarked table is
// {}); functions, userdata and tables nested deeper than MaxDepth (cycles
// included) are errors.
type Result struct {
	// Value is what the script returned, JSON-shaped (nil when it returned nothing).
	Value any
	// Values are all returned values, for validators.
	Values []any
	// Logs are the lines passed to log(...), in order.
	Logs []string
}

type killReason int32

const (
	killNone killReason = iota
	killMemory
)

// call is the state of one script call.
type call struct {
	logs     []string
	bytes    int64 // bytes produced by size-checked builtins
	limit    int64
	reason   atomic.Int32
	cancel   context.CancelFunc
	ctx      map[string]any
	ctxCache *glua.LTable
}

func (c *call) kill(r killReason) {
	c.reason.CompareAndSwap(int32(killNone), int32(r))
	c.cancel()
}

// Run runs a compiled script. Errors are *sdk.Error with code SCRIPT_ERROR,
// SCRIPT_TIMEOUT or SCRIPT_MEMORY (or TIMEOUT/CANCELLED when the caller's
// context ended first); the message names the script and line, and never
// carries a traceback.
func (rt *Runtime) Run(ctx context.Context, sc *Script, in Call) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, sdk.AsError(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, rt.opts.Timeout)
	defer cancel()
	c := &call{limit: rt.opts.MemoryLimit, cancel: cancel, ctx: in.Ctx}

	s, _ := rt.pool.Get().(*state)
	if s == nil {
		s = newState(rt)
	}
	s.call = c
	L := s.L
	L.SetContext(runCtx)
	reusable := true
	defer func() {
		s.call = nil
		L.SetTop(0)
		if reusable {
			L.RemoveContext()
			rt.pool.Put(s)
		} else {
			L.Close()
		}
	}()

	stop := rt.wd.watch(c)
	res, err := s.run(sc, in)
	stop()

	killed := c.reason.Load() == int32(killMemory) // sticky, even if the script then finished
	if err == nil && !killed {
		res.Logs = c.logs
		return res, nil
	}
	// A state stopped mid-instruction may hold half-done work: drop it.
	reusable = !killed && runCtx.Err() == nil
	switch {
	case killed:
		return Result{Logs: c.logs}, sdk.Errorf(CodeScriptMemory, "%s: script exceeded its memory limit of %d bytes", sc.name, rt.opts.MemoryLimit)
	case ctx.Err() != nil:
		return Result{Logs: c.logs}, sdk.AsError(ctx.Err())
	case runCtx.Err() != nil:
		return Result{Logs: c.logs}, sdk.Errorf(CodeScriptTimeout, "%s: script ran longer than %s", sc.name, rt.opts.Timeout)
	}
	return Result{Logs: c.logs}, err
}

// maxErrorMessage caps error messages that reach users.
const maxErrorMessage = 1000

func (s *state) run(sc *Script, in Call) (Result, error) {
	L := s.L
	fn := s.protos[sc.proto]
	if fn == nil {
		fn = L.NewFunctionFromProto(sc.proto)
		if len(s.protos) < 1000 {
			s.protos[sc.proto] = fn
		}
	}
	env := s.newEnv()
	fn.Env = env
	var input glua.LValue = glua.LNil // a top-level null is nil; nested ones are json.null
	var err error
	if in.Input != nil {
		input, err = s.toLua(in.Input, 0)
	}
	if err != nil {
		return Result{}, sdk.Errorf(sdk.CodeInvalidInput, "%s: input: %v", sc.name, err)
	}
	env.RawSetString("input", input)
	env.RawSetString("ctx", s.ctxTable())

	L.Push(fn)
	if err := L.PCall(0, glua.MultRet, nil); err != nil {
		return Result{}, s.scriptError(sc, err)
	}
	n := L.GetTop()
	res := Result{Values: make([]any, n)}
	for i := 1; i <= n; i++ {
		v, err := s.fromLua(L.Get(i), 0)
		if err != nil {
			return Result{}, sdk.Errorf(CodeScriptError, "%s: result: %v", sc.name, err)
		}
		res.Values[i-1] = v
	}
	if n > 0 {
		res.Value = res.Values[0]
	}
	return res, nil
}

// ctxTable returns the call's read-only ctx: an empty table whose reads
// go through the state's ctx metatable (fields are converted on first
// access and kept for the call) and whose writes fail.
func (s *state) ctxTable() *glua.LTable {
	t := s.L.CreateTable(0, 0)
	t.Metatable = s.ctxMT
	return t
}

func (s *state) ctxIndex(L *glua.LState) int {
	key := L.CheckString(2)
	c := s.call
	if c.ctxCache != nil {
		if v := c.ctxCache.RawGetString(key); v != glua.LNil {
			L.Push(v)
			return 1
		}
	}
	f, ok := c.ctx[key]
	if !ok {
		L.Push(glua.LNil)
		return 1
	}
	if fn, ok := f.(func() any); ok {
		f = fn()
	}
	if f == nil {
		L.Push(glua.LNil)
		return 1
	}
	lv, err := s.toLua(f, 0)
	if err != nil {
		L.RaiseError("ctx.%s: %v", key, err)
	}
	if c.ctxCache == nil {
		c.ctxCache = L.NewTable()
	}
	c.ctxCache.RawSetString(key, lv)
	L.Push(lv)
	return 1
}

var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// scriptError turns a Lua error into an *sdk.Error: an error table
// {code=…, message=…, retryable=…} keeps its code; anything else is
// SCRIPT_ERROR with the message (which carries the chunk name and line).
// Tracebacks are dropped and messages truncated.
func (s *state) scriptError(sc *Script, err error) error {
	var aerr *glua.ApiError
	if !errors.As(err, &aerr) {
		return sdk.Errorf(CodeScriptError, "%s: %s", sc.name, truncate(firstLine(err.Error())))
	}
	if t, ok := aerr.Object.(*glua.LTable); ok {
		code := glua.LVAsString(t.RawGetString("code"))
		msg := glua.LVAsString(t.RawGetString("message"))
		if !codePattern.MatchString(code) {
			code = CodeScriptError
		}
		e := sdk.Errorf(code, "%s", truncate(msg))
		e.Retryable = glua.LVAsBool(t.RawGetString("retryable"))
		if d := t.RawGetString("details"); d != glua.LNil {
			if v, err := s.fromLua(d, 0); err == nil {
				e.Details = v
			}
		}
		return e
	}
	msg := aerr.Object.String()
	if aerr.Object == glua.LNil || msg == "" {
		msg = firstLine(aerr.Error())
	}
	msg = firstLine(msg)
	if !strings.HasPrefix(msg, sc.name) {
		msg = sc.name + ": " + msg
	}
	return sdk.Errorf(CodeScriptError, "%s", truncate(msg))
}

func truncate(s string) string {
	if len(s) > maxErrorMessage {
		return s[:maxErrorMessage] + "…"
	}
	return s
}
