// Command basic is a test guest: well-behaved components of every kind.
package main

import (
	"context"
	"errors"
	"strings"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/wasm"
)

// tagger is a transform with static config.
type tagger struct {
	Tag string `json:"tag"`
}

func (*tagger) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: "tag", New: func() sdk.Component { return new(tagger) }}
}

func (t *tagger) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	obj, ok := in.(map[string]any)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "want an object")
	}
	obj["tag"] = t.Tag
	return obj, nil
}

func init() {
	wasm.Serve(
		sdk.NewTransform("upper", func(_ context.Context, s string) (string, error) {
			return strings.ToUpper(s), nil
		}, sdk.WithSummary("Upper-cases a string.")),
		&tagger{},
		sdk.NewValidator("nonempty", func(_ context.Context, in struct {
			Name string `json:"name"`
		}) error {
			if in.Name == "" {
				ve := &sdk.ValidationError{}
				ve.Add("name", "is required")
				return ve
			}
			return nil
		}),
		sdk.NewStep("greet", func(_ context.Context, in struct {
			Name string `json:"name"`
		}) (map[string]any, error) {
			if in.Name == "fail" {
				return nil, sdk.RetryableErrorf("HTTP_503", "upstream unavailable")
			}
			if in.Name == "panic" {
				return nil, errors.New("plain failure")
			}
			return map[string]any{"greeting": "hello, " + in.Name}, nil
		}),
	)
}

func main() {}
