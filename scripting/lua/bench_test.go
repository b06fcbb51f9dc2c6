package lua_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

// BenchmarkTransform measures a trivial Lua call (the per-call overhead:
// pooled state, fresh environment, conversion both ways) and a realistic
// transform over 1,000 records.
func BenchmarkTransform(b *testing.B) {
	rt := lua.New(lua.Options{})
	b.Run("trivial", func(b *testing.B) {
		sc, err := rt.Compile("trivial", `return input.n + 1`)
		if err != nil {
			b.Fatal(err)
		}
		in := map[string]any{"n": 1.0}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.Run(context.Background(), sc, lua.Call{Input: in}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1000_records", func(b *testing.B) {
		sc, err := rt.Compile("records", `
			local out = {}
			for i, r in ipairs(input) do
				if r.score >= 50 then
					out[#out + 1] = {
						id = r.id,
						email = string.lower(r.email),
						name = r.first .. " " .. r.last,
						tier = r.score >= 80 and "gold" or "silver",
						tags = json.array(r.tags),
					}
				end
			end
			return json.array(out)`)
		if err != nil {
			b.Fatal(err)
		}
		records := make([]any, 1000)
		for i := range records {
			records[i] = map[string]any{"id": float64(i), "email": fmt.Sprintf("User%d@Example.COM", i),
				"first": "Ada", "last": "Lovelace", "score": float64(i % 100), "tags": []any{"a", "b"}}
		}
		b.ReportAllocs()
		for b.Loop() {
			res, err := rt.Run(context.Background(), sc, lua.Call{Input: records})
			if err != nil {
				b.Fatal(err)
			}
			if n := len(res.Value.([]any)); n != 500 {
				b.Fatalf("got %d records", n)
			}
		}
	})
}

// BenchmarkTimeoutOvershoot measures how long after its 50 ms Timeout an
// endless loop is stopped (the VM checks its context at every instruction):
// overshoot_ms is the mean delay past the timeout.
func BenchmarkTimeoutOvershoot(b *testing.B) {
	const timeout = 50 * time.Millisecond
	rt := lua.New(lua.Options{Timeout: timeout})
	sc, err := rt.Compile("loop", `local i = 0 while true do i = i + 1 end`)
	if err != nil {
		b.Fatal(err)
	}
	var over time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := rt.Run(context.Background(), sc, lua.Call{}); sdk.ErrorCode(err) != lua.CodeScriptTimeout {
			b.Fatal(err)
		}
		over += time.Since(start) - timeout
	}
	b.ReportMetric(float64(over.Microseconds())/1000/float64(b.N), "overshoot_ms")
}
