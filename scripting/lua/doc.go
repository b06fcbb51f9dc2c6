// Package lua runs Lua 5.1 scripts (gopher-lua) as weft components: the LUA
// step type, and transforms and validators registered under a name, all
// interchangeable with compiled-in components in the core registry.
//
//	rt, err := lua.Register(reg, lua.Options{})          // the LUA step type
//	err = rt.RegisterTransform(reg, "lead.tier", source)  // DATA_TRANSFORM {"type": "transform", "name": "lead.tier"}
//	err = rt.RegisterValidator(reg, "lead.ok", source)    // VALIDATION {"validator": "lead.ok"}
//
// A script is a chunk: it reads the globals input and ctx and returns its
// result. It also sees json.encode, json.decode, json.null and json.array,
// log(...), the base functions that cannot reach outside the script
// (assert, error, ipairs, pairs, next, pcall, xpcall, select, type,
// tonumber, tostring, unpack, rawequal, rawget, rawlen, getmetatable,
// setmetatable) and safe subsets of string, table and math. There is no
// os, io, debug, package, coroutine, require, load, loadstring, loadfile,
// dofile, string.dump, collectgarbage, setfenv, getfenv or rawset.
//
// Isolation: every call gets a fresh environment table on a pooled state;
// the libraries are read-only proxies with locked metatables, and the
// string metatable is locked too, so nothing a script does is seen by the
// next call. A state whose call was stopped (timeout, memory, cancellation)
// is closed rather than pooled.
//
// Limits: a call ends with SCRIPT_TIMEOUT after Options.Timeout (the VM checks
// its context at every instruction), with a "stack overflow" SCRIPT_ERROR past
// Options.CallStackSize, and with SCRIPT_MEMORY past Options.MemoryLimit.
// gopher-lua has no allocator hook, so memory is bounded three ways: every
// string-building builtin (string.rep, format, gsub, gmatch, upper, lower,
// reverse, table.concat, json.encode, json.decode) checks its worst-case
// result against what is left of the allowance before building it and
// charges what it built; the .. operator is compiled to a call of a
// size-checked concatenation (the VM's own instruction joins any number of
// operands at once); and a watchdog samples the process heap while scripts
// run and cancels a call whose heap growth outlives a collection (table
// growth, many large strings).
//
// Values cross as JSON: objects ⇄ tables, arrays ⇄ tables marked as arrays
// (so [] survives a round trip; json.array(t) marks a new one), null ⇄
// json.null, numbers ⇄ float64. See the conversion rules on [Result].
package lua
