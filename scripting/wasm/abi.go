package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	guest "github.com/weftworks/weft/sdk/wasm"
)

// Export names of ABI weft_v1.
const (
	exportDescribe = "weft_v1_describe"
	exportCall     = "weft_v1_call"
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

// instantiateHost defines the host module "weft_v1" in r.
func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(guest.ABI).
		NewFunctionBuilder().WithFunc(func(ctx context.Context) uint32 {
		if x := exchangeOf(ctx); x != nil {
			return uint32(len(x.in))
		}
		return 0
	}).Export("input_len").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr uint32) {
		x := exchangeOf(ctx)
		if x == nil || len(x.in) == 0 {
			return
		}
		if !m.Memory().Write(ptr, x.in) {
			panic(fmt.Errorf("input_read: %d bytes at %d are outside the guest's memory", len(x.in), ptr))
		}
	}).Export("input_read").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr, n uint32) {
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
		x.out = append(x.out[:0], b...) // copy: the guest's memory is reused
		x.wrote = true
	}).Export("output_write").
		Instantiate(ctx)
	return err
}
