// Command hostile is a test guest whose transforms misbehave: they loop, hog
// memory, reach for files and answer too much.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/wasm"
)

var sink []byte

func init() {
	wasm.Serve(
		sdk.NewTransform("loop", func(_ context.Context, n float64) (float64, error) {
			for {
				n++
			}
		}),
		sdk.NewTransform("hog", func(_ context.Context, mib float64) (int, error) {
			var chunks [][]byte
			for i := 0; i < int(mib); i++ {
				c := make([]byte, 1<<20)
				c[len(c)-1] = 1
				chunks = append(chunks, c)
			}
			sink = chunks[len(chunks)-1]
			return len(chunks), nil
		}),
		sdk.NewTransform("readfile", func(_ context.Context, path string) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", err
			}
			return string(b), nil
		}),
		sdk.NewTransform("env", func(_ context.Context, _ any) ([]string, error) {
			return os.Environ(), nil
		}),
		sdk.NewTransform("big", func(_ context.Context, n float64) (string, error) {
			return strings.Repeat("x", int(n)), nil
		}),
	)
}

func main() {}
