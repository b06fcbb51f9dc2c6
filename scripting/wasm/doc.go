// Package wasm runs sandboxed WebAssembly components with wazero: WASM
// transforms and validators, registered into the core registry under the
// names their modules declare, and the WASM step type, which runs a step
// served by a module.
//
// Modules are the *.wasm files of a modules directory, each referred to by its
// file name without the extension. They implement ABI weft_v2 (JSON in, JSON
// out, error out), documented in package github.com/weftworks/weft/sdk/wasm,
// whose guest helper turns sdk components written in plain Go into a module.
//
// Registration is one call:
//
//	rt, err := wasm.Register(ctx, reg, wasm.Options{ModulesDir: "modules"})
//	…
//	defer rt.Close(ctx)
//
// # Lifecycle and limits
//
//  1. [Load] compiles every module once (the compiled code is cached on disk,
//     so a restart does not compile again), checks its imports and exports,
//     starts one instance and asks it what it serves. A module that does not
//     compile or does not implement the ABI fails Load, never a run.
//  2. Calls take an instance from the module's pool, or start one when fewer
//     than Options.MaxInstances live (starting a standard Go guest costs tens
//     of milliseconds, so instances are reused, one call at a time); a call
//     that finds every instance busy waits, within its context.
//  3. Each call gets its own request and answer buffers; the guest helper
//     builds a fresh component per call. An instance whose call trapped, ran
//     out of memory, was stopped by its context or answered too much is
//     closed and dropped, never reused.
//
// Every instance's memory is capped (Options.MemoryLimitPages), a call is
// stopped when its context ends (the runtime is created with
// WithCloseOnContextDone), answers are capped (Options.MaxOutputBytes), and a
// guest has no file system, no network, no environment variables, a fake
// clock and deterministic randomness. Nothing can be granted in this version.
package wasm
