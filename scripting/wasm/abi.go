package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	guest "github.com/weftworks/weft/sdk/wasm"
)

// Export names of ABI weft_v2.
const (
	exportDescribe = guest.ABI + "_describe"
	exportCall     = guest.ABI + "_call"
)

// exchange is the data of one call into an instance: the request the guest
// reads and the answer it writes. Host functions find it through the call's
// context, so nothing of one call is visible to the next.
type exchange struct {
	in       []byte
	out      []byte
	wrote    bool
	maxOut   int
	tooLarge int // size of a refused answer, 0 if none
}

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

var i32 = api.ValueTypeI32

// instantiateHost defines the host module of the ABI in r. The functions are
// api.GoModuleFunc rather than reflected Go functions: they run on every
// call, and reflection costs more than the rest of them.
func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(guest.ABI).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(inputRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "cap").WithResultNames("len").
		Export("input_read").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(outputWrite), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").
		Export("output_write").
		Instantiate(ctx)
	return err
}

// inputRead is input_read(ptr, cap) -> len: it copies the request to ptr
// when it fits in cap bytes, and returns its length either way.
func inputRead(ctx context.Context, m api.Module, stack []uint64) {
	ptr, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	x := exchangeOf(ctx)
	if x == nil {
		stack[0] = 0
		return
	}
	if len(x.in) > 0 && len(x.in) <= int(capacity) && !m.Memory().Write(ptr, x.in) {
		panic(fmt.Errorf("input_read: %d bytes at %d are outside the guest's memory", len(x.in), ptr))
	}
	stack[0] = api.EncodeU32(uint32(len(x.in)))
}

// outputWrite is output_write(ptr, len): the guest's answer, copied at once
// because the guest reuses its memory.
func outputWrite(ctx context.Context, m api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	x := exchangeOf(ctx)
	if x == nil {
		return
	}
	if int(n) > x.maxOut {
		x.tooLarge = int(n)
		return
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("output_write: %d bytes at %d are outside the guest's memory", n, ptr))
	}
	x.out = append(x.out[:0], b...)
	x.wrote = true
}
