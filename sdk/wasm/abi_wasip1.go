//go:build wasip1

package wasm

import (
	"context"
	"runtime"
	"unsafe"
)

//go:wasmimport weft_v1 input_len
func inputLen() uint32

//go:wasmimport weft_v1 input_read
func inputRead(ptr unsafe.Pointer)

//go:wasmimport weft_v1 output_write
func outputWrite(ptr unsafe.Pointer, n uint32)

//go:wasmexport weft_v1_describe
func describeExport() int32 {
	write(Describe())
	return 0
}

//go:wasmexport weft_v1_call
func callExport() int32 {
	req := make([]byte, inputLen())
	if len(req) > 0 {
		inputRead(unsafe.Pointer(&req[0]))
	}
	out, failed := Handle(context.Background(), req)
	write(out)
	// The guest runs only during calls, and other goroutines only when the
	// call's goroutine yields. Yield once per call so that the garbage
	// collector's background workers finish their cycles; without it a
	// started cycle never ends and the heap grows until the memory cap.
	runtime.Gosched()
	if failed {
		return 1
	}
	return 0
}

func write(b []byte) {
	if len(b) == 0 {
		outputWrite(nil, 0)
		return
	}
	outputWrite(unsafe.Pointer(&b[0]), uint32(len(b)))
}
