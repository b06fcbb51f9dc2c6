//go:build wasip1

package wasm

import (
	"context"
	"runtime"
	"unsafe"
)

//go:wasmimport weft_v2 input_read
func inputRead(ptr unsafe.Pointer, capacity uint32) uint32

//go:wasmimport weft_v2 output_write
func outputWrite(ptr unsafe.Pointer, n uint32)

// keepBuffer is the largest request or answer buffer kept for the next call
// of the instance; a larger one, needed once, is left to the collector.
const keepBuffer = 64 << 10

// reqBuf and ansBuf are the instance's request and answer buffers, reused
// across calls: an instance serves one call at a time, decoding copies what
// it keeps out of the request, and the host copies the answer at once.
var reqBuf, ansBuf = make([]byte, 0, 4<<10), make([]byte, 0, 4<<10)

//go:wasmexport weft_v2_describe
func describeExport() int32 {
	write(Describe())
	return 0
}

//go:wasmexport weft_v2_call
func callExport() int32 {
	req := readRequest()
	answer, failed := handle(context.Background(), ansBuf[:0], req)
	write(answer)
	if cap(answer) <= keepBuffer {
		ansBuf = answer[:0]
	}
	if cap(reqBuf) > keepBuffer {
		reqBuf = make([]byte, 0, 4<<10)
	}
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

// readRequest copies the request into reqBuf, asking once more with a
// larger buffer when it does not fit.
func readRequest() []byte {
	n := inputRead(unsafe.Pointer(unsafe.SliceData(reqBuf[:cap(reqBuf)])), uint32(cap(reqBuf)))
	if int(n) > cap(reqBuf) {
		reqBuf = make([]byte, n)
		n = inputRead(unsafe.Pointer(unsafe.SliceData(reqBuf)), uint32(cap(reqBuf)))
	}
	reqBuf = reqBuf[:n]
	return reqBuf
}

func write(b []byte) {
	outputWrite(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}
