// Command rawabi is a test guest that implements ABI weft_v2 by hand, without
// sdk/wasm, as a guest written in another language would: it asks for the
// request with a buffer too small on purpose, splits the header itself and
// answers with JSON it builds by hand.
package main

import (
	"encoding/binary"
	"runtime"
	"unsafe"
)

//go:wasmimport weft_v2 input_read
func inputRead(ptr unsafe.Pointer, capacity uint32) uint32

//go:wasmimport weft_v2 output_write
func outputWrite(ptr unsafe.Pointer, n uint32)

func write(b []byte) { outputWrite(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))) }

//go:wasmexport weft_v2_describe
func describe() int32 {
	write([]byte(`[{"kind":"transform","name":"raw_echo"},{"kind":"validator","name":"raw_silent"}]`))
	runtime.Gosched()
	return 0
}

//go:wasmexport weft_v2_call
func call() int32 {
	defer runtime.Gosched() // let the collector finish its cycles (see docs/scripting.md)
	buf := make([]byte, 8)
	n := inputRead(unsafe.Pointer(&buf[0]), uint32(len(buf)))
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = inputRead(unsafe.Pointer(&buf[0]), n)
	}
	buf = buf[:n]
	var parts [5][]byte // kind, name, config, run, input
	off := 20
	for i := range parts {
		l := int(binary.LittleEndian.Uint32(buf[4*i:]))
		parts[i] = buf[off : off+l]
		off += l
	}
	kind, name, config, input := string(parts[0]), string(parts[1]), parts[2], parts[4]
	switch {
	case kind == "transform" && name == "raw_echo":
		out := []byte(`{"kind":"` + kind + `","name":"` + name + `","config":`)
		out = appendOrNull(out, config)
		out = append(out, `,"input":`...)
		out = appendOrNull(out, input)
		write(append(out, '}'))
		return 0
	case kind == "validator" && name == "raw_silent":
		write(nil) // success; a validator's answer is not read
		return 0
	}
	write([]byte(`{"code":"RAW_UNKNOWN","message":"no such component","retryable":false}`))
	return 1
}

func appendOrNull(b, part []byte) []byte {
	if len(part) == 0 {
		return append(b, "null"...)
	}
	return append(b, part...)
}

func main() {}
