// Package sdk is the contract between the weft engine and the components that do
// its work: built-in step types, Lua scripts, WASM modules and out-of-process
// plugins all implement the interfaces defined here and land in one registry.
//
// The package imports only the standard library so that it also compiles for
// WASM guests (GOOS=wasip1) and stays cheap to import from plugin binaries.
//
// # Kinds
//
// There are three kinds of component:
//
//   - a [Step] may have side effects (call an API, write a record); the engine
//     wraps it with timeouts, retries, circuit breakers and idempotency keys;
//   - a [Transform] is pure: a value in, a value out;
//   - a [Validator] is pure: a value in, nil or a [ValidationError] out.
//
// Components never retry by themselves; they report what happened with an
// [Error] carrying a stable code and a retryable flag, and the engine's retry
// policy decides.
//
// # Lifecycle
//
// Every component follows the same lifecycle, whatever runtime provides it:
//
//  1. Info().New returns a fresh, unconfigured instance. It has no side effects.
//  2. For transforms and validators, the static config of the workflow (if any)
//     is decoded into the instance with [DecodeValue] rules: unknown fields are
//     rejected. A step instead receives its config, rendered for each run, in
//     [Input.Config].
//  3. If the instance implements [ConfigChecker], CheckConfig is called with the
//     step's unrendered config when a workflow is validated, so mistakes are
//     reported before anything runs.
//  4. If the instance implements [Provisioner], Provision runs once before first
//     use: acquire resources, precompute.
//  5. The instance is used concurrently by many runs, like an http.Handler.
//  6. When the workflow version is unloaded or the engine stops, Close runs if the
//     instance implements [Closer].
package sdk
