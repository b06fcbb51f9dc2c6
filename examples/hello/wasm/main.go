// Command wasm serves the greet component from a sandboxed WASM module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o modules/hello.wasm ./examples/hello/wasm
//	weft serve --modules-dir modules
package main

import (
	"github.com/weftworks/weft/examples/hello/greet"
	"github.com/weftworks/weft/sdk/wasm"
)

func init() { wasm.Serve(greet.Component) }

// main is never called: a c-shared module runs init, then serves calls.
func main() {}
