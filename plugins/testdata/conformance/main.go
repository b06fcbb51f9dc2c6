// Command conformance is a test plugin: the conformance components of the
// runtime conformance suite (package core/coretest/reference), served
// unchanged, so that the plugin build must behave exactly as the
// compiled-in one. Installed as a binary named "conformance", its
// components keep their names (conformance.text, conformance.check).
package main

import (
	"github.com/weftworks/weft/core/coretest/reference"
	"github.com/weftworks/weft/sdk/plugin"
)

func main() {
	plugin.Serve(reference.Components()...)
}
