// Command noabi is a test guest that is valid WASM but does not implement
// ABI weft_v2.
package main

//go:wasmexport something_else
func somethingElse() int32 { return 0 }

func main() {}
