// Package greet is a component written once against package sdk, with
// nothing in it about where it runs: the transform hello.greet. One line
// chooses its runtime:
//
//	sdk.Register(greet.Component)    // compiled into weft (examples/hello/compiled)
//	plugin.Serve(greet.Component)    // an out-of-process plugin (examples/hello/plugin)
//	wasm.Serve(greet.Component)      // a sandboxed WASM module (examples/hello/wasm)
//
// A workflow calls it the same way whichever runtime serves it:
//
//	{"type": "DATA_TRANSFORM", "config": {"operations": [
//	  {"type": "transform", "name": "hello.greet", "config": {"greeting": "Bonjour"}}]}}
package greet

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/weftworks/weft/sdk"
)

// Name is the transform's name in workflows. It starts with "hello." so that
// the plugin binary named hello serves it under the same name (the plugin
// host prefixes a component's name with its plugin's, unless it already is).
const Name = "hello.greet"

// CodeNoName is the error code of a person without a name: a component's own
// code, which reaches retry policies and the execution record unchanged from
// every runtime.
const CodeNoName = "HELLO_NO_NAME"

// Component is the transform, ready for sdk.Register, plugin.Serve or
// wasm.Serve.
var Component sdk.Component = new(Greet)

// Greet is the transform; its fields are its static config (the "config" of
// the DATA_TRANSFORM operation that names it).
type Greet struct {
	// Greeting opens the greeting; default "Hello".
	Greeting string `json:"greeting"`
	// Excited ends it with "!" rather than ".".
	Excited bool `json:"excited"`
}

var _ sdk.Transform = (*Greet)(nil)

// Person is the value the transform greets.
type Person struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// Greeting is the transform's output.
type Greeting struct {
	Text string `json:"text"`
	// Runes counts the text's characters, not its bytes.
	Runes int `json:"runes"`
	// Tags are the words of the text, for a downstream step to index.
	Tags []string `json:"tags"`
}

// Info implements sdk.Component.
func (*Greet) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: Name, Version: "1.0.0",
		Summary: "Greets a person by title and name.",
		New:     func() sdk.Component { return new(Greet) }}
}

// Transform implements sdk.Transform.
func (g *Greet) Transform(_ context.Context, in sdk.Value) (sdk.Value, error) {
	var p Person
	if err := sdk.DecodeValue(in, &p); err != nil {
		// Strict decoding reports every problem with its path.
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "greet: %v", err)
	}
	if strings.TrimSpace(p.Name) == "" {
		return nil, sdk.Errorf(CodeNoName, "greet: the person has no name")
	}
	greeting := g.Greeting
	if greeting == "" {
		greeting = "Hello"
	}
	who := p.Name
	if p.Title != "" {
		who = p.Title + " " + p.Name
	}
	end := "."
	if g.Excited {
		end = "!"
	}
	text := greeting + ", " + who + end
	return Greeting{Text: text, Runes: utf8.RuneCountInString(text), Tags: strings.Fields(text)}, nil
}
