package lua_test

import (
	"context"
	"fmt"

	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

// Register the LUA step type and a Lua transform, then call the transform
// through the registry as a DATA_TRANSFORM step would.
func Example() {
	reg := steps.NewRegistry(steps.Options{})
	rt, err := lua.Register(reg, lua.Options{}) // adds the LUA step type
	if err != nil {
		panic(err)
	}
	err = rt.RegisterTransform(reg, "lead.tier", `
		log("scoring", input.email)
		return {email = string.lower(input.email), tier = input.score >= 80 and "gold" or "silver"}`)
	if err != nil {
		panic(err)
	}

	entry, _ := reg.Lookup(sdk.KindTransform, "lead.tier")
	tr := entry.New().(sdk.Transform)
	out, err := tr.Transform(context.Background(), map[string]any{"email": "Ada@Example.COM", "score": 91})
	fmt.Println(out, err)

	_, err = tr.Transform(context.Background(), map[string]any{"email": "x"})
	fmt.Println(sdk.ErrorCode(err))
	// Output:
	// map[email:ada@example.com tier:gold] <nil>
	// SCRIPT_ERROR
}
