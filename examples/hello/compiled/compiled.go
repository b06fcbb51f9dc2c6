// Package compiled builds the greet component into weft: the program that
// runs the engine imports it for its side effect, and every registry made
// with core.NewRegistry afterwards holds hello.greet.
//
//	import _ "github.com/weftworks/weft/examples/hello/compiled"
package compiled

import (
	"github.com/weftworks/weft/examples/hello/greet"
	"github.com/weftworks/weft/sdk"
)

func init() { sdk.Register(greet.Component) }
