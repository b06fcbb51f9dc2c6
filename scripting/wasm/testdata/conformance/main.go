// Command conformance is a test guest: the conformance components of the
// runtime conformance suite (package core/coretest/reference), served
// unchanged, so that the WASM build must behave exactly as the compiled-in
// one.
package main

import (
	"github.com/weftworks/weft/core/coretest/reference"
	"github.com/weftworks/weft/sdk/wasm"
)

func init() {
	wasm.Serve(reference.Components()...)
}

func main() {}
