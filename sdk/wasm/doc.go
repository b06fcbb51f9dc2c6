// Package wasm is the guest side of weft's WASM ABI (weft_v1): it lets a
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
// # ABI weft_v1
//
// The module imports three functions from the host module "weft_v1" and
// exports two; all data crosses as JSON, and the guest owns every buffer
// (there is no allocator export, so nothing can leak across the boundary):
//
//	import weft_v1.input_len() -> i32            length of the current request
//	import weft_v1.input_read(ptr i32)           host copies the request to ptr
//	import weft_v1.output_write(ptr i32, len i32) guest hands its answer to the host
//	export weft_v1_describe() -> i32             writes [Description] JSON; returns 0
//	export weft_v1_call() -> i32                 reads a [Request], writes the answer;
//	                                             0: answer is {"output": …},
//	                                             1: answer is an sdk.Error JSON
//
// A reactor module (Go's -buildmode=c-shared) also exports _initialize, which
// the host calls once per instance. Instances are reused for many calls, one
// call at a time; this package creates a fresh component per call and keeps
// no state between calls.
//
// Only the files that touch the ABI need GOOS=wasip1; [Serve], [Describe] and
// [Handle] compile everywhere so that guests can be unit-tested natively.
package wasm
