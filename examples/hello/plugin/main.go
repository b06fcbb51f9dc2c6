// Command plugin serves the greet component as an out-of-process weft
// plugin. Built into a plugins directory (package plugins' Options.Dir)
// under the name hello, it serves hello.greet:
//
//	go build -o plugins/hello ./examples/hello/plugin
package main

import (
	"github.com/weftworks/weft/examples/hello/greet"
	"github.com/weftworks/weft/sdk/plugin"
)

func main() { plugin.Serve(greet.Component) }
