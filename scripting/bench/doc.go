// Package bench compares the ways of writing a transform — built-in
// DATA_TRANSFORM operations, a Lua script and a WASM module written in Go —
// on one realistic job: preparing 1,000 lead records (trim and lower-case
// the e-mail, title-case the name, keep the phone's digits, compute a
// score), each run as a DATA_TRANSFORM step through a core.Engine, the
// scripts called once per record; and, for scale, the same script and module
// called once for the whole batch. The package holds only tests and
// benchmarks:
//
//	go test -run='^$' -bench=. -benchmem ./scripting/bench/
//
// TestSameOutput checks first that every way produces the same records.
package bench
