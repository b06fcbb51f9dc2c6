// Package wasm is the guest side of weft's WASM ABI (weft_v2): it lets a
// component written against package sdk, in plain Go, be compiled to a WASM
// module that the engine loads from its modules directory.
//
// A guest is a main package that hands its components to [Serve] and is built
// with the standard Go toolchain (no TinyGo):
//
//	package main
//
//	import (
//		"context"
//		"strings"
//
//		"github.com/weftworks/weft/sdk"
//		"github.com/weftworks/weft/sdk/wasm"
//	)
//
//	func init() {
//		wasm.Serve(sdk.NewTransform("upper", func(ctx context.Context, s string) (string, error) {
//			return strings.ToUpper(s), nil
//		}))
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm .
//
// # ABI weft_v2
//
// The module imports two functions from the host module "weft_v2" and
// exports two. Values cross as JSON; a request has a binary header instead of
// a JSON envelope, so that the guest reads its parts without parsing one. The
// guest owns every buffer (there is no allocator export, so nothing can leak
// across the boundary):
//
//	import weft_v2.input_read(ptr, cap i32) -> i32   returns the request's length; copies it
//	                                                 to ptr only if it fits in cap bytes
//	import weft_v2.output_write(ptr, len i32)        guest hands its answer to the host
//	export weft_v2_describe() -> i32                 writes [Description] JSON; returns 0
//	export weft_v2_call() -> i32                     reads a request, writes the answer;
//	                                                 0: answer is the output as JSON,
//	                                                 1: answer is an sdk.Error JSON
//
// A request is five little-endian uint32 lengths followed by the five parts,
// in that order: kind and name (text), then config, run (an sdk.RunInfo, steps
// only) and input (JSON); an empty part is absent. [AppendRequest] writes one.
//
// Under the host's termination checks every branch a Go guest takes costs
// time, so the call path reads the request without encoding/json, decodes the
// input and encodes the usual output shapes (nil, bool, numbers, strings,
// []any, map[string]any) in one pass without reflection, and reuses the
// request and answer buffers of an instance across its calls.
//
// A reactor module (Go's -buildmode=c-shared) also exports _initialize, which
// the host calls once per instance. Instances are reused for many calls, one
// call at a time; this package creates a fresh component per call and keeps
// no state between calls.
//
// Only the files that touch the ABI need GOOS=wasip1; [Serve], [Describe] and
// [Handle] compile everywhere so that guests can be unit-tested natively.
package wasm
