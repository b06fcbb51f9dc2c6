package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWithVariables: --var sets variables in a JSON or YAML definition and
// keeps every digit of every number (JSON numbers are not float64 on the
// way).
func TestWithVariables(t *testing.T) {
	t.Parallel()
	var vars varFlags
	for _, v := range []string{"id=12345678901234567890", "s=plain text", "b=true", `o={"n": 9007199254740993}`} {
		require.NoError(t, vars.Set(v))
	}
	out, err := withVariables([]byte("\ufeff{\"name\": \"x\", \"variables\": {\"acct\": 9007199254740993, \"f\": 0.1}}"), vars)
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "x", "variables": {"acct": 9007199254740993, "f": 0.1, "id": 12345678901234567890, "s": "plain text", "b": true, "o": {"n": 9007199254740993}}}`, string(out))
	require.Contains(t, string(out), "9007199254740993")
	require.Contains(t, string(out), "12345678901234567890")

	out, err = withVariables([]byte("name: y\nsteps: []\n"), vars)
	require.NoError(t, err)
	require.Contains(t, string(out), `"variables":{`)

	_, err = withVariables([]byte(`{"name": "x", "variables": [1]}`), vars)
	require.ErrorContains(t, err, "variables is not an object")
	_, err = withVariables([]byte(`{"name": `), vars)
	require.ErrorContains(t, err, "not valid JSON")
	require.Error(t, vars.Set("novalue"))
}
