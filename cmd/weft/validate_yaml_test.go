package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateYAMLPositions checks that weft validate prints the line and
// column of every problem of a YAML definition, as it does for JSON.
func TestValidateYAMLPositions(t *testing.T) {
	t.Parallel()
	bad := writeFile(t, "bad.yaml", `# a YAML definition
name: bad
steps:
  - id: a
    type: HTTP_REQUEST
    config: {url: "ftp://x"}
    dependsOn: [b]
  - id: b
    type: WAIT
    colour: red
    config:
      duration: 1
    dependsOn:
      - a
`)
	code, out, _ := weft(t, "", "validate", bad)
	require.Equal(t, exitFailed, code, out)
	require.Equal(t, []string{
		bad + ": steps[0].config.url: \"ftp://x\" is not an http:// or https:// URL (line 6, column 14)",
		bad + ": steps[1].colour: unknown field \"colour\" (known: id, name, description, type, order, config, dependsOn, retryPolicy, timeout, circuitBreaker, onError, idempotent, metadata) (line 10, column 5)",
		bad + ": steps[1].dependsOn: dependency cycle: b → a → b (line 13, column 5)",
	}, strings.Split(strings.TrimSpace(out), "\n"), "every problem as FILE: path: message (line L, column C)")

	malformed := writeFile(t, "malformed.yaml", "name: x\nsteps:\n  - id: a\n    type: WAIT\n    config: {duration: 1\n")
	code, out, _ = weft(t, "", "validate", malformed)
	require.Equal(t, exitFailed, code, out)
	require.Equal(t, malformed+": invalid YAML: could not find flow mapping end token '}' (line 5, column 13)\n", out)
}
